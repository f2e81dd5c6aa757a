"""Elementwise functions: every NumPy ufunc as a primitive, one derivative rule a line.

A rule is ``g * ∂f/∂x`` pointwise; the same rule serves reverse mode (the
solver undoes broadcasting with the shared `unbroadcast`) and tangent mode.
Functions constant almost everywhere (floor, rint, round, spacing) have zero
derivative; comparisons and other integer- or boolean-valued ufuncs are
indicators: recorded, with no multiplier. Ufuncs with two outputs (modf, frexp,
divmod) are one equation whose value has two parts. The generalized ufuncs
(matmul, vecdot, matvec, vecmat) are products: see `products`.

Complex numbers follow the convention of autograd and JAX: the transpose of a
holomorphic function's derivative is applied without conjugation (``g * f'(z)``),
``conj`` transposes to ``conj``, and the gradient of a real function of a
complex `z` is the conjugate of the Wirtinger one: ``grad(|z|**2)(1+2j) = 2-4j``
(PyTorch returns ``2+4j``). In real terms, a rule returns ``conj(Jᵀ conj(g))``
where ``Jᵀ`` transposes the derivative of the map from ℝ² to ℝ². Every
holomorphic ufunc (exp, log, sqrt, the trigonometric and hyperbolic functions
and their inverses, ...) works on complex arrays through its one rule; the
non-holomorphic ones (absolute, sign, angle, real, imag) have a vjp and a jvp
rule of their own, and conj and nan_to_num one rule that is both. A real
input's gradient is real: the real part of what reaches it.
"""

from __future__ import annotations

import math
import operator as op
from typing import Any

import numpy as np

from ..core import Var, defjvp, defrule, defvjp, registry
from ..core.backend import numpy_dtype
from ._register import array_like, count_guarded, elementwise, function, holds_traced, method, nondiff, ufunc

__all__ = [
    "abs",
    "absolute",
    "acos",
    "acosh",
    "add",
    "angle",
    "arccos",
    "arccosh",
    "arcsin",
    "arcsinh",
    "arctan",
    "arctan2",
    "arctanh",
    "around",
    "asin",
    "asinh",
    "atan",
    "atan2",
    "atanh",
    "bitwise_and",
    "bitwise_count",
    "bitwise_invert",
    "bitwise_left_shift",
    "bitwise_not",
    "bitwise_or",
    "bitwise_right_shift",
    "bitwise_xor",
    "cbrt",
    "ceil",
    "clip",
    "conj",
    "conjugate",
    "copysign",
    "cos",
    "cosh",
    "deg2rad",
    "degrees",
    "divide",
    "divmod",
    "equal",
    "exp",
    "exp2",
    "expm1",
    "fabs",
    "fix",
    "float_power",
    "floor",
    "floor_divide",
    "fmax",
    "fmin",
    "fmod",
    "frexp",
    "gcd",
    "greater",
    "greater_equal",
    "heaviside",
    "hypot",
    "imag",
    "invert",
    "isfinite",
    "isinf",
    "isnan",
    "isnat",
    "lcm",
    "ldexp",
    "left_shift",
    "less",
    "less_equal",
    "log",
    "log1p",
    "log2",
    "log10",
    "logaddexp",
    "logaddexp2",
    "logical_and",
    "logical_not",
    "logical_or",
    "logical_xor",
    "maximum",
    "minimum",
    "mod",
    "modf",
    "multiply",
    "nan_to_num",
    "negative",
    "nextafter",
    "nonzero",
    "not_equal",
    "positive",
    "pow",
    "power",
    "rad2deg",
    "radians",
    "real",
    "real_if_close",
    "reciprocal",
    "remainder",
    "right_shift",
    "rint",
    "round",
    "sign",
    "signbit",
    "sin",
    "sinc",
    "sinh",
    "spacing",
    "sqrt",
    "square",
    "subtract",
    "tan",
    "tanh",
    "true_divide",
    "trunc",
    "where",
]

