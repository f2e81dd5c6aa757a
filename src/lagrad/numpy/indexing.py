"""Indexing: ``x[i]``, slices, integer and boolean arrays, functional updates, and the
NumPy functions that select entries: take, take_along_axis, choose, compress, select,
diagonals and triangles, interp.

``x[index]`` is linear in `x`; its transpose scatters the multiplier back into
zeros (adding where an integer index repeats). Traced integer or boolean
arrays inside an index become arguments of the equation, so a replay indexes
with the new values. Traced arrays are immutable: ``x.at[i].set(v)`` and
``x.at[i].add(v)`` return updated copies. NumPy's in-place writers (``x[i] = v``,
``x += v``, ``out=``, ``numpy.add.at``, put, put_along_axis, copyto, fill_diagonal,
x.fill) record the same updates and make the written object refer to the result;
a basic index gives a view, so a write through it reaches the array it came from.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core import Var, defbatch, defjvp, deflinear, defvjp, registry
from ..core.backend import in_namespace, is_lazy, namespace_of, numpy_dtype
from ..core.primitive import META, UNREAD
from ..inplace import root, write
from . import manipulation as _shape
from . import reductions, ufuncs
from ._register import array_like, count_guarded, function, method, nondiff, prim

__all__ = [
    "at",
    "choose",
    "compress",
    "copyto",
    "diag",
    "diagflat",
    "diagonal",
    "extract",
    "fill_diagonal",
    "getitem",
    "interp",
    "piecewise",
    "put",
    "put_along_axis",
    "select",
    "take",
    "take_along_axis",
    "trace",
    "tril",
    "triu",
]


class Index:
    """A static index expression; `Slot`s stand for traced arrays passed as arguments."""

    __slots__ = ("items", "repeats", "source", "ints")

    def __init__(self, items: tuple[Any, ...], repeats: bool, source: Any = None, ints: int = -1) -> None:
        self.items = items
        self.repeats = repeats  # an integer array may name an element twice: scatter with add
        self.source = source  # a basic index as the user wrote it (else None)
        self.ints = ints  # how many integers, for NumPy's basic indexing; -1 for advanced

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
    ints = 0
    for item in items:
        kind = type(item)
        if kind is int:
            out.append(item)
            ints += 1
        elif kind is slice and _plain_slice(item):
            out.append(item)
        elif isinstance(item, Var):
            item_kind = getattr(item.dtype, "kind", None) or numpy_dtype(item.dtype).kind  # another namespace's
            if item_kind not in "iub":
                raise IndexError(f"lagrad: arrays used as indices must be integers or booleans, got {item.dtype}")
            if item_kind == "b":
                count_guarded(item)
            out.append(Slot(len(dynamic)))
            dynamic.append(item)
            repeats = repeats or item_kind != "b"
        elif isinstance(item, slice):
            out.append(slice(*(None if v is None else int(v) for v in (item.start, item.stop, item.step))))
        elif isinstance(item, (list, np.ndarray)):
            arr = np.asarray(item)
            if arr.dtype.kind not in "iub":
                raise IndexError(f"lagrad: arrays used as indices must be integers or booleans, got {arr.dtype}")
            out.append(arr)
            repeats = repeats or arr.dtype.kind != "b"
        elif is_lazy(item) or namespace_of(item) is not None:  # Dask's, another namespace's: like NumPy's
            item_kind = numpy_dtype(item.dtype).kind
            if item_kind not in "iub":
                raise IndexError(f"lagrad: arrays used as indices must be integers or booleans, got {item.dtype}")
            out.append(item)
            repeats = repeats or item_kind != "b"
        elif item is None or item is Ellipsis or isinstance(item, (bool, np.bool_)):
            out.append(item)
        else:
            out.append(int(item))
            ints += 1
    basic = all(type(i) in (int, slice) or i is None or i is Ellipsis for i in out)
    if not basic:  # only a basic index is compared by its source (and it holds no traced value)
        return Index(tuple(out), repeats), tuple(dynamic)
    return Index(tuple(out), repeats, index, ints), tuple(dynamic)


def _plain_slice(item: slice) -> bool:
    return all(v is None or type(v) is int for v in (item.start, item.stop, item.step))


def _untake_impl(g: Any, *dynamic: Any, index: Index, shape: tuple[int, ...]) -> Any:
    out = np.zeros_like(g, shape=shape)
    where = index.fill(dynamic)
    if index.repeats and (is_lazy(g) or is_lazy(out)):
        return _lazy_scatter_add(out, where, g)
    if index.repeats:
        np.add.at(out, where, g)
    elif is_lazy(out) and any(item is None for item in where):
        # Dask writes through no new axis: the index without them, `g` without their size-1 axes
        where = tuple(item for item in where if item is not None)
        out[where] = np.reshape(g, out[where].shape)
    else:
        out[where] = g
    return out


def _copy(x: Any) -> Any:
    """A copy to write into: NumPy's, or a lazy array's own (which writes into its graph)."""
    return x.copy() if is_lazy(x) else np.array(x, copy=True)


def _lazy_scatter_add(out: Any, where: Any, v: Any) -> Any:
    """``numpy.add.at(out, where, v)`` for a lazy (Dask) `out`, which has no unbuffered add:
    an integer array over one axis (the others whole) as a product with its 0/1 incidence
    matrix, so repeated indices add up inside the graph."""
    items = where if isinstance(where, tuple) else (where,)
    arrays = [j for j, item in enumerate(items) if not isinstance(item, (slice, int))]
    whole = all(item == slice(None) for item in items if isinstance(item, slice))
    if len(arrays) != 1 or not whole or any(isinstance(item, int) for item in items) or items[arrays[0]].ndim != 1:
        raise NotImplementedError(
            f"lagrad: adding into a Dask array at repeated indices (numpy.add.at, the derivative of x[i] "
            f"with an integer array i) is supported for one 1-d integer array over one axis, not the "
            f"index {where!r}; compute the array first (x.compute()) or index one axis at a time"
        )
    j = arrays[0]
    n = out.shape[j]
    incidence = (np.arange(n)[:, None] == items[j][None, :]).astype(out.dtype)  # n × k
    v = np.broadcast_to(v, (*out.shape[:j], len(items[j]), *out.shape[j + 1 :]))
    added = np.moveaxis(np.tensordot(incidence, np.moveaxis(v, j, 0), axes=1), 0, j)
    return out + added


def _set_impl(x: Any, v: Any, *dynamic: Any, index: Index) -> Any:
    out = _copy(x)  # a 0-d value may be a NumPy scalar, which has no in-place write
    out[index.fill(dynamic)] = v
    return out


def _add_impl(x: Any, v: Any, *dynamic: Any, index: Index) -> Any:
    out = _copy(x)
    if index.repeats and is_lazy(out):
        return _lazy_scatter_add(out, index.fill(dynamic), v)
    if index.repeats:
        np.add.at(out, index.fill(dynamic), v)  # unbuffered: a repeated index adds up
    else:
        out[index.fill(dynamic)] += v  # a slice or a mask: NumPy's buffered add, much faster
    return out


def _getitem_impl(x: Any, *dynamic: Any, index: Index) -> Any:
    where = index.fill(dynamic)
    if is_lazy(x):
        where = _known_size(where, x.ndim)
    return x[where]


def _known_size(where: Any, ndim: int) -> Any:
    """A NumPy boolean mask over a Dask array's leading axes as the integer indices it selects:
    Dask's own mask selection has unknown chunk sizes, an index array known ones."""
    items = where if isinstance(where, tuple) else (where,)
    masks = [i for i, item in enumerate(items) if type(item) is np.ndarray and item.dtype.kind == "b"]
    if len(masks) != 1 or items[masks[0]].ndim != 1:
        return where
    j = masks[0]
    return (*items[:j], np.flatnonzero(items[j]), *items[j + 1 :])


