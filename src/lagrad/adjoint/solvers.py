"""Solvers of the adjoint system, as strategies registered by name.

A solver is ``solve(system, wanted=None, **options) -> list`` of λ, one entry per variable
(None for zero; `wanted` lists the variables whose multipliers are asked for, None for all).
It only calls the operator layer (`operators`), which resolves the rules, batching and zero
means zero for every solver alike. `AdjointSystem.solve(method)`, ``grad(method=)`` and
``adjoint(method=)`` all go through `solve` here; adding a solver is one module in
`adjoint/` and one `register` call.

* ``back_substitution`` (`backward`): from the last row up, reverse mode;
* ``forward_substitution`` (`forward`): the transposed system from the top down, tangent
  mode, batched over each variable's directions;
* ``sparse`` (`sparse`): the scalar-level matrix, solved by SciPy;
* ``levels`` (`levels`): back-substitution by level schedule, each level in a thread pool.
"""

from __future__ import annotations

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
    return solver(system, wanted, **options)


register("back_substitution", backward.solve)
register("forward_substitution", forward.solve)
register("sparse", sparse.solve)
register("levels", levels.solve)
