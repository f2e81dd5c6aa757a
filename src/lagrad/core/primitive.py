"""Primitives: the functions `f_k` a Program is made of, each with its partial-derivative rules.

A rule is written with lagrad's own operations, so the backward computation
traces like any other (higher order for free). Which forward values a rule
reads is read off the rule's code when it is registered, so a Program keeps
only those values (DESIGN principle 4) without anyone declaring it. Each declaring
function (`defvjp`, `defjvp`, `defrule`, ...) gives its rules' signature.
"""

from __future__ import annotations

import dis
import functools
import inspect
from collections.abc import Callable
from typing import Any

from . import registry
from .backend import in_namespace
from .program import META, READ, UNREAD, Parts, zeros_of
from .trace import Var

Rule = Callable[..., Any]

#: Attributes a rule may read from a value without needing the value itself.
META_ATTRIBUTES = frozenset({"shape", "dtype", "ndim", "size", "chunks"})


#: What a rule reads where one entry per value would not say it: every argument but the one it
#: differentiates, not `ans` (LINEAR_READS); only the shapes and dtypes of all (SHAPE_READS).
LINEAR_READS, SHAPE_READS = "linear", "shapes"


def rule_reads(rule: Rule | None) -> tuple[int, ...] | None:
    """How the rule reads each parameter after `g`: (ans, x, y, ...) as UNREAD, META or READ.

    None means the rule cannot be read (not plain Python, or takes ``*args``):
    every value is then kept.
    """
    code = getattr(rule, "__code__", None)
    if code is None or code.co_flags & inspect.CO_VARARGS:
        return None
    names = code.co_varnames[: code.co_argcount]
    use = dict.fromkeys(names, UNREAD)
    for name in code.co_cellvars:  # captured by an inner function: read in full
        if name in use:
            use[name] = READ
    instructions = list(dis.get_instructions(code))
    for j, ins in enumerate(instructions):
        if not (ins.opname.startswith("LOAD_FAST") or ins.opname in ("LOAD_DEREF", "LOAD_CLOSURE")):
            continue
        loaded = ins.argval if isinstance(ins.argval, tuple) else (ins.argval,)
        following = instructions[j + 1] if j + 1 < len(instructions) else None
        for n, name in enumerate(loaded):
            if name not in use:
                continue
            meta = (
                n == len(loaded) - 1
                and following is not None
                and following.opname == "LOAD_ATTR"
                and following.argval in META_ATTRIBUTES
            )
            use[name] = max(use[name], META if meta else READ)
    return tuple(use[name] for name in names[1:])


class Plan:
    """What recording an equation keeps, for one pattern of traced arguments."""

    __slots__ = ("ans", "drop", "meta", "diff")

    def __init__(self, ans: int, drop: tuple[int, ...], meta: tuple[int, ...], diff: tuple[int, ...]):
        self.ans = ans  # UNREAD, META or READ
        self.drop = drop  # positions in (ans, *args) of traced values no rule reads
        self.meta = meta  # positions in (ans, *args) of traced values read only for shape or dtype
        self.diff = diff  # argument positions (from 0) that carry a derivative


