"""The classes of ``numpy.polynomial`` (``Polynomial``, ``Chebyshev``, ``Legendre``,
``Hermite``, ``HermiteE``, ``Laguerre``) on traced coefficients, points and data.

A series holds its coefficients (`coef`, traced or plain), its `domain` and its `window`.
Everything is a composition of lagrad's operations, so every derivative comes from their
rules: evaluation maps x from the domain to the window and calls the family's ``*val``;
``fit`` calls the family's ``*fit`` (the default domain, the data's range, is traced with x);
``deriv``, ``integ``, ``convert`` and ``*`` are linear (or bilinear) in the coefficients, and
their constant matrices are NumPy's own functions applied to the basis vectors.
Coefficients are never trimmed (NumPy trims trailing zeros from sums and products): a
series' length does not depend on the values of traced coefficients.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from numpy import polynomial as _npoly

from . import manipulation as _shape
from . import products as _products
from . import reductions as _red
from ._register import array_like, holds_traced
from .polynomials import FAMILIES

__all__ = ["Chebyshev", "Hermite", "HermiteE", "Laguerre", "Legendre", "Polynomial"]


def _series(name: str, c: Any) -> Any:
    """Coefficients as a 1-d float array (traced or plain), as NumPy's classes take them."""
    if holds_traced(c):
        c = _shape.atleast_1d(array_like(c)) * 1.0
        if len(_shape.shape_of(c)) != 1:
            raise ValueError(f"lagrad.numpy.polynomial.{name}: Coefficient array is not 1-d")
        return c
    return _npoly.polyutils.as_series([c], trim=False)[0]


def _pair(name: str, what: str, d: Any) -> Any:
    d = array_like(d) if holds_traced(d) else np.array(d, dtype=float)
    if _shape.shape_of(d) != (2,):
        raise ValueError(f"lagrad.numpy.polynomial.{name}: {what} has wrong number of elements.")
    return d


def _padded(c: Any, n: int) -> Any:
    short = n - _shape.shape_of(c)[0]
    return c if short == 0 else _shape.concatenate([c, np.zeros(short)])


@functools.lru_cache(maxsize=256)
def _product_tensor(prefix: str, n1: int, n2: int) -> np.ndarray:
    """T with (c1 * c2)[k] = Σ_ij T[k, i, j] c1[i] c2[j], from NumPy's own product of basis series."""
    mul = getattr(getattr(_npoly, _MODULES[prefix]), f"{prefix}mul")
    n = n1 + n2 - 1
    t = np.zeros((n, n1, n2))
    for i in range(n1):
        for j in range(n2):
            p = mul(np.eye(n1)[i], np.eye(n2)[j])
            t[: len(p), i, j] = p
    return t


_MODULES = {
    "poly": "polynomial",
    "cheb": "chebyshev",
    "leg": "legendre",
    "herm": "hermite",
    "herme": "hermite_e",
    "lag": "laguerre",
}


