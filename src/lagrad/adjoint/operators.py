"""The operator layer: the blocks of ``A`` applied through their primitives' rules.

A block ``A[i, k] = ∂f_k/∂z_i`` is never formed here: it is applied through an `Operator`, one
per (primitive, argument position), into which the declared rules (`Primitive.rules`) are
resolved once, again after a rule is redeclared: `transpose` (what back-substitution needs) and
`apply` (what forward substitution needs), each the other kind's rule transposed where a
primitive declares only one, both batched over a leading axis of k right-hand sides (a batched
rule, an elementwise rule by broadcasting, else a loop over the batch); and zero means zero
(DESIGN.md, "NaN and 0 × ∞"), with `guarded`: a lazy boolean on Dask, the condition under which
to mask, where looking for NaN would compute the graph.

`apply_transpose`, `apply_block` and their batched forms apply one equation's blocks with one
run's forward `values` (``(ans, *args)``, as kept).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ..core import Trace, registry
from ..core.backend import is_lazy, namespace_of, numpy_dtype, where
from ..core.program import Constant, Parts, is_parts_shape, zeros_of
from ..lazy import fixed_partial, masked, rule_blocks


class Operator:
    """``∂f/∂x`` of a primitive `f` in its argument at `pos`, with its rules resolved.

    Every method takes the forward `values` ``(ans, *args)`` and static `params` of one
    call, `shape`/`dtype` of the other side (the argument's for `transpose`, the result's
    for `apply`), and `guarded` (zero means zero)."""

    __slots__ = ("primitive", "pos", "elementwise", "vjp", "jvp", "batch_vjp", "batch_jvp", "broadcasts", "parts",
                 "rule_reads")  # fmt: skip

    def __init__(self, prim: Any, pos: int) -> None:
        self.primitive, self.pos, self.elementwise = prim, pos, prim.elementwise
        (self.vjp, vjp_reads), (self.jvp, jvp_reads) = prim.rule("vjp", pos), prim.rule("jvp", pos)
        self.rule_reads = (vjp_reads, jvp_reads)  # a rule that is None: the other kind, transposed
        batch_vjp, batch_jvp = prim.rule("batch_vjp", pos)[0], prim.rule("batch_jvp", pos)[0]
        self.broadcasts = batch_jvp is None and self.elementwise and self.jvp is not None
        self.batch_jvp = self.jvp if self.broadcasts else batch_jvp
        self.batch_vjp = self.vjp if batch_vjp is None and self.elementwise else batch_vjp
        self.parts = prim.batches_parts

    def transpose(self, g: Any, values: list[Any], params: dict[str, Any], shape: Any, dtype: Any,
                  guarded: bool = False) -> Any:  # fmt: skip
        """``(∂f/∂x)ᵀ g``, shaped like x (`shape`). `guarded`: entries of `g` that are zero
        contribute exactly zero, even against an infinite or undefined partial (elementwise
        rules entry by entry, others when all of `g` is zero)."""
        rule = self.vjp
        if rule is None:
            ct = _transposed(self.jvp, g, shape, dtype, values, params)
            if guarded is False:
                return ct
            return _masked(g, ct, self.elementwise and np.shape(_plain(g)) == shape, guarded)
        if guarded is False:
            ct = rule(g, *values, **params)
        else:
            with np.errstate(invalid="ignore"):  # 0 × inf is masked just below
                ct = self._guarded(0, g, values, params, guarded)
        if ct.shape != shape:
            if not self.elementwise:
                raise _wrong_shape(self, "vjp", ct.shape, shape)
            ct = registry.ops.unbroadcast(ct, shape)
        return ct

    def apply(self, t: Any, values: list[Any], params: dict[str, Any], shape: Any, dtype: Any,
              guarded: bool = False) -> Any:  # fmt: skip
        """``∂f/∂x t``, shaped like f's result (`shape`) or broadcastable to it."""
        rule = self.jvp
        if rule is None:
            c = _transposed(self.vjp, t, shape, dtype, values, params)
            return c if guarded is False else _masked(t, c, self.elementwise and np.shape(_plain(t)) == shape, guarded)
        if guarded is False:
            return _parts(rule(t, *values, **params))
        with np.errstate(invalid="ignore"):
            return self._guarded(1, t, values, params, guarded)

    def _guarded(self, kind: int, g: Any, values: list[Any], params: dict[str, Any], guarded: Any) -> Any:
        """The vjp (`kind` 0) or jvp (1) rule's result for `g`, zero means zero applied. On Dask an
        elementwise rule runs block by block with its mask (`lazy.rule_blocks`), and a rule whose
        partial is fixed (`lazy.fixed_partial`) needs no mask."""
        rule, reads = (self.vjp, self.jvp)[kind], self.rule_reads[kind]
        if self.elementwise and is_lazy(g) and not hasattr(g, "_trace"):
            if fixed_partial(reads, values, params):
                return _parts(rule(g, *values, **params))
            ct = rule_blocks(
                rule, g, values, params, guarded, f"{self.primitive.name}-{('vjp', 'jvp')[kind]}{self.pos}"
            )
            if ct is not None:
                return ct
        return _masked(g, _parts(rule(g, *values, **params)), self.elementwise, guarded, (reads, values, params))

    def transpose_batched(self, g: Any, values: list[Any], params: dict[str, Any], shape: Any, dtype: Any,
                          guarded: bool = False) -> Any:  # fmt: skip
        """k stacked ``(∂f/∂x)ᵀ g[b]``: `g` shaped ``(k, *result shape)``, the result ``(k, *shape)``."""
        rule = self.batch_vjp
        if rule is None or (not self.parts and (isinstance(g, Parts) or is_parts_shape(shape))):
            return _stacked([self.transpose(r, values, params, shape, dtype, guarded) for r in _rows(g)])
        if guarded is False:
            ct = rule(g, *values, **params)
        else:
            with np.errstate(invalid="ignore"):
                ct = rule(g, *values, **params)
            if is_lazy(ct) or _has_nan(ct):
                if not self.elementwise:
                    return _stacked([self.transpose(r, values, params, shape, dtype, guarded) for r in _rows(g)])
                ct = _masked(g, ct, True, guarded)
        if self.elementwise and ct.shape[1:] != shape:
            ct = registry.ops.unbroadcast_batched(ct, shape)
        return ct

    def apply_batched(self, t: Any, values: list[Any], params: dict[str, Any], shape: Any, dtype: Any,
                      guarded: bool = False) -> Any:  # fmt: skip
        """k stacked ``∂f/∂x t[b]``: `t` shaped ``(k, *x's shape)``, the result ``(k, *shape)``
        or broadcastable to it."""
        rule = self.batch_jvp
        if rule is not None and not isinstance(t, Parts):
            if self.broadcasts and len(shape) > t.ndim - 1:  # align x's axes with the result's
                t = registry.ops.reshape(t, (t.shape[0],) + (1,) * (len(shape) - t.ndim + 1) + t.shape[1:])
            if guarded is False:
                return rule(t, *values, **params)
            with np.errstate(invalid="ignore"):
                c = rule(t, *values, **params)
            if not is_lazy(c) and not _has_nan(c):
                return c
            if self.elementwise:
                return _masked(t, c, True, guarded)
        rows = [self.apply(r, values, params, shape, dtype, guarded) for r in _rows(t)]
        return _stacked([r if r.shape == shape else registry.ops.broadcast_to(r, shape) for r in rows])

    def __repr__(self) -> str:
        return f"<Operator ∂{self.primitive.name}/∂x{self.pos}>"


