"""The three solvers of A λ = b agree on every test program; back-substitution frees as it goes."""

from __future__ import annotations

import numpy as np
import pytest

import lagrad
import lagrad.numpy as lnp
from lagrad.adjoint import back_substitution, forward_substitution
from lagrad.scipy.special import expit, logsumexp, softmax
from lagrad.testing import check_solvers
from tests.conftest import positive, rand


def branchy(x, a):
    y = x
    for _ in range(4):
        y = a * y * (1 - y) if lnp.sum(y) < 1.0 else lnp.sin(a * y) + 0.1 * y
    return y


def densenet(x, w):
    feats = [x]
    for _ in range(3):
        feats.append(lnp.tanh(lnp.concatenate(feats, axis=1) @ w[: sum(f.shape[1] for f in feats), :2]))
    return lnp.sum(feats[-1])


PROGRAMS = [
    ("seed network", lambda x, w1, w2: logsumexp(expit(x @ w1) @ w2, axis=1), (rand(4, 3), rand(3, 5), rand(5, 2))),
    ("softmax", lambda x: softmax(x, axis=0) * x, (rand(3, 2),)),
    ("branches and loop", branchy, (rand(3, low=0.1, high=0.3), np.float64(3.7))),
    ("shared input", lambda x: x * x + lnp.exp(x) * x, (rand(4),)),
    ("broadcast", lambda x, b: (x + b) * b, (rand(3, 4), rand(4))),
    ("reductions", lambda x: lnp.max(x, axis=0) * lnp.prod(x, axis=1).sum(), (positive(3, 3),)),
    ("indexing", lambda x: x[1:, [0, 2]] * x[0, 1], (rand(3, 3),)),
    ("dense block", densenet, (rand(2, 2), rand(6, 2))),
    ("heat", lambda u: lnp.sum((u + 0.2 * (lnp.roll(u, 1) - 2 * u + lnp.roll(u, -1))) ** 2), (rand(8),)),
]


@pytest.mark.parametrize("name,f,args", PROGRAMS, ids=[p[0] for p in PROGRAMS])
def test_solvers_agree(name, f, args):
    check_solvers(f, *args)


def test_back_substitution_drops_each_multiplier_after_its_last_consumer():
    def f(x):
        for _ in range(5):
            x = lnp.sin(x) * 2.0
        return lnp.sum(x)

    x = rand(3)
    program = lagrad.trace(f, x)
    tape = program.replay(x)
    seeds = {program.outputs[0]: np.float64(1.0)}
    lam = back_substitution(program, tape, seeds)
    assert lam[0] is not None  # the input's multiplier is the gradient
    assert all(v is None for v in lam[1:])  # every intermediate one was dropped once used
    kept = back_substitution(program, tape, seeds, keep_all=True)
    assert all(v is not None for v in kept)
    assert np.array_equal(kept[0], lam[0])


def test_forward_substitution_is_tangent_mode():
    f = lambda x, y: lnp.sum(lnp.sin(x) * y)
    x, y, tx, ty = rand(3), rand(3), rand(3), rand(3)
    program = lagrad.trace(f, x, y)
    t = forward_substitution(program, program.replay(x, y), {0: tx, 1: ty})
    expected = np.sum(np.cos(x) * tx * y + np.sin(x) * ty)
    assert np.isclose(t[program.outputs[0]], expected)


def test_grad_by_each_method():
    x, w1, w2 = PROGRAMS[0][2]
    f = lambda w1, w2: lnp.sum(PROGRAMS[0][1](x, w1, w2))
    reference = lagrad.grad(f, (0, 1))(w1, w2)
    for method in ("forward_substitution", "sparse"):
        got = lagrad.grad(f, (0, 1), method=method)(w1, w2)
        assert all(np.allclose(a, b, atol=1e-12) for a, b in zip(got, reference))
    with pytest.raises(ValueError, match="unknown method"):
        lagrad.grad(f, method="gauss")(w1, w2)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # levels' threads and sparse's matrix meet 0/0 outside errstate
@pytest.mark.parametrize("method", ["back_substitution", "levels", "sparse"])
def test_a_solver_honours_mask_false(method):
    # sqrt(x)·x at 0: the multiplier x = 0 meets sqrt's infinite partial, which zero means
    # zero reads as 0; mask=False turns that off (for a NaN output) and must give NaN. The
    # back_substitution, levels (on NumPy) and sparse solvers dropped the option silently
    system = lagrad.adjoint(lambda x: lnp.sum(lnp.sqrt(x) * x), np.array([0.0, 1.0]))
    assert system.solve(method)[1].tolist() == [0.0, 1.5]
    unmasked = system.solve(method, mask=False)[1]
    assert np.isnan(unmasked[0]) and unmasked[1] == 1.5


@pytest.mark.parametrize("method", ["back_substitution", "forward_substitution", "levels", "sparse"])
def test_a_solver_refuses_an_option_it_does_not_take(method):
    system = lagrad.adjoint(lambda x: lnp.sum(lnp.sin(x)), np.array([0.0, 1.0]))
    with pytest.raises(TypeError, match=f"the {method!r} solver takes no option 'tolerance'"):
        system.solve(method, tolerance=1e-3)


def test_forward_substitution_refuses_mask_false():
    # its tangent sweep recomputes NaN entries by masked transposed solves: it has no unmasked answer
    system = lagrad.adjoint(lambda x: lnp.sum(lnp.sqrt(x) * x), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"forward_substitution.*mask=False"):
        system.solve("forward_substitution", mask=False)
