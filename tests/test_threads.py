"""Threads and re-entrancy: concurrent gradients, gradients inside rules, gradients of gradients.

Tracing keeps no global "current trace": a primitive records into the innermost trace
among its own arguments, and a trace's level comes from one counter. So threads that
trace at the same time never see each other's values, and a gradient may be taken
anywhere, a rule included.
"""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest
import scipy.special

import lagrad
import lagrad.numpy as lnp
from lagrad.scipy.special import expit, logsumexp
from lagrad.testing import check_grads
from tests.conftest import positive, rand


def _mlp(params, x):
    h = lnp.tanh(x @ params["w1"] + params["b1"])
    return lnp.sum(expit(h @ params["w2"]) ** 2)


def _branchy(a, b):
    x = 0.5
    for _ in range(30):
        x = a * x * (1 - x) if x < 0.5 else lnp.sin(b * x) + 0.1 * x
    return x


def _heat(alpha, u):
    for _ in range(20):
        u = u + alpha * (lnp.roll(u, 1) - 2 * u + lnp.roll(u, -1))
    return lnp.sum(u**2)


# Eight different jobs: (name, function of no arguments returning a list of arrays)
_PARAMS = {"w1": rand(3, 4), "b1": rand(4), "w2": rand(4, 2)}
_X = rand(5, 3)
_U = positive(6)
_M = rand(3, 3)
JOBS = {
    "grad of an mlp over a dict": lambda: list(lagrad.grad(_mlp)(_PARAMS, _X).values()),
    "grad of a branchy loop": lambda: list(lagrad.grad(_branchy, (0, 1))(3.7, 0.3)),
    "grad of the heat equation": lambda: list(lagrad.grad(_heat, (0, 1))(0.2, _U)),
    "hessian": lambda: [lagrad.hessian(lambda x: lnp.sum(lnp.sin(x) * x**3))(_U[:3])],
    "jvp": lambda: list(lagrad.jvp(lambda m: lnp.tanh(m @ m), (_M,), (np.ones((3, 3)),))),
    "jacobian, forward": lambda: [lagrad.jacobian(lambda x: logsumexp(x * _U[:3]) * x, mode="fwd")(_U[:3])],
    "third derivative": lambda: [lagrad.grad(lagrad.grad(lagrad.grad(lambda x: lnp.exp(-(x**2)) * x)))(0.3)],
    "vjp with a where": lambda: list(
        lagrad.vjp(lambda x: lnp.where(x > 0.5, lnp.sqrt(x), 0.0), _U)[1](np.ones(6)),
    ),
}


def _run_concurrently(jobs: dict, repeats: int) -> dict:
    """Run every job `repeats` times, all threads released at once; results per job per run."""
    results: dict = {name: [] for name in jobs}
    errors: list = []
    start = threading.Barrier(len(jobs))

    def work(name, job):
        try:
            start.wait()
            for _ in range(repeats):
                results[name].append(job())
        except BaseException as error:  # reported below, in the main thread
            errors.append((name, error))

    threads = [threading.Thread(target=work, args=item) for item in jobs.items()]
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: interleave the traces
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    assert not errors, errors
    return results


def test_eight_threads_get_what_one_thread_gets():
    serial = {name: job() for name, job in JOBS.items()}
    concurrent = _run_concurrently(JOBS, repeats=3)
    for name, runs in concurrent.items():
        assert len(runs) == 3
        for run in runs:
            for got, want in zip(run, serial[name], strict=True):
                assert np.array_equal(got, want), name  # bit for bit: the same equations, in the same order


def test_threads_sharing_one_input_array():
    # the same array differentiated by several threads at once (it is made read-only while
    # traced): every thread gets the right answer and the array is writeable afterwards
    x = rand(50)
    jobs = {f"job {k}": (lambda k=k: [lagrad.grad(lambda x: lnp.sum(lnp.sin(k * x)))(x)]) for k in range(8)}
    results = _run_concurrently(jobs, repeats=5)
    for k in range(8):
        for (g,) in results[f"job {k}"]:
            assert np.allclose(g, k * np.cos(k * x))
    assert x.flags.writeable


