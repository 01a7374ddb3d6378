"""The outcome of a proof: :class:`Verdict`, with a :class:`Counterexample` when it fails."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

CONCRETE = "concrete shapes"
ALL_SIZES = "all sizes"
#: Appended to the method of a proof of the array API path (matgrad.generic_vjp).
ARRAY_API = ", array API"

#: What a verdict proves: the gradient, the Hessian applied to a direction, or the Gauss–Newton product.
GRADIENT = "gradient"
HVP = "hvp"
GAUSS_NEWTON = "gauss_newton"
_QUANTITY_LABELS = {GRADIENT: "∂f/∂{}", HVP: "(∇²f·V)_{}", GAUSS_NEWTON: "(2JᵀJ·V)_{}"}


def quantity_label(quantity: str, argument: str) -> str:
    """How a verdict names what it proves, e.g. '∂f/∂W', '(∇²f·V)_W', '(2JᵀJ·V)_W'."""
    return _QUANTITY_LABELS[quantity].format(argument)


def method_name(method: str, rules: ModuleType | None) -> str:
    """``method``, marked as a proof of the array API path unless ``rules`` is None or matgrad.vjp."""
    if rules is None or rules.__name__ == "matgrad.vjp":
        return method
    return method + ARRAY_API


_SHOWN_CHARACTERS = 240


def _shorten(text: str) -> str:
    return text if len(text) <= _SHOWN_CHARACTERS else text[: _SHOWN_CHARACTERS - 1] + "…"


@dataclass(frozen=True)
class Counterexample:
    """Where a candidate gradient differs from the derivative.

    ``shapes`` are the argument shapes of the failing case; ``entry`` the index of the
    first wrong entry (None when the whole result is wrong: its shape, an exception, or
    a residual at symbolic sizes); ``difference`` is candidate − derivative there,
    exactly; ``inputs`` a numeric instance (small integers for every entry), at which
    the candidate gives ``candidate_value`` and the derivative ``expected_value``.
    """

    shapes: Mapping[str, tuple[Any, ...]]
    entry: tuple[int, ...] | None
    difference: str
    inputs: Mapping[str, Any] = field(default_factory=dict)
    candidate_value: float | None = None
    expected_value: float | None = None

    def __str__(self) -> str:
        shapes = ", ".join(f"{name} {tuple(shape)}" for name, shape in self.shapes.items())
        where = f"entry {self.entry}" if self.entry is not None else "result"
        text = f"at shapes {shapes}, {where}: candidate − derivative = {_shorten(self.difference)}"
        if self.candidate_value is not None:
            inputs = ", ".join(f"{name}={value}" for name, value in self.inputs.items())
            where_numbers = f"at {inputs}" if len(inputs) <= _SHOWN_CHARACTERS else "at the inputs in .inputs"
            text += (
                f"; numerically, {where_numbers}: candidate {self.candidate_value:.6g}"
                f" vs derivative {self.expected_value:.6g}"
            )
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "shapes": {name: [str(s) for s in shape] for name, shape in self.shapes.items()},
            "entry": list(self.entry) if self.entry is not None else None,
            "difference": self.difference,
            "inputs": dict(self.inputs),
            "candidate_value": self.candidate_value,
            "expected_value": self.expected_value,
        }


@dataclass(frozen=True)
class Verdict:
    """Whether ∂f/∂``argument`` of ``objective`` is proven, how, where and how fast.

    ``method`` is "concrete shapes" (exact at each listed shape) or "all sizes"
    (exact with the sizes as symbols). When ``proven`` is False there are two cases,
    told apart by :attr:`status`: "NOT proven" (refuted) has a ``counterexample``
    saying where, and ``diagnosis`` names the known slip it matches, if any;
    "undecided" has no counterexample and ``note`` says why the proof could not be
    carried out (a time-out, code the symbolic arrays cannot run, ...). An undecided
    verdict claims nothing about the formula.
    """

    proven: bool
    objective: str
    argument: str
    method: str
    shapes: str
    seconds: float
    counterexample: Counterexample | None = None
    diagnosis: str | None = None
    note: str | None = None
    quantity: str = GRADIENT

    @property
    def label(self) -> str:
        """What is proven, e.g. '∂f/∂W' or '(∇²f·V)_W'."""
        return quantity_label(self.quantity, self.argument)

    @property
    def status(self) -> str:
        """ "proven", "NOT proven" (refuted, with a counterexample) or "undecided"."""
        if self.proven:
            return "proven"
        return "NOT proven" if self.counterexample is not None else "undecided"

    def __str__(self) -> str:
        text = (
            f"{self.objective} {self.label}: {self.status} at {self.method} "
            f"[{self.shapes}] in {self.seconds:.2f} s"
        )
        if self.diagnosis:
            text += f"\n  likely slip: {self.diagnosis}"
        if self.counterexample is not None:
            text += f"\n  counterexample {self.counterexample}"
        if self.note:
            text += f"\n  note: {self.note}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "objective": self.objective,
            "argument": self.argument,
            "quantity": self.quantity,
            "method": self.method,
            "shapes": self.shapes,
            "proven": self.proven,
            "status": self.status,
            "seconds": round(self.seconds, 3),
            "diagnosis": self.diagnosis,
            "counterexample": self.counterexample.to_dict() if self.counterexample else None,
            "note": self.note,
        }


@dataclass
class Ledger:
    """The results of one proof method for one objective, argument by argument, as they come in."""

    objective: str
    method: str
    arguments: tuple[str, ...]
    seconds: dict[str, float] = field(default_factory=dict)
    counterexamples: dict[str, Counterexample] = field(default_factory=dict)
    diagnoses: dict[str, str | None] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    quantity: str = GRADIENT

    def settled(self, argument: str) -> bool:
        """Whether ``argument`` has already failed, so further cases need not run."""
        return argument in self.counterexamples or argument in self.notes

    def add_seconds(self, argument: str, seconds: float) -> None:
        self.seconds[argument] = self.seconds.get(argument, 0.0) + seconds

    def verdicts(self, shapes: str) -> dict[str, Verdict]:
        return {
            name: Verdict(
                proven=not self.settled(name),
                objective=self.objective,
                argument=name,
                method=self.method,
                shapes=shapes,
                seconds=self.seconds.get(name, 0.0),
                counterexample=self.counterexamples.get(name),
                diagnosis=self.diagnoses.get(name),
                note=self.notes.get(name),
                quantity=self.quantity,
            )
            for name in self.arguments
        }
