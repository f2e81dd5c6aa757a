"""lagrad on array-api-strict arrays: the primitives' forward values and derivative rules run in
the inputs' own namespace (`lagrad.numpy._namespace`), never through NumPy.

The arrays live on array-api-strict's second device (``Device("device1")``), which refuses any
conversion to NumPy: a hidden NumPy call anywhere in a forward pass, a rule or a solver fails
loudly. Every derivative is checked against central finite differences computed in NumPy on
the same numbers (the function run with NumPy itself), in reverse and tangent mode and to second
order, and against lagrad's own NumPy result; outputs and gradients must be array-api-strict
arrays on that device. The same matrix runs on CuPy where CuPy and a GPU are present.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import lagrad
import lagrad.numpy as lnp
from lagrad.core.backend import namespace_of
from tests.helpers import cupy_or_skip

xp = pytest.importorskip("array_api_strict", reason="array-api-strict is not installed: pip install -e '.[test]'")
DEVICE = xp.Device("device1")
CPU = xp.Device("CPU_DEVICE")

# ----- the matrix: functions written once, run with NumPy (finite differences) and lagrad ---------
# Each case is (name, f, input shapes, domain); `f(np_, *xs)` takes the module to compute with:
# NumPy for the reference, lagrad.numpy for the traced run. Domains keep inputs where f is smooth.

DOMAINS = {
    "real": lambda r: r,
    "positive": lambda r: 0.5 + r * r,
    "unit": lambda r: 0.8 * np.tanh(r),
    "above_one": lambda r: 1.5 + r * r,
}


def unary(name: str, domain: str = "real") -> tuple[str, Callable[..., Any], list[tuple[int, ...]], str]:
    return name, lambda np_, x: getattr(np_, name)(x), [(3, 2)], domain


def binary(name: str, domain: str = "real") -> tuple[str, Callable[..., Any], list[tuple[int, ...]], str]:
    return name, lambda np_, x, y: getattr(np_, name)(x, y), [(3, 2), (2,)], domain  # broadcasting


CASES = [
    # elementwise, one argument
    *(unary(n) for n in ("exp", "sin", "cos", "tanh", "sinh", "cosh", "expm1", "arctan", "arcsinh", "negative")),
    *(unary(n) for n in ("square", "positive", "abs", "absolute")),
    *(unary(n, "positive") for n in ("log", "log1p", "log2", "log10", "sqrt", "reciprocal")),
    *(unary(n, "unit") for n in ("tan", "arcsin", "arccos", "arctanh")),
    unary("arccosh", "above_one"),
    # elementwise, two arguments
    *(binary(n) for n in ("add", "subtract", "multiply", "maximum", "minimum", "arctan2", "hypot", "logaddexp")),
    *(binary(n, "positive") for n in ("divide", "power")),
    ("operators", lambda np_, x, y: (x * y + x / y - x**2) ** 2 - (-x) + 2.0 * y, [(3, 2), (2,)], "positive"),
    ("where", lambda np_, x, y: np_.where(x > y, x * y, np_.sin(x)), [(3, 2), (2,)], "real"),
    # reductions
    ("sum", lambda np_, x: np_.sum(x, axis=0) + np_.sum(x**2), [(3, 2)], "real"),
    ("mean", lambda np_, x: np_.mean(x, axis=1, keepdims=True) * x, [(3, 2)], "real"),
    ("prod", lambda np_, x: np_.prod(x, axis=0), [(3, 2)], "positive"),
    ("max", lambda np_, x: np_.max(x, axis=1), [(3, 2)], "real"),
    ("min", lambda np_, x: np_.min(x), [(3, 2)], "real"),
    ("var", lambda np_, x: np_.var(x, axis=0), [(4, 2)], "real"),
    ("cumsum", lambda np_, x: np_.cumsum(x, axis=0), [(3, 2)], "real"),
    # products
    ("matmul", lambda np_, a, b: np_.matmul(a, b), [(3, 2), (2, 4)], "real"),
    ("@", lambda np_, a, b: np_.tanh(a @ b), [(3, 2), (2,)], "real"),
    ("tensordot", lambda np_, a, b: np_.tensordot(a, b, axes=([1, 2], [0, 1])), [(2, 3, 2), (3, 2)], "real"),
    # shapes
    ("reshape", lambda np_, x: np_.reshape(x, (2, 3)) * x[0, 0], [(3, 2)], "real"),
    ("transpose", lambda np_, x: np_.transpose(x, (2, 0, 1)) ** 2, [(2, 3, 2)], "real"),
    (".T", lambda np_, x: x.T @ x, [(3, 2)], "real"),
    ("broadcast_to", lambda np_, x: np_.broadcast_to(x, (4, 2)) ** 2, [(2,)], "real"),
    ("moveaxis", lambda np_, x: np_.moveaxis(x, 0, -1) ** 3, [(3, 2, 2)], "real"),
    ("concatenate", lambda np_, x, y: np_.concatenate([x, y * y], axis=0), [(3, 2), (1, 2)], "real"),
    ("stack", lambda np_, x, y: np_.stack([x, np_.sin(y)], axis=1), [(3,), (3,)], "real"),
    # indexing with slices and integers
    ("slices", lambda np_, x: x[1:, ::-1] * x[:-1, :1], [(3, 2)], "real"),
    ("integer", lambda np_, x: x[0] * x[2, 1] + x[1:, 1], [(3, 2)], "real"),
    ("in-place", lambda np_, x, y: _written(x, y), [(4,), (2,)], "real"),
    # linear algebra (the standard's extension)
    ("inv", lambda np_, a: np_.linalg.inv(a), [(3, 3)], "matrix"),
    ("solve", lambda np_, a, b: np_.linalg.solve(a, b), [(3, 3), (3, 2)], "matrix"),
    ("det", lambda np_, a: np_.linalg.det(a), [(3, 3)], "matrix"),
    # spelled with the standard's functions (lagrad.numpy._namespace)
    ("sort", lambda np_, x: np_.sort(x, axis=0) ** 3, [(3, 2)], "real"),
    ("take", lambda np_, x: np_.take(x, np.array([2, 0, 2]), axis=0) ** 2, [(3, 2)], "real"),
    ("roll", lambda np_, x: np_.roll(x, 1, axis=0) * x, [(3, 2)], "real"),
    ("diff", lambda np_, x: np_.diff(x, axis=0) ** 2, [(3, 2)], "real"),
    ("trace", lambda np_, a: np_.trace(a @ a), [(3, 3)], "matrix"),
    ("tril", lambda np_, a: np_.tril(a, -1) @ a, [(3, 3)], "matrix"),
    (
        "einsum",
        lambda np_, a, b: np_.einsum("ij,jk->ik", a, b) + np_.einsum("ii->i", a)[:, None],
        [(3, 3), (3, 2)],
        "matrix",
    ),
    ("linspace", lambda np_, x: np_.linspace(x[0], x[1], 4) ** 2, [(2,)], "real"),
    ("eigvalsh", lambda np_, a: np_.linalg.eigvalsh(a + a.T), [(3, 3)], "matrix"),
    ("svdvals", lambda np_, a: np_.linalg.svd(a, compute_uv=False), [(3, 2)], "matrix"),
    ("qr", lambda np_, a: np_.linalg.qr(a)[1], [(3, 2)], "matrix"),
    ("cholesky", lambda np_, a: np_.linalg.cholesky(a @ a.T), [(3, 3)], "matrix"),
    ("pinv", lambda np_, a: np_.linalg.pinv(a), [(3, 2)], "matrix"),
    ("slogdet", lambda np_, a: np_.linalg.slogdet(a)[1], [(3, 3)], "matrix"),
    ("rfft", lambda np_, x: np_.abs(np_.fft.rfft(x, axis=0)) ** 2, [(4, 2)], "real"),
    ("fft", lambda np_, x: np_.real(np_.fft.ifft(np_.fft.fft(x) * x)), [(4,)], "real"),
]


def _written(x: Any, y: Any) -> Any:
    u = x * 1.0
    u[1:3] = u[1:3] + y * y
    u[0:2] *= y
    return u


def _draw(shape: tuple[int, ...], domain: str, rng: np.random.Generator) -> np.ndarray:
    if domain == "matrix":
        return (
            np.eye(shape[0]) * 2.0 + rng.uniform(-0.5, 0.5, shape)
            if shape[0] == shape[-1]
            else rng.uniform(-1, 1, shape)
        )
    return DOMAINS[domain](rng.uniform(-1.2, 1.2, shape))


def strict(a: Any) -> Any:
    return xp.asarray(np.asarray(a), device=DEVICE)


def strict_to_numpy(a: Any) -> np.ndarray:
    assert isinstance(a, xp._array_object.Array), f"expected an array-api-strict array, got {type(a).__name__}"
    assert a.device == DEVICE
    return np.asarray(a.to_device(CPU))


numpy_of = strict_to_numpy


@pytest.fixture(params=["array_api_strict", "cupy"])
def backend(request):
    """(to the library, back to NumPy checking the type): array-api-strict here, CuPy on a GPU."""
    if request.param == "array_api_strict":
        return strict, strict_to_numpy
    cp = cupy_or_skip()  # pragma: no cover - needs CuPy and a GPU

    def cupy_to_numpy(a: Any) -> np.ndarray:  # pragma: no cover - needs CuPy and a GPU
        assert isinstance(a, cp.ndarray), f"expected a CuPy array, got {type(a).__name__}"
        return cp.asnumpy(a)

    return cp.asarray, cupy_to_numpy  # pragma: no cover - needs CuPy and a GPU


def _loss(f: Callable[..., Any], np_: Any, weights: np.ndarray) -> Callable[..., Any]:
    """f's output weighted to a scalar: the weights a NumPy constant for the reference, an
    array-api-strict one for the traced run."""
    return lambda *xs: np_.sum(f(np_, *xs) * weights)


def _fd_gradient(f: Callable[..., Any], xs: list[np.ndarray], j: int, eps: float = 1e-6) -> np.ndarray:
    g = np.zeros_like(xs[j])
    for i in np.ndindex(xs[j].shape):
        up, down = [x.copy() for x in xs], [x.copy() for x in xs]
        up[j][i] += eps
        down[j][i] -= eps
        g[i] = (f(*up) - f(*down)) / (2 * eps)
    return g


def _setup(case: tuple[Any, ...], seed: int = 0) -> tuple[Any, ...]:
    _, f, shapes, domain = case
    rng = np.random.default_rng(seed)
    xs = [_draw(s, domain, rng) for s in shapes]
    out_shape = np.shape(f(np, *xs))
    w = rng.uniform(-1, 1, out_shape)
    return f, xs, w


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_reverse_mode(case, backend):
    strict, numpy_of = backend
    f, xs, w = _setup(case)
    reference = _loss(f, np, w)
    traced = _loss(f, lnp, strict(w))
    argnums = tuple(range(len(xs)))
    value, grads = lagrad.value_and_grad(traced, argnums)(*map(strict, xs))
    np.testing.assert_allclose(numpy_of(value), reference(*xs), rtol=1e-12)
    numpy_grads = lagrad.grad(_loss(f, lnp, w), argnums)(*xs)
    for j, g in enumerate(grads):
        np.testing.assert_allclose(numpy_of(g), _fd_gradient(reference, xs, j), rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(numpy_of(g), numpy_grads[j], rtol=1e-12, atol=1e-14)


TANGENT = CASES


@pytest.mark.parametrize("case", TANGENT, ids=[c[0] for c in TANGENT])
def test_tangent_mode(case, backend):
    strict, numpy_of = backend
    f, xs, _ = _setup(case)
    rng = np.random.default_rng(1)
    ts = [rng.uniform(-1, 1, x.shape) for x in xs]
    out, tangent = lagrad.jvp(lambda *a: f(lnp, *a), tuple(map(strict, xs)), tuple(map(strict, ts)))
    np.testing.assert_allclose(numpy_of(out), f(np, *xs), rtol=1e-12)
    eps = 1e-6
    fd = (f(np, *[x + eps * t for x, t in zip(xs, ts)]) - f(np, *[x - eps * t for x, t in zip(xs, ts)])) / (2 * eps)
    np.testing.assert_allclose(numpy_of(tangent), fd, rtol=1e-6, atol=1e-7)


#: Kinks, where finite differences of the gradient mean nothing.
SECOND_ORDER = [c for c in CASES if c[0] not in ("max", "min", "maximum", "minimum", "abs", "absolute", "where")]


@pytest.mark.parametrize("case", SECOND_ORDER, ids=[c[0] for c in SECOND_ORDER])
def test_second_order(case, backend):
    """uᵀ∇²f v: lagrad's gradient of ⟨∇f, v⟩ on the library's arrays, against the four-point
    finite difference of f in NumPy."""
    strict, numpy_of = backend
    f, xs, w = _setup(case)
    x, rest = xs[0], xs[1:]
    rng = np.random.default_rng(2)
    u, v = rng.uniform(-1, 1, x.shape), rng.uniform(-1, 1, x.shape)
    loss = _loss(f, lnp, strict(w))
    sv = strict(v)
    hv = lagrad.grad(lambda x, *rest: lnp.sum(lagrad.grad(loss)(x, *rest) * sv))(strict(x), *map(strict, rest))
    reference = _loss(f, np, w)
    h = 1e-4
    fd = (
        reference(x + h * u + h * v, *rest)
        - reference(x + h * u - h * v, *rest)
        - reference(x - h * u + h * v, *rest)
        + reference(x - h * u - h * v, *rest)
    ) / (4 * h * h)
    np.testing.assert_allclose(np.sum(numpy_of(hv) * u), fd, rtol=1e-5, atol=1e-6)


# ----- errors ----------------------------------------------------------------------------------


def test_a_function_outside_the_standard_names_itself_and_the_library():
    x = strict(np.linspace(0.1, 0.9, 4))
    with pytest.raises(
        TypeError, match=r"lagrad.numpy.sinc has no form in the Python Array API standard.*array_api_strict"
    ):
        lagrad.grad(lambda x: lnp.sum(lnp.sinc(x)))(x)


def test_mixing_numpy_and_array_api_strict_names_both():
    with pytest.raises(TypeError, match=r"mix array_api_strict arrays \(args\[1\]\) and numpy arrays \(args\[0\]\)"):
        lagrad.grad(lambda w, x: lnp.sum(w * x))(np.ones(2), strict(np.ones(2)))


def test_mixing_dask_and_array_api_strict_names_both():
    da = pytest.importorskip("dask.array", reason="Dask is not installed")
    with pytest.raises(TypeError, match=r"mix array_api_strict arrays .* and dask arrays"):
        lagrad.grad(lambda w, x: lnp.sum(w * x))(da.ones(2), strict(np.ones(2)))


def test_numpy_scalars_and_zero_d_arrays_combine_with_array_api_strict():
    x = strict(np.array([0.5, 1.5]))
    for scale in (np.float64(3.0), np.array(3.0), 3.0):
        g = lagrad.grad(lambda x, s: lnp.sum(s * x**2), argnums=(0, 1))(x, scale)
        np.testing.assert_allclose(numpy_of(g[0]), [3.0, 9.0])
        np.testing.assert_allclose(np.asarray(g[1] if not hasattr(g[1], "device") else numpy_of(g[1])), 2.5)


def test_a_gradient_that_never_met_the_input_is_an_array_api_strict_zero():
    g = lagrad.grad(lambda x, y: lnp.sum(y**2), argnums=(0, 1))(strict(np.ones(3)), strict(np.ones(2)))
    np.testing.assert_array_equal(numpy_of(g[0]), np.zeros(3))
    np.testing.assert_array_equal(numpy_of(g[1]), [2.0, 2.0])


def test_numpy_inputs_never_look_up_a_namespace():
    assert namespace_of(np.ones(2)) is None and namespace_of(np.float64(1.0)) is None and namespace_of(2.0) is None
    assert namespace_of(strict(np.ones(2))) is xp


# ----- random programs: the generator's programs whose steps the standard covers ------------------


def _strict_spec(spec: Any) -> Any:
    """The program with its weights as array-api-strict arrays: NumPy arrays are refused next to
    array-api-strict values (NumPy's 0-d arrays and scalars, which combine with anything, stay)."""
    import dataclasses

    weights = [(ref, _Weight(strict(w))) for ref, w in spec.weights]
    return dataclasses.replace(spec, weights=weights)


class _Weight:
    """An array-api-strict weight written on the left of a traced value (``w * x``): its own
    operator takes no other type (it does not return NotImplemented), so the product is
    written ``x * w``, as user code on array-api-strict must."""

    def __init__(self, w: Any) -> None:
        self.w = w

    def __mul__(self, other: Any) -> Any:
        return other * self.w


def _refused(error: Exception) -> bool:
    """An error naming lagrad and array-api-strict: a step outside the standard, said so."""
    return str(error).startswith("lagrad") and "array_api_strict" in str(error)


try:
    import hypothesis
    from hypothesis import HealthCheck, assume, given, settings

    import tests.test_random_programs as rp
except ImportError:  # pragma: no cover - hypothesis is in the test extra
    hypothesis = None

if hypothesis is not None:

    @settings(max_examples=15, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
    @given(rp.programs(max_steps=4))
    def test_random_programs_on_array_api_strict(spec):
        """The gradient on array-api-strict is the one on NumPy (to 1e-10), and matches a central
        difference of the program run in NumPy along a random direction; a program with a step
        outside the standard is refused by name (and drawn again)."""
        consts = [a.value for step in spec.steps for a in step.args if isinstance(a, rp.Const)]
        assume(all(np.ndim(c) == 0 for c in consts))  # NumPy constant arrays: refused (another test)
        inputs = spec.inputs()
        assume(rp._tame(spec, inputs))
        strict_inputs = lagrad.tree.tree_map(strict, inputs)
        try:
            with np.errstate(all="ignore"):
                g = lagrad.grad(lambda t: rp.run(_strict_spec(spec), t))(strict_inputs)
        except Exception as error:
            assume(not _refused(error))
            raise
        got = np.concatenate([np.ravel(numpy_of(leaf)) for leaf in lagrad.tree.tree_flatten(g)[0]])
        with np.errstate(all="ignore"):
            expected = rp._flat(lagrad.grad(lambda t: rp.run(spec, t))(inputs))
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
        leaves, tree = lagrad.tree.tree_flatten(inputs)
        rng = np.random.default_rng(spec.seed)
        direction = [rng.uniform(-1, 1, np.shape(x)) for x in leaves]
        eps = 1e-6

        def at(sign: float) -> float:
            moved = tree.unflatten([x + sign * eps * d for x, d in zip(leaves, direction)])
            return float(rp.run(spec, moved))

        fd = (at(1.0) - at(-1.0)) / (2 * eps)
        assert np.isclose(got @ np.concatenate([np.ravel(d) for d in direction]), fd, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda f, x: lagrad.jacobian(f, sparse=True)(x), r"lagrad.jacobian\(sparse=True\) does not run on array_api"),
        (
            lambda f, x: lagrad.jacobian(f, method="elimination")(x),
            r"lagrad.jacobian\(method='elimination'\) does not run on array_api_strict",
        ),
        (
            lambda f, x: lagrad.hessian(lambda x: lnp.sum(f(x)), sparse=True)(x),
            r"lagrad.hessian\(sparse=True\) does not run on array_api_strict",
        ),
        (
            lambda f, x: lagrad.grad(lambda x: lnp.sum(f(x)), method="sparse")(x),
            r"lagrad.grad: method='sparse' does not run on array_api_strict arrays \(it assembles the system's scalar "
            r"matrix with NumPy and SciPy\); use back_substitution, forward_substitution, levels",
        ),
        (
            lambda f, x: lagrad.adjoint(lambda x: lnp.sum(f(x)), x).solve("sparse"),
            r"lagrad.AdjointSystem.solve: method='sparse' does not run on array_api_strict arrays",
        ),
        (
            lambda f, x: lagrad.compile(lambda x: lnp.sum(f(x)))(x),
            r"lagrad.compile\(<lambda>\) does not run on array_api_strict arrays: it writes NumPy code",
        ),
        (
            lambda f, x: lagrad.adjoint(lambda x: lnp.sum(f(x)), x).matrix("sparse"),
            r"AdjointSystem.matrix\('sparse'\) does not run on array_api_strict arrays.*matrix\('symbolic'\)",
        ),
    ],
)
def test_transforms_not_on_namespaces_refuse_by_name(call, message):
    """The structured Jacobians and the solvers that build NumPy or SciPy matrices of the system."""
    with pytest.raises(TypeError, match=message):
        call(lnp.tanh, strict(np.ones(3)))


