"""lagrad.autograd's transforms follow autograd's conventions (argnum, size-one outputs);
lagrad's own transforms keep theirs."""

from __future__ import annotations

import warnings
from collections import OrderedDict

import numpy as onp
import pytest

import lagrad
import lagrad.autograd as ag
import lagrad.autograd.numpy as np
from tests.autograd.reference import numerical_gradient, real_autograd

REAL = real_autograd()
X = onp.array([0.3, -1.2, 0.8])
Y = onp.array([1.1, 0.4, -0.6])


def f(x, y):
    return np.sum(np.sin(x) * y**2)


def test_grad_with_argnum():
    np.testing.assert_allclose(ag.grad(f)(X, Y), onp.cos(X) * Y**2)
    np.testing.assert_allclose(ag.grad(f, argnum=1)(X, Y), 2 * onp.sin(X) * Y)
    gx, gy = ag.grad(f, (0, 1))(X, Y)
    np.testing.assert_allclose(gx, onp.cos(X) * Y**2)
    np.testing.assert_allclose(gy, 2 * onp.sin(X) * Y)
    with pytest.raises(TypeError, match="argnum"):
        ag.grad(f, argnum=1.0)


def test_grad_of_a_size_one_output_follows_autograd():
    def g(x):
        return np.reshape(np.sum(x**2), (1, 1))

    np.testing.assert_allclose(ag.grad(g)(X), 2 * X)
    with pytest.raises(TypeError, match="scalar"):
        lagrad.grad(g)(X)  # lagrad's own grad wants a scalar
    with pytest.raises(TypeError, match="one number"):
        ag.grad(lambda x: x**2)(X)
    if REAL is not None:
        np.testing.assert_allclose(ag.grad(g)(X), REAL.ag.grad(g)(X))


def test_value_and_grad_and_grad_and_aux():
    value, gradient = ag.value_and_grad(f, 1)(X, Y)
    assert value == pytest.approx(f(X, Y))
    np.testing.assert_allclose(gradient, 2 * onp.sin(X) * Y)
    gradient, aux = ag.grad_and_aux(lambda x: (np.sum(x**3), {"norm": np.sum(x**2)}))(X)
    np.testing.assert_allclose(gradient, 3 * X**2)
    assert aux["norm"] == pytest.approx(onp.sum(X**2))


def test_vjp_and_jvp():
    vjp, ans = ag.make_vjp(lambda x: np.sin(x) * 2.0)(X)
    np.testing.assert_allclose(ans, 2 * onp.sin(X))
    np.testing.assert_allclose(vjp(Y), 2 * onp.cos(X) * Y)
    out, tangent = ag.make_jvp(lambda x, y: x * y, 1)(X, Y)(onp.ones(3))
    np.testing.assert_allclose(out, X * Y)
    np.testing.assert_allclose(tangent, X)
    assert ag.deriv(np.sin)(0.5) == pytest.approx(onp.cos(0.5))


def test_elementwise_grad_jacobian_hessian():
    np.testing.assert_allclose(ag.elementwise_grad(np.tanh)(X), 1 - onp.tanh(X) ** 2)
    jac = ag.jacobian(lambda x: np.outer(x, x))(X)
    assert jac.shape == (3, 3, 3)
    np.testing.assert_allclose(jac[1, 2], [0, X[2], X[1]])
    hess = ag.hessian(f)(X, Y)
    np.testing.assert_allclose(hess, onp.diag(-onp.sin(X) * Y**2), atol=1e-15)
    with pytest.raises(TypeError, match="real output"):
        ag.elementwise_grad(lambda x: x * 1j)(X)


def test_hessian_products():
    def quartic(x):
        return np.sum(x**4) + x[0] * x[1]

    h = onp.diag(12 * X**2)
    h[0, 1] = h[1, 0] = 1.0
    v = onp.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(ag.hessian_tensor_product(quartic)(X, v), h @ v)
    np.testing.assert_allclose(ag.hessian_vector_product(quartic)(X, v), h @ v)
    hvp, gradient = ag.make_hvp(quartic)(X)
    np.testing.assert_allclose(hvp(v), h @ v)
    np.testing.assert_allclose(gradient, 4 * X**3 + [X[1], X[0], 0])


def test_tensor_jacobian_product():
    a = onp.arange(6.0).reshape(2, 3)

    def linear(x):
        return np.dot(a, x)

    v = onp.array([1.0, -2.0])
    np.testing.assert_allclose(ag.tensor_jacobian_product(linear)(X, v), v @ a)
    np.testing.assert_allclose(ag.vector_jacobian_product(linear)(X, v), v @ a)


