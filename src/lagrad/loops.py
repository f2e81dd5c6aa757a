"""Structured loops: `fori_loop`, `scan`, `while_loop` and `checkpoint`, each one equation.

A Python loop in traced code unrolls: every step's equations and forward values stay in
the Program and its Tape, so memory grows with the loop's length. These forms record
one equation ``(carry_n, ys) = loop(carry_0, xs, closures)`` instead. Its body is traced
once into a nested Program (`LoopBody`) and replayed per iteration while its recorded
branch guards hold; where a guard flips, that iteration is traced again and the variant
cached, and the run keeps which variant ran where as runs ``(first iteration, variant)``.

The derivative block of the equation is the loop itself: its transpose is a reverse loop
over the body's adjoint (the body's own back-substitution per step, at the step's forward
values), its apply a forward loop of the body's forward substitution. The forward values
a reverse sweep needs come from a checkpoint policy (`schedule.py`): every step's Tape
("all"), every k-th state ("every"), a binomial (revolve) schedule with a given number of
snapshots ("binomial"), or the initial state only ("none").

Values of an outer trace that the body reads (a closure over a traced parameter) become
arguments of the loop equation, so they get their derivative. When the transpose is called
on traced values (a derivative of a derivative: hvp, hessian) it records one `loop_adjoint`
equation, whose own rules reverse the loop over the carry and its tangent under the same
checkpoint policy; the tangent rule on traced values replays the loop step by step.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import types
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np

from . import schedule as schedules
from .adjoint.backward import Handed, _back_substitution
from .adjoint.forward import forward_substitution
from .adjoint.operators import _has_nan, implicit_diagonals
from .codegen import INFIX, PREFIX, Emitter, _direct
from .core import Program, Tape, Trace, Var, registry
from .core.backend import namespace_name, namespace_of
from .core.primitive import Primitive, defbatch, defjvp_joint, defvjp_argnum
from .core.program import META, READ, Aval, Constant, Parts, is_parts_shape, new_equation, zeros_of
from .core.trace import TraceEnded, _kept
from .numpy._register import ArrayPrimitive
from .tree import tree_flatten

__all__ = ["checkpoint", "fori_loop", "scan", "while_loop"]

POLICIES = ("all", "every", "binomial", "none")


class LoopError(ValueError):
    """A structured loop's body broke the loop's contract (its carry changed shape or dtype)."""


class _NewClosure(Exception):
    """Internal: a variant found while recording reads an outer traced value not yet an argument."""


def _plain(x: Any) -> Any:
    while type(x) is Var:
        x = x.value
    return x


def _is_value(x: Any) -> bool:
    """Whether a leaf of a `checkpoint` function's arguments is a value (an array, a number, a
    traced value) rather than an option passed through as given."""
    if isinstance(x, (Var, np.ndarray, np.generic, int, float, complex)):
        return True
    if isinstance(x, type):  # a class (a dtype such as np.float32 has `dtype` too): an option
        return False
    return any(hasattr(x, name) for name in ("__array__", "__array_namespace__", "dtype"))


def _as_array(x: Any) -> Any:
    x = _plain(x)
    if isinstance(x, (np.ndarray, np.generic)):
        return x
    xp = namespace_of(x)
    if xp is not None:  # array-api-strict, CuPy: the loop's replay and schedules are NumPy's
        raise TypeError(
            f"lagrad's structured loops (fori_loop, scan, while_loop, checkpoint) run on NumPy "
            f"(and Dask) arrays, not on {namespace_name(xp)} arrays yet; convert the carry and the "
            f"values the body reads to NumPy arrays, or write the loop as a Python loop"
        )
    return np.asarray(x)


# ----- the body: a nested Program and its replay --------------------------------------


class Variant:
    """One traced path through a body: its Program (inputs: the index if any, the carry
    leaves, the x leaves, then the outer values it reads) and where those outer values sit
    among the loop's closure arguments.

    On plain values a variant runs as straight-line Python written once per way of running
    it (`_replay_source`): one statement per equation, its recorded guards as early
    returns, each intermediate deleted after its last use (a step holds only what is live,
    not every value of the body), and, when recording, the values its rules read as the
    step's tape. On traced values (higher order) it is interpreted equation by equation."""

    __slots__ = ("program", "closures", "steps", "guards", "out", "n_vars", "compiled")

    def __init__(self, program: Program, closures: list[int]) -> None:
        self.program = program
        self.closures = closures
        self.guards = dict(program.guards)
        self.n_vars = program.n_vars
        self.steps = []
        for eq in program.equations:
            # which of (ans, *args) a run keeps: in full (and the constants, which are structure),
            # or only their shape and dtype
            take = tuple(p for p, how in enumerate(eq.kept) if how == READ or (p and eq.args[p - 1] < 0))
            meta = tuple(p for p, how in enumerate(eq.kept) if how == META and not (p and eq.args[p - 1] < 0))
            fetch = tuple((a, c) for a, c in zip(eq.args, eq.constants))
            self.steps.append((eq.primitive, fetch, eq.params, eq.out, take, meta, len(eq.args) + 1))
        self.out = program.outputs
        self.compiled: dict[tuple[bool, bool, bool], Callable[[list[Any]], Any]] = {}

    def run(
        self, inputs: list[Any], record: bool, check: bool, traced: bool, outputs: bool = True
    ) -> tuple[Any, Any] | None:
        """(outputs, tape values or None); None when `check` and a recorded guard goes the other way.
        `outputs=False` (recording a step for its reverse only): the outputs are None, and on plain
        values the equations the tape does not read are not run."""
        if not traced:
            key = (record, check, outputs or not record)
            replay = self.compiled.get(key)
            if replay is None:
                replay = self.compiled[key] = _replay_source(self, record, check, key[2])
            return replay(inputs)
        env: list[Any] = [None] * self.n_vars
        env[: len(inputs)] = inputs
        guards = self.guards if check else None
        if guards:
            for j in range(len(inputs)):
                if j in guards and not _same(guards[j], inputs[j]):
                    return None
        taped: list[Any] | None = [] if record else None
        for prim, fetch, params, out, take, meta, width in self.steps:
            vals = [env[a] if a >= 0 else c for a, c in fetch]
            env[out] = value = prim(*vals, **params)
            if guards and out in guards and not _same(guards[out], value):
                return None
            if taped is not None:
                kept = [None] * width
                for p in take:
                    kept[p] = vals[p - 1] if p else value if prim.keep is None else prim.keep(value)
                for p in meta:
                    v = vals[p - 1] if p else value
                    kept[p] = Aval.of(v) if hasattr(v, "shape") else Aval(np.shape(v), np.result_type(v))
                taped.append(kept)
        outs = [o.value if isinstance(o, Constant) else env[o] for o in self.out]
        return outs, taped


