"""method="auto": the cost model picks the method known to be right on programs where it is
(wide-to-scalar → reverse, scalar-to-wide → forward, banded → sparse), shows its figures,
and the Jacobian it returns is the dense reverse-mode one."""

from __future__ import annotations

import pathlib
import sys

import numpy as np
import pytest

import lagrad
import lagrad.numpy as lnp
from lagrad.plan import COSTS

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "benchmarks"))

import elimination as literature

A = np.random.default_rng(1).standard_normal((10, 10)) / 3


def wide_to_scalar(x):
    # a product of traced matrices: elimination would build its 100×100 block by 100 sweeps
    X = lnp.reshape(x, (10, 10))
    return lnp.sum(lnp.tanh(X @ X))


def scalar_to_wide(t):
    return lnp.reshape((t * A) @ (t * A), (100,))


def banded(x):
    return x[1:] * x[:-1] + lnp.sin(x[1:])


def stencil(u, n=12):
    v = lnp.reshape(u, (n, n))
    p = lnp.pad(v, 1)
    return lnp.reshape(p[2:, 1:-1] + p[:-2, 1:-1] + p[1:-1, 2:] + p[1:-1, :-2] - 4 * v - v**3, (n * n,))


def _literature(name):
    make, args = literature.PROBLEMS[name]
    return make(lnp), tuple(np.float64(a) for a in args)


# benchmarks/plan.py measures every candidate's wall time on these programs (the first four at
# these sizes or larger) and finds the chosen method the fastest
@pytest.mark.parametrize(
    "f, x, expected",
    [
        (wide_to_scalar, np.linspace(-0.3, 0.3, 100), "rev"),
        (scalar_to_wide, np.float64(0.7), "fwd"),
        (banded, np.linspace(0.1, 1.0, 200), "sparse"),
        (stencil, np.linspace(-1.0, 1.0, 144), "sparse"),
    ],
)
def test_the_cost_model_picks_the_known_answer(f, x, expected):
    plan = lagrad.plan(f, x)
    assert plan.method == expected
    assert plan.costs[expected] == min(plan.costs.values())
    assert "<- chosen" in plan.explain() and expected in repr(plan)
    np.testing.assert_allclose(lagrad.jacobian(f, method="auto")(x), lagrad.jacobian(f)(x), rtol=1e-12, atol=0)


@pytest.mark.parametrize("name", list(literature.PROBLEMS))
def test_the_literature_functions_are_eliminated(name):
    f, args = _literature(name)
    argnums = tuple(range(len(args)))
    plan = lagrad.plan(f, *args, argnums=argnums)
    assert plan.method == "elimination" and "sparse" not in plan.costs
    J = lagrad.jacobian(f, argnums=argnums, method="auto")(*args)
    expected = np.array(lagrad.jacobian(f, argnums=argnums)(*args))
    np.testing.assert_allclose(np.array(J, dtype=float), expected, rtol=1e-10)


def test_the_counts_are_those_of_the_model():
    # sin and multiply: three diagonal blocks of 50, the sum a 1×50 block: a sweep touches 200 entries
    plan = lagrad.plan(lambda x: lnp.sum(lnp.sin(x) * x), np.ones(50))
    assert plan.sweep == 200 and plan.counts["rev"]["entry"] == 150 and plan.counts["rev"]["dense_entry"] == 50
    assert plan.counts["fwd"]["entry"] == 50 * 150 and plan.counts["fwd"]["dense_entry"] == 50 * 50
    assert plan.counts["rev"]["sweep"] == plan.counts["fwd"]["tangent_sweep"] == 3
    # the slices x[1:], x[:-1] (199 nonzeros, 200 columns) count 200 each, five diagonals of 199
    plan = lagrad.plan(banded, np.linspace(0.1, 1.0, 200))
    assert plan.sweep == 3 * 200 + 5 * 199 and plan.colours == 2
    assert plan.counts["sparse"]["entry"] == 2 * plan.sweep and plan.counts["sparse"]["dense_entry"] == 0
    assert plan.counts["sparse"]["sparse_entry"] == 2 * 199  # the Jacobian's nonzeros: x[i], x[i + 1] per row
    # elimination: the products with the slices (gathers) are NumPy index steps, priced as such;
    # only the one with the sum of two of them (a general sparse block) is a scipy.sparse product
    assert plan.counts["elimination"]["sparse"] == 1 and plan.counts["elimination"]["matrix"] == 4
    for name, counts in plan.counts.items():
        assert plan.costs[name] == pytest.approx(sum(COSTS[k] * n for k, n in counts.items()))


def test_several_arguments_leave_sparse_out_and_elimination_can_win():
    f = lambda x, y: x * y + lnp.sin(x)
    args = (np.float64(0.5), np.float64(2.0))
    plan = lagrad.plan(f, *args, argnums=(0, 1))
    assert "sparse" not in plan.costs
    J = lagrad.jacobian(f, argnums=(0, 1), method="auto")(*args)
    np.testing.assert_allclose(J, lagrad.jacobian(f, argnums=(0, 1))(*args), rtol=1e-12)


