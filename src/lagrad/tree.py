"""Nested containers of arrays (tuples, lists, dicts, namedtuples) flattened to leaves and rebuilt.

Arguments and results of the transforms may be such trees; every array leaf is
one input (or output) variable. `None` is an empty subtree, as in JAX.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class TreeDef:
    """The structure of a tree with its leaves taken out."""

    __slots__ = ("kind", "children", "keys", "num_leaves")

    def __init__(self, kind: Any, children: tuple[TreeDef, ...] = (), keys: tuple[Any, ...] = ()) -> None:
        self.kind = kind  # "leaf", None, tuple, list, dict or a namedtuple class
        self.children = children
        self.keys = keys
        self.num_leaves = 1 if kind == "leaf" else sum(c.num_leaves for c in children)

    def unflatten(self, leaves: Any) -> Any:
        leaves = list(leaves)
        if len(leaves) != self.num_leaves:
            raise ValueError(f"lagrad: tree has {self.num_leaves} leaves, got {len(leaves)}")
        it = iter(leaves)
        return self._build(it)

    def _build(self, it: Any) -> Any:
        if self.kind == "leaf":
            return next(it)
        if self.kind is None:
            return None
        items = [c._build(it) for c in self.children]
        if self.kind is dict:
            return dict(zip(self.keys, items))
        if self.kind is tuple or self.kind is list:
            return self.kind(items)
        return self.kind(*items)  # namedtuple

    def flatten(self, tree: Any) -> list[Any]:
        """The leaves of `tree`, which must have this structure."""
        out: list[Any] = []
        self._collect(tree, out, "")
        return out

    def _collect(self, tree: Any, out: list[Any], path: str) -> None:
        if self.kind == "leaf":
            out.append(tree)
            return
        if self.kind is None:
            if tree is not None:
                raise ValueError(f"lagrad: expected None at {path or 'the top'}, got {type(tree).__name__}")
            return
        if self.kind is dict:
            if not isinstance(tree, dict) or set(tree) != set(self.keys):
                raise ValueError(
                    f"lagrad: expected a dict with keys {list(self.keys)} at {path or 'the top'}, "
                    f"got {list(tree) if isinstance(tree, dict) else type(tree).__name__}"
                )
            for key, child in zip(self.keys, self.children):
                child._collect(tree[key], out, f"{path}[{key!r}]")
            return
        if type(tree) is not self.kind or len(tree) != len(self.children):
            raise ValueError(
                f"lagrad: expected a {self.kind.__name__} of {len(self.children)} at "
                f"{path or 'the top'}, got {type(tree).__name__}"
                + (f" of {len(tree)}" if isinstance(tree, (tuple, list)) else "")
            )
        for j, (item, child) in enumerate(zip(tree, self.children)):
            child._collect(item, out, f"{path}[{j}]")

    def key_paths(self) -> list[tuple[Any, ...]]:
        """The keys leading to each leaf: dict keys, list and tuple positions, namedtuple fields."""
        if self.kind == "leaf":
            return [()]
        if self.kind is None:
            return []
        if self.kind is dict:
            keys: Any = self.keys
        elif self.kind is tuple or self.kind is list:
            keys = range(len(self.children))
        else:
            keys = self.kind._fields
        return [(key, *p) for key, child in zip(keys, self.children) for p in child.key_paths()]

    def paths(self) -> list[str]:
        """A path string per leaf, like ``[0]['W1']``."""
        if self.kind == "leaf":
            return [""]
        if self.kind is None:
            return []
        labels = [f"[{k!r}]" for k in self.keys] if self.kind is dict else [f"[{j}]" for j in range(len(self.children))]
        return [label + p for label, child in zip(labels, self.children) for p in child.paths()]

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, TreeDef)
            and self.kind == other.kind
            and self.keys == other.keys
            and self.children == other.children
        )

    def __hash__(self) -> int:
        return hash((str(self.kind), self.keys, self.children))

    def __repr__(self) -> str:
        if self.kind == "leaf":
            return "*"
        if self.kind is None:
            return "None"
        if self.kind is dict:
            return "{" + ", ".join(f"{k!r}: {c!r}" for k, c in zip(self.keys, self.children)) + "}"
        inner = ", ".join(repr(c) for c in self.children)
        return f"[{inner}]" if self.kind is list else f"({inner})"


_LEAF = TreeDef("leaf")
_NONE = TreeDef(None)


def _is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def tree_flatten(tree: Any) -> tuple[list[Any], TreeDef]:
    """The leaves of `tree`, in order, and its structure."""
    leaves: list[Any] = []
    try:
        return leaves, _flatten(tree, leaves)
    except RecursionError:
        raise ValueError(
            "lagrad: a container (list, tuple or dict) contains itself, or is nested deeper than "
            "Python's recursion limit; pass a tree of arrays without cycles (or stack deep lists "
            "into one array)"
        ) from None


def _flatten(tree: Any, leaves: list[Any]) -> TreeDef:
    if tree is None:
        return _NONE
    kind = type(tree)
    if kind is tuple or kind is list or _is_namedtuple(tree):
        return TreeDef(kind, tuple(_flatten(x, leaves) for x in tree))
    if isinstance(tree, dict):
        keys = tuple(tree)
        return TreeDef(dict, tuple(_flatten(tree[k], leaves) for k in keys), keys)
    leaves.append(tree)
    return _LEAF


def tree_unflatten(treedef: TreeDef, leaves: Any) -> Any:
    return treedef.unflatten(leaves)


def tree_leaves(tree: Any) -> list[Any]:
    return tree_flatten(tree)[0]


def tree_structure(tree: Any) -> TreeDef:
    return tree_flatten(tree)[1]


def tree_map(f: Callable[..., Any], tree: Any, *rest: Any) -> Any:
    """`f` applied leafwise; `rest` must have the structure of `tree`."""
    leaves, treedef = tree_flatten(tree)
    others = [treedef.flatten(r) for r in rest]
    return treedef.unflatten(f(*xs) for xs in zip(leaves, *others))
