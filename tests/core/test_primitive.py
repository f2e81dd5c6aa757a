"""Declaring primitives and their rules; what a rule reads decides what a Program keeps."""

from __future__ import annotations

import numpy as np
import pytest

import lagrad
import lagrad.numpy as lnp
from lagrad.core.primitive import META, READ, UNREAD, rule_reads
from tests.conftest import positive, rand
from tests.helpers import check


def test_rule_reads_is_read_off_the_code():
    assert rule_reads(lambda g, ans, x, y: g * y) == (UNREAD, UNREAD, READ)
    assert rule_reads(lambda g, ans, x: g * ans) == (READ, UNREAD)
    assert rule_reads(lambda g, ans, x: lnp.broadcast_to(g, x.shape)) == (UNREAD, META)
    assert rule_reads(lambda g, ans, x: g + x.shape[0] * x) == (UNREAD, READ)
    assert rule_reads(lambda g, ans, *args: g) is None  # cannot tell: every value kept

    def inner_closure(g, ans, x):
        return (lambda: x)() * g

    assert rule_reads(inner_closure) == (UNREAD, READ)


def test_the_rule_table_per_argument_then_any_position():
    scale = lagrad.primitive(lambda x, y: x * y, name="scale")
    lagrad.defvjp(scale, lambda g, ans, x, y: g * y, None)
    assert scale.reads(0) == [(UNREAD, UNREAD, READ)]
    assert scale.rule("vjp", 1) == (None, None) and not scale.has_derivative(1)
    lagrad.defvjp_argnum(scale, lambda argnum, g, ans, x, y: g * (y, x)[argnum])
    assert scale.rule("vjp", 1) == (None, None)  # the declared None stands: no derivative in y
    lagrad.defvjp(scale, lambda g, ans, x, y: g * y)  # a new list replaces the old one...
    rule, reads = scale.rule("vjp", 1)  # ...so y falls to the any-position rule, bound to 1
    assert reads is None and np.array_equal(rule(np.ones(2), None, np.array([2.0, 3.0]), None), [2.0, 3.0])
    x, y = rand(3), rand(3)
    assert np.allclose(lagrad.grad(lambda x, y: lnp.sum(scale(x, y)), argnums=(0, 1))(x, y), (y, x))


def test_reads_must_give_one_entry_per_rule():
    scale = lagrad.primitive(lambda x, y: x * y, name="scale")
    with pytest.raises(ValueError, match=r"lagrad\.defvjp: `reads` has 1 entries for 2 rules; give one per rule"):
        lagrad.defvjp(scale, lambda g, ans, x, y: g * y, lambda g, ans, x, y: g * x, reads=[(UNREAD, UNREAD, READ)])


def _logistic_loss_primitive():
    @lagrad.primitive
    def logloss(z, t):
        """log(1 + exp(-t z)), summed."""
        return np.sum(np.logaddexp(0.0, -t * z))

    return logloss


def test_user_primitive_with_vjp_only_works_in_every_mode_and_solver():
    logloss = _logistic_loss_primitive()
    lagrad.defvjp(
        logloss,
        lambda g, ans, z, t: -g * t / (1 + lnp.exp(t * z)),
        lambda g, ans, z, t: -g * z / (1 + lnp.exp(t * z)),
    )
    z, t = rand(4), np.sign(rand(4))
    check(logloss, z, t)  # the jvp and the second order come from transposing the vjp
    assert np.isclose(lagrad.grad(logloss)(z, t).sum(), np.sum(-t / (1 + np.exp(t * z))))


def test_user_primitive_with_jvp_only_works_in_reverse_mode():
    @lagrad.primitive
    def cube(x):
        return x**3

    lagrad.defjvp(cube, lambda t, ans, x: 3 * x**2 * t)
    check(cube, rand(3))
    assert np.allclose(lagrad.grad(lambda x: lnp.sum(cube(x)))(np.array([1.0, 2.0])), [3.0, 12.0])


def test_user_elementwise_primitive_broadcasts():
    @lagrad.primitive
    def softplus(x, beta):
        return np.logaddexp(0.0, beta * x) / beta

    lagrad.defrule(
        softplus,
        lambda g, ans, x, beta: g / (1 + lnp.exp(-beta * x)),
        lambda g, ans, x, beta: g * (x / (1 + lnp.exp(-beta * x)) - ans) / beta,
    )
    check(softplus, rand(2, 3), positive(3))
    check(softplus, rand(2, 3), positive(1))


def test_user_linear_primitive():
    @lagrad.primitive
    def cumulative(x):
        return np.cumsum(x)

    lagrad.deflinear(cumulative, lambda g, ans, x: _reverse_cumsum(g))
    check(cumulative, rand(5))


def _reverse_cumsum(g):
    return lnp.stack([lnp.sum(g[i:]) for i in range(g.shape[0])])


def test_a_declared_none_is_a_zero_derivative():
    @lagrad.primitive
    def rounded(x):
        return np.round(x)

    lagrad.defvjp(rounded, None)
    g = lagrad.grad(lambda x: lnp.sum(rounded(x) * x))(np.array([0.4, 1.6]))
    assert np.array_equal(g, [0.0, 2.0])  # d/dx round(x)·x = round(x) where round is flat


