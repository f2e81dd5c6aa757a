"""Plain NumPy: a function written with ``import numpy as np`` differentiates like one
written with lagrad.numpy.

Each case is written once against a NumPy-like module `m` and run with
``m = numpy`` and ``m = lagrad.numpy``: the two record the same equations and
give the same derivatives, and the plain-NumPy one passes the gradient checks.
To cover a new function, add a `Case` (its `name` is the NumPy name, with
``linalg.``/``fft.`` in front for those modules); `test_every_dispatched_function_has_a_case`
lists the ones still missing. The functions NumPy defines as writes in place (put,
put_along_axis) cannot differentiate on immutable traced arrays: they are listed in `IN_PLACE`
instead, and tested to refuse with the fix.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import lagrad
import lagrad.numpy as lnp
from lagrad.core import registry
from lagrad.testing import check_grads
from tests.conftest import positive, rand
from tests.helpers import check


@dataclass
class Case:
    name: str  # the NumPy function this case covers
    fun: Callable[..., Any]  # fun(m, *args), with m = numpy or lagrad.numpy
    args: tuple[Any, ...]
    order: int = 2


def _distinct(*shape: int) -> np.ndarray:
    """Values at least 0.1 apart (no ties for sorting and selection), shuffled."""
    n = int(np.prod(shape, dtype=np.int64))
    return np.random.default_rng(n).permutation(np.linspace(-1.1, 1.3, n)).reshape(shape) + 0.01 * rand(*shape)


X, Y = rand(2, 3), rand(2, 3)
V, W = _distinct(6), rand(6)
P = positive(2, 3)
Z = rand(3) + 1j * rand(3)
EDGES = np.array([-0.5, 0.0, 0.5])
SPECIAL = np.array([[1.0, np.nan, np.inf], [-np.inf, 1.0, 2.0]])
U = 0.8 * X  # inside (-1, 1): arcsin, arccos, arctanh
NAN_AT = np.array([[False, True, False], [False, False, False]])  # every row keeps two numbers


def _special(m: Any, x: Any) -> Any:
    """x with non-finite entries put in (where x > 0): no derivative reaches them."""
    return m.where(x > 0, SPECIAL, x)


def _nan(m: Any, x: Any) -> Any:
    """x with NaN at NAN_AT: the nan-functions skip it."""
    return m.where(NAN_AT, np.nan, x)


def _bins(m: Any, x: Any) -> Any:
    """Small non-negative integers computed from x (no derivative): input for the integer ufuncs."""
    return m.digitize(x, EDGES)


# The linear algebra and Fourier cases draw from a generator of their own: drawing from the shared
# one in tests.conftest at import would shift the inputs of every test module imported after this one.
_own = np.random.default_rng(20260412)


def _r(*shape: int) -> np.ndarray:
    return _own.uniform(-1.0, 1.0, shape)


def _c(*shape: int) -> np.ndarray:
    return _r(*shape) + 1j * _r(*shape)


def _well(x: Any) -> Any:
    """A well-conditioned (stack of) square matrices from free parameters x: with entries below
    1/2 in size (up to 4 × 4), 2I + x is strictly diagonally dominant."""
    return x + 2.0 * np.eye(x.shape[-1])


def _gram(x: Any) -> Any:
    """A (Hermitian) positive definite matrix from free parameters: x xᴴ + nI."""
    xh = x.mT.conj() if x.dtype.kind == "c" else x.mT
    return x @ xh + x.shape[-1] * np.eye(x.shape[-1])


def _sym(x: Any) -> Any:
    """A symmetric (Hermitian) matrix from free parameters, eigenvalues near 0, 2 and 4: well apart,
    so the eigenvectors are differentiable and finite differences resolve them."""
    xh = x.mT.conj() if x.dtype.kind == "c" else x.mT
    return x + xh + np.diag([0.0, 2.0, 4.0])


#: Real, distinct eigenvalues near 1, 2, 3 (not symmetric); and a complex pair near 1 ± 2i with 3.
REAL_SPECTRUM = np.diag([1.0, 2.0, 3.0])
COMPLEX_SPECTRUM = np.array([[1.0, 2.0, 0.0], [-2.0, 1.0, 0.0], [0.0, 0.0, 3.0]])


def _eig_invariants(m: Any, a: Any) -> tuple[Any, ...]:
    """Eigenvalues and phase-invariant functions of the eigenvectors: |v|² entrywise (unit columns),
    and V diag(w²) V⁻¹ = a²."""
    w, v = m.linalg.eig(a)
    return w, m.real(v * m.conj(v)), (v * w**2) @ m.linalg.inv(v)


def _eigh_invariants(m: Any, a: Any) -> tuple[Any, ...]:
    """Eigenvalues, |v|² entrywise and V diag(w²) Vᴴ: unchanged by each eigenvector's phase (sign)."""
    w, v = m.linalg.eigh(a)
    return w, m.real(v * m.conj(v)), (v * w**2) @ m.conj(v.mT)


def _svd_invariants(m: Any, a: Any) -> tuple[Any, ...]:
    """Singular values, U diag(s²) Vᴴ and the projector U Uᴴ: unchanged when a pair (uᵢ, vᵢ) shares a phase."""
    u, s, vh = m.linalg.svd(a, full_matrices=False)
    return s, (u * s**2) @ vh, u @ m.conj(u.mT)


def _lstsq(m: Any, a: Any, b: Any) -> tuple[Any, ...]:
    """The solution, residuals and singular values lstsq returns (the rank is an integer)."""
    x, residuals, _, s = m.linalg.lstsq(a, b)
    return x, residuals, s


M3, N3 = 0.5 * _r(3, 3), 0.5 * _r(2, 3, 3)  # free parameters of well-conditioned matrices
S3 = 0.25 * _r(3, 3)  # free parameters of symmetric matrices with eigenvalues apart
T32, T23 = _r(3, 2), _r(2, 3)
F25, F232 = _r(2, 5), _r(2, 3, 2)  # signals
H3 = _c(3)  # a half spectrum


