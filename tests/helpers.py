"""What every derivative test does: finite differences in both modes to second order,
and the three solvers of the adjoint system in agreement."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from lagrad.testing import check_grads, check_solvers


def check(f: Any, *args: Any, order: int = 2, **kwargs: Any) -> None:
    check_grads(f, *args, modes=("fwd", "rev"), order=order, **kwargs)
    check_solvers(f, *args)


def cupy_or_skip() -> Any:
    """The cupy module where CuPy sees a GPU; otherwise the test is skipped, saying why."""
    cp = pytest.importorskip("cupy", reason="CuPy is not installed: the CuPy tests run where CuPy and a GPU are")
    try:
        if cp.cuda.runtime.getDeviceCount() < 1:
            pytest.skip("CuPy is installed but sees no GPU")
    except cp.cuda.runtime.CUDARuntimeError as error:  # pragma: no cover - only with CuPy and no driver
        pytest.skip(f"CuPy is installed but sees no GPU ({error})")
    return cp  # pragma: no cover - needs CuPy and a GPU


# Every checkpoint policy of the structured loops, small enough for short test loops.
LOOP_POLICIES = [
    {"checkpoint": "all"},
    {"checkpoint": "every", "every": 2},
    {"checkpoint": "binomial", "snapshots": 2},
    {"checkpoint": "none"},
]
LOOP_POLICY_IDS = ["all", "every", "binomial", "none"]


def peak_memory(run: Any) -> int:
    """The peak of memory traced by `tracemalloc` during a second call of `run` (the first
    fills NumPy's and lagrad's caches), in bytes."""
    import gc
    import tracemalloc

    run()
    gc.collect()
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def calls_from_threads(call: Callable[[int], Any], threads: int = 8, times: int = 10) -> list[list[Any]]:
    """``call(j)`` made `times` times by each of `threads` threads started together: the
    results, thread by thread."""
    results: list[Any] = [None] * threads
    barrier = threading.Barrier(threads)

    def work(j: int) -> None:
        barrier.wait()
        results[j] = [call(j) for _ in range(times)]

    started = [threading.Thread(target=work, args=(j,)) for j in range(threads)]
    for t in started:
        t.start()
    for t in started:
        t.join()
    return results
