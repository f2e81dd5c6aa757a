"""Shared fixtures: deterministic random inputs, the --slow switch, and the order that
puts the gradient-check coverage guard (tests/test_coverage.py) after every other test.

Under pytest-xdist (`-n 2`, pyproject's addopts) each worker process sees only its own share
of the checks, so the guard there hands over: every worker reports the primitives its
check_grads calls reached, and the controller checks their union once all have finished
(`pytest_testnodedown`, `pytest_sessionfinish` below), failing the run if one is missing."""

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


#: Under pytest-xdist: the names of the primitives each finished worker's checks reached.
_WORKER_CHECKS: list[set[str]] = []
_WORKER_WHOLE: list[bool] = []


def pytest_testnodedown(node, error) -> None:  # xdist's hook, on the controller
    output = getattr(node, "workeroutput", {})
    if "checked_primitives" in output:
        _WORKER_CHECKS.append(set(output["checked_primitives"]))
        _WORKER_WHOLE.append(output["whole_suite"])


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if hasattr(config, "workerinput"):  # a worker: report its checks to the controller
        from lagrad.testing import checked_primitives

        config.workeroutput["checked_primitives"] = sorted(p.name for p in checked_primitives)
        config.workeroutput["whole_suite"] = config.stash.get(WHOLE_SUITE, False)
        return
    if not _WORKER_CHECKS or not all(_WORKER_WHOLE) or exitstatus != 0:
        return  # not distributed, not the whole suite, or failures that may have stopped checks
    from lagrad import coverage

    reached = set().union(*_WORKER_CHECKS)
    missing = sorted(p.name for p in coverage.differentiable_primitives() if p.name not in reached)
    if missing:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        message = (
            f"{GUARD}: these primitives have derivative rules that no check_grads call in the test suite "
            f"exercises: {', '.join(missing)}. Add a test calling tests.helpers.check (or "
            f"lagrad.testing.check_grads) on a function that uses each."
        )
        if reporter is not None:
            reporter.write_line(message, red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