def _replay_source(variant: Variant, record: bool, check: bool, outputs: bool = True) -> Callable[[list[Any]], Any]:
    """A variant's run on plain values as a Python function of its inputs' list, returning
    (outputs, the step's tape or None), or None where `check` finds a guard going the other way.
    Without `outputs` (a step recorded for its reverse only) it returns (None, tape) and runs
    only the equations whose results the tape reads, or that those read.

    Each equation is its primitive's kernel, as `Program.replay` calls it (Python's operator
    for arithmetic, the NumPy ufunc, the kernel bound by name; `codegen` spells them), a
    result without a shape made an array as the interpreter makes it. A variable is deleted
    after its last use, unless it is an output; when recording, what the rules read is put
    in the step's tape as the equation runs (its shape-only entries are the traced `Aval`s:
    a variant's shapes and dtypes are fixed)."""
    program = variant.program
    emitter = Emitter()
    emitter.namespace.update(same=_same, fix=_fix)
    n_in = program.n_inputs
    equations = program.equations
    last_use: dict[int, int] = {}
    for s, eq in enumerate(equations):
        for a in eq.args:
            if a >= 0:
                last_use[a] = s
    guards = variant.guards if check else {}
    run = [True] * len(equations)
    if not outputs:  # only what the tape reads: walk back from the values its entries name
        needed: set[int] = set()
        for s, eq in reversed(list(enumerate(equations))):
            named = _entry_names(program, eq)
            if eq.out not in needed and eq.out not in guards and 0 not in named:
                run[s] = False
            else:
                needed.update(a for a in eq.args if a >= 0)
            needed.update(eq.args[p - 1] for p in named if p and eq.args[p - 1] >= 0)
        last_use = {}
        for s, eq in enumerate(equations):
            named = _entry_names(program, eq)
            for p, a in enumerate(eq.args, 1):
                if a >= 0 and (run[s] or p in named):
                    last_use[a] = s
    outputs_kept = {o for o in program.outputs if not isinstance(o, Constant)} if outputs else set()

    def name(i: int) -> str:
        return f"z{i}"

    def guard(i: int) -> str:
        recorded = guards[i]
        if type(recorded) is bool:
            return f"    if {'not ' if recorded else ''}{name(i)}: return None"
        return f"    if not same({emitter.bind(recorded, 'branch')}, {name(i)}): return None"

    lines = ["def replay(inputs):"]
    if n_in:
        lines.append(f"    {', '.join(name(i) for i in range(n_in))}, = inputs")
        lines.append("    del inputs")
    lines.extend(guard(i) for i in range(n_in) if i in guards)
    entries = []
    for s, eq in enumerate(equations):
        args = [name(a) if a >= 0 else emitter.bind(c, "c") for a, c in zip(eq.args, eq.constants)]
        if run[s]:
            lines.append(f"    {name(eq.out)} = {_call(emitter, program, eq, args)}")
        if eq.out in guards:
            lines.append(guard(eq.out))
        if record:
            entry = ["None"] * (len(eq.args) + 1)
            for p, how in enumerate(eq.kept):
                constant = p and eq.args[p - 1] < 0
                if how == READ or constant:
                    entry[p] = args[p - 1] if p else name(eq.out)
                    if not p and eq.primitive.keep is not None:  # a nested loop keeps its record
                        entry[p] = f"{emitter.bind(eq.primitive.keep, 'keep')}({entry[p]})"
                elif how == META:
                    i = eq.args[p - 1] if p else eq.out
                    shape, dtype = program.shape(i), program.dtype(i)
                    if is_parts_shape(shape):
                        entry[p] = f"meta({args[p - 1] if p else name(eq.out)})"
                    else:
                        entry[p] = emitter.bind(Aval(shape, dtype), "aval")
            lines.append(f"    e{s} = [{', '.join(entry)}]")
            entries.append(f"e{s}")
        made = (eq.out,) if run[s] else ()
        named = () if run[s] else _entry_names(program, eq)  # a step not run holds only what its entry names
        counted = (a for p, a in enumerate(eq.args, 1) if a >= 0 and (run[s] or p in named))
        dead = [a for a in dict.fromkeys((*counted, *made)) if last_use.get(a, -1) <= s]
        dead = [a for a in dead if a not in outputs_kept]
        if dead:
            lines.append(f"    del {', '.join(name(a) for a in dead)}")
    outs = [emitter.bind(o.value, "constant") if isinstance(o, Constant) else name(o) for o in program.outputs]
    tape = f"[{', '.join(entries)}]" if record else "None"
    returned = f"[{', '.join(outs)}]" if outputs else "None"
    lines.append(f"    return {returned}, {tape}")
    emitter.namespace["meta"] = _meta
    text = "\n".join(lines) + "\n"
    code = _SOURCES.get(text)
    if code is None:  # the same body traced again (every gradient call traces it) reuses the compiled code
        if len(_SOURCES) > 256:
            _SOURCES.clear()
        code = _SOURCES[text] = compile(text, "<lagrad loop body>", "exec")
    scope = dict(emitter.namespace)
    exec(code, scope)
    return scope["replay"]


_SOURCES: dict[str, Any] = {}


def _call(emitter: Emitter, program: Program, eq: Any, args: list[str]) -> str:
    """The right-hand side of `eq` on the argument names `args`: what the kernel computes."""
    prim, kernel = eq.primitive, eq.primitive.kernel
    direct = _direct(program, eq, tuple(eq.args), args, emitter)
    if direct is not None:
        return direct
    if not eq.params and len(args) == 2 and kernel in INFIX:
        return f"{args[0]} {INFIX[kernel]} {args[1]}"
    if not eq.params and len(args) == 1 and kernel in PREFIX:
        return f"{PREFIX[kernel]}{args[0]}"
    params = [f"{k}={emitter.bind(v, k)}" for k, v in eq.params.items()]
    if isinstance(kernel, np.ufunc):
        return f"{emitter.ufunc(kernel)}({', '.join(args + params)})"
    text = f"{emitter.bind(kernel, prim.name)}({', '.join(args + params)})"
    return text if isinstance(prim, ArrayPrimitive) and not is_parts_shape(eq.shape) else f"fix({text})"


def _entry_names(program: Program, eq: Any) -> set[int]:
    """The positions of (ans, *args) whose values a step's tape entry for `eq` holds: those its
    rules read, and several-array ones read for their shapes (`meta`)."""
    named = set()
    for p, how in enumerate(eq.kept):
        if p and eq.args[p - 1] < 0:
            continue  # a constant: structure, no variable
        if how == READ or (how == META and is_parts_shape(program.shape(eq.args[p - 1] if p else eq.out))):
            named.add(p)
    return named


def _fix(value: Any) -> Any:
    """A kernel's result as the interpreter keeps it: arrays as they are, a tuple as `Parts`."""
    if hasattr(value, "shape"):
        return value
    return Parts(value) if isinstance(value, tuple) else np.asarray(value)


def _meta(value: Any) -> Aval:
    return Aval.of(value) if hasattr(value, "shape") else Aval(np.shape(value), np.result_type(value))


def _same(recorded: Any, value: Any) -> bool:
    if isinstance(recorded, np.ndarray):
        return bool(np.array_equal(np.asarray(value), recorded))
    return type(recorded)(value) == recorded


def _lift(program: Program, inexact: list[bool], closures: list[Any]) -> tuple[Program, list[int]]:
    """The program with every outer traced value it reads (a constant that is a `Var`)
    made an input after its own, and where each sits in `closures` (extended in place)."""
    found: list[Any] = []
    for eq in program.equations:
        for c in eq.constants:
            if type(c) is Var and not any(c is f for f in found):
                found.append(c)
    for o in program.outputs:
        if isinstance(o, Constant) and type(o.value) is Var and not any(o.value is f for f in found):
            found.append(o.value)
    positions = []
    for c in found:
        j = next((j for j, known in enumerate(closures) if known is c), None)
        if j is None:
            j = len(closures)
            closures.append(c)
        positions.append(j)
    if not found:
        return program, positions
    m, extra = program.n_inputs, len(found)

    def renumber(i: int) -> int:
        return i if i < m else i + extra

    is_inexact = list(inexact) + [bool(c.inexact) for c in found] + [False] * len(program.equations)
    equations = []
    for eq in program.equations:
        args, constants, key = [], [], 0
        for p, (a, c) in enumerate(zip(eq.args, eq.constants)):
            if a >= 0:
                a = renumber(a)
            elif type(c) is Var:
                a = m + next(j for j, f in enumerate(found) if f is c)
            if a >= 0:
                args.append(a)
                constants.append(None)
                key |= (3 if is_inexact[a] else 1) << (2 * p + 2)
            else:
                args.append(-1)
                constants.append(c)
        nargs = len(args)
        kind = eq.dtype.kind if isinstance(eq.dtype, tuple) else np.dtype(eq.dtype).kind
        plan = eq.primitive.plan(key, nargs, kind)  # an integer result needs no declared rule
        out = renumber(eq.out)
        inexact_out = kind in "fc" and key & (key >> 1) != 0
        is_inexact[out] = inexact_out
        equations.append(
            new_equation(
                eq.primitive,
                out,
                tuple(args),
                eq.params,
                plan.diff if inexact_out else (),
                eq.shape,
                eq.dtype,
                tuple(constants),
                _kept(plan, nargs),
                eq.source,
            )
        )
    outputs = []
    for o in program.outputs:
        if isinstance(o, Constant) and type(o.value) is Var:
            outputs.append(m + next(j for j, f in enumerate(found) if f is o.value))
        else:
            outputs.append(o if isinstance(o, Constant) else renumber(o))
    lifted = Program(
        inputs=[*program.inputs, *((_as_array(c).shape, _as_array(c).dtype) for c in found)],
        equations=equations,
        outputs=outputs,
        out_tree=program.out_tree,
        input_names=[*program.input_names, *(f"outer{j}" for j in positions)],
        guards={renumber(i): v for i, v in program.guards.items()},
        has_complex=program.has_complex,
    )
    return lifted, positions