def _wrong_shape(op: Operator, kind: str, got: Any, want: Any) -> ValueError:
    return ValueError(
        f"lagrad: the {kind} rule of {op.primitive.name} for argument {op.pos} returned shape {got} where the "
        f"argument has shape {want}. A vjp rule returns the argument's share of the multiplier shaped like the "
        f"argument: sum over the axes it was broadcast along (or declare the primitive elementwise)."
    )


def operator(prim: Any, pos: int) -> Operator:
    """The resolved operator of `prim` in argument `pos` (made once, kept on the primitive)."""
    op = prim.operators.get(pos)
    if op is None:
        op = prim.operators[pos] = Operator(prim, pos)
    return op


# ----- one equation's blocks, with one run's values ------------------------------------


def apply_transpose(eq: Any, pos: int, values: list[Any], g: Any, shape: Any, *, guarded: bool = True) -> Any:
    """``(∂f_k/∂z_i)ᵀ g`` for the argument at `pos` of equation `eq`, shaped like z_i."""
    return operator(eq.primitive, pos).transpose(g, values, eq.params, shape, eq.dtype, guarded)


def apply_transpose_batched(eq: Any, pos: int, values: list[Any], g: Any, shape: Any, *, guarded: bool = False) -> Any:
    """k stacked ``(∂f_k/∂z_i)ᵀ g[b]``: `g` shaped ``(k, *z_k.shape)``, the result ``(k, *shape)``."""
    return operator(eq.primitive, pos).transpose_batched(g, values, eq.params, shape, eq.dtype, guarded)


