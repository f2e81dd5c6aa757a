"""`lagrad.numpy.linalg`: NumPy's linear algebra as primitives, on stacks of matrices (..., m, n).

Each decomposition's rules come from its defining equations (``L Lᴴ = A``,
``A V = V diag(w)``, ``A = U S Vᴴ``, ``A = Q R``) and use triangular solves and
products rather than explicit inverses; ``triangular_solve`` (op(A) x = b, reading
one triangle) also serves lagrad.scipy.linalg. Conventions, where NumPy leaves a choice:

* cholesky, eigh and ``hermitian=True`` read one triangle of `a`, as LAPACK does;
  the derivative is that of the function NumPy computes, so a perturbation of the
  other triangle has no effect, and the gradient sits in the triangle read.
* Eigenvalues and singular values that tie (to rounding) share their derivative
  evenly, as ``max`` does: exact for every function symmetric in the tied values
  (sums, traces, norms, log-determinants). Eigen- and singular vectors are not
  differentiable at a tie; where a tie meets a nonzero multiplier or tangent of
  the vectors, the derivative is NaN rather than a silently wrong number.
* Complex eigenvectors and singular vectors are defined up to a phase; their
  derivative fixes the phase its own way (eigh, svd: ``Im diag(Vᴴ dV) = 0``), so
  only phase-invariant functions of them agree with finite differences. eig's
  eigenvectors keep unit length, as LAPACK's do.
* det's derivative is the transposed adjugate, computed through the SVD, so it
  is exact for singular matrices too (rank n-1: rank one; lower rank: zero).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import scipy.linalg

from ..core import Var, defjvp, defvjp
from ..core.backend import _plain, in_namespace, numpy_dtype
from . import indexing as _indexing
from . import manipulation as _shape
from . import products as _products
from . import reductions as _red
from ._register import array_like, function, nondiff, prim
from .indexing import getitem
from .products import einsum, matmul, tensordot
from .ufuncs import absolute, conjugate, imag, real, sqrt, where

__all__ = [
    "EigResult",
    "EighResult",
    "LinAlgError",
    "QRResult",
    "SVDResult",
    "SlogdetResult",
    "cholesky",
    "cond",
    "cross",
    "det",
    "diagonal",
    "eig",
    "eigh",
    "eigvals",
    "eigvalsh",
    "inv",
    "lstsq",
    "matmul",
    "matrix_norm",
    "matrix_power",
    "matrix_rank",
    "matrix_transpose",
    "multi_dot",
    "norm",
    "outer",
    "pinv",
    "qr",
    "slogdet",
    "solve",
    "svd",
    "svdvals",
    "tensordot",
    "tensorinv",
    "tensorsolve",
    "trace",
    "vecdot",
    "vector_norm",
]

LinAlgError = np.linalg.LinAlgError


class EigResult(NamedTuple):
    eigenvalues: Any
    eigenvectors: Any


class EighResult(NamedTuple):
    eigenvalues: Any
    eigenvectors: Any


class SVDResult(NamedTuple):
    U: Any
    S: Any
    Vh: Any


class QRResult(NamedTuple):
    Q: Any
    R: Any


class SlogdetResult(NamedTuple):
    sign: Any
    logabsdet: Any


# ----- helpers: matrix transposes, diagonals, triangles (lagrad operations, so rules trace) ----


def _complex(x: Any) -> bool:
    return numpy_dtype(x.dtype).kind == "c"


def _conj(x: Any) -> Any:
    return conjugate(x) if _complex(x) else x


def _mT(x: Any) -> Any:
    return _shape.swapaxes(x, -1, -2)


def _mH(x: Any) -> Any:
    return _conj(_mT(x))


def _col(v: Any) -> Any:
    """(..., n) -> (..., n, 1)."""
    return _shape.expand_dims(v, -1)


def _row(v: Any) -> Any:
    """(..., n) -> (..., 1, n)."""
    return _shape.expand_dims(v, -2)


def _diag(x: Any) -> Any:
    return einsum("...ii->...i", x)


def _diag_embed(v: Any) -> Any:
    return _col(v) * in_namespace(np.eye(v.shape[-1]), _plain(v))


def _trace(x: Any) -> Any:
    return einsum("...ii->...", x)


def _half_triangle(n: int, lower: bool, like: Any) -> Any:
    """Ones strictly below (above) the diagonal, one half on it (in the library of `like`)."""
    ones = np.ones((n, n))
    return in_namespace((np.tril(ones, -1) if lower else np.triu(ones, 1)) + 0.5 * np.eye(n), _plain(like))


def _from_triangle(t: Any, lower: bool) -> Any:
    """The Hermitian matrix LAPACK reads from one triangle of `t` (the diagonal's real part)."""
    s = t * _half_triangle(t.shape[-1], lower, t)
    return s + _mH(s)


def _to_triangle(g: Any, lower: bool) -> Any:
    """The transpose of `_from_triangle`: the multiplier gathered into the triangle read."""
    return (g + _mH(g)) * _half_triangle(g.shape[-1], lower, g)


def _triangle(n: int, lower: bool, unit_diagonal: bool, like: Any) -> Any:
    """The entries a triangular solve reads (in the library of `like`)."""
    ones = np.ones((n, n))
    return in_namespace(np.tril(ones, -int(unit_diagonal)) if lower else np.triu(ones, int(unit_diagonal)), like)


def _split(x: Any, k: int, axis: int) -> tuple[Any, Any]:
    """`x` cut after `k` entries along axis -1 or -2."""
    head = (Ellipsis, slice(None, k)) if axis == -1 else (Ellipsis, slice(None, k), slice(None))
    tail = (Ellipsis, slice(k, None)) if axis == -1 else (Ellipsis, slice(k, None), slice(None))
    return getitem(x, head), getitem(x, tail)


def _over(x: Any, d: Any) -> Any:
    """x / d, with 0 where d == 0 and x == 0, and NaN (an undefined derivative) where only d is."""
    zero = d == 0
    return where(zero, where(x == 0, 0.0, np.nan), x / where(zero, 1.0, d))


# ----- ties between eigenvalues (singular values): the clusters that share a derivative --------


def _clusters_impl(w: np.ndarray) -> np.ndarray:
    """C[i, j] = 1/size of the cluster where w_i and w_j tie to rounding (chains of ties
    included), else 0. `w` may be complex and in any order."""
    n = w.shape[-1]
    tol = 16 * n * np.finfo(w.dtype).eps * np.max(np.abs(w), axis=-1, keepdims=True)
    same = np.abs(w[..., :, None] - w[..., None, :]) <= tol[..., None]
    for _ in range(max(n - 1, 1).bit_length()):  # transitive closure by squaring
        same = (same.astype(np.int64) @ same.astype(np.int64)) > 0
    return same / same.sum(axis=-1, keepdims=True)


#: A constant of the forward values (no derivative): which eigenvalues tie.
_clusters = defvjp(prim("clusters", _clusters_impl), None)


def _cluster_mean(clusters: Any, v: Any) -> Any:
    return einsum("...ij,...j->...i", clusters, v)


def _gap_quotient(x: Any, gaps: Any, clusters: Any, evidence: Any) -> Any:
    """x / gaps off the clusters and 0 on the diagonal. Inside a cluster the vectors are not
    differentiable: 0 where `evidence` (the vectors' multiplier or tangent, in the eigenbasis)
    vanishes on the pair's block, NaN where it does not."""
    same = clusters > 0
    nonzero, on_diagonal = evidence != 0, _diag(evidence) != 0
    off_diagonal = in_namespace(~np.eye(x.shape[-1], dtype=bool), _plain(x))
    undefined = (nonzero | _mT(nonzero) | _col(on_diagonal) | _row(on_diagonal)) & off_diagonal
    return where(same, where(undefined, np.nan, 0.0), x / where(same, 1.0, gaps))


def _gaps(w: Any) -> Any:
    """[i, j] = w_j - w_i."""
    return _row(w) - _col(w)


# ----- primitives ---------------------------------------------------------------------------


def _svd_impl(a: Any, full_matrices: bool, hermitian: bool) -> tuple[Any, ...]:
    return tuple(np.linalg.svd(a, full_matrices=full_matrices, compute_uv=True, hermitian=hermitian))


def _adjugate_impl(a: np.ndarray) -> np.ndarray:
    """adj(A) = adj(Vᴴ) adj(S) adj(U) = det(U) det(Vᴴ) V diag(∏_{j≠i} s_j) Uᴴ: exact at any rank."""
    u, s, vh = np.linalg.svd(a)
    phase = np.linalg.det(u) * np.linalg.det(vh)
    others = _red._others_impl(s, (s.ndim - 1,))
    return (np.conj(np.swapaxes(vh, -1, -2)) * (phase[..., None] * others)[..., None, :]) @ np.conj(
        np.swapaxes(u, -1, -2)
    )


def _triangular_solve_impl(a: Any, b: Any, lower: bool, trans: str, unit_diagonal: bool) -> Any:
    return scipy.linalg.solve_triangular(
        a, b, trans=trans, lower=lower, unit_diagonal=unit_diagonal, check_finite=False
    )


_inv = prim("inv", np.linalg.inv)
_solve = prim("solve", np.linalg.solve)  # b is a stack of matrices (..., m, k)
_det = prim("det", np.linalg.det)
_adjugate = prim("adjugate", _adjugate_impl)
_slogdet = prim("slogdet", lambda a: tuple(np.linalg.slogdet(a)))
_cholesky = prim("cholesky", lambda a, upper: np.linalg.cholesky(a, upper=upper))
_eig = prim("eig", lambda a: tuple(np.linalg.eig(a)))
_eigh = prim("eigh", lambda a, lower: tuple(np.linalg.eigh(a, UPLO="L" if lower else "U")))
_svd = prim("svd", _svd_impl)
_qr = prim("qr", lambda a, complete: tuple(np.linalg.qr(a, mode="complete" if complete else "reduced")))
_pinv = prim("pinv", lambda a, rcond, hermitian: np.linalg.pinv(a, rcond=rcond, hermitian=hermitian))
#: op(a) x = b for triangular `a` (op: "N", "T" or "C"), reading only a's triangle.
triangular_solve = prim("triangular_solve", _triangular_solve_impl)


# ----- solve, triangular solve: x = op(A)⁻¹ b, so dx = op(A)⁻¹ (db - op(dA) x) ----------------


def _solve_vjp_a(g: Any, ans: Any, a: Any, b: Any) -> Any:
    return _shape.unbroadcast(-_solve(_mT(a), g) @ _mT(ans), a.shape)


def _solve_vjp_b(g: Any, ans: Any, a: Any, b: Any) -> Any:
    return _shape.unbroadcast(_solve(_mT(a), g), b.shape)


def _op(x: Any, trans: str) -> Any:
    return x if trans == "N" else _mT(x) if trans == "T" else _mH(x)


def _tri_cotangent(g: Any, a: Any, lower: bool, trans: str, unit_diagonal: bool) -> Any:
    """op(A)⁻ᵀ g (a plain transpose: lagrad's complex convention)."""
    if trans == "C":
        return _conj(triangular_solve(a, _conj(g), lower=lower, trans="N", unit_diagonal=unit_diagonal))
    back = "T" if trans == "N" else "N"
    return triangular_solve(a, g, lower=lower, trans=back, unit_diagonal=unit_diagonal)


def _tri_vjp_a(g: Any, ans: Any, a: Any, b: Any, lower: bool, trans: str, unit_diagonal: bool) -> Any:
    gb = _tri_cotangent(g, a, lower, trans, unit_diagonal)
    if trans == "N":
        ga = -gb @ _mT(ans)
    elif trans == "T":
        ga = -ans @ _mT(gb)
    else:
        ga = -_conj(ans @ _mT(gb))
    return _shape.unbroadcast(ga * _triangle(a.shape[-1], lower, unit_diagonal, ga), a.shape)


def _tri_vjp_b(g: Any, ans: Any, a: Any, b: Any, lower: bool, trans: str, unit_diagonal: bool) -> Any:
    return _shape.unbroadcast(_tri_cotangent(g, a, lower, trans, unit_diagonal), b.shape)


def _tri_jvp_a(t: Any, ans: Any, a: Any, b: Any, lower: bool, trans: str, unit_diagonal: bool) -> Any:
    ta = _op(t * _triangle(a.shape[-1], lower, unit_diagonal, t), trans)
    return -triangular_solve(a, ta @ ans, lower=lower, trans=trans, unit_diagonal=unit_diagonal)


def _tri_jvp_b(t: Any, ans: Any, a: Any, b: Any, lower: bool, trans: str, unit_diagonal: bool) -> Any:
    return triangular_solve(a, t, lower=lower, trans=trans, unit_diagonal=unit_diagonal)


# ----- determinants: d det = tr(adj(A) dA); d log|det| = Re tr(A⁻¹ dA) -------------------------


def _adjugate_parts(a: Any) -> tuple[Any, Any, Any, Any]:
    """U, Vh, det(U) det(Vh) and P[i, j] = ∏_{k≠i,j} s_k (0 on the diagonal), for adj(A)'s derivative."""
    usv = _svd(a, full_matrices=False, hermitian=False)
    u, s, vh = usv[0], usv[1], usv[2]
    eye = np.eye(s.shape[-1], dtype=bool)
    pairs = where(eye, 0.0, _red._others(where(eye, 1.0, _row(s)), axis=(s.ndim,)))
    return u, vh, _det(u) * _det(vh), pairs


def _adjugate_core(pairs: Any, e: Any) -> Any:
    """The derivative of adj at diagonal S along e: diag(P diag(e)) - P ∘ e (self-transposed)."""
    return _diag_embed(einsum("...ik,...k->...i", pairs, _diag(e))) - pairs * e


def _invertible(a: Any) -> bool:
    """Whether `a` is traced by a derivative (a rule differentiated again; lagrad.compile's
    recording, whose answers are eager's bits, does not count) and is a NumPy stack of matrices
    each far from singular: the smallest singular value above 1e-6 of the largest."""
    if type(a) is not Var or getattr(a._trace, "replayed", False):
        return False
    while type(a) is Var:
        a = a.value
    if type(a) is not np.ndarray or a.size == 0:
        return False
    s = np.linalg.svd(a, compute_uv=False)
    return bool(np.all(s[..., -1] > 1e-6 * s[..., 0]))


# adj's derivative below holds U, S, V of A fixed, exact at any rank. Differentiated again (a
# third derivative of det), that differentiates the SVD, which is NaN at repeated singular values
# (every entry at the identity); so a traced invertible A takes adj = det(A) A⁻¹ instead:
# d adj[E] = (tr(adj E) adj - adj E adj) / det(A), smooth in A to any order.


def _adjugate_jvp(t: Any, ans: Any, a: Any) -> Any:
    if _invertible(a):
        along = _col(_col(einsum("...ij,...ji->...", ans, t)))
        return (along * ans - ans @ t @ ans) / _col(_col(_det(a)))
    # adj(A + E) = phase · V adj(S + Uᴴ E V) Uᴴ exactly, with U, S, V of A held fixed
    u, vh, phase, pairs = _adjugate_parts(a)
    return _col(_col(phase)) * (_mH(vh) @ _adjugate_core(pairs, _mH(u) @ t @ _mH(vh)) @ _mH(u))


def _adjugate_vjp(g: Any, ans: Any, a: Any) -> Any:
    if _invertible(a):
        along, adj_t = _col(_col(einsum("...ij,...ij->...", g, ans))), _mT(ans)
        return (along * adj_t - adj_t @ g @ adj_t) / _col(_col(_det(a)))
    u, vh, phase, pairs = _adjugate_parts(a)
    x = _col(_col(phase)) * (_conj(vh) @ g @ _conj(u))
    return _conj(u) @ _adjugate_core(pairs, x) @ _conj(vh)


def _slogdet_regular(ans: Any) -> None:
    """Refuses a singular matrix by name: log|det| is −∞ there and has no derivative (the
    rules' inverse or solve raised a bare 'Singular matrix')."""
    sign = ans[0]
    while type(sign) is Var:
        sign = sign.value
    if isinstance(sign, (np.ndarray, np.generic)) and np.any(sign == 0):  # NumPy's values: no lazy compute
        raise np.linalg.LinAlgError(
            "lagrad.numpy.linalg.slogdet: no derivative at a singular matrix (log|det| is -inf there); "
            "keep the matrix regular, or differentiate det, whose derivative (the adjugate) exists there"
        )


def _slogdet_vjp(g: Any, ans: Any, a: Any) -> Any:
    _slogdet_regular(ans)
    weight = g[1] + imag(ans[0] * g[0]) * 1j if _complex(a) else g[1]  # d sign = sign · i Im tr(A⁻¹ dA)
    return _col(_col(weight)) * _mT(_inv(a))


def _slogdet_jvp(t: Any, ans: Any, a: Any) -> tuple[Any, Any]:
    _slogdet_regular(ans)
    tau = _trace(_solve(a, t))
    if _complex(a) or _complex(t):
        return ans[0] * (imag(tau) * 1j), real(tau)
    return _shape._plain_zeros_like(tau), tau


# ----- cholesky: L Lᴴ = Â, dL = L Φ(L⁻¹ dÂ L⁻ᴴ), Φ = lower triangle with half the diagonal --------


def _lower_factor(ans: Any, upper: bool) -> Any:
    return _mH(ans) if upper else ans


def _cholesky_jvp(t: Any, ans: Any, a: Any, upper: bool) -> Any:
    lo = _lower_factor(ans, upper)
    y = triangular_solve(lo, _from_triangle(t, not upper), lower=True, trans="N", unit_diagonal=False)
    x = _mH(triangular_solve(lo, _mH(y), lower=True, trans="N", unit_diagonal=False))
    dl = lo @ (x * _half_triangle(x.shape[-1], True, x))
    return _mH(dl) if upper else dl


def _cholesky_vjp(g: Any, ans: Any, a: Any, upper: bool) -> Any:
    lo = _lower_factor(ans, upper)
    gl = _mH(g) if upper else g
    xbar = (_mT(lo) @ gl) * _half_triangle(gl.shape[-1], True, gl)
    z = triangular_solve(lo, xbar, lower=True, trans="T", unit_diagonal=False)
    return _to_triangle(_mT(triangular_solve(lo, _mT(z), lower=True, trans="C", unit_diagonal=False)), not upper)


# ----- eigh: dw = diag(Vᴴ dÂ V) (averaged over ties), dV = V (F ∘ Vᴴ dÂ V), F_ij = 1/(w_j - w_i) ----


def _eigh_jvp(t: Any, ans: Any, a: Any, lower: bool) -> tuple[Any, Any]:
    w, v = ans[0], ans[1]
    m = _mH(v) @ _from_triangle(t, lower) @ v
    clusters = _clusters(w)
    dw = _cluster_mean(clusters, _diag(m))
    return real(dw), v @ _gap_quotient(m, _gaps(w), clusters, m)


def _eigh_vjp(g: Any, ans: Any, a: Any, lower: bool) -> Any:
    w, v = ans[0], ans[1]
    clusters = _clusters(w)
    z = _mT(v) @ g[1]
    inner = _diag_embed(_cluster_mean(clusters, g[0])) + _gap_quotient(z, _gaps(w), clusters, z)
    return _to_triangle(_conj(v) @ inner @ _mT(v), lower)


# ----- eig: with M = V⁻¹ dA V, dw = diag M and dV = V (F ∘ M), then kept of unit length -----------


def _eig_jvp(t: Any, ans: Any, a: Any) -> tuple[Any, Any]:
    w, v = ans[0], ans[1]
    m = _solve(v, t @ v)
    clusters = _clusters(w)
    dv = v @ _gap_quotient(m, _gaps(w), clusters, m)
    return _cluster_mean(clusters, _diag(m)), dv - v * _row(real(_diag(_mH(v) @ dv)))


def _eig_vjp(g: Any, ans: Any, a: Any) -> Any:
    w, v = ans[0], ans[1]
    clusters = _clusters(w)
    raw = _mT(v) @ g[1]
    z = raw - (_mT(v) @ _conj(v)) * _row(real(_diag(raw)))  # after the unit-length step's transpose
    mbar = _diag_embed(_cluster_mean(clusters, g[0])) + _gap_quotient(z, _gaps(w), clusters, raw)
    return _solve(_mT(v), mbar @ _mT(v))


# ----- svd: with dP = Uᴴ dA V, ds = Re diag dP, and F_ij = 1/(s_j² - s_i²) ----------------------
# dU = U (F ∘ (dP S + S dPᴴ)) + (I - U Uᴴ) dA V S⁻¹, dV = V (F ∘ (S dP + dPᴴ S)) + (I - V Vᴴ) dAᴴ U S⁻¹;
# complex: the phase of each pair (u_i, v_i) goes into u_i. Extra columns of full_matrices span the
# complement, unique only as a subspace: they move with the least rotation, dQ⊥ = -Q dQᴴ Q⊥.


def _complement_tangent(dq: Any, q: Any, q_perp: Any) -> Any:
    return -q @ (_mH(dq) @ q_perp)


def _complement_cotangent(g_perp: Any, q: Any, q_perp: Any) -> Any:
    return -_conj(q_perp) @ (_mH(g_perp) @ _conj(q))


def _svd_jvp(t: Any, ans: Any, a: Any, full_matrices: bool, hermitian: bool) -> tuple[Any, Any, Any]:
    u, s, vh = ans[0], ans[1], ans[2]
    m, n = a.shape[-2:]
    k = min(m, n)
    if hermitian:
        t = _from_triangle(t, True)
    uk, u_perp = _split(u, k, -1) if full_matrices and m > k else (u, None)
    vhk, vh_perp = _split(vh, k, -2) if full_matrices and n > k else (vh, None)
    v = _mH(vhk)
    dp = _mH(uk) @ t @ v
    clusters = _clusters(s)
    gaps = _gaps(s * s)
    dps, sdp = dp * _row(s), _col(s) * dp
    du = uk @ _gap_quotient(dps + _mH(dps), gaps, clusters, dp)
    dv = v @ _gap_quotient(sdp + _mH(sdp), gaps, clusters, dp)
    if m > k:
        du = du + _over(t @ v - uk @ dp, _row(s))
    if n > k:
        dv = dv + _over(_mH(t) @ uk - v @ _mH(dp), _row(s))
    if _complex(dp):
        du = du + uk * _over(imag(_row(_diag(dp))) * 1j, _row(s))
    if u_perp is not None:
        du = _shape.concatenate([du, _complement_tangent(du, uk, u_perp)], axis=-1)
    if vh_perp is not None:
        dv = _shape.concatenate([dv, _complement_tangent(dv, v, _mH(vh_perp))], axis=-1)
    return du, real(_cluster_mean(clusters, _diag(dp))), _mH(dv)


def _svd_vjp(g: Any, ans: Any, a: Any, full_matrices: bool, hermitian: bool) -> Any:
    u, s, vh = ans[0], ans[1], ans[2]
    gu, gs, gvh = g[0], g[1], g[2]
    m, n = a.shape[-2:]
    k = min(m, n)
    uk, vhk = u, vh
    if full_matrices and m > k:
        (uk, u_perp), (gu, gu_perp) = _split(u, k, -1), _split(gu, k, -1)
        gu = gu + _complement_cotangent(gu_perp, uk, u_perp)
    if full_matrices and n > k:
        (vhk, vh_perp), (gvh, gvh_perp) = _split(vh, k, -2), _split(gvh, k, -2)
    v, gv = _mH(vhk), _mH(gvh)
    if full_matrices and n > k:
        gv = gv + _complement_cotangent(_mH(gvh_perp), v, _mH(vh_perp))
    clusters = _clusters(s)
    gaps = _gaps(s * s)
    zu, zv = _mT(uk) @ gu, _mT(v) @ gv
    pbar = (
        _diag_embed(_cluster_mean(clusters, gs))
        + _gap_quotient(zu - _mH(zu), gaps, clusters, zu) * _row(s)
        + _col(s) * _gap_quotient(zv - _mH(zv), gaps, clusters, zv)
    )
    if _complex(zu):
        pbar = pbar + _diag_embed(_over(imag(_diag(zu)) * 1j, s))
    ga = _conj(uk) @ pbar @ _mT(v)
    if m > k:
        ga = ga + _over(gu - _conj(uk) @ zu, _row(s)) @ _mT(v)
    if n > k:
        ga = ga + _conj(uk) @ _over(_mH(gv) - _mH(zv) @ _mT(v), _col(s))
    return _to_triangle(ga, True) if hermitian else ga


# ----- qr: with B = dA R⁻¹ and X = Qᴴ B, dR = Y R and dQ = B - Q Y, Y = X's upper triangle plus -------
# the conjugate transpose of its strict lower one (real diagonal). Wide: Q and R1 come from the leading
# square block, R2 = Qᴴ A2.


def _qr_blocks(ans: Any, m: int, n: int, complete: bool) -> tuple[Any, Any, Any]:
    q, r = ans[0], ans[1]
    k = min(m, n)
    q1, q_perp = _split(q, k, -1) if complete and m > k else (q, None)
    r1 = getitem(r, (Ellipsis, slice(None, k), slice(None, k))) if tuple(r.shape[-2:]) != (k, k) else r
    return q1, q_perp, r1


def _qr_jvp(t: Any, ans: Any, a: Any, complete: bool) -> tuple[Any, Any]:
    m, n = a.shape[-2:]
    k = min(m, n)
    q1, q_perp, r1 = _qr_blocks(ans, m, n, complete)
    t1, t2 = _split(t, k, -1) if n > k else (t, None)
    b = _mT(triangular_solve(r1, _mT(t1), lower=False, trans="T", unit_diagonal=False))
    x = _mH(q1) @ b
    y = x * _half_triangle(k, False, x) + _mH(x * _half_triangle(k, True, x))
    dq, dr = b - q1 @ y, y @ r1
    if t2 is not None:
        dr = _shape.concatenate([dr, _mH(dq) @ _split(a, k, -1)[1] + _mH(q1) @ t2], axis=-1)
    if q_perp is not None:
        dr = _shape.concatenate([dr, np.zeros((*dr.shape[:-2], m - k, n), dtype=dr.dtype)], axis=-2)
        dq = _shape.concatenate([dq, _complement_tangent(dq, q1, q_perp)], axis=-1)
    return dq, dr


def _qr_vjp(g: Any, ans: Any, a: Any, complete: bool) -> Any:
    m, n = a.shape[-2:]
    k = min(m, n)
    q1, q_perp, r1 = _qr_blocks(ans, m, n, complete)
    gq, gr = g[0], g[1]
    if q_perp is not None:
        gq, gq_perp = _split(gq, k, -1)
        gq = gq + _complement_cotangent(gq_perp, q1, q_perp)
        gr = _split(gr, k, -2)[0]
    gr2 = None
    if n > k:
        gr, gr2 = _split(gr, k, -1)
        gq = gq + _conj(_split(a, k, -1)[1]) @ _mH(gr2)
    ybar = gr @ _mT(r1) - _mT(q1) @ gq
    xbar = ybar * _half_triangle(k, False, ybar) + _mH(ybar) * _half_triangle(k, True, ybar)
    bbar = gq + _conj(q1) @ xbar
    ga = _mT(triangular_solve(r1, _mT(bbar), lower=False, trans="N", unit_diagonal=False))
    if gr2 is not None:
        ga = _shape.concatenate([ga, _conj(q1) @ gr2], axis=-1)
    return ga


# ----- pinv at constant rank: dA⁺ = -A⁺ dA A⁺ + A⁺A⁺ᴴ dAᴴ (I - A A⁺) + (I - A⁺A) dAᴴ A⁺ᴴ A⁺ ----------


def _pinv_jvp(t: Any, ans: Any, a: Any, rcond: Any, hermitian: bool) -> Any:
    p = ans
    if hermitian:
        a, t = _from_triangle(a, True), _from_triangle(t, True)
    th = _mH(t)
    return -p @ t @ p + (p @ _mH(p)) @ (th - (th @ a) @ p) + (th - p @ (a @ th)) @ (_mH(p) @ p)


def _pinv_vjp(g: Any, ans: Any, a: Any, rcond: Any, hermitian: bool) -> Any:
    p, pc = ans, _conj(ans)
    if hermitian:
        a = _from_triangle(a, True)
    ac, gh = _conj(a), _mH(g)
    ga = -_mT(p) @ g @ _mT(p) + (gh - ac @ (pc @ gh)) @ (pc @ _mT(p)) + (_mT(p) @ pc) @ (gh - (gh @ pc) @ ac)
    return _to_triangle(ga, True) if hermitian else ga


# fmt: off
# ----- inverses and solves ---------------------------------------------------------------------
defvjp(_inv,      lambda g, ans, a: -_mT(ans) @ g @ _mT(ans))
defjvp(_inv,      lambda t, ans, a: -ans @ t @ ans)
defvjp(_solve,    _solve_vjp_a,
                  _solve_vjp_b)
defjvp(_solve,    lambda t, ans, a, b: -_solve(a, t @ ans),
                  lambda t, ans, a, b: _solve(a, t))
defvjp(triangular_solve, _tri_vjp_a, _tri_vjp_b)
defjvp(triangular_solve, _tri_jvp_a, _tri_jvp_b)
defvjp(_pinv,     _pinv_vjp)
defjvp(_pinv,     _pinv_jvp)
# ----- determinants ------------------------------------------------------------------------------
defvjp(_det,      lambda g, ans, a: _col(_col(g)) * _mT(_adjugate(a)))
defjvp(_det,      lambda t, ans, a: einsum("...ij,...ji->...", _adjugate(a), t))
defvjp(_adjugate, _adjugate_vjp)
defjvp(_adjugate, _adjugate_jvp)
defvjp(_slogdet,  _slogdet_vjp)
defjvp(_slogdet,  _slogdet_jvp)
# ----- decompositions ----------------------------------------------------------------------------
defvjp(_cholesky, _cholesky_vjp)
defjvp(_cholesky, _cholesky_jvp)
defvjp(_eig,      _eig_vjp)
defjvp(_eig,      _eig_jvp)
defvjp(_eigh,     _eigh_vjp)
defjvp(_eigh,     _eigh_jvp)
defvjp(_svd,      _svd_vjp)
defjvp(_svd,      _svd_jvp)
defvjp(_qr,       _qr_vjp)
defjvp(_qr,       _qr_jvp)
# fmt: on

matrix_rank = nondiff(np.linalg.matrix_rank)


# ----- the NumPy API ----------------------------------------------------------------------------


def _traced(items: Any) -> bool:
    return any(isinstance(x, Var) or (isinstance(x, (list, tuple)) and _traced(x)) for x in items)


def _numpy_when_plain(np_function: Any) -> Callable[[Any], Any]:
    """Register the decorated function for ``numpy.linalg.<f>(traced)`` and, where nothing is
    traced, call NumPy's own: built from other operations, it would round differently.
    A list or tuple holding traced values is read as one array, as NumPy reads it (but
    multi_dot's first argument is a sequence of arrays)."""

    def register(fun: Any) -> Any:
        @functools.wraps(fun)
        def call(*args: Any, **kwargs: Any) -> Any:
            if _traced(args) or _traced(kwargs.values()):
                if np_function is not np.linalg.multi_dot:
                    args = tuple(array_like(a) if isinstance(a, (list, tuple)) else a for a in args)
                return fun(*args, **kwargs)
            return np_function(*args, **kwargs)

        return function(np_function)(call)

    return register


def _matrices(name: str, a: Any, square: bool = True) -> tuple[int, ...]:
    """The shape of `a`, checked to be a (stack of) (square) matrices."""
    shape = _shape.shape_of(a)
    if len(shape) < 2:
        raise LinAlgError(
            f"lagrad.numpy.linalg.{name}: {len(shape)}-dimensional array given; it needs a matrix "
            f"or a stack of matrices (..., M, {'M' if square else 'N'})"
        )
    if square and shape[-1] != shape[-2]:
        raise LinAlgError(f"lagrad.numpy.linalg.{name}: the last two dimensions {shape[-2:]} must be square")
    return shape


@function(np.linalg.inv)
def inv(a: Any) -> Any:
    """The inverse of each matrix of `a`."""
    _matrices("inv", a)
    return _inv(a)


@function(np.linalg.solve)
def solve(a: Any, b: Any) -> Any:
    """x with ``a @ x = b``; `b` is a vector when 1-D, else a stack of matrices (NumPy 2)."""
    _matrices("solve", a)
    if len(_shape.shape_of(b)) == 1:
        return _shape.squeeze(_solve(a, _shape.expand_dims(b, -1)), -1)
    return _solve(a, b)


@function(np.linalg.det)
def det(a: Any) -> Any:
    """The determinant; its derivative is the transposed adjugate, exact for singular matrices too."""
    _matrices("det", a)
    return _det(a)


@function(np.linalg.slogdet)
def slogdet(a: Any) -> SlogdetResult:
    """(sign, log|det|): the sign has a derivative only for complex matrices (real: piecewise constant)."""
    _matrices("slogdet", a)
    result = _slogdet(a)
    return SlogdetResult(result[0], result[1])


@function(np.linalg.cholesky)
def cholesky(a: Any, /, *, upper: bool = False) -> Any:
    """The Cholesky factor L (``L Lᴴ = a``), or ``U = Lᴴ`` with `upper`, reading a's lower
    (upper) triangle only, as NumPy does."""
    _matrices("cholesky", a)
    return _cholesky(a, upper=bool(upper))


def _uplo(name: str, UPLO: str) -> bool:
    uplo = str(UPLO).upper()
    if uplo not in ("L", "U"):
        raise ValueError(f"lagrad.numpy.linalg.{name}: UPLO must be 'L' or 'U', not {UPLO!r}")
    return uplo == "L"


@function(np.linalg.eig)
def eig(a: Any) -> EigResult:
    """Eigenvalues and unit eigenvectors of a general square matrix (complex where NumPy's are).

    The derivatives assume distinct eigenvalues (tied ones share theirs; vectors at a tie
    give NaN). An eigenvector's phase is LAPACK's choice: only phase-invariant functions of
    complex eigenvectors have a derivative (real eigenvectors are fine as they are).
    """
    _matrices("eig", a)
    result = _eig(a)
    return EigResult(result[0], result[1])


@_numpy_when_plain(np.linalg.eigvals)
def eigvals(a: Any) -> Any:
    """Eigenvalues of a general square matrix; their derivative is diag(V⁻¹ dA V)."""
    return eig(a).eigenvalues


@function(np.linalg.eigh)
def eigh(a: Any, UPLO: str = "L") -> EighResult:
    """Eigenvalues (ascending) and eigenvectors of the Hermitian matrix read from one triangle.

    Eigenvector derivatives assume distinct eigenvalues (NaN where a tie meets them);
    tied eigenvalues share their derivative evenly (see the module docstring).
    """
    _matrices("eigh", a)
    result = _eigh(a, lower=_uplo("eigh", UPLO))
    return EighResult(result[0], result[1])


@_numpy_when_plain(np.linalg.eigvalsh)
def eigvalsh(a: Any, UPLO: str = "L") -> Any:
    """Eigenvalues (ascending) of the Hermitian matrix read from one triangle; tied
    eigenvalues share their derivative evenly."""
    return eigh(a, UPLO).eigenvalues


@_numpy_when_plain(np.linalg.svd)
def svd(a: Any, full_matrices: bool = True, compute_uv: bool = True, hermitian: bool = False) -> Any:
    """U, S, Vh with ``a = U diag(S) Vh``; S only without `compute_uv`.

    Singular vector derivatives assume distinct nonzero singular values (NaN where a tie
    or a zero meets them); tied singular values share their derivative evenly. The extra
    columns of `full_matrices` are a basis of a complement: their derivative is one choice.
    """
    m, n = _matrices("svd", a, square=False)[-2:]
    full = bool(full_matrices) and bool(compute_uv) and m != n
    result = _svd(a, full_matrices=full, hermitian=bool(hermitian))
    return SVDResult(result[0], result[1], result[2]) if compute_uv else result[1]


@_numpy_when_plain(np.linalg.svdvals)
def svdvals(x: Any, /) -> Any:
    """The singular values, descending."""
    return svd(x, compute_uv=False)


@function(np.linalg.qr)
def qr(a: Any, mode: str = "reduced") -> Any:
    """Q, R with ``a = Q R`` (mode "reduced" or "complete"), or R alone (mode "r").

    The derivative needs the leading min(M, N) columns of `a` to be independent.
    """
    m, n = _matrices("qr", a, square=False)[-2:]
    if mode not in ("reduced", "complete", "r"):
        raise ValueError(f"lagrad.numpy.linalg.qr: mode {mode!r} is not supported; use 'reduced', 'complete' or 'r'")
    result = _qr(a, complete=mode == "complete" and m > n)
    return result[1] if mode == "r" else QRResult(result[0], result[1])


_NO_VALUE = object()


@function(np.linalg.pinv)
def pinv(a: Any, rcond: Any = None, hermitian: bool = False, *, rtol: Any = _NO_VALUE) -> Any:
    """The Moore–Penrose pseudo-inverse; its derivative holds where the rank is locally constant
    (singular values below the cutoff exactly zero)."""
    shape = _matrices("pinv", a, square=False)
    if rcond is None:
        if rtol is _NO_VALUE:
            rcond = 1e-15
        elif rtol is None:
            rcond = max(shape[-2:]) * np.finfo(np.result_type(_shape_dtype(a), float)).eps
        else:
            rcond = rtol
    elif rtol is not _NO_VALUE:
        raise ValueError("lagrad.numpy.linalg.pinv: give rcond or rtol, not both")
    return _pinv(a, rcond=rcond, hermitian=bool(hermitian))


def _shape_dtype(a: Any) -> Any:
    return a.dtype if hasattr(a, "dtype") else np.asarray(a).dtype


@_numpy_when_plain(np.linalg.lstsq)
def lstsq(a: Any, b: Any, rcond: Any = None) -> tuple[Any, Any, Any, Any]:
    """(x, residuals, rank, s): the minimum-norm least-squares solution ``pinv(a) @ b``,
    differentiable where the rank is locally constant; residuals and singular values are
    differentiable too, rank is an integer."""
    m, n = _matrices("lstsq", a, square=False)
    b_shape = _shape.shape_of(b)
    if len(b_shape) not in (1, 2) or b_shape[0] != m:
        raise LinAlgError(f"lagrad.numpy.linalg.lstsq: b must have shape ({m},) or ({m}, K), not {b_shape}")
    if rcond is None:
        rcond = np.finfo(np.result_type(_shape_dtype(a), float)).eps * max(m, n)
    rank = matrix_rank(a, rtol=rcond)
    x = pinv(a, rcond=rcond) @ b
    if rank == n and m > n:
        r = b - a @ x
        residuals = _red.sum(_abs2(r), axis=0)
        residuals = _shape.reshape(residuals, (1,)) if len(b_shape) == 1 else residuals
    else:
        residuals = np.empty((0,), dtype=np.result_type(_shape_dtype(a), float))
    return x, residuals, rank, svdvals(a)


@_numpy_when_plain(np.linalg.matrix_power)
def matrix_power(a: Any, n: int) -> Any:
    """``a @ a @ … @ a`` (n times) by repeated squaring; inverse powers for negative n."""
    shape = _matrices("matrix_power", a)
    n = operator.index(n)
    if n == 0:
        return np.broadcast_to(np.eye(shape[-1], dtype=np.result_type(_shape_dtype(a))), shape).copy()
    if n < 0:
        a, n = inv(a), -n
    result, square = None, a
    while True:
        if n & 1:
            result = square if result is None else matmul(result, square)
        n >>= 1
        if not n:
            return result
        square = matmul(square, square)


def _chain_order(dims: list[int]) -> list[list[int]]:
    """split[i][j]: where the cheapest product of matrices i..j splits (dynamic programming)."""
    n = len(dims) - 1
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j], split[i][j] = min(
                (cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1], k) for k in range(i, j)
            )
    return split


