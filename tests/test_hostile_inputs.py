"""Hostile and wrong inputs: each gets a clear error or a documented, NumPy-like behaviour.

`CASES` is the one list: the tests run every entry, and docs/errors.md is rendered
from it, so the page cannot drift from what lagrad does. After changing the list::

    python -m tests.test_hostile_inputs --write     # rewrite docs/errors.md
    python -m tests.test_hostile_inputs --check     # exit 1 if it is stale
"""

from __future__ import annotations

import array
import importlib.util
import pathlib
import re
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import scipy.linalg
import scipy.special
import scipy.stats

import lagrad
import lagrad.numpy as lnp
from lagrad.scipy.special import logsumexp

DOC = pathlib.Path(__file__).resolve().parents[1] / "docs" / "errors.md"


@dataclass(frozen=True)
class Case:
    """One bad input: what it is, the call, and what it gets.

    `error` and `says` (a fragment of the message, literally) for an error, and `noted`
    for a fragment of the note lagrad adds to an error the user's code raised (`caused`:
    of lagrad's error that NumPy raised its own from); for a behaviour, `error` is None,
    `says` describes it and `holds` checks the result.
    `warns`: a fragment of a warning NumPy gives on the way. `needs`: a module that must
    be installed. `gap`: what it gets today where that is a known bug (the test then
    expects the fix, as a strict xfail, so the fix cannot go unnoticed).
    """

    topic: str
    what: str
    code: str
    call: Callable[[], Any]
    error: type[BaseException] | None = None
    says: str = ""
    holds: Callable[[Any], bool] | None = None
    noted: str | None = None
    caused: str | None = None
    warns: str | None = None
    needs: str | None = None
    gap: str | None = None


# ----- helpers the calls use ----------------------------------------------------------

grad = lagrad.grad


def sum_sq(x):
    return lnp.sum(x**2)


def same(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)


def leaked():
    """A traced value that escaped its trace."""
    box = []

    def f(x):
        box.append(x)
        return x * 2.0

    grad(f)(1.0)
    return box[0]


def write_through_closure():
    x0 = np.ones(3)

    def f(x):
        y = lnp.sin(x)
        x0[0] = 100.0  # sin's rule reads x's values after this write
        return lnp.sum(y)

    return grad(f)(x0), x0


def in_place_add():
    x0 = np.ones(3)

    def f(x):
        x += 1.0  # recorded as x + 1.0, which the object x now refers to
        return lnp.sum(x**2)

    g = grad(f)(x0)
    return g, x0


def item_assignment():
    x0 = np.ones(3)

    def f(x):
        x[0] = 5.0
        return lnp.sum(x**2)

    return grad(f)(x0), x0


def write_through_view():
    def f(x):
        y = x.copy()
        v = y[1:]
        v *= 3.0
        return lnp.sum(y**2)

    return grad(f)(np.ones(3))


def _readonly() -> np.ndarray:
    x = np.ones(2)
    x.flags.writeable = False
    return x


def fill_buffer(x):
    out = np.zeros(3)
    for i in range(3):
        out[i] = lnp.sin(x[i])
    return lnp.sum(out)


def retag(x):
    for _ in range(2):
        x = lagrad.tag(x * 2.0, "h")
    return lnp.sum(x)


def changing_structure():
    calls = []

    def f(x):
        calls.append(1)
        return x * 2.0 if len(calls) == 1 else (x * 2.0, x * 3.0)

    jac = lagrad.jacobian(f)
    return jac(1.0), jac(1.0)


def replay(*args):
    program = lagrad.trace(lambda x: lnp.sum(x**2), np.ones(3))
    return program(*args)


def branch_replay():
    program = lagrad.trace(lambda x: x * 2.0 if x > 0 else -x, 1.0)
    return program(-1.0)


def tensor(requires_grad=False):
    import torch

    return torch.ones(3, dtype=torch.float32, requires_grad=requires_grad)


def jax_array():
    import jax.numpy as jnp

    return jnp.ones(3, dtype=jnp.float32)


def cyclic():
    loop: list[Any] = [1.0]
    loop.append(loop)
    return loop


def deep(n=5000):
    tree: Any = 1.0
    for _ in range(n):
        tree = [tree]
    return tree


def all_modes_zero(x):
    """Every transform of a function that ignores its argument: zeros, never an error."""
    f = lambda x: 2.0
    v = lambda x: lnp.ones(3) * 2.0
    return [
        grad(f)(x),
        lagrad.jvp(f, (x,), (np.ones_like(x),))[1],
        lagrad.vjp(v, x)[1](np.ones(3))[0],
        lagrad.jacobian(v)(x),
        lagrad.jacobian(v, mode="fwd")(x),
        lagrad.hessian(f)(x),
        lagrad.hvp(f)(x, np.ones_like(x)),
        lagrad.elementwise_grad(v)(x),
    ]


def dtypes_kept(dtype):
    """The dtypes every transform and solver gives for a computation in `dtype`."""
    x = np.array([0.5, 1.5], dtype=dtype)
    f = lambda x: lnp.sum(lnp.sin(x) * x**2 * np.asarray(2.0, dtype))
    results = [
        grad(f)(x),
        lagrad.jvp(f, (x,), (np.ones(2, dtype),))[1],
        lagrad.vjp(lnp.sin, x)[1](np.ones(2, dtype))[0],
        lagrad.jacobian(lnp.sin)(x),
        lagrad.jacobian(lnp.sin, mode="fwd")(x),
        lagrad.hessian(f)(x),
        lagrad.hvp(f)(x, np.ones(2, dtype)),
        lagrad.elementwise_grad(lnp.sin)(x),
        grad(f, method="forward_substitution")(x),
        grad(f, method="sparse")(x),
        lagrad.jacobian(grad(lambda x: lnp.sum(lnp.sin(x) * np.arange(1.0, 3.0))))(x),  # float64 inside
    ]
    return {np.asarray(r).dtype for r in results}


