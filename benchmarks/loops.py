"""Structured loops: the heat equation as one `fori_loop` equation, under each checkpoint policy.

    python benchmarks/loops.py                 # T = 2,000 (the quick run)
    python benchmarks/loops.py --long          # and the long run at T = 10**6 (minutes: run it apart)
    python benchmarks/loops.py --long 20000    # a shorter long run

(1) Heat N=512, T=2,000: the gradient of ``sum((u_T - target)**2)`` in (alpha, u0) with the
loop unrolled (a Python loop, traced step by step) and as `lagrad.fori_loop` with checkpoint
"all", "every" (50) and "binomial" (20 snapshots): best-of-3 time as a ratio to NumPy's
forward loop (``np.roll``, as the user writes it) in the same run, and the extra peak memory
(tracemalloc, which NumPy reports its buffers to) over the forward loop's own peak, in
states of 512 floats (4 kB).

(2) With --long: T = 10**6 steps with "binomial" and 100 snapshots, against the forward loop
(minutes): CPU time (the wall time too, which a loaded machine distorts), and the peak
resident memory during the gradient over that before it.

(3) The steps each schedule ran (advances: steps run again without recording; recorded:
steps run with their forward values kept for the adjoint step) against revolve's minimum
``r·T − β(s + 1, r − 1)`` (`lagrad.schedule.advances`), less the steps a forward sweep that
knows T runs towards it: for `fori_loop`, and for a `while_loop`, which keeps states online.

(4) The 1,000-step branchy scalar loop of run.py (b) as a `fori_loop` with a branching body
(two variants, recorded as runs) against the unrolled loop: time and the gradient.

(5) A fixed-point iteration stopped by a tolerance, as `while_loop`: its reverse-mode
gradient against central finite differences.

(6) The Hessian-vector product of the heat loss (plus a cubic term) through the loop, which
stays one equation of the gradient's trace (`loop_adjoint`), against the unrolled loop: time
as a ratio to the gradient's, and extra peak memory, at three lengths.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
import tracemalloc
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

import numpy as np

import lagrad
import lagrad.numpy as lnp
from lagrad import schedule

N = 512


def numpy_heat(alpha: float, u: np.ndarray, target: np.ndarray, steps: int) -> float:
    for _ in range(steps):
        u = u + alpha * (np.roll(u, 1) - 2 * u + np.roll(u, -1))
    return float(np.sum((u - target) ** 2))


def unrolled_heat(target: np.ndarray, steps: int) -> Any:
    def loss(alpha: Any, u: Any) -> Any:
        for _ in range(steps):
            u = u + alpha * (lnp.roll(u, 1) - 2 * u + lnp.roll(u, -1))
        return lnp.sum((u - target) ** 2)

    return loss


def looped_heat(target: np.ndarray, steps: int, **policy: Any) -> Any:
    def loss(alpha: Any, u0: Any) -> Any:
        u = lagrad.fori_loop(
            0, steps, lambda i, u: u + alpha * (lnp.roll(u, 1) - 2 * u + lnp.roll(u, -1)), u0, **policy
        )
        return lnp.sum((u - target) ** 2)

    return loss


def best(run: Any, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def peak(run: Any, repeat: int = 3) -> int:
    """The least peak of `repeat` runs (the first run in a process allocates NumPy's caches)."""
    tops = []
    for _ in range(repeat):
        tracemalloc.start()
        run()
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        tops.append(top)
    return min(tops)


def heat(steps: int) -> None:
    rng = np.random.default_rng(0)
    u0, target, alpha = rng.random(N), rng.random(N), 0.2
    floor = best(lambda: numpy_heat(alpha, u0, target, steps))
    floor_peak = peak(lambda: numpy_heat(alpha, u0, target, steps))
    print(f"(1) heat N={N}, T={steps:,}: NumPy forward {floor * 1e3:.0f} ms")
    reference = lagrad.grad(unrolled_heat(target, steps), (0, 1))(alpha, u0)
    forms = {
        "unrolled": unrolled_heat(target, steps),
        "fori_loop all": looped_heat(target, steps),
        "fori_loop every 50": looped_heat(target, steps, checkpoint="every", every=50),
        "fori_loop binomial 20": looped_heat(target, steps, checkpoint="binomial", snapshots=20),
    }
    times = {}
    print("| form | gradient time | × forward | extra peak memory | states |")
    print("| --- | --- | --- | --- | --- |")
    for name, loss in forms.items():
        g = lagrad.grad(loss, (0, 1))
        got = g(alpha, u0)
        assert np.allclose(got[0], reference[0]) and np.allclose(got[1], reference[1]), name
        times[name] = best(lambda g=g: g(alpha, u0))
        extra = peak(lambda g=g: g(alpha, u0)) - floor_peak
        print(
            f"| {name} | {times[name] * 1e3:.0f} ms | {times[name] / floor:.2f}× | {extra / 1e3:.0f} kB | "
            f"{extra / (N * 8):.1f} |"
        )
    print(f"binomial 20 / all: {times['fori_loop binomial 20'] / times['fori_loop all']:.2f}×")


def _resident(field: str) -> int:
    """The process's resident memory now ("VmRSS") or at its peak ("VmHWM"), in bytes (Linux)."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith(field + ":"))


def _reset_peak() -> None:
    """Start the peak resident memory (VmHWM) again from the memory resident now (Linux ≥ 4.0)."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")


