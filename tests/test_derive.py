"""lagrad.derive: the derivative as source that runs with NumPy alone and gives lagrad's numbers."""

from __future__ import annotations

import numpy as np
import pytest

import lagrad
import lagrad.numpy as lnp

rng = np.random.default_rng(1)
X = rng.standard_normal((6, 4))
Y = np.eye(3)[rng.integers(0, 3, 6)]


def loss(w1, w2):
    a1 = 1 / (1 + lnp.exp(-(X @ w1)))
    z = a1 @ w2
    e = lnp.exp(z - lnp.max(z, axis=1, keepdims=True))
    return -lnp.mean(lnp.sum(Y * lnp.log(e / lnp.sum(e, axis=1, keepdims=True)), axis=1))


def _run_with_numpy_alone(text: lagrad.Derivation, *args):
    """Run the text in a namespace holding only its constants (NumPy is imported by the text)."""
    scope = dict(text.constants)
    exec(compile(str(text), "<derived>", "exec"), scope)
    assert not any(name.startswith("lagrad") for name in scope)
    return scope[text.name](*args)


def test_the_seed_network_runs_with_numpy_alone_and_gives_the_same_numbers():
    w1, w2 = rng.standard_normal((4, 5)), rng.standard_normal((5, 3))
    text = lagrad.derive(loss, w1, w2)
    assert text.numpy_only and "import lagrad" not in text
    value, grads = _run_with_numpy_alone(text, w1, w2)
    expected_value, expected = lagrad.value_and_grad(loss, (0, 1))(w1, w2)
    assert value == expected_value
    for g, e in zip(grads, expected):
        assert np.array_equal(g, e)  # the same operations in the same order: bit for bit
    # and against finite differences, independently of lagrad's gradient
    e = np.zeros_like(w1)
    e[1, 2] = 1e-6
    assert np.isclose(grads[0][1, 2], (loss(w1 + e, w2) - loss(w1 - e, w2)) / 2e-6, rtol=1e-6)


def test_the_text_reads_as_the_seed_writes_it():
    w1, w2 = rng.standard_normal((4, 5)), rng.standard_normal((5, 3))
    text = lagrad.derive(loss, w1, w2)
    lines = [line.strip() for line in text.splitlines()]
    assert "def loss_grad(z1, z2):" in lines
    assert "# z1 = w1  (4, 5) float64" in lines
    forward = [line for line in lines if line.startswith("z")]
    assert forward[0].startswith("z3 = const_0 @ z1  # test_derive.py:")
    assert forward[0].endswith("a1 = 1 / (1 + lnp.exp(-(X @ w1)))")  # the user's line as a comment
    backward = [line for line in lines if line.startswith("lam_")]
    program = lagrad.trace(loss, w1, w2)
    blocks = sum(len(eq.diff) for eq in program.equations)
    assert len(backward) == blocks + 1  # the seed, then one line per block product
    assert backward[0].startswith(f"lam_{program.n_vars} = ")
    assert lines.index("# back-substitution: λ_i = Σ_k (∂f_k/∂z_i)ᵀ λ_k, from the output up") > lines.index(forward[-1])


@pytest.mark.parametrize(
    "f, x",
    [
        (lambda x: lnp.sum(lnp.tanh(x[1:] * x[:-1]) ** 2), rng.standard_normal(5)),
        (lambda x: lnp.sum(lnp.cumsum(x.reshape(2, 3).T, axis=0) ** 2), rng.standard_normal(6)),
        (lambda x: lnp.sum(lnp.where(x > 0, x, 0.1 * x) ** 3), rng.standard_normal(5)),
        (lambda x: lnp.linalg.norm(x @ x.T), rng.standard_normal((3, 2))),
    ],
)
def test_derived_text_runs_and_matches(f, x):
    text = lagrad.derive(f, x)
    value, (g,) = text.function()(x)
    expected_value, expected = lagrad.value_and_grad(f)(x)
    assert value == expected_value
    assert np.allclose(g, expected, rtol=1e-12, atol=1e-14)
    if text.numpy_only:
        _run_with_numpy_alone(text, x)


def test_a_primitive_without_a_numpy_spelling_is_named():
    @lagrad.primitive
    def cube(x):
        return x**3

    lagrad.defvjp(cube, lambda g, ans, x: 3 * g * x**2)
    text = lagrad.derive(lambda x: lnp.sum(cube(x)), np.arange(3.0))
    assert not text.numpy_only and "lagrad_cube(z1)" in text
    _, (g,) = text.function()(np.arange(3.0))
    assert np.array_equal(g, 3 * np.arange(3.0) ** 2)


def test_derive_needs_a_scalar_function():
    with pytest.raises(TypeError, match=r"lagrad\.derive: the function returns an array of shape"):
        lagrad.derive(lambda x: x * 2, np.ones(3))


def test_arguments_left_out_of_argnums_are_values_without_a_derivative():
    w1, w2 = rng.standard_normal((4, 5)), rng.standard_normal((5, 3))

    def f(w1, w2, scale):
        return loss(w1 * scale, w2)

    scale = np.full((4, 5), 0.5)
    text = lagrad.derive(f, w1, w2, scale, argnums=(0, 1))
    assert text.numpy_only
    value, grads = _run_with_numpy_alone(text, w1, w2)
    expected_value, expected = lagrad.value_and_grad(f, (0, 1))(w1, w2, scale)
    assert value == expected_value and all(np.array_equal(g, e) for g, e in zip(grads, expected))


