"""Forward substitution: the transposed system solved from the top down for given input
tangents, which is tangent mode (jvp), on the same blocks as back-substitution."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..core import Program, Tape
from ..core.backend import in_namespace, is_lazy, namespace_library, namespace_of
from ..core.program import is_parts_shape, real_size, unflat
from ..lazy import _leaves, any_lazy, as_lazy, library_errors
from .operators import _has_nan, _plain, _stacked, apply_block, apply_block_batched, implicit_diagonals


def forward_substitution(
    program: Program,
    tape: Tape,
    tangents: dict[int, Any],
    *,
    start: int = 0,
    outputs: list[int] | None = None,
    batched: bool = False,
    diagonals: Mapping[int, Any] | None = None,
) -> list[Any]:
    """Tangents of every variable from the given ones, top row down:
    ``t_k = Σ_{i∈a(k)} ∂f_k/∂z_i t_i`` (None for zero), the program linearised at `tape`. `start` skips equations
    that cannot depend on the seeded variables. A zero tangent contributes nothing
    (see the module docstring): the tangents of `outputs` (default: every variable)
    are the ones looked at for NaN. `batched`: every tangent has a leading axis of k.
    `diagonals`: the equations whose diagonal block is not ``-I``; t_k is then
    ``diagonal.solve_transpose`` of what the blocks send; by default, the program's own.

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
            t = _forward_substitution(program, tape, tangents, start, False, batched, outputs, diagonals)
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
            rows += _product(np.reshape(lam[i], (len(entries), -1)), np.reshape(t_i, (k, -1)))
    fixed = flat_t[:, entries]
    flat_t[:, entries] = np.where(np.isnan(fixed) & np.isfinite(rows.T), rows.T, fixed)
    return flat_t.reshape(np.shape(t_o))


def _product(rows: np.ndarray, tangents: np.ndarray) -> np.ndarray:
    """``rows @ tangents.T`` where a zero tangent entry contributes nothing, also against a
    NaN or infinite entry of a row (zero means zero: a row of a Jacobian that is NaN in one
    input must not make NaN the derivative along another)."""
    finite = np.isfinite(rows)
    if finite.all():
        return rows @ tangents.T
    out = np.where(finite, rows, 0.0) @ tangents.T
    cols = np.nonzero(~finite.all(axis=0))[0]
    wild = np.where(finite[:, cols], 0.0, rows[:, cols])[:, None, :]  # (entries, 1, cols)
    t = tangents[:, cols][None, :, :]  # (1, k, cols)
    with np.errstate(invalid="ignore"):
        return out + np.where(t != 0, wild * t, 0.0).sum(axis=-1)


def _forward_substitution(
    program: Program,
    tape: Tape,
    tangents: dict[int, Any],
    start: int,
    guarded: bool,
    batched: bool,
    outputs: list[int] | None,
    diagonals: Mapping[int, Any] | None,
) -> list[Any]:
    """One sweep. With `outputs` given, every other tangent is dropped after its last use
    (fresh arrays for every tangent would also cost the allocator a page fault per page)."""
    t: list[Any] = [None] * program.n_vars
    for i, v in tangents.items():
        t[i] = v
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
    for j, eq in enumerate(equations):
        if eq.diff:
            out = apply(eq, values[j], [t[a] if a >= 0 else None for a in eq.args], guarded=guarded)
            if out is not None:
                if diagonals and eq.out in diagonals:  # explicit equations (-I) skip this
                    d = diagonals[eq.out]
                    out = d.solve_transpose_batched(out) if batched else d.solve_transpose(out)
                t[eq.out] = out
        if outputs is not None:
            for a in eq.args:
                if a >= 0 and last.get(a) == j:
                    t[a] = None
    return t


#: Directions swept together by the `forward_substitution` method (one batched sweep each).
CHUNK = 256


