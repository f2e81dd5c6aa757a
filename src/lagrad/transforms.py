"""The transforms users call: trace the function into a Program, then solve its adjoint system.

`grad`, `value_and_grad`, `vjp` and `elementwise_grad` back-substitute;
`jvp` forward-substitutes; `jacobian` does either once per output (``rev``)
or input (``fwd``) scalar; `hessian` is forward over reverse. `trace` and
`adjoint` return the Program and the system themselves, with each equation's
source line recorded (which the fast path skips).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import numpy as lnp
from .adjoint import METHODS, AdjointSystem, back_substitution, forward_substitution, input_gradients
from .core import Program, Trace, Var
from .core.program import Constant
from .tree import tree_flatten

Fun = Callable[..., Any]
ArgNums = int | Sequence[int]


class _Traced:
    """A function traced on some arguments: its Program, output values and aux."""

    __slots__ = ("program", "outputs", "aux", "single")

    def __init__(self, program: Program, outputs: list[Any], aux: Any, single: bool) -> None:
        self.program = program
        self.outputs = outputs
        self.aux = aux
        self.single = single


def _argnums(argnums: ArgNums | None, nargs: int, who: str) -> tuple[tuple[int, ...], bool]:
    if argnums is None:
        return tuple(range(nargs)), False
    single = isinstance(argnums, (int, np.integer))
    nums = (int(argnums),) if single else tuple(int(a) for a in argnums)
    out = []
    for a in nums:
        if not -nargs <= a < nargs:
            raise ValueError(f"lagrad.{who}: argnums={argnums!r}, but the function was given {nargs} arguments")
        out.append(a % nargs)
    return tuple(out), single


def _input_value(leaf: Any, who: str, where: str) -> Any:
    """`leaf` as the value of an input variable, or a TypeError saying to pass floats."""
    if isinstance(leaf, Var):
        if not leaf.inexact:
            raise TypeError(f"lagrad.{who}: {where} has dtype {leaf.dtype}; only floats can be differentiated")
        return leaf
    if isinstance(leaf, (bool, np.bool_, int, np.integer)):
        raise TypeError(
            f"lagrad.{who}: {where} is the {type(leaf).__name__} {leaf!r}; integers and booleans have no "
            f"derivative. Pass a float (e.g. {float(leaf)!r}) or leave it out of argnums."
        )
    if isinstance(leaf, float):
        return np.float64(leaf)
    if isinstance(leaf, complex):
        return np.complex128(leaf)
    dtype = getattr(leaf, "dtype", None)
    if dtype is None or not hasattr(leaf, "shape"):
        raise TypeError(
            f"lagrad.{who}: {where} is a {type(leaf).__name__}, not an array of floats; pass a NumPy "
            f"array of floats (or a list, tuple or dict of them)"
        )
    if np.dtype(dtype).kind not in "fc":
        raise TypeError(
            f"lagrad.{who}: {where} has dtype {dtype}; only float (or complex) arrays can be "
            f"differentiated. Pass floats (e.g. x.astype(float)) or leave it out of argnums."
        )
    return leaf


def _names(fun: Fun, nums: tuple[int, ...]) -> list[str]:
    try:
        params = list(inspect.signature(fun).parameters.values())
    except (TypeError, ValueError):
        params = []
    names = []
    for i in nums:
        if i < len(params) and params[i].kind in (params[i].POSITIONAL_ONLY, params[i].POSITIONAL_OR_KEYWORD):
            names.append(params[i].name)
        else:
            names.append(f"args[{i}]")
    return names


def _strip(tree: Any) -> Any:
    """`tree` with every traced value replaced by its plain value (for aux)."""
    leaves, treedef = tree_flatten(tree)
    return treedef.unflatten(value(leaf) for leaf in leaves)


def _trace(
    fun: Fun,
    args: Sequence[Any],
    kwargs: dict[str, Any],
    argnums: ArgNums | None,
    who: str,
    *,
    has_aux: bool = False,
    record_source: bool = False,
) -> _Traced:
    nums, single = _argnums(argnums, len(args), who)
    trace = Trace(record_source=record_source)
    selected = tuple(args[i] for i in nums)
    for i, arg in zip(nums, selected):
        if arg is None:
            raise TypeError(f"lagrad.{who}: argument {i} is None; pass an array of floats to differentiate")
    leaves, in_tree = tree_flatten(selected)
    paths = in_tree.paths()
    arg_names = _names(fun, nums) if record_source else [f"args[{i}]" for i in nums]
    names = [arg_names[int(p[1 : p.index("]")])] + p[p.index("]") + 1 :] for p in paths]
    inputs = [trace.new_input(_input_value(leaf, who, f"argument {name}")) for leaf, name in zip(leaves, names)]
    boxed = in_tree.unflatten(inputs)
    call_args = list(args)
    for j, i in enumerate(nums):
        call_args[i] = boxed[j]
    try:
        result = fun(*call_args, **kwargs)
    except BaseException:
        trace.active = False
        raise
    aux = None
    if has_aux:
        if not (isinstance(result, (tuple, list)) and len(result) == 2):
            trace.active = False
            raise TypeError(f"lagrad.{who}: with has_aux=True the function must return a pair (output, aux)")
        result, aux = result
        aux = _strip(aux)
    out_leaves, out_tree = tree_flatten(result)
    program = trace.finish(inputs, out_leaves, in_tree=in_tree, out_tree=out_tree, input_names=names)
    outputs = [o.value if isinstance(o, Var) and o._trace is trace else o for o in out_leaves]
    return _Traced(program, outputs, aux, single)


def _scalar_output(traced: _Traced, who: str) -> int | None:
    """The output variable of a function `who` needs to return one float scalar."""
    program = traced.program
    if len(program.outputs) != 1 or program.out_tree.kind != "leaf":
        raise TypeError(
            f"lagrad.{who}: the function returns {program.out_tree!r} ({len(program.outputs)} arrays); "
            f"{who} needs a single scalar. If the rest is auxiliary data, pass has_aux=True; for "
            f"several outputs use lagrad.jacobian or lagrad.vjp."
        )
    out = traced.outputs[0]
    shape, dtype = np.shape(value(out)), getattr(value(out), "dtype", np.dtype(type(out)))
    if shape != ():
        raise TypeError(
            f"lagrad.{who}: the function returns an array of shape {shape}; {who} needs a scalar "
            f"output. Use lagrad.jacobian for the whole derivative, lagrad.vjp for a "
            f"vector-Jacobian product, or reduce the output (e.g. with .sum())."
        )
    if np.dtype(dtype).kind not in "fc":
        raise TypeError(
            f"lagrad.{who}: the function returns a {np.dtype(dtype)} value, which has no derivative; return a float"
        )
    o = program.outputs[0]
    return None if isinstance(o, Constant) else o


def _unpack(grads: tuple[Any, ...], single: bool) -> Any:
    return grads[0] if single else tuple(grads)


def _solve(program: Program, out: int | None, seed: Any, method: str) -> list[Any]:
    """Multipliers of every variable for the output seeded with `seed`."""
    if out is None:
        return [None] * program.n_vars
    if method == "back_substitution":
        return back_substitution(program, {out: seed}, release=True)
    if method not in METHODS:
        raise ValueError(f"lagrad: unknown method {method!r}; choose one of {', '.join(METHODS)}")
    return AdjointSystem(program, seed).solve(method).values


def value_and_grad(fun: Fun, argnums: ArgNums = 0, has_aux: bool = False, *, method: str = "back_substitution") -> Fun:
    """A function returning ``(fun(*args), gradient)`` (``((value, aux), gradient)`` with
    `has_aux`); the gradient is shaped like ``args[argnums]`` (a tuple for several)."""

    @functools.wraps(fun)
    def value_and_grad_fun(*args: Any, **kwargs: Any) -> Any:
        traced = _trace(fun, args, kwargs, argnums, "grad", has_aux=has_aux)
        out = _scalar_output(traced, "grad")
        value_out = traced.outputs[0]
        seed = np.ones((), dtype=np.dtype(value(value_out).dtype if hasattr(value(value_out), "dtype") else float))
        lam = _solve(traced.program, out, seed, method)
        grads = _unpack(input_gradients(traced.program, lam), traced.single)
        return ((value_out, traced.aux) if has_aux else value_out), grads

    return value_and_grad_fun


def grad(fun: Fun, argnums: ArgNums = 0, has_aux: bool = False, *, method: str = "back_substitution") -> Fun:
    """The gradient of a scalar function: trace it, back-substitute ``A λ = b``, return the
    inputs' multipliers. ``method`` picks another solver of the same system."""
    vg = value_and_grad(fun, argnums, has_aux, method=method)

    @functools.wraps(fun)
    def grad_fun(*args: Any, **kwargs: Any) -> Any:
        (out, grads) = vg(*args, **kwargs)
        return (grads, out[1]) if has_aux else grads

    return grad_fun


