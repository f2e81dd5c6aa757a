"""The benchmark problems, written once per library, each returning a zero-argument callable.

(a) the seed's network: x 256×64, W1 64×128, W2 128×10, gradient for (W1, W2);
(b) a scalar loop with data-dependent branches, 1,000 steps, gradient for (a, b);
(c) a 1-D explicit heat equation, N = 512, 2,000 steps, gradient for (alpha, u0);
(d) the heat equation with zero ends written in place as NumPy code is
    (``u[1:-1] += ...; u[0] = u[-1] = 0.0``), N = 512, 2,000 steps, gradient for (alpha, u0);
(e) the same computation written functionally (``u = u.at[1:-1].add(...)``): lagrad only,
    against the same NumPy forward pass as (d).

`build(library, case, size)` gives the callable; ``library="numpy"`` is the plain
forward pass every ratio is taken against. `size` scales the problems down for tests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

CASES = {
    "a": "seed network, x 256×64, W1 64×128, W2 128×10",
    "b": "scalar loop with branches, 1,000 steps",
    "c": "heat equation, N = 512, 2,000 steps",
    "d": "heat equation written in place, N = 512, 2,000 steps",
    "e": "heat equation as (d), written with functional updates (lagrad's .at)",
}
LIBRARIES = ("numpy", "lagrad", "autograd", "torch", "jax")
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


def heat(m: Any, target: Any, steps: int) -> Callable[[Any, Any], Any]:
    def loss(alpha: Any, u: Any) -> Any:
        for _ in range(steps):
            u = u + alpha * (m.roll(u, 1) - 2 * u + m.roll(u, -1))
        return m.sum((u - target) ** 2)

    return loss


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


def build(library: str, case: str, size: float = 1.0) -> Callable[[], Any]:
    d = data(case, size)
    return {"numpy": _numpy, "lagrad": _lagrad, "autograd": _autograd, "torch": _torch, "jax": _jax}[library](case, d)


def _numpy(case: str, d: dict[str, Any]) -> Callable[[], Any]:
    import scipy.special as sp

    if case == "a":
        f = seed_network(np, sp.expit, lambda z: sp.softmax(z, axis=1), d["x"], d["y"])
        return lambda: f(d["w1"], d["w2"])
    if case == "b":
        f = branchy_loop(np.sin, d["steps"])
        return lambda: f(d["a"], d["b"])
    if case in ("d", "e"):
        f = heat_in_place(np, d["target"], d["steps"])
        return lambda: f(d["alpha"], d["u0"])
    f = heat(np, d["target"], d["steps"])
    return lambda: f(d["alpha"], d["u0"])


def _lagrad(case: str, d: dict[str, Any]) -> Callable[[], Any]:
    import lagrad
    import lagrad.numpy as lnp
    from lagrad.scipy.special import expit, softmax

    if case == "a":
        f = seed_network(lnp, expit, lambda z: softmax(z, axis=1), d["x"], d["y"])
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


def _autograd(case: str, d: dict[str, Any]) -> Callable[[], Any]:
    import autograd
    import autograd.numpy as anp
    import autograd.scipy.special as asp

    if case == "a":

        def softmax(z):
            return anp.exp(z - asp.logsumexp(z, axis=1, keepdims=True))

        f = seed_network(anp, asp.expit, softmax, d["x"], d["y"])
        g = autograd.grad(f, (0, 1))
        return lambda: g(d["w1"], d["w2"])
    if case == "b":
        g = autograd.grad(branchy_loop(anp.sin, d["steps"]), (0, 1))
        return lambda: g(d["a"], d["b"])
    g = autograd.grad(heat(anp, d["target"], d["steps"]), (0, 1))
    return lambda: g(d["alpha"], d["u0"])


def _torch(case: str, d: dict[str, Any]) -> Callable[[], Any]:
    import torch

    torch.set_default_dtype(torch.float64)

    def grad_of(f: Callable[..., Any], *values: Any) -> Callable[[], Any]:
        def run() -> Any:
            leaves = [torch.tensor(v, requires_grad=True) for v in values]
            return torch.autograd.grad(f(*leaves), leaves)

        return run

    if case == "a":
        x, y = torch.tensor(d["x"]), torch.tensor(d["y"])
        f = seed_network(torch, torch.sigmoid, lambda z: torch.softmax(z, dim=1), x, y)
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


def _jax(case: str, d: dict[str, Any]) -> Callable[[], Any]:
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    from jax.nn import sigmoid, softmax

    def block(g: Callable[..., Any], *values: Any) -> Callable[[], Any]:
        return lambda: jax.block_until_ready(g(*values))

    if case == "a":
        f = seed_network(jnp, sigmoid, lambda z: softmax(z, axis=1), jnp.asarray(d["x"]), jnp.asarray(d["y"]))
        return block(jax.grad(f, (0, 1)), jnp.asarray(d["w1"]), jnp.asarray(d["w2"]))
    if case == "b":
        return block(jax.grad(branchy_loop(jnp.sin, d["steps"]), (0, 1)), d["a"], d["b"])
    f = heat(jnp, jnp.asarray(d["target"]), d["steps"])
    return block(jax.grad(f, (0, 1)), d["alpha"], jnp.asarray(d["u0"]))
