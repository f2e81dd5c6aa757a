"""Memory and size: repeated gradients hold no more memory, long programs need no recursion.

benchmarks/memory.py measures the same at full size and reports the peak memory of a
100,000-equation program.
"""

from __future__ import annotations

import gc
import pathlib
import sys
import tracemalloc

import numpy as np
import pytest

import lagrad
import lagrad.numpy as lnp

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "benchmarks"))

import memory

# SciPy 1.17's spsolve_triangular keeps about 110 bytes per call (SuperLU's gstrs, with or
# without lagrad); what the sparse solver holds is counted without SciPy's own allocations.
_NOT_SCIPY = [tracemalloc.Filter(False, "*/scipy/sparse/linalg/_dsolve/*")]


def _growth(run, calls: int, warmup: int) -> int:
    """Bytes held after `calls` more runs than after `warmup` runs (caches fill once)."""
    tracemalloc.start()
    try:
        for _ in range(warmup):
            run()
        gc.collect()
        before = tracemalloc.take_snapshot().filter_traces(_NOT_SCIPY)
        for _ in range(calls):
            run()
        gc.collect()
        after = tracemalloc.take_snapshot().filter_traces(_NOT_SCIPY)
    finally:
        tracemalloc.stop()
    return sum(stat.size_diff for stat in after.compare_to(before, "filename"))


def test_ten_thousand_grads_hold_no_more_memory():
    g = lagrad.grad(lambda x: lnp.sum(x * x))  # small: tracemalloc slows every allocation
    x = np.array([0.5, 1.5, -0.2])
    growth = _growth(lambda: g(x), calls=10_000, warmup=200)
    assert growth < 16 * 1024, f"{growth / 1024:.0f} kB more held after 10,000 gradients"


def test_grads_through_containers_branches_and_where_hold_no_more_memory():
    def f(p):
        x = p["a"] * p["b"][0]
        x = lnp.sin(x) if lnp.sum(x) > 0 else x
        return lnp.sum(lnp.where(x > 0, lnp.sqrt(x), 0.0))  # zero means zero: the second sweep too

    g = lagrad.grad(f)
    p = {"a": np.array([0.5, 1.5, -0.2]), "b": [np.float64(2.0)]}
    with np.errstate(invalid="ignore"):
        growth = _growth(lambda: g(p), calls=1_000, warmup=100)
    # 8 bytes a gradient, as 16 kB over 2,000 calls was; under 3 kB is held without a leak
    assert growth < 8 * 1024, f"{growth / 1024:.1f} kB more held after 1,000 gradients"


@pytest.mark.parametrize("transform", ["jvp", "vjp", "hessian", "adjoint, sparse solver"])
def test_other_transforms_hold_no_more_memory(transform):
    f = lambda x: lnp.sum(lnp.tanh(x) ** 2)
    x = np.array([0.3, -0.7])
    run = {
        "jvp": lambda: lagrad.jvp(f, (x,), (np.ones(2),)),
        "vjp": lambda: lagrad.vjp(lnp.tanh, x)[1](np.ones(2)),
        "hessian": lambda: lagrad.hessian(f)(x),
        "adjoint, sparse solver": lambda: lagrad.adjoint(f, x).solve("sparse"),
    }[transform]
    growth = _growth(run, calls=400, warmup=30)
    assert growth < 16 * 1024, f"{growth / 1024:.0f} kB more held after 400 calls"


def test_a_leaked_traced_value_keeps_only_its_own_value():
    # a value that escapes its trace must not keep the whole Program alive
    leaked = []

    def f(x):
        y = x
        for _ in range(1000):
            y = lnp.sin(y) * 1.0001
        leaked.append(y)
        return lnp.sum(y)

    lagrad.grad(f)(np.ones(1000))
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        lagrad.grad(f)(np.ones(1000))
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 200 * 1024, f"{held / 1024:.0f} kB held by one leaked value"  # the 8 kB value, not 16 MB


def test_a_hundred_thousand_equations_need_no_recursion():
    f = memory.unrolled(50_000)  # 100,000 equations
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(200, len(__import__("inspect").stack()) + 100))  # a little above here
    try:
        program = lagrad.trace(f, 1.0)
        g = lagrad.grad(f)(1.0)
        _, t = lagrad.jvp(f, (1.0,), (1.0,))
    finally:
        sys.setrecursionlimit(old)
    assert len(program.equations) == 100_000
    assert np.isclose(g, 0.9999**50_000, rtol=1e-9) and np.isclose(t, g, rtol=1e-12)


@pytest.mark.slow
def test_the_memory_benchmark_at_full_size():
    long = memory.long_program(100_000)
    assert long["peak"] < 200 * 2**20  # about 45 MB here: 450 bytes per equation
    assert memory.repeated_grads(10_000)["growth"] < 64 * 1024


def test_the_memory_benchmark_runs():
    long = memory.long_program(2_000)
    assert long["equations"] == 2_000 and 0 < long["peak"] < 10 * 2**20
    assert memory.repeated_grads(calls=50, warmup=10)["calls"] == 50