class _Series:
    """One series of a family: `coef` in the basis, evaluated at ``off + scl * x`` where
    (off, scl) map `domain` onto `window` (NumPy's convention)."""

    _prefix = ""
    _numpy: Any = None
    domain: Any = None
    window: Any = None

    def __init__(self, coef: Any, domain: Any = None, window: Any = None, symbol: str = "x") -> None:
        name = type(self).__name__
        self.coef = _series(name, coef)
        self.domain = _pair(name, "Domain", self._numpy.domain if domain is None else domain)
        self.window = _pair(name, "Window", self._numpy.window if window is None else window)
        self.symbol = symbol

    # -- what it is -----------------------------------------------------------------------

    def __repr__(self) -> str:
        name = f"lagrad.numpy.polynomial.{type(self).__name__}"
        return f"{name}({self.coef!r}, domain={self.domain!r}, window={self.window!r})"

    def __len__(self) -> int:
        return _shape.shape_of(self.coef)[0]

    def degree(self) -> int:
        return len(self) - 1

    def copy(self) -> _Series:
        return type(self)(self.coef, self.domain, self.window, self.symbol)

    def mapparms(self) -> tuple[Any, Any]:
        """(off, scl): x in the domain is ``off + scl * x`` in the window."""
        (d0, d1), (w0, w1) = (self.domain[0], self.domain[1]), (self.window[0], self.window[1])
        return (d1 * w0 - d0 * w1) / (d1 - d0), (w1 - w0) / (d1 - d0)

    def _plain_maps(self, what: str) -> None:
        if holds_traced((self.domain, self.window)):
            raise TypeError(
                f"lagrad.numpy.polynomial.{type(self).__name__}.{what}: the domain is traced (a fit "
                f"to traced points without domain=); give the fit a plain domain=, or evaluate and "
                f"differentiate the series itself"
            )

    # -- evaluation -----------------------------------------------------------------------

    def __call__(self, x: Any) -> Any:
        off, scl = self.mapparms()
        return FAMILIES[self._prefix]["val"](off + scl * array_like(x), self.coef)

    def linspace(self, n: int = 100, domain: Any = None) -> tuple[Any, Any]:
        d = self.domain if domain is None else domain
        x = _shape.linspace(d[0], d[1], n)
        return x, self(x)

    # -- calculus: linear maps of the coefficients ------------------------------------------

    def _calculus(self, what: str) -> Any:
        return getattr(getattr(_npoly, _MODULES[self._prefix]), f"{self._prefix}{what}")

    def deriv(self, m: int = 1) -> _Series:
        """The m-th derivative: NumPy's derivative of each basis series, times scl^m."""
        n = len(self)
        d = self._calculus("der")(np.eye(n), m, 1, 0)
        scl = self.mapparms()[1]
        return type(self)((d @ self.coef) * scl**m, self.domain, self.window, self.symbol)

    def integ(self, m: int = 1, k: Any = [], lbnd: Any = None) -> _Series:  # noqa: B006 (NumPy's default)
        """The m-th antiderivative with constants `k` (plain) at `lbnd` (in the domain)."""
        self._plain_maps("integ")
        off, scl = self.mapparms()
        lbnd = 0 if lbnd is None else off + scl * lbnd
        integrate = self._calculus("int")
        n = len(self)
        linear = integrate(np.eye(n), m, [], lbnd, 1.0 / scl, 0)
        constant = integrate(np.zeros(n), m, k, lbnd, 1.0 / scl)
        return type(self)(linear @ self.coef + constant, self.domain, self.window, self.symbol)

    def convert(self, domain: Any = None, kind: Any = None, window: Any = None) -> _Series:
        """The same function as a series of `kind` with `domain` and `window` (their defaults
        by default): linear in the coefficients, column j NumPy's conversion of basis series j."""
        self._plain_maps("convert")
        kind = type(self) if kind is None else _CLASSES.get(kind, kind)
        if not (isinstance(kind, type) and issubclass(kind, _Series)):
            raise TypeError(f"lagrad.numpy.polynomial.{type(self).__name__}.convert: kind must be a polynomial class")
        domain = kind._numpy.domain if domain is None else domain
        window = kind._numpy.window if window is None else window
        n = len(self)
        cols = [self._numpy(e, self.domain, self.window).convert(domain, kind._numpy, window).coef for e in np.eye(n)]
        matrix = np.zeros((max(len(c) for c in cols), n))
        for j, c in enumerate(cols):
            matrix[: len(c), j] = c
        return kind(matrix @ self.coef, domain, window, self.symbol)

    def cutdeg(self, deg: int) -> _Series:
        return type(self)(self.coef[: int(deg) + 1], self.domain, self.window, self.symbol)

    # -- arithmetic ---------------------------------------------------------------------------

    def _other(self, other: Any) -> Any:
        """The coefficients of `other` (a series of the same kind, domain and window, or a
        coefficient sequence / scalar, as NumPy reads them)."""
        if isinstance(other, (_Series, _npoly._polybase.ABCPolyBase)):
            if type(other).__name__ != type(self).__name__:
                raise TypeError("Polynomial types differ")
            if not np.array_equal(_plain(self.domain), _plain(other.domain)):
                raise TypeError("Domains differ")
            if not np.array_equal(_plain(self.window), _plain(other.window)):
                raise TypeError("Windows differ")
            return _series(type(self).__name__, other.coef)
        return _series(type(self).__name__, other)

    def _new(self, coef: Any) -> _Series:
        return type(self)(coef, self.domain, self.window, self.symbol)

    def __add__(self, other: Any) -> _Series:
        c = self._other(other)
        n = max(len(self), _shape.shape_of(c)[0])
        return self._new(_padded(self.coef, n) + _padded(c, n))

    def __sub__(self, other: Any) -> _Series:
        c = self._other(other)
        n = max(len(self), _shape.shape_of(c)[0])
        return self._new(_padded(self.coef, n) - _padded(c, n))

    def __mul__(self, other: Any) -> _Series:
        c = self._other(other)
        t = _product_tensor(self._prefix, len(self), _shape.shape_of(c)[0])
        return self._new(_products.einsum("kij,i,j->k", t, self.coef, c))

    def __radd__(self, other: Any) -> _Series:
        return self + other

    def __rsub__(self, other: Any) -> _Series:
        return -(self - other)

    def __rmul__(self, other: Any) -> _Series:
        return self * other

    def __truediv__(self, other: Any) -> _Series:
        if isinstance(other, _Series) or np.ndim(other) != 0:
            raise TypeError(f"lagrad.numpy.polynomial.{type(self).__name__}: divide by a scalar only (see //)")
        return self._new(self.coef / other)

    def __neg__(self) -> _Series:
        return self._new(-self.coef)

    def __pos__(self) -> _Series:
        return self

    # -- construction -----------------------------------------------------------------------

    @classmethod
    def fit(
        cls,
        x: Any,
        y: Any,
        deg: Any,
        domain: Any = None,
        rcond: Any = None,
        full: bool = False,
        w: Any = None,
        window: Any = None,
        symbol: str = "x",
    ) -> Any:
        """The least-squares series of degree `deg` through (x, y), with NumPy's defaults: the
        domain is the range of x (traced with x), the window the class's."""
        if domain is None:
            domain = (
                _shape.stack([_red.min(array_like(x)), _red.max(array_like(x))])
                if holds_traced(x)
                else _npoly.polyutils.getdomain(x)
            )
        elif isinstance(domain, list) and len(domain) == 0:
            domain = cls._numpy.domain
        window = cls._numpy.window if window is None else window
        series = cls([0.0], domain, window, symbol)
        off, scl = series.mapparms()
        result = FAMILIES[cls._prefix]["fit"](off + scl * array_like(x), y, deg, rcond, full, w)
        if full:
            coef, status = result
            return cls(coef, domain, window, symbol), status
        return cls(result, domain, window, symbol)

    @classmethod
    def basis(cls, deg: int, domain: Any = None, window: Any = None, symbol: str = "x") -> _Series:
        return cls(np.eye(int(deg) + 1)[-1], domain, window, symbol)

    @classmethod
    def identity(cls, domain: Any = None, window: Any = None, symbol: str = "x") -> _Series:
        return cls(cls._numpy.identity(domain, window).coef, domain, window, symbol)


