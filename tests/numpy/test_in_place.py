"""In-place writes (indexing.py's writers and the views of indexing.py and manipulation.py):
each case runs as plain NumPy and traced, and must give NumPy's values, leave the caller's
arrays as they were, and differentiate (central differences, both modes, second order)."""

from __future__ import annotations

import numpy as np
import pytest

import lagrad
import lagrad.numpy as lnp
from tests.conftest import rand
from tests.helpers import check
from tests.numpy.test_manipulation import assert_same, traced_value


def same_as_numpy(fun, *args, order=2):
    """`fun(*args)` traced gives what NumPy gives on copies of the arguments, leaves the
    arguments unchanged, and has the derivatives finite differences give."""
    expected = fun(*(a.copy() for a in args))
    before = [a.copy() for a in args]
    assert_same(traced_value(fun, *args), expected)
    check(fun, *args, order=order)
    for a, b in zip(args, before):
        assert np.array_equal(a, b), "the caller's array was written into"


def _set(x, index, value):
    y = x.copy()
    y[index] = value
    return y


WRITES = [
    ("item", lambda x: _set(x, 1, 3.0) * x),
    ("item from a traced value", lambda x: _set(x, 0, x[2] ** 2) * x),
    ("slice", lambda x: _set(x, slice(1, 3), x[:2] ** 2) + x),
    ("negative index", lambda x: _set(x, -1, 0.0) * x),
    ("boolean mask", lambda x: _set(x, x > 0.5, 0.0) * x),
    ("boolean mask, traced values", lambda x: _set(x, x > 0.5, 2 * x[x > 0.5]) * x),
    ("integer array", lambda x: _set(x, np.array([3, 0]), x[1:3] ** 2) * x),
    ("integer array with repeats (the last lands)", lambda x: _set(x, [0, 2, 0], x[1:4] * 3.0) * x),
    ("a row of a matrix", lambda x: _set(x.reshape(2, 3), 1, x[:3]) * 2.0),
    ("a column, broadcast", lambda x: _set(x.reshape(2, 3), (slice(None), 1), x[0]) ** 2),
    ("ellipsis", lambda x: _set(x, Ellipsis, x[::-1] * 2.0) + x),
]


@pytest.mark.parametrize("fun", [w[1] for w in WRITES], ids=[w[0] for w in WRITES])
def test_item_and_slice_assignment(fun):
    same_as_numpy(fun, rand(6))


def _augmented(x):
    y = x.copy()
    y += x**2
    y *= x
    y -= 1.0
    y /= 2.0
    y **= 2
    return y


def _augmented_slices(x):
    y = x.copy()
    y[1:] -= y[:-1]  # overlapping: NumPy reads y[:-1] before writing
    y[::2] *= x[1::2]
    y[[0, 0, 3]] += 1.0  # a fancy index: read, add, write back (the repeat lands once)
    return y * x


def _augmented_columns(x):
    y = x.reshape(2, 3).copy()
    y[:, 0] *= 2.0
    y[1] += y[0]
    y.T[2] /= 3.0
    return y


@pytest.mark.parametrize("fun", [_augmented, _augmented_slices, _augmented_columns])
def test_augmented_assignment(fun):
    same_as_numpy(fun, rand(6) + 0.5)


def test_augmented_assignment_casts_as_numpy_does():
    def int_divided(x):
        counts = (x > 0.5).astype(np.int64)
        counts /= 2
        return counts

    with pytest.raises(TypeError, match="Cannot cast ufunc 'divide' output"):
        int_divided(rand(3))
    with pytest.raises(TypeError, match="Cannot cast ufunc 'divide' output"):
        traced_value(int_divided, rand(3))

    def widened(x):
        y = x.copy()
        y += np.ones((2, 3))
        return y

    with pytest.raises(ValueError, match="non-broadcastable output"):
        widened(rand(3))
    with pytest.raises(ValueError, match="non-broadcastable output"):
        traced_value(widened, rand(3))


