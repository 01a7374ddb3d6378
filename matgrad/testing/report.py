"""The result of a gradient check: one :class:`ArgumentReport` per argument, gathered in a
:class:`GradientReport` with a readable ``str`` and a JSON-ready ``to_dict()``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from matgrad.testing.diagnose import hint

METHOD_NAMES = {
    "central": "central differences",
    "complex": "complex step",
    "direction": "random direction",
    "reference": "given reference",
}


@dataclass(frozen=True)
class ArgumentReport:
    """How far one gradient ∂f/∂A is from the numeric reference.

    Errors are over the values compared: the entries of ∂f/∂A, or for the random
    direction test the directional derivatives ⟨∂f/∂A, Vⱼ⟩ (``worst_index`` is then
    (j,)). A gradient of the wrong shape has infinite errors and no worst index.
    """

    name: str
    shape: tuple[int, ...]
    gradient_shape: tuple[int, ...]
    max_abs_error: float
    max_rel_error: float
    """max |err| / max(1, |ref|)."""
    worst_index: tuple[int, ...] | None
    gradient_at_worst: float | None
    reference_at_worst: float | None
    tolerance: float
    """Pass threshold on the relative error."""
    failing: int
    """How many compared values exceed the tolerance."""
    compared: int
    diagnosis: str | None = None
    """The slip that explains a failure (see :mod:`matgrad.testing.diagnose`), if one does."""

    @property
    def passed(self) -> bool:
        return self.failing == 0 and self.gradient_shape == self.shape

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["passed"] = self.passed
        for key in ("shape", "gradient_shape", "worst_index"):
            if data[key] is not None:
                data[key] = list(data[key])
        return data

    def explanation(self, values: str = "entries") -> str:
        """Where and why it failed, in words ('' when it passed); ``values`` names what was compared."""
        if self.passed:
            return ""
        if self.gradient_shape != self.shape:
            shapes = format_shape(self.gradient_shape), format_shape(self.shape)
            where = "gradient has shape {}, the argument {}".format(*shapes)
        else:
            where = (
                f"{self.failing} of {self.compared} {values} beyond tolerance; worst at "
                f"{_index(self.worst_index, values)}: gradient {self.gradient_at_worst:.6g}, "
                f"reference {self.reference_at_worst:.6g}"
            )
        if self.diagnosis is None:
            return f"{self.name}: {where}\n    no known slip fits"
        return f"{self.name}: {where}\n    {self.diagnosis}: {hint(self.diagnosis)}"


@dataclass(frozen=True)
class GradientReport:
    """Per-argument results of checking one gradient at one point with one method."""

    title: str
    method: str
    arguments: dict[str, ArgumentReport] = field(default_factory=dict)
    undecided: str | None = None
    """Why the check could not be carried out (e.g. it timed out); it then neither passed nor failed."""

    @property
    def passed(self) -> bool:
        return self.undecided is None and all(a.passed for a in self.arguments.values())

    def to_dict(self) -> dict[str, Any]:
        """Plain data (lists, floats, strings) for programs and ``json.dumps``."""
        return {
            "title": self.title,
            "method": self.method,
            "passed": self.passed,
            "undecided": self.undecided,
            "arguments": {name: a.to_dict() for name, a in self.arguments.items()},
        }

    def __str__(self) -> str:
        method = METHOD_NAMES.get(self.method, self.method)
        if self.undecided is not None:
            return f"gradient check of {self.title} by {method}: {self.undecided}"
        verdict = "passed" if self.passed else "FAILED"
        values = "directions" if self.method == "direction" else "entries"
        header = ("argument", "shape", "max abs err", "max rel err", "worst at", "tolerance", "result")
        rows = [
            (
                a.name,
                format_shape(a.shape),
                f"{a.max_abs_error:.2e}",
                f"{a.max_rel_error:.2e}",
                _index(a.worst_index, values),
                f"{a.tolerance:.1e}",
                "ok" if a.passed else "FAIL" + (f": {a.diagnosis}" if a.diagnosis else ""),
            )
            for a in self.arguments.values()
        ]
        lines = [f"gradient check of {self.title} by {method}: {verdict}", *format_table(header, rows)]
        lines += [a.explanation(values) for a in self.arguments.values() if not a.passed]
        return "\n".join(lines)


def format_shape(shape: tuple[int, ...]) -> str:
    """(3, 2), or (3,) for a 1-D shape."""
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def _index(index: tuple[int, ...] | None, values: str) -> str:
    """An entry index (i, j), or V₀, V₁, … for the directions of the random-direction test."""
    if index is None:
        return ""
    return f"V{index[0]}" if values == "directions" else format_shape(index)


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Left-aligned columns, a rule under the header."""
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    lines = [header, ["-" * w for w in widths], *rows]
    return ["  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in lines]
