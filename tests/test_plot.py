"""lagrad.plot: the numbers behind the pictures of A, the pictures, and the DOT graph."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import lagrad
import lagrad.core
import lagrad.numpy as lnp
from lagrad import plot
from lagrad.plot import block_structure, plot_program, plot_system, solve_levels, to_dot
from lagrad.scipy.special import expit
from tests.test_seed_example import network as seed_network

os.environ.setdefault("MPLBACKEND", "Agg")  # drawing tests skip where the plot extra is missing

rng = np.random.default_rng(4)
X = rng.standard_normal((6, 4))
Y = np.eye(3)[rng.integers(0, 3, 6)]
W1 = 0.5 * rng.standard_normal((4, 5))
W2 = 0.5 * rng.standard_normal((5, 3))
SEED_NONZEROS = {(1, 5), (2, 9), (3, 5), (4, 7), (5, 6), (6, 7), (7, 8), (8, 9)}  # the derivation's A


def seed_system() -> lagrad.AdjointSystem:
    return lagrad.adjoint(seed_network, X, Y, W1, W2)


def test_import_lagrad_loads_no_matplotlib():
    code = (
        "import sys, numpy as np, lagrad, lagrad.plot\n"
        "adj = lagrad.adjoint(lambda x: (x * x).sum(), np.ones(3))\n"
        "lagrad.plot.to_dot(adj.program); lagrad.plot.solve_levels(adj); lagrad.plot.block_structure(adj)\n"
        "assert 'matplotlib' not in sys.modules, 'matplotlib was imported'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_the_core_imports_nothing_of_plot():
    """The import direction has no exception: pictures take a Program or a system; the core
    and the solvers draw nothing and import nothing of lagrad.plot, not even lazily."""
    assert not hasattr(lagrad.AdjointSystem, "plot") and not hasattr(lagrad.core.Program, "plot")
    root = Path(lagrad.__file__).parent
    for path in [*(root / "core").glob("*.py"), *(root / "adjoint").glob("*.py")]:
        text = path.read_text()
        assert not re.search(r"from \.+plot\b|import lagrad\.plot|from lagrad\.plot|lagrad\.plot import", text), path


def test_block_structure_sizes_follow_the_shapes():
    matrix, names = block_structure(seed_system())
    assert names == [f"z{i}" for i in range(1, 10)]
    off = {(i + 1, k + 1) for i, k in zip(*np.nonzero(np.isfinite(matrix))) if i != k}
    assert off == SEED_NONZEROS
    sizes = [X.size, Y.size, W1.size, W2.size, 6 * 5, 6 * 5, 6 * 3, 6 * 3, 1]
    for i in range(9):
        assert matrix[i, i] == sizes[i] ** 2  # -I of z_i
    for i, k in SEED_NONZEROS:
        assert matrix[i - 1, k - 1] == sizes[i - 1] * sizes[k - 1]


def test_block_structure_norms_match_closed_forms():
    matrix, _ = block_structure(seed_system(), color="norm")
    # ∂(x w1)/∂w1 maps w1[a, b] to column b through x[:, a]: ‖J‖_F² = (columns of w1) ‖x‖_F²
    assert matrix[2, 4] == pytest.approx(np.sqrt(W1.shape[1]) * np.linalg.norm(X))
    assert matrix[0, 4] == pytest.approx(np.sqrt(X.shape[0]) * np.linalg.norm(W1))
    # ∂σ(z5)/∂z5 is diagonal with σ(1 − σ)
    s = 1 / (1 + np.exp(-(X @ W1)))
    assert matrix[4, 5] == pytest.approx(np.linalg.norm(s * (1 - s)))
    assert matrix[3, 3] == pytest.approx(np.sqrt(W2.size))  # ‖I‖_F


def test_large_blocks_get_an_estimated_norm(monkeypatch):
    exact, _ = block_structure(seed_system(), color="norm")
    monkeypatch.setattr(plot, "EXACT_NORM_LIMIT", 0)
    estimate, _ = block_structure(seed_system(), color="norm")
    finite = np.isfinite(exact)
    assert np.array_equal(finite, np.isfinite(estimate))
    ratio = estimate[finite] / exact[finite]
    assert np.all((ratio > 0.5) & (ratio < 1.5))  # 8 random probes: an estimate, not a bug's tolerance


def test_groups_sum_the_blocks():
    system = seed_system()
    groups = {"data": [1, 2], "weights": [3, 4], "hidden": [5, 6], "output": [7, 8, 9]}
    matrix, names = block_structure(system, groups=groups)
    full, _ = block_structure(system)
    assert names == list(groups)
    for a, rows in enumerate(groups.values()):
        for b, cols in enumerate(groups.values()):
            cells = full[np.ix_([r - 1 for r in rows], [c - 1 for c in cols])]
            expected = np.nansum(cells) if np.isfinite(cells).any() else np.nan
            np.testing.assert_equal(matrix[a, b], expected)
    with pytest.raises(ValueError, match="two groups"):
        block_structure(system, groups={"a": [1, 2], "b": [2, 3, 4, 5, 6, 7, 8, 9]})
    with pytest.raises(ValueError, match="none"):
        block_structure(system, groups={"a": [1, 2]})
    with pytest.raises(ValueError, match="numbered"):
        block_structure(system, groups={"a": list(range(0, 10))})
    with pytest.raises(ValueError, match="color"):
        block_structure(system, color="weight")


def test_solve_levels_of_the_seed():
    # by hand from A: z9 is the output; f9 reads z8, z2; f8 reads z7; f7 reads z6, z4; f6 z5; f5 z1, z3
    assert solve_levels(seed_system()) == [[9], [2, 8], [7], [4, 6], [5], [1, 3]]


def test_variables_of_one_level_do_not_need_each_other():
    def branches(x, w):
        a = lnp.tanh(x @ w)
        b = lnp.sin(lnp.exp(x) @ w)
        c = lnp.cos(x).sum()
        return (a * b).sum() + c

    system = lagrad.adjoint(branches, X, W1)
    levels = solve_levels(system)
    level_of = {v: lv for lv, members in enumerate(levels) for v in members}
    assert sorted(level_of) == list(range(1, system.n + 1))
    for block in system.blocks():  # λ_i needs λ_k: k strictly earlier in the order
        assert level_of[block.k + 1] < level_of[block.i + 1]


def test_plot_system_draws_blocks_labels_and_sparsity():
    pytest.importorskip("matplotlib")
    system = seed_system()
    fig = plot_system(system)
    axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(axes) == 2
    texts = {t.get_text() for t in axes[0].texts}
    assert {"∂f5/∂z1", "∂f9/∂z8", "-1"} <= texts
    assert "nonzeros" in axes[1].get_title()
    # the nonzeros drawn are those of the scalar-level matrix
    (line,) = axes[1].lines[:1]
    assert len(line.get_xdata()) == system.matrix("sparse").nnz
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    assert buffer.getvalue()[:4] == b"\x89PNG"


def test_plot_system_options():
    pytest.importorskip("matplotlib")
    system = seed_system()
    fig = plot_system(system, color="norm", levels=True, scalar=False, labels=False)
    (ax,) = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert not any(t.get_text().startswith("∂") for t in ax.texts)
    assert any(t.get_text() == "level" for t in ax.texts)
    grouped = plot_system(system, groups={"in": [1, 2, 3, 4], "net": [5, 6, 7, 8, 9]})
    (ax,) = [ax for ax in grouped.axes if ax.get_label() != "<colorbar>"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["in", "net"]
    from matplotlib.figure import Figure

    target = Figure().subplots()
    assert plot_system(system, ax=target) is target.figure
    with pytest.raises(ValueError, match="own figure"):
        plot_system(system, ax=Figure().subplots(), scalar=True)


def test_large_programs_skip_the_scalar_panel_and_labels():
    pytest.importorskip("matplotlib")

    def chain(x):
        for _ in range(15):
            x = lnp.sin(x)
        return x.sum()

    system = lagrad.adjoint(chain, np.ones(200))
    assert system.size > plot.SCALAR_LIMIT
    fig = plot_system(system)
    axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(axes) == 1 and not axes[0].texts


def test_program_plot_and_dot():
    def f(x, w):
        h = expit(x @ w)
        return lnp.where(h > 0.5, h, 2 * h).sum()

    program = lagrad.trace(f, X, W1)
    dot = to_dot(program)
    assert not hasattr(program, "to_dot")  # the core draws nothing: the pictures take a Program
    assert dot.startswith("digraph program {") and dot.rstrip().endswith("}")
    assert 'z1 [label="z1 = x\\n(6, 4)", shape=box]' in dot
    assert 'z1 -> z3 [label="∂f3/∂z1"]' in dot and 'z2 -> z3 [label="∂f3/∂z2"]' in dot
    where = next(eq for eq in program.equations if eq.primitive.name == "where")
    condition = where.args[0]
    assert f"z{condition + 1} -> z{where.out + 1} [style=dashed];" in dot  # no derivative through the branch
    assert f"z{program.outputs[0] + 1} [" in dot and "peripheries=2" in dot
    pytest.importorskip("matplotlib")
    fig = plot_program(program)
    ax = fig.axes[0]
    assert {f"z{i}" for i in range(1, program.n_vars + 1)} <= {t.get_text() for t in ax.texts}
    assert len(ax.patches) == sum(1 for eq in program.equations for a in eq.args if a >= 0)
    assert not plot_program(program, labels=False).axes[0].texts[1:]  # the title only


def test_missing_matplotlib_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"lagrad\[plot\]"):
        plot_system(seed_system())
    with pytest.raises(ImportError, match="plot_program"):
        plot_program(lagrad.trace(seed_network, X, Y, W1, W2))


def test_colouring_and_elimination_pictures():
    pytest.importorskip("matplotlib")
    f = lambda x: x[1:] * x[:-1] + lnp.sin(x[1:])
    structure = lagrad.sparsity(f, np.linspace(0.1, 1.0, 12))
    fig = plot.plot_colouring(structure)
    assert f"{structure.n_colours} colours" in fig.axes[0].get_title()
    assert len(fig.axes[0].collections[0].get_offsets()) == structure.nnz
    graph = lagrad.elimination_graph(lambda x: lnp.exp(lnp.sin(x) * x), np.ones(3))
    fig = plot.plot_elimination(graph, "reverse")
    assert f"{graph.cost('reverse')} multiplications" in fig.axes[0].get_title()
    assert [b.get_height() for b in fig.axes[0].patches] == [c for _, c in graph.steps("reverse")]


def test_plot_system_colours_the_scalar_pattern_by_colour_group():
    pytest.importorskip("matplotlib")
    f = lambda x: x[1:] * x[:-1] + lnp.sin(x[1:])
    x = np.linspace(0.1, 1.0, 12)
    structure = lagrad.sparsity(f, x, mode="fwd")
    system = lagrad.adjoint(lambda x: lnp.sum(f(x)), x)
    with pytest.raises(ValueError, match="colouring is of 5 input scalars"):
        plot.scalar_colour_groups(system, lagrad.sparsity(f, np.ones(5), mode="fwd"))
    with pytest.raises(ValueError, match="colouring of columns"):
        plot.scalar_colour_groups(system, lagrad.sparsity(f, x, mode="rev"))
    groups = plot.scalar_colour_groups(system, structure)
    layout = system.layout
    colours = np.asarray(structure.colours)
    # the input's scalars carry their own colour; x[1:] and x[:-1] (slices) the colour of the
    # scalar they copy; the products read two neighbours, which a distance-2 colouring separates
    program = system.program
    by_name = {eq.primitive.name: eq.out for eq in program.equations}
    start, stop = layout[0]
    assert groups[start:stop].tolist() == colours.tolist()
    start, stop = layout[by_name["multiply"]]
    assert (groups[start:stop] == -1).all()
    start, stop = layout[by_name["sin"]]
    assert groups[start:stop].tolist() == colours[1:].tolist()
    fig = plot_system(system, colouring=structure)
    scatter = fig.axes[1].collections[0]
    assert len(scatter.get_offsets()) == system.matrix("sparse").nnz
    assert len({tuple(c) for c in scatter.get_facecolors()}) > structure.n_colours  # the colours and grey