def promoted_by_a_float64_constant():
    """A float32 argument meeting a float64 array: NumPy computes the rest in float64."""
    x = np.array([0.5, 1.5], dtype=np.float32)
    f = lambda x: lnp.sum(lnp.sin(x) * np.arange(1.0, 3.0))
    return (
        grad(f)(x).dtype,
        lagrad.elementwise_grad(lambda x: x * np.arange(1.0, 3.0))(x).dtype,
        lagrad.jvp(f, (x,), (np.ones(2, np.float32),))[1].dtype,
        lagrad.jacobian(lambda x: x * np.arange(1.0, 3.0))(x).dtype,
        lagrad.hessian(f)(x).dtype,
    )


# ----- the cases ---------------------------------------------------------------------------

ARGS = "Arguments that are not float arrays"
SCALARS = "Python scalars, NaN and Inf"
EMPTY = "Empty arrays, zero-size axes, 0-d arrays"
DTYPES = "Precision and memory layout"
FOREIGN = "Arrays from other libraries"
OUTPUTS = "What the function returns"
PROGRAMS = "Replaying a Program"
MUTATION = "Writing into arrays"
ENDED = "Traced values after their trace ended"
UNUSED = "Arguments the function does not use"
CALLS = "Calling the transforms wrongly"

CASES = [
    # ----- arguments ---------------------------------------------------------------------
    Case(ARGS, "a Python int", "grad(f)(3)", lambda: grad(sum_sq)(3),
         TypeError, "is the int 3; integers and booleans have no derivative. Pass a float (e.g. 3.0)"),
    Case(ARGS, "an integer array", "grad(f)(np.arange(3))", lambda: grad(sum_sq)(np.arange(3)),
         TypeError, "has dtype int64; only float (or complex) arrays can be differentiated"),
    Case(ARGS, "a Python bool", "grad(f)(True)", lambda: grad(sum_sq)(True),
         TypeError, "is the bool True; integers and booleans have no derivative"),
    Case(ARGS, "a boolean array", "grad(f)(np.array([True, False]))",
         lambda: grad(sum_sq)(np.array([True, False])),
         TypeError, "has dtype bool; only float (or complex) arrays can be differentiated"),
    Case(ARGS, "an object array, even of floats", "grad(f)(np.array([1.0, 2.0], dtype=object))",
         lambda: grad(sum_sq)(np.array([1.0, 2.0], dtype=object)),
         TypeError, "has dtype object; only float (or complex) arrays can be differentiated"),
    Case(ARGS, "a string", 'grad(f)("1.5")', lambda: grad(sum_sq)("1.5"),
         TypeError, "is a str, not an array of floats"),
    Case(ARGS, "an array of strings", 'grad(f)(np.array(["1.5"]))', lambda: grad(sum_sq)(np.array(["1.5"])),
         TypeError, "has dtype <U3; only float (or complex) arrays can be differentiated"),
    Case(ARGS, "None", "grad(f)(None)", lambda: grad(sum_sq)(None),
         TypeError, "argument 0 is None; pass an array of floats to differentiate"),
    Case(ARGS, "a set", "grad(f)({1.0, 2.0})", lambda: grad(sum_sq)({1.0, 2.0}),
         TypeError, "is a set, not an array of floats"),
    Case(ARGS, "a float inside a container next to an int", 'grad(f)({"w": 1.0, "n": 3})',
         lambda: grad(lambda d: d["w"] * d["n"])({"w": 1.0, "n": 3}),
         TypeError, "argument args[0]['n'] is the int 3; integers and booleans have no derivative"),
    Case(ARGS, "a ragged list, used as a container", "grad(lambda x: x[0][1] * x[1][0])([[1.0, 2.0], [3.0]])",
         lambda: grad(lambda x: x[0][1] * x[1][0])([[1.0, 2.0], [3.0]]),
         says="a list is a container of separate inputs (as in JAX): the gradient is a list of the same shape",
         holds=lambda g: g == [[0.0, 3.0], [2.0]]),
    Case(ARGS, "a list of floats used as an array", "grad(lambda x: lnp.sum(x ** 2))([1.0, 2.0])",
         lambda: grad(sum_sq)([1.0, 2.0]),
         TypeError, "unsupported operand type(s) for ** or pow(): 'list' and 'int'",
         noted="a list or tuple argument is a container of separate inputs (one per element, as in JAX), not an "
         "array; pass numpy.array(...) to differentiate an array"),
    Case(ARGS, "a container that contains itself", "x = [1.0]; x.append(x); grad(f)(x)",
         lambda: grad(lambda x: 1.0)(cyclic()),
         ValueError, "a container (list, tuple or dict) contains itself, or is nested deeper than"),
    Case(ARGS, "lists nested 5,000 deep", "grad(f)([[[...[1.0]...]]])", lambda: grad(lambda x: 1.0)(deep()),
         ValueError, "is nested deeper than Python's recursion limit"),
    Case(ARGS, "a numpy.matrix", "grad(f)(np.asmatrix(np.ones((2, 2))))",
         lambda: grad(sum_sq)(np.asmatrix(np.ones((2, 2)))),
         TypeError, "is a numpy.matrix, whose `*` is a matrix product"),
    # ----- Python scalars, NaN, Inf ------------------------------------------------------
    Case(SCALARS, "Python scalars mixed with arrays", "grad(lambda x: lnp.sum(2 * x + 1.5 - x / 4 + 2.0 ** x))(x)",
         lambda: grad(lambda x: lnp.sum(2 * x + 1.5 - x / 4 + 2.0**x))(np.array([0.0, 1.0])),
         says="Python numbers are constants, promoted as NumPy promotes them",
         holds=lambda g: np.allclose(g, 1.75 + np.log(2.0) * 2.0 ** np.array([0.0, 1.0]))),
    Case(SCALARS, "a Python float argument", "grad(lambda x: x ** 3)(2.0)", lambda: grad(lambda x: x**3)(2.0),
         says="differentiated as a float64 scalar; the gradient is a NumPy float64",
         holds=lambda g: same(g, np.float64(12.0))),
    Case(SCALARS, "NaN in the input", "grad(lambda x: lnp.sum(lnp.sin(x)))(np.array([nan, 0.0]))",
         lambda: grad(lambda x: lnp.sum(lnp.sin(x)))(np.array([np.nan, 0.0])),
         says="propagates as in NumPy: NaN where the input is NaN, the rest unaffected",
         holds=lambda g: np.isnan(g[0]) and g[1] == 1.0),
    Case(SCALARS, "Inf in the input", "grad(lambda x: lnp.sum(lnp.exp(x)))(np.array([inf, 0.0]))",
         lambda: grad(lambda x: lnp.sum(lnp.exp(x)))(np.array([np.inf, 0.0])),
         says="propagates as in NumPy: the derivative of exp at inf is inf",
         holds=lambda g: np.isinf(g[0]) and g[1] == 1.0),
    Case(SCALARS, "log at 0", "grad(lambda x: lnp.sum(lnp.log(x)))(np.array([0.0, 1.0]))",
         lambda: grad(lambda x: lnp.sum(lnp.log(x)))(np.array([0.0, 1.0])),
         says="an infinite derivative, with NumPy's own divide-by-zero warnings",
         holds=lambda g: same(g, np.array([np.inf, 1.0])), warns="divide by zero"),
    Case(SCALARS, "NaN on the side a `where` does not select",
         "grad(lambda x: lnp.sum(lnp.where(x > 0, lnp.sqrt(x), 0.0)))(np.array([-1.0, 0.0, 4.0]))",
         lambda: grad(lambda x: lnp.sum(lnp.where(x > 0, lnp.sqrt(x), 0.0)))(np.array([-1.0, 0.0, 4.0])),
         says="zero means zero: 0 on the unselected side, never 0 × nan (tests/test_zero_means_zero.py); "
         "NumPy still warns about the sqrt(-1) it computes in the forward pass",
         holds=lambda g: same(g, np.array([0.0, 0.0, 0.25])), warns="invalid value encountered in sqrt"),
    Case(SCALARS, "a zero entry meeting a NaN inside a product (matmul, einsum, ...)",
         "grad(lambda x: lnp.sum(lnp.where([False, True], x @ A, 0.0)))(x)  # A[0, 0] = nan",
         lambda: grad(lambda x: lnp.sum(lnp.where(np.array([False, True]), x @ np.array([[np.nan, 1.0], [1.0, 2.0]]),
                                                  0.0)))(np.array([0.5, 1.0])),
         says="NaN: zero means zero holds entry by entry for elementwise functions and for a multiplier that is "
         "zero as a whole; inside a contraction the product sums the zero entry with the NaN partial",
         holds=lambda g: np.isnan(g[0]) and g[1] == 2.0),
    # ----- empty, zero-size, 0-d ----------------------------------------------------------------
    Case(EMPTY, "an empty array", "grad(lambda x: lnp.sum(x ** 2))(np.zeros(0))", lambda: grad(sum_sq)(np.zeros(0)),
         says="an empty gradient", holds=lambda g: same(g, np.zeros(0))),
    Case(EMPTY, "a zero-size axis", "grad(lambda x: lnp.sum(lnp.exp(x), axis=0).sum())(np.zeros((2, 0)))",
         lambda: grad(lambda x: lnp.sum(lnp.exp(x), axis=0).sum())(np.zeros((2, 0))),
         says="a gradient of the same zero size", holds=lambda g: same(g, np.zeros((2, 0)))),
    Case(EMPTY, "a product over a zero-length axis",
         "grad(lambda a, b: lnp.sum(a @ b), (0, 1))(zeros((2, 0)), zeros((0, 3)))",
         lambda: grad(lambda a, b: lnp.sum(a @ b), (0, 1))(np.zeros((2, 0)), np.zeros((0, 3))),
         says="empty gradients of the arguments' shapes",
         holds=lambda g: same(g[0], np.zeros((2, 0))) and same(g[1], np.zeros((0, 3)))),
    Case(EMPTY, "the mean of an empty array", "grad(lnp.mean)(np.zeros(0))", lambda: grad(lnp.mean)(np.zeros(0)),
         says="the value is NaN with NumPy's warning; the gradient is empty",
         holds=lambda g: same(g, np.zeros(0)), warns="Mean of empty slice"),
    Case(EMPTY, "the max of an empty array", "grad(lnp.max)(np.zeros(0))", lambda: grad(lnp.max)(np.zeros(0)),
         ValueError, "zero-size array to reduction operation maximum which has no identity"),
    Case(EMPTY, "the product of an empty array", "grad(lnp.prod)(np.zeros(0))", lambda: grad(lnp.prod)(np.zeros(0)),
         says="an empty gradient (the product of nothing is 1, a constant)", holds=lambda g: same(g, np.zeros(0))),
    Case(EMPTY, "a 0-d array", "grad(lambda x: x ** 2)(np.array(3.0))", lambda: grad(lambda x: x**2)(np.array(3.0)),
         says="a gradient of shape (), as a NumPy scalar (as NumPy's own operations on 0-d arrays give)",
         holds=lambda g: np.shape(g) == () and g == 6.0),
    Case(EMPTY, "logsumexp of a 0-d value", "grad(logsumexp)(0.3)", lambda: grad(logsumexp)(0.3),
         says="the derivative 1.0 of a scalar logsumexp", holds=lambda g: g == 1.0),
    Case(EMPTY, "a functional update of a 0-d value", "grad(lambda x: lnp.at(x)[()].set(x * 2.0) * x)(1.5)",
         lambda: grad(lambda x: lnp.at(x)[()].set(x * 2.0) * x)(1.5),
         says="the derivative of 2x², 6.0", holds=lambda g: g == 6.0),
    # ----- precision and layout ---------------------------------------------------------------
    Case(DTYPES, "float32 arguments", "grad, jvp, vjp, jacobian, hessian, hvp, ... of float32 x",
         lambda: dtypes_kept(np.float32),
         says="float32 results from every transform and solver: no silent upcast",
         holds=lambda dtypes: dtypes == {np.dtype(np.float32)}),
    Case(DTYPES, "float16 arguments", "grad, jvp, vjp, jacobian, hessian, hvp, ... of float16 x",
         lambda: dtypes_kept(np.float16),
         says="float16 results from every transform and solver",
         holds=lambda dtypes: dtypes == {np.dtype(np.float16)}),
    Case(DTYPES, "a float32 argument meeting float64 constants", "lnp.sum(lnp.sin(x) * np.arange(1.0, 3.0))",
         promoted_by_a_float64_constant,
         says="NumPy computes the rest in float64; gradients (grad, vjp, elementwise_grad, hvp) come back in "
         "the argument's float32, tangents and Jacobians in NumPy's result type of output and argument, "
         "hessian as the Jacobian of the float32 gradient (float32)",
         holds=lambda r: r == (np.float32, np.float32, np.float64, np.float64, np.float32)),
    Case(DTYPES, "a complex argument", "grad(lambda z: lnp.real(z * lnp.conj(z)))(1 + 2j)",
         lambda: grad(lambda z: lnp.real(z * lnp.conj(z)))(1 + 2j),
         says="a complex gradient, in autograd's and JAX's convention (the conjugate of the Wirtinger one)",
         holds=lambda g: same(g, np.complex128(2 - 4j))),
    Case(DTYPES, "a complex output of a real argument", "grad(lambda x: x * (2 + 3j))(1.0)",
         lambda: grad(lambda x: x * (2 + 3j))(1.0),
         says="the gradient of the output's real part (a real argument's gradient is real)",
         holds=lambda g: same(g, np.float64(2.0))),
    Case(DTYPES, "a non-contiguous array", "grad(f)(np.ones((3, 4))[:, ::2])",
         lambda: grad(sum_sq)(np.arange(12.0).reshape(3, 4)[:, ::2]),
         says="works; the gradient is a new, contiguous array",
         holds=lambda g: same(g, 2 * np.arange(12.0).reshape(3, 4)[:, ::2])),
    Case(DTYPES, "a read-only array", "x.flags.writeable = False; grad(f)(x)",
         lambda: (lambda x: (grad(sum_sq)(x), x.flags.writeable))(_readonly()),
         says="works, and the array stays read-only",
         holds=lambda r: same(r[0], np.full(2, 2.0)) and r[1] is False),
    # ----- other libraries ------------------------------------------------------------------------
    Case(FOREIGN, "a PyTorch tensor", "grad(f)(torch.ones(3, dtype=torch.float32))", lambda: grad(sum_sq)(tensor()),
         says="read with numpy.asarray (it does not take part in NumPy's dispatch); a float32 NumPy gradient",
         holds=lambda g: same(g, np.full(3, 2.0, np.float32)), needs="torch"),
    Case(FOREIGN, "a PyTorch tensor that requires grad", "grad(f)(torch.ones(3, requires_grad=True))",
         lambda: grad(sum_sq)(tensor(requires_grad=True)),
         TypeError, "is a Tensor that NumPy cannot read as an array (Can't call numpy() on Tensor that requires grad",
         needs="torch"),
    Case(FOREIGN, "a JAX array", "grad(f)(jnp.ones(3))", lambda: grad(sum_sq)(jax_array()),
         says="read with numpy.asarray; a float32 NumPy gradient",
         holds=lambda g: same(g, np.full(3, 2.0, np.float32)), needs="jax"),
    Case(FOREIGN, "a memoryview or array.array of doubles", 'grad(f)(array.array("d", [1.0, 2.0]))',
         lambda: (grad(sum_sq)(array.array("d", [1.0, 2.0])), grad(sum_sq)(memoryview(np.ones(2)))),
         says="read through the buffer protocol; NumPy gradients",
         holds=lambda r: same(r[0], np.array([2.0, 4.0])) and same(r[1], np.full(2, 2.0))),
    # ----- outputs ---------------------------------------------------------------------------------
    Case(OUTPUTS, "an int", "grad(lambda x: 3)(1.0)", lambda: grad(lambda x: 3)(1.0),
         TypeError, "the function returns an int64 value, which has no derivative"),
    Case(OUTPUTS, "a boolean array", "grad(lambda x: lnp.sum(x) > 0)(x)",
         lambda: grad(lambda x: lnp.sum(x) > 0)(np.ones(2)),
         TypeError, "returns z3 = greater(z2, 0), a bool value, which has no derivative"),
    Case(OUTPUTS, "a string", 'grad(lambda x: "done")(1.0)', lambda: grad(lambda x: "done")(1.0),
         TypeError, "lagrad.grad: the function returns str 'done', which is not an array of numbers"),
    *[
        Case(OUTPUTS, f"a string, to {who}", f'{who}(lambda x: "abc")' + ("" if who in ("jvp", "vjp") else "(x)"),
             call, TypeError, f"lagrad.{who}: the function returns str 'abc', which is not an array of numbers")
        for who, call in [
            ("jacobian", lambda: lagrad.jacobian(lambda x: "abc")(np.ones(2))),
            ("hessian", lambda: lagrad.hessian(lambda x: "abc")(np.ones(2))),
            ("elementwise_grad", lambda: lagrad.elementwise_grad(lambda x: "abc")(np.ones(2))),
            ("jvp", lambda: lagrad.jvp(lambda x: "abc", (np.ones(2),), (np.ones(2),))),
            ("vjp", lambda: lagrad.vjp(lambda x: "abc", np.ones(2))),
        ]
    ],
    Case(OUTPUTS, "a string inside a tuple", 'jacobian(lambda x: (x, "abc"))(x)',
         lambda: lagrad.jacobian(lambda x: (x * 2.0, "abc"))(np.ones(2)),
         TypeError, "lagrad.jacobian: the function returns output [1] str 'abc'"),
    Case(OUTPUTS, "None", "grad(lambda x: None)(1.0)", lambda: grad(lambda x: None)(1.0),
         TypeError, "the function returns None (0 arrays); grad needs a single scalar"),
    Case(OUTPUTS, "a tuple where a scalar is needed", "grad(lambda x: (x, x))(1.0)",
         lambda: grad(lambda x: (x * 1.0, x * 2.0))(1.0),
         TypeError, "returns (*, *) (2 arrays); grad needs a single scalar. If the rest is auxiliary data, "
         "pass has_aux=True"),
    Case(OUTPUTS, "an array where a scalar is needed", "grad(lnp.sin)(np.ones(3))", lambda: grad(lnp.sin)(np.ones(3)),
         TypeError, "returns an array of shape (3,); grad needs a scalar output. Use lagrad.jacobian"),
    Case(OUTPUTS, "an array of one element", "grad(lnp.sin)(np.ones(1))", lambda: grad(lnp.sin)(np.ones(1)),
         TypeError, "returns an array of shape (1,); grad needs a scalar output"),
    Case(OUTPUTS, "has_aux=True without a pair", "grad(f, has_aux=True)(x)",
         lambda: grad(sum_sq, has_aux=True)(np.ones(2)),
         TypeError, "with has_aux=True the function must return a pair (output, aux)"),
    Case(OUTPUTS, "a different structure on different calls", "jac = jacobian(f); jac(1.0); jac(1.0)",
         changing_structure,
         says="each call traces anew, so each gets the structure that call returned",
         holds=lambda r: same(r[0], np.float64(2.0)) and isinstance(r[1], tuple) and len(r[1]) == 2),
    Case(OUTPUTS, "a cotangent of another structure", "out, f_vjp = vjp(lambda x: (x, x), 1.0); f_vjp(1.0)",
         lambda: lagrad.vjp(lambda x: (x * 1.0, x * 2.0), 1.0)[1](1.0),
         ValueError, "lagrad.vjp: the cotangent must have the structure of the output: lagrad: expected a tuple "
         "of 2 at the top, got float"),
    Case(OUTPUTS, "a cotangent of another shape", "out, f_vjp = vjp(lnp.sin, np.ones(3)); f_vjp(np.ones(2))",
         lambda: lagrad.vjp(lnp.sin, np.ones(3))[1](np.ones(2)),
         ValueError, "lagrad.vjp: a cotangent has shape (2,), but its output z2 has shape (3,)"),
    Case(OUTPUTS, "tangents of another structure", "jvp(f, (x,), (t, t))",
         lambda: lagrad.jvp(sum_sq, (np.ones(2),), (np.ones(2), np.ones(2))),
         ValueError, "lagrad.jvp: the tangents must have the structure of the primals: lagrad: expected a tuple "
         "of 1 at the top, got tuple of 2"),
    Case(OUTPUTS, "primals that are not a tuple", "jvp(f, x, t)", lambda: lagrad.jvp(sum_sq, np.ones(2), np.ones(2)),
         TypeError, "lagrad.jvp: primals and tangents must be tuples (one entry per argument of the function)"),
    Case(OUTPUTS, "a tangent of another shape", "jvp(lnp.sin, (np.ones(3),), (np.ones(2),))",
         lambda: lagrad.jvp(lnp.sin, (np.ones(3),), (np.ones(2),)),
         ValueError, "lagrad.jvp: tangent of args[0] has shape (2,), its primal (3,)"),
    # ----- replay --------------------------------------------------------------------------------------
    Case(PROGRAMS, "an input of the wrong shape", "program = trace(f, np.ones(3)); program(np.ones(4))",
         lambda: replay(np.ones(4)),
         ValueError, "input z1 (x) was traced with shape (3,) and is given shape (4,); trace the function again"),
    Case(PROGRAMS, "the wrong number of arguments", "program(np.ones(3), np.ones(3))",
         lambda: replay(np.ones(3), np.ones(3)),
         TypeError, "lagrad: the program takes 1 arguments (as traced), got 2"),
    Case(PROGRAMS, "another structure", 'program = trace(f, {"a": 1.0}); program({"b": 1.0})',
         lambda: lagrad.trace(lambda d: d["a"] * 2.0, {"a": 1.0})({"b": 1.0}),
         ValueError, "the arguments must have the structure traced: lagrad: expected a dict with keys ['a']"),
    Case(PROGRAMS, "integers where floats were traced", "program(np.arange(3))", lambda: replay(np.arange(3)),
         TypeError, "input z1 (x) was traced as float64 and is given int64; the replay would compute in other "
         "arithmetic"),
    Case(PROGRAMS, "inputs that take the other branch", "trace(lambda x: x * 2.0 if x > 0 else -x, 1.0)(-1.0)",
         branch_replay, lagrad.BranchError, "goes False, but the program was traced with True"),
    # ----- mutation ------------------------------------------------------------------------------------------
    Case(MUTATION, "an item assignment on the traced argument", "def f(x): x[0] = 5.0; return lnp.sum(x**2)",
         item_assignment,
         says="recorded as the functional update x.at[0].set(5.0), which x now refers to (the earlier value "
         "stays in the Program); the caller's array is not changed",
         holds=lambda r: same(r[0], np.array([0.0, 2.0, 2.0])) and same(r[1], np.ones(3))),
    Case(MUTATION, "a write through a view", "y = x.copy(); v = y[1:]; v *= 3.0; return lnp.sum(y**2)",
         write_through_view, says="as in NumPy: a basic slice, reshape or transpose is a view, and the write "
         "reaches y", holds=lambda g: same(g, np.array([2.0, 18.0, 18.0]))),
    Case(MUTATION, "a write through a reshape that NumPy copies", "x.T.reshape(-1)[0] = 1.0",
         lambda: grad(lambda x: (x.T.reshape(-1).__setitem__(0, 1.0), lnp.sum(x))[1])(np.ones((2, 2))),
         ValueError, "was reshaped from an array whose layout NumPy cannot reshape without copying"),
    Case(MUTATION, "a write into a read-only view", "lnp.broadcast_to(x, (2, 3))[0] = 1.0",
         lambda: grad(lambda x: (lnp.broadcast_to(x, (2, 3)).__setitem__(0, 1.0), lnp.sum(x))[1])(np.ones(3)),
         ValueError, "it is a broadcast view (numpy.broadcast_to), which NumPy makes read-only"),
    Case(MUTATION, "a write into the argument's array through another name",
         "x0 = np.ones(3); def f(x): y = lnp.sin(x); x0[0] = 100.0; ...; grad(f)(x0)", write_through_closure,
         says="the write happens, as in NumPy; the derivative is of the values the function was called with "
         "(lagrad records a copy of the arrays it differentiates)",
         holds=lambda r: same(r[0], np.cos(np.ones(3))) and r[1][0] == 100.0),
    Case(MUTATION, "an in-place operator on the traced argument", "def f(x): x += 1.0; ...", in_place_add,
         says="recorded as x + 1.0, which the object x now refers to; the caller's array is not changed",
         holds=lambda r: same(r[0], np.full(3, 4.0)) and same(r[1], np.ones(3))),
    Case(MUTATION, "a traced array written into a NumPy array", "buf = np.zeros(3); buf[:] = x",
         lambda: grad(lambda x: np.zeros(3).__setitem__(slice(None), x))(np.ones(3)),
         TypeError, "is traced and was turned into a plain NumPy array"),
    Case(MUTATION, "a traced scalar written into an element of a NumPy array", "buf = np.zeros(3); buf[0] = x",
         lambda: grad(lambda x: np.zeros(3).__setitem__(0, x))(1.0),
         TypeError, "lagrad.grad: a traced value was written into an element of a NumPy array (out[i] = ...)",
         caused="setting an array element with a sequence"),
    Case(MUTATION, "a buffer filled in a loop", "out = np.zeros(3); for i in ...: out[i] = lnp.sin(x[i])",
         lambda: grad(fill_buffer)(np.ones(3)),
         TypeError, "collect the values in a list and lagrad.numpy.stack them"),
    Case(MUTATION, "out= a plain NumPy array", "np.sin(x, out=buf)",
         lambda: grad(lambda x: np.sum(np.sin(x, out=np.empty(3))))(np.ones(3)),
         TypeError, "numpy.sin(..., out=o) with a plain NumPy array `o` and traced arguments: o cannot hold a "
         "traced result"),
    Case(MUTATION, "out= a traced array", "y = x.copy(); np.sin(x, out=y)",
         lambda: grad(lambda x: (lambda y: (np.sin(x, out=y), lnp.sum(y))[1])(x.copy()))(np.zeros(3)),
         says="the result is written into y, as in NumPy", holds=lambda g: same(g, np.ones(3))),
    # ----- after the trace -----------------------------------------------------------------------------------
    Case(ENDED, "arithmetic", "leaked * 3.0", lambda: leaked() * 3.0,
         lagrad.TraceEnded, "multiply was applied to a traced value after its trace had ended"),
    Case(ENDED, "a NumPy function", "np.sin(leaked)", lambda: np.sin(leaked()),
         lagrad.TraceEnded, "sin was applied to a traced value after its trace had ended"),
    Case(ENDED, "a branch", "if leaked: ...", lambda: bool(leaked()),
         lagrad.TraceEnded, "a branch was applied to a traced value after its trace had ended"),
    Case(ENDED, "float()", "float(leaked)", lambda: float(leaked()),
         lagrad.TraceEnded, "float() was applied to a traced value after its trace had ended"),
    Case(ENDED, "numpy.asarray", "np.asarray(leaked)", lambda: np.asarray(leaked()),
         lagrad.TraceEnded, "numpy.asarray was applied to a traced value after its trace had ended"),
    Case(ENDED, "use inside another gradient", "grad(lambda y: y * leaked)(1.0)",
         lambda: (lambda v: grad(lambda y: y * v)(1.0))(leaked()),
         lagrad.TraceEnded, "lagrad: multiply was applied to a traced value after its trace had ended"),
    Case(ENDED, "lagrad.value", "lagrad.value(leaked)", lambda: lagrad.value(leaked()),
         says="the plain value it had", holds=lambda v: same(v, np.float64(1.0))),
    # ----- unused arguments -----------------------------------------------------------------------------------
    Case(UNUSED, "a function that never uses its argument",
         "grad, jvp, vjp, jacobian (both modes), hessian, hvp, elementwise_grad of lambda x: 2.0",
         lambda: all_modes_zero(np.array([1.0, 2.0])),
         says="zeros of the right shapes, never an error",
         holds=lambda r: all(not np.any(v) for v in r) and [np.shape(v) for v in r]
         == [(2,), (), (2,), (3, 2), (3, 2), (2, 2), (2,), (2,)]),
    Case(UNUSED, "one argument of several unused", "grad(lambda x, y: lnp.sum(y), (0, 1))(x, y)",
         lambda: grad(lambda x, y: lnp.sum(y), (0, 1))(np.ones(3), np.ones(2)),
         says="zeros for the unused one", holds=lambda g: same(g[0], np.zeros(3)) and same(g[1], np.ones(2))),
    Case(UNUSED, "a constant int output", "grad(lambda x: 0)(1.0)", lambda: grad(lambda x: 0)(1.0),
         TypeError, "the function returns an int64 value, which has no derivative"),
    # ----- calls -------------------------------------------------------------------------------------------------
    Case(CALLS, "argnums out of range", "grad(f, argnums=2)(x)", lambda: grad(sum_sq, argnums=2)(np.ones(2)),
         ValueError, "lagrad.grad: argnums=2, but the function was given 1 arguments"),
    Case(CALLS, "argnums not an int", 'grad(f, argnums="x")', lambda: grad(sum_sq, argnums="x")(np.ones(2)),
         TypeError, "lagrad.grad: argnums must be an int or a tuple of ints, not 'x'"),
    Case(CALLS, "argnums naming an argument twice", "grad(f, argnums=(0, 0))",
         lambda: grad(lambda x, y: x * y, argnums=(0, 0))(1.0, 2.0),
         ValueError, "lagrad.grad: argnums=(0, 0) names an argument twice"),
    Case(CALLS, "something that is not a function", "grad(3)", lambda: grad(3),
         TypeError, "lagrad.grad: the first argument must be the function to differentiate, not 3"),
    Case(CALLS, "an unknown solver", 'grad(f, method="magic")(x)',
         lambda: grad(sum_sq, method="magic")(np.ones(2)),
         ValueError, "unknown method 'magic'; choose one of back_substitution, forward_substitution, sparse"),
    Case(CALLS, "an unknown jacobian mode", 'jacobian(f, mode="both")', lambda: lagrad.jacobian(sum_sq, mode="both"),
         ValueError, "lagrad.jacobian: mode must be 'rev', 'fwd' or 'auto', not 'both'"),
    Case(CALLS, "float() of a traced value", "grad(lambda x: float(x) * x)(1.0)",
         lambda: grad(lambda x: float(x) * x)(1.0),
         TypeError, "was converted with float(), which would drop its derivative"),
    *[
        Case(CALLS, f"plain {name} on a traced value", f"grad(lambda x: lnp.sum({name}(x)))(x)",
             (lambda call=call: grad(lambda x: lnp.sum(call(x)))(np.eye(2))), TypeError,
             f"lagrad: {name} was called on traced value z1; it turns its input into a plain NumPy array, "
             f"which would lose the derivative: use lagrad.{name}")
        for name, call in [
            ("scipy.special.logsumexp", lambda x: scipy.special.logsumexp(x)),
            ("scipy.linalg.cholesky", lambda x: scipy.linalg.cholesky(x)),
            ("scipy.stats.norm.logpdf", lambda x: scipy.stats.norm.logpdf(x)),
        ]
    ],
    Case(CALLS, "a SciPy function lagrad has no version of", "grad(lambda x: scipy.linalg.logm(x)[0, 0])(x)",
         lambda: grad(lambda x: scipy.linalg.logm(x)[0, 0])(np.eye(2)),
         TypeError, "scipy.linalg.logm was called on traced value z1; it turns its input into a plain NumPy array, "
         "which would lose the derivative: lagrad has no version of it"),
    Case(CALLS, "a SciPy distribution method lagrad has no version of",
         "grad(lambda m: multivariate_normal.cdf(x, m))(m)",
         lambda: grad(lambda m: lagrad.scipy.stats.multivariate_normal.cdf(np.zeros(2), m, np.eye(2)))(np.ones(2)),
         TypeError, "scipy.stats.multivariate_normal.cdf was called on traced value z1; it turns its input into a "
         "plain NumPy array, which would lose the derivative: lagrad has no version of it"),
    Case(CALLS, "one tag name for two values", 'for _ in range(2): x = lagrad.tag(x * 2, "h")',
         lambda: lagrad.adjoint(retag, np.ones(2)),
         ValueError, "lagrad.tag: the name 'h' already names z2; a name names one variable"),
    Case(CALLS, "a container as the cotangent of adjoint", 'adjoint(f, x, cotangent={"a": v})',
         lambda: lagrad.adjoint(lambda x: 2.0 * x, np.ones(2), cotangent={"a": np.ones(2)}),
         ValueError, "lagrad.adjoint: the cotangent must be an array shaped like the output (2,), not a dict"),
    Case(CALLS, "interp on an unsorted table", "grad(lambda x: lnp.interp(x, [0, 2, 1], fp))(0.5)",
         lambda: grad(lambda x: lnp.interp(x, np.array([0.0, 2.0, 1.0]), np.arange(3.0)))(0.5),
         ValueError, "lagrad.numpy.interp: xp must be increasing"),
    Case(CALLS, "a NumPy function lagrad has no rule for", "grad(lambda x: np.sum(np.trim_zeros(x)))(x)",
         lambda: grad(lambda x: np.sum(np.trim_zeros(x)))(np.ones(3)),
         TypeError, "numpy.trim_zeros is not supported on traced values"),
]  # fmt: skip


