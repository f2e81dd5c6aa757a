"""Pictures of the adjoint system ``A λ = b`` and of the Program it comes from.

`plot_system` draws the block structure of ``A`` (one cell per variable, or per
group of variables) and, for small programs, its scalar-level sparsity;
`plot_program` draws the computation graph and `to_dot` writes it for Graphviz.
`block_structure` and `solve_levels` are the numbers behind the pictures.
matplotlib is an optional dependency (``pip install "lagrad[plot]"``), imported
only inside the functions that draw, so ``import lagrad`` never loads it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse

from .adjoint.levels import schedule

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .adjoint import AdjointSystem
    from .core import Program

__all__ = [
    "block_structure",
    "plot_colouring",
    "plot_elimination",
    "plot_program",
    "plot_system",
    "save",
    "scalar_colour_groups",
    "solve_levels",
    "to_dot",
]

#: Programs with at most this many variables get a label in every cell.
LABEL_LIMIT = 12
#: Systems with at most this many scalars also get the scalar-level sparsity panel.
SCALAR_LIMIT = 2_000
#: Blocks with at most this many entries have their norm computed exactly (else estimated).
EXACT_NORM_LIMIT = 250_000

Groups = Mapping[str, Sequence[int]]


def _matplotlib(who: str) -> Any:
    """matplotlib's Figure class, or an ImportError saying how to install it."""
    try:
        from matplotlib.figure import Figure
    except ImportError as error:  # an optional extra: say which
        raise ImportError(
            f"lagrad.{who} draws with matplotlib, which is not installed; install it with "
            f'`pip install "lagrad[plot]"` (or `pip install matplotlib`)'
        ) from error
    return Figure


# -- the numbers behind the pictures ------------------------------------------------------


def _block_norm(block: Any, rng: np.random.Generator) -> float:
    """Frobenius norm of a block: exact for small blocks, else ``E‖B v‖²`` over a few
    Gaussian probes (each probe is one transpose-apply, no dense Jacobian)."""
    m, n = block.shape
    if m * n <= EXACT_NORM_LIMIT:
        return float(np.linalg.norm(block.todense()))
    probes = [np.sum(np.abs(block @ rng.standard_normal(n)) ** 2) for _ in range(8)]
    return float(np.sqrt(np.mean(probes)))


def _check_groups(groups: Groups, n: int) -> list[tuple[str, list[int]]]:
    """Groups as (name, 0-based variables); every variable in exactly one group."""
    owner = [-1] * n
    out = []
    for g, (name, members) in enumerate(groups.items()):
        indices = []
        for v in members:
            if not (isinstance(v, (int, np.integer)) and 1 <= v <= n):
                raise ValueError(f"lagrad.plot: group {name!r} lists {v!r}; variables are numbered z1 … z{n} (1 … {n})")
            if owner[v - 1] >= 0:
                raise ValueError(f"lagrad.plot: z{v} is in two groups ({list(groups)[owner[v - 1]]!r} and {name!r})")
            owner[v - 1] = g
            indices.append(int(v) - 1)
        out.append((str(name), indices))
    missing = [f"z{i + 1}" for i, g in enumerate(owner) if g < 0]
    if missing:
        raise ValueError(f"lagrad.plot: every variable needs a group; {', '.join(missing[:8])} have none")
    return out


def block_structure(
    system: AdjointSystem, *, color: str = "size", groups: Groups | None = None
) -> tuple[np.ndarray, list[str]]:
    """The matrix a picture of ``A`` colours, and its row names.

    Entry ``[i, k]`` describes block ``∂f_k/∂z_i`` (``-I`` on the diagonal): with
    ``color="size"`` the number of entries of the block, with ``"norm"`` its
    Frobenius norm; NaN where the block is zero. `groups` (name → 1-based variable
    numbers, covering every variable once) sums the blocks group by group: the
    structure of ``A`` at the level of layers or branches.
    """
    if color not in ("size", "norm"):
        raise ValueError(f"lagrad.plot: color must be 'size' or 'norm', not {color!r}")
    program = system.program
    n = program.n_vars
    rng = np.random.default_rng(0)
    sizes = [program.size(i) for i in range(n)]
    # -1 on the diagonal is -I: size² entries, Frobenius norm √size
    cells: dict[tuple[int, int], float] = {
        (i, i): float(sizes[i] ** 2 if color == "size" else sizes[i]) for i in range(n)
    }
    for block in system.blocks():
        m, k = block.shape
        cells[block.i, block.k] = float(m * k) if color == "size" else _block_norm(block, rng) ** 2
    if color == "norm":
        cells = {key: float(np.sqrt(v)) for key, v in cells.items()}
    if groups is None:
        matrix = np.full((n, n), np.nan)
        for (i, k), v in cells.items():
            matrix[i, k] = v
        return matrix, [f"z{i + 1}" for i in range(n)]
    members = _check_groups(groups, n)
    owner = np.empty(n, dtype=int)
    for g, (_, indices) in enumerate(members):
        owner[indices] = g
    matrix = np.full((len(members), len(members)), np.nan)
    for (i, k), v in cells.items():
        a, b = owner[i], owner[k]
        old = matrix[a, b]
        if color == "size":
            matrix[a, b] = v if np.isnan(old) else old + v
        else:  # norms add in squares
            matrix[a, b] = v if np.isnan(old) else float(np.hypot(old, v))
    return matrix, [name for name, _ in members]


