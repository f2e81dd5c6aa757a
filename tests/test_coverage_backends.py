"""`python -m lagrad.coverage --backends`: the backend walk's verdicts on a few functions whose
outcome is known, and the report it renders (the whole walk runs from the command line)."""

from __future__ import annotations

import pytest

from lagrad import coverage

pytest.importorskip("array_api_strict", reason="array-api-strict is not installed: pip install -e '.[test]'")


def test_the_walk_says_what_works_and_what_is_refused_on_each_library():
    names = ["numpy.exp", "numpy.matmul", "numpy.sinc", "numpy.sort", "numpy.nanmax"]
    table = coverage.backend_walk(("array_api_strict", "cupy"), only=names)
    strict = {name: by["array_api_strict"] for name, by in table.items()}
    assert strict == {
        "numpy.exp": coverage.WORKS,
        "numpy.matmul": coverage.WORKS,
        "numpy.sinc": coverage.REFUSED,  # outside the standard: an error naming it and the library
        "numpy.sort": coverage.WORKS,
        "numpy.nanmax": coverage.REFUSED,
    }
    if isinstance(coverage.backend_inputs(("cupy",))["cupy"], str):
        assert table["numpy.exp"]["cupy"].startswith("not measured")
    text = coverage.render_backends(table)
    assert "| `numpy.sinc` | refused |" in text
    assert "| numpy | 3 | 2 | 0 | 0 |" in text  # array_api_strict: works, refused, fails, wrong


def test_every_function_the_standard_covers_works_on_array_api_strict():
    """The whole walk on array-api-strict (its second device: no conversion to NumPy): every
    walked function of the standard (coverage.STANDARD) has NumPy's gradient in the library's
    arrays; every other one works too or is refused naming lagrad and the library; none fails
    otherwise or gives other numbers. (The standard's functions no generic call fits, such as
    where, reshape and solve, are in tests/numpy/test_namespace.py's cases.)"""
    table = coverage.backend_walk(("array_api_strict",))
    status = {name: by["array_api_strict"] for name, by in table.items()}
    assert set(status) >= coverage.STANDARD
    assert {
        n: s for n, s in status.items() if n in coverage.STANDARD and s not in (coverage.WORKS, coverage.NOT_CALLED)
    } == {}
    assert {n: s for n, s in status.items() if s in (coverage.FAILS, coverage.WRONG)} == {}
    assert sum(s == coverage.WORKS for s in status.values()) >= 180
