"""ufunc methods on traced values (numpy/ufunc_methods.py): ``reduceat`` here, called as
NumPy's documentation calls it, with NumPy's value and a derivative check (outer, reduce and
accumulate are in test_more_numpy.py)."""

from __future__ import annotations

import numpy as np
import pytest

import lagrad
import lagrad.numpy as lnp
from tests.conftest import rand
from tests.helpers import check

# (name, f(m, x), shape of x): m is lagrad.numpy or numpy (NumPy's dispatch)
CASES = [
    ("add", lambda m, x: m.add.reduceat(x, [0, 4, 1, 5, 2, 6, 3, 7])[::2], (8,)),
    ("add, an index not increasing", lambda m, x: m.add.reduceat(x, [0, 3, 3, 1]), (6,)),
    ("add axis 1", lambda m, x: m.add.reduceat(x, [0, 2], axis=1), (3, 5)),
    ("add axis -2", lambda m, x: m.add.reduceat(x, [0, 1], axis=-2), (3, 2)),
    ("multiply", lambda m, x: m.multiply.reduceat(x, [0, 2, 5]), (6,)),
    ("maximum", lambda m, x: m.maximum.reduceat(x, [0, 3]), (6,)),
    ("minimum axis 0", lambda m, x: m.minimum.reduceat(x, np.array([0, 1])), (3, 2)),
    ("subtract", lambda m, x: m.subtract.reduceat(x, [0, 3]), (5,)),
    ("hypot", lambda m, x: m.hypot.reduceat(x, [1, 2]), (4,)),
    ("float indices, cast", lambda m, x: m.add.reduceat(x, [0.0, 2.5]), (4,)),
    ("no indices", lambda m, x: m.add.reduceat(x, [], axis=1), (2, 3)),
]


@pytest.mark.parametrize("name,fun,shape", CASES, ids=[c[0] for c in CASES])
def test_reduceat(name, fun, shape):
    x = rand(*shape)
    expected = fun(np, x)
    assert np.allclose(fun(lnp, x), expected)
    assert np.allclose(lagrad.value(lagrad.trace(lambda x: fun(np, x), x)(x)), expected)
    check(lambda x: fun(np, x), x)


@pytest.mark.parametrize(
    "call,error",
    [
        (lambda m, x: m.add.reduceat(x, [0, 9]), IndexError),
        (lambda m, x: m.add.reduceat(x, [0, -1]), IndexError),
        (lambda m, x: m.add.reduceat(x, [0, 1], axis=2), np.exceptions.AxisError),
        (lambda m, x: m.add.reduceat(x, [[0]]), ValueError),
    ],
)
def test_reduceat_refuses_what_numpy_refuses(call, error):
    x = rand(4, 3)
    with pytest.raises(error):
        call(np, x)
    with pytest.raises(error):
        lagrad.grad(lambda x: lnp.sum(call(np, x)))(x)
