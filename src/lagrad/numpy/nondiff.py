"""NumPy functions without a derivative, in one explicit list.

Functions whose results are positions, orderings, counts or truth values
(argmax, argsort, bincount, isclose, all) evaluate on traced values as
equations, so a replay recomputes them, and carry no multiplier: the
derivative stops there and is zero, never an error. Each joins the one list,
the NONDIFF registry (``lagrad.numpy.NONDIFF``), as do the comparisons,
logical functions and isnan/isinf/isfinite of numpy/ufuncs.py; docs/coverage.md
prints it. Metadata functions (iscomplexobj, result_type, shape, zeros_like)
answer from shapes and dtypes alone: plain answers, no equation; they join the
list too (zeros_like, ones_like, empty_like of a traced float or complex array
record a constant instead, so that traced values can be written into it).

Decisions where a function's result is partly a selection or sum of its input:

* allclose, array_equal, array_equiv return a traced 0-d boolean, not Python's
  bool: an ``if`` on one records the branch, and a replay checks it still holds.
* unique (and unique_all, unique_counts, unique_inverse, unique_values): the
  indices, inverse and counts have no derivative; the values are the input at
  the first occurrence of each value, a selection, so the derivative reaches
  those entries (where two entries are equal the values are not differentiable
  anyway: moving one apart changes the result's shape).
* bincount with weights is a scatter-add, linear in the weights; the counts of
  `x` have no derivative.
* histogram, histogram_bin_edges: the counts have no derivative in `a`;
  weights enter linearly; edges computed from the data's range (no `range=`)
  move with min(a) and max(a), and so does a density.
"""

from __future__ import annotations

import builtins
from typing import Any, NamedTuple

import numpy as np

from ..core import Var
from ._register import NONDIFF, array_like, count_guarded, function, method, nondiff, unsupported_keywords
from .indexing import at, getitem
from .manipulation import astype, empty_like, ndim, ones_like, ravel, shape, shape_of, size, zeros_like
from .reductions import max as _max
from .reductions import min as _min
from .reductions import sum as _sum
from .ufuncs import logical_and, logical_not, logical_or

__all__ = [
    "all",
    "allclose",
    "any",
    "argmax",
    "argmin",
    "argpartition",
    "argsort",
    "argwhere",
    "array_equal",
    "array_equiv",
    "bincount",
    "can_cast",
    "count_nonzero",
    "digitize",
    "flatnonzero",
    "histogram",
    "histogram_bin_edges",
    "isclose",
    "iscomplex",
    "iscomplexobj",
    "isin",
    "isneginf",
    "isposinf",
    "isreal",
    "isrealobj",
    "isscalar",
    "lexsort",
    "nanargmax",
    "nanargmin",
    "result_type",
    "searchsorted",
    "signbit",
    "unique",
    "unique_all",
    "unique_counts",
    "unique_inverse",
    "unique_values",
]

#: Functions with a part that has no derivative and a part that has one: which part.
PARTLY_DIFFERENTIABLE = {
    "bincount": "linear in the weights; the counts have no derivative",
    "histogram": "linear in the weights; edges taken from the data move with it",
    "histogram_bin_edges": "edges taken from the data move with its min and max",
    "unique": "the values, a selection of the input; indices and counts have no derivative",
    "unique_all": "the values, as for unique",
    "unique_counts": "the values, as for unique",
    "unique_inverse": "the values, as for unique",
    "unique_values": "a selection of the input",
}

