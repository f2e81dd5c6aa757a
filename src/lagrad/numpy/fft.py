"""`lagrad.numpy.fft`: NumPy's discrete Fourier transforms as primitives.

Three primitives carry every transform: the complex ``fftn`` (forward or
inverse), the real-input ``rfftn`` and the real-output ``irfftn``; the 1-D and
2-D functions, hfft and ihfft are these with their axes and sizes. All are
linear, so a tangent is transformed like the input. Their transposes, under
lagrad's convention (a plain transpose, no conjugation), are transforms too:

* the DFT matrix is symmetric, so a complex transform is its own transpose,
  with the same direction and normalisation;
* zero-padding and truncation to `n` (or `s`) transpose to each other;
* rfft keeps half the spectrum: its transpose pads the multiplier with zeros
  to the full length and keeps the real part;
* irfft folds the half spectrum (weights 1 at 0 and Nyquist, 2 between) and
  keeps the real part: its transpose is the inverse transform of the
  multiplier, cut to the half spectrum and weighted.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.fft import fftfreq, rfftfreq

from ..core import deflinear
from ..core.backend import _plain, in_namespace, numpy_dtype
from . import manipulation as _shape
from . import reductions as _red
from ._register import function, prim
from .indexing import getitem
from .ufuncs import conjugate, real

__all__ = [
    "fft",
    "fft2",
    "fftfreq",
    "fftn",
    "fftshift",
    "hfft",
    "ifft",
    "ifft2",
    "ifftn",
    "ifftshift",
    "ihfft",
    "irfft",
    "irfft2",
    "irfftn",
    "rfft",
    "rfft2",
    "rfftfreq",
    "rfftn",
]

_NORMS = ("backward", "ortho", "forward")


def _fftn_impl(x: Any, s: tuple[int, ...], axes: tuple[int, ...], norm: str, inverse: bool) -> Any:
    return (np.fft.ifftn if inverse else np.fft.fftn)(x, s=s, axes=axes, norm=norm)


_fftn = prim("fftn", _fftn_impl)
_rfftn = prim("rfftn", lambda x, s, axes, norm: np.fft.rfftn(x, s=s, axes=axes, norm=norm))
_irfftn = prim("irfftn", lambda x, s, axes, norm: np.fft.irfftn(x, s=s, axes=axes, norm=norm))


# ----- transposes ---------------------------------------------------------------------------


def _resize(y: Any, shape: tuple[int, ...], axes: tuple[int, ...]) -> Any:
    """`y` truncated or zero-padded to `shape` along `axes`."""
    for ax in axes:
        have, want = y.shape[ax], shape[ax]
        if have > want:
            y = getitem(y, (slice(None),) * ax + (slice(0, want),))
        elif have < want:
            pad = np.zeros((*y.shape[:ax], want - have, *y.shape[ax + 1 :]), dtype=numpy_dtype(y.dtype))
            y = _shape.concatenate([y, in_namespace(pad, _plain(y))], axis=ax)
    return y


def _with(shape: tuple[int, ...], axis: int, n: int) -> tuple[int, ...]:
    return (*shape[:axis], n, *shape[axis + 1 :])


def _fold_weights(n: int, axis: int, ndim: int) -> np.ndarray:
    """How often irfft counts each entry of the half spectrum: 1 at 0 and at Nyquist, else 2."""
    w = np.full(n // 2 + 1, 2.0)
    w[0] = 1.0
    if n % 2 == 0:
        w[-1] = 1.0
    return w.reshape((-1,) + (1,) * (ndim - axis - 1))


def _fftn_vjp(g: Any, ans: Any, x: Any, s: Any, axes: Any, norm: str, inverse: bool) -> Any:
    ct = _resize(_fftn(g, s=s, axes=axes, norm=norm, inverse=inverse), x.shape, axes)
    return ct if numpy_dtype(x.dtype).kind == "c" else real(ct)


def _rfftn_vjp(g: Any, ans: Any, x: Any, s: Any, axes: Any, norm: str) -> Any:
    full = _resize(g, _with(g.shape, axes[-1], s[-1]), axes[-1:])
    return real(_resize(_fftn(full, s=s, axes=axes, norm=norm, inverse=False), x.shape, axes))


def _irfftn_vjp(g: Any, ans: Any, x: Any, s: Any, axes: Any, norm: str) -> Any:
    last, n = axes[-1], s[-1]
    y = _fftn(real(g), s=s, axes=axes, norm=norm, inverse=True)
    weights = in_namespace(_fold_weights(n, last, len(y.shape)), _plain(y))
    y = _resize(y, _with(y.shape, last, n // 2 + 1), (last,)) * weights
    ct = _resize(y, x.shape, axes)
    return ct if numpy_dtype(x.dtype).kind == "c" else real(ct)


# fmt: off
deflinear(_fftn,   _fftn_vjp)
deflinear(_rfftn,  _rfftn_vjp)
deflinear(_irfftn, _irfftn_vjp)
# fmt: on


# ----- arguments as NumPy reads them ----------------------------------------------------------


def _norm(name: str, norm: Any) -> str:
    if norm is None:
        return "backward"
    if norm not in _NORMS:
        raise ValueError(f"lagrad.numpy.fft.{name}: norm must be one of {_NORMS} or None, not {norm!r}")
    return norm


def _swap(norm: str) -> str:
    return {"backward": "forward", "forward": "backward", "ortho": "ortho"}[norm]


def _no_out(name: str, out: Any) -> None:
    if out is not None:
        raise TypeError(f"lagrad.numpy.fft.{name}: out= is not supported on traced values; use the result")


def _nd(name: str, a: Any, s: Any, axes: Any, real_output: bool = False) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Sizes and axes of an n-D transform, with NumPy's defaults (irfft: 2(m-1) along the last)."""
    shape = _shape.shape_of(a)
    ndim = len(shape)
    if axes is None:
        axes = range(ndim) if s is None else range(ndim - len(s), ndim)
    axes = tuple(_red.normalize_axes(int(ax), ndim)[0] for ax in axes)
    if len(set(axes)) != len(axes):
        raise ValueError(f"lagrad.numpy.fft.{name}: repeated axes {axes} are not supported; transform once per axis")
    if not axes:
        raise ValueError(f"lagrad.numpy.fft.{name}: no axes to transform")
    default = [shape[ax] for ax in axes]
    if real_output:
        default[-1] = 2 * (default[-1] - 1)
    if s is None:
        sizes = default
    else:
        if len(s) != len(axes):
            raise ValueError(f"lagrad.numpy.fft.{name}: s and axes must have the same length")
        sizes = [d if int(n) == -1 else int(n) for n, d in zip(s, default)]
    if any(n < 1 for n in sizes):
        raise ValueError(f"lagrad.numpy.fft.{name}: invalid number of data points {tuple(sizes)}")
    return tuple(sizes), axes


