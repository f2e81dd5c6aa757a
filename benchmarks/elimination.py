"""Cross-country elimination on functions from the AD-elimination literature (issue 9 (i), (iii)).

    python benchmarks/elimination.py            # all
    python benchmarks/elimination.py --search   # (v) only
    python benchmarks/elimination.py --kinds    # (vi) only

Four functions, written here from their published equations, each a function of a few
scalars returning a few scalars:

- **Roe flux** (1-D Euler, Roe 1981): the numerical flux between a left and a right state
  (ρ, u, p), from Roe averages, wave strengths, eigenvalues and eigenvectors. 6 → 3.
- **Robot arm** (6-DOF forward kinematics, Denavit–Hartenberg with PUMA-560-like
  parameters): the end effector's position and approach vector from six joint angles. 6 → 6.
- **Black–Scholes**: the call and put prices from (S, K, T, r, σ). 5 → 2.
- **Lighthouse** (Griewank and Walther, *Evaluating Derivatives*, §1.1): where the beam
  meets the quay wall, from (ν, γ, ω, t). 4 → 2.

And (iii) a DenseNet block (every layer reads every earlier one: A's upper triangle full).

For each: the multiplication counts of the forward, reverse and Markowitz orders and of the
best order the branch-and-bound search finds (`EliminationGraph.search`), and the wall time
of `jacobian(method="elimination", order=<best>)` against `jacobian(mode="rev")`,
`jacobian(mode="fwd")` and `torch.func.jacrev`, each best of the runs in about 1 s, as a
ratio to NumPy's forward pass in the same run.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np
from cases import best  # benchmarks/ is on the path: the script's own folder

GAMMA = 1.4


def ops(m: Any) -> SimpleNamespace:
    """The scalar functions the four problems use, from NumPy, lagrad.numpy or torch."""
    if getattr(m, "__name__", "") == "torch":
        return SimpleNamespace(
            sqrt=m.sqrt, exp=m.exp, log=m.log, tan=m.tan, sin=m.sin, cos=m.cos, abs=m.abs, erf=m.special.erf
        )
    if getattr(m, "__name__", "").startswith("lagrad"):
        import lagrad.scipy.special

        erf = lagrad.scipy.special.erf
    else:
        import scipy.special

        erf = scipy.special.erf
    return SimpleNamespace(sqrt=m.sqrt, exp=m.exp, log=m.log, tan=m.tan, sin=m.sin, cos=m.cos, abs=m.abs, erf=erf)


def roe_flux(m: Any) -> Callable[..., Any]:
    o = ops(m)

    def flux(rho_l: Any, u_l: Any, p_l: Any, rho_r: Any, u_r: Any, p_r: Any) -> Any:
        e_l = p_l / (GAMMA - 1) + 0.5 * rho_l * u_l * u_l
        e_r = p_r / (GAMMA - 1) + 0.5 * rho_r * u_r * u_r
        h_l, h_r = (e_l + p_l) / rho_l, (e_r + p_r) / rho_r
        s_l, s_r = o.sqrt(rho_l), o.sqrt(rho_r)
        u = (s_l * u_l + s_r * u_r) / (s_l + s_r)
        h = (s_l * h_l + s_r * h_r) / (s_l + s_r)
        a = o.sqrt((GAMMA - 1) * (h - 0.5 * u * u))
        rho = s_l * s_r
        d_rho, d_u, d_p = rho_r - rho_l, u_r - u_l, p_r - p_l
        alpha1 = (d_p - rho * a * d_u) / (2 * a * a)
        alpha2 = d_rho - d_p / (a * a)
        alpha3 = (d_p + rho * a * d_u) / (2 * a * a)
        w1, w2, w3 = o.abs(u - a) * alpha1, o.abs(u) * alpha2, o.abs(u + a) * alpha3
        f1 = 0.5 * (rho_l * u_l + rho_r * u_r) - 0.5 * (w1 + w2 + w3)
        f2 = 0.5 * (rho_l * u_l * u_l + p_l + rho_r * u_r * u_r + p_r) - 0.5 * (w1 * (u - a) + w2 * u + w3 * (u + a))
        f3 = 0.5 * (u_l * (e_l + p_l) + u_r * (e_r + p_r)) - 0.5 * (
            w1 * (h - u * a) + w2 * 0.5 * u * u + w3 * (h + u * a)
        )
        return f1, f2, f3

    return flux


#: Denavit–Hartenberg parameters (a, d, α) of a PUMA-560-like arm.
DH = [(0.0, 0.0, math.pi / 2), (0.4318, 0.0, 0.0), (0.0203, 0.15, -math.pi / 2),
      (0.0, 0.4318, math.pi / 2), (0.0, 0.0, -math.pi / 2), (0.0, 0.0, 0.0)]  # fmt: skip


def robot_arm(m: Any) -> Callable[..., Any]:
    o = ops(m)

    def kinematics(*thetas: Any) -> Any:
        rot = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
        pos = [0.0, 0.0, 0.0]
        for theta, (a, d, alpha) in zip(thetas, DH):
            c, s = o.cos(theta), o.sin(theta)
            ca, sa = math.cos(alpha), math.sin(alpha)
            link = [[c, -s * ca, s * sa], [s, c * ca, -c * sa], [0.0, sa, ca]]
            offset = [a * c, a * s, d]
            pos = [pos[i] + sum(rot[i][j] * offset[j] for j in range(3)) for i in range(3)]
            rot = [[sum(rot[i][j] * link[j][k] for j in range(3)) for k in range(3)] for i in range(3)]
        return (*pos, rot[0][2], rot[1][2], rot[2][2])

    return kinematics


def black_scholes(m: Any) -> Callable[..., Any]:
    o = ops(m)

    def prices(s: Any, k: Any, t: Any, r: Any, sigma: Any) -> Any:
        vol = sigma * o.sqrt(t)
        d1 = (o.log(s / k) + (r + 0.5 * sigma * sigma) * t) / vol
        d2 = d1 - vol
        discount = k * o.exp(-r * t)

        def phi(x: Any) -> Any:
            return 0.5 * (1.0 + o.erf(x / math.sqrt(2.0)))

        return s * phi(d1) - discount * phi(d2), discount * phi(-d2) - s * phi(-d1)

    return prices


def lighthouse(m: Any) -> Callable[..., Any]:
    o = ops(m)

    def beam(nu: Any, gamma: Any, omega: Any, t: Any) -> Any:
        tangent = o.tan(omega * t)
        y1 = nu * tangent / (gamma - tangent)
        return y1, gamma * y1

    return beam


PROBLEMS: dict[str, tuple[Callable[[Any], Callable[..., Any]], tuple[float, ...]]] = {
    "Roe flux": (roe_flux, (1.0, 0.3, 1.0, 0.5, 0.2, 0.6)),
    "robot arm": (robot_arm, (0.1, 0.4, -0.3, 0.7, 0.2, -0.5)),
    "Black-Scholes": (black_scholes, (100.0, 95.0, 0.5, 0.03, 0.25)),
    "lighthouse": (lighthouse, (1.5, 2.0, 0.6, 0.8)),
}


def densenet(m: Any, width: int = 8, layers: int = 6) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    """A DenseNet block on a vector: layer k reads the sum of every earlier layer's output."""
    rng = np.random.default_rng(0)
    weights = [rng.standard_normal((width, width)) / width for _ in range(layers)]

    def block(x: Any) -> Any:
        outs = [x]
        for w in weights:
            total = outs[0]
            for h in outs[1:]:
                total = total + h
            outs.append(m.tanh(w @ total))
        return outs[-1]

    return block, (rng.uniform(-1, 1, width),)


