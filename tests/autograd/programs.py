"""autograd's documented programs (its README, docs/tutorial.md and examples/), rewritten
small, each as a function of the two modules a program imports: ``ag`` (autograd or
lagrad.autograd) and ``np`` (autograd.numpy or lagrad.autograd.numpy). The same source
runs on either library: the one-line change of import is the only difference."""

from __future__ import annotations

import itertools
from typing import Any

import numpy

Module = Any


def tanh_derivatives(ag: Module, np: Module) -> list[Any]:
    """README: tanh and its first six derivatives, by repeated elementwise_grad."""

    def tanh(x: Any) -> Any:
        y = np.exp(-2.0 * x)
        return (1.0 - y) / (1.0 + y)

    x = np.linspace(-3.0, 3.0, 9)
    results = [ag.grad(tanh)(1.0)]
    f = tanh
    for _ in range(6):
        f = ag.elementwise_grad(f)
        results.append(f(x))
    return results


def logistic_regression(ag: Module, np: Module) -> dict[str, Any]:
    """docs/tutorial.md: logistic regression trained by gradient descent."""

    def sigmoid(x: Any) -> Any:
        return 0.5 * (np.tanh(x / 2.0) + 1)

    def logistic_predictions(weights: Any, inputs: Any) -> Any:
        return sigmoid(np.dot(inputs, weights))

    inputs = numpy.array([[0.52, 1.12, 0.77], [0.88, -1.08, 0.15], [0.52, 0.06, -1.30], [0.74, -2.49, 1.39]])
    targets = numpy.array([True, True, False, True])

    def training_loss(weights: Any) -> Any:
        preds = logistic_predictions(weights, inputs)
        label_probabilities = preds * targets + (1 - preds) * (1 - targets)
        return -np.sum(np.log(label_probabilities))

    training_gradient_fun = ag.grad(training_loss)
    weights = numpy.array([0.0, 0.0, 0.0])
    first = training_gradient_fun(weights)
    for _ in range(100):
        weights = weights - training_gradient_fun(weights) * 0.01
    return {"first_gradient": first, "weights": weights, "loss": training_loss(weights), "loss_fn": training_loss}


def logsumexp_primitive(ag: Module, np: Module, extend: Module) -> Any:
    """docs/tutorial.md: a primitive with its own gradient, declared with defvjp."""

    @extend.primitive
    def logsumexp(x: Any) -> Any:
        max_x = numpy.max(x)
        return max_x + numpy.log(numpy.sum(numpy.exp(x - max_x)))

    def logsumexp_vjp(ans: Any, x: Any) -> Any:
        x_shape = x.shape
        return lambda g: np.full(x_shape, g) * np.exp(x - np.full(x_shape, ans))

    extend.defvjp(logsumexp, logsumexp_vjp)
    return logsumexp


def neural_net(ag: Module, np: Module, logsumexp: Any, adam: Any, num_iters: int = 30) -> dict[str, Any]:
    """examples/neural_net.py: a multilayer perceptron classifier (tanh layers, log-softmax
    output, Gaussian prior), trained in mini-batches by adam on a list of (W, b) pairs."""
    rng = numpy.random.default_rng(0)
    layer_sizes = [6, 5, 4, 3]
    params = [
        (0.1 * rng.standard_normal((m, n)), 0.1 * rng.standard_normal(n)) for m, n in itertools.pairwise(layer_sizes)
    ]
    inputs = rng.standard_normal((40, 6))
    targets = numpy.eye(3)[rng.integers(0, 3, 40)]

    def predict(params: Any, inputs: Any) -> Any:
        for W, b in params:
            outputs = np.dot(inputs, W) + b
            inputs = np.tanh(outputs)
        return outputs - logsumexp(outputs, axis=1, keepdims=True)

    def log_posterior(params: Any, inputs: Any, targets: Any, l2: float) -> Any:
        prior = -l2 * sum(np.sum(W**2) + np.sum(b**2) for W, b in params)
        return prior + np.sum(predict(params, inputs) * targets)

    def objective(params: Any, i: int) -> Any:
        batch = slice((i % 4) * 10, (i % 4 + 1) * 10)
        return -log_posterior(params, inputs[batch], targets[batch], 1.0)

    gradient = ag.grad(objective)
    trained = adam(gradient, params, step_size=0.05, num_iters=num_iters)
    return {"params": params, "gradient": gradient(params, 0), "trained": trained, "objective": objective}


