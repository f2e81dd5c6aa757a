"""Second derivatives through structured loops (`lagrad.loops`, `loop_adjoint`): hvp, hessian
and the gradient of a gradient stay one equation of the derivative's trace, under every
checkpoint policy and every loop form, against the unrolled Python loop and central
finite differences; their memory does not grow with the trip count."""

from __future__ import annotations

import numpy as np
import pytest

import lagrad
import lagrad.numpy as lnp
from lagrad.testing import check_grads
from tests.helpers import LOOP_POLICIES, LOOP_POLICY_IDS, peak_memory

POLICIES, IDS = LOOP_POLICIES, LOOP_POLICY_IDS
RNG = np.random.default_rng(10)
U0 = RNG.random(4)


def _close(a, b, rtol=1e-10, atol=1e-12):
    flat_a, flat_b = lagrad.tree.tree_flatten(a)[0], lagrad.tree.tree_flatten(b)[0]
    assert len(flat_a) == len(flat_b)
    for x, y in zip(flat_a, flat_b):
        np.testing.assert_allclose(x, y, rtol=rtol, atol=atol)


def heat_step(u, a):
    return u + a * (lnp.roll(u, 1) - 2 * u + lnp.roll(u, -1)) * lnp.cos(u)


def heat(u, a, steps=5, **policy):
    u = lagrad.fori_loop(0, steps, lambda i, u: heat_step(u, a), u, **policy)
    return lnp.sum(u**3) + a * lnp.sum(u)


def heat_unrolled(u, a, steps=5):
    for _ in range(steps):
        u = heat_step(u, a)
    return lnp.sum(u**3) + a * lnp.sum(u)


def _second_orders(f, g, *args):
    """hessian (forward over reverse, batched), hvp, and the gradient of a gradient (reverse
    over reverse) of f against g, in every argument."""
    nums = tuple(range(len(args)))
    _close(lagrad.hessian(f, nums)(*args), lagrad.hessian(g, nums)(*args))
    v = tuple(RNG.random(np.shape(a)) for a in args)
    _close(lagrad.hvp(f, nums)(*args, v), lagrad.hvp(g, nums)(*args, v))

    def squared(h):
        return lambda *a: sum(lnp.sum(d**2) for d in lagrad.grad(h, nums)(*a))

    _close(lagrad.grad(squared(f), nums)(*args), lagrad.grad(squared(g), nums)(*args))


def _adjoints(f, *args):
    """The equations of f's gradient's trace that are loops' reverse sweeps."""
    program = lagrad.trace(lagrad.grad(f, tuple(range(len(args)))), *args)
    return [eq for eq in program.equations if eq.primitive.name == "loop_adjoint"], program


@pytest.mark.parametrize("policy", POLICIES, ids=IDS)
def test_fori_loop_second_order_against_the_unrolled_loop(policy):
    f = lambda u, a: heat(u, a, **policy)
    _second_orders(f, heat_unrolled, U0, 0.3)
    check_grads(f, U0, 0.3, modes=["fwd", "rev"], order=2)


def test_the_gradients_trace_holds_the_reverse_loop_as_one_equation():
    short, program_short = _adjoints(lambda u, a: heat(u, a, steps=3, checkpoint="binomial", snapshots=2), U0, 0.3)
    long, program_long = _adjoints(lambda u, a: heat(u, a, steps=60, checkpoint="binomial", snapshots=2), U0, 0.3)
    assert len(short) == len(long) == 1
    assert len(program_short.equations) == len(program_long.equations)  # not unrolled: no step's equations
    assert "loop_adjoint" in str(program_long)


def rnn(h, xs, w, **policy):
    def cell(h, x):
        h = lnp.tanh(w @ h + x["in"] * x["gate"])
        return h, {"h": h, "e": lnp.sum(h**2)}

    h, ys = lagrad.scan(cell, h, {"in": xs, "gate": lnp.cos(xs)}, **policy)
    return lnp.sum(h**2) + lnp.sum(ys["h"] * ys["h"][::-1]) + lnp.sum(lnp.sin(ys["e"]))


def rnn_unrolled(h, xs, w):
    hs, es = [], []
    for x in xs:
        h = lnp.tanh(w @ h + x * lnp.cos(x))
        hs.append(h)
        es.append(lnp.sum(h**2))
    hs = lnp.stack(hs)
    return lnp.sum(h**2) + lnp.sum(hs * hs[::-1]) + lnp.sum(lnp.sin(lnp.stack(es)))


@pytest.mark.parametrize("policy", POLICIES, ids=IDS)
def test_scan_with_trees_of_xs_and_ys_and_a_closure_second_order(policy):
    h0, xs, w = RNG.normal(size=3), RNG.normal(size=(4, 3)), 0.5 * RNG.normal(size=(3, 3))
    _second_orders(lambda h, x, w: rnn(h, x, w, **policy), rnn_unrolled, h0, xs, w)
    assert len(_adjoints(lambda h, x, w: rnn(h, x, w, **policy), h0, xs, w)[0]) == 1


def branchy(i, x, a, b):
    return a * x * (1 - x) if x < 0.5 else lnp.sin(b * x) + 0.1 * x * x


