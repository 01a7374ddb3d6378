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
from matgrad.engine.nodes import Apply, Det, Dim, Inverse, LogDet, Node, Power, Var, walk
from matgrad.engine.shapes import format_shape

Array = np.ndarray[Any, np.dtype[Any]]
SYMBOLIC_SIZES = (2, 3)
LARGER_SHAPES_SECONDS = 0.5
"""Seconds each exact proof at the second, larger set of shapes may take (3×3 inverses are
rational functions of 9 entries each); past it the answer rests on the first set and the
numeric check, and the proof says so."""
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
    more_symbolic_shapes: tuple[dict[str, tuple[int, ...]], ...] = ()
    """Further shapes the symbolic proof holds at (a determinant or inverse: 2×2 and 3×3)."""
    symbolic_note: str = ""
    """Why a further set of shapes is not among them (its exact proof ran out of time)."""

    def symbolic_shapes_text(self) -> str:
        """Every set of shapes of the symbolic proof, e.g. ``X (2, 2) and X (3, 3)``."""
        return " and ".join(
            ", ".join(f"{n} {format_shape(s)}" for n, s in shapes.items())
            for shapes in (self.symbolic_shapes, *self.more_symbolic_shapes)
        )

    @property
    def proven(self) -> bool:
        numeric_ok = self.numeric is None or bool(self.numeric.passed)
        return numeric_ok and all(bool(v.proven) for v in self.symbolic.values())

    def statement(self) -> str:
        """Both verdicts without timings or error sizes (stable text for documents)."""
        symbolic_ok = all(bool(v.proven) for v in self.symbolic.values())
        # The first shapes only: whether the 3×3 pass finished depends on the machine's load.
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
        shapes = self.symbolic_shapes_text()
        seconds = sum(float(getattr(v, "seconds", 0.0)) for v in self.symbolic.values())
        lines = [
            f"symbolic proof: {'proven' if symbolic_ok else 'FAILED'} — exact (sympy) at {shapes} "
            f"for {', '.join(self.symbolic)} ({seconds:.2f} s)"
        ]
        if self.symbolic_note:
            lines.append(f"    {self.symbolic_note}")
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


KEPT_SIZES = 3
"""Declared sizes up to this stay as declared in every proof: a 3×2 X keeps XᵀAX invertible."""


def concrete_shapes(variables: Sequence[Var], sizes: Sequence[int]) -> dict[str, tuple[int, ...]]:
    """Each name's shape with every size replaced by the next of ``sizes``, except 1 and
    declared sizes up to ``KEPT_SIZES`` (3), which stay."""
    chosen: dict[Dim, int] = {}
    supply = iter(sizes)
    shapes = {}
    for var in variables:
        for dim in var.shape:
            if isinstance(dim, int) and dim <= KEPT_SIZES:
                chosen[dim] = dim
            elif dim not in chosen:
                chosen[dim] = next(supply)
        shapes[var.name] = tuple(1 if d == 1 else chosen[d] for d in var.shape)
    return shapes


def needs_positive_arguments(tree: Node) -> bool:
    """Whether the expression takes a log, a square root, a negative or a fractional power.

    Numeric checks then draw positive arguments.
    """
    return any(
        (isinstance(n, Apply) and n.function in ("log", "sqrt"))
        or (isinstance(n, Power) and (n.exponent < 0 or n.exponent.denominator != 1))
        for n in walk(tree)
    )


def needs_both_sizes(tree: Node) -> bool:
    """Whether the expression takes a determinant or an inverse: proven at 2×2 and at 3×3.

    A 2×2 inverse is a swap and two sign changes; 3×3 is the first size with a general adjugate.
    """
    return any(isinstance(n, Det | LogDet | Inverse) for n in walk(tree))


