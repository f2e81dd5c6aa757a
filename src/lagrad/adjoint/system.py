"""The adjoint system ``A λ = b`` of a Program at one run, as an object to print, check and solve:
its blocks as operators, its diagonal blocks, the scalar matrix and labels when asked for (the
layout is DESIGN.md's). Solving is the solvers' (`solvers`)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse

from ..core import Program, Tape, registry
from ..core.backend import in_namespace, is_lazy, namespace_library, namespace_of, numpy_dtype, to_numpy
from ..core.program import Constant, flat, real_size, unflat, zeros_of
from . import operators, solvers
from .operators import _plain

#: The built-in solvers (`solvers.SOLVERS` has every registered one).
METHODS = ("back_substitution", "forward_substitution", "sparse", "levels")
DENSE_LIMIT = 2_000
SPARSE_LIMIT = 20_000


class Block:
    """``A[i, k] = ∂f_k/∂z_i``: an operator of shape (size of z_i, size of z_k).

    ``block @ λ_k`` is the transpose-apply (what back-substitution does);
    ``block.T @ t_i`` applies the partial (what forward substitution does).
    """

    def __init__(self, system: AdjointSystem, i: int, k: int, positions: list[int]) -> None:
        self.system = system
        self.i, self.k = i, k
        self.positions = positions
        program = system.program
        self.equation = program.equation(k)
        self.values = system.tape.values[k - program.n_inputs]  # the run's (ans, *args) of f_k
        self.in_shape, self.in_dtype = program.shape(i), program.dtype(i)
        self.out_shape, self.out_dtype = program.shape(k), program.dtype(k)
        self.shape = (real_size(self.in_shape, self.in_dtype), real_size(self.out_shape, self.out_dtype))

    @property
    def label(self) -> str:
        return f"∂f{self.k + 1}/∂z{self.i + 1}"

    def transpose_apply(self, g: Any) -> Any:
        """``(∂f_k/∂z_i)ᵀ g``: g shaped like z_k, the result like z_i."""
        out = None
        for pos in self.positions:
            ct = operators.apply_transpose(self.equation, pos, self.values, g, self.in_shape)
            out = ct if out is None else out + ct
        return out

    def apply(self, t: Any) -> Any:
        """``∂f_k/∂z_i t``: t shaped like z_i, the result like z_k."""
        tangents = [t if pos in self.positions else None for pos in range(len(self.equation.args))]
        out = operators.apply_block(self.equation, self.values, tangents)
        return zeros_of(self.out_shape, self.equation.dtype) if out is None else out

    def __matmul__(self, v: Any) -> Any:
        g = unflat(np.asarray(v), self.out_shape, self.out_dtype, covector=True)
        return flat(_plain(self.transpose_apply(g)), self.in_dtype, covector=True)

    def todense(self) -> np.ndarray:
        """The block as a real (size_i, size_k) matrix (a complex scalar counts as two real
        ones), built column by column or row by row, whichever is fewer, or from one product
        when the partial is diagonal."""
        m, n = self.shape
        if (
            self.equation.primitive.elementwise
            and self.in_shape == self.out_shape
            and m == n == self.system.program.size(self.i)
        ):
            return np.diag(self @ np.ones(n))
        dense = np.zeros((m, n))
        if n <= m:
            for c, e in enumerate(np.eye(n)):
                dense[:, c] = self @ e
        else:
            for r, e in enumerate(np.eye(m)):
                dense[r] = flat(_plain(self.apply(unflat(e, self.in_shape, self.in_dtype))), self.out_dtype)
        return dense

    def entries(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows, columns, values) of its nonzero scalars, as `Diagonal.entries`."""
        dense = self.todense()
        rows, cols = np.nonzero(dense)
        return rows, cols, dense[rows, cols]

    def __repr__(self) -> str:
        return f"<Block {self.label}: {self.shape[0]}×{self.shape[1]}>"


