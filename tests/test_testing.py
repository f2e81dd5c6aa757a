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
    check_grads(square, rand(3), modes=("fwd",), order=1)
    with pytest.raises(GradientCheckError, match="adjoint identity"):
        check_grads(square, rand(3), modes=("rev",), order=1)


def test_check_grads_catches_a_wrong_tangent_rule_and_prints_the_program():
    square = _wrong(vjp=lambda g, ans, x: 2 * g * x, jvp=lambda t, ans, x: t * x)
    with pytest.raises(GradientCheckError, match=r"tangent mode(.|\n)*z2 = square\(z1\)"):
        check_grads(square, rand(3), modes=("fwd",), order=1)


def test_check_grads_catches_a_wrong_second_derivative():
    # right first derivative, but written with an op whose own rule is wrong
    bad_sin = _wrong(vjp=lambda g, ans, x: g * 0.0, jvp=lambda t, ans, x: t * 0.0)
    cube = _wrong(vjp=lambda g, ans, x: 2 * g * x + bad_sin(x) * 0.0 + g * x * 0.0, jvp=lambda t, ans, x: 2 * t * x)
    check_grads(cube, rand(3), order=1)
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
    check_grads(cube, rand(3), order=1)
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
