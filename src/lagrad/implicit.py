"""Implicit equations: a fixed point ``z = f(z, θ)``, a root ``F(z, θ) = 0`` and an argmin
``∇g(z, θ) = 0``, each recorded as one equation whose diagonal block of ``A`` is not ``-I``.

The forward solve (plain iteration, Anderson acceleration, Newton with lagrad's own Jacobian,
or SciPy) is not recorded: the equation's blocks are the partials of the residual function at
the solution, ``(∂f/∂θ)ᵀ`` beside the diagonal and ``(∂f/∂z)ᵀ − I`` (fixed point) or
``(∂F/∂z)ᵀ`` (root, argmin: the Hessian) on it. Every solver of ``A λ = b`` meets the block
through `ImplicitBlock` (an `adjoint.system.Diagonal`) and solves it in place by its own
strategy, so memory does not grow with the number of iterations. Complex unknowns and
parameters are solved as pairs of reals (`_real_form`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.linalg
import scipy.optimize
import scipy.sparse.linalg

from . import transforms
from .adjoint import back_substitution, forward_substitution
from .adjoint.system import Diagonal
from .core import Primitive, defjvp_argnum, defvjp_argnum
from .core.primitive import defbatch
from .core.program import Constant
from .core.trace import Var
from .sparse_derivatives import Sparsity, pattern

#: Adjoint strategies for an implicit block (`ImplicitBlock`).
STRATEGIES = ("auto", "direct", "sparse", "gmres", "bicgstab", "neumann")
#: "auto" factors the block densely up to this many unknowns, and uses GMRES above.
AUTO_DIRECT = 1_000
#: A block whose condition number estimate exceeds this is refused as singular.
COND_LIMIT = 1e12
#: Arnoldi steps of the condition probe run before a Krylov or Neumann solve.
PROBE_STEPS = 10
#: The probe runs by default on blocks of at most this many unknowns (`ImplicitBlock`).
PROBE_LIMIT = 1_000
#: "auto" factors a root's or argmin's block as a sparse matrix when its Jacobian has at most
#: this many nonzeros per row on average (the pattern read off the equations), else uses GMRES.
SPARSE_ROW = 64
#: "auto"'s Neumann series gives way to GMRES when its terms shrink by less than this per term.
NEUMANN_RATE = 0.8
#: GMRES restarts after this many steps, so its basis holds at most this many vectors.
RESTART = 40


class NotConvergedError(RuntimeError):
    """An implicit equation's forward solve, or a Krylov/Neumann solve of its adjoint block,
    did not reach its tolerance: lagrad refuses to return a value or gradient from it."""


class SingularBlockError(np.linalg.LinAlgError):
    """The Jacobian block of an implicit equation is singular or too badly conditioned at
    the solution for its derivative to be trusted (the message gives the estimate)."""


def _traced(*values: Any) -> bool:
    return any(type(v) is Var for v in values)


# -- the linearisation of a residual function at one point, for plain values --------------------


class _Linearization:
    """``G(z, *θ)`` traced once at a plain point: its Jacobian-vector products in z, the
    transposed ones in z and every θ (one back-substitution for all), batched or not."""

    def __init__(self, G: Callable[..., Any], z: np.ndarray, theta: tuple[Any, ...], who: str) -> None:
        traced = transforms._trace(G, (z, *theta), {}, None, who)
        self.program, self.tape = traced.program, traced.tape
        out = self.program.outputs[0]
        self.out = None if isinstance(out, Constant) else out
        self.G, self.at = G, (z, *theta)
        self._in_z: tuple[Any, Any, Any] | None = None
        self.z_shape = np.shape(z)
        self.n = int(np.size(z))
        self._last: tuple[Any, Any, list[Any]] | None = None

    def vjp_all(self, g: Any, batched: bool = False) -> list[Any]:
        """λ of (z, *θ) for the cotangent g (None for zero), the last one remembered."""
        if self._last is not None and self._last[0] is g and self._last[1] == batched:
            return self._last[2]
        if self.out is None:
            lam = [None] * self.program.n_inputs
        else:
            lam = back_substitution(self.program, self.tape, {self.out: g}, batched=batched)[: self.program.n_inputs]
        self._last = (g, batched, lam)
        return lam

    def vjp(self, g: Any, j: int, batched: bool = False) -> Any:
        lam = self.vjp_all(g, batched)[j]
        if lam is None:
            shape = self.program.inputs[j][0]
            return np.zeros(((np.shape(g)[0],) if batched else ()) + tuple(shape))
        return lam

    def vjp_z(self, g: Any, batched: bool = False) -> Any:
        """``(∂G/∂z)ᵀ g`` alone (the block's products), on G traced with z its only input."""
        program, tape, out = self.in_z()
        lam = None if out is None else back_substitution(program, tape, {out: g}, batched=batched)[0]
        return np.zeros(((np.shape(g)[0],) if batched else ()) + self.z_shape) if lam is None else lam

    def jvp(self, t: Any, j: int, batched: bool = False) -> Any:
        if self.out is None:
            return np.zeros(((np.shape(t)[0],) if batched else ()) + self.z_shape)
        out = forward_substitution(self.program, self.tape, {j: t}, outputs=[self.out], batched=batched)[self.out]
        return np.zeros(((np.shape(t)[0],) if batched else ()) + self.z_shape) if out is None else out

    def jacobian(self, chunk: int = 256) -> np.ndarray:
        """``∂G/∂z`` as an (n, n) matrix, by batched tangent sweeps of `chunk` columns."""
        J = np.empty((self.n, self.n))
        for first in range(0, self.n, chunk):
            cols = min(chunk, self.n - first)
            seeds = np.zeros((cols, self.n))
            seeds[np.arange(cols), first + np.arange(cols)] = 1
            out = self.jvp(seeds.reshape((cols, *self.z_shape)), 0, batched=True)
            J[:, first : first + cols] = np.reshape(out, (cols, self.n)).T
        return J

    def in_z(self) -> tuple[Any, Any, Any]:
        """G traced with z its only input: (program, tape, output variable or None)."""
        if self._in_z is None:
            traced = transforms._trace(self.G, self.at, {}, 0, "fixed_point")
            out = traced.program.outputs[0]
            self._in_z = (traced.program, traced.tape, None if isinstance(out, Constant) else out)
        return self._in_z


_CACHE: list[tuple[Any, Any, tuple[Any, ...], _Linearization]] = []
_CACHE_SIZE = 4


def _linearize(G: Callable[..., Any], z: np.ndarray, theta: tuple[Any, ...], who: str) -> _Linearization:
    """The linearisation at (z, θ), kept for the few most recent points: an equation's rules
    and its diagonal block, called one after the other on the same run's values, share one."""
    for entry in _CACHE:
        same = entry[0] is G and entry[1] is z and len(entry[2]) == len(theta)
        if same and all(a is b for a, b in zip(entry[2], theta)):
            return entry[3]
    lin = _Linearization(G, z, theta, who)
    _CACHE.insert(0, (G, z, theta, lin))
    del _CACHE[_CACHE_SIZE:]
    return lin


# -- the diagonal block --------------------------------------------------------------------------


class ImplicitBlock(Diagonal):
    """``A[k, k] = (∂G/∂z)ᵀ + shift·I`` of an implicit equation at its solution: ``shift = -1``
    for a fixed point ``z = G(z, θ)``, 0 for a root ``G(z, θ) = 0``. `solve` and
    `solve_transpose` use `strategy`:

    * ``"direct"``: the dense block, LU-factored once (with a condition estimate) and reused
      for every right-hand side, batched ones in one call;
    * ``"sparse"``: the block as a sparse matrix (`_sparse_block`: the pattern of
      ``z ↦ G(z, θ)`` read off its equations and coloured by `lagrad.sparsity`, its values from
      one compressed sweep), LU-factored once by ``splu`` with a 1-norm condition estimate;
      never an (n, n) array, for large states whose Jacobian is sparse (a discretised PDE);
    * ``"gmres"``: restarted GMRES on lagrad's (transposed) Jacobian-vector products, its
      Hessenberg matrix's condition estimate checked; ``"bicgstab"``: SciPy's; not converging
      raises `NotConvergedError`;
    * ``"neumann"``: ``x = Σ Bʲ r`` with ``B = I + A[k, k]``, until a term (the partial sum's
      residual) falls below tol; one product a term and no basis: the cheapest per step;
    * ``"auto"``: ``"direct"`` up to `AUTO_DIRECT` unknowns; above, for a fixed point
      ``"neumann"`` (the forward iteration converging suggests ``∂G/∂z`` contracts), giving way
      to GMRES from its partial sum when a term shrinks by less than `NEUMANN_RATE` a step or
      the series diverges; for a root or argmin ``"sparse"`` when the pattern has at most
      `SPARSE_ROW` nonzeros a row, else ``"gmres"``.

    Before an iterative solve, `probe` (by default on blocks of at most `PROBE_LIMIT`
    unknowns) runs `_probe`. Where it does not run, a singular block whose right-hand side is
    not in its range still fails to converge (`NotConvergedError`), but one whose right-hand
    side is, is not detected by the iterative strategies: "direct" and "sparse" certify the
    block by their factors.

    With traced values (a derivative of a derivative) the block is solved by recording the
    linear solve as an implicit equation of its own, so it differentiates again.
    """

    def __init__(
        self,
        G: Callable[..., Any],
        z: Any,
        theta: tuple[Any, ...],
        *,
        shift: float,
        strategy: str = "auto",
        tol: float = 1e-12,
        max_iter: int = 1000,
        label: str = "∂f/∂z",
        who: str = "fixed_point",
        probe: bool | None = None,
        structure: Sparsity | None = None,
    ) -> None:
        super().__init__(int(np.size(z)))
        self.G, self.z, self.theta = G, z, theta
        self.shift, self.tol, self.max_iter, self.who = shift, tol, max_iter, who
        self.label = label
        self.traced = _traced(z, *theta)
        self._lu: Any = None
        #: the pattern and colouring of ``z ↦ G(z, θ)`` ("sparse"), reusable at another z, same θ
        self.structure = structure
        #: "auto" chose Neumann for a large fixed point: switch to GMRES if its terms shrink slowly
        self.fallback = strategy == "auto" and self.size > AUTO_DIRECT and shift == -1
        if strategy == "auto":
            if self.size <= AUTO_DIRECT:
                strategy = "direct"
            elif self.fallback:
                strategy = "neumann"
            else:
                strategy = "sparse" if self._sparse_enough() else "gmres"
        self.strategy = strategy
        self._probed = not (self.size <= PROBE_LIMIT if probe is None else probe)

    @property
    def lin(self) -> _Linearization:
        return _linearize(self.G, self.z, self.theta, self.who)

    # -- the block as a matrix --------------------------------------------------------------

    def dense(self) -> np.ndarray:
        """``A[k, k]`` as an (n, n) matrix (rows: the variable's scalars; columns: the equation's)."""
        return self.lin.jacobian().T + self.shift * np.eye(self.size)

    def entries(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The block's nonzeros (rows, columns, values), for ``matrix("sparse")`` and
        ``matrix("dense")``: above `AUTO_DIRECT` unknowns, or with ``"sparse"``, from the sparse
        block, so a large block is never formed as an (n, n) array."""
        if (self.strategy == "sparse" or self.size > AUTO_DIRECT) and not self.traced:
            block = self._sparse_block().tocoo()
            return block.row, block.col, block.data
        d = self.dense()
        rows, cols = np.nonzero(d)
        return rows, cols, d[rows, cols]

    def _sparse_enough(self) -> bool:
        """Whether G's Jacobian in z, its pattern read off G's equations, has at most
        `SPARSE_ROW` nonzeros per row on average ("auto"'s choice of "sparse" for a root)."""
        if self.traced:
            return False
        program, _, out = self.lin.in_z()
        if out is None:
            return False
        if self.structure is not None:
            return True
        # a few columns first, one batched product: a clearly dense Jacobian skips the pattern,
        # whose cost grows with its nonzeros (a value that happens to be 0 only sends us on to it)
        n = self.size
        columns = np.random.default_rng(0).choice(n, size=min(4, n), replace=False)
        seeds = np.zeros((len(columns), n))
        seeds[np.arange(len(columns)), columns] = 1
        sample = self.lin.jvp(seeds.reshape((len(columns), *self.lin.z_shape)), 0, batched=True)
        if np.count_nonzero(sample) > SPARSE_ROW * len(columns):
            return False
        return pattern(program).nnz <= SPARSE_ROW * n

    def _sparse_block(self) -> scipy.sparse.csc_matrix:
        """``A[k, k] = (∂G/∂z)ᵀ + shift·I`` as a sparse matrix: the pattern of ``z ↦ G(z, θ)``
        read off its equations and coloured (`lagrad.sparsity`), the values from one batched
        sweep per chunk of colours; never an (n, n) array."""
        if self.structure is None:
            G, theta = self.G, self.theta
            self.structure = Sparsity(lambda z: G(z, *theta), self.z, mode="fwd")
        J = self.structure.jacobian(self.z)
        return (J.T + self.shift * scipy.sparse.identity(self.size)).tocsc()

    def _factor(self) -> Any:
        if self._lu is None:
            d = self.dense()
            if not np.all(np.isfinite(d)):
                raise SingularBlockError(f"lagrad.{self.who}: the Jacobian block at the solution is not finite")
            with warnings.catch_warnings():  # a singular block is reported below, with its estimate
                warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
                lu, piv = scipy.linalg.lu_factor(d, check_finite=False)
            anorm = np.linalg.norm(d, 1)
            rcond = scipy.linalg.lapack.dgecon(lu, anorm, norm="1")[0] if anorm > 0 else 0.0
            if rcond * COND_LIMIT < 1:
                raise self._singular(np.inf if rcond == 0 else 1 / rcond, "from the LU factors")
            self._lu = (lu, piv)
        return self._lu

    def _product(self, x: np.ndarray, transpose: bool) -> np.ndarray:
        """``(∂G/∂z)ᵀ x`` (or ``∂G/∂z x``) by one lagrad product, x flat: the block less its shift."""
        v = np.reshape(x, self.lin.z_shape)
        out = np.ravel(self.lin.jvp(v, 0) if transpose else self.lin.vjp_z(v))
        # a rule may hand back its argument (G(z) = z + c): the solvers write into the result
        return out.copy() if np.may_share_memory(out, x) else out

    def _apply(self, x: np.ndarray, transpose: bool) -> np.ndarray:
        """``A[k, k] x`` (or ``A[k, k]ᵀ x``), x flat."""
        return self._product(x, transpose) + self.shift * x

    # -- solves -------------------------------------------------------------------------------

    def solve(self, r: Any) -> Any:
        return self._solve(r, transpose=False, batched=False)

    def solve_transpose(self, r: Any) -> Any:
        return self._solve(r, transpose=True, batched=False)

    def solve_batched(self, r: Any) -> Any:
        return self._solve(r, transpose=False, batched=True)

    def solve_transpose_batched(self, r: Any) -> Any:
        return self._solve(r, transpose=True, batched=True)

    def _solve(self, r: Any, transpose: bool, batched: bool) -> Any:
        """x from ``A x = -r`` (``Aᵀ x = -r`` with `transpose`), A this block."""
        if self.traced or _traced(r):
            if batched:
                return transforms.lnp.stack([self._solve_traced(row, transpose) for row in r])
            return self._solve_traced(r, transpose)
        r = np.asarray(r, dtype=float)
        shape = np.shape(r)
        rhs = -np.reshape(r, (-1, self.size)).T if batched else -np.ravel(r)
        if self.strategy == "direct":
            x = scipy.linalg.lu_solve(self._factor(), rhs, trans=1 if transpose else 0, check_finite=False)
        elif self.strategy == "sparse":
            x = self._sparse_solve(rhs, transpose)
        elif batched:
            x = np.stack([self._iterative(rhs[:, c], transpose) for c in range(rhs.shape[1])], axis=1)
        else:
            x = self._iterative(rhs, transpose)
        return np.reshape(x.T if batched else x, shape)

    def _sparse_factor(self) -> Any:
        """The sparse block's LU (`scipy.sparse.linalg.splu`), factored once and reused for
        every right-hand side, with a 1-norm condition estimate."""
        if self._lu is None:
            block = self._sparse_block()
            if not np.all(np.isfinite(block.data)):
                raise SingularBlockError(f"lagrad.{self.who}: the Jacobian block at the solution is not finite")
            try:
                lu = scipy.sparse.linalg.splu(block)
            except RuntimeError as error:  # "Factor is exactly singular"
                raise self._singular(np.inf, f"from the sparse LU ({error})") from None
            n = self.size
            inverse = scipy.sparse.linalg.LinearOperator(
                (n, n), matvec=lambda x: lu.solve(np.ravel(x)), rmatvec=lambda x: lu.solve(np.ravel(x), trans="T"),
                dtype=float,
            )  # fmt: skip
            norm = abs(block).sum(axis=0).max()
            cond = norm * scipy.sparse.linalg.onenormest(inverse) if n > 1 else norm * abs(lu.solve(np.ones(1))[0])
            if not np.isfinite(cond) or cond > COND_LIMIT:
                raise self._singular(cond, "from the sparse LU (1-norm estimate)")
            self._lu = lu
        return self._lu

    def _sparse_solve(self, rhs: np.ndarray, transpose: bool) -> np.ndarray:
        return self._sparse_factor().solve(np.ascontiguousarray(rhs), trans="T" if transpose else "N")

    def _singular(self, cond: float, how: str) -> SingularBlockError:
        return SingularBlockError(
            f"lagrad.{self.who}: the block {self.label} at the solution is singular or badly conditioned "
            f"(condition number estimate {cond:.3g} {how}, limit {COND_LIMIT:.0e}); the solution does not "
            f"depend smoothly on the parameters there. Check that the solution is isolated (a regular "
            f"root or a strict minimum)."
        )

    def _probe(self) -> None:
        """A lower bound on the block's condition number from `PROBE_STEPS` Arnoldi steps from a
        random vector (the singular values of the Hessenberg matrix lie within the block's):
        a Krylov solve of a consistent singular system converges without noticing, so this is
        checked before one. It certifies bad conditioning; it cannot prove a large block good:
        it finds an exactly singular block for certain only up to `PROBE_STEPS` unknowns (the
        steps then span the whole space). Above that the random start's weight on the singular
        direction (about 1/√n) must be amplified by the steps, which needs far more than
        `PROBE_STEPS` of them for a spectrum like a contraction's (a planted eigenvalue 1 among
        ones in [-0.6, 0.6] goes unseen from 20 unknowns up)."""
        if self._probed:
            return
        m = min(self.size, PROBE_STEPS)
        v = np.random.default_rng(0).standard_normal(self.size)
        Q = np.zeros((m + 1, self.size))
        Q[0] = v / np.linalg.norm(v)
        H = np.zeros((m + 1, m))
        for j in range(m):
            w = self._apply(Q[j], False)
            for _ in range(2):  # Gram-Schmidt, twice
                c = Q[: j + 1] @ w
                H[: j + 1, j] += c
                w -= c @ Q[: j + 1]
            H[j + 1, j] = np.linalg.norm(w)
            if H[j + 1, j] <= 1e-14 * max(np.abs(H).max(), 1e-300):
                H = H[: j + 2, : j + 1]
                break
            Q[j + 1] = w / H[j + 1, j]
        sv = np.linalg.svd(H, compute_uv=False)
        if not np.all(np.isfinite(sv)):
            raise SingularBlockError(f"lagrad.{self.who}: the Jacobian block at the solution is not finite")
        cond = np.inf if sv[-1] == 0 else sv[0] / sv[-1]
        if cond > COND_LIMIT:
            raise self._singular(cond, f"from {H.shape[1]} Arnoldi steps")
        self._probed = True

    def _iterative(self, b: np.ndarray, transpose: bool) -> np.ndarray:
        norm_b = np.linalg.norm(b)
        if norm_b == 0:
            return np.zeros_like(b)
        self._probe()
        if self.strategy == "neumann":
            return self._neumann(b, transpose, norm_b)
        if self.strategy == "gmres":
            return self._gmres(b, transpose, norm_b)
        if self.strategy != "bicgstab":
            raise ValueError(
                f"lagrad.{self.who}: adjoint must be one of {', '.join(STRATEGIES)}, not {self.strategy!r}"
            )
        A = scipy.sparse.linalg.LinearOperator(
            (self.size, self.size), matvec=lambda v: self._apply(np.ravel(v), transpose), dtype=float
        )
        x, info = scipy.sparse.linalg.bicgstab(A, b, rtol=self.tol, atol=0.0, maxiter=self.max_iter)
        residual = np.linalg.norm(A @ x - b) / norm_b
        if info != 0 or not residual <= max(10 * self.tol, 1e-12):
            raise self._not_converged(residual, f"info {info}")
        return x

    def _not_converged(self, residual: float, detail: str) -> NotConvergedError:
        return NotConvergedError(
            f"lagrad.{self.who}: {self.strategy} on the block {self.label} did not converge "
            f"(relative residual {residual:.3g}, tol {self.tol:.1g}, {detail}): the block may be "
            f"singular or badly conditioned. Use adjoint='direct' for its condition estimate, or "
            f"raise adjoint_max_iter."
        )

    def _neumann(self, b: np.ndarray, transpose: bool, norm_b: float) -> np.ndarray:
        """``x = -Σ Bʲ b``, ``B = I + A[k, k]``, until a term falls below ``tol·‖b‖``: the partial
        sum's residual is the next term, so this is a residual test. One product and a few
        vector operations per term, no basis kept."""
        x = -b
        term = x
        sizes = [norm_b]
        for _ in range(self.max_iter):
            new = self._product(term, transpose)
            if self.shift != -1:
                new += (1 + self.shift) * term
            term = new
            x += term
            sizes.append(np.linalg.norm(term))
            if sizes[-1] <= self.tol * norm_b:
                return x
            slow = len(sizes) > 5 and sizes[-1] > NEUMANN_RATE**5 * sizes[-6]
            if not sizes[-1] <= 1e6 * norm_b or (slow and self.fallback):  # diverging, not finite, or slow
                break
        if self.fallback and np.all(np.isfinite(x)):
            return self._gmres(b, transpose, norm_b, x)
        if self.fallback:
            return self._gmres(b, transpose, norm_b)
        raise NotConvergedError(
            f"lagrad.{self.who}: the Neumann series for the block {self.label} did not converge "
            f"in {len(sizes) - 1} terms (last term {sizes[-1] / norm_b:.3g} of the right-hand "
            f"side): the spectral radius of I + A[k, k] is not below 1 there. Use "
            f"adjoint='direct' or 'gmres'."
        )

    def _gmres(self, b: np.ndarray, transpose: bool, norm_b: float, x0: np.ndarray | None = None) -> np.ndarray:
        """GMRES restarted every `RESTART` steps, at most `max_iter` products with the block.
        The Arnoldi process runs on ``∂G/∂z`` (the same Krylov space as the block's, whose
        Hessenberg matrix is that one's plus the shift), orthogonalising by classical
        Gram-Schmidt once and again only when that cancelled most of the vector. Each restart's
        Hessenberg matrix H (``A Q_k = Q_{k+1} H``) gives a lower bound on the block's condition
        number, checked like the probe's; the answer's residual is computed again with one more
        product before it is returned."""
        n = self.size
        m = min(RESTART, n)
        x, r = (np.zeros(n), b) if x0 is None else (x0, b - self._apply(x0, transpose))
        Q = np.empty((m + 1, n))
        products, cond = 0 if x0 is None else 1, 1.0
        while True:
            beta = np.linalg.norm(r)
            Q[0] = r / beta
            H = np.zeros((m + 1, m))
            R = np.zeros((m, m))  # H rotated to upper triangular by Givens rotations (c, s)
            c, s = np.zeros(m), np.zeros(m)
            g = np.zeros(m + 1)
            g[0] = beta
            k = 0
            while k < m and products < self.max_iter:
                w = self._product(Q[k], transpose)
                products += 1
                before = np.linalg.norm(w)
                h = Q[: k + 1] @ w
                w -= h @ Q[: k + 1]
                norm_w = np.linalg.norm(w)
                if norm_w < 0.7 * before:  # cancellation: orthogonalise again ("twice is enough")
                    h2 = Q[: k + 1] @ w
                    w -= h2 @ Q[: k + 1]
                    h += h2
                    norm_w = np.linalg.norm(w)
                h[k] += self.shift
                H[: k + 1, k] = h
                H[k + 1, k] = norm_w
                column = H[: k + 2, k].copy()
                for i in range(k):
                    column[i : i + 2] = c[i] * column[i] + s[i] * column[i + 1], c[i] * column[i + 1] - s[i] * column[i]
                rho = np.hypot(column[k], column[k + 1])
                if not np.isfinite(rho):
                    raise SingularBlockError(f"lagrad.{self.who}: the Jacobian block at the solution is not finite")
                if rho == 0:
                    raise self._singular(np.inf, f"from {k + 1} GMRES steps")
                c[k], s[k] = column[k] / rho, column[k + 1] / rho
                R[:k, k] = column[:k]
                R[k, k] = rho
                g[k], g[k + 1] = c[k] * g[k], -s[k] * g[k]
                k += 1
                if abs(g[k]) <= 0.5 * self.tol * norm_b or norm_w <= 1e-14 * max(np.abs(H[: k + 1, :k]).max(), 1e-300):
                    break
                Q[k] = w / norm_w
            sv = np.linalg.svd(H[: k + 1, :k], compute_uv=False)
            cond = max(cond, np.inf if sv[-1] == 0 else sv[0] / sv[-1])
            if cond > COND_LIMIT:
                raise self._singular(cond, f"from {k} GMRES steps")
            y = scipy.linalg.solve_triangular(R[:k, :k], g[:k], check_finite=False)
            x = x + y @ Q[:k]
            r = b - self._apply(x, transpose)
            residual = np.linalg.norm(r) / norm_b
            if residual <= max(10 * self.tol, 1e-12):
                return x
            if products >= self.max_iter:
                raise self._not_converged(residual, f"{products} products")

    def _solve_traced(self, r: Any, transpose: bool) -> Any:
        """The linear solve recorded as an implicit equation itself (`linear_solve`)."""
        G, z, theta = self.G, self.z, self.theta

        def product(x: Any, z: Any, *theta: Any) -> Any:  # A[k, k] x, or its transpose
            if type(z) is Var and not z.inexact:  # an argument this trace does not differentiate:
                z = np.asarray(z)  # a constant point to linearise at (the transforms refuse it as one)
            if transpose:
                return transforms.jvp(lambda zz: G(zz, *theta), (z,), (x,))[1] + self.shift * x
            return transforms.vjp(lambda zz: G(zz, *theta), z)[1](x)[0] + self.shift * x

        def residual(x: Any, r: Any, z: Any, *theta: Any) -> Any:
            return product(x, z, *theta) + r

        x0 = np.zeros(np.shape(transforms.value(r)))
        return _implicit(
            residual, x0, (r, z, *theta), kind="root", solver="linear", tol=self.tol, max_iter=self.max_iter,
            adjoint=self.strategy, adjoint_tol=self.tol, who=self.who,
        )  # fmt: skip


# -- forward solves --------------------------------------------------------------------------


def _residual(G: Callable[..., Any], z: np.ndarray, theta: tuple[Any, ...], shift: float) -> np.ndarray:
    return np.asarray(G(z, *theta), dtype=float) + shift * z


def _not_converged(who: str, solver: str, iterations: int, res: float, tol: float, hint: str) -> NotConvergedError:
    return NotConvergedError(
        f"lagrad.{who}: solver={solver!r} did not converge in {iterations} iterations (residual "
        f"{res:.3g}, tol {tol:.1g}). {hint}"
    )


def _iterate(G: Callable[..., Any], z: np.ndarray, theta: tuple[Any, ...], tol: float, max_iter: int, who: str) -> Any:
    for it in range(max_iter):
        fz = np.asarray(G(z, *theta), dtype=float)
        res = np.max(np.abs(fz - z)) if z.size else 0.0
        z = fz
        if not np.isfinite(res):
            raise _not_converged(who, "iterate", it + 1, res, tol, "The iteration diverged: f is not a contraction.")
        if res <= tol:
            return z
    raise _not_converged(
        who, "iterate", max_iter, res, tol, "f may not be a contraction; try solver='anderson' or 'newton'."
    )


def _anderson(
    G: Callable[..., Any], z: np.ndarray, theta: tuple[Any, ...], tol: float, max_iter: int, who: str, m: int = 5
) -> Any:
    """Anderson acceleration (type II, memory m, regularised least squares): the next iterate
    is ``G(x) − Σ γ_j ΔG_j`` with γ minimising ``‖f − Σ γ_j Δf_j‖``, f = G(x) − x."""
    shape = z.shape
    x = np.ravel(z).copy()
    gx = np.ravel(np.asarray(G(z, *theta), dtype=float))
    f = gx - x
    dG, dF = np.zeros((m, x.size)), np.zeros((m, x.size))  # ring buffers of differences
    for it in range(max_iter):
        res = np.max(np.abs(f)) if x.size else 0.0
        if not np.isfinite(res):
            raise _not_converged(who, "anderson", it + 1, res, tol, "The iteration diverged.")
        if res <= tol:
            return gx.reshape(shape)
        used = min(it, m)
        if used:
            gram = dF[:used] @ dF[:used].T
            gram += (1e-10 * np.trace(gram) / used + 1e-300) * np.eye(used)
            gamma = np.linalg.solve(gram, dF[:used] @ f)
            x_new = gx - gamma @ dG[:used]
        else:
            x_new = gx
        g_new = np.ravel(np.asarray(G(x_new.reshape(shape), *theta), dtype=float))
        f_new = g_new - x_new
        np.subtract(f_new, f, out=dF[it % m])
        np.subtract(g_new, gx, out=dG[it % m])
        x, gx, f = x_new, g_new, f_new
    raise _not_converged(who, "anderson", max_iter, res, tol, "f may have no attracting fixed point near z0.")


def _newton(
    G: Callable[..., Any],
    z: np.ndarray,
    theta: tuple[Any, ...],
    shift: float,
    tol: float,
    max_iter: int,
    who: str,
    adjoint: str,
) -> Any:
    """Newton on ``G(z) + shift·z = 0``, the step from lagrad's own Jacobian (the block of the
    equation at the iterate: a dense LU up to `AUTO_DIRECT` unknowns, else by the `adjoint`
    strategy), with backtracking on the residual's norm."""
    res = _residual(G, z, theta, shift)
    structure = None  # a sparse block's pattern and colouring, kept for every step (θ is fixed)
    for it in range(max_iter):
        norm = np.max(np.abs(res)) if z.size else 0.0
        if not np.isfinite(norm):
            raise _not_converged(who, "newton", it, norm, tol, "The residual is not finite.")
        if norm <= tol:
            return z
        strategy = "direct" if z.size <= AUTO_DIRECT else adjoint
        block = ImplicitBlock(
            G, z, theta, shift=shift, strategy=strategy, tol=min(tol, 1e-10), who=who, structure=structure
        )
        step = block.solve_transpose(res)  # (∂G/∂z + shift·I) step = -res
        structure = block.structure
        t = 1.0
        for _ in range(30):
            trial = z + t * step
            new = _residual(G, trial, theta, shift)
            if (np.all(np.isfinite(new)) and np.linalg.norm(new) < np.linalg.norm(res)) or t < 1e-6:
                break
            t /= 2
        z, res = trial, new
    norm = np.max(np.abs(res))
    if norm <= tol:
        return z
    raise _not_converged(who, "newton", max_iter, norm, tol, "Start closer to the solution or raise max_iter.")


def _scipy_root(G: Callable[..., Any], z: np.ndarray, theta: tuple[Any, ...], method: str, tol: float, who: str) -> Any:
    shape = z.shape

    def fun(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        zz = x.reshape(shape)
        lin = _Linearization(G, zz, theta, who)
        return np.ravel(np.asarray(G(zz, *theta), dtype=float)), lin.jacobian()

    sol = scipy.optimize.root(fun, np.ravel(z), jac=True, method=method, tol=tol * 1e-2)
    out = sol.x.reshape(shape)
    norm = np.max(np.abs(_residual(G, out, theta, 0.0)))
    if not norm <= tol:
        raise _not_converged(who, method, int(getattr(sol, "nfev", 0)), norm, tol, f"scipy: {sol.message}")
    return out


def _linear(G: Callable[..., Any], z: np.ndarray, theta: tuple[Any, ...], shift: float, adjoint: str, tol: float,
            max_iter: int, who: str) -> Any:  # fmt: skip
    """G affine in z: ``(∂G/∂z + shift·I) z = -(G(0) + 0)``, one solve with the block."""
    zero = np.zeros_like(z)
    block = ImplicitBlock(G, zero, theta, shift=shift, strategy=adjoint, tol=tol, max_iter=max_iter, who=who)
    return block.solve_transpose(np.asarray(G(zero, *theta), dtype=float))


def _forward(*theta: Any, G: Callable[..., Any], kind: str, z0: np.ndarray, solver: str, tol: float,
             max_iter: int, adjoint: str, adjoint_tol: float, who: str,
             scalar: Callable[..., Any] | None = None) -> np.ndarray:  # fmt: skip
    """The forward solve (plain values): the primitive's implementation."""
    shift = -1.0 if kind == "fixed_point" else 0.0
    z = np.array(z0, dtype=float)
    if solver == "iterate":
        return _iterate(G, z, theta, tol, max_iter, who)
    if solver == "anderson":
        return _anderson(G, z, theta, tol, max_iter, who)
    if solver == "newton":
        return _newton(G, z, theta, shift, tol, max_iter, who, adjoint)
    if solver == "linear":
        return _linear(G, z, theta, shift, adjoint, adjoint_tol, max_iter, who)
    if kind == "argmin" and scalar is not None:
        return _scipy_minimize(scalar, G, z, theta, solver, tol, max_iter, who)
    return _scipy_root(G, z, theta, solver, tol, who)


def _scipy_minimize(g: Callable[..., Any], G: Callable[..., Any], z: np.ndarray, theta: tuple[Any, ...],
                    method: str, tol: float, max_iter: int, who: str) -> Any:  # fmt: skip
    shape = z.shape
    value_and_grad = transforms.value_and_grad(lambda zz: g(zz, *theta))

    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        v, gr = value_and_grad(x.reshape(shape))
        return float(v), np.ravel(gr)

    sol = scipy.optimize.minimize(
        fun, np.ravel(z), jac=True, method=method, options={"maxiter": max_iter, "gtol": tol * 1e-2}
    )
    out = sol.x.reshape(shape)
    if np.all(np.isfinite(out)):  # polished by Newton on ∇g: SciPy's tolerances stop short of tol
        try:
            return _newton(G, out, theta, 0.0, tol, 20, who, "auto")
        except (NotConvergedError, SingularBlockError):
            pass
    norm = np.max(np.abs(_residual(G, out, theta, 0.0)))
    raise _not_converged(who, method, int(sol.nit), norm, tol, f"scipy: {sol.message}")


# -- the primitive ---------------------------------------------------------------------------


def _shift(kind: str) -> float:
    return -1.0 if kind == "fixed_point" else 0.0


def _vjp_rule(argnum: int, g: Any, ans: Any, *theta: Any, G: Callable[..., Any], who: str, **params: Any) -> Any:
    """``(∂G/∂θ_j)ᵀ g`` at the solution: the block beside the diagonal."""
    if _traced(g, ans, *theta):
        return transforms.vjp(lambda *th: G(ans, *th), *theta)[1](g)[argnum]
    return _linearize(G, ans, theta, who).vjp(g, argnum + 1)


def _vjp_rule_batched(
    argnum: int, g: Any, ans: Any, *theta: Any, G: Callable[..., Any], who: str, **params: Any
) -> Any:
    if _traced(g, ans, *theta):
        return transforms.lnp.stack([_vjp_rule(argnum, row, ans, *theta, G=G, who=who) for row in g])
    return _linearize(G, ans, theta, who).vjp(g, argnum + 1, batched=True)


def _jvp_rule(argnum: int, t: Any, ans: Any, *theta: Any, G: Callable[..., Any], who: str, **params: Any) -> Any:
    """``∂G/∂θ_j t`` at the solution."""
    if _traced(t, ans, *theta):
        tangents = tuple(t if j == argnum else np.zeros(np.shape(transforms.value(a))) for j, a in enumerate(theta))
        return transforms.jvp(lambda *th: G(ans, *th), theta, tangents)[1]
    return _linearize(G, ans, theta, who).jvp(t, argnum + 1)


def _diagonal(equation: Any, values: Any) -> ImplicitBlock:
    p = equation.params
    ans, *theta = values
    kind = p["kind"]
    label = f"∂f{equation.out + 1}/∂z{equation.out + 1}" + ("-I" if kind == "fixed_point" else "")
    return ImplicitBlock(
        p["G"], ans, tuple(theta), shift=_shift(kind), strategy=p["adjoint"], tol=p["adjoint_tol"],
        max_iter=p["adjoint_max_iter"], label=label, who=p["who"], probe=p["adjoint_probe"],
    )  # fmt: skip


#: ``implicit(*θ, G=, kind=, ...)``: the solution z of an implicit equation (one per call of
#: `fixed_point`, `root`, `argmin`), with the blocks of ``A`` above as its rules.
implicit = Primitive(
    "implicit",
    lambda *theta, adjoint_max_iter=None, adjoint_probe=None, **params: _forward(*theta, **params),
)
defvjp_argnum(implicit, _vjp_rule)
defjvp_argnum(implicit, _jvp_rule)
defbatch(implicit, vjp_argnum=_vjp_rule_batched)
implicit.diagonal = _diagonal


def _implicit(
    G: Callable[..., Any],
    z0: Any,
    theta: tuple[Any, ...],
    *,
    kind: str,
    solver: str,
    tol: float,
    max_iter: int,
    adjoint: str,
    adjoint_tol: float | None,
    adjoint_max_iter: int = 1000,
    adjoint_probe: bool | None = None,
    who: str,
    scalar: Callable[..., Any] | None = None,
) -> Any:
    if adjoint not in STRATEGIES:
        raise ValueError(f"lagrad.{who}: adjoint must be one of {', '.join(STRATEGIES)}, not {adjoint!r}")
    if adjoint_tol is None:  # z itself is only known to tol: solving its block more finely buys nothing
        adjoint_tol = tol
    if not callable(G):
        raise TypeError(f"lagrad.{who}: the first argument must be a function of (z, *params), not {type(G).__name__}")
    for name, value in [("z0", z0), *((f"parameter {j}", p) for j, p in enumerate(theta))]:
        if isinstance(value, (list, tuple, dict)):
            raise TypeError(
                f"lagrad.{who}: {name} is a {type(value).__name__}; the unknowns and each parameter are one "
                f"array (concatenate a tree's leaves into one, or pass each leaf as its own parameter)"
            )
    if any(type(transforms.value(v)) is Var for v in (z0, *theta)):  # only lagrad.compile's trace keeps them traced
        raise NotImplementedError(
            f"lagrad.{who} inside lagrad.compile is not supported yet: the forward solve would be "
            f"baked into the compiled code. Call the function without lagrad.compile."
        )
    z0 = np.asarray(transforms.value(z0))
    if z0.dtype.kind not in "fiub":
        raise TypeError(f"lagrad.{who}: z0 must be a real or complex array (got dtype {z0.dtype})")
    z0 = z0.astype(float)
    params = []
    for j, p in enumerate(theta):
        if type(p) is not Var:
            p = np.asarray(p)
            if p.dtype.kind not in "fiu":
                raise TypeError(
                    f"lagrad.{who}: parameter {j} has dtype {p.dtype}; parameters are real or complex arrays. "
                    f"Close over other values (sizes, masks, options) in the function instead."
                )
            p = p.astype(float)
        params.append(p)
    theta = tuple(params)
    plain = tuple(transforms.value(p) for p in theta)
    probe = G(z0, *plain)
    if type(probe) is Var:
        raise TypeError(
            f"lagrad.{who}: the function reads a traced value it does not take as an argument (a "
            f"closure over a value being differentiated, or over an argument of the function being "
            f"traced); pass it after z0 as a parameter: {who}(f, z0, W, x) with f(z, W, x), or close "
            f"over plain arrays."
        )
    if np.shape(probe) != z0.shape:
        raise _shape_error(who, np.shape(probe), z0.shape)
    options = dict(solver=solver, tol=tol, max_iter=max_iter, adjoint=adjoint, adjoint_tol=adjoint_tol)
    options.update(adjoint_max_iter=adjoint_max_iter, adjoint_probe=adjoint_probe, who=who)
    return implicit(*theta, G=G, kind=kind, z0=z0, **options, **({"scalar": scalar} if scalar is not None else {}))


# -- complex unknowns and parameters, as pairs of reals ----------------------------------------


def _is_complex(value: Any) -> bool:
    return not isinstance(value, (list, tuple, dict)) and np.iscomplexobj(transforms.value(value))


def _as_pairs(c: Any) -> Any:
    """A complex array as a real one with a last axis (real part, imaginary part)."""
    lnp = transforms.lnp
    return lnp.stack([lnp.real(c), lnp.imag(c)], axis=-1)


def _from_pairs(w: Any) -> Any:
    return w[..., 0] + 1j * w[..., 1]


def _real_form(
    fun: Callable[..., Any], z0: Any, params: tuple[Any, ...], who: str, scalar: bool = False
) -> tuple[Callable[..., Any], Any, tuple[Any, ...], Callable[[Any], Any] | None]:
    """With a complex `z0` or parameter, the equation on pairs of reals: ``w = (Re z, Im z)``
    and each complex parameter likewise, `fun` called on the complex values they stand for
    (so it need not be holomorphic: ``conj``, ``abs`` are fine). The block is then the real
    Jacobian of twice the size, and the split and the rebuilt ``z = w[..., 0] + 1j w[..., 1]``
    are lagrad operations outside the implicit equation, so gradients follow lagrad's complex
    convention. Returns ``(fun, z0, params, finish)``, finish None when nothing is complex."""
    split = tuple(_is_complex(p) for p in params)
    if not (_is_complex(z0) or any(split)):
        return fun, z0, params, None
    if isinstance(z0, (list, tuple, dict)):
        return fun, z0, params, None  # refused with the fix by _implicit
    z0 = np.asarray(transforms.value(z0))
    if z0.dtype.kind not in "fiubc":
        return fun, z0, params, None
    shape = z0.shape

    def real_fun(w: Any, *theta: Any) -> Any:
        theta = tuple(_from_pairs(t) if c else t for t, c in zip(theta, split))
        out = fun(_from_pairs(w), *theta)
        if scalar:
            return out
        if np.shape(out) != shape:
            raise _shape_error(who, np.shape(out), shape)
        return _as_pairs(out)

    w0 = _as_pairs(z0.astype(complex))
    return real_fun, w0, tuple(_as_pairs(p) if c else p for p, c in zip(params, split)), _from_pairs


def _shape_error(who: str, got: tuple[int, ...], want: tuple[int, ...]) -> ValueError:
    what = {"fixed_point": "f(z0)", "argmin": "∇g(z0)"}.get(who, "F(z0)")
    return ValueError(
        f"lagrad.{who}: {what} has shape {got} but z0 has shape {want}; the equation needs one value "
        f"per unknown (an output shaped like z)"
    )


# -- the public functions ------------------------------------------------------------------


def fixed_point(
    f: Callable[..., Any],
    z0: Any,
    *params: Any,
    solver: str = "anderson",
    tol: float = 1e-12,
    max_iter: int = 1000,
    adjoint: str = "auto",
    adjoint_tol: float | None = None,
    adjoint_max_iter: int = 1000,
    adjoint_probe: bool | None = None,
) -> Any:
    """z with ``z = f(z, *params)``, from `z0`, by `solver` (``"iterate"``, ``"anderson"`` or
    ``"newton"``) to ``max|f(z) − z| ≤ tol``. Recorded as one equation: its derivative solves
    ``(I − ∂f/∂z)ᵀ λ = g`` by the `adjoint` strategy (``"auto"``, ``"direct"``, ``"gmres"``,
    ``"bicgstab"``, ``"neumann"``: `ImplicitBlock`), never through the iterations. `params` are
    the arrays f depends on (the ones to differentiate must be passed here, not closed over).
    `adjoint_tol` (by default `tol`: z is known only to that) and `adjoint_max_iter` bound the
    iterative strategies; `adjoint_probe` (by default on for blocks of at most `PROBE_LIMIT`
    unknowns) runs `PROBE_STEPS` Arnoldi steps before them, whose condition estimate refuses a
    singular block that GMRES alone would "solve". A complex `z0` or parameter makes the
    equation one on pairs of reals (`_real_form`): f need not be holomorphic."""
    if solver not in ("iterate", "anderson", "newton"):
        raise ValueError(f"lagrad.fixed_point: solver must be 'iterate', 'anderson' or 'newton', not {solver!r}")
    options = dict(tol=tol, max_iter=max_iter, adjoint=adjoint, adjoint_tol=adjoint_tol)
    options.update(adjoint_max_iter=adjoint_max_iter, adjoint_probe=adjoint_probe)
    f, z0, params, finish = _real_form(f, z0, params, "fixed_point")
    z = _implicit(f, z0, params, kind="fixed_point", solver=solver, who="fixed_point", **options)
    return z if finish is None else finish(z)


def root(
    F: Callable[..., Any],
    z0: Any,
    *params: Any,
    method: str = "newton",
    tol: float = 1e-10,
    max_iter: int = 100,
    adjoint: str = "auto",
    adjoint_tol: float | None = None,
    adjoint_max_iter: int = 1000,
    adjoint_probe: bool | None = None,
) -> Any:
    """z with ``F(z, *params) = 0``, from `z0`: ``method="newton"`` (damped Newton, the Jacobian
    from lagrad) or any `scipy.optimize.root` method (``"hybr"``, ``"lm"``, …), to
    ``max|F(z)| ≤ tol``. Its derivative solves ``(∂F/∂z)ᵀ λ = -g`` by the `adjoint` strategy.
    Options and complex values as for `fixed_point`."""
    options = dict(tol=tol, max_iter=max_iter, adjoint=adjoint, adjoint_tol=adjoint_tol)
    options.update(adjoint_max_iter=adjoint_max_iter, adjoint_probe=adjoint_probe)
    F, z0, params, finish = _real_form(F, z0, params, "root")
    z = _implicit(F, z0, params, kind="root", solver=method, who="root", **options)
    return z if finish is None else finish(z)


def argmin(
    g: Callable[..., Any],
    z0: Any,
    *params: Any,
    method: str = "newton",
    tol: float = 1e-10,
    max_iter: int = 100,
    adjoint: str = "auto",
    adjoint_tol: float | None = None,
    adjoint_max_iter: int = 1000,
    adjoint_probe: bool | None = None,
) -> Any:
    """The minimiser z of the scalar ``g(z, *params)`` near `z0`: the root of ``∇g`` (lagrad's
    gradient), by ``method="newton"`` (lagrad's Hessian) or a `scipy.optimize.minimize` method
    (``"BFGS"``, ``"L-BFGS-B"``, …), to ``max|∇g(z)| ≤ tol``. Its derivative solves with the
    Hessian of g in z on the diagonal of ``A``. A complex z is the pair (Re z, Im z) for g."""
    g, z0, params, finish = _real_form(g, z0, params, "argmin", scalar=True)
    gradient = transforms.grad(g)

    def G(z: Any, *theta: Any) -> Any:
        return gradient(z, *theta)

    scalar = g if method != "newton" else None
    options = dict(tol=tol, max_iter=max_iter, adjoint=adjoint, adjoint_tol=adjoint_tol)
    options.update(adjoint_max_iter=adjoint_max_iter, adjoint_probe=adjoint_probe)
    z = _implicit(G, z0, params, kind="argmin", solver=method, who="argmin", scalar=scalar, **options)
    return z if finish is None else finish(z)