def solve_levels(system: AdjointSystem) -> list[list[int]]:
    """Variables (1-based) grouped by when back-substitution can have their multiplier: the
    level schedule of the `levels` solver (`lagrad.adjoint.levels.schedule`), numbered as
    printed. The multipliers of one level depend on none of each other."""
    return [[i + 1 for i in members] for members in schedule(system.program)]


# -- drawing ----------------------------------------------------------------------------


def _draw_blocks(
    ax: Axes,
    matrix: np.ndarray,
    names: list[str],
    *,
    color: str,
    labels: bool,
    symbols: np.ndarray | None,
    levels: list[list[int]] | None,
    title: str,
    implicit: frozenset[int] = frozenset(),
) -> Any:
    from matplotlib.colors import LogNorm
    from matplotlib.patches import Rectangle

    n = matrix.shape[0]
    finite = matrix[np.isfinite(matrix) & (matrix > 0)]
    norm = LogNorm(vmin=finite.min(), vmax=max(finite.max(), finite.min() * 1.0001)) if finite.size else None
    shown = np.ma.masked_invalid(np.where(matrix > 0, matrix, np.nan))
    image = ax.imshow(shown, cmap="viridis", norm=norm, interpolation="nearest", aspect="equal")
    for d in range(n):  # the diagonal (-I, or a group's own blocks) in grey: the partials stand out
        shade = "#fdae6b" if d in implicit else "0.85"  # an implicit equation's block, not -I, in orange
        ax.add_patch(Rectangle((d - 0.5, d - 0.5), 1, 1, facecolor=shade, edgecolor="none"))
    size = max(6.0, min(10.0, 80.0 / n))  # points: as large as the cells allow
    if labels:
        for i in range(n):
            for k in range(n):
                if i == k and symbols is not None:
                    text = symbols[i, i]  # -1, or an implicit equation's block
                elif symbols is not None:
                    text = symbols[i, k]
                elif np.isfinite(matrix[i, k]):
                    text = f"{matrix[i, k]:.3g}"
                else:
                    text = ""
                if text:
                    dark = i != k and norm is not None and norm(matrix[i, k]) < 0.6
                    ax.text(k, i, text, ha="center", va="center", fontsize=size, color="white" if dark else "black")
    ticks = n <= 40
    ax.set_xticks(range(n) if ticks else [])
    ax.set_yticks(range(n) if ticks else [])
    if ticks:
        columns = [f"f{i + 1}" for i in range(n)] if names == [f"z{i + 1}" for i in range(n)] else names
        if n > 12 or max(len(c) for c in columns) * n > 30:  # turn the column names that would collide
            ax.set_xticklabels(columns, rotation=60, ha="left", rotation_mode="anchor")
        else:
            ax.set_xticklabels(columns)
        ax.set_yticklabels(names)
    ax.set_xlabel("equation f_k (column)")
    ax.set_ylabel("variable z_i (row)")
    ax.xaxis.set_label_position("top")
    ax.xaxis.tick_top()
    if levels is not None:
        import matplotlib

        cmap = matplotlib.colormaps["tab10"]
        for lv, members in enumerate(levels):
            for v in members:
                ax.add_patch(
                    Rectangle((n - 0.3, v - 1.5), 0.8, 1, facecolor=cmap(lv % 10), edgecolor="white", clip_on=False)
                )
                if n <= 40:
                    ax.text(n + 0.1, v - 1, str(lv), ha="center", va="center", fontsize=size - 1, clip_on=False)
        ax.text(n + 0.1, -0.8, "level", ha="center", va="bottom", fontsize=7, clip_on=False)
        ax.set_xlim(-0.5, n + 0.6)
    ax.set_title(title, fontsize=9, pad=24 if ticks else 6)
    legend = "entries in the block" if color == "size" else "Frobenius norm of the block"
    ax.figure.colorbar(image, ax=ax, shrink=0.7, label=legend)
    return image


