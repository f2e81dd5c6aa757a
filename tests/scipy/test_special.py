"""lagrad.scipy.special: expit, logsumexp, softmax, log_softmax."""

from __future__ import annotations

import pytest
import scipy.special

import lagrad
import numpy as np
from lagrad.scipy import special
from tests.conftest import rand
from tests.helpers import check


@pytest.mark.parametrize("shape", [(), (3,), (2, 3)], ids=str)
def test_expit(shape):
    x = 3 * rand(*shape)
    check(special.expit, x)
    check(lambda x: scipy.special.expit(x) * 2.0, x)  # SciPy's own ufunc, through NumPy's hook
    assert np.allclose(lagrad.elementwise_grad(special.expit)(x), scipy.special.expit(x) * (1 - scipy.special.expit(x)))


@pytest.mark.parametrize("fun", [special.logsumexp, special.softmax, special.log_softmax], ids=lambda f: f.__name__)
@pytest.mark.parametrize(
    "shape,axis", [((4,), None), ((3, 4), None), ((3, 4), 1), ((3, 4), 0), ((2, 3, 4), (0, 2))], ids=str
)
def test_normalizers(fun, shape, axis):
    x = 2 * rand(*shape)
    reference = getattr(scipy.special, fun.__name__)
    assert np.allclose(fun(x, axis=axis), reference(x, axis=axis))
    check(lambda x: fun(x, axis=axis), x)


def test_logsumexp_keepdims_and_weights():
    x, b = rand(3, 4), rand(3, 4) + 2.0
    assert np.allclose(special.logsumexp(x, axis=1, b=b), scipy.special.logsumexp(x, axis=1, b=b))
    check(lambda x: special.logsumexp(x, axis=1, keepdims=True), x)
    check(lambda x, b: special.logsumexp(x, axis=0, b=b), x, b)


def test_softmax_gradient_closed_form():
    x, v = rand(5), rand(5)
    s = scipy.special.softmax(x)
    g = lagrad.grad(lambda x: np.dot(special.softmax(x), v))(x)
    assert np.allclose(g, s * (v - s @ v))
