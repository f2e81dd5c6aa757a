"""The adjoint system A λ = b: its matrix in the seed's layout, blocks, residual, solutions."""

from __future__ import annotations

import numpy as np
import pytest

import lagrad
import lagrad.numpy as lnp
from tests.conftest import rand


def small(x, w):
    h = lnp.sin(x @ w)
    return lnp.sum(h * h) + lnp.sum(w)


def test_symbolic_matrix_layout():
    adj = lagrad.adjoint(small, rand(2, 3), rand(3, 2))
    A = adj.matrix("symbolic")
    assert A.shape == (8, 8)
    assert all(A[i, i] == "-1" for i in range(8))
    # z3 = matmul(z1, z2), z4 = sin(z3), z5 = z4*z4, z6 = sum(z5), z7 = sum(z2), z8 = z6 + z7
    assert A.nonzeros() == {(1, 3), (2, 3), (3, 4), (4, 5), (5, 6), (2, 7), (6, 8), (7, 8)}
    assert A[0, 2] == "∂f3/∂z1" and A[3, 4] == "∂f5/∂z4"
    assert "∂f3/∂z1" in str(A)


def test_dense_and_sparse_matrices_are_the_scalar_level_system():
    x, w = rand(2, 3), rand(3, 2)
    adj = lagrad.adjoint(small, x, w)
    dense = adj.matrix("dense")
    sparse = adj.matrix("sparse")
    assert dense.shape == (adj.size, adj.size) == sparse.shape
    assert np.allclose(sparse.toarray(), dense)
    assert np.allclose(np.diag(dense), -1.0)
    assert np.allclose(np.tril(dense, -1), 0.0)  # upper triangular
    # block ∂f3/∂z1: matmul(z1, z2) in z1 — row (i,j) of z1, column (i,k) of z3 holds w[j,k]
    (r0, r1), (c0, c1) = adj.layout[0], adj.layout[2]
    block = dense[r0:r1, c0:c1].reshape(2, 3, 2, 2)
    for i in range(2):
        assert np.allclose(block[i, :, i, :], w)
        assert np.allclose(block[i, :, 1 - i, :], 0.0)
    b = np.concatenate([np.ravel(v) for v in adj.rhs])
    lam = np.linalg.solve(dense, b)
    assert np.allclose(lam[: x.size].reshape(x.shape), lagrad.grad(small)(x, w))


def test_blocks_are_operators():
    x, w = rand(2, 3), rand(3, 2)
    adj = lagrad.adjoint(small, x, w)
    block = adj.block(1, 3)  # ∂f3/∂z1
    assert block.label == "∂f3/∂z1" and block.shape == (6, 4)
    g = rand(2, 2)
    assert np.allclose(block.transpose_apply(g), g @ w.T)
    t = rand(2, 3)
    assert np.allclose(block.apply(t), t @ w)
    assert np.allclose(block.todense(), adj.matrix("dense")[0:6, 12:16])
    with pytest.raises(KeyError, match="is zero"):
        adj.block(1, 4)


def test_multipliers_residual_and_gradients():
    x, w = rand(2, 3), rand(3, 2)
    adj = lagrad.adjoint(small, x, w)
    lam = adj.multipliers
    assert len(lam) == 8 and lam[8] == 1.0 and lam["z8"] == 1.0
    gx, gw = adj.gradients
    ref = lagrad.grad(small, (0, 1))(x, w)
    assert np.allclose(gx, ref[0]) and np.allclose(gw, ref[1])
    assert np.allclose(lam[1], ref[0])
    assert adj.residual() < 1e-14
    h = np.sin(x @ w)
    assert np.allclose(lam[4], 2 * h)  # λ of the intermediate sin(x @ w)
    assert np.allclose(lam[3], 2 * h * np.cos(x @ w))
    assert len(lam.norms()) == 8 and "λ8" in repr(lam)
    with pytest.raises(KeyError):
        lam[9]
    with pytest.raises(KeyError, match="tags"):
        lam["nope"]


def test_a_wrong_solution_has_a_residual():
    adj = lagrad.adjoint(small, rand(2, 3), rand(3, 2))
    good = adj.multipliers
    bad = lagrad.Multipliers([v * 1.01 for v in good.lambdas], adj.program, "perturbed")
    assert adj.residual(bad) > 1e-3


def test_size_limits_and_how_to_raise_them():
    adj = lagrad.adjoint(lambda x: lnp.sum(lnp.sin(x)), rand(60, 40))
    with pytest.raises(ValueError, match="max_size=4801"):
        adj.matrix("dense")
    assert adj.matrix("dense", max_size=5000).shape == (4801, 4801)
    with pytest.raises(ValueError, match="kind must be"):
        adj.matrix("triangular")


def test_non_scalar_output_needs_a_cotangent():
    x = rand(3)
    with pytest.raises(ValueError, match="cotangent="):
        lagrad.adjoint(lnp.sin, x)
    v = rand(3)
    adj = lagrad.adjoint(lnp.sin, x, cotangent=v)
    assert np.allclose(adj.gradients[0], v * np.cos(x))
    assert adj.residual() < 1e-14


