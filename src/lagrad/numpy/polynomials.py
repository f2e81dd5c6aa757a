"""Polynomials and statistics of pairs: NumPy's poly* functions (polyval, polyfit, polyder,
polyint, polyadd, polysub, polymul, poly, vander), the ``numpy.polynomial`` families'
``*vander``/``*val``/``*fit`` functions, and cov/corrcoef with frequency and analytic weights.

All are compositions: Horner's rule, recurrences for the Vandermonde-like matrices of each
basis, least squares (``linalg.lstsq``) for fits, and `average` for weighted moments, so
every derivative (in the coefficients, the points, the data and the weights) comes from the
rules of those parts. On plain arrays each function is NumPy's own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy import polynomial as _npoly

from . import linalg as _linalg
from . import manipulation as _shape
from . import products as _products
from . import reductions as _red
from ._register import array_like, function, holds_traced
from .indexing import diag
from .ufuncs import clip, conjugate, real, sqrt

__all__ = [
    "corrcoef",
    "cov",
    "poly",
    "polyadd",
    "polyder",
    "polyfit",
    "polyint",
    "polymul",
    "polysub",
    "polyval",
    "vander",
]


def _coefficients(name: str, p: Any) -> Any:
    p = _shape.atleast_1d(array_like(p))
    if len(_shape.shape_of(p)) != 1:
        raise ValueError(f"lagrad.numpy.{name}: the coefficients must be a 1-d array")
    return p


# ----- numpy.poly*: coefficients from the highest power down ----------------------------------


@function(np.polyval)
def polyval(p: Any, x: Any) -> Any:
    """p[0]·x^(n−1) + … + p[n−1], by Horner's rule."""
    if not holds_traced((p, x)):
        return np.polyval(p, x)
    p, x = array_like(p), array_like(x)
    y = x * 0.0
    for k in range(_shape.shape_of(p)[0]):
        y = y * x + p[k]
    return y


@function(np.polyder)
def polyder(p: Any, m: int = 1) -> Any:
    """The m-th derivative's coefficients."""
    if not holds_traced(p):
        return np.polyder(p, m)
    if m < 0:
        raise ValueError("lagrad.numpy.polyder: Order of derivative must be positive (see polyint)")
    p = _coefficients("polyder", p)
    for _ in range(m):
        n = _shape.shape_of(p)[0] - 1
        p = p[:-1] * np.arange(n, 0, -1) if n > 0 else p[:0] * 0.0 + np.zeros(1)
    return p


@function(np.polyint)
def polyint(p: Any, m: int = 1, k: Any = None) -> Any:
    """The m-th antiderivative's coefficients, with integration constants `k` (zeros by default)."""
    if not holds_traced((p, k)):
        return np.polyint(p, m, k)
    if m < 0:
        raise ValueError("lagrad.numpy.polyint: Order of integral must be positive (see polyder)")
    p = _coefficients("polyint", p)
    k = np.zeros(m) if k is None else _shape.atleast_1d(array_like(k))
    if _shape.shape_of(k)[0] == 1 and m > 1:
        k = _shape.broadcast_to(k, (m,))
    for j in range(m):
        n = _shape.shape_of(p)[0]
        p = _shape.concatenate([p / np.arange(n, 0, -1), _shape.reshape(k[j], (1,))])
    return p


def _aligned(a1: Any, a2: Any) -> tuple[Any, Any]:
    a1, a2 = _coefficients("polyadd", a1), _coefficients("polyadd", a2)
    n1, n2 = _shape.shape_of(a1)[0], _shape.shape_of(a2)[0]
    if n1 < n2:
        a1 = _shape.pad(a1, (n2 - n1, 0))
    elif n2 < n1:
        a2 = _shape.pad(a2, (n1 - n2, 0))
    return a1, a2


