"""Per-call overhead of the transforms on a tiny function, where Python's work is all there is.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/overhead.py

Each row is the best of 200 short timeit windows (on a shared machine the best window is the
one nobody else's work fell into), in µs per call, and as a ratio to the NumPy function
itself in the same run (three equations on three floats).
"""

from __future__ import annotations

import timeit

import numpy as np

import lagrad
import lagrad.numpy as lnp


def f(x: np.ndarray) -> np.ndarray:
    return lnp.sum(lnp.tanh(x) * x)


def best(call: object, number: int = 20) -> float:
    return min(timeit.repeat(call, number=number, repeat=200)) / number * 1e6


def main() -> None:
    x = np.array([0.1, 0.2, 0.3])
    v = np.ones(3)
    grad, value_and_grad, jacobian, hessian = (
        lagrad.grad(f),
        lagrad.value_and_grad(f),
        lagrad.jacobian(lambda x: lnp.tanh(x) * x),
        lagrad.hessian(f),
    )
    rows = {
        "numpy f(x)": lambda: f(x),
        "grad": lambda: grad(x),
        "value_and_grad": lambda: value_and_grad(x),
        "vjp + vjp_fun": lambda: lagrad.vjp(f, x)[1](1.0),
        "jvp": lambda: lagrad.jvp(f, (x,), (v,)),
        "jacobian (3×3)": lambda: jacobian(x),
        "hessian (3×3)": lambda: hessian(x),
    }
    base = None
    for name, call in rows.items():
        t = best(call, 5 if name.startswith(("jacobian", "hessian")) else 20)
        base = base or t
        print(f"{name:16s} {t:9.1f} µs  {t / base:7.1f}×")


if __name__ == "__main__":
    main()
