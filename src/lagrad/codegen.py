"""A Program as Python source: one statement per equation, locals for variables, constants bound once.

`Straight` simplifies a Program's equations for straight-line code (an equation equal to an
earlier one, or a product with ones, becomes a name for that variable; equations that reach
no output and no branch are dropped) and `emit` writes them as the body of a function,
each equation spelled with its primitive's kernel (Python's operator for arithmetic, the
NumPy ufunc, or the kernel bound as a constant), with the recorded branches checked.
`interpreter` runs the same statements from a list of (kernel, argument slots, result slot)
without writing source, for the calls before `lagrad.compile` has compiled it (Python's
`compile()` of a long function costs more than tracing it); `lagrad.derive` prints the source.
"""

from __future__ import annotations

import functools
import itertools
import math
import operator as op
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import numpy as np

from .core.program import Constant, Equation, Parts, Program, is_parts_shape, new_equation, size_of
from .numpy._register import ArrayPrimitive

#: Kernels spelled as Python's operators (bit for bit what the kernel computes).
INFIX = {op.add: "+", op.sub: "-", op.mul: "*", op.truediv: "/", op.pow: "**", op.matmul: "@",
         op.mod: "%", op.floordiv: "//", op.lt: "<", op.le: "<=", op.gt: ">", op.ge: ">=",
         op.eq: "==", op.ne: "!="}  # fmt: skip
PREFIX = {op.neg: "-", op.pos: "+"}


class BranchFlipped(Exception):
    """Raised by generated code when a recorded branch goes the other way on new inputs."""

    def __init__(self, index: int) -> None:
        super().__init__(index)
        self.index = index


def _literal(value: Any) -> str | None:
    """Python source for a small static value, or None where it must be bound as a constant."""
    if value is None or (isinstance(value, (bool, int, str)) and type(value) in (bool, int, str)):
        return repr(value)
    if type(value) is float and np.isfinite(value):
        return repr(value)
    if type(value) in (tuple, list):
        parts = [_literal(v) for v in value]
        if any(p is None for p in parts):
            return None
        if type(value) is tuple:
            return f"({parts[0]},)" if len(parts) == 1 else f"({', '.join(parts)})"
        return f"[{', '.join(parts)}]"
    if isinstance(value, np.dtype):
        return f"np.dtype({value.str!r})"
    return None


def _key(value: Any) -> Any:
    """A hashable key for a constant or parameter that equals another's only if they are the same
    value (Python scalars and tuples of them by value, floats by their repr so that 0.0 is not
    -0.0, everything else by identity)."""
    kind = type(value)
    if kind is int or kind is bool or kind is str or value is None:
        return value if kind is not bool else ("bool", value)
    if kind is float:
        return ("float", repr(value))
    if kind is tuple or kind is list:
        return (kind, *map(_key, value))
    return ("id", id(value))


#: The simplifications `Straight` makes, each of which may be switched off alone (`prune=`).
PASSES = frozenset({"repeated", "ones", "dead"})


def passes(prune: bool | Collection[str]) -> frozenset[str]:
    """The simplifications `prune` asks for: all (True), none (False) or those named."""
    if prune is True or prune is False:
        return PASSES if prune else frozenset()
    chosen = frozenset(prune)
    if not chosen <= PASSES:
        raise ValueError(
            f"lagrad.compile: prune names {sorted(chosen - PASSES)}; the simplifications are "
            f"{sorted(PASSES)} (or True for all, False for none)"
        )
    return chosen


class Straight:
    """A Program's equations simplified for straight-line code: `statements` (the equations
    kept, in order), `alias` (variable -> the earlier variable it equals), `outputs` and
    `guards` in the kept variables' terms. `prune` chooses the simplifications: "repeated"
    (an equation equal to an earlier one is a name for it, so no elementwise chain is computed
    twice), "ones" (``x * 1``, ``x ** 1`` and ``(-x) * c`` folded; with `layouts`, only where a
    run laid out x and the product alike: ``x.T * ones`` is C-ordered, ``x.T`` is not), "dead"
    (equations that reach no output and no branch dropped); True for all."""

    def __init__(
        self, program: Program, *, prune: bool | Collection[str] = True, layouts: Mapping[int, Any] | None = None
    ) -> None:
        chosen = passes(prune)
        repeated, ones, dead = "repeated" in chosen, "ones" in chosen, "dead" in chosen
        self.program = program
        alias: dict[int, int] = {}
        seen: dict[Any, int] = {}
        kept: list[tuple[Equation, tuple[int, ...]]] = []
        negated: dict[int, int] = {}  # variable -> the variable it is the negative of
        special = _SPECIAL  # primitives whose equations may fold or equal a variable
        if not (repeated or ones):  # nothing renamed: every equation as recorded
            kept = [(eq, eq.args) for eq in program.equations]
        for eq in program.equations if repeated or ones else ():
            args = eq.args
            if not alias.keys().isdisjoint(args):
                args = tuple([alias.get(a, a) for a in args])
            if ones:
                name = eq.primitive.name
                if name in special:
                    if name == "negative":
                        if len(args) == 1 and args[0] >= 0:
                            negated[eq.out] = args[0]
                    else:
                        eq, args = _fold_negation(eq, args, negated)
                        same = _product_with_ones(program, eq, args)
                        if same is None:
                            same = _power_one(program, eq, args)
                        if same is not None and _alike(layouts, same, eq.out):
                            alias[eq.out] = same
                            continue
            if repeated:
                constants = eq.constants
                if not constants_plain(constants):  # floats by repr, arrays by identity
                    constants = tuple(map(_key, constants))
                params = eq.params
                params = tuple([(k, _key(v)) for k, v in params.items()]) if params else ()
                key = (eq.primitive, args, constants, params)
                found = seen.get(key)
                if found is not None:
                    alias[eq.out] = found
                    continue
                seen[key] = eq.out
            kept.append((eq, args))
        self.alias = alias
        self.outputs = [o if isinstance(o, Constant) else alias.get(o, o) for o in program.outputs]
        self.guards = {alias.get(i, i): (i, v) for i, v in program.guards.items()}
        if dead:  # drop what reaches no output and no branch
            needed = {o for o in self.outputs if not isinstance(o, Constant)} | set(self.guards)
            live = []
            add = needed.update  # -1 (a constant) among the arguments is no variable: harmless
            for statement in reversed(kept):
                if statement[0].out in needed:
                    live.append(statement)
                    add(statement[1])
            kept = live[::-1]
        self.statements = kept


_SPECIAL = frozenset({"negative", "multiply", "power"})
_PLAIN = frozenset({type(None), int, str})


def constants_plain(constants: tuple[Any, ...]) -> bool:
    """Whether every constant is its own key (None, int, str: equal only when the same value)."""
    return _PLAIN.issuperset(map(type, constants))


def _product_with_ones(program: Program, eq: Equation, args: tuple[int, ...]) -> int | None:
    """The variable `eq` equals when it multiplies it by a constant of ones that changes
    neither its shape nor its dtype (the broadcast seed of a sum's multiplier): ``1.0 * x`` is
    ``x`` bit for bit. None otherwise."""
    if eq.primitive.name != "multiply" or len(args) != 2 or is_parts_shape(eq.shape):
        return None
    for pos in (0, 1):
        other = args[1 - pos]
        if args[pos] >= 0 or other < 0:
            continue
        c = eq.constants[pos]
        kind = type(c)
        if kind is int or kind is float:
            ones = c == 1
        elif kind is np.ndarray or isinstance(c, np.generic):
            ones = c.dtype.kind in "iuf" and c.size <= size_of(eq.shape) and bool(np.all(c == 1))
        else:
            continue
        if ones and program.shape(other) == eq.shape and program.dtype(other) == eq.dtype:
            return other
    return None


def _power_one(program: Program, eq: Equation, args: tuple[int, ...]) -> int | None:
    """``x ** 1`` (from the rule of ``x ** 2``) is x bit for bit: the variable, or None."""
    if eq.primitive.name != "power" or len(args) != 2 or args[0] < 0 or args[1] >= 0:
        return None
    c = eq.constants[1]
    if type(c) in (int, float) and c == 1 and program.shape(args[0]) == eq.shape and program.dtype(args[0]) == eq.dtype:
        return args[0]
    return None


def _fold_negation(eq: Equation, args: tuple[int, ...], negated: dict[int, int]) -> tuple[Equation, tuple[int, ...]]:
    """``(-x) * c`` as ``x * (-c)`` for a Python number c (the rules of subtraction and of a
    product by a constant meet so in every difference stencil): the same bits, one operation
    fewer once the negative has no other use."""
    if eq.primitive.name != "multiply" or len(args) != 2:
        return eq, args
    for pos in (0, 1):
        v, c = args[pos], eq.constants[1 - pos]
        if v in negated and args[1 - pos] < 0 and type(c) in (int, float):
            new_args = list(args)
            new_args[pos] = negated[v]
            constants = list(eq.constants)
            constants[1 - pos] = -c
            folded = new_equation(eq.primitive, eq.out, tuple(new_args), eq.params, eq.diff, eq.shape, eq.dtype,
                                  tuple(constants), eq.kept, eq.source)  # fmt: skip
            return folded, tuple(new_args)
    return eq, args