def test_an_argument_with_no_declared_rule_is_refused_not_given_zero():
    """A forgotten rule must not read as a zero derivative (autograd and JAX raise too)."""

    @lagrad.primitive
    def product(a, b):
        return a * b

    lagrad.defvjp(product, lambda g, ans, a, b: g * b)  # b's rule forgotten
    x, y = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    message = r"primitive product has no derivative rule for its argument 2 .*lagrad.defvjp"
    with pytest.raises(TypeError, match=message):
        lagrad.grad(lambda a, b: lnp.sum(product(a, b)), argnums=(0, 1))(x, y)
    with pytest.raises(TypeError, match=message):
        lagrad.jvp(lambda b: product(x, b), (y,), (np.ones(2),))
    # the argument without a derivative is fine: only a's rule is needed
    assert np.array_equal(lagrad.grad(lambda a: lnp.sum(product(a, y)))(x), y)

    @lagrad.primitive
    def no_rules(a):
        return a * 2.0

    with pytest.raises(TypeError, match=r"primitive no_rules has no derivative rule for its argument 1"):
        lagrad.grad(lambda a: lnp.sum(no_rules(a)))(x)


def test_an_integer_result_needs_no_rule():
    @lagrad.primitive
    def bucket(a):
        return np.floor(a).astype(np.int64)

    x = np.array([0.5, 2.5])
    assert np.array_equal(lagrad.grad(lambda a: lnp.sum(a * bucket(a)))(x), [0.0, 2.0])


def test_rules_must_be_given_for_a_primitive():
    with pytest.raises(TypeError, match=r"lagrad\.primitive"):
        lagrad.defvjp(np.sin, lambda g, ans, x: g)


def test_primitive_on_plain_arrays_is_its_implementation():
    assert lnp.sin is not np.sin
    x = rand(3)
    assert np.array_equal(lnp.sin(x), np.sin(x))
    assert np.array_equal(lnp.add([1.0, 2.0], [3.0, 4.0]), [4.0, 6.0])  # NumPy semantics, not list +


def _polar(with_vjp=True):
    @lagrad.primitive
    def polar(x, y):
        """Two outputs: radius and angle."""
        return np.hypot(x, y), np.arctan2(y, x)

    if with_vjp:  # g is the pair of the outputs' multipliers
        lagrad.defvjp(
            polar,
            lambda g, ans, x, y: g[0] * x / ans[0] - g[1] * y / ans[0] ** 2,
            lambda g, ans, x, y: g[0] * y / ans[0] + g[1] * x / ans[0] ** 2,
        )
    else:  # a tangent rule returns the pair of the outputs' tangents
        lagrad.defjvp(
            polar,
            lambda t, ans, x, y: (t * x / ans[0], -t * y / ans[0] ** 2),
            lambda t, ans, x, y: (t * y / ans[0], t * x / ans[0] ** 2),
        )
    return polar


@pytest.mark.parametrize("with_vjp", [True, False])
def test_primitive_with_several_outputs(with_vjp):
    polar = _polar(with_vjp)

    def f(x, y):
        r, theta = polar(x, y)
        return r * lnp.sin(theta) + r**2

    x, y = positive(3), rand(3)
    check(f, x, y)
    check(lambda x, y: polar(x, y)[1], x, y)  # an output left unused gets a zero multiplier
    program = lagrad.trace(f, x, y)
    assert [repr(eq) for eq in program.equations[:3]] == [
        "z3 = polar(z1, z2)",
        "z4 = part(z3, index=0)",
        "z5 = part(z3, index=1)",
    ]
    assert "2 parts" in str(program)
    adj = lagrad.adjoint(lambda x, y: lnp.sum(f(x, y)), x, y)
    assert adj.layout[2] == (6, 12)  # z3 holds both outputs: 3 + 3 scalars
    dense = adj.matrix("dense")
    rhs = np.concatenate([np.ravel(v) if not isinstance(v, tuple) else np.concatenate(v) for v in adj.rhs])
    lam = np.linalg.solve(dense, rhs)
    assert np.allclose(lam[:3], lagrad.grad(lambda x, y: lnp.sum(f(x, y)))(x, y))
    assert adj.residual() < 1e-12


def test_traced_keyword_argument_is_refused():
    @lagrad.primitive
    def scaled(x, scale=1.0):
        return x * scale

    lagrad.defvjp(scaled, lambda g, ans, x, scale=1.0: g * scale)
    assert lagrad.grad(lambda x: scaled(x, scale=3.0))(2.0) == 3.0
    with pytest.raises(TypeError, match=r"scaled\(\.\.\., scale=<traced value>\).*positionally"):
        lagrad.grad(lambda x: scaled(x, scale=x))(2.0)


def test_a_ufunc_primitive_has_the_ufuncs_methods():
    # lnp.maximum.accumulate raised "'Primitive' object has no attribute 'accumulate'"
    x = np.array([1.0, 3.0, 2.0])
    assert np.array_equal(lnp.maximum.accumulate(x), [1.0, 3.0, 3.0]) and lnp.add.reduce(x) == 6.0
    assert lnp.maximum.nin == 2
    assert np.allclose(lagrad.grad(lambda x: lnp.add.reduce(x))(x), 1.0)  # recorded, as np.add.reduce
    # the running maximum passes each entry's derivative to the entry that holds the maximum so far
    assert np.allclose(lagrad.grad(lambda x: lnp.sum(lnp.maximum.accumulate(x)))(x), [1.0, 2.0, 0.0])
    # reduceat too (numpy/ufunc_methods.py): each entry lies in one segment, so each derivative is 1
    assert np.allclose(lagrad.grad(lambda x: lnp.sum(lnp.add.reduceat(x, [0, 2])))(x), 1.0)
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        lnp.maximum.nonsense  # noqa: B018
