"""Binomial checkpointing (revolve): which states to keep so a loop of `l` steps is reversed
with the fewest steps run again, holding at most `s` states at once.

Counting as Griewank and Walther do: `s` snapshots include the state at the start of the
segment; reversing a step runs it once more, recording its forward values; the other steps
run are *advances*. With `r` the least number of repetitions for which
``β(s, r) = C(s + r, s) ≥ l``, the fewest advances are ``r·l − β(s + 1, r − 1)``
(`advances`). A split point `m` is optimal when the first `m` steps can be reversed with
`s` snapshots in ``r − 1`` repetitions and the other ``l − m`` with ``s − 1`` in `r`:
``l − β(s − 1, r) ≤ m ≤ β(s, r − 1)``; `split` picks the one in that range that attains
the minimum (checked against the recursion by `tests/test_schedule.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from math import comb

__all__ = ["advances", "best_split", "beta", "first_descent", "repetitions", "split", "used_states"]


def beta(s: int, r: int) -> int:
    """``C(s + r, s)``: the longest loop `s` snapshots reverse with `r` repetitions."""
    return comb(s + r, s)


def repetitions(length: int, snapshots: int) -> int:
    """The least `r` with ``β(snapshots, r) ≥ length``."""
    if snapshots < 1:
        raise ValueError("lagrad.schedule: at least one snapshot (the initial state) is needed")
    if snapshots == 1:
        return max(length - 1, 0)
    r = 0
    while beta(snapshots, r) < length:
        r += 1
    return r


def advances(length: int, snapshots: int) -> int:
    """The fewest advances (steps run without recording) that reverse `length` steps with
    `snapshots` states held at once, the initial one included."""
    if length <= 1:
        return 0
    if snapshots == 1:
        return length * (length - 1) // 2
    r = repetitions(length, snapshots)
    return r * length - comb(snapshots + r, snapshots + 1)


def split(length: int, snapshots: int) -> int:
    """Where to keep the next snapshot when reversing `length` ≥ 2 steps with `snapshots` ≥ 2."""
    r = repetitions(length, snapshots)
    lo = max(1, length - beta(snapshots - 1, r))
    hi = min(length - 1, beta(snapshots, r - 1))
    return min(hi, max(lo, length - beta(snapshots - 1, r - 1)))


def first_descent(length: int, snapshots: int) -> list[int]:
    """The states a schedule stores before its first reversal: the iterations a forward
    sweep keeps so that the reverse sweep starts without advancing to them again."""
    at, out = 0, [0]
    while length > 1 and snapshots > 1:
        m = split(length, snapshots)
        at += m
        out.append(at)
        length -= m
        snapshots -= 1
    return out


def best_split(length: int, snapshots: int, stored: Sequence[int] = ()) -> int:
    """`split`, or a state already stored at one of the offsets `stored` (sorted, in
    ``1 … length − 1``) when reversing from it costs fewer advances than advancing to the
    optimal split: ``advances(m, s) + advances(length − m, s − 1)`` against that plus `m`.
    A later stored state is weighed only as a split of this segment."""
    m = split(length, snapshots)
    if not stored:
        return m
    best = m + advances(m, snapshots) + advances(length - m, snapshots - 1)
    for q in stored:
        cost = advances(q, snapshots) + advances(length - q, snapshots - 1)
        if cost < best:
            m, best = q, cost
    return m


def used_states(length: int, snapshots: int, stored: Sequence[int]) -> list[int]:
    """Of the states stored at the sorted iterations `stored` (the initial state aside), those
    the reverse sweep's first descent splits at (by `best_split`): the others are of no use."""
    used, at = [], 0
    while length > 1 and snapshots > 1:
        ahead = [p - at for p in stored if at < p < at + length]
        m = best_split(length, snapshots, ahead)
        if m in ahead:
            used.append(at + m)
        at += m
        length -= m
        snapshots -= 1
    return used
