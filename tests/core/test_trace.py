"""Tracing: traced values, trace levels, branches on traced values, and its errors."""

from __future__ import annotations

import numpy as np
import pytest

import lagrad
import lagrad.numpy as lnp
from lagrad.core import TraceEnded
from tests.conftest import rand
from tests.helpers import check


def test_no_perturbation_confusion():
    # d/dx [x · d/dy (x + y)] = 1 at any x: the inner derivative must not see x as varying
    for x in (0.0, 1.7, -3.2):
        assert lagrad.grad(lambda x: x * lagrad.grad(lambda y: x + y)(2.0))(x) == 1.0
    # and a case where confusion would change the answer: d/dx [x · d/dy (x·y)] = 2x
    assert lagrad.grad(lambda x: x * lagrad.grad(lambda y: x * y)(3.0))(1.5) == 3.0


def test_third_order():
    f = lambda x: lnp.sin(x) * x**2
    d3 = lagrad.grad(lagrad.grad(lagrad.grad(f)))(0.7)
    x = 0.7
    expected = -np.cos(x) * x**2 - 6 * x * np.sin(x) + 6 * np.cos(x)
    assert np.isclose(d3, expected)


def test_long_python_loop_traces_and_differentiates_without_recursion():
    def f(x):
        for _ in range(20_000):
            x = x * 0.9999 + 0.0001
        return x

    g = lagrad.grad(f)(1.0)
    assert np.isclose(g, 0.9999**20_000)


def test_branch_on_traced_value_uses_its_value_and_is_recorded():
    def f(x):
        if x > 0:
            return x**2
        return -3 * x

    assert lagrad.grad(f)(2.0) == 4.0
    assert lagrad.grad(f)(-2.0) == -3.0
    program = lagrad.trace(f, 2.0)
    assert program.guards == {1: True}  # z2 = greater(z1, 0) went True
    assert "branch: True" in str(program)


def test_while_loop_on_traced_value():
    def f(x):
        n = 0
        while x < 10.0:
            x = x * 2.0
            n += 1
        return x

    assert lagrad.grad(f)(1.5) == 8.0  # three doublings
    assert lagrad.grad(f)(3.0) == 4.0


def test_integer_traced_values_may_index_and_are_recorded():
    def f(x):
        i = int(lnp.sum(x > 0))  # an integer computed from x, used by Python
        return x[i] * 2.0

    x = np.array([0.5, -1.0, 0.3])
    assert np.array_equal(lagrad.grad(f)(x), [0.0, 0.0, 2.0])


def test_float_conversion_of_traced_value_is_refused():
    with pytest.raises(TypeError, match=r"float\(\).*lagrad.value"):
        lagrad.grad(lambda x: float(x) * x)(1.0)
    with pytest.raises(TypeError, match="derivative"):
        lagrad.grad(lambda x: np.asarray(x).sum())(rand(3))


def test_value_reads_without_derivative():
    seen = []

    def f(x):
        seen.append(lagrad.value(x))
        return lnp.sum(x**2)

    lagrad.grad(f)(np.array([1.0, 2.0]))
    assert isinstance(seen[0], np.ndarray)
    assert f"{lagrad.grad(lambda x: x)(1.0):.1f}" == "1.0"


def test_formatting_and_repr_inside_a_trace():
    out = []

    def f(x):
        out.append(f"{x:.2f} {x!r}")
        return x * 2

    lagrad.grad(f)(1.0)
    assert out[0].startswith("1.00 Traced<z1>")


def test_traced_value_used_after_its_trace_ended():
    leaked = []

    def f(x):
        leaked.append(x)
        return x * 2.0

    lagrad.grad(f)(1.0)
    with pytest.raises(TraceEnded, match="escaped"):
        leaked[0] * 3.0