def test_a_scalar_result_is_not_aliased():
    # NumPy's reductions return scalars: `s += 1` makes a new one and `t` keeps the old
    def f(x):
        s = x.sum()
        t = s
        s += 1.0
        return s * t

    same_as_numpy(f, rand(3))


def _through_views(x):
    y = x.copy()
    v = y[1:5]
    v[0] = 10.0  # writes into y
    w = v[::2]  # a view of a view
    w *= x[:2]
    y[4] = x[0] ** 2  # seen by v and w
    return y + 0.0, v * 1.0, w * 1.0


def _through_transpose_and_reshape(x):
    y = x.copy()
    t = y.reshape(2, 3).T  # views of y
    t[0, 1] = -1.0
    r = y.ravel()
    r[2] += 5.0
    m = np.moveaxis(y.reshape(1, 2, 3), 0, 2)
    m[1, 2, 0] = x[0] * x[1]
    s = np.squeeze(y[None, :])
    s[0] = 7.0
    return y * 1.0, t * 1.0, r * x


def _views_read_after_base_writes(x):
    y = x.copy()
    head, tail = np.split(y, 2)
    flipped = np.flip(y)
    diagonal = y.reshape(2, 3).diagonal()
    y[:] = x**2  # every earlier view sees this
    y[0] = 3.0
    return head * 1.0, tail * 1.0, flipped * 1.0, diagonal * 1.0


def _complex_parts(x):
    z = x.astype(np.complex128)
    z.imag[:3] = x[3:]  # the parts are views: the writes reach z
    r = z.real
    z[0] = 2.0 + 1.0j
    r *= x
    return np.abs(z) ** 2, r * 1.0, z.imag * 1.0


@pytest.mark.parametrize(
    "fun", [_through_views, _through_transpose_and_reshape, _views_read_after_base_writes, _complex_parts]
)
def test_views_behave_as_in_numpy(fun):
    same_as_numpy(fun, rand(6))


def test_copies_are_not_views():
    def f(x):
        y = x.copy()
        copies = [y.copy(), np.copy(y), y.flatten(), y[[0, 1, 2, 3, 4, 5]], y[y > -1], y.astype(y.dtype), lnp.array(y)]
        y[0] = 100.0
        for c in copies:
            c[1] = -100.0
        return y * 1.0, *(c * 1.0 for c in copies)

    same_as_numpy(f, rand(6))


def _ufunc_at(x):
    y = x.copy()
    np.add.at(y, [0, 0, 2], x[:3] ** 2)
    np.subtract.at(y, [1, 1], x[4])
    np.multiply.at(y, [3, 5], x[1:3])
    np.maximum.at(y, [4], x[0])
    return y


def _out(x):
    y = x.copy()
    np.multiply(x, x, out=y)
    np.sin(x[:3], out=y[3:])  # into a view: y sees it
    result = np.add(y, 1.0, out=y)
    return y * result


def _writers(x):
    y = x.copy()
    np.copyto(y, x**2, where=x > 0.5)
    np.put(y, [0, 5], x[1])
    m = x.reshape(2, 3) * 1.0
    np.put_along_axis(m, np.array([[2], [0]]), x[:2, None] * 3.0, axis=1)
    np.fill_diagonal(m, x[3:5])
    z = x * 1.0
    z.fill(2.0)
    return y, m, z


@pytest.mark.parametrize("fun", [_ufunc_at, _out, _writers])
def test_numpy_writers(fun):
    same_as_numpy(fun, rand(6))


def test_writing_into_an_input_leaves_the_callers_array_and_differentiates():
    def f(x):
        x[0] = 0.0
        x *= x
        x[1:] += 2.0 * x[:-1]
        return lnp.sum(x**3)

    x0 = rand(5)
    kept = x0.copy()
    g = lagrad.grad(f)(x0)
    assert np.array_equal(x0, kept)
    check(f, x0)
    assert g[0] == 0.0  # x[0] was overwritten before anything read it


