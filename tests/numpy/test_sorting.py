"""Sorting and order statistics: sort, median, quantile, percentile and their
NaN-ignoring versions, in both modes, against NumPy's values."""

from __future__ import annotations

import numpy as np
import pytest

import lagrad
import lagrad.numpy as lnp
from lagrad.core import Var
from lagrad.testing import check_grads
from tests.conftest import rand
from tests.helpers import check


def traced(f, *args):
    """f's value computed on traced inputs (the path whose derivative is checked)."""
    return lagrad.vjp(f, *args)[0]


def assert_like_numpy(f, *args, rtol=1e-12, atol=1e-14):
    """f on traced inputs gives what NumPy gives on plain ones: values, shape and dtype."""
    expected, got = f(*args), traced(f, *args)
    assert np.shape(got) == np.shape(expected)
    assert np.asarray(got).dtype == np.asarray(expected).dtype
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)


# NaN at a few places of a (2, 3, 4) array; every slice along axis 1, 2, (0, 2) or None keeps
# at least two numbers.
NAN_AT = np.zeros((2, 3, 4), dtype=bool)
NAN_AT[0, 0, 1] = NAN_AT[1, 2, 3] = NAN_AT[0, 1, 0] = NAN_AT[1, 0, 2] = NAN_AT[1, 0, 0] = True


def with_nan(x):
    return lnp.where(NAN_AT, np.nan, x)


# ----- sort ---------------------------------------------------------------------------------


SORT_AXES = [((4,), -1), ((4,), None), ((3, 4), 0), ((3, 4), -1), ((3, 4), None), ((2, 3, 4), 1)]


@pytest.mark.parametrize("shape,axis", SORT_AXES, ids=str)
def test_sort(shape, axis):
    x = rand(*shape)
    check(lambda x: lnp.sort(x, axis=axis), x)
    assert_like_numpy(lambda x: lnp.sort(x, axis=axis), x)


def test_sort_transpose_scatters_through_the_permutation():
    x = np.array([3.0, 1.0, 2.0, 0.5])
    w = np.array([10.0, 20.0, 30.0, 40.0])
    # sorted: 0.5 1 2 3, so x_0 = 3 takes w_3, x_1 = 1 takes w_1, x_2 = 2 takes w_2, x_3 takes w_0
    assert np.array_equal(lagrad.grad(lambda x: lnp.sum(w * lnp.sort(x)))(x), [40.0, 20.0, 30.0, 10.0])
    jac = lagrad.jacobian(lnp.sort, mode="fwd")(np.array([1.0, 0.0, 1.0]))  # a tie: still a permutation
    assert np.array_equal(np.sort(jac.sum(axis=0)), [1.0, 1.0, 1.0]) and np.array_equal(jac.sum(axis=1), np.ones(3))


def test_sort_ties_follow_the_kind():
    """At ties the derivative follows np.argsort with sort's kind: kind="stable" (or
    stable=True) keeps tied entries in their order (docs/conventions.md); the default follows
    NumPy's default argsort, which is not stable."""
    x = np.tile([2.0, 1.0, 2.0, 0.0], 10)
    assert not np.array_equal(np.argsort(x), np.argsort(x, kind="stable"))  # the case tells them apart
    for kwargs, order in [
        ({}, np.argsort(x)),
        ({"kind": "stable"}, np.argsort(x, kind="stable")),
        ({"stable": True}, np.argsort(x, kind="stable")),
    ]:
        for mode in ("rev", "fwd"):
            assert np.array_equal(lagrad.jacobian(lambda x: lnp.sort(x, **kwargs), mode=mode)(x), np.eye(40)[order])


def test_sort_of_complex_and_of_every_kind():
    z = rand(5) + 1j * rand(5)
    check(lambda z: lnp.sort(z), z)
    assert_like_numpy(lambda z: lnp.sort(z), z)
    x = rand(6)
    for kind in ("quicksort", "mergesort", "heapsort", "stable"):
        assert_like_numpy(lambda x: lnp.sort(x, kind=kind), x)


