"""The core: primitives and their rules, tracing, and the Program it records.

It imports nothing else of lagrad's; the NumPy layer registers itself here.
"""

from .primitive import (
    Primitive,
    defbatch,
    defjvp,
    defjvp_argnum,
    defjvp_joint,
    deflinear,
    defrule,
    defvjp,
    defvjp_argnum,
    primitive,
)
from .program import Aval, BranchError, Constant, Equation, Program, Tape
from .trace import Trace, TraceEnded, Var

__all__ = [
    "Aval",
    "BranchError",
    "Constant",
    "Equation",
    "Primitive",
    "Program",
    "Tape",
    "Trace",
    "TraceEnded",
    "Var",
    "defbatch",
    "defjvp",
    "defjvp_argnum",
    "defjvp_joint",
    "deflinear",
    "defrule",
    "defvjp",
    "defvjp_argnum",
    "primitive",
]
