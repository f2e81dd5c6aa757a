"""`jacobian(method="auto")`: does the cost model pick the fastest method? (issue 9, 3.)

    python benchmarks/plan.py

For programs whose right answer is known (wide to scalar, scalar to wide, banded, a 2-D
stencil, the four literature functions of benchmarks/elimination.py, a small dense
network), the wall time of each candidate after the plan (reverse and forward mode,
Markowitz-order elimination, the sparse solve with the plan's kept `Sparsity`), the plan's
modelled figures and its choice, and how much slower the chosen method is than the
fastest measured one (1.00: it chose the fastest). Best of the runs in about 0.5 s each.

    python benchmarks/plan.py --calibrate

fits the model's constants (`lagrad.plan.COSTS`) to the measured times of every candidate on
every program, by non-negative least squares on relative errors.

    python benchmarks/plan.py --plan-cost

what planning costs: on each program and on benchmarks/jacobian.py's 200×200 map, the
plan made afresh (trace, graph, counts, pattern and colouring where sparse could win) and
``jacobian(method="auto")`` once the plan is kept (one trace, a key lookup, the chosen
solve), both as ratios to one reverse-mode Jacobian in the same run. The plan is made once
per structure of the traced program; a call in a loop pays the second figure.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import elimination as literature
from cases import best

import lagrad
import lagrad.numpy as lnp


def stencil(n: int) -> Callable[[Any], Any]:
    def residual(u: Any) -> Any:
        v = lnp.reshape(u, (n, n))
        p = lnp.pad(v, 1)
        lap = p[2:, 1:-1] + p[:-2, 1:-1] + p[1:-1, 2:] + p[1:-1, :-2] - 4 * v
        return lnp.reshape(lap - v**3, (n * n,))

    return residual


def programs() -> dict[str, tuple[Callable[..., Any], tuple[Any, ...], Any]]:
    rng = np.random.default_rng(0)
    w1, w2 = rng.standard_normal((20, 20)) / 5, rng.standard_normal((20, 20)) / 5
    w50 = np.random.default_rng(0).standard_normal((50, 50)) / 7
    a10 = np.random.default_rng(1).standard_normal((10, 10)) / 3  # as in tests/test_plan.py
    cases: dict[str, tuple[Callable[..., Any], tuple[Any, ...], Any]] = {
        "wide to scalar, X @ X (100)": (
            lambda x: lnp.sum(lnp.tanh(lnp.reshape(x, (10, 10)) @ lnp.reshape(x, (10, 10)))),
            (rng.standard_normal(100) / 3,),
            0,
        ),
        "scalar to wide, X @ X (100)": (lambda t: lnp.reshape((t * a10) @ (t * a10), (100,)), (np.float64(0.7),), 0),
        "wide to scalar, dense (50)": (lambda x: lnp.sum(lnp.tanh(w50 @ x) * x), (np.linspace(0.1, 1, 50),), 0),
        "scalar to wide, dense (50)": (lambda t: w50 @ lnp.sin(t * np.arange(50.0)), (np.float64(0.3),), 0),
        "wide to scalar (200)": (lambda x: lnp.sum(lnp.sin(x) * x), (np.linspace(0.1, 1, 200),), 0),
        "scalar to wide (200)": (lambda t: lnp.sin(t * np.arange(200.0)), (np.float64(0.3),), 0),
        "banded (200)": (lambda x: x[1:] * x[:-1] + lnp.sin(x[1:]), (np.linspace(0.1, 1, 200),), 0),
        "banded (2000)": (lambda x: x[1:] * x[:-1] + lnp.sin(x[1:]), (np.linspace(0.1, 1, 2000),), 0),
        "stencil 30x30": (stencil(30), (rng.uniform(-1, 1, 900),), 0),
        "dense net 20": (lambda x: w2 @ lnp.tanh(w1 @ x), (rng.standard_normal(20),), 0),
        "elementwise (100)": (lambda x: lnp.exp(lnp.sin(x) * x), (np.linspace(0.1, 1, 100),), 0),
    }
    for name, (make, args) in literature.PROBLEMS.items():
        args = tuple(np.float64(a) for a in args)
        cases[name] = (make(lnp), args, tuple(range(len(args))))
    return cases


def measure(f: Callable[..., Any], args: tuple[Any, ...], argnums: Any, seconds: float = 0.5) -> dict[str, float]:
    """Wall time of each candidate as `jacobian(method="auto")` runs it once chosen (the
    sparse solve on the plan's tape and `Sparsity`)."""
    plan = lagrad.plan(f, *args, argnums=argnums)
    times = {}
    for mode in ("rev", "fwd"):
        jac = lagrad.jacobian(f, argnums=argnums, mode=mode)
        times[mode] = best(lambda: jac(*args), seconds)
    if "elimination" in plan.costs:
        jac = lagrad.jacobian(f, argnums=argnums, method="elimination")
        times["elimination"] = best(lambda: jac(*args), seconds)
    if plan.structure is not None:
        s = plan.structure
        times["sparse"] = best(lambda: s._solve(s._tape).toarray(), seconds)
    return times


def calibrate() -> None:
    """Fit `lagrad.plan.COSTS` to the measured wall times of every candidate on every program
    (non-negative least squares on relative errors) and print it."""
    import scipy.optimize

    from lagrad.plan import COSTS

    keys = list(COSTS)
    rows, times = [], []
    for f, args, argnums in programs().values():
        plan = lagrad.plan(f, *args, argnums=argnums)
        for method, t in measure(f, args, argnums).items():
            rows.append([plan.counts[method][k] / (t * 1e6) for k in keys])
            times.append(1.0)
    fitted, _ = scipy.optimize.nnls(np.array(rows), np.array(times))
    print("COSTS = {")
    for k, v in zip(keys, fitted):
        print(f"    {k!r}: {v:.3g},")
    print("}")


def plan_cost() -> None:
    """Planning afresh and a kept plan's call, ÷ one reverse-mode Jacobian."""
    import time

    from jacobian import data, step_map

    cases = programs()
    d = data(200)
    cases["jacobian.py map 200x200"] = (step_map(lnp, d["A"]), (d["x"],), 0)
    print(f"{'program':28s} {'chosen':>11s} {'rev (µs)':>10s} {'plan afresh ÷ rev':>18s} {'auto, kept ÷ rev':>17s}")
    for name, (f, args, argnums) in cases.items():
        rev = lagrad.jacobian(f, argnums=argnums)
        t_rev = best(lambda: rev(*args), 0.5)
        fresh = []
        for _ in range(3):
            t0 = time.perf_counter()
            chosen = lagrad.plan(f, *args, argnums=argnums)
            fresh.append(time.perf_counter() - t0)
        auto = lagrad.jacobian(f, argnums=argnums, method="auto")
        sys.modules["lagrad.plan"]._PLANS.clear()  # the first call below plans, the rest find it
        t_auto = best(lambda: auto(*args), 0.5)
        print(
            f"{name:28s} {chosen.method:>11s} {t_rev * 1e6:10,.0f} {min(fresh) / t_rev:18.2f} {t_auto / t_rev:17.2f}",
            flush=True,
        )


def main() -> None:
    if "--calibrate" in sys.argv:
        calibrate()
        return
    if "--plan-cost" in sys.argv:
        plan_cost()
        return
    print(f"{'program':24s} {'chosen':>11s} {'fastest':>11s} {'chosen/fastest':>14s}   measured (µs) | modelled (µs)")
    for name, (f, args, argnums) in programs().items():
        plan = lagrad.plan(f, *args, argnums=argnums)
        times = measure(f, args, argnums)
        fastest = min(times, key=times.__getitem__)
        measured = " ".join(f"{k} {v * 1e6:,.0f}" for k, v in times.items())
        modelled = " ".join(f"{k} {v:,.0f}" for k, v in plan.costs.items())
        ratio = times[plan.method] / times[fastest]
        print(f"{name:24s} {plan.method:>11s} {fastest:>11s} {ratio:14.2f}   {measured} | {modelled}", flush=True)


if __name__ == "__main__":
    main()
