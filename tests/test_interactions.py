"""Where features meet: each test here is a combination of transforms, wrappers, loops,
implicit equations, dtypes and shapes that once gave a wrong number (or a confusing error),
checked against central finite differences in float64 or a closed form."""

from __future__ import annotations

import numpy as np
import pytest

import lagrad
import lagrad.numpy as lnp
from lagrad.testing import check_grads


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


# ----- solvers that read plain numbers, on traced values (higher order, compile) --------------


def smooth(x):
    return lnp.sum(lnp.sin(x) * x**2) + x[0] * x[-1] ** 3


def vector_valued(x):
    return lnp.sin(x) * lnp.sum(x**2) + lnp.roll(x, 1) ** 2


X = np.array([0.3, 0.5, 0.7, 0.9])
V = np.array([1.0, -2.0, 0.5, 0.25])


def central_hvp(f, x, v, eps=1e-5):
    g = lagrad.grad(f)
    return (g(x + eps * v) - g(x - eps * v)) / (2 * eps)


@pytest.mark.parametrize("method", ["back_substitution", "forward_substitution", "sparse", "levels"])
def test_a_second_derivative_through_every_grad_method(method):
    # forward_substitution and sparse read the values as plain numbers: the gradient came back
    # as a constant, so every second derivative through it was 0 (off by 5.2 here)
    want = central_hvp(smooth, X, V)

    def directional(x):
        return lnp.sum(lagrad.grad(smooth, method=method)(x) * V)

    assert np.allclose(lagrad.grad(directional)(X), want, atol=1e-8)
    assert np.allclose(lagrad.jvp(lagrad.grad(smooth, method=method), (X,), (V,))[1], want, atol=1e-8)


@pytest.mark.parametrize("method", ["forward_substitution", "sparse", "levels"])
def test_a_compiled_grad_with_any_method_follows_its_inputs(method):
    # compile recorded the first call's gradient as a constant: every later call answered it
    # (off by 0.78 on the second call)
    compiled = lagrad.compile(lagrad.grad(smooth, method=method), interpret=1)
    for k in range(4):  # the trace, the interpreter, then the generated code
        x = X + 0.1 * k
        assert np.allclose(compiled(x), central_gradient(smooth, x), atol=1e-8)


@pytest.mark.parametrize("method", ["elimination", "auto"])
def test_structured_jacobians_on_traced_values(method):
    # elimination read plain numbers too: a compiled Jacobian repeated its first call's (off by
    # 0.86), and its derivative was 0 (off by 8.8)
    J = lagrad.jacobian(vector_valued)

    def weighted(x):
        return lnp.sum(lagrad.jacobian(vector_valued, method=method)(x) * J(X))

    eps = 1e-5
    want = np.array([(np.sum((J(X + eps * e) - J(X - eps * e)) * J(X)) / (2 * eps)) for e in np.eye(4)])
    assert np.allclose(lagrad.grad(weighted)(X), want, atol=1e-7)
    compiled = lagrad.compile(lagrad.jacobian(vector_valued, method=method), interpret=1)
    for k in range(4):
        x = X + 0.1 * k
        assert np.allclose(compiled(x), J(x), atol=1e-12)


def test_auto_leaves_sparse_out_on_traced_values():
    # on 200 inputs, each output reading two, auto chooses sparse; on traced values its
    # scipy.sparse result failed with a conversion error
    x = np.linspace(0.1, 0.9, 200)
    assert lagrad.plan(vector_valued_local, x).method == "sparse"
    compiled = lagrad.compile(lagrad.jacobian(vector_valued_local, method="auto"), interpret=0)
    for k in range(3):
        assert np.allclose(compiled(x + 0.01 * k), lagrad.jacobian(vector_valued_local)(x + 0.01 * k), atol=1e-12)


def vector_valued_local(x):
    return lnp.sin(x) * x + lnp.roll(x, 1)


@pytest.mark.parametrize("who", ["jacobian", "hessian"])
def test_sparse_derivatives_on_traced_values_say_why_not(who):
    transform = getattr(lagrad, who)(lambda x: lnp.sum(lnp.sin(x) * x) if who == "hessian" else lnp.sin(x), sparse=True)
    with pytest.raises(TypeError, match=rf"lagrad\.{who}\(sparse=True\) on traced values.*dense lagrad\.{who}"):
        lagrad.grad(lambda x: lnp.sum(transform(x).toarray()))(X)


