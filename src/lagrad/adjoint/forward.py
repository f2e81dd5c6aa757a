"""Forward substitution: the transposed system solved from the top down for given input
tangents, which is tangent mode (jvp), on the same blocks as back-substitution."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core import Program
from ..core.program import is_parts_shape, real_size, unflat
from .operators import _has_nan, _plain, apply_block, apply_block_batched


def forward_substitution(
    program: Program,
    tangents: dict[int, Any],
    *,
    start: int = 0,
    outputs: list[int] | None = None,
    batched: bool = False,
) -> list[Any]:
    """Tangents of every variable from the given ones, top row down:
    ``t_k = Σ_{i∈a(k)} ∂f_k/∂z_i t_i`` (None for zero). `start` skips equations
    that cannot depend on the seeded variables. A zero tangent contributes nothing
    (see the module docstring): the tangents of `outputs` (default: every variable)
    are the ones looked at for NaN. `batched`: every tangent has a leading axis of k."""
    with np.errstate(invalid="ignore"):
        t = _forward_substitution(program, tangents, start, False, batched)
        wanted = (t[o] for o in outputs) if outputs is not None else iter(t)
        if any(_has_nan(v) for v in wanted if v is not None):
            t = _forward_substitution(program, tangents, start, True, batched)
    return t


def _forward_substitution(
    program: Program, tangents: dict[int, Any], start: int, guarded: bool, batched: bool
) -> list[Any]:
    t: list[Any] = [None] * program.n_vars
    for i, v in tangents.items():
        t[i] = v
    apply = apply_block_batched if batched else apply_block
    for eq in program.equations[start:]:
        if not eq.diff:
            continue
        out = apply(eq, [t[a] if a >= 0 else None for a in eq.args], guarded=guarded)
        if out is not None:
            t[eq.out] = out
    return t


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
        lam_i = np.zeros(m)
        for first in range(0, m, CHUNK):
            rows = np.eye(m)[first : first + CHUNK]
            if is_parts_shape(shape):  # several arrays: one direction at a time
                for s, e in enumerate(rows):
                    t = forward_substitution(program, {i: unflat(e, shape, dtype)}, start=start)[system.output]
                    if t is not None:
                        lam_i[first + s] = np.real(np.sum(np.ravel(_plain(t)) * c))
                continue
            seeds = np.stack([unflat(e, shape, dtype) for e in rows])
            t = forward_substitution(program, {i: seeds}, start=start, batched=True)[system.output]
            if t is not None:  # the derivative of Re Σ cotangent · output, per direction
                lam_i[first : first + len(rows)] = np.real(np.reshape(_plain(t), (len(rows), -1)) @ c)
        lam[i] = unflat(lam_i, shape, dtype, covector=True)
    return lam
