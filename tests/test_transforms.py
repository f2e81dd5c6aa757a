"""grad, value_and_grad, vjp, jvp, jacobian, hessian, hvp, elementwise_grad, trace, adjoint."""

from __future__ import annotations

from collections import namedtuple

import numpy as np
import pytest

import lagrad
import lagrad.numpy as lnp
from lagrad.testing import check_grads
from tests.conftest import rand


def f_xy(x, y):
    return lnp.sum(lnp.sin(x) * y**2)


def test_grad_argnums():
    x, y = rand(3), rand(3)
    assert np.allclose(lagrad.grad(f_xy)(x, y), np.cos(x) * y**2)
    assert np.allclose(lagrad.grad(f_xy, 1)(x, y), 2 * np.sin(x) * y)
    _gx, gy = lagrad.grad(f_xy, (0, 1))(x, y)
    assert np.allclose(gy, 2 * np.sin(x) * y)
    (gy2,) = lagrad.grad(f_xy, (1,))(x, y)
    assert np.allclose(gy2, gy)
    assert np.allclose(lagrad.grad(f_xy, -1)(x, y), gy)
    with pytest.raises(ValueError, match="argnums=3"):
        lagrad.grad(f_xy, 3)(x, y)


def test_value_and_grad_and_has_aux():
    x = rand(3)

    def f(x):
        loss = lnp.sum(x**2)
        return loss, {"norm": lnp.sqrt(loss), "n": 3}

    (value, aux), g = lagrad.value_and_grad(f, has_aux=True)(x)
    assert np.isclose(value, np.sum(x**2)) and np.allclose(g, 2 * x)
    assert isinstance(aux["norm"], np.floating) and aux["n"] == 3  # aux comes back as plain values
    g2, aux2 = lagrad.grad(f, has_aux=True)(x)
    assert np.allclose(g2, g) and np.isclose(aux2["norm"], aux["norm"])
    with pytest.raises(TypeError, match="pair"):
        lagrad.grad(lambda x: lnp.sum(x), has_aux=True)(x)


def test_nested_containers():
    Params = namedtuple("Params", ["w", "b"])
    params = {"layer": Params(rand(3, 2), rand(2)), "scale": [np.float64(2.0)]}
    x = rand(4, 3)

    def loss(p, x):
        w, b = p["layer"]
        return lnp.sum((x @ w + b) ** 2) * p["scale"][0]

    g = lagrad.grad(loss)(params, x)
    assert isinstance(g["layer"], Params) and g["layer"].w.shape == (3, 2)
    y = x @ params["layer"].w + params["layer"].b
    assert np.allclose(g["layer"].b, 2 * 2.0 * y.sum(0))
    assert np.isclose(g["scale"][0], np.sum(y**2))
    program = lagrad.trace(loss, params, x)
    assert "z1 = p['layer'][0]" in str(program)


def test_vjp_and_jvp():
    x = rand(3)
    _out, vjp_fun = lagrad.vjp(lambda x: (lnp.sin(x), x**2), x)
    ct = (rand(3), rand(3))
    (gx,) = vjp_fun(ct)
    assert np.allclose(gx, ct[0] * np.cos(x) + ct[1] * 2 * x)
    assert np.allclose(vjp_fun(ct)[0], gx)  # may be called again
    with pytest.raises(ValueError, match="cotangent has shape"):
        vjp_fun((rand(2), rand(3)))
    y, t = lagrad.jvp(lambda x, y: x * lnp.exp(y), (x, x), (np.ones(3), np.zeros(3)))
    assert np.allclose(y, x * np.exp(x)) and np.allclose(t, np.exp(x))
    with pytest.raises(ValueError, match="tangent"):
        lagrad.jvp(lnp.sin, (x,), (rand(2),))


