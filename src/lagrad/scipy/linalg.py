"""`lagrad.scipy.linalg`: SciPy's linear algebra as primitives.

Triangular and Cholesky solves share `lagrad.numpy.linalg`'s triangular-solve
primitive, which reads only the triangle it solves with, so the unused half of
a `cho_factor` result carries no derivative. ``expm``'s derivative is its
Fréchet derivative, the upper-right block of ``expm([[A, E], [0, A]])``;
``sqrtm``'s solves the Sylvester equation ``X dX + dX X = dA``. Both transpose
to the same construction on ``Aᵀ`` (a plain transpose: lagrad's complex
convention). lu_factor's packed factors move with ``L⁻¹ Pᵀ dA U⁻¹``, split into
its strictly lower and upper parts.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.linalg

from ..core import defjvp, defvjp
from ..numpy import linalg as _linalg
from ..numpy import manipulation as _shape
from ..numpy._register import prim
from ..numpy.indexing import getitem
from ..numpy.linalg import _mT, _traced, triangular_solve

__all__ = [
    "cho_factor",
    "cho_solve",
    "cholesky",
    "det",
    "expm",
    "inv",
    "lu_factor",
    "lu_solve",
    "solve",
    "solve_sylvester",
    "solve_triangular",
    "sqrtm",
]

_expm = prim("expm", scipy.linalg.expm)
_sqrtm = prim("sqrtm", lambda a: scipy.linalg.sqrtm(a))
#: x with ``a x + x b = c``.
_sylvester = prim("sylvester", scipy.linalg.solve_sylvester)


def _lu_impl(a: Any) -> tuple[Any, Any]:
    return scipy.linalg.lu_factor(a, check_finite=False)


_lu = prim("lu_factor", _lu_impl)


# ----- expm: the Fréchet derivative by the block-triangular construction ------------------------


def _frechet(a: Any, e: Any) -> Any:
    """L(A, E), the derivative of expm at A along E: the upper-right block of expm([[A, E], [0, A]])."""
    n = a.shape[-1]
    zeros = np.zeros(a.shape, dtype=np.result_type(a.dtype, e.dtype))
    top = _shape.concatenate([a, e], axis=-1)
    block = _shape.concatenate([top, _shape.concatenate([zeros, a], axis=-1)], axis=-2)
    return getitem(_expm(block), (Ellipsis, slice(None, n), slice(n, None)))


# ----- Sylvester: A X + X B = C, so A dX + dX B = dC - dA X - X dB --------------------------------


def _sylvester_cotangent(g: Any, a: Any, b: Any) -> Any:
    return _sylvester(_mT(a), _mT(b), g)


def _lu_jvp(t: Any, ans: Any, a: Any) -> tuple[Any, Any]:
    lu, piv = ans[0], ans[1]
    n = a.shape[-1]
    rows = _permutation(piv)
    y = triangular_solve(lu, getitem(t, rows), lower=True, trans="N", unit_diagonal=True)
    x = _mT(triangular_solve(lu, _mT(y), lower=False, trans="T", unit_diagonal=False))
    strict = np.tril(np.ones((n, n)), -1)
    dl = (lu * strict + np.eye(n)) @ (x * strict)
    du = (x * (1 - strict)) @ (lu * (1 - strict))
    return dl + du, np.zeros(piv.shape)


def _lu_vjp(g: Any, ans: Any, a: Any) -> Any:
    lu, piv = ans[0], ans[1]
    n = a.shape[-1]
    strict = np.tril(np.ones((n, n)), -1)
    gl, gu = g[0] * strict, g[0] * (1 - strict)
    xbar = (_mT(lu * strict + np.eye(n)) @ gl) * strict + (gu @ _mT(lu * (1 - strict))) * (1 - strict)
    y = triangular_solve(lu, xbar, lower=True, trans="T", unit_diagonal=True)
    z = _mT(triangular_solve(lu, _mT(y), lower=False, trans="N", unit_diagonal=False))
    return getitem(z, np.argsort(_permutation(piv)))


def _permutation(piv: Any) -> np.ndarray:
    """Rows of A in the order of L U (``A[rows] = L U``), from LAPACK's row interchanges."""
    while hasattr(piv, "_trace"):  # the pivots are integers: a constant of the forward values
        piv = piv.value
    rows = np.arange(len(piv))
    for i, p in enumerate(piv):
        rows[i], rows[p] = rows[p], rows[i]
    return rows


