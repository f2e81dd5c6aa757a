"""An Inception-style block: parallel branches of different depth, merged by concatenation.

The input x feeds four branches (one, two and three layers deep, and a pooling
branch); their outputs are concatenated and scored. In A, no equation of one
branch reads a variable of another, so the rows and columns of the branches
form separate blocks that meet only at x (above them) and at the merge (after
them). Back-substitution therefore splits: once the merge's multipliers are
known, each branch's multipliers depend only on its own — they can be solved
independently, here one branch per thread — and x's multiplier is the sum of
what the branches send it. `lagrad.plot.solve_levels` lists which multipliers
can be computed at the same time; the picture shows A with those levels and A
grouped by branch.

Run: lagrad demo --example inception_block [--out DIR], or python -m lagrad.examples.inception_block [--out DIR]
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

import lagrad
import lagrad.numpy as lnp
from lagrad.examples import run_from_command_line
from lagrad.plot import block_structure, save, solve_levels

BRANCHES = ("branch 1", "branch 2", "branch 3", "pool")


def inception_block(x: Any, weights: dict[str, list[Any]], head: Any) -> Any:
    """Four branches from x, concatenated; the loss is the mean square of the merge's score."""
    outputs = []
    for name in BRANCHES:
        h = lnp.mean(x, axis=1, keepdims=True) * x if name == "pool" else x
        for w in weights[name]:
            h = lnp.tanh(h @ w)
        outputs.append(lagrad.tag(h, name))
    merged = lnp.concatenate(outputs, axis=1)
    return lnp.mean((merged @ head) ** 2)


def make_weights(rng: np.random.Generator, channels: int, width: int) -> tuple[dict[str, list[np.ndarray]], np.ndarray]:
    depths = {"branch 1": 1, "branch 2": 2, "branch 3": 3, "pool": 1}
    weights = {}
    for name in BRANCHES:
        sizes = [channels] + [width] * depths[name]
        weights[name] = [rng.standard_normal((a, b)) / np.sqrt(a) for a, b in itertools.pairwise(sizes)]
    return weights, rng.standard_normal((width * len(BRANCHES), 1))


def branch_groups(program: lagrad.Program) -> dict[str, list[int]]:
    """Variables (1-based) by branch: x; each branch's equations (up to its tagged output)
    with the weights only they read; the merge with the head's weight."""
    owner: dict[int, str] = {0: "x"}
    start = program.n_inputs
    for name in BRANCHES:
        end = program.tags[name]
        owner.update(dict.fromkeys(range(start, end + 1), name))
        start = end + 1
    owner.update(dict.fromkeys(range(start, program.n_vars), "merge"))
    consumers = program.consumers()
    for i in range(1, program.n_inputs):  # a weight belongs where it is read
        k, _pos = consumers[i][0]
        owner[i] = owner[program.equations[k].out]
    groups: dict[str, list[int]] = {name: [] for name in ("x", *BRANCHES, "merge")}
    for i in range(program.n_vars):
        groups[owner[i]].append(i + 1)
    return groups


def solve_by_branch(system: lagrad.AdjointSystem, groups: dict[str, list[int]]) -> list[Any]:
    """Back-substitution in three stages: the merge, then every branch on its own thread
    (each needs only the merge's multipliers and its own), then x."""
    program = system.program
    lam: list[Any] = [None] * program.n_vars
    rows: dict[int, list[Any]] = {}
    for block in system.blocks():
        rows.setdefault(block.i, []).append(block)

    def solve(members: list[int]) -> dict[int, Any]:
        mine: dict[int, Any] = {}
        for i in sorted((v - 1 for v in members), reverse=True):
            total = np.ones(()) if i == system.output else np.zeros(program.shape(i))
            for block in rows.get(i, []):
                source = mine.get(block.k, lam[block.k])  # own multipliers, or the merge's
                total = total + block.transpose_apply(source)
            mine[i] = total
        return mine

    for i, v in solve(groups["merge"]).items():
        lam[i] = v
    with ThreadPoolExecutor(max_workers=len(BRANCHES)) as pool:
        for solved in pool.map(solve, [groups[name] for name in BRANCHES]):
            for i, v in solved.items():
                lam[i] = v
    for i, v in solve(groups["x"]).items():
        lam[i] = v
    return lam


def main(
    out: str | Path | None = "lagrad-demo", seed: int = 0, *, batch: int = 8, channels: int = 4, width: int = 3
) -> dict[str, Any]:
    """Trace the block, check that the branches do not touch in A, solve them
    independently, compare with back-substitution, and draw A into `out`."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, channels))
    weights, head = make_weights(rng, channels, width)
    system = lagrad.adjoint(inception_block, x, weights, head)
    program = system.program
    groups = branch_groups(program)
    matrix, names = block_structure(system, groups=groups)
    branch_rows = [names.index(b) for b in BRANCHES]
    separate = not any(np.isfinite(matrix[a, b]) for a in branch_rows for b in branch_rows if a != b)
    levels = solve_levels(system)
    owner = {v: name for name, members in groups.items() for v in members}
    lam = solve_by_branch(system, groups)
    reference = system.multipliers
    difference = max(float(np.max(np.abs(a - b))) for a, b in zip(lam, reference.lambdas))
    print(f"Inception block: {len(BRANCHES)} branches, {len(program.equations)} equations, {system.n} variables")
    print(f"no block of A connects two branches: {separate}")
    print("multipliers back-substitution can compute at the same time (level: variables, by group):")
    for lv, members in enumerate(levels):
        by_group: dict[str, list[str]] = {}
        for v in members:
            by_group.setdefault(owner[v], []).append(f"z{v}")
        print(f"  level {lv}: " + "; ".join(f"{g}: {' '.join(vs)}" for g, vs in by_group.items()))
    print(f"branches solved on separate threads agree with back-substitution: max difference {difference:.1e}")
    result = {
        "system": system,
        "groups": groups,
        "separate": separate,
        "levels": levels,
        "multipliers": lam,
        "difference": difference,
    }
    if out is not None:
        result["picture"] = _draw(Path(out), system, groups)
        print(f"picture: {result['picture']}")
    return result


def _draw(folder: Path, system: lagrad.AdjointSystem, groups: dict[str, list[int]]) -> Path:
    import matplotlib
    from matplotlib.figure import Figure

    from lagrad.plot import plot_system

    figure = Figure(figsize=(15, 6.4), layout="constrained")
    left, right = figure.subplots(1, 2, width_ratios=[1.5, 1])
    plot_system(system, ax=left, labels=False, levels=True)
    left.set_title("A, one cell per variable; right strip: back-substitution level", fontsize=9)
    colours = {name: matplotlib.colormaps["tab10"](j) for j, name in enumerate(groups)}
    owner = {v: name for name, members in groups.items() for v in members}
    for label in left.get_yticklabels():  # rows coloured by branch
        label.set_color(colours[owner[int(label.get_text()[1:])]])
    plot_system(system, ax=right, groups=groups, labels=False)
    right.set_title("A grouped by branch: the branches never meet", fontsize=9)
    for label in right.get_yticklabels():
        label.set_color(colours[label.get_text()])
    return save(figure, folder, "inception_block.png", dpi=100)


if __name__ == "__main__":
    run_from_command_line(main, __doc__)
