"""Check a user's candidate gradient against an objective of the registry, exactly."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from matgrad.budget import BudgetExceeded, run_within_budget
from matgrad.registry import Objective, get_objective
from matgrad.signature import BIAS_KINDS, BiasKind
from matgrad.symbolic.all_sizes import prove_all_sizes
from matgrad.symbolic.arrays import numeric_instance, symbol_arrays
from matgrad.symbolic.concrete import (
    Case,
    ExactGradient,
    Mismatch,
    cases,
    counterexample,
    describe_cases,
    run_candidate,
    runs_on_numbers,
)
from matgrad.symbolic.slips import diagnose
from matgrad.symbolic.verdict import CONCRETE, GRADIENT, Counterexample, Verdict

DEFAULT_TIMEOUT = 60.0
"""Seconds a check may take before its verdict is "undecided: timed out"."""
DIAGNOSIS_SECONDS = 30.0
"""Seconds spent naming the slip of a refuted candidate; past it, the verdict has no diagnosis.

A few seconds on an idle machine; the margin is for a loaded one (a diagnosis that runs
out of time leaves a refutation without the name of its slip)."""
MEMORY = 2 * 2**30
"""Bytes of memory a check may allocate beyond what the process holds when it starts."""


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
    all_sizes: bool = False,
    timeout: float | None = DEFAULT_TIMEOUT,
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

    With ``all_sizes=True``, a candidate exact at those shapes is also run on arrays of
    symbolic shape and proven for every size (method "all sizes"), if its numpy stays
    within what :class:`~matgrad.symbolic.index_arrays.IndexArray` models; if it does
    not (or its normal form cannot be decided), the verdict is "undecided" at all
    sizes, its ``note`` saying why: never a claim that the formula is wrong.

    The check runs in a child process with a budget of ``timeout`` seconds (None: no
    limit) and :data:`MEMORY` bytes; past either, the verdict is "undecided" (its
    ``status``), never proven or refuted. The candidate gets copies of the symbolic
    arrays: writing into them cannot change what it is compared with. A candidate that
    raises on the symbolic arrays but runs on numbers of the same shapes (numpy that
    object arrays of symbols cannot run) is undecided, not refuted; one that raises on
    numbers too is refuted.

    Examples
    --------
    >>> from matgrad.symbolic import check
    >>> check("affine", "W", lambda X, W, b: 2 * X.T @ (X @ W + b)).proven
    True
    >>> verdict = check("affine", "W", lambda X, W, b: -2 * X.T @ (X @ W + b))
    >>> verdict.proven, verdict.diagnosis, verdict.counterexample.entry
    (False, 'sign flipped', (0, 0))
    >>> check("affine", "W", lambda X, W, b: 2 * X.T @ (X @ W + b), all_sizes=True).method
    'all sizes'
    """
    objective = get_objective(objective) if isinstance(objective, str) else objective
    if wrt not in objective.arguments:
        raise ValueError(f"wrt names unknown argument {wrt!r}; the arguments are {list(objective.arguments)}")
    if not callable(candidate):
        raise TypeError(
            f"candidate must be a function of {', '.join(objective.arguments)}; got {candidate!r}"
        )
    found = cases(objective, sizes, bias_kinds)
    return within_budget(
        lambda: _check(objective, wrt, candidate, found, seed, all_sizes), objective, wrt, found, timeout
    )


def within_budget(
    run: Callable[[], Verdict],
    objective: Objective,
    wrt: str,
    found: list[Case],
    timeout: float | None,
    quantity: str = GRADIENT,
) -> Verdict:
    """``run()`` within ``timeout`` seconds and MEMORY bytes; past either, an undecided verdict.

    A check that runs out of budget has refuted nothing: it is never reported as a failure.
    """
    start = time.perf_counter()
    try:
        return run_within_budget(run, seconds=timeout, memory=MEMORY)
    except BudgetExceeded as error:
        return Verdict(
            proven=False,
            objective=objective.id,
            argument=wrt,
            method=CONCRETE,
            shapes=describe_cases(objective, found),
            seconds=time.perf_counter() - start,
            note=f"undecided: {error}" + (f" (timeout={timeout:g} s)" if error.resource == "time" else ""),
            quantity=quantity,
        )


def name_the_slip(diagnose_slip: Callable[[], str | None]) -> str | None:
    """The slip a refuted candidate made, if it is found within DIAGNOSIS_SECONDS; else None.

    The refutation stands whatever the diagnosis costs: the slip is named only if it is quick
    to find.
    """
    try:
        return run_within_budget(diagnose_slip, seconds=DIAGNOSIS_SECONDS)
    except BudgetExceeded:
        return None


def _check(
    objective: Objective,
    wrt: str,
    candidate: Callable[..., Any],
    found: list[Case],
    seed: int,
    all_sizes: bool,
) -> Verdict:
    start = time.perf_counter()
    failure: tuple[Case, Counterexample] | None = None
    undecided: str | None = None
    for case in found:
        arrays = symbol_arrays(case.shapes)
        values = numeric_instance(arrays, np.random.default_rng(seed))
        result, error = run_candidate(candidate, arrays)
        if error is not None and runs_on_numbers(candidate, arrays, values):
            undecided = f"the candidate runs on numbers but not on symbols at {case.label}: {error}"
            break
        mismatch: Mismatch | None = Mismatch(None, error) if error else None
        if result is not None:
            value = objective.evaluate(arrays, ())[0]
            mismatch = ExactGradient(value, arrays, result.flat).first_mismatch(wrt, result, values)
        if mismatch is not None:
            failure = (case, counterexample(mismatch, arrays, values))
            break
    diagnosis = None
    if failure is not None:
        suspects = [failure[0], *found, _probe(objective, failure[0].bias_kind)]
        diagnosis = name_the_slip(lambda: diagnose(objective, wrt, candidate, suspects))
    verdict = Verdict(
        proven=failure is None and undecided is None,
        objective=objective.id,
        argument=wrt,
        method=CONCRETE,
        shapes=describe_cases(objective, found),
        seconds=time.perf_counter() - start,
        counterexample=failure[1] if failure else None,
        diagnosis=diagnosis,
        note=undecided,
    )
    if not (all_sizes and verdict.proven):
        return verdict
    symbolic = prove_all_sizes(objective, wrt=wrt, candidate=candidate)[wrt]
    if not symbolic.proven:
        # Exact at every concrete shape: what the all-sizes method could not show is no refutation.
        # Asked for all sizes, it stays unproven; but it is undecided, never refuted.
        reason = symbolic.note or (str(symbolic.counterexample) if symbolic.counterexample else "")
        return replace(
            symbolic,
            proven=False,
            counterexample=None,
            diagnosis=None,
            shapes=f"{symbolic.shapes}; exact at {verdict.shapes}",
            seconds=verdict.seconds + symbolic.seconds,
            note=f"undecided at all sizes (exact at every concrete shape): {reason}",
        )
    return replace(
        symbolic,
        shapes=f"{symbolic.shapes}; and exact at {verdict.shapes}",
        seconds=verdict.seconds + symbolic.seconds,
    )
