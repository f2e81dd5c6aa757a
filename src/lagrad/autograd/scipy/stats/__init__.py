"""`lagrad.autograd.scipy.stats`: autograd's distributions as modules of functions
(``norm.logpdf(x, loc, scale)``), each served by `lagrad.scipy.stats`."""

from . import beta, chi2, dirichlet, gamma, multivariate_normal, norm, poisson, t

__all__ = ["beta", "chi2", "dirichlet", "gamma", "multivariate_normal", "norm", "poisson", "t"]
