"""Implicit equations (`lagrad.implicit`): fixed points, roots and argmins as one equation with
a general diagonal block, against closed forms, finite differences and each other."""

from __future__ import annotations

import numpy as np
import pytest

import lagrad
import lagrad.numpy as lnp
from lagrad.implicit import STRATEGIES, ImplicitBlock
from lagrad.testing import check_grads, check_solvers

rng = np.random.default_rng(11)
N = 4
A = rng.normal(size=(N, N))
A *= 0.6 / np.linalg.norm(A, 2)  # a contraction
B = rng.normal(size=N)
W = 0.3 * rng.normal(size=(3, 3))
X = rng.normal(size=3)


def affine(z, A, b):
    return A @ z + b


def deq(z, W, x):
    return lnp.tanh(W @ z + x)


def deq_loss(W, x, **options):
    return lnp.sum(lagrad.fixed_point(deq, np.zeros(3), W, x, **options) ** 3)


# -- closed forms ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["rev", "fwd"])
def test_a_linear_fixed_point_has_dz_db_the_inverse_of_i_minus_a(mode):
    z = lagrad.fixed_point(affine, np.zeros(N), A, B)
    assert np.allclose(z, np.linalg.solve(np.eye(N) - A, B), rtol=0, atol=1e-10)
    J = lagrad.jacobian(lambda b: lagrad.fixed_point(affine, np.zeros(N), A, b), mode=mode)(B)
    assert np.allclose(J, np.linalg.inv(np.eye(N) - A), rtol=0, atol=1e-8)


def test_a_linear_fixed_point_has_dz_da_in_closed_form():
    z = np.linalg.solve(np.eye(N) - A, B)
    J = lagrad.jacobian(lambda a: lagrad.fixed_point(affine, np.zeros(N), a, B))(A)
    expected = np.einsum("ij,k->ijk", np.linalg.inv(np.eye(N) - A), z)  # dz_i/dA_jk = (I-A)⁻¹_ij z_k
    assert np.allclose(J, expected, rtol=0, atol=1e-8)


def quadratic(z, a, b, c):
    return a * z**2 + b * z + c


def test_the_root_of_a_quadratic_and_its_derivatives():
    a, b, c = np.array(1.0), np.array(-3.0), np.array(2.0)  # roots 1 and 2
    z = lagrad.root(quadratic, np.array(2.6), a, b, c)
    assert abs(z - 2.0) < 1e-12
    grads = lagrad.grad(lambda a, b, c: lagrad.root(quadratic, np.array(2.6), a, b, c), argnums=(0, 1, 2))(a, b, c)
    slope = 2 * a * z + b  # dz/dθ = -(∂F/∂θ) / (∂F/∂z)
    assert np.allclose(grads, [-(z**2) / slope, -z / slope, -1 / slope], rtol=0, atol=1e-8)
    check_grads(lambda a, b, c: lagrad.root(quadratic, np.array(2.6), a, b, c), a, b, c, order=2)


def _ridge(lam, Xd, y):
    return np.linalg.solve(Xd.T @ Xd + lam * np.eye(Xd.shape[1]), Xd.T @ y)


@pytest.mark.parametrize("method", ["newton", "BFGS", "L-BFGS-B"])
def test_ridge_regression_dw_dlambda_in_closed_form(method):
    Xd, y = rng.normal(size=(10, 3)), rng.normal(size=10)

    def loss(w, lam):
        return lnp.sum((Xd @ w - y) ** 2) + lam * lnp.sum(w**2)

    lam = np.array(0.7)
    w = lagrad.argmin(loss, np.zeros(3), lam, method=method)
    assert np.allclose(w, _ridge(lam, Xd, y), rtol=0, atol=1e-9)
    dw = lagrad.jacobian(lambda lam: lagrad.argmin(loss, np.zeros(3), lam, method=method))(lam)
    M = Xd.T @ Xd + lam * np.eye(3)
    assert np.allclose(dw, -np.linalg.solve(M, w), rtol=0, atol=1e-8)  # dw/dλ = -M⁻¹ w


