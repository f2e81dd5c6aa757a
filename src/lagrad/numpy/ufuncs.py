"""Elementwise functions: NumPy's ufuncs as primitives, one derivative rule a line.

A rule is ``g * ∂f/∂x`` pointwise; the same rule serves reverse mode (the
solver undoes broadcasting with the shared `unbroadcast`) and tangent mode.
Comparisons and other integer- or boolean-valued ufuncs are indicators:
recorded, with zero derivative.

Complex numbers follow the convention of autograd and JAX: the transpose of a
holomorphic function's derivative is applied without conjugation (``g * f'(z)``),
``conj`` transposes to ``conj``, and the gradient of a real function of a
complex `z` is the conjugate of the Wirtinger one: ``grad(|z|**2)(1+2j) = 2-4j``.
A real input's gradient is real: the real part of what reaches it.
"""

from __future__ import annotations

import operator as op
from typing import Any

import numpy as np

from ..core import defjvp, defrule, defvjp, registry
from ._register import elementwise, function, method, nondiff, ufunc

__all__ = [
    "abs",
    "absolute",
    "add",
    "arctan",
    "bitwise_and",
    "bitwise_or",
    "bitwise_xor",
    "clip",
    "conj",
    "conjugate",
    "cos",
    "cosh",
    "divide",
    "equal",
    "exp",
    "expm1",
    "floor_divide",
    "greater",
    "greater_equal",
    "imag",
    "invert",
    "isfinite",
    "isinf",
    "isnan",
    "less",
    "less_equal",
    "log",
    "log1p",
    "logical_and",
    "logical_not",
    "logical_or",
    "logical_xor",
    "maximum",
    "minimum",
    "multiply",
    "negative",
    "nonzero",
    "not_equal",
    "positive",
    "power",
    "real",
    "remainder",
    "sign",
    "sin",
    "sinh",
    "sqrt",
    "subtract",
    "tan",
    "tanh",
    "true_divide",
    "where",
]

# fmt: off
# ----- arithmetic -------------------------------------------------------------
add          = ufunc(np.add, kernel=op.add)
subtract     = ufunc(np.subtract, kernel=op.sub)
multiply     = ufunc(np.multiply, kernel=op.mul)
divide       = ufunc(np.true_divide, "divide", kernel=op.truediv)
power        = ufunc(np.power, kernel=op.pow)
negative     = ufunc(np.negative, kernel=op.neg)
positive     = ufunc(np.positive, kernel=op.pos)
maximum      = ufunc(np.maximum)
minimum      = ufunc(np.minimum)
remainder    = ufunc(np.remainder, kernel=op.mod)
floor_divide = ufunc(np.floor_divide, kernel=op.floordiv)
# ----- exponentials, logarithms, roots -----------------------------------------
exp          = ufunc(np.exp)
log          = ufunc(np.log)
log1p        = ufunc(np.log1p)
expm1        = ufunc(np.expm1)
sqrt         = ufunc(np.sqrt)
# ----- trigonometric and hyperbolic --------------------------------------------
sin          = ufunc(np.sin)
cos          = ufunc(np.cos)
tan          = ufunc(np.tan)
arctan       = ufunc(np.arctan)
sinh         = ufunc(np.sinh)
cosh         = ufunc(np.cosh)
tanh         = ufunc(np.tanh)
# ----- sign and magnitude -------------------------------------------------------
absolute     = ufunc(np.absolute, kernel=op.abs)
sign         = ufunc(np.sign)
# ----- complex parts --------------------------------------------------------------
conjugate    = ufunc(np.conjugate)
_real        = elementwise("real", np.real)
_imag        = elementwise("imag", np.imag)
# ----- selection ------------------------------------------------------------------
_where       = elementwise("where", np.where)
_clip        = elementwise("clip", np.clip)

true_divide = divide
abs = absolute
conj = conjugate


def _wins(g: Any, x: Any, y: Any) -> Any:
    """g where x > y, g/2 at ties, 0 elsewhere: the share of max(x, y) that is x's."""
    return where(x > y, g, where(x == y, 0.5 * g, 0.0))


def _power_partial(x: Any, y: Any) -> Any:
    """∂(x**y)/∂x = y·x**(y-1), and 0 where y == 0 (even at x == 0)."""
    if isinstance(y, (int, float)):  # a constant Python exponent, as in x**2
        return y * x ** (y - 1) if y != 0 else zeros_like(x)
    return where(y == 0, 0.0, y * x ** where(y == 0, 1.0, y - 1))


def zeros_like(x: Any) -> Any:
    return registry.helpers["zeros_like"](x)


def _like_input(g: Any, x: Any) -> Any:
    """A real multiplier `g`, as the input's (possibly complex) dtype."""
    return registry.helpers["astype"](g, x.dtype) if np.dtype(x.dtype).kind == "c" else g


def _nonzero_base(x: Any) -> Any:
    return where(x == 0, 1.0, x)


# ----- arithmetic -------------------------------------------------------------
defrule(add,          lambda g, ans, x, y: g,
                      lambda g, ans, x, y: g)
defrule(subtract,     lambda g, ans, x, y: g,
                      lambda g, ans, x, y: -g)
defrule(multiply,     lambda g, ans, x, y: g * y,
                      lambda g, ans, x, y: g * x)
defrule(divide,       lambda g, ans, x, y: g / y,
                      lambda g, ans, x, y: -g * ans / y)
defrule(power,        lambda g, ans, x, y: g * _power_partial(x, y),
                      lambda g, ans, x, y: g * log(_nonzero_base(x)) * ans)
