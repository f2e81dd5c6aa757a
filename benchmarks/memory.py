"""Memory and size: a long unrolled program's peak memory, and whether repeated gradients leak.

    python benchmarks/memory.py                       # both, at full size
    python benchmarks/memory.py --equations 20000     # a smaller unrolled program

(1) A scalar recurrence unrolled ``n/2`` times is a Program of ``n`` equations
(``x = x * a + b``: a multiply and an add per step); its gradient runs with no
recursion anywhere (the Program is a list, walked in order). Peak memory is
measured with tracemalloc, which NumPy reports its buffers to, for tracing and
back-substitution together.

(2) Ten thousand successive ``grad`` calls on a small network: the memory held
after them, against the memory held after a warm-up, must not grow.

Last run here (Python 3.11, NumPy 2.4; 2 shared cores, times are noisy):

    unrolled program: 100,000 equations, gradient in 0.5 s, peak 42.0 MB (440 bytes per equation)
    10,000 grad calls: 5 kB more held after them than after the warm-up (no growth)
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
import tracemalloc
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

import numpy as np

import lagrad
import lagrad.numpy as lnp


def unrolled(steps: int) -> Any:
    """x ↦ x_steps of x_{k+1} = 0.9999 x_k + 0.0001: 2·steps equations."""

    def f(x: Any) -> Any:
        for _ in range(steps):
            x = x * 0.9999 + 0.0001
        return x

    return f


def long_program(equations: int = 100_000) -> dict[str, float]:
    """Differentiate an unrolled program of `equations` equations: its time, its peak memory."""
    steps = equations // 2
    f = unrolled(steps)
    start = time.perf_counter()
    g = lagrad.grad(f)(1.0)
    seconds = time.perf_counter() - start  # timed without tracemalloc, which slows every allocation
    if not np.isclose(g, 0.9999**steps, rtol=1e-9):
        raise AssertionError(f"wrong gradient {g} for {equations} equations")
    gc.collect()
    tracemalloc.start()
    lagrad.grad(f)(1.0)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"equations": 2 * steps, "seconds": seconds, "peak": peak}


def _network() -> Any:
    rng = np.random.default_rng(0)
    params = {"w1": rng.standard_normal((4, 8)), "w2": rng.standard_normal((8, 3))}
    x, y = rng.standard_normal((16, 4)), np.eye(3)[rng.integers(0, 3, 16)]

    def loss(p: Any) -> Any:
        h = lnp.tanh(x @ p["w1"])
        z = h @ p["w2"]
        z = z - lnp.max(z, axis=1, keepdims=True)
        return -lnp.mean(lnp.sum(y * (z - lnp.log(lnp.sum(lnp.exp(z), axis=1, keepdims=True))), axis=1))

    return lagrad.grad(loss), params


def repeated_grads(calls: int = 10_000, warmup: int = 500) -> dict[str, float]:
    """Memory held after `calls` gradients, against after `warmup` (tracemalloc, after gc)."""
    g, params = _network()
    tracemalloc.start()
    for _ in range(warmup):
        g(params)
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(calls):
        g(params)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return {"calls": calls, "before": before, "after": after, "growth": after - before}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--equations", type=int, default=100_000, help="size of the unrolled program")
    parser.add_argument("--calls", type=int, default=10_000, help="successive grad calls")
    args = parser.parse_args()
    long = long_program(args.equations)
    print(
        f"unrolled program: {long['equations']:,} equations, gradient in {long['seconds']:.1f} s, "
        f"peak {long['peak'] / 2**20:.1f} MB ({long['peak'] / long['equations']:.0f} bytes per equation)"
    )
    rep = repeated_grads(args.calls)
    print(
        f"{rep['calls']:,} grad calls: {rep['growth'] / 1024:.0f} kB more held after them than after the warm-up "
        f"({'no growth' if rep['growth'] < 64 * 1024 else 'GROWTH'})"
    )


if __name__ == "__main__":
    main()
