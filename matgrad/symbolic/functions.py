"""Opaque sympy functions used when the numpy VJP code runs on object arrays.

σ is kept opaque, with σ′ = σ(1 − σ), instead of being expanded through exp: the
derivatives then stay polynomial in σ(·) and ``expand`` decides equality quickly.
"""

from __future__ import annotations

import sympy


class sigma(sympy.Function):
    """The logistic sigmoid σ(x) = 1/(1 + e^{−x}), opaque, with σ′ = σ(1 − σ)."""

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        if argindex != 1:
            raise sympy.ArgumentIndexError(self, argindex)
        s = sigma(self.args[0])
        return s * (1 - s)

    def _eval_rewrite_as_exp(self, x: sympy.Expr, **kwargs: object) -> sympy.Expr:
        return 1 / (1 + sympy.exp(-x))

    def _eval_evalf(self, prec: int) -> sympy.Expr | None:
        # Numbers for the numeric instance of a counterexample; a symbolic σ stays opaque.
        if not self.args[0].is_number:
            return None
        return self.rewrite(sympy.exp)._eval_evalf(prec)

    def _latex(self, printer: sympy.printing.latex.LatexPrinter) -> str:
        return rf"\sigma\left({printer._print(self.args[0])}\right)"
