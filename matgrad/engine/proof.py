"""Proofs of a derivation: exact (sympy) and numeric, both on the generated code itself.

- Symbolic: ``matgrad.symbolic.check_function`` differentiates, with sympy, the value
  of the expression *as parsed* (:func:`~matgrad.engine.to_sympy.to_sympy`, independent
  of the simplifier and of the code generator) and compares it entry by entry with what
  the generated numpy function returns when run on object arrays of symbols, at small
  concrete shapes (sizes 2 and 3; 1 stays 1, so broadcasting is proven as declared).
- Numeric: ``matgrad.testing.check_gradients`` compares the generated gradients with
  central differences of the value computed by separate code, generated from the parsed
  expression, at other small sizes (3, 4, 5, …, all distinct, so a transposition that
  square shapes would hide fails here).

A derivation is proven when every symbolic verdict is proven and the numeric check did
not fail. Expressions with ``log`` or fractional and negative powers are checked at
positive arguments (their natural domain).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import cycle
from typing import Any

import numpy as np

from matgrad.engine.codegen import GeneratedCode, generate
from matgrad.engine.nodes import Apply, Dim, Node, Power, Var, walk
from matgrad.engine.shapes import format_shape

Array = np.ndarray[Any, np.dtype[Any]]
SYMBOLIC_SIZES = (2, 3)
NUMERIC_SIZES_FROM = 3


@dataclass(frozen=True)
class Undecided:
    """The symbolic checker raised instead of deciding: not a proof."""

    argument: str
    reason: str
    proven: bool = False
    seconds: float = 0.0

    def __str__(self) -> str:
        return f"∂f/∂{self.argument}: undecided, the symbolic checker raised {self.reason}"


@dataclass(frozen=True)
class Proof:
    """The verdicts for one derivation."""

    symbolic: dict[str, Any]  # argument -> matgrad.symbolic Verdict
    numeric: Any | None  # matgrad.testing GradientReport, None if it could not run
    numeric_note: str
    symbolic_shapes: dict[str, tuple[int, ...]]
    numeric_shapes: dict[str, tuple[int, ...]]

    @property
    def proven(self) -> bool:
        numeric_ok = self.numeric is None or bool(self.numeric.passed)
        return numeric_ok and all(bool(v.proven) for v in self.symbolic.values())

    def statement(self) -> str:
        """Both verdicts without timings or error sizes (stable text for documents)."""
        symbolic_ok = all(bool(v.proven) for v in self.symbolic.values())
        shapes = ", ".join(f"{n} {format_shape(s)}" for n, s in self.symbolic_shapes.items())
        numeric_shapes = ", ".join(f"{n} {format_shape(s)}" for n, s in self.numeric_shapes.items())
        symbolic = f"symbolic proof {'proven' if symbolic_ok else 'FAILED'} (exact, sympy, at {shapes})"
        if self.numeric is None:
            numeric = f"numeric check not run ({self.numeric_note})"
        else:
            status = "passed" if self.numeric.passed else "FAILED"
            numeric = f"numeric check {status} (central differences at {numeric_shapes})"
        return f"Proof: {symbolic}; {numeric}."

    def summary(self) -> str:
        """Both verdicts, one line each."""
        symbolic_ok = all(bool(v.proven) for v in self.symbolic.values())
        shapes = ", ".join(f"{n} {format_shape(s)}" for n, s in self.symbolic_shapes.items())
        seconds = sum(float(getattr(v, "seconds", 0.0)) for v in self.symbolic.values())
        lines = [
            f"symbolic proof: {'proven' if symbolic_ok else 'FAILED'} — exact (sympy) at {shapes} "
            f"for {', '.join(self.symbolic)} ({seconds:.2f} s)"
        ]
        lines += [f"    {verdict}" for verdict in self.symbolic.values() if not verdict.proven]
        if self.numeric is None:
            lines.append(
                f"numeric check: not run — {self.numeric_note}; the answer rests on the symbolic proof alone"
            )
        else:
            numeric_shapes = ", ".join(f"{n} {format_shape(s)}" for n, s in self.numeric_shapes.items())
            worst = max((float(a.max_rel_error) for a in self.numeric.arguments.values()), default=0.0)
            status = "passed" if self.numeric.passed else "FAILED"
            lines.append(
                f"numeric check: {status} — central differences at {numeric_shapes}, "
                f"max relative error {worst:.1e}"
            )
            if not self.numeric.passed:
                lines.append(f"    {self.numeric}")
        return "\n".join(lines)


def concrete_shapes(variables: Sequence[Var], sizes: Sequence[int]) -> dict[str, tuple[int, ...]]:
    """Each name's shape with every size other than 1 replaced by the next of ``sizes``."""
    chosen: dict[Dim, int] = {}
    supply = iter(sizes)
    shapes = {}
    for var in variables:
        for dim in var.shape:
            if dim != 1 and dim not in chosen:
                chosen[dim] = next(supply)
        shapes[var.name] = tuple(1 if d == 1 else chosen[d] for d in var.shape)
    return shapes


