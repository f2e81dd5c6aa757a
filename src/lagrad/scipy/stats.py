"""`lagrad.scipy.stats`: distributions whose densities and distribution functions are differentiable.

`norm`, `t`, `gamma`, `beta`, `poisson`, `dirichlet` and `multivariate_normal`
are called as in SciPy (``norm.logpdf(x, loc=0, scale=1)``,
``gamma.cdf(x, a, loc, scale)``, ``poisson.logpmf(k, mu)``) and are written
with lagrad.numpy and lagrad.scipy.special, so their derivatives in `x` and in
the parameters come from those rules. The distribution functions of t,
gamma and beta and their inverses are differentiable in the shape parameters
(`df`, `a`, `b`): gamma twice in `a`, t and beta once. A higher derivative in
a shape parameter raises an error naming the special function (`stdtr`,
`gammainc`, `betainc`), while second derivatives in x, loc and scale, and
mixed with a shape, are given.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg as _linalg
import scipy.special as _sp
import scipy.stats as _scipy_stats

from ..core import Var, defjvp, defrule, defvjp
from ..numpy import concatenate, exp, expand_dims, log, log1p, reshape, squeeze, sum, swapaxes, transpose, where
from ..numpy._register import array_like, elementwise, prim
from ..numpy.manipulation import shape_of
from . import special

__all__ = ["beta", "dirichlet", "gamma", "multivariate_normal", "norm", "poisson", "t"]

#: The derivatives a method here still lacks, as "distribution.method" (docs/coverage.md shows them).
DERIVATIVE_GAPS = {
    **{f"t.{m}": "no second derivative in `df`" for m in ("cdf", "logcdf", "sf", "logsf", "ppf", "isf")},
    **{f"gamma.{m}": "no third derivative in `a`" for m in ("cdf", "logcdf", "sf", "logsf", "ppf", "isf")},
    **{
        f"beta.{m}": "no second derivative in `a` or `b`, each alone or mixed"
        for m in ("cdf", "logcdf", "sf", "logsf", "ppf", "isf")
    },
}

_LOG_SQRT_2PI = float(0.5 * np.log(2 * np.pi))


def _plain(x: Any) -> Any:
    """The value of a traced array, for checks of the input that carry no derivative."""
    while isinstance(x, Var):
        x = x.value
    return x


def _array(x: Any) -> Any:
    x = array_like(x)
    return x if isinstance(x, Var) else np.asarray(x, dtype=float)


def _is(value: Any, number: float) -> bool:
    """Whether `value` is the plain Python number `number` (a default loc or scale)."""
    return isinstance(value, (int, float)) and value == number


def _squeeze_output(out: Any) -> Any:
    """SciPy's multivariate convention: axes of length 1 dropped, a scalar as 0-d."""
    return squeeze(out) if 1 in shape_of(out) else out


# ----- continuous distributions with loc and scale ---------------------------------------


