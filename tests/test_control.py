"""Indicators and stop_gradient."""

from __future__ import annotations

import numpy as np
import pytest

import lagrad
import lagrad.numpy as lnp
from tests.conftest import rand


def test_indicator_has_zero_derivative():
    x = rand(5)
    g = lagrad.grad(lambda x: lnp.sum(lagrad.indicator(x > 0) * x**2))(x)
    assert np.allclose(g, 2 * x * (x > 0))
    assert lagrad.indicator(np.array([True, False])).dtype == np.float64


def test_stop_gradient_is_recorded_and_blocks_the_derivative():
    x = rand(3)
    g = lagrad.grad(lambda x: lnp.sum(lagrad.stop_gradient(x) * x))(x)
    assert np.allclose(g, x)
    program = lagrad.trace(lambda x: lagrad.stop_gradient(x) * x, x)
    assert program.equations[0].primitive.name == "stop_gradient"


CONTAINERS = [
    pytest.param(lambda a, b: {"a": a, "b": b}, lambda t: (t["a"], t["b"]), id="dict"),
    pytest.param(lambda a, b: [a, b], lambda t: (t[0], t[1]), id="list"),
    pytest.param(lambda a, b: (a, [b]), lambda t: (t[0], t[1][0]), id="nested tuple"),
]


@pytest.mark.parametrize("make, parts", CONTAINERS)
def test_stop_gradient_of_a_container_stops_every_leaf(make, parts):
    # issue 16.1: stop_gradient(params) on a dict passed the derivative straight through
    a, b = rand(3), rand(3)

    def f(a, b):
        sa, sb = parts(lagrad.stop_gradient(make(a, b)))
        return lnp.sum(sa * a) + lnp.sum(sb * b**2)

    ga, gb = lagrad.grad(f, (0, 1))(a, b)
    assert np.allclose(ga, a) and np.allclose(gb, 2 * b**2)


def test_stop_gradient_of_the_issue_example():
    x = rand(3)
    g = lagrad.grad(lambda p: lnp.sum(lagrad.stop_gradient(p)["a"] * p["a"]))({"a": x})
    assert np.allclose(g["a"], x)


def test_indicator_of_a_container_is_the_indicator_of_every_leaf():
    x = rand(4)

    def f(x):
        ind = lagrad.indicator({"pos": x > 0, "neg": [x < 0]})
        return lnp.sum(ind["pos"] * x**2 - ind["neg"][0] * x)

    assert np.allclose(lagrad.grad(f)(x), 2 * x * (x > 0) - (x < 0))
