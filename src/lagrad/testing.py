"""`check_grads`: derivatives checked against central finite differences, in both modes.

Tangent mode is compared with the finite difference ``(f(x+εu) − f(x−εu)) / 2ε``
along a random direction `u`; reverse mode through the adjoint identity
``⟨u, Jᵀv⟩ = ⟨Ju, v⟩`` for a random cotangent `v`. Order 2 checks the
derivative functions themselves the same way, and so on.

Every check that passes adds the primitives whose derivatives it exercised to
`checked_primitives`, so a test suite can tell which primitives no check reached.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .core import Primitive
from .core.program import flat
from .transforms import _trace, jvp, trace, value, vjp
from .tree import tree_flatten, tree_map

#: The primitives of every equation, carrying a derivative, of every program (at every
#: order) that a `check_grads` call has checked and passed.
checked_primitives: set[Primitive] = set()


def _differentiable(leaf: Any) -> bool:
    dtype = getattr(leaf, "dtype", None)
    if dtype is None:
        return isinstance(leaf, (float, complex)) and not isinstance(leaf, bool)
    return np.dtype(dtype).kind in "fc"


def _random_like(tree: Any, rng: np.random.Generator) -> Any:
    def draw(x: Any) -> Any:
        x = np.asarray(value(x))
        r = rng.standard_normal(x.shape)
        if x.dtype.kind == "c":
            r = r + 1j * rng.standard_normal(x.shape)
        return r.astype(x.dtype if x.dtype.kind in "fc" else np.float64)

    return tree_map(draw, tree)


def _float_leaves(tree: Any) -> list[np.ndarray]:
    leaves = [np.asarray(value(x)) for x in tree_flatten(tree)[0]]
    return [x for x in leaves if x.dtype.kind in "fc"]


def _inner(a: Any, b: Any) -> float:
    """Real inner product of two trees with the same float leaves."""
    return float(sum(np.real(np.vdot(x, y)) for x, y in zip(_float_leaves(a), _float_leaves(b))))


def _covector(tree: Any) -> Any:
    return tree_map(lambda x: np.conj(x) if np.iscomplexobj(x) else x, tree)


def _shift(args: tuple[Any, ...], u: tuple[Any, ...], eps: float) -> tuple[Any, ...]:
    return tree_map(lambda x, d: np.asarray(x) + eps * d, args, u)


def _numeric_jvp(f: Callable[..., Any], args: tuple[Any, ...], u: tuple[Any, ...], eps: float) -> list[np.ndarray]:
    plus = _float_leaves(f(*_shift(args, u, eps)))
    minus = _float_leaves(f(*_shift(args, u, -eps)))
    return [(p - m) / (2 * eps) for p, m in zip(plus, minus)]


class GradientCheckError(AssertionError):
    """A derivative disagreed with finite differences."""


def _fail(f: Callable[..., Any], args: tuple[Any, ...], message: str) -> None:
    try:
        listing = str(trace(f, *args))
        lines = listing.splitlines()
        if len(lines) > 40:
            listing = "\n".join([*lines[:40], f"  … ({len(lines) - 40} more)"])
    except Exception as error:  # the listing is a courtesy; the failure is what matters
        listing = f"(could not trace the function: {error})"
    raise GradientCheckError(f"{message}\n{listing}")


def _check(
    f: Callable[..., Any],
    args: tuple[Any, ...],
    modes: Sequence[str],
    order: int,
    rng: np.random.Generator,
    eps: float,
    rtol: float,
    atol: float,
    level: int,
    seen: set[Primitive],
) -> None:
    u = _random_like(args, rng)
    if "fwd" in modes:
        _, t_out = jvp(f, args, u)
        exact = _float_leaves(t_out)
        numeric = _numeric_jvp(f, args, u, eps)
        for e, n in zip(exact, numeric):
            if not np.allclose(e, n, rtol=rtol, atol=atol):
                err = np.max(np.abs(e - n))
                _fail(
                    f,
                    args,
                    f"check_grads: order-{level} tangent mode disagrees with finite "
                    f"differences (max abs error {err:.3g})\n  jvp: {e}\n  fd:  {n}",
                )
        if order > 1:
            _check(lambda *a: jvp(f, a, u)[1], args, modes, order - 1, rng, eps, rtol, atol, level + 1, seen)
    if "rev" in modes:
        out, vjp_fun = vjp(f, *args)
        v = _random_like(out, rng)
        ct = _covector(vjp_fun(_covector(v)))
        exact = _inner(u, ct)
        numeric = _inner(v, _numeric_jvp(f, args, u, eps))
        if not np.isclose(exact, numeric, rtol=rtol, atol=atol):
            _fail(
                f,
                args,
                f"check_grads: order-{level} reverse mode fails the adjoint identity "
                f"⟨u, Jᵀv⟩ = ⟨Ju, v⟩: {exact!r} vs finite differences {numeric!r}",
            )
        if order > 1:
            _check(lambda *a: vjp(f, *a)[1](v), args, modes, order - 1, rng, eps, rtol, atol, level + 1, seen)
    seen.update(_differentiated(f, args))


def _differentiated(f: Callable[..., Any], args: tuple[Any, ...]) -> set[Primitive]:
    """The primitives of f's program whose equations carry a derivative."""
    program = _trace(f, args, {}, None, "check_grads").program
    return {eq.primitive for eq in program.equations if eq.diff}


