"""lagrad.scipy.special: every rule against finite differences (both modes, second order),
values against SciPy, closed forms, and the errors for arguments without a derivative."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special

import lagrad
import lagrad.numpy as lnp
from lagrad.scipy import special
from tests.conftest import positive, rand
from tests.helpers import check

SHAPES = [(), (3,), (2, 3)]
BROADCAST = [((), ()), ((3,), (3,)), ((2, 1), (3,)), ((), (2, 3))]


def _interval(low, high):
    """Samples strictly inside (low, high)."""
    return lambda *shape: low + (high - low) * (0.05 + 0.45 * (rand(*shape) + 1))


def _away_from_zero(*shape):
    x = 2 * rand(*shape)
    return x + np.where(x >= 0, 0.2, -0.2)


UNARY = [
    ("gamma", positive),
    ("gamma", _interval(-0.9, -0.1)),  # between poles: negative arguments
    ("gammaln", positive),
    ("digamma", positive),
    ("psi", positive),
    ("erf", rand),
    ("erfc", rand),
    ("erfcx", rand),
    ("erfinv", _interval(-1, 1)),
    ("erfcinv", _interval(0, 2)),
    ("ndtr", lambda *s: 3 * rand(*s)),
    ("log_ndtr", lambda *s: 3 * rand(*s)),
    ("ndtri", _interval(0, 1)),
    ("expit", lambda *s: 3 * rand(*s)),
    ("log_expit", lambda *s: 3 * rand(*s)),
    ("logit", _interval(0, 1)),
    ("entr", positive),
    ("i0", lambda *s: 2 * rand(*s)),
    ("i1", lambda *s: 2 * rand(*s)),
    ("i0e", _away_from_zero),  # |x| has a kink at 0
    ("i1e", _away_from_zero),
]

BINARY = [
    ("beta", positive, positive),
    ("betaln", positive, positive),
    ("xlogy", rand, positive),
    ("xlog1py", rand, _interval(-1, 1)),
    ("rel_entr", positive, positive),
    ("kl_div", positive, positive),
]

# (name, constant first arguments, sampler of the differentiated last argument)
WITH_CONSTANTS = [
    ("gammainc", (2.5,), positive),
    ("gammaincc", (0.7,), positive),
    ("gammaincinv", (2.5,), _interval(0, 1)),
    ("gammainccinv", (0.7,), _interval(0, 1)),
    ("betainc", (2.5, 1.5), _interval(0, 1)),
    ("betaincc", (0.7, 3.0), _interval(0, 1)),
    ("betaincinv", (2.5, 1.5), _interval(0, 1)),
    ("betainccinv", (0.7, 3.0), _interval(0, 1)),
    ("stdtr", (3.5,), lambda *s: 3 * rand(*s)),
    ("stdtrit", (3.5,), _interval(0, 1)),
    ("iv", (0,), lambda *s: 2 * rand(*s)),
    ("iv", (np.array([1, 2, 3]),), lambda *s: 2 * rand(*s)),
    ("iv", (2.5,), positive),
    ("ive", (1,), _away_from_zero),
    ("ive", (np.array([0.5, 2.0, 3.5]),), positive),
]


@pytest.mark.parametrize("name,sample", UNARY, ids=[n for n, _ in UNARY])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_unary(name, sample, shape):
    x = sample(*shape)
    fun = getattr(special, name)
    assert np.allclose(fun(x), getattr(scipy.special, name)(x), rtol=1e-12)
    check(fun, x)


@pytest.mark.parametrize("name,sample_x,sample_y", BINARY, ids=[n for n, _, _ in BINARY])
@pytest.mark.parametrize("shapes", BROADCAST, ids=str)
def test_binary(name, sample_x, sample_y, shapes):
    x, y = sample_x(*shapes[0]), sample_y(*shapes[1])
    fun = getattr(special, name)
    assert np.allclose(fun(x, y), getattr(scipy.special, name)(x, y), rtol=1e-12)
    check(fun, x, y)


@pytest.mark.parametrize("name,constants,sample", WITH_CONSTANTS, ids=[n for n, _, _ in WITH_CONSTANTS])
@pytest.mark.parametrize("shape", [(), (3,), (2, 3)], ids=str)
def test_in_the_last_argument(name, constants, sample, shape):
    x = sample(*shape)
    fun = getattr(special, name)
    assert np.allclose(fun(*constants, x), getattr(scipy.special, name)(*constants, x), rtol=1e-12)
    check(lambda x: fun(*constants, x), x)


@pytest.mark.parametrize("name", ["erf", "gamma", "ndtr", "xlogy", "iv", "stdtr"])
def test_scipy_ufunc_on_traced_values(name):
    """scipy.special.<name>(traced) reaches lagrad's primitive through NumPy's ufunc hook."""
    ufunc = getattr(scipy.special, name)
    x = positive(3)
    f = (lambda x: ufunc(x)) if ufunc.nin == 1 else (lambda x: ufunc(1.5, x))
    check(f, x)
    assert lagrad.trace(f, x).equations[-1].primitive is getattr(special, name)


@pytest.mark.parametrize("n", [0, 1, 2, 3])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_polygamma(n, shape):
    x = positive(*shape)
    assert np.allclose(special.polygamma(n, x), scipy.special.polygamma(n, x), rtol=1e-12)
    check(lambda x: special.polygamma(n, x), x)


def test_polygamma_broadcast_orders():
    n, x = np.array([[0], [2]]), positive(3)
    assert np.allclose(special.polygamma(n, x), scipy.special.polygamma(n, x))
    check(lambda x: special.polygamma(n, x), x)


@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_multigammaln(d, shape):
    a = positive(*shape) + 1.0
    assert np.allclose(special.multigammaln(a, d), scipy.special.multigammaln(a, d), rtol=1e-12)
    check(lambda a: special.multigammaln(a, d), a)


@pytest.mark.parametrize("name", ["erf", "erfc", "log_ndtr", "xlogy"])
def test_complex_arguments(name):
    """Holomorphic rules, g · f'(z) without conjugation, checked on complex inputs."""
    z = rand(3) + 1j * rand(3)
    fun = getattr(special, name)
    if name == "xlogy":
        check(fun, z, z + 2.0)
    else:
        check(fun, z)


