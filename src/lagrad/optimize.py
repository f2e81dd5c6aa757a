"""`lagrad.optimize`: minimisation with lagrad's derivatives."""

from __future__ import annotations

__all__: list[str] = []
