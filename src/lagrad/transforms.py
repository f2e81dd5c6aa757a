"""The transforms users call: trace the function into a Program, seed, solve its adjoint system.

Each is `_transform`: `_trace` (a Program and its Tape), then a `finish` step that seeds and
solves (back-substitution for `grad`, `vjp`, `elementwise_grad`; forward substitution for `jvp`;
one batched solve per chunk of the identity for `jacobian`; forward over reverse for `hessian`).
DESIGN.md, "The data's way", describes the steps.
"""

from __future__ import annotations

import functools
import gc
import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from . import numpy as lnp
from .adjoint import SOLVERS, AdjointSystem, back_substitution, forward_substitution, input_gradients
from .arguments import (
    ArgNums,
    Fun,
    _argnums,
    _argument_names,
    _check_callable,
    _check_outputs,
    _explain,
    _flatten_like,
    _input_value,
    _is_complex_value,
    _lagrad_cause,
    _refuse_real_of_complex,
    _scalar_output,
)
from .control import _leaf_value, _stop_gradient, value
from .core import Program, Tape, Trace, Var
from .core.backend import in_namespace, is_lazy, namespace_library, namespace_of, numpy_dtype
from .core.program import Constant, is_parts_shape
from .lazy import (
    check_namespace_transform,
    check_one_library,
    check_solver,
    constant_mix_error,
    derivative_error,
    gradients_like,
    is_nan,
    lazy_checked,
    numpy_only,
    ones_like,
    promote_scalars,
)
from .tree import tree_flatten, tree_map


class _Traced(NamedTuple):
    """A function traced on some arguments: its Program, the tracing run's Tape, output values and aux."""

    program: Program
    tape: Tape
    outputs: list[Any]
    aux: Any
    single: bool
    leaves: list[Any]  # the inputs as given (a Dask input's gradient is a Dask array)
    inputs: list[Any] | None  # the input variables' values, for a replay of the run (plain values only)


def _guarded(who: str, run: Callable[[], Any], args: Any, kwargs: Any) -> Any:
    """`run()` with Python's cycle collector paused (DESIGN.md, "The data's way": its passes find
    nothing there), and on Dask `args` with no compute that lagrad starts (`lazy.lazy_checked`)."""
    if not gc.isenabled():  # already paused (a nested transform) or turned off by the user
        return lazy_checked(run, who, args, kwargs)
    gc.disable()
    try:
        return lazy_checked(run, who, args, kwargs)
    finally:
        gc.enable()


def _transform(fun: Fun, argnums: ArgNums | None, who: str, finish: Callable[[_Traced], Any], has_aux: bool) -> Fun:
    """The transform `who` of `fun`: on each call, `fun` traced at the arguments, then `finish`."""
    _check_callable(fun, who)

    @functools.wraps(fun)
    def transformed(*args: Any, **kwargs: Any) -> Any:
        return _guarded(who, lambda: finish(_trace(fun, args, kwargs, argnums, who, has_aux=has_aux)), args, kwargs)

    return transformed


def _constant(trace: Trace, arg: Any) -> Any:
    """A float array argument that is not differentiated, as a traced value with no derivative
    (DESIGN.md, "In-place writes and views"); everything else stays as given."""
    if type(arg) is np.ndarray:
        if arg.dtype.kind not in "fc":
            return arg
    elif namespace_of(arg) is None or numpy_dtype(arg.dtype).kind not in "fc":  # array-api-strict, CuPy
        return arg
    var = trace.apply(_stop_gradient, (arg,), {})
    var.inexact = False
    return var


def _seed(seed: Any, out: Any) -> Any:
    """A NumPy seed in the namespace of the output `out` (array-api-strict, CuPy); under a trace
    (higher order) a constant of that trace, since such arrays do not defer to a traced value
    in ``g * x`` as NumPy's do."""
    if type(seed) is Var or (type(out) is not Var and namespace_of(out) is None):  # NumPy's, Dask's: as given
        return seed
    plain = in_namespace(seed, value(out))
    if type(out) is not Var or namespace_of(plain) is None:
        return plain
    return _constant(out._trace, plain)


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
    """`fun` traced with the arguments in `argnums` as inputs: its Program, Tape, outputs and aux."""
    return _guarded("trace", lambda: _record(fun, args, kwargs, argnums, who, has_aux, record_source), args, kwargs)