@_numpy_when_plain(np.linalg.multi_dot)
def multi_dot(arrays: Any, *, out: Any = None) -> Any:
    """The product of the arrays, multiplied in the cheapest order; the first and last may be 1-D."""
    if out is not None:
        raise TypeError("lagrad.numpy.linalg.multi_dot: out= is not supported on traced values; use the result")
    arrays = list(arrays)
    if len(arrays) < 2:
        raise ValueError("lagrad.numpy.linalg.multi_dot: expecting at least two arrays")
    first, last = len(_shape.shape_of(arrays[0])), len(_shape.shape_of(arrays[-1]))
    if first == 1:
        arrays[0] = _shape.expand_dims(arrays[0], 0)
    if last == 1:
        arrays[-1] = _shape.expand_dims(arrays[-1], -1)
    shapes = [_shape.shape_of(x) for x in arrays]
    if any(len(s) != 2 for s in shapes):
        raise ValueError("lagrad.numpy.linalg.multi_dot: the arrays must be 2-D (the first and last may be 1-D)")
    split = _chain_order([shapes[0][0]] + [s[1] for s in shapes])

    def product(i: int, j: int) -> Any:
        if i == j:
            return arrays[i]
        return matmul(product(i, split[i][j]), product(split[i][j] + 1, j))

    result = product(0, len(arrays) - 1)
    if first == 1 and last == 1:
        return _shape.reshape(result, ())
    if first == 1:
        return _shape.squeeze(result, 0)
    return _shape.squeeze(result, -1) if last == 1 else result