class _Continuous:
    """A continuous distribution of ``x = loc + scale * z``, `z` standard with shape parameters.

    A subclass gives the standard log-density `_logpdf`, the distribution function `_cdf`,
    its complement `_sf` and their inverses `_ppf` and `_isf`, all of ``(z, *shapes)``;
    `support` bounds `z` (closed), outside which the density is 0 and the distribution
    function 0 below, 1 above, as in SciPy.
    """

    name = ""
    shapes: tuple[str, ...] = ()
    support = (-np.inf, np.inf)
    inside = 0.0  # a point of the support, standing in for z outside it

    def _parse(self, method: str, args: tuple[Any, ...], kwds: dict[str, Any]) -> tuple[list[Any], Any, Any]:
        names = (*self.shapes, "loc", "scale")
        where_from = f"lagrad.scipy.stats.{self.name}.{method}"
        if len(args) > len(names):
            raise TypeError(f"{where_from}: takes at most {len(names)} parameters ({', '.join(names)})")
        given = dict(zip(names, args))
        for key, value in kwds.items():
            if key not in names:
                raise TypeError(f"{where_from}: unexpected parameter {key!r}; the parameters are {', '.join(names)}")
            if key in given:
                raise TypeError(f"{where_from}: parameter {key!r} given twice")
            given[key] = value
        missing = [s for s in self.shapes if s not in given]
        if missing:
            raise TypeError(f"{where_from}: missing shape parameter {', '.join(missing)}")
        return [given[s] for s in self.shapes], given.get("loc", 0.0), given.get("scale", 1.0)

    def _standard(self, x: Any, loc: Any, scale: Any) -> Any:
        z = _array(x)
        if not _is(loc, 0):
            z = z - loc
        if not _is(scale, 1):
            z = z / scale
        return z

    def _on_support(self, z: Any, f: Any, shapes: list[Any], below: float, above: float) -> Any:
        """f(z, *shapes) on the support; `below` and `above` outside it. The points outside are
        replaced before f sees them, so no infinity or NaN reaches a derivative through `where`."""
        lo, hi = self.support
        if lo == -np.inf and hi == np.inf:
            return f(z, *shapes)
        low, high = z < lo, z > hi
        values = f(where(low | high, self.inside, z), *shapes)
        return where(low, below, where(high, above, values))

    def _log_density(self, method: str, x: Any, args: tuple[Any, ...], kwds: dict[str, Any]) -> Any:
        shapes, loc, scale = self._parse(method, args, kwds)
        out = self._on_support(self._standard(x, loc, scale), self._logpdf, shapes, -np.inf, -np.inf)
        return out if _is(scale, 1) else out - log(scale)

    def logpdf(self, x: Any, *args: Any, **kwds: Any) -> Any:
        """The log of the probability density at `x`."""
        return self._log_density("logpdf", x, args, kwds)

    def pdf(self, x: Any, *args: Any, **kwds: Any) -> Any:
        """The probability density at `x`."""
        return exp(self._log_density("pdf", x, args, kwds))

    def cdf(self, x: Any, *args: Any, **kwds: Any) -> Any:
        """The distribution function: the probability of a value at most `x`."""
        shapes, loc, scale = self._parse("cdf", args, kwds)
        return self._on_support(self._standard(x, loc, scale), self._cdf, shapes, 0.0, 1.0)

    def logcdf(self, x: Any, *args: Any, **kwds: Any) -> Any:
        """The log of the distribution function at `x`."""
        shapes, loc, scale = self._parse("logcdf", args, kwds)
        return self._on_support(self._standard(x, loc, scale), self._logcdf, shapes, -np.inf, 0.0)

    def sf(self, x: Any, *args: Any, **kwds: Any) -> Any:
        """The survival function ``1 - cdf(x)``, computed without the cancellation."""
        shapes, loc, scale = self._parse("sf", args, kwds)
        return self._on_support(self._standard(x, loc, scale), self._sf, shapes, 1.0, 0.0)

    def logsf(self, x: Any, *args: Any, **kwds: Any) -> Any:
        """The log of the survival function at `x`."""
        shapes, loc, scale = self._parse("logsf", args, kwds)
        return self._on_support(self._standard(x, loc, scale), self._logsf, shapes, 0.0, -np.inf)

    def ppf(self, q: Any, *args: Any, **kwds: Any) -> Any:
        """The quantile function, inverse of `cdf`, at probability `q`."""
        shapes, loc, scale = self._parse("ppf", args, kwds)
        return self._unstandard(self._quantile(_array(q), self._ppf, shapes, *self.support), loc, scale)

    def isf(self, q: Any, *args: Any, **kwds: Any) -> Any:
        """The inverse of the survival function at probability `q`."""
        shapes, loc, scale = self._parse("isf", args, kwds)
        return self._unstandard(self._quantile(_array(q), self._isf, shapes, *self.support[::-1]), loc, scale)

    @staticmethod
    def _quantile(q: Any, f: Any, shapes: list[Any], at_0: float, at_1: float) -> Any:
        """f(q, *shapes) for 0 < q < 1, the ends of the support at 0 and 1 (as SciPy gives
        them, whatever the special function returns there), NaN outside [0, 1]."""
        inside = (q > 0) & (q < 1)
        values = f(where(inside, q, 0.5), *shapes)
        return where(inside, values, where(q == 0, at_0, where(q == 1, at_1, np.nan)))

    @staticmethod
    def _unstandard(z: Any, loc: Any, scale: Any) -> Any:
        x = z if _is(scale, 1) else z * scale
        return x if _is(loc, 0) else x + loc

    # the log-distribution functions, where a subclass has nothing more stable: log(cdf)
    # loses every digit where cdf is near 1, so there the log of 1 - sf is taken (as SciPy)
    def _logcdf(self, z: Any, *shapes: Any) -> Any:
        cdf = self._cdf(z, *shapes)
        with np.errstate(divide="ignore"):
            return where(cdf < 0.5, log(cdf), log1p(-self._sf(z, *shapes)))

    def _logsf(self, z: Any, *shapes: Any) -> Any:
        sf = self._sf(z, *shapes)
        with np.errstate(divide="ignore"):
            return where(sf < 0.5, log(sf), log1p(-self._cdf(z, *shapes)))

    def _logpdf(self, z: Any, *shapes: Any) -> Any:
        raise NotImplementedError

    def _cdf(self, z: Any, *shapes: Any) -> Any:
        raise NotImplementedError

    def _sf(self, z: Any, *shapes: Any) -> Any:
        raise NotImplementedError

    def _ppf(self, q: Any, *shapes: Any) -> Any:
        raise NotImplementedError

    def _isf(self, q: Any, *shapes: Any) -> Any:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<lagrad.scipy.stats.{self.name}>"