_getitem = prim("getitem", _getitem_impl)
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


def _winners_impl(*dynamic: Any, index: Index, shape: tuple[int, ...]) -> Any:
    """For ``x.at[index].set(v)``: True where an entry of the indexed part is the one that
    lands (the last written, where an integer index repeats); the others are overwritten."""
    where = index.fill(dynamic)
    part = np.empty(shape, dtype=np.bool_)[where].shape
    labels = np.arange(int(np.prod(part, dtype=np.int64))).reshape(part)
    written = np.full(shape, -1, dtype=labels.dtype)
    written[where] = labels
    return written[where] == labels


_winners = nondiff(_winners_impl, "index_winners")


def _landed(part: Any, x: Any, dynamic: tuple[Any, ...], index: Index) -> Any:
    """`part` (shaped like x[index]) zeroed where a repeated index overwrote the entry."""
    return part * _winners(*dynamic, index=index, shape=x.shape) if index.repeats else part


def _set_part(g: Any, x: Any, v: Any, dynamic: tuple[Any, ...], index: Index) -> Any:
    return _shape.unbroadcast(_landed(_getitem(g, *dynamic, index=index), x, dynamic, index), v.shape)


def _set_scatter(t: Any, x: Any, dynamic: tuple[Any, ...], index: Index) -> Any:
    part = _landed(_shape.broadcast_to(t, _indexed_shape(x.shape, index, dynamic)), x, dynamic, index)
    return _untake(part, *dynamic, index=index, shape=x.shape)


# What a rule reads of (ans, x, v): the traced index arrays after them are read in full.
_NOTHING = (UNREAD, UNREAD, UNREAD)
_X_SHAPE = (UNREAD, META, UNREAD)
_V_SHAPE = (UNREAD, UNREAD, META)
_SHAPES = (UNREAD, META, META)

# fmt: off
deflinear(_getitem,  lambda g, ans, x, *dynamic, index: _untake(g, *dynamic, index=index, shape=x.shape),
                     reads=[_X_SHAPE[:2]])
deflinear(_untake,   lambda g, ans, t, *dynamic, index, shape: _getitem(g, *dynamic, index=index),
                     reads=[_NOTHING[:2]])
defvjp(_index_set,   lambda g, ans, x, v, *dynamic, index: _index_set(g, 0.0, *dynamic, index=index),
                     lambda g, ans, x, v, *dynamic, index: _set_part(g, x, v, dynamic, index),
                     reads=[_NOTHING, _SHAPES])
defjvp(_index_set,   lambda t, ans, x, v, *dynamic, index: _index_set(t, 0.0, *dynamic, index=index),
                     lambda t, ans, x, v, *dynamic, index: _set_scatter(t, x, dynamic, index),
                     reads=[_NOTHING, _X_SHAPE])
defvjp(_index_add,   lambda g, ans, x, v, *dynamic, index: g,
                     lambda g, ans, x, v, *dynamic, index: _part(g, v, dynamic, index),
                     reads=[_NOTHING, _V_SHAPE])
defjvp(_index_add,   lambda t, ans, x, v, *dynamic, index: t,
                     lambda t, ans, x, v, *dynamic, index: _scatter(t, x, dynamic, index),
                     reads=[_NOTHING, _X_SHAPE])
# fmt: on


def batched(index: Index, dynamic: tuple[Any, ...]) -> Index | None:
    """`index` for k stacked arrays (a leading axis kept whole), or None where NumPy would move
    the batch axis: advanced indices (arrays, and integers among them) apart from each other."""
    advanced = [
        j
        for j, i in enumerate(index.items)
        if type(i) is Slot or isinstance(i, np.ndarray) or (isinstance(i, int) and not isinstance(i, bool))
    ]
    arrays = any(type(i) is Slot or isinstance(i, np.ndarray) for i in index.items)
    if arrays and advanced and advanced[-1] - advanced[0] + 1 != len(advanced):
        return None
    return Index((slice(None), *index.items), index.repeats)


def _getitem_bvjp(g: Any, ans: Any, x: Any, *dynamic: Any, index: Index) -> Any:
    b = batched(index, dynamic)
    if b is None:
        return _rows(lambda r: _untake(r, *dynamic, index=index, shape=x.shape), g)
    return _untake(g, *dynamic, index=b, shape=(g.shape[0], *x.shape))


