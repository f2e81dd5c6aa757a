"""Random programs: hypothesis composes programs from the registered primitives, and every
derivative of each one is checked.

For every program: the three solvers of its adjoint system agree and leave ``‖Aλ − b‖ ≈ 0``
(`check_solvers`: back-substitution, forward substitution, the sparse solve), `check_grads`
passes in both modes to second order, and the Hessian agrees with finite differences of the
gradient. Programs mix broadcasting shapes, Python branches and `where` on traced values,
loops of fixed and of data-dependent length, Python numbers and constant arrays, and take
their inputs as a nested container.

    pytest tests/test_random_programs.py            # a modest, fixed set of programs
    pytest tests/test_random_programs.py --slow     # thousands (LAGRAD_RANDOM_PROGRAMS=n to choose)
    LAGRAD_TABLE_LINE_EXAMPLES=8 pytest tests/test_random_programs.py -k each_table_line   # more per line

What a program is made of is the table `OPS`: one line per primitive with the domain its
arguments must lie in, and the rule that gives its result's shape and parameters. A new
family joins by adding its lines; a new elementwise ufunc joins by itself (`discovered`
finds every registered elementwise primitive with a derivative and probes where it is finite).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import lagrad
import lagrad.numpy as lnp
from lagrad.numpy._register import PRIMITIVES
from lagrad.scipy.special import expit, log_softmax, logsumexp, softmax
from lagrad.testing import check_grads, check_solvers
from lagrad.tree import tree_flatten

# ----- domains: where an argument's values must lie, and the smooth map that puts them there -----

DOMAINS: dict[str, Callable[[Any], Any]] = {
    "real": lambda x: x,
    "small": lambda x: 2.0 * lnp.tanh(x),  # |x| < 2: exp, sinh, cosh stay moderate
    "unit": lambda x: 0.9 * lnp.tanh(x),  # |x| < 0.9: tan, arcsin, arctanh
    "positive": lambda x: 0.5 + x * x,  # x >= 0.5: log, sqrt, divisors, bases of powers
    "above_one": lambda x: 1.5 + x * x,  # arccosh
    "probability": lambda x: 0.1 + 0.8 * expit(x),  # (0.1, 0.9): logit
}
# where each domain's values lie, for probing a function discovered in the registry
PROBES = {
    "real": np.linspace(-3.0, 3.0, 61),
    "small": np.linspace(-2.0, 2.0, 41),
    "unit": np.linspace(-0.9, 0.9, 37),
    "positive": np.linspace(0.5, 5.0, 46),
    "above_one": np.linspace(1.5, 5.0, 36),
    "probability": np.linspace(0.1, 0.9, 33),
}


# ----- kinks: how far plain arguments are from where the function is not smooth -----------------


def _gap(a: Any, b: Any) -> float:
    return float(np.min(np.abs(np.asarray(a) - np.asarray(b)), initial=np.inf))


def _to_integer(x: Any, y: Any) -> float:
    """Distance of x / y from the nearest integer, in units of x: remainder's jumps."""
    q = np.asarray(x) / np.asarray(y)
    return float(np.min(np.abs(q - np.round(q)) * np.abs(y), initial=np.inf))


def _runner_up(x: Any, axis: Any = None, keepdims: bool = False, top: int = 1) -> float:
    """Gap between the largest (top=1) or smallest (top=-1) entry and the next, along `axis`."""
    x = np.asarray(x) * top
    if x.size == 0:
        return np.inf
    axes = tuple(range(x.ndim)) if axis is None else axis
    moved = np.moveaxis(x, axes, tuple(range(-len(axes), 0))).reshape(*x.shape[: x.ndim - len(axes)], -1)
    if moved.shape[-1] < 2:
        return np.inf
    ranked = np.sort(moved, axis=-1)
    return float(np.min(ranked[..., -1] - ranked[..., -2]))


# ----- the table ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Op:
    """A primitive the generator may use: `fn` takes `len(domains)` arrays (after each is mapped
    into its domain) and the keyword parameters the `shape` rule draws; `margin` gives the
    distance of its (mapped) arguments from a kink, where finite differences cannot be trusted."""

    name: str
    fn: Callable[..., Any]
    domains: tuple[str, ...]
    shape: str
    margin: Callable[..., float] | None = None


