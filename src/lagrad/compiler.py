"""`lagrad.compile`: trace once per input signature, then replay generated straight-line source.

The function (a plain one or any of lagrad's transforms, `grad(f)` included) is traced with
its float arguments as inputs: a transform inside traces and solves as usual, and every
operation it performs, the rules of the back-substitution included, is recorded as an
equation of one Program. `codegen` writes that Program as a Python function, one statement
per equation, with the branches the trace took checked; later calls with the same signature
run it. A branch that goes the other way raises inside the generated code, and the function
is traced again on those inputs (a second variant, kept beside the first).

The work is spread over the calls, in tiers, so that a signature called once or a few times
never pays Python's `compile()` of a long function (tens of microseconds per statement, more
than the trace): the first call answers from the trace itself; the first replay builds
`codegen.interpreter` of the Program's live equations (a list of kernels and slots);
or, where most of it is a traced loop's iterations repeated, short source with them rolled
into Python loops (`rolling`: compiled in a fraction of the straight-line source's time);
after `interpret` calls in that tier the straight-line source is written and compiled, and
runs from then on.
"""

from __future__ import annotations

import functools
import gc
import operator
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Sequence
from typing import Any

import numpy as np

from .codegen import REWRITES, BranchFlipped, Source, Straight, emit, interpreter, layouts, passes
from .control import _stop_gradient
from .core import Trace, Var
from .core.program import Aval, Program, Tape, new_equation
from .rolling import rolled
from .stamping import Sweep
from .tree import tree_flatten, tree_map

Fun = Callable[..., Any]


class CompileTrace(Trace):
    """The recording of a compiled function's first call. `lagrad.value` stops at its values:
    a number read off them is part of the computation to replay, not a constant.

    A transform called first thing on its inputs (`compile(grad(f))`) traces `f` on their plain
    values, as it does uncompiled, and the recording takes that run's equations as its own
    (`lift`): `f`'s operations are recorded once, not by both traces, and only the
    solve's rules are recorded here as they run."""

    __slots__ = ("lifting",)
    replayed = True

    def __init__(self, lifting: bool = False) -> None:
        super().__init__()
        self.lifting = lifting
        self.sweep = Sweep(self)  # a traced loop's solve written from one step's pattern (`stamping`)
        self.values = None  # no Tape: nothing reads this run's values but the Vars that hold them

    def lift(self, leaves: list[Any], record_source: bool) -> LiftedTrace | None:
        """The trace a transform runs on `leaves` where they are this recording's inputs (in any
        order) and nothing has been recorded yet: once per recording. None otherwise (the
        transform traces on these values)."""
        if not self.lifting or self.equations or self.pending or not self.active:
            return None
        for leaf in leaves:  # with no equation recorded, a value of this trace is an input
            if type(leaf) is not Var or leaf._trace is not self or leaf._view is not None:
                return None
        self.lifting = False
        return LiftedTrace(self, leaves, record_source)


class Unlifted(BaseException):
    """A lifted trace's run read a value that the recording must see traced (`lagrad.value`,
    another trace's value, a loop's record): the call is traced again without lifting. A
    BaseException, so that a user's ``except Exception`` does not swallow it."""