class Source:
    """Source text of a function of the program's inputs, and the namespace it runs in."""

    def __init__(self, text: str, namespace: dict[str, Any], statements: int) -> None:
        self.text = text
        self.namespace = namespace
        self.statements = statements

    def function(self, name: str = "compiled") -> Any:
        scope = dict(self.namespace)
        exec(compile(self.text, f"<lagrad.compile {name}>", "exec"), scope)
        return scope[name]


class Emitter:
    """Writes statements, binding every value that has no literal spelling once, by name."""

    def __init__(self) -> None:
        self.namespace: dict[str, Any] = {"np": np, "BranchFlipped": BranchFlipped, "Parts": Parts,
                                          "same": _same, "as_array": _as_array}  # fmt: skip
        self._bound: dict[int, str] = {}

    def bind(self, value: Any, hint: str) -> str:
        text = _literal(value)
        if text is not None:
            return text
        name = self._bound.get(id(value))
        if name is None:
            base = "".join(ch if ch.isalnum() else "_" for ch in hint) or "c"
            name = f"{base}_{len(self._bound)}"
            self._bound[id(value)] = name
            self.namespace[name] = value
        return name

    def returned_constant(self, value: Any) -> str:
        """A returned constant: a copy of an array, so that a caller writing into it changes no
        later call's answer."""
        c = self.bind(value, "constant")
        return f"{c}.copy()" if isinstance(value, np.ndarray) else c

    def call(self, eq: Equation, args: list[str], out: str | None = None) -> str:
        """The right-hand side of `eq` on the argument expressions `args`; with `out`, written
        into that buffer (an elementwise ufunc only)."""
        prim, kernel = eq.primitive, eq.primitive.kernel
        params = ", ".join(f"{k}={self.bind(v, k)}" for k, v in eq.params.items())
        if out is not None:
            return f"{self.ufunc(prim.impl)}({', '.join(args)}, out={out})"
        if not eq.params and kernel in INFIX and len(args) == 2:
            return f"{args[0]} {INFIX[kernel]} {args[1]}"
        if not eq.params and kernel in PREFIX and len(args) == 1:
            return f"{PREFIX[kernel]}{args[0]}"
        if isinstance(kernel, np.ufunc):
            text = f"{self.ufunc(kernel)}({', '.join(args + ([params] if params else []))})"
        else:
            fun = self.bind(kernel, prim.name)
            text = f"{fun}({', '.join(args + ([params] if params else []))})"
            if is_parts_shape(eq.shape):
                text = f"Parts({text})"
            elif not isinstance(prim, ArrayPrimitive):
                text = f"as_array({text})"  # a user's kernel may return a Python number
        return text

    def ufunc(self, ufunc: np.ufunc) -> str:
        """`np.tanh` for NumPy's ufuncs, a bound name for others (SciPy's)."""
        if getattr(np, ufunc.__name__, None) is ufunc:
            return f"np.{ufunc.__name__}"
        return self.bind(ufunc, ufunc.__name__)

    def guard(self, name: str, index: int, recorded: Any) -> str:
        """A statement raising BranchFlipped(index) where variable `name` no longer takes the
        recorded branch (as `Program._check_guard` compares)."""
        if type(recorded) is bool:
            return f"if {'not ' if recorded else ''}{name}: raise BranchFlipped({index})"
        if isinstance(recorded, np.ndarray):
            return f"if not same({name}, {self.bind(recorded, 'branch')}): raise BranchFlipped({index})"
        kind = self.bind(type(recorded), type(recorded).__name__)
        return f"if {kind}({name}) != {self.bind(recorded, 'branch')}: raise BranchFlipped({index})"


def _same(now: Any, recorded: np.ndarray) -> bool:
    return np.array_equal(np.asarray(now), recorded)


def _as_array(ans: Any) -> Any:
    if hasattr(ans, "shape"):
        return ans
    return Parts(ans) if isinstance(ans, tuple) else np.asarray(ans)


def _elementwise_ufunc(eq: Equation) -> bool:
    prim = eq.primitive
    return prim.elementwise and isinstance(prim.impl, np.ufunc) and prim.impl.nout == 1 and not eq.params


def _direct(program: Program, eq: Equation, args: tuple[int, ...], names: list[str], emitter: Emitter) -> str | None:
    """The NumPy operations a kernel performs, written out where its Python layer costs as much
    as the operation on small arrays: the same NumPy calls on the same values, so the same
    bits. A sum or max of a float array is ``add.reduce`` / ``maximum.reduce`` (what NumPy's
    sum and max call for an ndarray); a roll of a vector by a constant shift is two slices
    joined, as `lagrad.numpy.roll`'s kernel does; getitem, reshape, transpose, broadcast_to,
    concatenate, mean and astype call what their kernels call, without the kernel's layer."""
    name, params = eq.primitive.name, eq.params
    if name == "concatenate" and set(params) == {"axis"} and _literal(params["axis"]) is not None:
        return f"np.concatenate(({', '.join(names)},), {_literal(params['axis'])})"
    if len(args) != 1 or args[0] < 0:
        return None
    x = names[0]
    if name == "getitem" and set(params) == {"index"}:
        index = params["index"].fill(())
        return f"{x}[{_index_text(index) or emitter.bind(index, 'index')}]"
    if name in ("reshape", "broadcast_to") and set(params) == {"shape"} and _literal(params["shape"]) is not None:
        return f"np.{name}({x}, {_literal(params['shape'])})"
    if name == "transpose" and set(params) == {"axes"} and _literal(params["axes"]) is not None:
        return f"np.transpose({x}, {_literal(params['axes'])})"
    shape, dtype = program.shape(args[0]), program.dtype(args[0])
    if is_parts_shape(shape) or not shape:  # an array for sure (a 0-d value may be a NumPy scalar)
        return None
    if name == "astype" and set(params) == {"dtype"}:
        return f"{x}.astype({emitter.bind(params['dtype'], 'dtype')})"
    if np.dtype(dtype).kind not in "fc":
        return None
    if name in ("sum", "max", "min", "mean") and set(params) == {"axis", "keepdims"}:
        axis, keepdims = _literal(params["axis"]), _literal(params["keepdims"])
        if axis is not None and keepdims is not None:
            if name == "mean":
                return f"np.mean({x}, axis={axis}, keepdims={keepdims})"
            reduce = {"sum": "add", "max": "maximum", "min": "minimum"}[name]
            return f"np.{reduce}.reduce({x}, axis={axis}, keepdims={keepdims})"
    shift = params.get("shift")
    if name == "roll" and len(shape) == 1 and params.get("axis") in (None, 0) and type(shift) is int:
        n = shape[0]
        k = shift % n if n else 0
        if k:
            return f"np.concatenate(({x}[{n - k}:], {x}[:{n - k}]))"
    return None


def _index_text(index: Any) -> str | None:
    """A basic index (ints, slices, None, Ellipsis) as Python's subscript text, else None."""
    parts = index if isinstance(index, tuple) else (index,)
    out = []
    for p in parts:
        if isinstance(p, slice):
            if not all(v is None or type(v) is int for v in (p.start, p.stop, p.step)):
                return None
            bits = ["" if v is None else repr(v) for v in (p.start, p.stop, p.step)]
            out.append(":".join(bits[:2]) if p.step is None else ":".join(bits))
        elif p is None:
            out.append("None")
        elif p is Ellipsis:
            out.append("...")
        elif type(p) is int:
            out.append(repr(p))
        else:
            return None
    if not isinstance(index, tuple):
        return out[0]
    return "()" if not out else out[0] + "," if len(out) == 1 else ", ".join(out)


#: Ufuncs written as Python's augmented assignment when their result goes into their first
#: argument's buffer (``a += b`` is ``np.add(a, b, out=a)``, with less of the call's overhead).
IN_PLACE = {np.add: "+=", np.subtract: "-=", np.multiply: "*=", np.true_divide: "/=", np.power: "**="}
#: Of those, the ones whose operands may be swapped: ``b + a`` is ``a + b`` bit for bit in IEEE
#: arithmetic; ``b * a`` only for real results (NumPy's complex product fuses a multiply-add, so
#: its last bits depend on the order).
COMMUTATIVE = frozenset({np.add, np.multiply})


def _in_place(eq: Equation, names: list[str], target: str) -> str | None:
    """``target op= other`` for a binary ufunc written into the buffer of one operand, where an
    augmented assignment performs the same call; None otherwise."""
    ufunc = eq.primitive.impl
    if len(names) != 2 or ufunc not in IN_PLACE:
        return None
    if names[0] == target:
        return f"{target} {IN_PLACE[ufunc]} {names[1]}"
    if names[1] == target and ufunc in COMMUTATIVE and (ufunc is np.add or np.dtype(eq.dtype).kind != "c"):
        return f"{target} {IN_PLACE[ufunc]} {names[0]}"
    return None


