"""lagrad.scipy.stats: values against SciPy's to 1e-10, derivatives in x and in every
parameter against finite differences (both modes, second order)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

import lagrad
from lagrad.scipy import stats
from tests.conftest import positive, rand
from tests.helpers import check

CONTINUOUS_METHODS = ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"]


def _close(ours, theirs):
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.shape == theirs.shape
    assert np.allclose(ours, theirs, rtol=1e-10, atol=1e-12, equal_nan=True)


# (distribution, shape parameters, points to evaluate at, some of them outside the support)
CONTINUOUS = [
    ("norm", (), np.array([-3.0, -0.4, 0.0, 0.8, 2.5])),
    ("t", (3.5,), np.array([-3.0, -0.4, 0.0, 0.8, 2.5])),
    ("gamma", (2.5,), np.array([-1.0, 0.0, 0.3, 1.2, 4.0])),
    ("gamma", (0.6,), np.array([-1.0, 0.3, 1.2, 4.0])),
    ("beta", (2.5, 1.5), np.array([-0.5, 0.0, 0.3, 0.7, 1.0, 1.5])),
    ("beta", (0.7, 3.0), np.array([0.1, 0.5, 0.9])),
]


@pytest.mark.filterwarnings("ignore:divide by zero encountered in log")  # log cdf = -inf at an end, as SciPy's
@pytest.mark.parametrize("name,shapes,x", CONTINUOUS, ids=[f"{n}{s}" for n, s, _ in CONTINUOUS])
@pytest.mark.parametrize("method", CONTINUOUS_METHODS)
def test_continuous_values(name, shapes, x, method):
    ours, theirs = getattr(getattr(stats, name), method), getattr(getattr(scipy.stats, name), method)
    _close(ours(x, *shapes), theirs(x, *shapes))
    _close(ours(x, *shapes, -0.3, 1.7), theirs(x, *shapes, -0.3, 1.7))  # loc and scale, positional
    _close(
        ours(x[:, None], *shapes, loc=np.array([0.0, 0.2]), scale=2.0),
        theirs(x[:, None], *shapes, loc=[0, 0.2], scale=2.0),
    )


@pytest.mark.parametrize("name,shapes", [(n, s) for n, s, _ in CONTINUOUS], ids=[f"{n}{s}" for n, s, _ in CONTINUOUS])
@pytest.mark.parametrize("method", ["ppf", "isf"])
def test_quantile_values(name, shapes, method):
    q = np.array([0.0, 0.05, 0.3, 0.5, 0.8, 0.99, 1.0])
    ours, theirs = getattr(getattr(stats, name), method), getattr(getattr(scipy.stats, name), method)
    _close(ours(q, *shapes), theirs(q, *shapes))
    _close(ours(q, *shapes, loc=0.4, scale=2.5), theirs(q, *shapes, loc=0.4, scale=2.5))


def _sample(name, *shape):
    """Points inside the support, away from its ends."""
    if name == "gamma":
        return positive(*shape)
    if name == "beta":
        return 0.5 + 0.4 * rand(*shape)
    return 2 * rand(*shape)


@pytest.mark.parametrize("method", ["logpdf", "pdf"])
@pytest.mark.parametrize("name,shapes", [("norm", ()), ("t", (3.5,)), ("gamma", (2.5,)), ("beta", (2.5, 1.5))])
@pytest.mark.parametrize("shape", [(), (3,), (2, 3)], ids=str)
def test_density_derivatives_in_x_and_every_parameter(method, name, shapes, shape):
    fun = getattr(getattr(stats, name), method)
    x = _sample(name, *shape)
    check(lambda x, *shapes: fun(x, *shapes), x, *map(np.float64, shapes))
    loc, scale = 0.1 * rand(*shape[-1:]), 1.0 + 0.2 * positive()  # loc broadcast along the last axis
    check(
        lambda x, loc, scale, *shapes: fun(x + loc, *shapes, loc=loc, scale=scale),
        x,
        loc,
        scale,
        *map(np.float64, shapes),
    )


@pytest.mark.parametrize("method", ["cdf", "logcdf", "sf", "logsf"])
@pytest.mark.parametrize("name,shapes", [("norm", ()), ("t", (3.5,)), ("gamma", (2.5,)), ("beta", (2.5, 1.5))])
def test_distribution_function_derivatives(method, name, shapes):
    """In x, loc and scale; the shape parameters of t, gamma and beta are held constant."""
    fun = getattr(getattr(stats, name), method)
    x = _sample(name, 2, 3)
    check(lambda x, loc, scale: fun(x + loc, *shapes, loc, scale), x, 0.3, 1.7)


@pytest.mark.parametrize("method", ["ppf", "isf"])
@pytest.mark.parametrize("name,shapes", [("norm", ()), ("t", (3.5,)), ("gamma", (2.5,)), ("beta", (2.5, 1.5))])
def test_quantile_derivatives(method, name, shapes):
    fun = getattr(getattr(stats, name), method)
    check(lambda q, loc, scale: fun(q, *shapes, loc=loc, scale=scale), 0.5 + 0.4 * rand(2, 3), 0.3, 1.7)


def test_norm_derivatives_closed_form():
    x, loc, scale = 0.7, 0.2, 1.5
    z = (x - loc) / scale
    g = lagrad.grad(stats.norm.logpdf, argnums=(0, 1, 2))(x, loc, scale)
    assert np.allclose(g, (-z / scale, z / scale, (z**2 - 1) / scale))
    assert np.isclose(lagrad.grad(stats.norm.cdf)(x, loc, scale), scipy.stats.norm.pdf(x, loc, scale))
    assert np.isclose(lagrad.grad(stats.t.cdf)(x, 3.5), scipy.stats.t.pdf(x, 3.5))
    assert np.isclose(lagrad.grad(stats.gamma.cdf)(x, 2.5), scipy.stats.gamma.pdf(x, 2.5))
    assert np.isclose(
        lagrad.grad(stats.beta.ppf)(0.3, 2.5, 1.5),
        1 / scipy.stats.beta.pdf(scipy.stats.beta.ppf(0.3, 2.5, 1.5), 2.5, 1.5),
    )


SHAPED = [
    ("t", (3.5,)),
    ("t", (0.8,)),
    ("gamma", (2.5,)),
    ("gamma", (0.4,)),
    ("beta", (2.5, 1.5)),
    ("beta", (0.7, 3.0)),
]


@pytest.mark.parametrize("method", ["cdf", "logcdf", "sf", "logsf", "ppf", "isf"])
@pytest.mark.parametrize("name,shapes", SHAPED, ids=[f"{n}{s}" for n, s in SHAPED])
def test_distribution_functions_in_shape_parameters(method, name, shapes):
    """The distribution functions and their inverses in x (or q), loc, scale and the shape
    parameters at once, first order, both modes. Three points: the scalar parameters broadcast
    against them as against any array (it was six, a 2 × 3 array: twice the series of the shape
    derivatives for the same code)."""
    fun = getattr(getattr(stats, name), method)
    shapes = tuple(map(np.float64, shapes))
    if method in ("ppf", "isf"):
        check(
            lambda q, loc, scale, *shapes: fun(q, *shapes, loc, scale),
            0.5 + 0.4 * rand(3),
            0.3,
            1.7,
            *shapes,
            order=1,
        )
    else:
        x = _sample(name, 3)
        check(lambda x, loc, scale, *shapes: fun(x + loc, *shapes, loc, scale), x, 0.3, 1.7, *shapes, order=1)


mpmath = pytest.importorskip("mpmath")


def _mp_derivative(f, at):
    with mpmath.workdps(30):
        return float(mpmath.diff(f, mpmath.mpf(at)))


def test_shape_derivatives_of_censored_likelihoods_against_mpmath():
    """The terms of a censored likelihood, log S(x) and log F(x), in the shape parameters, against
    mpmath's derivatives of its own functions: relative error below 1e-10."""
    x, scale = 3.7, 1.3
    z = mpmath.mpf(x) / mpmath.mpf(scale)
    for a in (0.3, 2.5, 40.0):
        ours = lagrad.grad(stats.gamma.logsf, argnums=1)(x, a, 0.0, scale)
        theirs = _mp_derivative(lambda s: mpmath.log(mpmath.gammainc(s, z, mpmath.inf, regularized=True)), a)
        assert abs(ours - theirs) <= 1e-10 * abs(theirs)
        ours = lagrad.grad(stats.gamma.logcdf, argnums=1)(x, a, 0.0, scale)
        theirs = _mp_derivative(lambda s: mpmath.log(mpmath.gammainc(s, 0, z, regularized=True)), a)
        assert abs(ours - theirs) <= 1e-10 * abs(theirs)
    for a, b in ((0.5, 3.0), (4.0, 2.0), (30.0, 60.0)):
        y = 0.35
        da, db = lagrad.grad(stats.beta.logcdf, argnums=(1, 2))(y, a, b)
        exact_a = _mp_derivative(lambda s: mpmath.log(mpmath.betainc(s, b, 0, y, regularized=True)), a)
        exact_b = _mp_derivative(lambda s: mpmath.log(mpmath.betainc(a, s, 0, y, regularized=True)), b)
        assert abs(da - exact_a) <= 1e-10 * abs(exact_a) and abs(db - exact_b) <= 1e-10 * abs(exact_b)
    for df in (0.7, 3.0, 25.0):
        t = -2.2  # P(T < t) = I_u(df/2, 1/2) / 2, u = df / (df + t²)
        ours = lagrad.grad(stats.t.logcdf, argnums=1)(t, df)
        half = mpmath.mpf(1) / 2
        theirs = _mp_derivative(
            lambda s: mpmath.log(half * mpmath.betainc(s / 2, half, 0, s / (s + t * t), regularized=True)), df
        )
        assert abs(ours - theirs) <= 1e-10 * abs(theirs)


