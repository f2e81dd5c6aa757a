"""The methods of binary ufuncs on traced values: ``ufunc.outer``, ``ufunc.reduce``,
``ufunc.accumulate`` and ``ufunc.reduceat``, built from the ufunc's own primitive (``ufunc.at`` writes in place and
belongs with the in-place updates).

``outer`` is the ufunc on broadcast copies; ``reduce`` and ``accumulate`` of add, multiply,
maximum and minimum are the reductions and scans of those names; any other binary ufunc
folds from the left along the axis, one equation per entry, which is exact for every ufunc
(subtract, logaddexp, hypot, ...) and its derivative comes from the ufunc's rules.
``reduceat`` is ``reduce`` on each segment between consecutive indices (an entry where the
next index is not larger), stacked along the axis.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core import registry
from . import manipulation as _shape
from . import reductions
from ._register import array_like, unsupported_keywords

_SCANS = {np.add: reductions.cumsum, np.multiply: reductions.cumprod}


def _outer(ufunc: Any) -> Any:
    def outer(a: Any, b: Any, /, **kwargs: Any) -> Any:
        unsupported_keywords(f"{ufunc.__name__}.outer", out=kwargs.pop("out", None))
        a, b = array_like(a), array_like(b)
        nb = len(_shape.shape_of(b))
        result = registry.ufuncs[ufunc](_shape.reshape(a, _shape.shape_of(a) + (1,) * nb), b)
        dtype = kwargs.pop("dtype", None)
        if kwargs:
            raise TypeError(f"lagrad.numpy: {ufunc.__name__}.outer with {sorted(kwargs)} is not supported")
        return result if dtype is None else _shape.astype(result, dtype)

    return outer


def _fold_axis(name: str, a: Any, axis: Any) -> tuple[Any, int]:
    if axis is None:
        return _shape.ravel(a), 0
    if np.ndim(axis) != 0:
        if len(axis) != 1:
            raise TypeError(f"lagrad.numpy.{name}: reducing over several axes needs a reorderable ufunc")
        axis = axis[0]
    return a, _shape.axis_index(axis, len(_shape.shape_of(a)))


def _steps(ufunc: Any, a: Any, axis: int, initial: Any = None) -> list[Any]:
    """The running results of folding `ufunc` from the left along `axis` (from `initial`)."""
    f = registry.ufuncs[ufunc]
    n = _shape.shape_of(a)[axis]
    if n == 0 and initial is None:
        raise ValueError(f"lagrad.numpy: zero-size array to reduction operation {ufunc.__name__} which has no identity")
    if n == 0:
        return [_shape.broadcast_to(array_like(initial), _shape.shape_of(a[_shape.along(axis, 0)]))]
    running = [a[_shape.along(axis, 0)] if initial is None else f(initial, a[_shape.along(axis, 0)])]
    for k in range(1, n):
        running.append(f(running[-1], a[_shape.along(axis, k)]))
    return running


def _reduce(ufunc: Any) -> Any:
    name = f"{ufunc.__name__}.reduce"

    def reduce(
        a: Any,
        axis: Any = 0,
        dtype: Any = None,
        out: Any = None,
        keepdims: bool = False,
        initial: Any = None,
        where: Any = True,
    ) -> Any:
        unsupported_keywords(name, out=out, where=None if where is True else where)
        a = array_like(a)
        if dtype is not None:
            a = _shape.astype(a, dtype)
        folded, ax = _fold_axis(name, a, axis)
        result = _steps(ufunc, folded, ax, initial)[-1]
        if not keepdims:
            return result
        shape = _shape.shape_of(a)
        return _shape.reshape(result, reductions.kept_shape(shape, reductions.normalize_axes(axis, len(shape))))

    return reduce


def _accumulate(ufunc: Any) -> Any:
    name = f"{ufunc.__name__}.accumulate"

    def accumulate(array: Any, axis: int = 0, dtype: Any = None, out: Any = None) -> Any:
        unsupported_keywords(name, out=out)
        a = array_like(array)
        if dtype is not None:
            a = _shape.astype(a, dtype)
        if ufunc in _SCANS:
            return _SCANS[ufunc](a, axis=axis)
        a, ax = _fold_axis(name, a, axis)
        return _shape.stack(_steps(ufunc, a, ax), axis=ax)

    return accumulate


def _reduceat(ufunc: Any) -> Any:
    name = f"{ufunc.__name__}.reduceat"

    def reduceat(array: Any, indices: Any, axis: int = 0, dtype: Any = None, out: Any = None) -> Any:
        unsupported_keywords(name, out=out)
        a = array_like(array)
        if dtype is not None:
            a = _shape.astype(a, dtype)
        shape = _shape.shape_of(a)
        given = indices if isinstance(indices, (list, tuple)) else np.asarray(indices)
        # NumPy's own checks (index range and type, axis), on a stand-in of the same shape
        ufunc.reduceat(np.zeros(shape, dtype=a.dtype), given, axis)
        starts = np.asarray(given)
        ax = _shape.axis_index(axis, len(shape))
        starts = starts.astype(np.intp)  # as NumPy casts them
        if starts.size == 0:
            return a[_shape.along(ax, slice(0, 0))]
        ends = [*starts[1:].tolist(), shape[ax]]
        reduce = registry.functions[(ufunc, "reduce")]
        pieces = [
            reduce(a[_shape.along(ax, slice(i, j))], axis=ax) if i < j else a[_shape.along(ax, i)]
            for i, j in zip(starts.tolist(), ends)
        ]
        return _shape.stack(pieces, axis=ax)

    return reduceat


def _register_methods() -> None:
    for ufunc in list(registry.ufuncs):
        if not isinstance(ufunc, np.ufunc) or ufunc.nin != 2 or ufunc.nout != 1 or ufunc.signature:
            continue
        registry.functions[(ufunc, "outer")] = _outer(ufunc)
        registry.functions.setdefault((ufunc, "reduce"), _reduce(ufunc))
        registry.functions[(ufunc, "accumulate")] = _accumulate(ufunc)
        registry.functions[(ufunc, "reduceat")] = _reduceat(ufunc)


_register_methods()