class LiftedTrace(Trace):
    """A transform's trace on the plain values of a `CompileTrace`'s inputs (see `CompileTrace.lift`)."""

    __slots__ = ("outer", "leaves", "given", "refused")

    def __init__(self, outer: CompileTrace, leaves: list[Any], record_source: bool) -> None:
        super().__init__(record_source=record_source)
        self.outer = outer
        self.leaves = leaves
        self.given: list[Var] = []  # the recording's inputs among the arguments not differentiated
        self.refused = False  # set with each Unlifted raised: one the function caught still counts

    @property
    def replayed(self) -> bool:
        """Asked by `lagrad.value` (and a few rules) of a traced value: under the recording it
        must be the recording's value, which this run does not hold, so it is traced again."""
        self.refused = True
        raise Unlifted("a traced value's number was read")

    def lift(self, leaves: list[Any], record_source: bool) -> None:
        """A transform inside the lifted run (a second derivative): its finish reads its outputs'
        numbers (`lagrad.value`), which must be the recording's, so the call is traced again at
        once, before any more of the run is wasted."""
        self.refused = True
        raise Unlifted("a transform inside")

    def constant(self, arg: Any) -> Any:
        """An argument the transform does not differentiate, as the function gets it: each of the
        recording's inputs in it as a value with no derivative (a stop-gradient of its plain
        value, made before the function runs), which `lift_run` hands over as that input, so
        that a replay reads each call's argument, never the first call's number."""
        leaves, tree = tree_flatten(arg)
        if not any(type(leaf) is Var and leaf._trace is self.outer for leaf in leaves):
            return arg
        given = []
        for leaf in leaves:
            if type(leaf) is Var and leaf._trace is self.outer:
                self.given.append(leaf)
                leaf = self.apply(_stop_gradient, (leaf.value,), {})
                leaf.inexact = False
            given.append(leaf)
        return tree.unflatten(given)

    def guard(self, var: Var, value: Any) -> None:
        """A given argument itself read as a number (a branch, ``float(x)``, ``np.asarray(x)``):
        the recording, where it carries a derivative, reads it otherwise (a conversion is
        refused there), so the call is traced again at both levels."""
        if len(self.leaves) <= var.index < len(self.leaves) + len(self.given):
            self.refused = True
            raise Unlifted("a given argument read as a number")
        super().guard(var, value)

    def lift_run(self, program: Program, tape: Tape, out_leaves: list[Any], aux: Any) -> tuple[Tape, list[Any], Any]:
        """Hand this run's equations and branches to the recording, and return the Tape,
        outputs and aux with the recording's values in place of the plain ones (as a trace on
        them would have made), so that the solve that reads them is recorded."""
        outer = self.outer
        # another trace's value met (its operations were recorded there), a refusal caught, or the
        # recording took equations of its own meanwhile (the run's would number as theirs)
        if self.nested or self.refused or outer.n_vars != outer.n_inputs or outer.pending:
            self.refused = True
            raise Unlifted("another trace's value was used, a refusal was caught, or the recording grew")
        given = self.given
        ins = [*self.leaves, *given]  # the recording's variables that this run's first ones stand for
        c, start = len(given), outer.n_vars
        n = start + len(program.equations) - c  # the given arguments' c stop-gradients are not handed over
        # this run's variables numbered as the recording's: where they are not already (argnums not
        # starting at 0, keyword arguments, an input left out), each equation is written anew
        renumber = start != len(ins) or any(v.index != i for i, v in enumerate(ins))
        where = [v.index for v in ins] + list(range(start, n)) if renumber else []
        flags: list[bool] = [False] * n  # per variable, whether it carries a derivative
        held: list[Any] = [None] * n  # per variable, the recording's value
        for var in ins:
            flags[var.index] = var.inexact
            held[var.index] = var
        renumbered: list[Any] = []
        # the run's values become the recording's in place: nothing else holds this Tape (the recording keeps none)
        for eq, values in zip(program.equations, tape.values):
            if eq.primitive.keep is not None or type(values) is not list:  # a loop's record
                raise Unlifted("a loop's record")
            args, out = eq.args, eq.out
            if renumber:
                args, out = tuple([where[a] if a >= 0 else a for a in args]), where[out]
                renumbered.append(new_equation(eq.primitive, out, args, eq.params, eq.diff, eq.shape, eq.dtype,
                                               eq.constants, eq.kept, eq.source))  # fmt: skip
            if eq.diff:  # (recorded only for a result with a derivative)
                flags[out] = True
            elif eq.dtype.kind in "fc":  # as `Trace.apply` decides: a float of an argument with a derivative
                for a in args:
                    if a >= 0 and flags[a]:
                        flags[out] = True
                        break
            v = values[0]
            if v is not None and type(v) is not Aval:  # the rules read the result: first made here
                values[0] = held[out] = Var(v, out, outer, flags[out])
            for p, a in enumerate(args, 1):
                if a >= 0:
                    v = values[p]
                    if v is not None and type(v) is not Aval:
                        var = held[a]
                        if var is None:
                            var = held[a] = Var(v, a, outer, flags[a])
                        values[p] = var

        def traced(leaf: Any) -> Any:
            if type(leaf) is not Var or leaf._trace is not self:
                return leaf
            i = where[leaf.index] if renumber else leaf.index
            var = held[i]
            if var is None:
                var = held[i] = Var(leaf.value, i, outer, flags[i])
            return var

        outputs = [traced(o) for o in out_leaves]
        outer.equations.extend(renumbered[c:] if renumber else program.equations[c:])
        outer.n_vars = n
        outer.guards.update({where[i]: g for i, g in program.guards.items()} if renumber else program.guards)
        outer.complex_seen = outer.complex_seen or self.complex_seen
        out_tree = program.out_tree
        tape = Tape(tape.values, outputs if out_tree is None else out_tree.unflatten(outputs))
        return tape, outputs, tree_map(traced, aux)