def needs_positive_arguments(tree: Node) -> bool:
    """Whether the expression takes a log, a negative or a fractional power (numeric checks draw x > 0)."""
    return any(
        (isinstance(n, Apply) and n.function == "log")
        or (isinstance(n, Power) and (n.exponent < 0 or n.exponent.denominator != 1))
        for n in walk(tree)
    )


def prove(
    tree: Node, variables: Sequence[Var], code: GeneratedCode, wrt: Sequence[str], seed: int = 0
) -> Proof:
    """Run both proofs of ``code`` (the generated function) against the parsed ``tree``."""
    from matgrad.engine.to_sympy import to_sympy  # sympy loads here, when a proof runs
    from matgrad.symbolic import check_function
    from matgrad.testing import check_gradients

    function = code.compile()

    def value_fn(**arrays: Array) -> Any:
        return to_sympy(tree, arrays)

    def gradient_fn(name: str) -> Callable[..., Array]:
        return lambda **arrays: function(**arrays)[1][name]

    symbolic_shapes = concrete_shapes(variables, list(_take(cycle(SYMBOLIC_SIZES), len(variables) * 2)))
    symbolic: dict[str, Any] = {}
    for name in wrt:
        try:
            symbolic[name] = check_function(value_fn, gradient_fn(name), symbolic_shapes, name)
        except Exception as error:  # a checker that cannot decide has not proven anything
            symbolic[name] = Undecided(name, f"{type(error).__name__}: {error}")

    numeric_shapes = concrete_shapes(
        variables, range(NUMERIC_SIZES_FROM, NUMERIC_SIZES_FROM + 2 * len(variables))
    )
    reference = generate(tree, {}, variables, function_name="value").compile()
    rng = np.random.default_rng(seed)
    positive = needs_positive_arguments(tree)
    arrays = {
        name: (np.abs(rng.standard_normal(shape)) + 0.5 if positive else rng.standard_normal(shape))
        for name, shape in numeric_shapes.items()
    }
    with np.errstate(all="ignore"):  # a value that overflows is reported below, not warned about
        finite = bool(np.all(np.isfinite(reference(**arrays)[0])))
    if not finite:
        note = "the value is not finite at the sampled arguments"
        return Proof(symbolic, None, note, symbolic_shapes, numeric_shapes)
    report = check_gradients(
        lambda **a: reference(**a)[0], lambda **a: function(**a)[1], arrays, wrt=tuple(wrt)
    )
    return Proof(symbolic, report, "", symbolic_shapes, numeric_shapes)


def _take(items: Any, count: int) -> list[int]:
    return [next(items) for _ in range(count)]


__all__ = ["Proof", "Undecided", "concrete_shapes", "needs_positive_arguments", "prove"]