def _record(
    fun: Fun, args: Sequence[Any], kwargs: dict[str, Any], argnums: Any, who: str, has_aux: bool, record_source: bool
) -> _Traced:
    _check_callable(fun, who)
    nums, single = _argnums(argnums, len(args), who)
    if not all(type(a) is np.ndarray for a in args):  # NumPy alone: nothing to check
        check_one_library(args, who)
        args = promote_scalars(args, nums)
        check_namespace_transform(args, who)
    selected = tuple(args[i] for i in nums)
    arg_names = _argument_names(fun, nums, selected, record_source, who)
    leaves, in_tree = tree_flatten(selected)
    names = [arg_names[int(p[1 : p.index("]")])] + p[p.index("]") + 1 :] for p in in_tree.paths()]
    lifted = _lifted(leaves, record_source)
    trace = Trace(record_source=record_source) if lifted is None else lifted
    # under a lifting lagrad.compile recording, traced on the plain values; the recording takes the run over
    leaves_in = leaves if lifted is None else [leaf.value for leaf in leaves]
    inputs = [trace.new_input(_input_value(leaf, who, f"argument {name}")) for leaf, name in zip(leaves_in, names)]
    boxed = dict(zip(nums, in_tree.unflatten(inputs)))
    if lifted is not None:  # the recording's inputs given undifferentiated: read as its inputs (`lift_run`)
        args = [arg if i in boxed else lifted.constant(arg) for i, arg in enumerate(args)]
        kwargs = {k: lifted.constant(v) for k, v in kwargs.items()}
    call_args = [boxed[i] if i in boxed else _constant(trace, arg) for i, arg in enumerate(args)]
    kwargs = {k: _constant(trace, v) for k, v in kwargs.items()}
    try:
        result = fun(*call_args, **kwargs)
    except BaseException as error:
        trace.active = False
        surfaced = _lagrad_cause(error, who)
        if surfaced is not None:
            raise surfaced from error
        library = namespace_library(leaves) if trace.dispatch and isinstance(error, Exception) else None
        if library is not None and not str(error).startswith("lagrad"):
            raise derivative_error(error, library, f"lagrad.{who} on {library} arrays") from error
        mixed = None if trace.dispatch or not isinstance(error, Exception) else constant_mix_error(error, leaves, who)
        if mixed is not None:
            raise mixed from error
        _explain(error, who, selected)
        raise
    aux = None
    if has_aux:
        if not (isinstance(result, (tuple, list)) and len(result) == 2):
            trace.active = False
            raise TypeError(f"lagrad.{who}: with has_aux=True the function must return a pair (output, aux)")
        result, aux = result
    out_leaves, out_tree = tree_flatten(result)
    _check_outputs(out_leaves, out_tree, who, trace)
    program, tape = trace.finish(inputs, out_leaves, in_tree=in_tree, out_tree=out_tree, input_names=names)
    outputs = [o.value if isinstance(o, Var) and o._trace is trace else o for o in out_leaves]
    if lifted is not None:  # the run's values as the recording's: the solve records into it
        tape, outputs, aux = lifted.lift_run(program, tape, out_leaves, aux)
    if has_aux:
        aux = tree_map(_leaf_value, aux)  # plain values (a recording's stay traced)
    replayable = None if trace.nested or lifted is not None else [v.value for v in inputs]  # plain values only
    return _Traced(program, tape, outputs, aux, single, leaves, replayable)


def _lifted(leaves: list[Any], record_source: bool) -> Any:
    """Where the inputs are those of a `lagrad.compile` recording that has recorded nothing yet,
    the trace that runs on their plain values and hands its equations to that recording
    (`compiler.LiftedTrace`: each operation recorded once, not at both levels); else None."""
    if leaves and type(leaves[0]) is Var:
        lift = getattr(leaves[0]._trace, "lift", None)
        if lift is not None:
            return lift(leaves, record_source)
    return None


