"""Where features meet: each test here is a combination of transforms, wrappers, loops,
implicit equations, dtypes and shapes that once gave a wrong number (or a confusing error),
checked against central finite differences in float64 or a closed form."""

from __future__ import annotations

import numpy as np
import pytest

import lagrad
import lagrad.numpy as lnp


def central_gradient(f, x, eps=1e-6):
    """∂f/∂x by central differences in float64; for a complex x, ``∂/∂Re − i ∂/∂Im`` (lagrad's
    convention for a real function of a complex argument)."""
    x = np.asarray(x)
    g = np.zeros(x.shape, dtype=x.dtype)
    for i in np.ndindex(x.shape):
        e = np.zeros(x.shape)
        e[i] = eps
        g[i] = (float(f(x + e)) - float(f(x - e))) / (2 * eps)
        if np.iscomplexobj(x):
            g[i] -= 1j * (float(f(x + 1j * e)) - float(f(x - 1j * e))) / (2 * eps)
    return g


# ----- complex inputs, real outputs: forward mode sees both directions of each input ---------


Z = np.array([0.5 + 0.2j, 0.3 - 0.4j])


def real_of_complex(z):
    return lnp.sum(lnp.real(z) ** 2 * lnp.imag(z) + 3 * lnp.imag(z) + lnp.abs(z[::-1]) * lnp.real(z))


@pytest.mark.parametrize("mode", ["rev", "fwd", "auto"])
def test_jacobian_of_a_real_function_of_complex_inputs_in_every_mode(mode):
    # forward mode seeded only the real direction, dropping −i ∂/∂Im: off by 3 in the
    # imaginary part here (the `3 * imag(z)` term)
    want = central_gradient(real_of_complex, Z)
    assert np.allclose(lagrad.jacobian(real_of_complex, mode=mode)(Z), want, atol=1e-8)


def test_forward_jacobian_of_several_real_outputs_of_a_complex_input():
    # three outputs, one input: mode="auto" chooses forward mode, which returned [1, 1, 0]
    def f(z):
        return lnp.stack([lnp.abs(z[0]) ** 2, lnp.real(z[0]), lnp.imag(z[0])])

    z = Z[:1]
    want = np.stack([central_gradient(lambda w, k=k: f(w)[k], z) for k in range(3)])
    for mode in ("fwd", "auto", "rev"):
        assert np.allclose(lagrad.jacobian(f, mode=mode)(z), want, atol=1e-8)


def test_forward_jacobian_of_a_holomorphic_function_is_its_derivative():
    # complex outputs keep the holomorphic convention: J = f'(z), in both modes
    want = np.diag(3 * Z**2)
    for mode in ("fwd", "rev"):
        assert np.allclose(lagrad.jacobian(lambda z: z**3, mode=mode)(Z), want, atol=1e-12)


def test_hessian_of_a_real_function_of_complex_inputs_is_refused():
    # it returned ∂(∂/∂Re − i ∂/∂Im)/∂Re as if holomorphic, not symmetric in the way the
    # real Hessian is: forward-over-reverse and reverse-over-reverse disagreed by 0.36
    with pytest.raises(TypeError, match=r"lagrad\.hessian: a real function of complex arguments"):
        lagrad.hessian(real_of_complex)(Z)
    # the suggested form: the real Hessian in the real and imaginary parts
    h = lagrad.hessian(lambda x, y: real_of_complex(x + 1j * y), argnums=(0, 1))(Z.real, Z.imag)
    g = lagrad.grad(lambda x, y: real_of_complex(x + 1j * y), argnums=(0, 1))
    for a in range(2):
        for b in range(2):
            want = np.zeros((2, 2))
            for i in range(2):
                e = np.zeros(2)
                e[i] = 1e-5
                lo, hi = [Z.real, Z.imag], [Z.real, Z.imag]
                hi = [p + e if k == b else p for k, p in enumerate(hi)]
                lo = [p - e if k == b else p for k, p in enumerate(lo)]
                want[:, i] = (g(*hi)[a] - g(*lo)[a]) / 2e-5
            assert np.allclose(h[a][b], want, atol=1e-7)


def test_hessian_of_a_holomorphic_function_is_its_second_derivative():
    assert np.allclose(lagrad.hessian(lambda z: lnp.sum(z**3))(Z), np.diag(6 * Z), atol=1e-12)
