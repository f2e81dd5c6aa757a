"""The 50-primitive chain of benchmarks/chain.py: it uses the primitives it claims, and
lagrad's gradient of it is right (at a small size): a fast wrong answer measures nothing."""

from __future__ import annotations

import pathlib
import sys

import numpy as np
import pytest

import lagrad
from lagrad.testing import check_grads

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "benchmarks"))

import chain  # benchmarks/ is not a package: found through sys.path

N = 100


def _loss():
    d = chain.data(N)
    return chain.chain(chain._lagrad_ops(), d), d["x"]


def test_the_chain_uses_fifty_different_differentiable_primitives():
    f, x = _loss()
    program = lagrad.trace(f, x)
    used = {eq.primitive.name for eq in program.equations if eq.diff}
    assert used == set(chain.PRIMITIVES) and len(chain.PRIMITIVES) == 50


def test_the_forward_pass_is_numpys():
    f, x = _loss()
    assert np.isclose(lagrad.value(f(x)), chain.build("numpy", N)(), rtol=1e-13)
    assert np.isclose(lagrad.value(f(x)), chain.build("numpy-user", N)(), rtol=1e-13)


def test_lagrad_gradient_of_the_chain_matches_finite_differences():
    f, x = _loss()
    # check_grads, not tests.helpers.check: the chain passes through complex values, whose
    # multipliers of real variables the solvers' cross-check does not yet project alike
    check_grads(f, x, order=1)  # order 1: each primitive's second order is checked in its own module's tests
    g = chain.build("lagrad", N)()
    assert g.shape == x.shape and np.abs(g).max() > 0.1  # a gradient of a useful size


def test_lagrad_and_autograd_agree_on_the_chain():
    pytest.importorskip("autograd")
    assert np.allclose(chain.build("lagrad", N)(), chain.build("autograd", N)(), rtol=1e-10, atol=1e-12)


def test_the_row_prints(monkeypatch, capsys):
    monkeypatch.setattr(chain, "LIBRARIES", ("lagrad",))
    assert chain.main(["--n", str(N), "--repeats", "3"]) == 0
    out = capsys.readouterr().out
    assert "chain of 50 primitives" in out and "lagrad" in out