def _unpack(grads: tuple[Any, ...], single: bool) -> Any:
    return grads[0] if single else tuple(grads)


def _gradients(traced: _Traced, lam: list[Any]) -> Any:
    """The inputs' multipliers as gradients, in the inputs' dtypes, structure and library."""
    return _unpack(input_gradients(traced.program, gradients_like(lam, traced.leaves)), traced.single)


def _solve(
    program: Program,
    tape: Tape,
    out: int | None,
    seed: Any,
    method: str,
    nan_output: Any = False,
    inputs: list[Any] | None = None,
) -> list[Any]:
    """Multipliers of every variable for the output seeded with `seed`, at the run `tape`. Zero
    means zero does not apply to an output that is NaN (`nan_output`): its gradient must not
    look clean. On a lazy (Dask) output `nan_output` is itself lazy, and so is the choice.
    Given the run's `inputs` (a run of plain values), the solve is the Tape's last use: back-substitution gives its
    values up as it goes, and replays the program for a second, masked sweep."""
    if out is None:
        return [None] * program.n_vars
    if method not in SOLVERS:
        raise ValueError(f"lagrad: unknown method {method!r}; choose one of {', '.join(SOLVERS)}")
    check_solver(method, [seed, nan_output], "grad")  # NumPy's values, and the solvers every library runs, pass
    lazy = is_lazy(nan_output)  # Dask: one sweep, masked under the lazy "the output is not NaN"
    mask = ~nan_output if lazy else not nan_output
    if method == "back_substitution" or (not lazy and nan_output) or _traced_run(tape):
        replay = None if inputs is None else functools.partial(_replay, program, inputs)
        return back_substitution(program, tape, {out: seed}, mask=mask, replay=replay)
    return AdjointSystem(program, tape, seed).solve(method, wanted=range(program.n_inputs), mask=mask).lambdas


def _replay(program: Program, inputs: list[Any]) -> Tape:
    """The run of `program` at its input variables' values again (a Tape given up by a sweep);
    its floating-point warnings were shown when the run was first made."""
    args = inputs if program.in_tree is None else program.in_tree.unflatten(inputs)
    with np.errstate(all="ignore"):
        return program.replay(*args)


def _traced_run(tape: Tape) -> bool:
    """Whether the run holds values of an outer trace (a derivative of this derivative, or a
    `lagrad.compile` recording): the other solvers read the values as plain numbers, so their
    result would be a constant there (no second derivative; a compiled call answering the
    first call's gradient). Back-substitution records its solve and gives the same numbers."""
    for values in tape.values:
        if isinstance(values, Var) or (type(values) in (list, tuple) and any(isinstance(v, Var) for v in values)):
            return True
    return any(isinstance(o, Var) for o in tree_flatten(tape.outputs)[0])


def value_and_grad(fun: Fun, argnums: ArgNums = 0, has_aux: bool = False, *, method: str = "back_substitution") -> Fun:
    """A function returning ``(fun(*args), gradient)`` (``((value, aux), gradient)`` with
    `has_aux`); the gradient is shaped like ``args[argnums]`` (a tuple for several)."""
    return _value_and_grad(fun, argnums, has_aux, method, "grad")


def _value_and_grad(fun: Fun, argnums: ArgNums, has_aux: bool, method: str, who: str) -> Fun:
    def finish(traced: _Traced) -> Any:
        out = _scalar_output(traced, who)
        value_out = traced.outputs[0]
        plain = value(value_out)
        seed = _seed(np.ones((), dtype=numpy_dtype(plain.dtype) if hasattr(plain, "dtype") else float), value_out)
        lam = _solve(traced.program, traced.tape, out, seed, method, is_nan(plain), traced.inputs)
        return ((value_out, traced.aux) if has_aux else value_out), _gradients(traced, lam)

    return _transform(fun, argnums, who, finish, has_aux)