def _roll_of(program: Program, eq: Equation, args: tuple[int, ...]) -> tuple[int, int] | None:
    """(n, k) where `eq` rolls a vector of n entries by a constant shift k mod n != 0 (so its
    result is ``concatenate((x[n-k:], x[:n-k]))``, which the generated code writes as two copies
    into a buffer); None otherwise."""
    if eq.primitive.name != "roll" or len(args) != 1 or args[0] < 0:
        return None
    params, shape = eq.params, program.shape(args[0])
    shift = params.get("shift")
    if set(params) != {"shift", "axis"} or params["axis"] not in (None, 0) or type(shift) is not int:
        return None
    if is_parts_shape(shape) or len(shape) != 1 or not shape[0] or eq.shape != shape:
        return None
    if program.dtype(args[0]) != eq.dtype:
        return None
    n = shape[0]
    k = shift % n
    return (n, k) if k else None


def _added_roll(straight: Straight, s: int, x: int, outputs: set[int], last_use: dict[int, int],
                owned: set[int]) -> int | None:  # fmt: skip
    """The variable whose buffer the roll made at statement s is added into at statement s + 1,
    where that addition is the roll's only use and may be written ``b[:k] += x[n-k:];
    b[k:] += x[:n-k]`` (b an intermediate dying there, of the sum's shape and dtype, not x):
    the same additions, without the rolled copy. None otherwise."""
    program = straight.program
    eq = straight.statements[s][0]
    r = eq.out
    if s + 1 >= len(straight.statements) or last_use.get(r) != s + 1 or r in outputs or r in straight.guards:
        return None
    nxt, args = straight.statements[s + 1]
    if not _elementwise_ufunc(nxt) or nxt.primitive.impl is not np.add or len(args) != 2 or args.count(r) != 1:
        return None
    b = args[1] if args[0] == r else args[0]
    if b < 0 or b == x or b not in owned or last_use.get(b) != s + 1 or b in outputs:
        return None
    if program.shape(b) != nxt.shape or nxt.shape != eq.shape or not (program.dtype(b) == nxt.dtype == eq.dtype):
        return None
    return b


def _itemwise(dtype: Any) -> bool:
    """Whether one entry of this dtype may be read and written as a NumPy scalar with the ufunc's
    bits: float32 and float64, whose scalar arithmetic is the same IEEE operation (integers' is
    not: it warns on overflow where the ufunc wraps)."""
    return isinstance(dtype, np.dtype) and dtype in (_F64, np.dtype(np.float32))


def _rolled(target: str, source: str, n: int, k: int, op: str, items: bool) -> list[str]:
    """The two statements writing (`op` "=") or adding ("+=") a roll of `source` by k (0 < k < n)
    into `target`: ``target[:k] op source[n-k:]`` and ``target[k:] op source[:n-k]``. With
    `items` (the rewriting "item"), a part of one entry is written as one entry, ``target[0] +=
    source[n-1]``: a subscript of one entry costs a fraction of a one-entry slice's view and
    ufunc call, the same IEEE operation on the same numbers."""
    head = f"{target}[0] {op} {source}[{n - 1}]" if items and k == 1 else f"{target}[:{k}] {op} {source}[{n - k}:]"
    tail = f"{target}[{k}] {op} {source}[0]" if items and n - k == 1 else f"{target}[{k}:] {op} {source}[:{n - k}]"
    return [f"    {head}", f"    {tail}"]


#: Python float operations that give float64's bits and never raise (division does, by zero).
PYTHON_FLOAT_OPS = frozenset({op.add, op.sub, op.mul, op.neg, op.pos})
COMPARISONS = frozenset({op.lt, op.le, op.gt, op.ge, op.eq, op.ne})
_F64 = np.dtype(np.float64)


def _is_f64(dtype: Any) -> bool:
    return isinstance(dtype, np.dtype) and dtype == _F64


def _float64_operands(program: Program, eq: Equation, args: tuple[int, ...]) -> bool:
    """Whether every operand is float64 or a Python number float64 represents exactly: then a
    Python float in place of a NumPy float64 scalar changes neither the result's dtype (NumPy
    takes a Python float as weak, a float64 as strong) nor its bits."""
    for p, a in enumerate(args):
        if a >= 0:
            if not _is_f64(program.dtype(a)):
                return False
            continue
        c = eq.constants[p]
        if type(c) is float or (type(c) is int and abs(c) <= 2**53):
            continue
        if not (isinstance(c, (np.ndarray, np.generic)) and _is_f64(c.dtype)):
            return False
    return True


#: NumPy's ufuncs of one float64 and the `math` functions that may compute them on a Python float.
MATH = {np.sin: math.sin, np.cos: math.cos, np.tan: math.tan, np.arcsin: math.asin, np.arccos: math.acos,
        np.arctan: math.atan, np.sinh: math.sinh, np.cosh: math.cosh, np.tanh: math.tanh, np.exp: math.exp,
        np.expm1: math.expm1, np.log: math.log, np.log1p: math.log1p, np.log2: math.log2,
        np.log10: math.log10, np.sqrt: math.sqrt, np.fabs: math.fabs}  # fmt: skip


@functools.cache
def math_twin(ufunc: np.ufunc) -> Callable[[float], float] | None:
    """The `math` function computing `ufunc` on a float64 with the same bits, or None. NumPy may
    compute a function by its own SIMD code (exp, log on AVX-512) rather than the C library's
    that `math` calls, so each is compared once per process, NumPy's scalar call against
    `math`'s, on 4,000 points spread over the magnitudes floats take (where `math` refuses a
    point, a domain error or an overflow, NumPy gives NaN or inf: the generated code's caller
    answers such a call eagerly)."""
    fun = MATH.get(ufunc)
    if fun is None:
        return None
    rng = np.random.default_rng(12)
    points = np.concatenate([rng.uniform(-1.0, 1.0, 1500), rng.uniform(-50.0, 50.0, 1500),
                             np.sign(rng.standard_normal(990)) * 10.0 ** rng.uniform(-300, 300, 990),
                             [0.0, -0.0, 1.0, -1.0, 0.5, 2.0, np.pi, 1e-310, 700.0, 710.0, 1e300]])  # fmt: skip
    with np.errstate(all="ignore"):
        for p in points.tolist():
            try:
                got = fun(p)
            except (ValueError, OverflowError):
                continue
            expected = float(ufunc(np.float64(p)))
            same = got == expected and math.copysign(1.0, got) == math.copysign(1.0, expected)
            if not same and not (got != got and expected != expected):  # NaN and NaN agree
                return None
    return fun


def math_function(eq: Equation) -> Callable[[float], float] | None:
    """The `math` function the generated code may call for `eq` on a Python float (a float64
    scalar in and out, the same bits as NumPy's ufunc), or None."""
    kernel = eq.primitive.kernel
    if kernel not in MATH or eq.params or eq.shape != () or not _is_f64(eq.dtype) or len(eq.args) != 1:
        return None
    return math_twin(kernel)


def python_floats(straight: Straight, use_math: bool = True) -> set[int]:
    """The float64 scalar variables the generated code may hold as Python floats: those every
    statement reading them takes as it takes a float64 (arithmetic of PYTHON_FLOAT_OPS on
    float64 operands, a NumPy ufunc on float64 operands, a comparison whose result only a
    branch check reads). Python's arithmetic on floats costs a fraction of NumPy's on its
    scalars, which dominates a scalar loop's generated code."""
    program = straight.program
    consumers: dict[int, list[int]] = {}  # variable -> the statements reading it
    for s, (_, args) in enumerate(straight.statements):
        for a in set(args):
            if a >= 0:
                consumers.setdefault(a, []).append(s)
    read = consumers
    returned = {o for o in straight.outputs if not isinstance(o, Constant)}
    statements = straight.statements
    takes: dict[int, bool] = {}  # statement -> whether it takes Python floats (asked once each)

    def takes_python_float(s: int) -> bool:
        found = takes.get(s)
        if found is None:
            eq, args = statements[s]
            kernel = eq.primitive.kernel
            if eq.params or not _float64_operands(program, eq, args):
                found = False
            elif kernel in PYTHON_FLOAT_OPS:
                found = _is_f64(eq.dtype) and eq.shape == ()
            elif kernel in COMPARISONS:
                found = eq.out not in read and eq.out not in returned  # a Python bool its branch check only reads
            else:
                found = isinstance(kernel, np.ufunc)
            takes[s] = found
        return found

    chosen = set()
    n_inputs, equations = program.n_inputs, program.equations
    for v, readers in consumers.items():
        if v < n_inputs:
            shape, dtype = program.inputs[v]
        else:
            shape, dtype = equations[v - n_inputs].shape, equations[v - n_inputs].dtype
        if shape != () or not _is_f64(dtype):
            continue
        # worth a conversion only where Python's arithmetic reads it
        arithmetic = any(
            statements[s][0].primitive.kernel in PYTHON_FLOAT_OPS or (use_math and math_function(statements[s][0]))
            for s in readers
        )
        if arithmetic and all(takes_python_float(s) for s in readers):
            chosen.add(v)
    return chosen


def _natural_python_float(eq: Equation, args: tuple[int, ...], floats: set[int], use_math: bool = True) -> bool:
    """Whether `eq`, written as Python arithmetic or a `math` function, gives a Python float by itself."""
    if use_math and math_function(eq) is not None:
        return args[0] in floats
    if eq.params or eq.primitive.kernel not in PYTHON_FLOAT_OPS:
        return False
    for p, a in enumerate(args):
        if a >= 0 and a not in floats:
            return False
        if a < 0 and type(eq.constants[p]) not in (int, float):
            return False
    return True