def _plain(a: Any) -> Any:
    while not isinstance(a, np.ndarray) and hasattr(a, "value"):
        a = a.value
    return np.asarray(a)


def _family(name: str, prefix: str, numpy_class: Any) -> type:
    cls = type(name, (_Series,), {"_prefix": prefix, "_numpy": numpy_class, "__module__": __name__})
    cls.__doc__ = f"numpy.polynomial.{name} on traced coefficients, points and data."
    cls.domain = np.array(numpy_class.domain, dtype=float)
    cls.window = np.array(numpy_class.window, dtype=float)
    return cls


Polynomial = _family("Polynomial", "poly", _npoly.Polynomial)
Chebyshev = _family("Chebyshev", "cheb", _npoly.Chebyshev)
Legendre = _family("Legendre", "leg", _npoly.Legendre)
Hermite = _family("Hermite", "herm", _npoly.Hermite)
HermiteE = _family("HermiteE", "herme", _npoly.HermiteE)
Laguerre = _family("Laguerre", "lag", _npoly.Laguerre)

#: NumPy's class -> lagrad's (for ``convert(kind=numpy.polynomial.Chebyshev)``).
_CLASSES: dict[Any, type] = {
    c._numpy: c  # type: ignore[attr-defined]
    for c in (Polynomial, Chebyshev, Legendre, Hermite, HermiteE, Laguerre)
}

#: The class of each family module, by its prefix.
CLASS_OF = {c._prefix: c for c in _CLASSES.values()}  # type: ignore[attr-defined]
