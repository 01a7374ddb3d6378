"""Reverse-mode differentiation over the expression tree, in closed form.

For a scalar f and each node N, the adjoint N̄ = ∂f/∂N (shape of N) is itself an
expression. Starting from f̄ = 1, each node's rule (the table :data:`VJP`) turns N̄ into
the contributions ⟨N̄, dN⟩ = Σᵢ ⟨cᵢ, dchildᵢ⟩ to its children's adjoints; a child
used several times sums its contributions. Subexpressions that occur twice are one
dict key (the nodes are structural values), so each adjoint is accumulated once.

Broadcasting is undone explicitly: the contribution to a row ``b`` of shape (m,) or
(1,m) added to an (n,m) matrix is the adjoint summed over rows, ``1ₙᵀN̄``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

from matgrad.engine.errors import ShapeError
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
    Shape,
    Size,
    Softmax,
    SqNorm,
    Sum,
    Trace,
    Transpose,
    Var,
    children,
    walk,
)
from matgrad.engine.shapes import format_shape, shape_of
from matgrad.engine.simplify import Simplifier, over_common_denominator

ONE = Fraction(1)


@dataclass(frozen=True)
class Step:
    """One application of a rule: ⟨adjoint, d node⟩ = Σ ⟨contribution, d child⟩."""

    node: Node
    adjoint: Node
    contributions: tuple[tuple[Node, Node], ...]  # (child, its contribution), simplified


@dataclass(frozen=True)
class Gradients:
    """The simplified value, the simplified gradient of every requested name, and the steps."""

    value: Node
    gradients: dict[str, Node]
    steps: tuple[Step, ...]


def differentiate(value: Node, wrt: Sequence[str]) -> Gradients:
    """∂value/∂name for each name in ``wrt``, simplified; ``value`` must be a scalar.

    >>> from matgrad.engine.parser import parse
    >>> from matgrad.engine.latex import text
    >>> tree = parse("sqnorm(X @ W + b)", {"X": "n,k", "W": "k,m", "b": "m"}).tree
    >>> result = differentiate(tree, ["W", "b"])
    >>> {name: text(g) for name, g in result.gradients.items()}
    {'W': '2Xᵀ(XW + b)', 'b': '2·1ₙᵀ(XW + b)'}
    """
    if shape_of(value) != ():
        shape = shape_of(value)
        hint = (
            "; a 1×1 matrix is not a scalar here: declare the column vectors 1-D (x=n, not x=n,1) "
            "or take sum(…) or trace(…)"
            if shape == (1, 1)
            else ""
        )
        raise ShapeError(f"the objective must be a scalar; it has shape {format_shape(shape)}{hint}")
    # Shapes of the names come from the tree as given: the simplified value may have lost
    # a name altogether (X − X = 0), whose gradient is then 0 of the name's shape.
    variables = {n.name: n for n in walk(value) if isinstance(n, Var)}
    value = Simplifier()(value)
    order = walk(value)
    keep = frozenset(n for n in order if isinstance(n, Add))
    simplify = Simplifier(keep)
    targets = {n for n in order if isinstance(n, Var) and n.name in wrt}
    depends: set[Node] = set()
    for node in order:
        if node in targets or any(c in depends for c in children(node)):
            depends.add(node)

    pending: dict[Node, list[Node]] = {value: [Const(ONE)]}
    adjoints: dict[Node, Node] = {}
    steps: list[Step] = []
    for node in reversed(order):
        if node not in depends or node not in pending:
            continue
        contributions = pending.pop(node)
        adjoint = simplify(contributions[0] if len(contributions) == 1 else Add(tuple(contributions)))
        adjoints[node] = adjoint
        kids = children(node)
        if not kids:
            continue
        needed = [c in depends for c in kids]
        made = []
        for index, contribution in VJP[type(node)](node, adjoint, needed):
            child = kids[index]
            contribution = simplify(contribution)
            made.append((child, contribution))
            pending.setdefault(child, []).append(contribution)
        steps.append(Step(node, adjoint, tuple(made)))

    gradients: dict[str, Node] = {}
    for name in wrt:
        var = variables.get(name)
        if var is None or var not in adjoints:
            shape = var.shape if var is not None else ()
            gradients[name] = Const(Fraction(0), shape)
        elif var.structure:
            gradients[name] = over_common_denominator(simplify(symmetric_part(adjoints[var])))
        else:
            gradients[name] = over_common_denominator(adjoints[var])
    return Gradients(value, gradients, tuple(steps))


def symmetric_part(G: Node) -> Node:
    """½(G + Gᵀ): the gradient on symmetric matrices for ⟨A, B⟩ = tr(AᵀB).

    For symmetric dA, ⟨G, dA⟩ = ⟨½(G + Gᵀ), dA⟩, and ½(G + Gᵀ) is itself symmetric, so
    it is the one symmetric matrix that represents df (see derivations/symmetric.md).
    """
    return Mul((Const(Fraction(1, 2)), Add((G, Transpose(G)))))


# ---------------------------------------------------------------------------------------
# Helpers for the rules.


def unbroadcast(G: Node, shape: Shape) -> Node:
    """G summed over the axes along which an operand of ``shape`` was broadcast."""
    current = shape_of(G)
    if current == shape:
        return G
    if shape == ():
        return Sum(G)
    result = G
    if len(current) == 2 and len(shape) == 1:
        result = Sum(result, axis=0)
        current = current[1:]
    if len(shape) == 1:
        return result if current == shape else Sum(result, axis=0, keepdims=True)
    rows, cols = shape[0] == 1 and current[0] != 1, shape[1] == 1 and current[1] != 1
    if rows and cols:
        return Sum(result, None, keepdims=True)
    return Sum(result, 0 if rows else 1, keepdims=True)


def matmul_vjp(G: Node, A: Node, B: Node, which: int) -> Node:
    """∂/∂A (which=0) or ∂/∂B (which=1) of ⟨G, A @ B⟩, for 2-D or 1-D A and B."""
    a, b = len(shape_of(A)), len(shape_of(B))
    if a == 2 and b == 2:
        return MatMul((G, Transpose(B))) if which == 0 else MatMul((Transpose(A), G))
    if a == 2 and b == 1:
        return Outer(G, B) if which == 0 else MatMul((Transpose(A), G))
    if a == 1 and b == 2:
        return MatMul((B, G)) if which == 0 else Outer(A, G)
    return Mul((G, B)) if which == 0 else Mul((G, A))


def _product(factors: Sequence[Node]) -> Node | None:
    return None if not factors else factors[0] if len(factors) == 1 else MatMul(tuple(factors))


# ---------------------------------------------------------------------------------------
# The rules: node, its adjoint G, which children are needed -> (child index, contribution).

Contributions = list[tuple[int, Node]]
VjpRule = Callable[[Node, Node, list[bool]], Contributions]
VJP: RuleTable[VjpRule] = RuleTable("differentiation")
vjp = VJP.register


@vjp(Var, Const, Identity, Size)
def _leaf(node: Node, G: Node, needed: list[bool]) -> Contributions:
    """A name or a constant passes nothing on: its adjoint is the result."""
    return []


@vjp(Add)
def _add(node: Node, G: Node, needed: list[bool]) -> Contributions:
    """d(Σ Tᵢ) = Σ dTᵢ; a broadcast term gets the adjoint summed back to its shape."""
    assert isinstance(node, Add)
    return [(i, unbroadcast(G, shape_of(t))) for i, t in enumerate(node.terms) if needed[i]]


@vjp(Mul)
def _mul(node: Node, G: Node, needed: list[bool]) -> Contributions:
    """d(A ⊙ B) = dA ⊙ B + A ⊙ dB, so ⟨G, dA ⊙ B⟩ = ⟨G ⊙ B, dA⟩."""
    assert isinstance(node, Mul)
    out = []
    for i, factor in enumerate(node.factors):
        if needed[i]:
            others = node.factors[:i] + node.factors[i + 1 :]
            out.append((i, unbroadcast(Mul((G, *others)), shape_of(factor))))
    return out


@vjp(MatMul)
def _matmul(node: Node, G: Node, needed: list[bool]) -> Contributions:
    """d(AB) = dA B + A dB, so ⟨G, dA B⟩ = ⟨GBᵀ, dA⟩ and ⟨G, A dB⟩ = ⟨AᵀG, dB⟩."""
    assert isinstance(node, MatMul)
    out = []
    factors = node.factors
    for i, factor in enumerate(factors):
        if not needed[i]:
            continue
        left, right = _product(factors[:i]), _product(factors[i + 1 :])
        middle = factor if right is None else MatMul((factor, right))
        G_middle = G if left is None else matmul_vjp(G, left, middle, 1)
        out.append((i, G_middle if right is None else matmul_vjp(G_middle, factor, right, 0)))
    return out


@vjp(Transpose)
def _transpose(node: Node, G: Node, needed: list[bool]) -> Contributions:
    """d(Aᵀ) = (dA)ᵀ, so ⟨G, dAᵀ⟩ = ⟨Gᵀ, dA⟩."""
    return [(0, Transpose(G))]


@vjp(Power)
def _power(node: Node, G: Node, needed: list[bool]) -> Contributions:
    """d(A^⊙p) = p A^⊙(p−1) ⊙ dA."""
    assert isinstance(node, Power)
    p = node.exponent
    return [(0, Mul((Const(p), G, Power(node.base, p - 1))))]


def _derivative(node: Apply) -> Node | None:
    """f′(H) for F = f(H), written with the saved value F where that is cheaper."""
    H, F = node.arg, node
    if node.function == "sigmoid":
        return Mul((F, Add((Const(ONE), Mul((Const(-ONE), F))))))
    if node.function == "tanh":
        return Add((Const(ONE), Mul((Const(-ONE), Power(F, Fraction(2))))))
    if node.function == "exp":
        return F
    if node.function == "log":
        return Power(H, -ONE)
    if node.function == "relu":
        return Apply("step", H)
    if node.function == "softplus":
        return Apply("sigmoid", H)
    half = Fraction(1, 2)
    derivatives: dict[str, Node] = {
        "abs": Apply("sign", H),
        "sqrt": Mul((Const(half), Power(F, -ONE))),
        "sin": Apply("cos", H),
        "cos": Mul((Const(-ONE), Apply("sin", H))),
        "tan": Add((Const(ONE), Power(F, Fraction(2)))),
        "arcsin": Power(Add((Const(ONE), Mul((Const(-ONE), Power(H, Fraction(2)))))), -half),
        "arccos": Mul(
            (Const(-ONE), Power(Add((Const(ONE), Mul((Const(-ONE), Power(H, Fraction(2)))))), -half))
        ),
        "arctan": Power(Add((Const(ONE), Power(H, Fraction(2)))), -ONE),
    }
    return derivatives.get(node.function)  # step, sign: constant almost everywhere


@vjp(Apply)
def _apply(node: Node, G: Node, needed: list[bool]) -> Contributions:
    """d f(H) = f′(H) ⊙ dH: σ′ = σ(1 − σ), tanh′ = 1 − tanh², exp′ = exp, log′ = 1/H, relu′ = step,
    abs′ = sign, sqrt′ = 1/(2√H), sin′ = cos, cos′ = −sin, tan′ = 1 + tan², arcsin′ = (1 − H²)^(−½),
    arccos′ = −(1 − H²)^(−½), arctan′ = 1/(1 + H²)."""
    assert isinstance(node, Apply)
    derivative = _derivative(node)
    return [] if derivative is None else [(0, Mul((G, derivative)))]


@vjp(Sum)
def _sum(node: Node, G: Node, needed: list[bool]) -> Contributions:
    """d sum(A) = sum(dA): the adjoint is broadcast back over the summed axes."""
    assert isinstance(node, Sum)
    return [(0, spread(G, node.arg, node.axis, node.keepdims))]


def spread(G: Node, A: Node, axis: int | None, keepdims: bool) -> Node:
    """G, the adjoint of a reduction of A over ``axis``, repeated along that axis to A's shape.

    A row reduction of an (n, k) matrix without keepdims has an (n,) adjoint: it is repeated
    as G1ₖᵀ (broadcasting the 1-D G would align it with the columns instead).
    """
    shape = shape_of(A)
    if shape_of(G) == shape:
        return G
    if axis == 1 and not keepdims and len(shape) == 2:
        return Outer(G, Const(ONE, shape[1:]))
    return Mul((G, Const(ONE, shape)))


@vjp(LogSumExp)
def _logsumexp(node: Node, G: Node, needed: list[bool]) -> Contributions:
    """d logsumexp(Z) = ⟨softmax(Z), dZ⟩ along the axis: the adjoint spread, times the softmax."""
    assert isinstance(node, LogSumExp)
    return [(0, Mul((spread(G, node.arg, node.axis, node.keepdims), Softmax(node.arg, node.axis))))]


@vjp(Softmax)
def _softmax(node: Node, G: Node, needed: list[bool]) -> Contributions:
    """d softmax(Z) = S ⊙ (dZ − Σ S ⊙ dZ), so the adjoint is S ⊙ (G − Σ G ⊙ S) along the axis."""
    assert isinstance(node, Softmax)
    keep = node.axis is not None
    inner = Sum(Mul((G, node)), node.axis, keepdims=keep)
    return [(0, Mul((node, Add((G, Mul((Const(-ONE), inner)))))))]


@vjp(Trace)
def _trace(node: Node, G: Node, needed: list[bool]) -> Contributions:
    """d tr(A) = tr(dA) = ⟨I, dA⟩."""
    assert isinstance(node, Trace)
    return [(0, Mul((G, Identity(shape_of(node.arg)[0]))))]


@vjp(Diag)
def _diag(node: Node, G: Node, needed: list[bool]) -> Contributions:
    """⟨G, diag(da)⟩ = ⟨diagonal of G, da⟩: G ⊙ I summed over each row."""
    assert isinstance(node, Diag)
    n = shape_of(node.arg)[0]
    return [(0, Sum(Mul((G, Identity(n))), axis=1))]


@vjp(SqNorm)
def _sqnorm(node: Node, G: Node, needed: list[bool]) -> Contributions:
    """d‖A‖²_F = 2⟨A, dA⟩."""
    assert isinstance(node, SqNorm)
    return [(0, Mul((Const(Fraction(2)), G, node.arg)))]


@vjp(Outer)
def _outer(node: Node, G: Node, needed: list[bool]) -> Contributions:
    """d(abᵀ) = da bᵀ + a dbᵀ, so the adjoints are Gb and Gᵀa."""
    assert isinstance(node, Outer)
    out: Contributions = []
    if needed[0]:
        out.append((0, MatMul((G, node.right))))
    if needed[1]:
        out.append((1, MatMul((Transpose(G), node.left))))
    return out


@vjp(Det)
def _det(node: Node, G: Node, needed: list[bool]) -> Contributions:
    """d det(A) = det(A) tr(A⁻¹dA) = ⟨det(A) A⁻ᵀ, dA⟩ (Jacobi's formula)."""
    assert isinstance(node, Det)
    return [(0, Mul((G, node, Transpose(Inverse(node.arg)))))]


@vjp(LogDet)
def _logdet(node: Node, G: Node, needed: list[bool]) -> Contributions:
    """d log det(A) = tr(A⁻¹dA) = ⟨A⁻ᵀ, dA⟩."""
    assert isinstance(node, LogDet)
    return [(0, Mul((G, Transpose(Inverse(node.arg)))))]


@vjp(Inverse)
def _inverse(node: Node, G: Node, needed: list[bool]) -> Contributions:
    """d(A⁻¹) = −A⁻¹ dA A⁻¹, so ⟨G, −A⁻¹dA A⁻¹⟩ = ⟨−A⁻ᵀGA⁻ᵀ, dA⟩."""
    assert isinstance(node, Inverse)
    inverse_transposed = Transpose(node)
    return [(0, Mul((Const(-ONE), MatMul((inverse_transposed, G, inverse_transposed)))))]


@vjp(Diagonal)
def _diagonal(node: Node, G: Node, needed: list[bool]) -> Contributions:
    """⟨g, diagonal(dA)⟩ = ⟨diag(g), dA⟩: the adjoint on the diagonal, zero elsewhere."""
    return [(0, Diag(G))]
