"""Shape functions: reshape, transpose, broadcast, join, split, flip, tile, pad, differences, astype,
and the array methods on them; each NumPy function checked as lagrad.numpy.X and as plain numpy.X."""

from __future__ import annotations

import numpy as np
import pytest

import lagrad
import lagrad.numpy as lnp
from lagrad.testing import check_grads
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
    program = lagrad.trace(
        lambda x: x + lnp.ones_like(x, dtype=int) * lnp.size(x) + lnp.ndim(x) * lnp.shape(x)[0], rand(2, 2)
    )
    assert [eq.primitive.name for eq in program.equations] == ["add", "add"]  # the rest is constant


def _ode_rhs(y):
    """A right-hand side as scientific code writes it: a zero array, filled entry by entry."""
    d = np.zeros_like(y)
    d[0] = y[1]
    d[1] = -np.sin(y[0]) * y[2]
    d[2] = y[0] * y[1]
    return d


@pytest.mark.parametrize(
    "fill",
    [
        _ode_rhs,
        lambda x: _filled(np.ones_like(x), x),
        lambda x: _filled(np.full_like(x, -2.5), x),
        lambda x: _filled(lnp.zeros_like(x, dtype=np.complex128), x).real,
        lambda x: _filled(_written(np.empty_like(x, shape=(2, 3)), x), x),
    ],
    ids=["zeros_like", "ones_like", "full_like", "complex", "empty_like shape"],
)
def test_like_arrays_of_traced_floats_take_traced_writes(fill):
    y = np.array([0.3, -0.7, 1.2])
    check(lambda y: lnp.sum(fill(y) ** 2), y)
    assert np.array_equal(lagrad.value(traced_value(fill, y)), fill(y))  # the values NumPy gives


def _written(v, x):
    v[...] = x - 1.0  # every entry (empty_like's are undefined until written)
    return v


def _filled(v, x):
    v[..., ::2] = np.cos(x[::2]) * x[::2]  # a write of traced values over part of it
    v[..., 1] += x[1]  # and an in-place update
    return v * x


def test_closed_form_jacobian_of_a_filled_array():
    y = np.array([0.3, -0.7, 1.2])
    expected = np.array([[0, 1, 0], [-np.cos(y[0]) * y[2], 0, -np.sin(y[0])], [y[1], y[0], 0]])
    for mode in ("rev", "fwd"):
        assert np.allclose(lagrad.jacobian(_ode_rhs, mode=mode)(y), expected, rtol=0, atol=1e-15)


# ----- the NumPy functions built on the shape primitives, written once for both modules ---------


def traced_value(fun, *args):
    """What `fun` returns while traced (every argument a traced input)."""
    return lagrad.vjp(fun, *args)[0]


def assert_same(out, expected):
    got, want = lagrad.tree_flatten(out)[0], lagrad.tree_flatten(expected)[0]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        g = lagrad.value(g)
        assert np.shape(g) == np.shape(w) and np.asarray(g).dtype == np.asarray(w).dtype
        assert np.allclose(g, w)


def both(fun, *args, order=2):
    """`fun(m, *args)` for m = lagrad.numpy and m = numpy (NumPy's dispatch): NumPy's values
    while traced, derivatives checked (plain NumPy to first order: the rules are the same)."""
    expected = fun(np, *args)
    for m in (lnp, np):
        assert_same(traced_value(lambda *a: fun(m, *a), *args), expected)
    check(lambda *a: fun(lnp, *a), *args, order=order)
    check_grads(lambda *a: fun(np, *a), *args, order=1)  # order 1: the same rules as the lnp spelling above, at order