def grad(fun: Fun, argnums: ArgNums = 0, has_aux: bool = False, *, method: str = "back_substitution") -> Fun:
    """The gradient of a scalar function: trace it, back-substitute ``A λ = b``, return the
    inputs' multipliers. ``method`` picks another solver of the same system; on traced values
    (a derivative of this gradient, or inside `lagrad.compile`) it is back-substitution, the
    one solver that records its solve (the same numbers)."""
    vg = value_and_grad(fun, argnums, has_aux, method=method)

    @functools.wraps(fun)
    def grad_fun(*args: Any, **kwargs: Any) -> Any:
        (out, grads) = vg(*args, **kwargs)
        return (grads, out[1]) if has_aux else grads

    return grad_fun


def elementwise_grad(fun: Fun, argnums: ArgNums = 0) -> Fun:
    """The sum over outputs of their gradients (the vjp with a cotangent of ones): the
    derivative of each output element for functions acting elementwise."""

    def finish(traced: _Traced) -> Any:
        program = traced.program
        seeds = _seeds(program, [ones_like(value(o)) for o in traced.outputs], "elementwise_grad", traced.outputs)
        return _gradients(traced, back_substitution(program, traced.tape, seeds))

    return _transform(fun, argnums, "elementwise_grad", finish, False)


def _seeds(program: Program, cotangents: list[Any], who: str, outputs: list[Any]) -> dict[int, Any]:
    seeds: dict[int, Any] = {}
    for o, ct, out in zip(program.outputs, cotangents, outputs):
        if isinstance(o, Constant):
            continue
        if np.shape(value(ct)) != tuple(program.shape(o)):
            raise ValueError(
                f"lagrad.{who}: a cotangent has shape {np.shape(value(ct))}, but its output z{o + 1} "
                f"has shape {tuple(program.shape(o))}"
            )
        ct = _seed(_number_as_array(ct, program.dtype(o)), out)
        seeds[o] = ct if o not in seeds else seeds[o] + ct
    return seeds


def _number_as_array(x: Any, dtype: Any) -> Any:
    """A Python number given as a cotangent or tangent, as a NumPy scalar of the variable's
    dtype: rules on Python numbers alone would give Python numbers, which have no shape."""
    if isinstance(x, (int, float, complex)):
        return np.asarray(x, dtype=np.result_type(dtype, x))[()]  # NumPy's promotion of a Python number
    return x


def vjp(fun: Fun, *primals: Any, has_aux: bool = False) -> Any:
    """``(fun(*primals), vjp_fun)``: ``vjp_fun(cotangent)`` returns the multipliers of every
    primal (a tuple) for an output seeded with `cotangent`; it may be called many times."""
    traced = _trace(fun, primals, {}, None, "vjp", has_aux=has_aux)
    out = traced.program.out_tree.unflatten(traced.outputs)
    vjp_fun = _cotangent_map(traced)
    return (out, vjp_fun, traced.aux) if has_aux else (out, vjp_fun)


def _cotangent_map(traced: _Traced) -> Callable[[Any], tuple[Any, ...]]:
    """cotangent ↦ the primals' multipliers on one traced program (vjp's second half;
    check_grads applies it once per row of a Jacobian, on the trace its tangent map uses)."""
    program = traced.program

    def vjp_fun(cotangent: Any) -> tuple[Any, ...]:
        cotangents = _flatten_like(program.out_tree, cotangent, "vjp", "the cotangent", "the output")
        seeds = _seeds(program, cotangents, "vjp", traced.outputs)
        lam = lazy_checked(lambda: back_substitution(program, traced.tape, seeds), "vjp", seeds, {})
        return tuple(input_gradients(program, gradients_like(lam, traced.leaves)))

    return vjp_fun


def jvp(fun: Fun, primals: Sequence[Any], tangents: Sequence[Any], has_aux: bool = False) -> Any:
    """``(fun(*primals), tangent_out)``: the derivative applied to `tangents` (one per
    primal, same structure), by forward substitution on the traced system."""
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError(
            "lagrad.jvp: primals and tangents must be tuples (one entry per argument of the function), "
            f"not {type(primals).__name__} and {type(tangents).__name__}"
        )
    traced = _trace(fun, tuple(primals), {}, None, "jvp", has_aux=has_aux)
    tangent_out = lazy_checked(lambda: _tangent_map(traced)(tuple(tangents)), "jvp", tangents, {})
    result = (traced.program.out_tree.unflatten(traced.outputs), tangent_out)
    return (*result, traced.aux) if has_aux else result