@_numpy_when_plain(np.linalg.tensorinv)
def tensorinv(a: Any, ind: int = 2) -> Any:
    """The inverse of `a` read as a matrix from its first `ind` axes to the rest."""
    shape = _shape.shape_of(a)
    if ind <= 0:
        raise ValueError("lagrad.numpy.linalg.tensorinv: ind must be a positive integer")
    out, rest = shape[:ind], shape[ind:]
    return _shape.reshape(inv(_shape.reshape(a, (int(np.prod(out)), -1))), (*rest, *out))


@_numpy_when_plain(np.linalg.tensorsolve)
def tensorsolve(a: Any, b: Any, axes: Any = None) -> Any:
    """x with ``tensordot(a, x, x.ndim) = b``."""
    shape = _shape.shape_of(a)
    if axes is not None:
        order = [k for k in range(len(shape)) if k not in [ax % len(shape) for ax in axes]]
        a = _shape.transpose(a, order + [ax % len(shape) for ax in axes])
        shape = _shape.shape_of(a)
    b_ndim = len(_shape.shape_of(b))
    x_shape = shape[b_ndim:]
    size = int(np.prod(x_shape))
    return _shape.reshape(solve(_shape.reshape(a, (-1, size)), _shape.ravel(b)), x_shape)


# ----- norms: built from lagrad operations; at 0 (not differentiable) the derivative is 0 ---------