def test_loops_and_implicit_equations_are_refused_not_written_wrong():
    """Their multipliers are a loop or a linear solve, not one block product: derive refuses
    them by name instead of writing a back-substitution that skips the diagonal block."""
    w = 0.01 * np.arange(9.0).reshape(3, 3)

    def deq(w):
        return lnp.sum(lagrad.fixed_point(lambda z, w: lnp.tanh(w @ z + 1.0), np.zeros(3), w) ** 2)

    def looped(x):
        return lnp.sum(lagrad.fori_loop(0, 3, lambda i, u: u + 0.1 * lnp.sin(u), x) ** 2)

    with pytest.raises(NotImplementedError, match=r"lagrad\.derive: z2 = implicit"):
        lagrad.derive(deq, w)
    with pytest.raises(NotImplementedError, match=r"lagrad\.derive: .* = loop"):
        lagrad.derive(looped, np.ones(3))


def test_a_subexpression_used_twice_is_written_once():
    """Named at its first use (``t<n> = …``): within one block product (sinc's rule reads
    (πx)² four times), across block products (arctan2's two share their denominator), and a
    forward equation's expression computed again by a rule is read from its variable."""
    x, y = rng.standard_normal(4), rng.standard_normal(4) + 2.0
    cases = [
        (lambda x, y: lnp.sum(lnp.arctan2(x, y)), "(z1 ** 2) + (z2 ** 2)"),
        (lambda x, y: lnp.sum(lnp.sinc(x) * y), "(3.141592653589793 * z1) ** 2"),
        (lambda x, y: lnp.sum(lnp.tanh(x) ** 2 * y), "z3 ** 2"),
    ]
    for f, shared in cases:
        text = lagrad.derive(f, x, y)
        code = "\n".join(line.partition("  #")[0] for line in text.splitlines())  # not the user's lines
        assert code.count(shared) == 1, text
        value, grads = _run_with_numpy_alone(text, x, y)
        expected_value, expected = lagrad.value_and_grad(f, (0, 1))(x, y)
        assert value == expected_value and all(np.array_equal(g, e) for g, e in zip(grads, expected))
    text = lagrad.derive(cases[0][0], x, y)
    (name,) = [line.split(" = ")[0].strip() for line in text.splitlines() if line.strip().startswith("t")]
    assert sum(1 for line in text.splitlines() if line.strip().startswith("lam_") and f"/ {name}" in line) == 2


def test_a_zero_multiplier_against_an_undefined_partial_gives_zero_as_lagrad_does():
    """The branch np.where leaves out is NaN (x ** 1.5, sqrt of x < 0): its multiplier is zero
    there, and 0 × NaN is zero in lagrad's gradient (zero means zero); the text writes that mask."""
    x = np.array([0.5, -1.0, 2.0, -0.3, 1.2])
    positive, a = x > 0, np.abs(x)
    cases = [  # and the closed forms: x³ → 3x², x² → 2x; √x → 1/(2√x), 0 → 0
        (lambda x: lnp.sum(lnp.where(x > 0, x**1.5, -x) ** 2), np.where(positive, 3 * a**2, 2 * x)),
        (lambda x: lnp.sum(lnp.where(x > 0, lnp.sqrt(x), 0.0)), np.where(positive, 0.5 / np.sqrt(a), 0.0)),
    ]
    for f, closed in cases:
        with np.errstate(invalid="ignore"):  # the branch left out computes NaN, as NumPy would
            text = lagrad.derive(f, x)
            assert text.numpy_only
            value, (g,) = _run_with_numpy_alone(text, x)
            expected_value, expected = lagrad.value_and_grad(f)(x)
        assert np.allclose(g, closed, rtol=1e-13, atol=0), text
        assert value == expected_value and np.array_equal(g, expected)
    text = lagrad.derive(lambda x: lnp.sum(lnp.tanh(x) * x), x)
    assert "isnan" not in text  # no mask where no NaN shows


def test_the_gradient_has_the_arguments_dtype_as_lagrads_has():
    """A float32 argument meeting float64 constants has float64 multipliers; lagrad's gradient
    is float32 (the input's dtype), and so is the text's."""
    x = np.array([0.5, -1.25, 2.0, 0.75], dtype=np.float32)
    for f in (
        lambda x: lnp.sum(lnp.sin(x) * np.float64(0.1)),
        lambda x: lnp.sum(x * np.arange(4)),
        lambda x: lnp.sum(lnp.abs(x) ** np.float64(1.5)),
    ):
        text = lagrad.derive(f, x)
        value, (g,) = _run_with_numpy_alone(text, x)
        expected_value, expected = lagrad.value_and_grad(f)(x)
        assert g.dtype == np.float32 and np.array_equal(g, expected) and value == expected_value
    closed = (np.cos(x.astype(np.float64)) * 0.1).astype(np.float32)  # d/dx 0.1 sin(x), rounded once
    g = _run_with_numpy_alone(lagrad.derive(lambda x: lnp.sum(lnp.sin(x) * np.float64(0.1)), x), x)[1][0]
    assert np.allclose(g, closed, rtol=1e-6, atol=0)
