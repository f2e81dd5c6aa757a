"""Every example shipped in lagrad.examples runs, in small form, and shows what its docstring says."""

from __future__ import annotations

import ast
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from lagrad.cli import EXAMPLES, load_example
from lagrad.testing import check_grads
from tests.helpers import check

os.environ.setdefault("MPLBACKEND", "Agg")

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "src" / "lagrad" / "examples"


@pytest.fixture
def out(tmp_path):
    """Where an example draws its picture: tmp_path, or None (no picture, the rest of the
    example still runs) where matplotlib, the plot extra, is not installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return None
    return tmp_path


def drew(out, name):
    return out is None or (out / f"{name}.png").is_file()


@pytest.mark.parametrize("name", EXAMPLES)
def test_each_example_says_what_it_shows(name):
    source = (SHIPPED / f"{name}.py").read_text()
    doc = ast.get_docstring(ast.parse(source))
    assert doc and len(doc.splitlines()) >= 5
    assert f"lagrad demo --example {name}" in doc and f"python -m lagrad.examples.{name}" in doc
    assert callable(load_example(name).main)
    script = ast.get_docstring(ast.parse((ROOT / "examples" / f"{name}.py").read_text()))
    assert script.splitlines()[0] == doc.splitlines()[0] and f"python examples/{name}.py" in script


def test_heat_equation(out, capsys):
    heat = load_example("heat_equation")
    result = heat.main(out=out, n=10, experiments=4, final_time=0.01, maxiter=60)
    assert result["error"] < 0.05 < result["start_error"]
    assert result["fit"].success
    assert "relative error of the recovered diffusivity" in capsys.readouterr().out
    assert drew(out, "heat_equation")
    # the gradient L-BFGS-B was fed: the unrolled solver's derivative, both modes, second order
    rng = np.random.default_rng(0)
    u0, measured = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    kappa = rng.uniform(0.5, 1.5, 4)
    check(lambda k: heat.misfit(k, u0, measured, 0.25, 0.01, 3, 1e-3), kappa)


def test_heat_equation_matches_a_plain_numpy_solver():
    heat = load_example("heat_equation")
    rng = np.random.default_rng(1)
    kappa, u = rng.uniform(0.5, 1.5, 6), rng.standard_normal((2, 5))
    dx, dt = 1 / 6, 0.002
    expected = u.copy()
    for _ in range(4):  # u_j += dt/dx² (κ_{j+½}(u_{j+1} − u_j) − κ_{j−½}(u_j − u_{j−1})), u = 0 outside
        padded = np.pad(expected, ((0, 0), (1, 1)))
        expected = expected + dt / dx**2 * (
            kappa[1:] * (padded[:, 2:] - padded[:, 1:-1]) - kappa[:-1] * (padded[:, 1:-1] - padded[:, :-2])
        )
    np.testing.assert_allclose(heat.final_temperatures(kappa, u, dx, dt, 4), expected, rtol=1e-12)


def test_densenet_block(out, capsys):
    dense = load_example("densenet_block")
    result = dense.main(out=out, batch=3, channels=2, growth=2, layers=3)
    layers = 3
    pattern = result["dense"]["pattern"]
    assert result["upper_triangle_full"]
    assert np.array_equal(pattern, np.triu(np.ones((layers + 2, layers + 2), dtype=bool), k=1))
    plain = result["plain"]["pattern"]
    assert np.array_equal(plain, np.eye(layers + 2, k=1, dtype=bool))  # a plain stack: one band
    assert "upper triangle completely filled: True" in capsys.readouterr().out
    assert drew(out, "densenet_block")
    rng = np.random.default_rng(2)
    weights, head = dense.make_weights(rng, 2, 1, 2, True)
    check(dense.dense_block, rng.standard_normal((2, 2)), weights, head)


def test_inception_block(out):
    inception = load_example("inception_block")
    result = inception.main(out=out, batch=3, channels=2, width=2)
    assert result["separate"]
    assert result["difference"] < 1e-14
    system = result["system"]
    for got, want in zip(result["multipliers"], system.multipliers.lambdas):
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)
    # the branches' first layers can all be solved at once: same level, different branches
    owner = {v: g for g, members in result["groups"].items() for v in members}
    level_of = {v: lv for lv, members in enumerate(result["levels"]) for v in members}
    tagged = {name: system.program.tags[name] + 1 for name in inception.BRANCHES}
    assert len({level_of[v] for v in tagged.values()}) == 1
    assert {owner[v] for v in tagged.values()} == set(inception.BRANCHES)
    assert drew(out, "inception_block")
    rng = np.random.default_rng(3)
    weights, head = inception.make_weights(rng, 2, 2)
    check_grads(inception.inception_block, rng.standard_normal((2, 2)), weights, head, order=2)


def test_branches(out):
    branches = load_example("branches")
    result = branches.main(out=out, points=9, size=6)
    assert result["max_difference"] < 1e-6
    np.testing.assert_allclose(result["vectorised"], [d for _, d, _ in result["away"]])
    kink, jump = result["switching"]["kink"], result["switching"]["jump"]
    # at the kink: lagrad gives the right-hand slope (x ≥ 0 ran), differences the mean
    assert kink["lagrad"] == kink["right"] == 0.0
    assert kink["fd"][1e-6] == pytest.approx(0.5 * (kink["left"] + kink["right"]), abs=1e-6)
    # at the jump: (f(1+ε) − f(1−ε))/2ε = ((1+ε)² + 1 − (1−ε)²)/2ε = 2 + 1/(2ε) grows without
    # bound, while lagrad keeps the slope 2 of the branch taken
    assert jump["lagrad"] == pytest.approx(2.0)
    for eps, value in jump["fd"].items():
        assert value == pytest.approx(2 + 1 / (2 * eps), rel=1e-6)
    clip = result["clip"]
    np.testing.assert_allclose(clip["lagrad"], clip["fd"], atol=1e-6)
    assert np.all(clip["lagrad"][clip["held"]] == 0) and np.all(clip["lagrad"][~clip["held"]] != 0)
    newton = result["newton"]
    assert newton["lagrad"] == pytest.approx(newton["exact"], rel=1e-10)
    assert newton["replay"] == pytest.approx(np.sqrt(2.0000001), rel=1e-12)
    assert newton["refused"] and "trace the function again" in newton["refused"].lower()
    assert drew(out, "branches")
    check_grads(branches.piecewise, np.float64(0.6))  # inside a piece: exact, to second order
    check_grads(branches.piecewise_vectorised, np.array([-1.5, 0.4, 2.2]))


def test_maximize(out):
    example = load_example("maximize")
    result = example.main(out=out, samples=200)
    assert result["mu"] == pytest.approx(result["mu_exact"], abs=1e-6)
    assert result["sigma"] == pytest.approx(result["sigma_exact"], rel=1e-6)
    np.testing.assert_allclose(result["beta"], result["beta_irls"], atol=1e-6)
    assert np.max(np.abs(result["score"])) < 1e-6
    normal = result["normal"]
    data_free = -0.5 * 200 * (1 + np.log(2 * np.pi * result["sigma_exact"] ** 2))  # the maximum, by hand
    assert normal.fun == pytest.approx(data_free, rel=1e-9)
    assert drew(out, "maximize")
    params = {"beta": np.array([0.1, -0.2, 0.3])}
    x, counts = np.random.default_rng(4).uniform(-1, 1, (5, 3)), np.array([0.0, 2.0, 1.0, 3.0, 0.0])
    check(lambda p: example.poisson_log_likelihood(p, x, counts), params)
    check(lambda p: example.normal_log_likelihood(p, counts), {"mu": np.array(0.5), "log_sigma": np.array(0.1)})


@pytest.mark.parametrize("command", [["examples/maximize.py"], ["-m", "lagrad.examples.maximize"]])
def test_an_example_runs_as_a_script_and_as_a_module(tmp_path, command):
    pytest.importorskip("matplotlib")
    proc = subprocess.run(
        [sys.executable, *command, "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT / "src"), "MPLBACKEND": "Agg", "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    assert "normal fit" in proc.stdout and (tmp_path / "maximize.png").is_file()


def test_examples_use_public_api_only():
    for name in EXAMPLES:
        tree = ast.parse((SHIPPED / f"{name}.py").read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lagrad"):
                assert not any(part.startswith("_") for part in node.module.split(".")), (name, node.module)


def test_bilevel_ridge(out):
    example = load_example("bilevel_ridge")
    result = example.main(out=out, samples=40, features=8, steps=8)
    assert result["worst"] < 1e-8  # every loss and gradient against the closed form
    assert result["path"][-1][1] < result["path"][0][1]  # the validation loss went down
    assert drew(out, "bilevel_ridge")


def test_steady_heat(out):
    example = load_example("steady_heat")
    result = example.main(out=out, n=8, experiments=2, noise=0.0)
    assert result["error"] < 1e-3 < result["start_error"]
    assert drew(out, "steady_heat")
    source = np.linspace(1.0, 3.0, 5)
    u = example.steady_state(example.TRUE, source)
    assert np.max(np.abs(example.residual(u, example.TRUE, source))) < 1e-9
    check_grads(lambda c: example.steady_state(c, source), example.TRUE, order=1)


def test_deq_digits(out):
    pytest.importorskip("sklearn")
    example = load_example("deq_digits")
    result = example.main(out=out, samples=200, state=10, maxiter=20)
    assert result["test_accuracy"] >= 0.6  # chance is 0.1; the full run (all digits, state 48) reaches 98.9 %
    assert result["memory_implicit"] > 0 and result["memory_unrolled"] > 0
    assert drew(out, "deq_digits")
    rng = np.random.default_rng(1)
    params = example.init(rng, 4, 3, 2)
    x, labels = rng.uniform(size=(5, 4)), np.array([0, 1, 1, 0, 1])
    check(lambda p: example.loss(p, x, labels), params, order=1)


def test_dask_logistic(capsys):
    pytest.importorskip("dask.array", reason="Dask is not installed: pip install 'lagrad[dask]'")
    example = load_example("dask_logistic")
    result = example.main(rows=4000, features=6, chunk_rows=1000, cluster=False)
    np.testing.assert_allclose(result["dask"].x, result["numpy"].x, atol=1e-6)
    np.testing.assert_allclose(result["gradient_dask"], result["gradient_numpy"], rtol=1e-10, atol=1e-12)
    assert "lazy dask.array.core.Array" in capsys.readouterr().out
    w, X, y = np.random.default_rng(5).normal(size=3), np.random.default_rng(6).normal(size=(7, 3)), np.ones(7)
    check(lambda w: example.logistic_loss(w, X, y), w)  # the loss's gradient against finite differences
