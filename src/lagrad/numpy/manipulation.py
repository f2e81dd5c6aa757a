"""Shape functions: reshape, transpose, broadcast, join, split, flip, tile, pad, differences.

Each is linear in its array argument, so its tangent rule is the function
itself applied to the tangent and only the transpose is written out. Most of
the NumPy API here is composed from a few primitives (reshape, transpose,
broadcast_to, concatenate, slicing); zero padding and n-th differences have
their own, whose transposes are a crop and a difference of the padded
multiplier. The shared `unbroadcast` (sum a broadcast multiplier back to an
argument's shape) lives here and is what the solvers call for elementwise
primitives. On plain arrays the public functions are NumPy's own.
"""

from __future__ import annotations

import builtins
import itertools
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core import Aval, Var, defbatch, defjvp_joint, deflinear, defvjp_argnum, registry
from ..core.backend import _plain as _plain_of
from ..core.backend import in_namespace, is_lazy, namespace_of, numpy_dtype
from ..inplace import View, adopt_view
from . import reductions
from ._namespace import namespace_dtype
from ._register import array_like, function, holds_traced, method, nondiff, prim

__all__ = [
    "append",
    "apply_along_axis",
    "array_split",
    "astype",
    "atleast_1d",
    "atleast_2d",
    "atleast_3d",
    "block",
    "broadcast_arrays",
    "broadcast_to",
    "c_",
    "column_stack",
    "concat",
    "concatenate",
    "copy",
    "delete",
    "diff",
    "dsplit",
    "dstack",
    "ediff1d",
    "empty_like",
    "expand_dims",
    "flip",
    "fliplr",
    "flipud",
    "full_like",
    "geomspace",
    "gradient",
    "hsplit",
    "hstack",
    "insert",
    "linspace",
    "logspace",
    "matrix_transpose",
    "meshgrid",
    "moveaxis",
    "ndim",
    "ones_like",
    "pad",
    "permute_dims",
    "r_",
    "ravel",
    "repeat",
    "reshape",
    "resize",
    "roll",
    "rollaxis",
    "rot90",
    "row_stack",
    "shape",
    "size",
    "sliding_window_view",
    "split",
    "squeeze",
    "stack",
    "swapaxes",
    "tile",
    "transpose",
    "unbroadcast",
    "unstack",
    "unwrap",
    "vsplit",
    "vstack",
    "zeros_like",
]


def shape_of(a: Any) -> tuple[int, ...]:
    """The shape of an array, traced value, Python scalar or (nested) list, without NumPy's dispatch."""
    if hasattr(a, "shape"):
        return tuple(a.shape)
    if isinstance(a, (list, tuple)) and holds_traced(a):
        return (len(a), *shape_of(a[0]))
    return np.shape(a)


def _normalize_axis(axis: int, ndim: int) -> int:
    return axis + ndim if axis < 0 else axis


def axis_index(axis: Any, ndim: int) -> int:
    """`axis` as an index in [0, ndim), or NumPy's AxisError."""
    axis = int(axis)
    if not -ndim <= axis < ndim:
        raise np.exceptions.AxisError(axis, ndim)
    return axis + ndim if axis < 0 else axis


def traced(*objs: Any) -> bool:
    """Whether any of `objs` (looking inside lists and tuples) is a traced value: if none
    is, the public functions hand the call to NumPy unchanged."""
    return any(type(o) is Var or (isinstance(o, (list, tuple)) and traced(*o)) for o in objs)


def along(axis: int, index: Any) -> tuple[Any, ...]:
    """The index that applies `index` (a slice, an integer or an index array) along `axis`."""
    return (slice(None),) * axis + (index,)


def _inverse_permutation(axes: Sequence[int]) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argsort(axes))


_reshape = prim("reshape", lambda x, shape: np.reshape(x, shape))
_transpose = prim("transpose", lambda x, axes: np.transpose(x, axes))
_broadcast_to = prim("broadcast_to", lambda x, shape: np.broadcast_to(x, shape))
_moveaxis = prim("moveaxis", lambda x, source, destination: np.moveaxis(x, source, destination))


def _roll_kernel(x: Any, shift: Any, axis: Any) -> Any:
    """numpy.roll; one integer shift along one axis is two slices joined (NumPy's general
    version costs several times more on small arrays, and roll is a simulation's inner loop)."""
    if isinstance(shift, tuple) or isinstance(axis, tuple) or x.ndim == 0:
        return np.roll(x, shift, axis)
    if axis is None:
        return _roll_kernel(x, shift, 0) if x.ndim == 1 else _roll_kernel(x.reshape(-1), shift, 0).reshape(x.shape)
    n = x.shape[axis]
    if n == 0:
        return x.copy()
    k = shift % n
    if k == 0:
        return x.copy()
    index = (slice(None),) * (axis % x.ndim)
    return np.concatenate((x[(*index, slice(n - k, None))], x[(*index, slice(0, n - k))]), axis=axis)


_roll = prim("roll", _roll_kernel)
_astype = prim("astype", lambda x, dtype: x.astype(dtype) if hasattr(x, "astype") else np.asarray(x, dtype))
_concatenate = prim("concatenate", lambda *xs, axis: np.concatenate(xs, axis))
_stack = prim("stack", lambda *xs, axis: np.stack(xs, axis))


def _interior(widths: tuple[tuple[int, int], ...], shape: tuple[int, ...]) -> tuple[slice, ...]:
    """Where an array of `shape` sits inside its padding."""
    return tuple(slice(before, before + n) for (before, _), n in zip(widths, shape))


def _pad_impl(x: Any, widths: tuple[tuple[int, int], ...]) -> Any:
    """Zeros around `x`, `widths[d]` = (before, after) along axis d (numpy.pad's constant mode)."""
    out = np.zeros(tuple(n + b + a for n, (b, a) in zip(x.shape, widths)), dtype=x.dtype)
    out[_interior(widths, x.shape)] = x
    return out


_pad = prim("pad", _pad_impl)
_diff = prim("diff", lambda x, n, axis: np.diff(x, n, axis))


def _diff_transpose(g: Any, n: int, axis: int) -> Any:
    """The transpose of the n-th difference: the n-th difference of g padded with n zeros
    on each side, negated for odd n (the first difference's transpose is -diff(pad(g)))."""
    widths = tuple((n, n) if d == axis else (0, 0) for d in range(g.ndim))
    d = _diff(_pad(g, widths=widths), n=n, axis=axis)
    return -d if n % 2 else d


def _concatenate_vjp(argnum: int, g: Any, ans: Any, *xs: Any, axis: int) -> Any:
    axis = _normalize_axis(axis, ans.ndim)
    start = builtins.sum(x.shape[axis] for x in xs[:argnum])
    index = (slice(None),) * axis + (slice(start, start + xs[argnum].shape[axis]), Ellipsis)
    return g[index]


def _stack_vjp(argnum: int, g: Any, ans: Any, *xs: Any, axis: int) -> Any:
    axis = _normalize_axis(axis, ans.ndim)
    return g[(slice(None),) * axis + (argnum, Ellipsis)]


def _concatenate_bvjp(argnum: int, g: Any, ans: Any, *xs: Any, axis: int) -> Any:
    axis = _normalize_axis(axis, ans.ndim)
    start = builtins.sum(x.shape[axis] for x in xs[:argnum])
    return g[(slice(None),) * (axis + 1) + (slice(start, start + xs[argnum].shape[axis]), Ellipsis)]


def _stack_bvjp(argnum: int, g: Any, ans: Any, *xs: Any, axis: int) -> Any:
    axis = _normalize_axis(axis, ans.ndim)
    return g[(slice(None),) * (axis + 1) + (argnum, Ellipsis)]


def _joined_tangent_batched(join: Any) -> Any:
    def jvp(tangents: list[Any], ans: Any, *xs: Any, axis: int) -> Any:
        first = next(t for t in tangents if t is not None)
        k, dtype = first.shape[0], first.dtype
        parts = [t if t is not None else np.zeros((k, *x.shape), dtype=dtype) for t, x in zip(tangents, xs)]
        return join(*parts, axis=_normalize_axis(axis, ans.ndim) + 1)

    return jvp