# ----- shapes set by values: a boolean mask's selection, nonzero, argwhere ---------------------


def mean_of_masked(x):
    return lnp.mean(x[x > 0.5] ** 2)


def mean_of_nonzero(x):
    return lnp.mean(x[lnp.nonzero(x > 0.5)]) + lnp.mean(x[lnp.argwhere(x > 0.5)[:, 0]])


def per_selected(x):
    y = x[x > 0.5]
    return lnp.sum(y) / y.shape[0] + lnp.mean(x[lnp.flatnonzero(x < 0.5)])


FEW = np.array([0.9, 0.1, 0.2, 0.3, 0.15, 0.35])  # one entry above 0.5
MANY = np.array([0.9, 0.8, 0.7, 0.6, 0.99, 0.1])  # five


@pytest.mark.parametrize("f", [mean_of_masked, mean_of_nonzero, per_selected])
@pytest.mark.parametrize("interpret", [0, 10])
def test_compile_follows_a_selection_whose_size_changes(f, interpret):
    # the selection's size was baked into the compiled Program unguarded: a mean's gradient
    # came back 3× too large (1.8 for 0.6), sum / y.shape[0] 2.4 for 0.8, and the interpreter
    # tier failed with NumPy's broadcasting error
    compiled, gradient = lagrad.compile(f, interpret=interpret), lagrad.compile(lagrad.grad(f), interpret=interpret)
    for x in (FEW, MANY, FEW, MANY):
        assert np.isclose(compiled(x), f(x), atol=1e-12)
        assert np.allclose(gradient(x), central_gradient(f, x), atol=1e-8)


def test_a_program_replayed_where_a_mask_selects_another_number_refuses():
    program = lagrad.trace(mean_of_masked, FEW)
    assert np.isclose(program(FEW), mean_of_masked(FEW))
    with pytest.raises(lagrad.BranchError, match="goes 5, but the program was traced with 1"):
        program(MANY)


# ----- mixed second derivatives: the inner transform differentiates what the outer does not ----


def through_a_loop(x, y):
    c = lagrad.fori_loop(0, 3, lambda i, c: lnp.sin(c) * y + x, x)
    return lnp.sum(c**2)


@pytest.mark.parametrize("mode", ["rev", "fwd"])
def test_a_mixed_partial_as_a_jacobian_of_a_gradient(mode):
    # the outer Jacobian holds x as a value without a derivative, and the inner grad refused it:
    # "argument args[0] has dtype float64; only floats can be differentiated"
    x, y = X[:3], X[1:] + 0.2
    mixed = lagrad.jacobian(lagrad.grad(through_a_loop, 0), 1, mode=mode)
    g = lagrad.grad(through_a_loop, 0)
    eps = 1e-5
    want = np.stack([(g(x, y + eps * e) - g(x, y - eps * e)) / (2 * eps) for e in np.eye(3)], axis=1)
    assert np.allclose(mixed(x, y), want, atol=1e-7)
    assert np.allclose(lagrad.compile(mixed, interpret=0)(x, y), want, atol=1e-7)


# ----- compile's eager answer where NaN shows takes Python floats as its trace does -----------


@pytest.mark.parametrize("interpret", [0, 10])
def test_a_compiled_call_answered_eagerly_reads_python_floats_as_numpy_ones(interpret):
    # the eager run after NaN showed called the function on the Python floats themselves:
    # (-2.0) ** 0.5 came back as the complex 1.41j where the trace (and NumPy) give NaN, and
    # 1.0 % 0.0 raised ZeroDivisionError
    power = lagrad.compile(lambda x, y: x**y, interpret=interpret)
    modulo = lagrad.compile(lambda x, y: x % y + x, interpret=interpret)
    with np.errstate(invalid="ignore", divide="ignore"):
        first = lagrad.compile(lambda x, y: x**y)(-2.0, 0.5)  # a first call answers from the trace
        assert np.isnan(first) and not np.iscomplexobj(first)
        assert power(2.0, 0.5) == np.sqrt(2.0)
        for _ in range(3):
            got = power(-2.0, 0.5)
            assert np.isnan(got) and not np.iscomplexobj(got)
        assert modulo(1.0, 2.0) == 2.0
        assert np.isnan(modulo(1.0, 0.0))