# ----- running a case ------------------------------------------------------------------------------


def _id(case: Case) -> str:
    return f"{case.topic.split()[0].lower()}: {case.what}"


def _run(case: Case) -> None:
    if case.needs and importlib.util.find_spec(case.needs) is None:
        pytest.skip(f"{case.needs} is not installed")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if case.error is not None:
            with pytest.raises(case.error, match=re.escape(case.says)) as info:
                case.call()
            if case.noted is not None and sys.version_info >= (3, 11):  # exception notes are 3.11+
                assert any(case.noted in n for n in getattr(info.value, "__notes__", [])), info.value
            if case.caused is not None:
                assert case.caused in str(info.value.__cause__), info.value.__cause__
        else:
            result = case.call()
            assert case.holds is not None and case.holds(result), f"{case.what}: got {result!r}"
    if case.warns is not None:
        assert any(case.warns in str(w.message) for w in caught), [str(w.message) for w in caught]


@pytest.mark.parametrize("case", [c for c in CASES if c.gap is None], ids=_id)
def test_case(case: Case) -> None:
    _run(case)


@pytest.mark.xfail(strict=True, reason="a known bug outside transforms/trace/program/tree; see docs/errors.md")
@pytest.mark.parametrize("case", [c for c in CASES if c.gap is not None], ids=_id)
def test_known_gap(case: Case) -> None:
    _run(case)