def _mp_t_logpdf(z, df):
    z, df = mpmath.mpf(z), mpmath.mpf(df)
    log_norm = mpmath.loggamma((df + 1) / 2) - mpmath.loggamma(df / 2) - mpmath.log(mpmath.pi * df) / 2
    return log_norm - (df + 1) / 2 * mpmath.log1p(z * z / df)


@pytest.mark.parametrize("df", [0.7, 5.0, 60.0, 150.0, 1e4, 1e8, 1e12, 1e15])
def test_t_density_in_df_against_mpmath(df):
    """t.logpdf and t.pdf, their value and slope in df, and the mixed slope of t.cdf in x and df,
    against mpmath at 60 digits. At large df the slope is O(1/df²), a sum of O(1/df) terms: it
    was 15 % off at df = 1e8, 0 at 1e12 and 1e16 times too large at 1e15; the value was 3 times
    off at 1e15 (gammaln's difference)."""
    for z in (0.5, -3.0, 40.0):
        with mpmath.workdps(60):
            value = _mp_t_logpdf(z, df)
            slope = mpmath.diff(lambda s: _mp_t_logpdf(z, s), mpmath.mpf(df))
            density_slope = mpmath.diff(lambda s: mpmath.exp(_mp_t_logpdf(z, s)), mpmath.mpf(df))
        assert float(stats.t.logpdf(z, df)) == pytest.approx(float(value), rel=1e-14)
        assert float(stats.t.pdf(z, df)) == pytest.approx(float(mpmath.exp(value)), rel=1e-14)
        assert lagrad.grad(stats.t.logpdf, argnums=1)(z, df) == pytest.approx(float(slope), rel=1e-12)
        assert lagrad.grad(stats.t.pdf, argnums=1)(z, df) == pytest.approx(float(density_slope), rel=1e-12)
        mixed = lagrad.grad(lagrad.grad(stats.t.cdf), argnums=1)(z, df)  # ∂²cdf/∂x∂df = ∂pdf/∂df
        assert mixed == pytest.approx(float(density_slope), rel=1e-12)