@function(np.polyadd)
def polyadd(a1: Any, a2: Any) -> Any:
    """The sum of two polynomials (the shorter padded at the high end)."""
    if not holds_traced((a1, a2)):
        return np.polyadd(a1, a2)
    a1, a2 = _aligned(a1, a2)
    return a1 + a2


@function(np.polysub)
def polysub(a1: Any, a2: Any) -> Any:
    """The difference of two polynomials."""
    if not holds_traced((a1, a2)):
        return np.polysub(a1, a2)
    a1, a2 = _aligned(a1, a2)
    return a1 - a2


@function(np.polymul)
def polymul(a1: Any, a2: Any) -> Any:
    """The product of two polynomials: the convolution of their coefficients."""
    if not holds_traced((a1, a2)):
        return np.polymul(a1, a2)
    return _products.convolve(_coefficients("polymul", a1), _coefficients("polymul", a2))


@function(np.poly)
def poly(seq_of_zeros: Any) -> Any:
    """The monic polynomial with the given roots (a 1-d sequence of them)."""
    if not holds_traced(seq_of_zeros):
        return np.poly(seq_of_zeros)
    roots = array_like(seq_of_zeros)
    if len(_shape.shape_of(roots)) != 1:
        raise TypeError(
            "lagrad.numpy.poly: on traced values give the roots as a 1-d array (for a matrix's "
            "characteristic polynomial, pass lagrad.numpy.linalg.eigvals(a))"
        )
    a: Any = np.ones(1)
    for j in range(_shape.shape_of(roots)[0]):
        a = _products.convolve(a, _shape.stack([np.ones(()), -roots[j]]))
    return a


def _powers(x: Any, n: int) -> list[Any]:
    """1, x, x², …, x^(n−1) by repeated products (no 0·∞ at x = 0)."""
    cols = [x * 0.0 + 1.0]
    for _ in range(1, n):
        cols.append(cols[-1] * x)
    return cols[:n]


@function(np.vander)
def vander(x: Any, N: Any = None, increasing: bool = False) -> Any:
    """The Vandermonde matrix: columns x^(N−1), …, x, 1 (reversed with `increasing`)."""
    if not holds_traced(x):
        return np.vander(x, N, increasing)
    x = array_like(x)
    if len(_shape.shape_of(x)) != 1:
        raise ValueError("lagrad.numpy.vander: x must be a one-dimensional array or sequence.")
    n = _shape.shape_of(x)[0] if N is None else int(N)
    cols = _powers(x, n)
    if not n:
        return np.zeros((_shape.shape_of(x)[0], 0))
    return _shape.stack(cols if increasing else cols[::-1], axis=1)


def _least_squares(lhs: Any, rhs: Any, rcond: Any) -> Any:
    """NumPy's fit: columns scaled to unit norm, lstsq, the scale undone."""
    scale = sqrt(_red.sum(lhs * lhs, axis=0))
    scale = scale + (_red.plain_value(scale) == 0)
    c = _linalg.lstsq(lhs / scale, rhs, rcond)[0]
    return _shape.transpose(_shape.transpose(c) / scale)


def _fit_inputs(name: str, x: Any, y: Any, deg: Any, w: Any, full: bool, cov: Any) -> tuple[Any, Any, int]:
    if full or (cov is not False and cov is not None):
        raise TypeError(f"lagrad.numpy.{name}: full= and cov= are not supported on traced values")
    deg = int(deg)
    if deg < 0:
        raise ValueError(f"lagrad.numpy.{name}: expected deg >= 0")
    x, y = array_like(x) * 1.0, array_like(y) * 1.0
    if len(_shape.shape_of(x)) != 1:
        raise TypeError(f"lagrad.numpy.{name}: expected 1D vector for x")
    if _shape.shape_of(x)[0] != _shape.shape_of(y)[0]:
        raise TypeError(f"lagrad.numpy.{name}: expected x and y to have same length")
    return x, y, deg


