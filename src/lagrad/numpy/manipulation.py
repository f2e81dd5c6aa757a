"""Shape functions: reshape, transpose, broadcast, join, roll — all linear.

Each is linear in its array argument, so its tangent rule is the function
itself applied to the tangent and only the transpose is written out. The
shared `unbroadcast` (sum a broadcast multiplier back to an argument's shape)
lives here and is what the solvers call for elementwise primitives.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core import Aval, Var, defjvp_joint, deflinear, defvjp_argnum, registry
from . import reductions
from ._register import function, method, prim

__all__ = [
    "astype",
    "broadcast_to",
    "concatenate",
    "empty_like",
    "expand_dims",
    "full_like",
    "moveaxis",
    "ndim",
    "ones_like",
    "ravel",
    "reshape",
    "roll",
    "shape",
    "size",
    "squeeze",
    "stack",
    "swapaxes",
    "transpose",
    "unbroadcast",
    "zeros_like",
]


def shape_of(a: Any) -> tuple[int, ...]:
    """The shape of an array, traced value or Python scalar, without NumPy's dispatch."""
    return tuple(a.shape) if hasattr(a, "shape") else np.shape(a)


def _normalize_axis(axis: int, ndim: int) -> int:
    return axis + ndim if axis < 0 else axis


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
_astype = prim("astype", lambda x, dtype: x.astype(dtype))
_concatenate = prim("concatenate", lambda *xs, axis: np.concatenate(xs, axis))
_stack = prim("stack", lambda *xs, axis: np.stack(xs, axis))


def _concatenate_vjp(argnum: int, g: Any, ans: Any, *xs: Any, axis: int) -> Any:
    axis = _normalize_axis(axis, ans.ndim)
    start = builtins.sum(x.shape[axis] for x in xs[:argnum])
    index = (slice(None),) * axis + (slice(start, start + xs[argnum].shape[axis]),)
    return g[index]


def _stack_vjp(argnum: int, g: Any, ans: Any, *xs: Any, axis: int) -> Any:
    axis = _normalize_axis(axis, ans.ndim)
    return g[(slice(None),) * axis + (argnum,)]


def _joined_tangent(join: Any) -> Any:
    def jvp(tangents: list[Any], ans: Any, *xs: Any, axis: int) -> Any:
        dtype = next(t for t in tangents if t is not None).dtype
        parts = [t if t is not None else zeros_like(x, dtype=dtype) for t, x in zip(tangents, xs)]
        return join(*parts, axis=axis)

    return jvp


# fmt: off
deflinear(_reshape,      lambda g, ans, x, shape: reshape(g, x.shape))
deflinear(_transpose,    lambda g, ans, x, axes: transpose(g, _inverse_permutation(axes)))
deflinear(_broadcast_to, lambda g, ans, x, shape: unbroadcast(g, x.shape))
deflinear(_moveaxis,     lambda g, ans, x, source, destination: moveaxis(g, destination, source))
deflinear(_roll,         lambda g, ans, x, shift, axis: roll(g, _negate(shift), axis))
deflinear(_astype,       lambda g, ans, x, dtype: astype(_real_for(g, x.dtype), x.dtype))
defvjp_argnum(_concatenate, _concatenate_vjp, reads="shapes")
defvjp_argnum(_stack,       _stack_vjp,       reads="shapes")
defjvp_joint(_concatenate,  _joined_tangent(_concatenate), reads="shapes")
defjvp_joint(_stack,        _joined_tangent(_stack),       reads="shapes")
# fmt: on


def _real_for(g: Any, dtype: Any) -> Any:
    """The real part of a complex multiplier headed for a real variable."""
    if np.dtype(g.dtype).kind == "c" and np.dtype(dtype).kind != "c":
        return registry.helpers["real"](g)
    return g


def _negate(shift: Any) -> Any:
    return tuple(-s for s in shift) if isinstance(shift, tuple) else -shift


def unbroadcast(g: Any, shape: tuple[int, ...]) -> Any:
    """Sum `g`, an elementwise result broadcast from an argument, back to that argument's shape."""
    gshape = g.shape
    if gshape == shape:
        return g
    lead = len(gshape) - len(shape)
    if lead < 0:
        return broadcast_to(g, shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape) if n == 1 and gshape[i + lead] != 1)
    if axes:  # the sum primitive itself: the axes are already normalised
        g = reductions._sum(g, axis=axes, keepdims=False)
    return g if g.shape == shape else reshape(g, shape)


# ----- the NumPy API ------------------------------------------------------------


@function(np.reshape)
def reshape(a: Any, shape: Any = None, order: str = "C", *, newshape: Any = None, copy: Any = None) -> Any:
    """`a` with a new shape (C order)."""
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
    return _reshape(a, shape=shape)


@method("reshape")
def _reshape_method(a: Any, *shape: Any, order: str = "C") -> Any:
    if len(shape) == 1 and not isinstance(shape[0], int):
        shape = shape[0]
    return reshape(a, shape, order)