class Variant:
    """One compiled form of the function, for one input signature and one set of branches, and
    the tier its calls run in (None until its first replay: the trace answered; then
    "interpreted", or "rolled" where a traced loop's iterations make up most of the Program;
    then "compiled")."""

    __slots__ = ("program", "reason", "signature", "seconds", "options", "interpret", "entry", "straight",
                 "source", "function", "tier", "runs", "lock", "unflatten")  # fmt: skip

    def __init__(self, program: Program, reason: str, signature: str, seconds: float, options: dict[str, Any],
                 interpret: int, entry: dict[str, Any]) -> None:  # fmt: skip
        self.program = program
        self.reason = reason
        self.signature = signature
        self.seconds = seconds
        self.options = options
        self.interpret = interpret
        self.entry = entry  # this variant's line of cache_info()["variants"]
        self.straight: Straight | None = None
        self.source: Source | None = None
        self.function: Callable[..., Any] | None = None
        self.tier: str | None = None
        self.runs = 0  # replays in the current tier (counted without the lock: only a schedule)
        self.lock = threading.Lock()
        self.unflatten = _unflattener(program.out_tree)

    def runner(self, inputs: Sequence[Any]) -> tuple[Callable[..., Any], str]:
        """The function the next call (on `inputs`) runs and its tier, built or compiled here when due."""
        function, tier = self.function, self.tier
        if function is None or (tier in _FIRST_TIERS and self.runs >= self.interpret):
            with self.lock:  # one thread builds; the others wait for it, then run what it built
                if self.function is None or (self.tier in _FIRST_TIERS and self.runs >= self.interpret):
                    self._advance(inputs)
                function, tier = self.function, self.tier
        self.runs += 1
        return function, tier  # type: ignore[return-value]

    def _advance(self, inputs: Sequence[Any]) -> None:
        start = time.perf_counter()
        was_enabled = gc.isenabled()
        gc.disable()  # as the trace: the tables built here are freed by reference counting, and the
        # collector's passes over a long Program's objects (a third of the time) would find nothing
        try:
            if self.function is None and self.interpret > 0:
                # the equations as recorded: the other simplifications cost more per equation than the
                # few calls before the straight-line source save, and so does looking for dead ones
                # where loops are rolled (a fifth of that build; a gradient has none: its output's NaN
                # check reads it); the interpreter, which pays per statement run, drops them
                source = rolled(Straight(self.program, prune=False)) if self.options["roll"] else None
                if source is not None:  # a long unrolled loop: its iterations as a Python loop
                    self.function, self.tier = source.function(), "rolled"
                    self.entry["rolled statements"] = source.text.count("\n") - 1
                else:
                    self.function, self.tier = interpreter(Straight(self.program, prune={"dead"})), "interpreted"
            else:
                self.function, self.tier = self.compiled_source(inputs).function(), "compiled"
        finally:
            if was_enabled:
                gc.enable()
        self.runs = 0
        self.entry["tier"] = self.tier
        self.entry[f"{self.tier} seconds"] = time.perf_counter() - start  # to build this tier

    def compiled_source(self, inputs: Sequence[Any]) -> Source:
        """The straight-line source, written once; `inputs` (a call's) give the memory layouts
        that decide which buffers a result may be written into (`codegen.layouts`)."""
        if self.source is None:
            found = layouts(Straight(self.program, prune=False), inputs)  # every variable, as recorded
            self.straight = Straight(self.program, prune=self.options["prune"], layouts=found)
            self.entry["statements"] = len(self.straight.statements)
            options = {k: v for k, v in self.options.items() if k not in ("prune", "roll")}
            self.source = emit(self.straight, layouts=found, **options)
        return self.source


def _is_float_leaf(leaf: Any) -> bool:
    """Whether an argument leaf is traced (an input of the Program): floats and float arrays."""
    if type(leaf) is float or type(leaf) is complex:
        return True
    return isinstance(leaf, (np.ndarray, np.floating, np.complexfloating)) and leaf.dtype.kind in "fc"


def _as_input(leaf: Any) -> Any:
    """A traced leaf as the trace and the generated code take it: a Python number as NumPy's
    (as the transforms take it), so that NumPy's promotion is the same on every call."""
    if type(leaf) is float:
        return np.float64(leaf)
    if type(leaf) is complex:
        return np.complex128(leaf)
    return leaf


def _narrow(dtype: np.dtype) -> bool:
    """Whether NumPy promotes `dtype` beside a Python number otherwise than beside a float64 or
    complex128 scalar: float16, float32 and complex64."""
    return dtype.itemsize < {"f": 8, "c": 16}.get(dtype.kind, 0)


def _holds_narrow(program: Program) -> bool:
    """Whether any input, equation or constant of `program` is float16, float32 or complex64."""
    equations = program.equations
    dtypes = {dtype for _, dtype in program.inputs}
    dtypes.update(map(_dtype_of, equations))  # a set: a long Program holds a few dtypes, each checked once
    dtypes.update(c.dtype for c in _distinct_constants(equations) if isinstance(c, (np.ndarray, np.generic)))
    return any(_narrow(np.dtype(d)) for d in dtypes if isinstance(d, (np.dtype, type, str)))


_dtype_of = operator.attrgetter("dtype")


