"""Shared fixtures: deterministic random inputs and the --slow switch."""

from __future__ import annotations

import pytest

import numpy as np


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--slow", action="store_true", default=False, help="run the long checks too")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--slow"):
        return
    skip = pytest.mark.skip(reason="long check: run with --slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


_rng = np.random.default_rng(20261126)


def rand(*shape: int, low: float = -1.0, high: float = 1.0) -> np.ndarray:
    """Uniform floats in [low, high); a 0-d array for shape ()."""
    return np.asarray(_rng.uniform(low, high, size=shape))


def positive(*shape: int) -> np.ndarray:
    return rand(*shape, low=0.5, high=2.0)