def _add(a: Any, b: Any) -> Any:
    """``a + b``, a traced `b` written first when `a` is another library's plain array: their
    operators take no traced value (array-api-strict's raise rather than defer to it)."""
    return a + b if type(a) is np.ndarray or not hasattr(b, "_trace") or hasattr(a, "_trace") else b + a


def apply_block(eq: Any, values: list[Any], tangents: list[Any], *, guarded: bool = True) -> Any:
    """``Σ_i ∂f_k/∂z_i t_i`` over the arguments of `eq` that have a tangent (None if none).

    A primitive with a joint rule (all tangents at once) is applied through it."""
    prim = eq.primitive
    joint = prim.rules.get(("jvp", "joint"))
    if joint is not None:
        ts = [tangents[p] if p in eq.diff else None for p in range(len(eq.args))]
        if all(t is None for t in ts):
            return None
        out = _parts(joint[0](ts, *values, **eq.params))
        if guarded is not False and is_lazy(out) and not isinstance(out, Parts):
            nonzero = [np.any(t != 0) for t in ts if t is not None]
            zero = ~functools.reduce(np.logical_or, nonzero) & np.isnan(out)
            out = np.where(_lazy_when(zero, guarded), 0, out)
        elif guarded is not False and _has_nan(out) and not any(_nonzero(t) for t in ts if t is not None):
            return None
    else:
        out = None
        for pos in eq.diff:
            t = tangents[pos]
            if t is not None:
                c = operator(prim, pos).apply(t, values, eq.params, eq.shape, eq.dtype, guarded)
                out = c if out is None else _add(out, c)
        if out is None:
            return None
    return out if out.shape == eq.shape else registry.ops.broadcast_to(out, eq.shape)


def apply_block_batched(eq: Any, values: list[Any], tangents: list[Any], *, guarded: bool = False) -> Any:
    """k stacked ``Σ_i ∂f_k/∂z_i t_i[b]``: each tangent shaped ``(k, *z_i.shape)`` (or None)."""
    prim = eq.primitive
    present = [pos for pos in eq.diff if tangents[pos] is not None]
    if not present:
        return None
    k = _batch_size(tangents[present[0]])
    joint = prim.rules.get(("batch_jvp", "joint"))
    if joint is not None and guarded is False:
        out = joint[0]([tangents[p] if p in present else None for p in range(len(eq.args))], *values, **eq.params)
    elif ("jvp", "joint") in prim.rules or is_parts_shape(eq.shape):  # one row at a time
        rows = [apply_block(eq, values, [None if t is None else _row(t, b) for t in tangents], guarded=guarded)
                for b in range(k)]  # fmt: skip
        return _stacked([zeros_of(eq.shape, eq.dtype) if r is None else r for r in rows])
    else:
        out = None
        for pos in present:
            c = operator(prim, pos).apply_batched(tangents[pos], values, eq.params, eq.shape, eq.dtype, guarded)
            out = c if out is None else _add(out, c)
    if isinstance(out, Parts) or out.shape == (k, *eq.shape):  # several arrays: the joint rule shapes each
        return out
    return registry.ops.broadcast_to(out, (k, *eq.shape))


