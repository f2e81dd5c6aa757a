"""lagrad.compile: generated code gives the eager results, bit for bit, and traces again where it must."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings

import lagrad
import lagrad.numpy as lnp
from lagrad.codegen import REWRITES
from lagrad.tree import tree_flatten
from tests.helpers import calls_from_threads
from tests.test_random_programs import _tame, programs, run


def _same(a: Any, b: Any) -> None:
    """Equal bit for bit, leaf by leaf, in the same structure."""
    la, ta = tree_flatten(a)
    lb, tb = tree_flatten(b)
    assert ta == tb
    for x, y in zip(la, lb):
        x, y = np.asarray(x), np.asarray(y)
        assert x.shape == y.shape and x.dtype == y.dtype, (x, y)
        assert np.array_equal(x, y, equal_nan=True), (x, y)


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None)
@given(programs())
def test_random_programs_compiled_equal_eager(spec: Any) -> None:
    inputs = spec.inputs()
    assume(_tame(spec, inputs))
    f = lambda tree: run(spec, tree)
    with np.errstate(all="ignore"):
        for transform in (lambda f: f, lagrad.value_and_grad):
            eager = transform(f)
            compiled = lagrad.compile(transform(f), interpret=1)
            first = compiled(inputs)  # answered by the trace
            again = compiled(inputs)  # by the interpreter
            third = compiled(inputs)  # by the generated source
            for result in (first, again, third):
                _same(result, eager(inputs))
            info = compiled.cache_info()
            assert info["hits"] == 2 and info["interpreted"] == 1 and info["compiled"] == 1


# ----- a sample of the check_grads cases, through every transform -------------------------------

rng = np.random.default_rng(0)
A = rng.standard_normal((3, 3))


def _in_place(x):
    y = x.copy()
    y[1:] += 0.5 * y[:-1]
    y[0] = 0.0
    return lnp.sum(lnp.sin(y) ** 2)


W2, V = rng.standard_normal((5, 2)), rng.standard_normal((7, 1))


def _dense(x):
    """Concatenations extending one another (one buffer), a head whose derivative is an outer product."""
    h1 = lnp.tanh(A @ x)
    h2 = lnp.tanh(lnp.concatenate([A, h1], axis=1) @ W2)
    return lnp.mean((lnp.concatenate([A, h1, h2], axis=1) @ V) ** 2)


SAMPLE = {
    "tanh_matmul": (lambda x: lnp.sum(lnp.tanh(A @ x) ** 2), rng.standard_normal((3, 2))),
    "softmax": (lambda x: lnp.sum(lagrad.scipy.special.softmax(x, axis=1) * A), rng.standard_normal((3, 3))),
    "logsumexp": (lambda x: lagrad.scipy.special.logsumexp(x * 2.0), rng.standard_normal(5)),
    "solve": (lambda x: lnp.sum(lnp.linalg.solve(A + 4 * np.eye(3), x) ** 3), rng.standard_normal(3)),
    "eigh": (lambda x: lnp.sum(lnp.linalg.eigh(x + x.T)[0] ** 2), rng.standard_normal((3, 3))),
    "det": (lambda x: lnp.linalg.det(x), rng.standard_normal((3, 3))),
    "indexing": (lambda x: lnp.sum(x[::2] * x[1::2] + x[[0, 0, 3]].sum()), rng.standard_normal(6)),
    "in_place": (_in_place, rng.standard_normal(5)),
    "where": (lambda x: lnp.sum(lnp.where(x > 0, x**2, lnp.exp(x))), rng.standard_normal(6)),
    "concatenate_cumsum": (lambda x: lnp.sum(lnp.cumsum(lnp.concatenate([x, x**2])) ** 2), rng.standard_normal(4)),
    "max_mean": (lambda x: lnp.max(x, axis=0).sum() + lnp.mean(x**2), rng.standard_normal((4, 3))),
    "reshape_transpose": (lambda x: lnp.sum(x.reshape(3, 2).T @ A[:, :2]), rng.standard_normal(6)),
    "roll_stencil": (lambda x: lnp.sum((lnp.roll(x, 1) - 2.0 * x + lnp.roll(x, -1)) ** 2 * x), rng.standard_normal(6)),
    "dense": (_dense, rng.standard_normal((3, 2))),
    "scalar_sin": (lambda x: lnp.sin(x * x) * lnp.cos(x) + lnp.sqrt(x * x + 1.0), np.float64(0.7)),
}


@pytest.mark.parametrize("name", list(SAMPLE))
def test_check_grads_sample_compiled_equal_eager(name: str) -> None:
    f, x = SAMPLE[name]
    for transform in (
        lagrad.value_and_grad,
        lagrad.grad,
        lambda f: lagrad.jacobian(lambda x: f(x) * lnp.arange(1.0, 3.0)),
        lambda f: lagrad.jacobian(lambda x: f(x) * lnp.arange(1.0, 3.0), mode="fwd"),
        lagrad.hessian,
    ):
        compiled = lagrad.compile(transform(f), interpret=1)
        compiled(x)
        _same(compiled(x), transform(f)(x))  # interpreted
        _same(compiled(x + 0.125), transform(f)(x + 0.125))  # compiled: new values, the same variant
        assert compiled.cache_info()["traces"] == 1 and compiled.cache_info()["compiled"] == 1
    v = rng.standard_normal(x.shape)
    hvp = lagrad.compile(lagrad.hvp(f), interpret=1)
    hvp(x, v)
    _same(hvp(x, v), lagrad.hvp(f)(x, v))
    _same(hvp(x, v), lagrad.hvp(f)(x, v))


def test_value_and_grad_of_two_arguments_with_aux() -> None:
    def loss(w, b, x):
        z = lnp.tanh(x @ w + b)
        return lnp.mean(z**2), {"z": z, "n": 3}

    step = lagrad.compile(lagrad.value_and_grad(loss, argnums=(0, 1), has_aux=True))
    w, b, x = rng.standard_normal((4, 2)), rng.standard_normal(2), rng.standard_normal((5, 4))
    for scale in (1.0, 2.0, 3.0):
        _same(step(w * scale, b, x), lagrad.value_and_grad(loss, argnums=(0, 1), has_aux=True)(w * scale, b, x))
    assert step.cache_info()["hits"] == 2


# ----- branches, the cache, threads ----------------------------------------------------------------


def _branchy(a, b):
    x = 0.5
    for _ in range(6):
        x = a * x * (1 - x) if x < 0.5 else lnp.sin(b * x) + 0.1 * x
    return x


@pytest.mark.parametrize("interpret, python_scalars", [(0, True), (0, False), (10, True)])
def test_a_flipped_branch_traces_again_and_stays_correct(interpret: int, python_scalars: bool) -> None:
    g = lagrad.compile(lagrad.grad(_branchy, (0, 1)), interpret=interpret, python_scalars=python_scalars)
    for a in (3.7, 1.7, 3.7, 2.9, 1.7):
        _same(g(a, 0.3), lagrad.grad(_branchy, (0, 1))(a, 0.3))
    info = g.cache_info()
    reasons = [v["reason"] for v in info["variants"]]
    assert reasons[0] == "first call with this signature"
    assert all(r.startswith("branch on z") and "went the other way" in r for r in reasons[1:])
    assert info["traces"] == 1 and info["retraces"] == len(reasons) - 1 >= 1
    assert info["hits"] == 5 - len(reasons)  # the third and fifth calls found their variant


def test_the_signature_selects_the_variant() -> None:
    cube = lambda x: lnp.sum(x**3)
    f = lagrad.compile(lagrad.grad(cube))
    for x in (np.ones(3), np.ones(4), np.ones(3, dtype=np.float32), np.ones(3)):
        _same(f(x), lagrad.grad(cube)(x))
    assert f.cache_info()["traces"] == 3 and f.cache_info()["hits"] == 1
    pair = lagrad.compile(lambda t: t["a"] * t["b"])
    _same(pair({"a": np.ones(2), "b": np.ones(2)}), np.ones(2))
    _same(pair({"a": np.ones(2), "b": 2.0}), 2 * np.ones(2))
    assert pair.cache_info()["traces"] == 2


def test_cache_is_bounded() -> None:
    f = lagrad.compile(lambda x: x * 2.0, maxsize=2)
    for n in range(1, 6):
        _same(f(np.ones(n)), np.ones(n) * 2.0)
    assert f.cache_info()["size"] == 2 and f.cache_info()["traces"] == 5
    f(np.ones(1))  # forgotten: traced again
    assert f.cache_info()["traces"] == 6


def test_integer_and_static_arguments_are_part_of_the_key() -> None:
    def f(x, n, how):
        y = x
        for _ in range(n):
            y = lnp.sin(y) if how == "sin" else lnp.cos(y)
        return lnp.sum(y)

    g = lagrad.compile(lagrad.grad(f), static_argnums=2)
    x = rng.standard_normal(3)
    for n, how in ((2, "sin"), (3, "sin"), (2, "cos"), (2, "sin")):
        _same(g(x, n, how), lagrad.grad(f)(x, n, how))
    assert g.cache_info()["traces"] == 3 and g.cache_info()["hits"] == 1


def test_eight_threads_give_identical_results() -> None:
    f, x = SAMPLE["tanh_matmul"]
    g = lagrad.compile(lagrad.value_and_grad(f), interpret=5)  # the source is compiled while threads run
    inputs = [x * (1 + j / 8) for j in range(8)]
    expected = [lagrad.value_and_grad(f)(xi) for xi in inputs]
    results = calls_from_threads(lambda j: g(inputs[j]), times=20)
    for j in range(8):
        for r in results[j]:
            _same(r, expected[j])
    info = g.cache_info()
    assert info["traces"] + info["retraces"] + info["hits"] == 160 and info["compiled"] > 0


def test_the_tiers_trace_then_interpret_then_compile() -> None:
    f = lambda x: lnp.sum(lnp.tanh(x) ** 2)
    g = lagrad.compile(lagrad.grad(f), interpret=2)
    x = rng.standard_normal(3)
    tiers = []
    for _ in range(5):
        _same(g(x), lagrad.grad(f)(x))
        tiers.append(g.cache_info()["variants"][0]["tier"])
    assert tiers == [None, "interpreted", "interpreted", "compiled", "compiled"]
    info = g.cache_info()
    assert (info["traces"], info["interpreted"], info["compiled"]) == (1, 2, 2)
    assert info["variants"][0]["statements"] > 0 and "def compiled(z1):" in g.source(x)
    assert info["variants"][0]["compiled seconds"] > 0 and info["variants"][0]["interpreted seconds"] > 0
    with pytest.raises(ValueError, match="interpret must be a count of calls"):
        lagrad.compile(f, interpret=-1)


# ----- what falls back to eager, and the errors ---------------------------------------------------


def test_differentiating_a_compiled_function_runs_it_eagerly() -> None:
    f = lagrad.compile(lambda x: lnp.sum(lnp.sin(x) * x))
    x = rng.standard_normal(4)
    _same(lagrad.grad(f)(x), lagrad.grad(lambda x: lnp.sum(lnp.sin(x) * x))(x))
    g = lagrad.compile(lagrad.grad(lambda x: lnp.sum(lnp.sin(x) * x)))
    lagrad.testing.check_grads(g, x, modes=("rev",), order=1)  # second derivatives through it
    assert g.cache_info()["eager"] >= 1


def test_a_compiled_transform_of_a_compiled_function_keeps_its_own_function_and_cache() -> None:
    # compile(grad(compile(f))) once took the inner Compiled's state (its `fun`, cache and counts)
    # through the transform's functools.wraps, and answered f's value in place of its gradient
    f = lambda x, y: lnp.sum(lnp.sin(x) * y**2)
    x, y = rng.standard_normal(4), rng.standard_normal(4)
    inner = lagrad.compile(f, interpret=0)
    gradient = lagrad.compile(lagrad.grad(inner), interpret=1)
    hess = lagrad.compile(lagrad.jacobian(lagrad.compile(lagrad.grad(f))), interpret=1)
    for _ in range(3):  # the trace, the interpreter, the generated source
        np.testing.assert_allclose(gradient(x, y), np.cos(x) * y**2, rtol=1e-14)
        np.testing.assert_allclose(hess(x, y), np.diag(-np.sin(x) * y**2), rtol=1e-14, atol=1e-300)
    outer = lagrad.compile(inner, interpret=5)
    _same(outer(x, y), f(x, y))
    assert outer.interpret == 5 and inner.interpret == 0 and outer.fun is inner
    assert outer.cache_info()["traces"] == 1 and outer.cache_info() != inner.cache_info()


def test_fortran_ordered_arguments_give_the_eager_bits_in_every_tier() -> None:
    # summed in memory order, Fortran-ordered [[1e16, 1], [-1e16, 1]] gives 2 (C order: 1); the
    # trace's lifted run once read a C-ordered copy (1) where the interpreter read the argument (2)
    x = np.asfortranarray([[1e16, 1.0], [-1e16, 1.0]])
    f = lagrad.value_and_grad(lambda x: lnp.sum(x * 1.0))
    compiled = lagrad.compile(f, interpret=2)
    for _ in range(4):  # the trace, the interpreter twice, the generated source
        _same(compiled(x), f(x))
        assert compiled(x)[0] == np.sum(x) == 2.0


def test_a_buffer_is_written_only_where_numpy_would_lay_out_the_result_alike() -> None:
    # sin(x.T) is Fortran-ordered; adding a C-ordered array gives a C-ordered array in NumPy, but
    # written into sin(x.T)'s dying buffer it stayed Fortran-ordered, and the sum, which adds in
    # memory order, changed in the last bits on about half of the calls
    def f(x, y):
        return lnp.sum((lnp.sin(x.T) + lnp.exp(y)) ** 2)

    for fun in (f, lagrad.value_and_grad(f, argnums=(0, 1))):
        compiled = lagrad.compile(fun, interpret=0)
        for _ in range(30):
            x, y = rng.standard_normal((7, 5)), rng.standard_normal((5, 7))
            _same(compiled(x, y), fun(x, y))
        assert compiled.cache_info()["compiled"] == 29
    # and arguments of another memory order than the first call's run a variant of their own
    compiled = lagrad.compile(lambda x, y: lnp.sum(-x + y), interpret=0)
    x = np.asfortranarray([[1e16, 1.0], [-1e16, 1.0]])
    for y in (np.zeros((2, 2)), np.asfortranarray(np.zeros((2, 2)))) * 2:
        _same(compiled(x, y), np.sum(-x + y))

    class Sub(np.ndarray):  # an ndarray subclass (as np.memmap): its strides enter the key too
        pass

    compiled = lagrad.compile(lambda x, y: lnp.sum(-x + y), interpret=0)
    y = np.zeros((2, 2))
    for sub in [np.ascontiguousarray(x).view(Sub)] * 2 + [x.view(Sub)] * 2:  # compiled on the C-ordered
        _same(compiled(sub, y), np.sum(-np.asarray(sub) + y))


def test_a_product_with_ones_is_a_name_for_its_factor_only_where_they_are_laid_out_alike() -> None:
    # x.T * ones is C-ordered in NumPy, x.T Fortran-ordered: the product taken as a name for x.T
    # once summed [[1e16, 1], [-1e16, 1]] in memory order (2.0) where NumPy gives 1.0
    ones = np.ones((2, 2))
    x = np.array([[1e16, -1e16], [1.0, 1.0]])

    def f(x):
        return lnp.sum(x.T * ones)

    for fun in (f, lagrad.value_and_grad(f)):
        compiled = lagrad.compile(fun, interpret=0)
        for _ in range(3):
            _same(compiled(x), fun(x))
    assert f(x) == np.sum(x.T * ones) == 1.0
    # a product with ones of the factor's own layout is still a name for it
    assert "c_0" not in lagrad.compile(lambda x: lnp.sum(x * ones), interpret=0).source(x)


def test_a_write_into_a_float_argument_is_the_traced_values_and_leaves_the_callers_array() -> None:
    # as docs/compile.md says: the update is read by the rest of the function, in every tier,
    # and the caller's array keeps its values (plain NumPy would double it on every call)
    def f(x: Any, out: Any) -> Any:
        x[0] = 5.0
        x *= 2.0
        out[:] = x
        return lnp.sum(x**2), out

    compiled = lagrad.compile(f, interpret=1)
    for _ in range(3):
        x, out = np.arange(3.0), np.zeros(3)
        value, written = compiled(x, out)
        assert value == 100.0 + 4.0 + 16.0 and np.array_equal(written, [10.0, 2.0, 4.0])
        assert np.array_equal(x, np.arange(3.0)) and np.array_equal(out, np.zeros(3))


def test_a_function_drawing_from_numpys_global_random_state_is_not_replayed() -> None:
    # a draw is a constant of the trace: replayed, every call would repeat the first call's
    # numbers (a stochastic gradient frozen at one sample); each call runs eagerly instead
    def f(x: Any) -> Any:
        return lnp.sum(lnp.sin(x) * np.random.normal(size=3))

    x = rng.standard_normal(3)
    for fun in (f, lagrad.grad(f), lagrad.value_and_grad(f)):
        compiled = lagrad.compile(fun, interpret=0)
        np.random.seed(5)
        expected = [fun(x) for _ in range(4)]
        np.random.seed(5)
        got = [compiled(x) for _ in range(4)]
        for a, b in zip(got, expected):
            _same(a, b)
        first, second = (np.concatenate([np.ravel(leaf) for leaf in tree_flatten(g)[0]]) for g in got[:2])
        assert not np.array_equal(first, second)  # fresh draws
        info = compiled.cache_info()
        assert info["hits"] == 0 and "global random state" in info["variants"][0]["outcome"]
    # a draw made outside and passed in is data: replayed as usual
    compiled = lagrad.compile(lambda x, noise: lnp.sum(lnp.sin(x) * noise), interpret=0)
    for _ in range(3):
        noise = np.random.normal(size=3)
        _same(compiled(x, noise), np.sum(np.sin(x) * noise))
    assert compiled.cache_info()["hits"] == 2


def test_nan_results_are_answered_eagerly() -> None:
    f = lambda x: lnp.sum(lnp.where(x > 0, lnp.sqrt(x), 0.0))
    g = lagrad.compile(lagrad.grad(f))
    _same(g(np.array([1.0, 4.0])), lagrad.grad(f)(np.array([1.0, 4.0])))
    at_zero = np.array([0.0, 4.0])
    _same(g(at_zero), lagrad.grad(f)(at_zero))
    assert np.isfinite(g(at_zero)).all() and g.cache_info()["eager"] >= 1


def test_the_nan_check_sees_one_nan_among_many_entries_and_lets_infinities_through() -> None:
    f = lambda w, x: lnp.sum(lnp.log(x @ w))  # ∂/∂w is x.T @ (1 / (x @ w))
    g = lagrad.compile(lagrad.grad(f), interpret=0)
    w, x = np.ones((50, 40)), np.ones((3, 50))
    for _ in range(3):
        g(w, x)
    nan = w.copy()
    nan[7, 3] = np.nan  # one column of x @ w is NaN, so one column of the gradient
    before = g.cache_info()["eager"]
    _same(g(nan, x), lagrad.grad(f)(nan, x))
    assert g.cache_info()["eager"] == before + 1  # seen, and answered eagerly
    infinite = w.copy()
    infinite[:, 3] = 0.0  # a column of x @ w is 0: its gradient column is inf, with no NaN
    with np.errstate(divide="ignore"):
        got = g(infinite, x)
        _same(got, lagrad.grad(f)(infinite, x))
    assert np.isinf(got[:, 3]).all() and g.cache_info()["eager"] == before + 1  # not sent to eager
    linear = lagrad.compile(lagrad.grad(lambda w, x: lnp.sum(x @ w)), interpret=0)
    for _ in range(3):  # gradient entries of 3e200, whose squares overflow to inf, not NaN
        got = linear(w, np.full((3, 50), 1e200))
    assert np.all(got == 3e200) and linear.cache_info()["eager"] == 0
    doubled = lagrad.compile(lambda z: z * 2.0)
    for big in (np.full(4, 3e19 + 3e19j, np.complex64), np.full(4, 1e200 + 1e200j)):  # re·im overflows
        for _ in range(3):
            _same(doubled(big), big * 2.0)
    nan_part = np.array([1 + 1j, complex(1.0, np.nan)])
    _same(doubled(nan_part), nan_part * 2.0)
    assert doubled.cache_info()["eager"] == 1  # only the NaN, not the large finite values


def test_float_array_signatures_tell_shapes_and_dtypes_apart() -> None:
    f = lambda x: lnp.sum(lnp.sin(x) * x)
    g = lagrad.compile(lagrad.grad(f), interpret=0)
    calls = [np.ones(3), np.ones(3, np.float32), np.ones(4), np.ones((3, 1)), np.ones(3, np.complex128)]
    for _ in range(3):  # the second and third rounds find the signatures remembered
        for x in calls:
            got = g(x)
            _same(got, lagrad.grad(f)(x))
            assert got.dtype == x.dtype and got.shape == x.shape
    assert len(g.cache_info()["variants"]) == len(calls)


def test_the_remembered_signature_tells_other_types_of_one_shape_and_dtype_apart() -> None:
    # the fast signature is keyed by the arguments' types, shapes and dtypes: a NumPy scalar, a 0-d
    # array, a subclass and a Python float of one shape and dtype each find their own variant
    f = lambda x, y: lnp.sum(lnp.sin(x) * y)
    g = lagrad.compile(lagrad.grad(f, (0, 1)), interpret=0)
    y = np.array(3.0)
    calls = [(np.array(0.5), y), (np.float64(0.5), y), (0.5, y), (np.array(0.5).view(_Tagged), y)]
    for _ in range(3):  # the later rounds find the signatures remembered
        for x, y in calls:
            got = g(x, y)
            _same(got, lagrad.grad(f, (0, 1))(x, y))
    assert len(g.cache_info()["variants"]) >= 3


class _Tagged(np.ndarray):
    pass


def test_results_keep_their_structure_and_are_never_overwritten_by_the_next_call() -> None:
    f = lambda w, b: lnp.sum(lnp.tanh(w * 2.0 + b) ** 2)
    rng = np.random.default_rng(3)
    shapes = [(5,), (5,)]
    for transform in (
        lambda f: lagrad.grad(f, (0, 1)),  # a tuple of arrays: returned as the generated code's tuple
        lambda f: lagrad.grad(f),  # one array
        lambda f: lagrad.value_and_grad(f, (0, 1)),  # a nested tuple
        lambda f: lambda w, b: {"w": lagrad.grad(f)(w, b), "v": f(w, b)},  # a dict
    ):
        eager = transform(f)
        compiled = lagrad.compile(transform(f), interpret=0)
        first_args = [rng.standard_normal(s) for s in shapes]
        first = compiled(*first_args)
        first = compiled(*first_args)  # the generated code's answer
        kept = tree_flatten(first)[0]
        kept = [np.array(leaf, copy=True) for leaf in kept]
        _same(first, eager(*first_args))
        for _ in range(3):
            later_args = [rng.standard_normal(s) for s in shapes]
            _same(compiled(*later_args), eager(*later_args))
        for leaf, copy in zip(tree_flatten(first)[0], kept):  # no buffer of the first answer reused
            assert np.array_equal(leaf, copy)


def test_an_unhashable_static_argument_is_refused() -> None:
    g = lagrad.compile(lambda x, shape: lnp.reshape(x, shape), static_argnums=1)
    with pytest.raises(TypeError, match=r"lagrad.compile\(<lambda>\): static argument 1 is an unhashable list"):
        g(np.ones(4), [2, 2])
    assert g(np.ones(4), (2, 2)).shape == (2, 2)
    with pytest.raises(TypeError, match="neither a float array nor hashable"):
        lagrad.compile(lambda x, s: x)(np.ones(2), {1, 2})
    with pytest.raises(TypeError, match="static_argnums must be"):
        lagrad.compile(lambda x: x, static_argnums="0")
    with pytest.raises(TypeError, match="the function to compile"):
        lagrad.compile(3)


def test_a_float_argument_used_as_a_python_number_says_to_make_it_static() -> None:
    g = lagrad.compile(lambda x, n: x * int(n))
    with pytest.raises(TypeError, match="lagrad") as error:
        g(np.ones(2), 3.0)
    assert "static_argnums" in "".join(getattr(error.value, "__notes__", []))
    assert lagrad.compile(lambda x, n: x * int(n), static_argnums=1)(np.ones(2), 3.0).tolist() == [3.0, 3.0]


SCALE = np.array(2.0)


def test_global_state_is_read_once_as_documented() -> None:
    """The documented limit (as jax.jit's): an array read from outside the arguments is baked
    in at the first trace; clear_cache() (or passing it as an argument) sees the new value."""
    global SCALE
    f = lagrad.compile(lambda x: x * SCALE)
    x = np.ones(2)
    assert f(x).tolist() == [2.0, 2.0]
    SCALE = np.array(3.0)
    assert f(x).tolist() == [2.0, 2.0]  # the traced value, not the new one
    f.clear_cache()
    assert f(x).tolist() == [3.0, 3.0]
    SCALE = np.array(2.0)


def test_generated_source_is_straight_line_with_locals() -> None:
    f, x = SAMPLE["tanh_matmul"]
    text = lagrad.compile(lagrad.grad(f)).source(x)
    body = text.splitlines()[1:]
    assert text.startswith("def compiled(z1):") and all("[" not in line.split("=")[0] for line in body)
    assert "np.tanh(" in text and " @ " in text
    program = lagrad.trace(lagrad.grad(f), x)
    # tanh(z) ** 2 is recorded twice (by the function and by tanh's rule): written once
    assert sum(1 for line in body if " = " in line) < len(program.equations)


def test_pruning_and_buffer_reuse_change_no_bit() -> None:
    f, x = SAMPLE["softmax"]
    results = []
    for prune in (True, False):
        for reuse in (True, False):
            g = lagrad.compile(lagrad.value_and_grad(f), prune=prune, reuse_buffers=reuse, interpret=0)
            results += [g(x), g(x)]  # traced, then generated
    for r in results:
        _same(r, lagrad.value_and_grad(f)(x))
    for prune in (["repeated"], ["ones"], ["dead"]):
        g = lagrad.compile(lagrad.value_and_grad(f), prune=prune, interpret=0)
        g(x)
        _same(g(x), lagrad.value_and_grad(f)(x))
    with pytest.raises(ValueError, match=r"prune names \['dead_code'\]; the simplifications are"):
        lagrad.compile(f, prune=["dead_code"])


@pytest.mark.parametrize("name", ["roll_stencil", "dense", "scalar_sin"])
def test_each_rewriting_left_out_changes_no_bit(name: str) -> None:
    f, x = SAMPLE[name]
    for rewrites in [REWRITES - {r} for r in REWRITES] + [()]:
        g = lagrad.compile(lagrad.value_and_grad(f), rewrites=rewrites, interpret=0)
        g(x)
        _same(g(x), lagrad.value_and_grad(f)(x))
    with pytest.raises(ValueError, match=r"rewrites names \['fusion'\]; the rewritings are"):
        lagrad.compile(f, rewrites=["fusion"])


def test_a_python_float_is_promoted_as_in_the_function() -> None:
    # beside float64 values a Python float is traced as a float64 scalar (the same promotion);
    # beside float32 ones it is passed as given, as the function takes it (a traced float64
    # scalar made x32 * 2.0 float64, where the function gives float32)
    f = lagrad.compile(lambda x, s: x * s)
    x32 = np.ones(2, dtype=np.float32)
    for s in (2.0, 3.0):
        _same(f(x32, s), x32 * s)
        assert f(x32, s).dtype == np.float32
    _same(f(2.0, 3.0), np.float64(6.0))


def test_an_index_read_off_a_traced_value_is_checked() -> None:
    f = lambda x: x[int(lnp.argmax(x))] ** 2 + lnp.sum(x[x > 0])
    g = lagrad.compile(lagrad.grad(f))
    for x in (np.array([1.0, 3.0, -2.0]), np.array([1.5, 2.0, -1.0]), np.array([4.0, 2.0, 1.0])):
        _same(g(x), lagrad.grad(f)(x))
    info = g.cache_info()
    assert info["retraces"] == 1 and info["hits"] == 1  # argmax moved once; the mask once with it
    assert "went the other way" in info["variants"][1]["reason"]


def test_a_users_primitive_is_called_as_declared() -> None:
    @lagrad.primitive
    def cube(x):
        return float(x**3) if np.ndim(x) == 0 else x**3

    lagrad.defvjp(cube, lambda g, ans, x: 3 * g * x**2)
    f = lambda x: cube(x) * 2.0
    g = lagrad.compile(lagrad.value_and_grad(f))
    for x in (np.float64(1.5), np.float64(2.5)):
        _same(g(x), lagrad.value_and_grad(f)(x))


def _loop_by_hand(x: np.ndarray) -> float:
    u = x
    for i in range(7):
        u = u * 0.9 + 0.01 if (i % 3 == 0 and u[0] > 0) else np.sin(u) + 0.1
    return float(np.sum(u**2))


def _central_gradient(f: Any, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    return np.array([(f(x + h * e) - f(x - h * e)) / (2 * h) for e in np.eye(len(x))])


def test_a_loop_whose_path_depends_on_the_values_is_never_replayed_with_another_path():
    """The derivative through a branching fori_loop body, or a while_loop's trip count, is
    traced for one call's path, which no outer guard checks: such calls run eagerly."""

    def branchy(x):
        def body(i, u):
            if i % 3 == 0 and u[0] > 0:
                return u * 0.9 + 0.01
            return lnp.sin(u) + 0.1

        return lnp.sum(lagrad.fori_loop(0, 7, body, x) ** 2)

    def until_small(x):
        _, u = lagrad.while_loop(lambda c: lnp.sum(c[1] ** 2) > 0.5, lambda c: (c[0] + 1, c[1] * 0.8), (0, x))
        return lnp.sum(lnp.sin(u))

    x = np.random.default_rng(3).normal(size=8)
    step = lagrad.compile(lagrad.grad(branchy))
    for point in (-x, 0.1 * x, x, -x):  # the branch at i = 0, 3, 6 differs between these
        np.testing.assert_allclose(step(point), _central_gradient(_loop_by_hand, point), rtol=1e-6, atol=1e-8)
    assert step.cache_info()["eager"] == 4 and "branches on the values" in step.cache_info()["variants"][0]["outcome"]

    def until_by_hand(x):
        while np.sum(x**2) > 0.5:
            x = x * 0.8
        return float(np.sum(np.sin(x)))

    step = lagrad.compile(lagrad.grad(until_small))
    for point in (x, 0.3 * x, 2 * x):  # different trip counts
        np.testing.assert_allclose(step(point), _central_gradient(until_by_hand, point), rtol=1e-6, atol=1e-8)
    assert "trip count" in step.cache_info()["variants"][0]["outcome"]


def test_a_densenet_with_a_branch_accumulates_and_narrows_and_retraces_where_it_flips() -> None:
    """A DenseNet block (the rewritings "accumulate" and "narrow" at work) whose loss branches on
    a value: the compiled gradients equal eager's bit for bit on either side of the branch, a
    flip traces again, each variant keeps its own stacks (the first call's gradients unchanged
    by the later calls), in float64 and float32, from eight threads as from one; on one side a
    one-column head, whose outer product is summed into zeros by einsum (the rewriting "outer")."""
    for dtype in (np.float64, np.float32):
        x = rng.standard_normal((6, 4)).astype(dtype)
        ws = [(rng.standard_normal((4 + 4 * j, 4)) / 3.0).astype(dtype) for j in range(3)]
        head = rng.standard_normal((16, 1)).astype(dtype)
        head[[1, 5, 9], 0] = 0.0, -0.0, -0.0  # signed zeros in the outer product

        def loss(*ws: Any, x: Any = x, head: Any = head) -> Any:
            features = [x]
            for w in ws:
                features.append(lnp.tanh(lnp.concatenate(features, axis=1) @ w))
            total = lnp.concatenate(features, axis=1)
            return lnp.sum((total @ head) ** 2) if lnp.sum(ws[-1]) > 0 else lnp.sum(lnp.abs(total))

        grad = lagrad.grad(loss, argnums=(0, 1, 2))
        g = lagrad.compile(grad, interpret=0)
        sides = [ws, [-w for w in ws]]
        first = g(*ws)
        kept = tuple(a.copy() for a in first)
        for s in sides * 3:
            _same(g(*s), grad(*s))
        _same(first, kept)
        info = g.cache_info()
        assert (info["traces"], info["retraces"]) == (1, 1) and info["compiled"] >= 4
        assert "stack0" in g.source(*ws) and "stack0" in g.source(*sides[1])
        headed = g.source(*sides[0 if np.sum(ws[-1]) > 0 else 1])  # the side with the head
        assert "np.einsum(" in headed and "+= 0.0" not in headed
        results = calls_from_threads(lambda j: [g(*sides[(j + k) % 2]) for k in range(4)], times=1)
        expected = [grad(*s) for s in sides]
        for j in range(8):
            for k, r in enumerate(results[j][0]):
                _same(r, expected[(j + k) % 2])


# ----- a transform's run lifted into the recording: the function traced once ---------------------


def _lifted(compiled: Any) -> list[bool]:
    return [v["lifted"] for v in compiled.cache_info()["variants"]]


def test_a_lifted_gradient_records_what_tracing_at_both_levels_records() -> None:
    lifted = lagrad.compile(lagrad.grad(_branchy, (0, 1)), interpret=0)
    both = lagrad.compile(lagrad.grad(_branchy, (0, 1)), interpret=0)
    both._lift = False  # the recording as before lifting: the gradient's trace traced again
    for a in (3.7, 1.7):  # the second flips a branch: traced again, lifted again
        _same(lifted(a, 0.3), lagrad.grad(_branchy, (0, 1))(a, 0.3))
        _same(both(a, 0.3), lagrad.grad(_branchy, (0, 1))(a, 0.3))
        assert lifted.source(a, 0.3) == both.source(a, 0.3)  # the same equations, in the same order
    assert _lifted(lifted) == [True, True] and _lifted(both) == [False, False]


def _at_two_points(make: Any, eager: Any, *args: Any) -> Any:
    """A compiled `make()` and the eager `eager` at `args` and at other values of the same
    shapes: a number baked in on the first call would show on the second; fifteen calls, so
    that the compiled tier (after `interpret=10` calls) runs too."""
    compiled = make()
    for scale in (1.0, -1.7, 1.0) * 5:
        point = tuple(a * scale for a in args)
        _same(compiled(*point), eager(*point))
    return compiled


def test_a_lifted_run_after_the_recording_took_equations_is_traced_at_both_levels() -> None:
    """The differentiated function reads the compiled input itself (a branch on it): those
    operations go to the recording before the gradient's run is handed over, so the run's
    equations would number as the recording's own; the call is traced at both levels instead."""

    def f(x):
        def g(a):
            if lnp.sum(x * 3.0) > 0:  # the recording's input, captured
                return lnp.sum(lnp.sin(a) * a)
            return lnp.sum(a * a * a)

        return lagrad.grad(g)(x)

    compiled = _at_two_points(lambda: lagrad.compile(f), f, np.array([1.0, 2.0]))
    assert _lifted(compiled) == [False, False]  # both branches


def test_what_a_lifted_run_cannot_take_over_is_traced_at_both_levels() -> None:
    x = rng.standard_normal(4)

    def reads_value(w):  # lagrad.value: the number must be recomputed on every call
        return lnp.sum(w * lnp.sum(lagrad.value(w) ** 2))

    def fixed_loop(w):  # a structured loop keeps its record
        return lnp.sum(lagrad.fori_loop(0, 3, lambda i, c: lnp.sin(c) * w, w))

    def swallows(w):  # the refusal caught by the function, which goes on without the number
        try:
            s = lnp.sum(lagrad.value(w) ** 2)
        except BaseException:
            s = 1.0
        return lnp.sum(w * s)

    for f in (reads_value, fixed_loop, swallows):
        compiled = _at_two_points(lambda f=f: lagrad.compile(lagrad.grad(f)), lagrad.grad(f), x)
        assert _lifted(compiled) == [False]
    closure = lambda w: lagrad.grad(lambda v: lnp.sum(lnp.sin(v) * w))(w)  # the recording's value inside
    assert _lifted(_at_two_points(lambda: lagrad.compile(closure), closure, x)) == [False]
    part = lambda w, y: lagrad.grad(lambda v: lnp.sum(lnp.sin(v) * y))(w)  # y: an input not differentiated
    assert _lifted(_at_two_points(lambda: lagrad.compile(part), part, x, x[::-1].copy())) == [False]

    def branches_on_given(w, s):  # a branch on a given argument itself: traced as at both levels
        return lnp.sum(lnp.sin(w) * s) if s else lnp.sum(w)

    on_given = lagrad.grad(branches_on_given)
    assert _lifted(_at_two_points(lambda: lagrad.compile(on_given), on_given, x, 0.5)) == [False]


def _mlp_loss(w1: Any, w2: Any, x: Any, y: Any) -> Any:
    """A two-layer network's squared error, op by op; the branch on the data flips with its sign."""
    hidden = lnp.tanh(x @ w1)
    error = hidden @ w2 - y
    if lnp.sum(y) > 0:
        error = error * 1.5
    return lnp.mean(error**2)


def test_a_step_with_data_given_undifferentiated_is_lifted_and_reads_each_calls_data() -> None:
    """compile(value_and_grad(loss, argnums=(0, 1))) on (w1, w2, x, y): x and y are constants of
    the gradient's run, handed to the recording as its inputs, so every call's data is read (a
    first call's data baked in would show on the second); the branch on the data flips."""
    eager = lagrad.value_and_grad(_mlp_loss, argnums=(0, 1))
    step = lagrad.compile(eager)
    both = lagrad.compile(eager)
    both._lift = False  # f traced by the gradient's trace and by the recording, as before lifting
    w1, w2 = rng.standard_normal((5, 8)), rng.standard_normal((8, 1))
    for k in range(16):
        x, y = rng.standard_normal((12, 5)), rng.standard_normal((12, 1)) + (-1.0) ** (k // 4)
        _same(step(w1, w2, x, y), eager(w1, w2, x, y))
        _same(both(w1, w2, x, y), eager(w1, w2, x, y))
        w1 = w1 - 0.1 * step(w1, w2, x, y)[1][0]  # a training step: the weights move too
    assert step.source(w1, w2, x, y) == both.source(w1, w2, x, y)  # the same recording
    info = step.cache_info()
    assert info["traces"] == 1 and info["retraces"] >= 1 and info["compiled"] >= 8
    assert _lifted(step) == [True] * len(info["variants"]) and not any(_lifted(both))


def _loss_of(x: Any, w: Any, y: Any) -> Any:
    return lnp.sum(lnp.sin(x @ w) * y) + lnp.sum(w**3)


@pytest.mark.parametrize(
    "case",
    ["argnums=1", "argnums=(2, 0)", "keyword", "tree", "has_aux", "given and differentiated", "input left out",
     "jacobian"],
)  # fmt: skip
def test_a_gradient_of_some_arguments_is_lifted_and_equals_eager(case: str) -> None:
    kw = lambda w, *, x, y: _loss_of(x, w, y)
    pair = lambda w, data: _loss_of(data[0], w, data[1])
    with_aux = lambda x, w, y: (_loss_of(x, w, y), {"x": x, "h": lnp.cos(x @ w)})
    twice = lambda v: lagrad.grad(lambda a, b: lnp.sum(lnp.sin(a) * b))(v, v)  # one input given twice
    grad_then = lambda x, w, y, s: lagrad.grad(_loss_of, argnums=1)(x, w, y) * s
    made = {
        "argnums=1": (lagrad.grad(_loss_of, argnums=1), lambda f, x, w, y: f(x, w, y)),
        "argnums=(2, 0)": (lagrad.grad(_loss_of, argnums=(2, 0)), lambda f, x, w, y: f(x, w, y)),
        "keyword": (lagrad.grad(kw), lambda f, x, w, y: f(w, y=y, x=x)),
        "tree": (lagrad.grad(pair), lambda f, x, w, y: f(w, (x, y))),
        "has_aux": (lagrad.value_and_grad(with_aux, argnums=1, has_aux=True), lambda f, x, w, y: f(x, w, y)),
        "given and differentiated": (twice, lambda f, x, w, y: f(y)),
        "input left out": (grad_then, lambda f, x, w, y: f(x, w, y, np.float64(x[0, 0]))),
        "jacobian": (lagrad.jacobian(lambda x, w, y: lnp.sin(x @ w) * y, argnums=1), lambda f, x, w, y: f(x, w, y)),
    }
    eager, call = made[case]
    compiled = lagrad.compile(eager)
    both = lagrad.compile(eager)
    both._lift = False
    for _ in range(15):
        x, w, y = rng.standard_normal((3, 4)), rng.standard_normal((4, 2)), rng.standard_normal(2)
        _same(call(compiled, x, w, y), call(eager, x, w, y))
    assert call(compiled.source, x, w, y) == call(both.source, x, w, y)  # the recording as at both levels
    assert _lifted(compiled) == [True]


def test_a_transform_inside_a_lifted_run_traces_again_and_equals_eager() -> None:
    x = rng.standard_normal(3)
    f = lambda w: lnp.sum(lnp.tanh(w) * w[::-1] ** 2)
    jac = lagrad.jacobian(lambda w: lnp.sin(w) * w[::-1])
    assert _lifted(_at_two_points(lambda: lagrad.compile(jac), jac, x)) == [True]
    hessian = _at_two_points(lambda: lagrad.compile(lagrad.hessian(f)), lagrad.hessian(f), x)
    inner = lagrad.compile(lagrad.grad(f))
    outer = lambda w: lnp.sum(inner(w) ** 2)  # the inner compiled gradient runs eagerly on traced values
    twice = _at_two_points(lambda: lagrad.compile(lagrad.grad(outer)), lagrad.grad(outer), x)
    hvp = lagrad.hvp(f)
    hvps = _at_two_points(lambda: lagrad.compile(hvp), hvp, x, x[::-1].copy())
    assert _lifted(hessian) == _lifted(twice) == _lifted(hvps) == [False]
    assert hessian._lift is twice._lift is False  # refused once, not tried again