def _written(x: Any, v: Any, index: Any, how: str) -> Any:
    """A copy of `x` written into in place: ``y[index] = v``, ``y[index] += v``, or
    ``y[index] *= v`` through the view (a copy, for an advanced index, as in NumPy)."""
    y = x.copy() if isinstance(x, lagrad.core.Var) else np.array(x)
    if how == "set":
        y[index] = v
    elif how == "add":
        y[index] += v
    else:
        part = y[index]
        part *= v
    return y


def _unary(name: str, domain: str = "real", fn: Any = None, margin: Any = None) -> Op:
    return Op(name, fn or getattr(lnp, name), (domain,), "same", margin)


def _binary(name: str, domains: tuple[str, str] = ("real", "real"), margin: Any = None) -> Op:
    return Op(name, getattr(lnp, name), domains, "broadcast", margin)


def _reduction(name: str, fn: Any, margin: Any = None) -> Op:
    return Op(name, fn, ("real",), "reduce", margin)


OPS: list[Op] = [
    # ----- elementwise, one argument ---------------------------------------------------------
    _unary("exp", "small"),
    _unary("expm1", "small"),
    _unary("log", "positive"),
    _unary("log1p", "positive"),
    _unary("sqrt", "positive"),
    _unary("sin"),
    _unary("cos"),
    _unary("tan", "unit"),
    _unary("arctan"),
    _unary("sinh", "small"),
    _unary("cosh", "small"),
    _unary("tanh"),
    _unary("negative"),
    _unary("positive"),
    _unary("absolute", margin=lambda x: _gap(x, 0.0)),
    _unary("expit", fn=expit),
    _unary("square", fn=lambda x: x**2),
    _unary("pow_int", fn=lambda x: x**3),
    _unary("clip", fn=lambda x: lnp.clip(x, -0.5, 0.7), margin=lambda x: min(_gap(x, -0.5), _gap(x, 0.7))),
    # ----- elementwise, two arguments (broadcasting) -----------------------------------------------
    _binary("add"),
    _binary("subtract"),
    _binary("multiply"),
    _binary("divide", ("real", "positive")),
    _binary("power", ("positive", "small")),
    _binary("maximum", margin=_gap),
    _binary("minimum", margin=_gap),
    _binary("remainder", ("positive", "positive"), margin=_to_integer),
    # ----- reductions: axis (None, one or several) and keepdims drawn ---------------------------------
    _reduction("sum", lnp.sum),
    _reduction("mean", lnp.mean),
    _reduction("prod", lnp.prod),
    _reduction("max", lnp.max, margin=lambda x, axis, keepdims: _runner_up(x, axis, keepdims, 1)),
    _reduction("min", lnp.min, margin=lambda x, axis, keepdims: _runner_up(x, axis, keepdims, -1)),
    _reduction("logsumexp", logsumexp),
    Op("softmax", softmax, ("real",), "along"),
    Op("log_softmax", log_softmax, ("real",), "along"),
    # ----- products -----------------------------------------------------------------------------------
    Op("matmul", lnp.matmul, ("real", "real"), "matmul"),
    Op("dot", lnp.dot, ("real", "real"), "matmul"),
    Op("tensordot", lnp.tensordot, ("real", "real"), "tensordot"),
    Op("einsum", lambda a, b, subscripts: lnp.einsum(subscripts, a, b), ("real", "real"), "einsum"),
    # ----- shapes -------------------------------------------------------------------------------------
    Op("reshape", lnp.reshape, ("real",), "reshape"),
    Op("transpose", lnp.transpose, ("real",), "transpose"),
    Op("swapaxes", lnp.swapaxes, ("real",), "swapaxes"),
    Op("moveaxis", lnp.moveaxis, ("real",), "moveaxis"),
    Op("expand_dims", lnp.expand_dims, ("real",), "expand_dims"),
    Op("squeeze", lnp.squeeze, ("real",), "squeeze"),
    Op("broadcast_to", lnp.broadcast_to, ("real",), "broadcast_to"),
    Op("roll", lnp.roll, ("real",), "roll"),
    Op("concatenate", lambda *xs, axis: lnp.concatenate(xs, axis=axis), ("real", "real"), "concatenate"),
    Op("stack", lambda *xs, axis: lnp.stack(xs, axis=axis), ("real", "real"), "stack"),
    # ----- indexing -----------------------------------------------------------------------------------
    Op("getitem", lambda x, index: x[index], ("real",), "index"),
    Op("at_set", lambda x, v, index: lnp.at(x)[index].set(v), ("real", "real"), "update"),
    Op("at_add", lambda x, v, index: lnp.at(x)[index].add(v), ("real", "real"), "update"),
    # in-place writes, as NumPy code makes them (plain NumPy runs the same lines)
    Op("setitem", lambda x, v, index: _written(x, v, index, "set"), ("real", "real"), "update"),
    Op("iadd", lambda x, v, index: _written(x, v, index, "add"), ("real", "real"), "update"),
    Op("imul_view", lambda x, v, index: _written(x, v, index, "view"), ("real", "real"), "update"),
]
#: Registered elementwise primitives `discovered` leaves out: no derivative, or one the table
#: already draws in its own form (where: the "where" step; clip: with constant bounds above),
#: or complex parts (the programs are real).
EXCLUDED = {"sign", "floor_divide", "where", "clip", "real", "imag", "conjugate"}