# -- finite differences, Hessians ---------------------------------------------------------------


def test_a_deep_equilibrium_layer_against_finite_differences():
    check_grads(deq_loss, W, X, order=2)


def test_the_hessian_through_a_fixed_point_against_differences_of_the_gradient():
    H = lagrad.hessian(lambda x: deq_loss(W, x))(X)
    gradient = lagrad.grad(deq_loss, argnums=1)
    eps = 1e-6
    columns = [(gradient(W, X + eps * e) - gradient(W, X - eps * e)) / (2 * eps) for e in np.eye(3)]
    assert np.allclose(H, np.stack(columns, axis=1), rtol=0, atol=1e-7)
    assert np.allclose(H, H.T, rtol=0, atol=1e-10)


@pytest.mark.parametrize("solver", ["iterate", "anderson", "newton"])
def test_every_forward_solver_finds_the_same_fixed_point(solver):
    z = lagrad.fixed_point(deq, np.zeros(3), W, X, solver=solver)
    assert np.allclose(z, np.tanh(W @ z + X), rtol=0, atol=1e-11)


def test_a_scipy_root_method():
    a, b, c = np.array(1.0), np.array(-3.0), np.array(2.0)
    z = lagrad.root(quadratic, np.array(0.4), a, b, c, method="hybr")
    assert abs(z - 1.0) < 1e-10


# -- adjoint strategies --------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", [s for s in STRATEGIES if s != "direct"])
def test_every_adjoint_strategy_agrees_with_direct(strategy):
    args = (W, X)
    direct = lagrad.grad(lambda W, x: deq_loss(W, x, adjoint="direct"), argnums=(0, 1))(*args)
    other = lagrad.grad(lambda W, x: deq_loss(W, x, adjoint=strategy), argnums=(0, 1))(*args)
    for d, o in zip(direct, other):
        assert np.allclose(o, d, rtol=0, atol=1e-9)
    jd = lagrad.jacobian(lambda x: lagrad.fixed_point(deq, np.zeros(3), W, x, adjoint="direct"), mode="fwd")(X)
    jo = lagrad.jacobian(lambda x: lagrad.fixed_point(deq, np.zeros(3), W, x, adjoint=strategy), mode="fwd")(X)
    assert np.allclose(jo, jd, rtol=0, atol=1e-9)


def test_auto_is_direct_for_small_states_then_neumann_for_fixed_points_sparse_or_gmres_for_roots():
    small = ImplicitBlock(deq, np.zeros(3), (W, X), shift=-1.0)
    large = ImplicitBlock(lambda z: z, np.zeros(1200), (), shift=-1.0)
    sparse = ImplicitBlock(lambda z: z[::-1] + z**2, np.zeros(1200), (), shift=0.0)  # 2 nonzeros a row
    M = np.ones((1200, 1200))
    dense = ImplicitBlock(lambda z, M: M @ z, np.zeros(1200), (M,), shift=0.0)
    strategies = [b.strategy for b in (small, large, sparse, dense)]
    assert strategies == ["direct", "neumann", "sparse", "gmres"]
    assert large.fallback and not sparse.fallback and not dense.fallback


def test_auto_gives_way_to_gmres_when_the_neumann_series_diverges():
    b = np.linspace(-1.0, 1.0, 1500)  # z = -1.5 z + b: I − ∂f/∂z = 2.5 I is regular, but ∂f/∂z = -1.5 I

    def loss(b, adjoint):
        return lnp.sum(
            lagrad.fixed_point(lambda z, b: -1.5 * z + b, np.zeros(1500), b, solver="newton", adjoint=adjoint) ** 2
        )

    assert np.allclose(lagrad.grad(loss)(b, "auto"), 2 * b / 2.5**2, rtol=0, atol=1e-12)  # z = b / 2.5
    with pytest.raises(lagrad.NotConvergedError, match="Neumann series"):
        lagrad.grad(loss)(b, "neumann")


