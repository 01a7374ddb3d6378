"""A normal form for index expressions, to decide identities at symbolic sizes.

An index expression is built from array entries A[i, j], numbers, size symbols, sums
Σ_{t=0}^{N-1} over symbolic ranges, Kronecker deltas δ(t, p) and opaque elementwise
functions such as σ(·). Its normal form is a linear combination of terms

    coefficient · Σ_{t₁ < N₁, …} (product of entries, deltas and function atoms),

obtained by rules that each hold for every size N ≥ 1:

1. distributivity and linearity of Σ (products of sums get fresh summation indices);
2. δ elimination: Σ_{t<N} δ(t, p) F(t) = F(p) when p ranges over the same 0..N-1;
3. a summation index that no factor uses contributes its range: Σ_{t<N} F = N·F;
4. renaming of summation indices (α-equivalence), made canonical by trying every
   renaming within each range and keeping the least, and the arguments of function
   atoms put in normal form themselves.

Two expressions with the same normal form are equal for all sizes. The converse can
fail (a missed canonical form), which makes a proof fail, never pass wrongly.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sympy
from sympy.tensor.indexed import Indexed

_MAX_RENAMINGS = 5040

Form = dict[tuple[Any, ...], Any]  # canonical (indices with ranges, factors) -> coefficient


class NotNormalizable(ValueError):
    """An expression outside the index language above (division, a general power, ...)."""


@dataclass
class _Term:
    coefficient: Any = 1
    indices: dict[Any, Any] = field(default_factory=dict)  # summation index -> its range N
    factors: list[Any] = field(default_factory=list)

    def times(self, other: _Term) -> _Term:
        return _Term(
            self.coefficient * other.coefficient,
            {**self.indices, **other.indices},
            self.factors + other.factors,
        )


def _terms(e: Any, depth: int) -> list[_Term]:
    """Rule 1: e as a list of (unnormalised) terms; every Σ gets fresh summation indices."""
    if e.is_Add:
        return [t for arg in e.args for t in _terms(arg, depth)]
    if e.is_Mul:
        product = [_Term()]
        for arg in e.args:
            product = [a.times(b) for a in product for b in _terms(arg, depth)]
        return product
    if e.is_Pow:
        if not (e.exp.is_Integer and e.exp > 0):
            raise NotNormalizable(f"power {e} is not a positive integer power")
        product = [_Term()]
        for _ in range(int(e.exp)):  # each copy of a sum gets its own indices
            product = [a.times(b) for a in product for b in _terms(e.base, depth)]
        return product
    if isinstance(e, sympy.Sum):
        body, indices = e.function, {}
        for index, lower, upper in e.limits:
            if lower != 0:
                raise NotNormalizable(f"sum from {lower}: only sums from 0 are supported")
            fresh = sympy.Dummy(index.name, integer=True)
            body = body.xreplace({index: fresh})
            indices[fresh] = upper + 1
        return [_Term(t.coefficient, {**t.indices, **indices}, t.factors) for t in _terms(body, depth)]
    if e.is_Number:
        return [_Term(coefficient=e)]
    if isinstance(e, (Indexed, sympy.KroneckerDelta)) or e.is_Symbol:
        return [_Term(factors=[e])]
    if isinstance(e, sympy.Function):
        arguments = [as_expr(normal_form(arg, {}, depth + 1), depth + 1) for arg in e.args]
        return [_Term(factors=[e.func(*arguments)])]
    raise NotNormalizable(f"cannot put {type(e).__name__} {e} in normal form")


def _eliminate_deltas(term: _Term, ranges: Mapping[Any, Any]) -> None:
    """Rule 2, in place."""
    changed = True
    while changed:
        changed = False
        for position, factor in enumerate(term.factors):
            if not isinstance(factor, sympy.KroneckerDelta):
                continue
            for u, v in (factor.args, factor.args[::-1]):
                if u not in term.indices:
                    continue
                v_range = term.indices.get(v, ranges.get(v))
                # v = 0 is in every range, as sizes are ≥ 1.
                if v_range is None and v != 0:
                    continue
                if v != 0 and sympy.expand(v_range - term.indices[u]) != 0:
                    continue
                del term.indices[u]
                rest = term.factors[:position] + term.factors[position + 1 :]
                term.factors = [f.xreplace({u: v}) for f in rest]
                changed = True
                break
            if changed:
                break
    # Numbers (δ(p, p) = 1) and sizes (bare symbols that are no index) are coefficients.
    scalars = [
        f for f in term.factors if f.is_Number or (f.is_Symbol and f not in term.indices and f not in ranges)
    ]
    term.factors = [f for f in term.factors if not any(f is s for s in scalars)]
    term.coefficient = sympy.Mul(term.coefficient, *scalars)


def _canonical_index(depth: int, position: int) -> Any:
    return sympy.Symbol(f"ι{depth}.{position}", integer=True)


def _canonical(term: _Term, depth: int) -> tuple[tuple[Any, ...], Any]:
    """Rules 3 and 4: the term's key and coefficient."""
    used = set().union(*(f.free_symbols for f in term.factors)) if term.factors else set()
    coefficient = term.coefficient
    for index, size in list(term.indices.items()):
        if index not in used:
            coefficient *= size
            del term.indices[index]
    groups: dict[str, list[Any]] = {}
    for index, size in term.indices.items():
        groups.setdefault(str(size), []).append(index)
    ordered_groups = [groups[k] for k in sorted(groups)]
    if math.prod(math.factorial(len(g)) for g in ordered_groups) > _MAX_RENAMINGS:
        raise NotNormalizable("too many summation indices of one range to rename canonically")
    best: tuple[tuple[str, ...], list[Any]] | None = None
    for choice in itertools.product(*(itertools.permutations(g) for g in ordered_groups)):
        order = [index for group in choice for index in group]
        renaming = {index: _canonical_index(depth, k) for k, index in enumerate(order)}
        factors = sorted((f.xreplace(renaming) for f in term.factors), key=str)
        text = tuple(str(f) for f in factors)
        if best is None or text < best[0]:
            best = (text, [order, renaming, factors])
    assert best is not None
    order, renaming, factors = best[1]
    indices = tuple((renaming[index], term.indices[index]) for index in order)
    return (indices, tuple(factors)), coefficient


def normal_form(expression: Any, ranges: Mapping[Any, Any], depth: int = 0) -> Form:
    """The normal form of ``expression``; ``ranges`` maps each free index to its size N (0..N-1)."""
    form: Form = {}
    for term in _terms(sympy.sympify(expression), depth):
        _eliminate_deltas(term, ranges)
        key, coefficient = _canonical(term, depth)
        form[key] = form.get(key, 0) + coefficient
    return {key: c for key, c in ((k, sympy.expand(c)) for k, c in form.items()) if c != 0}


def as_expr(form: Form, depth: int = 0) -> Any:
    """A normal form back as a sympy expression (sums with canonical summation indices)."""
    total = sympy.Integer(0)
    for (indices, factors), coefficient in sorted(form.items(), key=str):
        product = sympy.Mul(*factors)
        if indices:
            product = sympy.Sum(product, *((index, 0, size - 1) for index, size in indices))
        total += coefficient * product
    return total


def is_identically_zero(expression: Any, ranges: Mapping[Any, Any]) -> tuple[bool, Any]:
    """Whether ``expression`` is 0 for all sizes (by normal form), and its normal form as residual."""
    form = normal_form(expression, ranges)
    return not form, as_expr(form)