def main() -> None:
    import sys

    if sys.argv[1:] == ["--search"]:
        searches()
        return
    if sys.argv[1:] == ["--kinds"]:
        kinds()
        return
    import lagrad
    import lagrad.numpy as lnp

    torch = None
    if importlib.util.find_spec("torch"):
        import torch
        import torch.func

        torch.set_num_threads(1)
    cases = [(name, make(lnp), make(np), args) for name, (make, args) in PROBLEMS.items()]
    dense_l, dense_args = densenet(lnp)
    cases.append(("DenseNet block (iii)", dense_l, densenet(np)[0], dense_args))
    print(f"{'function':22s} {'fwd':>6s} {'rev':>6s} {'mark.':>6s} {'best':>6s} {'saved':>6s} "
          f"{'elim×':>7s} {'rev×':>7s} {'fwd×':>7s} {'torch×':>7s}")  # fmt: skip
    for name, f_l, f_np, args in cases:
        args = tuple(np.float64(a) if np.ndim(a) == 0 else a for a in args)
        argnums = tuple(range(len(args)))
        graph = lagrad.elimination_graph(f_l, *args)
        counts = {o: graph.cost(o) for o in ("forward", "reverse", "markowitz")}
        order, best_count, proven = graph.search()
        floor = best(lambda: f_np(*args))
        elim = lagrad.jacobian(f_l, argnums=argnums, method="elimination", order=order)
        rev = lagrad.jacobian(f_l, argnums=argnums, mode="rev")
        fwd = lagrad.jacobian(f_l, argnums=argnums, mode="fwd")
        times = [best(lambda j=j: j(*args)) / floor for j in (elim, rev, fwd)]
        torch_ratio = float("nan")
        if torch is not None and name != "DenseNet block (iii)":
            targs = tuple(torch.tensor(float(a), dtype=torch.float64) for a in args)
            jac = torch.func.jacrev(PROBLEMS[name][0](torch), argnums=argnums)
            torch_ratio = best(lambda: jac(*targs)) / floor
        saved = 1 - best_count / min(counts["forward"], counts["reverse"])
        mark = "" if proven else "*"
        print(f"{name:22s} {counts['forward']:6d} {counts['reverse']:6d} {counts['markowitz']:6d} "
              f"{best_count:5d}{mark or ' '} {saved:6.0%} {times[0]:7.0f} {times[1]:7.0f} {times[2]:7.0f} "
              f"{torch_ratio:7.0f}")  # fmt: skip
    print("counts: multiplications; * = search stopped at its node budget (best found, not proven);")
    print("saved: best against the better of forward and reverse; times: × NumPy forward pass")
    operators()
    kinds()
    searches()