# fmt: off
# ----- positions and orderings: integer results ---------------------------------
argmax        = nondiff(np.argmax, method_name="argmax")
argmin        = nondiff(np.argmin, method_name="argmin")
argsort       = nondiff(np.argsort, method_name="argsort")
argpartition  = nondiff(np.argpartition, method_name="argpartition")
nanargmax     = nondiff(np.nanargmax)
nanargmin     = nondiff(np.nanargmin)
isin          = nondiff(np.isin)
_argwhere     = nondiff(np.argwhere)
_flatnonzero  = nondiff(np.flatnonzero)
count_nonzero = nondiff(np.count_nonzero)
_searchsorted = nondiff(lambda a, v, *sorter, side: np.searchsorted(a, v, side, *sorter), "searchsorted")
_digitize     = nondiff(lambda x, bins, right: np.digitize(x, bins, right), "digitize")
_lexsort      = nondiff(lambda *keys, axis: np.lexsort(keys, axis), "lexsort")
_bincount     = nondiff(np.bincount)
# ----- truth values: boolean results ----------------------------------------------
signbit       = nondiff(np.signbit)
isreal        = nondiff(np.isreal)
iscomplex     = nondiff(np.iscomplex)
isneginf      = nondiff(np.isneginf)
isposinf      = nondiff(np.isposinf)
_all          = nondiff(np.all)
_any          = nondiff(np.any)
_isclose      = nondiff(lambda a, b, **tolerances: np.isclose(a, b, **tolerances), "isclose")
_allclose     = nondiff(lambda a, b, **tolerances: np.allclose(a, b, **tolerances), "allclose")
_array_equal  = nondiff(lambda a1, a2, **kw: np.array_equal(a1, a2, **kw), "array_equal")
_array_equiv  = nondiff(lambda a1, a2: np.array_equiv(a1, a2), "array_equiv")
# ----- selections and histograms: the integer parts ----------------------------------
_unique       = nondiff(lambda ar, **kw: np.unique(ar, True, True, True, **kw)[1:], "unique")
_bin_counts   = nondiff(lambda a, edges, *weights: np.histogram(a, edges, weights=_one(weights))[0], "histogram")
_bin_edges    = nondiff(lambda a, *weights, **kw: np.histogram_bin_edges(a, weights=_one(weights), **kw),
                        "histogram_bin_edges")
# fmt: on


@function(np.argwhere)
def argwhere(a: Any) -> Any:
    """The indices of the nonzero entries, one row each (no derivative); their number sets the
    result's shape and is remembered as a branch, as `nonzero` does."""
    count_guarded(a)
    return _argwhere(a)


@function(np.flatnonzero)
def flatnonzero(a: Any) -> Any:
    """The flat indices of the nonzero entries (no derivative); their number is remembered as
    a branch, as `nonzero` does."""
    count_guarded(a)
    return _flatnonzero(a)


def _one(optional: tuple[Any, ...]) -> Any:
    """The optional trailing argument of an equation (weights), or None."""
    return optional[0] if optional else None


def _bin_index_impl(a: Any, edges: Any) -> Any:
    """The bin of each entry of `a` as NumPy's histogram assigns it (the last bin closed),
    and len(edges) - 1 for entries outside every bin."""
    n = len(edges) - 1
    flat = np.ravel(a)
    index = np.searchsorted(edges, flat, side="right") - 1
    index[flat == edges[-1]] = n - 1
    index[~((flat >= edges[0]) & (flat <= edges[-1]))] = n
    return index


_bin_index = nondiff(_bin_index_impl, "histogram_bin_index")


def _plain(x: Any) -> Any:
    """The NumPy value under any layers of tracing."""
    while isinstance(x, Var):
        x = x.value
    return x


def _carries_derivative(x: Any) -> bool:
    return isinstance(x, Var) and x.inexact


# ----- functions taking several arrays: every array positional in the equation ----------


@function(np.searchsorted)
@method("searchsorted")
def searchsorted(a: Any, v: Any, side: str = "left", sorter: Any = None) -> Any:
    """Indices where `v` would be inserted into the sorted `a` (no derivative)."""
    return _searchsorted(a, v, side=side) if sorter is None else _searchsorted(a, v, sorter, side=side)


@function(np.digitize)
def digitize(x: Any, bins: Any, right: bool = False) -> Any:
    """The bin of each entry of `x` (no derivative)."""
    return _digitize(x, bins, right=bool(right))


@function(np.lexsort)
def lexsort(keys: Any, axis: int = -1) -> Any:
    """The permutation sorting by several keys, the last one primary (no derivative)."""
    return _lexsort(*list(keys), axis=int(axis))


@function(np.isclose)
def isclose(a: Any, b: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Any:
    """Where `a` and `b` agree within the tolerances (no derivative)."""
    return _isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)


@function(np.allclose)
def allclose(a: Any, b: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Any:
    """Whether `a` and `b` agree everywhere: a traced 0-d boolean, so Python control flow
    on it records the branch (NumPy returns Python's bool)."""
    return _allclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)


@function(np.array_equal)
def array_equal(a1: Any, a2: Any, equal_nan: bool = False) -> Any:
    """Whether the arrays have the same shape and entries: a traced 0-d boolean."""
    return _array_equal(a1, a2, equal_nan=equal_nan) if equal_nan else _array_equal(a1, a2)


@function(np.array_equiv)
def array_equiv(a1: Any, a2: Any) -> Any:
    """Whether the arrays are equal after broadcasting: a traced 0-d boolean."""
    return _array_equiv(a1, a2)


