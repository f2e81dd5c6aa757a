"""`lagrad.derive`: the gradient of a function as Python source a person can read and run.

The forward equations come first, in the seed's names (``z3 = np.tanh(z2)``) with the
user's source line of each as a comment; then the back-substitution, one statement per
block product in the order it runs: ``lam_2 = lam_2 + <(∂f_k/∂z_2)ᵀ lam_k>``. A block product
is spelled by tracing its rule on the run's values (so the text is what the rule computes),
each operation as NumPy where NumPy has a spelling that gives the same result bit for bit
(checked on those values). Where every operation has one, the text runs with NumPy alone.
"""

from __future__ import annotations

import inspect
import linecache
import os
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from .adjoint.operators import operator
from .arguments import _argnums
from .codegen import INFIX, PREFIX, _index_text, _literal
from .core import Trace
from .core.program import Aval, Constant, Equation, Program
from .transforms import _scalar_output, _trace
from .tree import tree_flatten

__all__ = ["Derivation", "derive"]


class Derivation(str):
    """The derived source (a `str`). `constants` maps the names it uses for values it cannot
    spell as literals (arrays the function reads from outside its arguments) to those values;
    `numpy_only` says whether every operation is spelled with NumPy (no lagrad needed)."""

    constants: dict[str, Any]
    numpy_only: bool
    name: str

    def function(self) -> Any:
        """The text run (with `numpy` and the constants): the function it defines."""
        scope: dict[str, Any] = {**self.constants}
        exec(compile(str(self), "<lagrad.derive>", "exec"), scope)
        return scope[self.name]


class _Writer:
    """Spells operations as NumPy where it can (checked on the run's values), else names them."""

    def __init__(self) -> None:
        self.constants: dict[str, Any] = {}
        self._names: dict[int, str] = {}
        self.numpy_only = True
        self.locals = 0
        self.counts: dict[str, int] = {}  # subexpression text -> times the block products write it
        self.named: dict[str, str] = {}  # subexpression text -> the variable holding it

    def local(self) -> str:
        """A new name for a subexpression a block product uses more than once."""
        self.locals += 1
        return f"t{self.locals}"

    def constant(self, value: Any) -> str:
        text = _literal(value)
        if text is not None:
            return text
        if isinstance(value, np.generic) and np.isfinite(value):
            return f"np.{type(value).__name__}({value.item()!r})"
        if (
            isinstance(value, np.ndarray)
            and value.size <= 6
            and value.dtype.kind in "biuf"
            and np.isfinite(value).all()
        ):
            return f"np.array({value.tolist()!r}, dtype={value.dtype.name!r})"
        name = self._names.get(id(value))
        if name is None:
            name = self._names[id(value)] = f"const_{len(self._names)}"
            self.constants[name] = value
        return name

    def spell(self, eq: Equation, args: list[str], values: list[Any], ans: Any) -> str:
        """`eq`'s right-hand side on the argument texts `args` (values: `values`, result `ans`)."""
        prim, kernel = eq.primitive, eq.primitive.kernel
        if not eq.params and kernel in INFIX and len(args) == 2:
            return f"{_paren(args[0])} {INFIX[kernel]} {_paren(args[1])}"
        if not eq.params and kernel in PREFIX and len(args) == 1:
            return f"{PREFIX[kernel]}{_paren(args[0])}"
        params = [f"{k}={self.constant(v)}" for k, v in eq.params.items()]
        if prim.name == "stop_gradient" and len(args) == 1 and _equal(values[0], ans):
            return args[0]  # a value without a derivative: in NumPy, the value itself
        if prim.name == "getitem" and len(args) == 1:
            index = _index_text(eq.params["index"].fill(()))
            if index is not None and _equal(values[0][eq.params["index"].fill(())], ans):
                return f"{_paren(args[0])}[{index}]"
        if prim.name == "astype" and len(args) == 1 and _equal(np.asarray(values[0]).astype(eq.params["dtype"]), ans):
            return f"{_paren(args[0])}.astype({self.constant(eq.params['dtype'])})"
        if prim.name in ("concatenate", "stack") and all("const_" not in p for p in params):
            with np.errstate(all="ignore"):
                same = _equal(getattr(np, prim.name)(values, **eq.params), ans)
            if same:  # NumPy takes the arrays as one sequence
                return f"np.{prim.name}([{', '.join(args)}], {', '.join(params)})"
        numpy_fun = getattr(np, getattr(kernel, "__name__", ""), None) if isinstance(kernel, np.ufunc) else None
        numpy_fun = numpy_fun or getattr(np, prim.name, None)
        if callable(numpy_fun) and all("const_" not in p for p in params):
            try:
                with np.errstate(all="ignore"):
                    same = _equal(numpy_fun(*values, **eq.params), ans)
            except Exception:
                same = False
            if same:
                return f"np.{numpy_fun.__name__}({', '.join(args + params)})"
        self.numpy_only = False
        name = f"lagrad_{prim.name}"
        self.constants[name] = kernel
        return f"{name}({', '.join(args + params)})"


