"""lagrad.inplace: writes through views kept in step, the re-reads deferred until a use, and the
refusals (the NumPy layer's in-place functions are tested in tests/numpy/test_in_place.py)."""

from __future__ import annotations

import numpy as np
import pytest

import lagrad
import lagrad.numpy as lnp
from lagrad.testing import check_grads


def _writes_through_a_view_of_a_view(x):
    u = x.copy()
    rows = u.reshape(2, 3)  # a view of u
    tail = rows[:, 1:]  # a view of the view
    other = u[:2]  # another live view of the same root
    tail *= 2.0
    return lnp.sum(u**2) + lnp.sum(other * x[:2])


def test_a_write_through_a_view_of_a_view_reaches_the_root_and_the_other_views():
    x = np.arange(1.0, 7.0)
    expected_u = x.copy()
    expected_u.reshape(2, 3)[:, 1:] *= 2.0
    value = np.sum(expected_u**2) + np.sum(expected_u[:2] * x[:2])
    assert lagrad.value_and_grad(_writes_through_a_view_of_a_view)(x)[0] == pytest.approx(value)
    check_grads(_writes_through_a_view_of_a_view, x, modes=["fwd", "rev"], order=2)


def _equations(f, x):
    return len(lagrad.trace(f, x).equations)


def test_a_view_read_again_after_a_write_records_its_equation_only_if_used():
    def untouched(x):
        u = x.copy()
        u[0] = 0.0
        return lnp.sum(u)

    def dropped(x):
        u = x.copy()
        view = u[1:]
        del view  # gone before the write: nothing to read again
        u[0] = 0.0
        return lnp.sum(u)

    def used(x):
        u = x.copy()
        view = u[1:]
        u[0] = 0.0
        return lnp.sum(u) + lnp.sum(view)

    x = np.ones(4)
    base = _equations(untouched, x)
    assert _equations(dropped, x) == base + 1  # the view's own getitem
    assert _equations(used, x) == base + 1 + 3  # and its re-read, its sum and the addition
    assert lagrad.grad(used)(x).tolist() == [0.0, 2.0, 2.0, 2.0]


def test_a_read_only_view_refuses_the_write_naming_the_equation_and_the_line():
    def f(x):
        b = lnp.broadcast_to(x, (2, 3))
        b[0, 0] = 1.0
        return lnp.sum(b)

    with pytest.raises(ValueError, match=r"in-place write into z\d+ = broadcast_to.*test_inplace\.py:\d+.*read-only"):
        lagrad.grad(f)(np.ones(3))


def test_a_write_into_an_outer_traced_value_from_an_inner_derivative_names_the_fix():
    def outer(x):
        u = x.copy()

        def inner(y):
            u[0] = y[0]
            return lnp.sum(y)

        return lnp.sum(lagrad.grad(inner)(x) * u)

    with pytest.raises(TypeError, match="pass the array as an argument"):
        lagrad.grad(outer)(np.ones(3))
