"""Bilevel ridge regression: the regularisation strength chosen through `lagrad.argmin`.

The inner problem fits ridge weights w(λ) = argmin ‖X w − y‖² + λ ‖w‖² on training data by
`lagrad.argmin` (Newton with lagrad's Hessian); the outer problem descends the validation loss
‖X_val w(λ) − y_val‖² in log λ. The derivative dw/dλ comes from the implicit equation
∇_w g(w, λ) = 0, the Hessian on the diagonal of A, without unrolling the inner solver: it
is checked against the closed form dw/dλ = −(XᵀX + λI)⁻¹ w at every step.

Run: lagrad demo --example bilevel_ridge [--out DIR], or python -m lagrad.examples.bilevel_ridge [--out DIR]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import lagrad
import lagrad.numpy as lnp
from lagrad.examples import run_from_command_line


def make_data(rng: np.random.Generator, samples: int, features: int) -> tuple[np.ndarray, ...]:
    """A noisy linear model, split half for training, half for validation."""
    w_true = rng.standard_normal(features) * (rng.uniform(size=features) < 0.4)
    X = rng.standard_normal((samples, features))
    y = X @ w_true + 1.5 * rng.standard_normal(samples)
    half = samples // 2
    return X[:half], y[:half], X[half:], y[half:]


def ridge_weights(log_lam: Any, X: np.ndarray, y: np.ndarray) -> Any:
    """w(λ) = argmin_w ‖X w − y‖² + λ ‖w‖², λ = exp(log_lam): one implicit equation."""

    def inner(w: Any, log_lam: Any) -> Any:
        return lnp.sum((X @ w - y) ** 2) + lnp.exp(log_lam) * lnp.sum(w**2)

    return lagrad.argmin(inner, np.zeros(X.shape[1]), log_lam)


def validation_loss(log_lam: Any, X: np.ndarray, y: np.ndarray, X_val: np.ndarray, y_val: np.ndarray) -> Any:
    w = ridge_weights(log_lam, X, y)
    return lnp.sum((X_val @ w - y_val) ** 2)


def closed_form(log_lam: float, X: np.ndarray, y: np.ndarray, X_val: np.ndarray, y_val: np.ndarray) -> tuple:
    """The validation loss and its derivative in log λ, by hand: dw/dλ = −M⁻¹ w, M = XᵀX + λI."""
    lam = np.exp(log_lam)
    M = X.T @ X + lam * np.eye(X.shape[1])
    w = np.linalg.solve(M, X.T @ y)
    dw = -np.linalg.solve(M, w) * lam  # chain rule through λ = exp(log λ)
    r = X_val @ w - y_val
    return float(r @ r), float(2 * r @ (X_val @ dw))


def main(
    out: str | Path | None = "lagrad-demo", seed: int = 0, *, samples: int = 80, features: int = 30, steps: int = 60
) -> dict[str, Any]:
    """Descend the validation loss in log λ, checking each gradient against the closed form."""
    rng = np.random.default_rng(seed)
    X, y, X_val, y_val = make_data(rng, samples, features)
    # the data are closed over as plain arrays: the inner problem may read them (a traced
    # argument would have to be passed to argmin as a parameter)
    value_and_grad = lagrad.value_and_grad(lambda log_lam: validation_loss(log_lam, X, y, X_val, y_val))
    log_lam, rate = np.array(-2.0), 0.5
    path, worst = [], 0.0
    for _ in range(steps):
        loss, g = value_and_grad(log_lam)
        exact_loss, exact_g = closed_form(float(log_lam), X, y, X_val, y_val)
        worst = max(worst, abs(g - exact_g) / max(abs(exact_g), 1e-12), abs(loss - exact_loss) / exact_loss)
        path.append((float(log_lam), float(loss)))
        log_lam = log_lam - rate * g / (abs(g) + 1.0)  # a step of at most `rate` in log λ
    grid = np.linspace(-4, 6, 200)
    curve = np.array([closed_form(t, X, y, X_val, y_val)[0] for t in grid])
    best = float(grid[np.argmin(curve)])
    print(f"λ chosen by gradient descent on the validation loss: {np.exp(log_lam):.4g} (log λ = {float(log_lam):.3f})")
    print(f"  best log λ on a grid of the closed form: {best:.3f}")
    print(f"  largest relative difference from the closed-form loss and gradient: {worst:.1e}")
    result = {"log_lam": float(log_lam), "best_on_grid": best, "worst": worst, "path": path}
    if out is not None:
        result["picture"] = _draw(Path(out), grid, curve, path)
        print(f"picture: {result['picture']}")
    return result


def _draw(folder: Path, grid: np.ndarray, curve: np.ndarray, path: list[tuple[float, float]]) -> Path:
    from matplotlib.figure import Figure

    from lagrad.plot import save

    figure = Figure(figsize=(5.5, 3.6), layout="constrained")
    ax = figure.subplots()
    ax.plot(grid, curve, color="0.6", label="validation loss (closed form)")
    steps = np.array(path)
    ax.plot(steps[:, 0], steps[:, 1], "o-", markersize=3, color="#2a788e", label="gradient descent through argmin")
    ax.set_xlabel("log λ")
    ax.set_ylabel("validation loss")
    ax.legend(fontsize=8)
    ax.set_title("Bilevel ridge regression: dw/dλ from the implicit equation ∇g = 0", fontsize=9)
    return save(figure, folder, "bilevel_ridge.png")


if __name__ == "__main__":
    run_from_command_line(main, __doc__)
