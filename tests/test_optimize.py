"""lagrad.optimize: minimize/maximize on nested containers, and the sgd/adam steppers."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.optimize

import lagrad
import lagrad.numpy as lnp
from lagrad.optimize import adam, maximize, minimize, sgd

# A strictly convex quadratic on a dict of two arrays, ½ zᵀ Q z − cᵀ z with z = (u, v):
# its minimiser is Q⁻¹ c (closed form).
Q = np.array(
    [
        [4.0, 1.0, 0.0, 0.5, 0.0],
        [1.0, 3.0, 0.2, 0.0, 0.0],
        [0.0, 0.2, 2.0, 0.0, 0.3],
        [0.5, 0.0, 0.0, 5.0, 1.0],
        [0.0, 0.0, 0.3, 1.0, 2.5],
    ]
)
C = np.array([1.0, -2.0, 0.5, 3.0, -1.0])


def quadratic(params):
    z = lagrad.numpy.concatenate([params["u"], lagrad.numpy.ravel(params["v"])])
    return 0.5 * z @ (Q @ z) - C @ z


def rosenbrock(p):
    x, y = p
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


X0 = {"u": np.zeros(3), "v": np.zeros((1, 2))}
EXACT = np.linalg.solve(Q, C)

GRADIENT_METHODS = ["L-BFGS-B", "BFGS", "CG", "SLSQP", "TNC"]
SECOND_ORDER = ["Newton-CG", "trust-ncg", "trust-krylov", "trust-constr", "trust-exact", "dogleg"]


# SciPy's trust-krylov warns (invalid value) once the gradient is ~1e-16, with exact
# derivatives written in plain NumPy too: stop it earlier.
TOL = {"trust-krylov": 1e-8}


@pytest.mark.parametrize("method", GRADIENT_METHODS + SECOND_ORDER)
def test_minimize_quadratic_reaches_the_closed_form(method):
    result = minimize(quadratic, X0, method=method, tol=TOL.get(method, 1e-12))
    assert set(result.x) == {"u", "v"} and result.x["v"].shape == (1, 2)
    z = np.concatenate([result.x["u"], result.x["v"].ravel()])
    np.testing.assert_allclose(z, EXACT, atol=1e-6)
    assert result.fun == pytest.approx(-0.5 * C @ EXACT, abs=1e-10)


@pytest.mark.parametrize("method", ["L-BFGS-B", "BFGS", "Newton-CG", "trust-ncg", "trust-exact", "Nelder-Mead"])
def test_minimize_rosenbrock(method):
    result = minimize(rosenbrock, [np.float64(-1.2), np.float64(1.0)], method=method, maxiter=2000)
    assert isinstance(result.x, list) and len(result.x) == 2
    np.testing.assert_allclose(np.array(result.x, dtype=float), [1.0, 1.0], atol=1e-3)


def test_the_derivatives_handed_to_scipy_match_finite_differences():
    seen = {}

    def inspect(fun, x0, args=(), jac=None, hessp=None, **options):
        seen["jac"] = (jac(x0, *args), scipy.optimize.approx_fprime(x0, lambda v: fun(v, *args), 1e-7))
        p = np.linspace(-1.0, 1.0, x0.size)
        eps = 1e-6
        numeric = (jac(x0 + eps * p, *args) - jac(x0 - eps * p, *args)) / (2 * eps)
        seen["hessp"] = (hessp(x0, p, *args), numeric)
        return scipy.optimize.OptimizeResult(x=x0, fun=fun(x0, *args), success=True)

    x0 = {"a": np.array([0.3, -0.4]), "b": (np.array(0.7),)}

    def f(params, scale):
        a, (b,) = params["a"], params["b"]
        return scale * lagrad.numpy.sum(lagrad.numpy.sin(a) * b**2) + lagrad.numpy.exp(a[0] * b)

    result = minimize(f, x0, args=(2.0,), method=inspect)
    exact, numeric = seen["jac"]
    np.testing.assert_allclose(exact, numeric, rtol=1e-5, atol=1e-6)
    exact, numeric = seen["hessp"]
    np.testing.assert_allclose(exact, numeric, rtol=1e-5, atol=1e-6)
    assert result.x["b"][0] == pytest.approx(0.7)


def test_gradient_free_methods_only_evaluate():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # SciPy warns when handed a jac such a method cannot use
        result = minimize(quadratic, X0, method="Powell", tol=1e-10)
    z = np.concatenate([result.x["u"], result.x["v"].ravel()])
    np.testing.assert_allclose(z, EXACT, atol=1e-4)


def test_bounds_as_trees_match_the_projected_closed_form():
    # separable quadratic: the bounded minimiser is the unbounded one clipped to the box
    target = np.array([2.0, -3.0, 0.5])

    def f(p):
        return lagrad.numpy.sum((p["x"] - target) ** 2) + (p["y"] - 1.0) ** 2

    lower = {"x": np.array([-1.0, -1.0, -1.0]), "y": None}
    result = minimize(f, {"x": np.zeros(3), "y": np.array(0.0)}, bounds=(lower, 1.0))
    np.testing.assert_allclose(result.x["x"], np.clip(target, -1.0, 1.0), atol=1e-6)
    assert float(result.x["y"]) == pytest.approx(1.0, abs=1e-6)
    bounded = minimize(f, {"x": np.zeros(3), "y": np.array(0.0)}, bounds=scipy.optimize.Bounds(-0.5, 0.5))
    np.testing.assert_allclose(bounded.x["x"], [0.5, -0.5, 0.5], atol=1e-6)


def test_maximize_reports_the_maximum_and_the_functions_gradient():
    def concave(p):
        return -quadratic(p) + 2.0

    result = maximize(concave, X0, method="trust-ncg", tol=1e-12)
    z = np.concatenate([result.x["u"], result.x["v"].ravel()])
    np.testing.assert_allclose(z, EXACT, atol=1e-8)
    assert result.fun == pytest.approx(2.0 + 0.5 * C @ EXACT, abs=1e-10)
    # away from the maximum, jac is the gradient of `concave` itself: c − Q z
    early = maximize(concave, X0, method="BFGS", maxiter=1)
    z = np.concatenate([early.x["u"], early.x["v"].ravel()])
    jac = np.concatenate([early.jac["u"], early.jac["v"].ravel()])
    np.testing.assert_allclose(jac, C - Q @ z, atol=1e-10)


def test_callback_sees_the_structure_and_dtypes_come_back():
    seen = []
    x0 = {"u": np.zeros(3, dtype=np.float32), "v": np.zeros((1, 2))}
    result = minimize(quadratic, x0, method="BFGS", callback=lambda x: seen.append(x))
    assert seen and all(set(x) == {"u", "v"} and x["v"].shape == (1, 2) for x in seen)
    assert result.x["u"].dtype == np.float32 and result.x["v"].dtype == np.float64


def test_integer_x0_is_optimised_as_floats():
    result = minimize(lambda x: lagrad.numpy.sum((x - 0.25) ** 2), np.array([3, -2]))
    np.testing.assert_allclose(result.x, [0.25, 0.25], atol=1e-6)
    assert result.x.dtype == np.float64


def test_bad_input_is_refused_clearly():
    with pytest.raises(TypeError, match="complex"):
        minimize(lambda z: lagrad.numpy.sum(z.real), np.array([1j]))
    with pytest.raises(ValueError, match="no arrays"):
        minimize(lambda z: 0.0, {})
    with pytest.raises(TypeError, match="bounds must be"):
        minimize(quadratic, X0, bounds=[(0, 1), (0, 1), (0, 1)])
    with pytest.raises(ValueError, match="lower bound"):
        minimize(quadratic, X0, bounds=({"u": 0.0}, None))


# -- steppers ---------------------------------------------------------------------------------


def test_sgd_steps_by_hand():
    p = {"w": np.array([1.0, -2.0])}
    g1, g2 = {"w": np.array([0.5, 1.0])}, {"w": np.array([-1.0, 2.0])}
    plain = sgd(0.1)
    p1 = plain.step(p, g1)
    np.testing.assert_allclose(p1["w"], [0.95, -2.1])
    heavy = sgd(0.1, momentum=0.9)
    q = heavy.step(heavy.step(p, g1), g2)  # v1 = g1, v2 = 0.9 g1 + g2
    np.testing.assert_allclose(q["w"], p["w"] - 0.1 * g1["w"] - 0.1 * (0.9 * g1["w"] + g2["w"]))
    assert heavy.count == 2


def test_adam_steps_by_hand():
    p = [np.array([1.0, -1.0, 0.0])]
    g1 = [np.array([0.1, -4.0, 2.0])]
    g2 = [np.array([0.3, 1.0, -2.0])]
    stepper = adam(0.01, b1=0.9, b2=0.999, eps=0.0)
    p1 = stepper.step(p, g1)
    np.testing.assert_allclose(p1[0], p[0] - 0.01 * np.sign(g1[0]))  # m̂ = g, v̂ = g² on step 1
    p2 = stepper.step(p1, g2)
    m = 0.9 * 0.1 * g1[0] + 0.1 * g2[0]
    v = 0.999 * 0.001 * g1[0] ** 2 + 0.001 * g2[0] ** 2
    expected = p1[0] - 0.01 * (m / (1 - 0.9**2)) / np.sqrt(v / (1 - 0.999**2))
    np.testing.assert_allclose(p2[0], expected, rtol=1e-12)


def test_steppers_minimise_a_quadratic():
    def gradient(params):  # Q z − c, by hand
        g = Q @ np.concatenate([params["u"], params["v"].ravel()]) - C
        return {"u": g[:3], "v": g[3:].reshape(1, 2)}

    for stepper in (sgd(0.1, momentum=0.5), adam(lambda t: 0.1 / np.sqrt(t))):
        params = X0
        for _ in range(400):
            params = stepper.step(params, gradient(params))
        z = np.concatenate([params["u"], params["v"].ravel()])
        np.testing.assert_allclose(z, EXACT, atol=1e-8)
    # and inside a training loop fed by lagrad's gradient
    stepper, params, lagrad_gradient = adam(0.05), X0, lagrad.grad(quadratic)
    for _ in range(150):
        params = stepper.step(params, lagrad_gradient(params))
    assert float(quadratic(params)) == pytest.approx(-0.5 * C @ EXACT, abs=1e-6)


def test_a_step_is_differentiable():
    # d/d(rate) of f(p − rate ∇f(p)) for f = ½‖p‖²: f(p(1 − rate)) has derivative −(1 − rate)‖p‖²
    p = np.array([1.0, 2.0])

    def after_step(rate):
        stepper = sgd(rate)
        return 0.5 * lagrad.numpy.sum(stepper.step(p, p) ** 2)

    assert float(lagrad.grad(after_step)(np.float64(0.3))) == pytest.approx(-(1 - 0.3) * 5.0)


def test_stepper_refuses_other_structures():
    stepper = adam()
    stepper.step({"a": np.zeros(2)}, {"a": np.ones(2)})
    with pytest.raises(ValueError, match="changed structure"):
        stepper.step({"b": np.zeros(2)}, {"b": np.ones(2)})
    with pytest.raises(ValueError, match="structure of params"):
        stepper.step({"a": np.zeros(2)}, [np.ones(2)])
    stepper.reset()
    assert stepper.step({"b": np.zeros(2)}, {"b": np.ones(2)})["b"].shape == (2,)
    with pytest.raises(ValueError, match="momentum"):
        sgd(0.1, momentum=1.0)
    with pytest.raises(ValueError, match="b2"):
        adam(b2=1.5)


@pytest.mark.parametrize("make", [lambda: sgd(0.05), lambda: sgd(0.02, momentum=0.8), lambda: adam(0.05)])
def test_a_complex_parameter_steps_as_its_real_and_imaginary_parts(make):
    # lagrad's gradient of a real loss of z = x + iy is ∂L/∂x − i ∂L/∂y: a stepper that subtracted
    # it climbed in y (sgd's iterates grew to 1e16). Reference: the same stepper on x and y as two
    # real parameters, fed their real gradients, which never meets a complex number.
    target = np.array([1.0 + 2.0j, -0.5 + 0.3j])

    def loss(z):  # not holomorphic, with a cross term between the parts
        return lnp.sum(lnp.abs(z - target) ** 2 + 0.3 * lnp.real(z) * lnp.imag(z) ** 2)

    as_complex, as_pairs = make(), make()
    z = np.zeros(2, complex)
    pair = (np.zeros(2), np.zeros(2))
    pair_gradient = lagrad.grad(lambda x, y: loss(x + 1j * y), (0, 1))
    for _ in range(60):
        z = as_complex.step(z, lagrad.grad(loss)(z))
        pair = as_pairs.step(pair, pair_gradient(*pair))
    np.testing.assert_allclose(z.real, pair[0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(z.imag, pair[1], rtol=1e-12, atol=1e-14)
    assert float(loss(z)) < float(loss(np.zeros(2, complex)))  # and it went down
