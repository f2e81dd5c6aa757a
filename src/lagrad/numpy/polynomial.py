"""`lagrad.numpy.polynomial`: the functions of ``numpy.polynomial``'s families that scientific
code calls on data, differentiable: ``polynomial.polyval``, ``chebyshev.chebfit``, … (each
family module with its ``*vander``, ``*val`` and ``*fit``, also at this level).

NumPy's own versions convert their arguments with ``numpy.array``, so they cannot see traced
values; call these instead. The classes (``Polynomial``, ``Chebyshev``, ``Legendre``,
``Hermite``, ``HermiteE``, ``Laguerre``) are mirrored in `polynomial_classes`, here and in
their family modules.
"""

from __future__ import annotations

import types

from .polynomial_classes import _MODULES, CLASS_OF
from .polynomials import FAMILIES

__all__: list[str] = []
for _prefix, _module_name in _MODULES.items():
    _module = types.ModuleType(f"{__name__}.{_module_name}", f"numpy.polynomial.{_module_name}, differentiable.")
    for _what, _fun in FAMILIES[_prefix].items():
        setattr(_module, f"{_prefix}{_what}", _fun)
        globals()[f"{_prefix}{_what}"] = _fun
        __all__.append(f"{_prefix}{_what}")
    _class = CLASS_OF[_prefix]
    setattr(_module, _class.__name__, _class)
    globals()[_class.__name__] = _class
    __all__.append(_class.__name__)
    _module.__all__ = [f"{_prefix}{w}" for w in FAMILIES[_prefix]] + [_class.__name__]  # type: ignore[attr-defined]
    globals()[_module_name] = _module
