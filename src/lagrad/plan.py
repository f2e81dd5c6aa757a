"""`jacobian(f, method="auto")`: the way of computing a Jacobian chosen by a model of its
wall time.

The model prices what each method does after the plan, in microseconds, with constants
measured on the development machine (`benchmarks/plan.py --calibrate`, `COSTS`). On the
linearised graph (`EliminationGraph`) one sweep touches ``W = Σ_edges w(e)`` entries per
right-hand side: n for a diagonal block of n scalars, m·n for a dense m×n block, and for a
sparse 0/1 block (a slice, pad, reshape…) the larger of its nonzeros and its two sides (a
sweep writes whole arrays, not only the nonzeros). With n_eq equations:

- reverse mode: the trace, one batched sweep (a Python step per equation) and ``m_out · W``
  entries: ``trace·n_eq + sweep·n_eq + entry·m_out·W``;
- forward mode: the same with ``n_in`` right-hand sides;
- elimination: the trace, the edges' evaluation (per equation, and one sweep through each
  dense block over its smaller side, except an operator block: a product with a constant
  matrix, whose block is that matrix, read as it is), then each block product of the Markowitz order
  (`EliminationGraph.products`) at its own price: a Python step per product (a few tenths
  of a microsecond for numbers, microseconds for NumPy arrays, tens for scipy.sparse) plus
  its multiplications (by the entry for NumPy, by ``sparse_entry`` for scipy.sparse),
  and the dense Jacobian written out, ``dense_out · n_in · n_out``;
- sparse (functions of one array returning one array): one sweep with a seed per colour
  on the plan's own tape (no trace), ``sweep·n_eq + entry·colours·W``, its nonzeros
  decompressed and the dense result written out. The pattern's detection and colouring
  are not counted: the plan has already paid them to count the colours.

The cheapest wins (ties in the order of `METHODS`). `Plan.explain()` prints the figures.
The model is checked against measured wall times by `benchmarks/plan.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .elimination import DIAGONAL, MATRIX, PATTERNED, SPARSE, EliminationGraph

#: The candidates, in the order ties are broken.
METHODS = ("rev", "fwd", "elimination", "sparse")

#: Microseconds per unit of each count (`Plan.counts`), measured on the 2-core development
#: machine under load (2026-12-03): the per-product steps of elimination (numbers, arrays) and
#: its evaluation per equation timed alone on the literature functions and small array
#: programs; the rest the mean of two fits of every candidate's measured wall time on the
#: programs of ``benchmarks/plan.py --calibrate`` (non-negative least squares on relative
#: errors). The model compares methods, so only the ratios between these matter.
COSTS = {
    "call": 150.0,  # a traced transform's fixed cost (rev, fwd, elimination)
    "sparse_call": 350.0,  # the sparse solve's fixed cost: seeds, decompression, the CSR matrix
    "trace": 14.0,  # tracing, per equation
    "sweep": 14.0,  # one batched back-substitution (or the sparse solve's sweep), per equation
    "tangent_sweep": 24.0,  # one batched forward substitution, per equation
    "evaluate": 1.0,  # elimination's evaluation of the edges, per equation
    "entry": 0.0025,  # NumPy elementwise arithmetic in a sweep or a product, per entry
    "dense_entry": 0.0001,  # a dense block's product (BLAS), per multiplication
    "scalar": 0.15,  # a product of two numbers
    "matrix": 4.0,  # a product of NumPy arrays, its Python step
    "matmul": 4.0,  # a product of two dense matrices, its Python step
    "sparse": 220.0,  # a product with a scipy.sparse block: its Python step and format conversions
    "sparse_entry": 0.03,  # scipy.sparse arithmetic, per multiplication or nonzero
    "blocks_out": 0.009,  # elimination's dense Jacobian from its blocks (made dense, checked for NaN), per entry
    "dense_out": 0.0018,  # the sparse Jacobian made dense, per entry
}


class Plan:
    """The modelled wall time of each way of computing ``jacobian(fun)`` at some arguments
    (`costs`, microseconds), and the cheapest (`method`)."""

    def __init__(
        self,
        counts: dict[str, dict[str, int]],
        sizes: tuple[int, int],
        sweep: int,
        colours: int | None,
        structure: Any = None,
    ) -> None:
        #: per method, how many of each unit of `COSTS` it spends
        self.counts = counts
        self.costs = {name: sum(COSTS[k] * n for k, n in c.items()) for name, c in counts.items()}
        costs = self.costs
        #: the `Sparsity` whose colours were counted (None: sparse was not a candidate), kept
        #: so that a plan that chooses sparse does not detect the pattern again
        self.structure = structure
        self.sizes = sizes
        #: entries one sweep touches per right-hand side (W)
        self.sweep = sweep
        self.colours = colours
        self.method = min(costs, key=lambda k: (costs[k], METHODS.index(k)))

    def explain(self) -> str:
        n_in, n_out = self.sizes
        lines = [
            f"Jacobian of {n_out} output scalars by {n_in} input scalars; one sweep touches {self.sweep} entries "
            f"per right-hand side; modelled wall time in µs:",
        ]
        why = {
            "rev": f"trace + a sweep of {n_out} right-hand sides",
            "fwd": f"trace + a sweep of {n_in} right-hand sides",
            "elimination": "trace + the blocks + Markowitz-order block products",
            "sparse": f"a sweep of {self.colours} colours + decompression (pattern already detected)"
            if self.structure is not None
            else f"a sweep of at least {self.colours} colours: not coloured, it cannot win",
        }
        for name in METHODS:
            if name in self.costs:
                mark = "  <- chosen" if name == self.method else ""
                lines.append(f"  {name:12s} {self.costs[name]:>14,.0f}  ({why[name]}){mark}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<Plan: {self.method} ({', '.join(f'{k} {v:,.0f} µs' for k, v in self.costs.items())})>"


def _sweep_entries(graph: EliminationGraph) -> tuple[int, int]:
    """Entries one sweep touches per right-hand side (W): elementwise (diagonal and sparse
    blocks) and in dense blocks."""
    sizes, blocks = graph.sizes, graph._blocks()
    structure, equations = graph._structure, graph.program.equations
    elementwise = dense = 0
    for (u, w), kind in graph.edges.items():
        if kind == DIAGONAL:
            elementwise += sizes[w]
        elif blocks[(u, w)][1] in PATTERNED and (
            (u, w) not in structure.blocks or equations[structure.blocks[(u, w)][0]].primitive.name != "sum"
        ):  # data movement (a sum's block, a scatter to elimination, is a reduction to a sweep)
            elementwise += max(blocks[(u, w)][2].nnz, sizes[u], sizes[w])
        else:
            dense += sizes[u] * sizes[w]
    return elementwise, dense


def _elimination_counts(graph: EliminationGraph, n_eq: int, n_in: int, n_out: int) -> dict[str, int]:
    sizes, blocks = graph.sizes, graph._blocks()
    counts = dict.fromkeys(COSTS, 0)
    counts.update(call=1, trace=n_eq, evaluate=n_eq, blocks_out=n_in * n_out)
    evaluation = graph._structure.evaluation
    operators = {evaluation.edges[j] for j in evaluation.operators}  # read as they are, never built
    for (u, w), block in blocks.items():
        # a sweep over the smaller side, for a dense block neither fixed by the structure nor a constant's
        if block[0] != DIAGONAL and block[1] not in PATTERNED and (u, w) not in operators:
            counts["sweep"] += 1
            counts["dense_entry"] += min(sizes[u], sizes[w]) * sizes[u] * sizes[w]
    for form, multiplications in graph.products("markowitz"):
        counts[form] += 1
        if form == SPARSE:
            counts["sparse_entry"] += multiplications
        elif form == MATRIX:
            counts["entry"] += multiplications
        elif form == "matmul":
            counts["dense_entry"] += multiplications
    return counts


def _sweep_counts(n_eq: int, rhs: int, sweep: tuple[int, int], tangents: bool) -> dict[str, int]:
    counts = dict.fromkeys(COSTS, 0)
    counts.update(call=1, trace=n_eq, entry=rhs * sweep[0], dense_entry=rhs * sweep[1])
    counts["tangent_sweep" if tangents else "sweep"] = n_eq
    return counts


def plan(fun: Callable[..., Any], *args: Any, argnums: Any = 0, max_bytes: int | None = None) -> Plan:
    """The cost model's figures and choice for ``jacobian(fun, argnums)(*args)``; `max_bytes`
    bounds the batches of the kept `Sparsity` (`Plan.structure`)."""
    from .transforms import _trace

    return _plan(fun, args, argnums, max_bytes, _trace(fun, args, {}, argnums, "jacobian"))


#: The plans of the last few structures ``jacobian(method="auto")`` met, by structure key:
#: a function called again with inputs of the same structure is planned once.
_PLANS: dict[Any, Plan] = {}
_KEEP = 16


def planned(fun: Callable[..., Any], args: tuple[Any, ...], argnums: Any, max_bytes: int | None) -> tuple[Plan, Any]:
    """The plan for ``jacobian(fun, argnums)(*args)`` and the trace it was read from: made once
    per structure of the traced Program (`elimination._structure_key`, which holds everything
    the figures are made of), then looked up. A kept plan's `Sparsity` may be another
    function's of the same structure: solve it on this trace (``structure._solve(tape, program)``)."""
    from .control import value
    from .elimination import _structure_key
    from .transforms import _trace, _traced_run

    traced = _trace(fun, args, {}, argnums, "jacobian")
    key = _structure_key(traced.program)
    if key is not None:
        outputs = tuple(np.shape(value(o)) for o in traced.outputs)
        numbers = argnums if isinstance(argnums, int) else tuple(argnums)  # a list is not hashable
        key = (key, outputs, numbers, len(args), max_bytes, _traced_run(traced.tape))
        found = _PLANS.get(key)
        if found is not None:
            return found, traced
    made = _plan(fun, args, argnums, max_bytes, traced)
    if key is not None:
        if len(_PLANS) >= _KEEP:
            _PLANS.pop(next(iter(_PLANS), None), None)  # the oldest (another thread may have dropped it)
        _PLANS[key] = made
    return made, traced


