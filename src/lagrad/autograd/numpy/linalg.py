"""`lagrad.autograd.numpy.linalg`: `lagrad.numpy.linalg`, and NumPy's for the rest."""

from __future__ import annotations

from typing import Any

import numpy.linalg as _linalg

from ...numpy.linalg import *  # noqa: F403
from ...numpy.linalg import __all__  # noqa: F401


def __getattr__(name: str) -> Any:
    return getattr(_linalg, name)
