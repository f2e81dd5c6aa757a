"""The measured list: every function NumPy's own documentation examples call (three times or
more) is covered, or docs/coverage.md says why not."""

from __future__ import annotations

from lagrad import coverage


def test_functions_numpy_examples_use_are_covered_or_explained():
    uses = dict(coverage.measure_numpy_examples())
    table = {r.name: r for r in coverage.rows() if r.module == "numpy"}
    unexplained = [
        name
        for name, n in uses.items()
        if n >= 3 and name in table and table[name].status == coverage.NOT_SUPPORTED and not table[name].note
    ]
    assert not unexplained, f"give a reason in lagrad.coverage.NOT_SUPPORTED_REASONS for: {unexplained}"
    assert uses["polyval"] >= 3 and table["polyval"].status == coverage.DIFFERENTIABLE