def test_jacobian_both_modes():
    A = rand(2, 3)
    f = lambda x: lnp.tanh(A @ x)
    x = rand(3)
    expected = (1 - np.tanh(A @ x) ** 2)[:, None] * A
    for mode in ("rev", "fwd"):
        assert np.allclose(lagrad.jacobian(f, mode=mode)(x), expected)
    J = lagrad.jacobian(lambda x, y: {"a": x * y, "b": lnp.sum(x)}, (0, 1))(rand(2), rand(2))
    assert J["a"][0].shape == (2, 2) and J["b"][1].shape == (2,) and np.all(J["b"][1] == 0)
    with pytest.raises(ValueError, match="mode"):
        lagrad.jacobian(f, mode="both")


def test_hessian_and_hvp():
    A = rand(3, 3)
    A = A + A.T
    f = lambda x: 0.5 * x @ A @ x + lnp.sum(x**4)
    x, v = rand(3), rand(3)
    H = A + np.diag(12 * x**2)
    assert np.allclose(lagrad.hessian(f)(x), H)
    assert np.allclose(lagrad.hvp(f)(x, v), H @ v)


def test_elementwise_grad():
    x = rand(5)
    assert np.allclose(lagrad.elementwise_grad(lnp.tanh)(x), 1 - np.tanh(x) ** 2)


def test_function_not_using_its_input_has_zero_gradient():
    assert lagrad.grad(lambda x: 3.0)(1.0) == 0.0
    assert np.array_equal(lagrad.grad(lambda x: lnp.sum(np.ones(3)))(rand(2)), [0.0, 0.0])


@pytest.mark.parametrize(
    "bad,kind",
    [
        (3, "int"),
        (True, "bool"),
        (np.arange(3), "int64"),
        (np.array([True]), "bool"),
        (np.array(["a"]), "<U1"),
        (np.array([None, 1.0], dtype=object), "object"),
        ("text", "str"),
        (None, "NoneType"),
    ],
)
def test_integer_bool_and_object_inputs_are_refused(bad, kind):
    with pytest.raises(TypeError, match=r"floats|float"):
        lagrad.grad(lambda x: x)(bad)


def test_non_scalar_output_suggests_jacobian_or_vjp():
    with pytest.raises(TypeError, match=r"shape \(3,\).*jacobian.*vjp"):
        lagrad.grad(lnp.sin)(rand(3))
    with pytest.raises(TypeError, match="has_aux"):
        lagrad.grad(lambda x: (lnp.sum(x), lnp.sum(x)))(rand(3))
    with pytest.raises(TypeError, match="no derivative"):
        lagrad.grad(lambda x: lnp.sum(x > 0))(rand(3))


def test_float32_gradients_stay_float32():
    x = rand(4).astype(np.float32)
    g = lagrad.grad(lambda x: lnp.sum(lnp.exp(x) * 3.0))(x)
    assert g.dtype == np.float32


def test_python_float_input():
    assert lagrad.grad(lambda x: x**3)(2.0) == 12.0
    assert lagrad.grad(lambda x: lnp.sin(x))(0.0) == 1.0


def test_kwargs_pass_through():
    assert lagrad.grad(lambda x, scale=1.0: scale * x**2)(3.0, scale=2.0) == 12.0


def test_argnums_must_name_each_argument_once_as_an_int():
    f = lambda x, y: x * y
    with pytest.raises(ValueError, match=r"argnums=\(0, 0\) names an argument twice"):
        lagrad.grad(f, (0, 0))(1.0, 2.0)  # it used to return 0 for the first (a silent wrong answer)
    for bad in ("x", 1.0, True, [0, "y"]):
        with pytest.raises(TypeError, match="argnums must be an int or a tuple of ints"):
            lagrad.grad(f, bad)(1.0, 2.0)
    assert lagrad.grad(f, [1, 0])(1.0, 2.0) == (1.0, 2.0)  # a list of ints is fine
    assert lagrad.grad(f, np.int64(1))(1.0, 2.0) == 1.0


