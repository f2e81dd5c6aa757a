"""`lagrad.autograd.numpy.fft`: `lagrad.numpy.fft`, and NumPy's for the rest."""

from __future__ import annotations

from typing import Any

import numpy.fft as _fft

from ...numpy.fft import *  # noqa: F403
from ...numpy.fft import __all__  # noqa: F401


def __getattr__(name: str) -> Any:
    return getattr(_fft, name)
