"""The operator layer: the blocks of ``A`` applied through their primitives' rules.

`A` is block upper-triangular: row `i` (a variable), column `k` (an equation),
``A[i, k] = ∂f_k/∂z_i`` above the diagonal. A block is never formed here: it is
applied through its primitive's rules, resolved in one place for every solver:

* `apply_transpose` (``(∂f_k/∂z_i)ᵀ g``, what back-substitution needs) and `apply_block`
  (``Σ_i ∂f_k/∂z_i t_i``, what forward substitution needs), each using the rule of the
  other kind, transposed, where a primitive declares only one;
* the same two batched over a leading axis of k right-hand sides
  (`apply_transpose_batched`, `apply_block_batched`): a primitive's batched rule, its
  elementwise rule by broadcasting, or else a loop over the batch;
* zero means zero: with `guarded`, a multiplier (or tangent) that is zero contributes
  nothing, whatever the partial it meets, so ``where(x > 0, sqrt(x), 0.0)`` has gradient 0
  where ``x <= 0`` rather than ``0 × nan``. Solvers run unguarded first and again guarded
  only if NaN shows in what they return (NaN propagates through every rule, so a result
  without NaN is already the masked one).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core import Trace, registry
from ..core.program import Constant, Parts, is_parts_shape, zeros_of


def vjp_rule(prim: Any, pos: int) -> Any:
    """The transpose-apply rule of `prim` in argument `pos`, or None."""
    return prim.vjps[pos] if pos < len(prim.vjps) else prim.vjp_rule(pos)


def apply_transpose(
    eq: Any, pos: int, values: list[Any], g: Any, shape: tuple[int, ...], *, guarded: bool = True
) -> Any:
    """``(∂f_k/∂z_i)ᵀ g`` for the argument at `pos` of equation `eq`, shaped like z_i, at the
    run whose ``(ans, *args)`` are `values` (``tape.values[k]``).

    `guarded`: entries of `g` that are zero contribute exactly zero, even against an
    infinite or undefined partial (elementwise rules entry by entry, others when all
    of `g` is zero)."""
    prim = eq.primitive
    rule = vjp_rule(prim, pos)
    if rule is None:
        ct = _transposed(jvp_rule(prim, pos), g, shape, eq.dtype, values, eq.params)
        return _masked(g, ct, prim.elementwise and eq.shape == shape) if guarded else ct
    if not guarded:
        ct = rule(g, *values, **eq.params)
    else:
        with np.errstate(invalid="ignore"):  # 0 × inf is masked just below
            ct = _masked(g, rule(g, *values, **eq.params), prim.elementwise)
    if prim.elementwise and ct.shape != shape:
        ct = registry.ops.unbroadcast(ct, shape)
    return ct


def jvp_rule(prim: Any, pos: int) -> Any:
    return prim.jvps[pos] if pos < len(prim.jvps) and prim.jvps[pos] is not None else prim.jvp_rule(pos)


def apply_block(eq: Any, values: list[Any], tangents: list[Any], *, guarded: bool = True) -> Any:
    """``Σ_i ∂f_k/∂z_i t_i`` over the arguments of `eq` that have a tangent (None if none), at
    the run whose ``(ans, *args)`` are `values`.

    `guarded`: zero tangents contribute exactly zero (see `apply_transpose`)."""
    prim = eq.primitive
    if prim.jvp_joint is not None:
        ts = [None] * len(eq.args)
        any_tangent = False
        for pos in eq.diff:
            ts[pos] = tangents[pos]
            any_tangent = any_tangent or tangents[pos] is not None
        if not any_tangent:
            return None
        out = _parts(prim.jvp_joint(ts, *values, **eq.params))
        if guarded and _has_nan(out) and not any(_nonzero(t) for t in ts if t is not None):
            return None
    else:
        out = None
        for pos in eq.diff:
            t = tangents[pos]
            if t is None:
                continue
            rule = jvp_rule(prim, pos)
            if rule is None:
                c = _transposed(vjp_rule(prim, pos), t, eq.shape, eq.dtype, values, eq.params)
                c = _masked(t, c, prim.elementwise and np.shape(_plain(t)) == eq.shape) if guarded else c
            elif not guarded:
                c = _parts(rule(t, *values, **eq.params))
            else:
                with np.errstate(invalid="ignore"):
                    c = _masked(t, _parts(rule(t, *values, **eq.params)), prim.elementwise)
            out = c if out is None else out + c
        if out is None:
            return None
    if out.shape != eq.shape:
        out = registry.ops.broadcast_to(out, eq.shape)
    return out


# ----- the same operators batched over a leading axis of k right-hand sides ---------------


def _batch_size(x: Any) -> int:
    if isinstance(x, Parts):
        return next(p for p in x if p is not None).shape[0]
    return x.shape[0]


def _row(x: Any, b: int) -> Any:
    if isinstance(x, Parts):
        return Parts(None if p is None else p[b] for p in x)
    return x[b]


def _stacked(rows: list[Any]) -> Any:
    if isinstance(rows[0], Parts):
        return Parts(np.stack([r[j] for r in rows]) for j in range(len(rows[0])))
    return np.stack(rows)  # NumPy's dispatch records it for traced values


def apply_transpose_batched(eq: Any, pos: int, values: list[Any], g: Any, shape: Any, *, guarded: bool = False) -> Any:
    """k stacked ``(∂f_k/∂z_i)ᵀ g[b]``: `g` shaped ``(k, *z_k.shape)``, the result ``(k, *shape)``.

    A primitive's batched rule if it has one, its elementwise rule by broadcasting, or else
    the unbatched operator row by row."""
    prim = eq.primitive
    rule = prim.batch_vjp_rule(pos)
    if rule is None and prim.elementwise:
        rule = vjp_rule(prim, pos)
    if rule is None or isinstance(g, Parts) or is_parts_shape(shape):
        return _stacked(
            [apply_transpose(eq, pos, values, _row(g, b), shape, guarded=guarded) for b in range(_batch_size(g))]
        )
    if not guarded:
        ct = rule(g, *values, **eq.params)
    else:
        with np.errstate(invalid="ignore"):
            ct = rule(g, *values, **eq.params)
        if _has_nan(ct):
            if not prim.elementwise:
                rows = [apply_transpose(eq, pos, values, _row(g, b), shape) for b in range(_batch_size(g))]
                return _stacked(rows)
            ct = np.where(g == 0, 0, ct)
    if prim.elementwise and ct.shape[1:] != shape:
        ct = registry.ops.unbroadcast_batched(ct, shape)
    return ct


def apply_block_batched(eq: Any, values: list[Any], tangents: list[Any], *, guarded: bool = False) -> Any:
    """k stacked ``Σ_i ∂f_k/∂z_i t_i[b]``: each tangent shaped ``(k, *z_i.shape)`` (or None)."""
    prim = eq.primitive
    present = [pos for pos in eq.diff if tangents[pos] is not None]
    if not present:
        return None
    k = _batch_size(tangents[present[0]])
    if prim.batch_jvp_joint is not None and not guarded:
        out = prim.batch_jvp_joint([tangents[p] if p in present else None for p in range(len(eq.args))],
                                   *values, **eq.params)  # fmt: skip
        return out if out.shape == (k, *eq.shape) else registry.ops.broadcast_to(out, (k, *eq.shape))
    if prim.jvp_joint is not None or is_parts_shape(eq.shape):
        return _block_rows(eq, values, tangents, present, k, guarded)
    out = None
    for pos in present:
        t = tangents[pos]
        rule = prim.batch_jvps.get(pos)
        if rule is None and prim.elementwise and not isinstance(t, Parts):
            rule = jvp_rule(prim, pos)
            pad = len(eq.shape) - (t.ndim - 1)
            if rule is not None and pad > 0:  # align the argument's axes with the result's
                t = registry.ops.reshape(t, (k,) + (1,) * pad + t.shape[1:])
        if rule is None or isinstance(t, Parts):
            c = _block_rows(eq, values, tangents, [pos], k, guarded)
        elif not guarded:
            c = rule(t, *values, **eq.params)
        else:
            with np.errstate(invalid="ignore"):
                c = rule(t, *values, **eq.params)
            if _has_nan(c):
                c = np.where(t == 0, 0, c) if prim.elementwise else _block_rows(eq, values, tangents, [pos], k, True)
        out = c if out is None else out + c
    if out.shape != (k, *eq.shape):
        out = registry.ops.broadcast_to(out, (k, *eq.shape))
    return out


def _block_rows(eq: Any, values: list[Any], tangents: list[Any], positions: list[int], k: int, guarded: bool) -> Any:
    rows = []
    for b in range(k):
        ts = [_row(t, b) if p in positions and t is not None else None for p, t in enumerate(tangents)]
        out = apply_block(eq, values, ts, guarded=guarded)
        rows.append(zeros_of(eq.shape, eq.dtype) if out is None else out)
    return _stacked(rows)


def _parts(value: Any) -> Any:
    """A tuple of tangents (from a rule of a primitive with several outputs) as Parts."""
    return Parts(value) if type(value) is tuple else value


# ----- zero means zero ------------------------------------------------------------


def _plain(x: Any) -> Any:
    while hasattr(x, "_trace"):  # a traced value (higher order): look at its number
        x = x.value
    return x


def _has_nan(x: Any) -> bool:
    x = _plain(x)
    if isinstance(x, Parts):
        return any(_has_nan(p) for p in x if p is not None)
    a = np.asarray(x)
    return a.dtype.kind in "fc" and bool(np.isnan(a).any())


def _nonzero(x: Any) -> bool:
    x = _plain(x)
    if isinstance(x, Parts):
        return any(_nonzero(p) for p in x if p is not None)
    return bool(np.any(x))


def _masked(g: Any, ct: Any, elementwise: bool) -> Any:
    """A rule's result `ct` for multiplier (or tangent) `g`, with the contributions of
    g's zero entries made exactly zero where they came out NaN. An elementwise rule's
    entries are masked one by one (traceably, so higher derivatives keep the mask);
    any other rule only when all of `g` is zero."""
    if not _has_nan(ct):
        return ct
    if elementwise:
        return np.where(g == 0, 0, ct)  # NumPy's dispatch records it for traced values
    return _zero_if_all_zero(g, ct)


def _zero_if_all_zero(g: Any, ct: Any) -> Any:
    if _nonzero(g) or not _has_nan(ct):
        return ct
    ct = _plain(ct)
    return zeros_of(ct.shape, ct.dtype)


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
    program, tape = trace.finish([x], list(y) if several else [y])
    seeds: dict[int, Any] = {}
    for out, part in zip(program.outputs, v if several else (v,)):
        if not isinstance(out, Constant) and part is not None:
            seeds[out] = part if out not in seeds else seeds[out] + part
    from .backward import back_substitution  # the transposed map is itself back-substituted

    lam = back_substitution(program, tape, seeds)
    return lam[0] if lam[0] is not None else zeros_of(in_shape, dtype)
