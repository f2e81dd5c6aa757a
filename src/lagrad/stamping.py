"""The recorded solve of a traced loop written out step by step from one step's equations.

`lagrad.compile` records the solve of its first call: back-substitution runs the rules of
every equation on the recording's traced values, and each rule's operations are recorded
(about 2.5 µs an operation, against 0.5 µs run plainly). A Python loop traced for a thousand
steps makes the same equations in every step, and so does their back-substitution: the
multipliers of one step are made from the next step's by the same operations, reading the
variables of their own step. Here the sweep records the rules of a loop's last four steps
as they run, checks that the fourth repeats the third (the same primitives, parameters,
constants, shapes and dtypes, each argument the same variable, a forward variable one step
earlier, or a multiplier the same number of equations later, and the multipliers left for
the steps before in the same pattern), and then writes the remaining steps but the first
from that pattern: the kernels run on each step's own values and the equations are appended
renumbered, with no rule called. The first step (which reads the values the loop started
from) and everything outside the loops are swept as usual.

What is written is what the rules would have recorded: a loop is one `rolling` found in the
forward equations (every step the same statements, each argument at a fixed stride), whose
steps but the last are read by nothing after it, so that the multipliers reaching a step
come from the step after it alone; and a step whose rules read a value as a number (a branch),
met another trace's value or made a value of another shape than the pattern's is not
written: the equations written so far are taken back and the sweep goes on as usual.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .codegen import Straight, _key
from .core import Var
from .core.program import Program, Tape, new_equation
from .rolling import Loop, _plan

#: The fewest steps a loop must have for its solve to be written from one step's pattern.
MIN_STEPS = 8
#: The fewest forward equations in which loops are looked for.
MIN_EQUATIONS = 256
#: Kinds of a pattern's argument: a constant, the same variable in every step, a forward value
#: one step earlier per step, a multiplier made one step's equations later per step, the same
#: multiplier in every step (made before the loop's steps, passed on unchanged: a sum's).
CONSTANT, SAME, FORWARD, LATER, FIXED = range(5)


class Sweep:
    """`Trace.sweep` of a `CompileTrace`: runs back-substitution (the `sweep` it is handed, called
    on spans of the equations) with the steps of the forward pass's loops written out."""

    __slots__ = ("trace", "written")

    def __init__(self, trace: Any) -> None:
        self.trace = trace
        self.written = 0  # steps whose solve was written from a pattern (`cache_info()`'s "steps written")

    def __call__(self, program: Program, tape: Tape, seeds: dict[int, Any], sweep: Callable[..., Any]) -> list[Any]:
        trace = self.trace
        if program.has_complex or trace.dispatch or trace.record_source or trace.nested:
            return sweep(program, tape, seeds, False, False, False, None)
        start = trace.n_vars  # the recording's variables from here on are multipliers
        lam = None
        hi = len(program.equations)
        for s, p, c in reversed(_loops(program)):
            end = s + p * c
            # the last two steps as usual (the last reads what follows the loop, the one before it the last)
            lam = sweep(program, tape, seeds, False, False, False, None, lam=lam, span=(end - 2 * p, hi))
            marks, guards = [len(trace.equations)], len(trace.guards)
            for j in (c - 3, c - 4):  # the pattern: two more, the second to be repeated
                if j == c - 4:
                    before = list(lam)  # the multipliers step c - 3 left
                lam = sweep(program, tape, seeds, False, False, False, None, lam=lam, span=(s + j * p, s + (j + 1) * p))
                marks.append(len(trace.equations))
            hi = s + (c - 4) * p
            plain = len(trace.guards) == guards and not (trace.nested or trace.pending)  # no branch on a value
            if plain and _write(trace, program, tape, start, s, p, c - 4, marks, before, lam):
                hi = s + p  # the first step is swept as usual: it reads the loop's initial values
                self.written += c - 5
        return sweep(program, tape, seeds, False, False, False, None, lam=lam, span=(0, hi))


def _loops(program: Program) -> list[tuple[int, int, int]]:
    """(first equation, equations a step, steps) of each loop of `program`'s equations whose
    solve may be written from a pattern: long enough, reading only its own steps, constants and
    values made before it, and whose steps but the last nothing after it reads."""
    if len(program.equations) < MIN_EQUATIONS:  # looking costs ~1 µs an equation; a short loop saves less
        return []
    pieces, _ = _plan(Straight(program, prune=False))
    n_in = program.n_inputs
    found = []
    for piece in pieces:
        if type(piece) is not Loop or piece.count < MIN_STEPS:
            continue
        if any(source[0] == "list" for sources in piece.sources for source in sources):
            continue
        s, p, c = piece.start, piece.period, piece.count
        early = range(n_in + s, n_in + s + (c - 1) * p)  # the variables of every step but the last
        if any(type(o) is int and o in early for o in program.outputs):
            continue
        if any(a in early for eq in program.equations[s + c * p :] for a in eq.args):
            continue
        found.append((s, p, c))
    return found