def test_closed_forms():
    """Derivatives against known values, independent of the rules."""
    euler_gamma = 0.5772156649015329
    assert np.isclose(lagrad.grad(special.gammaln)(1.0), -euler_gamma)
    assert np.isclose(lagrad.grad(special.digamma)(1.0), np.pi**2 / 6)
    assert np.isclose(lagrad.grad(lagrad.grad(special.gamma))(1.0), euler_gamma**2 + np.pi**2 / 6)
    assert np.isclose(lagrad.grad(special.erf)(0.0), 2 / np.sqrt(np.pi))
    assert np.isclose(lagrad.grad(special.erfinv)(0.0), np.sqrt(np.pi) / 2)
    assert np.isclose(lagrad.grad(special.ndtri)(0.5), np.sqrt(2 * np.pi))
    assert np.isclose(lagrad.grad(special.i1)(0.0), 0.5)
    assert np.isclose(lagrad.grad(lambda x: special.gammainc(1.0, x))(0.7), np.exp(-0.7))  # 1 - exp(-x)
    assert np.isclose(lagrad.grad(lambda x: special.betainc(1.0, 1.0, x))(0.3), 1.0)  # the identity on [0, 1]
    assert np.isclose(lagrad.grad(lambda x: special.stdtr(1.0, x))(0.5), 1 / (np.pi * 1.25))  # Cauchy


def test_log_ndtr_far_in_the_tail():
    """d/dx log Φ(x) = φ(x)/Φ(x) ≈ -x for x → -∞, where Φ itself underflows."""
    x = np.array([-40.0, -200.0])
    g = lagrad.elementwise_grad(special.log_ndtr)(x)
    assert np.all(np.isfinite(g))
    assert np.allclose(g, -x - 1 / x, rtol=1e-3)


# erfcx'(x) and log_ndtr'(x) from mpmath at 60 digits (2x e^{x²} erfc(x) - 2/√π, npdf/ncdf)
ERFCX_SLOPES = {30.0: -0.00062583541050748407, 1e4: -5.6418957508491275e-9, 1e8: -5.641895835477562e-17}
LOG_NDTR_SLOPES = {-40.0: 40.024968847207264, -1e5: 100000.00001, -1e8: 100000000.00000001}


@pytest.mark.parametrize("name,slopes", [("erfcx", ERFCX_SLOPES), ("log_ndtr", LOG_NDTR_SLOPES)])
def test_slopes_where_the_closed_form_cancels(name, slopes):
    """erfcx' = 2x erfcx - 2/√π cancelled for large x (0 at 1e8, 5e-5 relative at 1e6);
    log_ndtr' = exp(-x²/2 - log_ndtr)/√(2π) for very negative x (94 % off at -1e8)."""
    fun = getattr(special, name)
    x = np.array(list(slopes))
    want = np.array(list(slopes.values()))
    assert np.allclose(lagrad.elementwise_grad(fun)(x), want, rtol=1e-14, atol=0)
    tangent = lagrad.jvp(fun, (x,), (np.ones(3),))[1]
    assert np.allclose(tangent, want, rtol=1e-14, atol=0)


@pytest.mark.parametrize("x", [-12.0, -3.0, 4.0, 9.0, 11.0, 30.0])
def test_erfcx_and_log_ndtr_to_second_order_on_both_sides_of_their_switch(x):
    check(special.erfcx, np.array([x, x / 2]))
    check(special.log_ndtr, np.array([x, -x / 3]))


@pytest.mark.parametrize("dtype,rtol", [(np.float32, 2e-6), (np.float16, 2e-3)])
def test_erfcx_slope_in_low_precision(dtype, rtol):
    """From 5 on float32 and float16 take the series: the closed form lost 2e-5 at x = 9."""
    x = np.array([5.5, 9.0, 30.0])
    want = np.array([-0.017794764701022603, -0.0068401344155682593, -0.00062583541050748407])  # mpmath
    got = lagrad.elementwise_grad(special.erfcx)(x.astype(dtype))
    assert got.dtype == dtype
    assert np.allclose(got, want, rtol=rtol, atol=0)


