"""`lagrad.autograd.misc.flatten`: nested tuples, lists and dicts of arrays as one vector and back.

The order is autograd's (sequences in order, dicts by sorted key), so that flat vectors
agree between the two libraries; both directions trace, so a function of the flat
vector can be differentiated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as _np

from ... import numpy as _lnp
from ...control import value as _value


def flatten(value: Any) -> tuple[Any, Callable[[Any], Any]]:
    """``(vector, unflatten)``: every array in `value` raveled and concatenated, and the
    function that rebuilds `value`'s structure from such a vector."""
    leaves: list[Any] = []
    structure = _collect(value, leaves)
    parts = [_lnp.ravel(leaf) for leaf in leaves]
    vector = _lnp.concatenate(parts) if parts else _np.zeros(0)

    def unflatten(vector: Any) -> Any:
        return _rebuild(structure, vector, [0])

    return vector, unflatten


def _collect(value: Any, leaves: list[Any]) -> Any:
    if isinstance(value, (list, tuple)):
        return (type(value), [_collect(v, leaves) for v in value])
    if isinstance(value, dict):
        return (dict, [(k, _collect(value[k], leaves)) for k in sorted(value)])
    leaves.append(value)
    plain = _value(value)
    return (None, (_np.shape(plain), isinstance(plain, _np.ndarray)))


def _rebuild(structure: Any, vector: Any, start: list[int]) -> Any:
    kind, content = structure
    if kind is dict:
        return {k: _rebuild(s, vector, start) for k, s in content}
    if kind is not None:
        return kind(_rebuild(s, vector, start) for s in content)
    shape, array = content
    size = int(_np.prod(shape, dtype=_np.int64))
    piece = vector[start[0] : start[0] + size]
    start[0] += size
    return _lnp.reshape(piece, shape) if array or shape else piece[0]


def flatten_func(func: Callable[..., Any], example: Any) -> tuple[Callable[..., Any], Callable[[Any], Any], Any]:
    """``(flat_func, unflatten, flat_example)``: `func` of a structure like `example` as a
    function of its flat vector, returning its output flattened."""
    flat_example, unflatten = flatten(example)

    def flat_func(vector: Any, *args: Any) -> Any:
        return flatten(func(unflatten(vector), *args))[0]

    return flat_func, unflatten, flat_example
