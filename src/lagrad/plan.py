"""`jacobian(f, method="auto")`: the way of computing a Jacobian chosen by a cost model.

The model counts multiplications on the block shapes of the linearised graph
(`EliminationGraph`). One sweep (a vector through every block) costs ``S = Σ_edges c(e)``,
``c`` being n for a diagonal block of n scalars and m·n for an m×n matrix block. Then:

- reverse mode: one sweep per output scalar, ``m_out · S``;
- forward mode: one sweep per input scalar, ``n_in · S``;
- elimination: the Markowitz order's multiplications (`EliminationGraph.cost`), plus
  building the blocks: n for a diagonal, min(m, n)·m·n for an m×n matrix (one sweep
  through the block per row or column, whichever are fewer);
- sparse (functions of one array returning one array): one sweep per colour of the
  detected pattern, ``colours · S``, plus the pattern's detection, counted as its nonzeros
  times the number of equations (each equation's local pattern is a sparse product).

The cheapest wins (ties in the order above). `Plan.explain()` prints the figures.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .elimination import DIAGONAL, EliminationGraph

#: The candidates, in the order ties are broken.
METHODS = ("rev", "fwd", "elimination", "sparse")


class Plan:
    """The estimated multiplications of each way of computing ``jacobian(fun)`` at some
    arguments (`costs`), and the cheapest (`method`)."""

    def __init__(
        self, costs: dict[str, int], sizes: tuple[int, int], sweep: int, colours: int | None, structure: Any = None
    ) -> None:
        self.costs = costs
        #: the `Sparsity` whose colours were counted (None: sparse was not a candidate), kept
        #: so that a plan that chooses sparse does not detect the pattern again
        self.structure = structure
        self.sizes = sizes
        self.sweep = sweep
        self.colours = colours
        self.method = min(costs, key=lambda k: (costs[k], METHODS.index(k)))

    def explain(self) -> str:
        n_in, n_out = self.sizes
        lines = [
            f"Jacobian of {n_out} output scalars by {n_in} input scalars; one sweep ≈ {self.sweep} multiplications",
        ]
        why = {
            "rev": f"{n_out} reverse sweeps",
            "fwd": f"{n_in} forward sweeps",
            "elimination": "building the blocks + Markowitz-order vertex elimination",
            "sparse": f"{self.colours} colours' sweeps + pattern detection",
        }
        for name in METHODS:
            if name in self.costs:
                mark = "  <- chosen" if name == self.method else ""
                lines.append(f"  {name:12s} {self.costs[name]:>14,d}  ({why[name]}){mark}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<Plan: {self.method} ({', '.join(f'{k} {v:,d}' for k, v in self.costs.items())})>"


def plan(fun: Callable[..., Any], *args: Any, argnums: Any = 0, max_bytes: int | None = None) -> Plan:
    """The cost model's figures and choice for ``jacobian(fun, argnums)(*args)``; `max_bytes`
    bounds the batches of the kept `Sparsity` (`Plan.structure`)."""
    from .transforms import _trace, _traced_run

    traced = _trace(fun, args, {}, argnums, "jacobian")
    program = traced.program
    n_in = sum(int(np.prod(s)) for s, _ in program.inputs)
    n_out = sum(int(np.size(o)) for o in traced.outputs)
    try:
        graph = EliminationGraph(program, traced.tape)
    except (TypeError, NotImplementedError):  # loops, implicit equations, several-array values
        sweep = len(program.equations)  # no block sizes to count: a unit per equation
        costs = {"rev": n_out * sweep, "fwd": n_in * sweep}
        return Plan(costs, (n_in, n_out), sweep, None)
    sweep = sum(
        graph.sizes[w] if kind == DIAGONAL else graph.sizes[u] * graph.sizes[w] for (u, w), kind in graph.edges.items()
    )
    # elimination first builds every block: a diagonal by one product, an m×n matrix by
    # min(m, n) products with it
    built = sum(
        graph.sizes[w] if kind == DIAGONAL else min(graph.sizes[u], graph.sizes[w]) * graph.sizes[u] * graph.sizes[w]
        for (u, w), kind in graph.edges.items()
    )
    costs = {"rev": n_out * sweep, "fwd": n_in * sweep, "elimination": graph.cost("markowitz") + built}
    colours = structure = None
    one_array = len(args) == 1 and argnums == 0 and len(program.inputs) == len(program.outputs) == 1
    # on traced values (a derivative of the Jacobian, lagrad.compile) a scipy.sparse matrix cannot hold them
    if one_array and np.dtype(program.inputs[0][1]).kind == "f" and not _traced_run(traced.tape):
        from .sparse_derivatives import Sparsity

        structure = Sparsity(fun, *args, max_bytes=max_bytes)
        colours = structure.n_colours
        costs["sparse"] = colours * sweep + structure.nnz * len(program.equations)
    return Plan(costs, (n_in, n_out), sweep, colours, structure)