def _distinct_constants(equations: Sequence[Any]) -> list[Any]:
    """The constants of `equations`, each tuple of them read once (most equations share the
    tuple of Nones of their arity)."""
    seen: dict[int, tuple[Any, ...]] = {}
    for eq in equations:
        seen[id(eq.constants)] = eq.constants
    return [c for constants in seen.values() for c in constants if c is not None]


def _static_key(leaf: Any, who: str) -> Any:
    """A hashable key for an argument leaf that is passed as given (not traced)."""
    if isinstance(leaf, np.ndarray):
        return ("array", leaf.shape, leaf.dtype.str, leaf.tobytes())
    try:
        hash(leaf)
    except TypeError:
        from .core.backend import is_lazy, namespace_of
        from .lazy import backend_name

        if is_lazy(leaf) or namespace_of(leaf) is not None:  # Dask, array-api-strict, CuPy
            raise TypeError(
                f"lagrad.compile({who}) does not run on {backend_name(leaf)} arrays: it writes NumPy code for NumPy "
                f"arrays. Call the function and its transforms uncompiled (lagrad.grad, vjp, jvp... run in "
                f"{backend_name(leaf)}), or pass NumPy arrays"
            ) from None
        raise TypeError(
            f"lagrad.compile({who}): an argument of type {type(leaf).__name__} is neither a float array "
            f"nor hashable, so a compiled variant cannot be looked up for it; pass it as arrays (or a "
            f"tuple, list or dict of them), or make it hashable"
        ) from None
    return (type(leaf), leaf)