def long_run(steps: int, snapshots: int = 100) -> None:
    """The gradient's extra memory is its peak resident memory over the resident memory before
    it (which also counts Python's own heap growth: an upper bound; tracemalloc would slow the
    run tenfold), and tracemalloc's peak at 5,000 steps."""
    rng = np.random.default_rng(0)
    u0, target, alpha = rng.random(N), rng.random(N), 0.2
    short = lagrad.grad(looped_heat(target, 5000, checkpoint="binomial", snapshots=snapshots), (0, 1))
    short(alpha, u0)  # warm: imports, caches
    tracemalloc.start()
    short(alpha, u0)
    _, top = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    start, cpu = time.perf_counter(), time.process_time()
    numpy_heat(alpha, u0, target, steps)
    floor, floor_cpu = time.perf_counter() - start, time.process_time() - cpu
    g = lagrad.grad(looped_heat(target, steps, checkpoint="binomial", snapshots=snapshots), (0, 1))
    _reset_peak()
    before = _resident("VmRSS")
    start, cpu = time.perf_counter(), time.process_time()
    g(alpha, u0)
    took, took_cpu = time.perf_counter() - start, time.process_time() - cpu
    grown = _resident("VmHWM") - before
    print(
        f"(2) heat N={N}, T={steps:,}, binomial {snapshots}: gradient {took_cpu:.1f} s of CPU = "
        f"{took_cpu / floor_cpu:.1f}× the forward's {floor_cpu:.1f} s (wall: {took:.1f} s = {took / floor:.1f}× "
        f"{floor:.1f} s; both timed once); peak resident memory +{grown / 1e6:.2f} MB "
        f"({snapshots} snapshots: {snapshots * N * 8 / 1e6:.2f} MB)"
    )
    print(
        f"    at T=5,000: tracemalloc peak {top / 1e6:.2f} MB = {snapshots} snapshots "
        f"({snapshots * N * 8 / 1e6:.2f} MB) + {(top - snapshots * N * 8) / 1e6:.2f} MB"
    )


def counts() -> None:
    print("(3) steps run by each reverse sweep of T steps (the forward sweep runs T), against revolve")
    print("| T | form, policy | advances | recorded | revolve's minimum advances | of them in reverse, T known |")
    print("| --- | --- | --- | --- | --- | --- |")
    for steps, policy, form in [
        (2000, {"checkpoint": "binomial", "snapshots": 20}, "fori_loop"),
        (1000, {"checkpoint": "binomial", "snapshots": 5}, "fori_loop"),
        (2000, {"checkpoint": "every", "every": 50}, "fori_loop"),
        (200, {"checkpoint": "none"}, "fori_loop"),
        (2000, {"checkpoint": "binomial", "snapshots": 20}, "while_loop"),
        (1771, {"checkpoint": "binomial", "snapshots": 20}, "while_loop"),  # β(20, 3): a length of its own
        (1000, {"checkpoint": "binomial", "snapshots": 5}, "while_loop"),
    ]:
        record = _record(steps, policy, form)
        s = policy["snapshots"] if policy["checkpoint"] == "binomial" else 1  # the initial state among them
        minimum = schedule.advances(steps, s) if policy["checkpoint"] != "every" else "—"
        descent = schedule.first_descent(steps, s)[-1] if policy["checkpoint"] == "binomial" else 0
        known = f"{minimum - descent:,}" if policy["checkpoint"] != "every" else "—"
        name = " ".join(str(v) for v in policy.values())
        print(
            f"| {steps:,} | {form} {name} | {record.counts['advance']:,} | {record.counts['record']:,} | "
            f"{minimum:,} | {known} |"
            if minimum != "—"
            else f"| {steps:,} | {form} {name} | {record.counts['advance']:,} | {record.counts['record']:,} | — | — |"
        )


def _record(steps: int, policy: dict[str, Any], form: str = "fori_loop") -> Any:
    """The loop's run record after one gradient (its counts)."""
    from lagrad.loops import loop

    seen = []
    original = loop.impl

    def spy(*args: Any, **params: Any) -> Any:
        out = original(*args, **params)
        seen.append(out.record)
        return out

    def counted(alpha: Any, u0: Any) -> Any:
        def step(c: Any) -> Any:
            return (c[0] + alpha * (lnp.roll(c[0], 1) - 2 * c[0] + lnp.roll(c[0], -1)), c[1] + 1.0)

        return lnp.sum(lagrad.while_loop(lambda c: c[1] < steps, step, (u0, 0.0), **policy)[0] ** 2)

    loss = looped_heat(np.zeros(64), steps, **policy) if form == "fori_loop" else counted
    loop.impl = loop.kernel = spy
    try:
        lagrad.grad(loss, 1)(0.2, np.random.default_rng(0).random(64))
    finally:
        loop.impl = loop.kernel = original
    return seen[-1]


