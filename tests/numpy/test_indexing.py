"""Indexing: basic and advanced indices, boolean masks, traced indices, functional updates, and the
selecting functions (take, take_along_axis, choose, compress, select, diagonals, triangles, interp)."""

from __future__ import annotations

import numpy as np
import pytest

import lagrad
import lagrad.numpy as lnp
from lagrad.numpy import PRIMITIVES
from lagrad.testing import checked_primitives
from tests.conftest import rand
from tests.helpers import check
from tests.numpy.test_manipulation import assert_same, both, traced_value

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
    # the mask's count sets the selection's shape: recorded and checked on replay as a branch
    assert [eq.primitive.name for eq in program.equations] == ["greater", "count_nonzero", "getitem"]
    assert list(program.guards.values()) == [np.count_nonzero(x > 0.0)]
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


def test_in_place_write_is_the_functional_update():
    def f(x):
        x[0] = 1.0
        return lnp.sum(x)

    assert np.array_equal(lagrad.grad(f)(rand(3)), [0.0, 1.0, 1.0])  # more in test_in_place.py


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


# ----- the NumPy functions that select entries, written once for both modules ----------------------

_ORDER = np.array([[2, 0, 1], [1, 2, 0]])  # a permutation per row, as argsort gives


def _traced_int(x, i):
    """The integer array `i` as a traced value computed from `x` (no derivative)."""
    return lnp.astype(lnp.sum(x) > 1e9, np.int64) + i