def test_a_numpy_array_constant_next_to_array_api_strict_values_names_both():
    with pytest.raises(
        TypeError, match=r"lagrad.numpy.multiply: its arguments mix array_api_strict arrays and a NumPy"
    ):
        lagrad.grad(lambda x: lnp.sum(x * np.arange(3.0)))(strict(np.ones(3)))


def test_new_axes_in_an_index_read_and_write_as_numpy_s():
    """x[:, None] and u[None, 1:] = v: the standard writes through no new axis, so the writes
    (and the transpose of the read) go through the index without them."""

    def f(x):
        u = x * 1.0
        u[None, 1:] = x[:2] ** 2
        u[None, :1] += x[None, 2:]
        return lnp.sum(u * u) + lnp.sum(x[:, None] * x[None, :] ** 3)

    x = np.array([0.5, -1.5, 2.0])
    g = numpy_of(lagrad.grad(f)(strict(x)))
    np.testing.assert_allclose(g, lagrad.grad(f)(x), rtol=1e-14)
    np.testing.assert_allclose(g, _fd_gradient(f, [x], 0), rtol=1e-7)


@pytest.mark.parametrize(
    "index",
    [
        (np.array([0, 2, 2]),),  # repeated: their multipliers add up
        (slice(None), np.array([[1, 0], [1, 1]])),  # a 2-d index along axis 1
        (np.array([2, 0]), slice(1, 3)),  # basic items after it
        (np.array([1]), 0, slice(None, None, -1)),
    ],
    ids=["repeated", "2-d", "then-a-slice", "then-an-integer"],
)
def test_indexing_with_one_integer_array_is_the_standard_s_take(index):
    """x[..., idx, ...] with one integer array after full slices: forward by take, the transpose
    by a 0/1 incidence of the indices (repeated indices add up); against NumPy and by hand."""
    x = np.arange(1.0, 25.0).reshape(4, 3, 2)
    loss = lambda x: lnp.sum(x[index] ** 2)
    g = numpy_of(lagrad.grad(loss)(strict(x)))
    np.testing.assert_allclose(g, lagrad.grad(loss)(x), rtol=1e-15)
    expected = np.zeros_like(x)
    np.add.at(expected, index, 2 * x[index])  # d/dx Σ x[i]², with repeats
    np.testing.assert_allclose(g, expected, rtol=1e-15)