class LoopBody:
    """A structured loop as the static parameter of its equation: the body's variants
    (nested Programs), how the carry, xs and ys are laid out, and the checkpoint policy.
    The variant cache grows when a replay takes a new path; nothing else changes."""

    def __init__(
        self,
        who: str,
        fun: Callable[..., Any],
        call: Callable[[list[Any]], Any],
        *,
        n_index: int,
        carry: list[Any],
        carry_tree: Any,
        n_x: int,
        policy: str,
        every: int,
        snapshots: int,
        length: int | None,
        lo: int = 0,
        stack_ys: bool = True,
        cond: Callable[..., Any] | None = None,
        max_steps: int | None = None,
    ) -> None:
        self.who, self.fun, self.call = who, fun, call
        self.n_index, self.n_carry, self.n_x = n_index, len(carry), n_x
        self.carry_avals = [(np.shape(c), np.result_type(c)) for c in carry]
        self.carry_tree = carry_tree
        self.policy, self.every, self.snapshots = policy, every, snapshots
        self.length, self.lo, self.stack_ys = length, lo, stack_ys
        self.cond_fun, self.max_steps = cond, max_steps
        self.variants: list[Variant] = []
        self.conds: list[Variant] = []
        self.closures: list[Any] = []  # outer traced values read by the body: the loop's last arguments
        self.y_avals: list[tuple[Any, Any]] | None = None
        self.y_tree: Any = None
        self.last_schedule: list[tuple[int, int]] = []
        self.inexact: list[bool] = []
        self.discovering = False  # the first run, before the equation is recorded: closures may grow
        self.recording = False  # recording the equation: a new closure records it again
        self.follows: dict[tuple[bool, int], int] = {}  # (cond?, variant) -> the variant that ran next
        self.slots: list[tuple[Any, Any]] = []  # where the body's functions hold the closures (`_captured`)
        self.ready: LoopParts | None = None  # that run's result, for the recording to take
        self.augmented: dict[int, LoopBody] = {}  # the loop over (x, ẋ), by number of closures (`_augmented`)

    def __repr__(self) -> str:
        if self.who == "fori_loop":
            head = f"fori_loop({self.lo}, {self.lo + (self.length or 0)})"
        elif self.who == "while_loop":
            head = "while_loop"
        else:
            head = f"{self.who}({self.length})"
        policy = {"binomial": f"binomial({self.snapshots})", "every": f"every({self.every})"}.get(
            self.policy, self.policy
        )
        return f"{head} {policy}"

    def lines(self) -> list[tuple[str, str]]:
        """The body's Programs as (equation, comment) rows, for printing under the loop."""
        rows: list[tuple[str, str]] = []
        runs = ", ".join(f"{v}@{t}" for t, v in self.last_schedule[:8])
        more = "…" if len(self.last_schedule) > 8 else ""
        for name, variants in (("cond", self.conds), ("body", self.variants)):
            for v, variant in enumerate(variants):
                label = f"{name} variant {v}" if len(variants) > 1 else name
                rows.append((f"    {label}:", ""))
                rows.extend((f"      {eq}", comment) for eq, comment in variant.program.lines())
                outs = ", ".join(
                    f"z{o + 1}" if not isinstance(o, Constant) else "constant" for o in variant.program.outputs
                )
                rows.append((f"      return {outs}", ""))
        if len(self.variants) > 1:
            rows.append((f"    variants run (variant@first iteration): {runs}{more}", ""))
        return rows

    # -- tracing variants ---------------------------------------------------------------

    def _trace(self, fun: Callable[[list[Any]], Any], values: list[Any], outer: list[Any]) -> tuple[Program, Any]:
        """The body traced at `values`; the values in `outer` (this run's closure arguments) are
        inputs after them, put where the body finds the outer traced values while it runs."""
        trace = Trace()
        inputs = [trace.new_input(_as_array(v)) for v in values]
        for j in range(self.n_index):
            inputs[j].inexact = False
        extra = [trace.new_input(_as_array(v)) for v in outer]
        for var, closure in zip(extra, self.closures):
            var.inexact = bool(closure.inexact)
        undo = _substitute(self.slots, dict(zip(map(id, self.closures), extra)))
        try:
            out = fun(inputs)
        except BaseException:
            trace.active = False
            raise
        finally:
            undo()
        leaves, tree = tree_flatten(out)
        program, _ = trace.finish([*inputs, *extra], leaves, out_tree=tree)
        return program, tree

    def add_variant(self, values: list[Any], t: int, cond: bool = False, outer: list[Any] | None = None) -> Variant:
        """Trace the body (or the condition) at iteration `t`'s inputs, a new variant.

        The body gets this run's values of the loop's closure arguments (`outer`; the values
        of the closures themselves when None) as inputs of its own trace, put in the closure
        cells, lists and dicts where it reads them (`_captured`). So it never computes with
        the outer trace's values (nothing is recorded there), and a branch first taken when
        the loop runs again after that trace ended (a replay of the Program) reads this run's
        values. An outer traced value reached otherwise (a global, a tuple) is read as itself
        while the outer trace runs, and `_lift` makes it an input."""
        own = self.n_index + self.n_carry + self.n_x
        inexact = [j >= self.n_index and np.dtype(_as_array(v).dtype).kind in "fc" for j, v in enumerate(values[:own])]
        outer = [_plain(c) for c in self.closures] if outer is None else list(outer[: len(self.closures)])
        known = len(self.closures)
        try:
            program, tree = self._trace(self.cond_call if cond else self.call, values[:own], outer)
        except TraceEnded as error:
            raise LoopError(
                f"lagrad.{self.who}: at iteration {t} a branch of the body first taken in this run reads a traced "
                f"value of the trace that recorded the loop, which has ended; let the body function close over "
                f"that value directly (in a variable, list or dict), or pass it in the loop's carry"
            ) from error
        inexact += [bool(c.inexact) for c in self.closures[: len(outer)]]
        program, positions = _lift(program, inexact, self.closures)
        positions = [*range(len(outer)), *positions]
        grew = len(self.closures) > known and len(self.variants) > 0
        variant = Variant(program, positions)
        if cond:
            self.conds.append(variant)
        else:
            self._check_outputs(program, tree, t)
            self.variants.append(variant)
        if grew and not self.discovering:  # kept: the equation is recorded again with them as arguments
            raise _NewClosure()
        return variant

    def cond_call(self, inputs: list[Any]) -> Any:
        return self.cond_fun(self.carry_tree.unflatten(inputs))

    def _check_outputs(self, program: Program, tree: Any, t: int) -> None:
        outs = program.outputs
        shapes = [
            (np.shape(o.value), np.result_type(o.value))
            if isinstance(o, Constant)
            else (program.shape(o), program.dtype(o))
            for o in outs
        ]
        if self.who in ("fori_loop", "while_loop") and tree != self.carry_tree:
            raise LoopError(
                f"lagrad.{self.who}: at iteration {t} the body returns {tree!r}, but the carry is "
                f"{self.carry_tree!r}; return the carry in the structure it came in"
            )
        carry_shapes, y_shapes = shapes[: self.n_carry], shapes[self.n_carry :]
        paths = self.carry_tree.paths() if self.carry_tree is not None else []
        for j, ((s0, d0), (s1, d1)) in enumerate(zip(self.carry_avals, carry_shapes)):
            if tuple(s0) != tuple(s1) or np.dtype(d0) != np.dtype(d1):
                leaf = paths[j] if j < len(paths) and paths[j] else f"leaf {j}"
                raise LoopError(
                    f"lagrad.{self.who}: at iteration {t} the body turns the carry's {leaf} from "
                    f"{tuple(s0)} {np.dtype(d0).name} into {tuple(s1)} {np.dtype(d1).name}; a loop's carry keeps "
                    f"its shapes and dtypes. Return the same shapes (cast with .astype({np.dtype(d0).name}), or "
                    f"start from an initial value of the dtype the body computes)."
                )
        if self.y_avals is None:
            self.y_avals, self.y_tree = y_shapes, tree
        elif [(tuple(s), np.dtype(d)) for s, d in y_shapes] != [(tuple(s), np.dtype(d)) for s, d in self.y_avals]:
            raise LoopError(
                f"lagrad.{self.who}: at iteration {t} the body's outputs ys change shape or dtype "
                f"({self.y_avals} → {y_shapes}); every iteration must return the same shapes"
            )

    # -- one step ---------------------------------------------------------------------

    def inputs(self, t: int, carry: list[Any], xs: list[Any], closures: list[Any], variant: Variant) -> list[Any]:
        index = [np.asarray(self.lo + t)] if self.n_index else []
        return [*index, *carry, *(x[t] for x in xs), *(closures[j] for j in variant.closures)]

    def pick(
        self, t: int, carry: list[Any], xs: list[Any], closures: list[Any], last: int, record: bool, conds: bool = False
    ) -> tuple[int, list[Any], Any]:
        """Run iteration `t` on the variant whose guards hold, tracing a new variant where none
        does: (variant number, outputs, tape values). The one tried first is the variant that
        followed `last` (the previous iteration's) the last time: a branch that alternates or
        keeps its side is guessed right."""
        variants = self.conds if conds else self.variants
        guess = self.follows.get((conds, last), last)
        order = [guess, *(v for v in range(len(variants)) if v != guess)] if variants else []
        for v in order:
            ran = variants[v].run(self.inputs(t, carry, xs, closures, variants[v]), record, True, False)
            if ran is not None:
                if v != guess:
                    self.follows[conds, last] = v
                return v, ran[0], ran[1]
        values = self.inputs(t, carry, xs, closures, _NO_CLOSURES)
        variant = self.add_variant(values, t, cond=conds, outer=closures)
        if len(closures) < len(self.closures):  # outer values first read by this variant
            closures.extend(_plain(c) for c in self.closures[len(closures) :])
        ran = variant.run(self.inputs(t, carry, xs, closures, variant), record, True, False)
        if ran is None:
            raise LoopError(
                f"lagrad.{self.who}: at iteration {t} the body, traced again, does not take its own branches "
                f"when run on the same values: its branches depend on something other than its arguments "
                f"and the traced values it closes over (a global that changes, a random draw?)"
            )
        self.follows[conds, last] = len(variants) - 1
        return len(variants) - 1, ran[0], ran[1]


#: Where a body not yet traced finds its outer values: nowhere (it reads them itself).
_NO_CLOSURES: Any = SimpleNamespace(closures=())