class Multipliers(Mapping):
    """λ for every variable, indexed like the seed's z: ``multipliers[5]`` is λ5;
    ``multipliers["z5"]`` and ``multipliers["hidden"]`` (a `lagrad.tag`) work too."""

    def __init__(self, lambdas: list[Any], program: Program, method: str) -> None:
        self.lambdas = lambdas  # λ1 … λn as a list (not `values`: that is Mapping.values())
        self.program = program
        self.method = method

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            if key in self.program.tags:
                return self.lambdas[self.program.tags[key]]
            if key.startswith("z") and key[1:].isdigit():
                key = int(key[1:])
            else:
                raise KeyError(f"lagrad: no variable named {key!r}; tags are {sorted(self.program.tags)}")
        if not isinstance(key, (int, np.integer)) or isinstance(key, (bool, np.bool_)):
            raise KeyError(f"lagrad: multipliers are keyed by variable number (5 or 'z5') or tag, not {key!r}")
        i = int(key)
        if not 1 <= i <= len(self.lambdas):
            raise KeyError(f"lagrad: variables are numbered z1 … z{len(self.lambdas)}, not {key!r}")
        return self.lambdas[i - 1]

    def __iter__(self) -> Iterator[int]:
        return iter(range(1, len(self.lambdas) + 1))

    def __len__(self) -> int:
        return len(self.lambdas)

    def norms(self) -> list[float]:
        return [float(np.linalg.norm(flat(_numbers(v)))) for v in self.lambdas]

    def __repr__(self) -> str:
        rows = [f"Multipliers ({self.method}):"]
        for i, (v, norm) in enumerate(zip(self.lambdas, self.norms())):
            tags = self.program.tag_of(i)
            rows.append(
                f"  λ{i + 1:<4} {tuple(np.shape(v))!s:>14}   ‖λ‖ = {norm:.6g}"
                + (f"   ({', '.join(tags)})" if tags else "")
            )
        return "\n".join(rows)