def test_xlogy_at_zero():
    """xlogy(0, y) = 0 for every y, so its derivative in y is 0 there, even at y = 0."""
    assert lagrad.grad(special.xlogy, argnums=1)(0.0, 0.0) == 0.0
    assert lagrad.grad(special.xlog1py, argnums=1)(0.0, -1.0) == 0.0
    assert np.isclose(lagrad.grad(special.xlogy)(0.0, 2.0), np.log(2.0))


@pytest.mark.parametrize("fun,y,mixed", [(special.xlogy, 2.0, 1 / 2.0), (special.xlog1py, 3.0, 1 / 4.0)])
def test_xlogy_second_derivative_at_zero(fun, y, mixed):
    """∂²/∂x∂y of x·log(y) is 1/y (of x·log1p(y), 1/(1 + y)) at x = 0 too: the safe
    denominator that keeps ∂/∂y zero there gave the mixed derivative 1, whatever y."""
    for h in (
        lagrad.hessian(lambda v: fun(v[0], v[1]))(np.array([0.0, y])),
        lagrad.jacobian(lagrad.grad(lambda v: fun(v[0], v[1])), mode="rev")(np.array([0.0, y])),
    ):
        assert h[0, 1] == pytest.approx(mixed, rel=1e-15) and h[1, 0] == pytest.approx(mixed, rel=1e-15)
    check(fun, np.zeros(3), positive(3))


@pytest.mark.parametrize("name", ["rel_entr", "kl_div"])
def test_entropies_slope_in_x_as_a_difference_of_logs(name):
    """∂/∂x is log(x) - log(y) (+ 1 for rel_entr): at x = 0 its derivative in y is -1/y, as
    ∂²/∂x∂y from the other side (log(x/y) gave 0 forward over reverse, NaN reverse over
    reverse), and x/y underflowing to 0 made the slope -inf where it is about -921."""
    fun = getattr(special, name)
    for mode in ("fwd", "rev"):
        with np.errstate(divide="ignore"):  # log(0)
            h = lagrad.jacobian(lagrad.grad(lambda v: fun(v[0], v[1])), mode=mode)(np.array([0.0, 2.0]))
        assert h[0, 0] == np.inf and h[0, 1] == h[1, 0] == -0.5 and h[1, 1] == 0.0
    one = 1.0 if name == "rel_entr" else 0.0
    slope = lagrad.grad(fun)(1e-300, 1e100)
    assert slope == pytest.approx(np.log(1e-300) - np.log(1e100) + one, rel=1e-15)
    check(fun, positive(3), positive(3))


@pytest.mark.parametrize(
    "fun,arg",
    [
        (lambda v: special.iv(v, 1.5), "v"),
        (lambda v: special.ive(v, 1.5), "v"),
        (lambda n: special.polygamma(n, 1.5), "n"),
    ],
)
@pytest.mark.parametrize("mode", ["rev", "fwd"])
def test_no_derivative_in_shape_parameters_or_orders(fun, arg, mode):
    with pytest.raises(NotImplementedError, match=f"no derivative in `{arg}`"):
        if mode == "rev":
            lagrad.grad(fun)(2.0)
        else:
            lagrad.jvp(fun, (2.0,), (1.0,))


def test_ive_refuses_complex_arguments():
    z = np.array([0.5 + 1.0j, -1.0 + 0.3j])
    with pytest.raises(NotImplementedError, match="no derivative at complex z"):
        lagrad.vjp(lambda z: special.ive(1.0, z), z)[1](np.ones(2, complex))


def test_iv_complex_arguments():
    check(lambda z: special.iv(1.0, z), np.array([0.5 + 1.0j, -1.0 + 0.3j]))


def test_constant_or_integer_orders_are_fine():
    n = np.array([1, 2])
    assert np.allclose(
        lagrad.grad(lambda x: lagrad.numpy.sum(special.polygamma(n, x)))(1.5), scipy.special.polygamma(n + 1, 1.5).sum()
    )


def test_bad_input():
    with pytest.raises(ValueError, match="polygamma: the order n must be an integer"):
        special.polygamma(1.5, 2.0)
    with pytest.raises(ValueError, match=r"multigammaln: needs a > \(d-1\)/2"):
        special.multigammaln(0.9, 3)
    with pytest.raises(ValueError, match="multigammaln: d must be a positive integer"):
        special.multigammaln(3.0, 0)


# ----- normalisers (logsumexp, softmax, log_softmax) --------------------------------------


def test_expit_through_scipy():
    x = 3 * rand(2, 3)
    check(lambda x: scipy.special.expit(x) * 2.0, x)  # SciPy's own ufunc, through NumPy's hook
    assert np.allclose(lagrad.elementwise_grad(special.expit)(x), scipy.special.expit(x) * (1 - scipy.special.expit(x)))


@pytest.mark.parametrize("fun", [special.logsumexp, special.softmax, special.log_softmax], ids=lambda f: f.__name__)
@pytest.mark.parametrize(
    "shape,axis", [((4,), None), ((3, 4), None), ((3, 4), 1), ((3, 4), 0), ((2, 3, 4), (0, 2))], ids=str
)
def test_normalizers(fun, shape, axis):
    x = 2 * rand(*shape)
    reference = getattr(scipy.special, fun.__name__)
    assert np.allclose(fun(x, axis=axis), reference(x, axis=axis))
    check(lambda x: fun(x, axis=axis), x)


