"""Forward substitution: the transposed system solved from the top down for given input
tangents, which is tangent mode (jvp), on the same blocks as back-substitution."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..core import Program, Tape
from ..core.backend import is_lazy
from ..core.program import real_size, unflat
from ..lazy import any_lazy, library_errors
from .operators import UNIT, _has_nan, _plain, _stacked, apply_block, apply_block_batched, implicit_diagonals, operator


def forward_substitution(
    program: Program,
    tape: Tape,
    tangents: dict[int, Any],
    *,
    start: int = 0,
    outputs: list[int] | None = None,
    batched: bool = False,
    diagonals: Mapping[int, Any] | None = None,
    identity: bool = False,
) -> list[Any]:
    """Tangents of every variable from the given ones, top row down:
    ``t_k = Σ_{i∈a(k)} ∂f_k/∂z_i t_i`` (None for zero), the program linearised at `tape`. `start` skips equations
    that cannot depend on the seeded variables. A zero tangent contributes nothing
    (see the module docstring): the tangents of `outputs` (default: every variable)
    are the ones looked at for NaN. `batched`: every tangent has a leading axis of k.
    `diagonals`: the equations whose diagonal block is not ``-I``; t_k is then
    ``diagonal.solve_transpose`` of what the blocks send; by default, the program's own.
    `identity`: each batched tangent given is the identity over its variable's scalars (a
    full Jacobian's seed), so the sweep may hold tangents as products not yet multiplied out
    (`_Product`; only with `outputs` given).

    A tangent sweep meets ``0 × ∞`` where reverse mode does not: in ``sqrt(x) * x`` at 0
    the infinite tangent of ``sqrt(x)`` meets the zero partial ``x``, while the reverse
    sweep sends a zero multiplier into the infinite partial, which zero means zero
    resolves. So NaN entries left in the wanted outputs are recomputed by transposed
    solves: the Jacobian rows of those entries by one batched back-substitution, applied
    to the given tangents (real values; traced ones are left as they are)."""
    if diagonals is None and program.implicit:
        diagonals = implicit_diagonals(program, tape)
    if any_lazy(tape.outputs):  # Dask: one sweep, the masks in the graph, nothing looked at
        with np.errstate(invalid="ignore"), library_errors(tape.outputs, "dask"):
            return _forward_substitution(program, tape, tangents, start, True, batched, outputs, diagonals)
    with np.errstate(invalid="ignore"):
        with library_errors(tape.outputs):  # on array-api-strict or CuPy: the rule and the library named
            products = identity and batched and outputs is not None and not diagonals
            t = _forward_substitution(program, tape, tangents, start, False, batched, outputs, diagonals, products)
        wanted = [o for o in (outputs if outputs is not None else range(program.n_vars)) if t[o] is not None]
        if any(is_lazy(t[o]) for o in wanted):  # Dask: the masks go into the graph, nothing is looked at
            t = _forward_substitution(program, tape, tangents, start, True, batched, outputs, diagonals)
        elif any(_has_nan(t[o]) for o in wanted):
            t = _forward_substitution(program, tape, tangents, start, True, batched, outputs, diagonals)
            for o in wanted:
                if _has_nan(t[o]):
                    t[o] = _by_transposed_solves(program, tape, tangents, o, t[o], batched, diagonals)
    return t


def _by_transposed_solves(
    program: Program, tape: Tape, tangents: dict[int, Any], o: int, t_o: Any, batched: bool, diagonals: Any
) -> Any:
    """`t_o` with its NaN entries recomputed as (row of the Jacobian, by back-substitution) ·
    tangents, where that gives a number."""
    values = [t_o, *tangents.values()]
    if any(type(v) is not np.ndarray and not isinstance(v, np.generic) for v in values):
        return t_o  # traced tangents (or several-array values): left to the tangent sweep
    if any(np.dtype(v.dtype).kind != "f" for v in values) or program.dtype(o).kind != "f":
        return t_o
    from .backward import back_substitution  # transposed solves of the same system

    k = t_o.shape[0] if batched else 1
    flat_t = np.reshape(t_o, (k, -1)).copy()
    entries = np.unique(np.nonzero(np.isnan(flat_t))[1])
    seeds = np.zeros((len(entries), flat_t.shape[1]))
    seeds[np.arange(len(entries)), entries] = 1
    seeds = {o: seeds.reshape((len(entries), *program.shape(o)))}
    lam = back_substitution(program, tape, seeds, keep_all=True, batched=True, diagonals=diagonals)
    rows = np.zeros((len(entries), k))  # J[entry] · t, per batch row
    for i, t_i in tangents.items():
        if lam[i] is not None:
            rows += np.reshape(lam[i], (len(entries), -1)) @ np.reshape(t_i, (k, -1)).T
    fixed = flat_t[:, entries]
    flat_t[:, entries] = np.where(np.isnan(fixed) & np.isfinite(rows.T), rows.T, fixed)
    return flat_t.reshape(np.shape(t_o))


def _forward_substitution(
    program: Program,
    tape: Tape,
    tangents: dict[int, Any],
    start: int,
    guarded: bool,
    batched: bool,
    outputs: list[int] | None,
    diagonals: Mapping[int, Any] | None,
    products: bool = False,
) -> list[Any]:
    """One sweep. With `outputs` given, every other tangent is dropped after its last use
    (fresh arrays for every tangent would also cost the allocator a page fault per page).
    `products`: the given tangents are identities, which start as `_Product`s."""
    t: list[Any] = [None] * program.n_vars
    for i, v in tangents.items():
        t[i] = _Product.identity(v) if products else v
    apply = apply_block_batched if batched else apply_block
    equations = program.equations[start:]
    values = tape.values[start:]
    last = {}
    if outputs is not None:
        for j, eq in enumerate(equations):
            for a in eq.args:
                last[a] = j
        for o in outputs:
            last.pop(o, None)
    if products:  # a product read twice is multiplied out once, at its first reading
        uses = dict.fromkeys(outputs or (), 1)
        for eq in equations:
            for a in set(eq.args):
                uses[a] = uses.get(a, 0) + 1
    for j, eq in enumerate(equations):
        if eq.diff:
            ts = [t[a] if a >= 0 else None for a in eq.args]
            if products and _Product in map(type, ts):
                for pos, a in enumerate(eq.args):
                    x = ts[pos]
                    if type(x) is _Product and x.factor is not None and x.factor.ndim == 2 and uses[a] > 1:
                        t[a] = ts[pos] = _Product(x.array(), None, x.rows, x.dtype)
                out = _product_block(eq, values[j], ts, t, uses)
                if out is None:  # the rule needs arrays: multiply out (once per variable)
                    for pos, a in enumerate(eq.args):
                        if type(ts[pos]) is _Product:
                            if type(t[a]) is _Product:  # a variable read twice is multiplied out once
                                t[a] = t[a].array()
                            ts[pos] = t[a]
                    out = apply(eq, values[j], ts, guarded=guarded)
            else:
                out = apply(eq, values[j], ts, guarded=guarded)
            if out is not None:
                if diagonals and eq.out in diagonals:  # explicit equations (-I) skip this
                    d = diagonals[eq.out]
                    out = d.solve_transpose_batched(out) if batched else d.solve_transpose(out)
                t[eq.out] = out
        if outputs is not None:
            for a in eq.args:
                if a >= 0 and last.get(a) == j:
                    t[a] = None
    if products:
        t = [x.array() if type(x) is _Product else x for x in t]
    return t


class _Product:
    """k tangents of a 1-D variable of length n, held as the product ``base @ factor`` not yet
    multiplied out: `base` the ``(k, m)`` tangents of an earlier variable (None: the identity,
    k = m), `factor` None (the identity), a 1-D array (a diagonal) or an ``(m, n)`` matrix,
    `owned` whether the sweep made `factor` (so it may be written into).

    A full Jacobian's forward sweep starts from the identity. An elementwise block scales the
    factor's columns and matmul's block multiplies it from the right, which for a factor no
    larger than the batch costs no more than applying the block to the batch; blocks summed
    onto the same base add their factors. So ``tanh(A @ y) + sin(y)`` costs one scaled copy of
    Aᵀ with ``cos(y)`` added to its diagonal, and one product of the batch with it, instead of
    three passes over the batch after the product; and the identity is never multiplied."""

    __slots__ = ("base", "factor", "rows", "dtype", "owned")

    def __init__(self, base: Any, factor: Any, rows: int, dtype: Any, owned: bool = True) -> None:
        self.base, self.factor, self.rows, self.dtype, self.owned = base, factor, rows, dtype, owned

    @classmethod
    def identity(cls, seed: Any) -> Any:
        """The seed as an identity product, or the seed itself where products do not apply."""
        if type(seed) is not np.ndarray or seed.ndim != 2 or seed.shape[0] != seed.shape[1] or not _real(seed.dtype):
            return seed
        return cls(None, None, seed.shape[0], seed.dtype)

    def array(self) -> Any:
        """The product multiplied out: a new array (never a forward value)."""
        base, f = self.base, self.factor
        if base is None:
            if f is None:
                return np.eye(self.rows, dtype=self.dtype)
            return np.diag(f) if f.ndim == 1 else f if self.owned else f.copy()
        if f is None:
            return base
        return base * f if f.ndim == 1 else base @ f

    @property
    def size(self) -> int:
        """n, the variable's length."""
        f = self.factor
        if f is not None:
            return f.shape[-1]
        return self.rows if self.base is None else self.base.shape[1]


