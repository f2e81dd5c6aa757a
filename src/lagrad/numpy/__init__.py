"""`lagrad.numpy`: the NumPy API as primitives, one module per family.

Import it as ``import lagrad.numpy as np`` and write NumPy code; on plain
arrays every function is NumPy's, on traced values it records equations.
Plain ``import numpy`` code works too, through NumPy's dispatch hooks.
Constants, dtypes and array constructors are NumPy's own.

Each family module lists its functions in ``__all__``; adding a function to a
family is adding it there.
"""

from __future__ import annotations

from typing import Any

import numpy as _np
from numpy import (  # constants, dtypes and constructors: no derivative, NumPy's own
    arange,
    bool_,
    complex64,
    complex128,
    dtype,
    e,
    empty,
    eye,
    float16,
    float32,
    float64,
    full,
    identity,
    inf,
    int8,
    int16,
    int32,
    int64,
    nan,
    ndarray,
    newaxis,
    ones,
    pi,
    random,
    uint8,
    zeros,
)

from ..core import Var
from . import fft, linalg, polynomial, ufunc_methods
from ._register import NONDIFF, PRIMITIVES
from .indexing import *  # noqa: F403
from .manipulation import *  # noqa: F403
from .nondiff import *  # noqa: F403
from .polynomials import *  # noqa: F403
from .products import *  # noqa: F403
from .reductions import *  # noqa: F403
from .sorting import *  # noqa: F403
from .ufuncs import *  # noqa: F403


def _contains_traced(obj: Any) -> bool:
    if isinstance(obj, Var):
        return True
    if isinstance(obj, (list, tuple)):
        return any(_contains_traced(o) for o in obj)
    return False


def array(object: Any, dtype: Any = None, *, copy: bool = True, ndmin: int = 0, **kwargs: Any) -> Any:
    """numpy.array; nested lists holding traced values are stacked into a traced array."""
    if isinstance(object, Var):
        if dtype is None:
            return object._alias() if copy else object
        return astype(object, dtype, copy=bool(copy))  # noqa: F405
    if isinstance(object, (list, tuple)) and _contains_traced(object):
        result = stack([array(o) for o in object])  # noqa: F405
        return result if dtype is None else astype(result, dtype)  # noqa: F405
    return _np.array(object, dtype=dtype, copy=copy, ndmin=ndmin, **kwargs)


def asarray(a: Any, dtype: Any = None, **kwargs: Any) -> Any:
    """numpy.asarray; traced values pass through unchanged."""
    if isinstance(a, Var) or (isinstance(a, (list, tuple)) and _contains_traced(a)):
        return array(a, dtype=dtype, copy=False)
    return _np.asarray(a, dtype=dtype, **kwargs)


__all__ = sorted(name for name in dir() if not name.startswith("_") and name not in ("annotations", "Any", "Var"))
_ = (NONDIFF, PRIMITIVES)
