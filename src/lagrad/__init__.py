"""lagrad: automatic differentiation as a linear system.

A computation is a sequence of equations ``z_i = f_i(z_{a(i)})``; its
derivative is the solution of ``A λ = b``. lagrad traces NumPy code into
that Program, builds the adjoint system, and solves it — by
back-substitution (reverse mode), forward substitution (tangent mode) or a
sparse solver — while staying a fast, everyday ``grad``.
"""

from . import numpy, optimize, scipy
from .adjoint import AdjointSystem, Block, Multipliers, SymbolicMatrix
from .control import indicator, stop_gradient
from .core import (
    BranchError,
    Equation,
    Primitive,
    Program,
    TraceEnded,
    defjvp,
    defjvp_argnum,
    deflinear,
    defrule,
    defvjp,
    defvjp_argnum,
    primitive,
)
from .core.backend import LazyComputeError
from .transforms import (
    adjoint,
    elementwise_grad,
    grad,
    hessian,
    hvp,
    jacobian,
    jvp,
    tag,
    trace,
    value,
    value_and_grad,
    vjp,
)
from .tree import tree_flatten, tree_map, tree_unflatten

__version__ = "0.1.0"

__all__ = [
    "AdjointSystem",
    "Block",
    "BranchError",
    "Equation",
    "LazyComputeError",
    "Multipliers",
    "Primitive",
    "Program",
    "SymbolicMatrix",
    "TraceEnded",
    "adjoint",
    "defjvp",
    "defjvp_argnum",
    "deflinear",
    "defrule",
    "defvjp",
    "defvjp_argnum",
    "elementwise_grad",
    "grad",
    "hessian",
    "hvp",
    "indicator",
    "jacobian",
    "jvp",
    "numpy",
    "optimize",
    "primitive",
    "scipy",
    "stop_gradient",
    "tag",
    "trace",
    "tree_flatten",
    "tree_map",
    "tree_unflatten",
    "value",
    "value_and_grad",
    "vjp",
]
