"""Back-substitution: ``A λ = b`` solved from the last row up, which is reverse mode.

The one back-substitution of lagrad: `grad`, `vjp`, the full Jacobian in reverse mode
(a batch of right-hand sides) and the system's ``back_substitution`` method all call it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..core import Program, Tape, Var, registry
from ..core.backend import is_lazy, numpy_dtype
from ..lazy import any_lazy, as_lazy, library_errors
from .operators import _has_nan, implicit_diagonals, operator

ndarray, add = np.ndarray, np.add


def back_substitution(
    program: Program,
    tape: Tape,
    seeds: dict[int, Any],
    *,
    keep_all: bool = False,
    batched: bool = False,
    mask: Any = True,
    diagonals: Mapping[int, Any] | None = None,
    replay: Any = None,
) -> list[Any]:
    """λ for every variable, from ``λ_out = seed`` up: ``λ_i = Σ_{k∈b(i)} (∂f_k/∂z_i)ᵀ λ_k``,
    the program linearised at the run `tape` (neither is changed).

    None stands for a zero multiplier. Unless `keep_all`, a multiplier is dropped
    as soon as its equation's rules have run (the inputs' are kept). A zero multiplier
    contributes nothing (see `operators`).
    `batched`: every seed has a leading axis of k cotangents, solved for together.
    `mask=False` turns zero means zero off: for an output that is itself NaN, whose
    gradient must not come back looking clean. On lazy arrays (Dask) nothing is looked at:
    one guarded sweep builds the masks into the graph, and `mask` may be a lazy boolean
    (the output is not NaN) under which they apply.
    `diagonals`: the equations whose diagonal block is not ``-I`` (`AdjointSystem.implicit`);
    λ_k is then ``diagonal.solve`` of what the blocks send; by default, the program's own
    (`operators.implicit_diagonals`).
    `replay`: the run is this sweep's alone (a one-shot gradient): the sweep gives up each
    equation's values once its rules have run, so what only later equations read (a loss's
    residual) is freed before an earlier one runs a long sweep of its own (a structured loop);
    a second, masked sweep runs on the Tape ``replay()`` makes.
    """
    if diagonals is None and program.implicit:
        diagonals = implicit_diagonals(program, tape)
    if mask is not False and (mask is not True or any_lazy(tape.outputs)):  # Dask: one sweep, masked lazily
        seeds = {i: as_lazy(seed) for i, seed in seeds.items()}  # a NumPy seed would broadcast to full size here
        with np.errstate(invalid="ignore"), library_errors(tape.outputs, "dask"):
            return _back_substitution(program, tape, seeds, keep_all, mask, batched, diagonals)
    with np.errstate(invalid="ignore"):  # a 0 × inf that matters shows as NaN in the result
        out = tape.outputs  # lagrad.compile's recording may write a traced loop's steps out (`sweep`)
        sweep = out._trace.sweep if type(out) is Var and not (keep_all or batched or diagonals or replay) else None
        with library_errors(tape.outputs):  # on array-api-strict or CuPy: the rule and the library named
            if sweep is not None:
                lam = sweep(program, tape, seeds, _back_substitution)
            else:
                lam = _back_substitution(program, tape, seeds, keep_all, False, batched, diagonals, replay is not None)
        returned = lam if keep_all else lam[: program.n_inputs]  # the others were dropped on the way
        if mask is False:
            return lam
        if mask is not True or any(is_lazy(v) for v in returned if v is not None):
            guarded = mask  # lazily masked
        elif any(_has_nan(v) for v in returned if v is not None):
            guarded = True
        else:
            return lam
        if replay is not None:  # the first sweep gave the values up: the run again, for the second
            tape = replay()
            diagonals = implicit_diagonals(program, tape) if program.implicit else None
        return _back_substitution(program, tape, seeds, keep_all, guarded, batched, diagonals)


def _back_substitution(
    program: Program,
    tape: Tape,
    seeds: dict[int, Any],
    keep_all: bool,
    guarded: Any,
    batched: bool,
    diagonals: Mapping[int, Any] | None,
    release: bool = False,
    lam: list[Any] | None = None,
    span: tuple[int, int] | None = None,
) -> list[Any]:
    """One sweep of back-substitution: the hot path of every gradient.

    A multiplier this sweep made by adding two NumPy arrays is its own (`owned`): later
    terms of the same shape and dtype are added into it in place rather than into a new
    array. The seeds are the caller's, and a rule's result may be its argument or a view of
    it, so neither is ever written into here; a second term is added unnamed, a temporary that
    NumPy may reuse for the sum (large and held nowhere else). The sweep holds the seeds only
    until they are in `lam`: a caller that passes a dict it keeps no reference to has each
    seed freed once its equation has run. With `release` it empties the run's values as it
    walks them. Given `lam` (the multipliers an earlier sweep left) and `span`, the sweep goes
    on through equations ``span[0] <= k < span[1]`` alone."""
    if lam is None:
        lam = [None] * program.n_vars
        for i, seed in seeds.items():
            lam[i] = seed if lam[i] is None else lam[i] + seed
    seeds = seed = None  # type: ignore[assignment]
    owned: set[int] = set()
    shapes = program.shapes()
    has_complex = program.has_complex
    equations, runs = program.equations, tape.values
    if span is not None:
        equations, runs = equations[span[0] : span[1]], runs[span[0] : span[1]]
    walk = _given_up(runs) if release else reversed(runs)
    for eq, values in zip(reversed(equations), walk):
        g = lam[eq.out]
        if g is None:
            continue
        if has_complex and eq.dtype.kind == "f" and numpy_dtype(g.dtype).kind == "c":
            g = registry.ops.real(g)  # a real variable's multiplier is real
            if keep_all:
                lam[eq.out] = g
        if diagonals and eq.out in diagonals:  # explicit equations (-I) skip this
            d = diagonals[eq.out]
            g = lam[eq.out] = d.solve_batched(g) if batched else d.solve(g)
        if not keep_all:
            lam[eq.out] = None
        prim = eq.primitive
        if release and guarded is False and prim.takes_seed:  # the rule may free it once it is used
            g = Handed((g,))
        ops = prim.operators
        for pos in eq.diff:
            i = eq.args[pos]
            op = ops.get(pos) or operator(prim, pos)
            transpose = op.transpose_batched if batched else op.transpose
            prev = lam[i]
            if prev is None:
                lam[i] = transpose(g, values, eq.params, shapes[i], eq.dtype, guarded)
            elif i not in owned:  # the term is a temporary here: NumPy may add prev into it in place
                lam[i] = total = prev + transpose(g, values, eq.params, shapes[i], eq.dtype, guarded)
                if type(total) is ndarray:
                    owned.add(i)
            else:
                ct = transpose(g, values, eq.params, shapes[i], eq.dtype, guarded)
                if type(prev) is type(ct) is ndarray and ct.shape == prev.shape and ct.dtype == prev.dtype:
                    add(prev, ct, out=prev)
                else:
                    lam[i] = prev + ct
            prev = ct = total = None  # the terms go now, not when the next rule has run
    return lam


class Handed(list):
    """A multiplier handed over to the rules of a primitive that asks for it (`takes_seed`: a
    structured loop) by a sweep that keeps no other reference: the first rule takes it out, so
    it can be freed once the rule's own sweep has used it. The sweep is then unguarded and the
    run its last: where NaN shows, the second, masked sweep passes the multiplier itself."""

    __slots__ = ()


def _given_up(values: list[Any]) -> Any:
    """A run's values from the last equation's up, each removed from the run as it is reached."""
    while values:
        yield values.pop()


def solve(system: Any, wanted: list[int] | None = None, *, mask: Any = True, max_size: int | None = None) -> list[Any]:
    """The `back_substitution` method of an AdjointSystem: every λ in one sweep (`mask` as for
    `back_substitution`; A is never formed, so any `max_size` holds)."""
    seeds = {} if system.output is None else {system.output: system.cotangent}
    return back_substitution(system.program, system.tape, seeds, keep_all=True, mask=mask, diagonals=system.implicit)