class _Member:
    """A concatenation written into one buffer shared with the others of its chain (see
    `concat_chains`): the buffer's name and shape, the axis, the pieces (argument positions)
    this member writes and where, and its extent along the axis."""

    __slots__ = ("buffer", "shape", "axis", "pieces", "stop", "first", "last")

    def __init__(self, buffer: str, shape: tuple[int, ...], axis: int, pieces: list[tuple[int, int, int]],
                 stop: int, first: bool) -> None:  # fmt: skip
        self.buffer, self.shape, self.axis, self.pieces, self.stop = buffer, shape, axis, pieces, stop
        self.first, self.last = first, False


def concat_chains(straight: Straight) -> dict[int, _Member]:
    """Concatenations that extend an earlier one (a DenseNet's features: ``concatenate([h0, h1])``,
    then ``concatenate([h0, h1, h2])``, …), as members of one buffer the size of the longest:
    each writes only its new pieces, and is the buffer's leading part along the axis (a view),
    so the features are copied once rather than once per layer. The same values; an earlier
    member is a strided view, so it is chained only where matrix products alone read it (directly
    or through a transpose: BLAS reads a strided matrix through its leading dimension, the same
    products), and is not returned or branched on. Statement index -> member."""
    program, statements = straight.program, straight.statements
    if not any(eq.primitive.name == "concatenate" for eq, _ in statements):
        return {}
    readers: dict[int, list[Equation]] = {}
    for eq, args in statements:
        for a in set(args):
            if a >= 0:
                readers.setdefault(a, []).append(eq)
    outputs = {o for o in straight.outputs if not isinstance(o, Constant)}

    def products_only(v: int, depth: int = 0) -> bool:
        if v in outputs or v in straight.guards:
            return False
        for eq in readers.get(v, ()):
            name = eq.primitive.name
            if name == "transpose" and depth == 0 and products_only(eq.out, 1):
                continue
            if name != "matmul":
                return False
        return True

    chains: list[list[Any]] = []  # [statements, the last one's pieces (variables or constants' ids), axis, shape]
    for s, (eq, args) in enumerate(statements):
        axis = eq.params.get("axis")
        if eq.primitive.name != "concatenate" or set(eq.params) != {"axis"} or type(axis) is not int:
            continue
        shape = eq.shape
        if is_parts_shape(shape) or not shape or not -len(shape) <= axis < len(shape):
            continue
        axis %= len(shape)
        keys: list[Any] = []
        for p, a in enumerate(args):
            value = eq.constants[p]
            piece_shape = program.shape(a) if a >= 0 else np.shape(value)
            piece_dtype = program.dtype(a) if a >= 0 else getattr(value, "dtype", None)
            if len(piece_shape) != len(shape) or piece_dtype != eq.dtype:
                break
            if any(d != e for i, (d, e) in enumerate(zip(piece_shape, shape)) if i != axis):
                break
            keys.append(a if a >= 0 else ("constant", id(value)))
        else:
            other = shape[:axis] + shape[axis + 1 :]
            for chain in chains:
                n = len(chain[1])
                if chain[2:] == [axis, other] and n < len(keys) and tuple(keys[:n]) == chain[1]:
                    chain[0].append(s)
                    chain[1] = tuple(keys)
                    break
            else:
                chains.append([[s], tuple(keys), axis, other])
    found: dict[int, _Member] = {}
    for number, (members, _, axis, _) in enumerate(chains):
        # the earlier members must be read by matrix products only; the last one is the whole buffer
        kept = [s for s in members[:-1] if products_only(statements[s][0].out)] + [members[-1]]
        if len(kept) < 2:
            continue
        shape = tuple(statements[kept[-1]][0].shape)
        start = 0
        for i, s in enumerate(kept):
            eq, args = statements[s]
            ends = _stops(program, eq, args, axis)
            pieces = [(p, ends[p - 1] if p else 0, ends[p]) for p in range(start, len(args))]
            found[s] = _Member(f"buffer{number}", shape, axis, pieces, ends[-1], i == 0)
            start = len(args)
        found[kept[-1]].last = True
    return found


def _stops(program: Program, eq: Equation, args: tuple[int, ...], axis: int) -> list[int]:
    """Where each piece of a concatenation ends along `axis`."""
    ends, stop = [], 0
    for p, a in enumerate(args):
        stop += (program.shape(a) if a >= 0 else np.shape(eq.constants[p]))[axis]
        ends.append(stop)
    return ends


def _axis_cut(eq: Equation, args: tuple[int, ...], shape: Any) -> tuple[int, int, int] | None:
    """(axis, start, stop) where `eq` is a getitem taking entries start:stop (start < stop, step 1)
    along one axis and every entry along the others; None otherwise."""
    if eq.primitive.name != "getitem" or len(args) != 1 or args[0] < 0 or set(eq.params) != {"index"}:
        return None
    if is_parts_shape(shape) or not shape:
        return None
    index = eq.params["index"].fill(())
    parts = index if type(index) is tuple else (index,)
    if parts and parts[-1] is Ellipsis:
        parts = parts[:-1]
    if len(parts) > len(shape):
        return None
    found = None
    for axis, p in enumerate(parts):
        if type(p) is not slice or not all(v is None or type(v) is int for v in (p.start, p.stop, p.step)):
            return None
        start, stop, step = p.indices(shape[axis])
        if step != 1 or start >= stop:
            return None
        if (start, stop) == (0, shape[axis]):
            continue
        if found is not None:
            return None
        found = (axis, start, stop)
    return found


def split_pieces(straight: Straight, least: int = 2) -> dict[int, tuple[int, int, int, int]]:
    """The pieces of splits: variables that statements read only as `least` or more disjoint slices
    along one axis (the cotangent of a concatenation, cut back into its pieces), neither returned
    nor branched on, so that their memory never changes while a piece is alive, and `emit` may
    read side-by-side pieces as one span (the rewriting "accumulate"). Piece -> (split variable,
    axis, start, stop)."""
    program, statements = straight.program, straight.statements
    sliced = {args[0] for eq, args in statements if eq.primitive.name == "getitem" and len(args) == 1}
    sliced.discard(-1)
    if not sliced:
        return {}
    readers: dict[int, list[tuple[Equation, tuple[int, ...]]]] = {}
    for eq, args in statements:
        if not sliced.isdisjoint(args):
            for a in sliced.intersection(args):
                readers.setdefault(a, []).append((eq, args))
    outputs = {o for o in straight.outputs if not isinstance(o, Constant)}
    found: dict[int, tuple[int, int, int, int]] = {}
    for base, reading in readers.items():
        if len(reading) < least or base in outputs or base in straight.guards:
            continue
        cuts = [(_axis_cut(eq, args, program.shape(base)), eq.out) for eq, args in reading]
        if any(cut is None for cut, _ in cuts) or len({cut[0] for cut, _ in cuts}) != 1:
            continue
        spans = sorted(cut[1:] for cut, _ in cuts)
        if any(a[1] > b[0] for a, b in itertools.pairwise(spans)):  # overlapping pieces
            continue
        for (axis, start, stop), piece in cuts:
            found[piece] = (base, axis, start, stop)
    return found


#: The largest product (multiply-adds) `narrowed_product_exact` samples.
SAMPLED = 2**24


@functools.lru_cache(maxsize=256)
def narrowed_product_exact(m: int, k: int, n: int, lo: int, hi: int, dtype: str) -> bool:
    """Whether NumPy's product of an (m, k) and a (k, n) matrix has, in columns lo:hi, the bits of
    the product with the right operand's columns lo:hi: BLAS computes each entry in the same order
    for most widths, but may take another kernel for another one. Compared once per process and
    shapes on random matrices, each operand C- and F-ordered (a different order of operations
    shows in most entries, whatever the values). Products above `SAMPLED` multiply-adds are not
    sampled (False): eight of them would cost the compiling call too much."""
    return _sampled_alike(m, k, n, dtype, 7, lambda x, y: x @ y[:, lo:hi], lo, hi)


def _sampled_alike(m: int, k: int, n: int, dtype: str, seed: int, other: Any, lo: int, hi: int) -> bool:
    """Whether ``other(x, y)`` has the bits of columns lo:hi of ``x @ y`` on random (m, k) and (k,
    n) matrices, each C- and F-ordered; False above `SAMPLED` multiply-adds (not sampled)."""
    if m * k * n > SAMPLED:
        return False
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((k, n)).astype(dtype)
    for x in (a, np.asfortranarray(a)):
        for y in (b, np.asfortranarray(b)):
            if not np.array_equal((x @ y)[:, lo:hi], other(x, y)):
                return False
    return True


