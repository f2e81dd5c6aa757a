"""The `lagrad` command and the demo behind it."""

from __future__ import annotations

import io
import os
import pathlib
import re
import subprocess
import sys
import time

import numpy as np
import pytest

import lagrad
import lagrad.numpy as lnp
from lagrad import cli
from lagrad.cli import EXAMPLES, main
from lagrad.demo import back_substitution_steps, explain, train

os.environ.setdefault("MPLBACKEND", "Agg")  # tests of a part of the demo extra skip where it is missing

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_explain_prints_the_whole_system():
    out = io.StringIO()
    system = explain(out=out)
    text = out.getvalue()
    for line in ("z1 = x", "z2 = y", "z3 = w1", "z4 = w2", "z5 = matmul(z1, z3)", "z9 = cross_entropy(z8, z2)"):
        assert line in text
    assert re.search(r"z1\s+-1\s+·\s+·\s+·\s+∂f5/∂z1", text)  # the matrix's first row
    for step in ("λ9 = 1", "λ8 = λ9 ∂f9/∂z8", "λ4 = λ7 ∂f7/∂z4", "λ2 = λ9 ∂f9/∂z2", "λ1 = λ5 ∂f5/∂z1"):
        assert step in text
    norms = system.multipliers.norms()
    assert f"‖λ8‖ = {norms[7]:.4g}" in text
    assert "‖A λ − b‖" in text and system.residual() < 1e-14
    checks = [line for line in text.splitlines() if "finite differences" in line or "same λ" in line]
    assert len(checks) == 4
    for line in checks:
        assert float(line.rsplit(" ", 1)[1]) < 1e-7


def test_back_substitution_steps_follow_any_program():
    def f(x, y, unused):
        h = x * x  # one block ∂f/∂x although x is read twice
        s = lnp.sum(h * y)
        return s + lnp.sin(s)  # s is read by two equations

    system = lagrad.adjoint(f, np.ones(3), np.ones(3), np.ones(2))
    assert [eq.primitive.name for eq in system.program.equations] == ["multiply", "multiply", "sum", "sin", "add"]
    assert back_substitution_steps(system) == [
        (8, "λ8 = 1"),
        (7, "λ7 = λ8 ∂f8/∂z7"),
        (6, "λ6 = λ7 ∂f7/∂z6 + λ8 ∂f8/∂z6"),
        (5, "λ5 = λ6 ∂f6/∂z5"),
        (4, "λ4 = λ5 ∂f5/∂z4"),
        (3, "λ3 = 0"),
        (2, "λ2 = λ5 ∂f5/∂z2"),
        (1, "λ1 = λ4 ∂f4/∂z1"),
    ]
    vector = lagrad.adjoint(lambda x: x * 2.0, np.ones(2), cotangent=np.ones(2))
    assert back_substitution_steps(vector)[0] == (2, "λ2 = cotangent")
    doubled = lagrad.adjoint(lambda x: (x * x).sum(), np.ones(2), cotangent=np.float64(2.0))
    assert back_substitution_steps(doubled)[0] == (3, "λ3 = cotangent")