FUNCTIONS = [
    # flips and rotations
    ("flip", lambda m, x: m.flip(x), (4,)),
    ("flip matrix", lambda m, x: m.flip(x), (2, 3)),
    ("flip axis", lambda m, x: m.flip(x, 1), (2, 3)),
    ("flip axes", lambda m, x: m.flip(x, (0, -1)), (2, 3, 2)),
    ("flip scalar", lambda m, x: m.flip(x) * 2.0, ()),
    ("fliplr", lambda m, x: m.fliplr(x), (2, 3)),
    ("flipud", lambda m, x: m.flipud(x), (3,)),
    ("rot90", lambda m, x: m.rot90(x), (2, 3)),
    ("rot90 twice", lambda m, x: m.rot90(x, 2), (2, 3)),
    ("rot90 thrice", lambda m, x: m.rot90(x, -1), (2, 3)),
    ("rot90 axes", lambda m, x: m.rot90(x, 1, axes=(2, 1)), (2, 3, 2)),
    # repetition
    ("tile", lambda m, x: m.tile(x, 2), (3,)),
    ("tile more axes", lambda m, x: m.tile(x, (2, 1, 2)), (2, 3)),
    ("tile fewer reps", lambda m, x: m.tile(x, 2), (2, 3)),
    ("tile scalar", lambda m, x: m.tile(x, 3), ()),
    ("repeat", lambda m, x: m.repeat(x, 2), (3,)),
    ("repeat flat", lambda m, x: m.repeat(x, 2), (2, 3)),
    ("repeat counts", lambda m, x: m.repeat(x, [1, 0, 3], axis=1), (2, 3)),
    ("repeat method", lambda m, x: x.repeat(3, axis=0), (2, 3)),
    ("repeat scalar", lambda m, x: m.repeat(x, 3), ()),
    # padding
    ("pad", lambda m, x: m.pad(x, 2), (3,)),
    ("pad widths", lambda m, x: m.pad(x, ((1, 0), (2, 1))), (2, 3)),
    ("pad constant", lambda m, x: m.pad(x, 1, constant_values=1.5), (2, 3)),
    ("pad constants per axis", lambda m, x: m.pad(x, (1, 2), constant_values=((1.0, 2.0), (3.0, 4.0))), (2, 2)),
    ("pad edge", lambda m, x: m.pad(x, ((1, 2), (0, 1)), mode="edge"), (2, 3)),
    ("pad reflect", lambda m, x: m.pad(x, (2, 1), mode="reflect"), (3,)),
    ("pad symmetric", lambda m, x: m.pad(x, 2, mode="symmetric"), (2, 3)),
    ("pad wrap wide", lambda m, x: m.pad(x, (4, 5), mode="wrap"), (3,)),
    ("pad edge 3-d", lambda m, x: m.pad(x, 1, mode="edge"), (2, 1, 2)),
    ("pad linear_ramp", lambda m, x: m.pad(x, ((1, 2), (3, 0)), mode="linear_ramp", end_values=(1.0, -2.0)), (2, 3)),
    ("pad linear_ramp 1-d", lambda m, x: m.pad(x, 3, mode="linear_ramp"), (4,)),
    # promotion and joining
    ("atleast_1d", lambda m, x: m.atleast_1d(x), ()),
    ("atleast_2d", lambda m, x: m.atleast_2d(x), (3,)),
    ("atleast_3d", lambda m, x: m.atleast_3d(x), (2, 3)),
    ("atleast_3d several", lambda m, x: m.atleast_3d(x, x[0], x[0, 0]), (2, 3)),
    ("atleast_2d unchanged", lambda m, x: m.atleast_2d(x) * 1.0, (2, 1, 2)),
    ("hstack", lambda m, x: m.hstack([x, x**2]), (3,)),
    ("hstack matrices", lambda m, x: m.hstack((x, x[:, :1])), (2, 3)),
    ("vstack", lambda m, x: m.vstack([x, x[0], 2.0 * x]), (2, 3)),
    ("vstack vectors", lambda m, x: m.vstack([x, x**2]), (3,)),
    ("dstack", lambda m, x: m.dstack([x, x**2]), (2, 3)),
    ("dstack vectors", lambda m, x: m.dstack([x, x]), (3,)),
    ("column_stack", lambda m, x: m.column_stack([x, x**2]), (3,)),
    ("column_stack matrix", lambda m, x: m.column_stack([x, x[:, 0]]), (2, 3)),
    ("row_stack", lambda m, x: lnp.row_stack([x, x**2]) if m is lnp else np.vstack([x, x**2]), (3,)),
    ("block", lambda m, x: m.block([[x, x[:, :1]], [x[:1], x[:1, :1]]]), (2, 3)),
    ("block vectors", lambda m, x: m.block([x, x[:2], x[0]]), (3,)),
    ("block scalars", lambda m, x: m.block([[x[0], x[1]], [x[1], x[2]]]), (3,)),
    ("append", lambda m, x: m.append(x, x[0]), (2, 3)),
    ("append axis", lambda m, x: m.append(x, x[:1] ** 2, axis=0), (2, 3)),
    ("unstack", lambda m, x: m.unstack(x, axis=1), (2, 3)),
    # splitting
    ("split", lambda m, x: m.split(x, 2), (4,)),
    ("split axis", lambda m, x: m.split(x, 3, axis=1), (2, 3)),
    ("split indices", lambda m, x: m.split(x, [1, 3]), (5,)),
    ("array_split", lambda m, x: m.array_split(x, 3, axis=1), (2, 5)),
    ("array_split decreasing", lambda m, x: m.array_split(x, [3, 1]), (5,)),
    ("hsplit", lambda m, x: m.hsplit(x, [1]), (2, 3)),
    ("hsplit vector", lambda m, x: m.hsplit(x, 2), (4,)),
    ("vsplit", lambda m, x: m.vsplit(x, 2), (4, 2)),
    ("dsplit", lambda m, x: m.dsplit(x, [1]), (2, 1, 3)),
    # insertions, deletions, resizing
    ("insert", lambda m, x: m.insert(x, 1, 5.0), (3,)),
    ("insert flat", lambda m, x: m.insert(x, [0, 2, 2], x[0, :3] ** 2), (2, 3)),
    ("insert column", lambda m, x: m.insert(x, 1, x[:, 0] * 2.0, axis=1), (2, 3)),
    ("insert broadcast", lambda m, x: m.insert(x, [1, 3], x[0, :1], axis=1), (2, 3)),
    ("insert row", lambda m, x: m.insert(x, 2, x[0], axis=0), (2, 3)),
    ("delete", lambda m, x: m.delete(x, 1), (3,)),
    ("delete flat", lambda m, x: m.delete(x, [0, 4]), (2, 3)),
    ("delete slice", lambda m, x: m.delete(x, slice(0, 3, 2), axis=1), (2, 3)),
    ("delete mask", lambda m, x: m.delete(x, np.array([True, False]), axis=0), (2, 3)),
    ("resize", lambda m, x: m.resize(x, (4, 4)), (2, 3)),
    ("resize smaller", lambda m, x: m.resize(x, 2), (3,)),
    # grids and broadcasting
    ("broadcast_arrays", lambda m, x: m.broadcast_arrays(x, x[:1], x[0, 0]), (2, 3)),
    ("meshgrid", lambda m, x: m.meshgrid(x, x[:2] ** 2), (3,)),
    ("meshgrid ij", lambda m, x: m.meshgrid(x, x[:2], x[:1], indexing="ij"), (3,)),
    ("meshgrid sparse", lambda m, x: m.meshgrid(x[0], x[1, :2], sparse=True), (2, 3)),
    ("meshgrid one", lambda m, x: m.meshgrid(x), (3,)),
    # differences and numerical derivatives
    ("diff", lambda m, x: m.diff(x), (4,)),
    ("diff second", lambda m, x: m.diff(x, 2), (2, 4)),
    ("diff third axis", lambda m, x: m.diff(x, 3, axis=0), (4, 2)),
    ("diff 3-d", lambda m, x: m.diff(x, axis=1), (2, 3, 2)),
    ("diff prepend append", lambda m, x: m.diff(x, prepend=0.5, append=x[:, :1]), (2, 3)),
    ("diff order zero", lambda m, x: m.diff(x, 0) * 1.0, (3,)),
    ("ediff1d", lambda m, x: m.ediff1d(x), (2, 3)),
    ("ediff1d ends", lambda m, x: m.ediff1d(x, to_end=x[:2] ** 2, to_begin=-1.0), (3,)),
    ("gradient", lambda m, x: m.gradient(x), (4,)),
    ("gradient matrix", lambda m, x: m.gradient(x), (3, 4)),
    ("gradient spacing", lambda m, x: m.gradient(x, 0.5, axis=1), (3, 4)),
    ("gradient edge order", lambda m, x: m.gradient(x, 2.0, 0.5, edge_order=2), (3, 4)),
    ("gradient coordinates", lambda m, x: m.gradient(x, np.array([0.0, 0.5, 2.0, 2.5, 4.0])), (5,)),
    ("gradient coordinates 2", lambda m, x: m.gradient(x, np.array([0, 1, 3, 4.0]), axis=-1, edge_order=2), (2, 4)),
    ("gradient two points", lambda m, x: m.gradient(x), (2,)),
    # aliases and copies
    ("matrix_transpose", lambda m, x: m.matrix_transpose(x), (2, 2, 3)),
    ("permute_dims", lambda m, x: m.permute_dims(x, (2, 0, 1)), (2, 3, 2)),
    ("concat", lambda m, x: m.concat([x, x[:1]]), (2, 3)),
    ("copy", lambda m, x: m.copy(x) * 2.0, (3,)),
    ("copy method", lambda m, x: x.copy() + x.view(), (3,)),
    ("flat", lambda m, x: x.flat[1:3] * 1.0, (2, 3)),
    ("mT", lambda m, x: x.mT * 1.0, (2, 3)),
]