# fmt: off
defvjp(_expm,      lambda g, ans, a: _frechet(_mT(a), g))
defjvp(_expm,      lambda t, ans, a: _frechet(a, t))
defvjp(_sqrtm,     lambda g, ans, a: _sylvester(_mT(ans), _mT(ans), g))
defjvp(_sqrtm,     lambda t, ans, a: _sylvester(ans, ans, t))
defvjp(_sylvester, lambda g, ans, a, b, c: _shape.unbroadcast(-_sylvester_cotangent(g, a, b) @ _mT(ans), a.shape),
                   lambda g, ans, a, b, c: _shape.unbroadcast(-_mT(ans) @ _sylvester_cotangent(g, a, b), b.shape),
                   lambda g, ans, a, b, c: _shape.unbroadcast(_sylvester_cotangent(g, a, b), c.shape))
defjvp(_sylvester, lambda t, ans, a, b, c: _sylvester(a, b, -t @ ans),
                   lambda t, ans, a, b, c: _sylvester(a, b, -ans @ t),
                   lambda t, ans, a, b, c: _sylvester(a, b, t))
defvjp(_lu,        _lu_vjp)
defjvp(_lu,        _lu_jvp)
# fmt: on


# ----- the SciPy API -----------------------------------------------------------------------------


def _scipy_when_plain(sp_function: Any) -> Callable[[Any], Any]:
    """Where nothing is traced, call SciPy's own function: built from other operations, the
    decorated one would round differently."""

    def wrap(fun: Any) -> Any:
        @functools.wraps(fun)
        def call(*args: Any, **kwargs: Any) -> Any:
            if _traced(args) or _traced(kwargs.values()):
                return fun(*args, **kwargs)
            return sp_function(*args, **kwargs)

        return call

    return wrap


def _as_matrix(b: Any) -> tuple[Any, bool]:
    """`b` as a stack of matrices, and whether it was a vector."""
    if len(_shape.shape_of(b)) == 1:
        return _shape.expand_dims(b, -1), True
    return b, False


def _trans(name: str, trans: Any) -> str:
    codes = {0: "N", 1: "T", 2: "C", "N": "N", "T": "T", "C": "C"}
    if trans not in codes:
        raise ValueError(f"lagrad.scipy.linalg.{name}: trans must be 0, 1, 2, 'N', 'T' or 'C', not {trans!r}")
    return codes[trans]


def solve_triangular(
    a: Any,
    b: Any,
    trans: Any = 0,
    lower: bool = False,
    unit_diagonal: bool = False,
    overwrite_b: bool = False,
    check_finite: bool = True,
) -> Any:
    """x with ``op(a) x = b`` for triangular `a` (op by `trans`); only a's `lower` (or upper)
    triangle is read, and without its diagonal when `unit_diagonal`."""
    b2, vector = _as_matrix(b)
    x = triangular_solve(
        a, b2, lower=bool(lower), trans=_trans("solve_triangular", trans), unit_diagonal=bool(unit_diagonal)
    )
    return _shape.squeeze(x, -1) if vector else x


def cholesky(a: Any, lower: bool = False, overwrite_a: bool = False, check_finite: bool = True) -> Any:
    """The Cholesky factor: upper U with ``Uᴴ U = a`` (default), or lower L with ``L Lᴴ = a``,
    reading that triangle of `a` only."""
    return _linalg.cholesky(a, upper=not lower)


@_scipy_when_plain(scipy.linalg.cho_factor)
def cho_factor(a: Any, lower: bool = False, overwrite_a: bool = False, check_finite: bool = True) -> tuple[Any, bool]:
    """(c, lower): the Cholesky factor in c's `lower` (or upper) triangle, a's entries in the other
    (as SciPy leaves them; cho_solve ignores them)."""
    factor = _linalg.cholesky(a, upper=not lower)
    n = _shape.shape_of(a)[-1]
    other = np.triu(np.ones((n, n)), 1) if lower else np.tril(np.ones((n, n)), -1)
    return factor + a * other, bool(lower)