# ----- gradients inside rules -----------------------------------------------------------------


def _softplus_sum(x):
    return lnp.sum(lnp.log(1.0 + lnp.exp(x)))


@lagrad.primitive
def softplus_sum(x):
    """sum(log(1 + exp(x))), whose rules call lagrad.grad and lagrad.jvp themselves."""
    return np.sum(np.logaddexp(0.0, x))


lagrad.defvjp(softplus_sum, lambda g, ans, x: g * lagrad.grad(_softplus_sum)(x))
lagrad.defjvp(softplus_sum, lambda t, ans, x: lagrad.jvp(_softplus_sum, (x,), (t,))[1])


@lagrad.primitive
def logistic_only_vjp(x):
    """expit, with only a vjp rule that takes a gradient; its jvp is derived by transposition."""
    return scipy.special.expit(x)


lagrad.defvjp(logistic_only_vjp, lambda g, ans, x: g * lagrad.elementwise_grad(expit)(x))


@pytest.mark.parametrize("shape", [(), (3,), (2, 3)], ids=str)
def test_grad_inside_a_primitives_rule(shape):
    x = rand(*shape)
    assert np.allclose(lagrad.grad(softplus_sum)(x), scipy.special.expit(x))
    check_grads(lambda x: softplus_sum(x * 2.0) * lnp.sum(x), x, order=2)  # the rule's grad traced again
    check_grads(lambda x: lnp.sum(logistic_only_vjp(x) ** 2), x, order=2)
    H = lagrad.hessian(softplus_sum)(rand(3))
    assert np.allclose(H, np.diag(np.diag(H))) and np.all(np.diag(H) > 0)


def test_grad_inside_a_rule_inside_threads():
    x = rand(4)
    jobs = {f"job {k}": (lambda k=k: [lagrad.grad(lambda x: softplus_sum(k * x))(x)]) for k in range(8)}
    for k, runs in enumerate(_run_concurrently(jobs, repeats=3).values()):
        for (g,) in runs:
            assert np.allclose(g, k * scipy.special.expit(k * x))


# ----- gradients of gradients -----------------------------------------------------------------------


def test_grad_of_grad_of_grad():
    f = lambda x: lnp.exp(-(x**2)) * lnp.sin(3 * x)
    d3 = lagrad.grad(lagrad.grad(lagrad.grad(f)))
    for x in (-0.7, 0.0, 0.4, 1.3):
        # Leibniz: (ES)⁽³⁾ = E⁽³⁾S + 3E⁽²⁾S⁽¹⁾ + 3E⁽¹⁾S⁽²⁾ + ES⁽³⁾, with E = exp(-x²), S = sin(3x)
        e, s, c = np.exp(-(x**2)), np.sin(3 * x), np.cos(3 * x)
        expected = e * (s * (-8 * x**3 + 12 * x + 54 * x) + c * (9 * (4 * x**2 - 2) - 27))
        assert np.isclose(d3(x), expected, rtol=1e-12, atol=1e-12)


def test_third_order_through_containers_branches_and_where():
    def f(p):
        y = p["a"] ** 3 * lnp.where(p["a"] > 0, lnp.log(p["a"]), 0.0)
        return y + (p["b"][0] * p["a"] if p["b"][0] > 0 else -p["a"])

    def d3(a):
        return lagrad.grad(lagrad.grad(lagrad.grad(lambda a: f({"a": a, "b": [np.float64(2.0)]}))))(a)

    for a in (0.5, 1.5):  # d³/da³ [a³ log a] = 6 log a + 11
        assert np.isclose(d3(a), 6 * np.log(a) + 11, rtol=1e-12)
    with np.errstate(invalid="ignore"):  # NumPy's forward pass computes log(-0.5) on the unselected side
        assert d3(-0.5) == 0.0  # which stays zero at third order
    check_grads(lambda a: lagrad.grad(lagrad.grad(lambda a: f({"a": a, "b": [np.float64(2.0)]})))(a), 0.8, order=2)
