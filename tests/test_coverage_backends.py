"""`python -m lagrad.coverage --backends`: the backend walk's verdicts on a few functions whose
outcome is known, and the report it renders (the whole walk runs from the command line)."""

from __future__ import annotations

import pytest

from lagrad import coverage

pytest.importorskip("array_api_strict", reason="array-api-strict is not installed: pip install -e '.[test]'")


def test_the_walk_says_what_works_and_what_is_refused_on_each_library():
    names = ["numpy.exp", "numpy.matmul", "numpy.sinc", "numpy.sort", "numpy.unique"]
    table = coverage.backend_walk(("array_api_strict", "cupy"), only=names)
    strict = {name: by["array_api_strict"] for name, by in table.items()}
    assert strict == {
        "numpy.exp": coverage.WORKS,
        "numpy.matmul": coverage.WORKS,
        "numpy.sinc": coverage.REFUSED,  # outside the standard: an error naming it and the library
        "numpy.sort": coverage.REFUSED,
        "numpy.unique": coverage.REFUSED,
    }
    if isinstance(coverage.backend_inputs(("cupy",))["cupy"], str):
        assert table["numpy.exp"]["cupy"].startswith("not measured")
    text = coverage.render_backends(table)
    assert "| `numpy.sinc` | refused |" in text
    assert "| numpy | 2 | 3 | 0 | 0 |" in text  # array_api_strict: works, refused, fails, wrong