@pytest.mark.parametrize("method", ["logpdf", "pdf"])
def test_t_density_derivatives_where_the_series_serve(method):
    """Both modes to order 2 in x and df at df = 60 and 200, where the df slope and the
    normalisation are asymptotic series (t.logpdf's primitive), and at small z/df (the
    log1p series)."""
    fun = getattr(stats.t, method)
    check(lambda x, df: fun(x, df), np.array([-3.0, 0.5, 2.0, 0.05]), 200.0)
    check(lambda x, df: fun(x, df), np.array([0.01, 0.2]), 60.0)


@pytest.mark.parametrize(
    "fun,special_name,arg,given",
    [
        (lambda a: stats.gamma.cdf(0.7, a), "gammainc", "a", 2),
        (lambda b: stats.beta.sf(0.3, 2.0, b), "betainc", "b", 1),
        (lambda df: stats.t.cdf(0.7, df), "stdtr", "df", 1),
        (lambda a: stats.gamma.ppf(0.3, a), "gammainc", "a", 2),
    ],
)
def test_no_higher_derivative_in_shape_parameters(fun, special_name, arg, given):
    for _ in range(given):
        fun = lagrad.grad(fun)
    assert np.isfinite(fun(2.5))
    word = {1: "second", 2: "third"}[given]
    with pytest.raises(NotImplementedError, match=f"{special_name}: no {word} derivative in `{arg}`"):
        lagrad.grad(fun)(2.5)