def _real(dtype: Any) -> bool:
    return dtype.kind == "f" and dtype.itemsize >= 4  # float16 rounds the reassociated products too coarsely


def _product_block(eq: Any, values: list[Any], ts: list[Any], t: list[Any], uses: dict[int, int]) -> Any:
    """Equation `eq`'s tangent as a `_Product`, from tangents `ts` of which some are: every
    tangent a product on the same base, every block a finite diagonal or a right factor no
    larger than the batch, real floats of one dtype; else None (the caller multiplies out).
    A product whose factor is a matrix is multiplied out before a second matrix meets it
    (and kept so, in `t`, as the base of its variable's later products)."""
    prim = eq.primitive
    if len(eq.shape) != 1 or prim.jvp_joint is not None or not _real(eq.dtype):
        return None
    base: Any = _Product
    dense = diagonal = None
    owned, rows = True, 0
    for pos in eq.diff:
        x = ts[pos]
        if x is None:
            continue
        if type(x) is not _Product or x.dtype != eq.dtype:
            return None
        r = operator(prim, pos).factor(values, eq.params, eq.shape, eq.dtype)
        if r is UNIT:
            if x.size != eq.shape[0]:
                return None
            if base is _Product:
                base, rows = x.base, x.rows
            elif x.base is not base:
                return None
            term, fresh = x.factor, x.owned and uses[eq.args[pos]] == 1  # nothing else reads x
            if term is None:
                term = np.ones(eq.shape, eq.dtype)
        elif type(r) is not np.ndarray or r.dtype != eq.dtype:
            return None
        elif r.ndim == 1:
            if r.shape != eq.shape or x.size != r.shape[0] or not np.isfinite(r).all():
                return None  # 0 × ∞ is left to the sweep of arrays, which zero means zero guards
        elif r.ndim != 2 or r.shape != (x.size, eq.shape[0]) or r.shape[0] > x.rows:
            return None
        if r is not UNIT:
            f = x.factor
            if f is not None and f.ndim == 2 and r.ndim == 2:  # two matrices: the first multiplied out
                x = t[eq.args[pos]] = ts[pos] = _Product(x.array(), None, x.rows, x.dtype)
                f = None
            if base is _Product:
                base, rows = x.base, x.rows
            elif x.base is not base:
                return None
            if f is None:
                term, fresh = r, False  # the rule's own array, maybe a forward value's view
            elif f.ndim == 1:
                term, fresh = (f * r if r.ndim == 1 else f[:, None] * r), True
            else:
                term, fresh = f * r, True
        if term.ndim == 1:
            diagonal = term if diagonal is None else diagonal + term
        elif dense is None:
            dense, owned = term, fresh
        else:
            dense, owned = dense + term, True
    if base is _Product:
        return None
    if dense is None:
        return _Product(base, diagonal, rows, eq.dtype)
    if diagonal is not None:
        if not owned:
            dense, owned = dense.copy(), True
        i = np.arange(len(diagonal))
        dense[i, i] += diagonal
    return _Product(base, dense, rows, eq.dtype, owned)


