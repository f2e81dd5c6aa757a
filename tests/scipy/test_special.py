"""lagrad.scipy.special: every rule against finite differences (both modes, second order),
values against SciPy, closed forms, and the errors for arguments without a derivative."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special

import lagrad
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


def test_xlogy_at_zero():
    """xlogy(0, y) = 0 for every y, so its derivative in y is 0 there, even at y = 0."""
    assert lagrad.grad(special.xlogy, argnums=1)(0.0, 0.0) == 0.0
    assert lagrad.grad(special.xlog1py, argnums=1)(0.0, -1.0) == 0.0
    assert np.isclose(lagrad.grad(special.xlogy)(0.0, 2.0), np.log(2.0))


@pytest.mark.parametrize(
    "fun,arg",
    [
        (lambda a: special.gammainc(a, 1.5), "a"),
        (lambda a: special.gammaincinv(a, 0.5), "a"),
        (lambda a: special.betainc(a, 2.0, 0.5), "a"),
        (lambda b: special.betaincc(2.0, b, 0.5), "b"),
        (lambda df: special.stdtr(df, 0.5), "df"),
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
