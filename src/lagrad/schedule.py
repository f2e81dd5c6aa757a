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

from math import comb

__all__ = ["advances", "beta", "first_descent", "repetitions", "split"]


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
