"""The adjoint system ``A λ = b`` built from a Program, and the ways of solving it."""

from .backward import back_substitution
from .forward import forward_substitution
from .solvers import SOLVERS, register
from .system import METHODS, AdjointSystem, Block, Multipliers, SymbolicMatrix, input_gradients

__all__ = [
    "METHODS",
    "SOLVERS",
    "AdjointSystem",
    "Block",
    "Multipliers",
    "SymbolicMatrix",
    "back_substitution",
    "forward_substitution",
    "input_gradients",
    "register",
]
