"""`lagrad.scipy.special`: special functions as primitives, with their derivative rules.

SciPy's special functions are ufuncs, so ``scipy.special.erf(traced)`` finds
the primitive here through NumPy's ufunc hook; `polygamma`, `multigammaln`,
`logsumexp`, `softmax` and `log_softmax` are Python functions in SciPy and
are called from here. Derivatives follow the arguments of the function, not
its integer orders or Bessel orders: differentiating those raises an error
that says so. The incomplete gamma and beta functions, Student's t
distribution function and their inverses are differentiable in their shape
parameters too (`_shapes`: series and continued fractions): twice in `a`
for the gamma functions, once in the shapes for the others. A higher
derivative in a shape parameter is refused with an error, while the mixed
derivatives in a shape parameter and `x` are given.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.special as _sp

from ..control import stop_gradient
from ..core import Var, defjvp, defrule, defvjp
from ..core.backend import numpy_dtype
from ..numpy import abs, broadcast_to, exp, isfinite, isinf, log, log1p, max, maximum, minimum, sign, sum, where
from ..numpy._register import elementwise, prim, ufunc
from ..numpy.manipulation import astype, reshape, shape_of
from ..numpy.reductions import kept_shape, normalize_axes
from . import _shapes

__all__ = [
    "beta",
    "betainc",
    "betaincc",
    "betainccinv",
    "betaincinv",
    "betaln",
    "digamma",
    "entr",
    "erf",
    "erfc",
    "erfcinv",
    "erfcx",
    "erfinv",
    "expit",
    "gamma",
    "gammainc",
    "gammaincc",
    "gammainccinv",
    "gammaincinv",
    "gammaln",
    "i0",
    "i0e",
    "i1",
    "i1e",
    "iv",
    "ive",
    "kl_div",
    "log_expit",
    "log_ndtr",
    "log_softmax",
    "logit",
    "logsumexp",
    "multigammaln",
    "ndtr",
    "ndtri",
    "polygamma",
    "psi",
    "rel_entr",
    "softmax",
    "stdtr",
    "stdtrit",
    "xlog1py",
    "xlogy",
]

#: The derivatives a function here still lacks, by SciPy's name (docs/coverage.md shows them).
DERIVATIVE_GAPS = {
    **dict.fromkeys(["gammainc", "gammaincc", "gammaincinv", "gammainccinv"], "no third derivative in `a`"),
    **dict.fromkeys(
        ["betainc", "betaincc", "betaincinv", "betainccinv"], "no second derivative in `a` or `b`, each alone or mixed"
    ),
    **dict.fromkeys(["stdtr", "stdtrit"], "no second derivative in `df`"),
    "iv": "no derivative in the order `v`",
    "ive": "no derivative in the order `v`, nor at complex `z`",
    "polygamma": "no derivative in the integer order `n`",
}

_SQRT_2PI = float(np.sqrt(2 * np.pi))
_2_OVER_SQRT_PI = float(2 / np.sqrt(np.pi))
_SQRT_PI_OVER_2 = float(np.sqrt(np.pi) / 2)
_SQRT_2_OVER_PI = float(np.sqrt(2 / np.pi))
_SQRT2 = float(np.sqrt(2))


# ----- primitives ----------------------------------------------------------------
# fmt: off
gamma        = ufunc(_sp.gamma)
gammaln      = ufunc(_sp.gammaln)
digamma      = ufunc(_sp.digamma, "digamma")
_polygamma   = elementwise("polygamma", _sp.polygamma)
beta         = ufunc(_sp.beta)
betaln       = ufunc(_sp.betaln)
erf          = ufunc(_sp.erf)
erfc         = ufunc(_sp.erfc)
erfcx        = ufunc(_sp.erfcx)
erfinv       = ufunc(_sp.erfinv)
erfcinv      = ufunc(_sp.erfcinv)
ndtr         = ufunc(_sp.ndtr)
log_ndtr     = ufunc(_sp.log_ndtr)
ndtri        = ufunc(_sp.ndtri)
expit        = ufunc(_sp.expit)
log_expit    = ufunc(_sp.log_expit)
logit        = ufunc(_sp.logit)
xlogy        = ufunc(_sp.xlogy)
xlog1py      = ufunc(_sp.xlog1py)
entr         = ufunc(_sp.entr)
rel_entr     = ufunc(_sp.rel_entr)
kl_div       = ufunc(_sp.kl_div)
gammainc     = ufunc(_sp.gammainc)
gammaincc    = ufunc(_sp.gammaincc)
gammaincinv  = ufunc(_sp.gammaincinv)
gammainccinv = ufunc(_sp.gammainccinv)
betainc      = ufunc(_sp.betainc)
betaincc     = ufunc(_sp.betaincc)
betaincinv   = ufunc(_sp.betaincinv)
betainccinv  = ufunc(_sp.betainccinv)
stdtr        = ufunc(_sp.stdtr)
stdtrit      = ufunc(_sp.stdtrit)
i0           = ufunc(_sp.i0)
i1           = ufunc(_sp.i1)
iv           = ufunc(_sp.iv)
i0e          = ufunc(_sp.i0e)
i1e          = ufunc(_sp.i1e)
ive          = ufunc(_sp.ive)
# the first derivatives in the shape parameters, themselves primitives (with rules in x)
_gammainc_da = elementwise("gammainc_da", _shapes.gammainc_da)
_gammainc_daa = elementwise("gammainc_daa", _shapes.gammainc_daa)
_betainc_da  = elementwise("betainc_da", _shapes.betainc_da)
_betainc_db  = elementwise("betainc_db", _shapes.betainc_db)
_stdtr_ddf   = elementwise("stdtr_ddf", _shapes.stdtr_ddf)
_logsumexp   = prim("logsumexp", lambda x, axis, keepdims: _sp.logsumexp(x, axis=axis or None, keepdims=keepdims))
_softmax     = prim("softmax", lambda x, axis: _sp.softmax(x, axis=axis))
_log_softmax = prim("log_softmax", lambda x, axis: _sp.log_softmax(x, axis=axis))
# fmt: on

psi = digamma


# ----- helpers of the rules --------------------------------------------------------


def _no_derivative(fun: str, arg: str, why: str) -> Any:
    """The rule of an argument lagrad cannot differentiate in: reached only when that
    argument is traced and its derivative is needed, where it stops with the reason."""

    def rule(g: Any, ans: Any, *args: Any) -> Any:
        raise NotImplementedError(
            f"lagrad.scipy.special.{fun}: no derivative in `{arg}` ({why}). Pass `{arg}` as a "
            f"constant, or wrap it in lagrad.stop_gradient if its derivative may be taken as zero."
        )

    return rule


def _no_second_derivative(fun: str, arg: str, order: str = "second") -> Any:
    """The rule of a shape parameter's highest derivative given, in that same parameter."""

    def rule(g: Any, ans: Any, *args: Any) -> Any:
        raise NotImplementedError(
            f"lagrad.scipy.special.{fun}: no {order} derivative in `{arg}`, here or in the functions built "
            f"on it (complement, inverses, distribution functions): the first is computed by a series or "
            f"continued fraction that has no derivative rule of its own. Lower derivatives, and "
            f"derivatives in the other arguments and mixed with `{arg}`, are provided. Take the {order} "
            f"derivative in `{arg}` by finite differences of lagrad.grad, or hold `{arg}` constant."
        )

    return rule


