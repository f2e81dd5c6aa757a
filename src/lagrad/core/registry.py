"""Where the core finds the NumPy layer without importing it.

`lagrad.numpy` fills these tables when it is imported: operators on a `Var`,
NumPy's dispatch hooks and the solvers' shared broadcasting helpers look their
function up here, so data flows one way and the core stays free of the layer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: NumPy ufunc -> the lagrad function that records it (``numpy.add`` -> ``lagrad.numpy.add``).
ufuncs: dict[Any, Callable[..., Any]] = {}

#: NumPy function -> the lagrad function with the same signature (``numpy.sum`` -> ``lagrad.numpy.sum``).
functions: dict[Any, Callable[..., Any]] = {}

#: Array method or attribute name -> lagrad function taking the array first (``"reshape"``).
methods: dict[str, Callable[..., Any]] = {}

#: Named helpers the solvers need: ``unbroadcast(x, shape)``, ``broadcast_to(x, shape)``,
#: ``zeros_like(x)``, ``astype(x, dtype)``.
helpers: dict[str, Callable[..., Any]] = {}


def lookup(table: dict[Any, Callable[..., Any]], key: Any, what: str) -> Callable[..., Any]:
    """The registered function for `key`, or an error naming it and what to do."""
    try:
        return table[key]
    except KeyError:
        name = getattr(key, "__name__", key)
        raise TypeError(
            f"lagrad: {what} '{name}' is not supported on traced values: it has no "
            f"derivative rule in lagrad. Write the computation with functions lagrad "
            f"supports (see docs/coverage.md), or declare it with lagrad.primitive and "
            f"lagrad.defvjp."
        ) from None