def test_gamma_survival_twice_in_the_shape():
    """The Hessian of a censored gamma log-likelihood in (a, scale), against finite differences."""
    x = np.array([0.4, 1.3, 3.7])
    check(lambda a, scale: stats.gamma.logsf(x, a, 0.0, scale), 2.5, 1.3, order=2)


def test_parameters_parsed_as_in_scipy():
    x = np.array([0.5, 1.5])
    _close(stats.gamma.logpdf(x, a=2.0, scale=1.5), scipy.stats.gamma.logpdf(x, a=2.0, scale=1.5))
    with pytest.raises(TypeError, match=r"gamma\.logpdf: missing shape parameter a"):
        stats.gamma.logpdf(x)
    with pytest.raises(TypeError, match=r"norm\.cdf: unexpected parameter 'a'"):
        stats.norm.cdf(x, a=1.0)
    with pytest.raises(TypeError, match=r"norm\.pdf: takes at most 2 parameters"):
        stats.norm.pdf(x, 0.0, 1.0, 2.0)
    with pytest.raises(TypeError, match="parameter 'loc' given twice"):
        stats.norm.pdf(x, 0.0, loc=1.0)


# ----- poisson ---------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:divide by zero encountered in log")
@pytest.mark.parametrize("method", ["logpmf", "pmf", "cdf", "logcdf", "sf", "logsf"])
def test_poisson_values(method):
    k = np.array([-1, 0, 1, 3, 7, 12])
    ours, theirs = getattr(stats.poisson, method), getattr(scipy.stats.poisson, method)
    _close(ours(k, 2.3), theirs(k, 2.3))
    _close(ours(k[:, None], np.array([0.4, 5.0])), theirs(k[:, None], [0.4, 5.0]))
    non_integer = np.array([-0.5, 0.0, 1.5, 3.0])
    _close(ours(non_integer, 2.3, 1), theirs(non_integer, 2.3, 1))


@pytest.mark.parametrize("method", ["logpmf", "pmf", "cdf", "logcdf", "sf", "logsf"])
@pytest.mark.parametrize("shape", [(), (4,), (2, 4)], ids=str)
def test_poisson_derivatives_in_mu(method, shape):
    k = np.array([0, 1, 3, 7])
    fun = getattr(stats.poisson, method)
    check(lambda mu: fun(k, mu), positive(*shape) + 0.5)