def plot_system(
    system: AdjointSystem,
    *,
    color: str = "size",
    groups: Groups | None = None,
    labels: bool | None = None,
    scalar: bool | None = None,
    levels: bool = False,
    colouring: Any = None,
    ax: Axes | None = None,
) -> Figure:
    """Draw ``A``: one cell per variable (or per group), coloured by the block's size or
    norm, ``-1`` blocks in grey on the diagonal (an implicit equation's block, which breaks
    the triangle, in orange).

    `labels` writes ``∂f_k/∂z_i`` in each cell (default: programs of at most
    `LABEL_LIMIT` variables); `scalar` adds a second panel with the nonzeros of the
    scalar-level matrix (default: systems of at most `SCALAR_LIMIT` scalars, and only
    when the function makes the figure); `levels` adds a strip giving each row's
    `solve_levels` level; `groups` draws the group-level structure (see
    `block_structure`). `colouring` (a forward `lagrad.sparsity` of the same function, or a
    sparse Hessian's) colours the scalar-level panel by colour group (`scalar_colour_groups`).
    Draws into `ax` if given; returns the Figure (save it with ``fig.savefig(path)``).
    """
    Figure = _matplotlib("plot_system")
    program = system.program
    n = program.n_vars
    matrix, names = block_structure(system, color=color, groups=groups)
    if labels is None:
        labels = matrix.shape[0] <= LABEL_LIMIT
    symbols = system.matrix("symbolic").labels if groups is None and labels else None
    if scalar is None:
        scalar = ax is None and groups is None and (colouring is not None or system.size <= SCALAR_LIMIT)
    row_groups = None if colouring is None else scalar_colour_groups(system, colouring)
    if ax is None:
        panels = 2 if scalar else 1
        side = min(3.2 + 0.45 * matrix.shape[0], 9.0)
        fig = Figure(figsize=(side * panels + 1.2 * panels, side), layout="constrained")
        axes = fig.subplots(1, panels, squeeze=False)[0]
        ax = axes[0]
    else:
        fig, axes = ax.figure, [ax]
    what = f"{len(names)} groups of {n} variables" if groups is not None else f"{n} variables"
    title = f"A: block structure ({what}, {system.size} scalars)"
    _draw_blocks(
        ax,
        matrix,
        names,
        color=color,
        labels=labels,
        symbols=symbols,
        levels=solve_levels(system) if levels and groups is None else None,
        title=title,
        implicit=frozenset(system.implicit) if groups is None else frozenset(),
    )
    if scalar:
        if len(axes) < 2:
            raise ValueError("lagrad.plot_system: the scalar-level panel needs its own figure; leave ax=None")
        _draw_scalar(axes[1], system, row_groups)
    elif colouring is not None:
        raise ValueError("lagrad.plot_system: colouring= colours the scalar-level panel; leave scalar=None or True")
    return fig


def scalar_colour_groups(system: AdjointSystem, colouring: Any) -> np.ndarray:
    """Per scalar of ``A``'s rows (the variables' scalars, in `system.layout` order), the colour
    group of a forward (column) colouring whose tangent it carries in the compressed sweep:
    the colour when it depends on input scalars of one colour, -1 when on several (the
    colours' tangents meet there, in separate rows of the batch), -2 when on none."""
    from .sparse_derivatives import pattern

    if getattr(colouring, "mode", None) != "fwd":
        raise ValueError(
            "lagrad.plot_system(colouring=): a colouring of columns (input scalars) is needed, "
            "as lagrad.sparsity(f, x, mode='fwd') or a sparse Hessian's makes; a reverse colouring "
            "groups output scalars, which plot_colouring(sparsity) draws"
        )
    program = system.program
    depends = pattern(program, outputs=list(range(program.n_vars)))  # every variable's scalars × inputs'
    colours = np.asarray(colouring.colours)
    if depends.shape != (system.size, len(colours)):
        raise ValueError(
            f"lagrad.plot_system(colouring=): the colouring is of {len(colours)} input scalars and the "
            f"system has {depends.shape[1]} input scalars in {system.size} scalars; pass the sparsity of "
            f"the function the system was made from, at inputs of the same shapes"
        )
    n_colours = int(colours.max()) + 1 if len(colours) else 0
    one_hot = scipy.sparse.csr_matrix(
        (np.ones(len(colours)), (np.arange(len(colours)), colours)), shape=(len(colours), n_colours)
    )
    per_colour = (depends @ one_hot).tocsr()
    per_colour.data[:] = 1
    counts = np.diff(per_colour.indptr)
    groups = np.full(system.size, -2)
    groups[counts > 1] = -1
    single = np.flatnonzero(counts == 1)
    groups[single] = per_colour.indices[per_colour.indptr[single]]
    return groups