def _write(trace: Any, program: Program, tape: Tape, start: int, s: int, p: int, t: int, marks: list[int],
           before: list[Any], lam: list[Any]) -> bool:  # fmt: skip
    """Write the solve of steps t - 1 … 1 of the loop of `p` equations from equation `s` from the
    pattern of steps t + 1 and t (recorded between `marks`; `before` the multipliers step t + 1
    left, `lam` those step t left), and update `lam` to what the sweep would have left; False
    (nothing written, `lam` as it was) where there is no pattern."""
    equations = trace.equations
    before_t, at_t = equations[marks[0] : marks[1]], equations[marks[1] : marks[2]]  # steps t + 1, t
    size = len(at_t)  # equations (and so variables) a step's solve makes
    steps = t - 1
    if not size or len(before_t) != size or steps < 1 or trace.n_vars != at_t[-1].out + 1:
        return False
    first_var = at_t[0].out
    after = lam
    made_before = {v.index: v.value for v in after if type(v) is Var and start <= v.index < first_var - size}
    # where each forward value step t's rules read sits in that step's run: (equation, position)
    runs = tape.values[s + t * p : s + (t + 1) * p]
    held: dict[int, tuple[int, int]] = {}
    for r, values in enumerate(runs):
        if type(values) is not list:
            return False
        for q, v in enumerate(values):
            if type(v) is Var:
                if v._trace is not trace or type(v.value) is Var:
                    return False
                held.setdefault(v.index, (r, q))
    pattern = []
    for e2, e3 in zip(before_t, at_t):
        if (e2.primitive is not e3.primitive or e2.shape != e3.shape or e2.dtype != e3.dtype or e2.diff != e3.diff
                or e2.kept != e3.kept or e3.source is not None or not isinstance(e3.dtype, np.dtype)
                or e3.out - e2.out != size or len(e2.args) != len(e3.args)
                or e2.params.keys() != e3.params.keys() or not _same_value(tuple(e2.params.values()),
                                                                           tuple(e3.params.values()))
                or not _same_value(e2.constants, e3.constants)):  # fmt: skip
            return False
        refs = []
        for a2, a3 in zip(e2.args, e3.args):
            if a3 < 0 or a2 < 0:
                if a2 != a3:
                    return False
                refs.append((CONSTANT, e3.constants[len(refs)]))
            elif a3 >= start:  # a multiplier: made in this step or the one before, `size` later each step
                if a2 == a3 and a3 in made_before:
                    refs.append((FIXED, (a3, made_before[a3])))
                    continue
                if a2 < start or a3 - a2 != size or a3 < first_var - size:
                    return False
                refs.append((LATER, a3))
            elif a3 not in held:
                return False
            elif a2 == a3:
                refs.append((SAME, (a3, *held[a3])))
            elif a2 - a3 == p:
                refs.append((FORWARD, (a3, *held[a3])))
            else:
                return False
        pattern.append((e3.primitive, e3.primitive.kernel, e3.params, e3.out, refs, e3.diff, e3.shape, e3.dtype,
                        e3.constants, e3.kept))  # fmt: skip
    carried = _carried(program, s, p, t, before, after, size, first_var)
    if carried is None:
        return False
    # the values of step t's variables that the next step reads (its multipliers left in `lam`), by
    # position in the step; None for the others, which no written step may read
    known: list[Any] = [None] * size
    for v in after:
        if type(v) is Var and first_var <= v.index < first_var + size:
            known[v.index - first_var] = v.value
    mark, n_vars = len(equations), trace.n_vars
    try:
        made = _written(trace, pattern, runs_of=tape.values, s=s, p=p, t=t, size=size, known=known,
                        first_var=first_var)  # fmt: skip
    except Exception:  # _NoPattern, or a kernel's error: the steps are swept as usual (which says what failed)
        del equations[mark:]
        trace.n_vars = n_vars
        return False
    # the multipliers left for step 0: step t's, `steps` steps on
    last = first_var + steps * size  # the first variable the last written step made
    for i, _, _ in carried:
        lam[i] = None
    for i, moved, var in carried:
        if type(var) is not Var or var.index < first_var:  # passed on unchanged since before the loop's steps
            lam[i - steps * p if moved else i] = var
            continue
        index = var.index + steps * size
        lam[i - steps * p if moved else i] = Var(made[index - last], index, trace, var.inexact)
    return True