class Primitive:
    """A function `f` the library knows: its implementation and its partial-derivative rules.

    Calling it on plain arrays runs the implementation; calling it on traced
    values records one equation in the innermost trace among its arguments.
    Positional arguments are the arrays `f` depends on; keyword arguments are
    static parameters (axis, shape, ...), kept with the equation.

    `kernel` evaluates it while tracing, where at least one argument is an
    array (default: `impl`). The arithmetic ufuncs use Python's operators
    there: NumPy sends those to the same ufunc for arrays, and evaluates them
    ten times faster on the NumPy scalars of scalar code.
    """

    #: its rules take a one-shot sweep's multiplier over (`adjoint.backward.Handed`): a structured loop
    takes_seed = False
    #: its batched rules take several-array multipliers whole (`Parts`): a structured loop
    batches_parts = False

    def __init__(
        self,
        name: str,
        impl: Callable[..., Any],
        *,
        elementwise: bool = False,
        kernel: Callable[..., Any] | None = None,
    ) -> None:
        self.name = name
        self.impl = impl
        self.kernel = kernel or impl
        self.elementwise = elementwise
        #: False for a function with no derivative in any argument (`lagrad.numpy`'s nondiff):
        #: its float results need no declared rules
        self.differentiable = True
        #: the declared rules, one table: (kind, position) -> (rule, what it reads). Kinds: "vjp",
        #: "jvp" and their forms batched over a leading axis, "batch_vjp" and "batch_jvp"; positions:
        #: an argument's (from 0), "any" (a rule for every position, taking it first) and, for the
        #: jvp, "joint" (all tangents at once)
        self.rules: dict[tuple[str, int | str], tuple[Rule | None, Any]] = {}
        self._plans: dict[int, Plan] = {}
        #: argument position -> its resolved operator (`lagrad.adjoint.operators.operator`)
        self.operators: dict[int, Any] = {}
        #: an implicit equation's diagonal block at one run, ``diagonal(equation, values)``
        #: -> an `adjoint.system.Diagonal` (None: the equation defines its variable
        #: explicitly, ``-I``); `Program.implicit` lists the equations that have one
        self.diagonal: Callable[[Any, Any], Any] | None = None
        #: what a run keeps of the primitive's value where its rules read it (None: the value):
        #: a structured loop keeps its run record, not its outputs
        self.keep: Callable[[Any], Any] | None = None
        self.__doc__ = getattr(impl, "__doc__", None)
        self.__wrapped__ = impl

    def __call__(self, *args: Any, **params: Any) -> Any:
        top = None
        for a in args:
            if type(a) is Var:
                t = a._trace
                if top is None or t.level > top.level:
                    top = t
        if top is None:
            return self.impl(*args, **params)
        return top.apply(self, args, params)

    def __repr__(self) -> str:
        return f"<lagrad primitive {self.name}>"

    # -- rules ---------------------------------------------------------------

    def rule(self, kind: str, pos: int) -> tuple[Rule | None, Any]:
        """The declared rule of `kind` in argument `pos` and what it reads: the argument's own,
        else the any-position one bound to `pos`, else (None, None). The operator layer resolves
        the rest (transposes, batching) from these, once."""
        found = self.rules.get((kind, pos))
        if found is None and (kind, "any") in self.rules:
            rule, reads = self.rules[kind, "any"]
            found = functools.partial(rule, pos), reads
        return found or (None, None)

    def batches(self) -> bool:
        """Whether the rules have batched forms (elementwise rules batch by broadcasting)."""
        return self.elementwise or any(kind.startswith("batch_") for kind, _ in self.rules)

    def declared(self, pos: int) -> bool:
        """Whether a rule was declared for argument `pos` (None, a zero derivative, counts)."""
        rules = self.rules
        return ("jvp", "joint") in rules or any((k, at) in rules for k in ("vjp", "jvp") for at in (pos, "any"))

    def has_derivative(self, pos: int) -> bool:
        return any(rule is not None for rule, _ in self._serving(pos))

    def plan(self, key: int, nargs: int, kind: str = "f") -> Plan:
        """The plan for arguments whose traced-ness `key` encodes: bit 2p marks a traced
        argument at position p (counting from 1, as in (ans, *args)), bit 2p+1 one that
        carries a derivative. `drop` and `meta` count the same way; `diff` from 0. `kind` is
        the result's dtype kind: a float result of an argument with a derivative and no
        declared rule (not even None) is refused, not given a silent zero derivative."""
        plan = self._plans.get(key)
        if plan is not None:
            return plan
        traced = [p for p in range(nargs) if key >> (2 * p + 2) & 1]
        carry = [p for p in traced if key >> (2 * p + 3) & 1]
        undeclared = [p for p in carry if self.differentiable and not self.declared(p)]
        if undeclared and kind in "fc":
            raise TypeError(
                f"lagrad: primitive {self.name} has no derivative rule for its argument "
                f"{', '.join(str(p + 1) for p in undeclared)} (counting from 1), which carries a "
                f"derivative. Declare one with lagrad.defvjp or lagrad.defjvp (None declares a zero "
                f"derivative), or pass the argument through lagrad.stop_gradient."
            )
        diff = tuple(p for p in carry if self.has_derivative(p))
        use = [UNREAD] * (nargs + 1)  # index 0: ans
        for p in diff:
            for reads in self.reads(p):
                if reads is None:
                    reads = (READ,) * (nargs + 1)
                elif reads is LINEAR_READS:
                    reads = (UNREAD, *(UNREAD if q == p else READ for q in range(nargs)))
                elif reads is SHAPE_READS:
                    reads = (META,) * (nargs + 1)
                use = [max(u, reads[q] if q < len(reads) else READ) for q, u in enumerate(use)]
        drop = tuple(p + 1 for p in traced if use[p + 1] == UNREAD)
        meta = tuple(p + 1 for p in traced if use[p + 1] == META)
        plan = Plan(use[0], drop, meta, diff)
        if not undeclared:  # else decided again for each result's kind
            self._plans[key] = plan
        return plan

    def reads(self, pos: int) -> list[Any]:
        """What the rules serving argument `pos` read, one entry per rule (see `rule_reads`)."""
        return [reads for rule, reads in self._serving(pos) if rule is not None]

    def _serving(self, pos: int) -> tuple[tuple[Rule | None, Any], ...]:
        return self.rule("vjp", pos), self.rules.get(("jvp", "joint")) or self.rule("jvp", pos)