def heat_in_place(u0, k, steps=5):
    u = u0.copy()
    for _ in range(steps):
        u[1:-1] += k * (u[2:] - 2 * u[1:-1] + u[:-2])
        u[0] = u[-1] = 0.0
    return (u**2).sum()


def heat_functional(u, k, steps=5):
    for _ in range(steps):
        u = lnp.at(u)[1:-1].add(k * (u[2:] - 2 * u[1:-1] + u[:-2]))
        u = lnp.at(lnp.at(u)[0].set(0.0))[-1].set(0.0)
    return lnp.sum(u**2)


def test_the_heat_equation_in_place_is_the_functional_form():
    u0, k = rand(8), 0.2
    kept = u0.copy()
    assert np.isclose(lagrad.value(heat_in_place(u0, k)), heat_functional(u0, k))
    g = lagrad.grad(heat_in_place, (0, 1))(u0, k)
    want = lagrad.grad(heat_functional, (0, 1))(u0, k)
    assert np.allclose(g[0], want[0]) and np.isclose(g[1], want[1])
    assert np.array_equal(u0, kept)
    check(heat_in_place, u0, k)
    # the same equations: `u[1:-1] += ...` is one index_add, its view costs no equation of its own
    assert len(lagrad.trace(heat_in_place, u0, k).equations) == len(lagrad.trace(heat_functional, u0, k).equations)


def simulate(u0, k):
    u = u0.copy()
    for _ in range(100):
        u[1:-1] += k * (u[2:] - 2 * u[1:-1] + u[:-2])  # in place, as NumPy code is written
        u[0] = u[-1] = 0.0
    return (u**2).sum()


def central(f, x, h=1e-6):
    """Central differences of the scalar `f` at the array or float `x`."""
    x = np.asarray(x, dtype=float)
    steps = np.eye(x.size).reshape((x.size, *x.shape)) * h
    return np.array([(f(x + e) - f(x - e)) / (2 * h) for e in steps]).reshape(x.shape)


def test_the_issue_example_differentiates_in_any_argument():
    # issue 14: u0 not differentiated is still copied and written into with traced values
    u0, k = rand(12), 0.2
    kept = u0.copy()
    gk = lagrad.grad(simulate, argnums=1)(u0, k)
    gu = lagrad.grad(simulate, argnums=0)(u0, k)
    both = lagrad.grad(simulate, argnums=(0, 1))(u0, k)
    assert np.isclose(gk, central(lambda k: simulate(u0, k), k), rtol=1e-6)
    assert np.allclose(gu, central(lambda u: simulate(u, k), u0), rtol=1e-6, atol=1e-9)
    assert np.isclose(both[1], gk) and np.allclose(both[0], gu)
    assert np.array_equal(u0, kept)
    assert np.isclose(lagrad.grad(lambda k, u0: simulate(u0, k))(k, u0=u0), gk)  # a keyword argument too
    text = str(lagrad.trace(simulate, u0, k, argnums=1))
    assert "index_add(z2, z9, index=[1:-1])" in text  # z2: u0, held without a derivative


def test_an_argument_that_is_not_differentiated_works_as_a_plain_array():
    import scipy.linalg

    idx, mask, n = np.array([2, 0]), np.array([True, False, True]), 3
    a = rand(3, 3) + 3 * np.eye(3)

    def f(x, w, idx, mask, n, a):
        assert isinstance(np.asarray(w), np.ndarray) and float(w[0]) == w[0] and int(n) == 3
        z = np.zeros(n) + x
        if np.max(w) > 0 and w.sum() > 0:  # branches on it and on what is computed from it
            z = z * float(np.max(w))
        plain = scipy.linalg.solve(a, w)  # a plain SciPy function: NumPy arrays in and out
        w[0] = 5.0  # written into: a copy, the caller's w stays
        return lnp.sum(z[idx] * plain[idx]) + lnp.sum(x[mask] * w[mask]) + lnp.sum(w[w > 1.0] * x[0])

    x, w = rand(3), rand(3)
    kept = w.copy()

    def plain(x):
        return f(x, w.copy(), idx, mask, n, a)

    assert np.isclose(lagrad.value(plain(x)), f(x, w.copy(), idx, mask, n, a))
    g = lagrad.grad(f)(x, w, idx, mask, n, a)
    assert np.allclose(g, central(plain, x), rtol=1e-6)
    assert np.array_equal(w, kept)