class _NoPattern(Exception):
    """A written step met what its pattern does not say: the step is swept as usual instead."""


def _written(trace: Any, pattern: list[Any], runs_of: list[Any], s: int, p: int, t: int, size: int,
             known: list[Any], first_var: int) -> list[Any]:  # fmt: skip
    """Append the equations of steps t - 1 … 1; the values of the last step's variables."""
    equations = trace.equations
    previous_first, previous = first_var, known
    made: list[Any] = []
    for k in range(1, t):
        j = t - k  # the step written
        runs = runs_of[s + j * p : s + (j + 1) * p]
        base = first_var + k * size  # the first variable this step makes
        made = []
        for prim, kernel, params, out, refs, diff, shape, dtype, constants, kept in pattern:
            xs, args = [], []
            for kind, ref in refs:
                if kind == CONSTANT:
                    xs.append(ref)
                    args.append(-1)
                elif kind == FIXED:
                    xs.append(ref[1])
                    args.append(ref[0])
                elif kind == LATER:
                    index = ref + k * size
                    x = made[index - base] if index >= base else previous[index - previous_first]
                    if x is None:  # a variable of step t the sweep left no multiplier for
                        raise _NoPattern
                    xs.append(x)
                    args.append(index)
                else:  # a forward value, read off this step's run: the same variable, or one step earlier each step
                    index, r, q = ref
                    var = runs[r][q]
                    if type(var) is not Var or var.index != (index if kind == SAME else index - k * p):
                        raise _NoPattern
                    xs.append(var.value)
                    args.append(var.index)
            ans = kernel(*xs, **params)
            if not hasattr(ans, "shape"):
                ans = np.asarray(ans)
            if ans.shape != shape or ans.dtype != dtype:
                raise _NoPattern
            equations.append(
                new_equation(prim, out + k * size, tuple(args), params, diff, shape, dtype, constants, kept)
            )
            made.append(ans)
        trace.n_vars = base + size
        previous_first, previous = base, made
    return made


def _carried(program: Program, s: int, p: int, t: int, before: list[Any], after: list[Any], size: int,
             first_var: int) -> list[tuple[int, bool, Any]] | None:  # fmt: skip
    """The multipliers steps t + 1 and t changed, each in the same pattern: (index, whether it is
    a variable of the loop, moved a step back each step, step t's value); None where the pattern
    does not hold."""
    n_in = program.n_inputs
    lo, hi = n_in + s, n_in + s + (t + 4) * p  # the loop's variables (its t + 4 steps)
    following = range(n_in + s + (t - 1) * p, n_in + s + t * p)  # the variables of step t - 1
    changed = []
    for i, (a, b) in enumerate(zip(before, after)):
        if a is b:
            continue
        if lo <= i < hi:  # a variable of the loop: only step t - 1's hold multipliers after step t
            if i in following:
                # passed on unchanged (a sum's multiplier), made before the loop's steps: a Var or a constant
                passed_on = b is before[i + p] and (type(b) is not Var or b.index < first_var - size)
                if before[i] is not None or not (passed_on or _shifted(before[i + p], b, size, first_var)):
                    return None
                changed.append((i, True, b))
            elif b is not None or (a is not None and (i - p not in following or after[i - p] is None)):
                return None
        elif not _shifted(a, b, size, first_var):
            return None
        else:
            changed.append((i, False, b))
    for i in following:  # a multiplier of step t - 1 that step t left unchanged would not move
        if after[i] is not None and before[i] is after[i]:
            return None
    return changed


def _shifted(a: Any, b: Any, size: int, first_var: int) -> bool:
    """Whether `b` is the multiplier `a` is, one step on: made `size` equations later, in the
    equations of step t."""
    return (
        type(a) is Var
        and type(b) is Var
        and b.index - a.index == size
        and first_var <= b.index < first_var + size
        and a.inexact == b.inexact
    )


def _same_value(a: Any, b: Any) -> bool:
    """Whether two constants or parameters of the two steps' equations are the same value: a
    rule makes some anew each step (the negated ones of a sum's multiplier), equal each time,
    as the multipliers they come from are passed on unchanged (`_carried` checks)."""
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, (np.ndarray, np.generic)):
        try:
            return (
                a.dtype == b.dtype
                and a.shape == b.shape
                and bool(np.array_equal(a, b, equal_nan=True))
                and bool(np.array_equal(np.signbit(a), np.signbit(b)))
            )
        except TypeError:  # no sign (complex, objects): not compared
            return False
    if type(a) in (tuple, list):
        return len(a) == len(b) and all(map(_same_value, a, b))
    if type(a) is slice:
        return a == b
    return bool(_key(a) == _key(b))