@pytest.mark.parametrize("name,fun,shape", FUNCTIONS, ids=[c[0] for c in FUNCTIONS])
def test_function(name, fun, shape):
    both(fun, rand(*shape))


def test_functions_of_two_arrays():
    x, y = rand(2, 3), rand(3)
    both(lambda m, x, y: m.pad(x, 1, constant_values=y[0]), x, y)
    both(lambda m, x, y: m.insert(x, [1, 1], y[:2], axis=1), x, y)
    both(lambda m, x, y: m.block([[x], [m.reshape(y, (1, 3))]]), x, y)
    both(lambda m, x, y: m.meshgrid(x[0], y, indexing="xy"), x, y)
    both(lambda m, x, y: m.gradient(x, y**2 + np.array([0.0, 1.0, 2.0]), axis=1, edge_order=2), x, y)
    both(lambda m, x, y: m.gradient(x[0], y[0] ** 2 + 0.5), x, y)
    both(lambda m, x, y: m.append(y, x), x, y)
    both(lambda m, x, y: m.diff(x, prepend=y[0], append=m.reshape(y, (3, 1))[:2]), x, y)


def test_values_without_derivative():
    x = rand(6)
    # the n-th difference of fewer than n + 1 entries is empty; of booleans, inequality
    assert_same(traced_value(lambda x: lnp.diff(x, 6), x), np.diff(x, 6))
    assert_same(traced_value(lambda x: lnp.diff(x > 0.0), x), np.diff(x > 0.0))
    assert_same(traced_value(lambda x: lnp.resize(x[:0], (2, 2)), x), np.resize(x[:0], (2, 2)))
    assert_same(traced_value(lambda x: lnp.gradient(lnp.astype(x > 0.0, np.int64)), x), np.gradient((x > 0) * 1))


