"""The ``wrt`` argument: which gradients to compute."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeVar

T = TypeVar("T")

Wrt = str | Sequence[str] | None


def resolve_wrt(wrt: Wrt, arguments: tuple[str, ...]) -> tuple[str, ...]:
    """Normalise ``wrt`` to a tuple of distinct argument names in the order given.

    None means every argument; a single string is one name. Unknown names raise a
    ValueError that lists the valid ones.
    """
    if wrt is None:
        return arguments
    names = (wrt,) if isinstance(wrt, str) else tuple(wrt)
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"wrt must be argument names (str); got {name!r}")
        if name not in arguments:
            raise ValueError(f"wrt names unknown argument {name!r}; the arguments are {list(arguments)}")
    return tuple(dict.fromkeys(names))


def pick(computed: Mapping[str, T | None], wrt: tuple[str, ...]) -> dict[str, T]:
    """The requested entries of ``computed``, in ``wrt`` order; each must have been computed."""
    picked = {}
    for name in wrt:
        result = computed.get(name)
        if result is None:
            raise AssertionError(f"gradient {name!r} was requested but not computed")
        picked[name] = result
    return picked