def _joined_tangent(join: Any) -> Any:
    def jvp(tangents: list[Any], ans: Any, *xs: Any, axis: int) -> Any:
        dtype = next(t for t in tangents if t is not None).dtype
        parts = [t if t is not None else _plain_zeros_like(x, dtype=dtype) for t, x in zip(tangents, xs)]
        return join(*parts, axis=axis)

    return jvp


# fmt: off
deflinear(_reshape,      lambda g, ans, x, shape: reshape(g, x.shape))
deflinear(_transpose,    lambda g, ans, x, axes: transpose(g, _inverse_permutation(axes)))
deflinear(_broadcast_to, lambda g, ans, x, shape: unbroadcast(g, x.shape))
deflinear(_moveaxis,     lambda g, ans, x, source, destination: moveaxis(g, destination, source))
deflinear(_roll,         lambda g, ans, x, shift, axis: _roll(g, shift=_negate(shift), axis=axis))
deflinear(_astype,       lambda g, ans, x, dtype: astype(_real_for(g, x.dtype), x.dtype))
deflinear(_pad,          lambda g, ans, x, widths: g[_interior(widths, x.shape)])
deflinear(_diff,         lambda g, ans, x, n, axis: _diff_transpose(g, n, axis))
defvjp_argnum(_concatenate, _concatenate_vjp, reads="shapes")
defvjp_argnum(_stack,       _stack_vjp,       reads="shapes")
defjvp_joint(_concatenate,  _joined_tangent(_concatenate), reads="shapes")
defjvp_joint(_stack,        _joined_tangent(_stack),       reads="shapes")
defbatch(_reshape,
         vjps={0: lambda g, ans, x, shape: reshape(g, (g.shape[0], *x.shape))},
         jvps={0: lambda t, ans, x, shape: reshape(t, (t.shape[0], *shape))})
defbatch(_transpose,
         vjps={0: lambda g, ans, x, axes: transpose(g, _batched_axes(_inverse_permutation(axes)))},
         jvps={0: lambda t, ans, x, axes: transpose(t, _batched_axes(axes))})
defbatch(_broadcast_to,
         vjps={0: lambda g, ans, x, shape: unbroadcast_batched(g, x.shape)},
         jvps={0: lambda t, ans, x, shape: broadcast_batched(t, shape)})
defbatch(_concatenate, vjp_argnum=_concatenate_bvjp, jvp_joint=_joined_tangent_batched(_concatenate))
defbatch(_stack,       vjp_argnum=_stack_bvjp,       jvp_joint=_joined_tangent_batched(_stack))
defbatch(_moveaxis,
         vjps={0: lambda g, ans, x, source, destination: _moveaxis_batched(g, destination, source)},
         jvps={0: lambda t, ans, x, source, destination: _moveaxis_batched(t, source, destination)})
defbatch(_astype,
         vjps={0: lambda g, ans, x, dtype: astype(_real_for(g, x.dtype), x.dtype)},
         jvps={0: lambda t, ans, x, dtype: _astype(t, dtype=dtype)})
# fmt: on


def _real_for(g: Any, dtype: Any) -> Any:
    """The real part of a complex multiplier headed for a real variable."""
    if numpy_dtype(g.dtype).kind == "c" and numpy_dtype(dtype).kind != "c":
        return registry.ops.real(g)
    return g


def _negate(shift: Any) -> Any:
    return tuple(-s for s in shift) if isinstance(shift, tuple) else -shift


_add_reduce = np.add.reduce  # numpy.sum of an array, without its dispatch


def unbroadcast(g: Any, shape: tuple[int, ...]) -> Any:
    """Sum `g`, an elementwise result broadcast from an argument, back to that argument's shape."""
    gshape = g.shape
    if gshape == shape:
        return g
    lead = len(gshape) - len(shape)
    if lead < 0:
        return broadcast_to(g, shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape) if n == 1 and gshape[i + lead] != 1)
    if axes:  # the sum primitive itself (NumPy's reduction on a plain array): the axes are already normalised
        g = _add_reduce(g, axes) if type(g) is np.ndarray else reductions._sum(g, axis=axes, keepdims=False)
    return g if g.shape == shape else reshape(g, shape)


def unbroadcast_batched(g: Any, shape: tuple[int, ...]) -> Any:
    """`unbroadcast` of k stacked results: `g` is ``(k, ...)``, the result ``(k, *shape)``."""
    gshape = g.shape
    k = gshape[0]
    if gshape[1:] == shape:
        return g
    lead = len(gshape) - 1 - len(shape)
    if lead < 0:
        return broadcast_batched(g, shape)
    axes = tuple(range(1, 1 + lead))
    axes += tuple(i + 1 + lead for i, n in enumerate(shape) if n == 1 and gshape[i + 1 + lead] != 1)
    if axes:
        g = _add_reduce(g, axes) if type(g) is np.ndarray else reductions._sum(g, axis=axes, keepdims=False)
    return g if g.shape[1:] == shape else reshape(g, (k, *shape))


def broadcast_batched(t: Any, shape: tuple[int, ...]) -> Any:
    """`broadcast_to` of k stacked values: `t` is ``(k, ...)``, the result ``(k, *shape)``."""
    k, tshape = t.shape[0], t.shape[1:]
    pad = len(shape) - len(tshape)
    if pad > 0:
        t = reshape(t, (k, *(1,) * pad, *tshape))
    return t if t.shape[1:] == shape else broadcast_to(t, (k, *shape))


def _plus1(axes: Sequence[int]) -> tuple[int, ...]:
    return tuple(int(a) + 1 for a in axes)


def _moveaxis_batched(g: Any, source: Sequence[int], destination: Sequence[int]) -> Any:
    return _moveaxis(g, source=_plus1(source), destination=_plus1(destination))


def _batched_axes(axes: Sequence[int]) -> tuple[int, ...]:
    return (0, *(int(a) + 1 for a in axes))


# ----- views: how a write through a reshape or a transpose reaches the array it came from -----


class ViewKind:
    """One way NumPy takes a view: `derive(parent, param)` records it from the parent,
    `value(parent_value, param)` computes it on a plain value, `restore(parent, new,
    param)` writes `new` back into the parent (None: writes refuse, with `refusal`
    saying why and what to do)."""

    __slots__ = ("name", "derive", "value", "restore", "refusal")

    def __init__(self, name: str, derive: Any, value: Any, restore: Any = None, refusal: str = "") -> None:
        self.name = name
        self.derive = derive
        self.value = value
        self.restore = restore
        self.refusal = refusal


def view_of(out: Any, parent: Any, kind: ViewKind, param: Any = None) -> Any:
    """`out`, recorded from the traced `parent`, made a view of it (`parent` None: a copy
    that refuses writes); plain values and values of other traces are left as they are."""
    if (
        type(out) is Var
        and out is not parent
        and (parent is None or (type(parent) is Var and out._trace is parent._trace))
    ):
        adopt_view(out, View(parent, kind, param))
    return out


def shares_memory(out: Any, a: Any) -> bool:
    """Whether NumPy's own operation made `out` a view of `a` (their values' layouts
    are NumPy's, so the forward values answer it)."""
    out, a = _value(out), _value(a)
    if is_lazy(out) or namespace_of(out) is not None:  # no memory to ask (Dask, array-api-strict,
        return True  # CuPy): a reshape behaves as NumPy's of a C-ordered array, a view
    return out.size == 0 or np.may_share_memory(out, a)


def _value(x: Any) -> Any:
    while type(x) is Var:
        x = x.value
    return x


RESHAPE = ViewKind(
    "reshape",
    lambda p, shape: _reshape(p, shape=shape),
    np.reshape,
    lambda p, new, shape: _reshape(new, shape=shape_of(p)),
)
RESHAPED_COPY = ViewKind(
    "reshape",
    None,
    None,
    refusal="it was reshaped from an array whose layout NumPy cannot reshape without copying "
    "(a transpose or a strided slice), so NumPy writes into a copy and the original never sees "
    "the write. Write into the original before reshaping, or make the copy explicit: "
    "`y = x.reshape(shape).copy()`",
)
TRANSPOSE = ViewKind(
    "transpose",
    lambda p, axes: _transpose(p, axes=axes),
    np.transpose,
    lambda p, new, axes: _transpose(new, axes=_inverse_permutation(axes)),
)
MOVEAXIS = ViewKind(
    "moveaxis",
    lambda p, moves: _moveaxis(p, source=moves[0], destination=moves[1]),
    lambda p, moves: np.moveaxis(p, *moves),
    lambda p, new, moves: _moveaxis(new, source=moves[1], destination=moves[0]),
)
BROADCAST = ViewKind(
    "broadcast_to",
    lambda p, shape: _broadcast_to(p, shape=shape),
    np.broadcast_to,
    refusal="it is a broadcast view (numpy.broadcast_to), which NumPy makes read-only; "
    "write into a copy: `y = lagrad.numpy.broadcast_to(x, shape).copy()`",
)


