"""The Program: printing in the seed's notation, replay, branches, tags, what it keeps."""

from __future__ import annotations

import re

import numpy as np
import pytest

import lagrad
import lagrad.numpy as lnp
from lagrad.adjoint import AdjointSystem, back_substitution, forward_substitution
from lagrad.core.program import META, READ, UNREAD, Aval
from lagrad.testing import check_grads
from tests.conftest import rand


def mlp(w1, w2, x):
    h = lnp.tanh(x @ w1)
    return lnp.sum((h @ w2) ** 2)


def test_program_prints_numbered_equations_with_shapes_and_source_lines():
    w1, w2, x = rand(4, 8), rand(8, 2), rand(16, 4)
    program = lagrad.trace(mlp, w1, w2, x)
    text = str(program)
    assert text.splitlines()[0] == "Program: 3 inputs, 5 equations, output z8"
    assert re.search(r"z1 = w1 +# \(4, 8\)  input", text)
    assert re.search(r"z4 = matmul\(z3, z1\) +# \(16, 8\)  test_program.py:\d+", text)
    assert re.search(r"z5 = tanh\(z4\)", text)
    assert re.search(r"z7 = power\(z6, 2\)", text)
    assert program.n_inputs == 3 and len(program.equations) == 5 and program.n_vars == 8
    assert program.equations[0].source.startswith("test_program.py:")


def test_grad_does_not_record_source_lines():
    # the fast path skips frame inspection
    seen = []

    def f(x):
        y = lnp.sin(x)
        seen.append(y._trace.record_source)
        return lnp.sum(y)

    lagrad.grad(f)(rand(3))
    assert seen == [False]


def test_replay_on_new_inputs():
    args = rand(4, 8), rand(8, 2), rand(16, 4)
    program = lagrad.trace(mlp, *args)
    new = rand(4, 8), rand(8, 2), rand(16, 4)
    assert np.isclose(program(*new), mlp(*new))
    with pytest.raises(ValueError, match=r"z1 \(w1\) was traced with shape \(4, 8\) and is given shape \(3, 8\)"):
        program(rand(3, 8), new[1], new[2])


def test_replay_refuses_the_other_branch():
    def f(x):
        y = x * 2.0
        if lnp.sum(y) > 0:
            return lnp.sum(lnp.sin(y))
        return lnp.sum(y**2)

    program = lagrad.trace(f, np.array([1.0, 2.0]))
    assert np.isclose(program(np.array([0.5, 0.1])), f(np.array([0.5, 0.1])))
    with pytest.raises(lagrad.BranchError, match=r"branch on z4 = greater\(z3, 0\) \(test_program.py:\d+\) goes False"):
        program(np.array([-1.0, -2.0]))


def test_replay_checks_integers_used_by_python():
    def f(x):
        n = int(lnp.sum(x > 0))
        return x[n]

    program = lagrad.trace(f, np.array([1.0, -1.0, 5.0]))
    assert program(np.array([2.0, -3.0, 7.0])) == 7.0
    with pytest.raises(lagrad.BranchError):
        program(np.array([2.0, 3.0, 7.0]))


def test_replay_is_itself_differentiable():
    args = rand(4, 8), rand(8, 2), rand(16, 4)
    program = lagrad.trace(mlp, *args)
    g_program = lagrad.grad(lambda w1: program(w1, args[1], args[2]))(args[0])
    assert np.allclose(g_program, lagrad.grad(mlp)(*args))


def test_tags_name_intermediates():
    def f(w, x):
        hidden = lagrad.tag(lnp.tanh(x @ w), "hidden")
        return lnp.sum(hidden**2)

    w, x = rand(3, 4), rand(5, 3)
    program = lagrad.trace(f, w, x)
    assert program.tags == {"hidden": 3}
    assert "tag: hidden" in str(program)
    adj = lagrad.adjoint(f, w, x)
    h = np.tanh(x @ w)
    assert np.allclose(adj.multipliers["hidden"], 2 * h)  # ∂(Σ h²)/∂h
    assert lagrad.tag(3.0, "plain") == 3.0  # no trace: nothing to name
    with pytest.raises(TypeError, match="non-empty string"):
        lagrad.tag(w, "")


def test_program_keeps_only_values_the_rules_read():
    alpha = 0.2
    u0 = rand(64)

    def heat_step(alpha, u):
        return u + alpha * (lnp.roll(u, 1) - 2 * u + lnp.roll(u, -1))

    program = lagrad.trace(heat_step, alpha, u0)
    tape = program.replay(alpha, u0)
    kept = {eq.primitive.name: values for eq, values in zip(program.equations, tape.values)}
    assert kept["roll"] == [None, None]  # roll's transpose is a roll: nothing kept
    assert kept["subtract"] == [None, None, None]
    scaled = [values for eq, values in zip(program.equations, tape.values) if eq.primitive.name == "multiply"]
    assert scaled[0][1] == 2 and scaled[0][2] is None  # 2*u: the constant only
    assert scaled[1][1] is not None and scaled[1][2] is not None  # alpha*(...) needs both
    exp_then_sum = lagrad.trace(lambda u: lnp.sum(lnp.exp(u)), u0)
    total = exp_then_sum.replay(u0).values
    assert total[0][0] is not None  # exp's rule reads its result
    assert isinstance(total[1][1], Aval)  # sum's rule reads only the shape
    assert [eq.kept for eq in exp_then_sum.equations] == [(READ, UNREAD), (UNREAD, META)]


