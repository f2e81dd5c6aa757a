"""Trees of arrays: flatten, rebuild, check structure."""

from __future__ import annotations

from collections import namedtuple

import numpy as np
import pytest

import lagrad
import lagrad.numpy as lnp
from lagrad.optimize import adam, minimize, sgd
from lagrad.testing import check_grads
from lagrad.tree import tree_flatten, tree_map, tree_unflatten


def test_round_trip():
    P = namedtuple("P", "a b")
    tree = {"x": [1, (2, 3)], "y": P(4, None), "z": 5}
    leaves, treedef = tree_flatten(tree)
    assert leaves == [1, 2, 3, 4, 5]
    assert tree_unflatten(treedef, leaves) == tree
    assert treedef.paths() == ["['x'][0]", "['x'][1][0]", "['x'][1][1]", "['y'][0]", "['z']"]
    assert tree_map(lambda a, b: a + b, tree, tree) == {"x": [2, (4, 6)], "y": P(8, None), "z": 10}


def test_structure_mismatch_is_reported_with_its_path():
    _, treedef = tree_flatten({"a": [1, 2]})
    with pytest.raises(ValueError, match=r"list of 2 at \['a'\], got list of 3"):
        treedef.flatten({"a": [1, 2, 3]})
    with pytest.raises(ValueError, match="keys"):
        treedef.flatten({"b": [1, 2]})
    with pytest.raises(ValueError, match="leaves"):
        treedef.unflatten([1])


def test_cycles_and_runaway_nesting_are_refused_clearly():
    loop = [1]
    loop.append(loop)
    with pytest.raises(ValueError, match="contains itself"):
        tree_flatten(loop)
    deep = 1
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(ValueError, match="recursion limit"):
        tree_flatten(deep)


# -- the class of issue 16.1: every function of the API that takes an array maps over trees or
#    refuses them, and never passes a container of traced values through unchanged ------------


#: lagrad's exports that take a function or a rule (their array arguments are the function's).
TAKES_A_FUNCTION = {
    "adjoint", "compile", "derive", "defjvp", "defjvp_argnum", "deflinear", "defrule", "defvjp", "defvjp_argnum",
    "elementwise_grad", "grad", "hessian", "hvp", "jacobian", "jvp", "primitive", "trace",
    "value_and_grad", "vjp", "elimination_cost", "elimination_graph", "plan", "sparsity",
    # the structured loops: carries, xs, ys and checkpointed arguments are trees (tests/test_loops.py)
    "checkpoint", "fori_loop", "scan", "while_loop",
    # implicit equations: a function, then arrays only (trees refused: tests/test_implicit.py)
    "fixed_point", "root", "argmin",
}  # fmt: skip
#: lagrad's exports that take an array: each maps over trees (tested below).
TAKES_AN_ARRAY = {"indicator", "stop_gradient", "tag", "value", "tree_flatten", "tree_map", "tree_unflatten"}


def test_every_export_taking_an_array_is_listed_here():
    exported = {n for n in lagrad.__all__ if callable(getattr(lagrad, n)) and not isinstance(getattr(lagrad, n), type)}
    assert exported == TAKES_A_FUNCTION | TAKES_AN_ARRAY, "classify the new export and test it on trees"


def _tree(x):
    return {"a": x, "b": [2 * x, (x**2, None)]}


def _leaves(t):
    return [t["a"], t["b"][0], t["b"][1][0]]


def _stopped(t):
    return [lagrad.value(leaf) for leaf in _leaves(t)]


def _loss_through(transform):
    """Σ_leaves sum(transform(tree)_leaf · leaf): its gradient is Σ value·d(leaf) when the
    transform stops every leaf's derivative, and twice that if a leaf leaks."""

    def loss(x):
        t = _tree(x)
        return sum(lnp.sum(s * leaf) for s, leaf in zip(_leaves(transform(t)), _leaves(t)))

    return loss


@pytest.mark.parametrize(
    "transform",
    [
        pytest.param(lagrad.stop_gradient, id="stop_gradient"),
        pytest.param(lagrad.value, id="value"),
        pytest.param(lambda t: lagrad.tree_map(lagrad.stop_gradient, t), id="tree_map"),
    ],
)
def test_derivative_stoppers_stop_every_leaf(transform):
    x = np.array([0.5, -1.5, 2.0])
    want = x * 1 + 2 * x * 2 + x**2 * 2 * x  # Σ leaf · d(leaf)/dx
    assert np.allclose(lagrad.grad(_loss_through(transform))(x), want)


def test_tag_and_indicator_map_over_every_leaf():
    x = np.array([0.5, -1.5, 2.0])

    def f(x):
        t = lagrad.tag(_tree(x), "t")
        ind = lagrad.indicator(lagrad.tree_map(lambda v: v > 0, _leaves(t)))
        return sum(lnp.sum(i * v) for i, v in zip(ind, _leaves(t)))

    adj = lagrad.adjoint(f, x)
    assert sorted(adj.program.tags) == ["t/a", "t/b/0", "t/b/1/0"]
    assert np.allclose(adj.multipliers["t/b/1/0"], x**2 > 0)
    check_grads(f, x)


def test_arrays_given_to_transforms_and_optimizers_may_be_trees():
    x = np.array([0.5, -1.5])
    f = lambda p: lnp.sum(p["a"] ** 3) + lnp.sum(p["b"][0] * p["a"])
    p = {"a": x, "b": [2 * x]}
    g = lagrad.grad(f)(p)
    assert np.allclose(lagrad.vjp(f, p)[1](1.0)[0]["a"], g["a"])
    assert np.allclose(lagrad.jvp(f, (p,), (p,))[1], g["a"] @ x + g["b"][0] @ (2 * x))
    assert np.allclose(lagrad.hvp(f)(p, p)["a"], 6 * x * x + 2 * x)
    assert set(sgd(0.1).step(p, g)) == set(adam().step(p, g)) == {"a", "b"}
    assert minimize(lambda p: lnp.sum((p["a"] - 1) ** 2), {"a": x}).x["a"] == pytest.approx(np.ones(2))
    check_grads(f, p)


@pytest.mark.parametrize("cotangent", [{"a": np.ones(2)}, [np.ones(2)], (np.ones(2),), np.ones(3)])
def test_adjoint_refuses_a_cotangent_that_is_not_an_array_like_the_output(cotangent):
    with pytest.raises(ValueError, match=r"lagrad.adjoint: the cotangent must be an array shaped like the output"):
        lagrad.adjoint(lambda x: 2 * x, np.ones(2), cotangent=cotangent)