# ----- the NumPy API ------------------------------------------------------------


@function(np.reshape)
def reshape(a: Any, shape: Any = None, order: str = "C", *, newshape: Any = None, copy: Any = None) -> Any:
    """`a` with a new shape (C order)."""
    if (type(a) is np.ndarray or isinstance(a, np.generic)) and type(shape) is tuple and order == "C" and copy is None:
        return a.reshape(shape)  # a plain array or scalar (the rules' common case): NumPy's own method
    if shape is None:
        shape = newshape
    if order != "C":
        raise NotImplementedError("lagrad.numpy.reshape: only order='C' is supported")
    shape = (int(shape),) if np.ndim(shape) == 0 else tuple(int(s) for s in shape)
    if -1 in shape:
        known = int(np.prod([s for s in shape if s != -1]))
        size = int(np.prod(shape_of(a)))
        shape = tuple(size // known if s == -1 and known else s for s in shape)
    if shape == shape_of(a):
        return a
    out = _reshape(a, shape=shape)
    if type(a) is not Var:
        return out
    return view_of(out, a, RESHAPE, shape) if shares_memory(out, a) else view_of(out, None, RESHAPED_COPY)


@method("reshape")
def _reshape_method(a: Any, *shape: Any, order: str = "C") -> Any:
    if len(shape) == 1 and not isinstance(shape[0], int):
        shape = shape[0]
    return reshape(a, shape, order)


@function(np.ravel)
@method("ravel")
def ravel(a: Any, order: str = "C") -> Any:
    return reshape(a, (-1,), order)


@method("flatten")
def flatten(a: Any, order: str = "C") -> Any:
    """A 1-d copy of `a` (never a view, unlike ravel)."""
    return copy(ravel(a, order))


@function(np.transpose)
def transpose(a: Any, axes: Any = None) -> Any:
    """`a` with its axes permuted (reversed when `axes` is None)."""
    ndim = len(shape_of(a))
    axes = tuple(range(ndim))[::-1] if axes is None else tuple(axis_index(i, ndim) for i in axes)
    if axes == tuple(range(ndim)):
        return a
    return view_of(_transpose(a, axes=axes), a, TRANSPOSE, axes)


@method("transpose")
def _transpose_method(a: Any, *axes: Any) -> Any:
    if len(axes) == 1 and not isinstance(axes[0], int):
        axes = axes[0]
    return transpose(a, axes or None)


@method("T")
def _T(a: Any) -> Any:
    return transpose(a)


@method("mT")
def _mT(a: Any) -> Any:
    return swapaxes(a, -1, -2)


@function(np.swapaxes)
@method("swapaxes")
def swapaxes(a: Any, axis1: int, axis2: int) -> Any:
    if type(a) is np.ndarray:  # a plain array (the rules' common case)
        return a.swapaxes(axis1, axis2)
    ndim = len(shape_of(a))
    axes = list(range(ndim))
    i, j = axis_index(axis1, ndim), axis_index(axis2, ndim)
    axes[i], axes[j] = axes[j], axes[i]
    return transpose(a, axes)


@function(np.matrix_transpose)
def matrix_transpose(x: Any, /) -> Any:
    """`x` with its last two axes swapped (a stack of transposed matrices)."""
    if len(shape_of(x)) < 2:
        raise ValueError("lagrad.numpy.matrix_transpose: the array must be at least 2-d")
    return swapaxes(x, -1, -2)


permute_dims = transpose


@function(np.moveaxis)
def moveaxis(a: Any, source: Any, destination: Any) -> Any:
    ndim = len(shape_of(a))
    src = tuple(_normalize_axis(int(s), ndim) for s in np.atleast_1d(source))
    dst = tuple(_normalize_axis(int(d), ndim) for d in np.atleast_1d(destination))
    if src == dst:
        return a
    return view_of(_moveaxis(a, source=src, destination=dst), a, MOVEAXIS, (src, dst))


@function(np.rollaxis)
def rollaxis(a: Any, axis: int, start: int = 0) -> Any:
    """numpy.rollaxis: `axis` moved to lie before position `start` (moveaxis's older form)."""
    n = len(shape_of(a))
    axis = axis_index(axis, n)
    if not -n <= start <= n:
        raise np.exceptions.AxisError(f"'start' arg requires {-n} <= start < {n + 1}, but {start} was passed in")
    start = start + n if start < 0 else start
    if axis < start:
        start -= 1
    return a if axis == start else moveaxis(a, axis, start)


@function(np.lib.stride_tricks.sliding_window_view)
def sliding_window_view(
    x: Any, window_shape: Any, axis: Any = None, *, subok: bool = False, writeable: bool = False
) -> Any:
    """numpy.lib.stride_tricks.sliding_window_view: every window of `window_shape` along
    `axis`, as a gather (a copy here, where NumPy gives a read-only view)."""
    if not traced(x):
        return np.lib.stride_tricks.sliding_window_view(x, window_shape, axis, subok=subok, writeable=writeable)
    if writeable:
        raise ValueError("lagrad.numpy.sliding_window_view: a traced array's windows cannot be writeable")
    x = array_like(x)
    shape = shape_of(x)
    positions = np.lib.stride_tricks.sliding_window_view(
        np.arange(int(np.prod(shape))).reshape(shape), window_shape, axis
    )
    return ravel(x)[positions]


@function(np.expand_dims)
def expand_dims(a: Any, axis: Any) -> Any:
    shape = np.expand_dims(np.empty(shape_of(a), dtype=np.bool_), axis).shape
    return reshape(a, shape)


@function(np.squeeze)
@method("squeeze")
def squeeze(a: Any, axis: Any = None) -> Any:
    shape = np.squeeze(np.empty(shape_of(a), dtype=np.bool_), axis).shape
    return reshape(a, shape)


@function(np.broadcast_to)
def broadcast_to(array: Any, shape: Any, subok: bool = False) -> Any:
    if (type(array) is np.ndarray or isinstance(array, np.generic)) and type(shape) is tuple:  # the rules' common case
        return array if array.shape == shape else np.broadcast_to(array, shape)
    shape = (int(shape),) if np.ndim(shape) == 0 else tuple(int(s) for s in shape)
    if np.shape(array) == shape:
        return array
    return view_of(_broadcast_to(array, shape=shape), array, BROADCAST, shape)


@function(np.roll)
def roll(a: Any, shift: Any, axis: Any = None) -> Any:
    """`a` shifted cyclically along `axis`."""
    shift = tuple(int(s) for s in shift) if isinstance(shift, (tuple, list)) else int(shift)
    axis = tuple(int(s) for s in axis) if isinstance(axis, (tuple, list)) else axis
    for ax in () if axis is None else np.atleast_1d(axis):
        axis_index(ax, len(shape_of(a)))  # NumPy's AxisError
    return _roll(a, shift=shift, axis=axis)


@method("astype")
def astype(x: Any, dtype: Any, order: str = "K", casting: str = "unsafe", subok: bool = True, copy: bool = True) -> Any:
    """`x` converted to `dtype`; no derivative flows into integer or boolean results."""
    dtype = numpy_dtype(dtype)
    if type(x) is np.ndarray and casting == "unsafe" and order == "K":  # a plain array (the rules' common case)
        return x if dtype == x.dtype else x.astype(dtype)
    if not hasattr(x, "dtype"):  # a Python number or a list
        x = np.asarray(x)
    if numpy_dtype(x.dtype) == dtype:
        return x._alias() if copy and type(x) is Var else x
    return _astype(x, dtype=dtype)


@function(np.astype)
def _astype_function(x: Any, dtype: Any, /, *, copy: bool = True, device: Any = None) -> Any:
    return astype(x, dtype)


def _join_arrays(name: str, arrays: Any, out: Any, dtype: Any, casting: Any) -> list[Any]:
    if out is not None or dtype is not None:
        raise TypeError(f"lagrad.numpy.{name}: out= and dtype= are not supported on traced values")
    arrays = [array_like(a) for a in _as_list(name, arrays)]
    return arrays


@function(np.concatenate)
def concatenate(arrays: Any, axis: Any = 0, out: Any = None, *, dtype: Any = None, casting: Any = "same_kind") -> Any:
    """The arrays joined along an existing axis."""
    arrays = _join_arrays("concatenate", arrays, out, dtype, casting)
    if axis is None:
        arrays, axis = [ravel(a) for a in arrays], 0
    return _concatenate(*arrays, axis=int(axis))


concat = concatenate


@function(np.stack)
def stack(arrays: Any, axis: int = 0, out: Any = None, *, dtype: Any = None, casting: Any = "same_kind") -> Any:
    """The arrays joined along a new axis."""
    arrays = _join_arrays("stack", arrays, out, dtype, casting)
    return _stack(*arrays, axis=int(axis))


@function(np.unstack)
def unstack(x: Any, /, *, axis: int = 0) -> tuple[Any, ...]:
    """The slices of `x` along `axis`, as a tuple (the inverse of stack)."""
    if not traced(x):
        return np.unstack(x, axis=axis)
    axis = axis_index(axis, len(shape_of(x)))
    return tuple(x[along(axis, i)] for i in range(shape_of(x)[axis]))


# ----- flips and rotations: reversed slices -------------------------------------


@function(np.flip)
def flip(m: Any, axis: Any = None) -> Any:
    """`m` with the order of its entries reversed along `axis` (all axes when None)."""
    if not traced(m):
        return np.flip(m, axis)
    ndim = len(shape_of(m))
    axes = reductions.normalize_axes(axis, ndim)
    if not axes:
        return m
    return m[tuple(slice(None, None, -1) if d in axes else slice(None) for d in range(ndim))]


@function(np.fliplr)
def fliplr(m: Any) -> Any:
    """`m` reversed along axis 1."""
    if len(shape_of(m)) < 2:
        raise ValueError("lagrad.numpy.fliplr: the array must be at least 2-d")
    return flip(m, 1)


@function(np.flipud)
def flipud(m: Any) -> Any:
    """`m` reversed along axis 0."""
    if len(shape_of(m)) < 1:
        raise ValueError("lagrad.numpy.flipud: the array must be at least 1-d")
    return flip(m, 0)


@function(np.rot90)
def rot90(m: Any, k: int = 1, axes: Any = (0, 1)) -> Any:
    """`m` rotated by k quarter turns in the plane of `axes`, from the first axis towards the second."""
    if not traced(m):
        return np.rot90(m, k, axes)
    ndim = len(shape_of(m))
    if len(axes) != 2:
        raise ValueError("lagrad.numpy.rot90: axes must name two axes")
    a0, a1 = axis_index(axes[0], ndim), axis_index(axes[1], ndim)
    if a0 == a1:
        raise ValueError("lagrad.numpy.rot90: the two axes must differ")
    k = int(k) % 4
    if k == 0:
        return m
    if k == 2:
        return flip(m, (a0, a1))
    order = list(range(ndim))
    order[a0], order[a1] = a1, a0
    return transpose(flip(m, a1), order) if k == 1 else flip(transpose(m, order), a1)


# ----- repetition: broadcast a length-1 axis, then merge it --------------------------


@function(np.tile)
def tile(A: Any, reps: Any) -> Any:
    """`A` repeated `reps` times along each axis (the transpose sums the copies)."""
    if not traced(A):
        return np.tile(A, reps)
    reps = (int(reps),) if np.ndim(reps) == 0 else tuple(int(r) for r in reps)
    shape = shape_of(A)
    n = max(len(reps), len(shape))
    reps = (1,) * (n - len(reps)) + reps
    shape = (1,) * (n - len(shape)) + shape
    if builtins.all(r == 1 for r in reps):
        return reshape(A, shape)
    spread_out = tuple(v for s in shape for v in (1, s))
    copies = tuple(v for r, s in zip(reps, shape) for v in (r, s))
    return reshape(broadcast_to(reshape(A, spread_out), copies), tuple(r * s for r, s in zip(reps, shape)))


@function(np.repeat)
@method("repeat")
def repeat(a: Any, repeats: Any, axis: Any = None) -> Any:
    """Each entry of `a` repeated `repeats` times along `axis` (the flattened array when None)."""
    if not traced(a, repeats):
        return np.repeat(a, repeats, axis)
    if type(repeats) is Var:
        if repeats.ndim:
            raise TypeError(
                "lagrad.numpy.repeat: traced repeat counts set the result's shape; give them as "
                "plain integers (lagrad.value(counts))"
            )
        repeats = int(repeats)  # recorded as a guard
    if axis is None:
        a, axis = ravel(a), 0
    shape = shape_of(a)
    axis = axis_index(axis, len(shape))
    counts = np.asarray(repeats)
    if counts.ndim == 0 or counts.size == 1:
        r = int(counts.reshape(()))
        inner = (*shape[: axis + 1], 1, *shape[axis + 1 :])
        copies = (*shape[: axis + 1], r, *shape[axis + 1 :])
        out = (*shape[:axis], shape[axis] * r, *shape[axis + 1 :])
        return reshape(broadcast_to(reshape(a, inner), copies), out)
    source = np.repeat(np.arange(shape[axis]), counts)
    return a[along(axis, source)]


# ----- padding ----------------------------------------------------------------------

_GATHER_MODES = ("edge", "reflect", "symmetric", "wrap")


@function(np.pad)
def pad(array: Any, pad_width: Any, mode: str = "constant", **kwargs: Any) -> Any:
    """`array` padded: with constants (zeros by default), or with its own entries in the
    modes edge, reflect, symmetric and wrap (a gather, whose transpose scatters back)."""
    if not traced(array, kwargs.get("constant_values"), kwargs.get("end_values")):
        return np.pad(array, pad_width, mode, **kwargs)
    array = array_like(array)
    shape = shape_of(array)
    widths = np.broadcast_to(np.asarray(pad_width), (len(shape), 2))
    if widths.dtype.kind not in "iu" or np.any(widths < 0):
        raise ValueError("lagrad.numpy.pad: pad_width must be non-negative integers")
    widths = tuple((int(b), int(a)) for b, a in widths)
    if mode == "constant":
        values = kwargs.pop("constant_values", 0)
        if kwargs:
            raise TypeError(f"lagrad.numpy.pad: unsupported keywords {sorted(kwargs)} for mode 'constant'")
        out = _pad(array, widths=widths) if builtins.any(b or a for b, a in widths) else array
        if type(values) is Var:
            if values.ndim:
                raise TypeError(
                    "lagrad.numpy.pad: a traced constant_values must be one number; give "
                    "per-axis values as plain numbers"
                )
            border = np.pad(np.zeros(shape, dtype=bool), widths, constant_values=True)
            return out + astype(values, array.dtype) * border
        if np.any(np.asarray(values) != 0):
            return out + np.pad(np.zeros(shape, dtype=array.dtype), widths, constant_values=values)
        return out
    if mode == "linear_ramp":
        return _linear_ramp(array, widths, kwargs.pop("end_values", 0), kwargs)
    if mode not in _GATHER_MODES:
        raise NotImplementedError(
            f"lagrad.numpy.pad: mode {mode!r} is not supported on traced values; use 'constant', "
            f"'linear_ramp', {', '.join(repr(m) for m in _GATHER_MODES)}"
        )
    if kwargs.get("reflect_type", "even") != "even":
        raise NotImplementedError("lagrad.numpy.pad: only reflect_type='even' is supported on traced values")
    if builtins.any(n == 0 and (b or a) for n, (b, a) in zip(shape, widths)):
        raise ValueError(f"lagrad.numpy.pad: can't extend an empty axis in mode {mode!r}")
    sources = [np.pad(np.arange(n), w, mode) for n, w in zip(shape, widths)]
    return array[np.ix_(*sources)] if shape else array


# ----- ranges with traced endpoints ----------------------------------------------------------


@function(np.linspace)
def linspace(
    start: Any,
    stop: Any,
    num: int = 50,
    endpoint: bool = True,
    retstep: bool = False,
    dtype: Any = None,
    axis: int = 0,
    *,
    device: Any = None,
) -> Any:
    """numpy.linspace: `num` evenly spaced samples from `start` to `stop`, differentiable in
    both (array endpoints give one line per entry, along `axis`)."""
    if not traced(start, stop):
        return np.linspace(start, stop, num, endpoint, retstep, dtype, axis, device=device)
    num = operator.index(num)
    start, stop = array_like(start), array_like(stop)
    div = num - 1 if endpoint else num
    start, stop = broadcast_arrays(start * 1.0, stop * 1.0)
    ndim = len(shape_of(start))
    k = np.arange(num, dtype=float).reshape((-1,) + (1,) * ndim)
    k = in_namespace(k, _plain_of(start))  # array-api-strict, CuPy: the positions in start's library
    step = (stop - start) / div if div > 0 else (stop - start) * np.nan
    y = start + step * k if div > 0 else start + (stop - start) * k  # traced values first (another namespace's k)
    if endpoint and num > 1:
        y = concatenate([y[: num - 1], expand_dims(stop, 0)], axis=0)
    y = moveaxis(y, 0, axis_index(axis, ndim + 1))
    y = y if dtype is None else astype(y, dtype)
    return (y, step) if retstep else y


@function(np.logspace)
def logspace(
    start: Any, stop: Any, num: int = 50, endpoint: bool = True, base: Any = 10.0, dtype: Any = None, axis: int = 0
) -> Any:
    """numpy.logspace: ``base ** linspace(start, stop)``, differentiable in the endpoints and `base`."""
    if not traced(start, stop, base):
        return np.logspace(start, stop, num, endpoint, base, dtype, axis)
    exponents = linspace(start, stop, num, endpoint, axis=axis)
    base = array_like(base)
    if len(shape_of(base)):
        base = expand_dims(base, axis_index(axis, len(shape_of(exponents))))
    y = base**exponents
    return y if dtype is None else astype(y, dtype)


@function(np.geomspace)
def geomspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, dtype: Any = None, axis: int = 0) -> Any:
    """numpy.geomspace: samples evenly spaced on a log scale (real endpoints of one sign),
    with the endpoints exact, as NumPy makes them."""
    if not traced(start, stop):
        return np.geomspace(start, stop, num, endpoint, dtype, axis)
    start, stop = broadcast_arrays(array_like(start) * 1.0, array_like(stop) * 1.0)
    if np.any(reductions.plain_value(start) == 0) or np.any(reductions.plain_value(stop) == 0):
        raise ValueError("lagrad.numpy.geomspace: Geometric sequence cannot include zero")
    sign = np.sign(reductions.plain_value(start))
    if np.any(sign != np.sign(reductions.plain_value(stop))):
        raise NotImplementedError(
            "lagrad.numpy.geomspace: endpoints of opposite signs are not supported on traced values"
        )
    y = sign * _exp(linspace(_log(sign * start), _log(sign * stop), num, endpoint))
    if num > 0:
        ends = [expand_dims(start, 0), y[1 : num - 1 if endpoint else num]]
        y = concatenate([*ends, expand_dims(stop, 0)] if endpoint and num > 1 else ends, axis=0)
    y = moveaxis(y, 0, axis_index(axis, len(shape_of(start)) + 1))
    return y if dtype is None else astype(y, dtype)


