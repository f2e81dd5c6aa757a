"""Which array library a value lives in, asked once where it matters, NumPy first.

The core asks only whether a value's numbers exist yet (`is_lazy`: looking at a Dask array
would compute its graph) and which Array API namespace computes on it (`namespace_of`).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _plain(x: Any) -> Any:
    while hasattr(x, "_trace") and hasattr(x, "value"):  # a traced value (higher order): its number
        x = x.value
    return x


def is_lazy(x: Any) -> bool:
    """Whether `x` (or the value a traced `x` holds) is an array whose numbers are computed
    only when asked (a Dask array): NumPy's own types answer at once, without a lookup."""
    x = _plain(x)
    cls = type(x)
    if cls is np.ndarray or isinstance(x, (np.generic, int, float, complex)):
        return False
    if isinstance(x, tuple):  # the parts of a primitive with several outputs
        return any(p is not None and is_lazy(p) for p in x)
    return cls.__module__.startswith("dask.")


UNKNOWN_SHAPE = (
    "its result has an unknown size (a Dask boolean-mask selection, compress, extract, unique or "
    "nonzero: chunk sizes are known only once computed), and lagrad records shapes as it traces. "
    "Keep the shape with numpy.where(mask, x, 0), or compute the mask first (mask.compute()) and "
    "index with the NumPy mask"
)


def unknown_shape(shape: Any) -> bool:
    """Whether a shape has an axis of unknown length (Dask writes NaN)."""
    return isinstance(shape, tuple) and any(isinstance(s, float) for s in shape)


# ----- array namespaces: libraries without NumPy's dispatch (array-api-strict, CuPy) -------

#: type -> the array namespace its values compute in, or None where NumPy's functions do
#: (NumPy's own types, Python numbers, and libraries NumPy dispatches to: Dask). Filled as
#: types are met, so a value's namespace costs one dict lookup after the first.
NAMESPACES: dict[type, Any] = {np.ndarray: None, float: None, int: None, complex: None, bool: None}


#: Libraries whose arrays lagrad computes on with their own namespace's functions (DESIGN.md).
NAMESPACE_LIBRARIES = frozenset({"array_api_strict", "cupy"})


def namespace_of(x: Any) -> Any:
    """The Array API namespace that computes on `x` (``array_api_strict``, CuPy's through
    ``array_api_compat``), or None for values NumPy's functions compute on (NumPy's arrays and
    scalars, Python numbers, Dask arrays, traced values' plain numbers likewise)."""
    cls = type(x)
    try:
        return NAMESPACES[cls]
    except KeyError:
        pass
    xp = None
    if cls.__module__.split(".")[0] in NAMESPACE_LIBRARIES and hasattr(cls, "__array_namespace__"):
        try:
            from array_api_compat import array_namespace

            xp = array_namespace(x)
        except (ImportError, TypeError):
            xp = x.__array_namespace__()
    NAMESPACES[cls] = xp
    return xp


def namespace_name(xp: Any) -> str:
    """A namespace as users name its library (``array_api_strict``, ``cupy``)."""
    name = getattr(xp, "__name__", str(xp))
    return name.removeprefix("array_api_compat.").split(".")[0]


def numpy_dtype(dtype: Any) -> np.dtype:
    """A namespace's dtype as NumPy's (lagrad records NumPy dtypes for every library); the
    dtypes of a several-array value (a tuple) as they are."""
    if isinstance(dtype, tuple):
        return dtype
    try:
        return np.dtype(dtype)
    except (TypeError, ValueError):
        if type(dtype) is not np.ndarray and hasattr(dtype, "dtype"):  # as NumPy reads an object with a dtype
            return numpy_dtype(dtype.dtype)
        name = str(dtype).rsplit(".", 1)[-1]  # array_api_strict.float64 -> float64
        if hasattr(dtype, "shape") or not name.isidentifier():
            raise TypeError(f"lagrad: {type(dtype).__name__} {dtype!r} is not a dtype") from None
        return np.dtype(name)


def device_of(x: Any) -> Any:
    return getattr(x, "device", None)


def to_numpy(x: Any) -> Any:
    """`x` as a NumPy array, moved explicitly from its library's device (array-api-strict's
    `to_device`, CuPy's `get`): for checks that compare numbers, never inside a computation."""
    xp = None if type(x) is np.ndarray else namespace_of(x)
    if xp is None:
        return np.asarray(x)
    if hasattr(x, "get"):  # CuPy
        return x.get()
    device = getattr(xp, "Device", None)
    return np.asarray(x.to_device(device("CPU_DEVICE")) if device is not None else x)


def in_namespace(value: Any, like: Any) -> Any:
    """`value` (a NumPy seed, tangent or constant) as an array of the namespace and device of
    `like`; unchanged where `like` computes with NumPy's functions."""
    xp = namespace_of(like)
    if xp is None or namespace_of(value) is xp:
        return value
    return xp.asarray(np.asarray(value), device=device_of(like))


def where(condition: Any, x: Any, y: Any) -> Any:
    """``numpy.where`` (which records itself on traced values), in `y`'s namespace when it has one."""
    xp = None if type(y) is np.ndarray else namespace_of(y)
    if xp is None:
        return np.where(condition, x, y)
    return xp.where(condition, xp.asarray(x, dtype=y.dtype, device=device_of(y)), y)


def namespace_constants(values: list[Any], constants: list[Any]) -> None:
    """An equation's NumPy scalar and 0-d constants (``(ans, *args)`` in `values`, per argument in
    `constants`), made arrays of its traced arguments' namespace, in place: the rules combine
    them with that library's arrays, whose operators take no NumPy values."""
    like = next((_plain(v) for v, c in zip(values[1:], constants) if c is None and v is not None), None)
    xp = None if like is None else namespace_of(like)
    if xp is None:
        return
    for j, c in enumerate(constants):
        if isinstance(c, np.generic) or (type(c) is np.ndarray and c.ndim == 0):
            constants[j] = values[j + 1] = xp.asarray(c, device=device_of(like))


def namespace_library(values: Any) -> str | None:
    """The library (``array_api_strict``, ``cupy``) of the first of `values` that lives in an
    array namespace, for an error raised while a sweep ran on its arrays; None for NumPy's."""
    for v in values if isinstance(values, (list, tuple)) else (values,):
        xp = None if type(v) is np.ndarray else namespace_of(_plain(v))
        if xp is not None:
            return namespace_name(xp)
    return None