def solve(system: Any, wanted: list[int] | None = None, *, mask: Any = True, max_size: Any = None) -> list[Any]:
    """The `forward_substitution` method of an AdjointSystem: λ_i is the output's sensitivity
    to z_i, one tangent sweep along each real direction of z_i, all of them batched into one
    sweep (in chunks of `CHUNK`) over the equations after z_i. Only the `wanted` variables'
    multipliers are computed (default: all), so a gradient costs one batched sweep per input.
    On Dask or array-namespace arrays the seeds and the products with the cotangent are made in
    the output's library (`_solve_in_library`)."""
    if mask is False:  # NaN entries are recomputed by masked transposed solves: no unmasked result
        raise ValueError("lagrad: the 'forward_substitution' solver has no mask=False; use 'back_substitution'")
    program = system.program
    lam: list[Any] = [None] * program.n_vars
    if system.output is None:
        return lam
    if any_lazy(system.tape.outputs) or namespace_library(system.tape.outputs) is not None:
        return _solve_in_library(system, wanted)
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


def _solve_in_library(system: Any, wanted: list[int] | None) -> list[Any]:
    """`solve` on Dask arrays (lazy seeds, nothing computed) or an array namespace's
    (array-api-strict, CuPy: seeds moved to the output's device): each λ_i is built from the
    library's products ``t · cotangent``, chunk by chunk, and reshaped there. Real variables and
    outputs only; implicit equations' diagonal blocks (NumPy solves) are refused by name. On Dask
    the one tangent sweep is guarded (a NaN entry from 0 × ∞ stays NaN: finding it would compute),
    whether or not the output is NaN (back-substitution's and levels' `mask` option)."""
    program, tape = system.program, system.tape
    outputs = [_plain(o) for _, o in _leaves(tape.outputs, None)]
    like = next(o for o in outputs if is_lazy(o) or namespace_of(o) is not None)
    xp = namespace_of(like)
    library = "dask" if xp is None else namespace_library(like)
    concat = np.concatenate if xp is None else xp.concat
    reshape = np.reshape if xp is None else xp.reshape
    cotangent = _plain(system.cotangent)
    if not is_lazy(cotangent) and xp is not None:
        cotangent = in_namespace(cotangent, like)
    c = reshape(cotangent, (-1,))
    lam: list[Any] = [None] * program.n_vars
    for i in range(program.n_vars) if wanted is None else wanted:
        if not program.differentiable(i) or i > system.output:
            continue
        shape, dtype = program.shape(i), program.dtype(i)
        if is_parts_shape(shape) or np.dtype(dtype).kind == "c" or np.dtype(program.dtype(system.output)).kind == "c":
            raise TypeError(
                f"lagrad: the forward_substitution solver on {library} arrays takes real variables of one array "
                f"(z{i + 1} is {'several arrays' if is_parts_shape(shape) else np.dtype(dtype).name}); use "
                f"back_substitution or levels"
            )
        if i in system.implicit:
            raise TypeError(
                f"lagrad: the forward_substitution solver on {library} arrays does not take implicit equations "
                f"(z{i + 1}); use back_substitution"
            )
        m = real_size(shape, dtype)
        parts: list[Any] = []
        for first in range(0, m, CHUNK):
            k = min(CHUNK, m - first)
            rows = np.eye(m, dtype=dtype)[first : first + k].reshape((k, *shape))
            seeds = as_lazy(rows) if xp is None else in_namespace(rows, like)
            t = forward_substitution(
                program,
                tape,
                {i: seeds},
                start=max(i - program.n_inputs + 1, 0),
                outputs=[system.output],
                batched=True,
                diagonals=system.implicit,
            )[system.output]
            parts.append((k, None if t is None else reshape(_plain(t), (k, -1)) @ c))
        if any(p is not None for _, p in parts):  # a chunk that met no output is zeros (Dask takes NumPy's)
            zeros = (lambda k: np.zeros(k)) if xp is None else (lambda k: xp.zeros((k,), device=like.device))
            lam[i] = reshape(concat([zeros(k) if p is None else p for k, p in parts]), shape)
    return lam