def check_grads(
    f: Callable[..., Any],
    *args: Any,
    modes: Sequence[str] = ("fwd", "rev"),
    order: int = 2,
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-6,
    seed: int = 0,
) -> None:
    """Check f's derivatives in every float argument against central finite differences.

    `modes` are ``"fwd"`` (tangent mode) and ``"rev"`` (reverse mode, via the adjoint
    identity); `order` 2 also checks the derivative functions, and so on. Integer and
    boolean arguments are held fixed. Raises `GradientCheckError`, printing the Program,
    on a mismatch. Use float64 inputs: finite differences need the precision.
    """
    for mode in modes:
        if mode not in ("fwd", "rev"):
            raise ValueError(f"lagrad.check_grads: modes are 'fwd' and 'rev', not {mode!r}")
    which = [i for i, a in enumerate(args) if all(_differentiable(x) for x in tree_flatten(a)[0])]
    if not which:
        raise ValueError("lagrad.check_grads: no float argument to differentiate")

    def on_floats(*floats: Any) -> Any:
        call = list(args)
        for i, x in zip(which, floats):
            call[i] = x
        return f(*call)

    floats = tuple(np.float64(a) if isinstance(a, float) else a for a in (args[i] for i in which))
    seen: set[Primitive] = set()
    _check(on_floats, floats, modes, order, np.random.default_rng(seed), eps, rtol, atol, 1, seen)
    checked_primitives.update(seen)  # only once every check has passed


def check_solvers(f: Callable[..., Any], *args: Any, atol: float = 1e-10, seed: int = 0) -> None:
    """Solve the adjoint system of `f` (reduced to a scalar by a random weighting of
    its outputs) by every method, and check that they agree and that ``‖Aλ − b‖ ≈ 0``."""
    from .adjoint import SOLVERS
    from .numpy import sum as _sum
    from .transforms import adjoint

    rng = np.random.default_rng(seed)
    which = [i for i, a in enumerate(args) if all(_differentiable(x) for x in tree_flatten(a)[0])]
    weights = _random_like(f(*args), rng)

    def weighted(*a: Any) -> Any:
        leaves = tree_flatten(f(*a))[0]
        w = tree_flatten(weights)[0]
        total = 0.0
        for x, y in zip(leaves, w):
            if np.asarray(value(y)).dtype.kind in "fc":
                total = total + _sum(x * y)
        return total

    system = adjoint(weighted, *args, argnums=which)
    reference = system.solve("back_substitution")
    for method in SOLVERS:
        solution = system.solve(method)
        residual = system.residual(solution)
        if residual > atol * max(1.0, max(reference.norms(), default=1.0)):
            raise GradientCheckError(f"check_solvers: {method} leaves ‖Aλ − b‖ = {residual:.3g}\n{system.program}")
        for i, (a, b) in enumerate(zip(solution.lambdas, reference.lambdas)):
            a, b = flat(value(a)), flat(value(b))  # flat: a multiplier of several outputs is Parts
            if not np.allclose(a, b, rtol=atol, atol=atol):
                raise GradientCheckError(
                    f"check_solvers: {method} and back_substitution disagree on λ{i + 1} "
                    f"(max difference {np.max(np.abs(a - b)):.3g})\n{system.program}"
                )
    _check_batched(system.program, rng, atol)


def _check_batched(program: Any, rng: np.random.Generator, atol: float) -> None:
    """The solvers batched over k right-hand sides agree with k unbatched solves."""
    from .adjoint import back_substitution, forward_substitution
    from .core.program import Constant, is_parts_shape

    k = 3
    out = program.outputs[0]
    if not isinstance(out, Constant):
        shape, dtype = program.shape(out), program.dtype(out)
        seeds = rng.standard_normal((k, *shape)).astype(dtype)
        together = back_substitution(program, {out: seeds}, batched=True)
        for b in range(k):
            alone = back_substitution(program, {out: seeds[b]})
            for i in range(program.n_inputs):
                _agree(together[i], b, alone[i], f"batched back_substitution, λ{i + 1}", program, atol)
    tangents = {}
    for j, (shape, dtype) in enumerate(program.inputs):
        if not is_parts_shape(shape):
            t = rng.standard_normal((k, *shape))
            tangents[j] = (t + 1j * rng.standard_normal(t.shape) if np.dtype(dtype).kind == "c" else t).astype(dtype)
    outputs = [o for o in program.outputs if not isinstance(o, Constant)]
    together = forward_substitution(program, tangents, outputs=outputs, batched=True)
    for b in range(k):
        alone = forward_substitution(program, {j: t[b] for j, t in tangents.items()}, outputs=outputs)
        for o in outputs:
            _agree(together[o], b, alone[o], f"batched forward_substitution, z{o + 1}", program, atol)


def _agree(together: Any, b: int, alone: Any, what: str, program: Any, atol: float) -> None:
    a = None if together is None else flat(value(together[b]))
    c = None if alone is None else flat(value(alone))
    if a is None and c is None:
        return
    a = np.zeros_like(c) if a is None else a
    c = np.zeros_like(a) if c is None else c
    if not np.allclose(a, c, rtol=atol, atol=atol, equal_nan=True):
        raise GradientCheckError(
            f"check_solvers: {what} differs from the unbatched solve (row {b}, max difference "
            f"{np.max(np.abs(a - c)):.3g})\n{program}"
        )
