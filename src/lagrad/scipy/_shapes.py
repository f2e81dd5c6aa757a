"""Derivatives of the incomplete gamma and beta functions in their shape parameters, in NumPy.

SciPy gives P(a, x) = gammainc(a, x) and I_x(a, b) = betainc(a, b, x) but not their
derivatives in `a` and `b`, which have no closed form. Here they come from the series
and continued fractions that evaluate the functions, differentiated term by term (Moore
1982 for the gamma function, Boik & Robison-Cox 1998 for the beta function): each is
written as SciPy's value times the derivative of its logarithm, so the relative accuracy
of SciPy's value carries over to the tails. The loops run over iterations, never over
elements: every element that has not converged takes the next term at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.special as _sp

#: Relative size of the last term at which a series or continued fraction has converged.
_EPS = 1e-15
#: The most terms taken; near x ≈ a (gamma) or x ≈ a/(a+b) (beta) about 9·sqrt(a) are needed,
#: so this covers shape parameters up to about 10**9. Elements still moving after it are NaN.
MAX_TERMS = 300_000


def _iterate(step: Callable[..., tuple[np.ndarray, ...]], state: tuple[np.ndarray, ...], outputs: list[int]) -> list:
    """Run `step(n, *state) -> (*state, converged)` for n = 1, 2, ... on the elements not yet
    converged; return the state entries at positions `outputs` for each element, as they were
    when it converged, NaN where it never did."""
    size = state[0].shape[0]
    results = np.full((len(outputs), size), np.nan)
    active = np.arange(size)
    for n in range(1, MAX_TERMS + 1):
        if active.size == 0:
            break
        *state, converged = step(n, *state)
        if np.any(converged):
            for j, at in enumerate(outputs):
                results[j, active[converged]] = state[at][converged]
            keep = ~converged
            active = active[keep]
            state = [s[keep] for s in state]
    return list(results)


# ----- the incomplete gamma function ---------------------------------------------------------


def _gamma_series(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """d log P / da from P = x^a e^-x / Γ(a+1) Σ t_n, t_n = x^n Γ(a+1)/Γ(a+n+1), for x < a + 1:
    log x - ψ(a+1) - Σ t_n h_n / Σ t_n, with h_n = ψ(a+n+1) - ψ(a+1) = Σ_{k≤n} 1/(a+k)."""

    def step(n, a, x, t, h, s, th, ratio):
        h = h + 1 / (a + n)
        t = t * x / (a + n)
        s = s + t
        th = th + t * h
        new = th / s
        converged = (t <= _EPS * s) & (np.abs(new - ratio) <= _EPS * np.abs(new))
        return a, x, t, h, s, th, new, converged

    one, zero = np.ones_like(a), np.zeros_like(a)
    (ratio,) = _iterate(step, (a, x, one, zero, one, zero, zero), [6])
    return np.log(x) - _sp.digamma(a + 1) - ratio


def _gamma_fraction(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """d log Q / da from Q = x^a e^-x / Γ(a) F, F = 1/(x+1-a - 1(1-a)/(x+3-a - 2(2-a)/(...))),
    for x ≥ a + 1: log x - ψ(a) + F_a / F, F and F_a by the forward recurrence."""
    return (
        np.log(x)
        - _sp.digamma(a)
        + _fraction_dlog(
            x,
            a,
            lambda n, x, a: (x + 2 * n - 1 - a, -(n - 1) * (n - 1 - a)),  # b_n, a_n (a_1 = 1 below)
            lambda n, x, a: (-np.ones_like(a), (n - 1) * np.ones_like(a)),  # their derivatives in a
        )[0]
    )


def gammainc_da(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """∂ gammainc(a, x) / ∂a (= -∂ gammaincc(a, x) / ∂a), for a > 0 and x ≥ 0; 0 at x = 0 and
    x = ∞, NaN where gammainc is."""
    return _by_tail(a, x, lambda a, x: _sp.gammainc(a, x) * _gamma_series(a, x),
                    lambda a, x: -_sp.gammaincc(a, x) * _gamma_fraction(a, x))  # fmt: skip


def _by_tail(a: Any, x: Any, series: Any, fraction: Any) -> np.ndarray:
    """A derivative of gammainc in `a`: 0 at x = 0 and x = ∞, `series(a, x)` where x < a + 1
    (P's series converges fast), `fraction(a, x)` elsewhere (Q's continued fraction)."""
    a, x = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(x, dtype=float))
    out = np.full(a.shape, np.nan)
    valid = (a > 0) & (x >= 0)
    out[valid & ((x == 0) | (x == np.inf))] = 0.0
    inner = valid & (x > 0) & (x < np.inf)
    in_series = inner & (x < a + 1)
    in_fraction = inner & ~in_series
    if np.any(in_series):
        out[in_series] = series(a[in_series], x[in_series])
    if np.any(in_fraction):
        out[in_fraction] = fraction(a[in_fraction], x[in_fraction])
    return out[()] if out.ndim == 0 else out


def _gamma_series_second(a: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(d log P / da, d² log P / da²) from the series of `_gamma_series`: with dt_n/da = -t_n h_n
    and d²t_n/da² = t_n (h_n² + k_n), k_n = Σ_{j≤n} 1/(a+j)², d² log P / da² is
    -ψ'(a+1) + Σ t_n (h_n² + k_n) / Σ t_n - (Σ t_n h_n / Σ t_n)²."""

    def step(n, a, x, t, h, k, s, th, tq, first, second):
        h = h + 1 / (a + n)
        k = k + 1 / (a + n) ** 2
        t = t * x / (a + n)
        s = s + t
        th = th + t * h
        tq = tq + t * (h * h + k)
        new_first, new_second = th / s, tq / s
        converged = (
            (t <= _EPS * s)
            & (np.abs(new_first - first) <= _EPS * np.abs(new_first))
            & (np.abs(new_second - second) <= _EPS * np.abs(new_second))
        )
        return a, x, t, h, k, s, th, tq, new_first, new_second, converged

    one, zero = np.ones_like(a), np.zeros_like(a)
    first, second = _iterate(step, (a, x, one, zero, zero, one, zero, zero, zero, zero), [8, 9])
    return np.log(x) - _sp.digamma(a + 1) - first, -_sp.polygamma(1, a + 1) + second - first * first