FUNCTIONS = [
    ("take", lambda m, x: m.take(x, [0, 2, 2, -1]), (2, 3)),
    ("take axis", lambda m, x: m.take(x, [[1, 0], [1, 1]], axis=1), (2, 3)),
    ("take scalar index", lambda m, x: m.take(x, 1, axis=0), (2, 3)),
    ("take wrap", lambda m, x: m.take(x, [0, 4, -5], mode="wrap"), (3,)),
    ("take clip", lambda m, x: m.take(x, [0, 4, -5], axis=1, mode="clip"), (2, 3)),
    ("take method", lambda m, x: x.take([1, 1], axis=-1), (2, 3)),
    ("take traced", lambda m, x: m.take(x, _traced_int(x, np.array([2, 0, 2]))), (3,)),
    ("take_along_axis", lambda m, x: m.take_along_axis(x, _ORDER, axis=1), (2, 3)),
    ("take_along_axis axis 0", lambda m, x: m.take_along_axis(x, np.array([[1, 0], [1, 1]]), axis=0), (2, 2)),
    ("take_along_axis repeats", lambda m, x: m.take_along_axis(x, np.array([[0, 0, 2, 2]]), axis=-1), (3, 3)),
    ("take_along_axis broadcast", lambda m, x: m.take_along_axis(x, _ORDER[:, None], axis=2), (2, 1, 3)),
    ("take_along_axis broadcast x", lambda m, x: m.take_along_axis(x[:1], _ORDER, axis=1), (2, 3)),
    ("take_along_axis flat", lambda m, x: m.take_along_axis(x, np.array([5, 0, 0]), axis=None), (2, 3)),
    ("take_along_axis 3-d", lambda m, x: m.take_along_axis(x, np.array([[[1], [0]]]), axis=1), (2, 2, 2)),
    ("take_along_axis traced", lambda m, x: m.take_along_axis(x, _traced_int(x, _ORDER), axis=1), (2, 3)),
    ("choose", lambda m, x: m.choose(np.array([[0, 1, 2], [2, 1, 0]]), [x, 2.0 * x, x[0] ** 2]), (2, 3)),
    ("choose array", lambda m, x: m.choose(np.array([1, 0, 1]), x), (2, 3)),
    ("choose broadcast index", lambda m, x: m.choose(np.array([[0], [1]]), [x[0], x[1]]), (2, 3)),
    ("choose wrap", lambda m, x: m.choose(np.array([0, 3, -1]), [x, -x], mode="wrap"), (3,)),
    ("choose clip", lambda m, x: m.choose(np.array([0, 3, -1]), [x, -x], mode="clip"), (3,)),
    ("choose traced", lambda m, x: m.choose(_traced_int(x, np.array([1, 0, 1])), [x, x**2]), (3,)),
    ("choose method", lambda m, x: _traced_int(x, np.array([1, 0])).choose([x[0], x[1]]), (2, 2)),
    ("compress", lambda m, x: m.compress([True, False, True], x, axis=1), (2, 3)),
    ("compress flat", lambda m, x: m.compress([False, True, True, False, True], x), (2, 3)),
    ("compress short", lambda m, x: m.compress([True], x, axis=0), (2, 3)),
    ("compress traced", lambda m, x: m.compress(x[0] > 0.0, x, axis=1), (2, 3)),
    ("compress method", lambda m, x: x.compress([0, 1], axis=0), (2, 3)),
    ("extract", lambda m, x: m.extract(np.array([[1, 0, 1], [0, 0, 2]]), x), (2, 3)),
    ("extract traced", lambda m, x: m.extract(x > 0.0, x**2), (2, 3)),
    ("select", lambda m, x: m.select([x > 0.5, x < -0.5], [x, x**2], 0.25), (2, 3)),
    ("select broadcast", lambda m, x: m.select([x[0] > 0.0, x < 0.0], [x[1], -x], x[:, :1]), (2, 3)),
    ("select int default", lambda m, x: m.select([x > 0.0], [x], default=1), (3,)),
    ("diagonal", lambda m, x: m.diagonal(x), (3, 3)),
    ("diagonal offset", lambda m, x: m.diagonal(x, 1), (3, 4)),
    ("diagonal below", lambda m, x: m.diagonal(x, -2), (3, 4)),
    ("diagonal axes", lambda m, x: m.diagonal(x, 1, axis1=2, axis2=0), (2, 3, 3)),
    ("diagonal method", lambda m, x: x.diagonal(0, 1, 2), (2, 2, 3)),
    ("diag vector", lambda m, x: m.diag(x), (3,)),
    ("diag vector k", lambda m, x: m.diag(x, -1), (3,)),
    ("diag matrix", lambda m, x: m.diag(x, 1), (3, 4)),
    ("diagflat", lambda m, x: m.diagflat(x, 1), (2, 2)),
    ("trace", lambda m, x: m.trace(x), (3, 3)),
    ("trace offset", lambda m, x: m.trace(x, -1), (3, 4)),
    ("trace 3-d", lambda m, x: m.trace(x, 0, 1, 2), (2, 2, 3)),
    ("trace method", lambda m, x: x.trace(1), (3, 3)),
    ("tril", lambda m, x: m.tril(x), (3, 3)),
    ("tril k", lambda m, x: m.tril(x, 1), (3, 4)),
    ("tril negative k", lambda m, x: m.tril(x, -1), (2, 3, 3)),
    ("triu", lambda m, x: m.triu(x), (3, 4)),
    ("triu k", lambda m, x: m.triu(x, -1), (2, 3, 3)),
    ("triu vector", lambda m, x: m.triu(x, 1), (3,)),
    ("interp", lambda m, x: m.interp(x, [-1.0, -0.2, 0.1, 1.0], [1.0, 2.0, -1.0, 0.5]), (2, 3)),
    ("interp outside", lambda m, x: m.interp(3.0 * x, [-1.0, 0.0, 1.0], [1.0, 2.0, -1.0]), (5,)),
    (
        "interp left right",
        lambda m, x: m.interp(3.0 * x, [-1.0, 0.0, 1.0], [1.0, 2.0, -1.0], left=-5.0, right=7.0),
        (5,),
    ),
    ("interp period", lambda m, x: m.interp(4.0 * x, [0.9, 0.1, 0.4], [1.0, 2.0, 4.0], period=1.0), (5,)),
    ("interp scalar", lambda m, x: m.interp(x, [-1.0, 1.0], [0.0, 3.0]), ()),
]