_INTEGER = "an integer order"
_ORDER = "the derivative in the order has no simple closed form"


def _digamma_drop(a: Any, b: Any) -> Any:
    """ψ(a) − ψ(a + b), the slope of betaln in `a`. For large a the two digammas agree to
    log(a) and their difference cancels (5 digits left at a = 1e10, 2 at 1e13), so from
    a, a + b > 1e4 it is the difference of ψ(x) ~ log x − 1/(2x) − 1/(12x²) term by term,
    each written without cancelling; the next term is 1e-18 of it there. Not for b ≤ −a/2: the
    series' log1p(b/a) cancels there, and the digammas, apart by at least log 2, do not."""
    large = (a > 1e4) & (a + b > 1e4) & (b > -0.5 * a) & isfinite(a + b)  # infinities: the digammas' limits
    sa, sb = where(large, a, 1e4), where(large, b, 0.0)
    c = sa + sb
    q = sb / sa
    t = q / c  # b / (a (a + b)), divided in turn: a² overflows float16
    series = -log1p(q) - 0.5 * t - t * (2.0 + q) / c / 12.0
    return where(large, series, digamma(a) - digamma(a + b))


def _normal_density(x: Any) -> Any:
    return exp(-0.5 * x**2) / _SQRT_2PI


def _erfcx_slope(x: Any, ans: Any) -> Any:
    """erfcx'(x) = 2x erfcx(x) - 2/√π. The difference cancels for large x (all digits lost at
    x = 1e8, where it gave 0; 2e-8 relative at 1e4), so from x = 10 (5 in float32 and float16)
    it is the asymptotic series (2/√π) Σ_{n=1}^{14} (-1)^n (2n-1)!! u^n, u = 1/(2x²), good to
    4e-17 relative at 10 and better beyond (1e-8 at 5). Complex x keeps the closed form."""
    if numpy_dtype(x.dtype).kind == "c":
        return 2 * x * ans - _2_OVER_SQRT_PI
    low_precision = np.finfo(np.result_type(numpy_dtype(x.dtype), np.float16)).eps > 1e-10
    start = 5.0 if low_precision else 10.0
    large = x > start
    safe = where(large, x, start)
    u = 0.5 / safe / safe  # underflows to 0 rather than overflowing in x²
    tail = 1.0
    for k in range(27, 1, -2):  # Horner's form: -u (1 - 3u (1 - 5u (1 - … (1 - 27u))))
        tail = 1.0 - k * u * tail
    return where(large, -_2_OVER_SQRT_PI * u * tail, 2 * x * ans - _2_OVER_SQRT_PI)