@pytest.mark.parametrize("strategy", ["gmres", "bicgstab"])
def test_a_block_whose_product_returns_its_argument(strategy):
    # F(z, b) = z − b: the block's product is the identity, whose rule may hand back its argument
    # itself; the Krylov solvers write into their vectors, so that must not change the basis
    def loss(b):
        return lnp.sum(lagrad.root(lambda z, b: z - b, np.zeros(30), b, adjoint=strategy) ** 2)

    b = np.linspace(0.0, 1.0, 30)
    assert np.allclose(lagrad.grad(loss)(b), 2 * b, rtol=0, atol=1e-12)


def test_the_adjoint_tolerance_follows_the_forward_one(monkeypatch):
    blocks = []
    original = ImplicitBlock.__init__

    def spy(self, *args, **kwargs):
        original(self, *args, **kwargs)
        blocks.append(self)

    monkeypatch.setattr(ImplicitBlock, "__init__", spy)
    lagrad.grad(lambda x: lnp.sum(lagrad.fixed_point(deq, np.zeros(3), W, x, tol=1e-9)))(X)
    lagrad.grad(lambda x: lnp.sum(lagrad.fixed_point(deq, np.zeros(3), W, x, tol=1e-9, adjoint_tol=1e-11)))(X)
    assert [b.tol for b in blocks] == [1e-9, 1e-11]


# -- the system view ------------------------------------------------------------------------------


def _system():
    return lagrad.adjoint(lambda b: lnp.sum(lnp.sin(lagrad.fixed_point(affine, np.zeros(N), A, b)) ** 2), B)


def test_the_implicit_block_shows_on_the_diagonal_and_a_is_no_longer_triangular():
    adj = _system()
    labels = np.asarray(adj.matrix("symbolic"))
    k = next(iter(adj.implicit))
    assert labels[k, k] == f"∂f{k + 1}/∂z{k + 1}-I" and f"∂f{k + 1}/∂z{k + 1}-I" in str(adj.matrix("symbolic"))
    dense = adj.matrix("dense")
    start, stop = adj.layout[k]
    assert np.allclose(dense[start:stop, start:stop], A.T - np.eye(N))  # (∂f/∂z)ᵀ − I, with ∂f/∂z = A
    assert np.abs(np.tril(dense, -1)).max() > 0.1
    lam = np.linalg.solve(dense, adj.rhs_vector())
    assert np.allclose(lam[: adj.layout[0][1]], adj.gradients[0], rtol=0, atol=1e-12)
    assert adj.residual() < 1e-12


def test_every_solver_agrees_around_the_implicit_block():
    check_solvers(lambda b: lnp.sin(lagrad.fixed_point(affine, np.zeros(N), A, b)), B)
    adj = _system()
    reference = adj.solve("back_substitution")
    for method in ("forward_substitution", "sparse", "levels"):
        other = adj.solve(method)
        assert adj.residual(other) < 1e-12
        for i in reference:
            assert np.allclose(other[i], reference[i], rtol=0, atol=1e-12)


def test_the_program_holds_one_equation_whatever_the_iteration_count():
    slow = lagrad.trace(lambda b: lagrad.fixed_point(affine, np.zeros(N), 0.95 * A / 0.6, b, solver="iterate"), B)
    fast = lagrad.trace(lambda b: lagrad.fixed_point(affine, np.zeros(N), A, b, solver="newton"), B)
    assert len(slow.equations) == len(fast.equations) == 1
    assert slow.implicit == fast.implicit == (0,)


def test_the_plot_marks_the_implicit_block():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from lagrad.plot import plot_system

    fig = plot_system(_system(), labels=True)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert any(t.endswith("-I") and t.startswith("∂f") for t in texts)


# -- errors ----------------------------------------------------------------------------------------


def test_a_map_that_is_not_a_contraction_never_converges():
    with pytest.raises(lagrad.NotConvergedError, match=r"fixed_point: solver='iterate' did not converge.*contraction"):
        lagrad.fixed_point(lambda z, b: 2 * z + b, np.zeros(2), np.ones(2), solver="iterate")
    with pytest.raises(lagrad.NotConvergedError, match="fixed_point"):
        lagrad.fixed_point(lambda z, b: lnp.cos(3 * z) * 2 + b, np.zeros(2), np.ones(2), solver="iterate", max_iter=50)


