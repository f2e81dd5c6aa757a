"""The operator layer: rules resolved once per (primitive, argument), batching, zero means
zero, and general diagonal blocks read by every solver."""

from __future__ import annotations

import numpy as np
import pytest

import lagrad
import lagrad.numpy as lnp
from lagrad.adjoint import METHODS
from lagrad.adjoint.operators import apply_block_batched, apply_transpose_batched, operator
from lagrad.adjoint.system import Diagonal
from tests.conftest import rand

M = np.array([[2.0, -1.0, 0.5], [0.0, 3.0, 1.0]])


def _matvec_with_jvp_only():
    mv = lagrad.primitive(lambda x: M @ x, name="matvec")
    lagrad.defjvp(mv, lambda t, ans, x: lnp.dot(M, t))
    return mv


def test_a_primitive_with_only_a_jvp_gets_its_transpose():
    mv = _matvec_with_jvp_only()
    op = operator(mv, 0)
    assert op.vjp is None
    g = rand(2)
    x = rand(3)
    ct = op.transpose(g, [None, x], {}, (3,), np.dtype(float))
    assert np.allclose(ct, M.T @ g)  # the closed form
    assert np.allclose(lagrad.grad(lambda x: lnp.sum(mv(x) ** 2))(x), 2 * M.T @ (M @ x))


def test_an_operator_is_resolved_once_and_again_after_a_rule_is_redeclared():
    double = lagrad.primitive(lambda x: 2.0 * x, name="double")
    lagrad.defvjp(double, lambda g, ans, x: 2.0 * g)
    first = operator(double, 0)
    assert operator(double, 0) is first
    x = rand(4)
    assert np.allclose(lagrad.grad(lambda x: lnp.sum(double(x)))(x), 2.0)
    lagrad.defvjp(double, lambda g, ans, x: 3.0 * g)  # a (wrong) rule redeclared: the new one is used
    assert operator(double, 0) is not first
    assert np.allclose(lagrad.grad(lambda x: lnp.sum(double(x)))(x), 3.0)


def test_batched_transpose_without_a_batched_rule_is_the_loop():
    mv = lagrad.primitive(lambda x: M @ x, name="matvec")
    lagrad.defvjp(mv, lambda g, ans, x: lnp.dot(g, M))
    op = operator(mv, 0)
    assert op.batch_vjp is None
    G = rand(5, 2)
    batched = op.transpose_batched(G, [None, rand(3)], {}, (3,), np.dtype(float))
    assert np.allclose(batched, G @ M)  # row b: Mᵀ G[b]
    mv2 = _matvec_with_jvp_only()
    T = rand(4, 3)
    applied = operator(mv2, 0).apply_batched(T, [None, rand(3)], {}, (2,), np.dtype(float))
    assert np.allclose(applied, T @ M.T)


def _multiply_equation(x, y):
    system = lagrad.adjoint(lambda x, y: lnp.sum(x * y), x, y, argnums=(0, 1))
    program, tape = system.program, system.tape
    k = next(k for k, eq in enumerate(program.equations) if eq.primitive is lnp.multiply)
    return program.equations[k], tape.values[k]


def test_an_elementwise_rule_batches_by_broadcasting():
    x, y = rand(3, 1), rand(1, 4)
    eq, values = _multiply_equation(x, y)
    G = rand(6, 3, 4)
    ct = apply_transpose_batched(eq, 0, values, G, (3, 1))
    assert np.allclose(ct, np.sum(G * y, axis=2, keepdims=True))  # unbroadcast, closed form
    T = rand(6, 1, 4)
    out = apply_block_batched(eq, values, [None, T])
    assert np.allclose(out, x * T)


def test_zero_means_zero_lives_in_the_operator():
    x = np.array([0.0, 4.0])
    op = operator(lnp.sqrt, 0)
    g = np.array([0.0, 1.0])
    with np.errstate(divide="ignore", invalid="ignore"):
        values = [np.sqrt(x), x]
        assert np.isnan(op.transpose(g, values, {}, (2,), x.dtype)[0])
        assert np.allclose(op.transpose(g, values, {}, (2,), x.dtype, guarded=True), [0.0, 0.25])


def _guarded_sqrt(x, y):
    """Zero means zero is needed here: sqrt(x - 1)'s partial is NaN where x < 1 (the untaken branch)."""
    return lnp.sum(lnp.where(x > 1, lnp.sqrt(x - 1), 0) * y)


