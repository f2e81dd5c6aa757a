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

from .control import value
from .core import Primitive
from .core.backend import in_namespace, namespace_of, numpy_dtype, to_numpy
from .core.program import flat
from .lazy import backend_name
from .transforms import _cotangent_map, _tangent_map, _trace, jvp, trace, vjp
from .tree import tree_flatten, tree_map

#: The primitives of every equation, carrying a derivative, of every program (at every
#: order) that a `check_grads` call has checked and passed.
checked_primitives: set[Primitive] = set()


def _differentiable(leaf: Any) -> bool:
    dtype = getattr(leaf, "dtype", None)
    if dtype is None:
        return isinstance(leaf, (float, complex)) and not isinstance(leaf, bool)
    return numpy_dtype(dtype).kind in "fc"


#: Up to this many real coordinates (a complex element counts two) in the arguments, the
#: whole Jacobian is compared, column by column in tangent mode and, up to as many in the
#: outputs, row by row in reverse mode.
FULL_JACOBIAN = 256
#: Random projections used where the Jacobian is not compared whole.
PROJECTIONS = 8
#: Random projections for the derivative functions that orders 2 and up check (each of
#: their evaluations is a trace: the whole Jacobian would multiply the suite's time).
HIGHER_ORDER_PROJECTIONS = 2
#: The tolerance of orders 2 and up, as a multiple of rtol: the function differenced is a
#: derivative program (its rounding is larger), and its difference quotient's truncation
#: error is a derivative higher (seen: 2.5e-6 relative through mean, kl_div and complete QR).
HIGHER_ORDER_RTOL = 10.0
#: Rounding allowance of a finite difference, in units of ``eps_machine · max|f| / eps``.
_ROUNDING = 64.0
_EPS_MACHINE = float(np.finfo(np.float64).eps)


class GradientCheckError(AssertionError):
    """A derivative disagreed with finite differences, or did not have its primal's shape."""


