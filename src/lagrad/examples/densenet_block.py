"""A DenseNet-style block: every layer reads the outputs of all the layers before it.

Layer l computes h_l = tanh([h_0, h_1, …, h_{l-1}] W_l) from the concatenation
of everything before it, so in the Program the equation that concatenates for
layer l reads every earlier h_j. In A, row j (the variable h_j) therefore has a
partial in the column of every later layer: grouped by layer, the upper
triangle of A is completely filled, as the derivation predicts, and
back-substitution gives λ_{h_j} = Σ_{l>j} (contribution through layer l) — the
"dense" connectivity shows up as dense rows of A. A plain stack of layers, for
contrast, fills only the first diagonal above the main one. The picture shows A
variable by variable and layer by layer, for the block and for the plain stack.

Run: lagrad demo --example densenet_block [--out DIR], or python -m lagrad.examples.densenet_block [--out DIR]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import lagrad
import lagrad.numpy as lnp
from lagrad.examples import run_from_command_line


def dense_block(x: Any, weights: list[Any], head: Any) -> Any:
    """h_0 = x, h_l = tanh(concat(h_0 … h_{l-1}) W_l); the loss is the mean square of
    concat(h_0 … h_L) head, a stand-in for what follows the block."""
    features = [x]
    for layer, w in enumerate(weights, start=1):
        inputs = features[0] if len(features) == 1 else lnp.concatenate(features, axis=1)
        features.append(lagrad.tag(lnp.tanh(inputs @ w), f"h{layer}"))
    return lnp.mean((lnp.concatenate(features, axis=1) @ head) ** 2)


def plain_stack(x: Any, weights: list[Any], head: Any) -> Any:
    """The same layers without the dense connections: h_l = tanh(h_{l-1} W_l)."""
    h = x
    for layer, w in enumerate(weights, start=1):
        h = lagrad.tag(lnp.tanh(h @ w), f"h{layer}")
    return lnp.mean((h @ head) ** 2)


def make_weights(
    rng: np.random.Generator, channels: int, growth: int, layers: int, dense: bool
) -> tuple[list[np.ndarray], np.ndarray]:
    widths = [channels + (growth * j if dense else 0) for j in range(layers + 1)]
    outs = [growth if dense else channels] * layers
    weights = [rng.standard_normal((widths[j], outs[j])) / np.sqrt(widths[j]) for j in range(layers)]
    head = rng.standard_normal((widths[-1] if dense else channels, 1))
    return weights, head


def layer_groups(program: lagrad.Program, layers: int) -> dict[str, list[int]]:
    """Variables (1-based) by layer: the input x, then for layer l its weight W_l and the
    equations from the one after h_{l-1} up to h_l, then the head (its weight and the loss)."""
    n_inputs = program.n_inputs  # x, W_1 … W_L, head
    ends = [program.tags[f"h{layer}"] + 1 for layer in range(1, layers + 1)]
    groups = {"x": [1]}
    start = n_inputs + 1
    for layer, end in enumerate(ends, start=1):
        groups[f"layer {layer}"] = [1 + layer, *range(start, end + 1)]
        start = end + 1
    groups["head"] = [n_inputs, *range(start, program.n_vars + 1)]
    return groups


def layer_pattern(system: lagrad.AdjointSystem, groups: dict[str, list[int]]) -> np.ndarray:
    """Which layer-level blocks of A are nonzero (True), off the diagonal."""
    from lagrad.plot import block_structure

    matrix, _ = block_structure(system, groups=groups)
    pattern = np.isfinite(matrix)
    np.fill_diagonal(pattern, False)
    return pattern


def _show(pattern: np.ndarray, names: list[str]) -> str:
    """The layer-level pattern as text: -1 on the diagonal, ■ for a nonzero block."""
    width = max(len(n) for n in names)
    lines = [" " * width + "".join(f"{j + 1:>4}" for j in range(len(names)))]
    for i, name in enumerate(names):
        cells = "".join(f"{'-1' if i == j else '■' if pattern[i, j] else '·':>4}" for j in range(len(names)))
        lines.append(name.ljust(width) + cells)
    return "\n".join(lines)


def main(
    out: str | Path | None = "lagrad-demo",
    seed: int = 0,
    *,
    batch: int = 8,
    channels: int = 4,
    growth: int = 3,
    layers: int = 4,
) -> dict[str, Any]:
    """Trace the block and the plain stack, print A layer by layer, check the upper
    triangle is full, and draw both into `out` (None: no picture)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, channels))
    results: dict[str, Any] = {}
    for name, fun, dense in (("dense", dense_block, True), ("plain", plain_stack, False)):
        weights, head = make_weights(rng, channels, growth, layers, dense)
        system = lagrad.adjoint(fun, x, weights, head)
        groups = layer_groups(system.program, layers)
        pattern = layer_pattern(system, groups)
        results[name] = {"system": system, "groups": groups, "pattern": pattern}
    dense_pattern = results["dense"]["pattern"]
    names = list(results["dense"]["groups"])
    upper = np.triu(np.ones_like(dense_pattern), k=1)
    full = bool(np.array_equal(dense_pattern, upper))
    system = results["dense"]["system"]
    print(f"DenseNet block: {layers} layers, {len(system.program.equations)} equations, {system.n} variables")
    print("A grouped by layer (■: a nonzero block ∂f_k/∂z_i between the groups):")
    print(_show(dense_pattern, names))
    print(f"upper triangle completely filled: {full}")
    print("the same layers as a plain stack:")
    print(_show(results["plain"]["pattern"], list(results["plain"]["groups"])))
    lam = system.multipliers
    print(
        "multipliers of the layer outputs: "
        + ", ".join(f"‖λ(h{j})‖ = {np.linalg.norm(lam[f'h{j}']):.3g}" for j in range(1, layers + 1))
    )
    results["upper_triangle_full"] = full
    if out is not None:
        results["picture"] = _draw(Path(out), results)
        print(f"picture: {results['picture']}")
    return results


def _draw(folder: Path, results: dict[str, Any]) -> Path:
    from matplotlib.figure import Figure

    from lagrad.plot import plot_system, save

    figure = Figure(figsize=(16, 5.6), layout="constrained")
    axes = figure.subplots(1, 3, width_ratios=[1.6, 1, 1])
    dense = results["dense"]
    plot_system(dense["system"], ax=axes[0], labels=False)
    axes[0].set_title("DenseNet block: A, one cell per variable", fontsize=9)
    plot_system(dense["system"], ax=axes[1], groups=dense["groups"], labels=False)
    axes[1].set_title("DenseNet block: A by layer (upper triangle full)", fontsize=9)
    plain = results["plain"]
    plot_system(plain["system"], ax=axes[2], groups=plain["groups"], labels=False)
    axes[2].set_title("Plain stack: A by layer (one band)", fontsize=9)
    return save(figure, folder, "densenet_block.png", dpi=100)


if __name__ == "__main__":
    run_from_command_line(main, __doc__)
