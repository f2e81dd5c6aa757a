"""Products that contract axes: matmul, dot, tensordot, einsum.

Each is linear in every argument with the others fixed, so tangent mode
applies the product to the tangent; the transposes contract the multiplier
with the other factors and undo broadcasting of batch axes.
"""

from __future__ import annotations

import operator
import string
from typing import Any

import numpy as np

from ..core import deflinear, defvjp_argnum
from . import manipulation as _shape
from . import reductions
from ._register import function, method, prim, ufunc
from .ufuncs import multiply

__all__ = [
    "dot",
    "einsum",
    "matmul",
    "tensordot",
]

matmul = ufunc(np.matmul, elementwise=False, kernel=operator.matmul)
_tensordot = prim("tensordot", lambda a, b, axes: np.tensordot(a, b, axes))
_einsum = prim("einsum", lambda *operands, subscripts: np.einsum(subscripts, *operands))


# ----- matmul: promote 1-D factors to matrices, contract, sum out batch broadcasting ----


def _as_matrices(g: Any, xs: tuple[int, ...], ys: tuple[int, ...]) -> tuple[Any, tuple[int, ...], tuple[int, ...]]:
    """g shaped as matmul of the promoted factors, and the promoted shapes of x and y."""
    xs, ys = tuple(xs), tuple(ys)
    if len(xs) == 1:
        xs = (1, *xs)
        g = _shape.expand_dims(g, -2) if len(ys) > 1 else _shape.reshape(g, (1,))
    if len(ys) == 1:
        ys = (*ys, 1)
        g = _shape.expand_dims(g, -1)
    return g, xs, ys


def _matmul_vjp_x(g: Any, ans: Any, x: Any, y: Any) -> Any:
    g2, xs, ys = _as_matrices(g, x.shape, y.shape)
    y2 = _shape.reshape(y, ys)
    ct = _shape.unbroadcast(matmul(g2, _shape.swapaxes(y2, -1, -2)), xs)
    return _shape.reshape(ct, x.shape)


def _matmul_vjp_y(g: Any, ans: Any, x: Any, y: Any) -> Any:
    g2, xs, ys = _as_matrices(g, x.shape, y.shape)
    x2 = _shape.reshape(x, xs)
    ct = _shape.unbroadcast(matmul(_shape.swapaxes(x2, -1, -2), g2), ys)
    return _shape.reshape(ct, y.shape)


# ----- tensordot: contract the multiplier with the other factor, then restore axis order --


def _tensordot_vjp_a(g: Any, ans: Any, a: Any, b: Any, axes: tuple[tuple[int, ...], tuple[int, ...]]) -> Any:
    ax_a, ax_b = axes
    free_a = [i for i in range(a.ndim) if i not in ax_a]
    free_b = [i for i in range(b.ndim) if i not in ax_b]
    r = tensordot(g, b, axes=(list(range(len(free_a), g.ndim)), free_b))
    labels = free_a + [ax_a[ax_b.index(k)] for k in sorted(ax_b)]
    return _shape.transpose(r, [labels.index(i) for i in range(a.ndim)])


def _tensordot_vjp_b(g: Any, ans: Any, a: Any, b: Any, axes: tuple[tuple[int, ...], tuple[int, ...]]) -> Any:
    ax_a, ax_b = axes
    free_a = [i for i in range(a.ndim) if i not in ax_a]
    free_b = [i for i in range(b.ndim) if i not in ax_b]
    r = tensordot(a, g, axes=(free_a, list(range(len(free_a)))))
    labels = [ax_b[ax_a.index(k)] for k in sorted(ax_a)] + free_b
    return _shape.transpose(r, [labels.index(i) for i in range(b.ndim)])


# ----- einsum: the transpose of one operand is an einsum of the multiplier with the others --


def _einsum_vjp(argnum: int, g: Any, ans: Any, *operands: Any, subscripts: str) -> Any:
    inputs, output = subscripts.split("->")
    terms = inputs.split(",")
    target = terms[argnum]
    others = [t for j, t in enumerate(terms) if j != argnum]
    other_ops = [op for j, op in enumerate(operands) if j != argnum]
    available = set(output).union(*others)
    unique = "".join(dict.fromkeys(c for c in target if c in available))
    r = einsum(f"{','.join([output, *others])}->{unique}", g, *other_ops)
    full = _embed(r, unique, target, operands[argnum].shape)
    return _fit(full, operands[argnum].shape)