@_scipy_when_plain(scipy.linalg.cho_solve)
def cho_solve(c_and_lower: tuple[Any, bool], b: Any, overwrite_b: bool = False, check_finite: bool = True) -> Any:
    """x with ``a x = b``, from ``cho_factor(a)``."""
    c, lower = c_and_lower
    b2, vector = _as_matrix(b)
    if lower:  # L Lᴴ x = b
        y = triangular_solve(c, b2, lower=True, trans="N", unit_diagonal=False)
        x = triangular_solve(c, y, lower=True, trans="C", unit_diagonal=False)
    else:  # Uᴴ U x = b
        y = triangular_solve(c, b2, lower=False, trans="C", unit_diagonal=False)
        x = triangular_solve(c, y, lower=False, trans="N", unit_diagonal=False)
    return _shape.squeeze(x, -1) if vector else x


def lu_factor(a: Any, overwrite_a: bool = False, check_finite: bool = True) -> tuple[Any, Any]:
    """(lu, piv): ``a = P L U`` with unit-diagonal L and U packed in `lu`, and LAPACK's pivots
    (integers, no derivative). One square matrix; the derivative needs `a` invertible."""
    shape = _shape.shape_of(a)
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ValueError(f"lagrad.scipy.linalg.lu_factor: one square matrix is supported, not shape {shape}")
    result = _lu(a)
    return result[0], result[1]


@_scipy_when_plain(scipy.linalg.lu_solve)
def lu_solve(
    lu_and_piv: tuple[Any, Any], b: Any, trans: int = 0, overwrite_b: bool = False, check_finite: bool = True
) -> Any:
    """x with ``op(a) x = b``, from ``lu_factor(a)``."""
    lu, piv = lu_and_piv
    rows = _permutation(piv)
    op = _trans("lu_solve", trans)
    b2, vector = _as_matrix(b)
    if op == "N":  # L U x = b[rows]
        y = triangular_solve(lu, getitem(b2, rows), lower=True, trans="N", unit_diagonal=True)
        x = triangular_solve(lu, y, lower=False, trans="N", unit_diagonal=False)
    else:  # op(U) op(L) x[rows] = b
        y = triangular_solve(lu, b2, lower=False, trans=op, unit_diagonal=False)
        x = getitem(triangular_solve(lu, y, lower=True, trans=op, unit_diagonal=True), np.argsort(rows))
    return _shape.squeeze(x, -1) if vector else x


def expm(A: Any) -> Any:
    """The matrix exponential; its derivative is the Fréchet derivative (block construction)."""
    _linalg._matrices("expm", A)
    return _expm(A)


def sqrtm(A: Any, disp: Any = None, blocksize: Any = None) -> Any:
    """The principal matrix square root X (``X @ X = A``); its derivative solves
    ``X dX + dX X = dA`` (needs no eigenvalue of X to be the negative of another)."""
    _linalg._matrices("sqrtm", A)
    return _sqrtm(A)


def solve_sylvester(a: Any, b: Any, q: Any) -> Any:
    """x with ``a x + x b = q``."""
    return _sylvester(a, b, q)


def inv(a: Any, overwrite_a: bool = False, check_finite: bool = True) -> Any:
    """The inverse (lagrad.numpy.linalg.inv)."""
    return _linalg.inv(a)


def det(a: Any, overwrite_a: bool = False, check_finite: bool = True) -> Any:
    """The determinant (lagrad.numpy.linalg.det: exact derivative at singular matrices too)."""
    return _linalg.det(a)


@_scipy_when_plain(scipy.linalg.solve)
def solve(
    a: Any,
    b: Any,
    lower: bool = False,
    overwrite_a: bool = False,
    overwrite_b: bool = False,
    check_finite: bool = True,
    assume_a: Any = None,
    transposed: bool = False,
) -> Any:
    """x with ``a x = b`` (``aᵀ x = b`` when `transposed`): a general solve, or for
    ``assume_a="pos"`` a Cholesky solve reading a's `lower` (or upper) triangle, or a
    triangular solve for ``"lower triangular"``/``"upper triangular"``."""
    if assume_a in (None, "gen", "general"):
        return _linalg.solve(_mT(a) if transposed else a, b)
    if transposed:
        raise NotImplementedError(f"lagrad.scipy.linalg.solve: transposed=True with assume_a={assume_a!r}")
    if assume_a in ("pos", "positive definite"):
        return cho_solve(cho_factor(a, lower=lower), b)
    if assume_a in ("lower triangular", "upper triangular"):
        return solve_triangular(a, b, lower=assume_a == "lower triangular")
    raise NotImplementedError(
        f"lagrad.scipy.linalg.solve: assume_a={assume_a!r} is not supported on traced values; use "
        f"'gen', 'pos', 'lower triangular' or 'upper triangular'"
    )
