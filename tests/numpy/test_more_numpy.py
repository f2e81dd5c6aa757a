"""Functions and call forms NumPy has that lagrad added for issue 14 (inputs NumPy accepts):
each called as NumPy's documentation calls it, on traced and plain inputs, with NumPy's value
and a derivative check."""

from __future__ import annotations

import numpy as np
import pytest

import lagrad
import lagrad.numpy as lnp
from tests.conftest import rand
from tests.helpers import check

swv = np.lib.stride_tricks.sliding_window_view

# (name, f(m, x), shape of x): m is lagrad.numpy or numpy (NumPy's dispatch)
CASES = [
    ("vstack of an array", lambda m, x: m.vstack(x), (2, 3)),
    ("hstack of an array", lambda m, x: m.hstack(x), (2, 3)),
    ("column_stack of an array", lambda m, x: m.column_stack(x), (2, 3)),
    ("dstack of an array", lambda m, x: m.dstack(x), (2, 3)),
    ("stack of an array", lambda m, x: m.stack(x, axis=1), (2, 3)),
    ("concatenate of an array", lambda m, x: m.concatenate(x), (2, 3)),
    ("vstack of a tuple with lists", lambda m, x: m.vstack((x[0], [1.0, 2.0, 3.0])), (2, 3)),
    ("rollaxis", lambda m, x: m.rollaxis(x, 2), (2, 3, 4)),
    ("rollaxis start", lambda m, x: m.rollaxis(x, 0, 3), (2, 3, 4)),
    ("sliding_window_view", lambda m, x: swv(x, 3), (5,)),
    ("sliding_window_view 2-d", lambda m, x: swv(x, (2, 2)), (3, 4)),
    ("sliding_window_view axis", lambda m, x: swv(x, 2, axis=0), (3, 4)),
    ("partition", lambda m, x: m.partition(x, 2), (5,)),
    ("partition kth list axis 0", lambda m, x: m.partition(x, [0, 2], axis=0), (4, 3)),
    ("einsum sub-lists", lambda m, x: m.einsum(x, [0, 1], x, [1, 2]), (3, 3)),
    ("einsum sub-lists output", lambda m, x: m.einsum(x, [0, 1], x, [0, 1], [1]), (3, 2)),
    ("einsum sub-lists ellipsis", lambda m, x: m.einsum(x, [Ellipsis, 0], [Ellipsis]), (2, 3)),
    ("multiply.outer", lambda m, x: m.multiply.outer(x, x[:2]), (3,)),
    ("subtract.outer", lambda m, x: m.subtract.outer(x, [1.0, 2.0]), (2, 2)),
    ("add.accumulate", lambda m, x: m.add.accumulate(x, axis=1), (2, 3)),
    ("multiply.accumulate", lambda m, x: m.multiply.accumulate(x), (4,)),
    ("maximum.accumulate", lambda m, x: m.maximum.accumulate(x), (4,)),
    ("logaddexp.accumulate", lambda m, x: m.logaddexp.accumulate(x, axis=0), (3, 2)),
    ("subtract.reduce", lambda m, x: m.subtract.reduce(x, axis=1), (2, 3)),
    ("logaddexp.reduce", lambda m, x: m.logaddexp.reduce(x, axis=None), (2, 3)),
    ("hypot.reduce initial", lambda m, x: m.hypot.reduce(x, initial=0.5, keepdims=True), (3, 2)),
]


@pytest.mark.parametrize("name,fun,shape", CASES, ids=[c[0] for c in CASES])
def test_numpy_call_forms(name, fun, shape):
    x = rand(*shape)
    expected = fun(np, x)
    for m in (lnp, np):
        got = lagrad.vjp(lambda x: fun(m, x), x)[0]
        assert np.shape(lagrad.value(got)) == np.shape(expected)
        assert np.allclose(lagrad.value(got), expected)
    check(lambda x: fun(lnp, x), x)


RANGES = [
    ("linspace", lambda m, a, b: m.linspace(a, b, 5)),
    ("linspace no endpoint", lambda m, a, b: m.linspace(a, b, 4, endpoint=False)),
    ("linspace arrays axis", lambda m, a, b: m.linspace(m.stack([a, b]), b + 1.0, 3, axis=1)),
    ("linspace retstep", lambda m, a, b: m.linspace(a, b, 6, retstep=True)[1]),
    ("logspace", lambda m, a, b: m.logspace(a, b, 4)),
    ("logspace base", lambda m, a, b: m.logspace(a, b, 4, base=b + 1.0)),
    ("geomspace", lambda m, a, b: m.geomspace(a, b, 5)),
    ("geomspace negative", lambda m, a, b: m.geomspace(-a, -b, 3)),
]


@pytest.mark.parametrize("name,fun", RANGES, ids=[c[0] for c in RANGES])
def test_ranges_with_traced_endpoints(name, fun):
    a, b = 0.4, 1.7
    expected = fun(np, a, b)
    for m in (lnp, np):
        got = lagrad.vjp(lambda a, b: fun(m, a, b), a, b)[0]
        assert np.allclose(lagrad.value(got), expected)
    check(lambda a, b: fun(lnp, a, b), a, b)


R_C = [
    ("r_", lambda x: lnp.r_[x[0], 0.5, x[1], 1:3], lambda x: np.r_[x[0], 0.5, x[1], 1:3]),
    ("r_ axis spec", lambda x: lnp.r_["0,2", x[0], x[1]], lambda x: np.r_["0,2", x[0], x[1]]),
    ("r_ trans1d", lambda x: lnp.r_["1,2,0", x[0], x[1]], lambda x: np.r_["1,2,0", x[0], x[1]]),
    ("c_", lambda x: lnp.c_[x[0], x[1]], lambda x: np.c_[x[0], x[1]]),
    ("c_ matrices", lambda x: lnp.c_[x, x[:, :1]], lambda x: np.c_[x, x[:, :1]]),
]