def _getitem_bjvp(t: Any, ans: Any, x: Any, *dynamic: Any, index: Index) -> Any:
    b = batched(index, dynamic)
    if b is None:
        return _rows(lambda r: _getitem(r, *dynamic, index=index), t)
    return _getitem(t, *dynamic, index=b)


def _untake_bvjp(g: Any, ans: Any, t: Any, *dynamic: Any, index: Index, shape: tuple[int, ...]) -> Any:
    return _getitem_bjvp(g, None, None, *dynamic, index=index)


def _untake_bjvp(t: Any, ans: Any, x: Any, *dynamic: Any, index: Index, shape: tuple[int, ...]) -> Any:
    b = batched(index, dynamic)
    if b is None:
        return _rows(lambda r: _untake(r, *dynamic, index=index, shape=shape), t)
    return _untake(t, *dynamic, index=b, shape=(t.shape[0], *shape))


def _rows(f: Any, stacked: Any) -> Any:
    return _shape.stack([f(stacked[b]) for b in range(stacked.shape[0])])


defbatch(_getitem, vjps={0: _getitem_bvjp}, jvps={0: _getitem_bjvp})
defbatch(_untake, vjps={0: _untake_bvjp}, jvps={0: _untake_bjvp})


def _basic(index: Index) -> bool:
    """Whether `index` is NumPy's basic indexing (integers, slices, None, Ellipsis)."""
    return index.ints >= 0


def _is_view(index: Index, ndim: int) -> bool:
    """Whether ``x[index]`` is a view in NumPy: basic indexing that does not pick a single
    element with one integer per axis (that gives a scalar, a copy)."""
    return index.ints >= 0 and not (index.ints == len(index.items) == ndim)


BASIC_INDEX = _shape.ViewKind(
    "x[index]",
    lambda p, index: _getitem(p, index=index),
    lambda p, index: p[index.items],
    lambda p, new, index: _index_set(p, new, index=index),
)


@method("__getitem__")
def getitem(x: Any, index: Any) -> Any:
    """``x[index]``: basic and advanced indexing, traced index arrays included. A basic
    index gives a view of a traced `x`, as in NumPy."""
    static, dynamic = make_index(index)
    if type(x) is not Var or dynamic or not _is_view(static, x.ndim):
        return _getitem(x, *dynamic, index=static)
    twin = _live_twin(x, static)
    out = _getitem(x, index=static) if twin is None else twin._alias()
    return _shape.view_of(out, x, BASIC_INDEX, static)


def _live_twin(x: Var, index: Index) -> Var | None:
    """A live view ``x[index]`` taken a moment ago (``u[1:-1] += k * u[1:-1]`` takes two):
    views are kept current, so a second one is its variable again, with no equation."""
    views = root(x)._views
    if not views or not x._trace.active:
        return None
    if x._trace.pending:
        x._trace.settle()
    for ref in views[-3:]:
        view = ref()
        if view is not None:
            link = view._view
            if link.parent is x and link.kind is BASIC_INDEX and link.param.items == index.items:
                return view
    return None


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


# ----- in-place writes: the updates above, recorded for the object written into ----------------


def setitem(x: Var, index: Any, value: Any) -> None:
    """``x[index] = value``: `x` now refers to ``x.at[index].set(value)``."""
    link = value._view if type(value) is Var else None
    same = link is not None and link.kind is BASIC_INDEX and link.parent is x
    if same and link.param.source is index:
        return  # u[i] = u[i], the end of `u[i] += v` (the same index object): already there
    static, dynamic = make_index(index)
    if same and not dynamic and _basic(static) and link.param.items == static.items:
        return
    write(x, _index_set(x, value, *dynamic, index=static))


def _dtype_of_operand(x: Any) -> Any:
    return x.dtype if hasattr(x, "dtype") else x if isinstance(x, (bool, int, float, complex)) else np.asarray(x).dtype


def _into(ufunc: Any, result: Any, out: Var) -> Any:
    """`result` as NumPy's ``out=`` takes it: broadcast to out's shape, cast to out's dtype
    under the 'same_kind' rule (NumPy's own errors otherwise)."""
    shape = _shape.shape_of(result)
    if shape != out.shape:
        try:
            fits = np.broadcast_shapes(shape, out.shape) == out.shape
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(
                f"non-broadcastable output operand with shape {out.shape} doesn't match the broadcast shape {shape}"
            )
        result = _shape.broadcast_to(result, out.shape)
    dtype = numpy_dtype(_dtype_of_operand(result))
    if dtype == numpy_dtype(out.dtype):
        return result
    if not np.can_cast(dtype, out.dtype, "same_kind"):
        raise TypeError(
            f"Cannot cast ufunc '{ufunc.__name__}' output from {dtype!r} to {out.dtype!r} with casting rule 'same_kind'"
        )
    return _shape.astype(result, out.dtype)


def _write_all(x: Var, result: Any) -> None:
    """Every entry of `x` replaced by `result` (already x's shape and dtype)."""
    if type(result) is Var and result._trace is x._trace:
        write(x, result)
    else:
        write(x, _index_set(x, result, index=Index((Ellipsis,), False)))


def inplace(x: Var, ufunc: Any, other: Any) -> Any:
    """``x op= other`` (``+=``, ``*=``, …): x's entries are replaced by the result, cast
    to x's dtype. ``u[1:-1] += v`` records one update of u, as ``u.at[1:-1].add(v)``."""
    op = registry.ufuncs[ufunc]
    if x.ndim == 0 and x._view is None:
        return op(x, other)  # NumPy's 0-d results are scalars: `s += 1` makes a new one
    link = x._view
    if ufunc in (np.add, np.subtract) and link is not None and link.kind is BASIC_INDEX and _fits(other, x):
        step = other if ufunc is np.add else ufuncs.negative(other)
        write(link.parent, _index_add(link.parent, step, index=link.param))
        return x
    _write_all(x, _into(ufunc, op(x, other), x))
    return x


