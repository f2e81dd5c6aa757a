"""Making NumPy functions lagrad primitives and registering them where the core looks.

`ufunc(numpy.exp)` is the primitive for an elementwise ufunc; `function(numpy.sum)`
registers a lagrad wrapper with NumPy's signature for `__array_function__`
dispatch; `method("reshape")` makes it an array method of traced values;
`nondiff(numpy.argmax)` records a function that has no derivative, so a replay
still recomputes it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..core import Primitive, Var, registry
from ..core.backend import NAMESPACES, _plain, namespace_of

F = Callable[..., Any]

#: Every primitive the NumPy layer defines, by name (the coverage report reads it).
PRIMITIVES: dict[str, Primitive] = {}
#: Functions evaluated on traced values with no derivative, by name.
NONDIFF: dict[str, Any] = {}


def holds_traced(obj: Any) -> bool:
    """Whether `obj` is a traced value or a list or tuple holding one (at any depth)."""
    if type(obj) is Var:
        return True
    return isinstance(obj, (list, tuple)) and any(holds_traced(o) for o in obj)


def array_like(obj: Any) -> Any:
    """`obj` as an array, the way NumPy reads an array-like: a list or tuple (nested,
    holding traced values or not) becomes one array; arrays and traced values stay."""
    if not isinstance(obj, (list, tuple)):
        return obj if type(obj) is Var or hasattr(obj, "shape") else np.asarray(obj)
    if not holds_traced(obj):
        return np.asarray(obj)
    from .manipulation import stack  # manipulation registers through this module

    return stack([array_like(o) if isinstance(o, (list, tuple)) else o for o in obj])


class ArrayPrimitive(Primitive):
    """A primitive of the NumPy layer. NumPy reads a list or tuple argument as an array;
    so does this, before recording, so that rules see arrays (``np.dot([1, 2], x)``) and a
    list of traced values is one traced array (``np.mean([a, b])``)."""

    def __call__(self, *args: Any, **params: Any) -> Any:
        # Primitive.__call__ with the list check folded into its one pass over the arguments:
        # this is every primitive call, traced or not (rules call primitives on plain arrays)
        # and the namespace check: NumPy's arrays pass it with one comparison, other types with
        # one dict lookup (`backend.NAMESPACES`)
        top = xp = None
        for a in args:
            kind = type(a)
            if kind is Var:
                t = a._trace
                if top is None or t.level > top.level:
                    top = t
            elif kind is list or kind is tuple:
                args = tuple(array_like(b) if type(b) is list or type(b) is tuple else b for b in args)
                return self(*args, **params)
            elif kind is not np.ndarray:
                space = NAMESPACES[kind] if kind in NAMESPACES else namespace_of(a)
                if space is not None:
                    xp = space
        if top is not None:
            if params and type(self.impl) is np.ufunc:  # out=, dtype=, where= as numpy.<ufunc> takes them
                return self.impl(*args, **params)
            return top.apply(self, args, params)
        if xp is None:
            return self.impl(*args, **params)
        from ._namespace import call

        return call(self, xp, args, params)

    def __getattr__(self, name: str) -> Any:
        """A ufunc's methods (``lagrad.numpy.add.outer``): lagrad's on traced values, NumPy's
        own otherwise (``at`` is always NumPy's, which dispatches traced values itself)."""
        impl = self.__dict__.get("impl")
        if name.startswith("_") or not isinstance(impl, np.ufunc) or not hasattr(impl, name):
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        numpy_method = getattr(impl, name)
        traced_method = registry.functions.get((impl, name))
        if traced_method is None:
            return numpy_method

        def method(*args: Any, **kwargs: Any) -> Any:
            if holds_traced(args) or holds_traced(tuple(kwargs.values())):
                return traced_method(*args, **kwargs)
            return numpy_method(*args, **kwargs)

        method.__name__ = name
        return method


def _keep(prim: Primitive) -> Primitive:
    PRIMITIVES[prim.name] = prim
    return prim


def ufunc(np_ufunc: Any, name: str | None = None, *, elementwise: bool = True, kernel: F | None = None) -> Primitive:
    """The primitive for a NumPy (or SciPy) ufunc, found by operators and by
    ``numpy.<ufunc>(traced)``; generalized ufuncs (matmul) are not elementwise.
    `kernel` (a Python operator) evaluates it while tracing."""
    prim = ArrayPrimitive(name or np_ufunc.__name__, np_ufunc, elementwise=elementwise, kernel=kernel)
    registry.ufuncs[np_ufunc] = prim
    return _keep(prim)


def elementwise(name: str, impl: F) -> Primitive:
    """An elementwise primitive that is not a ufunc (where, clip)."""
    return _keep(ArrayPrimitive(name, impl, elementwise=True))


def prim(name: str, impl: F, *, kernel: F | None = None) -> Primitive:
    """A primitive that is not a ufunc (rules declared beside it)."""
    return _keep(ArrayPrimitive(name, impl, kernel=kernel))


def function(*np_functions: Any) -> Callable[[F], F]:
    """Register the decorated lagrad function for ``numpy.<f>(traced)`` dispatch."""

    def register(fun: F) -> F:
        for f in np_functions:
            registry.functions[f] = fun
        return fun

    return register


def method(*names: str) -> Callable[[F], F]:
    """Register the decorated function (array first) as a method of traced values."""

    def register(fun: F) -> F:
        for n in names:
            registry.methods[n] = fun
        return fun

    return register


def nondiff(
    np_function: Any,
    name: str | None = None,
    *,
    method_name: str | None = None,
    kernel: F | None = None,
    listed: bool = True,
) -> Primitive:
    """Record `np_function` on traced values with no derivative (zero almost everywhere,
    or an integer result): the value is right, the multiplier stops here. `listed=False`
    keeps it off the NONDIFF list: a path of a function differentiable elsewhere (full_like)."""
    name = name or np_function.__name__
    p = ArrayPrimitive(name, np_function, kernel=kernel)
    p.differentiable = False
    if isinstance(np_function, np.ufunc):
        registry.ufuncs[np_function] = p
    elif getattr(np_function, "__module__", "").startswith("numpy"):
        registry.functions[np_function] = p
    if method_name:
        registry.methods[method_name] = p
    if listed:
        NONDIFF[name] = p
    return p


def unsupported_keywords(name: str, **kwargs: Any) -> None:
    """Refuse NumPy keywords lagrad does not implement, rather than ignore them."""
    given = [k for k, v in kwargs.items() if v is not None and v is not False]
    if given:
        raise TypeError(
            f"lagrad.numpy.{name}: keyword {', '.join(given)} is not supported on traced "
            f"values; compute without it (e.g. `out=` -> use the result, `where=` -> "
            f"lagrad.numpy.where)."
        )


def count_guarded(a: Any) -> None:
    """Where a traced array's number of nonzero entries sets a result's shape (a boolean mask's
    selection, `nonzero`, `argwhere`), that number is remembered as a branch (`int` records
    it), so a replay that would select another number (`lagrad.compile`, a Program called
    again) traces again instead of reusing this run's shapes and the constants built from them
    (a mean's divisor, a seed's shape). Dask's and the array namespaces' values are left alone:
    the number would be computed."""
    if isinstance(a, Var) and type(_plain(a)) is np.ndarray:
        int(np.count_nonzero(a))