@pytest.mark.parametrize("name,fun,numpy_fun", R_C, ids=[c[0] for c in R_C])
def test_index_concatenation(name, fun, numpy_fun):
    x = rand(2, 3)
    assert np.allclose(lagrad.value(lagrad.vjp(fun, x)[0]), numpy_fun(x))
    assert np.allclose(fun(x), numpy_fun(x))  # plain: NumPy's own
    check(fun, x)


def test_refused_as_numpy_refuses():
    x = rand(2, 3)
    with pytest.raises(TypeError, match="sequence"):
        lagrad.grad(lambda x: lnp.sum(lnp.vstack(r for r in x)))(x)
    with pytest.raises(np.exceptions.AxisError):
        lagrad.grad(lambda x: lnp.sum(lnp.rollaxis(x, 3)))(x)
    with pytest.raises(ValueError, match="valid range"):
        lagrad.grad(lambda x: lnp.einsum(x, [0, 60]))(x)
    with pytest.raises(TypeError):
        lagrad.grad(lambda x: lnp.sum(lnp.linspace(x[0, 0], x[0, 1], 2.5)))(x)
    with pytest.raises(ValueError, match="identity"):
        lagrad.grad(lambda x: lnp.sum(np.logaddexp.reduce(x[:, :0], axis=1)))(x)


def test_real_if_close():
    z = rand(3) + 1e-16j
    f = lambda x: lnp.real_if_close(x + 1e-16j)
    assert np.isrealobj(lagrad.value(lagrad.vjp(f, rand(3))[0]))
    assert np.allclose(lnp.real_if_close(z), np.real_if_close(z))
    check(lambda x: lnp.real(lnp.real_if_close(x * (1 + 1e-3j))), rand(3))


# ----- polynomials, numpy.polynomial, statistics ------------------------------------------------

_POINTS = np.linspace(-0.9, 0.9, 7)
_DATA = np.sin(2 * _POINTS) + 0.1 * np.cos(7 * _POINTS)
_FAMILY = {"poly": "polynomial", "cheb": "chebyshev", "leg": "legendre", "herm": "hermite", "herme": "hermite_e"}
_FAMILY["lag"] = "laguerre"


@pytest.mark.parametrize("prefix", sorted(_FAMILY))
@pytest.mark.parametrize("what", ["vander", "val in c", "val in x", "fit in y", "fit weighted in x"])
def test_numpy_polynomial_families(prefix, what):
    """numpy.polynomial.<family>.<prefix>{vander,val,fit}: NumPy's values, derivatives checked."""
    mine, theirs = getattr(lnp.polynomial, _FAMILY[prefix]), getattr(np.polynomial, _FAMILY[prefix])
    c, w = np.array([0.5, -1.0, 0.25, 0.75]), np.linspace(0.5, 1.5, 7)
    calls = {
        "vander": (lambda m, x: getattr(m, f"{prefix}vander")(x, 3), _POINTS),
        "val in c": (lambda m, c: getattr(m, f"{prefix}val")(_POINTS, c), c),
        "val in x": (lambda m, x: getattr(m, f"{prefix}val")(x, c), _POINTS),
        "fit in y": (lambda m, y: getattr(m, f"{prefix}fit")(_POINTS, y, 3), _DATA),
        "fit weighted in x": (lambda m, x: getattr(m, f"{prefix}fit")(x, _DATA, 2, w=w), _POINTS),
    }
    fun, arg = calls[what]
    assert np.allclose(lagrad.value(lagrad.vjp(lambda a: fun(mine, a), arg)[0]), fun(theirs, arg))
    assert np.allclose(fun(mine, arg), fun(theirs, arg))  # plain: NumPy's own
    check(lambda a: fun(mine, a), arg)


W6 = np.linspace(1, 2, 6)
STATISTICS = [
    ("cov", lambda m, x: m.cov(x), (3, 6)),
    ("cov rowvar bias", lambda m, x: m.cov(x, rowvar=False, bias=True), (6, 3)),
    ("cov y", lambda m, x: m.cov(x[0], x[1]), (2, 6)),
    (
        "cov fweights aweights",
        lambda m, x: m.cov(x, fweights=[1, 2, 1, 3, 1, 1], aweights=np.linspace(1, 2, 6)),
        (2, 6),
    ),
    ("cov ddof 0 aweights", lambda m, x: m.cov(x, ddof=0, aweights=W6), (2, 6)),
    ("cov in the weights", lambda m, w: m.cov(np.arange(12.0).reshape(2, 6) ** 1.5, aweights=w + 2.0), (6,)),
    ("corrcoef", lambda m, x: m.corrcoef(x), (3, 6)),
    ("corrcoef x y", lambda m, x: m.corrcoef(x[0], x[1]), (2, 6)),
]


@pytest.mark.parametrize("name,fun,shape", STATISTICS, ids=[c[0] for c in STATISTICS])
def test_cov_and_corrcoef(name, fun, shape):
    x = rand(*shape)
    for m in (lnp, np):
        assert np.allclose(lagrad.value(lagrad.vjp(lambda x: fun(m, x), x)[0]), fun(np, x))
    check(lambda x: fun(lnp, x), x)