# fmt: off
# ----- arithmetic -------------------------------------------------------------
add          = ufunc(np.add, kernel=op.add)
subtract     = ufunc(np.subtract, kernel=op.sub)
multiply     = ufunc(np.multiply, kernel=op.mul)
divide       = ufunc(np.true_divide, "divide", kernel=op.truediv)
power        = ufunc(np.power, kernel=op.pow)
float_power  = ufunc(np.float_power)
negative     = ufunc(np.negative, kernel=op.neg)
positive     = ufunc(np.positive, kernel=op.pos)
reciprocal   = ufunc(np.reciprocal)
square       = ufunc(np.square)
maximum      = ufunc(np.maximum)
minimum      = ufunc(np.minimum)
fmax         = ufunc(np.fmax)
fmin         = ufunc(np.fmin)
remainder    = ufunc(np.remainder, kernel=op.mod)
fmod         = ufunc(np.fmod)
floor_divide = ufunc(np.floor_divide, kernel=op.floordiv)
_divmod      = ufunc(np.divmod)
# ----- exponentials, logarithms, roots -----------------------------------------
exp          = ufunc(np.exp)
exp2         = ufunc(np.exp2)
expm1        = ufunc(np.expm1)
log          = ufunc(np.log)
log2         = ufunc(np.log2)
log10        = ufunc(np.log10)
log1p        = ufunc(np.log1p)
logaddexp    = ufunc(np.logaddexp)
logaddexp2   = ufunc(np.logaddexp2)
sqrt         = ufunc(np.sqrt)
cbrt         = ufunc(np.cbrt)
# ----- trigonometric, hyperbolic, angle units -----------------------------------
sin          = ufunc(np.sin)
cos          = ufunc(np.cos)
tan          = ufunc(np.tan)
arcsin       = ufunc(np.arcsin)
arccos       = ufunc(np.arccos)
arctan       = ufunc(np.arctan)
arctan2      = ufunc(np.arctan2)
hypot        = ufunc(np.hypot)
sinh         = ufunc(np.sinh)
cosh         = ufunc(np.cosh)
tanh         = ufunc(np.tanh)
arcsinh      = ufunc(np.arcsinh)
arccosh      = ufunc(np.arccosh)
arctanh      = ufunc(np.arctanh)
deg2rad      = ufunc(np.deg2rad)
radians      = ufunc(np.radians)
rad2deg      = ufunc(np.rad2deg)
degrees      = ufunc(np.degrees)
_sinc        = elementwise("sinc", np.sinc)
# ----- sign, magnitude, floating-point representation ----------------------------
absolute     = ufunc(np.absolute, kernel=op.abs)
fabs         = ufunc(np.fabs)
_sign        = ufunc(np.sign)                          # real (and integer) arrays
_sign_complex = elementwise("sign_complex", np.sign)   # z/|z|: not constant off the real line
copysign     = ufunc(np.copysign)
nextafter    = ufunc(np.nextafter)
spacing      = ufunc(np.spacing)
ldexp        = ufunc(np.ldexp)
_frexp       = ufunc(np.frexp)
_modf        = ufunc(np.modf)
heaviside    = ufunc(np.heaviside)
# ----- rounding ---------------------------------------------------------------------
floor        = ufunc(np.floor)
ceil         = ufunc(np.ceil)
trunc        = ufunc(np.trunc)
rint         = ufunc(np.rint)
_round       = elementwise("round", np.round)
# ----- complex parts --------------------------------------------------------------
conjugate    = ufunc(np.conjugate)
_real        = elementwise("real", np.real)
_imag        = elementwise("imag", np.imag)
_angle       = elementwise("angle", np.angle)
_angle_real  = elementwise("angle_real", np.angle)     # 0 or π: constant almost everywhere
# ----- selection --------------------------------------------------------------------
_where       = elementwise("where", np.where)
_clip        = elementwise("clip", np.clip)
_nan_to_num  = elementwise("nan_to_num", np.nan_to_num)
# fmt: on

true_divide = divide
mod = remainder
pow = power
abs = absolute
conj = conjugate
acos, asin, atan, atan2 = arccos, arcsin, arctan, arctan2
acosh, asinh, atanh = arccosh, arcsinh, arctanh

# Python floats, so that a float32 (or float16) multiplier stays float32: NumPy 2 lets a
# Python scalar take the array's precision, but not a NumPy float64 or a 0-d array. Rules
# write `g * 1j`, not `1j * g`: a NumPy float64 scalar is a Python float, and Python's
# complex would take the product and drop the dtype.
_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_DEG = 180.0 / math.pi
_RAD = math.pi / 180.0


def zeros_like(x: Any) -> Any:
    return registry.ops.zeros_like(x)


def _broadcast_to(x: Any, shape: tuple[int, ...]) -> Any:
    return registry.ops.broadcast_to(x, shape)


