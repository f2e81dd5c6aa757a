"""What lagrad covers: every public function of NumPy and of the SciPy modules lagrad
mirrors, marked differentiable, no derivative, or not supported.

    python -m lagrad.coverage            print the counts and write docs/coverage.md
    python -m lagrad.coverage --check    exit 1 if docs/coverage.md is out of date

The classification reads the registries the families fill when imported
(`lagrad.core.registry`, `lagrad.numpy.PRIMITIVES` and `NONDIFF`, and each
module's public names), so a function added there shows up on the next run.
"""

from __future__ import annotations

import argparse
import difflib
import pathlib
import sys
import types
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy

from . import numpy as lnp
from . import scipy as lsp
from .core import Primitive, registry
from .numpy import NONDIFF, PRIMITIVES
from .numpy.nondiff import PARTLY_DIFFERENTIABLE

DIFFERENTIABLE = "differentiable"
NO_DERIVATIVE = "no derivative"
NOT_SUPPORTED = "not supported"
STATUSES = (DIFFERENTIABLE, NO_DERIVATIVE, NOT_SUPPORTED)

#: The SciPy distributions lagrad mirrors, and the methods of theirs that are counted.
DISTRIBUTIONS = ("norm", "t", "gamma", "beta", "poisson", "dirichlet", "multivariate_normal")
DENSITY_METHODS = ("logpdf", "pdf", "logpmf", "pmf", "cdf", "logcdf")

#: NumPy functions its own documentation examples call (measured: `>>> np.f(` in NumPy's
#: docstrings, scripts/ not needed, see `measure_numpy_examples`) that lagrad does not cover,
#: and why. The rest of the not-supported list is reached by no example, or is I/O.
NOT_SUPPORTED_REASONS = {
    "seterr": "floating-point error settings: no array argument",
    "set_printoptions": "printing settings: no array argument",
    "loadtxt": "file I/O: a constant",
    "load": "file I/O: a constant",
    "issubdtype": "dtype query: no array argument",
    "asmatrix": "numpy.matrix is a subclass lagrad does not trace; use 2-d arrays",
    "busday_offset": "calendar arithmetic on datetime64: no derivative, no traced dtype",
    "shares_memory": "memory layout: traced values have no buffer",
    "fill_diagonal": "writes in place: the in-place work (issue 14 item 1)",
    "unravel_index": "integer index arithmetic: call it on lagrad.value(i), an index has no derivative",
    "seterrcall": "floating-point error settings: no array argument",
    "promote_types": "dtype query: no array argument",
    "min_scalar_type": "dtype query",
    "ravel_multi_index": "integer index arithmetic: call it on lagrad.value(i)",
    "datetime_as_string": "datetime64 formatting",
    "isfortran": "memory layout: traced values have no buffer",
    "binary_repr": "formatting of an integer",
    "base_repr": "formatting of an integer",
    "format_float_positional": "formatting: use lagrad.value(x)",
    "save": "file I/O: save lagrad.value(x)",
    "trim_zeros": "a shape that depends on the values: index with lagrad.numpy.nonzero instead",
    "genfromtxt": "file I/O: a constant",
    "unpackbits": "bit manipulation of integers",
    "may_share_memory": "memory layout: traced values have no buffer",
    "fromfunction": "calls a Python function on index grids: write the function on lagrad.numpy.indices",
    "get_printoptions": "printing settings",
    "array_repr": "formatting: use lagrad.value(x)",
    "geterr": "floating-point error settings",
    "frombuffer": "reads a buffer: a constant",
    "savez": "file I/O: save lagrad.value(x)",
    "bmat": "numpy.matrix: use lagrad.numpy.block",
    "busday_count": "calendar arithmetic on datetime64",
    "indices": "not yet: NumPy's constant grid; call numpy.indices (no traced argument)",
    "isdtype": "dtype query",
    "einsum_path": "a contraction plan, no values: call it on lagrad.value(x)",
    "printoptions": "printing settings",
    "array2string": "formatting: use lagrad.value(x)",
    "format_float_scientific": "formatting: use lagrad.value(x)",
    "getbufsize": "settings",
    "asanyarray": "not yet: lagrad.numpy.asarray",
    "iterable": "a Python query",
    "tril_indices": "integer indices of a shape: NumPy's own (no traced argument)",
    "triu_indices": "integer indices of a shape: NumPy's own (no traced argument)",
    "info": "documentation",
    "savetxt": "file I/O: save lagrad.value(x)",
    "ix_": "not yet: index with reshaped index arrays",
    "diag_indices": "integer indices of a shape: NumPy's own",
    "mintypecode": "dtype query",
    "common_type": "dtype query",
    "copyto": "writes in place: the in-place work (issue 14 item 1)",
    "putmask": "writes in place: the in-place work (issue 14 item 1)",
    "place": "writes in place: the in-place work (issue 14 item 1)",
    "i0": "not yet: lagrad.scipy.special.i0",
    "sort_complex": "not yet: sort of complex values",
    "histogram2d": "not yet (no derivative: counts)",
    "intersect1d": "not yet: set operations (values are gathers, shapes depend on values)",
    "union1d": "not yet: set operations (values are gathers, shapes depend on values)",
    "setdiff1d": "not yet: set operations (values are gathers, shapes depend on values)",
    "setxor1d": "not yet: set operations (values are gathers, shapes depend on values)",
    "roots": "not yet: eigenvalues of the companion matrix (lagrad.numpy.linalg.eigvals)",
    "polydiv": "not yet: polynomial long division",
}