def _draw_scalar(ax: Axes, system: AdjointSystem, row_groups: np.ndarray | None = None) -> None:
    """The nonzeros of the scalar-level matrix, with the variables' blocks outlined; with
    `row_groups`, each nonzero in its row's colour group (grey: several or none)."""
    A = system.matrix("sparse", max_size=max(system.size, 1)).tocoo()
    size = system.size
    marker = max(0.5, min(4.0, 300.0 / max(size, 1)))
    if row_groups is None:
        ax.plot(A.col, A.row, "s", markersize=marker, color="#31688e", markeredgewidth=0)
    else:
        import matplotlib

        cmap = matplotlib.colormaps["tab20"]
        shades = {-1: (0.35, 0.35, 0.35, 1.0), -2: (0.8, 0.8, 0.8, 1.0)}
        colours = [shades[g] if g < 0 else cmap(int(g) % 20) for g in row_groups[A.row]]
        ax.scatter(A.col, A.row, c=colours, s=marker**2, marker="s", linewidths=0)
    for start, _stop in system.layout[1:]:
        ax.axhline(start - 0.5, color="0.8", linewidth=0.4)
        ax.axvline(start - 0.5, color="0.8", linewidth=0.4)
    ax.set_xlim(-0.5, size - 0.5)
    ax.set_ylim(size - 0.5, -0.5)
    ax.set_aspect("equal")
    ax.xaxis.tick_top()
    ax.set_title(f"A at scalar level: {A.nnz} nonzeros of {size}²", fontsize=9)


def _depths(program: Program) -> list[int]:
    """Longest path from an input to each variable: the graph's layers, left to right."""
    depth = [0] * program.n_vars
    for eq in program.equations:
        reads = [depth[a] for a in eq.args if a >= 0]
        depth[eq.out] = 1 + max(reads, default=0)
    return depth


def plot_program(program: Program, *, labels: bool | None = None, ax: Axes | None = None) -> Figure:
    """Draw the computation graph: one node per variable, inputs on the left, each
    equation one layer right of the last variable it reads; an arrow per argument
    (solid where it carries a derivative, dashed where not, e.g. a branch condition)."""
    Figure = _matplotlib("plot_program")
    from matplotlib.patches import FancyArrowPatch

    n = program.n_vars
    depth = _depths(program)
    layers: dict[int, list[int]] = {}
    for i, d in enumerate(depth):
        layers.setdefault(d, []).append(i)
    position = {}
    for d, members in layers.items():
        for r, i in enumerate(members):
            position[i] = (d, (len(members) - 1) / 2 - r)
    if labels is None:
        labels = n <= 40
    if ax is None:
        width = min(2.0 + 1.6 * (max(depth, default=0) + 1), 16)
        height = min(1.5 + 0.7 * max(len(m) for m in layers.values()), 12)
        fig = Figure(figsize=(width, height), layout="constrained")
        ax = fig.subplots()
    else:
        fig = ax.figure
    outputs = {o for o in program.outputs if isinstance(o, (int, np.integer))}
    for eq in program.equations:
        for pos, a in enumerate(eq.args):
            if a < 0:
                continue
            arrow = FancyArrowPatch(
                position[a],
                position[eq.out],
                arrowstyle="-|>",
                mutation_scale=8,
                shrinkA=9,
                shrinkB=9,
                linewidth=0.7,
                color="0.35",
                linestyle="-" if pos in eq.diff else "--",
            )
            ax.add_patch(arrow)
    for i in range(n):
        eq = program.equation(i)
        face = "#fde725" if i in outputs else "#b5de2b" if eq is None else "#6ece58" if eq.diff else "0.8"
        x, y = position[i]
        ax.plot([x], [y], "o", markersize=17 if labels else 6, color=face, markeredgecolor="0.3")
        if labels:
            name = program.input_names[i] if eq is None else eq.primitive.name
            ax.text(x, y, f"z{i + 1}", ha="center", va="center", fontsize=7)
            ax.text(x, y - 0.28, name[:14], ha="center", va="top", fontsize=6, color="0.2")
    ax.set_xlim(-0.6, max(depth, default=0) + 0.6)
    ys = [p[1] for p in position.values()] or [0]
    ax.set_ylim(min(ys) - 0.7, max(ys) + 0.6)
    ax.set_axis_off()
    ax.set_title(f"Program: {program.n_inputs} inputs, {len(program.equations)} equations", fontsize=9)
    return fig