def test_a_compiled_call_whose_math_function_refuses_a_value_is_answered_as_numpy_would():
    # math.sqrt(-2.0) raises where numpy.sqrt gives NaN; the eager answer then ran the function
    # on the Python floats themselves, and z ** 0.5 of -1.0 came back as the complex nan+1j
    f = lagrad.compile(lambda x, z: lnp.sqrt(x * 2.0) + z**0.5, interpret=0)
    for _ in range(3):
        assert f(2.0, 4.0) == 4.0
    with np.errstate(invalid="ignore"):
        got = f(-1.0, -1.0)
    assert np.isnan(got) and not np.iscomplexobj(got)


# ----- the grid: each feature under each transform and wrapper, against central differences ---
# (combinations probed clean, kept so that a change that breaks one is seen where it meets)


def _looped(x):
    def body(i, c):
        c = c.copy()
        c[i % 3] += lnp.sin(c[(i + 1) % 3]) * x[i % 3]  # an in-place write at a traced index
        return c

    return lnp.sum(lagrad.fori_loop(0, 4, body, x, checkpoint="binomial", snapshots=2) ** 2)


def _scanned(x):
    def step(c, a):
        return {"s": c["s"] * lnp.cos(a) + a, "t": (c["t"][0] + c["s"] ** 2,)}, c["s"] * a

    c, ys = lagrad.scan(step, {"s": x[0], "t": (x[1],)}, x)
    return c["s"] + c["t"][0] + lnp.sum(ys**2)


def _while(x):
    out = lagrad.while_loop(lambda c: c[1] < 3, lambda c: (lnp.tanh(c[0]) * x + 0.1, c[1] + 1), (x, 0))
    return lnp.sum(out[0] ** 2)


def _implicit(x):
    z = lagrad.fixed_point(lambda z, t: 0.5 * lnp.tanh(z + t), lnp.zeros(3), x)
    return lnp.sum(z**2 * x)


def _complex_inside(x):
    z = lnp.exp(1j * x) * (x + 2j)
    return lnp.sum(lnp.real(z * lnp.conj(z[::-1]))) + lnp.sum(lnp.abs(z) * x)


def _in_place(x):
    y = x.copy()
    v = y[::2]
    v *= x[1]
    y[1] = y[0] * y[2]
    return lnp.sum(lagrad.checkpoint(lambda a: a**3 * lnp.sin(a))(y))


GRID = [_looped, _scanned, _while, _implicit, _complex_inside, _in_place]
AT = np.array([0.35, 0.6, 0.8])
TANGENT = np.array([0.5, -1.0, 2.0])


def _paths(f):
    yield "grad", lambda x: lagrad.grad(f)(x)
    yield "value_and_grad", lambda x: lagrad.value_and_grad(f)(x)[1]
    yield "vjp", lambda x: lagrad.vjp(f, x)[1](1.0)[0]
    yield "jacobian fwd", lambda x: lagrad.jacobian(f, mode="fwd")(x)
    yield "jvp", lambda x: np.array([lagrad.jvp(f, (x,), (e,))[1] for e in np.eye(3)])
    for method in ("forward_substitution", "sparse", "levels"):
        yield method, lambda x, m=method: lagrad.grad(f, method=m)(x)
    yield "checkpoint", lambda x: lagrad.grad(lagrad.checkpoint(f))(x)
    yield "inside a fori_loop", lambda x: lagrad.grad(lambda x: lagrad.fori_loop(0, 1, lambda i, c: f(x), 0.0))(x)


@pytest.mark.parametrize("f", GRID, ids=lambda f: f.__name__[1:])
def test_first_derivatives_agree_with_central_differences_on_every_path(f):
    want = central_gradient(f, AT)
    for name, path in _paths(f):
        assert np.allclose(path(AT), want, atol=1e-7), name
    if f is not _implicit:  # implicit equations are refused by compile (by name)
        compiled = lagrad.compile(lagrad.grad(f), interpret=1)
        for k in range(3):  # trace, interpreter, generated code, at moving points
            x = AT + 0.05 * k
            assert np.allclose(compiled(x), central_gradient(f, x), atol=1e-7), f"compile, call {k}"