class LoopParts(Parts):
    """The value of a loop equation: its outputs (the final carry, then the stacked ys),
    with the run's record attached (the variant schedule, the states or Tapes the
    checkpoint policy kept, the recompute counts). A tuple's subclass cannot have slots."""

    record: LoopRecord


class LoopRun:
    """What a run keeps of a loop equation's value for its rules: the record alone. The rules
    read nothing else of it, so the outputs (the final carry, the stacked ys) go as soon as
    the enclosing function is done with them rather than staying for the reverse sweep."""

    __slots__ = ("record",)

    def __init__(self, record: LoopRecord) -> None:
        self.record = record


def _keep_run(ans: Any) -> Any:
    return LoopRun(ans.record) if type(ans) is LoopParts else ans


class LoopRecord:
    """One run of a loop: `schedule` (runs of (first iteration, variant)), the trip count
    `n`, the `stored` states by iteration, `tapes` (policy "all"), and `counts` of the
    steps run by each sweep (forward, recompute advances, recorded steps)."""

    __slots__ = ("n", "schedule", "stored", "tapes", "counts", "cache")

    def __init__(self) -> None:
        self.n = 0
        self.schedule: list[tuple[int, int]] = []
        self.stored: dict[int, list[Any]] = {}
        self.tapes: list[Any] | None = None
        self.counts = {"forward": 0, "advance": 0, "record": 0, "max_stored": 0}
        self.cache: Any = None

    def variant_at(self, t: int) -> int:
        j = bisect.bisect_right(self.schedule, (t, float("inf"))) - 1
        return self.schedule[j][1]

    def mark(self, t: int, v: int) -> None:
        if not self.schedule or self.schedule[-1][1] != v:
            self.schedule.append((t, v))


# ----- the primitive ---------------------------------------------------------------------


def _split(body: LoopBody, args: tuple[Any, ...]) -> tuple[list[Any], list[Any], list[Any]]:
    c, x = body.n_carry, body.n_x
    return list(args[:c]), list(args[c : c + x]), list(args[c + x :])


def _loop_impl(*args: Any, body: LoopBody) -> LoopParts:
    carry, xs, closures = _split(body, args)
    carry = [_as_array(c) for c in carry]
    record = LoopRecord()
    n = body.length
    keep = _forward_keeps(body, n)
    online = _Online(body.snapshots) if body.policy == "binomial" and n is None else None
    if body.policy == "all":
        record.tapes = []
    ys: list[list[Any]] = []
    v = c = 0
    t = 0
    while True:
        if n is not None and t >= n:
            break
        if body.cond_fun is not None:
            c, outs, _ = body.pick(t, carry, xs, closures, c, False, conds=True)
            if not bool(outs[0]):
                break
            if body.max_steps is not None and t >= body.max_steps:
                raise LoopError(
                    f"lagrad.while_loop: the condition still holds after max_steps={body.max_steps} iterations; "
                    f"raise max_steps, or check that the loop converges from this initial value"
                )
        if online is not None:
            if online.keeps(t, record.stored):
                record.stored[t] = carry
                record.counts["max_stored"] = max(record.counts["max_stored"], len(record.stored))
        elif (t in keep) if keep is not None else (t % body.every == 0):
            record.stored[t] = carry
        v, outs, taped = body.pick(t, carry, xs, closures, v, record.tapes is not None)
        record.mark(t, v)
        if record.tapes is not None:
            record.tapes.append(taped)
        carry = outs[: body.n_carry]
        if body.y_avals:
            ys.append(outs[body.n_carry :])
        t += 1
    record.n = record.counts["forward"] = t
    if online is not None:  # the trip count is known now: keep the states its reverse sweep splits at
        used = {0, *schedules.used_states(t, online.snapshots, sorted(k for k in record.stored if k))}
        for k in [k for k in record.stored if k not in used]:
            del record.stored[k]
    record.counts["max_stored"] = max(record.counts["max_stored"], len(record.stored))
    body.last_schedule = record.schedule
    outs = carry + _stack_ys(body, ys, t)
    result = LoopParts(outs)
    result.record = record
    return result


def _stack_ys(body: LoopBody, ys: list[list[Any]], n: int) -> list[Any]:
    if not body.y_avals:
        return []
    if not body.stack_ys:
        return list(ys[0])
    if n == 0:
        return [np.zeros((0, *s), d) for s, d in body.y_avals]
    return [np.stack([_as_array(y[j]) for y in ys]) for j in range(len(body.y_avals))]


class _Online:
    """Which states a forward sweep of unknown length keeps for a binomial reverse sweep (an
    online schedule, after Stumm and Walther): the first descent of revolve's schedule for
    the longest loop that `snapshots` states reverse with the current number of repetitions
    r, ``β(s, r)`` steps. A loop that runs past it moves to r + 1, whose first descent starts
    at ``β(s, r)``: the states kept so far are dropped (but the initial one) and the new ones
    are all still ahead. A loop that stops at exactly ``β(s, r)`` steps has kept its own first
    descent; at another length the reverse sweep splits at a kept state where that saves
    advances over revolve's own split (`schedule.best_split`), and the states it would not
    use are dropped when the loop stops (`schedule.used_states`)."""

    def __init__(self, snapshots: int) -> None:
        self.snapshots = snapshots
        self.repetitions = 0
        self.until = 0
        self.plan: set[int] = set()

    def keeps(self, t: int, stored: dict[int, Any]) -> bool:
        if t >= self.until:
            self.repetitions += 1
            self.until = schedules.beta(self.snapshots, self.repetitions)
            self.plan = set(schedules.first_descent(self.until, self.snapshots))
            for k in [k for k in stored if k not in self.plan]:
                del stored[k]
        return t in self.plan


def _forward_keeps(body: LoopBody, n: int | None) -> set[int] | None:
    """The iterations whose state the forward sweep stores (None: every one)."""
    if body.policy == "all":
        return set()
    if body.policy == "every":
        return None  # every k-th
    if body.policy == "binomial" and n is not None:
        return set(schedules.first_descent(n, body.snapshots))
    return {0}


def _loop_kernel(*args: Any, body: LoopBody) -> LoopParts:
    ready = body.ready
    if ready is not None:
        body.ready = None
        return ready
    return _loop_impl(*args, body=body)


loop = Primitive("loop", _loop_impl, kernel=_loop_kernel)
loop.nested_lines = lambda eq: eq.params["body"].lines()  # type: ignore[attr-defined]
loop.batches_parts = True  # its batched transpose takes the Parts multiplier of its outputs whole
loop.keep = _keep_run
loop.takes_seed = True  # a one-shot sweep hands the loop its multiplier (`adjoint.backward.Handed`)


# ----- the reverse sweep ---------------------------------------------------------------


class _Spent(list):
    """A step's tape recorded for one back-substitution: walked backwards, it gives up each
    equation's values as it reaches them, so they are freed as soon as their rules have read
    them rather than when the step's sweep ends."""

    def __reversed__(self) -> Any:
        while self:
            yield self.pop()


