"""numpy.fft: every transform, with n/s cutting and padding, axes and the three normalisations,
against NumPy's values, finite differences (both modes, second order) and explicit DFT matrices."""

from __future__ import annotations

import numpy as np
import pytest

import lagrad
import lagrad.numpy as lnp
from tests.conftest import rand
from tests.helpers import check

fft = lnp.fft
NORMS = [None, "ortho", "forward"]


def crand(*shape: int) -> np.ndarray:
    return rand(*shape) + 1j * rand(*shape)


# (function, input length m, its NumPy twin, whether a complex input is allowed)
ONE_D = [
    (fft.fft, np.fft.fft, True),
    (fft.ifft, np.fft.ifft, True),
    (fft.rfft, np.fft.rfft, False),
    (fft.irfft, np.fft.irfft, True),
    (fft.hfft, np.fft.hfft, True),
    (fft.ihfft, np.fft.ihfft, False),
]


@pytest.mark.parametrize("f,twin,complex_ok", ONE_D, ids=lambda v: getattr(v, "__name__", ""))
@pytest.mark.parametrize("n", [None, 3, 8], ids=str)  # the input has 5 points: default, cut, padded
@pytest.mark.parametrize("norm", NORMS, ids=str)
def test_one_dimensional(f, twin, complex_ok, n, norm):
    x = rand(2, 5)
    assert np.allclose(f(x, n, norm=norm), twin(x, n, norm=norm))
    check(lambda x: f(x, n, axis=-1, norm=norm), x)
    if complex_ok:
        z = crand(5, 2)
        assert np.allclose(f(z, n, axis=0, norm=norm), twin(z, n, axis=0, norm=norm))
        check(lambda z: f(z, n, axis=0, norm=norm), z)


@pytest.mark.parametrize("n", [4, 5, 6])
def test_irfft_even_and_odd_lengths(n):
    # the Nyquist entry (even n) and the imaginary parts irfft ignores at 0 and Nyquist
    check(lambda z: fft.irfft(z, n), crand(3))
    check(lambda z: fft.irfft(z, n), crand(4))


N_D = [
    (fft.fftn, np.fft.fftn, {}),
    (fft.fftn, np.fft.fftn, {"axes": (0, 2)}),
    (fft.ifftn, np.fft.ifftn, {"s": (3, 3), "axes": (2, 0)}),
    (fft.fft2, np.fft.fft2, {"s": (2, 5)}),
    (fft.ifft2, np.fft.ifft2, {"axes": (0, 1)}),
    (fft.rfftn, np.fft.rfftn, {"axes": (2, 0)}),
    (fft.rfftn, np.fft.rfftn, {"s": (4, 3), "axes": (0, 1)}),
    (fft.rfft2, np.fft.rfft2, {}),
    (fft.irfftn, np.fft.irfftn, {"axes": (2, 0)}),
    (fft.irfftn, np.fft.irfftn, {"s": (2, 5), "axes": (1, 2)}),
    (fft.irfft2, np.fft.irfft2, {"s": (3, 4)}),
]


@pytest.mark.parametrize("f,twin,kwargs", N_D, ids=[f"{f.__name__}-{kw}" for f, _, kw in N_D])
@pytest.mark.parametrize("norm", NORMS, ids=str)
def test_n_dimensional(f, twin, kwargs, norm):
    x = rand(2, 3, 4) if f in (fft.rfftn, fft.rfft2) else crand(2, 3, 4)
    assert np.allclose(f(x, norm=norm, **kwargs), twin(x, norm=norm, **kwargs))
    check(lambda x: f(x, norm=norm, **kwargs), x, order=2 if norm is None else 1)
    if f not in (fft.rfftn, fft.rfft2):
        check(lambda x: f(x, norm=norm, **kwargs), rand(2, 3, 4), order=2)  # real input to a complex transform


def test_shifts():
    x = rand(3, 4)
    assert np.array_equal(fft.fftshift(x), np.fft.fftshift(x))
    assert np.array_equal(fft.ifftshift(x, axes=1), np.fft.ifftshift(x, axes=1))
    check(fft.fftshift, x)
    check(lambda x: fft.ifftshift(x, axes=(0,)), crand(3, 5))
    check(lambda x: fft.ifftshift(fft.fftshift(x, axes=1), axes=1) - x, rand(5, 2))


def test_frequencies_are_numpys_constants():
    assert np.array_equal(fft.fftfreq(5, 0.1), np.fft.fftfreq(5, 0.1))
    assert np.array_equal(fft.rfftfreq(6), np.fft.rfftfreq(6))


def test_plain_numpy_fft_dispatches():
    def spectrum(x):
        y = np.fft.rfft(x)
        z = np.fft.fft2(np.fft.ifftshift(x.reshape(2, 3)))
        return np.fft.irfft(y * 2.0, 6), np.fft.fftshift(z), np.fft.ifft(np.fft.fft(x)), np.fft.hfft(y)

    check(spectrum, rand(6))
    check(lambda z: np.fft.irfftn(np.fft.fftn(z), s=(2, 3), axes=(0, 1)), crand(2, 3))


# ----- transposes against explicit matrices built from NumPy alone -----------------------------


def _columns(f, n, complex_input):
    """f as a matrix on R^n (or the real and imaginary directions of C^n)."""
    eye = np.eye(n)
    real = np.stack([f(e) for e in eye], axis=-1)
    return (real, np.stack([f(1j * e) for e in eye], axis=-1)) if complex_input else (real, None)


@pytest.mark.parametrize(
    "name,n_in,n,complex_input",
    [("fft", 5, 7, True), ("rfft", 6, 4, False), ("irfft", 4, 7, True), ("hfft", 4, 6, True), ("ihfft", 5, 5, False)],
)
def test_transposes_match_explicit_matrices(name, n_in, n, complex_input):
    """lagrad's vjp of y = J_re u + J_im v (x = u + iv) is Re(J_reᵀ g) - i Re(J_imᵀ g): the pairing Re Σ g y."""
    twin = getattr(np.fft, name)
    j_re, j_im = _columns(lambda x: twin(x, n), n_in, complex_input)
    x = crand(n_in) if complex_input else rand(n_in)
    out = twin(x, n)
    g = crand(*out.shape) if np.iscomplexobj(out) else rand(*out.shape)
    _, vjp = lagrad.vjp(lambda x: getattr(fft, name)(x, n), x)
    expected = np.real(j_re.T @ g) if j_im is None else np.real(j_re.T @ g) - 1j * np.real(j_im.T @ g)
    assert np.allclose(vjp(g), expected)


def test_fft_transpose_is_fft_itself():
    x, g = crand(4), crand(4)
    _, vjp = lagrad.vjp(fft.fft, x)
    assert np.allclose(vjp(g), np.fft.fft(g))  # the DFT matrix is symmetric; no conjugation


# ----- errors ------------------------------------------------------------------------------------


def test_clear_errors():
    with pytest.raises(TypeError, match="rfft: the input must be real"):
        lagrad.grad(lambda z: lnp.sum(lnp.abs(fft.rfft(z))))(crand(4))
    with pytest.raises(ValueError, match="repeated axes"):
        fft.fftn(rand(3, 3), axes=(0, 0))
    with pytest.raises(ValueError, match="norm must be one of"):
        fft.fft(rand(3), norm="both")
    with pytest.raises(ValueError, match="invalid number of data points"):
        fft.fft(rand(3), 0)
    with pytest.raises(TypeError, match="out= is not supported"):
        fft.fft(rand(3), out=np.empty(3, complex))
