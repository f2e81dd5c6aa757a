"""The logistic-loss gradient on a Dask array over a local two-process cluster, as a ratio to
the Dask forward pass (the loss alone) in the same run, and each worker's peak memory.

    python benchmarks/dask_logistic.py [--rows 1000000] [--features 50] [--chunk-rows 125000] [--repeat 5]

The data are made once and kept on the workers (`persist`); each timing computes one graph
on them: the loss (the floor), the gradient written by hand in Dask (what any gradient costs:
a second pass over X), lagrad's gradient, and lagrad's value and gradient together.
A worker's peak memory is its process's peak resident size, minus its size once the data
are kept, in chunks of X: the gradient should hold a few chunks at a time, never the array.
Needs the dask extra (pip install 'lagrad[dask]').
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

import lagrad
from lagrad.examples.dask_logistic import logistic_loss


def _peak_rss() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux


def _rss() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def _hand_gradient(w, X, y, l2: float = 1e-3):
    """∇ of `logistic_loss` written out: Xᵀ (σ(X w) − y) / n + l2 w, one pass over X after the forward one."""
    z = X @ w
    return X.T @ (1 / (1 + np.exp(-z)) - y) / X.shape[0] + l2 * w


def best_interleaved(repeat: int, cases: dict[str, Any]) -> dict[str, float]:
    """Best of `repeat` rounds per case, the cases taken in turn within each round, so that a
    shared machine's load weighs on every case alike."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeat):
        for name, fun in cases.items():
            start = time.perf_counter()
            fun()
            times[name].append(time.perf_counter() - start)
    return {name: min(t) for name, t in times.items()}


def graph_figures(a: Any, X: Any) -> str:
    """Tasks in `a`'s graph (as built, and after Dask's optimisation, which fuses blockwise layers),
    and the layers that read X's blocks: each is a pass over X."""
    import dask

    graph = a.__dask_graph__()
    readers = sorted(name.rsplit("-", 1)[0] for name, deps in graph.dependencies.items() if X.name in deps)
    (optimized,) = dask.optimize(a)
    return f"{len(graph)} tasks ({len(optimized.__dask_graph__())} optimised), passes over X: {', '.join(readers)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--chunk-rows", type=int, default=125_000)
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()

    import dask
    import dask.array as da
    from dask.distributed import Client, LocalCluster

    n, d, c = options.rows, options.features, options.chunk_rows
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        rng = da.random.default_rng(0)
        X = rng.standard_normal((n, d), chunks=(c, d)) / np.sqrt(d)
        y = (rng.random(n, chunks=c) < 0.5).astype(float)
        X, y = dask.persist(X, y)
        dask.compute(X.sum(), y.sum())
        w = np.linspace(-1, 1, d)
        kept = client.run(_rss)
        times = best_interleaved(
            options.repeat,
            {
                "forward": lambda: dask.compute(logistic_loss(w, X, y)),
                "by_hand": lambda: dask.compute(_hand_gradient(w, X, y)),
                "grad": lambda: dask.compute(lagrad.grad(logistic_loss)(w, X, y)),
                "both": lambda: dask.compute(*lagrad.value_and_grad(logistic_loss)(w, X, y)),
                "trace": lambda: lagrad.grad(logistic_loss)(w, X, y),
            },
        )
        forward, by_hand, grad, both, trace = (times[k] for k in ("forward", "by_hand", "grad", "both", "trace"))
        graphs = {
            "forward": graph_figures(logistic_loss(w, X, y), X),
            "by hand": graph_figures(_hand_gradient(w, X, y), X),
            "lagrad": graph_figures(lagrad.grad(logistic_loss)(w, X, y), X),
        }
        peaks = client.run(_peak_rss)
    chunk = c * d * 8
    size = f"{chunk / 2**20:.0f} MiB each, {n * d * 8 / 2**20:.0f} MiB in all"
    print(f"logistic loss on a {n:,} × {d} Dask array in {c:,}-row chunks ({size}), two worker processes, "
          f"best of {options.repeat}, the cases in turn")  # fmt: skip
    print("| what | time | ÷ forward |\n| --- | ---: | ---: |")
    print(f"| Dask forward pass (the loss) | {forward * 1e3:.0f} ms | 1.00× |")
    print(f"| the gradient written by hand in Dask (the floor) | {by_hand * 1e3:.0f} ms | {by_hand / forward:.2f}× |")
    print(f"| lagrad gradient | {grad * 1e3:.0f} ms | {grad / forward:.2f}× |")
    print(f"| lagrad value and gradient | {both * 1e3:.0f} ms | {both / forward:.2f}× |")
    print(f"| tracing and building the graph alone | {trace * 1e3:.1f} ms | {trace / forward:.3f}× |")
    for name, figures in graphs.items():
        print(f"graph, {name}: {figures}")
    for address, peak in peaks.items():
        extra = peak - kept[address]
        print(f"worker {address}: peak {peak / 2**20:.0f} MiB, {extra / 2**20:.0f} MiB above the kept data "
              f"({extra / chunk:.1f} chunks)")  # fmt: skip


if __name__ == "__main__":
    main()