def discovered() -> list[Op]:
    """Elementwise primitives in the registry that `OPS` does not list, each with the first
    domain (or pair of domains) where its implementation is finite: new ufunc families join
    the random programs with no work."""
    known = {op.name for op in OPS} | EXCLUDED
    found = []
    for name, prim in sorted(PRIMITIVES.items()):
        nin = getattr(prim.impl, "nin", None)
        if name in known or not prim.elementwise or nin not in (1, 2) or getattr(prim.impl, "nout", 1) != 1:
            continue
        if not all(prim.has_derivative(p) for p in range(nin)):
            continue
        for domain in PROBES:
            grids = np.meshgrid(*[PROBES[domain]] * nin)
            with np.errstate(all="ignore"):
                if np.all(np.isfinite(prim.impl(*grids))) and _differentiable_in_all(prim, grids):
                    found.append(Op(name, prim, (domain,) * nin, "same" if nin == 1 else "broadcast"))
                    break
    return found


def _differentiable_in_all(prim: Any, grids: list[np.ndarray]) -> bool:
    """Whether the derivatives in every argument, first and second (the programs are checked to
    second order), are implemented and finite on the domain (some special functions refuse a
    derivative in a parameter, e.g. iv's order, or a second one, e.g. stdtr's degrees of freedom)."""
    argnums = tuple(range(len(grids)))

    def total_slope(*a: Any) -> Any:
        return sum(lnp.sum(g) for g in lagrad.grad(lambda *b: lnp.sum(prim(*b)), argnums)(*a))

    try:
        with np.errstate(all="ignore"):
            grads = lagrad.grad(lambda *a: lnp.sum(prim(*a)), argnums)(*grids)
            second = lagrad.grad(total_slope, argnums)(*grids)
    except NotImplementedError:
        return False
    return all(np.all(np.isfinite(g)) for g in (*grads, *second))


ALL_OPS = OPS + discovered()


# ----- shapes -----------------------------------------------------------------------------------

#: Shapes an input may have: each base shape with the shapes that broadcast against it.
FAMILIES = [[(), (3,)], [(), (2, 3), (3,), (2, 1), (1, 3)], [(), (2, 2), (2,), (1, 2)], [(3, 1, 2), (2,), (1, 2), ()]]


class Shape(tuple):
    """A shape as a leaf of a tree of shapes (a plain tuple would be a container)."""


def _size(shape: tuple[int, ...]) -> int:
    return int(np.prod(shape, dtype=np.int64))


# ----- programs as data -------------------------------------------------------------------------


@dataclass(frozen=True)
class Ref:
    """A value of the program: given input j ("given"), made input j ("made"), or the result of
    step j ("step")."""

    kind: str
    j: int


@dataclass(frozen=True)
class Const:
    """A constant argument: a Python number or a NumPy array."""

    value: Any


@dataclass
class Step:
    """One step: `op` on `args`, or a control step built from it. `kind` is "op"; "if" (a Python
    branch on ``sum(args[0]) > threshold``: `op` or `other` on args[1:]); "loop" (`op`, `count`
    times); "while" (`op` while ``mean(x²) <= threshold``, at most `count` times); "where"
    (``where(p > q, a, b)`` on the four args)."""

    kind: str
    op: Op | None = None
    args: tuple[Any, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)
    other: Op | None = None
    count: int = 0
    threshold: float = 0.0

    def __repr__(self) -> str:
        name = self.op.name if self.op else ""
        other = f"/{self.other.name}" if self.other else ""
        return f"{self.kind}({name}{other} {list(self.args)} {self.params or ''} n={self.count} t={self.threshold})"


