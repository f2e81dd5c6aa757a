"""The adjoint system ``A λ = b`` built from a Program, and the ways of solving it."""

from .solvers import back_substitution, forward_substitution
from .system import METHODS, AdjointSystem, Block, Multipliers, SymbolicMatrix, input_gradients

__all__ = [
    "METHODS",
    "AdjointSystem",
    "Block",
    "Multipliers",
    "SymbolicMatrix",
    "back_substitution",
    "forward_substitution",
    "input_gradients",
]
