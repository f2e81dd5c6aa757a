"""Indicators and stop_gradient."""

from __future__ import annotations

import numpy as np

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
