"""Elementwise primitives: every rule over scalars, vectors, matrices and broadcast shapes,
each function on the domain where it is defined; every NumPy ufunc registered."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

import lagrad
import lagrad.numpy as lnp
from lagrad.core import registry
from tests.conftest import positive, rand
from tests.helpers import check

SHAPES = [(), (3,), (2, 3)]
BROADCAST = [((), ()), ((3,), (3,)), ((2, 3), (2, 3)), ((2, 1), (3,)), ((), (2, 3)), ((4, 1, 3), (2, 1))]
PRODUCTS = {"matmul", "vecdot", "matvec", "vecmat"}  # generalized ufuncs: the products module's


def away_from_zero(*shape: int) -> np.ndarray:
    """Magnitudes in [0.5, 1.5), either sign: clear of a kink or pole at 0."""
    return rand(*shape, low=0.5, high=1.5) * np.where(rand(*shape) > 0, 1.0, -1.0)


def inside_unit(*shape: int) -> np.ndarray:
    """In (-0.8, 0.8): the domain of arcsin, arccos and arctanh, clear of its ends."""
    return 0.8 * rand(*shape)


def above_one(*shape: int) -> np.ndarray:
    """In [1.5, 3): the domain of arccosh, clear of 1."""
    return positive(*shape) + 1.0


def wide(*shape: int) -> np.ndarray:
    """In [-5, 5): quotients by numbers near 1.5 of several integer parts, either sign."""
    return 5.0 * rand(*shape)


def divisor(*shape: int) -> np.ndarray:
    return rand(*shape, low=1.2, high=1.8)


UNARY = [
    (lnp.exp, rand),
    (lnp.exp2, rand),
    (lnp.expm1, rand),
    (lnp.log, positive),
    (lnp.log2, positive),
    (lnp.log10, positive),
    (lnp.log1p, positive),
    (lnp.sqrt, positive),
    (lnp.cbrt, away_from_zero),
    (lnp.square, rand),
    (lnp.reciprocal, away_from_zero),
    (lnp.sin, rand),
    (lnp.cos, rand),
    (lnp.tan, rand),
    (lnp.arcsin, inside_unit),
    (lnp.arccos, inside_unit),
    (lnp.arctan, rand),
    (lnp.sinh, rand),
    (lnp.cosh, rand),
    (lnp.tanh, rand),
    (lnp.arcsinh, rand),
    (lnp.arccosh, above_one),
    (lnp.arctanh, inside_unit),
    (lnp.deg2rad, wide),
    (lnp.rad2deg, rand),
    (lnp.radians, wide),
    (lnp.degrees, rand),
    (lnp.sinc, wide),
    (lnp.abs, away_from_zero),
    (lnp.fabs, away_from_zero),
    (lnp.negative, rand),
    (lnp.positive, rand),
    (lnp.conjugate, rand),
    (lnp.nan_to_num, rand),
    (lambda x: -x, rand),
    (lambda x: +x, rand),
    (lambda x: abs(x), away_from_zero),
]

BINARY = [
    (lnp.add, rand, rand),
    (lnp.subtract, rand, rand),
    (lnp.multiply, rand, rand),
    (lnp.divide, rand, positive),
    (lnp.power, positive, rand),
    (lnp.float_power, positive, rand),
    (lnp.maximum, rand, rand),
    (lnp.minimum, rand, rand),
    (lnp.fmax, rand, rand),
    (lnp.fmin, rand, rand),
    (lnp.remainder, positive, lambda *s: positive(*s) + 3.0),
    (lnp.remainder, wide, divisor),
    (lnp.fmod, wide, divisor),
    (lnp.arctan2, rand, away_from_zero),
    (lnp.hypot, away_from_zero, rand),
    (lnp.logaddexp, rand, rand),
    (lnp.logaddexp2, rand, rand),
    (lnp.copysign, away_from_zero, away_from_zero),
    (lnp.nextafter, rand, rand),
    (lambda x, y: x + y, rand, rand),
    (lambda x, y: x - y, rand, rand),
    (lambda x, y: x * y, rand, rand),
    (lambda x, y: x / y, rand, positive),
    (lambda x, y: x**y, positive, rand),
    (lambda x, y: x % y, positive, lambda *s: positive(*s) + 3.0),
]

# Constant almost everywhere: zero derivative, but a float result that other equations use.
ZERO_DERIVATIVE = [
    (lnp.floor, wide),
    (lnp.ceil, wide),
    (lnp.trunc, wide),
    (lnp.rint, wide),
    (lnp.fix, wide),
    (lnp.round, wide),
    (lambda x: lnp.round(x, 2), wide),
    (lambda x: x.round(1), wide),
    (lnp.spacing, wide),
    (lnp.sign, wide),
    (lnp.angle, wide),
    (lambda x: lnp.floor_divide(x, 0.7), wide),
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


@pytest.mark.parametrize("fun,sample", ZERO_DERIVATIVE, ids=[_name(f) for f, _ in ZERO_DERIVATIVE])
def test_zero_derivative_almost_everywhere(fun, sample):
    x = sample(2, 3)
    assert np.all(lagrad.grad(lambda x: lnp.sum(fun(x)))(x) == 0)
    program = lagrad.trace(fun, x)
    assert program.equations[-1].dtype.kind == "f" and program.equations[-1].diff == ()  # no block in A
    check(lambda x: fun(x) * x + x, x)  # the value still flows where it is used


@pytest.mark.parametrize("shapes", BROADCAST, ids=str)
def test_python_and_constant_operands(shapes):
    c = rand(*shapes[1])
    check(lambda x: 2.0 * x - x / 3.0 + c * x**2 - 1.5, rand(*shapes[0]))
    check(lambda x: c**2 / (1.0 + x**2) + np.float64(2) * x, rand(*shapes[0]))


def test_power_with_integer_exponent_and_zero_base():
    x = np.array([0.0, 1.5, -2.0])
    assert np.allclose(lagrad.grad(lambda x: lnp.sum(x**3))(x), 3 * x**2)
    assert np.allclose(lagrad.grad(lambda x: lnp.sum(x**0))(x), 0.0)
    assert np.allclose(lagrad.grad(lambda x: lnp.sum(lnp.float_power(x, 3)))(x), 3 * x**2)
    check(lambda x: x**2, x)
    check(lambda x: lnp.float_power(x, 2.0), x)


def test_ties_split_the_derivative_evenly():
    x = np.array([1.0, 2.0, 3.0])
    for maximum, minimum in [(lnp.maximum, lnp.minimum), (lnp.fmax, lnp.fmin)]:
        assert np.array_equal(lagrad.grad(lambda x: lnp.sum(maximum(x, 2.0)))(x), [0.0, 0.5, 1.0])
        assert np.array_equal(lagrad.grad(lambda x: lnp.sum(minimum(x, 2.0)))(x), [1.0, 0.5, 0.0])


def test_fmax_and_fmin_pass_the_derivative_to_the_number_beside_a_nan():
    x, y = np.array([np.nan, 1.0, 3.0]), np.array([2.0, np.nan, 1.0])
    for f in (lnp.fmax, lnp.fmin):
        gx, gy = lagrad.grad(lambda x, y: lnp.sum(f(x, y) * np.array([1.0, 2.0, 3.0])), argnums=(0, 1))(x, y)
        win = 3.0 if f is lnp.fmax else 0.0
        assert np.array_equal(gx, [0.0, 2.0, win]) and np.array_equal(gy, [1.0, 0.0, 3.0 - win])


def test_remainder_fmod_and_divmod_against_their_closed_forms():
    x, y = np.array([-4.5, -1.0, 2.0, 4.25]), np.array([1.5, 1.5, -1.5, 1.5])
    gy = lagrad.grad(lambda y: lnp.sum(lnp.remainder(x, y)))(y)
    assert np.allclose(gy, -np.floor_divide(x, y))
    gy = lagrad.grad(lambda y: lnp.sum(lnp.fmod(x, y)))(y)
    assert np.allclose(gy, -np.trunc(x / y))
    gx, gy = lagrad.grad(lambda x, y: lnp.sum(lnp.divmod(x, y)[1]), argnums=(0, 1))(x, y)
    assert np.allclose(gx, 1.0) and np.allclose(gy, -np.floor_divide(x, y))


@pytest.mark.parametrize("shapes", BROADCAST, ids=str)
def test_divmod(shapes):
    x, y = wide(*shapes[0]), divisor(*shapes[1])
    q, r = lnp.divmod(x, y)
    assert np.array_equal(q, np.floor_divide(x, y)) and np.array_equal(r, np.remainder(x, y))
    check(lambda x, y: lnp.divmod(x, y)[1] * lnp.divmod(x, y)[0] + lnp.divmod(x, y)[1] ** 2, x, y)
    check(lambda x, y: lnp.divmod(x, y)[0] * x, x, y)  # an unused part gets a zero multiplier


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_modf_and_frexp(shape):
    x = wide(*shape)
    check(lambda x: lnp.modf(x)[0] * lnp.modf(x)[1] + lnp.modf(x)[0] ** 2, x)
    check(lambda x: lnp.frexp(x)[0] ** 2 * lnp.frexp(x)[1], x)
    for lagrad_f, numpy_f in [(lnp.modf, np.modf), (lnp.frexp, np.frexp)]:
        for mine, theirs in zip(lagrad_f(x), numpy_f(x)):
            assert np.array_equal(mine, theirs) and np.asarray(mine).dtype == np.asarray(theirs).dtype
    # d(fraction)/dx = 1; d(mantissa)/dx = 2**-exponent
    assert np.allclose(lagrad.grad(lambda x: lnp.sum(lnp.modf(x)[0]))(x), 1.0)
    assert np.allclose(lagrad.grad(lambda x: lnp.sum(lnp.frexp(x)[0]))(x), 2.0 ** -np.frexp(x)[1])


def test_several_output_ufuncs_from_plain_numpy():
    x, y = wide(4), divisor(4)
    check(lambda x: np.modf(x)[0] * x + np.frexp(x)[0], x)
    check(lambda x, y: np.divmod(x, y)[1] * y, x, y)
    fraction, whole = lagrad.trace(lambda x: np.modf(x), x)(x)
    assert np.array_equal(fraction, np.modf(x)[0]) and np.array_equal(whole, np.modf(x)[1])


@pytest.mark.parametrize("shapes", BROADCAST, ids=str)
def test_ldexp(shapes):
    exponents = np.array([-2, 0, 3])[np.arange(int(np.prod(shapes[1]))) % 3].reshape(shapes[1])
    check(lambda x: lnp.ldexp(x, exponents), rand(*shapes[0]))
    x = rand(*shapes[0])
    assert np.array_equal(lagrad.grad(lambda x: lnp.sum(lnp.ldexp(x, 3)))(x), np.full(x.shape, 8.0))


def test_heaviside_passes_the_derivative_to_its_value_at_zero():
    x1 = np.array([-1.0, 0.0, 2.0, 0.0])
    check(lambda x2: lnp.heaviside(x1, x2), rand(4))
    check(lambda x2: lnp.heaviside(x1, x2) * x2, rand())
    assert np.array_equal(lagrad.grad(lambda x2: lnp.sum(lnp.heaviside(x1, x2)))(np.float64(0.5)), 2.0)
    assert np.all(lagrad.grad(lambda x1: lnp.sum(lnp.heaviside(x1, 0.5)))(x1) == 0)


def test_copysign_and_nextafter_closed_forms():
    x, y = np.array([1.5, -1.5, 2.0, -2.0]), np.array([1.0, 1.0, -1.0, -1.0])
    gx, gy = lagrad.grad(lambda x, y: lnp.sum(lnp.copysign(x, y)), argnums=(0, 1))(x, y)
    assert np.array_equal(gx, np.sign(x) * np.sign(y)) and np.all(gy == 0)
    gx, gy = lagrad.grad(lambda x, y: lnp.sum(lnp.nextafter(x, y)), argnums=(0, 1))(x, y)
    assert np.array_equal(gx, np.ones(4)) and np.all(gy == 0)


def test_sinc_at_and_near_zero():
    x = np.array([0.0, 1e-9, -1e-4, 0.03, 0.2, -1.5])
    check(lnp.sinc, x)
    d1 = lagrad.elementwise_grad(lnp.sinc)(x)
    d2 = lagrad.elementwise_grad(lagrad.elementwise_grad(lnp.sinc))(x)
    u = np.pi * x[3:]
    assert d1[0] == 0.0
    assert np.allclose(d1[3:], np.pi * (u * np.cos(u) - np.sin(u)) / u**2, rtol=1e-12)
    assert np.isclose(d2[0], -(np.pi**2) / 3, rtol=1e-12) and np.isclose(d2[1], -(np.pi**2) / 3, rtol=1e-9)
    assert np.array_equal(lnp.sinc(x), np.sinc(x))


@pytest.mark.parametrize("dtype,tol", [(np.float32, 2e-6), (np.float16, 4e-3)])
def test_sinc_derivative_in_low_precision_keeps_its_digits_near_zero(dtype, tol):
    # the quotient (cos(πx) - sinc(x))/x cancels for small x: in float16 it lost 0.016 at x = 0.13
    x = np.linspace(-1.2, 1.2, 481).astype(dtype)
    g = lagrad.elementwise_grad(lnp.sinc)(x)
    u = np.pi * x.astype(np.float64)
    exact = np.pi * np.where(u == 0, 0.0, (u * np.cos(u) - np.sin(u)) / np.where(u == 0, 1.0, u) ** 2)
    assert g.dtype == dtype and np.max(np.abs(g - exact)) < tol * np.max(np.abs(exact))


def test_hypot_and_abs_have_zero_derivative_at_zero():
    z = np.zeros(2)
    gx, gy = lagrad.grad(lambda x, y: lnp.sum(lnp.hypot(x, y)), argnums=(0, 1))(z, z)
    assert np.array_equal(gx, z) and np.array_equal(gy, z)
    assert np.array_equal(lagrad.grad(lambda x: lnp.sum(lnp.abs(x)))(z), z)


def test_nan_to_num_passes_the_derivative_only_where_x_is_finite():
    x = np.array([1.5, np.nan, np.inf, -np.inf, -0.5])
    g = lagrad.grad(lambda x: lnp.sum(lnp.nan_to_num(x, nan=1.0, posinf=9.0, neginf=-9.0) * 2.0))(x)
    assert np.array_equal(g, [2.0, 0.0, 0.0, 0.0, 2.0])
    assert np.array_equal(lnp.nan_to_num(x, nan=1.0, posinf=9.0), np.nan_to_num(x, nan=1.0, posinf=9.0))
    assert np.array_equal(lagrad.trace(lambda x: np.nan_to_num(x, posinf=9.0), x)(x), np.nan_to_num(x, posinf=9.0))
    check(lambda x: np.nan_to_num(x) ** 2, rand(2, 3))


def test_zero_derivative_functions_keep_numpy_values():
    x = wide(2, 3)
    for f in (np.floor, np.ceil, np.trunc, np.rint, np.fix, np.round, np.around, np.spacing, np.sign, np.angle):
        assert np.array_equal(lagrad.trace(lambda x: f(x), x)(x), f(x))
    assert np.array_equal(lagrad.trace(lambda x: np.round(x, 1), x)(x), np.round(x, 1))


def test_round_method_and_pythons_round_on_a_0d_float():
    x = np.array([2.5, -1.26, 3.5])
    python_round = registry.methods["__round__"]  # what round(x) runs on a traced value

    def f(x):
        whole = python_round(x[0])  # like round(numpy.float64(2.5)): an integer, no derivative
        assert whole.dtype == np.int64 and whole.inexact is False
        tenths = python_round(x[1], 1)  # like round(numpy.float64(-1.26), 1): a float
        assert tenths.dtype == np.float64
        return lnp.sum(x * whole + x * tenths + x * x.round(0))

    assert np.allclose(lagrad.grad(f)(x), 2 + np.round(-1.26, 1) + np.round(x))
    with pytest.raises(TypeError, match=r"lagrad\.numpy\.round"):
        lagrad.grad(lambda x: lnp.sum(python_round(x)))(x)


def test_builtin_round_of_a_traced_0d_float():
    x = np.array([2.5, -1.26])
    g = lagrad.grad(lambda x: lnp.sum(x * round(x[0]) + x * round(x[1], 1)))(x)
    assert np.allclose(g, 2 + np.round(-1.26, 1))


def test_python_divmod_and_shifts_on_traced_values():
    x, y = positive(3) + 2.0, positive(3)
    q, r = lagrad.value(lagrad.trace(lambda x, y: divmod(x, y), x, y)(x, y))
    assert np.allclose(q, x // y) and np.allclose(r, x % y)
    check(lambda x, y: divmod(x, y)[1] * 2.0, x, y)
    n = np.array([1, 2, 3])
    program = lagrad.trace(lambda x, n: x * (n << 1) + x * (n >> 1), x, n, argnums=0)
    assert np.allclose(program(x), x * (n << 1) + x * (n >> 1))


def test_clip_and_where_shapes():
    for shape in SHAPES:
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


def test_integer_and_boolean_ufuncs_evaluate_on_traced_values_with_no_derivative():
    x = np.array([4.0, 6.5, 9.0, -3.0])
    n = x.astype(np.int64)

    def integers(x):
        m = x.astype(np.int64)
        return (
            lnp.gcd(m, 6) + np.lcm(m, 4) + np.left_shift(m, 1) + np.right_shift(m, 1) + np.bitwise_count(m)
            + np.bitwise_not(m) + np.bitwise_and(m, 5) + np.bitwise_or(m, 2) + np.bitwise_xor(m, 3)
        )  # fmt: skip

    expected = (
        np.gcd(n, 6) + np.lcm(n, 4) + np.left_shift(n, 1) + np.right_shift(n, 1) + np.bitwise_count(n)
        + np.bitwise_not(n) + np.bitwise_and(n, 5) + np.bitwise_or(n, 2) + np.bitwise_xor(n, 3)
    )  # fmt: skip
    program = lagrad.trace(integers, x)
    assert np.array_equal(program(x), expected)
    assert all(eq.diff == () for eq in program.equations)

    def tests(x):
        flags = (np.signbit(x), np.isnan(x), np.isinf(x), np.isfinite(x), np.logical_not(x > 5))
        return lnp.sum(x * sum(flag * 1.0 for flag in flags))

    expected = np.signbit(x) * 1.0 + np.isfinite(x) + np.logical_not(x > 5)
    assert np.array_equal(lagrad.grad(tests)(x), expected)
    with pytest.raises(TypeError, match="isnat"):
        lagrad.grad(lambda x: lnp.sum(x * np.isnat(x)))(x)


def test_every_numpy_ufunc_is_registered():
    """A NumPy upgrade that adds a ufunc fails here until lagrad gives it a primitive."""
    ufuncs = {name: getattr(np, name) for name in dir(np) if isinstance(getattr(np, name), np.ufunc)}
    missing = sorted(name for name, u in ufuncs.items() if u not in registry.ufuncs and name not in PRODUCTS)
    assert not missing, f"NumPy ufuncs with no lagrad primitive: {missing}"
    not_exported = sorted(name for name in ufuncs if name not in PRODUCTS and not hasattr(lnp, name))
    assert not not_exported, f"NumPy ufuncs missing from lagrad.numpy: {not_exported}"
    assert lnp.acos is lnp.arccos and lnp.pow is lnp.power and lnp.mod is lnp.remainder


SAME_EQUATIONS = [
    ("exp2", rand), ("log2", positive), ("log10", positive), ("cbrt", away_from_zero), ("square", rand),
    ("reciprocal", away_from_zero), ("arcsin", inside_unit), ("arccos", inside_unit), ("arcsinh", rand),
    ("arccosh", above_one), ("arctanh", inside_unit), ("deg2rad", rand), ("rad2deg", rand), ("degrees", rand),
    ("radians", rand), ("fabs", away_from_zero), ("sinc", rand), ("nan_to_num", rand), ("floor", wide),
    ("ceil", wide), ("trunc", wide), ("rint", wide), ("fix", wide), ("round", wide), ("around", wide),
    ("spacing", wide), ("sign", wide), ("angle", wide), ("absolute", away_from_zero), ("conjugate", rand),
]  # fmt: skip
SAME_EQUATIONS_BINARY = [
    "float_power", "fmax", "fmin", "fmod", "arctan2", "hypot", "logaddexp", "logaddexp2", "copysign", "nextafter",
    "heaviside", "maximum", "minimum", "remainder", "power",
]  # fmt: skip


@pytest.mark.parametrize("name,sample", SAME_EQUATIONS, ids=[n for n, _ in SAME_EQUATIONS])
def test_plain_numpy_calls_record_the_same_equations(name, sample):
    x = sample(2, 3)
    programs = [lagrad.trace(lambda x: getattr(m, name)(x) * x, x) for m in (np, lnp)]
    assert [eq.rhs() for eq in programs[0].equations] == [eq.rhs() for eq in programs[1].equations]
    assert np.array_equal(programs[0](x), getattr(np, name)(x) * x)
    check(lambda x: getattr(np, name)(x) * x, x, order=1)  # order 1: lnp's rules, at order 2 elsewhere


@pytest.mark.parametrize("name", SAME_EQUATIONS_BINARY)
def test_plain_numpy_binary_calls_record_the_same_equations(name):
    x, y = positive(2, 3), above_one(3)
    programs = [lagrad.trace(lambda x, y: getattr(m, name)(x, y), x, y) for m in (np, lnp)]
    assert [eq.rhs() for eq in programs[0].equations] == [eq.rhs() for eq in programs[1].equations]
    assert np.array_equal(programs[0](x, y), getattr(np, name)(x, y))
    check(lambda x, y: getattr(np, name)(x, y), x, y, order=1)  # order 1: lnp's rules, at order 2 elsewhere


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


# ----- dtypes: a float32 (float16) variable's multiplier and tangent stay float32 (float16) -----

DTYPE_UNARY = [(f, s) for f, s in UNARY if _name(f) != "<lambda>"]
DTYPE_BINARY = [(f, x, y) for f, x, y in BINARY if _name(f) not in ("<lambda>", "float_power")] + [
    (lnp.heaviside, rand, rand),
    (lambda x, y: lnp.divmod(x, y)[1], wide, divisor),
    (lambda x, y: lnp.modf(x)[0] * lnp.frexp(y)[0], wide, wide),
    (lambda x, y: lnp.ldexp(x, 2) * y, rand, rand),
    (lambda x, y: lnp.where(x > y, x, y) + lnp.clip(x, -0.2, 0.2), rand, rand),
]


def assert_dtypes_kept(f, *args):
    """Every multiplier of an inexact variable has that variable's dtype, and so has the tangent."""
    system = lagrad.adjoint(lambda *a: lnp.sum(f(*a)), *args)
    program = system.program
    for i, lam in enumerate(system.multipliers.lambdas):
        dtype = program.dtype(i)
        if not isinstance(dtype, tuple) and np.dtype(dtype).kind in "fc":
            assert np.asarray(lagrad.value(lam)).dtype == dtype, f"λ{i + 1} of {program}"
    out, tangent = lagrad.jvp(f, args, tuple(np.ones_like(a) for a in args))
    assert tangent.dtype == np.asarray(out).dtype == args[0].dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("fun,sample", DTYPE_UNARY, ids=[_name(f) for f, _ in DTYPE_UNARY])