def test_sort_keeps_nan_last():
    x = np.array([2.0, np.nan, 1.0])
    assert_like_numpy(lnp.sort, x)
    g = lagrad.grad(lambda x: lnp.sort(x)[0] + 2 * lnp.sort(x)[1])(x)
    assert np.array_equal(g, [2.0, 0.0, 1.0])


def test_in_place_sort():
    def f(x):
        y = x.reshape(2, 3) * 1.0
        assert y.sort(axis=0) is None
        y.T.sort()  # through a view, as NumPy sorts it
        return y

    x = rand(6)
    assert np.array_equal(lagrad.vjp(f, x)[0], f(x))
    check_grads(f, x, modes=("fwd", "rev"), order=2)
    with pytest.raises(TypeError, match="order"):
        lagrad.grad(lambda x: lnp.sum(lnp.sort(x, order="a")))(rand(3))


# ----- median, quantile, percentile --------------------------------------------------------


MEDIAN_AXES = [((), None), ((5,), None), ((4,), 0), ((3, 4), 1), ((3, 4), 0), ((2, 3, 4), (0, 2)), ((2, 3, 4), -1)]


@pytest.mark.parametrize("shape,axis", MEDIAN_AXES, ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
def test_median(shape, axis, keepdims):
    x = rand(*shape)
    check(lambda x: lnp.median(x, axis=axis, keepdims=keepdims), x)
    assert_like_numpy(lambda x: lnp.median(x, axis=axis, keepdims=keepdims), x)


def test_median_is_the_middle_or_the_mean_of_the_two_middle_ones():
    assert np.array_equal(lagrad.grad(lnp.median)(np.array([3.0, 1.0, 2.0])), [0.0, 0.0, 1.0])
    assert np.array_equal(lagrad.grad(lnp.median)(np.array([4.0, 1.0, 3.0, 2.0])), [0.0, 0.0, 0.5, 0.5])


METHODS = [
    "inverted_cdf",
    "averaged_inverted_cdf",
    "closest_observation",
    "interpolated_inverted_cdf",
    "hazen",
    "weibull",
    "linear",
    "median_unbiased",
    "normal_unbiased",
    "lower",
    "higher",
    "midpoint",
    "nearest",
]


@pytest.mark.parametrize("method", METHODS)
def test_quantile_methods(method):
    x = rand(3, 7)
    q = np.array([0.0, 0.1, 0.5, 0.85, 1.0])
    check(lambda x: lnp.quantile(x, q, axis=1, method=method), x)
    assert_like_numpy(lambda x: lnp.quantile(x, q, axis=1, method=method), x)


# every pair of (q's rank, the axis kind, keepdims) once: 9 cases, not the full product of 18
# (each value meets every value of the other two; the shape arithmetic is pairwise)
@pytest.mark.parametrize(
    "q,shape,axis,keepdims",
    [
        (q, shape, axis, keepdims)
        for i, q in enumerate([0.3, [0.25, 0.75], [[0.1, 0.2], [0.9, 1.0]]])
        for j, (shape, axis) in enumerate([((6,), None), ((3, 4), 0), ((2, 3, 4), (1, 2))])
        for keepdims in [(i + j) % 2 == 0]  # the fullest case, 2-d q over a tuple of axes, keeps them
    ],
    ids=str,
)
def test_quantile_and_percentile_shapes(q, shape, axis, keepdims):
    x = rand(*shape)
    check(lambda x: lnp.quantile(x, q, axis=axis, keepdims=keepdims), x)
    assert_like_numpy(lambda x: lnp.quantile(x, q, axis=axis, keepdims=keepdims), x)
    percent = np.multiply(q, 100)
    check(lambda x: lnp.percentile(x, percent, axis=axis, keepdims=keepdims), x)
    assert_like_numpy(lambda x: lnp.percentile(x, percent, axis=axis, keepdims=keepdims), x)


def test_quantile_keeps_numpys_dtype():
    x = rand(7).astype(np.float32)
    for q in (0.3, [0.3, 0.6], np.float32(0.3)):
        for method in ("linear", "lower", "midpoint"):
            # float32 order statistics in [-1, 1]: NumPy and lagrad round the interpolation
            # differently, each to float32's precision
            assert_like_numpy(lambda x: lnp.quantile(x, q, method=method), x, rtol=0, atol=1e-6)
    assert_like_numpy(lambda x: lnp.percentile(x, 30.0), x, rtol=0, atol=1e-6)
    assert_like_numpy(lnp.median, x, rtol=0, atol=1e-6)


def test_quantile_in_q():
    x = rand(3, 5)
    q = np.array([0.3, 0.55, 0.9])  # ranks 1.2, 2.2, 3.6: away from the kinks at whole ranks
    check(lambda q: lnp.quantile(x, q, axis=1), q)
    check(lambda x, q: lnp.quantile(x, q, axis=0), x, q)
    check(lambda q: lnp.percentile(x, q, axis=1), 100 * q)
    assert_like_numpy(lambda x, q: lnp.quantile(x, q, axis=1, keepdims=True), x, q)
    # the slope in q is the gap between the two order statistics around it, times n − 1
    s = np.sort(x[0])
    expected = (s[2] - s[1]) * 4
    np.testing.assert_allclose(lagrad.grad(lambda q: lnp.quantile(x[0], q))(0.3), expected, rtol=1e-12)


def test_quantile_of_a_slice_with_nan_is_nan():
    x = np.array([[1.0, np.nan, 3.0], [0.5, 2.0, 1.0]])
    out, back = lagrad.vjp(lambda x: lnp.median(x, axis=1), x)
    np.testing.assert_array_equal(out, np.median(x, axis=1))
    g = back(np.ones(2))[0]
    assert np.array_equal(g, [[0.0, 0.0, 0.0], [0.0, 0.0, 1.0]])


def test_quantile_refuses_what_it_cannot_do():
    x = rand(4)
    with pytest.raises(ValueError, match=r"quantile: q must be in the range \[0, 1\]"):
        lagrad.grad(lambda x: lnp.quantile(x, 1.5))(x)
    with pytest.raises(ValueError, match=r"percentile: q must be in the range \[0, 100\]"):
        lagrad.grad(lambda x: lnp.percentile(x, -1.0))(x)
    with pytest.raises(NotImplementedError, match="method='linear'"):
        lagrad.grad(lambda q: lnp.quantile(x, q, method="lower"))(0.5)
    with pytest.raises(NotImplementedError, match="nanquantile"):
        lagrad.grad(lambda x: lnp.nanquantile(x, 0.5, method="nearest"))(x)
    with pytest.raises(TypeError, match="real numbers"):
        lagrad.grad(lambda z: lnp.abs(lnp.median(z)))(x + 1j)
    with pytest.raises(TypeError, match="weights"):
        lagrad.grad(lambda x: lnp.quantile(x, 0.5, method="inverted_cdf", weights=np.ones(4)))(x)


# ----- ignoring NaN --------------------------------------------------------------------------


@pytest.mark.parametrize("axis", [None, 1, 2, (0, 2)], ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
def test_nan_order_statistics(axis, keepdims):
    x = rand(2, 3, 4)
    q = [0.2, 0.5, 1.0]
    check(lambda x: lnp.nanmedian(with_nan(x), axis=axis, keepdims=keepdims), x)
    check(lambda x: lnp.nanquantile(with_nan(x), q, axis=axis, keepdims=keepdims), x)
    assert_like_numpy(lambda x: lnp.nanmedian(with_nan(x), axis=axis, keepdims=keepdims), x)
    assert_like_numpy(lambda x: lnp.nanquantile(with_nan(x), q, axis=axis, keepdims=keepdims), x)
    assert_like_numpy(lambda x: lnp.nanpercentile(with_nan(x), 40.0, axis=axis, keepdims=keepdims), x)


def test_nan_order_statistics_skip_nan_entries():
    x = np.array([4.0, np.nan, 1.0, 3.0, np.nan, 2.0])
    # what is left: 4 1 3 2, whose median is the mean of 2 and 3
    assert np.array_equal(lagrad.grad(lnp.nanmedian)(x), [0.0, 0.0, 0.0, 0.5, 0.0, 0.5])
    q = np.array([0.2, 0.7])
    check(lambda q: lnp.nanquantile(x, q), q)
    check(lambda q: lnp.nanpercentile(x, q), 100 * q)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_nan_order_statistics_of_an_all_nan_slice():
    x = np.array([[np.nan, np.nan, np.nan], [1.0, np.nan, 0.5]])
    out, back = lagrad.vjp(lambda x: lnp.nanmedian(x, axis=1), x)
    np.testing.assert_array_equal(out, np.nanmedian(x, axis=1))
    assert np.array_equal(back(np.ones(2))[0], [[0.0, 0.0, 0.0], [0.5, 0.0, 0.5]])


# ----- plain NumPy ------------------------------------------------------------------------------


PLAIN_NUMPY = [
    (np.sort, {"axis": 0}),
    (np.median, {"axis": 1}),
    (np.quantile, {"q": [0.2, 0.8], "axis": 0}),
    (np.percentile, {"q": 35.0}),
    (np.nanmedian, {"axis": 0}),
    (np.nanquantile, {"q": 0.6, "axis": 1}),
    (np.nanpercentile, {"q": [10.0, 90.0]}),
]


@pytest.mark.parametrize("fun,kwargs", PLAIN_NUMPY, ids=[f.__name__ for f, _ in PLAIN_NUMPY])
def test_plain_numpy_dispatches(fun, kwargs):
    x = rand(3, 4)
    check(lambda x: fun(x, **kwargs), x)
    assert_like_numpy(lambda x: fun(x, **kwargs), x)


def test_the_permutation_is_recorded_and_replayed():
    program = lagrad.trace(lambda x: lnp.sum(lnp.arange(3.0) * lnp.sort(x)), np.array([3.0, 1.0, 2.0]))
    assert program(np.array([0.0, 1.0, 2.0])) == 5.0  # replayed: sorted anew
    program = lagrad.trace(lambda x: lnp.median(x), np.array([3.0, 1.0, 2.0]))
    assert program(np.array([5.0, 7.0, 6.0])) == 6.0


# ----- the class of issue 16.2: rules that assume an ordering of their arguments ------------------
#
# np.clip with crossing bounds (a_min > a_max) returns a_max, but its rule sent the derivative to
# both bounds. Every function whose rule depends on which argument is larger, or on sorted input,
# is swept here: on generic points, some with crossing bounds, the derivative against finite
# differences (both modes, second order); at ties, crossings and unsorted tables, the value
# against NumPy's (or a clear refusal where NumPy's own answer is meaningless).

_rng = np.random.default_rng(16)
X = _rng.standard_normal(8)
LO = _rng.standard_normal(8)
HI = LO + np.where(np.arange(8) % 2 == 0, 0.8, -0.6)  # the bounds cross at odd entries
TIES = np.array([1.0, 3.0, 3.0, 0.0, 3.0, -1.0, 0.0, 1.0])
XP = np.sort(_rng.standard_normal(6))
FP = _rng.standard_normal(6)

QUANTILE_METHODS = (
    "inverted_cdf", "averaged_inverted_cdf", "closest_observation", "interpolated_inverted_cdf",
    "hazen", "weibull", "linear", "median_unbiased", "normal_unbiased", "lower", "higher",
    "midpoint", "nearest",
)  # fmt: skip
ORDERED = {
    "clip": (lambda m, x, lo, hi: m.clip(x, lo, hi), (X, LO, HI)),
    "clip, crossing constant bounds": (lambda m, x: m.clip(x, 0.5, -0.5), (X,)),
    "clip, crossing scalar bounds": (lambda m, lo, hi: m.clip(0.5, lo, hi), (np.float64(1.0), np.float64(0))),
    "x.clip": (lambda m, x, lo, hi: x.clip(lo, hi), (X, LO, HI)),
    "minimum(maximum)": (lambda m, x, lo, hi: m.minimum(m.maximum(x, lo), hi), (X, LO, HI)),
    "maximum(minimum)": (lambda m, x, lo, hi: m.maximum(m.minimum(x, hi), lo), (X, LO, HI)),
    "fmin(fmax)": (lambda m, x, lo, hi: m.fmin(m.fmax(x, lo), hi), (X, LO, HI)),
    "max of a stack": (lambda m, x, lo, hi: m.max(m.stack([x, lo, hi]), axis=0), (X, LO, HI)),
    "min, max, ptp": (lambda m, x: m.min(x) * m.max(x) + m.ptp(x.reshape(2, 4), axis=1), (X,)),
    "sort": (lambda m, x: m.sort(x.reshape(2, 4), axis=0), (X,)),
    "sort, descending": (lambda m, x: -m.sort(-x), (X,)),
    "x[argsort(x)]": (lambda m, x: x[m.argsort(x)], (X,)),
    "median": (lambda m, x: m.median(x.reshape(2, 4), axis=1), (X,)),
    **{
        f"quantile, {method}": (lambda m, x, method=method: m.quantile(x, [0.0, 0.3, 0.5, 1.0], method=method), (X,))
        for method in QUANTILE_METHODS
    },
    "quantile, traced q": (lambda m, x, q: m.quantile(x, q), (X, np.array([0.15, 0.55, 0.8]))),
    "percentile, traced q": (lambda m, x, q: m.percentile(x, q), (X, np.array([15.0, 55.0]))),
    "interp": (lambda m, x, xp, fp: m.interp(x, xp, fp), (X, XP, FP)),
    "interp, left and right": (lambda m, x, fp: m.interp(x, XP, fp, left=-2.0, right=fp[0]), (X, FP)),
    "lookup by searchsorted": (lambda m, x, fp: fp[m.clip(m.searchsorted(XP, x) - 1, 0, 4)] * x, (X, FP)),
}


@pytest.mark.parametrize("name", list(ORDERED))
def test_ordered_rules_agree_with_finite_differences(name):
    f, args = ORDERED[name]
    check(lambda *a: f(lnp, *a), *args)


@pytest.mark.parametrize("name", list(ORDERED))
@pytest.mark.parametrize("point", ["generic", "ties"])
def test_ordered_rules_take_numpys_value(name, point):
    f, args = ORDERED[name]
    if point == "ties":  # every array argument from one tied, crossing set of values
        args = tuple(a if np.ndim(a) == 0 or a is XP or len(a) != 8 else np.roll(TIES, k) for k, a in enumerate(args))
    assert_like_numpy(lambda *a: f(lnp if any(isinstance(v, Var) for v in a) else np, *a), *args)


def test_clip_with_crossing_bounds_sends_the_derivative_to_a_max():
    # issue 16.2: NumPy returns a_max where a_min > a_max; the rule gave (1, 1)
    g = lagrad.grad(lambda lo, hi: lnp.clip(0.5, lo, hi), (0, 1))(1.0, 0.0)
    assert g == (0.0, 1.0)
    g = lagrad.grad(lambda x, lo, hi: lnp.sum(lnp.clip(x, lo, hi)), (0, 1, 2))(X, LO, HI)
    crossing = LO > HI
    assert np.all(g[0][crossing] == 0) and np.all(g[1][crossing] == 0) and np.all(g[2][crossing] == 1)
    assert np.allclose(sum(g), 1.0)  # exactly one argument wins each entry, at bounds and ties too


def test_interp_refuses_an_unsorted_table():
    # NumPy does not check xp; its answer for unsorted points came out different from lagrad's
    xp = np.array([0.0, 2.0, 1.0, 3.0])
    with pytest.raises(ValueError, match=r"lagrad.numpy.interp: xp must be increasing.*argsort"):
        lagrad.grad(lambda x: lnp.sum(lnp.interp(x, xp, np.arange(4.0))))(np.array([0.5, 1.5]))