@dataclass
class Spec:
    """A random program: the shapes of its given inputs (a nested container), of the inputs
    made on the way (factors of products, values to update with), its steps, and the weight
    of every value in its scalar output."""

    tree: Any
    made: list[tuple[int, ...]]
    steps: list[Step]
    weights: list[tuple[Ref, np.ndarray]]
    seed: int

    def inputs(self) -> dict[str, Any]:
        rng = np.random.default_rng(self.seed)

        def draw(shape: tuple[int, ...]) -> Any:
            return rng.uniform(-1.5, 1.5, size=shape) if shape != () else np.float64(rng.uniform(-1.5, 1.5))

        leaves, treedef = tree_flatten(self.tree)
        return {"given": treedef.unflatten([draw(s) for s in leaves]), "made": [draw(s) for s in self.made]}


def run(spec: Spec, inputs: dict[str, Any], margins: list[float] | None = None) -> Any:
    """The program itself: plain Python over lagrad.numpy, traced as any user code is. With
    `margins` (plain inputs), it also records how far every kink and every branch is, and
    (negated, as -|v|) how large every value grows."""
    values = {"given": tree_flatten(inputs["given"])[0], "made": list(inputs["made"]), "step": []}

    def read(a: Any) -> Any:
        return a.value if isinstance(a, Const) else values[a.kind][a.j]

    def apply(op: Op, args: tuple[Any, ...], params: dict[str, Any]) -> Any:
        mapped = [DOMAINS[d](read(a)) for d, a in zip(op.domains, args)]
        if margins is not None and op.margin is not None:
            margins.append(op.margin(*mapped, **params))
        return op.fn(*mapped, **params)

    def measure(level: Any, threshold: float) -> None:
        if margins is not None:
            margins.append(_gap(level, threshold))

    for step in spec.steps:
        if step.kind == "op":
            out = apply(step.op, step.args, step.params)
        elif step.kind == "if":
            level = lnp.sum(read(step.args[0]))
            measure(level, step.threshold)
            out = apply(step.op if level > step.threshold else step.other, step.args[1:], step.params)
        elif step.kind == "loop":
            out = read(step.args[0])
            for _ in range(step.count):
                out = apply(step.op, (Const(out),), step.params)
        elif step.kind == "while":
            out, turns = read(step.args[0]), 0
            while turns < step.count:
                level = lnp.mean(out * out)
                measure(level, step.threshold)
                if level > step.threshold:
                    break
                out = apply(step.op, (Const(out),), step.params)
                turns += 1
        else:  # "where"
            p, q, a, b = (read(x) for x in step.args)
            measure(p - q, 0.0)
            out = lnp.where(p > q, a, b)
        values["step"].append(out)
        if margins is not None:
            margins.append(-float(np.max(np.abs(out), initial=0.0)))
    total = 0.0
    for ref, w in spec.weights:
        total = total + lnp.sum(w * read(ref))
    return total


# ----- drawing programs ---------------------------------------------------------------------------


