"""Known slips in hand-derived gradients: what a wrong candidate most likely got wrong.

A slip is a hypothesis that yields a wrong gradient from the right one. Two kinds:

- on the result (any function): half of it (missing factor 2), its negative (sign
  flipped), its transpose (transposed result);
- in one rule of the objective's own chain, replaced by its typical wrong version
  while the rest of the code runs as users call it: σ′ left out or written as σ or
  σ(1 + σ), a bias gradient not summed over the rows, a weight used without its
  transpose in a VJP; or the formula of the other bias placement of the same network.

A candidate is diagnosed with a slip when it equals that slip's gradient exactly.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np
import sympy

from matgrad import vjp
from matgrad.registry import OBJECTIVES, Objective
from matgrad.symbolic.arrays import Array, as_sympy, symbol_arrays
from matgrad.symbolic.concrete import Case, ExactGradient, run_candidate, vanishes
from matgrad.symbolic.fields import NotRational, RationalFunctions
from matgrad.symbolic.functions import rational_zero
from matgrad.symbolic.polynomials import AtomRing, NotPolynomial

MISSING_FACTOR_2 = "missing factor 2"
SIGN_FLIPPED = "sign flipped"
TRANSPOSED_RESULT = "transposed result"
SIGMA_PRIME_MISSING = "σ′ missing"
SIGMA_ONE_PLUS = "σ(1 + σ) instead of σ′ = σ(1 − σ)"
SIGMA_INSTEAD_OF_PRIME = "σ instead of σ′"
BIAS_NOT_SUMMED = "bias gradient not summed over rows"
WRONG_SHAPE = "right entries, wrong shape (e.g. (1, m) for a 1-D bias of shape (m,))"

_SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")

RESULT_SLIPS: dict[str, Callable[[Array], Array | None]] = {
    MISSING_FACTOR_2: lambda G: G * sympy.Rational(1, 2),
    SIGN_FLIPPED: lambda G: -G,
    TRANSPOSED_RESULT: lambda G: G.T if G.ndim == 2 else None,
}

# Wrong versions of the VJP rules of matgrad.vjp, by rule name. They take the rules'
# buffer keywords (out=, out_X=) and return a fresh result, which callers use.
RULE_SLIPS: dict[str, tuple[str, Callable[..., Any]]] = {
    SIGMA_PRIME_MISSING: ("sigmoid_vjp", lambda G, S, **buffers: G * 1),
    SIGMA_ONE_PLUS: ("sigmoid_vjp", lambda G, S, **buffers: G * S * (1 + S)),
    SIGMA_INSTEAD_OF_PRIME: ("sigmoid_vjp", lambda G, S, **buffers: G * S),
    BIAS_NOT_SUMMED: ("add_bias_vjp", lambda G, bias_shape, **buffers: G),
}


def not_transposed(name: str) -> str:
    """The slip name for a weight used without transpose, e.g. 'W₂ not transposed'."""
    return f"{name.translate(_SUBSCRIPTS)} not transposed"


def wrong_placement(other: Objective) -> str:
    return f"wrong bias placement (this is the gradient of {other.id})"


def _other_placement_formula(objective: Objective, argument: str, arrays: Mapping[str, Array]) -> Any:
    """∂f/∂W₂ or ∂f/∂b₁ by the other bias placement's formula, on this placement's forward values.

    The slip of a reader who takes 2AᵀR with A = S + b₁ (post) for the pre network, 2SᵀR
    for the post one, 2RW₂ᵀ for a b₁ inside σ or 2Δ for a b₁ added after it.
    """
    pre = objective.options.get("bias") == "pre"
    X, Y, W1, b1, W2, b2 = (arrays[name] for name in ("X", "Y", "W1", "b1", "W2", "b2"))
    from matgrad.elementwise import sigmoid

    S = sigmoid(vjp.linear(X, W1, b1) if pre else X @ W1)
    A = S if pre else vjp.add_bias(S, b1)
    G_P = 2 * (vjp.linear(A, W2, b2) - Y)
    if argument == "W2":
        return (vjp.add_bias(S, b1) if pre else S).T @ G_P
    G_A = G_P @ W2.T
    return vjp.add_bias_vjp(G_A if pre else vjp.sigmoid_vjp(G_A, S), b1.shape)


_RULE_LOCK = threading.Lock()


@contextmanager
def _rule_replaced(rule: str, replacement: Callable[..., Any]) -> Iterator[None]:
    """matgrad.vjp.<rule> replaced for this block (objectives look rules up on the module)."""
    with _RULE_LOCK:
        original = getattr(vjp, rule)
        setattr(vjp, rule, replacement)
        try:
            yield
        finally:
            setattr(vjp, rule, original)


def _untransposed_linear_vjp(weight: Array) -> Callable[..., Any]:
    """linear_vjp, but ∂/∂X = G·W instead of G·Wᵀ when the weight is ``weight``."""
    original = vjp.linear_vjp

    def linear_vjp(
        G: Array, X: Array, W: Array, bias_shape: tuple[int, ...], need: Any, **buffers: Any
    ) -> Any:
        dX, dW, db = original(G, X, W, bias_shape, need, **buffers)
        if W is weight and dX is not None:
            dX = G @ W
        return dX, dW, db

    return linear_vjp


def _code_variants(
    objective: Objective, argument: str, arrays: Mapping[str, Array]
) -> Iterator[tuple[str, Any]]:
    """(slip name, the gradient the objective's code gives with that slip) for every code slip."""

    def run(target: Objective) -> Any:
        try:
            return target.evaluate(arrays, (argument,))[1][argument]
        except (ValueError, TypeError):  # e.g. G·W where only G·Wᵀ fits these shapes
            return None

    for name, (rule, replacement) in RULE_SLIPS.items():
        with _rule_replaced(rule, replacement):
            yield name, run(objective)
    for arg in objective.signature.args:
        if not arg.row_bias:
            with _rule_replaced("linear_vjp", _untransposed_linear_vjp(arrays[arg.name])):
                yield not_transposed(arg.name), run(objective)
    for other in OBJECTIVES:
        if other.module is objective.module and other.id != objective.id:
            yield wrong_placement(other), run(other)
            if argument in ("W2", "b1"):
                try:
                    formula = _other_placement_formula(objective, argument, arrays)
                except (ValueError, TypeError):  # e.g. (S + b₁)ᵀ where b₁ has another shape
                    continue
                yield wrong_placement(other), formula


def same_array(a: Array, b: Array) -> bool:
    """Whether two object arrays are equal entry by entry, exactly."""
    if a.shape != b.shape:
        return False
    try:
        ring = AtomRing([*a.flat, *b.flat])
        return all(ring(x) == ring(y) for x, y in zip(a.flat, b.flat, strict=True))
    except NotPolynomial:
        pass
    first, second = [as_sympy(x) for x in a.flat], [as_sympy(y) for y in b.flat]
    try:  # determinants and inverses: rational functions, compared exactly and fast
        field = RationalFunctions(sorted(set().union(*(e.free_symbols for e in first + second)), key=str))
        return all(field.equal(field(x), field(y)) for x, y in zip(first, second, strict=True))
    except NotRational:
        return all(rational_zero(x - y) or vanishes(x - y) for x, y in zip(first, second, strict=True))


def _matches(candidate: Array, truth: Array, variants: Iterable[tuple[str, Any]]) -> set[str]:
    found = set()
    for name, variant in variants:
        if variant is None:
            continue
        variant = np.asarray(variant, dtype=object)
        if not same_array(variant, truth) and same_array(candidate, variant):
            found.add(name)
    return found


def _result_variants(truth: Array) -> Iterator[tuple[str, Any]]:
    for name, slip in RESULT_SLIPS.items():
        yield name, slip(truth)


def diagnose_result(candidate: Array, truth: Array) -> str | None:
    """The result slip (factor 2, sign, transpose) that turns ``truth`` into ``candidate``, if any."""
    found = _matches(candidate, truth, _result_variants(truth))
    return " or ".join(sorted(found)) or None


def diagnose(
    objective: Objective, argument: str, candidate: Callable[..., Any], cases: Iterable[Case]
) -> str | None:
    """The known slip that explains ``candidate`` in every one of ``cases`` where it runs and is wrong.

    Cases are tried in order until one slip remains; the probe case with every size 2
    makes transposition slips well defined where rectangular shapes made them fail.
    """
    remaining: set[str] | None = None
    for case in cases:
        arrays = symbol_arrays(case.shapes)
        result, _ = run_candidate(candidate, arrays)
        if result is None:
            continue
        value = objective.evaluate(arrays, ())[0]
        truth = ExactGradient(value, arrays, result.flat).array(argument)
        if same_array(result, truth):
            continue
        found = _matches(result, truth, _result_variants(truth))
        found |= _matches(result, truth, _code_variants(objective, argument, arrays))
        if result.size == truth.size and same_array(result.reshape(truth.shape), truth):
            found.add(WRONG_SHAPE)
        remaining = found if remaining is None else remaining & found
        # Where a size is 1, slips coincide (a (1, m) row sum is also the unsummed
        # gradient): a single remaining slip is settled only at a case with every size > 1.
        if not remaining or (len(remaining) == 1 and min(case.sizes.values()) > 1):
            break
    return " or ".join(sorted(remaining)) if remaining else None