def test_transforms_refuse_what_is_not_a_function():
    for transform in (lagrad.grad, lagrad.value_and_grad, lagrad.elementwise_grad, lagrad.jacobian):
        with pytest.raises(TypeError, match="must be the function to differentiate"):
            transform(np.ones(3))
    for call in (
        lambda: lagrad.vjp(np.ones(3), 1.0),
        lambda: lagrad.jvp(np.ones(3), (1.0,), (1.0,)),
        lambda: lagrad.trace(np.ones(3), 1.0),
        lambda: lagrad.adjoint(np.ones(3), 1.0),
    ):
        with pytest.raises(
            TypeError, match=r"lagrad\.(vjp|jvp|trace|adjoint): the first argument must be the function"
        ):
            call()


def test_the_derivative_is_of_the_values_the_function_was_called_with():
    # sin's rule reads x's values after the function wrote into the caller's array through
    # another name: the recorded values are a copy, so the derivative is cos(1), not cos(100)
    x0 = np.ones(3)

    def f(x):
        y = lnp.sin(x)
        x0[0] = 100.0
        return lnp.sum(y)

    assert np.array_equal(lagrad.grad(f)(x0), np.cos(np.ones(3)))
    assert x0[0] == 100.0  # the write itself happened, as NumPy does it
    # and a vjp_fun called after the caller's array changed
    x1 = np.ones(3)
    _, f_vjp = lagrad.vjp(lnp.sin, x1)
    x1[:] = 5.0
    assert np.array_equal(f_vjp(np.ones(3))[0], np.cos(np.ones(3)))


def test_the_copy_of_an_argument_keeps_its_memory_order_so_the_value_is_numpys():
    # NumPy sums a Fortran-ordered array in memory order: 1e16 + -1e16 + 1 + 1 = 2, where C
    # order loses the first 1 (1e16 + 1 rounds to 1e16) and gives 1. The recorded copy of the
    # argument once was C-ordered, so lagrad's value (and lagrad.compile's first call) said 1
    x = np.asfortranarray([[1e16, 1.0], [-1e16, 1.0]])

    def f(x):
        return lnp.sum(x * 1.0)

    assert f(x) == np.sum(x) == 2.0
    value, g = lagrad.value_and_grad(f)(x)
    assert value == 2.0 and np.array_equal(g, np.ones((2, 2)))
    transposed = np.ascontiguousarray(x.T).T  # a transposed view: its copy is Fortran-ordered too
    assert lagrad.value_and_grad(f)(transposed)[0] == 2.0


def test_arrays_numpy_can_read_are_read():
    import array

    g = lagrad.grad(lambda x: lnp.sum(x**3))(array.array("f", [1.0, 2.0]))
    assert g.dtype == np.float32 and np.array_equal(g, [3.0, 12.0])
    g = lagrad.grad(lambda x: lnp.sum(x**3))(memoryview(np.array([1.0, 2.0])))
    assert np.array_equal(g, [3.0, 12.0])


def test_jacobian_keeps_the_dtype_of_float32_arguments_and_outputs():
    # the gradient of a float32 function that uses float64 constants is float32 (grad casts it);
    # its Jacobian, in both modes, must not upcast through the float64 multipliers inside
    x = np.array([0.5, 1.5], dtype=np.float32)
    g = lagrad.grad(lambda x: lnp.sum(lnp.sin(x) * np.arange(1.0, 3.0)))
    for mode in ("rev", "fwd"):
        J = lagrad.jacobian(g, mode=mode)(x)
        assert J.dtype == np.float32
        assert np.allclose(J, np.diag(-np.sin(x) * np.arange(1.0, 3.0)), atol=1e-6)