def _truth_reduction(name: str, primitive: Any, combine: Any) -> Any:
    def reduce(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False, *, where: Any = True) -> Any:
        unsupported_keywords(name, out=out)
        if where is not True:  # entries outside `where` do not count: fold them into `a`
            a = combine(a, where)
        params = {"axis": axis} if axis is not None else {}
        if keepdims:
            params["keepdims"] = True
        return primitive(a, **params)

    reduce.__name__ = name
    reduce.__doc__ = f"numpy.{name}: a boolean result, with no derivative."
    return function(getattr(np, name))(method(name)(reduce))


all = _truth_reduction("all", _all, lambda a, where: logical_or(a, logical_not(where)))
any = _truth_reduction("any", _any, logical_and)


# ----- counts and histograms: linear in the weights ----------------------------------


@function(np.bincount)
def bincount(x: Any, weights: Any = None, minlength: int = 0) -> Any:
    """How often each non-negative integer occurs in `x` (no derivative); with `weights`,
    the sum of the weights at each value, linear in the weights (a scatter-add)."""
    if not _carries_derivative(weights):
        return _bincount(x, minlength=minlength) if weights is None else _bincount(x, weights, minlength=minlength)
    if np.dtype(weights.dtype).kind == "c":
        raise TypeError("lagrad.numpy.bincount: weights must be real (NumPy cannot cast complex weights either)")
    if len(shape_of(x)) != 1 or shape_of(x) != shape_of(weights):
        raise ValueError("lagrad.numpy.bincount: x must be 1-D and the weights shaped like it")
    length = minlength
    if shape_of(x)[0] > 0:
        if not bool(_min(x) >= 0):  # a branch: a replay checks the indices stay non-negative
            raise ValueError("lagrad.numpy.bincount: x must not contain negative values")
        length = builtins.max(int(_max(x)) + 1, minlength)  # the result's shape: recorded as a branch
    return at(np.zeros(length))[x].add(astype(weights, np.float64))


def _data_edges(a: Any, n: int) -> Any:
    """NumPy's n equal-width bins over [min(a), max(a)] (widened by 0.5 where those are
    equal), by NumPy's linspace arithmetic but with lagrad's operations, so that the
    edges move with the data."""
    lo, hi = _min(a), _max(a)
    if bool(lo == hi):  # a branch: a replay checks it
        lo, hi = lo - 0.5, hi + 0.5
    step = (hi - lo) / n
    return at(lo + np.arange(n + 1, dtype=a.dtype) * step)[-1].set(hi)


def _edges(a: Any, bins: Any, range: Any, weights: Any) -> Any:
    """The bin edges: the given ones, constant ones (`range=` given), or ones that move
    with the data. `weights` (plain) only reach NumPy's checks and estimators."""
    if np.ndim(_plain(bins)) == 1:  # explicit edges: the given array, checked by NumPy
        np.histogram_bin_edges(_plain(a), _plain(bins))
        return array_like(bins)
    if range is None and _carries_derivative(a):
        # The number of bins a string estimator picks is read here, once.
        n = len(np.histogram_bin_edges(_plain(a), bins, None, weights)) - 1
        return _data_edges(a, n)
    return _bin_edges(a, bins=bins, range=range) if weights is None else _bin_edges(a, weights, bins=bins, range=range)


@function(np.histogram_bin_edges)
def histogram_bin_edges(a: Any, bins: Any = 10, range: Any = None, weights: Any = None) -> Any:
    """The bin edges numpy.histogram would use; computed from the data's range (no
    `range=`), they move with min(a) and max(a)."""
    return _edges(a, bins, range, _plain(weights))  # the edges never depend on the weights' values


@function(np.histogram)
def histogram(a: Any, bins: Any = 10, range: Any = None, density: Any = None, weights: Any = None) -> tuple[Any, Any]:
    """Counts (no derivative in `a`) or sums of `weights` (linear in them) per bin, and
    the edges; see the module docstring for which parts carry a derivative."""
    edges = _edges(a, bins, range, _plain(weights))
    if _carries_derivative(weights):
        if shape_of(weights) != shape_of(a):
            raise ValueError("lagrad.numpy.histogram: weights must be shaped like a")
        n = shape_of(edges)[0] - 1
        index = _bin_index(a, edges)  # n for entries outside every bin: summed into a spare bin, dropped
        counts = at(np.zeros(n + 1, dtype=weights.dtype))[index].add(ravel(weights))[:n]
    else:
        counts = _bin_counts(a, edges) if weights is None else _bin_counts(a, edges, weights)
    if density:  # NumPy divides by the widths as float64
        widths = astype(edges[1:] - edges[:-1], np.float64)
        counts = counts / widths / _sum(counts)
    return counts, edges


