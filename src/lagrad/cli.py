"""The `lagrad` command: ``lagrad demo`` shows the seed's network as a linear system."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import lagrad
import numpy as np
from lagrad.scipy.special import expit, softmax


@lagrad.primitive
def cross_entropy(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Mean cross-entropy of probabilities `p` against one-hot labels `y`: the seed's loss."""
    return -np.sum(y * np.log(p)) / p.shape[0]


lagrad.defvjp(
    cross_entropy,
    lambda g, ans, p, y: -g * y / p / p.shape[0],
    lambda g, ans, p, y: -g * lagrad.numpy.log(p) / p.shape[0],
)


def seed_network(x: np.ndarray, y: np.ndarray, w1: np.ndarray, w2: np.ndarray) -> np.ndarray:
    """a1 = σ(x w1), a2 = softmax(a1 w2), l = loss(a2, y): z5 … z9 of the derivation."""
    a1 = expit(x @ w1)
    a2 = softmax(a1 @ w2, axis=1)
    return cross_entropy(a2, y)


def _finite_difference(f: object, w: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    g = np.zeros_like(w)
    for idx in np.ndindex(w.shape):
        e = np.zeros_like(w)
        e[idx] = eps
        g[idx] = (f(w + e) - f(w - e)) / (2 * eps)  # type: ignore[operator]
    return g


def demo(seed: int = 0, out: object = None) -> lagrad.AdjointSystem:
    """Trace the seed's network on a small batch and print the whole Lagrangian view."""
    out = out or sys.stdout
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((8, 4))
    y = np.eye(3)[rng.integers(0, 3, 8)]
    w1 = 0.5 * rng.standard_normal((4, 5))
    w2 = 0.5 * rng.standard_normal((5, 3))

    def say(text: str = "") -> None:
        print(text, file=out)  # type: ignore[call-overload]

    adj = lagrad.adjoint(seed_network, x, y, w1, w2)
    say("The seed's network, a1 = σ(x w1), a2 = softmax(a1 w2), l = loss(a2, y), as equations:")
    say(str(adj.program))
    say()
    say("Its adjoint system A λ = b (row i: variable z_i, column k: equation f_k):")
    say(str(adj.matrix("symbolic")))
    say()
    say("b = (0, …, 0, -1). Back-substitution, from the last row up, is backpropagation:")
    lam = adj.multipliers
    say(str(lam))
    say(f"‖A λ − b‖ = {adj.residual():.2e}")
    for name, i, _w, fd in (
        ("w1", 3, w1, _finite_difference(lambda v: seed_network(x, y, v, w2), w1)),
        ("w2", 4, w2, _finite_difference(lambda v: seed_network(x, y, w1, v), w2)),
    ):
        say(f"λ{i} is the gradient for {name}: max |λ{i} − finite differences| = {np.max(np.abs(lam[i] - fd)):.1e}")
    return adj


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="lagrad", description="lagrad: automatic differentiation as the linear system A λ = b."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo_parser = commands.add_parser(
        "demo", help="trace the seed's network and print its program, adjoint matrix and multipliers"
    )
    demo_parser.add_argument("--seed", type=int, default=0, help="random seed for the data and weights")
    args = parser.parse_args(argv)
    if args.command == "demo":
        demo(seed=args.seed)
        return 0
    parser.print_help()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