def operators() -> None:
    """(iv) Operator blocks: a two-layer network ``W2 @ tanh(W1 @ x)``, its matmul blocks read
    as the constant matrices they are against built by a sweep over the identity (the same
    code with operator blocks switched off), and the plan's choice both ways."""
    import lagrad
    import lagrad.elimination as elimination
    import lagrad.numpy as lnp

    print("\n(iv) W2 @ tanh(W1 @ x), n×n weights: elimination with operator blocks and with them swept")
    print(f"{'n':>5s} {'operator':>9s} {'swept':>9s} {'rev':>9s} {'fwd':>9s}   plan (operator / swept)")
    rng = np.random.default_rng(0)
    found = elimination._constant_matrix
    for n in (20, 50, 200):
        w1, w2 = rng.standard_normal((n, n)) / np.sqrt(n), rng.standard_normal((n, n)) / np.sqrt(n)
        x = rng.standard_normal(n)
        floor = best(lambda: w2 @ np.tanh(w1 @ x))
        f = lambda x: w2 @ lnp.tanh(w1 @ x)  # noqa: E731
        times, chosen = [], []
        for kept in (found, lambda *a: None):
            elimination._constant_matrix = kept
            elimination._STRUCTURES.clear()
            chosen.append(lagrad.plan(f, x).method)
            jac = lagrad.jacobian(f, method="elimination")
            times.append(best(lambda: jac(x)) / floor)
        elimination._constant_matrix = found
        elimination._STRUCTURES.clear()
        for mode in ("rev", "fwd"):
            jac = lagrad.jacobian(f, mode=mode)
            times.append(best(lambda: jac(x)) / floor)
        print(f"{n:5d} " + " ".join(f"{t:9.1f}" for t in times) + f"   {chosen[0]} / {chosen[1]}")
    print("times: × NumPy forward pass")


