"""Simplification into the form a person would write; one rule per node type.

Canonical forms the rules maintain (children are simplified before their parent):

- a constant multiple is ``Mul((Const(c), body))``, with the coefficient pulled out of
  matrix products, sums, traces and transposes: ``2Xᵀ(XW + b)``, never ``Xᵀ(2(XW + b))``;
- sums are flat, like terms are collected (x + x = 2x), positive terms come first, and
  common coefficients and common left or right matrix factors are pulled out:
  ``Aᵀx + Ax`` becomes ``(Aᵀ + A)x``; an elementwise product of sums is expanded only
  when that makes it smaller (``−y ⊙ (1 − S) + (1 − y) ⊙ S`` becomes ``S − y``);
- products are flat, equal bases are merged into powers (``S⁻¹ ⊙ S ⊙ (1 − S)`` is
  ``1 − S``), identity and all-ones factors that change nothing are dropped;
- transposes are pushed through products and sums to the leaves, reversing matrix
  products, but they stop at names, at function values and at the subexpressions of the
  objective itself (``keep``), so ``σ(XW₁)ᵀ`` stays the transpose of the value the
  forward pass already computed;
- a matrix product that starts with a 1-D vector is written with the vector last,
  ``vᵀM`` as ``Mᵀv``; in ``‖·‖²_F`` the sign of a difference is chosen with the fewest
  minus signs, ``‖Y − P‖²_F = ‖P − Y‖²_F``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from fractions import Fraction
from functools import lru_cache

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
    with_children,
)
from matgrad.engine.shapes import broadcast_shapes, shape_of

ONE = Fraction(1)
_MAX_EXPANDED_TERMS = 16
MAX_EXPLORATIONS = 400
"""Alternative forms one simplification may try (see :meth:`Simplifier.may_explore`)."""
_MAX_FOLD_EXPONENT = 64


def simplify(node: Node, keep: frozenset[Node] = frozenset()) -> Node:
    """The simplified form of ``node``; transposes are not pushed into the nodes of ``keep``.

    >>> from matgrad.engine.parser import parse
    >>> from matgrad.engine.latex import text
    >>> text(simplify(parse("(X @ W).T @ (2 * (X @ W))").tree))
    '2WᵀXᵀXW'
    """
    return Simplifier(keep)(node)


class Simplifier:
    """Bottom-up simplification with a memo; the rules are the table :data:`RULES`."""

    def __init__(self, keep: frozenset[Node] = frozenset()):
        self.keep = keep
        self.memo: dict[Node, Node] = {}
        self.explorations = MAX_EXPLORATIONS

    def may_explore(self) -> bool:
        """Whether a rule may still try an alternative form (expanding, distributing).

        Each alternative is simplified in turn and may try its own, so unbounded trying is
        exponential in the nesting depth; past :data:`MAX_EXPLORATIONS` the factored forms
        stay as they are, and the simplifier's work is polynomial in the expression's size.
        """
        self.explorations -= 1
        return self.explorations >= 0

    def __call__(self, root: Node) -> Node:
        known = self.memo.get(root)
        if known is not None:
            return known
        # Simplified subtrees are not walked again: rules call the simplifier on trees
        # that mostly consist of simplified parts, and walking them all made it quadratic.
        for node in walk(root, stop=self.memo):
            if node in self.memo:
                continue
            kids = children(node)
            rebuilt = with_children(node, tuple(self.memo[c] for c in kids)) if kids else node
            result = self.memo.get(rebuilt)
            if result is None:
                result = RULES[type(rebuilt)](rebuilt, self)
                self.memo[rebuilt] = result
                self.memo.setdefault(result, result)
            self.memo[node] = result
        return self.memo[root]


# ---------------------------------------------------------------------------------------
# Constructors of canonical forms.


def const(value: Fraction | int, shape: Shape = ()) -> Const:
    return Const(Fraction(value), shape)


def split(node: Node) -> tuple[Fraction, Node | None]:
    """(c, body) with node = c·body; body None for a scalar constant."""
    if isinstance(node, Const) and node.shape == ():
        return node.value, None
    if isinstance(node, Const) and node.value not in (0, 1):
        return node.value, Const(ONE, node.shape)
    if isinstance(node, Mul) and isinstance(node.factors[0], Const) and node.factors[0].shape == ():
        rest = node.factors[1:]
        return node.factors[0].value, rest[0] if len(rest) == 1 else Mul(rest)
    return ONE, node


def scale(c: Fraction, body: Node | None, shape: Shape | None = None) -> Node:
    """c·body in canonical form (``shape`` is the shape of the product, for c = 0)."""
    if body is None:
        return Const(c, shape or ())
    inner, rest = split(body)
    c *= inner
    if c == 0:
        return Const(Fraction(0), shape_of(body) if shape is None else shape)
    if rest is None:
        return Const(c, shape_of(body))
    if c == 1:
        return rest
    return Mul((Const(c), rest))


def is_scalar(node: Node) -> bool:
    return shape_of(node) == ()


@lru_cache(maxsize=1 << 16)
def key(node: Node) -> str:
    """A canonical string: equal for expressions equal up to the order of + and ⊙ operands."""
    kids = [key(c) for c in children(node)]
    if isinstance(node, Add | Mul):
        kids.sort()
    if isinstance(node, Var):
        label = f"{node.name}{node.shape}"
    elif isinstance(node, Const):
        label = f"{node.value}{node.shape}"
    elif isinstance(node, Identity):
        label = f"I{node.dim}"
    else:
        extra = {Apply: "function", Power: "exponent", Sum: "axis", Size: "dim", LogSumExp: "axis"}.get(
            type(node)
        )
        if isinstance(node, Softmax):
            extra = "axis"
        label = type(node).__name__ + (f"{getattr(node, extra)}" if extra else "")
        if isinstance(node, Sum | LogSumExp):
            label += f"{node.keepdims}"
    return f"{label}({','.join(kids)})" if kids else label


@lru_cache(maxsize=1 << 16)
def weight(node: Node) -> int:
    """How many times names occur in ``node`` written out: a rewrite must lower it to win."""
    return 1 if isinstance(node, Var) else sum(weight(c) for c in children(node))


# ---------------------------------------------------------------------------------------
# The rules. Each receives a node whose children are simplified.

Rule = Callable[[Node, Simplifier], Node]
RULES: RuleTable[Rule] = RuleTable("simplification")
rule = RULES.register


@rule(Var, Const, Identity, Size)
def _leaf(node: Node, s: Simplifier) -> Node:
    return node


@rule(Diag)
def _diag(node: Node, s: Simplifier) -> Node:
    """diag(1ₙ) = Iₙ, diag(c·a) = c·diag(a)."""
    assert isinstance(node, Diag)
    c, body = split(node.arg)
    if isinstance(body, Const) and body.value == 1:
        return scale(c, Identity(shape_of(node)[0]))
    if c != 1 and body is not None:
        return scale(c, s(Diag(body)))
    return node


@rule(Mul)
def _mul(node: Node, s: Simplifier) -> Node:
    assert isinstance(node, Mul)
    full = shape_of(node)
    coefficient = ONE
    bases: dict[Node, Fraction] = {}  # base -> exponent, in order of first appearance
    for factor in _flatten_mul(node.factors):
        if isinstance(factor, Const):
            coefficient *= factor.value
            continue
        base, exponent = (factor.base, factor.exponent) if isinstance(factor, Power) else (factor, ONE)
        bases[base] = bases.get(base, Fraction(0)) + exponent
    if coefficient == 0:
        return Const(Fraction(0), full)
    factors = [s(Power(b, p)) if p != 1 else b for b, p in bases.items() if p != 0]
    if any(isinstance(f, Mul | Const) for f in factors):
        # A merged power came out as a product, e.g. (a ⊙ b)² = a² ⊙ b²: flatten once more.
        return s(Mul((Const(coefficient), *factors, Const(ONE, full))))
    scalars = [f for f in factors if is_scalar(f)]
    arrays = [f for f in factors if not is_scalar(f)]
    # Coefficients that the merged powers produced (e.g. (2x)² → 4x²) come back out.
    loose = [split(f) for f in scalars + arrays]
    coefficient *= math.prod((c for c, _ in loose), start=ONE)
    kept = [body for _, body in loose if body is not None]
    if not kept or broadcast_shapes([shape_of(f) for f in kept]) != full:
        kept.append(Const(ONE, full))
        if len(kept) == 1:
            return Const(coefficient, full)
    body = kept[0] if len(kept) == 1 else Mul(tuple(kept))
    result = scale(coefficient, body)
    for index, factor in enumerate(kept if len(kept) > 1 else []):
        if isinstance(factor, Add) and len(factor.terms) <= _MAX_EXPANDED_TERMS and s.may_explore():
            # Distributing one sum over the other factors can cancel powers (S⁻¹ ⊙ S).
            others = kept[:index] + kept[index + 1 :]
            distributed = s(Add(tuple(s(Mul((Const(coefficient), t, *others))) for t in factor.terms)))
            if weight(distributed) < weight(result):
                result = distributed
    return result


def _flatten_mul(factors: Iterable[Node]) -> list[Node]:
    flat: list[Node] = []
    for factor in factors:
        if isinstance(factor, Mul):
            flat.extend(_flatten_mul(factor.factors))
        elif isinstance(factor, Const) and factor.value == 1 and factor.shape != ():
            flat.append(Const(ONE, factor.shape))
        else:
            flat.append(factor)
    return flat


@rule(Add)
def _add(node: Node, s: Simplifier) -> Node:
    assert isinstance(node, Add)
    full = shape_of(node)
    terms = _collect(_flatten_add(node.terms, s.keep))
    if not terms:
        return Const(Fraction(0), full)
    if broadcast_shapes([shape_of(body) if body else () for _, body in terms]) != full:
        terms.append((Fraction(0), Const(Fraction(0), full)))
    factored = _factor(terms, s)
    expanded = _expanded(terms, s) if s.may_explore() else None
    if expanded is not None and weight(expanded) < weight(factored):
        return expanded
    return factored


def _flatten_add(
    terms: Iterable[Node], keep: frozenset[Node] = frozenset(), c: Fraction = ONE
) -> list[tuple[Fraction, Node | None]]:
    """(coefficient, body) pairs; constant multiples of nested sums are distributed, except
    of the sums in ``keep`` (the objective's own), which stay whole: R + Rᵀ, not XᵀX − I + Rᵀ."""
    flat: list[tuple[Fraction, Node | None]] = []
    for term in terms:
        coefficient, body = split(term)
        if isinstance(body, Add) and body not in keep:
            flat.extend(_flatten_add(body.terms, keep, c * coefficient))
        elif isinstance(body, Const):
            flat.append((c * coefficient * body.value, Const(ONE, body.shape)))
        else:
            flat.append((c * coefficient, body))
    return flat


def _collect(terms: list[tuple[Fraction, Node | None]]) -> list[tuple[Fraction, Node | None]]:
    """Like terms summed, zeros dropped, positive terms first (each group in first-seen order)."""
    totals: dict[str, tuple[Fraction, Node | None]] = {}
    for coefficient, body in terms:
        label = "" if body is None else key(body)
        previous = totals.get(label, (Fraction(0), body))[0]
        totals[label] = (previous + coefficient, body)
    kept = [(c, b) for c, b in totals.values() if c != 0]
    return [t for t in kept if t[0] > 0] + [t for t in kept if t[0] < 0]


def _build_sum(terms: list[tuple[Fraction, Node | None]]) -> Node:
    nodes = [scale(c, b) for c, b in terms]
    return nodes[0] if len(nodes) == 1 else Add(tuple(nodes))


def _factor(terms: list[tuple[Fraction, Node | None]], s: Simplifier) -> Node:
    """The sum with common coefficients and common matrix factors pulled out."""
    if len(terms) == 1:
        return scale(*terms[0])
    common = _common_coefficient([c for c, _ in terms])
    if common != 1:
        return scale(common, s(_build_sum([(c / common, b) for c, b in terms])))
    chains = [_chain(b) for _, b in terms]
    if all(chains):
        prefix = _common_prefix([list(c) for c in chains if c])
        suffix = _common_prefix([list(reversed(c)) for c in chains if c])[::-1]
        if prefix or suffix:
            # One side at a time: the prefix if there is one, else the suffix. Only the
            # side cut from every term goes back around the inner sum.
            left, right = (prefix, []) if prefix else ([], suffix)
            rests = [c[len(left) : len(c) - len(right)] for c in chains if c]
            if all(rests):
                inner = s(_build_sum([(c, _product(r)) for (c, _), r in zip(terms, rests, strict=True)]))
                return s(MatMul((*left, inner, *right)))
    return _build_sum(terms)


def _common_coefficient(coefficients: list[Fraction]) -> Fraction:
    """The factor to pull out of a sum: all coefficients' integer gcd, or their common value."""
    if all(c == coefficients[0] for c in coefficients):
        common = abs(coefficients[0])
    elif all(c.denominator == 1 for c in coefficients):
        common = Fraction(math.gcd(*(c.numerator for c in coefficients)))
    else:
        return ONE
    if all(c < 0 for c in coefficients):
        common = -common
    return common if abs(common) != 1 else ONE


def _chain(body: Node | None) -> tuple[Node, ...] | None:
    """The factors of a 2-D matrix product body (None if it is not one)."""
    if isinstance(body, MatMul) and all(len(shape_of(f)) == 2 for f in body.factors[:-1]):
        return body.factors
    return None


def _common_prefix(chains: list[list[Node]]) -> list[Node]:
    prefix: list[Node] = []
    for items in zip(*chains, strict=False):
        if any(item != items[0] for item in items):
            break
        prefix.append(items[0])
    return prefix


def _product(factors: tuple[Node, ...]) -> Node:
    return factors[0] if len(factors) == 1 else MatMul(factors)


def _expanded(terms: list[tuple[Fraction, Node | None]], s: Simplifier) -> Node | None:
    """The sum with elementwise products of sums multiplied out (None if nothing to expand)."""
    expanded: list[tuple[Fraction, Node | None]] = []
    changed = False
    for coefficient, body in terms:
        factors = list(body.factors) if isinstance(body, Mul) else [body] if body is not None else []
        sums = [_flatten_add(f.terms, s.keep) if isinstance(f, Add) else [(ONE, f)] for f in factors]
        if math.prod(len(options) for options in sums) > _MAX_EXPANDED_TERMS:
            return None
        changed |= any(len(options) > 1 for options in sums)
        products: list[tuple[Fraction, list[Node]]] = [(coefficient, [])]
        for options in sums:
            products = [(c * oc, fs if ob is None else [*fs, ob]) for c, fs in products for oc, ob in options]
        for c, fs in products:
            expanded.append((c, s(Mul(tuple(fs))) if len(fs) > 1 else fs[0] if fs else None))
    if not changed:
        return None
    return s(Add(tuple(scale(c, b) for c, b in expanded)))


@rule(MatMul)
def _matmul(node: Node, s: Simplifier) -> Node:
    assert isinstance(node, MatMul)
    coefficient = ONE
    scalars: list[Node] = []
    factors: list[Node] = []
    for factor in node.factors:
        c, body = split(factor)
        if isinstance(body, Add) and all(split(t)[0] < 0 for t in body.terms):
            # A(−B − C)D is −A(B + C)D: the sign leaves the sum, as a reader would write it
            c, body = -c, s(Add(tuple(scale(Fraction(-1), t) for t in body.terms)))
        coefficient *= c
        assert body is not None, "a matrix product has no scalar factors"
        if isinstance(body, Mul) and any(is_scalar(f) for f in body.factors):
            scalars.extend(f for f in body.factors if is_scalar(f))
            rest = tuple(f for f in body.factors if not is_scalar(f))
            body = rest[0] if len(rest) == 1 else s(Mul(rest))
        if isinstance(body, MatMul):
            factors.extend(body.factors)
        else:
            factors.append(body)
    full = shape_of(node)
    if coefficient == 0 or any(isinstance(f, Const) and f.value == 0 for f in factors):
        return Const(Fraction(0), full)
    factors = _cancel_inverses(factors)
    without_identity = [f for f in factors if not isinstance(f, Identity)]
    factors = without_identity or factors[:1]
    if len(shape_of(factors[0])) == 1 and len(shape_of(factors[-1])) == 2:
        factors = [s(Transpose(f)) for f in reversed(factors)]
    product = factors[0] if len(factors) == 1 else MatMul(tuple(factors))
    if scalars:
        product = s(Mul((*scalars, product)))
    return scale(coefficient, product)


def _inverse_of(node: Node) -> Node | None:
    """B with node = B⁻¹ (also (Bᵀ)⁻¹ written as B⁻ᵀ), else None."""
    if isinstance(node, Inverse):
        return node.arg
    if isinstance(node, Transpose) and isinstance(node.arg, Inverse):
        return Transpose(node.arg.arg)
    return None


def _same(a: Node, b: Node) -> bool:
    """a and b are the same matrix (Transpose(B) and a simplified Bᵀ compare alike)."""
    if a == b:
        return True
    if isinstance(a, Transpose) and isinstance(b, Transpose):
        return a.arg == b.arg
    return False


def _cancel_inverses(factors: list[Node]) -> list[Node]:
    """A⁻¹A and AA⁻¹ next to each other in a product are I (and so dropped)."""
    kept: list[Node] = []
    for factor in factors:
        if kept:
            previous = kept[-1]
            left, right = _inverse_of(previous), _inverse_of(factor)
            if (left is not None and _same(left, factor)) or (right is not None and _same(right, previous)):
                kept.pop()
                if not kept:
                    kept.append(Identity(shape_of(factor)[-1]))
                continue
        kept.append(factor)
    return kept


@rule(Transpose)
def _transpose(node: Node, s: Simplifier) -> Node:
    assert isinstance(node, Transpose)
    arg = node.arg
    if len(shape_of(arg)) < 2:
        return arg
    if isinstance(arg, Transpose):
        return arg.arg
    if isinstance(arg, Var) and arg.structure:
        return arg  # a symmetric matrix is its own transpose
    if isinstance(arg, Inverse):
        # (A⁻¹)ᵀ = (Aᵀ)⁻¹: A⁻¹ itself when Aᵀ simplifies to A (XᵀCX with C symmetric)
        return arg if s(Transpose(arg.arg)) == arg.arg else node
    c, body = split(arg)
    if c != 1 and body is not None:
        return scale(c, s(Transpose(body)))
    if isinstance(arg, MatMul):
        return s(MatMul(tuple(Transpose(f) for f in reversed(arg.factors))))
    if isinstance(arg, Add) and arg in s.keep:
        # (AXB + C)ᵀ is the objective's own BᵀXᵀAᵀ + Cᵀ when that sum is one of its parts
        pushed = Simplifier()(node)
        if pushed in s.keep:
            return pushed
    if isinstance(arg, Mul | Add) and arg not in s.keep:
        operands = arg.factors if isinstance(arg, Mul) else arg.terms
        if all(len(shape_of(o)) != 1 for o in operands):
            flipped = tuple(o if is_scalar(o) else Transpose(o) for o in operands)
            return s(Mul(flipped) if isinstance(arg, Mul) else Add(flipped))
    if isinstance(arg, Const):
        return Const(arg.value, tuple(reversed(arg.shape)))
    if isinstance(arg, Identity):
        return arg
    if isinstance(arg, Outer):
        return Outer(arg.right, arg.left)
    if isinstance(arg, Sum) and arg.keepdims and arg.axis is not None:
        return s(Sum(Transpose(arg.arg), 1 - arg.axis, keepdims=True))
    return node


@rule(Power)
def _power(node: Node, s: Simplifier) -> Node:
    assert isinstance(node, Power)
    base, p = node.base, node.exponent
    if p == 1:
        return base
    if p == 0:
        return Const(ONE, shape_of(base))
    if (
        isinstance(base, Const)
        and p.denominator == 1
        and abs(p) <= _MAX_FOLD_EXPONENT
        and (base.value or p > 0)
    ):
        return Const(base.value**p.numerator, base.shape)
    if p.denominator == 1:
        if isinstance(base, Power):
            return s(Power(base.base, base.exponent * p))
        if isinstance(base, Mul):
            return s(Mul(tuple(Power(f, p) for f in base.factors)))
    return node


@rule(Apply)
def _apply(node: Node, s: Simplifier) -> Node:
    assert isinstance(node, Apply)
    arg = node.arg
    if node.function == "log" and isinstance(arg, Softmax):
        # log softmax(Z) = Z − logsumexp(Z): cross-entropy's gradient is then softmax − Y
        lse = LogSumExp(arg.arg, arg.axis, keepdims=arg.axis is not None)
        return s(Add((arg.arg, Mul((Const(-ONE), lse)))))
    inverse = {"log": "exp", "exp": "log"}.get(node.function)
    if inverse is not None and isinstance(arg, Apply) and arg.function == inverse:
        return arg.arg
    if isinstance(arg, Const) and node.function in ("relu", "step"):
        positive = arg.value > 0
        return Const(
            arg.value if node.function == "relu" and positive else Fraction(int(positive)), arg.shape
        )
    return node


def _reduction(node: Sum | Trace | SqNorm, s: Simplifier, degree: int, transpose_free: bool) -> Node | None:
    """c·A inside pulls out as c^degree; inside a transpose-invariant reduction, Aᵀ is A."""
    c, body = split(node.arg)
    if c != 1 and body is not None:
        return scale(c**degree, s(with_children(node, (body,))))
    if transpose_free and isinstance(node.arg, Transpose):
        return s(with_children(node, (node.arg.arg,)))
    return None


@rule(Sum)
def _sum(node: Node, s: Simplifier) -> Node:
    assert isinstance(node, Sum)
    if shape_of(node.arg) == shape_of(node):
        return node.arg
    inner = node.arg
    if node.axis is None and not node.keepdims and isinstance(inner, Sum):
        return s(Sum(inner.arg))  # a sum of partial sums is the sum of every entry
    return _reduction(node, s, 1, node.axis is None and not node.keepdims) or node


@rule(Trace)
def _trace(node: Node, s: Simplifier) -> Node:
    assert isinstance(node, Trace)
    return _reduction(node, s, 1, True) or node


@rule(SqNorm)
def _sqnorm(node: Node, s: Simplifier) -> Node:
    assert isinstance(node, SqNorm)
    reduced = _reduction(node, s, 2, True)
    if reduced is not None:
        return reduced
    if isinstance(node.arg, Add):
        signs = [split(t)[0] < 0 for t in node.arg.terms]
        if 2 * sum(signs) > len(signs):
            return s(SqNorm(s(Add(tuple(Mul((Const(Fraction(-1)), t)) for t in node.arg.terms)))))
    return node


@rule(Outer)
def _outer(node: Node, s: Simplifier) -> Node:
    """Constants pulled out; a matrix leaves the outer product: (Mu)vᵀ = M(uvᵀ), u(Mv)ᵀ = (uvᵀ)Mᵀ."""
    assert isinstance(node, Outer)
    (a, left), (b, right) = split(node.left), split(node.right)
    if a * b != 1 and left is not None and right is not None:
        return scale(a * b, s(Outer(left, right)))
    for index, side in enumerate((node.left, node.right)):
        if isinstance(side, Mul) and any(is_scalar(f) for f in side.factors):
            # (s·u)vᵀ = s·uvᵀ: a scalar leaves the outer product, so xΔᵀ and Δxᵀ can be collected
            scalars = tuple(f for f in side.factors if is_scalar(f))
            rest = tuple(f for f in side.factors if not is_scalar(f))
            vector = rest[0] if len(rest) == 1 else Mul(rest)
            pair = (vector, node.right) if index == 0 else (node.left, vector)
            return s(Mul((*scalars, s(Outer(*pair)))))
    left_scalars, right_scalars = _scaled_ones(node.left), _scaled_ones(node.right)
    if left_scalars is not None and right_scalars is not None:
        # (s·1ₙ)(t·1ₖ)ᵀ is st·1_(n×k): a scalar spread over every entry
        return s(Mul((*left_scalars, *right_scalars, Const(ONE, shape_of(node)))))
    if _leading_matrix(node.left):
        assert isinstance(node.left, MatMul)
        *matrices, vector = node.left.factors
        return s(MatMul((*matrices, Outer(vector, node.right))))
    if _leading_matrix(node.right):
        assert isinstance(node.right, MatMul)
        *matrices, vector = node.right.factors
        return s(MatMul((Outer(node.left, vector), *(Transpose(m) for m in reversed(matrices)))))
    return node


def _scaled_ones(node: Node) -> list[Node] | None:
    """The scalar factors s of a vector s·1ₙ (all entries equal), or None if it is not one."""
    if isinstance(node, Const):
        return [Const(node.value)]
    if isinstance(node, Mul):
        ones = [f for f in node.factors if isinstance(f, Const) and f.shape != () and f.value == 1]
        scalars = [f for f in node.factors if is_scalar(f)]
        if len(ones) == 1 and len(ones) + len(scalars) == len(node.factors):
            return scalars
    return None


def _leading_matrix(node: Node) -> bool:
    """A product M⋯v of matrices ending in a 1-D vector."""
    return isinstance(node, MatMul) and len(shape_of(node.factors[0])) == 2 and len(shape_of(node)) == 1


@rule(Inverse)
def _inverse(node: Node, s: Simplifier) -> Node:
    """(A⁻¹)⁻¹ = A, (cA)⁻¹ = c⁻¹A⁻¹, I⁻¹ = I, (Aᵀ)⁻¹ = A⁻ᵀ, (AB)⁻¹ = B⁻¹A⁻¹ for square A, B."""
    assert isinstance(node, Inverse)
    arg = node.arg
    if isinstance(arg, Inverse):
        return arg.arg
    if isinstance(arg, Identity):
        return arg
    c, body = split(arg)
    if c != 1 and body is not None:
        return scale(1 / c, s(Inverse(body)))
    if isinstance(arg, Transpose):
        return s(Transpose(Inverse(arg.arg)))
    if isinstance(arg, MatMul) and all(_is_square(f) for f in arg.factors):
        return s(MatMul(tuple(Inverse(f) for f in reversed(arg.factors))))
    return node


def _is_square(node: Node) -> bool:
    shape = shape_of(node)
    return len(shape) == 2 and shape[0] == shape[1]


@rule(Det, LogDet)
def _determinant(node: Node, s: Simplifier) -> Node:
    """det(Aᵀ) = det(A); log det(I) = 0, det(I) = 1."""
    assert isinstance(node, Det | LogDet)
    if isinstance(node.arg, Transpose):
        return s(type(node)(node.arg.arg))
    if isinstance(node.arg, Identity):
        return Const(Fraction(int(isinstance(node, Det))))
    return node


@rule(Diagonal)
def _diagonal(node: Node, s: Simplifier) -> Node:
    """diagonal(Aᵀ) = diagonal(A); diagonal(diag(a)) = a."""
    assert isinstance(node, Diagonal)
    if isinstance(node.arg, Transpose):
        return s(Diagonal(node.arg.arg))
    if isinstance(node.arg, Diag):
        return node.arg.arg
    return node


@rule(LogSumExp, Softmax)
def _softmax_family(node: Node, s: Simplifier) -> Node:
    return node  # its argument is simplified already; no rewrite of its own


def over_common_denominator(node: Node) -> Node:
    """A sum whose terms share a scalar denominator as one fraction: a/d − b/d² = (d·a − b)/d².

    The Cookbook's form for quotients such as the Rayleigh quotient's gradient. It runs
    once, on a finished gradient, from the innermost sums out (through products, not into
    other functions): inside the simplifier, the rule that distributes a factor over a sum
    would undo it.
    """
    if isinstance(node, Mul):
        factors: list[Node] = []
        for factor in node.factors:
            combined = over_common_denominator(factor) if isinstance(factor, Add) else factor
            if combined is not factor and isinstance(combined, Mul):
                factors.extend(combined.factors)
            else:
                factors.append(combined)
        return node if tuple(factors) == node.factors else Mul(tuple(factors))
    if not isinstance(node, Add):
        return node
    parsed: list[tuple[Fraction, list[Node], dict[Node, Fraction]]] = []
    for term in map(over_common_denominator, node.terms):  # inner sums first: (a/d² + b/d)·1ₙ
        coefficient, body = split(term)
        factors = list(body.factors) if isinstance(body, Mul) else [body] if body is not None else []
        denominator = {f.base: -f.exponent for f in factors if isinstance(f, Power) and _is_denominator(f)}
        parsed.append((coefficient, [f for f in factors if not _is_denominator(f)], denominator))
    bases = [base for _, _, denominator in parsed for base in denominator]
    if not any(bases.count(base) > 1 for base in bases):
        return node  # nothing shared: one fraction would only be longer
    common: dict[Node, Fraction] = {}
    for base in bases:
        common[base] = max(d.get(base, Fraction(0)) for _, _, d in parsed)
    numerators = []
    for coefficient, rest, denominator in parsed:
        missing = [Power(b, e - denominator.get(b, Fraction(0))) for b, e in common.items()]
        numerators.append(Mul((Const(coefficient), *missing, *rest, Const(ONE, shape_of(node)))))
    numerator = simplify(Add(tuple(numerators)))
    tops = numerator.factors if isinstance(numerator, Mul) else (numerator,)
    return Mul((*tops, *(Power(base, -exponent) for base, exponent in common.items())))


def _is_denominator(factor: Node) -> bool:
    return isinstance(factor, Power) and factor.exponent < 0 and is_scalar(factor)
