"""Forward substitution: a full Jacobian's sweep holds tangents as products not yet multiplied
out (`forward._Product`); checked against the sweep of arrays (a chunked identity, one row a
chunk, never takes products), reverse mode and central finite differences, wherever the two
sweeps could part: aliasing, broadcasting, dtypes, complex values, empty arrays, zero and
infinite partials."""

from __future__ import annotations

import numpy as np
import pytest

import lagrad
import lagrad.numpy as lnp
from lagrad.adjoint import forward

rng = np.random.default_rng(8)
A = rng.standard_normal((4, 4)) / 2
B = rng.standard_normal((4, 6)) / 2  # x @ B: a right factor of 4 rows, no more than the batch of 4
C = rng.standard_normal((6, 3)) / 2  # then @ C: 6 rows, more than the batch: multiplied out first
X = rng.uniform(-1, 1, 4)


@pytest.fixture
def products(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """For each block the sweep looked at as a product, whether it stayed one."""
    taken: list[bool] = []
    block = forward._product_block

    def counted(*args: object) -> object:
        out = block(*args)
        taken.append(out is not None)
        return out

    monkeypatch.setattr(forward, "_product_block", counted)
    return taken


def _finite_differences(f, x, h=1e-6):
    """The Jacobian by central differences, column by column (NumPy only)."""
    cols = []
    for j in range(x.size):
        e = np.zeros_like(x)
        e[j] = h
        cols.append((np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * h))
    return np.stack(cols, axis=-1)


def _jacobians(f, x):
    """Forward mode as products, forward mode as arrays, reverse mode."""
    return (
        lagrad.jacobian(f, mode="fwd")(x),
        lagrad.jacobian(f, mode="fwd", max_bytes=1)(x),
        lagrad.jacobian(f, mode="rev")(x),
    )


CASES = {
    "steps of tanh(A y) + sin(y)": lambda x: _steps(x, 3),
    "vector times matrices": lambda x: np.tanh(x @ B) @ C,
    "identity blocks": lambda x: (A @ x) + x - 0.5 * x,
    "a product read twice": lambda x: np.tanh(A @ x) * (A @ x) + np.tanh(A @ x),
    "the same product on both sides": lambda x: (A @ x) + (A @ x) * (A @ x),
    "a traced scalar broadcast": lambda x: np.sin(A @ x) * lnp.sum(x),
    "a one-element vector broadcast": lambda x: np.exp(A @ x) * x[:1],
    "a tangent zero in some entries": lambda x: np.tanh(A @ (x * np.array([1.0, 0.0, 1.0, 0.0]))),
    "divide and power": lambda x: (A @ x) / (2 + x**2) - np.cos(A @ x) ** 3,
    "a variable twice in one call": lambda x: lnp.concatenate([np.sin(A @ x), np.sin(A @ x)]),
}


def _steps(y, steps):
    for _ in range(steps):
        y = np.tanh(A @ y) + np.sin(y)
    return y


@pytest.mark.parametrize("name", CASES)
def test_products_agree_with_arrays_reverse_mode_and_finite_differences(name, products):
    f = CASES[name]
    fwd, arrays, rev = _jacobians(f, X)
    assert any(products), "the case should exercise the sweep of products"
    assert fwd.shape == arrays.shape == rev.shape
    assert np.allclose(fwd, arrays, rtol=1e-12, atol=1e-14)
    assert np.allclose(fwd, rev, rtol=1e-12, atol=1e-14)
    # central differences at h = 1e-6 of functions with derivatives of order 1: error ~1e-10
    assert np.allclose(fwd, _finite_differences(f, X), rtol=1e-6, atol=1e-8)


def test_arguments_without_a_tangent(products):
    # seeded one argument at a time, the other has none: multiply meets a position without one
    f = lambda x, w: np.tanh(A @ x) * w + np.sin(x) * w + np.sin(w)
    w = rng.uniform(-1, 1, 4)
    fwd = lagrad.jacobian(f, argnums=(0, 1), mode="fwd")(X, w)
    assert any(products)
    arrays = lagrad.jacobian(f, argnums=(0, 1), mode="fwd", max_bytes=1)(X, w)
    rev = lagrad.jacobian(f, argnums=(0, 1), mode="rev")(X, w)
    fd = (_finite_differences(lambda x: f(x, w), X), _finite_differences(lambda v: f(X, v), w))
    for j in range(2):
        assert np.allclose(fwd[j], arrays[j], rtol=1e-12, atol=1e-14)
        assert np.allclose(fwd[j], rev[j], rtol=1e-12, atol=1e-14)
        assert np.allclose(fwd[j], fd[j], rtol=1e-6, atol=1e-8)


def test_a_matrix_factor_is_never_the_users_array():
    J = lagrad.jacobian(lambda x: A @ x, mode="fwd")(X)
    assert np.array_equal(J, A)
    assert not np.shares_memory(J, A)
    J = lagrad.jacobian(lambda x: x @ B, mode="fwd")(X)
    assert np.array_equal(J, B.T)
    assert not np.shares_memory(J, B)


def test_an_output_that_is_the_input_or_is_read_again():
    eye = lagrad.jacobian(lambda x: x, mode="fwd")(X)
    assert np.array_equal(eye, np.eye(4))
    y, z = lagrad.jacobian(lambda x: (A @ x, np.tanh(A @ x) + (A @ x)), mode="fwd")(X)
    assert np.allclose(y, A, rtol=1e-15, atol=0)
    assert np.allclose(z, (1 - np.tanh(A @ X) ** 2)[:, None] * A + A, rtol=1e-12, atol=1e-15)  # closed form


def test_a_product_written_into_is_never_one_another_variable_reads(products):
    # u's factor is made by the sweep and read by two equations: adding the diagonal of the
    # second sum must not change the first
    def f(x):
        u = np.tanh(A @ x)
        return (u + x) * (u + np.sin(x))

    fwd, arrays, rev = _jacobians(f, X)
    assert any(products)
    assert np.allclose(fwd, arrays, rtol=1e-12, atol=1e-14)
    assert np.allclose(fwd, rev, rtol=1e-12, atol=1e-14)


def test_float32_stays_float32_and_mixed_dtypes_take_the_arrays(products):
    x32, A32 = X.astype(np.float32), A.astype(np.float32)
    J32 = lagrad.jacobian(lambda x: np.tanh(A32 @ x) + np.sin(x), mode="fwd")(x32)
    assert J32.dtype == np.float32 and any(products)
    J64 = lagrad.jacobian(lambda x: np.tanh(A @ x) + np.sin(x), mode="fwd")(X)
    # float32's eps is 1.2e-7; a handful of roundings on entries of order 1
    assert np.allclose(J32, J64, rtol=1e-5, atol=1e-6)
    products.clear()
    # a float32 product under a float64 result: the identity is float64, the matmul float32
    f = lambda x: np.tanh(A32 @ x) * A[0]
    mixed = lagrad.jacobian(f, mode="fwd")(x32)
    assert mixed.dtype == np.float64 and not any(products)
    assert np.array_equal(mixed, lagrad.jacobian(f, mode="fwd", max_bytes=1)(x32))
    assert np.allclose(mixed, lagrad.jacobian(f, mode="rev")(x32), rtol=1e-6, atol=1e-7)


def test_complex_values_take_the_arrays(products):
    z = X + 1j * X[::-1]
    f = lambda x: np.tanh(A @ x) + x * x
    fwd = lagrad.jacobian(f, mode="fwd")(z)
    assert not products
    d = 1 - np.tanh(A @ z) ** 2  # holomorphic: the complex derivative, closed form
    assert np.allclose(fwd, d[:, None] * A + np.diag(2 * z), rtol=1e-12, atol=1e-14)


def test_empty_arrays():
    J = lagrad.jacobian(lambda x: np.tanh(x) + x, mode="fwd")(np.zeros(0))
    assert J.shape == (0, 0)
    J = lagrad.jacobian(lambda x: np.zeros((3, 0)) @ x + 1.0, mode="fwd")(np.zeros(0))
    assert J.shape == (3, 0)


@pytest.mark.parametrize(
    "f",
    [
        lambda x: np.sqrt(x) * x,  # an infinite partial meets a zero one
        lambda x: A @ np.sqrt(x),
        lambda x: np.where(x > 0, np.sqrt(np.abs(x)), 0.0) + x,
    ],
)
def test_infinite_partials_give_what_the_arrays_give(f, products):
    x = np.array([0.0, 0.25, 1.0, 4.0])
    with np.errstate(divide="ignore", invalid="ignore"):
        fwd, arrays, rev = _jacobians(f, x)
    assert np.allclose(fwd, arrays, rtol=1e-12, atol=0, equal_nan=True)
    finite = np.isfinite(rev)
    assert np.allclose(fwd[finite], rev[finite], rtol=1e-12, atol=1e-14)


def test_random_chains_agree_with_arrays():
    """Seeded random programs of elementwise steps and matrix products on one or two vectors."""
    gen = np.random.default_rng(88)
    unary = [np.tanh, np.sin, lambda v: np.exp(-(v**2)), lambda v: 3.0 * v, lambda v: -v]
    for trial in range(12):
        n = int(gen.integers(1, 6))
        mats = [gen.standard_normal((n, n)) / n for _ in range(3)]
        plan = gen.integers(0, 4, size=8)
        picks = gen.integers(0, len(unary), size=8)

        def f(x, plan=plan, picks=picks, mats=mats):
            y, z = x, np.cos(x)
            for step, pick in zip(plan, picks):
                if step == 0:
                    y = mats[pick % 3] @ y
                elif step == 1:
                    y = unary[pick](y)
                elif step == 2:
                    y, z = y + z, y
                else:
                    y, z = y * z, z - y
            return y

        x = gen.uniform(-1, 1, n)
        fwd, arrays, rev = _jacobians(f, x)
        assert np.allclose(fwd, arrays, rtol=1e-11, atol=1e-13), trial
        assert np.allclose(fwd, rev, rtol=1e-11, atol=1e-13), trial


def test_the_hessian_of_the_step_map(products):
    f = lambda x: lnp.sum(_steps(x, 2) ** 2)
    H = lagrad.hessian(f)(X)
    assert any(products)
    g = lagrad.grad(f)
    assert np.allclose(H, H.T, rtol=1e-12, atol=1e-13)
    assert np.allclose(H, lagrad.jacobian(g, mode="rev")(X), rtol=1e-12, atol=1e-13)
    assert np.allclose(H, _finite_differences(g, X), rtol=1e-6, atol=1e-8)


def test_only_a_whole_identity_is_taken_as_products(products):
    program = lagrad.trace(lambda x: np.tanh(A @ x), X)
    tape = program.replay(X)
    out = program.outputs[0]
    seeds = {0: np.eye(4)[:2]}  # rows of the identity: not square, so arrays
    t = forward.forward_substitution(program, tape, seeds, outputs=[out], batched=True, identity=True)
    assert not products
    assert np.allclose(t[out], ((1 - np.tanh(A @ X) ** 2)[:, None] * A[:, :2]).T, rtol=1e-12, atol=1e-15)
    t = forward.forward_substitution(program, tape, {0: np.eye(4)}, batched=True, identity=True)  # no outputs
    assert not products and all(type(v) is not forward._Product for v in t)