def _weighted(lhs: Any, rhs: Any, w: Any) -> tuple[Any, Any]:
    if w is None:
        return lhs, rhs
    w = array_like(w)
    return lhs * _shape.reshape(w, (-1, 1)), rhs * (w if len(_shape.shape_of(rhs)) == 1 else _shape.reshape(w, (-1, 1)))


@function(np.polyfit)
def polyfit(x: Any, y: Any, deg: Any, rcond: Any = None, full: bool = False, w: Any = None, cov: Any = False) -> Any:
    """Least-squares polynomial coefficients (highest power first), differentiable in x, y and w."""
    if not holds_traced((x, y, w)):
        return np.polyfit(x, y, deg, rcond, full, w, cov)
    x, y, deg = _fit_inputs("polyfit", x, y, deg, w, full, cov)
    lhs, rhs = _weighted(vander(x, deg + 1), y, w)
    return _least_squares(lhs, rhs, rcond)


# ----- numpy.polynomial: coefficients from the lowest power up, one basis per family -----------


def _polyvander_columns(x: Any, n: int) -> list[Any]:
    return _powers(x, n)


def _three_term(first: Callable[[Any], Any], step: Callable[[Any, Any, Any, int], Any]) -> Callable[..., list[Any]]:
    """Columns P_0 = 1, P_1 = first(x), P_k = step(x, P_(k−1), P_(k−2), k)."""

    def columns(x: Any, n: int) -> list[Any]:
        cols = [x * 0.0 + 1.0, first(x)]
        for k in range(2, n):
            cols.append(step(x, cols[-1], cols[-2], k))
        return cols[:n]

    return columns


# The three-term recurrences of each basis: P_1 from x, P_k from P_(k-1) = p and P_(k-2) = q.
# fmt: off
_FAMILIES: dict[str, tuple[Any, Callable[..., list[Any]]]] = {
    "poly":  (_npoly.polynomial, _polyvander_columns),
    "cheb":  (_npoly.chebyshev, _three_term(lambda x: x,     lambda x, p, q, k: 2 * x * p - q)),
    "leg":   (_npoly.legendre,  _three_term(lambda x: x,     lambda x, p, q, k: ((2*k - 1) * x * p - (k - 1) * q) / k)),
    "herm":  (_npoly.hermite,   _three_term(lambda x: 2*x,   lambda x, p, q, k: 2 * x * p - 2 * (k - 1) * q)),
    "herme": (_npoly.hermite_e, _three_term(lambda x: x,     lambda x, p, q, k: x * p - (k - 1) * q)),
    "lag":   (_npoly.laguerre,  _three_term(lambda x: 1 - x, lambda x, p, q, k: ((2*k - 1 - x) * p - (k - 1) * q) / k)),
}
# fmt: on


def _make_family(prefix: str) -> dict[str, Callable[..., Any]]:
    module, columns = _FAMILIES[prefix]
    theirs_vander = getattr(module, f"{prefix}vander")
    theirs_val = getattr(module, f"{prefix}val")
    theirs_fit = getattr(module, f"{prefix}fit")

    def vander_(x: Any, deg: Any) -> Any:
        if not holds_traced(x):
            return theirs_vander(x, deg)
        x = array_like(x) * 1.0
        return _shape.stack(columns(x, int(deg) + 1), axis=-1)

    def val(x: Any, c: Any, tensor: bool = True) -> Any:
        if not holds_traced((x, c)):
            return theirs_val(x, c, tensor)
        c = _shape.atleast_1d(array_like(c)) * 1.0
        x = array_like(x)
        n = _shape.shape_of(c)[0]
        extra = len(_shape.shape_of(c)) - 1
        if tensor:
            x = _shape.reshape(x, _shape.shape_of(x) + (1,) * extra)
        terms = columns(x, n)
        total = terms[0] * c[0]
        for k in range(1, n):
            total = total + terms[k] * c[k]
        return total

    def fit(x: Any, y: Any, deg: Any, rcond: Any = None, full: bool = False, w: Any = None) -> Any:
        if not holds_traced((x, y, w)):
            return theirs_fit(x, y, deg, rcond, full, w)
        x, y, deg = _fit_inputs(f"polynomial.{prefix}fit", x, y, deg, w, full, None)
        lhs, rhs = _weighted(vander_(x, deg), y, w)
        return _least_squares(lhs, rhs, rcond)

    for f, what in ((vander_, "vander"), (val, "val"), (fit, "fit")):
        f.__name__ = f"{prefix}{what}"
        f.__qualname__ = f.__name__
        f.__doc__ = f"numpy.polynomial's {prefix}{what}, differentiable (on plain values NumPy's own)."
    return {"vander": vander_, "val": val, "fit": fit}


