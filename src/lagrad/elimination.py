"""Cross-country vertex elimination: the Jacobian by eliminating the linearised graph's
intermediate vertices in any order.

The linearised graph has a vertex per variable on a path from an input to an output and an
edge per nonzero block ``∂z_w/∂z_u`` of `A`, kept in its kind: a diagonal (an elementwise
partial, as its entries) or a matrix. Eliminating a vertex v adds ``E(v,w) E(u,v)`` to
``E(u,w)`` for every predecessor u and successor w; when only inputs and outputs are left,
the edges are the Jacobian. Back-substitution and forward substitution are two orders of
this elimination (``"reverse"`` and ``"forward"``); ``"markowitz"`` eliminates, at each
step, the vertex whose elimination costs the fewest multiplications; ``"best"`` searches
the orders (branch and bound) for the fewest multiplications in all.

A product costs: diagonal·diagonal n, diagonal·matrix (either side) the matrix's entries,
matrix·matrix m·k·n; additions are not counted (the convention of the elimination
literature, after Griewank and Walther, *Evaluating Derivatives*, ch. 9–10).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .adjoint import Block
from .adjoint.operators import _plain, apply_block
from .core import Program, Tape
from .core.program import Constant, is_parts_shape

DIAGONAL, MATRIX = "diagonal", "matrix"
#: The named orders; a list of vertices (variable indices, from 0) is also an order.
ORDERS = ("forward", "reverse", "markowitz", "best")


def _product_cost(outer: tuple[str, int, int], inner: tuple[str, int, int]) -> int:
    """Multiplications of ``outer @ inner``; each is (kind, rows, columns)."""
    (k2, m, k), (k1, _, n) = outer, inner
    if k1 == DIAGONAL and k2 == DIAGONAL:
        return m
    if k1 == DIAGONAL or k2 == DIAGONAL:
        return m * n
    return m * k * n


def _product(outer: Any, outer_kind: str, inner: Any, inner_kind: str) -> tuple[Any, str]:
    if outer_kind == DIAGONAL and inner_kind == DIAGONAL:
        return outer * inner, DIAGONAL
    if type(outer) is float or type(inner) is float:  # a 1×1 diagonal: a scalar factor
        return outer * inner, MATRIX
    if outer_kind == DIAGONAL:
        return outer[:, None] * inner, MATRIX
    if inner_kind == DIAGONAL:
        return outer * inner[None, :], MATRIX
    return outer @ inner, MATRIX


def _sum(a: Any, a_kind: str, b: Any, b_kind: str) -> tuple[Any, str]:
    if a_kind == b_kind or type(a) is float or type(b) is float:
        return a + b, MATRIX if MATRIX in (a_kind, b_kind) else a_kind
    if a_kind == DIAGONAL:
        a, b = b, a
    out = a.copy()
    out[np.diag_indices(len(b))] += b
    return out, MATRIX


class EliminationGraph:
    """The linearised graph of a traced function at block level: `sizes` (scalars per
    vertex), `edges` ``{(u, w): kind}``, `inputs`, `outputs` and `intermediates` (the
    vertices an order eliminates). `cost(order)` counts an order's multiplications without
    computing; `jacobian(order)` computes the Jacobian blocks by eliminating in that order."""

    def __init__(self, program: Program, tape: Tape) -> None:
        self.program = program
        self.tape = tape
        n_in = program.n_inputs
        self.inputs = list(range(n_in))
        outputs = [o for o in program.outputs if not isinstance(o, Constant)]
        if program.implicit:
            k = program.implicit[0]
            raise NotImplementedError(
                f"lagrad.jacobian(method='elimination'): z{program.equations[k].out + 1} is an implicit "
                f"equation (fixed_point, root, argmin), whose diagonal block is not -I; elimination "
                f"handles explicit programs only. Use mode='rev', 'fwd' or sparse=True."
            )
        for i in range(program.n_vars):
            shape = program.shape(i)
            if is_parts_shape(shape) or np.dtype(program.dtype(i)).kind == "c":
                raise TypeError(
                    f"lagrad.jacobian(method='elimination'): z{i + 1} is a several-array or complex value; "
                    f"elimination works on real arrays. Use mode='rev' or 'fwd'."
                )
        self.sizes = {i: math.prod(program.shape(i)) for i in range(program.n_vars)}
        self._blocks: dict[tuple[int, int], Any] = {}
        edges: dict[tuple[int, int], str] = {}
        for eq in program.equations:
            positions: dict[int, list[int]] = {}
            for pos, i in eq.reads():
                positions.setdefault(i, []).append(pos)
            for i, ps in positions.items():
                # a scalar-to-scalar partial is a 1×1 diagonal, kept as a Python float
                diagonal = self.sizes[i] == self.sizes[eq.out] == 1 or (
                    eq.primitive.elementwise and tuple(program.shape(i)) == tuple(eq.shape)
                )
                edges[(i, eq.out)] = DIAGONAL if diagonal else MATRIX
                self._blocks[(i, eq.out)] = (eq, ps)
        # an output read by later equations (or an input returned as it is) gets a copy vertex,
        # so that every output is a sink and every input a source
        self.outputs, next_vertex = [], program.n_vars
        self._copies: dict[int, int] = {}
        for o in outputs:
            if o < n_in or any(u == o for u, _ in edges):
                copy = next_vertex
                next_vertex += 1
                self.sizes[copy] = self.sizes[o]
                edges[(o, copy)] = DIAGONAL
                self._copies[copy] = o
                self.outputs.append(copy)
            else:
                self.outputs.append(o)
        # keep only vertices on a path from an input to an output
        forward = set(self.inputs)
        for u, w in sorted(edges, key=lambda e: (e[1], e[0])):
            if u in forward:
                forward.add(w)
        backward = set(self.outputs)
        for u, w in sorted(edges, key=lambda e: (-e[0], -e[1])):
            if w in backward:
                backward.add(u)
        keep = forward & backward
        self.edges = {e: kind for e, kind in edges.items() if e[0] in keep and e[1] in keep}
        ends = set(self.inputs) | set(self.outputs)
        self.intermediates = sorted(v for v in keep if v not in ends)

    # -- orders and their costs -------------------------------------------------------------

    def _neighbours(self, edges: dict[tuple[int, int], str]) -> tuple[dict[int, set[int]], dict[int, set[int]]]:
        preds: dict[int, set[int]] = {}
        succs: dict[int, set[int]] = {}
        for u, w in edges:
            succs.setdefault(u, set()).add(w)
            preds.setdefault(w, set()).add(u)
        return preds, succs

    def _shape(self, edge: tuple[int, int], kind: str) -> tuple[str, int, int]:
        return (kind, self.sizes[edge[1]], self.sizes[edge[0]])

    def _eliminate_kinds(
        self,
        edges: dict[tuple[int, int], str],
        v: int,
        preds: dict[int, set[int]],
        succs: dict[int, set[int]],
        log: list[tuple[Any, ...]] | None = None,
    ) -> int:
        """Eliminate v from the kind graph in place; return the multiplications it costs.
        With a `log`, record what changed so that `_undo` can restore it."""
        cost = 0
        for u in preds.get(v, ()):
            for w in succs.get(v, ()):
                inner, outer = edges[(u, v)], edges[(v, w)]
                cost += _product_cost(self._shape((v, w), outer), self._shape((u, v), inner))
                kind = DIAGONAL if inner == outer == DIAGONAL else MATRIX
                if (u, w) in edges:
                    if log is not None:
                        log.append(("kind", (u, w), edges[(u, w)]))
                    edges[(u, w)] = DIAGONAL if edges[(u, w)] == kind == DIAGONAL else MATRIX
                else:
                    if log is not None:
                        log.append(("new", (u, w)))
                    edges[(u, w)] = kind
                    succs.setdefault(u, set()).add(w)
                    preds.setdefault(w, set()).add(u)
        for u in preds.pop(v, ()):
            if log is not None:
                log.append(("del", (u, v), edges[(u, v)]))
            del edges[(u, v)]
            succs[u].discard(v)
        for w in succs.pop(v, ()):
            if log is not None:
                log.append(("del", (v, w), edges[(v, w)]))
            del edges[(v, w)]
            preds[w].discard(v)
        return cost

    @staticmethod
    def _undo(edges: dict[tuple[int, int], str], preds: Any, succs: Any, log: list[tuple[Any, ...]]) -> None:
        for what, (u, w), *kind in reversed(log):
            if what == "new":
                del edges[(u, w)]
                succs[u].discard(w)
                preds[w].discard(u)
            else:  # a changed kind, or a deleted edge
                edges[(u, w)] = kind[0]
                succs.setdefault(u, set()).add(w)
                preds.setdefault(w, set()).add(u)

    def _elimination_cost(self, edges: dict[tuple[int, int], str], v: int, preds: Any, succs: Any) -> int:
        return sum(
            _product_cost(self._shape((v, w), edges[(v, w)]), self._shape((u, v), edges[(u, v)]))
            for u in preds.get(v, ())
            for w in succs.get(v, ())
        )

    def order(self, order: str | Sequence[int] = "markowitz", *, max_nodes: int = 20_000) -> list[int]:
        """The intermediates in the order `order` names (``"forward"``, ``"reverse"``,
        ``"markowitz"``, ``"best"``), or a given list checked to be one."""
        if not isinstance(order, str):
            given = [int(v) for v in order]
            if sorted(given) != self.intermediates:
                raise ValueError(
                    f"lagrad.jacobian(method='elimination'): an order must list every intermediate vertex "
                    f"once, {self.intermediates} (variable indices from 0), not {given}"
                )
            return given
        if order == "forward":
            return list(self.intermediates)
        if order == "reverse":
            return list(reversed(self.intermediates))
        if order == "markowitz":
            edges = dict(self.edges)
            preds, succs = self._neighbours(edges)
            # a heap of (cost, vertex); eliminating v changes the costs of its neighbours only
            current = {v: self._elimination_cost(edges, v, preds, succs) for v in self.intermediates}
            heap = [(c, v) for v, c in current.items()]
            heapq.heapify(heap)
            sequence = []
            while heap:
                c, v = heapq.heappop(heap)
                if current.get(v) != c:
                    continue  # stale
                touched = (preds.get(v, set()) | succs.get(v, set())) & current.keys()
                self._eliminate_kinds(edges, v, preds, succs)
                del current[v]
                sequence.append(v)
                for x in touched:
                    current[x] = self._elimination_cost(edges, x, preds, succs)
                    heapq.heappush(heap, (current[x], x))
            return sequence
        if order == "best":
            return self.search(max_nodes=max_nodes)[0]
        raise ValueError(
            f"lagrad.jacobian(method='elimination'): order must be one of {', '.join(ORDERS)} or a list "
            f"of vertices, not {order!r}"
        )

    def cost(self, order: str | Sequence[int] = "markowitz") -> int:
        """The multiplications eliminating in `order` costs, counted on the block shapes and
        kinds without computing any block."""
        return sum(cost for _, cost in self.steps(order))

    def steps(self, order: str | Sequence[int] = "markowitz") -> list[tuple[int, int]]:
        """(vertex, multiplications) for each elimination of `order`, in turn."""
        edges = dict(self.edges)
        preds, succs = self._neighbours(edges)
        return [(v, self._eliminate_kinds(edges, v, preds, succs)) for v in self.order(order)]

    def search(self, *, max_nodes: int = 20_000) -> tuple[list[int], int, bool]:
        """The order with the fewest multiplications, by depth-first branch and bound from the
        best of forward, reverse and Markowitz, remembering the cheapest cost each set of
        eliminated vertices was reached with, trying at most `max_nodes` eliminations (an
        exhaustive search is affordable below about 12 intermediates: each elimination tried
        costs tens of microseconds in Python). Returns (order, cost,
        proven): `proven` is False when `max_nodes` ran out first (the order is then the best
        found, never worse than the three named orders)."""
        best_order, best_cost = None, None
        for name in ("forward", "reverse", "markowitz"):
            o = self.order(name)
            c = self.cost(o)
            if best_cost is None or c < best_cost:
                best_order, best_cost = o, c
        seen: dict[frozenset[int], int] = {}
        nodes = 0
        proven = True
        # one graph, changed by each elimination and restored after it (an undo log), with
        # every vertex's elimination cost kept up to date for its neighbours only
        edges = dict(self.edges)
        preds, succs = self._neighbours(edges)
        costs = {v: self._elimination_cost(edges, v, preds, succs) for v in self.intermediates}

        def refresh(vertices: set[int]) -> None:
            for x in vertices:
                if x in costs:
                    costs[x] = self._elimination_cost(edges, x, preds, succs)

        def visit(done: frozenset[int], sequence: list[int], spent: int) -> None:
            nonlocal best_order, best_cost, nodes, proven
            if spent >= best_cost:
                return
            if len(sequence) == len(self.intermediates):
                best_order, best_cost = list(sequence), spent
                return
            if seen.get(done, best_cost + 1) <= spent:
                return
            seen[done] = spent
            for v in sorted(costs, key=costs.__getitem__):
                if spent + costs[v] >= best_cost:
                    break  # sorted: every later vertex costs as much
                nodes += 1  # one elimination tried
                if nodes > max_nodes:
                    proven = False
                    return
                touched = preds.get(v, set()) | succs.get(v, set())
                log: list[tuple[Any, ...]] = []
                cost = self._eliminate_kinds(edges, v, preds, succs, log)
                own = costs.pop(v)
                refresh(touched)
                visit(done | {v}, [*sequence, v], spent + cost)
                self._undo(edges, preds, succs, log)
                costs[v] = own
                refresh(touched)
                if not proven:
                    return

        visit(frozenset(), [], 0)
        return best_order, best_cost, proven

    # -- values --------------------------------------------------------------------------------

    def _value(self, edge: tuple[int, int], kind: str) -> Any:
        w = edge[1]
        if w in self._copies:
            return 1.0 if self.sizes[w] == 1 else np.ones(self.sizes[w])
        eq, positions = self._blocks[edge]
        values = self.tape.values[edge[1] - self.program.n_inputs]
        if kind == DIAGONAL:
            ones = np.ones(self.program.shape(edge[0]))
            d = apply_block(eq, values, [ones if p in positions else None for p in range(len(eq.args))])
            d = np.zeros(self.sizes[edge[1]]) if d is None else np.ravel(_plain(d))
            return float(d[0]) if self.sizes[edge[1]] == 1 else d
        block = Block(self, edge[0], edge[1], positions)  # a Block reads only `program` and `tape`
        return block.todense().T  # todense is (size of z_u, size of z_w): A's orientation

    def jacobian(self, order: str | Sequence[int] = "markowitz") -> dict[tuple[int, int], np.ndarray]:
        """``{(input, output): ∂output/∂input}`` as (output scalars, input scalars) matrices,
        by eliminating the intermediates in `order`; pairs without a path are left out."""
        values = {e: (self._value(e, k), k) for e, k in self.edges.items()}
        preds, succs = self._neighbours(values)
        for v in self.order(order):
            for u in preds.get(v, ()):
                inner, inner_kind = values[(u, v)]
                for w in succs.get(v, ()):
                    outer, outer_kind = values[(v, w)]
                    product = _product(outer, outer_kind, inner, inner_kind)
                    if (u, w) in values:
                        product = _sum(*values[(u, w)], *product)
                    else:
                        succs.setdefault(u, set()).add(w)
                        preds.setdefault(w, set()).add(u)
                    values[(u, w)] = product
            for u in preds.pop(v, ()):
                del values[(u, v)]
                succs[u].discard(v)
            for w in succs.pop(v, ()):
                del values[(v, w)]
                preds[w].discard(v)
        out = {}
        for (u, w), (value, kind) in values.items():
            out[(u, w)] = np.diag(np.atleast_1d(value)) if kind == DIAGONAL else value
        return out

    def __repr__(self) -> str:
        return (
            f"<EliminationGraph: {len(self.inputs)} inputs, {len(self.intermediates)} intermediates, "
            f"{len(self.outputs)} outputs, {len(self.edges)} edges>"
        )


def elimination_graph(fun: Callable[..., Any], *args: Any, argnums: Any = None) -> EliminationGraph:
    """The linearised graph of ``fun(*args)`` (every argument an input unless `argnums` says
    otherwise), for comparing elimination orders: ``g.cost("markowitz")``, ``g.search()``."""
    from .transforms import _trace

    traced = _trace(fun, args, {}, argnums, "elimination_graph")
    return EliminationGraph(traced.program, traced.tape)


def elimination_cost(fun: Callable[..., Any], *args: Any, order: Any = "markowitz", argnums: Any = None) -> int:
    """The multiplications `jacobian(fun, method="elimination", order=order)` makes at
    `args`, counted on the block shapes without computing them."""
    return elimination_graph(fun, *args, argnums=argnums).cost(order)