def narrowed_products(
    straight: Straight, splits: dict[int, tuple[int, int, int, int]], spelled: bool
) -> dict[int, tuple[int, int]]:
    """Matrix products whose statements read only columns lo:hi of (a split along its last axis:
    a concatenation's cotangent whose first piece, a constant's, needs none), computed as the
    product with the right operand's columns lo:hi where that gives the same bits: always for
    an outer product written ``np.multiply`` (`_spelled`), else where `narrowed_product_exact`
    finds it. Product -> (lo, hi)."""
    program = straight.program
    spans: dict[int, list[int]] = {}
    for base, axis, start, stop in splits.values():
        if axis == 1 and len(program.shape(base)) == 2:
            span = spans.setdefault(base, [start, stop])
            span[0], span[1] = min(span[0], start), max(span[1], stop)
    found: dict[int, tuple[int, int]] = {}
    for eq, args in straight.statements:
        span = spans.get(eq.out)
        if span is None or eq.primitive.name != "matmul" or eq.params or len(args) != 2:
            continue
        (sa, da), (sb, db) = _operand(program, eq, args, 0), _operand(program, eq, args, 1)
        lo, hi = span
        if len(sa) != 2 or len(sb) != 2 or (lo, hi) == (0, sb[1]) or not np.dtype(da) == np.dtype(db) == eq.dtype:
            continue
        if np.dtype(eq.dtype) not in (np.dtype(np.float32), _F64):
            continue
        if (spelled and sa[1] == 1) or narrowed_product_exact(sa[0], sa[1], sb[1], lo, hi, np.dtype(eq.dtype).str):
            found[eq.out] = (lo, hi)
    return found


@functools.lru_cache(maxsize=256)
def transposed_product_exact(m: int, k: int, n: int, lo: int, hi: int, dtype: str) -> bool:
    """Whether the transpose of NumPy's product of an (m, k) and a (k, n) matrix, columns lo:hi,
    has the bits of the product of the transposes, ``y.T[lo:hi] @ x.T`` (x.T copied in C order,
    which BLAS multiplies faster than the transposed view, as `emit` writes it): BLAS sums each entry
    over k in one order whichever operand it packs as which for most shapes, but that is its
    choice. Compared once per process and shapes as `narrowed_product_exact` compares, each
    operand C- and F-ordered; products above `SAMPLED` multiply-adds are not sampled (False)."""
    return _sampled_alike(m, k, n, dtype, 8, lambda x, y: (y.T[lo:hi] @ np.ascontiguousarray(x.T)).T, lo, hi)


#: Ufuncs whose every entry is one correctly rounded IEEE operation on the operands' entries, so
#: that no memory order of theirs changes a bit (NumPy's SIMD loops of exp, tanh... are not such).
EXACT = frozenset({np.add, np.subtract, np.multiply, np.true_divide})


def transposed_products(
    straight: Straight, splits: dict[int, tuple[int, int, int, int]], narrow: dict[int, tuple[int, int]], spelled: bool
) -> set[int]:
    """Matrix products cut into columns (a DenseNet's cotangents of its concatenations) whose
    columns are summed (the rewriting "accumulate"): computed transposed, ``b.T @ a.T``, so that
    the columns are rows, and the sums of side-by-side pieces run over contiguous memory (over a
    strided 2-d view, NumPy's loops cost several times more). Only where every piece is read by
    `EXACT` ufuncs alone (which give the same bits on a transposed view) and one of them by an
    addition (and, through additions, every sum of a piece; none branched on), and the
    transposed product has the product's bits: always for an outer product written
    ``np.multiply`` (`_spelled`), else where `transposed_product_exact` finds it."""
    program = straight.program
    bases: dict[int, list[int]] = {}
    for piece, (base, axis, _, _) in splits.items():
        bases.setdefault(base, []).append(piece) if axis == 1 and len(program.shape(base)) == 2 else None
    if not bases:
        return set()
    readers: dict[int, list[Equation]] = {}
    for eq, args in straight.statements:
        for a in set(args):
            if a >= 0:
                readers.setdefault(a, []).append(eq)
    found = set()
    for eq, args in straight.statements:
        cut = bases.get(eq.out)
        if cut is None or eq.primitive.name != "matmul" or eq.params or len(args) != 2:
            continue
        reading, seen, todo = [], set(cut), list(cut)
        while todo:  # the pieces' readers, and through additions (a run's sums) their sums' readers
            for r in readers.get(todo.pop(), ()):
                reading.append(r)
                if r.primitive.impl is np.add and r.out not in seen:
                    seen.add(r.out)
                    todo.append(r.out)
        if not all(_elementwise_ufunc(r) and r.primitive.impl in EXACT for r in reading):
            continue
        if not seen.isdisjoint(straight.guards):  # a branch checks the value, not its transpose
            continue
        if not any(r.primitive.impl is np.add for r in reading):
            continue
        (sa, da), (sb, db) = _operand(program, eq, args, 0), _operand(program, eq, args, 1)
        if len(sa) != 2 or len(sb) != 2 or not np.dtype(da) == np.dtype(db) == eq.dtype:
            continue
        if np.dtype(eq.dtype) not in (np.dtype(np.float32), _F64):
            continue
        lo, hi = narrow.get(eq.out, (0, sb[1]))
        if (spelled and sa[1] == 1) or transposed_product_exact(sa[0], sa[1], sb[1], lo, hi, np.dtype(eq.dtype).str):
            found.add(eq.out)
    return found


def _operand(program: Program, eq: Equation, args: tuple[int, ...], p: int) -> tuple[tuple[int, ...], Any]:
    """The shape and dtype of argument p of `eq` (a variable or a constant)."""
    if args[p] >= 0:
        return program.shape(args[p]), program.dtype(args[p])
    value = eq.constants[p]
    return np.shape(value), np.result_type(value)


def _spelled(program: Program, eq: Equation, args: tuple[int, ...], names: list[str]) -> str | None:
    """Cheaper spellings, the same bits: a sum, max or min of a whole vector as ``np.add.reduce(x)``
    (the call with its default axis, without keywords); a transpose reversing the axes as ``x.T``; a matrix
    product whose inner dimension is 1 (``g @ w.T`` of a one-column head: NumPy's loop for a
    strided operand is slow) as the product
    ``a * b`` (to which the caller adds 0.0, as the product's sum starts from 0: -0.0 becomes 0.0);
    a float64 mean as ``add.reduce`` divided by the count, which is what NumPy's mean computes,
    without its Python layer."""
    name = eq.primitive.name
    if name == "transpose" and set(eq.params) == {"axes"} and len(args) == 1 and args[0] >= 0:
        axes = eq.params["axes"]
        reverse = type(axes) is tuple and axes == tuple(range(len(axes)))[::-1] == tuple(range(len(eq.shape)))[::-1]
        return f"{names[0]}.T" if reverse and len(eq.shape) >= 2 and not is_parts_shape(eq.shape) else None
    if name == "matmul" and len(args) == 2 and not eq.params:
        (sa, da), (sb, db) = _operand(program, eq, args, 0), _operand(program, eq, args, 1)
        if len(sa) == len(sb) == 2 and sa[1] == sb[0] == 1 and np.dtype(da).kind == "f" and da == db == eq.dtype:
            return f"np.multiply({names[0]}, {names[1]})"
        return None
    if name not in ("mean", "sum", "max", "min") or set(eq.params) != {"axis", "keepdims"} or len(args) != 1:
        return None
    if args[0] < 0:
        return None
    shape, dtype = program.shape(args[0]), np.dtype(program.dtype(args[0]))
    axis, keepdims = eq.params["axis"], eq.params["keepdims"]
    if name != "mean":  # a whole vector's: the reduction's defaults, without its keywords' parsing
        whole = axis in (None, 0, -1, (0,), (-1,)) and keepdims is False
        if whole and not is_parts_shape(shape) and len(shape) == 1 and dtype.kind in "fc":
            return f"np.{ {'sum': 'add', 'max': 'maximum', 'min': 'minimum'}[name] }.reduce({names[0]})"
        return None
    if is_parts_shape(shape) or not shape or dtype != _F64 or type(keepdims) is not bool:
        # (NumPy's mean divides by the count as an intp: float32 is divided in float64, then rounded)
        return None
    axes = tuple(range(len(shape))) if axis is None else axis if type(axis) is tuple else (axis,)
    if not all(type(a) is int and -len(shape) <= a < len(shape) for a in axes):
        return None
    count = 1
    for a in set(a % len(shape) for a in axes):
        count *= shape[a]
    if not count:
        return None
    return f"np.add.reduce({names[0]}, axis={axes!r}, keepdims={keepdims}) / {count}"


#: The start of a statement's text that makes a new array of the result's shape.
_FRESH = ("np.add.reduce(", "np.maximum.reduce(", "np.minimum.reduce(", "np.multiply(", "np.einsum(")

#: An outer product of an (m, 1) and a (1, n) matrix in one pass, as matmul sums it: into zeros.
OUTER_SUM = "np.einsum('ij,jk->ik', "