@pytest.mark.parametrize(
    ("index", "without_new_axes"),
    [
        ((np.array([0, 2, 2]), None), (np.array([0, 2, 2]),)),
        ((slice(None), np.array([1, 0, 1]), None, slice(1, None)), (slice(None), np.array([1, 0, 1]), slice(1, None))),
    ],
    ids=["then-a-new-axis", "then-a-new-axis-and-a-slice"],
)
def test_a_new_axis_after_the_integer_array_is_taken_back_too(index, without_new_axes):
    # the forward took such an index, its transpose refused it ('lagrad indexes them with
    # integers, slices, None and Ellipsis')
    x = np.arange(1.0, 25.0).reshape(4, 3, 2)
    loss = lambda x: lnp.sum(x[index] ** 3)
    g = numpy_of(lagrad.grad(loss)(strict(x)))
    expected = np.zeros_like(x)
    np.add.at(expected, without_new_axes, 3 * x[without_new_axes] ** 2)  # the same entries, by hand
    np.testing.assert_allclose(g, expected, rtol=1e-15)
    np.testing.assert_allclose(g, lagrad.grad(loss)(x), rtol=1e-15)


def test_writing_through_an_integer_array_is_refused_by_name():
    def f(x):
        u = x * 1.0
        u[np.array([0, 2])] = x[:2] * 2.0
        return lnp.sum(u)

    with pytest.raises(TypeError, match=r"indexing array_api_strict arrays with"):
        lagrad.grad(f)(strict(np.ones(3)))


