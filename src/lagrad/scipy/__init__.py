"""`lagrad.scipy`: SciPy functions as primitives (`lagrad.scipy.special`, `.linalg`, `.stats`, `.signal`,
`.integrate`)."""

from . import integrate, linalg, signal, special, stats

__all__ = ["integrate", "linalg", "signal", "special", "stats"]
