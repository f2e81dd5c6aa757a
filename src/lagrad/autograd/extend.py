"""`lagrad.autograd.extend`: autograd's way of declaring primitives, on lagrad's rules.

autograd's vjp rules are curried, ``lambda ans, x, y: lambda g: ...``; lagrad's take the
cotangent first, ``lambda g, ans, x, y: ...``. Each declaring function here turns the
one into the other and registers it with `lagrad.defvjp` and friends, so a primitive
declared the autograd way works in both of lagrad's modes and to any order (its rules,
written with ``lagrad.autograd.numpy``, are traced like any other code).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as _np

from .. import core as _core
from ..control import value as _value
from ..core import Primitive

__all__ = [
    "Box",
    "VSpace",
    "def_linear",
    "defjvp",
    "defjvp_argnum",
    "defjvp_argnums",
    "defvjp",
    "defvjp_argnum",
    "defvjp_argnums",
    "notrace_primitive",
    "primitive",
    "vspace",
]

#: What a traced value is (autograd's Box, ArrayBox): ``isinstance(x, Box)`` asks whether x is traced.
Box = _core.Var


def primitive(fun: Callable[..., Any]) -> Primitive:
    """Declare `fun` (plain NumPy inside) a primitive; give it rules with `defvjp`/`defjvp`."""
    prim = _core.primitive(fun, name=getattr(fun, "__name__", "primitive"))
    prim.__name__ = prim.name
    prim.__qualname__ = getattr(fun, "__qualname__", prim.name)
    prim.__module__ = getattr(fun, "__module__", None)
    return prim


def notrace_primitive(fun: Callable[..., Any]) -> Callable[..., Any]:
    """`fun` called on the plain values of its arguments: its result is a constant."""

    def on_values(*args: Any, **kwargs: Any) -> Any:
        return fun(*(_value(a) for a in args), **{k: _value(v) for k, v in kwargs.items()})

    on_values.__name__ = getattr(fun, "__name__", "notrace_primitive")
    on_values.__doc__ = getattr(fun, "__doc__", None)
    return on_values


def _primitive(fun: Any, who: str) -> Primitive:
    if not isinstance(fun, Primitive):
        raise TypeError(
            f"lagrad.autograd.extend.{who}: {fun!r} is not a primitive; declare it first with "
            f"`@primitive` (from lagrad.autograd.extend) and pass the object that returns"
        )
    return fun


def _undefined(fun: Primitive, kind: str) -> Callable[..., Any]:
    """The rule of a position autograd was given none for (not even None): autograd raises there."""

    def undefined(argnum: int, *_: Any, **__: Any) -> Any:
        raise NotImplementedError(
            f"{kind} of {fun.name} wrt argnum {argnum} not defined; give it with "
            f"lagrad.autograd.extend.def{kind.lower()}({fun.name}, ...)"
        )

    return undefined


def _by_position(argnums: Iterable[int] | None, rules: tuple[Any, ...]) -> dict[int, Any]:
    positions = range(len(rules)) if argnums is None else list(argnums)
    return dict(zip(positions, rules))


# ----- reverse mode: autograd's `maker(ans, *args, **kwargs)` returns `g ↦ vjp` -----


def _vjp_rule(maker: Callable[..., Any]) -> Callable[..., Any]:
    return lambda g, ans, *args, **kwargs: maker(ans, *args, **kwargs)(g)


def defvjp(fun: Primitive, *makers: Any, argnums: Iterable[int] | None = None) -> Primitive:
    """``defvjp(f, maker_x, maker_y)`` with ``maker_x(ans, x, y) = lambda g: ...`` (None: no
    dependence on that argument); `argnums` says which positions the makers are for."""
    _primitive(fun, "defvjp")
    given = _by_position(argnums, makers)
    for maker in given.values():
        if maker is not None and not callable(maker):
            raise TypeError(f"lagrad.autograd.extend.defvjp: bad vjp {maker!r} for {fun.name}")
    undefined = _undefined(fun, "VJP")
    rules = [
        (_vjp_rule(given[p]) if given[p] is not None else None) if p in given else _at(undefined, p)
        for p in range(max(given, default=-1) + 1)
    ]
    _core.defvjp(fun, *rules)
    _core.defvjp_argnum(fun, undefined)  # the positions after the last one given
    return fun


def _at(undefined: Callable[..., Any], position: int) -> Callable[..., Any]:
    return lambda *_, **__: undefined(position)


def defvjp_argnum(fun: Primitive, maker: Callable[..., Any]) -> Primitive:
    """``maker(argnum, ans, args, kwargs)`` returns ``g ↦ vjp`` for any position."""
    _primitive(fun, "defvjp_argnum")
    _core.defvjp(fun)
    _core.defvjp_argnum(fun, lambda argnum, g, ans, *args, **kwargs: maker(argnum, ans, args, kwargs)(g))
    return fun


def defvjp_argnums(fun: Primitive, maker: Callable[..., Any]) -> Primitive:
    """``maker(argnums, ans, args, kwargs)`` returns ``g ↦ (vjp for each of argnums)``."""
    _primitive(fun, "defvjp_argnums")
    _core.defvjp(fun)
    _core.defvjp_argnum(fun, lambda argnum, g, ans, *args, **kwargs: maker((argnum,), ans, args, kwargs)(g)[0])
    return fun


# ----- forward mode: autograd's jvp rules already take the tangent first -------------------


def _same(fun: Primitive, position: int) -> Callable[..., Any]:
    """The jvp of an argument `fun` is linear in: `fun` applied to the tangent in its place."""
    return lambda t, ans, *args, **kwargs: fun(*args[:position], t, *args[position + 1 :], **kwargs)


def defjvp(fun: Primitive, *rules: Any, argnums: Iterable[int] | None = None) -> Primitive:
    """``defjvp(f, jvp_x, jvp_y)`` with ``jvp_x(g, ans, x, y)`` the tangent of the output for a
    tangent g of x; ``"same"`` for an argument f is linear in, None for no dependence."""
    _primitive(fun, "defjvp")
    given = _by_position(argnums, rules)
    translated = []
    for p in range(max(given, default=-1) + 1):
        rule = given.get(p)
        if isinstance(rule, str) and rule == "same":
            rule = _same(fun, p)
        elif rule is not None and not callable(rule):
            raise TypeError(f"lagrad.autograd.extend.defjvp: bad jvp {rule!r} for {fun.name}")
        translated.append(rule)
    _core.defjvp(fun, *translated)
    return fun


def defjvp_argnum(fun: Primitive, maker: Callable[..., Any]) -> Primitive:
    """``maker(argnum, g, ans, args, kwargs)`` is the output's tangent for a tangent g of one argument."""
    _primitive(fun, "defjvp_argnum")
    _core.defjvp(fun)
    _core.defjvp_argnum(fun, lambda argnum, t, ans, *args, **kwargs: maker(argnum, t, ans, args, kwargs))
    return fun


