"""Steady-state heat with a conductivity κ(u): recovered from measurements through `lagrad.root`.

A rod on [0, 1] held at u = 0 at both ends, heated by a source s, settles at the steady
state (κ(u) u')' + s = 0, nonlinear because the conductivity κ(u) = c₀ + c₁u + c₂u² depends
on the temperature (c ≥ 0 keeps it positive for u ≥ 0). Each steady state is one
`lagrad.root` (Newton with lagrad's Jacobian); L-BFGS-B recovers (c₀, c₁, c₂) from noisy
measurements of several experiments, each gradient solving with the transposed Jacobian of
the discrete equation on the diagonal of A instead of differentiating Newton's iterations.

Run: lagrad demo --example steady_heat [--out DIR], or python -m lagrad.examples.steady_heat [--out DIR]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import lagrad
import lagrad.numpy as lnp
from lagrad.examples import run_from_command_line
from lagrad.optimize import minimize

TRUE = np.array([1.0, 0.5, 0.3])


def conductivity(u: Any, c: Any) -> Any:
    return c[0] + c[1] * u + c[2] * u**2


def residual(u: Any, c: Any, source: np.ndarray) -> Any:
    """(κ(u) u')' + s at the interior points of a uniform grid, u = 0 at both ends."""
    h = 1.0 / (source.size + 1)
    padded = lnp.concatenate([np.zeros(1), u, np.zeros(1)])
    flux = conductivity(0.5 * (padded[1:] + padded[:-1]), c) * (padded[1:] - padded[:-1]) / h
    return (flux[1:] - flux[:-1]) / h + source


def steady_state(c: Any, source: np.ndarray) -> Any:
    return lagrad.root(lambda u, c: residual(u, c, source), np.zeros(source.size), c)


def main(
    out: str | Path | None = "lagrad-demo", seed: int = 0, *, n: int = 40, experiments: int = 4, noise: float = 1e-3
) -> dict[str, Any]:
    """Measure the steady states for `experiments` sources and fit κ's coefficients."""
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 1, n + 2)[1:-1]
    amplitudes, centres = np.linspace(5, 20, experiments), rng.uniform(0.3, 0.7, experiments)
    sources = [a * np.exp(-((x - m) ** 2) / 0.05) for a, m in zip(amplitudes, centres)]
    measured = [steady_state(TRUE, s) + noise * rng.standard_normal(n) for s in sources]

    def misfit(c: Any) -> Any:
        return sum(lnp.sum((steady_state(c, s) - d) ** 2) for s, d in zip(sources, measured)) / n

    start = np.array([2.0, 0.0, 0.0])
    fit = minimize(
        misfit,
        start,
        method="L-BFGS-B",
        bounds=(np.array([0.2, 0.0, 0.0]), np.array([5.0, 2.0, 2.0])),
        ftol=1e-15,
        gtol=1e-10,
    )
    c = fit.x
    span = (min(float(np.min(d)) for d in measured), max(float(np.max(d)) for d in measured))
    grid = np.linspace(*span, 50)
    error = float(np.max(np.abs(conductivity(grid, c) - conductivity(grid, TRUE))) / np.max(conductivity(grid, TRUE)))
    start_error = float(
        np.max(np.abs(conductivity(grid, start) - conductivity(grid, TRUE))) / np.max(conductivity(grid, TRUE))
    )
    print(f"κ(u) = c₀ + c₁u + c₂u² recovered by L-BFGS-B ({fit.nit} iterations): c = {np.round(c, 4)} (true {TRUE})")
    print(f"  relative error of κ over the measured temperatures {span[0]:.2f}…{span[1]:.2f}: {error:.2e}")
    result = {"c": c, "fit": fit, "error": error, "start_error": start_error, "span": span}
    if out is not None:
        result["picture"] = _draw(Path(out), x, sources, measured, c, grid)
        print(f"picture: {result['picture']}")
    return result


def _draw(folder: Path, x: np.ndarray, sources: list, measured: list, c: np.ndarray, grid: np.ndarray) -> Path:
    from matplotlib.figure import Figure

    from lagrad.plot import save

    figure = Figure(figsize=(9, 3.4), layout="constrained")
    left, right = figure.subplots(1, 2)
    for s, d in zip(sources, measured):
        left.plot(x, d, ".", markersize=3, color="0.5")
        left.plot(x, steady_state(c, s), color="#2a788e", linewidth=1)
    left.set_xlabel("x")
    left.set_ylabel("u")
    left.set_title("measured steady states (dots) and the fitted model's", fontsize=9)
    right.plot(grid, conductivity(grid, TRUE), "k:", label="true κ(u)")
    right.plot(grid, conductivity(grid, c), color="#2a788e", label="recovered by L-BFGS-B")
    right.set_xlabel("u")
    right.set_ylabel("κ")
    right.legend(fontsize=8)
    right.set_title("conductivity over the measured temperatures", fontsize=9)
    return save(figure, folder, "steady_heat.png")


if __name__ == "__main__":
    run_from_command_line(main, __doc__)