def _is_complex(x: Any) -> bool:
    dtype = getattr(x, "dtype", None)
    return isinstance(x, complex) if dtype is None else numpy_dtype(dtype).kind == "c"


def _like_input(g: Any, x: Any) -> Any:
    """A real multiplier `g`, as the input's (possibly complex) dtype."""
    return registry.ops.astype(g, x.dtype) if numpy_dtype(x.dtype).kind == "c" else g


def _indicator(mask: Any, g: Any) -> Any:
    """A boolean mask as 0 and 1 in g's dtype (the Array API multiplies no booleans)."""
    return registry.ops.astype(mask, g.dtype)


def _nonzero_base(x: Any) -> Any:
    """`x` with its zeros replaced by ones: a safe denominator (or log argument) where the
    numerator, or the selected branch, is zero there."""
    return where(x == 0, 1.0, x)


def _wins(g: Any, x: Any, y: Any) -> Any:
    """g where x > y, g/2 at ties, 0 elsewhere: the share of max(x, y) that is x's."""
    return where(x > y, g, where(x == y, 0.5 * g, 0.0))


def _share_of_sum(g: Any, ans: Any, x: Any, y: Any, exp_: Any) -> Any:
    """x's share of logaddexp(x, y): exp(x - ans), and all of it where x is the result itself
    (x = +inf, where exp(inf - inf) would be NaN), half of it where y is too (both +inf)."""
    return where(x == ans, where(y == ans, 0.5 * g, g), g * exp_(x - ans))


def _wins_over_nan(g: Any, x: Any, y: Any, x_wins: Any) -> Any:
    """x's share of fmax/fmin(x, y): as for maximum, and all of it where y is NaN."""
    return where(x_wins | isnan(y), g, where(x == y, 0.5 * g, 0.0))


def _power_partial(pow_: Any, x: Any, y: Any) -> Any:
    """∂(x**y)/∂x = y·x**(y-1), and 0 where y == 0 (even at x == 0). `power`'s is spelled
    with ``**`` (`op.pow`, its kernel), which NumPy computes as a square, a reciprocal or a
    root for the exponents 2, −1 and 0.5 and numpy.power does not (their bits differ on
    complex values): so the rule gives one result on plain arrays (eager) and traced ones
    (compile, second order)."""
    if isinstance(y, (int, float, complex)):  # a constant Python exponent, as in x**2: kept weak
        return y * pow_(x, y - 1) if y != 0 else zeros_like(x)
    return where(y == 0, 0.0, y * pow_(x, where(y == 0, 1.0, y - 1)))


def _sinc_partial(x: Any, ans: Any) -> Any:
    """sinc'(x) = (cos(πx) - sinc(x)) / x, and its Taylor series near 0, where the quotient
    cancels: -(π²x/3)(1 - u²/10 + u⁴/280 - u⁶/15120 + u⁸/1330560) with u = πx. In float64
    both are good to about 1e-14 where they meet at |u| = 0.1. In float32 and float16 the
    quotient loses eps/u² there (0.1 in float16), so the series, good to 6e-9 up to |u| = 1,
    takes over until then. The series makes sinc'(0) = 0 and the derivatives of the rule at 0
    right up to the ninth."""
    low_precision = np.finfo(np.result_type(numpy_dtype(x.dtype), np.float16)).eps > 1e-10
    u2 = (math.pi * x) ** 2
    small = u2 < (1.0 if low_precision else 0.01)
    tail = 1.0 - u2 / 28.0 * (1.0 - u2 / 54.0 * (1.0 - u2 / 88.0))
    series = (-(math.pi**2) / 3.0) * x * (1.0 - u2 / 10.0 * tail)
    safe_x = where(small, 1.0, x)
    return where(small, series, (cos(math.pi * safe_x) - ans) / safe_x)


def _finite_part(g: Any, x: Any) -> Any:
    """g where x is finite, 0 where nan_to_num replaced it (per real and imaginary part)."""
    if numpy_dtype(x.dtype).kind == "c":
        return where(isfinite(x.real), g.real, 0.0) + where(isfinite(x.imag), g.imag, 0.0) * 1j
    return where(isfinite(x), g, 0.0)


# ----- non-holomorphic complex rules: vjp conj(Jᵀ conj g), jvp J t (module docstring) -----


