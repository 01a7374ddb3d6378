"""Opaque sympy functions used when the numpy VJP code runs on object arrays.

σ is kept opaque, with σ′ = σ(1 − σ), instead of being expanded through exp: the
derivatives then stay polynomial in σ(·) and ``expand`` decides equality quickly.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

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

    def _latex(self, printer: sympy.printing.latex.LatexPrinter, exp: str | None = None) -> str:
        r"""σ(x) in LaTeX; sympy passes ``exp`` for a power, written σ^k(x) like sin^k(x).

        >>> x = sympy.Symbol("x")
        >>> sympy.latex(sigma(x) ** 2)
        '\\sigma^{2}\\left(x\\right)'
        """
        power = "" if exp is None else f"^{{{exp}}}"
        return rf"\sigma{power}\left({printer._print(self.args[0])}\right)"


# numpy's ufuncs on object arrays call a method of each entry named after the ufunc
# (np.exp(a) calls a[i].exp()); sympy expressions have none, so candidates written with
# np.exp or np.tanh would raise TypeError. These are the ones given to them while a
# candidate runs.
_NUMPY_METHODS = {
    "exp": sympy.exp,
    "log": sympy.log,
    "tanh": sympy.tanh,
    "sqrt": sympy.sqrt,
    "sin": sympy.sin,
    "cos": sympy.cos,
    "cosh": sympy.cosh,
    "sinh": sympy.sinh,
    "log1p": lambda x: sympy.log(1 + x),
    "expm1": lambda x: sympy.exp(x) - 1,
    "reciprocal": lambda x: 1 / x,
}
_method_lock = threading.Lock()


@contextmanager
def numpy_functions_on_sympy() -> Iterator[None]:
    """Within: ``np.exp``, ``np.log``, ``np.tanh``, ... work on object arrays of sympy expressions.

    >>> import numpy as np
    >>> x = sympy.Symbol("x")
    >>> with numpy_functions_on_sympy():
    ...     np.exp(np.array([x], dtype=object))
    array([exp(x)], dtype=object)
    """
    with _method_lock:
        added = [name for name in _NUMPY_METHODS if not hasattr(sympy.Expr, name)]
        for name in added:
            function = _NUMPY_METHODS[name]
            setattr(sympy.Expr, name, lambda self, function=function: function(self))
        try:
            yield
        finally:
            for name in added:
                delattr(sympy.Expr, name)


def _canonical(argument: sympy.Expr) -> tuple[sympy.Expr, bool]:
    """(v, negated) with argument = −v if negated else v, v not starting with a minus sign."""
    if argument.could_extract_minus_sign():
        return -argument, True
    return argument, False


def _sigma_of(argument: sympy.Expr) -> sympy.Expr:
    """σ(argument) with σ(−v) written 1 − σ(v), so each argument has one atom."""
    v, negated = _canonical(argument)
    return 1 - sigma(v) if negated else sigma(v)


def _exp_as_sigma(argument: sympy.Expr) -> sympy.Expr:
    """eᵘ = σ(u)/(1 − σ(u)) = σ(u)/σ(−u)."""
    s = _sigma_of(argument)
    return s / (1 - s)


def _tanh_as_sigma(argument: sympy.Expr) -> sympy.Expr:
    """tanh(u) = 2σ(2u) − 1."""
    return 2 * _sigma_of(2 * argument) - 1


def sigma_normal_form(expression: object) -> Any:
    """``expression`` with exp, tanh and σ written through σ atoms of canonically signed arguments.

    Identities only (eᵘ = σ(u)/(1 − σ(u)), tanh u = 2σ(2u) − 1, σ(−v) = 1 − σ(v)), so the
    result equals the input for every value of the symbols; the point is that the usual
    ways of writing σ, such as ``1/(1 + np.exp(-z))``, ``np.exp(-z)/(1 + np.exp(-z))**2``
    or ``σ(z)σ(−z)``, become rational functions of the same atoms as matgrad's σ.

    >>> z = sympy.Symbol("z")
    >>> sympy.cancel(sigma_normal_form(1 / (1 + sympy.exp(-z))))
    sigma(z)
    """
    expression = sympy.sympify(expression)
    if not isinstance(expression, sympy.Basic) or not expression.has(sympy.exp, sympy.tanh, sigma):
        return expression
    return expression.replace(
        lambda e: isinstance(e, (sympy.exp, sympy.tanh, sigma)),
        lambda e: (
            _exp_as_sigma(e.args[0])
            if isinstance(e, sympy.exp)
            else _tanh_as_sigma(e.args[0])
            if isinstance(e, sympy.tanh)
            else _sigma_of(e.args[0])
        ),
    )


def rational_zero(expression: object) -> bool:
    """Whether ``expression``, a rational function of its symbols and atoms, is identically zero.

    Exact: in :func:`sigma_normal_form`, it must be the zero polynomial, or have a
    numerator over a common denominator that is. False means "not shown here", not
    "nonzero".
    """
    from matgrad.symbolic.polynomials import AtomRing, NotPolynomial

    normal = sigma_normal_form(expression)
    for form in (normal, None):
        if form is None:  # only now: together is the costly step
            form = sympy.fraction(sympy.together(normal))[0]
        try:
            return not AtomRing([form])(form)
        except NotPolynomial:
            continue
    return bool(sympy.expand(form) == 0)
