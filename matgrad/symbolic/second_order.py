"""Exact proofs of second-order code: Hessian-vector and Gauss–Newton products at concrete shapes.

The code users call (``evaluate_second_order``) runs on object arrays of symbols, the
direction V on symbols of its own (dX_0_1, ...). What it must equal is taken from the
objective's value (or residual) alone, never from any gradient code:

- ∇²f·V = ∇_θ Df(θ)[V], with Df(θ)[V] = Σ_s ∂f/∂s · V_s over every entry symbol s:
  the Hessian is symmetric, so the gradient of the directional derivative is H·V;
- 2JᵀJ·V = 2 Σᵢⱼ ∇_θ Rᵢⱼ · (JV)ᵢⱼ, with (JV)ᵢⱼ = Σ_s ∂Rᵢⱼ/∂s · V_s.

Both are exact polynomial arithmetic in the entry symbols and σ atoms
(:mod:`matgrad.symbolic.polynomials`); outside that ring (a candidate written with
np.exp, ...) sympy's ``diff`` and ``simplify`` decide. A nonzero difference is reported
only with a numeric witness, as for gradients.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from types import ModuleType
from typing import Any

import numpy as np
import sympy

from matgrad.registry import Objective
from matgrad.symbolic.arrays import Array, as_sympy, numeric_instance, symbol_arrays
from matgrad.symbolic.concrete import (
    Mismatch,
    cases,
    counterexample,
    describe_cases,
    first_mismatch,
)
from matgrad.symbolic.polynomials import AtomRing, NotPolynomial
from matgrad.symbolic.verdict import CONCRETE, GAUSS_NEWTON, HVP, Ledger, Verdict, method_name

#: The prefix of a direction's symbols: the direction of X has entries dX_0_0, dX_0_1, ...
DIRECTION_PREFIX = "d"


def direction_arrays(shapes: Mapping[str, tuple[int, ...]]) -> dict[str, Array]:
    """Symbols for a direction of every argument, e.g. {"X": [[dX_0_0, ...]], ...}."""
    prefixed = symbol_arrays({DIRECTION_PREFIX + name: shape for name, shape in shapes.items()})
    return {name: prefixed[DIRECTION_PREFIX + name] for name in shapes}


class ExactSecondOrder:
    """The exact ∇²f·V (``quantity="hvp"``) or 2JᵀJ·V (``"gauss_newton"``) for every entry symbol.

    ``source`` is the value f (hvp) or the residual array R with f = ‖R‖²_F (Gauss–Newton),
    as the objective's own forward code computes them on the symbols of ``arrays``.
    """

    def __init__(
        self,
        quantity: str,
        source: Any,
        arrays: Mapping[str, Array],
        direction: Mapping[str, Array],
        candidates: Iterable[Any] = (),
    ) -> None:
        self.quantity = quantity
        self.arrays = arrays
        self.symbols = [s for array in arrays.values() for s in array.flat]
        self.tangent = {
            s: v for name in direction for s, v in zip(arrays[name].flat, direction[name].flat, strict=True)
        }
        self.sources = [as_sympy(e) for e in np.asarray(source, dtype=object).flat]
        self._expected: dict[Any, Any] = {}
        directions = list(self.tangent.values())
        try:
            self.ring: AtomRing | None = AtomRing([*self.sources, *directions, *candidates])
            self._prepare_ring()
        except NotPolynomial:
            self.ring = None

    def _directional(self, polynomial: Any, partials: Any) -> Any:
        """Σ_s ∂p/∂s · V_s in the ring."""
        assert self.ring is not None
        total = self.ring.ring.zero
        for symbol, v in self.tangent.items():
            total += self.ring.derivative(polynomial, symbol, partials) * self.ring(v)
        return total

    def _prepare_ring(self) -> None:
        ring = self.ring
        assert ring is not None
        polynomials = [ring(e) for e in self.sources]
        self._partials = [ring.partials(p) for p in polynomials]
        if self.quantity == HVP:
            self._D = self._directional(polynomials[0], self._partials[0])
            self._D_partials = ring.partials(self._D)
        else:
            self._R = polynomials
            self._JV = [self._directional(p, q) for p, q in zip(polynomials, self._partials, strict=True)]

    def _expected_polynomial(self, symbol: Any) -> Any:
        # Each path's code is compared with the same entry: derive it once.
        if symbol not in self._expected:
            self._expected[symbol] = self._derive_expected(symbol)
        return self._expected[symbol]

    def _derive_expected(self, symbol: Any) -> Any:
        ring = self.ring
        assert ring is not None
        if self.quantity == HVP:
            return ring.derivative(self._D, symbol, self._D_partials)
        total = ring.ring.zero
        for R, partials, jv in zip(self._R, self._partials, self._JV, strict=True):
            if jv:
                total += ring.derivative(R, symbol, partials) * jv
        return 2 * total

    def expected(self, symbol: Any) -> Any:
        """The exact entry for ``symbol``, as a sympy expression."""
        if self.ring is not None:
            return self.ring.as_expr(self._expected_polynomial(symbol))
        if self.quantity == HVP:
            value = self.sources[0]
            directional = sympy.Add(*(sympy.diff(value, s) * v for s, v in self.tangent.items()))
            return sympy.diff(directional, symbol)
        terms = []
        for R in self.sources:
            jv = sympy.Add(*(sympy.diff(R, s) * v for s, v in self.tangent.items()))
            terms.append(sympy.diff(R, symbol) * jv)
        return 2 * sympy.Add(*terms)

    def array(self, name: str) -> Array:
        """The exact block for argument ``name``, an object array of its shape."""
        source = self.arrays[name]
        out = np.empty(source.shape, dtype=object)
        for index, symbol in np.ndenumerate(source):
            out[index] = self.expected(symbol)
        return out

    def _difference(self, candidate: Any, symbol: Any) -> tuple[bool, Any]:
        """(zero, difference): whether candidate − exact vanishes as a polynomial, and the difference."""
        if self.ring is not None:
            try:
                residual = self.ring(candidate) - self._expected_polynomial(symbol)
            except NotPolynomial:
                pass
            else:
                return not residual, self.ring.as_expr(residual)
        difference = as_sympy(candidate) - self.expected(symbol)
        return False, difference

    def first_mismatch(self, name: str, candidate: Any, values: Mapping[Any, Any]) -> Mismatch | None:
        """None if ``candidate`` is exactly the block for ``name``, else the first wrong entry."""
        label = f"({'∇²f·V' if self.quantity == HVP else '2JᵀJ·V'})_{name}"
        return first_mismatch(
            label, name, self.arrays[name], candidate, self._difference, self.expected, values
        )


def exact_for(
    objective: Objective,
    quantity: str,
    arrays: Mapping[str, Array],
    direction: Mapping[str, Array],
    candidates: Iterable[Any] = (),
) -> ExactSecondOrder:
    """The exact product for ``objective`` at these symbols, from its value (hvp) or its residual."""
    if quantity == HVP:
        source = objective.evaluate(arrays, ())[0]
    else:
        source = objective.residual({name: a.copy() for name, a in arrays.items()})
    return ExactSecondOrder(quantity, source, arrays, direction, candidates)


def prove_second_order_concrete(
    objective: Objective, quantity: str, *, seed: int = 0, rules: ModuleType | None = None
) -> dict[str, Verdict]:
    """Prove the code's ∇²f·V (or 2JᵀJ·V), every argument moving, at every second-order size × bias kind.

    The direction first moves every argument at once, so every cross term between
    arguments is in the proof, then, at the sizes that are all at least 2, each argument
    alone (the paths where the code skips zero tangents, and the off-diagonal blocks
    :func:`matgrad.second_order.dense_hessian` reads). ``rules`` as in
    :func:`matgrad.symbolic.concrete.prove_concrete`.
    """
    return prove_second_order_paths(objective, quantity, (rules,), seed=seed)[0]


def prove_second_order_paths(
    objective: Objective, quantity: str, rule_sets: Sequence[ModuleType | None], *, seed: int = 0
) -> list[dict[str, Verdict]]:
    """:func:`prove_second_order_concrete` for several sets of layer rules at once, a verdict table each.

    The exact product (sympy's second derivative of the objective's forward code) is the
    costly half of a proof and does not depend on the rules, so it is computed once per
    shape and direction and every path's code is compared with it.
    """
    if quantity not in (HVP, GAUSS_NEWTON):
        raise ValueError(f"quantity must be {HVP!r} or {GAUSS_NEWTON!r}; got {quantity!r}")
    found = cases(objective, objective.second_order_sizes or None)
    names = objective.arguments
    ledgers = [
        Ledger(objective.id, method_name(CONCRETE, rules), names, quantity=quantity) for rules in rule_sets
    ]
    for case in found:
        arrays = symbol_arrays(case.shapes)
        every = direction_arrays(case.shapes)
        values = numeric_instance({**arrays, **_prefixed(every)}, np.random.default_rng(seed))
        # Every argument moving (all cross terms), then each alone: the code skips zero tangents
        # (None), and each of those paths is code that users call. Alone at the sizes that are
        # all ≥ 2 (where a row bias's tangent must be spread over n rows); each costs a proof.
        alone = [(name,) for name in names] if min(case.sizes.values()) >= 2 else []
        for moving in (names, *alone):
            start = time.perf_counter()
            direction = {name: every[name] for name in moving}
            symbols = {**arrays, **_prefixed(direction)}
            path_blocks: list[dict[str, Any] | None] = []
            for rules, ledger in zip(rule_sets, ledgers, strict=True):
                try:
                    results = objective.evaluate_second_order(
                        {name: a.copy() for name, a in arrays.items()},
                        direction,
                        names,
                        gauss_newton=quantity == GAUSS_NEWTON,
                        rules=rules,
                    )
                except (
                    Exception
                ) as error:  # code that crashes on valid shapes is refuted there, for every block
                    failure = Mismatch(None, f"moving {list(moving)}: raised {type(error).__name__}: {error}")
                    for name in names:
                        if not ledger.settled(name):
                            ledger.counterexamples[name] = counterexample(failure, symbols, values)
                    path_blocks.append(None)
                    continue
                path_blocks.append(
                    {
                        name: np.zeros(arrays[name].shape, dtype=object)
                        if results.get(name) is None
                        else results[name]
                        for name in names
                    }
                )
            if not any(path_blocks):
                continue  # every path raised: refuted above, nothing to compare
            candidates = [
                e
                for blocks in path_blocks
                if blocks
                for block in blocks.values()
                for e in np.asarray(block).flat
            ]
            exact = exact_for(objective, quantity, arrays, direction, candidates)
            shared = (time.perf_counter() - start) / (len(names) * len(rule_sets))
            for blocks, ledger in zip(path_blocks, ledgers, strict=True):
                for name in names:
                    start = time.perf_counter()
                    if blocks is not None and not ledger.settled(name):
                        mismatch = exact.first_mismatch(name, blocks[name], values)
                        if mismatch is not None:
                            ledger.counterexamples[name] = counterexample(mismatch, symbols, values)
                    ledger.add_seconds(name, shared + time.perf_counter() - start)
    described = describe_cases(objective, found)
    return [ledger.verdicts(described) for ledger in ledgers]


def _prefixed(direction: Mapping[str, Array]) -> dict[str, Array]:
    return {DIRECTION_PREFIX + name: array for name, array in direction.items()}


# At all sizes: the same two identities in index notation (see matgrad.symbolic.all_sizes).


def _moved(expression: Any, bases: Mapping[Any, Any], step: Any) -> Any:
    """``expression`` with every entry A[i, j] of a moving argument replaced by A[i, j] + t·dA[i, j]."""
    return expression.replace(
        lambda e: isinstance(e, sympy.Indexed) and e.base in bases,
        lambda e: e + step * bases[e.base][e.indices],
    )


def _tangent(expression: Any, bases: Mapping[Any, Any]) -> Any:
    """d/dt expression(θ + tV) at t = 0, in index notation."""
    step = sympy.Dummy("t")
    return sympy.diff(_moved(expression, bases, step), step).subs(step, 0)


def _expected_generic(
    quantity: str,
    source: Any,
    residual_shape: tuple[Any, ...],
    bases: Mapping[Any, Any],
    entry: Any,
    arguments: Iterable[str],
) -> Any:
    """The exact block entry: ∂/∂``entry`` of ⟨∇f, V⟩ (hvp), or of 2⟨R, JV⟩ with JV held fixed."""
    if quantity == HVP:
        return sympy.diff(_tangent(source, bases), entry)
    i, j = sympy.Dummy("i", integer=True), sympy.Dummy("j", integer=True)
    R = source.at(i, j) if len(residual_shape) == 2 else source.at(j)
    # JV is held fixed: every argument's entries in it are renamed (frozen) for ∂/∂entry, then restored.
    frozen = {sympy.IndexedBase(name): sympy.IndexedBase(f"{name}·frozen") for name in arguments}
    JV = _tangent(R, bases).replace(
        lambda e: isinstance(e, sympy.Indexed) and e.base in frozen,
        lambda e: frozen[e.base][e.indices],
    )
    limits = [(i, 0, residual_shape[0] - 1), (j, 0, residual_shape[1] - 1)][-len(residual_shape) :]
    total = 2 * sympy.Sum(R * JV, *limits)
    restore = {f: base for base, f in frozen.items()}
    return sympy.diff(total, entry).xreplace(restore)


def _shape_of(block: Any) -> str:
    shape = getattr(block, "shape", None)
    return f"of shape {shape}" if shape is not None else f"of type {type(block).__name__}"


def prove_second_order_all_sizes(
    objective: Objective, quantity: str, *, alone: bool = True
) -> dict[str, Verdict]:
    """Prove the code's ∇²f·V (or 2JᵀJ·V) for every size: run on arrays of symbolic shape, every bias kind.

    The direction moves every argument, then (unless ``alone`` is False) each alone, as at
    concrete shapes; the generic entry of each block must have the normal form of the
    exact derivative (:mod:`matgrad.symbolic.normal_form`).
    """
    from typing import cast

    from matgrad.symbolic.all_sizes import _kinds, describe, generic_entry, size_symbols
    from matgrad.symbolic.index_arrays import IndexArray, elementwise_functions_on_index_arrays
    from matgrad.symbolic.normal_form import NotNormalizable, is_identically_zero
    from matgrad.symbolic.verdict import ALL_SIZES, Counterexample

    sizes = size_symbols(objective)
    kinds = _kinds(objective, sizes)
    names = objective.arguments
    ledger = Ledger(objective.id, ALL_SIZES, names, quantity=quantity)
    for kind in kinds:
        shapes = objective.signature.shapes(sizes, kind)
        every = {name: IndexArray.argument(DIRECTION_PREFIX + name, shape) for name, shape in shapes.items()}
        for moving in (names, *((name,) for name in names if alone)):
            start = time.perf_counter()
            arrays = {name: IndexArray.argument(name, shape) for name, shape in shapes.items()}
            direction = {name: every[name] for name in moving}
            bases = {sympy.IndexedBase(name): sympy.IndexedBase(DIRECTION_PREFIX + name) for name in moving}
            as_arrays = cast("Mapping[str, Array]", arrays)
            try:
                with elementwise_functions_on_index_arrays():
                    copies = cast("Mapping[str, Array]", {n: a.copy() for n, a in arrays.items()})
                    results = objective.evaluate_second_order(
                        copies,
                        cast("Mapping[str, Array]", direction),
                        names,
                        gauss_newton=quantity == GAUSS_NEWTON,
                    )
                    if quantity == HVP:
                        source = objective.evaluate(as_arrays, ())[0]
                    else:
                        source = objective.residual(
                            cast("Mapping[str, Array]", {n: a.copy() for n, a in arrays.items()})
                        )
            except Exception as error:  # numpy outside the subset IndexArray models: not provable this way
                for name in names:
                    ledger.notes.setdefault(
                        name, f"does not run on symbolic shapes ({kind} bias, moving {list(moving)}): {error}"
                    )
                continue
            shared = (time.perf_counter() - start) / len(names)
            for name in names:
                start = time.perf_counter()
                if not ledger.settled(name):
                    shape = tuple(shapes[name])
                    block = results.get(name)
                    index, ranges = generic_entry(name, shape)
                    entry = sympy.IndexedBase(name)[index]
                    expected = _expected_generic(
                        quantity, source, getattr(source, "shape", ()), bases, entry, names
                    )
                    if block is not None and (not isinstance(block, IndexArray) or block.shape != shape):
                        ledger.counterexamples[name] = Counterexample(
                            shapes=dict(shapes),
                            entry=None,
                            difference=f"moving {list(moving)}: a block {_shape_of(block)}, not {shape}",
                        )
                    else:
                        candidate = 0 if block is None else block.at(*index)
                        try:
                            zero, residual = is_identically_zero(candidate - expected, ranges)
                        except NotNormalizable as error:
                            ledger.notes[name] = (
                                f"no normal form ({kind} bias, moving {list(moving)}): {error}"
                            )
                        else:
                            if not zero:
                                ledger.counterexamples[name] = Counterexample(
                                    shapes=dict(shapes),
                                    entry=None,
                                    difference=f"moving {list(moving)}, at {name}{list(index)}: {residual}",
                                )
                ledger.add_seconds(name, shared + time.perf_counter() - start)
    return ledger.verdicts(describe(objective, kinds))
