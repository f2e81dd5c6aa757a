"""The benchmark problems, written once per library, each returning a zero-argument callable.

(a) the seed's network: x 256×64, W1 64×128, W2 128×10, gradient for (W1, W2);
(b) a scalar loop with data-dependent branches, 1,000 steps, gradient for (a, b);
(c) a 1-D explicit heat equation, N = 512, 2,000 steps, gradient for (alpha, u0);
(d) the heat equation with zero ends written in place as NumPy code is
    (``u[1:-1] += ...; u[0] = u[-1] = 0.0``), N = 512, 2,000 steps, gradient for (alpha, u0);
(e) the same computation written functionally (``u = u.at[1:-1].add(...)``): lagrad only,
    against the same NumPy forward pass as (d).

`build(library, case, size, form)` gives the callable. Each differentiating library
runs a case in two forms: ``"ops"``, op by op as users write it (a sigmoid as
``1/(1+exp(-z))``, a stable softmax from max, exp and sum), and ``"fused"``, with the
library's own primitives for them (expit, softmax); (b) and (c) have none to use, so
their two forms are one. ``library="numpy"`` is the plain forward pass the ratios are
taken against, in two spellings: ``"fastest"`` (``1/(1+np.exp(-z))``, max/exp/sum,
``math.sin`` on floats, a roll as two slices joined: the floor to beat) and ``"user"``
(``scipy.special.expit`` and ``softmax``, ``np.sin``, ``np.roll``: what a user's NumPy
code often spells). `size` scales the problems down for tests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def best(run: Callable[[], Any], seconds: float = 1.0, repeats: int = 3, most: int = 500) -> float:
    """The least wall time of `run` after one warm-up call: at least `repeats` calls, more
    while `seconds` last (at most `most`). The benchmark scripts share it."""
    import time

    run()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < repeats or (time.perf_counter() - start < seconds and len(times) < most):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return min(times)


CASES = {
    "a": "seed network, x 256×64, W1 64×128, W2 128×10",
    "b": "scalar loop with branches, 1,000 steps",
    "c": "heat equation, N = 512, 2,000 steps",
    "d": "heat equation written in place, N = 512, 2,000 steps",
    "e": "heat equation as (d), written with functional updates (lagrad's .at)",
}
LIBRARIES = ("numpy", "lagrad", "autograd", "torch", "jax")
FLOORS = ("fastest", "user")  # NumPy's two spellings of the forward pass
FORMS = ("ops", "fused")  # the differentiating libraries' two
FUSED = {"a"}  # the cases with fused primitives to use; the others have one form
#: The libraries a case is written for, where not all of them (autograd and JAX refuse in-place writes).
ONLY = {"d": ("numpy", "lagrad"), "e": ("numpy", "lagrad")}


def data(case: str, size: float = 1.0) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    if case == "a":
        n = max(int(256 * size), 2)
        return {
            "x": rng.standard_normal((n, 64)),
            "y": np.eye(10)[rng.integers(0, 10, n)],
            "w1": 0.1 * rng.standard_normal((64, 128)),
            "w2": 0.1 * rng.standard_normal((128, 10)),
        }
    if case == "b":
        return {"a": 3.7, "b": 0.3, "steps": max(int(1000 * size), 2)}
    if case in ("c", "d", "e"):
        n = max(int(512 * size), 4)
        return {"u0": rng.random(n), "target": rng.random(n), "alpha": 0.2, "steps": max(int(2000 * size), 2)}
    raise ValueError(f"unknown case {case!r}")


# ----- the functions, written against a NumPy-like module `m` ----------------------------


def seed_network(m: Any, expit: Any, softmax: Any, x: Any, y: Any) -> Callable[[Any, Any], Any]:
    def loss(w1: Any, w2: Any) -> Any:
        a1 = expit(x @ w1)
        a2 = softmax(a1 @ w2)
        return -m.mean(m.sum(y * m.log(a2), axis=1))

    return loss


def branchy_loop(sin: Any, steps: int) -> Callable[[Any, Any], Any]:
    def loop(a: Any, b: Any) -> Any:
        x = 0.5
        for _ in range(steps):
            x = a * x * (1 - x) if x < 0.5 else sin(b * x) + 0.1 * x
        return x

    return loop


def heat(m: Any, target: Any, steps: int, roll: Any = None) -> Callable[[Any, Any], Any]:
    roll = roll or m.roll

    def loss(alpha: Any, u: Any) -> Any:
        for _ in range(steps):
            u = u + alpha * (roll(u, 1) - 2 * u + roll(u, -1))
        return m.sum((u - target) ** 2)

    return loss


def sigmoid(m: Any) -> Callable[[Any], Any]:
    """The logistic function op by op, as users write it."""
    return lambda z: 1 / (1 + m.exp(-z))


def softmax_ops(m: Any, axis: str = "axis", keepdims: str = "keepdims", amax: str = "max") -> Callable[[Any], Any]:
    """The stable softmax along axis 1 from max, exp and sum, as users write it."""
    largest = getattr(m, amax)

    def softmax(z: Any) -> Any:
        e = m.exp(z - largest(z, **{axis: 1, keepdims: True}))
        return e / m.sum(e, **{axis: 1, keepdims: True})

    return softmax


def two_slice_roll(u: np.ndarray, shift: int) -> np.ndarray:
    """np.roll of a 1-D array by ±1 as two slices joined: several times faster on small arrays."""
    return np.concatenate((u[-shift:], u[:-shift]))


def heat_in_place(m: Any, target: Any, steps: int) -> Callable[[Any, Any], Any]:
    def loss(alpha: Any, u0: Any) -> Any:
        u = u0.copy()
        for _ in range(steps):
            u[1:-1] += alpha * (u[2:] - 2 * u[1:-1] + u[:-2])
            u[0] = u[-1] = 0.0
        return m.sum((u - target) ** 2)

    return loss


def heat_functional(at: Any, m: Any, target: Any, steps: int) -> Callable[[Any, Any], Any]:
    def loss(alpha: Any, u: Any) -> Any:
        for _ in range(steps):
            u = at(u)[1:-1].add(alpha * (u[2:] - 2 * u[1:-1] + u[:-2]))
            u = at(at(u)[0].set(0.0))[-1].set(0.0)
        return m.sum((u - target) ** 2)

    return loss


# ----- one builder per library ---------------------------------------------------------


def build(library: str, case: str, size: float = 1.0, form: str | None = None) -> Callable[[], Any]:
    """The callable for one cell; `form` is one of FLOORS for NumPy, of FORMS otherwise
    (default: the first)."""
    d = data(case, size)
    form = form or (FLOORS if library == "numpy" else FORMS)[0]
    if form not in (FLOORS if library == "numpy" else FORMS):
        raise ValueError(f"unknown form {form!r} for {library}")
    builders = {"numpy": _numpy, "lagrad": _lagrad, "autograd": _autograd, "torch": _torch, "jax": _jax}
    return builders[library](case, d, form)


def _numpy(case: str, d: dict[str, Any], form: str) -> Callable[[], Any]:
    import math

    import scipy.special as sp

    fastest = form == "fastest"
    if case == "a":
        if fastest:
            f = seed_network(np, sigmoid(np), softmax_ops(np), d["x"], d["y"])
        else:
            f = seed_network(np, sp.expit, lambda z: sp.softmax(z, axis=1), d["x"], d["y"])
        return lambda: f(d["w1"], d["w2"])
    if case == "b":
        f = branchy_loop(math.sin if fastest else np.sin, d["steps"])
        return lambda: f(d["a"], d["b"])
    if case in ("d", "e"):  # NumPy's in-place step is its fastest spelling too
        f = heat_in_place(np, d["target"], d["steps"])
        return lambda: f(d["alpha"], d["u0"])
    f = heat(np, d["target"], d["steps"], roll=two_slice_roll if fastest else np.roll)
    return lambda: f(d["alpha"], d["u0"])


def _lagrad(case: str, d: dict[str, Any], form: str) -> Callable[[], Any]:
    import lagrad
    import lagrad.numpy as lnp
    from lagrad.scipy.special import expit, softmax

    if case == "a":
        if form == "fused":
            f = seed_network(lnp, expit, lambda z: softmax(z, axis=1), d["x"], d["y"])
        else:
            f = seed_network(lnp, sigmoid(lnp), softmax_ops(lnp), d["x"], d["y"])
        g = lagrad.grad(f, (0, 1))
        return lambda: g(d["w1"], d["w2"])
    if case == "b":
        g = lagrad.grad(branchy_loop(lnp.sin, d["steps"]), (0, 1))
        return lambda: g(d["a"], d["b"])
    if case == "d":
        g = lagrad.grad(heat_in_place(lnp, d["target"], d["steps"]), (0, 1))
        return lambda: g(d["alpha"], d["u0"])
    if case == "e":
        g = lagrad.grad(heat_functional(lnp.at, lnp, d["target"], d["steps"]), (0, 1))
        return lambda: g(d["alpha"], d["u0"])
    g = lagrad.grad(heat(lnp, d["target"], d["steps"]), (0, 1))
    return lambda: g(d["alpha"], d["u0"])


def _autograd(case: str, d: dict[str, Any], form: str) -> Callable[[], Any]:
    import autograd
    import autograd.numpy as anp
    import autograd.scipy.special as asp

    if case == "a":

        def softmax(z):
            return anp.exp(z - asp.logsumexp(z, axis=1, keepdims=True))

        if form == "fused":
            f = seed_network(anp, asp.expit, softmax, d["x"], d["y"])
        else:
            f = seed_network(anp, sigmoid(anp), softmax_ops(anp), d["x"], d["y"])
        g = autograd.grad(f, (0, 1))
        return lambda: g(d["w1"], d["w2"])
    if case == "b":
        g = autograd.grad(branchy_loop(anp.sin, d["steps"]), (0, 1))
        return lambda: g(d["a"], d["b"])
    g = autograd.grad(heat(anp, d["target"], d["steps"]), (0, 1))
    return lambda: g(d["alpha"], d["u0"])


def _torch(case: str, d: dict[str, Any], form: str) -> Callable[[], Any]:
    import torch

    torch.set_default_dtype(torch.float64)

    def grad_of(f: Callable[..., Any], *values: Any) -> Callable[[], Any]:
        def run() -> Any:
            leaves = [torch.tensor(v, requires_grad=True) for v in values]
            return torch.autograd.grad(f(*leaves), leaves)

        return run

    if case == "a":
        x, y = torch.tensor(d["x"]), torch.tensor(d["y"])
        if form == "fused":
            f = seed_network(torch, torch.sigmoid, lambda z: torch.softmax(z, dim=1), x, y)
        else:
            f = seed_network(torch, sigmoid(torch), softmax_ops(torch, "dim", "keepdim", "amax"), x, y)
        return grad_of(f, d["w1"], d["w2"])
    if case == "b":
        return grad_of(branchy_loop(torch.sin, d["steps"]), d["a"], d["b"])
    target = torch.tensor(d["target"])

    class Rolls:
        sum = staticmethod(torch.sum)

        @staticmethod
        def roll(u: Any, shift: int) -> Any:
            return torch.roll(u, shift)

    return grad_of(heat(Rolls, target, d["steps"]), d["alpha"], d["u0"])


def _jax(case: str, d: dict[str, Any], form: str) -> Callable[[], Any]:
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    from jax.nn import sigmoid as jax_sigmoid
    from jax.nn import softmax as jax_softmax

    def block(g: Callable[..., Any], *values: Any) -> Callable[[], Any]:
        return lambda: jax.block_until_ready(g(*values))

    if case == "a":
        x, y = jnp.asarray(d["x"]), jnp.asarray(d["y"])
        if form == "fused":
            f = seed_network(jnp, jax_sigmoid, lambda z: jax_softmax(z, axis=1), x, y)
        else:
            f = seed_network(jnp, sigmoid(jnp), softmax_ops(jnp), x, y)
        return block(jax.grad(f, (0, 1)), jnp.asarray(d["w1"]), jnp.asarray(d["w2"]))
    if case == "b":
        return block(jax.grad(branchy_loop(jnp.sin, d["steps"]), (0, 1)), d["a"], d["b"])
    f = heat(jnp, jnp.asarray(d["target"]), d["steps"])
    return block(jax.grad(f, (0, 1)), d["alpha"], jnp.asarray(d["u0"]))
