"""Colourings of a sparsity pattern, for compressed Jacobians and Hessians.

A colouring groups the columns (or rows) of a pattern so that one right-hand side per group
recovers every nonzero: `columns` is a greedy distance-2 colouring of the column
intersection graph (no two columns of one colour share a row), `rows` the same on the
transpose, and `star` a symmetric colouring of a Hessian's adjacency graph (every path on
four vertices uses three colours) whose products are decompressed with symmetry.
Vertices are visited largest-first or smallest-last, the two classic greedy orders.
"""

from __future__ import annotations

import heapq

import numpy as np
import scipy.sparse

#: The vertex orders a greedy colouring can visit.
ORDERS = ("largest_first", "smallest_last", "natural")


def _csr(pattern: scipy.sparse.spmatrix) -> scipy.sparse.csr_matrix:
    pattern = scipy.sparse.csr_matrix(pattern, dtype=np.float64)
    pattern.data[:] = 1.0
    pattern.eliminate_zeros()
    return pattern


def _adjacency(graph: scipy.sparse.csr_matrix) -> list[np.ndarray]:
    """Each vertex's neighbours, itself left out."""
    graph = graph.tocoo()
    off = graph.row != graph.col
    graph = scipy.sparse.csr_matrix((graph.data[off], (graph.row[off], graph.col[off])), shape=graph.shape)
    return [graph.indices[graph.indptr[v] : graph.indptr[v + 1]] for v in range(graph.shape[0])]


def vertex_order(neighbours: list[np.ndarray], order: str) -> list[int]:
    """The vertices in the order a greedy colouring visits them."""
    n = len(neighbours)
    degree = np.fromiter((len(a) for a in neighbours), dtype=np.int64, count=n)
    if order == "natural":
        return list(range(n))
    if order == "largest_first":
        return list(np.argsort(-degree, kind="stable"))
    if order == "smallest_last":
        # remove a vertex of least degree (in what remains) until none is left; colour in reverse
        current = degree.copy()
        heap = [(int(d), v) for v, d in enumerate(current)]
        heapq.heapify(heap)
        removed = np.zeros(n, dtype=bool)
        sequence = []
        while heap:
            d, v = heapq.heappop(heap)
            if removed[v] or d != current[v]:
                continue
            removed[v] = True
            sequence.append(v)
            for w in neighbours[v]:
                if not removed[w]:
                    current[w] -= 1
                    heapq.heappush(heap, (int(current[w]), int(w)))
        return sequence[::-1]
    raise ValueError(f"lagrad.colouring: order must be one of {', '.join(ORDERS)}, not {order!r}")


def _greedy(neighbours: list[np.ndarray], order: str) -> np.ndarray:
    lists = [a.tolist() for a in neighbours]
    colours = [-1] * len(neighbours)
    for v in vertex_order(neighbours, order):
        used = {colours[w] for w in lists[v]}
        c = 0
        while c in used:
            c += 1
        colours[v] = c
    return np.array(colours, dtype=np.int64)


def columns(pattern: scipy.sparse.spmatrix, order: str = "largest_first") -> np.ndarray:
    """A colour per column such that no two columns of one colour have a nonzero in the same
    row (a distance-2 colouring of the bipartite graph): one forward sweep per colour."""
    p = _csr(pattern)
    return _greedy(_adjacency((p.T @ p).tocsr()), order)


def rows(pattern: scipy.sparse.spmatrix, order: str = "largest_first") -> np.ndarray:
    """A colour per row such that no two rows of one colour share a column: one reverse sweep
    per colour."""
    return columns(_csr(pattern).T, order)


def star(pattern: scipy.sparse.spmatrix, order: str = "smallest_last") -> np.ndarray:
    """A star colouring of a symmetric pattern's adjacency graph: adjacent vertices differ in
    colour and every path on four vertices uses at least three colours, which lets every
    nonzero of a symmetric matrix be read from its compressed product directly
    (`decompress_symmetric`). Greedy, after Gebremedhin, Manne and Pothen (SIAM Review 2005)."""
    p = _csr(pattern)
    neighbours = _adjacency(_csr(p + p.T))
    colours = np.full(len(neighbours), -1, dtype=np.int64)
    for v in vertex_order(neighbours, order):
        forbidden = set()
        for w in neighbours[v]:
            cw = colours[w]
            if cw >= 0:
                forbidden.add(int(cw))
            for x in neighbours[w]:
                cx = colours[x]
                if x == v or cx < 0:
                    continue
                if cw < 0:
                    forbidden.add(int(cx))  # v-w-x with w uncoloured: w must not close a 2-coloured path
                else:
                    # the path v-w-x-y is two-coloured if x has another neighbour y of w's colour
                    for y in neighbours[x]:
                        if y != w and colours[y] == cw:
                            forbidden.add(int(cx))
                            break
        c = 0
        while c in forbidden:
            c += 1
        colours[v] = c
    return colours


def seeds(colours: np.ndarray) -> np.ndarray:
    """The compression matrix ``S`` (colours × vertices): ``S[c, j] = 1`` where j has colour c."""
    n_colours = int(colours.max()) + 1 if len(colours) else 0
    s = np.zeros((n_colours, len(colours)))
    s[colours, np.arange(len(colours))] = 1.0
    return s


def is_column_colouring(pattern: scipy.sparse.spmatrix, colours: np.ndarray) -> bool:
    """Whether no row has two nonzeros in columns of the same colour."""
    p = _csr(pattern)
    for i in range(p.shape[0]):
        c = colours[p.indices[p.indptr[i] : p.indptr[i + 1]]]
        if len(np.unique(c)) != len(c):
            return False
    return True


def decompress_columns(
    pattern: scipy.sparse.spmatrix, colours: np.ndarray, compressed: np.ndarray
) -> scipy.sparse.csr_matrix:
    """``J`` from ``B = J Sᵀ`` (rows × colours) and a column colouring of its pattern."""
    p = _csr(pattern).tocoo()
    values = compressed[p.row, colours[p.col]]
    return scipy.sparse.csr_matrix((values, (p.row, p.col)), shape=p.shape)


def decompress_rows(
    pattern: scipy.sparse.spmatrix, colours: np.ndarray, compressed: np.ndarray
) -> scipy.sparse.csr_matrix:
    """``J`` from ``C = S J`` (colours × columns) and a row colouring of its pattern."""
    p = _csr(pattern).tocoo()
    values = compressed[colours[p.row], p.col]
    return scipy.sparse.csr_matrix((values, (p.row, p.col)), shape=p.shape)


def decompress_symmetric(
    pattern: scipy.sparse.spmatrix, colours: np.ndarray, compressed: np.ndarray
) -> scipy.sparse.csr_matrix:
    """A symmetric ``H`` from ``B = H Sᵀ`` and a star colouring: ``H[i, j]`` is ``B[i, c(j)]``
    where j is the only vertex of its colour in row i, else ``B[j, c(i)]`` (which a star
    colouring guarantees is then the only one of its colour in row j)."""
    p = _csr(pattern)
    p = _csr(p + p.T).tocoo()
    counts = (_csr(p) @ scipy.sparse.csr_matrix(seeds(colours).T)).toarray()  # vertices of colour c in row i
    direct = counts[p.row, colours[p.col]] == 1
    values = np.where(direct, compressed[p.row, colours[p.col]], compressed[p.col, colours[p.row]])
    return scipy.sparse.csr_matrix((values, (p.row, p.col)), shape=p.shape)
