"""Sparse Jacobians and Hessians: the pattern read off the Program, a colouring, one compressed solve.

The scalar-level `A` is the extended Jacobian, so which output scalars can depend on which
input scalars follows from the equations alone. `pattern(program)` propagates, equation by
equation, a 0/1 matrix per variable (its scalars × the inputs' scalars) through each
equation's local pattern: elementwise primitives map each scalar to its broadcast source,
data movement (indexing, slicing, reshape, transpose, roll, concatenate, pad…) to the exact
scalar it copies (found by running the primitive on numbered arrays), reductions and
scans to the scalars along their axes, 2-D products to rows and columns; anything else is a
dense block, which over-approximates safely. `Sparsity` keeps a pattern and its colouring
and computes the Jacobian (or Hessian) of new inputs with one batched solve per chunk of
colours, tracing again (and taking the union of the patterns) when a branch changes.
"""

from __future__ import annotations

import copy
import functools
import itertools
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse

from . import colouring
from .adjoint import back_substitution, forward_substitution
from .core import Program, Tape
from .core.program import BranchError, Constant, is_parts_shape, size_of

#: Primitives that copy scalars (or fill constants) without arithmetic: their pattern is
#: found by running them on numbered arrays, and checked to be a copy.
MOVES = frozenset(
    {
        "getitem", "reshape", "transpose", "moveaxis", "broadcast_to", "roll", "concatenate", "stack",
        "pad", "diagonal", "embed_diagonal", "take_along_axis", "index_set", "part", "untake",
        "untake_along_axis", "index_add", "gather_along", "scatter_along",
    }
)  # fmt: skip
#: Reductions with ``axis`` (a tuple) and ``keepdims``: each result depends on the scalars it reduces.
REDUCTIONS = frozenset({"sum", "mean", "prod", "max", "min", "var", "std", "logsumexp"})
#: Same-shape operations along one ``axis``: each result depends on the scalars of its line.
ALONG_AXIS = frozenset({"cumsum", "cumprod", "cumsum_reverse", "softmax", "log_softmax", "sort"})

#: Scans among them: True where a result reads the scalars before it, False after it.
SCANS = {"cumsum": True, "cumprod": True, "cumsum_reverse": False}

_BIG = 2.0**40  # a second numbering, shifted: a copied scalar moves by exactly this much


def _ones(n_rows: int, cols: np.ndarray, n_cols: int) -> scipy.sparse.csr_matrix:
    """The 0/1 matrix with a one at (i, cols[i]) for every row, none where cols[i] < 0."""
    keep = cols >= 0
    rows = np.arange(n_rows)[keep]
    return scipy.sparse.csr_matrix((np.ones(len(rows)), (rows, cols[keep])), shape=(n_rows, n_cols))


def _binary(m: scipy.sparse.spmatrix) -> scipy.sparse.csr_matrix:
    m = scipy.sparse.csr_matrix(m)
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


def _elementwise(eq: Any, shape: tuple[int, ...]) -> scipy.sparse.csr_matrix | None:
    """Each result scalar reads the scalar of the argument it broadcasts from."""
    if is_parts_shape(eq.shape):
        return None
    try:
        source = np.broadcast_to(np.arange(size_of(shape)).reshape(shape), eq.shape).ravel()
    except ValueError:
        return None
    return _ones(len(source), source, size_of(shape))


def _reduced_index(shape: tuple[int, ...], axes: Any) -> np.ndarray | None:
    """For each scalar of `shape`, the index of its line once `axes` are reduced."""
    ndim = len(shape)
    if ndim == 0:
        return np.zeros(1, dtype=np.int64)
    axes = range(ndim) if axes is None else (axes,) if isinstance(axes, (int, np.integer)) else axes
    try:
        reduced = {int(a) % ndim for a in axes}
    except TypeError:
        return None
    kept = [n for a, n in enumerate(shape) if a not in reduced]
    grids = np.indices(shape).reshape(ndim, -1)
    kept_grids = [grids[a] for a in range(ndim) if a not in reduced]
    if not kept_grids:
        return np.zeros(size_of(shape), dtype=np.int64)
    return np.ravel_multi_index(kept_grids, kept)


