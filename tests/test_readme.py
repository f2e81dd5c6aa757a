"""README's set-up commands and its Python examples stay true."""

from __future__ import annotations

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_two_setup_commands_and_ci_runs_the_test_one():
    commands = re.findall(r"<!-- setup:(\w+) -->\n```bash\n(.+)\n```", README)
    assert [name for name, _ in commands] == ["demo", "test"]
    assert commands[0][1].endswith("lagrad demo")
    assert "pytest" in commands[1][1]
    assert "setup:test" in (ROOT / ".ci" / "run").read_text()


def test_python_examples_run():
    for block in re.findall(r"```python\n(.*?)```", README, flags=re.S):
        exec(compile(block, "README.md", "exec"), {})
