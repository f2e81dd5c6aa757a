"""Primitives declared the autograd way (curried vjp makers, jvps, argnum makers) work in
both of lagrad's modes and at second order."""

from __future__ import annotations

import numpy as onp
import pytest

import lagrad
import lagrad.autograd as ag
import lagrad.autograd.numpy as np
from lagrad.autograd.extend import (
    Box,
    def_linear,
    defjvp,
    defjvp_argnum,
    defjvp_argnums,
    defvjp,
    defvjp_argnum,
    defvjp_argnums,
    notrace_primitive,
    primitive,
    vspace,
)
from lagrad.autograd.numpy.numpy_boxes import ArrayBox
from lagrad.testing import check_grads

X = onp.array([0.3, -1.2, 0.8])
Y = onp.array([1.1, 0.4, -0.6])


def make_product():
    @primitive
    def product(x, y):
        return x * y

    return product


def test_defvjp_curried_rules_both_modes_second_order():
    product = make_product()
    defvjp(product, lambda ans, x, y: lambda g: g * y, lambda ans, x, y: lambda g: g * x)
    assert product.__name__ == "product"
    check_grads(lambda x, y: np.sin(product(x, y)), X, Y, modes=("fwd", "rev"), order=2)
    np.testing.assert_allclose(ag.grad(lambda y: np.sum(product(X, y)))(Y), X)
    # forward mode from the vjp rule alone (autograd would want a defjvp)
    np.testing.assert_allclose(ag.make_jvp(lambda x: product(x, Y))(X)(onp.ones(3))[1], Y)


def test_defvjp_argnums_and_none():
    product = make_product()
    defvjp(product, lambda ans, x, y: lambda g: g * x, argnums=(1,))
    np.testing.assert_allclose(ag.grad(lambda y: np.sum(product(X, y)))(Y), X)
    with pytest.raises(NotImplementedError, match="VJP of product wrt argnum 0"):
        ag.grad(lambda x: np.sum(product(x, Y)))(X)
    zero = make_product()
    defvjp(zero, None, lambda ans, x, y: lambda g: g * x)
    np.testing.assert_allclose(ag.grad(lambda x: np.sum(zero(x, Y)))(X), onp.zeros(3))  # None: declared zero


def test_defjvp_with_same_and_kwargs():
    @primitive
    def scale(x, factor=1.0):
        return factor * x

    defjvp(scale, "same")
    defvjp(scale, lambda ans, x, factor=1.0: lambda g: factor * g)
    out, tangent = ag.make_jvp(lambda x: scale(x, factor=3.0))(X)(Y)
    np.testing.assert_allclose(out, 3.0 * X)
    np.testing.assert_allclose(tangent, 3.0 * Y)
    check_grads(lambda x: np.sum(np.sin(scale(x, factor=3.0))), X, order=2)

    cube = make_product()
    defjvp(cube, lambda g, ans, x, y: g * y, lambda g, ans, x, y: g * x)
    np.testing.assert_allclose(ag.make_jvp(lambda x: cube(x, Y))(X)(onp.ones(3))[1], Y)
    with pytest.raises(TypeError, match="bad jvp"):
        defjvp(cube, 3)


def test_argnum_makers():
    by_argnum = make_product()
    defvjp_argnum(by_argnum, lambda argnum, ans, args, kwargs: lambda g: g * args[1 - argnum])
    defjvp_argnum(by_argnum, lambda argnum, g, ans, args, kwargs: g * args[1 - argnum])
    check_grads(lambda x, y: np.sum(by_argnum(x, y) ** 2), X, Y, modes=("fwd", "rev"), order=2)

    by_argnums = make_product()
    defvjp_argnums(by_argnums, lambda argnums, ans, args, kwargs: lambda g: [g * args[1 - a] for a in argnums])
    defjvp_argnums(by_argnums, lambda argnums, gs, ans, args, kwargs: sum(g * args[1 - a] for a, g in zip(argnums, gs)))
    check_grads(lambda x, y: np.sum(by_argnums(x, y) ** 2), X, Y, modes=("fwd", "rev"), order=2)


def test_def_linear():
    @primitive
    def double(x):
        return 2.0 * x

    def_linear(double)
    defvjp(double, lambda ans, x: lambda g: 2.0 * g)
    np.testing.assert_allclose(ag.make_jvp(double)(X)(Y)[1], 2.0 * Y)
    check_grads(lambda x: np.sum(double(x) ** 3), X, modes=("fwd", "rev"), order=2)


def test_declaring_on_a_plain_function_is_refused():
    with pytest.raises(TypeError, match="not a primitive"):
        defvjp(onp.sin, lambda ans, x: lambda g: g)


def test_box_vspace_notrace():
    seen = []

    def look(x):
        seen.append((isinstance(x, Box), isinstance(x, ArrayBox), vspace(x).shape))
        return np.sum(x**2)

    ag.grad(look)(X)
    look(X)
    assert seen == [(True, True, (3,)), (False, False, (3,))]
    space = vspace(onp.zeros((2, 3)))
    assert space.size == 6 and space.ndim == 2 and not space.iscomplex
    assert onp.array_equal(space.ones(), onp.ones((2, 3))) and len(list(space.standard_basis())) == 6
    assert vspace(onp.zeros(2, complex)).iscomplex and space == vspace(onp.ones((2, 3)))

    count = notrace_primitive(lambda x: float(onp.sum(x > 0)))
    assert ag.grad(lambda x: np.sum(x) * count(x))(X) == pytest.approx(onp.full(3, 2.0))
    assert lagrad.value(count(X)) == 2.0
