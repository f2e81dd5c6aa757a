"""Reductions and scans: sum, mean, prod, max, min, var, std, average, ptp, the
nan-reductions, cumsum and cumprod, over an axis (or several), with keepdims.

The transpose of a reduction spreads the multiplier back over the reduced
axes; ``max``/``min`` split it evenly between ties, and ``prod`` uses the
product of the other entries, so it stays exact where some entry is zero.
``cumsum``'s transpose is a cumulative sum run backwards; ``cumprod``'s is a
backward linear recurrence (`linear_scan`), so it is exact at zeros too, at
every order, with no division. NaN entries of the nan-reductions are held
out with `where`, so their derivative is zero.
"""

from __future__ import annotations

import builtins
import math
from typing import Any

import numpy as np

from ..core import Var, defbatch, defjvp, deflinear, defvjp, registry
from ..core.backend import is_lazy, numpy_dtype
from . import manipulation as _shape
from ._register import array_like, function, holds_traced, method, nondiff, prim, unsupported_keywords
from .ufuncs import conjugate, isnan, logical_and, logical_not, maximum, minimum, real, sqrt, where

__all__ = [
    "amax",
    "amin",
    "average",
    "cumprod",
    "cumsum",
    "cumulative_prod",
    "cumulative_sum",
    "max",
    "mean",
    "min",
    "nancumprod",
    "nancumsum",
    "nanmax",
    "nanmean",
    "nanmin",
    "nanprod",
    "nanstd",
    "nansum",
    "nanvar",
    "prod",
    "ptp",
    "std",
    "sum",
    "var",
]


def normalize_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    """`axis` (None, an int or a sequence, negatives allowed) as a sorted tuple."""
    if axis is None:
        return tuple(range(ndim))
    kind = type(axis)
    axes = (axis,) if kind is int else axis if kind is tuple else (axis,) if np.ndim(axis) == 0 else tuple(axis)
    out = []
    for a in axes:
        a = int(a)
        if not -builtins.max(ndim, 1) <= a < builtins.max(ndim, 1):  # a 0-d array takes 0 and -1, as in NumPy
            raise np.exceptions.AxisError(a, ndim)
        out.append(a % builtins.max(ndim, 1))
    if len(set(out)) != len(out):
        raise ValueError(f"lagrad.numpy: duplicate value in axis {axis!r}")
    return tuple(sorted(out))


def reduced_axes(axis: Any, ndim: int, int_on_0d: bool = True) -> tuple[int, ...]:
    """The axes a reduction runs over: `normalize_axes`, and none for a 0-d array, as NumPy:
    it takes an int axis 0 or -1 of a 0-d array as no axis (not in mean, var, std, average:
    `int_on_0d` False) and refuses a tuple naming an axis."""
    axes = normalize_axes(axis, ndim)
    if not ndim and axes and (type(axis) is tuple or not int_on_0d):
        raise np.exceptions.AxisError(int(axis[0] if type(axis) is tuple else axis), 0)
    return axes if ndim else ()


