# ruff: noqa: E501  (a table: one case a line, as SciPy documents its ranges)
"""Every function of lagrad.scipy against SciPy's own, over the parameter ranges SciPy
documents (issue 16.3): the value first, on traced inputs (the path whose derivative is
taken) and to SciPy's precision; then the derivative against finite differences, in both
modes, at the points of that range where the function is smooth.

`test_every_function_is_swept` fails when a function is added to lagrad.scipy without a
case here."""

from __future__ import annotations

import types
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import scipy.linalg
import scipy.signal
import scipy.special
import scipy.stats

import lagrad
import lagrad.scipy.linalg
import lagrad.scipy.signal
import lagrad.scipy.special
import lagrad.scipy.stats
from lagrad.testing import check_grads

SCIPY = types.SimpleNamespace(special=scipy.special, stats=scipy.stats, linalg=scipy.linalg, signal=scipy.signal)
LAGRAD = types.SimpleNamespace(
    special=lagrad.scipy.special, stats=lagrad.scipy.stats, linalg=lagrad.scipy.linalg, signal=lagrad.scipy.signal
)


@dataclass
class Case:
    """`call(s, *args)` with `s` SciPy's or lagrad's modules; `diff`: the positions of the
    arguments differentiated (the others are held fixed: orders, shape parameters without a
    derivative, integer counts); `rtol`: the agreement of the values; `fd`: the arguments
    for the finite differences, where `args` reaches closer to an end of the range than
    the step of 1e-6 (or to where the value underflows, as SciPy's does)."""

    function: str
    label: str
    call: Any
    args: tuple[Any, ...]
    diff: tuple[int, ...] = (0,)
    rtol: float = 1e-12
    fd: tuple[Any, ...] | None = None


def a(*values: float) -> np.ndarray:
    return np.array(values, dtype=np.float64)


RNG = np.random.default_rng(163)
SPD = (lambda m: m @ m.T + 4 * np.eye(4))(RNG.standard_normal((4, 4)))
GENERAL = RNG.standard_normal((4, 4)) + 4 * np.eye(4)
RHS = RNG.standard_normal((4, 2))
UPPER = np.triu(GENERAL)
COV = SPD / 4