def test_logsumexp_where_infinite():
    """Where logsumexp is infinite (an entry +inf, or every entry -inf) exp(x - ans) is NaN;
    the entries equal to the result share the derivative, as in logaddexp (docs/conventions.md),
    and no NaN reaches another row's derivative (it did in reverse mode: 0 × NaN)."""
    inf = np.inf
    x = np.array([[0.0, -inf, 1.0], [-inf, -inf, -inf], [inf, 1.0, 0.0], [inf, inf, -inf]])
    shares = np.array([[1 / (1 + np.e), 0.0, np.e / (1 + np.e)], [1 / 3, 1 / 3, 1 / 3], [1, 0, 0], [0.5, 0.5, 0]])
    for keepdims in (False, True):
        for mode in ("rev", "fwd"):
            jac = lagrad.jacobian(lambda x: special.logsumexp(x, axis=1, keepdims=keepdims), mode=mode)(x)
            assert np.allclose(jac.reshape(4, 4, 3), np.eye(4)[:, :, None] * shares, rtol=1e-15, atol=0)
    assert np.array_equal(lagrad.grad(lambda x: special.logsumexp(x, axis=1)[0])(x)[1:], np.zeros((3, 3)))
    assert lagrad.grad(lnp.logaddexp, (0, 1))(inf, 1.0) == (1.0, 0.0)  # the same convention
    assert np.all(np.isnan(lagrad.grad(special.logsumexp)(np.array([1.0, np.nan, inf]))))  # NaN stays NaN
    assert np.array_equal(lagrad.grad(special.logsumexp)(x[3]), shares[3])
    assert np.array_equal(lagrad.hessian(lambda x: special.logsumexp(x, axis=1)[1])(x), np.zeros((4, 3, 4, 3)))


def test_logsumexp_keepdims_and_weights():
    x, b = rand(3, 4), rand(3, 4) + 2.0
    assert np.allclose(special.logsumexp(x, axis=1, b=b), scipy.special.logsumexp(x, axis=1, b=b))
    check(lambda x: special.logsumexp(x, axis=1, keepdims=True), x)
    check(lambda x, b: special.logsumexp(x, axis=0, b=b), x, b)


def test_softmax_gradient_closed_form():
    x, v = rand(5), rand(5)
    s = scipy.special.softmax(x)
    g = lagrad.grad(lambda x: np.dot(special.softmax(x), v))(x)
    assert np.allclose(g, s * (v - s @ v))


def test_logsumexp_with_negative_weights():
    # issue 16.3: log(e^2 - e^1) by negative weights was NaN (even untraced); SciPy's is finite
    a, b = np.array([2.0, 1.0]), np.array([1.0, -1.0])
    assert special.logsumexp(a, b=b) == pytest.approx(np.log(np.e**2 - np.e))
    assert special.logsumexp(a, b=b) == pytest.approx(scipy.special.logsumexp(a, b=b), rel=1e-15)
    assert np.isnan(special.logsumexp(a, b=-b))  # a negative sum, as SciPy
    ga, gb = lagrad.grad(lambda a, b: special.logsumexp(a, b=b), (0, 1))(a, b)
    total = np.e**2 - np.e
    assert np.allclose(ga, b * np.exp(a) / total) and np.allclose(gb, np.exp(a) / total)
    check(lambda a, b: special.logsumexp(a, axis=1, b=b), rand(2, 3), positive(2, 3) - 0.3)
    check(lambda a, b: special.logsumexp(a, axis=0, b=b, keepdims=True), rand(2, 3), positive(3))


def test_logsumexp_weighted_with_an_infinite_entry():
    """An entry +inf with a nonzero weight makes the sum infinite, as SciPy says: the cap that
    keeps a zero-weight term's exp finite (0·inf is NaN) gave 700 there, and a zero slope."""
    inf = np.inf
    for a, b in [([inf, 1.0], [1.0, 1.0]), ([inf, 1.0], [-1.0, 1.0]), ([inf, inf, 0.0], [2.0, 1.0, 1.0])]:
        a, b = np.array(a), np.array(b)
        want = scipy.special.logsumexp(a, b=b, return_sign=True)
        assert special.logsumexp(a, b=b, return_sign=True) == want
        np.testing.assert_array_equal(special.logsumexp(a, b=b), scipy.special.logsumexp(a, b=b))  # a negative sum: NaN
    assert special.logsumexp(np.array([inf, 800.0]), b=np.array([0.0, 1.0])) == 800.0  # a zero weight drops it


def test_logsumexp_return_sign():
    a, b = rand(3, 4), rand(3, 4)
    out, sign = special.logsumexp(a, axis=1, b=b, return_sign=True)
    want_out, want_sign = scipy.special.logsumexp(a, axis=1, b=b, return_sign=True)
    assert np.allclose(out, want_out) and np.array_equal(sign, want_sign)
    check(lambda a, b: special.logsumexp(a, axis=1, b=b, return_sign=True)[0], a, b)
    check(lambda a: special.logsumexp(a, return_sign=True)[0] * special.logsumexp(a, return_sign=True)[1], a)
    # a zero weight drops the term from the value, not from the derivative in the weight
    w = np.array([1.0, 0.0, 0.5])
    g = lagrad.grad(lambda w: special.logsumexp(a[0, :3], b=w))(w)
    assert np.allclose(g, np.exp(a[0, :3] - scipy.special.logsumexp(a[0, :3], b=w)))