#: ``lagrad.numpy.polynomial.<family>.<prefix>{vander,val,fit}``, by family prefix.
FAMILIES = {prefix: _make_family(prefix) for prefix in _FAMILIES}


# ----- covariance and correlation --------------------------------------------------------------


@function(np.cov)
def cov(
    m: Any,
    y: Any = None,
    rowvar: bool = True,
    bias: bool = False,
    ddof: Any = None,
    fweights: Any = None,
    aweights: Any = None,
    *,
    dtype: Any = None,
) -> Any:
    """numpy.cov: the covariance of the rows (columns without `rowvar`), with NumPy's
    frequency and analytic weights; differentiable in the data and in the weights."""
    if not holds_traced((m, y, fweights, aweights)):
        return np.cov(m, y, rowvar, bias, ddof, fweights, aweights, dtype=dtype)
    X = _shape.atleast_2d(array_like(m))
    if not rowvar and _shape.shape_of(X)[0] != 1:
        X = _shape.transpose(X)
    if y is not None:
        Y = _shape.atleast_2d(array_like(y))
        if not rowvar and _shape.shape_of(Y)[0] != 1:
            Y = _shape.transpose(Y)
        X = _shape.concatenate([X, Y], axis=0)
    if dtype is not None:
        X = _shape.astype(X, dtype)
    if ddof is None:
        ddof = 0 if bias else 1
    w: Any = None
    if fweights is not None:
        fw = array_like(fweights)
        if np.any(_red.plain_value(fw) != np.round(_red.plain_value(fw))):
            raise TypeError("lagrad.numpy.cov: fweights must be integer")
        w = fw * 1.0
    if aweights is not None:
        aw = array_like(aweights) * 1.0
        w = aw if w is None else w * aw
    avg, w_sum = _red.average(X, axis=1, weights=w, returned=True)
    w_sum = w_sum[0]
    n = _shape.shape_of(X)[1]
    if w is None:
        fact: Any = n - ddof
    elif ddof == 0:
        fact = w_sum
    elif aweights is None:
        fact = w_sum - ddof
    else:
        fact = w_sum - ddof * _red.sum(w * aw) / w_sum
    X = X - _shape.reshape(avg, (-1, 1))
    X_T = _shape.transpose(X if w is None else X * w)
    c = _products.matmul(X, conjugate(X_T)) / fact
    return _shape.squeeze(c)


@function(np.corrcoef)
def corrcoef(x: Any, y: Any = None, rowvar: bool = True, *, dtype: Any = None) -> Any:
    """numpy.corrcoef: the covariance scaled to unit diagonal (real part clipped to [−1, 1])."""
    if not holds_traced((x, y)):
        return np.corrcoef(x, y, rowvar, dtype=dtype)
    c = cov(x, y, rowvar, dtype=dtype)
    if len(_shape.shape_of(c)) == 0:
        return c / c
    stddev = sqrt(real(diag(c)))
    c = c / _shape.reshape(stddev, (-1, 1)) / _shape.reshape(stddev, (1, -1))
    return clip(c, -1, 1) if np.dtype(c.dtype).kind != "c" else c
