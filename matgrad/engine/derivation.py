"""``derive``: parse, differentiate, simplify, name, generate code and prove, in one call."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from matgrad.budget import BudgetExceeded, run_within_budget
from matgrad.engine import latex as printing
from matgrad.engine import proof as proofs
from matgrad.engine import steps
from matgrad.engine.bindings import display_names
from matgrad.engine.codegen import GeneratedCode, generate
from matgrad.engine.differentiate import Step, differentiate
from matgrad.engine.errors import ProofFailure, TooComplexError, UnknownNameError
from matgrad.engine.nodes import Dim, Node, Var, variables
from matgrad.engine.parser import parse
from matgrad.engine.proof import Proof
from matgrad.engine.shapes import format_shape

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

DEFAULT_TIMEOUT = 8.0
"""Seconds :func:`derive` may spend in all, deriving and then proving (what the derivation
leaves): with the interpreter's start, ``matgrad derive`` answers or refuses within 10 s."""
MEMORY = 500 * 2**20
"""Bytes of memory the derivation, and again its proofs, may allocate."""

#: A derivation dataclass (first or second order) on its way through :func:`derive_then_prove`.
Derived = TypeVar("Derived", bound="DataclassInstance")


@dataclass(frozen=True)
class Derivation:
    """A derived, simplified and (unless ``prove=False``) proven set of gradients.

    ``gradients[name]`` is the closed form of ∂f/∂name as an expression tree; ``names``
    maps the shared intermediates to the names they print as (S, R, Δ, …).
    """

    expression: str
    tree: Node
    value: Node
    variables: dict[str, Var]
    wrt: tuple[str, ...]
    gradients: dict[str, Node]
    names: dict[Node, str]
    steps: tuple[Step, ...]
    code: GeneratedCode
    proof: Proof | None
    seconds: float

    @property
    def shapes(self) -> dict[str, tuple[Dim, ...]]:
        return {name: var.shape for name, var in self.variables.items()}

    def _names_except(self, node: Node) -> dict[Node, str]:
        return {n: name for n, name in self.names.items() if n != node}

    def text(self, name: str) -> str:
        """∂f/∂name as plain text, e.g. ``2Xᵀ(XW + b)``."""
        return printing.text(self.gradients[name], self.names)

    def latex(self, name: str) -> str:
        """∂f/∂name as LaTeX."""
        return printing.latex(self.gradients[name], self.names)

    @property
    def value_text(self) -> str:
        return printing.text(self.tree)

    @property
    def value_latex(self) -> str:
        return printing.latex(self.tree)

    def where(
        self, style: Callable[[Node, Mapping[Node, str] | None], str] = printing.text
    ) -> list[tuple[str, str]]:
        """The named intermediates, (name, definition), in the order they are defined."""
        return [(name, style(node, self._names_except(node))) for node, name in self.names.items()]

    def where_latex(self) -> list[tuple[str, str]]:
        """:meth:`where` in LaTeX, names included (``\\Delta``)."""
        style = printing.Style(latex=True)
        return [(style.name(n), d) for n, d in self.where(printing.latex)]

    @cached_property
    def function(self) -> Callable[..., tuple[Any, dict[str, Any]]]:
        """The generated numpy function: ``(*arguments) -> (value, {name: gradient})``."""
        return self.code.compile()

    def steps_markdown(self) -> str:
        """The derivation in differentials, one step per rule (Markdown with LaTeX)."""
        return steps.markdown(
            self.value_latex, self.value, self.steps, self.gradients, self.names, self.where_latex()
        )

    @property
    def numpy_source(self) -> str:
        return self.code.source

    @property
    def proven(self) -> bool | None:
        """True if both proofs hold, None if no proof was run."""
        return None if self.proof is None else self.proof.proven

    def __str__(self) -> str:
        shapes = ", ".join(
            f"{n}: {format_shape(v.shape)}" + (f" {v.structure}" if v.structure else "")
            for n, v in self.variables.items()
        )
        lines = [f"f = {self.value_text}    ({shapes})"]
        lines += [f"∂f/∂{name} = {self.text(name)}" for name in self.wrt]
        lines += [
            f"(∂f/∂{n} is the symmetric G with df = tr(Gᵀ d{n}) for every symmetric d{n}; "
            "see derivations/symmetric.md)"
            for n in self.wrt
            if self.variables[n].structure
        ]
        where = self.where()
        if where:
            lines.append("where " + ", ".join(f"{text_name(n)} = {d}" for n, d in where))
        lines.append(self.proof.summary() if self.proof is not None else "not proven (prove=False)")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "expression": self.expression,
            "value": self.value_text,
            "value_latex": self.value_latex,
            "shapes": {n: list(s) for n, s in self.shapes.items()},
            "gradients": {name: {"text": self.text(name), "latex": self.latex(name)} for name in self.wrt},
            "where": [{"name": text_name(n), "text": d} for n, d in self.where()],
            "where_latex": [{"name": n, "latex": d} for n, d in self.where_latex()],
            "proven": self.proven,
            "proof": None if self.proof is None else self.proof.summary(),
            "numpy": self.numpy_source,
        }


