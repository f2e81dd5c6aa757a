"""The seed's worked example: the network whose adjoint system the derivation writes out."""

from __future__ import annotations

import numpy as np

import lagrad
from lagrad.scipy.special import expit, softmax
from lagrad.testing import check_grads

rng = np.random.default_rng(1988)
X = rng.standard_normal((6, 4))
Y = np.eye(3)[rng.integers(0, 3, 6)]
W1 = 0.5 * rng.standard_normal((4, 5))
W2 = 0.5 * rng.standard_normal((5, 3))


@lagrad.primitive
def loss(p, y):
    """Cross-entropy of predicted probabilities `p` against one-hot labels `y`, averaged."""
    return -np.sum(y * np.log(p)) / p.shape[0]


lagrad.defvjp(
    loss,
    lambda g, ans, p, y: -g * y / p / p.shape[0],
    lambda g, ans, p, y: -g * np.log(p) / p.shape[0],
)


def network(x, y, w1, w2):
    z5 = x @ w1  # z5 = z1 z3
    z6 = expit(z5)  # z6 = σ(z5)
    z7 = z6 @ w2  # z7 = z6 z4
    z8 = softmax(z7, axis=1)  # z8 = softmax(z7)
    return loss(z8, y)  # z9 = loss(z8, z2)


SEED_NONZEROS = {(1, 5), (2, 9), (3, 5), (4, 7), (5, 6), (6, 7), (7, 8), (8, 9)}


def test_program_has_the_seeds_variables():
    adj = lagrad.adjoint(network, X, Y, W1, W2)
    program = adj.program
    assert program.n_inputs == 4 and len(program.equations) == 5
    assert [eq.primitive.name for eq in program.equations] == ["matmul", "expit", "matmul", "softmax", "loss"]
    assert [repr(eq) for eq in program.equations] == [
        "z5 = matmul(z1, z3)",
        "z6 = expit(z5)",
        "z7 = matmul(z6, z4)",
        "z8 = softmax(z7, axis=(1,))",
        "z9 = loss(z8, z2)",
    ]


def test_symbolic_matrix_is_the_seeds_matrix():
    A = lagrad.adjoint(network, X, Y, W1, W2).matrix("symbolic")
    assert A.shape == (9, 9)
    assert A.nonzeros() == SEED_NONZEROS
    assert all(A[i, i] == "-1" for i in range(9))
    assert A[0, 4] == "∂f5/∂z1" and A[1, 8] == "∂f9/∂z2" and A[7, 8] == "∂f9/∂z8"


def _finite_difference_gradient(f, w, eps=1e-6):
    g = np.zeros_like(w)
    for idx in np.ndindex(w.shape):
        e = np.zeros_like(w)
        e[idx] = eps
        g[idx] = (f(w + e) - f(w - e)) / (2 * eps)
    return g


def test_lambda3_and_lambda4_are_the_weight_gradients():
    adj = lagrad.adjoint(network, X, Y, W1, W2)
    lam = adj.multipliers
    fd_w1 = _finite_difference_gradient(lambda w: network(X, Y, w, W2), W1)
    fd_w2 = _finite_difference_gradient(lambda w: network(X, Y, W1, w), W2)
    assert np.allclose(lam[3], fd_w1, atol=1e-8)
    assert np.allclose(lam[4], fd_w2, atol=1e-8)
    assert lam[9] == 1.0  # λ_n = 1
    assert adj.residual() < 1e-14
    for method in ("forward_substitution", "sparse"):
        other = adj.solve(method)
        assert all(np.allclose(a, b, atol=1e-10) for a, b in zip(other.lambdas, lam.lambdas))


def test_back_substitution_chain_matches_the_derivation():
    # λ8 = λ9 ∂f9/∂z8, λ7 = λ8 ∂f8/∂z7, ...: each multiplier is its consumer's, transposed through one block
    adj = lagrad.adjoint(network, X, Y, W1, W2)
    lam = adj.multipliers
    for i, k in [(8, 9), (7, 8), (6, 7), (5, 6), (3, 5), (4, 7)]:
        assert np.allclose(adj.block(i, k).transpose_apply(lam[k]), lam[i])


def test_the_loss_primitive_in_both_modes():
    check_grads(network, X, Y, W1, W2, modes=("fwd", "rev"), order=2)