def test_poisson_traced_integer_counts_and_closed_form():
    k, mu = np.array([0, 2, 5]), 1.7
    assert np.allclose(lagrad.grad(lambda mu: stats.poisson.logpmf(k, mu).sum())(mu), np.sum(k / mu - 1))
    # d/dmu P(K <= k) = -pmf(k)
    assert np.allclose(
        lagrad.elementwise_grad(lambda mu: stats.poisson.cdf(k, mu))(np.full(3, mu)), -scipy.stats.poisson.pmf(k, mu)
    )
    g = lagrad.grad(lambda mu, k: stats.poisson.logpmf(k, mu))(mu, np.int64(3))  # k traced, integer
    assert np.isclose(g, 3 / mu - 1)


def test_poisson_count_without_derivative():
    with pytest.raises(TypeError, match=r"poisson\.logpmf: `k` is traced as floats"):
        lagrad.grad(lambda k: stats.poisson.logpmf(k, 2.0))(3.0)


# ----- dirichlet ---------------------------------------------------------------------------------

ALPHA = np.array([1.5, 2.0, 0.7])
POINTS = np.array([[0.2, 0.5], [0.3, 0.1], [0.5, 0.4]])  # components along the first axis


@pytest.mark.parametrize("method", ["logpdf", "pdf"])
@pytest.mark.parametrize("x", [POINTS, POINTS[:2], POINTS[:, 0], POINTS[:2, 1]], ids=["2d", "2d-last", "1d", "1d-last"])
def test_dirichlet_values(method, x):
    _close(getattr(stats.dirichlet, method)(x, ALPHA), getattr(scipy.stats.dirichlet, method)(x, ALPHA))


@pytest.mark.parametrize("method", ["logpdf", "pdf"])
@pytest.mark.parametrize("x", [POINTS[:2], POINTS[:2, 0]], ids=["2d", "1d"])
def test_dirichlet_derivatives(method, x):
    """In alpha, and in x along the simplex (the first K-1 components free)."""
    check(getattr(stats.dirichlet, method), x, ALPHA)


def test_dirichlet_bad_input():
    with pytest.raises(ValueError, match=r"dirichlet\.logpdf: x must lie on the simplex"):
        stats.dirichlet.logpdf(np.array([0.2, 0.2, 0.2]), ALPHA)
    with pytest.raises(ValueError, match="needs 3 or 2 components"):
        stats.dirichlet.logpdf(np.array([1.0]), ALPHA)
    with pytest.raises(ValueError, match="every alpha must be greater than 0"):
        stats.dirichlet.logpdf(POINTS, -ALPHA)


# ----- multivariate normal ------------------------------------------------------------------------

COV = np.array([[2.0, 0.3, 0.1], [0.3, 1.0, -0.2], [0.1, -0.2, 1.5]])
MEAN = np.array([0.1, -0.2, 0.3])


@pytest.mark.parametrize("cov", [COV, np.diag(COV), 1.7], ids=["matrix", "diagonal", "scalar"])
@pytest.mark.parametrize("x_shape", [(3,), (4, 3), (1, 3), (2, 2, 3)], ids=str)
@pytest.mark.parametrize("method", ["logpdf", "pdf"])
def test_multivariate_normal_values(cov, x_shape, method):
    x = rand(*x_shape)
    ours, theirs = getattr(stats.multivariate_normal, method), getattr(scipy.stats.multivariate_normal, method)
    _close(ours(x, MEAN, cov), theirs(x, MEAN, cov))
    if np.ndim(cov) == 2:  # the default mean: SciPy takes a vector or scalar cov alone as one-dimensional
        _close(ours(x, cov=cov), theirs(x, cov=cov))


def test_multivariate_normal_one_dimensional():
    x = rand(5)  # five points of a one-dimensional distribution
    _close(stats.multivariate_normal.logpdf(x, 0.5, 2.0), scipy.stats.multivariate_normal.logpdf(x, 0.5, 2.0))
    _close(stats.multivariate_normal.logpdf(x), scipy.stats.multivariate_normal.logpdf(x))
    check(lambda x, m, c: stats.multivariate_normal.logpdf(x, m, c), x, 0.5, 2.0)


