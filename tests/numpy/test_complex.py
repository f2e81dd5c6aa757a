"""Complex numbers: holomorphic ufuncs through their one rule, the non-holomorphic ones
through their own vjp and jvp, and the convention of autograd and JAX.

The convention: for a real function L of complex z = x + iy, grad L = ∂L/∂x - i ∂L/∂y
(the conjugate of what PyTorch returns), so grad |z|² at 1+2j is 2-4j, and for
holomorphic f, grad Re f(z) = f'(z). A real input's gradient is real.
"""

from __future__ import annotations

import numpy as np
import pytest

import lagrad
import lagrad.numpy as lnp
from tests.conftest import positive, rand
from tests.helpers import check

SHAPES = [(), (3,), (2, 3)]
BROADCAST = [((), ()), ((3,), (3,)), ((2, 1), (3,)), ((), (2, 3))]


def crand(*shape: int) -> np.ndarray:
    """Complex numbers in the square |Re|, |Im| < 1.5: both half-planes, clear of the real and
    imaginary axes (where the branch cuts lie) almost surely."""
    return 1.5 * rand(*shape) + 1.5j * rand(*shape)


def cball(*shape: int) -> np.ndarray:
    """Complex numbers of modulus below 0.7: inside the unit disc, for the inverse functions."""
    return 0.5 * rand(*shape) + 0.5j * rand(*shape)


# (function, sample, f'(z) in closed form)
HOLOMORPHIC = [
    (lnp.exp, crand, np.exp),
    (lnp.exp2, crand, lambda z: np.log(2) * 2**z),
    (lnp.expm1, crand, np.exp),
    (lnp.log, crand, lambda z: 1 / z),
    (lnp.log2, crand, lambda z: 1 / (z * np.log(2))),
    (lnp.log10, crand, lambda z: 1 / (z * np.log(10))),
    (lnp.log1p, crand, lambda z: 1 / (1 + z)),
    (lnp.sqrt, crand, lambda z: 0.5 / np.sqrt(z)),
    (lnp.square, crand, lambda z: 2 * z),
    (lnp.reciprocal, crand, lambda z: -1 / z**2),
    (lnp.sin, crand, np.cos),
    (lnp.cos, crand, lambda z: -np.sin(z)),
    (lnp.tan, cball, lambda z: 1 / np.cos(z) ** 2),
    (lnp.arcsin, crand, lambda z: 1 / np.sqrt(1 - z**2)),
    (lnp.arccos, crand, lambda z: -1 / np.sqrt(1 - z**2)),
    (lnp.arctan, crand, lambda z: 1 / (1 + z**2)),
    (lnp.sinh, crand, np.cosh),
    (lnp.cosh, crand, np.sinh),
    (lnp.tanh, cball, lambda z: 1 / np.cosh(z) ** 2),
    (lnp.arcsinh, crand, lambda z: 1 / np.sqrt(1 + z**2)),
    (lnp.arccosh, crand, lambda z: 1 / (np.sqrt(z - 1) * np.sqrt(z + 1))),
    (lnp.arctanh, crand, lambda z: 1 / (1 - z**2)),
    (lnp.negative, crand, lambda z: -np.ones_like(z)),
    (lnp.positive, crand, np.ones_like),
    (lambda z: z**3, crand, lambda z: 3 * z**2),
    (lambda z: lnp.power(z, 2.5 + 0.5j), crand, lambda z: (2.5 + 0.5j) * z ** (1.5 + 0.5j)),
    (lambda z: lnp.float_power(z, 2), crand, lambda z: 2 * z),
    (lambda z: 1 / z, crand, lambda z: -1 / z**2),
]

BINARY = [
    (lnp.add, crand, crand),
    (lnp.subtract, crand, crand),
    (lnp.multiply, crand, crand),
    (lnp.divide, crand, crand),
    (lnp.power, crand, crand),
    (lnp.float_power, crand, crand),
    (lnp.maximum, crand, crand),
    (lnp.minimum, crand, crand),
    (lnp.fmax, crand, crand),
    (lnp.fmin, crand, crand),
    (lnp.multiply, crand, rand),  # complex times real: the real side's multiplier is real
    (lnp.divide, rand, crand),
    (lnp.power, positive, crand),
]

