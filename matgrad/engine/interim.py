"""INTERIM stand-in for ``matgrad.symbolic.check_function`` while that branch lands.

``matgrad.symbolic.check_function`` and ``symbol_arrays`` are built on another branch
(see the API contract). :mod:`matgrad.engine.proof` imports the real ones and falls back
to these only when they are missing. Delete this module once matgrad.symbolic has them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy

Array = np.ndarray[Any, np.dtype[Any]]


def symbol_arrays(shapes: Mapping[str, tuple[int, ...]]) -> dict[str, Array]:
    """Object arrays of sympy Symbols named like ``X_0_1`` (1-D: ``b_2``; scalar: ``lam``)."""
    arrays = {}
    for name, shape in shapes.items():
        array = np.empty(shape, dtype=object)
        for index in np.ndindex(shape):
            array[index] = sympy.Symbol("_".join([name, *map(str, index)]))
        arrays[name] = array
    return arrays


@dataclass(frozen=True)
class Verdict:
    proven: bool
    argument: str
    method: str
    shapes: str
    seconds: float
    counterexample: str | None = None

    def __str__(self) -> str:
        status = "proven" if self.proven else f"DISPROVEN ({self.counterexample})"
        return f"∂f/∂{self.argument}: {status} exactly at {self.shapes} ({self.method}, {self.seconds:.2f} s)"


def check_function(
    value_fn: Callable[..., Any],
    gradient_fn: Callable[..., Any],
    shapes: Mapping[str, tuple[int, ...]],
    wrt: str,
) -> Verdict:
    start = time.perf_counter()
    arrays = symbol_arrays(shapes)
    value = value_fn(**arrays)
    gradient = np.asarray(gradient_fn(**arrays), dtype=object)
    described = ", ".join(f"{n} {tuple(s)}" for n, s in shapes.items())
    if gradient.shape != arrays[wrt].shape:
        return Verdict(False, wrt, "concrete shapes", described, time.perf_counter() - start, "wrong shape")
    for index, symbol in np.ndenumerate(arrays[wrt]):
        difference = sympy.expand(sympy.diff(value, symbol) - gradient[index])
        if difference != 0 and sympy.simplify(difference) != 0:
            example = f"entry {index}: difference {difference}"
            return Verdict(False, wrt, "concrete shapes", described, time.perf_counter() - start, example)
    return Verdict(True, wrt, "concrete shapes", described, time.perf_counter() - start)