def test_a_copy_of_an_array_read_from_outside_is_plain():
    u0 = rand(6)
    with pytest.raises(TypeError, match=r"out=o\) with a plain NumPy array.*pass that array as an argument"):
        lagrad.grad(lambda k: simulate(u0, k))(0.2)


def test_a_view_is_current_after_a_write_before_it_is_used_again():
    def f(x):
        y = x.copy()
        v = y[1:]
        v += 1.0  # one update of y; v is current, and its equation waits for a use
        seen = lagrad.value(v).copy()
        y[1] = 0.0
        return v * x[1:], seen

    x = rand(4)
    expected = f(x)
    got = traced_value(f, x)
    assert np.allclose(got[0], expected[0]) and np.allclose(got[1], expected[1])
    check(lambda x: f(x)[0], x)


def test_the_program_shows_the_updates():
    def f(x):
        y = x.copy()
        y[1:-1] = x[:2]
        y[0] += 1.0
        return y

    text = str(lagrad.trace(f, rand(4)))
    assert "z3 = index_set(z1, z2, index=[1:-1])" in text  # y now refers to z3; z1 (x) stays
    assert "z6 = index_set(z3, z5, index=[0])" in text  # y[0] is a scalar: read, add, write back


@pytest.mark.parametrize(
    "fun,error,message",
    [
        (lambda x: x.reshape(2, 3).T.reshape(6).__setitem__(0, 1.0), ValueError, r"reshaped from an array .*copy\(\)"),
        (lambda x: lnp.broadcast_to(x[:3], (2, 3)).__setitem__(0, 1.0), ValueError, r"read-only.*copy\(\)"),
        (lambda x: x.reshape(2, 3).diagonal().__setitem__(0, 1.0), ValueError, r"read-only.*fill_diagonal"),
        (lambda x: x.imag.__setitem__(0, 1.0), ValueError, r"imaginary part of a real array.*astype\(complex\)"),
        (lambda x: np.zeros(6).__setitem__(slice(None), x), TypeError, r"plain NumPy array.*x.copy\(\)"),
        (lambda x: np.add(x, 1.0, out=np.zeros(6)), TypeError, r"out=o\) with a plain NumPy array"),
        (lambda x: np.add.at(np.zeros(6), [0], x[0]), TypeError, r"add.at\(a, ...\) with a plain array"),
        (lambda x: np.multiply.at(x, [0, 0], 2.0), NotImplementedError, r"more than once.*add and subtract"),
    ],
)
def test_writes_that_cannot_be_honoured_are_refused(fun, error, message):
    with pytest.raises(error, match=message):
        traced_value(fun, rand(6))


def test_a_write_into_an_outer_trace_from_an_inner_one_is_refused():
    def outer(x):
        y = x.copy()

        def inner(z):
            y[0] = z
            return lnp.sum(y)

        return lagrad.grad(inner)(x[1])

    with pytest.raises(TypeError, match="outer trace from inside an inner differentiation"):
        lagrad.grad(outer)(rand(3))


def test_nested_derivatives_of_writes():
    def f(x):
        y = x * 1.0
        y[1:] *= y[:-1]
        return lnp.sum(y**2)

    x = rand(4)
    h = lagrad.hessian(f)(x)
    assert_same(h, lagrad.hessian(lambda x: lnp.sum(lnp.concatenate([x[:1], x[1:] * x[:-1]]) ** 2))(x))