# ----- derivatives in the shape parameters ------------------------------------------------------
# References: mpmath's numerical derivative of its own incomplete gamma and beta functions, at 30
# digits, taken on the smaller of the two tails (the other is 1 minus it, and would cancel).

mpmath = pytest.importorskip("mpmath")
mpmath.mp.dps = 30


def _relative_error(ours, reference):
    """The largest relative error, over the points whose reference is a normal double (an
    underflowing reference has no relative accuracy to compare against)."""
    ours, reference = np.asarray(ours, dtype=float), np.asarray(reference, dtype=float)
    keep = np.abs(reference) > 1e-300
    assert np.all(np.abs(ours[~keep]) <= 1e-300)
    return np.max(np.abs(ours[keep] - reference[keep]) / np.abs(reference[keep]))


def _dgammainc_da(a, x):
    a, x = mpmath.mpf(a), mpmath.mpf(x)
    if x > a:  # -∂Q/∂a
        return -mpmath.diff(lambda s: mpmath.gammainc(s, x, mpmath.inf, regularized=True), a)
    # P = x^a e^-x / Γ(a+1) · 1F1(1; a+1; x), summed with enough terms for large a
    return mpmath.diff(
        lambda s: x**s * mpmath.exp(-x) / mpmath.gamma(s + 1) * mpmath.hyp1f1(1, s + 1, x, maxterms=10**6), a
    )


def _dbetainc(a, b, x):
    """(∂I/∂a, ∂I/∂b) at I = I_x(a, b), past the mean through 1 - I = I_{1-x}(b, a); and the
    relative error of SciPy's value of that tail, which the derivative inherits."""
    mean = a / (a + b)
    a, b, x = mpmath.mpf(a), mpmath.mpf(b), mpmath.mpf(x)
    if x < mean:
        tail, sign, scipy_tail = (lambda a, b: mpmath.betainc(a, b, 0, x, regularized=True)), 1, scipy.special.betainc
    else:
        tail, sign, scipy_tail = (
            (lambda a, b: mpmath.betainc(b, a, 0, 1 - x, regularized=True)),
            -1,
            scipy.special.betaincc,
        )
    value_error = abs(scipy_tail(float(a), float(b), float(x)) / tail(a, b) - 1)
    return sign * mpmath.diff(lambda s: tail(s, b), a), sign * mpmath.diff(lambda s: tail(a, s), b), value_error


def _dstdtr_ddf(df, t):
    """stdtr(df, t) = 1/2 + sign(t)/2 · I_y(1/2, df/2) with y = t²/(df + t²), used for |t| ≤ 1; and
    for |t| > 1 the tail P(T < -|t|) = I_x(df/2, 1/2)/2 with x = df/(df + t²), which the other
    form would give only as 1 minus a number near 1."""
    df, t = mpmath.mpf(df), mpmath.mpf(t)
    half = mpmath.mpf(1) / 2
    if abs(t) <= 1:
        tail = lambda s: mpmath.betainc(half, s / 2, 0, t * t / (s + t * t), regularized=True)
        return mpmath.sign(t) * half * mpmath.diff(tail, df)
    tail = lambda s: mpmath.betainc(s / 2, half, 0, s / (s + t * t), regularized=True)
    return -mpmath.sign(t) * half * mpmath.diff(tail, df)


GAMMA_SHAPES = [1e-6, 1e-2, 0.3, 1.0, 2.5, 10.0, 50.0, 300.0, 3000.0, 1e5]
GAMMA_POINTS = [1e-3, 0.1, 0.5, 0.9, 1.0, 1.1, 2.0, 5.0, 20.0]  # x / a


def test_gammainc_in_a_against_mpmath():
    """Relative error at most 1e-10 for a from 1e-6 to 1e5 and x from a/1000 to 20a (1.1a at 1e5), through the
    series (x < a + 1) and the continued fraction; SciPy's own value is as accurate (6e-12 at worst
    on this grid), and the derivative is that value times a logarithmic derivative."""
    # (mpmath's upper function does not converge at a = 1e5, x ≥ 2a: left out)
    pairs = [(a, a * r) for a in GAMMA_SHAPES for r in GAMMA_POINTS if a < 1e5 or r < 2]
    a, x = map(np.array, zip(*pairs))
    reference = [_dgammainc_da(ai, xi) for ai, xi in zip(a, x)]
    keep = np.abs(np.array(reference, dtype=float)) > 1e-300
    da = lagrad.elementwise_grad(special.gammainc)(a, x)
    assert _relative_error(da[keep], np.array(reference, dtype=float)[keep]) < 1e-10
    dq = lagrad.elementwise_grad(special.gammaincc)(a, x)
    assert np.array_equal(dq, -da)


BETA_SHAPES = [1e-3, 0.1, 1.0, 2.5, 30.0, 1000.0]


