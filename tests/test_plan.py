"""method="auto": the cost model picks the method known to be right on programs where it is
(wide-to-scalar → reverse, scalar-to-wide → forward, banded → sparse), shows its figures,
and the Jacobian it returns is the dense reverse-mode one."""

from __future__ import annotations

import numpy as np
import pytest

import lagrad
import lagrad.numpy as lnp


def wide_to_scalar(x):
    return lnp.sum(lnp.sin(x) * x)


def scalar_to_wide(t):
    return lnp.sin(t * np.arange(50.0))


def banded(x):
    return x[1:] * x[:-1] + lnp.sin(x[1:])


@pytest.mark.parametrize(
    "f, x, expected",
    [
        (wide_to_scalar, np.linspace(0.1, 1.0, 50), "rev"),
        (scalar_to_wide, np.float64(0.3), "fwd"),
        (banded, np.linspace(0.1, 1.0, 200), "sparse"),
    ],
)
def test_the_cost_model_picks_the_known_answer(f, x, expected):
    plan = lagrad.plan(f, x)
    assert plan.method == expected
    assert plan.costs[expected] == min(plan.costs.values())
    assert "<- chosen" in plan.explain() and expected in repr(plan)
    np.testing.assert_allclose(lagrad.jacobian(f, method="auto")(x), lagrad.jacobian(f)(x), rtol=1e-12, atol=0)


def test_the_counts_are_those_of_the_model():
    # sin and multiply: three diagonal blocks of 50, the sum a 1×50 block: a sweep is 200
    plan = lagrad.plan(wide_to_scalar, np.ones(50))
    assert plan.sweep == 200 and plan.costs["rev"] == 200 and plan.costs["fwd"] == 50 * 200


def test_several_arguments_leave_sparse_out_and_elimination_can_win():
    f = lambda x, y: x * y + lnp.sin(x)
    args = (np.float64(0.5), np.float64(2.0))
    plan = lagrad.plan(f, *args, argnums=(0, 1))
    assert "sparse" not in plan.costs
    J = lagrad.jacobian(f, argnums=(0, 1), method="auto")(*args)
    np.testing.assert_allclose(J, lagrad.jacobian(f, argnums=(0, 1))(*args), rtol=1e-12)


def test_auto_refuses_aux():
    with pytest.raises(ValueError, match="has_aux"):
        lagrad.jacobian(lnp.sin, method="auto", has_aux=True)


def test_loops_and_implicit_equations_leave_elimination_out_and_stay_right():
    """Elimination refuses a fixed point (its diagonal block is not -I) and several-array loop
    values, so `auto` chooses between the sweeps there; both answers match finite differences."""
    x = np.linspace(0.1, 1.0, 4)

    def looped(x):
        return lagrad.fori_loop(0, 3, lambda i, u: u + 0.1 * lnp.sin(u), x) * x

    def implicit(x):
        return lagrad.fixed_point(lambda z, x: 0.3 * lnp.tanh(z[::-1] + x), np.zeros(4), x) * x

    for f in (looped, implicit):
        plan = lagrad.plan(f, x)
        assert "elimination" not in plan.costs and plan.method in ("rev", "fwd")
        e = 1e-6
        fd = np.stack([(np.asarray(f(x + e * d)) - np.asarray(f(x - e * d))) / (2 * e) for d in np.eye(4)], -1)
        np.testing.assert_allclose(lagrad.jacobian(f, method="auto")(x), fd, rtol=1e-7, atol=1e-9)
    with pytest.raises(NotImplementedError, match=r"elimination.*implicit equation"):
        lagrad.jacobian(implicit, method="elimination")(x)
