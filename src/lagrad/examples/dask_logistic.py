"""Logistic regression on a chunked Dask array, fit with lagrad's gradients on a Dask cluster.

The loss is ordinary NumPy code, mean(log(1 + exp(X w)) − y · X w) + λ/2 ‖w‖²; called on a
Dask array `X` (4,000,000 × 50 in 250,000-row chunks by default), lagrad's `value_and_grad`
returns the loss and its gradient as lazy Dask arrays: the forward pass and the
back-substitution are one task graph, which the cluster (a `dask.distributed.LocalCluster`
of two worker processes) computes once per L-BFGS-B iteration. Nothing is computed while
lagrad traces and differentiates. The fit is checked against the same fit on the NumPy
array of the same data (gradient to 1e-10 at the optimum, weights to 1e-6).

Needs the dask extra (pip install 'lagrad[dask]').
Run: lagrad demo --example dask_logistic, or python -m lagrad.examples.dask_logistic
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import lagrad
from lagrad.examples import run_from_command_line


def logistic_loss(w: Any, X: Any, y: Any, l2: float = 1e-3) -> Any:
    """mean(log(1 + exp(z)) − y z) + l2/2 ‖w‖², z = X w: plain NumPy calls, on NumPy or Dask arrays."""
    z = X @ w
    return np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * l2 * np.sum(w * w)


def fit(X: Any, y: Any, compute: Any, w0: np.ndarray) -> Any:
    """L-BFGS-B on the loss, its gradient from lagrad; `compute` turns the lazy pair into numbers."""
    from scipy.optimize import minimize

    value_and_grad = lagrad.value_and_grad(logistic_loss)

    def objective(w: np.ndarray) -> tuple[float, np.ndarray]:
        value, gradient = compute(*value_and_grad(w, X, y))
        return float(value), np.asarray(gradient, dtype=float)

    return minimize(objective, w0, jac=True, method="L-BFGS-B", options={"gtol": 1e-9, "ftol": 1e-14})


def main(
    out: str | Path | None = None,
    seed: int = 0,
    *,
    rows: int = 4_000_000,
    features: int = 50,
    chunk_rows: int = 250_000,
    cluster: bool = True,
) -> dict[str, Any]:
    """Fit on the cluster (or Dask's threads, `cluster=False`) and check against NumPy. `out` is
    unused: the example draws no picture."""
    try:
        import dask
        import dask.array as da
    except ImportError as error:
        raise SystemExit("lagrad demo --example dask_logistic needs Dask: pip install 'lagrad[dask]'") from error
    rng = da.random.default_rng(seed)
    w_true = np.linspace(-1.0, 1.0, features)
    X = rng.standard_normal((rows, features), chunks=(chunk_rows, features)) / np.sqrt(features)
    y = (rng.random(rows, chunks=chunk_rows) < 1 / (1 + np.exp(-(X @ w_true)))).astype(float)
    client = None
    if cluster:
        from dask.distributed import Client, LocalCluster

        client = Client(LocalCluster(n_workers=2, threads_per_worker=1, processes=True))
        print(f"Dask dashboard: {client.dashboard_link}")
    try:
        X, y = dask.persist(X, y)  # the data, made once and kept on the workers
        g0 = lagrad.grad(logistic_loss)(np.zeros(features), X, y)
        print(f"the gradient is a lazy {type(g0).__module__}.{type(g0).__name__}: {g0!r}")
        result = fit(X, y, dask.compute, np.zeros(features))
        print(f"L-BFGS-B on Dask ({rows:,} × {features}): {result.nit} iterations, loss {result.fun:.10f}")
        X_np, y_np = dask.compute(X, y)
    finally:
        if client is not None:
            client.close()
            client.cluster.close()
    reference = fit(X_np, y_np, lambda v, g: (v, g), np.zeros(features))
    chunked = (da.from_array(X_np, chunks=(chunk_rows, features)), da.from_array(y_np, chunks=chunk_rows))
    (g_dask,) = dask.compute(lagrad.grad(logistic_loss)(result.x, *chunked))
    g_numpy = lagrad.grad(logistic_loss)(result.x, X_np, y_np)
    print(f"NumPy fit on the same data: {reference.nit} iterations, loss {reference.fun:.10f}")
    print(f"  max |w_dask − w_numpy| = {np.max(np.abs(result.x - reference.x)):.1e}")
    print(f"  gradient at w_dask, Dask vs NumPy: max difference {np.max(np.abs(g_dask - g_numpy)):.1e}")
    return {"dask": result, "numpy": reference, "gradient_dask": g_dask, "gradient_numpy": g_numpy, "w_true": w_true}


if __name__ == "__main__":
    run_from_command_line(main, __doc__)
