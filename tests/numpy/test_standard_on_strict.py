"""Every function of the Python Array API standard (`lagrad.coverage.STANDARD`: 2023.12 with its
linalg and fft extensions, under NumPy's names and the standard's) differentiated on
array-api-strict arrays by `lagrad.testing.check_grads`: tangent and reverse mode against central
differences computed in the library itself, and to second order.

The arrays live on array-api-strict's second device, which refuses any conversion to NumPy, so a
hidden NumPy call in a forward value, a rule or a sweep fails loudly; `check_grads` also requires
every derivative to come back as the library's array. One small sample per function: the first of
the coverage walk's generic calls (`coverage.walk_calls`) whose gradient is finite on NumPy, or,
where those do not fit the function (integer arguments, two arrays, a domain), a case written here.
The same matrix runs on CuPy where CuPy and a GPU are present.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import lagrad
import lagrad.numpy as lnp
from lagrad import coverage
from lagrad.testing import check_grads
from tests.helpers import cupy_or_skip

xp = pytest.importorskip("array_api_strict", reason="array-api-strict is not installed: pip install -e '.[test]'")
DEVICE = xp.Device("device1")

_RNG = np.random.default_rng(20261203)
X2 = _RNG.uniform(0.5, 1.5, (2, 3))
SQUARE = _RNG.uniform(0.5, 1.5, (3, 3)) + 3 * np.eye(3)
B = _RNG.uniform(-1, 1, (3, 2))


def _svd(x: Any) -> Any:
    # thin SVD, and only what does not depend on the singular vectors' signs
    u, s, vh = lnp.linalg.svd(x, full_matrices=False)
    return lnp.sum(s * s) + lnp.sum((u * u)[0]) + lnp.sum((vh * vh)[:, 1])


#: name -> (loss, arguments as NumPy arrays): the cases no generic call of the walk fits.
WRITTEN: dict[str, tuple[Callable[..., Any], tuple[np.ndarray, ...]]] = {
    "numpy.acosh": (lambda x: lnp.sum(lnp.acosh(x)), (X2 + 1,)),
    "numpy.arccosh": (lambda x: lnp.sum(lnp.arccosh(x)), (X2 + 1,)),
    "numpy.atanh": (lambda x: lnp.sum(lnp.atanh(x)), (X2 / 2,)),
    "numpy.arctanh": (lambda x: lnp.sum(lnp.arctanh(x)), (X2 / 2,)),
    "numpy.astype": (lambda x: lnp.sum(lnp.astype(x[:2], np.float64) ** 3), (X2,)),
    "numpy.clip": (lambda x: lnp.sum(lnp.clip(x, 0.7, 1.2) ** 2), (X2,)),  # no sample within 1e-3 of a bound
    "numpy.broadcast_to": (lambda v: lnp.sum(lnp.broadcast_to(v, (2, 3)) ** 2), (X2[0],)),
    "numpy.moveaxis": (lambda x: lnp.sum(lnp.moveaxis(x[:, :, None], 0, 2)[:, 0] ** 3), (X2,)),
    "numpy.reshape": (lambda x: lnp.sum(lnp.reshape(x, (3, 2))[1] ** 3), (X2,)),
    "numpy.where": (lambda x: lnp.sum(lnp.where(x > 1.0, x * x, lnp.sin(x))), (X2,)),
    "numpy.linalg.cross": (lambda a, b: lnp.sum(lnp.linalg.cross(a, b) ** 2), (X2, X2[::-1] ** 2)),
    "numpy.linalg.matrix_power": (lambda a: lnp.sum(lnp.linalg.matrix_power(a, 3)), (SQUARE / 3,)),
    "numpy.linalg.solve": (lambda a, b: lnp.sum(lnp.linalg.solve(a, b) ** 2), (SQUARE, B)),
    "numpy.linalg.svd": (_svd, (X2,)),
}


@functools.cache
def _walk_case(name: str) -> tuple[Callable[..., Any], tuple[np.ndarray, ...]] | None:
    """The coverage walk's case for `name`, on this file's smaller inputs: the first generic call
    whose gradient is finite on NumPy."""
    f = dict(coverage._walked_functions([name]))[name]
    x2, x1, square = X2, X2[0], SQUARE
    calls = {"f(x)": x2, "f(x, x)": x2, "f(x, 0)": x2, "f(v)": x1, "f(v, v)": x1, "f(square)": square}
    calls |= {"f(x, 2)": x2, "f(x / 2)": x2 / 2, "f(v / 2, v / 2)": x1 / 2}
    for label, call, _ in coverage.walk_calls():
        x = calls[label].copy()  # f(x, x) of a ufunc is f(x, out=x): it would write into the sample
        loss = functools.partial(lambda x, call, f: coverage._total(call(f, x)), call=call, f=f)
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                expected = lagrad.grad(loss)(x)
                finite = np.all(np.isfinite(loss(x))) and np.all(np.isfinite(expected))
        except Exception:
            continue
        if finite:
            return loss, (x,)
    return None


def _case(name: str) -> tuple[Callable[..., Any], tuple[np.ndarray, ...]] | None:
    return WRITTEN.get(name) or _walk_case(name)


NAMES = sorted(coverage.STANDARD)


def test_every_function_of_the_standard_has_a_case():
    assert len(NAMES) >= 134
    assert [name for name in NAMES if _case(name) is None] == []


@pytest.fixture(params=["array_api_strict", "cupy"])
def to_library(request):
    if request.param == "array_api_strict":
        return lambda a: xp.asarray(a, device=DEVICE)
    return cupy_or_skip().asarray  # pragma: no cover - needs CuPy and a GPU


@pytest.mark.parametrize("name", NAMES)
def test_check_grads_on_the_library_s_arrays(name, to_library):
    """Both modes, second order, differenced in the library; derivatives must be its arrays."""
    loss, args = _case(name)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        check_grads(loss, *map(to_library, args), modes=("fwd", "rev"), order=2)