def _broadcasts(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    try:
        np.broadcast_shapes(a, b)
    except ValueError:
        return False
    return True


class _Builder:
    """Draws steps one at a time, keeping the shape of every value so far."""

    def __init__(self, draw: Any, given: list[tuple[int, ...]], family: list[tuple[int, ...]]) -> None:
        self.draw = draw
        self.family = family
        self.made: list[tuple[int, ...]] = []
        self.values: list[tuple[Ref, tuple[int, ...]]] = [(Ref("given", j), s) for j, s in enumerate(given)]
        self.steps: list[Step] = []

    def shape(self, a: Any) -> tuple[int, ...]:
        if isinstance(a, Const):
            return np.shape(a.value)
        if a.kind == "made":
            return self.made[a.j]
        return next(s for r, s in self.values if r == a)

    def pick(self, fits: Callable[[tuple[int, ...]], bool] = lambda s: True) -> Ref | None:
        choices = [r for r, s in self.values if fits(s)]
        return self.draw(st.sampled_from(choices)) if choices else None

    def new_input(self, shape: tuple[int, ...]) -> Ref:
        self.made.append(tuple(shape))
        return Ref("made", len(self.made) - 1)

    def operand(self, shape: tuple[int, ...], exact: bool = False) -> Any:
        """An argument that broadcasts with `shape` (or to it, if `exact`): a value so far, a new
        input, a Python number or a constant array."""
        fits = (
            (lambda s: _broadcasts(s, shape) and np.broadcast_shapes(s, shape) == shape)
            if exact
            else (lambda s: _broadcasts(s, shape))
        )
        kind = self.draw(st.sampled_from(["value", "value", "input", "number", "constant"]))
        if kind == "value" and self.pick(fits) is not None:
            return self.pick(fits)
        if kind == "number":
            return Const(self.draw(st.sampled_from([2.0, -0.5, 1.5, 3])))
        options = [s for s in [*self.family, shape] if fits(s)]
        s = self.draw(st.sampled_from(options))
        if kind == "constant":
            return Const(np.linspace(-0.8, 1.3, _size(s)).reshape(s))
        return self.new_input(s)

    def add(self, step: Step, shape: tuple[int, ...]) -> None:
        self.steps.append(step)
        self.values.append((Ref("step", len(self.steps) - 1), tuple(shape)))

    def op_step(self, op: Op) -> tuple[Step, tuple[int, ...]] | None:
        """A step applying `op` to drawn arguments, and its result's shape; None if nothing fits."""
        draw, rule = self.draw, op.shape
        needs_axis = rule in ("matmul", "tensordot", "einsum", "transpose", "swapaxes", "moveaxis", "squeeze")
        x = self.pick(lambda s: len(s) >= 1 or not needs_axis)
        if x is None:
            return None
        sx = self.shape(x)
        if rule == "same":
            return Step("op", op, (x,)), sx
        if rule == "broadcast":
            y = self.operand(sx)
            return Step("op", op, (x, y)), np.broadcast_shapes(sx, self.shape(y))
        if rule in ("reduce", "along"):
            axes = draw(st.sampled_from([None, *[(a,) for a in range(len(sx))], tuple(range(len(sx)))]))
            if rule == "along":
                return Step("op", op, (x,), {"axis": None if axes is None or len(axes) != 1 else axes[0]}), sx
            keep = draw(st.booleans())
            return Step("op", op, (x,), {"axis": axes, "keepdims": keep}), np.sum(
                np.zeros(sx), axis=axes, keepdims=keep
            ).shape
        if rule == "matmul":
            second = draw(st.sampled_from([(sx[-1],), (sx[-1], 2)]))
            return Step("op", op, (x, self.new_input(second))), np.matmul(np.zeros(sx), np.zeros(second)).shape
        if rule == "tensordot":
            return Step("op", op, (x, self.new_input((sx[-1], 2))), {"axes": 1}), (*sx[:-1], 2)
        if rule == "einsum":
            letters = "ijklmn"[: len(sx)]
            out = "".join(dict.fromkeys(draw(st.sampled_from([letters[:-1] + "z", "z", letters[0] + "z"]))))
            sizes = {**dict(zip(letters, sx)), "z": 2}
            step = Step("op", op, (x, self.new_input((sx[-1], 2))), {"subscripts": f"{letters},{letters[-1]}z->{out}"})
            return step, tuple(sizes[c] for c in out)
        if rule == "reshape":
            target = draw(
                st.sampled_from([s for s in [(_size(sx),), (1, _size(sx)), *self.family] if _size(s) == _size(sx)])
            )
            return Step("op", op, (x,), {"shape": target}), target
        if rule == "transpose":
            perm = tuple(draw(st.permutations(range(len(sx)))))
            return Step("op", op, (x,), {"axes": perm}), tuple(sx[p] for p in perm)
        if rule == "swapaxes":
            i, j = draw(st.integers(0, len(sx) - 1)), draw(st.integers(-len(sx), -1))
            out = list(sx)
            out[i], out[j] = out[j], out[i]
            return Step("op", op, (x,), {"axis1": i, "axis2": j}), tuple(out)
        if rule == "moveaxis":
            i, j = draw(st.integers(0, len(sx) - 1)), draw(st.integers(0, len(sx) - 1))
            return Step("op", op, (x,), {"source": i, "destination": j}), np.moveaxis(np.zeros(sx), i, j).shape
        if rule == "expand_dims":
            axis = draw(st.integers(-len(sx) - 1, len(sx)))
            return Step("op", op, (x,), {"axis": axis}), np.expand_dims(np.zeros(sx), axis).shape
        if rule == "squeeze":
            return (Step("op", op, (x,)), tuple(n for n in sx if n != 1)) if 1 in sx else None
        if rule == "broadcast_to":
            target = (2, *[2 if n == 1 else n for n in sx])
            return Step("op", op, (x,), {"shape": target}), target
        if rule == "roll":
            axis = draw(st.sampled_from([None, *range(len(sx))]))
            return Step("op", op, (x,), {"shift": draw(st.integers(-3, 3)), "axis": axis}), sx
        if rule in ("concatenate", "stack"):
            if rule == "concatenate" and sx == ():
                return None
            y = self.pick(lambda s: s == sx)
            axis = draw(st.integers(0, len(sx) - (rule == "concatenate")))
            out = list(sx)
            if rule == "concatenate":
                out[axis] *= 2
            else:
                out.insert(axis, 2)
            return Step("op", op, (x, y), {"axis": axis}), tuple(out)
        if rule in ("index", "update"):
            index = self.index(sx)
            part = np.zeros(sx)[index].shape
            if _size(part) == 0:
                return None
            if rule == "index":
                return Step("op", op, (x,), {"index": index}), part
            return Step("op", op, (x, self.operand(part, exact=True)), {"index": index}), sx
        raise AssertionError(f"lagrad test: no shape rule {rule!r} (op {op.name})")

    def index(self, shape: tuple[int, ...]) -> tuple[Any, ...]:
        """A random index: integers, slices, one integer array (an entry may come twice: the
        transpose must add them up, or for set keep the last) or boolean mask, and perhaps a new axis."""
        draw, items, advanced = self.draw, [], False
        for n in shape:
            kind = draw(st.sampled_from(["all", "int", "slice", "array", "mask"]))
            if kind == "int":
                items.append(draw(st.integers(-n, n - 1)))
            elif kind == "slice":
                items.append(slice(draw(st.integers(-n, n)), draw(st.sampled_from([None, -1, n])),
                                   draw(st.sampled_from([None, 1, 2, -1]))))  # fmt: skip
            elif kind in ("array", "mask") and not advanced:
                advanced = True
                if kind == "array":
                    items.append(np.array(draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=3))))
                else:
                    items.append(np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool))
            else:
                items.append(slice(None))
        if draw(st.booleans()):
            items.insert(draw(st.integers(0, len(items))), None)
        return tuple(items)