class Compiled:
    """A compiled function: call it as the function; see `cache_info()` and `source()`."""

    def __init__(self, fun: Fun, static_argnums: Sequence[int], maxsize: int, reuse_buffers: bool, prune: Any,
                 interpret: int, python_scalars: bool, rewrites: frozenset[str] = REWRITES,
                 roll: bool = True) -> None:  # fmt: skip
        self.fun = fun
        self.static_argnums = tuple(static_argnums)
        self.maxsize = maxsize
        self.reuse_buffers = reuse_buffers
        self.prune = prune
        self.interpret = interpret
        self.python_scalars = python_scalars
        self.rewrites = rewrites
        self.roll = roll
        self._cache: OrderedDict[Any, list[Variant]] = OrderedDict()
        self._lock = threading.Lock()
        # set once a trace met float32/float16/complex64 values beside a traced Python number:
        # Python numbers are then passed as given (see `_python_numbers_given`)
        self._numbers_given = False
        self._counts = {"hits": 0, "interpreted": 0, "rolled": 0, "compiled": 0, "traces": 0, "retraces": 0,
                        "eager": 0}  # fmt: skip
        self._log: list[dict[str, Any]] = []
        self._lift = True  # whether a transform's run may be lifted into the recording (CompileTrace.lift)
        self._plain_keys: dict[Any, Any] = {}  # float-array arguments' shapes, dtypes, strides -> their signature
        # the name and docstring only: a transform's wrapper holds its function's __dict__, which
        # for a Compiled is its state (`fun`, the cache), and would replace this one's
        functools.update_wrapper(self, fun, updated=())

    @property
    def _name(self) -> str:
        return getattr(self.fun, "__name__", type(self.fun).__name__)

    # -- the call --------------------------------------------------------------

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        found = self._signature(args, kwargs)
        if found is None:  # called on traced values (a derivative of the compiled function)
            self._count("eager")
            return self.fun(*args, **kwargs)
        key, leaves, treedef, traced = found
        with self._lock:
            variants = self._cache.get(key)
            if variants is not None:
                self._cache.move_to_end(key)
                variants = list(variants)
        # float arrays only (the fast signature's leaves are the arguments): passed as they are
        inputs = args if leaves is args else [_as_input(leaves[j]) for j in traced]
        flipped = None
        for variant in variants or ():
            function, tier = variant.runner(inputs)
            try:
                with np.errstate(invalid="ignore"):  # as the solve runs: NaN is answered eagerly below
                    outs = function(*inputs)
            except BranchFlipped as flip:
                flipped = (variant.program, flip.index)
                continue
            except (ValueError, OverflowError):  # a `math` function refused a value NumPy takes
                self._count("eager")  # (giving NaN or inf): answered as without compile
                return self._eager(key, list(leaves), treedef, traced)
            if _has_nan(outs):  # lagrad's zero means zero acts only where NaN shows: run eagerly
                self._count("eager")
                return self._eager(key, list(leaves), treedef, traced)
            self._count("hits", tier)
            return variant.unflatten(outs)
        reason = "first call with this signature" if flipped is None else _flip_reason(*flipped)
        return self._trace(key, list(leaves), treedef, traced, reason, retrace=flipped is not None)

    def _eager(self, key: Any, leaves: list[Any], treedef: Any, traced: list[int]) -> Any:
        """`fun` run eagerly on the arguments as the trace takes them: a Python float as NumPy's,
        so that the answer is the one a trace would give (``x ** y`` of Python floats is complex
        where NumPy's is NaN, ``x % 0.0`` raises where NumPy's is NaN)."""
        call_leaves = list(leaves)
        for j in traced:
            call_leaves[j] = _as_input(leaves[j])
        dynamic, kwargs = treedef.unflatten(call_leaves)
        args = list(dynamic)
        for i, value in key[1]:
            args[i] = value
        return self.fun(*args, **kwargs)

    def _count(self, *what: str) -> None:
        with self._lock:
            for name in what:
                self._counts[name] += 1

    def _signature(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """(key, leaves, treedef, traced) of a call, None on traced values. Where every argument is
        a float array (the common case) the key is remembered by their types, shapes and dtypes,
        and the leaves returned are `args` itself."""
        plain = None
        if not kwargs and not self.static_argnums:
            try:  # the types tell apart what else has a shape and a dtype (a NumPy scalar, a Var)
                plain = tuple([(type(a), a.shape, a.dtype, a.strides) for a in args])
            except Exception:  # a Python number, a list, ...: the full signature below
                pass
            else:
                known = self._plain_keys.get(plain)
                if known is not None:  # the signature below, as it came out for these arguments
                    return known[0], args, known[1], known[2]
        found = self._full_signature(args, kwargs)
        every = plain is not None and found is not None and len(found[3]) == len(args)
        if every and all(type(a) is np.ndarray and a.dtype.kind in "fc" for a in args):  # all traced as given
            if len(self._plain_keys) >= 4 * self.maxsize:  # bounded as the cache is
                self._plain_keys.clear()
            self._plain_keys[plain] = (found[0], found[2], found[3])
        return found

    def _full_signature(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        static = []
        dynamic = list(args)
        for i in self.static_argnums:
            if not -len(args) <= i < len(args):
                raise ValueError(
                    f"lagrad.compile({self._name}): static_argnums names argument {i}, but the function "
                    f"was given {len(args)} arguments"
                )
            value = args[i]
            try:
                hash(value)
            except TypeError:
                raise TypeError(
                    f"lagrad.compile({self._name}): static argument {i} is an unhashable "
                    f"{type(value).__name__}; a static argument is part of the cache key, so pass a "
                    f"hashable value (a tuple instead of a list), or leave it out of static_argnums"
                ) from None
            static.append((i % len(args), value))
            dynamic[i % len(args)] = None
        leaves, treedef = tree_flatten((tuple(dynamic), kwargs))
        key: list[Any] = [treedef, tuple(static)]
        traced = []
        for j, leaf in enumerate(leaves):
            if isinstance(leaf, Var):
                return None
            if type(leaf) is np.ndarray and leaf.dtype.kind in "fc":  # the common case, first
                traced.append(j)
                key.append((leaf.shape, leaf.dtype.str, leaf.strides))  # strides: see codegen.layouts
            elif _is_float_leaf(leaf):  # a Python or NumPy scalar, an ndarray subclass (np.memmap)
                traced.append(j)
                strides = getattr(leaf, "strides", None)
                key.append((np.shape(leaf), np.result_type(leaf).str, type(leaf).__name__, strides))
            else:
                key.append(_static_key(leaf, self._name))
        # static values equal by == but not alike: 1, 1.0 and True; 0.0 and -0.0
        key.append(tuple((type(v), repr(v) if type(v) is float or type(v) is complex else None) for _, v in static))
        numbers = [j for j in traced if type(leaves[j]) is float or type(leaves[j]) is complex]
        if numbers and (self._numbers_given or any(_narrow(np.result_type(leaves[j])) for j in traced)):
            for j in numbers:  # as in the function: NumPy's weak promotion keeps float32 float32
                key[2 + j] = (type(leaves[j]), repr(leaves[j]))  # repr: -0.0 is not 0.0, NaN is NaN
            traced = [j for j in traced if j not in numbers]
        return _Key(key), leaves, treedef, traced

    # -- the first call: trace, simplify, write the source -------------------------

    def _trace(self, key: Any, leaves: list[Any], treedef: Any, traced: list[int], reason: str, retrace: bool) -> Any:
        was_enabled = gc.isenabled()
        gc.disable()  # as the transforms do: a trace's objects are freed by reference counting
        try:
            return self._trace_and_generate(key, leaves, treedef, traced, reason, retrace)
        finally:
            if was_enabled:
                gc.enable()

    def _trace_and_generate(
        self, key: Any, leaves: list[Any], treedef: Any, traced: list[int], reason: str, retrace: bool
    ) -> Any:
        start = time.perf_counter()
        lifting = self._lift
        trace = CompileTrace(lifting=lifting)
        inputs = [trace.new_input(_as_input(leaves[j])) for j in traced]
        call_leaves = list(leaves)
        for j, var in zip(traced, inputs):
            call_leaves[j] = var
        dynamic, kwargs = treedef.unflatten(call_leaves)
        args = list(dynamic)
        for i, value in key[1]:
            args[i] = value
        random_state = np.random.get_state(legacy=False)
        try:
            result = self.fun(*args, **kwargs)
        except Unlifted:  # traced again at both levels, and so from now on
            trace.active = False
            self._lift = False
            return self._trace_and_generate(key, leaves, treedef, traced, reason, retrace)
        except BaseException as error:
            trace.active = False
            if isinstance(error, TypeError) and "lagrad" in str(error) and hasattr(error, "add_note"):
                error.add_note(
                    f"lagrad.compile({self._name}): the float arguments are traced; one used as a "
                    f"Python number (a count, a size, float(x)) must be passed in static_argnums"
                )
            raise
        out_leaves, out_tree = tree_flatten(result)
        if any(callable(o) and not isinstance(o, (Var, np.ndarray)) for o in out_leaves):
            trace.active = False
            raise TypeError(
                f"lagrad.compile({self._name}): the function returned a function (a vjp's pullback, a closure), "
                f"which would hold this trace's values; call it inside the compiled function and return its result"
            )
        program, tape = trace.finish(inputs, out_leaves, out_tree=out_tree)
        if any(type(leaves[j]) in (float, complex) for j in traced) and _holds_narrow(program):
            # a Python number traced as float64 promoted float32 values the function keeps float32
            # (a float32 constant it closes over): from now on numbers are passed as given
            del tape
            with self._lock:
                self._numbers_given = True
                self._cache.clear()
            self._count("eager")
            dynamic, kwargs = treedef.unflatten(leaves)
            args = list(dynamic)
            for i, value in key[1]:
                args[i] = value
            return self.fun(*args, **kwargs)
        # a constant output is held by the Program, which later calls copy: this call's answer is
        # a copy too, so that the caller writing into it does not change what later calls return
        outputs = [
            o.value if isinstance(o, Var) and o._trace is trace else o.copy() if isinstance(o, np.ndarray) else o
            for o in out_leaves
        ]
        value = out_tree.unflatten(outputs)
        del tape
        if _has_nan(outputs):  # traced where zero means zero acted: not kept, answered eagerly (see __call__)
            self._count("eager")
            self._note(reason, "not kept: NaN in the outputs", program, time.perf_counter() - start)
            return self._eager(key, leaves, treedef, traced)
        loop = _data_dependent_loop(program) or _drew(random_state)
        if loop is not None:  # its derivative was traced for this call's iterations and branches
            self._count("eager")
            self._note(reason, f"not kept: {loop}", program, time.perf_counter() - start)
            return value
        seconds = time.perf_counter() - start
        entry = self._note(reason, "traced", program, seconds)
        entry["lifted"] = lifting and not trace.lifting  # a transform's run taken over: f traced once
        entry["steps written"] = trace.sweep.written  # a traced loop's solve written from one step's pattern
        options = {"prune": self.prune, "reuse_buffers": self.reuse_buffers, "python_scalars": self.python_scalars,
                   "rewrites": self.rewrites, "roll": self.roll}  # fmt: skip
        variant = Variant(program, reason, entry["signature"], seconds, options, self.interpret, entry)
        with self._lock:
            self._counts["retraces" if retrace else "traces"] += 1
            variants = self._cache.setdefault(key, [])
            variants.insert(0, variant)  # the newest first: the branches of the latest inputs
            self._cache.move_to_end(key)
            while sum(len(v) for v in self._cache.values()) > self.maxsize:
                oldest = next(iter(self._cache))
                if len(self._cache[oldest]) > 1:
                    self._cache[oldest].pop()
                else:
                    del self._cache[oldest]
        return value

    def _note(self, reason: str, outcome: str, program: Program, seconds: float) -> dict[str, Any]:
        entry = {
            "reason": reason,
            "outcome": outcome,
            "signature": ", ".join(f"{tuple(s)} {np.dtype(d).name}" for s, d in program.inputs),
            "equations": len(program.equations),
            "statements": None,
            "branches": len(program.guards),
            "seconds": seconds,
            "lifted": False,
            "steps written": 0,
            "tier": None,
        }
        with self._lock:
            self._log.append(entry)
            del self._log[: -4 * self.maxsize]
        return entry

    # -- what it did -------------------------------------------------------------

    def cache_info(self) -> dict[str, Any]:
        """Calls answered by a variant (`hits`: `interpreted`, `rolled` and `compiled`, the tier
        that ran), first traces per signature (`traces`), traces again after a branch went the other
        way (`retraces`), calls run eagerly (`eager`: on traced values, or where NaN showed), the
        variants held (`size`, at most `maxsize`), and per trace why it was made (`variants`:
        reason, outcome, signature, equations recorded and statements generated, branches
        checked, seconds the trace took, whether a transform's run was `lifted` into the recording
        (its function's operations recorded once), how many steps of traced loops had their solve
        written from one step's pattern (`steps written`, see `stamping`), the `tier` its calls run
        in now, and the seconds spent building each tier: `interpreted seconds` or `rolled seconds`,
        `compiled seconds`; the lines of the rolled source: `rolled statements`)."""
        with self._lock:
            size = sum(len(v) for v in self._cache.values())
            return {**self._counts, "size": size, "maxsize": self.maxsize, "variants": [dict(e) for e in self._log]}

    def clear_cache(self) -> None:
        """Forget every variant: the next call traces again (after global state changed)."""
        with self._lock:
            self._cache.clear()

    def source(self, *args: Any, **kwargs: Any) -> str:
        """The generated source of the variant these arguments run (traced now if needed)."""
        found = self._signature(args, kwargs)
        if found is None:
            raise TypeError(f"lagrad.compile({self._name}).source: called on traced values")
        key = found[0]
        for _ in range(2):
            with self._lock:
                variants = list(self._cache.get(key, ()))
            inputs = [_as_input(found[1][j]) for j in found[3]]
            for variant in variants:
                with variant.lock:
                    source = variant.compiled_source(inputs)
                try:
                    (variant.function or source.function())(*inputs)
                except BranchFlipped:
                    continue
                return source.text
            self(*args, **kwargs)
        raise RuntimeError(f"lagrad.compile({self._name}).source: these arguments were not compiled (NaN outputs)")

    def __repr__(self) -> str:
        return f"<lagrad.compile of {self._name}>"


#: The tiers that run `interpret` calls before the straight-line source is compiled.
_FIRST_TIERS = ("interpreted", "rolled")


def _data_dependent_loop(program: Program) -> str | None:
    """Why `program` cannot be replayed for other inputs, where it holds a structured loop whose
    path depends on the values: a `while_loop` (its trip count) or a body or condition with
    branches. Its forward equation replays them, but a derivative traced through the loop (a
    compiled `grad`) was recorded for this call's iterations and branches, which no guard of
    the outer Program checks. None where every loop's path is fixed."""
    from .loops import LoopBody  # the loops build on the compiler's code writer

    for params in filter(None, map(_params, program.equations)):  # most equations have none
        for spec in params.values():
            if not isinstance(spec, LoopBody):
                continue
            if spec.conds:
                return f"{spec.who}: its trip count depends on the values; this call ran eagerly"
            if len(spec.variants) > 1 or any(v.guards for v in spec.variants):
                return f"{spec.who}: its body branches on the values; this call ran eagerly"
            nested = next((why for v in spec.variants if (why := _data_dependent_loop(v.program))), None)
            if nested is not None:
                return nested
    return None


_params = operator.attrgetter("params")


def _drew(before: dict[str, Any]) -> str | None:
    """Why the trace cannot be replayed, where the function drew from NumPy's global random
    state (np.random.normal, lagrad.numpy.random...) since `before`: the draws are constants of
    the trace, which a replay would repeat. (A Generator or RandomState of the function's own
    is not seen: docs/compile.md, "Limits".)"""
    after = np.random.get_state(legacy=False)
    same = before["state"].keys() == after["state"].keys() and all(
        np.array_equal(before["state"][k], after["state"][k]) for k in before["state"]
    )
    if same and all(before[k] == after[k] for k in before if k != "state"):
        return None
    return "it draws from NumPy's global random state (np.random.*), which a replay would repeat; this call ran eagerly"


def _flip_reason(program: Program, i: int) -> str:
    eq = program.equation(i)
    where = program.input_names[i] if eq is None else eq.rhs()
    return f"branch on z{i + 1} = {where} went the other way (traced: {program.guards[i]!r})"


def _has_nan(outputs: Sequence[Any]) -> bool:
    """Whether an output holds NaN. ``x · x`` of a real `x` is NaN exactly where `x` holds NaN
    (squares are ≥ 0: no inf − inf), in one BLAS pass without the boolean array ``isnan(x)``
    would make; a complex output is checked as its real and imaginary parts (BLAS's complex
    product makes NaN of a finite ``re·im`` that overflows)."""
    for o in outputs:
        if type(o) is np.ndarray and o.dtype.kind == "f":  # the common case, first
            square = _vdot(o, o)
        elif isinstance(o, (np.ndarray, np.inexact)) and o.dtype.kind in "fc":
            square = _vdot(o, o) if o.dtype.kind == "f" else _vdot(o.real, o.real) + _vdot(o.imag, o.imag)
        elif type(o) is float:
            square = o
        else:
            continue
        if square != square:
            return True
    return False


class _Key(tuple):  # type: ignore[type-arg]
    """A signature, the cache's key: a tuple whose hash is computed once, where it is made (the
    argument tree's hash walks the tree). A call that finds its signature remembered hands the
    same object to the cache, whose lookup then compares by identity."""

    def __new__(cls, items: Any) -> _Key:
        self = super().__new__(cls, items)
        self._hash = tuple.__hash__(self)
        return self

    def __hash__(self) -> int:
        return self._hash

    __eq__ = tuple.__eq__  # (defining __hash__ alone would keep tuple's equality, but say so)


def _unflattener(tree: Any) -> Callable[[Sequence[Any]], Any]:
    """The generated code's outputs (a tuple) as the function's result: the tuple itself where
    the result is a tuple of leaves (a gradient in several arguments), the one leaf, else
    `tree.unflatten`."""
    if tree is None:
        return tuple
    if tree.kind == "leaf":
        return operator.itemgetter(0)
    if tree.kind is tuple and all(child.kind == "leaf" for child in tree.children):
        return tuple
    return tree.unflatten


_vdot = np.vdot


def compile(  # noqa: A001  (lagrad.compile, as jax.jit: the name says what it does)
    fun: Fun, static_argnums: int | Sequence[int] = (), *, maxsize: int = 64, reuse_buffers: bool = True,
    prune: bool | Collection[str] = True, interpret: int = 10, python_scalars: bool = True,
    rewrites: Collection[str] = REWRITES, roll: bool = True,
) -> Compiled:  # fmt: skip
    """`fun` (a plain function or any lagrad transform of one), traced on its first call per
    input signature and replayed as generated Python source afterwards.

    The signature is the arguments' tree structure, the shapes and dtypes of the float
    arguments (which are traced: Python floats, NumPy float scalars and arrays), the values
    of every other argument (integers, integer arrays, strings: passed as given, so they may
    steer Python control flow), and the arguments named in `static_argnums` (hashable;
    passed as given; so are Python floats where float32, float16 or complex64 values are about,
    which NumPy keeps in their precision beside a Python number but not beside a traced float64
    scalar). Branches taken on traced values are checked on every call: one that
    goes the other way traces again and keeps that variant too (at most `maxsize` variants).

    Like `jax.jit`, the trace sees global state once: an array or setting the function reads
    from outside its arguments is baked in as it was on the first call, and a later change
    is not seen (call `clear_cache()`, or pass it as an argument). Called on traced values
    (a derivative of the compiled function), `fun` runs eagerly. Where NaN shows in the
    results, the call is answered eagerly too, so lagrad's zero-means-zero masking is the
    same as without compile. `reuse_buffers` writes elementwise results into the buffers
    of intermediates at their last use (``out=``); `prune` drops repeated and dead equations
    and folds products with ones (True; or name the ones wanted: "repeated", "ones", "dead");
    `python_scalars` holds float64 scalars that only arithmetic reads as Python floats (the
    same bits, a fraction of the cost in a scalar loop); `rewrites` names the rewritings of the
    generated code beyond one call per statement (all of `codegen.REWRITES` by default: "roll",
    "item", "in_place", "chain", "accumulate", "transposed", "narrow", "math", "check", "spelled";
    each gives the same bits, and leaving one out measures what it brings).

    The first call per signature answers from the trace; the next `interpret` calls run the
    recorded equations through an interpreter (cheap to build: no source to compile) or, where
    `roll` finds a traced loop's iterations repeated over most of the Program, through short
    source with those iterations as Python loops (`rolling`: cheap to compile, faster than the
    interpreter); the call after them writes and compiles the straight-line source, which runs
    from then on. `interpret=0` compiles on the first replay. All tiers give the same bits.
    """
    if not callable(fun):
        raise TypeError(f"lagrad.compile: the first argument must be the function to compile, not {fun!r}")
    nums = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
    if not all(isinstance(i, int) for i in nums):
        raise TypeError(f"lagrad.compile: static_argnums must be an int or a tuple of ints, not {static_argnums!r}")
    if not isinstance(maxsize, int) or maxsize < 1:
        raise ValueError(f"lagrad.compile: maxsize must be a positive int, not {maxsize!r}")
    passes(prune)  # an unknown name is refused here, not at the first replay
    if not isinstance(interpret, int) or interpret < 0:
        raise ValueError(f"lagrad.compile: interpret must be a count of calls (an int >= 0), not {interpret!r}")
    chosen = frozenset(rewrites)
    if not chosen <= REWRITES:
        raise ValueError(
            f"lagrad.compile: rewrites names {sorted(chosen - REWRITES)}; the rewritings are {sorted(REWRITES)}"
        )
    return Compiled(fun, nums, maxsize, reuse_buffers, prune, interpret, bool(python_scalars), chosen, bool(roll))