def _abs2(x: Any) -> Any:
    return real(x * conjugate(x)) if _complex(x) else x * x


def _safe_sqrt(s: Any) -> Any:
    zero = s == 0
    return where(zero, 0.0, sqrt(where(zero, 1.0, s)))


def _modulus(x: Any) -> Any:
    return _safe_sqrt(_abs2(x)) if _complex(x) else absolute(x)


def _vector_norm(x: Any, ord: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    if ord == 2:
        return _safe_sqrt(_red.sum(_abs2(x), axis=axes, keepdims=keepdims))
    if ord == np.inf:
        return _red.max(_modulus(x), axis=axes, keepdims=keepdims)
    if ord == -np.inf:
        return _red.min(_modulus(x), axis=axes, keepdims=keepdims)
    if ord == 0:  # a count: no derivative
        return _red.sum(_shape.astype(x != 0, np.finfo(x.dtype).dtype), axis=axes, keepdims=keepdims)
    if ord == 1:
        return _red.sum(_modulus(x), axis=axes, keepdims=keepdims)
    m = _modulus(x)
    # |x|^p for p < 1 has an infinite slope at 0: a zero entry gets 0 (as abs), in both modes
    s = _red.sum(where(m == 0, 0.0, m) ** ord, axis=axes, keepdims=keepdims)
    zero = s == 0
    return where(zero, 0.0, where(zero, 1.0, s) ** (1.0 / ord))


def _svd_norm(x: Any, ord: Any, axes: tuple[int, int]) -> Any:
    s = svdvals(_shape.moveaxis(x, axes, (-2, -1)))
    if ord == "nuc":
        return _red.sum(s, axis=-1)
    return getitem(s, (Ellipsis, 0 if ord == 2 else -1))


def _matrix_norm(x: Any, ord: Any, axes: tuple[int, int], keepdims: bool) -> Any:
    row, col = axes
    if ord in ("fro", "f", None):
        return _vector_norm(x, 2, tuple(sorted(axes)), keepdims)
    if ord in ("nuc", 2, -2):
        result = _svd_norm(x, ord, axes)
        if keepdims:
            result = _shape.reshape(result, _red.kept_shape(_shape.shape_of(x), axes))
        return result
    if ord in (1, -1):
        inner, outer = row, col
    elif ord in (np.inf, -np.inf):
        inner, outer = col, row
    else:
        raise ValueError(f"lagrad.numpy.linalg.norm: invalid norm order {ord!r} for matrices")
    sums = _red.sum(_modulus(x), axis=inner, keepdims=True)
    reduce = _red.max if ord in (1, np.inf) else _red.min
    result = reduce(sums, axis=outer, keepdims=True)
    return result if keepdims else _shape.squeeze(result, tuple(sorted(axes)))


def _axes(axis: Any, ndim: int, name: str) -> tuple[int, ...]:
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    out = tuple(_red.normalize_axes(a, ndim)[0] for a in axes)
    if len(set(out)) != len(out):
        raise ValueError(f"lagrad.numpy.linalg.{name}: duplicate axes in {axis!r}")
    return out


@_numpy_when_plain(np.linalg.norm)
def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Any:
    """Vector and matrix norms of every order NumPy has (vectors: any p, ±inf, 0 — a count
    without derivative; matrices: 'fro', 'nuc', ±1, ±2, ±inf), over `axis`, with `keepdims`."""
    ndim = len(_shape.shape_of(x))
    if axis is None:
        if ord is None or (ord in ("f", "fro") and ndim == 2) or (ord == 2 and ndim == 1):
            return _vector_norm(x, 2, tuple(range(ndim)), bool(keepdims))
        if ndim not in (1, 2):
            raise ValueError("lagrad.numpy.linalg.norm: improper number of dimensions to norm")
        axis = tuple(range(ndim))
    axes = _axes(axis, ndim, "norm")
    if len(axes) == 1:
        if isinstance(ord, str):
            raise ValueError(f"lagrad.numpy.linalg.norm: invalid norm order {ord!r} for vectors")
        return _vector_norm(x, 2 if ord is None else ord, axes, bool(keepdims))
    if len(axes) == 2:
        return _matrix_norm(x, ord, axes, bool(keepdims))
    raise ValueError("lagrad.numpy.linalg.norm: improper number of dimensions to norm")


@_numpy_when_plain(np.linalg.vector_norm)
def vector_norm(x: Any, /, *, axis: Any = None, keepdims: bool = False, ord: Any = 2) -> Any:
    """The vector norm over `axis` (None: all axes, as one vector)."""
    ndim = len(_shape.shape_of(x))
    axes = tuple(range(ndim)) if axis is None else tuple(sorted(_axes(axis, ndim, "vector_norm")))
    if isinstance(ord, str):
        raise ValueError(f"lagrad.numpy.linalg.vector_norm: invalid norm order {ord!r} for vectors")
    return _vector_norm(x, ord, axes, bool(keepdims))


@_numpy_when_plain(np.linalg.matrix_norm)
def matrix_norm(x: Any, /, *, keepdims: bool = False, ord: Any = "fro") -> Any:
    """The matrix norm of each matrix of `x` (the last two axes)."""
    ndim = len(_matrices("matrix_norm", x, square=False))
    return _matrix_norm(x, ord, (ndim - 2, ndim - 1), bool(keepdims))


@_numpy_when_plain(np.linalg.cond)
def cond(x: Any, p: Any = None) -> Any:
    """The condition number in norm `p` (None: the 2-norm's, by singular values)."""
    _matrices("cond", x, square=p not in (None, 2, -2))
    if p in (None, 2, -2):
        s = svdvals(x)
        big, small = getitem(s, (Ellipsis, 0)), getitem(s, (Ellipsis, -1))
        return big / small if p != -2 else small / big
    return norm(x, p, axis=(-2, -1)) * norm(inv(x), p, axis=(-2, -1))


# ----- NumPy 2's linalg aliases of array functions ----------------------------------------------


@function(np.linalg.matmul)
def _matmul(x1: Any, x2: Any, /) -> Any:
    return matmul(x1, x2)


@function(np.linalg.tensordot)
def _tensordot(x1: Any, x2: Any, /, *, axes: Any = 2) -> Any:
    return tensordot(x1, x2, axes)


@function(np.linalg.diagonal)
def diagonal(x: Any, /, *, offset: int = 0) -> Any:
    """The diagonals of the matrices of `x` (the last two axes)."""
    return _indexing.diagonal(x, offset, -2, -1)


@function(np.linalg.trace)
def trace(x: Any, /, *, offset: int = 0, dtype: Any = None) -> Any:
    """The traces of the matrices of `x` (the last two axes)."""
    return _indexing.trace(x, offset, -2, -1, dtype)


@function(np.linalg.outer)
def outer(x1: Any, x2: Any, /) -> Any:
    """The outer product of two vectors."""
    if len(_shape.shape_of(x1)) != 1 or len(_shape.shape_of(x2)) != 1:
        raise ValueError("lagrad.numpy.linalg.outer: both inputs must be 1-D")
    return _products.outer(x1, x2)


@function(np.linalg.cross)
def cross(x1: Any, x2: Any, /, *, axis: int = -1) -> Any:
    """The cross product of 3-vectors along `axis`."""
    return _products.cross(x1, x2, axis=axis)


@function(np.linalg.matrix_transpose)
def matrix_transpose(x: Any, /) -> Any:
    """Each matrix of `x` transposed (the last two axes swapped)."""
    if len(_shape.shape_of(x)) < 2:
        raise ValueError("lagrad.numpy.linalg.matrix_transpose: the input must be at least 2-D")
    return _mT(x)


@_numpy_when_plain(np.linalg.vecdot)
def vecdot(x1: Any, x2: Any, /, *, axis: int = -1) -> Any:
    """``sum(conj(x1) * x2, axis)``: the dot product of vectors along `axis`, broadcasting."""
    x1 = conjugate(x1) if numpy_dtype(_shape_dtype(x1)).kind == "c" else x1
    return _red.sum(x1 * x2, axis=axis)