def test_demo_without_training_writes_the_system_pictures(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert main(["demo", "--no-train", "--out", str(tmp_path / "pictures")]) == 0
    text = capsys.readouterr().out
    written = sorted(p.name for p in (tmp_path / "pictures").iterdir())
    assert written == ["adjoint-matrix.png", "program.png"]
    for name in written:
        assert str(tmp_path / "pictures" / name) in text
    assert "Training" not in text


def test_demo_trains_to_95_percent_in_under_a_minute(tmp_path, capsys):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    start = time.perf_counter()
    assert main(["demo", "--out", str(tmp_path), "--no-progress"]) == 0
    elapsed = time.perf_counter() - start
    text = capsys.readouterr().out
    accuracy = float(re.search(r"train accuracy [\d.]+%, test accuracy (\d+\.\d)%", text).group(1))
    assert accuracy >= 95.0
    assert (tmp_path / "loss.png").is_file()
    assert "epoch  20/20" in text  # --no-progress prints the epochs as lines
    assert elapsed < 60


def test_training_reports_and_bar(capsys):
    pytest.importorskip("sklearn")
    pytest.importorskip("tqdm")
    result = train(epochs=2, seed=1)  # the default progress: a bar
    assert len(result.losses) == 2 * -(-1347 // 32) and len(result.test_accuracies) == 2
    assert result.epoch_losses[1] < result.epoch_losses[0]
    assert result.test_accuracy > 0.85 and result.w1.shape == (65, 64) and result.w2.shape == (64, 10)
    assert "training" in capsys.readouterr().err  # tqdm's bar, on stderr
    with pytest.raises(ValueError, match="epochs"):
        train(epochs=0)


def test_training_without_tqdm_prints_epochs(monkeypatch):
    pytest.importorskip("sklearn")
    monkeypatch.setitem(sys.modules, "tqdm", None)
    out = io.StringIO()
    train(epochs=1, out=out)
    assert "epoch   1/1" in out.getvalue()


def test_missing_extra_is_named(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    assert main(["demo", "--no-progress", "--epochs", "1"]) == 1
    assert 'pip install "lagrad[demo]"' in capsys.readouterr().err


def test_help_is_clear(capsys):
    assert main([]) == 0
    assert "demo" in capsys.readouterr().out
    with pytest.raises(SystemExit) as stop:
        main(["demo", "--help"])
    assert stop.value.code == 0
    text = capsys.readouterr().out
    for option in ("--epochs", "--seed", "--out", "--no-train", "--example", *EXAMPLES):
        assert option in text
    assert "handwritten digits" in text and "A λ = b" in text
    with pytest.raises(SystemExit):
        main(["demo", "--example", "nonsense"])
    with pytest.raises(SystemExit):
        main(["demo", "--epochs", "0"])


def test_examples_are_the_modules_shipped_in_lagrad_examples():
    shipped = ROOT / "src" / "lagrad" / "examples"
    assert sorted(EXAMPLES) == sorted(p.stem for p in shipped.glob("*.py") if p.stem != "__init__")
    assert sorted(EXAMPLES) == sorted(p.stem for p in (ROOT / "examples").glob("*.py"))  # the checkout's scripts
    # a package, so setuptools' package discovery (pyproject.toml) puts it in the wheel
    setuptools = pytest.importorskip("setuptools")
    assert "lagrad.examples" in setuptools.find_packages(str(ROOT / "src"))
    for name in EXAMPLES:
        module = cli.load_example(name)
        assert module.__name__ == f"lagrad.examples.{name}"
        assert pathlib.Path(module.__file__).resolve().parent == shipped


def test_demo_runs_an_example(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert main(["demo", "--example", "branches", "--out", str(tmp_path)]) == 0
    assert "BranchError" in capsys.readouterr().out
    assert (tmp_path / "branches.png").is_file()


def test_demo_never_runs_a_script_from_the_current_folder(tmp_path, monkeypatch):
    ran = tmp_path / "ran"
    (tmp_path / "examples").mkdir()
    for name in EXAMPLES:
        script = f"import pathlib\npathlib.Path({str(ran)!r}).write_text('local')\n"
        (tmp_path / "examples" / f"{name}.py").write_text(script + "def main(**kwargs):\n    raise SystemExit(1)\n")
    monkeypatch.chdir(tmp_path)
    for name in EXAMPLES:
        assert cli.load_example(name).__name__ == f"lagrad.examples.{name}"
    assert not ran.exists()
    with pytest.raises(SystemExit, match="no example"):
        cli.load_example("../examples/heat_equation")


def test_command_line_entry_point():
    proc = subprocess.run(
        [sys.executable, "-m", "lagrad.cli", "demo", "--help"], capture_output=True, text=True, cwd="/"
    )
    assert proc.returncode == 0 and "--no-train" in proc.stdout
    assert "Recover an unknown diffusivity" in proc.stdout  # examples found beside the source, from anywhere


def test_seed_network_is_the_derivation():
    rng = np.random.default_rng(0)
    x, w1, w2 = rng.standard_normal((5, 4)), rng.standard_normal((4, 3)), rng.standard_normal((3, 2))
    y = np.eye(2)[[0, 1, 1, 0, 1]]
    from lagrad.demo import seed_network
    from tests.helpers import check

    a2 = np.exp(1 / (1 + np.exp(-x @ w1)) @ w2)
    a2 /= a2.sum(axis=1, keepdims=True)
    assert float(seed_network(x, y, w1, w2)) == pytest.approx(-np.mean(np.sum(y * np.log(a2), axis=1)))
    check(seed_network, x, y, w1, w2)  # both rules of the loss, both modes, second order


@pytest.mark.slow
def test_the_wheel_ships_the_examples(tmp_path):
    """Build the wheel (about 20 s) and look inside: the examples and lagrad.autograd are in it."""
    import zipfile

    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    (wheel,) = tmp_path.glob("lagrad-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in EXAMPLES:
        assert f"lagrad/examples/{name}.py" in names
    assert {"lagrad/examples/__init__.py", "lagrad/autograd/__init__.py", "lagrad/autograd/numpy/random.py"} <= names