def rnn(ag: Module, np: Module, logsumexp: Any) -> dict[str, Any]:
    """examples/rnn.py: a recurrent network reading one-hot characters, its hidden state
    updated by tanh of [input, state] times a matrix, predicting the next character."""
    rng = numpy.random.default_rng(1)
    n_in, n_hidden, n_out, steps, batch = 4, 5, 4, 6, 3
    params = {
        "init hiddens": 0.1 * rng.standard_normal((1, n_hidden)),
        "change": 0.1 * rng.standard_normal((n_in + n_hidden + 1, n_hidden)),
        "predict": 0.1 * rng.standard_normal((n_hidden + 1, n_out)),
    }
    sequence = numpy.eye(n_in)[rng.integers(0, n_in, (steps, batch))]  # steps × batch × n_in

    def concat_and_multiply(weights: Any, *args: Any) -> Any:
        cat_state = np.hstack([*args, np.ones((args[0].shape[0], 1))])
        return np.dot(cat_state, weights)

    def rnn_predict(params: Any, inputs: Any) -> list[Any]:
        hiddens = np.repeat(params["init hiddens"], inputs.shape[1], axis=0)
        outputs = []
        for x in inputs:
            hiddens = np.tanh(concat_and_multiply(params["change"], x, hiddens))
            output = concat_and_multiply(params["predict"], hiddens)
            outputs.append(output - logsumexp(output, axis=1, keepdims=True))
        return outputs

    def log_likelihood(params: Any, inputs: Any, targets: Any) -> Any:
        logprobs = rnn_predict(params, inputs)
        return sum(np.sum(lp * t) for lp, t in zip(logprobs, targets)) / (inputs.shape[0] * inputs.shape[1])

    def loss(params: Any) -> Any:
        return -log_likelihood(params, sequence[:-1], sequence[1:])

    return {"params": params, "gradient": ag.grad(loss)(params), "loss": loss}


def gaussian_process(ag: Module, np: Module, mvn: Any) -> dict[str, Any]:
    """examples/gaussian_process.py: the marginal likelihood of a GP with an RBF kernel,
    its hyperparameters fitted by L-BFGS with value_and_grad."""
    from scipy.optimize import minimize

    rng = numpy.random.default_rng(2)
    X = numpy.sort(rng.uniform(-3, 3, 12))[:, None]
    y = numpy.cos(X[:, 0]) + 0.1 * rng.standard_normal(12)

    def rbf_covariance(kernel_params: Any, x: Any, xp: Any) -> Any:
        output_scale = np.exp(kernel_params[0])
        lengthscales = np.exp(kernel_params[1:])
        diffs = np.expand_dims(x / lengthscales, 1) - np.expand_dims(xp / lengthscales, 0)
        return output_scale * np.exp(-0.5 * np.sum(diffs**2, axis=2))

    def log_marginal_likelihood(params: Any) -> Any:
        mean, cov_params, noise_scale = params[0], params[2:], np.exp(params[1]) + 0.0001
        cov_y_y = rbf_covariance(cov_params, X, X) + noise_scale * np.eye(len(y))
        prior_mean = mean * np.ones(len(y))
        return mvn.logpdf(y, prior_mean, cov_y_y)

    def objective(params: Any) -> Any:
        return -log_marginal_likelihood(params)

    start = numpy.array([0.0, -1.0, 0.0, 0.0])
    fit = minimize(ag.value_and_grad(objective), start, jac=True, method="L-BFGS-B", options={"maxiter": 30})
    return {"start": start, "gradient": ag.grad(objective)(start), "fit": fit, "objective": objective}