def test_betainc_in_a_and_b_against_mpmath():
    """Relative error at most 1e-10 for a, b from 1e-3 to 1e3 and x across (0, 1), near the mean
    a/(a+b) too, where the continued fraction switches to the mirrored function; plus the relative
    error of SciPy's value, which the derivative (the value times a logarithmic derivative) carries:
    0.9% at a = 1000, b = 30, x = 0.485, where I_x(a, b) = 1.04e-266."""
    points = []
    for a in BETA_SHAPES:
        for b in BETA_SHAPES:
            mean = a / (a + b)
            for x in (1e-4, 0.3, 0.5 * mean, 0.97 * mean, mean, 1 - 0.97 * (1 - mean), 0.999):
                if 0 < x < 1:
                    points.append((a, b, x))
    a, b, x = map(np.array, zip(*points))
    reference = np.array([_dbetainc(*p) for p in points], dtype=float)
    da, db = lagrad.elementwise_grad(special.betainc, argnums=(0, 1))(a, b, x)
    value_error = reference[:, 2]
    for ours, theirs in ((da, reference[:, 0]), (db, reference[:, 1])):
        keep = np.abs(theirs) > 1e-300
        assert np.all(np.abs(ours - theirs)[keep] <= (1e-10 + 1.01 * value_error[keep]) * np.abs(theirs[keep]))
    dca, dcb = lagrad.elementwise_grad(special.betaincc, argnums=(0, 1))(a, b, x)
    assert np.array_equal(dca, -da) and np.array_equal(dcb, -db)


def test_stdtr_in_df_against_mpmath():
    """Relative error at most 1e-10 for df from 0.01 to 10**5 and t from -300 to 30. Beyond
    df = 200 and for |t| < sqrt(df)/2 the derivative is an integral in extended precision: the
    beta-function form would lose about 2·log10(df) digits there."""
    t = np.array([-300.0, -5.0, -1.0, -0.01, 1e-8, 0.3, 2.0, 3.0, 8.0, 30.0])
    df = np.array([0.01, 0.5, 1.0, 2.5, 10.0, 100.0, 199.0, 1000.0, 1e5])
    df, t = np.repeat(df, t.size), np.tile(t, df.size)
    reference = np.array([_dstdtr_ddf(d, s) for d, s in zip(df, t)], dtype=float)
    ours = lagrad.elementwise_grad(special.stdtr)(df, t)
    assert _relative_error(ours, reference) < 1e-10


def test_shape_derivatives_closed_forms():
    """Known derivatives, independent of the series: P(1, x) = 1 - e^-x, I_x(a, 1) = x^a,
    I_x(1, b) = 1 - (1-x)^b, and stdtr at t = 0 is 1/2 for every df."""
    euler_gamma = 0.5772156649015329
    x = np.array([0.2, 1.5, 7.0])
    expected = -np.exp(-x) * (np.log(x) + euler_gamma) - scipy.special.exp1(x)
    assert np.allclose(lagrad.elementwise_grad(special.gammainc)(np.ones(3), x), expected, rtol=1e-13)
    y = np.array([0.1, 0.5, 0.95])
    assert np.allclose(lagrad.elementwise_grad(special.betainc)(np.full(3, 2.5), 1.0, y), y**2.5 * np.log(y))
    db = lagrad.elementwise_grad(special.betainc, argnums=1)(1.0, np.full(3, 3.0), y)
    assert np.allclose(db, -((1 - y) ** 3) * np.log1p(-y))
    assert lagrad.grad(special.stdtr)(3.0, 0.0) == 0.0


SHAPE_FUNCTIONS = [
    ("gammainc", (np.array([0.4, 2.5, 40.0]), np.array([0.3, 4.0, 35.0]))),
    ("gammaincc", (np.array([0.4, 2.5, 40.0]), np.array([0.3, 4.0, 35.0]))),
    ("gammaincinv", (np.array([0.4, 2.5, 40.0]), np.array([0.2, 0.6, 0.9]))),
    ("gammainccinv", (np.array([0.4, 2.5, 40.0]), np.array([0.2, 0.6, 0.9]))),
    ("betainc", (np.array([0.5, 2.5, 30.0]), np.array([3.0, 0.7, 20.0]), np.array([0.3, 0.8, 0.6]))),
    ("betaincc", (np.array([0.5, 2.5, 30.0]), np.array([3.0, 0.7, 20.0]), np.array([0.3, 0.8, 0.6]))),
    ("betaincinv", (np.array([0.5, 2.5, 30.0]), np.array([3.0, 0.7, 20.0]), np.array([0.3, 0.8, 0.6]))),
    ("betainccinv", (np.array([0.5, 2.5, 30.0]), np.array([3.0, 0.7, 20.0]), np.array([0.3, 0.8, 0.6]))),
    ("stdtr", (np.array([0.7, 2.5, 30.0]), np.array([-1.3, 0.4, 2.0]))),
    ("stdtrit", (np.array([0.7, 2.5, 30.0]), np.array([0.1, 0.4, 0.8]))),
]