def test_traced_repeat_count_is_a_guard():
    x = rand(3)

    def f(x, k):  # the count is traced: computed from the float k
        return lnp.repeat(x, lnp.astype(k, np.int64))

    check(f, x, 2.5)
    program = lagrad.trace(f, x, 2.5)
    assert np.allclose(program(x, 2.25), np.repeat(x, 2))
    with pytest.raises(lagrad.BranchError):
        program(x, 3.5)
    with pytest.raises(TypeError, match=r"repeat: traced repeat counts"):
        lagrad.trace(f, x, np.array([1.0, 2.0, 1.0]))


@pytest.mark.parametrize(
    "fun,message",
    [
        (lambda x: lnp.pad(x, 1, mode="mean"), r"pad: mode 'mean' is not supported"),
        (lambda x: lnp.pad(x, 1, mode="reflect", reflect_type="odd"), r"reflect_type='even'"),
        (lambda x: lnp.pad(x, -1), r"non-negative"),
        (lambda x: lnp.split(x, 2), r"equal division"),
        (lambda x: lnp.vsplit(x, 1), r"2 or more dimensions"),
        (lambda x: lnp.block([x, [x]]), r"different depths"),
        (lambda x: lnp.block((x, x)), r"tuple"),
        (lambda x: lnp.delete(x, lnp.astype(x[:1] > 9.0, np.int64)), r"delete: the positions"),
        (lambda x: lnp.diff(x, -1), r"non-negative"),
        (lambda x: lnp.gradient(x, 1.0, 2.0), r"spacing"),
        (lambda x: lnp.gradient(x[:1]), r"too small"),
        (lambda x: lnp.flip(x, 1), r"axis 1 is out of bounds"),
        (lambda x: x.view(np.int64), r"x.view\(dtype\)"),
        (lambda x: x.resize((2, 2)), r"x.resize\(...\) changes a traced array in place.*lagrad.numpy.resize"),
    ],
)
def test_clear_errors(fun, message):
    with pytest.raises((TypeError, ValueError, NotImplementedError, np.exceptions.AxisError), match=message):
        lagrad.grad(lambda x: lnp.sum(fun(x)))(rand(3))