#: How often each kind of step is drawn.
KINDS = ["op"] * 8 + ["if", "loop", "while", "where"]
UNARY = [op for op in ALL_OPS if op.shape == "same"]


@st.composite
def programs(draw: Any, max_steps: int = 8, first: Op | None = None) -> Spec:
    family = draw(st.sampled_from(FAMILIES))
    n_given = draw(st.integers(1, 3))
    given = [Shape(draw(st.sampled_from(family))) for _ in range(n_given)]
    # the given inputs as a nested container: {"a": x0, "b": [x1, (x2,)]}, or a bare array
    layout = (
        draw(st.sampled_from(["bare", "dict", "nested"])) if n_given == 1 else draw(st.sampled_from(["dict", "nested"]))
    )
    if layout == "bare":
        tree: Any = given[0]
    elif layout == "dict":
        tree = {f"x{j}": s for j, s in enumerate(given)}
    else:
        tree = {"a": given[0], "b": [*given[1:-1], tuple(given[-1:])]} if n_given > 1 else {"a": [given[0]]}
    b = _Builder(draw, tree_flatten(tree)[0], family)
    if first is not None:
        made = b.op_step(first)
        assume(made is not None)
        b.add(*made)
    for _ in range(draw(st.integers(0 if first else 1, max_steps))):
        kind = draw(st.sampled_from(KINDS))
        if kind == "op":
            made = b.op_step(draw(st.sampled_from(ALL_OPS)))
            if made is not None:
                b.add(*made)
        elif kind == "if":
            test, x = b.pick(), b.pick()
            step = Step("if", draw(st.sampled_from(UNARY)), (test, x), other=draw(st.sampled_from(UNARY)),
                        threshold=draw(st.sampled_from([-0.5, 0.0, 0.3])))  # fmt: skip
            b.add(step, b.shape(x))
        elif kind in ("loop", "while"):
            x = b.pick()
            op = draw(st.sampled_from([op for op in UNARY if op.margin is None]))
            b.add(Step(kind, op, (x,), count=draw(st.integers(0, 4)), threshold=draw(st.sampled_from([0.3, 1.0]))),
                  b.shape(x))  # fmt: skip
        else:
            a = b.pick()
            args, shape = [a], b.shape(a)
            for _ in range(3):  # each broadcasts with all before it
                args.append(b.operand(shape))
                shape = np.broadcast_shapes(shape, b.shape(args[-1]))
            p, q, other = args[1:]
            b.add(Step("where", None, (p, q, a, other)), shape)
    # the output: a weighted sum of the last value and of some others
    chosen = [b.values[-1][0], *draw(st.lists(st.sampled_from([r for r, _ in b.values]), max_size=2))]
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    weights = [(r, rng.uniform(0.5, 1.5, size=b.shape(r))) for r in dict.fromkeys(chosen)]
    return Spec(tree, b.made, b.steps, weights, draw(st.integers(0, 2**32 - 1)))