def _exp(x: Any) -> Any:
    return registry.ufuncs[np.exp](x)


def _log(x: Any) -> Any:
    return registry.ufuncs[np.log](x)


class _AxisConcatenator:
    """``lagrad.numpy.r_`` and ``c_``: NumPy's index-expression concatenation, for traced
    arrays too (plain ``numpy.r_`` converts every item with numpy.array, so it cannot see
    traced values; with nothing traced, this is NumPy's own)."""

    def __init__(self, numpy_object: Any, axis: int, ndmin: int, trans1d: int) -> None:
        self.numpy_object = numpy_object
        self.defaults = (axis, ndmin, trans1d)

    def __getitem__(self, key: Any) -> Any:
        if not traced(key):
            return self.numpy_object[key]
        items = key if isinstance(key, tuple) else (key,)
        axis, ndmin, trans1d = self.defaults
        if isinstance(items[0], str):
            spec, items = items[0], items[1:]
            if spec in ("r", "c"):
                raise TypeError("lagrad.numpy.r_: the matrix directives 'r' and 'c' are not supported on traced values")
            numbers = [int(v) for v in spec.split(",")]
            axis, ndmin, trans1d = (numbers + [ndmin, trans1d][len(numbers) - 1 :])[:3]
        parts = [
            self._promoted(self.numpy_object[item] if isinstance(item, slice) else item, ndmin, trans1d)
            for item in items
        ]
        return concatenate(parts, axis=axis)

    @staticmethod
    def _promoted(item: Any, ndmin: int, trans1d: int) -> Any:
        a = array_like(item)
        n = len(shape_of(a))
        if n >= ndmin:
            return a
        a = reshape(a, (1,) * (ndmin - n) + shape_of(a))
        if trans1d == -1:
            return a
        k1, k2 = trans1d, ndmin - n
        k1 = k1 + k2 + 1 if k1 < 0 else k1
        axes = list(range(ndmin))
        return transpose(a, axes[:k1] + axes[k2:] + axes[k1:k2])


