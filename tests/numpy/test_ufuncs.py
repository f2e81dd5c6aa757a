"""Elementwise primitives: every rule over scalars, vectors, matrices and broadcast shapes."""

from __future__ import annotations

import pytest

import lagrad
import lagrad.numpy as lnp
import numpy as np
from tests.conftest import positive, rand
from tests.helpers import check

SHAPES = [(), (3,), (2, 3)]
BROADCAST = [((), ()), ((3,), (3,)), ((2, 3), (2, 3)), ((2, 1), (3,)), ((), (2, 3)), ((4, 1, 3), (2, 1))]

UNARY = [
    (lnp.exp, rand),
    (lnp.log, positive),
    (lnp.log1p, positive),
    (lnp.expm1, rand),
    (lnp.sqrt, positive),
    (lnp.sin, rand),
    (lnp.cos, rand),
    (lnp.tan, rand),
    (lnp.tanh, rand),
    (lnp.sinh, rand),
    (lnp.cosh, rand),
    (lnp.arctan, rand),
    (lnp.abs, lambda *s: rand(*s) + np.where(rand(*s) > 0, 0.5, -0.5)),
    (lnp.negative, rand),
    (lnp.positive, rand),
    (lambda x: -x, rand),
    (lambda x: +x, rand),
    (lambda x: abs(x), positive),
]

BINARY = [
    (lnp.add, rand, rand),
    (lnp.subtract, rand, rand),
    (lnp.multiply, rand, rand),
    (lnp.divide, rand, positive),
    (lnp.power, positive, rand),
    (lnp.maximum, rand, rand),
    (lnp.minimum, rand, rand),
    (lnp.remainder, positive, lambda *s: positive(*s) + 3.0),
    (lambda x, y: x + y, rand, rand),
    (lambda x, y: x - y, rand, rand),
    (lambda x, y: x * y, rand, rand),
    (lambda x, y: x / y, rand, positive),
    (lambda x, y: x**y, positive, rand),
    (lambda x, y: x % y, positive, lambda *s: positive(*s) + 3.0),
]


def _name(f: object) -> str:
    return getattr(f, "name", getattr(f, "__name__", repr(f)))


@pytest.mark.parametrize("fun,sample", UNARY, ids=[_name(f) for f, _ in UNARY])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_unary(fun, sample, shape):
    check(fun, sample(*shape))


@pytest.mark.parametrize("fun,sample_x,sample_y", BINARY, ids=[_name(f) for f, _, _ in BINARY])
@pytest.mark.parametrize("shapes", BROADCAST, ids=str)
def test_binary(fun, sample_x, sample_y, shapes):
    check(fun, sample_x(*shapes[0]), sample_y(*shapes[1]))


@pytest.mark.parametrize("shapes", BROADCAST, ids=str)
def test_python_and_constant_operands(shapes):
    c = rand(*shapes[1])
    check(lambda x: 2.0 * x - x / 3.0 + c * x**2 - 1.5, rand(*shapes[0]))
    check(lambda x: c**2 / (1.0 + x**2) + np.float64(2) * x, rand(*shapes[0]))


def test_power_with_integer_exponent_and_zero_base():
    x = np.array([0.0, 1.5, -2.0])
    assert np.allclose(lagrad.grad(lambda x: lnp.sum(x**3))(x), 3 * x**2)
    assert np.allclose(lagrad.grad(lambda x: lnp.sum(x**0))(x), 0.0)
    check(lambda x: x**2, x)


def test_sign_and_floor_divide_have_zero_derivative():
    x = rand(5)
    assert np.all(lagrad.grad(lambda x: lnp.sum(lnp.sign(x) * 3.0))(x) == 0)
    assert np.all(lagrad.grad(lambda x: lnp.sum(lnp.floor_divide(x, 0.3)))(x) == 0)


def test_ties_split_the_derivative_evenly():
    x = np.array([1.0, 2.0, 3.0])
    g = lagrad.grad(lambda x: lnp.sum(lnp.maximum(x, 2.0)))(x)
    assert np.array_equal(g, [0.0, 0.5, 1.0])
    g = lagrad.grad(lambda x: lnp.sum(lnp.minimum(x, 2.0)))(x)
    assert np.array_equal(g, [1.0, 0.5, 0.0])


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_clip(shape):
    x = 1.5 * rand(*shape)
    check(lambda x: lnp.clip(x, -0.5, 0.7), x)
    check(lambda x, lo, hi: lnp.clip(x, lo, hi), x, np.float64(-0.4), np.float64(0.6))
    check(lambda x: lnp.clip(x, None, 0.2), x)
    check(lambda x: x.clip(-0.2), x)


