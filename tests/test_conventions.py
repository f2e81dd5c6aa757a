# ruff: noqa: E501  (a table: one convention a row, as the page shows it)
"""docs/conventions.md: where lagrad and its peers (JAX, PyTorch) differ at a kink, a tie or a
0·∞, side by side. `CONVENTIONS` is the one table: the lagrad column is checked against
lagrad's output here, the peer columns against JAX and PyTorch where they are installed (and
skipped where not; the page keeps the values measured), and the page is rendered from it:

    python -m tests.test_conventions --write     # rewrite docs/conventions.md
"""

from __future__ import annotations

import importlib.util
import pathlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import lagrad
import lagrad.numpy as lnp

DOC = pathlib.Path(__file__).resolve().parents[1] / "docs" / "conventions.md"
A = np.array([[2.0, 1.0], [0.5, 3.0]])  # not symmetric: LAPACK reads its lower triangle


@dataclass(frozen=True)
class Convention:
    """A derivative at a point where the libraries may differ: `code` in NumPy terms, each
    library's call, and the values measured (formatted by `show`)."""

    section: str
    what: str
    code: str
    lagrad: Callable[[], Any]
    jax: Callable[[Any, Any], Any]  # (jax, jax.numpy) -> value
    torch: Callable[[Any], Any]  # torch -> value
    values: tuple[str, str, str]  # lagrad, JAX, PyTorch
    note: str = ""


def _torch_grad(torch: Any, f: Callable[..., Any], *xs: Any) -> Any:
    ts = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    f(*ts).backward()
    grads = tuple(t.grad.numpy() for t in ts)
    return grads[0] if len(grads) == 1 else grads


def _torch_hessian(torch: Any, f: Callable[..., Any], x: Any) -> Any:
    return torch.autograd.functional.hessian(f, torch.tensor(x, dtype=torch.float64)).numpy()


def show(value: Any) -> str:
    """A value as the page prints it: 4 significant digits, NaN, ±∞, (a, b) for the
    derivatives in several arguments, [a, b] for an array."""
    if isinstance(value, tuple):
        return "(" + ", ".join(show(v) for v in value) + ")"
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim:
        return "[" + ", ".join(show(v) for v in arr) + "]"
    x = float(arr)
    if np.isnan(x):
        return "NaN"
    if np.isinf(x):
        return "∞" if x > 0 else "−∞"
    return f"{x:.4g}".replace("-", "−")


KINKS = "Kinks and ties: a choice, where the derivative does not exist"
TRUE = "Where lagrad gives the true value and a peer does not"
NANS = "Where the value is NaN: its gradient is NaN too, never a clean-looking number"
GAPS = "Where lagrad is wrong too (known)"