def test_zero_means_zero_masks_only_the_nan_entries_so_second_derivatives_see_the_rest():
    # the multiplier y is zero at x = 2, where sqrt(x - 1)'s partial is finite: the mask must
    # not cut the derivative there, which is d/dy_i of y_i / (2 sqrt(x_i - 1)) = 1 / (2 sqrt(x_i - 1))
    x, y = np.array([0.5, 2.0, 3.0]), np.array([1.0, 0.0, 2.0])
    expected = np.diag([0.0, 0.5, 0.5 / np.sqrt(2.0)])
    with np.errstate(invalid="ignore"):
        for mode in ("rev", "fwd"):
            mixed = lagrad.jacobian(lambda y: lagrad.grad(_guarded_sqrt, 0)(x, y), mode=mode)(y)
            assert np.array_equal(mixed, expected), mode
        hessian = lagrad.hessian(lambda xy: _guarded_sqrt(xy[:3], xy[3:]))(np.concatenate([x, y]))
    assert np.allclose(hessian[:3, 3:], expected, rtol=1e-15, atol=0)
    assert np.allclose(hessian[3:, :3], expected, rtol=1e-15, atol=0)


def test_zero_means_zero_of_a_whole_zero_multiplier_keeps_its_derivative():
    # a matrix product's rule (not elementwise) with g all zero, at a NaN partial: the masked
    # result is zero, and its derivative in g is still the rule's own
    A = np.array([[1.0, 2.0], [3.0, 4.0]])

    def f(x, y):
        s = lnp.where(x > 1, lnp.sqrt(x - 1), 0)
        return lnp.sum((A @ s) * y)

    x, y = np.array([0.5, 2.0]), np.zeros(2)
    with np.errstate(invalid="ignore"):
        mixed = lagrad.jacobian(lambda y: lagrad.grad(f, 0)(x, y))(y)
    # ∂f/∂x_j = Σ_i y_i A_ij s'(x_j), s'(x) = 1 / (2 sqrt(x - 1)) for x > 1 and 0 below: its
    # derivative in y_i is A_ij s'(x_j), row j of the mixed Jacobian
    expected = A.T * np.array([[0.0], [0.5]])
    assert np.allclose(mixed, expected, rtol=1e-15, atol=0)


# ----- general diagonal blocks ------------------------------------------------------


class DenseDiagonal(Diagonal):
    """A test-only diagonal block: the dense matrix D (``M - I`` for a fixed point)."""

    label = "M-I"

    def __init__(self, D: np.ndarray, shape: tuple[int, ...]) -> None:
        super().__init__(D.shape[0])
        self.D, self.shape = D, shape

    def entries(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r, c = np.nonzero(self.D)
        return r, c, self.D[r, c]

    def solve(self, r):
        return np.linalg.solve(self.D, -np.ravel(r)).reshape(self.shape)

    def solve_transpose(self, r):
        return np.linalg.solve(self.D.T, -np.ravel(r)).reshape(self.shape)


def _system_with_a_general_diagonal():
    x = rand(3)
    system = lagrad.adjoint(lambda x: lnp.sum(lnp.sin(x) * x), x)
    k = system.program.n_inputs  # z2 = sin(z1)
    D = 0.3 * np.random.default_rng(0).standard_normal((3, 3)) - np.eye(3)
    system.implicit[k] = DenseDiagonal(D, (3,))
    return system, k, D


def test_matrix_builders_read_the_diagonal_from_the_system():
    system, k, D = _system_with_a_general_diagonal()
    start, stop = system.layout[k]
    assert np.allclose(system.matrix("dense")[start:stop, start:stop], D)
    assert np.allclose(system.matrix("sparse").toarray(), system.matrix("dense"))
    assert system.matrix("symbolic")[k, k] == "M-I"


@pytest.mark.parametrize("method", METHODS)
def test_every_solver_solves_a_system_with_a_general_diagonal(method):
    system, _, _ = _system_with_a_general_diagonal()
    expected = np.linalg.solve(system.matrix("dense"), system.rhs_vector())
    lam = system.solve(method)
    assert np.allclose(np.concatenate([np.ravel(v) for v in lam.lambdas]), expected)
    assert system.residual(lam) < 1e-12


def test_a_vjp_rule_that_returns_the_wrong_shape_is_refused_by_name():
    # a user's rule for a scalar argument broadcast against a vector forgets to sum: without the
    # check the "gradient" of the scalar came back shaped (3,), silently
    scale = lagrad.primitive(lambda x, s: x * s, name="scale")
    lagrad.defvjp(scale, lambda g, ans, x, s: g * s, lambda g, ans, x, s: g * x)
    x = np.array([1.0, -2.0, 0.5])
    with pytest.raises(
        ValueError, match=r"vjp rule of scale for argument 1 returned shape \(3,\) where the argument has shape \(\)"
    ):
        lagrad.grad(lambda s: lnp.sum(scale(x, s)))(2.0)
    lagrad.defvjp(scale, lambda g, ans, x, s: g * s, lambda g, ans, x, s: lnp.sum(g * x))  # summed: accepted
    assert lagrad.grad(lambda s: lnp.sum(scale(x, s)))(2.0) == pytest.approx(np.sum(x))
