"""Logic-driven code: if/else and while on traced values, and what their derivatives mean.

A comparison on a traced value is an indicator equation (1 where it holds, 0
elsewhere): its derivative is zero wherever it is defined, so the multipliers
flow only through the branch that ran, and the Program records which one that
was. Away from the switching points this is the exact derivative, and it
matches finite differences. At a switching point the function has no
derivative: across a kink the one-sided slopes differ (a central difference
returns their mean), across a jump the difference quotient grows like 1/(2ε)
(the jump's Dirac delta, which an indicator's zero derivative leaves out).
lagrad returns the slope of the branch the comparison chose there. Shown on:

* a piecewise function written with Python if/elif/else, and the same
  function vectorised with lagrad.numpy.where;
* a clipped (projected) gradient-descent loop, whose clip passes no derivative
  to the components it holds at a bound;
* Newton's iteration for √a run by a while loop until converged: the unrolled
  loop's derivative matches 1/(2√a), and replaying the recorded Program on an
  input that needs another number of iterations raises BranchError instead of
  silently computing the wrong path.

Run: lagrad demo --example branches [--out DIR], or python -m lagrad.examples.branches [--out DIR]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import lagrad
import lagrad.numpy as lnp
from lagrad.examples import run_from_command_line
from lagrad.plot import save

KINK, JUMP = 0.0, 1.0


def piecewise(x: Any) -> Any:
    """-x/2 left of 0, x² on [0, 1), x² + 1 from 1 on: a kink at 0, a jump at 1."""
    if x < KINK:
        return -0.5 * x
    elif x < JUMP:
        return x**2
    else:
        return x**2 + 1


def piecewise_vectorised(x: Any) -> Any:
    """The same function on an array: where() blends the branches with indicators."""
    return lnp.where(x < KINK, -0.5 * x, lnp.where(x < JUMP, x**2, x**2 + 1))


#: The slopes of the two pieces that meet at each switching point, (left, right), by hand:
#: at 0, -x/2 and x²; at 1, x² and x² + 1 (equal slopes, but the values jump by 1).
ONE_SIDED_SLOPES = {KINK: (-0.5, 0.0), JUMP: (2.0, 2.0)}


def clipped_descent(x0: Any, target: Any, steps: int = 30, rate: float = 0.3) -> Any:
    """Projected gradient descent on ½‖x − target‖² over the box [-1, 1]^n; returns the
    final ½‖x‖². Components whose target lies outside the box end at a bound."""
    x = x0
    for _ in range(steps):
        x = lnp.clip(x - rate * (x - target), -1.0, 1.0)
    return 0.5 * lnp.sum(x**2)


def newton_sqrt(a: Any, tol: float = 1e-12) -> Any:
    """√a by Newton's iteration, run until |x² − a| ≤ tol: a while loop on a traced value."""
    x = a
    while abs(x * x - a) > tol:
        x = 0.5 * (x + a / x)
    return x


def central_difference(f: Any, x: float, eps: float) -> float:
    return float((f(np.float64(x + eps)) - f(np.float64(x - eps))) / (2 * eps))


