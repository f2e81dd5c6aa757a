"""Arrays of other libraries at the transforms' edge: Dask, array namespaces, and mixing.

The core asks only `core.backend.is_lazy`; everything else Dask needs lives here: the guard
that refuses a compute lagrad would start (`lazy_guard`), seeds made lazy (`as_lazy`),
gradients in the inputs' library (`gradients_like`) and the check that the arguments' libraries
combine (`check_one_library`). For array-api-strict and CuPy, NumPy scalars are made the
namespace's at the entry (`promote_scalars`) and the transforms not yet ported refuse them
(`check_namespace_transform`). DESIGN.md, "Other array libraries", says why.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from .core import registry
from .core.backend import (
    NAMESPACE_LIBRARIES,
    UNKNOWN_SHAPE,
    _plain,
    device_of,
    in_namespace,
    is_lazy,
    namespace_library,
    namespace_name,
    namespace_of,
)
from .core.primitive import SHAPE_READS
from .core.program import META

#: How many sweeps (back or forward substitution, `library_errors`) are running. Inside one,
#: a NumPy array next to a namespace's array is a rule's own constant (an identity, a mask),
#: moved to that namespace; while the user's function is traced it is refused, as the library would.
SWEEPS = [0]
#: Var's conversions: a branch on a traced value computes it, as Dask itself does.
_BRANCHES = frozenset({"__bool__", "__float__", "__int__", "__index__", "__complex__", "item", "tolist"})
_LAGRAD = os.path.dirname(os.path.abspath(__file__)) + "/"


def _who_computes() -> str | None:
    """What in lagrad is asking Dask to compute (None: the user's code or a branch).
    The innermost frame outside Dask, NumPy and SciPy decides."""
    import sys

    frame = sys._getframe(2)
    culprit = None
    while frame is not None:
        path = frame.f_code.co_filename
        if path.startswith(_LAGRAD):
            if frame.f_code.co_name in _BRANCHES:
                return None
            culprit = culprit or frame
            for name in ("self", "prim", "eq", "equation"):
                obj = frame.f_locals.get(name)
                prim = getattr(obj, "primitive", obj)
                if hasattr(prim, "kernel") and hasattr(prim, "name"):
                    return prim.name
        elif culprit is None and not any(part in path for part in ("/dask/", "/numpy/", "/scipy/", "/distributed/")):
            return None  # the user's own code computes (x.compute(), print)
        frame = frame.f_back
    return None if culprit is None else f"{culprit.f_code.co_name} ({culprit.f_code.co_filename.rsplit('/', 1)[-1]})"


class LazyComputeError(RuntimeError):
    """lagrad would have computed a Dask graph where the user asked for none."""


def backend_name(x: Any) -> str:
    """The library `x` belongs to, as users name it (``numpy``, ``dask``, ``cupy``...)."""
    x = _plain(x)
    if isinstance(x, (np.ndarray, np.generic)):
        return "numpy"
    return type(x).__module__.split(".")[0]


def lazy_guard(who: str = "grad") -> Any:
    """A context in which a Dask graph computed on lagrad's behalf raises `LazyComputeError`
    naming the function responsible (a branch on a traced value, and the user's own calls,
    compute as usual)."""
    from dask.callbacks import Callback

    class _Guard(Callback):
        def _start(self, dsk: Any) -> None:
            name = _who_computes()
            if name is not None:
                raise LazyComputeError(
                    f"lagrad.{who}: '{name}' would compute the Dask graph to finish tracing or "
                    f"differentiating (Dask has no lazy form of an operation it uses, and would run "
                    f"NumPy's on the computed array). Compute the array first (x.compute()) and pass "
                    f"a NumPy array, or write the step with functions Dask implements."
                )

    return _Guard()


def any_lazy(args: Any) -> bool:
    """Whether any array among `args` (nested lists, tuples, dicts) is lazy. Every transform
    asks this on every call: plain NumPy arguments answer without a walk, and the walk builds
    no paths."""
    if type(args) in (tuple, list, dict) and all(type(a) is np.ndarray for a in args):  # {}: no keywords
        return False
    return any(type(a) is not np.ndarray and is_lazy(a) for _, a in _leaves(args, None))


#: How deep the walks below look into nested containers (tree_flatten refuses deeper ones).
_DEPTH = 64


def _leaves(args: Any, where: str | None) -> Any:
    """(path, leaf) of nested lists, tuples and dicts, without recursion: a container met
    twice (one that contains itself) is walked once, and nesting beyond `_DEPTH` is left to
    `tree_flatten`'s error. `where=None`: no paths (None each), for a walk that only looks."""
    stack, seen = [(args, where, 0)], set()
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, (list, tuple, dict)):
            if id(item) in seen or depth > _DEPTH:
                continue
            seen.add(id(item))
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            stack.extend((a, None if path is None else f"{path}[{k!r}]", depth + 1) for k, a in reversed(list(pairs)))
        else:
            yield path, item