# ----- unique: integer indices, values selected from the input ------------------------


class UniqueAllResult(NamedTuple):
    values: Any
    indices: Any
    inverse_indices: Any
    counts: Any


class UniqueCountsResult(NamedTuple):
    values: Any
    counts: Any


class UniqueInverseResult(NamedTuple):
    values: Any
    inverse_indices: Any


def _unique_parts(ar: Any, axis: Any, equal_nan: bool) -> tuple[Any, Any, Any, Any]:
    """(values, first indices, inverse, counts); only the values carry a derivative."""
    params: dict[str, Any] = {"axis": axis} if axis is not None else {}
    if not equal_nan:
        params["equal_nan"] = False
    found = _unique(ar, **params)
    index, inverse, counts = found[0], found[1], found[2]
    if axis is None:
        values = getitem(ravel(ar), index)
    else:
        k = int(axis) % builtins.max(len(shape_of(ar)), 1)
        values = getitem(ar, (slice(None),) * k + (index,))
    return values, index, inverse, counts


@function(np.unique)
def unique(
    ar: Any,
    return_index: bool = False,
    return_inverse: bool = False,
    return_counts: bool = False,
    axis: Any = None,
    *,
    equal_nan: bool = True,
    sorted: bool = True,
) -> Any:
    """The sorted unique values of `ar` (a selection of its entries, so differentiable),
    optionally with the first indices, the inverse and the counts (no derivative).
    ``sorted=False`` still sorts: NumPy leaves that order unspecified."""
    values, index, inverse, counts = _unique_parts(ar, axis, equal_nan)
    extra = [p for p, wanted in zip((index, inverse, counts), (return_index, return_inverse, return_counts)) if wanted]
    return (values, *extra) if extra else values


@function(np.unique_all)
def unique_all(x: Any) -> UniqueAllResult:
    """Values (differentiable), first indices, inverse indices and counts of `x`."""
    return UniqueAllResult(*_unique_parts(x, None, equal_nan=False))


@function(np.unique_counts)
def unique_counts(x: Any) -> UniqueCountsResult:
    """Values (differentiable) and counts of `x`."""
    values, _, _, counts = _unique_parts(x, None, equal_nan=False)
    return UniqueCountsResult(values, counts)


@function(np.unique_inverse)
def unique_inverse(x: Any) -> UniqueInverseResult:
    """Values (differentiable) and the inverse indices that rebuild `x`."""
    values, _, inverse, _ = _unique_parts(x, None, equal_nan=False)
    return UniqueInverseResult(values, inverse)


@function(np.unique_values)
def unique_values(x: Any) -> Any:
    """The unique values of `x`, sorted (NumPy leaves the order unspecified)."""
    return _unique_parts(x, None, equal_nan=False)[0]


# ----- metadata: plain answers from shapes and dtypes, no equation --------------------


@function(np.iscomplexobj)
def iscomplexobj(x: Any) -> bool:
    """Whether `x` has a complex dtype."""
    return bool(np.iscomplexobj(_plain(x)))


@function(np.isrealobj)
def isrealobj(x: Any) -> bool:
    """Whether `x` has a dtype that is not complex."""
    return bool(np.isrealobj(_plain(x)))


def isscalar(element: Any) -> bool:
    """numpy.isscalar of the value a traced `element` holds. (NumPy does not dispatch
    isscalar: plain ``numpy.isscalar`` answers False for any traced value.)"""
    return bool(np.isscalar(_plain(element)))


@function(np.result_type)
def result_type(*arrays_and_dtypes: Any) -> np.dtype:
    """The dtype NumPy's promotion gives these arrays and dtypes."""
    return np.result_type(*(_plain(a) for a in arrays_and_dtypes))


@function(np.can_cast)
def can_cast(from_: Any, to: Any, casting: str = "safe") -> bool:
    """Whether the dtype of `from_` casts to `to` under the `casting` rule."""
    return bool(np.can_cast(_plain(from_), to, casting))


_METADATA = (iscomplexobj, isrealobj, isscalar, result_type, can_cast, shape, ndim, size)
for _f in (*_METADATA, zeros_like, ones_like, empty_like):
    NONDIFF[_f.__name__] = _f
