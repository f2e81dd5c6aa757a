"""lagrad: automatic differentiation as a linear system.

A computation is a sequence of equations ``z_i = f_i(z_{a(i)})``; its
derivative is the solution of ``A λ = b``. lagrad traces NumPy code into
that Program, builds the adjoint system, and solves it — by
back-substitution (reverse mode), forward substitution (tangent mode) or a
sparse solver — while staying a fast, everyday ``grad``.
"""

from . import explain as _explain  # noqa: F401  (names the library function in conversion errors)
from . import numpy, optimize, scipy
from .adjoint import AdjointSystem, Block, Multipliers, SymbolicMatrix
from .compiler import compile  # noqa: A004  (lagrad.compile, as jax.jit is jax's)
from .control import indicator, stop_gradient, value
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
from .derive import Derivation, derive
from .elimination import EliminationGraph, elimination_cost, elimination_graph
from .implicit import NotConvergedError, SingularBlockError, argmin, fixed_point, root
from .lazy import LazyComputeError
from .loops import checkpoint, fori_loop, scan, while_loop
from .plan import Plan, plan
from .sparse_derivatives import Sparsity, sparsity
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
    value_and_grad,
    vjp,
)
from .tree import tree_flatten, tree_map, tree_unflatten

__version__ = "0.1.0"

__all__ = [
    "AdjointSystem",
    "Block",
    "BranchError",
    "Derivation",
    "EliminationGraph",
    "Equation",
    "LazyComputeError",
    "Multipliers",
    "NotConvergedError",
    "Plan",
    "Primitive",
    "Program",
    "SingularBlockError",
    "Sparsity",
    "SymbolicMatrix",
    "TraceEnded",
    "adjoint",
    "argmin",
    "checkpoint",
    "compile",
    "defjvp",
    "defjvp_argnum",
    "deflinear",
    "defrule",
    "defvjp",
    "defvjp_argnum",
    "derive",
    "elementwise_grad",
    "elimination_cost",
    "elimination_graph",
    "fixed_point",
    "fori_loop",
    "grad",
    "hessian",
    "hvp",
    "indicator",
    "jacobian",
    "jvp",
    "numpy",
    "optimize",
    "plan",
    "primitive",
    "root",
    "scan",
    "scipy",
    "sparsity",
    "stop_gradient",
    "tag",
    "trace",
    "tree_flatten",
    "tree_map",
    "tree_unflatten",
    "value",
    "value_and_grad",
    "vjp",
    "while_loop",
]