class _Sweep:
    """The reverse loop of one run: the body's back-substitution per step, at forward
    values the checkpoint policy keeps or recomputes."""

    def __init__(self, body: LoopBody, record: LoopRecord, args: tuple[Any, ...], batched: bool, traced: bool) -> None:
        self.body, self.record, self.batched, self.traced = body, record, batched, traced
        self.carry0, self.xs, self.closures = _split(body, args)
        self.lam_x: list[list[Any]] = [[None] * record.n for _ in range(body.n_x)]
        self.lam_closures: list[Any] = [None] * len(self.closures)
        self.counts = record.counts
        self.guarded = False
        self.stored_at: list[int] = []  # the iterations of the stored states still to be used, sorted

    def step(self, t: int, carry: list[Any], record: bool) -> tuple[list[Any], Any]:
        variant = self.body.variants[self.record.variant_at(t)]
        outs, taped = variant.run(
            self.body.inputs(t, carry, self.xs, self.closures, variant), record, False, self.traced
        )
        return outs[: self.body.n_carry], taped

    def advance(self, carry: list[Any], t0: int, t1: int) -> list[Any]:
        for t in range(t0, t1):
            carry = self.step(t, carry, False)[0]
            self.counts["advance"] += 1
        return carry

    def tape(self, t: int, carry: list[Any]) -> Any:
        """Step t's tape for its reverse only: the step's outputs are not computed."""
        self.counts["record"] += 1
        variant = self.body.variants[self.record.variant_at(t)]
        inputs = self.body.inputs(t, carry, self.xs, self.closures, variant)
        carry = None  # the inputs list is the step's only hold on the state (a snapshot's caller keeps its own)
        return _Spent(variant.run(inputs, True, False, self.traced, outputs=False)[1])

    def back(self, t: int, taped: Any, lam_carry: list[Any], g_ys: list[Any]) -> list[Any]:
        """One step of the reverse loop: the carry's multipliers before step t from those after."""
        body = self.body
        variant = body.variants[self.record.variant_at(t)]
        program = variant.program
        seeds: dict[int, Any] = {}
        ys = [None if g is None else (g[:, t] if self.batched else g[t]) if body.stack_ys else g for g in g_ys]
        for o, g in zip(program.outputs, [*lam_carry, *ys]):
            if g is None or isinstance(o, Constant):
                continue
            seeds[o] = g if o not in seeds else seeds[o] + g
        g = ys = None
        lam_carry.clear()  # the caller's list: the multipliers after the step live only in the seeds
        if not seeds:
            return [None] * body.n_carry
        # one unguarded sweep per step; zero means zero is applied to the whole loop when its
        # result shows NaN (`_cotangents`), as back-substitution does for a whole program
        tape = Tape(taped, None)  # a `_Spent` tape (recorded for this sweep) empties as it is read
        diagonals = implicit_diagonals(program, tape) if program.implicit else None  # a fixed point in the body
        handed, seeds = [seeds], None  # the sweep holds the seeds alone: each goes once its equation has run
        lam = _back_substitution(program, tape, handed.pop(), False, self.guarded, self.batched, diagonals)
        first = body.n_index
        out = lam[first : first + body.n_carry]
        for j in range(body.n_x):
            self.lam_x[j][t] = lam[first + body.n_carry + j]
        for pos, j in enumerate(variant.closures):
            g = lam[first + body.n_carry + body.n_x + pos]
            if g is not None:
                prev = self.lam_closures[j]
                self.lam_closures[j] = g if prev is None else prev + g
        return out

    def run(self, g_carry: list[Any], g_ys: list[Any]) -> list[Any]:
        """The carry's multipliers before the loop from those after it, `g_carry`: the list is
        taken over and emptied by the first reverse step, so its multipliers go there."""
        body, record, n = self.body, self.record, self.record.n
        lam = g_carry
        stored = record.stored  # consumed as the sweep reaches them: the snapshots' memory goes
        stored[0] = self.carry0
        self.stored_at = sorted(k for k in stored if k)  # where the states still to be used are
        if self.traced:  # on traced values (higher order) the kept plain states would drop derivatives
            states = [self.carry0]
            for t in range(n - 1):
                states.append(self.step(t, states[-1], False)[0])
            for t in range(n - 1, -1, -1):
                lam = self.back(t, self.tape(t, states.pop()), lam, g_ys)
        elif body.policy == "all" and record.tapes is not None:
            for t in range(n - 1, -1, -1):
                lam = self.back(t, record.tapes[t], lam, g_ys)
        elif body.policy == "every":
            k = body.every
            for start in reversed(range(0, n, k)):
                carry = stored[start]
                tapes = []
                for t in range(start, min(start + k, n)):
                    carry, taped = self.step(t, carry, True)
                    self.counts["record"] += 1
                    tapes.append(_Spent(taped))
                for t in range(min(start + k, n) - 1, start - 1, -1):
                    lam = self.back(t, tapes[t - start], lam, g_ys)
        else:  # binomial, none (one snapshot: the initial state), and "all" on traced values
            snapshots = {"binomial": body.snapshots, "none": 1}.get(body.policy, n + 1)
            lam = self._revolve(0, n, self.carry0, snapshots, stored, lam, g_ys)
        return lam

    def _revolve(
        self,
        t0: int,
        length: int,
        carry: list[Any],
        snapshots: int,
        stored: dict[int, Any],
        lam: list[Any],
        g_ys: list[Any],
    ) -> list[Any]:
        """Reverse steps t0 … t0+length-1 from the state at t0, with `snapshots` states (that
        one included) held at once: the binomial schedule of `schedule.split`."""
        while length > 0:
            if length == 1:
                return self.back(t0, self.tape(t0, carry), lam, g_ys)
            if snapshots == 1:
                for j in range(length - 1, -1, -1):
                    lam = self.back(t0 + j, self.tape(t0 + j, self.advance(carry, t0, t0 + j)), lam, g_ys)
                return lam
            lo = bisect.bisect_right(self.stored_at, t0)
            hi = bisect.bisect_left(self.stored_at, t0 + length, lo)
            m = schedules.best_split(length, snapshots, [p - t0 for p in self.stored_at[lo:hi]])
            at = stored.pop(t0 + m, None)
            if at is not None:
                self.stored_at.remove(t0 + m)
            if at is None:
                at = self.advance(carry, t0, t0 + m)
            lam = self._revolve(t0 + m, length - m, at, snapshots - 1, stored, lam, g_ys)
            del at  # the snapshot is spent: its memory goes before the first m steps are reversed
            length = m  # then the first m steps, with as many snapshots as before
        return lam


def _record_of(ans: Any) -> LoopRecord:
    return _plain(ans).record


def _is_traced(*values: Any) -> bool:
    for v in values:
        if type(v) is Var:
            return True
        if isinstance(v, Parts) and any(type(p) is Var for p in v):
            return True
    return False


def _parts_list(g: Any, n: int) -> list[Any]:
    if g is None:
        return [None] * n
    if isinstance(g, Parts):
        return list(g)
    return [registry.ops.part(g, index=j) for j in range(n)]


def _cotangents(g: Any, ans: Any, args: tuple[Any, ...], body: LoopBody, batched: bool) -> list[Any]:
    """Every argument's multiplier, by one reverse loop (kept for the other positions)."""
    record = _record_of(ans)
    cached = record.cache
    if cached is not None and cached[0] is g:
        return cached[1]
    n_outs = body.n_carry + len(body.y_avals or [])
    key, handed = g, type(g) is Handed
    if handed:  # a one-shot sweep's: the reverse loop holds the carry's multipliers alone
        g = g.pop()
    parts = _parts_list(g, n_outs)
    traced = _is_traced(g, ans, *args)
    if traced:  # a derivative of the derivative: the reverse loop recorded as one equation
        result = _recorded_cotangents(parts, args, body, batched)
        record.cache = (key, result)
        return result
    k = next((p.shape[0] for p in parts if p is not None), 0) if batched else None
    sweep = _Sweep(body, record, args, batched, traced)
    seeds, g_ys = parts[: body.n_carry], parts[body.n_carry :]
    if handed:
        g = parts = None  # the first reverse step frees the carry's multipliers (`_Sweep.back`)
    with np.errstate(invalid="ignore"):  # a 0 × inf that matters shows as NaN in the result
        lam_carry = sweep.run(seeds, g_ys)
        found = [*lam_carry, *sweep.lam_closures, *(g for rows in sweep.lam_x for g in rows)]
        # again, with zero means zero; a handed multiplier is gone, and NaN in the loop's result
        # makes the enclosing sweep run again, masked, on a replay that passes it whole (unless
        # the output itself is NaN: then the gradient stays unmasked, as an unrolled loop's)
        if not handed and any(g is not None and _has_nan(g) for g in found):
            sweep = _Sweep(body, record, args, batched, traced)
            sweep.guarded = True
            lam_carry = sweep.run(parts[: body.n_carry], g_ys)
    result = _gather(body, args, lam_carry, sweep.lam_x, sweep.lam_closures, batched, k)
    record.cache = (key, result)
    return result


def _gather(
    body: LoopBody,
    args: tuple[Any, ...] | list[Any],
    lam_carry: list[Any],
    lam_x: list[list[Any]],
    lam_closures: list[Any],
    batched: bool,
    k: int | None,
) -> list[Any]:
    """Every argument's multiplier from a reverse loop's: the xs' rows stacked, zeros for none."""
    result = []
    for j, a in enumerate(args):
        shape, dtype = np.shape(_plain(a)), np.result_type(_plain(a))
        if j < body.n_carry:
            lam = lam_carry[j]
        elif j < body.n_carry + body.n_x:
            rows = lam_x[j - body.n_carry]
            if all(r is None for r in rows):
                lam = None
            else:
                step_shape = shape[1:]
                zero = zeros_of((k, *step_shape) if batched else step_shape, dtype)
                lam = np.stack([zero if r is None else r for r in rows], axis=1 if batched else 0)
        else:
            lam = lam_closures[j - body.n_carry - body.n_x]
        if lam is None:
            lam = zeros_of((k, *shape) if batched else shape, dtype)
        result.append(lam)
    return result


def _loop_vjp(argnum: int, g: Any, ans: Any, *args: Any, body: LoopBody) -> Any:
    return _cotangents(g, ans, args, body, False)[argnum]


def _loop_vjp_batched(argnum: int, g: Any, ans: Any, *args: Any, body: LoopBody) -> Any:
    return _cotangents(g, ans, args, body, True)[argnum]


# ----- the forward (tangent) loop -------------------------------------------------------


