"""What NumPy reads as an array, lagrad reads as one: lists and tuples as the constant side
of a product (issue 16, item 6), lists of traced values (item 8), and integer or boolean
indices computed from traced values, which carry no derivative (item 7). What NumPy
refuses, lagrad refuses with the same class of exception (issue 14)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import lagrad
import lagrad.numpy as lnp
from tests.conftest import rand
from tests.helpers import check

C = [1.0, -2.0, 0.5]
M = [[1.0, 2.0, 0.0], [0.5, -1.0, 3.0], [2.0, 0.0, 1.0]]

# (name, f(m, x)) for m = lagrad.numpy and numpy: a list constant on either side
CONSTANT_LISTS = [
    ("dot", lambda m, x: m.dot(C, x)),
    ("dot right", lambda m, x: m.dot(x, C)),
    ("@", lambda m, x: C @ x),
    ("@ right", lambda m, x: x @ M),
    ("matmul", lambda m, x: m.matmul(M, x)),
    ("inner", lambda m, x: m.inner(C, x)),
    ("vdot", lambda m, x: m.vdot(C, x)),
    ("tensordot", lambda m, x: m.tensordot(M, x, 1)),
    ("cross", lambda m, x: m.cross(C, x)),
    ("matvec", lambda m, x: m.matvec(M, x)),
    ("vecmat", lambda m, x: m.vecmat(C, m.outer(x, x))),
    ("vecdot", lambda m, x: m.vecdot(C, x)),
    ("multi_dot", lambda m, x: m.linalg.multi_dot([M, M, x])),
    ("outer", lambda m, x: m.outer(C, x)),
    ("kron", lambda m, x: m.kron(C, x)),
    ("einsum", lambda m, x: m.einsum("ij,j", M, x)),
    ("convolve", lambda m, x: m.convolve(C, x)),
    ("correlate", lambda m, x: m.correlate(x, C, "full")),
    ("trapezoid", lambda m, x: m.trapezoid(x, C)),
    ("add", lambda m, x: m.add(C, x)),
    ("maximum", lambda m, x: m.maximum(C, x)),
    ("where", lambda m, x: m.where([True, False, True], x, C)),
    ("solve", lambda m, x: m.linalg.solve(M, x)),
    ("concatenate", lambda m, x: m.concatenate([C, x])),
    ("stack", lambda m, x: m.stack([C, x])),
    ("interp", lambda m, x: m.interp(x, [-3.0, 0.0, 3.0], C)),
]


@pytest.mark.parametrize("name,fun", CONSTANT_LISTS, ids=[c[0] for c in CONSTANT_LISTS])
def test_a_list_as_the_constant_side(name, fun):
    x = rand(3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # cross of 2-vectors, as NumPy
        expected = fun(np, x)
        for m in (lnp, np):
            got = lagrad.vjp(lambda x: fun(m, x), x)[0]
            assert np.allclose(lagrad.value(got), expected)
        check(lambda x: fun(lnp, x), x)


# (name, f(a, b, c)) on traced scalars: every function NumPy gives a list to
LISTS_OF_TRACED = [
    ("mean", lambda a, b, c: lnp.mean([a, b, c])),
    ("sum", lambda a, b, c: lnp.sum([[a, b], [c, a]], axis=0)),
    ("prod", lambda a, b, c: lnp.prod((a, b, c))),
    ("max", lambda a, b, c: lnp.max([a, b * 2.0, c])),
    ("std", lambda a, b, c: lnp.std([a, b, c])),
    ("var", lambda a, b, c: lnp.var([a, 1.0, c])),
    ("nanmean", lambda a, b, c: lnp.nanmean([a, b, c])),
    ("average", lambda a, b, c: lnp.average([a, b, c], weights=[1.0, 2.0, 3.0])),
    ("exp", lambda a, b, c: lnp.exp([a, b])),
    ("add", lambda a, b, c: lnp.add([a, b], [c, 1.0])),
    ("dot", lambda a, b, c: lnp.dot([a, b], [c, 2.0])),
    ("matmul", lambda a, b, c: lnp.matmul([[a, b], [c, a]], [1.0, 2.0])),
    ("linalg.norm", lambda a, b, c: lnp.linalg.norm([a, b, c])),
    ("linalg.det", lambda a, b, c: lnp.linalg.det([[a, b], [c, 2.0]])),
    ("cumsum", lambda a, b, c: lnp.cumsum([a, b, c])),
    ("diff", lambda a, b, c: lnp.diff([a, b, c])),
    ("sort", lambda a, b, c: lnp.sort([a, b, c])),
    ("reshape", lambda a, b, c: lnp.reshape([a, b, c, a], (2, 2))),
    ("array", lambda a, b, c: lnp.array([[a, b], [c, 1.0]])),
    ("asarray", lambda a, b, c: lnp.asarray((a, b, c))),
    ("concatenate", lambda a, b, c: lnp.concatenate([[a, b], [c]])),
    ("where", lambda a, b, c: lnp.where([True, False], [a, b], c)),
    ("clip", lambda a, b, c: lnp.clip([a, b, c], -0.5, 0.5)),
    ("trapezoid", lambda a, b, c: lnp.trapezoid([a, b, c])),
    ("interp", lambda a, b, c: lnp.interp(0.3, [0.0, 1.0], [a, b])),
    ("pad", lambda a, b, c: lnp.pad([a, b, c], 1, mode="linear_ramp")),
]


@pytest.mark.parametrize("name,fun", LISTS_OF_TRACED, ids=[c[0] for c in LISTS_OF_TRACED])
def test_lists_of_traced_values(name, fun):
    args = (0.3, -0.7, 1.1)
    plain = fun(*args)  # lagrad.numpy on plain numbers is NumPy
    traced = lagrad.vjp(fun, *args)[0]
    assert np.allclose(lagrad.value(traced), plain)
    check(fun, *args)


def test_a_list_of_traced_values_in_plain_numpy_names_the_fix():
    """NumPy does not look inside a list, so numpy.mean([a, b]) cannot reach lagrad: the
    error says to call lagrad.numpy's function instead."""
    with pytest.raises(TypeError, match=r"lagrad\.numpy's function of the same name"):
        lagrad.grad(lambda a, b: np.mean([a, b]))(1.0, 2.0)


