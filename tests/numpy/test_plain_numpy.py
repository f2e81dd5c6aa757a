"""Plain NumPy: a function written with ``import numpy as np`` differentiates like one
written with lagrad.numpy.

Each case is written once against a NumPy-like module `m` and run with
``m = numpy`` and ``m = lagrad.numpy``: the two record the same equations and
give the same derivatives, and the plain-NumPy one passes the gradient checks.
To cover a new function, add a `Case` (its `name` is the NumPy name, with
``linalg.``/``fft.`` in front for those modules); `test_every_dispatched_function_has_a_case`
lists the ones still missing.
"""

from __future__ import annotations

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
    solvers: bool = True  # also cross-check the three solvers (check_solvers takes real inputs)


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


def _special(m: Any, x: Any) -> Any:
    """x with non-finite entries put in (where x > 0): no derivative reaches them."""
    return m.where(x > 0, SPECIAL, x)


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
    Case("conjugate", lambda m, z: m.conjugate(z) * z, (Z,), solvers=False),
    Case("conj", lambda m, z: m.conj(z) + m.exp(z), (Z,), solvers=False),
    Case("real", lambda m, z: m.real(z) * m.imag(z), (Z,), solvers=False),
    Case("imag", lambda m, x: m.imag(m.exp(1j * x)), (X,), solvers=False),
    Case("clip", lambda m, x: m.clip(x, -0.5, 0.5), (X,)),
    Case("where", lambda m, x, y: m.where(x > y, x * y, m.sin(y)), (X, Y)),
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
    Case("iscomplexobj", lambda m, z: z * (2.0 if m.iscomplexobj(z) else 3.0), (Z,), solvers=False),
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
    Case("concatenate", lambda m, x, y: m.concatenate([x, y], axis=1), (X, Y)),
    Case("stack", lambda m, x, y: m.stack([x, y], axis=-1), (X, Y)),
    # ----- products -----------------------------------------------------------------------
    Case("matmul", lambda m, x, y: m.matmul(x, y), (X, rand(3, 2))),
    Case("dot", lambda m, x, y: m.dot(x, y), (X, rand(3))),
    Case("tensordot", lambda m, x, y: m.tensordot(x, y, axes=([1], [0])), (X, rand(3, 2))),
    Case("einsum", lambda m, x, y: m.einsum("ij,kj->ik", x, y), (X, Y)),
]


def _label(case: Case) -> str:
    return case.name


def _jvp_and_vjp(f: Callable[..., Any], args: tuple[Any, ...]) -> list[Any]:
    """f's value, its tangent along a fixed direction and its multipliers for a fixed
    cotangent: what the derivative is, in both modes."""
    rng = np.random.default_rng(0)
    tangents = tuple(rng.standard_normal(np.shape(a)).astype(np.asarray(a).dtype) for a in args)
    out, tangent = lagrad.jvp(f, args, tangents)
    cotangent = rng.standard_normal(np.shape(out)).astype(np.result_type(out, float))
    return [out, tangent, *lagrad.vjp(f, *args)[1](cotangent)]


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
    f = lambda *a: case.fun(np, *a)
    if case.solvers:
        check(f, *case.args, order=case.order)
    else:
        check_grads(f, *case.args, order=case.order)


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
    missing = sorted(dispatched - {case.name for case in CASES})
    assert not missing, f"add a Case to tests/numpy/test_plain_numpy.py for: {', '.join(missing)}"


def test_numpy_dispatch_of_an_unsupported_function_names_it():
    with pytest.raises(TypeError, match=r"numpy\.busday_count is not supported"):
        lagrad.grad(lambda x: np.busday_count(x, x))(rand(3))


def test_integer_arrays_from_numpy_mix_in():
    x = rand(2, 3)
    check_grads(lambda x: x * np.arange(3) + np.argsort(x, axis=1), x)