def _log_ndtr_slope(x: Any, ans: Any) -> Any:
    """log_ndtr'(x) = φ(x)/Φ(x). As exp(-x²/2 - log_ndtr(x))/√(2π) the exponent cancels for
    negative x (7e-7 relative at -1e5, 94 % at -1e8), so there it is √(2/π)/erfcx(-x/√2),
    from Φ(x) = erfcx(-x/√2) exp(-x²/2)/2, which does not cancel. Complex x keeps the first."""
    if numpy_dtype(x.dtype).kind == "c":
        return exp(-0.5 * x**2 - ans) / _SQRT_2PI
    left = _SQRT_2_OVER_PI / erfcx(minimum(x, 0.0) / -_SQRT2)
    return where(x < 0, left, exp(-0.5 * x**2 - ans) / _SQRT_2PI)


def _i1_over_x(x: Any, i1e_x: Any) -> Any:
    """i1e(x)/x, 1/2 at 0: with I₂ = I₀ − 2 I₁/x, i1e' = (i0e + ive(2, ·))/2 − sign·i1e is
    i0e − i1e/x − sign·i1e, where SciPy's ive(2, x) is NaN from |x| = 1e10 on."""
    zero = x == 0
    return where(zero, 0.5, i1e_x / where(zero, 1.0, x))


def _gamma_density(a: Any, x: Any) -> Any:
    """∂gammainc(a, x)/∂x = x**(a-1) exp(-x) / Γ(a)."""
    return exp(xlogy(a - 1, x) - x - gammaln(a))


def _beta_density(a: Any, b: Any, x: Any) -> Any:
    """∂betainc(a, b, x)/∂x = x**(a-1) (1-x)**(b-1) / B(a, b)."""
    return exp(xlogy(a - 1, x) + xlog1py(b - 1, -x) - betaln(a, b))


def _t_density(df: Any, t: Any) -> Any:
    """∂stdtr(df, t)/∂t: Student's t density with `df` degrees of freedom."""
    log_norm = -betaln(0.5 * df, 0.5) - 0.5 * log(df)  # 1/(sqrt(df) B(df/2, 1/2)), no cancellation at large df
    return exp(log_norm - 0.5 * (df + 1) * log1p(t**2 / df))


