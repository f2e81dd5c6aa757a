"""Shared fixtures: deterministic random inputs, the --slow switch, and the order that
puts the gradient-check coverage guard (tests/test_coverage.py) after every other test."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

TESTS = pathlib.Path(__file__).resolve().parent
#: The test that asserts every differentiable primitive met a check_grads call: it runs last.
GUARD = "test_every_differentiable_primitive_has_a_gradient_check"
#: config.stash key: True when this session runs the whole suite (the guard needs that).
WHOLE_SUITE = pytest.StashKey[bool]()
_DESELECTED = pytest.StashKey[bool]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--slow", action="store_true", default=False, help="run the long checks too")


def pytest_deselected(items: list[pytest.Item]) -> None:
    if items:
        items[0].config.stash[_DESELECTED] = True


@pytest.hookimpl(trylast=True)  # after -k, -m, --deselect and --lf have chosen the items
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.name == GUARD)  # stable: everything else keeps its order
    config.stash[WHOLE_SUITE] = _whole_suite(config, items)
    if config.getoption("--slow"):
        return
    skip = pytest.mark.skip(reason="long check: run with --slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def _whole_suite(config: pytest.Config, items: list[pytest.Item]) -> bool:
    """Whether every test module runs, with nothing deselected or picked by node id."""
    if config.stash.get(_DESELECTED, False) or any("::" in str(arg) for arg in config.args):
        return False
    files = {pathlib.Path(str(item.path)).resolve() for item in items}
    return all(path in files for path in TESTS.rglob("test_*.py"))


_rng = np.random.default_rng(20261126)


def rand(*shape: int, low: float = -1.0, high: float = 1.0) -> np.ndarray:
    """Uniform floats in [low, high); a 0-d array for shape ()."""
    return np.asarray(_rng.uniform(low, high, size=shape))


def positive(*shape: int) -> np.ndarray:
    return rand(*shape, low=0.5, high=2.0)
