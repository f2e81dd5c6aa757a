"""Repeated segments of a Program's statements written as Python loops: a traced loop's steps as one
`for` body over its iterations, so that the source `lagrad.compile` writes first for a long
unrolled Program is short and Python's `compile()` of it cheap.

A traced Python loop records the same equations per iteration, each reading the variables of
its own iteration, of the one before (the carried state), of no iteration (an input, a value
computed before the loop) or of another loop's iterations at a fixed stride (the
back-substitution reading the forward pass's values, in reverse). `rolled` finds runs of
such iterations among the statements (the same primitives, parameters, constants, shapes,
dtypes and branch outcomes; each argument at a fixed stride from one iteration to the next)
and writes each run as one loop; the statements between runs are written one by one. A value
a loop makes that is read outside it is kept in a list, one entry per iteration. The loops
run the same statements in the same order on the same values as the straight-line code
without rewritings does, so the results are the same bits.
"""

from __future__ import annotations

import bisect
import itertools
import math
from typing import Any

import numpy as np

from .codegen import Emitter, Source, Straight, _direct, _key
from .core.program import Constant

#: The fewest iterations a run must have, and the fewest statements it must cover, to be rolled.
MIN_ITERATIONS = 4
MIN_STATEMENTS = 32
#: A constant argument's position (any number no statement or input has).
CONSTANT = 2**62


class Loop:
    """A run of `count` iterations of `period` statements from statement `start`: per body
    statement and argument, where its value comes from (`sources`), the carried slots' values
    before the first iteration (`init`), and the slots read outside the loop (`stored`)."""

    __slots__ = ("number", "start", "period", "count", "sources", "init", "stored")

    def __init__(self, number: int, start: int, period: int, count: int) -> None:
        self.number, self.start, self.period, self.count = number, start, period, count
        self.sources: list[list[Any]] = []
        self.init: dict[int, int] = {}
        self.stored: set[int] = set()

    @property
    def end(self) -> int:
        return self.start + self.period * self.count


def _constant_key(value: Any) -> Any:
    """`codegen._key` of a constant, a float's without its repr: the value and its sign (0.0 is
    not -0.0; a NaN equals only itself, the same object)."""
    kind = type(value)
    if kind is float:
        return (float, value, math.copysign(1.0, value))
    return _key(value)


def _signatures(straight: Straight) -> list[int]:
    """Per statement, a number standing for what must be the same for two statements to be one
    body statement (everything but which variables it reads)."""
    guards = straight.guards
    params_keys: dict[int, Any] = {}
    table: dict[Any, int] = {}
    out: list[int] = []
    append, number = out.append, table.setdefault
    for eq, args in straight.statements:
        params = eq.params
        pk = params_keys.get(id(params)) if params else ()
        if pk is None:  # (the Program holds every params dict, so an id is not reused meanwhile)
            pk = params_keys[id(params)] = tuple([(k, _key(v)) for k, v in params.items()])
        # the constants (which also say how many arguments), or the number of arguments
        if -1 in args:
            constants = eq.constants
            arity: Any = tuple([_constant_key(constants[p]) if a < 0 else None for p, a in enumerate(args)])
        else:
            arity = len(args)
        key = (eq.primitive, pk, arity, eq.shape, eq.dtype)
        if eq.out in guards:
            key = (key, _key(guards[eq.out][1]))
        append(number(key, len(table)))
    return out


def plan(straight: Straight) -> list[int | Loop]:
    """The statements as written: an index for a statement written alone, a `Loop` for a run."""
    return _plan(straight)[0]