def as_lazy(x: Any) -> Any:
    """A NumPy seed or tangent as a (one-chunk) Dask array, so that what the rules broadcast it
    to is built on the workers, not in this process and sent to them; other values as given."""
    if type(x) is not np.ndarray and not isinstance(x, np.generic):
        return x
    import dask.array as da

    return da.from_array(np.asarray(x))


def _entrywise_mask(ct: Any, g: Any, when: Any) -> Any:
    """One block of ``where((g == 0) & when, 0, ct)``, shaped as numpy.where shapes it, on a Dask
    worker. `ct` is returned untouched unless it holds a NaN, looked for by one sum over the block
    (NaN survives any sum; ±inf that sum to NaN only send the block the exact way): a rule's result
    is linear in the multiplier `g`, so where `g` is zero it is ±0 or, against an infinite
    partial, NaN, and the mask changes only the NaN."""
    if ct.shape == np.broadcast_shapes(ct.shape, np.shape(g)) and (
        not when or ct.dtype.kind not in "fc" or not np.isnan(np.add.reduce(ct, axis=None))
    ):
        return ct
    return np.where((g == 0) & when, ct.dtype.type(0), ct)


def _whole_mask(ct: Any, nonzero: Any, when: Any) -> Any:
    """One block of `ct`, or of zeros where every entry of the multiplier is zero (`nonzero`
    false) and `when`, on a Dask worker; untouched unless it holds a NaN (`_entrywise_mask`)."""
    if nonzero or not when or ct.dtype.kind not in "fc" or not np.isnan(np.add.reduce(ct, axis=None)):
        return ct
    return np.zeros_like(ct)


def masked(g: Any, ct: Any, elementwise: bool, when: Any) -> Any:
    """Zero means zero on Dask (`operators._masked`): `ct` (a rule's result for the multiplier or
    tangent `g`) with the contributions of g's zero entries made exactly zero, entry by entry for
    an elementwise rule, else all of it when all of `g` is zero; under `when` (True, or a lazy
    boolean: the output is not NaN). One blockwise layer over `ct`'s blocks, which looks at each
    block once (`_entrywise_mask`) instead of a comparison, an `and` and a `where` each
    passing over it; nothing is computed here."""
    import dask.array as da
    from dask.base import tokenize

    if elementwise:
        other, ndim, fun, name = g, max(np.ndim(ct), np.ndim(g)), _entrywise_mask, "zero-means-zero"
    else:
        other, ndim, fun, name = np.any(g != 0), np.ndim(ct), _whole_mask, "zero-means-zero-whole"
    lazy_when = is_lazy(when)
    return da.blockwise(
        fun,
        tuple(range(ndim))[::-1],  # trailing axes aligned, as NumPy broadcasts
        *(ct, tuple(range(np.ndim(ct)))[::-1], other, tuple(range(np.ndim(other)))[::-1]),
        *((when, ()) if lazy_when else (bool(when), None)),
        name=f"{name}-{tokenize(ct, other, when)}",
        dtype=ct.dtype,
        meta=np.empty((0,) * ndim, ct.dtype),
    )


def _rule_block(rule: Any, params: dict[str, Any], masks: bool, g: Any, when: Any, *values: Any) -> Any:
    """One block of an elementwise rule's result, on a Dask worker: the rule on NumPy blocks
    (lagrad's NumPy path), shaped as the blocks broadcast, and with zero means zero when `masks`."""
    with np.errstate(invalid="ignore"):  # 0 × inf is masked just below
        ct = np.asarray(rule(g, *values, **params))
    shape = np.broadcast_shapes(g.shape, *(v.shape for v in values if isinstance(v, np.ndarray)))
    if ct.shape != shape:  # a rule that gives less than the blocks' shape (a constant partial)
        ct = np.broadcast_to(ct, shape).copy()
    return _entrywise_mask(ct, g, when) if masks else ct