def elementwise_grad(fun: Fun, argnums: ArgNums = 0) -> Fun:
    """The sum over outputs of their gradients (the vjp with a cotangent of ones): the
    derivative of each output element for functions acting elementwise."""

    @functools.wraps(fun)
    def elementwise_grad_fun(*args: Any, **kwargs: Any) -> Any:
        traced = _trace(fun, args, kwargs, argnums, "elementwise_grad")
        program = traced.program
        seeds = _seeds(program, [np.ones_like(value(o)) for o in traced.outputs], "elementwise_grad")
        lam = back_substitution(program, seeds, release=True)
        return _unpack(input_gradients(program, lam), traced.single)

    return elementwise_grad_fun


def _seeds(program: Program, cotangents: list[Any], who: str) -> dict[int, Any]:
    seeds: dict[int, Any] = {}
    for o, ct in zip(program.outputs, cotangents):
        if isinstance(o, Constant):
            continue
        if np.shape(value(ct)) != tuple(program.shape(o)):
            raise ValueError(
                f"lagrad.{who}: a cotangent has shape {np.shape(value(ct))}, but its output z{o + 1} "
                f"has shape {tuple(program.shape(o))}"
            )
        seeds[o] = ct if o not in seeds else seeds[o] + ct
    return seeds


def vjp(fun: Fun, *primals: Any, has_aux: bool = False) -> Any:
    """``(fun(*primals), vjp_fun)``: ``vjp_fun(cotangent)`` returns the multipliers of every
    primal (a tuple) for an output seeded with `cotangent`; it may be called many times."""
    traced = _trace(fun, primals, {}, None, "vjp", has_aux=has_aux)
    program = traced.program
    out = program.out_tree.unflatten(traced.outputs)

    def vjp_fun(cotangent: Any) -> tuple[Any, ...]:
        cotangents = program.out_tree.flatten(cotangent)
        lam = back_substitution(program, _seeds(program, cotangents, "vjp"))
        return tuple(input_gradients(program, lam))

    return (out, vjp_fun, traced.aux) if has_aux else (out, vjp_fun)


