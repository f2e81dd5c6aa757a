"""`lagrad.autograd.numpy.numpy_boxes`: ``isinstance(x, ArrayBox)`` asks whether x is traced."""

from ..extend import Box as ArrayBox

__all__ = ["ArrayBox"]