def rule_blocks(rule: Any, g: Any, values: list[Any], params: dict[str, Any], when: Any, name: str) -> Any:
    """An elementwise rule's result for the Dask multiplier (or tangent) `g` as one blockwise layer:
    each block is the rule applied to the blocks of `g` and of the forward `values` that are arrays
    (Dask's, or NumPy's made Dask's), other values passed whole, then masked as `masked` does
    (`when` False: not masked). One layer in place of a Dask operation per step of the rule and
    three per mask, each of which costs the client a millisecond or so to build (the dtype is found
    once, on empty NumPy arrays) and the workers a pass over the block. None where the rule does not
    run block by block: a value kept only for its shape (the rule reads the whole array's), or a
    traced value (a higher derivative records the rule's steps)."""
    import functools

    import dask.array as da
    from dask.base import tokenize

    if not _is_array(g) or not all(
        v is None or isinstance(v, (int, float, complex, np.generic)) or _is_array(v) for v in values
    ):
        return None
    try:  # the result's dtype, from the rule on empty blocks
        with np.errstate(all="ignore"):
            meta = rule(_empty(g), *(_empty(v) for v in values), **params)
    except Exception:  # the rule does not take empty blocks: step by step, as Dask operations
        return None
    if not isinstance(meta, (np.ndarray, np.generic)):  # several arrays, or not NumPy's
        return None
    ndim = max(v.ndim for v in (g, *values) if _is_array(v))
    args: list[Any] = [g, tuple(range(g.ndim))[::-1]]
    args += [when, ()] if is_lazy(when) else [when is not False and bool(when), None]
    for v in values:
        args += [v, tuple(range(v.ndim))[::-1]] if _is_array(v) else [v, None]
    return da.blockwise(
        functools.partial(_rule_block, rule, params, when is not False),
        tuple(range(ndim))[::-1],  # trailing axes aligned, as NumPy broadcasts
        *args,
        name=f"{name}-{tokenize(g, when, *values, params)}",
        dtype=meta.dtype,
        meta=np.empty((0,) * ndim, meta.dtype),
    )


def _is_array(v: Any) -> bool:
    """A NumPy or plain Dask array (not an `Aval`, a traced value or a several-array value)."""
    return type(v) is np.ndarray or (is_lazy(v) and not hasattr(v, "_trace") and hasattr(v, "chunks"))


def _empty(v: Any) -> Any:
    return (np.empty((0,) * v.ndim, v.dtype) if v.ndim else np.zeros((), v.dtype)) if _is_array(v) else v


def fixed_partial(reads: Any, values: list[Any], params: dict[str, Any]) -> bool:
    """Whether a rule that declared `reads` (`core.rule_reads`) reads nothing of the forward
    `values` ``(ans, *args)`` but shapes, and `params` hold no inexact number: its result is then
    a fixed linear map of the multiplier (a sum's spread, a reshape, ±g), finite by construction,
    and zero means zero has nothing to mask."""
    if reads is not SHAPE_READS and (type(reads) is not tuple or any(r > META for r in reads[: len(values)])):
        return False
    return not any(_inexact(p) for p in params.values())


def _inexact(p: Any) -> bool:
    if type(p) in (tuple, list):
        return any(_inexact(q) for q in p)
    return isinstance(p, (float, complex, np.inexact)) or (isinstance(p, np.ndarray) and p.dtype.kind not in "biu")


def gradients_like(lam: list[Any], leaves: list[Any]) -> list[Any]:
    """The inputs' multipliers `lam` (None: zero) in the library of the inputs `leaves`: a
    gradient that never met a Dask value (a linear function's, a constant's) is still a Dask
    array, chunked as its input."""
    out = list(lam)
    for j, leaf in enumerate(leaves):
        xp = None if type(leaf) is np.ndarray else namespace_of(leaf)
        if xp is not None and not hasattr(out[j], "_trace"):  # array-api-strict, CuPy: theirs
            if out[j] is None:
                out[j] = xp.zeros(leaf.shape, dtype=leaf.dtype, device=device_of(leaf))
            elif namespace_of(out[j]) is not xp:
                out[j] = in_namespace(out[j], leaf)
            continue
        if not is_lazy(leaf) or hasattr(out[j], "_trace"):
            continue
        leaf = _plain(leaf)  # a traced leaf (a second derivative) whose gradient is a constant
        if is_lazy(out[j]):
            if out[j].shape == leaf.shape and out[j].chunks != leaf.chunks:
                out[j] = out[j].rechunk(leaf.chunks)
            continue
        import dask.array as da

        g = out[j]
        out[j] = (
            da.zeros(leaf.shape, dtype=leaf.dtype, chunks=leaf.chunks)
            if g is None
            else da.from_array(np.asarray(g), chunks=leaf.chunks)
        )
    return out