def branchy(steps: int = 1000) -> None:
    def body(i: Any, x: Any, a: Any, b: Any) -> Any:
        return a * x * (1 - x) if x < 0.5 else lnp.sin(b * x) + 0.1 * x

    def looped(a: Any, b: Any) -> Any:
        return lagrad.fori_loop(0, steps, lambda i, x: body(i, x, a, b), 0.5)

    def unrolled(a: Any, b: Any) -> Any:
        x = 0.5
        for i in range(steps):
            x = body(i, x, a, b)
        return x

    g_loop, g_unrolled = lagrad.grad(looped, (0, 1)), lagrad.grad(unrolled, (0, 1))
    got, want = g_loop(3.7, 0.3), g_unrolled(3.7, 0.3)
    t_loop = t_unrolled = math.inf
    for _ in range(9):  # interleaved, so that both see the same load
        t_loop = min(t_loop, best(lambda: g_loop(3.7, 0.3), 1))
        t_unrolled = min(t_unrolled, best(lambda: g_unrolled(3.7, 0.3), 1))
    program = lagrad.trace(looped, 3.7, 0.3)
    body_spec = program.equations[-2].params.get("body", None)
    spec = body_spec or next(eq.params["body"] for eq in program.equations if "body" in eq.params)
    print(
        f"(4) branchy scalar loop, {steps:,} steps: fori_loop {t_loop * 1e3:.0f} ms, unrolled "
        f"{t_unrolled * 1e3:.0f} ms ({t_loop / t_unrolled:.2f}×); gradients agree to "
        f"{max(abs(got[0] - want[0]), abs(got[1] - want[1])):.1e}; {len(spec.variants)} variants, "
        f"{len(spec.last_schedule)} runs recorded"
    )


def fixed_point() -> None:
    def solve(a: Any) -> Any:
        return lagrad.while_loop(lambda x: lnp.abs(x - lnp.cos(a * x)) > 1e-12, lambda x: lnp.cos(a * x), 1.0)

    a, eps = 0.7, 1e-6
    g = lagrad.grad(solve)(a)
    fd = (float(solve(a + eps)) - float(solve(a - eps))) / (2 * eps)
    x = float(solve(a))
    implicit = -math.sin(a * x) * x / (1 + a * math.sin(a * x))
    print(
        f"(5) while_loop fixed point x = cos(a x), a = {a}: reverse mode {g:.10f}, finite differences "
        f"{fd:.10f}, implicit function theorem {implicit:.10f}"
    )


def second_order(lengths: tuple[int, ...] = (100, 400, 2000), snapshots: int = 5) -> None:
    """hvp of the heat loss with a cubic term: the loop (one `loop_adjoint` equation in the
    gradient's trace) against the unrolled loop, time (best of 3) and extra peak memory."""
    rng = np.random.default_rng(0)
    u0, target, v = rng.random(N), rng.random(N), rng.random(N)

    def cubic(loss: Any) -> Any:
        return lambda u: loss(0.2, u) + lnp.sum(u**3)

    print(f"(6) hvp of the heat loss (N={N}) + sum(u0**3): structured loop (binomial {snapshots}) against unrolled")
    print("| T | form | hvp time | × the gradient's | extra peak memory | states |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for steps in lengths:
        floor_peak = peak(lambda: numpy_heat(0.2, u0, target, steps))
        forms = {"unrolled": unrolled_heat(target, steps)} if steps <= 400 else {}
        policy = {"checkpoint": "binomial", "snapshots": snapshots}
        forms[f"fori_loop binomial {snapshots}"] = looped_heat(target, steps, **policy)
        results = {}
        for name, loss in forms.items():
            h, g = lagrad.hvp(cubic(loss)), lagrad.grad(cubic(loss))
            results[name] = h(u0, v)
            took, grad_took = best(lambda h=h: h(u0, v)), best(lambda g=g: g(u0))
            extra = peak(lambda h=h: h(u0, v)) - floor_peak
            print(
                f"| {steps:,} | {name} | {took * 1e3:.0f} ms | {took / grad_took:.2f}× | {extra / 1e6:.2f} MB | "
                f"{extra / (N * 8):.0f} |"
            )
        if len(results) == 2:
            a, b = results.values()
            assert np.allclose(a, b, rtol=1e-9, atol=1e-12), "hvp differs from the unrolled loop's"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument(
        "--long", type=int, nargs="?", const=10**6, default=0, help="also the long run, of LONG steps (10**6)"
    )
    args = parser.parse_args()
    if args.long:
        long_run(args.long)
    heat(args.steps)
    counts()
    branchy()
    fixed_point()
    second_order()


if __name__ == "__main__":
    main()
