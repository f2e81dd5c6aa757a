"""The recorded solve of a traced loop written from one step's pattern (`lagrad.stamping`): the
Program it leaves is the one the rules record, equation by equation, and the compiled calls give
the eager bits; a loop whose pattern does not hold is swept as usual."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings

import lagrad
import lagrad.numpy as lnp
from lagrad import stamping
from tests.test_compiler import _same
from tests.test_random_programs import _tame, programs, run
from tests.test_rolling import branchy, heat


@contextlib.contextmanager
def _looked_for(min_equations: int) -> Iterator[None]:
    """Loops looked for in Programs of at least `min_equations` equations (10**9: never)."""
    kept = stamping.MIN_EQUATIONS
    stamping.MIN_EQUATIONS = min_equations
    try:
        yield
    finally:
        stamping.MIN_EQUATIONS = kept


def _recording(fun: Any, args: tuple[Any, ...], written: bool) -> tuple[Any, Any, int]:
    """The compiled `fun` after its first call, its Program and the steps whose solve was written;
    `written=False`: recorded with no loop looked for."""
    compiled = lagrad.compile(fun, interpret=2)
    with _looked_for(0 if written else 10**9):
        compiled(*args)
    (variant,) = [v for variants in compiled._cache.values() for v in variants]
    return compiled, variant.program, compiled.cache_info()["variants"][0]["steps written"]


def _same_constant(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    a, b = np.asarray(a), np.asarray(b)
    return (
        a.dtype == b.dtype
        and a.shape == b.shape
        and np.array_equal(a, b, equal_nan=True)
        and np.array_equal(np.signbit(a), np.signbit(b))
    )


def _same_program(p: Any, q: Any) -> None:
    """Equation by equation: primitive, variables, parameters, constants (by value), flags."""
    assert len(p.equations) == len(q.equations)
    for e, f in zip(p.equations, q.equations):
        assert (e.primitive, e.out, e.args, e.diff, e.shape, e.dtype, e.kept) == (
            f.primitive,
            f.out,
            f.args,
            f.diff,
            f.shape,
            f.dtype,
            f.kept,
        ), (e, f)
        assert repr(e.params) == repr(f.params), (e, f)
        assert len(e.constants) == len(f.constants) and all(map(_same_constant, e.constants, f.constants)), (e, f)
    assert len(p.outputs) == len(q.outputs) and dict(p.guards) == dict(q.guards) and p.inputs == q.inputs
    for o, r in zip(p.outputs, q.outputs):  # a variable, or a Constant (compared by value)
        assert o == r if type(o) is int else _same_constant(o.value, r.value), (o, r)


def _check(fun: Any, args: tuple[Any, ...], calls: list[tuple[Any, ...]], eager: Any) -> int:
    """The written recording is the rules' recording; every call of it gives the eager bits."""
    compiled, written, steps = _recording(fun, args, True)
    _, recorded, none = _recording(fun, args, False)
    assert none == 0
    _same_program(written, recorded)
    for call in calls:
        _same(compiled(*call), eager(*call))
    return steps


def test_the_branchy_loop_and_the_heat_equation_are_written_and_record_what_the_rules_record() -> None:
    rng = np.random.default_rng(0)
    f = branchy(400)
    calls = [(0.9 + 0.1 * rng.random(), 1.0 + 0.2 * rng.random()) for _ in range(5)]
    assert (
        _check(lagrad.grad(f, (0, 1)), (0.95, 1.1), calls, lagrad.grad(f, (0, 1))) >= 190
    )  # ~200 steps of two iterations
    target = rng.standard_normal(16)
    g = heat(300, target)
    calls = [(0.1 + 0.05 * rng.random(), rng.standard_normal(16)) for _ in range(4)]
    assert _check(lagrad.grad(g, (0, 1)), (0.12, rng.standard_normal(16)), calls, lagrad.grad(g, (0, 1))) == 295


def test_accumulated_multipliers_and_values_read_every_step() -> None:
    """Inputs read by every step (their multipliers summed step by step), sums carried beside the
    state (one's multiplier traced, one's a constant), float32, the headline's value_and_grad with
    two argnums and data as arguments."""

    def loss(a: Any, w: Any, b: Any, x: Any) -> Any:
        acc, plain = 0.0 * x, 0.0 * x
        for _ in range(60):
            acc = acc + lnp.sin(x) * w
            plain = plain + lnp.cos(x)  # its multiplier a constant (a sum's ones), passed on unchanged
            x = lnp.tanh(a * x + b)
        return lnp.sum(acc**2) + lnp.sum(x) + lnp.sum(plain)

    rng = np.random.default_rng(1)
    for dtype in (np.float64, np.float32):
        args = tuple(rng.standard_normal(4).astype(dtype) for _ in range(4))
        calls = [tuple(rng.standard_normal(4).astype(dtype) for _ in range(4)) for _ in range(4)]
        fun = lagrad.value_and_grad(loss, argnums=(0, 1))
        assert _check(fun, args, calls, fun) == 55