def ones_like(x: Any) -> Any:
    """Ones shaped and typed like `x`, in its library: ``numpy.ones_like`` (which Dask takes
    over), or the namespace's own for array-api-strict's and CuPy's arrays."""
    xp = None if type(x) is np.ndarray else namespace_of(x)
    return np.ones_like(x) if xp is None else xp.ones_like(x)


#: Libraries whose arrays combine with NumPy's in one operation (the result is theirs).
PROMOTES_NUMPY = frozenset({"dask"})


def _arrays(args: Any, where: str) -> Any:
    for path, a in _leaves(args, where):
        if hasattr(a, "shape") and hasattr(a, "dtype") and not isinstance(a, np.generic):
            yield path, _plain(a)


def check_one_library(args: Any, who: str) -> None:
    """Refuse arguments from two array libraries that do not combine (CuPy with NumPy, Dask with
    CuPy...), naming both, before anything is traced; NumPy's with Dask's combine as Dask does."""
    first: dict[str, str] = {}
    for where, a in _arrays(args, "args"):
        if type(a) is np.ndarray and a.ndim == 0:  # a NumPy 0-d array combines like a scalar
            continue
        first.setdefault(backend_name(a), where)
    names = set(first)
    if len(names) < 2 or (len(names) == 2 and "numpy" in names and not names - {"numpy"} - PROMOTES_NUMPY):
        return
    (a, wa), (b, wb) = sorted(first.items())[:2]
    raise TypeError(
        f"lagrad.{who}: the arguments mix {a} arrays ({wa}) and {b} arrays ({wb}), which do not combine in "
        f"one operation; put every array in one library first (e.g. {b}.asarray(x) or x.get() back to NumPy)"
    )


class library_errors:
    """A context in which an error raised by a rule, while a sweep runs on another library's
    arrays, comes out as `derivative_error`'s: the equation and the library named. `library`
    where the caller knows it (Dask), else read off `outputs` (array-api-strict, CuPy); on
    NumPy's arrays the error passes unchanged. A class, not a generator: every sweep enters it."""

    __slots__ = ("library", "outputs")

    def __init__(self, outputs: Any, library: str | None = None) -> None:
        self.outputs, self.library = outputs, library

    def __enter__(self) -> None:
        SWEEPS[0] += 1

    def __exit__(self, kind: Any, error: Any, traceback: Any) -> bool:
        SWEEPS[0] -= 1
        if not isinstance(error, Exception):
            return False
        library = self.library or namespace_library(self.outputs)
        if library is None:
            return False
        raise derivative_error(error, library) from error


def derivative_error(error: Exception, backend: str, where: str | None = None) -> Exception:
    """`error`, raised by a rule while a sweep ran on `backend`'s (lazy) arrays, with the
    primitive whose derivative raised it and the library named (the innermost frame of the
    sweep holding an equation `eq` says which)."""
    name, tb = None, error.__traceback__
    while tb is not None:
        eq = tb.tb_frame.f_locals.get("eq")
        if eq is not None and hasattr(eq, "primitive"):
            name = f"{eq.primitive.name} (equation z{eq.out + 1})"
        tb = tb.tb_next
    message = f"lagrad: the derivative of {name or 'an equation'} on {backend} arrays: {error}"
    if where is not None and "lagrad.core.trace.Var" in str(error):  # the library's operator met a traced value
        message = (
            f"{where}: an operator of a {backend} array met a traced value on its right (w * x, W @ x with w, W "
            f"{backend} arrays and x traced): {backend}'s operators take only their own arrays and Python scalars "
            f"and do not hand the operation over to the traced value ({type(error).__name__}: {error}). Write the "
            f"traced value on the left (x * w), or call lagrad.numpy's function, which takes either order "
            f"(lagrad.numpy.multiply(w, x), lagrad.numpy.matmul(W, x))"
        )
    elif where is not None:  # raised while tracing: a step written for NumPy alone
        message = (
            f"{where}: {_library_function(error)}{type(error).__name__}: {error} (a step of the function, or of "
            f"lagrad.numpy's code for it, that the Array API standard does not cover; compute that step on NumPy "
            f"arrays)"
        )
    try:
        return type(error)(message)
    except Exception:
        return ValueError(message)