# ----- indices computed from traced values are constants of the derivative ------------------------

KX = np.array([0.0, 0.5, 1.5, 3.0])
W = np.array([1.0, -2.0, 0.5, 4.0])

INDEXED_CONSTANTS = [
    ("searchsorted index", lambda q: KX[np.searchsorted(KX, q)] * q),
    ("take", lambda q: np.take(KX, np.searchsorted(KX, q)) * q**2),
    ("take method", lambda q: W.take(np.argmin(np.abs(KX - q))) * q),
    ("boolean mask", lambda q: np.sum(W[q < KX]) * q),
    ("lagrad.numpy.asarray", lambda q: lnp.asarray(KX)[np.searchsorted(KX, q)] * q),
    ("integer array", lambda q: np.sum(W[np.argsort(KX * q)[:2]]) * q),
    ("index of a list", lambda q: np.array([1.0, 2.0, 3.0])[lnp.floor(q).astype(int)] * q),
    ("digitize", lambda q: W[np.digitize(q, KX)] * q),
    ("choose", lambda q: np.choose(np.searchsorted(KX, q), W) * q),
    ("compress", lambda q: np.sum(np.compress(q < KX, W)) * q),
    ("nonzero", lambda q: np.sum(W[np.nonzero(q < KX)]) * q),
    ("where one argument", lambda q: np.sum(W[np.where(q > KX)[0]]) * q),
    ("extract", lambda q: np.sum(np.extract(q < KX, W)) * q),
]


@pytest.mark.parametrize("name,fun", INDEXED_CONSTANTS, ids=[c[0] for c in INDEXED_CONSTANTS])
def test_a_constant_indexed_by_a_traced_index(name, fun):
    q = 1.2
    check(fun, q, order=1)
    assert np.isclose(lagrad.grad(fun)(q), (fun(q + 1e-6) - fun(q - 1e-6)) / 2e-6)


def test_a_traced_index_is_checked_on_replay():
    program = lagrad.trace(lambda q: KX[np.searchsorted(KX, q)] * q, 1.2)
    assert np.isclose(program(1.3), KX[2] * 1.3)
    with pytest.raises(lagrad.BranchError):
        program(0.2)  # another index: the program's constant would be stale


def test_a_library_that_converts_its_arguments_is_named():
    """A pure-Python function over NumPy that calls numpy.asarray: the error names it and the
    user's line, not the conversion inside it."""
    with pytest.raises(TypeError, match=r"numpy\.polynomial\.polynomial\.polyval \(called at test_array_likes\.py"):
        lagrad.grad(lambda c: np.polynomial.polynomial.polyval(2.0, c))(np.ones(3))
    with pytest.raises(TypeError) as info:  # a direct conversion names no library
        lagrad.grad(lambda x: np.sum(np.asarray(x)))(np.ones(3))
    assert str(info.value).startswith("lagrad: z1 is traced")


# ----- refused as NumPy refuses ---------------------------------------------------------------