def _tangent_map(traced: _Traced) -> Callable[[tuple[Any, ...]], Any]:
    """tangents ↦ tangent_out on one traced program (jvp's second half; check_grads applies
    it once per column of a Jacobian)."""
    program = traced.program

    def apply(tangents: tuple[Any, ...]) -> Any:
        leaves = _flatten_like(program.in_tree, tangents, "jvp", "the tangents", "the primals")
        seeds = {}
        for j, (t, (shape, dtype)) in enumerate(zip(leaves, program.inputs)):
            if np.shape(value(t)) != tuple(shape):
                raise ValueError(
                    f"lagrad.jvp: tangent of {program.input_names[j]} has shape {np.shape(value(t))}, "
                    f"its primal {tuple(shape)}"
                )
            seeds[j] = _seed(_number_as_array(t, dtype), traced.leaves[j])
        outputs = [o for o in program.outputs if not isinstance(o, Constant)]
        t_all = forward_substitution(program, traced.tape, seeds, outputs=outputs)
        outs = []
        for o, v in zip(program.outputs, traced.outputs):
            t = None if isinstance(o, Constant) else t_all[o]
            outs.append(_zero_tangent(v) if t is None else t)
        return program.out_tree.unflatten(outs)

    return apply


def _zero_tangent(out: Any) -> Any:
    """The tangent of an output no input reaches: zeros in its library (a constant of the
    outer trace under higher order, for array-api-strict and CuPy)."""
    plain = value(out)
    if namespace_of(plain) is None:
        return np.zeros_like(plain, dtype=_float_dtype(plain))
    return _seed(np.zeros(np.shape(plain), dtype=_float_dtype(plain)), out)


def _float_dtype(x: Any) -> Any:
    dtype = numpy_dtype(x.dtype) if hasattr(x, "dtype") else np.result_type(x)
    return dtype if dtype.kind in "fc" else np.float64


BATCH_BYTES = 256 * 2**20


def jacobian(
    fun: Fun,
    argnums: ArgNums = 0,
    mode: str | None = None,
    has_aux: bool = False,
    *,
    max_bytes: int | None = None,
    sparse: bool = False,
    method: str | None = None,
    order: Any = "markowitz",
) -> Fun:
    """The full derivative: for each output, an array shaped ``out.shape + in.shape`` per
    input (a tuple for several argnums). ``mode="rev"`` is one back-substitution with the
    identity over each output's scalars as a matrix right-hand side, ``"fwd"`` one forward
    substitution with the identity over each input's scalars; ``"auto"`` picks the one with
    fewer right-hand sides. Batches that would hold more than `max_bytes` (default
    `BATCH_BYTES`) are solved in chunks.

    ``sparse=True`` returns a ``scipy.sparse.csr_matrix`` (output scalars × input scalars) of a
    function of one array: the pattern read off the traced equations, a colouring of its
    columns (``mode="fwd"``) or rows (``"rev"``; by default the fewer colours), one
    compressed solve (`lagrad.sparsity` keeps pattern and colouring for reuse), in the dense
    Jacobian's dtype (float16's as float32, which scipy.sparse holds).

    ``method="elimination"`` eliminates the linearised graph's intermediate vertices in
    `order` (``"forward"``, ``"reverse"``, ``"markowitz"``, ``"best"`` or a list of variable
    indices; `lagrad.elimination_cost` counts an order's multiplications). ``method="auto"``
    picks reverse, forward, elimination or sparse by a model of their wall time
    (`lagrad.plan(f, *args).explain()` shows the figures) and returns dense arrays."""
    if sparse or method is not None:
        from .structure import structured  # the structured methods build on the transforms

        options = "sparse=True" if sparse else f"method={method!r}"
        jac = structured(fun, argnums, mode, has_aux, max_bytes, sparse=sparse, method=method, order=order)
        return numpy_only(jac, f"jacobian({options})")
    return _jacobian(fun, argnums, mode or "rev", has_aux, "jacobian", max_bytes)


