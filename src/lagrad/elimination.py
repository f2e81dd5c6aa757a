"""Cross-country vertex elimination: the Jacobian by eliminating the linearised graph's
intermediate vertices in any order.

The linearised graph has a vertex per variable on a path from an input to an output and an
edge per nonzero block ``∂z_w/∂z_u`` of `A`, kept in its kind: a diagonal (an elementwise
partial, as its entries) or a matrix. Eliminating a vertex v adds ``E(v,w) E(u,v)`` to
``E(u,w)`` for every predecessor u and successor w; when only inputs and outputs are left,
the edges are the Jacobian. Back-substitution and forward substitution are two orders of
this elimination (``"reverse"`` and ``"forward"``); ``"markowitz"`` eliminates, at each
step, the vertex whose elimination costs the fewest multiplications; ``"best"`` searches
the orders for the fewest multiplications in all (exactly, by a dynamic program over the
sets of eliminated vertices, on block graphs of up to 20 intermediates; `search`).

A product costs: diagonal·diagonal n, diagonal·matrix (either side) the matrix's entries,
matrix·matrix m·k·n. A copy block with one entry in each row (roll, transpose, reshape,
slice, broadcast: a gather) or in each column (a sum along axes, pad, a concatenation's
piece: a scatter) is held as an index array; its products with numbers, diagonals, dense
blocks and blocks of its own kind are indexing and sums, costing only the multiplications
of entries that are not ones (a roll times a diagonal: none, the diagonal's entries
permuted; then that permuted diagonal times a dense block: one per entry of the result).
Any other sparse block (a sum of gathers, a gather times a scatter) is a scipy.sparse
matrix counted by its nonzeros: nnz against a number or a diagonal, nnz·k against a dense
block's other side k, and against another sparse block the nonzeros met (Σ_j nnz of
column j of the outer times nnz of row j of the inner). Additions are not counted (the
convention of the elimination literature, after Griewank and Walther, *Evaluating
Derivatives*, ch. 9–10).
"""

from __future__ import annotations

import functools
import heapq
import math
import operator as _operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import scipy.sparse

from .adjoint.backward import back_substitution
from .adjoint.operators import _plain, apply_block, apply_block_batched, apply_transpose_batched, operator
from .core import Program, Tape
from .core.program import META, UNREAD, Aval, Constant, is_parts_shape
from .numpy.indexing import Index, Slot
from .sparse_derivatives import MOVES, _moves, _reduction

DIAGONAL, MATRIX = "diagonal", "matrix"
#: The named orders; a list of vertices (variable indices, from 0) is also an order.
ORDERS = ("forward", "reverse", "markowitz", "best")
#: The search bounds what is left (and can prove an order optimal) on graphs of at most this
#: many intermediates; on larger ones it tries orders, cheapest elimination first.
BOUNDED = 24
#: Graphs of at most this many intermediates whose blocks are numbers, diagonals or dense
#: matrices are solved exactly by the dynamic program over every set of eliminated vertices
#: (`search(max_sets=)`, 2**EXACT sets by default).
EXACT = 20


class _Pattern:
    """The nonzero pattern of a sparse block, with its nonzeros per row and per column."""

    __slots__ = ("cols", "matrix", "nnz", "rows")

    def __init__(self, matrix: Any) -> None:
        m = scipy.sparse.csr_matrix(matrix, dtype=bool)
        m.eliminate_zeros()
        m.sum_duplicates()
        self.matrix = m
        self.nnz = int(m.nnz)
        self.rows = np.diff(m.indptr)
        self.cols = np.bincount(m.indices, minlength=m.shape[1])


#: A block in the cost model: (kind, form, pattern), the pattern a `_Pattern` for a SPARSE form.
_Block = tuple[str, str, Any]


def _product_cost(outer: _Block, inner: _Block, m: int, k: int, n: int) -> int:
    """Multiplications of ``outer @ inner`` (m×k times k×n), as `_Plan.run` makes them."""
    fo, fi = outer[1], inner[1]
    structured = _STRUCTURED.get((_plain_form(fo), _plain_form(fi)))
    if structured is not None:  # a gather or scatter against a number, diagonal or dense block
        return structured[1](fo in WEIGHTED, fi in WEIGHTED, m, k, n)
    if fo in PATTERNED or fi in PATTERNED:  # as scipy.sparse matrices
        fo, fi = (SPARSE if fo in PATTERNED else fo), (SPARSE if fi in PATTERNED else fi)
        if fo == fi:  # the nonzeros met
            return int(outer[2].cols @ inner[2].rows)
        if fo == SPARSE:
            return outer[2].nnz * (n if fi == MATRIX else 1)
        return inner[2].nnz * (m if fo == MATRIX else 1)
    (k2, k1) = (DIAGONAL if fo in (SCALAR, VECTOR) else MATRIX, DIAGONAL if fi in (SCALAR, VECTOR) else MATRIX)
    if k1 == DIAGONAL and k2 == DIAGONAL:
        return m
    if k1 == DIAGONAL or k2 == DIAGONAL:
        return m * n
    return m * k * n


def _product_kind(
    structure: Any, edge: tuple[int, int], outer: tuple[str, str], inner: tuple[str, str]
) -> tuple[str, str]:
    """(kind, form) of the product ``E(v,w) E(u,v)`` for `edge` (u, w), from its factors'
    (kind, form): the rule `_Plan` evaluates by and the cost model counts by."""
    kind = DIAGONAL if outer[0] == inner[0] == DIAGONAL else MATRIX
    form = _form(structure, edge, kind)
    if form == SCALAR:
        return kind, form
    structured = _STRUCTURED.get((_plain_form(outer[1]), _plain_form(inner[1])))
    if structured is not None:
        made = structured[0]
        if made in UNIT and outer[1] in UNITS and inner[1] in UNITS:
            made = UNIT[made]  # a composition of copies (or of sums) is one
        return kind, made
    if PATTERNED & {outer[1], inner[1]}:
        form = MATRIX if MATRIX in (outer[1], inner[1]) else SPARSE
    return kind, form


class _Structure:
    """What depends on a program's structure only (the graph, its kinds, how each edge is
    evaluated, the orders and elimination plans asked for), shared by every graph of a program
    of that structure: a function differentiated again at new inputs retraces to an equal
    structure, and the plan is made once (`_structure` keeps the last few)."""

    def __init__(self, program: Program) -> None:
        n_in = program.n_inputs
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
        self.inputs = list(range(n_in))
        self.sizes = {i: math.prod(program.shape(i)) for i in range(program.n_vars)}
        #: edge -> (equation index, argument positions reading the edge's source)
        self.blocks: dict[tuple[int, int], tuple[int, list[int]]] = {}
        edges: dict[tuple[int, int], str] = {}
        for k, eq in enumerate(program.equations):
            positions: dict[int, list[int]] = {}
            for pos, i in eq.reads():
                positions.setdefault(i, []).append(pos)
            for i, ps in positions.items():
                # a scalar-to-scalar partial is a 1×1 diagonal, kept as a number
                diagonal = self.sizes[i] == self.sizes[eq.out] == 1 or (
                    eq.primitive.elementwise and tuple(program.shape(i)) == tuple(eq.shape)
                )
                edges[(i, eq.out)] = DIAGONAL if diagonal else MATRIX
                self.blocks[(i, eq.out)] = (k, ps)
        # an output read by later equations (or an input returned as it is) gets a copy vertex,
        # so that every output is a sink and every input a source
        outputs = [o for o in program.outputs if not isinstance(o, Constant)]
        self.outputs, next_vertex = [], program.n_vars
        self.copies: dict[int, int] = {}
        for o in outputs:
            if o < n_in or any(u == o for u, _ in edges):
                copy = next_vertex
                next_vertex += 1
                self.sizes[copy] = self.sizes[o]
                edges[(o, copy)] = DIAGONAL
                self.copies[copy] = o
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
        self.dtypes = {i: np.dtype(program.dtype(i)) for i in range(program.n_vars)}
        for copy, o in self.copies.items():
            self.dtypes[copy] = self.dtypes[o]
        self.evaluation = _Evaluation(self, program)
        self.orders: dict[Any, list[int]] = {}
        self.plans: dict[tuple[int, ...], _Plan] = {}
        self.searches: dict[tuple[int, int], tuple[list[int], int, bool]] = {}
        #: the cost model's starting graph (`EliminationGraph._blocks`), made when first asked
        self.blocks0: dict[tuple[int, int], _Block] | None = None
        self.sparse = False
        self.memo: dict[tuple[Any, ...], Any] = {}


#: The structures of the last few programs eliminated, by structure key (see `_structure_key`).
_STRUCTURES: dict[Any, _Structure] = {}
_KEEP = 16


_NUMBERS = (float, int, bool, np.float64)
_FIELDS = _operator.attrgetter("primitive", "args", "diff", "shape", "dtype", "kept")