@pytest.mark.parametrize("name,fun,shape", FUNCTIONS, ids=[c[0] for c in FUNCTIONS])
def test_function(name, fun, shape):
    both(fun, rand(*shape))


def test_interp_in_the_table():
    x, xp, fp = np.array([-0.7, 0.05, 0.3, 0.99, 1.5]), np.array([-1.0, -0.2, 0.1, 1.0]), rand(4)
    both(lambda m, x, xp, fp: m.interp(x, xp, fp), x, xp, fp)
    both(lambda m, xp, fp: m.interp(0.3, xp, fp), xp, fp)  # in x's interval, xp and fp both matter
    both(lambda m, fp: m.interp(x, xp, fp, period=2.5), fp)
    both(lambda m, fp: m.interp(x, xp[:1], fp[:1], left=-1.0), fp)  # a table of one point
    both(lambda m, fp: m.interp(x, xp, fp * 1j + fp), fp)  # complex table values
    # at a point of the table the value is the table's; its derivative in fp is the unit vector
    g = lagrad.grad(lambda fp: lnp.interp(0.1, xp, fp))(fp)
    assert np.array_equal(g, [0.0, 0.0, 1.0, 0.0])
    # the derivative in x is the slope of the interval x falls in
    slope = (fp[2] - fp[1]) / (xp[2] - xp[1])
    assert np.isclose(lagrad.grad(lambda x: lnp.interp(x, xp, fp))(np.float64(-0.1)), slope)


def test_interp_at_the_ends_of_the_table():
    """The table is closed: x = xp[0] falls in the first interval and x = xp[-1] in the last
    (NumPy's search puts it there), so each takes that interval's slope, in x and in xp; at
    xp[-1] the derivative was 0, as if x were beyond the table. The value stays fp[-1] exactly."""
    xp, fp = np.array([0.0, 1.0, 3.0]), np.array([0.0, 2.0, 5.0])
    x = np.array([0.0, 3.0])
    assert np.array_equal(traced_value(lambda x: lnp.interp(x, xp, fp), x), [0.0, 5.0])
    for mode in ("rev", "fwd"):
        assert np.array_equal(lagrad.jacobian(lambda x: lnp.interp(x, xp, fp), mode=mode)(x), np.diag([2.0, 1.5]))
        jac_xp = lagrad.jacobian(lambda xp: lnp.interp(x, xp, fp), mode=mode)(xp)
        assert np.allclose(jac_xp, [[-2.0, 0.0, 0.0], [0.0, 0.0, -1.5]], rtol=1e-15, atol=0)
    assert lagrad.grad(lambda x: lnp.interp(x, xp, fp, right=9.0))(3.0) == 1.5  # right= is for x > xp[-1]
    assert traced_value(lambda fp: lnp.interp(3.0, xp, fp), np.array([0.0, 2.0, np.inf])) == np.inf  # as NumPy


def test_interp_replays_with_new_intervals():
    xp, fp = np.array([0.0, 1.0, 3.0]), np.array([0.0, 2.0, 0.0])
    program = lagrad.trace(lambda x: lnp.interp(x, xp, fp), np.array([0.5, 2.0]))
    assert np.allclose(program(np.array([2.0, 0.5])), np.interp([2.0, 0.5], xp, fp))


def test_functions_of_two_arrays():
    x, y = rand(2, 3), rand(3)
    both(lambda m, x, y: m.choose(np.array([0, 1, 0]), [x, y]), x, y)
    both(lambda m, x, y: m.select([x > 0.0], [x * y], default=y[0]), x, y)
    both(lambda m, x, y: m.interp(x, np.array([-1.0, 0.0, 1.0]), y, left=y[0] - 1.0), x, y)
    check(lambda x, v: lnp.put_along_axis(x, _ORDER[:, :2], v, axis=1, inplace=False), x, rand(2, 1))
    check(lambda x, v: lnp.put_along_axis(x, np.array([4, 1]), v, axis=None, inplace=False), x, rand(2))


