"""The benchmarked gradients are right (at a small size): a fast wrong answer measures nothing."""

from __future__ import annotations

import pathlib
import sys

import numpy as np
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "benchmarks"))

import cases
import jacobian


def _fd(f, args, eps=1e-6):
    grads = []
    for i, a in enumerate(args):
        a = np.asarray(a, dtype=float)
        g = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            e = np.zeros_like(a)
            e[idx] = eps
            plus = list(args)
            minus = list(args)
            plus[i], minus[i] = a + e, a - e
            g[idx] = (f(*plus) - f(*minus)) / (2 * eps)
        grads.append(g)
    return grads


@pytest.mark.parametrize("case", ["a", "b", "c", "d"])
def test_numpy_floors_compute_the_same_forward_pass(case):
    fastest, user = (cases.build("numpy", case, 0.02, form)() for form in cases.FLOORS)
    assert np.isfinite(fastest) and np.isclose(fastest, user, rtol=1e-12, atol=0)


def test_the_two_slice_roll_is_np_roll():
    u = np.arange(7.0)
    for shift in (1, -1):
        assert np.array_equal(cases.two_slice_roll(u, shift), np.roll(u, shift))


@pytest.mark.parametrize("form", ["ops", "fused"])
@pytest.mark.parametrize("case", ["a", "b", "c", "d", "e"])
def test_lagrad_cell_matches_finite_differences(case, form):
    import scipy.special as sp

    d = cases.data(case, 0.02)
    run = cases.build("lagrad", case, 0.02, form)
    got = run()
    if case == "a":
        f = cases.seed_network(np, sp.expit, lambda z: sp.softmax(z, axis=1), d["x"], d["y"])
        args = (d["w1"][:3], d["w2"])  # a slice of W1 keeps the finite differences quick
        fd = _fd(lambda w1, w2: f(np.vstack([w1, d["w1"][3:]]), w2), args)
        assert np.allclose(got[0][:3], fd[0], atol=1e-7) and np.allclose(got[1], fd[1], atol=1e-7)
        return
    if case == "b":
        f, args = cases.branchy_loop(np.sin, d["steps"]), (d["a"], d["b"])
    elif case in ("d", "e"):  # the in-place NumPy code, whichever way lagrad's version is written
        f, args = cases.heat_in_place(np, d["target"], d["steps"]), (d["alpha"], d["u0"])
    else:
        f, args = cases.heat(np, d["target"], d["steps"]), (d["alpha"], d["u0"])
    for g, ref in zip(got, _fd(f, args)):
        assert np.allclose(g, ref, rtol=1e-5, atol=1e-7)


def test_jacobian_benchmark_hand_sweeps_and_lagrad_match_finite_differences():
    import lagrad

    d = jacobian.data(6)
    As, x = d["A"], d["x"]
    f = jacobian.step_map(np, As)
    eps = 1e-6
    fd = np.stack([(f(x + eps * e) - f(x - eps * e)) / (2 * eps) for e in np.eye(6)], axis=1)
    hand = (jacobian.hand_jacobian(As, x), jacobian.hand_jacobian_fwd(As, x))
    for jac in (*hand, lagrad.jacobian(f)(x), lagrad.jacobian(f, mode="fwd")(x)):
        np.testing.assert_allclose(jac, fd, rtol=1e-6, atol=1e-8)


def test_the_sparse_benchmark_derivatives_are_right():
    import sparse_jacobian

    import lagrad
    import lagrad.numpy as lnp

    n = 5
    u = np.random.default_rng(0).uniform(-1, 1, n * n)
    f = sparse_jacobian.residual(lnp, n)
    np.testing.assert_allclose(f(u), sparse_jacobian.residual(np, n)(u), rtol=1e-14)
    np.testing.assert_allclose(lagrad.jacobian(f, sparse=True)(u).toarray(), lagrad.jacobian(f)(u), atol=1e-9)
    e = sparse_jacobian.energy(lnp, n)
    np.testing.assert_allclose(e(u), sparse_jacobian.energy(np, n)(u), rtol=1e-14)
    np.testing.assert_allclose(lagrad.hessian(e, sparse=True)(u).toarray(), lagrad.hessian(e)(u), atol=1e-9)
