"""`lagrad.autograd.scipy.special`: `lagrad.scipy.special`, and SciPy's own names for the rest (no derivative)."""

from __future__ import annotations

from typing import Any

import scipy.special as _scipy

from ...scipy.special import *  # noqa: F403
from ...scipy.special import __all__  # noqa: F401


def __getattr__(name: str) -> Any:
    return getattr(_scipy, name)