def _embed(r: Any, unique: str, target: str, shape: tuple[int, ...]) -> Any:
    """`r`, indexed by the distinct letters `unique`, laid out as the operand `target`:
    constant along letters only the operand has, on the diagonal of repeated letters."""
    if unique == target:
        return r
    free = iter(c for c in string.ascii_letters if c not in target)
    renamed, eyes, eye_terms, seen = [], [], [], set()
    for c, n in zip(target, shape):
        if c in seen:  # a repeated letter: on the diagonal with its first occurrence
            fresh = next(free)
            renamed.append(fresh)
            eyes.append(np.eye(n, dtype=bool))
            eye_terms.append(c + fresh)
            continue
        renamed.append(c)
        seen.add(c)
        if c not in unique:  # summed away inside this operand: constant along it
            eyes.append(np.ones(n, dtype=bool))
            eye_terms.append(c)
    return einsum(f"{','.join([unique, *eye_terms])}->{''.join(renamed)}", r, *eyes)


def _fit(r: Any, shape: tuple[int, ...]) -> Any:
    """Sum `r` over axes the operand broadcast (length 1 there)."""
    axes = tuple(i for i, (m, n) in enumerate(zip(r.shape, shape)) if n == 1 and m != 1)
    if axes:
        r = reductions.sum(r, axis=axes, keepdims=True)
    return _shape.broadcast_to(r, shape)


# fmt: off
deflinear(matmul,     _matmul_vjp_x,    _matmul_vjp_y)
deflinear(_tensordot, _tensordot_vjp_a, _tensordot_vjp_b)
deflinear(_einsum)
defvjp_argnum(_einsum, _einsum_vjp)
# fmt: on


# ----- the NumPy API ------------------------------------------------------------


def _ndim(x: Any) -> int:
    return len(_shape.shape_of(x))


@function(np.tensordot)
def tensordot(a: Any, b: Any, axes: Any = 2) -> Any:
    """Sum of products over the given axes of `a` and `b`."""
    nda, ndb = _ndim(a), _ndim(b)
    if np.ndim(axes) == 0:
        n = int(axes)
        ax_a, ax_b = tuple(range(nda - n, nda)), tuple(range(n))
    else:
        ax_a, ax_b = (tuple(np.atleast_1d(ax).tolist()) for ax in axes)
    ax_a = tuple(int(i) % nda for i in ax_a) if nda else ()
    ax_b = tuple(int(i) % ndb for i in ax_b) if ndb else ()
    if len(ax_a) != len(ax_b):
        raise ValueError("lagrad.numpy.tensordot: the two axis lists must have the same length")
    return _tensordot(a, b, axes=(ax_a, ax_b))


@function(np.dot)
@method("dot")
def dot(a: Any, b: Any, out: Any = None) -> Any:
    """numpy.dot: a product for scalars, matmul up to 2-D, a tensordot beyond."""
    if out is not None:
        raise TypeError("lagrad.numpy.dot: out= is not supported on traced values; use the result")
    nda, ndb = _ndim(a), _ndim(b)
    if nda == 0 or ndb == 0:
        return multiply(a, b)
    if ndb <= 2:
        return matmul(a, b)
    return tensordot(a, b, axes=((nda - 1,), (ndb - 2,)))


def _normalize_subscripts(subscripts: str, shapes: list[tuple[int, ...]]) -> str:
    """Subscripts with an explicit output and with ``...`` spelled out in letters."""
    subscripts = subscripts.replace(" ", "")
    inputs, arrow, output = subscripts.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"lagrad.numpy.einsum: {len(terms)} terms for {len(shapes)} operands")
    used = set(subscripts) - set(".,->")
    spare = [c for c in string.ascii_letters if c not in used]
    n_ell = max((len(s) - len(t.replace("...", "")) for t, s in zip(terms, shapes) if "..." in t), default=0)
    ell = "".join(spare[:n_ell])
    terms = [t.replace("...", ell[n_ell - (len(s) - len(t.replace("...", ""))) :]) for t, s in zip(terms, shapes)]
    if arrow:
        output = output.replace("...", ell)
    else:
        letters = "".join(terms)
        output = ell + "".join(sorted(c for c in set(letters) if letters.count(c) == 1 and c not in ell))
    return ",".join(terms) + "->" + output


@function(np.einsum)
def einsum(subscripts: str, *operands: Any, out: Any = None, optimize: Any = False, **kwargs: Any) -> Any:
    """Einstein summation (explicit or implicit output, ``...`` broadcasting)."""
    if out is not None or kwargs:
        raise TypeError("lagrad.numpy.einsum: only subscripts and operands are supported on traced values")
    if not isinstance(subscripts, str):
        raise TypeError("lagrad.numpy.einsum: give the subscripts as a string")
    shapes = [_shape.shape_of(op) for op in operands]
    return _einsum(*operands, subscripts=_normalize_subscripts(subscripts, shapes))
