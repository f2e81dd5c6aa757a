"""`lagrad.scipy.stats`: distributions whose densities and distribution functions are differentiable."""

from __future__ import annotations

__all__: list[str] = []