def _structure_key(program: Program) -> Any:
    """A hashable key equal for two programs of the same structure (primitives, arguments,
    shapes, dtypes, what a run keeps, static parameters, the constants' shapes), or None when
    a parameter is not hashable (the structure is then not kept)."""
    equations = program.equations
    fields = tuple(map(_FIELDS, equations))
    params = tuple((k, _hashable(tuple(eq.params.items()))) for k, eq in enumerate(equations) if eq.params)
    constants = tuple(
        (k, [() if type(c) in _NUMBERS else np.shape(c) for c, a in zip(eq.constants, eq.args) if a < 0])
        for k, eq in enumerate(equations)
        if -1 in eq.args
    )
    outputs = tuple(None if isinstance(o, Constant) else o for o in program.outputs)
    constants = tuple((k, tuple(shapes)) for k, shapes in constants)
    # the indices a data-moving primitive takes as constants decide its (sparse, kept) block
    indices = tuple(
        (k, p, np.asarray(c).dtype.str, np.shape(c), np.asarray(c).tobytes())
        for k, eq in enumerate(equations)
        if eq.primitive.name in MOVES and -1 in eq.args
        for p, (c, a) in enumerate(zip(eq.constants, eq.args))
        if a < 0 and np.asarray(c).dtype.kind not in "fc"
    )
    key = (tuple((tuple(s), np.dtype(d)) for s, d in program.inputs), fields, params, constants, indices, outputs)
    try:
        hash(key)
    except TypeError:
        return None
    return key


def _hashable(value: Any) -> Any:
    """`value` compared by what it holds: an index expression (`Index`, whose objects compare
    by identity, so that a retraced slice was a new structure), its slices (unhashable before
    Python 3.12), arrays and argument slots as tuples."""
    kind = type(value)
    if kind is tuple:
        return tuple(map(_hashable, value))
    if kind is slice:
        return (slice, value.start, value.stop, value.step)
    if kind is Index:
        return (Index, _hashable(tuple(value.items)), value.repeats, value.ints)
    if kind is Slot:
        return (Slot, value.position)
    if kind is np.ndarray:
        return (np.ndarray, value.dtype.str, value.shape, value.tobytes())
    return value


def _structure(program: Program) -> _Structure:
    key = _structure_key(program)
    found = _STRUCTURES.get(key) if key is not None else None
    if found is None:
        found = _Structure(program)
        if key is not None:
            if len(_STRUCTURES) >= _KEEP:
                del _STRUCTURES[next(iter(_STRUCTURES))]
            _STRUCTURES[key] = found
    return found


