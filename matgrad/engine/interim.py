"""INTERIM stand-ins for the contract APIs this engine's proofs call, while those land.

``matgrad.symbolic.check_function`` / ``symbol_arrays`` and
``matgrad.testing.check_gradients`` are built on other branches (see the API contract).
:mod:`matgrad.engine.proof` imports the real ones and falls back to these only when
they are missing. Delete this module once both are on main.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class ArgumentReport:
    max_abs_error: float
    max_rel_error: float
    tolerance: float
    passed: bool


@dataclass(frozen=True)
class GradientReport:
    passed: bool
    arguments: dict[str, ArgumentReport] = field(default_factory=dict)

    def __str__(self) -> str:
        worst = max((a.max_rel_error for a in self.arguments.values()), default=0.0)
        return (
            f"{'passed' if self.passed else 'FAILED'} (central differences, max relative error {worst:.1e})"
        )


def check_gradients(
    f: Callable[..., Any],
    grad: Callable[..., Mapping[str, Array]],
    arrays: Mapping[str, Array],
    *,
    wrt: tuple[str, ...] | None = None,
    tolerance: float | None = None,
) -> GradientReport:
    base = {k: np.array(v, dtype=np.float64) for k, v in arrays.items()}
    analytic = grad(**base)
    reports = {}
    step = np.finfo(np.float64).eps ** (1 / 3)
    limit = 1e-6 if tolerance is None else tolerance
    for name in wrt or tuple(analytic):
        target = base[name]
        reference = np.zeros_like(target)
        for index in np.ndindex(target.shape):
            original = target[index]
            h = step * max(1.0, abs(original))
            target[index] = original + h
            up = f(**base)
            target[index] = original - h
            down = f(**base)
            target[index] = original
            reference[index] = (up - down) / (2 * h)
        error = np.abs(np.asarray(analytic[name]) - reference)
        absolute = float(error.max(initial=0.0))
        relative = float((error / np.maximum(1.0, np.abs(reference))).max(initial=0.0))
        reports[name] = ArgumentReport(absolute, relative, limit, bool(relative <= limit))
    return GradientReport(all(r.passed for r in reports.values()), reports)
