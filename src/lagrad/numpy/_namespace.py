"""The primitives' forward values in another array namespace (array-api-strict, CuPy).

A primitive's implementation is NumPy's function. For values of a library that does not take
part in NumPy's dispatch, `ArrayPrimitive` looks the primitive up here by name instead: the
Python Array API standard's spelling (``absolute`` -> ``xp.abs``, ``transpose`` ->
``xp.permute_dims``, ``concatenate`` -> ``xp.concat``...), called with that namespace's
functions. The rules are written with lagrad's primitives and operators, so they run in the
same namespace through the same table. A primitive the standard does not cover raises an error
naming it and the library; functions of ``scipy.special`` go to the library's own module where
it has one (``cupyx.scipy.special``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..core.backend import device_of, namespace_name, namespace_of, numpy_dtype
from ..lazy import SWEEPS

F = Callable[..., Any]

# ----- elementwise: the standard's name where it differs from NumPy's ----------------------
_UNARY = {
    "absolute": "abs", "arccos": "acos", "arccosh": "acosh", "arcsin": "asin", "arcsinh": "asinh",
    "arctan": "atan", "arctanh": "atanh", "conjugate": "conj", "invert": "bitwise_invert",
    "bitwise_not": "bitwise_invert", "sign_complex": "sign",
}  # fmt: skip
_SAME_UNARY = [
    "ceil", "cos", "cosh", "exp", "expm1", "floor", "isfinite", "isinf", "isnan", "log", "log10",
    "log1p", "log2", "logical_not", "negative", "positive", "real", "sign", "signbit", "sin",
    "sinh", "sqrt", "square", "tan", "tanh", "trunc",
]  # fmt: skip
_BINARY = {"arctan2": "atan2", "power": "pow", "true_divide": "divide"}  # not fmod: remainder takes the sign of y
_SAME_BINARY = [
    "add", "bitwise_and", "bitwise_or", "bitwise_xor", "copysign", "divide", "equal", "floor_divide",
    "greater", "greater_equal", "hypot", "less", "less_equal", "logaddexp", "logical_and", "logical_or",
    "logical_xor", "maximum", "minimum", "multiply", "nextafter", "not_equal", "remainder", "subtract",
]  # fmt: skip

#: scipy.special functions a library may have a module of its own for.
_SPECIAL = {"cupy": "cupyx.scipy.special"}


def namespace_dtype(xp: Any, dtype: Any) -> Any:
    """`dtype` (NumPy's, or already the namespace's) as the namespace `xp` spells it."""
    if dtype is None:
        return None
    try:
        return getattr(xp, np.dtype(dtype).name)
    except TypeError:
        return dtype


def _reduction(name: str) -> F:
    return lambda xp, x, axis, keepdims: getattr(xp, name)(x, axis=axis, keepdims=keepdims)


def _concat(xp: Any, *xs: Any, axis: Any) -> Any:
    if axis is None:
        return xp.concat([xp.reshape(x, (-1,)) for x in xs], axis=0)
    return xp.concat(list(xs), axis=axis)


def _index(xp: Any, dynamic: tuple[Any, ...], index: Any, ndim: int) -> Any:
    """The index as the standard takes it: basic items only, with the trailing ``...`` NumPy
    implies written out."""
    where = index.fill(dynamic)
    items = where if isinstance(where, tuple) else (where,)
    if any(not (type(i) in (int, slice) or i is None or i is Ellipsis) for i in items):
        raise TypeError(
            f"lagrad: indexing {namespace_name(xp)} arrays with {where!r}: lagrad indexes them with "
            f"integers, slices, None and Ellipsis (the standard's basic indexing); select with a slice, "
            f"or compute the step in NumPy"
        )
    if Ellipsis not in items and sum(i is not None for i in items) < ndim:
        items = (*items, Ellipsis)
    return items


def _write(xp: Any, out: Any, items: tuple[Any, ...], value: Any, add: bool = False) -> Any:
    """out[items] = value (+= with `add`), in place. The standard writes through no new axis: an
    index with None writes through the same index without them, the value reshaped to fit."""
    if any(i is None for i in items):
        kept = tuple(i for i in items if i is not None)
        selected = out[kept].shape
        if hasattr(value, "shape"):
            value = xp.reshape(xp.broadcast_to(value, out[items].shape), selected)
        items = kept
    out[items] = out[items] + value if add else value
    return out


def _taken(xp: Any, dynamic: tuple[Any, ...], index: Any, like: Any) -> Any:
    """(axis, indices as the namespace's 1-d array, their shape, the basic items after them) when
    the index is full slices, then one integer array, then basic items (the standard's `take`);
    else None."""
    where = index.fill(dynamic)
    items = where if isinstance(where, tuple) else (where,)
    arrays = [k for k, i in enumerate(items) if hasattr(i, "shape") and hasattr(i, "dtype")]
    if len(arrays) != 1 or any(i != slice(None) for i in items[: arrays[0]]):
        return None
    k, idx = arrays[0], items[arrays[0]]
    if numpy_dtype(idx.dtype).kind not in "iu":
        return None
    idx = xp.asarray(idx, device=device_of(like)) if isinstance(idx, np.ndarray) else idx
    return k, xp.reshape(idx, (-1,)), tuple(idx.shape), items[k + 1 :]


def _getitem(xp: Any, x: Any, *dynamic: Any, index: Any) -> Any:
    taken = _taken(xp, dynamic, index, x)
    if taken is None:
        return x[_index(xp, dynamic, index, x.ndim)]
    k, flat, shape, rest = taken
    out = xp.take(x, flat, axis=k)
    out = xp.reshape(out, (*out.shape[:k], *shape, *out.shape[k + 1 :]))
    if not rest:
        return out
    items = (slice(None),) * (k + len(shape)) + rest
    return out[items if Ellipsis in items else (*items, Ellipsis)]


def _untake(xp: Any, g: Any, *dynamic: Any, index: Any, shape: tuple[int, ...]) -> Any:
    taken = _taken(xp, dynamic, index, g)
    if taken is not None:  # take's transpose: an incidence
        k, flat, taken_shape, rest = taken
        if rest:  # the basic items after the integer array (new axes included), undone first
            items = (slice(None),) * (k + len(taken_shape)) + rest
            whole = xp.zeros((*shape[:k], *taken_shape, *shape[k + 1 :]), dtype=g.dtype, device=device_of(g))
            g = _write(xp, whole, items if Ellipsis in items else (*items, Ellipsis), g)
        moved = xp.moveaxis(xp.reshape(g, (*shape[:k], flat.shape[0], *shape[k + 1 :])), k, -1)
        hits = xp.astype(flat[:, None] == xp.arange(shape[k], device=device_of(g)), g.dtype)
        return xp.moveaxis(moved @ hits, -1, k)
    where = _index(xp, dynamic, index, len(shape))
    return _write(xp, xp.zeros(shape, dtype=g.dtype, device=device_of(g)), where, g)


def _index_set(xp: Any, x: Any, v: Any, *dynamic: Any, index: Any) -> Any:
    return _write(xp, xp.asarray(x, copy=True), _index(xp, dynamic, index, x.ndim), v)


def _index_add(xp: Any, x: Any, v: Any, *dynamic: Any, index: Any) -> Any:
    return _write(xp, xp.asarray(x, copy=True), _index(xp, dynamic, index, x.ndim), v, add=True)


def _pad(xp: Any, x: Any, widths: tuple[tuple[int, int], ...]) -> Any:
    """Zeros around `x` (numpy.pad's constant mode)."""
    out = xp.zeros(tuple(n + b + a for n, (b, a) in zip(x.shape, widths)), dtype=x.dtype, device=device_of(x))
    out[tuple(slice(b, b + n) for (b, _), n in zip(widths, x.shape))] = x
    return out


def _cumsum_reverse(xp: Any, x: Any, axis: int) -> Any:
    return xp.flip(xp.cumulative_sum(xp.flip(x, axis=axis), axis=axis), axis=axis)


def _array(xp: Any, value: Any, *like: Any) -> Any:
    """A Python number as an array on the device of the first array among `like`."""
    device = next((device_of(a) for a in like if hasattr(a, "shape")), None)
    return xp.asarray(value, device=device)


def _where(xp: Any, c: Any, x: Any, y: Any) -> Any:
    c = c if hasattr(c, "shape") else _array(xp, c, x, y)
    if not hasattr(x, "shape") and not hasattr(y, "shape"):  # two Python numbers: the standard wants an array
        x = xp.asarray(x, device=device_of(c))
    return xp.where(c, x, y)


def _prod_others(xp: Any, x: Any, axis: tuple[int, ...]) -> Any:
    """The product of all entries but one along `axis`, for each entry, without division:
    products from the left times products from the right."""
    if x.size == 0:
        return xp.zeros_like(x)
    last = tuple(range(-len(axis), 0))
    moved = xp.moveaxis(x, axis, last)
    flat = xp.reshape(moved, (*moved.shape[: moved.ndim - len(axis)], -1))
    ones = xp.ones((*flat.shape[:-1], 1), dtype=flat.dtype, device=device_of(x))
    left = xp.cumulative_prod(xp.concat([ones, flat[..., :-1]], axis=-1), axis=-1)
    right = xp.flip(xp.cumulative_prod(xp.concat([ones, xp.flip(flat[..., 1:], axis=-1)], axis=-1), axis=-1), axis=-1)
    return xp.moveaxis(xp.reshape(left * right, moved.shape), last, axis)


def _adjugate(xp: Any, a: Any) -> Any:
    """adj(A) = det(U) det(Vᴴ) V diag(∏_{j≠i} s_j) Uᴴ, exact at any rank (as the NumPy kernel)."""
    u, s, vh = xp.linalg.svd(a)
    phase = xp.linalg.det(u) * xp.linalg.det(vh)
    others = _prod_others(xp, s, (s.ndim - 1,))
    v = xp.conj(xp.linalg.matrix_transpose(vh))
    return (v * (phase[..., None] * others)[..., None, :]) @ xp.conj(xp.linalg.matrix_transpose(u))


def _round(xp: Any, x: Any, decimals: int = 0) -> Any:
    if not decimals:
        return xp.round(x)
    scale = 10.0**decimals  # NumPy's own way: scale, round half to even, scale back
    return xp.round(x * scale) / scale


def _imag(xp: Any, x: Any) -> Any:
    """NumPy's imag: zeros for a real array (the standard's takes complex arrays only)."""
    return xp.imag(x) if xp.isdtype(x.dtype, "complex floating") else xp.zeros_like(x)


def _diagonal(xp: Any, x: Any, offset: int, axis1: int, axis2: int) -> Any:
    return xp.linalg.diagonal(xp.moveaxis(x, (axis1, axis2), (-2, -1)), offset=offset)


def _embed_diagonal(xp: Any, z: Any, offset: int, axis1: int, axis2: int, shape: tuple[int, ...]) -> Any:
    """Zeros of `shape` with `z` (laid out as numpy.diagonal returns it) on the diagonal: `z`
    padded to the rows' length, times the identity shifted by `offset`."""
    n, m = shape[axis1], shape[axis2]
    first = max(-offset, 0)
    batch = z.shape[:-1]
    pad = [xp.zeros((*batch, k), dtype=z.dtype, device=device_of(z)) for k in (first, n - first - z.shape[-1])]
    rows = xp.concat([pad[0], z, pad[1]], axis=-1)
    moved = rows[..., :, None] * xp.eye(n, m, k=offset, dtype=z.dtype, device=device_of(z))
    return xp.moveaxis(moved, (-2, -1), (axis1, axis2))


def _roll(xp: Any, x: Any, shift: Any, axis: Any) -> Any:
    return xp.roll(x, shift=shift, axis=axis)


def _complex(xp: Any, x: Any) -> Any:
    """`x` as a complex array (the standard's complex transforms take no real input; NumPy's do)."""
    if xp.isdtype(x.dtype, "complex floating"):
        return x
    return xp.astype(x, xp.complex64 if x.dtype == xp.float32 else xp.complex128)


def _fftn(xp: Any, x: Any, s: Any, axes: Any, norm: str, inverse: bool) -> Any:
    return (xp.fft.ifftn if inverse else xp.fft.fftn)(_complex(xp, x), s=s, axes=axes, norm=norm)


def _hermitian_from_lower(xp: Any, a: Any) -> Any:
    """The Hermitian matrix a lower triangle stands for (what NumPy's hermitian=True reads)."""
    return xp.tril(a) + xp.conj(xp.linalg.matrix_transpose(xp.tril(a, k=-1)))


def _triangular_solve(xp: Any, a: Any, b: Any, lower: bool, trans: str, unit_diagonal: bool) -> Any:
    """op(a) x = b reading only a's triangle (the standard has no triangular solver: the
    triangle, made whole, goes to its solve)."""
    t = xp.tril(a) if lower else xp.triu(a)
    if unit_diagonal:
        eye = xp.eye(t.shape[-1], dtype=t.dtype, device=device_of(t))
        t = t * (1 - eye) + eye
    if trans != "N":
        t = xp.linalg.matrix_transpose(t)
        t = xp.conj(t) if trans == "C" else t
    if b.ndim == 1:
        return xp.linalg.solve(t, b[:, None])[:, 0]
    return xp.linalg.solve(t, b)


def _clusters(xp: Any, w: Any) -> Any:
    """Which eigenvalues tie to rounding, as the NumPy kernel (`linalg._clusters_impl`) says."""
    n = w.shape[-1]
    tol = 16 * n * xp.finfo(w.dtype).eps * xp.max(xp.abs(w), axis=-1, keepdims=True)
    same = xp.abs(w[..., :, None] - w[..., None, :]) <= tol[..., None]
    for _ in range(max(n - 1, 1).bit_length()):  # transitive closure by squaring
        counts = xp.astype(same, xp.int64)
        same = (counts @ counts) > 0
    same = xp.astype(same, xp.float64)
    return same / xp.sum(same, axis=-1, keepdims=True)


def _einsum(xp: Any, *operands: Any, subscripts: str) -> Any:
    """numpy.einsum with the standard's functions: each operand laid out over all the letters
    (output's first), the product broadcast, the contracted letters summed."""
    inputs, arrow, output = subscripts.replace(" ", "").partition("->")
    terms = inputs.split(",")
    dots = max((op.ndim - len(t) + 3 for t, op in zip(terms, operands) if "..." in t), default=0)
    broadcast = "".join(chr(0x3B1 + i) for i in range(dots))  # letters einsum's subscripts never use
    terms = [t.replace("...", broadcast[dots - (op.ndim - len(t) + 3) :]) for t, op in zip(terms, operands)]
    if arrow:
        output = output.replace("...", broadcast)
    else:  # NumPy's implicit output: the broadcast axes, then the letters used once, in order
        counts = "".join(terms)
        output = broadcast + "".join(sorted(c for c in set(counts) if counts.count(c) == 1 and c not in broadcast))
    letters = output + "".join(sorted({c for t in terms for c in t} - set(output)))
    numeric = [op.dtype for op in operands if op.dtype != xp.bool]
    kind = xp.result_type(*numeric) if numeric else xp.int64
    operands = tuple(xp.astype(op, kind) if op.dtype == xp.bool else op for op in operands)  # NumPy's masks
    product = None
    for term, op in zip(terms, operands):
        while len(set(term)) != len(term):  # a letter twice in one operand: its diagonal, last
            c = next(c for c in term if term.count(c) > 1)
            i, j = term.index(c), term.index(c, term.index(c) + 1)
            op = xp.linalg.diagonal(xp.moveaxis(op, (i, j), (-2, -1)))
            term = term[:i] + term[i + 1 : j] + term[j + 1 :] + c
        order = sorted(range(len(term)), key=lambda i: letters.index(term[i]))
        moved = xp.permute_dims(op, tuple(order))
        shape = [1] * len(letters)
        for i in order:
            shape[letters.index(term[i])] = op.shape[i]
        moved = xp.reshape(moved, tuple(shape))
        product = moved if product is None else product * moved
    contracted = tuple(range(len(output), len(letters)))
    return xp.sum(product, axis=contracted) if contracted else product


def _unique(xp: Any, ar: Any, axis: Any = None, equal_nan: bool = True) -> Any:
    """numpy.unique's (first indices, inverse, counts) from the standard's unique_all, which
    flattens and keeps NaNs apart (numpy's equal_nan=True groups them: refused where one is)."""
    if axis is not None:
        raise ValueError("unique along an axis has no form in the standard; call it on the flattened array")
    if equal_nan and bool(xp.any(xp.isnan(ar))):
        raise ValueError("the standard's unique keeps NaNs apart, NumPy's equal_nan=True groups them")
    found = xp.unique_all(ar)
    return found.indices, found.inverse_indices, found.counts


def _eigh(xp: Any, a: Any, lower: bool) -> Any:
    # the standard reads the lower triangle; the upper one of `a` is the lower one of aᴴ
    return tuple(xp.linalg.eigh(a if lower else xp.conj(xp.linalg.matrix_transpose(a))))


def _svd(xp: Any, a: Any, full_matrices: bool, hermitian: bool) -> Any:
    if hermitian:
        raise ValueError(
            "svd(hermitian=True) orders and signs its singular vectors as NumPy's eigh does, which the "
            "standard's svd does not; call it with hermitian=False"
        )
    return tuple(xp.linalg.svd(a, full_matrices=full_matrices))


def _pinv(xp: Any, a: Any, rcond: Any, hermitian: bool) -> Any:
    return xp.linalg.pinv(_hermitian_from_lower(xp, a) if hermitian else a, rtol=rcond)


def _scatter_along(xp: Any, g: Any, idx: Any, axis: int, shape: tuple[int, ...], unique: bool) -> Any:
    """Zeros of `shape` with `g` added at `idx` along `axis`: a whole permutation by its inverse
    (a gather), anything else through a 0/1 incidence of `idx` and the axis' positions."""
    if unique and tuple(idx.shape) == tuple(shape):
        return xp.take_along_axis(g, xp.argsort(idx, axis=axis), axis=axis)
    n = shape[axis]
    moved_g, moved_idx = xp.moveaxis(g, axis, -1), xp.moveaxis(idx, axis, -1)
    hits = xp.astype(moved_idx[..., :, None] == xp.arange(n, device=device_of(g)), g.dtype)
    return xp.moveaxis(xp.sum(moved_g[..., :, None] * hits, axis=-2), -1, axis)


def _like(kind: str) -> F:
    """zeros_like / ones_like / empty_like / full_like (a recorded constant) in `xp`."""

    def like(xp: Any, a: Any, *fill: Any, dtype: Any = None, shape: Any = None, **_: Any) -> Any:
        dtype = a.dtype if dtype is None else namespace_dtype(xp, dtype)
        if shape is None:
            return getattr(xp, f"{kind}_like")(a, *fill, dtype=dtype, device=device_of(a))
        return getattr(xp, kind)(shape, *fill, dtype=dtype, device=device_of(a))

    return like


#: primitive name -> forward value ``(xp, *args, **params)`` with the namespace's functions.
SPELLINGS: dict[str, F] = {
    # constants shaped like an array (recorded so that writes into them are)
    "zeros_like": _like("zeros"),
    "ones_like": _like("ones"),
    "empty_like": _like("empty"),
    "full_like": lambda xp, a, fill_value, **params: _like("full")(xp, a, fill_value, **params),
    # reductions
    "sum": _reduction("sum"),
    "mean": _reduction("mean"),
    "prod": _reduction("prod"),
    "max": _reduction("max"),
    "min": _reduction("min"),
    "var": lambda xp, x, axis, ddof, keepdims: xp.var(x, axis=axis, correction=ddof, keepdims=keepdims),
    "cumsum": lambda xp, x, axis: xp.cumulative_sum(x, axis=axis),
    "cumsum_reverse": _cumsum_reverse,
    "prod_others": _prod_others,
    "cumprod": lambda xp, x, axis: xp.cumulative_prod(x, axis=axis),
    # shapes
    "reshape": lambda xp, x, shape: xp.reshape(x, shape),
    "transpose": lambda xp, x, axes: xp.permute_dims(x, tuple(range(x.ndim))[::-1] if axes is None else axes),
    "broadcast_to": lambda xp, x, shape: xp.broadcast_to(x, shape),
    "moveaxis": lambda xp, x, source, destination: xp.moveaxis(x, source, destination),
    "astype": lambda xp, x, dtype: xp.astype(x, namespace_dtype(xp, dtype)),
    "concatenate": _concat,
    "stack": lambda xp, *xs, axis: xp.stack(list(xs), axis=axis),
    # products
    "matmul": lambda xp, a, b: xp.matmul(a, b),
    "tensordot": lambda xp, a, b, axes: xp.tensordot(a, b, axes=axes),
    "einsum": _einsum,
    # selection
    "where": _where,
    "clip": lambda xp, x, lo, hi: xp.clip(x, lo, hi),
    "reciprocal": lambda xp, x: 1.0 / x,
    "getitem": _getitem,
    "untake": _untake,
    "index_set": _index_set,
    "index_add": _index_add,
    "stop_gradient": lambda xp, x: x,
    # linear algebra (the standard's extension)
    "inv": lambda xp, a: xp.linalg.inv(a),
    "solve": lambda xp, a, b: xp.linalg.solve(a, b),
    "det": lambda xp, a: xp.linalg.det(a),
    "adjugate": _adjugate,
    "slogdet": lambda xp, a: tuple(xp.linalg.slogdet(a)),
    "cholesky": lambda xp, a, upper: xp.linalg.cholesky(a, upper=upper),
    "eigh": _eigh,
    "unique": _unique,
    "clusters": _clusters,
    "triangular_solve": _triangular_solve,
    "svd": _svd,
    "qr": lambda xp, a, complete: tuple(xp.linalg.qr(a, mode="complete" if complete else "reduced")),
    "pinv": _pinv,
    "diagonal": _diagonal,
    "embed_diagonal": _embed_diagonal,
    # elementwise with NumPy's extras
    "round": _round,
    "imag": _imag,
    # shapes (roll, diff: the standard's 2024.12 revision has diff)
    "roll": _roll,
    "pad": _pad,
    "diff": lambda xp, x, n, axis: xp.diff(x, axis=axis, n=n),
    # sorting (take_along_axis: 2024.12); the standard's sorts are stable whatever NumPy's kind
    "sort": lambda xp, x, axis, kind: xp.sort(x, axis=axis),
    "sort_order": lambda xp, x, axis, kind: xp.argsort(x, axis=axis),
    "gather_along": lambda xp, x, idx, axis, unique: xp.take_along_axis(x, idx, axis=axis),
    "scatter_along": _scatter_along,
    # fft (the standard's extension)
    "fftn": _fftn,
    "rfftn": lambda xp, x, s, axes, norm: xp.fft.rfftn(x, s=s, axes=axes, norm=norm),
    "irfftn": lambda xp, x, s, axes, norm: xp.fft.irfftn(_complex(xp, x), s=s, axes=axes, norm=norm),
}
SPELLINGS.update({n: (lambda s: lambda xp, x: getattr(xp, s)(x))(s) for n, s in _UNARY.items()})
SPELLINGS.update({n: (lambda s: lambda xp, x: getattr(xp, s)(x))(n) for n in _SAME_UNARY})
SPELLINGS.update({n: (lambda s: lambda xp, x, y: getattr(xp, s)(x, y))(s) for n, s in _BINARY.items()})
SPELLINGS.update({n: (lambda s: lambda xp, x, y: getattr(xp, s)(x, y))(n) for n in _SAME_BINARY})


def spelling(name: str, xp: Any) -> F:
    """The forward value of primitive `name` in namespace `xp`, or an error naming both."""
    spell = SPELLINGS.get(name)
    if spell is not None:
        return lambda *args, **params: spell(xp, *args, **params)
    library = namespace_name(xp)
    module = _SPECIAL.get(library)
    if module is not None:
        import importlib

        fun = getattr(importlib.import_module(module), name, None)
        if fun is not None:
            return fun
    raise TypeError(
        f"lagrad.numpy.{name} has no form in the Python Array API standard, and lagrad has no "
        f"{library} spelling of it: it cannot run on {library} arrays. Convert to NumPy first "
        f"(numpy.asarray, or the library's own transfer), or write the step with functions the "
        f"standard covers."
    )


def call(prim: Any, xp: Any, args: tuple[Any, ...], params: dict[str, Any]) -> Any:
    """`prim` applied to plain values of which some live in namespace `xp`: NumPy arrays and
    scalars among them (the rules' constants, a seed) are moved to its device first."""
    like = next(a for a in args if namespace_of(a) is xp)
    if not SWEEPS[0] and any(type(a) is np.ndarray and a.ndim for a in args):  # in a sweep: a rule's constant
        raise TypeError(
            f"lagrad.numpy.{prim.name}: its arguments mix {namespace_name(xp)} arrays and a NumPy array of shape "
            f"{next(a.shape for a in args if type(a) is np.ndarray and a.ndim)}, which {namespace_name(xp)} does "
            f"not combine; make the constant a {namespace_name(xp)} array (xp.asarray(c, device=x.device))"
        )
    args = tuple(xp.asarray(a, device=device_of(like)) if isinstance(a, (np.ndarray, np.generic)) else a for a in args)
    function = spelling(prim.name, xp)
    try:
        return function(*args, **params)
    except Exception as error:  # the library's own error, with the primitive and the library named
        message = f"lagrad.numpy.{prim.name} on {namespace_name(xp)} arrays: {error}"
        try:
            named = type(error)(message)
        except Exception:  # an exception class that takes other arguments
            named = ValueError(message)
        raise named from error
