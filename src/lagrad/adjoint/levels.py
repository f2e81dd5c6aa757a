"""The `levels` method: back-substitution by level schedule, each level's equations in a thread pool.

``λ_i = Σ_k (∂f_k/∂z_i)ᵀ λ_k`` needs the multipliers of every equation reading ``z_i``.
An equation's level is 0 if no later equation reads its variable, else one more than the
highest level among those readers; the equations of one level depend on none of each
other, so their transpose-applies run at the same time (NumPy releases the GIL in its
large kernels), and their contributions are added up before the next level starts.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from ..core import Program, Tape, registry
from ..lazy import any_lazy, as_lazy, library_errors
from .operators import _has_nan, apply_transpose

#: Threads for the `levels` method (None: as many as the machine has cores).
WORKERS: int | None = None


def schedule(program: Program) -> list[list[int]]:
    """Variables (0-based) grouped by level: ``level(i) = 1 + max level(k)`` over the
    equations `k` that read ``z_i``, 0 where none does. The multipliers of one level depend on
    none of each other."""
    n, m = program.n_vars, program.n_inputs
    level = [0] * n
    readers = program.consumers()
    for i in reversed(range(n)):  # a reader always comes after what it reads
        if readers[i]:
            level[i] = 1 + max(level[m + k] for k, _ in readers[i])
    out: list[list[int]] = [[] for _ in range(max(level, default=-1) + 1)]
    for i, lv in enumerate(level):
        out[lv].append(i)
    return out


def solve(
    system: Any, wanted: list[int] | None = None, *, workers: int | None = None, mask: Any = True, max_size: Any = None
) -> list[Any]:
    """Every λ, level by level from the output's, each level's blocks applied concurrently.
    On Dask nothing is looked at: one sweep with the masks in the graph, under `mask` (a lazy
    boolean: the output is not NaN), as back-substitution does."""
    program = system.program
    lam: list[Any] = [None] * program.n_vars
    if system.output is None:
        return lam
    lazy = any_lazy(system.tape.outputs)
    lam[system.output] = as_lazy(system.cotangent) if lazy else system.cotangent
    with np.errstate(invalid="ignore"), ThreadPoolExecutor(workers or WORKERS) as pool:
        if lazy:
            with library_errors(system.tape.outputs, "dask"):
                return _sweep(program, system.tape, lam, pool, mask, system.implicit)
        for guarded in (False,) if mask is False else (False, True):
            result = _sweep(program, system.tape, list(lam), pool, guarded, system.implicit)
            if not any(_has_nan(v) for v in result if v is not None):
                break
    return result


def _sweep(
    program: Program, tape: Tape, lam: list[Any], pool: ThreadPoolExecutor, guarded: Any, diagonals: dict[int, Any]
) -> list[Any]:
    shapes = program.shapes()
    for members in schedule(program):
        tasks = []
        for k in members:
            if k < program.n_inputs or lam[k] is None:
                continue
            eq = program.equation(k)
            values = tape.values[k - program.n_inputs]
            g = lam[k]
            if program.has_complex and eq.dtype.kind == "f" and g.dtype.kind == "c":
                g = lam[k] = registry.ops.real(g)  # a real variable's multiplier is real
            if k in diagonals:
                g = lam[k] = diagonals[k].solve(g)
            for pos in eq.diff:
                i = eq.args[pos]
                tasks.append((i, pool.submit(apply_transpose, eq, pos, values, g, shapes[i], guarded=guarded)))
        for i, future in tasks:  # added up in a fixed order: the result does not depend on timing
            ct = future.result()
            lam[i] = ct if lam[i] is None else lam[i] + ct
    return lam