def _real_input(name: str, a: Any) -> None:
    dtype = a.dtype if hasattr(a, "dtype") else np.asarray(a).dtype
    if numpy_dtype(dtype).kind == "c":
        raise TypeError(f"lagrad.numpy.fft.{name}: the input must be real; use lagrad.numpy.fft.fft for complex data")


def _one(n: Any) -> Any:
    return None if n is None else (n,)


def _complex(name: str, a: Any, s: Any, axes: Any, norm: Any, out: Any, inverse: bool) -> Any:
    _no_out(name, out)
    s, axes = _nd(name, a, s, axes)
    return _fftn(a, s=s, axes=axes, norm=_norm(name, norm), inverse=inverse)


def _real_to_half(name: str, a: Any, s: Any, axes: Any, norm: Any, out: Any) -> Any:
    _no_out(name, out)
    _real_input(name, a)
    s, axes = _nd(name, a, s, axes)
    return _rfftn(a, s=s, axes=axes, norm=_norm(name, norm))


def _half_to_real(name: str, a: Any, s: Any, axes: Any, norm: Any, out: Any) -> Any:
    _no_out(name, out)
    s, axes = _nd(name, a, s, axes, real_output=True)
    return _irfftn(a, s=s, axes=axes, norm=_norm(name, norm))


# ----- complex transforms -----------------------------------------------------------------------


@function(np.fft.fftn)
def fftn(a: Any, s: Any = None, axes: Any = None, norm: Any = None, out: Any = None) -> Any:
    """The n-D discrete Fourier transform over `axes`, input cut or zero-padded to `s`."""
    return _complex("fftn", a, s, axes, norm, out, inverse=False)


@function(np.fft.ifftn)
def ifftn(a: Any, s: Any = None, axes: Any = None, norm: Any = None, out: Any = None) -> Any:
    """The n-D inverse discrete Fourier transform."""
    return _complex("ifftn", a, s, axes, norm, out, inverse=True)


@function(np.fft.fft)
def fft(a: Any, n: Any = None, axis: int = -1, norm: Any = None, out: Any = None) -> Any:
    """The 1-D discrete Fourier transform along `axis`."""
    return _complex("fft", a, _one(n), (axis,), norm, out, inverse=False)