def test_on_traced_values_the_plan_offers_only_the_sweeps_it_would_run():
    # inside a derivative, elimination and sparse read plain numbers and are not run: a plan that
    # chose one of them reported a method other than the one that ran
    f = lambda x: lnp.sum(lnp.tanh(lnp.outer(x, x)) @ x)
    offered = []

    def g(x):
        offered.append(set(lagrad.plan(f, x).costs))
        return lnp.sum(lagrad.jacobian(f, method="auto")(x))

    x = np.linspace(0.0, 1.0, 6)
    lagrad.grad(g)(x)
    assert offered == [{"rev", "fwd"}]
    assert set(lagrad.plan(f, x).costs) >= {"rev", "fwd", "elimination"}


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


def test_every_program_of_the_plan_benchmark_gets_the_reverse_mode_jacobian():
    import plan as benchmark  # benchmarks/plan.py: the programs whose choices it times

    for f, args, argnums in benchmark.programs().values():
        if sum(np.size(a) for a in args) > 1000:
            continue  # the large banded program: its method is the smaller one's
        J = lagrad.jacobian(f, argnums=argnums, method="auto")(*args)
        expected = lagrad.jacobian(f, argnums=argnums, mode="rev")(*args)
        np.testing.assert_allclose(np.array(J, dtype=float), np.array(expected, dtype=float), rtol=1e-10, atol=1e-12)


def _counting_plans(monkeypatch):
    plan_module = sys.modules["lagrad.plan"]  # lagrad.plan is the function

    made = []
    make = plan_module._plan
    monkeypatch.setattr(plan_module, "_plan", lambda *a: made.append(1) or make(*a))
    monkeypatch.setattr(plan_module, "_PLANS", {})
    return made


@pytest.mark.parametrize("f, n", [(banded, 40), (wide_to_scalar, 100), (stencil, 144)])
def test_auto_plans_once_per_structure_and_solves_each_call_at_its_inputs(monkeypatch, f, n):
    made = _counting_plans(monkeypatch)
    jac = lagrad.jacobian(f, method="auto")
    for seed in range(3):
        x = np.random.default_rng(seed).uniform(-0.5, 0.5, n)
        np.testing.assert_allclose(jac(x), lagrad.jacobian(f)(x), rtol=1e-10, atol=1e-14)
    # a new wrapper of the same function finds the kept plan too
    lagrad.jacobian(f, method="auto")(np.linspace(-0.5, 0.5, n))
    assert len(made) == 1


def test_auto_plans_again_where_a_branch_changes_the_structure(monkeypatch):
    made = _counting_plans(monkeypatch)

    def f(x):
        if x[0] > 0:
            return x[1:] * x[:-1]
        return lnp.cumsum(x)[1:] * x[0]  # a dense lower triangle: another structure, another plan

    jac = lagrad.jacobian(f, method="auto")
    up, down = np.linspace(0.1, 1.0, 30), -np.linspace(0.1, 1.0, 30)
    for x, planned in [(up, 1), (down, 2), (up * 2, 2), (down * 2, 2)]:
        np.testing.assert_allclose(jac(x), lagrad.jacobian(f)(x), rtol=1e-10, atol=1e-14)
        assert len(made) == planned


def test_where_sparse_cannot_win_the_plan_neither_colours_nor_detects(monkeypatch):
    # every output reads every input: no colouring has fewer than 120 colours; priced at that bound
    # sparse loses, so the colouring (the plan's dearest step there) is not made
    W = np.random.default_rng(2).standard_normal((120, 120)) / 8
    plan = lagrad.plan(lambda x: lnp.tanh(W @ lnp.tanh(W @ x)), np.linspace(-1, 1, 120))
    assert plan.structure is None and plan.colours == 120 and plan.method != "sparse"
    assert "at least 120 colours" in plan.explain()
    # one output: even one colour loses to a reverse sweep of one right-hand side, no pattern at all
    from lagrad import sparse_derivatives

    monkeypatch.setattr(sparse_derivatives, "pattern", None)  # would raise if called
    plan = lagrad.plan(lambda x: lnp.sum(lnp.sin(x) * x), np.linspace(0.1, 1, 200))
    assert plan.structure is None and plan.colours == 1 and plan.method != "sparse"


def test_auto_takes_argnums_as_a_list():
    """`argnums=[0, 1]`, as every transform takes it: the kept plans' key holds it as a tuple
    (a list raised 'unhashable type'). Closed form: d(sin(x) y)/dx = diag(cos(x) y), /dy = diag(sin(x))."""
    x, y = np.array([0.3, -1.2, 2.0]), np.array([1.5, 0.5, -2.0])
    jx, jy = lagrad.jacobian(lambda x, y: np.sin(x) * y, argnums=[0, 1], method="auto")(x, y)
    assert np.allclose(jx, np.diag(np.cos(x) * y), rtol=1e-14, atol=0)
    assert np.allclose(jy, np.diag(np.sin(x)), rtol=1e-14, atol=0)