def _t_density_dlog_ddf(df: Any, t: Any) -> Any:
    """∂ log(t density) / ∂df (t.logpdf's slope in df, and the mixed derivative ∂²stdtr / ∂t ∂df):
    D(df) + E, D = (ψ((df+1)/2) − ψ(df/2))/2 − 1/(2 df), E = (u/(1+u) − log1p(u))/2 + u/(2 df (1+u)),
    u = t²/df. Both are O(1/df²) sums of O(1/df) terms (the digamma difference kept 1 digit at
    df = 1e8, none beyond), so D is its asymptotic series from df = 50 (3e-15 relative there,
    the next term's size), and u/(1+u) − log1p(u) its power series −Σ_{k≥2} (−u)^k (k−1)/k below
    u = 0.1 (17 terms: 2e-16 relative there)."""
    large = df > 50
    n = where(large, df, 50.0)
    w = 1 / (n * n)
    series = w * (0.25 - w * (0.125 - w * (0.25 - w * (17 / 16 - w * 31 / 4))))
    d = where(large, series, 0.5 * (digamma(0.5 * (df + 1)) - digamma(0.5 * df)) - 0.5 / df)
    u = t**2 / df
    small = u < 0.1
    v = where(small, u, 0.0)
    p = 0.0
    for k in range(17, 1, -1):  # Horner's form of Σ_{k=2}^{17} (−1)^(k+1) (k−1)/k u^k, over u²
        p = (-1) ** (k + 1) * (k - 1) / k + v * p
    bracket = where(small, v * v * p, u / (1 + u) - log1p(u))
    return d + 0.5 * bracket + 0.5 * u / (df * (1 + u))


def _real_sign(z: Any) -> Any:
    """sign(z), the derivative of |z| in exp(-|z|), for the real arguments of the scaled
    Bessel functions; for complex z SciPy scales by exp(-|Re z|), which is not holomorphic."""
    if np.dtype(z.dtype).kind == "c":
        raise NotImplementedError(
            "lagrad.scipy.special.ive: no derivative at complex z (its scaling exp(-|Re z|) is not "
            "holomorphic); use iv(v, z) * exp(-abs(real(z))) written out, or real z"
        )
    return sign(z)


def _axes(axis: Any, x: Any) -> tuple[int, ...]:
    return normalize_axes(axis, len(shape_of(x)))


def _kept(y: Any, x: Any, axis: tuple[int, ...], keepdims: bool) -> Any:
    """A reduction's result `y`, with the reduced axes kept as length 1 (SciPy keeps a 0-d
    input's result as shape (1,), which is reshaped back to ())."""
    kept = kept_shape(x.shape, axis)
    return y if keepdims and y.shape == kept else reshape(y, kept)


def _shifted_exp(x: Any, ans: Any, axis: tuple[int, ...], keepdims: bool) -> Any:
    """exp(x - logsumexp(x)): the weights the derivative of logsumexp puts on x. Where the
    result is infinite (an entry +inf, or every entry -inf) that is NaN: the entries equal to
    the result share it equally there, as logaddexp's (the limit along equal entries)."""
    top = _kept(ans, x, axis, keepdims)
    if isinstance(top, (np.ndarray, np.generic)) and not np.isinf(top).any():  # NumPy's, none infinite: the common case
        return exp(x - top)
    tied = x == top
    shares = astype(tied / maximum(sum(tied, axis=axis, keepdims=True), 1), x.dtype)
    return where(isinf(top), shares, exp(x - top))  # NaN stays NaN


# fmt: off
# ----- gamma and beta functions --------------------------------------------------
defrule(gamma,        lambda g, ans, x: g * ans * digamma(x))
defrule(gammaln,      lambda g, ans, x: g * digamma(x))
defrule(digamma,      lambda g, ans, x: g * _polygamma(1, x))
defrule(_polygamma,   _no_derivative("polygamma", "n", _INTEGER),
                      lambda g, ans, n, x: g * _polygamma(n + 1, x))
defrule(beta,         lambda g, ans, a, b: g * ans * _digamma_drop(a, b),
                      lambda g, ans, a, b: g * ans * _digamma_drop(b, a))
defrule(betaln,       lambda g, ans, a, b: g * _digamma_drop(a, b),
                      lambda g, ans, a, b: g * _digamma_drop(b, a))