def test_select_keeps_the_choices_dtype():
    def f(x):
        return lnp.select([x > 0.0], [lnp.astype(x, np.float32)], default=2)

    x = rand(3)
    assert_same(traced_value(f, x), np.select([x > 0.0], [x.astype(np.float32)], default=2))


def test_put_along_axis():
    x, v = rand(2, 3), rand(2, 2)
    expected = x.copy()
    np.put_along_axis(expected, _ORDER[:, :2], v, axis=1)
    got = lnp.put_along_axis(x, _ORDER[:, :2], v, axis=1, inplace=False)
    assert np.array_equal(got, expected)
    traced = traced_value(lambda x, v: lnp.put_along_axis(x, _ORDER[:, :2], v, axis=1, inplace=False), x, v)
    assert np.array_equal(traced, expected)
    plain = x.copy()  # without inplace=False, NumPy's in-place write on plain arrays
    assert lnp.put_along_axis(plain, _ORDER[:, :2], v, axis=1) is None and np.array_equal(plain, expected)

    def in_place(x, v):  # NumPy's form on a traced array: the same update, x now refers to it
        np.put_along_axis(x, _ORDER[:, :2], v, axis=1)
        return x

    assert np.array_equal(traced_value(in_place, x, v), expected)
    with pytest.raises(TypeError, match=r"put_along_axis: `arr` is a plain NumPy array.*inplace=False"):
        lagrad.grad(lambda v: lnp.sum(np.put_along_axis(x.copy(), _ORDER[:, :2], v, axis=1)))(v)


def test_set_with_a_repeated_index_differentiates_what_lands():
    x, v = rand(4), np.array([1.0, 2.0, 3.0])
    index = np.array([1, 1, 3])  # v[0] is overwritten by v[1]
    assert np.array_equal(lnp.at(x)[index].set(v), np.array([x[0], 2.0, x[2], 3.0]))
    gx, gv = lagrad.grad(lambda x, v: lnp.sum(lnp.at(x)[index].set(v) * np.arange(1.0, 5.0)), argnums=(0, 1))(x, v)
    assert np.array_equal(gx, [1.0, 0.0, 3.0, 0.0]) and np.array_equal(gv, [0.0, 2.0, 4.0])
    check(lambda x, v: lnp.at(x)[index].set(v), x, v)
    check(lambda x, v: lnp.at(x)[_traced_int(x, index)].set(v * x[0]), x, v)


def test_items_and_lists():
    x = rand(2, 3)

    def f(x):
        i = lnp.astype(x > 0.0, np.int64)
        assert i.item(1) == int(x.flat[1] > 0) and i[1].tolist() == (x[1] > 0).astype(int).tolist()
        assert (x[0] > 0.0).item(2) is bool(x[0, 2] > 0)
        return lnp.sum(x * i.item(0, 0))

    g = lagrad.grad(f)(x)
    assert np.array_equal(g, np.full((2, 3), float(x[0, 0] > 0)))
    program = lagrad.trace(lambda x: x * lnp.astype(x > 0.0, np.int64).item(0), x)
    flipped = x.copy()
    flipped[0, 0] = -x[0, 0]
    with pytest.raises(lagrad.BranchError):
        program(flipped)  # the Python integer was recorded as a branch