def fluid_simulation(ag: Module, np: Module, size: int = 8, steps: int = 3) -> dict[str, Any]:
    """examples/fluidsim/fluidsim.py: Jos Stam's stable fluids on a periodic grid (pressure
    projection by Jacobi sweeps of np.roll, semi-Lagrangian advection with bilinear
    interpolation by integer indexing); the gradient of a final-smoke objective with
    respect to the initial velocity field."""

    def project(vx: Any, vy: Any) -> tuple[Any, Any]:
        h = 1.0 / vx.shape[0]
        dvx = np.roll(vx, -1, axis=0) - np.roll(vx, 1, axis=0)
        dvy = np.roll(vy, -1, axis=1) - np.roll(vy, 1, axis=1)
        div = -0.5 * h * (dvx + dvy)
        p = np.zeros(vx.shape)
        for _ in range(5):
            neighbours = np.roll(p, 1, axis=0) + np.roll(p, -1, axis=0) + np.roll(p, 1, axis=1) + np.roll(p, -1, axis=1)
            p = (div + neighbours) / 4.0
        vx -= 0.5 * (np.roll(p, -1, axis=0) - np.roll(p, 1, axis=0)) / h
        vy -= 0.5 * (np.roll(p, -1, axis=1) - np.roll(p, 1, axis=1)) / h
        return vx, vy

    def advect(f: Any, vx: Any, vy: Any) -> Any:
        rows, cols = f.shape
        cell_ys, cell_xs = numpy.meshgrid(numpy.arange(rows), numpy.arange(cols), indexing="ij")
        center_xs = (cell_xs + vx).ravel()
        center_ys = (cell_ys + vy).ravel()
        left_ix = np.floor(center_xs).astype(int)
        top_ix = np.floor(center_ys).astype(int)
        rw = center_xs - left_ix
        bw = center_ys - top_ix
        left_ix, top_ix = np.mod(left_ix, cols), np.mod(top_ix, rows)
        right_ix, bot_ix = np.mod(left_ix + 1, cols), np.mod(top_ix + 1, rows)
        flat = (1 - rw) * ((1 - bw) * f[top_ix, left_ix] + bw * f[bot_ix, left_ix]) + rw * (
            (1 - bw) * f[top_ix, right_ix] + bw * f[bot_ix, right_ix]
        )
        return np.reshape(flat, (rows, cols))

    rng = numpy.random.default_rng(3)
    smoke0 = rng.uniform(0, 1, (size, size))
    target = rng.uniform(0, 1, (size, size))

    def simulate(vx: Any, vy: Any, smoke: Any) -> Any:
        for _ in range(steps):
            vx, vy = project(vx, vy)
            vx_new, vy_new = advect(vx, vx, vy), advect(vy, vx, vy)
            vx, vy = vx_new, vy_new
            smoke = advect(smoke, vx, vy)
        return smoke

    # Differentiated with respect to the initial smoke too: lagrad does not see NumPy's own
    # indexing of a plain array by traced integers (docs/migrating-from-autograd.md), so
    # the smoke that `advect` indexes must be traced.
    def distance_from_target(init_vel: Any, smoke: Any) -> Any:
        vx, vy = init_vel[0], init_vel[1]
        return np.mean((simulate(vx, vy, smoke) - target) ** 2)

    init_vel = 0.3 * rng.standard_normal((2, size, size))
    gradient = ag.grad(distance_from_target, (0, 1))(init_vel, smoke0)
    return {"init_vel": init_vel, "smoke": smoke0, "gradient": gradient, "objective": distance_from_target}


def black_box_svi(ag: Module, np: Module, norm: Any, adam: Any, num_iters: int = 40) -> dict[str, Any]:
    """examples/black_box_svi.py: a diagonal Gaussian fitted to Neal's funnel by stochastic
    variational inference, its ELBO estimated with reparameterised samples and maximised by adam."""
    D, num_samples = 2, 20

    def log_density(x: Any) -> Any:
        mu, log_sigma = x[:, 0], x[:, 1]
        return norm.logpdf(log_sigma, 0, 1.35) + norm.logpdf(mu, 0, np.exp(log_sigma))

    def unpack_params(params: Any) -> tuple[Any, Any]:
        return params[:D], params[D:]

    def gaussian_entropy(log_std: Any) -> Any:
        return 0.5 * D * (1.0 + numpy.log(2 * numpy.pi)) + np.sum(log_std)

    def variational_objective(params: Any, t: int) -> Any:
        mean, log_std = unpack_params(params)
        noise = numpy.random.default_rng(t).standard_normal((num_samples, D))
        samples = noise * np.exp(log_std) + mean
        lower_bound = gaussian_entropy(log_std) + np.mean(log_density(samples))
        return -lower_bound

    gradient = ag.grad(variational_objective)
    init = numpy.array([-1.0, -1.0, -5.0, -5.0])
    fitted = adam(gradient, init, step_size=0.1, num_iters=num_iters)
    return {"init": init, "gradient": gradient(init, 0), "fitted": fitted, "objective": variational_objective}
