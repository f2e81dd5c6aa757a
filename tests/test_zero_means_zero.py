"""Zero means zero: a zero multiplier (or tangent) contributes nothing, whatever the partial.

``where(x > 0, sqrt(x), 0.0)`` must have gradient 0 where ``x <= 0``, not ``0 × nan``,
in every mode, at every order, and through every solver of the adjoint system.
"""

from __future__ import annotations

import numpy as np
import pytest

import lagrad
import lagrad.numpy as lnp
from lagrad.core import defjvp_joint
from lagrad.testing import check_grads

# (name, the guarded function, its derivative, its second derivative, where it is selected)
GUARDED = [
    (
        "sqrt",
        lambda x: lnp.where(x > 0, lnp.sqrt(x), 0.0),
        lambda x: 0.5 / np.sqrt(x),
        lambda x: -0.25 * x**-1.5,
        lambda x: x > 0,
    ),
    (
        "reciprocal",
        lambda x: lnp.where(x != 0, 1 / x, 0.0),
        lambda x: -1 / x**2,
        lambda x: 2 / x**3,
        lambda x: x != 0,
    ),
    (
        "log",
        lambda x: lnp.where(x > 0, lnp.log(x), 0.0),
        lambda x: 1 / x,
        lambda x: -1 / x**2,
        lambda x: x > 0,
    ),
    (
        "sqrt, plain numpy",
        lambda x: np.where(x > 0, np.sqrt(x), 0.0),
        lambda x: 0.5 / np.sqrt(x),
        lambda x: -0.25 * x**-1.5,
        lambda x: x > 0,
    ),
]
IDS = [g[0] for g in GUARDED]
POINTS = {
    "()": [np.float64(-1.0), np.float64(0.0), np.float64(2.5)],
    "(3,)": [np.array([-1.5, 0.0, 4.0])],
    "(2, 3)": [np.array([[-2.0, 0.0, 0.5], [3.0, -0.25, 0.0]])],
}


def _expected(selected, formula, x):
    """The closed form where `selected`, exactly 0 elsewhere (never evaluated there)."""
    mask = selected(x)
    out = np.zeros_like(x)
    out[mask] = formula(x[mask])
    return out