# ----- batches: a leading axis of k ------------------------------------------------


def _batch_size(x: Any) -> int:
    if isinstance(x, Parts):
        return next(p for p in x if p is not None).shape[0]
    return x.shape[0]


def _row(x: Any, b: int) -> Any:
    if isinstance(x, Parts):
        return Parts(None if p is None else p[b, ...] for p in x)
    return x[b, ...]  # the Array API standard indexes every axis (array-api-strict, CuPy)


def _rows(x: Any) -> list[Any]:
    return [_row(x, b) for b in range(_batch_size(x))]


def _stacked(rows: list[Any]) -> Any:
    if isinstance(rows[0], Parts):
        return Parts(_stacked([r[j] for r in rows]) for j in range(len(rows[0])))  # each part in its library
    if type(rows[0]) is not np.ndarray and namespace_of(rows[0]) is not None:  # array-api-strict, CuPy
        return registry.functions[np.stack](rows)
    return np.stack(rows)  # NumPy's dispatch records it for traced values


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
    if type(x) is not np.ndarray and namespace_of(x) is not None:  # array-api-strict, CuPy
        return numpy_dtype(x.dtype).kind in "fc" and bool(namespace_of(x).any(namespace_of(x).isnan(x)))
    a = np.asarray(x)
    return a.dtype.kind in "fc" and bool(np.isnan(a).any())


def _nonzero(x: Any) -> bool:
    x = _plain(x)
    if isinstance(x, Parts):
        return any(_nonzero(p) for p in x if p is not None)
    if type(x) is not np.ndarray and namespace_of(x) is not None:
        return bool(namespace_of(x).any(x != 0))
    return bool(np.any(x))


def _masked(g: Any, ct: Any, elementwise: bool, when: Any = True, reads: Any = None) -> Any:
    """A rule's result `ct` for multiplier (or tangent) `g`, the contributions of g's zero
    entries made exactly zero where they came out NaN: an elementwise rule's entry by entry,
    any other's when all of `g` is zero. On lazy arrays the mask goes into the graph whether
    or not NaN comes out, under the lazy condition `when` (True: always); none for a rule
    whose partial is fixed (`reads`: what the rule reads, the values and params)."""
    if is_lazy(ct) or is_lazy(g):
        if isinstance(ct, Parts):
            return Parts(None if p is None else _masked(g, p, elementwise, when, reads) for p in ct)
        if not hasattr(g, "_trace") and not hasattr(ct, "_trace") and not isinstance(g, Parts):  # plain Dask arrays
            return ct if reads is not None and fixed_partial(*reads) else masked(g, ct, elementwise, when)
        zero = ((g == 0) if elementwise else ~np.any(g != 0)) & np.isnan(ct)  # elsewhere ct's own derivative
        return np.where(_lazy_when(zero, when), 0, ct)
    if not _has_nan(ct):
        return ct
    if elementwise:  # only the NaN entries: elsewhere a higher derivative sees the rule's own
        return where((g == 0) & np.isnan(ct), 0, ct)  # NumPy's dispatch records it for traced values
    if _nonzero(g):
        return ct
    if hasattr(ct, "_trace") or hasattr(g, "_trace"):  # zero, and its derivative in g the rule's own
        return where(np.isnan(ct), 0, ct)
    ct = _plain(ct)
    return zeros_of(ct.shape, ct.dtype)


def _lazy_when(condition: Any, when: Any) -> Any:
    return condition if when is True else condition & when


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


def implicit_diagonals(program: Any, tape: Any) -> dict[int, Any]:
    """The diagonal blocks other than ``-I`` of a Program at one run (its `implicit`
    equations, whose primitive makes them: ``primitive.diagonal(equation, values)``), by the
    variable each defines: what every solver reads for ``A[k, k]``."""
    return {
        program.equations[j].out: program.equations[j].primitive.diagonal(program.equations[j], tape.values[j])
        for j in program.implicit
    }
