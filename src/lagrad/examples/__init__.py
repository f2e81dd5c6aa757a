"""`lagrad.examples`: the worked examples, shipped with lagrad so that ``lagrad demo --example
NAME`` runs them from an installed wheel. Each is a module with a ``main(out=..., seed=...)``
and a docstring saying what it shows; ``python -m lagrad.examples.NAME`` runs one too.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: The examples, in the order ``lagrad demo --help`` lists them.
EXAMPLES = (
    "heat_equation",
    "densenet_block",
    "inception_block",
    "branches",
    "maximize",
    "bilevel_ridge",
    "steady_heat",
    "deq_digits",
    "dask_logistic",
)

__all__ = ["EXAMPLES", "run_from_command_line"]


def run_from_command_line(main: Callable[..., Any], doc: str) -> None:
    """``python -m lagrad.examples.NAME [--out DIR] [--seed N]``: an example's `main`."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("lagrad-demo"), help="folder for the picture")
    parser.add_argument("--seed", type=int, default=0)
    options = parser.parse_args()
    main(out=options.out, seed=options.seed)