#: Directions swept together by the `forward_substitution` method (one batched sweep each).
CHUNK = 256


def solve(system: Any, wanted: list[int] | None = None, **options: Any) -> list[Any]:
    """The `forward_substitution` method of an AdjointSystem: λ_i is the output's sensitivity
    to z_i, one tangent sweep along each real direction of z_i, all of them batched into one
    sweep (in chunks of `CHUNK`) over the equations after z_i. Only the `wanted` variables'
    multipliers are computed (default: all), so a gradient costs one batched sweep per input."""
    program = system.program
    lam: list[Any] = [None] * program.n_vars
    if system.output is None:
        return lam
    cotangent = np.asarray(_plain(system.cotangent))
    c = np.ravel(cotangent)
    for i in range(program.n_vars) if wanted is None else wanted:
        if not program.differentiable(i) or i > system.output:
            continue
        start = max(i - program.n_inputs + 1, 0)
        shape, dtype = program.shape(i), program.dtype(i)
        m = real_size(shape, dtype)
        diagonal = system.implicit.get(i)
        lam_i = np.zeros(m)
        for first in range(0, m, CHUNK):
            rows = np.eye(m)[first : first + CHUNK]
            seeds = _stacked([unflat(e, shape, dtype) for e in rows])  # several arrays: Parts of stacks
            seeds = diagonal.solve_transpose_batched(seeds) if diagonal else seeds  # t_i from A[i, i]ᵀ
            t = forward_substitution(
                program,
                system.tape,
                {i: seeds},
                start=start,
                outputs=[system.output],
                batched=True,
                diagonals=system.implicit,
            )
            t = t[system.output]
            if t is not None:  # the derivative of Re Σ cotangent · output, per direction
                lam_i[first : first + len(rows)] = np.real(np.reshape(_plain(t), (len(rows), -1)) @ c)
        lam[i] = unflat(lam_i, shape, dtype, covector=True)
    return lam
