"""autograd's README, tutorial and examples run with one import changed: against finite
differences always, and against autograd itself where it is installed."""

from __future__ import annotations

import numpy as np
import pytest

from lagrad.testing import check_grads
from tests.autograd import programs
from tests.autograd.reference import assert_trees_close, numerical_gradient, ours, real_autograd

OURS = ours()
REAL = real_autograd()
needs_autograd = pytest.mark.skipif(REAL is None, reason="autograd is not installed")


def test_tanh_derivatives_match_their_closed_forms():
    results = programs.tanh_derivatives(OURS.ag, OURS.np)
    t = np.tanh(np.linspace(-3.0, 3.0, 9))
    assert results[0] == pytest.approx(1 - np.tanh(1.0) ** 2, rel=1e-12)
    np.testing.assert_allclose(results[1], 1 - t**2, rtol=1e-12)
    np.testing.assert_allclose(results[2], -2 * t * (1 - t**2), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(results[3], (1 - t**2) * (6 * t**2 - 2), rtol=1e-9, atol=1e-12)


@needs_autograd
def test_tanh_derivatives_match_autograd():
    for a, b in zip(programs.tanh_derivatives(OURS.ag, OURS.np), programs.tanh_derivatives(REAL.ag, REAL.np)):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-9)


def test_logistic_regression_trains():
    result = programs.logistic_regression(OURS.ag, OURS.np)
    np.testing.assert_allclose(result["first_gradient"], numerical_gradient(result["loss_fn"], np.zeros(3)), rtol=1e-7)
    assert result["loss"] < result["loss_fn"](np.zeros(3))
    check_grads(result["loss_fn"], result["weights"])


@needs_autograd
def test_logistic_regression_matches_autograd():
    ours_, real = programs.logistic_regression(OURS.ag, OURS.np), programs.logistic_regression(REAL.ag, REAL.np)
    for key in ("first_gradient", "weights", "loss"):
        np.testing.assert_allclose(ours_[key], real[key], rtol=1e-12)


def test_the_tutorials_logsumexp_primitive_to_second_order():
    logsumexp = programs.logsumexp_primitive(OURS.ag, OURS.np, OURS.extend)
    x = np.array([1.0, -2.0, 0.5])
    softmax = np.exp(x) / np.exp(x).sum()
    np.testing.assert_allclose(OURS.ag.grad(logsumexp)(x), softmax, rtol=1e-12)
    np.testing.assert_allclose(OURS.ag.hessian(logsumexp)(x), np.diag(softmax) - np.outer(softmax, softmax), atol=1e-12)
    check_grads(logsumexp, x, modes=("fwd", "rev"), order=2)


@needs_autograd
def test_the_tutorials_logsumexp_primitive_matches_autograd():
    ours_ = programs.logsumexp_primitive(OURS.ag, OURS.np, OURS.extend)
    real = programs.logsumexp_primitive(REAL.ag, REAL.np, REAL.extend)
    x = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(OURS.ag.hessian(ours_)(x), REAL.ag.hessian(real)(x), rtol=1e-12, atol=1e-15)
    ones = np.ones(3)
    np.testing.assert_allclose(OURS.ag.make_jvp(ours_)(x)(ones)[1], np.sum(np.exp(x) / np.exp(x).sum()), rtol=1e-12)


def test_neural_net_trains_with_adam():
    result = programs.neural_net(OURS.ag, OURS.np, OURS.logsumexp, OURS.adam)
    objective = result["objective"]
    assert objective(result["trained"], 0) < objective(result["params"], 0)
    check_grads(lambda p: objective(p, 1), result["params"], modes=("rev",), order=1)


@needs_autograd
def test_neural_net_matches_autograd():
    ours_ = programs.neural_net(OURS.ag, OURS.np, OURS.logsumexp, OURS.adam)
    real = programs.neural_net(REAL.ag, REAL.np, REAL.logsumexp, REAL.adam)
    assert_trees_close(ours_["gradient"], real["gradient"], rtol=1e-9)
    assert_trees_close(ours_["trained"], real["trained"], rtol=1e-8, atol=1e-10)


def test_rnn_gradient():
    result = programs.rnn(OURS.ag, OURS.np, OURS.logsumexp)
    check_grads(result["loss"], result["params"], modes=("fwd", "rev"), order=1)


@needs_autograd
def test_rnn_matches_autograd():
    ours_, real = programs.rnn(OURS.ag, OURS.np, OURS.logsumexp), programs.rnn(REAL.ag, REAL.np, REAL.logsumexp)
    assert_trees_close(ours_["gradient"], real["gradient"], rtol=1e-9, atol=1e-14)


def test_gaussian_process_fit():
    result = programs.gaussian_process(OURS.ag, OURS.np, OURS.mvn)
    np.testing.assert_allclose(result["gradient"], numerical_gradient(result["objective"], result["start"]), rtol=1e-6)
    assert result["fit"].fun < result["objective"](result["start"])
    assert np.max(np.abs(OURS.ag.grad(result["objective"])(result["fit"].x))) < 1e-3


@needs_autograd
def test_gaussian_process_matches_autograd():
    ours_ = programs.gaussian_process(OURS.ag, OURS.np, OURS.mvn)
    real = programs.gaussian_process(REAL.ag, REAL.np, REAL.mvn)
    np.testing.assert_allclose(ours_["gradient"], real["gradient"], rtol=1e-10)
    assert ours_["fit"].fun == pytest.approx(real["fit"].fun, rel=1e-8)


def test_fluid_simulation_gradient():
    result = programs.fluid_simulation(OURS.ag, OURS.np)
    velocity, smoke = result["gradient"]
    assert velocity.shape == result["init_vel"].shape and np.max(np.abs(velocity)) > 0
    assert smoke.shape == result["smoke"].shape
    check_grads(result["objective"], result["init_vel"], result["smoke"], modes=("rev",), order=1)


@needs_autograd
def test_fluid_simulation_matches_autograd():
    ours_ = programs.fluid_simulation(OURS.ag, OURS.np)
    real = programs.fluid_simulation(REAL.ag, REAL.np)
    assert_trees_close(ours_["gradient"], real["gradient"], rtol=1e-9, atol=1e-15)


def test_black_box_svi_raises_the_elbo():
    result = programs.black_box_svi(OURS.ag, OURS.np, OURS.norm, OURS.adam)
    objective = result["objective"]
    assert objective(result["fitted"], 0) < objective(result["init"], 0)
    np.testing.assert_allclose(
        result["gradient"], numerical_gradient(lambda p: objective(p, 0), result["init"]), rtol=1e-6, atol=1e-9
    )


@needs_autograd
def test_black_box_svi_matches_autograd():
    ours_ = programs.black_box_svi(OURS.ag, OURS.np, OURS.norm, OURS.adam)
    real = programs.black_box_svi(REAL.ag, REAL.np, REAL.norm, REAL.adam)
    np.testing.assert_allclose(ours_["gradient"], real["gradient"], rtol=1e-10)
    np.testing.assert_allclose(ours_["fitted"], real["fitted"], rtol=1e-8)
