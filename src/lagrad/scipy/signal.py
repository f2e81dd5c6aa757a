"""`lagrad.scipy.signal`: signal processing as primitives."""

from __future__ import annotations

__all__: list[str] = []