def test_every_case_is_distinct_and_documented() -> None:
    whats = [(c.topic, c.what) for c in CASES]
    assert len(whats) == len(set(whats))
    assert all(c.says for c in CASES)


# ----- docs/errors.md ----------------------------------------------------------------------------------


def render() -> str:
    """docs/errors.md, from CASES."""
    lines = [
        "# Bad inputs and what they get",
        "",
        "Every way of misusing lagrad that has been tried, and what it gets: a clear error, or a",
        "documented behaviour that follows NumPy. A gradient is either right or an exception.",
        "",
        "This page is generated from the table in `tests/test_hostile_inputs.py`, which the tests run",
        "entry by entry; `python -m tests.test_hostile_inputs --write` rewrites it, and a test fails",
        "when the page and the table disagree. Error messages are quoted in part.",
    ]
    topics = list(dict.fromkeys(c.topic for c in CASES))
    for topic in topics:
        lines += ["", f"## {topic}", ""]
        for c in (c for c in CASES if c.topic == topic):
            lines.append(f"- **{c.what}**: `{c.code}`")
            if c.error is not None:
                lines.append(f"  - raises `{c.error.__name__}`: “…{c.says}…”")
            else:
                lines.append(f"  - {c.says}")
            if c.noted:
                lines.append(f"  - with lagrad's note: “…{c.noted}…”")
            if c.caused:
                lines.append(f"  - raised by NumPy from lagrad's own error: “…{c.caused}…”")
            if c.warns:
                lines.append(f"  - NumPy warns: “{c.warns}…”")
            if c.gap:
                lines.append(f"  - known gap, today: {c.gap}")
            if c.needs:
                lines.append(f"  - (checked when {c.needs} is installed)")
    return "\n".join(lines) + "\n"


def test_docs_errors_md_is_generated_from_the_table() -> None:
    assert DOC.exists(), "run: python -m tests.test_hostile_inputs --write"
    assert DOC.read_text(encoding="utf-8") == render(), (
        "docs/errors.md is stale: python -m tests.test_hostile_inputs --write"
    )


if __name__ == "__main__":
    if "--write" in sys.argv:
        DOC.parent.mkdir(exist_ok=True)
        DOC.write_text(render(), encoding="utf-8")
        print(f"wrote {DOC}")
    elif "--check" in sys.argv:
        sys.exit(0 if DOC.exists() and DOC.read_text(encoding="utf-8") == render() else 1)
    else:
        print(render())
