"""In-place writes on traced arrays: ``u[1:-1] += v``, ``y[mask] = 0``, ``out=``.

A write is recorded as a functional update (an ``index_set``/``index_add`` equation, by
the NumPy layer) whose result becomes the written object's variable: `write`. A `View`
links an array taken from another (a basic slice, a reshape, a transpose, ``.real``) to
it, so that a write through either is seen by both, as NumPy's shared memory would make
it. This is a feature built on tracing, not part of it: the core keeps only the two
fields of `Var` that hold the links (``_view``, ``_views``) and `Trace.pending`, the
equations a write defers until a use (DESIGN.md, "In-place writes and views").
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from .core import Var
from .core.trace import user_line


class View:
    """How an array was taken from the array `parent` (itself a root or a view): by
    `kind` with the static `param` (the index of ``u[1:-1]``, the axes of a transpose).

    `kind.derive(parent, param)` reads the view again from the parent's current
    variable after a write elsewhere in the family (`kind.value` on plain values);
    `kind.restore(parent, new, param)` is the parent with the view's entries replaced
    by `new`. A kind whose `restore` is None refuses writes, with `kind.refusal` saying
    why: NumPy's view is read-only, or NumPy copies where code may expect a view
    (`parent` is then None: a copy is not kept in step with the array it came from).
    """

    __slots__ = ("parent", "kind", "param")

    def __init__(self, parent: Var | None, kind: Any, param: Any = None) -> None:
        self.parent = parent
        self.kind = kind
        self.param = param


def root(var: Var) -> Var:
    """The array `var` is (a view of a view of …) a view of."""
    while var._view is not None and var._view.parent is not None:
        var = var._view.parent
    return var


def adopt_view(var: Var, view: View) -> Var:
    """Make the (new) object `var` a view of `view.parent`, seen again after every write."""
    var._view = view
    if view.parent is None:  # a copy that refuses writes: nothing to keep in step
        return var
    top = root(view.parent)
    if top._views is None:
        top._views = []
    elif len(top._views) > 8 and len(top._views) & (len(top._views) - 1) == 0:
        top._views = [r for r in top._views if r() is not None]  # forget dead views now and then
    top._views.append(weakref.ref(var))
    return var


def write(var: Var, new: Var) -> None:
    """The entries of the array `var` are now `new`'s: an in-place write. The object (and the
    arrays it is a view of, up to the root) refer to new variables; every other live view of
    the root is read again from them, so all see the write as in NumPy."""
    chain = [var]
    while chain[-1]._view is not None:
        link = chain[-1]._view
        if link.kind.restore is None:
            raise ValueError(f"lagrad: in-place write into {_equation(chain[-1])}: {link.kind.refusal}")
        chain.append(link.parent)
    for v in chain:
        link = v._view
        parent_new = None if link is None else link.kind.restore(link.parent, new, link.param)
        rebind(v, new)
        new = parent_new
    pending = var._trace.pending
    top = chain[-1]
    live = []
    for ref in top._views or ():
        view = ref()
        if view is None:
            continue
        live.append(ref)
        if len(chain) == 1 or not any(view is v for v in chain):  # a root is in no list
            link = view._view
            parent = link.parent.value
            if type(parent) is np.ndarray:
                view.value = link.kind.value(parent, link.param)  # its equation waits for a use
                pending.append(_Reread(ref, view.index))
            else:
                rebind(view, link.kind.derive(link.parent, link.param))
    if top._views is not None:
        top._views = live  # the dead views forgotten


class _Reread:
    """A view read again after a write, its equation recorded when the trace next records
    (`Trace.settle`), so the view ``u[1:-1]`` that ``u[1:-1] += v`` writes through costs no
    equation."""

    __slots__ = ("ref", "index")

    def __init__(self, ref: Any, index: int) -> None:
        self.ref, self.index = ref, index

    def __call__(self) -> None:
        view = self.ref()
        if view is not None and view.index == self.index:  # alive, and not written since
            link = view._view
            rebind(view, link.kind.derive(link.parent, link.param))


def rebind(var: Var, new: Any) -> None:
    """Make the object `var` refer to the variable of `new` (a value of the same trace)."""
    if type(new) is not Var or new._trace is not var._trace:
        raise TypeError(
            f"lagrad: in-place write into z{var.index + 1} of an outer trace from inside an "
            f"inner differentiation (a closure written into by the function being "
            f"differentiated); pass the array as an argument, or build a new one"
        )
    var.value = new.value
    var.index = new.index
    var.inexact = new.inexact


def _equation(var: Var) -> str:
    """``z7 = reshape(z6, shape=(6,)) at file.py:12``, for errors about the object `var`."""
    trace = var._trace
    position = var.index - trace.n_inputs
    where = user_line()
    if 0 <= position < len(trace.equations):
        return f"z{var.index + 1} = {trace.equations[position].rhs()}{' at ' + where if where else ''}"
    return f"z{var.index + 1}{' at ' + where if where else ''}"
