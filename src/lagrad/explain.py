"""Which library function turned a traced value into a plain NumPy array, for the error that refuses it.

`Var.__array__` refuses to drop a derivative; this module reads the call stack to name the
function that asked (a SciPy function, with lagrad's version where there is one, or any
other Python library's), so the core knows nothing of SciPy's layout or of `lagrad.scipy`.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from types import FrameType, ModuleType
from typing import Any

from .core import registry
from .core.trace import _MACHINERY, Var, conversion_message


def explain_conversion(var: Var, frame: FrameType) -> str:
    """The message for `var` turned into a NumPy array by the code running in `frame`."""
    library = _scipy_caller(frame)
    if library is None:
        return conversion_message(var, _library_call(frame))
    name, replacement = library
    fix = (
        f"use {replacement}, which records it"
        if replacement
        else "lagrad has no version of it (docs/coverage.md lists what it has); write it with "
        "lagrad.numpy functions or declare it with lagrad.primitive and lagrad.defvjp"
    )
    return (
        f"lagrad: {name} was called on traced value z{var.index + 1}; it turns its input into a "
        f"plain NumPy array, which would lose the derivative: {fix}."
    )


def _scipy_caller(frame: FrameType | None) -> tuple[str, str | None] | None:
    """The SciPy function converting a traced value to a NumPy array (as ``scipy.linalg.cholesky``),
    and lagrad's version of it where there is one: the outermost SciPy frame below the user's."""
    found = None
    while frame is not None and frame.f_globals.get("__name__", "").startswith(("numpy", "scipy")):
        if frame.f_globals["__name__"].startswith("scipy."):
            found = frame
        frame = frame.f_back
    if found is None:
        return None
    module, name = found.f_globals["__name__"], found.f_code.co_name
    wrapped = next((v for k, v in found.f_locals.items() if k in ("f", "func", "fun") and callable(v)), None)
    if wrapped is not None and (name == "wrapper" or name.startswith(("_", "<"))):
        module, name = getattr(wrapped, "__module__", module), getattr(wrapped, "__name__", name)
    public = ".".join(part for part in module.split(".")[:2] if not part.startswith("_"))
    owner = found.f_locals.get("self")
    if public == "scipy.stats" and owner is not None:  # a distribution's method
        dist = getattr(owner, "name", None)
        dist = dist if isinstance(dist, str) else type(owner).__name__.removesuffix("_gen")
        public = f"scipy.stats.{dist}"
    parts = public.split(".")  # scipy, the subpackage, and a distribution's name
    # `import lagrad` has loaded lagrad.scipy's modules: look them up, never import them here
    ours: Any = sys.modules.get("lagrad." + ".".join(parts[:2]))
    for part in parts[2:]:
        ours = getattr(ours, part, None)
    # a distribution's own method, not one its __getattr__ hands back to SciPy
    own = ours if ours is None or isinstance(ours, ModuleType) else type(ours)
    replacement = f"lagrad.{public}.{name}" if own is not None and hasattr(own, name) else None
    return f"{public}.{name}", replacement


def _library_call(frame: FrameType | None) -> str:
    """'numpy.polynomial.polynomial.polyval (called at file.py:12) ', when the conversion
    happened inside a Python library function the user called, else ''."""
    libraries = (*_MACHINERY, *{sysconfig.get_paths()[k] for k in ("purelib", "platlib")})
    lagrad_dirs = _MACHINERY[:-2]
    callee = None
    while frame is not None:  # outward to the user's frame; the last library frame is the callee
        filename = frame.f_code.co_filename
        if not filename.startswith(libraries):
            break
        if not filename.startswith(lagrad_dirs):
            callee = frame
        frame = frame.f_back
    if frame is None or callee is None or callee.f_back is not frame:
        return ""
    module = callee.f_globals.get("__name__", "?")
    name = getattr(callee.f_code, "co_qualname", callee.f_code.co_name)
    where = f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"
    return (
        f"{module}.{name} (called at {where}) converts its arguments with numpy.asarray, so it cannot "
        f"be traced; use lagrad's version if docs/coverage.md lists one, or write it with lagrad.numpy. "
    )


registry.explain_conversion = explain_conversion
