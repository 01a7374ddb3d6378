"""The closed set of expression nodes of the derivation engine.

Every expression, the user's and every derived gradient, is a tree of these frozen,
hashable dataclasses. Structurally equal subtrees are equal and hash alike, so a
subexpression that occurs twice is one key in a dict: reverse mode accumulates its
adjoint once and the code generator computes it once. The nodes carry data only; each
operation on them (shapes, differentiation, simplification, LaTeX, numpy code, sympy)
is one table of per-type rules in its own module.

Shapes follow numpy: ``()`` is a scalar, ``(m,)`` a 1-D vector, ``(n, m)`` a matrix.
A dimension is a concrete size (int) or a symbolic size (str, e.g. ``"n"``).
"""

from __future__ import annotations

from collections.abc import Callable, Container
from dataclasses import dataclass, field, fields
from fractions import Fraction
from typing import Generic, TypeVar

from matgrad.engine.errors import MAX_NUMBER_BITS, TooComplexError

Dim = int | str
Shape = tuple[Dim, ...]

#: Elementwise functions of the language, and ``step`` (relu′, produced by differentiation).
FUNCTIONS: tuple[str, ...] = (
    "sigmoid", "tanh", "exp", "log", "relu", "softplus",
    "abs", "sign", "sqrt", "sin", "cos", "tan", "arcsin", "arccos", "arctan",
)  # fmt: skip
INTERNAL_FUNCTIONS: tuple[str, ...] = ("step",)
#: Declarable structures of a square matrix argument (``A=n,n:symmetric``).
STRUCTURES: tuple[str, ...] = ("symmetric", "spd")


@dataclass(frozen=True)
class Node:
    """Base of every node; the hash is computed once, at construction."""

    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        values = tuple(getattr(self, f.name) for f in fields(self) if f.compare)
        object.__setattr__(self, "_hash", hash((type(self).__name__, values)))

    def __hash__(self) -> int:
        return self._hash


@dataclass(frozen=True)
class Var(Node):
    """A named argument of the expression, of a declared or inferred shape."""

    name: str
    shape: Shape
    structure: str = ""
    """"" (none), "symmetric" or "spd" (symmetric positive definite): see :data:`STRUCTURES`."""


def _check_size(value: Fraction, what: str) -> None:
    """Refuse numbers that would make the derivation's arithmetic (and printing) explode."""
    if max(abs(value.numerator), value.denominator).bit_length() > MAX_NUMBER_BITS:
        raise TooComplexError(
            f"{what} of more than {MAX_NUMBER_BITS} bits arises (e.g. from repeated powers): too large"
        )


@dataclass(frozen=True)
class Const(Node):
    """A constant array: every entry equals ``value`` (a scalar when ``shape == ()``)."""

    value: Fraction
    shape: Shape = ()

    def __post_init__(self) -> None:
        _check_size(self.value, "a constant")
        super().__post_init__()


@dataclass(frozen=True)
class Add(Node):
    """Σ terms, elementwise with numpy broadcasting."""

    terms: tuple[Node, ...]


@dataclass(frozen=True)
class Mul(Node):
    """⊙ factors, elementwise with numpy broadcasting (scalar factors scale)."""

    factors: tuple[Node, ...]


@dataclass(frozen=True)
class MatMul(Node):
    """factors[0] @ factors[1] @ …; only the first and last factor may be 1-D."""

    factors: tuple[Node, ...]


@dataclass(frozen=True)
class Transpose(Node):
    """argᵀ (numpy ``.T``)."""

    arg: Node


@dataclass(frozen=True)
class Power(Node):
    """arg raised elementwise to a constant exponent (numpy ``**``)."""

    base: Node
    exponent: Fraction

    def __post_init__(self) -> None:
        _check_size(self.exponent, "an exponent")
        super().__post_init__()


@dataclass(frozen=True)
class Apply(Node):
    """An elementwise function of :data:`FUNCTIONS` or :data:`INTERNAL_FUNCTIONS`."""

    function: str
    arg: Node


@dataclass(frozen=True)
class Sum(Node):
    """arg summed over ``axis`` (None: every entry), as numpy's ``sum(axis, keepdims)``."""

    arg: Node
    axis: int | None = None
    keepdims: bool = False


@dataclass(frozen=True)
class Trace(Node):
    """tr(arg) of a square matrix."""

    arg: Node


@dataclass(frozen=True)
class SqNorm(Node):
    """‖arg‖²_F = Σ arg² (no conjugation: the holomorphic extension)."""

    arg: Node


@dataclass(frozen=True)
class Outer(Node):
    """left rightᵀ for 1-D left and right (numpy ``outer``)."""

    left: Node
    right: Node


@dataclass(frozen=True)
class Identity(Node):
    """The identity matrix I of size ``dim``."""

    dim: Dim


@dataclass(frozen=True)
class Diag(Node):
    """diag(arg): the square matrix with the 1-D ``arg`` on its diagonal (a Hessian's middle factor)."""

    arg: Node


@dataclass(frozen=True)
class Det(Node):
    """det(arg) of a square matrix."""

    arg: Node


@dataclass(frozen=True)
class LogDet(Node):
    """log det(arg) of a square matrix with a positive determinant."""

    arg: Node


@dataclass(frozen=True)
class Inverse(Node):
    """arg⁻¹ of a square, invertible matrix."""

    arg: Node