S = "special"
CASES: list[Case] = [
    # ----- gamma and its relatives: poles at 0, -1, -2, ...; gammaln is log|Γ| ---------------------------
    Case(f"{S}.gamma", "(-4, 171)", lambda s, x: s.special.gamma(x), (a(-3.7, -2.2, -0.5, 0.01, 0.7, 3.3, 25.0, 170.5),)),
    Case(f"{S}.gammaln", "(-4, 1e6)", lambda s, x: s.special.gammaln(x), (a(-3.7, -0.5, 1e-8, 0.7, 3.3, 1e3, 1e6),),
         fd=(a(-3.7, -0.5, 0.7, 3.3, 1e3),)),
    Case(f"{S}.digamma", "(-4, 1e6)", lambda s, x: s.special.digamma(x), (a(-3.7, -0.5, 1e-3, 0.7, 3.3, 1e3, 1e6),)),
    Case(f"{S}.psi", "(-4, 1e6)", lambda s, x: s.special.psi(x), (a(-3.7, -0.5, 1e-3, 0.7, 1e6),)),
    Case(f"{S}.polygamma", "n = 0…3", lambda s, x: sum(s.special.polygamma(n, x) for n in range(4)),
         (a(-2.5, -0.5, 0.3, 1.7, 40.0),), rtol=1e-10),
    Case(f"{S}.multigammaln", "d = 3", lambda s, x: s.special.multigammaln(x, 3), (a(1.01, 1.7, 4.0, 300.0),)),
    Case(f"{S}.beta", "a, b > 0", lambda s, x, y: s.special.beta(x, y), (a(0.2, 1.5, 7.0, 40.0), a(0.3, 2.5, 0.9, 60.0)),
         (0, 1), rtol=1e-10),
    Case(f"{S}.betaln", "a, b > 0", lambda s, x, y: s.special.betaln(x, y),
         (a(0.2, 1.5, 7.0, 400.0, 1e5), a(0.3, 2.5, 0.9, 60.0, 3e4)), (0, 1),
         fd=(a(0.2, 1.5, 7.0, 400.0), a(0.3, 2.5, 0.9, 60.0))),
    # ----- error functions and the normal distribution ----------------------------------------------
    Case(f"{S}.erf", "R", lambda s, x: s.special.erf(x), (a(-6.0, -1.3, -1e-9, 0.0, 0.4, 2.0, 30.0),)),
    Case(f"{S}.erfc", "R", lambda s, x: s.special.erfc(x), (a(-6.0, -0.3, 0.0, 2.0, 10.0, 26.0),)),
    Case(f"{S}.erfcx", "R", lambda s, x: s.special.erfcx(x), (a(-5.0, -0.3, 0.0, 2.0, 50.0, 1e5),)),
    Case(f"{S}.erfinv", "(-1, 1)", lambda s, x: s.special.erfinv(x), (a(-0.999999, -0.5, 0.0, 0.3, 0.99),),
         fd=(a(-0.99, -0.5, 0.0, 0.3, 0.9),)),
    Case(f"{S}.erfcinv", "(0, 2)", lambda s, x: s.special.erfcinv(x), (a(1e-10, 0.01, 0.7, 1.0, 1.9),), fd=(a(0.01, 0.7, 1.0, 1.9),)),
    Case(f"{S}.ndtr", "R", lambda s, x: s.special.ndtr(x), (a(-37.0, -8.0, -1.0, 0.0, 2.0, 8.0),)),
    Case(f"{S}.log_ndtr", "R", lambda s, x: s.special.log_ndtr(x), (a(-1e3, -40.0, -3.0, 0.0, 5.0, 30.0),)),
    Case(f"{S}.ndtri", "(0, 1)", lambda s, x: s.special.ndtri(x), (a(1e-300, 1e-10, 0.2, 0.5, 0.9, 1 - 1e-12),),
         fd=(a(1e-3, 0.2, 0.5, 0.9, 0.999),)),
    # ----- logistic -------------------------------------------------------------------------------
    Case(f"{S}.expit", "R", lambda s, x: s.special.expit(x), (a(-700.0, -30.0, -1.0, 0.0, 2.0, 40.0, 700.0),)),
    Case(f"{S}.log_expit", "R", lambda s, x: s.special.log_expit(x), (a(-700.0, -30.0, -1.0, 0.0, 2.0, 40.0, 700.0),)),
    Case(f"{S}.logit", "(0, 1)", lambda s, x: s.special.logit(x), (a(1e-12, 0.1, 0.5, 0.8, 1 - 1e-9),), fd=(a(1e-3, 0.1, 0.5, 0.8, 0.999),)),
    # ----- information theory: x log x with 0 log 0 = 0 -------------------------------------------------
    Case(f"{S}.entr", "x > 0", lambda s, x: s.special.entr(x), (a(1e-12, 0.3, 1.0, 5.0, 1e8),), fd=(a(1e-3, 0.3, 1.0, 5.0, 1e3),)),
    Case(f"{S}.rel_entr", "x, y > 0", lambda s, x, y: s.special.rel_entr(x, y), (a(1e-9, 0.3, 2.0, 50.0), a(0.5, 1e-6, 2.0, 3.0)),
         (0, 1), fd=(a(1e-3, 0.3, 2.0, 50.0), a(0.5, 1e-2, 2.0, 3.0))),
    Case(f"{S}.kl_div", "x, y > 0", lambda s, x, y: s.special.kl_div(x, y), (a(1e-9, 0.3, 2.0, 50.0), a(0.5, 1e-6, 2.0, 3.0)),
         (0, 1), fd=(a(1e-3, 0.3, 2.0, 50.0), a(0.5, 1e-2, 2.0, 3.0))),
    Case(f"{S}.xlogy", "x in R, y > 0", lambda s, x, y: s.special.xlogy(x, y), (a(-2.0, 0.5, 3.0, 1e3), a(0.1, 1e-8, 2.0, 1e5)),
         (0, 1), fd=(a(-2.0, 0.5, 3.0, 1e3), a(0.1, 1e-3, 2.0, 1e3))),
    Case(f"{S}.xlog1py", "x in R, y > -1", lambda s, x, y: s.special.xlog1py(x, y),
         (a(-2.0, 0.5, 3.0, 1e3), a(-0.9, 1e-10, 2.0, 1e5)), (0, 1)),
    # ----- modified Bessel functions -----------------------------------------------------------------
    Case(f"{S}.i0", "R", lambda s, x: s.special.i0(x), (a(-700.0, -3.0, -0.1, 0.5, 20.0, 700.0),)),
    Case(f"{S}.i1", "R", lambda s, x: s.special.i1(x), (a(-700.0, -3.0, -0.1, 0.5, 20.0, 700.0),), rtol=1e-11),
    Case(f"{S}.i0e", "R", lambda s, x: s.special.i0e(x), (a(-1e4, -3.0, -0.1, 0.5, 20.0, 1e6),)),
    Case(f"{S}.i1e", "R", lambda s, x: s.special.i1e(x), (a(-1e4, -3.0, -0.1, 0.5, 20.0, 1e6),), rtol=1e-11),
    Case(f"{S}.iv", "v real, z > 0", lambda s, v, z: s.special.iv(v, z), (a(-2.5, 0.0, 1.5, 10.0, 3.0), a(0.3, 4.0, 1.0, 30.0, 600.0)),
         (1,), rtol=1e-10),
    Case(f"{S}.iv", "integer v, z < 0", lambda s, v, z: s.special.iv(v, z), (a(0.0, 1.0, 2.0, 5.0), a(-0.3, -4.0, -1.0, -30.0)),
         (1,), rtol=1e-10),
    Case(f"{S}.ive", "v real, z > 0", lambda s, v, z: s.special.ive(v, z), (a(-2.5, 0.0, 1.5, 10.0, 3.0), a(0.3, 4.0, 1.0, 30.0, 1e5)),
         (1,), rtol=1e-10),
    # ----- incomplete gamma and beta functions (in x; shapes held fixed: issue 16.12) ----------------------
    Case(f"{S}.gammainc", "a > 0, x >= 0", lambda s, p, x: s.special.gammainc(p, x), (a(0.1, 1.0, 3.5, 50.0, 1e3), a(1e-3, 2.0, 0.5, 60.0, 1e3)),
         (1,), rtol=1e-10),
    Case(f"{S}.gammaincc", "a > 0, x >= 0", lambda s, p, x: s.special.gammaincc(p, x), (a(0.1, 1.0, 3.5, 50.0, 1e3), a(1e-3, 2.0, 0.5, 60.0, 1e3)),
         (1,), rtol=1e-10),
    Case(f"{S}.gammaincinv", "a > 0, y in (0, 1)", lambda s, p, y: s.special.gammaincinv(p, y),
         (a(0.1, 1.0, 3.5, 50.0), a(0.01, 0.5, 0.3, 0.999)), (1,), rtol=1e-10),
    Case(f"{S}.gammainccinv", "a > 0, y in (0, 1)", lambda s, p, y: s.special.gammainccinv(p, y),
         (a(0.1, 1.0, 3.5, 50.0), a(0.01, 0.5, 0.3, 0.999)), (1,), rtol=1e-10),
    Case(f"{S}.betainc", "a, b > 0, x in [0, 1]", lambda s, p, q, x: s.special.betainc(p, q, x),
         (a(0.2, 1.0, 2.5, 40.0), a(0.5, 3.0, 1.0, 30.0), a(0.01, 0.4, 0.9, 0.6)), (2,), rtol=1e-10),
    Case(f"{S}.betaincc", "a, b > 0, x in [0, 1]", lambda s, p, q, x: s.special.betaincc(p, q, x),
         (a(0.2, 1.0, 2.5, 40.0), a(0.5, 3.0, 1.0, 30.0), a(0.01, 0.4, 0.9, 0.6)), (2,), rtol=1e-10),
    Case(f"{S}.betaincinv", "a, b > 0, y in (0, 1)", lambda s, p, q, y: s.special.betaincinv(p, q, y),
         (a(0.2, 1.0, 2.5, 40.0), a(0.5, 3.0, 1.0, 30.0), a(0.01, 0.4, 0.9, 0.6)), (2,), rtol=1e-10),
    Case(f"{S}.betainccinv", "a, b > 0, y in (0, 1)", lambda s, p, q, y: s.special.betainccinv(p, q, y),
         (a(0.2, 1.0, 2.5, 40.0), a(0.5, 3.0, 1.0, 30.0), a(0.01, 0.4, 0.9, 0.6)), (2,), rtol=1e-10),
    Case(f"{S}.stdtr", "df > 0, t in R", lambda s, df, t: s.special.stdtr(df, t),
         (a(0.5, 1.0, 3.0, 30.0, 1e4), a(-40.0, 0.3, 2.0, -1.0, 5.0)), (1,), rtol=1e-10),
    Case(f"{S}.stdtrit", "df > 0, p in (0, 1)", lambda s, df, p: s.special.stdtrit(df, p),
         (a(0.5, 1.0, 3.0, 30.0, 1e4), a(0.01, 0.3, 0.5, 0.9, 0.999)), (1,), rtol=1e-10),
    # ----- normalisers ----------------------------------------------------------------------------------
    Case(f"{S}.logsumexp", "large a", lambda s, x: s.special.logsumexp(x), (a(-800.0, 700.0, 699.0, 1.0),)),
    Case(f"{S}.logsumexp", "axis, keepdims", lambda s, x: s.special.logsumexp(x, axis=1, keepdims=True),
         (RNG.standard_normal((3, 4)),)),
    Case(f"{S}.logsumexp", "b of both signs (issue 16.3)", lambda s, x, b: s.special.logsumexp(x, b=b),
         (a(2.0, 1.0, 0.5, -1.0), a(1.0, -1.0, 0.3, -0.2)), (0, 1)),
    Case(f"{S}.logsumexp", "b with zeros, axis", lambda s, x, b: s.special.logsumexp(x, axis=0, b=b),
         (RNG.standard_normal((3, 2)), np.array([[1.0, 0.0], [0.5, 2.0], [0.0, 0.3]])), (0, 1)),
    Case(f"{S}.logsumexp", "return_sign, a negative sum", lambda s, x, b: s.special.logsumexp(x, b=b, return_sign=True)[0],
         (a(2.0, 1.0, 0.5), a(-1.0, 0.5, 0.3)), (0, 1)),
    Case(f"{S}.logsumexp", "return_sign: the sign", lambda s, x, b: s.special.logsumexp(x, axis=1, b=b, return_sign=True)[1],
         (RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))), ()),
    Case(f"{S}.logsumexp", "a negative sum is NaN", lambda s, x, b: s.special.logsumexp(x, b=b), (a(2.0, 1.0), a(-1.0, 0.5)), ()),
    Case(f"{S}.softmax", "large x", lambda s, x: s.special.softmax(x), (a(-800.0, 700.0, 699.0, 1.0),)),
    Case(f"{S}.softmax", "axis", lambda s, x: s.special.softmax(x, axis=0), (RNG.standard_normal((3, 4)),)),
    Case(f"{S}.log_softmax", "large x", lambda s, x: s.special.log_softmax(x), (a(-800.0, 700.0, 699.0, 1.0),)),
    Case(f"{S}.log_softmax", "axis", lambda s, x: s.special.log_softmax(x, axis=1), (RNG.standard_normal((3, 4)),)),
]  # fmt: skip