# -- declaring primitives and their rules -------------------------------------


def primitive(fun: Callable[..., Any] | None = None, *, name: str | None = None, elementwise: bool = False) -> Any:
    """Declare `fun` (a NumPy implementation) a primitive; give it rules with `defvjp`/`defjvp`.

    Usable as ``@primitive`` or ``@primitive(name="loss")``.
    """
    if fun is None:
        return lambda f: primitive(f, name=name, elementwise=elementwise)
    return Primitive(name or fun.__name__, fun, elementwise=elementwise)


def _declare(
    prim: Any,
    who: str,
    rules: dict[Any, tuple[Rule | None, Any]],
    replace: tuple[str, ...] = (),
    elementwise: bool = False,
) -> Primitive:
    """The one step every declaring function ends in: `rules` entered in the primitive's table
    (the per-argument rules of the kinds in `replace` dropped first: a new list replaces the
    old), and its plans and resolved operators dropped, to be made again when next needed."""
    if not isinstance(prim, Primitive):
        raise TypeError(
            f"lagrad.{who}: {prim!r} is not a primitive; declare it first with "
            f"`@lagrad.primitive` and pass the object that returns."
        )
    kept = {key: v for key, v in prim.rules.items() if key[0] not in replace or isinstance(key[1], str)}
    prim.rules = kept | rules
    prim.elementwise = prim.elementwise or elementwise
    prim._plans.clear()
    prim.operators.clear()
    return prim


def _per_argument(kind: str, rules: tuple[Rule | None, ...], reads: list[Any] | None, who: str) -> dict[Any, Any]:
    reads = [rule_reads(r) for r in rules] if reads is None else reads
    if len(reads) != len(rules):
        raise ValueError(f"lagrad.{who}: `reads` has {len(reads)} entries for {len(rules)} rules; give one per rule")
    return {(kind, pos): (rule, r) for pos, (rule, r) in enumerate(zip(rules, reads))}


def defvjp(prim: Primitive, *rules: Rule | None, reads: list[Any] | None = None) -> Primitive:
    """Transpose-apply rules, one per positional argument (None: zero derivative).

    Each is ``rule(g, ans, *args, **params)`` and returns the argument's share of
    the multiplier, shaped like that argument. Where no jvp rule is given, the
    solvers derive it by transposing this one. `reads` overrides, per rule, what
    is read off its code: a tuple of UNREAD/META/READ for (ans, *args).
    """
    return _declare(prim, "defvjp", _per_argument("vjp", rules, reads, "defvjp"), ("vjp",))


def defjvp(prim: Primitive, *rules: Rule | None, reads: list[Any] | None = None) -> Primitive:
    """Apply rules, one per positional argument: ``rule(t, ans, *args, **params)``
    returns ``∂f/∂arg · t``, shaped like `ans` (or broadcastable to it)."""
    return _declare(prim, "defjvp", _per_argument("jvp", rules, reads, "defjvp"), ("jvp",))


def defrule(prim: Primitive, *partials: Rule | None) -> Primitive:
    """Rules of an elementwise primitive: ``partial(g, ans, *args)`` is ``g * ∂f/∂arg``
    pointwise. The Jacobian is diagonal, so one rule is both the vjp (broadcasting
    undone by the solver's shared `unbroadcast`) and the jvp."""
    reads = [rule_reads(r) for r in partials]
    rules = _per_argument("vjp", partials, reads, "defrule") | _per_argument("jvp", partials, reads, "defrule")
    return _declare(prim, "defrule", rules, ("vjp", "jvp"), elementwise=True)


