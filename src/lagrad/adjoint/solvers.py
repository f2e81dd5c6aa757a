"""Solvers for the adjoint system ``A λ = b`` of a Program.

`A` is block upper-triangular: row `i` (a variable), column `k` (an
equation), ``A[i, k] = ∂f_k/∂z_i`` above the diagonal and ``-1`` on it.

* `back_substitution` solves from the last row up: reverse mode.
* `forward_substitution` solves the transposed system from the top down for
  given input tangents: tangent mode (jvp), on the same blocks.
* the sparse solver (in `system`) assembles the scalar-level matrix and hands
  it to SciPy's triangular solve.

The blocks are never formed here: a block is applied through its primitive's
rules (transpose-apply for back-substitution, apply for forward substitution).
"""

from __future__ import annotations

from typing import Any

from ..core import Program, Trace, registry
from ..core.program import Constant, Parts, zeros_of


def vjp_rule(prim: Any, pos: int) -> Any:
    """The transpose-apply rule of `prim` in argument `pos`, or None."""
    return prim.vjps[pos] if pos < len(prim.vjps) else prim.vjp_rule(pos)


def apply_transpose(eq: Any, pos: int, g: Any, shape: tuple[int, ...]) -> Any:
    """``(∂f_k/∂z_i)ᵀ g`` for the argument at `pos` of equation `eq`, shaped like z_i."""
    prim = eq.primitive
    rule = vjp_rule(prim, pos)
    if rule is None:
        return _transposed(jvp_rule(prim, pos), g, shape, eq.dtype, eq.values, eq.params)
    ct = rule(g, *eq.values, **eq.params)
    if prim.elementwise and ct.shape != shape:
        ct = registry.helpers["unbroadcast"](ct, shape)
    return ct


def jvp_rule(prim: Any, pos: int) -> Any:
    return prim.jvps[pos] if pos < len(prim.jvps) and prim.jvps[pos] is not None else prim.jvp_rule(pos)


def apply_block(eq: Any, tangents: list[Any]) -> Any:
    """``Σ_i ∂f_k/∂z_i t_i`` over the arguments of `eq` that have a tangent (None if none)."""
    prim = eq.primitive
    if prim.jvp_joint is not None:
        ts = [None] * len(eq.args)
        any_tangent = False
        for pos in eq.diff:
            ts[pos] = tangents[pos]
            any_tangent = any_tangent or tangents[pos] is not None
        if not any_tangent:
            return None
        out = _parts(prim.jvp_joint(ts, *eq.values, **eq.params))
    else:
        out = None
        for pos in eq.diff:
            t = tangents[pos]
            if t is None:
                continue
            rule = jvp_rule(prim, pos)
            if rule is None:
                c = _transposed(vjp_rule(prim, pos), t, eq.shape, eq.dtype, eq.values, eq.params)
            else:
                c = _parts(rule(t, *eq.values, **eq.params))
            out = c if out is None else out + c
        if out is None:
            return None
    if out.shape != eq.shape:
        out = registry.helpers["broadcast_to"](out, eq.shape)
    return out


def _parts(value: Any) -> Any:
    """A tuple of tangents (from a rule of a primitive with several outputs) as Parts."""
    return Parts(value) if type(value) is tuple else value


def back_substitution(
    program: Program,
    seeds: dict[int, Any],
    *,
    keep_all: bool = False,
    release: bool = False,
) -> list[Any]:
    """λ for every variable, from ``λ_out = seed`` up: ``λ_i = Σ_{k∈b(i)} (∂f_k/∂z_i)ᵀ λ_k``.

    None stands for a zero multiplier. Unless `keep_all`, a multiplier is dropped
    as soon as its equation's rules have run (the inputs' are kept); with
    `release`, so are the equation's forward values (a one-shot gradient).
    """
    lam: list[Any] = [None] * program.n_vars
    for i, seed in seeds.items():
        lam[i] = seed if lam[i] is None else lam[i] + seed
    shapes = program.shapes()
    unbroadcast = registry.helpers["unbroadcast"]
    has_complex = program.has_complex
    for eq in reversed(program.equations):
        g = lam[eq.out]
        if g is None:
            continue
        if has_complex and eq.dtype.kind == "f" and g.dtype.kind == "c":
            g = registry.helpers["real"](g)  # a real variable's multiplier is real
            if keep_all:
                lam[eq.out] = g
        if not keep_all:
            lam[eq.out] = None
        prim = eq.primitive
        vjps = prim.vjps
        values = eq.values
        params = eq.params
        for pos in eq.diff:
            i = eq.args[pos]
            rule = vjps[pos] if pos < len(vjps) else prim.vjp_rule(pos)
            if rule is None:
                ct = apply_transpose(eq, pos, g, shapes[i])
            else:
                ct = rule(g, *values, **params)
                if prim.elementwise and ct.shape != shapes[i]:
                    ct = unbroadcast(ct, shapes[i])
            prev = lam[i]
            lam[i] = ct if prev is None else prev + ct
        if release:
            eq.values = None
    return lam


def forward_substitution(program: Program, tangents: dict[int, Any], *, start: int = 0) -> list[Any]:
    """Tangents of every variable from the given ones, top row down:
    ``t_k = Σ_{i∈a(k)} ∂f_k/∂z_i t_i`` (None for zero). `start` skips equations
    that cannot depend on the seeded variables."""
    t: list[Any] = [None] * program.n_vars
    for i, v in tangents.items():
        t[i] = v
    for eq in program.equations[start:]:
        if not eq.diff:
            continue
        out = apply_block(eq, [t[a] if a >= 0 else None for a in eq.args])
        if out is not None:
            t[eq.out] = out
    return t


def _transposed(
    rule: Any, v: Any, in_shape: tuple[int, ...], dtype: Any, values: list[Any], params: dict[str, Any]
) -> Any:
    """Apply the transpose of the linear map ``x ↦ rule(x, *values)`` to `v`.

    A primitive declared with only one kind of rule gets the other this way:
    the map is traced and back-substituted, so it works at any order.
    """
    trace = Trace()
    x = trace.new_input(zeros_of(in_shape, dtype))
    try:
        y = rule(x, *values, **params)
    finally:
        trace.active = False
    several = isinstance(y, tuple)  # a primitive with several outputs: one part each
    program = trace.finish([x], list(y) if several else [y])
    seeds: dict[int, Any] = {}
    for out, part in zip(program.outputs, v if several else (v,)):
        if not isinstance(out, Constant) and part is not None:
            seeds[out] = part if out not in seeds else seeds[out] + part
    lam = back_substitution(program, seeds)
    return lam[0] if lam[0] is not None else zeros_of(in_shape, dtype)
