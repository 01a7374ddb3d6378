"""The documented errors of the derivation engine; every one is a ``ValueError``.

Anything else escaping :func:`matgrad.engine.derive` is a bug.
"""

from __future__ import annotations


class ExpressionError(ValueError):
    """Base of the engine's errors about an expression; may point at a column of its text."""

    def __init__(
        self, message: str, text: str | None = None, start: int | None = None, end: int | None = None
    ):
        self.message = message
        self.text = text
        self.start = start
        self.end = end
        super().__init__(self._render())

    @property
    def column(self) -> int | None:
        """1-based column of the offending text, if known."""
        return None if self.start is None else self.start + 1

    def _render(self) -> str:
        if self.text is None or self.start is None:
            return self.message
        line = self.text.replace("\n", " ").replace("\t", " ")
        width = max(1, (self.end if self.end is not None else self.start + 1) - self.start)
        caret = " " * self.start + "^" * width
        return f"{self.message} (column {self.column})\n    {line}\n    {caret}"


class ExpressionSyntaxError(ExpressionError):
    """The text is not an expression of the language (the caret marks where)."""


class NestingError(ExpressionSyntaxError):
    """The expression is nested deeper, or is longer, than the engine's explicit limits."""


class UnknownNameError(ExpressionError):
    """Names without a declared shape, unknown functions or unknown ``wrt`` names; all are listed."""


class ShapeError(ExpressionError):
    """Shapes that do not fit: names the subexpression and both shapes."""


class ProofFailure(ExpressionError):
    """A derived gradient failed its symbolic or numeric proof; it is not an answer.

    ``derivation`` holds what was derived and ``proof`` the failed verdicts, for
    inspection and bug reports.
    """

    def __init__(self, message: str, derivation: object, proof: object):
        self.derivation = derivation
        self.proof = proof
        super().__init__(message)


class TooComplexError(ExpressionError):
    """The expression, or its proof, needs more than the engine's limits of time, memory or size.

    Derivation and proof each have a budget (``derive(..., timeout=)``, 500 MB each);
    constants may not grow past :data:`MAX_NUMBER_BITS` bits (e.g. by repeated powers).
    When only the proof is over budget, the message says so: the answer exists but is
    unproven, and ``prove=False`` (``--no-proof``) returns it as such.
    """


MAX_NUMBER_BITS = 4096
"""Bits of a numerator, denominator or exponent that any constant of a derivation may have."""