def _tangents(tangents: list[Any], ans: Any, args: tuple[Any, ...], body: LoopBody, batched: bool) -> Parts:
    record = _record_of(ans)
    traced = _is_traced(ans, *args, *tangents)
    carry0, _xs, _closures = _split(body, args)
    nc, nx = body.n_carry, body.n_x
    t_carry = list(tangents[:nc])
    t_xs = tangents[nc : nc + nx]
    t_closures = tangents[nc + nx :]
    sweep = _Sweep(body, record, args, batched, traced)
    carry = carry0
    t_ys: list[list[Any]] = []
    use_tapes = record.tapes is not None and not traced
    first = body.n_index
    for t in range(record.n):
        variant = body.variants[record.variant_at(t)]
        program = variant.program
        if use_tapes:
            taped, next_carry = record.tapes[t], None
        else:
            next_carry, taped = sweep.step(t, carry, True)
        seeds: dict[int, Any] = {}
        for j, tc in enumerate(t_carry):
            if tc is not None:
                seeds[first + j] = tc
        for j, tx in enumerate(t_xs):
            if tx is not None:
                seeds[first + nc + j] = tx[:, t] if batched else tx[t]
        for pos, j in enumerate(variant.closures):
            if t_closures[j] is not None:
                seeds[first + nc + nx + pos] = t_closures[j]
        outs = [o for o in program.outputs if not isinstance(o, Constant)]
        t_all = (
            forward_substitution(program, Tape(taped, None), seeds, outputs=outs, batched=batched) if seeds else None
        )
        new = [None if t_all is None or isinstance(o, Constant) else t_all[o] for o in program.outputs]
        t_carry = new[:nc]
        if body.y_avals:
            t_ys.append(new[nc:])
        carry = next_carry
    k = next((tg.shape[0] for tg in tangents if tg is not None), 1) if batched else 1
    out = []
    for j, (shape, dtype) in enumerate(body.carry_avals):
        out.append(t_carry[j] if t_carry[j] is not None else zeros_of((k, *shape) if batched else shape, dtype))
    for j, (shape, dtype) in enumerate(body.y_avals or []):
        rows = [r[j] for r in t_ys]
        zero = zeros_of((k, *shape) if batched else tuple(shape), dtype)
        if not body.stack_ys:
            out.append(zero if rows[0] is None else rows[0])
        elif not rows:
            out.append(zeros_of((k, 0, *shape) if batched else (0, *shape), dtype))
        else:
            out.append(np.stack([zero if r is None else r for r in rows], axis=1 if batched else 0))
    return Parts(out)


def _loop_jvp(tangents: list[Any], ans: Any, *args: Any, body: LoopBody) -> Parts:
    return _tangents(tangents, ans, args, body, False)


def _loop_jvp_batched(tangents: list[Any], ans: Any, *args: Any, body: LoopBody) -> Parts:
    return _tangents(tangents, ans, args, body, True)


defvjp_argnum(loop, _loop_vjp)
defjvp_joint(loop, _loop_jvp)
defbatch(loop, vjp_argnum=_loop_vjp_batched, jvp_joint=_loop_jvp_batched)


# ----- second order: the reverse loop as one equation ----------------------------------
#
# On traced values (a derivative of the derivative: hvp, hessian, grad of grad) the loop's
# transpose is recorded as one equation `loop_adjoint(loop args, cotangents)` rather than
# replayed step by step. Its value is the reverse loop of first order; its rules come from
# the loop over the carry and its tangent, (x, ẋ) ↦ (f(x), f'(x) ẋ), whose body is each
# variant's forward substitution traced once (`_augment`). With λ the multipliers of the
# loop and ẋ, ṗ tangents of its arguments, reversing that loop with the seed λ̇ on f(x) and
# λ on f'(x) ẋ gives, at x, the tangent λ̇ of the first-order multipliers (the vjp of f'ᵀλ
# in the direction ẋ), and at ẋ the multipliers λ themselves. So second derivatives follow
# the loop's own checkpoint policy: their memory does not grow with the trip count for
# "binomial", "every" and "none".


def _recorded_cotangents(parts: list[Any], args: tuple[Any, ...], body: LoopBody, batched: bool) -> list[Any]:
    """The loop's multipliers on traced values, as `loop_adjoint` equations (one per row of a batch)."""
    if not batched:
        return _adjoint_equation(parts, args, body)
    k = next(p.shape[0] for p in parts if p is not None)
    rows = [_adjoint_equation([None if p is None else p[b] for p in parts], args, body) for b in range(k)]
    return [np.stack([row[j] for row in rows]) for j in range(len(args))]


def _adjoint_equation(parts: list[Any], args: tuple[Any, ...], body: LoopBody) -> list[Any]:
    present = tuple(p is not None for p in parts)
    out = loop_adjoint(*args, *(p for p in parts if p is not None), body=body, present=present)
    if type(out) is not Var:
        return list(out)
    return [registry.ops.part(out, index=j) for j in range(len(args))]


def _adjoint_split(values: Any, present: tuple[bool, ...]) -> tuple[list[Any], list[Any]]:
    """(the loop's arguments, its outputs' cotangents with None where absent) from an equation's."""
    values = list(values)
    n = len(values) - sum(present)
    given = iter(values[n:])
    return values[:n], [next(given) if p else None for p in present]


def _adjoint_impl(*args: Any, body: LoopBody, present: tuple[bool, ...]) -> LoopParts:
    loop_args, parts = _adjoint_split(args, present)
    ans = _loop_impl(*(_plain(a) for a in loop_args), body=body)  # the forward sweep: states, schedule
    lams = _cotangents(Parts(parts), ans, tuple(loop_args), body, False)
    result = LoopParts(lams)
    result.record = LoopRecord()  # what the rules read: the trip count and the variant schedule
    result.record.n, result.record.schedule = ans.record.n, ans.record.schedule
    return result


def _adjoint_jvp(tangents: list[Any], ans: Any, *args: Any, body: LoopBody, present: tuple[bool, ...]) -> Parts:
    loop_args, parts = _adjoint_split(args, present)
    t_args, t_parts = _adjoint_split(tangents, present)
    return Parts(_second(body, _record_of(ans), loop_args, parts, t_args, t_parts, False)[0])


def _adjoint_vjp(argnum: int, w: Any, ans: Any, *args: Any, body: LoopBody, present: tuple[bool, ...]) -> Any:
    """(∂/∂args ⟨w, Jᵀg⟩, ∂/∂g ⟨w, Jᵀg⟩) = (the tangent of Jᵀg along w, with g fixed; J w)."""
    record = _record_of(ans)
    cached = record.cache
    if cached is None or cached[0] is not w:
        loop_args, parts = _adjoint_split(args, present)
        w_parts = _parts_list(w, len(loop_args))
        lam_dot, outs = _second(body, record, loop_args, parts, w_parts, [None] * len(parts), True)
        record.cache = cached = (w, [*lam_dot, *(o for o, p in zip(outs, present) if p)])
    return cached[1][argnum]


loop_adjoint = Primitive("loop_adjoint", _adjoint_impl)
loop_adjoint.nested_lines = lambda eq: eq.params["body"].lines()  # type: ignore[attr-defined]
loop_adjoint.batches_parts = True
loop_adjoint.keep = _keep_run
defvjp_argnum(loop_adjoint, _adjoint_vjp)
defjvp_joint(loop_adjoint, _adjoint_jvp)


def _second(
    body: LoopBody,
    record: LoopRecord,
    args: list[Any],
    g: list[Any],
    t_args: list[Any],
    t_g: list[Any],
    outputs: bool,
) -> tuple[list[Any], list[Any]]:
    """The loop over (x, ẋ) reversed: (λ̇ per argument, and with `outputs` the loop's output
    tangents J·t_args, the ys stacked), g the cotangents of the loop's outputs, t_g theirs."""
    traced = _is_traced(*args, *g, *t_args, *t_g)
    zero = [zeros_of(np.shape(_plain(a)), np.result_type(_plain(a))) for a in args]
    for j, (t, z) in enumerate(zip(t_args, zero)):
        if t is None:
            t_args[j] = z
        elif z.dtype.kind == "c" and np.result_type(_plain(t)).kind != "c":
            # a real tangent of a complex argument (that of x + 0j): traced as real at the first
            # step, its multiplier would lose its imaginary part in the reverse sweep thereafter
            t_args[j] = t + z
    carry0, xs, closures = _split(body, args)
    t_carry, t_xs, t_closures = _split(body, t_args)
    aug = _augmented(body, len(closures))
    aug_args = [*carry0, *t_carry, *xs, *t_xs, *closures, *t_closures]
    rec = LoopRecord()
    rec.n, rec.schedule = record.n, record.schedule
    out = _augmented_forward(body, aug, rec, aug_args, outputs, traced)
    nc = body.n_carry
    seeds_carry = [*t_g[:nc], *g[:nc]]  # λ̇ on f(x), λ on f'(x) ẋ
    seeds_ys = [*t_g[nc:], *g[nc:]]
    with np.errstate(invalid="ignore"):
        sweep = _Sweep(aug, rec, aug_args, False, traced)
        lam_carry = sweep.run(list(seeds_carry), seeds_ys)  # (the run empties the list it is given)
        found = [*lam_carry, *sweep.lam_closures, *(r for rows in sweep.lam_x for r in rows)]
        if not traced and any(r is not None and _has_nan(r) for r in found):  # again, with zero means zero
            sweep = _Sweep(aug, rec, aug_args, False, traced)
            sweep.guarded = True
            lam_carry = sweep.run(seeds_carry, seeds_ys)
    lam_dot = _gather(
        body,
        args,
        lam_carry[:nc],
        sweep.lam_x[: body.n_x],
        sweep.lam_closures[: len(closures)],
        False,
        None,
    )
    return lam_dot, out


