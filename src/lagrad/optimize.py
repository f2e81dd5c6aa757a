"""`lagrad.optimize`: minimisation with lagrad's derivatives.

`minimize` and `maximize` wrap ``scipy.optimize.minimize`` for functions of nested
containers (dicts, lists, tuples) of arrays: the parameters travel to SciPy as one
flat vector and come back in their own structure, the gradient is a
back-substitution of the function's adjoint system, and the methods that can use
second derivatives get Hessian-vector products (forward mode over reverse) or,
for the two that need the whole matrix, the Hessian. `sgd` and `adam` are small
steppers for training loops that compute their own gradients.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from . import numpy as lnp
from .transforms import hessian, hvp, value_and_grad
from .tree import TreeDef, tree_flatten

if TYPE_CHECKING:  # scipy.optimize is imported when first used: `import lagrad` stays light
    import scipy.optimize

__all__ = ["Stepper", "adam", "maximize", "minimize", "sgd"]

#: Methods that use no derivative: lagrad only evaluates the function.
DERIVATIVE_FREE = frozenset({"nelder-mead", "powell", "cobyla", "cobyqa"})
#: Methods that take a Hessian-vector product (``hessp``).
HESSP_METHODS = frozenset({"newton-cg", "trust-ncg", "trust-krylov", "trust-constr"})
#: Methods that need the whole Hessian (``hess``), built from n Hessian-vector products.
HESS_METHODS = frozenset({"dogleg", "trust-exact"})
#: SciPy's own keywords of minimize; any other keyword is a solver option.
_SCIPY_KEYWORDS = ("bounds", "constraints", "tol", "callback", "options")


class _Flat:
    """A tree of float arrays seen as one float64 vector, and back."""

    def __init__(self, x0: Any, who: str) -> None:
        leaves, self.tree = tree_flatten(x0)
        if not leaves:
            raise ValueError(f"lagrad.optimize.{who}: x0 holds no arrays to optimise")
        self.shapes: list[tuple[int, ...]] = []
        self.dtypes: list[Any] = []
        for j, leaf in enumerate(leaves):
            dtype = np.result_type(leaf)
            if dtype.kind == "c":
                raise TypeError(
                    f"lagrad.optimize.{who}: leaf {self.tree.paths()[j] or 'x0'} of x0 is complex; "
                    f"scipy.optimize works on real vectors. Optimise its real and imaginary parts "
                    f"as two real arrays."
                )
            if dtype.kind not in "iuf":
                raise TypeError(f"lagrad.optimize.{who}: leaf {self.tree.paths()[j] or 'x0'} of x0 is not numeric")
            self.shapes.append(tuple(np.shape(leaf)))
            self.dtypes.append(dtype if dtype.kind == "f" else np.dtype(np.float64))
        self.sizes = [int(np.prod(s, dtype=np.int64)) for s in self.shapes]
        self.x0 = self.ravel(leaves)

    @property
    def size(self) -> int:
        return sum(self.sizes)

    def ravel(self, leaves: list[Any]) -> np.ndarray:
        return np.concatenate([np.ravel(np.asarray(x, dtype=np.float64)) for x in leaves])

    def ravel_tree(self, tree: Any) -> np.ndarray:
        return self.ravel(self.tree.flatten(tree))

    def unravel(self, vector: Any) -> Any:
        """The tree for a flat vector: plain arrays in x0's dtypes, or (on a traced
        vector) traced slices."""
        leaves, start = [], 0
        traced = not isinstance(vector, np.ndarray)
        for shape, size, dtype in zip(self.shapes, self.sizes, self.dtypes):
            piece = vector[start : start + size]
            leaves.append(lnp.reshape(piece, shape) if traced else piece.reshape(shape).astype(dtype))
            start += size
        return self.tree.unflatten(leaves)


def _bounds(bounds: Any, flat: _Flat, who: str) -> Any:
    """SciPy Bounds from ``(lower, upper)``, each None, a number or a tree like x0."""
    import scipy.optimize

    if bounds is None or isinstance(bounds, scipy.optimize.Bounds):
        return bounds
    if not (isinstance(bounds, (tuple, list)) and len(bounds) == 2):
        raise TypeError(
            f"lagrad.optimize.{who}: bounds must be (lower, upper), each None, a number or shaped "
            f"like x0, or a scipy.optimize.Bounds over the flat vector; got {type(bounds).__name__}"
        )

    def side(limit: Any, fill: float, name: str) -> np.ndarray:
        if limit is None:
            return np.full(flat.size, fill)
        if np.ndim(limit) == 0 and not isinstance(limit, (dict, list, tuple)):
            return np.full(flat.size, float(limit))
        try:
            leaves = flat.tree.flatten(limit)
        except ValueError as error:
            raise ValueError(
                f"lagrad.optimize.{who}: the {name} bound must be None, a number or shaped like x0 "
                f"({flat.tree!r}): {error}"
            ) from None
        parts = [
            np.broadcast_to(np.asarray(fill if b is None else b, dtype=np.float64), shape).ravel()
            for b, shape in zip(leaves, flat.shapes)
        ]
        return np.concatenate(parts)

    return scipy.optimize.Bounds(side(bounds[0], -np.inf, "lower"), side(bounds[1], np.inf, "upper"))


def minimize(
    fun: Callable[..., Any],
    x0: Any,
    args: tuple[Any, ...] = (),
    method: str | Callable[..., Any] = "L-BFGS-B",
    *,
    bounds: Any = None,
    constraints: Any = (),
    tol: float | None = None,
    callback: Callable[[Any], Any] | None = None,
    options: dict[str, Any] | None = None,
    **solver_options: Any,
) -> scipy.optimize.OptimizeResult:
    """Minimise ``fun(x, *args)`` (a scalar) over `x`, a nested container of float arrays
    shaped like `x0`, with ``scipy.optimize.minimize`` and lagrad's derivatives.

    Every method of SciPy's works: the gradient methods get ``jac`` (one
    back-substitution per evaluation, returned with the value), ``Newton-CG``,
    ``trust-ncg``, ``trust-krylov`` and ``trust-constr`` also get ``hessp`` (forward
    over reverse), ``dogleg`` and ``trust-exact`` the Hessian, the derivative-free
    ones only values, and a method given as a callable ``jac`` and ``hessp``.
    `bounds` is ``(lower, upper)``, each None, a number or a tree like `x0` (or a
    ``scipy.optimize.Bounds`` over the flat vector); `constraints` go to SciPy as
    they are and see the flat vector. Further keywords (``maxiter=200``,
    ``gtol=1e-8``) are the method's options. `callback` is called with `x` in its
    own structure. In the result, ``x`` (and ``jac``, when SciPy gives one) have the
    structure of `x0`.
    """
    return _minimize(
        fun, x0, args, method, 1.0, "minimize", bounds, constraints, tol, callback, options, solver_options
    )


def maximize(
    fun: Callable[..., Any],
    x0: Any,
    args: tuple[Any, ...] = (),
    method: str | Callable[..., Any] = "L-BFGS-B",
    *,
    bounds: Any = None,
    constraints: Any = (),
    tol: float | None = None,
    callback: Callable[[Any], Any] | None = None,
    options: dict[str, Any] | None = None,
    **solver_options: Any,
) -> scipy.optimize.OptimizeResult:
    """Maximise ``fun(x, *args)`` by minimising its negation (see `minimize` for the
    arguments). The result reports the maximum: ``fun`` is the largest value found
    and ``jac`` the gradient of `fun` itself there, not of its negation."""
    return _minimize(
        fun, x0, args, method, -1.0, "maximize", bounds, constraints, tol, callback, options, solver_options
    )


def _minimize(
    fun: Callable[..., Any],
    x0: Any,
    args: tuple[Any, ...],
    method: Any,
    sign: float,
    who: str,
    bounds: Any,
    constraints: Any,
    tol: float | None,
    callback: Callable[[Any], Any] | None,
    options: dict[str, Any] | None,
    solver_options: dict[str, Any],
) -> scipy.optimize.OptimizeResult:
    import scipy.optimize

    if not isinstance(args, tuple):
        args = (args,)
    flat = _Flat(x0, who)
    name = method.lower() if isinstance(method, str) else None

    def objective(x: Any, *rest: Any) -> Any:
        return fun(x, *rest) if sign > 0 else -fun(x, *rest)

    def value(v: np.ndarray, *rest: Any) -> float:
        return float(np.real(objective(flat.unravel(v), *rest)))

    gradient = value_and_grad(objective)

    def value_and_gradient(v: np.ndarray, *rest: Any) -> tuple[float, np.ndarray]:
        out, g = gradient(flat.unravel(v), *rest)
        return float(out), flat.ravel_tree(g)

    hessian_vector = hvp(objective)

    def hessp(v: np.ndarray, p: np.ndarray, *rest: Any) -> np.ndarray:
        return flat.ravel_tree(hessian_vector(flat.unravel(v), *rest, flat.unravel(p)))

    on_flat = hessian(lambda v, *rest: objective(flat.unravel(v), *rest))

    def hess(v: np.ndarray, *rest: Any) -> np.ndarray:
        return np.asarray(on_flat(v, *rest))

    kwargs: dict[str, Any] = {"args": args, "method": method, "tol": tol}
    if name in DERIVATIVE_FREE:
        kwargs["fun"] = value
    else:
        kwargs["fun"], kwargs["jac"] = value_and_gradient, True
        if name in HESSP_METHODS or name is None:  # a method of the user's own may use hessp
            kwargs["hessp"] = hessp
        elif name in HESS_METHODS:
            kwargs["hess"] = hess
    if bounds is not None:
        kwargs["bounds"] = _bounds(bounds, flat, who)
    if constraints:
        kwargs["constraints"] = constraints
    if callback is not None:
        kwargs["callback"] = lambda xk, *rest: callback(flat.unravel(np.asarray(xk)))
    merged = {**(options or {}), **solver_options}
    if merged:
        kwargs["options"] = merged
    result = scipy.optimize.minimize(x0=flat.x0, **kwargs)
    result.x = flat.unravel(np.asarray(result.x))
    if "fun" in result:
        result.fun = sign * float(result.fun)
    if "jac" in result and np.size(result.jac) == flat.size:
        result.jac = flat.unravel(sign * np.asarray(result.jac, dtype=np.float64))
    return result


# -- steppers for training loops -----------------------------------------------------------


class Stepper:
    """A first-order update rule with its state: ``params = stepper.step(params, grads)``.

    `params` and `grads` are nested containers of arrays of the same structure; the
    state (velocities, moment estimates) is kept per leaf and made on the first
    step. The learning rate may be a number or a function of the step count
    (1, 2, ...). Built by `sgd` and `adam`.
    """

    def __init__(
        self,
        name: str,
        learning_rate: float | Callable[[int], float],
        init: Callable[[Any], Any],
        update: Callable[[Any, Any, Any, Any, int], tuple[Any, Any]],
    ) -> None:
        self.name = name
        self.learning_rate = learning_rate
        self._init = init
        self._update = update
        self.count = 0
        self.state: list[Any] | None = None
        self._tree: TreeDef | None = None

    def rate(self) -> Any:
        """The learning rate of the coming step (kept as given: a traced rate stays traced,
        so a step can be differentiated with respect to it)."""
        lr = self.learning_rate
        return lr(self.count + 1) if callable(lr) else lr

    def step(self, params: Any, grads: Any) -> Any:
        """New parameters, one step down `grads` (the gradient of the loss at `params`)."""
        leaves, tree = tree_flatten(params)
        try:
            grad_leaves = tree.flatten(grads)
        except ValueError as error:
            raise ValueError(f"lagrad.optimize.{self.name}: grads must have the structure of params: {error}") from None
        if self.state is None:
            self.state = [self._init(p) for p in leaves]
            self._tree = tree
        elif tree != self._tree:
            raise ValueError(
                f"lagrad.optimize.{self.name}: params changed structure since the first step "
                f"({self._tree!r} → {tree!r}); make a new stepper (or call reset()) for new parameters"
            )
        rate = self.rate()
        self.count += 1
        new_leaves = []
        for j, (p, g) in enumerate(zip(leaves, grad_leaves)):
            p_new, self.state[j] = self._update(p, g, self.state[j], rate, self.count)
            new_leaves.append(p_new)
        return tree.unflatten(new_leaves)

    def reset(self) -> None:
        """Forget the state and the step count."""
        self.count, self.state, self._tree = 0, None, None

    def __repr__(self) -> str:
        return f"<lagrad.optimize.{self.name}: {self.count} steps>"


def sgd(learning_rate: float | Callable[[int], float] = 0.01, momentum: float = 0.0) -> Stepper:
    """Gradient descent, with heavy-ball momentum when `momentum` > 0:
    ``v ← momentum·v + g``, ``p ← p − learning_rate·v``."""
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"lagrad.optimize.sgd: momentum must be in [0, 1), not {momentum!r}")

    def update(p: Any, g: Any, v: Any, lr: Any, t: int) -> tuple[Any, Any]:
        g = _descent(g)
        v = g if v is None else momentum * v + g
        return p - lr * v, (v if momentum else None)

    return Stepper("sgd", learning_rate, lambda p: None, update)


def adam(
    learning_rate: float | Callable[[int], float] = 1e-3, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8
) -> Stepper:
    """Adam (Kingma and Ba, 2015): moving averages of the gradient and of its square,
    bias-corrected, ``p ← p − learning_rate·m̂ / (√v̂ + eps)``."""
    for name, b in (("b1", b1), ("b2", b2)):
        if not 0.0 <= b < 1.0:
            raise ValueError(f"lagrad.optimize.adam: {name} must be in [0, 1), not {b!r}")

    def update(p: Any, g: Any, state: Any, lr: Any, t: int) -> tuple[Any, Any]:
        m, v = state
        g = _descent(g)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * _squares(g)
        m_hat = m / (1 - b1**t)
        v_hat = v / (1 - b2**t)
        return p - lr * _normalised(m_hat, v_hat, eps), (m, v)

    return Stepper("adam", learning_rate, lambda p: (np.zeros_like(p), np.zeros_like(p)), update)


# A complex parameter is stepped as its real and imaginary parts, two real parameters (as
# PyTorch's optimisers do), against the gradient lagrad gives: ∂L/∂x − i ∂L/∂y for a real loss L
# of z = x + iy (autograd's and JAX's convention), whose conjugate is the direction of steepest
# ascent. Subtracting the gradient itself would climb in y.


def _descent(g: Any) -> Any:
    """The gradient as a step subtracts it: itself for a real parameter, its conjugate
    ``∂L/∂x + i ∂L/∂y`` for a complex one."""
    return lnp.conj(g) if np.iscomplexobj(g) else g


def _squares(g: Any) -> Any:
    """Adam's squared gradient; for a complex parameter its real and imaginary parts' squares,
    apart (the real and imaginary parts of the result)."""
    return lnp.real(g) ** 2 + 1j * lnp.imag(g) ** 2 if np.iscomplexobj(g) else g * g


def _normalised(m: Any, v: Any, eps: float) -> Any:
    """Adam's step direction ``m / (√v + eps)``, for a complex parameter part by part."""
    if np.iscomplexobj(v):
        return lnp.real(m) / (np.sqrt(lnp.real(v)) + eps) + 1j * (lnp.imag(m) / (np.sqrt(lnp.imag(v)) + eps))
    return m / (np.sqrt(v) + eps)