#: numpy.polynomial's family modules, by the prefix of their functions.
POLYNOMIAL_FAMILIES = ("polynomial", "chebyshev", "legendre", "hermite", "hermite_e", "laguerre")
UFUNC_METHODS = ("outer", "reduce", "accumulate", "reduceat", "at")

DEFAULT_OUTPUT = pathlib.Path(__file__).resolve().parents[2] / "docs" / "coverage.md"

_FUNCTION_TYPES = (types.FunctionType, types.BuiltinFunctionType, np.ufunc, type(np.sum))


@dataclass(frozen=True)
class Row:
    """One public function and what lagrad does with it."""

    module: str
    name: str
    status: str
    note: str = ""


# ----- what lagrad has ------------------------------------------------------------------


def has_derivative(prim: Primitive) -> bool:
    """Whether any rule of `prim` gives a derivative in some argument."""
    return any(rule is not None for (kind, _), (rule, _) in prim.rules.items() if kind in ("vjp", "jvp"))


def differentiable_primitives() -> list[Primitive]:
    """Every registered primitive (NumPy and SciPy families) that has a derivative rule."""
    return [p for p in PRIMITIVES.values() if has_derivative(p)]


def batching() -> tuple[list[str], list[str]]:
    """The differentiable primitives whose rules batch natively over a leading axis of right-hand
    sides (elementwise, or with batched forms), and those that loop over the batch."""
    native, looped = [], []
    for p in differentiable_primitives():
        (native if p.batches() else looped).append(p.name)
    return sorted(set(native)), sorted(set(looped) - set(native))


def unchecked_primitives(checked: set[Primitive]) -> list[str]:
    """Names of the differentiable primitives not in `checked` (lagrad.testing.checked_primitives
    after a test suite has run): derivative rules that no gradient check has exercised."""
    return sorted(p.name for p in differentiable_primitives() if p not in checked)


def _public_names(module: Any) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in dir(module) if not n.startswith("_")]
    return [n for n in dict.fromkeys(names) if not isinstance(getattr(module, n, None), types.ModuleType)]


def _public_functions(module: Any) -> list[tuple[str, Any]]:
    """The public callables of a NumPy or SciPy module: functions and ufuncs, not classes."""
    found = []
    for name in _public_names(module):
        try:
            obj = getattr(module, name)
        except Exception:  # a name NumPy lists but refuses (expired aliases)
            continue
        if isinstance(obj, _FUNCTION_TYPES):
            found.append((name, obj))
    return found


