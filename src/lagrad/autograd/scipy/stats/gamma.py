"""`lagrad.autograd.scipy.stats.gamma`: the methods of `lagrad.scipy.stats.gamma` as functions."""

from __future__ import annotations

from typing import Any

from ....scipy.stats import gamma as _distribution

__all__ = [name for name in dir(_distribution) if not name.startswith("_") and callable(getattr(_distribution, name))]


def __getattr__(name: str) -> Any:
    if name.startswith("_"):
        raise AttributeError(name)
    return getattr(_distribution, name)
