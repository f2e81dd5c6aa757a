"""README's set-up commands, its Python examples, its demo excerpt and links stay true."""

from __future__ import annotations

import io
import pathlib
import re

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