def test_steps_read_after_the_loop_or_by_a_later_loop_are_swept_as_usual() -> None:
    def kept(a: Any) -> Any:
        xs = [a]
        for _ in range(40):
            xs.append(lnp.sin(xs[-1]) * 0.9 + a)
        return lnp.sum(xs[10] * xs[-1])  # a middle step's value read after the loop

    def in_order(a: Any) -> Any:
        xs, x = [], a
        for _ in range(30):
            x = lnp.cos(x) * a
            xs.append(x)
        y = a
        for k in range(30):
            y = lnp.sin(y) * 0.5 + xs[k]  # the second loop reads the first's steps in order
        return lnp.sum(y)

    def two_loops(a: Any) -> Any:
        x = a
        for _ in range(30):
            x = lnp.cos(x) * a
        y = x
        for _ in range(20):
            y = lnp.sin(y) * x + a
        return lnp.sum(y)

    rng = np.random.default_rng(2)
    a = rng.standard_normal(3)
    calls = [(rng.standard_normal(3),) for _ in range(3)]
    for f in (kept, in_order):
        assert _check(lagrad.grad(f), (a,), calls, lagrad.grad(f)) == 0
    assert _check(lagrad.grad(two_loops), (a,), calls, lagrad.grad(two_loops)) == 25 + 15


def test_a_rule_that_branches_on_a_value_is_recorded_every_step() -> None:
    """A user's rule with a Python branch on a traced value records a branch check: such a step is
    no pattern, and every step's rules are recorded (each branch checked on later calls)."""
    soft = lagrad.primitive(np.tanh, name="soft")

    def vjp(g: Any, ans: Any, x: Any) -> Any:
        if lnp.sum(ans) > 0:  # a branch on a value: recorded, checked on every replay
            return g * (1 - ans**2)
        return g * (1.0 - ans * ans)

    lagrad.defvjp(soft, vjp)

    def f(a: Any) -> Any:
        x = a
        for _ in range(40):
            x = soft(x) + 0.5
        return lnp.sum(x)

    a = np.array([0.3, 0.7])
    assert _check(lagrad.grad(f), (a,), [(a * 1.1,), (a * 0.9,)], lagrad.grad(f)) == 0


def test_a_written_step_that_breaks_the_pattern_is_taken_back() -> None:
    """A rule's kernel whose dtype depends on the value (float32 above 0.9): the last steps make a
    float64 pattern, an early step breaks it while being written, and what was written is taken
    back: the Program is the rules' recording."""
    step = lagrad.primitive(lambda x: x * 0.97, name="step")
    slope = lagrad.primitive(lambda x: np.float32(0.97) if x > 0.9 else np.float64(0.97), name="slope")
    lagrad.defvjp(slope, None)
    lagrad.defvjp(step, lambda g, ans, x: g * slope(x))

    def f(a: Any) -> Any:
        x = a
        for _ in range(60):
            x = step(x)
        return x

    a = np.float64(1.5)  # above 0.9 for the first 17 steps
    assert _check(lagrad.grad(f), (a,), [(np.float64(1.4),), (np.float64(1.5),)], lagrad.grad(f)) == 0


def test_transforms_that_sweep_otherwise_give_the_eager_bits() -> None:
    """hvp, jacobian and has_aux take other paths through the solve; compiled, the eager bits."""
    f = branchy(200)
    args = (0.95, 1.1)
    for transform, call in (
        (lambda f: lagrad.hvp(f, (0, 1)), (*args, (1.0, -0.5))),
        (lambda f: lagrad.jacobian(lambda a, b: lnp.stack([f(a, b), f(b, a)]), (0, 1)), args),
        (lambda f: lagrad.value_and_grad(lambda a, b: (f(a, b), a), (0, 1), has_aux=True), args),
    ):
        fun = transform(f)
        with _looked_for(0):
            compiled = lagrad.compile(fun, interpret=1)
            for _ in range(3):
                _same(compiled(*call), fun(*call))


ROLLED = {"examples": 0, "written": 0}


@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None)
@given(programs())
def test_random_programs_in_a_loop_record_what_the_rules_record(spec: Any) -> None:
    """Each random program run in a Python loop of ten steps, each step's result mixed into a
    carried sum: the written recording is the rules' and gives the eager bits."""
    inputs = spec.inputs()
    assume(_tame(spec, inputs))

    def f(tree: Any) -> Any:
        total = 0.0
        for _ in range(10):  # the carried sum's multipliers traced (a constant factor would be baked in)
            total = 0.5 * lnp.sin(total) + run(spec, tree)
        return total

    with np.errstate(all="ignore"):
        fun = lagrad.value_and_grad(f)
        ROLLED["examples"] += 1
        ROLLED["written"] += _check(fun, (inputs,), [(inputs,)], fun) > 0


def test_some_random_programs_were_written() -> None:
    """(After the test above: that loops were written, not only swept.)"""
    if ROLLED["examples"]:
        assert ROLLED["written"] >= ROLLED["examples"] // 4, ROLLED


@pytest.mark.parametrize("steps", [4, 7, 8, 9])
def test_short_loops(steps: int) -> None:
    """At and around the fewest steps written (MIN_STEPS = 8): the rules' recording either way."""

    def f(a: Any) -> Any:
        x = a
        for _ in range(steps):
            x = lnp.exp(-x) * a + 0.5 * lnp.sin(x)  # six equations a step: 8 steps make a loop to `rolling`
        return lnp.sum(x)

    a = np.array([0.2, 0.4])
    written = _check(lagrad.grad(f), (a,), [(a + 0.1,)], lagrad.grad(f))
    assert written == (steps - 5 if steps >= stamping.MIN_STEPS else 0)
