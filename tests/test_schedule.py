"""The binomial schedule (`lagrad.schedule`) against the recursion it solves in closed form."""

from __future__ import annotations

from functools import cache
from math import comb

import pytest

from lagrad import schedule


@cache
def fewest_advances(length: int, snapshots: int) -> int:
    """The recursion itself: keep a snapshot after m steps, reverse the rest with one fewer,
    then the first m with as many."""
    if length <= 1:
        return 0
    if snapshots == 1:
        return length * (length - 1) // 2
    return min(m + fewest_advances(length - m, snapshots - 1) + fewest_advances(m, snapshots) for m in range(1, length))


@pytest.mark.parametrize("snapshots", [1, 2, 3, 4, 6])
def test_the_closed_form_is_the_recursion_and_split_attains_it(snapshots):
    for length in range(1, 70):
        assert schedule.advances(length, snapshots) == fewest_advances(length, snapshots)
        if length >= 2 and snapshots >= 2:
            m = schedule.split(length, snapshots)
            assert 1 <= m < length
            assert m + schedule.advances(length - m, snapshots - 1) + schedule.advances(m, snapshots) == (
                schedule.advances(length, snapshots)
            )


def test_repetitions_is_the_least_with_beta_at_least_the_length():
    for s in (2, 5, 21):
        for length in (2, 10, 2000, 10**6):
            r = schedule.repetitions(length, s)
            assert comb(s + r, s) >= length and (r == 0 or comb(s + r - 1, s) < length)
    assert schedule.repetitions(2000, 21) == 3 and schedule.advances(2000, 21) == 3 * 2000 - comb(24, 22)


def test_first_descent_holds_at_most_the_snapshots():
    points = schedule.first_descent(2000, 21)
    assert points[0] == 0 and len(points) <= 21 and points == sorted(set(points)) and points[-1] < 2000
    with pytest.raises(ValueError, match="at least one snapshot"):
        schedule.repetitions(5, 0)


@pytest.mark.parametrize("snapshots", [2, 3, 5])
def test_best_split_takes_a_stored_state_only_when_it_saves_advances(snapshots):
    for length in range(2, 60):
        m = schedule.split(length, snapshots)
        assert schedule.best_split(length, snapshots) == m
        assert schedule.best_split(length, snapshots, [m]) == m  # the first descent's own state
        for q in range(1, length):
            # reversing from a stored state costs what the recursion says, without advancing to it
            with_q = fewest_advances(q, snapshots) + fewest_advances(length - q, snapshots - 1)
            want = q if with_q < fewest_advances(length, snapshots) else m
            assert schedule.best_split(length, snapshots, [q]) == want


def test_used_states_of_the_first_descent_are_all_of_it():
    for length, s in [(2000, 21), (100, 6), (35, 4)]:
        descent = schedule.first_descent(length, s)[1:]
        assert schedule.used_states(length, s, descent) == descent
        assert schedule.used_states(length, s, []) == []
