"""`lagrad.autograd.numpy.random`: NumPy's random numbers (they have no derivative)."""

from numpy.random import *  # noqa: F403
from numpy.random import __all__  # noqa: F401
