"""Reductions: sum, mean, prod, max, min over axes, with keepdims, in both modes."""

from __future__ import annotations

import pytest

import lagrad
import lagrad.numpy as lnp
import numpy as np
from tests.conftest import rand
from tests.helpers import check

AXES = [
    ((), None),
    ((4,), None),
    ((4,), 0),
    ((3, 4), None),
    ((3, 4), 0),
    ((3, 4), -1),
    ((2, 3, 4), (0, 2)),
    ((2, 3, 4), 1),
]
REDUCTIONS = [lnp.sum, lnp.mean, lnp.prod, lnp.max, lnp.min]


@pytest.mark.parametrize("reduce", REDUCTIONS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("shape,axis", AXES, ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions(reduce, shape, axis, keepdims):
    check(lambda x: reduce(x, axis=axis, keepdims=keepdims), rand(*shape))


@pytest.mark.parametrize("name", ["sum", "mean", "prod", "max", "min"])
def test_methods_and_plain_numpy(name):
    x = rand(3, 4)
    check(lambda x: getattr(x, name)(axis=1), x)
    check(lambda x: getattr(np, name)(x, axis=0, keepdims=True), x)


def test_prod_is_exact_where_an_entry_is_zero():
    x = np.array([[2.0, 0.0, 3.0], [1.0, 4.0, 0.5]])
    g = lagrad.grad(lambda x: lnp.sum(lnp.prod(x, axis=1)))(x)
    assert np.allclose(g, [[0.0, 6.0, 0.0], [2.0, 0.5, 4.0]])
    h = lagrad.hessian(lambda v: lnp.prod(v))(np.array([2.0, 0.0, 3.0]))
    assert np.allclose(h, [[0.0, 3.0, 0.0], [3.0, 0.0, 2.0], [0.0, 2.0, 0.0]])
    check(lambda x: lnp.prod(x, axis=0), x)


def test_max_splits_ties_evenly():
    x = np.array([1.0, 3.0, 3.0, 2.0])
    assert np.array_equal(lagrad.grad(lnp.max)(x), [0.0, 0.5, 0.5, 0.0])
    assert np.array_equal(lagrad.grad(lambda x: lnp.min(x))(-x), [0.0, 0.5, 0.5, 0.0])


def test_ufunc_reduce_maps_to_the_reduction():
    x = rand(3, 4)
    check(lambda x: np.add.reduce(x, axis=1), x)
    check(lambda x: np.maximum.reduce(x, axis=0), x)
    check(lambda x: np.multiply.reduce(x), x)


def test_unsupported_keywords_are_refused():
    with pytest.raises(TypeError, match="where"):
        lagrad.grad(lambda x: lnp.sum(x, where=x > 0))(rand(3))
    with pytest.raises(TypeError, match="initial"):
        lagrad.grad(lambda x: np.max(x, initial=0.0))(rand(3))


def test_reductions_keep_only_the_shape_of_their_input():
    program = lagrad.trace(lambda x: lnp.sum(lnp.sin(x)), rand(50))
    summed = program.equations[-1]
    assert type(summed.values[1]).__name__ == "Aval"  # sum's rule reads x.shape only