def _abs_vjp(g: Any, ans: Any, x: Any) -> Any:
    """|z|: g·conj(z)/|z| (0 at z = 0), the unit conj(z)/|z| first (g·conj(z) underflows for a
    small z); real x: g·sign(x)."""
    if numpy_dtype(x.dtype).kind == "c":
        return g * (conjugate(x) / _nonzero_base(ans))
    return g * _sign(x)


def _abs_jvp(t: Any, ans: Any, x: Any) -> Any:
    """|z|: Re(conj(z)·t)/|z| (0 at z = 0); real x: t·sign(x)."""
    if numpy_dtype(x.dtype).kind == "c":
        return real(conjugate(x) / _nonzero_base(ans) * t)
    return t * _sign(x)


def _sign_complex_vjp(g: Any, ans: Any, x: Any) -> Any:
    """s = z/|z|: (g - conj(s)·Re(s·g))/|z|, the part of g across the unit circle (0 at z = 0)."""
    r = absolute(x)
    return where(r == 0, 0.0, (g - conjugate(ans) * real(ans * g)) / _nonzero_base(r))


def _sign_complex_jvp(t: Any, ans: Any, x: Any) -> Any:
    """s = z/|z|: (t - s·Re(conj(s)·t))/|z| (0 at z = 0)."""
    r = absolute(x)
    return where(r == 0, 0.0, (t - ans * real(conjugate(ans) * t)) / _nonzero_base(r))


def _angle_vjp(g: Any, ans: Any, x: Any) -> Any:
    """arg z: -i·g·conj(z)/|z|² (0 at z = 0), as conj(z)/|z|/|z| (|z|² underflows for a small z)."""
    r = _nonzero_base(absolute(x))
    return g * (conjugate(x) / r / r) * -1j


def _angle_jvp(t: Any, ans: Any, x: Any) -> Any:
    """arg z: Im(conj(z)·t)/|z|² (0 at z = 0), as for the transpose."""
    r = _nonzero_base(absolute(x))
    return imag(conjugate(x) / r / r * t)


# fmt: off
# ----- arithmetic -------------------------------------------------------------
defrule(add,          lambda g, ans, x, y: g,
                      lambda g, ans, x, y: g)
defrule(subtract,     lambda g, ans, x, y: g,
                      lambda g, ans, x, y: -g)
defrule(multiply,     lambda g, ans, x, y: g * y,
                      lambda g, ans, x, y: g * x)
defrule(divide,       lambda g, ans, x, y: g / y,
                      lambda g, ans, x, y: -g * ans / y)
defrule(power,        lambda g, ans, x, y: g * _power_partial(op.pow, x, y),
                      lambda g, ans, x, y: g * log(_nonzero_base(x)) * ans)
defrule(float_power,  lambda g, ans, x, y: g * _power_partial(float_power, x, y),
                      lambda g, ans, x, y: g * log(_nonzero_base(x)) * ans)
defrule(negative,     lambda g, ans, x: -g)
defrule(positive,     lambda g, ans, x: g)
defrule(reciprocal,   lambda g, ans, x: -g * ans**2)
defrule(square,       lambda g, ans, x: g * 2 * x)
defrule(maximum,      lambda g, ans, x, y: _wins(g, x, y),
                      lambda g, ans, x, y: _wins(g, y, x))
defrule(minimum,      lambda g, ans, x, y: _wins(g, y, x),
                      lambda g, ans, x, y: _wins(g, x, y))
defrule(fmax,         lambda g, ans, x, y: _wins_over_nan(g, x, y, x > y),
                      lambda g, ans, x, y: _wins_over_nan(g, y, x, y > x))
defrule(fmin,         lambda g, ans, x, y: _wins_over_nan(g, x, y, x < y),
                      lambda g, ans, x, y: _wins_over_nan(g, y, x, y < x))
defrule(remainder,    lambda g, ans, x, y: g,
                      lambda g, ans, x, y: -g * floor_divide(x, y))
defrule(fmod,         lambda g, ans, x, y: g,
                      lambda g, ans, x, y: -g * rint((x - ans) / y))  # x - fmod = trunc(x/y)·y
defrule(floor_divide, None, None)
defvjp(_divmod,       lambda g, ans, x, y: g[1],
                      lambda g, ans, x, y: -g[1] * ans[0])
defjvp(_divmod,       lambda t, ans, x, y: (zeros_like(ans[0]), _broadcast_to(t, ans[1].shape)),
                      lambda t, ans, x, y: (zeros_like(ans[0]), -t * ans[0]))