def prove(
    tree: Node, variables: Sequence[Var], code: GeneratedCode, wrt: Sequence[str], seed: int = 0
) -> Proof:
    """Run both proofs of ``code`` (the generated function) against the parsed ``tree``."""
    from matgrad.engine.to_sympy import to_sympy  # sympy loads here, when a proof runs
    from matgrad.symbolic import check_function
    from matgrad.testing import check_gradients

    function = code.compile()
    symmetric = [v.name for v in variables if v.structure]

    def value_fn(**arrays: Array) -> Any:
        return to_sympy(tree, arrays)

    def gradient_fn(name: str) -> Callable[..., Array]:
        return lambda **arrays: function(**arrays)[1][name]

    symbolic_shapes = concrete_shapes(variables, list(_take(cycle(SYMBOLIC_SIZES), len(variables) * 2)))
    symbolic: dict[str, Any] = {}
    for name in wrt:
        try:
            symbolic[name] = check_function(
                value_fn, gradient_fn(name), symbolic_shapes, name, symmetric=symmetric
            )
        except Exception as error:  # a checker that cannot decide has not proven anything
            symbolic[name] = Undecided(name, f"{type(error).__name__}: {error}")
    more: list[dict[str, tuple[int, ...]]] = []
    symbolic_note = ""
    larger = concrete_shapes(variables, list(_take(cycle(SYMBOLIC_SIZES[::-1]), len(variables) * 2)))
    if larger != symbolic_shapes and needs_both_sizes(tree) and all(v.proven for v in symbolic.values()):
        verdicts = {
            name: check_function(
                value_fn, gradient_fn(name), larger, name, symmetric=symmetric, timeout=LARGER_SHAPES_SECONDS
            )
            for name in wrt
        }
        refuted = {n: v for n, v in verdicts.items() if not v.proven and v.counterexample is not None}
        if refuted:
            symbolic.update(refuted)  # a refutation at 3×3 is a failed proof
        elif all(v.proven for v in verdicts.values()):
            more.append(larger)
        else:
            shown = ", ".join(f"{n} {format_shape(s)}" for n, s in larger.items())
            symbolic_note = f"not decided at {shown} within {LARGER_SHAPES_SECONDS:g} s"

    numeric_shapes = concrete_shapes(
        variables, range(NUMERIC_SIZES_FROM, NUMERIC_SIZES_FROM + 2 * len(variables))
    )
    reference = generate(tree, {}, variables, function_name="value").compile()
    rng = np.random.default_rng(seed)
    arrays = sample_arguments(tree, variables, numeric_shapes, rng)

    def symmetrize(arrays: dict[str, Array]) -> dict[str, Array]:
        # f(sym(B)) differentiated in B is sym(∂f/∂A): finite differences along symmetric directions
        return {n: (a + a.T) / 2 if n in symmetric else a for n, a in arrays.items()}

    with np.errstate(all="ignore"):  # a value that overflows is reported below, not warned about
        try:
            finite = bool(np.all(np.isfinite(reference(**arrays)[0])))
        except (ValueError, np.linalg.LinAlgError):  # e.g. logdet of a matrix with det ≤ 0
            finite = False
    if not finite:
        note = "the value is not finite at the sampled arguments"
        return Proof(symbolic, None, note, symbolic_shapes, numeric_shapes, tuple(more), symbolic_note)
    try:
        report = check_gradients(
            lambda **a: reference(**symmetrize(a))[0],
            lambda **a: function(**symmetrize(a))[1],
            arrays,
            wrt=tuple(wrt),
        )
    except (ValueError, ArithmeticError) as error:  # e.g. a matrix singular at the sampled sizes
        note = f"the generated code raised {type(error).__name__}: {error} at the sampled arguments"
        return Proof(symbolic, None, note, symbolic_shapes, numeric_shapes, tuple(more), symbolic_note)
    return Proof(symbolic, report, "", symbolic_shapes, numeric_shapes, tuple(more), symbolic_note)


def sample_arguments(
    tree: Node, variables: Sequence[Var], shapes: dict[str, tuple[int, ...]], rng: np.random.Generator
) -> dict[str, Array]:
    """Random arguments in the expression's domain, for the numeric check.

    Normal entries (positive where a log, a square root, a negative or a fractional power
    needs them; in (0.05, 0.35) under an arcsin or arccos);
    symmetric arguments symmetric; a square matrix inside a log-determinant, or declared
    spd, symmetric positive definite; one inside a determinant or an inverse
    well-conditioned (I·n plus noise), so that central differences measure the formula,
    not the conditioning.
    """
    positive = needs_positive_arguments(tree)
    bounded = any(isinstance(n, Apply) and n.function in ("arcsin", "arccos") for n in walk(tree))
    under_logdet = {v for n in walk(tree) if isinstance(n, LogDet) for v in walk(n.arg) if isinstance(v, Var)}
    inverted = {
        v for n in walk(tree) if isinstance(n, Det | Inverse) for v in walk(n.arg) if isinstance(v, Var)
    }
    arrays: dict[str, Array] = {}
    for var in variables:
        shape = shapes[var.name]
        square = len(shape) == 2 and shape[0] == shape[1]
        draw = rng.standard_normal(shape)
        if square and (var.structure == "spd" or var in under_logdet):
            arrays[var.name] = draw @ draw.T / shape[0] + np.eye(shape[0])
        elif square and var in inverted:
            noise = (draw + draw.T) / 2 if var.structure else draw
            arrays[var.name] = noise / 2 + shape[0] * np.eye(shape[0])
        elif var.structure:
            arrays[var.name] = (draw + draw.T) / 2
        elif bounded:  # arcsin and arccos need arguments in (−1, 1); small positive ones keep sums there
            arrays[var.name] = rng.uniform(0.05, 0.35, shape)
        else:
            arrays[var.name] = np.abs(draw) + 0.5 if positive else draw
    return arrays


def _take(items: Any, count: int) -> list[int]:
    return [next(items) for _ in range(count)]


__all__ = [
    "Proof",
    "Undecided",
    "concrete_shapes",
    "needs_both_sizes",
    "needs_positive_arguments",
    "prove",
    "sample_arguments",
]