# ----- distributions: every method, across the support and the parameters -----------------------------
_X = {
    "norm": a(-38.0, -5.0, -0.4, 0.0, 1.3, 9.0, 38.0),
    "t": a(-1e3, -5.0, -0.4, 0.0, 1.3, 9.0, 1e3),
    "gamma": a(1e-8, 0.3, 1.2, 4.0, 40.0, 500.0),
    "beta": a(1e-9, 0.01, 0.3, 0.7, 0.99, 1 - 1e-9),
}
_Q = a(0.1, 0.3, 0.5, 0.8, 0.98)  # the derivatives are checked at these quantiles: the bulk
_PARAMETERS = {  # shape parameters (held fixed), loc, scale
    "norm": [((), 0.0, 1.0), ((), 1.5, 0.2), ((), -1e3, 40.0)],
    "t": [((0.7,), 0.0, 1.0), ((3.5,), 0.5, 2.0), ((1e4,), -1.0, 0.5)],
    "gamma": [((0.3,), 0.0, 1.0), ((2.5,), 0.0, 3.0), ((150.0,), -1e-9, 2.0)],
    "beta": [((0.4, 0.6), 0.0, 1.0), ((2.5, 1.5), 0.0, 1.0), ((60.0, 40.0), 0.0, 1.0)],
}
for _name, _params in _PARAMETERS.items():
    for _shapes, _loc, _scale in _params:
        _at = f"{_shapes} loc={_loc} scale={_scale}"
        for _method in ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"):
            CASES.append(Case(
                f"stats.{_name}.{_method}", _at,
                lambda s, x, loc, scale, n=_name, m=_method, sh=_shapes: getattr(getattr(s.stats, n), m)(x, *sh, loc, scale),
                (_X[_name] * _scale + _loc, np.float64(_loc), np.float64(_scale)), (0, 1, 2), rtol=1e-9,
                fd=(getattr(scipy.stats, _name).ppf(_Q, *_shapes, _loc, _scale), np.float64(_loc), np.float64(_scale)),
            ))  # fmt: skip
        for _method in ("ppf", "isf"):
            CASES.append(Case(
                f"stats.{_name}.{_method}", _at,
                lambda s, q, loc, scale, n=_name, m=_method, sh=_shapes: getattr(getattr(s.stats, n), m)(q, *sh, loc, scale),
                (a(1e-12, 0.02, 0.3, 0.5, 0.8, 1 - 1e-9), np.float64(_loc), np.float64(_scale)), (0, 1, 2), rtol=1e-9,
                fd=(_Q, np.float64(_loc), np.float64(_scale)),
            ))  # fmt: skip