class _Space:
    """The real coordinates of a tree of arrays: a complex element is two, its real part then
    its imaginary part (leaf by leaf); leaves that are not float or complex have none. The
    coordinates are NumPy's; a tree made from them has its leaves in the libraries of the
    original leaves (array-api-strict, CuPy: moved back to the leaf's device)."""

    def __init__(self, tree: Any) -> None:
        leaves, self.treedef = tree_flatten(tree)
        self.like = [value(x) for x in leaves]
        self.leaves = [to_numpy(x) for x in self.like]
        self.float = [x.dtype.kind in "fc" for x in self.leaves]
        self.sizes = [(2 if x.dtype.kind == "c" else 1) * x.size if f else 0 for x, f in zip(self.leaves, self.float)]
        self.size = int(sum(self.sizes))

    def coordinates(self, tree: Any) -> np.ndarray:
        parts = []
        for x, like, f in zip(tree_flatten(tree)[0], self.leaves, self.float):
            if f:
                x = to_numpy(value(x))
                parts += [x.real.ravel(), x.imag.ravel()] if like.dtype.kind == "c" else [x.real.ravel()]
        return np.concatenate(parts).astype(np.float64) if parts else np.zeros(0)

    def tree(self, coordinates: np.ndarray, like_values: bool = False) -> Any:
        """The tree with these coordinates (zeros, as float64, where a leaf has none; the
        leaves' own values there when `like_values`)."""
        out, at = [], 0
        for x, f, n, like in zip(self.leaves, self.float, self.sizes, self.like):
            if not f:
                out.append(like if like_values else in_namespace(np.zeros(x.shape), like))
                continue
            c = coordinates[at : at + n]
            at += n
            if x.dtype.kind == "c":
                half = n // 2
                out.append(in_namespace((c[:half] + 1j * c[half:]).reshape(x.shape).astype(x.dtype), like))
            else:
                out.append(in_namespace(c.reshape(x.shape).astype(x.dtype), like))
        return self.treedef.unflatten(out)

    def name(self, k: int, what: str) -> str:
        """Where coordinate `k` is, in words."""
        for leaf, (x, n) in enumerate(zip(self.leaves, self.sizes)):
            if k < n:
                part = ""
                if x.dtype.kind == "c":
                    part = ".real" if k < n // 2 else ".imag"
                    k = k % (n // 2)
                index = np.unravel_index(k, x.shape) if x.shape else ()
                label = f"{what} {leaf + 1}" if len(self.leaves) > 1 else what
                return f"{label}[{', '.join(map(str, index))}]{part}"
            k -= n
        return f"{what}?"


def _traced_run(f: Callable[..., Any]) -> Callable[..., Any]:
    """f's value, computed by tracing it: on another namespace's arrays NumPy's own functions
    (``numpy.exp``) reach lagrad only through a traced value, as they do under a transform."""

    def run(*args: Any) -> Any:
        traced = _trace(f, args, {}, None, "check_grads")
        return traced.program.out_tree.unflatten([value(o) for o in traced.outputs])

    return run


def _like(got: Any, primal: Any, what: str) -> str | None:
    """Why the derivative `got` does not have the structure, shapes and dtypes of `primal`
    (None when it does): real leaves get real derivatives, complex leaves complex ones."""
    got_leaves, got_def = tree_flatten(got)
    leaves, treedef = tree_flatten(primal)
    if got_def != treedef:
        return f"{what} has the structure {got_def!r}, its primal {treedef!r}"
    for i, (g, p) in enumerate(zip(got_leaves, leaves)):
        where = f"{what} {i + 1} of {len(leaves)}" if len(leaves) > 1 else what
        g, p = value(g), value(p)
        if namespace_of(g) is not namespace_of(p):  # array-api-strict, CuPy: the primal's library
            return f"{where} is a {backend_name(g)} array, its primal a {backend_name(p)} array"
        g, p = to_numpy(g), to_numpy(p)
        if g.shape != p.shape:
            return f"{where} has shape {g.shape}, its primal {p.shape}"
        if p.dtype.kind in "fc" and g.dtype != p.dtype:
            return f"{where} has dtype {g.dtype}, its primal {p.dtype}"
    return None


def _fail(f: Callable[..., Any], args: tuple[Any, ...], message: str) -> None:
    try:
        listing = str(trace(f, *args))
        lines = listing.splitlines()
        if len(lines) > 40:
            listing = "\n".join([*lines[:40], f"  … ({len(lines) - 40} more)"])
    except Exception as error:  # the listing is a courtesy; the failure is what matters
        listing = f"(could not trace the function: {error})"
    raise GradientCheckError(f"{message}\n{listing}")


class _Check:
    """One function at one point: its finite differences, and the comparisons of both modes
    with them."""

    def __init__(self, f: Callable[..., Any], args: tuple[Any, ...], eps: float, rtol: float, atol: float, level: int):
        self.f, self.args, self.eps, self.rtol, self.level = f, args, eps, rtol, level
        self.inputs = _Space(args)
        self.run = f if all(namespace_of(x) is None for x in self.inputs.like) else _traced_run(f)
        self.out = self.run(*args)
        self.outputs = _Space(self.out)
        self.x = self.inputs.coordinates(args)
        scale = float(np.max(np.abs(self.outputs.coordinates(self.out)), initial=0.0))
        self.floor = atol + _ROUNDING * _EPS_MACHINE * scale / eps
        self._traced: Any = None

    def traced(self) -> Any:
        if self._traced is None:
            self._traced = _trace(self.f, self.args, {}, None, "check_grads")
        return self._traced

    def fail(self, message: str) -> None:
        _fail(self.f, self.args, f"check_grads: order-{self.level} {message}")

    def difference(self, direction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The central difference along `direction` and the direction actually taken (the
        steps as rounded in the arguments), so that rounding in x ± eps·u costs nothing."""
        plus = self.inputs.tree(self.x + self.eps * direction, like_values=True)
        minus = self.inputs.tree(self.x - self.eps * direction, like_values=True)
        taken = (self.inputs.coordinates(plus) - self.inputs.coordinates(minus)) / (2 * self.eps)
        out_plus, out_minus = self.run(*plus), self.run(*minus)
        for side in (out_plus, out_minus):
            why = _like(side, self.out, "the output at x ± eps·u")
            if why:
                self.fail(f"finite differences: {why}")
        change = self.outputs.coordinates(out_plus) - self.outputs.coordinates(out_minus)
        return change / (2 * self.eps), taken

    def tangent_map(self) -> Callable[[np.ndarray], np.ndarray]:
        """u ↦ Ju in real coordinates: jvp's forward substitution on one trace of f."""
        tangent_out = _tangent_map(self.traced())

        def apply(direction: np.ndarray) -> np.ndarray:
            t = tangent_out(self.inputs.tree(direction))
            why = _like(t, self.out, "the tangent")
            if why:
                self.fail(f"tangent mode: {why}")
            return self.outputs.coordinates(t)

        return apply

    def cotangent_map(self) -> Callable[[np.ndarray], np.ndarray]:
        """w ↦ Jᵀw in real coordinates: ``conj(vjp(conj(w)))``, the convention for complex
        numbers making ⟨u, Jᵀw⟩ = ⟨Ju, w⟩ in the real inner product. vjp's back-substitution
        on the same trace of f as the tangent map: tracing f again would record the same Program."""
        vjp_fun = _cotangent_map(self.traced())

        def apply(w: np.ndarray) -> np.ndarray:
            grads = _covector(vjp_fun(_covector(self.outputs.tree(w))))
            why = _like(grads, self.args, "the gradient")
            if why:
                self.fail(f"reverse mode: {why}")
            return self.inputs.coordinates(grads)

        return apply

    def compare(
        self, exact: np.ndarray, numeric: np.ndarray, floor: float, mode: str, where: Callable[[int], str]
    ) -> None:
        """Entry by entry, each row (an output coordinate) against its own scale."""
        exact, numeric = np.atleast_2d(exact), np.atleast_2d(numeric)
        scale = np.maximum(np.abs(exact), np.abs(numeric)).max(axis=1, initial=0.0, keepdims=True)
        error = np.abs(exact - numeric)
        bad = ~(error <= self.rtol * scale + floor)  # NaN is bad
        if bad.any():
            i, k = np.argwhere(bad)[np.argmax(np.where(bad, error, 0).ravel()[np.flatnonzero(bad.ravel())])]
            tolerance = float(self.rtol * scale[i, 0] + floor)
            self.fail(
                f"{mode} disagrees with finite differences at {where(i * exact.shape[1] + k)}: "
                f"{float(exact[i, k])!r} vs {float(numeric[i, k])!r} (tolerance {tolerance:.3g}; "
                f"{int(bad.sum())} of {bad.size} entries wrong)"
            )


def _random_like(tree: Any, rng: np.random.Generator) -> Any:
    def draw(x: Any) -> Any:
        x = np.asarray(value(x))
        r = rng.standard_normal(x.shape)
        if x.dtype.kind == "c":
            r = r + 1j * rng.standard_normal(x.shape)
        return r.astype(x.dtype if x.dtype.kind in "fc" else np.float64)

    return tree_map(draw, tree)


def _covector(tree: Any) -> Any:
    return tree_map(_conj, tree)


def _conj(x: Any) -> Any:
    xp = namespace_of(value(x))
    if xp is None:
        return np.conj(x) if np.iscomplexobj(x) else x
    return xp.conj(x) if numpy_dtype(x.dtype).kind == "c" else x


def _basis(n: int, k: int) -> np.ndarray:
    e = np.zeros(n)
    e[k] = 1.0
    return e


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
    check = _Check(f, args, eps, rtol if level == 1 else HIGHER_ORDER_RTOL * rtol, atol, level)
    n, m = check.inputs.size, check.outputs.size

    def at(k: int) -> str:  # entry k of an m × n Jacobian, in words
        return f"∂{check.outputs.name(k // n, 'output')}/∂{check.inputs.name(k % n, 'x')}"

    numeric = None
    if level == 1 and n <= FULL_JACOBIAN:  # the whole Jacobian, a column per real coordinate of the arguments
        columns = []
        for k in range(n):
            change, taken = check.difference(_basis(n, k))
            columns.append(change / taken[k])
        numeric = np.array(columns).reshape(n, m).T
        if "fwd" in modes:
            tangent = check.tangent_map()
            exact = np.array([tangent(_basis(n, k)) for k in range(n)]).reshape(n, m).T
            check.compare(exact, numeric, check.floor, "tangent mode", at)
    else:  # PROJECTIONS random directions, each with its finite difference
        directions, differences = [], []
        tangent = check.tangent_map() if "fwd" in modes else None
        for _ in range(PROJECTIONS if level == 1 else HIGHER_ORDER_PROJECTIONS):
            change, taken = check.difference(rng.standard_normal(n))
            directions.append(taken)
            differences.append(change)
            if tangent is not None:
                exact = tangent(taken)
                check.compare(
                    exact[None, :].reshape(1, m),
                    change.reshape(1, m),
                    check.floor,
                    "tangent mode (a random direction u)",
                    lambda k: f"(Ju)[{check.outputs.name(k, 'output')}]",
                )
    if "rev" in modes:
        transpose = check.cotangent_map()
        if numeric is not None and m <= FULL_JACOBIAN:  # the whole Jacobian, a row per output coordinate
            exact = np.array([transpose(_basis(m, i)) for i in range(m)]).reshape(m, n)
            check.compare(exact, numeric, check.floor, "reverse mode", at)
        elif numeric is not None:  # Jᵀw for random w, against the finite-difference Jacobian
            for _ in range(PROJECTIONS):
                w = rng.standard_normal(m)
                check.compare(
                    transpose(w).reshape(1, n),
                    (w @ numeric).reshape(1, n),
                    check.floor * float(np.abs(w).sum()),
                    "reverse mode (a random cotangent w)",
                    lambda k: f"(Jᵀw)[{check.inputs.name(k, 'x')}]",
                )
        else:  # the adjoint identity ⟨u, Jᵀw⟩ = ⟨Ju, w⟩ along each projection
            for u, ju in zip(directions, differences):
                w = rng.standard_normal(m)
                g = transpose(w)
                exact, fd = float(u @ g), float(w @ ju)
                scale = float(np.sqrt(np.sum((u * g) ** 2)) + np.sqrt(np.sum((w * ju) ** 2)))
                if not abs(exact - fd) <= check.rtol * scale + check.floor * float(np.sqrt(w @ w)):
                    check.fail(
                        f"reverse mode fails the adjoint identity ⟨u, Jᵀw⟩ = ⟨Ju, w⟩ for a random u and w: "
                        f"{exact!r} vs finite differences {fd!r} (tolerance {check.rtol * scale:.3g})"
                    )
    if order > 1:
        u = check.inputs.tree(rng.standard_normal(n))
        w = _covector(check.outputs.tree(rng.standard_normal(m)))
        if "fwd" in modes:
            _check(lambda *a: jvp(f, a, u)[1], args, modes, order - 1, rng, eps, rtol, atol, level + 1, seen)
        if "rev" in modes:
            _check(lambda *a: vjp(f, *a)[1](w), args, modes, order - 1, rng, eps, rtol, atol, level + 1, seen)
    seen.update(eq.primitive for eq in check.traced().program.equations if eq.diff)


def check_grads(
    f: Callable[..., Any],
    *args: Any,
    modes: Sequence[str] = ("fwd", "rev"),
    order: int = 2,
    eps: float = 1e-6,
    rtol: float = 1e-6,
    atol: float = 0.0,
    seed: int = 0,
) -> None:
    """Check f's derivatives in every float argument against central finite differences.

    `modes` are ``"fwd"`` (tangent mode) and ``"rev"`` (reverse mode); `order` 2 also
    checks the derivative functions x ↦ J(x)u and x ↦ J(x)ᵀw for a random u and w, and
    so on, each along `HIGHER_ORDER_PROJECTIONS` (2) random directions as below, with
    `HIGHER_ORDER_RTOL` (10) times rtol. Integer and boolean arguments are held fixed.
    Raises `GradientCheckError`, printing the Program, on a mismatch. Use float64 inputs:
    finite differences need the precision. Complex numbers count as pairs of reals, and reverse mode is checked as
    ``conj(vjp(conj(w)))``, the transpose of the tangent map in the real inner product
    (README, "Complex numbers").

    **Other array libraries.** Arguments of array-api-strict or CuPy are differentiated and
    differenced in their own library: f runs on them at x ± eps·u (the steps moved to their
    device), the tangents and cotangents are their arrays, and every derivative must come back
    as one. Only to compare the numbers are they moved to NumPy, explicitly
    (`core.backend.to_numpy`: array-api-strict's `to_device`, CuPy's `get`).

    **What is compared.** Every derivative must have its primal's structure, shape and
    dtype: a tangent that of its output, a gradient that of its argument (a real argument
    gets a real gradient). With up to `FULL_JACOBIAN` (256) real coordinates in the
    arguments, the whole Jacobian J is built by central differences, one column per
    coordinate, and compared entry by entry with tangent mode (one jvp per column) and,
    with up to 256 real coordinates in the outputs, with reverse mode (one vjp per row;
    beyond that, Jᵀw for `PROJECTIONS` random w). With more coordinates, `PROJECTIONS` (8)
    random directions u are used: Ju entry by entry against its finite difference, and
    the adjoint identity ⟨u, Jᵀw⟩ = ⟨Ju, w⟩ for a random w each.

    **Tolerances.** An entry passes when ``|exact − fd| ≤ rtol · s + atol + 64 · ε · F / eps``
    where s is the largest magnitude in its row (one output coordinate: its derivative's
    scale, of either side), F the largest magnitude of f's outputs (the function's scale,
    the rounding a difference quotient amplifies by 1/eps) and ε the float64 machine
    epsilon. No floor is absolute: a function of values near 1e-7 is checked as closely as
    one near 1. The steps are taken as rounded: the difference quotient divides by
    ``(x + eps·u) − (x − eps·u)`` as stored, not by 2·eps. For an adjoint identity, s is
    ``‖u∘Jᵀw‖ + ‖w∘Ju‖`` (the root of the summed squares of either inner product's terms).

    **Detection guarantee for projections.** Let n = 10⁴, and let reverse mode be wrong by
    δ = 1 % of the root-mean-square size σ of Jᵀw's entries in a single entry k. Then
    ⟨u, Jᵀw⟩ is off by δ·u_k, with u_k a standard normal drawn independently of the rule,
    while s ≈ 2σ√n (each inner product has n terms of size about σ). The error is
    missed only if ``|u_k| ≤ rtol · 2√n / 0.01 = 0.02`` (rtol = 1e-6), which has
    probability ``P(|N(0,1)| ≤ 0.02) ≈ 0.016``; with 8 independent projections, about
    0.016⁸ ≈ 4e-15. Tangent mode compares every entry of each Ju against the largest
    (a few times σ√n for Gaussian u): an error of 1 % of σ in one entry of J shifts one
    entry of Ju by 0.01·σ·u_k, missed only if ``|u_k| ≤ 0.04`` or so, about 0.03 per
    projection and 1e-12 for eight. Small inputs need no such argument: every entry of
    the Jacobian is compared.
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
    its outputs) by every method, and check that ``‖Aλ − b‖ ≈ 0`` for each, that every
    two methods agree on every multiplier, and that the batched solves agree with unbatched ones."""
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
    solutions = {method: system.solve(method) for method in SOLVERS}
    scale = max(1.0, max(solutions["back_substitution"].norms(), default=1.0))
    for method, solution in solutions.items():
        residual = system.residual(solution)
        if residual > atol * scale:
            raise GradientCheckError(f"check_solvers: {method} leaves ‖Aλ − b‖ = {residual:.3g}\n{system.program}")
    # flat: a multiplier of several outputs is Parts. Each solver's multipliers are flattened
    # once, and a pair whose multipliers have the same shapes is compared in one call on them all
    # end to end (the same entrywise test as one call per multiplier, which then names the first
    # that disagrees)
    flats = {method: [flat(value(x)) for x in solution.lambdas] for method, solution in solutions.items()}
    shapes = {method: [np.shape(x) for x in xs] for method, xs in flats.items()}
    joined = {method: np.concatenate([np.ravel(x) for x in xs]) if xs else np.zeros(0) for method, xs in flats.items()}
    names = list(solutions)
    for i, first in enumerate(names):  # every pair: each solver's multipliers against every other's
        for second in names[i + 1 :]:
            if len(flats[first]) != len(flats[second]):
                raise GradientCheckError(f"check_solvers: {first} and {second} give different numbers of multipliers")
            if shapes[first] == shapes[second] and np.allclose(joined[first], joined[second], rtol=atol, atol=atol):
                continue
            for k, (a, b) in enumerate(zip(flats[first], flats[second])):
                if not np.allclose(a, b, rtol=atol, atol=atol):
                    raise GradientCheckError(
                        f"check_solvers: {first} and {second} disagree on λ{k + 1} "
                        f"(max difference {np.max(np.abs(a - b)):.3g})\n{system.program}"
                    )
    _check_batched(system.program, system.tape, rng, atol)


def _check_batched(program: Any, tape: Any, rng: np.random.Generator, atol: float) -> None:
    """The solvers batched over k right-hand sides agree with k unbatched solves."""
    from .adjoint import back_substitution, forward_substitution
    from .core.program import Constant, is_parts_shape

    k = 3
    out = program.outputs[0]
    if not isinstance(out, Constant):
        shape, dtype = program.shape(out), program.dtype(out)
        seeds = rng.standard_normal((k, *shape)).astype(dtype)
        together = back_substitution(program, tape, {out: seeds}, batched=True)
        for b in range(k):
            alone = back_substitution(program, tape, {out: seeds[b]})
            for i in range(program.n_inputs):
                _agree(together[i], b, alone[i], f"batched back_substitution, λ{i + 1}", program, atol)
    tangents = {}
    for j, (shape, dtype) in enumerate(program.inputs):
        if not is_parts_shape(shape):
            t = rng.standard_normal((k, *shape))
            tangents[j] = (t + 1j * rng.standard_normal(t.shape) if np.dtype(dtype).kind == "c" else t).astype(dtype)
    outputs = [o for o in program.outputs if not isinstance(o, Constant)]
    together = forward_substitution(program, tape, tangents, outputs=outputs, batched=True)
    for b in range(k):
        alone = forward_substitution(program, tape, {j: t[b] for j, t in tangents.items()}, outputs=outputs)
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