@pytest.mark.parametrize("policy", POLICIES, ids=IDS)
def test_a_body_with_branches_second_order(policy):
    def looped(a, b):
        return lagrad.fori_loop(0, 12, lambda i, x: branchy(i, x, a, b), 0.5, **policy)

    def unrolled(a, b):
        x = 0.5
        for i in range(12):
            x = branchy(i, x, a, b)
        return x

    _second_orders(looped, unrolled, 3.7, 0.3)
    check_grads(looped, 3.7, 0.3, modes=["fwd", "rev"], order=2)


@pytest.mark.parametrize("policy", POLICIES[2:], ids=IDS[2:])
def test_while_loop_and_a_tree_carry_second_order(policy):
    def f(x, s):
        c = lagrad.while_loop(
            lambda c: c["n"] < 4.0, lambda c: {"x": (lnp.sin(c["x"][0]) * s, c["x"][1] * s), "n": c["n"] + 1.0},
            {"x": (x, x * x), "n": 0.0}, **policy,
        )  # fmt: skip
        return lnp.sum(c["x"][0] * c["x"][1])

    def g(x, s):
        c = {"x": (x, x * x), "n": 0.0}
        while c["n"] < 4.0:
            c = {"x": (lnp.sin(c["x"][0]) * s, c["x"][1] * s), "n": c["n"] + 1.0}
        return lnp.sum(c["x"][0] * c["x"][1])

    _second_orders(f, g, U0, 1.3)
    check_grads(f, U0, 1.3, modes=["fwd", "rev"], order=2)


def test_checkpoint_and_a_loop_inside_a_loop_second_order():
    def inner(u, a):
        return lagrad.fori_loop(0, 3, lambda j, v: lnp.sin(v) * a + v[::-1], u, checkpoint="binomial", snapshots=1)

    def f(u, a):
        block = lagrad.checkpoint(lambda u: lnp.tanh(u) * a)
        return lnp.sum(lagrad.fori_loop(0, 3, lambda i, u: inner(block(u), a), u, checkpoint="every", every=2) ** 2)

    def g(u, a):
        for _ in range(3):
            u = lnp.tanh(u) * a
            for _ in range(3):
                u = lnp.sin(u) * a + u[::-1]
        return lnp.sum(u**2)

    _second_orders(f, g, U0, 0.7)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # sqrt's partial at 0: the infinity zero means zero masks
def test_zero_times_infinity_in_the_body_to_second_order():
    """A step whose multiplier is zero where its partial is infinite contributes zero, as unrolled."""

    def step(u):
        return lnp.sqrt(u) * lnp.array([0.0, 1.0, 1.0])

    def f(u):
        return lnp.sum(lagrad.fori_loop(0, 2, lambda i, u: step(u) + 0.5, u, checkpoint="binomial", snapshots=1) ** 2)

    def g(u):
        for _ in range(2):
            u = step(u) + 0.5
        return lnp.sum(u**2)

    u = np.array([0.0, 0.3, 0.8])
    _close(lagrad.hessian(f)(u), lagrad.hessian(g)(u))


@pytest.mark.parametrize(
    ("policy", "steps"),
    [({"checkpoint": "binomial", "snapshots": 3}, (40, 160)), ({"checkpoint": "none"}, (10, 40))],
    ids=["binomial", "none"],
)
def test_an_hvp_through_a_loop_does_not_grow_with_its_length(policy, steps):
    n = 2048  # a state of 16 kB: Python's own objects weigh little beside it
    u0, v = RNG.random(n), RNG.random(n)

    def loss(u, steps):
        u = lagrad.fori_loop(0, steps, lambda i, u: u + 0.2 * (lnp.roll(u, 1) - 2 * u + lnp.roll(u, -1)), u, **policy)
        return lnp.sum(u**3)

    short, long = (peak_memory(lambda s=s: lagrad.hvp(lambda u: loss(u, s))(u0, v)) for s in steps)
    grown = (long - short) / (8 * n)
    assert grown <= 1, f"{grown:.1f} states more for {steps[1]} steps than for {steps[0]}"


@pytest.mark.parametrize("policy", POLICIES, ids=IDS)
def test_a_complex_carry_started_from_a_real_value_second_order(policy):
    """The tangent of ``x + 0j`` is real: the loop over (carry, tangent) was traced with a real
    tangent at the first step and its reverse sweep dropped the imaginary part of that tangent's
    multiplier at the next, so hvp and hessian were wrong (H₀₁ = -0.14 for -0.84) while the
    gradient of the gradient was right. Here c₂ = conj(conj(c₀) p) p = 2 x₀ x₁² with
    c₀ = x₀, p = x₁ (1 - i): f = 0.6 x₀ x₁², H = [[0, 1.2 x₁], [1.2 x₁, 1.2 x₀]]."""

    def f(x):
        c = lagrad.fori_loop(0, 2, lambda i, c: lnp.conj(c) * (x[1] * (1 - 1j)), x[0] + 0j, **policy)
        return 0.3 * lnp.real(c) + 0.7 * lnp.imag(c)

    x = np.array([0.4, -0.7])
    expected = np.array([[0.0, 1.2 * x[1]], [1.2 * x[1], 1.2 * x[0]]])
    _close(lagrad.hessian(f)(x), expected)
    _close(lagrad.hvp(f)(x, np.array([1.0, 0.0])), expected[:, 0])
    _close(lagrad.jacobian(lagrad.grad(f))(x), expected)
