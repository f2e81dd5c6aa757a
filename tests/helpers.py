"""What every derivative test does: finite differences in both modes to second order,
and the three solvers of the adjoint system in agreement."""

from __future__ import annotations

from typing import Any

from lagrad.testing import check_grads, check_solvers


def check(f: Any, *args: Any, order: int = 2, **kwargs: Any) -> None:
    check_grads(f, *args, modes=("fwd", "rev"), order=order, **kwargs)
    check_solvers(f, *args)
