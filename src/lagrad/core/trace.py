"""Recording a computation: `Var`, the value being traced, and `Trace`, the recording.

Every trace has a level; a primitive called on traced values records into the
innermost (highest-level) trace among its arguments and sees values of outer
traces as constants. That is what keeps nested `grad`s apart: in
``d/dx [x · d/dy (x + y)]`` the inner trace records ``x + y`` with `x` a
constant, so its derivative in `y` cannot leak into `x`'s (no perturbation
confusion). Levels come from one global counter, so a trace needs no
thread-local state and traces in different threads never meet.

A `Var` is the Python object the user holds, not the variable: an in-place write
(``x[i] = v``, ``x += y``) records a new equation and makes the object refer to its
variable, the earlier one staying in the Program; views kept in step with the
arrays they were taken from are `lagrad.inplace`'s, a feature built on this module.
"""

from __future__ import annotations

import itertools
import os
import sys
from operator import attrgetter
from typing import Any, NoReturn

import numpy as np

from . import registry
from .backend import UNKNOWN_SHAPE, namespace_constants, namespace_of, numpy_dtype, unknown_shape
from .program import META, READ, UNREAD, Aval, Constant, Equation, Parts, PartsDtype, Program, Tape, new_equation

_levels = itertools.count(1)
_LAGRAD_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: Frames in these are lagrad's machinery, not the user's line (the demo and examples are the
#: user's); lagrad's own paths first, NumPy's and Python's frozen modules last.
_MACHINERY = (*(os.path.join(_LAGRAD_DIR, name) for name in (
    "core", "numpy", "scipy", "adjoint", "transforms.py", "arguments.py", "lazy.py", "structure.py", "explain.py",
    "control.py", "testing.py", "tree.py", "loops.py", "inplace.py",
)), os.path.dirname(np.__file__), "<frozen")  # fmt: skip


class Var:
    """A value being traced: its array value and its index `i` in the Program.

    It behaves like the array it holds: operators and NumPy functions on it
    record equations. A user never needs to name it. An in-place write makes it
    refer to a new variable (`lagrad.inplace`); `_view` links it to the array it is a
    view of, and a root keeps (weakly) the views taken from it in `_views`, oldest first.
    """

    __slots__ = ("value", "index", "_trace", "inexact", "_view", "_views", "__weakref__")

    def __init__(self, value: Any, index: int, trace: Trace, inexact: bool) -> None:
        self.value = value
        self.index = index
        self._trace = trace
        self.inexact = inexact
        self._view: Any = None  # an `inplace.View`
        self._views: list[Any] | None = None

    # -- what it looks like ---------------------------------------------------

    shape = property(attrgetter("value.shape"))
    dtype = property(attrgetter("value.dtype"))
    ndim = property(attrgetter("value.ndim"))
    size = property(attrgetter("value.size"))

    def __len__(self) -> int:
        return len(self.value)

    def __repr__(self) -> str:
        return f"Traced<z{self.index + 1}>({self.value!r})"

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    __hash__ = None  # type: ignore[assignment]  # arrays are not hashable either

    # -- NumPy's dispatch hooks -----------------------------------------------

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if not kwargs and method == "__call__":  # the common ``numpy.tanh(x)``: straight to the primitive
            fun = registry.ufuncs.get(ufunc)
            if fun is not None:
                return fun(*inputs)
        out = kwargs.pop("out", None)
        if out is not None:  # the result, then written into `out` as `out[...] = result` would
            return registry.ops.ufunc_out(self.__array_ufunc__, ufunc, method, inputs, kwargs, out)
        if method != "__call__":
            fun = registry.functions.get((ufunc, method)) or _unsupported((ufunc, method))
            return fun(*inputs, **kwargs)
        fun = registry.ufuncs.get(ufunc) or _unsupported(ufunc)
        if not hasattr(fun, "rules"):  # a wrapper with NumPy's signature (vecdot's axis=): it checks
            return fun(*inputs, **kwargs)
        dtype = kwargs.pop("dtype", None)
        if kwargs:
            if "where" in kwargs:
                fix = "use lagrad.numpy.where to select elements instead of `where=`"
            elif set(kwargs) <= {"casting", "order", "subok"}:
                fix = "drop it (cast the result with .astype(dtype) where a dtype is wanted)"
            else:
                fix = "compute without it (e.g. numpy.moveaxis the operands instead of `axes=`)"
            raise TypeError(
                f"lagrad: numpy.{ufunc.__name__} with {sorted(kwargs)} is not supported on traced values; {fix}."
            )
        result = fun(*inputs)
        return result if dtype is None else registry.ops.astype(result, dtype)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        fun = registry.functions.get(func) or _unsupported(func)
        if kwargs and hasattr(fun, "rules") and any(type(v) is Var for v in kwargs.values()):
            args, kwargs = _positional(func, args, kwargs)  # a primitive takes its arrays positionally
        return fun(*args, **kwargs)

    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        if not self._trace.active:
            raise _ended("numpy.asarray")
        if not self.inexact:  # an index or a mask has no derivative to lose: NumPy may read it,
            value = np.asarray(self.value, dtype=dtype)  # and a replay checks it is unchanged
            self._trace.guard(self, value)
            return value
        explain = registry.explain_conversion  # names the library function that asked, if one did
        raise TypeError(explain(self, sys._getframe(1)) if explain else conversion_message(self))

    # -- Python control flow on a traced value ----------------------------------

    def __bool__(self) -> bool:
        taken = bool(self.value)
        self._trace.guard(self, taken)
        return taken

    def __index__(self) -> int:
        return self._to_python(int, "used as an index or size")

    def __int__(self) -> int:
        return self._to_python(int, "converted with int()")

    def __float__(self) -> float:
        return self._to_python(float, "converted with float()")

    def __complex__(self) -> complex:
        return self._to_python(complex, "converted with complex()")

    def _to_python(self, kind: type, how: str) -> Any:
        if not self._trace.active:
            raise _ended(kind.__name__ + "()")
        if self.inexact:
            raise TypeError(
                f"lagrad: traced value z{self.index + 1} was {how}, which would drop its "
                f"derivative. Keep computing with lagrad.numpy functions; to read the number "
                f"without a derivative (logging), use lagrad.value(x)."
            )
        result = kind(self.value)
        self._trace.guard(self, result)
        return result

    # -- in-place writes (`lagrad.inplace`): a new variable for this object ----------

    def __setitem__(self, index: Any, value: Any) -> None:
        registry.ops.setitem(self, index, value)

    def _alias(self) -> Var:
        """A new object for the same variable: a copy (variables never change)."""
        return Var(self.value, self.index, self._trace, self.inexact)

    def __getitem__(self, index: Any) -> Any:
        if _holds_parts(self):  # one output of a primitive with several
            return registry.ops.part(self, index=index)
        return registry.methods["__getitem__"](self, index)

    def __round__(self, ndigits: int | None = None) -> Any:
        return registry.methods["__round__"](self, ndigits)

    def __iter__(self) -> Any:
        if _holds_parts(self):
            return (registry.ops.part(self, index=i) for i in range(len(self.shape)))
        if self.ndim == 0:
            raise TypeError("lagrad: iteration over a 0-d traced array")
        getitem = registry.methods["__getitem__"]
        return (getitem(self, i) for i in range(self.shape[0]))

    def __getattr__(self, name: str) -> Any:
        prop = registry.methods.get(name)
        if prop is not None:
            if name in _PROPERTIES:
                return prop(self)
            return lambda *args, **kwargs: prop(self, *args, **kwargs)
        if hasattr(np.ndarray, name):
            raise AttributeError(
                f"lagrad: ndarray.{name} is not supported on traced values yet (no derivative "
                f"rule); see docs/coverage.md"
            )
        raise AttributeError(f"'Var' object has no attribute {name!r}")

    __copy__ = _alias

    def __deepcopy__(self, memo: Any) -> Var:
        return self._alias()

    def __reduce__(self) -> Any:
        raise TypeError("lagrad: a traced value cannot be pickled; pickle lagrad.value(x)")


_PROPERTIES = frozenset({"T", "mT", "real", "imag", "at", "flat", "nbytes", "itemsize"})


def _operator(ufunc: Any, form: str) -> Any:
    """Var's special method for one form of a Python operator, through its ufunc's lagrad function:
    ``x op y`` (form ""), ``y op x`` ("r"), ``x op= y`` ("i", a write: `lagrad.inplace`), ``op x``."""
    if ufunc.nin == 1:
        return lambda self: registry.ufuncs[ufunc](self)
    if form == "r":
        return lambda self, other: registry.ufuncs[ufunc](other, self)
    if form == "i":
        return lambda self, other: registry.ops.inplace(self, ufunc, other)
    return lambda self, other: registry.ufuncs[ufunc](self, other)


_BINARY = ("", "r", "i")  # x + y, 1 + x, x += y
#: Python's operators (``__add__``, ``__radd__``, ``__iadd__``...): name, ufunc, forms.
_OPERATORS = [
    ("add", np.add, _BINARY),
    ("sub", np.subtract, _BINARY),
    ("mul", np.multiply, _BINARY),
    ("truediv", np.true_divide, _BINARY),
    ("floordiv", np.floor_divide, _BINARY),
    ("mod", np.remainder, _BINARY),
    ("pow", np.power, _BINARY),
    ("matmul", np.matmul, _BINARY),
    ("and", np.bitwise_and, _BINARY),
    ("or", np.bitwise_or, _BINARY),
    ("xor", np.bitwise_xor, _BINARY),
    ("lshift", np.left_shift, _BINARY),
    ("rshift", np.right_shift, _BINARY),
    ("divmod", np.divmod, ("", "r")),
    ("lt", np.less, ("",)),
    ("le", np.less_equal, ("",)),
    ("gt", np.greater, ("",)),
    ("ge", np.greater_equal, ("",)),
    ("eq", np.equal, ("",)),
    ("ne", np.not_equal, ("",)),
    ("neg", np.negative, ("",)),
    ("pos", np.positive, ("",)),
    ("abs", np.absolute, ("",)),
    ("invert", np.invert, ("",)),
]
for _name, _ufunc, _forms in _OPERATORS:
    for _form in _forms:
        _method = _operator(_ufunc, _form)
        _method.__name__ = f"__{_form}{_name}__"
        setattr(Var, _method.__name__, _method)


def _holds_parts(var: Var) -> bool:
    value = var.value
    while type(value) is Var:
        value = value.value
    return type(value) is Parts


def _positional(func: Any, args: Any, kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """A NumPy call with traced keyword arguments moved to their positions."""
    import inspect

    try:
        signature = inspect.signature(func)
        bound = signature.bind(*args, **kwargs)
    except (TypeError, ValueError):
        return tuple(args), kwargs
    params = list(signature.parameters.values())
    last = max(i for i, p in enumerate(params) if type(bound.arguments.get(p.name)) is Var)
    new_args: list[Any] = []
    new_kwargs: dict[str, Any] = {}
    for i, p in enumerate(params):
        if p.kind is p.VAR_POSITIONAL:
            new_args.extend(bound.arguments.get(p.name, ()))
        elif p.kind is p.VAR_KEYWORD:
            new_kwargs.update(bound.arguments.get(p.name, {}))
        elif i <= last and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            new_args.append(bound.arguments.get(p.name, p.default))
        elif p.name in bound.arguments:
            new_kwargs[p.name] = bound.arguments[p.name]
    return tuple(new_args), new_kwargs


def _qualname(func: Any) -> str:
    module = getattr(func, "__module__", "") or ""
    name = getattr(func, "__name__", repr(func))
    sub = module.split(".")[1] if module.startswith("numpy.") else ""
    return f"{sub}.{name}" if sub in ("linalg", "fft", "random") else name


def _unsupported(key: Any) -> NoReturn:
    """Refuse a NumPy function, ufunc or ufunc method (``(ufunc, "reduce")``) lagrad has no primitive for."""
    name = f"{_qualname(key[0])}.{key[1]}" if type(key) is tuple else _qualname(key)
    raise TypeError(
        f"lagrad: numpy.{name} is not supported on traced values (lagrad has no derivative rule for it). "
        f"Use a supported function (docs/coverage.md) or declare it with lagrad.primitive and lagrad.defvjp."
    )


class TraceEnded(RuntimeError):
    """A traced value was used after the trace that made it had ended."""


class Trace:
    """One recording in progress: the equations, in order, as the function runs.

    Inputs are made first (`new_input`), then every primitive call on this
    trace's values appends one equation; `finish` closes the recording and
    returns the Program. With `record_source`, each equation also remembers
    the user's source line (for `lagrad.trace`/`adjoint`, off the fast path).
    """

    __slots__ = (
        "level", "equations", "n_vars", "n_inputs", "guards", "tags", "record_source", "active", "complex_seen",
        "pending", "values", "dispatch", "nested", "sweep",
    )  # fmt: skip

    def __init__(self, record_source: bool = False) -> None:
        self.level = next(_levels)
        self.equations: list[Equation] = []
        self.n_vars = 0
        self.n_inputs = 0
        self.guards: dict[int, Any] = {}
        self.tags: dict[str, int] = {}
        self.record_source = record_source
        self.active = True
        self.complex_seen = False  # a complex value was recorded: multipliers may turn complex
        self.pending: list[Any] = []  # calls recording equations deferred until a use (`settle`)
        self.values: list[list[Any]] | None = []  # per equation, this run's (ans, *args): the Tape
        self.dispatch = False  # an input lives in another array namespace: primitives pick its functions
        self.nested = False  # an equation read another trace's values (or dispatched): the run holds them
        self.sweep: Any = None  # lagrad.compile's recording: how a back-substitution of its values is run

    def new_input(self, value: Any) -> Var:
        if self.equations:
            raise RuntimeError("lagrad internal: inputs must be made before any equation")
        index = self.n_vars
        self.n_vars += 1
        self.n_inputs += 1
        if type(value) is not np.ndarray and namespace_of(value) is not None:
            self.dispatch = True
        kind = numpy_dtype(value.dtype).kind
        self.complex_seen = self.complex_seen or kind == "c"
        return Var(value, index, self, kind in "fc")

    def apply(self, prim: Any, args: tuple[Any, ...], params: dict[str, Any]) -> Var:
        """Record ``z = prim(*args, **params)``: the hot path of tracing."""
        if not self.active:
            raise _ended(prim)
        if self.pending:
            self.settle()
        if params:
            for name, v in params.items():
                if type(v) is Var:
                    raise TypeError(
                        f"lagrad: {prim.name}(..., {name}=<traced value>): keyword arguments of a primitive are "
                        f"static parameters and carry no derivative. Pass traced arrays positionally."
                    )
        values = [None, *args]  # (ans, *args), as the rules take them
        arg_vars = []
        constants = None  # per argument, the constant or None: a list only once there is a constant
        key = 0
        nested = self.dispatch  # then each primitive picks the namespace's function
        pos = 0
        for a in args:
            pos += 1
            if type(a) is Var and a._trace is self:
                v = values[pos] = a.value
                arg_vars.append(a.index)
                if constants is not None:
                    constants.append(None)
                key |= (3 if a.inexact else 1) << (2 * pos)
                nested = nested or type(v) is Var
            else:
                arg_vars.append(-1)
                if constants is None:
                    constants = [None] * (pos - 1)
                constants.append(a)
                nested = nested or type(a) is Var
        if self.dispatch and constants is not None:  # NumPy scalars as the inputs' namespace's
            namespace_constants(values, constants)
        try:
            if nested:  # another trace's values among the arguments: their run records there
                self.nested = True
                ans = prim(*values[1:], **params)
            else:
                ans = prim.kernel(*values[1:], **params)
        except Exception as error:
            raise _equation_error(self, prim, args, params, error) from error
        try:
            shape = ans.shape
            dtype = ans.dtype
        except AttributeError:  # several outputs, or a Python scalar from a user's primitive
            ans = Parts(ans) if isinstance(ans, tuple) else np.asarray(ans)
            shape, dtype = ans.shape, ans.dtype
        if shape and type(ans) is not np.ndarray and unknown_shape(shape):  # Dask's boolean selections
            raise _equation_error(self, prim, args, params, ValueError(UNKNOWN_SHAPE))
        plan = prim._plans.get(key) or prim.plan(key, pos, getattr(dtype, "kind", "f"))
        if self.values is not None:  # None: a recording replayed from its Program (lagrad.compile), no Tape
            if plan.ans:
                if plan.ans == READ:
                    values[0] = ans if prim.keep is None else prim.keep(ans)
                else:
                    values[0] = Aval(shape, dtype)
            for p in plan.drop:
                values[p] = None
            for p in plan.meta:
                values[p] = Aval.of(values[p])
            self.values.append(values)
        index = self.n_vars
        self.n_vars = index + 1
        try:
            kind = dtype.kind
        except (AttributeError, TypeError):  # another array namespace's dtype(s), recorded as NumPy's
            dtype = PartsDtype(map(numpy_dtype, dtype)) if type(dtype) is PartsDtype else numpy_dtype(dtype)
            kind = dtype.kind
        # integer and boolean results carry no derivative, nor do those of no argument that has one
        inexact = kind in "fc" and key & (key >> 1) != 0
        if kind == "c":
            self.complex_seen = True
        kept = _KEPT.get((plan, pos)) or _kept(plan, pos)
        if constants is None:  # no constant: a shared tuple of Nones
            constants = _NONES[pos] if pos < len(_NONES) else (None,) * pos
        self.equations.append(
            new_equation(
                prim, index, tuple(arg_vars), params, plan.diff if inexact else (), shape, dtype,
                tuple(constants), kept, user_line() if self.record_source else None,
            )
        )  # fmt: skip
        return Var(ans, index, self, inexact)

    def guard(self, var: Var, value: Any) -> None:
        """Remember that Python control flow used `var`'s value, so a replay can check it."""
        if not self.active:
            raise _ended("a branch")
        if self.pending:
            self.settle()
        self.guards[var.index] = value

    def tag(self, var: Var, name: str) -> None:
        if self.pending:
            self.settle()
        named = self.tags.get(name)
        if named is not None and named != var.index:
            raise ValueError(
                f"lagrad.tag: the name {name!r} already names z{named + 1}; a name names one variable, "
                f"so it cannot also name z{var.index + 1}. Give each its own name (e.g. "
                f'f"{name}/{{i}}" in a loop), or tag a container of them at once.'
            )
        self.tags[name] = var.index

    def settle(self) -> None:
        """Record the equations deferred until a use: views read again after an in-place
        write (`lagrad.inplace`), each a call that records its equation if still needed."""
        pending, self.pending = self.pending, []
        for record in pending:
            record()

    def finish(
        self,
        inputs: list[Var],
        outputs: list[Any],
        *,
        in_tree: Any = None,
        out_tree: Any = None,
        input_names: list[str] | None = None,
    ) -> tuple[Program, Tape]:
        """Close the recording: the Program (structure) and the tracing run's Tape (values)."""
        if self.pending:
            self.settle()
        self.active = False
        out = [o.index if type(o) is Var and o._trace is self else Constant(o) for o in outputs]
        program = Program(
            inputs=[(v.shape, v.dtype if type(v.value) is np.ndarray else numpy_dtype(v.dtype)) for v in inputs],
            equations=self.equations,
            outputs=out,
            in_tree=in_tree,
            out_tree=out_tree,
            input_names=input_names,
            guards=self.guards,
            tags=self.tags,
            has_complex=self.complex_seen,
        )
        values = [o.value if type(o) is Var and o._trace is self else o for o in outputs]
        tape = Tape(self.values, values if out_tree is None else out_tree.unflatten(values))
        # The Program and Tape own the equations and values now: a traced value that escapes
        # the function holds its trace, and must not hold every recorded equation with it.
        self.equations = []
        self.values = []
        return program, tape


#: (plan, number of arguments) -> `kept` of its equations: how a run keeps each of (ans, *args).
_KEPT: dict[tuple[Any, int], tuple[int, ...]] = {}
#: The `constants` of an equation of n traced arguments, shared: (None,) * n.
_NONES = tuple((None,) * n for n in range(256))


def _kept(plan: Any, nargs: int) -> tuple[int, ...]:
    kept = tuple(
        plan.ans if p == 0 else UNREAD if p in plan.drop else META if p in plan.meta else READ for p in range(nargs + 1)
    )
    _KEPT[(plan, nargs)] = kept
    return kept


def _ended(what: Any) -> TraceEnded:
    name = getattr(what, "name", what)
    return TraceEnded(
        f"lagrad: {name} was applied to a traced value after its trace had ended (the value "
        f"escaped the function being differentiated, e.g. stored in a global or returned as "
        f"aux). Use lagrad.value(x) to keep a plain copy instead."
    )


def _equation_error(trace: Trace, prim: Any, args: Any, params: dict[str, Any], error: Exception) -> Exception:
    """Re-raise an implementation's error with the equation it was recording."""
    if isinstance(error, TraceEnded):  # a value of an ended outer trace: that is the whole story
        return error
    parts = []
    for a in args:
        if type(a) is Var and a._trace is trace:
            parts.append(f"z{a.index + 1} {tuple(a.shape)}")
        else:
            parts.append(f"{type(a).__name__} {tuple(np.shape(a)) if hasattr(a, 'shape') else ''}".strip())
    call = f"{prim.name}({', '.join(parts)}{''.join(f', {k}={v!r}' for k, v in params.items())})"
    where = user_line()
    message = f"lagrad: equation z{trace.n_vars + 1} = {call}{' at ' + where if where else ''}: {error}"
    if registry.equation_error is not None:  # `lagrad.lazy` names the array libraries where they explain it
        return registry.equation_error(message, prim, args, error)
    try:
        return type(error)(message)
    except Exception:
        return ValueError(message)


def user_line() -> str | None:
    """`file.py:line` of the innermost frame outside lagrad and NumPy."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(_MACHINERY):
            return f"{os.path.basename(filename)}:{frame.f_lineno}"
        frame = frame.f_back
    return None


def conversion_message(var: Var, library_call: str = "") -> str:
    """Why the traced value `var` may not become a plain NumPy array (`library_call`: the
    library function that asked, as `lagrad.explain` finds it)."""
    return (
        f"lagrad: {library_call}z{var.index + 1} is traced and was turned into a plain NumPy array "
        f"(numpy.asarray / numpy.array, or written into a plain NumPy array, which cannot hold "
        f"it): its derivative would be lost. Build arrays from traced values with "
        f"lagrad.numpy.stack or lagrad.numpy.array, or write into a traced array "
        f"(y = x.copy(); y[i] = v, or y = numpy.zeros_like(x); y[i] = v). A list of traced "
        f"values given to a plain NumPy function "
        f"(numpy.mean([a, b])) is read this way, because NumPy does not look inside lists: "
        f"call lagrad.numpy's function of the same name."
    )