def _registered(obj: Any) -> Any:
    """The lagrad function NumPy's dispatch finds for `obj`, or None."""
    try:
        return registry.ufuncs.get(obj) if isinstance(obj, np.ufunc) else registry.functions.get(obj)
    except TypeError:  # unhashable
        return None


def _nondiff_note(target: Any) -> str:
    if isinstance(target, Primitive):
        return "recorded"
    if target.__name__.endswith("_like"):  # zeros_like, ones_like, empty_like
        return "a recorded constant of a float array, so writes into it are recorded; else metadata"
    return "metadata: no equation"


def _classify(name: str, obj: Any, mirror: Any, by_name: bool) -> Row:
    """How lagrad handles `obj` (`name` in a NumPy or SciPy module) given its mirror module.
    `by_name`: the NONDIFF list is keyed by NumPy names, so it is consulted by name too."""
    target = _registered(obj)
    mine = getattr(mirror, name, None) if name in _public_names(mirror) else None
    if target is None and mine is None:
        return Row("", name, NOT_SUPPORTED, NOT_SUPPORTED_REASONS.get(name, "") if by_name else "")
    if target is None and mine is obj:
        return Row("", name, NO_DERIVATIVE, "NumPy's own: a constant, no traced argument")
    # Found only in lagrad's module: calling NumPy's function on a traced value does not reach it.
    only = f"as {mirror.__name__}.{name} only" if target is None else ""
    target = target if target is not None else mine
    if by_name and name in PARTLY_DIFFERENTIABLE:
        return Row("", name, DIFFERENTIABLE, _join(PARTLY_DIFFERENTIABLE[name], only))
    listed = next((f for f in NONDIFF.values() if f is target), None)
    if listed is None and by_name:
        listed = NONDIFF.get(name)
    if listed is not None:
        return Row("", name, NO_DERIVATIVE, _join(_nondiff_note(listed), only))
    if isinstance(target, Primitive) and not has_derivative(target):
        return Row("", name, NO_DERIVATIVE, _join("zero derivative rule", only))
    return Row("", name, DIFFERENTIABLE, only)


def _join(*notes: str) -> str:
    return "; ".join(n for n in notes if n)


def _module_rows(label: str, module: Any, mirror: Any, by_name: bool) -> list[Row]:
    """The rows of a module; a differentiable function's note also names the derivatives it
    still lacks, from the mirror module's DERIVATIVE_GAPS."""
    gaps = getattr(mirror, "DERIVATIVE_GAPS", {})
    rows = []
    for name, obj in _public_functions(module):
        row = _classify(name, obj, mirror, by_name)
        note = _join(row.note, gaps.get(name, "")) if row.status == DIFFERENTIABLE else row.note
        rows.append(Row(label, name, row.status, note))
    return rows


def _distribution_rows() -> list[Row]:
    import scipy.stats

    rows = []
    for dist in DISTRIBUTIONS:
        theirs = getattr(scipy.stats, dist)
        mine = getattr(lsp.stats, dist, None)
        for method in DENSITY_METHODS:
            if not hasattr(theirs, method):
                continue
            # the class's own method: others are handed on to SciPy's object (no derivative)
            status = DIFFERENTIABLE if callable(getattr(type(mine), method, None)) else NOT_SUPPORTED
            note = lsp.stats.DERIVATIVE_GAPS.get(f"{dist}.{method}", "") if status == DIFFERENTIABLE else ""
            rows.append(Row("scipy.stats", f"{dist}.{method}", status, note))
    return rows