def to_dot(program: Program) -> str:
    """The computation graph in Graphviz's DOT language: inputs as boxes, equations as
    ellipses labelled ``z_k = f`` with their shape, the output doubled; an edge per
    argument, labelled with its partial ``∂f_k/∂z_i`` (dashed: no derivative)."""

    def quote(*parts: str) -> str:  # one DOT string, its lines joined by DOT's \n
        return '"' + "\\n".join(part.replace('"', '\\"') for part in parts) + '"'

    outputs = {o for o in program.outputs if isinstance(o, (int, np.integer))}
    lines = ["digraph program {", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=10];']
    for i in range(program.n_vars):
        eq = program.equation(i)
        shape = tuple(program.shape(i))
        name, node = (program.input_names[i], "box") if eq is None else (eq.primitive.name, "ellipse")
        extra = ", peripheries=2" if i in outputs else ""
        lines.append(f"  z{i + 1} [label={quote(f'z{i + 1} = {name}', str(shape))}, shape={node}{extra}];")
    for eq in program.equations:
        for pos, a in enumerate(eq.args):
            if a < 0:
                continue
            if pos in eq.diff:
                lines.append(f"  z{a + 1} -> z{eq.out + 1} [label={quote(f'∂f{eq.out + 1}/∂z{a + 1}')}];")
            else:
                lines.append(f"  z{a + 1} -> z{eq.out + 1} [style=dashed];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def save(figure: Figure, folder: str | Path, name: str, *, dpi: int = 110) -> Path:
    """Write `figure` as `folder`/`name` (creating the folder) and return the path."""
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    figure.savefig(path / name, dpi=dpi)
    return path / name


def plot_colouring(structure: Any, *, ax: Axes | None = None) -> Figure:
    """Draw a `Sparsity`'s pattern (rows: output scalars, columns: input scalars), each
    nonzero in the colour of its group: its column's colour for a forward colouring or a
    Hessian, its row's for a reverse one. Scalars of one colour share one seed."""
    Figure = _matplotlib("plot_colouring")
    import matplotlib

    pattern = structure.pattern.tocoo()
    group = structure.colours[pattern.row] if structure.mode == "rev" and not structure.hessian else None
    if group is None:
        group = structure.colours[pattern.col]
    if ax is None:
        fig = Figure(figsize=(5.5, 5), layout="constrained")
        ax = fig.subplots()
    else:
        fig = ax.figure
    cmap = matplotlib.colormaps["tab20"]
    ax.scatter(pattern.col, pattern.row, c=[cmap(int(g) % 20) for g in group], s=max(1.0, 4000 / max(pattern.nnz, 1)),
               marker="s", linewidths=0)  # fmt: skip
    ax.set_xlim(-0.5, pattern.shape[1] - 0.5)
    ax.set_ylim(pattern.shape[0] - 0.5, -0.5)
    ax.set_xlabel("input scalar")
    ax.set_ylabel("output scalar")
    ax.set_title(f"{structure.nnz} nonzeros, {structure.n_colours} colours")
    return fig


def plot_elimination(graph: Any, order: Any = "markowitz", *, ax: Axes | None = None) -> Figure:
    """Draw an elimination order as the sequence of eliminated vertices: a bar per step
    (the multiplications that elimination costs, labelled with the vertex ``z_k``) and the
    running total."""
    Figure = _matplotlib("plot_elimination")
    steps = graph.steps(order)
    if ax is None:
        fig = Figure(figsize=(min(3 + 0.3 * len(steps), 16), 3.5), layout="constrained")
        ax = fig.subplots()
    else:
        fig = ax.figure
    costs = [c for _, c in steps]
    ax.bar(range(len(steps)), costs, color="tab:blue")
    if len(steps) <= 40:
        ax.set_xticks(range(len(steps)), [f"z{v + 1}" for v, _ in steps], rotation=90, fontsize=7)
    total = ax.twinx()
    total.plot(range(len(steps)), np.cumsum(costs), color="tab:orange")
    total.set_ylabel("running total")
    ax.set_ylabel("multiplications")
    name = order if isinstance(order, str) else "given"
    ax.set_title(f"{name} order: {sum(costs)} multiplications")
    return fig
