"""Dask arrays through lagrad's transforms: lazy results, no compute lagrad starts itself, the
numbers NumPy gives on the same data, and a clear error for what Dask cannot do lazily.

The systematic part walks the coverage list (`lagrad.coverage.rows`): every differentiable
function of NumPy, numpy.linalg, numpy.fft and scipy.special that one of a few generic calls
reaches either keeps Dask lazy and matches NumPy to 1e-10, or raises an error that names lagrad,
the function and Dask.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import lagrad
from lagrad import coverage
from lagrad import scipy as lsp
from lagrad.core.backend import is_lazy, unknown_shape
from lagrad.coverage import walk_calls
from lagrad.lazy import LazyComputeError, any_lazy, backend_name
from lagrad.testing import check_grads
from tests.helpers import cupy_or_skip

da = pytest.importorskip("dask.array", reason="Dask is not installed: pip install 'lagrad[dask]'")
Callback = pytest.importorskip("dask.callbacks").Callback


class Computes(Callback):
    """Counts the Dask graphs computed while it is active."""

    def __init__(self) -> None:
        super().__init__()
        self.n = 0

    def _start(self, dsk) -> None:
        self.n += 1


def lazy(x: np.ndarray, chunks=2):
    return da.from_array(x, chunks=chunks)


@pytest.fixture(autouse=True)
def _synchronous():
    """Tiny graphs: Dask's single-threaded scheduler computes them fastest (the cluster has its test)."""
    import dask

    with dask.config.set(scheduler="synchronous"):
        yield


def _data(n=12, d=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), (rng.random(n) > 0.5).astype(float), rng.normal(size=d)


def logistic_loss(w, X, y):
    z = X @ w
    return np.mean(np.logaddexp(0, z) - y * z) + 0.1 * np.sum(w**2)


# ----- the backend queries -------------------------------------------------------------


def test_is_lazy_and_backend_name():
    assert not is_lazy(np.ones(2)) and not is_lazy(1.0) and not is_lazy(np.float64(1))
    assert is_lazy(lazy(np.ones(2))) and any_lazy([1, {"a": (np.ones(1), lazy(np.ones(2)))}])
    assert not any_lazy([np.ones(1), {"a": 2}])
    assert backend_name(np.ones(1)) == "numpy" and backend_name(lazy(np.ones(2))) == "dask"
    assert unknown_shape((np.nan, 2)) and not unknown_shape((3, 2)) and not unknown_shape(((3,), (2,)))


# ----- the transforms return Dask arrays and compute nothing ------------------------------


def test_every_transform_keeps_dask_lazy_and_matches_numpy():
    X, y, w = _data()
    Xd, yd, wd = lazy(X, 6), lazy(y, 6), lazy(w, 3)
    c = Computes()
    with c:
        g = lagrad.grad(logistic_loss)(wd, Xd, yd)
        v, g2 = lagrad.value_and_grad(logistic_loss, argnums=(0, 1))(wd, Xd, yd)
        out, vjp_fun = lagrad.vjp(lambda w: np.tanh(Xd @ w), wd)
        (ct,) = vjp_fun(lazy(y, 6))
        _, t = lagrad.jvp(logistic_loss, (wd, Xd, yd), (lazy(np.ones(3), 3), lazy(0 * X, 6), lazy(0 * y, 6)))
        J = lagrad.jacobian(lambda w: np.tanh(Xd @ w))(wd)
    assert c.n == 0
    for a in (g, v, g2[0], g2[1], out, ct, t, J):
        assert isinstance(a, da.Array)
    close = dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(g.compute(), lagrad.grad(logistic_loss)(w, X, y), **close)
    np.testing.assert_allclose(g2[1].compute(), lagrad.grad(logistic_loss, 1)(w, X, y), **close)
    np.testing.assert_allclose(v.compute(), logistic_loss(w, X, y), **close)
    np.testing.assert_allclose(ct.compute(), lagrad.vjp(lambda w: np.tanh(X @ w), w)[1](y)[0], **close)
    np.testing.assert_allclose(t.compute(), lagrad.grad(logistic_loss)(w, X, y).sum(), **close)
    np.testing.assert_allclose(J.compute(), (1 - np.tanh(X @ w) ** 2)[:, None] * X, **close)


