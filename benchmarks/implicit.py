"""Implicit equations (`lagrad.fixed_point`, `lagrad.root`): what differentiating through them
costs, measured against their own forward solve in the same run.

(a) A deep equilibrium layer ``z = tanh(z W + x)``, state 256, batch 128: the gradient of a
    loss of the fixed point against the forward solve (plain iteration), by each adjoint
    strategy (with the number of products with the block), and against differentiating the
    unrolled iteration (traced); the extra memory of the gradient (tracemalloc peak) at two
    iteration counts. The runs take turns, best of 15: the machine's load moves all alike.
(b) A 1-D nonlinear steady state, ``root`` of ``(κ(u) u')' + s = 0``, at 1,000 and 10,000
    unknowns: the adjoint block's solve from scratch with the block factored densely
    (``"direct"``) and sparsely (``"sparse"``, its pattern and colouring from
    `lagrad.sparsity`), and the whole gradient against the forward solve.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/implicit.py
"""

from __future__ import annotations

import sys
import time
import tracemalloc

import numpy as np

import lagrad
import lagrad.numpy as lnp


def best(run, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return min(times)


def interleaved(runs: dict, repeats: int) -> dict:
    """Best time of each run, the runs taking turns so that a change in the machine's load
    falls on all of them alike (the ratios are what this benchmark reports)."""
    times = {name: np.inf for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            t0 = time.perf_counter()
            run()
            times[name] = min(times[name], time.perf_counter() - t0)
    return times


def peak(run) -> float:
    """Peak traced allocation of one call, in MiB."""
    tracemalloc.start()
    run()
    top = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return top / 2**20


def deq_layer(z, W, x):
    return lnp.tanh(z @ W + x)


class Counted:
    """Counts the products with the implicit block (`ImplicitBlock._product`) while active."""

    def __enter__(self):
        self.count, self.original = 0, lagrad.implicit.ImplicitBlock._product

        def product(block, x, transpose):
            self.count += 1
            return self.original(block, x, transpose)

        lagrad.implicit.ImplicitBlock._product = product
        return self

    def __exit__(self, *exc):
        lagrad.implicit.ImplicitBlock._product = self.original


def deq(state: int = 256, batch: int = 128, repeats: int = 15) -> None:
    rng = np.random.default_rng(0)
    W = rng.standard_normal((state, state)) * (0.5 / np.sqrt(state))  # ‖W‖ ≈ 1: contraction ≈ 0.6 after tanh
    x = rng.standard_normal((batch, state))
    z0 = np.zeros((batch, state))
    tol = 1e-8

    def forward():
        return lagrad.fixed_point(deq_layer, z0, W, x, solver="iterate", tol=tol)

    def loss(W, adjoint, probe=None):
        z = lagrad.fixed_point(deq_layer, z0, W, x, solver="iterate", tol=tol, adjoint=adjoint, adjoint_probe=probe)
        return lnp.sum(z**2)

    iterations = 0
    z = z0
    while np.max(np.abs(np.tanh(z @ W + x) - z)) > tol:
        z = np.tanh(z @ W + x)
        iterations += 1

    def unrolled(W, n):
        z = z0
        for _ in range(n):
            z = lnp.tanh(z @ W + x)
        return lnp.sum(z**2)

    grad = lagrad.grad(loss)
    unrolled_grad = lagrad.grad(unrolled)
    strategies = [
        ("auto", None),
        ("neumann", None),
        ("neumann", True),
        ("gmres", None),
        ("gmres", True),
        ("bicgstab", None),
    ]
    reference = grad(W, "direct") if state * batch <= 4096 else grad(W, "gmres", True)
    products = {}
    for adjoint, probe in strategies:
        with Counted() as counted:
            g = grad(W, adjoint, probe)
        products[adjoint, probe] = counted.count
        assert np.abs(g - reference).max() <= 1e-5 * np.abs(reference).max(), adjoint
    runs = {"forward": forward, "unrolled forward": lambda: unrolled(W, iterations)}
    runs.update({(a, p): (lambda a=a, p=p: grad(W, a, p)) for a, p in strategies})
    runs["unrolled"] = lambda: unrolled_grad(W, iterations)
    times = interleaved(runs, repeats)
    t_forward = times["forward"]
    print(f"DEQ layer z = tanh(z W + x), state {state}, batch {batch}: forward solve (iterate, tol {tol:g}, "
          f"{iterations} steps) {t_forward * 1e3:.1f} ms, best of {repeats}, the runs taking turns")  # fmt: skip
    print()
    print("| gradient by | block products | time | gradient / forward | (gradient − forward) / forward | extra peak |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for adjoint, probe in strategies:
        t = times[adjoint, probe]
        memory = peak(lambda a=adjoint, p=probe: grad(W, a, p)) - peak(forward)
        name = f"adjoint={adjoint!r}" + (", adjoint_probe=True" if probe else "")
        print(f"| fixed_point, {name} | {products[adjoint, probe]} | {t * 1e3:.1f} ms | {t / t_forward:.2f} | "
              f"{(t - t_forward) / t_forward:.2f} | {memory:.1f} MiB |")  # fmt: skip
    t, t_plain = times["unrolled"], times["unrolled forward"]
    memory = peak(lambda: unrolled_grad(W, iterations)) - peak(lambda: unrolled(W, iterations))
    print(f"| unrolled iteration ({iterations} steps), traced | – | {t * 1e3:.1f} ms | {t / t_plain:.2f} (of its own "
          f"forward) | {(t - t_plain) / t_plain:.2f} | {memory:.1f} MiB |")  # fmt: skip
    print()
    print("Extra memory against the iteration count (the same layer, a looser and a tighter tolerance):")
    print()
    print("| tol | plain iterations | fixed_point gradient: extra peak | unrolled gradient: extra peak |")
    print("| --- | ---: | ---: | ---: |")
    for t_ in (1e-4, 1e-10):
        n = 0
        z = z0
        while np.max(np.abs(np.tanh(z @ W + x) - z)) > t_:
            z = np.tanh(z @ W + x)
            n += 1

        def fp_loss(W, t_=t_):
            return lnp.sum(lagrad.fixed_point(deq_layer, z0, W, x, solver="iterate", tol=t_, max_iter=10_000) ** 2)

        fp = peak(lambda: lagrad.grad(fp_loss)(W)) - peak(
            lambda: lagrad.fixed_point(deq_layer, z0, W, x, solver="iterate", tol=t_)
        )
        un = peak(lambda n=n: unrolled_grad(W, n)) - peak(lambda n=n: unrolled(W, n))
        print(f"| {t_:g} | {n} plain steps | {fp:.1f} MiB | {un:.1f} MiB |")
    sys.stdout.flush()


def kappa(u, k):
    return k[0] + k[1] * u**2


def heat_residual(u, k, source, h):
    """(κ(u) u')' + s at the interior points, u = 0 at both ends."""
    padded = lnp.concatenate([np.zeros(1), u, np.zeros(1)])
    mid = 0.5 * (padded[1:] + padded[:-1])
    flux = kappa(mid, k) * (padded[1:] - padded[:-1]) / h
    return (flux[1:] - flux[:-1]) / h + source


def steady_state(sizes: tuple[int, ...] = (1_000, 10_000), repeats: int = 3) -> None:
    print()
    print("Steady-state heat equation (κ(u) u')' + s = 0, root by Newton: the adjoint block's solve")
    print("from scratch (Jacobian, factorisation, one right-hand side), dense LU against sparse LU;")
    print("then the whole gradient against the forward solve alone (both with the sparse block).")
    print()
    print("| unknowns | dense block (\"direct\") | sparse block (\"sparse\") | dense / sparse | colours | "
          "forward solve | gradient | gradient / forward |")  # fmt: skip
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for n in sizes:
        h = 1.0 / (n + 1)
        grid = np.linspace(h, 1 - h, n)
        source = 10 * np.sin(np.pi * grid)
        k = np.array([1.0, 0.5])

        def F(u, k, source=source, h=h):
            return heat_residual(u, k, source, h)

        def forward(k, F=F, n=n):
            return lagrad.root(F, np.zeros(n), k, tol=1e-6, adjoint="sparse")

        def loss(k, forward=forward, h=h):
            return lnp.sum(forward(k) ** 2) * h

        u = forward(k)
        r = np.random.default_rng(0).standard_normal(n)
        blocks = {}

        def solve(strategy, F=F, u=u, k=k, r=r):
            blocks[strategy] = lagrad.implicit.ImplicitBlock(F, u, (k,), shift=0.0, strategy=strategy)
            return blocks[strategy].solve(r)

        x_sparse, x_dense = solve("sparse"), solve("direct")
        assert np.linalg.norm(x_sparse - x_dense) <= 1e-8 * np.linalg.norm(x_dense)
        t_dense = best(lambda: solve("direct"), 1 if n > 5_000 else repeats)  # minutes at 10,000: one run
        blocks.pop("direct")
        times = interleaved({"sparse": lambda: solve("sparse"), "forward": lambda: forward(k),
                             "gradient": lambda: lagrad.grad(loss)(k)}, repeats)  # fmt: skip
        colours = blocks["sparse"].structure.n_colours
        t_sparse, t_forward, t_gradient = times["sparse"], times["forward"], times["gradient"]
        print(f"| {n:,} | {t_dense:.3g} s | {t_sparse:.3g} s | {t_dense / t_sparse:.0f} | {colours} | "
              f"{t_forward:.3g} s | {t_gradient:.3g} s | {t_gradient / t_forward:.2f} |")  # fmt: skip
        sys.stdout.flush()


if __name__ == "__main__":
    deq()
    steady_state()
