"""The coverage report stays generated, classifies by the registries, and every
differentiable primitive meets a gradient check somewhere in the suite."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest
import scipy

import lagrad
import lagrad.numpy as lnp
from lagrad import coverage
from lagrad.core import registry
from lagrad.numpy import NONDIFF, PRIMITIVES
from lagrad.testing import check_grads, checked_primitives
from tests.conftest import GUARD, WHOLE_SUITE, rand


def _row(module: str, name: str, table: list[coverage.Row] | None = None) -> coverage.Row:
    """The row of `module.name`, in `table` or in a table read from the registries now."""
    return next(r for r in (table or coverage.rows()) if r.module == module and r.name == name)


def test_docs_coverage_md_is_up_to_date(capsys):
    written = coverage.DEFAULT_OUTPUT.read_text(encoding="utf-8")
    stamp = f"NumPy {np.__version__}, SciPy {scipy.__version__}"
    if stamp not in written:
        pytest.skip(f"docs/coverage.md was generated with other versions than {stamp}")
    assert coverage.main(["--check"]) == 0, capsys.readouterr().out


def test_check_fails_on_a_stale_report_and_writing_fixes_it(tmp_path):
    out = tmp_path / "coverage.md"
    out.write_text("stale\n", encoding="utf-8")
    assert coverage.main(["--check", "--output", str(out)]) == 1
    assert out.read_text(encoding="utf-8") == "stale\n"  # --check writes nothing
    assert coverage.main(["--output", str(out)]) == 0
    assert coverage.main(["--check", "--output", str(out)]) == 0


def test_the_report_states_counts_that_add_up():
    table = coverage.rows()
    text = coverage.render(table)
    n = sum(r.status == coverage.DIFFERENTIABLE for r in table)
    assert f"**{n} functions are differentiable.**" in text
    for module, by_status in coverage.counts(table).items():
        cells = " | ".join(str(by_status[s]) for s in coverage.STATUSES)
        assert f"| {module} | {cells} | {sum(by_status.values())} |" in text
    assert len({(r.module, r.name) for r in table}) == len(table)


def test_classification_reads_the_registries():
    table = coverage.rows()  # read once: nothing here changes the registries
    assert _row("numpy", "sin", table).status == coverage.DIFFERENTIABLE
    assert _row("numpy", "argmax", table) == coverage.Row("numpy", "argmax", coverage.NO_DERIVATIVE, "recorded")
    assert _row("numpy", "shape", table).note == "metadata: no equation"
    assert _row("numpy", "zeros", table).status == coverage.NO_DERIVATIVE  # NumPy's own constructor
    assert _row("numpy", "floor", table).status == coverage.NO_DERIVATIVE  # a primitive with a zero rule
    assert (
        _row("numpy", "unique", table).status == coverage.DIFFERENTIABLE
        and "selection" in _row("numpy", "unique", table).note
    )
    assert _row("numpy", "busday_count", table).status == coverage.NOT_SUPPORTED
    assert _row("scipy.special", "expit", table).status == coverage.DIFFERENTIABLE
    assert _row("scipy.special", "gammaln", table).status in (coverage.DIFFERENTIABLE, coverage.NOT_SUPPORTED)
    assert {r.name for r in table if r.module == "scipy.stats"} >= {"norm.logpdf", "poisson.logpmf"}


def test_a_newly_registered_function_is_picked_up(monkeypatch):
    assert _row("numpy", "cbrt").status == coverage.NOT_SUPPORTED or "cbrt" in lnp.__all__
    monkeypatch.setitem(registry.ufuncs, np.cbrt, lnp.sin)  # stands in for a family's new rule
    assert _row("numpy", "cbrt").status == coverage.DIFFERENTIABLE
    monkeypatch.setitem(NONDIFF, "cbrt", lnp.sin)
    assert _row("numpy", "cbrt").status == coverage.NO_DERIVATIVE


def test_the_no_derivative_list_is_printed():
    text = coverage.render()
    listed = text.split("## The no-derivative list", 1)[1]
    for name in ("argmax", "isnan", "less", "searchsorted", "all", "iscomplexobj", "stop_gradient"):
        assert f"`{name}`" in listed


def test_module_entry_point_prints_the_counts(tmp_path):
    out = tmp_path / "c.md"
    proc = subprocess.run(
        [sys.executable, "-m", "lagrad.coverage", "--output", str(out)], capture_output=True, text=True, check=True
    )
    assert re.search(r"\d+ functions are differentiable", proc.stdout)
    assert out.read_text(encoding="utf-8").startswith("# What lagrad differentiates")


def test_the_guard_names_a_primitive_no_check_reached(monkeypatch):
    checked = set(coverage.differentiable_primitives())
    assert coverage.unchecked_primitives(checked) == []
    fresh = lagrad.defrule(lagrad.Primitive("fresh_cube", lambda x: x**3), lambda g, ans, x: 3 * g * x**2)
    monkeypatch.setitem(PRIMITIVES, "fresh_cube", fresh)
    assert coverage.unchecked_primitives(checked) == ["fresh_cube"]
    check_grads(lambda x: fresh(x) * 2.0, rand(3), order=2)
    assert coverage.unchecked_primitives(checked | checked_primitives) == []
    no_rule = lagrad.Primitive("no_rule", np.floor)
    monkeypatch.setitem(PRIMITIVES, "no_rule", no_rule)  # no derivative: nothing to check
    assert coverage.unchecked_primitives(checked | checked_primitives) == []


def test_every_differentiable_primitive_has_a_gradient_check(request):
    """Runs last (tests/conftest.py orders it): by then every check_grads call of the suite
    has recorded the primitives whose derivatives it checked."""
    assert request.node.name == GUARD
    if not request.config.stash.get(WHOLE_SUITE, False):
        pytest.skip("checks the whole suite's gradient checks: run all of tests/")
    if hasattr(request.config, "workerinput"):
        pytest.skip("pytest-xdist: the controller checks the union of every worker's checks (tests/conftest.py)")
    if request.session.testsfailed:
        pytest.skip("other tests failed, so their gradient checks may not have run")
    assert request.session.items[-1] is request.node  # every other test has run
    missing = coverage.unchecked_primitives(checked_primitives)
    assert not missing, (
        f"these primitives have derivative rules that no check_grads call in the test suite exercises: "
        f"{', '.join(missing)}. Add a test calling tests.helpers.check (or lagrad.testing.check_grads) "
        f"on a function that uses each."
    )


def test_the_report_names_the_derivatives_a_function_lacks():
    """The shape-parameter derivatives not given are stated, as are the orders without a derivative."""
    table = coverage.rows()
    assert _row("scipy.special", "gammainc", table).note == "no third derivative in `a`"
    assert _row("scipy.special", "stdtr", table).note == "no second derivative in `df`"
    assert "no derivative in the order `v`" in _row("scipy.special", "iv", table).note
    assert _row("scipy.stats", "gamma.cdf", table) == coverage.Row(
        "scipy.stats", "gamma.cdf", coverage.DIFFERENTIABLE, "no third derivative in `a`"
    )
    assert _row("scipy.special", "erf", table).note == ""


def test_a_method_handed_on_to_scipy_is_not_counted_differentiable():
    """lagrad.scipy.stats.multivariate_normal hands cdf and logcdf to SciPy's object (plain
    values, no derivative); the report counted them differentiable because getattr found them."""
    table = coverage.rows()
    for method in ("cdf", "logcdf"):
        assert _row("scipy.stats", f"multivariate_normal.{method}", table).status == coverage.NOT_SUPPORTED
    assert _row("scipy.stats", "multivariate_normal.logpdf", table).status == coverage.DIFFERENTIABLE
    assert _row("scipy.stats", "norm.cdf", table).status == coverage.DIFFERENTIABLE
