"""`lagrad.scipy.integrate`: SciPy's quadrature of sampled data, differentiable:
`trapezoid`, `cumulative_trapezoid` and `simpson`.

The trapezoidal rules are written with lagrad.numpy (differentiable in `y`, `x` and `dx`).
Simpson's rule is linear in `y` for fixed sample points, so it is SciPy's own weights (SciPy
applied to the unit vectors) contracted with `y`: exactly SciPy's rule for either parity of
the number of samples, differentiable in `y`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.integrate as _integrate

from ..numpy import manipulation as _shape
from ..numpy import reductions as _red
from ..numpy._register import array_like, holds_traced
from ..numpy.products import trapezoid as _trapezoid

__all__ = ["cumulative_trapezoid", "simpson", "trapezoid"]


def trapezoid(y: Any, x: Any = None, dx: Any = 1.0, axis: int = -1) -> Any:
    """scipy.integrate.trapezoid: the trapezoidal rule along `axis`."""
    if not holds_traced((y, x, dx)):
        return _integrate.trapezoid(y, x, dx, axis)
    return _trapezoid(y, x, dx, axis)


def cumulative_trapezoid(y: Any, x: Any = None, dx: Any = 1.0, axis: int = -1, initial: Any = None) -> Any:
    """scipy.integrate.cumulative_trapezoid: the running trapezoidal integral along `axis`,
    `initial` (0, as SciPy allows) put first."""
    if not holds_traced((y, x, dx)):
        return _integrate.cumulative_trapezoid(y, x, dx, axis, initial)
    y = array_like(y)
    ndim = len(_shape.shape_of(y))
    axis = _shape.axis_index(axis, ndim)
    if x is None:
        d = dx
    else:
        x = array_like(x)
        if len(_shape.shape_of(x)) == 1:
            d = _shape.reshape(_shape.diff(x), tuple(-1 if i == axis else 1 for i in range(ndim)))
        else:
            d = _shape.diff(x, axis=axis)
    upper = y[_shape.along(axis, slice(1, None))]
    lower = y[_shape.along(axis, slice(None, -1))]
    result = _red.cumsum(d * (upper + lower) / 2.0, axis=axis)
    if initial is None:
        return result
    if not np.isscalar(initial) or initial != 0:
        raise ValueError("lagrad.scipy.integrate.cumulative_trapezoid: `initial` must be `None` or `0`.")
    edge = np.zeros(_red.kept_shape(_shape.shape_of(result), (axis,)))
    return _shape.concatenate([edge, result], axis=axis)


def simpson(y: Any, *, x: Any = None, dx: float = 1.0, axis: int = -1) -> Any:
    """scipy.integrate.simpson along `axis`; differentiable in `y` (sample points `x` plain)."""
    if not holds_traced((y, x, dx)):
        return _integrate.simpson(y, x=x, dx=dx, axis=axis)
    if holds_traced((x, dx)):
        raise TypeError(
            "lagrad.scipy.integrate.simpson: traced sample points x (or dx) are not supported; "
            "give them as plain arrays, or use trapezoid, which is differentiable in x"
        )
    y = array_like(y)
    ndim = len(_shape.shape_of(y))
    axis = _shape.axis_index(axis, ndim)
    n = _shape.shape_of(y)[axis]
    points = None if x is None else np.asarray(x)
    if points is not None and points.ndim > 1:
        raise TypeError("lagrad.scipy.integrate.simpson: on traced y, give x as a 1-d array")
    weights = _integrate.simpson(np.eye(n), x=points, dx=dx, axis=-1)
    moved = _shape.moveaxis(y, axis, -1)
    return _red.sum(moved * weights, axis=-1)