def _plan(straight: Straight) -> tuple[list[int | Loop], Any]:
    """`plan`'s pieces, and per variable the index of the statement defining it (an array)."""
    statements = straight.statements
    program = straight.program
    n = len(statements)
    # each argument's position, flat: the index of the statement defining it, -1 - i for input
    # i, CONSTANT for a constant (the same in every iteration: the signature compares constants)
    arguments = [args for _, args in statements]
    flat = np.fromiter(itertools.chain.from_iterable(arguments), np.int64)
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(np.fromiter(map(len, arguments), np.int64, n), out=offsets[1:])
    position = np.full(program.n_vars + 1, CONSTANT, np.int64)  # [-1]: a constant
    position[: program.n_inputs] = -1 - np.arange(program.n_inputs)
    if n == len(program.equations):  # every equation a statement: equation k defines variable n_inputs + k
        position[program.n_inputs : program.n_vars] = np.arange(n)
    else:
        position[np.fromiter((eq.out for eq, _ in statements), np.int64, n)] = np.arange(n)
    flat = position[flat]
    ids = _signatures(straight)
    numbers = np.array(ids, np.int64)
    # the next statement of the same signature, -1 where none
    order = np.argsort(numbers, kind="stable")
    after = np.full(n, -1, np.int64)
    if n > 1:
        same = numbers[order[:-1]] == numbers[order[1:]]
        after[order[:-1][same]] = order[1:][same]
    following = after.tolist()
    pieces: list[int | Loop] = []
    loops: list[Loop] = []
    starts: list[int] = []

    def count_at(s: int, p: int) -> int:
        """How many iterations of p statements from s have the first's signatures and, from the
        second on, each argument at the same stride from the iteration before (at least 3
        checked here, or 0)."""
        most = (n - s) // p
        if (
            most < MIN_ITERATIONS
            or ids[s : s + p] != ids[s + p : s + 2 * p]
            or ids[s : s + p] != ids[s + 2 * p : s + 3 * p]
        ):
            return 0
        m = int(offsets[s + p] - offsets[s])
        base = int(offsets[s])
        most = min(most, (len(flat) - base) // m if m else most)
        checked, window = 0, 16
        body = numbers[s : s + p]
        while checked < most:
            rows = min(most, checked + window)
            same = (numbers[s : s + rows * p].reshape(rows, p) == body).all(axis=1)
            if m:
                steps = np.diff(flat[base : base + rows * m].reshape(rows, m), axis=0)
                same[2:] &= (steps[1:] == steps[1]).all(axis=1)
            bad = np.flatnonzero(~same)
            if len(bad):
                return int(bad[0])
            checked, window = rows, 4 * window
        return most

    def loop_at(s: int) -> Loop | None:
        t = following[s]
        if t < 0:
            return None
        p = t - s
        count = count_at(s, p)
        if count < MIN_ITERATIONS or count * p < MIN_STATEMENTS:
            return None
        loop = Loop(len(loops), s, p, count)
        for r in range(p):
            sources: list[Any] = []
            args = arguments[s + r]
            at0, at1, at2 = (int(offsets[s + k * p + r]) for k in range(3))
            for q, a in enumerate(args):
                if a < 0:
                    sources.append(("constant",))
                    continue
                first, second = int(flat[at0 + q]), int(flat[at1 + q])
                stride = int(flat[at2 + q]) - second
                if stride == p and second >= s:  # read from this loop (else from an earlier one, below)
                    rel = second - t
                    if 0 <= rel < r:  # this iteration's
                        if first != s + rel:
                            return None
                        sources.append(("body", rel))
                        continue
                    if not -p <= rel < 0 or rel + p < r:  # older than the iteration before, or overwritten
                        return None
                    slot = rel + p  # the iteration before's (carried); the first reads args[q]
                    if first >= s or loop.init.setdefault(slot, a) != a:
                        return None
                    eq = statements[s + slot][0]
                    if program.shape(a) != eq.shape or program.dtype(a) != eq.dtype:
                        return None
                    sources.append(("body", slot))
                    continue
                if second - first != stride:
                    return None
                if stride == 0:  # the same variable in every iteration: made before the loop
                    if first >= s:
                        return None
                    sources.append(("outer", a))
                    continue
                found = _in_loop(loops, starts, first, stride, count)
                if found is None:
                    return None
                sources.append(found)
            loop.sources.append(sources)
        return loop

    s = 0
    while s < n:
        loop = loop_at(s)
        if loop is None:
            pieces.append(s)
            s += 1
            continue
        for sources in loop.sources:
            for source in sources:
                if source[0] == "list":
                    source[1].stored.add(source[2])
        loops.append(loop)
        starts.append(loop.start)
        pieces.append(loop)
        s = loop.end
    return pieces, position


def _in_loop(loops: list[Loop], starts: list[int], first: int, stride: int, count: int) -> tuple[Any, ...] | None:
    """("list", loop, slot, first iteration, step) where positions first, first + stride, … (count
    of them) are one slot of an earlier loop's iterations at a fixed step; None otherwise."""
    i = bisect.bisect_right(starts, first) - 1
    if i < 0:
        return None
    loop = loops[i]
    if not loop.start <= first < loop.end or stride % loop.period:
        return None
    k0, slot = divmod(first - loop.start, loop.period)
    step = stride // loop.period
    if not 0 <= k0 + (count - 1) * step < loop.count:
        return None
    return ("list", loop, slot, k0, step)


def rolled(straight: Straight, name: str = "compiled") -> Source | None:
    """The source of ``def name(z1, …, zm)`` for a Program's statements (a `Straight`) with its repeated segments
    as loops, one plain statement per equation (no rewritings, no buffers reused: `emit` writes
    those); None where loops would cover fewer than half of the statements."""
    pieces, position = _plan(straight)
    loops = [p for p in pieces if isinstance(p, Loop)]
    if 2 * sum(p.period * p.count for p in loops) < len(straight.statements):
        return None
    program, statements, guards = straight.program, straight.statements, straight.guards
    emitter = Emitter()
    n_inputs = program.n_inputs
    starts = [loop.start for loop in loops]

    def outer(v: int) -> str:
        """The name of variable v where it is read outside the loop that made it (a looped
        variable's slot is then kept in a list)."""
        if v < n_inputs:
            return f"z{v + 1}"
        at = int(position[v])  # the statement defining v; the loop it is in, if any
        i = bisect.bisect_right(starts, at) - 1
        if i < 0 or at >= loops[i].end:
            return f"v{v}"
        loop = loops[i]
        k, r = divmod(at - loop.start, loop.period)
        if k == loop.count - 1:  # the last iteration's: its local holds it after the loop
            return f"b{loop.number}_{r}"
        loop.stored.add(r)
        return f"keep{loop.number}_{r}[{k}]"

    # the names every read outside a loop takes, first: they say which slots are kept
    for piece in pieces:
        if isinstance(piece, Loop):
            for v in piece.init.values():
                outer(v)
            for sources in piece.sources:
                for source in sources:
                    if source[0] == "outer":
                        outer(source[1])
        else:
            for a in statements[piece][1]:
                if a >= 0:
                    outer(a)
    outs = []
    returned: set[int] = set()
    for o in straight.outputs:
        if isinstance(o, Constant):
            outs.append(emitter.returned_constant(o.value))
            continue
        text = outer(o)
        outs.append(f"{text}.copy()" if o in returned and program.shape(o) else text)
        returned.add(o)

    lines = [f"def {name}({', '.join(f'z{i + 1}' for i in range(n_inputs))}):"]
    lines.extend("    " + emitter.guard(f"z{i + 1}", *guards[i]) for i in range(n_inputs) if i in guards)
    for piece in pieces:
        if not isinstance(piece, Loop):
            eq, args = statements[piece]
            names = [outer(a) if a >= 0 else emitter.bind(eq.constants[p], "c") for p, a in enumerate(args)]
            target = f"v{eq.out}"
            lines.append(f"    {target} = {_direct(program, eq, args, names, emitter) or emitter.call(eq, names)}")
            if eq.out in guards:
                lines.append("    " + emitter.guard(target, *guards[eq.out]))
            continue
        loop, number = piece, piece.number
        lines.extend(f"    keep{number}_{r} = [None] * {loop.count}" for r in sorted(loop.stored))
        lines.extend(f"    b{number}_{slot} = {outer(v)}" for slot, v in sorted(loop.init.items()))
        lines.append(f"    for i in range({loop.count}):")
        for r in range(loop.period):
            eq, args = statements[loop.start + r]
            names = []
            for p, source in enumerate(loop.sources[r]):
                kind = source[0]
                if kind == "constant":
                    names.append(emitter.bind(eq.constants[p], "c"))
                elif kind == "body":
                    names.append(f"b{number}_{source[1]}")
                elif kind == "outer":
                    names.append(outer(source[1]))
                else:
                    _, other, slot, k0, step = source
                    index = f"{k0} - i" if step == -1 else f"{k0} + i * {step}" if k0 else f"i * {step}"
                    names.append(f"keep{other.number}_{slot}[{index}]")
            target = f"b{number}_{r}"
            lines.append(f"        {target} = {_direct(program, eq, args, names, emitter) or emitter.call(eq, names)}")
            if eq.out in guards:  # the same outcome in every iteration (part of the signature)
                indices = [guards[statements[loop.start + k * loop.period + r][0].out][0] for k in range(loop.count)]
                flipped = f"flipped{number}_{r}"  # bound by name: as a literal, compile() reads every index
                emitter.namespace[flipped] = indices
                lines.append("        " + emitter.guard(target, f"{flipped}[i]", guards[eq.out][1]))  # type: ignore[arg-type]
            if r in loop.stored:
                lines.append(f"        keep{number}_{r}[i] = {target}")
    lines.append(f"    return ({', '.join(outs)}{',' if len(outs) == 1 else ''})")
    return Source("\n".join(lines) + "\n", emitter.namespace, len(statements))
