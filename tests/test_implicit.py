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


@pytest.mark.parametrize("strategy", ["gmres", "neumann"])
def test_second_derivatives_through_an_iterative_strategy(strategy):
    # the block's solve is recorded as a linear implicit equation, whose own block is linearised
    # at the solution: a value the inner trace does not differentiate
    check_grads(lambda x: lagrad.fixed_point(deq, np.zeros(3), W, x, adjoint=strategy), X, modes=["rev"], order=2)


def test_auto_is_direct_for_small_states_then_neumann_for_fixed_points_sparse_or_gmres_for_roots():
    small = ImplicitBlock(deq, np.zeros(3), (W, X), shift=-1.0)
    large = ImplicitBlock(lambda z: z, np.zeros(1001), (), shift=-1.0)
    sparse = ImplicitBlock(lambda z: z[::-1] + z**2, np.zeros(1001), (), shift=0.0)  # 2 nonzeros a row
    # a dense pattern whose values are sparse at this point: the sampled columns send "auto" on
    # to the pattern, which decides
    hidden = ImplicitBlock(lambda z: z + 0.0 * lnp.sum(z), np.zeros(1001), (), shift=0.0)
    strategies = [b.strategy for b in (small, large, sparse, hidden)]
    assert strategies == ["direct", "neumann", "sparse", "gmres"]
    assert large.fallback and not sparse.fallback and not hidden.fallback


def test_auto_skips_the_pattern_of_a_clearly_dense_jacobian(monkeypatch):
    def no_pattern(program):
        raise AssertionError("the pattern was read")

    monkeypatch.setattr(lagrad.implicit, "pattern", no_pattern)
    M = np.ones((1200, 1200))
    assert ImplicitBlock(lambda z, M: M @ z, np.zeros(1200), (M,), shift=0.0).strategy == "gmres"


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


def heat(u, k, source, h):
    """(κ(u) u')' + s, κ(u) = k0 + k1 u², u = 0 at both ends: a tridiagonal Jacobian."""
    padded = lnp.concatenate([np.zeros(1), u, np.zeros(1)])
    mid = 0.5 * (padded[1:] + padded[:-1])
    flux = (k[0] + k[1] * mid**2) * (padded[1:] - padded[:-1]) / h
    return (flux[1:] - flux[:-1]) / h + source


def test_the_sparse_block_of_a_large_steady_state_agrees_with_the_dense_one():
    n = 1100  # above AUTO_DIRECT: "auto" reads the pattern (3 nonzeros a row) and factors it sparsely
    h = 1.0 / (n + 1)
    source = 10 * np.sin(np.pi * np.linspace(h, 1 - h, n))
    k = np.array([1.0, 0.5])

    u = lagrad.root(lambda u, k: heat(u, k, source, h), np.zeros(n), k, tol=1e-6)
    block = ImplicitBlock(lambda u, k: heat(u, k, source, h), u, (k,), shift=0.0)
    assert block.strategy == "sparse" and block.structure is None
    r = np.linspace(-1.0, 1.0, n)
    x = block.solve(r)
    assert block.structure.n_colours == 3
    dense = ImplicitBlock(lambda u, k: heat(u, k, source, h), u, (k,), shift=0.0, strategy="direct")
    assert np.allclose(x, dense.solve(r), rtol=1e-10, atol=1e-12)
    assert np.allclose(block.solve_transpose_batched(np.stack([r, r[::-1]])),
                       dense.solve_transpose_batched(np.stack([r, r[::-1]])), rtol=1e-10, atol=1e-12)  # fmt: skip


def test_the_sparse_block_entries_are_the_dense_ones():
    h = 1.0 / 9
    source = np.linspace(1.0, 2.0, 8)
    k = np.array([1.0, 0.5])
    u = lagrad.root(lambda u, k: heat(u, k, source, h), np.zeros(8), k)
    sparse = ImplicitBlock(lambda u, k: heat(u, k, source, h), u, (k,), shift=0.0, strategy="sparse")
    rows, cols, values = sparse.entries()
    assert len(values) == 8 + 2 * 7  # tridiagonal
    matrix = np.zeros((8, 8))
    matrix[rows, cols] = values
    assert np.allclose(matrix, sparse.dense(), rtol=0, atol=1e-9)
    check_grads(
        lambda k: lagrad.root(lambda u, k: heat(u, k, source, h), np.zeros(8), k, adjoint="sparse"), k, modes=["rev"]
    )


def test_a_large_block_gives_its_entries_without_forming_it_densely(monkeypatch):
    n = 1002  # above AUTO_DIRECT
    block = ImplicitBlock(lambda z: 0.5 * z[::-1] + z**2, np.full(n, 0.1), (), shift=-1.0)
    monkeypatch.setattr(ImplicitBlock, "dense", None)  # would be an (n, n) array
    rows, cols, values = block.entries()
    assert len(values) == 2 * n
    expected = {(i, i): 0.2 - 1.0 for i in range(n)} | {(n - 1 - i, i): 0.5 for i in range(n)}
    assert {(r, c): v for r, c, v in zip(rows, cols, values)} == pytest.approx(expected, rel=0, abs=1e-12)


def test_a_singular_sparse_block_is_refused():
    def loss(t):
        return lnp.sum(lagrad.root(lambda z, t: z[::-1] + z - t, np.array([0.5, 0.5]), t, adjoint="sparse") ** 2)

    with pytest.raises(lagrad.SingularBlockError, match=r"root: the block .* singular .*sparse LU"):
        lagrad.grad(loss)(np.array([1.0, 1.0]))


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


