"""A chain of 50 different differentiable primitives on 1,000-element arrays: the
gradient's time as a ratio to the plain NumPy forward pass, for lagrad, autograd and
JAX (eager, no jit), in one run.

    python benchmarks/chain.py              # the row (peers that are not installed are skipped)
    python benchmarks/chain.py --n 200      # smaller arrays

The chain is written once, against a namespace `ops` (a NumPy-like module `m` plus
the few operations whose spelling differs between libraries: functional updates,
sigmoid and the softmax family). Target: lagrad's ratio no worse than autograd's.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np

#: The lagrad primitives the chain exercises, in the order it first uses them.
PRIMITIVES = (
    "sin", "cos", "add", "multiply", "tan", "arctan", "tanh", "subtract", "sinh", "cosh",
    "divide", "exp", "negative", "expm1", "log", "log1p", "absolute", "sqrt", "power", "positive",
    "maximum", "minimum", "remainder", "clip", "where", "real", "imag", "conjugate", "reshape", "transpose",
    "roll", "moveaxis", "matmul", "einsum", "tensordot", "getitem", "concatenate", "stack", "broadcast_to", "sum",
    "mean", "prod", "max", "min", "index_set", "index_add", "expit", "logsumexp", "softmax", "log_softmax",
)  # fmt: skip
LIBRARIES = ("lagrad", "autograd", "jax")
COLUMNS = 50  # the chain's matrices are (n / 50) × 50


def data(n: int = 1000, seed: int = 0) -> dict[str, Any]:
    """The input x (n,) and the chain's constants."""
    if n % COLUMNS or n < 2 * COLUMNS:
        raise ValueError(f"n must be a multiple of {COLUMNS}, at least {2 * COLUMNS}")
    rng = np.random.default_rng(seed)
    return {
        "x": rng.uniform(-1.0, 1.0, n),
        "c": rng.uniform(0.2, 0.6, n),
        "w1": rng.standard_normal((COLUMNS, COLUMNS)) / COLUMNS**0.5,
        "w2": rng.standard_normal((COLUMNS, COLUMNS)) / COLUMNS**0.5,
        "w3": rng.standard_normal((COLUMNS, 8)) / COLUMNS**0.5,
    }


def chain(ops: Any, d: dict[str, Any]) -> Callable[[Any], Any]:
    """The loss: x (n,) -> a scalar, through every primitive in PRIMITIVES."""
    m, c = ops.m, d["c"]
    rows = len(c) // COLUMNS

    def loss(x: Any) -> Any:
        a = m.sin(x)
        a = m.cos(a) + a
        a = m.tan(0.5 * a)
        a = m.arctan(a) - m.tanh(x)
        b = m.sinh(a) / m.cosh(a)
        b = m.exp(b) + m.expm1(m.negative(b))
        b = m.log(b + 2.0) * m.log1p(m.absolute(b))
        b = m.sqrt(b * b + 1.0)
        b = m.power(b, 1.5) + m.positive(b)
        b = m.maximum(b, c) + m.minimum(b, -c)
        b = m.remainder(b, 3.0) + m.clip(b, -0.5, 0.5)
        b = m.where(b > 1.0, b, 0.5 * b)
        z = m.exp(1j * b)
        b = m.real(z) + m.imag(z) + m.real(m.conjugate(z) * z)
        a2 = m.reshape(b, (rows, COLUMNS))
        a2 = m.transpose(a2)
        a2 = m.roll(a2, 1, axis=0)
        a2 = m.moveaxis(a2, 0, 1)
        a2 = m.matmul(a2, d["w1"])
        a2 = m.einsum("ij,jk->ik", a2, d["w2"])
        a3 = m.tensordot(a2, d["w3"], axes=1)
        a3 = m.concatenate([a3, a3[:1]], axis=0)
        s = m.sum(m.stack([a3, 2.0 * a3], axis=0), axis=0)
        s = s * m.broadcast_to(m.mean(s, axis=0, keepdims=True), s.shape)
        v = m.prod(1.0 + 0.1 * s[:2], axis=0) + m.max(s, axis=0) - m.min(s, axis=0)
        v = ops.set_at(v, 0, v[1] * v[2])
        v = ops.add_at(v, np.array([1, 1, 3]), v[:3])
        p = ops.expit(v) + ops.softmax(v) * ops.log_softmax(2.0 * v)
        return m.sum(p) + ops.logsumexp(v)

    return loss


# ----- one namespace per library -------------------------------------------------------------


def _numpy_ops(spelling: str = "fastest") -> SimpleNamespace:
    """NumPy's forward pass: ``"user"`` spells the softmax family with scipy.special and
    rolls with np.roll; ``"fastest"`` writes them op by op and rolls with two slices."""
    import scipy.special as sp

    def set_at(x: Any, i: Any, v: Any) -> Any:
        out = x.copy()
        out[i] = v
        return out

    def add_at(x: Any, i: Any, v: Any) -> Any:
        out = x.copy()
        np.add.at(out, i, v)
        return out

    if spelling == "user":
        return SimpleNamespace(
            m=np, set_at=set_at, add_at=add_at, expit=sp.expit, logsumexp=sp.logsumexp,
            softmax=sp.softmax, log_softmax=sp.log_softmax,
        )  # fmt: skip

    def roll(a: Any, shift: int, axis: int = 0) -> Any:
        assert axis == 0 and shift == 1  # the chain's one roll
        return np.concatenate((a[-1:], a[:-1]))

    def logsumexp(v: Any) -> Any:
        top = np.max(v)
        return top + np.log(np.sum(np.exp(v - top)))

    def softmax(v: Any) -> Any:
        e = np.exp(v - np.max(v))
        return e / np.sum(e)

    return SimpleNamespace(
        m=_Patched(np, roll=roll), set_at=set_at, add_at=add_at, expit=lambda v: 1 / (1 + np.exp(-v)),
        logsumexp=logsumexp, softmax=softmax, log_softmax=lambda v: v - logsumexp(v),
    )  # fmt: skip