@pytest.mark.parametrize("f", GRID, ids=lambda f: f.__name__[1:])
def test_second_derivatives_agree_with_central_differences_of_the_gradient(f):
    g = lagrad.grad(f)
    eps = 1e-5
    want = np.stack([(g(AT + eps * e) - g(AT - eps * e)) / (2 * eps) for e in np.eye(3)], axis=1)
    assert np.allclose(lagrad.hessian(f)(AT), want, atol=1e-6)
    assert np.allclose(lagrad.hvp(f)(AT, TANGENT), want @ TANGENT, atol=1e-6)
    assert np.allclose(lagrad.jacobian(g)(AT), want, atol=1e-6)
    directional = lagrad.grad(lambda x: lnp.sum(lagrad.grad(f, method="forward_substitution")(x) * TANGENT))
    assert np.allclose(directional(AT), want @ TANGENT, atol=1e-6)


def test_hvp_names_itself_for_a_vector_of_the_wrong_shape():
    # the error came from the jvp inside it: "lagrad.jvp: tangent of args[0] has shape ()"
    with pytest.raises(ValueError, match=r"lagrad\.hvp: the vector has shape \(\) where args\[0\] has \(3,\)"):
        lagrad.hvp(_implicit)(AT, 1.0)
    assert np.allclose(lagrad.hvp(lambda x: lnp.sum(x**3))(AT, TANGENT), 6 * AT * TANGENT, atol=1e-12)


# ----- checkpoint takes what the function takes ------------------------------------------


def _activated(x, k=2, act="tanh", scale=None, dtype=None):
    y = x**k
    if act == "tanh":
        y = lnp.tanh(y)
    y = y if dtype is None else lnp.astype(y, dtype)
    return y * (1.0 if scale is None else scale)


CHECKPOINT_CALLS = {
    "keyword": lambda f, x: f(x, k=3),
    "string-option": lambda f, x: f(x, 3, "none"),
    "traced-keyword": lambda f, x: f(x, act="none", scale=x[0]),
    "dtype-class": lambda f, x: f(x, dtype=np.float64),  # a class with a `dtype` attribute, not a value
}


@pytest.mark.parametrize("call", CHECKPOINT_CALLS.values(), ids=CHECKPOINT_CALLS.keys())
def test_checkpoint_passes_keywords_and_options_through(call):
    # keywords raised Python's "got an unexpected keyword argument"; a string argument failed
    # as "data type 'none' not understood" (it was made an array of the carry)
    x = np.array([0.3, 0.5, -0.7])
    checkpointed = lagrad.checkpoint(_activated)
    assert np.array_equal(call(checkpointed, x), call(_activated, x))
    check_grads(lambda x: call(checkpointed, x), x, modes=["fwd", "rev"], order=2)
    for mode in ("rev", "fwd"):
        want = lagrad.jacobian(lambda x: call(_activated, x), mode=mode)(x)
        assert np.allclose(lagrad.jacobian(lambda x: call(checkpointed, x), mode=mode)(x), want, atol=1e-14)


# ----- compile: what a call returns belongs to the caller ----------------------------------

_LINEAR = np.array([[1.0, 2.0, 0.0], [0.0, 1.0, 3.0]])


@pytest.mark.parametrize("interpret", [0, 1, 10])
@pytest.mark.parametrize(
    "fun",
    [
        lagrad.jacobian(lambda x: _LINEAR @ x),
        lagrad.grad(lambda x: lnp.sum(x * 1.0)),
        lagrad.value_and_grad(lambda x: (lnp.sum(x**2), np.arange(3.0)), has_aux=True),
    ],
    ids=["jacobian-of-linear", "constant-gradient", "constant-aux"],
)
def test_compiled_constant_results_survive_the_caller_writing_into_them(fun, interpret):
    # the first call returned the Program's own constant: writing into it (12345.0 here) made
    # every later call return 12345.0 (the compiled tiers copy that constant, corrupted)
    compiled = lagrad.compile(fun, interpret=interpret)
    x = np.array([0.3, -0.2, 0.5])
    want = lagrad.tree_flatten(fun(x))[0]
    for _ in range(4):
        got = lagrad.tree_flatten(compiled(x))[0]
        for g, w in zip(got, want, strict=True):
            assert np.array_equal(g, w)
            if isinstance(g, np.ndarray):
                g[...] = 12345.0


