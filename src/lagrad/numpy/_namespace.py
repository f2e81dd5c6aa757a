"""The primitives' forward values in another array namespace (array-api-strict, CuPy).

A primitive's implementation is NumPy's function. For values of a library that does not take
part in NumPy's dispatch, `ArrayPrimitive` looks the primitive up here by name instead: the
Python Array API standard's spelling (``absolute`` -> ``xp.abs``, ``transpose`` ->
``xp.permute_dims``, ``concatenate`` -> ``xp.concat``...), called with that namespace's
functions. The rules are written with lagrad's primitives and operators, so they run in the
same namespace through the same table. A primitive the standard does not cover raises an error
naming it and the library; functions of ``scipy.special`` go to the library's own module where
it has one (``cupyx.scipy.special``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..core.backend import SWEEPS, device_of, namespace_dtype, namespace_name, namespace_of

F = Callable[..., Any]

# ----- elementwise: the standard's name where it differs from NumPy's ----------------------
_UNARY = {
    "absolute": "abs", "arccos": "acos", "arccosh": "acosh", "arcsin": "asin", "arcsinh": "asinh",
    "arctan": "atan", "arctanh": "atanh", "conjugate": "conj", "invert": "bitwise_invert",
    "bitwise_not": "bitwise_invert", "sign_complex": "sign",
}  # fmt: skip
_SAME_UNARY = [
    "ceil", "cos", "cosh", "exp", "expm1", "floor", "imag", "isfinite", "isinf", "isnan", "log", "log10",
    "log1p", "log2", "logical_not", "negative", "positive", "real", "round", "sign", "signbit", "sin",
    "sinh", "sqrt", "square", "tan", "tanh", "trunc",
]  # fmt: skip
_BINARY = {"arctan2": "atan2", "power": "pow", "true_divide": "divide"}  # not fmod: remainder takes the sign of y
_SAME_BINARY = [
    "add", "bitwise_and", "bitwise_or", "bitwise_xor", "copysign", "divide", "equal", "floor_divide",
    "greater", "greater_equal", "hypot", "less", "less_equal", "logaddexp", "logical_and", "logical_or",
    "logical_xor", "maximum", "minimum", "multiply", "nextafter", "not_equal", "remainder", "subtract",
]  # fmt: skip

#: scipy.special functions a library may have a module of its own for.
_SPECIAL = {"cupy": "cupyx.scipy.special"}


def _reduction(name: str) -> F:
    return lambda xp, x, axis, keepdims: getattr(xp, name)(x, axis=axis, keepdims=keepdims)


def _concat(xp: Any, *xs: Any, axis: Any) -> Any:
    if axis is None:
        return xp.concat([xp.reshape(x, (-1,)) for x in xs], axis=0)
    return xp.concat(list(xs), axis=axis)


def _index(xp: Any, dynamic: tuple[Any, ...], index: Any, ndim: int, write: bool = False) -> Any:
    """The index as the standard takes it: basic items only, with the trailing ``...`` NumPy
    implies written out."""
    where = index.fill(dynamic)
    items = where if isinstance(where, tuple) else (where,)
    if any(not (type(i) in (int, slice) or i is None or i is Ellipsis) for i in items):
        raise TypeError(
            f"lagrad: indexing {namespace_name(xp)} arrays with {where!r}: lagrad indexes them with "
            f"integers, slices, None and Ellipsis (the standard's basic indexing); select with a slice, "
            f"or compute the step in NumPy"
        )
    if write and any(i is None for i in items):
        raise TypeError(
            f"lagrad: writing into {namespace_name(xp)} arrays through an index with None ({where!r}): the "
            f"standard does not write through new axes; write through the index without them"
        )
    if Ellipsis not in items and sum(i is not None for i in items) < ndim:
        items = (*items, Ellipsis)
    return items


def _getitem(xp: Any, x: Any, *dynamic: Any, index: Any) -> Any:
    return x[_index(xp, dynamic, index, x.ndim)]


def _untake(xp: Any, g: Any, *dynamic: Any, index: Any, shape: tuple[int, ...]) -> Any:
    where = _index(xp, dynamic, index, len(shape), write=True)
    out = xp.zeros(shape, dtype=g.dtype, device=device_of(g))
    out[where] = g
    return out


def _index_set(xp: Any, x: Any, v: Any, *dynamic: Any, index: Any) -> Any:
    where = _index(xp, dynamic, index, x.ndim, write=True)
    out = xp.asarray(x, copy=True)
    out[where] = v
    return out


def _index_add(xp: Any, x: Any, v: Any, *dynamic: Any, index: Any) -> Any:
    where = _index(xp, dynamic, index, x.ndim, write=True)
    out = xp.asarray(x, copy=True)
    out[where] = out[where] + v
    return out


def _cumsum_reverse(xp: Any, x: Any, axis: int) -> Any:
    return xp.flip(xp.cumulative_sum(xp.flip(x, axis=axis), axis=axis), axis=axis)


def _array(xp: Any, value: Any, *like: Any) -> Any:
    """A Python number as an array on the device of the first array among `like`."""
    device = next((device_of(a) for a in like if hasattr(a, "shape")), None)
    return xp.asarray(value, device=device)


def _prod_others(xp: Any, x: Any, axis: tuple[int, ...]) -> Any:
    """The product of all entries but one along `axis`, for each entry, without division:
    products from the left times products from the right."""
    if x.size == 0:
        return xp.zeros_like(x)
    last = tuple(range(-len(axis), 0))
    moved = xp.moveaxis(x, axis, last)
    flat = xp.reshape(moved, (*moved.shape[: moved.ndim - len(axis)], -1))
    ones = xp.ones((*flat.shape[:-1], 1), dtype=flat.dtype, device=device_of(x))
    left = xp.cumulative_prod(xp.concat([ones, flat[..., :-1]], axis=-1), axis=-1)
    right = xp.flip(xp.cumulative_prod(xp.concat([ones, xp.flip(flat[..., 1:], axis=-1)], axis=-1), axis=-1), axis=-1)
    return xp.moveaxis(xp.reshape(left * right, moved.shape), last, axis)


def _adjugate(xp: Any, a: Any) -> Any:
    """adj(A) = det(U) det(Vᴴ) V diag(∏_{j≠i} s_j) Uᴴ, exact at any rank (as the NumPy kernel)."""
    u, s, vh = xp.linalg.svd(a)
    phase = xp.linalg.det(u) * xp.linalg.det(vh)
    others = _prod_others(xp, s, (s.ndim - 1,))
    v = xp.conj(xp.linalg.matrix_transpose(vh))
    return (v * (phase[..., None] * others)[..., None, :]) @ xp.conj(xp.linalg.matrix_transpose(u))


#: primitive name -> forward value ``(xp, *args, **params)`` with the namespace's functions.
SPELLINGS: dict[str, F] = {
    # reductions
    "sum": _reduction("sum"),
    "mean": _reduction("mean"),
    "prod": _reduction("prod"),
    "max": _reduction("max"),
    "min": _reduction("min"),
    "var": lambda xp, x, axis, ddof, keepdims: xp.var(x, axis=axis, correction=ddof, keepdims=keepdims),
    "cumsum": lambda xp, x, axis: xp.cumulative_sum(x, axis=axis),
    "cumsum_reverse": _cumsum_reverse,
    "prod_others": _prod_others,
    "cumprod": lambda xp, x, axis: xp.cumulative_prod(x, axis=axis),
    # shapes
    "reshape": lambda xp, x, shape: xp.reshape(x, shape),
    "transpose": lambda xp, x, axes: xp.permute_dims(x, tuple(range(x.ndim))[::-1] if axes is None else axes),
    "broadcast_to": lambda xp, x, shape: xp.broadcast_to(x, shape),
    "moveaxis": lambda xp, x, source, destination: xp.moveaxis(x, source, destination),
    "astype": lambda xp, x, dtype: xp.astype(x, namespace_dtype(xp, dtype)),
    "concatenate": _concat,
    "stack": lambda xp, *xs, axis: xp.stack(list(xs), axis=axis),
    # products
    "matmul": lambda xp, a, b: xp.matmul(a, b),
    "tensordot": lambda xp, a, b, axes: xp.tensordot(a, b, axes=axes),
    # selection
    "where": lambda xp, c, x, y: xp.where(c if hasattr(c, "shape") else _array(xp, c, x, y), x, y),
    "clip": lambda xp, x, lo, hi: xp.clip(x, lo, hi),
    "reciprocal": lambda xp, x: 1.0 / x,
    "getitem": _getitem,
    "untake": _untake,
    "index_set": _index_set,
    "index_add": _index_add,
    "stop_gradient": lambda xp, x: x,
    # linear algebra (the standard's extension)
    "inv": lambda xp, a: xp.linalg.inv(a),
    "solve": lambda xp, a, b: xp.linalg.solve(a, b),
    "det": lambda xp, a: xp.linalg.det(a),
    "adjugate": _adjugate,
    "slogdet": lambda xp, a: tuple(xp.linalg.slogdet(a)),
    "cholesky": lambda xp, a, upper: xp.linalg.cholesky(a, upper=upper),
}
SPELLINGS.update({n: (lambda s: lambda xp, x: getattr(xp, s)(x))(s) for n, s in _UNARY.items()})
SPELLINGS.update({n: (lambda s: lambda xp, x: getattr(xp, s)(x))(n) for n in _SAME_UNARY})
SPELLINGS.update({n: (lambda s: lambda xp, x, y: getattr(xp, s)(x, y))(s) for n, s in _BINARY.items()})
SPELLINGS.update({n: (lambda s: lambda xp, x, y: getattr(xp, s)(x, y))(n) for n in _SAME_BINARY})


def spelling(name: str, xp: Any) -> F:
    """The forward value of primitive `name` in namespace `xp`, or an error naming both."""
    spell = SPELLINGS.get(name)
    if spell is not None:
        return lambda *args, **params: spell(xp, *args, **params)
    library = namespace_name(xp)
    module = _SPECIAL.get(library)
    if module is not None:
        import importlib

        fun = getattr(importlib.import_module(module), name, None)
        if fun is not None:
            return fun
    raise TypeError(
        f"lagrad.numpy.{name} has no form in the Python Array API standard, and lagrad has no "
        f"{library} spelling of it: it cannot run on {library} arrays. Convert to NumPy first "
        f"(numpy.asarray, or the library's own transfer), or write the step with functions the "
        f"standard covers."
    )


def call(prim: Any, xp: Any, args: tuple[Any, ...], params: dict[str, Any]) -> Any:
    """`prim` applied to plain values of which some live in namespace `xp`: NumPy arrays and
    scalars among them (the rules' constants, a seed) are moved to its device first."""
    like = next(a for a in args if namespace_of(a) is xp)
    if not SWEEPS[0] and any(type(a) is np.ndarray and a.ndim for a in args):  # in a sweep: a rule's constant
        raise TypeError(
            f"lagrad.numpy.{prim.name}: its arguments mix {namespace_name(xp)} arrays and a NumPy array of shape "
            f"{next(a.shape for a in args if type(a) is np.ndarray and a.ndim)}, which {namespace_name(xp)} does "
            f"not combine; make the constant a {namespace_name(xp)} array (xp.asarray(c, device=x.device))"
        )
    args = tuple(xp.asarray(a, device=device_of(like)) if isinstance(a, (np.ndarray, np.generic)) else a for a in args)
    function = spelling(prim.name, xp)
    try:
        return function(*args, **params)
    except Exception as error:  # the library's own error, with the primitive and the library named
        message = f"lagrad.numpy.{prim.name} on {namespace_name(xp)} arrays: {error}"
        try:
            named = type(error)(message)
        except Exception:  # an exception class that takes other arguments
            named = ValueError(message)
        raise named from error