def _quiet(f, *args, **kwargs):
    """Evaluate without NumPy's warnings about the unselected side's sqrt(-1) or 1/0: those
    come from the forward pass, which NumPy computes in full, and are not the point here."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return f(*args, **kwargs)


def _points():
    return [(shape, x) for shape, xs in POINTS.items() for x in xs]


@pytest.mark.parametrize("name,f,df,d2f,selected", GUARDED, ids=IDS)
@pytest.mark.parametrize("shape,x", _points(), ids=[f"{s}#{j}" for j, (s, _) in enumerate(_points())])
def test_reverse_mode_is_zero_on_the_unselected_side(name, f, df, d2f, selected, shape, x):
    x = np.atleast_1d(x) if shape != "()" else x
    expected = _expected(selected, df, np.atleast_1d(x)).reshape(np.shape(x))
    g = _quiet(lagrad.grad(lambda x: lnp.sum(f(x))), x)
    assert np.all(np.isfinite(g)) and np.allclose(g, expected, rtol=1e-12, atol=0)
    assert np.array_equal(_quiet(lagrad.elementwise_grad(f), x), g)
    (ct,) = _quiet(lambda: lagrad.vjp(f, x)[1](np.ones_like(x)))
    assert np.array_equal(ct, g)


@pytest.mark.parametrize("name,f,df,d2f,selected", GUARDED, ids=IDS)
@pytest.mark.parametrize("shape,x", _points(), ids=[f"{s}#{j}" for j, (s, _) in enumerate(_points())])
def test_tangent_mode_and_jacobians_agree(name, f, df, d2f, selected, shape, x):
    expected = _expected(selected, df, np.atleast_1d(x)).reshape(np.shape(x))
    _, t = _quiet(lagrad.jvp, f, (x,), (np.ones_like(x),))
    assert np.allclose(t, expected, rtol=1e-12, atol=0)
    for mode in ("rev", "fwd"):
        J = _quiet(lagrad.jacobian(f, mode=mode), x).reshape(np.size(x), np.size(x))
        assert np.allclose(J, np.diag(expected.ravel()), rtol=1e-12, atol=0)


@pytest.mark.parametrize("name,f,df,d2f,selected", GUARDED, ids=IDS)
@pytest.mark.parametrize("shape,x", _points(), ids=[f"{s}#{j}" for j, (s, _) in enumerate(_points())])
def test_second_order_keeps_the_zeros(name, f, df, d2f, selected, shape, x):
    expected = _expected(selected, d2f, np.atleast_1d(x)).reshape(np.shape(x))
    H = _quiet(lagrad.hessian(lambda x: lnp.sum(f(x))), x).reshape(np.size(x), np.size(x))
    assert np.allclose(H, np.diag(expected.ravel()), rtol=1e-12, atol=0)
    if shape == "()":
        assert np.isclose(_quiet(lagrad.grad(lagrad.grad(f)), x), expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize("name,f,df,d2f,selected", GUARDED, ids=IDS)
def test_finite_differences_on_both_sides(name, f, df, d2f, selected):
    x = np.array([-1.5, -0.5, 0.75, 2.0])  # away from the boundary, where the function is smooth
    _quiet(check_grads, f, x, modes=("fwd", "rev"), order=2)


@pytest.mark.parametrize("name,f,df,d2f,selected", GUARDED, ids=IDS)
def test_the_same_with_if(name, f, df, d2f, selected):
    branchy = {
        "sqrt": lambda x: lnp.sqrt(x) if x > 0 else 0.0,
        "reciprocal": lambda x: 1 / x if x != 0 else 0.0,
        "log": lambda x: lnp.log(x) if x > 0 else 0.0,
        "sqrt, plain numpy": lambda x: np.sqrt(x) if x > 0 else 0.0,
    }[name]
    for x in (-1.0, 0.0, 2.5):
        expected = df(x) if selected(x) else 0.0
        assert lagrad.grad(branchy)(x) == pytest.approx(expected, rel=1e-12)
        assert lagrad.jvp(branchy, (x,), (1.0,))[1] == pytest.approx(expected, rel=1e-12)


def test_the_adjoint_system_and_its_solvers():
    x = np.array([-1.0, 0.0, 4.0])
    system = _quiet(lagrad.adjoint, lambda x: lnp.sum(lnp.where(x > 0, lnp.sqrt(x), 0.0)), x)
    for method in ("back_substitution", "forward_substitution"):
        solution = _quiet(system.solve, method)
        assert np.allclose(solution[1], [0.0, 0.0, 0.25], rtol=1e-12, atol=0)
        assert _quiet(system.residual, solution) < 1e-12


def test_the_sparse_solver():
    x = np.array([-1.0, 0.0, 4.0])
    system = _quiet(lagrad.adjoint, lambda x: lnp.sum(lnp.where(x > 0, lnp.sqrt(x), 0.0)), x)
    assert np.allclose(_quiet(system.solve, "sparse")[1], [0.0, 0.0, 0.25])


def test_a_zero_tangent_meeting_an_infinite_partial():
    # sqrt(where(...)): the tangent of the where is 0 where x <= 0 and sqrt' is infinite at 0;
    # reverse mode gives where(c, inf, 0) = 0 there, and tangent mode must agree
    f = lambda x: lnp.sqrt(lnp.where(x > 0, x, 0.0))
    x = np.array([-1.0, 0.0, 4.0])
    expected = [0.0, 0.0, 0.25]
    assert np.array_equal(_quiet(lagrad.jvp, f, (x,), (np.ones(3),))[1], expected)
    assert np.array_equal(_quiet(lagrad.elementwise_grad(f), x), expected)  # where(c, inf, 0)


def test_a_zero_multiplier_as_a_whole_meets_a_contraction():
    # a non-elementwise rule (matmul) with nan partials: a multiplier that is zero as a
    # whole contributes nothing
    A = np.array([[np.inf, 1.0], [1.0, 2.0]])
    f = lambda x: lnp.where(lnp.sum(x) > 10.0, lnp.sum(x @ A), 0.0)
    x = np.array([0.5, 1.0])
    assert np.array_equal(_quiet(lagrad.grad(f), x), [0.0, 0.0])
    assert _quiet(lagrad.jvp, f, (x,), (np.ones(2),))[1] == 0.0


def test_a_zero_entry_inside_a_contraction_is_documented_as_nan():
    # The guarantee is entry by entry for elementwise functions only: inside a contraction the
    # zero entry and the nan partial are summed together by the product, and nan is what
    # NumPy gives. This pins the documented limit (docs/errors.md).
    A = np.array([[np.nan, 1.0], [1.0, 2.0]])
    f = lambda x: lnp.sum(lnp.where(np.array([False, True]), x @ A, 0.0))
    g = _quiet(lagrad.grad(f), np.array([0.5, 1.0]))
    assert np.isnan(g[0]) and g[1] == 2.0


def test_genuine_nan_still_propagates():
    # the selected side's own nan (sqrt of a negative it selected) is the right answer: nan
    f = lambda x: lnp.sum(lnp.where(x > -2.0, lnp.sqrt(x), 0.0))
    g = _quiet(lagrad.grad(f), np.array([-1.0, 4.0]))
    assert np.isnan(g[0]) and g[1] == 0.25
    g = _quiet(lagrad.grad(lambda x: lnp.sum(lnp.sin(x))), np.array([np.nan, 0.0]))
    assert np.isnan(g[0]) and g[1] == 1.0
    _, t = _quiet(lagrad.jvp, lambda x: lnp.sqrt(x), (np.array([-1.0]),), (np.ones(1),))
    assert np.isnan(t[0])


def test_no_warning_from_the_derivative_of_a_masked_side():
    # the forward pass computes sqrt(0) quietly; the derivative must not warn about the 0/0
    # of the unselected side that it then masks
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g = lagrad.grad(lambda x: lnp.sum(lnp.where(x > 0, lnp.sqrt(x), 0.0)))(np.array([0.0, 4.0]))
    assert np.array_equal(g, [0.0, 0.25])


def test_float32_keeps_its_dtype_through_the_mask():
    x = np.array([-1.0, 0.0, 4.0], dtype=np.float32)
    g = _quiet(lagrad.grad(lambda x: lnp.sum(lnp.where(x > 0, lnp.sqrt(x), 0.0))), x)
    assert g.dtype == np.float32 and np.array_equal(g, np.array([0.0, 0.0, 0.25], dtype=np.float32))


# ----- user-defined primitives: rules derived by transposition, joint tangent rules -------------


@lagrad.primitive(elementwise=True)
def sqrt_with_jvp_only(x):
    return np.sqrt(x)


lagrad.defjvp(sqrt_with_jvp_only, lambda t, ans, x: t / (2 * ans))  # the vjp comes by transposition


@lagrad.primitive(elementwise=True)
def sqrt_with_vjp_only(x):
    return np.sqrt(x)


lagrad.defvjp(sqrt_with_vjp_only, lambda g, ans, x: g / (2 * ans))  # the jvp comes by transposition


@pytest.mark.parametrize("sqrt", [sqrt_with_jvp_only, sqrt_with_vjp_only], ids=["jvp only", "vjp only"])
def test_rules_derived_by_transposition_keep_zeros(sqrt):
    x = np.array([-1.0, 0.0, 4.0])
    f = lambda x: lnp.where(x > 0, sqrt(x), 0.0)
    assert np.array_equal(_quiet(lagrad.grad(lambda x: lnp.sum(f(x))), x), [0.0, 0.0, 0.25])
    g = lambda x: sqrt(lnp.where(x > 0, x, 0.0))  # a zero tangent meets sqrt's infinite slope at 0
    assert np.array_equal(_quiet(lagrad.jvp, g, (x,), (np.ones(3),))[1], [0.0, 0.0, 0.25])


@lagrad.primitive
def sqrt_pair(x, y):
    """(sqrt(x), y) stacked: a primitive jointly linear in its tangents' rule, with an
    infinite partial at x = 0."""
    return np.stack([np.sqrt(x), y])


def _sqrt_pair_jvp(tangents, ans, x, y):
    tx, ty = tangents
    return lnp.stack([tx / (2 * ans[0]) if tx is not None else 0.0 * ans[0], ty if ty is not None else 0.0 * y])


defjvp_joint(sqrt_pair, _sqrt_pair_jvp)
lagrad.defvjp(sqrt_pair, lambda g, ans, x, y: g[0] / (2 * ans[0]), lambda g, ans, x, y: g[1])


def test_a_joint_tangent_rule_with_zero_tangents():
    f = lambda x, y: lnp.sum(sqrt_pair(x, y))
    _, t = _quiet(lagrad.jvp, f, (np.float64(0.0), np.float64(1.0)), (np.float64(0.0), np.float64(0.0)))
    assert t == 0.0
    _, t = _quiet(lagrad.jvp, f, (np.float64(4.0), np.float64(1.0)), (np.float64(1.0), np.float64(2.0)))
    assert t == 2.25