def _fits(other: Any, x: Var) -> bool:
    """Whether `other` can be added into `x` as it is: x's dtype (or a Python number that
    NumPy casts to it) and a shape that broadcasts to x's."""
    if type(other) is Var:
        if other.dtype != x.dtype:
            return False
        shape = other.shape
    elif isinstance(other, (int, float)) and not isinstance(other, bool):
        kind = numpy_dtype(x.dtype).kind
        return kind in "fc" or (kind in "iu" and isinstance(other, int))
    else:
        return False
    try:
        return shape == x.shape or np.broadcast_shapes(shape, x.shape) == x.shape
    except ValueError:
        return False


def ufunc_out(dispatch: Any, ufunc: Any, method: str, inputs: Any, kwargs: Any, out: Any) -> Any:
    """``numpy.<ufunc>(..., out=o)``: the result, then written into `o` (traced) in place."""
    outs = out if isinstance(out, tuple) else (out,)
    if method != "__call__":
        raise TypeError(f"lagrad: numpy.{ufunc.__name__}.{method}(..., out=...) is not supported on traced values")
    for o in outs:
        if o is not None and type(o) is not Var:
            raise TypeError(
                f"lagrad: numpy.{ufunc.__name__}(..., out=o) with a plain NumPy array `o` and traced "
                f"arguments: o cannot hold a traced result. Use the result, or make o a traced "
                f"array: o = x.copy() of a traced x or of an array argument of the function; where o "
                f"is a copy of an array the function reads from outside (a global or a closure), "
                f"pass that array as an argument"
            )
    result = dispatch(ufunc, method, *inputs, **kwargs)
    results = result if isinstance(result, tuple) else (result,)
    for o, r in zip(outs, results):
        if o is not None:
            _write_all(o, _into(ufunc, r, o))
    if ufunc.nout == 1:
        return outs[0]
    return tuple(r if o is None else o for o, r in zip(outs, results))


def _ufunc_at(ufunc: Any) -> Any:
    def at(a: Any, indices: Any, b: Any = None) -> None:
        operands = () if b is None else (b,)
        if type(a) is not Var:
            if _shape.traced(indices, *operands):
                raise TypeError(
                    f"lagrad: numpy.{ufunc.__name__}.at(a, ...) with a plain array `a` and traced "
                    f"values: a cannot hold them. Make a traced (a = x.copy()) or use x.at[i].add(v)"
                )
            return ufunc.at(a, indices, *operands)
        static, dynamic = make_index(indices)
        if ufunc in (np.add, np.subtract):
            step = b if ufunc is np.add else ufuncs.negative(b)
            write(a, _index_add(a, step, *dynamic, index=static))
            return None
        if static.repeats and _repeats(static, dynamic, a.shape):
            raise NotImplementedError(
                f"lagrad: numpy.{ufunc.__name__}.at with an index that names an entry more than "
                f"once is supported for add and subtract only; apply the repeated updates one "
                f"at a time, or combine them first (e.g. multiply the factors of an entry together)"
            )
        part = _getitem(a, *dynamic, index=static)
        write(a, _index_set(a, registry.ufuncs[ufunc](part, *operands), *dynamic, index=static))
        return None

    at.__name__ = f"{ufunc.__name__}_at"
    at.__doc__ = f"numpy.{ufunc.__name__}.at(a, indices, b): ``a[indices] = {ufunc.__name__}(a[indices], b)`` in place."
    return at


def _repeats(index: Index, dynamic: tuple[Any, ...], shape: tuple[int, ...]) -> bool:
    """Whether the (advanced) index names an entry of an array of `shape` twice."""
    labels = np.arange(int(np.prod(shape, dtype=np.int64))).reshape(shape)
    picked = labels[index.fill(tuple(_plain(d) for d in dynamic))].ravel()
    return len(np.unique(picked)) != picked.size


for _ufunc in (np.add, np.subtract, np.multiply, np.divide, np.power, np.maximum, np.minimum, np.negative):
    registry.functions[(_ufunc, "at")] = _ufunc_at(_ufunc)


def _flat_positions(name: str, size: int, ind: Any, mode: str) -> Any:
    ind = np.asarray(_plain(ind)).ravel()
    if ind.dtype.kind not in "iu":
        raise TypeError(f"lagrad.numpy.{name}: indices must be integers, got {ind.dtype}")
    if mode == "raise" and ind.size and (ind.min() < -size or ind.max() >= size):
        raise IndexError(f"index {int(ind.max() if ind.max() >= size else ind.min())} is out of bounds for size {size}")
    return _fit_indices(name, ind, size, mode) if mode != "raise" else ind


def _cycled(v: Any, n: int) -> Any:
    """The first `n` entries of the flattened `v`, repeated as needed (put's convention)."""
    flat = _shape.ravel(v) if type(v) is Var else np.ravel(v)
    size = _shape.shape_of(flat)[0]
    if size == n:
        return flat
    if size == 0:
        raise ValueError("cannot write an empty array of values into a non-empty selection")
    return take(flat, np.arange(n) % size) if type(flat) is Var else flat[np.arange(n) % size]


def _put_flat(a: Var, positions: Any, v: Any) -> None:
    """``a.flat[positions] = v`` with v cycled over the positions: a's update."""
    shape = a.shape
    new = _At(_shape.ravel(a), positions).set(_cycled(v, len(positions)))
    write(a, _shape.reshape(new, shape))


def _along_axis_index(indices: Any, axis: int, shape: tuple[int, ...]) -> tuple[Any, ...]:
    """The advanced index that picks ``x[..., indices[..., j, ...], ...]`` along `axis`,
    broadcasting the other axes of `indices` against those of an array of `shape`."""
    ndim = len(shape)
    return tuple(
        indices if d == axis else np.arange(shape[d]).reshape([-1 if e == d else 1 for e in range(ndim)])
        for d in range(ndim)
    )


def _untake_along_impl(g: Any, indices: Any, axis: int, shape: tuple[int, ...]) -> Any:
    out = np.zeros(shape, dtype=g.dtype)
    np.add.at(out, _along_axis_index(indices, axis, shape), g)
    return out