def kept_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    """`shape` with the reduced axes kept as length 1."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def count(shape: tuple[int, ...], axes: tuple[int, ...]) -> int:
    return math.prod(shape[i] for i in axes)


def spread(g: Any, shape: tuple[int, ...], axes: tuple[int, ...], chunks: Any = None) -> Any:
    """The multiplier of a reduction over `axes`, broadcast back to the input's `shape`; for a
    Dask input, in its `chunks` along `axes`, so that the terms it meets are not rechunked."""
    kept = _shape.reshape(g, kept_shape(shape, axes))
    if chunks is not None and not hasattr(kept, "_trace") and is_lazy(kept):  # a plain Dask array
        import dask.array as da

        chunks = tuple(c if i in axes else kept.chunks[i] for i, c in enumerate(chunks))
        return da.broadcast_to(kept, shape, chunks=chunks)
    return _shape.broadcast_to(kept, shape)


def _spread_batched(g: Any, shape: tuple[int, ...], axes: tuple[int, ...]) -> Any:
    """`spread` of k stacked multipliers (leading axis)."""
    k = g.shape[0]
    return _shape.broadcast_to(_shape.reshape(g, (k, *kept_shape(shape, axes))), (k, *shape))


def _shifted_axes(axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(a + 1 for a in axes)


def _impl(np_fun: Any) -> Any:
    return lambda x, axis, keepdims: np_fun(x, axis=axis, keepdims=keepdims)


_sum = prim("sum", _impl(np.sum))
_mean = prim("mean", _impl(np.mean))
_prod = prim("prod", _impl(np.prod))
_max = prim("max", _impl(np.max))
_min = prim("min", _impl(np.min))


def _others_impl(x: Any, axis: tuple[int, ...]) -> Any:
    """The product of all entries but one along `axis`, for each entry: no division."""
    if x.size == 0:
        return np.zeros_like(x)
    moved = np.moveaxis(x, axis, tuple(range(-len(axis), 0)))
    flat = moved.reshape((*moved.shape[: moved.ndim - len(axis)], -1))
    ones = np.ones((*flat.shape[:-1], 1), dtype=flat.dtype)
    left = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    right = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    return np.moveaxis((left * right).reshape(moved.shape), tuple(range(-len(axis), 0)), axis)


_others = prim("prod_others", _others_impl)


def _pairs(x: Any, axis: tuple[int, ...]) -> tuple[Any, Any]:
    """For the derivative of prod_others: the products of all entries but two (j, k) along
    the flattened `axis`, as an array [..., j, k] with the diagonal zeroed, and the flat x."""
    last = tuple(range(-len(axis), 0))
    moved = _shape.moveaxis(x, axis, last)
    flat = _shape.reshape(moved, (*_shape.shape_of(moved)[: len(_shape.shape_of(moved)) - len(axis)], -1))
    n = _shape.shape_of(flat)[-1]
    eye = np.eye(n, dtype=bool)
    with_one = where(eye, 1.0, _shape.expand_dims(flat, -2))  # [..., j, k]: x with x_j := 1
    pairs = _others(with_one, axis=(len(_shape.shape_of(with_one)) - 1,))
    return where(eye, 0.0, pairs), moved


def _others_vjp(g: Any, ans: Any, x: Any, axis: tuple[int, ...]) -> Any:
    pairs, moved = _pairs(x, axis)
    last = tuple(range(-len(axis), 0))
    gflat = _shape.reshape(_shape.moveaxis(g, axis, last), _shape.shape_of(pairs)[:-1])
    ct = sum(_shape.expand_dims(gflat, -1) * pairs, axis=-2)
    return _shape.moveaxis(_shape.reshape(ct, _shape.shape_of(moved)), last, axis)


def _others_jvp(t: Any, ans: Any, x: Any, axis: tuple[int, ...]) -> Any:
    pairs, moved = _pairs(x, axis)
    last = tuple(range(-len(axis), 0))
    tflat = _shape.reshape(_shape.moveaxis(t, axis, last), _shape.shape_of(pairs)[:-1])
    out = sum(pairs * _shape.expand_dims(tflat, -2), axis=-1)
    return _shape.moveaxis(_shape.reshape(out, _shape.shape_of(moved)), last, axis)


def _ties(x: Any, ans: Any, axis: tuple[int, ...], keepdims: bool) -> Any:
    """1/(number of ties) where x attains the max (or min) along `axis`, else 0."""
    hit = _shape.astype(x == (ans if keepdims else _shape.reshape(ans, kept_shape(x.shape, axis))), x.dtype)
    return hit / _sum(hit, axis=axis, keepdims=True)  # `axis` is normalised: the primitive itself


# fmt: off
deflinear(_sum,  lambda g, ans, x, axis, keepdims: spread(g, x.shape, axis, x.chunks))
deflinear(_mean, lambda g, ans, x, axis, keepdims: spread(g, x.shape, axis, x.chunks) / count(x.shape, axis))
defvjp(_prod,    lambda g, ans, x, axis, keepdims: spread(g, x.shape, axis) * _others(x, axis=axis))
defjvp(_prod,    lambda t, ans, x, axis, keepdims: sum(t * _others(x, axis=axis), axis=axis, keepdims=keepdims))
defvjp(_others,  _others_vjp)
defjvp(_others,  _others_jvp)
defvjp(_max,     lambda g, ans, x, axis, keepdims: spread(g, x.shape, axis) * _ties(x, ans, axis, keepdims))
defjvp(_max,     lambda t, ans, x, axis, keepdims: sum(t * _ties(x, ans, axis, keepdims), axis=axis, keepdims=keepdims))
defvjp(_min,     lambda g, ans, x, axis, keepdims: spread(g, x.shape, axis) * _ties(x, ans, axis, keepdims))
defjvp(_min,     lambda t, ans, x, axis, keepdims: sum(t * _ties(x, ans, axis, keepdims), axis=axis, keepdims=keepdims))
defbatch(_sum,
         vjps={0: lambda g, ans, x, axis, keepdims: _spread_batched(g, x.shape, axis)},
         jvps={0: lambda t, ans, x, axis, keepdims: _sum(t, axis=_shifted_axes(axis), keepdims=keepdims)})
defbatch(_mean,
         vjps={0: lambda g, ans, x, axis, keepdims: _spread_batched(g, x.shape, axis) / count(x.shape, axis)},
         jvps={0: lambda t, ans, x, axis, keepdims: _mean(t, axis=_shifted_axes(axis), keepdims=keepdims)})
defbatch(_prod,
         vjps={0: lambda g, ans, x, axis, keepdims: _spread_batched(g, x.shape, axis) * _others(x, axis=axis)},
         jvps={0: lambda t, ans, x, axis, keepdims: _sum(t * _others(x, axis=axis), axis=_shifted_axes(axis),
                                                         keepdims=keepdims)})
defbatch(_max,
         vjps={0: lambda g, ans, x, axis, keepdims: _spread_batched(g, x.shape, axis) * _ties(x, ans, axis, keepdims)},
         jvps={0: lambda t, ans, x, axis, keepdims: _sum(t * _ties(x, ans, axis, keepdims), axis=_shifted_axes(axis),
                                                         keepdims=keepdims)})
defbatch(_min,
         vjps={0: lambda g, ans, x, axis, keepdims: _spread_batched(g, x.shape, axis) * _ties(x, ans, axis, keepdims)},
         jvps={0: lambda t, ans, x, axis, keepdims: _sum(t * _ties(x, ans, axis, keepdims), axis=_shifted_axes(axis),
                                                         keepdims=keepdims)})
# fmt: on


# How `initial` joins a reduction, and what a `where=False` entry counts as (None: it must
# be given as `initial`, since max and min have no identity).
_JOIN = {"sum": (lambda r, i: r + i, 0.0), "prod": (lambda r, i: r * i, 1.0), "mean": (None, 0.0)}


def _masked(name: str, a: Any, mask: Any, fill: Any) -> Any:
    """`a` with `fill` where `mask` (broadcast to `a`'s shape, as NumPy requires) is False."""
    return where(_shape.broadcast_to(mask, _shape.shape_of(a)), a, fill)


def _reduce(
    name: str,
    primitive: Any,
    a: Any,
    axis: Any,
    dtype: Any,
    keepdims: Any,
    out: Any = None,
    initial: Any = None,
    where: Any = None,
) -> Any:
    """The reduction `primitive` with NumPy's keywords: `where` fills the entries it leaves
    out with the identity (max and min: with `initial`), and `initial` joins the result."""
    if out is not None:
        unsupported_keywords(name, out=out)
    a = array_like(a)
    axes = reduced_axes(axis, len(_shape.shape_of(a)), name != "mean")
    if dtype is not None:
        a = _shape.astype(a, dtype)
    join, identity = _JOIN[name] if name in _JOIN else (_EXTREME_JOIN[name], None)
    if where is not None and where is not True:
        fill = identity if identity is not None else initial
        if fill is None:
            raise ValueError(
                f"lagrad.numpy.{name}: reduction operation '{name}' does not have an identity, so to use "
                f"a where mask one has to specify 'initial'"
            )
        if name == "mean":
            n = sum(_masked(name, np.ones(_shape.shape_of(a)), where, 0.0), axis=axes, keepdims=bool(keepdims))
            return sum(_masked(name, a, where, 0.0), axis=axes, keepdims=bool(keepdims)) / n
        a = _masked(name, a, where, fill)
    result = primitive(a, axis=axes, keepdims=bool(keepdims))
    return result if initial is None else join(result, initial)


@function(np.sum)
@method("sum")
def sum(
    a: Any,
    axis: Any = None,
    dtype: Any = None,
    out: Any = None,
    keepdims: bool = False,
    initial: Any = None,
    where: Any = None,
) -> Any:
    """numpy.sum over `axis` (None: all axes), with `keepdims`."""
    return _reduce("sum", _sum, a, axis, dtype, keepdims, out=out, initial=initial, where=where)


@function(np.prod)
@method("prod")
def prod(
    a: Any,
    axis: Any = None,
    dtype: Any = None,
    out: Any = None,
    keepdims: bool = False,
    initial: Any = None,
    where: Any = None,
) -> Any:
    """numpy.prod over `axis`; exact where entries are zero."""
    return _reduce("prod", _prod, a, axis, dtype, keepdims, out=out, initial=initial, where=where)


@function(np.max, np.amax)
@method("max")
def max(
    a: Any, axis: Any = None, out: Any = None, keepdims: bool = False, initial: Any = None, where: Any = None
) -> Any:
    """numpy.max over `axis`; the derivative is split evenly between ties."""
    return _reduce("max", _max, a, axis, None, keepdims, out=out, initial=initial, where=where)


@function(np.min, np.amin)
@method("min")
def min(
    a: Any, axis: Any = None, out: Any = None, keepdims: bool = False, initial: Any = None, where: Any = None
) -> Any:
    """numpy.min over `axis`; the derivative is split evenly between ties."""
    return _reduce("min", _min, a, axis, None, keepdims, out=out, initial=initial, where=where)


amax, amin = max, min
_EXTREME_JOIN = {"max": lambda r, i: maximum(r, i), "min": lambda r, i: minimum(r, i)}


@function(np.mean)
@method("mean")
def mean(
    a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False, *, where: Any = None
) -> Any:
    """numpy.mean over `axis` (None: all axes), with `keepdims`."""
    return _reduce("mean", _mean, a, axis, dtype, keepdims, out=out, where=where)


def _ufunc_reduce(name: str, primitive: Any) -> Any:
    def reduce(a: Any, axis: Any = 0, dtype: Any = None, out: Any = None, keepdims: bool = False, **kw: Any) -> Any:
        return _reduce(name, primitive, a, axis, dtype, keepdims, out=out, **kw)

    return reduce


registry.functions[(np.add, "reduce")] = _ufunc_reduce("sum", _sum)
registry.functions[(np.multiply, "reduce")] = _ufunc_reduce("prod", _prod)
registry.functions[(np.maximum, "reduce")] = _ufunc_reduce("max", _max)
registry.functions[(np.minimum, "reduce")] = _ufunc_reduce("min", _min)


# ----- variance ---------------------------------------------------------------------


def _dof(shape: tuple[int, ...], axis: tuple[int, ...], ddof: float) -> float:
    """The divisor of a variance: the count less `ddof`, never below zero (as NumPy)."""
    return builtins.max(count(shape, axis) - ddof, 0)


def _slope(shape: tuple[int, ...], axis: tuple[int, ...], ddof: float) -> float:
    """2 / (N − ddof), a Python float so it keeps float32 arrays float32."""
    dof = _dof(shape, axis, ddof)
    return 2.0 / dof if dof else math.inf


def _var_gradient(x: Any, axis: tuple[int, ...], ddof: float) -> Any:
    """∂var/∂x = 2(x − mean(x))/(N − ddof), conjugated where x is complex."""
    d = x - mean(x, axis=axis, keepdims=True)
    return (conjugate(d) if numpy_dtype(x.dtype).kind == "c" else d) * _slope(x.shape, axis, ddof)


_var = prim("var", lambda x, axis, ddof, keepdims: np.var(x, axis=axis, ddof=ddof, keepdims=keepdims))

# fmt: off
defvjp(_var, lambda g, ans, x, axis, ddof, keepdims: spread(g, x.shape, axis) * _var_gradient(x, axis, ddof))
defjvp(_var, lambda t, ans, x, axis, ddof, keepdims: real(sum(t * _var_gradient(x, axis, ddof), axis=axis,
                                                              keepdims=keepdims)))
# fmt: on


# ----- scans ----------------------------------------------------------------------------


def _along(axis: int, ndim: int, part: slice) -> tuple[slice, ...]:
    return (slice(None),) * axis + (part,) + (slice(None),) * (ndim - axis - 1)


def _cumsum_reverse_impl(x: Any, axis: int) -> Any:
    """Sums from each entry to the end of `axis`: the transpose of cumsum."""
    flip = _along(axis, x.ndim, slice(None, None, -1))
    return np.cumsum(x[flip], axis=axis)[flip]


def _times(u: Any, v: Any) -> Any:
    """u·v, where a zero factor wins over an infinite one (an empty product times anything)."""
    w = u * v
    if np.isnan(w).any():  # rare: look closer only then
        w[np.isnan(w) & ~np.isnan(u) & ~np.isnan(v)] = 0
    return w


def _scan_impl(a: Any, b: Any, axis: int, reverse: bool) -> Any:
    """y_j = b_j + a_j·y_{j−1} along `axis` (reverse: y_j = b_j + a_{j+1}·y_{j+1}), y = 0 before
    the start. Solved by recursive doubling: log2(n) vectorised steps, no division."""
    dtype = np.result_type(a, b)
    A = np.moveaxis(a, axis, -1).astype(dtype)  # copies: updated in place below
    B = np.moveaxis(b, axis, -1).astype(dtype)
    if reverse:  # the same recurrence read from the end: a'_j = a_{n−j}
        A = np.roll(A[..., ::-1], 1, axis=-1)
        B = B[..., ::-1].copy()
    A[..., :1] = 0  # the first entry starts from nothing: a_0 is never used
    n = A.shape[-1]
    step = 1
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        while step < n:
            # entry j, a map from y_{j−step} to y_j, composed with entry j−step's map
            B[..., step:] = B[..., step:] + _times(A[..., step:], B[..., :-step])
            A[..., step:] = _times(A[..., step:], A[..., :-step])
            step *= 2
    return np.moveaxis(B[..., ::-1] if reverse else B, -1, axis)


_cumsum = prim("cumsum", lambda x, axis: np.cumsum(x, axis=axis))
_cumsum_reverse = prim("cumsum_reverse", _cumsum_reverse_impl)
_cumprod = prim("cumprod", lambda x, axis: np.cumprod(x, axis=axis))
_scan = prim("linear_scan", _scan_impl)


def _shifted(v: Any, axis: int, fill: float, step: int) -> Any:
    """`v` moved one place along `axis` (step 1: v_{j−1} at j; step −1: v_{j+1} at j), with
    `fill` in the place left empty."""
    n = v.shape[axis]
    if n == 0:
        return v
    edge = np.full(kept_shape(v.shape, (axis,)), fill, dtype=numpy_dtype(v.dtype))
    if step > 0:
        return _shape.concatenate([edge, v[_along(axis, len(v.shape), slice(0, n - 1))]], axis=axis)
    return _shape.concatenate([v[_along(axis, len(v.shape), slice(1, n))], edge], axis=axis)


def _scan_vjp_a(g: Any, ans: Any, a: Any, b: Any, axis: int, reverse: bool) -> Any:
    back = _scan(a, g, axis=axis, reverse=not reverse)
    return ans * _shifted(back, axis, 0, 1) if reverse else _shifted(ans, axis, 0, 1) * back


def _scan_jvp_a(t: Any, ans: Any, a: Any, b: Any, axis: int, reverse: bool) -> Any:
    if reverse:
        return _scan(a, _shifted(t * ans, axis, 0, -1), axis=axis, reverse=True)
    return _scan(a, t * _shifted(ans, axis, 0, 1), axis=axis, reverse=False)


# Scanning forward and backward with the same coefficients are transposes of each other;
# cumprod's tangent obeys dP_j = x_j·dP_{j−1} + P_{j−1}·dx_j, a forward scan.
# fmt: off
deflinear(_cumsum,         lambda g, ans, x, axis: _cumsum_reverse(g, axis=axis))
deflinear(_cumsum_reverse, lambda g, ans, x, axis: _cumsum(g, axis=axis))
defbatch(_cumsum,         vjps={0: lambda g, ans, x, axis: _cumsum_reverse(g, axis=axis + 1)},
                          jvps={0: lambda t, ans, x, axis: _cumsum(t, axis=axis + 1)})
defbatch(_cumsum_reverse, vjps={0: lambda g, ans, x, axis: _cumsum(g, axis=axis + 1)},
                          jvps={0: lambda t, ans, x, axis: _cumsum_reverse(t, axis=axis + 1)})
defvjp(_scan,    _scan_vjp_a,
                 lambda g, ans, a, b, axis, reverse: _scan(a, g, axis=axis, reverse=not reverse))
defjvp(_scan,    _scan_jvp_a,
                 lambda t, ans, a, b, axis, reverse: _scan(a, t, axis=axis, reverse=reverse))
defvjp(_cumprod, lambda g, ans, x, axis: _shifted(ans, axis, 1, 1) * _scan(x, g, axis=axis, reverse=True))
defjvp(_cumprod, lambda t, ans, x, axis: _scan(x, t * _shifted(ans, axis, 1, 1), axis=axis, reverse=False))
# fmt: on


# ----- NaN bookkeeping: recorded, no derivative ------------------------------------------


def _real_dtype(dtype: Any) -> Any:
    return np.empty(0, numpy_dtype(dtype)).real.dtype


count_not_nan = nondiff(
    lambda x, axis, keepdims: np.sum(~np.isnan(x), axis=axis, keepdims=keepdims).astype(_real_dtype(x.dtype)),
    "count_not_nan",
)
all_nan = nondiff(lambda x, axis, keepdims: np.isnan(x).all(axis=axis, keepdims=keepdims), "all_nan")
any_nan = nondiff(lambda x, axis, keepdims: np.isnan(x).any(axis=axis, keepdims=keepdims), "any_nan")


def _without_nan(a: Any, fill: float) -> Any:
    """`a` with `fill` in place of NaN: those entries then get no derivative."""
    return where(isnan(a), fill, a)


def _abs2(d: Any) -> Any:
    return real(d * conjugate(d)) if numpy_dtype(d.dtype).kind == "c" else d * d


def is_traced(*values: Any) -> bool:
    """Whether any of `values` is traced (else NumPy itself answers)."""
    return any(holds_traced(v) for v in values)


def given_keywords(**kwargs: Any) -> dict[str, Any]:
    """The keywords a caller gave (NumPy tells 'not given' from None for some)."""
    return {k: v for k, v in kwargs.items() if v is not None}


def _cast(a: Any, dtype: Any) -> Any:
    return a if dtype is None else _shape.astype(a, dtype)


def _ddof(name: str, ddof: Any, correction: Any) -> Any:
    if correction is None:
        return ddof
    if ddof != 0:
        raise ValueError(f"lagrad.numpy.{name}: give ddof or correction, not both")
    return correction


# ----- the NumPy API: statistics -------------------------------------------------------


@function(np.var)
@method("var")
def var(
    a: Any,
    axis: Any = None,
    dtype: Any = None,
    out: Any = None,
    ddof: float = 0,
    keepdims: bool = False,
    *,
    where: Any = None,
    mean: Any = None,
    correction: Any = None,
) -> Any:
    """numpy.var over `axis`, divided by N − ddof (`correction` is ddof's other name).

    `mean`, if given, is used in place of the mean (shaped as with keepdims=True) and
    is differentiated too."""
    unsupported_keywords("var", out=out)
    ddof = _ddof("var", ddof, correction)
    a = _cast(array_like(a), dtype)
    axes = reduced_axes(axis, len(_shape.shape_of(a)), False)
    if where is not None and where is not True:
        return _masked_var(a, where, axes, ddof, mean, keepdims)
    if mean is None:
        return _var(a, axis=axes, ddof=ddof, keepdims=bool(keepdims))
    total = sum(_abs2(a - mean), axis=axes, keepdims=keepdims)
    return total / _dof(_shape.shape_of(a), axes, ddof)


def _masked_var(a: Any, mask: Any, axes: tuple[int, ...], ddof: float, mean: Any, keepdims: bool) -> Any:
    """The variance of the entries `mask` selects: their squared deviations over N − ddof."""
    mask = _shape.broadcast_to(mask, _shape.shape_of(a))
    n = sum(where(mask, 1.0, 0.0), axis=axes, keepdims=True)
    if mean is None:
        mean = sum(where(mask, a, 0.0), axis=axes, keepdims=True) / n
    total = sum(where(mask, _abs2(a - mean), 0.0), axis=axes, keepdims=keepdims)
    return total / _shape.reshape(maximum(n - ddof, 0.0), _shape.shape_of(total))


@function(np.std)
@method("std")
def std(
    a: Any,
    axis: Any = None,
    dtype: Any = None,
    out: Any = None,
    ddof: float = 0,
    keepdims: bool = False,
    *,
    where: Any = None,
    mean: Any = None,
    correction: Any = None,
) -> Any:
    """numpy.std: the square root of `var`, its derivative 0 where the variance is 0 (`_root`;
    over one entry too, where the variance is zero whatever the entry)."""
    unsupported_keywords("std", out=out)
    return _root(var(a, axis, dtype, None, ddof, keepdims, where=where, mean=mean, correction=correction))


def _root(variance: Any) -> Any:
    """sqrt(variance), its derivative 0 where the variance is 0: std is the norm of x − mean
    over √n, and at constant entries lagrad takes the norm's least-norm subgradient (as
    linalg.norm at 0), where sqrt's rule gave ∞ × 0 = NaN in reverse mode and 0 in tangent mode."""
    zero = variance == 0
    return where(zero, 0.0, sqrt(where(zero, 1.0, variance)))


@function(np.average)
def average(a: Any, axis: Any = None, weights: Any = None, returned: bool = False, *, keepdims: bool = False) -> Any:
    """numpy.average: the mean, or sum(a·w)/sum(w) over `axis`; differentiable in `a` and `w`.

    Weights shaped like `a` along `axis` only are spread over the other axes, as in NumPy.
    With `returned`, also the sum of the weights, broadcast to the average's shape."""
    if not is_traced(a, weights):
        return np.average(a, axis, weights, returned, keepdims=keepdims)
    a = array_like(a)
    shape = _shape.shape_of(a)
    axes = reduced_axes(axis, len(shape), False)
    if weights is None:
        avg = mean(a, axis=axes, keepdims=keepdims)
        scale: Any = np.asarray(count(shape, axes), dtype=_real_dtype(avg.dtype))
    else:
        weights = _spread_weights(array_like(weights), shape, axis, axes)
        scale = sum(_shape.broadcast_to(weights, shape), axis=axes, keepdims=keepdims)
        if np.any(plain_value(scale) == 0):
            raise ZeroDivisionError("lagrad.numpy.average: the weights sum to zero along the axis; can't normalize")
        avg = sum(a * weights, axis=axes, keepdims=keepdims) / scale
    if not returned:
        return avg
    if isinstance(scale, Var):
        return avg, _shape.broadcast_to(scale, _shape.shape_of(avg))
    return avg, np.broadcast_to(scale, _shape.shape_of(avg)).copy()


def _spread_weights(weights: Any, shape: tuple[int, ...], axis: Any, axes: tuple[int, ...]) -> Any:
    """Weights given along `axis` only, reshaped to broadcast against `a` (NumPy's rule)."""
    wshape = _shape.shape_of(weights)
    if wshape == shape:
        return weights
    if axis is None:
        raise TypeError("lagrad.numpy.average: weights shaped unlike a need an axis; give axis=")
    given = _order_given(axis, len(shape))
    if wshape != tuple(shape[ax] for ax in given):
        raise ValueError(
            f"lagrad.numpy.average: weights of shape {wshape} do not match a's shape {shape} along axis {axis}"
        )
    weights = _shape.transpose(weights, tuple(int(i) for i in np.argsort(given)))
    return _shape.reshape(weights, tuple(n if i in axes else 1 for i, n in enumerate(shape)))


def _order_given(axis: Any, ndim: int) -> list[int]:
    """The axes in the order the caller gave them, made non-negative."""
    axes = [axis] if np.ndim(axis) == 0 else list(axis)
    return [int(a) % builtins.max(ndim, 1) for a in axes]


def plain_value(x: Any) -> Any:
    """The array inside a traced value (of every trace level)."""
    while isinstance(x, Var):
        x = x.value
    return x


@function(np.ptp)
def ptp(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False) -> Any:
    """numpy.ptp: max − min over `axis` (ties share the derivative evenly, as in max and min)."""
    unsupported_keywords("ptp", out=out)
    return max(a, axis, keepdims=keepdims) - min(a, axis, keepdims=keepdims)


# ----- the NumPy API: ignoring NaN ------------------------------------------------------


@function(np.nansum)
def nansum(
    a: Any,
    axis: Any = None,
    dtype: Any = None,
    out: Any = None,
    keepdims: bool = False,
    initial: Any = None,
    where: Any = None,
) -> Any:
    """numpy.nansum: the sum with NaN counted as zero; NaN entries get no derivative."""
    if not is_traced(a):
        return np.nansum(a, axis, dtype, out, keepdims, **given_keywords(initial=initial, where=where))
    return sum(_without_nan(a, 0.0), axis, dtype, out, keepdims, initial, where)


@function(np.nanprod)
def nanprod(
    a: Any,
    axis: Any = None,
    dtype: Any = None,
    out: Any = None,
    keepdims: bool = False,
    initial: Any = None,
    where: Any = None,
) -> Any:
    """numpy.nanprod: the product with NaN counted as one; NaN entries get no derivative."""
    if not is_traced(a):
        return np.nanprod(a, axis, dtype, out, keepdims, **given_keywords(initial=initial, where=where))
    return prod(_without_nan(a, 1.0), axis, dtype, out, keepdims, initial, where)


@function(np.nanmean)
def nanmean(
    a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False, *, where: Any = None
) -> Any:
    """numpy.nanmean: the mean of the entries that are not NaN (NaN where there are none)."""
    if not is_traced(a):
        return np.nanmean(a, axis, dtype, out, keepdims, **given_keywords(where=where))
    unsupported_keywords("nanmean", out=out)
    a = _cast(array_like(a), dtype)
    axes = reduced_axes(axis, len(_shape.shape_of(a)))
    if where is not None and where is not True:
        return mean(_without_nan(a, 0.0), axes, keepdims=keepdims, where=_not_nan_and(a, where))
    return sum(_without_nan(a, 0.0), axis=axes, keepdims=keepdims) / count_not_nan(a, axis=axes, keepdims=keepdims)


def _not_nan_and(a: Any, mask: Any) -> Any:
    """The entries `mask` selects that are not NaN."""
    return logical_and(logical_not(isnan(a)), mask)


@function(np.nanvar)
def nanvar(
    a: Any,
    axis: Any = None,
    dtype: Any = None,
    out: Any = None,
    ddof: float = 0,
    keepdims: bool = False,
    *,
    where: Any = None,
    mean: Any = None,
    correction: Any = None,
) -> Any:
    """numpy.nanvar: the variance of the entries that are not NaN; NaN where N − ddof <= 0."""
    if not is_traced(a, mean):
        extra = given_keywords(where=where, mean=mean, correction=correction)
        return np.nanvar(a, axis, dtype, out, ddof, keepdims, **extra)
    unsupported_keywords("nanvar", out=out)
    a = _cast(array_like(a), dtype)
    if where is not None and where is not True:
        axes = reduced_axes(axis, len(_shape.shape_of(a)))
        ddof = _ddof("nanvar", ddof, correction)
        return _masked_var(_without_nan(a, 0.0), _not_nan_and(a, where), axes, ddof, mean, keepdims)
    return _nanvar(a, reduced_axes(axis, len(_shape.shape_of(a))), _ddof("nanvar", ddof, correction), mean, keepdims)


def _nanvar(a: Any, axes: tuple[int, ...], ddof: float, mean: Any, keepdims: bool) -> Any:
    missing = isnan(a)
    n = count_not_nan(a, axis=axes, keepdims=True)
    if mean is None:
        mean = sum(where(missing, 0.0, a), axis=axes, keepdims=True) / n
    total = sum(_abs2(where(missing, 0.0, a - mean)), axis=axes, keepdims=keepdims)
    dof = _shape.reshape(n, _shape.shape_of(total)) - ddof
    # NaN where no degrees of freedom are left (as NumPy); the divisor stays positive so
    # that the derivative of the branch not taken is zero, not 0/0
    left = dof > 0
    return where(left, total / where(left, dof, 1.0), np.nan)


@function(np.nanstd)
def nanstd(
    a: Any,
    axis: Any = None,
    dtype: Any = None,
    out: Any = None,
    ddof: float = 0,
    keepdims: bool = False,
    *,
    where: Any = None,
    mean: Any = None,
    correction: Any = None,
) -> Any:
    """numpy.nanstd: the square root of `nanvar`."""
    if not is_traced(a, mean):
        extra = given_keywords(where=where, mean=mean, correction=correction)
        return np.nanstd(a, axis, dtype, out, ddof, keepdims, **extra)
    unsupported_keywords("nanstd", out=out)
    return _root(nanvar(a, axis, dtype, None, ddof, keepdims, where=where, mean=mean, correction=correction))


def _nan_extreme(name: str, reduce: Any, fill: float, a: Any, axis: Any, out: Any, keepdims: bool, **kw: Any) -> Any:
    a = array_like(a)
    axes = reduced_axes(axis, len(_shape.shape_of(a)))
    result = reduce(_without_nan(a, fill), axes, out=out, keepdims=keepdims, **kw)
    if kw.get("initial") is not None:  # NumPy's fmax.reduce: initial stands in for an all-NaN slice
        return result
    mask = kw.get("where")
    if mask is not None and mask is not True:  # NaN where the selected entries are all NaN
        missing = logical_not(_shape.broadcast_to(mask, _shape.shape_of(a)))
        empty = all_nan(where(missing, np.nan, where(isnan(a), np.nan, 0.0)), axis=axes, keepdims=bool(keepdims))
    else:
        empty = all_nan(a, axis=axes, keepdims=bool(keepdims))
    return where(empty, np.nan, result)


@function(np.nanmax)
def nanmax(
    a: Any, axis: Any = None, out: Any = None, keepdims: bool = False, initial: Any = None, where: Any = None
) -> Any:
    """numpy.nanmax: the max of the entries that are not NaN; ties share the derivative."""
    if not is_traced(a):
        return np.nanmax(a, axis, out, keepdims, **given_keywords(initial=initial, where=where))
    return _nan_extreme("nanmax", max, -np.inf, a, axis, out, keepdims, initial=initial, where=where)


@function(np.nanmin)
def nanmin(
    a: Any, axis: Any = None, out: Any = None, keepdims: bool = False, initial: Any = None, where: Any = None
) -> Any:
    """numpy.nanmin: the min of the entries that are not NaN; ties share the derivative."""
    if not is_traced(a):
        return np.nanmin(a, axis, out, keepdims, **given_keywords(initial=initial, where=where))
    return _nan_extreme("nanmin", min, np.inf, a, axis, out, keepdims, initial=initial, where=where)


# ----- the NumPy API: cumulative sums and products ---------------------------------------


def _scan_axis(name: str, a: Any, axis: Any, dtype: Any, out: Any) -> tuple[Any, int]:
    """The array to scan and the one axis to scan along (None: the flattened array)."""
    unsupported_keywords(name, out=out)
    a = _cast(a, dtype)
    if axis is None:
        return _shape.ravel(a), 0
    ndim = len(_shape.shape_of(a))
    if np.ndim(axis) != 0:
        raise TypeError(f"lagrad.numpy.{name}: axis must be one integer or None, not {axis!r}")
    return a, normalize_axes(axis, ndim)[0]


@function(np.cumsum)
@method("cumsum")
def cumsum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Any:
    """numpy.cumsum along `axis` (None: the flattened array)."""
    a, axis = _scan_axis("cumsum", a, axis, dtype, out)
    return _cumsum(a, axis=axis)


@function(np.cumprod)
@method("cumprod")
def cumprod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Any:
    """numpy.cumprod along `axis` (None: the flattened array); exact where entries are zero."""
    a, axis = _scan_axis("cumprod", a, axis, dtype, out)
    return _cumprod(a, axis=axis)


@function(np.nancumsum)
def nancumsum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Any:
    """numpy.nancumsum: cumsum with NaN counted as zero (and given no derivative)."""
    if not is_traced(a):
        return np.nancumsum(a, axis, dtype, out)
    return cumsum(_without_nan(a, 0.0), axis, dtype, out)


@function(np.nancumprod)
def nancumprod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Any:
    """numpy.nancumprod: cumprod with NaN counted as one (and given no derivative)."""
    if not is_traced(a):
        return np.nancumprod(a, axis, dtype, out)
    return cumprod(_without_nan(a, 1.0), axis, dtype, out)


def _cumulative(name: str, scan: Any, empty: float, x: Any, axis: Any, dtype: Any, out: Any, initial: bool) -> Any:
    ndim = len(_shape.shape_of(x))
    if axis is None:
        if ndim > 1:
            raise ValueError(f"lagrad.numpy.{name}: give axis= for arrays of more than one dimension")
        axis = 0
    x, axis = _scan_axis(name, x, axis, dtype, out)
    result = scan(x, axis=axis)
    if not initial:
        return result
    edge = np.full(kept_shape(_shape.shape_of(x), (axis,)), empty, dtype=result.dtype)
    return _shape.concatenate([edge, result], axis=axis)


@function(np.cumulative_sum)
def cumulative_sum(
    x: Any, /, *, axis: Any = None, dtype: Any = None, out: Any = None, include_initial: bool = False
) -> Any:
    """numpy.cumulative_sum (the array API's cumsum): `include_initial` puts a zero first."""
    if not is_traced(x):
        return np.cumulative_sum(x, axis=axis, dtype=dtype, out=out, include_initial=include_initial)
    return _cumulative("cumulative_sum", _cumsum, 0.0, x, axis, dtype, out, include_initial)


@function(np.cumulative_prod)
def cumulative_prod(
    x: Any, /, *, axis: Any = None, dtype: Any = None, out: Any = None, include_initial: bool = False
) -> Any:
    """numpy.cumulative_prod (the array API's cumprod): `include_initial` puts a one first."""
    if not is_traced(x):
        return np.cumulative_prod(x, axis=axis, dtype=dtype, out=out, include_initial=include_initial)
    return _cumulative("cumulative_prod", _cumprod, 1.0, x, axis, dtype, out, include_initial)
