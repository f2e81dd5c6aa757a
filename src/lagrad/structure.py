"""The Jacobians that use the structure of ``A`` rather than solving it row by row.

`lagrad.jacobian(sparse=True)`, ``method="elimination"`` and ``method="auto"``, and
`lagrad.hessian(sparse=True)` reach their modules (`sparse_derivatives`, `elimination`,
`plan`) through `structured`, so the transforms know only that these keywords exist.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from .control import value
from .core.program import Constant
from .elimination import EliminationGraph
from .plan import planned
from .sparse_derivatives import _dense_dtype, sparse_transform
from .transforms import (
    BATCH_BYTES,
    ArgNums,
    Fun,
    _check_callable,
    _float_dtype,
    _guarded,
    _jacobian_blocks,
    _trace,
    _traced_run,
    _unpack,
)


def structured(
    fun: Fun,
    argnums: ArgNums,
    mode: str | None,
    has_aux: bool,
    max_bytes: int | None,
    *,
    sparse: bool,
    method: str | None = None,
    order: Any = "markowitz",
    who: str = "jacobian",
) -> Fun:
    """`jacobian` (or `hessian`, `who`) with ``sparse=True`` or a `method`."""
    if method == "elimination":
        return _eliminated(fun, argnums, has_aux, order)
    if method == "auto":
        return _planned(fun, argnums, has_aux, max_bytes)
    if method is not None:
        raise ValueError(f"lagrad.jacobian: method must be 'elimination', 'auto' or None, not {method!r}")
    return _sparse(fun, argnums, has_aux, who, mode or "auto", max_bytes)


def _eliminated(fun: Fun, argnums: ArgNums, has_aux: bool, order: Any) -> Fun:
    _check_callable(fun, "jacobian")

    @functools.wraps(fun)
    def jacobian_fun(*args: Any, **kwargs: Any) -> Any:
        traced = _trace(fun, args, kwargs, argnums, "jacobian", has_aux=has_aux)
        return _guarded("jacobian", lambda: _eliminated_at(traced, has_aux, order), args, kwargs)

    return jacobian_fun


def _eliminated_at(traced: Any, has_aux: bool, order: Any) -> Any:
    """The Jacobian of a traced function by elimination in `order`."""
    program = traced.program
    # on traced values elimination would read plain numbers (its Jacobian a constant); an empty
    # array leaves nothing to eliminate: reverse mode for both
    empty = any(0 in tuple(s) for s, _ in program.inputs) or any(0 in np.shape(value(v)) for v in traced.outputs)
    if empty or _traced_run(traced.tape):
        return _swept_at(traced, "rev", has_aux, None)
    graph = EliminationGraph(program, traced.tape)
    eliminated = graph.jacobian(order)
    vertices = iter(graph.outputs)
    per_output = []
    for o, v in zip(program.outputs, traced.outputs):
        out_shape = tuple(np.shape(value(v)))
        vertex = None if isinstance(o, Constant) else next(vertices)
        row = []
        for j, (s, dtype) in enumerate(program.inputs):
            s = tuple(s)
            block = eliminated.get((j, vertex))
            if block is None:  # no path: zeros in the dtype the sweeps would give
                block = np.zeros(out_shape + s, np.result_type(_float_dtype(value(v)), dtype))
            row.append(np.reshape(block, out_shape + s))
        per_output.append(_unpack(program.in_tree.unflatten(row), traced.single))
    jac = program.out_tree.unflatten(per_output)
    return (jac, traced.aux) if has_aux else jac


def _swept_at(traced: Any, mode: str, has_aux: bool, max_bytes: int | None) -> Any:
    """The Jacobian of a traced function by batched sweeps (`mode` "rev" or "fwd"), as
    ``jacobian(mode=)`` computes it."""
    blocks = _jacobian_blocks(traced, mode, BATCH_BYTES if max_bytes is None else max_bytes)
    program = traced.program
    jac = program.out_tree.unflatten([_unpack(program.in_tree.unflatten(row), traced.single) for row in blocks])
    return (jac, traced.aux) if has_aux else jac


def _planned(fun: Fun, argnums: ArgNums, has_aux: bool, max_bytes: int | None) -> Fun:
    _check_callable(fun, "jacobian")
    if has_aux:
        raise ValueError("lagrad.jacobian(method='auto') does not take has_aux; choose a method or mode")

    @functools.wraps(fun)
    def jacobian_fun(*args: Any, **kwargs: Any) -> Any:
        bound = functools.partial(fun, **kwargs)
        chosen, traced = planned(bound, args, argnums, max_bytes)  # one trace: the plan's key and the solve's
        return _guarded("jacobian", lambda: _solved_at(chosen, traced, max_bytes), args, kwargs)

    return jacobian_fun


def _solved_at(chosen: Any, traced: Any, max_bytes: int | None) -> Any:
    if chosen.method == "sparse":  # the kept pattern and colouring, solved on this call's trace
        structure = chosen.structure
        J = structure._solve(traced.tape, traced.program).toarray()
        return np.reshape(J.astype(_dense_dtype(traced.program), copy=False), structure.out_shape + structure.in_shape)
    if chosen.method == "elimination":
        return _eliminated_at(traced, False, "markowitz")
    return _swept_at(traced, chosen.method, False, max_bytes)


def _sparse(fun: Fun, argnums: ArgNums, has_aux: bool, who: str, mode: str, max_bytes: int | None) -> Fun:
    _check_callable(fun, who)
    if has_aux:
        raise ValueError(
            f"lagrad.{who}(sparse=True) does not take has_aux: return the auxiliary data from a "
            f"separate call, or use lagrad.sparsity(f, *args, argnums=...) on the function without it"
        )
    return sparse_transform(fun, who == "hessian", mode, max_bytes, argnums)