# ----- forward mode where another input's derivative is NaN ------------------------------


def _one_plus_arctan2(x):
    return x[1] + lnp.arctan2(x[2], x[3])


def test_forward_mode_keeps_a_finite_derivative_beside_a_nan_one():
    # at x = (5, 0, 0, 0) the function is x1 + arctan2(0, 0) = 0: ∂/∂x0 = 0, ∂/∂x1 = 1, and
    # the last two are 0/0. The forward sweep's NaN rows were recomputed as J[row] @ t, where
    # NaN · 0 is NaN: every entry came back NaN in forward mode (reverse gave 0 and 1). (The
    # case was x1 + logsumexp(x2, x3) at x2 = x3 = -inf, whose slopes are now 1/2 each.)
    x = np.array([5.0, 0.0, 0.0, 0.0])
    want = np.array([0.0, 1.0, np.nan, np.nan])
    with np.errstate(invalid="ignore"):  # arctan2's rule: 0/0
        for mode in ("rev", "fwd"):
            assert np.array_equal(lagrad.jacobian(_one_plus_arctan2, mode=mode)(x), want, equal_nan=True)
        for i, w in enumerate(want):
            tangent = lagrad.jvp(_one_plus_arctan2, (x,), (np.eye(4)[i],))[1]
            assert np.array_equal(tangent, w, equal_nan=True)
    # an infinite derivative along a nonzero tangent still shows
    y = np.array([0.0, 1.0])
    with np.errstate(divide="ignore"):  # sqrt's rule divides by sqrt(0)
        tangent = lagrad.jvp(lambda y: lnp.sqrt(y) * (y + 1), (y,), (np.array([1.0, 0.0]),))[1]
    assert tangent[0] == np.inf and tangent[1] == 0.0


# ----- empty arrays and float16 in every way of building a Jacobian ----------------------

JACOBIAN_WAYS = {
    "rev": {"mode": "rev"},
    "fwd": {"mode": "fwd"},
    "auto": {"mode": "auto"},
    "elimination": {"method": "elimination"},
    "elimination-best": {"method": "elimination", "order": "best"},
    "method-auto": {"method": "auto"},
    "sparse": {"sparse": True},
}


@pytest.mark.parametrize("way", JACOBIAN_WAYS.values(), ids=JACOBIAN_WAYS.keys())
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_jacobian_of_an_empty_array(way, dtype):
    # elimination failed with IndexError (a batch of no rows); the sweeps gave float64 for float32
    def f(x):
        return lnp.sort(x) * 3 + lnp.cumsum(x)

    J = lagrad.jacobian(f, **way)(np.zeros(0, dtype))
    assert J.shape == (0, 0) and J.dtype == dtype


@pytest.mark.parametrize("mode", ["fwd", "rev"])
def test_a_sparse_jacobian_of_float16_comes_as_float32(mode):
    # scipy.sparse holds no float16: it failed with scipy's "does not support dtype float16"
    x = np.array([0.5, -1.0, 2.0], np.float16)
    J = lagrad.jacobian(lambda x: lnp.tanh(x) * x[::-1], sparse=True, mode=mode)(x)
    assert J.dtype == np.float32
    dense = lagrad.jacobian(lambda x: lnp.tanh(x) * x[::-1])(x)
    assert dense.dtype == np.float16
    assert np.allclose(J.toarray(), dense.astype(np.float32), rtol=2e-3)
    H = lagrad.hessian(lambda x: lnp.sum(lnp.tanh(x) ** 2), sparse=True)(x)
    assert H.dtype == np.float32


# ----- complex outputs of real inputs: reverse mode sweeps the output along 1 and i ------

COMPLEX_OF_REAL = {
    "cast": lambda x: lnp.astype(x, np.complex128) * (1 + 2j),
    "promoted-in-add": lambda x: (x + 1j * x[::-1]) ** 2,
    "fft": lambda x: lnp.fft.fft(x),
}


