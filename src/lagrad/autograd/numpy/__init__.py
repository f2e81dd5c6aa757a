"""`lagrad.autograd.numpy`: what ``import autograd.numpy as np`` gives, on lagrad.

Every function lagrad differentiates is `lagrad.numpy`'s; every other NumPy name
(dtypes, constants, constructors, utilities without a derivative) is NumPy's own,
as in autograd, whose NumPy wrapper covers all of NumPy's namespace.
"""

from __future__ import annotations

from typing import Any

import numpy as _np

from ... import numpy as _lnp
from ...control import value as _value
from ...numpy import *  # noqa: F403
from ...scipy.special import i0  # numpy.i0 is the modified Bessel function SciPy's i0 also computes
from . import fft, linalg, numpy_boxes, random

__all__ = [*_lnp.__all__, "fft", "full", "i0", "linalg", "make_diagonal", "numpy_boxes", "random"]


def full(shape: Any, fill_value: Any, dtype: Any = None, **kwargs: Any) -> Any:
    """numpy.full; a traced fill value is broadcast into a traced array (autograd's rules
    write ``np.full(x.shape, g)``, which second derivatives trace)."""
    if _value(fill_value) is fill_value:
        return _np.full(shape, fill_value, dtype=dtype, **kwargs)
    filled = _lnp.broadcast_to(fill_value, shape) + _np.zeros(shape, dtype=dtype or _np.result_type(_value(fill_value)))
    return filled if dtype is None else _lnp.astype(filled, dtype)


def make_diagonal(D: Any, offset: int = 0, axis1: int = -1, axis2: int = -2) -> Any:
    """autograd's inverse of `diagonal`: the last axis of `D` spread over the diagonal of a
    new last pair of axes (the only case autograd offers too)."""
    if not (offset == 0 and axis1 == -1 and axis2 == -2):
        raise NotImplementedError("lagrad.autograd.numpy.make_diagonal: only offset=0, axis1=-1, axis2=-2")
    n = _np.shape(_value(D))[-1]
    return _lnp.expand_dims(D, -1) * _np.eye(n)


def __getattr__(name: str) -> Any:
    """NumPy's names that lagrad.numpy leaves out, straight from NumPy."""
    try:
        return getattr(_np, name)
    except AttributeError:
        raise AttributeError(f"module 'lagrad.autograd.numpy' has no attribute {name!r}") from None