def jvp(fun: Fun, primals: Sequence[Any], tangents: Sequence[Any], has_aux: bool = False) -> Any:
    """``(fun(*primals), tangent_out)``: the derivative applied to `tangents` (one per
    primal, same structure), by forward substitution on the traced system."""
    traced = _trace(fun, tuple(primals), {}, None, "jvp", has_aux=has_aux)
    program = traced.program
    leaves = program.in_tree.flatten(tuple(tangents))
    seeds = {}
    for j, (t, (shape, _dtype)) in enumerate(zip(leaves, program.inputs)):
        if np.shape(value(t)) != tuple(shape):
            raise ValueError(
                f"lagrad.jvp: tangent of {program.input_names[j]} has shape {np.shape(value(t))}, "
                f"its primal {tuple(shape)}"
            )
        seeds[j] = t
    t_all = forward_substitution(program, seeds)
    outs = []
    for o, v in zip(program.outputs, traced.outputs):
        t = None if isinstance(o, Constant) else t_all[o]
        outs.append(np.zeros_like(value(v), dtype=_float_dtype(value(v))) if t is None else t)
    result = (program.out_tree.unflatten(traced.outputs), program.out_tree.unflatten(outs))
    return (*result, traced.aux) if has_aux else result


def _float_dtype(x: Any) -> Any:
    dtype = np.result_type(x)
    return dtype if dtype.kind in "fc" else np.float64


def jacobian(fun: Fun, argnums: ArgNums = 0, mode: str = "rev", has_aux: bool = False) -> Fun:
    """The full derivative: for each output, an array shaped ``out.shape + in.shape`` per
    input (a tuple for several argnums). ``mode="rev"`` back-substitutes once per output
    scalar, ``"fwd"`` forward-substitutes once per input scalar."""
    if mode not in ("rev", "fwd"):
        raise ValueError(f"lagrad.jacobian: mode must be 'rev' or 'fwd', not {mode!r}")

    @functools.wraps(fun)
    def jacobian_fun(*args: Any, **kwargs: Any) -> Any:
        traced = _trace(fun, args, kwargs, argnums, "jacobian", has_aux=has_aux)
        blocks = _jacobian_blocks(traced, mode)
        program = traced.program
        per_output = [_unpack(program.in_tree.unflatten(row), traced.single) for row in blocks]
        jac = program.out_tree.unflatten(per_output)
        return (jac, traced.aux) if has_aux else jac

    return jacobian_fun