def _augmented(body: LoopBody, n_closures: int) -> LoopBody:
    """The loop over the carry and its tangent: carry (x, ẋ), xs (x_t, ẋ_t), closures (p, ṗ);
    its variants are made from the body's as the loop first runs them (`_augment`)."""
    made = body.augmented.get(n_closures)
    if made is None:
        made = body.augmented[n_closures] = LoopBody(
            body.who,
            body.fun,
            body.call,
            n_index=body.n_index,
            carry=[],
            carry_tree=None,
            n_x=2 * body.n_x,
            policy=body.policy,
            every=body.every,
            snapshots=body.snapshots,
            length=None,
            lo=body.lo,
            stack_ys=body.stack_ys,
        )
        made.n_carry = 2 * body.n_carry
    made.variants.extend([None] * (len(body.variants) - len(made.variants)))  # type: ignore[list-item]
    return made


def _augmented_forward(
    body: LoopBody, aug: LoopBody, rec: LoopRecord, args: list[Any], outputs: bool, traced: bool
) -> list[Any]:
    """Run the loop over (x, ẋ) forward on the variant schedule `rec` holds, keeping its states
    (or, for "all", its tapes) as the policy says; with `outputs`, the tangents of the loop's
    outputs (ẋ at the end, the ẏ stacked)."""
    carry, xs, closures = _split(aug, args)
    n = rec.n
    keep = _forward_keeps(aug, n)
    if aug.policy == "all" and not traced:
        rec.tapes = []
    ys: list[list[Any]] = []
    nc, ny = body.n_carry, len(body.y_avals or [])
    for t in range(n):
        if (t in keep) if keep is not None else (t % aug.every == 0):
            rec.stored[t] = carry
        v = rec.variant_at(t)
        variant = aug.variants[v]
        if variant is None:
            where = SimpleNamespace(closures=_augmented_closures(body.variants[v], len(closures) // 2))
            values = [_plain(value) for value in aug.inputs(t, carry, xs, closures, where)]
            variant = aug.variants[v] = _augment(body.variants[v], values, len(closures) // 2, body)
        outs, taped = variant.run(aug.inputs(t, carry, xs, closures, variant), rec.tapes is not None, False, traced)
        if rec.tapes is not None:
            rec.tapes.append(taped)
        carry = outs[: 2 * nc]
        if outputs and ny:
            ys.append(outs[2 * nc + ny :])
    if not outputs:
        return []
    stacked = []
    for j, (shape, dtype) in enumerate(body.y_avals or []):
        if not body.stack_ys:
            stacked.append(ys[0][j])
        elif not ys:
            stacked.append(zeros_of((0, *shape), dtype))
        else:
            stacked.append(np.stack([y[j] for y in ys]))
    return [*carry[nc:], *stacked]


def _augment(variant: Variant, values: list[Any], n_closures: int, body: LoopBody) -> Variant:
    """The variant over (x, ẋ): inputs (index, x, ẋ, x_t, ẋ_t, p, ṗ), outputs (f, f'·ẋ) in the
    order (carry, its tangent, ys, theirs); traced once at one iteration's plain values."""
    program = variant.program
    ni, nc, nx, m = body.n_index, body.n_carry, body.n_x, len(variant.closures)
    trace = Trace()
    inputs = [trace.new_input(_as_array(v)) for v in values]
    for j in range(ni):
        inputs[j].inexact = False
    index, x, tx = inputs[:ni], inputs[ni : ni + nc], inputs[ni + nc : ni + 2 * nc]
    xt, txt = inputs[ni + 2 * nc : ni + 2 * nc + nx], inputs[ni + 2 * nc + nx : ni + 2 * nc + 2 * nx]
    p, tp = inputs[ni + 2 * nc + 2 * nx : ni + 2 * nc + 2 * nx + m], inputs[ni + 2 * nc + 2 * nx + m :]
    primal = [*index, *x, *xt, *p]
    tangent = [*([None] * ni), *tx, *txt, *tp]
    try:
        outs, taped = variant.run(primal, True, False, True)
        seeds = {i: tangent[i] for i in range(len(primal)) if tangent[i] is not None and primal[i].inexact}
        live = [o for o in program.outputs if not isinstance(o, Constant)]
        t_all = forward_substitution(program, Tape(taped, None), seeds, outputs=live) if seeds else None
    except BaseException:
        trace.active = False
        raise
    t_outs = []
    for o, value in zip(program.outputs, outs):
        t = None if t_all is None or isinstance(o, Constant) else t_all[o]
        plain = _plain(value)
        t_outs.append(zeros_of(np.shape(plain), np.result_type(plain)) if t is None else t)
    leaves = [*outs[:nc], *t_outs[:nc], *outs[nc:], *t_outs[nc:]]
    aug_program, _ = trace.finish(inputs, leaves)
    return Variant(aug_program, _augmented_closures(variant, n_closures))


def _augmented_closures(variant: Variant, n_closures: int) -> list[int]:
    """Where the augmented variant's closure inputs sit among (p, ṗ): the variant's, then their tangents'."""
    return [*variant.closures, *(j + n_closures for j in variant.closures)]


# ----- the user's forms ---------------------------------------------------------------


def _check_policy(who: str, checkpoint: str, snapshots: int | None, every: int | None) -> tuple[int, int]:
    if checkpoint not in POLICIES:
        raise ValueError(
            f"lagrad.{who}: checkpoint must be one of {', '.join(map(repr, POLICIES))}, not {checkpoint!r}"
        )
    if checkpoint == "binomial" and (snapshots is None or int(snapshots) < 1):
        raise ValueError(
            f"lagrad.{who}: checkpoint='binomial' needs snapshots=s, the number of states ≥ 1 to keep "
            f"(the initial one among them)"
        )
    if checkpoint == "every" and (every is None or int(every) < 1):
        raise ValueError(f"lagrad.{who}: checkpoint='every' needs every=k ≥ 1 (keep every k-th state)")
    return int(snapshots or 0), int(every or 1)


def _check_callable(who: str, **funs: Any) -> None:
    for name, f in funs.items():
        if not callable(f):
            raise TypeError(f"lagrad.{who}: {name} must be a function, not {type(f).__name__} {f!r}")


def _captured(*funs: Any, depth: int = 4) -> tuple[list[Var], list[tuple[Any, Any]]]:
    """The values of a live trace that functions close over (in their closure cells and default
    arguments, and in the functions, partials, lists, tuples and dicts found there), and the
    places among them that can be given another value for a while: (cell, None) or (list or
    dict, key)."""
    found: list[Var] = []
    slots: list[tuple[Any, Any]] = []
    seen: set[int] = set()

    def visit(x: Any, depth: int, holder: Any, key: Any) -> None:
        if type(x) is Var:
            if x._trace.active:
                if not any(x is f for f in found):
                    found.append(x)
                if holder is not None:
                    slots.append((holder, key))
            return
        if depth == 0 or id(x) in seen:
            return
        seen.add(id(x))
        if type(x) is list:
            for j, child in enumerate(x):
                visit(child, depth - 1, x, j)
        elif type(x) is dict:
            for k, child in x.items():
                visit(child, depth - 1, x, k)
        elif isinstance(x, tuple):
            for child in x:
                visit(child, depth - 1, None, None)
        elif isinstance(x, functools.partial):
            for child in (x.func, *x.args, *x.keywords.values()):
                visit(child, depth - 1, None, None)
        elif isinstance(x, types.FunctionType):
            for cell in x.__closure__ or ():
                with contextlib.suppress(ValueError):  # a cell not yet filled
                    visit(cell.cell_contents, depth - 1, cell, None)
            for child in (*(x.__defaults__ or ()), *(x.__kwdefaults__ or {}).values()):
                visit(child, depth - 1, None, None)

    for fun in funs:
        visit(fun, depth, None, None)
    visit = None  # type: ignore[assignment]  # it refers to itself: freed now, not by the paused collector
    return found, slots


def _substitute(slots: list[tuple[Any, Any]], by_id: dict[int, Any]) -> Callable[[], None]:
    """Put `by_id[id(v)]` where each slot holds a value v it names; returns the undoing."""
    undo = []
    for holder, key in slots:
        old = holder.cell_contents if key is None else holder[key]
        new = by_id.get(id(old))
        if new is None:
            continue
        undo.append((holder, key, old))
        if key is None:
            holder.cell_contents = new
        else:
            holder[key] = new

    def restore() -> None:
        for holder, key, old in reversed(undo):
            if key is None:
                holder.cell_contents = old
            else:
                holder[key] = old

    return restore


def _run(body: LoopBody, carry: list[Any], xs: list[Any], first: list[Any]) -> list[Any]:
    """Trace the first variant at `first` (iteration 0's inputs), then record the equation
    (or, on plain values, run it)."""
    # the traced values the body's functions close over become the loop's arguments before any
    # variant reads them: a branch first taken in a replay of the Program can then read them too
    found, body.slots = _captured(body.fun, body.cond_fun)
    for var in found:
        if not any(var is c for c in body.closures):
            body.closures.append(var)
    if body.length != 0:
        if body.cond_fun is not None:
            body.add_variant([*first], 0, cond=True)
        body.add_variant(first, 0)
    elif body.y_avals is None:
        body.y_avals = []
    body.discovering = True  # one run on the plain values finds every variant and the outer values they read
    try:
        result = _loop_impl(*(_plain(a) for a in (*carry, *xs, *body.closures)), body=body)
    finally:
        body.discovering = False
    if _is_traced(*carry, *xs, *body.closures):
        body.ready = result  # recorded as one equation, whose kernel takes this run's result
        body.recording = True
        while True:
            try:
                result = loop(*carry, *xs, *body.closures, body=body)
                break
            except Exception as error:  # a variant read a new outer value: record again with it
                if not isinstance(error, _NewClosure):
                    raise
            finally:
                body.ready = None
        body.recording = False
    n_out = body.n_carry + len(body.y_avals or [])
    if type(result) is Var:
        return [registry.ops.part(result, index=j) for j in range(n_out)]
    return list(result)


def fori_loop(
    lo: int,
    hi: int,
    body: Callable[[Any, Any], Any],
    init: Any,
    *,
    checkpoint: str = "all",
    snapshots: int | None = None,
    every: int | None = None,
) -> Any:
    """``for i in range(lo, hi): carry = body(i, carry)`` as one equation; returns the carry.

    `init` may be a nested container of arrays. The body is traced once (with `i` a traced
    integer) and replayed; its derivative is a reverse loop at forward values kept by
    `checkpoint`: "all" (every step's values), "every" (every `every`-th state, segments
    recomputed), "binomial" (revolve with `snapshots` states held at once, the initial one
    among them as revolve counts: the fewest recomputed steps),
    "none" (only the initial state: quadratic recomputation)."""
    _check_callable("fori_loop", body=body)
    lo, hi = int(lo), int(hi)
    snapshots, every = _check_policy("fori_loop", checkpoint, snapshots, every)
    leaves, tree = tree_flatten(init)
    length = max(hi - lo, 0)

    def call(inputs: list[Any]) -> Any:
        return body(inputs[0], tree.unflatten(inputs[1 : 1 + len(leaves)]))

    spec = LoopBody(
        "fori_loop",
        body,
        call,
        n_index=1,
        carry=[_as_array(c) for c in leaves],
        carry_tree=tree,
        n_x=0,
        policy=checkpoint,
        every=every,
        snapshots=snapshots,
        length=length,
        lo=lo,
    )
    outs = _run(spec, leaves, [], [np.asarray(lo), *leaves])
    return tree.unflatten(outs[: len(leaves)])


def scan(
    body: Callable[[Any, Any], Any],
    carry: Any,
    xs: Any = None,
    length: int | None = None,
    *,
    checkpoint: str = "all",
    snapshots: int | None = None,
    every: int | None = None,
) -> tuple[Any, Any]:
    """``carry, y = body(carry, x)`` over the leading axis of `xs` (or `length` times with
    x None) as one equation; returns ``(carry, ys)``, the ys stacked on a new leading axis.
    Checkpoint policies as in `fori_loop`."""
    _check_callable("scan", body=body)
    snapshots, every = _check_policy("scan", checkpoint, snapshots, every)
    leaves, tree = tree_flatten(carry)
    x_leaves, x_tree = tree_flatten(xs)
    if x_leaves:
        n = int(np.shape(x_leaves[0])[0])
        if any(np.shape(x)[:1] != (n,) for x in x_leaves):
            raise ValueError("lagrad.scan: every leaf of xs needs the same leading length")
        if length is not None and int(length) != n:
            raise ValueError(f"lagrad.scan: length={length} but xs has leading length {n}")
    elif length is None:
        raise ValueError("lagrad.scan: give xs or length")
    else:
        n = int(length)
    if n == 0:  # no step: the carry as given, and the ys empty, shaped as one step's would be
        for v in (*leaves, *x_leaves):
            if namespace_of(_plain(v)) is not None:
                _as_array(v)  # refuses array-api-strict and CuPy arrays, as a scan of any length does
        return carry, _no_ys(body, leaves, tree, x_leaves, x_tree)
    nc = len(leaves)

    def call(inputs: list[Any]) -> Any:
        x = x_tree.unflatten(inputs[nc:]) if x_leaves else None
        new, y = body(tree.unflatten(inputs[:nc]), x)
        return [*tree.flatten(new), y]

    spec = LoopBody(
        "scan",
        body,
        call,
        n_index=0,
        carry=[_as_array(c) for c in leaves],
        carry_tree=tree,
        n_x=len(x_leaves),
        policy=checkpoint,
        every=every,
        snapshots=snapshots,
        length=n,
    )
    first = [*leaves, *(x[0] for x in x_leaves)] if n else []
    outs = _run(spec, leaves, x_leaves, first)
    ys = outs[nc:]
    y_tree = spec.y_tree
    if y_tree is None:
        return tree.unflatten(outs[:nc]), None
    return tree.unflatten(outs[:nc]), _subtree(y_tree, ys)


def _no_ys(body: Callable[[Any, Any], Any], leaves: list[Any], tree: Any, x_leaves: list[Any], x_tree: Any) -> Any:
    """The ys of a scan of length 0: empty arrays shaped (0, *y.shape) for each y one step
    returns. The body runs once on plain values (zeros for x) only to learn those shapes."""

    def plain_dtype(v: Any) -> Any:
        v = _plain(v)
        return v.dtype if hasattr(v, "dtype") else np.result_type(v)

    carry = tree.unflatten([_plain(v) for v in leaves])
    x = x_tree.unflatten([np.zeros(np.shape(v)[1:], plain_dtype(v)) for v in x_leaves]) if x_leaves else None
    with np.errstate(all="ignore"):
        _, y = body(carry, x)
    y_leaves, y_tree = tree_flatten(y)
    return y_tree.unflatten([np.empty((0, *np.shape(_plain(v))), plain_dtype(v)) for v in y_leaves])


def _subtree(tree: Any, ys: list[Any]) -> Any:
    """The ys in the structure the body returned them (the last child of its output list)."""
    return tree.children[-1].unflatten(ys)


def while_loop(
    cond: Callable[[Any], Any],
    body: Callable[[Any], Any],
    init: Any,
    max_steps: int | None = None,
    *,
    checkpoint: str = "binomial",
    snapshots: int | None = 20,
    every: int | None = None,
) -> Any:
    """``while cond(carry): carry = body(carry)`` as one equation, differentiable in reverse mode.

    The trip count is recorded during the forward sweep; the reverse sweep then follows a
    binomial (revolve) schedule with `snapshots` states, the initial one among them (or
    another `checkpoint` policy).
    `max_steps` bounds the iterations (an error when exceeded); none is needed otherwise."""
    _check_callable("while_loop", cond=cond, body=body)
    snapshots, every = _check_policy("while_loop", checkpoint, snapshots, every)
    if max_steps is not None and int(max_steps) < 0:
        raise ValueError(f"lagrad.while_loop: max_steps must be ≥ 0, not {max_steps!r}")
    leaves, tree = tree_flatten(init)

    def call(inputs: list[Any]) -> Any:
        return body(tree.unflatten(inputs[: len(leaves)]))

    spec = LoopBody(
        "while_loop",
        body,
        call,
        n_index=0,
        carry=[_as_array(c) for c in leaves],
        carry_tree=tree,
        n_x=0,
        policy=checkpoint,
        every=every,
        snapshots=snapshots,
        length=None,
        cond=cond,
        max_steps=None if max_steps is None else int(max_steps),
    )
    outs = _run(spec, leaves, [], list(leaves))
    return tree.unflatten(outs[: len(leaves)])


def checkpoint(fun: Callable[..., Any]) -> Callable[..., Any]:
    """`fun` whose forward values are not kept: the reverse sweep runs it again from its
    arguments. One equation: a loop of one step with checkpoint "none", whose carry is the
    arguments' arrays and numbers, positional or keyword (passed through), and whose output is
    `fun`'s; other arguments (strings, functions, options) reach `fun` as given."""
    _check_callable("checkpoint", fun=fun)

    def checkpointed(*args: Any, **kwargs: Any) -> Any:
        everything, tree = tree_flatten((args, kwargs))
        # arrays and numbers are the step's carry; other leaves (strings, functions, options)
        # are passed through as given, as a call of `fun` would
        carried = [_is_value(leaf) for leaf in everything]
        leaves = [leaf for leaf, c in zip(everything, carried) if c]

        def call(inputs: list[Any]) -> Any:
            given = iter(inputs)
            a, kw = tree.unflatten([next(given) if c else leaf for leaf, c in zip(everything, carried)])
            return [*inputs, fun(*a, **kw)]

        spec = LoopBody(
            "checkpoint",
            fun,
            call,
            n_index=0,
            carry=[_as_array(c) for c in leaves],
            carry_tree=tree_flatten(leaves)[1],
            n_x=0,
            policy="none",
            every=1,
            snapshots=0,
            length=1,
            stack_ys=False,
        )
        outs = _run(spec, leaves, [], list(leaves))
        return _subtree(spec.y_tree, outs[len(leaves) :])

    checkpointed.__wrapped__ = fun  # type: ignore[attr-defined]
    return checkpointed
