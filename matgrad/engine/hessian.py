"""The Hessian matrix of a vector argument, read off its Hessian-vector product.

For a vector x (shape (n,) or (n, 1)) the engine first derives the Hessian-vector product
H·V, the gradient of ⟨∇f, V⟩ with V a new argument of x's shape. H·V is linear in V;
the table :data:`LINEAR_MAP` finds, node type by node type, the matrix M with
expression = M·V: V itself is I, a product A·B·E is A·B·M_E, an elementwise product
s ⊙ E with a vector s is diag(s)·M_E, a sum is the sum. So the logistic loss's
Xᵀ((XV) ⊙ σ ⊙ (1 − σ)) reads Xᵀ diag(σ ⊙ (1 − σ)) X. An expression that the table cannot
read (V inside a nonlinear function, a reduction, …) has no matrix form here: the
Hessian-vector product stands alone.
"""

from __future__ import annotations

from collections.abc import Callable

from matgrad.engine.nodes import (
    Add,
    Apply,
    Const,
    Det,
    Diag,
    Diagonal,
    Identity,
    Inverse,
    LogDet,
    LogSumExp,
    MatMul,
    Mul,
    Node,
    Outer,
    Power,
    RuleTable,
    Size,
    Softmax,
    SqNorm,
    Sum,
    Trace,
    Transpose,
    Var,
    walk,
)
from matgrad.engine.shapes import shape_of

LinearRule = Callable[[Node, Var], Node | None]
LINEAR_MAP: RuleTable[LinearRule] = RuleTable("linear map")
linear = LINEAR_MAP.register


def matrix_of(expression: Node, direction: Var) -> Node | None:
    """M with ``expression`` = M·V for the column ``direction`` V, or None if not of that form."""
    if direction not in walk(expression):
        return None
    return LINEAR_MAP[type(expression)](expression, direction)


def _is_vector(node: Node) -> bool:
    shape = shape_of(node)
    return len(shape) == 1 or (len(shape) == 2 and shape[1] == 1)


@linear(Var)
def _var(node: Node, direction: Var) -> Node | None:
    return Identity(direction.shape[0]) if node == direction else None


@linear(Add)
def _add(node: Node, direction: Var) -> Node | None:
    assert isinstance(node, Add)
    parts = [matrix_of(term, direction) for term in node.terms]
    return None if any(p is None for p in parts) else Add(tuple(p for p in parts if p is not None))


@linear(Mul)
def _mul(node: Node, direction: Var) -> Node | None:
    """c·E is c·M_E; s ⊙ E with s a vector of V's length is diag(s)·M_E."""
    assert isinstance(node, Mul)
    moving = [f for f in node.factors if direction in walk(f)]
    if len(moving) != 1:
        return None
    inner = matrix_of(moving[0], direction)
    if inner is None:
        return None
    others = [f for f in node.factors if f is not moving[0]]
    scalars = [f for f in others if shape_of(f) == ()]
    vectors = [f for f in others if shape_of(f) != ()]
    if any(not _is_vector(v) or shape_of(v) != shape_of(node) for v in vectors):
        return None
    matrix: Node = inner
    if vectors:
        scale = vectors[0] if len(vectors) == 1 else Mul(tuple(vectors))
        if len(shape_of(scale)) == 2:  # an (n, 1) column: its entries as a 1-D vector
            scale = Sum(scale, axis=1)
        matrix = MatMul((Diag(scale), inner))
    return Mul((*scalars, matrix)) if scalars else matrix


@linear(MatMul)
def _matmul(node: Node, direction: Var) -> Node | None:
    """A₁⋯Aₖ₋₁·E is A₁⋯Aₖ₋₁·M_E when only the last factor moves."""
    assert isinstance(node, MatMul)
    *fixed, last = node.factors
    if any(direction in walk(f) for f in fixed):
        return None
    inner = matrix_of(last, direction)
    return None if inner is None else MatMul((*fixed, inner))


@linear(Transpose)
def _transpose(node: Node, direction: Var) -> Node | None:
    """(Vᵀ·A)ᵀ = Aᵀ·V, the only transposed form a column-vector product takes here."""
    assert isinstance(node, Transpose)
    inner = node.arg
    if isinstance(inner, MatMul) and inner.factors and inner.factors[0] == Transpose(direction):
        rest = inner.factors[1:]
        if any(direction in walk(f) for f in rest):
            return None
        reversed_rest = tuple(Transpose(f) for f in reversed(rest))
        return reversed_rest[0] if len(reversed_rest) == 1 else MatMul(reversed_rest)
    return None


@linear(Const, Identity, Apply, Power, Sum, Trace, SqNorm, Outer, Diag, Det, LogDet, Inverse, Diagonal, Size)
@linear(LogSumExp, Softmax)
def _not_linear(node: Node, direction: Var) -> Node | None:
    return None  # V inside a function, a power or a reduction: no matrix form here