def test_a_spelling_s_own_error_names_the_primitive_and_the_library():
    with pytest.raises(ValueError, match=r"lagrad.numpy.svd on array_api_strict arrays: svd\(hermitian=True\)"):
        lagrad.grad(lambda x: lnp.sum(lnp.linalg.svd(x, hermitian=True)[1]))(strict(np.eye(3)))


def test_a_numpy_only_step_met_while_tracing_names_the_transform_the_function_and_the_library():
    with pytest.raises(
        RuntimeError, match=r"lagrad.grad on array_api_strict arrays: lagrad.numpy.geomspace: .*compute that step on"
    ):
        lagrad.grad(lambda x: lnp.sum(lnp.geomspace(x, 2.0 * x, 3)))(strict(np.arange(1.0, 4.0)))


@pytest.mark.parametrize("decimals", [0, 1, -1])
def test_round_with_decimals_as_numpy_rounds(decimals):
    x = np.array([0.25, 1.35, -2.5, 15.0, 0.05])
    y = numpy_of(lagrad.value(lnp.round(strict(x), decimals)))
    np.testing.assert_array_equal(y, np.round(x, decimals))


@pytest.mark.parametrize("write", [lambda w, W, x: w * x, lambda w, W, x: W @ x, lambda w, W, x: w - x])
def test_a_strict_array_on_the_left_of_a_traced_value_is_refused_saying_so(write):
    """array-api-strict's operators raise on a foreign right operand (they do not return
    NotImplemented), so Python never asks the traced value; lagrad's error says what to write."""
    w, W = strict(np.arange(3.0)), strict(np.ones((2, 3)))
    with pytest.raises(TypeError, match=r"lagrad.grad on array_api_strict arrays: an operator of a array_api_strict "):
        lagrad.grad(lambda x: lnp.sum(write(w, W, x)))(strict(np.ones(3)))