r_ = _AxisConcatenator(np.r_, 0, 1, -1)
c_ = _AxisConcatenator(np.c_, -1, 2, 0)


def _linear_ramp(x: Any, widths: tuple[tuple[int, int], ...], end_values: Any, kwargs: dict[str, Any]) -> Any:
    """Pad axis after axis (as NumPy does, so corners ramp too) with straight lines from
    `end_values` to the edge entries: ``end + (edge − end)·k/width``, k = 0, …, width − 1."""
    if kwargs:
        raise TypeError(f"lagrad.numpy.pad: unsupported keywords {sorted(kwargs)} for mode 'linear_ramp'")
    ndim = len(shape_of(x))
    if type(end_values) is not Var:
        end_values = np.broadcast_to(np.asarray(end_values), (ndim, 2))
    elif end_values.ndim:
        raise TypeError(
            "lagrad.numpy.pad: a traced end_values must be one number; give per-axis values as plain numbers"
        )
    for axis, (before, after) in enumerate(widths):
        if not (before or after):
            continue
        n = shape_of(x)[axis]
        if n == 0:
            raise ValueError("lagrad.numpy.pad: can't extend an empty axis in mode 'linear_ramp'")
        line = [-1 if d == axis else 1 for d in range(ndim)]
        ramps: list[list[Any]] = [[], []]
        for side, (width, edge) in enumerate(((before, slice(0, 1)), (after, slice(n - 1, n)))):
            if width:
                end = end_values if type(end_values) is Var else end_values[axis, side]
                k = np.arange(width) / width
                ramps[side].append(end + (x[along(axis, edge)] - end) * (k[::-1] if side else k).reshape(line))
        x = concatenate([*ramps[0], x, *ramps[1]], axis=axis)
    return x


# ----- joining: concatenate after promoting to enough dimensions -----------------------


def _promote(arys: tuple[Any, ...], ndmin: int, place: Any) -> Any:
    """Each array reshaped to at least `ndmin` dimensions by `place(shape)`."""
    out = [a if len(shape_of(a)) >= ndmin else reshape(a, place(shape_of(a))) for a in arys]
    return out[0] if len(out) == 1 else tuple(out)


@function(np.atleast_1d)
def atleast_1d(*arys: Any) -> Any:
    """Each array with at least one dimension (a scalar becomes shape (1,))."""
    return _promote(arys, 1, lambda s: (1,))


@function(np.atleast_2d)
def atleast_2d(*arys: Any) -> Any:
    """Each array with at least two dimensions: (n,) becomes (1, n)."""
    return _promote(arys, 2, lambda s: (1, *s) if s else (1, 1))