_take_along = prim("take_along_axis", lambda x, indices, axis: np.take_along_axis(x, indices, axis=axis))
_untake_along = prim("untake_along_axis", _untake_along_impl)


# ----- diagonals: a gather along two axes, and its transpose that fills zeros ------------------


def _embed_diagonal_impl(g: Any, offset: int, axis1: int, axis2: int, shape: tuple[int, ...]) -> Any:
    """Zeros of `shape` with `g` (laid out as numpy.diagonal returns it) on the diagonal."""
    out = np.zeros(shape, dtype=g.dtype)
    k = np.arange(g.shape[-1])
    np.moveaxis(out, (axis1, axis2), (-2, -1))[..., k + max(-offset, 0), k + max(offset, 0)] = g
    return out


_diagonal = prim("diagonal", lambda x, offset, axis1, axis2: np.diagonal(x, offset, axis1, axis2))
_embed_diagonal = prim("embed_diagonal", _embed_diagonal_impl)

# fmt: off
deflinear(_take_along,     lambda g, ans, x, indices, axis: _untake_along(g, indices, axis=axis, shape=x.shape),
                           None)
deflinear(_untake_along,   lambda g, ans, t, indices, axis, shape: _take_along(g, indices, axis=axis),
                           None)
deflinear(_diagonal,       lambda g, ans, x, offset, axis1, axis2:
                               _embed_diagonal(g, offset=offset, axis1=axis1, axis2=axis2, shape=x.shape))
deflinear(_embed_diagonal, lambda g, ans, t, offset, axis1, axis2, shape:
                               _diagonal(g, offset=offset, axis1=axis1, axis2=axis2))
# fmt: on


def _index_array(name: str, indices: Any) -> Any:
    """Integer indices: a traced integer array as it is, anything else as a NumPy array."""
    if type(indices) is Var:
        if indices.dtype.kind not in "iu":
            raise IndexError(f"lagrad.numpy.{name}: indices must be integers, got {indices.dtype}")
        return indices
    indices = np.asarray(indices)
    if indices.dtype.kind not in "iu":
        raise IndexError(f"lagrad.numpy.{name}: indices must be integers, got {indices.dtype}")
    return indices


def _fit_indices(name: str, indices: Any, n: int, mode: str) -> Any:
    """Indices in range for an axis of length `n`: NumPy's modes 'raise', 'wrap' and 'clip'."""
    if mode == "wrap":
        return indices % n
    if mode == "clip":
        return ufuncs.clip(indices, 0, n - 1) if type(indices) is Var else np.clip(indices, 0, n - 1)
    if mode != "raise":
        raise ValueError(f"lagrad.numpy.{name}: mode must be 'raise', 'wrap' or 'clip', not {mode!r}")
    return indices


@function(np.take)
@method("take")
def take(a: Any, indices: Any, axis: Any = None, out: Any = None, mode: str = "raise") -> Any:
    """The entries of `a` at `indices` along `axis` (of the flattened array when None)."""
    if out is not None:
        raise TypeError("lagrad.numpy.take: out= is not supported on traced values; use the result")
    if not _shape.traced(a, indices):  # Dask's take has no mode: NumPy's default is not passed on
        return np.take(a, indices, axis) if mode == "raise" else np.take(a, indices, axis, mode=mode)
    if axis is None:
        a, axis = _shape.ravel(a), 0
    axis = _shape.axis_index(axis, len(_shape.shape_of(a)))
    indices = _fit_indices("take", _index_array("take", indices), _shape.shape_of(a)[axis], mode)
    return getitem(a, _shape.along(axis, indices))


@function(np.take_along_axis)
def take_along_axis(arr: Any, indices: Any, axis: Any = -1) -> Any:
    """``arr[..., indices[..., j, ...], ...]`` along `axis`, matching 1-d slices of `arr` and
    `indices` (as argsort's result picks sorted values); the transpose scatter-adds."""
    if not _shape.traced(arr, indices):
        return np.take_along_axis(arr, indices, axis=axis)
    indices = _index_array("take_along_axis", indices)
    if axis is None:
        arr, axis = _shape.ravel(arr), 0
    ndim = len(_shape.shape_of(arr))
    if len(_shape.shape_of(indices)) != ndim:
        raise ValueError("lagrad.numpy.take_along_axis: indices and arr must have the same number of dimensions")
    return _take_along(arr, indices, axis=_shape.axis_index(axis, ndim))


@function(np.put_along_axis)
def put_along_axis(arr: Any, indices: Any, values: Any, axis: Any, *, inplace: bool = True) -> Any:
    """numpy.put_along_axis writes into `arr` in place; with ``inplace=False`` this returns
    the updated copy instead, which is the only form traced arrays allow."""
    if inplace:
        if type(arr) is Var:
            write(arr, put_along_axis(arr, indices, values, axis, inplace=False))
            return None
        if _shape.traced(indices, values):
            raise TypeError(
                "lagrad.numpy.put_along_axis: `arr` is a plain NumPy array and cannot hold traced "
                "values; make it traced (arr = x.copy()) or call lagrad.numpy.put_along_axis(arr, "
                "indices, values, axis, inplace=False), which returns the updated array"
            )
        return np.put_along_axis(arr, indices, values, axis)
    indices = _index_array("put_along_axis", indices)
    shape = _shape.shape_of(arr)
    flat = axis is None
    if flat:
        arr, axis = _shape.ravel(arr), 0
    ndim = len(_shape.shape_of(arr))
    if len(_shape.shape_of(indices)) != ndim:
        raise ValueError("lagrad.numpy.put_along_axis: indices and arr must have the same number of dimensions")
    index = _along_axis_index(indices, _shape.axis_index(axis, ndim), _shape.shape_of(arr))
    out = _At(arr, index).set(values)
    return _shape.reshape(out, shape) if flat else out