def defjvp_argnums(fun: Primitive, maker: Callable[..., Any]) -> Primitive:
    """``maker(argnums, gs, ans, args, kwargs)``: the output's tangent for tangents of several arguments."""
    _primitive(fun, "defjvp_argnums")
    _core.defjvp(fun)
    _core.defjvp_argnum(fun, lambda argnum, t, ans, *args, **kwargs: maker((argnum,), (t,), ans, args, kwargs))
    return fun


def def_linear(fun: Primitive) -> Primitive:
    """Declare `fun` linear in each argument: its jvp is `fun` applied to the tangent."""
    _primitive(fun, "def_linear")
    _core.defjvp(fun)
    _core.defjvp_argnum(
        fun, lambda argnum, t, ans, *args, **kwargs: fun(*args[:argnum], t, *args[argnum + 1 :], **kwargs)
    )
    return fun


# ----- vector spaces -------------------------------------------------------------------------


class VSpace:
    """The space an array lives in, as autograd's rules ask about it: shape, dtype, zeros, ones."""

    def __init__(self, value: Any) -> None:
        value = _value(value)
        self.shape = tuple(_np.shape(value))
        self.dtype = _np.result_type(value)
        self.size = int(_np.prod(self.shape, dtype=_np.int64))
        self.ndim = len(self.shape)
        self.iscomplex = self.dtype.kind == "c"

    def zeros(self) -> Any:
        return _np.zeros(self.shape, dtype=self.dtype)

    def ones(self) -> Any:
        return _np.ones(self.shape, dtype=self.dtype)

    def randn(self) -> Any:
        x = _np.random.randn(*self.shape)
        return (x + 1j * _np.random.randn(*self.shape) if self.iscomplex else x).astype(self.dtype)

    def standard_basis(self) -> Any:
        for i in range(self.size):
            e = _np.zeros(self.size, dtype=self.dtype)
            e[i] = 1
            yield e.reshape(self.shape)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VSpace) and (self.shape, self.dtype) == (other.shape, other.dtype)

    def __hash__(self) -> int:
        return hash((self.shape, self.dtype))

    def __repr__(self) -> str:
        return f"VSpace(shape={self.shape}, dtype={self.dtype})"


def vspace(value: Any) -> VSpace:
    """The `VSpace` of an array (traced or not) or a number."""
    return VSpace(value)