@function(np.fft.ifft)
def ifft(a: Any, n: Any = None, axis: int = -1, norm: Any = None, out: Any = None) -> Any:
    """The 1-D inverse discrete Fourier transform along `axis`."""
    return _complex("ifft", a, _one(n), (axis,), norm, out, inverse=True)


@function(np.fft.fft2)
def fft2(a: Any, s: Any = None, axes: Any = (-2, -1), norm: Any = None, out: Any = None) -> Any:
    """The 2-D discrete Fourier transform."""
    return _complex("fft2", a, s, axes, norm, out, inverse=False)


@function(np.fft.ifft2)
def ifft2(a: Any, s: Any = None, axes: Any = (-2, -1), norm: Any = None, out: Any = None) -> Any:
    """The 2-D inverse discrete Fourier transform."""
    return _complex("ifft2", a, s, axes, norm, out, inverse=True)


# ----- real transforms ---------------------------------------------------------------------------


@function(np.fft.rfftn)
def rfftn(a: Any, s: Any = None, axes: Any = None, norm: Any = None, out: Any = None) -> Any:
    """The n-D transform of real input: the last axis keeps its non-negative frequencies."""
    return _real_to_half("rfftn", a, s, axes, norm, out)


@function(np.fft.irfftn)
def irfftn(a: Any, s: Any = None, axes: Any = None, norm: Any = None, out: Any = None) -> Any:
    """The inverse of rfftn: real output, 2(m-1) points along the last axis unless `s` says."""
    return _half_to_real("irfftn", a, s, axes, norm, out)


@function(np.fft.rfft)
def rfft(a: Any, n: Any = None, axis: int = -1, norm: Any = None, out: Any = None) -> Any:
    """The 1-D transform of real input (non-negative frequencies)."""
    return _real_to_half("rfft", a, _one(n), (axis,), norm, out)


@function(np.fft.irfft)
def irfft(a: Any, n: Any = None, axis: int = -1, norm: Any = None, out: Any = None) -> Any:
    """The inverse of rfft: `n` real points (default 2(m-1))."""
    return _half_to_real("irfft", a, _one(n), (axis,), norm, out)


@function(np.fft.rfft2)
def rfft2(a: Any, s: Any = None, axes: Any = (-2, -1), norm: Any = None, out: Any = None) -> Any:
    """The 2-D transform of real input."""
    return _real_to_half("rfft2", a, s, axes, norm, out)


@function(np.fft.irfft2)
def irfft2(a: Any, s: Any = None, axes: Any = (-2, -1), norm: Any = None, out: Any = None) -> Any:
    """The inverse of rfft2."""
    return _half_to_real("irfft2", a, s, axes, norm, out)


@function(np.fft.hfft)
def hfft(a: Any, n: Any = None, axis: int = -1, norm: Any = None, out: Any = None) -> Any:
    """The transform of a Hermitian-symmetric signal given by its first half: real output."""
    _no_out("hfft", out)
    dtype = a.dtype if hasattr(a, "dtype") else np.asarray(a).dtype
    a = conjugate(a) if numpy_dtype(dtype).kind == "c" else a
    return _half_to_real("hfft", a, _one(n), (axis,), _swap(_norm("hfft", norm)), None)


@function(np.fft.ihfft)
def ihfft(a: Any, n: Any = None, axis: int = -1, norm: Any = None, out: Any = None) -> Any:
    """The inverse of hfft, for real input: the first half of a Hermitian spectrum."""
    _no_out("ihfft", out)
    return conjugate(_real_to_half("ihfft", a, _one(n), (axis,), _swap(_norm("ihfft", norm)), None))


# ----- shifts: rolls by half the length ------------------------------------------------------------


def _shifts(x: Any, axes: Any, sign: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    shape = _shape.shape_of(x)
    if axes is None:
        axes = tuple(range(len(shape)))
    elif np.ndim(axes) == 0:
        axes = (int(axes),)
    axes = tuple(int(ax) for ax in axes)
    return tuple(sign * (shape[ax] // 2) for ax in axes), axes


@function(np.fft.fftshift)
def fftshift(x: Any, axes: Any = None) -> Any:
    """The zero frequency moved to the centre: a roll by half the length along `axes`."""
    shift, axes = _shifts(x, axes, 1)
    return _shape.roll(x, shift, axes)


@function(np.fft.ifftshift)
def ifftshift(x: Any, axes: Any = None) -> Any:
    """The inverse of fftshift."""
    shift, axes = _shifts(x, axes, -1)
    return _shape.roll(x, shift, axes)


_ = (fftfreq, rfftfreq)  # constants of the sizes alone: NumPy's own