def text_name(name: str) -> str:
    """How a binding name prints in text (``Delta`` → Δ)."""
    return printing.Style(latex=False).name(name)


Shapes = Mapping[str, str | Sequence[Dim]]


def derive(
    expression: str,
    wrt: str | Sequence[str] | None = None,
    shapes: Shapes | None = None,
    *,
    prove: bool = True,
    timeout: float | None = DEFAULT_TIMEOUT,
    order: int = 1,
) -> Any:
    """Closed-form gradients of a scalar matrix expression, simplified, with code and proof.

    Parameters
    ----------
    expression
        numpy-flavoured text, e.g. ``"sqnorm(X @ W + b)"`` (grammar: :mod:`matgrad.engine.parser`).
    wrt
        The names to differentiate with respect to: one name, ``"W,b"``, a sequence, or
        None for every name.
    shapes
        Each name's shape, e.g. ``{"X": "n,k", "W": "k,m", "b": "m"}`` or ``{"X": "10x4"}``;
        None infers them (every name is then a matrix).
    prove
        Run the symbolic and numeric proofs (default). A derivation that fails them
        raises :class:`~matgrad.engine.errors.ProofFailure` instead of being returned.
    order
        1 (default): the gradients, a :class:`Derivation`. 2: the second derivative with
        respect to the one name in ``wrt``, a
        :class:`~matgrad.engine.second_order.SecondDerivation`: the Hessian-vector
        product ∇²f·V in closed form (V a new argument of the name's shape) and, for a
        vector, the Hessian matrix (e.g. Xᵀ diag(σ ⊙ (1 − σ)) X), each proven; the
        gradient it builds on is derived and proven first.
    timeout
        Seconds for the derivation and its proofs together (default 8; None: no
        limit); with ``order=2``, that many again for the second derivative. Each
        runs in a child process with 500 MB of memory beyond what this process holds;
        past the time or either memory budget, :class:`~matgrad.engine.errors.TooComplexError`
        says which one (an answer whose proof ran out of budget is never returned as
        proven: ``prove=False`` returns it unproven).

    Raises
    ------
    ExpressionSyntaxError, NestingError, UnknownNameError, ShapeError, ProofFailure, TooComplexError
        All subclasses of :class:`~matgrad.engine.errors.ExpressionError` (a ValueError).
    TypeError
        ``expression`` is not a string, ``wrt`` not a string or sequence of strings, or
        ``shapes`` not a mapping from names to shape strings or sequences of sizes.

    Examples
    --------
    >>> d = derive("sqnorm(X @ W + b)", "W", {"X": "n,k", "W": "k,m", "b": "m"}, prove=False)
    >>> d.text("W")
    '2Xᵀ(XW + b)'
    >>> h = derive("sqnorm(A @ x - b)", "x", {"A": "m,n", "x": "n", "b": "m"}, order=2, prove=False)
    >>> h.text(), h.hessian_text()
    ('2AᵀAV', '2AᵀA')
    """
    if order not in (1, 2) or isinstance(order, bool):
        raise ValueError(f"order must be 1 (gradients) or 2 (Hessian-vector product, Hessian); got {order!r}")
    if order == 2:
        from matgrad.engine.second_order import derive_second

        first = derive(expression, wrt, shapes, prove=prove, timeout=timeout)
        return derive_second(first, prove=prove, timeout=timeout, memory=MEMORY)
    _check_types(expression, wrt, shapes)
    return derive_then_prove(
        lambda start: _derive(expression, wrt, shapes, start),
        lambda unproven: proofs.prove(
            unproven.tree, list(unproven.variables.values()), unproven.code, unproven.wrt
        ),
        prove=prove,
        timeout=timeout,
        memory=MEMORY,
        subject="the derivation",
        derived=repr(expression.strip()[:60]),
    )


