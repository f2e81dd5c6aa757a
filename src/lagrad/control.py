"""Control flow in the seed's terms: indicators and values that carry no derivative.

Python `if`/`while` on a traced value already works (the branch taken is
recorded); comparisons are indicator equations; `lagrad.numpy.where` is an
indicator blend. Structured loops with their own adjoint belong here too.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .core import Var
from .numpy import astype
from .numpy._register import nondiff
from .tree import tree_map

_stop_gradient = nondiff(lambda x: x, "stop_gradient")


def stop_gradient(x: Any) -> Any:
    """`x` as a value of the computation that the derivative does not flow through
    (recorded, so a replay recomputes it); in a tree (dict, list, tuple), every leaf."""
    return tree_map(_stop_gradient, x)


def value(x: Any) -> Any:
    """The plain value of a traced array (no derivative flows through it), of every leaf
    of a tree (dict, list, tuple) of them; other values are returned as they are. For
    logging and for values meant as constants."""
    if isinstance(x, (list, tuple, dict)):
        return tree_map(_leaf_value, x)
    return _leaf_value(x)


def _leaf_value(x: Any) -> Any:
    while isinstance(x, Var) and not getattr(x._trace, "replayed", False):
        x = x.value  # a value of lagrad.compile's trace stays traced: it is computed on every call
    return x


def indicator(condition: Any, dtype: Any = np.float64) -> Any:
    """The indicator function of `condition`: 1 where it holds, 0 elsewhere, as floats,
    with zero derivative (the seed's model of a branch); in a tree, of every leaf."""
    return tree_map(lambda c: astype(c, dtype), condition)