def test_unknown_numpy_function_is_named():
    # einsum_path plans a contraction; it has no derivative and lagrad does not provide it
    with pytest.raises(TypeError, match=r"numpy\.einsum_path is not supported"):
        lagrad.grad(lambda x: np.einsum_path("i,i", x, x)[1])(rand(4))

    def pretend(x):  # any NumPy function the registry does not know reaches the same error
        return x

    pretend.__module__ = "numpy.linalg"
    from lagrad.core import Trace

    traced = Trace().new_input(rand(2))
    with pytest.raises(TypeError, match=r"numpy\.linalg\.pretend is not supported"):
        traced.__array_function__(pretend, (), (traced,), {})


def test_shape_mismatch_names_the_equation():
    def f(a, b):
        return lnp.sum(lnp.matmul(a, b))

    with pytest.raises(ValueError, match=r"equation z3 = matmul\(z1 \(2, 3\), z2 \(4, 5\)\) at test_trace.py:\d+"):
        lagrad.grad(f, (0, 1))(rand(2, 3), rand(4, 5))
    with pytest.raises(ValueError, match=r"z3 = add\(z1 \(2, 3\), z2 \(4,\)\)"):
        lagrad.grad(lambda a, b: lnp.sum(a + b), (0, 1))(rand(2, 3), rand(4))


def test_traced_values_are_immutable_and_unhashable():
    def f(x):
        with pytest.raises(TypeError):
            hash(x)
        with pytest.raises(TypeError, match="pickled"):
            import pickle

            pickle.dumps(x)
        return lnp.sum(x)

    lagrad.grad(f)(rand(2))


def test_array_attributes_and_methods():
    def f(x):
        assert x.shape == (2, 3) and x.ndim == 2 and x.size == 6 and x.dtype == np.float64 and len(x) == 2
        return (x.T @ x).sum() + x.mean(axis=0).max() + x.reshape(3, 2).transpose().dot(x.T).min()

    check(f, rand(2, 3))
    with pytest.raises(AttributeError, match=r"ndarray\.tofile is not supported"):
        lagrad.grad(lambda x: x.tofile("x"))(rand(2))


def test_traced_value_passed_by_keyword_to_numpy():
    x = np.array([0.3, 2.0, -1.0])
    assert np.array_equal(lagrad.grad(lambda x: x[np.argmax(a=x)] * 2.0)(x), [0.0, 2.0, 0.0])
    assert np.allclose(lagrad.grad(lambda x: np.sum(a=x * x))(x), 2 * x)


def test_conversion_to_numpy_is_refused_by_the_core_alone_and_named_by_explain(monkeypatch):
    """The core refuses to drop a derivative by itself; `lagrad.explain` only adds which
    library function asked (here SciPy's, with lagrad's replacement)."""
    import scipy.linalg

    from lagrad.core import registry

    def f(x):
        return lnp.sum(scipy.linalg.expm(x))

    with pytest.raises(TypeError, match=r"scipy\.linalg\.expm was called on traced value z1; .* use lagrad\.scipy"):
        lagrad.grad(f)(np.eye(2))
    monkeypatch.setattr(registry, "explain_conversion", None)
    with pytest.raises(TypeError, match=r"^lagrad: z1 is traced and was turned into a plain NumPy array"):
        lagrad.grad(f)(np.eye(2))


@pytest.mark.parametrize(
    "call,keyword,fix",
    [
        (lambda x: np.multiply(x, x, casting="unsafe"), "casting", "astype"),
        (lambda x: np.sin(x, order="F"), "order", "drop"),
        (lambda x: np.add(x, 1.0, where=x > 0), "where", "lagrad.numpy.where"),
        (lambda x: np.matmul(x[:, None], x[None], axes=[(0, 1), (0, 1), (1, 0)]), "axes", "moveaxis"),
    ],
)
def test_a_ufunc_keyword_refused_on_traced_values_is_named_with_its_own_fix(call, keyword, fix):
    """The refusal named `where=`'s fix for any keyword (casting=, order=, subok=)."""
    with pytest.raises(TypeError, match=rf"numpy\.\w+ with \['{keyword}'\].*{fix}") as raised:
        lagrad.grad(lambda x: np.sum(call(x)))(np.ones(3))
    if keyword != "where":
        assert "where=" not in str(raised.value)