CONVENTIONS = [
    Convention(KINKS, "abs at 0", "d abs(x)/dx at x = 0",
               lambda: lagrad.grad(lnp.abs)(0.0), lambda jax, jnp: jax.grad(jnp.abs)(0.0),
               lambda torch: _torch_grad(torch, torch.abs, 0.0), ("0", "1", "0"),
               "lagrad takes the subgradient of least norm, as PyTorch"),
    Convention(KINKS, "clip at its upper bound", "∂clip(x, lo, hi)/∂(x, lo, hi) at x = hi = 1, lo = 0",
               lambda: lagrad.grad(lnp.clip, (0, 1, 2))(1.0, 0.0, 1.0),
               lambda jax, jnp: jax.grad(jnp.clip, (0, 1, 2))(1.0, 0.0, 1.0),
               lambda torch: _torch_grad(torch, torch.clamp, 1.0, 0.0, 1.0), ("(1, 0, 0)", "(0.5, 0, 0.5)", "(1, 0, 0)"),
               "at a bound the derivative is x's (clip is the identity on [lo, hi], closed)"),
    Convention(KINKS, "clip at its lower bound", "∂clip(x, lo, hi)/∂(x, lo, hi) at x = lo = 0, hi = 1",
               lambda: lagrad.grad(lnp.clip, (0, 1, 2))(0.0, 0.0, 1.0),
               lambda jax, jnp: jax.grad(jnp.clip, (0, 1, 2))(0.0, 0.0, 1.0),
               lambda torch: _torch_grad(torch, torch.clamp, 0.0, 0.0, 1.0), ("(1, 0, 0)", "(0.5, 0.5, 0)", "(1, 0, 0)")),
    Convention(KINKS, "clip with crossing bounds", "∂clip(x, lo, hi)/∂(x, lo, hi) at x = 0.5, lo = 1 > hi = 0",
               lambda: lagrad.grad(lnp.clip, (0, 1, 2))(0.5, 1.0, 0.0),
               lambda jax, jnp: jax.grad(jnp.clip, (0, 1, 2))(0.5, 1.0, 0.0),
               lambda torch: _torch_grad(torch, torch.clamp, 0.5, 1.0, 0.0), ("(0, 0, 1)", "(0, 0, 1)", "(0, 0, 1)"),
               "NumPy returns hi: all of it is hi's"),
    Convention(KINKS, "maximum at a tie", "∂maximum(x, y)/∂(x, y) at x = y = 1",
               lambda: lagrad.grad(lnp.maximum, (0, 1))(1.0, 1.0),
               lambda jax, jnp: jax.grad(jnp.maximum, (0, 1))(1.0, 1.0),
               lambda torch: _torch_grad(torch, torch.maximum, 1.0, 1.0), ("(0.5, 0.5)", "(0.5, 0.5)", "(0.5, 0.5)")),
    Convention(KINKS, "fmax at a tie", "∂fmax(x, y)/∂(x, y) at x = y = 1",
               lambda: lagrad.grad(lnp.fmax, (0, 1))(1.0, 1.0),
               lambda jax, jnp: jax.grad(jnp.fmax, (0, 1))(1.0, 1.0),
               lambda torch: _torch_grad(torch, torch.fmax, 1.0, 1.0), ("(0.5, 0.5)", "(0, 1)", "(1, 0)"),
               "lagrad splits a tie as for maximum"),
    Convention(KINKS, "relu at 0", "d maximum(x, 0)/dx at x = 0 (torch.relu for PyTorch)",
               lambda: lagrad.grad(lambda x: lnp.maximum(x, 0.0))(0.0),
               lambda jax, jnp: jax.grad(lambda x: jnp.maximum(x, 0.0))(0.0),
               lambda torch: _torch_grad(torch, torch.relu, 0.0), ("0.5", "0.5", "0")),
    Convention(KINKS, "max with ties", "d max(x)/dx at x = [1, 3, 3]",
               lambda: lagrad.grad(lnp.max)(np.array([1.0, 3.0, 3.0])),
               lambda jax, jnp: jax.grad(jnp.max)(jnp.array([1.0, 3.0, 3.0])),
               lambda torch: _torch_grad(torch, torch.max, np.array([1.0, 3.0, 3.0])),
               ("[0, 0.5, 0.5]", "[0, 0.5, 0.5]", "[0, 0.5, 0.5]"), "the tied entries share it"),
    Convention(KINKS, "sort with ties", "d sort(x)[1]/dx at x = [2, 2, 1]",
               lambda: lagrad.grad(lambda x: lnp.sort(x)[1])(np.array([2.0, 2.0, 1.0])),
               lambda jax, jnp: jax.grad(lambda x: jnp.sort(x)[1])(jnp.array([2.0, 2.0, 1.0])),
               lambda torch: _torch_grad(torch, lambda x: torch.sort(x)[0][1], np.array([2.0, 2.0, 1.0])),
               ("[1, 0, 0]", "[1, 0, 0]", "[1, 0, 0]"),
               "argsort of the same kind decides: with kind=\"stable\" the tied entries keep their order (NumPy's default kind is not stable)"),
    Convention(KINKS, "median of an even count", "d median(x)/dx at x = [1, 2, 3, 4]",
               lambda: lagrad.grad(lnp.median)(np.array([1.0, 2.0, 3.0, 4.0])),
               lambda jax, jnp: jax.grad(jnp.median)(jnp.array([1.0, 2.0, 3.0, 4.0])),
               lambda torch: _torch_grad(torch, torch.median, np.array([1.0, 2.0, 3.0, 4.0])),
               ("[0, 0.5, 0.5, 0]", "[0, 0.5, 0.5, 0]", "[0, 1, 0, 0]"), "torch.median is the lower middle value"),
    Convention(KINKS, "quantile at an order statistic, in x", "d quantile(x, 0.5)/dx at x = [3, 1, 2]",
               lambda: lagrad.grad(lambda x: lnp.quantile(x, 0.5))(np.array([3.0, 1.0, 2.0])),
               lambda jax, jnp: jax.grad(lambda x: jnp.quantile(x, 0.5))(jnp.array([3.0, 1.0, 2.0])),
               lambda torch: _torch_grad(torch, lambda x: torch.quantile(x, 0.5), np.array([3.0, 1.0, 2.0])),
               ("[0, 0, 1]", "[0, 0, 1]", "[0, 0, 1]")),
    Convention(KINKS, "quantile at an order statistic, in q", "d quantile([3, 1, 2], q)/dq at q = 0.5",
               lambda: lagrad.grad(lambda q: lnp.quantile(np.array([3.0, 1.0, 2.0]), q))(0.5),
               lambda jax, jnp: jax.grad(lambda q: jnp.quantile(jnp.array([3.0, 1.0, 2.0]), q))(0.5),
               lambda torch: _torch_grad(torch, lambda q: torch.quantile(torch.tensor([3.0, 1.0, 2.0], dtype=torch.float64), q), 0.5),
               ("2", "0", "0"), "the slope of the interval above (here both sides are 2: the true derivative)"),
    Convention(KINKS, "norm at 0", "d‖x‖/dx at x = [0, 0]",
               lambda: lagrad.grad(lnp.linalg.norm)(np.zeros(2)),
               lambda jax, jnp: jax.grad(jnp.linalg.norm)(jnp.zeros(2)),
               lambda torch: _torch_grad(torch, torch.linalg.norm, np.zeros(2)), ("[0, 0]", "[NaN, NaN]", "[0, 0]"),
               "the subgradient of least norm"),
    Convention(KINKS, "std of equal entries", "d std(x)/dx at x = [1, 1]",
               lambda: lagrad.grad(lnp.std)(np.ones(2)),
               lambda jax, jnp: jax.grad(jnp.std)(jnp.ones(2)),
               lambda torch: _torch_grad(torch, lambda x: torch.std(x, correction=0), np.ones(2)),
               ("[0, 0]", "[NaN, NaN]", "[0, 0]"), "as norm: std is ‖x − mean‖/√n"),
    Convention(KINKS, "hypot at 0", "∂hypot(x, y)/∂(x, y) at x = y = 0",
               lambda: lagrad.grad(lnp.hypot, (0, 1))(0.0, 0.0),
               lambda jax, jnp: jax.grad(jnp.hypot, (0, 1))(0.0, 0.0),
               lambda torch: _torch_grad(torch, torch.hypot, 0.0, 0.0), ("(0, 0)", "(0.5, 0.5)", "(NaN, NaN)"),
               "as norm"),
    Convention(KINKS, "eigh of an unsymmetrised matrix", "d eigh(A)[0][-1]/dA at A = [[2, 1], [0.5, 3]]",
               lambda: lagrad.grad(lambda a: lnp.linalg.eigh(a)[0][-1])(A),
               lambda jax, jnp: jax.grad(lambda a: jnp.linalg.eigh(a)[0][-1])(A),
               lambda torch: _torch_grad(torch, lambda a: torch.linalg.eigh(a)[0][-1], A),
               ("[[0.1464, 0], [0.7071, 0.8536]]", "[[0.2226, 0.416], [0.416, 0.7774]]",
                "[[0.1464, 0.3536], [0.3536, 0.8536]]"),
               "lagrad: the lower triangle, which LAPACK reads (the upper one does not change the result); "
               "JAX symmetrises A first, so differentiates another function; PyTorch spreads it over both triangles"),
    Convention(KINKS, "cholesky of an unsymmetrised matrix", "d sum(cholesky(A))/dA at A = [[2, 1], [0.5, 3]]",
               lambda: lagrad.grad(lambda a: lnp.sum(lnp.linalg.cholesky(a)))(A),
               lambda jax, jnp: jax.grad(lambda a: jnp.sum(jnp.linalg.cholesky(a)))(A),
               lambda torch: _torch_grad(torch, lambda a: torch.linalg.cholesky(a).sum(), A),
               ("[[0.2836, 0], [0.5597, 0.2949]]", "[[0.2636, 0.2398], [0.2398, 0.3032]]",
                "[[0.2836, 0.2798], [0.2798, 0.2949]]"), "as eigh"),
    Convention(TRUE, "a where-masked 1/sqrt(0)", "d where(x > 0, 1/sqrt(x), 0)/dx at x = 0",
               lambda: lagrad.grad(lambda x: lnp.where(x > 0, 1 / lnp.sqrt(x), 0.0))(0.0),
               lambda jax, jnp: jax.grad(lambda x: jnp.where(x > 0, 1 / jnp.sqrt(x), 0.0))(0.0),
               lambda torch: _torch_grad(torch, lambda x: torch.where(x > 0, 1 / torch.sqrt(x), 0.0), 0.0),
               ("0", "NaN", "NaN"), "the branch not taken contributes nothing (zero means zero)"),
    Convention(TRUE, "sqrt(x)·x at 0", "d(sqrt(x)·x)/dx at x = 0 (reverse mode)",
               lambda: lagrad.grad(lambda x: lnp.sqrt(x) * x)(0.0),
               lambda jax, jnp: jax.grad(lambda x: jnp.sqrt(x) * x)(0.0),
               lambda torch: _torch_grad(torch, lambda x: torch.sqrt(x) * x, 0.0), ("0", "NaN", "NaN")),
    Convention(NANS, "x·log(x) at 0", "d(x·log x)/dx at x = 0, where the value 0·log 0 is NaN",
               lambda: lagrad.grad(lambda x: x * lnp.log(x))(0.0),
               lambda jax, jnp: jax.grad(lambda x: x * jnp.log(x))(0.0),
               lambda torch: _torch_grad(torch, lambda x: x * torch.log(x), 0.0), ("NaN", "NaN", "NaN"),
               "the limit of log x + 1 is −∞, but a NaN output gets no masked gradient (issue 16, item 4)"),
    Convention(TRUE, "the logaddexp slope at −∞", "d logaddexp(x, x)/dx at x = −∞ (= d(x + log 2)/dx)",
               lambda: lagrad.grad(lambda x: lnp.logaddexp(x, x))(-np.inf),
               lambda jax, jnp: jax.grad(lambda x: jnp.logaddexp(x, x))(-np.inf),
               lambda torch: _torch_grad(torch, lambda x: torch.logaddexp(x, x), -np.inf), ("1", "NaN", "NaN")),
    Convention(TRUE, "logaddexp at +∞", "∂logaddexp(x, y)/∂(x, y) at x = +∞, y = 0",
               lambda: lagrad.grad(lnp.logaddexp, (0, 1))(np.inf, 0.0),
               lambda jax, jnp: jax.grad(jnp.logaddexp, (0, 1))(np.inf, 0.0),
               lambda torch: _torch_grad(torch, torch.logaddexp, np.inf, 0.0), ("(1, 0)", "(1, 1)", "(1, 0)"),
               "JAX's slope in y is 1, where y does not matter"),
    Convention(TRUE, "logaddexp at a tie at +∞", "∂logaddexp(x, y)/∂(x, y) at x = y = +∞",
               lambda: lagrad.grad(lnp.logaddexp, (0, 1))(np.inf, np.inf),
               lambda jax, jnp: jax.grad(jnp.logaddexp, (0, 1))(np.inf, np.inf),
               lambda torch: _torch_grad(torch, torch.logaddexp, np.inf, np.inf), ("(0.5, 0.5)", "(1, 1)", "(NaN, NaN)"),
               "the limit along x = y"),
    Convention(GAPS, "logaddexp through log at 0", "d logaddexp(log x, 0)/dx at x = 0 (= d log(1 + x)/dx = 1)",
               lambda: lagrad.grad(lambda x: lnp.logaddexp(lnp.log(x), 0.0))(0.0),
               lambda jax, jnp: jax.grad(lambda x: jnp.logaddexp(jnp.log(x), 0.0))(0.0),
               lambda torch: _torch_grad(torch, lambda x: torch.logaddexp(torch.log(x), torch.tensor(0.0, dtype=torch.float64)), 0.0),
               ("0", "NaN", "NaN"),
               "the true slope is 1: zero means zero reads the 0·∞ of exp(log 0)·(1/0) as 0 (issue 16, items 4 and 5)"),
    Convention(GAPS, "sqrt(x²) at 0", "d sqrt(x²)/dx at x = 0 (reverse mode; = d|x|/dx)",
               lambda: lagrad.grad(lambda x: lnp.sqrt(x**2))(0.0),
               lambda jax, jnp: jax.grad(lambda x: jnp.sqrt(x**2))(0.0),
               lambda torch: _torch_grad(torch, lambda x: torch.sqrt(x**2), 0.0), ("NaN", "NaN", "NaN"),
               "lagrad's forward mode gives 0, abs's subgradient (a zero tangent meets sqrt's ∞ slope); reverse mode "
               "has no fallback for a NaN multiplier (its ∞ meets the zero partial 2x), the modes disagree"),
    Convention(GAPS, "x·log(x) at 0 by vjp", "d(x·log x)/dx at x = 0 by vjp (and jacobian, elementwise_grad)",
               lambda: lagrad.vjp(lambda x: x * lnp.log(x), 0.0)[1](1.0)[0],
               lambda jax, jnp: jax.vjp(lambda x: x * jnp.log(x), 0.0)[1](1.0)[0],
               lambda torch: _torch_grad(torch, lambda x: x * torch.log(x), 0.0), ("−∞", "NaN", "NaN"),
               "grad gives NaN (a NaN output is swept without zero means zero); the other transforms mask every "
               "output, and reverse mode reads 0·∞ as 0"),
    Convention(GAPS, "0/0 in tangent mode", "∂(y/(x² + y²))/∂(x, y) at x = y = 0 by jacobian(mode=\"fwd\") (and jvp)",
               lambda: tuple(lagrad.jacobian(lambda v: v[1] / (v[0] ** 2 + v[1] ** 2), mode="fwd")(np.zeros(2))),
               lambda jax, jnp: tuple(jax.jacfwd(lambda v: v[1] / (v[0] ** 2 + v[1] ** 2))(jnp.zeros(2))),
               lambda torch: tuple(torch.func.jacfwd(lambda v: v[1] / (v[0] ** 2 + v[1] ** 2))(torch.zeros(2, dtype=torch.float64)).numpy()),
               ("(0, ∞)", "(NaN, NaN)", "(NaN, NaN)"),
               "the value is NaN; reverse mode and grad give (NaN, NaN), tangent mode masks the 0 × NaN of the "
               "partial −y/(x² + y²)²; so the Hessian of arctan2 at 0 is [[0, ∞], [−∞, 0]] forward over reverse, "
               "NaN reverse over reverse"),
    Convention(GAPS, "abs(x)² at 0, second order", "d² abs(x)²/dx² at x = 0 (= 2)",
               lambda: lagrad.hessian(lambda x: lnp.abs(x) ** 2)(0.0),
               lambda jax, jnp: jax.hessian(lambda x: jnp.abs(x) ** 2)(0.0),
               lambda torch: _torch_hessian(torch, lambda x: torch.abs(x) ** 2, 0.0), ("0", "2", "0"),
               "abs's slope 0 at 0 (the subgradient of least norm) makes the 2·abs′(0)² of the chain rule 0, as "
               "in PyTorch; JAX's slope 1 gives 2. Write x**2 (x·conj(x) for complex x), exact in every order"),
    Convention(GAPS, "‖x‖² at 0, second order", "d² ‖x‖²/dx² at x = [0, 0] (= 2I)",
               lambda: lagrad.hessian(lambda x: lnp.linalg.norm(x) ** 2)(np.zeros(2)),
               lambda jax, jnp: jax.hessian(lambda x: jnp.linalg.norm(x) ** 2)(jnp.zeros(2)),
               lambda torch: _torch_hessian(torch, lambda x: torch.linalg.norm(x) ** 2, np.zeros(2)),
               ("[[0, 0], [0, 0]]", "[[NaN, NaN], [NaN, NaN]]", "[[NaN, NaN], [NaN, NaN]]"),
               "norm's second derivative at 0, which does not exist, is taken as 0 (as abs's), and its slope 0: "
               "the chain rule's 2‖x‖·‖x‖″ + 2‖x‖′‖x‖′ᵀ is 0. Write sum(x**2) (vdot(x, x))"),
    Convention(GAPS, "a sum over repeated eigenvalues, second order",
               "d² sum(eigvalsh(xxᵀ + I))/dx² at x = [0.3, −0.5, 0.8] (= 2I; two eigenvalues are 1)",
               lambda: lagrad.hessian(lambda x: lnp.sum(lnp.linalg.eigvalsh(lnp.outer(x, x) + np.eye(3))))(_X3)[0],
               lambda jax, jnp: jax.hessian(lambda x: jnp.sum(jnp.linalg.eigvalsh(jnp.outer(x, x) + jnp.eye(3))))(
                   jnp.asarray(_X3))[0],
               lambda torch: _torch_hessian(
                   torch, lambda x: torch.linalg.eigvalsh(torch.outer(x, x) + torch.eye(3, dtype=x.dtype)).sum(), _X3)[0],
               ("[NaN, NaN, NaN]", "[NaN, NaN, NaN]", "[NaN, NaN, NaN]"),
               "(its first row) eigvalsh's second derivative divides by the gaps λᵢ − λⱼ, 0 within a cluster of "
               "repeated eigenvalues, though the cluster's sum is smooth; a simple eigenvalue beside it (the largest "
               "here) has its exact 2I. JAX and PyTorch give 2I where rounding happens to split the cluster (at [0.6, −1, "
               "1.6]), lagrad NaN there too. Write a cluster's sum without eigenvalues (here trace(A))"),
]  # fmt: skip