def test_make_ggnvp():
    a = onp.array([[1.0, 2.0, 0.0], [0.5, -1.0, 3.0]])

    def model(x):
        return np.tanh(np.dot(a, x))

    def loss(y):
        return np.sum(np.exp(y))

    y = onp.tanh(a @ X)
    jac = (1 - y**2)[:, None] * a
    ggn = jac.T @ onp.diag(onp.exp(y)) @ jac
    v = onp.array([1.0, 0.0, -1.0])
    np.testing.assert_allclose(ag.make_ggnvp(model, loss)(X)(v), ggn @ v)
    np.testing.assert_allclose(ag.make_ggnvp(model)(X)(v), jac.T @ jac @ v)  # g = ½‖y‖²


def test_holomorphic_grad():
    z = onp.complex128(1 + 2j)
    assert ag.holomorphic_grad(lambda z: z**2)(z) == pytest.approx(2 * z)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ag.holomorphic_grad(np.sin)(0.5)
    assert any("not complex" in str(w.message) for w in caught)


def test_multigrad_dict_and_grad_named():
    def h(a, b=2.0, *rest, scale=1.0):
        return scale * (a**2 * b + sum(r**3 for r in rest))

    grads = ag.multigrad_dict(h)(1.5, 3.0, 2.0, scale=2.0)
    assert isinstance(grads, OrderedDict) and list(grads) == ["a", "b", "rest", "scale"]
    assert grads["a"] == pytest.approx(2 * 2 * 1.5 * 3.0)
    assert grads["b"] == pytest.approx(2 * 1.5**2)
    assert grads["rest"][0] == pytest.approx(2 * 3 * 2.0**2)
    assert grads["scale"] == pytest.approx(1.5**2 * 3.0 + 8.0)
    assert ag.grad_named(h, "b")(1.5, 3.0) == pytest.approx(1.5**2)
    with pytest.raises(ValueError, match="no argument 'c'"):
        ag.grad_named(h, "c")


def test_checkpoint_recomputes_in_the_backward_pass():
    calls = []

    def block(x):
        calls.append(1)
        return np.sin(np.cos(x)) * x

    checked = ag.checkpoint(block)
    loss = lambda x: np.sum(checked(x) ** 2)
    np.testing.assert_allclose(ag.grad(loss)(X), numerical_gradient(loss, X), rtol=1e-7)
    assert len(calls) == 1 + len(X) * 2 + 1  # the traced call, the differences, the recomputation
    np.testing.assert_allclose(ag.grad(loss)(X), ag.grad(lambda x: np.sum(block(x) ** 2))(X), rtol=1e-12)


def test_import_autograd_gives_autograd_numpy():
    assert ag.numpy is np and ag.extend.primitive is ag.primitive
    from lagrad.autograd import numpy as np_from

    assert np_from is np


def test_containers_are_pythons():
    assert ag.tuple is tuple and ag.list is list and ag.dict is dict and ag.isinstance is isinstance
    gradient = ag.grad(lambda p: np.sum(p["w"] * p["b"][0]))({"w": X, "b": ag.list([Y])})
    np.testing.assert_allclose(gradient["w"], Y)
    np.testing.assert_allclose(gradient["b"][0], X)


def test_plain_array_indexed_by_traced_integers():
    # autograd's fluid simulation indexes its plain initial smoke by integers computed from the
    # traced velocity: an index has no derivative, so lagrad reads it as autograd does
    plain = onp.arange(5.0)
    x = onp.array([1.5, 2.5])
    np.testing.assert_allclose(ag.grad(lambda x: np.sum(plain[np.floor(x).astype(int)] * x))(x), [1.0, 2.0])
    np.testing.assert_allclose(ag.grad(lambda x: np.sum(np.take(plain, np.floor(x).astype(int)) * x))(x), [1.0, 2.0])
    if REAL is not None:
        np.testing.assert_allclose(
            REAL.ag.grad(lambda x: REAL.np.sum(plain[REAL.np.floor(x).astype(int)] * x))(x), [1.0, 2.0]
        )


def test_documented_difference_traced_keyword_arguments_are_refused():
    from lagrad.autograd.extend import defvjp, primitive

    @primitive
    def weighted(x, w=1.0):
        return onp.sum(x * w)

    defvjp(weighted, lambda ans, x, w=1.0: lambda g: g * w)
    np.testing.assert_allclose(ag.grad(weighted)(X, w=Y), Y)
    with pytest.raises(TypeError, match="positionally"):
        ag.grad(lambda x: weighted(x, w=x))(Y)