NON_HOLOMORPHIC = [
    lnp.abs,
    lnp.sign,
    lnp.angle,
    lambda z: lnp.angle(z, deg=True),
    lnp.real,
    lnp.imag,
    lnp.conj,
    lnp.nan_to_num,
    lambda z: z.real * z.imag + z.conj() * z,
    lambda z: lnp.abs(z) ** 2,
    lambda z: lnp.sign(z) * lnp.abs(z),
    lambda z: lnp.exp(1j * lnp.angle(z)) * lnp.abs(z),
    lambda z: lnp.rint(2 * z) * z,  # zero derivative: a constant factor
    lambda z: lnp.round(z, 1) * z,
]


def _name(f: object) -> str:
    return getattr(f, "name", getattr(f, "__name__", repr(f)))


def test_the_headline_convention():
    """grad of |z|² at 1+2j is 2·conj(z) = 2-4j, as autograd and JAX give (PyTorch: 2+4j)."""
    z = np.complex128(1 + 2j)
    assert lagrad.grad(lambda z: lnp.abs(z) ** 2)(z) == 2 - 4j
    assert lagrad.grad(lambda z: np.abs(z) ** 2)(z) == 2 - 4j
    assert lagrad.grad(lambda z: lnp.real(z * lnp.conj(z)))(z) == 2 - 4j
    assert lagrad.grad(lambda z: z.real**2 + z.imag**2)(z) == 2 - 4j
    assert np.isclose(lagrad.grad(lambda z: lnp.abs(z))(z), (1 - 2j) / np.sqrt(5))  # conj(z)/|z|


@pytest.mark.parametrize("fun,sample,derivative", HOLOMORPHIC, ids=[_name(f) for f, _, _ in HOLOMORPHIC])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_holomorphic(fun, sample, derivative, shape):
    z = sample(*shape)
    check(fun, z)
    # grad Re f(z) = ∂Re f/∂x - i ∂Re f/∂y = f'(z) for holomorphic f (Cauchy-Riemann)
    assert np.allclose(lagrad.grad(lambda z: lnp.sum(lnp.real(fun(z))))(z), derivative(z), rtol=1e-12)
    # and the tangent of f along t is f'(z)·t
    t = np.ones_like(z) * (0.3 - 0.7j)
    assert np.allclose(lagrad.jvp(fun, (z,), (t,))[1], derivative(z) * t, rtol=1e-12)


@pytest.mark.parametrize("fun,sample_x,sample_y", BINARY, ids=[_name(f) for f, _, _ in BINARY])
@pytest.mark.parametrize("shapes", BROADCAST, ids=str)
def test_binary(fun, sample_x, sample_y, shapes):
    check(fun, sample_x(*shapes[0]), sample_y(*shapes[1]))


@pytest.mark.parametrize("fun", NON_HOLOMORPHIC, ids=[_name(f) for f in NON_HOLOMORPHIC])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_non_holomorphic(fun, shape):
    check(fun, crand(*shape))


def test_arccosh_follows_numpys_branch_cut():
    # In the left half-plane 1/sqrt(z²-1) has the wrong sign; finite differences tell them apart.
    z = np.array([-2 + 0.5j, -0.5 - 1j, -1.2 + 0.01j])
    check(lnp.arccosh, z)
    assert np.allclose(lagrad.jvp(lnp.arccosh, (z,), (np.ones_like(z),))[1], 1 / (np.sqrt(z - 1) * np.sqrt(z + 1)))


def test_abs_sign_and_angle_against_their_closed_forms():
    z = np.array([3 + 4j, -1 + 0.5j, 0.2 - 2j])
    x, y, r = z.real, z.imag, np.abs(z)
    # grad = ∂/∂x - i ∂/∂y of a real function
    assert np.allclose(lagrad.grad(lambda z: lnp.sum(lnp.abs(z)))(z), (x - 1j * y) / r)
    assert np.allclose(lagrad.grad(lambda z: lnp.sum(lnp.angle(z)))(z), (-y - 1j * x) / r**2)
    assert np.allclose(lagrad.grad(lambda z: lnp.sum(lnp.angle(z, deg=True)))(z), (-y - 1j * x) / r**2 * 180 / np.pi)
    # Re sign(z) = x/r: ∂x = y²/r³, ∂y = -xy/r³
    assert np.allclose(lagrad.grad(lambda z: lnp.sum(lnp.real(lnp.sign(z))))(z), (y**2 + 1j * x * y) / r**3)
    # tangents: d|z| = Re(conj(z)·t)/|z|, d arg z = Im(conj(z)·t)/|z|²
    t = np.array([1 - 1j, 0.5j, 2.0 + 0j])
    assert np.allclose(lagrad.jvp(lnp.abs, (z,), (t,))[1], np.real(np.conj(z) * t) / r)
    assert np.allclose(lagrad.jvp(lnp.angle, (z,), (t,))[1], np.imag(np.conj(z) * t) / r**2)
    assert np.allclose(lagrad.jvp(lnp.sign, (z,), (t,))[1], t / r - z * np.real(np.conj(z) * t) / r**3)
    assert np.array_equal(lnp.sign(z), np.sign(z)) and np.array_equal(lnp.angle(z), np.angle(z))


