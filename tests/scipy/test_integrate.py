"""lagrad.scipy.integrate: SciPy's quadrature of samples, SciPy's values and checked derivatives."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.integrate

import lagrad
import lagrad.scipy as lsp
from tests.conftest import rand
from tests.helpers import check

X = np.sort(np.random.default_rng(3).uniform(0.0, 2.0, 7))

CASES = [
    ("trapezoid", lambda m, y: m.trapezoid(y, X), (2, 7)),
    ("trapezoid in x", lambda m, x: m.trapezoid(np.cos(X), x), (7,)),
    ("cumulative_trapezoid", lambda m, y: m.cumulative_trapezoid(y, X, initial=0), (2, 7)),
    ("cumulative_trapezoid dx axis", lambda m, y: m.cumulative_trapezoid(y, dx=0.5, axis=0), (4, 2)),
    ("cumulative_trapezoid in x", lambda m, x: m.cumulative_trapezoid(np.cos(X), x), (7,)),
    ("simpson odd", lambda m, y: m.simpson(y, x=X), (2, 7)),
    ("simpson even", lambda m, y: m.simpson(y, dx=0.3), (6,)),
    ("simpson axis", lambda m, y: m.simpson(y, axis=0), (5, 2)),
]


@pytest.mark.parametrize("name,fun,shape", CASES, ids=[c[0] for c in CASES])
def test_quadrature(name, fun, shape):
    a = X + 0.01 * rand(7) if name.endswith("in x") else rand(*shape)
    expected = fun(scipy.integrate, a)
    assert np.allclose(lagrad.value(lagrad.vjp(lambda a: fun(lsp.integrate, a), a)[0]), expected)
    assert np.allclose(fun(lsp.integrate, a), expected)
    check(lambda a: fun(lsp.integrate, a), a)


def test_simpson_refuses_traced_points():
    with pytest.raises(TypeError, match="trapezoid"):
        lagrad.grad(lambda x: lsp.integrate.simpson(np.ones(7), x=x))(X)