def main(out: str | Path | None = "lagrad-demo", seed: int = 0, *, points: int = 7, size: int = 6) -> dict[str, Any]:
    """Compare lagrad's derivatives with finite differences away from and at the switching
    points, differentiate the clipped loop and the while loop, and draw the piecewise
    function with its derivative into `out` (None: no picture)."""
    rng = np.random.default_rng(seed)
    derivative = lagrad.grad(piecewise)
    away = np.sort(rng.uniform(-2, 3, points))
    away = away[(np.abs(away - KINK) > 0.05) & (np.abs(away - JUMP) > 0.05)]
    rows = [(x, float(derivative(np.float64(x))), central_difference(piecewise, x, 1e-6)) for x in away]
    worst = max(abs(d - fd) for _, d, fd in rows)
    print("piecewise f (if/elif/else): lagrad's derivative vs central differences away from 0 and 1")
    for x, d, fd in rows:
        print(f"  x = {x:+.3f}: lagrad {d:+.6f}   finite differences {fd:+.6f}")
    print(f"  max difference {worst:.1e}")
    vectorised = lagrad.elementwise_grad(piecewise_vectorised)(away)
    print(f"the where() version gives the same derivatives: {np.allclose(vectorised, [d for _, d, _ in rows])}")

    switching = {}
    for name, x in (("kink", KINK), ("jump", JUMP)):
        left, right = ONE_SIDED_SLOPES[x]
        fds = {eps: central_difference(piecewise, x, eps) for eps in (1e-2, 1e-4, 1e-6)}
        switching[name] = {"x": x, "lagrad": float(derivative(np.float64(x))), "left": left, "right": right, "fd": fds}
        print(
            f"at the {name} x = {x}: lagrad {switching[name]['lagrad']:+.3f} (the branch x ≥ {x} ran; slopes "
            f"{left:+.3f} left, {right:+.3f} right); central differences "
            + ", ".join(f"ε={eps:g}: {v:+.4g}" for eps, v in fds.items())
        )
    print(
        "  at the kink the central difference is the mean of the two slopes; at the jump it grows like "
        "1/(2ε): the derivative does not exist there, and lagrad reports the slope of the branch taken"
    )

    x0 = rng.uniform(-0.5, 0.5, size)
    target = np.linspace(-2.0, 2.0, size)
    g_target = lagrad.grad(clipped_descent, argnums=1)(x0, target)
    fd_target = np.array(
        [(clipped_descent(x0, target + e) - clipped_descent(x0, target - e)) / 2e-6 for e in 1e-6 * np.eye(size)]
    )
    held = np.abs(target) > 1
    print(f"clipped descent: targets {np.round(target, 2)}")
    print(f"  ∂/∂target lagrad {np.round(g_target, 4)}")
    print(f"  finite differences {np.round(fd_target, 4)}   (zero where the clip holds x at ±1: {held.astype(int)})")

    a = np.float64(2.0)
    program = lagrad.trace(newton_sqrt, a)
    iterations = sum(1 for eq in program.equations if eq.primitive.name == "greater")
    d_sqrt = float(lagrad.grad(newton_sqrt)(a))
    print(
        f"Newton's √a, a = {a}: the while loop ran {iterations - 1} steps ({len(program.equations)} "
        f"equations); d√a/da lagrad {d_sqrt:.12f}, closed form 1/(2√a) {0.5 / np.sqrt(a):.12f}"
    )
    same_path = float(program(np.float64(2.0000001)))
    try:
        program(np.float64(50.0))
        refused = None
    except lagrad.BranchError as error:
        refused = str(error)
    print(f"  replaying the Program at a = 2.0000001 (same path): {same_path:.9f}")
    print(f"  replaying it at a = 50 (needs more steps): {'BranchError: ' + refused[:90] + '…' if refused else 'ran'}")

    result = {
        "away": rows,
        "max_difference": worst,
        "vectorised": vectorised,
        "switching": switching,
        "clip": {"x0": x0, "target": target, "lagrad": g_target, "fd": fd_target, "held": held},
        "newton": {"a": a, "lagrad": d_sqrt, "exact": 0.5 / np.sqrt(a), "replay": same_path, "refused": refused},
    }
    if out is not None:
        result["picture"] = _draw(Path(out))
        print(f"picture: {result['picture']}")
    return result


def _draw(folder: Path) -> Path:
    from matplotlib.figure import Figure

    xs = np.linspace(-2, 3, 501)
    xs = xs[(xs != KINK) & (xs != JUMP)]
    values = piecewise_vectorised(xs)
    slopes = lagrad.elementwise_grad(piecewise_vectorised)(xs)
    figure = Figure(figsize=(9, 3.4), layout="constrained")
    left, right = figure.subplots(1, 2)
    for ax, ys, title in ((left, values, "f(x)"), (right, slopes, "lagrad's df/dx")):
        for lo, hi in ((-2, KINK), (KINK, JUMP), (JUMP, 3)):
            part = (xs > lo) & (xs < hi)
            ax.plot(xs[part], ys[part], color="#2a788e")
        for x in (KINK, JUMP):
            ax.axvline(x, color="0.7", linestyle=":", linewidth=1)
        ax.set_xlabel("x")
        ax.set_title(title, fontsize=9)
    right.plot([KINK, JUMP], [float(lagrad.grad(piecewise)(np.float64(x))) for x in (KINK, JUMP)], "o", color="C3")
    right.annotate(
        "at a switching point:\nthe slope of the branch taken",
        (JUMP, 2.0),
        (1.3, 0.2),
        fontsize=7,
        arrowprops={"arrowstyle": "->", "color": "0.4"},
    )
    return save(figure, folder, "branches.png")


if __name__ == "__main__":
    run_from_command_line(main, __doc__)