def _ufunc_method_rows() -> list[Row]:
    """``ufunc.outer`` and the other methods of NumPy's binary ufuncs."""
    rows = []
    for name, ufunc in _public_functions(np):
        if not isinstance(ufunc, np.ufunc) or ufunc.nin != 2 or ufunc.nout != 1 or ufunc.signature:
            continue
        prim = registry.ufuncs.get(ufunc)
        for method in UFUNC_METHODS:
            if registry.functions.get((ufunc, method)) is None:
                rows.append(Row("numpy ufunc methods", f"{name}.{method}", NOT_SUPPORTED))
            elif isinstance(prim, Primitive) and has_derivative(prim):
                rows.append(Row("numpy ufunc methods", f"{name}.{method}", DIFFERENTIABLE))
            else:
                rows.append(Row("numpy ufunc methods", f"{name}.{method}", NO_DERIVATIVE))
    return rows


def _polynomial_rows() -> list[Row]:
    """numpy.polynomial's functions: NumPy's convert with numpy.array, so only
    lagrad.numpy.polynomial's mirror differentiates them."""
    rows = []
    for family in POLYNOMIAL_FAMILIES:
        mine = getattr(lnp.polynomial, family)
        for name, _ in _public_functions(getattr(np.polynomial, family)):
            if callable(getattr(mine, name, None)):
                rows.append(
                    Row("numpy.polynomial", name, DIFFERENTIABLE, f"as lagrad.numpy.polynomial.{family}.{name}")
                )
            else:
                rows.append(Row("numpy.polynomial", name, NOT_SUPPORTED))
    for name in lnp.polynomial_classes.__all__:  # the classes, once each (NumPy's family modules share them)
        note = "class: call, deriv, integ, convert, fit, + - * (numpy/polynomial_classes.py)"
        rows.append(Row("numpy.polynomial", name, DIFFERENTIABLE, note))
    return rows


def rows() -> list[Row]:
    """Every counted function, module by module, sorted by name."""
    import scipy.integrate
    import scipy.linalg
    import scipy.signal
    import scipy.special

    out = [
        *_module_rows("numpy", np, lnp, by_name=True),
        *_module_rows("numpy.linalg", np.linalg, lnp.linalg, by_name=True),
        *_module_rows("numpy.fft", np.fft, lnp.fft, by_name=True),
        *_ufunc_method_rows(),
        *_polynomial_rows(),
        *_module_rows("numpy.lib.stride_tricks", np.lib.stride_tricks, lnp, by_name=False),
        *_module_rows("scipy.special", scipy.special, lsp.special, by_name=False),
        *_module_rows("scipy.linalg", scipy.linalg, lsp.linalg, by_name=False),
        *_module_rows("scipy.signal", scipy.signal, lsp.signal, by_name=False),
        *_module_rows("scipy.integrate", scipy.integrate, lsp.integrate, by_name=False),
        *_distribution_rows(),
    ]
    return sorted(out, key=lambda r: (_MODULES.index(r.module), r.name))


_MODULES = (
    "numpy",
    "numpy.linalg",
    "numpy.fft",
    "numpy ufunc methods",
    "numpy.polynomial",
    "numpy.lib.stride_tricks",
    "scipy.special",
    "scipy.linalg",
    "scipy.signal",
    "scipy.integrate",
    "scipy.stats",
)


def counts(table: Iterable[Row]) -> dict[str, dict[str, int]]:
    """Per module, how many functions have each status."""
    out: dict[str, dict[str, int]] = {m: dict.fromkeys(STATUSES, 0) for m in _MODULES}
    for row in table:
        out[row.module][row.status] += 1
    return out


# ----- the report -------------------------------------------------------------------------


def _versions() -> str:
    return f"NumPy {np.__version__}, SciPy {scipy.__version__}"