# ----- error function and the normal distribution ---------------------------------
defrule(erf,          lambda g, ans, x: g * _2_OVER_SQRT_PI * exp(-(x**2)))
defrule(erfc,         lambda g, ans, x: -g * _2_OVER_SQRT_PI * exp(-(x**2)))
defrule(erfcx,        lambda g, ans, x: g * _erfcx_slope(x, ans))
defrule(erfinv,       lambda g, ans, x: g * _SQRT_PI_OVER_2 * exp(ans**2))
defrule(erfcinv,      lambda g, ans, x: -g * _SQRT_PI_OVER_2 * exp(ans**2))
defrule(ndtr,         lambda g, ans, x: g * _normal_density(x))
defrule(log_ndtr,     lambda g, ans, x: g * _log_ndtr_slope(x, ans))
defrule(ndtri,        lambda g, ans, x: g * _SQRT_2PI * exp(0.5 * ans**2))
# ----- logistic function, x·log y and entropies -------------------------------------
defrule(expit,        lambda g, ans, x: g * ans * expit(-x))  # not 1 - ans: 0 once ans rounds to 1
defrule(log_expit,    lambda g, ans, x: g * expit(-x))
defrule(logit,        lambda g, ans, x: g / (x * (1 - x)))
# ∂/∂y is x/y, and 0 at x = y = 0 (as the value): the safe denominator is taken there only,
# not wherever x = 0, where it would make the mixed derivative 1 in place of 1/y
defrule(xlogy,        lambda g, ans, x, y: g * log(y),
                      lambda g, ans, x, y: g * x / where((x == 0) & (y == 0), 1.0, y))
defrule(xlog1py,      lambda g, ans, x, y: g * log1p(y),
                      lambda g, ans, x, y: g * x / where((x == 0) & (y == -1), 1.0, 1 + y))
defrule(entr,         lambda g, ans, x: -g * (log(x) + 1))
# log(x) - log(y), not log(x / y): its derivative in y is -1/y at x = 0 too, and x/y may underflow
defrule(rel_entr,     lambda g, ans, x, y: g * (log(x) - log(y) + 1),
                      lambda g, ans, x, y: -g * x / y)
defrule(kl_div,       lambda g, ans, x, y: g * (log(x) - log(y)),
                      lambda g, ans, x, y: g * (1 - x / y))
# ----- incomplete gamma and beta functions, Student's t: in x and in the shapes ----------
# ∂/∂shape of an inverse x(shape, y) of F(shape, x) = y is -(∂F/∂shape) / (∂F/∂x) at x = ans
defrule(gammainc,     lambda g, ans, a, x: g * _gammainc_da(a, x),
                      lambda g, ans, a, x: g * _gamma_density(a, x))
defrule(gammaincc,    lambda g, ans, a, x: -g * _gammainc_da(a, x),
                      lambda g, ans, a, x: -g * _gamma_density(a, x))
defrule(gammaincinv,  lambda g, ans, a, y: -g * _gammainc_da(a, ans) / _gamma_density(a, ans),
                      lambda g, ans, a, y: g / _gamma_density(a, ans))
defrule(gammainccinv, lambda g, ans, a, y: -g * _gammainc_da(a, ans) / _gamma_density(a, ans),
                      lambda g, ans, a, y: -g / _gamma_density(a, ans))
defrule(betainc,      lambda g, ans, a, b, x: g * _betainc_da(a, b, x),
                      lambda g, ans, a, b, x: g * _betainc_db(a, b, x),
                      lambda g, ans, a, b, x: g * _beta_density(a, b, x))
defrule(betaincc,     lambda g, ans, a, b, x: -g * _betainc_da(a, b, x),
                      lambda g, ans, a, b, x: -g * _betainc_db(a, b, x),
                      lambda g, ans, a, b, x: -g * _beta_density(a, b, x))
defrule(betaincinv,   lambda g, ans, a, b, y: -g * _betainc_da(a, b, ans) / _beta_density(a, b, ans),
                      lambda g, ans, a, b, y: -g * _betainc_db(a, b, ans) / _beta_density(a, b, ans),
                      lambda g, ans, a, b, y: g / _beta_density(a, b, ans))