@pytest.mark.parametrize("shapes", BROADCAST, ids=str)
def test_where(shapes):
    x, y = rand(*shapes[0]), rand(*shapes[1])
    check(lambda x, y: lnp.where(x > y, x * y, lnp.sin(y)), x, y)


def test_comparisons_are_indicators():
    x = rand(4)
    program = lagrad.trace(lambda x: lnp.where(x < 0.0, 0.0, x), x)
    less = program.equations[0]
    assert less.primitive.name == "less" and less.dtype == np.bool_
    assert less.diff == ()  # zero derivative almost everywhere: no block in A
    g = lagrad.grad(lambda x: lnp.sum(lnp.where(x < 0.0, 0.0, x)))(x)
    assert np.array_equal(g, (x >= 0).astype(float))
    for op in (np.less, np.less_equal, np.greater, np.greater_equal, np.equal, np.not_equal):
        assert lagrad.grad(lambda x: lnp.sum(op(x, 0.1) * x))(x).shape == (4,)


def test_plain_numpy_ufuncs_record_the_same_equations():
    x = rand(2, 3)

    def with_numpy(x):
        return np.sum(np.tanh(np.exp(x) * 2.0 + np.sin(x)) / np.sqrt(1.0 + x**2))

    def with_lagrad(x):
        return lnp.sum(lnp.tanh(lnp.exp(x) * 2.0 + lnp.sin(x)) / lnp.sqrt(1.0 + x**2))

    rhs = [[eq.rhs() for eq in lagrad.trace(f, x).equations] for f in (with_numpy, with_lagrad)]
    assert rhs[0] == rhs[1]
    check(with_numpy, x)
    assert np.allclose(lagrad.grad(with_numpy)(x), lagrad.grad(with_lagrad)(x))


def test_ndarray_on_the_left_of_a_traced_value():
    a = positive(3)
    check(lambda x: a * x + a / (1 + x**2) - a**x, positive(3))


def test_float32_stays_float32():
    x = rand(3).astype(np.float32)
    g = lagrad.grad(lambda x: lnp.sum(lnp.sin(x) * 2.0 + lnp.maximum(x, 0.0) ** 2))(x)
    assert g.dtype == np.float32
    assert np.allclose(g, 2 * np.cos(x) + 2 * np.maximum(x, 0), atol=1e-6)


def test_unsupported_ufunc_keywords_are_refused():
    x = rand(3)
    with pytest.raises(TypeError, match="out="):
        lagrad.grad(lambda x: np.sum(np.sin(x, out=np.empty(3))))(x)
    with pytest.raises(TypeError, match="where"):
        lagrad.grad(lambda x: np.sum(np.sin(x, where=x > 0)))(x)


def test_complex_parts_and_the_convention():
    # autograd's and JAX's convention: grad |z|² at 1+2j is 2·conj(z) = 2-4j (PyTorch gives 2+4j)
    assert lagrad.grad(lambda z: lnp.real(z * lnp.conj(z)))(np.complex128(1 + 2j)) == 2 - 4j
    z = np.array([1 + 2j, 0.5 - 1j, -0.3 + 0.1j])
    check(lambda z: lnp.real(z) * lnp.imag(z) + lnp.imag(z) ** 2, z)
    check(lambda z: lnp.conj(z) * z + lnp.exp(z), z)
    check(lambda z: z.real - 2 * z.imag + z.conj(), z)
    check(lambda z, x: z * x + lnp.imag(z) * x**2, z, rand(3))  # complex and real inputs together


def test_real_input_through_complex_values_has_a_real_gradient():
    x = rand(3)
    g = lagrad.grad(lambda x: lnp.sum(lnp.real(lnp.exp(1j * x)) + lnp.imag(x * (2 + 1j)) ** 2))(x)
    assert g.dtype == np.float64
    assert np.allclose(g, -np.sin(x) + 2 * x)
    check(lambda x: lnp.imag(lnp.exp(1j * x)) * lnp.astype(x, np.complex128), x)