def _paren(text: str) -> str:
    """`text` in parentheses unless it is one operand already (a name, a call, an index)."""
    depth = 0
    for j, c in enumerate(text):
        depth += c in "([{"
        depth -= c in ")]}"
        if depth == 0 and (c == " " or (c == "-" and j == 0)):
            return f"({text})"
    return text


def _equal(a: Any, b: Any) -> bool:
    if isinstance(b, tuple) or isinstance(a, tuple):
        return False
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)


def _run(program: Program, leaves: list[Any]) -> list[Any]:
    """Every variable's value on this run (the Tape keeps only what the rules read)."""
    env: list[Any] = list(leaves) + [None] * len(program.equations)
    for eq in program.equations:
        vals = [env[a] if a >= 0 else eq.constants[p] for p, a in enumerate(eq.args)]
        env[eq.out] = eq.primitive.kernel(*vals, **eq.params)
    return env


def _source_text(where: str | None, fun: Any) -> str:
    """`file.py:12  y = x @ w` for a recorded source position, the line read where it can be."""
    if not where:
        return ""
    name, _, line = where.rpartition(":")
    try:
        filename = inspect.getsourcefile(inspect.unwrap(fun)) or ""
    except TypeError:
        filename = ""
    text = linecache.getline(filename, int(line)).strip() if os.path.basename(filename) == name else ""
    return f"{where}  {text}" if text else where