def test_hessian_keeps_the_dtype_of_the_gradient_it_differentiates():
    # a float32 argument meeting float64 constants: the gradient is float32 (the argument's), and
    # so were jacobian(grad), hvp and hessian(sparse=True); the dense hessian came back float64
    x = np.array([0.5, 1.5], dtype=np.float32)
    f = lambda x: lnp.sum(lnp.sin(x) ** 2 * np.arange(1.0, 3.0))
    want = np.diag(2 * np.cos(2 * x.astype(np.float64)) * np.arange(1.0, 3.0))
    H = lagrad.hessian(f)(x)
    assert H.dtype == lagrad.jacobian(lagrad.grad(f))(x).dtype == lagrad.hvp(f)(x, np.ones_like(x)).dtype == np.float32
    assert lagrad.hessian(f, sparse=True)(x).dtype == np.float32
    assert np.allclose(H, want, atol=1e-6)
    H = lagrad.hessian(lambda x, y: lnp.sum(x * y * y * np.float64(2.0)), argnums=(0, 1))(x, x.astype(np.float64))
    assert [[b.dtype for b in row] for row in H] == [[np.float32, np.float64], [np.float64, np.float64]]
    assert np.allclose(H[0][1], np.diag(4.0 * x), atol=1e-6) and np.allclose(H[1][1], np.diag(4.0 * x), atol=1e-6)


def test_hostile_tree_errors_name_the_transform():
    with pytest.raises(ValueError, match=r"lagrad\.jvp: the tangents must have the structure of the primals"):
        lagrad.jvp(lambda x: x, ({"a": 1.0},), ({"b": 1.0},))
    _, f_vjp = lagrad.vjp(lambda x: {"a": x * 2.0}, 1.0)
    with pytest.raises(ValueError, match=r"lagrad\.vjp: the cotangent must have the structure of the output"):
        f_vjp([1.0])
    assert f_vjp({"a": 1.0}) == (2.0,)


def test_value_of_a_container_is_the_value_of_every_leaf():
    # issue 16.1: lagrad.value(params) on a dict passed the derivative straight through
    x, y = rand(3), rand(3)

    def f(p):
        v = lagrad.value(p)
        assert type(v) is dict and type(v["b"]) is tuple
        assert all(type(leaf) is np.ndarray for leaf in (v["a"], *v["b"]))
        return lnp.sum(v["a"] * p["a"]) + lnp.sum(v["b"][0] * p["b"][0])

    g = lagrad.grad(f)({"a": x, "b": (y,)})
    assert np.allclose(g["a"], x) and np.allclose(g["b"][0], y)


def test_tag_of_a_container_names_each_leaf_by_its_path():
    # issue 16.1: tag(dict, name) was silently ignored
    P = namedtuple("P", "w b")
    x = rand(3)

    def f(x):
        h = lagrad.tag({"a": x * 2, "b": [x * 3, x], "c": P(x + 1, None)}, "h")
        return lnp.sum(h["a"]) + lnp.sum(h["b"][0] ** 2) + lnp.sum(h["c"].w)

    lam = lagrad.adjoint(f, x).multipliers
    assert sorted(lagrad.adjoint(f, x).program.tags) == ["h/a", "h/b/0", "h/b/1", "h/c/w"]
    assert np.allclose(lam["h/a"], 1) and np.allclose(lam["h/b/0"], 6 * x) and np.allclose(lam["h/c/w"], 1)


def test_reusing_a_tag_name_is_refused():
    # issue 16.9: a reused name silently moved the tag
    def f(x):
        for _ in range(2):
            x = lagrad.tag(x * 2, "h")
        return lnp.sum(x)

    with pytest.raises(ValueError, match=r"lagrad.tag: the name 'h' already names z2.*z3"):
        lagrad.adjoint(f, rand(3))
    same = lagrad.adjoint(lambda x: lnp.sum(lagrad.tag(lagrad.tag(x * 2, "h"), "h")), rand(3))
    assert np.allclose(same.multipliers["h"], 1)  # the same variable twice is one name


