"""Sparse Jacobians and Hessians from the structure of A (issue 9 (ii)).

    python benchmarks/sparse_jacobian.py              # 100×100 grid (10,000 unknowns); dense at 30×30
    python benchmarks/sparse_jacobian.py --n 40 --dense-n 20

(a) The residual of a 2-D nonlinear PDE on an n×n grid, ``F(u) = Δ_h u − u³ + 1``
(five-point Laplacian, zero boundary values), written op by op in NumPy: its sparse Jacobian
(`lagrad.sparsity` once, then `.jacobian(u)` per call: one compressed forward sweep of a few
colours), and the convenience form ``jacobian(f, sparse=True)``, which traces on every call and
reuses its pattern and colouring while the traced structure is the same (its first call, which
detects them, is timed alone).
Dense Jacobians (lagrad reverse mode, `torch.func.jacrev`, `jax.jacrev`) are timed on a
smaller grid (`--dense-n`) and extrapolated to n×n by the square of the unknowns (a dense
reverse Jacobian is one sweep per output over a program whose size grows with the
unknowns): honest for the order of magnitude, not a measurement. (b) The sparse Hessian of
a sum of local energies on the same grid, ``E(u) = Σ ½|∇_h u|² + ¼ u⁴``.

Each time is the best of the runs made in about 1.5 s, as a ratio to NumPy's forward pass
of the same function in the same run. Target (issue 9): the 100×100 sparse Jacobian ≤ 50×
the residual's forward pass.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from cases import best as _best  # benchmarks/ is on the path: the script's own folder

best = functools.partial(_best, seconds=1.5)


def residual(m: Any, n: int) -> Callable[[Any], Any]:
    """``Δ_h u − u³ + 1`` on the interior of an n×n grid with zero boundary values, flat."""
    h2 = 1.0 / (n + 1) ** 2

    def f(u: Any) -> Any:
        u = m.reshape(u, (n, n))
        p = _pad(m, u)
        lap = (p[2:, 1:-1] + p[:-2, 1:-1] + p[1:-1, 2:] + p[1:-1, :-2] - 4 * u) / h2
        return m.reshape(lap - u**3 + 1.0, (n * n,))

    return f


def _pad(m: Any, u: Any) -> Any:
    """u with a ring of zeros (PyTorch's pad lives in torch.nn.functional)."""
    if hasattr(m, "pad"):
        return m.pad(u, 1)
    import torch.nn.functional

    return torch.nn.functional.pad(u, (1, 1, 1, 1))


def energy(m: Any, n: int) -> Callable[[Any], Any]:
    """``Σ ½|∇_h u|² + ¼ u⁴`` over an n×n grid (differences along both axes)."""

    def e(u: Any) -> Any:
        u = m.reshape(u, (n, n))
        dx = u[1:, :] - u[:-1, :]
        dy = u[:, 1:] - u[:, :-1]
        return 0.5 * m.sum(dx**2) + 0.5 * m.sum(dy**2) + 0.25 * m.sum(u**4)

    return e


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--dense-n", type=int, default=30)
    opts = parser.parse_args()
    import lagrad
    import lagrad.numpy as lnp

    n, dn = opts.n, opts.dense_n
    u = np.random.default_rng(0).uniform(-1, 1, n * n)
    du = np.random.default_rng(0).uniform(-1, 1, dn * dn)
    f, e = residual(np, n), energy(np, n)
    floor_f, floor_e = best(lambda: f(u)), best(lambda: e(u))
    rows = []

    t0 = time.perf_counter()
    structure = lagrad.sparsity(residual(lnp, n), u)
    setup = time.perf_counter() - t0
    rows.append(("(a) lagrad sparsity(f, u) (pattern + colouring, once)", setup, floor_f, n))
    rows.append(
        (
            f"(a) lagrad Sparsity.jacobian(u) [{structure.n_colours} colours]",
            best(lambda: structure.jacobian(u)),
            floor_f,
            n,
        )
    )
    sparse_jac = lagrad.jacobian(residual(lnp, n), sparse=True)
    t0 = time.perf_counter()
    sparse_jac(u)
    rows.append(("(a) lagrad jacobian(f, sparse=True)(u), first call", time.perf_counter() - t0, floor_f, n))
    rows.append(("(a) lagrad jacobian(f, sparse=True)(u), later calls", best(lambda: sparse_jac(u)), floor_f, n))

    floor_dense = best(lambda: residual(np, dn)(du))
    dense = lagrad.jacobian(residual(lnp, dn))
    scale = (n * n / (dn * dn)) ** 2
    rows.append((f"(a) lagrad jacobian(f) dense at {dn}x{dn}", best(lambda: dense(du)), floor_dense, dn))
    if importlib.util.find_spec("torch"):
        import torch
        import torch.func

        torch.set_num_threads(1)
        tf, tu = residual(torch, dn), torch.tensor(du)
        rows.append(
            (f"(a) torch.func.jacrev dense at {dn}x{dn}", best(lambda: torch.func.jacrev(tf)(tu)), floor_dense, dn)
        )
    if importlib.util.find_spec("jax"):
        import jax

        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp

        jf, ju = jax.jacrev(residual(jnp, dn)), jnp.asarray(du)
        rows.append(
            (f"(a) jax.jacrev dense (eager) at {dn}x{dn}", best(lambda: jf(ju).block_until_ready()), floor_dense, dn)
        )

    t0 = time.perf_counter()
    hstructure = lagrad.sparsity(energy(lnp, n), u, hessian=True)
    rows.append(("(b) lagrad sparsity(e, u, hessian=True) (once)", time.perf_counter() - t0, floor_e, n))
    rows.append(
        (
            f"(b) lagrad Sparsity.jacobian(u), Hessian [{hstructure.n_colours} colours]",
            best(lambda: hstructure.jacobian(u)),
            floor_e,
            n,
        )
    )

    print(
        f"grid {n}x{n} ({n * n} unknowns); NumPy forward: residual {floor_f * 1e6:.0f} µs, "
        f"energy {floor_e * 1e6:.0f} µs"
    )
    print(f"{'what':66s} {'time':>10s} {'× forward':>10s} {f'× at {n}x{n} (extrap.)':>22s}")
    for what, t, floor, size in rows:
        extrapolated = f"{t * scale / floor_f:22.0f}" if size != n else " " * 22
        print(f"{what:66s} {t * 1e3:8.2f}ms {t / floor:10.1f} {extrapolated}")


if __name__ == "__main__":
    main()
