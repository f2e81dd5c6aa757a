"""`lagrad.numpy.fft`: NumPy's discrete Fourier transforms as primitives."""

from __future__ import annotations

__all__: list[str] = []