def _reduction(eq: Any, shape: tuple[int, ...]) -> scipy.sparse.csr_matrix | None:
    line = _reduced_index(shape, eq.params.get("axis"))
    if line is None or (line.max(initial=-1) + 1) != size_of(eq.shape):
        return None
    return _ones(len(line), line, size_of(eq.shape) if line.size else 0).T.tocsr()


def _along_axis(eq: Any, shape: tuple[int, ...]) -> scipy.sparse.csr_matrix | None:
    axis = eq.params.get("axis", -1)
    if tuple(eq.shape) != tuple(shape) or axis is None or not shape:
        return None
    line = _reduced_index(shape, (axis,))
    if line is None:
        return None
    to_line = _ones(len(line), line, int(line.max(initial=-1)) + 1)  # scalar -> its line
    same_line = _binary(to_line @ to_line.T).tocoo()
    if eq.primitive.name in SCANS:  # a running sum or product reads the scalars up to its own
        place = np.indices(shape)[int(axis) % len(shape)].ravel()
        before = place[same_line.col] <= place[same_line.row]
        keep = before if SCANS[eq.primitive.name] else ~before | (same_line.col == same_line.row)
        same_line = scipy.sparse.coo_matrix(
            (same_line.data[keep], (same_line.row[keep], same_line.col[keep])), shape=same_line.shape
        )
    return same_line.tocsr()


def _matmul(eq: Any, program: Program, pos: int) -> scipy.sparse.csr_matrix | None:
    """``a @ b`` of 1-D or 2-D arguments: result (i, j) reads row i of a and column j of b."""
    shapes = [program.shape(a) if a >= 0 else np.shape(eq.constants[p]) for p, a in enumerate(eq.args)]
    if len(shapes) != 2 or not all(1 <= len(s) <= 2 for s in shapes):
        return None
    a, b = shapes
    m, n = (1, a[0]) if len(a) == 1 else a
    p = 1 if len(b) == 1 else b[1]
    if (m if pos == 0 else p) == 1:
        return None  # a product with a vector: every result scalar reads the whole argument
    block = np.ones((p, n)) if pos == 0 else np.ones((m, n))
    other = scipy.sparse.identity(m if pos == 0 else p, format="csr")
    return _binary(scipy.sparse.kron(other, block) if pos == 0 else scipy.sparse.kron(block, other))


def _moves(eq: Any, program: Program) -> dict[int, scipy.sparse.csr_matrix] | None:
    """Run a data-moving (linear) primitive on a numbered copy of one differentiated argument,
    the others zero (float constants zero, indices as given), twice, the second numbering
    shifted by `_BIG`: a result scalar that moved by exactly `_BIG` copies the scalar with
    that number, one that did not move reads none of it. Anything else (sums of several
    scalars, arithmetic on the numbers) is not a copy: None, and the block stays dense."""
    zeros: list[Any] = []
    for pos, a in enumerate(eq.args):
        if a >= 0:
            if program.dtype(a).kind not in "fc" or is_parts_shape(program.shape(a)):
                return None  # indices computed by the program: value-dependent
            zeros.append(np.zeros(program.shape(a)))
        else:
            value = eq.constants[pos]
            zeros.append(np.zeros(np.shape(value)) if np.asarray(value).dtype.kind in "fc" else value)
    blocks = {}
    for pos in eq.diff:
        if eq.args[pos] < 0:
            continue
        shape = tuple(program.shape(eq.args[pos]))
        numbers = np.arange(1.0, size_of(shape) + 1).reshape(shape)
        first, second = list(zeros), list(zeros)
        first[pos], second[pos] = numbers, numbers + _BIG
        try:
            with np.errstate(all="ignore"):
                out1 = np.asarray(eq.primitive.impl(*first, **eq.params), dtype=np.float64)
                out2 = np.asarray(eq.primitive.impl(*second, **eq.params), dtype=np.float64)
        except Exception:
            return None
        if out1.shape != tuple(eq.shape) or out2.shape != out1.shape:
            return None
        moved = (out2 - out1).ravel()
        copied = moved == _BIG
        if not np.all(copied | (moved == 0)) or not np.all(out1.ravel()[~copied] == 0):
            return None
        source = np.where(copied, out1.ravel() - 1, -1).astype(np.int64)
        blocks[pos] = _ones(len(source), source, size_of(shape))
    return blocks