# ----- the checks ---------------------------------------------------------------------------------


def _tame(spec: Spec, inputs: Any) -> bool:
    """Every value finite and below 100, every kink and branch at least 1e-3 away: where central
    differences with steps of 1e-6 can be trusted."""
    probes: list[float] = []
    with np.errstate(all="ignore"):
        out = run(spec, inputs, probes)
    distances = [m for m in probes if m >= 0]
    magnitudes = [-m for m in probes if m < 0]
    return (
        bool(np.isfinite(out))
        and all(np.isfinite(v) and v < 100 for v in magnitudes)
        and min(distances, default=np.inf) > 1e-3
    )


def _flat(tree: Any) -> np.ndarray:
    leaves = tree_flatten(tree)[0]
    return np.concatenate([np.ravel(lagrad.value(v)) for v in leaves]) if leaves else np.zeros(0)


def _hessian_matrix(H: Any, n_leaves: int, sizes: list[int]) -> np.ndarray:
    """The dense Hessian from lagrad.hessian's nested result: for every input leaf i (outer),
    an input-structured tree of blocks shaped (leaf i) + (leaf j)."""
    blocks = tree_flatten(H)[0]
    assert len(blocks) == n_leaves**2
    rows = []
    for i in range(n_leaves):
        rows.append(
            np.concatenate(
                [np.reshape(blocks[i * n_leaves + j], (sizes[i], sizes[j])) for j in range(n_leaves)], axis=1
            )
        )
    return np.concatenate(rows, axis=0)


def _check_hessian(f: Callable[[Any], Any], inputs: Any, eps: float = 1e-6) -> None:
    """lagrad.hessian against central differences of lagrad.grad, column by column."""
    leaves, treedef = tree_flatten(inputs)
    sizes = [int(np.size(v)) for v in leaves]
    H = _hessian_matrix(lagrad.hessian(f)(inputs), len(leaves), sizes)
    g = lagrad.grad(f)
    x0 = _flat(inputs)

    def at(x: np.ndarray) -> Any:
        parts, start = [], 0
        for v, n in zip(leaves, sizes):
            parts.append(np.reshape(x[start : start + n], np.shape(v)))
            start += n
        return treedef.unflatten(parts)

    for j in range(x0.size):
        e = np.zeros_like(x0)
        e[j] = eps
        column = (_flat(g(at(x0 + e))) - _flat(g(at(x0 - e)))) / (2 * eps)
        assert np.allclose(H[:, j], column, rtol=1e-5, atol=1e-5), (j, H[:, j], column)
    assert np.allclose(H, H.T, rtol=1e-9, atol=1e-9)  # exactly symmetric up to rounding


def check_program(spec: Spec) -> None:
    inputs = spec.inputs()
    assume(_tame(spec, inputs))
    f = lambda tree: run(spec, tree)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        check_solvers(f, inputs)  # back-substitution, forward substitution, sparse; residual ≈ 0
        check_grads(f, inputs, modes=("fwd", "rev"), order=2)
        _check_hessian(f, inputs)