def derive_then_prove(
    derive_unproven: Callable[[float], Derived],
    prove_it: Callable[[Derived], Any],
    *,
    prove: bool,
    timeout: float | None,
    memory: int,
    subject: str,
    derived: str | None = None,
) -> Derived:
    """Derive, then prove what was derived, both within one time budget; every derivation's pipeline.

    ``derive_unproven(start)`` makes the dataclass with ``proof=None`` (``start`` for its
    seconds), ``prove_it`` proves it (a proof with ``proven`` and ``summary()``). Out of
    budget: TooComplexError naming ``derived`` (what was derived, default ``subject``) or
    ``subject``; a failed proof: ProofFailure.
    """
    start = time.perf_counter()
    try:
        unproven = run_within_budget(lambda: derive_unproven(start), seconds=timeout, memory=memory)
    except BudgetExceeded as error:
        raise TooComplexError(f"{derived or subject} is too complex to derive: {error}") from None
    if not prove:
        return unproven
    remaining = None if timeout is None else max(0.0, timeout - (time.perf_counter() - start))
    try:
        proof = run_within_budget(lambda: prove_it(unproven), seconds=remaining, memory=memory)
    except BudgetExceeded as error:
        raise TooComplexError(
            f"{subject} is too complex to prove ({error}); the answer is unproven: use prove=False "
            "(matgrad derive --no-proof) to see it, or a larger timeout"
        ) from None
    derivation = replace(unproven, proof=proof)
    if not proof.proven:
        raise ProofFailure(
            f"{subject} failed its own proof, so it is not an answer:\n" + proof.summary(),
            derivation,
            proof,
        )
    return derivation


def _check_types(expression: object, wrt: object, shapes: object) -> None:
    if not isinstance(expression, str):
        raise TypeError(
            f"expression must be a string such as 'sqnorm(X @ W)'; got {type(expression).__name__}"
        )
    if (wrt is not None and not isinstance(wrt, str)) and (
        not isinstance(wrt, Sequence) or not all(isinstance(n, str) for n in wrt)
    ):
        raise TypeError(f"wrt must be a name, 'W,b', a sequence of names or None; got {wrt!r}")
    if shapes is None:
        return
    if not isinstance(shapes, Mapping):
        raise TypeError(
            f"shapes must be a mapping such as {{'X': 'n,k'}}; got {type(shapes).__name__} {shapes!r}"
        )
    for name, spec in shapes.items():
        if not isinstance(name, str):
            raise TypeError(f"shapes' keys must be names (strings); got {name!r}")
        if not isinstance(spec, str | Sequence) or (
            not isinstance(spec, str) and not all(isinstance(d, int | str) for d in spec)
        ):
            raise TypeError(
                f"the shape of {name} must be a string such as 'n,k' or a sequence of sizes; got {spec!r}"
            )


def _derive(
    expression: str, wrt: str | Sequence[str] | None, shapes: Shapes | None, start: float
) -> Derivation:
    parsed = parse(expression, shapes)
    found = variables(parsed.tree)
    requested = _resolve_wrt(wrt, found, expression)
    result = differentiate(parsed.tree, requested)
    names = display_names(result.value, list(result.gradients.values()), found)
    code = generate(
        result.value,
        result.gradients,
        list(found.values()),
        names=names,
        docstring=f"Generated by matgrad.engine for f = {printing.text(parsed.tree)}",
    )
    return Derivation(
        expression=expression,
        tree=parsed.tree,
        value=result.value,
        variables=found,
        wrt=requested,
        gradients=result.gradients,
        names=names,
        steps=result.steps,
        code=code,
        proof=None,
        seconds=time.perf_counter() - start,
    )


def _resolve_wrt(
    wrt: str | Sequence[str] | None, found: Mapping[str, Var], expression: str
) -> tuple[str, ...]:
    if not found:
        raise UnknownNameError(f"{expression.strip()!r} has no names to differentiate with respect to")
    if wrt is None:
        return tuple(found)
    names = [n.strip() for n in wrt.split(",")] if isinstance(wrt, str) else [str(n) for n in wrt]
    unknown = [n for n in names if n not in found]
    if unknown or not names:
        raise UnknownNameError(
            f"cannot differentiate with respect to {', '.join(unknown) or 'nothing'}: "
            f"the names in {expression.strip()!r} are {', '.join(found)}"
        )
    return tuple(dict.fromkeys(names))
