"""Exact equality of rational functions of the entries, in sympy's field of fractions ℚ(entries).

Determinants and inverses make every entry of a value or a gradient a rational function
of the argument entries. Deciding that a difference of two such expressions vanishes
with ``together`` and ``expand`` on sympy expressions is slow (seconds at 3×3); in the
field ℚ(x₁, …, xₖ) each element is a fraction of sparse integer polynomials (sympy's
``PolyRing``) over a factored denominator; two fractions are equal exactly when their
numerators over a common denominator are the same polynomial, and the derivative of a
fraction is computed there too. Anything that is not a rational function with
rational coefficients (a log, a square root, a float) raises :class:`NotRational`, and
the caller decides another way.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sympy
from sympy.polys.domains import ZZ
from sympy.polys.rings import PolyElement, PolyRing


class NotRational(Exception):
    """The expression is not a rational function of the field's symbols with rational coefficients."""


@dataclass(frozen=True)
class Fraction:
    """numerator / (integer · Π factorᵉ); each factor primitive, with a positive leading coefficient."""

    numerator: PolyElement
    integer: int  # > 0
    factors: tuple[tuple[PolyElement, int], ...]  # distinct factors, exponents > 0


class RationalFunctions:
    """ℚ(symbols) as fractions of integer polynomials, converted from sympy with shared subexpressions once.

    Numerators are not reduced against denominators: greatest common divisors of large
    multivariate polynomials are the slow step this class exists to avoid. Denominators
    stay factored, as the expressions build them (a determinant, its square, ...), so a
    sum of terms over det(X) and det(X)² is brought over det(X)², not det(X)³: the
    common denominator takes each factor's largest exponent. Two fractions are equal
    exactly when their numerators over a common denominator are the same polynomial.
    """

    def __init__(self, symbols: Iterable[sympy.Symbol]) -> None:
        self.symbols = tuple(symbols)
        self.ring = PolyRing(self.symbols, ZZ) if self.symbols else PolyRing((sympy.Dummy(),), ZZ)
        self._generators = dict(zip(self.symbols, self.ring.gens, strict=False))
        self._converted: dict[Any, Fraction] = {}

    def __call__(self, expression: Any) -> Fraction:
        """``expression`` as a fraction of polynomials, or :class:`NotRational`."""
        return self._convert(sympy.sympify(expression))

    def derivative(self, fraction: Fraction, symbol: sympy.Symbol) -> Fraction:
        """∂(p/(c·Π fᵉ))/∂x = p′/(c·Π fᵉ) − Σ_f e·p·f′/(c·Π fᵉ·f)."""
        x = self._generators[symbol]
        terms = [Fraction(fraction.numerator.diff(x), fraction.integer, fraction.factors)]
        for factor, exponent in fraction.factors:
            slope = factor.diff(x)
            if slope:
                raised = tuple((f, e + 1 if f == factor else e) for f, e in fraction.factors)
                terms.append(Fraction(-exponent * fraction.numerator * slope, fraction.integer, raised))
        return self._sum(terms)

    def equal(self, first: Fraction, second: Fraction) -> bool:
        """Whether the two fractions are the same rational function (denominators are never zero)."""
        integer, factors = self._common_denominator([first, second])
        return bool(self._over(first, integer, factors) == self._over(second, integer, factors))

    def _common_denominator(self, fractions: Sequence[Fraction]) -> tuple[int, dict[PolyElement, int]]:
        integer = math.lcm(*(f.integer for f in fractions))
        factors: dict[PolyElement, int] = {}
        for fraction in fractions:
            for factor, exponent in fraction.factors:
                factors[factor] = max(factors.get(factor, 0), exponent)
        return integer, factors

    def _over(self, fraction: Fraction, integer: int, factors: dict[PolyElement, int]) -> PolyElement:
        """The numerator of ``fraction`` written over the denominator integer · Π factorsᵉ."""
        numerator = fraction.numerator * (integer // fraction.integer)
        own = dict(fraction.factors)
        for factor, exponent in factors.items():
            missing = exponent - own.get(factor, 0)
            if missing:
                numerator *= factor**missing
        return numerator

    def _sum(self, fractions: Sequence[Fraction]) -> Fraction:
        if len(fractions) == 1:
            return fractions[0]
        integer, factors = self._common_denominator(fractions)
        numerator = self.ring.zero
        for fraction in fractions:
            numerator += self._over(fraction, integer, factors)
        return Fraction(numerator, integer, tuple(factors.items()))

    def _product(self, fractions: Sequence[Fraction]) -> Fraction:
        numerator, integer = self.ring.one, 1
        factors: dict[PolyElement, int] = {}
        for fraction in fractions:
            numerator *= fraction.numerator
            integer *= fraction.integer
            for factor, exponent in fraction.factors:
                factors[factor] = factors.get(factor, 0) + exponent
        return Fraction(numerator, integer, tuple(factors.items()))

    def _reciprocal(self, fraction: Fraction) -> Fraction:
        """1/(p/(c·Π fᵉ)) = (c·Π fᵉ)/p, with p split into sign · content · primitive part."""
        p = fraction.numerator
        if not p:
            raise NotRational("division by zero")
        numerator = self.ring(fraction.integer)
        for factor, exponent in fraction.factors:
            numerator *= factor**exponent
        content, primitive = p.primitive()
        if primitive.LC < 0:
            content, primitive = -content, -primitive
        if content < 0:
            numerator, content = -numerator, -content
        if primitive.is_ground:  # p was a nonzero integer
            return Fraction(numerator * int(primitive.LC), int(content), ())
        return Fraction(numerator, int(content), ((primitive, 1),))

    def _convert(self, expression: sympy.Basic) -> Fraction:
        known = self._converted.get(expression)
        if known is not None:
            return known
        result: Fraction
        if expression.is_Symbol:
            if expression not in self._generators:
                raise NotRational(f"{expression} is not one of the field's symbols")
            result = Fraction(self._generators[expression], 1, ())
        elif expression.is_Rational:
            result = Fraction(self.ring(int(expression.p)), int(expression.q), ())
        elif expression.is_Add:
            result = self._sum([self._convert(term) for term in expression.args])
        elif expression.is_Mul:
            result = self._product([self._convert(factor) for factor in expression.args])
        elif expression.is_Pow and expression.exp.is_Integer:
            base = self._convert(expression.base)
            exponent = int(expression.exp)
            if exponent < 0:
                try:
                    base = self._reciprocal(base)
                except NotRational:
                    raise NotRational(f"{expression} divides by zero") from None
            result = self._product([base] * abs(exponent))
        else:  # a function atom, a float, a fractional power, ∞: not in ℚ(symbols)
            raise NotRational(f"{type(expression).__name__} {expression} is not a rational function")
        self._converted[expression] = result
        return result


__all__ = ["Fraction", "NotRational", "RationalFunctions"]
