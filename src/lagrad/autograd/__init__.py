"""`lagrad.autograd`: HIPS autograd's API on lagrad, so that autograd code runs with one import changed.

``import lagrad.autograd as autograd`` (and ``lagrad.autograd.numpy``, ``.scipy``,
``.extend``, ``.misc``) gives autograd's transforms with autograd's conventions:
one ``argnum`` (an int or a tuple) picks what to differentiate, `grad` accepts any
output with one element, and a transform of ``fun(x)`` is built from a vjp or jvp of
the one-argument function ``x ↦ fun(..., x, ...)``. Underneath, every transform is
lagrad's: the function is traced into a Program and its adjoint system is solved.
lagrad's own `lagrad.grad` keeps its stricter conventions (see
docs/migrating-from-autograd.md).
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as _np

from .. import numpy as _lnp
from .. import transforms as _lagrad
from . import extend, numpy  # `import autograd` makes autograd.numpy available too
from .builtins import dict, isinstance, list, tuple, type  # noqa: A004 (Python's own, as autograd's names)
from .extend import primitive

Fun = Callable[..., Any]
ArgNum = int | tuple[int, ...] | list[int]

__all__ = [
    "checkpoint",
    "deriv",
    "dict",
    "elementwise_grad",
    "extend",
    "grad",
    "grad_and_aux",
    "grad_named",
    "hessian",
    "hessian_tensor_product",
    "hessian_vector_product",
    "holomorphic_grad",
    "isinstance",
    "jacobian",
    "list",
    "make_ggnvp",
    "make_hvp",
    "make_jvp",
    "make_vjp",
    "multigrad_dict",
    "numpy",
    "primitive",
    "tensor_jacobian_product",
    "tuple",
    "type",
    "value_and_grad",
    "vector_jacobian_product",
]


# ----- one argument at a time -------------------------------------------------------------
# autograd's transforms act on a function of one argument; `argnum` says which argument of
# `fun` that is (a tuple of positions makes the argument a tuple of them).


def _is_int(a: Any) -> bool:
    return isinstance(a, (int, _np.integer)) and not isinstance(a, bool)


def _check_argnum(argnum: Any, who: str) -> None:
    if not (_is_int(argnum) or (isinstance(argnum, (tuple, list)) and all(_is_int(a) for a in argnum))):
        raise TypeError(f"lagrad.autograd.{who}: argnum must be an int or a tuple of ints, not {argnum!r}")


def _at(fun: Fun, argnum: ArgNum, args: Any, kwargs: Any) -> tuple[Fun, Any]:
    """``(f, x)``: `fun` as a function of the argument(s) at `argnum` alone, and their value."""
    single = _is_int(argnum)
    nums = (argnum,) if single else tuple(argnum)
    for i in nums:
        if not -len(args) <= i < len(args):
            raise IndexError(f"lagrad.autograd: argnum={argnum!r}, but the function was given {len(args)} arguments")

    def unary(x: Any) -> Any:
        call = [*args]
        for i, xi in zip(nums, (x,) if single else x):
            call[i] = xi
        return fun(*call, **kwargs)

    x = args[argnum] if single else tuple(args[i] for i in nums)
    return unary, x


def _unary_to_nary(unary: Callable[..., Any]) -> Callable[..., Fun]:
    """A transform of one-argument functions as a transform ``op(fun, argnum=0, ...)`` of any."""

    @functools.wraps(unary)
    def transform(fun: Fun, argnum: ArgNum = 0, *op_args: Any, **op_kwargs: Any) -> Fun:
        _check_argnum(argnum, unary.__name__)

        @functools.wraps(fun)
        def transformed(*args: Any, **kwargs: Any) -> Any:
            f, x = _at(fun, argnum, args, kwargs)
            return unary(f, x, *op_args, **op_kwargs)

        transformed.__name__ = f"{unary.__name__}_of_{getattr(fun, '__name__', 'function')}_wrt_argnum_{argnum}"
        return transformed

    return transform


def _vjp(f: Fun, x: Any) -> tuple[Callable[[Any], Any], Any]:
    """``(vjp, f(x))`` with ``vjp(g)`` shaped like `x`: one back-substitution per call."""
    out, pullback = _lagrad.vjp(f, x)
    return (lambda g: pullback(g)[0]), out


def _ones_like(y: Any) -> Any:
    return _np.ones(_np.shape(y), dtype=_result_dtype(y))


def _result_dtype(y: Any) -> Any:
    dtype = _np.result_type(_lagrad.value(y))
    return dtype if dtype.kind in "fc" else _np.dtype(float)


def _size_one(ans: Any, who: str) -> None:
    if _np.size(_lagrad.value(ans)) != 1:
        raise TypeError(
            f"lagrad.autograd.{who}: the function returns an array of shape {_np.shape(_lagrad.value(ans))}; "
            f"{who} needs one number. Try jacobian, elementwise_grad or holomorphic_grad."
        )


# ----- the transforms ----------------------------------------------------------------------


@_unary_to_nary
def make_vjp(f: Fun, x: Any) -> tuple[Callable[[Any], Any], Any]:
    """``make_vjp(fun, argnum)(*args)`` is ``(vjp, fun(*args))``; ``vjp(g)`` is gᵀ ∂fun/∂x."""
    return _vjp(f, x)


@_unary_to_nary
def make_jvp(f: Fun, x: Any) -> Callable[[Any], Any]:
    """``make_jvp(fun, argnum)(*args)`` is ``jvp``; ``jvp(v)`` is ``(fun(*args), ∂fun/∂x · v)``."""
    return lambda v: _lagrad.jvp(f, (x,), (v,))


@_unary_to_nary
def grad(f: Fun, x: Any) -> Any:
    """The gradient of a function whose output has one element (of any shape), shaped like x."""
    vjp, ans = _vjp(f, x)
    _size_one(ans, "grad")
    return vjp(_ones_like(ans))


@_unary_to_nary
def value_and_grad(f: Fun, x: Any) -> tuple[Any, Any]:
    """``(fun(*args), grad(fun, argnum)(*args))`` from one trace (for scipy.optimize's jac=True)."""
    vjp, ans = _vjp(f, x)
    _size_one(ans, "value_and_grad")
    return ans, vjp(_ones_like(ans))


@_unary_to_nary
def grad_and_aux(f: Fun, x: Any) -> tuple[Any, Any]:
    """For a function returning ``(output, aux)``: ``(gradient of output, aux)``."""
    out, pullback, aux = _lagrad.vjp(f, x, has_aux=True)
    _size_one(out, "grad_and_aux")
    return pullback(_ones_like(out))[0], aux


@_unary_to_nary
def elementwise_grad(f: Fun, x: Any) -> Any:
    """The vjp with a cotangent of ones: the sum of the Jacobian's rows, its diagonal when
    `fun` acts elementwise."""
    vjp, ans = _vjp(f, x)
    if _np.iscomplexobj(_lagrad.value(ans)):
        raise TypeError("lagrad.autograd.elementwise_grad: the function must have a real output")
    return vjp(_ones_like(ans))


@_unary_to_nary
def deriv(f: Fun, x: Any) -> Any:
    """The jvp with a tangent of ones: df/dx for a function of a scalar."""
    return _lagrad.jvp(f, (x,), (_ones_like(x),))[1]


@_unary_to_nary
def jacobian(f: Fun, x: Any) -> Any:
    """Shaped ``fun(*args).shape + x.shape``: one back-substitution per output element."""
    return _lagrad.jacobian(f)(x)


@_unary_to_nary
def hessian(f: Fun, x: Any) -> Any:
    """The Jacobian of the Jacobian: ``out.shape + x.shape + x.shape``."""
    return _lagrad.jacobian(_lagrad.jacobian(f), mode="fwd")(x)


@_unary_to_nary
def holomorphic_grad(f: Fun, x: Any) -> Any:
    """f'(z) of a holomorphic `fun`, as the gradient of its real part."""
    if not _np.iscomplexobj(_lagrad.value(x)):
        warnings.warn("lagrad.autograd.holomorphic_grad: the input is not complex", stacklevel=3)
    return grad(lambda z: _lnp.real(f(z)))(x)


@_unary_to_nary
def make_hvp(f: Fun, x: Any) -> tuple[Callable[[Any], Any], Any]:
    """``make_hvp(fun, argnum)(*args)`` is ``(hvp, gradient)``: ``hvp(v)`` is H v, each call one
    back-substitution through the traced gradient."""
    return _vjp(grad(f), x)


def hessian_tensor_product(fun: Fun, argnum: int = 0) -> Fun:
    """``hessian_tensor_product(fun, argnum)(*args, v)``: H v, contracting all of v's axes."""
    gradient = grad(fun, argnum)

    def gradient_dot(*args_and_v: Any, **kwargs: Any) -> Any:
        *args, v = args_and_v
        return _lnp.tensordot(gradient(*args, **kwargs), v, _np.ndim(v))

    return grad(gradient_dot, argnum)


hessian_vector_product = hessian_tensor_product


def tensor_jacobian_product(fun: Fun, argnum: int = 0) -> Fun:
    """``tensor_jacobian_product(fun, argnum)(*args, v)``: v contracted with the Jacobian's
    leading (output) axes, vᵀ J for a vector."""

    def v_dot_fun(*args_and_v: Any, **kwargs: Any) -> Any:
        *args, v = args_and_v
        return _lnp.tensordot(v, fun(*args, **kwargs), _np.ndim(v))

    return jacobian(v_dot_fun, argnum)


vector_jacobian_product = tensor_jacobian_product


def _half_squared_norm(y: Any) -> Any:
    return 0.5 * _lnp.sum(y**2, axis=-1)


def make_ggnvp(f: Fun, g: Fun = _half_squared_norm, f_argnum: int = 0) -> Fun:
    """``make_ggnvp(f, g)(*args)`` is ``ggnvp``: ``ggnvp(v)`` is Jᵀ H J v, the generalised
    Gauss-Newton matrix of ``g ∘ f`` (J the Jacobian of f, H the Hessian of g at f(x))."""

    @_unary_to_nary
    def ggnvp_at(f: Fun, x: Any) -> Callable[[Any], Any]:
        f_vjp, fx = _vjp(f, x)
        g_hvp, _ = _vjp(grad(g), fx)
        return lambda v: f_vjp(g_hvp(_lagrad.jvp(f, (x,), (v,))[1]))

    return ggnvp_at(f, f_argnum)


def grad_named(fun: Fun, argname: str) -> Fun:
    """The gradient with respect to the argument called `argname` (not ``*args`` or ``**kwargs``)."""
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    params = [p.name for p in inspect.signature(fun).parameters.values() if p.kind in positional]
    if argname not in params:
        raise ValueError(f"lagrad.autograd.grad_named: {getattr(fun, '__name__', fun)} has no argument {argname!r}")
    return grad(fun, params.index(argname))


def multigrad_dict(fun: Fun) -> Fun:
    """The gradient with respect to every argument at once, as an OrderedDict from each
    parameter's name to its gradient (defaults filled in, ``*args`` a tuple, ``**kwargs`` a dict)."""
    signature = inspect.signature(fun)
    params = signature.parameters

    def call(bound: Any) -> Any:
        args, kwargs = [], {}
        for name, p in params.items():
            if p.kind is p.VAR_POSITIONAL:
                args.extend(bound[name])
            elif p.kind is p.VAR_KEYWORD:
                kwargs.update(bound[name])
            elif p.kind is p.KEYWORD_ONLY:
                kwargs[name] = bound[name]
            else:
                args.append(bound[name])
        return fun(*args, **kwargs)

    @functools.wraps(fun)
    def gradients(*args: Any, **kwargs: Any) -> OrderedDict[str, Any]:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        values = {}
        for name, p in params.items():
            v = bound.arguments.get(name, () if p.kind is p.VAR_POSITIONAL else {})
            values[name] = tuple(v) if p.kind is p.VAR_POSITIONAL else v
        g = grad(call)(values)
        return OrderedDict((name, g[name]) for name in params)

    return gradients


def checkpoint(fun: Fun) -> Fun:
    """`fun` as one primitive whose intermediate values are not kept: its derivative traces
    `fun` again (memory for time)."""
    from .extend import defvjp_argnum

    wrapped = primitive(fun)

    def recompute(argnum: int, ans: Any, args: Any, kwargs: Any) -> Callable[[Any], Any]:
        return make_vjp(fun, argnum)(*args, **kwargs)[0]

    defvjp_argnum(wrapped, recompute)
    return wrapped