@pytest.mark.parametrize(
    "who, call",
    [
        ("grad", lambda f: lagrad.grad(f)(np.ones(2))),
        ("grad", lambda f: lagrad.value_and_grad(f)(np.ones(2))),
        ("elementwise_grad", lambda f: lagrad.elementwise_grad(f)(np.ones(2))),
        ("jacobian", lambda f: lagrad.jacobian(f)(np.ones(2))),
        ("jacobian", lambda f: lagrad.jacobian(f, mode="fwd")(np.ones(2))),
        ("hessian", lambda f: lagrad.hessian(f)(np.ones(2))),
        ("hvp", lambda f: lagrad.hvp(f)(np.ones(2), np.ones(2))),
        ("jvp", lambda f: lagrad.jvp(f, (np.ones(2),), (np.ones(2),))),
        ("vjp", lambda f: lagrad.vjp(f, np.ones(2))),
        ("trace", lambda f: lagrad.trace(f, np.ones(2))),
        ("adjoint", lambda f: lagrad.adjoint(f, np.ones(2))),
    ],
)
@pytest.mark.parametrize(
    "output", ["abc", b"abc", object(), {"loss": "abc"}], ids=["str", "bytes", "object", "in a dict"]
)
def test_every_transform_refuses_an_output_that_is_not_numbers(who, call, output):
    # issue 16.9: a string made jacobian/jvp/hessian raise NumPy's "data type 'abc' not understood",
    # and elementwise_grad return zeros
    with pytest.raises(TypeError, match=rf"lagrad\.{who}: the function returns .*not an array of numbers"):
        call(lambda x: output)


def test_a_buffer_filled_in_a_loop_gets_lagrads_explanation_first():
    # issue 16.9: NumPy's "setting an array element with a sequence" came first
    def f(x):
        out = np.zeros(3)
        for i in range(3):
            out[i] = lnp.sin(x[i])
        return lnp.sum(out)

    with pytest.raises(TypeError, match=r"lagrad.grad: a traced value was written into an element") as info:
        lagrad.grad(f)(np.ones(3))
    assert "lagrad.numpy.stack" in str(info.value)
    assert "setting an array element" in str(info.value.__cause__)


# ----- full Jacobians and Hessians as batched solves ---------------------------------------


def _step_map(As):
    def f(y):
        for A in As:
            y = np.tanh(A @ y) + np.sin(y)
        return y

    return f


def _rows_one_by_one(f, x):
    """The Jacobian built one gradient at a time (the unbatched path)."""
    n = f(x).size
    return np.stack([lagrad.grad(lambda x, i=i: f(x).ravel()[i])(x) for i in range(n)]).reshape(f(x).shape + x.shape)


@pytest.mark.parametrize("mode", ["rev", "fwd", "auto"])
@pytest.mark.parametrize("max_bytes", [None, 1])  # 1 byte: every right-hand side its own chunk
def test_jacobian_is_one_batched_solve_equal_to_the_unbatched_path(mode, max_bytes):
    rng = np.random.default_rng(1)
    f = _step_map([rng.standard_normal((4, 4)) / 2 for _ in range(3)])
    x = rng.standard_normal(4)
    J = lagrad.jacobian(f, mode=mode, max_bytes=max_bytes)(x)
    assert np.allclose(J, _rows_one_by_one(f, x), atol=1e-12)
    check_grads(f, x, modes=("fwd", "rev"), order=2)


@pytest.mark.parametrize("mode", ["rev", "fwd"])
def test_jacobian_of_matrix_inputs_and_outputs(mode):
    rng = np.random.default_rng(2)
    w = rng.standard_normal((3, 4))

    def f(a, b):
        return np.tanh(a @ w) * np.sum(b, axis=0), np.transpose(a)[1:] ** 2

    a, b = rng.standard_normal((2, 3)), rng.standard_normal((5, 4))
    (j_aa, j_ab), (j_ba, j_bb) = lagrad.jacobian(f, (0, 1), mode=mode)(a, b)
    for out, (ja, jb) in enumerate([(j_aa, j_ab), (j_ba, j_bb)]):
        assert np.allclose(ja, _rows_one_by_one(lambda a: f(a, b)[out], a), atol=1e-12)
        assert np.allclose(jb, _rows_one_by_one(lambda b: f(a, b)[out], b), atol=1e-12)


