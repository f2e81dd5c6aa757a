"""`lagrad.scipy.linalg`: SciPy's linear algebra as primitives."""

from __future__ import annotations

__all__: list[str] = []