def constant_mix_error(error: Exception, leaves: Any, who: str) -> Exception | None:
    """The error for an array of an array namespace (array-api-strict, CuPy), held by the function
    as a constant, whose operator met a traced value of another library (NumPy's, Dask's) on its
    right (``X * w``): the two libraries named. None for any other error."""
    if not isinstance(error, TypeError) or "lagrad.core.trace.Var" not in str(error):
        return None
    tb, raising = error.__traceback__, None
    while tb is not None:
        raising = tb.tb_frame.f_globals.get("__name__", "").split(".")[0]
        tb = tb.tb_next
    if raising not in NAMESPACE_LIBRARIES:
        return None
    arguments = sorted({backend_name(a) for _, a in _arrays(leaves, "")} - {raising}) or ["numpy"]
    return TypeError(
        f"lagrad.{who}: an operator of one of {raising}'s arrays (a constant of the function) met a traced value of "
        f"{' and '.join(arguments)} arrays (the arguments): the function mixes {raising} arrays and "
        f"{' and '.join(arguments)} arrays, which do not combine in one operation; put every array in one "
        f"library first ({raising}.asarray(x, device=...), or move the constant to {arguments[0]})"
    )


def _library_function(error: Exception) -> str:
    """``lagrad.numpy.median: `` for an error raised inside lagrad.numpy's or lagrad.scipy's code
    (the outermost of their functions on the way: the one the user called), else ''."""
    tb = error.__traceback__
    while tb is not None:
        path = tb.tb_frame.f_code.co_filename
        name = tb.tb_frame.f_code.co_name
        for package in ("numpy", "scipy"):
            if path.startswith(f"{_LAGRAD}{package}/") and name not in ("call", "__call__") and name[0] != "<":
                module = path.rsplit("/", 1)[-1].removesuffix(".py")
                where = f"{package}.{module}" if module in ("linalg", "fft", "special") else package
                return f"lagrad.{where}.{name}: "
        tb = tb.tb_next
    return ""


def lazy_checked(run: Callable[[], Any], who: str, args: Any, kwargs: Any) -> Any:
    """`run()`, where if `args` or `kwargs` hold a Dask array, any compute that lagrad (not a
    branch of the user's function) would start raises an error naming `who`."""
    if not any_lazy(args) and not any_lazy(kwargs):
        return run()
    with lazy_guard(who):
        return run()


def promote_scalars(args: Any, differentiated: Any) -> Any:
    """The arguments with NumPy scalars and 0-d arrays (and the Python numbers that are
    `differentiated`) made arrays of the namespace the other arguments live in (array-api-strict,
    CuPy), as NumPy's scalars combine with anything: inside the derivative's rules they meet that
    library's operators, which take no NumPy values."""
    like = next((a for _, a in _arrays(args, "") if namespace_of(a) is not None), None)
    if like is None:
        return args
    xp, device = namespace_of(like), device_of(like)
    return tuple(
        xp.asarray(a, device=device)
        if isinstance(a, np.generic)
        or (type(a) is np.ndarray and a.ndim == 0)
        or (i in differentiated and type(a) in (float, complex))
        else a
        for i, a in enumerate(args)
    )


#: The transforms that run on array-api-strict's and CuPy's arrays (the others refuse them by name).
NAMESPACE_TRANSFORMS = frozenset(
    {
        "grad",
        "value_and_grad",
        "vjp",
        "jvp",
        "jacobian",
        "hessian",
        "elementwise_grad",
        "hvp",
        "trace",
        "check_grads",
        "adjoint",
    }
)


#: The solvers that run on Dask's and the namespaces' arrays (`grad(method=...)`,
#: `AdjointSystem.solve`): the others (`sparse`) assemble the system's scalar matrix with SciPy.
NAMESPACE_SOLVERS = frozenset({"back_substitution", "levels", "forward_substitution"})