def _summary(table: list[Row]) -> list[str]:
    lines = [
        f"| module | {' | '.join(STATUSES)} | total |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    total = dict.fromkeys(STATUSES, 0)
    for module, by_status in counts(table).items():
        for s in STATUSES:
            total[s] += by_status[s]
        cells = " | ".join(str(by_status[s]) for s in STATUSES)
        lines.append(f"| {module} | {cells} | {sum(by_status.values())} |")
    cells = " | ".join(f"**{total[s]}**" for s in STATUSES)
    lines.append(f"| **all** | {cells} | **{sum(total.values())}** |")
    return lines


def _names(table: list[Row]) -> str:
    return ", ".join(f"`{r.name}`" + (f" ({r.note})" if r.note else "") for r in table) or "—"


def render(table: list[Row] | None = None) -> str:
    """docs/coverage.md, as text."""
    table = rows() if table is None else table
    differentiable = sum(r.status == DIFFERENTIABLE for r in table)
    out = [
        "# What lagrad differentiates",
        "",
        "<!-- Generated by `python -m lagrad.coverage`; do not edit by hand. -->",
        "",
        "Every public function of NumPy (top level, `numpy.linalg`, `numpy.fft`, the methods of the",
        "binary ufuncs, the `numpy.polynomial` families, `numpy.lib.stride_tricks`), `scipy.special`,",
        "`scipy.linalg`, `scipy.signal`, `scipy.integrate`, and the density methods of the `scipy.stats` distributions",
        f"{', '.join(DISTRIBUTIONS)}; generated with {_versions()}. Classes, dtypes and",
        "submodules are not counted.",
        "",
        f"**{differentiable} functions are differentiable.**",
        "",
        "* **differentiable**: on traced values lagrad records the function with its derivative rules",
        "  (for NumPy's own names, plain `numpy.f(x)` works too, through NumPy's dispatch); a note",
        "  names any derivative it still lacks, which raises an error naming the function if taken.",
        "* **no derivative**: it works on traced values and gives no gradient, never an error:",
        "  *recorded* (an equation, recomputed on replay, with integer or boolean results),",
        "  *metadata* (answered from shapes and dtypes, no equation), or NumPy's own constant",
        "  constructors, which never see a traced value.",
        "* **not supported**: lagrad has no rule for it: NumPy's dispatch of a traced value to it",
        "  raises an error naming the function (the few functions NumPy does not dispatch, such as",
        "  `promote_types`, simply run as NumPy's own). Where NumPy's own documentation examples",
        "  call one (measured by `lagrad.coverage.measure_numpy_examples`), the note says why it is",
        "  not covered.",
        "* The distributions of `lagrad.scipy.stats` hand every other method of SciPy's (`rvs`, `fit`,",
        "  `stats`, `interval`, ...) to SciPy's object: they run on plain values, with no derivative.",
        "",
        *_summary(table),
        "",
    ]
    for module in _MODULES:
        in_module = [r for r in table if r.module == module]
        out += [f"## {module}", ""]
        for status in STATUSES:
            chosen = [r for r in in_module if r.status == status]
            out += [f"**{status}** ({len(chosen)}): {_names(chosen)}", ""]
    native, looped = batching()
    out += [
        "## Batched rules",
        "",
        "Full Jacobians and Hessians solve for many right-hand sides at once, batched over a",
        "leading axis. Of the differentiable primitives, "
        f"**{len(native)} batch natively** (elementwise, or with batched forms);",
        f"the other {len(looped)} loop over the batch, one right-hand side at a time:",
        "",
        ", ".join(f"`{name}`" for name in looped) or "—",
        "",
    ]
    listed = sorted(NONDIFF)
    out += [
        "## The no-derivative list",
        "",
        f"`lagrad.numpy.NONDIFF`: the {len(listed)} functions lagrad evaluates on traced values",
        "with no derivative (some are lagrad's own steps inside a function that has one).",
        "",
        ", ".join(f"`{name}`" for name in listed),
        "",
    ]
    return "\n".join(out)


# ----- per backend: the same gradients on Dask, array-api-strict and CuPy arrays ----------

#: The backends' columns: NumPy's status is the table's; the others are measured.
BACKENDS = ("dask", "array_api_strict", "cupy")
#: Modules whose differentiable functions the backend walk calls.
WALKED = ("numpy", "numpy.linalg", "numpy.fft", "scipy.special")
WORKS, REFUSED, FAILS, WRONG, NOT_CALLED = "works", "refused", "fails", "wrong", "not called"

#: The walked functions the Python Array API standard covers (2023.12 with its linalg and fft
#: extensions): its own functions, and NumPy's names for them (``arccos`` for ``acos``, ``amax``,
#: ``numpy.trace`` for ``linalg.trace`` over the first two axes). Every one of them must work on
#: array-api-strict; every other function works or is refused naming itself and the library.
_STANDARD_NAMES = """
    abs absolute acos arccos acosh arccosh add asin arcsin asinh arcsinh atan arctan atan2 arctan2
    atanh arctanh clip conj conjugate copysign cos cosh divide true_divide exp expm1 hypot imag log
    log10 log1p log2 logaddexp maximum minimum multiply negative nextafter positive pow power real
    remainder mod round around sign sin sinh sqrt square subtract tan tanh
    astype full_like linspace meshgrid tril triu take where
    matmul matrix_transpose tensordot vecdot transpose permute_dims
    broadcast_arrays broadcast_to concat concatenate expand_dims flip moveaxis repeat reshape roll
    squeeze stack tile unstack sort unique_all unique_counts unique_inverse unique_values
    cumsum cumulative_sum max amax mean min amin prod std sum var diagonal trace
    linalg.cholesky linalg.cross linalg.det linalg.diagonal linalg.eigh linalg.eigvalsh linalg.inv
    linalg.matmul linalg.matrix_norm linalg.matrix_power linalg.matrix_transpose linalg.outer
    linalg.pinv linalg.qr linalg.slogdet linalg.solve linalg.svd linalg.svdvals linalg.tensordot
    linalg.trace linalg.vecdot linalg.vector_norm
    fft.fft fft.ifft fft.fftn fft.ifftn fft.rfft fft.irfft fft.rfftn fft.irfftn fft.hfft fft.ihfft
    fft.fftshift fft.ifftshift
"""
STANDARD = frozenset(f"numpy.{name}" for name in _STANDARD_NAMES.split())


def walk_calls() -> tuple[tuple[str, Any, np.ndarray], ...]:
    """Generic calls, tried in order on NumPy: the first whose gradient is finite is the case."""
    rng = np.random.default_rng(20261203)
    x2, x1 = rng.uniform(0.5, 1.5, (4, 6)), rng.uniform(0.5, 1.5, 6)
    square = rng.uniform(0.5, 1.5, (4, 4)) + 4 * np.eye(4)
    return (
        ("f(x)", lambda f, x: f(x), x2),
        ("f(x, x)", lambda f, x: f(x, x), x2),
        ("f(x, 0)", lambda f, x: f(x, 0), x2),
        ("f(v)", lambda f, x: f(x), x1),
        ("f(v, v)", lambda f, x: f(x, x), x1),
        ("f(square)", lambda f, x: f(x), square),
        ("f(x, 2)", lambda f, x: f(x, 2), x2),
        ("f(x / 2)", lambda f, x: f(x), x2 / 2),
        ("f(v / 2, v / 2)", lambda f, x: f(x, x), x1 / 2),
    )


def _total(out: Any) -> Any:
    """A scalar of a function's (real or complex, possibly several) outputs; None for integers."""
    from .control import value
    from .core.backend import numpy_dtype

    if isinstance(out, (tuple, list)):
        parts = [t for t in map(_total, out) if t is not None]
        return sum(parts[1:], parts[0]) if parts else None
    kind = numpy_dtype(getattr(value(out), "dtype", np.float64)).kind
    return lnp.sum(lnp.real(out)) if kind == "c" else lnp.sum(out) if kind == "f" else None


def backend_inputs(backends: Iterable[str] = BACKENDS) -> dict[str, Any]:
    """Per backend, ``(to_backend, to_numpy)`` converters, or the reason it cannot be measured here."""
    import importlib

    out: dict[str, Any] = {}
    try:
        if "dask" not in backends:
            raise ImportError
        da = importlib.import_module("dask.array")
        out["dask"] = (lambda x: da.from_array(x, chunks=max(1, x.shape[0] // 2)), lambda a: np.asarray(a.compute()))
    except ImportError:
        out["dask"] = "Dask is not installed" if "dask" in backends else "not asked"
    try:
        xp = importlib.import_module("array_api_strict")
        device, cpu = xp.Device("device1"), xp.Device("CPU_DEVICE")
        out["array_api_strict"] = (lambda x: xp.asarray(x, device=device), lambda a: np.asarray(a.to_device(cpu)))
    except (ImportError, AttributeError):
        out["array_api_strict"] = "array-api-strict (2.2 or later) is not installed"
    try:
        cp = importlib.import_module("cupy")
        if cp.cuda.runtime.getDeviceCount() < 1:  # pragma: no cover - only with CuPy installed
            raise RuntimeError("no GPU")
        out["cupy"] = (cp.asarray, cp.asnumpy)  # pragma: no cover - needs CuPy and a GPU
    except Exception as error:
        out["cupy"] = f"not measured: {'CuPy is not installed' if isinstance(error, ImportError) else error}"
    return out


def _walked_functions(only: Iterable[str] | None) -> Iterable[tuple[str, Any]]:
    """(name, function) of the differentiable functions of `WALKED`, or of the names `only`."""
    module = {"numpy": np, "numpy.linalg": np.linalg, "numpy.fft": np.fft, "scipy.special": lsp.special}
    if only is None:
        names = [(r.module, r.name) for r in rows() if r.status == DIFFERENTIABLE and r.module in WALKED]
    else:
        names = [tuple(n.rsplit(".", 1)) for n in only]
    for where, name in names:
        f = getattr(module[where], name, None)
        if f is None and where == "numpy":
            f = getattr(lnp, name, None)
        if f is not None:
            yield f"{where}.{name}", f


def backend_walk(backends: Iterable[str] = BACKENDS, only: Iterable[str] | None = None) -> dict[str, dict[str, str]]:
    """Per differentiable function of `WALKED` (or the names in `only`), per backend: ``works``
    (the gradient is that library's array and NumPy's numbers to 1e-10), ``refused`` (an error
    naming lagrad and the library), ``fails`` (any other error, or a NumPy array back),
    ``wrong`` (other numbers), ``not called`` (no
    generic call has a finite gradient on NumPy), or why the backend is not measured here."""
    import warnings

    from .transforms import grad

    backends = tuple(backends)
    inputs = backend_inputs(backends)
    table: dict[str, dict[str, str]] = {}
    for name, f in _walked_functions(only):
        case = None
        for _, call, x in walk_calls():
            loss = lambda x, call=call: _total(call(f, x))  # noqa: E731
            try:
                with warnings.catch_warnings(), np.errstate(all="ignore"):
                    warnings.simplefilter("ignore")
                    expected = grad(loss)(x)
            except Exception:
                continue
            if np.all(np.isfinite(expected)):
                case = loss, x, expected
                break
        table[name] = {}
        for backend in backends:
            converters = inputs[backend]
            if isinstance(converters, str):
                table[name][backend] = converters
            elif case is None:
                table[name][backend] = NOT_CALLED
            else:
                table[name][backend] = _walk_one(backend, converters, *case)
    return table


def _walk_one(backend: str, converters: Any, loss: Any, x: np.ndarray, expected: np.ndarray) -> str:
    import warnings

    from .transforms import grad

    to_backend, to_numpy = converters
    library = backend.split("_")[0]
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            got = grad(loss)(to_backend(x))
            if type(got) is np.ndarray:
                return FAILS
            got = to_numpy(got)
    except Exception as error:
        message = str(error)
        return REFUSED if message.startswith("lagrad") and library in message.lower() else FAILS
    return WORKS if np.allclose(got, expected, rtol=1e-10, atol=1e-10) else WRONG


def render_backends(table: dict[str, dict[str, str]]) -> str:
    """docs/backends.md: the backend walk as counts per module and one line per function."""
    backends = list(next(iter(table.values()), {}))
    out = [
        "# lagrad's gradients on other array libraries",
        "",
        "<!-- Generated by `python -m lagrad.coverage --backends`; do not edit by hand. -->",
        "",
        "Every differentiable function of NumPy, `numpy.linalg`, `numpy.fft` and `scipy.special`",
        "(docs/coverage.md), called by the first of a few generic calls whose gradient is finite on",
        "NumPy, then differentiated on each library's arrays: **works** (the gradient is that",
        "library's array, NumPy's numbers to 1e-10), **refused** (an error naming lagrad and the",
        "library), **fails** (another error), **wrong** (other numbers), **not called** (no generic",
        "call fits the function).",
        "array-api-strict runs on its second device, which refuses any conversion to NumPy.",
        "",
        "| module | " + " | ".join(f"{b}: {s}" for b in backends for s in (WORKS, REFUSED, FAILS, WRONG)) + " |",
        "| --- |" + " ---: |" * (4 * len(backends)),
    ]
    for module in WALKED:
        names = [n for n in table if n.rsplit(".", 1)[0] == module]
        cells = [str(sum(table[n][b] == s for n in names)) for b in backends for s in (WORKS, REFUSED, FAILS, WRONG)]
        out.append(f"| {module} | " + " | ".join(cells) + " |")
    out += ["", "| function | " + " | ".join(backends) + " |", "| --- |" + " --- |" * len(backends)]
    out += [f"| `{name}` | " + " | ".join(by[b] for b in backends) + " |" for name, by in table.items()]
    return "\n".join(out) + "\n"


def measure_numpy_examples() -> list[tuple[str, int]]:
    """How often NumPy's own docstring examples call each top-level function (``>>> np.f(``):
    the measure of which missing functions matter, most used first."""
    import collections
    import re

    calls: collections.Counter[str] = collections.Counter()
    pattern = re.compile(r"\bnp\.([a-z_][a-z0-9_]*)\s*\(")
    for path in pathlib.Path(np.__file__).parent.rglob("*.py"):
        if "tests" in path.parts:
            continue
        for line in path.read_text(encoding="utf-8", errors="ignore").splitlines():
            if line.lstrip().startswith((">>>", "...")):
                calls.update(pattern.findall(line))
    return calls.most_common()


def main(argv: list[str] | None = None) -> int:
    """Print the counts and write the report; with --check, only compare."""
    parser = argparse.ArgumentParser(prog="python -m lagrad.coverage", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the report is out of date; write nothing")
    parser.add_argument("--output", type=pathlib.Path, default=DEFAULT_OUTPUT, help="where the report goes")
    parser.add_argument(
        "--backends", action="store_true", help="measure the gradients on Dask, array-api-strict and CuPy arrays"
    )
    args = parser.parse_args(argv)
    if args.backends:
        walk = backend_walk()
        text = render_backends(walk)
        print("\n".join(line for line in text.splitlines() if line.startswith(("| module", "| numpy", "| scipy"))))
        output = args.output.with_name("backends.md")
        output.write_text(text, encoding="utf-8")
        print(f"wrote {output}")
        return 0
    table = rows()
    text = render(table)
    if args.check:
        old = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if old == text:
            print(f"{args.output} is up to date")
            return 0
        diff = difflib.unified_diff(old.splitlines(), text.splitlines(), "written", "now", lineterm="", n=0)
        print("\n".join(list(diff)[:40]))
        print(f"{args.output} is out of date: run `python -m lagrad.coverage`", file=sys.stderr)
        return 1
    for line in _summary(table):
        print(line)
    print(f"{sum(r.status == DIFFERENTIABLE for r in table)} functions are differentiable")
    native, looped = batching()
    print(f"{len(native)} of {len(native) + len(looped)} differentiable primitives batch natively")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