def test_byte_counts_are_plain_numbers():
    from lagrad.core import registry

    x = np.zeros((2, 3), dtype=np.float32)

    def f(x):
        assert registry.methods["nbytes"](x) == 24 and registry.methods["itemsize"](x) == 4
        return lnp.sum(x)

    lagrad.grad(f)(x)


def test_pad_and_diff_rules_read_only_shapes():
    x = rand(3)
    pad_values, diff_values = lagrad.trace(lambda x: lnp.diff(lnp.pad(x, 1), 2), x).replay(x).values
    assert pad_values[0] is None and not isinstance(pad_values[1], np.ndarray)  # x: shape only
    assert diff_values == [None, None]  # the transpose needs nothing of the forward values


# ----- the plain-array paths the rules take (back-substitution calls these on NumPy values) ----


@pytest.mark.parametrize(
    "value",
    [np.arange(12.0).reshape(3, 4), np.float64(2.5), np.zeros((0, 3)), np.arange(6.0).reshape(2, 3).T],
    ids=["array", "numpy scalar", "empty", "transposed"],
)
def test_shape_functions_on_plain_values_are_numpys(value):
    shape = np.shape(value)
    size = int(np.prod(shape))
    target = (size, 1) if size else (0, 1)
    np.testing.assert_array_equal(lnp.reshape(value, target), np.reshape(value, target))
    np.testing.assert_array_equal(lnp.reshape(value, (-1,)), np.reshape(value, (-1,)))
    wide = (2, *shape)
    np.testing.assert_array_equal(lnp.broadcast_to(value, wide), np.broadcast_to(value, wide))
    assert lnp.broadcast_to(value, shape) is value  # already that shape: no new view
    if len(shape) == 2:
        np.testing.assert_array_equal(lnp.swapaxes(value, -1, -2), np.swapaxes(value, -1, -2))
    with pytest.raises(ValueError):
        lnp.reshape(value, (size + 1,))
    if shape:  # a last axis that does not broadcast
        with pytest.raises(ValueError):
            lnp.broadcast_to(value, (*shape[:-1], shape[-1] + 1))


def test_astype_of_a_plain_array_is_numpys():
    x = np.array([[1.5, np.nan], [np.inf, -0.0]])
    assert lnp.astype(x, np.float64) is x  # same dtype: no copy, as before
    converted = lnp.astype(x, np.float32)
    assert converted.dtype == np.float32
    np.testing.assert_array_equal(converted, x.astype(np.float32))
    assert lnp.astype(np.array([True, False]), np.float64).tolist() == [1.0, 0.0]


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_a_reverse_jacobian_of_stack_and_concat_on_strict_arrays(axis):
    """A batched transpose indexes the library's arrays, which need every axis named (a
    trailing ``...``): stack's raised IndexError on array-api-strict in ``jacobian(mode='rev')``."""
    xp = pytest.importorskip("array_api_strict")
    x = np.arange(1.0, 7.0).reshape(2, 3)
    eye = np.eye(6).reshape(2, 3, 2, 3)  # d x / d x
    cases = [
        (lambda x: lnp.stack([x, 2 * x], axis=axis), np.stack([eye, 2 * eye], axis=axis % 3)),
        (lambda x: lnp.concat([x, 2 * x], axis=axis), np.concatenate([eye, 2 * eye], axis=axis % 2)),
    ]
    for f, expected in cases:
        jac = lagrad.jacobian(f, mode="rev")(xp.asarray(x))
        np.testing.assert_array_equal(np.asarray(jac), expected)