def check_solver(method: str, values: Any, who: str) -> None:
    """Refuse, naming the solver, the library and the alternatives, a solver that does not run on
    the arrays of `values` (Dask's, array-api-strict's, CuPy's); NumPy's pass."""
    if method in NAMESPACE_SOLVERS:
        return
    library = "dask" if any_lazy(values) else namespace_library(values)
    if library is not None:
        raise TypeError(
            f"lagrad.{who}: method={method!r} does not run on {library} arrays (it assembles the system's "
            f"scalar matrix with NumPy and SciPy); use {', '.join(sorted(NAMESPACE_SOLVERS))}, or convert the "
            f"arguments to NumPy arrays first"
        )


def check_namespace_transform(args: Any, who: str) -> None:
    """Refuse, naming the transform and the library, a transform that does not yet run on the
    arrays of another namespace (array-api-strict, CuPy)."""
    if who in NAMESPACE_TRANSFORMS:
        return
    for _, a in _arrays(args, ""):
        xp = namespace_of(a)
        if xp is not None:
            raise TypeError(
                f"lagrad.{who} does not run on {namespace_name(xp)} arrays yet "
                f"({', '.join(sorted(NAMESPACE_TRANSFORMS))} do); convert the arguments to NumPy arrays first, "
                f"or use grad, vjp or jvp"
            )


def numpy_only(fun: Callable[..., Any], who: str) -> Callable[..., Any]:
    """`fun`, refusing arrays of another namespace or Dask's by name (`who`: the transform and its
    options) before it runs: the structured Jacobians build NumPy and SciPy matrices (on Dask they
    would compute the graph)."""

    def checked(*args: Any, **kwargs: Any) -> Any:
        if not all(type(a) is np.ndarray for a in args):
            check_one_library(args, who)
            check_namespace_transform((args, kwargs), who)
            if any_lazy(args) or any_lazy(kwargs):
                raise TypeError(
                    f"lagrad.{who} does not run on dask arrays (it builds the Jacobian's blocks as NumPy and SciPy "
                    f"matrices, which would compute the graph); use lagrad.jacobian(f, mode='rev' or 'fwd'), which "
                    f"stays lazy, or compute the arguments first"
                )
        return fun(*args, **kwargs)

    return checked


def is_nan(x: Any) -> Any:
    """Whether the output `x` is NaN (lazily for a Dask value: a branch of lagrad's own must
    not compute the user's graph)."""
    if is_lazy(x):
        return np.isnan(x)
    xp = namespace_of(x)
    if xp is not None:
        return bool(xp.isnan(x))
    try:
        return bool(np.isnan(x))
    except TypeError:
        return False


def equation_error(message: str, prim: Any, args: Any, error: Exception) -> Exception:
    """`error`, raised while an equation was recorded, with `message` (which names the equation)
    and the array libraries where they explain it: a namespace's arrays beside NumPy's or Dask's,
    or a lazy library refusing the function itself."""
    mixed = _mixed_libraries(args)
    if mixed is not None:  # a namespace's array (array-api-strict, CuPy) beside NumPy's or Dask's
        return TypeError(
            f"{message} (lagrad.numpy.{prim.name}: its arguments mix {mixed[0]} arrays and {mixed[1]} arrays, which "
            f"do not combine in one operation; put every array in one library first, e.g. {mixed[0]}.asarray(x))"
        )
    backends = sorted({backend_name(a) for a in args if is_lazy(a)})
    if backends and not isinstance(error, LazyComputeError) and str(error) != UNKNOWN_SHAPE:
        message += f" ({' and '.join(backends)} arrays: {prim.name} is refused by that library's own implementation)"
    try:
        return type(error)(message)
    except Exception:
        return ValueError(message)


def _mixed_libraries(args: Any) -> tuple[str, str] | None:
    """(a namespace's library, another library) where an equation's arguments (plain, or traced
    values' numbers) of one or more axes mix them; None otherwise. Only on the error path."""
    names = {}
    for a in args:
        v = _plain(a)
        if hasattr(v, "shape") and not isinstance(v, np.generic) and len(v.shape):
            names.setdefault(backend_name(v), namespace_of(v) is not None)
    spaces = sorted(n for n, space in names.items() if space)
    others = sorted(n for n, space in names.items() if not space)
    return (spaces[0], others[0]) if spaces and others else None


registry.equation_error = equation_error