def local_patterns(eq: Any, program: Program) -> dict[int, scipy.sparse.csr_matrix | None]:
    """Per differentiated argument position, the 0/1 pattern of ``∂f/∂arg`` (result scalars ×
    argument scalars), None where only a dense block is known."""
    name = eq.primitive.name
    positions = [p for p in eq.diff if eq.args[p] >= 0]
    if name in MOVES and not is_parts_shape(eq.shape):
        moved = _moves(eq, program)
        if moved is not None:
            return moved
    out: dict[int, scipy.sparse.csr_matrix | None] = {}
    for pos in positions:
        shape = tuple(program.shape(eq.args[pos]))
        block = None
        if is_parts_shape(shape):
            block = None
        elif eq.primitive.elementwise or name == "astype":
            block = _elementwise(eq, shape)
        elif name in REDUCTIONS:
            block = _reduction(eq, shape)
        elif name in ALONG_AXIS:
            block = _along_axis(eq, shape)
        elif name == "matmul":
            block = _matmul(eq, program, pos)
        out[pos] = block
    return out


#: `_local_patterns`' block of an elementwise primitive whose argument has the result's shape
_SAME = scipy.sparse.csr_matrix((0, 0))


def _local_patterns(eq: Any, program: Program) -> dict[int, Any]:
    """`local_patterns`, with `_SAME` for an elementwise block of one shape (the identity, not built)."""
    if (eq.primitive.elementwise or eq.primitive.name == "astype") and not is_parts_shape(eq.shape):
        shape = tuple(eq.shape)
        positions = [p for p in eq.diff if eq.args[p] >= 0]
        if all(tuple(program.shape(eq.args[p])) == shape for p in positions):
            return dict.fromkeys(positions, _SAME)
    return local_patterns(eq, program)


def _is_identity(block: scipy.sparse.csr_matrix) -> bool:
    n = block.shape[0]
    return (
        block.shape[1] == n == block.nnz
        and np.array_equal(block.indptr, np.arange(n + 1))
        and np.array_equal(block.indices, np.arange(n))
    )


def pattern(program: Program, outputs: list[int] | None = None) -> scipy.sparse.csr_matrix:
    """The 0/1 Jacobian pattern of the program's outputs (their scalars, one after another)
    with respect to its inputs' scalars: which output can depend on which input, whatever
    the inputs' values (for the branches recorded)."""
    offsets = np.cumsum([0] + [size_of(s) for s, _ in program.inputs])
    n = int(offsets[-1])
    deps: list[scipy.sparse.csr_matrix | None] = [None] * program.n_vars
    for j, (shape, _) in enumerate(program.inputs):
        size = size_of(shape)
        deps[j] = _ones(size, np.arange(size) + offsets[j], n)
    for eq in program.equations:
        total, passed = None, False
        for pos, block in _local_patterns(eq, program).items():
            arg = deps[eq.args[pos]]
            if arg is None or arg.nnz == 0:
                continue
            rows = size_of(eq.shape)
            if block is _SAME or (block is not None and _is_identity(block)):
                part, passed = arg, total is None  # elementwise of one shape: the argument's own pattern
            elif block is None or block.nnz == rows * block.shape[1]:
                # dense (a product with a vector, a primitive of unknown pattern): every result scalar
                # reads every scalar the argument reads, written at once rather than multiplied out
                reached = np.unique(arg.indices)
                indptr = np.arange(rows + 1, dtype=np.int64) * len(reached)
                part = scipy.sparse.csr_matrix((np.ones(rows * len(reached)), np.tile(reached, rows), indptr),
                                               shape=(rows, n)) if rows else None  # fmt: skip
            else:
                part = block @ arg
            if part is not None:
                passed = passed and total is None
                total = part if total is None else total + part
        # an argument's pattern passed on alone is already 0/1 and shared, never written
        deps[eq.out] = total if total is None or passed else _binary(total)
    rows = []
    for o in program.outputs if outputs is None else outputs:
        size = size_of(np.shape(o.value)) if isinstance(o, Constant) else size_of(program.shape(o))
        d = None if isinstance(o, Constant) else deps[o]
        rows.append(d if d is not None else scipy.sparse.csr_matrix((size, n)))
    return _binary(scipy.sparse.vstack(rows, format="csr")) if rows else scipy.sparse.csr_matrix((0, n))