def test_abs_sign_and_angle_have_zero_derivative_at_zero():
    z = np.array([0j, 1 + 1j])
    for f in (lnp.abs, lambda z: lnp.real(lnp.sign(z)), lambda z: lnp.imag(lnp.sign(z)), lnp.angle):
        g = lagrad.grad(lambda z: lnp.sum(f(z)))(z)
        assert g[0] == 0 and np.all(np.isfinite(g))
        assert lagrad.jvp(f, (z,), (np.array([1 + 2j, 0j]),))[1][0] == 0


def test_nan_to_num_on_complex_values_part_by_part():
    z = np.array([1 + 2j, complex(np.nan, 1.0), complex(2.0, np.inf)])
    g = lagrad.grad(lambda z: lnp.sum(lnp.real(lnp.nan_to_num(z, posinf=9.0) * (2 - 3j))))(z)
    # Re(w·(2-3j)) with w = nan_to_num(z): ∂/∂x = 2 where Re z is finite, ∂/∂y = 3 where Im z is
    assert np.array_equal(g, [2 - 3j, 0 - 3j, 2 + 0j])


def test_real_inputs_get_real_gradients():
    x = rand(3)
    fs = [
        (lambda x: lnp.real(lnp.exp(1j * x)), -np.sin(x)),
        (lambda x: lnp.abs(x * (3 + 4j)), 5 * np.sign(x)),
        (lambda x: lnp.imag(lnp.sqrt(x - 2 + 0j)), -0.5 / np.sqrt(2 - x)),  # sqrt(x - 2) = i·sqrt(2 - x)
        (lambda x: lnp.angle(x + 1j), -1 / (1 + x**2)),
        (lambda x: lnp.abs(lnp.sign(x + 0.5j)) * x, np.ones(3)),
    ]
    for f, expected in fs:
        g = lagrad.grad(lambda x: lnp.sum(f(x)))(x)
        assert g.dtype == np.float64 and np.allclose(g, expected)
        check(f, x)
    system = lagrad.adjoint(lambda x: lnp.sum(lnp.abs(lnp.exp(1j * x) * x)), x)
    assert system.multipliers[1].dtype == np.float64  # λ of the real input, straight from the solver


def test_complex_and_real_inputs_together():
    z, x = crand(2, 3), rand(3)
    check(lambda z, x: lnp.sqrt(z) * x + lnp.abs(z) * lnp.sin(x) + lnp.angle(z * x), z, x)
    check(lambda z, x: lnp.arctan(z / (1 + x**2)) + lnp.conj(z) * lnp.log(1 + x**2), z, x)


def test_complex64_stays_complex64():
    z = crand(3).astype(np.complex64)
    fs = (lnp.exp, lnp.arcsinh, lnp.abs, lnp.sign, lnp.angle, lnp.sqrt, lambda z: z ** (2.5 + 0.5j) + lnp.imag(z) * z)
    for f in fs:
        system = lagrad.adjoint(lambda z: lnp.sum(lnp.real(f(z))), z)
        assert system.multipliers[1].dtype == np.complex64
        g = lagrad.grad(lambda z: lnp.sum(lnp.real(f(z))))(z)
        g128 = lagrad.grad(lambda z: lnp.sum(lnp.real(f(z))))(z.astype(np.complex128))
        assert g.dtype == np.complex64 and np.allclose(g, g128, rtol=1e-5, atol=1e-5)


def test_plain_numpy_on_complex_values():
    z = crand(2, 3)

    def with_numpy(z):
        return np.abs(np.exp(z) + np.conj(z)) * np.angle(z) + np.real(np.arcsinh(z)) * np.imag(np.sign(z))

    def with_lagrad(z):
        return lnp.abs(lnp.exp(z) + lnp.conj(z)) * lnp.angle(z) + lnp.real(lnp.arcsinh(z)) * lnp.imag(lnp.sign(z))

    rhs = [[eq.rhs() for eq in lagrad.trace(f, z).equations] for f in (with_numpy, with_lagrad)]
    assert rhs[0] == rhs[1]
    check(with_numpy, z)
