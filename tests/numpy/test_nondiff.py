"""Functions without a derivative: they evaluate on traced values as recorded equations,
a replay recomputes them, and they pass on no gradient, never an error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import lagrad
import lagrad.numpy as lnp
from lagrad.core import BranchError, Primitive
from lagrad.numpy import NONDIFF
from lagrad.numpy.nondiff import PARTLY_DIFFERENTIABLE
from lagrad.testing import check_grads
from tests.conftest import rand
from tests.helpers import check

EDGES = np.array([-0.5, 0.0, 0.5])

# name -> a call on one float array x of shape (6,) (distinct values), written with NumPy;
# each runs once on a plain array and once on a traced one, which must agree.
RECORDED: dict[str, Callable[[Any], Any]] = {
    "argmax": lambda x: np.argmax(x),
    "argmin": lambda x: np.argmin(x.reshape(2, 3), axis=1),
    "argsort": lambda x: np.argsort(x),
    "argpartition": lambda x: np.argpartition(x, 2),
    "nanargmax": lambda x: np.nanargmax(x.reshape(2, 3), axis=0),
    "nanargmin": lambda x: np.nanargmin(x),
    "isin": lambda x: np.isin(x, x[:2]),
    "argwhere": lambda x: np.argwhere(x > 0),
    "flatnonzero": lambda x: np.flatnonzero(x > 0),
    "nonzero": lambda x: np.nonzero(x.reshape(2, 3) > 0)[1],
    "count_nonzero": lambda x: np.count_nonzero(x > 0),
    "searchsorted": lambda x: np.searchsorted(EDGES, x, side="right"),
    "digitize": lambda x: np.digitize(x, EDGES, right=True),
    "bincount": lambda x: np.bincount(np.digitize(x, EDGES), minlength=5),
    "lexsort": lambda x: np.lexsort((x, x > 0)),
    "isclose": lambda x: np.isclose(x, x[0]),
    "allclose": lambda x: np.allclose(x, x + 1e-9),
    "array_equal": lambda x: np.array_equal(x, x[::-1]),
    "array_equiv": lambda x: np.array_equiv(x, x),
    "isreal": lambda x: np.isreal(x),
    "iscomplex": lambda x: np.iscomplex(x),
    "signbit": lambda x: np.signbit(x),
    "isneginf": lambda x: np.isneginf(x),
    "isposinf": lambda x: np.isposinf(x),
    "isnan": lambda x: np.isnan(x),
    "isinf": lambda x: np.isinf(x),
    "isfinite": lambda x: np.isfinite(x),
    "all": lambda x: np.all(x > -2),
    "any": lambda x: np.any(x > 0, where=x < 0.5),
    "less": lambda x: np.less(x, 0.1),
    "less_equal": lambda x: np.less_equal(x, 0.1),
    "greater": lambda x: np.greater(x, 0.1),
    "greater_equal": lambda x: np.greater_equal(x, 0.1),
    "equal": lambda x: np.equal(x, x[0]),
    "not_equal": lambda x: np.not_equal(x, x[0]),
    "logical_and": lambda x: np.logical_and(x > 0, x < 0.5),
    "logical_or": lambda x: np.logical_or(x > 0, x < -0.5),
    "logical_xor": lambda x: np.logical_xor(x > 0, x < 0.5),
    "logical_not": lambda x: np.logical_not(x > 0),
    "bitwise_and": lambda x: np.bitwise_and(x > 0, x < 0.5),
    "bitwise_or": lambda x: np.bitwise_or(x > 0, x < -0.5),
    "bitwise_xor": lambda x: np.bitwise_xor(x > 0, x < 0.5),
    "invert": lambda x: np.invert(x > 0),
    "histogram": lambda x: np.histogram(x, 3, range=(-1.0, 1.0))[0],
    "histogram_bin_edges": lambda x: np.histogram_bin_edges(x, 4, range=(-1.0, 1.0)),
    "unique": lambda x: np.unique(x, return_counts=True)[1],
    # integer-valued ufuncs (numpy/ufuncs.py)
    "gcd": lambda x: np.gcd(np.digitize(x, EDGES), 2),
    "lcm": lambda x: np.lcm(np.digitize(x, EDGES), 3),
    "left_shift": lambda x: np.left_shift(np.digitize(x, EDGES), 1),
    "right_shift": lambda x: np.right_shift(np.digitize(x, EDGES), 1),
    "bitwise_count": lambda x: np.bitwise_count(np.digitize(x, EDGES)),
    # datetimes reach isnat through astype of a traced integer array
    "isnat": lambda x: np.isnat(np.digitize(x, EDGES).astype("datetime64[D]")),
}
METHODS = {
    "argmax": lambda x: x.argmax(),
    "argmin": lambda x: x.reshape(2, 3).argmin(axis=0),
    "argsort": lambda x: x.argsort(),
    "argpartition": lambda x: x.argpartition(3),
    "nonzero": lambda x: x.nonzero()[0],
    "searchsorted": lambda x: x[np.argsort(x)].searchsorted(x, side="right"),
    "all": lambda x: (x > 0).all(axis=0),
    "any": lambda x: (x.reshape(3, 2) > 0).any(axis=1, keepdims=True),
}
# Answered from shapes and dtypes: no equation at all.
METADATA = {
    "iscomplexobj": lambda x: np.iscomplexobj(x),
    "isrealobj": lambda x: np.isrealobj(x),
    "isscalar": lambda x: lnp.isscalar(x),
    "result_type": lambda x: np.result_type(x, np.float32, 1),
    "can_cast": lambda x: np.can_cast(x, np.float32, "same_kind"),
    "shape": lambda x: np.shape(x),
    "ndim": lambda x: np.ndim(x),
    "size": lambda x: np.size(x),
    # of integer or boolean dtype; of a float array, a traced constant (test_manipulation.py)
    "zeros_like": lambda x: np.zeros_like(x, dtype=bool),
    "ones_like": lambda x: np.ones_like(x, dtype=int),
    "empty_like": lambda x: np.empty_like(x, dtype=np.int8).shape,
}


def _x() -> np.ndarray:
    return np.array([0.3, -1.2, 2.5, 0.7, 1.9, -0.1])


def _same(a: Any, b: Any) -> bool:
    a, b = lagrad.value(a), lagrad.value(b)
    return type(a) is type(b) and np.array_equal(a, b) and np.asarray(a).dtype == np.asarray(b).dtype


@pytest.mark.parametrize("calls", [RECORDED, METHODS], ids=["functions", "methods"])
def test_recorded_with_no_derivative_and_replayed(calls):
    for name, call in calls.items():
        x = _x()
        program = lagrad.trace(call, x)
        last = program.equation(program.outputs[0])
        assert last is not None and last.diff == (), name  # recorded, and no block in A
        assert np.array_equal(lagrad.value(lagrad.jvp(call, (x,), (x,))[0]), call(x)), name
        x2 = -0.5 * x[::-1]  # a replay recomputes it on new inputs
        try:
            replayed = program(x2)
        except BranchError as error:  # only where another number of entries is selected
            assert name in COUNTED and "count_nonzero" in str(error), name
            x2 = 0.5 * x[::-1]
            replayed = program(x2)
        assert np.array_equal(replayed, call(x2)), name


#: results shaped by the number of nonzero entries, remembered as a branch (`count_guarded`)
COUNTED = {"argwhere", "flatnonzero", "nonzero"}


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_contributes_zero_gradient_never_an_error(name):
    x = _x()
    call = RECORDED[name]

    def f(x):
        return lnp.sum(lnp.astype(lnp.asarray(call(x)), np.float64) * 0.5) + lnp.sum(x**2)

    assert np.array_equal(lagrad.grad(f)(x), 2 * x)
    _, tangent = lagrad.jvp(lambda x: lnp.astype(lnp.asarray(call(x)), np.float64), (x,), (np.ones_like(x),))
    assert not np.any(tangent)
    check(f, x)


def test_metadata_answers_without_an_equation():
    x = _x()
    for name, call in METADATA.items():
        program = lagrad.trace(lambda x, call=call: (x, call(x)), x)
        assert program.equations == (), name
        assert _same(call(x), lagrad.jvp(lambda x, call=call: call(x), (x,), (x,))[0]) or name == "empty_like", name
    seen = []
    lagrad.grad(lambda s: seen.append(lnp.isscalar(s)) or s)(0.5)  # a traced scalar is a scalar
    assert seen == [True]


def test_the_list_is_explicit_and_has_no_derivative():
    numpy_names = [n for n in NONDIFF if hasattr(np, n) and n not in PARTLY_DIFFERENTIABLE]
    missing = sorted(set(numpy_names) - set(RECORDED) - set(METADATA))
    assert not missing, f"add these no-derivative functions to tests/numpy/test_nondiff.py: {missing}"
    for name, f in NONDIFF.items():
        if isinstance(f, Primitive):
            assert not any(f.has_derivative(pos) for pos in range(4)), name
        else:
            assert name in METADATA, name
    assert set(METHODS) <= set(lagrad.core.registry.methods)


def test_used_as_indices_the_selection_is_differentiable():
    x = _x()
    check(lambda x: x[np.argsort(x)] * np.arange(6.0), x)
    check(lambda x: x[np.argmax(x)] * x - x[x.argmin()], x)
    check(lambda x: x[np.searchsorted(x[np.argsort(x)], x)] ** 2, x)


def test_allclose_is_a_traced_boolean_and_its_branch_is_checked_on_replay():
    def f(x):
        return x * 2.0 if np.allclose(x, 0.0, atol=1.0) else x * 3.0

    x = np.array([0.1, -0.2])
    program = lagrad.trace(f, x)
    assert np.array_equal(program(x / 2), f(x / 2))
    with pytest.raises(BranchError):
        program(x * 10)
    assert np.array_equal(lagrad.grad(lambda x: lnp.sum(f(x)))(x), [2.0, 2.0])


def test_where_in_all_and_any_counts_only_the_chosen_entries():
    x = _x()
    for fun in (np.all, np.any):
        for where in (x > 0, x < 1.0):
            got = lagrad.jvp(lambda x, fun=fun, where=where: fun(x > 0.2, where=where), (x,), (x,))[0]
            assert _same(got, fun(x > 0.2, where=where))
    with pytest.raises(TypeError, match="out"):
        lagrad.grad(lambda x: lnp.sum(x) * np.all(x > 0, out=np.empty((), bool)))(x)


def test_lexsort_with_a_2d_array_of_keys():
    keys = np.array([[0.3, 0.1, 0.3, 0.2], [1.0, 1.0, 0.0, 0.0]])
    assert np.array_equal(lagrad.jvp(np.lexsort, (keys,), (keys,))[0], np.lexsort(keys))


# ----- the functions with a part that has a derivative ---------------------------------


def test_bincount_is_linear_in_the_weights():
    i = np.array([0, 2, 2, 1, 0, 4])
    w = rand(6)
    assert np.array_equal(lagrad.jvp(lambda w: np.bincount(i, weights=w), (w,), (w,))[0], np.bincount(i, weights=w))
    check(lambda w: np.bincount(i, weights=w**2, minlength=7), w)
    assert np.array_equal(lagrad.grad(lambda w: lnp.sum(np.bincount(i, w)[2]))(w), (i == 2).astype(float))
    f32 = lagrad.jvp(lambda w: np.bincount(i, weights=w), (w.astype(np.float32),), (w.astype(np.float32),))[0]
    assert f32.dtype == np.bincount(i, weights=w.astype(np.float32)).dtype
    x = _x()
    check(lambda x, w: np.bincount(np.digitize(x, EDGES), weights=w), x, w)  # traced indices too
    with pytest.raises(ValueError, match="negative"):
        lagrad.grad(lambda w: lnp.sum(np.bincount(i - 1, weights=w)))(w)
    with pytest.raises(TypeError, match="complex"):
        lagrad.jvp(lambda w: np.bincount(i, weights=w), (w + 0j,), (w + 0j,))


def test_a_bincount_replay_checks_the_length():
    def f(x):
        return np.bincount(np.digitize(x, EDGES), weights=x)

    x = np.array([-0.7, 0.2, -0.3])  # bins 0, 2, 1
    program = lagrad.trace(f, x)
    assert np.array_equal(program(x[::-1]), f(x[::-1]))
    with pytest.raises(BranchError):
        program(np.array([-0.7, 0.9, -0.3]))  # bin 3: a longer result, so trace again


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"bins": 4}, {"bins": "auto"}, {"range": (-1.0, 2.0)}, {"bins": EDGES}, {"density": True}],
    ids=str,
)
def test_histogram_values_match_numpy(kwargs):
    x = _x()
    for dtype in (np.float64, np.float32):
        xd = x.astype(dtype)
        counts, edges = lagrad.jvp(lambda x: np.histogram(x, **kwargs), (xd,), (xd,))[0]
        ref_counts, ref_edges = np.histogram(xd, **kwargs)
        assert _same(counts, ref_counts) and _same(edges, ref_edges)
        assert _same(
            lagrad.jvp(lambda x: np.histogram_bin_edges(x, kwargs.get("bins", 10), kwargs.get("range")), (xd,), (xd,))[
                0
            ],
            np.histogram_bin_edges(xd, kwargs.get("bins", 10), kwargs.get("range")),
        )


def test_histogram_edges_from_the_data_move_with_it():
    x = _x()
    check(lambda x: np.histogram(x, 4)[1], x)  # edges: min(x) + k (max(x) - min(x)) / 4
    lo, hi = np.argmin(x), np.argmax(x)
    jac = lagrad.jacobian(lambda x: np.histogram_bin_edges(x, 4))(x)
    k = np.arange(5) / 4
    expected = np.zeros((5, 6))
    expected[:, lo], expected[:, hi] = 1 - k, k
    assert np.allclose(jac, expected)
    # with range= the edges are constants, and so is a density's scale
    assert not np.any(lagrad.jacobian(lambda x: np.histogram(x, 3, range=(-2, 3), density=True)[0])(x))
    same = np.array([0.5, 0.5, 0.5])  # min == max: NumPy widens the range by 0.5 each side
    assert _same(lagrad.jvp(lambda x: np.histogram(x, 2)[1], (same,), (same,))[0], np.histogram(same, 2)[1])


def test_histogram_is_linear_in_the_weights():
    x, w = _x(), rand(6)
    for kwargs in ({}, {"bins": EDGES}, {"density": True}, {"range": (-1.0, 1.0)}):
        got = lagrad.jvp(lambda w, kwargs=kwargs: np.histogram(x, weights=w, **kwargs), (w,), (w,))[0]
        ref = np.histogram(x, weights=w, **kwargs)
        assert np.allclose(got[0], ref[0], rtol=1e-13) and _same(got[1], ref[1])
        check(lambda x, w, kwargs=kwargs: np.histogram(x, weights=w**2, **kwargs)[0], x, w)
    check(lambda x, w: np.histogram(x, 3, weights=w, density=True)[0], x, w)
    with pytest.raises(ValueError, match="weights"):
        lagrad.jvp(lambda w: np.histogram(x, weights=w[:3]), (w,), (w,))


def test_histogram_with_traced_edges_returns_them():
    x = _x()
    edges = np.array([-2.0, 0.0, 0.5, 3.0])
    check(lambda x, e: np.histogram(x, e)[1] * np.histogram(x, e, density=True)[0].sum(), x, edges)


def test_unique_values_are_a_selection():
    x = np.array([0.3, -1.2, 0.3, 0.7, -1.2, 2.0])
    plain = np.unique(x, return_index=True, return_inverse=True, return_counts=True)
    traced = lagrad.jvp(lambda x: np.unique(x, True, True, True), (x,), (x,))[0]
    assert all(_same(a, b) for a, b in zip(traced, plain))
    # the derivative of each value reaches its first occurrence
    assert np.array_equal(lagrad.grad(lambda x: lnp.sum(np.unique(x) * np.arange(4.0)))(x), [1, 0, 0, 2, 0, 3])
    check(lambda x: np.unique(x.reshape(3, 2), axis=0) ** 2, rand(6))
    check(lambda x: np.unique(x.reshape(2, 3), axis=1) ** 2, rand(6))
    for name in ("unique_all", "unique_counts", "unique_inverse"):
        fun = getattr(np, name)
        got, ref = lagrad.jvp(fun, (x,), (x,))[0], fun(x)
        assert got._fields == ref._fields and all(_same(a, b) for a, b in zip(got, ref)), name
    assert _same(lagrad.jvp(np.unique_values, (x,), (x,))[0], np.sort(np.unique_values(x)))
    check_grads(lambda x: np.unique_all(x).values * np.unique_counts(x).counts, _x())  # no ties: differentiable


def test_integer_valued_output_is_not_differentiable():
    for fun in (np.argmax, lambda x: np.searchsorted(EDGES, x), lambda x: np.isclose(x, 0.0)):
        with pytest.raises(TypeError, match="which has no derivative"):
            lagrad.grad(lambda x, fun=fun: lnp.sum(fun(x)))(_x())
