"""The `lagrad` command."""

from __future__ import annotations

import io
import subprocess
import sys

from lagrad.cli import demo, main


def test_demo_prints_the_system():
    out = io.StringIO()
    adj = demo(out=out)
    text = out.getvalue()
    assert "z5 = matmul(z1, z3)" in text and "∂f9/∂z8" in text and "λ9" in text
    assert "‖A λ − b‖" in text
    assert adj.residual() < 1e-14
    for line in text.splitlines():
        if "finite differences" in line:
            assert float(line.rsplit("=", 1)[1]) < 1e-7


def test_main_help_and_demo(capsys):
    assert main([]) == 0
    assert "demo" in capsys.readouterr().out
    assert main(["demo", "--seed", "3"]) == 0
    assert "Multipliers" in capsys.readouterr().out


def test_command_line_entry_point():
    proc = subprocess.run([sys.executable, "-m", "lagrad.cli", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "demo" in proc.stdout