@pytest.mark.parametrize("cov", [COV, np.diag(COV), 1.7], ids=["matrix", "diagonal", "scalar"])
@pytest.mark.parametrize("x_shape", [(3,), (4, 3), (2, 2, 3)], ids=str)
def test_multivariate_normal_derivatives(cov, x_shape):
    """In x, mean and cov; a matrix cov is perturbed in every entry, symmetric or not."""
    check(lambda x, mean, cov: stats.multivariate_normal.logpdf(x, mean, cov), rand(*x_shape), MEAN, cov)


def test_multivariate_normal_closed_form():
    """∂/∂Σ log N(x; μ, Σ) = (Σ⁻¹ d dᵀ Σ⁻¹ - Σ⁻¹) / 2 and ∂/∂x = -Σ⁻¹ d, with d = x - μ."""
    x = rand(3)
    inv = np.linalg.inv(COV)
    d = x - MEAN
    gx, gcov = lagrad.grad(stats.multivariate_normal.logpdf, argnums=(0, 2))(x, MEAN, COV)
    assert np.allclose(gx, -inv @ d)
    assert np.allclose(gcov, 0.5 * (np.outer(inv @ d, inv @ d) - inv))
    h = lagrad.hessian(stats.multivariate_normal.logpdf)(x, MEAN, COV)
    assert np.allclose(h, -inv)


def test_multivariate_normal_bad_input():
    with pytest.raises(np.linalg.LinAlgError, match="multivariate_normal: cov is not positive definite"):
        stats.multivariate_normal.logpdf(rand(2), np.zeros(2), np.array([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(NotImplementedError, match="allow_singular=True is not supported"):
        stats.multivariate_normal.logpdf(rand(2), np.zeros(2), np.eye(2), allow_singular=True)
    with pytest.raises(ValueError, match="does not match a mean of length 2"):
        stats.multivariate_normal.logpdf(rand(2), np.zeros(2), COV)
    with pytest.raises(ValueError, match="x has 2 components"):
        stats.multivariate_normal.logpdf(rand(2), MEAN, COV)


@pytest.mark.parametrize(
    "dist,call",
    [
        ("norm", lambda d: d.rvs(size=3, random_state=0)),
        ("norm", lambda d: d.fit([1.0, 2.0, 4.0])),
        ("norm", lambda d: d.interval(0.9, loc=1.0)),
        ("t", lambda d: d.stats(5.0, moments="mv")),
        ("gamma", lambda d: d.mean(2.0, scale=3.0)),
        ("beta", lambda d: d.entropy(2.0, 3.0)),
        ("poisson", lambda d: d.rvs(3.0, size=4, random_state=1)),
        ("dirichlet", lambda d: d.mean([1.0, 2.0, 3.0])),
        ("multivariate_normal", lambda d: d.rvs(mean=[0.0, 1.0], random_state=2)),
    ],
)
def test_scipy_methods_without_derivative_pass_through(dist, call):
    """Every method of SciPy's distribution is there: those lagrad does not differentiate are SciPy's."""
    import scipy.stats

    mine, theirs = getattr(lagrad.scipy.stats, dist), getattr(scipy.stats, dist)
    got, expected = call(mine), call(theirs)
    assert np.allclose(np.asarray(got, dtype=float), np.asarray(expected, dtype=float))


def test_frozen_distributions():
    """``norm(loc, scale).logpdf(x)`` as SciPy freezes it: lagrad's methods, SciPy's for the rest."""
    import scipy.stats

    assert np.isclose(stats.norm(1.0, 2.0).logpdf(0.5), scipy.stats.norm(1.0, 2.0).logpdf(0.5))
    assert np.isclose(stats.poisson(3.0).logpmf(2), scipy.stats.poisson(3.0).logpmf(2))
    assert np.isclose(stats.gamma(2.0, scale=3.0).mean(), 6.0)
    check(lambda m, s: stats.norm(m, s).logpdf(0.3) + stats.t(5.0, loc=m).cdf(0.4), 0.2, 1.5)
