"""`lagrad.autograd.scipy.linalg`: `lagrad.scipy.linalg`, and SciPy's own names for the rest (no derivative)."""

from __future__ import annotations

from typing import Any

import scipy.linalg as _scipy

from ...scipy.linalg import *  # noqa: F403
from ...scipy.linalg import __all__  # noqa: F401


def __getattr__(name: str) -> Any:
    return getattr(_scipy, name)