@pytest.mark.parametrize("name,args", SHAPE_FUNCTIONS, ids=[n for n, _ in SHAPE_FUNCTIONS])
def test_shape_derivatives_both_modes(name, args):
    """Every argument at once, first order, against finite differences in both modes; the
    second order in the last argument, and mixed with each shape parameter."""
    fun = getattr(special, name)
    check(fun, *args, order=1)
    shapes, last = args[:-1], args[-1]
    check(lambda x: fun(*shapes, x), last, order=2)
    for i in range(len(shapes)):

        def in_shape(x, i=i):
            def f(s):
                return lagrad.numpy.sum(fun(*shapes[:i], s, *shapes[i + 1 :], x))

            return lagrad.grad(f)(shapes[i])

        check(in_shape, last, order=1)


def _derivative(fun, order):
    for _ in range(order):
        fun = lagrad.grad(fun)
    return fun


@pytest.mark.parametrize(
    "fun,arg,given",
    [
        (lambda a: special.gammainc(a, 1.5), "a", 2),
        (lambda a: special.gammainccinv(a, 0.5), "a", 2),
        (lambda a: special.betainc(a, 2.0, 0.5), "a", 1),
        (lambda b: special.betaincc(2.0, b, 0.5), "b", 1),
        (lambda df: special.stdtr(df, 0.5), "df", 1),
        (lambda df: special.stdtrit(df, 0.3), "df", 1),
    ],
)
def test_no_higher_derivative_in_a_shape_parameter(fun, arg, given):
    """Derivatives up to the order `given` exist; the next one is refused, naming it."""
    assert np.isfinite(_derivative(fun, given)(2.0))
    word = {1: "second", 2: "third"}[given]
    with pytest.raises(NotImplementedError, match=f"no {word} derivative in `{arg}`"):
        _derivative(fun, given + 1)(2.0)
    if given == 1:
        with pytest.raises(NotImplementedError, match=f"no {word} derivative in `{arg}`"):
            lagrad.hessian(fun)(2.0)


def _d2gammainc_da2(a, x):
    a, x = mpmath.mpf(a), mpmath.mpf(x)
    if x > a:
        return -mpmath.diff(lambda s: mpmath.gammainc(s, x, mpmath.inf, regularized=True), a, 2)
    return mpmath.diff(
        lambda s: x**s * mpmath.exp(-x) / mpmath.gamma(s + 1) * mpmath.hyp1f1(1, s + 1, x, maxterms=10**6), a, 2
    )


def test_gammainc_twice_in_a_against_mpmath():
    """∂²P/∂a² = P ((d log P)² + d² log P): relative error at most 1e-9 of P ((d log P)² + |d² log P|)
    (the two terms cancel where the second derivative changes sign, near x = a) for a from 1e-6 to
    3000 and x from a/1000 to 20a; at most 1e-9 of the value itself away from x ≈ a."""
    pairs = [(a, a * r) for a in GAMMA_SHAPES[:-1] for r in GAMMA_POINTS]
    a, x = map(np.array, zip(*pairs))
    reference = np.array([_d2gammainc_da2(ai, xi) for ai, xi in pairs], dtype=float)
    ours = lagrad.elementwise_grad(lagrad.elementwise_grad(special.gammainc))(a, x)
    first = lagrad.elementwise_grad(special.gammainc)(a, x)
    value = scipy.special.gammainc(a, x)
    scale = np.abs(reference) + first**2 / np.maximum(value, 1e-300)  # P (d log P)², the size of the terms
    keep = np.abs(reference) > 1e-300
    assert np.all(np.abs(ours - reference)[keep] <= 1e-9 * scale[keep])
    away = keep & (np.abs(x / a - 1) > 0.05)
    assert _relative_error(ours[away], reference[away]) < 1e-9
    assert np.array_equal(lagrad.elementwise_grad(lagrad.elementwise_grad(special.gammaincc))(a, x), -ours)


@pytest.mark.parametrize("name", ["gammainc", "gammaincc", "gammaincinv", "gammainccinv"])
def test_gamma_functions_to_second_order_in_every_argument(name):
    fun = getattr(special, name)
    a = np.array([0.4, 2.5, 40.0])
    last = np.array([0.3, 4.0, 35.0]) if name in ("gammainc", "gammaincc") else np.array([0.2, 0.6, 0.9])
    check(fun, a, last, order=2)
    if name == "gammainc":  # ∂³P/∂a²∂x: the rule in x of the second derivative in a
        check(lambda x: lagrad.elementwise_grad(lagrad.elementwise_grad(fun))(a, x), last, order=1)


def test_shape_derivatives_at_the_ends():
    """0 where the function is constant in the shape: x = 0 and ∞ for gammainc, x = 0 and 1 for
    betainc, t = 0 and ±∞ for stdtr; NaN outside the domain, as the value."""
    a = np.array([0.5, 2.0, 3.0, -1.0])
    x = np.array([0.0, np.inf, 1.0, 1.0])
    g = lagrad.elementwise_grad(special.gammainc)(a, x)
    assert np.array_equal(g[:2], [0.0, 0.0]) and np.isfinite(g[2]) and np.isnan(g[3])
    da = lagrad.elementwise_grad(special.betainc)(np.full(3, 2.0), 3.0, np.array([0.0, 1.0, 0.5]))
    assert np.array_equal(da[:2], [0.0, 0.0]) and da[2] < 0
    t = np.array([0.0, np.inf, -np.inf])
    assert np.array_equal(lagrad.elementwise_grad(special.stdtr)(np.full(3, 4.0), t), np.zeros(3))


