"""Check a user's candidate gradient against an objective of the registry, exactly."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from matgrad.registry import Objective, get_objective
from matgrad.signature import BIAS_KINDS, BiasKind
from matgrad.symbolic.arrays import numeric_instance, symbol_arrays
from matgrad.symbolic.concrete import (
    Case,
    ExactGradient,
    Mismatch,
    cases,
    counterexample,
    describe_cases,
    run_candidate,
)
from matgrad.symbolic.slips import diagnose
from matgrad.symbolic.verdict import CONCRETE, Counterexample, Verdict


def _probe(objective: Objective, kind: BiasKind) -> Case:
    """Every size 2: square shapes, where a missing or extra transpose still runs."""
    sizes = dict.fromkeys(objective.signature.dims, 2)
    return Case(sizes, kind, objective.signature.shapes(sizes, kind))


def check(
    objective: str | Objective,
    wrt: str,
    candidate: Callable[..., Any],
    *,
    sizes: Mapping[str, int] | Sequence[Mapping[str, int]] | None = None,
    bias_kinds: Iterable[BiasKind] = BIAS_KINDS,
    seed: int = 0,
) -> Verdict:
    """Prove or refute that ``candidate(**arrays)`` is ∂f/∂``wrt`` of a registry objective.

    ``candidate`` is numpy code taking the objective's arguments by name (X, W, b, ...)
    and returning the gradient; it runs on object arrays of sympy symbols, so it should
    use ``@``, ``+``, ``*``, ``.T``, ``.sum`` and the functions of
    :mod:`matgrad.elementwise` (e.g. ``sigmoid``). It is compared exactly with the
    derivative of the objective's value at each of ``sizes`` (default: the registry's
    sample sizes) × ``bias_kinds``. When it is wrong, the verdict holds the first
    counterexample (shapes, entry, exact difference, numbers at small integer inputs
    drawn with ``seed``) and, if the candidate matches one, the known slip.

    Examples
    --------
    >>> from matgrad.symbolic import check
    >>> check("affine", "W", lambda X, W, b: 2 * X.T @ (X @ W + b)).proven
    True
    >>> verdict = check("affine", "W", lambda X, W, b: -2 * X.T @ (X @ W + b))
    >>> verdict.proven, verdict.diagnosis, verdict.counterexample.entry
    (False, 'sign flipped', (0, 0))
    """
    objective = get_objective(objective) if isinstance(objective, str) else objective
    if wrt not in objective.arguments:
        raise ValueError(f"wrt names unknown argument {wrt!r}; the arguments are {list(objective.arguments)}")
    start = time.perf_counter()
    found = cases(objective, sizes, bias_kinds)
    failure: tuple[Case, Counterexample] | None = None
    for case in found:
        arrays = symbol_arrays(case.shapes)
        values = numeric_instance(arrays, np.random.default_rng(seed))
        result, error = run_candidate(candidate, arrays)
        mismatch: Mismatch | None = Mismatch(None, error) if error else None
        if result is not None:
            value = objective.evaluate(arrays, ())[0]
            mismatch = ExactGradient(value, arrays, result.flat).first_mismatch(wrt, result, values)
        if mismatch is not None:
            failure = (case, counterexample(mismatch, arrays, values))
            break
    diagnosis = None
    if failure is not None:
        diagnosis = diagnose(objective, wrt, candidate, [failure[0], _probe(objective, failure[0].bias_kind)])
    return Verdict(
        proven=failure is None,
        objective=objective.id,
        argument=wrt,
        method=CONCRETE,
        shapes=describe_cases(objective, found),
        seconds=time.perf_counter() - start,
        counterexample=failure[1] if failure else None,
        diagnosis=diagnosis,
    )
