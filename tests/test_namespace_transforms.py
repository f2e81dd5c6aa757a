"""jacobian, hessian, hvp, elementwise_grad, grad(method=...) and check_grads on array-api-strict
arrays: results in the arrays' own namespace, on array-api-strict's second device (which refuses
any conversion to NumPy, so a hidden NumPy call fails loudly), checked against central finite
differences computed in NumPy and against lagrad's own NumPy results."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import lagrad
import lagrad.numpy as lnp
from lagrad.testing import GradientCheckError, check_grads
from tests.numpy.test_namespace import strict
from tests.numpy.test_namespace import strict_to_numpy as numpy_of


def _draw(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.5, 1.5, shape)


def f_vector(x: Any, y: Any) -> Any:  # R^(3×2) × R^2 -> R^3, not elementwise
    return lnp.tanh(x @ y) * lnp.sum(x**2)


def f_scalar(x: Any) -> Any:
    return lnp.sum(lnp.sin(x) ** 3) * lnp.prod(x) + lnp.sum(lnp.log(x) * x[::-1])


def _fd_jacobian(f: Any, xs: list[np.ndarray], j: int, eps: float = 1e-6) -> np.ndarray:
    """∂f/∂x_j by central differences, in NumPy, shaped out.shape + x_j.shape."""
    out = np.asarray(f(*xs))
    jac = np.zeros(out.shape + xs[j].shape)
    for i in np.ndindex(xs[j].shape):
        up, down = [x.copy() for x in xs], [x.copy() for x in xs]
        up[j][i] += eps
        down[j][i] -= eps
        jac[(..., *i)] = (np.asarray(f(*up)) - np.asarray(f(*down))) / (2 * eps)
    return jac


def _numpy(f: Any) -> Any:
    """f run by NumPy itself (the reference for finite differences)."""
    return lambda *xs: np.asarray(lagrad.value(f(*xs)))


@pytest.mark.parametrize("mode", ["rev", "fwd"])
@pytest.mark.parametrize("max_bytes", [None, 64])  # 64 bytes: one right-hand side per chunk
def test_jacobian(mode, max_bytes):
    a, b = _draw(3, 2), _draw(2, seed=1)
    jac = lagrad.jacobian(f_vector, (0, 1), mode=mode, max_bytes=max_bytes)(strict(a), strict(b))
    reference = lagrad.jacobian(f_vector, (0, 1), mode=mode)(a, b)
    for j, block in enumerate(jac):
        assert block.shape == (3, *(a, b)[j].shape)
        np.testing.assert_allclose(numpy_of(block), reference[j], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(numpy_of(block), _fd_jacobian(_numpy(f_vector), [a, b], j), rtol=1e-6, atol=1e-8)


def test_jacobian_of_a_constant_output_is_a_strict_zero():
    jac = lagrad.jacobian(lambda x: (x * 2.0, lnp.ones(2)), mode="rev")(strict(_draw(2)))
    np.testing.assert_array_equal(numpy_of(jac[0]), 2.0 * np.eye(2))
    np.testing.assert_array_equal(numpy_of(jac[1]), np.zeros((2, 2)))


def test_hessian_and_hvp():
    a = _draw(3, 2)
    h = lagrad.hessian(f_scalar)(strict(a))
    np.testing.assert_allclose(numpy_of(h), lagrad.hessian(f_scalar)(a), rtol=1e-12, atol=1e-13)
    gradient = lagrad.grad(f_scalar)
    np.testing.assert_allclose(numpy_of(h), _fd_jacobian(_numpy(gradient), [a], 0), rtol=1e-6, atol=1e-7)
    v = _draw(3, 2, seed=2)
    hv = lagrad.hvp(f_scalar)(strict(a), strict(v))
    np.testing.assert_allclose(numpy_of(hv), np.tensordot(lagrad.hessian(f_scalar)(a), v, 2), rtol=1e-12)


def test_elementwise_grad():
    a = _draw(4)
    g = lagrad.elementwise_grad(lambda x: lnp.tanh(x) * x)(strict(a))
    np.testing.assert_allclose(numpy_of(g), np.tanh(a) + a / np.cosh(a) ** 2, rtol=1e-13)  # closed form


@pytest.mark.parametrize("method", ["back_substitution", "levels"])
def test_grad_by_method(method):
    a = _draw(3, 2)
    g = lagrad.grad(f_scalar, method=method)(strict(a))
    np.testing.assert_allclose(numpy_of(g), lagrad.grad(f_scalar)(a), rtol=1e-12)


def test_check_grads_takes_strict_arrays_both_modes_second_order():
    check_grads(f_vector, strict(_draw(3, 2)), strict(_draw(2, seed=1)))
    z = _draw(3) + 1j * _draw(3, seed=1)
    check_grads(lambda z: lnp.exp(z) * z, strict(z))  # complex: the covector conjugated in the namespace


def test_check_grads_on_strict_arrays_catches_a_wrong_rule(monkeypatch):
    """A derivative that is wrong only on the namespace path (a spelling of cos as sin, which
    the rule of sin calls) fails the check; the same function on NumPy passes."""
    from lagrad.numpy import _namespace

    x = _draw(3)
    check_grads(lambda x: lnp.sin(x), x, order=1)
    monkeypatch.setitem(_namespace.SPELLINGS, "cos", lambda xp_, x: xp_.sin(x))
    with pytest.raises(GradientCheckError, match="disagrees with finite differences"):
        check_grads(lambda x: lnp.sin(x), strict(x), order=1)


def test_check_grads_refuses_a_derivative_in_another_library(monkeypatch):
    """A gradient handed back as a NumPy array for array-api-strict inputs is a failure."""
    from lagrad import testing

    real = testing._cotangent_map

    def numpy_back(traced):
        vjp_fun = real(traced)
        return lambda w: tuple(np.asarray(numpy_of(g)) for g in vjp_fun(w))

    monkeypatch.setattr(testing, "_cotangent_map", numpy_back)
    with pytest.raises(GradientCheckError, match="is a numpy array, its primal a array_api_strict array"):
        check_grads(lambda x: x * 2.0, strict(_draw(2)), modes=["rev"], order=1)


def test_check_grads_of_numpy_s_own_functions_on_strict_arrays():
    """f written with NumPy's functions reaches lagrad on strict arrays only through traced
    values, so check_grads evaluates it by tracing; a zero tangent comes back in the namespace."""
    x = strict(np.linspace(0.1, 2.0, 4))
    check_grads(lambda x: np.sum(np.exp(x) * np.sin(x)), x)
    check_grads(lambda x: np.round(x) + np.sign(x), x, order=1)  # derivative zero: strict zeros