@pytest.mark.parametrize("f", COMPLEX_OF_REAL.values(), ids=COMPLEX_OF_REAL.keys())
@pytest.mark.parametrize("mode", ["rev", "fwd", "auto"])
def test_the_jacobian_of_a_complex_function_of_real_inputs(f, mode):
    # reverse mode kept the real part where a real value met a complex one (λ of a real
    # argument is Re(c ∂f/∂x)): off by 2 in the imaginary part for `cast`, 3.2 for the others
    x = np.array([0.3, -0.5, 0.8])
    eps = 1e-6
    want = np.stack([(f(x + eps * e) - f(x - eps * e)) / (2 * eps) for e in np.eye(3)], axis=-1)
    J = lagrad.jacobian(f, mode=mode)(x)
    assert J.dtype == np.complex128
    assert np.allclose(J, want, atol=1e-8)
    assert np.allclose(lagrad.jacobian(f, method="auto")(x), want, atol=1e-8)
    # and from float32 inputs
    assert np.allclose(lagrad.jacobian(f, mode=mode)(x.astype(np.float32)), want, atol=1e-5)


def test_a_jacobian_through_a_fixed_point_of_float32_has_one_dtype_in_every_mode():
    # the solve is float64 (README, "Implicit equations"): every mode gives NumPy's promotion of
    # the float64 solution with the float32 input, and grad keeps the input's float32
    def f(a):
        return lagrad.fixed_point(lambda z, a: 0.5 * lnp.cos(z) * a, lnp.zeros_like(a), a)

    a = np.array([0.3, 0.4], np.float32)
    assert f(a).dtype == np.float64
    want = lagrad.jacobian(f)(a.astype(np.float64))
    for way in ({"mode": "rev"}, {"mode": "fwd"}, {"mode": "auto"}, {"method": "auto"}):
        J = lagrad.jacobian(f, **way)(a)
        assert J.dtype == np.float64 and np.allclose(J, want, rtol=1e-6)
    assert lagrad.grad(lambda a: lnp.sum(f(a)))(a).dtype == np.float32


# ----- lagrad.numpy's ufuncs take out=, dtype= and where= as numpy's do on traced values ----


def _written_by_out(x):
    y = x.copy()
    lnp.multiply(x, x[::-1], out=y)  # y = x * x[::-1], in place
    v = y[1:]
    lnp.sin(x[:1], out=v)  # through a view, broadcast as NumPy does: y[1:] = sin(x[0])
    return y * x + lnp.add(x, 1, dtype=np.float64) + lnp.cos(x, out=None)


def test_lagrad_numpy_ufuncs_write_out_as_numpy_ufuncs_do():
    # lnp.multiply(x, y, out=o) failed with "keyword arguments of a primitive are static
    # parameters ... Pass traced arrays positionally" (o traced) or "_operator.mul() takes no
    # keyword arguments" (o plain); lnp.cos(x, out=None) with "unexpected keyword argument 'out'";
    # an out= larger than the result (broadcast by NumPy) was refused as "non-broadcastable"
    x = np.array([0.3, -0.7, 1.1])
    plain = x * x[::-1]
    plain[1:] = np.sin(x[0])
    assert np.allclose(_written_by_out(x), plain * x + x + 1 + np.cos(x), atol=1e-15)
    check_grads(_written_by_out, x, modes=["fwd", "rev"], order=2)

    def into_plain(x):
        y = lnp.empty(3)
        lnp.multiply(x, x, out=y)
        return y

    with pytest.raises(TypeError, match=r"out=o\) with a plain NumPy array"):
        lagrad.jacobian(into_plain)(x)


@pytest.mark.parametrize("method", ["elimination", "auto"])
def test_an_eliminated_jacobian_block_without_a_path_keeps_the_dtype(method):
    # the block of an output that does not depend on an input came as float64 zeros
    x, y = np.ones(2, np.float32), np.ones(3, np.float32)
    J = lagrad.jacobian(lambda x, y: (lnp.tanh(x) * 2, lnp.sum(y) * x), argnums=(0, 1), method=method)(x, y)
    assert [[b.dtype for b in row] for row in J] == [[np.float32] * 2] * 2
    assert not J[0][1].any() and J[0][1].shape == (2, 3)


