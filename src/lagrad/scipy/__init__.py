"""`lagrad.scipy`: SciPy functions as primitives (`lagrad.scipy.special`, `.linalg`, `.stats`, `.signal`)."""

from . import linalg, signal, special, stats

__all__ = ["linalg", "signal", "special", "stats"]