class _Norm(_Continuous):
    """The normal distribution: ``norm.logpdf(x, loc=0, scale=1)``."""

    name = "norm"

    def _logpdf(self, z: Any) -> Any:
        return -0.5 * z**2 - _LOG_SQRT_2PI

    def _cdf(self, z: Any) -> Any:
        return special.ndtr(z)

    def _sf(self, z: Any) -> Any:
        return special.ndtr(-z)

    def _logcdf(self, z: Any) -> Any:
        return special.log_ndtr(z)

    def _logsf(self, z: Any) -> Any:
        return special.log_ndtr(-z)

    def _ppf(self, q: Any) -> Any:
        return special.ndtri(q)

    def _isf(self, q: Any) -> Any:
        return -special.ndtri(q)


def _t_logpdf_impl(z: Any, df: Any) -> Any:
    """log of 1/(√df B(df/2, 1/2)) (1 + z²/df)^(−(df+1)/2). The log of the normalisation,
    gammaln((df+1)/2) − gammaln(df/2) − log(π df)/2, kept no digit at df = 1e15 and SciPy's
    betaln 1e-10 relative at 1e6; from df = 100 it is the series −log(2π)/2 − 1/(8a) + 1/(192a³)
    − 1/(640a⁵) + 17/(14336a⁷), a = df/2 (3e-16 relative there), which does not cancel."""
    a = 0.5 * np.maximum(df, 100.0)
    w = 1 / (a * a)
    series = -_LOG_SQRT_2PI - (0.125 - w * (1 / 192 - w * (1 / 640 - w * 17 / 14336))) / a
    log_norm = np.where(df > 100, series, -_sp.betaln(0.5 * df, 0.5) - 0.5 * np.log(df))
    return log_norm - 0.5 * (df + 1) * np.log1p(z**2 / df)


# the standard t log-density, a primitive so that its slope in df is summed without cancelling
_t_logpdf = elementwise("t_logpdf", _t_logpdf_impl)
defrule(_t_logpdf, lambda g, ans, z, df: -g * (df + 1) * z / (df + z**2),
                   lambda g, ans, z, df: g * special._t_density_dlog_ddf(df, z))  # fmt: skip


