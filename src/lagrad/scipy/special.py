"""`lagrad.scipy.special`: special functions as primitives, with their derivative rules.

SciPy's ufuncs (`expit`) are also found by ``scipy.special.expit(traced)``
through NumPy's ufunc hook; the others are called from here.
"""

from __future__ import annotations

from typing import Any

import scipy.special as _sp

from ..core import defjvp, defrule, defvjp
from ..numpy import exp, log, sum
from ..numpy._register import prim, ufunc
from ..numpy.manipulation import reshape, shape_of
from ..numpy.reductions import kept_shape, normalize_axes


def _axes(axis: Any, x: Any) -> tuple[int, ...]:
    return normalize_axes(axis, len(shape_of(x)))


def _kept(y: Any, x: Any, axis: tuple[int, ...], keepdims: bool) -> Any:
    """A reduction's result `y`, with the reduced axes kept as length 1."""
    return y if keepdims else reshape(y, kept_shape(x.shape, axis))


def _shifted_exp(x: Any, ans: Any, axis: tuple[int, ...], keepdims: bool) -> Any:
    """exp(x - logsumexp(x)): the weights the derivative of logsumexp puts on x."""
    return exp(x - _kept(ans, x, axis, keepdims))


expit = ufunc(_sp.expit)
_logsumexp = prim("logsumexp", lambda x, axis, keepdims: _sp.logsumexp(x, axis=axis, keepdims=keepdims))
_softmax = prim("softmax", lambda x, axis: _sp.softmax(x, axis=axis))
_log_softmax = prim("log_softmax", lambda x, axis: _sp.log_softmax(x, axis=axis))

# fmt: off
defrule(expit,        lambda g, ans, x: g * ans * (1 - ans))
defvjp(_logsumexp,    lambda g, ans, x, axis, keepdims: _kept(g, x, axis, keepdims) * _shifted_exp(x, ans, axis, keepdims))  # noqa: E501
defjvp(_logsumexp,    lambda t, ans, x, axis, keepdims: sum(t * _shifted_exp(x, ans, axis, keepdims), axis, keepdims=keepdims))  # noqa: E501
defvjp(_softmax,      lambda g, ans, x, axis: ans * (g - sum(g * ans, axis=axis, keepdims=True)))
defjvp(_softmax,      lambda t, ans, x, axis: ans * (t - sum(t * ans, axis=axis, keepdims=True)))
defvjp(_log_softmax,  lambda g, ans, x, axis: g - exp(ans) * sum(g, axis=axis, keepdims=True))
defjvp(_log_softmax,  lambda t, ans, x, axis: t - sum(exp(ans) * t, axis=axis, keepdims=True))
# fmt: on


def logsumexp(a: Any, axis: Any = None, b: Any = None, keepdims: bool = False, return_sign: bool = False) -> Any:
    """log(sum(b * exp(a))) over `axis`, computed stably; `b` (positive) scales each term."""
    if return_sign:
        raise NotImplementedError("lagrad.scipy.special.logsumexp: return_sign=True is not supported")
    if b is not None:
        a = a + log(b)
    return _logsumexp(a, axis=_axes(axis, a), keepdims=bool(keepdims))


def softmax(x: Any, axis: Any = None) -> Any:
    """exp(x) / sum(exp(x)) over `axis` (all axes when None)."""
    return _softmax(x, axis=_axes(axis, x))


def log_softmax(x: Any, axis: Any = None) -> Any:
    """x - logsumexp(x) over `axis` (all axes when None)."""
    return _log_softmax(x, axis=_axes(axis, x))
