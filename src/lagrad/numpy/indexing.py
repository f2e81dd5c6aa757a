"""Indexing: ``x[i]``, slices, integer and boolean arrays, and functional updates.

``x[index]`` is linear in `x`; its transpose scatters the multiplier back into
zeros (adding where an integer index repeats). Traced integer or boolean
arrays inside an index become arguments of the equation, so a replay indexes
with the new values. Traced arrays are immutable: ``x.at[i].set(v)`` and
``x.at[i].add(v)`` return updated copies.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core import Var, defjvp, deflinear, defvjp
from ..core.primitive import META, UNREAD
from . import manipulation as _shape
from ._register import method, prim

__all__ = [
    "at",
    "getitem",
]


class Index:
    """A static index expression; `Slot`s stand for traced arrays passed as arguments."""

    __slots__ = ("items", "repeats")

    def __init__(self, items: tuple[Any, ...], repeats: bool) -> None:
        self.items = items
        self.repeats = repeats  # an integer array may name an element twice: scatter with add

    def fill(self, dynamic: tuple[Any, ...]) -> tuple[Any, ...]:
        if not dynamic:
            return self.items
        return tuple(dynamic[i.position] if type(i) is Slot else i for i in self.items)

    def __repr__(self) -> str:
        return "[" + ", ".join(_item_label(i) for i in self.items) + "]"


class Slot:
    __slots__ = ("position",)

    def __init__(self, position: int) -> None:
        self.position = position

    def __repr__(self) -> str:
        return f"<arg {self.position}>"


def _item_label(item: Any) -> str:
    if isinstance(item, slice):
        parts = ["" if v is None else str(v) for v in (item.start, item.stop, item.step)]
        return ":".join(parts[:2] if item.step is None else parts)
    if item is Ellipsis:
        return "..."
    if item is None:
        return "None"
    if isinstance(item, np.ndarray):
        return f"{item.dtype.name}{list(item.shape)}" if item.size > 4 else str(item.tolist())
    return repr(item)


def make_index(index: Any) -> tuple[Index, tuple[Any, ...]]:
    """`index` as a static Index plus the traced arrays it contains."""
    items = index if isinstance(index, tuple) else (index,)
    out: list[Any] = []
    dynamic: list[Any] = []
    repeats = False
    for item in items:
        if isinstance(item, Var):
            if item.dtype.kind not in "iub":
                raise IndexError(f"lagrad: arrays used as indices must be integers or booleans, got {item.dtype}")
            out.append(Slot(len(dynamic)))
            dynamic.append(item)
            repeats = repeats or item.dtype.kind != "b"
        elif isinstance(item, slice):
            out.append(slice(*(None if v is None else int(v) for v in (item.start, item.stop, item.step))))
        elif isinstance(item, (list, np.ndarray)):
            arr = np.asarray(item)
            if arr.dtype.kind not in "iub":
                raise IndexError(f"lagrad: arrays used as indices must be integers or booleans, got {arr.dtype}")
            out.append(arr)
            repeats = repeats or arr.dtype.kind != "b"
        elif item is None or item is Ellipsis or isinstance(item, (bool, np.bool_)):
            out.append(item)
        else:
            out.append(int(item))
    return Index(tuple(out), repeats), tuple(dynamic)


def _untake_impl(g: Any, *dynamic: Any, index: Index, shape: tuple[int, ...]) -> Any:
    out = np.zeros_like(g, shape=shape)
    where = index.fill(dynamic)
    if index.repeats:
        np.add.at(out, where, g)
    else:
        out[where] = g
    return out


def _set_impl(x: Any, v: Any, *dynamic: Any, index: Index) -> Any:
    out = x.copy()
    out[index.fill(dynamic)] = v
    return out


def _add_impl(x: Any, v: Any, *dynamic: Any, index: Index) -> Any:
    out = x.copy()
    np.add.at(out, index.fill(dynamic), v)
    return out


_getitem = prim("getitem", lambda x, *dynamic, index: x[index.fill(dynamic)])
_untake = prim("untake", _untake_impl)
_index_set = prim("index_set", _set_impl)
_index_add = prim("index_add", _add_impl)


def _indexed_shape(shape: tuple[int, ...], index: Index, dynamic: tuple[Any, ...]) -> tuple[int, ...]:
    return np.empty(shape, dtype=np.bool_)[index.fill(tuple(_plain(d) for d in dynamic))].shape


def _plain(x: Any) -> Any:
    while isinstance(x, Var):
        x = x.value
    return x


def _part(g: Any, v: Any, dynamic: tuple[Any, ...], index: Index) -> Any:
    """The multiplier of the indexed part, summed to the shape of the value `v` put there."""
    return _shape.unbroadcast(_getitem(g, *dynamic, index=index), v.shape)


def _scatter(t: Any, x: Any, dynamic: tuple[Any, ...], index: Index) -> Any:
    """`t` (broadcast to the indexed part's shape) placed into zeros shaped like `x`."""
    part = _shape.broadcast_to(t, _indexed_shape(x.shape, index, dynamic))
    return _untake(part, *dynamic, index=index, shape=x.shape)


# What a rule reads of (ans, x, v): the traced index arrays after them are read in full.
_NOTHING = (UNREAD, UNREAD, UNREAD)
_X_SHAPE = (UNREAD, META, UNREAD)
_V_SHAPE = (UNREAD, UNREAD, META)

# fmt: off
deflinear(_getitem,  lambda g, ans, x, *dynamic, index: _untake(g, *dynamic, index=index, shape=x.shape),
                     reads=[_X_SHAPE[:2]])
deflinear(_untake,   lambda g, ans, t, *dynamic, index, shape: _getitem(g, *dynamic, index=index),
                     reads=[_NOTHING[:2]])
defvjp(_index_set,   lambda g, ans, x, v, *dynamic, index: _index_set(g, 0.0, *dynamic, index=index),
                     lambda g, ans, x, v, *dynamic, index: _part(g, v, dynamic, index),
                     reads=[_NOTHING, _V_SHAPE])
defjvp(_index_set,   lambda t, ans, x, v, *dynamic, index: _index_set(t, 0.0, *dynamic, index=index),
                     lambda t, ans, x, v, *dynamic, index: _scatter(t, x, dynamic, index),
                     reads=[_NOTHING, _X_SHAPE])
defvjp(_index_add,   lambda g, ans, x, v, *dynamic, index: g,
                     lambda g, ans, x, v, *dynamic, index: _part(g, v, dynamic, index),
                     reads=[_NOTHING, _V_SHAPE])
defjvp(_index_add,   lambda t, ans, x, v, *dynamic, index: t,
                     lambda t, ans, x, v, *dynamic, index: _scatter(t, x, dynamic, index),
                     reads=[_NOTHING, _X_SHAPE])
# fmt: on


@method("__getitem__")
def getitem(x: Any, index: Any) -> Any:
    """``x[index]``: basic and advanced indexing, traced index arrays included."""
    static, dynamic = make_index(index)
    return _getitem(x, *dynamic, index=static)


class _At:
    """``x.at[index]``: functional updates of a traced (or plain) array."""

    __slots__ = ("x", "index")

    def __init__(self, x: Any, index: Any = None) -> None:
        self.x = x
        self.index = index

    def __getitem__(self, index: Any) -> _At:
        return _At(self.x, index)

    def set(self, value: Any) -> Any:
        """A copy of x with x[index] replaced by `value`."""
        static, dynamic = make_index(self.index)
        return _index_set(self.x, value, *dynamic, index=static)

    def add(self, value: Any) -> Any:
        """A copy of x with `value` added at x[index] (repeated indices add up)."""
        static, dynamic = make_index(self.index)
        return _index_add(self.x, value, *dynamic, index=static)

    def get(self) -> Any:
        return getitem(self.x, self.index)


@method("at")
def at(x: Any) -> _At:
    """``at(x)[index].set(v)``: the functional update, for traced and plain arrays alike."""
    return _At(x)
