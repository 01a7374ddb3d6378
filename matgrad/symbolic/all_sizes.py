"""Proofs at symbolic sizes: the code run on arrays of shape (n, k), compared in index notation.

Each objective's ``evaluate`` runs unchanged on :class:`IndexArray` arguments of
symbolic shape, for every bias kind. Its value f comes out as a sum over symbolic
ranges, e.g. Σ_{i<n} Σ_{j<m} (Σ_{t<k} X[i,t]W[t,j] + b[i,j])². sympy differentiates f
with respect to the generic entry A[p, q] (giving Kronecker deltas), and the
gradient's generic entry at (p, q) must have the same normal form
(:mod:`matgrad.symbolic.normal_form`): an identity for every n, k, m ≥ 1.

What "all sizes" covers: the code path taken when the sizes are distinct symbols. The
code's only shape-dependent branch (a bias gradient is summed unless the bias already
has the full shape) is decided by the bias kind, which is enumerated; the concrete
proofs add the 1×1 case and shapes where sizes coincide.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any, cast

import sympy

from matgrad.registry import Objective
from matgrad.signature import BIAS_KINDS, BiasKind
from matgrad.symbolic.arrays import Array
from matgrad.symbolic.concrete import describe_bias_kinds
from matgrad.symbolic.index_arrays import IndexArray, elementwise_functions_on_index_arrays
from matgrad.symbolic.normal_form import NotNormalizable, is_identically_zero
from matgrad.symbolic.verdict import ALL_SIZES, Counterexample, Ledger, Verdict, method_name

P, Q = sympy.symbols("p q", integer=True)


def size_symbols(objective: Objective) -> dict[str, Any]:
    """One positive integer symbol per size of the signature, e.g. n, k, m."""
    return {d: sympy.Symbol(d, integer=True, positive=True) for d in objective.signature.dims}


def generic_entry(name: str, shape: tuple[Any, ...]) -> tuple[tuple[Any, ...], dict[Any, Any]]:
    """The generic entry's index and each free index's range: (p, q), (0, q) of a row, (q,) of 1-D."""
    if len(shape) == 1:
        return (Q,), {Q: shape[0]}
    if shape[0] == 1:
        return (0, Q), {Q: shape[1]}
    return (P, Q), {P: shape[0], Q: shape[1]}


def _kinds(objective: Objective, sizes: Mapping[str, Any]) -> list[BiasKind]:
    found: dict[tuple[Any, ...], BiasKind] = {}
    for kind in BIAS_KINDS:
        found.setdefault(tuple(objective.signature.shapes(sizes, kind).items()), kind)
    return list(found.values())


def describe(objective: Objective, kinds: list[BiasKind]) -> str:
    """E.g. 'n,k,m symbolic; b full, (1,·), (·,)'."""
    return ",".join(objective.signature.dims) + " symbolic" + describe_bias_kinds(objective, kinds)


def prove_all_sizes(
    objective: Objective,
    *,
    wrt: str | None = None,
    candidate: Callable[..., Any] | None = None,
    rules: ModuleType | None = None,
) -> dict[str, Verdict]:
    """Prove every gradient of ``objective`` for all sizes, for every bias kind.

    With ``candidate`` (numpy code taking the arguments by name, see
    :func:`matgrad.symbolic.check`), prove it as ∂f/∂``wrt`` instead of the code's own.
    ``rules`` as in :func:`matgrad.symbolic.concrete.prove_concrete`.
    """
    sizes = size_symbols(objective)
    kinds = _kinds(objective, sizes)
    names = objective.arguments if candidate is None else (str(wrt),)
    ledger = Ledger(objective.id, method_name(ALL_SIZES, rules), names)
    for kind in kinds:
        start = time.perf_counter()
        shapes = objective.signature.shapes(sizes, kind)
        arrays = {name: IndexArray.argument(name, shape) for name, shape in shapes.items()}
        # IndexArray stands in for ndarray: it implements the numpy the code uses.
        as_arrays = cast("Mapping[str, Array]", arrays)
        try:
            with elementwise_functions_on_index_arrays():
                if candidate is None:
                    value, grads = objective.evaluate(as_arrays, rules=rules)
                else:
                    value = objective.evaluate(as_arrays, (), rules=rules)[0]
                    grads = {names[0]: candidate(**arrays)}
        except Exception as error:  # numpy outside the subset IndexArray models: not provable this way
            for name in names:
                ledger.notes.setdefault(name, f"does not run on symbolic shapes ({kind} bias): {error}")
            continue
        shared = (time.perf_counter() - start) / len(names)
        for name in names:
            start = time.perf_counter()
            if not ledger.settled(name):
                _compare(ledger, name, value, grads[name], shapes, kind)
            ledger.add_seconds(name, shared + time.perf_counter() - start)
    return ledger.verdicts(describe(objective, kinds))


def _compare(
    ledger: Ledger, name: str, value: Any, gradient: Any, shapes: Mapping[str, tuple[Any, ...]], kind: str
) -> None:
    """Record in ``ledger`` whether ``gradient``'s generic entry is ∂value/∂name[p, q] for all sizes."""
    shape = tuple(shapes[name])
    if not isinstance(gradient, IndexArray) or gradient.shape != shape:
        got = gradient.shape if isinstance(gradient, IndexArray) else type(gradient).__name__
        ledger.counterexamples[name] = Counterexample(
            shapes=dict(shapes),
            entry=None,
            difference=f"result {got}, but ∂f/∂{name} has {name}'s shape {shape}",
        )
        return
    index, ranges = generic_entry(name, shape)
    expected = sympy.diff(value, sympy.IndexedBase(name)[index])
    try:
        zero, residual = is_identically_zero(gradient.at(*index) - expected, ranges)
    except NotNormalizable as error:
        ledger.notes[name] = f"no normal form ({kind} bias): {error}"
        return
    if not zero:
        ledger.counterexamples[name] = Counterexample(
            shapes=dict(shapes), entry=None, difference=f"at {name}{list(index)}: {residual}"
        )