# ----- exponentials, logarithms, roots -----------------------------------------
defrule(exp,          lambda g, ans, x: g * ans)
defrule(exp2,         lambda g, ans, x: g * ans * _LN2)
defrule(expm1,        lambda g, ans, x: g * (ans + 1))
defrule(log,          lambda g, ans, x: g / x)
defrule(log2,         lambda g, ans, x: g / (x * _LN2))
defrule(log10,        lambda g, ans, x: g / (x * _LN10))
defrule(log1p,        lambda g, ans, x: g / (1 + x))
defrule(logaddexp,    lambda g, ans, x, y: _share_of_sum(g, ans, x, y, exp),
                      lambda g, ans, x, y: _share_of_sum(g, ans, y, x, exp))
defrule(logaddexp2,   lambda g, ans, x, y: _share_of_sum(g, ans, x, y, exp2),
                      lambda g, ans, x, y: _share_of_sum(g, ans, y, x, exp2))
defrule(sqrt,         lambda g, ans, x: g / (2 * ans))
defrule(cbrt,         lambda g, ans, x: g / (3 * ans**2))
# ----- trigonometric, hyperbolic, angle units -----------------------------------
defrule(sin,          lambda g, ans, x: g * cos(x))
defrule(cos,          lambda g, ans, x: -g * sin(x))
defrule(tan,          lambda g, ans, x: g * (1 + ans**2))
defrule(arcsin,       lambda g, ans, x: g / sqrt(1 - x**2))
defrule(arccos,       lambda g, ans, x: -g / sqrt(1 - x**2))
defrule(arctan,       lambda g, ans, x: g / (1 + x**2))
defrule(arctan2,      lambda g, ans, x1, x2: g * x2 / (x1**2 + x2**2),
                      lambda g, ans, x1, x2: -g * x1 / (x1**2 + x2**2))
defrule(hypot,        lambda g, ans, x, y: g * (x / _nonzero_base(ans)),  # 0 at the origin, as |z|
                      lambda g, ans, x, y: g * (y / _nonzero_base(ans)))
defrule(sinh,         lambda g, ans, x: g * cosh(x))
defrule(cosh,         lambda g, ans, x: g * sinh(x))
defrule(tanh,         lambda g, ans, x: g * (1 - ans**2))
defrule(arcsinh,      lambda g, ans, x: g / sqrt(x**2 + 1))
defrule(arccosh,      lambda g, ans, x: g / (sqrt(x - 1) * sqrt(x + 1)))  # not sqrt(x²-1): branch cut
defrule(arctanh,      lambda g, ans, x: g / (1 - x**2))
defrule(deg2rad,      lambda g, ans, x: g * _RAD)
defrule(radians,      lambda g, ans, x: g * _RAD)
defrule(rad2deg,      lambda g, ans, x: g * _DEG)
defrule(degrees,      lambda g, ans, x: g * _DEG)
defrule(_sinc,        lambda g, ans, x: g * _sinc_partial(x, ans))
# ----- sign, magnitude, floating-point representation ----------------------------
defvjp(absolute,      _abs_vjp)
defjvp(absolute,      _abs_jvp)
defrule(fabs,         lambda g, ans, x: g * _sign(x))
defrule(_sign,        None)
defvjp(_sign_complex, _sign_complex_vjp)
defjvp(_sign_complex, _sign_complex_jvp)
defrule(copysign,     lambda g, ans, x, y: g * copysign(1.0, x) * copysign(1.0, y),
                      None)
defrule(nextafter,    lambda g, ans, x, y: g,
                      None)
defrule(spacing,      None)
defrule(ldexp,        lambda g, ans, x, n: ldexp(g, n),
                      None)
defvjp(_frexp,        lambda g, ans, x: ldexp(g[0], -ans[1]))          # mantissa = x·2**-exponent
defjvp(_frexp,        lambda t, ans, x: (ldexp(t, -ans[1]), zeros_like(t)))
defvjp(_modf,         lambda g, ans, x: g[0])                          # x = fraction + whole
defjvp(_modf,         lambda t, ans, x: (t, zeros_like(t)))
defrule(heaviside,    None,
                      lambda g, ans, x1, x2: g * (x1 == 0))            # x2 is the value at 0
