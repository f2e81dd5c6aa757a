"""Full Jacobians and Hessians: 20 steps of ``y = tanh(A_k @ y) + sin(y)``, written op by op.

    python benchmarks/jacobian.py             # n = 200 (Jacobian), 100 (Hessian)
    python benchmarks/jacobian.py --n 50      # smaller
    python benchmarks/jacobian.py --cpu       # the calling thread's CPU time (a loaded machine)

(a) the n×n Jacobian of the map, in reverse and forward mode; (b) the Hessian of the
scalar ``sum(map(x) ** 2)`` at n/2 inputs. The rows "numpy" of (a) are the sweeps written
by hand in NumPy, reverse (`hand_jacobian`) and forward (`hand_jacobian_fwd`): the floor of
each mode, the same products with no overhead. Each time
is the best of the runs made in about 1.5 seconds, as a ratio to the NumPy forward pass
(of the map, resp. the scalar) in the same run; with ``--cpu`` the best of 25 calls in the
calling thread's CPU time, which a loaded machine's waits do not enter (one BLAS thread).
Peers that are not installed are skipped.
Targets (issue 8): lagrad ≤ 25× in both modes for (a), and within 2× of
``torch.func.hessian`` for (b).
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

STEPS = 20


def _best_cpu(run: Callable[[], Any], calls: int = 25) -> float:
    """The least CPU time of the calling thread over `calls` calls of `run`, after one."""
    run()
    times = []
    for _ in range(calls):
        t0 = time.thread_time()
        run()
        times.append(time.thread_time() - t0)
    return min(times)


def data(n: int, seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    return {"A": [rng.standard_normal((n, n)) / n**0.5 for _ in range(STEPS)], "x": rng.uniform(-1, 1, n)}


def step_map(m: Any, As: list[Any]) -> Callable[[Any], Any]:
    def f(y: Any) -> Any:
        for A in As:
            y = m.tanh(A @ y) + m.sin(y)
        return y

    return f


def scalar(m: Any, As: list[Any]) -> Callable[[Any], Any]:
    f = step_map(m, As)
    return lambda x: m.sum(f(x) ** 2)


def hand_jacobian(As: list[Any], x: Any) -> Any:
    """The map's Jacobian in NumPy by hand, reverse mode: the forward pass keeping tanh's
    values, then ``G ← G·diag(cos y) + (G·diag(1 - t²)) @ A_k`` from ``G = I``: the same
    matrix products and elementwise passes a reverse sweep makes, with no overhead (the
    floor under every library's time)."""
    ys, ts, y = [], [], x
    for A in As:
        ys.append(y)
        ts.append(np.tanh(A @ y))
        y = ts[-1] + np.sin(y)
    g = np.eye(len(x))
    for A, y, t in zip(reversed(As), reversed(ys), reversed(ts)):
        g = g * np.cos(y) + (g * (1 - t**2)) @ A
    return g


def hand_jacobian_fwd(As: list[Any], x: Any) -> Any:
    """The map's Jacobian in NumPy by hand, forward mode: the tangents of all n input
    directions as the rows of ``T`` (from ``T = I``), pushed through each step as
    ``T ← (T @ A_kᵀ)·diag(1 - t²) + T·diag(cos y)`` beside the forward pass: the same
    products a forward sweep makes, with no overhead. ``J = Tᵀ``."""
    y, tangents = x, np.eye(len(x))
    for A in As:
        t = np.tanh(A @ y)
        tangents = (tangents @ A.T) * (1 - t**2) + tangents * np.cos(y)
        y = t + np.sin(y)
    return tangents.T


def build(library: str, task: str, n: int) -> Callable[[], Any] | None:
    """A zero-argument function computing `task` ("forward", "jacrev", "jacfwd", "scalar",
    "hessian") with `library`, or None if the library is not installed."""
    if library != "numpy" and importlib.util.find_spec(library) is None:
        return None
    d = data(n)
    As, x = d["A"], d["x"]
    if library == "numpy":
        if task in ("jacrev", "jacfwd"):
            hand = hand_jacobian if task == "jacrev" else hand_jacobian_fwd
            return lambda: hand(As, x)
        f = step_map(np, As) if task == "forward" else scalar(np, As)
        return lambda: f(x)
    if library == "lagrad":
        import lagrad

        if task == "hessian":
            return lambda: lagrad.hessian(scalar(np, As))(x)
        return lambda: lagrad.jacobian(step_map(np, As), mode=task[3:])(x)
    if library == "autograd":
        import autograd
        import autograd.numpy as anp

        if task == "hessian":
            return lambda: autograd.hessian(scalar(anp, As))(x)
        jac = autograd.jacobian(step_map(anp, As))  # autograd has reverse mode only
        return (lambda: jac(x)) if task == "jacrev" else None
    if library == "torch":
        import torch
        import torch.func

        tA = [torch.tensor(A) for A in As]
        tx = torch.tensor(x)
        if task == "hessian":
            h = torch.func.hessian(scalar(torch, tA))
            return lambda: h(tx)
        jac = (torch.func.jacrev if task == "jacrev" else torch.func.jacfwd)(step_map(torch, tA))
        return lambda: jac(tx)
    if library == "jax":
        import jax

        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp

        jA = [jnp.asarray(A) for A in As]
        jx = jnp.asarray(x)
        if task == "hessian":
            h = jax.hessian(scalar(jnp, jA))
        else:
            h = (jax.jacrev if task == "jacrev" else jax.jacfwd)(step_map(jnp, jA))
        return lambda: jax.block_until_ready(h(jx))
    raise ValueError(library)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="size of the Jacobian (the Hessian has n/2 inputs)")
    parser.add_argument("--cpu", action="store_true", help="time the calling thread's CPU time, not wall time")
    args = parser.parse_args(argv)
    global best
    if args.cpu:
        best = _best_cpu
    n, nh = args.n, args.n // 2
    forward = best(build("numpy", "forward", n))
    forward_h = best(build("numpy", "scalar", nh))
    print(f"NumPy forward pass: map {forward * 1e3:.3f} ms (n={n}), scalar {forward_h * 1e3:.3f} ms (n={nh})")
    print("| task | library | time | ratio to NumPy forward |")
    print("| --- | --- | ---: | ---: |")
    for task, base in (("jacrev", forward), ("jacfwd", forward), ("hessian", forward_h)):
        peers = ("lagrad", "torch", "jax", "autograd")
        for library in peers if task == "hessian" else ("numpy", *peers):  # numpy: the sweep by hand
            run = build(library, task, nh if task == "hessian" else n)
            if run is None:
                continue
            t = best(run)
            print(f"| {task} | {library} | {t * 1e3:.2f} ms | {t / base:.1f}× |", flush=True)


if __name__ == "__main__":
    main()
