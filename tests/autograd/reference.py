"""Real autograd, where it is installed (an optional test dependency), and finite differences,
which give every comparison a meaning without it."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np


def real_autograd() -> SimpleNamespace | None:
    """autograd's modules, as a program imports them, or None where autograd is not installed."""
    try:
        import autograd
        import autograd.extend
        import autograd.misc.optimizers
        import autograd.numpy
        import autograd.scipy.special
        import autograd.scipy.stats.multivariate_normal
        import autograd.scipy.stats.norm
    except ImportError:
        return None
    return SimpleNamespace(
        ag=autograd,
        np=autograd.numpy,
        extend=autograd.extend,
        logsumexp=autograd.scipy.special.logsumexp,
        adam=autograd.misc.optimizers.adam,
        mvn=autograd.scipy.stats.multivariate_normal,
        norm=autograd.scipy.stats.norm,
    )


def ours() -> SimpleNamespace:
    import lagrad.autograd
    import lagrad.autograd.extend
    import lagrad.autograd.misc.optimizers
    import lagrad.autograd.numpy
    import lagrad.autograd.scipy.special
    import lagrad.autograd.scipy.stats.multivariate_normal
    import lagrad.autograd.scipy.stats.norm

    return SimpleNamespace(
        ag=lagrad.autograd,
        np=lagrad.autograd.numpy,
        extend=lagrad.autograd.extend,
        logsumexp=lagrad.autograd.scipy.special.logsumexp,
        adam=lagrad.autograd.misc.optimizers.adam,
        mvn=lagrad.autograd.scipy.stats.multivariate_normal,
        norm=lagrad.autograd.scipy.stats.norm,
    )


def numerical_gradient(f: Any, x: Any, eps: float = 1e-6) -> np.ndarray:
    """Central differences of a scalar function of one float array."""
    x = np.asarray(x, dtype=float)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = eps
        g[i] = (float(f(x + e)) - float(f(x - e))) / (2 * eps)
    return g


def assert_trees_close(a: Any, b: Any, rtol: float = 1e-10, atol: float = 1e-12) -> None:
    from lagrad import tree_flatten

    leaves_a, tree_a = tree_flatten(a)
    leaves_b, tree_b = tree_flatten(b)
    assert len(leaves_a) == len(leaves_b), (tree_a, tree_b)
    for x, y in zip(leaves_a, leaves_b):
        np.testing.assert_allclose(x, y, rtol=rtol, atol=atol)
