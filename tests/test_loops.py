"""Structured loops (`lagrad.loops`): each form against its unrolled Python loop, in every
derivative mode and under every checkpoint policy, with finite differences to second order;
branching bodies, bodies closing over traced values, trees; the recompute counts of the
binomial schedule against revolve's; errors for bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

import lagrad
import lagrad.numpy as lnp
from lagrad import schedule
from lagrad.loops import LoopError
from lagrad.testing import check_grads
from tests.helpers import LOOP_POLICIES, LOOP_POLICY_IDS, peak_memory

POLICIES, IDS = LOOP_POLICIES, LOOP_POLICY_IDS
RNG = np.random.default_rng(0)
U0 = RNG.random(4)


def heat_step(u, alpha):
    return u + alpha * (lnp.roll(u, 1) - 2 * u + lnp.roll(u, -1))


def heat_loop(u0, alpha, steps=5, **policy):
    return lagrad.fori_loop(0, steps, lambda i, u: heat_step(u, alpha), u0, **policy)


def heat_unrolled(u0, alpha, steps=5):
    u = u0
    for _ in range(steps):
        u = heat_step(u, alpha)
    return u


def _close(a, b):
    for x, y in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
        np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("policy", POLICIES, ids=IDS)
def test_fori_loop_against_the_unrolled_loop_in_every_mode(policy):
    f = lambda u, a: heat_loop(u, a, **policy) ** 3
    g = lambda u, a: heat_unrolled(u, a) ** 3
    _close(f(U0, 0.1), g(U0, 0.1))
    for mode in ("rev", "fwd"):
        _close(lagrad.jacobian(f, (0, 1), mode=mode)(U0, 0.1), lagrad.jacobian(g, (0, 1))(U0, 0.1))
    _close(lagrad.hessian(lambda u: f(u, 0.1).sum())(U0), lagrad.hessian(lambda u: g(u, 0.1).sum())(U0))
    _close(lagrad.jvp(f, (U0, 0.1), (U0, 1.0))[1], lagrad.jvp(g, (U0, 0.1), (U0, 1.0))[1])
    _close(lagrad.vjp(f, U0, 0.1)[1](U0), lagrad.vjp(g, U0, 0.1)[1](U0))
    check_grads(f, U0, 0.1, modes=["fwd", "rev"], order=2)


def test_plain_values_run_the_loop_without_tracing():
    out = lagrad.fori_loop(2, 7, lambda i, u: u * 0.5 + i, np.ones(3))
    want = np.ones(3)
    for i in range(2, 7):
        want = want * 0.5 + i
    np.testing.assert_allclose(out, want)


def rnn(h0, xs, w, **policy):
    def cell(h, x):
        h = lnp.tanh(w @ h + x)
        return h, {"energy": (h**2).sum(), "first": h[0]}

    h, ys = lagrad.scan(cell, h0, xs, **policy)
    return (h**2).sum() + (ys["energy"] ** 2).sum() + lnp.sin(ys["first"]).sum()


def rnn_unrolled(h0, xs, w):
    h, energies, firsts = h0, [], []
    for t in range(xs.shape[0]):
        h = lnp.tanh(w @ h + xs[t])
        energies.append((h**2).sum())
        firsts.append(h[0])
    return (h**2).sum() + (lnp.stack(energies) ** 2).sum() + lnp.sin(lnp.stack(firsts)).sum()


@pytest.mark.parametrize("policy", POLICIES, ids=IDS)
def test_scan_with_xs_ys_trees_and_a_closure(policy):
    h0, xs, w = RNG.normal(size=3), RNG.normal(size=(5, 3)), 0.5 * RNG.normal(size=(3, 3))
    _close(rnn(h0, xs, w, **policy), rnn_unrolled(h0, xs, w))
    _close(lagrad.grad(rnn, (0, 1, 2))(h0, xs, w, **policy), lagrad.grad(rnn_unrolled, (0, 1, 2))(h0, xs, w))
    _close(
        lagrad.jacobian(lambda x: rnn(h0, x, w, **policy), mode="fwd")(xs),
        lagrad.jacobian(lambda x: rnn_unrolled(h0, x, w))(xs),
    )
    check_grads(lambda h, x, w: rnn(h, x, w, **policy), h0, xs, w, modes=["fwd", "rev"], order=1)


def test_scan_second_order_and_length_without_xs():
    h0, xs, w = RNG.normal(size=2), RNG.normal(size=(4, 2)), 0.5 * RNG.normal(size=(2, 2))
    check_grads(lambda h, w: rnn(h, xs, w, checkpoint="binomial", snapshots=2), h0, w, modes=["fwd", "rev"], order=2)
    carry, ys = lagrad.scan(lambda c, x: (c * 2.0, c + 1.0), np.ones(2), length=3)
    np.testing.assert_allclose(carry, 8.0 * np.ones(2))
    np.testing.assert_allclose(ys, [[2.0, 2.0], [3.0, 3.0], [5.0, 5.0]])


def tree_body(i, c):
    return {"x": c["x"] * lnp.cos(c["y"][0]), "y": (c["y"][0] + 0.1 * c["x"].sum(), c["y"][1] * 0.9)}


@pytest.mark.parametrize("policy", POLICIES, ids=IDS)
def test_a_tree_carry(policy):
    def f(x, y):
        out = lagrad.fori_loop(0, 4, tree_body, {"x": x, "y": (y, y * 2)}, **policy)
        return out["x"].sum() * out["y"][0] + out["y"][1]

    def g(x, y):
        c = {"x": x, "y": (y, y * 2)}
        for i in range(4):
            c = tree_body(i, c)
        return c["x"].sum() * c["y"][0] + c["y"][1]

    _close(lagrad.grad(f, (0, 1))(U0, 0.3), lagrad.grad(g, (0, 1))(U0, 0.3))
    check_grads(f, U0, 0.3, modes=["fwd", "rev"], order=2 if policy["checkpoint"] == "binomial" else 1)


def branchy_body(i, x, a, b):
    return a * x * (1 - x) if x < 0.5 else lnp.sin(b * x) + 0.1 * x


@pytest.mark.parametrize("policy", POLICIES, ids=IDS)
def test_a_body_whose_branch_flips_per_iteration(policy):
    steps = 12

    def looped(a, b):
        return lagrad.fori_loop(0, steps, lambda i, x: branchy_body(i, x, a, b), 0.5, **policy)

    def unrolled(a, b):
        x = 0.5
        for i in range(steps):
            x = branchy_body(i, x, a, b)
        return x

    _close(looped(3.7, 0.3), unrolled(3.7, 0.3))
    _close(lagrad.grad(looped, (0, 1))(3.7, 0.3), lagrad.grad(unrolled, (0, 1))(3.7, 0.3))
    check_grads(looped, 3.7, 0.3, modes=["fwd", "rev"], order=2 if policy["checkpoint"] == "all" else 1)
    body = next(eq.params["body"] for eq in lagrad.trace(looped, 3.7, 0.3).equations if "body" in eq.params)
    assert len(body.variants) == 2  # two paths traced, not one Program per iteration
    assert body.last_schedule[0] == (0, 0) and {v for _, v in body.last_schedule} == {0, 1}


def test_a_branch_on_the_index_and_the_variant_runs_are_compact():
    def f(x):
        return lagrad.fori_loop(0, 1000, lambda i, c: c * 1.001 if i < 600 else c * lnp.cos(x), x)

    def g(x):
        c = x
        for i in range(1000):
            c = c * 1.001 if i < 600 else c * lnp.cos(x)
        return c

    _close(lagrad.grad(f)(0.2), lagrad.grad(g)(0.2))
    body = next(eq.params["body"] for eq in lagrad.trace(f, 0.2).equations if "body" in eq.params)
    assert body.last_schedule == [(0, 0), (600, 1)]


def fixed_point(a, **policy):
    return lagrad.while_loop(lambda x: lnp.abs(x - lnp.cos(a * x)) > 1e-12, lambda x: lnp.cos(a * x), 1.0, **policy)


@pytest.mark.parametrize("policy", POLICIES, ids=IDS)
def test_while_loop_to_convergence_in_reverse_mode(policy):
    a = 0.7
    x = float(fixed_point(a))
    implicit = -math.sin(a * x) * x / (1 + a * math.sin(a * x))  # the implicit function theorem
    assert abs(lagrad.grad(lambda a: fixed_point(a, **policy))(a) - implicit) < 1e-9
    check_grads(lambda a: fixed_point(a, **policy), a, modes=["fwd", "rev"], order=1)


def test_while_loop_against_its_unrolled_loop_to_second_order():
    def f(x, s):
        return lagrad.while_loop(lambda c: c[1] < 4.0, lambda c: (lnp.sin(c[0]) * s, c[1] + 1.0), (x, 0.0))[0]

    def g(x, s):
        c = (x, 0.0)
        while c[1] < 4.0:
            c = (lnp.sin(c[0]) * s, c[1] + 1.0)
        return c[0]

    _close(lagrad.jacobian(f, (0, 1))(U0, 1.3), lagrad.jacobian(g, (0, 1))(U0, 1.3))
    check_grads(lambda x, s: f(x, s).sum(), U0, 1.3, modes=["fwd", "rev"], order=2)


def test_checkpoint_recomputes_a_segment():
    def block(x, y):
        return {"a": lnp.sin(x) * y, "b": lnp.exp(x).sum()}

    def f(x, y):
        out = lagrad.checkpoint(block)(x, y)
        return (out["a"] ** 2).sum() * out["b"]

    def g(x, y):
        out = block(x, y)
        return (out["a"] ** 2).sum() * out["b"]

    x, y = RNG.normal(size=3), RNG.normal(size=3)
    _close(lagrad.grad(f, (0, 1))(x, y), lagrad.grad(g, (0, 1))(x, y))
    check_grads(f, x, y, modes=["fwd", "rev"], order=2)


def _loop_record(system):
    assert system.gradients is not None  # the reverse sweep runs
    k = next(k for k, eq in enumerate(system.program.equations) if "body" in eq.params)
    return system.tape.values[k][0].record


@pytest.mark.parametrize(("steps", "snapshots"), [(50, 4), (100, 6), (37, 3), (20, 2), (10, 21), (12, 1)])
def test_binomial_recomputes_as_few_steps_as_revolve(steps, snapshots):
    system = lagrad.adjoint(lambda u: heat_loop(u, 0.1, steps, checkpoint="binomial", snapshots=snapshots).sum(), U0)
    np.testing.assert_allclose(system.gradients[0], lagrad.grad(lambda u: heat_unrolled(u, 0.1, steps).sum())(U0))
    counts = _loop_record(system).counts
    s = snapshots  # as revolve counts them: the initial state is one of the snapshots
    descent = schedule.first_descent(steps, s)
    # the forward sweep stored the first descent's states; the rest of revolve's advances ran in reverse
    assert counts["advance"] + descent[-1] == schedule.advances(steps, s)
    assert counts["record"] == steps and counts["max_stored"] == len(descent) <= s


def test_none_and_every_recompute_counts():
    system = lagrad.adjoint(lambda u: heat_loop(u, 0.1, 12, checkpoint="none").sum(), U0)
    assert _loop_record(system).counts["advance"] == 12 * 11 // 2
    system = lagrad.adjoint(lambda u: heat_loop(u, 0.1, 12, checkpoint="every", every=5).sum(), U0)
    counts = _loop_record(system).counts
    assert counts["advance"] == 0 and counts["record"] == 12 and counts["max_stored"] == 3


def test_the_loop_prints_with_its_body_and_is_one_block():
    program = lagrad.trace(lambda u, a: heat_loop(u, a, 3).sum(), U0, 0.1)
    text = str(program)
    loops = [eq for eq in program.equations if eq.primitive.name == "loop"]
    assert len(loops) == 1 and "fori_loop(0, 3) all" in text
    assert "\n      body:" in text and "roll(z2, shift=1" in text  # the body, indented under the loop
    system = lagrad.adjoint(lambda u, a: heat_loop(u, a, 3).sum(), U0, 0.1)
    labels = np.asarray(system.matrix("symbolic"))
    k = loops[0].out
    column = [label for label in labels[:, k] if label not in ("", "0", 0, None)]
    assert len([c for c in column if "∂" in str(c)]) == 2  # ∂loop/∂u0 and ∂loop/∂alpha: one block each


def test_python_loops_still_unroll():
    program = lagrad.trace(lambda u: heat_unrolled(u, 0.1, 3).sum(), U0)
    assert all(eq.primitive.name != "loop" for eq in program.equations) and len(program.equations) > 12


# ----- errors -------------------------------------------------------------------------


def test_a_body_that_changes_the_carry_dtype_names_the_iteration_and_leaf():
    with pytest.raises(LoopError, match=r"iteration 0 .*\['y'\].* float64 into .* float32"):
        lagrad.fori_loop(0, 3, lambda i, c: {"x": c["x"], "y": c["y"].astype(np.float32)}, {"x": U0, "y": U0})


def test_a_body_that_changes_the_carry_shape_at_a_later_iteration():
    def body(i, c):
        return c if c.sum() < 5 else lnp.concatenate([c, c])[:3]

    with pytest.raises(LoopError, match=r"iteration 1 .* \(4,\) float64 into \(3,\)"):  # sum 4, then 6
        lagrad.grad(lambda u: lagrad.fori_loop(0, 6, lambda i, c: body(i, c) * 1.5, u).sum())(np.ones(4))


def test_max_steps_exceeded():
    with pytest.raises(LoopError, match="max_steps=10"):
        lagrad.grad(lambda x: lagrad.while_loop(lambda c: c < 1e6, lambda c: c * 2.0, x, max_steps=10))(1.0)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: lagrad.fori_loop(0, 3, "body", 1.0), "fori_loop: body must be a function"),
        (lambda: lagrad.scan(None, 1.0, length=2), "scan: body must be a function"),
        (lambda: lagrad.while_loop(1.0, lambda c: c, 1.0), "while_loop: cond must be a function"),
        (lambda: lagrad.checkpoint(3), "checkpoint: fun must be a function"),
    ],
)
def test_a_non_callable_body(call, message):
    with pytest.raises(TypeError, match=message):
        call()


def test_bad_policies_and_lengths():
    with pytest.raises(ValueError, match="checkpoint must be one of"):
        lagrad.fori_loop(0, 3, lambda i, c: c, 1.0, checkpoint="some")
    with pytest.raises(ValueError, match="needs snapshots"):
        lagrad.fori_loop(0, 3, lambda i, c: c, 1.0, checkpoint="binomial")
    with pytest.raises(ValueError, match="needs every"):
        lagrad.fori_loop(0, 3, lambda i, c: c, 1.0, checkpoint="every", every=0)
    with pytest.raises(ValueError, match="give xs or length"):
        lagrad.scan(lambda c, x: (c, c), 1.0)
    with pytest.raises(ValueError, match="same leading length"):
        lagrad.scan(lambda c, x: (c, c), 1.0, (np.ones(3), np.ones(2)))


def test_a_fixed_point_inside_the_body_keeps_its_diagonal_block():
    """The body's back-substitution solves the implicit equation's block, as the outer one does."""
    x = np.linspace(0.1, 1.0, 4)

    def f(x):
        def body(i, u):
            return u + lagrad.fixed_point(lambda z, u: 0.3 * lnp.tanh(z[::-1] + u), np.zeros(4), u) * u

        return lnp.sum(lagrad.fori_loop(0, 2, body, x) ** 2)

    e = 1e-6
    fd = np.array([(f(x + e * d) - f(x - e * d)) / (2 * e) for d in np.eye(4)])
    np.testing.assert_allclose(lagrad.grad(f)(x), fd, rtol=1e-7)
    np.testing.assert_allclose(lagrad.jacobian(f, mode="fwd")(x), fd, rtol=1e-7)
    g = lagrad.grad(f)
    hessian_fd = np.array([(g(x + e * d) - g(x - e * d)) / (2 * e) for d in np.eye(4)])
    np.testing.assert_allclose(lagrad.hessian(f)(x), hessian_fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("policy", POLICIES[2:], ids=IDS[2:])
def test_a_fixed_point_inside_a_recomputed_body(policy):
    """A step recorded for its reverse only (binomial, none) still runs the implicit equation
    whose solution its diagonal block reads."""
    x = np.linspace(0.1, 1.0, 4)

    def f(x):
        def body(i, u):
            return u + lagrad.fixed_point(lambda z, u: 0.3 * lnp.tanh(z[::-1] + u), np.zeros(4), u) * u

        return lnp.sum(lagrad.fori_loop(0, 3, body, x, **policy) ** 2)

    e = 1e-6
    fd = np.array([(f(x + e * d) - f(x - e * d)) / (2 * e) for d in np.eye(4)])
    np.testing.assert_allclose(lagrad.grad(f)(x), fd, rtol=1e-7)


def test_a_step_recorded_for_its_reverse_only_keeps_the_same_tape():
    """Without its outputs a step runs only what its tape reads (here not the last product nor
    the carry's sum, which no rule reads), and the tape holds the same values as a full run's."""

    def body(c, x):
        e = lnp.exp(c * x)  # exp's rule reads its result
        y = lnp.tanh(e) * x
        return c + y * 0.5, {"y": y, "e": e}

    xs = RNG.normal(size=(3, 4))
    program = lagrad.trace(lambda c, xs: lagrad.scan(body, c, xs)[0].sum(), U0, xs)
    spec = next(eq.params["body"] for eq in program.equations if "body" in eq.params)
    variant = spec.variants[0]
    inputs = spec.inputs(1, [U0], [xs], [], variant)
    outs, full = variant.run(list(inputs), True, False, False)
    none, spent = variant.run(list(inputs), True, False, False, outputs=False)
    assert none is None and len(outs) == 3 and len(spent) == len(full)
    for a, b in zip(full, spent):
        for u, v in zip(a, b):
            assert (u is None) == (v is None)
            if isinstance(u, np.ndarray):
                assert np.array_equal(u, v)
            else:
                assert u == v or type(u).__name__ == "Aval"
    ran = {n for n in variant.compiled[True, False, False].__code__.co_varnames if n.startswith("z")}
    ran_all = {n for n in variant.compiled[True, False, True].__code__.co_varnames if n.startswith("z")}
    assert len(ran_all) - len(ran) == 3  # y, y * 0.5 and the new carry are not computed


# ----- a branch first taken in a replay ---------------------------------------------------


def flip_body(x, a, b):
    return x * a if x < 1.0 else lnp.sin(b * x) + x


def flip_unrolled(a, b, steps=6):
    x = 0.3
    for _ in range(steps):
        x = flip_body(x, a, b)
    return x


@pytest.mark.parametrize("policy", POLICIES, ids=IDS)
def test_a_branch_first_taken_in_a_replay_reads_the_outer_values(policy):
    """Traced at a = 1.1 the body never takes its second branch, which alone reads b; a replay at
    a = 1.5 takes it from iteration 3 on and must read this run's a and b, with their derivatives."""
    f = lambda a, b: lagrad.fori_loop(0, 6, lambda i, x: flip_body(x, a, b), 0.3, **policy)
    program = lagrad.trace(f, 1.1, 0.7)
    body = next(eq.params["body"] for eq in program.equations if "body" in eq.params)
    assert len(body.variants) == 1
    _close(program(1.5, 0.9), flip_unrolled(1.5, 0.9))
    assert len(body.variants) == 2
    system = lagrad.AdjointSystem(program, program.replay(1.5, 0.9))
    _close(tuple(system.gradients), lagrad.grad(flip_unrolled, (0, 1))(1.5, 0.9))
    e = 1e-6  # central differences of the replayed Program, in b (which only the new branch reads)
    fd = (float(program(1.5, 0.9 + e)) - float(program(1.5, 0.9 - e))) / (2 * e)
    assert abs(system.gradients[1] - fd) < 1e-7


def test_a_value_the_loop_cannot_see_is_named_in_a_replay():
    holder = {}

    def body(x):
        return x * holder["a"] if x < 1.0 else lnp.sin(holder["b"][0] * x)

    def f(a, b):
        holder["a"], holder["b"] = a, (b,)  # b inside a tuple of a dict: found, but not replaceable
        return lagrad.fori_loop(0, 6, lambda i, x: body(x), 0.3)

    program = lagrad.trace(f, 1.1, 0.7)
    with pytest.raises(LoopError, match=r"iteration 3 .* trace that recorded the loop, which has ended"):
        program(1.5, 0.9)


# ----- the generated replay of a variant, where it could differ from the interpreter ------


@pytest.mark.parametrize("policy", POLICIES, ids=IDS)
def test_aliased_outputs_pass_through_leaves_empty_arrays_and_integers(policy):
    """The body returns one variable as both carry and y, passes leaves through unchanged
    (an integer counter, an empty array) and returns a constant."""

    def body(c, x):
        h = lnp.sin(c["h"] * x)
        return {"h": h, "n": c["n"] + 1, "e": c["e"], "k": c["k"]}, (h, np.float64(2.0))

    def f(h0, xs, **policy):
        c, (ys, twos) = lagrad.scan(body, {"h": h0, "n": np.int64(0), "e": np.zeros(0), "k": h0}, xs, **policy)
        assert int(lagrad.value(c["n"])) == len(xs) and np.shape(c["e"]) == (0,)
        return (ys**2).sum() + (c["h"] * c["k"]).sum() + twos.sum()

    def g(h0, xs):
        h, total = h0, 0.0
        for x in xs:
            h = lnp.sin(h * x)
            total = total + (h**2).sum() + 2.0
        return total + (h * h0).sum()

    h0, xs = RNG.normal(size=3), RNG.normal(size=(4, 3))
    _close(f(h0, xs, **policy), g(h0, xs))
    _close(lagrad.grad(lambda h, x: f(h, x, **policy), (0, 1))(h0, xs), lagrad.grad(g, (0, 1))(h0, xs))
    check_grads(lambda h, x: f(h, x, **policy), h0, xs, modes=["fwd", "rev"], order=1)


def test_a_loop_inside_a_loop_body_keeps_its_record():
    def f(u, a):
        inner = lambda i, v: lagrad.fori_loop(0, 3, lambda j, w: lnp.tanh(a * w) + v, v, checkpoint="none")
        return (lagrad.fori_loop(0, 4, inner, u, checkpoint="binomial", snapshots=2) ** 2).sum()

    def g(u, a):
        for _ in range(4):
            v = w = u
            for _ in range(3):
                w = lnp.tanh(a * w) + v
            u = w
        return (u**2).sum()

    _close(lagrad.grad(f, (0, 1))(U0, 0.7), lagrad.grad(g, (0, 1))(U0, 0.7))
    check_grads(f, U0, 0.7, modes=["fwd", "rev"], order=1)


@pytest.mark.parametrize("policy", POLICIES, ids=IDS)
def test_zero_times_infinity_inside_the_body_is_zero_as_unrolled(policy):
    """sqrt at 0 has an infinite partial that only a zero multiplier reaches."""

    def body(c):
        return {"x": c["x"] * 1.1 + 0.0 * lnp.sqrt(c["z"]), "z": c["z"]}

    def f(x, z):
        return lagrad.fori_loop(0, 5, lambda i, c: body(c), {"x": x, "z": z}, **policy)["x"].sum()

    def g(x, z):
        c = {"x": x, "z": z}
        for _ in range(5):
            c = body(c)
        return c["x"].sum()

    z = np.array([0.0, 1.0, 4.0, 0.0])
    got, want = lagrad.grad(f, (0, 1))(U0, z), lagrad.grad(g, (0, 1))(U0, z)
    assert np.all(np.isfinite(got[1]))
    _close(got, want)


def test_a_one_shot_gradient_hands_the_loop_its_seed_and_replays_where_nan_shows(monkeypatch):
    """grad's sweep hands the loop its multiplier (freed after the first reverse step), so the
    loop cannot run its own masked sweep: NaN in its result (0 × sqrt's infinite partial) makes
    the enclosing sweep replay the run and sweep it masked, the loop then given the multiplier
    itself. A vjp's pullback keeps its seed: called twice, it answers twice alike."""
    from lagrad import transforms

    replays = []
    replay = transforms._replay
    monkeypatch.setattr(transforms, "_replay", lambda *args: (replays.append(1), replay(*args))[1])

    def f(x, z):
        c = {"x": x, "z": z}
        body = lambda i, c: {"x": c["x"] * 1.1 + 0.0 * lnp.sqrt(c["z"]), "z": c["z"]}
        return lagrad.fori_loop(0, 5, body, c, checkpoint="binomial", snapshots=2)["x"]

    z = np.array([0.0, 1.0, 4.0, 0.0])
    gx, gz = lagrad.grad(lambda x, z: f(x, z).sum(), (0, 1))(U0, z)
    assert replays == [1]
    np.testing.assert_allclose(gx, np.full(4, 1.1**5), rtol=1e-14)  # x_5 = 1.1⁵ x
    np.testing.assert_array_equal(gz, np.zeros(4))  # z reaches x_5 only times zero
    _, pullback = lagrad.vjp(f, U0, z)
    w = np.array([1.0, -2.0, 0.5, 3.0])
    first, second = pullback(w), pullback(w)
    np.testing.assert_allclose(first[0], 1.1**5 * w, rtol=1e-14)
    np.testing.assert_array_equal(first[1], np.zeros(4))
    np.testing.assert_array_equal(second[0], first[0])
    np.testing.assert_array_equal(second[1], first[1])


def test_a_one_shot_gradient_through_two_loops_one_reading_the_others_result_twice():
    """Each loop takes its own seed over; the first loop's result is read by the second loop's
    body, as its initial carry and by the loss, so its multiplier is a sum of three."""

    def f(a, u, structured=True):
        if structured:
            v = lagrad.fori_loop(0, 4, lambda i, u: u + a * lnp.sin(u), u, checkpoint="binomial", snapshots=2)
            w = lagrad.fori_loop(0, 3, lambda i, w: w * a + v, v, checkpoint="binomial", snapshots=2)
        else:
            v = u
            for _ in range(4):
                v = v + a * lnp.sin(v)
            w = v
            for _ in range(3):
                w = w * a + v
        return lnp.sum(w * v) + lnp.sum(v**2)

    got = lagrad.grad(f, (0, 1))(0.3, U0)
    _close(got, lagrad.grad(lambda a, u: f(a, u, False), (0, 1))(0.3, U0))
    check_grads(f, 0.3, U0, modes=["rev"], order=1)


# ----- while_loop: the states kept online -------------------------------------------------


def counted_while(u, n, snapshots):
    def body(c):
        return (c[0] + 0.1 * (lnp.roll(c[0], 1) - c[0]) * c[0], c[1] + 1.0)

    return lagrad.while_loop(lambda c: c[1] < n, body, (u, 0.0), checkpoint="binomial", snapshots=snapshots)[0]


@pytest.mark.parametrize(("steps", "snapshots"), [(35, 4), (30, 4), (100, 6), (84, 6), (7, 2)])
def test_while_loop_keeps_states_online_for_its_binomial_sweep(steps, snapshots):
    """The trip count is unknown while the loop runs: it keeps the first descent of revolve's
    schedule for the longest loop its repetitions reverse, which is a loop of exactly that
    length's own (35 = C(4 + 3, 4), 84 = C(6 + 3, 6)); otherwise the reverse sweep advances
    fewer steps than it would from the initial state alone, and more than with the count
    known, and never holds more states than a fori_loop."""
    f = lambda u: counted_while(u, steps, snapshots).sum()
    system = lagrad.adjoint(f, U0)
    np.testing.assert_allclose(system.gradients[0], lagrad.grad(lambda u: heat_like(u, steps).sum())(U0), rtol=1e-12)
    counts = _loop_record(system).counts
    s = snapshots
    known = schedule.advances(steps, s) - schedule.first_descent(steps, s)[-1]  # as a fori_loop
    if steps in (35, 84):
        assert counts["advance"] == known
    else:
        assert known < counts["advance"] < schedule.advances(steps, s)  # (the initial state alone)
    assert counts["record"] == steps and counts["max_stored"] <= s


def heat_like(u, steps):
    for _ in range(steps):
        u = u + 0.1 * (lnp.roll(u, 1) - u) * u
    return u


def test_while_loop_online_to_second_order():
    check_grads(lambda u: counted_while(u, 9, 3).sum(), U0, modes=["fwd", "rev"], order=2)


def test_loops_on_array_api_strict_arrays_are_refused_naming_the_library():
    xp = pytest.importorskip("array_api_strict")
    x = xp.asarray([0.3, -0.2, 0.5])
    with pytest.raises(TypeError, match=r"structured loops .* not on array_api_strict arrays"):
        lagrad.grad(lambda x: lnp.sum(lagrad.fori_loop(0, 3, lambda i, u: lnp.sin(u) * 0.5, x)))(x)
    with pytest.raises(TypeError, match=r"structured loops .* not on array_api_strict arrays"):
        lagrad.grad(lambda x: lnp.sum(lagrad.checkpoint(lambda u: lnp.sin(u) * u)(x)))(x)
    for n in (1, 0):  # a scan of length 0 is refused alike (it failed in np.empty on the strict dtype)
        with pytest.raises(TypeError, match=r"structured loops .* not on array_api_strict arrays"):
            lagrad.grad(lambda x, n=n: lnp.sum(lagrad.scan(lambda c, _: (c * 2.0, c), x, length=n)[0]))(x)


def test_a_binomial_gradient_holds_its_snapshots_and_one_state_beyond_the_forward():
    """tracemalloc's peak of a binomial gradient over the NumPy forward loop's own peak: the
    snapshots (the initial state, the input's copy, among them) and the multiplier between two
    steps, plus at most one state of Python objects (a state is 32 kB here; 7.56 states
    measured). The enclosing Tape keeps the loop's record, not its result, the one-shot sweep
    gives up the loss's difference once its rule has run, and hands the loop its seed, which
    the loop's first reverse step frees: keeping any of them costs one more, as would one step's
    back-substitution holding more than the forward step does (a sum made anew instead of in
    place, a seed kept through the step), or a snapshot more than `snapshots`."""

    n, steps, snapshots = 4096, 100, 6
    rng = np.random.default_rng(1)
    u0, target = rng.random(n), rng.random(n)

    def step(u, a):
        return u + a * (np.roll(u, 1) - 2 * u + np.roll(u, -1))

    def forward():
        u = u0
        for _ in range(steps):
            u = step(u, 0.2)
        return np.sum((u - target) ** 2)

    def loss(a, u0):
        u = lagrad.fori_loop(
            0,
            steps,
            lambda i, u: u + a * (lnp.roll(u, 1) - 2 * u + lnp.roll(u, -1)),
            u0,
            checkpoint="binomial",
            snapshots=snapshots,
        )
        return lnp.sum((u - target) ** 2)

    gradient = lagrad.grad(loss, (0, 1))

    extra = (peak_memory(lambda: gradient(0.2, u0)) - peak_memory(forward)) / (8 * n)
    assert extra <= snapshots + 1 + 1, f"{extra:.2f} states"


def test_the_enclosing_tape_keeps_the_loops_record_not_its_outputs():
    from lagrad.loops import LoopRun
    from lagrad.transforms import _trace

    def loss(a, u0):
        u = lagrad.fori_loop(0, 5, lambda i, u: u + a * lnp.sin(u), u0, checkpoint="binomial", snapshots=3)
        return lnp.sum(u**2)

    traced = _trace(loss, (0.3, np.linspace(-1.0, 1.0, 4)), {}, (0, 1), "grad")
    (k,) = [k for k, eq in enumerate(traced.program.equations) if eq.primitive.name == "loop"]
    kept = traced.tape.values[k][0]
    assert type(kept) is LoopRun and kept.record.n == 5
    # a replay of the Program keeps the same
    again = traced.program.replay(0.3, np.linspace(-1.0, 1.0, 4))
    assert type(again.values[k][0]) is LoopRun


def test_a_one_shot_gradient_gives_up_its_run_and_replays_it_for_the_masked_sweep(monkeypatch):
    """grad's sweep empties the Tape as it goes; where NaN shows (sqrt's partial is infinite at
    0, where its multiplier is zero), the second, masked sweep runs on a replay of the Program.
    The transforms that read their run again (vjp's pullback, higher order) keep it."""
    from lagrad import transforms

    replays = []
    replay = transforms._replay
    monkeypatch.setattr(transforms, "_replay", lambda *args: (replays.append(1), replay(*args))[1])

    def masked(u):
        return lnp.sum(lnp.where(u > 0, lnp.sqrt(lnp.abs(u)), 0.0))

    def looped(a, u0):
        return masked(lagrad.fori_loop(0, 3, lambda i, u: u * a + 0.1 * u**2, u0, checkpoint="binomial", snapshots=2))

    def unrolled(a, u0):
        u = u0
        for _ in range(3):
            u = u * a + 0.1 * u**2
        return masked(u)

    u0 = np.array([0.0, 0.5, -0.25, 2.0])
    a = 0.4
    u3 = u0
    for _ in range(3):
        u3 = u3 * a + 0.1 * u3**2
    du3 = np.ones(4)  # d u3 / d u0, step by step: (a + 0.2 u) per step
    u = u0
    for _ in range(3):
        du3, u = du3 * (a + 0.2 * u), u * a + 0.1 * u**2
    with np.errstate(divide="ignore"):
        closed = np.where(u3 > 0, 0.5 / np.sqrt(np.abs(u3)) * du3, 0.0)  # an independent closed form
    g = lagrad.grad(looped, (0, 1))
    for calls in (1, 2):  # a second call traces and gives up its own run
        got = g(a, u0)
        assert len(replays) == calls
        assert np.allclose(got[1], closed, rtol=1e-13, atol=0) and np.all(np.isfinite(got[0]))
    want = lagrad.grad(unrolled, (0, 1))(a, u0)
    assert np.allclose(got[0], want[0], rtol=1e-13) and len(replays) == 3
    _, pullback = lagrad.vjp(looped, a, u0)
    for got in (pullback(1.0), pullback(1.0)):  # the pullback reads its Tape twice
        assert np.allclose(got[0], want[0], rtol=1e-13) and np.allclose(got[1], closed, rtol=1e-13)
    assert len(replays) == 3  # vjp keeps its run
    h_looped, h_unrolled = lagrad.hessian(looped, 0)(a, u0), lagrad.hessian(unrolled, 0)(a, u0)
    assert np.allclose(h_looped, h_unrolled, rtol=1e-12)

    def logged(u0):  # log(0) warns once, where the function runs; the replay does not warn again
        return lnp.sum(lnp.where(u0 > 0, lnp.log(lnp.abs(u0)), 0.0))

    with pytest.warns(RuntimeWarning, match="divide by zero") as caught:
        got = lagrad.grad(logged)(u0)
    assert len(caught) == 1 and len(replays) == 4
    assert np.array_equal(got, [0.0, 2.0, 0.0, 0.5])


def test_scan_of_length_zero_returns_the_carry_and_empty_ys_shaped_as_one_step():
    # ys came back None, so sum(ys) was None rather than 0
    def body(c, x):
        return c * x, {"a": c + x, "b": lnp.sum(c), "n": x[0].astype(np.float32)}

    h = np.array([0.5, -2.0])
    carry, ys = lagrad.scan(body, h, np.ones((0, 2)))
    assert np.array_equal(carry, h)
    assert ys["a"].shape == (0, 2) and ys["b"].shape == (0,) and ys["n"].dtype == np.float32
    carry, ys = lagrad.scan(lambda c, x: (c + 1.0, c * 2.0), h, length=0)
    assert ys.shape == (0, 2) and np.array_equal(carry, h)

    def loss(h):
        carry, ys = lagrad.scan(body, h, np.ones((0, 2)))
        return lnp.sum(carry**2) + lnp.sum(ys["a"])

    check_grads(loss, h, modes=["fwd", "rev"], order=2)
    assert np.allclose(lagrad.grad(loss)(h), 2 * h)  # d/dh of |h|² + 0