def test_the_documented_workarounds_for_a_strict_array_on_the_left():
    """x * w, and NumPy's or lagrad.numpy's functions with w first: the gradient in closed form."""
    w, W = np.arange(3.0), np.arange(6.0).reshape(2, 3)
    sw, sW = strict(w), strict(W)
    for loss in (
        lambda x: lnp.sum(x * sw) + lnp.sum((x @ lnp.transpose(sW)) ** 2),
        lambda x: np.sum(np.multiply(sw, x)) + np.sum(np.matmul(sW, x) ** 2),
        lambda x: lnp.sum(lnp.multiply(sw, x)) + lnp.sum(lnp.matmul(sW, x) ** 2),
    ):
        x = np.array([0.5, -1.0, 2.0])
        np.testing.assert_allclose(numpy_of(lagrad.grad(loss)(strict(x))), w + 2 * W.T @ (W @ x), rtol=1e-13)


# ----- the solvers of the adjoint system on array-api-strict ----------------------------------


def _two_inputs(np_: Any, x: Any, y: Any) -> Any:
    z = np_.tanh(x) * y + np_.exp(-x * x)
    return np_.sum(z * z) + np_.sum(np_.sin(y) * x[::-1])


SOLVERS = ["back_substitution", "levels", "forward_substitution"]


