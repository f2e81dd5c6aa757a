"""`lagrad.scipy.signal`: N-dimensional convolution and correlation, differentiable in both inputs.

`convolve` is one primitive, bilinear in its inputs; its transposes are
convolutions with the other input flipped (correlations), in "valid" mode
for a "full" convolution and the other way round. "same" is the centre of
the "full" result, so its transpose is the slice's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.signal as _signal

from ..core import deflinear
from ..numpy import conjugate, multiply
from ..numpy._register import array_like, prim
from ..numpy.manipulation import shape_of

__all__ = ["convolve", "correlate"]

_MODES = ("full", "same", "valid")
_METHODS = ("auto", "direct", "fft")

_convolve = prim("signal.convolve", lambda in1, in2, mode, method: _signal.convolve(in1, in2, mode=mode, method=method))


def _array(x: Any) -> Any:
    return array_like(x)


def _flip(x: Any) -> Any:
    """`x` reversed along every axis."""
    return x[(slice(None, None, -1),) * x.ndim]


def _covers(shape1: tuple[int, ...], shape2: tuple[int, ...]) -> bool:
    """Whether an array of `shape1` is at least as large as one of `shape2` along every axis."""
    return all(n1 >= n2 for n1, n2 in zip(shape1, shape2))


def _transpose_mode(mode: str, own: tuple[int, ...], other: tuple[int, ...]) -> str:
    """The mode of the convolution of the multiplier with the other input, flipped, that
    transposes a `mode` convolution in the argument of shape `own`: "full" and "valid"
    exchange, except that the smaller input of a "valid" convolution gets "valid" again."""
    if mode == "full":
        return "valid"
    return "full" if _covers(own, other) else "valid"


def _vjp_in1(g: Any, ans: Any, in1: Any, in2: Any, mode: str, method: str) -> Any:
    return _convolve(g, _flip(in2), mode=_transpose_mode(mode, in1.shape, in2.shape), method=method)


def _vjp_in2(g: Any, ans: Any, in1: Any, in2: Any, mode: str, method: str) -> Any:
    return _convolve(g, _flip(in1), mode=_transpose_mode(mode, in2.shape, in1.shape), method=method)


deflinear(_convolve, _vjp_in1, _vjp_in2)


def convolve(in1: Any, in2: Any, mode: str = "full", method: str = "auto") -> Any:
    """The N-dimensional convolution of `in1` and `in2` (same number of dimensions), as
    ``scipy.signal.convolve``: `mode` "full", "same" (shaped like `in1`) or "valid";
    `method` "auto", "direct" or "fft" chooses how SciPy computes it."""
    if mode not in _MODES:
        raise ValueError(f"lagrad.scipy.signal.convolve: mode must be one of {_MODES}, not {mode!r}")
    if method not in _METHODS:
        raise ValueError(f"lagrad.scipy.signal.convolve: method must be one of {_METHODS}, not {method!r}")
    in1, in2 = _array(in1), _array(in2)
    shape1, shape2 = shape_of(in1), shape_of(in2)
    if len(shape1) != len(shape2):
        raise ValueError(
            f"lagrad.scipy.signal.convolve: in1 and in2 need the same number of dimensions, not "
            f"{len(shape1)} and {len(shape2)}; add axes of length 1 with lagrad.numpy.expand_dims"
        )
    if not shape1:
        return multiply(in1, in2)
    if mode == "valid" and not (_covers(shape1, shape2) or _covers(shape2, shape1)):
        raise ValueError(
            f"lagrad.scipy.signal.convolve: in 'valid' mode one input must be at least as large as "
            f"the other along every axis, not {shape1} and {shape2}"
        )
    if mode == "same":  # the centre of the full convolution, as SciPy takes it
        full = _convolve(in1, in2, mode="full", method=method)
        return full[tuple(slice((n2 - 1) // 2, (n2 - 1) // 2 + n1) for n1, n2 in zip(shape1, shape2))]
    return _convolve(in1, in2, mode=mode, method=method)


def correlate(in1: Any, in2: Any, mode: str = "full", method: str = "auto") -> Any:
    """The N-dimensional cross-correlation of `in1` and `in2`, as ``scipy.signal.correlate``:
    the convolution of `in1` with `in2` flipped along every axis and conjugated."""
    in2 = _array(in2)
    if np.dtype(in2.dtype).kind == "c":
        in2 = conjugate(in2)
    return convolve(in1, _flip(in2), mode, method)