def _lagrad_ops() -> SimpleNamespace:
    import lagrad.numpy as lnp
    from lagrad.scipy import special

    return SimpleNamespace(
        m=lnp,
        set_at=lambda x, i, v: lnp.at(x)[i].set(v),
        add_at=lambda x, i, v: lnp.at(x)[i].add(v),
        expit=special.expit,
        logsumexp=special.logsumexp,
        softmax=special.softmax,
        log_softmax=special.log_softmax,
    )


class _Patched:
    """A module with a few functions replaced (a peer's missing derivative rule)."""

    def __init__(self, module: Any, **replaced: Any) -> None:
        self._module = module
        self.__dict__.update(replaced)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)


def _autograd_ops() -> SimpleNamespace:
    import autograd.numpy as anp
    from autograd.scipy.special import expit, logsumexp

    def one_hot(x: Any, i: Any) -> Any:
        return np.bincount(np.atleast_1d(i), minlength=len(x)).astype(float)

    return SimpleNamespace(
        m=_Patched(anp, positive=lambda b: b),  # autograd has no rule for positive
        set_at=lambda x, i, v: anp.where(one_hot(x, i) > 0, v, x),  # autograd has no index update
        add_at=lambda x, i, v: x + anp.dot(np.eye(len(x))[:, i], v),
        expit=expit,
        logsumexp=logsumexp,
        softmax=lambda v: anp.exp(v - logsumexp(v)),
        log_softmax=lambda v: v - logsumexp(v),
    )


def _jax_ops() -> SimpleNamespace:
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    from jax.scipy.special import logsumexp

    return SimpleNamespace(
        m=jnp,
        set_at=lambda x, i, v: x.at[i].set(v),
        add_at=lambda x, i, v: x.at[i].add(v),
        expit=jax.nn.sigmoid,
        logsumexp=logsumexp,
        softmax=jax.nn.softmax,
        log_softmax=jax.nn.log_softmax,
    )


def build(library: str, n: int = 1000) -> Callable[[], Any]:
    """A zero-argument callable: NumPy's forward pass (``"numpy"`` its fastest spelling,
    ``"numpy-user"`` with scipy.special and np.roll), or a library's gradient."""
    d = data(n)
    if library in ("numpy", "numpy-user"):
        f = chain(_numpy_ops("user" if library == "numpy-user" else "fastest"), d)
        return lambda: f(d["x"])
    if library == "lagrad":
        import lagrad

        g = lagrad.grad(chain(_lagrad_ops(), d))
        return lambda: g(d["x"])
    if library == "autograd":
        import autograd

        g = autograd.grad(chain(_autograd_ops(), d))
        return lambda: g(d["x"])
    if library == "jax":
        import jax

        ops = _jax_ops()
        g = jax.grad(chain(ops, d))
        x = ops.m.asarray(d["x"])
        return lambda: jax.block_until_ready(g(x))
    raise ValueError(f"unknown library {library!r}")


def best_time(run: Callable[[], Any], repeats: int, budget: float = 10.0) -> float:
    """The best of `repeats` timed runs (at least 3, fewer than `repeats` past `budget` seconds)."""
    run()  # warm up
    times: list[float] = []
    deadline = time.perf_counter() + budget
    while len(times) < repeats and (len(times) < 3 or time.perf_counter() < deadline):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def available(library: str) -> bool:
    return library in ("numpy", "lagrad") or importlib.util.find_spec(library) is not None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000, help="array length (default 1000)")
    parser.add_argument("--repeats", type=int, default=20, help="timed runs per library (default 20)")
    args = parser.parse_args(argv)
    base = best_time(build("numpy", args.n), args.repeats * 5)
    user = best_time(build("numpy-user", args.n), args.repeats * 5)
    ratios: dict[str, float] = {}
    print(f"chain of {len(PRIMITIVES)} primitives, n = {args.n}: gradient time / NumPy forward pass")
    print("ratios to NumPy's fastest spelling, then to the user's (scipy.special, np.roll)")
    print(f"{'library':<10}{'time':>12}{'ratio':>9}{'÷ user':>9}")
    print(f"{'numpy':<10}{base * 1e3:>9.3f} ms{1.0:>8.1f}x{base / user:>8.1f}x   (forward pass, fastest spelling)")
    print(f"{'':<10}{user * 1e3:>9.3f} ms{user / base:>8.1f}x{1.0:>8.1f}x   (forward pass, the user's spelling)")
    for library in LIBRARIES:
        if not available(library):
            print(f"{library:<10}   not installed")
            continue
        t = best_time(build(library, args.n), args.repeats)
        ratios[library] = t / base
        print(f"{library:<10}{t * 1e3:>9.3f} ms{ratios[library]:>8.1f}x{t / user:>8.1f}x")
    if "autograd" in ratios:
        verdict = "ok" if ratios["lagrad"] <= ratios["autograd"] else "above"
        print(f"target: lagrad's ratio no worse than autograd's: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
