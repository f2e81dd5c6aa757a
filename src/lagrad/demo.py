"""What ``lagrad demo`` shows: the seed's network as a linear system, then trained on real data.

`explain` traces a1 = σ(x w1), a2 = softmax(a1 w2), l = loss(a2, y) into the
derivation's nine variables and prints the Program, the adjoint matrix, the
back-substitution steps read off the system's blocks, the multipliers and their
checks. `train` fits the same network to scikit-learn's handwritten digits with
lagrad's gradients; `write_pictures` draws the system and the loss curve; `run`
does it all. scikit-learn, tqdm and matplotlib are the ``demo`` extra.
"""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

import lagrad
import lagrad.numpy as lnp
from lagrad.adjoint import AdjointSystem
from lagrad.optimize import adam
from lagrad.scipy.special import expit, softmax

__all__ = [
    "MissingExtra",
    "TrainingResult",
    "back_substitution_steps",
    "cross_entropy",
    "explain",
    "load_digits",
    "run",
    "seed_network",
    "train",
    "write_pictures",
]

EXTRA = 'pip install "lagrad[demo]"'


class MissingExtra(ImportError):
    """A part of the demo needs a package of the ``demo`` extra that is not installed."""


def _require(module: str, what: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise MissingExtra(
            f"lagrad demo: {what} needs {module.split('.')[0]}; install the extra with `{EXTRA}`"
        ) from error


# -- the seed's network -------------------------------------------------------------------


@lagrad.primitive
def cross_entropy(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Mean cross-entropy of probabilities `p` against one-hot labels `y`: the seed's loss,
    one equation (z9 = loss(z8, z2)) rather than the several its formula would make."""
    return -np.sum(y * np.log(p)) / p.shape[0]


# fmt: off
lagrad.defvjp(cross_entropy, lambda g, ans, p, y: -g * y / p / p.shape[0],
                             lambda g, ans, p, y: -g * lnp.log(p) / p.shape[0])
lagrad.defjvp(cross_entropy, lambda t, ans, p, y: -lnp.sum(t * y / p) / p.shape[0],
                             lambda t, ans, p, y: -lnp.sum(t * lnp.log(p)) / p.shape[0])
# fmt: on


def seed_network(x: Any, y: Any, w1: Any, w2: Any) -> Any:
    """a1 = σ(x w1), a2 = softmax(a1 w2), l = loss(a2, y): z5 … z9 of the derivation."""
    a1 = expit(x @ w1)
    a2 = softmax(a1 @ w2, axis=1)
    return cross_entropy(a2, y)


def predict(x: np.ndarray, w1: np.ndarray, w2: np.ndarray) -> np.ndarray:
    """The class the network scores highest for each row of `x` (softmax keeps the order)."""
    return np.argmax(expit(x @ w1) @ w2, axis=1)


# -- the system, printed -------------------------------------------------------------------


def back_substitution_steps(system: AdjointSystem) -> list[tuple[int, str]]:
    """(variable, equation) for each step of back-substitution, last row first:
    ``λ8 = λ9 ∂f9/∂z8``, read off the nonzero blocks of row i (the equations that read
    z_i, program.consumers()); ``λ9 = 1`` where b puts -1 (``cotangent`` for another seed);
    ``0`` where nothing reads z_i."""
    program = system.program
    columns: dict[int, set[int]] = {}
    for i, uses in enumerate(program.consumers()):
        columns[i] = {program.equations[k].out for k, _pos in uses}
    blocks = {(b.i, b.k) for b in system.blocks()}
    steps = []
    for i in reversed(range(program.n_vars)):
        terms = [f"λ{k + 1} ∂f{k + 1}/∂z{i + 1}" for k in sorted(columns[i]) if (i, k) in blocks]
        if i == system.output:
            seed = np.asarray(lagrad.value(system.cotangent))
            terms.insert(0, "1" if seed.shape == () and seed == 1 else "cotangent")
        steps.append((i + 1, f"λ{i + 1} = {' + '.join(terms) if terms else '0'}"))
    return steps


def _finite_difference(f: Callable[[np.ndarray], float], w: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    g = np.zeros_like(w)
    for idx in np.ndindex(w.shape):
        e = np.zeros_like(w)
        e[idx] = eps
        g[idx] = (f(w + e) - f(w - e)) / (2 * eps)
    return g


def explain(seed: int = 0, out: IO[str] | None = None) -> AdjointSystem:
    """Trace the seed's network on a small batch (8 samples, 4 features, 5 hidden units,
    3 classes) and print the whole Lagrangian view of its derivative."""
    stream = out or sys.stdout
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((8, 4))
    y = np.eye(3)[rng.integers(0, 3, 8)]
    w1 = 0.5 * rng.standard_normal((4, 5))
    w2 = 0.5 * rng.standard_normal((5, 3))

    def say(text: str = "") -> None:
        print(text, file=stream)

    system = lagrad.adjoint(seed_network, x, y, w1, w2)
    lam = system.multipliers
    say("1. The seed's network a1 = σ(x w1), a2 = softmax(a1 w2), l = loss(a2, y), as equations")
    say("   z_i = f_i(z_a(i)) (inputs z1 = x, z2 = y, z3 = w1, z4 = w2):")
    say(str(system.program))
    say()
    say("2. Its adjoint system A λ = b. Row i is variable z_i, column k equation f_k: -1 on the")
    say("   diagonal, the partial ∂f_k/∂z_i where f_k reads z_i, b = (0, …, 0, -1):")
    say(str(system.matrix("symbolic")))
    say()
    say("3. Back-substitution, from the last row up, is backpropagation (row i of A λ = b reads")
    say("   λ_i = Σ_k λ_k ∂f_k/∂z_i); each λ_i is the gradient of l with respect to z_i:")
    norms = lam.norms()
    steps = back_substitution_steps(system)
    width = max(len(text) for _, text in steps)
    for i, text in steps:
        norm = f"‖λ{i}‖ = {norms[i - 1]:.4g}"
        say(f"   {text.ljust(width)}   {norm.ljust(16)} shape {tuple(np.shape(lam[i]))}")
    say()
    say("4. Checks:")
    say(f"   ‖A λ − b‖ = {system.residual():.2e}")
    for method, label in (
        ("forward_substitution", "forward substitution (tangent mode)"),
        ("sparse", "a sparse solve"),
    ):
        other = system.solve(method)
        diff = max(float(np.max(np.abs(a - b), initial=0.0)) for a, b in zip(other.lambdas, lam.lambdas))
        say(f"   {label} gives the same λ: max difference {diff:.1e}")
    for name, i, fd in (
        ("w1", 3, _finite_difference(lambda v: seed_network(x, y, v, w2), w1)),
        ("w2", 4, _finite_difference(lambda v: seed_network(x, y, w1, v), w2)),
    ):
        say(f"   λ{i} is the gradient for {name}: max |λ{i} − finite differences| = {np.max(np.abs(lam[i] - fd)):.1e}")
    return system


# -- training on real data -----------------------------------------------------------------


@dataclass
class TrainingResult:
    """What `train` returns: the weights, the loss of every step, accuracies."""

    w1: np.ndarray
    w2: np.ndarray
    losses: list[float] = field(default_factory=list)
    epoch_losses: list[float] = field(default_factory=list)
    test_accuracies: list[float] = field(default_factory=list)
    train_accuracy: float = 0.0
    test_accuracy: float = 0.0
    seconds: float = 0.0


def load_digits(seed: int = 0, test_fraction: float = 0.25) -> tuple[np.ndarray, ...]:
    """scikit-learn's bundled 8 × 8 handwritten digits (1797 images, no download), split
    stratified into train and test, standardised with the training set's statistics,
    with a column of ones appended so that w1's last row is the hidden layer's bias.
    Returns x_train, labels_train, x_test, labels_test."""
    datasets = _require("sklearn.datasets", "training on the handwritten digits")
    model_selection = _require("sklearn.model_selection", "training on the handwritten digits")
    x, labels = datasets.load_digits(return_X_y=True)
    x_train, x_test, l_train, l_test = model_selection.train_test_split(
        x, labels, test_size=test_fraction, random_state=seed, stratify=labels
    )
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    std[std == 0] = 1.0  # pixels that are blank in every training image

    def prepare(a: np.ndarray) -> np.ndarray:
        return np.hstack([(a - mean) / std, np.ones((len(a), 1))])

    return prepare(x_train), l_train, prepare(x_test), l_test


def train(
    epochs: int = 20,
    seed: int = 0,
    *,
    hidden: int = 64,
    batch_size: int = 32,
    learning_rate: float = 0.01,
    progress: str | None = "bar",
    out: IO[str] | None = None,
) -> TrainingResult:
    """Train the seed's network, ``seed_network(x, y, w1, w2)`` unchanged, on the digits:
    minibatches, gradients from ``lagrad.value_and_grad`` (a back-substitution of the
    batch's adjoint system each step) and `lagrad.optimize.adam` steps. `progress` is
    ``"bar"`` (a tqdm bar on stderr with the running loss; epoch lines without tqdm),
    ``"lines"`` (a line per epoch on `out`) or None."""
    if epochs < 1:
        raise ValueError(f"lagrad demo: epochs must be at least 1, not {epochs}")
    if progress not in ("bar", "lines", None):
        raise ValueError(f"lagrad demo: progress must be 'bar', 'lines' or None, not {progress!r}")
    stream = out or sys.stdout
    x_train, l_train, x_test, l_test = load_digits(seed)
    classes = int(l_train.max()) + 1
    y_train = np.eye(classes)[l_train]
    rng = np.random.default_rng(seed)
    n, d = x_train.shape
    weights = {
        "w1": rng.standard_normal((d, hidden)) / np.sqrt(d),
        "w2": rng.standard_normal((hidden, classes)) / np.sqrt(hidden),
    }
    loss_and_grad = lagrad.value_and_grad(lambda w, x, y: seed_network(x, y, w["w1"], w["w2"]))
    stepper = adam(learning_rate)
    steps_per_epoch = -(-n // batch_size)
    bar = _progress_bar(epochs * steps_per_epoch) if progress == "bar" else None
    result = TrainingResult(weights["w1"], weights["w2"])
    start = time.perf_counter()
    running = None
    for epoch in range(epochs):
        order = rng.permutation(n)
        epoch_total = 0.0
        for s in range(0, n, batch_size):
            batch = order[s : s + batch_size]
            loss, grads = loss_and_grad(weights, x_train[batch], y_train[batch])
            weights = stepper.step(weights, grads)
            loss = float(loss)
            result.losses.append(loss)
            epoch_total += loss * len(batch)
            running = loss if running is None else 0.95 * running + 0.05 * loss
            if bar is not None:
                bar.update(1)
                bar.set_postfix(epoch=epoch + 1, loss=f"{running:.4f}", refresh=False)
        result.epoch_losses.append(epoch_total / n)
        result.test_accuracies.append(float(np.mean(predict(x_test, weights["w1"], weights["w2"]) == l_test)))
        if bar is None and progress is not None:
            print(
                f"   epoch {epoch + 1:3d}/{epochs}: loss {result.epoch_losses[-1]:.4f}, "
                f"test accuracy {result.test_accuracies[-1]:.1%}",
                file=stream,
            )
    if bar is not None:
        bar.close()
    result.seconds = time.perf_counter() - start
    result.w1, result.w2 = weights["w1"], weights["w2"]
    result.train_accuracy = float(np.mean(predict(x_train, result.w1, result.w2) == l_train))
    result.test_accuracy = result.test_accuracies[-1]
    return result


def _progress_bar(total: int) -> Any:
    """A tqdm bar on stderr, or None where tqdm is not installed (the epochs are then
    printed as lines)."""
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc="   training", unit="step", leave=True, mininterval=0.1)


# -- pictures ------------------------------------------------------------------------------


def write_pictures(system: AdjointSystem, result: TrainingResult | None, directory: str | Path) -> list[Path]:
    """Draw the seed's adjoint system (block structure with back-substitution levels,
    and scalar-level nonzeros), its computation graph and, after training, the loss
    curve into `directory`; return the paths written."""
    _require("matplotlib", "drawing the pictures")
    from .plot import plot_program, plot_system, save

    figure = plot_system(system, levels=True)
    figure.suptitle("The seed's network: A λ = b", fontsize=11)
    written = [
        save(figure, directory, "adjoint-matrix.png"),
        save(plot_program(system.program), directory, "program.png"),
    ]
    if result is not None:
        written.append(save(_loss_figure(result), directory, "loss.png"))
    return written


def _loss_figure(result: TrainingResult) -> Any:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 3.6), layout="constrained")
    left, right = figure.subplots(1, 2)
    steps = np.arange(1, len(result.losses) + 1)
    per_epoch = len(result.losses) / max(len(result.epoch_losses), 1)
    left.plot(steps, result.losses, color="0.75", linewidth=0.6, label="minibatch loss")
    left.plot(per_epoch * np.arange(1, len(result.epoch_losses) + 1), result.epoch_losses, "o-", label="epoch mean")
    left.set_yscale("log")
    left.set_xlabel("step")
    left.set_ylabel("cross-entropy")
    left.set_title("Training loss (gradients: back-substitution of A λ = b)", fontsize=9)
    left.legend(fontsize=8)
    epochs = np.arange(1, len(result.test_accuracies) + 1)
    right.plot(epochs, 100 * np.asarray(result.test_accuracies), "o-", color="#2a788e")
    right.set_xlabel("epoch")
    right.set_ylabel("test accuracy (%)")
    right.set_title(f"Held-out digits: {result.test_accuracy:.1%} after {len(epochs)} epochs", fontsize=9)
    right.grid(alpha=0.3)
    return figure


# -- all of it -------------------------------------------------------------------------------


def run(
    *,
    epochs: int = 20,
    seed: int = 0,
    out_dir: str | Path = "lagrad-demo",
    train_network: bool = True,
    progress: str | None = "bar",
    out: IO[str] | None = None,
) -> dict[str, Any]:
    """The whole demo: explain the system, train the network (unless not asked), write
    the pictures. Returns the system, the training result (or None) and the pictures."""
    stream = out or sys.stdout

    def say(text: str = "") -> None:
        print(text, file=stream, flush=True)

    system = explain(seed=seed, out=stream)
    result = None
    if train_network:
        say()
        say(
            f"5. Training the same network on scikit-learn's handwritten digits (8 × 8 pixels → 64 hidden "
            f"units → 10 classes), {epochs} epochs:"
        )
        result = train(epochs=epochs, seed=seed, progress=progress, out=stream)
        say(
            f"   {len(result.losses)} gradient steps in {result.seconds:.1f} s; "
            f"train accuracy {result.train_accuracy:.1%}, test accuracy {result.test_accuracy:.1%} "
            f"(held-out images)"
        )
    say()
    say(f"{6 if train_network else 5}. Pictures:")
    paths = write_pictures(system, result, out_dir)
    for path in paths:
        say(f"   {path}")
    return {"system": system, "training": result, "pictures": paths}