#: How the compressed system is solved: by columns (forward), by rows (reverse), or the fewer.
MODES = ("auto", "fwd", "rev")


class Sparsity:
    """The sparsity pattern of a function's Jacobian (or, with ``hessian=True``, of its
    Hessian) and a colouring of it, kept to compute sparse derivatives of many inputs with
    the same structure: ``s = lagrad.sparsity(f, x)`` once, then ``s.jacobian(x)`` returns a
    ``scipy.sparse.csr_matrix`` with one compressed solve (a batch of `n_colours` seeds).

    Several arguments (`argnums`, each an array or a tree of arrays) and several outputs (a
    tuple or tree of arrays) are flattened into one column and one row space: columns are the
    scalars of the differentiated arguments' leaves in `lagrad.tree_flatten` order (argument
    by argument, each leaf's scalars in C order), rows those of the output's leaves, likewise.
    `in_slices` and `out_slices` give each leaf's range.

    `pattern` (rows: output scalars, columns: input scalars), `colours` (per column for
    ``mode="fwd"`` and for a Hessian, per row for ``"rev"``), `n_colours` and `mode` are
    visible. A replay that takes another branch traces again and colours the union of the
    patterns, so the object stays valid on every branch it has seen."""

    def __init__(
        self,
        fun: Callable[..., Any],
        *args: Any,
        argnums: int | tuple[int, ...] = 0,
        mode: str = "auto",
        order: str | None = None,
        hessian: bool = False,
        max_bytes: int | None = None,
        _traced: Any = None,
        _pattern: scipy.sparse.csr_matrix | None = None,
    ) -> None:
        # _traced, _pattern: a trace of the function at `args` and its pattern, already made (`plan`)
        if mode not in MODES:
            raise ValueError(f"lagrad.sparsity: mode must be one of {', '.join(MODES)}, not {mode!r}")
        if order is not None and order not in colouring.ORDERS:
            raise ValueError(f"lagrad.sparsity: order must be one of {', '.join(colouring.ORDERS)}, not {order!r}")
        if not args:
            raise TypeError("lagrad.sparsity: give the function's arguments: lagrad.sparsity(f, x, ...)")
        self.fun = fun
        self.argnums = argnums
        self.hessian = hessian
        self.requested_mode = mode
        self.order = order
        self.max_bytes = max_bytes
        self.branches = 0
        self.pattern: scipy.sparse.csr_matrix = scipy.sparse.csr_matrix((0, 0))
        self._program, self._tape = self._trace(args, _traced)
        self._add_branch(self._program, _pattern)

    # -- structure ----------------------------------------------------------------

    def _target(self) -> Callable[..., Any]:
        if not self.hessian:
            return self.fun
        from .transforms import grad

        return grad(self.fun, argnums=self.argnums)

    def _trace(self, args: tuple[Any, ...], traced: Any = None) -> tuple[Program, Tape]:
        from .transforms import _argnums, _trace, _traced_run

        who = "hessian" if self.hessian else "jacobian"
        if traced is None:
            traced = _trace(self._target(), args, {}, self.argnums, who)
        program = traced.program
        if _traced_run(traced.tape):
            raise TypeError(
                f"lagrad.{who}(sparse=True) on traced values (a derivative of it, or inside lagrad.compile): "
                f"its scipy.sparse result cannot hold them. Use the dense lagrad.{who} there"
            )
        nums, _ = _argnums(self.argnums, len(args), who)
        # the other arguments are constants of the program: a call with others traces again
        self._fixed = [(i, args[i]) for i in range(len(args)) if i not in nums]
        self._nums = nums
        outputs = [o for o in program.outputs if not isinstance(o, Constant)]
        if any(np.dtype(d).kind != "f" for _, d in program.inputs) or any(
            np.dtype(program.dtype(o)).kind != "f" or is_parts_shape(program.shape(o)) for o in outputs
        ):
            raise TypeError(f"lagrad.{who}(sparse=True) works on real floats; use the dense lagrad.{who} for complex")
        self.in_shapes = [tuple(s) for s, _ in program.inputs]
        self.out_shapes = [tuple(np.shape(o)) for o in traced.outputs]
        self.in_slices = _slices(self.in_shapes)
        self.out_slices = _slices(self.out_shapes)
        # one array in and out: the shapes the dense Jacobian would have
        self.in_shape = self.in_shapes[0] if len(self.in_shapes) == 1 else (self.in_slices[-1].stop,)
        self.out_shape = self.out_shapes[0] if len(self.out_shapes) == 1 else (self.out_slices[-1].stop,)
        return program, traced.tape

    def _add_branch(self, program: Program, new: scipy.sparse.csr_matrix | None = None) -> None:
        new = pattern(program) if new is None else new
        if self.hessian:
            new = _binary(new + new.T)
        self.pattern = new if self.branches == 0 else _binary(self.pattern + new)
        self.branches += 1
        if self.hessian:
            self.mode = "fwd"
            self.colours = colouring.star(self.pattern, self.order or "smallest_last")
        else:
            order = self.order or "largest_first"
            by_columns = colouring.columns(self.pattern, order) if self.requested_mode != "rev" else None
            by_rows = colouring.rows(self.pattern, order) if self.requested_mode != "fwd" else None
            if by_rows is None or (by_columns is not None and _count(by_columns) <= _count(by_rows)):
                self.mode, self.colours = "fwd", by_columns
            else:
                self.mode, self.colours = "rev", by_rows
        self.n_colours = _count(self.colours)

    @property
    def shape(self) -> tuple[int, int]:
        return self.pattern.shape

    @property
    def nnz(self) -> int:
        return int(self.pattern.nnz)

    # -- values -------------------------------------------------------------------

    def _tape_at(self, args: tuple[Any, ...]) -> Tape:
        same = len(args) == len(self._fixed) + len(self._nums) and all(
            args[i] is a or (np.shape(args[i]) == np.shape(a) and np.array_equal(args[i], a)) for i, a in self._fixed
        )
        if same:
            try:
                return self._program.replay(*(args[i] for i in self._nums))
            except BranchError:
                pass
        self._program, tape = self._trace(args)
        self._add_branch(self._program)
        return tape

    def jacobian(self, *args: Any) -> scipy.sparse.csr_matrix:
        """The Jacobian (or Hessian) at `args` (all of the function's arguments, as when made)
        as a ``scipy.sparse.csr_matrix`` of shape (output scalars, input scalars)."""
        return self._solve(self._tape_at(args))

    @property
    def dense_dtype(self) -> np.dtype:
        """The dense Jacobian's dtype (float32 stays float32; the solves run in the seeds' float64)."""
        return _dense_dtype(self._program)

    def _solve(self, tape: Tape, program: Program | None = None) -> scipy.sparse.csr_matrix:
        """The derivative on `tape`, a run of `program` (by default the kept one), which has
        the structure this pattern and colouring were made for."""
        from .transforms import BATCH_BYTES

        program = self._program if program is None else program
        m, n = self.pattern.shape
        outputs = [(o, sl, shape) for o, sl, shape in zip(program.outputs, self.out_slices, self.out_shapes)
                   if not isinstance(o, Constant)]  # fmt: skip
        dtype = np.result_type(_dense_dtype(program), np.float32)  # float16's as float32: scipy.sparse holds no float16
        if not outputs or self.n_colours == 0:
            return scipy.sparse.csr_matrix((m, n), dtype=dtype)
        seeds = colouring.seeds(self.colours)
        limit = BATCH_BYTES if self.max_bytes is None else self.max_bytes
        row_bytes = 8 * sum(size_of(eq.shape) for eq in program.equations if not is_parts_shape(eq.shape))
        chunk = max(1, limit // max(row_bytes + 8 * (m + n), 1))
        parts = []
        for start in range(0, self.n_colours, chunk):
            s = seeds[start : start + chunk]
            k = len(s)
            if self.mode == "fwd":
                tangents = {
                    j: s[:, sl].reshape((k, *shape))
                    for j, (sl, shape) in enumerate(zip(self.in_slices, self.in_shapes))
                }
                t = forward_substitution(program, tape, tangents, outputs=[o for o, _, _ in outputs], batched=True)
                block = np.zeros((k, m))
                for o, sl, _ in outputs:
                    if t[o] is not None:
                        block[:, sl] = np.reshape(t[o], (k, sl.stop - sl.start))
            else:
                cotangents: dict[int, Any] = {}
                for o, sl, shape in outputs:  # an output listed twice gets both seeds
                    c = s[:, sl].reshape((k, *shape))
                    cotangents[o] = c if o not in cotangents else cotangents[o] + c
                lam = back_substitution(program, tape, cotangents, batched=True)
                block = np.zeros((k, n))
                for j, sl in enumerate(self.in_slices):
                    if lam[j] is not None:
                        block[:, sl] = np.reshape(lam[j], (k, sl.stop - sl.start))
            parts.append(block)
        compressed = np.concatenate(parts, axis=0)
        if self.hessian:
            result = colouring.decompress_symmetric(self.pattern, self.colours, compressed.T)
        elif self.mode == "fwd":
            result = colouring.decompress_columns(self.pattern, self.colours, compressed.T)
        else:
            result = colouring.decompress_rows(self.pattern, self.colours, compressed)
        return result if result.dtype == dtype else result.astype(dtype)

    __call__ = jacobian

    def __repr__(self) -> str:
        what = "Hessian" if self.hessian else "Jacobian"
        m, n = self.shape
        return (
            f"<Sparsity of a {m}x{n} {what}: {self.nnz} nonzeros, {self.n_colours} colours "
            f"({'star' if self.hessian else 'columns' if self.mode == 'fwd' else 'rows'}), "
            f"{self.branches} branch{'es' if self.branches != 1 else ''}>"
        )


def _slices(shapes: list[tuple[int, ...]]) -> list[slice]:
    offsets = np.cumsum([0] + [size_of(s) for s in shapes]).tolist()
    return [slice(a, b) for a, b in itertools.pairwise(offsets)]


def _count(colours: np.ndarray) -> int:
    return int(colours.max()) + 1 if len(colours) else 0


def sparsity(
    fun: Callable[..., Any],
    *args: Any,
    argnums: int | tuple[int, ...] = 0,
    mode: str = "auto",
    order: str | None = None,
    hessian: bool = False,
) -> Sparsity:
    """The sparsity pattern and colouring of ``jacobian(fun, argnums)`` at `args`
    (``hessian(fun, argnums)`` with `hessian`), kept for reuse: ``sparsity(f, x).jacobian(x2)``
    is the sparse Jacobian at `x2` from one compressed solve. Several arguments and outputs
    are flattened into one column and one row space (`Sparsity`). `mode` chooses columns
    (``"fwd"``), rows (``"rev"``) or the fewer colours (``"auto"``); `order` the greedy order
    (``"largest_first"``, ``"smallest_last"``, ``"natural"``)."""
    return Sparsity(fun, *args, argnums=argnums, mode=mode, order=order, hessian=hessian)


def sparse_transform(
    fun: Callable[..., Any], hessian: bool, mode: str, max_bytes: int | None, argnums: int | tuple[int, ...] = 0
) -> Callable[..., Any]:
    """``jacobian(fun, sparse=True)`` / ``hessian(fun, sparse=True)``: every call traces `fun`
    (so a changed closure or branch is seen) and solves one compressed system; the pattern
    and colouring are kept per traced structure (`Reused`)."""
    kept = Reused(fun, hessian, mode, max_bytes, argnums)

    @functools.wraps(fun)
    def sparse_derivative(*args: Any) -> scipy.sparse.csr_matrix:
        return kept(*args)

    return sparse_derivative


class Reused:
    """The patterns and colourings of ``jacobian(fun, sparse=True)``, kept across its calls.

    Each call traces `fun` afresh and reads the Program's structure key (primitives, arguments,
    shapes, parameters, the indices of data movement: all the pattern is made of). Calls with
    the same input and output shapes share one `Sparsity`; a structure it has not seen there
    (another branch) is added to it, so its pattern is the union over the branches recorded
    and valid for each. A call of a known structure pays the trace and the compressed solve
    only. A program whose key cannot be made (an unhashable parameter) is detected afresh."""

    #: distinct shapes (and structures per shape) kept before the oldest is dropped
    KEEP = 8

    def __init__(self, fun: Callable[..., Any], hessian: bool, mode: str, max_bytes: int | None, argnums: Any) -> None:
        self.fun, self.hessian, self.mode, self.max_bytes, self.argnums = fun, hessian, mode, max_bytes, argnums
        #: per (input shapes and dtypes, output shapes): the Sparsity and the structure keys it holds
        self.by_shape: dict[Any, tuple[Sparsity, frozenset[Any]]] = {}
        self._lock = threading.Lock()

    def __call__(self, *args: Any) -> scipy.sparse.csr_matrix:
        from .elimination import _structure_key

        if not self.by_shape:
            first = Sparsity(self.fun, *args, argnums=self.argnums, mode=self.mode, hessian=self.hessian,
                             max_bytes=self.max_bytes)  # fmt: skip
            self._keep(first, _structure_key(first._program))
            return first._solve(first._tape)
        with self._lock:  # any kept one: a copy to trace with, its shapes set by the trace
            probe = copy.copy(next(iter(self.by_shape.values()))[0])
        program, tape = probe._trace(args)  # sets the probe's shapes and slices, never the kept ones'
        key = _structure_key(program)
        shape_key = (program.inputs, tuple(map(tuple, probe.out_shapes)))
        found = self.by_shape.get(shape_key)
        if found is not None and key is not None and key in found[1]:
            return found[0]._solve(tape, program)
        # a new structure: a branch more for the Sparsity of these shapes (a copy: one in use by
        # another call is never changed), or the first of new shapes
        probe._program, probe._tape = program, tape
        if found is not None:
            probe.pattern, probe.branches = found[0].pattern, found[0].branches
        else:
            probe.branches = 0
        probe._add_branch(program)
        self._keep(probe, key, found[1] if found is not None else frozenset())
        return probe._solve(tape, program)

    def _keep(self, structure: Sparsity, key: Any, keys: frozenset[Any] = frozenset()) -> None:
        if key is None:
            return
        shape_key = (structure._program.inputs, tuple(map(tuple, structure.out_shapes)))
        keys = keys | {key} if len(keys) < self.KEEP else frozenset({key})
        with self._lock:
            self.by_shape.pop(shape_key, None)
            if len(self.by_shape) >= self.KEEP:
                del self.by_shape[next(iter(self.by_shape))]
            self.by_shape[shape_key] = (structure, keys)


def _dense_dtype(program: Program) -> np.dtype:
    kept = [program.dtype(o) for o in program.outputs if not isinstance(o, Constant)]
    return np.result_type(*(d for _, d in program.inputs), *kept)