# ----- third derivatives of det: the adjugate's rule differentiated again ------------------


def _levi_civita():
    eps = np.zeros((3, 3, 3))
    for i, j, k in [(0, 1, 2), (1, 2, 0), (2, 0, 1)]:
        eps[i, j, k], eps[i, k, j] = 1.0, -1.0
    return eps


@pytest.mark.parametrize(
    "a", [np.eye(3), np.diag([2.0, 2.0, 3.0]), np.array([[2.0, 0.3, 0.1], [0.2, 1.5, 0.4], [0.1, 0.3, 1.2]])]
)
def test_the_third_derivative_of_det_is_the_levi_civita_form(a):
    # det of a 3x3 matrix is cubic: ∂³det/∂A_ia ∂A_jb ∂A_kc = ε_ijk ε_abc everywhere. The rule of
    # adj held the SVD fixed and was differentiated through it: NaN wherever singular values repeat
    eps = _levi_civita()
    want = np.einsum("ijk,abc->iajbkc", eps, eps)
    assert np.allclose(lagrad.jacobian(lagrad.hessian(lnp.linalg.det))(a), want, atol=1e-12)
    third_fwd = lagrad.jacobian(lagrad.jacobian(lagrad.grad(lnp.linalg.det), mode="fwd"), mode="fwd")
    assert np.allclose(third_fwd(a), want, atol=1e-12)


def test_method_auto_choosing_sparse_keeps_float16():
    # the sparse solve comes as float32 (scipy.sparse holds no float16); auto returns the dense dtype
    def banded(x):
        return lnp.sin(x) * lnp.roll(x, 1)

    x = np.linspace(0.0, 1.0, 300).astype(np.float16)
    assert lagrad.plan(banded, x).method == "sparse"
    J = lagrad.jacobian(banded, method="auto")(x)
    assert J.dtype == np.float16
    assert np.allclose(J.astype(np.float32), lagrad.jacobian(banded)(x).astype(np.float32), atol=2e-3)


@pytest.mark.parametrize("mode", ["rev", "fwd", "auto"])
def test_each_jacobian_block_has_its_own_outputs_and_inputs_dtype(mode):
    # the sweeps share one dtype: a float64 constant output made every block float64
    x, y = np.ones(2, np.float32), np.ones(3, np.float32)
    J = lagrad.jacobian(lambda x, y: (lnp.tanh(x) * 2, lnp.sum(y) * x, np.ones(2)), argnums=(0, 1), mode=mode)(x, y)
    assert [[b.dtype for b in row] for row in J] == [[np.float32] * 2] * 2 + [[np.float64] * 2]
    assert np.allclose(J[0][0], 2 / np.cosh(1.0) ** 2 * np.eye(2)) and np.allclose(J[1][1], 1.0)
    assert not J[2][0].any() and not J[2][1].any()


# ----- compile: every tier gives eager's bits ---------------------------------------------


_Z_SAMPLES = [(lambda r: r[0] + 1j * r[1])(np.random.default_rng(4 + k).standard_normal((2, 3))) for k in range(6)]


@pytest.mark.parametrize("interpret", [0, 1])
@pytest.mark.parametrize(
    "fun",
    [
        lagrad.grad(lambda z: lnp.sum(lnp.real(z**3))),
        lagrad.jacobian(lambda z: z**3 + z**-1.0),
        lagrad.jacobian(lambda z: z**1.5, mode="fwd"),
        lagrad.grad(lambda z: lnp.sum(lnp.real(z ** z[::-1]))),
    ],
    ids=["grad-cube", "jacobian-rev", "jacobian-fwd", "grad-power-of-arrays"],
)
def test_compiled_powers_of_complex_values_have_eager_bits(fun, interpret):
    # the rule of x**3 computed 3·x**2 by numpy.power on plain arrays (eager) and by the
    # operator ** on traced ones (compile), which squares: the last bit differed on about half
    # of complex inputs, already on the first call. And the generated code wrote the rule's
    # y * x**(y-1) as ``p *= y``: NumPy's complex product is not commutative bit for bit (it
    # fuses a multiply-add), so the compiled tier's last bits differed from the second call on
    compiled = lagrad.compile(fun, interpret=interpret)
    for z in _Z_SAMPLES:
        z = np.ascontiguousarray(z)
        assert compiled(z).tobytes() == fun(z).tobytes()