def test_unary_rules_keep_the_dtype(fun, sample, dtype):
    x = sample(2, 3).astype(dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        assert_dtypes_kept(fun, x)
        g = lagrad.elementwise_grad(fun)(x)
    g64 = lagrad.elementwise_grad(fun)(x.astype(np.float64))
    # float16 carries 3 digits: sinc's rule evaluates cos(πx) at |πx| up to 16, where its ulp is 0.016
    tol = 1e-5 if dtype == np.float32 else 1e-2
    assert g.dtype == dtype and np.allclose(g, g64, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("fun,sample", ZERO_DERIVATIVE, ids=[_name(f) for f, _ in ZERO_DERIVATIVE])
def test_zero_derivative_rules_keep_the_dtype(fun, sample, dtype):
    x = sample(2, 3).astype(dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        assert_dtypes_kept(lambda x: fun(x) * x, x)
        g = lagrad.grad(lambda x: lnp.sum(fun(x) * x))(x)
    assert g.dtype == dtype and np.array_equal(g, fun(x))  # d(f(x)·x)/dx = f(x) where f' = 0


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("fun,sample_x,sample_y", DTYPE_BINARY, ids=[_name(f) for f, _, _ in DTYPE_BINARY])
def test_binary_rules_keep_the_dtype(fun, sample_x, sample_y, dtype):
    x, y = sample_x(2, 3).astype(dtype), sample_y(3).astype(dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        assert_dtypes_kept(fun, x, y)


def test_float_power_computes_in_float64_and_gives_float32_gradients():
    x, y = positive(3).astype(np.float32), rand(3).astype(np.float32)
    assert lnp.float_power(x, y).dtype == np.float64  # NumPy's definition
    gx, gy = lagrad.grad(lambda x, y: lnp.sum(lnp.float_power(x, y)), argnums=(0, 1))(x, y)
    assert gx.dtype == gy.dtype == np.float32
    assert np.allclose(gx, y * x.astype(np.float64) ** (y - 1.0), rtol=1e-6)


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
    for f in (lnp.round, lnp.fix):
        with pytest.raises(TypeError, match=re.escape(f"lagrad.numpy.{f.__name__}: out=")):
            lagrad.grad(lambda x: lnp.sum(f(x, out=np.empty(3))))(x)


def test_constant_for_the_degree_conversions_is_exact():
    x = rand(3)
    assert np.array_equal(lagrad.grad(lambda x: lnp.sum(lnp.deg2rad(x)))(x), np.full(3, math.pi / 180))
    assert np.array_equal(lagrad.grad(lambda x: lnp.sum(lnp.degrees(x)))(x), np.full(3, 180 / math.pi))


@pytest.mark.parametrize("fun", [lnp.logaddexp, lnp.logaddexp2], ids=["logaddexp", "logaddexp2"])
def test_logaddexp_slopes_at_infinities(fun):
    # exp(x - ans) is exp(inf - inf) = NaN where x = +inf; the slope there is 1 (0.5 at a tie),
    # and at (-inf, -inf), two zero probabilities, the limit along x = y: 0.5 each
    g = lagrad.grad(fun, (0, 1))
    for (x, y), want in [
        ((np.inf, 0.0), (1.0, 0.0)),
        ((0.0, np.inf), (0.0, 1.0)),
        ((np.inf, np.inf), (0.5, 0.5)),
        ((-np.inf, -np.inf), (0.5, 0.5)),
        ((0.0, -np.inf), (1.0, 0.0)),
        ((0.3, 0.3), (0.5, 0.5)),
    ]:
        assert np.allclose(g(x, y), want, rtol=1e-15, atol=0), (x, y)
    assert lagrad.grad(lambda x: fun(x, x))(-np.inf) == 1.0  # fun(x, x) = x + log 2


@pytest.mark.parametrize("scale", [1.0, 1e-170, 1e-300])
def test_complex_abs_and_angle_slopes_at_tiny_values(scale):
    """|z| and arg z have the slopes conj(z)/|z| and -i/z (hypot(x, y): x/r, y/r): formed as
    g·conj(z) (g·x) first, or over |z|², they underflowed for small |z|: the slope of
    Re(z)·|z| lost its second term and that of arg z came out about 1e-170 in place of 1e170.
    Closed forms, z = x + iy, and a real function's derivative ∂f/∂x - i ∂f/∂y as both modes
    give it."""
    x = y = scale
    z, r = complex(x, y), np.hypot(x, y)
    for mode in ("rev", "fwd"):
        got = lagrad.jacobian(lambda z: lnp.real(z) * lnp.abs(z), mode=mode)(z)
        assert np.isclose(got, (r + x * (x / r)) - 1j * (x * (y / r)), rtol=1e-14, atol=0), mode
        got = lagrad.jacobian(lnp.angle, mode=mode)(z)
        assert np.isclose(got, -y / r / r - 1j * (x / r / r), rtol=1e-14, atol=0), mode
        got = lagrad.jacobian(lambda v: v[0] * lnp.hypot(v[0], v[1]), mode=mode)(np.array([x, y]))
        assert np.allclose(got, [r + x * (x / r), x * (y / r)], rtol=1e-14, atol=0), mode