@function(np.put)
def put(a: Any, ind: Any, v: Any, mode: str = "raise") -> None:
    """``a.flat[ind] = v`` in place, `v` repeated as needed (numpy.put)."""
    if type(a) is Var:
        _put_flat(a, _flat_positions("put", a.size, ind, mode), v)
        return
    if _shape.traced(ind, v):
        raise TypeError(
            "lagrad.numpy.put: `a` is a plain NumPy array and cannot hold traced values; make it "
            "traced (a = x.copy()) or use `a.ravel().at[ind].set(v).reshape(a.shape)`"
        )
    np.put(a, ind, v, mode)


@function(np.copyto)
def copyto(dst: Any, src: Any, casting: str = "same_kind", where: Any = True) -> None:
    """``dst[...] = src`` in place where `where` holds, src broadcast and cast as NumPy does."""
    if type(dst) is not Var:
        if _shape.traced(src, where):
            raise TypeError(
                "lagrad.numpy.copyto: `dst` is a plain NumPy array and cannot hold traced values; "
                "make it traced (dst = x.copy()) or use lagrad.numpy.where(where, src, dst)"
            )
        return np.copyto(dst, src, casting=casting, where=where)
    dtype = numpy_dtype(_dtype_of_operand(src))
    if not np.can_cast(dtype, dst.dtype, casting):
        raise TypeError(f"Cannot cast array data from {dtype!r} to {dst.dtype!r} according to the rule {casting!r}")
    new = _shape.broadcast_to(src if type(src) is Var else np.asarray(src), dst.shape)
    if dtype != dst.dtype:
        new = _shape.astype(new, dst.dtype)
    if not (where is True or (not _shape.traced(where) and np.all(where))):
        new = ufuncs.where(where, new, dst)
    _write_all(dst, new)
    return None


@function(np.fill_diagonal)
def fill_diagonal(a: Any, val: Any, wrap: bool = False) -> None:
    """The main diagonal of `a` set to `val` (repeated as needed), in place."""
    if type(a) is not Var:
        if _shape.traced(val):
            raise TypeError(
                "lagrad.numpy.fill_diagonal: `a` is a plain NumPy array and cannot hold traced "
                "values; make it traced (a = x.copy())"
            )
        return np.fill_diagonal(a, val, wrap)
    marks = np.zeros(a.shape, dtype=np.bool_)
    np.fill_diagonal(marks, True, wrap)
    _put_flat(a, np.flatnonzero(marks), val)
    return None


@method("fill")
def fill(a: Any, value: Any) -> None:
    """ndarray.fill: every entry set to `value`, in place."""
    if type(a) is not Var:
        return a.fill(value)
    if _shape.shape_of(value) != ():
        raise ValueError("lagrad: x.fill(value) takes a scalar value")
    _write_all(
        a,
        _shape.broadcast_to(
            _shape.astype(value, a.dtype) if type(value) is Var else np.asarray(value, a.dtype), a.shape
        ),
    )
    return None


@method("put")
def _put_method(a: Any, ind: Any, v: Any, mode: str = "raise") -> None:
    put(a, ind, v, mode)


@function(np.choose)
@method("choose")
def choose(a: Any, choices: Any, out: Any = None, mode: str = "raise") -> Any:
    """``choices[a[i]][i]`` for every i, with `a` and the choices broadcast together."""
    if out is not None:
        raise TypeError("lagrad.numpy.choose: out= is not supported on traced values; use the result")
    if not _shape.traced(a, choices):
        return np.choose(a, choices, mode=mode)
    a = _index_array("choose", a)
    # a list of arrays, or an array whose first axis enumerates the choices
    stacked = _shape.stack(list(_shape.broadcast_arrays(*choices))) if isinstance(choices, (list, tuple)) else choices
    n = _shape.shape_of(stacked)[0]
    if mode == "raise":
        plain = _plain(a)
        if plain.size and (plain.min() < 0 or plain.max() >= n):
            raise ValueError("lagrad.numpy.choose: invalid entry in choice array")
    a = _fit_indices("choose", a, n, mode)
    inner = _shape.shape_of(stacked)[1:]
    shape = np.broadcast_shapes(_shape.shape_of(a), inner)
    stacked = _shape.reshape(stacked, (n,) + (1,) * (len(shape) - len(inner)) + inner)
    a = _shape.reshape(a, (1,) * (len(shape) + 1 - len(_shape.shape_of(a))) + _shape.shape_of(a))
    return _shape.reshape(take_along_axis(stacked, a, axis=0), shape)


@function(np.compress)
def compress(condition: Any, a: Any, axis: Any = None, out: Any = None) -> Any:
    """The slices of `a` along `axis` where `condition` (1-d) is true."""
    if out is not None:
        raise TypeError("lagrad.numpy.compress: out= is not supported on traced values; use the result")
    if not _shape.traced(condition, a):
        return np.compress(condition, a, axis)
    if len(_shape.shape_of(condition)) != 1:
        raise ValueError("lagrad.numpy.compress: condition must be a 1-d array")
    return take(a, _nonzero_flat(condition), axis=axis)


@method("compress")
def _compress_method(a: Any, condition: Any, axis: Any = None, out: Any = None) -> Any:
    return compress(condition, a, axis, out)


def _nonzero_flat(condition: Any) -> Any:
    """The positions of the nonzero entries of a 1-d condition (recorded if it is traced)."""
    return ufuncs.nonzero(condition)[0] if type(condition) is Var else np.nonzero(condition)[0]


@function(np.extract)
def extract(condition: Any, arr: Any) -> Any:
    """The entries of `arr` where `condition` is nonzero, as a 1-d array."""
    if not _shape.traced(condition, arr):
        return np.extract(condition, arr)
    return take(_shape.ravel(arr), _nonzero_flat(_shape.ravel(condition)))


