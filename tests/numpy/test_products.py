"""matmul, dot, tensordot, einsum: every shape combination NumPy allows; outer, inner, vdot, kron,
cross, vecdot, matvec, vecmat, convolve, correlate, trapezoid."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import lagrad
import lagrad.numpy as lnp
from tests.conftest import rand
from tests.helpers import check
from tests.numpy.test_manipulation import both, traced_value

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
    check(lambda *ops: np.einsum(subscripts, *ops), *ops, order=1)  # order 1: the rules checked to order 2 above


# ----- the NumPy products built on the ones above, written once for both modules -------------------

PRODUCTS = [
    ("outer", lambda m, x, y: m.outer(x, y), (3,), (2,)),
    ("outer flattens", lambda m, x, y: m.outer(x, y), (2, 2), (3,)),
    ("outer scalar", lambda m, x, y: m.outer(x, y), (), (2,)),
    ("inner", lambda m, x, y: m.inner(x, y), (3,), (3,)),
    ("inner matrices", lambda m, x, y: m.inner(x, y), (2, 3), (4, 3)),
    ("inner 3-d", lambda m, x, y: m.inner(x, y), (2, 2, 3), (3,)),
    ("inner scalar", lambda m, x, y: m.inner(x, y), (), (2, 3)),
    ("vdot", lambda m, x, y: m.vdot(x, y), (3,), (3,)),
    ("vdot flattens", lambda m, x, y: m.vdot(x, y), (2, 3), (3, 2)),
    ("kron", lambda m, x, y: m.kron(x, y), (2,), (3,)),
    ("kron matrices", lambda m, x, y: m.kron(x, y), (2, 2), (2, 3)),
    ("kron mixed", lambda m, x, y: m.kron(x, y), (2,), (3, 2)),
    ("kron 3-d", lambda m, x, y: m.kron(x, y), (2, 1, 2), (2, 2)),
    ("kron scalar", lambda m, x, y: m.kron(x, y), (), (2, 2)),
    ("cross", lambda m, x, y: m.cross(x, y), (3,), (3,)),
    ("cross batch", lambda m, x, y: m.cross(x, y), (4, 3), (3,)),
    ("cross 2-d and 3-d", lambda m, x, y: m.cross(x, y), (2, 2), (2, 3)),
    ("cross 3-d and 2-d", lambda m, x, y: m.cross(x, y), (3,), (2,)),
    ("cross axes", lambda m, x, y: m.cross(x, y, axisa=0, axisb=1, axisc=0), (3, 2), (2, 3)),
    ("cross axis", lambda m, x, y: m.cross(x, y, axis=0), (3, 2), (3, 2)),
    ("vecdot", lambda m, x, y: m.vecdot(x, y), (2, 3), (3,)),
    ("matvec", lambda m, x, y: m.matvec(x, y), (2, 2, 3), (3,)),
    ("vecmat", lambda m, x, y: m.vecmat(x, y), (2,), (2, 2, 3)),
    ("trapezoid", lambda m, y, x: m.trapezoid(y), (4,), ()),
    ("trapezoid dx", lambda m, y, x: m.trapezoid(y, dx=x, axis=0), (3, 2), ()),
    ("trapezoid x", lambda m, y, x: m.trapezoid(y, np.arange(3.0) + 0.25 * x), (2, 3), (3,)),
    ("trapezoid x axis", lambda m, y, x: m.trapezoid(y, x, axis=0), (3, 2), (3, 2)),
    ("trapezoid 3-d", lambda m, y, x: m.trapezoid(y, x, axis=1), (2, 3, 2), (3,)),
]


@pytest.mark.parametrize("name,fun,xshape,yshape", PRODUCTS, ids=[c[0] for c in PRODUCTS])
def test_product(name, fun, xshape, yshape):
    with warnings.catch_warnings():
        if "2-d" in name:  # cross products of 2-vectors are deprecated by NumPy 2 (and by lagrad)
            warnings.simplefilter("ignore", DeprecationWarning)
        both(fun, rand(*xshape), rand(*yshape))


def test_cross_of_2_vectors_warns_as_numpy_does():
    with pytest.warns(DeprecationWarning, match="2-dimensional vectors"):
        lagrad.grad(lambda x: lnp.sum(lnp.cross(x[:2], x)))(rand(3))


def test_vecdot_along_an_axis():
    # lagrad.numpy only: NumPy's dispatch of ufunc keywords (axis=) to traced values is the core's
    x, y = rand(3, 2), rand(3, 2)
    assert np.allclose(traced_value(lambda x, y: lnp.vecdot(x, y, axis=0), x, y), np.vecdot(x, y, axis=0))
    check(lambda x, y: lnp.vecdot(x, y, axis=0), x, y)


def test_products_of_complex_arrays():
    x, y = rand(3) + 1j * rand(3), rand(3) - 0.5j * rand(3)
    assert np.isclose(lnp.vdot(x, y), np.vdot(x, y))  # conjugates its first argument
    both(lambda m, x, y: m.vdot(x, y), x, y)
    both(lambda m, x, y: m.vecdot(x, y), x, y)
    both(lambda m, x, y: m.correlate(x, y, "full"), x, y)


CONVOLUTIONS = [
    (n, m, mode) for n, m in [(4, 2), (2, 4), (3, 3), (4, 5), (1, 3), (3, 1)] for mode in ("full", "same", "valid")
]


@pytest.mark.parametrize("n,m,mode", CONVOLUTIONS, ids=str)
def test_convolve_and_correlate(n, m, mode):
    a, v = rand(n), rand(m)
    both(lambda mod, a, v: mod.convolve(a, v, mode), a, v)
    both(lambda mod, a, v: mod.correlate(a, v, mode), a, v)


def test_convolve_of_a_scalar_and_a_constant_kernel():
    kernel = np.array([0.25, 0.5, 0.25])
    both(lambda m, a: m.convolve(a, kernel, "same"), rand(5))
    both(lambda m, a: m.convolve(a, kernel), rand())


def test_convolution_transposes_are_convolutions():
    a, v = rand(4), rand(3)
    program = lagrad.trace(lambda a, v: lagrad.vjp(lambda a, v: lnp.convolve(a, v, "same"), a, v)[1](a), a, v)
    assert {eq.primitive.name for eq in program.equations} <= {"convolve", "pad", "getitem"}


@pytest.mark.parametrize(
    "fun,message",
    [
        (lambda x: lnp.convolve(x, lnp.reshape(x, (3, 1))), r"convolve: the arrays must be 1-d"),
        (lambda x: lnp.convolve(x, x[:0]), r"cannot be empty"),
        (lambda x: lnp.correlate(x, x, mode="circular"), r"mode must be"),
        (lambda x: lnp.cross(x[:1], x), r"dimension must be 2 or 3"),
        (lambda x: lnp.outer(x, x, out=np.zeros((3, 3))), r"out= is not supported"),
    ],
)
def test_clear_errors(fun, message):
    with pytest.raises((TypeError, ValueError), match=message):
        lagrad.grad(lambda x: lnp.sum(fun(x)))(rand(3))


MATMUL_SHAPES = [((3, 4), (4, 2)), ((1, 4), (4, 1)), ((0, 3), (3, 2)), ((3, 4), (4,)), ((4,), (4, 2))]


@pytest.mark.parametrize("xs, ys", MATMUL_SHAPES)
def test_matmul_of_matrices_and_vectors(xs, ys):
    """Two matrices take the rule's direct path; a vector factor the promoted one (both checked)."""
    check(lambda x, y: lnp.matmul(x, y), rand(*xs), rand(*ys))