_QUICK = settings(
    max_examples=int(os.environ.get("LAGRAD_RANDOM_PROGRAMS_QUICK", "100")),
    deadline=None,
    derandomize=True,  # the normal suite sees the same programs every run
    suppress_health_check=list(HealthCheck),
    database=None,
)
_SLOW = settings(
    max_examples=int(os.environ.get("LAGRAD_RANDOM_PROGRAMS", "3000")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


@_QUICK
@given(programs())
def test_random_programs(spec: Spec) -> None:
    check_program(spec)


@pytest.mark.slow
@_SLOW
@given(programs(max_steps=12))
def test_random_programs_many(spec: Spec) -> None:
    check_program(spec)


#: Programs per line of the table (LAGRAD_TABLE_LINE_EXAMPLES=n for more; it was 4). Three, each
#: with the line as its first step: hypothesis draws the simplest first (the line alone on a 0-d
#: input), then two drawn programs on arrays. The line's primitive also has its own check_grads
#: tests in tests/numpy and tests/scipy (the guard in tests/test_coverage.py sees to it), and
#: `test_random_programs` mixes the lines.
_PER_LINE = int(os.environ.get("LAGRAD_TABLE_LINE_EXAMPLES", "3"))


@pytest.mark.parametrize("op", ALL_OPS, ids=[op.name for op in ALL_OPS])
@settings(
    max_examples=_PER_LINE, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None
)
@given(data=st.data())
def test_each_table_line(op: Op, data: Any) -> None:
    """Every line of the table, as the first step of a short program, passes the same checks:
    a broken line shows here by name, not as a rare random failure."""
    check_program(data.draw(programs(max_steps=2, first=op)))


def test_set_with_repeated_indices():
    # found by the generator (shrunk to this): x.at[[0, 0]].set(v) writes v at 0 twice and keeps
    # one (NumPy: the last write wins), so d/dv is 1 there, not 2
    x = np.array([0.5, -1.0, 2.0])
    g = lagrad.grad(lambda v: lnp.sum(lnp.at(x)[np.array([0, 0])].set(v) * np.array([1.0, 2.0, 3.0])))(1.5)
    assert g == 1.0
    _, t = lagrad.jvp(lambda v: lnp.at(x)[np.array([0, 0])].set(v), (1.5,), (1.0,))
    assert np.array_equal(t, [1.0, 0.0, 0.0])


# ----- forward and reverse mode agree at 0·∞ points (issue 16, item 5) ---------------------

#: Factors that are 0 at x = 0 with an infinite (or undefined) derivative there, or a zero
#: derivative: products of them have finite derivatives that a tangent sweep meets as 0·∞.
_ZERO_INF_FACTORS: list[Callable[[Any], Any]] = [
    lambda x: lnp.sqrt(x),
    lambda x: x,
    lambda x: x * x,
    lambda x: 0.0 * lnp.sqrt(x),
    lambda x: lnp.sqrt(x) * lnp.sqrt(x),
    lambda x: lnp.sin(x),
]


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None)
@given(
    factors=st.lists(st.sampled_from(range(len(_ZERO_INF_FACTORS))), min_size=2, max_size=4),
    zeros=st.lists(st.booleans(), min_size=3, max_size=3),
)
def test_forward_and_reverse_mode_agree_at_zero_times_infinity(factors: list[int], zeros: list[bool]) -> None:
    w = np.array([1.0, -2.0, 0.5])
    x = np.where(zeros, 0.0, np.array([0.3, 1.2, 0.7]))

    def f(x):
        y = _ZERO_INF_FACTORS[factors[0]](x)
        for j in factors[1:]:
            y = y * _ZERO_INF_FACTORS[j](x)
        return y @ w

    with np.errstate(divide="ignore", invalid="ignore"):
        reverse = lagrad.grad(f)(x)
        assume(np.all(np.isfinite(reverse)))  # where reverse mode finds a finite solution ...
        forward = lagrad.grad(f, method="forward_substitution")(x)
        jac = lagrad.jacobian(f, mode="fwd")(x)
        tangent = lagrad.jvp(f, (x,), (np.ones(3),))[1]
        hess_rev = lagrad.jacobian(lagrad.grad(f), mode="rev")(x)
        hess = lagrad.hessian(f)(x)
    assert np.allclose(forward, reverse) and np.allclose(jac, reverse)  # ... every solver finds it
    assert np.isclose(tangent, reverse.sum())
    if np.all(np.isfinite(hess_rev)):
        assert np.allclose(hess, hess_rev)