defrule(negative,     lambda g, ans, x: -g)
defrule(positive,     lambda g, ans, x: g)
defrule(maximum,      lambda g, ans, x, y: _wins(g, x, y),
                      lambda g, ans, x, y: _wins(g, y, x))
defrule(minimum,      lambda g, ans, x, y: _wins(g, y, x),
                      lambda g, ans, x, y: _wins(g, x, y))
defrule(remainder,    lambda g, ans, x, y: g,
                      lambda g, ans, x, y: -g * floor_divide(x, y))
defrule(floor_divide, None, None)
# ----- exponentials, logarithms, roots -----------------------------------------
defrule(exp,          lambda g, ans, x: g * ans)
defrule(log,          lambda g, ans, x: g / x)
defrule(log1p,        lambda g, ans, x: g / (1 + x))
defrule(expm1,        lambda g, ans, x: g * (ans + 1))
defrule(sqrt,         lambda g, ans, x: g / (2 * ans))
# ----- trigonometric and hyperbolic --------------------------------------------
defrule(sin,          lambda g, ans, x: g * cos(x))
defrule(cos,          lambda g, ans, x: -g * sin(x))
defrule(tan,          lambda g, ans, x: g * (1 + ans**2))
defrule(arctan,       lambda g, ans, x: g / (1 + x**2))
defrule(sinh,         lambda g, ans, x: g * cosh(x))
defrule(cosh,         lambda g, ans, x: g * sinh(x))
defrule(tanh,         lambda g, ans, x: g * (1 - ans**2))
# ----- sign and magnitude -------------------------------------------------------
defrule(absolute,     lambda g, ans, x: g * sign(x))
defrule(sign,         None)
# ----- complex parts: reverse mode follows autograd and JAX (see the module docstring) --------
defrule(conjugate,    lambda g, ans, x: conjugate(g))
defvjp(_real,         lambda g, ans, x: _like_input(g, x))
defjvp(_real,         lambda t, ans, x: _real(t))
defvjp(_imag,         lambda g, ans, x: _like_input(-1j * g, x) if np.dtype(x.dtype).kind == "c" else 0.0 * g)
defjvp(_imag,         lambda t, ans, x: _imag(t))
# ----- selection ------------------------------------------------------------------
defrule(_where,       None,
                      lambda g, ans, c, x, y: where(c, g, 0.0),
                      lambda g, ans, c, x, y: where(c, 0.0, g))
defrule(_clip,        lambda g, ans, x, lo, hi: g * ((x >= lo) & (x <= hi)),
                      lambda g, ans, x, lo, hi: g * (x < lo),
                      lambda g, ans, x, lo, hi: g * (x > hi))
# fmt: on

# ----- indicators: comparisons and logic, recorded with zero derivative ------------
less = nondiff(np.less, kernel=op.lt)
less_equal = nondiff(np.less_equal, kernel=op.le)
greater = nondiff(np.greater, kernel=op.gt)
greater_equal = nondiff(np.greater_equal, kernel=op.ge)
equal = nondiff(np.equal, kernel=op.eq)
not_equal = nondiff(np.not_equal, kernel=op.ne)
logical_and = nondiff(np.logical_and)
logical_or = nondiff(np.logical_or)
logical_xor = nondiff(np.logical_xor)
logical_not = nondiff(np.logical_not)
bitwise_and = nondiff(np.bitwise_and)
bitwise_or = nondiff(np.bitwise_or)
bitwise_xor = nondiff(np.bitwise_xor)
invert = nondiff(np.invert)
isnan = nondiff(np.isnan)
isinf = nondiff(np.isinf)
isfinite = nondiff(np.isfinite)


@function(np.where)
def where(condition: Any, x: Any = None, y: Any = None) -> Any:
    """``x`` where `condition` holds, else ``y``: an indicator blend of the two.

    The derivative reaches only the side that is selected; the condition has none.
    """
    if x is None and y is None:
        return nonzero(condition)
    if x is None or y is None:
        raise TypeError("lagrad.numpy.where: give both x and y, or neither")
    return _where(condition, x, y)


_nonzero_along = nondiff(lambda x, axis: np.nonzero(x)[axis], "nonzero")


@function(np.nonzero)
@method("nonzero")
def nonzero(a: Any) -> tuple[Any, ...]:
    """Indices of the nonzero entries, one integer array per axis (no derivative)."""
    return tuple(_nonzero_along(a, axis=k) for k in range(max(np.ndim(a), 1)))


@function(np.real)
@method("real")
def real(val: Any) -> Any:
    """The real part (the array itself for real arrays)."""
    return _real(val) if np.dtype(val.dtype).kind == "c" else val


@function(np.imag)
@method("imag")
def imag(val: Any) -> Any:
    """The imaginary part (zeros, with no derivative, for real arrays)."""
    return _imag(val)


method("conj", "conjugate")(conjugate)


@function(np.clip)
@method("clip")
def clip(a: Any, a_min: Any = None, a_max: Any = None, out: Any = None, **kwargs: Any) -> Any:
    """`a` limited to [a_min, a_max]; the derivative is 1 inside (bounds included), 0 outside."""
    if out is not None:
        raise TypeError("lagrad.numpy.clip: out= is not supported on traced values; use the result")
    a_min = kwargs.pop("min", a_min)
    a_max = kwargs.pop("max", a_max)
    if kwargs:
        raise TypeError(f"lagrad.numpy.clip: unsupported keywords {sorted(kwargs)}")
    if a_min is None and a_max is None:
        raise ValueError("lagrad.numpy.clip: give a_min, a_max or both")
    return _clip(a, -np.inf if a_min is None else a_min, np.inf if a_max is None else a_max)


registry.helpers["real"] = real