def test_i1e_slope_where_scipys_ive_gives_nan():
    """i1e'(x) = (i0e + ive(2, ·))/2 − sign(x) i1e; SciPy's ive(2, x) is NaN from |x| = 1e10 on
    (i1e itself is finite there), so the slope came out NaN. I₂ = I₀ − 2 I₁/x gives it. Reference
    values from mpmath at 60 digits; the tolerance is the cancellation of i0e − i1e, eps · 2|x|."""
    x = np.array([3.5, 1e10, -1e10, 1e12])
    want = np.array([-0.018140389050285106, -1.9947114017827584e-16, -1.9947114017827584e-16, -1.9947114020049193e-19])
    got = lagrad.elementwise_grad(special.i1e)(x)
    assert np.allclose(got, want, rtol=1e-3, atol=0)
    assert np.allclose(got[0], want[0], rtol=1e-13, atol=0)
    small = np.array([0.0, 1e-9, -2.0])  # at 0 the slope is 1/2, the limit of I₁(x)/x
    at_minus_two = 0.5 * (scipy.special.i0e(-2.0) + scipy.special.ive(2, -2.0)) + scipy.special.i1e(-2.0)
    want_small = [0.5, 0.5 - 1e-9, at_minus_two]
    assert np.allclose(lagrad.elementwise_grad(special.i1e)(small), want_small, rtol=1e-12, atol=0)
    check(special.i1e, np.array([0.3, -1.7, 4.0]))


def test_expit_slope_far_out_keeps_its_relative_accuracy():
    """expit'(x) = expit(x)·(1 − expit(x)) is 0 once expit(x) rounds to 1 (x ≳ 37), where the
    slope is e^{−x}: 4.2e-18 at 40. expit(x)·expit(−x) keeps every digit, and so does the
    second derivative. References from mpmath."""
    x = np.array([30.0, 40.0, -40.0])
    first = np.array([9.3576229688384233e-14, 4.248354255291589e-18, 4.248354255291589e-18])
    second = np.array([-9.357622968836672e-14, -4.2483542552915889e-18, 4.2483542552915889e-18])
    slope = lagrad.elementwise_grad(special.expit)
    assert np.allclose(slope(x), first, rtol=1e-12, atol=0)
    assert np.allclose(lagrad.elementwise_grad(slope)(x), second, rtol=1e-12, atol=0)
    # log_expit' = expit(−x): its second derivative is −expit'(−x)
    curvature = lagrad.elementwise_grad(lagrad.elementwise_grad(special.log_expit))
    assert np.allclose(curvature(-x), -first, rtol=1e-12, atol=0)


def test_beta_slopes_where_a_digamma_difference_cancels():
    """∂betaln/∂a = ψ(a) − ψ(a + b): two digammas of ~30 whose difference is b/a; computed as
    written it kept 5 digits at a = 1e10 and 2 at a = 1e13. References from mpmath, 60 digits."""
    a = np.array([1e10, 1e13, 2.0, 30.0])
    b = np.array([0.5, 1.0, 1e13, 40.0])
    d_a = np.array([-5.000000000125e-11, -1.0e-13, -29.510821873824277, -0.85689724576529977])
    d_b = np.array([-24.98936095596188, -30.510821873824177, -1.9999999999999e-13, -0.56500800441598152])
    grad_a, grad_b = lagrad.elementwise_grad(special.betaln, argnums=(0, 1))(a, b)
    assert np.allclose(grad_a, d_a, rtol=1e-12, atol=0)
    assert np.allclose(grad_b, d_b, rtol=1e-12, atol=0)
    grad_a, grad_b = lagrad.elementwise_grad(special.beta, argnums=(0, 1))(a, b)
    assert np.allclose(grad_a, special.beta(a, b) * d_a, rtol=1e-12, atol=0)
    assert np.allclose(grad_b, special.beta(a, b) * d_b, rtol=1e-12, atol=0)
    # float16 holds 2e4 but not its square: the series must not square it
    half = lagrad.elementwise_grad(special.betaln)(np.float16(2e4), np.float16(2.0))
    assert half.dtype == np.float16 and np.isclose(half, -1e-4, rtol=2e-3)
    # an infinite shape keeps the digammas' limits: ψ(2e4) − ψ(∞) = −∞
    assert lagrad.elementwise_grad(special.betaln)(2e4, np.inf) == -np.inf
    # a negative b with a + b far below a: the digammas differ by log(a / (a + b)) and do not
    # cancel, where the series' log1p(b / a) would (1e-7 relative at a = 1e15); mpmath, 50 digits
    a, b = np.array([1e12, 1e15]), np.array([-999999980000.5, -999999999980000.5])
    far = lagrad.elementwise_grad(special.betaln)(a, b)
    assert np.allclose(far, [17.727583564537784747, 24.635338843520421299], rtol=1e-14, atol=0)
    # both sides of the switch to the series at 1e4, to second order
    check(special.betaln, np.array([2e4, 9e3, 0.7]), np.array([3.0, 2e4, 2e4]), order=2)
