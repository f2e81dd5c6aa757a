"""lagrad.rolling: a traced loop's iterations written as a Python loop give the eager results bit for bit."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings

import lagrad
import lagrad.numpy as lnp
from lagrad import rolling
from lagrad.codegen import Straight
from tests.helpers import calls_from_threads
from tests.test_compiler import _same
from tests.test_random_programs import _tame, programs, run


def heat(steps: int, target: np.ndarray) -> Any:
    def loss(alpha: Any, u: Any) -> Any:
        for _ in range(steps):
            u = u + alpha * (lnp.roll(u, 1) - 2 * u + lnp.roll(u, -1))
        return lnp.sum((u - target) ** 2)

    return loss


def branchy(steps: int) -> Any:
    def loop(a: Any, b: Any) -> Any:
        x = 0.5
        for _ in range(steps):
            x = a * x * (1 - x) if x < 0.5 else lnp.sin(b * x) + 0.1 * x
        return x

    return loop


def _tiers(f: Any, args_list: list[tuple[Any, ...]], argnums: Any = (0, 1), **options: Any) -> list[Any]:
    """Each call of a compiled gradient against the eager one, bit for bit; the tiers that answered."""
    g = lagrad.compile(lagrad.grad(f, argnums), **options)
    tiers = []
    for args in args_list:
        _same(g(*args), lagrad.grad(f, argnums)(*args))
        tiers.append(g.cache_info()["variants"][0]["tier"])
    return [g, *tiers]


def test_heat_rolls_and_gives_the_eager_bits() -> None:
    rng = np.random.default_rng(1)
    f = heat(12, rng.random(8))
    args = [(0.2 + 0.01 * j, rng.random(8)) for j in range(5)]
    g, *tiers = _tiers(f, args, interpret=2)
    assert tiers == [None, "rolled", "rolled", "compiled", "compiled"]
    info = g.cache_info()
    assert info["rolled"] == 2 and info["compiled"] == 2
    # the forward and the back-substitution each one loop: a few dozen lines for 12 steps' hundreds
    assert info["variants"][0]["rolled statements"] < 60 < info["variants"][0]["statements"]
    _, *plain = _tiers(f, args[:3], interpret=2, roll=False)
    assert plain == [None, "interpreted", "interpreted"]


def test_source_has_loops_and_lists_of_the_forward_values() -> None:
    f = heat(10, np.linspace(0.0, 1.0, 6))
    g = lagrad.compile(lagrad.grad(f, (0, 1)))
    g(0.1, np.ones(6))
    program = g._cache[next(iter(g._cache))][0].program
    source = rolling.rolled(Straight(program, prune={"dead"}))
    assert source is not None
    text = source.text
    assert text.count("for i in range(") == 2
    # the back-substitution reads the forward's values backwards (its first iteration is written alone)
    assert re.search(r"keep0_\d+\[8 - i\]", text)
    fun = source.function()
    _same(fun(np.float64(0.1), np.ones(6)), lagrad.grad(f, (0, 1))(0.1, np.ones(6)))


def test_branchy_loop_rolls_and_a_flipped_branch_inside_a_loop_retraces() -> None:
    f = branchy(60)
    args = [(3.7, 0.3), (3.7, 0.3), (3.7, 0.3)]
    g, *tiers = _tiers(f, args, interpret=5)
    assert tiers == [None, "rolled", "rolled"]
    # other parameters take other branches inside the rolled loop: traced again, still the eager bits
    for a, b in ((2.5, 0.3), (3.7, 0.31), (3.9, 0.7), (3.7, 0.3)):
        _same(g(a, b), lagrad.grad(f, (0, 1))(a, b))
    info = g.cache_info()
    assert info["retraces"] >= 1 and any("went the other way" in v["reason"] for v in info["variants"])


def test_dead_equations_run_in_the_rolled_tier_and_change_no_bit() -> None:
    def f(a: Any, u: Any) -> Any:
        for _ in range(20):
            lnp.exp(u) * 3.0  # read by nothing: the rolled tier computes it, the compiled one drops it
            u = u * a + 1.0
        return lnp.sum(u)

    g = lagrad.compile(f, interpret=2)
    tiers = []
    for j in range(5):
        args = (0.5 + 0.01 * j, np.linspace(0.0, 1.0, 5))
        _same(g(*args), f(*args))
        tiers.append(g.cache_info()["variants"][0]["tier"])
        function = g._cache[next(iter(g._cache))][0].function  # None after the first call: the trace answered
        assert function is None or ("exp" in function.__code__.co_names) == (tiers[-1] == "rolled")
    assert tiers == [None, "rolled", "rolled", "compiled", "compiled"]
    variant = g.cache_info()["variants"][0]
    assert variant["statements"] == variant["equations"] - 40


def test_a_loop_reading_an_earlier_loops_values_in_order_rolls() -> None:
    def two_loops(alpha: Any, u: Any) -> Any:
        xs = []
        for _ in range(30):
            u = lnp.sin(u) * alpha + u
            xs.append(u)
        s = u
        for x in xs:  # reads the first loop's values, one an iteration, at the first loop's stride
            s = s * 0.5 + lnp.cos(x)
        return lnp.sum(s)

    rng = np.random.default_rng(3)
    args = [(0.1 + 0.01 * j, rng.standard_normal(8)) for j in range(3)]
    pieces = rolling.plan(Straight(lagrad.trace(two_loops, *args[0]), prune={"dead"}))
    assert sum(isinstance(p, rolling.Loop) for p in pieces) >= 2  # both loops, not the first alone
    g = lagrad.compile(two_loops)  # the function itself: its gradient's sweep reads in reverse
    for a in args:
        _same(g(*a), two_loops(*a))
    assert g.cache_info()["rolled"] == 2


def test_too_few_iterations_are_not_rolled() -> None:
    rng = np.random.default_rng(2)
    f = heat(rolling.MIN_ITERATIONS - 2, rng.random(40))  # long enough statements, too few iterations
    _, *tiers = _tiers(f, [(0.2, rng.random(40))] * 2, interpret=2)
    assert tiers == [None, "interpreted"]


@pytest.mark.parametrize("n", [0, 1, 5])
def test_shapes_at_the_edges(n: int) -> None:
    """Empty and one-entry arrays, and a carried value whose first value has another shape
    (broadcast in the first iteration): the loop starts where the iterations agree."""

    def f(w: Any, x: Any) -> Any:
        for _ in range(12):
            x = lnp.tanh(x * w + 0.5)
        return lnp.sum(x**2)

    rng = np.random.default_rng(3)
    w = rng.standard_normal(n)
    args = [(w, rng.standard_normal(1)), (w * 0.5, rng.standard_normal(1))]
    _, *tiers = _tiers(f, [args[0], args[1], args[1]], interpret=2)
    assert tiers == [None, "rolled", "rolled"]


def test_float32_and_nan_give_the_eager_answers() -> None:
    def f(x: Any) -> Any:
        for _ in range(30):
            x = lnp.sqrt(x) * 1.5 - 0.25
        return lnp.sum(x)

    g = lagrad.compile(lagrad.grad(f), interpret=3)
    x = np.linspace(0.5, 2.0, 4).astype(np.float32)
    for value in (x, x, x * 1.1, np.array([0.5, -1.0, 1.0, 2.0], np.float32), x):
        with np.errstate(invalid="ignore"):
            _same(g(value), lagrad.grad(f)(value))
    info = g.cache_info()
    assert info["rolled"] >= 2 and info["eager"] >= 1


def test_eight_threads_run_one_rolled_function() -> None:
    rng = np.random.default_rng(4)
    f = heat(10, rng.random(6))
    g = lagrad.compile(lagrad.grad(f, (0, 1)), interpret=10**6)
    inputs = [(0.1 + 0.01 * j, rng.random(6)) for j in range(8)]
    expected = [lagrad.grad(f, (0, 1))(*a) for a in inputs]
    g(*inputs[0])
    results = calls_from_threads(lambda j: g(*inputs[j]))
    for j in range(8):
        for r in results[j]:
            _same(r, expected[j])
    assert g.cache_info()["rolled"] == 80


ROLLED = {"examples": 0, "rolled": 0}


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None)
@given(programs())
def test_random_programs_in_a_loop_give_the_eager_bits(spec: Any) -> None:
    """Each random program run in a Python loop of eight steps, each step's result mixed into a
    carried sum: where its iterations roll (a constant made anew per step keeps them apart),
    the rolled tier gives the eager bits."""
    inputs = spec.inputs()
    assume(_tame(spec, inputs))

    def f(tree: Any) -> Any:
        total = 0.0
        for _ in range(8):
            total = 0.5 * total + run(spec, tree)
        return total

    with np.errstate(all="ignore"):
        for transform in (lambda f: f, lagrad.value_and_grad):
            compiled = lagrad.compile(transform(f), interpret=3)
            for _ in range(3):  # the trace, then the second tier twice
                _same(compiled(inputs), transform(f)(inputs))
            ROLLED["examples"] += 1
            ROLLED["rolled"] += compiled.cache_info()["rolled"] > 0


def test_some_random_programs_rolled() -> None:
    """(After the test above: that the rolled tier was reached, not only the interpreter.)"""
    if ROLLED["examples"]:
        assert ROLLED["rolled"] >= ROLLED["examples"] // 4, ROLLED


def test_reads_two_iterations_back_and_a_value_of_the_first_iteration() -> None:
    """Iterations reading the iteration before the one before (a two-term recurrence), and every
    iteration reading a value the loop's first iteration made: rolled with a longer period or
    written straight, the eager bits either way."""

    def recurrence(a: Any) -> Any:
        x, y = a, 0.5 * a
        for _ in range(24):
            x, y = y, lnp.sin(x) + 0.3 * y
        return lnp.sum(y)

    def first_kept(w: Any, x: Any) -> Any:
        first = None
        for _ in range(16):
            x = lnp.tanh(x * w)
            first = x if first is None else first
            x = x + 0.25 * first
        return lnp.sum(x**2)

    rng = np.random.default_rng(5)
    for f, args, nums in (
        (recurrence, (rng.standard_normal(3),), 0),
        (first_kept, (rng.standard_normal(3), rng.standard_normal(3)), (0, 1)),
    ):
        g = lagrad.compile(lagrad.grad(f, nums), interpret=2)
        for k in range(4):
            call = tuple(a * (1 + 0.1 * k) for a in args)
            _same(g(*call), lagrad.grad(f, nums)(*call))