def _jacobian(fun: Fun, argnums: ArgNums, mode: str, has_aux: bool, who: str, max_bytes: int | None = None) -> Fun:
    _check_callable(fun, who)
    if mode not in ("rev", "fwd", "auto"):
        raise ValueError(f"lagrad.{who}: mode must be 'rev', 'fwd' or 'auto', not {mode!r}")
    as_gradient = who == "hessian" and mode == "rev"  # hessian's inner Jacobian: in the arguments' dtypes, as grad

    def finish(traced: _Traced) -> Any:
        blocks = _jacobian_blocks(traced, mode, BATCH_BYTES if max_bytes is None else max_bytes, as_gradient)
        program = traced.program
        jac = program.out_tree.unflatten([_unpack(program.in_tree.unflatten(row), traced.single) for row in blocks])
        return (jac, traced.aux) if has_aux else jac

    return _transform(fun, argnums, who, finish, has_aux)


def _jacobian_blocks(traced: _Traced, mode: str, max_bytes: int, as_gradient: bool = False) -> list[list[Any]]:
    """J[o][j] shaped out_o.shape + in_j.shape, for every output o and input j: the identity
    swept back from each output (``"rev"``) or forward from each input (``"fwd"``), in NumPy's
    promotion of o's and j's dtypes (`as_gradient`: in j's, as grad gives it)."""
    program = traced.program
    in_shapes = [tuple(s) for s, _ in program.inputs]
    out_shapes = [tuple(np.shape(value(v))) for v in traced.outputs]
    in_dtypes = [numpy_dtype(d) for _, d in program.inputs]
    dtype = np.result_type(*[_float_dtype(value(v)) for v in traced.outputs], *in_dtypes)
    leaves = traced.leaves
    # a constant output's blocks stay zero; the others are filled below
    blocks: list[list[Any]] = [
        [_seed(np.zeros(o + s, dtype), x) if isinstance(out, Constant) else None for s, x in zip(in_shapes, leaves)]
        for o, out in zip(out_shapes, program.outputs)
    ]
    if mode == "auto":
        mode = "rev" if sum(map(math.prod, out_shapes)) <= sum(map(math.prod, in_shapes)) else "fwd"
    # one right-hand side holds at most one value per variable
    row_bytes = np.dtype(dtype).itemsize * (
        sum(map(math.prod, in_shapes))
        + sum(math.prod(eq.shape) for eq in program.equations if not is_parts_shape(eq.shape))
    )
    chunk = max(1, max_bytes // max(row_bytes, 1))
    live = [a for a, o in enumerate(program.outputs) if not isinstance(o, Constant)]
    ins = [(j, s, in_dtypes[j].kind == "c") for j, s in enumerate(in_shapes)]
    outs = [(a, out_shapes[a], _is_complex_value(value(traced.outputs[a]))) for a in live]
    if mode == "rev":  # seeded: each output; read: every input's multiplier

        def sweep(a: int, seed: Any, batched: bool) -> list[Any]:
            lam = back_substitution(program, traced.tape, {program.outputs[a]: seed}, batched=batched)
            return lam[: len(in_shapes)]

        seeded, read, likes = outs, ins, traced.outputs
    else:  # seeded: each input; read: every traced output's tangent

        def sweep(j: int, seed: Any, batched: bool) -> list[Any]:
            outputs = [program.outputs[a] for a in live]
            t = forward_substitution(program, traced.tape, {j: seed}, outputs=outputs, batched=batched)
            return [t[o] for o in outputs]

        seeded, read, likes = ins, outs, leaves
    for k, shape, seeded_complex in seeded:
        # a real variable read off a complex one swept: a real input's multiplier from a seed c
        # is Re(c ∂f/∂x), and a real output's J is ∂/∂Re − i ∂/∂Im (the gradient's convention),
        # so J = Re x(1) − i Re x(i), the complex side swept along 1 and i
        along_i = seeded_complex and not all(c for _, _, c in read)
        parts: list[list[Any]] = [[] for _ in read]
        for seed in _identity(shape, dtype, chunk, likes[k]):
            batched = seed.ndim > len(shape)
            xs = sweep(k, seed, batched)
            xs_i = sweep(k, 1j * seed, batched) if along_i else xs
            for r, (x, x_i, (_, s, read_complex)) in enumerate(zip(xs, xs_i, read)):
                if along_i and not read_complex:
                    re, im = (_zeros(seed, s, dtype) if m is None else lnp.real(m) for m in (x, x_i))
                    parts[r].append(_as_dtype(re - 1j * im, dtype))
                else:
                    parts[r].append(_zeros(seed, s, dtype) if x is None else _as_dtype(x, dtype))
        for (r, *_), rows in zip(read, parts):
            a, j = (k, r) if mode == "rev" else (r, k)
            blocks[a][j] = _assemble(rows, out_shapes[a], in_shapes[j], rows_first=mode == "rev", dtype=dtype)
    # the sweeps ran in one dtype; each block is NumPy's promotion of its output and input (a
    # float64 constant output must not make float64 the blocks of float32 outputs)
    for a, out in enumerate(traced.outputs):
        for j, in_dtype in enumerate(in_dtypes):
            want = in_dtype if as_gradient else np.result_type(_float_dtype(value(out)), in_dtype)
            if want != dtype:
                blocks[a][j] = _as_dtype(blocks[a][j], want)
    return blocks


def _zeros(seed: Any, shape: tuple[int, ...], dtype: Any) -> Any:
    """Zeros for the batch of `seed`: a block of the Jacobian that the sweep did not reach."""
    return _seed(np.zeros(seed.shape[:1] + shape, dtype), seed)


def _as_dtype(x: Any, dtype: Any) -> Any:
    """`x` in the Jacobian's dtype: float64 constants inside the function must not upcast the
    derivative of float32 arguments and results (as `input_gradients` does for grad). A real
    Jacobian (real inputs and outputs) takes the real part of multipliers that crossed complex
    values, as a real input's gradient does."""
    if numpy_dtype(x.dtype) == dtype:
        return x
    if numpy_dtype(x.dtype).kind == "c" and np.dtype(dtype).kind != "c":
        x = lnp.real(x)
    return x if numpy_dtype(x.dtype) == dtype else lnp.astype(x, dtype)


def _identity(shape: tuple[int, ...], dtype: Any, chunk: int, like: Any) -> Any:
    """The identity over the scalars of `shape`, as seeds: one unbatched seed for a single
    scalar, else batches ``(c, *shape)`` of at most `chunk` rows (in the namespace of `like`)."""
    n = math.prod(shape)
    if n == 1:
        yield _seed(np.ones(shape, dtype=dtype), like)
        return
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        e = np.zeros((stop - start, n), dtype=dtype)
        e[np.arange(stop - start), np.arange(start, stop)] = 1
        yield _seed(e.reshape((stop - start, *shape)), like)


def _assemble(
    parts: list[Any], out_shape: tuple[int, ...], in_shape: tuple[int, ...], rows_first: bool, dtype: Any
) -> Any:
    """Join per-batch results into an ``out_shape + in_shape`` array (traceable): `parts` are
    stacked over the output's scalars (`rows_first`) or over the input's; none (an empty side)
    is an empty array of the Jacobian's `dtype`."""
    if not parts:
        return np.zeros(out_shape + in_shape, dtype)
    major, minor = (out_shape, in_shape) if rows_first else (in_shape, out_shape)
    whole = parts[0] if len(parts) == 1 else lnp.concatenate(parts, axis=0)
    whole = lnp.reshape(whole, (math.prod(major), math.prod(minor)))
    if not rows_first:
        whole = lnp.transpose(whole)
    return lnp.reshape(whole, out_shape + in_shape)


def hessian(fun: Fun, argnums: ArgNums = 0, *, max_bytes: int | None = None, sparse: bool = False) -> Fun:
    """Second derivatives, shaped ``in.shape + in.shape``: forward mode over reverse, the
    forward sweep batched over the identity (in chunks within `max_bytes`). ``sparse=True``
    returns a ``scipy.sparse.csr_matrix``: the pattern of the traced gradient, a star
    colouring, one compressed forward sweep through the gradient, symmetric decompression."""
    if sparse:
        from .structure import structured

        hess = structured(fun, argnums, "fwd", False, max_bytes, sparse=True, who="hessian")
        return numpy_only(hess, "hessian(sparse=True)")
    inner = _jacobian(_refuse_real_of_complex(fun, argnums), argnums, "rev", False, "hessian")
    return _jacobian(inner, argnums, "fwd", False, "hessian", max_bytes)


def hvp(fun: Fun, argnums: ArgNums = 0) -> Fun:
    """``hvp(fun)(*args, v)``: the Hessian of a scalar `fun` applied to `v` (shaped like
    ``args[argnums]``), by a tangent sweep through the traced gradient."""
    value_and_gradient = _value_and_grad(fun, argnums, False, "back_substitution", "hvp")

    @functools.wraps(fun)
    def hvp_fun(*args_and_vector: Any, **kwargs: Any) -> Any:
        *args, v = args_and_vector
        nums, single = _argnums(argnums, len(args), "hvp")

        def g(*selected: Any) -> Any:
            call = list(args)
            for i, x in zip(nums, selected):
                call[i] = x
            return value_and_gradient(*call, **kwargs)[1]

        tangents = (v,) if single else tuple(v)
        for i, t in zip(nums, tangents):
            for leaf, direction in zip(tree_flatten(args[i])[0], tree_flatten(t)[0]):
                if np.shape(direction) != np.shape(leaf):
                    raise ValueError(
                        f"lagrad.hvp: the vector has shape {np.shape(direction)} where args[{i}] has "
                        f"{np.shape(leaf)}; give v shaped like the argument (a tuple for several argnums)"
                    )
        return jvp(g, tuple(args[i] for i in nums), tangents)[1]

    return hvp_fun


def trace(fun: Fun, *args: Any, argnums: ArgNums | None = None, **kwargs: Any) -> Program:
    """The Program of ``fun(*args, **kwargs)``: every argument (or those in `argnums`) an
    input, each equation with the source line that made it. Structure only: the tracing run's
    values are dropped. ``program.replay(*args)`` records a run's values (a Tape), and
    ``AdjointSystem(program, program.replay(*args))`` is the system there (`adjoint` builds
    the one at the traced point directly)."""
    return _trace(fun, args, kwargs, argnums, "trace", record_source=True).program


def adjoint(
    fun: Fun,
    *args: Any,
    argnums: ArgNums | None = None,
    cotangent: Any = None,
    method: str = "back_substitution",
    **kwargs: Any,
) -> AdjointSystem:
    """The adjoint system ``A λ = b`` of a scalar function at `args` (all of them inputs
    unless `argnums` says otherwise). `cotangent` seeds a non-scalar output; `method` is the
    solver behind its `multipliers` and `gradients`."""
    if method not in SOLVERS:
        raise ValueError(f"lagrad.adjoint: unknown method {method!r}; choose one of {', '.join(SOLVERS)}")
    traced = _trace(fun, args, kwargs, argnums, "adjoint", record_source=True)
    return AdjointSystem(traced.program, traced.tape, cotangent, method=method)


def tag(x: Any, name: str) -> Any:
    """Name an intermediate: ``adjoint(...).multipliers[name]`` is then its λ, the gradient
    of the output with respect to it. Returns `x` unchanged. In a tree (dict, list, tuple)
    each traced leaf is named by its path: ``tag({"w": w, "b": [b0, b1]}, "p")`` names
    ``"p/w"``, ``"p/b/0"`` and ``"p/b/1"``. A name names one variable: reusing it for
    another is an error."""
    if not isinstance(name, str) or not name:
        raise TypeError("lagrad.tag: the name must be a non-empty string")
    if isinstance(x, (list, tuple, dict)):
        leaves, treedef = tree_flatten(x)
        for leaf, path in zip(leaves, treedef.key_paths()):
            if isinstance(leaf, Var):
                leaf._trace.tag(leaf, "/".join([name, *map(str, path)]))
    elif isinstance(x, Var):
        x._trace.tag(x, name)
    return x