def derive(fun: Any, *args: Any, argnums: int | Sequence[int] | None = None, **kwargs: Any) -> Derivation:
    """The gradient of the scalar function `fun` at `args` as Python source: ``def <name>_grad(z1,
    …)`` returning ``(value, (λ of each input, …))``, the forward equations then one line per
    block product of the back-substitution. Shapes, dtypes and branches are those of `args`
    (the text is specialised to them, as a trace is). Every argument is an input unless
    `argnums` says otherwise."""
    traced = _trace(fun, args, kwargs, argnums, "derive", record_source=True)
    program = traced.program
    out = _scalar_output(traced, "derive")
    if program.has_complex:
        raise NotImplementedError("lagrad.derive: complex values are not supported yet; use lagrad.grad")
    for eq in program.equations:
        if eq.primitive.diagonal is not None or hasattr(eq.primitive, "nested_lines"):
            raise NotImplementedError(
                f"lagrad.derive: z{eq.out + 1} = {eq.primitive.name}(...) is a structured loop or an "
                f"implicit equation, whose derivative derive does not write out yet; use lagrad.grad "
                f"(or lagrad.compile for a loop)"
            )
    writer = _Writer()
    name = f"{getattr(fun, '__name__', 'f')}_grad".replace("<", "").replace(">", "")
    nums, _ = _argnums(argnums, len(args), "derive")
    leaves = [np.asarray(v) for v in tree_flatten(tuple(args[i] for i in nums))[0]]
    env = _run(program, leaves)
    z = [f"z{i + 1}" for i in range(program.n_vars)]
    lines = [
        "import numpy as np",
        "",
        "",
        f"def {name}({', '.join(z[: program.n_inputs])}):",
        f'    """d {getattr(fun, "__name__", "f")}: the forward equations, then A λ = b back-substituted."""',
    ]
    for j in range(program.n_inputs):
        shape, dtype = program.inputs[j]
        lines.append(f"    # z{j + 1} = {program.input_names[j]}  {tuple(shape)} {np.dtype(dtype).name}")
    for eq in program.equations:
        argtexts = [z[a] if a >= 0 else writer.constant(eq.constants[p]) for p, a in enumerate(eq.args)]
        vals = [env[a] if a >= 0 else eq.constants[p] for p, a in enumerate(eq.args)]
        comment = _source_text(eq.source, fun)
        text = writer.spell(eq, argtexts, vals, env[eq.out])
        writer.named.setdefault(text, z[eq.out])  # a rule computing it again reads the variable
        lines.append(f"    {z[eq.out]} = {text}" + (f"  # {comment}" if comment else ""))
    lines.append("    # back-substitution: λ_i = Σ_k (∂f_k/∂z_i)ᵀ λ_k, from the output up")
    # Twice: the first pass counts the subexpressions the block products would write (those
    # reading no multiplier: they mean the same wherever they stand), the second writes them,
    # naming each one written more than once at its first use (``t3 = …``), and a forward
    # equation's own expression by its variable. As lagrad's back-substitution, unguarded first;
    # where NaN reaches an input's multiplier, both passes again with zero means zero (a zero
    # multiplier against a NaN partial gives 0: the mask written where these values show NaN).
    tape = traced.tape
    passes = [(True, False), (False, False)]  # (counting, guarded)
    for counting, guarded in passes:
        lam: list[Any] = [None] * program.n_vars
        if out is not None:
            seed = np.ones((), dtype=np.dtype(program.dtype(out)))
            lam[out] = seed
            if not counting:
                lines.append(f"    lam_{out + 1} = {writer.constant(seed)}")
        for k in range(len(program.equations) - 1, -1, -1):
            eq = program.equations[k]
            g = lam[eq.out]
            if g is None:
                continue
            for pos in eq.diff:
                i = eq.args[pos]
                ct, text, shared = _block_product(
                    writer, eq, pos, g, tape.values[k], program.shape(i), z, env, counting, guarded
                )
                lam[i] = ct if lam[i] is None else lam[i] + ct
                if counting:
                    continue
                lines.extend(f"    {line}" for line in shared)
                target = f"lam_{i + 1}"
                if lam[i] is ct:
                    lines.append(f"    {target} = {text}")
                else:
                    lines.append(f"    {target} = {target} + {_paren(text)}")
        if (
            counting
            and not guarded
            and any(np.isnan(lam[j]).any() for j in range(program.n_inputs) if lam[j] is not None)
        ):
            writer.counts.clear()
            passes[1:] = [(True, True), (False, True)]
    grads = []
    for j, (_, dtype) in enumerate(program.inputs):
        if lam[j] is None:
            grads.append(f"np.zeros_like({z[j]})")
        elif np.result_type(lam[j]) != np.dtype(dtype):  # as lagrad's gradient: in the input's dtype
            grads.append(f"lam_{j + 1}.astype(np.{np.dtype(dtype).name})")
        else:
            grads.append(f"lam_{j + 1}")
    value = z[out] if out is not None else writer.constant(np.asarray(traced.outputs[0]))
    lines.append(f"    return {value}, ({', '.join(grads)}{',' if len(grads) == 1 else ''})")
    result = Derivation("\n".join(_inline_single_uses(lines)) + "\n")
    result.constants = writer.constants
    result.numpy_only = writer.numpy_only
    result.name = name
    return result


_LOCAL = re.compile(r"\bt\d+\b")