def _gamma_fraction_second(a: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(d log Q / da, d² log Q / da²) from the continued fraction of `_gamma_fraction`, its
    recurrences differentiated twice (b_n and a_n are linear in a): F'/F and F''/F give
    d log Q / da = log x - ψ(a) + F'/F, d² log Q / da² = -ψ'(a) + F''/F - (F'/F)²."""

    def step(n, a, x, p1, p2, q1, q2, dp1, dp2, dq1, dq2, ep1, ep2, eq1, eq2, f, g1, g2):
        bn, db = x + 2 * n - 1 - a, -1.0
        an, da = (np.ones_like(a), 0.0) if n == 1 else (-(n - 1) * (n - 1 - a), float(n - 1))
        p0, q0 = bn * p1 + an * p2, bn * q1 + an * q2
        dp0 = db * p1 + bn * dp1 + da * p2 + an * dp2
        dq0 = db * q1 + bn * dq1 + da * q2 + an * dq2
        ep0 = bn * ep1 + 2 * db * dp1 + an * ep2 + 2 * da * dp2
        eq0 = bn * eq1 + 2 * db * dq1 + an * eq2 + 2 * da * dq2
        scale = 1 / q0
        p0, p1, q1 = p0 * scale, p1 * scale, q1 * scale
        dp0, dp1, dq0, dq1 = dp0 * scale, dp1 * scale, dq0 * scale, dq1 * scale
        ep0, ep1, eq0, eq1 = ep0 * scale, ep1 * scale, eq0 * scale, eq1 * scale
        new_g1 = dp0 / p0 - dq0
        new_g2 = ep0 / p0 - 2 * dp0 * dq0 / p0 - eq0 + 2 * dq0 * dq0
        converged = (
            (np.abs(p0 - f) <= _EPS * np.abs(p0))
            & (np.abs(new_g1 - g1) <= _EPS * np.abs(new_g1))
            & (np.abs(new_g2 - g2) <= _EPS * np.abs(new_g2))
        )
        one = np.ones_like(a)
        return a, x, p0, p1, one, q1, dp0, dp1, dq0, dq1, ep0, ep1, eq0, eq1, p0, new_g1, new_g2, converged

    one, zero = np.ones_like(a), np.zeros_like(a)
    state = (a, x, zero, one, one, zero, *([zero] * 8), zero, zero, zero)
    g1, g2 = _iterate(step, state, [15, 16])
    return np.log(x) - _sp.digamma(a) + g1, -_sp.polygamma(1, a) + g2 - g1 * g1


def gammainc_daa(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """∂² gammainc(a, x) / ∂a² (= -∂² gammaincc / ∂a²): P ((d log P)² + d² log P), from whichever
    tail the series or the continued fraction gives; 0 at x = 0 and x = ∞."""

    def by(second_log: Any, tail: Any) -> Any:
        def part(a: Any, x: Any) -> Any:
            first, second = second_log(a, x)
            return tail(a, x) * (first * first + second)

        return part

    return _by_tail(
        a, x, by(_gamma_series_second, _sp.gammainc), by(_gamma_fraction_second, lambda a, x: -_sp.gammaincc(a, x))
    )


# ----- continued fractions and their derivatives ----------------------------------------------


def _fraction_dlog(x, *shapes_and_terms):
    """F = 1/(b_1 + a_2/(b_2 + a_3/(b_3 + ...))) (a_1 = 1) and the derivative of log F in each
    shape parameter, by the forward recurrences A_n = b_n A_{n-1} + a_n A_{n-2} (B_n alike)
    differentiated term by term and rescaled by B_n at every step against overflow.

    `shapes_and_terms` is (p_1, ..., p_k, terms, derivatives): ``terms(n, x, *p)`` gives
    (b_n, a_n) and ``derivatives(n, x, *p)`` gives (db_n/dp_1, da_n/dp_1, ..., for each p)."""
    *shapes, terms, derivatives = shapes_and_terms
    k = len(shapes)
    one, zero = np.ones_like(x), np.zeros_like(x)
    # state: x, the shapes, A_{n-1}, A_{n-2}, B_{n-1}, B_{n-2}; for each shape dA_{n-1}, dA_{n-2},
    # dB_{n-1}, dB_{n-2}; then the last F and its k log-derivatives (A_0 = 0, A_-1 = 1, B_0 = 1, B_-1 = 0)
    state = (x, *shapes, zero, one, one, zero, *([zero] * (4 * k)), zero, *([zero] * k))

    def step(n, x, *rest):
        p = rest[:k]
        num1, num2, den1, den2 = rest[k : k + 4]
        d = rest[k + 4 : 5 * k + 4]
        f_old = rest[5 * k + 4]
        dlog_old = rest[5 * k + 5 :]
        bn, an = terms(n, x, *p)
        if n == 1:
            an = np.ones_like(x)
        partials = derivatives(n, x, *p)
        num0 = bn * num1 + an * num2
        den0 = bn * den1 + an * den2
        new_d, dlog = [], []
        for j in range(k):
            dbn, dan = partials[2 * j], partials[2 * j + 1]
            if n == 1:
                dan = np.zeros_like(x)
            dnum1, dnum2, dden1, dden2 = d[4 * j : 4 * j + 4]
            dnum0 = dbn * num1 + bn * dnum1 + dan * num2 + an * dnum2
            dden0 = dbn * den1 + bn * dden1 + dan * den2 + an * dden2
            new_d.append((dnum0, dnum1, dden0, dden1))
        scale = 1 / den0
        num0, num1, den1 = num0 * scale, num1 * scale, den1 * scale  # den0 becomes 1
        f = num0
        scaled = []
        for dnum0, dnum1, dden0, dden1 in new_d:
            dnum0, dnum1, dden0, dden1 = dnum0 * scale, dnum1 * scale, dden0 * scale, dden1 * scale
            dlog.append((dnum0 - num0 * dden0) / num0)  # d log(A/B) with B = 1
            scaled += [dnum0, dnum1, dden0, dden1]
        converged = np.abs(f - f_old) <= _EPS * np.abs(f)
        for new, old in zip(dlog, dlog_old):
            converged &= np.abs(new - old) <= _EPS * np.abs(new)
        return (x, *p, num0, num1, np.ones_like(x), den1, *scaled, f, *dlog, converged)

    return _iterate(step, state, [5 * k + 6 + j for j in range(k)])


# ----- the incomplete beta function ---------------------------------------------------------


def _beta_terms(n, x, a, b):
    """b_n and a_n of I_x(a, b) = x^a (1-x)^b / (a B(a, b)) / (1 + d_1/(1 + d_2/(1 + ...))):
    b_n = 1, a_{n+1} = d_n, d_{2m+1} = -(a+m)(a+b+m) x / ((a+2m)(a+2m+1)),
    d_{2m} = m(b-m) x / ((a+2m-1)(a+2m))."""
    k = n - 1  # a_n = d_k
    m = k // 2
    if k == 0:  # a_1 = 1, set by the recurrence
        return np.ones_like(x), np.ones_like(x)
    if k % 2:
        d = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
    else:
        d = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
    return np.ones_like(x), d


def _beta_term_derivatives(n, x, a, b):
    """(db_n/da, da_n/da, db_n/db, da_n/db) for `_beta_terms`."""
    k = n - 1
    m = k // 2
    zero = np.zeros_like(x)
    if k % 2:
        d = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
        d_a = d * (1 / (a + m) + 1 / (a + b + m) - 1 / (a + 2 * m) - 1 / (a + 2 * m + 1))
        d_b = -(a + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
    elif k:
        d_a = -m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)) * (1 / (a + 2 * m - 1) + 1 / (a + 2 * m))
        d_b = m * x / ((a + 2 * m - 1) * (a + 2 * m))
    else:
        d_a = d_b = zero
    return zero, d_a, zero, d_b


def _beta_dlog(a, b, x, y):
    """(d log I / da, d log I / db) of I = I_x(a, b), y = 1 - x, for x < (a + 1) / (a + b + 2)."""
    f_a, f_b = _fraction_dlog(x, a, b, _beta_terms, _beta_term_derivatives)
    return np.log(x) + _digamma_step(a, b) + f_a, np.log(y) + _digamma_shift(b, a) + f_b


#: Taylor terms of ψ(p + s) - ψ(p) = Σ ψ^(k)(p) s^k / k!, used where s < p / 20.
_SHIFT_TERMS = 12


def _digamma_shift(p: np.ndarray, s: np.ndarray) -> np.ndarray:
    """ψ(p + s) - ψ(p), without the cancellation of the difference where s ≪ p."""
    out = _sp.digamma(p + s) - _sp.digamma(p)
    small = s < p / 20
    if np.any(small):
        ps, ss = p[small], s[small]
        total, power = np.zeros_like(ps), np.ones_like(ps)
        for k in range(1, _SHIFT_TERMS + 1):
            power = power * ss / k
            total = total + _sp.polygamma(k, ps) * power
        out[small] = total
    return out


def _digamma_step(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """ψ(a + b) - ψ(a) - 1/a = ψ(a + b) - ψ(a + 1), accurate for small a and for b ≪ a."""
    out = _sp.digamma(a + b) - _sp.digamma(a + 1)
    small = b < a / 20
    if np.any(small):
        out[small] = _digamma_shift(a[small], b[small]) - 1 / a[small]
    return out


def betainc_dab(a: np.ndarray, b: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(∂ betainc(a, b, x) / ∂a, ∂ betainc(a, b, x) / ∂b), for a, b > 0 and 0 ≤ x ≤ 1; 0 at
    x = 0 and x = 1, NaN where betainc is."""
    a, b, x = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (a, b, x)))
    with np.errstate(invalid="ignore"):
        return _beta_derivatives(a, b, x, 1 - x, _sp.betainc(a, b, x), _sp.betaincc(a, b, x))


def _beta_derivatives(a, b, x, y, lower, upper):
    """`betainc_dab` given y = 1 - x and the values lower = I_x(a, b), upper = 1 - lower, each
    to full relative precision. Past the mean, from I_x(a, b) = 1 - I_y(b, a)."""
    da, db = np.full(a.shape, np.nan), np.full(a.shape, np.nan)
    valid = (a > 0) & (b > 0) & (x >= 0) & (y >= 0)
    ends = valid & ((x == 0) | (y == 0))
    da[ends] = db[ends] = 0.0
    inner = valid & ~ends
    direct = inner & (x < (a + 1) / (a + b + 2))
    mirrored = inner & ~direct
    if np.any(direct):
        dlog_a, dlog_b = _beta_dlog(a[direct], b[direct], x[direct], y[direct])
        da[direct], db[direct] = lower[direct] * dlog_a, lower[direct] * dlog_b
    if np.any(mirrored):
        dlog_b, dlog_a = _beta_dlog(b[mirrored], a[mirrored], y[mirrored], x[mirrored])
        da[mirrored], db[mirrored] = -upper[mirrored] * dlog_a, -upper[mirrored] * dlog_b
    if da.ndim == 0:
        return da[()], db[()]
    return da, db


def betainc_da(a: np.ndarray, b: np.ndarray, x: np.ndarray) -> np.ndarray:
    """∂ betainc(a, b, x) / ∂a."""
    return betainc_dab(a, b, x)[0]


def betainc_db(a: np.ndarray, b: np.ndarray, x: np.ndarray) -> np.ndarray:
    """∂ betainc(a, b, x) / ∂b."""
    return betainc_dab(a, b, x)[1]


# ----- Student's t distribution function ---------------------------------------------------


def stdtr_ddf(df: np.ndarray, t: np.ndarray) -> np.ndarray:
    """∂ stdtr(df, t) / ∂df, for df > 0; 0 at t = 0, t = ±∞ and df = ∞, NaN where stdtr is."""
    df, t = np.broadcast_arrays(np.asarray(df, dtype=float), np.asarray(t, dtype=float))
    out = np.zeros(df.shape)
    large = (df >= _LARGE_DF) & (df < np.inf) & (t != 0) & (4 * t * t < df)
    if np.any(large):
        out[large] = _stdtr_ddf_by_integral(df[large], t[large])
    rest = ~large & (df > 0) & (df < np.inf) & (t != 0) & np.isfinite(t)
    if np.any(rest):
        out[rest] = _stdtr_ddf_by_beta(df[rest], t[rest])
    out = np.where((t == 0) | np.isinf(t) | (df == np.inf), 0.0, out)
    out = np.where(np.isnan(t) | np.isnan(df) | (df <= 0), np.nan, out)
    return out[()] if out.ndim == 0 else out


def _stdtr_ddf_by_beta(df: np.ndarray, t: np.ndarray) -> np.ndarray:
    """With x = df / (df + t²), stdtr(df, t) = I_x(df/2, 1/2) / 2 for t < 0 and 1 - I_x(df/2, 1/2) / 2
    for t > 0, so the derivative is
    -sign(t) / 2 · (∂_a I_x(df/2, 1/2) / 2 + x^(df/2) (1-x)^(1/2) / (df B(df/2, 1/2))).
    x and 1 - x are both formed from t² / df, never one from the other."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = t * t / df
        x, y = 1 / (1 + ratio), ratio / (1 + ratio)
        a, half = 0.5 * df, np.full(df.shape, 0.5)
        lower, upper = _sp.betainc(a, half, x), _sp.betainc(half, a, y)
        da, _ = _beta_derivatives(a, half, x, y, lower, upper)
        moved = np.exp(-a * np.log1p(ratio) + 0.5 * np.log(y) - np.log(df) - _sp.betaln(a, half))
        return -0.5 * np.sign(t) * (0.5 * da + moved)


# Where df is large, the two terms above (each of order 1/df) cancel to order 1/df², losing
# about 2·log10(df) digits. There, for |t| < sqrt(df)/2, the derivative is instead the integral of
# ∂f/∂df over (0, t) (∫ over (-∞, 0) is 0: stdtr(df, 0) = 1/2 for all df), or minus the integral
# over (t, ∞) where |t| > 2, with ∂ log f/∂df formed in extended precision (np.longdouble: 80-bit
# on x86 Linux; where it is plain double the error is about 1e-16·df rather than 1e-16·df²).

#: Degrees of freedom from which the integral is used.
_LARGE_DF = 200.0
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(80)
#: B_2k / 2k, for the asymptotic series of digamma.
_DIGAMMA_SERIES = [1 / 12, -1 / 120, 1 / 252, -1 / 240, 1 / 132, -691 / 32760, 1 / 12]


def _dlog_t_density_ddf(df: np.ndarray, s: np.ndarray) -> np.ndarray:
    """∂ log f(s; df) / ∂df in extended precision, for df ≥ 200:
    (ψ((df+1)/2) - ψ(df/2) - 1/df - log1p(s²/df) + (df+1) s² / (df (df+s²))) / 2, the digamma
    difference from its asymptotic series, log(1 + 1/df) - 1/df term by term."""
    df, s = np.asarray(df, dtype=np.longdouble), np.asarray(s, dtype=np.longdouble)
    h = 1 / df
    # log1p(h) - h as a series: it is of order h², and log1p(h) - h would cancel
    log_step, power = np.zeros_like(h), h.copy()
    for k in range(2, 12):
        power = power * h
        log_step = log_step + (-1) ** (k + 1) * power / k
    half, half_next = df / 2, (df + 1) / 2
    digamma_step = log_step + 1 / (df * (df + 1))  # ψ((df+1)/2) - ψ(df/2) - 1/df, to the series
    for k, coefficient in enumerate(_DIGAMMA_SERIES, start=1):
        digamma_step = digamma_step + coefficient * (half ** (-2 * k) - half_next ** (-2 * k))
    u = s * s / df
    return (digamma_step - np.log1p(u) + (1 + h) * u / (1 + u)) / 2


#: B_2k / (2k (2k-1)), for Stirling's series of log Γ.
_STIRLING_SERIES = [1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360]


def _t_density(df: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Student's t density for df ≥ 200, in extended precision: its normaliser
    Γ((df+1)/2) / (Γ(df/2) sqrt(π df)) from Stirling's series for the difference of log Γ, which
    neither gammaln (cancelling) nor SciPy's betaln (3e-11 at df = 10**6) give to full precision."""
    df, s = np.asarray(df, dtype=np.longdouble), np.asarray(s, dtype=np.longdouble)
    x = df / 2
    log_gamma_step = x * np.log1p(1 / (2 * x)) + np.log(x) / 2 - np.longdouble(0.5)  # log Γ(x+1/2) - log Γ(x)
    for k, coefficient in enumerate(_STIRLING_SERIES, start=1):
        log_gamma_step = log_gamma_step + coefficient * ((x + 0.5) ** (1 - 2 * k) - x ** (1 - 2 * k))
    log_norm = log_gamma_step - np.log(np.pi * df) / 2
    return np.exp(log_norm - (df + 1) / 2 * np.log1p(s * s / df))


def _stdtr_ddf_by_integral(df: np.ndarray, t: np.ndarray) -> np.ndarray:
    """∂ stdtr(df, t) / ∂df for df ≥ 200 and 0 < |t| < sqrt(df)/2, by Gauss-Legendre quadrature
    of ∂f/∂df = f · ∂ log f/∂df: over (0, |t|) for |t| ≤ 2, minus over (|t|, |t| + L) beyond, L
    where the density has fallen by e^-45 or more."""
    size = np.abs(t)
    rate = (df + 1) * size / (df + size * size)  # -d log f / ds at |t|
    tail = size > 2
    start = np.where(tail, size, 0.0)
    length = np.where(tail, np.minimum(45 / np.maximum(rate, 1e-300), 12.0), size)
    s = start[:, None] + length[:, None] * (_NODES[None, :] + 1) / 2
    integrand = _t_density(df[:, None], s) * _dlog_t_density_ddf(df[:, None], s)
    integral = (length / 2) * np.sum(_WEIGHTS[None, :] * integrand, axis=1)
    return np.sign(t) * np.where(tail, -integral, integral).astype(float)
