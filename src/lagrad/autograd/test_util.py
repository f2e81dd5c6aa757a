"""`lagrad.autograd.test_util`: autograd's ``check_grads(f, argnum, modes, order)(*args)`` on
lagrad's checker, which compares both modes, to any order, with central finite differences."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..testing import check_grads as _check_grads

__all__ = ["check_grads"]


def check_grads(
    f: Callable[..., Any], argnum: int = 0, modes: Sequence[str] = ("fwd", "rev"), order: int = 2
) -> Callable[..., None]:
    """A function of f's arguments that checks f's derivatives in argument `argnum` there;
    it raises lagrad's GradientCheckError on a mismatch."""

    def check_at(*args: Any, **kwargs: Any) -> None:
        def of_one(x: Any) -> Any:
            return f(*args[:argnum], x, *args[argnum + 1 :], **kwargs)

        _check_grads(of_one, args[argnum], modes=modes, order=order)

    return check_at