class _T(_Continuous):
    """Student's t distribution: ``t.logpdf(x, df, loc=0, scale=1)``."""

    name = "t"
    shapes = ("df",)

    def _logpdf(self, z: Any, df: Any) -> Any:
        return _t_logpdf(z, df)

    def _cdf(self, z: Any, df: Any) -> Any:
        return special.stdtr(df, z)

    def _sf(self, z: Any, df: Any) -> Any:
        return special.stdtr(df, -z)

    def _ppf(self, q: Any, df: Any) -> Any:
        return special.stdtrit(df, q)

    def _isf(self, q: Any, df: Any) -> Any:
        return -special.stdtrit(df, q)


class _Gamma(_Continuous):
    """The gamma distribution: ``gamma.logpdf(x, a, loc=0, scale=1)``."""

    name = "gamma"
    shapes = ("a",)
    support = (0.0, np.inf)
    inside = 1.0

    def _logpdf(self, z: Any, a: Any) -> Any:
        return special.xlogy(a - 1, z) - z - special.gammaln(a)

    def _cdf(self, z: Any, a: Any) -> Any:
        return special.gammainc(a, z)

    def _sf(self, z: Any, a: Any) -> Any:
        return special.gammaincc(a, z)

    def _ppf(self, q: Any, a: Any) -> Any:
        return special.gammaincinv(a, q)

    def _isf(self, q: Any, a: Any) -> Any:
        return special.gammainccinv(a, q)


class _Beta(_Continuous):
    """The beta distribution: ``beta.logpdf(x, a, b, loc=0, scale=1)``."""

    name = "beta"
    shapes = ("a", "b")
    support = (0.0, 1.0)
    inside = 0.5

    def _logpdf(self, z: Any, a: Any, b: Any) -> Any:
        return special.xlogy(a - 1, z) + special.xlog1py(b - 1, -z) - special.betaln(a, b)

    def _cdf(self, z: Any, a: Any, b: Any) -> Any:
        return special.betainc(a, b, z)

    def _sf(self, z: Any, a: Any, b: Any) -> Any:
        return special.betaincc(a, b, z)

    def _ppf(self, q: Any, a: Any, b: Any) -> Any:
        return special.betaincinv(a, b, q)

    def _isf(self, q: Any, a: Any, b: Any) -> Any:
        return special.betainccinv(a, b, q)


# ----- the Poisson distribution ------------------------------------------------------------


