"""scipy.linalg: triangular and Cholesky solves, expm, sqrtm, Sylvester, LU, against SciPy's values
and finite differences (both modes, second order) on small well-conditioned matrices."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

import lagrad
import lagrad.scipy.linalg as sla
from tests.conftest import rand
from tests.numpy.test_linalg import check, crand, spd, traced, well


@pytest.mark.parametrize("trans", [0, 1, 2, "T"])
@pytest.mark.parametrize("lower", [False, True])
@pytest.mark.parametrize("unit_diagonal", [False, True])
def test_solve_triangular(trans, lower, unit_diagonal):
    a, b = well(3, 3), rand(3, 2)
    kw = {"trans": trans, "lower": lower, "unit_diagonal": unit_diagonal}
    assert np.allclose(sla.solve_triangular(a, b, **kw), scipy.linalg.solve_triangular(a, b, **kw))
    check(lambda a, b: sla.solve_triangular(a, b, **kw), a, b)


def test_solve_triangular_vector_batch_complex_and_triangle_read():
    a = well(3, 3)
    check(lambda a, b: sla.solve_triangular(a, b, lower=True), a, rand(3))
    check(lambda a, b: sla.solve_triangular(a, b, lower=True), well(2, 3, 3), rand(3, 2))
    check(lambda a, b: sla.solve_triangular(a, b, trans="C"), a + 0.5j * rand(3, 3), crand(3, 2))
    g = lagrad.grad(lambda a: np.sum(sla.solve_triangular(a, np.ones(3), unit_diagonal=True)))(a)
    assert np.all(np.tril(g) == 0)  # only the strict upper triangle is read


@pytest.mark.parametrize("lower", [False, True])
def test_cholesky_cho_factor_cho_solve(lower):
    x, b = rand(3, 3), rand(3, 2)
    a = spd(x)
    assert np.allclose(sla.cholesky(a, lower=lower), scipy.linalg.cholesky(a, lower=lower))
    c0, low0 = scipy.linalg.cho_factor(a, lower=lower)
    assert np.allclose(traced(lambda a: sla.cho_factor(a, lower=lower)[0], a), c0)
    solution = traced(lambda a, b: sla.cho_solve(sla.cho_factor(a, lower=lower), b), a, b)
    assert np.allclose(solution, scipy.linalg.cho_solve((c0, low0), b))
    check(lambda x: sla.cholesky(spd(x), lower=lower), x)
    check(lambda a: sla.cho_factor(a, lower=lower)[0], a)
    check(lambda a, b: sla.cho_solve(sla.cho_factor(a, lower=lower), b), a, b)
    check(lambda a, b: sla.cho_solve(sla.cho_factor(a, lower=lower), b), a, b[:, 0])
    check(lambda x, b: sla.cho_solve(sla.cho_factor(spd(x), lower=lower), b), crand(3, 3), crand(3))


@pytest.mark.parametrize("shape", [(3, 3), (2, 2, 2)], ids=str)
@pytest.mark.parametrize("kind", ["real", "complex"])
def test_expm(shape, kind):
    a = rand(*shape) if kind == "real" else crand(*shape) / 2
    assert np.allclose(sla.expm(a), scipy.linalg.expm(a))
    check(sla.expm, a)


def test_expm_derivative_is_the_frechet_derivative():
    a, e = rand(3, 3), rand(3, 3)
    _, tangent = lagrad.jvp(sla.expm, (a,), (e,))
    assert np.allclose(tangent, scipy.linalg.expm_frechet(a, e, compute_expm=False))


@pytest.mark.parametrize("kind", ["spd", "complex", "batch"])
def test_sqrtm(kind):
    a = {"spd": spd(rand(3, 3)), "complex": spd(rand(3, 3)) + 0.5j * rand(3, 3), "batch": spd(rand(2, 2, 2))}[kind]
    if kind != "batch":
        assert np.allclose(sla.sqrtm(a), scipy.linalg.sqrtm(a))
    check(sla.sqrtm, a)


def test_sqrtm_tangent_solves_the_sylvester_equation():
    a, e = spd(rand(3, 3)), rand(3, 3)
    root, tangent = lagrad.jvp(sla.sqrtm, (a,), (e,))
    assert np.allclose(root @ tangent + tangent @ root, e)


def test_solve_sylvester():
    a, b, q = spd(rand(3, 3)), spd(rand(2, 2)), rand(3, 2)
    assert np.allclose(sla.solve_sylvester(a, b, q), scipy.linalg.solve_sylvester(a, b, q))
    check(sla.solve_sylvester, a, b, q)


@pytest.mark.parametrize("trans", [0, 1, 2])
def test_lu_factor_lu_solve(trans):
    a, b = rand(3, 3), rand(3, 2)
    lu, piv = sla.lu_factor(a)
    lu0, piv0 = scipy.linalg.lu_factor(a)
    assert np.allclose(lu, lu0) and np.array_equal(piv, piv0)
    x = traced(lambda a, b: sla.lu_solve(sla.lu_factor(a), b, trans), a, b)
    assert np.allclose(x, scipy.linalg.lu_solve((lu0, piv0), b, trans))
    check(lambda a: sla.lu_factor(a)[0], a)
    check(lambda a, b: sla.lu_solve(sla.lu_factor(a), b, trans), a, b)
    check(lambda a, b: sla.lu_solve(sla.lu_factor(a), b, trans), a + 0.5j * rand(3, 3), crand(3))


def test_inv_det_solve():
    a, b = well(3, 3), rand(3, 2)
    assert np.allclose(sla.inv(a), scipy.linalg.inv(a))
    assert np.isclose(sla.det(a), scipy.linalg.det(a))
    check(sla.inv, a)
    check(sla.det, a)
    for kw in [{}, {"transposed": True}, {"assume_a": "pos"}, {"assume_a": "pos", "lower": True}]:
        m = spd(a) if "assume_a" in kw else a
        assert np.allclose(traced(lambda m, b: sla.solve(m, b, **kw), m, b), scipy.linalg.solve(m, b, **kw))
        check(lambda m, b: sla.solve(m, b, **kw), m, b)
    for assume in ["lower triangular", "upper triangular"]:
        expected = scipy.linalg.solve(a, b, assume_a=assume)
        assert np.allclose(traced(lambda m, b: sla.solve(m, b, assume_a=assume), a, b), expected)
        check(lambda m, b: sla.solve(m, b, assume_a=assume), a, b)


def test_clear_errors():
    with pytest.raises(NotImplementedError, match="assume_a='sym' is not supported"):
        lagrad.grad(lambda a: np.sum(sla.solve(a, np.ones(2), assume_a="sym")))(rand(2, 2))
    with pytest.raises(ValueError, match="trans must be"):
        sla.solve_triangular(well(2, 2), rand(2), trans=3)
    with pytest.raises(ValueError, match="lu_factor: one square matrix"):
        sla.lu_factor(rand(2, 3, 3))
    with pytest.raises(np.linalg.LinAlgError, match="expm: the last two dimensions"):
        sla.expm(rand(2, 3))