# ----- rounding: zero derivative almost everywhere -------------------------------------
defrule(floor,        None)
defrule(ceil,         None)
defrule(trunc,        None)
defrule(rint,         None)
defrule(_round,       None)
# ----- complex parts: reverse mode follows autograd and JAX (see the module docstring) --------
defrule(conjugate,    lambda g, ans, x: conjugate(g))
defvjp(_real,         lambda g, ans, x: _like_input(g, x))
defjvp(_real,         lambda t, ans, x: _real(t))
defvjp(_imag,         lambda g, ans, x: _like_input(g * -1j, x) if numpy_dtype(x.dtype).kind == "c" else 0.0 * g)
defjvp(_imag,         lambda t, ans, x: _imag(t))
defvjp(_angle,        _angle_vjp)
defjvp(_angle,        _angle_jvp)
defrule(_angle_real,  None)
# ----- selection ------------------------------------------------------------------
defrule(_where,       None,
                      lambda g, ans, c, x, y: where(c, g, 0.0),
                      lambda g, ans, c, x, y: where(c, 0.0, g))
# clip is minimum(maximum(x, lo), hi), as NumPy computes it: where the bounds cross
# (lo > hi) the result is hi, whatever x is. At a bound the derivative is x's.
defrule(_clip,        lambda g, ans, x, lo, hi: g * _indicator((x >= lo) & (x <= hi), g),
                      lambda g, ans, x, lo, hi: g * _indicator((x < lo) & (lo <= hi), g),
                      lambda g, ans, x, lo, hi: g * _indicator((x > hi) | (lo > hi), g))
defrule(_nan_to_num,  lambda g, ans, x, **replacements: _finite_part(g, x))
# fmt: on

# ----- indicators: comparisons, logic, bits and tests, recorded with no derivative -----------
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
bitwise_count = nondiff(np.bitwise_count)
invert = nondiff(np.invert)
left_shift = nondiff(np.left_shift)
right_shift = nondiff(np.right_shift)
gcd = nondiff(np.gcd)
lcm = nondiff(np.lcm)
isnan = nondiff(np.isnan)
isinf = nondiff(np.isinf)
isfinite = nondiff(np.isfinite)
isnat = nondiff(np.isnat)
signbit = nondiff(np.signbit)
bitwise_not = bitwise_invert = invert
bitwise_left_shift, bitwise_right_shift = left_shift, right_shift


# ----- the public functions that choose a primitive or unpack several outputs ------------------


def sign(x: Any) -> Any:
    """sign(x): -1, 0 or 1 for real x (zero derivative); z/|z| for complex z, whose
    derivative is not zero: it moves along the unit circle."""
    return _sign_complex(x) if _is_complex(x) else _sign(x)


def divmod(x1: Any, x2: Any) -> tuple[Any, Any]:
    """(floor_divide(x1, x2), remainder(x1, x2)) from one equation with two parts."""
    z = _divmod(x1, x2)
    return z[0], z[1]


def frexp(x: Any) -> tuple[Any, Any]:
    """(mantissa, exponent) with x = mantissa·2**exponent; only the mantissa has a derivative."""
    z = _frexp(x)
    return z[0], z[1]


def modf(x: Any) -> tuple[Any, Any]:
    """(fractional part, integral part); the integral part has zero derivative."""
    z = _modf(x)
    return z[0], z[1]


registry.ufuncs[np.sign] = sign
registry.ufuncs[np.divmod] = divmod
registry.ufuncs[np.frexp] = frexp
registry.ufuncs[np.modf] = modf


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
    """Indices of the nonzero entries, one integer array per axis (no derivative); their
    number is remembered as a branch (`count_guarded`)."""
    count_guarded(a)
    return tuple(_nonzero_along(a, axis=k) for k in range(max(np.ndim(a), 1)))


@function(np.real)
@method("real")
def real(val: Any) -> Any:
    """The real part (the array itself for real arrays); of a traced complex array, a view
    as in NumPy: a write into it reaches the array."""
    if not hasattr(val, "dtype"):  # a Python number or a list
        if not holds_traced(val):
            return np.real(val)
        val = array_like(val)
    if numpy_dtype(val.dtype).kind != "c":
        return val
    return _part_view(_real(val), val, "real")


@function(np.imag)
@method("imag")
def imag(val: Any) -> Any:
    """The imaginary part (zeros, with no derivative, for real arrays, which NumPy makes
    read-only); of a traced complex array, a view as in NumPy."""
    if not hasattr(val, "dtype"):  # a Python number or a list
        if not holds_traced(val):
            return np.imag(val)
        val = array_like(val)
    return _part_view(_imag(val), val, "imag" if numpy_dtype(val.dtype).kind == "c" else "zeros")