@function(np.atleast_3d)
def atleast_3d(*arys: Any) -> Any:
    """Each array with at least three dimensions: (n,) becomes (1, n, 1), (m, n) becomes (m, n, 1)."""
    return _promote(arys, 3, lambda s: (*s, 1) if len(s) == 2 else (1, *s, 1) if s else (1, 1, 1))


def _as_list(name: str, tup: Any) -> list[Any]:
    """The arrays to join: a list or tuple, or an array (its rows), as NumPy takes them."""
    if not isinstance(tup, (list, tuple, np.ndarray, Var)):
        raise TypeError(
            f'lagrad.numpy.{name}: arrays to stack must be passed as a "sequence" type such as list or tuple.'
        )
    arrays = list(tup)
    if not arrays:
        raise ValueError(f"lagrad.numpy.{name}: need at least one array")
    return arrays


@function(np.hstack)
def hstack(tup: Any, *, dtype: Any = None, casting: str = "same_kind") -> Any:
    """The arrays joined column-wise (along axis 1, or 0 for 1-d arrays)."""
    arrays = [atleast_1d(a) for a in _as_list("hstack", tup)]
    return concatenate(arrays, axis=0 if len(shape_of(arrays[0])) == 1 else 1, dtype=dtype, casting=casting)


@function(np.vstack)
def vstack(tup: Any, *, dtype: Any = None, casting: str = "same_kind") -> Any:
    """The arrays joined row-wise (1-d arrays become rows)."""
    arrays = [atleast_2d(a) for a in _as_list("vstack", tup)]
    return concatenate(arrays, axis=0, dtype=dtype, casting=casting)


row_stack = vstack


@function(np.dstack)
def dstack(tup: Any) -> Any:
    """The arrays joined along the third axis."""
    return concatenate([atleast_3d(a) for a in _as_list("dstack", tup)], axis=2)


@function(np.column_stack)
def column_stack(tup: Any) -> Any:
    """1-d arrays as the columns of a 2-d array (2-d arrays joined along axis 1)."""
    arrays = [a if len(shape_of(a)) >= 2 else reshape(a, (-1, 1)) for a in _as_list("column_stack", tup)]
    return concatenate(arrays, axis=1)


def _block_depth(arrays: Any, where: str) -> int:
    if isinstance(arrays, tuple):
        raise TypeError(f"lagrad.numpy.block: {where} is a tuple; use lists to build blocks")
    if not isinstance(arrays, list):
        return 0
    if not arrays:
        raise ValueError(f"lagrad.numpy.block: {where} is an empty list")
    depths = {_block_depth(a, f"{where}[{i}]") for i, a in enumerate(arrays)}
    if len(depths) != 1:
        raise ValueError(f"lagrad.numpy.block: the lists in {where} are nested to different depths")
    return 1 + depths.pop()


def _block_ndim(arrays: Any) -> int:
    return builtins.max(_block_ndim(a) for a in arrays) if isinstance(arrays, list) else len(shape_of(arrays))


def _assemble(arrays: Any, depth: int, ndim: int) -> Any:
    if depth == 0:
        shape = shape_of(arrays)
        return reshape(arrays, (1,) * (ndim - len(shape)) + shape)
    return concatenate([_assemble(a, depth - 1, ndim) for a in arrays], axis=-depth)


@function(np.block)
def block(arrays: Any) -> Any:
    """An array assembled from nested lists of blocks: the innermost lists are joined along
    the last axis, the next ones along the axis before it, and so on."""
    if not traced(arrays):
        return np.block(arrays)
    depth = _block_depth(arrays, "arrays")
    return _assemble(arrays, depth, builtins.max(depth, _block_ndim(arrays)))


@function(np.append)
def append(arr: Any, values: Any, axis: Any = None) -> Any:
    """`values` appended to `arr` along `axis` (both flattened when None)."""
    if axis is None:
        return concatenate([ravel(arr), ravel(values)], axis=0)
    return concatenate([arr, values], axis=axis)


# ----- splitting: slices along an axis ------------------------------------------------------


def _split(name: str, ary: Any, sections: Any, axis: Any, equal: bool) -> list[Any]:
    ndim = len(shape_of(ary))
    axis = axis_index(axis, ndim)
    n = shape_of(ary)[axis]
    if np.ndim(sections) == 0:
        count = int(sections)
        if count <= 0:
            raise ValueError(f"lagrad.numpy.{name}: the number of sections must be larger than 0")
        if equal and n % count:
            raise ValueError(f"lagrad.numpy.{name}: array split does not result in an equal division")
        each, extra = divmod(n, count)
        sizes = [each + 1] * extra + [each] * (count - extra)
        bounds = [0, *np.cumsum(sizes).tolist()]
    else:
        bounds = [0, *(int(i) for i in sections), n]
    return [ary[along(axis, slice(start, stop))] for start, stop in itertools.pairwise(bounds)]


@function(np.split)
def split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list[Any]:
    """`ary` cut into equal sections, or at the given indices, along `axis`."""
    if not traced(ary):
        return np.split(ary, indices_or_sections, axis)
    return _split("split", ary, indices_or_sections, axis, equal=True)


@function(np.array_split)
def array_split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list[Any]:
    """Like split, allowing sections of unequal size (the first ones one longer)."""
    if not traced(ary):
        return np.array_split(ary, indices_or_sections, axis)
    return _split("array_split", ary, indices_or_sections, axis, equal=False)


def _split_at_least(name: str, ary: Any, ndmin: int) -> None:
    if len(shape_of(ary)) < ndmin:
        raise ValueError(f"lagrad.numpy.{name}: only works on arrays of {ndmin} or more dimensions")


@function(np.hsplit)
def hsplit(ary: Any, indices_or_sections: Any) -> list[Any]:
    """split along axis 1 (axis 0 for 1-d arrays)."""
    _split_at_least("hsplit", ary, 1)
    return split(ary, indices_or_sections, 1 if len(shape_of(ary)) > 1 else 0)


@function(np.vsplit)
def vsplit(ary: Any, indices_or_sections: Any) -> list[Any]:
    """split along axis 0 of an array of two or more dimensions."""
    _split_at_least("vsplit", ary, 2)
    return split(ary, indices_or_sections, 0)


@function(np.dsplit)
def dsplit(ary: Any, indices_or_sections: Any) -> list[Any]:
    """split along axis 2 of an array of three or more dimensions."""
    _split_at_least("dsplit", ary, 3)
    return split(ary, indices_or_sections, 2)


# ----- static insertions and deletions: one gather by source position -------------------------


def _static_indices(name: str, obj: Any) -> Any:
    if traced(obj):
        raise TypeError(
            f"lagrad.numpy.{name}: the positions set the result's shape; give them as plain "
            f"integers, a slice or a boolean mask (lagrad.value(obj))"
        )
    return obj


@function(np.delete)
def delete(arr: Any, obj: Any, axis: Any = None) -> Any:
    """`arr` without the entries at `obj` (integers, a slice or a mask) along `axis`
    (of the flattened array when None)."""
    obj = _static_indices("delete", obj)
    if not traced(arr):
        return np.delete(arr, obj, axis)
    if axis is None:
        arr, axis = ravel(arr), 0
    axis = axis_index(axis, len(shape_of(arr)))
    return arr[along(axis, np.delete(np.arange(shape_of(arr)[axis]), obj))]


@function(np.insert)
def insert(arr: Any, obj: Any, values: Any, axis: Any = None) -> Any:
    """`values` inserted into `arr` before the positions `obj` along `axis` (of the flattened
    array when None), with NumPy's broadcasting of `values`."""
    obj = _static_indices("insert", obj)
    if not traced(arr, values):
        return np.insert(arr, obj, values, axis)
    if axis is None:
        arr, axis = ravel(arr), 0
    shape, dtype = shape_of(arr), arr.dtype if hasattr(arr, "dtype") else np.asarray(arr).dtype
    values = astype(values, dtype) if type(values) is Var else np.asarray(values, dtype=dtype)
    n = int(np.prod(shape, dtype=np.int64))
    # NumPy places labels where it would place entries: arr's as 0..n-1, values' after them
    labels = np.insert(np.arange(n).reshape(shape), obj, n + np.arange(values.size).reshape(values.shape), axis)
    return concatenate([ravel(arr), ravel(values)])[labels]


