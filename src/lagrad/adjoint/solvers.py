"""Solvers of the adjoint system, as strategies registered by name.

A solver is ``solve(system, wanted=None, *, option=...) -> list`` of λ, one per variable (None
for zero; `wanted`: the variables whose multipliers are asked for, None for all; an option it
does not name is refused by `solve`), and calls only the operator layer.
`AdjointSystem.solve(method)`, ``grad(method=)`` and ``adjoint(method=)`` all come through
`solve` here: a new solver is one module and one `register` call.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from . import backward, forward, levels, sparse

Solver = Callable[..., list[Any]]

#: name -> solver; `register` adds one.
SOLVERS: dict[str, Solver] = {}


def register(name: str, solver: Solver) -> Solver:
    """Make `solver` available as ``method=name`` everywhere a method is taken."""
    SOLVERS[name] = solver
    return solver


def solve(system: Any, method: str, wanted: list[int] | None = None, **options: Any) -> list[Any]:
    """λ of `system` by the solver registered as `method`."""
    try:
        solver = SOLVERS[method]
    except KeyError:
        raise ValueError(f"lagrad: unknown method {method!r}; choose one of {', '.join(SOLVERS)}") from None
    takes = inspect.signature(solver).parameters  # a solver with **options takes any
    unknown = set() if any(p.kind == p.VAR_KEYWORD for p in takes.values()) else options.keys() - takes.keys()
    if unknown:
        raise TypeError(f"lagrad: the {method!r} solver takes no option {min(unknown)!r}; it takes {list(takes)[2:]}")
    return solver(system, wanted, **options)


register("back_substitution", backward.solve)
register("forward_substitution", forward.solve)
register("sparse", sparse.solve)
register("levels", levels.solve)
