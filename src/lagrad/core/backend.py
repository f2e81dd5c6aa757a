"""Which array library a value lives in, asked once where it matters, NumPy first.

lagrad's Program is a sequence of array calls and its adjoint another, so both run in the
library of the inputs: NumPy hands its functions on to Dask and CuPy (``__array_function__``),
and the few places where the core looks at numbers (zero means zero's NaN check) ask here
whether the numbers exist yet. A Dask array is *lazy*: looking at it would compute its
whole graph, so the solvers build the masked result into the graph instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _plain(x: Any) -> Any:
    while hasattr(x, "_trace") and hasattr(x, "value"):  # a traced value (higher order): its number
        x = x.value
    return x


def is_lazy(x: Any) -> bool:
    """Whether `x` (or the value a traced `x` holds) is an array whose numbers are computed
    only when asked (a Dask array): NumPy's own types answer at once, without a lookup."""
    x = _plain(x)
    cls = type(x)
    if cls is np.ndarray or isinstance(x, (np.generic, int, float, complex)):
        return False
    if isinstance(x, tuple):  # the parts of a primitive with several outputs
        return any(p is not None and is_lazy(p) for p in x)
    return cls.__module__.startswith("dask.")


def backend_name(x: Any) -> str:
    """The library `x` belongs to, as users name it (``numpy``, ``dask``, ``cupy``...)."""
    x = _plain(x)
    if isinstance(x, (np.ndarray, np.generic)):
        return "numpy"
    return type(x).__module__.split(".")[0]


class LazyComputeError(RuntimeError):
    """lagrad would have computed a Dask graph where the user asked for none (`lagrad.lazy`)."""


UNKNOWN_SHAPE = (
    "its result has an unknown size (a Dask boolean-mask selection, compress, extract, unique or "
    "nonzero: chunk sizes are known only once computed), and lagrad records shapes as it traces. "
    "Keep the shape with numpy.where(mask, x, 0), or compute the mask first (mask.compute()) and "
    "index with the NumPy mask"
)


def unknown_shape(shape: Any) -> bool:
    """Whether a shape has an axis of unknown length (Dask writes NaN)."""
    return isinstance(shape, tuple) and any(isinstance(s, float) for s in shape)