CASES = [
    # ----- arithmetic and elementwise functions (ufuncs) ---------------------------------
    Case("add", lambda m, x, y: m.add(x, y), (X, rand(3))),
    Case("subtract", lambda m, x, y: m.subtract(x, y), (X, Y)),
    Case("multiply", lambda m, x, y: m.multiply(x, y), (X, rand(2, 1))),
    Case("divide", lambda m, x, y: m.divide(x, y), (X, P)),
    Case("true_divide", lambda m, x, y: m.true_divide(x, y), (X, P)),
    Case("power", lambda m, x, y: m.power(x, y), (P, Y)),
    Case("negative", lambda m, x: m.negative(x), (X,)),
    Case("positive", lambda m, x: m.positive(x), (X,)),
    Case("maximum", lambda m, x, y: m.maximum(x, y), (X, Y)),
    Case("minimum", lambda m, x, y: m.minimum(x, y), (X, Y)),
    Case("remainder", lambda m, x, y: m.remainder(x, y), (P, P + 3.0)),
    Case("floor_divide", lambda m, x: m.floor_divide(x, 0.3) * x, (X,)),
    Case("exp", lambda m, x: m.exp(x), (X,)),
    Case("expm1", lambda m, x: m.expm1(x), (X,)),
    Case("log", lambda m, x: m.log(x), (P,)),
    Case("log1p", lambda m, x: m.log1p(x), (P,)),
    Case("sqrt", lambda m, x: m.sqrt(x), (P,)),
    Case("sin", lambda m, x: m.sin(x), (X,)),
    Case("cos", lambda m, x: m.cos(x), (X,)),
    Case("tan", lambda m, x: m.tan(x), (X,)),
    Case("arctan", lambda m, x: m.arctan(x), (X,)),
    Case("sinh", lambda m, x: m.sinh(x), (X,)),
    Case("cosh", lambda m, x: m.cosh(x), (X,)),
    Case("tanh", lambda m, x: m.tanh(x), (X,)),
    Case("absolute", lambda m, x: m.absolute(x), (P,)),
    Case("abs", lambda m, x: m.abs(-x), (P,)),
    Case("sign", lambda m, x: m.sign(x) * x, (X,)),
    Case("conjugate", lambda m, z: m.conjugate(z) * z, (Z,)),
    Case("conj", lambda m, z: m.conj(z) + m.exp(z), (Z,)),
    Case("real", lambda m, z: m.real(z) * m.imag(z), (Z,)),
    Case("real_if_close", lambda m, x: m.real_if_close(x * (1 + 1e-17j)), (X,)),
    Case("imag", lambda m, x: m.imag(m.exp(1j * x)), (X,)),
    Case("clip", lambda m, x: m.clip(x, -0.5, 0.5), (X,)),
    Case("where", lambda m, x, y: m.where(x > y, x * y, m.sin(y)), (X, Y)),
    Case("float_power", lambda m, x, y: m.float_power(x, y), (P, Y[0])),
    Case("pow", lambda m, x, y: m.pow(x, y), (P, Y)),
    Case("reciprocal", lambda m, x: m.reciprocal(x), (P,)),
    Case("square", lambda m, x: m.square(x), (X,)),
    Case("fmax", lambda m, x, y: m.fmax(x, y), (X, Y)),
    Case("fmin", lambda m, x, y: m.fmin(x, y), (X, Y[1])),
    Case("mod", lambda m, x, y: m.mod(x, y), (P, P + 3.0)),
    Case("fmod", lambda m, x, y: m.fmod(x, y), (X, P + 1.0)),
    Case("divmod", lambda m, x, y: m.divmod(x, y)[0] * x + m.divmod(x, y)[1], (3.0 * X, P)),
    Case("exp2", lambda m, x: m.exp2(x), (X,)),
    Case("log2", lambda m, x: m.log2(x), (P,)),
    Case("log10", lambda m, x: m.log10(x), (P,)),
    Case("logaddexp", lambda m, x, y: m.logaddexp(x, y), (X, Y)),
    Case("logaddexp2", lambda m, x, y: m.logaddexp2(x, y), (X, Y[0])),
    Case("cbrt", lambda m, x: m.cbrt(x), (P,)),
    Case("arcsin", lambda m, x: m.arcsin(x), (U,)),
    Case("asin", lambda m, x: m.asin(x), (U,)),
    Case("arccos", lambda m, x: m.arccos(x), (U,)),
    Case("acos", lambda m, x: m.acos(x), (U,)),
    Case("atan", lambda m, x: m.atan(x), (X,)),
    Case("arctan2", lambda m, x, y: m.arctan2(x, y), (X, Y)),
    Case("atan2", lambda m, x, y: m.atan2(x, y), (X, P)),
    Case("hypot", lambda m, x, y: m.hypot(x, y), (X, Y)),
    Case("arcsinh", lambda m, x: m.arcsinh(x), (X,)),
    Case("asinh", lambda m, x: m.asinh(x), (X,)),
    Case("arccosh", lambda m, x: m.arccosh(x), (1.0 + P,)),
    Case("acosh", lambda m, x: m.acosh(x), (1.0 + P,)),
    Case("arctanh", lambda m, x: m.arctanh(x), (U,)),
    Case("atanh", lambda m, x: m.atanh(x), (U,)),
    Case("deg2rad", lambda m, x: m.deg2rad(x), (X,)),
    Case("radians", lambda m, x: m.radians(x), (X,)),
    Case("rad2deg", lambda m, x: m.rad2deg(x), (X,)),
    Case("degrees", lambda m, x: m.degrees(x), (X,)),
    Case("sinc", lambda m, x: m.sinc(x), (X,)),
    Case("fabs", lambda m, x: m.fabs(x), (X,)),
    Case("copysign", lambda m, x, y: m.copysign(x, y), (X, Y)),
    Case("nextafter", lambda m, x, y: m.nextafter(x, y), (X, Y)),
    Case("spacing", lambda m, x: m.spacing(x) * 1e12 + x, (X,)),
    Case("ldexp", lambda m, x: m.ldexp(x, np.array([1, -2, 3])), (X,)),
    Case("frexp", lambda m, x: m.frexp(x)[0] * m.frexp(x)[1], (X,)),
    Case("modf", lambda m, x: m.modf(x)[0] * m.modf(x)[1], (3.0 * X,)),
    Case("heaviside", lambda m, x, y: m.heaviside(x, y) * x, (X, Y)),
    Case("floor", lambda m, x: m.floor(x) * x, (3.0 * X,)),
    Case("ceil", lambda m, x: m.ceil(x) * x, (3.0 * X,)),
    Case("trunc", lambda m, x: m.trunc(x) * x, (3.0 * X,)),
    Case("fix", lambda m, x: m.fix(x) * x, (3.0 * X,)),
    Case("rint", lambda m, x: m.rint(x) * x, (3.0 * X,)),
    Case("round", lambda m, x: m.round(x, 1) * x, (X,)),
    Case("around", lambda m, x: m.around(x) * x, (3.0 * X,)),
    Case("angle", lambda m, z: m.angle(z) * m.angle(z, deg=True), (Z,)),
    Case("nan_to_num", lambda m, x: m.nan_to_num(_special(m, x), posinf=5.0, neginf=-5.0) * x, (X,)),
    # ----- comparisons, logic and tests: indicators with no derivative -------------------
    Case("less", lambda m, x, y: m.where(m.less(x, y), x, y), (X, Y)),
    Case("less_equal", lambda m, x, y: m.where(m.less_equal(x, y), x, y), (X, Y)),
    Case("greater", lambda m, x, y: m.where(m.greater(x, y), x, y), (X, Y)),
    Case("greater_equal", lambda m, x, y: m.where(m.greater_equal(x, y), x, y), (X, Y)),
    Case("equal", lambda m, x: m.where(m.equal(x, x[0]), x, 2 * x), (X,)),
    Case("not_equal", lambda m, x: m.where(m.not_equal(x, x[0]), x, 2 * x), (X,)),
    Case("logical_and", lambda m, x, y: m.where(m.logical_and(x > 0, y > 0), x, y), (X, Y)),
    Case("logical_or", lambda m, x, y: m.where(m.logical_or(x > 0, y > 0), x, y), (X, Y)),
    Case("logical_xor", lambda m, x, y: m.where(m.logical_xor(x > 0, y > 0), x, y), (X, Y)),
    Case("logical_not", lambda m, x, y: m.where(m.logical_not(x > 0), x, y), (X, Y)),
    Case("bitwise_and", lambda m, x, y: m.where(m.bitwise_and(x > 0, y > 0), x, y), (X, Y)),
    Case("bitwise_or", lambda m, x, y: m.where(m.bitwise_or(x > 0, y > 0), x, y), (X, Y)),
    Case("bitwise_xor", lambda m, x, y: m.where(m.bitwise_xor(x > 0, y > 0), x, y), (X, Y)),
    Case("invert", lambda m, x, y: m.where(m.invert(x > 0), x, y), (X, Y)),
    Case("bitwise_invert", lambda m, x, y: m.where(m.bitwise_invert(x > 0), x, y), (X, Y)),
    Case("bitwise_not", lambda m, x, y: m.where(m.bitwise_not(x > 0), x, y), (X, Y)),
    Case("bitwise_count", lambda m, x: x * m.bitwise_count(_bins(m, x)), (V,)),
    Case("gcd", lambda m, x: x * m.gcd(_bins(m, x), 2), (V,)),
    Case("lcm", lambda m, x: x * m.lcm(_bins(m, x), 3), (V,)),
    Case("left_shift", lambda m, x: x * m.left_shift(_bins(m, x), 1), (V,)),
    Case("bitwise_left_shift", lambda m, x: x * m.bitwise_left_shift(1, _bins(m, x)), (V,)),
    Case("right_shift", lambda m, x: x * m.right_shift(_bins(m, x), 1), (V,)),
    Case("bitwise_right_shift", lambda m, x: x * m.bitwise_right_shift(8, _bins(m, x)), (V,)),
    Case("isnat", lambda m, x: m.where(m.isnat(m.astype(_bins(m, x), "datetime64[D]")), 0.0, x), (V,)),
    Case("isnan", lambda m, x: m.where(m.isnan(_special(m, x)), 0.0, x), (X,)),
    Case("isinf", lambda m, x: m.where(m.isinf(_special(m, x)), 0.0, x), (X,)),
    Case("isfinite", lambda m, x: m.where(m.isfinite(_special(m, x)), x, 0.0), (X,)),
    Case("signbit", lambda m, x: m.where(m.signbit(x), x, 2 * x), (X,)),
    Case("isneginf", lambda m, x: m.where(m.isneginf(_special(m, x)), 0.0, x), (X,)),
    Case("isposinf", lambda m, x: m.where(m.isposinf(_special(m, x)), 0.0, x), (X,)),
    Case("isreal", lambda m, x: x * m.isreal(x), (X,)),
    Case("iscomplex", lambda m, x: m.where(m.iscomplex(x), 0.0, x), (X,)),
    Case("isclose", lambda m, x: x * m.isclose(x, x[0, 0]), (X,)),
    Case("allclose", lambda m, x: m.where(m.allclose(x, 0.0, atol=2.0), x, -x), (X,)),
    Case("array_equal", lambda m, x: m.where(m.array_equal(x, x), x, -x), (X,)),
    Case("array_equiv", lambda m, x: m.where(m.array_equiv(x, x[0]), -x, x), (X,)),
    Case("all", lambda m, x: m.where(m.all(x > -0.5, axis=0), x, 2 * x), (X,)),
    Case("any", lambda m, x: m.where(m.any(x > 0.5, axis=1, keepdims=True), x, 2 * x), (X,)),
    # ----- positions, orderings, counts ---------------------------------------------------
    Case("argmax", lambda m, x: x[m.argmax(x)] * x, (V,)),
    Case("argmin", lambda m, x: x[m.argmin(x, axis=0)], (X,)),
    Case("argsort", lambda m, x: x[m.argsort(x)] ** 2, (V,)),
    Case("argpartition", lambda m, x: x[m.argpartition(x, 2)[:2]], (V,)),
    Case("nanargmax", lambda m, x: x[m.nanargmax(x)] * x, (V,)),
    Case("nanargmin", lambda m, x: x[m.nanargmin(x)] * x, (V,)),
    Case("isin", lambda m, x: x * m.isin(x, x[:2]), (V,)),
    Case("unwrap", lambda m, p: m.unwrap(p), (np.array([0.1, 3.0, 6.0, 9.5, 12.0]),)),
    Case("piecewise", lambda m, x: m.piecewise(x, [x < 0, x > 0.5], [lambda v: v**2, 1.5, m.sin]), (X,)),
    Case("apply_along_axis", lambda m, x: m.apply_along_axis(lambda r: r[0] * r**2, 1, x), (X,)),
    Case("argwhere", lambda m, x: x[m.argwhere(x > 0)[:, 0]], (V,)),
    Case("flatnonzero", lambda m, x: x[m.flatnonzero(x > 0)], (V,)),
    Case("nonzero", lambda m, x: x[m.nonzero(x > 0)], (X,)),
    Case("count_nonzero", lambda m, x: x * m.count_nonzero(x > 0), (X,)),
    Case("searchsorted", lambda m, x: x * m.searchsorted(EDGES, x, side="right"), (V,)),
    Case("digitize", lambda m, x: x * m.digitize(x, EDGES), (V,)),
    Case("lexsort", lambda m, x, y: y[m.lexsort((y, x > 0))], (V, W)),
    Case("bincount", lambda m, x: m.bincount(m.digitize(x, EDGES), minlength=4) * x[:4], (V,)),
    Case("bincount", lambda m, w: m.bincount(np.array([0, 2, 2, 1, 0, 4]), weights=w**2), (W,)),
    Case("unique", lambda m, x: m.unique(m.concatenate([x, x[:2]])) ** 2, (V,)),
    Case("unique_all", lambda m, x: m.unique_all(x).values * m.unique_all(x).counts, (V,)),
    Case("unique_counts", lambda m, x: m.unique_counts(x).values * 2.0, (V,)),
    Case("unique_inverse", lambda m, x: m.unique_inverse(x).values[m.unique_inverse(x).inverse_indices], (V,)),
    Case("unique_values", lambda m, x: m.sin(m.unique_values(x)), (V,)),
    Case("histogram", lambda m, x: m.histogram(x, 3, weights=x**2, density=True)[0] * m.histogram(x)[1][2], (V,)),
    Case("histogram_bin_edges", lambda m, x: m.histogram_bin_edges(x, 4) ** 2, (V,)),
    # ----- metadata: plain answers -------------------------------------------------------
    Case("shape", lambda m, x: m.reshape(x, m.shape(x)[::-1]), (X,)),
    Case("ndim", lambda m, x: x * m.ndim(x), (X,)),
    Case("size", lambda m, x: x * m.size(x), (X,)),
    Case("zeros_like", lambda m, x: x + m.zeros_like(x), (X,)),
    Case("ones_like", lambda m, x: x * m.ones_like(x), (X,)),
    Case("empty_like", lambda m, x: x + 0 * m.empty_like(x, shape=()), (X,)),
    Case("full_like", lambda m, x: x * m.full_like(x, x[0, 0]), (X,)),
    Case("iscomplexobj", lambda m, z: z * (2.0 if m.iscomplexobj(z) else 3.0), (Z,)),
    Case("isrealobj", lambda m, x: x * (2.0 if m.isrealobj(x) else 3.0), (X,)),
    Case("result_type", lambda m, x: m.sin(x).astype(m.result_type(x, np.float32)), (X,)),
    Case("can_cast", lambda m, x: x * (2.0 if m.can_cast(x, np.float32) else 3.0), (X,)),
    # ----- reductions ---------------------------------------------------------------------
    Case("sum", lambda m, x: m.sum(x, axis=0), (X,)),
    Case("mean", lambda m, x: m.mean(x, axis=-1, keepdims=True), (X,)),
    Case("prod", lambda m, x: m.prod(x), (X,)),
    Case("max", lambda m, x: m.max(x, axis=1), (X,)),
    Case("amax", lambda m, x: m.amax(x), (X,)),
    Case("min", lambda m, x: m.min(x, axis=0), (X,)),
    Case("amin", lambda m, x: m.amin(x, axis=(0, 1)), (X,)),
    Case("average", lambda m, x, w: m.average(x, axis=1, weights=w), (X, P[0])),
    Case("ptp", lambda m, x: m.ptp(x, axis=0), (X,)),
    Case("var", lambda m, x: m.var(x, axis=1, ddof=1), (X,)),
    Case("std", lambda m, x: m.std(x), (X,)),
    Case("cumsum", lambda m, x: m.cumsum(x, axis=1), (X,)),
    Case("cumprod", lambda m, x: m.cumprod(x), (X,)),
    Case("cumulative_sum", lambda m, x: m.cumulative_sum(x, axis=0, include_initial=True), (X,)),
    Case("cumulative_prod", lambda m, x: m.cumulative_prod(x, axis=1), (X,)),
    Case("nansum", lambda m, x: m.nansum(_nan(m, x), axis=0), (X,)),
    Case("nanmean", lambda m, x: m.nanmean(_nan(m, x), axis=1), (X,)),
    Case("nanprod", lambda m, x: m.nanprod(_nan(m, x)), (X,)),
    Case("nanmax", lambda m, x: m.nanmax(_nan(m, x), axis=1), (X,)),
    Case("nanmin", lambda m, x: m.nanmin(_nan(m, x), axis=0), (X,)),
    Case("nanvar", lambda m, x: m.nanvar(_nan(m, x), axis=1, ddof=1), (X,)),
    Case("nanstd", lambda m, x: m.nanstd(_nan(m, x), axis=1, keepdims=True), (X,)),
    Case("nancumsum", lambda m, x: m.nancumsum(_nan(m, x), axis=1), (X,)),
    Case("nancumprod", lambda m, x: m.nancumprod(_nan(m, x)), (X,)),
    # ----- order statistics ---------------------------------------------------------------
    Case("sort", lambda m, x: m.sort(x) * W, (V,)),
    Case("partition", lambda m, x: m.partition(x, 2) * W, (V,)),
    Case("median", lambda m, x: m.median(x.reshape(2, 3), axis=1), (V,)),
    Case("nanmedian", lambda m, x: m.nanmedian(_nan(m, x.reshape(2, 3)), axis=1), (V,)),
    Case("quantile", lambda m, x, q: m.quantile(x, q), (V, np.array([0.3, 0.75]))),
    Case("nanquantile", lambda m, x: m.nanquantile(_nan(m, x.reshape(2, 3)), 0.4, axis=1), (V,)),
    Case("percentile", lambda m, x: m.percentile(x.reshape(2, 3), 35.0, axis=0), (V,)),
    Case("nanpercentile", lambda m, x, q: m.nanpercentile(_nan(m, x.reshape(2, 3)), q), (V, np.array([20.0, 90.0]))),
    # ----- shapes -------------------------------------------------------------------------
    Case("reshape", lambda m, x: m.reshape(x, (3, 2)), (X,)),
    Case("ravel", lambda m, x: m.ravel(x), (X,)),
    Case("transpose", lambda m, x: m.transpose(x), (X,)),
    Case("swapaxes", lambda m, x: m.swapaxes(x, 0, 1), (X,)),
    Case("moveaxis", lambda m, x: m.moveaxis(x, 0, -1), (rand(2, 3, 2),)),
    Case("expand_dims", lambda m, x: m.expand_dims(x, 1), (X,)),
    Case("squeeze", lambda m, x: m.squeeze(x), (rand(2, 1, 3),)),
    Case("broadcast_to", lambda m, x: m.broadcast_to(x, (2, 3)), (rand(3),)),
    Case("roll", lambda m, x: m.roll(x, 1, axis=1), (X,)),
    Case("rollaxis", lambda m, x: m.rollaxis(x, 1), (X,)),
    Case("polyval", lambda m, p, x: m.polyval(p, x), (rand(4), rand(3))),
    Case("polyfit", lambda m, x, y: m.polyfit(x, y, 2), (np.linspace(-1, 1, 6) + 0.1 * rand(6), rand(6))),
    Case("polyder", lambda m, p: m.polyder(p, 2), (rand(4),)),
    Case("polyint", lambda m, p: m.polyint(p, 2, k=[1.0, 2.0]), (rand(3),)),
    Case("polyadd", lambda m, p, q: m.polyadd(p, q), (rand(4), rand(2))),
    Case("polysub", lambda m, p, q: m.polysub(p, q), (rand(2), rand(4))),
    Case("polymul", lambda m, p, q: m.polymul(p, q), (rand(3), rand(2))),
    # numpy.poly's dispatcher iterates an array argument (recording a getitem per root): a tuple
    Case("poly", lambda m, r: m.poly((r[0], r[1], r[2])), (rand(3),)),
    Case("vander", lambda m, x: m.vander(x, 4), (rand(3),)),
    Case("cov", lambda m, x, w: m.cov(x, aweights=w), (rand(2, 5), 1.5 + rand(5))),
    Case("corrcoef", lambda m, x: m.corrcoef(x), (rand(3, 5),)),
    Case("linspace", lambda m, a, b: m.linspace(a, b, 5), (0.3, 1.2)),
    Case("logspace", lambda m, a, b: m.logspace(a, b, 4), (0.3, 1.2)),
    Case("geomspace", lambda m, a, b: m.geomspace(a, b, 4), (0.3, 1.2)),
    Case("concatenate", lambda m, x, y: m.concatenate([x, y], axis=1), (X, Y)),
    Case("stack", lambda m, x, y: m.stack([x, y], axis=-1), (X, Y)),
    Case("astype", lambda m, x: m.astype(x, np.complex128) * Z, (X,)),
    Case("copy", lambda m, x: m.copy(x) * x, (X,)),
    Case("matrix_transpose", lambda m, x: m.matrix_transpose(x), (rand(2, 2, 3),)),
    Case("permute_dims", lambda m, x: m.permute_dims(x, (2, 0, 1)), (rand(2, 3, 2),)),
    Case("atleast_1d", lambda m, x: m.atleast_1d(x), (X[0, 0],)),
    Case("atleast_2d", lambda m, x: m.atleast_2d(x), (W,)),
    Case("atleast_3d", lambda m, x, y: m.atleast_3d(x, y), (X, W)),
    Case("flip", lambda m, x: m.flip(x, 1), (X,)),
    Case("fliplr", lambda m, x: m.fliplr(x), (X,)),
    Case("flipud", lambda m, x: m.flipud(x), (X,)),
    Case("rot90", lambda m, x: m.rot90(x, -1), (X,)),
    Case("tile", lambda m, x: m.tile(x, (2, 1, 2)), (X,)),
    Case("repeat", lambda m, x: m.repeat(x, [1, 0, 3], axis=1), (X,)),
    Case("resize", lambda m, x: m.resize(x, (4, 4)), (X,)),
    Case("pad", lambda m, x: m.pad(x, ((1, 0), (2, 1)), mode="edge"), (X,)),
    Case("concat", lambda m, x, y: m.concat([x, y[:1]]), (X, Y)),
    Case("hstack", lambda m, x, y: m.hstack([x, y[:, :1]]), (X, Y)),
    Case("vstack", lambda m, x, y: m.vstack([x, y[0]]), (X, Y)),
    Case("dstack", lambda m, x, y: m.dstack([x, y]), (X, Y)),
    Case("column_stack", lambda m, x, y: m.column_stack([x, y]), (W, V)),
    Case("block", lambda m, x, y: m.block([[x, y[:, :1]], [y[:1], x[:1, :1]]]), (X, Y)),
    Case("append", lambda m, x, y: m.append(x, y[:1], axis=0), (X, Y)),
    Case("insert", lambda m, x, y: m.insert(x, [1, 3], y[0, :2], axis=1), (X, Y)),
    Case("delete", lambda m, x: m.delete(x, [0, 4]), (X,)),
    Case("broadcast_arrays", lambda m, x, y: m.broadcast_arrays(x, y[0]), (X, Y)),
    Case("meshgrid", lambda m, x, y: m.meshgrid(x, y[:2], indexing="ij"), (W, V)),
    Case("unstack", lambda m, x: m.unstack(x, axis=1), (X,)),
    Case("split", lambda m, x: m.split(x, [1, 3]), (V,)),
    Case("array_split", lambda m, x: m.array_split(x, 4), (V,)),
    Case("hsplit", lambda m, x: m.hsplit(x, [1]), (X,)),
    Case("vsplit", lambda m, x: m.vsplit(x, 2), (X,)),
    Case("dsplit", lambda m, x: m.dsplit(x, [1]), (rand(2, 1, 3),)),
    Case("diff", lambda m, x: m.diff(x, 2, prepend=0.5), (X,)),
    Case("ediff1d", lambda m, x, y: m.ediff1d(x, to_end=y[:2]), (X, W)),
    Case("gradient", lambda m, x: m.gradient(x, np.array([0.0, 1.0, 3.0]), axis=1, edge_order=2), (X,)),
    Case("gradient", lambda m, x: m.gradient(x, 0.5, 2.0), (X,)),
    # ----- products -----------------------------------------------------------------------
    Case("matmul", lambda m, x, y: m.matmul(x, y), (X, rand(3, 2))),
    Case("dot", lambda m, x, y: m.dot(x, y), (X, rand(3))),
    Case("tensordot", lambda m, x, y: m.tensordot(x, y, axes=([1], [0])), (X, rand(3, 2))),
    Case("einsum", lambda m, x, y: m.einsum("ij,kj->ik", x, y), (X, Y)),
    Case("outer", lambda m, x, y: m.outer(x, y), (X, W)),
    Case("inner", lambda m, x, y: m.inner(x, y), (X, Y)),
    Case("vdot", lambda m, x, y: m.vdot(x, y), (X, Y)),
    Case("vdot", lambda m, z, w: m.vdot(z, w), (Z, Z[::-1] * 1j)),
    Case("kron", lambda m, x, y: m.kron(x, y), (X, W[:2])),
    Case("cross", lambda m, x, y: m.cross(x, y), (X, Y[0])),
    Case("vecdot", lambda m, x, y: m.vecdot(x, y), (X, Y)),
    Case("matvec", lambda m, x, y: m.matvec(x, y), (X, Y[1])),
    Case("vecmat", lambda m, x, y: m.vecmat(x, y), (W[:2], X)),
    Case("convolve", lambda m, x, y: m.convolve(x, y, "same"), (V, W[:3])),
    Case("correlate", lambda m, x, y: m.correlate(x, y, "full"), (V, W[:2])),
    Case("trapezoid", lambda m, y, x: m.trapezoid(y, x, axis=1), (X, W[:3])),
    # ----- selection ----------------------------------------------------------------------
    Case("take", lambda m, x: m.take(x, [[1, 0], [2, 2]], axis=1), (X,)),
    Case("take_along_axis", lambda m, x: m.take_along_axis(x, m.argsort(x, axis=1), axis=1), (X,)),
    Case("choose", lambda m, x, y: m.choose(np.array([[0, 1, 1], [1, 0, 0]]), [x, y]), (X, Y)),
    Case("compress", lambda m, x: m.compress(x[0] > 0.0, x, axis=1), (X,)),
    Case("extract", lambda m, x: m.extract(x > 0.0, x**2), (X,)),
    Case("select", lambda m, x, y: m.select([x > 0.5, x < -0.5], [x, y**2], 0.25), (X, Y)),
    Case("diagonal", lambda m, x: m.diagonal(x, 1), (X,)),
    Case("diag", lambda m, x: m.diag(x, -1), (Y[0],)),
    Case("diagflat", lambda m, x: m.diagflat(x, 1), (X,)),
    Case("trace", lambda m, x: m.trace(x, 1), (X,)),
    Case("tril", lambda m, x: m.tril(x, 1), (X,)),
    Case("triu", lambda m, x: m.triu(x), (X,)),
    Case("interp", lambda m, x, fp: m.interp(x, [-1.0, -0.2, 0.1, 1.0], fp), (X, W[:4])),
    # ----- linear algebra (numpy.linalg) -------------------------------------------------
    Case("linalg.inv", lambda m, x: m.linalg.inv(_well(x)), (N3,)),
    Case("linalg.solve", lambda m, x, b: m.linalg.solve(_well(x), b), (M3, T32)),
    Case("linalg.solve", lambda m, x, b: m.linalg.solve(_well(x), b), (N3, T32[:, 0])),
    Case("linalg.det", lambda m, x: m.linalg.det(_well(x)), (N3,)),
    Case("linalg.slogdet", lambda m, x: tuple(m.linalg.slogdet(_well(x) * [1.0, -1.0, 1.0])), (M3,)),
    Case("linalg.slogdet", lambda m, z: tuple(m.linalg.slogdet(_well(z))), (0.3 * _c(3, 3),)),
    Case("linalg.cholesky", lambda m, x: m.linalg.cholesky(_gram(x)), (M3,)),
    Case("linalg.cholesky", lambda m, x: m.linalg.cholesky(_gram(x), upper=True), (N3,)),
    Case("linalg.eigh", lambda m, x: _eigh_invariants(m, _sym(x)), (S3,)),
    Case("linalg.eigh", lambda m, z: _eigh_invariants(m, _sym(z)), (0.25 * _c(3, 3),)),
    Case("linalg.eigvalsh", lambda m, x: m.linalg.eigvalsh(_sym(x), UPLO="U"), (S3,)),
    Case("linalg.eig", lambda m, x: _eig_invariants(m, REAL_SPECTRUM + 0.3 * x), (M3,)),
    Case("linalg.eig", lambda m, x: _eig_invariants(m, COMPLEX_SPECTRUM + 0.3 * x), (M3,)),
    Case("linalg.eigvals", lambda m, x: m.linalg.eigvals(COMPLEX_SPECTRUM + 0.3 * x), (M3,)),
    Case("linalg.svd", lambda m, x: _svd_invariants(m, x), (T32,)),
    Case("linalg.svd", lambda m, z: _svd_invariants(m, z), (_c(2, 3),)),
    Case("linalg.svdvals", lambda m, x: m.linalg.svdvals(x), (F232,)),
    Case("linalg.qr", lambda m, x: tuple(m.linalg.qr(x)), (T32,)),
    Case("linalg.pinv", lambda m, x: m.linalg.pinv(x), (T23,)),
    Case("linalg.lstsq", lambda m, a, b: _lstsq(m, a, b), (T32, _r(3))),
    Case("linalg.matrix_power", lambda m, x: m.linalg.matrix_power(x, 3), (M3,)),
    Case("linalg.matrix_power", lambda m, x: m.linalg.matrix_power(_well(x), -2), (N3,)),
    Case("linalg.matrix_rank", lambda m, x: x * m.linalg.matrix_rank(x), (T23,)),
    Case("linalg.multi_dot", lambda m, u, a, b, v: m.linalg.multi_dot([u, a, b, v]), (_r(3), M3, T32, _r(2))),
    Case("linalg.tensorinv", lambda m, x: m.linalg.tensorinv(_well(x).reshape(2, 2, 4)), (0.5 * _r(4, 4),)),
    Case(
        "linalg.tensorsolve",
        lambda m, x, b: m.linalg.tensorsolve(_well(x).reshape(2, 2, 4), b),
        (0.5 * _r(4, 4), _r(2, 2)),
    ),
    Case("linalg.norm", lambda m, x: m.linalg.norm(x, axis=1), (T23,)),
    Case("linalg.norm", lambda m, x: m.linalg.norm(x, "nuc"), (T32,)),
    Case("linalg.norm", lambda m, x: m.linalg.norm(x, np.inf, axis=(0, 2), keepdims=True), (F232,)),
    Case("linalg.vector_norm", lambda m, x: m.linalg.vector_norm(x, ord=3, axis=(0, 2)), (F232,)),
    Case("linalg.matrix_norm", lambda m, x: m.linalg.matrix_norm(x, ord=2), (F232,)),
    Case("linalg.cond", lambda m, x: m.linalg.cond(_well(x)), (M3,)),
    Case("linalg.cond", lambda m, x: m.linalg.cond(_well(x), "fro"), (M3,)),
    Case("linalg.matmul", lambda m, x, y: m.linalg.matmul(x, y), (F232, T23)),
    Case("linalg.tensordot", lambda m, x, y: m.linalg.tensordot(x, y, axes=1), (T32, T23)),
    Case("linalg.vecdot", lambda m, x, y: m.linalg.vecdot(x, y), (T23, _r(3))),
    Case("linalg.outer", lambda m, x, y: m.linalg.outer(x, y), (_r(3), _r(2))),
    Case("linalg.cross", lambda m, x, y: m.linalg.cross(x, y), (T23, _r(3))),
    Case("linalg.diagonal", lambda m, x: m.linalg.diagonal(x, offset=-1), (N3,)),
    Case("linalg.trace", lambda m, x: m.linalg.trace(x, offset=1), (N3,)),
    Case("linalg.matrix_transpose", lambda m, x: m.linalg.matrix_transpose(x), (F232,)),
    # ----- Fourier transforms (numpy.fft) ------------------------------------------------
    Case("fft.fft", lambda m, x: m.fft.fft(x, 4), (F25,)),
    Case("fft.fft", lambda m, z: m.fft.fft(z, norm="ortho"), (_c(2, 3),)),
    Case("fft.ifft", lambda m, x: m.fft.ifft(x, 3, axis=0, norm="forward"), (F25,)),
    Case("fft.fft2", lambda m, x: m.fft.fft2(x, s=(3, 4)), (F25,)),
    Case("fft.ifft2", lambda m, x: m.fft.ifft2(x, norm="ortho"), (F232,)),
    Case("fft.fftn", lambda m, x: m.fft.fftn(x, axes=(0, 2)), (F232,)),
    Case("fft.ifftn", lambda m, x: m.fft.ifftn(x, s=(3, 3), axes=(2, 0)), (F232,)),
    Case("fft.rfft", lambda m, x: m.fft.rfft(x, 6), (F25,)),
    Case("fft.irfft", lambda m, z: m.fft.irfft(z, 4), (H3,)),
    Case("fft.irfft", lambda m, x: m.fft.irfft(x, 5, axis=0, norm="ortho"), (F25,)),
    Case("fft.rfft2", lambda m, x: m.fft.rfft2(x), (F25,)),
    Case("fft.irfft2", lambda m, z: m.fft.irfft2(z, s=(2, 4)), (_c(2, 3),)),
    Case("fft.rfftn", lambda m, x: m.fft.rfftn(x, axes=(2, 0)), (F232,)),
    Case("fft.irfftn", lambda m, x: m.fft.irfftn(x, s=(2, 5), axes=(1, 2)), (F232,)),
    Case("fft.hfft", lambda m, z: m.fft.hfft(z, 5), (H3,)),
    Case("fft.ihfft", lambda m, x: m.fft.ihfft(x, norm="forward"), (F25,)),
    Case("fft.fftshift", lambda m, x: m.fft.fftshift(x), (F25,)),
    Case("fft.ifftshift", lambda m, x: m.fft.ifftshift(x, axes=1), (F25,)),
]