@function(np.resize)
def resize(a: Any, new_shape: Any) -> Any:
    """An array of `new_shape` filled with the entries of `a`, repeated in order as needed."""
    if not traced(a):
        return np.resize(a, new_shape)
    shape = shape_of(a)
    n = int(np.prod(shape, dtype=np.int64))
    if n == 0:
        return np.resize(np.zeros(shape, a.dtype), new_shape)
    return ravel(a)[np.resize(np.arange(n), new_shape)]


# ----- grids and broadcasting --------------------------------------------------------------


@function(np.broadcast_arrays)
def broadcast_arrays(*args: Any, subok: bool = False) -> tuple[Any, ...]:
    """The arrays broadcast against each other, as a tuple."""
    shape = np.broadcast_shapes(*(shape_of(a) for a in args))
    return tuple(broadcast_to(a, shape) for a in args)


@function(np.meshgrid)
def meshgrid(*xi: Any, copy: bool = True, sparse: bool = False, indexing: str = "xy") -> tuple[Any, ...]:
    """Coordinate arrays from coordinate vectors ('xy': Cartesian, 'ij': matrix indexing)."""
    if not traced(xi):
        return np.meshgrid(*xi, copy=copy, sparse=sparse, indexing=indexing)
    if indexing not in ("xy", "ij"):
        raise ValueError("lagrad.numpy.meshgrid: indexing must be 'xy' or 'ij'")
    n = len(xi)
    out = []
    for i, x in enumerate(xi):
        shape = [1] * n
        shape[i] = -1
        if indexing == "xy" and n > 1 and i < 2:
            shape[0], shape[1] = shape[1], shape[0]
        out.append(reshape(x, tuple(shape)))
    return tuple(out) if sparse else broadcast_arrays(*out)


# ----- differences ----------------------------------------------------------------------------

_NO_VALUE: Any = np._NoValue


def _edge(value: Any, shape: tuple[int, ...], axis: int) -> Any:
    """`value` as a block to join along `axis`: a scalar fills one slice."""
    if len(shape_of(value)) == 0:
        return broadcast_to(value, (*shape[:axis], 1, *shape[axis + 1 :]))
    return value


@function(np.diff)
def diff(a: Any, n: int = 1, axis: int = -1, prepend: Any = _NO_VALUE, append: Any = _NO_VALUE) -> Any:
    """The n-th differences along `axis` (with `prepend`/`append` joined first)."""
    if not traced(a, prepend, append):
        kwargs = {k: v for k, v in (("prepend", prepend), ("append", append)) if v is not _NO_VALUE}
        return np.diff(a, n, axis, **kwargs)
    n = int(n)
    a = array_like(a)
    if n < 0:
        raise ValueError(f"lagrad.numpy.diff: order must be non-negative but got {n}")
    ndim = len(shape_of(a))
    if ndim == 0:
        raise ValueError("lagrad.numpy.diff: requires input that is at least one dimensional")
    axis = axis_index(axis, ndim)
    parts = [_edge(prepend, shape_of(a), axis)] if prepend is not _NO_VALUE else []
    parts.append(a)
    if append is not _NO_VALUE:
        parts.append(_edge(append, shape_of(a), axis))
    if len(parts) > 1:
        a = concatenate(parts, axis=axis)
    if n == 0:
        return a
    shape = shape_of(a)
    if n >= shape[axis]:  # nothing left: a constant, empty along `axis`
        return np.zeros((*shape[:axis], 0, *shape[axis + 1 :]), dtype=a.dtype)
    if numpy_dtype(a.dtype) == np.bool_:  # NumPy's difference of booleans is inequality
        for _ in range(n):
            a = a[along(axis, slice(1, None))] != a[along(axis, slice(None, -1))]
        return a
    return _diff(a, n=n, axis=axis)


# The multiples of the period unwrap adds: piecewise constant in p, so no derivative.
_unwrap_step = nondiff(lambda p, discont, axis, period: np.unwrap(p, discont, axis, period=period) - p, "unwrap_step")


@function(np.unwrap)
def unwrap(p: Any, discont: Any = None, axis: int = -1, *, period: float = 2 * np.pi) -> Any:
    """numpy.unwrap: `p` plus multiples of `period` chosen from the jumps, a correction that is
    piecewise constant in `p` (recorded with no derivative), so the derivative is the identity."""
    if not traced(p):
        return np.unwrap(p, discont, axis, period=period)
    p = array_like(p)
    return p + _unwrap_step(p, discont=discont, axis=axis, period=period)


@function(np.apply_along_axis)
def apply_along_axis(func1d: Any, axis: int, arr: Any, *args: Any, **kwargs: Any) -> Any:
    """numpy.apply_along_axis: `func1d` on every 1-d slice along `axis`, the results stacked
    where the axis was (a Python loop, as NumPy's; each call traced)."""
    if not traced(arr, args, tuple(kwargs.values())):
        return np.apply_along_axis(func1d, axis, arr, *args, **kwargs)
    arr = array_like(arr)
    shape = shape_of(arr)
    axis = axis_index(axis, len(shape))
    rest = shape[:axis] + shape[axis + 1 :]
    if 0 in rest:
        raise ValueError("lagrad.numpy.apply_along_axis: Cannot apply_along_axis when any iteration dimensions are 0")
    moved = moveaxis(arr, axis, -1)
    results = [array_like(func1d(moved[index], *args, **kwargs)) for index in np.ndindex(*rest)]
    out = reshape(stack(results), rest + shape_of(results[0]))
    k = len(shape_of(results[0]))
    return moveaxis(out, tuple(range(len(rest), len(rest) + k)), tuple(range(axis, axis + k)))


@function(np.ediff1d)
def ediff1d(ary: Any, to_end: Any = None, to_begin: Any = None) -> Any:
    """The differences of the flattened array, with `to_begin` and `to_end` joined around them."""
    if not traced(ary, to_end, to_begin):
        return np.ediff1d(ary, to_end, to_begin)
    parts = [diff(ravel(ary))]
    if to_begin is not None:
        parts.insert(0, ravel(to_begin))
    if to_end is not None:
        parts.append(ravel(to_end))
    return concatenate(parts) if len(parts) > 1 else parts[0]


def _gradient_along(f: Any, axis: int, h: Any, edge_order: int) -> Any:
    """Second-order central differences inside, first- or second-order one-sided ones at
    the two ends, along `axis`, for a uniform spacing `h` or coordinates `h`."""
    shape = shape_of(f)
    n = shape[axis]
    if n < edge_order + 1:
        raise ValueError(
            "lagrad.numpy.gradient: shape of array too small to calculate a numerical gradient, "
            "at least (edge_order + 1) elements are required"
        )

    def s(start: Any, stop: Any) -> Any:
        return f[along(axis, slice(start, stop))]

    if len(shape_of(h)) == 0:
        interior = (s(2, None) - s(None, -2)) / (2.0 * h)
        if edge_order == 1:
            first = (s(1, 2) - s(0, 1)) / h
            last = (s(n - 1, n) - s(n - 2, n - 1)) / h
        else:
            first = (-1.5 * s(0, 1) + 2.0 * s(1, 2) - 0.5 * s(2, 3)) / h
            last = (0.5 * s(n - 3, n - 2) - 2.0 * s(n - 2, n - 1) + 1.5 * s(n - 1, n)) / h
        return concatenate([first, interior, last], axis=axis)
    if shape_of(h) != (n,):
        raise ValueError(
            "lagrad.numpy.gradient: distances must be scalars or 1-d coordinates matching the length "
            "of the corresponding dimension"
        )
    dx = diff(h)

    def coefficient(c: Any) -> Any:  # a 1-d coefficient, laid along `axis`
        return reshape(c, tuple(-1 if d == axis else 1 for d in range(len(shape))))

    d1, d2 = dx[:-1], dx[1:]
    interior = (
        coefficient(-d2 / (d1 * (d1 + d2))) * s(None, -2)
        + coefficient((d2 - d1) / (d1 * d2)) * s(1, -1)
        + coefficient(d1 / (d2 * (d1 + d2))) * s(2, None)
    )
    if edge_order == 1:
        first = (s(1, 2) - s(0, 1)) / dx[0]
        last = (s(n - 1, n) - s(n - 2, n - 1)) / dx[-1]
    else:
        d1, d2 = dx[0], dx[1]
        first = (
            -(2.0 * d1 + d2) / (d1 * (d1 + d2)) * s(0, 1)
            + (d1 + d2) / (d1 * d2) * s(1, 2)
            - d1 / (d2 * (d1 + d2)) * s(2, 3)
        )
        d1, d2 = dx[-2], dx[-1]
        last = (
            d2 / (d1 * (d1 + d2)) * s(n - 3, n - 2)
            - (d2 + d1) / (d1 * d2) * s(n - 2, n - 1)
            + (2.0 * d2 + d1) / (d2 * (d1 + d2)) * s(n - 1, n)
        )
    return concatenate([first, interior, last], axis=axis)