class EliminationGraph:
    """The linearised graph of a traced function at block level: `sizes` (scalars per
    vertex), `edges` ``{(u, w): kind}``, `inputs`, `outputs` and `intermediates` (the
    vertices an order eliminates). `cost(order)` counts an order's multiplications without
    computing; `jacobian(order)` computes the Jacobian blocks by eliminating in that order.

    Programs of equal structure share what the structure decides (the graph, the orders,
    the elimination plans), so a second graph of a retraced function costs a key lookup."""

    def __init__(self, program: Program, tape: Tape) -> None:
        self.program = program
        self.tape = tape
        self._structure = structure = _structure(program)
        self.inputs, self.outputs = structure.inputs, structure.outputs
        self.intermediates, self.sizes, self.edges = structure.intermediates, structure.sizes, structure.edges

    # -- orders and their costs -------------------------------------------------------------

    def _neighbours(self, edges: dict[tuple[int, int], str]) -> tuple[dict[int, set[int]], dict[int, set[int]]]:
        preds: dict[int, set[int]] = {}
        succs: dict[int, set[int]] = {}
        for u, w in edges:
            succs.setdefault(u, set()).add(w)
            preds.setdefault(w, set()).add(u)
        return preds, succs

    def _blocks(self) -> dict[tuple[int, int], _Block]:
        """The cost model's graph: each edge as (kind, form, pattern), the forms those the
        evaluation holds the edges' values in (a data-moving primitive's block sparse)."""
        structure = self._structure
        if structure.blocks0 is None:
            evaluation = structure.evaluation
            fixed = evaluation.fixed
            structure.blocks0 = {
                e: (structure.edges[e], form, _Pattern(_as_form(fixed[j], SPARSE)) if form in PATTERNED else None)
                for j, (e, form) in enumerate(zip(evaluation.edges, evaluation.forms))
            }
            structure.sparse = any(b[1] in PATTERNED for b in structure.blocks0.values())
        return dict(structure.blocks0)

    def _memo(self, key: tuple[Any, ...], make: Callable[[], Any], *keep: Any) -> Any:
        # keyed by the operands' ids, which the entry keeps alive
        memo = self._structure.memo
        found = memo.get(key)
        if found is None:
            found = memo[key] = (keep, make())
        return found[1]

    def _product(self, edge: tuple[int, int], outer: _Block, inner: _Block) -> _Block:
        kind, form = _product_kind(self._structure, edge, outer[:2], inner[:2])
        pattern = None
        if form in PATTERNED:
            if outer[1] in PATTERNED and inner[1] in PATTERNED:
                a, b = outer[2], inner[2]
                pattern = self._memo(("@", id(a), id(b)), lambda: _Pattern(a.matrix @ b.matrix), a, b)
            else:
                pattern = outer[2] if outer[1] in PATTERNED else inner[2]
        return (kind, form, pattern)

    def _sum(self, a: _Block, b: _Block) -> _Block:
        kind = DIAGONAL if a[0] == b[0] == DIAGONAL else MATRIX
        form = _sum_form(a[1], b[1])
        pattern = None
        if form == SPARSE:
            p, q = a[2] if a[1] in PATTERNED else None, b[2] if b[1] in PATTERNED else None
            if p is None or q is None:  # a sparse block and a diagonal
                p = p or q
                pattern = self._memo(
                    ("+I", id(p)), lambda: _Pattern(p.matrix + scipy.sparse.identity(p.matrix.shape[0], dtype=bool)), p
                )
            elif p is q:
                pattern = p
            else:
                pattern = self._memo(("+", id(p), id(q)), lambda: _Pattern(p.matrix + q.matrix), p, q)
        return (kind, form, pattern)

    def _cost_of(self, edges: dict[tuple[int, int], _Block], u: int, v: int, w: int) -> int:
        sizes = self.sizes
        return _product_cost(edges[(v, w)], edges[(u, v)], sizes[w], sizes[v], sizes[u])

    def _eliminate_kinds(
        self,
        edges: dict[tuple[int, int], _Block],
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
                cost += self._cost_of(edges, u, v, w)
                product = self._product((u, w), edges[(v, w)], edges[(u, v)])
                if (u, w) in edges:
                    if log is not None:
                        log.append(("kind", (u, w), edges[(u, w)]))
                    edges[(u, w)] = self._sum(edges[(u, w)], product)
                else:
                    if log is not None:
                        log.append(("new", (u, w)))
                    edges[(u, w)] = product
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
    def _undo(edges: dict[tuple[int, int], _Block], preds: Any, succs: Any, log: list[tuple[Any, ...]]) -> None:
        for what, (u, w), *kind in reversed(log):
            if what == "new":
                del edges[(u, w)]
                succs[u].discard(w)
                preds[w].discard(u)
            else:  # a changed kind, or a deleted edge
                edges[(u, w)] = kind[0]
                succs.setdefault(u, set()).add(w)
                preds.setdefault(w, set()).add(u)

    def _elimination_cost(self, edges: dict[tuple[int, int], _Block], v: int, preds: Any, succs: Any) -> int:
        return sum(self._cost_of(edges, u, v, w) for u in preds.get(v, ()) for w in succs.get(v, ()))

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
        cached = self._structure.orders.get((order, max_nodes) if order == "best" else order)
        if cached is not None:
            return list(cached)
        sequence = self._named_order(order, max_nodes)
        self._structure.orders[(order, max_nodes) if order == "best" else order] = sequence
        return list(sequence)

    def _named_order(self, order: str, max_nodes: int) -> list[int]:
        if order == "forward":
            return list(self.intermediates)
        if order == "reverse":
            return list(reversed(self.intermediates))
        if order == "markowitz":
            edges = self._blocks()
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
        edges = self._blocks()
        preds, succs = self._neighbours(edges)
        return [(v, self._eliminate_kinds(edges, v, preds, succs)) for v in self.order(order)]

    def products(self, order: str | Sequence[int] = "markowitz") -> list[tuple[str, int]]:
        """(form, multiplications) of each block product eliminating in `order` makes, the form
        ``"scalar"`` (two numbers), ``"sparse"`` (a scipy.sparse factor), ``"matmul"`` (two dense
        matrices) or ``"matrix"`` (a diagonal scaling a matrix, two diagonals): what
        `method="auto"` prices each product by (`plan.py`)."""
        edges = self._blocks()
        preds, succs = self._neighbours(edges)
        out = []
        for v in self.order(order):
            for u in preds.get(v, ()):
                for w in succs.get(v, ()):
                    forms = (edges[(v, w)][1], edges[(u, v)][1])
                    if (_plain_form(forms[0]), _plain_form(forms[1])) in _STRUCTURED:
                        form = MATRIX  # an index or a sum along an axis: one NumPy step
                    elif PATTERNED & set(forms):
                        form = SPARSE
                    elif SPARSE in forms or forms == (SCALAR, SCALAR):
                        form = SPARSE if SPARSE in forms else SCALAR
                    else:  # a product of two dense matrices is a BLAS call
                        form = "matmul" if forms == (MATRIX, MATRIX) else MATRIX
                    out.append((form, self._cost_of(edges, u, v, w)))
            self._eliminate_kinds(edges, v, preds, succs)
        return out

    def search(self, *, max_nodes: int = 20_000, max_sets: int = 1 << EXACT) -> tuple[list[int], int, bool]:
        """The order with the fewest multiplications, and whether it is proven the fewest.

        - A chain (every intermediate with one predecessor and one successor, dense or diagonal
          blocks) is solved exactly by the dynamic program over intervals (`_chain`), at any length.
        - A graph whose blocks are numbers, diagonals or dense matrices and whose 2**n sets of
          eliminated vertices are at most `max_sets` (n ≤ `EXACT` = 20 by default): exactly, by
          the dynamic program over every set (`_exact`), vectorised; always proven.
        - Any other graph of at most `BOUNDED` intermediates: a tenth of `max_nodes` (at most
          2,000) tries orders depth first from the best of forward, reverse and Markowitz
          (`_try_orders`); then A* over the sets of eliminated vertices (`_prove`), with lower
          bounds from vertex separators (`_bounds`), estimating at most the rest of `max_nodes`
          sets, proves that order optimal or finds a better one and proves it. Where it runs
          out, `_try_orders` again with the whole budget.
        - A larger graph: `_try_orders` with the whole budget, never proven.

        Returns (order, cost, proven): `proven` is False when the budget ran out first (the
        order is then the best found, never worse than the three named orders), never claimed
        otherwise. The result is kept per structure and budget."""
        key = (max_nodes, max_sets)
        found = self._structure.searches.get(key)
        if found is None:
            found = self._structure.searches[key] = self._search(max_nodes, max_sets)
        return list(found[0]), found[1], found[2]

    def _chain(self) -> tuple[list[int], int] | None:
        """On a chain (one input, one output, every intermediate one predecessor and one
        successor, no sparse block), the optimal order and its cost by the dynamic program over
        intervals: eliminating a chain's vertices is bracketing its product, and the vertex
        eliminated last between two ends splits the interval there. None on any other graph."""
        edges = self._blocks()
        preds, succs = self._neighbours(edges)
        if len(self.inputs) != 1 or len(self.outputs) != 1 or any(b[1] in PATTERNED for b in edges.values()):
            return None
        path = [self.inputs[0]]
        while len(path) <= len(self.intermediates):
            nexts = succs.get(path[-1], set())
            if len(nexts) != 1 or len(preds.get(next(iter(nexts)), ())) != 1:
                return None
            path.append(next(iter(nexts)))
        if succs.get(path[-1]) != {self.outputs[0]} or len(preds[self.outputs[0]]) != 1:
            return None
        path.append(self.outputs[0])
        sizes, structure, n = self.sizes, self._structure, len(path)
        # block[i][j]: the (kind, form) of E(path[i], path[j]) once everything between is eliminated
        block: dict[tuple[int, int], _Block] = {(i, i + 1): edges[(path[i], path[i + 1])] for i in range(n - 1)}
        best: dict[tuple[int, int], int] = {(i, i + 1): 0 for i in range(n - 1)}
        split: dict[tuple[int, int], int] = {}
        for length in range(2, n):
            for i in range(n - length):
                j = i + length
                u, w = path[i], path[j]
                kind, form = _product_kind(structure, (u, w), block[(i + 1, j)][:2], block[(i, i + 1)][:2])
                block[(i, j)] = (kind, form, None)
                n_u, n_w = sizes[u], sizes[w]
                best[(i, j)], split[(i, j)] = min(
                    (best[(i, k)] + best[(k, j)] + _product_cost(block[(k, j)], block[(i, k)], n_w, sizes[p], n_u), k)
                    for k, p in zip(range(i + 1, j), path[i + 1 : j])
                )
        order: list[int] = []

        def bracket(i: int, j: int) -> None:
            if j - i > 1:
                k = split[(i, j)]
                bracket(i, k)
                bracket(k, j)
                order.append(path[k])

        bracket(0, n - 1)
        return order, best[(0, n - 1)]

    def _search(self, max_nodes: int, max_sets: int) -> tuple[list[int], int, bool]:
        chain = self._chain()
        if chain is not None:
            return chain[0], chain[1], True
        if 1 << len(self.intermediates) <= max_sets:
            exact = self._exact()
            if exact is not None:
                return exact[0], exact[1], True
        best_order, best_cost = [], -1
        for name in ("forward", "reverse", "markowitz"):
            o = self.order(name)
            c = self.cost(o)
            if best_cost < 0 or c < best_cost:
                best_order, best_cost = o, c
        if len(self.intermediates) > BOUNDED:
            order, cost = self._try_orders(best_order, best_cost, max_nodes)
            return order, cost, False
        # a tenth of the budget (at most 2,000) on trying orders: a lower cost to beat cuts more
        trying = min(2_000, max(1, max_nodes // 10))
        order, cost = self._try_orders(best_order, best_cost, trying)
        found = self._prove(order, cost, max_nodes - trying)
        if found is None:  # not proven: the whole budget again on trying orders, from the best
            order, cost = self._try_orders(order, cost, max_nodes)
            return order, cost, False
        return found[0], found[1], True

    # -- the exact search: a dynamic program over every set of eliminated vertices -----------

    def _exact(self) -> tuple[list[int], int] | None:
        """The order of fewest multiplications and its count, by the dynamic program over all
        2**n sets of eliminated vertices; None on a graph with a sparse block.

        Without sparse blocks a product through v costs ``n_v · a(u) · b(w)`` (`_product_cost`:
        diagonal·diagonal n_v, diagonal·matrix the matrix's entries, matrix·matrix m·k·n),
        a(u) = n_u where the block (u, v) is dense and 1 where it is a number or a diagonal (of
        v's size), b(w) the same on the other side. So eliminating v once the set T is gone
        costs ``n_v · A_v(T) · B_v(T)``, A_v the sum of a(u) over v's predecessors then and
        B_v of b(w) over its successors. u is a predecessor of v then exactly when u ∉ T and
        some path u → v has all its inner vertices in T, and the block is diagonal exactly
        when every such path is (products and sums of diagonals are diagonal; a dense factor
        or term makes the block dense). A_v depends only on the vertices of T before v (the
        program's order is topological) and B_v only on those after it: 2**i and 2**(n-1-i)
        values for the i-th intermediate, computed for all sets at once with NumPy (`_sides`).
        Then ``f(S) = min over v in S of f(S - v) + cost(v after S - v)`` over the sets by
        size, one NumPy pass per size and vertex; f(all) is the optimum and the order is read
        back from the last vertex. Every count is exact (int64, checked not to overflow)."""
        edges = self._blocks()
        if self._structure.sparse:
            return None
        vertices, sizes = self.intermediates, self.sizes
        n = len(vertices)
        preds, succs = self._neighbours(edges)
        before = [self._sides(edges, preds, succs, v, i, True) for i, v in enumerate(vertices)]
        after = [self._sides(edges, preds, succs, v, i, False) for i, v in enumerate(vertices)]
        worst = sum(sizes[v] * int(a.max()) * int(b.max()) for v, a, b in zip(vertices, before, after))
        if worst >= 1 << 62:
            return None
        n_sets = 1 << n
        sets = np.arange(n_sets, dtype=np.int64)
        size = np.zeros(n_sets, dtype=np.int8)
        for i in range(n):
            size += ((sets >> i) & 1).astype(np.int8)
        by_size = np.argsort(size, kind="stable")
        starts = np.concatenate(([0], np.cumsum(np.bincount(size, minlength=n + 1))))
        del sets, size
        best = np.zeros(n_sets, dtype=np.int64)
        for k in range(1, n + 1):
            layer = by_size[starts[k] : starts[k + 1]]
            fewest = np.full(len(layer), worst + 1, dtype=np.int64)
            for i, v in enumerate(vertices):
                has = ((layer >> i) & 1).astype(bool)
                rest = layer[has] ^ (1 << i)
                cost = best[rest] + sizes[v] * before[i][rest & ((1 << i) - 1)] * after[i][rest >> (i + 1)]
                fewest[has] = np.minimum(fewest[has], cost)
            best[layer] = fewest
        order, done = [], n_sets - 1
        while done:
            for i, v in enumerate(vertices):
                if done >> i & 1:
                    rest = done ^ (1 << i)
                    step = sizes[v] * int(before[i][rest & ((1 << i) - 1)]) * int(after[i][rest >> (i + 1)])
                    if int(best[rest]) + step == int(best[done]):
                        order.append(v)
                        done = rest
                        break
        return order[::-1], int(best[-1])

    def _sides(
        self, edges: dict[tuple[int, int], _Block], preds: Any, succs: Any, v: int, i: int, backward: bool
    ) -> np.ndarray:
        """A_v (`backward`) or B_v of `_exact` for every set of the intermediates before v
        (bit j of the index: the j-th intermediate) or after it (bit j: the (i+1+j)-th)."""
        position = {x: j for j, x in enumerate(self.intermediates)}
        width = i if backward else len(self.intermediates) - 1 - i
        sets = np.arange(1 << width, dtype=np.int64)
        toward, away = (preds, succs) if backward else (succs, preds)
        found, stack = set(), [v]
        while stack:
            for y in toward.get(stack.pop(), ()):
                if y not in found:
                    found.add(y)
                    stack.append(y)
        everywhere = np.ones(1 << width, dtype=bool)

        def inside(x: int) -> np.ndarray:
            return ((sets >> (position[x] - (0 if backward else i + 1))) & 1).astype(bool)

        # per vertex x reaching v: (reached, every path diagonal) over the sets, nearest to v first
        paths: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        total = np.zeros(1 << width, dtype=np.int64)
        for x in sorted(found, reverse=backward):
            reached = np.zeros(1 << width, dtype=bool)
            diagonal = everywhere.copy()
            for y in away.get(x, ()):
                straight = edges[(x, y) if backward else (y, x)][0] == DIAGONAL
                if y == v:
                    reached[:] = True
                    if not straight:
                        diagonal[:] = False
                elif y in paths:
                    through = inside(y) & paths[y][0]
                    reached |= through
                    if straight:
                        diagonal &= ~through | paths[y][1]
                    else:
                        diagonal &= ~through
            paths[x] = (reached, diagonal)
            present = reached & ~inside(x) if x in position else reached
            total += np.where(present, np.where(diagonal, 1, self.sizes[x]), 0)
        return total

    # -- the proof: A* over sets of eliminated vertices ------------------------------------

    def _graph_at(self, done: set[int]) -> tuple[dict[tuple[int, int], _Block], Any, Any]:
        """The kind graph once the vertices `done` are eliminated (in any order: the graph
        depends on the set only)."""
        edges = self._blocks()
        preds, succs = self._neighbours(edges)
        for v in self.intermediates:
            if v in done:
                self._eliminate_kinds(edges, v, preds, succs)
        return edges, preds, succs

    def _bounds(
        self, edges: dict[tuple[int, int], _Block], preds: Any, succs: Any, done: int, cuts: _Separators
    ) -> tuple[dict[int, int], dict[int, int]]:
        """Lower bounds of what eliminating the vertices left will cost from this graph on,
        whatever the order: per vertex, and per pair of adjacent vertices the gain over the sum
        of their two bounds (a vertex in one pair at most, so the gains add).

        When v goes, its predecessors separate it from the inputs in the graph as it is now
        (a path through vertices eliminated before v is one edge by then), and its successors
        separate it from the outputs; an edge's form only grows (diagonal, sparse pattern,
        dense) and a product of a dense block is dense. Without sparse blocks, a product through
        v costs at least ``n_v · a(u) · b(w)``, a(u) = n_u where the block (u, v) is dense (a
        block between vertices of different sizes is, and so is every future in-block of v when
        all of its in-blocks are dense now), 1 otherwise. So v costs at least n_v times the
        least weight of a vertex separator on each side (`_separator`, a maximum flow). With
        sparse blocks a product can cost less than n_v (a pad, then a slice), and the bound is
        only taken where all of v's blocks are dense; elsewhere, the pairs of an input
        predecessor and an output successor, which stay v's neighbours, at their cost now.

        A pair x → v: if x goes first, v's predecessors must also separate x from the inputs,
        without x; if v goes first, x's successors separate v from the outputs, without v. So
        the two cost at least the smaller of ``bound(x) + bound(v without x)`` and
        ``bound(x without v) + bound(v)``; pairs are taken greedily, largest gain first."""
        sizes, sparse = self.sizes, self._structure.sparse
        inputs, outputs = set(self.inputs), set(self.outputs)
        if min(sizes.values()) < 1:  # an empty array: products cost nothing, and nor may a bound
            return dict.fromkeys((v for v in cuts.vertices if not cuts.bit[v] & done), 0), {}
        bounds: dict[int, int] = {}
        factors: dict[int, tuple[int, Any, Any]] = {}
        for v in cuts.vertices:
            if cuts.bit[v] & done:
                continue
            ps, ss = preds.get(v, set()), succs.get(v, set())
            permanent = sum(self._cost_of(edges, u, v, w) for u in ps & inputs for w in ss & outputs)
            n = sizes[v]
            dense_in = all(edges[(u, v)][1] == MATRIX for u in ps)
            dense_out = all(edges[(v, w)][1] == MATRIX for w in ss)
            if sparse and not (dense_in and dense_out):
                bounds[v] = permanent
                continue
            weigh_in = sizes.__getitem__ if dense_in else (lambda u, n=n: sizes[u] if sizes[u] != n else 1)
            weigh_out = sizes.__getitem__ if dense_out else (lambda w, n=n: sizes[w] if sizes[w] != n else 1)
            a = cuts.cut(v, True, preds, inputs, weigh_in, done, None)
            b = cuts.cut(v, False, succs, outputs, weigh_out, done, None)
            bounds[v] = max(permanent, n * a * b)
            factors[v] = (n, a, b, weigh_in, weigh_out, permanent)
        gains = []
        for x, fx in factors.items():
            for v in succs.get(x, ()):
                fv = factors.get(v)
                if fv is None:
                    continue
                # x first: v's predecessors avoid x; v first: x's successors avoid v
                a = cuts.cut(v, True, preds, inputs, fv[3], done, x)
                b = cuts.cut(x, False, succs, outputs, fx[4], done, v)
                pair = min(bounds[x] + max(fv[5], fv[0] * a * fv[2]), max(fx[5], fx[0] * fx[1] * b) + bounds[v])
                gain = pair - bounds[x] - bounds[v]
                if gain > 0:
                    gains.append((gain, x, v))
        paired: dict[int, int] = {}
        for gain, x, v in sorted(gains, reverse=True):
            if x not in paired and v not in paired:
                paired[x] = paired[v] = gain
        return bounds, paired

    def _prove(self, upper: list[int], upper_cost: int, max_nodes: int) -> tuple[list[int], int] | None:
        """The order of fewest multiplications, proven, or None when `max_nodes` sets were
        estimated first. A* over the sets of eliminated vertices (the graph, hence every later
        cost, depends on the set only, so each set is one state however it was reached, and
        orders differing by two non-adjacent vertices swapped meet in one state), from the
        empty set to all intermediates, each step costing its elimination. What is left is
        estimated by the vertices' bounds and the pairs' gains (`_bounds`), computed when a set
        is expanded; a set reached from a parent is first estimated by the parent's estimate
        less the eliminated vertex's bound and its pair's gain (every other bound still holds).
        Sets whose estimate reaches `upper_cost` (the best named order) are cut: when no set is
        left, that order is optimal. An estimate never exceeds what is left, so the first
        complete set taken is an optimal order."""
        vertices = self.intermediates
        edges0 = self._blocks()
        cuts = _Separators(vertices, *self._neighbours(edges0))
        bit = cuts.bit
        full = (1 << len(vertices)) - 1
        scalar = all(self.sizes[v] == 1 for v in (*self.inputs, *vertices, *self.outputs))
        spent: dict[int, int] = {0: 0}
        came: dict[int, tuple[int, int]] = {}
        estimates: dict[int, tuple[int, dict[int, int], dict[int, int]]] = {}
        heap = [(0, 0, 0, 0)]  # (estimate of the total, -eliminated, spent, set)
        estimated = 0
        graph_of, graph = -1, None
        while heap:
            total, depth, g, done = heapq.heappop(heap)
            if g != spent[done]:
                continue  # reached again for less since
            if done == full:
                order = []
                while done:
                    done, v = came[done]
                    order.append(v)
                return order[::-1], g
            # the graph of this set: the last one's, when this set only adds vertices to it
            if graph_of >= 0 and graph_of & done == graph_of:
                edges, preds, succs = graph
                for v in vertices:
                    if bit[v] & done and not bit[v] & graph_of:
                        self._eliminate_kinds(edges, v, preds, succs)
            else:
                edges, preds, succs = graph = self._graph_at({v for v in vertices if bit[v] & done})
            graph_of = done
            found = estimates.get(done)
            if found is None:
                estimated += 1
                if estimated > max_nodes:
                    return None
                bounds, paired = self._bounds(edges, preds, succs, done, cuts)
                found = estimates[done] = (sum(bounds.values()) + sum(paired.values()) // 2, bounds, paired)
                if g + found[0] > total:  # estimated too low from the parent: queue it again
                    if g + found[0] < upper_cost:
                        heapq.heappush(heap, (g + found[0], depth, g, done))
                    continue
            left, bounds, paired = found
            first = self._first(edges, preds, succs, bounds, scalar)
            for v, bound in bounds.items() if first is None else [(first, bounds[first])]:
                child, cost = done | bit[v], g + self._elimination_cost(edges, v, preds, succs)
                if cost >= spent.get(child, upper_cost):
                    continue
                known = estimates.get(child)
                estimate = cost + (known[0] if known is not None else left - bound - paired.get(v, 0))
                if estimate >= upper_cost:
                    continue
                spent[child] = cost
                came[child] = (done, v)
                heapq.heappush(heap, (estimate, depth - 1, cost, child))
        return upper, upper_cost

    def _first(self, edges: Any, preds: Any, succs: Any, left: Any, scalar: bool) -> int | None:
        """A vertex of `left` that some optimal order from this graph eliminates first, or None.

        - One whose predecessors are all inputs and successors all outputs: its neighbours and
          blocks never change, and eliminating it only adds input-to-output edges, which no
          product reads.
        - In a graph of scalars (every product one multiplication, v costing |P(v)|·|S(v)|),
          one with a single predecessor u and a single successor w and an edge u → w already:
          eliminating it costs 1, at most what it costs later, and changes no other vertex's
          neighbours but to drop v. Whenever v is a predecessor of some x later, v's own
          predecessors are x's already (a path into v continues along u → w), and the same for
          successors: so every other vertex costs no more at any later point with v gone."""
        inputs, outputs = self._structure.inputs, self.outputs
        for v in left:
            ps, ss = preds.get(v, ()), succs.get(v, ())
            if all(u in inputs for u in ps) and all(w in outputs for w in ss):
                return v
            if scalar and len(ps) == 1 and len(ss) == 1 and (next(iter(ps)), next(iter(ss))) in edges:
                return v
        return None

    def _try_orders(self, best_order: list[int], best_cost: int, max_nodes: int) -> tuple[list[int], int]:
        """The best order found by trying at most `max_nodes` eliminations depth first, the
        cheapest elimination first, from `best_order` (none proven: a graph too large to
        prove, or one whose proof ran out of nodes)."""
        nodes = 0
        edges = self._blocks()
        preds, succs = self._neighbours(edges)
        costs = {v: self._elimination_cost(edges, v, preds, succs) for v in self.intermediates}
        seen: dict[frozenset[int], int] = {}

        def refresh(touched: set[int]) -> None:
            for x in touched:
                if x in costs:
                    costs[x] = self._elimination_cost(edges, x, preds, succs)

        def visit(done: frozenset[int], sequence: list[int], spent: int) -> bool:
            nonlocal best_order, best_cost, nodes
            if len(sequence) == len(self.intermediates):
                if spent < best_cost:
                    best_order, best_cost = list(sequence), spent
                return True
            seen[done] = spent
            for v in sorted(costs, key=costs.__getitem__):
                if spent + costs[v] >= best_cost:
                    break  # sorted: every later vertex costs as much
                after = done | {v}
                if seen.get(after, best_cost) <= spent + costs[v]:
                    continue  # reached before at no more
                nodes += 1
                if nodes > max_nodes:
                    return False
                touched = preds.get(v, set()) | succs.get(v, set())
                log: list[tuple[Any, ...]] = []
                cost = self._eliminate_kinds(edges, v, preds, succs, log)
                own = costs.pop(v)
                refresh(touched)
                going = visit(after, [*sequence, v], spent + cost)
                self._undo(edges, preds, succs, log)
                costs[v] = own
                refresh(touched)
                if not going:
                    return False
            return True

        visit(frozenset(), [], 0)
        return best_order, best_cost

    # -- values --------------------------------------------------------------------------------

    def jacobian(self, order: str | Sequence[int] = "markowitz") -> dict[tuple[int, int], np.ndarray]:
        """``{(input, output): ∂output/∂input}`` as (output scalars, input scalars) matrices,
        by eliminating the intermediates in `order`; pairs without a path are left out."""
        structure = self._structure
        sequence = tuple(self.order(order))
        plan = structure.plans.get(sequence)
        if plan is None:
            plan = structure.plans[sequence] = _Plan(structure, sequence)
        blocks, undefined = plan.run(structure.evaluation.values(self.program, self.tape))
        if undefined:
            blocks.update(self._reverse_rows(undefined, blocks))
        return blocks

    def _reverse_rows(self, outputs: set[int], blocks: dict[tuple[int, int], np.ndarray]) -> dict[tuple[int, int], Any]:
        """The blocks of `outputs` again, by back-substitution. A product of blocks meets
        ``0 × ∞`` where back-substitution does not (``where(x > 0, sqrt(x), 0)`` at 0: a zero
        partial times an infinite one); back-substitution's zero means zero gives the value
        reverse mode gives, where elimination would leave NaN."""
        program, structure = self.program, self._structure
        out = {}
        for w in outputs:
            o = structure.copies.get(w, w)
            n = structure.sizes[w]
            seed = np.eye(n, dtype=program.dtype(o)).reshape((n, *program.shape(o)))
            lam = back_substitution(program, self.tape, {o: seed}, batched=True)
            for u in self.inputs:
                if (u, w) in blocks:
                    block = lam[u]
                    out[(u, w)] = (np.zeros_like(blocks[(u, w)]) if block is None
                                   else np.reshape(block, (n, -1)).astype(blocks[(u, w)].dtype))  # fmt: skip
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


class _Separators:
    """The separators the search's bounds ask for, each computed once per part of the graph it
    depends on: v's separator from the inputs depends only on the graph of v's ancestors
    (eliminating any other vertex adds no edge between two of them), so only on which of its
    ancestors are eliminated, and the same for its descendants."""

    def __init__(self, vertices: list[int], preds: dict[int, set[int]], succs: dict[int, set[int]]) -> None:
        self.vertices = vertices
        self.bit = {v: 1 << i for i, v in enumerate(vertices)}
        self.ancestors: dict[int, int] = {}
        for v in vertices:  # in program order
            mask = 0
            for u in preds.get(v, ()):
                mask |= self.bit.get(u, 0) | self.ancestors.get(u, 0)
            self.ancestors[v] = mask
        self.descendants: dict[int, int] = {}
        for v in reversed(vertices):
            mask = 0
            for w in succs.get(v, ()):
                mask |= self.bit.get(w, 0) | self.descendants.get(w, 0)
            self.descendants[v] = mask
        self.found: dict[tuple[Any, ...], int] = {}

    def cut(
        self,
        v: int,
        backward: bool,
        toward: Any,
        ends: set[int],
        weight: Callable[[int], int],
        done: int,
        barred: int | None,
    ) -> int:
        """`_separator` of v toward the inputs (`backward`) or the outputs, `done` eliminated."""
        part = done & (self.ancestors[v] if backward else self.descendants[v])
        key = (v, backward, barred, part)
        found = self.found.get(key)
        if found is None:
            found = self.found[key] = _separator(v, toward, ends, weight, barred)
        return found


def _separator(
    v: int, toward: dict[int, set[int]], ends: set[int], weight: Callable[[int], int], barred: int | None = None
) -> int:
    """The least total `weight` of a set of vertices (neither v nor `barred` among them) that
    every path from v along `toward` (predecessors or successors) to a vertex of `ends` meets:
    the maximum flow through vertices of capacity `weight` (Menger), by shortest augmenting paths."""
    near = toward.get(v, ())
    if all(y in ends for y in near):  # every neighbour is an end: each is a path of its own
        return sum(weight(y) for y in near)
    if len(near) == 1 and barred not in near and weight(next(iter(near))) <= 1:
        return 1  # one vertex of weight 1, and weights are at least 1 (`_bounds`)
    reach, stack = {v}, [v]
    while stack:
        for y in toward.get(stack.pop(), ()):
            if y not in reach:
                reach.add(y)
                stack.append(y)
    # a vertex x as two nodes, (x, 0) -> (x, 1) of capacity weight(x); other arcs unbounded
    source, sink, unbounded = (v, 1), None, math.inf
    residual: dict[Any, dict[Any, float]] = {}

    def arc(a: Any, b: Any, capacity: float) -> None:
        residual.setdefault(a, {})[b] = capacity
        residual.setdefault(b, {}).setdefault(a, 0)

    for x in reach:
        if x != v:
            arc((x, 0), (x, 1), unbounded if x == barred else weight(x))
            if x in ends:
                arc((x, 1), sink, unbounded)
        for y in toward.get(x, ()):
            arc((x, 1), (y, 0), unbounded)
    flow = 0
    while True:
        came = {source: None}
        queue = [source]
        for a in queue:
            for b, c in residual[a].items():
                if c > 0 and b not in came:
                    came[b] = a
                    queue.append(b)
            if sink in came:
                break
        if sink not in came:
            return int(flow)
        path, b = [], sink
        while came[b] is not None:
            path.append((came[b], b))
            b = came[b]
        push = min(residual[a][b] for a, b in path)
        for a, b in path:
            residual[a][b] -= push
            residual[b][a] += push
        flow += push


# ----- the edges' values at one run ---------------------------------------------------------

#: How an edge's value is held: a number, a 1-d diagonal, a dense matrix (MATRIX) or a
#: scipy.sparse matrix (a slice, reshape, concatenation…: a 0/1 copy, known from the structure).
SCALAR, VECTOR, SPARSE = "scalar", "vector", "sparse"
#: Structured operators, held by index (`_Gather`, `_Scatter`): a block with one entry in each
#: row (a roll, transpose, reshape, slice, broadcast: its entries ones, GATHER1) or in each
#: column (a sum along axes, a pad, a piece of a concatenation: SCATTER1), and the same scaled
#: by a product with a diagonal (GATHER, SCATTER: entries of their own).
GATHER, GATHER1, SCATTER, SCATTER1 = "gather", "gather1", "scatter", "scatter1"
UNIT = {GATHER: GATHER1, SCATTER: SCATTER1}
UNITS = frozenset(UNIT.values())
WEIGHTED = frozenset(UNIT)
#: The forms the cost model keeps a nonzero pattern of.
PATTERNED = frozenset({SPARSE, GATHER, GATHER1, SCATTER, SCATTER1})


def _plain_form(form: str) -> str:
    """The form as the product table `_STRUCTURED` reads it: a number as a diagonal, a unit
    gather or scatter as one with entries."""
    return VECTOR if form == SCALAR else GATHER if form == GATHER1 else SCATTER if form == SCATTER1 else form


class _Gather:
    """A block with one entry in each row, ``M[i, index[i]] = entries[i]`` (ones where
    `entries` is None), of n columns: the product with it is an index, no multiplication
    where its entries are ones."""

    __slots__ = ("entries", "index", "n")

    def __init__(self, index: np.ndarray, entries: np.ndarray | None, n: int) -> None:
        self.index, self.entries, self.n = index, entries, n

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.index), self.n)

    def weights(self) -> np.ndarray:
        return np.ones(len(self.index)) if self.entries is None else self.entries

    def tocsr(self) -> scipy.sparse.csr_matrix:
        m = len(self.index)
        return scipy.sparse.csr_matrix((self.weights(), self.index, np.arange(m + 1)), shape=self.shape)

    def toarray(self) -> np.ndarray:
        weights = self.weights()
        out = np.zeros(self.shape, dtype=weights.dtype)
        out[np.arange(len(self.index)), self.index] = weights
        return out


class _Scatter:
    """A block with one entry in each column, ``M[index[j], j] = entries[j]`` (ones where
    `entries` is None), of m rows: a sum along axes, a pad, a piece of a concatenation."""

    __slots__ = ("entries", "index", "m")

    def __init__(self, index: np.ndarray, entries: np.ndarray | None, m: int) -> None:
        self.index, self.entries, self.m = index, entries, m

    @property
    def shape(self) -> tuple[int, int]:
        return (self.m, len(self.index))

    def weights(self) -> np.ndarray:
        return np.ones(len(self.index)) if self.entries is None else self.entries

    def unit(self) -> scipy.sparse.csr_matrix:
        return _rows_csr(self.index, np.arange(len(self.index)), np.ones(len(self.index)), self.shape)

    def tocsr(self) -> scipy.sparse.csr_matrix:
        return _rows_csr(self.index, np.arange(len(self.index)), self.weights(), self.shape)

    def toarray(self) -> np.ndarray:
        weights = self.weights()
        out = np.zeros(self.shape, dtype=weights.dtype)
        out[self.index, np.arange(len(self.index))] = weights
        return out


def _rows_csr(rows: np.ndarray, cols: np.ndarray, weights: np.ndarray, shape: tuple[int, int]) -> Any:
    """The CSR matrix of entries (rows[l], cols[l]) = weights[l], made in one step (entries at
    one place added)."""
    order = np.argsort(rows, kind="stable")
    indptr = np.zeros(shape[0] + 1, dtype=np.intp)
    np.cumsum(np.bincount(rows, minlength=shape[0]), out=indptr[1:])
    m = scipy.sparse.csr_matrix((weights[order], cols[order], indptr), shape=shape)
    m.sum_duplicates()
    return m


def _structured_block(copies: Any) -> Any:
    """A 0/1 copy block (scipy.sparse) as a `_Gather` where each row has one entry, a
    `_Scatter` where each column has, else as it is."""
    m = scipy.sparse.csr_matrix(copies)
    m.sum_duplicates()
    if m.nnz and not np.all(m.data == 1):
        return m
    if np.all(np.diff(m.indptr) == 1):
        return _Gather(m.indices.astype(np.intp), None, m.shape[1])
    c = m.tocsc()
    if np.all(np.diff(c.indptr) == 1):
        return _Scatter(c.indices.astype(np.intp), None, m.shape[0])
    return m


def _scaled(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    return b if a is None else a if b is None else a * b


def _diagonal_entries(d: Any, m: int) -> np.ndarray:
    """A diagonal's entries (a number: its one entry) as m entries."""
    return np.broadcast_to(np.asarray(d).reshape(-1), (m,))


def _gather_diagonal(o: _Gather, d: Any) -> _Gather:
    return _Gather(o.index, _scaled(o.entries, np.asarray(d).reshape(-1)[o.index]), o.n)


def _gather_gather(o: _Gather, i: _Gather) -> _Gather:
    return _Gather(i.index[o.index], _scaled(o.entries, None if i.entries is None else i.entries[o.index]), i.n)


def _gather_matrix(o: _Gather, matrix: Any) -> Any:
    rows = matrix[o.index]  # a row per entry: no multiplication where the entries are ones
    return rows if o.entries is None else o.entries[:, None] * rows


def _diagonal_gather(d: Any, i: _Gather) -> _Gather:
    return _Gather(i.index, _scaled(_diagonal_entries(d, len(i.index)), i.entries), i.n)


def _matrix_gather(matrix: Any, i: _Gather) -> Any:
    scaled = matrix if i.entries is None else matrix * i.entries
    if np.bincount(i.index, minlength=i.n).max(initial=0) <= 1:  # each column from one column at most
        out = np.zeros((matrix.shape[0], i.n), dtype=scaled.dtype)
        out[:, i.index] = scaled
        return out
    k = len(i.index)
    unit = scipy.sparse.csr_matrix((np.ones(k), i.index, np.arange(k + 1)), shape=i.shape)
    return np.asarray((unit.T @ scaled.T).T)  # columns added up: additions only


def _scatter_diagonal(o: _Scatter, d: Any) -> _Scatter:
    return _Scatter(o.index, _scaled(o.entries, _diagonal_entries(d, len(o.index))), o.m)


def _scatter_scatter(o: _Scatter, i: _Scatter) -> _Scatter:
    return _Scatter(o.index[i.index], _scaled(None if o.entries is None else o.entries[i.index], i.entries), o.m)


def _scatter_matrix(o: _Scatter, matrix: Any) -> Any:
    scaled = matrix if o.entries is None else o.entries[:, None] * matrix
    if o.m == 1:  # a sum of every row
        return scaled.sum(axis=0, keepdims=True)
    return np.asarray(o.unit() @ scaled)  # rows added up by group: additions only


def _diagonal_scatter(d: Any, i: _Scatter) -> _Scatter:
    return _Scatter(i.index, _scaled(np.asarray(d).reshape(-1)[i.index], i.entries), i.m)


def _matrix_scatter(matrix: Any, i: _Scatter) -> Any:
    columns = matrix[:, i.index]
    return columns if i.entries is None else columns * i.entries


def _scatter_gather(o: _Scatter, i: _Gather) -> Any:
    # entry l of both meets at (o.index[l], i.index[l]); entries at one place are added
    weights = _scaled(o.entries, i.entries)
    return _rows_csr(o.index, i.index, np.ones(len(i.index)) if weights is None else weights, (o.m, i.n))


#: (outer form, inner form) -> (the product's form, its multiplications (outer weighted,
#: inner weighted, m, k, n) for an m×k outer block times a k×n inner one, the product as
#: `_Plan.run` makes it); forms as `_plain_form` gives them. A weighted factor multiplies
#: its entries, a unit one (copies, sums) only indexes or adds.
_STRUCTURED: dict[tuple[str, str], tuple[str, Callable[..., int], Callable[..., Any]]] = {
    (GATHER, VECTOR): (GATHER, lambda wo, wi, m, k, n: m if wo else 0, _gather_diagonal),
    (GATHER, GATHER): (GATHER, lambda wo, wi, m, k, n: m if wo and wi else 0, _gather_gather),
    (GATHER, MATRIX): (MATRIX, lambda wo, wi, m, k, n: m * n if wo else 0, _gather_matrix),
    (VECTOR, GATHER): (GATHER, lambda wo, wi, m, k, n: m if wi else 0, _diagonal_gather),
    (MATRIX, GATHER): (MATRIX, lambda wo, wi, m, k, n: m * k if wi else 0, _matrix_gather),
    (SCATTER, VECTOR): (SCATTER, lambda wo, wi, m, k, n: n if wo else 0, _scatter_diagonal),
    (SCATTER, SCATTER): (SCATTER, lambda wo, wi, m, k, n: n if wo and wi else 0, _scatter_scatter),
    (SCATTER, MATRIX): (MATRIX, lambda wo, wi, m, k, n: k * n if wo else 0, _scatter_matrix),
    (VECTOR, SCATTER): (SCATTER, lambda wo, wi, m, k, n: n if wi else 0, _diagonal_scatter),
    (MATRIX, SCATTER): (MATRIX, lambda wo, wi, m, k, n: m * n if wi else 0, _matrix_scatter),
    (SCATTER, GATHER): (SPARSE, lambda wo, wi, m, k, n: k if wo and wi else 0, _scatter_gather),
}


def _form(structure: _Structure, edge: tuple[int, int], kind: str) -> str:
    if structure.sizes[edge[0]] == structure.sizes[edge[1]] == 1:
        return SCALAR
    return VECTOR if kind == DIAGONAL else MATRIX


#: Groups of at most this many scalars keep their seed of ones between runs.
_KEPT_ONES = 1 << 16


class _Evaluation:
    """How the values of a structure's edges are computed at one run.

    An edge of an elementwise primitive whose values all have the result's shape (or one
    scalar each) is a diagonal; the partials of every such edge of one primitive, argument
    position and parameters are computed together, by one call of the operator on the runs'
    values stacked along a new leading axis (a program of scalars has a few dozen such
    groups for hundreds of edges). Any other edge goes through the operator layer alone:
    `apply_block` for a diagonal, one batched sweep over the identity of its smaller side for
    a matrix. A data-moving primitive's block (an exact 0/1 copy) is a sparse matrix known
    from the structure, made once."""

    def __init__(self, structure: _Structure, program: Program) -> None:
        self.edges = list(structure.edges)
        self.forms = [_form(structure, e, structure.edges[e]) for e in self.edges]
        slot = {e: j for j, e in enumerate(self.edges)}
        groups: dict[Any, list[tuple[int, int]]] = {}
        self.alone: list[int] = []  # edge slots evaluated one by one
        self.copies: list[int] = []  # edges into an output's copy vertex: ones
        self.fixed: dict[int, Any] = {}  # slot -> a value known from the structure alone (SPARSE)
        #: slot -> (equation, constant's position, transposed): an operator block, a product with
        #: a constant matrix whose block is that matrix, read from the run's program, never built
        self.operators: dict[int, tuple[int, int, bool]] = {}
        for e, j in slot.items():
            if e[1] in structure.copies:
                self.copies.append(j)
                continue
            k, positions = structure.blocks[e]
            eq = program.equations[k]
            operator_of = _constant_matrix(program, eq, positions) if self.forms[j] == MATRIX else None
            if operator_of is not None:
                self.operators[j] = (k, *operator_of)
                continue
            if self.forms[j] == MATRIX and eq.primitive.name in MOVES and not is_parts_shape(eq.shape):
                copies = _moves(eq, program)  # exact 0/1 copies, or None
                if copies is not None and all(p in copies for p in positions):
                    block = functools.reduce(lambda a, b: a + b, (copies[p] for p in positions)).tocsr()
                    self.fixed[j] = block = _structured_block(block)
                    self.forms[j] = (
                        GATHER1 if isinstance(block, _Gather) else SCATTER1 if isinstance(block, _Scatter) else SPARSE
                    )
                    continue
            if (
                self.forms[j] == MATRIX
                and eq.primitive.name == "sum"
                and positions == [0]
                and set(eq.params)
                <= {
                    "axis",
                    "keepdims",
                }
            ):
                reduction = _reduction(eq, tuple(program.shape(e[0])))  # a 0/1 block, one entry per column
                block = None if reduction is None else _structured_block(reduction)
                if isinstance(block, _Scatter):
                    self.fixed[j] = block
                    self.forms[j] = SCATTER1
                    continue
            keys = [_group_key(program, eq, pos) for pos in positions] if structure.edges[e] == DIAGONAL else [None]
            if any(key is None for key in keys):
                self.alone.append(j)
                continue
            for key in keys:
                groups.setdefault(key, []).append((j, k))
        #: (operator, equation of the group's first member, slots' stacked shapes, members)
        self.groups = []
        for key, members in groups.items():
            prim, pos, _, kept, shapes = key
            eq = program.equations[members[0][1]]
            m = len(members)
            if m == 1:  # the run's values as they are
                stacked = list(shapes)
            else:  # along a new leading axis; a scalar beside arrays as (m, 1, …) to broadcast
                stacked = [(m, *s) if s == tuple(eq.shape) else (m,) + (1,) * len(eq.shape) for s in shapes]
            slots = []
            for s, (how, shape) in enumerate(zip(kept, stacked)):
                constant = s > 0 and eq.args[s - 1] < 0
                if how == UNREAD and not constant:
                    slots.append(None)
                elif how == META and not constant:
                    slots.append(Aval(shape, eq.dtype if s == 0 else program.dtype(eq.args[s - 1])))
                else:
                    slots.append(shape)
            ones = np.ones(stacked[0], dtype=eq.dtype) if math.prod(stacked[0]) <= _KEPT_ONES else None
            if ones is not None:
                ones.flags.writeable = False  # shared by every run: a rule may return it as it is
            # the operator is looked up at each run: a rule declared again replaces it
            self.groups.append((prim, pos, eq.params, eq.dtype, slots, stacked, ones, members))
        self.sizes = structure.sizes
        self.structure = structure

    def values(self, program: Program, tape: Tape) -> list[Any]:
        """Every edge's value at the run `tape`, by slot: a number, a diagonal's entries or a matrix."""
        out: list[Any] = [None] * len(self.edges)
        n_in = program.n_inputs
        runs = tape.values
        forms = self.forms
        with np.errstate(all="ignore"):  # a partial may be infinite or undefined; the Jacobian shows it
            for prim, pos, params, dtype, slots, stacked, ones, members in self.groups:
                op = prim.operators.get(pos) or operator(prim, pos)
                if ones is None:  # a large group: made at each run rather than kept
                    ones = np.ones(stacked[0], dtype=dtype)
                if len(members) == 1:
                    values = runs[members[0][1]]
                else:
                    rows = [runs[k] for _, k in members]
                    values = [
                        shape if shape is None or type(shape) is Aval else np.array([r[s] for r in rows]).reshape(shape)
                        for s, shape in enumerate(slots)
                    ]
                if op.vjp is not None:
                    d = op.transpose(ones, values, params, stacked[pos + 1], dtype)
                else:
                    d = op.apply(ones, values, params, stacked[0], dtype)
                d = _plain(d)
                if d.shape != ones.shape:
                    d = np.broadcast_to(d, ones.shape)
                d = d.reshape(len(members), -1)
                entries = d[:, 0].tolist() if forms[members[0][0]] == SCALAR else list(d)
                for (j, _), entry in zip(members, entries):
                    out[j] = entry if out[j] is None else out[j] + entry
        for j, value in self.fixed.items():
            out[j] = value  # shared between runs: products never change a value in place
        for j, (k, p, transposed) in self.operators.items():
            eq = program.equations[k]
            matrix = np.asarray(eq.constants[p], dtype=eq.dtype)
            matrix = matrix[None, :] if matrix.ndim == 1 else matrix.T if transposed else matrix
            if matrix.flags.writeable:  # the caller's array: read, never written (see `_Plan.run`)
                matrix = matrix.view()
                matrix.flags.writeable = False
            out[j] = matrix
        for j in self.copies:
            w = self.edges[j][1]
            out[j] = 1.0 if self.forms[j] == SCALAR else np.ones(self.sizes[w])
        for j in self.alone:
            out[j] = self._alone(program, tape, self.edges[j], j, n_in)
        return out

    def _alone(self, program: Program, tape: Tape, edge: tuple[int, int], j: int, n_in: int) -> Any:
        u, w = edge
        k, positions = self.structure.blocks[edge]
        eq = program.equations[k]
        values = tape.values[k]
        form = self.forms[j]
        if form == MATRIX:  # one batched sweep over the identity of the smaller side
            n_u, n_w = self.sizes[u], self.sizes[w]
            if n_w <= n_u:
                seed = np.eye(n_w, dtype=eq.dtype).reshape((n_w, *eq.shape))
                rows = None
                for pos in positions:
                    ct = apply_transpose_batched(eq, pos, values, seed, program.shape(u))
                    rows = ct if rows is None else rows + ct
                return np.reshape(_plain(rows), (n_w, n_u))
            seed = np.eye(n_u, dtype=program.dtype(u)).reshape((n_u, *program.shape(u)))
            columns = apply_block_batched(eq, values, [seed if p in positions else None for p in range(len(eq.args))])
            return np.reshape(_plain(columns), (n_u, n_w)).T
        ones = np.ones(program.shape(u))
        d = apply_block(eq, values, [ones if p in positions else None for p in range(len(eq.args))])
        d = np.zeros(self.sizes[w]) if d is None else np.ravel(_plain(d))
        return d[0] if form == SCALAR else d


def _constant_matrix(program: Program, eq: Any, positions: list[int]) -> tuple[int, bool] | None:
    """(the constant's position, whether its matrix is transposed) where the block is the
    matrix of a real constant: ``A @ x`` (the block A), ``x @ B`` (Bᵀ) or ``c @ x`` (the row
    c), x a traced vector; None for any other block."""
    if eq.primitive.name != "matmul" or len(eq.args) != 2 or len(positions) != 1:
        return None
    traced = positions[0]
    other = 1 - traced
    constant = eq.constants[other] if eq.args[other] < 0 else None
    if constant is None or len(program.shape(eq.args[traced])) != 1:
        return None
    dtype = np.asarray(constant).dtype
    if dtype.kind not in "fiub" or np.ndim(constant) not in (1, 2):
        return None
    return other, traced == 0 and np.ndim(constant) == 2


def _group_key(program: Program, eq: Any, pos: int) -> Any:
    """The key of the group whose partials are computed together with this one, or None
    where this partial is computed alone."""
    prim = eq.primitive
    if not prim.elementwise or ("jvp", "joint") in prim.rules or is_parts_shape(eq.shape):
        return None
    shape = tuple(eq.shape)
    shapes = [shape]
    for p, a in enumerate(eq.args):
        s = tuple(program.shape(a)) if a >= 0 else tuple(np.shape(eq.constants[p]))
        if s != shape and math.prod(s) != 1:
            return None
        shapes.append(s)
    if tuple(shapes[pos + 1]) != shape and math.prod(shape) != 1:
        return None
    try:
        params = tuple(eq.params.items())
        hash(params)
    except TypeError:
        return None
    return (prim, pos, params, eq.kept, tuple(shapes))


# ----- the elimination as a plan of block products ------------------------------------------


def _times(outer: Any, inner: Any) -> Any:
    return outer * inner


def _diagonal_times_matrix(outer: Any, inner: Any) -> Any:
    return outer[:, None] * inner


def _matmul(outer: Any, inner: Any) -> Any:
    return outer @ inner


def _matmul_scalar(outer: Any, inner: Any) -> Any:
    return (outer @ inner)[0, 0]


def _plus(a: Any, b: Any) -> Any:
    return a + b


def _matrix_plus_diagonal(matrix: Any, diagonal: Any) -> Any:
    out = matrix.copy()
    out[np.diag_indices(len(diagonal))] += diagonal
    return out


def _diagonal_plus_matrix(diagonal: Any, matrix: Any) -> Any:
    return _matrix_plus_diagonal(matrix, diagonal)


class _Plan:
    """One order's elimination as a list of block products ``E(u,w) (+)= E(v,w) E(u,v)`` on
    slots, each with the product (and sum) for its blocks' forms, decided once; a run fills
    the slots with one run's edge values and replays the list."""

    def __init__(self, structure: _Structure, order: tuple[int, ...]) -> None:
        evaluation = structure.evaluation
        slot = {e: j for j, e in enumerate(evaluation.edges)}
        forms = list(evaluation.forms)
        kinds = dict(structure.edges)
        preds: dict[int, set[int]] = {}
        succs: dict[int, set[int]] = {}
        for u, w in kinds:
            succs.setdefault(u, set()).add(w)
            preds.setdefault(w, set()).add(u)
        steps: list[tuple[int, int, int, Callable[..., Any], Callable[..., Any] | None]] = []
        for v in order:
            for u in sorted(preds.get(v, ())):
                for w in sorted(succs.get(v, ())):
                    inner, outer = slot[(u, v)], slot[(v, w)]
                    kind, product_form = _product_kind(
                        structure, (u, w), (kinds[(v, w)], forms[outer]), (kinds[(u, v)], forms[inner])
                    )
                    multiply = _multiplication(forms[outer], forms[inner], product_form)
                    if (u, w) in slot:
                        target = slot[(u, w)]
                        kinds[(u, w)] = DIAGONAL if kinds[(u, w)] == kind == DIAGONAL else MATRIX
                        total = _sum_form(forms[target], product_form)
                        add = _addition(forms[target], product_form, total)
                        forms[target] = total
                    else:
                        target = slot[(u, w)] = len(forms)
                        forms.append(product_form)
                        kinds[(u, w)] = kind
                        add = None
                        succs[u].add(w)
                        preds[w].add(u)
                    steps.append((target, outer, inner, multiply, add))
            for u in preds.pop(v, ()):
                succs[u].discard(v)
            for w in succs.pop(v, ()):
                preds[w].discard(v)
        self.steps = steps
        self.n_slots = len(forms)
        self.results = [
            (u, w, slot[(u, w)], forms[slot[(u, w)]], np.result_type(structure.dtypes[u], structure.dtypes[w]))
            for u in structure.inputs
            for w in structure.outputs
            if (u, w) in slot and w in succs.get(u, ())
        ]

    def run(self, values: list[Any]) -> tuple[dict[tuple[int, int], np.ndarray], set[int]]:
        """The Jacobian blocks from one run's edge values, and the outputs whose blocks hold NaN."""
        slots = values + [None] * (self.n_slots - len(values))
        with np.errstate(invalid="ignore"):
            for target, outer, inner, multiply, add in self.steps:
                # numbers and diagonals (most steps) without a call
                product = slots[outer] * slots[inner] if multiply is _times else multiply(slots[outer], slots[inner])
                if add is None:
                    slots[target] = product
                elif add is _plus:
                    slots[target] = slots[target] + product
                else:
                    slots[target] = add(slots[target], product)
        out = {}
        undefined = set()  # outputs with a NaN entry in some block
        for u, w, j, form, dtype in self.results:
            value = slots[j]
            if form == SCALAR:
                if value != value:
                    undefined.add(w)
                out[(u, w)] = np.full((1, 1), value, dtype=dtype)
            else:
                block = np.asarray(_as_form(value, MATRIX), dtype=dtype)
                if not block.flags.writeable:  # an operator block as it is: the caller's constant
                    block = block.copy()
                out[(u, w)] = block
                if np.isnan(block).any():
                    undefined.add(w)
        return out, undefined


def _sum_form(a: str, b: str) -> str:
    if a == b and a not in UNIT and a not in UNITS:  # two gathers (scatters) of other indices are not one
        return a
    if SCALAR in (a, b):
        return SCALAR
    if MATRIX in (a, b):
        return MATRIX
    return SPARSE  # a sparse matrix and a diagonal


def _as_form(x: Any, form: str) -> Any:
    """`x` (a number, 1-d diagonal, dense, sparse or structured matrix) held as `form`."""
    sparse = scipy.sparse.issparse(x) or isinstance(x, (_Gather, _Scatter))
    if form == SCALAR:
        return x.toarray()[0, 0] if sparse else (x[0, 0] if getattr(x, "ndim", 0) == 2 else x)
    if form == MATRIX:
        if sparse:
            return x.toarray()
        return np.diag(x) if getattr(x, "ndim", 0) == 1 else x
    if form == SPARSE:
        if sparse:
            return x.tocsr()
        x = np.asarray(x, np.result_type(x, np.float32))  # scipy.sparse holds no float16
        return scipy.sparse.diags(x, format="csr") if x.ndim == 1 else scipy.sparse.csr_matrix(x)
    return x


def _any_product(outer: Any, inner: Any) -> Any:
    """``outer @ inner`` for any forms (numbers, 1-d diagonals, dense or sparse matrices)."""
    if getattr(outer, "ndim", 0) == 0 or getattr(inner, "ndim", 0) == 0:
        return outer * inner
    if outer.ndim == 1:  # a diagonal scales the rows
        return inner.multiply(outer[:, None]).tocsr() if scipy.sparse.issparse(inner) else outer[:, None] * inner
    if inner.ndim == 1:  # … or the columns
        return outer.multiply(inner[None, :]).tocsr() if scipy.sparse.issparse(outer) else outer * inner
    if scipy.sparse.issparse(inner) and not scipy.sparse.issparse(outer):
        return np.asarray((inner.T @ outer.T).T)
    return outer @ inner


def _as_sparse(x: Any) -> Any:
    return x.tocsr() if isinstance(x, (_Gather, _Scatter)) else x


def _sparse_multiplication(form: str) -> Callable[..., Any]:
    return lambda outer, inner: _as_form(_any_product(_as_sparse(outer), _as_sparse(inner)), form)


def _sparse_addition(form: str) -> Callable[..., Any]:
    if form != SPARSE:
        return lambda a, b: _as_form(a, form) + _as_form(b, form)

    def add(a: Any, b: Any) -> Any:
        # two gathers (scatters) of one index at this run (a sum's row met by two diagonals) add
        # their entries and stay one, which every reader of a sparse slot takes as it takes CSR
        same = type(a) is type(b) and type(a) in (_Gather, _Scatter) and a.shape == b.shape
        if same and np.array_equal(a.index, b.index):
            return type(a)(a.index, a.weights() + b.weights(), a.n if type(a) is _Gather else a.m)
        return _as_form(a, form) + _as_form(b, form)

    return add


def _multiplication(outer: str, inner: str, product: str) -> Callable[..., Any]:
    structured = _STRUCTURED.get((_plain_form(outer), _plain_form(inner)))
    if structured is not None:
        multiply = structured[2]
        return multiply if product != SCALAR else lambda o, i: _as_form(multiply(o, i), SCALAR)
    if PATTERNED & {outer, inner}:
        return _sparse_multiplication(product)
    if outer == SCALAR or inner == SCALAR or (outer == inner == VECTOR):
        return _times  # a number scales; diagonals multiply entry by entry
    if outer == VECTOR:
        return _diagonal_times_matrix
    if inner == VECTOR:
        return _times  # a matrix times a diagonal: its columns scaled
    return _matmul_scalar if product == SCALAR else _matmul


def _addition(target: str, product: str, total: str) -> Callable[..., Any]:
    if PATTERNED & {target, product}:
        return _sparse_addition(total)
    if target == product or SCALAR in (target, product):
        return _plus
    return _matrix_plus_diagonal if target == MATRIX else _diagonal_plus_matrix