def deflinear(prim: Primitive, *vjps: Rule | None, reads: list[Any] | None = None) -> Primitive:
    """Rules of a primitive linear in each argument with the others fixed (sum, reshape,
    matmul, ...): the vjps are given, and the jvp of an argument is the primitive applied
    to its tangent in that argument's place (reading every argument but that one)."""

    def jvp(pos: int, t: Any, ans: Any, *args: Any, **params: Any) -> Any:
        return prim(*args[:pos], t, *args[pos + 1 :], **params)

    rules = _per_argument("vjp", vjps, reads, "deflinear") | {("jvp", "any"): (jvp, LINEAR_READS)}
    return _declare(prim, "deflinear", rules, ("vjp", "jvp"))


def defvjp_argnum(prim: Primitive, rule: Rule, *, reads: str = "all") -> Primitive:
    """One vjp rule for every position of a primitive with any number of arguments:
    ``rule(argnum, g, ans, *args, **params)``. `reads` is "all" or "shapes" (the rule
    reads only the arguments' shapes and dtypes)."""
    return _declare(prim, "defvjp_argnum", {("vjp", "any"): (rule, _declared_reads(reads))})


def defjvp_joint(prim: Primitive, rule: Rule, *, reads: str = "all") -> Primitive:
    """One jvp rule taking every argument's tangent at once (None where an argument has
    none): ``rule(tangents, ans, *args, **params)``. For primitives linear in all their
    arguments jointly (concatenate, stack), where per-argument rules would each build
    the whole result."""
    return _declare(prim, "defjvp_joint", {("jvp", "joint"): (rule, _declared_reads(reads))})


def defjvp_argnum(prim: Primitive, rule: Rule) -> Primitive:
    """One jvp rule for every position: ``rule(argnum, t, ans, *args, **params)``."""
    return _declare(prim, "defjvp_argnum", {("jvp", "any"): (rule, None)})


def defbatch(
    prim: Primitive,
    *,
    vjps: dict[int, Rule] | None = None,
    jvps: dict[int, Rule] | None = None,
    vjp_argnum: Rule | None = None,
    jvp_joint: Rule | None = None,
) -> Primitive:
    """Rules batched over a leading axis of k cotangents (`vjps`) or tangents (`jvps`), per
    argument position: ``rule(G, ans, *args, **params)`` with ``G.shape[0] == k`` returns
    the k results stacked on a leading axis. They must read no more forward values than the
    unbatched rules. Positions without one fall back to a loop over the batch; elementwise
    rules need none (they batch by broadcasting). `vjp_argnum` and `jvp_joint` are the
    batched forms of `defvjp_argnum` and `defjvp_joint` rules."""
    rules = {("batch_vjp", pos): (rule, None) for pos, rule in (vjps or {}).items()}
    rules |= {("batch_jvp", pos): (rule, None) for pos, rule in (jvps or {}).items()}
    for key, rule in ((("batch_vjp", "any"), vjp_argnum), (("batch_jvp", "joint"), jvp_joint)):
        if rule is not None:
            rules[key] = (rule, None)
    return _declare(prim, "defbatch", rules)


def _declared_reads(reads: str) -> Any:
    if reads not in ("all", SHAPE_READS):
        raise ValueError(f"lagrad: reads must be 'all' or 'shapes', not {reads!r}")
    return None if reads == "all" else SHAPE_READS


# -- several outputs ------------------------------------------------------------------


def _part_vjp(g: Any, ans: Any, z: Any, index: int) -> Parts:
    # the other parts' zeros in g's library (array-api-strict, CuPy); NumPy's next to a traced g,
    # which combine with it in either order (a sweep moves them to the namespace)
    like = None if type(g) is Var else g
    return Parts(
        g if j == index else in_namespace(zeros_of(s, d), like) for j, (s, d) in enumerate(zip(z.shape, z.dtype))
    )


#: ``part(z, index=j)``: output j of a primitive with several outputs (whose value is `Parts`).
part = Primitive("part", lambda z, index: z[index])
deflinear(part, _part_vjp)
registry.ops.part = part
