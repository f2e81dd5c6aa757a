"""Reductions: sum, mean, prod, max, min over axes, with keepdims, in both modes."""

from __future__ import annotations

import numpy as np
import pytest

import lagrad
import lagrad.numpy as lnp
from lagrad.core.program import META
from lagrad.numpy import PRIMITIVES
from lagrad.testing import checked_primitives
from tests.conftest import positive, rand
from tests.helpers import check

AXES = [
    ((), None),
    ((4,), None),
    ((4,), 0),
    ((3, 4), None),
    ((3, 4), 0),
    ((3, 4), -1),
    ((2, 3, 4), (0, 2)),
    ((2, 3, 4), 1),
]
REDUCTIONS = [lnp.sum, lnp.mean, lnp.prod, lnp.max, lnp.min]


@pytest.mark.parametrize("reduce", REDUCTIONS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("shape,axis", AXES, ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions(reduce, shape, axis, keepdims):
    check(lambda x: reduce(x, axis=axis, keepdims=keepdims), rand(*shape))


@pytest.mark.parametrize("name", ["sum", "mean", "prod", "max", "min"])
def test_methods_and_plain_numpy(name):
    x = rand(3, 4)
    check(lambda x: getattr(x, name)(axis=1), x)
    check(lambda x: getattr(np, name)(x, axis=0, keepdims=True), x)


def test_prod_is_exact_where_an_entry_is_zero():
    x = np.array([[2.0, 0.0, 3.0], [1.0, 4.0, 0.5]])
    g = lagrad.grad(lambda x: lnp.sum(lnp.prod(x, axis=1)))(x)
    assert np.allclose(g, [[0.0, 6.0, 0.0], [2.0, 0.5, 4.0]])
    h = lagrad.hessian(lambda v: lnp.prod(v))(np.array([2.0, 0.0, 3.0]))
    assert np.allclose(h, [[0.0, 3.0, 0.0], [3.0, 0.0, 2.0], [0.0, 2.0, 0.0]])
    check(lambda x: lnp.prod(x, axis=0), x)


def test_max_splits_ties_evenly():
    x = np.array([1.0, 3.0, 3.0, 2.0])
    assert np.array_equal(lagrad.grad(lnp.max)(x), [0.0, 0.5, 0.5, 0.0])
    assert np.array_equal(lagrad.grad(lambda x: lnp.min(x))(-x), [0.0, 0.5, 0.5, 0.0])


def test_ufunc_reduce_maps_to_the_reduction():
    x = rand(3, 4)
    check(lambda x: np.add.reduce(x, axis=1), x)
    check(lambda x: np.maximum.reduce(x, axis=0), x)
    check(lambda x: np.multiply.reduce(x), x)


_MASK = np.array([[True, False, True, True], [True, True, False, False], [True, False, False, True]])
_WITH_NAN = np.array([[0.3, np.nan, 1.2, -0.4], [0.7, 0.1, np.nan, 2.0], [np.nan, -1.1, 0.5, 0.9]])
WHERE = [
    ("sum", dict(where=_MASK, initial=1.5, axis=1)),
    ("sum", dict(where=_MASK[0], keepdims=True)),
    ("prod", dict(where=_MASK, axis=0)),
    ("prod", dict(initial=2.0)),
    ("max", dict(where=_MASK, initial=-5.0, axis=1)),
    ("min", dict(where=_MASK, initial=5.0)),
    ("max", dict(initial=0.5)),
    ("mean", dict(where=_MASK, axis=1)),
    ("mean", dict(where=_MASK)),
    ("var", dict(where=_MASK, axis=1)),
    ("std", dict(where=_MASK, ddof=1)),
    ("nansum", dict(where=_MASK, initial=1.0)),
    ("nanprod", dict(where=_MASK)),
    ("nanmean", dict(where=_MASK, axis=0)),
    ("nanvar", dict(where=_MASK, axis=1)),
    ("nanstd", dict(where=_MASK)),
    ("nanmax", dict(where=_MASK, initial=-9.0, axis=1)),
    ("nanmin", dict(where=_MASK, initial=9.0)),
]


@pytest.mark.parametrize("name,kwargs", WHERE, ids=lambda v: v if isinstance(v, str) else "-".join(v))
def test_where_and_initial(name, kwargs):
    """Every reduction takes NumPy's where= and initial=: NumPy's value, and the derivative."""
    f = lambda x: getattr(np, name)(x, **kwargs)
    x = rand(3, 4)
    check(f, x)
    assert np.allclose(lagrad.value(lagrad.trace(f, x)(x)), f(x))
    if name.startswith("nan"):
        assert np.allclose(getattr(lnp, name)(_WITH_NAN, **kwargs), f(_WITH_NAN), equal_nan=True)
        grad = lagrad.grad(lambda x: lnp.sum(f(x)))(_WITH_NAN)
        assert np.all(grad[np.isnan(_WITH_NAN)] == 0)


def test_unsupported_keywords_are_refused():
    with pytest.raises(ValueError, match="initial"):  # as NumPy: max has no identity to fill with
        lagrad.grad(lambda x: np.max(x, where=x > 0))(rand(3))
    with pytest.raises(TypeError, match="out"):
        lagrad.grad(lambda x: np.sum(x, out=np.zeros(())))(rand(3))


def test_reductions_keep_only_the_shape_of_their_input():
    x = rand(50)
    program = lagrad.trace(lambda x: lnp.sum(lnp.sin(x)), x)
    assert program.equations[-1].kept[1] == META
    assert type(program.replay(x).values[-1][1]).__name__ == "Aval"  # sum's rule reads x.shape only


# ----- helpers for the statistics, scans and nan-reductions below ---------------------------


def traced(f, *args):
    """f's value computed on traced inputs (the path whose derivative is checked)."""
    return lagrad.vjp(f, *args)[0]


def assert_like_numpy(f, *args, **kwargs):
    """f on traced inputs gives what NumPy gives on plain ones: values, shape and dtype."""
    expected = f(*args)  # plain inputs: NumPy's own function
    got = traced(f, *args)
    for e, g in zip(*(x if isinstance(x, tuple) else (x,) for x in (expected, got))):
        assert np.shape(g) == np.shape(e)
        assert np.asarray(g).dtype == np.asarray(e).dtype
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-14, **kwargs)


# NaN at a few places of a (2, 3, 4) array; no slice along axis 1, (0, 2) or None is all NaN
# and each keeps at least two numbers (for ddof=1).
NAN_AT = np.zeros((2, 3, 4), dtype=bool)
NAN_AT[0, 0, 1] = NAN_AT[1, 2, 3] = NAN_AT[0, 1, 0] = True


def with_nan(x):
    return lnp.where(NAN_AT, np.nan, x)


# ----- var, std ------------------------------------------------------------------------------


@pytest.mark.parametrize("reduce", [lnp.var, lnp.std], ids=lambda f: f.__name__)
@pytest.mark.parametrize("shape,axis", AXES[1:], ids=str)
@pytest.mark.parametrize("keepdims,ddof", [(False, 0), (True, 1)], ids=["ddof0", "keepdims-ddof1"])
def test_var_std(reduce, shape, axis, keepdims, ddof):
    x = rand(*shape)
    check(lambda x: reduce(x, axis=axis, keepdims=keepdims, ddof=ddof), x)
    assert_like_numpy(lambda x: reduce(x, axis=axis, keepdims=keepdims, ddof=ddof), x)


def test_var_closed_form_and_scalar():
    x = rand(5)
    expected = 2 * (x - x.mean()) / (5 - 1)
    np.testing.assert_allclose(lagrad.grad(lambda x: lnp.var(x, ddof=1))(x), expected, rtol=1e-12)
    check(lnp.var, rand())  # one entry: var is 0 whatever it is


def test_var_of_complex_follows_the_convention():
    z = rand(4) + 1j * rand(4)
    check(lnp.var, z)
    # a real function of z: the gradient is the conjugate of the Wirtinger one (|z|² -> 2 z̄)
    expected = 2 * np.conj(z - z.mean()) / 4
    np.testing.assert_allclose(lagrad.grad(lnp.var)(z), expected, rtol=1e-12)
    assert_like_numpy(lambda z: lnp.std(z), z)


def test_var_with_mean_and_correction():
    x = rand(3, 4)
    m = x.mean(axis=1, keepdims=True) + 0.1
    check(lambda x, m: lnp.var(x, axis=1, mean=m), x, m)
    check(lambda x, m: lnp.std(x, axis=1, mean=m, ddof=1), x, m)
    assert_like_numpy(lambda x, m: lnp.var(x, axis=1, mean=m, ddof=1), x, m)
    assert_like_numpy(lambda x: lnp.var(x, axis=0, correction=1), x)
    with pytest.raises(ValueError, match="ddof or correction"):
        lagrad.grad(lambda x: lnp.sum(lnp.var(x, ddof=1, correction=1)))(x)


def test_var_keeps_float32():
    x = rand(3, 4).astype(np.float32)
    for f in (lnp.var, lnp.std, lnp.nanvar, lnp.nanmean, lnp.cumprod, lnp.cumsum, lnp.ptp):
        g = lagrad.grad(lambda x: lnp.sum(f(x)))(x)
        assert g.dtype == np.float32, f.__name__
        assert traced(f, x).dtype == f(x).dtype == np.float32, f.__name__


# ----- average, ptp ---------------------------------------------------------------------------


AVERAGE_CASES = [
    (None, (2, 3, 4)),
    (2, (4,)),
    (-2, (3,)),
    ((2, 0), (4, 2)),  # weights laid out in the order the axes are given
    ((0, 2), (2, 4)),
]


@pytest.mark.parametrize("axis,wshape", AVERAGE_CASES, ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
def test_average_with_weights(axis, wshape, keepdims):
    a, w = rand(2, 3, 4), positive(*wshape)
    check(lambda a, w: lnp.average(a, axis=axis, weights=w, keepdims=keepdims), a, w)
    assert_like_numpy(lambda a, w: lnp.average(a, axis=axis, weights=w, keepdims=keepdims), a, w)


def test_average_returned_and_unweighted():
    a, w = rand(2, 3), positive(3)
    check(lambda a, w: lnp.average(a, axis=1, weights=w, returned=True), a, w)
    assert_like_numpy(lambda a, w: lnp.average(a, axis=1, weights=w, returned=True), a, w)
    check(lambda a: lnp.average(a, axis=0), a)
    assert_like_numpy(lambda a: lnp.average(a, axis=0, returned=True, keepdims=True), a)
    # the closed form: ∂/∂w_j of Σ a_j w_j / Σ w = (a_j − average) / Σ w
    v, u = rand(4), positive(4)
    expected = (v - np.average(v, weights=u)) / u.sum()
    np.testing.assert_allclose(lagrad.grad(lambda w: lnp.average(v, weights=w))(u), expected, rtol=1e-12)


def test_average_refuses_bad_weights():
    a = rand(2, 3)
    with pytest.raises(ZeroDivisionError, match="average"):
        lagrad.grad(lambda w: lnp.sum(lnp.average(a, axis=1, weights=w)))(np.array([1.0, -1.0, 0.0]))
    with pytest.raises(TypeError, match="axis"):
        lagrad.grad(lambda a: lnp.average(a, weights=np.ones(3)))(a)
    with pytest.raises(ValueError, match="weights of shape"):
        lagrad.grad(lambda a: lnp.sum(lnp.average(a, axis=0, weights=np.ones(3))))(a)


@pytest.mark.parametrize("shape,axis", AXES[1:], ids=str)
def test_ptp(shape, axis):
    check(lambda x: lnp.ptp(x, axis=axis), rand(*shape))
    assert_like_numpy(lambda x: lnp.ptp(x, axis=axis, keepdims=True), rand(*shape))


def test_ptp_splits_ties():
    assert np.array_equal(lagrad.grad(lnp.ptp)(np.array([1.0, 3.0, 3.0, 0.0])), [0.0, 0.5, 0.5, -1.0])
    assert np.array_equal(lagrad.grad(lnp.ptp)(np.full(3, 2.0)), np.zeros(3))


# ----- nan-reductions -------------------------------------------------------------------------


NAN_REDUCTIONS = [lnp.nansum, lnp.nanprod, lnp.nanmean, lnp.nanvar, lnp.nanstd, lnp.nanmax, lnp.nanmin]


@pytest.mark.parametrize("reduce", NAN_REDUCTIONS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("axis", [None, 1, (0, 2)], ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
def test_nan_reductions(reduce, axis, keepdims):
    x = rand(2, 3, 4)
    check(lambda x: reduce(with_nan(x), axis=axis, keepdims=keepdims), x)
    assert_like_numpy(lambda x: reduce(with_nan(x), axis=axis, keepdims=keepdims), x)


@pytest.mark.parametrize("reduce", NAN_REDUCTIONS, ids=lambda f: f.__name__)
def test_nan_entries_get_zero_derivative(reduce):
    x = np.where(NAN_AT, np.nan, rand(2, 3, 4))
    g = lagrad.grad(lambda x: lnp.sum(reduce(x, axis=1)))(x)
    assert np.all(g[NAN_AT] == 0) and np.all(np.isfinite(g))


def test_nan_reductions_agree_with_the_plain_ones_on_what_is_left():
    x = np.array([1.0, np.nan, 3.0, 0.5])
    left = np.array([1.0, 3.0, 0.5])
    pairs = [(lnp.nansum, lnp.sum), (lnp.nanmean, lnp.mean), (lnp.nanvar, lnp.var), (lnp.nanmax, lnp.max)]
    for nanreduce, reduce in pairs:
        g = lagrad.grad(nanreduce)(x)
        np.testing.assert_allclose(np.delete(g, 1), lagrad.grad(reduce)(left), rtol=1e-12)
        assert g[1] == 0


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("reduce", [lnp.nanmean, lnp.nanvar, lnp.nanstd, lnp.nanmax, lnp.nanmin])
def test_all_nan_slice_is_nan_with_zero_derivative(reduce):
    x = np.array([[np.nan, np.nan], [1.0, 2.5]])
    out, back = lagrad.vjp(lambda x: reduce(x, axis=1), x)
    np.testing.assert_array_equal(out, reduce(x, axis=1))  # NaN in the first place, as NumPy
    g = back(np.ones(2))[0]
    assert np.all(g[0] == 0) and np.all(np.isfinite(g))


def test_nanmax_splits_ties_and_skips_nan():
    x = np.array([np.nan, 3.0, 1.0, 3.0])
    assert np.array_equal(lagrad.grad(lnp.nanmax)(x), [0.0, 0.5, 0.0, 0.5])
    assert np.array_equal(lagrad.grad(lnp.nanmin)(-x), [0.0, 0.5, 0.0, 0.5])


def test_nanvar_without_degrees_of_freedom_is_nan():
    x = np.array([[1.0, np.nan], [1.0, 2.0]])
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        out, back = lagrad.vjp(lambda x: lnp.nanvar(x, axis=1, ddof=1), x)
        assert np.isnan(out[0]) and np.isnan(np.nanvar(x, axis=1, ddof=1)[0])
    assert np.all(np.isfinite(back(np.ones(2))[0]))


# ----- cumsum, cumprod -------------------------------------------------------------------------


SCAN_AXES = [((), None), ((4,), None), ((4,), 0), ((3, 4), None), ((3, 4), 0), ((3, 4), -1), ((2, 3, 4), 1)]
SCANS = [lnp.cumsum, lnp.cumprod]


@pytest.mark.parametrize("scan", SCANS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("shape,axis", SCAN_AXES, ids=str)
def test_scans(scan, shape, axis):
    x = rand(*shape)
    check(lambda x: scan(x, axis=axis), x)
    assert_like_numpy(lambda x: scan(x, axis=axis), x)


def test_scans_to_second_order_reach_the_transposes():
    """After a nonlinear function the multiplier reaching cumsum's transpose (cumsum_reverse)
    depends on x, so a second-order check differentiates the transpose too."""
    x = rand(3, 4)
    check(lambda x: lnp.cumsum(x, axis=1) ** 3, x)
    check(lambda x: lnp.sin(np.cumsum(x)), x)
    assert PRIMITIVES["cumsum_reverse"] in checked_primitives


def test_scans_of_complex():
    z = rand(2, 3) + 1j * rand(2, 3)
    for scan in SCANS:
        check(lambda z: scan(z, axis=1), z)
        assert_like_numpy(lambda z: scan(z, axis=0), z)


def _cumprod_jacobian(x):
    """∂P_i/∂x_j = Π_{k ≤ i, k ≠ j} x_k for j ≤ i, by the definition."""
    n = len(x)
    return np.array(
        [[np.prod([x[k] for k in range(i + 1) if k != j]) if j <= i else 0.0 for j in range(n)] for i in range(n)]
    )


def _cumprod_hessian(x, w):
    """∂²(Σ w_i P_i)/∂x_j∂x_k = Σ_{i ≥ j, k} w_i Π_{l ≤ i, l ∉ {j, k}} x_l for j ≠ k."""
    n = len(x)
    h = np.zeros((n, n))
    for j in range(n):
        for k in range(n):
            if j != k:
                h[j, k] = sum(
                    w[i] * np.prod([x[m] for m in range(i + 1) if m not in (j, k)]) for i in range(max(j, k), n)
                )
    return h


ZEROS = [[2.0, 0.0, 3.0, 0.5], [0.0, 1.5, -2.0, 3.0], [1.5, 0.0, -2.0, 0.0, 3.0], [1.5, 2.0, 0.5, 0.0], [0.0, 0.0, 2.0]]


@pytest.mark.parametrize("x", ZEROS, ids=str)
def test_cumprod_is_exact_at_zeros(x):
    x = np.array(x)
    w = np.linspace(1.0, 2.0, len(x))
    np.testing.assert_allclose(lagrad.jacobian(lnp.cumprod)(x), _cumprod_jacobian(x), atol=1e-15)
    np.testing.assert_allclose(
        lagrad.hessian(lambda x: lnp.sum(w * lnp.cumprod(x)))(x), _cumprod_hessian(x, w), atol=1e-14
    )
    check(lnp.cumprod, x)


def test_cumprod_at_zeros_along_an_axis():
    x = rand(3, 4)
    x[0, 1] = x[1, 0] = x[1, 2] = x[2, 3] = 0.0
    check(lambda x: lnp.cumprod(x, axis=1), x)
    check(lambda x: lnp.cumprod(x, axis=0), x)


def _recurrence(a, b, reverse):
    """The definition, one step at a time along the last axis."""
    y = np.zeros_like(b)
    n = b.shape[-1]
    steps = range(n - 1, -1, -1) if reverse else range(n)
    for j in steps:
        y[..., j] = b[..., j]
        if reverse and j + 1 < n:
            y[..., j] += a[..., j + 1] * y[..., j + 1]
        elif not reverse and j > 0:
            y[..., j] += a[..., j] * y[..., j - 1]
    return y


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("n", [1, 2, 5, 8])
def test_linear_scan_solves_the_recurrence(reverse, n):
    from lagrad.numpy.reductions import _scan

    a, b = rand(3, n), rand(3, n)
    a[1, n // 2] = 0.0
    np.testing.assert_allclose(_scan(a, b, axis=1, reverse=reverse), _recurrence(a, b, reverse), rtol=1e-13)
    np.testing.assert_allclose(_scan(a.T, b.T, axis=0, reverse=reverse), _recurrence(a, b, reverse).T, rtol=1e-13)
    check(lambda a, b: _scan(a, b, axis=1, reverse=reverse), a, b)


def test_linear_scan_keeps_a_zero_times_an_overflow_zero():
    from lagrad.numpy.reductions import _scan

    a = np.array([0.0, 1e300, 1e300, 1e300, 1e300])
    b = np.array([0.0, 0.0, 0.0, 1.0, 0.0])
    np.testing.assert_array_equal(_scan(a, b, axis=0, reverse=False), _recurrence(a, b, False))


def test_nan_scans():
    x = rand(2, 3, 4)
    for scan in (lnp.nancumsum, lnp.nancumprod):
        check(lambda x: scan(with_nan(x), axis=2), x)
        assert_like_numpy(lambda x: scan(with_nan(x), axis=1), x)
        assert_like_numpy(lambda x: scan(with_nan(x)), x)
        g = lagrad.grad(lambda x: lnp.sum(scan(x, axis=2)))(np.where(NAN_AT, np.nan, x))
        assert np.all(g[NAN_AT] == 0) and np.all(np.isfinite(g))


@pytest.mark.parametrize("scan", [lnp.cumulative_sum, lnp.cumulative_prod], ids=lambda f: f.__name__)
@pytest.mark.parametrize("shape,axis", [((4,), None), ((3, 4), 1), ((2, 3, 4), 0)], ids=str)
@pytest.mark.parametrize("initial", [False, True])
def test_cumulative(scan, shape, axis, initial):
    x = rand(*shape)
    check(lambda x: scan(x, axis=axis, include_initial=initial), x)
    assert_like_numpy(lambda x: scan(x, axis=axis, include_initial=initial), x)


def test_cumsum_keeps_nothing_for_its_rule():
    x = rand(50)
    program = lagrad.trace(lambda x: lnp.sum(lnp.cumsum(lnp.sin(x))), x)
    assert program.equations[1].primitive.name == "cumsum" and program.replay(x).values[1][1] is None


def test_scans_refuse_several_axes():
    with pytest.raises(TypeError, match="one integer"):
        lagrad.grad(lambda x: lnp.sum(lnp.cumsum(x, axis=(0, 1))))(rand(2, 3))


def test_duplicate_axes_are_refused():
    with pytest.raises(ValueError, match="duplicate"):
        lagrad.grad(lambda x: lnp.sum(lnp.var(x, axis=(1, -1))))(rand(2, 3))


# ----- the same functions as array methods and through plain NumPy --------------------------


PLAIN_NUMPY = [
    (np.var, {"axis": 1}),
    (np.std, {"axis": 0, "ddof": 1}),
    (np.average, {"axis": 1, "weights": np.arange(1.0, 5.0)}),
    (np.ptp, {"axis": 1}),
    (np.nansum, {"axis": 0}),
    (np.nanprod, {}),
    (np.nanmean, {"axis": 1}),
    (np.nanvar, {"axis": 1, "ddof": 1}),
    (np.nanstd, {}),
    (np.nanmax, {"axis": 0}),
    (np.nanmin, {"axis": 1}),
    (np.cumsum, {"axis": 0}),
    (np.cumprod, {"axis": 1}),
    (np.nancumsum, {}),
    (np.nancumprod, {"axis": 0}),
    (np.cumulative_sum, {"axis": 1, "include_initial": True}),
    (np.cumulative_prod, {"axis": 0}),
]


@pytest.mark.parametrize("fun,kwargs", PLAIN_NUMPY, ids=[f.__name__ for f, _ in PLAIN_NUMPY])
def test_plain_numpy_dispatches(fun, kwargs):
    x = rand(3, 4)
    check(lambda x: fun(x, **kwargs), x)
    assert_like_numpy(lambda x: fun(x, **kwargs), x)


@pytest.mark.parametrize(
    "name,kwargs", [("var", {"axis": 1}), ("std", {"ddof": 1}), ("cumsum", {}), ("cumprod", {"axis": 0})]
)
def test_new_methods(name, kwargs):
    x = rand(3, 4)
    check(lambda x: getattr(x, name)(**kwargs), x)
    assert_like_numpy(lambda x: getattr(x, name)(**kwargs), x)


def test_new_reductions_refuse_unsupported_keywords():
    with pytest.raises(TypeError, match="out"):
        lagrad.grad(lambda x: lnp.sum(lnp.var(x, out=np.empty(()))))(rand(3))
    with pytest.raises(TypeError, match="out"):
        lagrad.grad(lambda x: lnp.nansum(x, out=np.empty(())))(rand(3))


def test_axes_as_int_tuple_and_numpy_integer_normalise_alike():
    x = rand(2, 3, 4)
    for axis in (1, -2, (1,), (-2,), np.int64(1), (0, -1)):
        np.testing.assert_array_equal(lnp.sum(x, axis=axis), np.sum(x, axis=axis))
    with pytest.raises(np.exceptions.AxisError):
        lnp.sum(x, axis=3)
    with pytest.raises(ValueError, match="duplicate"):
        lnp.sum(x, axis=(1, -2))


def test_mean_and_max_gradients_through_the_plain_paths():
    # a 0-d NumPy scalar multiplier (the seed) and keepdims=True both go through spread and ties
    x = np.array([[1.0, 3.0, 3.0], [2.0, -1.0, 0.5]])
    g = lagrad.grad(lambda x: lnp.mean(lnp.max(x, axis=1, keepdims=True)))(x)
    np.testing.assert_array_equal(g, [[0.0, 0.25, 0.25], [0.5, 0.0, 0.0]])  # the mean halves, ties split evenly
    assert lagrad.grad(lambda x: lnp.mean(x, axis=(0, 1)))(x).tolist() == [[1 / 6] * 3] * 2


@pytest.mark.parametrize("name", ["sum", "prod", "max", "min", "nansum", "nanmax"])
@pytest.mark.parametrize("axis", [0, -1])
def test_a_0d_array_reduced_over_axis_0_or_minus_1_is_itself(name, axis):
    # NumPy reads an int axis 0 or -1 of a 0-d array as no axis; lagrad refused both with an
    # AxisError (its kernel was given the tuple (0,), which NumPy refuses)
    x = np.array(0.3)
    f = getattr(lnp, name)
    assert f(x, axis=axis).shape == getattr(np, name)(x, axis=axis).shape == ()
    for keepdims in (False, True):
        # the reduction is the identity: d/dx (x · reduce(x)) = 2x
        assert lagrad.grad(lambda x: f(x, axis=axis, keepdims=keepdims) * x)(x) == pytest.approx(0.6, abs=1e-15)
    with pytest.raises(np.exceptions.AxisError):
        lagrad.grad(lambda x: f(x, axis=1) * x)(x)


_REDUCTIONS_0D = ["sum", "prod", "max", "min", "ptp", "mean", "var", "std", "average", "nansum", "nanmean", "nanvar"]
_REDUCTIONS_0D += ["nanstd", "nanmax", "median"]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name", _REDUCTIONS_0D)
@pytest.mark.parametrize("axis", [0, -1, (0,), (-1,), (), 1])
def test_a_0d_array_takes_the_axes_numpy_takes(name, axis):
    # NumPy reads an int axis 0 or -1 of a 0-d array as no axis in sum, max, ptp and the nan
    # reductions, but refuses it in mean, var, std, average and median, and every reduction
    # refuses a tuple naming an axis; lagrad's mean gave 2.0 where NumPy raised, its sum took
    # (0,), and its nanmean, nanvar, nanstd and average refused 0 only when traced
    x = np.array(0.3)
    try:
        expected = getattr(np, name)(x, axis=axis)
    except np.exceptions.AxisError:
        expected = None
    f = getattr(lnp, name)
    for traced in (False, True):
        if expected is None:
            with pytest.raises(np.exceptions.AxisError):
                lagrad.grad(lambda x: f(x, axis=axis) * x)(x) if traced else f(x, axis=axis)
        elif traced:  # f(x) is x or 0 (a spread): d/dx (x · f(x)) = 2 f(x)
            assert lagrad.grad(lambda x: f(x, axis=axis) * x)(x) == pytest.approx(2 * expected, abs=1e-15)
        else:
            assert np.array_equal(f(x, axis=axis), expected)


@pytest.mark.filterwarnings("ignore:Degrees of freedom:RuntimeWarning")  # ddof=1 over one entry, as NumPy
@pytest.mark.parametrize("shape, axis", [((), None), ((3, 1), 1), ((1, 2), 0), ((1,), None)])
def test_std_over_one_entry_has_derivative_zero(shape, axis):
    # the variance of one entry is zero whatever the entry, so the std is constant: its
    # derivative is 0 (HIPS autograd's too), where sqrt's rule at 0 gave 0 × ∞ = NaN
    x = np.linspace(0.3, 0.9, int(np.prod(shape))).reshape(shape)
    f = lambda x: lnp.sum(lnp.std(x, axis=axis) * 2.0) + lnp.sum(x)
    assert np.array_equal(np.asarray(lnp.std(x, axis=axis)), np.std(x, axis=axis))
    assert np.array_equal(lagrad.grad(f)(x), np.ones(shape))
    assert np.array_equal(lagrad.hessian(f)(x), np.zeros(shape + shape))
    with np.errstate(invalid="ignore", divide="ignore"):  # ddof=1 over one entry: NaN, as NumPy
        assert np.isnan(lagrad.grad(lambda x: lnp.sum(lnp.std(x, axis=axis, ddof=1)))(x)).all()


@pytest.mark.parametrize("f", [lnp.std, lnp.nanstd])
def test_std_of_constant_entries_takes_norms_convention_in_both_modes(f):
    """std = ‖x − mean‖ / √n: at constant entries the norm of 0, whose derivative lagrad takes
    as 0 (docs/conventions.md, the subgradient of least norm). Reverse mode gave NaN there
    (sqrt's ∞ times the variance's 0) and tangent mode 0."""
    x = np.array([[2.0, 2.0, 2.0], [0.5, 1.0, 3.0]])

    def loss(x):
        return lnp.sum(f(x, axis=1) * np.array([1.0, 2.0]))

    want = np.zeros_like(x)
    want[1] = 2.0 * (x[1] - x[1].mean()) / (x[1].size * np.std(x[1]))  # d std/dx = (x − mean) / (n std)
    assert np.allclose(lagrad.grad(loss)(x), want, rtol=1e-14, atol=0)
    assert np.allclose(lagrad.jacobian(loss, mode="fwd")(x), want, rtol=1e-14, atol=0)
    assert np.array_equal(np.asarray(f(x, axis=1)), np.std(x, axis=1))
    hessian = lagrad.hessian(loss)(x)
    assert np.array_equal(hessian[0, :, 0, :], np.zeros((3, 3))) and np.isfinite(hessian).all()
    check(lambda x: f(x, axis=1), x[1:] * np.array([[1.0], [0.5]]), order=2)