def test_a_compiled_function_returning_a_pullback_is_refused_by_name():
    # the pullback held the compile trace's values: calling it raised TraceEnded, which blamed
    # "the function being differentiated" and suggested lagrad.value
    compiled = lagrad.compile(lambda x: lagrad.vjp(lnp.sin, x))
    with pytest.raises(TypeError, match=r"lagrad\.compile\(<lambda>\): .*returned a function.*call it inside"):
        compiled(np.array([0.1, 0.2]))
    # applied inside, the pullback compiles
    pulled = lagrad.compile(lambda x, c: lagrad.vjp(lnp.sin, x)[1](c))
    x, c = np.array([0.1, 0.2]), np.array([1.0, 2.0])
    for _ in range(3):
        assert np.array_equal(pulled(x, c)[0], np.cos(x) * c)


_W32 = np.array([0.7, -0.2, 0.4], np.float32)


def _sgd_step(w, lr):
    return w - lr * lagrad.grad(lambda w: lnp.sum(lnp.sin(w) ** 2))(w)


@pytest.mark.parametrize("interpret", [0, 1])
@pytest.mark.parametrize(
    "fun, args",
    [
        (_sgd_step, lambda k: (np.ones(3, np.float32), 0.1 * (1 + k % 2))),
        (lambda s: lnp.sum(_W32 * s), lambda k: (0.5 + k % 2,)),
        (lambda x, s: x * s, lambda k: (np.ones(2, np.complex64), 1.5 + 0.5j * k)),
    ],
    ids=["float32-step-with-a-python-rate", "float32-constant", "complex64"],
)
def test_compile_keeps_float32_beside_a_python_number(fun, args, interpret):
    # a Python float was traced as a float64 scalar, whose promotion is strong: an SGD step on
    # float32 weights returned float64 weights (0.90907026 for the function's 0.90907025)
    compiled = lagrad.compile(fun, interpret=interpret)
    for k in range(5):
        want, got = fun(*args(k)), compiled(*args(k))
        assert got.dtype == want.dtype and got.tobytes() == want.tobytes()


def test_a_python_zero_passed_as_given_keeps_its_sign():
    compiled = lagrad.compile(lambda x, s: x * s)
    x = np.array([-1.0, 2.0], np.float32)
    for s in (0.0, -0.0, 0.0, float("nan"), float("nan"), -0.0):
        assert compiled(x, s).tobytes() == (x * s).tobytes()


def test_static_arguments_that_compare_equal_are_told_apart():
    # the signature held static values by ==: -0.0 replayed 0.0's trace (the sign of every
    # zero product flipped), and True replayed 1's
    compiled = lagrad.compile(lambda x, s: x * s if type(s) is not bool else x + 0.5, static_argnums=1)
    x = np.array([-1.0, 2.0])
    for s in (0.0, -0.0, 1, True, 1.0, -0.0):
        want = x * s if type(s) is not bool else x + 0.5
        assert compiled(x, s).tobytes() == want.tobytes()


def test_a_compiled_first_call_with_nan_is_answered_as_eager_lagrad():
    # the first call answered from the trace where NaN showed: the hvp's finite entries beside
    # the NaN one (the derivative of sqrt at 0) came back NaN, where eager lagrad's zero means
    # zero gives -1.77 and -0.61; the tiers after it already ran eagerly there
    def hvp(x):
        return lagrad.hvp(lambda x: lnp.sum(lnp.abs(lnp.max(x) * x - 1.0) ** 0.5))(x, np.ones_like(x))

    x = np.array([1.0, 0.5, -0.2])
    with np.errstate(divide="ignore", invalid="ignore"):  # sqrt's derivative at 0
        want = hvp(x)
        assert np.isnan(want[0]) and np.isfinite(want[1:]).all()
        compiled = lagrad.compile(hvp)
        for _ in range(3):
            assert compiled(x).tobytes() == want.tobytes()