def test_constant_output_and_unused_inputs():
    program = lagrad.trace(lambda x: 3.0, 1.0)
    assert program.outputs[0].value == 3.0
    assert lagrad.grad(lambda x, y: lnp.sum(x**2), (0, 1))(np.ones(2), np.ones(3))[1].tolist() == [0, 0, 0]


def _replay_example():
    c = np.array([0.5, -1.0, 2.0])

    def f(x):
        return lnp.sum(lnp.sin(x) * c + x**2)

    def gradient(x):  # by hand
        return np.cos(x) * c + 2 * x

    return f, gradient


def test_a_program_replays_any_number_of_times_and_a_gradient_consumes_nothing():
    f, gradient = _replay_example()
    x0, x1 = np.array([0.1, 0.2, 0.3]), np.array([1.0, -2.0, 0.5])
    program = lagrad.trace(f, x0)
    first = [program(x1) for _ in range(3)]
    tapes = [program.replay(x1) for _ in range(2)]
    system = AdjointSystem(program, tapes[0])
    for method in ("back_substitution", "forward_substitution", "sparse", "levels"):
        assert np.allclose(system.solve(method)[1], gradient(x1))
    back_substitution(program, tapes[1], {program.outputs[0]: np.ones(())})  # a one-shot gradient
    forward_substitution(program, tapes[1], {0: np.ones(3)})
    system.matrix("dense")
    after = [program(x1) for _ in range(3)]
    assert all(v == first[0] for v in first + after)  # identical results, also after the solves
    assert program(x0) == f(x0)
    for tape in [*tapes, program.replay(x1)]:
        assert tape.outputs == first[0]
        assert np.allclose(AdjointSystem(program, tape).multipliers[1], gradient(x1))


def test_replays_are_identical_after_grad_jacobian_and_solves():
    f, _ = _replay_example()
    x = np.array([0.3, -0.7, 1.1])
    program = lagrad.trace(f, x)
    reference = program.replay(x)
    for _ in range(3):
        lagrad.grad(f)(x)
        lagrad.jacobian(f)(x)
        lagrad.hessian(f)(x)
        lagrad.adjoint(f, x).solve("levels")
        AdjointSystem(program, program.replay(x)).solve("sparse")
        tape = program.replay(x)
        assert tape.outputs == reference.outputs
        for mine, theirs in zip(tape.values, reference.values):
            assert len(mine) == len(theirs)
            for a, b in zip(mine, theirs):
                if isinstance(a, Aval):
                    assert (a.shape, a.dtype) == (b.shape, b.dtype)
                else:
                    assert a is b if a is None else np.array_equal(a, b)


def test_a_tape_at_new_inputs_gives_the_gradient_there():
    def f(x, w):
        return lnp.sum(lnp.tanh(x @ w) ** 2) + lnp.sum(w * w)

    x0, w0 = rand(4, 3), rand(3, 2)
    x1, w1 = rand(4, 3) * 2.0, rand(3, 2) - 0.5
    program = lagrad.trace(f, x0, w0)
    at_new = AdjointSystem(program, program.replay(x1, w1))
    fresh = lagrad.grad(f, (0, 1))(x1, w1)
    for got, expected in zip(at_new.gradients, fresh):
        assert np.allclose(got, expected)
    check_grads(lambda x, w: f(x, w), x1, w1)  # the fresh gradient against finite differences
    eps, direction = 1e-6, rand(3, 2)
    slope = (f(x1, w1 + eps * direction) - f(x1, w1 - eps * direction)) / (2 * eps)
    assert np.isclose(np.sum(at_new.gradients[1] * direction), slope, rtol=1e-6)


def test_a_program_and_its_equations_cannot_be_changed():
    program = lagrad.trace(mlp, rand(3, 4), rand(4), rand(2, 3))
    eq = program.equations[0]
    with pytest.raises(AttributeError, match="immutable"):
        eq.args = (0, 1)
    with pytest.raises(AttributeError, match="immutable"):
        eq.values = []
    with pytest.raises(AttributeError, match="immutable"):
        del eq.params
    with pytest.raises(AttributeError, match="immutable"):
        program.equations = ()
    with pytest.raises(AttributeError, match="immutable"):
        program.release = None
    with pytest.raises(TypeError):
        program.equations[0] = eq
    with pytest.raises(TypeError):
        program.tags["new"] = 1
    assert isinstance(program.equations, tuple) and isinstance(eq.args, tuple)


def test_the_system_needs_a_program_and_one_of_its_tapes():
    program = lagrad.trace(mlp, rand(3, 4), rand(4), rand(2, 3))
    with pytest.raises(TypeError, match=r"AdjointSystem\(program, tape\).*replay"):
        AdjointSystem(program)
    other = lagrad.trace(lambda x: lnp.sum(x), rand(2))
    with pytest.raises(ValueError, match="tape of this program"):
        AdjointSystem(program, other.replay(rand(2)))
