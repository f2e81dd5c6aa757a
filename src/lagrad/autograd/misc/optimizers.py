"""`lagrad.autograd.misc.optimizers`: autograd's gradient-descent loops, `sgd`, `rmsprop` and `adam`.

Each takes ``grad(x, i)`` (the gradient at iteration i), a start `x` (an array or a
nested tuple/list/dict of them) and an optional ``callback(x, i, g)``, and returns the
last iterate in the structure of `x`. The updates are autograd's, step for step.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from .flatten import flatten

Grad = Callable[[Any, int], Any]
Callback = Callable[[Any, int, Any], Any] | None


def _on_structures(step: Callable[..., Any]) -> Callable[..., Any]:
    """An optimiser of flat vectors as one of `x`'s structure."""

    @functools.wraps(step)
    def optimize(grad: Grad, x0: Any, callback: Callback = None, *args: Any, **kwargs: Any) -> Any:
        x, unflatten = flatten(x0)

        def flat_grad(x: Any, i: int) -> Any:
            return flatten(grad(unflatten(x), i))[0]

        flat_callback = None if callback is None else (lambda x, i, g: callback(unflatten(x), i, unflatten(g)))
        return unflatten(step(flat_grad, x, flat_callback, *args, **kwargs))

    return optimize


@_on_structures
def sgd(grad: Grad, x: Any, callback: Callback = None, num_iters: int = 200, step_size: float = 0.1,
        mass: float = 0.9) -> Any:  # fmt: skip
    """Gradient descent with momentum: v ← mass·v − (1 − mass)·g, x ← x + step_size·v."""
    velocity = np.zeros(len(x))
    for i in range(num_iters):
        g = grad(x, i)
        if callback:
            callback(x, i, g)
        velocity = mass * velocity - (1.0 - mass) * g
        x = x + step_size * velocity
    return x


@_on_structures
def rmsprop(grad: Grad, x: Any, callback: Callback = None, num_iters: int = 100, step_size: float = 0.1,
            gamma: float = 0.9, eps: float = 1e-8) -> Any:  # fmt: skip
    """Steps scaled by a running root mean square of the gradient (started at one)."""
    mean_square = np.ones(len(x))
    for i in range(num_iters):
        g = grad(x, i)
        if callback:
            callback(x, i, g)
        mean_square = gamma * mean_square + (1 - gamma) * g**2
        x = x - step_size * g / (np.sqrt(mean_square) + eps)
    return x


@_on_structures
def adam(grad: Grad, x: Any, callback: Callback = None, num_iters: int = 100, step_size: float = 0.001,
         b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> Any:  # fmt: skip
    """Adam (Kingma and Ba, 2015): running first and second moments with their bias corrected."""
    m = np.zeros(len(x))
    v = np.zeros(len(x))
    for i in range(num_iters):
        g = grad(x, i)
        if callback:
            callback(x, i, g)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        m_hat = m / (1 - b1 ** (i + 1))
        v_hat = v / (1 - b2 ** (i + 1))
        x = x - step_size * m_hat / (np.sqrt(v_hat) + eps)
    return x