@function(np.piecewise)
def piecewise(x: Any, condlist: Any, funclist: Any, *args: Any, **kw: Any) -> Any:
    """numpy.piecewise: each function evaluated where its condition holds (on those entries
    only, as NumPy does), written with functional updates; a last extra function (or value)
    takes the entries no condition holds."""
    if not _shape.traced(x, condlist, args, tuple(kw.values())):
        return np.piecewise(x, condlist, funclist, *args, **kw)
    x = array_like(x)
    ndim = len(_shape.shape_of(x))
    if type(condlist) is Var or isinstance(condlist, np.ndarray) or np.isscalar(condlist):
        conds = [condlist] if np.ndim(_value_of(condlist)) == ndim else list(condlist)
    else:
        conds = list(condlist) if isinstance(condlist[0], (list, np.ndarray, Var)) or ndim == 0 else [condlist]
    conds = [_shape.broadcast_to(array_like(c), _shape.shape_of(x)) for c in conds]
    if len(conds) == len(funclist) - 1:
        taken = conds[0]
        for c in conds[1:]:
            taken = ufuncs.logical_or(taken, c)
        conds.append(ufuncs.logical_not(taken))
    elif len(conds) != len(funclist):
        raise ValueError(
            f"with {len(conds)} condition(s), either {len(conds)} or {len(conds) + 1} functions are expected"
        )
    y = _shape._plain_zeros_like(x)
    for cond, func in zip(conds, funclist):
        if not callable(func):
            y = at(y)[cond].set(func)
        elif np.any(_value_of(cond)):
            y = at(y)[cond].set(func(getitem(x, cond), *args, **kw))
    return y


def _value_of(x: Any) -> Any:
    while type(x) is Var:
        x = x.value
    return x


@function(np.select)
def select(condlist: Any, choicelist: Any, default: Any = 0) -> Any:
    """From each choice where its condition holds, the first that does; `default` elsewhere."""
    if not _shape.traced(condlist, choicelist, default):
        return np.select(condlist, choicelist, default)
    condlist, choicelist = list(condlist), list(choicelist)
    if len(condlist) != len(choicelist):
        raise ValueError("lagrad.numpy.select: list of cases must be same length as list of conditions")
    if not condlist:
        raise ValueError("lagrad.numpy.select: select with an empty condition list is not possible")
    for i, c in enumerate(condlist):
        dtype = c.dtype if hasattr(c, "dtype") else np.asarray(c).dtype
        if dtype != np.bool_:
            raise TypeError(f"lagrad.numpy.select: invalid entry {i} in condlist: should be boolean ndarray")
    dtype = np.result_type(*(_dtype_of(c) for c in choicelist), _dtype_of(default))
    result = default
    for c, choice in zip(reversed(condlist), reversed(choicelist)):
        result = ufuncs.where(c, choice, result)
    shape = np.broadcast_shapes(*(_shape.shape_of(x) for x in (*condlist, *choicelist, default)))
    result = _shape.broadcast_to(result, shape)
    return _shape.astype(result, dtype) if type(result) is Var else np.asarray(result, dtype=dtype)


def _dtype_of(x: Any) -> Any:
    """What np.result_type needs of `x`: its dtype, or a Python number as it is (weak)."""
    if hasattr(x, "dtype"):
        return x.dtype
    return x if isinstance(x, (bool, int, float, complex)) else np.asarray(x).dtype


# ----- diagonals, triangles, trace ----------------------------------------------------------------