def test_the_other_transforms_compute_nothing_on_dask_either():
    """The transforms that also run in array namespaces now (their seeds and zero blocks go
    through the namespace check): on Dask they stay lazy, computing no graph."""
    X, y, w = _data()
    Xd, yd, wd = lazy(X, 6), lazy(y, 6), lazy(w, 3)
    f = lambda w: np.tanh(Xd @ w)
    c = Computes()
    with c:
        jacobians = [lagrad.jacobian(f, mode="rev")(wd), lagrad.jacobian(f, mode="fwd", max_bytes=64)(wd)]
        e = lagrad.elementwise_grad(lambda w: np.sin(w) * w)(wd)
        h = lagrad.hessian(lambda w: np.sum(np.sin(w) ** 3))(wd)
        hv = lagrad.hvp(lambda w: np.sum(np.sin(w) ** 3))(wd, lazy(np.ones(3), 3))
        g = lagrad.grad(logistic_loss, method="levels")(wd, Xd, yd)
    assert c.n == 0
    for a in (*jacobians, e, h, hv, g):
        assert isinstance(a, da.Array)
    close = dict(rtol=1e-10, atol=1e-12)
    for J in jacobians:
        np.testing.assert_allclose(J.compute(), (1 - np.tanh(X @ w) ** 2)[:, None] * X, **close)
    np.testing.assert_allclose(e.compute(), np.cos(w) * w + np.sin(w), **close)
    hessian = np.diag(6 * np.sin(w) * np.cos(w) ** 2 - 3 * np.sin(w) ** 3)  # (sin³)'' in closed form
    np.testing.assert_allclose(h.compute(), hessian, **close)
    np.testing.assert_allclose(hv.compute(), hessian @ np.ones(3), **close)
    np.testing.assert_allclose(g.compute(), lagrad.grad(logistic_loss)(w, X, y), **close)


@pytest.mark.parametrize("method", ["levels", "forward_substitution"])
def test_every_solver_but_sparse_stays_lazy_on_dask(method):
    """grad(method=...) and adjoint(...).solve(...): Dask arrays, no graph computed, NumPy's numbers;
    `sparse`, which assembles the scalar matrix with SciPy, is refused naming Dask."""
    X, y, w = _data(n=6, d=2)
    Xd, yd, wd = lazy(X, 3), lazy(y, 3), lazy(w, 2)
    c = Computes()
    with c:
        g = lagrad.grad(logistic_loss, argnums=(0, 1), method=method)(wd, Xd, yd)
        system = lagrad.adjoint(logistic_loss, wd, Xd, yd, argnums=0)
        multipliers = system.solve(method)
        vjp_system = lagrad.adjoint(lambda w: np.tanh(Xd @ w), wd, cotangent=yd)
        lam = vjp_system.solve(method).lambdas[0]
    assert c.n == 0
    assert all(isinstance(a, da.Array) for a in (*g, *multipliers.lambdas[:1], lam))
    close = dict(rtol=1e-10, atol=1e-12)
    expected = lagrad.grad(logistic_loss, argnums=(0, 1))(w, X, y)
    np.testing.assert_allclose(g[0].compute(), expected[0], **close)
    np.testing.assert_allclose(g[1].compute(), expected[1], **close)
    np.testing.assert_allclose(multipliers.lambdas[0].compute(), expected[0], **close)  # λ of the input w
    np.testing.assert_allclose(lam.compute(), ((1 - np.tanh(X @ w) ** 2) * y) @ X, **close)  # closed form
    for call in (
        lambda: lagrad.grad(logistic_loss, method="sparse")(wd, Xd, yd),
        lambda: system.solve("sparse"),
        lambda: system.matrix("dense"),
    ):
        with pytest.raises(TypeError, match=r"does not run on dask arrays \(it assembles the (system's )?scalar"):
            call()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_nan_output_on_dask_keeps_its_gradient_unmasked_with_every_solver():
    """Zero means zero must not make the gradient of a NaN output look clean: the lazy mask's
    condition is "the output is not NaN" for levels as for back-substitution; forward
    substitution's tangents are NaN at least where those are."""
    x = np.array([0.0, 4.0])
    f = lambda x: np.sum(np.sqrt(x) * x) + np.log(-1.0 + 0 * x[0])
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = lagrad.grad(f)(x)
        assert np.isnan(expected).any()
        for method in ("back_substitution", "levels"):
            g = lagrad.grad(f, method=method)(lazy(x)).compute()
            np.testing.assert_array_equal(np.isnan(g), np.isnan(expected), err_msg=method)
        g = lagrad.grad(f, method="forward_substitution")(lazy(x)).compute()  # its 0 × ∞ stay NaN on Dask
        assert np.isnan(g[np.isnan(expected)]).all()


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda f, x: lagrad.jacobian(f, method="elimination")(x), r"jacobian\(method='elimination'\) does not run"),
        (lambda f, x: lagrad.jacobian(f, method="auto")(x), r"jacobian\(method='auto'\) does not run"),
        (lambda f, x: lagrad.jacobian(f, sparse=True)(x), r"jacobian\(sparse=True\) does not run"),
        (lambda f, x: lagrad.hessian(lambda x: np.sum(f(x)), sparse=True)(x), r"hessian\(sparse=True\) does not run"),
    ],
)
def test_the_structured_jacobians_refuse_dask_by_name_computing_nothing(call, message):
    """They build NumPy and SciPy blocks, which would compute the graph: refused before tracing."""
    c = Computes()
    with c, pytest.raises(TypeError, match=message + r" on dask arrays .*mode='rev' or 'fwd'"):
        call(np.tanh, lazy(np.ones(4)))
    assert c.n == 0