@pytest.mark.parametrize(
    "fun,message",
    [
        (lambda x: x.item(0), r"x.item\(\) turns traced float value .*lagrad.value"),
        (lambda x: x[0].item(), r"x.item\(\) turns traced float"),
        (lambda x: x.tolist(), r"x.tolist\(\) turns traced float"),
        (lambda x: lnp.astype(x, np.int64).item(), r"size 1"),
        (lambda x: np.put(np.zeros(3), 0, x[0]), r"put: `a` is a plain NumPy array.*at\[ind\]\.set"),
        (lambda x: lnp.take(x, [0.5]), r"indices must be integers"),
        (lambda x: lnp.take(x, [0], mode="nearest"), r"mode must be"),
        (lambda x: lnp.choose(np.array([0, 2, 1]), [x, x]), r"invalid entry in choice array"),
        (lambda x: lnp.compress(np.ones((3, 1), bool), x), r"condition must be a 1-d array"),
        (lambda x: lnp.select([x > 0.0], [x, x]), r"same length"),
        (lambda x: lnp.select([x], [x]), r"should be boolean"),
        (lambda x: lnp.diagonal(x), r"at least 2-d"),
        (lambda x: lnp.diag(lnp.reshape(x, (1, 1, 3))), r"1- or 2-d"),
        (lambda x: lnp.interp(x, [0.0, 1.0], [1.0]), r"same length"),
        (lambda x: lnp.interp(x, x, x, period=1.0), r"period=, give xp and period as plain"),
        (lambda x: lnp.take_along_axis(x, np.array([[0]]), axis=0), r"same number of dimensions"),
    ],
)
def test_clear_errors(fun, message):
    with pytest.raises((TypeError, ValueError, IndexError), match=message):
        lagrad.grad(lambda x: lnp.sum(fun(x)))(rand(3))


def test_take_along_axis_scatters():
    """The transpose of take_along_axis is one scatter-add equation, not a dense one-hot product."""
    x = rand(2, 3)
    program = lagrad.trace(lambda x: lagrad.vjp(lambda x: lnp.take_along_axis(x, _ORDER, 1), x)[1](x)[0], x)
    names = [eq.primitive.name for eq in program.equations]
    assert "untake_along_axis" in names and "einsum" not in names and "matmul" not in names


def test_take_along_axis_to_second_order_reaches_the_scatter():
    """After a nonlinear function the multiplier reaching untake_along_axis depends on x, so a
    second-order check differentiates the scatter-add (and its own transpose, the gather) too."""
    check(lambda x: lnp.take_along_axis(x, _ORDER, axis=1) ** 3, rand(2, 3))
    check(lambda x: lnp.sin(np.take_along_axis(x, np.array([5, 0, 0]), axis=None)), rand(2, 3))  # repeats
    assert PRIMITIVES["untake_along_axis"] in checked_primitives


@pytest.mark.parametrize(
    "f",
    [
        lambda x: x[:, None, :] * x[None, :, :],
        lambda x: x[None],
        lambda x: x[None, 1:3] * 2,
        lambda x: x[..., None, ::2],
        lambda x: x[1, None],
    ],
)
def test_a_new_axis_of_a_dask_array_has_its_derivative(f):
    """Dask writes through no ``None`` of an index: the transpose of ``x[:, None]`` raised
    "could not broadcast input array from shape (4, 1, 3) into shape (4, 3)" on Dask."""
    da = pytest.importorskip("dask.array")
    x = np.arange(1.0, 13.0).reshape(4, 3)
    w = np.cos(np.arange(np.size(f(x)))).reshape(np.shape(f(x)))
    loss = lambda x: lnp.sum(f(x) * w)
    expected = np.zeros_like(x)  # central differences (exact: the loss is at most quadratic)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = 0.5
        expected[i] = (loss(x + e) - loss(x - e)) / 1.0
    got = lagrad.grad(loss)(da.from_array(x, chunks=2))
    assert isinstance(got, da.Array)
    np.testing.assert_allclose(got.compute(), expected, rtol=1e-12)


def test_take_of_a_plain_dask_array_is_dasks():
    """Untraced, take hands the call to the array's library: Dask's take has no `mode`, so
    passing NumPy's default raised "take() got an unexpected keyword argument 'mode'"."""
    da = pytest.importorskip("dask.array")
    x = np.arange(12.0).reshape(4, 3)
    got = lnp.take(da.from_array(x, chunks=2), np.array([2, 0]), axis=1)
    assert isinstance(got, da.Array)
    np.testing.assert_array_equal(got.compute(), x[:, [2, 0]])
