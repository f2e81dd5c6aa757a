"""`lagrad.scipy`: SciPy functions as primitives (`lagrad.scipy.special`, ...)."""

from . import special

__all__ = ["special"]
