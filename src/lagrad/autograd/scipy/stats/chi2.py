"""`lagrad.autograd.scipy.stats.chi2`: the χ² distribution with `df` degrees of freedom, as the
gamma distribution with shape df/2 and scale 2."""

from __future__ import annotations

from typing import Any

from ....scipy.stats import gamma as _gamma

__all__ = ["cdf", "logpdf", "pdf"]


def logpdf(x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    return _gamma.logpdf(x, df / 2, loc, 2 * scale)


def pdf(x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    return _gamma.pdf(x, df / 2, loc, 2 * scale)


def cdf(x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    return _gamma.cdf(x, df / 2, loc, 2 * scale)