# NumPy's functions that write into their first argument and return None, so there is no
# Case: each writes into a traced array as NumPy does (the written array now refers to the
# update; compared with NumPy below and in tests/numpy/test_in_place.py), and refuses to write
# a traced value into a plain array, which cannot hold it.
_ONE_PER_ROW = np.array([[2], [0]])  # one position per row of a (2, 3) array
IN_PLACE = {
    "put": (lambda x: np.put(x, [0, 2], x[1, :2]), lambda x: np.put(np.zeros(6), [0, 2], x[0, :2])),
    "put_along_axis": (
        lambda x: np.put_along_axis(x, _ONE_PER_ROW, x[:, 1:2] ** 2, axis=1),
        lambda x: np.put_along_axis(np.zeros((2, 3)), _ONE_PER_ROW, x[:, :1], axis=1),
    ),
    "copyto": (
        lambda x: np.copyto(x, x[::-1] * 2.0, where=x > 0.5),
        lambda x: np.copyto(np.zeros((2, 3)), x),
    ),
    "fill_diagonal": (lambda x: np.fill_diagonal(x, x[1, 1:] ** 2), lambda x: np.fill_diagonal(np.zeros((2, 3)), x[0])),
}


def _label(case: Case) -> str:
    return case.name


def _jvp_and_vjp(f: Callable[..., Any], args: tuple[Any, ...]) -> list[Any]:
    """f's value, its tangent along a fixed direction and its multipliers for a fixed
    cotangent: what the derivative is, in both modes."""
    rng = np.random.default_rng(0)
    tangents = tuple(rng.standard_normal(np.shape(a)).astype(np.asarray(a).dtype) for a in args)
    out, tangent = lagrad.jvp(f, args, tangents)
    leaves, treedef = lagrad.tree_flatten(out)  # several outputs (split, meshgrid): one cotangent each
    cotangent = [rng.standard_normal(np.shape(o)).astype(np.result_type(o, float)) for o in leaves]
    multipliers = lagrad.vjp(f, *args)[1](lagrad.tree_unflatten(treedef, cotangent))
    return [*leaves, *lagrad.tree_flatten(tangent)[0], *multipliers]


