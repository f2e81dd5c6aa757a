"""The `sparse` method: the scalar-level matrix assembled and handed to SciPy's triangular solve."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse.linalg

from . import backward


def solve(system: Any, wanted: list[int] | None = None, *, max_size: int | None = None, mask: Any = True) -> list[Any]:
    """λ from ``spsolve_triangular(A, b)``. Where the scalar solve meets ``0 × inf`` (a zero
    multiplier against an infinite partial, which SciPy cannot skip), the solution is the
    one back-substitution's, whose operators apply zero means zero. Diagonal blocks other than
    ``-I`` (`AdjointSystem.implicit`) make ``A`` only block-triangular: SciPy's general sparse
    solve then."""
    A = system.matrix("sparse", max_size=max_size).tocsr()
    b = system.rhs_vector()
    with np.errstate(invalid="ignore"):
        if system.implicit:
            lam = scipy.sparse.linalg.spsolve(A.tocsc(), b)
        else:
            lam = scipy.sparse.linalg.spsolve_triangular(A, b, lower=False)
    if np.isnan(lam).any():
        return backward.solve(system, wanted, mask=mask)
    return system.multipliers_from_vector(lam)
