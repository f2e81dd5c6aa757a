"""Colourings of sparsity patterns: validity checked directly (no two columns of one colour
share a row; a star colouring two-colours no path on four vertices), on random patterns."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse
from hypothesis import given, settings
from hypothesis import strategies as st

from lagrad import colouring


def _random_pattern(seed: int, m: int, n: int, density: float) -> scipy.sparse.csr_matrix:
    rng = np.random.default_rng(seed)
    return scipy.sparse.csr_matrix((rng.random((m, n)) < density).astype(float))


def _columns_valid(pattern: scipy.sparse.csr_matrix, colours: np.ndarray) -> bool:
    """The definition, pair by pair: columns j ≠ k of one colour share no row."""
    dense = pattern.toarray() != 0
    for j, k in itertools.combinations(range(dense.shape[1]), 2):
        if colours[j] == colours[k] and np.any(dense[:, j] & dense[:, k]):
            return False
    return True


def _star_valid(pattern: scipy.sparse.csr_matrix, colours: np.ndarray) -> bool:
    """Adjacent vertices differ, and every path v-w-x-y on four vertices uses three colours."""
    adj = (pattern.toarray() != 0) | (pattern.toarray().T != 0)
    np.fill_diagonal(adj, False)
    n = len(colours)
    for v, w in zip(*np.nonzero(adj)):
        if colours[v] == colours[w]:
            return False
    for v in range(n):
        for w in np.nonzero(adj[v])[0]:
            for x in np.nonzero(adj[w])[0]:
                if x == v:
                    continue
                for y in np.nonzero(adj[x])[0]:
                    if y in (v, w):
                        continue
                    if colours[v] == colours[x] and colours[w] == colours[y]:
                        return False
    return True


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(
    seed=st.integers(0, 2**16),
    m=st.integers(1, 12),
    n=st.integers(1, 12),
    density=st.sampled_from([0.1, 0.3, 0.6]),
    order=st.sampled_from(colouring.ORDERS),
)
def test_column_and_row_colourings_are_valid(seed, m, n, density, order):
    p = _random_pattern(seed, m, n, density)
    cols = colouring.columns(p, order)
    assert len(cols) == n and _columns_valid(p, cols)
    assert colouring.is_column_colouring(p, cols)
    rows = colouring.rows(p, order)
    assert len(rows) == m and _columns_valid(p.T.tocsr(), rows)


@settings(max_examples=30, deadline=None, derandomize=True, database=None)
@given(seed=st.integers(0, 2**16), n=st.integers(1, 10), density=st.sampled_from([0.15, 0.3, 0.5]))
def test_star_colouring_is_valid_and_decompresses_a_symmetric_matrix(seed, n, density):
    rng = np.random.default_rng(seed)
    p = _random_pattern(seed, n, n, density)
    p = ((p + p.T + scipy.sparse.identity(n)) != 0).astype(float)
    colours = colouring.star(p, "smallest_last")
    assert _star_valid(p, colours)
    values = rng.standard_normal((n, n))
    H = p.toarray() * (values + values.T)  # symmetric with this pattern
    compressed = H @ colouring.seeds(colours).T
    assert np.array_equal(colouring.decompress_symmetric(p, colours, compressed).toarray(), H)


def test_invalid_colourings_are_detected():
    p = scipy.sparse.csr_matrix(np.array([[1.0, 1.0, 0.0], [0.0, 1.0, 1.0]]))
    assert not colouring.is_column_colouring(p, np.array([0, 0, 1]))
    assert colouring.is_column_colouring(p, np.array([0, 1, 0]))
    assert colouring.is_column_colouring(p, colouring.columns(p))


def test_a_diagonal_needs_one_colour_and_a_dense_row_one_per_column():
    assert colouring.columns(scipy.sparse.identity(50)).max() == 0
    assert sorted(colouring.columns(scipy.sparse.csr_matrix(np.ones((1, 6))))) == list(range(6))


def test_tridiagonal_takes_three_colours_in_every_order():
    n = 30
    p = scipy.sparse.diags([np.ones(n - 1), np.ones(n), np.ones(n - 1)], [-1, 0, 1])
    for order in colouring.ORDERS:
        assert colouring.columns(p, order).max() + 1 == 3


def test_smallest_last_order_visits_every_vertex_once():
    p = _random_pattern(3, 20, 20, 0.2)
    graph = colouring._adjacency((p.T @ p).tocsr())
    order = colouring.vertex_order(graph, "smallest_last")
    assert sorted(order) == list(range(20))


def test_an_unknown_order_is_refused():
    with pytest.raises(ValueError, match="order must be one of"):
        colouring.columns(scipy.sparse.identity(3), "random")