@functools.lru_cache(maxsize=8)
def outer_sum_exact(dtype: str) -> bool:
    """Whether ``np.einsum('ij,jk->ik', a, b)`` of an (m, 1) and a (1, n) matrix has the bits of
    ``a * b + 0.0`` (a matrix product's sum starts from +0.0, so -0.0 becomes 0.0), for float32
    and float64: einsum adds each product into an output of zeros, one pass where the product
    and the addition take two. That is how NumPy's einsum sums, not a documented promise, so it
    is compared once per process and dtype on columns and rows of random, signed zero,
    subnormal, huge and infinite entries, the operands contiguous and strided views as the
    generated code passes them (NaN only where NaN: a result holding NaN is answered eagerly)."""
    if np.dtype(dtype) not in (np.dtype(np.float32), _F64):
        return False
    rng = np.random.default_rng(13)
    info = np.finfo(dtype)
    special = [0.0, -0.0, 1.0, -1.0, info.tiny, -info.tiny / 4, info.max, -info.max, np.inf, -np.inf, np.nan]
    values = np.concatenate([rng.standard_normal(60), rng.standard_normal(40) * 10.0 ** rng.integers(-30, 30, 40),
                             special]).astype(dtype)  # fmt: skip
    with np.errstate(all="ignore"):
        for m, n in ((values.size, values.size), (1, 7), (5, 1)):
            column = np.stack([values[:m], values[::-1][:m]], axis=1)[:, :1]  # strided, as a cut of a transpose
            row = np.ascontiguousarray(np.roll(values, 3)[:n])[None, :]
            for a, b in ((column, row), (np.ascontiguousarray(column), row.T.copy().T)):
                expected = np.multiply(a, b)
                expected += 0.0
                got = np.einsum("ij,jk->ik", a, b)
                nan = np.isnan(expected)
                if got.dtype != expected.dtype or not np.array_equal(nan, np.isnan(got)):
                    return False
                if not np.array_equal(got[~nan].view(f"i{got.itemsize}"), expected[~nan].view(f"i{got.itemsize}")):
                    return False
    return True


def _fresh(eq: Equation, text: str) -> bool:
    """Whether the text written for `eq` makes a new array (a matrix product, a reduction that
    keeps an axis, an outer product), so that its buffer may take a later result."""
    if not eq.shape or is_parts_shape(eq.shape):
        return False
    if eq.primitive.name == "matmul" and " @ " in text and text.count(" @ ") == 1 and not eq.params:
        return True
    return text.startswith(_FRESH)


def _checked_only(eq: Equation, guard: tuple[int, Any], last_use: dict[int, int], outputs: set[int]) -> bool:
    """Whether `eq` is a comparison only its branch check reads: written inside the check."""
    kept = eq.out in last_use or eq.out in outputs
    return type(guard[1]) is bool and eq.primitive.kernel in COMPARISONS and not kept


#: The rewritings `emit` makes beyond one call per statement (each may be left out, for measuring):
#: "roll" (two copies, or slice-by-slice additions), "item" (a roll's part of one entry as a subscript
#: of one entry: `_rolled`), "in_place" (``a += b``), "chain"
#: (`concat_chains`), "accumulate" (sums of side-by-side cuts of one array into side-by-side pieces
#: of a split, or rows of a stack, as one addition: `split_pieces`), "transposed" (such a split computed
#: transposed, its pieces rows: `transposed_products`), "narrow" (a product of which
#: only some columns are read computes those: `narrowed_products`), "math" (`math_twin`), "check"
#: (a comparison inside its branch check), "spelled" (`_spelled`), "outer" (an outer product that
#: "spelled" writes as a product, summed into zeros by einsum in one pass: `outer_sum_exact`).
REWRITES = frozenset(
    {"roll", "item", "in_place", "chain", "accumulate", "transposed", "narrow", "math", "check", "spelled", "outer"}
)


