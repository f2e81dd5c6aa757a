"""lagrad.compile against eager lagrad and the peers, as ratios to the NumPy forward pass in one run.

    python benchmarks/compile.py                    # the table (peers that are not installed are skipped)
    python benchmarks/compile.py --case a --size 0.1
    python benchmarks/compile.py --ablation         # what each simplification, buffer reuse and rewriting bring
    python benchmarks/compile.py --rounds 10 --startups 10   # more rounds of every cell, more start-ups
    python benchmarks/compile.py --together         # PyTorch and jax timed in this process too

Cases (written op by op, as users write them): (a) the seed network (x 256×64 → 128 → 10),
(f) a DenseNet block (8 layers, growth 32, 64 channels, batch 64), (b) the 1,000-step branchy
scalar loop, (c) the heat equation N = 512, T = 2,000. The NumPy forward, lagrad's cells and
autograd's (NumPy underneath, no threads of its own) run in this process, interleaved round by
round in a shuffled order (a cheap cell once untimed first and then timed for about 50 ms of
calls, the collector run before each cell), and the best time of each is kept; BLAS on one
thread. PyTorch and jax.jit are each timed the same way in a process of their own, beside a NumPy
forward timed in that process, their ratio taken to it: both bring thread pools (PyTorch's OpenMP,
XLA's Eigen threads) and their own allocators and BLAS, which act on the NumPy cells timed beside
them (on the two loaded cores here the compiled DenseNet read 2.77× in runs with PyTorch and jax in
the process, 2.34–2.58× without). Each library is so timed in a process as it would run in a
user's program, against NumPy in the same process; jax.jit on one thread
(`--xla_cpu_multi_thread_eigen=false`), as BLAS, NumPy and PyTorch are. `--together` times
every cell in one process instead.
`lagrad compiled` is the compiled tier (`interpret=0`), `lagrad rolled` and `lagrad interpreted` the
tiers before it (rolled where a traced loop's iterations cover most statements).
The start-up of a fresh `lagrad.compile`, each step divided by one eager gradient (the best of
as many eager calls, timed beside the start-ups): the first call (the trace, which answers it;
beside it the first call with f traced at both levels, the gradient's trace and the recording,
as before the gradient's run was lifted into the recording), the second (build the second tier,
run it: the source with a traced loop's iterations rolled into Python loops where they cover
most statements, else the interpreter of the live equations), trace + generate to that first
generated code (first + second, less a run of it), the call that compiles the straight-line
source (simplify the Program, write the source, Python's `compile()`, run it), and what the
first call cost when it did all of these at once (their sum, less two runs).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "src"))

from cases import branchy_loop, data, heat, seed_network, sigmoid, softmax_ops, two_slice_roll  # noqa: E402

CASES = {"a": "seed network", "f": "DenseNet block", "b": "branchy loop, 1,000 steps", "c": "heat N=512, T=2,000"}
TARGETS = {"a": 2.5, "f": 2.5, "b": 10.0, "c": 2.5}


def dense_block(m: Any, x: Any) -> Callable[..., Any]:
    """h_l = tanh(concat(h_0 … h_{l-1}) W_l): the loss is the mean square of concat(h_0 … h_L) head."""

    def loss(*params: Any) -> Any:
        *weights, head = params
        features = [x]
        for w in weights:
            inputs = features[0] if len(features) == 1 else m.concatenate(features, axis=1)
            features.append(m.tanh(inputs @ w))
        return m.mean((m.concatenate(features, axis=1) @ head) ** 2)

    return loss


def dense_data(size: float) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    batch, channels, growth, layers = max(int(64 * size), 2), 64, 32, 8
    widths = [channels + growth * j for j in range(layers + 1)]
    weights = [rng.standard_normal((widths[j], growth)) / np.sqrt(widths[j]) for j in range(layers)]
    return {"x": rng.standard_normal((batch, channels)), "params": [*weights, rng.standard_normal((widths[-1], 1))]}


def problem(case: str, m: Any, size: float, **names: Any) -> tuple[Callable[..., Any], tuple[Any, ...], Any]:
    """(function, arguments, argnums) of a case, written against the NumPy-like module `m`."""
    if case == "f":
        d = dense_data(size)
        return dense_block(m, names.get("convert", np.asarray)(d["x"])), tuple(d["params"]), tuple(range(9))
    d = data(case, size)
    convert = names.get("convert", np.asarray)
    if case == "a":
        softmax = softmax_ops(m, *names.get("softmax", ()))
        return seed_network(m, sigmoid(m), softmax, convert(d["x"]), convert(d["y"])), (d["w1"], d["w2"]), (0, 1)
    if case == "b":
        return branchy_loop(names.get("sin", m.sin), d["steps"]), (d["a"], d["b"]), (0, 1)
    roll = names.get("roll", m.roll)
    return heat(m, convert(d["target"]), d["steps"], roll=roll), (d["alpha"], d["u0"]), (0, 1)


def cells(case: str, size: float, libraries: list[str], ablation: bool, own: bool = True) -> dict[str, Any]:
    """The timed cells: the NumPy forward, lagrad's (where `own`) and the libraries'."""
    import math

    out: dict[str, Callable[[], Any]] = {}
    f, args, _ = problem(case, np, size, sin=math.sin, roll=two_slice_roll)
    out["numpy forward"] = lambda f=f, args=args: f(*args)
    if own:
        out.update(lagrad_cells(case, size, ablation))
    out.update(peer_cells(case, size, libraries))
    return out


def lagrad_cells(case: str, size: float, ablation: bool) -> dict[str, Callable[[], Any]]:
    import lagrad
    import lagrad.numpy as lnp
    from lagrad.codegen import REWRITES

    out: dict[str, Callable[[], Any]] = {}
    f, args, nums = problem(case, lnp, size)
    eager = lagrad.grad(f, nums)
    out["lagrad eager"] = lambda args=args: eager(*args)
    compiled = lagrad.compile(lagrad.grad(f, nums), interpret=0)
    out["lagrad compiled"] = lambda args=args: compiled(*args)
    interpreted = lagrad.compile(lagrad.grad(f, nums), interpret=10**9, roll=False)
    out["lagrad interpreted"] = lambda args=args: interpreted(*args)
    second = lagrad.compile(lagrad.grad(f, nums), interpret=10**9)
    second(*args)
    second(*args)
    if second.cache_info()["variants"][0]["tier"] == "rolled":  # (b), (c): a traced loop's iterations
        out["lagrad rolled"] = lambda args=args: second(*args)
    if ablation:
        every = {"repeated", "ones", "dead"}
        for label, options in (
            ("compiled, no buffer reuse (out=)", {"reuse_buffers": False}),
            ("compiled, repeated equations kept", {"prune": every - {"repeated"}}),
            ("compiled, products with ones kept", {"prune": every - {"ones"}}),
            ("compiled, dead equations kept", {"prune": every - {"dead"}}),
            ("compiled, float64 scalars kept as NumPy's", {"python_scalars": False}),
            ("compiled, none of these", {"reuse_buffers": False, "prune": False, "python_scalars": False}),
            *((f"compiled, without the rewriting {r!r}", {"rewrites": REWRITES - {r}}) for r in sorted(REWRITES)),
            ("compiled, none of the rewritings", {"rewrites": ()}),
        ):
            variant = lagrad.compile(lagrad.grad(f, nums), interpret=0, **options)
            out[label] = lambda variant=variant, args=args: variant(*args)
    return out


def peer_cells(case: str, size: float, libraries: list[str]) -> dict[str, Callable[[], Any]]:
    out: dict[str, Callable[[], Any]] = {}
    if "autograd" in libraries:
        import autograd
        import autograd.numpy as anp

        f, args, nums = problem(case, anp, size)
        g = autograd.grad(f, nums)
        out["autograd"] = lambda g=g, args=args: g(*args)
    if "torch" in libraries:
        import torch

        torch.set_default_dtype(torch.float64)
        names = {"convert": torch.tensor, "softmax": ("dim", "keepdim", "amax"), "roll": lambda u, s: torch.roll(u, s)}
        f, args, _ = problem(case, torch, size, **names)

        def run_torch(f: Any = f, args: Any = args) -> Any:
            leaves = [torch.tensor(v, requires_grad=True) for v in args]
            return torch.autograd.grad(f(*leaves), leaves)

        out["PyTorch eager"] = run_torch
    if "jax" in libraries and case in ("a", "f"):  # (b): jit needs the branches rewritten; (c): XLA
        # compiles the 2,000 unrolled steps for minutes
        import jax

        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp

        f, args, nums = problem(case, jnp, size, convert=jnp.asarray)
        jitted = jax.jit(jax.grad(f, nums))
        jargs = tuple(jnp.asarray(a) for a in args)
        out["jax.jit"] = lambda: jax.block_until_ready(jitted(*jargs))
    return out


def start_up(case: str, size: float) -> tuple[float, float, float, float, float, float, float, str]:
    """Seconds of a fresh compiled gradient's first call (the trace), second call (build the
    rolled source or the interpreter, run it), third (run that tier), the call that compiles
    the straight-line source, one compiled call after it, and one eager gradient timed beside
    them (so that the ratios compare bests of as many samples, taken under the same load), the
    first call of a compiled gradient that traces f at both levels (the gradient's trace and the
    recording: as before a transform's run was lifted into the recording); the second tier's name."""
    import lagrad
    import lagrad.numpy as lnp

    f, args, nums = problem(case, lnp, size)
    compiled = lagrad.compile(lagrad.grad(f, nums), interpret=2)
    eager = lagrad.grad(f, nums)
    both = lagrad.compile(lagrad.grad(f, nums), interpret=2)
    both._lift = False  # as before lifting: f traced by the gradient's trace and by the recording
    times = []
    for fun in (compiled, eager, compiled, compiled, compiled, compiled, both):
        gc.collect()
        start = time.perf_counter()
        fun(*args)
        times.append(time.perf_counter() - start)
    info = compiled.cache_info()
    assert info["compiled"] == 2 and info["variants"][0]["lifted"]
    tier = "rolled" if info["rolled"] else "interpreted"
    return times[0], times[2], times[3], times[4], times[5], times[1], times[6], tier


def step_problem(m: Any, size: float) -> tuple[Callable[..., Any], tuple[Any, ...], Any]:
    """Issue 12's headline: the seed network as a training step calls it, ``value_and_grad(loss,
    argnums=(0, 1))(w1, w2, x, y)``, the data given as arguments that are not differentiated."""
    d = data("a", size)
    expit, softmax = sigmoid(m), softmax_ops(m)

    def loss(w1: Any, w2: Any, x: Any, y: Any) -> Any:
        return seed_network(m, expit, softmax, x, y)(w1, w2)

    return loss, (d["w1"], d["w2"], d["x"], d["y"]), (0, 1)


def step_start_up(size: float) -> tuple[float, float, float]:
    """Seconds of the headline step's first compiled call (the trace, the gradient's run lifted
    into the recording), of one eager step timed beside it, and of the first call with f traced
    at both levels (as before the data given as arguments were lifted too)."""
    import lagrad
    import lagrad.numpy as lnp

    f, args, nums = step_problem(lnp, size)
    compiled = lagrad.compile(lagrad.value_and_grad(f, nums))
    eager = lagrad.value_and_grad(f, nums)
    both = lagrad.compile(lagrad.value_and_grad(f, nums))
    both._lift = False
    times = []
    for fun in (compiled, eager, both):
        gc.collect()
        start = time.perf_counter()
        fun(*args)
        times.append(time.perf_counter() - start)
    assert compiled.cache_info()["variants"][0]["lifted"] and not both.cache_info()["variants"][0]["lifted"]
    return times[0], times[1], times[2]


def measure(run: dict[str, Callable[[], Any]], seconds: float, min_rounds: int = 3) -> dict[str, float]:
    """Best time of each cell, the cells interleaved round by round (load hits them alike)."""
    for fun in run.values():
        fun()  # warm up: imports, the first trace of compiled functions, jax's compilation
        fun()  # and the compiled tier's compile()
    best = dict.fromkeys(run, np.inf)
    start, rounds = time.perf_counter(), 0
    order = random.Random(0)
    while rounds < min_rounds or time.perf_counter() - start < seconds:
        names = list(run)
        order.shuffle(names)  # no cell always follows the same one (whose freed memory it would reuse)
        for name in names:
            fun = run[name]
            if best[name] < 0.02:
                fun()  # a cheap cell runs once untimed: the timed call finds the allocator as it left it
            gc.collect()  # the garbage of the cell before is not collected during this one
            # a cheap cell is timed several times a round (about 50 ms of it): on a loaded machine
            # the best of a few calls is mostly the luck of the scheduler
            for _ in range(max(1, min(50, int(0.05 / best[name]))) if best[name] < np.inf else 1):
                t = time.perf_counter()
                fun()
                best[name] = min(best[name], time.perf_counter() - t)
        rounds += 1
        if time.perf_counter() - start > 20 * seconds:
            break
    return best


def in_own_process(case: str, library: str, options: argparse.Namespace) -> dict[str, float]:
    """The best times of `library`'s cell and of a NumPy forward, timed in a process of their own."""
    env = dict(os.environ)
    env.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")  # jax on one thread, as BLAS here
    command = [sys.executable, os.path.abspath(__file__), "--peer", library, "--case", case, "--size",
               str(options.size), "--seconds", str(options.seconds), "--rounds", str(options.rounds)]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        print(f"| ({case}) {CASES[case]} | {library} failed | | {done.stderr.strip().splitlines()[-1:]} |")
        return {}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=list(CASES), action="append")
    parser.add_argument("--size", type=float, default=1.0)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--libraries", nargs="*", default=["autograd", "torch", "jax"])
    parser.add_argument("--ablation", action="store_true")
    parser.add_argument("--rounds", type=int, default=3, help="at least this many rounds of every cell")
    parser.add_argument("--startups", type=int, default=0, help="fresh start-ups timed (default 3 for b, c; 10 else)")
    parser.add_argument("--together", action="store_true", help="time PyTorch and jax in this process too")
    parser.add_argument("--peer", help=argparse.SUPPRESS)  # one library's cells, timed in this process: JSON out
    options = parser.parse_args()
    import importlib.util

    if options.peer:
        case = (options.case or ["a"])[0]
        best = measure(cells(case, options.size, [options.peer], False, own=False), options.seconds, options.rounds)
        print(json.dumps(best))
        return
    libraries = [lib for lib in options.libraries if importlib.util.find_spec(lib) is not None]
    here = libraries if options.together else [lib for lib in libraries if lib == "autograd"]
    print("| case | cell | time | ÷ NumPy forward |")
    print("| --- | --- | ---: | ---: |")
    for case in options.case or list(CASES):
        best = measure(cells(case, options.size, here, options.ablation), options.seconds, options.rounds)
        floor = best["numpy forward"]
        for name, t in best.items():
            target = f" (target ≤ {TARGETS[case]}×)" if name == "lagrad compiled" else ""
            print(f"| ({case}) {CASES[case]} | {name} | {t * 1e3:.3f} ms | {t / floor:.2f}×{target} |")
        for library in libraries:
            if library in here:
                continue
            own = in_own_process(case, library, options)
            for name, t in own.items():
                if name != "numpy forward":  # ÷ the NumPy forward of its own process
                    floor_there = own["numpy forward"]
                    print(
                        f"| ({case}) {CASES[case]} | {name} (own process; its NumPy forward {floor_there * 1e3:.3f} "
                        f"ms) | {t * 1e3:.3f} ms | {t / floor_there:.2f}× |"
                    )
        if "autograd" in best:  # issue 12: eager lagrad at most autograd's time, the two interleaved
            paired = best["lagrad eager"] / best["autograd"]
            print(f"| ({case}) {CASES[case]} | lagrad eager ÷ autograd (paired) | | {paired:.2f} (target ≤ 1) |")
        runs = [start_up(case, options.size) for _ in range(options.startups or (3 if case in "bc" else 10))]
        first, second, third, compiling, after, eager, both = (min(r[k] for r in runs) for k in range(7))
        tier = runs[0][7]
        for label, t in (
            ("first call (trace) ÷ one eager gradient", first),
            ("first call, f traced at both levels (before lifting) ÷ eager", both),
            (f"second call (build the {tier} tier, run it) ÷ eager", second),
            ("the call that compiles the straight-line source (simplify, write, compile(), run) ÷ eager", compiling),
            (f"trace + generate, to the first generated code ({tier}: first + second - third) ÷ eager",
             first + second - third),
            ("all at once on the first call, as before tiers ÷ eager", first + second + compiling - third - after),
        ):  # fmt: skip
            target = " (target ≤ 3×)" if label.startswith(("first", "trace", "all")) else ""
            print(f"| ({case}) {CASES[case]} | {label} | {t * 1e3:.1f} ms | {t / eager:.2f}×{target} |")
        if case == "a":  # the same network as a training step calls it: the data given as arguments
            steps = [step_start_up(options.size) for _ in runs]
            first, eager, both = (min(r[k] for r in steps) for k in range(3))
            name = "(a) seed network, value_and_grad(loss, argnums=(0, 1))(w1, w2, x, y)"
            print(f"| {name} | first call (trace) ÷ one eager step | {first * 1e3:.1f} ms | {first / eager:.2f}× |")
            print(f"| {name} | first call, f traced at both levels (before lifting) ÷ eager | {both * 1e3:.1f} ms "
                  f"| {both / eager:.2f}× |")  # fmt: skip
        sys.stdout.flush()


if __name__ == "__main__":
    main()
