"""`lagrad.autograd.scipy.signal`: `lagrad.scipy.signal`, and SciPy's own names for the rest (no derivative)."""

from __future__ import annotations

from typing import Any

import scipy.signal as _scipy

from ...scipy.signal import *  # noqa: F403
from ...scipy.signal import __all__  # noqa: F401


def __getattr__(name: str) -> Any:
    return getattr(_scipy, name)