def _jacobian_blocks(traced: _Traced, mode: str) -> list[list[Any]]:
    """J[o][j] shaped out_o.shape + in_j.shape, for every output o and input j."""
    program = traced.program
    in_shapes = [tuple(s) for s, _ in program.inputs]
    out_shapes = [tuple(np.shape(value(v))) for v in traced.outputs]
    dtype = np.result_type(*[_float_dtype(value(v)) for v in traced.outputs], *[d for _, d in program.inputs])
    blocks: list[list[Any]] = [[None] * len(in_shapes) for _ in out_shapes]
    for a, o in enumerate(program.outputs):
        if isinstance(o, Constant):
            for j, s in enumerate(in_shapes):
                blocks[a][j] = np.zeros(out_shapes[a] + s, dtype=dtype)
    if mode == "rev":
        for a, o in enumerate(program.outputs):
            if isinstance(o, Constant):
                continue
            rows: list[list[Any]] = [[] for _ in in_shapes]
            for e in _basis(out_shapes[a], dtype):
                lam = back_substitution(program, {o: e})
                for j, s in enumerate(in_shapes):
                    rows[j].append(np.zeros(s, dtype=dtype) if lam[j] is None else lam[j])
            for j, s in enumerate(in_shapes):
                blocks[a][j] = _assemble(rows[j], out_shapes[a], s, rows_first=True)
    else:
        cols: list[list[list[Any]]] = [[[] for _ in in_shapes] for _ in out_shapes]
        for j, s in enumerate(in_shapes):
            for e in _basis(s, dtype):
                t = forward_substitution(program, {j: e})
                for a, o in enumerate(program.outputs):
                    if not isinstance(o, Constant):
                        cols[a][j].append(np.zeros(out_shapes[a], dtype=dtype) if t[o] is None else t[o])
        for a, o in enumerate(program.outputs):
            if not isinstance(o, Constant):
                for j, s in enumerate(in_shapes):
                    blocks[a][j] = _assemble(cols[a][j], out_shapes[a], s, rows_first=False)
    return blocks


def _basis(shape: tuple[int, ...], dtype: Any) -> Any:
    n = int(np.prod(shape, dtype=np.int64))
    for s in range(n):
        e = np.zeros(n, dtype=dtype)
        e[s] = 1
        yield e.reshape(shape)


def _assemble(parts: list[Any], out_shape: tuple[int, ...], in_shape: tuple[int, ...], rows_first: bool) -> Any:
    """Stack per-scalar results into an ``out_shape + in_shape`` array (traceable)."""
    if not parts:
        return np.zeros(out_shape + in_shape)
    stacked = lnp.stack(parts, axis=0 if rows_first else -1)
    return lnp.reshape(stacked, out_shape + in_shape)


def hessian(fun: Fun, argnums: ArgNums = 0) -> Fun:
    """Second derivatives, shaped ``in.shape + in.shape``: forward mode over reverse."""
    return jacobian(jacobian(fun, argnums, mode="rev"), argnums, mode="fwd")


def hvp(fun: Fun, argnums: ArgNums = 0) -> Fun:
    """``hvp(fun)(*args, v)``: the Hessian of a scalar `fun` applied to `v` (shaped like
    ``args[argnums]``), by a tangent sweep through the traced gradient."""
    gradient = grad(fun, argnums)

    @functools.wraps(fun)
    def hvp_fun(*args_and_vector: Any, **kwargs: Any) -> Any:
        *args, v = args_and_vector
        nums, single = _argnums(argnums, len(args), "hvp")

        def g(*selected: Any) -> Any:
            call = list(args)
            for i, x in zip(nums, selected):
                call[i] = x
            return gradient(*call, **kwargs)

        tangents = (v,) if single else tuple(v)
        return jvp(g, tuple(args[i] for i in nums), tangents)[1]

    return hvp_fun


def trace(fun: Fun, *args: Any, argnums: ArgNums | None = None, **kwargs: Any) -> Program:
    """The Program of ``fun(*args, **kwargs)``: every argument (or those in `argnums`) an
    input, each equation with the source line that made it."""
    return _trace(fun, args, kwargs, argnums, "trace", record_source=True).program


def adjoint(
    fun: Fun, *args: Any, argnums: ArgNums | None = None, cotangent: Any = None, **kwargs: Any
) -> AdjointSystem:
    """The adjoint system ``A λ = b`` of a scalar function at `args` (all of them inputs
    unless `argnums` says otherwise). `cotangent` seeds a non-scalar output."""
    traced = _trace(fun, args, kwargs, argnums, "adjoint", record_source=True)
    return AdjointSystem(traced.program, cotangent)


def value(x: Any) -> Any:
    """The plain value of a traced array (no derivative flows through it); other values
    are returned as they are. For logging and for values meant as constants."""
    while isinstance(x, Var):
        x = x.value
    return x


def tag(x: Any, name: str) -> Any:
    """Name an intermediate: ``adjoint(...).multipliers[name]`` is then its λ, the gradient
    of the output with respect to it. Returns `x` unchanged."""
    if not isinstance(name, str) or not name:
        raise TypeError("lagrad.tag: the name must be a non-empty string")
    if isinstance(x, Var):
        x._trace.tag(x, name)
    return x