class _Poisson:
    """The Poisson distribution: ``poisson.logpmf(k, mu, loc=0)``, differentiable in `mu`.

    `k` is a count: constant, or a traced integer array; the probabilities have no
    derivative in it. Non-integer or negative `k` has probability 0, as in SciPy.
    """

    name = "poisson"

    @staticmethod
    def _counts(method: str, k: Any, loc: Any) -> tuple[Any, Any, Any]:
        """k - loc, rounded down (for the distribution functions), and the mask of valid counts."""
        for arg, name in ((k, "k"), (loc, "loc")):
            if isinstance(arg, Var) and np.dtype(arg.dtype).kind not in "iub":
                raise TypeError(
                    f"lagrad.scipy.stats.poisson.{method}: `{name}` is traced as floats, but the "
                    f"probabilities have no derivative in a count; pass it as a constant or as integers"
                )
        k = array_like(k)
        if not _is(loc, 0):
            k = k - loc
        if isinstance(k, Var):  # integers: whole already
            return k, k, k >= 0
        floor = np.floor(k)
        return k, floor, (k >= 0) & (k == floor)

    def logpmf(self, k: Any, mu: Any, loc: Any = 0) -> Any:
        """The log of the probability of the count `k`."""
        k, _, valid = self._counts("logpmf", k, loc)
        k = where(valid, k, 0)
        return where(valid, special.xlogy(k, mu) - special.gammaln(k + 1) - mu, -np.inf)

    def pmf(self, k: Any, mu: Any, loc: Any = 0) -> Any:
        """The probability of the count `k`."""
        return exp(self.logpmf(k, mu, loc))

    def cdf(self, k: Any, mu: Any, loc: Any = 0) -> Any:
        """The probability of a count at most `k`."""
        k, floor, _ = self._counts("cdf", k, loc)
        return where(k < 0, 0.0, special.gammaincc(where(k < 0, 0, floor) + 1, mu))

    def sf(self, k: Any, mu: Any, loc: Any = 0) -> Any:
        """The probability of a count above `k`."""
        k, floor, _ = self._counts("sf", k, loc)
        return where(k < 0, 1.0, special.gammainc(where(k < 0, 0, floor) + 1, mu))

    def logcdf(self, k: Any, mu: Any, loc: Any = 0) -> Any:
        """The log of `cdf` (of 1 - sf where cdf is near 1)."""
        cdf = self.cdf(k, mu, loc)
        with np.errstate(divide="ignore"):
            return where(cdf < 0.5, log(cdf), log1p(-self.sf(k, mu, loc)))

    def logsf(self, k: Any, mu: Any, loc: Any = 0) -> Any:
        """The log of `sf` (of 1 - cdf where sf is near 1)."""
        sf = self.sf(k, mu, loc)
        with np.errstate(divide="ignore"):
            return where(sf < 0.5, log(sf), log1p(-self.cdf(k, mu, loc)))

    def __repr__(self) -> str:
        return "<lagrad.scipy.stats.poisson>"


# ----- the Dirichlet distribution ----------------------------------------------------------


class _Dirichlet:
    """The Dirichlet distribution: ``dirichlet.logpdf(x, alpha)``, components of `x` along its
    first axis (as in SciPy), all K of them or the first K-1 (the last is then 1 - their sum).

    Its density lives on the simplex: a derivative in `x` is a derivative along it when `x`
    gives K-1 components; with all K, it is that of the formula extended off the simplex.
    """

    name = "dirichlet"

    @staticmethod
    def _check(method: str, x: Any, alpha: Any) -> Any:
        where_from = f"lagrad.scipy.stats.dirichlet.{method}"
        a = np.asarray(_plain(alpha))
        if a.ndim != 1:
            raise ValueError(f"{where_from}: alpha must be one-dimensional, not of shape {a.shape}")
        if np.min(a) <= 0:
            raise ValueError(f"{where_from}: every alpha must be greater than 0")
        x = _array(x)
        k = shape_of(x)[0] if shape_of(x) else 0
        if k == a.shape[0] - 1:
            x = concatenate([x, expand_dims(1 - sum(x, axis=0), 0)], axis=0)
        elif k != a.shape[0]:
            raise ValueError(
                f"{where_from}: x needs {a.shape[0]} or {a.shape[0] - 1} components along its first axis "
                f"(one per alpha, or all but the last), not {k}"
            )
        v = np.asarray(_plain(x))
        if np.min(v) < 0 or np.max(v) > 1 or np.any(np.abs(np.sum(v, axis=0) - 1) > 1e-9):
            raise ValueError(f"{where_from}: x must lie on the simplex (entries in [0, 1] summing to 1)")
        if np.any((v == 0) & (a.reshape((-1,) + (1,) * (v.ndim - 1)) < 1)):
            raise ValueError(f"{where_from}: an entry of x may be 0 only where its alpha is at least 1")
        return x

    def logpdf(self, x: Any, alpha: Any) -> Any:
        """The log of the density at `x` (components along the first axis)."""
        x = self._check("logpdf", x, alpha)
        alpha = _array(alpha)
        ndim = len(shape_of(x))
        exponents = reshape(alpha - 1, (-1,) + (1,) * (ndim - 1))
        log_beta = sum(special.gammaln(alpha)) - special.gammaln(sum(alpha))
        return _squeeze_output(sum(special.xlogy(exponents, x), axis=0) - log_beta)

    def pdf(self, x: Any, alpha: Any) -> Any:
        """The density at `x` (components along the first axis)."""
        return exp(self.logpdf(x, alpha))

    def __repr__(self) -> str:
        return "<lagrad.scipy.stats.dirichlet>"