def test_batched_jacobians_trace_again_for_higher_order():
    rng = np.random.default_rng(3)
    f = _step_map([rng.standard_normal((3, 3)) / 2 for _ in range(2)])
    x = rng.standard_normal(3)
    rev_rev = lagrad.jacobian(lagrad.jacobian(f, mode="rev"), mode="rev")(x)
    fwd_fwd = lagrad.jacobian(lagrad.jacobian(f, mode="fwd"), mode="fwd")(x)
    for i in range(3):
        ref = lagrad.hessian(lambda x, i=i: f(x)[i])(x)
        assert np.allclose(rev_rev[i], ref, atol=1e-10) and np.allclose(fwd_fwd[i], ref, atol=1e-10)


def test_hessian_batched_in_chunks_equals_the_gradient_of_the_gradient():
    rng = np.random.default_rng(4)
    f = _step_map([rng.standard_normal((5, 5)) / 2 for _ in range(2)])

    def loss(x):
        return np.sum(f(x) ** 2)

    x = rng.standard_normal(5)
    ref = np.stack([lagrad.grad(lambda x, i=i: lagrad.grad(loss)(x)[i])(x) for i in range(5)])
    assert np.allclose(lagrad.hessian(loss)(x), ref, atol=1e-10)
    assert np.allclose(lagrad.hessian(loss, max_bytes=1)(x), ref, atol=1e-10)


# ----- NaN and 0·∞ (issue 16, items 4 and 5) -------------------------------------------------


def test_a_nan_loss_does_not_come_back_with_a_clean_gradient():
    def loss(z):
        e = np.exp(z)  # overflows: inf / inf
        return (e / np.sum(e))[0]

    with np.errstate(over="ignore", invalid="ignore"):
        value, gradient = lagrad.value_and_grad(loss)(np.array([1000.0, 1.0]))
        by_forward = lagrad.grad(loss, method="forward_substitution")(np.array([1000.0, 1.0]))
    assert np.isnan(value)
    assert np.isnan(gradient).any() and np.isnan(by_forward).any()
    # zero means zero still applies to a finite loss with an unselected infinite branch
    with np.errstate(invalid="ignore"):
        assert lagrad.grad(lambda x: np.where(x > 0, np.sqrt(x), 0.0))(-1.0) == 0.0


@pytest.mark.parametrize(
    "f",
    [
        lambda x: np.sum(np.sqrt(x) * x),
        lambda x: np.sum(0 * np.sqrt(x)),
        lambda x: np.sqrt(x) @ np.array([0.0, 2.0]),
        lambda x: np.sum(np.sqrt(x) * x * x),
    ],
    ids=["sqrt(x)*x", "0*sqrt(x)", "sqrt(x)@w", "sqrt(x)*x*x"],
)
def test_tangent_mode_resolves_zero_times_infinity_as_reverse_mode_does(f):
    x = np.array([0.0, 1.0])
    with np.errstate(divide="ignore", invalid="ignore"):
        reverse = lagrad.grad(f)(x)
        assert np.all(np.isfinite(reverse))
        assert np.allclose(lagrad.grad(f, method="forward_substitution")(x), reverse)
        assert np.allclose(lagrad.jacobian(f, mode="fwd")(x), reverse)
        assert np.isclose(lagrad.jvp(f, (x,), (np.ones(2),))[1], reverse.sum())
        assert np.allclose(lagrad.hessian(f)(x), lagrad.jacobian(lagrad.grad(f), mode="rev")(x))


