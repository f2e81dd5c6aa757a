"""Reductions: sum, mean, prod, max, min over an axis (or several), with keepdims.

The transpose of a reduction spreads the multiplier back over the reduced
axes; ``max``/``min`` split it evenly between ties, and ``prod`` uses the
product of the other entries, so it stays exact where some entry is zero.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from ..core import defjvp, deflinear, defvjp, registry
from . import manipulation as _shape
from ._register import function, method, prim, unsupported_keywords
from .ufuncs import where

__all__ = [
    "amax",
    "amin",
    "max",
    "mean",
    "min",
    "prod",
    "sum",
]


def normalize_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    """`axis` (None, an int or a sequence, negatives allowed) as a sorted tuple."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    out = []
    for a in axes:
        a = int(a)
        if not -ndim <= a < builtins.max(ndim, 1):
            raise np.exceptions.AxisError(a, ndim)
        out.append(a + ndim if a < 0 else a)
    return tuple(sorted(out))


def kept_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    """`shape` with the reduced axes kept as length 1."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def count(shape: tuple[int, ...], axes: tuple[int, ...]) -> int:
    return int(np.prod([shape[i] for i in axes], dtype=np.int64))


def spread(g: Any, shape: tuple[int, ...], axes: tuple[int, ...]) -> Any:
    """The multiplier of a reduction over `axes`, broadcast back to the input's `shape`."""
    return _shape.broadcast_to(_shape.reshape(g, kept_shape(shape, axes)), shape)


def _impl(np_fun: Any) -> Any:
    return lambda x, axis, keepdims: np_fun(x, axis=axis, keepdims=keepdims)


_sum = prim("sum", _impl(np.sum))
_mean = prim("mean", _impl(np.mean))
_prod = prim("prod", _impl(np.prod))
_max = prim("max", _impl(np.max))
_min = prim("min", _impl(np.min))


def _others_impl(x: Any, axis: tuple[int, ...]) -> Any:
    """The product of all entries but one along `axis`, for each entry: no division."""
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
    return hit / sum(hit, axis=axis, keepdims=True)


# fmt: off
deflinear(_sum,  lambda g, ans, x, axis, keepdims: spread(g, x.shape, axis))
deflinear(_mean, lambda g, ans, x, axis, keepdims: spread(g, x.shape, axis) / count(x.shape, axis))
defvjp(_prod,    lambda g, ans, x, axis, keepdims: spread(g, x.shape, axis) * _others(x, axis=axis))
defjvp(_prod,    lambda t, ans, x, axis, keepdims: sum(t * _others(x, axis=axis), axis=axis, keepdims=keepdims))
defvjp(_others,  _others_vjp)
defjvp(_others,  _others_jvp)
defvjp(_max,     lambda g, ans, x, axis, keepdims: spread(g, x.shape, axis) * _ties(x, ans, axis, keepdims))
defjvp(_max,     lambda t, ans, x, axis, keepdims: sum(t * _ties(x, ans, axis, keepdims), axis=axis, keepdims=keepdims))
defvjp(_min,     lambda g, ans, x, axis, keepdims: spread(g, x.shape, axis) * _ties(x, ans, axis, keepdims))
defjvp(_min,     lambda t, ans, x, axis, keepdims: sum(t * _ties(x, ans, axis, keepdims), axis=axis, keepdims=keepdims))
# fmt: on


def _reduce(name: str, primitive: Any, a: Any, axis: Any, dtype: Any, keepdims: Any, **unsupported: Any) -> Any:
    unsupported_keywords(name, **unsupported)
    axes = normalize_axes(axis, len(_shape.shape_of(a)))
    result = primitive(a, axis=axes, keepdims=bool(keepdims))
    return result if dtype is None else _shape.astype(result, dtype)


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