def test_a_singular_jacobian_at_the_solution_raises_with_the_estimate():
    M = np.array([[1.0, 1.0], [1.0, 1.0]])

    def F(z, t):
        return M @ z - t

    def loss(t, adjoint):
        return lnp.sum(lagrad.root(F, np.array([0.5, 0.5]), t, adjoint=adjoint) ** 2)

    t = np.array([1.0, 1.0])  # z0 is a root already, and every z0 + s(1, -1) another
    with pytest.raises(lagrad.SingularBlockError, match=r"root: the block .* singular .*condition number estimate"):
        lagrad.grad(loss)(t, "direct")
    for strategy in ("gmres", "bicgstab", "neumann"):  # a consistent singular system: GMRES alone would "solve" it
        with pytest.raises(lagrad.SingularBlockError, match=r"estimate .* from 2 Arnoldi steps"):
            lagrad.grad(loss)(t, strategy)


def test_a_krylov_solve_that_does_not_converge_raises():
    M = np.random.default_rng(3).normal(size=(50, 50))  # regular, but GMRES needs ~50 steps

    def loss(t):
        z = lagrad.root(lambda z, t: M @ z - t, np.zeros(50), t, adjoint="gmres", adjoint_max_iter=1)
        return lnp.sum(z**2)

    with pytest.raises(lagrad.NotConvergedError, match=r"gmres on the block .* did not converge \(relative residual"):
        lagrad.grad(loss)(np.ones(50))


def test_a_neumann_series_that_diverges_raises():
    with pytest.raises(lagrad.NotConvergedError, match="Neumann series"):
        lagrad.grad(lambda b: lnp.sum(lagrad.root(lambda z, b: 3 * z - b, np.zeros(2), b, adjoint="neumann")))(B[:2])


def test_a_shape_change_between_z0_and_f_z0_is_refused():
    with pytest.raises(ValueError, match=r"fixed_point: f\(z0\) has shape \(2,\) but z0 has shape \(3,\)"):
        lagrad.fixed_point(lambda z, b: z[:2] + b, np.zeros(3), np.ones(2))


def test_a_differentiated_closure_is_refused_with_the_fix():
    def loss(b):
        return lnp.sum(lagrad.fixed_point(lambda z: 0.5 * z + b, np.zeros(N)))

    with pytest.raises(TypeError, match="pass it after z0 as a parameter"):
        lagrad.grad(loss)(B)


def test_trees_are_refused_with_the_fix():
    with pytest.raises(TypeError, match="z0 is a list; the unknowns and each parameter are one array"):
        lagrad.fixed_point(lambda z, b: z, [np.zeros(2), np.zeros(2)], B)
    with pytest.raises(TypeError, match="parameter 0 is a dict"):
        lagrad.root(lambda z, p: z, np.zeros(2), {"a": B})


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="adjoint must be one of"):
        lagrad.fixed_point(affine, np.zeros(N), A, B, adjoint="cholesky")
    with pytest.raises(ValueError, match="solver must be"):
        lagrad.fixed_point(affine, np.zeros(N), A, B, solver="bisect")
    with pytest.raises(TypeError, match="parameters are real arrays"):
        lagrad.fixed_point(affine, np.zeros(N), A, B.astype(complex))


def test_compile_is_refused_by_name_rather_than_baking_in_the_solve():
    w = 0.01 * np.arange(9.0).reshape(3, 3)

    def deq(w):
        return lnp.sum(lagrad.fixed_point(lambda z, w: lnp.tanh(w @ z + 1.0), np.zeros(3), w) ** 2)

    with pytest.raises(NotImplementedError, match=r"lagrad\.fixed_point inside lagrad\.compile"):
        lagrad.compile(lagrad.grad(deq))(w)
