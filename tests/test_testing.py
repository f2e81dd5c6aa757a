"""check_grads and check_solvers catch wrong rules: the checks can fail."""

from __future__ import annotations

import numpy as np
import pytest

import lagrad
import lagrad.numpy as lnp
from lagrad.testing import GradientCheckError, check_grads, check_solvers, checked_primitives
from tests.conftest import rand


def _wrong(vjp=None, jvp=None):
    @lagrad.primitive
    def square(x):
        return x * x

    if vjp:
        lagrad.defvjp(square, vjp)
    if jvp:
        lagrad.defjvp(square, jvp)
    return square


def test_check_grads_passes_a_right_rule():
    square = _wrong(vjp=lambda g, ans, x: 2 * g * x, jvp=lambda t, ans, x: 2 * t * x)
    check_grads(square, rand(3))


def test_check_grads_catches_a_wrong_reverse_rule():
    square = _wrong(vjp=lambda g, ans, x: 3 * g * x, jvp=lambda t, ans, x: 2 * t * x)
    check_grads(square, rand(3), modes=("fwd",), order=1)  # order 1: this test is about the first-order rules
    with pytest.raises(GradientCheckError, match="reverse mode"):
        check_grads(square, rand(3), modes=("rev",), order=1)  # order 1: the reverse rule under test


def test_check_grads_catches_a_wrong_tangent_rule_and_prints_the_program():
    square = _wrong(vjp=lambda g, ans, x: 2 * g * x, jvp=lambda t, ans, x: t * x)
    with pytest.raises(GradientCheckError, match=r"tangent mode(.|\n)*z2 = square\(z1\)"):
        check_grads(square, rand(3), modes=("fwd",), order=1)  # order 1: the tangent rule under test


def test_check_grads_catches_a_wrong_second_derivative():
    # right first derivative, but written with an op whose own rule is wrong
    bad_sin = _wrong(vjp=lambda g, ans, x: g * 0.0, jvp=lambda t, ans, x: t * 0.0)
    cube = _wrong(vjp=lambda g, ans, x: 2 * g * x + bad_sin(x) * 0.0 + g * x * 0.0, jvp=lambda t, ans, x: 2 * t * x)
    check_grads(cube, rand(3), order=1)  # order 1: the first derivative is right, the second is the next check
    with pytest.raises(GradientCheckError, match="order-2"):
        _check_second(rand(3))


def _check_second(x):
    @lagrad.primitive
    def f(x):
        return x**3

    @lagrad.primitive
    def wrong_partial(x):
        return 3 * x**2

    lagrad.defrule(wrong_partial, lambda g, ans, x: g * 5 * x)  # should be 6x
    lagrad.defrule(f, lambda g, ans, x: g * wrong_partial(x))
    check_grads(f, x, order=2)


def test_check_solvers_catches_a_disagreement():
    square = _wrong(vjp=lambda g, ans, x: 3 * g * x, jvp=lambda t, ans, x: 2 * t * x)
    with pytest.raises(GradientCheckError, match=r"disagree|leaves"):
        check_solvers(lambda x: lnp.sum(square(x)), rand(3))


def test_check_grads_holds_integer_arguments_fixed():
    check_grads(lambda x, i: x[i] * 2.0, rand(4), np.array([0, 3]))
    with pytest.raises(ValueError, match="no float"):
        check_grads(lambda i: i, np.arange(3))


def test_check_grads_records_the_primitives_whose_derivatives_it_checked():
    @lagrad.primitive
    def cube(x):
        return x**3

    @lagrad.primitive
    def cube_partial(x):
        return 3 * x**2

    lagrad.defrule(cube_partial, lambda g, ans, x: g * 6 * x)
    lagrad.defrule(cube, lambda g, ans, x: g * cube_partial(x))
    check_grads(cube, rand(3), order=1)  # order 1: reaches cube's rule, not its partial's
    assert cube in checked_primitives and cube_partial not in checked_primitives
    check_grads(cube, rand(3), order=2)  # the second order checks the rule's own primitive
    assert cube_partial in checked_primitives


