"""Dtypes: float32 in, float32 derivatives out; float16 works; integers and booleans mixed
into float computations promote as NumPy does; integer outputs are not differentiable."""

from __future__ import annotations

import numpy as np
import pytest

import lagrad
import lagrad.numpy as lnp
from lagrad.scipy import special
from lagrad.testing import check_grads
from tests.conftest import rand

# One function per family, free of float64 constants, so float32 stays float32 throughout.
FAMILIES = {
    "ufuncs": lambda x: lnp.sin(x) * lnp.exp(x) + lnp.log(x**2 + 1) + lnp.sqrt(lnp.abs(x) + 1) - lnp.arctan(x),
    "binary": lambda x: lnp.maximum(x, 0.1) * lnp.tanh(x) / (1 + x**2) + lnp.power(lnp.abs(x) + 1, x),
    "selection": lambda x: lnp.where(x > 0, x**3, lnp.clip(x, -0.3, 0.3)),
    "reductions": lambda x: lnp.mean(x, axis=0) * lnp.prod(x[0]) + lnp.max(x) - lnp.min(x, axis=1).sum(),
    "shapes": lambda x: lnp.roll(lnp.concatenate([x.T.reshape(-1), lnp.stack([x[0], x[1]]).ravel()]), 2),
    "broadcast": lambda x: lnp.broadcast_to(lnp.expand_dims(x, 1), (2, 4, 3)) ** 2,
    "indexing": lambda x: lnp.at(lnp.at(x)[0, 1].set(x[1, 2] ** 2))[1].add(x[0]) * x[np.array([1, 0])],
    "products": lambda x: x @ x.T + lnp.einsum("ij,ij->", x, x) + lnp.tensordot(x, x, axes=([0], [0])).sum(),
    "special": lambda x: special.expit(x) + special.softmax(x, axis=1) * special.log_softmax(x, axis=0),
    "logsumexp": lambda x: special.logsumexp(x, axis=1),
    "no derivative": lambda x: x.ravel()[lnp.argmax(x)] * (x * (x > 0)) + lnp.histogram(x, 3)[1].sum(),
}


def _loss(f):
    return lambda x: lnp.sum(f(x))


@pytest.mark.parametrize("name", FAMILIES)
def test_float32_in_float32_out(name):
    f = FAMILIES[name]
    x = rand(2, 3)
    check_grads(f, x, order=2)  # the float64 derivative is right
    x32 = x.astype(np.float32)
    value, g32 = lagrad.value_and_grad(_loss(f))(x32)
    assert value.dtype == np.float32 and g32.dtype == np.float32
    assert np.allclose(g32, lagrad.grad(_loss(f))(x), rtol=1e-4, atol=1e-5)
    out, tangent = lagrad.jvp(f, (x32,), (np.ones_like(x32),))
    assert out.dtype == np.float32 and tangent.dtype == np.float32
    system = lagrad.adjoint(_loss(f), x32)
    floats = [i for i in range(system.program.n_vars) if np.dtype(system.program.dtype(i)).kind == "f"]
    assert {np.dtype(system.program.dtype(i)) for i in floats} == {np.dtype(np.float32)}
    multipliers = system.solve("back_substitution").lambdas
    assert {np.asarray(lagrad.value(multipliers[i])).dtype for i in floats} == {np.dtype(np.float32)}


@pytest.mark.parametrize("name", FAMILIES)
def test_float16_works(name):
    f = FAMILIES[name]
    x = rand(2, 3)
    g16 = lagrad.grad(_loss(f))(x.astype(np.float16))
    assert g16.dtype == np.float16
    g = lagrad.grad(_loss(f))(x.astype(np.float16).astype(np.float64))  # the same point, in float64
    assert np.allclose(g16, g, rtol=2e-2, atol=2e-2)


def test_complex64_stays_complex64():
    z = (rand(3) + 1j * rand(3)).astype(np.complex64)
    g = lagrad.grad(lambda z: lnp.real(lnp.sum(lnp.exp(z) * lnp.conj(z))))(z)
    assert g.dtype == np.complex64
    z64 = z.astype(np.complex128)
    assert np.allclose(g, lagrad.grad(lambda z: lnp.real(lnp.sum(lnp.exp(z) * lnp.conj(z))))(z64), rtol=1e-5)


# Integer and boolean arrays mixed into float computations, each with its gradient in
# closed form; the value's dtype must be the one NumPy gives the same expression.
INT = np.array([2, -1, 3])
MIXED = [
    ("int array", lambda m, x: x * INT, lambda x: INT),
    ("int scalar", lambda m, x: x * np.int64(3) + 2, lambda x: np.full_like(x, 3)),
    ("int power", lambda m, x: x**2, lambda x: 2 * x),
    ("bool mask", lambda m, x: x * (x > 0), lambda x: (x > 0).astype(x.dtype)),
    ("int result", lambda m, x: x + m.argmax(x), lambda x: np.ones_like(x)),
    ("int index", lambda m, x: x[m.argsort(x)] * INT, lambda x: INT[np.argsort(np.argsort(x))]),
    ("int division", lambda m, x: x / INT, lambda x: 1 / INT),
    ("int array first", lambda m, x: INT - x, lambda x: -np.ones_like(x)),
    ("uint8", lambda m, x: x * np.uint8(4), lambda x: np.full_like(x, 4)),
    ("float64 scalar", lambda m, x: x * np.float64(1.5), lambda x: np.full_like(x, 1.5)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name,fun,gradient", MIXED, ids=[c[0] for c in MIXED])
def test_integers_promote_as_numpy_does(name, fun, gradient, dtype):
    x = np.array([0.3, -0.7, 1.1], dtype=dtype)
    plain = fun(np, x)
    g = lagrad.grad(lambda x: lnp.sum(fun(lnp, x)))(x)
    traced = lagrad.jvp(lambda x: fun(lnp, x), (x,), (np.ones_like(x),))[0]
    assert traced.dtype == plain.dtype and np.array_equal(traced, plain)
    assert g.dtype == dtype
    assert np.allclose(g, gradient(x), rtol=1e-6)


def test_integer_inputs_are_held_fixed_or_refused():
    x, i = rand(3), np.array([2, 0, 1])
    check_grads(lambda x, i: x[i] * i, x, i)
    assert np.array_equal(lagrad.grad(lambda x, i: lnp.sum(x * i))(x, i), i)
    with pytest.raises(TypeError, match="only float"):
        lagrad.grad(lambda i: lnp.sum(i * 1.0))(i)


@pytest.mark.parametrize(
    "fun", [lnp.argmax, lambda x: np.argmin(x), lambda x: lnp.count_nonzero(x > 0), lambda x: np.all(x > 0)]
)
def test_the_gradient_of_an_integer_valued_output_is_refused(fun):
    with pytest.raises(TypeError, match=r"returns z\d+ = \w+\(.*\), an? (int64|bool) value, which has no derivative"):
        lagrad.grad(fun)(rand(4))
