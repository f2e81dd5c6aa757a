"""numpy.linalg: every function against NumPy's values and finite differences (both modes, second
order), on stacks of matrices, real and complex, with the conventions the module documents."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import lagrad
import lagrad.numpy as lnp
from lagrad.testing import check_grads
from tests.conftest import rand
from tests.helpers import check

la = lnp.linalg


def traced(f: Any, *args: Any) -> Any:
    """f's value computed on traced arguments (plain arrays go to NumPy's own functions)."""
    return lagrad.vjp(f, *args)[0]


def crand(*shape: int) -> np.ndarray:
    return rand(*shape) + 1j * rand(*shape)


def spd(x: Any) -> Any:
    """A symmetric (Hermitian) positive definite matrix from free parameters x (..., n, n)."""
    n = x.shape[-1]
    return x @ lnp.conj(lnp.swapaxes(x, -1, -2)) + n * np.eye(n)


def sym(x: Any) -> Any:
    return x + lnp.conj(lnp.swapaxes(x, -1, -2))


def well(*shape: int) -> np.ndarray:
    """A well-conditioned (stack of) square matrices."""
    return rand(*shape) + 2 * np.eye(shape[-1])


# ----- inverses, solves, determinants ----------------------------------------------------------


@pytest.mark.parametrize("shape", [(3, 3), (2, 3, 3)], ids=str)
@pytest.mark.parametrize("kind", ["real", "complex"])
def test_inv_det_slogdet(shape, kind):
    a = well(*shape) if kind == "real" else well(*shape) + 0.5j * rand(*shape)
    assert np.allclose(la.inv(a), np.linalg.inv(a))
    assert np.allclose(la.det(a), np.linalg.det(a))
    assert np.allclose(la.slogdet(a).logabsdet, np.linalg.slogdet(a).logabsdet)
    check(la.inv, a)
    check(la.det, a)
    check(lambda a: tuple(la.slogdet(a)), a)  # complex: the sign is differentiable too


@pytest.mark.parametrize(
    "a_shape,b_shape",
    [
        ((3, 3), (3,)),
        ((3, 3), (3, 2)),
        ((2, 3, 3), (3,)),
        ((2, 3, 3), (3, 1)),
        ((3, 3), (2, 3, 2)),
        ((1, 3, 3), (2, 3, 2)),
    ],
    ids=str,
)
def test_solve_vector_matrix_and_batch(a_shape, b_shape):
    a, b = well(*a_shape), rand(*b_shape)
    assert np.allclose(la.solve(a, b), np.linalg.solve(a, b))
    check(la.solve, a, b)


def test_solve_complex():
    check(la.solve, well(3, 3) + 0.5j * rand(3, 3), crand(3, 2))


def _cofactors(m: np.ndarray) -> np.ndarray:
    """C[i, j] = (-1)^(i+j) det(m without row i and column j): the gradient of det, by minors."""
    n = m.shape[0]
    return np.array(
        [[(-1) ** (i + j) * np.linalg.det(np.delete(np.delete(m, i, 0), j, 1)) for j in range(n)] for i in range(n)]
    )


@pytest.mark.parametrize(
    "m",
    [
        np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]),  # rank 2: the adjugate has rank one
        np.outer([1.0, 2.0, 3.0], [1.0, -1.0, 0.5]),  # rank 1: the adjugate is zero
        np.zeros((2, 2)),
    ],
    ids=["rank2", "rank1", "zero"],
)
def test_det_of_singular_matrices_differentiates_to_the_adjugate(m):
    assert np.allclose(lagrad.grad(la.det)(m), _cofactors(m), atol=1e-12)
    assert np.allclose(lagrad.jvp(la.det, (m,), (np.ones_like(m),))[1], np.sum(_cofactors(m)), atol=1e-12)
    # atol: the adjugate of a rank-1 matrix is exactly zero, the rule's is rounding (1e-15)
    check(la.det, m, order=2, atol=1e-12)


def test_det_second_derivative_is_exact_at_a_singular_matrix():
    m = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])
    h = lagrad.hessian(la.det)(m).reshape(9, 9)
    # d²det[E, F] = Σ over pairs of rows: the determinant with row i from E and row j from F
    e, f = rand(3, 3), rand(3, 3)
    expected = sum(
        np.linalg.det(np.where(np.arange(3)[:, None] == i, e, np.where(np.arange(3)[:, None] == j, f, m)))
        for i in range(3)
        for j in range(3)
        if i != j
    )
    assert np.isclose(e.ravel() @ h @ f.ravel(), expected)


# ----- cholesky, eigh: the triangle NumPy reads ----------------------------------------------


@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("shape", [(3, 3), (2, 3, 3)], ids=str)
def test_cholesky(upper, shape):
    x = rand(*shape)
    assert np.allclose(la.cholesky(spd(x), upper=upper), np.linalg.cholesky(spd(x), upper=upper))
    check(lambda x: la.cholesky(spd(x), upper=upper), x)
    check(lambda a: la.cholesky(a, upper=upper), spd(x))  # raw: a perturbation of the other triangle is ignored


def test_cholesky_complex_and_triangle_read():
    x = crand(3, 3)
    check(lambda x: la.cholesky(spd(x)), x)
    check(lambda a: la.cholesky(a, upper=True), spd(x))
    a = spd(rand(3, 3))
    g = lagrad.grad(lambda a: lnp.sum(la.cholesky(a) ** 2))(a)
    assert np.all(np.triu(g, 1) == 0)  # NumPy reads the lower triangle: the upper one has no effect


@pytest.mark.parametrize("uplo", ["L", "U"])
@pytest.mark.parametrize("shape", [(3, 3), (2, 3, 3)], ids=str)
def test_eigh(uplo, shape):
    a = sym(rand(*shape))
    w, v = la.eigh(a, UPLO=uplo)
    w0, v0 = np.linalg.eigh(a, UPLO=uplo)
    assert np.allclose(w, w0) and np.allclose(np.abs(v), np.abs(v0))
    assert np.allclose(traced(lambda a: la.eigvalsh(a, UPLO=uplo), a), np.linalg.eigvalsh(a, UPLO=uplo))
    check(lambda a: tuple(la.eigh(a, UPLO=uplo)), a)
    check(lambda x: la.eigvalsh(sym(x), UPLO=uplo), rand(*shape))


def test_eigh_complex_through_phase_invariant_functions():
    def spectral(a):
        w, v = la.eigh(a)
        return (v * w[..., None, :] ** 2) @ lnp.conj(lnp.swapaxes(v, -1, -2)), lnp.real(v * lnp.conj(v))

    check(spectral, sym(crand(3, 3)))
    check(la.eigvalsh, sym(crand(2, 3, 3)))


def test_tied_eigenvalues_share_their_derivative():
    a = np.diag([1.0, 1.0, 2.0])
    assert np.allclose(lagrad.grad(lambda a: la.eigvalsh(a)[0])(a), np.diag([0.5, 0.5, 0.0]))
    assert np.allclose(lagrad.grad(lambda a: la.eigvalsh(a)[-1])(np.eye(3)), np.eye(3) / 3)
    # exact for functions symmetric in the tied values, in any basis of the eigenspace
    q = np.linalg.qr(rand(3, 3))[0]
    b = q @ a @ q.T
    g = lagrad.grad(lambda a: la.eigvalsh(a)[0] + la.eigvalsh(a)[1])(b)
    projector = np.eye(3) - np.outer(q[:, 2], q[:, 2])
    assert np.allclose((g + g.T) / 2, projector)  # g gathers the symmetric gradient into the lower triangle


def test_eigenvectors_at_a_tie_are_nan_not_silently_wrong():
    a = np.diag([1.0, 1.0, 2.0])
    assert np.all(np.isnan(lagrad.grad(lambda a: la.eigh(a).eigenvectors[0, 0])(a)))
    _, (dw, dv) = lagrad.jvp(lambda a: tuple(la.eigh(a)), (a,), (sym(rand(3, 3)),))
    assert np.all(np.isfinite(dw)) and np.isnan(dv).any()
    # the eigenvector of the distinct eigenvalue stays differentiable
    g = lagrad.grad(lambda a: la.eigh(a).eigenvectors[0, 2])(a)
    assert np.all(np.isfinite(g))


# ----- eig: general matrices --------------------------------------------------------------------


def test_eig_real_eigenvalues():
    q = well(3, 3)
    a = q @ np.diag([1.0, 2.0, 3.0]) @ np.linalg.inv(q)  # not symmetric, real spectrum: real unit eigenvectors
    w, v = la.eig(a)
    assert np.allclose(w, np.linalg.eig(a)[0]) and np.allclose(v, np.linalg.eig(a)[1])
    check(lambda a: tuple(la.eig(a)), a)


@pytest.mark.parametrize("kind", ["real", "complex", "batch"])
def test_eig_complex_spectrum_through_phase_invariant_functions(kind):
    a = {"real": rand(3, 3), "complex": crand(3, 3), "batch": crand(2, 3, 3)}[kind]
    assert np.allclose(traced(la.eigvals, a), np.linalg.eigvals(a))

    def invariant(a):
        w, v = la.eig(a)
        return la.eigvals(a), (v * w[..., None, :] ** 2) @ la.inv(v), lnp.real(v * lnp.conj(v))

    check(invariant, a)


def test_eig_ties():
    assert np.allclose(lagrad.grad(lambda a: lnp.real(la.eigvals(a)[0]))(np.eye(3)), np.eye(3) / 3)
    assert np.all(np.isnan(lagrad.grad(lambda a: la.eig(a).eigenvectors[0, 0])(np.eye(3))))


# ----- svd ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(3, 3), (4, 2), (2, 4), (2, 3, 2)], ids=str)
def test_svd_reduced(shape):
    a = rand(*shape)
    u, s, vh = la.svd(a, full_matrices=False)
    assert np.allclose(traced(la.svdvals, a), np.linalg.svd(a, compute_uv=False))
    assert np.allclose((u * s[..., None, :]) @ vh, a)
    check(lambda a: tuple(la.svd(a, full_matrices=False)), a)
    check(la.svdvals, a)


@pytest.mark.parametrize("shape", [(4, 2), (2, 4)], ids=str)
def test_svd_full_matrices_through_the_complement(shape):
    a = rand(*shape)
    assert np.allclose(la.svd(a)[0], np.linalg.svd(a)[0])

    def complement(a):  # the extra columns are unique as a subspace: check its projector
        u, s, vh = la.svd(a)
        return u[:, 2:] @ u[:, 2:].T, vh[2:].T @ vh[2:], u[:, :2] * s, vh[:2]

    check(complement, a)


def test_svd_complex_and_hermitian():
    def phase_free(a):
        u, s, vh = la.svd(a, full_matrices=False)
        return (u * s[..., None, :] ** 2) @ vh, u @ lnp.conj(lnp.swapaxes(u, -1, -2)), s

    check(phase_free, crand(3, 3))
    check(phase_free, crand(3, 2))
    check(phase_free, crand(2, 3))
    a = spd(rand(3, 3))
    assert np.allclose(la.svd(a, hermitian=True)[1], np.linalg.svd(a, hermitian=True)[1])
    check(lambda a: tuple(la.svd(a, hermitian=True)), a)


def test_tied_singular_values_share_their_derivative():
    assert np.allclose(lagrad.grad(lambda a: la.norm(a, 2))(np.eye(3)), np.eye(3) / 3)
    assert np.all(np.isnan(lagrad.grad(lambda a: la.svd(a)[0][0, 0])(np.eye(2))))


# ----- qr ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(3, 3), (4, 2), (2, 4), (2, 3, 2)], ids=str)
@pytest.mark.parametrize("kind", ["real", "complex"])
def test_qr(shape, kind):
    a = rand(*shape) if kind == "real" else crand(*shape)
    q, r = la.qr(a)
    q0, r0 = np.linalg.qr(a)
    assert np.allclose(q, q0) and np.allclose(r, r0)
    check(lambda a: tuple(la.qr(a)), a)
    check(lambda a: la.qr(a, mode="r"), a, order=2)


def test_qr_complete():
    a = rand(4, 2)
    assert np.allclose(la.qr(a, "complete")[0], np.linalg.qr(a, "complete")[0])

    def complement(a):
        q, r = la.qr(a, mode="complete")
        return q[:, :2], q[:, 2:] @ q[:, 2:].T, r

    check(complement, a)
    check(lambda a: tuple(la.qr(a, "complete")), rand(2, 3))


# ----- norms -------------------------------------------------------------------------------------

VECTOR_ORDS = [None, 2, 1, np.inf, -np.inf, 0, 3, 0.5, -1]
MATRIX_ORDS = [None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf]


@pytest.mark.parametrize("p", VECTOR_ORDS, ids=str)
def test_vector_norms(p):
    x = rand(4)
    assert np.allclose(traced(lambda x: la.norm(x, p), x), np.linalg.norm(x, p))
    check(lambda x: la.norm(x, p), x)
    check(lambda x: la.norm(x, p, axis=1, keepdims=True), rand(2, 3))
    check(lambda x: la.vector_norm(x, ord=2 if p is None else p, axis=(0, 2)), rand(2, 2, 3))


@pytest.mark.parametrize("p", MATRIX_ORDS, ids=str)
def test_matrix_norms(p):
    x = rand(3, 3)
    assert np.allclose(traced(lambda x: la.norm(x, p), x), np.linalg.norm(x, p))
    check(lambda x: la.norm(x, p), x)
    y = rand(2, 3, 4)
    expected = np.linalg.norm(y, p, axis=(2, 0), keepdims=True)
    assert np.allclose(traced(lambda y: la.norm(y, p, axis=(2, 0), keepdims=True), y), expected)
    check(lambda y: la.norm(y, p, axis=(2, 0), keepdims=True), y, order=2)
    check(lambda y: la.matrix_norm(y, ord="fro" if p is None else p), y, order=2)


@pytest.mark.parametrize("p", [None, 1, np.inf, 3, "fro", "nuc", 2], ids=str)
def test_complex_norms(p):
    x = crand(3, 3) if isinstance(p, str) or p == 2 else crand(4)
    assert np.allclose(traced(lambda x: la.norm(x, p), x), np.linalg.norm(x, p))
    check(lambda x: la.norm(x, p), x)


def test_norm_at_zero_has_zero_derivative_and_ord0_none():
    assert np.array_equal(lagrad.grad(la.norm)(np.zeros(3)), np.zeros(3))
    assert np.array_equal(lagrad.grad(lambda x: la.norm(x, 3))(np.zeros(3)), np.zeros(3))
    assert np.array_equal(lagrad.grad(lambda x: la.norm(x, 0))(np.array([0.0, 2.0, -1.0])), np.zeros(3))
    assert traced(lambda x: la.norm(x, 0), np.array([0.0, 2.0, -1.0])) == 2


@pytest.mark.parametrize("p", [0.5, 0.3, -1.0, -2.5])
def test_norm_below_one_at_a_zero_entry_is_zero_in_both_modes(p):
    """|x|^p has an infinite slope at 0 for p < 1 (no subgradient either): the entry gets 0,
    as abs and ord=1 do; reverse mode gave NaN there (∞ times sign 0) and forward mode 0."""
    x = np.array([0.0, 3.0, -4.0])
    total = 3.0**p + 4.0**p
    want = np.array([0.0, 3.0 ** (p - 1), -(4.0 ** (p - 1))]) * total ** (1 / p - 1)
    if p < 0:  # |0|^p = inf: the norm is 0 near x = 0 and its derivative 0
        want = np.zeros(3)
    with np.errstate(divide="ignore"):  # 0**p for p < 0
        for mode in ("rev", "fwd"):
            assert np.allclose(lagrad.jacobian(lambda x: la.norm(x, p), mode=mode)(x), want, rtol=1e-14, atol=0)
        rows = np.stack([x, x + 1.0])
        assert np.allclose(lagrad.grad(lambda x: la.norm(x, p, axis=1)[0])(rows)[0], want, rtol=1e-14, atol=0)


# ----- pinv, lstsq, powers, products -----------------------------------------------------------


@pytest.mark.parametrize("shape", [(3, 2), (2, 3), (2, 2, 3)], ids=str)
def test_pinv(shape):
    a = rand(*shape)
    assert np.allclose(la.pinv(a), np.linalg.pinv(a))
    check(la.pinv, a)


def test_pinv_at_constant_rank_complex_and_hermitian():
    # rank one throughout: the derivative holds although the matrix is singular
    check(lambda x, y: la.pinv(x @ y), rand(3, 1), rand(1, 3))
    check(la.pinv, crand(2, 3))
    a = spd(rand(3, 3))
    assert np.allclose(la.pinv(a, hermitian=True), np.linalg.pinv(a, hermitian=True))
    check(lambda a: la.pinv(a, hermitian=True), a)


@pytest.mark.parametrize("b_shape", [(4,), (4, 2)], ids=str)
def test_lstsq(b_shape):
    a, b = rand(4, 3), rand(*b_shape)
    x, res, rank, s = traced(lambda a, b: la.lstsq(a, b), a, b)
    x0, res0, rank0, s0 = np.linalg.lstsq(a, b)
    assert np.allclose(x, x0) and np.allclose(res, res0) and rank == rank0 and np.allclose(s, s0)
    check(lambda a, b: (la.lstsq(a, b)[0], la.lstsq(a, b)[1]), a, b)
    assert traced(lambda a: la.lstsq(a, np.ones(2))[1], rand(2, 3)).shape == (0,)  # underdetermined, as NumPy


@pytest.mark.parametrize("n", [-3, -1, 0, 1, 2, 5])
def test_matrix_power(n):
    a = well(2, 3, 3) / 2
    assert np.allclose(traced(lambda a: la.matrix_power(a, n), a), np.linalg.matrix_power(a, n))
    if n:
        check(lambda a: la.matrix_power(a, n), a)


@pytest.mark.parametrize("shapes", [[(3,), (3, 2), (2,)], [(2, 3), (3, 4), (4, 1), (1, 2)], [(3,), (3, 2)]], ids=str)
def test_multi_dot(shapes):
    arrays = [rand(*s) for s in shapes]
    assert np.allclose(traced(lambda *xs: la.multi_dot(xs), *arrays), np.linalg.multi_dot(arrays))
    check(lambda *xs: la.multi_dot(xs), *arrays)


def test_tensorinv_tensorsolve_cond():
    a = well(6, 6).reshape(2, 3, 6)
    assert np.allclose(traced(lambda a: la.tensorinv(a, ind=2), a), np.linalg.tensorinv(a, ind=2))
    check(lambda a: la.tensorinv(a, ind=2), a)
    b = rand(2, 3)
    assert np.allclose(traced(la.tensorsolve, a, b), np.linalg.tensorsolve(a, b))
    check(la.tensorsolve, a, b)
    m = well(3, 3)
    for p in [None, 2, -2, 1, "fro", np.inf]:
        assert np.isclose(traced(lambda m: la.cond(m, p), m), np.linalg.cond(m, p))
        check(lambda m: la.cond(m, p), m, order=2)


def test_matrix_rank_has_no_derivative():
    a = rand(3, 3)
    g = lagrad.grad(lambda a: np.linalg.matrix_rank(a) * lnp.sum(a))(a)
    assert np.allclose(g, 3.0)  # the rank is a constant factor


def test_numpy_2_aliases():
    x, y = rand(2, 3), rand(2, 3)
    assert np.allclose(traced(la.vecdot, x, y), np.linalg.vecdot(x, y))
    check(la.vecdot, crand(2, 3), crand(3))
    check(la.matrix_transpose, x)
    check(lambda x, y: np.linalg.matmul(x, y.T), x, y)
    check(lambda x, y: np.linalg.tensordot(x, y, axes=2), x, y)
    check(lambda x, y: np.linalg.vecdot(x, y, axis=0), x, y)
    check(lambda x: np.linalg.matrix_transpose(x), x)


# ----- plain numpy.linalg on traced values (NumPy's __array_function__ dispatch) -----------------


def test_plain_numpy_linalg_dispatches():
    a, x = well(3, 3), rand(3, 3)

    def everything(a, x):
        s = spd(x)
        return (
            np.linalg.inv(a),
            np.linalg.solve(a, x[0]),
            np.linalg.det(a),
            np.linalg.slogdet(a)[1],
            np.linalg.cholesky(s),
            np.linalg.eigh(s)[1],
            np.linalg.eigvalsh(s),
            np.linalg.eigvals(s),
            np.linalg.svd(a)[1],
            np.linalg.svdvals(a),
            np.linalg.qr(a)[0],
            np.linalg.norm(a, "nuc"),
            np.linalg.vector_norm(x),
            np.linalg.matrix_norm(a, ord=1),
            np.linalg.pinv(a),
            np.linalg.lstsq(a, x)[0],
            np.linalg.matrix_power(a, 2),
            np.linalg.multi_dot([a, x, a]),
            np.linalg.cond(a),
            np.linalg.tensorinv(a, ind=1),
            np.linalg.tensorsolve(a, x[0]),
        )

    check(everything, a, x, order=2)


def test_every_function_numpy_linalg_has_and_lagrad_defines_is_public():
    # __all__ is what `from lagrad.numpy.linalg import *` and the plain-NumPy catalogue read:
    # cholesky, defined and dispatched, was once left out of it
    defined = {name for name in np.linalg.__all__ if hasattr(la, name)}
    assert "cholesky" in defined
    assert defined <= set(la.__all__)


# ----- errors ------------------------------------------------------------------------------------


def test_clear_errors():
    with pytest.raises(np.linalg.LinAlgError, match=r"inv: the last two dimensions \(2, 3\) must be square"):
        lagrad.grad(lambda a: lnp.sum(la.inv(a)))(rand(2, 3))
    with pytest.raises(np.linalg.LinAlgError, match="det: 1-dimensional"):
        la.det(rand(3))
    with pytest.raises(ValueError, match="UPLO must be 'L' or 'U'"):
        la.eigh(rand(2, 2), UPLO="X")
    with pytest.raises(ValueError, match="mode 'raw' is not supported"):
        la.qr(rand(2, 2), mode="raw")
    with pytest.raises(ValueError, match="invalid norm order 'fro' for vectors"):
        lagrad.grad(lambda x: la.norm(x, "fro"))(rand(3))
    with pytest.raises(ValueError, match="invalid norm order 3 for matrices"):
        lagrad.grad(lambda x: np.linalg.norm(x, 3))(rand(3, 3))


def test_numpy2_aliases_work_on_the_last_two_axes():
    x, u, v = rand(2, 3, 3), rand(3), rand(3)
    for name, f, args in [
        ("diagonal", lambda m, x: m.linalg.diagonal(x, offset=1), (x,)),
        ("trace", lambda m, x: m.linalg.trace(x), (x,)),
        ("outer", lambda m, u, v: m.linalg.outer(u, v), (u, v)),
        ("cross", lambda m, u, v: m.linalg.cross(u, v), (u, v)),
    ]:
        assert np.allclose(f(lnp, *args), f(np, *args)), name
        check(lambda *a: f(lnp, *a), *args)
        check_grads(lambda *a: f(np, *a), *args, order=1)  # NumPy's dispatch reaches the same rules


@pytest.mark.parametrize("mode", ["rev", "fwd"])
def test_slogdet_at_a_singular_matrix_says_its_derivative_does_not_exist(mode):
    """log|det A| is −∞ at a singular A (NumPy's value) and has no derivative there; the
    solve inside the rule raised a bare 'Singular matrix' naming nothing."""
    a = np.array([[1.0, 2.0], [2.0, 4.0]])
    assert np.linalg.slogdet(a)[1] == -np.inf
    with pytest.raises(np.linalg.LinAlgError, match=r"lagrad\.numpy\.linalg\.slogdet: .*singular"):
        lagrad.jacobian(lambda a: np.linalg.slogdet(a)[1], mode=mode)(a)