@function(np.diagonal)
@method("diagonal")
def diagonal(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    """The diagonal of `a` in the plane of (axis1, axis2), `offset` above it, as the last axis."""
    if not _shape.traced(a):
        return np.diagonal(a, offset, axis1, axis2)
    ndim = len(_shape.shape_of(a))
    if ndim < 2:
        raise ValueError("lagrad.numpy.diagonal: the array must be at least 2-d")
    axis1, axis2 = _shape.axis_index(axis1, ndim), _shape.axis_index(axis2, ndim)
    if axis1 == axis2:
        raise ValueError("lagrad.numpy.diagonal: axis1 and axis2 cannot be the same")
    params = (int(offset), axis1, axis2)
    return _shape.view_of(_diagonal(a, offset=params[0], axis1=axis1, axis2=axis2), a, _DIAGONAL, params)


_DIAGONAL = _shape.ViewKind(
    "diagonal",
    lambda p, params: _diagonal(p, offset=params[0], axis1=params[1], axis2=params[2]),
    lambda p, params: np.diagonal(p, *params),
    refusal="it is numpy.diagonal's view, which NumPy makes read-only; write into the array "
    "with lagrad.numpy.fill_diagonal(a, values), or into a copy (d = a.diagonal().copy())",
)


@function(np.diag)
def diag(v: Any, k: int = 0) -> Any:
    """The k-th diagonal of a 2-d array, or a 2-d array with the 1-d `v` on its k-th diagonal."""
    if not _shape.traced(v):
        return np.diag(v, k)
    shape = _shape.shape_of(v)
    if len(shape) == 2:
        return diagonal(v, k)
    if len(shape) != 1:
        raise ValueError("lagrad.numpy.diag: input must be 1- or 2-d")
    n = shape[0] + abs(int(k))
    return _embed_diagonal(v, offset=int(k), axis1=0, axis2=1, shape=(n, n))


@function(np.diagflat)
def diagflat(v: Any, k: int = 0) -> Any:
    """A 2-d array with the flattened `v` on its k-th diagonal."""
    if not _shape.traced(v):
        return np.diagflat(v, k)
    return diag(_shape.ravel(v), k)


@function(np.trace)
@method("trace")
def trace(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1, dtype: Any = None, out: Any = None) -> Any:
    """The sum along a diagonal of `a` (see diagonal)."""
    if out is not None:
        raise TypeError("lagrad.numpy.trace: out= is not supported on traced values; use the result")
    if not _shape.traced(a):
        return np.trace(a, offset, axis1, axis2, dtype)
    return reductions.sum(diagonal(a, offset, axis1, axis2), axis=-1, dtype=dtype)


def _triangle(name: str, m: Any, lower: Any) -> Any:
    shape = _shape.shape_of(m)
    if not shape:
        raise ValueError(f"lagrad.numpy.{name}: the array must be at least 1-d")
    rows, cols = shape[-2:] if len(shape) > 1 else (shape[0], shape[0])
    mask = in_namespace(lower(rows, cols), _plain(m))  # array-api-strict, CuPy: the mask in m's library
    return ufuncs.where(mask, m, np.zeros((), dtype=numpy_dtype(m.dtype)))


@function(np.tril)
def tril(m: Any, k: int = 0) -> Any:
    """`m` (the last two axes) with the entries above the k-th diagonal zeroed."""
    if not _shape.traced(m):
        return np.tril(m, k)
    return _triangle("tril", m, lambda n, p: np.tri(n, p, int(k), dtype=bool))


@function(np.triu)
def triu(m: Any, k: int = 0) -> Any:
    """`m` (the last two axes) with the entries below the k-th diagonal zeroed."""
    if not _shape.traced(m):
        return np.triu(m, k)
    return _triangle("triu", m, lambda n, p: ~np.tri(n, p, int(k) - 1, dtype=bool))


# ----- interpolation: the interval is an integer (no derivative), the rest is arithmetic --------


def _interval_impl(x: Any, xp: Any) -> Any:
    """j with xp[j] <= x < xp[j+1], clipped to the table's intervals."""
    return np.clip(np.searchsorted(xp, x, side="right") - 1, 0, max(len(xp) - 2, 0))


_interval = nondiff(_interval_impl, "interp_interval")


@function(np.interp)
def interp(x: Any, xp: Any, fp: Any, left: Any = None, right: Any = None, period: Any = None) -> Any:
    """Piecewise-linear interpolation of the table (xp, fp) at `x`: linear in `fp`, with
    derivative in `x` the slope of the interval `x` falls in (at a knot the one above it, at
    xp[-1] the last), and differentiable in `xp`."""
    if not _shape.traced(x, xp, fp, left, right, period):
        return np.interp(x, xp, fp, left, right, period)
    x, xp, fp = (array_like(a) for a in (x, xp, fp))
    if len(_shape.shape_of(xp)) != 1 or _shape.shape_of(xp) != _shape.shape_of(fp):
        raise ValueError("lagrad.numpy.interp: xp and fp must be 1-d sequences of the same length")
    if _shape.shape_of(xp)[0] == 0:
        raise ValueError("lagrad.numpy.interp: array of sample points is empty")
    if period is not None:
        x, xp, fp = _periodic(x, xp, fp, period)
        left = right = None
    elif np.any(np.diff(reductions.plain_value(xp)) < 0):
        # NumPy does not check, and answers from a binary search that assumes the order: refuse
        # rather than give other numbers (and their derivative)
        raise ValueError(
            "lagrad.numpy.interp: xp must be increasing (NumPy does not check, and its result for "
            "unsorted points is meaningless); sort the table first: order = np.argsort(xp); "
            "np.interp(x, xp[order], fp[order])"
        )
    lo, hi = xp[0], xp[-1]
    if _shape.shape_of(xp)[0] == 1:
        inner = fp[0] + 0.0 * x
    else:
        j = _interval(x, xp)
        x0, x1, f0, f1 = getitem(xp, j), getitem(xp, j + 1), getitem(fp, j), getitem(fp, j + 1)
        slope = (f1 - f0) / ufuncs.where(x1 == x0, 1.0, x1 - x0)
        # x == hi is in the last interval: NumPy's fp[-1] exactly (an infinite fp[-1] too), and
        # that interval's slope
        last = f1 + (x - x1) * ufuncs.where(ufuncs.isfinite(slope), slope, 0.0)
        inner = ufuncs.where(x == hi, last, f0 + (x - x0) * slope)
    inner = ufuncs.where(x > hi, fp[-1] if right is None else right, inner)
    return ufuncs.where(x < lo, fp[0] if left is None else left, inner)


def _periodic(x: Any, xp: Any, fp: Any, period: Any) -> tuple[Any, Any, Any]:
    """The table of a periodic interpolation: xp reduced modulo `period`, sorted, and
    extended by one point at each end; `x` reduced modulo `period`."""
    if _shape.traced(xp, period):
        raise TypeError("lagrad.numpy.interp: with period=, give xp and period as plain arrays")
    if period == 0:
        raise ValueError("lagrad.numpy.interp: period must be a non-zero value")
    period = abs(period)
    xp = np.asarray(xp) % period
    order = np.argsort(xp, kind="stable")
    xp = xp[order]
    fp = getitem(fp, order) if type(fp) is Var else np.asarray(fp)[order]
    xp = np.concatenate([xp[-1:] - period, xp, xp[:1] + period])
    fp = _shape.concatenate([fp[-1:], fp, fp[:1]])
    return x % period, xp, fp


# ----- array methods that turn traced values into Python objects --------------------------------


def _to_python(x: Any, what: str) -> Any:
    """The plain value of an integer or boolean traced `x`, remembered as a branch, so that a
    replay on inputs that would change it refuses. Float values would lose their derivative."""
    if x.inexact:
        raise TypeError(
            f"lagrad: x.{what}() turns traced float value z{x.index + 1} into Python numbers, "
            f"which drops its derivative. Keep computing with arrays (x[i], x.reshape(())); to "
            f"read the numbers without a derivative (logging), use lagrad.value(x)."
        )
    inner = x.value
    result = getattr(inner, what)() if type(inner) is not Var else _PYTHON[what](inner)
    x._trace.guard(x, np.asarray(result))
    return result


@method("item")
def item(a: Any, *args: Any) -> Any:
    """ndarray.item: the Python scalar at a position (the only entry when none is given)."""
    if type(a) is not Var:
        return a.item(*args)
    if len(args) == 1 and not isinstance(args[0], tuple):
        a = _shape.ravel(a)[args[0]]
    elif args:
        a = a[args[0] if len(args) == 1 else args]
    elif a.size != 1:
        raise ValueError("lagrad: x.item() can only convert an array of size 1 to a Python scalar")
    return _to_python(_shape.reshape(a, ()), "item")


@method("tolist")
def tolist(a: Any) -> Any:
    """ndarray.tolist: nested Python lists of the entries."""
    return _to_python(a, "tolist") if type(a) is Var else a.tolist()


_PYTHON = {"item": item, "tolist": tolist}


registry.ops.setitem = setitem
registry.ops.inplace = inplace
registry.ops.ufunc_out = ufunc_out