# ----- the multivariate normal distribution -------------------------------------------------
# Two primitives on a symmetric positive definite matrix `a`, through its Cholesky factor:
# spd_solve(a, b) = a⁻¹ b and spd_logdet(a) = log det a. Their rules are those of the general
# solve and log-determinant with a⁻ᵀ = a⁻¹: exact for the symmetric tangents the callers give
# them (multivariate_normal symmetrises `cov` first, so any perturbation of it is one).


def _cholesky(a: np.ndarray) -> Any:
    try:
        return _linalg.cho_factor(a, lower=True)
    except np.linalg.LinAlgError as error:
        raise np.linalg.LinAlgError(
            f"lagrad.scipy.stats.multivariate_normal: cov is not positive definite ({error}); "
            f"singular covariances (allow_singular=True) are not supported"
        ) from None


def _spd_logdet_impl(a: np.ndarray) -> Any:
    factor, _ = _cholesky(a)
    return 2 * np.sum(np.log(np.diagonal(factor)))


_spd_solve = prim("spd_solve", lambda a, b: _linalg.cho_solve(_cholesky(a), b))
_spd_logdet = prim("spd_logdet", _spd_logdet_impl)

# fmt: off
defvjp(_spd_solve,  lambda g, ans, a, b: -(_spd_solve(a, g) @ ans.T),
                    lambda g, ans, a, b: _spd_solve(a, g))
defjvp(_spd_solve,  lambda t, ans, a, b: -_spd_solve(a, t @ ans),
                    lambda t, ans, a, b: _spd_solve(a, t))
defvjp(_spd_logdet, lambda g, ans, a: g * _spd_solve(a, np.eye(a.shape[0])))
defjvp(_spd_logdet, lambda t, ans, a: sum(_spd_solve(a, np.eye(a.shape[0])) * t))
# fmt: on


