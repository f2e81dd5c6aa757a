"""`lagrad.autograd.scipy`: autograd's SciPy subpackages that lagrad covers: `linalg`,
`signal`, `special` and `stats` (not `integrate.odeint`; see docs/migrating-from-autograd.md)."""

from . import linalg, signal, special, stats

__all__ = ["linalg", "signal", "special", "stats"]