def test_unknown_method():
    with pytest.raises(ValueError, match="back_substitution"):
        lagrad.adjoint(small, rand(2, 3), rand(3, 2)).solve("cholesky")


def test_repr():
    assert "nonzero blocks" in repr(lagrad.adjoint(small, rand(2, 3), rand(3, 2)))


def test_complex_variables_count_twice_in_the_scalar_system():
    # under the convention λ = ∂/∂x − i ∂/∂y a complex map is only real-linear, so the scalar-level
    # matrix works on real and imaginary parts separately
    z, x = np.array([1 + 2j, -0.5 + 0.3j]), rand(2)
    f = lambda z, x: lnp.sum(lnp.real(lnp.conj(z) * z) * x + lnp.imag(z * x))
    adj = lagrad.adjoint(f, z, x)
    assert adj.layout[0] == (0, 4) and adj.layout[1] == (4, 6)
    dense = adj.matrix("dense")
    assert dense.dtype == np.float64
    b = np.concatenate(
        [np.ravel(v.real) if not np.iscomplexobj(v) else np.r_[v.real.ravel(), -v.imag.ravel()] for v in adj.rhs]
    )
    lam = np.linalg.solve(dense, b)
    expected_z = 2 * np.conj(z) * x - 1j * x  # ∂/∂x − i ∂/∂y of |z|² x + Im(z) x
    assert np.allclose(lam[:2] - 1j * lam[2:4], expected_z)
    assert np.allclose(adj.multipliers[1], expected_z)
    assert adj.multipliers[2].dtype == np.float64  # a real variable's multiplier is real
    for method in ("forward_substitution", "sparse"):
        assert np.allclose(adj.solve(method)[1], expected_z) and np.allclose(adj.solve(method)[2], adj.multipliers[2])
    assert adj.residual() < 1e-14


def test_scipy_solves_the_scalar_system_with_the_flat_rhs():
    import scipy.sparse.linalg

    adj = lagrad.adjoint(small, rand(2, 3), rand(3, 2))
    lam = scipy.sparse.linalg.spsolve(adj.matrix("sparse").tocsc(), adj.rhs_vector())
    for mine, reference in zip(adj.multipliers_from_vector(lam), adj.multipliers.lambdas):
        assert np.allclose(mine, reference)


def test_the_symbolic_matrix_is_an_object_array_with_the_diagonal_read_from_the_system():
    adj = lagrad.adjoint(small, rand(2, 3), rand(3, 2))
    labels = np.asarray(adj.matrix("symbolic"))
    assert labels.shape == (adj.n, adj.n) and labels.dtype == object
    assert all(labels[i, i] == adj.diagonal(i).label == "-1" for i in range(adj.n))
    assert labels[0, 2] == "∂f3/∂z1"


def test_every_registered_solver_through_every_entry_point():
    from lagrad.adjoint import SOLVERS, register
    from lagrad.adjoint.backward import solve as back

    calls = []

    def counting(system, wanted=None, **options):
        calls.append(wanted)
        return back(system, wanted)

    register("counting", counting)
    try:
        x, w = rand(2, 3), rand(3, 2)
        reference = lagrad.grad(small, (0, 1))(x, w)
        for method in SOLVERS:
            mine = lagrad.grad(small, (0, 1), method=method)(x, w)
            assert all(np.allclose(a, b) for a, b in zip(mine, reference))
            adj = lagrad.adjoint(small, x, w, method=method)
            assert all(np.allclose(a, b) for a, b in zip(adj.gradients, reference))
            assert np.allclose(adj.solve(method)[1], reference[0])
        assert calls == [[0, 1], None]  # grad asks only for the inputs' multipliers; the system caches
    finally:
        del SOLVERS["counting"]


def test_forward_substitution_computes_only_the_wanted_multipliers():
    adj = lagrad.adjoint(small, rand(2, 3), rand(3, 2))
    only = adj.solve("forward_substitution", wanted=[0])
    assert np.allclose(only[1], adj.multipliers[1])
    assert not np.any(only[2]) and not np.any(only[4])


def test_level_schedule_and_the_levels_solver():
    from lagrad.adjoint.levels import schedule

    def branches(x):
        return lnp.sum(lnp.sin(x) * lnp.cos(x)) + lnp.sum(lnp.exp(x))

    adj = lagrad.adjoint(branches, rand(3))
    levels = schedule(adj.program)
    assert levels[0] == [adj.n - 1]  # the output first
    position = {i: lv for lv, members in enumerate(levels) for i in members}
    for eq in adj.program.equations:  # every reader is solved before what it reads
        assert all(position[i] > position[eq.out] for _, i in eq.reads())
    for workers in (1, 4):
        lam = adj.solve("levels", workers=workers)
        assert all(np.allclose(a, b) for a, b in zip(lam.lambdas, adj.multipliers.lambdas))
