"""Cross-country elimination: every order's Jacobian agrees with reverse mode to 1e-10, on
the literature functions of benchmarks/elimination.py, on random programs and on a matrix
chain whose optimal order is known; the multiplication counts are those counted by hand."""

from __future__ import annotations

import itertools
import pathlib
import sys

import numpy as np
import pytest
import scipy.sparse
from hypothesis import HealthCheck, assume, given, settings

import lagrad
import lagrad.numpy as lnp
from lagrad.elimination import EliminationGraph, _Gather, _Scatter
from lagrad.testing import check_grads
from tests.test_random_programs import _tame, programs
from tests.test_sparse_derivatives import _flat_function

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "benchmarks"))

import elimination as literature


def _agree(f, args, argnums, orders):
    rev = lagrad.jacobian(f, argnums=argnums, mode="rev")(*args)
    for order in orders:
        eliminated = lagrad.jacobian(f, argnums=argnums, method="elimination", order=order)(*args)
        flat_rev = np.concatenate([np.ravel(b) for b in lagrad.tree_flatten(rev)[0]])
        flat_elim = np.concatenate([np.ravel(b) for b in lagrad.tree_flatten(eliminated)[0]])
        np.testing.assert_allclose(flat_elim, flat_rev, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", list(literature.PROBLEMS))
def test_every_order_agrees_with_reverse_mode_on_the_literature_functions(name):
    make, args = literature.PROBLEMS[name]
    args = tuple(np.float64(a) for a in args)
    f = make(lnp)
    graph = lagrad.elimination_graph(f, *args)
    shuffled = list(np.random.default_rng(0).permutation(graph.intermediates))
    order, cost, _ = graph.search(max_nodes=50)
    _agree(f, args, tuple(range(len(args))), ["forward", "reverse", "markowitz", order, shuffled])
    assert cost <= min(graph.cost("forward"), graph.cost("reverse"), graph.cost("markowitz"))
    assert graph.cost(order) == cost


def test_the_literature_functions_match_their_numpy_forms_and_finite_differences():
    for make, args in literature.PROBLEMS.values():
        args = tuple(np.float64(a) for a in args)
        np.testing.assert_allclose(make(lnp)(*args), make(np)(*args), rtol=1e-13)
        J = lagrad.jacobian(make(lnp), argnums=tuple(range(len(args))), method="elimination")(*args)
        for j in range(len(args)):
            h = 1e-6 * max(1.0, abs(args[j]))
            up, down = list(args), list(args)
            up[j], down[j] = args[j] + h, args[j] - h
            column = (np.array(make(np)(*up)) - np.array(make(np)(*down))) / (2 * h)
            np.testing.assert_allclose([J[i][j] for i in range(len(column))], column, rtol=1e-5, atol=1e-6)


def test_a_matrix_chain_has_its_known_optimal_order():
    rng = np.random.default_rng(1)
    a, b, c = rng.standard_normal((1, 10)), rng.standard_normal((10, 1)), rng.standard_normal((10, 10))

    def f(x):
        return c @ (b @ (a @ x))

    x = rng.standard_normal(10)
    graph = lagrad.elimination_graph(f, x)
    v1, v2 = graph.intermediates
    # forward: B·A (10·1·10) then C·(BA) (10·10·10); reverse: C·B (10·10·1) then (CB)·A (10·1·10)
    assert graph.cost("forward") == 100 + 1000 and graph.cost("reverse") == 100 + 100
    assert graph.cost([v2, v1]) == 200 and lagrad.elimination_cost(f, x, order="forward") == 1100
    assert graph.search() == ([v2, v1], 200, True)
    # both first steps cost 100, and the greedy tie goes to the first vertex: Markowitz is not optimal here
    assert graph.cost("markowitz") == 1100
    _agree(f, (x,), 0, ["forward", "reverse", "markowitz", "best"])
    np.testing.assert_allclose(lagrad.jacobian(f, method="elimination")(x), c @ b @ a, rtol=1e-12)


def _matrix_chain_optimum(dims):
    """The fewest multiplications of the matrix chain with these dimensions: the textbook
    dynamic program over split points (eliminating a chain's vertices is bracketing it)."""
    n = len(dims) - 1
    best = [[0] * n for _ in range(n)]
    for length in range(2, n + 1):
        for i in range(n - length + 1):
            j = i + length - 1
            best[i][j] = min(best[i][k] + best[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1] for k in range(i, j))
    return best[0][n - 1]


@pytest.mark.parametrize("seed, n", [(0, 15), (1, 15), (2, 21), (3, 30)])
def test_the_search_proves_the_optimum_of_matrix_chains(seed, n):
    rng = np.random.default_rng(seed)
    dims = rng.integers(2, 30, n).tolist()  # n - 1 matrices: n - 2 intermediates
    matrices = [rng.standard_normal((dims[i + 1], dims[i])) for i in range(len(dims) - 1)]

    def f(x):
        for a in matrices:
            x = a @ x
        return x

    x = rng.standard_normal(dims[0])
    graph = lagrad.elimination_graph(f, x)
    assert len(graph.intermediates) == n - 2
    order, cost, proven = graph.search()
    assert proven and cost == _matrix_chain_optimum(dims) and graph.cost(order) == cost
    assert cost < min(graph.cost("forward"), graph.cost("reverse"))
    product = np.linalg.multi_dot(matrices[::-1])
    np.testing.assert_allclose(lagrad.jacobian(f, method="elimination", order=order)(x), product, rtol=1e-10)


def _branching_matrices(seed, k):
    """A function of about k intermediates: a chain of products with constant matrices of
    random sizes, some steps also adding a product with an earlier value (a second path)."""
    rng = np.random.default_rng(seed)
    sizes, steps, count = [int(rng.integers(2, 9))], [], 0
    while count < k:
        s = int(rng.integers(2, 9))
        i = len(sizes) - 1
        j = int(rng.integers(0, i)) if i > 0 and rng.random() < 0.4 and count + 3 <= k else None
        extra = None if j is None else (j, rng.standard_normal((s, sizes[j])))
        steps.append((rng.standard_normal((s, sizes[i])), extra, rng.random() < 0.3))
        sizes.append(s)
        count += (1 if j is None else 3) + (steps[-1][2])

    def f(x):
        values = [x]
        for m, extra, bend in steps:
            y = m @ values[-1]
            if extra is not None:
                y = y + extra[1] @ values[extra[0]]
            values.append(lnp.sin(y) if bend else y)
        return values[-1]

    return f, rng.standard_normal(sizes[0])


def _residual_net(seed, layers):
    """A residual net on vectors of random sizes 2–8: each layer ``tanh(W x) + S x``, the
    shortcut S the identity where the sizes agree and a constant projection where they do not
    (blocks of every kind: diagonal, dense, number-sized)."""
    rng = np.random.default_rng(seed)
    sizes = [int(s) for s in rng.integers(2, 9, layers + 1)]
    weights = [rng.standard_normal((sizes[k + 1], sizes[k])) / 3 for k in range(layers)]
    shortcuts = [
        None if sizes[k + 1] == sizes[k] else rng.standard_normal((sizes[k + 1], sizes[k])) for k in range(layers)
    ]

    def f(x):
        for w, s in zip(weights, shortcuts):
            x = lnp.tanh(w @ x) + (x if s is None else s @ x)
        return x

    return f, rng.standard_normal(sizes[0])


def _dense_dag(seed, layers, width=(2, 7)):
    """A DenseNet-like block on vectors of random sizes: layer k is ``tanh`` of the sum of
    a constant matrix times every earlier layer's output (A's upper triangle full)."""
    rng = np.random.default_rng(seed)
    sizes = [int(s) for s in rng.integers(*width, layers + 1)]
    weights = [[rng.standard_normal((sizes[k + 1], sizes[j])) / 3 for j in range(k + 1)] for k in range(layers)]

    def f(x):
        outs = [x]
        for ws in weights:
            total = ws[0] @ outs[0]
            for w, h in zip(ws[1:], outs[1:]):
                total = total + w @ h
            outs.append(lnp.tanh(total))
        return outs[-1]

    return f, rng.standard_normal(sizes[0])


@pytest.mark.parametrize("seed", range(6))
def test_the_search_finds_what_brute_force_finds_on_small_random_graphs(seed):
    f, x = _branching_matrices(seed, 6)
    graph = lagrad.elimination_graph(f, x)
    assert 3 <= len(graph.intermediates) <= 7
    fewest = min(graph.cost(list(o)) for o in itertools.permutations(graph.intermediates))
    order, cost, proven = graph.search()
    assert proven and cost == fewest == graph.cost(order)
    _agree(f, (x,), 0, [order])


def test_chains_with_elementwise_steps_are_bracketed_optimally():
    # matrices and elementwise steps alternate: a chain whose diagonal blocks cost n per product
    rng = np.random.default_rng(7)
    a, b, c = rng.standard_normal((6, 3)), rng.standard_normal((2, 6)), rng.standard_normal((9, 2))
    f = lambda x: c @ lnp.tanh(b @ lnp.sin(a @ x))
    x = rng.standard_normal(3)
    graph = lagrad.elimination_graph(f, x)
    assert graph._chain() is not None and len(graph.intermediates) == 4
    fewest = min(graph.cost(list(o)) for o in itertools.permutations(graph.intermediates))
    order, cost, proven = graph.search()
    assert proven and cost == fewest == graph.cost(order)
    _agree(f, (x,), 0, [order])
    # a second path is not a chain: the search proves it by branch and bound instead
    g = lagrad.elimination_graph(lambda x: c @ lnp.tanh(b @ lnp.sin(a @ x)) + c[:, :1] * x[0], x)
    assert g._chain() is None and g.search()[2]


def test_diagonal_chains_cost_one_multiplication_per_scalar():
    f = lambda x: lnp.exp(lnp.sin(x) * 2.0) + x
    graph = lagrad.elimination_graph(f, np.ones(5))
    assert all(kind == "diagonal" for kind in graph.edges.values())
    # sin → multiply → exp → add: eliminating the three intermediates costs 3 products of 5
    assert graph.cost("forward") == graph.cost("reverse") == 15
    _agree(f, (np.linspace(0, 1, 5),), 0, ["forward", "reverse", "markowitz", "best"])


def test_outputs_read_later_and_inputs_returned_as_they_are():
    def f(x, y):
        s = lnp.sin(x) * y
        return s, s * y, x

    args = (np.float64(0.3), np.float64(-1.2))
    _agree(f, args, (0, 1), ["forward", "reverse", "markowitz", "best"])


def test_grouped_partials_of_arrays_scalars_and_matrices_agree_with_reverse_mode():
    # several equations of one primitive (their partials computed in one stacked call), a
    # number beside arrays (stacked as (m, 1)), the same variable twice (x * x), a matmul and
    # a sum (matrix edges, computed alone), a scalar-to-array broadcast and a scalar output
    rng = np.random.default_rng(3)
    w = rng.standard_normal((4, 4))

    def f(x, y, s):
        a = lnp.sin(x) * y + 2.0 * x
        b = lnp.sin(y) * x * x + s * y
        c = lnp.tanh(w @ a) * b
        return c, lnp.sum(c * a) * s, lnp.exp(s) * lnp.cos(s)

    args = (rng.standard_normal(4), rng.standard_normal(4), np.float64(0.7))
    graph = lagrad.elimination_graph(f, *args)
    groups = graph._structure.evaluation.groups
    assert any(len(members) > 1 for *_, members in groups)
    assert graph._structure.evaluation.alone  # the matmul and the sum
    _agree(f, args, (0, 1, 2), ["forward", "reverse", "markowitz", list(reversed(graph.intermediates))])


def test_data_movement_blocks_are_sparse_and_agree_with_reverse_mode():
    def f(x):
        y = lnp.concatenate([x[1:] * x[:-1], lnp.sin(x[::2])])
        grid = lnp.reshape(lnp.pad(lnp.reshape(x, (2, 4)), 1), (-1,))
        return y * 2.0, lnp.tanh(grid[3:11]) + y[:8]

    x = np.linspace(-1.0, 1.0, 8)
    graph = lagrad.elimination_graph(f, x)
    evaluation = graph._structure.evaluation
    # slices, reshapes and strides are gathers (one entry per row), the pad and the
    # concatenation's pieces scatters (one entry per column): index arrays, never evaluated
    assert {"gather1", "scatter1"} <= set(evaluation.forms)
    assert all(isinstance(v, (_Gather, _Scatter)) for v in evaluation.fixed.values())
    _agree(
        f, (x,), 0, ["forward", "reverse", "markowitz", list(np.random.default_rng(2).permutation(graph.intermediates))]
    )


_W = np.arange(18.0).reshape(3, 6) / 7.0


@pytest.mark.parametrize(
    ("f", "n", "counts"),
    [
        # x (10) -slice-> s (6) -sin-> t (6) -sum-> y (1): the slice a gather of ones, the sum a
        # scatter of ones. Forward: sin's diagonal times the slice is the slice's index with
        # cos as its entries (no multiplication), then the sum places each entry in the row (no
        # multiplication). Reverse: the sum times the diagonal is a scatter with cos as its
        # entries, then the slice picks their columns. The Jacobian is cos placed: 0 both ways.
        # (Counted as sparse 0/1 matrices: 12 each way; as dense: 60 + 60 and 6 + 60.)
        (lambda x: lnp.sum(lnp.sin(x[2:8])), 10, {"forward": 0, "reverse": 0, "markowitz": 0}),
        # the same with a dense 3×6 matmul for the sum: forward the gather scaled (0), then the
        # 3×6 matrix times its entries column by column (18); reverse the 3×6 matrix times the
        # diagonal (18), then its columns placed by the slice (0)
        (lambda x: _W @ lnp.sin(x[2:8]), 10, {"forward": 18, "reverse": 18, "markowitz": 18}),
        # x (5) -sin-> a (5); x -[:3]-> b (3) -exp-> c (3); d = concat(a, c) (8) -sum-> y: the
        # slice a gather, the concatenation's two pieces and the sum scatters, all of ones.
        # Forward: a and b only give the unit blocks entries (0); c: the piece's scatter meets
        # x→c's gather entry by entry (0: one is ones), a sparse 3×5 added to x→d (sparse);
        # d: the sum's row times that sparse block, multiplied as scipy.sparse matrices (its 8
        # nonzeros). Reverse: d: the sum's scatter times each piece's is a scatter (0); c: its
        # diagonal gives it entries (0); b: a scatter meets the slice (0); a: the diagonal (0).
        # Markowitz ties every step at 0 and goes forward (8); the search finds reverse's 0.
        (
            lambda x: lnp.sum(lnp.concatenate([lnp.sin(x), lnp.exp(x[:3])])),
            5,
            {"forward": 8, "reverse": 0, "markowitz": 8},
        ),
    ],
    ids=["slice-sin-sum", "slice-sin-matmul", "concatenation"],
)
def test_data_movement_and_sums_count_only_the_multiplications_they_make(f, n, counts):
    x = np.linspace(0.1, 1.0, n)
    graph = lagrad.elimination_graph(f, x)
    for order, count in counts.items():
        assert graph.cost(order) == count, order
        assert _counted_by_the_plan(graph, order) == count, order
    assert graph.order("markowitz") == [v for v, _ in graph.steps("markowitz")]
    assert graph.search()[1] == min(counts.values()) and graph.search()[2]
    _agree(f, (x,), 0, ["forward", "reverse", "markowitz", "best"])


def _structured_multiplications(outer, inner) -> int | None:
    """A product with a gather (one entry per row) or a scatter (one per column), against a
    number, a diagonal, a dense block or one of its own type: only the entries it holds
    (None where they are ones: copies and sums) are multiplied, once per scalar they meet.
    None for any other pair (multiplied as scipy.sparse matrices)."""
    structured = (_Gather, _Scatter)
    if isinstance(outer, structured) and isinstance(inner, structured):
        both = outer.entries is not None and inner.entries is not None
        if type(outer) is not type(inner):  # a scatter's entries meet a gather's one by one
            return (len(inner.index) if both else 0) if isinstance(outer, _Scatter) else None
        return (len(outer.index) if isinstance(outer, _Gather) else len(inner.index)) if both else 0
    if scipy.sparse.issparse(outer) or scipy.sparse.issparse(inner):
        return None
    if isinstance(outer, structured):
        # a gather's entry meets the row it picks; a scatter's the row it adds
        return 0 if outer.entries is None else len(outer.index) * (inner.shape[1] if np.ndim(inner) == 2 else 1)
    if isinstance(inner, structured):
        # a column per entry, of the outer block's rows
        return 0 if inner.entries is None else len(inner.index) * (outer.shape[0] if np.ndim(outer) == 2 else 1)
    return None


def _multiplications(outer, inner) -> int:
    """The multiplications of one product as the plan makes it, from the values themselves."""
    structured = _structured_multiplications(outer, inner)
    if structured is not None:
        return structured
    outer, inner = [x.tocsr() if isinstance(x, (_Gather, _Scatter)) else x for x in (outer, inner)]
    sparse_outer, sparse_inner = scipy.sparse.issparse(outer), scipy.sparse.issparse(inner)
    if sparse_outer and sparse_inner:
        outer, inner = outer.tocsc(), inner.tocsr()
        return int(sum(np.diff(outer.indptr)[j] * np.diff(inner.indptr)[j] for j in range(outer.shape[1])))
    if sparse_outer:
        return outer.nnz * (inner.shape[1] if np.ndim(inner) == 2 else 1)
    if sparse_inner:
        return inner.nnz * (outer.shape[0] if np.ndim(outer) == 2 else 1)
    if np.ndim(outer) == 2 and np.ndim(inner) == 2:
        return outer.shape[0] * outer.shape[1] * inner.shape[1]
    return max(np.size(outer), np.size(inner))  # a number or a diagonal scales the other


def _counted_by_the_plan(graph, order) -> int:
    """Replay the plan `jacobian` runs for `order`, counting each product on its values."""
    from lagrad.elimination import _Plan

    structure = graph._structure
    plan = _Plan(structure, tuple(graph.order(order)))
    values = structure.evaluation.values(graph.program, graph.tape)
    slots = values + [None] * (plan.n_slots - len(values))
    total = 0
    for target, outer, inner, multiply, add in plan.steps:
        total += _multiplications(slots[outer], slots[inner])
        product = multiply(slots[outer], slots[inner])
        slots[target] = product if add is None else add(slots[target], product)
    return total


def test_the_count_is_what_the_plan_multiplies_on_programs_that_move_data():
    def f(x):
        y = lnp.concatenate([x[1:] * x[:-1], lnp.sin(x[::2])])
        grid = lnp.reshape(lnp.pad(lnp.reshape(x, (2, 4)), 1), (-1,))
        return y * 2.0, lnp.tanh(grid[3:11]) + y[:8], _W[:, :4] @ lnp.cos(x[2:6])

    x = np.linspace(-1.0, 1.0, 8)
    graph = lagrad.elimination_graph(f, x)
    shuffled = list(np.random.default_rng(5).permutation(graph.intermediates))
    order, cost, _ = graph.search(max_nodes=300)
    for o in ["forward", "reverse", "markowitz", shuffled, order]:
        assert graph.cost(o) == _counted_by_the_plan(graph, o)
    assert cost <= min(graph.cost("forward"), graph.cost("reverse"), graph.cost("markowitz"))
    _agree(f, (x,), 0, ["forward", "reverse", "markowitz", order, shuffled])


def test_the_search_finds_the_fewest_multiplications_with_sparse_blocks():
    # a pad then a slice that drops some of the padding: a product through the padded vertex
    # can cost fewer multiplications than it has scalars, which the search's bound allows for
    def f(x):
        padded = lnp.pad(lnp.sin(x), 2)
        return _W[:, :5] @ lnp.tanh(padded[1:6]) + lnp.sum(x[::2])

    x = np.linspace(0.2, 0.9, 4)
    graph = lagrad.elimination_graph(f, x)
    assert len(graph.intermediates) <= 7
    fewest = min(graph.cost(list(o)) for o in itertools.permutations(graph.intermediates))
    order, cost, proven = graph.search()
    assert proven and cost == fewest == graph.cost(order) == _counted_by_the_plan(graph, order)
    _agree(f, (x,), 0, [order])


def test_constant_indices_are_part_of_the_structure():
    jac = lagrad.jacobian(lambda x, idx: x[idx] * 2.0, argnums=0, method="elimination")
    x = np.arange(5.0)
    for idx in (np.array([0, 2, 2]), np.array([4, 1, 3])):
        expected = np.zeros((3, 5))
        expected[np.arange(3), idx] = 2.0  # by hand: row i reads x[idx[i]]
        np.testing.assert_array_equal(jac(x, idx), expected)


def test_a_retraced_function_reuses_its_structure_and_gets_the_new_values():
    f = lambda x, y: (lnp.sin(x) * y, lnp.exp(x * y) + x)
    graph = lagrad.elimination_graph(f, np.float64(0.1), np.float64(0.2))
    again = lagrad.elimination_graph(f, np.float64(-1.3), np.float64(2.5))
    assert again._structure is graph._structure and again.tape is not graph.tape
    jac = lagrad.jacobian(f, argnums=(0, 1), method="elimination")
    for x, y in [(0.1, 0.2), (-1.3, 2.5), (2.0, -0.4)]:
        expected = [[np.cos(x) * y, np.sin(x)], [np.exp(x * y) * y + 1, np.exp(x * y) * x]]  # by hand
        np.testing.assert_allclose(np.array(jac(np.float64(x), np.float64(y)), dtype=float), expected, rtol=1e-13)


def test_another_branch_is_another_structure():
    def f(x):
        return lnp.sin(x) * x if x > 0 else lnp.cos(x) * 3.0

    jac = lagrad.jacobian(f, method="elimination")
    for x in (0.5, -0.5, 0.7):
        expected = np.cos(x) * x + np.sin(x) if x > 0 else -3.0 * np.sin(x)
        np.testing.assert_allclose(jac(np.float64(x)), expected, rtol=1e-13)


def test_infinite_partials_show_as_in_reverse_mode_and_zero_means_zero():
    x = np.array([0.0, 1.0, 4.0])
    f = lambda x: lnp.sqrt(x) * 2.0 + x
    with np.errstate(divide="ignore"):
        eliminated = lagrad.jacobian(f, method="elimination")(x)
        np.testing.assert_allclose(eliminated, lagrad.jacobian(f, mode="rev")(x))
    assert np.isinf(eliminated[0, 0]) and np.all(np.isfinite(eliminated[1:, 1:]))
    # a zero partial times an infinite one: 0 (reverse mode's zero means zero), not NaN
    guarded = lambda x: lnp.where(x > 0, lnp.sqrt(x), 0.0) * 2.0
    scalar = lambda x: lnp.sum(lnp.sqrt(x) * 0.0) + x[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        for g, expected in [(guarded, np.diag([0.0, 1.0, 0.5])), (scalar, [0.0, 1.0, 0.0])]:
            for order in ("forward", "reverse", "markowitz"):
                np.testing.assert_allclose(lagrad.jacobian(g, method="elimination", order=order)(x), expected)


def test_a_budgeted_search_says_it_is_not_proven():
    make, args = literature.PROBLEMS["robot arm"]
    graph = lagrad.elimination_graph(make(lnp), *(np.float64(a) for a in args))
    order, cost, proven = graph.search(max_nodes=5)
    assert not proven and sorted(order) == graph.intermediates and graph.cost(order) == cost
    assert "intermediates" in repr(graph) and isinstance(graph, EliminationGraph)


def test_bad_orders_are_refused():
    graph = lagrad.elimination_graph(lambda x: lnp.sin(lnp.cos(x)) * x, np.ones(3))
    with pytest.raises(ValueError, match="every intermediate vertex once"):
        graph.cost([graph.intermediates[0]])
    with pytest.raises(ValueError, match="order must be one of"):
        graph.cost("sideways")
    with pytest.raises(ValueError, match="method must be"):
        lagrad.jacobian(lnp.sin, method="colouring")
    with pytest.raises(TypeError, match="complex"):
        lagrad.jacobian(lambda z: z * 2, method="elimination")(np.ones(2, dtype=complex))


@settings(max_examples=10, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
@given(programs(max_steps=6))
def test_random_programs_every_order_agrees_with_reverse_mode(spec):
    f, x, inputs = _flat_function(spec)
    assume(_tame(spec, inputs) and x.size <= 40)
    with np.errstate(all="ignore"):
        try:
            graph = lagrad.elimination_graph(f, x)
        except TypeError:
            assume(False)  # several-array values: not eliminated
        shuffled = list(np.random.default_rng(spec.seed % 1000).permutation(graph.intermediates))
        orders = ["forward", "reverse", "markowitz", shuffled]
        if len(graph.intermediates) < 12:
            orders.append("best")
        _agree(f, (x,), 0, orders)
        for o in orders[:4]:
            # the count is structural: a product whose sparse operand lost an entry that is zero
            # at this run (scipy drops computed zeros) multiplies less, never more
            assert _counted_by_the_plan(graph, o) <= graph.cost(o)


def test_a_product_with_a_constant_matrix_is_an_operator_block_read_as_it_is():
    rng = np.random.default_rng(11)
    A, B, c = rng.standard_normal((5, 4)), rng.standard_normal((5, 3)), rng.standard_normal(3)
    ints, single = np.arange(20).reshape(5, 4) - 7, A.astype(np.float32)

    def f(x):
        return (lnp.tanh(A @ x) @ B) * 2.0, c @ lnp.sin(x[:3]), ints @ x, single @ x, A @ x

    x = rng.standard_normal(4)
    graph = lagrad.elimination_graph(f, x)
    evaluation = graph._structure.evaluation
    # A @ x (twice), x @ B, c @ x, the integer and the float32 matrices: six blocks never swept
    assert len(evaluation.operators) == 6
    _agree(f, (x,), 0, ["forward", "reverse", "markowitz", "best"])
    J = lagrad.jacobian(f, method="elimination")(x)
    np.testing.assert_array_equal(J[2], ints)  # by hand: the Jacobian of ints @ x is ints
    J[4][0, 0] = 99.0  # the Jacobian is the caller's to write: never the constant itself
    assert A[0, 0] != 99.0 and lagrad.jacobian(f, method="elimination")(x)[4][0, 0] == A[0, 0]
    # a constant changed between calls is read again (the structure, not the values, is kept)
    A[1, 2] = 5.0
    np.testing.assert_array_equal(lagrad.jacobian(f, method="elimination")(x)[4], A)
    # no sweep builds an operator block: the plan counts none for these matmuls
    assert lagrad.plan(lambda x: A @ x, x).counts["elimination"]["sweep"] == 0


def test_operator_blocks_holding_nan_and_inf_agree_with_reverse_mode():
    A = np.array([[1.0, np.inf], [np.nan, 2.0], [0.0, 1.0]])
    f = lambda x: lnp.sin(A @ lnp.cos(x)) * 2.0
    x = np.array([0.3, -0.2])
    with np.errstate(invalid="ignore"):
        rev = lagrad.jacobian(f, mode="rev")(x)
        for order in ("forward", "reverse", "markowitz"):
            np.testing.assert_array_equal(lagrad.jacobian(f, method="elimination", order=order)(x), rev)


def _scalar_dag(seed, k, n_in=3, n_out=2):
    """A random program of k scalar steps (sin, product, sum with a cosine) on n_in scalar
    inputs, each step reading recent values; the last n_out values are the outputs."""
    rng = np.random.default_rng(seed)
    steps = []
    for i in range(k):
        known = n_in + i
        kind, recent = int(rng.integers(0, 3)), int(rng.integers(max(0, known - 6), known))
        steps.append((kind, recent, int(rng.integers(0, known))))

    def f(*xs):
        values = list(xs)
        for kind, a, b in steps:
            x, y = values[a], values[b]
            values.append(lnp.sin(x) if kind == 0 else x * y if kind == 1 else x + lnp.cos(y))
        return tuple(values[-n_out:])

    return f, tuple(np.float64(v) for v in rng.uniform(0.2, 1.0, n_in))


def _fewest(graph):
    return min(graph.cost(list(o)) for o in itertools.permutations(graph.intermediates))


def test_the_proof_finds_what_brute_force_finds_on_small_scalar_graphs():
    tried = 0
    for seed in range(40):
        f, args = _scalar_dag(seed, 9, n_in=2 + seed % 2, n_out=1 + seed % 3)
        graph = lagrad.elimination_graph(f, *args)
        if not 4 <= len(graph.intermediates) <= 6:
            continue
        tried += 1
        fewest = _fewest(graph)
        order, cost, proven = graph.search()
        assert proven and cost == fewest == graph.cost(order), seed
        _agree(f, args, tuple(range(len(args))), [order])
    assert tried >= 8


@pytest.mark.parametrize("seed", range(4))
def test_the_lower_bounds_never_exceed_what_is_left(seed):
    # at the start and after eliminating the first vertices of a random order, the estimate of
    # what is left is at most the fewest multiplications that eliminating the rest can cost
    from lagrad.elimination import _Separators

    for graph in (
        lagrad.elimination_graph(*(lambda f, a: (f, *a))(*_scalar_dag(seed, 8))),
        lagrad.elimination_graph(*_branching_matrices(seed, 6)),
    ):
        vertices = graph.intermediates
        cuts = _Separators(vertices, *graph._neighbours(graph._blocks()))
        order = list(np.random.default_rng(seed).permutation(vertices))
        for first in range(len(vertices) - 1):
            done = set(order[:first])
            edges, preds, succs = graph._graph_at(done)
            bounds, paired = graph._bounds(edges, preds, succs, sum(cuts.bit[v] for v in done), cuts)
            rest = [v for v in vertices if v not in done]
            spent = graph.cost(order[:first] + rest) - sum(c for _, c in graph.steps(order[:first] + rest)[first:])
            fewest = min(graph.cost(order[:first] + list(o)) for o in itertools.permutations(rest)) - spent
            assert sum(bounds.values()) + sum(paired.values()) // 2 <= fewest


def test_separators_are_minimum_vertex_cuts():
    from lagrad.elimination import _separator

    # 9 ← {7, 8}; 7 ← {5}; 8 ← {5, 6}; 5 ← {1, 2}; 6 ← {3}: from 9 toward the inputs 1, 2, 3,
    # {5, 6} cuts every path (weight 2 with unit weights), and so does {7, 8}, the least
    # without 5 ({1, 2, 6} and {1, 2, 3} weigh 3)
    preds = {9: {7, 8}, 7: {5}, 8: {5, 6}, 5: {1, 2}, 6: {3}}
    unit = lambda x: 1
    assert _separator(9, preds, {1, 2, 3}, unit) == 2
    assert _separator(9, preds, {1, 2, 3}, unit, barred=5) == 2
    weights = {7: 5, 8: 5, 5: 3, 6: 1, 1: 4, 2: 4, 3: 4}
    assert _separator(9, preds, {1, 2, 3}, weights.__getitem__) == 4  # {5, 6}; {7, 8} 10, {1, 2, 3} 12
    assert _separator(9, preds, {1, 2, 3}, lambda x: {5: 9}.get(x, 1), barred=6) == 2  # {7, 8}; {3, 5} 10
    assert _separator(5, preds, {1, 2, 3}, unit) == 2  # its neighbours are both inputs


@pytest.mark.parametrize(("seed", "k"), [(0, 20), (1, 20), (0, 25), (2, 25)])
def test_graphs_of_about_twenty_intermediates_are_proven(seed, k):
    f, args = _scalar_dag(seed, k)
    graph = lagrad.elimination_graph(f, *args)
    assert 17 <= len(graph.intermediates) <= 24
    order, cost, proven = graph.search()
    assert proven and graph.cost(order) == cost
    assert cost <= min(graph.cost(name) for name in ("forward", "reverse", "markowitz"))
    _agree(f, args, tuple(range(len(args))), [order])


def test_a_proof_out_of_budget_says_so():
    f, args = _scalar_dag(2, 20)  # 17 intermediates whose proof takes thousands of sets
    graph = lagrad.elimination_graph(f, *args)
    # 2**17 sets are more than max_sets allows: A* instead of the exact dynamic program
    order, cost, proven = graph.search(max_nodes=60, max_sets=1 << 16)
    assert not proven and sorted(order) == graph.intermediates and graph.cost(order) == cost
    assert cost <= min(graph.cost(name) for name in ("forward", "reverse", "markowitz"))


def test_a_block_with_no_path_has_the_dtype_reverse_mode_gives():
    # a boolean output of float32 inputs: its zero block is float64 (a derivative of an integer
    # or boolean value is a float64 zero), as in every mode
    f = lambda x: (x * 2, x > 0)
    x = np.linspace(-1.0, 1.0, 3).astype(np.float32)
    got = [block.dtype for block in lagrad.jacobian(f, method="elimination")(x)]
    assert got == [block.dtype for block in lagrad.jacobian(f)(x)] == [np.float32, np.float64]


def _block_graphs(k):
    """Graphs of matrix blocks of different sizes and kinds, of about k intermediates."""
    return [
        *(_branching_matrices(seed, k) for seed in (0, 1)),
        *(_residual_net(seed, {6: 2, 11: 3}.get(k, 5)) for seed in (0, 1)),
        *(_dense_dag(seed, {6: 2, 11: 3}.get(k, 4)) for seed in (0, 1)),
    ]


@pytest.mark.parametrize("k", [6, 11])
def test_the_exact_search_and_a_star_find_what_brute_force_finds_on_block_graphs(k):
    # the dynamic program over all sets (`_exact`) and A* with its separator bounds (max_sets=0)
    # both prove the fewest multiplications; on ≤ 7 intermediates, against every order
    for f, x in _block_graphs(k):
        graph = lagrad.elimination_graph(f, x)
        exact, exact_cost = graph._exact()
        order, cost, proven = graph.search(max_sets=0)
        assert proven and cost == exact_cost == graph.cost(exact) == graph.cost(order)
        if len(graph.intermediates) <= 7:
            assert exact_cost == _fewest(graph)
        _agree(f, (x,), 0, [exact])


def test_block_graphs_of_up_to_twenty_intermediates_are_proven():
    # skip connections, residual layers with projections, a DenseNet-like DAG: 17–19 intermediates,
    # proven by the exact dynamic program (A* within its default budget proves none of these six)
    for f, x in _block_graphs(17):
        graph = lagrad.elimination_graph(f, x)
        assert 17 <= len(graph.intermediates) <= 20
        order, cost, proven = graph.search()
        assert proven and graph.cost(order) == cost
        assert cost <= min(graph.cost(name) for name in ("forward", "reverse", "markowitz"))
        _agree(f, (x,), 0, [order])


def test_the_exact_search_declines_sparse_blocks_and_counts_too_large():
    graph = lagrad.elimination_graph(lambda x: lnp.sum(lnp.sin(x[2:8]) * x[1:7]), np.ones(10))
    assert graph._exact() is None and graph.search()[2]  # A* proves it instead
    # blocks of 2**21 times the sizes (a count only: no block is made): a product's m·k·n passes
    # int64, and the exact search leaves the graph to A* rather than count wrongly
    f, x = _residual_net(0, 2)
    graph = lagrad.elimination_graph(f, x)
    graph.sizes = {v: n << 21 for v, n in graph.sizes.items()}
    assert graph._exact() is None


def _heat(u, steps=1):
    for _ in range(steps):
        u = u + 0.1 * (lnp.roll(u, 1) - 2 * u + lnp.roll(u, -1))
    return u


_R = np.random.default_rng(3).standard_normal((4, 6))
_KIND_PROGRAMS = {
    "heat": (_heat, np.linspace(-1.0, 1.0, 7)),
    "sum along an axis": (lambda x: lnp.sum(lnp.reshape(x, (2, 3)) ** 2, axis=0), np.linspace(0.1, 0.6, 6)),
    "transpose, weights": (
        lambda x: lnp.sum(lnp.transpose(lnp.reshape(lnp.sin(x), (2, 3))) * (np.arange(6.0).reshape(3, 2) + 1), axis=1),
        np.linspace(0.1, 0.6, 6),
    ),
    "broadcasts": (
        lambda x: lnp.broadcast_to(lnp.sum(x), (5,)) * lnp.cos(lnp.broadcast_to(x[:1], (5,))),
        np.linspace(0.1, 0.6, 6),
    ),
    "roll into a matmul": (lambda x: _R @ lnp.roll(lnp.tanh(x), 2) + lnp.sum(x), np.linspace(-0.5, 0.5, 6)),
    "outer, flip": (lambda x: lnp.sum(lnp.outer(x, x), axis=0) + lnp.flip(x) * x, np.linspace(-0.5, 0.5, 6)),
    "pad, strides": (lambda x: lnp.pad(lnp.sin(x), 2)[1:-1] * lnp.sum(x[::2]), np.linspace(-0.5, 0.5, 6)),
    "concatenation, repeat": (
        lambda x: lnp.concatenate([x, x * 2, lnp.roll(x, 1)])[3:9] + lnp.sum(lnp.reshape(x, (3, 2)), axis=1).repeat(2),
        np.linspace(-0.5, 0.5, 6),
    ),
    "matrix of sums": (
        lambda x: lnp.sum(lnp.reshape(x, (2, 3)).T @ lnp.ones((2, 2)), axis=(0, 1), keepdims=True),
        np.linspace(-0.5, 0.5, 6),
    ),
    # a gather with entries picking a dense block's rows; a dense block meeting a broadcast's
    # gather, whose one column takes the sum of its columns
    "gathers and matrices": (
        lambda x: lnp.roll(lnp.sin(_R.T @ x[:4]), 1) + _R.T @ lnp.broadcast_to(lnp.cos(x[:1]), (4,)),
        np.linspace(-0.5, 0.5, 6),
    ),
    "a sum of products": (lambda x: lnp.sum(lnp.sin(x) * x), np.linspace(0.1, 1.0, 6)),
    "float32": (lambda x: lnp.sum(lnp.roll(x, 1) * 2.0, axis=0) * x, np.linspace(-0.5, 0.5, 5).astype(np.float32)),
    # a diagonal made sparse beside a gather: scipy.sparse holds no float16 (it raised)
    "float16": (lambda x: lnp.roll(x, 1) * x, np.linspace(0.1, 1.0, 6).astype(np.float16)),
}


@pytest.mark.parametrize("name", list(_KIND_PROGRAMS))
def test_gathers_and_scatters_agree_with_reverse_mode_in_every_order(name):
    f, x = _KIND_PROGRAMS[name]
    graph = lagrad.elimination_graph(f, x)
    assert {"gather1", "scatter1"} & set(graph._structure.evaluation.forms)
    rng = np.random.default_rng(len(name))
    shuffled = [list(rng.permutation(graph.intermediates)) for _ in range(3)]
    orders = ["forward", "reverse", "markowitz", "best", *shuffled]
    if x.dtype in (np.float32, np.float16):
        rev = lagrad.jacobian(f, mode="rev")(x)
        tol = 1e-6 if x.dtype == np.float32 else 2e-3  # the dtype's rounding, entries ≤ 4
        for order in orders:
            got = lagrad.jacobian(f, method="elimination", order=order)(x)
            assert got.dtype == rev.dtype == x.dtype
            np.testing.assert_allclose(got, rev, rtol=tol, atol=tol)
        assert lagrad.jacobian(f, method="auto")(x).dtype == x.dtype
    else:
        _agree(f, (x,), 0, orders)
    for order in orders:
        # the structural count bounds what the plan multiplies (scipy drops a computed zero)
        assert _counted_by_the_plan(graph, order) <= graph.cost(order)
    if x.dtype == np.float64:  # and reverse mode itself against central differences
        check_grads(lambda x: lnp.sum(f(x) ** 2), x, order=1, atol=1e-8)  # some entries are 0


def test_a_roll_times_a_diagonal_and_a_sum_times_a_matrix_multiply_nothing():
    # roll(sin(x)): the roll's gather takes cos as its entries (a permuted diagonal), no multiplication
    x = np.linspace(0.1, 1.0, 6)
    graph = lagrad.elimination_graph(lambda x: lnp.roll(lnp.sin(x), 1), x)
    assert graph.cost("forward") == graph.cost("reverse") == 0
    np.testing.assert_allclose(
        lagrad.jacobian(lambda x: lnp.roll(lnp.sin(x), 1), method="elimination")(x), np.roll(np.diag(np.cos(x)), 1, 0)
    )
    # sum(W @ x): the sum's row times W is W's column sums, additions only (the dense 1×4 row
    # it was counted as made 4·6 multiplications)
    f = lambda x: lnp.sum(_R @ x)
    graph = lagrad.elimination_graph(f, x)
    assert graph.cost("forward") == graph.cost("reverse") == 0
    np.testing.assert_allclose(lagrad.jacobian(f, method="elimination")(x), _R.sum(axis=0), rtol=1e-12)
    # a heat step's rolls against its diagonals: the weighted gathers meet only where two have entries
    heat = lagrad.elimination_graph(_heat, x)
    assert heat.cost("markowitz") < 6 * 6 * len(heat.intermediates)


def test_zero_partials_infinite_partials_and_empty_arrays_through_gathers_and_scatters():
    # sqrt at 0 behind a slice and a sum: the infinite partial shows as in reverse mode
    f = lambda x: lnp.sum(lnp.sqrt(x[1:])) + x[0]
    x = np.array([0.0, 0.0, 1.0, 4.0])
    with np.errstate(divide="ignore", invalid="ignore"):
        rev = lagrad.jacobian(f, mode="rev")(x)
        for order in ("forward", "reverse", "markowitz"):
            np.testing.assert_array_equal(lagrad.jacobian(f, method="elimination", order=order)(x), rev)
    # a zero partial times an infinite one behind a roll: 0, as reverse mode's zero means zero
    g = lambda x: lnp.roll(lnp.where(x > 0, lnp.sqrt(x), 0.0), 1) * 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        for order in ("forward", "reverse", "markowitz"):
            got = lagrad.jacobian(g, method="elimination", order=order)(np.array([0.0, 1.0, 4.0]))
            np.testing.assert_allclose(got, np.roll(np.diag([0.0, 1.0, 0.5]), 1, 0))
    # empty slices and sums of nothing
    h = lambda x: lnp.sum(lnp.sin(x[3:3])) + lnp.roll(x, 1)[:0].sum() + x[0]
    y = np.linspace(0.1, 1.0, 5)
    for order in ("forward", "reverse", "markowitz"):
        np.testing.assert_array_equal(lagrad.jacobian(h, method="elimination", order=order)(y), np.eye(5)[0])


def test_a_retraced_slice_reuses_its_structure_and_another_slice_does_not():
    from lagrad.elimination import _structure_key

    def key(f):
        return _structure_key(lagrad.elimination_graph(f, np.ones(8)).program)

    head = lambda x: lnp.sin(x[2:5])
    assert key(head) is not None and key(head) == key(head)
    assert key(head) != key(lambda x: lnp.sin(x[3:6])) and key(head) != key(lambda x: lnp.sin(x[[2, 3, 4]]))
    assert key(lambda x: lnp.sin(x[[2, 3, 4]])) == key(lambda x: lnp.sin(x[[2, 3, 4]]))
    np.testing.assert_allclose(lagrad.jacobian(head, method="elimination")(np.ones(8) * 0.3)[0, 2], np.cos(0.3))


def test_sums_of_gathers_and_scatters_are_their_dense_sums():
    from lagrad.elimination import _sparse_addition

    add = _sparse_addition("sparse")
    rng = np.random.default_rng(4)
    index, other = np.array([2, 0, 2, 1]), np.array([1, 1, 0, 2])
    cases = [
        (_Scatter(index, rng.standard_normal(4), 3), _Scatter(index, None, 3)),  # one index: stays a scatter
        (_Scatter(index, rng.standard_normal(4), 3), _Scatter(other, rng.standard_normal(4), 3)),
        (_Gather(index, rng.standard_normal(4), 3), _Gather(index, rng.standard_normal(4), 3)),
        (_Gather(index, None, 3), _Gather(other, None, 3)),
        (_Gather(index[:3], None, 4), _Scatter(index[:3], None, 4)),  # 3×4 and 4×3 is refused below
    ]
    for a, b in cases[:4]:
        total = add(a, b)
        dense = total.toarray() if hasattr(total, "toarray") else total
        np.testing.assert_allclose(dense, a.toarray() + b.toarray(), rtol=1e-15)
    assert isinstance(add(*cases[0]), _Scatter) and isinstance(add(*cases[2]), _Gather)
    assert scipy.sparse.issparse(add(*cases[1])) and scipy.sparse.issparse(add(*cases[3]))
    with pytest.raises(ValueError):
        add(*cases[4])  # shapes that do not match are not added