def test_check_grads_records_nothing_it_did_not_check():
    wrong = _wrong(vjp=lambda g, ans, x: 3 * g * x, jvp=lambda t, ans, x: 2 * t * x)
    with pytest.raises(GradientCheckError):
        check_grads(wrong, rand(3))
    assert wrong not in checked_primitives
    right = _wrong(vjp=lambda g, ans, x: 2 * g * x, jvp=lambda t, ans, x: 2 * t * x)
    check_grads(lambda x, i: x * lnp.astype(right(i), float), rand(3), np.arange(3.0).astype(int))
    assert right not in checked_primitives  # applied to integers only: no derivative was checked


def test_check_solvers_compares_multipliers_of_several_outputs():
    x = np.array([0.3, -1.2, 0.7, 0.3])
    check_solvers(lambda x: np.unique(x, return_counts=True)[0] ** 2, x)  # unique's indices: Parts


# ----- deliberately wrong rules, declared as a user would, that check_grads must refuse ------


def _declared(fun, vjp=None, jvp=None):
    wrapped = lagrad.primitive(fun)
    if vjp:
        lagrad.defvjp(wrapped, vjp)
    if jvp:
        lagrad.defjvp(wrapped, jvp)
    return wrapped


def test_a_sign_flipped_rule_of_a_function_near_1e_minus_7_fails():
    def tiny(x):
        return 1e-7 * np.sin(x)

    right = _declared(tiny, vjp=lambda g, ans, x: 1e-7 * g * np.cos(x), jvp=lambda t, ans, x: 1e-7 * t * np.cos(x))
    check_grads(
        right, rand(4), order=1
    )  # order 1: the rules under test are first-order (a rule without second derivative: order 1)
    flipped = _declared(tiny, vjp=lambda g, ans, x: -1e-7 * g * np.cos(x), jvp=lambda t, ans, x: 1e-7 * t * np.cos(x))
    with pytest.raises(GradientCheckError, match="reverse mode"):
        check_grads(flipped, rand(4), order=1)  # order 1: the reverse rule under test


def test_one_wrong_component_of_derivative_2_7e_minus_7_fails():
    scale = np.array([2.7e-7, 1e-7, 2e-7])

    def small(x):
        return scale * x**2

    def wrong_vjp(g, ans, x):
        partial = 2 * scale * x
        return g * np.where(np.arange(3) == 0, -partial, partial)  # the first component's sign

    wrong = _declared(small, vjp=wrong_vjp, jvp=lambda t, ans, x: 2 * scale * x * t)
    x = np.array([0.5, 0.8, -0.3])
    with pytest.raises(GradientCheckError, match=r"reverse mode .*x\[0\]"):
        check_grads(wrong, x, order=1)  # order 1: the reverse rule under test


def test_a_derivative_of_the_wrong_shape_fails():
    flat_vjp = _declared(lambda x: 2.0 * x, vjp=lambda g, ans, x: 2.0 * np.ravel(g), jvp=lambda t, ans, x: 2.0 * t)
    with pytest.raises(ValueError, match=r"vjp rule of .* returned shape \(6,\) where the argument has shape \(2, 3\)"):
        check_grads(flat_vjp, rand(2, 3), order=1)  # back-substitution itself refuses it, naming the rule
    flat_jvp = _declared(lambda x: 2.0 * x, vjp=lambda g, ans, x: 2.0 * g, jvp=lambda t, ans, x: 2.0 * np.ravel(t))
    with pytest.raises(ValueError, match=r"\(6,\).*\(2,\s?3\)"):  # forward substitution itself refuses it
        check_grads(flat_jvp, rand(2, 3), order=1)  # order 1: the shape of the first derivative


def test_a_derivative_of_the_wrong_dtype_fails():
    def complex_tangent(t, ans, x):
        return (2.0 + 0j) * t  # a real function's tangent must be real

    wrong = _declared(lambda x: 2.0 * x, vjp=lambda g, ans, x: 2.0 * g, jvp=complex_tangent)
    with pytest.raises(GradientCheckError, match="tangent has dtype complex128, its primal float64"):
        check_grads(wrong, rand(3), modes=("fwd",), order=1)  # order 1: the tangent rule under test


