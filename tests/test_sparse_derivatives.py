"""Sparse Jacobians and Hessians: the pattern read off the Program contains every nonzero
(and is exact for the structural primitives), and the compressed solves agree with the dense
reverse-mode Jacobian, with central differences and with lagrad.hessian, on hand-made and
on random programs."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse
from hypothesis import HealthCheck, assume, given, settings

import lagrad
import lagrad.numpy as lnp
from lagrad import colouring
from lagrad.sparse_derivatives import pattern
from lagrad.tree import tree_flatten
from tests.test_random_programs import _tame, programs, run


def _fd_jacobian(f, x, eps=1e-6):
    columns = []
    for j in range(x.size):
        e = np.zeros_like(x)
        e[j] = eps
        columns.append((np.ravel(f(x + e)) - np.ravel(f(x - e))) / (2 * eps))
    return np.stack(columns, axis=1)


def residual(n):
    """A 2-D PDE residual: five-point Laplacian with zero boundary, a cubic, a periodic shift."""

    def f(u):
        u = lnp.reshape(u, (n, n))
        p = lnp.pad(u, 1)
        lap = p[2:, 1:-1] + p[:-2, 1:-1] + p[1:-1, 2:] + p[1:-1, :-2] - 4 * u
        return lnp.reshape(lap - u**3 + 0.1 * lnp.roll(u, 1, axis=1), (n * n,))

    return f


def _pattern_of(f, x):
    return lagrad.sparsity(f, x).pattern.toarray() != 0


@pytest.mark.parametrize("mode", ["auto", "fwd", "rev"])
def test_pde_residual_matches_dense_and_finite_differences(mode):
    n = 6
    f = residual(n)
    x = np.random.default_rng(0).uniform(-1, 1, n * n)
    J = lagrad.jacobian(f, sparse=True, mode=mode)(x)
    assert isinstance(J, scipy.sparse.csr_matrix) and J.shape == (n * n, n * n)
    dense = lagrad.jacobian(f, mode="rev")(x)
    np.testing.assert_allclose(J.toarray(), dense, rtol=0, atol=1e-12)
    np.testing.assert_allclose(J.toarray(), _fd_jacobian(f, x), atol=1e-6)
    # the five-point stencil, the diagonal and the shift: 6 nonzeros in an interior row, nothing else
    assert J.nnz == (_pattern_of(f, x)).sum() and np.array_equal(_pattern_of(f, x), dense != 0)


def test_a_kept_sparsity_is_reused_at_new_inputs():
    n = 5
    f = residual(n)
    rng = np.random.default_rng(1)
    structure = lagrad.sparsity(f, rng.uniform(-1, 1, n * n))
    assert structure.n_colours <= 7 and structure.mode in ("fwd", "rev") and "colours" in repr(structure)
    for _ in range(3):
        x = rng.uniform(-1, 1, n * n)
        np.testing.assert_allclose(structure.jacobian(x).toarray(), lagrad.jacobian(f)(x), atol=1e-12)
    assert structure.branches == 1


@pytest.mark.parametrize(
    "f",
    [
        lambda x: lnp.sin(x) * x,  # elementwise: diagonal
        lambda x: x[2:] - x[:-2],  # slices
        lambda x: lnp.roll(x, 3),
        lambda x: lnp.concatenate([x[::2], lnp.exp(x[:3])]),
        lambda x: lnp.ravel(lnp.transpose(lnp.reshape(x, (3, 4)))),
        lambda x: lnp.sum(lnp.reshape(x, (3, 4)) ** 2, axis=1),
        lambda x: lnp.prod(lnp.reshape(x, (2, 6)), axis=0),
        lambda x: lnp.ravel(lnp.cumsum(lnp.reshape(x, (3, 4)), axis=1)),
        lambda x: lnp.ravel(lnp.reshape(x, (3, 4)) @ np.arange(1.0, 9.0).reshape(4, 2)),
        lambda x: lnp.ravel(lnp.pad(lnp.reshape(x, (3, 4)), 1) * 2.0),
        lambda x: lnp.ravel(lnp.broadcast_to(x[:4], (2, 4))),
        lambda x: lnp.ravel(lnp.stack([x[:3], x[5:8]])),
        lambda x: x.at[2:5].set(lnp.cos(x[:3])),
        lambda x: x.at[1:4].add(x[5:8] ** 2),
    ],
)
def test_the_pattern_of_structural_primitives_is_exact(f):
    x = np.random.default_rng(2).uniform(0.5, 1.5, 12)
    dense = lagrad.jacobian(f)(x)
    assert np.array_equal(_pattern_of(f, x), dense != 0)
    np.testing.assert_allclose(lagrad.jacobian(f, sparse=True)(x).toarray(), dense, atol=1e-12)


@pytest.mark.parametrize(
    "f",
    [
        lambda x: lnp.sort(x) * x,  # sort: each line of the axis
        lambda x: lnp.linalg.solve(lnp.reshape(x[:9], (3, 3)) + 3 * np.eye(3), x[9:]),  # a dense block
        lambda x: lnp.ravel(lnp.outer(x[:3], x[3:6])),
        lambda x: x[np.array([0, 0, 3])] * 2.0,  # a repeated index
        lambda x: (x[:3] * 0.0).at[np.array([0, 0, 1])].add(x[3:6]),  # a scatter with a repeat
    ],
)
def test_other_primitives_give_a_pattern_that_contains_the_jacobian(f):
    x = np.random.default_rng(3).uniform(0.5, 1.5, 12)
    dense = lagrad.jacobian(f)(x)
    detected = _pattern_of(f, x)
    assert np.all(detected[dense != 0])
    np.testing.assert_allclose(lagrad.jacobian(f, sparse=True)(x).toarray(), dense, atol=1e-12)


def test_the_pattern_is_the_union_over_the_branches_taken():
    def f(x):
        if lnp.sum(x) > 0:
            return x * x[0]
        return lnp.roll(x, 1) ** 2

    up, down = np.linspace(0.1, 1.0, 6), -np.linspace(0.1, 1.0, 6)
    structure = lagrad.sparsity(f, up)
    first = structure.pattern.toarray() != 0
    np.testing.assert_allclose(structure.jacobian(down).toarray(), lagrad.jacobian(f)(down), atol=1e-12)
    assert structure.branches == 2 and "2 branches" in repr(structure)
    union = structure.pattern.toarray() != 0
    assert np.all(union[first]) and np.all(union[lagrad.jacobian(f)(down) != 0])
    np.testing.assert_allclose(structure.jacobian(up).toarray(), lagrad.jacobian(f)(up), atol=1e-12)


def energy(n):
    def e(u):
        u = lnp.reshape(u, (n, n))
        return 0.5 * lnp.sum((u[1:] - u[:-1]) ** 2) + 0.5 * lnp.sum((u[:, 1:] - u[:, :-1]) ** 2) + lnp.sum(u**4)

    return e


def test_sparse_hessian_of_local_energies():
    n = 5
    e = energy(n)
    x = np.random.default_rng(4).uniform(-1, 1, n * n)
    H = lagrad.hessian(e, sparse=True)(x)
    dense = lagrad.hessian(e)(x)
    np.testing.assert_allclose(H.toarray(), dense, atol=1e-12)
    np.testing.assert_allclose(H.toarray(), _fd_jacobian(lagrad.grad(e), x), atol=1e-5)
    structure = lagrad.sparsity(e, x, hessian=True)
    assert np.array_equal(structure.pattern.toarray() != 0, dense != 0)  # the five-point stencil
    assert structure.n_colours <= 6 and "star" in repr(structure)
    assert structure.n_colours <= colouring.columns(structure.pattern).max() + 1  # star: no more than distance-2


def test_chunks_of_colours_give_the_same_jacobian():
    f = residual(4)
    x = np.random.default_rng(5).uniform(-1, 1, 16)
    whole = lagrad.jacobian(f, sparse=True)(x)
    chunked = lagrad.jacobian(f, sparse=True, max_bytes=1)(x)  # one colour per solve
    np.testing.assert_allclose(chunked.toarray(), whole.toarray(), atol=0)


def test_a_constant_output_has_an_empty_jacobian():
    J = lagrad.jacobian(lambda x: np.ones(3), sparse=True)(np.ones(4))
    assert J.shape == (3, 4) and J.nnz == 0


@pytest.mark.parametrize("mode", ["fwd", "rev"])
def test_several_arguments_and_outputs_share_one_column_and_one_row_space(mode):
    rng = np.random.default_rng(4)

    def f(x, params, scale):
        a, b = params["a"], params["b"]
        return x[1:] * a[:-1] * scale, {"s": lnp.sin(x) * 2.0 + b, "t": lnp.sum(a * b)}

    x, params, scale = rng.standard_normal(5), {"a": rng.standard_normal(5), "b": rng.standard_normal(5)}, 1.5
    structure = lagrad.sparsity(f, x, params, scale, argnums=(0, 1), mode=mode)
    # columns: x (5), then params' leaves in tree order, a (5) and b (5); rows: 4, then s (5), t (1)
    assert structure.shape == (10, 15) and structure.mode == mode
    assert [(sl.start, sl.stop) for sl in structure.in_slices] == [(0, 5), (5, 10), (10, 15)]
    assert [(sl.start, sl.stop) for sl in structure.out_slices] == [(0, 4), (4, 9), (9, 10)]

    def flat(v):
        out = f(v[:5], {"a": v[5:10], "b": v[10:]}, scale)
        return np.concatenate([np.ravel(o) for o in tree_flatten(out)[0]])

    v = np.concatenate([x, params["a"], params["b"]])
    J = structure.jacobian(x, params, scale)
    assert scipy.sparse.issparse(J)
    np.testing.assert_allclose(J.toarray(), _fd_jacobian(flat, v), rtol=1e-6, atol=1e-7)
    # a new value of the argument not differentiated traces again, at that value
    J2 = structure.jacobian(x, params, 3.0)
    np.testing.assert_allclose(J2[:4, :5].toarray(), np.eye(4, 5, 1) * (3.0 * params["a"][:-1])[:, None], rtol=1e-12)
    dense = lagrad.jacobian(lambda x: (x, x[::-1] * 2.0), sparse=True)(np.arange(3.0))
    np.testing.assert_allclose(dense.toarray(), np.vstack([np.eye(3), 2.0 * np.eye(3)[::-1]]))


def test_jacobian_and_hessian_with_argnums_other_than_zero():
    f = lambda x, y: x * y**2 + lnp.sin(y)
    x, y = np.linspace(0.1, 0.9, 4), np.linspace(-1.0, 1.0, 4)
    J = lagrad.jacobian(f, argnums=1, sparse=True)(x, y).toarray()
    np.testing.assert_allclose(J, np.diag(2 * x * y + np.cos(y)), rtol=1e-12)  # by hand
    J01 = lagrad.jacobian(f, argnums=(0, 1), sparse=True)(x, y).toarray()
    np.testing.assert_allclose(J01, np.hstack([np.diag(y**2), np.diag(2 * x * y + np.cos(y))]), rtol=1e-12)
    H = lagrad.hessian(lambda x, y: lnp.sum(f(x, y)), argnums=1, sparse=True)(x, y).toarray()
    np.testing.assert_allclose(H, np.diag(2 * x - np.sin(y)), rtol=1e-12)


def test_sparse_hessian_of_several_arguments():
    f = lambda x, y: lnp.sum(x * y**2 + lnp.sin(x))
    x, y = np.linspace(0.1, 0.9, 4), np.linspace(-1.0, 1.0, 4)
    H = lagrad.sparsity(f, x, y, argnums=(0, 1), hessian=True).jacobian(x, y).toarray()
    # by hand: ∂²/∂x² = -sin x, ∂²/∂x∂y = 2y, ∂²/∂y² = 2x, all diagonal
    expected = np.block([[np.diag(-np.sin(x)), np.diag(2 * y)], [np.diag(2 * y), np.diag(2 * x)]])
    np.testing.assert_allclose(H, expected, rtol=1e-12, atol=1e-14)


def test_bad_uses_are_refused_with_the_fix():
    x = np.ones(3)
    with pytest.raises(ValueError, match="does not take has_aux"):
        lagrad.jacobian(lambda x: (x * 2, 1.0), has_aux=True, sparse=True)
    with pytest.raises(TypeError, match="real floats"):
        lagrad.jacobian(lambda z: z * 2, sparse=True)(np.ones(3, dtype=complex))
    with pytest.raises(ValueError, match="mode must be"):
        lagrad.sparsity(lnp.sin, x, mode="both")
    with pytest.raises(ValueError, match="order must be"):
        lagrad.sparsity(lnp.sin, x, order="random")


# ----- random programs ------------------------------------------------------------------------------


def _flat_function(spec):
    """The random program as a function of one flat array, and its inputs flattened."""
    inputs = spec.inputs()
    leaves, treedef = tree_flatten(inputs)
    shapes = [np.shape(v) for v in leaves]
    sizes = [int(np.size(v)) for v in leaves]

    def f(x):
        parts, start = [], 0
        for shape, size in zip(shapes, sizes):
            parts.append(lnp.reshape(x[start : start + size], shape))
            start += size
        return run(spec, treedef.unflatten(parts))

    x = np.concatenate([np.ravel(v) for v in leaves])
    return f, x, inputs


@settings(max_examples=10, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
@given(programs(max_steps=6))
def test_random_programs_sparse_hessian_and_jacobian_of_the_gradient(spec):
    f, x, inputs = _flat_function(spec)
    assume(_tame(spec, inputs) and x.size <= 40)
    with np.errstate(all="ignore"):
        dense = lagrad.hessian(f)(x)
        assume(np.all(np.isfinite(dense)))
        structure = lagrad.sparsity(f, x, hessian=True)
        assert np.all((structure.pattern.toarray() != 0)[dense != 0])  # every nonzero is in the pattern
        np.testing.assert_allclose(structure.jacobian(x).toarray(), dense, rtol=1e-9, atol=1e-9)
        gradient = lagrad.grad(f)
        for mode in ("fwd", "rev"):
            J = lagrad.jacobian(gradient, sparse=True, mode=mode)(x)
            np.testing.assert_allclose(J.toarray(), dense, rtol=1e-9, atol=1e-9)
        assert np.all(pattern(lagrad.trace(gradient, x)).toarray()[dense != 0] != 0)


@pytest.mark.parametrize("mode", ["fwd", "rev"])
def test_sparse_derivatives_keep_the_dense_dtype(mode):
    # float32 inputs gave a float64 sparse Jacobian and Hessian (the dense ones are float32)
    x = np.linspace(0.1, 0.9, 6).astype(np.float32)

    def f(x):
        return lnp.sin(x) * x + lnp.roll(x, 1)

    J = lagrad.jacobian(f, sparse=True, mode=mode)(x)
    dense = lagrad.jacobian(f)(x)
    assert J.dtype == dense.dtype == np.float32
    assert np.allclose(J.toarray(), np.diag(np.sin(x) + x * np.cos(x)) + np.roll(np.eye(6), 1, axis=0), atol=1e-6)
    H = lagrad.hessian(lambda x: lnp.sum(f(x) ** 2), sparse=True)(x)
    assert H.dtype == np.float32
    assert lagrad.jacobian(f, sparse=True, mode=mode)(x.astype(np.float64)).dtype == np.float64


def _counting_patterns(monkeypatch):
    """Count the patterns detected (`pattern` called) from here on."""
    from lagrad import sparse_derivatives

    made = []
    detect = sparse_derivatives.pattern
    monkeypatch.setattr(sparse_derivatives, "pattern", lambda *a, **k: made.append(1) or detect(*a, **k))
    return made


def test_the_convenience_form_detects_the_pattern_once_per_structure(monkeypatch):
    made = _counting_patterns(monkeypatch)

    def grid(u):  # the grid's side from the input's size
        return residual(round(np.shape(u)[0] ** 0.5))(u)

    J = lagrad.jacobian(grid, sparse=True)
    rng = np.random.default_rng(3)
    for _ in range(3):
        x = rng.uniform(-1, 1, 25)
        np.testing.assert_allclose(J(x).toarray(), lagrad.jacobian(residual(5))(x), atol=1e-12)
    assert len(made) == 1
    # new shapes: a pattern of their own, and the first one's still kept
    x = rng.uniform(-1, 1, 16)
    np.testing.assert_allclose(J(x).toarray(), lagrad.jacobian(residual(4))(x), atol=1e-12)
    J(rng.uniform(-1, 1, 25))
    assert len(made) == 2


def test_the_convenience_form_follows_a_branch_flip_with_the_union(monkeypatch):
    made = _counting_patterns(monkeypatch)

    def f(x):
        if x[0] > 0:
            return lnp.sin(x[1:]) * x[:-1]
        return lnp.cos(x[:-1]) * x[1:] + x[0]  # column 0 dense: not in the first branch's pattern

    J = lagrad.jacobian(f, sparse=True, mode="fwd")
    up, down = np.linspace(0.1, 1.0, 6), -np.linspace(0.1, 1.0, 6)
    for x, detected in [(up, 1), (up + 0.1, 1), (down, 2), (up, 2), (down - 0.1, 2)]:
        np.testing.assert_allclose(J(x).toarray(), lagrad.jacobian(f)(x), atol=1e-12)
        assert len(made) == detected


def test_the_convenience_form_traces_each_call_so_a_changed_closure_is_seen():
    scale = [2.0]
    J = lagrad.jacobian(lambda x: x[1:] * x[:-1] * scale[0], sparse=True)
    x = np.linspace(0.1, 1.0, 5)
    first = J(x).toarray()
    scale[0] = 3.0
    np.testing.assert_allclose(J(x).toarray(), 1.5 * first, rtol=1e-14)
    np.testing.assert_allclose(J(x).toarray(), lagrad.jacobian(lambda x: x[1:] * x[:-1] * 3.0)(x), atol=1e-14)


def test_a_sparse_hessian_convenience_form_reuses_its_star_colouring(monkeypatch):
    made = _counting_patterns(monkeypatch)
    H = lagrad.hessian(energy(4), sparse=True)
    for seed in range(3):
        x = np.random.default_rng(seed).uniform(-1, 1, 16)
        np.testing.assert_allclose(H(x).toarray(), lagrad.hessian(energy(4))(x), atol=1e-11)
    assert len(made) == 1


def test_the_pattern_of_a_product_with_a_vector_is_dense_and_exact():
    W = np.random.default_rng(0).standard_normal((4, 5))
    f = lambda x: lnp.tanh(W @ lnp.sin(x)) + x[:4]
    program = lagrad.trace(f, np.ones(5))
    assert pattern(program).toarray().all()
    x = np.linspace(0.1, 1.0, 5)
    np.testing.assert_allclose(lagrad.jacobian(f, sparse=True)(x).toarray(), lagrad.jacobian(f)(x), atol=1e-12)


def test_the_convenience_form_from_threads_on_both_branches():
    from tests.helpers import calls_from_threads

    def f(x):
        if x[0] > 0:
            return lnp.sin(x[1:]) * x[:-1]
        return lnp.cos(x[:-1]) * x[1:] + x[0]

    J = lagrad.jacobian(f, sparse=True)
    inputs = [np.linspace(0.1, 1.0, 6) * (-1) ** j * (1 + j / 10) for j in range(4)]
    expected = [lagrad.jacobian(f)(x) for x in inputs]
    for j, results in enumerate(calls_from_threads(lambda j: J(inputs[j]).toarray(), threads=4, times=5)):
        for got in results:
            np.testing.assert_allclose(got, expected[j], atol=1e-12)


def test_the_convenience_form_takes_each_call_s_other_arguments():
    f = lambda x, y: x * y**2 + lnp.sin(y)
    J = lagrad.jacobian(f, argnums=1, sparse=True)
    y = np.linspace(-1.0, 1.0, 4)
    for x in (np.linspace(0.1, 0.9, 4), np.linspace(2.0, 3.0, 4)):  # x a constant of each trace
        np.testing.assert_allclose(J(x, y).toarray(), np.diag(2 * x * y + np.cos(y)), rtol=1e-12)  # by hand
