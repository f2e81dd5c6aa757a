"""README's set-up commands, its Python examples, its demo excerpt and links stay true."""

from __future__ import annotations

import io
import pathlib
import re

import numpy as np
import scipy.special as sp

from lagrad.cli import EXAMPLES
from lagrad.demo import explain

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_two_setup_commands_and_ci_runs_the_test_one():
    commands = re.findall(r"<!-- setup:(\w+) -->\n```bash\n(.+)\n```", README)
    assert [name for name, _ in commands] == ["demo", "test"]
    assert commands[0][1] == 'python3 -m venv .venv && . .venv/bin/activate && pip install ".[demo]" && lagrad demo'
    assert "pytest" in commands[1][1]
    assert "setup:test" in (ROOT / ".ci" / "run").read_text()


def test_python_examples_run():
    for block in re.findall(r"```python\n(.*?)```", README, flags=re.S):
        exec(compile(block, "README.md", "exec"), {})


def test_python_example_gives_what_its_comments_say():
    block = re.search(r"```python\n(.*?)```", README, flags=re.S).group(1)
    env: dict = {}
    exec(compile(block.replace("print(", "str("), "README.md", "exec"), env)  # quiet: the checks below read it
    adj, x, y, w1, w2 = (env[k] for k in ("adj", "x", "y", "w1", "w2"))
    # the everyday gradient, against the closed form of this network's, written with SciPy
    a1 = sp.expit(x @ w1)
    dlogits = (sp.softmax(a1 @ w2, axis=1) - y) / len(x)
    dz5 = (dlogits @ w2.T) * a1 * (1 - a1)
    assert np.allclose(env["g1"], x.T @ dz5, rtol=1e-12, atol=1e-14)
    assert np.allclose(env["g2"], a1.T @ dlogits, rtol=1e-12, atol=1e-14)
    # print(adj.program): z5 = matmul(z3, z1)   # (32, 8) ...
    assert re.search(r"^  z5 = matmul\(z3, z1\) +# \(32, 8\)", str(adj.program), flags=re.M)
    # adj.matrix("symbolic"): -1 on the diagonal, ∂f_k/∂z_i above it, nothing below
    rows = [line.split() for line in str(adj.matrix("symbolic")).splitlines()[1:]]
    assert len(rows) == 13
    for i, row in enumerate(rows, start=1):
        for k, entry in enumerate(row[1:], start=1):
            expected = "-1" if k == i else ("·" if k < i else {"·", f"∂f{k}/∂z{i}"})
            assert entry == expected if isinstance(expected, str) else entry in expected, (i, k, entry)
    assert any(entry == "∂f5/∂z1" for entry in rows[0])
    # adj.multipliers[5]: the gradient with respect to the intermediate z5 = x @ w1
    assert np.allclose(adj.multipliers[5], dz5, rtol=1e-12, atol=1e-14)
    # adj.residual(): ‖A λ − b‖ ≈ 1e-16
    assert adj.residual() < 1e-14
    # adj.solve("sparse"): the same multipliers
    sparse = adj.solve("sparse")
    assert len(sparse.lambdas) == 13
    for k in range(1, 14):
        assert np.allclose(sparse[k], adj.multipliers[k], rtol=1e-12, atol=1e-15), k


def test_demo_excerpt_is_what_the_demo_prints():
    excerpt = re.search(r"## The demo\n.*?```text\n(.*?)```", README, flags=re.S).group(1)
    out = io.StringIO()
    explain(out=out)
    printed = re.sub(r"demo\.py:\d+", "demo.py:N", out.getvalue())
    lines = [line for line in excerpt.splitlines() if line.strip() and line.strip() != "…" and line[:2] != " …"]
    shown = [re.sub(r"demo\.py:\d+", "demo.py:N", line) for line in lines if not line.lstrip()[:1].isdigit()]
    assert len(shown) > 20
    for line in shown:  # the training lines (starting with a number) vary with the machine
        assert line in printed, line


def test_examples_and_picture_are_linked():
    for name in EXAMPLES:
        assert f"(src/lagrad/examples/{name}.py)" in README
    pictures = re.findall(r"!\[[^\]]*\]\((docs/[^)]+)\)", README)
    assert pictures
    for picture in pictures:
        path = ROOT / picture
        assert path.is_file() and path.stat().st_size < 100_000  # committed small