def test_a_singular_block_seen_by_gmres_itself_is_refused_with_the_estimate():
    M = np.diag(np.r_[np.ones(29), 0.0])  # singular, and the right-hand side not in its range

    def loss(t):
        z = lagrad.root(lambda z, t: M @ z + z[-1] ** 2 - t, np.r_[np.ones(29), 0.0], t, adjoint="gmres",
                        adjoint_probe=False)  # fmt: skip
        return lnp.sum((z + 1) ** 3)  # its gradient in z, (3, …, 3), is not in the block's range

    with pytest.raises(lagrad.SingularBlockError, match=r"estimate .* from \d+ GMRES steps"):
        lagrad.grad(loss)(np.r_[np.ones(29), 0.0])


def test_gmres_restarts(monkeypatch):
    monkeypatch.setattr(lagrad.implicit, "RESTART", 3)
    M = np.eye(20) + 0.4 * np.random.default_rng(5).normal(size=(20, 20)) / np.sqrt(20)

    def z(t, adjoint):
        return lagrad.root(lambda z, t: M @ z - t, np.zeros(20), t, adjoint=adjoint)

    t = np.linspace(-1.0, 1.0, 20)
    for mode in ("rev", "fwd"):
        J = lagrad.jacobian(lambda t: z(t, "gmres"), mode=mode)(t)
        assert np.allclose(J, np.linalg.inv(M), rtol=0, atol=1e-9)


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
    with pytest.raises(TypeError, match="parameters are real or complex arrays"):
        lagrad.fixed_point(affine, np.zeros(N), A, B > 0)


def test_compile_is_refused_by_name_rather_than_baking_in_the_solve():
    w = 0.01 * np.arange(9.0).reshape(3, 3)

    def deq(w):
        return lnp.sum(lagrad.fixed_point(lambda z, w: lnp.tanh(w @ z + 1.0), np.zeros(3), w) ** 2)

    with pytest.raises(NotImplementedError, match=r"lagrad\.fixed_point inside lagrad\.compile"):
        lagrad.compile(lagrad.grad(deq))(w)
    # a starting point made from the traced arguments is refused by name too (it once met
    # np.asarray first, whose error spoke of a traced value turned into a plain array)
    started = lambda x: lnp.sum(lagrad.fixed_point(lambda z, x: 0.5 * lnp.cos(z) + x, x * 0.0, x))
    assert np.all(np.isfinite(lagrad.grad(started)(np.ones(3))))  # fine uncompiled
    for f in (started, lagrad.grad(started)):
        with pytest.raises(NotImplementedError, match=r"lagrad\.fixed_point inside lagrad\.compile"):
            lagrad.compile(f)(np.ones(3))


# -- complex unknowns and parameters ------------------------------------------------------------

AC = A + 0.3j * A[::-1]
AC *= 0.6 / np.linalg.norm(AC, 2)  # a complex contraction
BC = B - 0.5j * B[::-1]


def test_a_complex_linear_fixed_point_against_its_closed_form_and_finite_differences():
    z = lagrad.fixed_point(affine, np.zeros(N, complex), AC, BC)
    M = np.linalg.inv(np.eye(N) - AC)
    assert z.dtype == complex and np.allclose(z, M @ BC, rtol=0, atol=1e-10)
    # L = |z|², z = M b: lagrad's gradient ∂L/∂Re b − i ∂L/∂Im b is 2 conj(∂L/∂b̄) = 2 conj(Mᴴ z)
    g = lagrad.grad(lambda b: lnp.sum(lnp.abs(lagrad.fixed_point(affine, np.zeros(N, complex), AC, b)) ** 2))(BC)
    assert np.allclose(g, 2 * np.conj(M.conj().T @ z), rtol=0, atol=1e-9)
    check_grads(lambda a, b: lagrad.fixed_point(affine, np.zeros(N, complex), a, b), AC, BC)


def test_a_fixed_point_that_is_not_holomorphic_against_finite_differences():
    def f(z, a):
        return 0.3 * lnp.conj(z) * a + 0.2 * lnp.tanh(lnp.real(z)) + a

    a = np.array([0.5 + 0.2j, -0.3 + 0.4j, 0.1 - 0.6j])
    check_grads(lambda a: lagrad.fixed_point(f, np.zeros(3, complex), a), a, order=2)
    for strategy in ("gmres", "neumann", "sparse"):
        check_grads(lambda a: lagrad.fixed_point(f, np.zeros(3, complex), a, adjoint=strategy), a, order=1)


def test_a_complex_root_and_argmin():
    c = np.array([2.0 + 1.0j, -1.0 + 0.5j])  # z² = c, from a start near the principal root
    z = lagrad.root(lambda z, c: z**2 - c, np.sqrt(c) + 0.1, c)
    assert np.allclose(z, np.sqrt(c), rtol=0, atol=1e-10)
    check_grads(lambda c: lagrad.root(lambda z, c: z**2 - c, np.sqrt(c) + 0.1, c), c, order=2)

    def g(w, a, lam):
        return lnp.sum(lnp.abs(w - a) ** 2) + lam * lnp.sum(lnp.abs(w) ** 2)

    lam = np.array(0.5)
    w = lagrad.argmin(g, np.zeros(2, complex), c, lam)
    assert np.allclose(w, c / (1 + lam), rtol=0, atol=1e-10)  # the closed form
    check_grads(lambda c, lam: lagrad.argmin(g, np.zeros(2, complex), c, lam), c, lam)