def test_a_different_number_of_outputs_fails():
    def two(x):
        return x * 2.0, x * 3.0

    one_tangent = _declared(two, jvp=lambda t, ans, x: (2.0 * t,))
    lagrad.defvjp(one_tangent, lambda g, ans, x: 2.0 * g[0] + 3.0 * g[1])
    with pytest.raises((GradientCheckError, ValueError, TypeError)):
        check_grads(one_tangent, rand(3), modes=("fwd",), order=1)  # order 1: the tangent rule under test
    with pytest.raises(GradientCheckError, match="structure"):
        check_grads(
            lambda x: two(x) if isinstance(x, np.ndarray) else two(x)[:1], rand(3), modes=("fwd",), order=1
        )  # order 1: the first derivative's outputs


def test_one_percent_in_one_of_ten_thousand_components_of_a_vjp_fails_for_every_seed():
    n = 10_000
    k = 1234

    def wrong_vjp(g, ans, x):
        return g * np.cos(x) * np.where(np.arange(n) == k, 1.01, 1.0)

    wrong = _declared(np.sin, vjp=wrong_vjp, jvp=lambda t, ans, x: t * np.cos(x))
    x = rand(n)
    for seed in range(10):
        with pytest.raises(GradientCheckError, match="adjoint identity"):
            check_grads(wrong, x, modes=("rev",), order=1, seed=seed)  # order 1: the rule under test
    right = _declared(np.sin, vjp=lambda g, ans, x: g * np.cos(x), jvp=lambda t, ans, x: t * np.cos(x))
    check_grads(
        right, x, order=1
    )  # order 1: the rules (NumPy inside) are first-order (and the right rule passes at that size)


def test_a_missing_conjugate_fails():
    def times_c(z):
        return (1.0 + 2.0j) * z

    right = _declared(times_c, vjp=lambda g, ans, z: (1.0 + 2.0j) * g, jvp=lambda t, ans, z: (1.0 + 2.0j) * t)
    check_grads(right, rand(3) + 1j * rand(3))  # holomorphic: the transpose, not conjugated

    def abs2(z):
        return np.real(z * np.conj(z))

    def tangent(t, ans, z):
        return 2 * np.real(np.conj(z) * t)

    conjugated = _declared(abs2, vjp=lambda g, ans, z: 2 * g * np.conj(z), jvp=tangent)
    check_grads(conjugated, rand(3) + 1j * rand(3), order=1)  # order 1: first-order rules (∂/∂x − i∂/∂y = 2 conj(z))
    missing = _declared(abs2, vjp=lambda g, ans, z: 2 * g * z, jvp=tangent)
    with pytest.raises(GradientCheckError, match=r"reverse mode .*\.imag"):
        check_grads(missing, rand(3) + 1j * rand(3), order=1)  # order 1: the reverse rule under test


def test_a_wrong_broadcast_fails():
    def add(x, y):
        return x + y

    def first_only(g, ans, x, y):
        return g[0]  # should sum over the broadcast axis

    wrong = _declared(add, vjp=None, jvp=None)
    lagrad.defvjp(wrong, lambda g, ans, x, y: g, first_only)
    lagrad.defjvp(wrong, lambda t, ans, x, y: t + 0 * y, lambda t, ans, x, y: t + 0 * x)
    with pytest.raises(GradientCheckError, match="reverse mode"):
        check_grads(wrong, rand(4, 3), rand(3), order=1)  # order 1: the reverse rule under test


def test_a_forgotten_keepdims_fails():
    def total(x):
        return np.sum(x, axis=1, keepdims=True)

    def forgotten(g, ans, x):
        return np.broadcast_to(np.sum(g, axis=1), x.shape)  # g (3, 1) summed without keepdims

    wrong = _declared(total, vjp=forgotten, jvp=lambda t, ans, x: np.sum(t, axis=1, keepdims=True))
    with pytest.raises(GradientCheckError, match="reverse mode"):
        check_grads(wrong, rand(3, 3), order=1)  # order 1: the reverse rule under test