def _cost(counts: dict[str, int]) -> float:
    return sum(COSTS[k] * n for k, n in counts.items())


def _sparse_counts(n_eq: int, colours: int, sweep: tuple[int, int], nnz: int, dense: int) -> dict[str, int]:
    counts = dict.fromkeys(COSTS, 0)
    counts.update(sparse_call=1, trace=n_eq, sweep=n_eq, entry=colours * sweep[0], dense_entry=colours * sweep[1],
                  sparse_entry=nnz, dense_out=dense)  # fmt: skip
    return counts


def _plan(fun: Callable[..., Any], args: tuple[Any, ...], argnums: Any, max_bytes: int | None, traced: Any) -> Plan:
    from .transforms import _traced_run

    program = traced.program
    n_in = sum(int(np.prod(s)) for s, _ in program.inputs)
    n_out = sum(int(np.size(o)) for o in traced.outputs)
    n_eq = len(program.equations)
    try:
        graph = EliminationGraph(program, traced.tape)
    except (TypeError, NotImplementedError):  # loops, implicit equations, several-array values
        sweep = (n_eq, 0)  # no block sizes to count: an entry per equation
        counts = {"rev": _sweep_counts(n_eq, n_out, sweep, False), "fwd": _sweep_counts(n_eq, n_in, sweep, True)}
        return Plan(counts, (n_in, n_out), sum(sweep), None)
    sweep = _sweep_entries(graph)
    counts = {"rev": _sweep_counts(n_eq, n_out, sweep, False), "fwd": _sweep_counts(n_eq, n_in, sweep, True)}
    # on traced values (a derivative of the Jacobian, lagrad.compile) elimination would read plain
    # numbers and a scipy.sparse matrix cannot hold them: only the sweeps are offered
    traced_run = _traced_run(traced.tape)
    if not traced_run:
        counts["elimination"] = _elimination_counts(graph, n_eq, n_in, n_out)
    colours = structure = None
    one_array = len(args) == 1 and argnums == 0 and len(program.inputs) == len(program.outputs) == 1
    if one_array and np.dtype(program.inputs[0][1]).kind == "f" and not traced_run:
        from .sparse_derivatives import Sparsity, pattern

        # the pattern and its colouring are the plan's dearest steps: made only where sparse can
        # still win. With one colour (no nonzeros) it loses already, say to a reverse sweep of one
        # output: no pattern. Then no colouring has fewer colours than a row's nonzeros (columns)
        # or a column's (rows): where that many lose, no colouring, and sparse is priced at the bound
        others = min(_cost(c) for c in counts.values())
        found, fewest = None, 1
        if _cost(_sparse_counts(n_eq, 1, sweep, 0, n_in * n_out)) < others:
            found = pattern(program)
            fewest = max(1, int(min(np.diff(found.indptr).max(initial=0), np.bincount(found.indices).max(initial=0))))
        bound = _sparse_counts(n_eq, fewest, sweep, 0 if found is None else found.nnz, n_in * n_out)
        if found is not None and _cost(bound) < others:
            structure = Sparsity(fun, *args, max_bytes=max_bytes, _traced=traced, _pattern=found)
            colours = structure.n_colours
            counts["sparse"] = _sparse_counts(n_eq, colours, sweep, structure.nnz, n_in * n_out)
        else:
            colours = fewest
            counts["sparse"] = bound
    return Plan(counts, (n_in, n_out), sum(sweep), colours, structure)