def test_compile_refuses_dask_arrays_by_name():
    with pytest.raises(TypeError, match=r"lagrad.compile\(.*\) does not run on dask arrays: it writes NumPy code"):
        lagrad.compile(lambda x: np.sum(x * x))(lazy(np.ones(4)))


def test_the_gradient_of_a_linear_function_is_a_dask_array_chunked_as_its_input():
    x = lazy(np.arange(6.0), 3)
    g = lagrad.grad(lambda x: np.sum(2 * x))(x)
    assert isinstance(g, da.Array) and g.chunks == x.chunks
    np.testing.assert_array_equal(g.compute(), 2 * np.ones(6))
    g = lagrad.grad(lambda x, y: np.sum(y * y), argnums=(0, 1))(x, x)[0]  # no path: zeros
    assert isinstance(g, da.Array) and not g.compute().any()


@pytest.mark.parametrize(
    "f",
    [
        lambda w, X: np.mean(np.tanh(X @ w)),
        lambda w, X: np.sum(np.tanh(X @ w)),
        lambda w, X: np.sum(np.tanh(X * w), axis=0) @ np.arange(1.0, 4.0),
        lambda w, X: np.sum(np.mean(np.tanh(X * w), axis=1) ** 2),
    ],
)
def test_a_reductions_multiplier_comes_in_its_inputs_chunks_so_nothing_is_rechunked(f):
    X, _, w = _data()
    Xd = lazy(X, (4, 3))
    g = lagrad.grad(f, argnums=(0, 1))(w, Xd)
    layers = [name for name in g[1].__dask_graph__().layers if name.startswith("rechunk")]
    assert layers == [] and g[1].chunks == Xd.chunks
    expected = lagrad.grad(f, argnums=(0, 1))(w, X)
    np.testing.assert_allclose(g[0].compute(), expected[0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(g[1].compute(), expected[1], rtol=1e-12, atol=1e-14)


def test_a_branch_on_a_traced_dask_value_computes_that_value_only():
    x = lazy(np.linspace(-1, 1, 8), 4)

    def f(x):
        s = np.sum(x**2)
        return s if s > 1 else -s  # a branch: Dask computes the scalar, as Dask itself would

    c = Computes()
    with c:
        g = lagrad.grad(f)(x)
    assert c.n == 1 and isinstance(g, da.Array)
    np.testing.assert_allclose(g.compute(), 2 * np.linspace(-1, 1, 8), rtol=1e-12)


@pytest.mark.parametrize(
    "f",
    [
        lambda x: np.sum(np.where(x > 0, np.sqrt(np.abs(x)), 0.0)),  # zero means zero
        lambda x: np.sum(np.sqrt(x)),  # a NaN output: its gradient unmasked, as on NumPy
        lambda x: np.sum(np.sqrt(np.abs(x)) * x),  # 0 × inf in the tangent sweep
    ],
)
def test_zero_means_zero_is_built_into_the_graph(f):
    x = np.array([-1.0, 0.0, 1.0, 4.0, np.inf, 2.0])
    c = Computes()
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # Dask computes outside lagrad's errstate
        with c:
            g = lagrad.grad(f)(lazy(x))
            _, t = lagrad.jvp(f, (lazy(x),), (lazy(np.ones(6)),))
        assert c.n == 0
        np.testing.assert_array_equal(g.compute(), lagrad.grad(f)(x))
        np.testing.assert_array_equal(t.compute(), lagrad.grad(f)(x).sum() if np.isfinite(t.compute()) else t)


def _layers(a):
    return [name.rsplit("-", 1)[0] for name in a.__dask_graph__().layers]


@pytest.mark.parametrize(
    "f, args",
    [
        # broadcasting: y's multiplier is summed back over the rows
        (
            lambda x, y: np.sum(np.logaddexp(x, y) * np.tanh(x * y)),
            (np.linspace(-2, 2, 12).reshape(4, 3), [0.5, 0.0, -1]),
        ),
        (lambda x, y: np.sum(x * x * y), (np.arange(12.0).reshape(4, 3), [1.0, 2.0, 3.0])),  # g meets x twice
        (lambda x, y: np.sum(np.maximum(x, y) ** 2 + 0 * x), (np.array([[1.0, 2.0], [3.0, -1.0]]), 2.0)),  # ties
        (lambda x, y: np.sum(np.exp(x) * y), (np.zeros((0, 3)), [1.0, 2.0, 3.0])),  # empty
        # zero means zero: sqrt's infinite partial at 0 and NaN below it, met by zero multipliers
        (
            lambda x, y: np.sum(np.where(x > 0, np.sqrt(np.abs(x)), 0.0) * y),
            (np.array([[-1.0, 0.0, 4.0]] * 2), [1.0, 2.0, 0.0]),
        ),
        (lambda x, y: np.sum(np.sqrt(x) * y), (np.array([[0.0, 1.0, np.inf]] * 2), [0.0, 1.0, 1.0])),  # 0 × inf
        (lambda x, y: np.sum(np.sqrt(x) * y), (np.array([[-1.0, 1.0, 4.0]] * 2), [1.0, 1.0, 1.0])),  # a NaN output
    ],
)
def test_an_elementwise_rule_runs_block_by_block_as_numpy_gives(f, args):
    """On Dask an elementwise rule is one blockwise layer, its mask inside (no where, equal or and
    layers), the rule running on NumPy's blocks; the numbers, NaN included, are NumPy's exactly."""
    x, y = (np.asarray(a, dtype=float) for a in args)
    xd = lazy(x, (max(1, x.shape[0] // 2), x.shape[1]))
    yd = lazy(y, y.shape or ())
    c = Computes()
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # Dask computes outside lagrad's errstate
        with c:
            g = lagrad.grad(f, argnums=(0, 1))(xd, yd)
        assert c.n == 0 and all(isinstance(a, da.Array) for a in g)
        expected = lagrad.grad(f, argnums=(0, 1))(x, y)
        for got, want in zip(g, expected):
            np.testing.assert_allclose(got.compute(), want, rtol=1e-14, atol=1e-15)  # Dask sums by chunks
            assert got.dtype == want.dtype
    assert not {"where", "eq", "and_"} & set(_layers(g[0]) + _layers(g[1])) - set(_layers(f(xd, yd)))


@pytest.mark.parametrize("dtype", [np.float32, np.complex128])
def test_a_rule_on_dask_blocks_keeps_the_dtype_numpy_gives(dtype):
    x = (np.linspace(0.5, 2, 8).reshape(4, 2) * (1 + 0.5j if dtype == np.complex128 else 1)).astype(dtype)
    f = lambda x: np.sum(np.abs(np.exp(x) * np.sin(x)))
    g = lagrad.grad(f)(lazy(x, (2, 2)))
    expected = lagrad.grad(f)(x)
    assert g.dtype == expected.dtype == dtype
    np.testing.assert_allclose(g.compute(), expected, rtol=1e-6 if dtype == np.float32 else 1e-12)


def test_second_derivatives_on_dask_where_a_multiplier_is_zero():
    """grad of grad through exp(x) · y with y = 0 in one column: the inner sweep's masks must not
    zero the second derivative there (they did on Dask: [10.4, 0, 14.7] against NumPy's 12.4)."""
    x, y = np.linspace(0.5, 1.5, 12).reshape(4, 3), np.linspace(-1, 1, 3)
    xd, yd = lazy(x, (2, 3)), lazy(y, 3)
    f = lambda x, y: np.sum(np.exp(x) * y)
    outer = lambda x, y: np.sum(lagrad.grad(f)(x, y) * x)  # Σ exp(x) y x: ∂/∂y_j = Σ_i x_ij exp(x_ij)
    got = lagrad.grad(outer, 1)(xd, yd).compute()
    np.testing.assert_allclose(got, np.sum(x * np.exp(x), axis=0), rtol=1e-12)


@pytest.mark.parametrize(
    "f",
    [
        lambda x, y: np.sum(np.logaddexp(x, y) * np.tanh(x * y)),
        lambda x, y: np.sum(np.exp(x) * y),
        lambda x, y: np.mean(np.maximum(x, y) ** 2) + np.sum(x[:, 1:] / (1 + y[1:] ** 2)),
    ],
)
def test_check_grads_on_dask_with_the_threaded_scheduler(f):
    """Finite differences on Dask's arrays and its threaded scheduler, both modes, second order."""
    import dask

    x, y = np.linspace(0.5, 1.5, 12).reshape(4, 3), np.linspace(-1, 1, 3)
    with dask.config.set(scheduler="threads"):
        check_grads(f, lazy(x, (2, 3)), lazy(y, 3), modes=["fwd", "rev"], order=2)


def test_a_rule_whose_partial_is_fixed_needs_no_mask():
    from lagrad.core.primitive import SHAPE_READS
    from lagrad.core.program import META, READ, UNREAD
    from lagrad.lazy import fixed_partial

    values = [None, None, None]
    assert fixed_partial((UNREAD, META, UNREAD, READ), values, {"axis": (0,), "keepdims": False})  # a param read
    assert fixed_partial(SHAPE_READS, values, {})
    assert not fixed_partial((UNREAD, READ, UNREAD), values, {})  # it reads x
    assert not fixed_partial(None, values, {})  # unknown reads
    assert not fixed_partial((UNREAD, META), values[:2], {"scale": 2.5})  # a number in the params
    assert not fixed_partial((UNREAD, META), values[:2], {"scales": (1, np.ones(2))})
    x = lazy(np.arange(8.0), 4)
    layers = _layers(lagrad.grad(lambda x: np.sum(x - x[::-1]) + np.mean(x))(x))
    assert not {"zero-means-zero", "where"} & set(layers)


def test_the_logistic_gradient_passes_over_x_twice_as_the_hand_written_one():
    """The graph comparison of benchmarks/dask_logistic.py, small: the layers that read X's blocks
    are the forward product and the transposed one, as in Xᵀ(σ(X w) − y)/n written by hand."""
    X, y, w = _data(n=40, d=3)
    Xd, yd = lazy(X, (10, 3)), lazy(y, 10)

    def readers(a):
        graph = a.__dask_graph__()
        return sorted(name.rsplit("-", 1)[0] for name, deps in graph.dependencies.items() if Xd.name in deps)

    hand = Xd.T @ (1 / (1 + np.exp(-(Xd @ w))) - yd) / 40 + 0.2 * w
    g = lagrad.grad(logistic_loss)(w, Xd, yd)
    assert readers(g) == readers(hand) == ["matmul", "transpose"]
    np.testing.assert_allclose(g.compute(), hand.compute(), rtol=1e-12)


def test_masks_and_integer_indices_on_dask():
    xn = np.random.default_rng(1).uniform(0.5, 1.5, (4, 6))
    mask = np.array([True, False, True, True])
    i = np.array([0, 2, 2, 3])

    def update(x):
        y = x * 1.0
        y[1:3] += x[:2] ** 2
        y[i] = y[i] * 2  # repeated indices: their derivative adds up
        return np.sum(y**2)

    for f in (
        lambda x: np.sum(x[mask] ** 2),  # a NumPy mask: its size is known
        lambda x: np.sum(x[:, 1:][mask] ** 2),
        lambda x: np.sum(x[i] ** 3),
        lambda x: np.sum(x[:, lazy(np.array([1, 1, 5]))] ** 3),
        update,
    ):
        c = Computes()
        with c:
            g = lagrad.grad(f)(lazy(xn))
        assert c.n == 0 and isinstance(g, da.Array)
        np.testing.assert_allclose(g.compute(), lagrad.grad(f)(xn), rtol=1e-12)


def test_a_dask_mask_or_unique_says_the_size_is_unknown():
    x = lazy(np.random.default_rng(2).uniform(0.5, 1.5, (4, 6)))
    for f in (lambda x: np.sum(x[x > 1]), lambda x: np.sum(np.unique(x)), lambda x: np.sum(x[lazy(x > 1)])):
        with pytest.raises(ValueError, match=r"lagrad: equation .* unknown size .*Dask.*numpy\.where"):
            lagrad.grad(f)(x)


@pytest.mark.filterwarnings("ignore:The `numpy:FutureWarning")  # Dask's own warning before the compute
def test_median_and_sort_name_the_step_dask_would_compute():
    x = lazy(np.random.default_rng(3).uniform(0.5, 1.5, (4, 6)))
    with pytest.raises(LazyComputeError, match=r"partition_order' would compute the Dask graph"):
        lagrad.grad(lambda x: np.median(x))(x)
    with pytest.raises(LazyComputeError, match=r"'sort' would compute the Dask graph"):
        lagrad.grad(lambda x: np.sum(np.sort(x) * x))(x)


def test_the_users_own_compute_is_not_refused():
    x = lazy(np.arange(4.0), 2)
    g = lagrad.grad(lambda x: np.sum(x**2) * float(np.asarray(lagrad.value(x)).sum()))(x)
    np.testing.assert_allclose(g.compute(), 2 * np.arange(4.0) * 6)


# ----- the coverage list, systematically ------------------------------------------------

#: Generic calls, tried in order on NumPy: the first whose gradient is finite is the function's case
#: (the same list the backend walk of `python -m lagrad.coverage --backends` uses).
CALLS = walk_calls()
MODULES = {"numpy": np, "numpy.linalg": np.linalg, "numpy.fft": np.fft, "scipy.special": lsp.special}


def _total(out):
    if isinstance(out, (tuple, list)):
        parts = [t for t in map(_total, out) if t is not None]
        return sum(parts[1:], parts[0]) if parts else None
    kind = np.dtype(getattr(lagrad.value(out), "dtype", np.float64)).kind
    return np.sum(np.real(out)) if kind == "c" else np.sum(out) if kind == "f" else None


def _case(f):
    for name, call, x in CALLS:
        loss = lambda x, call=call: _total(call(f, x))
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                expected = lagrad.grad(loss)(x)
        except Exception:
            continue
        if np.all(np.isfinite(expected)):
            return name, loss, x, expected
    return None


def _functions():
    for row in coverage.rows():
        if row.status == coverage.DIFFERENTIABLE and row.module in MODULES:
            f = getattr(MODULES[row.module], row.name, None)
            if f is None and row.module == "numpy":
                f = getattr(lagrad.numpy, row.name, None)
            if f is not None:
                yield f"{row.module}.{row.name}", f


def test_every_covered_function_keeps_dask_lazy_and_right_or_says_why_not():
    """The coverage list on Dask: lazy, no compute, NumPy's numbers to 1e-10; or a clear error."""
    lazy_ok, refused, uncalled, wrong = [], [], [], []
    for name, f in _functions():
        case = _case(f)
        if case is None:
            uncalled.append(name)
            continue
        call, loss, x, expected = case
        c = Computes()
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                with c:
                    g = lagrad.grad(loss)(lazy(x, (max(1, x.shape[0] // 2), *x.shape[1:])))
                got = g.compute() if isinstance(g, da.Array) else None
        except Exception as error:
            message = str(error)
            if message.startswith("lagrad") and "dask" in message.lower():
                refused.append(name)
            else:
                wrong.append(f"{name} [{call}]: an unclear error: {type(error).__name__}: {message[:200]}")
            continue
        if got is None or c.n or not np.allclose(got, expected, rtol=1e-10, atol=1e-10):
            wrong.append(f"{name} [{call}]: dask={got is not None}, computes={c.n}")
        else:
            lazy_ok.append(name)
    assert wrong == []
    assert len(lazy_ok) >= 180, (len(lazy_ok), len(refused), len(uncalled))
    for name in ("numpy.logaddexp", "numpy.matmul", "numpy.cumsum", "numpy.concatenate", "scipy.special.expit"):
        assert name in lazy_ok


# ----- a real cluster: two worker processes ------------------------------------------------


def test_gradients_on_a_local_cluster_of_two_processes():
    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")
    X, y, w = _data(n=400, d=5, seed=4)
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
    ):
        Xd, yd = da.from_array(X, chunks=(100, 5)), da.from_array(y, chunks=100)
        v, g = lagrad.value_and_grad(logistic_loss)(da.from_array(w), Xd, yd)
        assert isinstance(g, da.Array)
        v, g = client.compute([v, g], sync=True)
        assert len(client.scheduler_info()["workers"]) == 2
    np.testing.assert_allclose(g, lagrad.grad(logistic_loss)(w, X, y), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(v, logistic_loss(w, X, y), rtol=1e-10)


class _FakeCupy:
    """Stands in for a CuPy array (CuPy is not installed here): its library is named 'cupy'."""

    __module__ = "cupy"

    def __init__(self, n):
        self.shape, self.dtype = (n,), np.dtype(float)


def test_mixing_libraries_that_do_not_combine_names_both():
    with pytest.raises(TypeError, match=r"lagrad.grad: the arguments mix cupy arrays \(args\[1\]\) and numpy arrays"):
        lagrad.grad(lambda w, x: np.sum(w))(np.ones(2), _FakeCupy(2))
    with pytest.raises(TypeError, match=r"mix cupy arrays \(args\[1\]\[0\]\) and dask arrays \(args\[0\]\)"):
        lagrad.grad(lambda w, x: np.sum(w))(lazy(np.ones(2)), [_FakeCupy(2)])
    g = lagrad.grad(lambda w, x: np.sum(w * x))(np.ones(2), lazy(np.arange(2.0)))  # Dask takes NumPy in
    np.testing.assert_array_equal(np.asarray(g), [0.0, 1.0])


# ----- CuPy: the same path on a GPU, where there is one ---------------------------------------


@pytest.fixture
def cupy():
    return cupy_or_skip()


def test_gradients_stay_on_the_gpu(cupy):  # pragma: no cover - needs CuPy and a GPU
    X, y, w = _data(n=64, d=4)
    v, g = lagrad.value_and_grad(logistic_loss)(cupy.asarray(w), cupy.asarray(X), cupy.asarray(y))
    assert isinstance(g, cupy.ndarray)
    np.testing.assert_allclose(cupy.asnumpy(g), lagrad.grad(logistic_loss)(w, X, y), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(float(v), logistic_loss(w, X, y), rtol=1e-12)
    J = lagrad.jacobian(lambda w: np.tanh(cupy.asarray(X) @ w))(cupy.asarray(w))
    assert isinstance(J, cupy.ndarray)
    np.testing.assert_allclose(cupy.asnumpy(J), (1 - np.tanh(X @ w) ** 2)[:, None] * X, rtol=1e-10, atol=1e-12)


def test_a_numpy_weight_with_a_cupy_batch_names_both(cupy):  # pragma: no cover - needs CuPy and a GPU
    with pytest.raises(TypeError, match=r"mix cupy arrays .* and numpy arrays"):
        lagrad.grad(logistic_loss)(np.ones(3), cupy.ones((4, 3)), cupy.ones(4))


def test_a_container_that_contains_itself_is_looked_at_once():
    loop = [lazy(np.ones(2))]
    loop.append(loop)
    assert any_lazy(loop) and not any_lazy([np.ones(1), {"a": loop[1:1]}])
    with pytest.raises(TypeError, match=r"mix cupy arrays \(args\[1\]\) and numpy arrays"):
        mixed = [np.ones(2), _FakeCupy(2)]
        mixed.append(mixed)
        lagrad.grad(lambda w: np.sum(w))(*mixed)


LINEAR = [
    lambda x: np.sum(np.transpose(x) * np.arange(12.0).reshape(3, 4)),
    lambda x: np.sum(np.cumsum(x, axis=0) * np.cos(np.arange(12.0)).reshape(4, 3)),
    lambda x: np.sum(np.dot(x, np.arange(3.0))),
]


@pytest.mark.parametrize("f", LINEAR)
def test_second_derivatives_of_a_function_linear_in_a_dask_array(f):
    """The inner gradient is a constant Dask array (it never met the outer trace): hvp raised
    "'Var' object has no attribute 'chunks'" (`gradients_like` chunked it by the traced
    input), then hvp and hessian a LazyComputeError naming `_check_outputs`, whose
    numpy.asarray read the output's dtype by computing it. Both are zero."""
    x = lazy(np.linspace(0.5, 1.5, 12).reshape(4, 3))
    c = Computes()
    with c:
        v = lagrad.hvp(f)(x, lazy(np.ones((4, 3))))
        h = lagrad.hessian(f)(x)
    assert c.n == 0 and isinstance(v, da.Array) and v.chunks == x.chunks
    assert v.shape == (4, 3) and h.shape == (4, 3, 4, 3)
    assert not v.compute().any() and not np.asarray(h).any()
