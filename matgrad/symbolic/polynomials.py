"""Exact polynomial arithmetic over ℚ in entry symbols and opaque function atoms such as σ(H₀₁).

Differentiating and expanding sympy expression trees is what makes symbolic checks slow.
Here every application of an elementwise function (σ(·), tanh(·), ...) becomes one
generator of a sparse polynomial ring over ℚ, so expanding is cheap, and the total
derivative is sympy's polynomial derivative plus the chain rule through each atom,
with the atom's own derivative taken from sympy (``fdiff``; σ′ = σ(1 − σ)).

Soundness: a polynomial identity in independent generators holds for every value of
them, so a zero difference here is a proof. A nonzero difference is not yet a
counterexample, because atoms can be related (σ(a + b) is a function of σ(a) and σ(b));
callers confirm it with a numeric witness.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sympy
from sympy.polys.domains import QQ
from sympy.polys.rings import PolyElement, PolyRing


class NotPolynomial(ValueError):
    """An expression outside ℚ[symbols, atoms] (a division, a symbolic power, ...)."""


def _atoms(expression: Any) -> set[Any]:
    return set(expression.atoms(sympy.Function))


def _atom_derivatives(atom: Any) -> list[Any]:
    return [atom.fdiff(position + 1) for position in range(len(atom.args))]


class AtomRing:
    """Polynomials in the free symbols and function atoms of ``expressions``.

    Examples
    --------
    >>> import sympy
    >>> from matgrad.symbolic.functions import sigma
    >>> x, w = sympy.symbols("x w")
    >>> f = sigma(w * x) ** 2
    >>> ring = AtomRing([f])
    >>> s = sigma(w * x)
    >>> ring.as_expr(ring.derivative(ring(f), w)) == sympy.expand(2 * x * s**2 * (1 - s))
    True
    """

    def __init__(self, expressions: Iterable[Any]) -> None:
        expressions = [sympy.sympify(e) for e in expressions]
        atoms: set[Any] = set().union(*(_atoms(e) for e in expressions)) if expressions else set()
        pending = list(atoms)
        while pending:  # the derivative of an atom may bring new atoms (e.g. relu′ = Heaviside)
            for derivative in _atom_derivatives(pending.pop()):
                new = _atoms(derivative) - atoms
                atoms |= new
                pending.extend(new)
        symbols: set[Any] = set()
        for expression in expressions:
            symbols |= expression.free_symbols
        for atom in atoms:
            symbols |= atom.free_symbols
        self.symbols = sorted(symbols, key=str)
        self.atoms = sorted(atoms, key=sympy.default_sort_key)
        self._atom_symbols = {atom: sympy.Dummy(f"a{i}") for i, atom in enumerate(self.atoms)}
        self.ring = PolyRing(self.symbols + list(self._atom_symbols.values()), QQ)
        generators = self.ring.gens
        self._generator = dict(zip(self.symbols + self.atoms, generators, strict=True))
        self._atom_of_symbol = {s: atom for atom, s in self._atom_symbols.items()}
        self._cache: dict[Any, PolyElement] = {}
        self._atom_derivative_cache: dict[tuple[Any, Any], PolyElement] = {}

    def __call__(self, expression: Any) -> PolyElement:
        """``expression`` as a ring element; raises NotPolynomial outside the ring."""
        expression = sympy.sympify(expression)
        cached = self._cache.get(expression)
        if cached is not None:
            return cached
        result = self._convert(expression)
        self._cache[expression] = result
        return result

    def _convert(self, e: Any) -> PolyElement:
        generator = self._generator.get(e)
        if generator is not None:
            return generator
        if e.is_Rational:
            return self.ring(QQ(int(e.p), int(e.q)))
        if e.is_Float:
            # A float literal in a formula counts at its exact binary value, never rounded to a "nice" one.
            exact = sympy.Rational(e)
            return self.ring(QQ(int(exact.p), int(exact.q)))
        if e.is_Add:
            total = self.ring.zero
            for term in e.args:
                total += self(term)
            return total
        if e.is_Mul:
            product = self.ring.one
            for factor in e.args:
                product *= self(factor)
            return product
        if e.is_Pow and e.exp.is_Integer and e.exp >= 0:
            return self(e.base) ** int(e.exp)
        raise NotPolynomial(f"not a polynomial in symbols and function atoms: {e}")

    def partials(self, polynomial: PolyElement) -> dict[Any, PolyElement]:
        """∂p/∂atom for every atom that occurs in p (computed once, reused for every symbol)."""
        used = {i for monomial in polynomial.monoms() for i, power in enumerate(monomial) if power}
        first_atom = len(self.symbols)
        return {
            atom: polynomial.diff(self.ring.gens[first_atom + i])
            for i, atom in enumerate(self.atoms)
            if first_atom + i in used
        }

    def derivative(
        self, polynomial: PolyElement, symbol: Any, partials: dict[Any, PolyElement] | None = None
    ) -> PolyElement:
        """Total derivative ∂p/∂symbol, through every atom of p by the chain rule.

        ``partials`` are ``self.partials(polynomial)``, if already at hand.
        """
        if partials is None:
            partials = self.partials(polynomial)
        generator = self._generator.get(symbol)
        result = polynomial.diff(generator) if generator is not None else self.ring.zero
        for atom, partial in partials.items():
            through_atom = self._atom_derivative(atom, symbol)
            if through_atom:
                result += partial * through_atom
        return result

    def _atom_derivative(self, atom: Any, symbol: Any) -> PolyElement:
        """d atom / d symbol = Σᵢ fᵢ′(args) · d argᵢ / d symbol (atoms inside args are strictly smaller)."""
        key = (atom, symbol)
        cached = self._atom_derivative_cache.get(key)
        if cached is not None:
            return cached
        result = self.ring.zero
        if symbol in atom.free_symbols:
            for argument, outer in zip(atom.args, _atom_derivatives(atom), strict=True):
                inner = self.derivative(self(argument), symbol)
                if inner:
                    result += self(outer) * inner
        self._atom_derivative_cache[key] = result
        return result

    def as_expr(self, polynomial: PolyElement) -> Any:
        """Back to a sympy expression, atoms restored."""
        return polynomial.as_expr().xreplace(self._atom_of_symbol)
