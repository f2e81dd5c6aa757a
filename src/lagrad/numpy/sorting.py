"""Sorting and selection by value: sort, and the functions built on it."""

from __future__ import annotations

__all__: list[str] = []