@pytest.mark.parametrize("method", SOLVERS)
def test_grad_by_every_solver_that_runs_on_array_api_strict(method):
    """Each solver that does not assemble the scalar matrix: the gradient stays on the device,
    and equals central differences (run in NumPy) and lagrad's own on NumPy arrays."""
    rng = np.random.default_rng(3)
    xs = [rng.uniform(-1, 1, 4), rng.uniform(-1, 1, 4)]
    f = lambda x, y: _two_inputs(lnp, x, y)
    grads = lagrad.grad(f, argnums=(0, 1), method=method)(*map(strict, xs))
    for j, g in enumerate(grads):
        np.testing.assert_allclose(numpy_of(g), _fd_gradient(lambda *a: _two_inputs(np, *a), xs, j), rtol=1e-6)
        np.testing.assert_allclose(numpy_of(g), lagrad.grad(f, argnums=(0, 1))(*xs)[j], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("method", SOLVERS)
def test_the_adjoint_system_of_strict_arrays_solves_on_the_device(method):
    """adjoint(f, x).solve(method): every multiplier an array-api-strict array on the device, equal
    to the NumPy system's, a residual ~1e-16 and the inputs' multipliers the finite-difference gradient."""
    rng = np.random.default_rng(4)
    xs = [rng.uniform(-1, 1, 3), rng.uniform(-1, 1, 3)]
    f = lambda x, y: _two_inputs(lnp, x, y)
    system = lagrad.adjoint(f, *map(strict, xs))
    multipliers = system.solve(method)
    expected = lagrad.adjoint(f, *xs).solve("back_substitution")
    assert len(multipliers) == len(expected)
    for got, want in zip(multipliers.lambdas, expected.lambdas):
        np.testing.assert_allclose(numpy_of(got), want, rtol=1e-12, atol=1e-15)
    assert system.residual(multipliers) < 1e-12
    for j in range(2):
        fd = _fd_gradient(lambda *a: _two_inputs(np, *a), xs, j)
        np.testing.assert_allclose(numpy_of(multipliers.lambdas[j]), fd, rtol=1e-6)
    cotangent = strict(rng.uniform(-1, 1, 3))
    vjp_system = lagrad.adjoint(lambda x: lnp.tanh(x) * x, strict(xs[0]), cotangent=cotangent)
    lam = numpy_of(vjp_system.solve(method).lambdas[0])
    x = xs[0]
    np.testing.assert_allclose(lam, numpy_of(cotangent) * (np.tanh(x) + x / np.cosh(x) ** 2), rtol=1e-12)  # closed form


def test_forward_substitution_on_strict_refuses_complex_variables_by_name():
    z = strict(np.array([0.5 + 0.1j, -0.3j]))
    with pytest.raises(TypeError, match=r"forward_substitution solver on array_api_strict arrays takes real variables"):
        lagrad.adjoint(lambda z: lnp.real(lnp.sum(z * z)), z).solve("forward_substitution")


# ----- mixing libraries: every transform names both ------------------------------------------

#: transform -> its call on a scalar function `loss`, a vector function `vector` and their arguments
TRANSFORMS = {
    "grad": lambda loss, vector, args: lagrad.grad(loss, argnums=tuple(range(len(args))))(*args),
    "value_and_grad": lambda loss, vector, args: lagrad.value_and_grad(loss)(*args),
    "vjp": lambda loss, vector, args: lagrad.vjp(vector, *args),
    "jvp": lambda loss, vector, args: lagrad.jvp(vector, args, args),
    "jacobian": lambda loss, vector, args: lagrad.jacobian(vector)(*args),
    "jacobian(fwd)": lambda loss, vector, args: lagrad.jacobian(vector, mode="fwd")(*args),
    "jacobian(elimination)": lambda loss, vector, args: lagrad.jacobian(vector, method="elimination")(*args),
    "jacobian(sparse)": lambda loss, vector, args: lagrad.jacobian(vector, sparse=True)(*args),
    "hessian": lambda loss, vector, args: lagrad.hessian(loss)(*args),
    "hvp": lambda loss, vector, args: lagrad.hvp(loss)(*args, args[0]),
    "elementwise_grad": lambda loss, vector, args: lagrad.elementwise_grad(vector)(*args),
    "adjoint": lambda loss, vector, args: lagrad.adjoint(loss, *args),
    "trace": lambda loss, vector, args: lagrad.trace(loss, *args),
    "check_grads": lambda loss, vector, args: lagrad.testing.check_grads(loss, *args),
    "checkpoint": lambda loss, vector, args: lagrad.grad(lagrad.checkpoint(loss))(*args),
}
#: The transforms that refuse array-api-strict's arrays whatever they are mixed with, naming it.
NUMPY_ONLY = {"jacobian(elimination)", "jacobian(sparse)", "checkpoint"}


def _names_both(error: Exception, a: str, b: str) -> bool:
    message = str(error)
    return "mix" in message and a in message and b in message


@pytest.mark.parametrize("transform", TRANSFORMS)
@pytest.mark.parametrize("pair", ["numpy+strict", "strict+numpy", "dask+strict"])
def test_mixing_libraries_in_the_arguments_names_both_in_every_transform(transform, pair):
    first, second = pair.split("+")
    arrays = {"numpy": np.ones(3), "strict": strict(np.ones(3))}
    if first == "dask":
        arrays["dask"] = pytest.importorskip("dask.array", reason="Dask is not installed").ones(3)
    loss, vector = (lambda w, x: lnp.sum(x * w)), (lambda w, x: lnp.tanh(x * w))
    with pytest.raises(TypeError) as error:
        TRANSFORMS[transform](loss, vector, (arrays[first], arrays[second]))
    names = {"strict": "array_api_strict"}
    assert _names_both(error.value, names.get(first, first), names.get(second, second)), str(error.value)


@pytest.mark.parametrize("transform", [t for t in TRANSFORMS if t != "check_grads"])
@pytest.mark.parametrize("weight", ["numpy", "strict"])
@pytest.mark.parametrize("product", ["x * w", "w * x"])
def test_a_weight_and_a_batch_of_two_libraries_name_both_in_every_transform(transform, weight, product):
    """The batch a constant the function holds, the weight its argument: a NumPy weight with an
    array-api-strict batch, and the reverse, in either operand order. (A transform that does not
    run on array-api-strict at all refuses a strict weight naming the library. check_grads is left
    out: it first runs the function itself on the plain arguments, where the library's own error
    comes, as it would without lagrad.)"""
    w, batch = (np.ones(3), strict(np.ones((2, 3)))) if weight == "numpy" else (strict(np.ones(3)), np.ones((2, 3)))
    times = (lambda w: batch * w) if product == "x * w" else (lambda w: w * batch)
    with pytest.raises(TypeError) as error:
        TRANSFORMS[transform](lambda w: lnp.sum(times(w)), lambda w: lnp.tanh(times(w)), (w,))
    if weight == "strict" and transform in NUMPY_ONLY:
        assert "array_api_strict arrays" in str(error.value)
    else:
        assert _names_both(error.value, "array_api_strict", "numpy"), str(error.value)