defrule(betainccinv,  lambda g, ans, a, b, y: -g * _betainc_da(a, b, ans) / _beta_density(a, b, ans),
                      lambda g, ans, a, b, y: -g * _betainc_db(a, b, ans) / _beta_density(a, b, ans),
                      lambda g, ans, a, b, y: -g / _beta_density(a, b, ans))
defrule(stdtr,        lambda g, ans, df, t: g * _stdtr_ddf(df, t),
                      lambda g, ans, df, t: g * _t_density(df, t))
defrule(stdtrit,      lambda g, ans, df, p: -g * _stdtr_ddf(df, ans) / _t_density(df, ans),
                      lambda g, ans, df, p: g / _t_density(df, ans))
# the first derivatives in the shapes: in x they are closed forms, in the shapes refused
defrule(_gammainc_da, lambda g, ans, a, x: g * _gammainc_daa(a, x),
                      lambda g, ans, a, x: g * _gamma_density(a, x) * (log(x) - digamma(a)))
defrule(_gammainc_daa, _no_second_derivative("gammainc", "a", "third"),
                      lambda g, ans, a, x: g * _gamma_density(a, x) * ((log(x) - digamma(a)) ** 2 - _polygamma(1, a)))
defrule(_betainc_da,  _no_second_derivative("betainc", "a"),
                      _no_second_derivative("betainc", "b"),
                      lambda g, ans, a, b, x: g * _beta_density(a, b, x) * (log(x) - digamma(a) + digamma(a + b)))
defrule(_betainc_db,  _no_second_derivative("betainc", "a"),
                      _no_second_derivative("betainc", "b"),
                      lambda g, ans, a, b, x: g * _beta_density(a, b, x) * (log1p(-x) - digamma(b) + digamma(a + b)))
defrule(_stdtr_ddf,   _no_second_derivative("stdtr", "df"),
                      lambda g, ans, df, t: g * _t_density(df, t) * _t_density_dlog_ddf(df, t))
# ----- modified Bessel functions: I_v' = (I_{v-1} + I_{v+1}) / 2; the scaled ones carry exp(-|x|)
defrule(i0,           lambda g, ans, x: g * i1(x))
defrule(i1,           lambda g, ans, x: g * 0.5 * (i0(x) + iv(2, x)))
defrule(iv,           _no_derivative("iv", "v", _ORDER),
                      lambda g, ans, v, z: g * 0.5 * (iv(v - 1, z) + iv(v + 1, z)))
defrule(i0e,          lambda g, ans, x: g * (i1e(x) - sign(x) * ans))
defrule(i1e,          lambda g, ans, x: g * (i0e(x) - _i1_over_x(x, ans) - sign(x) * ans))
defrule(ive,          _no_derivative("ive", "v", _ORDER),
                      lambda g, ans, v, z: g * (0.5 * (ive(v - 1, z) + ive(v + 1, z)) - _real_sign(z) * ans))
# ----- normalisers: logsumexp, softmax, log_softmax --------------------------------------
defvjp(_logsumexp,    lambda g, ans, x, axis, keepdims: _kept(g, x, axis, keepdims) * _shifted_exp(x, ans, axis, keepdims))  # noqa: E501
defjvp(_logsumexp,    lambda t, ans, x, axis, keepdims: sum(t * _shifted_exp(x, ans, axis, keepdims), axis, keepdims=keepdims))  # noqa: E501
defvjp(_softmax,      lambda g, ans, x, axis: ans * (g - sum(g * ans, axis=axis, keepdims=True)))
defjvp(_softmax,      lambda t, ans, x, axis: ans * (t - sum(t * ans, axis=axis, keepdims=True)))
defvjp(_log_softmax,  lambda g, ans, x, axis: g - exp(ans) * sum(g, axis=axis, keepdims=True))
defjvp(_log_softmax,  lambda t, ans, x, axis: t - sum(exp(ans) * t, axis=axis, keepdims=True))
# fmt: on


# ----- functions SciPy writes in Python -------------------------------------------------


def _plain(x: Any) -> Any:
    """The value of a traced array, for checks that carry no derivative."""
    while isinstance(x, Var):
        x = x.value
    return x


