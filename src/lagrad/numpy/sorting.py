"""Sorting and selection by value: sort, and the order statistics built on it: median,
quantile, percentile and their NaN-ignoring versions.

Sorting permutes its input, and the permutation is piecewise constant: its
transpose scatters the multiplier back through the same permutation (recorded,
as an integer result with no derivative, so a replay recomputes it). A
quantile interpolates linearly between two order statistics, so it is linear
in them, with weights fixed by the ranks, and piecewise linear in `q`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core import Var, defjvp, deflinear, defvjp
from ..core.backend import numpy_dtype
from ..inplace import write
from . import manipulation as _shape
from ._register import array_like, function, method, nondiff, prim, unsupported_keywords
from .reductions import any_nan, count_not_nan, given_keywords, is_traced, kept_shape, normalize_axes, plain_value
from .ufuncs import maximum, minimum, where

__all__ = [
    "median",
    "nanmedian",
    "nanpercentile",
    "nanquantile",
    "partition",
    "percentile",
    "quantile",
    "sort",
]


def _full_index(idx: Any, axis: int, shape: tuple[int, ...]) -> tuple[Any, ...]:
    """NumPy index arrays that put `idx` along `axis` of an array shaped `shape`."""
    index: list[Any] = []
    axis %= len(shape)
    for k, n in enumerate(shape):
        if k == axis:
            index.append(idx)
        else:
            index.append(np.arange(n).reshape((1,) * k + (n,) + (1,) * (len(shape) - k - 1)))
    return tuple(index)


def _scatter_impl(g: Any, idx: Any, axis: int, shape: tuple[int, ...], unique: bool) -> Any:
    """Zeros shaped `shape` with `g` added at `idx` along `axis` (written, where `idx` has
    no repeats)."""
    out = np.zeros(shape, dtype=g.dtype)
    if unique:
        np.put_along_axis(out, idx, g, axis=axis)
    else:
        np.add.at(out, _full_index(idx, axis, shape), g)
    return out


# Gathering along an axis and scattering back are transposes of each other.
_gather = prim("gather_along", lambda x, idx, axis, unique: np.take_along_axis(x, idx, axis=axis))
_scatter = prim("scatter_along", _scatter_impl)
_sort = prim("sort", lambda x, axis, kind: np.sort(x, axis=axis, kind=kind))

# The permutations: integer results, recorded without a derivative. At ties the derivative
# follows argsort of the same kind (kind="stable": the tied entries in their order).
sort_order = nondiff(lambda x, axis, kind: np.argsort(x, axis=axis, kind=kind), "sort_order")
partition_order = nondiff(lambda x, kth, axis: np.argpartition(x, kth, axis=axis), "partition_order")

# fmt: off
deflinear(_gather,  lambda g, ans, x, idx, axis, unique: _scatter(g, idx, axis=axis, shape=x.shape, unique=unique),
                    None)
deflinear(_scatter, lambda g, ans, t, idx, axis, shape, unique: _gather(g, idx, axis=axis, unique=unique),
                    None)
defvjp(_sort,       lambda g, ans, x, axis, kind: _scatter(g, sort_order(x, axis=axis, kind=kind), axis=axis,
                                                           shape=x.shape, unique=True))
defjvp(_sort,       lambda t, ans, x, axis, kind: _gather(t, sort_order(x, axis=axis, kind=kind), axis=axis,
                                                          unique=True))
# fmt: on


def _axis(name: str, a: Any, axis: Any) -> tuple[Any, int]:
    """The array and the one axis to work along (None: the flattened array)."""
    if axis is None:
        return _shape.ravel(a), 0
    if np.ndim(axis) != 0:
        raise TypeError(f"lagrad.numpy.{name}: axis must be one integer or None, not {axis!r}")
    return a, normalize_axes(axis, len(_shape.shape_of(a)))[0]


@function(np.sort)
def sort(a: Any, axis: Any = -1, kind: Any = None, order: Any = None, *, stable: Any = None) -> Any:
    """numpy.sort along `axis` (None: the flattened array). Every `kind` gives the same
    values; the derivative follows the permutation that sorts `a`, at ties argsort's of the
    same kind (`stable=True` or kind="stable": the tied entries keep their order)."""
    unsupported_keywords("sort", order=order)
    a, axis = _axis("sort", a, axis)
    return _sort(a, axis=axis, kind="stable" if stable else kind)


def _sort_in_place(a: Any, axis: Any = -1, kind: Any = None, order: Any = None, *, stable: Any = None) -> None:
    """ndarray.sort: `a` sorted in place (it now refers to numpy.sort's result)."""
    if axis is None:
        raise TypeError("lagrad: x.sort(axis=None) is not NumPy's: ndarray.sort sorts along an axis")
    write(a, sort(a, axis, kind, order, stable=stable))


method("sort")(_sort_in_place)


@function(np.partition)
def partition(a: Any, kth: Any, axis: Any = -1, kind: str = "introselect", order: Any = None) -> Any:
    """numpy.partition: NumPy's own arrangement (the entries at `kth` in sorted place, smaller
    ones before), gathered by the recorded argpartition; the derivative follows the entries."""
    unsupported_keywords("partition", order=order)
    a, axis = _axis("partition", array_like(a), axis)
    order_ = partition_order(a, kth=kth, axis=axis)
    return _gather(a, order_, axis=axis, unique=True)


# ----- order statistics ----------------------------------------------------------------


def _merged(a: Any, axes: tuple[int, ...]) -> Any:
    """`a` with the axes in `axes` moved to the end and merged into one."""
    shape = _shape.shape_of(a)
    last = tuple(range(len(shape) - len(axes), len(shape)))
    moved = _shape.moveaxis(a, axes, last) if axes else a
    rest = tuple(n for i, n in enumerate(shape) if i not in axes)
    return _shape.reshape(moved, (*rest, int(np.prod([shape[i] for i in axes], dtype=np.int64))))


def _at_ranks(x: Any, q: Any, method: str, dtype: Any) -> Any:
    """Quantiles `q` (a flat constant) of `x` along its last axis by `method`.

    NumPy's own definition of the method, applied to the ranks 0..n−1, gives the
    (fractional) rank of each quantile; only the two order statistics around it are
    selected (a partition, not a sort), and the result is linear in them."""
    n = x.shape[-1]
    ranks = np.quantile(np.arange(n, dtype=np.float64), q, method=method)
    lo = np.clip(np.floor(ranks), 0, n - 1).astype(np.intp)
    hi = np.minimum(lo + 1, n - 1)
    gamma = (ranks - lo).astype(dtype)
    order = partition_order(x, kth=tuple(int(k) for k in np.union1d(lo, hi)), axis=-1)
    below = _gather(x, order[..., lo], axis=-1, unique=False)
    above = _gather(x, order[..., hi], axis=-1, unique=False)
    result = below + (above - below) * gamma
    return where(any_nan(x, axis=-1, keepdims=True), np.nan, result)


def _interpolated(x: Any, q: Any, skip_nan: bool, dtype: Any) -> Any:
    """Linear-method quantiles along the last axis where the ranks are not constant: `q`
    is traced (the result is piecewise linear in it), or NaN entries are skipped (each
    slice has its own count). The ranks are computed in recorded equations."""
    order = sort_order(x, axis=-1, kind=None)  # NaN sort last
    size = count_not_nan(x, axis=(len(x.shape) - 1,), keepdims=True) if skip_nan else x.shape[-1]
    ranks = maximum(q * (size - 1), 0.0)
    lo = _shape.astype(ranks, np.intp)  # the floor, as ranks >= 0
    hi = _shape.astype(minimum(lo + 1, maximum(size - 1, 0.0)), np.intp)
    gamma = _shape.astype(ranks - lo, dtype)
    lo, hi, gamma = (_shape.broadcast_to(v, (*x.shape[:-1], _shape.shape_of(q)[-1])) for v in (lo, hi, gamma))
    below = _gather(x, _gather(order, lo, axis=-1, unique=False), axis=-1, unique=False)
    above = _gather(x, _gather(order, hi, axis=-1, unique=False), axis=-1, unique=False)
    result = below + (above - below) * gamma
    if skip_nan:
        return where(size == 0, np.nan, result)
    return where(any_nan(x, axis=-1, keepdims=True), np.nan, result)


def _quantile(
    name: str, np_fun: Any, a: Any, q: Any, axis: Any, method: str, keepdims: bool, *, percent: bool, skip_nan: bool
) -> Any:
    a = array_like(a)
    if numpy_dtype(a.dtype).kind == "c":
        raise TypeError(f"lagrad.numpy.{name}: a must be an array of real numbers, not complex")
    top = 100 if percent else 1
    plain_q = plain_value(q)
    if not np.all((np.asarray(plain_q) >= 0) & (np.asarray(plain_q) <= top)):
        raise ValueError(f"lagrad.numpy.{name}: q must be in the range [0, {top}]")
    # NumPy's result type for these inputs (it also checks `method`)
    dtype = np.asarray(np_fun(np.zeros(1, numpy_dtype(a.dtype)), plain_q, method=method)).dtype
    if not isinstance(q, Var):
        q = np.asarray(q, dtype=np.float64)
    q = q / top if percent else q
    shape = _shape.shape_of(a)
    axes = normalize_axes(axis, len(shape))
    x = _merged(a, axes)
    flat_q = _shape.reshape(q, (-1,))
    if isinstance(q, Var) or skip_nan:
        if method != "linear":
            raise NotImplementedError(
                f"lagrad.numpy.{name}: method={method!r} is supported for a constant q and no NaN "
                f"skipping; here only method='linear' (the default) is"
            )
        values = _interpolated(x, flat_q, skip_nan, dtype)
    else:
        values = _at_ranks(x, flat_q, method, dtype)
    # values: (*kept axes, len(q)) -> q's shape first, then the kept axes, as NumPy
    values = _shape.astype(_shape.moveaxis(values, -1, 0), dtype)
    tail = kept_shape(shape, axes) if keepdims else tuple(n for i, n in enumerate(shape) if i not in axes)
    return _shape.reshape(values, (*_shape.shape_of(q), *tail))


@function(np.quantile)
def quantile(
    a: Any,
    q: Any,
    axis: Any = None,
    out: Any = None,
    overwrite_input: bool = False,
    method: str = "linear",
    keepdims: bool = False,
    *,
    weights: Any = None,
) -> Any:
    """numpy.quantile over `axis`: linear in the two order statistics around each quantile.

    Every NumPy method works for a constant `q`; a traced `q` (differentiated too) takes
    the default method, 'linear'. A slice holding NaN gives NaN, as in NumPy."""
    if not is_traced(a, q):
        return np.quantile(a, q, axis, out, overwrite_input, method, keepdims, **given_keywords(weights=weights))
    unsupported_keywords("quantile", out=out, weights=weights)
    return _quantile("quantile", np.quantile, a, q, axis, method, keepdims, percent=False, skip_nan=False)


@function(np.percentile)
def percentile(
    a: Any,
    q: Any,
    axis: Any = None,
    out: Any = None,
    overwrite_input: bool = False,
    method: str = "linear",
    keepdims: bool = False,
    *,
    weights: Any = None,
) -> Any:
    """numpy.percentile: `quantile` with q given in percent."""
    if not is_traced(a, q):
        return np.percentile(a, q, axis, out, overwrite_input, method, keepdims, **given_keywords(weights=weights))
    unsupported_keywords("percentile", out=out, weights=weights)
    return _quantile("percentile", np.percentile, a, q, axis, method, keepdims, percent=True, skip_nan=False)


@function(np.median)
def median(a: Any, axis: Any = None, out: Any = None, overwrite_input: bool = False, keepdims: bool = False) -> Any:
    """numpy.median: the middle order statistic, or the mean of the two middle ones."""
    if not is_traced(a):
        return np.median(a, axis, out, overwrite_input, keepdims)
    unsupported_keywords("median", out=out)
    return _quantile("median", np.quantile, a, 0.5, axis, "linear", keepdims, percent=False, skip_nan=False)


@function(np.nanquantile)
def nanquantile(
    a: Any,
    q: Any,
    axis: Any = None,
    out: Any = None,
    overwrite_input: bool = False,
    method: str = "linear",
    keepdims: bool = False,
    *,
    weights: Any = None,
) -> Any:
    """numpy.nanquantile (method 'linear'): quantiles of the entries that are not NaN, which
    alone get a derivative; NaN where a slice has none."""
    if not is_traced(a, q):
        return np.nanquantile(a, q, axis, out, overwrite_input, method, keepdims, **given_keywords(weights=weights))
    unsupported_keywords("nanquantile", out=out, weights=weights)
    return _quantile("nanquantile", np.nanquantile, a, q, axis, method, keepdims, percent=False, skip_nan=True)


@function(np.nanpercentile)
def nanpercentile(
    a: Any,
    q: Any,
    axis: Any = None,
    out: Any = None,
    overwrite_input: bool = False,
    method: str = "linear",
    keepdims: bool = False,
    *,
    weights: Any = None,
) -> Any:
    """numpy.nanpercentile: `nanquantile` with q given in percent."""
    if not is_traced(a, q):
        return np.nanpercentile(a, q, axis, out, overwrite_input, method, keepdims, **given_keywords(weights=weights))
    unsupported_keywords("nanpercentile", out=out, weights=weights)
    return _quantile("nanpercentile", np.nanpercentile, a, q, axis, method, keepdims, percent=True, skip_nan=True)


@function(np.nanmedian)
def nanmedian(a: Any, axis: Any = None, out: Any = None, overwrite_input: bool = False, keepdims: bool = False) -> Any:
    """numpy.nanmedian: the median of the entries that are not NaN."""
    if not is_traced(a):
        return np.nanmedian(a, axis, out, overwrite_input, keepdims)
    unsupported_keywords("nanmedian", out=out)
    return _quantile("nanmedian", np.nanquantile, a, 0.5, axis, "linear", keepdims, percent=False, skip_nan=True)