def test_the_hessian_of_sqrt_x_times_x_squared_at_zero_is_finite():
    f = lambda x: np.sqrt(x) * x * x
    with np.errstate(divide="ignore", invalid="ignore"):
        assert lagrad.hessian(f)(0.0) == 0.0 == lagrad.grad(lagrad.grad(f))(0.0)


def test_a_non_holomorphic_jacobian_is_each_modes_documented_matrix():
    """README: for complex f of complex z, fwd gives ∂f/∂x = ∂f/∂z + ∂f/∂z̄ and rev gives
    ∂f/∂z + conj(∂f/∂z̄); both are f′(z) where f is holomorphic. Closed forms for
    f = z² + 3 z̄² (∂f/∂z = 2z, ∂f/∂z̄ = 6 z̄), and fwd against a central difference along x."""
    z = np.array([1 + 2j, -0.5 + 0.25j])

    def f(z):
        return z**2 + 3 * lnp.conj(z) ** 2

    dz, dzbar = 2 * z, 6 * np.conj(z)
    assert np.allclose(lagrad.jacobian(f, mode="fwd")(z), np.diag(dz + dzbar), rtol=1e-14)
    assert np.allclose(lagrad.jacobian(f, mode="rev")(z), np.diag(dz + np.conj(dzbar)), rtol=1e-14)
    h = 1e-6
    plain = lambda z: z**2 + 3 * np.conj(z) ** 2
    along_x = np.stack([(plain(z + h * e) - plain(z - h * e)) / (2 * h) for e in np.eye(2)], axis=1)
    assert np.allclose(lagrad.jacobian(f, mode="fwd")(z), along_x, rtol=1e-8)
    holomorphic = lambda z: z**2 * z[::-1]
    assert np.allclose(lagrad.jacobian(holomorphic, mode="rev")(z), lagrad.jacobian(holomorphic, mode="fwd")(z))


def test_a_real_jacobian_through_complex_intermediates_is_real_in_both_modes():
    """Reverse mode's multipliers of the real inputs cross complex values; the Jacobian of a real
    function keeps their real part, as grad does (it used to return them complex, junk imaginary
    parts included)."""
    c = 1 + 0.5j
    W = np.random.default_rng(3).normal(size=(4, 4)) * 0.2

    def f(a):
        z = a * c
        return lnp.real(lnp.tanh(W @ z) * z) + lnp.abs(lnp.exp(z))

    def by_hand(a):
        z = a * c
        return np.real(np.tanh(W @ z) * z) + np.abs(np.exp(z))

    a = np.array([0.3, -0.7, 1.1, 0.2])
    h = 1e-6
    expected = np.stack([(by_hand(a + h * e) - by_hand(a - h * e)) / (2 * h) for e in np.eye(4)], axis=1)
    for mode in ("rev", "fwd"):
        J = lagrad.jacobian(f, mode=mode)(a)
        assert J.dtype == np.float64, mode
        np.testing.assert_allclose(J, expected, rtol=1e-7, atol=1e-9)


def test_a_replayed_program_keeps_a_number_read_with_value_and_recomputes_a_traced_index():
    # as README's `trace` row says: value(x) is a constant of the Program (JAX's limitation too),
    # lagrad.numpy.argmax is an equation; compile recomputes both
    x0, x1 = np.array([1.0, 5.0, 7.0]), np.array([9.0, 5.0, 7.0])

    def read(x):
        return x[int(np.argmax(lagrad.value(x)))] * 2.0

    def traced(x):
        return x[lnp.argmax(x)] * 2.0

    assert float(lagrad.trace(read, x0)(x1)) == 14.0  # x1[2] * 2: the index read at x0
    assert float(lagrad.trace(traced, x0)(x1)) == 18.0  # x1[0] * 2
    compiled = lagrad.compile(read)
    assert [float(compiled(x)) for x in (x0, x1, x1, x1)] == [14.0, 18.0, 18.0, 18.0]
