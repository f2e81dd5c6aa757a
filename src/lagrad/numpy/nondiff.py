"""NumPy functions without a derivative, in one explicit list.

They evaluate on traced values (recorded, so a replay recomputes them) and
their results carry no multiplier: integer-valued results (argmax, argsort),
tests (isnan), and functions constant almost everywhere (floor).
"""

from __future__ import annotations

__all__: list[str] = []
