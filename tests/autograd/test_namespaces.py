"""lagrad.autograd.numpy, .scipy, .misc and .test_util offer what autograd's do."""

from __future__ import annotations

import numpy as onp
import pytest
import scipy.special
import scipy.stats

import lagrad.autograd as ag
import lagrad.autograd.numpy as np
import lagrad.autograd.numpy.random as npr
from lagrad.autograd.misc import flatten, flatten_func
from lagrad.autograd.misc.optimizers import adam, rmsprop, sgd
from lagrad.autograd.scipy import special, stats
from lagrad.autograd.scipy.stats import chi2, norm
from lagrad.autograd.test_util import check_grads
from lagrad.testing import GradientCheckError
from tests.autograd.reference import numerical_gradient, real_autograd

REAL = real_autograd()
X = onp.array([0.3, -1.2, 0.8])


def test_numpy_namespace():
    assert np.float64 is onp.float64 and np.finfo is onp.finfo and np.pi == onp.pi
    assert np.tanh is not onp.tanh  # lagrad's primitive
    npr.seed(0)
    assert npr.randn(2).shape == (2,) and np.random.rand is onp.random.rand
    assert np.linalg.LinAlgError is onp.linalg.LinAlgError
    np.testing.assert_allclose(ag.grad(lambda a: np.linalg.slogdet(a)[1])(onp.eye(2) * 2), onp.eye(2) / 2)
    np.testing.assert_allclose(ag.grad(lambda x: np.sum(np.abs(np.fft.fft(x)) ** 2))(X), 2 * 3 * X)
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        _ = np.nonsense


def test_make_diagonal_and_i0():
    d = onp.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(np.make_diagonal(d), onp.stack([onp.diag(row) for row in d]))
    np.testing.assert_allclose(
        ag.grad(lambda d: np.sum(np.make_diagonal(d) * onp.arange(9.0).reshape(3, 3)))(d[0]), [0, 4, 8]
    )
    with pytest.raises(NotImplementedError, match="offset=0"):
        np.make_diagonal(d, axis1=0, axis2=1)
    assert np.i0(0.7) == pytest.approx(onp.i0(0.7))
    assert ag.grad(np.i0)(0.7) == pytest.approx(scipy.special.i1(0.7))


def test_full_of_a_traced_value():
    np.testing.assert_allclose(ag.grad(lambda x: np.sum(np.full((2, 3), np.sum(x**2))))(X), 12 * X)
    assert np.full(2, 1.5).dtype == onp.float64


def test_scipy_namespace():
    assert stats.norm.logpdf(0.3, 0.1, 2.0) == pytest.approx(scipy.stats.norm.logpdf(0.3, 0.1, 2.0))
    assert chi2.logpdf(1.5, 3.0) == pytest.approx(scipy.stats.chi2.logpdf(1.5, 3.0))
    assert chi2.cdf(1.5, 3.0) == pytest.approx(scipy.stats.chi2.cdf(1.5, 3.0))
    np.testing.assert_allclose(ag.grad(lambda x: norm.logpdf(x, 0.0, 1.0))(0.7), -0.7)
    np.testing.assert_allclose(
        ag.grad(lambda df: chi2.logpdf(1.5, df))(3.0), numerical_gradient(lambda d: chi2.logpdf(1.5, d), 3.0)
    )
    np.testing.assert_allclose(ag.grad(special.logsumexp)(X), onp.exp(X) / onp.exp(X).sum())
    assert special.jn is scipy.special.jn  # SciPy's own where lagrad has no derivative


def test_flatten():
    params = {"w": onp.ones((2, 2)), "b": [onp.arange(3.0), 1.5]}
    vector, unflatten = flatten(params)
    np.testing.assert_allclose(vector, [0, 1, 2, 1.5, 1, 1, 1, 1])  # dicts by sorted key, as autograd
    back = unflatten(vector)
    assert back["b"][1] == 1.5 and back["w"].shape == (2, 2)
    if REAL is not None:
        from autograd.misc import flatten as real_flatten

        np.testing.assert_allclose(vector, real_flatten(params)[0])
    gradient = ag.grad(lambda v: np.sum(unflatten(v)["w"] ** 2))(vector)
    np.testing.assert_allclose(gradient, [0, 0, 0, 0, 2, 2, 2, 2])
    flat_f, _, flat_x = flatten_func(lambda p: {"s": p["w"] * 2}, params)
    np.testing.assert_allclose(flat_f(flat_x), onp.full(4, 2.0))


@pytest.mark.parametrize("optimizer", [sgd, rmsprop, adam])
def test_optimizers_minimise_a_structured_quadratic(optimizer):
    target = {"a": onp.array([1.0, -2.0]), "b": (onp.array(0.5),)}

    def loss(p, i):
        return np.sum((p["a"] - target["a"]) ** 2) + np.sum((p["b"][0] - target["b"][0]) ** 2)

    start = {"a": onp.zeros(2), "b": (onp.array(0.0),)}
    seen = []
    result = optimizer(ag.grad(loss), start, callback=lambda x, i, g: seen.append(i), num_iters=300, step_size=0.05)
    assert loss(result, 0) < 1e-3 * loss(start, 0) and seen == list(range(300))
    if REAL is not None:
        import autograd.misc.optimizers as real

        expected = getattr(real, optimizer.__name__)(REAL.ag.grad(loss), start, num_iters=300, step_size=0.05)
        np.testing.assert_allclose(result["a"], expected["a"], rtol=1e-12)


def test_check_grads_in_autograds_form():
    check_grads(lambda x, y: np.sum(np.sin(x) * y), 1, modes=["rev"], order=2)(X, X**2)

    @ag.primitive
    def wrong(x):
        return x**2

    from lagrad.autograd.extend import defvjp

    defvjp(wrong, lambda ans, x: lambda g: g * x)  # should be 2x
    with pytest.raises(GradientCheckError):
        check_grads(wrong, modes=["rev"], order=1)(X)