for _method in ("logpmf", "pmf", "cdf", "logcdf", "sf", "logsf"):
    CASES.append(Case(
        f"stats.poisson.{_method}", "k >= 0, mu > 0",
        lambda s, k, mu, m=_method: getattr(s.stats.poisson, m)(k, mu),
        (a(0.0, 1.0, 3.0, 10.0, 400.0), a(1e-3, 2.5, 3.0, 40.0, 380.0)), (1,),
        # SciPy's logsf takes log(sf) where sf is near 1: lagrad's log1p(-cdf) is the closer to mpmath
        rtol=1e-8 if _method in ("logcdf", "logsf") else 1e-9,
    ))  # fmt: skip
_SIMPLEX = np.array([[0.2, 0.5, 0.3], [1e-6, 0.5, 0.5 - 1e-6]]).T
for _method in ("logpdf", "pdf"):
    CASES.append(Case(
        f"stats.dirichlet.{_method}", "alpha > 0", lambda s, x, alpha, m=_method: getattr(s.stats.dirichlet, m)(x, alpha),
        (_SIMPLEX, a(0.5, 2.0, 30.0)), (1,), rtol=1e-9,
    ))  # fmt: skip
    CASES.append(Case(
        f"stats.multivariate_normal.{_method}", "SPD cov",
        lambda s, x, mean, cov, m=_method: getattr(s.stats.multivariate_normal, m)(x, mean, cov),
        (RNG.standard_normal((5, 4)), RNG.standard_normal(4), COV), (0, 1, 2), rtol=1e-10,
    ))  # fmt: skip