_PART_KINDS: dict[str, Any] = {}


def _part_view(out: Any, val: Any, part: str) -> Any:
    """`out` (x.real or x.imag) made a view of the traced `val`."""
    if type(val) is not Var:
        return out
    from .manipulation import ViewKind, view_of  # manipulation imports this module

    if not _PART_KINDS:
        _PART_KINDS["real"] = ViewKind(
            "real", lambda p, _: _real(p), lambda p, _: np.real(p), lambda p, new, _: add(new, multiply(1j, _imag(p)))
        )
        _PART_KINDS["imag"] = ViewKind(
            "imag", lambda p, _: _imag(p), lambda p, _: np.imag(p), lambda p, new, _: add(_real(p), multiply(1j, new))
        )
        _PART_KINDS["zeros"] = ViewKind(
            "imag",
            lambda p, _: _imag(p),
            lambda p, _: np.imag(p),
            refusal="it is the imaginary part of a real array, which NumPy makes read-only; "
            "convert first: `z = x.astype(complex)`, then write into z.imag",
        )
    return view_of(out, val, _PART_KINDS[part])


method("conj", "conjugate")(conjugate)


@function(np.real_if_close)
def real_if_close(a: Any, tol: float = 100) -> Any:
    """The real part where every imaginary part is within `tol` (in machine epsilons when
    above 1) of zero, else `a` unchanged: a branch on the values, checked on replay."""
    if not holds_traced(a):
        return np.real_if_close(a, tol)
    a = array_like(a)
    if numpy_dtype(a.dtype).kind != "c":
        return a
    if tol > 1:
        tol = tol * np.finfo(a.dtype).eps
    return _real(a) if _all_small(a, tol) else a


def _all_small(a: Any, tol: float) -> bool:
    close = less(absolute(_imag(a)), tol)
    return bool(close.all()) if hasattr(close, "all") else bool(np.all(close))


@function(np.angle)
def angle(z: Any, deg: bool = False) -> Any:
    """The argument of complex `z` (in degrees with `deg`); 0 or π, with zero derivative,
    for real `z`. Its derivative is Im(conj(z)·dz)/|z|², taken as 0 at z = 0."""
    a = _angle(z) if _is_complex(z) else _angle_real(z)
    return a * _DEG if deg else a


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


@function(np.round, np.around)
@method("round")
def round(a: Any, decimals: int = 0, out: Any = None) -> Any:
    """`a` rounded to `decimals` places (halves to even): zero derivative almost everywhere."""
    if out is not None:
        raise TypeError("lagrad.numpy.round: out= is not supported on traced values; use the result")
    return _round(a, decimals=int(decimals))


around = round


def _python_round(x: Any, ndigits: int | None = None) -> Any:
    """Python's ``round(x[, ndigits])`` on a traced 0-d float, as on a NumPy float scalar:
    without `ndigits` an integer (a traced int64, no derivative), with it a float of zero
    derivative. Arrays have no ``round()`` in NumPy either."""
    if x.ndim != 0 or numpy_dtype(x.dtype).kind != "f":
        raise TypeError(
            f"lagrad: round() needs a 0-d real float, not a {numpy_dtype(x.dtype)} array of shape "
            f"{tuple(x.shape)}; use lagrad.numpy.round(x, decimals) for arrays."
        )
    if ndigits is None:
        return registry.ops.astype(_round(x, decimals=0), np.int64)
    return _round(x, decimals=int(ndigits))


registry.methods["__round__"] = _python_round


@function(np.fix)
def fix(x: Any, out: Any = None) -> Any:
    """`x` rounded towards zero (trunc): zero derivative almost everywhere."""
    if out is not None:
        raise TypeError("lagrad.numpy.fix: out= is not supported on traced values; use the result")
    return trunc(x)


@function(np.sinc)
def sinc(x: Any) -> Any:
    """sin(πx)/(πx), 1 at 0, where its derivative is 0."""
    return _sinc(x)


@function(np.nan_to_num)
def nan_to_num(x: Any, copy: bool = True, nan: float = 0.0, posinf: Any = None, neginf: Any = None) -> Any:
    """NaN and infinities replaced by finite numbers; the derivative is 1 where `x` is
    finite and 0 where a value was replaced (for complex x, part by part)."""
    return _nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)


registry.ops.real = real
