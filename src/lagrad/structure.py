"""The Jacobians that use the structure of ``A`` rather than solving it row by row.

`lagrad.jacobian(sparse=True)`, ``method="elimination"`` and ``method="auto"``, and
`lagrad.hessian(sparse=True)` reach their modules (`sparse_derivatives`, `elimination`,
`plan`) through `structured`, so the transforms know only that these keywords exist.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from .core.program import Constant
from .elimination import EliminationGraph
from .plan import plan
from .sparse_derivatives import sparse_transform
from .transforms import ArgNums, Fun, _check_callable, _float_dtype, _jacobian, _trace, _traced_run, _unpack, value


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
        program = traced.program
        # on traced values elimination would read plain numbers (its Jacobian a constant); an empty
        # array leaves nothing to eliminate: reverse mode for both
        empty = any(0 in tuple(s) for s, _ in program.inputs) or any(0 in np.shape(value(v)) for v in traced.outputs)
        if empty or _traced_run(traced.tape):
            return _jacobian(fun, argnums, "rev", has_aux, "jacobian")(*args, **kwargs)
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

    return jacobian_fun


def _planned(fun: Fun, argnums: ArgNums, has_aux: bool, max_bytes: int | None) -> Fun:
    _check_callable(fun, "jacobian")
    if has_aux:
        raise ValueError("lagrad.jacobian(method='auto') does not take has_aux; choose a method or mode")

    @functools.wraps(fun)
    def jacobian_fun(*args: Any, **kwargs: Any) -> Any:
        bound = functools.partial(fun, **kwargs)
        chosen = plan(bound, *args, argnums=argnums, max_bytes=max_bytes)
        if chosen.method == "sparse":  # the plan's pattern and colouring, solved at its own trace
            structure = chosen.structure
            J = structure._solve(structure._tape).toarray().astype(structure.dense_dtype, copy=False)
            return np.reshape(J, structure.out_shape + structure.in_shape)
        chosen = chosen.method
        if chosen == "elimination":
            return _eliminated(bound, argnums, False, "markowitz")(*args)
        return _jacobian(bound, argnums, chosen, False, "jacobian", max_bytes)(*args)

    return jacobian_fun


def _sparse(fun: Fun, argnums: ArgNums, has_aux: bool, who: str, mode: str, max_bytes: int | None) -> Fun:
    _check_callable(fun, who)
    if has_aux:
        raise ValueError(
            f"lagrad.{who}(sparse=True) does not take has_aux: return the auxiliary data from a "
            f"separate call, or use lagrad.sparsity(f, *args, argnums=...) on the function without it"
        )
    return sparse_transform(fun, who == "hessian", mode, max_bytes, argnums)
