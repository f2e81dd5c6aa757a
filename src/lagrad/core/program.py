"""The recorded computation as plain data: a Program of numbered Equations.

Variables are numbered as in the seed: the inputs first (z1 … zm), then one
variable per equation, in the order the equations ran. An equation is
``z_k = f_k(z_{a(k)})``: its primitive, the variables (or constants) it reads,
its static parameters and constants, and how a run keeps the forward values its
rules read. Programs and Equations are immutable: a run's values live in a Tape.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np

from .backend import numpy_dtype

#: How a rule reads a forward value: not at all, only its shape and dtype, or in full.
UNREAD, META, READ = 0, 1, 2


class Aval:
    """The shape and dtype of a forward value that a rule reads only for those, and a Dask
    value's chunks (None for others), in which a reduction's multiplier is spread back."""

    __slots__ = ("shape", "dtype", "chunks")

    def __init__(self, shape: tuple[int, ...], dtype: Any, chunks: Any = None) -> None:
        self.shape = shape
        self.dtype = dtype
        self.chunks = chunks

    @classmethod
    def of(cls, value: Any) -> Aval:
        chunks = None if type(value) is np.ndarray else getattr(value, "chunks", None)
        return cls(value.shape, value.dtype, chunks if isinstance(chunks, tuple) else None)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def __repr__(self) -> str:
        return f"Aval({self.shape}, {self.dtype})"


class PartsDtype(tuple):
    """The dtypes of a several-array value; its `kind` says whether any part is inexact."""

    __slots__ = ()

    @property
    def kind(self) -> str:
        return "f" if any(numpy_dtype(d).kind in "fc" for d in self) else "b"


class Parts(tuple):
    """A value made of several arrays: the result of a primitive with several outputs, or
    its multiplier. It adds part by part, a None part counting as zero."""

    __slots__ = ()

    def __add__(self, other: Any) -> Parts:  # type: ignore[override]
        return Parts(b if a is None else a if b is None else a + b for a, b in zip(self, other))

    __radd__ = __add__

    @property
    def shape(self) -> tuple[tuple[int, ...], ...]:
        return tuple(tuple(a.shape) for a in self)

    @property
    def dtype(self) -> PartsDtype:
        return PartsDtype(a.dtype for a in self)

    def __repr__(self) -> str:
        return f"Parts{tuple.__repr__(self)}"


def is_parts_shape(shape: Any) -> bool:
    return len(shape) > 0 and isinstance(shape[0], tuple)


def size_of(shape: Any) -> int:
    """Number of scalars in a value of this shape (several arrays' shapes add up)."""
    if is_parts_shape(shape):
        return sum(size_of(s) for s in shape)
    return int(np.prod(shape, dtype=np.int64))


def zeros_of(shape: Any, dtype: Any) -> Any:
    """Zeros of a (possibly several-array) shape, as floats where the dtype is not."""
    if is_parts_shape(shape):
        return Parts(zeros_of(s, d) for s, d in zip(shape, dtype))
    dtype = numpy_dtype(dtype)  # another array namespace's dtype as NumPy's
    return np.zeros(shape, dtype=dtype if dtype.kind in "fc" else np.float64)


def _is_complex(dtype: Any) -> bool:
    return dtype is not None and np.dtype(dtype).kind == "c"


def real_size(shape: Any, dtype: Any) -> int:
    """Number of real scalars in a value: a complex scalar is two (its real and imaginary parts)."""
    if is_parts_shape(shape):
        return sum(real_size(s, d) for s, d in zip(shape, dtype))
    return size_of(shape) * (2 if _is_complex(dtype) else 1)


def flat(value: Any, dtype: Any = None, *, covector: bool = False) -> np.ndarray:
    """A value as one real vector: the parts of a several-array value one after another, and a
    complex array as its real parts then its imaginary parts. A `covector` (a multiplier, in the
    convention λ = ∂/∂x − i ∂/∂y) becomes (∂/∂x, ∂/∂y): its imaginary parts change sign."""
    if isinstance(value, Parts):
        dtypes = dtype if dtype is not None else [None] * len(value)
        if not value:
            return np.zeros(0)
        return np.concatenate([flat(v, d, covector=covector) for v, d in zip(value, dtypes)])
    v = np.ravel(value)
    if _is_complex(dtype):
        return np.concatenate([v.real, -v.imag if covector else v.imag])
    return v.real if np.iscomplexobj(v) and dtype is not None else v


def unflat(vector: np.ndarray, shape: Any, dtype: Any = None, *, covector: bool = False) -> Any:
    """The inverse of `flat` for a value of this shape and dtype."""
    if is_parts_shape(shape):
        parts, start = [], 0
        for j, s in enumerate(shape):
            d = None if dtype is None else dtype[j]
            n = real_size(s, d)
            parts.append(unflat(vector[start : start + n], s, d, covector=covector))
            start += n
        return Parts(parts)
    vector = np.asarray(vector)
    if _is_complex(dtype):
        n = size_of(shape)
        re, im = vector[:n], vector[n:]
        return (re - 1j * im if covector else re + 1j * im).reshape(shape).astype(dtype, copy=False)
    out = vector.reshape(shape)
    return out if dtype is None or np.dtype(dtype).kind not in "fc" else out.astype(dtype, copy=False)


def _dtype_of(value: Any) -> np.dtype | None:
    """The NumPy dtype of a value given to a replay, or None if it has none NumPy knows."""
    try:
        return np.dtype(value.dtype) if hasattr(value, "dtype") else np.asarray(value).dtype
    except (TypeError, ValueError):
        return None


def _kept_values(eq: Equation, values: list[Any]) -> list[Any]:
    """Of one run's ``(ans, *args)``, what the equation's rules read, as its `kept` says."""
    out = []
    for p, (how, v) in enumerate(zip(eq.kept, values)):
        if p and eq.args[p - 1] < 0:
            out.append(eq.constants[p - 1])  # a constant: structure
        elif how == UNREAD:
            out.append(None)
        elif how == META:
            out.append(Aval.of(v) if hasattr(v, "shape") else Aval(np.shape(v), np.result_type(v)))
        else:
            out.append(v if p or eq.primitive.keep is None else eq.primitive.keep(v))
    return out


class Constant:
    """A program output that does not depend on the inputs."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"Constant({self.value!r})"


class BranchError(RuntimeError):
    """A replay would take a branch other than the one recorded."""


def _refuse_change(self: Any, name: str, *value: Any) -> None:
    """Equations and Programs are structure shared by every run: setting or deleting refuses."""
    raise AttributeError(f"lagrad: a {type(self).__name__} is immutable structure; it cannot change {name!r}")


class _EquationSlots:
    """An Equation's fields, filled in by plain assignment before it is frozen (`new_equation`)."""

    __slots__ = ("primitive", "out", "args", "params", "diff", "shape", "dtype", "constants", "kept", "source")


class Equation(_EquationSlots):
    """One step ``z_out = primitive(args, **params)``: structure only, immutable (DESIGN.md).

    `args`: per argument, the variable it reads, or -1 for a constant (then in `constants`);
    `kept`: per value in ``(ans, *args)``, how a run keeps it (UNREAD, META or READ); `diff`:
    the argument positions that carry a derivative; `params`: a plain dict (``**params`` at
    dict speed; nothing changes it).
    """

    __slots__ = ()

    def __new__(cls, *fields: Any, **named: Any) -> Equation:  # the fields of `new_equation`
        return new_equation(*fields, **named)

    __setattr__ = __delattr__ = _refuse_change

    def reads(self) -> Iterator[tuple[int, int]]:
        """(position, variable) for every argument that carries a derivative: the nonzero
        blocks ∂f_k/∂z_i of this equation's column."""
        for pos in self.diff:
            yield pos, self.args[pos]

    def rhs(self) -> str:
        """The right-hand side in the seed's notation: ``matmul(z1, z3)``."""
        parts = [f"z{a + 1}" if a >= 0 else _constant_label(self.constants[pos]) for pos, a in enumerate(self.args)]
        parts += [f"{k}={_param_label(v)}" for k, v in self.params.items()]
        return f"{self.primitive.name}({', '.join(parts)})"

    def __repr__(self) -> str:
        return f"z{self.out + 1} = {self.rhs()}"


def new_equation(
    primitive: Any,
    out: int,
    args: tuple[int, ...],
    params: dict[str, Any],
    diff: tuple[int, ...],
    shape: tuple[int, ...],
    dtype: Any,
    constants: tuple[Any, ...],
    kept: tuple[int, ...],
    source: str | None = None,
) -> Equation:
    """An Equation, made without the cost of a class call: tracing's hot path makes one per
    primitive call. The fields are filled in, then the object becomes a (frozen) Equation."""
    eq = object.__new__(_EquationSlots)
    eq.primitive = primitive
    eq.out = out
    eq.args = args
    eq.params = params
    eq.diff = diff
    eq.shape = shape
    eq.dtype = dtype
    eq.constants = constants
    eq.kept = kept
    eq.source = source
    eq.__class__ = Equation
    return eq  # type: ignore[return-value]


def _constant_label(value: Any) -> str:
    if hasattr(value, "_trace"):  # a value of an outer trace, a constant here
        return f"outer{tuple(value.shape)}"
    if isinstance(value, (int, float, complex, bool, np.generic)) or np.ndim(value) == 0:
        return str(value.item() if hasattr(value, "item") else value)
    if np.size(value) <= 4:
        return np.array2string(np.asarray(value), separator=", ")
    return f"const{tuple(np.shape(value))}"


def _param_label(value: Any) -> str:
    if isinstance(value, (np.dtype, type)):
        return np.dtype(value).name
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


class Tape:
    """One run of a Program: ``values[k]``, equation k's ``(ans, *args)`` as its `kept` says
    (constants included), and the run's `outputs`. Made by `Trace.finish` and `Program.replay`."""

    __slots__ = ("values", "outputs")

    def __init__(self, values: list[list[Any]], outputs: Any) -> None:
        self.values = values
        self.outputs = outputs

    def __repr__(self) -> str:
        return f"<Tape: {len(self.values)} equations>"


class Program:
    """The recorded computation: inputs, the ordered equations, outputs. Immutable structure:
    a run's values live in a `Tape`, so solving, replaying or differentiating never changes it.

    ``print(program)`` lists the equations; calling the program replays it on
    new inputs of the same shapes, and refuses (`BranchError`) where a recorded
    branch would go the other way.
    """

    __slots__ = (
        "inputs", "equations", "outputs", "in_tree", "out_tree", "input_names", "guards", "tags", "has_complex",
        "implicit",
    )  # fmt: skip

    def __init__(
        self,
        *,
        inputs: Sequence[tuple[tuple[int, ...], Any]],
        equations: Sequence[Equation],
        outputs: Sequence[Any],
        in_tree: Any = None,
        out_tree: Any = None,
        input_names: Sequence[str] | None = None,
        guards: Mapping[int, Any] | None = None,
        tags: Mapping[str, int] | None = None,
        has_complex: bool = False,
    ) -> None:
        fields = {
            "inputs": tuple(inputs),  # (shape, dtype) of z1 … zm
            "equations": tuple(equations),
            "outputs": tuple(outputs),  # variable index, or Constant, per output leaf
            "in_tree": in_tree,
            "out_tree": out_tree,
            "input_names": tuple(input_names or [f"x{j}" for j in range(len(inputs))]),
            "guards": MappingProxyType(dict(guards or {})),
            "tags": MappingProxyType(dict(tags or {})),
            "has_complex": has_complex,  # multipliers of real variables may arrive complex
        }
        # the equations (by position) whose diagonal block is not -I: fixed points, roots (`lagrad.implicit`)
        fields["implicit"] = tuple(k for k, eq in enumerate(fields["equations"]) if eq.primitive.diagonal is not None)
        for name, value in fields.items():
            object.__setattr__(self, name, value)

    __setattr__ = __delattr__ = _refuse_change

    # -- shape of the system --------------------------------------------------

    @property
    def n_inputs(self) -> int:
        return len(self.inputs)

    @property
    def n_vars(self) -> int:
        return len(self.inputs) + len(self.equations)

    def __len__(self) -> int:
        return self.n_vars

    def equation(self, i: int) -> Equation | None:
        """The equation defining variable `i` (0-based), or None for an input."""
        return None if i < len(self.inputs) else self.equations[i - len(self.inputs)]

    def shape(self, i: int) -> tuple[int, ...]:
        return self.inputs[i][0] if i < len(self.inputs) else self.equations[i - len(self.inputs)].shape

    def dtype(self, i: int) -> Any:
        return self.inputs[i][1] if i < len(self.inputs) else self.equations[i - len(self.inputs)].dtype

    def shapes(self) -> list[tuple[int, ...]]:
        return [s for s, _ in self.inputs] + [eq.shape for eq in self.equations]

    def size(self, i: int) -> int:
        return size_of(self.shape(i))

    def is_complex(self, i: int) -> bool:
        """Whether variable i is complex (any part of it)."""
        dtype = self.dtype(i)
        return any(np.dtype(d).kind == "c" for d in (dtype if isinstance(dtype, PartsDtype) else (dtype,)))

    def differentiable(self, i: int) -> bool:
        dtype = self.dtype(i)
        return dtype.kind in "fc" if isinstance(dtype, PartsDtype) else np.dtype(dtype).kind in "fc"

    def consumers(self) -> list[list[tuple[int, int]]]:
        """b(i) for every variable: (equation number, argument position) of each use
        that carries a derivative."""
        used: list[list[tuple[int, int]]] = [[] for _ in range(self.n_vars)]
        for k, eq in enumerate(self.equations):
            for pos, i in eq.reads():
                used[i].append((k, pos))
        return used

    def tag_of(self, i: int) -> list[str]:
        return [name for name, j in self.tags.items() if j == i]

    # -- replay ---------------------------------------------------------------

    def __call__(self, *args: Any) -> Any:
        """The outputs on new inputs (of the traced shapes); the structure is not changed."""
        return self._run(args, record=False)[0]

    def replay(self, *args: Any) -> Tape:
        """Run the program on new inputs and record what the rules read: a new Tape. The
        Program is not changed; ``AdjointSystem(program, tape)`` is the system there."""
        outputs, values = self._run(args, record=True)
        return Tape(values, outputs)

    def _run(self, args: tuple[Any, ...], record: bool) -> tuple[Any, list[list[Any]]]:
        if self.in_tree is not None:
            n_args = len(self.in_tree.children)
            if len(args) != n_args:
                raise TypeError(f"lagrad: the program takes {n_args} arguments (as traced), got {len(args)}")
            try:
                leaves = self.in_tree.flatten(args)
            except ValueError as error:
                raise ValueError(f"lagrad: the arguments must have the structure traced: {error}") from None
        else:
            leaves = list(args)
        if len(leaves) != len(self.inputs):
            raise TypeError(f"lagrad: the program takes {len(self.inputs)} input arrays, got {len(leaves)}")
        env: list[Any] = [None] * self.n_vars
        for j, (leaf, (shape, dtype)) in enumerate(zip(leaves, self.inputs)):
            leaf_shape = tuple(np.shape(leaf))
            if leaf_shape != tuple(shape):
                raise ValueError(
                    f"lagrad: input z{j + 1} ({self.input_names[j]}) was traced with shape "
                    f"{tuple(shape)} and is given shape {leaf_shape}; trace the function again "
                    f"for new shapes"
                )
            given, traced = _dtype_of(leaf), np.dtype(dtype)
            if given is not None and given.kind != traced.kind and not {given.kind, traced.kind} <= set("biu"):
                raise TypeError(
                    f"lagrad: input z{j + 1} ({self.input_names[j]}) was traced as {traced.name} and is "
                    f"given {given.name}; the replay would compute in other arithmetic. Pass "
                    f"{traced.name} values (x.astype(...)) or trace the function again"
                )
            env[j] = leaf
            self._check_guard(j, leaf)
        taped: list[list[Any]] = []
        for eq in self.equations:
            vals = [env[a] if a >= 0 else eq.constants[pos] for pos, a in enumerate(eq.args)]
            env[eq.out] = value = eq.primitive(*vals, **eq.params)
            if isinstance(value, tuple) and not isinstance(value, Parts):  # several outputs, as tracing keeps them
                env[eq.out] = value = Parts(value)
            if eq.out in self.guards:
                self._check_guard(eq.out, value)
            if record:
                taped.append(_kept_values(eq, [value, *vals]))
        outs = [env[o] if not isinstance(o, Constant) else o.value for o in self.outputs]
        if self.out_tree is None:
            return (outs[0] if len(outs) == 1 else tuple(outs)), taped
        return self.out_tree.unflatten(outs), taped

    def _check_guard(self, i: int, value: Any) -> None:
        if i not in self.guards:
            return
        recorded = self.guards[i]
        now = type(recorded)(value) if not isinstance(recorded, np.ndarray) else np.asarray(value)
        same = np.array_equal(now, recorded) if isinstance(recorded, np.ndarray) else now == recorded
        if not same:
            raise BranchError(
                f"lagrad: on these inputs the branch on z{i + 1} = {self._definition(i)} "
                f"goes {now!r}, but the program was traced with {recorded!r}; replaying would "
                f"compute the other path wrongly. Trace the function again on these inputs."
            )

    def _definition(self, i: int) -> str:
        eq = self.equation(i)
        text = self.input_names[i] if eq is None else eq.rhs()
        if eq is not None and eq.source:
            text += f" ({eq.source})"
        return text

    # -- printing ---------------------------------------------------------------

    def lines(self) -> list[tuple[str, str]]:
        """(equation, comment) per variable, in the seed's notation."""
        rows = []
        for j, (shape, dtype) in enumerate(self.inputs):
            rows.append((f"z{j + 1} = {self.input_names[j]}", self._comment(j, shape, dtype, "input")))
        for eq in self.equations:
            rows.append((repr(eq), self._comment(eq.out, eq.shape, eq.dtype, eq.source)))
            nested = getattr(eq.primitive, "nested_lines", None)  # a loop's body, indented under it
            if nested is not None:
                rows.extend(nested(eq))
        return rows

    def _comment(self, i: int, shape: Any, dtype: Any, extra: str | None) -> str:
        bits = [str(tuple(shape))]
        if isinstance(dtype, PartsDtype):
            bits.append(f"{len(dtype)} parts")
        elif np.dtype(dtype) != np.float64:
            bits.append(np.dtype(dtype).name)
        if extra:
            bits.append(extra)
        if i in self.guards:
            bits.append(f"branch: {self.guards[i]!r}")
        bits += [f"tag: {name}" for name in self.tag_of(i)]
        return "  ".join(bits)

    def __str__(self) -> str:
        rows = self.lines()
        width = max((len(r[0]) for r in rows), default=0)
        outs = ", ".join(f"z{o + 1}" if not isinstance(o, Constant) else "constant" for o in self.outputs)
        head = f"Program: {self.n_inputs} inputs, {len(self.equations)} equations, output {outs}"
        return "\n".join([head] + [f"  {eq.ljust(width)}   # {comment}" for eq, comment in rows])

    def __repr__(self) -> str:
        return f"<Program: {self.n_inputs} inputs, {len(self.equations)} equations>"