@function(np.ravel)
@method("ravel", "flatten")
def ravel(a: Any, order: str = "C") -> Any:
    return reshape(a, (-1,), order)


@function(np.transpose)
def transpose(a: Any, axes: Any = None) -> Any:
    """`a` with its axes permuted (reversed when `axes` is None)."""
    ndim = len(shape_of(a))
    axes = tuple(range(ndim))[::-1] if axes is None else tuple(_normalize_axis(int(i), ndim) for i in axes)
    if axes == tuple(range(ndim)):
        return a
    return _transpose(a, axes=axes)


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
    ndim = len(shape_of(a))
    axes = list(range(ndim))
    i, j = _normalize_axis(axis1, ndim), _normalize_axis(axis2, ndim)
    axes[i], axes[j] = axes[j], axes[i]
    return transpose(a, axes)


@function(np.moveaxis)
def moveaxis(a: Any, source: Any, destination: Any) -> Any:
    ndim = len(shape_of(a))
    src = tuple(_normalize_axis(int(s), ndim) for s in np.atleast_1d(source))
    dst = tuple(_normalize_axis(int(d), ndim) for d in np.atleast_1d(destination))
    if src == dst:
        return a
    return _moveaxis(a, source=src, destination=dst)


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
    shape = (int(shape),) if np.ndim(shape) == 0 else tuple(int(s) for s in shape)
    if np.shape(array) == shape:
        return array
    return _broadcast_to(array, shape=shape)


@function(np.roll)
def roll(a: Any, shift: Any, axis: Any = None) -> Any:
    """`a` shifted cyclically along `axis`."""
    shift = tuple(int(s) for s in shift) if isinstance(shift, (tuple, list)) else int(shift)
    axis = tuple(int(s) for s in axis) if isinstance(axis, (tuple, list)) else axis
    return _roll(a, shift=shift, axis=axis)


@method("astype")
def astype(x: Any, dtype: Any, order: str = "K", casting: str = "unsafe", subok: bool = True, copy: bool = True) -> Any:
    """`x` converted to `dtype`; no derivative flows into integer or boolean results."""
    dtype = np.dtype(dtype)
    if np.dtype(x.dtype) == dtype:
        return x
    return _astype(x, dtype=dtype)


def _join_arrays(name: str, arrays: Any, out: Any, dtype: Any, casting: Any) -> list[Any]:
    if out is not None or dtype is not None:
        raise TypeError(f"lagrad.numpy.{name}: out= and dtype= are not supported on traced values")
    arrays = list(arrays)
    if not arrays:
        raise ValueError(f"lagrad.numpy.{name}: need at least one array")
    return arrays


@function(np.concatenate)
def concatenate(arrays: Any, axis: Any = 0, out: Any = None, *, dtype: Any = None, casting: Any = "same_kind") -> Any:
    """The arrays joined along an existing axis."""
    arrays = _join_arrays("concatenate", arrays, out, dtype, casting)
    if axis is None:
        arrays, axis = [ravel(a) for a in arrays], 0
    return _concatenate(*arrays, axis=int(axis))


@function(np.stack)
def stack(arrays: Any, axis: int = 0, out: Any = None, *, dtype: Any = None, casting: Any = "same_kind") -> Any:
    """The arrays joined along a new axis."""
    arrays = _join_arrays("stack", arrays, out, dtype, casting)
    return _stack(*arrays, axis=int(axis))


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


def _like(np_fun: Any) -> Any:
    def like(a: Any, dtype: Any = None, order: str = "K", subok: bool = True, shape: Any = None, **kw: Any) -> Any:
        while isinstance(a, (Var, Aval)):
            if isinstance(a, Aval):
                return np_fun(np.empty(a.shape, a.dtype), dtype=dtype, order=order, shape=shape, **kw)
            a = a.value
        return np_fun(a, dtype=dtype, order=order, subok=subok, shape=shape, **kw)

    like.__name__ = np_fun.__name__
    like.__doc__ = f"numpy.{np_fun.__name__}: a constant, shaped like `a` (no derivative)."
    return function(np_fun)(like)


zeros_like = _like(np.zeros_like)
ones_like = _like(np.ones_like)
empty_like = _like(np.empty_like)


@function(np.full_like)
def full_like(a: Any, fill_value: Any, dtype: Any = None, **kw: Any) -> Any:
    """numpy.full_like; traced when `fill_value` is."""
    base = zeros_like(a, dtype=dtype)
    return base + fill_value if isinstance(fill_value, Var) else np.full_like(base, fill_value, dtype=dtype, **kw)


registry.helpers["unbroadcast"] = unbroadcast
registry.helpers["broadcast_to"] = broadcast_to
registry.helpers["zeros_like"] = zeros_like
registry.helpers["astype"] = astype