def _inline_single_uses(lines: list[str]) -> list[str]:
    """The lines with a named subexpression that ended up used once (its uses were all inside
    another named one) written back in place of its name."""
    uses: dict[str, list[int]] = {}
    for j, line in enumerate(lines):
        for name in _LOCAL.findall(line):
            uses.setdefault(name, []).append(j)
    dropped = set()
    for j, line in enumerate(lines):
        name, eq, text = line.strip().partition(" = ")
        if eq and name in uses and uses[name][0] == j and len(uses[name]) == 2:
            k = uses[name][1]
            lines[k] = re.sub(rf"\b{name}\b", lambda _: _paren(text), lines[k])
            dropped.add(j)
    return [line for j, line in enumerate(lines) if j not in dropped]


def _block_product(
    writer: _Writer,
    eq: Equation,
    pos: int,
    g: Any,
    kept: list[Any],
    shape: Any,
    z: list[str],
    env: list[Any],
    counting: bool = False,
    guarded: bool = False,
) -> tuple[Any, str, list[str]]:
    """``(∂f_k/∂z_i)ᵀ g`` for argument `pos` of `eq`: its value, one expression for it, and the
    statements naming the subexpressions that expression uses more than once (``t3 = …``,
    computed once, as the rule computes them). The rule is traced with `g` and the forward
    values it reads as inputs. `counting`: only count the subexpressions in `writer.counts`;
    `guarded`: zero means zero, as the operator applies it."""
    op = operator(eq.primitive, pos)
    trace = Trace()
    names = ["G"]
    g_var = trace.new_input(np.asarray(g))
    values: list[Any] = []
    inputs = [g_var]
    forward = [eq.out, *eq.args]
    for p, v in enumerate(kept):
        if v is None or isinstance(v, Aval) or (p and eq.args[p - 1] < 0):
            values.append(v)
        else:
            var = trace.new_input(np.asarray(env[forward[p]]))
            inputs.append(var)
            names.append(z[forward[p]])
            values.append(var)
    try:
        ct = op.transpose(g_var, values, eq.params, shape, eq.dtype, guarded)
    finally:
        trace.active = False
    rule, _ = trace.finish(inputs, [ct])
    texts: dict[int, str] = {}
    uses: dict[int, int] = {}
    for e in rule.equations:
        for a in e.args:
            if a >= 0:
                uses[a] = uses.get(a, 0) + 1
    local_env = [np.asarray(g)] + [np.asarray(env[forward[p]]) for p in range(len(kept)) if _is_input(kept, p, eq)]
    local_env += [None] * len(rule.equations)
    for j in range(rule.n_inputs):
        texts[j] = f"lam_{eq.out + 1}" if j == 0 else names[j]
    shared: list[str] = []
    full = dict(texts)  # each subexpression written out in full: the key it is counted and named by
    for e in rule.equations:
        vals = [local_env[a] if a >= 0 else e.constants[p] for p, a in enumerate(e.args)]
        local_env[e.out] = e.primitive.kernel(*vals, **e.params)
        constants = {p: writer.constant(e.constants[p]) for p, a in enumerate(e.args) if a < 0}
        text = writer.spell(
            e, [texts[a] if a >= 0 else constants[p] for p, a in enumerate(e.args)], vals, local_env[e.out]
        )
        key = full[e.out] = writer.spell(
            e, [full[a] if a >= 0 else constants[p] for p, a in enumerate(e.args)], vals, local_env[e.out]
        )
        fixed = "lam_" not in key  # reads no multiplier (they are reassigned): the same everywhere
        if text.isidentifier():
            pass
        elif counting:
            if fixed:
                writer.counts[key] = writer.counts.get(key, 0) + max(uses.get(e.out, 0), 1)
        elif fixed and key in writer.named:
            text = writer.named[key]
        elif (fixed and writer.counts.get(key, 0) > 1) or uses.get(e.out, 0) > 1:
            name = writer.local()
            shared.append(f"{name} = {text}")
            if fixed:
                writer.named[key] = name
            text = name
        texts[e.out] = text
    o = rule.outputs[0]
    if isinstance(o, Constant):
        return o.value, writer.constant(np.asarray(o.value)), shared
    return local_env[o], texts[o], shared


def _is_input(kept: list[Any], p: int, eq: Equation) -> bool:
    v = kept[p]
    return not (v is None or isinstance(v, Aval) or (p and eq.args[p - 1] < 0))