# ----- linear algebra and signal processing ---------------------------------------------------------------
L = "linalg"
CASES += [
    Case(f"{L}.cholesky", "SPD, upper", lambda s, m: s.linalg.cholesky(m), (SPD,)),
    Case(f"{L}.cholesky", "SPD, lower", lambda s, m: s.linalg.cholesky(m, lower=True), (SPD,)),
    Case(f"{L}.cho_factor", "SPD", lambda s, m: s.linalg.cho_factor(m)[0], (SPD,)),
    Case(f"{L}.cho_solve", "SPD", lambda s, m, b: s.linalg.cho_solve(s.linalg.cho_factor(m, lower=True), b), (SPD, RHS), (0, 1)),
    Case(f"{L}.lu_factor", "general", lambda s, m: s.linalg.lu_factor(m)[0], (GENERAL,)),
    Case(f"{L}.lu_solve", "general", lambda s, m, b: s.linalg.lu_solve(s.linalg.lu_factor(m), b), (GENERAL, RHS), (0, 1)),
    Case(f"{L}.lu_solve", "trans=1", lambda s, m, b: s.linalg.lu_solve(s.linalg.lu_factor(m), b, trans=1), (GENERAL, RHS), (0, 1)),
    Case(f"{L}.solve", "general", lambda s, m, b: s.linalg.solve(m, b), (GENERAL, RHS), (0, 1)),
    Case(f"{L}.solve", "assume_a='pos'", lambda s, m, b: s.linalg.solve(m, b, assume_a="pos"), (SPD, RHS), (0, 1)),
    Case(f"{L}.solve_triangular", "upper", lambda s, m, b: s.linalg.solve_triangular(m, b), (UPPER, RHS), (0, 1)),
    Case(f"{L}.solve_triangular", "lower, trans", lambda s, m, b: s.linalg.solve_triangular(m.T, b, lower=True, trans=1),
         (UPPER, RHS), (0, 1)),
    Case(f"{L}.inv", "general", lambda s, m: s.linalg.inv(m), (GENERAL,)),
    Case(f"{L}.det", "general", lambda s, m: s.linalg.det(m), (GENERAL,)),
    Case(f"{L}.expm", "general", lambda s, m: s.linalg.expm(m), (GENERAL / 4,), rtol=1e-10),
    Case(f"{L}.sqrtm", "SPD", lambda s, m: s.linalg.sqrtm(m), (SPD,), rtol=1e-10),
    Case(f"{L}.solve_sylvester", "general", lambda s, m, q, c: s.linalg.solve_sylvester(m, q, c),
         (GENERAL, SPD, RNG.standard_normal((4, 4))), (0, 1, 2), rtol=1e-10),
    *[
        Case(f"signal.{f}", f"mode={mode}", lambda s, x, w, f=f, mode=mode: getattr(s.signal, f)(x, w, mode=mode),
             (RNG.standard_normal(7), RNG.standard_normal(3)), (0, 1))
        for f in ("convolve", "correlate") for mode in ("full", "same", "valid")
    ],
    *[
        Case(f"signal.{f}", "2-d, fft", lambda s, x, w, f=f: getattr(s.signal, f)(x, w, method="fft"),
             (RNG.standard_normal((4, 5)), RNG.standard_normal((2, 3))), (0, 1), rtol=1e-10)
        for f in ("convolve", "correlate")
    ],
]  # fmt: skip


