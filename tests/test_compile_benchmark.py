"""The cases of benchmarks/compile.py at a small size: the compiled gradient being timed is the
eager one bit for bit, and both are right against finite differences."""

from __future__ import annotations

import pathlib
import sys

import numpy as np
import pytest

import lagrad
import lagrad.numpy as lnp
from lagrad.testing import check_grads

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "benchmarks"))

import compile as bench  # benchmarks/ is not a package: found through sys.path


@pytest.mark.parametrize("case", list(bench.CASES))
def test_the_timed_gradient_is_the_eager_one_and_right(case):
    f, args, nums = bench.problem(case, lnp, 0.02)
    compiled = lagrad.compile(lagrad.grad(f, nums), interpret=1)
    compiled(*args)
    expected = lagrad.grad(f, nums)(*args)
    for _ in ("interpreted", "compiled"):
        assert all(np.array_equal(got, e) for got, e in zip(compiled(*args), expected))
    assert compiled.cache_info()["hits"] == 2 and compiled.cache_info()["compiled"] == 1
    check_grads(f, *args, modes=("rev",), order=1)


def test_the_timed_step_is_the_eager_one_and_lifted():
    """The headline step (the data given as arguments): compiled, its first calls are the eager
    step bit for bit, the gradient's run lifted into the recording; the gradient is right."""
    f, args, nums = bench.step_problem(lnp, 0.02)
    eager = lagrad.value_and_grad(f, nums)
    compiled = lagrad.compile(eager, interpret=1)
    for _ in ("trace", "interpreted", "compiled"):
        (value, grads), (expected_value, expected) = compiled(*args), eager(*args)
        assert value == expected_value and all(np.array_equal(g, e) for g, e in zip(grads, expected))
    assert compiled.cache_info()["variants"][0]["lifted"] and compiled.cache_info()["compiled"] == 1
    check_grads(lambda w1, w2: f(w1, w2, *args[2:]), *args[:2], modes=("rev",), order=1)


def test_the_numpy_floor_computes_the_same_forward_pass():
    import math

    from cases import two_slice_roll

    for case in bench.CASES:
        f, args, _ = bench.problem(case, np, 0.02, sin=math.sin, roll=two_slice_roll)
        g, args_l, _ = bench.problem(case, lnp, 0.02)
        assert np.isclose(f(*args), g(*args_l), rtol=1e-12)


@pytest.mark.parametrize("case", list(bench.CASES))
def test_derive_writes_each_case_in_numpy_alone(case):
    f, args, _ = bench.problem(case, lnp, 0.02)
    text = lagrad.derive(f, *args)
    assert text.numpy_only
    scope = dict(text.constants)
    exec(compile(str(text), "<derived>", "exec"), scope)
    value, grads = scope[text.name](*args)
    expected_value, expected = lagrad.value_and_grad(f, tuple(range(len(args))))(*args)
    assert value == expected_value
    assert all(np.array_equal(g, e) for g, e in zip(grads, expected))


def test_a_peer_is_timed_in_its_own_process_beside_a_numpy_forward():
    """`compile.py` times PyTorch and jax.jit each in a process of its own: the cells of that
    process are the NumPy forward and the peer's, none of lagrad's."""
    import argparse

    pytest.importorskip("autograd")
    assert set(bench.cells("a", 0.02, ["autograd"], False, own=False)) == {"numpy forward", "autograd"}
    options = argparse.Namespace(size=0.02, seconds=0.01, rounds=1)
    best = bench.in_own_process("a", "autograd", options)
    assert set(best) == {"numpy forward", "autograd"} and all(t > 0 for t in best.values())
