"""Products: matmul, dot, tensordot, einsum, and the NumPy products built on them (outer,
inner, vdot, kron, cross, vecdot, matvec, vecmat), convolution and correlation, and
trapezoidal integration.

Each is linear in every argument with the others fixed, so tangent mode
applies the product to the tangent; the transposes contract the multiplier
with the other factors and undo broadcasting of batch axes. A convolution's
transposes are convolutions of the multiplier with the other factor reversed.
"""

from __future__ import annotations

import operator
import string
import warnings
from typing import Any

import numpy as np

from ..core import defbatch, deflinear, defvjp_argnum, registry
from ..core.backend import numpy_dtype
from . import manipulation as _shape
from . import reductions
from ._register import array_like, function, method, prim, ufunc
from .ufuncs import conjugate, multiply

__all__ = [
    "convolve",
    "correlate",
    "cross",
    "dot",
    "einsum",
    "inner",
    "kron",
    "matmul",
    "matvec",
    "outer",
    "tensordot",
    "trapezoid",
    "vdot",
    "vecdot",
    "vecmat",
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
    if len(x.shape) == 2 and len(y.shape) == 2:  # matrices: nothing promoted, nothing broadcast
        return matmul(g, _shape.swapaxes(y, -1, -2))
    g2, xs, ys = _as_matrices(g, x.shape, y.shape)
    y2 = _shape.reshape(y, ys)
    ct = _shape.unbroadcast(matmul(g2, _shape.swapaxes(y2, -1, -2)), xs)
    return _shape.reshape(ct, x.shape)


def _matmul_vjp_y(g: Any, ans: Any, x: Any, y: Any) -> Any:
    if len(x.shape) == 2 and len(y.shape) == 2:
        return matmul(_shape.swapaxes(x, -1, -2), g)
    g2, xs, ys = _as_matrices(g, x.shape, y.shape)
    x2 = _shape.reshape(x, xs)
    ct = _shape.unbroadcast(matmul(_shape.swapaxes(x2, -1, -2), g2), ys)
    return _shape.reshape(ct, y.shape)


# ----- matmul batched over a leading axis of k tangents or cotangents ------------------


def _promoted(xs: tuple[int, ...], ys: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """The factors' shapes promoted to matrices, and the promoted product's shape."""
    xs2 = (1, *xs) if len(xs) == 1 else tuple(xs)
    ys2 = (*ys, 1) if len(ys) == 1 else tuple(ys)
    batch = np.broadcast_shapes(xs2[:-2], ys2[:-2])
    return xs2, ys2, (*batch, xs2[-2], ys2[-1])


# A matrix times k vectors is one matrix product with the k vectors as rows: the 1-D cases
# fold the batch into the product rather than run k matrix-vector products.


def _matmul_bvjp_x(g: Any, ans: Any, x: Any, y: Any) -> Any:
    k = g.shape[0]
    if len(x.shape) == 1 and y.ndim == 2:
        return matmul(g, _shape.swapaxes(y, -1, -2))
    xs2, ys2, out2 = _promoted(x.shape, y.shape)
    g2 = _shape.reshape(g, (k, *out2))
    ct = matmul(g2, _shape.swapaxes(_shape.reshape(y, ys2), -1, -2))
    return _shape.reshape(_shape.unbroadcast_batched(ct, xs2), (k, *x.shape))


def _matmul_bvjp_y(g: Any, ans: Any, x: Any, y: Any) -> Any:
    k = g.shape[0]
    if x.ndim == 2 and len(y.shape) == 1:
        return matmul(g, x)
    xs2, ys2, out2 = _promoted(x.shape, y.shape)
    g2 = _shape.reshape(g, (k, *out2))
    ct = matmul(_shape.swapaxes(_shape.reshape(x, xs2), -1, -2), g2)
    return _shape.reshape(_shape.unbroadcast_batched(ct, ys2), (k, *y.shape))


def _matmul_bjvp_x(t: Any, ans: Any, x: Any, y: Any) -> Any:
    k, xs = t.shape[0], t.shape[1:]
    if len(xs) == 1 and y.ndim == 2:
        return matmul(t, y)
    xs2, ys2, out2 = _promoted(xs, y.shape)
    pad = (1,) * (len(ys2) - len(xs2))
    out = matmul(_shape.reshape(t, (k, *pad, *xs2)), _shape.reshape(y, ys2))
    return _shape.reshape(out, (k, *_product_shape(xs, y.shape, out2)))


def _product_shape(xs: tuple[int, ...], ys: tuple[int, ...], out2: tuple[int, ...]) -> tuple[int, ...]:
    """matmul's result shape: the promoted product's, less the axes added to 1-D factors."""
    shape = out2[:-2]
    if len(xs) > 1:
        shape += out2[-2:-1]
    if len(ys) > 1:
        shape += out2[-1:]
    return shape


def _matmul_bjvp_y(t: Any, ans: Any, x: Any, y: Any) -> Any:
    k, ys = t.shape[0], t.shape[1:]
    if x.ndim == 2 and len(ys) == 1:
        return matmul(t, _shape.swapaxes(x, -1, -2))
    xs2, ys2, out2 = _promoted(x.shape, ys)
    pad = (1,) * (len(xs2) - len(ys2))
    out = matmul(_shape.reshape(x, xs2), _shape.reshape(t, (k, *pad, *ys2)))
    return _shape.reshape(out, (k, *_product_shape(x.shape, ys, out2)))


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
defbatch(matmul, vjps={0: _matmul_bvjp_x, 1: _matmul_bvjp_y}, jvps={0: _matmul_bjvp_x, 1: _matmul_bjvp_y})
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


def _sublist_letters(sublist: Any) -> str:
    """A sub-list of the operand form (integers 0-51 and Ellipsis) as subscript letters."""
    letters = []
    for item in sublist:
        if item is Ellipsis:
            letters.append("...")
            continue
        k = operator.index(item)
        if not 0 <= k < 52:
            raise ValueError(f"lagrad.numpy.einsum: subscript is not within the valid range [0, 52), got {k}")
        letters.append(string.ascii_letters[k])
    return "".join(letters)


def _from_sublists(args: tuple[Any, ...]) -> tuple[str, tuple[Any, ...]]:
    """``einsum(op0, sublist0, op1, sublist1, ..., [sublistout])`` as subscripts and operands."""
    operands, terms = args[0::2], [_sublist_letters(s) for s in args[1::2]]
    if len(args) % 2:  # an output sub-list closes the list
        operands, output = operands[:-1], _sublist_letters(args[-1])
        return ",".join(terms) + "->" + output, operands
    return ",".join(terms), operands


@function(np.einsum)
def einsum(*operands: Any, out: Any = None, optimize: Any = False, **kwargs: Any) -> Any:
    """Einstein summation (explicit or implicit output, ``...`` broadcasting), with the
    subscripts as a string or in the operand/sub-list form."""
    if out is not None or kwargs:
        raise TypeError("lagrad.numpy.einsum: only subscripts and operands are supported on traced values")
    if not operands:
        raise TypeError("lagrad.numpy.einsum: no operands given")
    if isinstance(operands[0], str):
        subscripts, operands = operands[0], operands[1:]
    else:
        subscripts, operands = _from_sublists(operands)
    operands = tuple(array_like(op) for op in operands)
    shapes = [_shape.shape_of(op) for op in operands]
    return _einsum(*operands, subscripts=_normalize_subscripts(subscripts, shapes))


# ----- products built from the ones above -----------------------------------------------------


@function(np.outer)
def outer(a: Any, b: Any, out: Any = None) -> Any:
    """``a[i] * b[j]`` for the flattened `a` and `b`."""
    if out is not None:
        raise TypeError("lagrad.numpy.outer: out= is not supported on traced values; use the result")
    if not _shape.traced(a, b):
        return np.outer(a, b)
    return multiply(_shape.reshape(a, (-1, 1)), _shape.reshape(b, (1, -1)))


@function(np.inner)
def inner(a: Any, b: Any, /) -> Any:
    """Sums of products over the last axes of `a` and `b` (a product when either is a scalar)."""
    if not _shape.traced(a, b):
        return np.inner(a, b)
    if _ndim(a) == 0 or _ndim(b) == 0:
        return multiply(a, b)
    return tensordot(a, b, axes=((-1,), (-1,)))


def _conj(a: Any) -> Any:
    return conjugate(a) if numpy_dtype(a.dtype).kind == "c" else a


@function(np.vdot)
def vdot(a: Any, b: Any, /) -> Any:
    """The dot product of the flattened arrays, conjugating the first."""
    if not _shape.traced(a, b):
        return np.vdot(a, b)
    a, b = array_like(a), array_like(b)
    return dot(_conj(_shape.ravel(a)), _shape.ravel(b))


@function(np.kron)
def kron(a: Any, b: Any) -> Any:
    """The Kronecker product: blocks ``a[i, j] * b``, as one broadcast product and a reshape."""
    if not _shape.traced(a, b):
        return np.kron(a, b)
    sa, sb = _shape.shape_of(a), _shape.shape_of(b)
    n = max(len(sa), len(sb))
    sa, sb = (1,) * (n - len(sa)) + sa, (1,) * (n - len(sb)) + sb
    wide_a = _shape.reshape(a, tuple(v for s in sa for v in (s, 1)))
    wide_b = _shape.reshape(b, tuple(v for s in sb for v in (1, s)))
    return _shape.reshape(multiply(wide_a, wide_b), tuple(p * q for p, q in zip(sa, sb)))


@function(np.cross)
def cross(a: Any, b: Any, axisa: int = -1, axisb: int = -1, axisc: int = -1, axis: Any = None) -> Any:
    """The cross product of 3-vectors (or 2-vectors, as vectors in the plane z = 0) along the
    given axes, broadcasting the others; two 2-vectors give the z component only."""
    if not _shape.traced(a, b):
        return np.cross(a, b, axisa, axisb, axisc, axis)
    a, b = array_like(a), array_like(b)
    if axis is not None:
        axisa = axisb = axisc = axis
    a = _shape.moveaxis(a, _shape.axis_index(axisa, _ndim(a)), -1)
    b = _shape.moveaxis(b, _shape.axis_index(axisb, _ndim(b)), -1)
    na, nb = _shape.shape_of(a)[-1], _shape.shape_of(b)[-1]
    if na not in (2, 3) or nb not in (2, 3):
        raise ValueError("lagrad.numpy.cross: incompatible dimensions for cross product (dimension must be 2 or 3)")
    if na == 2 or nb == 2:  # as NumPy 2 does
        warnings.warn(
            "lagrad.numpy.cross: arrays of 2-dimensional vectors are deprecated (as in NumPy 2.0); "
            "use 3-dimensional vectors",
            DeprecationWarning,
            stacklevel=2,
        )
    a0, a1, a2 = (a[..., i] if i < na else None for i in range(3))
    b0, b1, b2 = (b[..., i] if i < nb else None for i in range(3))
    z = a0 * b1 - a1 * b0
    if na == nb == 2:
        return z
    x = a1 * b2 if a2 is None else -(a2 * b1) if b2 is None else a1 * b2 - a2 * b1
    y = -(a0 * b2) if a2 is None else a2 * b0 if b2 is None else a2 * b0 - a0 * b2
    c = _shape.stack(list(_shape.broadcast_arrays(x, y, z)), axis=-1)
    return _shape.moveaxis(c, -1, _shape.axis_index(axisc, _ndim(c)))


# ----- the array API's vector products (NumPy ufuncs) --------------------------------------------


def vecdot(x1: Any, x2: Any, /, *, axis: int = -1) -> Any:
    """``sum(conj(x1) * x2, axis)``: vector dot products over `axis`, broadcasting the others."""
    if not _shape.traced(x1, x2):
        return np.vecdot(x1, x2, axis=axis)
    x1, x2 = array_like(x1), array_like(x2)
    return reductions.sum(multiply(_conj(x1), x2), axis=axis)


def matvec(x1: Any, x2: Any, /) -> Any:
    """Matrix-vector products over the last axes: ``x1[..., i, :] @ x2[..., :]``."""
    if not _shape.traced(x1, x2):
        return np.matvec(x1, x2)
    return matmul(x1, _shape.expand_dims(x2, -1))[..., 0]


def vecmat(x1: Any, x2: Any, /) -> Any:
    """Vector-matrix products over the last axes, conjugating the vector: ``conj(x1) @ x2``."""
    if not _shape.traced(x1, x2):
        return np.vecmat(x1, x2)
    x1, x2 = array_like(x1), array_like(x2)
    return matmul(_shape.expand_dims(_conj(x1), -2), x2)[..., 0, :]


registry.ufuncs[np.vecdot] = vecdot
registry.ufuncs[np.matvec] = matvec
registry.ufuncs[np.vecmat] = vecmat


# ----- convolution: the transposes are convolutions with the other factor reversed ----------------

_convolve = prim("convolve", lambda a, v, mode: np.convolve(a, v, mode))


def _full(g: Any, n: int, m: int, mode: str) -> Any:
    """The multiplier of a 'same' or 'valid' convolution of lengths n and m, as that of the
    'full' one (zeros where the mode cut the full result)."""
    if mode == "full":
        return g
    start = (min(n, m) - 1) // 2 if mode == "same" else min(n, m) - 1
    return _shape.pad(g, ((start, n + m - 1 - start - g.shape[0]),))


def _unconvolve(g: Any, other: Any) -> Any:
    """The transpose of convolving with `other`, applied to the 'full' multiplier `g`."""
    return _convolve(g, other[::-1], mode="valid")


# fmt: off
deflinear(_convolve, lambda g, ans, a, v, mode: _unconvolve(_full(g, a.shape[0], v.shape[0], mode), v),
                     lambda g, ans, a, v, mode: _unconvolve(_full(g, a.shape[0], v.shape[0], mode), a))
# fmt: on


def _as_1d(name: str, x: Any) -> Any:
    x = array_like(x)
    if _ndim(x) > 1:
        raise ValueError(f"lagrad.numpy.{name}: the arrays must be 1-d")
    if _ndim(x) == 0:
        x = _shape.reshape(x, (1,))
    if _shape.shape_of(x)[0] == 0:
        raise ValueError(f"lagrad.numpy.{name}: the arrays cannot be empty")
    return x


_MODES = ("full", "same", "valid")


def _mode(name: str, mode: Any) -> str:
    mode = {0: "valid", 1: "same", 2: "full"}.get(mode, mode) if isinstance(mode, int) else mode
    if mode not in _MODES:
        raise ValueError(f"lagrad.numpy.{name}: mode must be 'full', 'same' or 'valid', not {mode!r}")
    return mode


@function(np.convolve)
def convolve(a: Any, v: Any, mode: str = "full") -> Any:
    """The discrete linear convolution of two 1-d arrays (modes 'full', 'same', 'valid')."""
    if not _shape.traced(a, v):
        return np.convolve(a, v, mode)
    return _convolve(_as_1d("convolve", a), _as_1d("convolve", v), mode=_mode("convolve", mode))


@function(np.correlate)
def correlate(a: Any, v: Any, mode: str = "valid") -> Any:
    """The cross-correlation ``sum_n a[n + k] * conj(v[n])``: a convolution with `v` reversed
    and conjugated."""
    if not _shape.traced(a, v):
        return np.correlate(a, v, mode)
    a, v = _as_1d("correlate", a), _as_1d("correlate", v)
    mode = _mode("correlate", mode)
    n, m = _shape.shape_of(a)[0], _shape.shape_of(v)[0]
    reversed_v = _conj(v)[::-1]
    if mode == "same" and n < m and n % 2 == 0:  # NumPy centres this case one place later
        return _convolve(a, reversed_v, mode="full")[n // 2 : n // 2 + m]
    return _convolve(a, reversed_v, mode=mode)


# ----- integration --------------------------------------------------------------------------------


@function(np.trapezoid)
def trapezoid(y: Any, x: Any = None, dx: Any = 1.0, axis: int = -1) -> Any:
    """The integral of `y` along `axis` by the trapezoidal rule, over sample points `x`
    (or a uniform spacing `dx`)."""
    if not _shape.traced(y, x, dx):
        return np.trapezoid(y, x, dx, axis)
    y = array_like(y)
    ndim = _ndim(y)
    axis = _shape.axis_index(axis, ndim)
    if x is None:
        d = dx
    else:
        x = array_like(x)
        if _ndim(x) == 1:
            d = _shape.reshape(_shape.diff(x), tuple(-1 if i == axis else 1 for i in range(ndim)))
        else:
            d = _shape.diff(x, axis=axis)
    upper = y[_shape.along(axis, slice(1, None))]
    lower = y[_shape.along(axis, slice(None, -1))]
    return reductions.sum(d * (upper + lower) / 2.0, axis=axis)
