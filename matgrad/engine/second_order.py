"""Second derivatives in closed form: ``derive(..., order=2)`` and ``matgrad derive --hessian``.

The Hessian of f with respect to x, applied to a direction V of x's shape, is the gradient
of the scalar ⟨∇f, V⟩ (the Hessian is symmetric). So the engine derives ∇f as usual (and
proves it), forms ⟨∇f, V⟩ with V a new argument, and differentiates that with the same
rule tables: the Hessian-vector product H·V in closed form, for any x. For a vector x the
Hessian matrix itself is read off H·V (:mod:`matgrad.engine.hessian`), e.g. the logistic
loss's Xᵀ diag(σ ⊙ (1 − σ)) X.

The proof does not trust the engine's gradient: sympy differentiates the expression as
parsed twice, Σᵢ Vᵢ ∂f/∂xᵢ and then its gradient, and the generated H·V code (and M·V
for the matrix M) must equal it exactly at small concrete shapes; a numeric check
compares H·V with central differences of ⟨∇f, V⟩ computed by the proven gradient code.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from matgrad.engine import latex as printing
from matgrad.engine.bindings import display_names
from matgrad.engine.codegen import GeneratedCode, generate
from matgrad.engine.differentiate import differentiate
from matgrad.engine.errors import ExpressionError
from matgrad.engine.hessian import matrix_of
from matgrad.engine.nodes import Mul, Node, Sum, Var
from matgrad.engine.proof import NUMERIC_SIZES_FROM, SYMBOLIC_SIZES, concrete_shapes, sample_arguments
from matgrad.engine.shapes import format_shape
from matgrad.engine.simplify import Simplifier

Array = np.ndarray[Any, np.dtype[Any]]


@dataclass(frozen=True)
class SecondProof:
    """The verdicts of a second-order derivation: H·V (and M·V) exact, and numeric."""

    symbolic: dict[str, Any]  # "hvp" (and "hessian") -> matgrad.symbolic Verdict
    numeric: Any | None
    numeric_note: str

    @property
    def proven(self) -> bool:
        numeric_ok = self.numeric is None or bool(self.numeric.passed)
        return numeric_ok and all(bool(v.proven) for v in self.symbolic.values())

    def summary(self) -> str:
        lines = []
        for what, verdict in self.symbolic.items():
            label = "H·V" if what == "hvp" else "M·V (the Hessian matrix M)"
            status = "proven" if verdict.proven else "FAILED"
            lines.append(
                f"symbolic proof of {label}: {status} — exact (sympy) against ∇⟨∇f, V⟩ of the parsed "
                f"expression at {verdict.shapes}"
            )
            if not verdict.proven:
                lines.append(f"    {verdict}")
        if self.numeric is None:
            lines.append(f"numeric check: not run — {self.numeric_note}")
        else:
            status = "passed" if self.numeric.passed else "FAILED"
            worst = max((float(a.max_rel_error) for a in self.numeric.arguments.values()), default=0.0)
            lines.append(
                f"numeric check: {status} — central differences of ⟨∇f, V⟩, max relative error {worst:.1e}"
            )
        return "\n".join(lines)


@dataclass(frozen=True)
class SecondDerivation:
    """H·V for one argument x (and the Hessian matrix M for a vector x), with code and proof.

    ``first`` is the (proven) gradient derivation it builds on; ``direction`` the new
    argument V of x's shape.
    """

    first: Any  # matgrad.engine.derivation.Derivation
    wrt: str
    direction: Var
    hvp: Node
    hessian: Node | None
    names: dict[Node, str]
    code: GeneratedCode
    hessian_code: GeneratedCode | None
    proof: SecondProof | None
    seconds: float

    @property
    def expression(self) -> str:
        return str(self.first.expression)

    def text(self) -> str:
        """H·V as plain text, e.g. ``2XᵀXV``."""
        return printing.text(self.hvp, self.names)

    def latex(self) -> str:
        return printing.latex(self.hvp, self.names)

    def hessian_text(self) -> str | None:
        """The Hessian matrix as plain text (a vector argument), else None."""
        return None if self.hessian is None else printing.text(self.hessian, self.names)

    def hessian_latex(self) -> str | None:
        return None if self.hessian is None else printing.latex(self.hessian, self.names)

    @property
    def proven(self) -> bool | None:
        return None if self.proof is None else self.proof.proven

    @property
    def function(self) -> Callable[..., tuple[Any, dict[str, Any]]]:
        """The generated numpy function ``(*arguments, V) -> (f, {x: H·V})``."""
        return self.code.compile()

    @property
    def hessian_function(self) -> Callable[..., tuple[Any, dict[str, Any]]] | None:
        """The generated ``(*arguments) -> (f, {x: M})``, for a vector x."""
        return None if self.hessian_code is None else self.hessian_code.compile()

    def where(self) -> list[tuple[str, str]]:
        """The named intermediates, (name, definition), in the order they are defined."""

        def others(node: Node) -> dict[Node, str]:
            return {n: name for n, name in self.names.items() if n != node}

        return [(name, printing.text(node, others(node))) for node, name in self.names.items()]

    def __str__(self) -> str:
        x, v = self.wrt, self.direction.name
        shapes = ", ".join(f"{n}: {format_shape(s)}" for n, s in self.first.shapes.items())
        lines = [f"f = {self.first.value_text}    ({shapes})", f"∂f/∂{x} = {self.first.text(x)}"]
        lines.append(
            f"∇²f·{v} = {self.text()}    ({v}: a direction, of shape {format_shape(self.direction.shape)})"
        )
        if self.hessian is not None:
            lines.append(f"∂²f/∂{x}² = {self.hessian_text()}")
        where = self.where()
        if where:
            lines.append(
                "where " + ", ".join(f"{printing.Style(latex=False).name(n)} = {d}" for n, d in where)
            )
        if self.proof is None:
            lines.append("not proven (prove=False)")
        else:
            lines.append(self.proof.summary())
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "expression": self.expression,
            "value": self.first.value_text,
            "wrt": self.wrt,
            "direction": {"name": self.direction.name, "shape": list(self.direction.shape)},
            "gradient": self.first.text(self.wrt),
            "hvp": {"text": self.text(), "latex": self.latex()},
            "hessian": None
            if self.hessian is None
            else {"text": self.hessian_text(), "latex": self.hessian_latex()},
            "where": [{"name": n, "text": d} for n, d in self.where()],
            "proven": self.proven,
            "proof": None if self.proof is None else self.proof.summary(),
            "numpy": self.code.source,
            "hessian_numpy": None if self.hessian_code is None else self.hessian_code.source,
        }


def _direction_name(taken: Sequence[str]) -> str:
    name, index = "V", 1
    while name in taken:
        index += 1
        name = f"V{index}"
    return name


def derive_second(first: Any, *, prove: bool, timeout: float | None, memory: int) -> SecondDerivation:
    """The second-order derivation on top of ``first``, a gradient derivation for one name."""
    from matgrad.engine.derivation import Derivation, derive_then_prove

    assert isinstance(first, Derivation)
    if len(first.wrt) != 1:
        raise ExpressionError(
            f"a second derivative is taken with respect to one name; got {', '.join(first.wrt)} "
            "(pass --wrt NAME, or wrt='NAME')"
        )
    (x,) = first.wrt
    if first.variables[x].structure:
        raise ExpressionError(
            f"a second derivative with respect to {x}, declared {first.variables[x].structure}, is not "
            "supported: its Hessian acts on symmetric directions only; declare it without the structure"
        )
    return derive_then_prove(
        lambda start: _derive(first, start),
        _prove,
        prove=prove,
        timeout=timeout,
        memory=memory,
        subject="the second derivative",
    )


def _derive(first: Any, start: float) -> SecondDerivation:
    (x,) = first.wrt
    gradient = first.gradients[x]
    variable = first.variables[x]
    direction = Var(_direction_name(list(first.variables)), variable.shape)
    inner = Sum(Mul((gradient, direction)))  # ⟨∇f, V⟩
    hvp = differentiate(inner, [x]).gradients[x]
    vector = len(variable.shape) == 1 or (len(variable.shape) == 2 and variable.shape[1] == 1)
    found = matrix_of(hvp, direction) if vector else None
    hessian = None if found is None else Simplifier()(found)
    roots = [hvp] if hessian is None else [hvp, hessian]
    arguments = [*first.variables.values(), direction]
    names = display_names(first.value, roots, [v.name for v in arguments])
    docstring = f"Generated by matgrad.engine: f = {first.value_text} and its ∇²f·{direction.name}"
    code = generate(
        first.value, {x: hvp}, arguments, names=names, function_name="value_and_hvp", docstring=docstring
    )
    hessian_code = None
    if hessian is not None:
        hessian_code = generate(
            first.value,
            {x: hessian},
            list(first.variables.values()),
            names=names,
            function_name="value_and_hessian",
            docstring=f"Generated by matgrad.engine: f = {first.value_text} and its Hessian in {x}",
        )
    return SecondDerivation(
        first=first,
        wrt=x,
        direction=direction,
        hvp=hvp,
        hessian=hessian,
        names=names,
        code=code,
        hessian_code=hessian_code,
        proof=None,
        seconds=time.perf_counter() - start,
    )


def _prove(second: SecondDerivation, seed: int = 0) -> SecondProof:
    from matgrad.engine.to_sympy import to_sympy  # sympy loads here, when a proof runs
    from matgrad.symbolic import check_function
    from matgrad.testing import check_gradients

    first, x, v = second.first, second.wrt, second.direction.name
    tree = first.tree
    original = list(first.variables)
    arguments = [*first.variables.values(), second.direction]

    def directional(**arrays: Array) -> Any:
        """Σᵢ Vᵢ ∂f/∂xᵢ, with sympy's own derivative of the parsed expression."""
        import sympy

        value = to_sympy(tree, {name: arrays[name] for name in original})
        value = value[()] if isinstance(value, np.ndarray) else value
        return sympy.Add(
            *(sympy.diff(value, s) * d for s, d in zip(arrays[x].flat, arrays[v].flat, strict=True))
        )

    hvp_function = second.code.compile()
    candidates: dict[str, Callable[..., Any]] = {"hvp": lambda **a: hvp_function(**a)[1][x]}
    if second.hessian_code is not None:
        hessian_function = second.hessian_code.compile()

        def hessian_times_direction(**a: Array) -> Array:
            M = hessian_function(**{name: a[name] for name in original})[1][x]
            column = a[v].reshape(-1)
            product: Array = (M @ column).reshape(a[v].shape)
            return product

        candidates["hessian"] = hessian_times_direction
    symbolic_shapes = concrete_shapes(arguments, [SYMBOLIC_SIZES[i % 2] for i in range(2 * len(arguments))])
    symmetric = [var.name for var in first.variables.values() if var.structure]
    symbolic = {
        what: check_function(directional, fn, symbolic_shapes, x, symmetric=symmetric)
        for what, fn in candidates.items()
    }

    # Numerically: H·V against central differences of ⟨∇f, V⟩ from the proven gradient code.
    gradient_function = first.code.compile()
    numeric_shapes = concrete_shapes(
        arguments, range(NUMERIC_SIZES_FROM, NUMERIC_SIZES_FROM + 2 * len(arguments))
    )
    rng = np.random.default_rng(seed)
    arrays = sample_arguments(tree, list(first.variables.values()), numeric_shapes, rng)
    arrays[v] = rng.standard_normal(numeric_shapes[v])

    def inner(**a: Array) -> Any:
        gradient = gradient_function(**{name: a[name] for name in original})[1][x]
        return float(np.sum(gradient * a[v]))

    with np.errstate(all="ignore"):
        finite = bool(np.all(np.isfinite(hvp_function(**arrays)[1][x])))
    if not finite:
        return SecondProof(symbolic, None, "H·V is not finite at the sampled arguments")
    report = check_gradients(inner, lambda **a: {x: hvp_function(**a)[1][x]}, arrays, wrt=(x,))
    return SecondProof(symbolic, report, "")
