"""Indexing: basic and advanced indices, boolean masks, traced indices, functional updates."""

from __future__ import annotations

import pytest

import lagrad
import lagrad.numpy as lnp
import numpy as np
from tests.conftest import rand
from tests.helpers import check

INDICES = [
    ("int", (3,), lambda x: x[1]),
    ("negative int", (4,), lambda x: x[-1]),
    ("slice", (5,), lambda x: x[1:4]),
    ("step", (6,), lambda x: x[::2]),
    ("reverse", (4,), lambda x: x[::-1]),
    ("row", (3, 4), lambda x: x[1]),
    ("column", (3, 4), lambda x: x[:, 2]),
    ("block", (3, 4), lambda x: x[1:, :3]),
    ("ellipsis", (2, 3, 4), lambda x: x[..., 1]),
    ("newaxis", (3,), lambda x: x[None, :, None]),
    ("int array", (5,), lambda x: x[np.array([0, 2, 2, 4])]),
    ("list", (3, 4), lambda x: x[[2, 0, 2]]),
    ("two arrays", (3, 4), lambda x: x[np.array([0, 1, 2]), np.array([3, 3, 0])]),
    ("mixed", (3, 4), lambda x: x[1:, [0, 0, 3]]),
    ("mask", (3, 4), lambda x: x[np.array([[True, False, True, False]] * 3)]),
    ("row mask", (3, 4), lambda x: x[np.array([True, False, True])]),
    ("scalar in 0-d", (), lambda x: x[()]),
]


@pytest.mark.parametrize("name,shape,fun", INDICES, ids=[c[0] for c in INDICES])
def test_indexing(name, shape, fun):
    check(fun, rand(*shape))


def test_repeated_integer_index_adds_up():
    g = lagrad.grad(lambda x: lnp.sum(x[np.array([0, 0, 0, 2])]))(np.zeros(3))
    assert np.array_equal(g, [3.0, 0.0, 1.0])


def test_traced_mask_and_traced_integer_index():
    x = rand(6)
    check(lambda x: lnp.sum(x[x > 0.0] ** 2), x)
    program = lagrad.trace(lambda x: x[x > 0.0], x)
    assert [eq.primitive.name for eq in program.equations] == ["greater", "getitem"]
    i = np.array([1, 3])
    check(lambda x, i: x[i] * 2.0, x, i)


def test_iteration_and_unpacking():
    check(lambda x: lnp.stack([a * b for a, b in zip(x, x[::-1])]), rand(4))
    check(lambda x: (lambda a, b: a * b)(*x), rand(2, 3))


def test_at_set_and_add():
    x = rand(5)
    check(lambda x: lnp.at(x)[1:3].set(x[:2] ** 2), x)
    check(lambda x, v: lnp.at(x)[np.array([0, 4, 0])].add(v), x, rand(3))
    check(lambda x, v: lnp.at(x)[2].set(v), x, np.float64(0.3))
    check(lambda x: lnp.at(x)[0].set(7.0) * x, x)
    g = lagrad.grad(lambda x: lnp.sum(x.at[0].set(x[1] * 3.0)))(x)  # the method, on a traced array
    assert np.array_equal(g, [0.0, 4.0, 1.0, 1.0, 1.0])
    plain = np.arange(3.0)
    assert np.array_equal(lnp.at(plain)[1].set(9.0), [0.0, 9.0, 2.0])
    assert np.array_equal(plain, [0.0, 1.0, 2.0])


def test_in_place_write_is_refused():
    def f(x):
        x[0] = 1.0
        return lnp.sum(x)

    with pytest.raises(TypeError, match=r"in-place write .*at\[index\]\.set"):
        lagrad.grad(f)(rand(3))


@pytest.mark.parametrize("where", [slice(0, 3), 0])
def test_writing_a_traced_value_into_a_numpy_array_is_refused(where):
    def f(x):
        out = np.zeros(3)
        out[where] = x[where]
        return lnp.sum(out)

    # NumPy re-raises an element's error as a ValueError; lagrad's message is its cause
    with pytest.raises((TypeError, ValueError)) as info:
        lagrad.grad(f)(rand(3))
    messages = f"{info.value} {info.value.__cause__}"
    assert "derivative" in messages and "lagrad" in messages
