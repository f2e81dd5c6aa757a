"""Where the core finds the NumPy layer without importing it.

`lagrad.numpy` fills these when it is imported: operators on a `Var` and NumPy's
dispatch hooks look their function up in the tables, the solvers take the array
operations they need from `ops`, so data flows one way and the core stays free
of the layer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: NumPy ufunc -> the lagrad function that records it (``numpy.add`` -> ``lagrad.numpy.add``).
ufuncs: dict[Any, Callable[..., Any]] = {}

#: NumPy function -> the lagrad function with the same signature (``numpy.sum`` -> ``lagrad.numpy.sum``).
functions: dict[Any, Callable[..., Any]] = {}

#: Array method or attribute name -> lagrad function taking the array first (``"reshape"``).
methods: dict[str, Callable[..., Any]] = {}


#: The message refusing to turn a traced value with a derivative into a NumPy array, naming
#: the library function that asked: ``explain(var, caller_frame)``, set by `lagrad.explain`.
explain_conversion: Callable[[Any, Any], str] | None = None

#: An implementation's error while an equation was recorded, as raised: ``equation_error(message,
#: primitive, args, error)``, `message` naming the equation; set by `lagrad.lazy`, which names
#: the array libraries where they explain it.
equation_error: Callable[[str, Any, Any, Exception], Exception] | None = None


class ArrayOps:
    """The array operations the core and the solvers apply to multipliers and tangents, as
    recorded operations (so that they trace, for higher order); `lagrad.numpy` fills them."""

    unbroadcast: Callable[[Any, tuple[int, ...]], Any]  # sum an elementwise result back to a shape
    unbroadcast_batched: Callable[[Any, tuple[int, ...]], Any]  # the same, under a leading batch axis
    broadcast_to: Callable[[Any, tuple[int, ...]], Any]
    reshape: Callable[[Any, tuple[int, ...]], Any]
    astype: Callable[[Any, Any], Any]
    real: Callable[[Any], Any]  # a real variable's multiplier is real
    part: Callable[..., Any]  # output j of a primitive with several outputs
    # in-place writes on a traced array, recorded as functional updates (Var's hooks)
    setitem: Callable[[Any, Any, Any], None]  # x[index] = value
    inplace: Callable[[Any, Any, Any], Any]  # x op= other, through a ufunc
    ufunc_out: Callable[..., Any]  # a ufunc's out= argument


#: The array operations, filled by `lagrad.numpy`.
ops = ArrayOps()