_X3 = np.array([0.3, -0.5, 0.8])


def _measure(c: Convention, library: str) -> str:
    if library == "lagrad":
        return show(c.lagrad())
    if importlib.util.find_spec(library) is None:
        pytest.skip(f"{library} is not installed")
    if library == "jax":
        import jax
        import jax.numpy as jnp

        jax.config.update("jax_enable_x64", True)
        return show(jax.tree_util.tree_map(np.asarray, c.jax(jax, jnp)))
    import torch

    return show(c.torch(torch))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # log(0), inf - inf on the way: the point of the table
@pytest.mark.parametrize("library", ["lagrad", "jax", "torch"])
@pytest.mark.parametrize("c", CONVENTIONS, ids=lambda c: c.what)
def test_the_column_is_what_the_library_gives(c: Convention, library: str) -> None:
    recorded = c.values[["lagrad", "jax", "torch"].index(library)]
    assert _measure(c, library) == recorded


def render() -> str:
    lines = [
        "# Conventions: lagrad beside JAX and PyTorch",
        "",
        "Where a derivative does not exist (a kink, a tie) a library chooses one, and where an",
        "expression meets 0·∞ it may give NaN for a finite derivative. This page sets lagrad's",
        "choices beside JAX's and PyTorch's, all in float64. It is generated from the table in",
        "`tests/test_conventions.py`, which checks the lagrad column against lagrad's output, and",
        "the JAX and PyTorch columns against those libraries where they are installed (measured",
        "with JAX 0.10 and PyTorch 2.13); `python -m tests.test_conventions --write` rewrites it.",
    ]
    for section in dict.fromkeys(c.section for c in CONVENTIONS):
        lines += ["", f"## {section}", "", "| | derivative | lagrad | JAX | PyTorch | |", "|---|---|---|---|---|---|"]
        for c in (c for c in CONVENTIONS if c.section == section):
            lines.append(f"| {c.what} | {c.code} | {' | '.join(c.values)} | {c.note} |")
    return "\n".join(lines) + "\n"


def test_docs_conventions_md_is_generated_from_the_table() -> None:
    assert DOC.exists() and DOC.read_text(encoding="utf-8") == render(), (
        "docs/conventions.md is stale: python -m tests.test_conventions --write"
    )


if __name__ == "__main__":
    if "--write" in sys.argv:
        DOC.write_text(render(), encoding="utf-8")
        print(f"wrote {DOC}")
    else:
        print(render())