def emit(
    straight: Straight,
    *,
    reuse_buffers: bool = True,
    python_scalars: bool = True,
    name: str = "compiled",
    rewrites: Collection[str] = REWRITES,
    layouts: Mapping[int, Any] | None = None,
) -> Source:
    """The source of ``def name(z1, …, zm): …; return (outputs,)`` for a simplified program.

    The inputs keep their names z1 … zm; every other variable lives in a local `t<n>` that is
    given to a later variable after its last use, so an intermediate is freed as soon as it
    is dead (as back-substitution drops each multiplier) and the function has few locals.
    `python_scalars`: float64 scalars that only arithmetic reads are held as Python floats
    (`python_floats`), made so where they are made and returned as float64. `layouts`: each
    variable's strides on a run (`layouts`); an elementwise result is then written into a dying
    buffer only where the two agree (None: unchecked)."""
    program = straight.program
    emitter = Emitter()
    n_inputs = program.n_inputs
    slot: dict[int, str] = {i: f"z{i + 1}" for i in range(n_inputs)}
    last_use: dict[int, int] = {}
    for s, (_, args) in enumerate(straight.statements):
        for a in args:
            if a >= 0:
                last_use[a] = s
    outputs = {o for o in straight.outputs if not isinstance(o, Constant)}
    use_math = "math" in rewrites
    items = "item" in rewrites
    floats = python_floats(straight, use_math) if python_scalars else set()
    owned: set[int] = set()  # variables holding a fresh array that only generated code refers to
    free: list[str] = []
    lines = [f"def {name}({', '.join(slot[i] for i in range(n_inputs))}):"]
    for i in range(n_inputs):
        if i in straight.guards:
            lines.append("    " + emitter.guard(slot[i], *straight.guards[i]))
    lines.extend(f"    {slot[i]} = float({slot[i]})" for i in range(n_inputs) if i in floats)
    statements = straight.statements
    chains = concat_chains(straight) if reuse_buffers and "chain" in rewrites else {}
    fused: dict[int, tuple[int, int, int, int]] = {}  # statement -> (roll's argument, n, k, buffer)
    accumulate = reuse_buffers and "accumulate" in rewrites
    cuts = split_pieces(straight, 1) if accumulate or "narrow" in rewrites else {}
    counts = Counter(cut[0] for cut in cuts.values())
    pieces = {p: cut for p, cut in cuts.items() if counts[cut[0]] >= 2} if accumulate else {}
    narrow = narrowed_products(straight, cuts, "spelled" in rewrites) if "narrow" in rewrites else {}
    flip = (
        transposed_products(straight, cuts, narrow, "spelled" in rewrites)
        if accumulate and "transposed" in rewrites
        else set()
    )
    held_t: set[int] = set()  # variables whose local holds their transpose (products in `flip`, their pieces)
    splits: dict[int, str] = {}  # split variable -> the name that holds it while its pieces live
    stacks: list[str] = []  # the stacks of sums made by accumulations
    flipped_stacks: set[str] = set()  # stacks holding their pieces' transposes
    region: dict[int, tuple[str, int, int]] = {}  # variable -> (stack, axis of its cuts, row) it lives in
    resume = 0  # statements before it were written with an earlier one (an accumulation)

    def new_local() -> str:
        return free.pop() if free else f"t{len(slot) + len(free) - n_inputs}"

    def settle(out: int, target: str) -> None:
        """`out`'s branch check, and its local freed when no later statement reads it."""
        if out in straight.guards:
            lines.append("    " + emitter.guard(target, *straight.guards[out]))
        if out not in last_use and out not in outputs:
            free.append(slot.pop(out))

    def accumulation(s: int) -> tuple[list[tuple[int, int, int]], int, int]:
        """Statements s, s + 1, … alternating ``cut_i = m[…]`` and ``acc_i + cut_i``, the cuts of m
        of one shape side by side along one axis, each cut and acc_i dying at its sum, and the
        acc_i side by side too: pieces of one split (two or more: a new stack is made of their
        sums), or consecutive rows of one stack (added into in place). ([(acc_i, sum's variable,
        cut's start)], m, the cut's axis); an empty list where the statements are not such."""
        run: list[tuple[int, int, int]] = []
        m = axis = home = end = None
        while s + 1 < len(statements):
            (geq, gargs), (aeq, aargs) = statements[s], statements[s + 1]
            if len(gargs) != 1 or gargs[0] < 0 or gargs[0] in region or (m is not None and gargs[0] != m):
                break
            cut = _axis_cut(geq, gargs, program.shape(gargs[0]))
            piece = geq.out
            if cut is None or piece in outputs or piece in straight.guards or last_use.get(piece) != s + 1:
                break
            if not _elementwise_ufunc(aeq) or aeq.primitive.impl is not np.add or aargs.count(piece) != 1:
                break
            acc = aargs[1] if aargs[0] == piece else aargs[0]
            if acc < n_inputs or last_use.get(acc) != s + 1 or acc in outputs or aeq.out in straight.guards:
                break
            if not (program.shape(acc) == geq.shape == aeq.shape) or not (program.dtype(acc) == geq.dtype == aeq.dtype):
                break
            if run and (cut[0] != axis or cut[1] != end or geq.shape != statements[s - 2][0].shape):
                break
            if acc in region:  # a row of a stack: the next row, or the first of a run
                where = region[acc]
                if acc not in owned or where[1] != cut[0]:  # (a view of it may be alive)
                    break
                if run and (where[0] != home[0] or where[2] != home[1] + len(run)):
                    break
                home = home or (where[0], where[2])
            else:  # a piece of a split, beside the run's last one
                split = pieces.get(acc)
                if split is None or split[0] not in splits or split[1] != cut[0]:
                    break
                if run and (home[0] != split[0] or split[2] != home[1] + len(run) * (cut[2] - cut[1])):
                    break
                home = home or (split[0], split[2])
            if not run:
                m, axis = gargs[0], cut[0]
            end = cut[2]
            run.append((acc, aeq.out, cut[1]))
            s += 2
        if run and run[0][0] not in region and len(run) < 2:
            return [], 0, 0
        return run, m, axis

    def stacked(name: str, shape: tuple[int, ...], axis: int, start: int, n: int, width: int) -> str:
        """`name`'s span start:start + n * width along `axis`, as n arrays of one piece's shape
        along a new leading axis (a view: a reshape that splits one axis, then a transpose)."""
        split = (*shape[:axis], n, width, *shape[axis + 1 :])
        text = f"{name}[{':, ' * axis}{start}:{start + n * width}].reshape({split})"
        if axis:
            text += f".transpose({(axis, *range(axis), *range(axis + 1, len(shape) + 1))})"
        return text

    def span(v: int, name: str, start: int, n: int, width: int, transposed: bool) -> str:
        """`stacked` of variable v (held in `name`, transposed where v is in `held_t`) along axis 1
        of a matrix, the pieces transposed (n, width, rows) where `transposed`."""
        rows = program.shape(v)[0]
        if v in held_t:
            text = f"{name}[{start}:{start + n * width}].reshape({(n, width, rows)})"
            return text if transposed else f"{text}.transpose((0, 2, 1))"
        if not transposed:
            return stacked(name, program.shape(v), 1, start, n, width)
        return f"{name}[:, {start}:{start + n * width}].reshape({(rows, n, width)}).transpose((1, 2, 0))"

    for s, (eq, args) in enumerate(statements):
        if s < resume:
            continue
        run, m, axis = accumulation(s) if pieces or region else ([], 0, 0)
        if run:  # one addition of the spans side by side: the same sums, entry by entry
            resume = s + 2 * len(run)
            shape, width, n = statements[s][0].shape, statements[s][0].shape[axis], len(run)
            first, at = run[0][0], run[0][2] - narrow.get(m, (0,))[0]
            # a stack holds its pieces' transposes where it is made of a transposed product's
            transposed = region[first][0] in flipped_stacks if first in region else m in held_t
            if transposed or (first in region and m in held_t):
                cut = span(m, slot[m], at, n, width, transposed)
            else:
                cut = stacked(slot[m], program.shape(m), axis, at, n, width)
            if first in region:
                stack, _, row = region[first]
                lines.append(f"    {stack}[{row}:{row + n}] += {cut}")
            else:
                base, _, start, _ = pieces[first]
                stack, row = f"stack{len(stacks)}", 0
                stacks.append(stack)
                dtype = "" if _is_f64(eq.dtype) else f", {emitter.bind(np.dtype(eq.dtype), 'dtype')}"
                start -= narrow.get(base, (0,))[0]
                if transposed or base in held_t:
                    pieces_text = span(base, splits[base], start, n, width, transposed)
                else:
                    pieces_text = stacked(splits[base], program.shape(base), axis, start, n, width)
                if transposed:
                    flipped_stacks.add(stack)
                    shape = (shape[1], shape[0])
                lines.append(f"    {stack} = np.empty({(n, *shape)}{dtype})")
                lines.append(f"    np.add({pieces_text}, {cut}, out={stack})")
            owned.discard(m)
            if m >= n_inputs and last_use[m] < resume and m not in outputs:
                free.append(slot.pop(m))
            for i, (acc, total, _) in enumerate(run):
                if acc in region:
                    target = slot[total] = slot.pop(acc)
                    del region[acc]
                else:
                    free.append(slot.pop(acc))
                    target = slot[total] = new_local()
                    lines.append(f"    {target} = {stack}[{row + i}]")
                region[total] = (stack, axis, row + i)
                owned.add(total)
                if stack in flipped_stacks:
                    held_t.add(total)
                settle(total, target)
            continue
        if s in fused:  # an addition of a roll made at s - 1: added in place, slice by slice
            x, n, k, a = fused.pop(s)
            target = slot[eq.out] = slot.pop(a)
            lines.extend(_rolled(target, slot[x], n, k, "+=", items and _itemwise(eq.dtype)))
            owned.add(eq.out)
            if x >= n_inputs and last_use[x] == s and x not in outputs:  # x's last use was the roll
                free.append(slot.pop(x))
            settle(eq.out, target)
            continue
        names = [slot[a] if a >= 0 else emitter.bind(eq.constants[p], "c") for p, a in enumerate(args)]
        if held_t and not held_t.isdisjoint(args):  # read through the transpose's view (see below)
            names = [f"{slot[a]}.T" if a in held_t else text for a, text in zip(args, names)]
        dying = [a for a in dict.fromkeys(args) if a >= n_inputs and last_use[a] == s and a not in outputs]
        member = chains.get(s)
        if member is not None:  # its new pieces copied into the chain's buffer, its value a view of it
            buffer = member.buffer
            if member.first:
                dtype = "" if _is_f64(eq.dtype) else f", {emitter.bind(np.dtype(eq.dtype), 'dtype')}"
                lines.append(f"    {buffer} = np.empty({member.shape}{dtype})")
            leading = ":, " * member.axis
            lines.extend(f"    {buffer}[{leading}{a}:{b}] = {names[p]}" for p, a, b in member.pieces)
            for a in dying:
                free.append(slot.pop(a))
            target = slot[eq.out] = new_local()
            if member.last:
                lines.append(f"    {target} = {buffer}")
                lines.append(f"    del {buffer}")
            else:
                lines.append(f"    {target} = {buffer}[{leading}:{member.stop}]")
            settle(eq.out, target)
            continue
        roll = _roll_of(program, eq, args) if "roll" in rewrites else None
        if roll is not None:
            x, (n, k) = args[0], roll
            later = _added_roll(straight, s, x, outputs, last_use, owned) if reuse_buffers else None
            if later is not None:  # written at s + 1 into the other addend's buffer
                fused[s + 1] = (x, n, k, later)
                last_use[x] = max(last_use[x], s + 1)
                continue
            buffer = None
            if reuse_buffers:
                buffer = next((a for a in dying if a != x and a in owned and program.shape(a) == eq.shape
                               and program.dtype(a) == eq.dtype), None)  # fmt: skip
            if buffer is not None:
                target = slot[eq.out] = slot.pop(buffer)
            else:  # chosen before x's local is freed: the copies read x after the target exists
                target = slot[eq.out] = new_local()
                dtype = "" if _is_f64(eq.dtype) else f", {emitter.bind(np.dtype(eq.dtype), 'dtype')}"
                lines.append(f"    {target} = np.empty({n}{dtype})")
            lines.extend(_rolled(target, names[0], n, k, "=", items and _itemwise(eq.dtype)))
            owned.add(eq.out)
            for a in dying:
                if a != buffer:
                    free.append(slot.pop(a))
            settle(eq.out, target)
            continue
        cut_t = _axis_cut(eq, args, program.shape(args[0])) if args and args[0] in held_t else None
        raw = slot[args[0]] if cut_t is not None else ""  # (the transpose's local, before it is freed)
        out = None
        if _elementwise_ufunc(eq):
            if reuse_buffers and eq.shape:
                for a in dying:
                    alike = program.shape(a) == eq.shape and program.dtype(a) == eq.dtype and _alike(layouts, a, eq.out)
                    if alike and a in owned and a not in held_t:
                        out = a
                        break
            if eq.shape and not is_parts_shape(eq.shape):
                owned.add(eq.out)
        else:
            split = pieces.get(eq.out)
            if split is not None and split[0] not in splits:  # its first piece: the split named while they live
                held = raw if args[0] in held_t else names[0]  # (a transposed one: its transpose)
                splits[split[0]] = held if split[0] < n_inputs else f"split{len(splits)}"
                if split[0] >= n_inputs:
                    lines.append(f"    {splits[split[0]]} = {held}")
            owned.difference_update(args)  # it may return a view of them
        c_order = False  # a new array of an EXACT ufunc reading a transposed view, made in C order
        if held_t and cut_t is None and not held_t.isdisjoint(args):
            if not (_elementwise_ufunc(eq) and eq.primitive.impl in EXACT):  # a transposed view only
                # where its memory order changes no bit, the result in a buffer of the usual order
                names = [f"{slot[a]}.T.copy()" if a in held_t else text for a, text in zip(args, names)]
            c_order = out is None
        for a in dying:
            if a != out:
                free.append(slot.pop(a))
        if out is not None:
            target = slot[eq.out] = slot.pop(out)
            if out in region:
                region[eq.out] = region.pop(out)
            line = _in_place(eq, names, target) if "in_place" in rewrites else None
            outer = False
        else:
            target = slot[eq.out] = new_local()
            line = None
        if line is None:
            lo, hi = narrow.get(eq.out, (0, eq.shape[-1] if eq.shape else 0))
            if eq.out in narrow and eq.out not in flip:  # only these columns are read
                names = [names[0], f"{names[1]}[:, {lo}:{hi}]"]
            text = _spelled(program, eq, args, names) if out is None and "spelled" in rewrites else None
            outer = text is not None and eq.primitive.name == "matmul"
            if eq.out in flip:  # the transpose: its columns lo:hi as rows
                product = f"{names[1]}.T[{lo}:{hi}] @ np.ascontiguousarray({names[0]}.T)"
                text = f"np.multiply({names[1]}.T[{lo}:{hi}], {names[0]}.T)" if outer else product
                held_t.add(eq.out)
            if cut_t is not None:  # a cut of a transposed product: rows of its transpose
                shift = narrow.get(args[0], (0,))[0]
                text = f"{raw}[{cut_t[1] - shift}:{cut_t[2] - shift}]"
                held_t.add(eq.out)
            elif args and args[0] in narrow and out is None:  # a cut of a narrowed product, where it lies in it
                _, start, stop = _axis_cut(eq, args, program.shape(args[0]))  # type: ignore[misc]
                text = f"{names[0]}[:, {start - narrow[args[0]][0]}:{stop - narrow[args[0]][0]}]"
            summed = outer and "outer" in rewrites and text.startswith("np.multiply(")
            if summed and outer_sum_exact(np.dtype(eq.dtype).str):
                text, outer = OUTER_SUM + text[len("np.multiply(") :], False  # summed into zeros: no 0.0 to add
            text = text or (_direct(program, eq, args, names, emitter) if out is None else None)
            if c_order and _elementwise_ufunc(eq) and eq.primitive.impl in EXACT:
                text = f"{emitter.ufunc(eq.primitive.impl)}({', '.join(names)}, order='C')"
            natural = _natural_python_float(eq, args, floats, use_math)  # Python arithmetic on Python floats
            twin = math_function(eq) if natural and use_math else None
            if twin is not None:
                text = f"{emitter.bind(twin, 'math_' + twin.__name__)}({names[0]})"
            text = text or emitter.call(eq, names, None if out is None else target)
            if eq.out in floats and not natural:
                text = f"float({text})"
            elif natural and eq.out not in floats:
                text = f"np.float64({text})"
            line = f"{target} = {text}"
            guard = straight.guards.get(eq.out)
            if guard is not None and "check" in rewrites and _checked_only(eq, guard, last_use, outputs):
                line, guard = emitter.guard(f"({text})", *guard), None
        else:
            guard = straight.guards.get(eq.out)
        lines.append(f"    {line}")
        if outer:  # an outer product as matmul sums it: 0 + a*b
            lines.append(f"    {target} += 0.0")
        if out is None and _fresh(eq, line[len(target) + 3 :]):
            owned.add(eq.out)  # a new array: a later elementwise result may be written into it
        if guard is not None:
            lines.append("    " + emitter.guard(target, *guard))
        if eq.out not in last_use and eq.out not in outputs:  # used by no later statement
            free.append(slot.pop(eq.out))
    outs = []
    returned: set[int] = set()
    for o in straight.outputs:
        if isinstance(o, Constant):
            outs.append(emitter.returned_constant(o.value))
        elif o in floats:
            outs.append(f"np.float64({slot[o]})")
        elif o in held_t:  # returned in the usual order
            outs.append(f"{slot[o]}.T.copy()")
        else:
            outs.append(f"{slot[o]}.copy()" if o in returned and program.shape(o) else slot[o])
            returned.add(o)
    lines.append(f"    return ({', '.join(outs)}{',' if len(outs) == 1 else ''})")
    return Source("\n".join(lines) + "\n", emitter.namespace, len(straight.statements))


