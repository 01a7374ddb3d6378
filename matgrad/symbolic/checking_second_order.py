"""Check a user's candidate Hessian-vector (or Gauss–Newton) product against a registry objective, exactly.

The candidate is numpy code taking the arguments and the direction by name, the
direction's arrays prefixed with d (``X, W, b, dX, dW, db``), and returning the block of
∇²f·V (or 2JᵀJ·V) for one argument, with every argument moving. It is compared exactly
with the product taken from the objective's value (or residual) alone, as
:mod:`matgrad.symbolic.second_order` proves matgrad's own; a wrong one gets a
counterexample and, if it matches one, the name of its slip:

- on the result: a missing factor 2, a flipped sign, a transposed result;
- in the chain: the σ″ term dropped, the cross terms of a product dropped (GẆᵀ, ẊᵀG),
  only the argument's own direction used (the cross terms between arguments missing),
  or, for ∇²f·V, the Gauss–Newton product passed off as the Hessian.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import sympy

from matgrad import vjp
from matgrad.registry import Objective, get_objective
from matgrad.signature import BIAS_KINDS, BiasKind
from matgrad.symbolic.arrays import Array, numeric_instance, symbol_arrays
from matgrad.symbolic.checking import DEFAULT_TIMEOUT, name_the_slip, within_budget
from matgrad.symbolic.concrete import (
    Case,
    Mismatch,
    cases,
    counterexample,
    describe_cases,
    run_candidate,
    runs_on_numbers,
)
from matgrad.symbolic.second_order import DIRECTION_PREFIX, direction_arrays, exact_for
from matgrad.symbolic.slips import _result_variants, _rule_replaced, same_array
from matgrad.symbolic.verdict import CONCRETE, GAUSS_NEWTON, HVP, Verdict

SIGMA_SECOND_DROPPED = "σ″ term dropped (G ⊙ Ṡ ⊙ (1 − 2S))"
PRODUCT_CROSS_TERMS_DROPPED = "cross terms of a product dropped (GẆᵀ, ẊᵀG)"
OWN_DIRECTION_ONLY = "cross terms between arguments missing (only its own direction moves)"
GAUSS_NEWTON_AS_HESSIAN = "the Gauss–Newton product passed off as the Hessian"

# Entries compared numerically before a slip is compared exactly (a filter: exact decides).
_PROBE_ENTRIES = 2


def _sigma_second_dropped(G: Array, dG: Array | None, S: Array, dS: Array | None) -> Array | None:
    return None if dG is None else dG * S * (1 - S)


def _product_cross_terms_dropped(
    G: Array, dG: Array | None, X: Array, W: Array, dX: Any, dW: Any, bias_shape: Any, need: Any
) -> Any:
    return vjp.linear_vjp(dG, X, W, bias_shape, need) if dG is not None else (None, None, None)


#: Wrong versions of the second-order rules of matgrad.vjp, by slip name.
RULE_SLIPS: dict[str, tuple[str, Callable[..., Any]]] = {
    SIGMA_SECOND_DROPPED: ("sigmoid_vjp_jvp", _sigma_second_dropped),
    PRODUCT_CROSS_TERMS_DROPPED: ("linear_vjp_jvp", _product_cross_terms_dropped),
}


def _code_variants(
    objective: Objective,
    quantity: str,
    argument: str,
    arrays: Mapping[str, Array],
    direction: Mapping[str, Array],
) -> Iterator[tuple[str, Any]]:
    """(slip, the block the objective's own code gives with that slip), for every second-order slip."""
    gauss_newton = quantity == GAUSS_NEWTON

    def run(moving: Mapping[str, Array], *, as_gauss_newton: bool = gauss_newton) -> Any:
        copies = {name: a.copy() for name, a in arrays.items()}
        block = objective.evaluate_second_order(copies, moving, (argument,), gauss_newton=as_gauss_newton)
        found = block.get(argument)
        return np.zeros(arrays[argument].shape, dtype=object) if found is None else found

    for name, (rule, replacement) in RULE_SLIPS.items():
        with _rule_replaced(rule, replacement):
            yield name, run(direction)
    yield OWN_DIRECTION_ONLY, run({argument: direction[argument]})
    if not gauss_newton:
        yield GAUSS_NEWTON_AS_HESSIAN, run(direction, as_gauss_newton=True)


def _diagnose(
    objective: Objective, quantity: str, argument: str, candidate: Callable[..., Any], found: Iterable[Case]
) -> str | None:
    """The slip that explains ``candidate`` in every case where it runs and is wrong, if one does."""
    remaining: set[str] | None = None
    for case in found:
        arrays = symbol_arrays(case.shapes)
        direction = direction_arrays(case.shapes)
        everything = {**arrays, **_prefixed(direction)}
        values = numeric_instance(everything, np.random.default_rng(0))
        result, _ = run_candidate(candidate, everything)
        if result is None:
            continue
        truth = exact_for(objective, quantity, arrays, direction, result.flat).array(argument)
        if same_array(result, truth):
            continue
        variants = [
            *_result_variants(truth),
            *_code_variants(objective, quantity, argument, arrays, direction),
        ]
        slips = _matching_slips(result, truth, variants, values)
        remaining = slips if remaining is None else remaining & slips
        if not remaining or (len(remaining) == 1 and min(case.sizes.values()) > 1):
            break
    return " or ".join(sorted(remaining)) if remaining else None


def _matching_slips(
    result: Array, truth: Array, variants: list[tuple[str, Any]], values: Mapping[Any, Any]
) -> set[str]:
    """The slips whose block equals ``result`` exactly (and differs from ``truth``).

    Numbers first: a slip whose block differs from ``result`` at the numeric instance
    ``values`` (in the entries compared) is ruled out without building a ring; the few
    left are compared exactly, as :func:`~matgrad.symbolic.slips.same_array` does.
    """
    entries = list(np.ndindex(*result.shape))[:_PROBE_ENTRIES]

    def numbers(array: Array) -> list[complex]:
        return [complex(sympy.sympify(array[index]).xreplace(values).evalf(30)) for index in entries]

    got = numbers(result)
    found = set()
    for name, variant in variants:
        if variant is None or np.shape(variant) != result.shape:
            continue
        variant = np.asarray(variant, dtype=object)
        if not np.allclose(numbers(variant), got, rtol=1e-12, atol=1e-12):
            continue
        if same_array(result, variant) and not same_array(variant, truth):
            found.add(name)
    return found


def _prefixed(direction: Mapping[str, Array]) -> dict[str, Array]:
    return {DIRECTION_PREFIX + name: array for name, array in direction.items()}


def check_hvp(
    objective: str | Objective,
    wrt: str,
    candidate: Callable[..., Any],
    *,
    quantity: str = HVP,
    sizes: Mapping[str, int] | Sequence[Mapping[str, int]] | None = None,
    bias_kinds: Iterable[BiasKind] = BIAS_KINDS,
    seed: int = 0,
    timeout: float | None = DEFAULT_TIMEOUT,
) -> Verdict:
    """Prove or refute that ``candidate`` is the ``wrt`` block of ∇²f·V (``quantity="gauss_newton"``: 2JᵀJ·V).

    ``candidate`` takes the objective's arguments and the direction by name, the
    direction's arrays named with a ``d`` prefix (for affine: ``X, W, b, dX, dW, db``);
    every argument moves. It runs on object arrays of sympy symbols at each of ``sizes``
    (default: the registry's second-order sizes) × ``bias_kinds`` and is compared
    exactly with the product derived from the objective's value (or residual). The
    budget, the copies and the undecided cases are those of :func:`matgrad.symbolic.check`.

    Examples
    --------
    >>> from matgrad.symbolic import check_hvp
    >>> right = lambda X, W, b, dX, dW, db: 2 * dX.T @ (X @ W + b) + 2 * X.T @ (dX @ W + X @ dW + db)
    >>> check_hvp("affine", "W", right).proven
    True
    >>> verdict = check_hvp("affine", "W", lambda X, W, b, dX, dW, db: 2 * X.T @ (dX @ W + X @ dW + db))
    >>> verdict.proven
    False
    >>> print(verdict.diagnosis)
    cross terms of a product dropped (GẆᵀ, ẊᵀG) or the Gauss–Newton product passed off as the Hessian
    """
    objective = get_objective(objective) if isinstance(objective, str) else objective
    if wrt not in objective.arguments:
        raise ValueError(f"wrt names unknown argument {wrt!r}; the arguments are {list(objective.arguments)}")
    if quantity not in (HVP, GAUSS_NEWTON):
        raise ValueError(f"quantity must be {HVP!r} or {GAUSS_NEWTON!r}; got {quantity!r}")
    if not callable(candidate):
        names = ", ".join([*objective.arguments, *(DIRECTION_PREFIX + n for n in objective.arguments)])
        raise TypeError(f"candidate must be a function of {names}; got {candidate!r}")
    found = cases(objective, objective.second_order_sizes if sizes is None else sizes, bias_kinds)
    return within_budget(
        lambda: _check(objective, quantity, wrt, candidate, found, seed),
        objective,
        wrt,
        found,
        timeout,
        quantity,
    )


def _check(
    objective: Objective,
    quantity: str,
    wrt: str,
    candidate: Callable[..., Any],
    found: list[Case],
    seed: int,
) -> Verdict:
    start = time.perf_counter()
    failure = None
    undecided: str | None = None
    for case in found:
        arrays = symbol_arrays(case.shapes)
        direction = direction_arrays(case.shapes)
        everything = {**arrays, **_prefixed(direction)}
        values = numeric_instance(everything, np.random.default_rng(seed))
        result, error = run_candidate(candidate, everything)
        if error is not None and runs_on_numbers(candidate, everything, values):
            undecided = f"the candidate runs on numbers but not on symbols at {case.label}: {error}"
            break
        mismatch: Mismatch | None = Mismatch(None, error) if error else None
        if result is not None:
            exact = exact_for(objective, quantity, arrays, direction, result.flat)
            mismatch = exact.first_mismatch(wrt, result, values)
        if mismatch is not None:
            failure = (case, counterexample(mismatch, everything, values))
            break
    diagnosis = None
    if failure is not None:
        suspects = [failure[0], *found]
        diagnosis = name_the_slip(lambda: _diagnose(objective, quantity, wrt, candidate, suspects))
    return Verdict(
        proven=failure is None and undecided is None,
        objective=objective.id,
        argument=wrt,
        method=CONCRETE,
        shapes=describe_cases(objective, found),
        seconds=time.perf_counter() - start,
        counterexample=failure[1] if failure else None,
        diagnosis=diagnosis,
        note=undecided,
        quantity=quantity,
    )