class _MultivariateNormal:
    """The multivariate normal distribution: ``multivariate_normal.logpdf(x, mean=None, cov=1)``,
    the last axis of `x` holding the components; `cov` a matrix, a vector (the diagonal)
    or a scalar (times the identity), as in SciPy.

    A matrix `cov` is used through its symmetric part ``(cov + cov.T) / 2`` (SciPy reads one
    triangle): the same for a symmetric `cov`, and a derivative defined for every entry.
    """

    name = "multivariate_normal"

    @staticmethod
    def _parameters(mean: Any, cov: Any) -> tuple[int, Any, Any]:
        where_from = "lagrad.scipy.stats.multivariate_normal"
        cov = _array(cov)
        cov_shape = shape_of(cov)
        if mean is None:
            dim = cov_shape[0] if cov_shape else 1
            mean = np.zeros(dim)
        mean = _array(mean)
        dim = int(np.prod(shape_of(mean)))
        mean = reshape(mean, (dim,))
        if len(cov_shape) > 2:
            raise ValueError(f"{where_from}: cov must be at most two-dimensional, not of shape {cov_shape}")
        if len(cov_shape) == 2 and cov_shape != (dim, dim):
            raise ValueError(f"{where_from}: cov of shape {cov_shape} does not match a mean of length {dim}")
        if len(cov_shape) == 1 and cov_shape != (dim,):
            raise ValueError(f"{where_from}: the diagonal cov of length {cov_shape[0]} needs a mean of that length")
        if len(cov_shape) < 2 and np.any(np.asarray(_plain(cov)) <= 0):
            raise ValueError(f"{where_from}: the variances in cov must be positive")
        return dim, mean, cov

    def logpdf(self, x: Any, mean: Any = None, cov: Any = 1, allow_singular: bool = False) -> Any:
        """The log of the density at `x` (components along its last axis)."""
        if allow_singular:
            raise NotImplementedError(
                "lagrad.scipy.stats.multivariate_normal: allow_singular=True is not supported; "
                "give a positive definite cov"
            )
        dim, mean, cov = self._parameters(mean, cov)
        x = _array(x)
        shape = shape_of(x)
        if len(shape) == 0:
            x = reshape(x, (1,))
        elif len(shape) == 1:
            x = reshape(x, (-1, 1) if dim == 1 else (1, -1))
        if shape_of(x)[-1] != dim:
            raise ValueError(
                f"lagrad.scipy.stats.multivariate_normal: x has {shape_of(x)[-1]} components on its last "
                f"axis, the distribution {dim}"
            )
        deviation = x - mean
        batch = shape_of(deviation)[:-1]
        cov_ndim = len(shape_of(cov))
        if cov_ndim == 0:
            maha = sum(deviation**2, axis=-1) / cov
            logdet = dim * log(cov)
        elif cov_ndim == 1:
            maha = sum(deviation**2 / cov, axis=-1)
            logdet = sum(log(cov))
        else:
            symmetric = 0.5 * (cov + swapaxes(cov, 0, 1))
            columns = transpose(reshape(deviation, (-1, dim)))  # one point a column
            maha = reshape(sum(columns * _spd_solve(symmetric, columns), axis=0), batch)
            logdet = _spd_logdet(symmetric)
        return _squeeze_output(-0.5 * (dim * 2 * _LOG_SQRT_2PI + logdet + maha))

    def pdf(self, x: Any, mean: Any = None, cov: Any = 1, allow_singular: bool = False) -> Any:
        """The density at `x` (components along its last axis)."""
        return exp(self.logpdf(x, mean, cov, allow_singular))

    def __repr__(self) -> str:
        return "<lagrad.scipy.stats.multivariate_normal>"


norm = _Norm()
t = _T()
gamma = _Gamma()
beta = _Beta()
poisson = _Poisson()
dirichlet = _Dirichlet()
multivariate_normal = _MultivariateNormal()


def _scipy_method(self: Any, name: str) -> Any:
    """SciPy's own method, for those lagrad does not differentiate (rvs, fit, stats, entropy,
    interval, moment, expect, ...): they run as SciPy's, on plain values."""
    if name.startswith("_"):
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
    return getattr(_SCIPY[type(self)], name)


_SCIPY = {
    _Norm: _scipy_stats.norm,
    _T: _scipy_stats.t,
    _Gamma: _scipy_stats.gamma,
    _Beta: _scipy_stats.beta,
    _Poisson: _scipy_stats.poisson,
    _Dirichlet: _scipy_stats.dirichlet,
    _MultivariateNormal: _scipy_stats.multivariate_normal,
}


class _Frozen:
    """``norm(loc, scale)``: the distribution with its parameters fixed, as SciPy freezes it.
    lagrad's methods take the parameters after the point (``logpdf(x)``); every other
    attribute is the SciPy frozen distribution's."""

    def __init__(self, dist: Any, args: tuple[Any, ...], kwds: dict[str, Any]) -> None:
        self.dist, self.args, self.kwds = dist, args, kwds

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if callable(getattr(type(self.dist), name, None)):
            method = getattr(self.dist, name)
            return lambda x, **kwds: method(x, *self.args, **{**self.kwds, **kwds})
        return getattr(_SCIPY[type(self.dist)](*self.args, **self.kwds), name)


def _freeze(self: Any, *args: Any, **kwds: Any) -> _Frozen:
    return _Frozen(self, args, kwds)


for _cls in _SCIPY:
    _cls.__getattr__ = _scipy_method  # type: ignore[attr-defined]
    _cls.__call__ = _freeze  # type: ignore[attr-defined]