def _check(index: int, recorded: Any) -> Callable[[Any], None]:
    """A function raising BranchFlipped(index) where a value no longer takes the recorded branch
    (the check `Emitter.guard` writes)."""
    if type(recorded) is bool:

        def check(value: Any) -> None:
            if bool(value) is not recorded:
                raise BranchFlipped(index)

    elif isinstance(recorded, np.ndarray):

        def check(value: Any) -> None:
            if not _same(value, recorded):
                raise BranchFlipped(index)

    else:
        kind = type(recorded)

        def check(value: Any) -> None:
            if kind(value) != recorded:
                raise BranchFlipped(index)

    return check


def _no_arguments(env: list[Any]) -> tuple[()]:
    return ()


def _kernel(eq: Equation) -> Callable[..., Any]:
    """The function a statement calls: what `Emitter.call` writes, as a callable."""
    prim, kernel = eq.primitive, eq.primitive.kernel
    fun = functools.partial(kernel, **eq.params) if eq.params else kernel
    if isinstance(kernel, np.ufunc) or (not eq.params and (kernel in INFIX or kernel in PREFIX)):
        return fun
    if is_parts_shape(eq.shape):
        return lambda *args: Parts(fun(*args))
    if not isinstance(prim, ArrayPrimitive):
        return lambda *args: _as_array(fun(*args))
    return fun


def layouts(straight: Straight, inputs: Sequence[Any]) -> dict[int, Any] | None:
    """Each variable's strides on a run of the statements at `inputs` (those made before a
    statement that raised), or None where every value is a vector or a scalar, always
    contiguous. NumPy sums in memory order: a result written into a buffer laid out otherwise
    than NumPy lays it out (C order for ``sin(x.T) + y``, the buffer of ``sin(x.T)`` Fortran
    order) would be summed in another order, which changes its bits."""
    statements = straight.statements
    if all(len(shape) < 2 for shape, _ in straight.program.inputs) and all(len(eq.shape) < 2 for eq, _ in statements):
        return None
    last_use = {a: s for s, (_, args) in enumerate(statements) for a in args}
    env = dict(enumerate(inputs))
    found = {i: getattr(x, "strides", None) for i, x in env.items()}
    try:
        with np.errstate(all="ignore"):
            for s, (eq, args) in enumerate(statements):
                value = _kernel(eq)(*[env[a] if a >= 0 else eq.constants[p] for p, a in enumerate(args)])
                found[eq.out] = getattr(value, "strides", None)
                env[eq.out] = value
                for a in (*args, eq.out):  # values freed after their last use, as the run's own
                    if last_use.get(a, -1) <= s:
                        env.pop(a, None)
    except Exception:  # a value this call's check refuses (the source is written all the same)
        pass
    return found


def _alike(layouts: Mapping[int, Any] | None, a: int, b: int) -> bool:
    """Whether variables `a` and `b` had one memory layout on the run `layouts` records (True
    where there is none to check)."""
    return layouts is None or (a in layouts and b in layouts and layouts[a] == layouts[b])


def interpreter(straight: Straight) -> Callable[..., tuple[Any, ...]]:
    """A function of the program's inputs that runs the simplified statements one by one, as
    the source `emit` writes does (the same kernels on the same values, so the same bits), with
    no source to compile: building it costs a fraction of Python's `compile()` of that source,
    running it a little more per statement.

    Values live in one list: the inputs, a scratch slot (where a branch check's None goes),
    working slots given to a later variable after their variable's last use (so an
    intermediate is freed when it dies), and the constants at the end (negative indices, so the
    list is laid out in one pass)."""
    program = straight.program
    n_inputs = program.n_inputs
    constants: list[Any] = []
    constant_slot: dict[int, int] = {}
    last_use: dict[int, int] = {}
    for s, (_, args) in enumerate(straight.statements):
        for a in args:
            last_use[a] = s
    outputs = {o for o in straight.outputs if not isinstance(o, Constant)}
    slot: dict[int, int] = {i: i for i in range(n_inputs)}
    scratch = n_inputs
    free: list[int] = []
    n_slots = n_inputs + 1
    guards = straight.guards
    code = []
    for s, (eq, args) in enumerate(straight.statements):
        if -1 in args:
            ins = []
            for p, a in enumerate(args):
                if a >= 0:
                    ins.append(slot[a])
                    continue
                value = eq.constants[p]
                at = constant_slot.get(id(value))
                if at is None:
                    constants.append(value)
                    at = constant_slot[id(value)] = -len(constants)
                ins.append(at)
        else:
            ins = [slot[a] for a in args]
        for a in args:
            if a >= n_inputs and last_use[a] == s and a in slot and a not in outputs:
                free.append(slot.pop(a))
        if free:
            out = free.pop()
        else:
            out = n_slots
            n_slots += 1
        n_ins = len(ins)
        get = op.itemgetter(*ins) if n_ins else _no_arguments
        code.append((_kernel(eq), get, out, n_ins != 1))
        o = eq.out
        if o in guards:
            code.append((_check(*guards[o]), op.itemgetter(out), scratch, False))
        if o in outputs or o in last_use:
            slot[o] = out
        else:
            free.append(out)  # used by no later statement
    template: list[Any] = [None] * n_slots + constants[::-1]
    input_checks = [(i, _check(*guards[i])) for i in range(n_inputs) if i in guards]
    results: list[tuple[str, Any]] = []
    returned: set[int] = set()
    for o in straight.outputs:
        if isinstance(o, Constant):
            results.append(("copy" if isinstance(o.value, np.ndarray) else "value", o.value))
        else:
            copy = o in returned and bool(program.shape(o))
            results.append(("copy_slot" if copy else "slot", slot[o]))
            returned.add(o)

    def interpreted(*inputs: Any) -> tuple[Any, ...]:
        env = template.copy()
        env[:n_inputs] = inputs
        for i, check in input_checks:
            check(inputs[i])
        for fun, get, out, many in code:
            env[out] = fun(*get(env)) if many else fun(get(env))
        return tuple(
            env[x] if how == "slot" else env[x].copy() if how == "copy_slot" else x.copy() if how == "copy" else x
            for how, x in results
        )

    return interpreted