@function(np.gradient)
def gradient(f: Any, *varargs: Any, axis: Any = None, edge_order: int = 1) -> Any:
    """numpy.gradient: central differences inside, one-sided at the ends, per axis; uniform
    spacings or coordinate arrays. One array for one axis, else a tuple."""
    if not traced(f, varargs):
        return np.gradient(f, *varargs, axis=axis, edge_order=edge_order)
    ndim = len(shape_of(f))
    axes = tuple(range(ndim)) if axis is None else tuple(axis_index(a, ndim) for a in np.atleast_1d(axis))
    if len(set(axes)) != len(axes):
        raise ValueError("lagrad.numpy.gradient: repeated axis")
    if edge_order not in (1, 2):
        raise ValueError("lagrad.numpy.gradient: edge_order must be 1 or 2")
    if not varargs:
        spacings: list[Any] = [1.0] * len(axes)
    elif len(varargs) == 1 and len(shape_of(varargs[0])) == 0:
        spacings = [varargs[0]] * len(axes)
    elif len(varargs) == len(axes):
        spacings = list(varargs)
    else:
        raise TypeError("lagrad.numpy.gradient: invalid number of spacing arguments")
    if numpy_dtype(f.dtype).kind not in "fc":
        f = astype(f, np.float64)
    out = tuple(_gradient_along(f, a, h, edge_order) for a, h in zip(axes, spacings))
    return out[0] if len(out) == 1 else out


# ----- copies and views: a copy is a new object for the same variable -------------------


@function(np.copy)
@method("copy")
def copy(a: Any, order: str = "K", subok: bool = False) -> Any:
    """A copy of `a`: for a traced array, a new object for the same variable (a variable
    never changes, so no equation is needed); writing into it leaves `a` as it is."""
    return a._alias() if type(a) is Var else np.copy(a, order=order, subok=subok)


@method("view")
def _view(a: Any, dtype: Any = None, type: Any = None) -> Any:
    if (dtype is not None and numpy_dtype(dtype) != numpy_dtype(a.dtype)) or type is not None:
        raise TypeError(
            "lagrad: x.view(dtype) reinterprets the bytes of a traced array, which has no "
            "derivative; use x.astype(dtype) to convert values"
        )
    return a


@method("flat")
def _flat(a: Any) -> Any:
    return ravel(a)


@method("nbytes")
def _nbytes(a: Any) -> int:
    return int(a.size * numpy_dtype(a.dtype).itemsize)


@method("itemsize")
def _itemsize(a: Any) -> int:
    return int(numpy_dtype(a.dtype).itemsize)


def _in_place(what: str, instead: str) -> Any:
    def refuse(a: Any, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(
            f"lagrad: x.{what}(...) changes a traced array in place, and traced arrays are "
            f"immutable (the recorded equations need their values). Use {instead}."
        )

    return refuse


method("resize")(_in_place("resize", "x = lagrad.numpy.resize(x, new_shape) (it returns the new array)"))


# ----- shape queries: no equation, the shape is static ---------------------------


@function(np.shape)
def shape(a: Any) -> tuple[int, ...]:
    return shape_of(a)


@function(np.ndim)
def ndim(a: Any) -> int:
    return len(shape_of(a))


@function(np.size)
def size(a: Any, axis: Any = None) -> int:
    if axis is None:
        return int(np.prod(shape(a), dtype=np.int64))
    return shape(a)[axis]


def _plain_like(np_fun: Any) -> Any:
    """`np_fun` (zeros_like, ones_like, empty_like) as a plain array shaped like `a`, also
    when `a` is traced: what rules take, which write nothing into it."""

    def like(a: Any, dtype: Any = None, order: str = "K", subok: bool = True, shape: Any = None, **kw: Any) -> Any:
        while isinstance(a, (Var, Aval)):
            if isinstance(a, Aval):
                return np_fun(np.empty(a.shape, numpy_dtype(a.dtype)), dtype=dtype, order=order, shape=shape, **kw)
            a = a.value
        xp = None if type(a) is np.ndarray else namespace_of(a)
        if xp is not None and shape is None:  # array-api-strict, CuPy: the library's own
            return getattr(xp, np_fun.__name__)(a, dtype=namespace_dtype(xp, dtype), **kw)
        if is_lazy(a):  # Dask's own: no memory order or subclass to ask for
            return np_fun(a, dtype=dtype, shape=shape, **kw)
        return np_fun(a, dtype=dtype, order=order, subok=subok, shape=shape, **kw)

    like.__name__ = np_fun.__name__
    return like


def _float_var(a: Any, dtype: Any) -> bool:
    """Whether `a` is traced and a ``*_like`` array of it (of `dtype`) holds floats or complex numbers."""
    return type(a) is Var and getattr(numpy_dtype(a.dtype if dtype is None else dtype), "kind", "") in "fc"


_LIKE_DEFAULTS = {"dtype": None, "order": "K", "subok": True, "shape": None}


def _like(np_fun: Any) -> Any:
    plain = _plain_like(np_fun)
    recorded = nondiff(plain, np_fun.__name__, listed=False)  # the list holds `like`, below (nondiff.py)

    def like(a: Any, dtype: Any = None, order: str = "K", subok: bool = True, shape: Any = None, **kw: Any) -> Any:
        if not kw and _float_var(a, dtype):
            # a traced constant, so that writes of traced values into it are recorded
            # (``v = np.zeros_like(x); v[1:] = x[:-1] ** 2``): the derivative stops here
            given = {"dtype": dtype, "order": order, "subok": subok, "shape": shape}
            return recorded(a, **{k: v for k, v in given.items() if v is not _LIKE_DEFAULTS[k]})
        return plain(a, dtype=dtype, order=order, subok=subok, shape=shape, **kw)

    like.__name__ = np_fun.__name__
    like.__doc__ = (
        f"numpy.{np_fun.__name__}: a constant shaped like `a` (no derivative); of a traced float or "
        "complex `a`, a traced constant that traced values can be written into."
    )
    return function(np_fun)(like)


zeros_like = _like(np.zeros_like)
ones_like = _like(np.ones_like)
empty_like = _like(np.empty_like)
_plain_zeros_like = _plain_like(np.zeros_like)


def _full_like_plain(a: Any, fill_value: Any, dtype: Any = None, **kw: Any) -> Any:
    base = _plain_zeros_like(a, dtype=dtype)
    xp = None if type(base) is np.ndarray else namespace_of(base)
    return np.full_like(base, fill_value, dtype=dtype, **kw) if xp is None else xp.full_like(base, fill_value)


_full_like = nondiff(_full_like_plain, "full_like", listed=False)  # differentiable in a traced fill_value


@function(np.full_like)
def full_like(a: Any, fill_value: Any, dtype: Any = None, **kw: Any) -> Any:
    """numpy.full_like; traced when `fill_value` is, or (a traced constant that traced values
    can be written into) when `a` is a traced float or complex array."""
    if isinstance(fill_value, Var):
        return fill_value + zeros_like(a, dtype=dtype)  # the traced value first: another namespace's takes no Var
    if not kw and _float_var(a, dtype):
        return _full_like(a, fill_value=fill_value, **({} if dtype is None else {"dtype": dtype}))
    return _full_like_plain(a, fill_value, dtype=dtype, **kw)


registry.ops.unbroadcast = unbroadcast
registry.ops.unbroadcast_batched = unbroadcast_batched
registry.ops.reshape = reshape
registry.ops.broadcast_to = broadcast_to
registry.ops.zeros_like = _plain_zeros_like
registry.ops.astype = astype
