"""matmul, dot, tensordot, einsum: every shape combination NumPy allows."""

from __future__ import annotations

import pytest

import lagrad.numpy as lnp
import numpy as np
from tests.conftest import rand
from tests.helpers import check

MATMUL = [
    ((3,), (3,)),
    ((2, 3), (3,)),
    ((3,), (3, 4)),
    ((2, 3), (3, 4)),
    ((5, 2, 3), (3, 4)),
    ((2, 3), (5, 3, 4)),
    ((5, 1, 2, 3), (4, 3, 2)),
    ((3,), (5, 3, 2)),
    ((5, 2, 3), (3,)),
]


@pytest.mark.parametrize("shapes", MATMUL, ids=str)
def test_matmul(shapes):
    check(lambda x, y: x @ y, rand(*shapes[0]), rand(*shapes[1]))
    check(lambda x, y: lnp.matmul(x, y), rand(*shapes[0]), rand(*shapes[1]))


@pytest.mark.parametrize(
    "shapes",
    [((), (3,)), ((3,), (3,)), ((2, 3), (3,)), ((2, 3), (3, 4)), ((2, 3), (4, 3, 5)), ((2, 2, 3), (4, 3, 1))],
    ids=str,
)
def test_dot(shapes):
    x, y = rand(*shapes[0]), rand(*shapes[1])
    assert np.allclose(lnp.dot(x, y), np.dot(x, y))
    check(lambda x, y: lnp.dot(x, y), x, y)
    if x.ndim:
        check(lambda x, y: x.dot(y), x, y)


@pytest.mark.parametrize(
    "shapes,axes",
    [
        (((3, 4), (4, 5)), 1),
        (((2, 3, 4), (3, 4, 5)), 2),
        (((3, 4), (3, 4)), 2),
        (((2, 3, 4), (4, 2)), ([0, 2], [1, 0])),
        (((3,), (2,)), 0),
    ],
    ids=str,
)
def test_tensordot(shapes, axes):
    x, y = rand(*shapes[0]), rand(*shapes[1])
    assert np.allclose(lnp.tensordot(x, y, axes), np.tensordot(x, y, axes))
    check(lambda x, y: lnp.tensordot(x, y, axes), x, y)


EINSUM = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij,jk", [(2, 3), (3, 4)]),
    ("i,i->", [(3,), (3,)]),
    ("i,j->ij", [(3,), (2,)]),
    ("ij->ji", [(2, 3)]),
    ("ij->", [(2, 3)]),
    ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]),
    ("ij,j->j", [(2, 3), (3,)]),
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)]),
    ("...ij,...jk->...ik", [(2, 1, 2, 3), (4, 3, 2)]),
    ("i...,i->...", [(3, 2), (3,)]),
    ("ij,ij,ij->i", [(2, 3), (2, 3), (1, 3)]),
    ("ijk,k->ij", [(2, 3, 2), (2,)]),
]


@pytest.mark.parametrize("subscripts,shapes", EINSUM, ids=[e[0] for e in EINSUM])
def test_einsum(subscripts, shapes):
    ops = [rand(*s) for s in shapes]
    assert np.allclose(lnp.einsum(subscripts, *ops), np.einsum(subscripts, *ops))
    check(lambda *ops: lnp.einsum(subscripts, *ops), *ops)
    check(lambda *ops: np.einsum(subscripts, *ops), *ops, order=1)
