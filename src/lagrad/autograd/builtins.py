"""`lagrad.autograd.builtins`: autograd's containers, which in lagrad are Python's own.

autograd boxes tuples, lists and dicts to trace through them, so its code builds them
with ``autograd.builtins.tuple(...)`` and tests them with its `isinstance`. lagrad
traces the arrays inside ordinary containers, so these names are Python's builtins.
"""

from builtins import dict, isinstance, list, tuple, type  # noqa: A004, UP029 (re-exported as autograd's)

__all__ = ["dict", "isinstance", "list", "tuple", "type"]