class Diagonal:
    """The diagonal block ``A[k, k]`` of an equation, an operator: ``-I`` for ``z_k = f_k(…)``,
    which defines its variable explicitly (the solvers then call nothing: λ_k and t_k are what
    the other blocks send). Another kind of equation (``z = f(z, …)``) brings a subclass, in
    `AdjointSystem.implicit`, that solves with the block: ``solve(r)`` (x from ``A[k, k] x = -r``,
    back-substitution) and ``solve_transpose(r)`` (forward substitution); the batched forms
    loop over them unless it gives its own (`implicit.ImplicitBlock`)."""

    label = "-1"

    def __init__(self, size: int) -> None:
        self.size = size

    def entries(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows, columns, values) of its nonzero scalars, within the block."""
        i = np.arange(self.size)
        return i, i, -np.ones(self.size)

    def solve_batched(self, r: Any) -> Any:
        """`solve` for k right-hand sides stacked on a leading axis."""
        return np.stack([self.solve(row) for row in r])

    def solve_transpose_batched(self, r: Any) -> Any:
        """`solve_transpose` for k right-hand sides stacked on a leading axis."""
        return np.stack([self.solve_transpose(row) for row in r])


class SymbolicMatrix:
    """The labels of ``A``: the diagonal blocks' (``-1`` for an explicit equation), ``∂f_k/∂z_i`` where equation `k`
    reads variable `i` with a nonzero partial, empty elsewhere. ``numpy.asarray`` of it
    is the ``(n, n)`` object array of labels."""

    def __init__(self, labels: np.ndarray) -> None:
        self.labels = labels

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.labels if dtype is None else self.labels.astype(dtype)

    @property
    def shape(self) -> tuple[int, int]:
        return self.labels.shape

    def __getitem__(self, index: Any) -> Any:
        return self.labels[index]

    def nonzeros(self) -> set[tuple[int, int]]:
        """(row, column) of every entry off the diagonal, numbered from 1 as z1, f1."""
        rows, cols = np.nonzero(self.labels != "")
        return {(int(r) + 1, int(c) + 1) for r, c in zip(rows, cols) if r != c}

    def __str__(self) -> str:
        n = self.labels.shape[0]
        show = min(n, 24)
        width = max([len(s) for s in self.labels[:show, :show].ravel()] + [4])
        head = " " * 6 + " ".join(f"f{k + 1}".rjust(width) for k in range(show)) + (" …" if show < n else "")
        lines = [head]
        for i in range(show):
            cells = " ".join((self.labels[i, k] or "·").rjust(width) for k in range(show))
            lines.append(f"z{i + 1}".ljust(6) + cells + (" …" if show < n else ""))
        if show < n:
            lines.append(f"… ({n} × {n})")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)


class AdjointSystem:
    """``A λ = b`` for a Program with one output, linearised at one run of it (`tape`): the
    Lagrangian view of its derivative. ``AdjointSystem(program, program.replay(x))`` is the
    system at x; neither the program nor the tape is changed by solving.

    `cotangent` replaces ``-b``'s last block for a non-scalar output (a vjp).
    """

    def __init__(
        self, program: Program, tape: Tape | None = None, cotangent: Any = None, *, method: str = "back_substitution"
    ) -> None:
        if not isinstance(program, Program) or not isinstance(tape, Tape):
            raise TypeError(
                f"lagrad.AdjointSystem(program, tape): takes a Program and a Tape of one of its runs "
                f"(program.replay(*args)), not {type(program).__name__} and {type(tape).__name__}"
            )
        if len(tape.values) != len(program.equations):
            raise ValueError(
                f"lagrad.AdjointSystem: the tape has values for {len(tape.values)} equations and the "
                f"program {len(program.equations)}; pass a tape of this program (program.replay(*args))"
            )
        self.program = program
        self.tape = tape
        self.method = method
        if len(program.outputs) != 1:
            raise ValueError(
                f"lagrad: the adjoint system needs one output; the function returns {len(program.outputs)} arrays"
            )
        out = program.outputs[0]
        self.output = None if isinstance(out, Constant) else out
        shape = np.shape(_plain(out.value)) if isinstance(out, Constant) else program.shape(out)
        if cotangent is None:
            if shape != ():
                raise ValueError(
                    f"lagrad: the output has shape {shape}; b = (0, …, 0, -1) needs a scalar. Pass "
                    f"cotangent= (an array of that shape) for a vector-Jacobian product."
                )
            dtype = np.float64 if self.output is None else program.dtype(out)
            cotangent = np.ones((), dtype=dtype)
        elif isinstance(cotangent, (dict, list, tuple)) or np.shape(_plain(cotangent)) != shape:
            given = (
                f"a {type(cotangent).__name__}"
                if isinstance(cotangent, (dict, list, tuple))
                else f"an array of shape {np.shape(_plain(cotangent))}"
            )
            raise ValueError(
                f"lagrad.adjoint: the cotangent must be an array shaped like the output {shape}, not "
                f"{given}; for a function with several outputs, use lagrad.vjp"
            )
        outputs = tape.outputs if isinstance(tape.outputs, (list, tuple)) else [tape.outputs]
        #: an output value of another library (Dask's, array-api-strict's, CuPy's), else None
        self.like = next((v for v in map(_plain, outputs) if is_lazy(v) or namespace_of(v) is not None), None)
        if self.like is not None and not is_lazy(self.like):  # the namespace's operators take only their own
            cotangent = in_namespace(_plain(cotangent), self.like) if not hasattr(cotangent, "_trace") else cotangent
        self.cotangent = cotangent
        #: variable -> its equation's diagonal block where that is not -I (`Program.implicit`)
        self.implicit: dict[int, Diagonal] = operators.implicit_diagonals(program, tape)
        self._solutions: dict[str, Multipliers] = {}

    # -- the system ---------------------------------------------------------------

    @property
    def n(self) -> int:
        return self.program.n_vars

    @cached_property
    def layout(self) -> list[tuple[int, int]]:
        """(start, stop) of each variable's scalars in the scalar-level matrix; a complex
        variable's real parts come first, then its imaginary parts."""
        spans, start = [], 0
        for i in range(self.n):
            size = real_size(self.program.shape(i), self.program.dtype(i))
            spans.append((start, start + size))
            start += size
        return spans

    @property
    def size(self) -> int:
        return self.layout[-1][1] if self.layout else 0

    @property
    def rhs(self) -> list[Any]:
        """b, blockwise: zeros, and ``-cotangent`` (−1 for a scalar) at the output."""
        b = [self._zeros(i) for i in range(self.n)]
        if self.output is not None:
            b[self.output] = -_numbers(self.cotangent)
        return b

    def blocks(self) -> list[Block]:
        """Every nonzero off-diagonal block ``∂f_k/∂z_i``, column by column."""
        found: list[Block] = []
        for eq in self.program.equations:
            positions: dict[int, list[int]] = {}
            for pos, i in eq.reads():
                positions.setdefault(i, []).append(pos)
            found += [Block(self, i, eq.out, ps) for i, ps in positions.items()]
        return found

    def block(self, i: int, k: int) -> Block:
        """The block ``∂f_k/∂z_i`` (numbered from 1, as printed)."""
        for b in self.blocks():
            if (b.i, b.k) == (i - 1, k - 1):
                return b
        raise KeyError(f"lagrad: A[{i}, {k}] = ∂f{k}/∂z{i} is zero (f{k} does not read z{i})")

    # -- solving ----------------------------------------------------------------

    def diagonal(self, k: int) -> Diagonal:
        """The diagonal block ``A[k, k]`` (0-based), an operator."""
        return self.implicit.get(k) or Diagonal(real_size(self.program.shape(k), self.program.dtype(k)))

    def solve(
        self, method: str = "back_substitution", *, max_size: int | None = None, wanted: Any = None, **options: Any
    ) -> Multipliers:
        """λ for every variable, by `method` (any solver in `solvers.SOLVERS`). `wanted`
        (variables, 0-based) limits the work to those multipliers; the others are then zero."""
        if self.like is not None:
            from ..lazy import check_solver

            check_solver(method, self.like, "AdjointSystem.solve")
        cacheable = wanted is None and not options and max_size is None
        if cacheable and method in self._solutions:
            return self._solutions[method]
        if method == "forward_substitution" and wanted is None:
            self._check_size("forward_substitution", max_size or SPARSE_LIMIT)
        lam = solvers.solve(self, method, None if wanted is None else list(wanted), max_size=max_size, **options)
        result = Multipliers([self._finish(i, v) for i, v in enumerate(lam)], self.program, method)
        if cacheable:
            self._solutions[method] = result
        return result

    def _finish(self, i: int, v: Any) -> Any:
        """A solver's λ_i as a multiplier: zeros for None, real for a real variable."""
        if v is None:  # zeros, in the namespace and on the device of another library's output
            zeros = self._zeros(i)
            return zeros if self.like is None or isinstance(zeros, tuple) else in_namespace(zeros, self.like)
        if self.program.has_complex and not self.program.is_complex(i) and np.iscomplexobj(_plain(v)):
            return registry.ops.real(v)
        return v

    def rhs_vector(self) -> np.ndarray:
        """b as one real vector, laid out like the scalar-level matrix (`layout`): with
        ``matrix("sparse")``, what SciPy solves; `multipliers_from_vector` reads its solution."""
        b = [flat(x, self.program.dtype(i), covector=True) for i, x in enumerate(self.rhs)]
        return np.concatenate(b) if b else np.zeros(0)

    def multipliers_from_vector(self, lam: np.ndarray) -> list[Any]:
        """The flat solution of the scalar-level system as one multiplier per variable."""
        program = self.program
        return [
            unflat(np.asarray(lam)[start:stop], program.shape(i), program.dtype(i), covector=True)
            for i, (start, stop) in enumerate(self.layout)
        ]

    @property
    def multipliers(self) -> Multipliers:
        """λ for every variable, by the system's method (back-substitution by default)."""
        return self.solve(self.method)

    @property
    def gradients(self) -> Any:
        """λ of the inputs, shaped like the traced arguments (one entry per argument)."""
        return input_gradients(self.program, self.multipliers.lambdas)

    def residual(self, multipliers: Multipliers | None = None) -> float:
        """``‖A λ − b‖`` (2-norm over all scalars): ~1e-16 for a solution."""
        lam = (multipliers or self.multipliers).lambdas
        r = -self.rhs_vector()
        for i, (start, stop) in enumerate(self.layout):  # the diagonal blocks, A[i, i] λ_i
            x = flat(_numbers(lam[i]), self.program.dtype(i), covector=True)
            rows, cols, vals = self.diagonal(i).entries()
            r[start:stop] += np.bincount(rows, vals * x[cols], minlength=stop - start)
        for block in self.blocks():
            if np.any(flat(_numbers(lam[block.k]))):
                start, stop = self.layout[block.i]
                r[start:stop] += flat(_numbers(block.transpose_apply(lam[block.k])), block.in_dtype, covector=True)
        return float(np.linalg.norm(r))

    def _zeros(self, i: int) -> Any:
        return zeros_of(self.program.shape(i), self.program.dtype(i))

    # -- the matrix ----------------------------------------------------------------

    def matrix(self, kind: str = "symbolic", *, max_size: int | None = None) -> Any:
        """``A`` as ``"symbolic"`` labels (a `SymbolicMatrix`), or at scalar level as a
        ``"dense"`` NumPy array or a ``"sparse"`` SciPy matrix, for programs of at most
        `max_size` scalars (raise it to build larger ones)."""
        # every nonzero block, (row, column, operator): the diagonal ones, then ∂f_k/∂z_i
        blocks = [(i, i, self.diagonal(i)) for i in range(self.n)] + [(b.i, b.k, b) for b in self.blocks()]
        if kind == "symbolic":
            labels = np.full((self.n, self.n), "", dtype=object)
            for i, k, block in blocks:
                labels[i, k] = block.label
            return SymbolicMatrix(labels)
        if kind not in ("dense", "sparse"):
            raise ValueError(f"lagrad: matrix kind must be 'symbolic', 'dense' or 'sparse', not {kind!r}")
        if self.like is not None:
            library = "dask" if is_lazy(self.like) else namespace_library(self.like)
            raise TypeError(
                f"lagrad: AdjointSystem.matrix({kind!r}) does not run on {library} arrays (it assembles the "
                f"scalar matrix with NumPy and SciPy); use matrix('symbolic'), the block operators (blocks()) or "
                f"solve('back_substitution' / 'levels' / 'forward_substitution'), or trace on NumPy arrays"
            )
        limit = max_size or (DENSE_LIMIT if kind == "dense" else SPARSE_LIMIT)
        self._check_size(f"matrix({kind!r})", limit)
        rows, cols, vals = [np.zeros(0, int)], [np.zeros(0, int)], [np.zeros(0)]
        for i, k, block in blocks:
            r, c, v = block.entries()
            rows.append(r + self.layout[i][0])
            cols.append(c + self.layout[k][0])
            vals.append(v)
        A = scipy.sparse.coo_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), (self.size,) * 2
        )
        return A.toarray() if kind == "dense" else A.tocsr()

    def _check_size(self, what: str, limit: int) -> None:
        if self.size > limit:
            raise ValueError(
                f"lagrad: {what} works at the level of scalars and this program has {self.size} "
                f"of them, above the limit of {limit}. Pass max_size={self.size} to go ahead, or "
                f"use matrix('symbolic'), the block operators (system.blocks()) or "
                f"back-substitution."
            )

    def __repr__(self) -> str:
        return (
            f"<AdjointSystem: {self.n} variables ({self.size} scalars), "
            f"{len(self.program.equations)} equations, {len(self.blocks())} nonzero blocks>"
        )


def _numbers(v: Any) -> Any:
    """A value's numbers as NumPy arrays, moved explicitly from another library (computed, on
    Dask): for the checks and reports that print or compare them (`residual`, `norms`)."""
    v = _plain(v)
    if v is None:
        return None
    if isinstance(v, tuple):
        return type(v)(_numbers(p) for p in v)
    return v if type(v) is np.ndarray else to_numpy(v)


def input_gradients(program: Program, lam: list[Any]) -> Any:
    """The inputs' multipliers as gradients: zeros where none reached, in the input's
    dtype, rebuilt into the structure of the traced arguments."""
    grads = []
    for j, (shape, dtype) in enumerate(program.inputs):
        g = lam[j]
        if g is None:
            g = np.zeros(shape, dtype=dtype)
        elif numpy_dtype(g.dtype).kind == "c" and numpy_dtype(dtype).kind == "f":
            g = registry.ops.real(g)  # a real input's gradient is real
        if numpy_dtype(g.dtype) != numpy_dtype(dtype):
            g = registry.ops.astype(g, dtype)
        grads.append(g)
    return program.in_tree.unflatten(grads) if program.in_tree is not None else tuple(grads)
