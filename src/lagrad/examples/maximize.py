"""Maximum-likelihood fits: maximisation as the minimisation of the negation, via lagrad.optimize.

lagrad.optimize.maximize(f, x0, method=...) hands -f and its lagrad gradient to
scipy.optimize.minimize, with the parameters kept as a dict of arrays, and
reports the maximum (the value of f, and f's own gradient). Two fits:

* a normal distribution's mean and log standard deviation, by trust-ncg, which
  also uses lagrad's Hessian-vector products; the answer has a closed form
  (the sample mean and the sample standard deviation with ddof=0) to check;
* a Poisson regression, counts y ~ Poisson(exp(X β)), by Newton-CG; checked
  against iteratively reweighted least squares written out by hand, and by the
  score equations Xᵀ(y − exp(X β)) = 0 at the maximum.

Run: lagrad demo --example maximize [--out DIR], or python -m lagrad.examples.maximize [--out DIR]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import lagrad.numpy as lnp
from lagrad.examples import run_from_command_line
from lagrad.optimize import maximize


def normal_log_likelihood(params: dict[str, Any], data: np.ndarray) -> Any:
    """Σ log N(x | μ, σ²) with σ = exp(log_sigma), so that σ stays positive unconstrained."""
    mu, log_sigma = params["mu"], params["log_sigma"]
    z = (data - mu) / lnp.exp(log_sigma)
    return lnp.sum(-0.5 * z**2 - log_sigma) - 0.5 * data.size * np.log(2 * np.pi)


def poisson_log_likelihood(params: dict[str, Any], x: np.ndarray, counts: np.ndarray) -> Any:
    """Σ y·(X β) − exp(X β), the Poisson log-likelihood without the constant Σ log y!."""
    eta = x @ params["beta"]
    return lnp.sum(counts * eta - lnp.exp(eta))


def irls(x: np.ndarray, counts: np.ndarray, iterations: int = 50) -> np.ndarray:
    """The Poisson maximum by Newton's method with the Hessian written by hand
    (iteratively reweighted least squares): an independent reference."""
    beta = np.zeros(x.shape[1])
    for _ in range(iterations):
        rate = np.exp(x @ beta)
        step = np.linalg.solve(x.T @ (rate[:, None] * x), x.T @ (counts - rate))
        beta = beta + step
        if np.max(np.abs(step)) < 1e-13:
            break
    return beta


def main(out: str | Path | None = "lagrad-demo", seed: int = 0, *, samples: int = 500) -> dict[str, Any]:
    """Fit both models, compare with the references, and draw the fits into `out`."""
    rng = np.random.default_rng(seed)
    data = rng.normal(3.0, 1.5, samples)
    normal = maximize(
        normal_log_likelihood, {"mu": np.array(0.0), "log_sigma": np.array(0.0)}, args=(data,), method="trust-ncg"
    )
    mu, sigma = float(normal.x["mu"]), float(np.exp(normal.x["log_sigma"]))
    mu_exact, sigma_exact = float(np.mean(data)), float(np.std(data))
    print(f"normal fit by trust-ncg ({normal.nit} iterations): μ = {mu:.6f}, σ = {sigma:.6f}")
    print(f"  closed form: sample mean {mu_exact:.6f}, sample std (ddof=0) {sigma_exact:.6f}")
    print(f"  maximum log-likelihood {normal.fun:.4f}")

    x = np.column_stack([np.ones(samples), rng.uniform(-1, 1, (samples, 2))])
    beta_true = np.array([0.5, 1.0, -0.7])
    counts = rng.poisson(np.exp(x @ beta_true)).astype(float)
    poisson = maximize(poisson_log_likelihood, {"beta": np.zeros(3)}, args=(x, counts), method="Newton-CG", xtol=1e-10)
    beta = poisson.x["beta"]
    reference = irls(x, counts)
    score = x.T @ (counts - np.exp(x @ beta))
    print(f"Poisson regression by Newton-CG ({poisson.nit} iterations): β = {np.round(beta, 6)}")
    print(f"  iteratively reweighted least squares: β = {np.round(reference, 6)} (true {beta_true})")
    print(f"  score Xᵀ(y − exp(Xβ)) at the maximum: {np.max(np.abs(score)):.1e}")
    result = {
        "normal": normal,
        "mu": mu,
        "sigma": sigma,
        "mu_exact": mu_exact,
        "sigma_exact": sigma_exact,
        "poisson": poisson,
        "beta": beta,
        "beta_irls": reference,
        "score": score,
    }
    if out is not None:
        result["picture"] = _draw(Path(out), data, mu, sigma, x, counts, beta)
        print(f"picture: {result['picture']}")
    return result


def _draw(
    folder: Path, data: np.ndarray, mu: float, sigma: float, x: np.ndarray, counts: np.ndarray, beta: np.ndarray
) -> Path:
    from matplotlib.figure import Figure

    from lagrad.plot import save

    figure = Figure(figsize=(9, 3.4), layout="constrained")
    left, right = figure.subplots(1, 2)
    left.hist(data, bins=30, density=True, color="0.8")
    grid = np.linspace(data.min(), data.max(), 200)
    left.plot(grid, np.exp(-0.5 * ((grid - mu) / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi)), color="#2a788e")
    left.set_title(f"Normal maximum likelihood: μ = {mu:.2f}, σ = {sigma:.2f}", fontsize=9)
    rate = np.exp(x @ beta)
    right.scatter(rate, counts, s=6, alpha=0.5, color="#2a788e")
    right.plot([0, rate.max()], [0, rate.max()], "k:", linewidth=1)
    right.set_xlabel("fitted rate exp(X β)")
    right.set_ylabel("observed count")
    right.set_title("Poisson regression by maximum likelihood", fontsize=9)
    return save(figure, folder, "maximize.png")


if __name__ == "__main__":
    run_from_command_line(main, __doc__)