def polygamma(n: Any, x: Any) -> Any:
    """The n-th derivative of digamma at `x`; `n` is an integer order (no derivative in it).

    Call it from here: ``scipy.special.polygamma`` is a Python function that NumPy's hooks
    cannot redirect for traced values."""
    order = np.asarray(_plain(n))
    if order.dtype.kind not in "iub" and not np.all(order == np.floor(order)):
        raise ValueError(f"lagrad.scipy.special.polygamma: the order n must be an integer, not {order!r}")
    return _polygamma(n, x)


def multigammaln(a: Any, d: int) -> Any:
    """The log of the multivariate gamma function of dimension `d`:
    ``d(d-1)/4 log π + Σ_{j<d} gammaln(a - j/2)``, for ``a > (d-1)/2``."""
    if int(d) != d or d < 1:
        raise ValueError(f"lagrad.scipy.special.multigammaln: d must be a positive integer, not {d!r}")
    d = int(d)
    if np.any(np.asarray(_plain(a)) <= 0.5 * (d - 1)):
        raise ValueError(f"lagrad.scipy.special.multigammaln: needs a > (d-1)/2 = {0.5 * (d - 1)} everywhere")
    result = gammaln(a)
    for j in range(1, d):
        result = result + gammaln(a - 0.5 * j)
    return result + 0.25 * d * (d - 1) * np.log(np.pi)


def logsumexp(a: Any, axis: Any = None, b: Any = None, keepdims: bool = False, return_sign: bool = False) -> Any:
    """log(sum(b * exp(a))) over `axis`, computed stably. `b` scales each term and may be
    negative (a log-difference of exponentials); where the sum is negative the result is
    NaN, or, with `return_sign`, log|sum| and the sign are returned, as SciPy does."""
    if b is None and not return_sign:
        return _logsumexp(a, axis=_axes(axis, a), keepdims=bool(keepdims))
    a = a if hasattr(a, "shape") else np.asarray(a, dtype=np.float64)
    b = np.ones((), dtype=np.result_type(_plain(a).dtype, np.float64)) if b is None else b
    b = b if hasattr(b, "shape") else np.asarray(b, dtype=np.float64)
    if np.dtype(a.dtype).kind == "c" or np.dtype(b.dtype).kind == "c":
        raise NotImplementedError(
            "lagrad.scipy.special.logsumexp: b= or return_sign=True with complex values is not "
            "supported; split the sum into real terms or drop b="
        )
    shape = np.broadcast_shapes(shape_of(a), shape_of(b))
    a, b = broadcast_to(a, shape), broadcast_to(b, shape)
    axes = _axes(axis, a)
    # As SciPy: a term with zero weight adds nothing, even where `a` is infinite or NaN.
    a = where((b == 0) & ~isfinite(a), -np.inf, a)
    top = max(where(b == 0, -np.inf, a), axis=axes, keepdims=True)
    shift = stop_gradient(where(isfinite(top), top, 0.0))  # cancels in value and derivative
    # a zero-weight term far above the others would overflow exp (and 0·inf is NaN): capped, and
    # only it (a +inf entry of nonzero weight makes the sum infinite)
    d = a - shift
    total = sum(b * exp(where(b == 0, minimum(d, 700.0), d)), axis=axes, keepdims=True)
    with np.errstate(divide="ignore"):  # log(0) = -inf: an empty or cancelling sum
        out = log(abs(total)) + shift
    sign_ = stop_gradient(sign(total))
    if not return_sign:
        out = where(total < 0, np.nan, out)
    if not keepdims:
        out, sign_ = (reshape(v, tuple(n for i, n in enumerate(shape) if i not in axes)) for v in (out, sign_))
    out, sign_ = (v[()] if isinstance(v, np.ndarray) else v for v in (out, sign_))  # 0-d: scalars, as SciPy
    return (out, sign_) if return_sign else out


def softmax(x: Any, axis: Any = None) -> Any:
    """exp(x) / sum(exp(x)) over `axis` (all axes when None)."""
    return _softmax(x, axis=_axes(axis, x))


def log_softmax(x: Any, axis: Any = None) -> Any:
    """x - logsumexp(x) over `axis` (all axes when None)."""
    return _log_softmax(x, axis=_axes(axis, x))