@dataclass(frozen=True)
class Diagonal(Node):
    """The diagonal of the square matrix ``arg``, a 1-D vector (numpy ``diagonal``)."""

    arg: Node


@dataclass(frozen=True)
class Size(Node):
    """The size ``dim`` as a scalar (the n of ``mean``'s 1/n), read from an argument's shape."""

    dim: Dim


@dataclass(frozen=True)
class LogSumExp(Node):
    """log Σ exp(arg) over ``axis`` (None: every entry), as ``Sum``'s axis and keepdims; computed stably."""

    arg: Node
    axis: int | None = None
    keepdims: bool = False


@dataclass(frozen=True)
class Softmax(Node):
    """exp(arg) / Σ exp(arg) over ``axis`` (None: every entry), of arg's shape; computed stably."""

    arg: Node
    axis: int | None = None


# A dataclass with eq and frozen generates a field-wise __hash__ in every subclass, which
# would rehash whole subtrees at each dict lookup; all nodes use the cached one instead.
NODE_TYPES: tuple[type[Node], ...] = (
    Var,
    Const,
    Add,
    Mul,
    MatMul,
    Transpose,
    Power,
    Apply,
    Sum,
    Trace,
    SqNorm,
    Outer,
    Identity,
    Diag,
    Det,
    LogDet,
    Inverse,
    Diagonal,
    Size,
    LogSumExp,
    Softmax,
)
for _node_type in NODE_TYPES:
    _node_type.__hash__ = Node.__hash__  # type: ignore[method-assign]


def children(node: Node) -> tuple[Node, ...]:
    """The direct subexpressions of ``node``, in order."""
    if isinstance(node, Add):
        return node.terms
    if isinstance(node, Mul | MatMul):
        return node.factors
    if isinstance(
        node,
        Transpose
        | Apply
        | Sum
        | Trace
        | SqNorm
        | Diag
        | Det
        | LogDet
        | Inverse
        | Diagonal
        | LogSumExp
        | Softmax,
    ):
        return (node.arg,)
    if isinstance(node, Power):
        return (node.base,)
    if isinstance(node, Outer):
        return (node.left, node.right)
    return ()


def with_children(node: Node, new: tuple[Node, ...]) -> Node:
    """``node`` with its children replaced by ``new`` (same count, same order)."""
    if isinstance(node, Add):
        return Add(terms=new)
    if isinstance(node, Mul):
        return Mul(factors=new)
    if isinstance(node, MatMul):
        return MatMul(factors=new)
    if isinstance(node, Transpose):
        return Transpose(new[0])
    if isinstance(node, Apply):
        return Apply(node.function, new[0])
    if isinstance(node, Sum):
        return Sum(new[0], node.axis, node.keepdims)
    if isinstance(node, Trace):
        return Trace(new[0])
    if isinstance(node, SqNorm):
        return SqNorm(new[0])
    if isinstance(node, Power):
        return Power(new[0], node.exponent)
    if isinstance(node, Outer):
        return Outer(new[0], new[1])
    if isinstance(node, Diag | Det | LogDet | Inverse | Diagonal):
        return type(node)(new[0])
    if isinstance(node, LogSumExp):
        return LogSumExp(new[0], node.axis, node.keepdims)
    if isinstance(node, Softmax):
        return Softmax(new[0], node.axis)
    return node


def walk(root: Node, stop: Container[Node] = ()) -> list[Node]:
    """Every distinct node under ``root`` (itself included), children before parents.

    Nodes in ``stop`` are listed but not descended into.
    """
    order: list[Node] = []
    seen: set[Node] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if node in seen:
            continue
        seen.add(node)
        stack.append((node, True))
        if node in stop:
            continue
        stack.extend((child, False) for child in reversed(children(node)) if child not in seen)
    return order


def variables(root: Node) -> dict[str, Var]:
    """The variables of ``root`` by name, in order of first appearance (left to right)."""
    found: dict[str, Var] = {}
    for node in walk(root):
        if isinstance(node, Var):
            found.setdefault(node.name, node)
    return found


def depth(root: Node) -> int:
    """The number of nodes on the longest path from ``root`` to a leaf."""
    levels: dict[Node, int] = {}
    for node in walk(root):
        levels[node] = 1 + max((levels[c] for c in children(node)), default=0)
    return levels[root]


def size(root: Node) -> int:
    """The number of nodes of ``root`` written out as a tree (shared subtrees counted each time)."""
    counts: dict[Node, int] = {}
    for node in walk(root):
        counts[node] = 1 + sum(counts[c] for c in children(node))
    return counts[root]


R = TypeVar("R")


class RuleTable(Generic[R]):
    """One operation's rules, one per node type (an operation is a table, not methods)."""

    def __init__(self, operation: str):
        self.operation = operation
        self.rules: dict[type[Node], R] = {}

    def register(self, *kinds: type[Node]) -> Callable[[R], R]:
        """Decorator: the function is the rule for each of ``kinds``."""

        def add(rule: R) -> R:
            for kind in kinds:
                self.rules[kind] = rule
            return rule

        return add

    def __getitem__(self, kind: type[Node]) -> R:
        try:
            return self.rules[kind]
        except KeyError:
            raise TypeError(f"no {self.operation} rule for {kind.__name__}") from None

    def missing(self) -> list[str]:
        """Node types without a rule (empty for a complete table)."""
        return [kind.__name__ for kind in NODE_TYPES if kind not in self.rules]