@pytest.mark.parametrize("case", CASES, ids=_label)
def test_same_equations(case: Case):
    programs = [lagrad.trace(lambda *a, m=m: case.fun(m, *a), *case.args) for m in (np, lnp)]
    with_numpy, with_lagrad = ([eq.rhs() for eq in p.equations] for p in programs)
    assert with_numpy, f"{case.name}: no equation recorded"
    assert with_numpy == with_lagrad


@pytest.mark.parametrize("case", CASES, ids=_label)
def test_same_derivatives(case: Case):
    with_numpy = _jvp_and_vjp(lambda *a: case.fun(np, *a), case.args)
    with_lagrad = _jvp_and_vjp(lambda *a: case.fun(lnp, *a), case.args)
    for a, b in zip(with_numpy, with_lagrad):
        assert np.array_equal(lagrad.value(a), lagrad.value(b))


@pytest.mark.parametrize("case", CASES, ids=_label)
def test_plain_numpy_gradients_are_right(case: Case):
    check(lambda *a: case.fun(np, *a), *case.args, order=case.order)


@pytest.mark.parametrize("case", CASES, ids=_label)
def test_lagrad_numpy_on_plain_values_is_numpy(case: Case):
    """The same call on plain arrays and on lists (NumPy's array-likes): NumPy's values."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = lagrad.tree_flatten(case.fun(np, *case.args))[0]
        got = lagrad.tree_flatten(case.fun(lnp, *case.args))[0]
        assert len(got) == len(expected)
        for g, e in zip(got, expected):
            assert np.allclose(g, e, equal_nan=True)
        as_lists = [a.tolist() if isinstance(a, np.ndarray) and a.ndim == 1 else a for a in case.args]
        try:
            expected = lagrad.tree_flatten(case.fun(np, *as_lists))[0]
        except Exception:  # the function's own code needs an array (x.shape): NumPy refuses lists too
            return
        got = lagrad.tree_flatten(case.fun(lnp, *as_lists))[0]
        for g, e in zip(got, expected):
            assert np.allclose(g, e, equal_nan=True)


def _dispatched(module: Any, mirror: Any, prefix: str) -> set[str]:
    """Names in `mirror.__all__` whose NumPy function (in `module`) dispatches to lagrad."""
    names = set()
    for name in getattr(mirror, "__all__", []):
        obj = getattr(module, name, None)
        try:
            found = registry.ufuncs.get(obj) if isinstance(obj, np.ufunc) else registry.functions.get(obj)
        except TypeError:
            found = None
        if found is not None:
            names.add(prefix + name)
    return names


def test_every_dispatched_function_has_a_case():
    dispatched = (
        _dispatched(np, lnp, "") | _dispatched(np.linalg, lnp.linalg, "linalg.") | _dispatched(np.fft, lnp.fft, "fft.")
    )
    missing = sorted(dispatched - {case.name for case in CASES} - set(IN_PLACE))
    assert not missing, f"add a Case to tests/numpy/test_plain_numpy.py for: {', '.join(missing)}"
    assert set(IN_PLACE) <= dispatched


@pytest.mark.parametrize("name", sorted(IN_PLACE))
def test_in_place_functions_write_as_numpy_does(name):
    write_traced, write_plain = IN_PLACE[name]

    def f(x):
        y = x * 1.0
        write_traced(y)
        return y

    expected = X * 1.0
    write_traced(expected)
    assert np.allclose(lagrad.vjp(f, X)[0], expected)
    check(f, X)

    def g(x):
        write_plain(x)
        return lnp.sum(x)

    with pytest.raises(TypeError, match="a plain NumPy array"):  # fill_diagonal: NumPy dispatches on `a` only
        lagrad.grad(g)(X)


def test_the_functional_forms_of_the_in_place_functions():
    # what the errors above suggest instead: the updated array, returned
    check(lambda x: lnp.reshape(lnp.at(lnp.ravel(x))[np.array([0, 2])].set(x[1, 0] ** 2), x.shape), X)
    check(lambda x, v: lnp.put_along_axis(x, _ONE_PER_ROW, v, axis=1, inplace=False), X, W[:2, None])


def test_numpy_dispatch_of_an_unsupported_function_names_it():
    with pytest.raises(TypeError, match=r"numpy\.busday_count is not supported"):
        lagrad.grad(lambda x: np.busday_count(x, x))(rand(3))


def test_integer_arrays_from_numpy_mix_in():
    x = rand(2, 3)
    check_grads(lambda x: x * np.arange(3) + np.argsort(x, axis=1), x)