def kinds(budget: int = 2_000) -> None:
    """(vi) Structured kinds: programs that roll, sum along axes, slice and concatenate, their
    copy blocks held as gathers and scatters (index arrays, a product with them an index or a
    sum) against the same code holding them as 0/1 scipy.sparse matrices and each sum as a
    dense row built by a sweep (``_structured_block`` switched off): the multiplication counts
    of forward / reverse / Markowitz / the search's best, and the wall time of the Jacobian by
    elimination in the best order found, by rev and by fwd, × NumPy forward, in one run."""
    import lagrad
    import lagrad.elimination as elimination
    import lagrad.numpy as lnp

    def heat(m: Any, steps: int = 3) -> Callable[..., Any]:
        def step(u: Any) -> Any:
            for _ in range(steps):
                u = u + 0.1 * (m.roll(u, 1) - 2 * u + m.roll(u, -1))
            return u

        return step

    def rows(m: Any, n: int = 20) -> Callable[..., Any]:  # a 2-D stencil's energy per row
        def energy(u: Any) -> Any:
            v = m.reshape(u, (n, n))
            return m.sum((m.roll(v, 1, axis=0) - v) ** 2 + (m.roll(v, 1, axis=1) - v) ** 2, axis=1)

        return energy

    def pieces(m: Any) -> Callable[..., Any]:  # a sum over a concatenation of slices
        def total(x: Any) -> Any:
            return m.sum(m.concatenate([m.sin(x), m.exp(x[: len(x) // 2]), m.tanh(x[1:] * x[:-1])]))

        return total

    rng = np.random.default_rng(0)
    programs = [
        ("heat, 3 steps (100)", heat, rng.standard_normal(100)),
        ("heat, 3 steps (1000)", heat, rng.standard_normal(1000)),
        ("row energy 20×20", rows, rng.standard_normal(400)),
        ("sum of pieces (200)", pieces, rng.standard_normal(200)),
    ]
    print(f"\n(vi) structured kinds (gather, scatter) against 0/1 sparse and dense blocks; search budget {budget:,}")
    print(f"{'program':22s} {'kinds':9s} {'fwd / rev / Markowitz / best':>34s} {'elim×':>8s} {'rev×':>8s} {'fwd×':>8s}")
    found = elimination._structured_block
    for name, make, x in programs:
        f, f_np = make(lnp), make(np)
        floor = best(lambda: f_np(x))
        jacobians = [lagrad.jacobian(f, mode=mode) for mode in ("rev", "fwd")]
        sweeps = [best(lambda j=j: j(x)) / floor for j in jacobians]
        for label, kept in (("gather", found), ("0/1", lambda m: m)):
            elimination._structured_block = kept
            elimination._STRUCTURES.clear()
            graph = lagrad.elimination_graph(f, x)
            counts = [graph.cost(o) for o in ("forward", "reverse", "markowitz")]
            order, cost, proven = graph.search(max_nodes=budget)
            jac = lagrad.jacobian(f, method="elimination", order=order)
            np.testing.assert_allclose(jac(x), lagrad.jacobian(f, mode="rev")(x), rtol=1e-10, atol=1e-10)
            elim = best(lambda: jac(x)) / floor
            counted = " / ".join(f"{c:,}" for c in counts) + f" / {cost:,}{'' if proven else '*'}"
            print(f"{name:22s} {label:9s} {counted:>34s} {elim:8.1f} {sweeps[0]:8.1f} {sweeps[1]:8.1f}", flush=True)
        elimination._structured_block = found
        elimination._STRUCTURES.clear()
    print("counts: multiplications (* not proven within the budget); times: × NumPy forward pass")


def searches(budget: int = 20_000) -> None:
    """(v) The search's time to prove an optimum (`graph.search()`, CPU seconds): matrix
    chains (the interval dynamic program), block graphs (chains of matrices with skip
    connections, residual nets, DenseNet-like DAGs) and random scalar programs (the dynamic
    program over every set up to 20 intermediates, A* above), with the counts of the named
    orders; beside it, on graphs of at most 24 intermediates, A* alone (``max_sets=0``, the
    search before the exact dynamic program) in the same run."""
    import pathlib
    import sys
    import time

    import lagrad
    import lagrad.numpy as lnp
    from lagrad.elimination import BOUNDED

    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
    from tests.test_elimination import _branching_matrices, _dense_dag, _residual_net, _scalar_dag

    print(f"\n(v) search, budget {budget:,}: intermediates, fwd / rev / Markowitz / best, proven, CPU seconds"
          " | A* alone: best, proven, CPU seconds")  # fmt: skip
    graphs = []
    for length in (13, 19, 28):
        rng = np.random.default_rng(length)
        dims = rng.integers(2, 30, length + 2).tolist()
        matrices = [rng.standard_normal((dims[i + 1], dims[i])) for i in range(len(dims) - 1)]

        def chain(x: Any, matrices: list[Any] = matrices) -> Any:
            for a in matrices:
                x = a @ x
            return x

        graphs.append(("matrix chain", lagrad.elimination_graph(chain, rng.standard_normal(dims[0]))))
    for k in (8, 11, 14, 17, 20):
        for seed in (0, 1):
            graphs.append((f"with skips {seed}", lagrad.elimination_graph(*_branching_matrices(seed, k))))
    for layers in (3, 5, 6):
        for seed in (0, 1):
            graphs.append((f"residual net {seed}", lagrad.elimination_graph(*_residual_net(seed, layers))))
    for layers in (3, 4):
        for seed in (0, 1):
            graphs.append((f"DenseNet-like {seed}", lagrad.elimination_graph(*_dense_dag(seed, layers))))
    for k in (15, 20, 25):
        for seed in (0, 1, 2):
            f, args = _scalar_dag(seed, k)
            graphs.append((f"scalar program {seed}", lagrad.elimination_graph(f, *args)))
    for name, (make, args) in PROBLEMS.items():
        graphs.append((name, lagrad.elimination_graph(make(lnp), *(np.float64(a) for a in args))))
    for name, graph in graphs:
        counts = [graph.cost(o) for o in ("forward", "reverse", "markowitz")]
        t0 = time.process_time()
        _, cost, proven = graph.search(max_nodes=budget)
        seconds = time.process_time() - t0
        counted = " / ".join(map(str, counts))
        line = f"  {name:20s} {len(graph.intermediates):4d}  {counted} / {cost}  {proven!s:>5s} {seconds:8.2f}"
        if 2 < len(graph.intermediates) <= BOUNDED and graph._chain() is None:
            t0 = time.process_time()
            _, cost, proven = graph.search(max_nodes=budget, max_sets=0)
            line += f"  | {cost} {proven!s:>5s} {time.process_time() - t0:8.2f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