Y4 = np.arange(4.0)
SQ = np.eye(3)[:2]  # 2×3: not square
# (name, call(m, x)) with x of shape (2, 3): m is numpy on plain x, lagrad.numpy on traced x
BAD_CALLS = [
    ("add, shapes that do not broadcast", lambda m, x: m.add(x, Y4)),
    ("exp, an unknown keyword", lambda m, x: m.exp(x, axis=0)),
    ("sum, axis out of range", lambda m, x: m.sum(x, axis=2)),
    ("sum, an unknown keyword", lambda m, x: m.sum(x, axs=0)),
    ("mean, a repeated axis", lambda m, x: m.mean(x, axis=(0, 0))),
    ("max, axis out of range", lambda m, x: m.max(x, axis=-3)),
    ("cumsum, axis out of range", lambda m, x: m.cumsum(x, axis=2)),
    ("var, an unknown keyword", lambda m, x: m.var(x, dof=1)),
    ("reshape to another size", lambda m, x: m.reshape(x, (5,))),
    ("transpose, a repeated axis", lambda m, x: m.transpose(x, (0, 0))),
    ("concatenate, mismatched shapes", lambda m, x: m.concatenate([x, Y4])),
    ("stack, mismatched shapes", lambda m, x: m.stack([x, x[:, :2]])),
    ("swapaxes, axis out of range", lambda m, x: m.swapaxes(x, 0, 4)),
    ("squeeze of an axis of length 2", lambda m, x: m.squeeze(x, axis=0)),
    ("expand_dims, axis out of range", lambda m, x: m.expand_dims(x, 5)),
    ("moveaxis, axis out of range", lambda m, x: m.moveaxis(x, 0, 5)),
    ("split into unequal parts", lambda m, x: m.split(x, 4, axis=1)),
    ("flip, axis out of range", lambda m, x: m.flip(x, axis=3)),
    ("roll, axis out of range", lambda m, x: m.roll(x, 1, axis=4)),
    ("broadcast_to a smaller shape", lambda m, x: m.broadcast_to(x, (3,))),
    ("repeat, counts of the wrong length", lambda m, x: m.repeat(x, [1, 2, 3], axis=0)),
    ("dot, mismatched inner sizes", lambda m, x: m.dot(x, x)),
    ("matmul, mismatched inner sizes", lambda m, x: m.matmul(x, x)),
    ("einsum, mismatched sizes", lambda m, x: m.einsum("ij,jk->ik", x, x)),
    ("tensordot, mismatched sizes", lambda m, x: m.tensordot(x, x, axes=([0], [1]))),
    ("inner, mismatched sizes", lambda m, x: m.inner(x, Y4)),
    ("linalg.inv of a 2×3 matrix", lambda m, x: m.linalg.inv(x)),
    ("linalg.det of a 2×3 matrix", lambda m, x: m.linalg.det(x)),
    ("linalg.solve, mismatched sizes", lambda m, x: m.linalg.solve(x[:, :2], Y4)),
    ("linalg.norm, an unknown order", lambda m, x: m.linalg.norm(x, ord="foo")),
    ("take, index out of range", lambda m, x: m.take(x, 10)),
    ("take along an axis, index out of range", lambda m, x: m.take(x, [0, 3], axis=0)),
    ("where, shapes that do not broadcast", lambda m, x: m.where(Y4 > 1, x, 0.0)),
    ("diagonal, the same axis twice", lambda m, x: m.diagonal(x, axis1=0, axis2=0)),
    ("sort, axis out of range", lambda m, x: m.sort(x, axis=3)),
    ("fft.fft, axis out of range", lambda m, x: m.fft.fft(x, axis=3)),
    ("fft.fft, zero points", lambda m, x: m.fft.fft(x, n=0)),
    ("polyfit, points and data of other lengths", lambda m, x: m.polyfit(x[0], Y4, 1)),
    ("transpose, axis out of range", lambda m, x: m.transpose(x, (0, 5))),
    ("average, weights of another shape", lambda m, x: m.average(x, axis=1, weights=Y4)),
    ("interp, sample points of another length", lambda m, x: m.interp(x[0], Y4, x[0])),
    ("trace, axis out of range", lambda m, x: m.trace(x, axis1=0, axis2=3)),
    ("outer, an unknown keyword", lambda m, x: m.outer(x, x, axis=0)),
    ("clip, an unknown keyword", lambda m, x: m.clip(x, 0.1, 0.5, lo=0)),
]


def _numpy_error(call):
    try:
        call(np, rand(2, 3))
    except Exception as error:  # the class NumPy raises is what is compared
        return type(error)
    raise AssertionError("NumPy accepts this call; it does not belong in BAD_CALLS")


@pytest.mark.parametrize("name,call", BAD_CALLS, ids=[c[0] for c in BAD_CALLS])
def test_refused_as_numpy_refuses(name, call):
    expected = _numpy_error(call)
    x = rand(2, 3)
    with pytest.raises(expected):  # lagrad.numpy's function on a traced array
        lagrad.grad(lambda x: lnp.sum(lnp.real(call(lnp, x))))(x)
    with pytest.raises(expected):  # NumPy's function on a traced array, by NumPy's dispatch
        lagrad.grad(lambda x: lnp.sum(lnp.real(call(np, x))))(x)
