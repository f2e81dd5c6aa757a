"""Trees of arrays: flatten, rebuild, check structure."""

from __future__ import annotations

from collections import namedtuple

import pytest

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
