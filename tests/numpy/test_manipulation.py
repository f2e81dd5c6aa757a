"""Shape functions: reshape, transpose, broadcast, join, roll, astype."""

from __future__ import annotations

import pytest

import lagrad
import lagrad.numpy as lnp
import numpy as np
from tests.conftest import rand
from tests.helpers import check

CASES = [
    ("reshape", lambda x: lnp.reshape(x, (4, 3)), (3, 4)),
    ("reshape -1", lambda x: lnp.reshape(x, (2, -1)), (3, 4)),
    ("reshape method", lambda x: x.reshape(12), (3, 4)),
    ("reshape scalar", lambda x: lnp.reshape(x, (1, 1)), ()),
    ("ravel", lambda x: lnp.ravel(x), (3, 4)),
    ("flatten", lambda x: x.flatten(), (2, 3)),
    ("transpose", lambda x: lnp.transpose(x), (3, 4)),
    ("transpose axes", lambda x: lnp.transpose(x, (1, 2, 0)), (2, 3, 4)),
    ("T", lambda x: x.T, (3, 4)),
    ("swapaxes", lambda x: lnp.swapaxes(x, 0, 2), (2, 3, 4)),
    ("moveaxis", lambda x: lnp.moveaxis(x, 0, -1), (2, 3, 4)),
    ("moveaxis pairs", lambda x: lnp.moveaxis(x, (0, 1), (2, 0)), (2, 3, 4)),
    ("expand_dims", lambda x: lnp.expand_dims(x, 1), (3, 4)),
    ("expand_dims scalar", lambda x: lnp.expand_dims(x, 0), ()),
    ("squeeze", lambda x: lnp.squeeze(x), (3, 1, 4)),
    ("squeeze axis", lambda x: lnp.squeeze(x, axis=1), (3, 1, 1)),
    ("broadcast_to", lambda x: lnp.broadcast_to(x, (2, 3, 4)), (3, 1)),
    ("broadcast_to scalar", lambda x: lnp.broadcast_to(x, (3,)), ()),
    ("roll", lambda x: lnp.roll(x, 1), (5,)),
    ("roll axis", lambda x: lnp.roll(x, -2, axis=1), (3, 4)),
    ("roll flat", lambda x: lnp.roll(x, 5), (3, 4)),
    ("roll several", lambda x: lnp.roll(x, (1, -1), axis=(0, 1)), (3, 4)),
    ("concatenate", lambda x: lnp.concatenate([x, 2 * x, x**2], axis=0), (3, 4)),
    ("concatenate axis 1", lambda x: lnp.concatenate([x, x[:, :2]], axis=1), (3, 4)),
    ("concatenate None", lambda x: lnp.concatenate([x, x], axis=None), (3, 4)),
    ("stack", lambda x: lnp.stack([x, lnp.sin(x)]), (3,)),
    ("stack axis", lambda x: lnp.stack([x, x**2, x], axis=-1), (2, 3)),
    ("stack scalars", lambda x: lnp.stack([x, x * x]), ()),
]


@pytest.mark.parametrize("name,fun,shape", CASES, ids=[c[0] for c in CASES])
def test_manipulation(name, fun, shape):
    check(fun, rand(*shape))


def test_join_with_constants():
    c = rand(2, 4)
    check(lambda x: lnp.concatenate([c, x, c], axis=0), rand(3, 4))
    check(lambda x: lnp.stack([c[0], x]), rand(4))


def test_plain_numpy_shape_functions():
    x = rand(2, 3)
    check(lambda x: np.concatenate([np.reshape(x, (3, 2)), np.transpose(x)], axis=1), x)
    check(lambda x: np.stack([np.roll(x, 1, axis=1), np.moveaxis(x, 0, 1).T]), x)
    assert lagrad.grad(lambda x: np.shape(x)[0] * np.sum(x))(x).shape == (2, 3)


def test_astype_between_floats():
    x = rand(3)
    g = lagrad.grad(lambda x: lnp.sum(lnp.astype(x, np.float32) * 2.0))(x)
    assert g.dtype == np.float64 and np.array_equal(g, [2.0, 2.0, 2.0])


def test_astype_to_integer_stops_the_derivative():
    x = np.array([0.4, 1.6, 2.2])
    g = lagrad.grad(lambda x: lnp.sum(x.astype(np.int64) * x))(x)
    assert np.array_equal(g, [0.0, 1.0, 2.0])


def test_shape_queries_record_nothing():
    program = lagrad.trace(lambda x: x + lnp.ones_like(x) * lnp.size(x) + lnp.ndim(x) * lnp.shape(x)[0], rand(2, 2))
    assert [eq.primitive.name for eq in program.equations] == ["add", "add"]  # the rest is constant
