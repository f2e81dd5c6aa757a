"""lagrad.scipy.signal: convolve and correlate in every mode, values against SciPy,
derivatives in both inputs against finite differences (both modes, second order)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

import lagrad
from lagrad.scipy import signal
from tests.conftest import rand
from tests.helpers import check

# pairs of shapes: the first larger, the second larger, equal, even and odd lengths, 1-D to 3-D
SHAPES = [
    ((5,), (3,)),
    ((3,), (4,)),
    ((4,), (4,)),
    ((4, 5), (2, 3)),
    ((2, 2), (3, 4)),
    ((3, 2), (3, 2)),
    ((2, 3, 2), (2, 2, 1)),
]
MODES = ["full", "same", "valid"]


@pytest.mark.parametrize("name", ["convolve", "correlate"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shapes", SHAPES, ids=str)
def test_values_and_derivatives(name, mode, shapes):
    a, b = rand(*shapes[0]), rand(*shapes[1])
    ours, theirs = getattr(signal, name), getattr(scipy.signal, name)
    assert np.allclose(ours(a, b, mode), theirs(a, b, mode), rtol=1e-12, atol=1e-14)
    check(lambda a, b: ours(a, b, mode), a, b)


@pytest.mark.parametrize("method", ["direct", "fft"])
@pytest.mark.parametrize("mode", MODES)
def test_methods(method, mode):
    a, b = rand(6, 3), rand(3, 2)
    assert np.allclose(signal.convolve(a, b, mode, method), scipy.signal.convolve(a, b, mode, method))
    check(lambda a, b: signal.correlate(a, b, mode, method), a, b)


@pytest.mark.parametrize("mode", MODES)
def test_complex_inputs(mode):
    a, b = rand(4) + 1j * rand(4), rand(3) + 1j * rand(3)
    assert np.allclose(signal.convolve(a, b, mode), scipy.signal.convolve(a, b, mode))
    assert np.allclose(signal.correlate(a, b, mode), scipy.signal.correlate(a, b, mode))
    check(lambda a, b: signal.convolve(a, b, mode), a, b)
    check(lambda a, b: signal.correlate(a, b, mode), a, b)  # conjugates in2: real-linear only


def test_scalars_and_lists():
    assert signal.convolve(2.0, 3.0) == scipy.signal.convolve(2.0, 3.0)
    check(signal.convolve, np.float64(2.0), np.float64(3.0))
    assert np.allclose(
        signal.correlate([1.0, 2.0, 3.0], [0.0, 1.0]), scipy.signal.correlate([1.0, 2.0, 3.0], [0.0, 1.0])
    )


def test_gradient_closed_form():
    """The gradient of <convolve(a, b), w> in a is correlate(w, b, 'valid')."""
    a, b, w = rand(5), rand(3), rand(7)
    g = lagrad.grad(lambda a: np.sum(signal.convolve(a, b) * w))(a)
    assert np.allclose(g, np.correlate(w, b, "valid"))


def test_bad_input():
    with pytest.raises(ValueError, match="convolve: mode must be one of"):
        signal.convolve(rand(3), rand(2), mode="circular")
    with pytest.raises(ValueError, match="convolve: method must be one of"):
        signal.convolve(rand(3), rand(2), method="overlap")
    with pytest.raises(ValueError, match="need the same number of dimensions"):
        signal.convolve(rand(3), rand(2, 2))
    with pytest.raises(ValueError, match="at least as large as the other along every axis"):
        signal.convolve(rand(3, 2), rand(2, 3), mode="valid")