def _id(case: Case) -> str:
    return f"{case.function} {case.label}"


def _traced_value(case: Case) -> Any:
    """The lagrad function's value on traced inputs (the derivative's path): those
    differentiated, or every float argument where none is."""
    floats = case.diff or [i for i, x in enumerate(case.args) if np.asarray(x).dtype.kind == "f"]

    def f(*xs):
        args = list(case.args)
        for i, x in zip(floats, xs):
            args[i] = x
        return case.call(LAGRAD, *args)

    return lagrad.vjp(f, *[case.args[i] for i in floats])[0]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # SciPy's own, at the ends of the ranges
@pytest.mark.parametrize("case", CASES, ids=_id)
def test_value_as_scipy(case: Case) -> None:
    expected = case.call(SCIPY, *case.args)
    for got in (case.call(LAGRAD, *case.args), lagrad.value(_traced_value(case))):
        assert np.shape(got) == np.shape(expected)
        np.testing.assert_allclose(got, expected, rtol=case.rtol, atol=0, equal_nan=True)


@pytest.mark.parametrize("case", [c for c in CASES if c.diff], ids=_id)
def test_derivative_against_finite_differences(case: Case) -> None:
    at = case.fd or case.args

    def f(*xs):
        args = list(at)
        for i, x in zip(case.diff, xs):
            args[i] = x
        return case.call(LAGRAD, *args)

    check_grads(f, *[at[i] for i in case.diff], order=1, rtol=1e-5, atol=1e-8)


def test_every_function_is_swept() -> None:
    swept = {c.function.split(".")[0] + "." + c.function.split(".")[1] for c in CASES}
    for module in ("special", "stats", "linalg", "signal"):
        names = getattr(LAGRAD, module).__all__
        missing = {f"{module}.{n}" for n in names} - swept
        assert not missing, f"add cases for {sorted(missing)}"
