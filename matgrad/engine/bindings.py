"""Shared subexpressions and the names they are shown under (S, R, Δ, …).

A derivation is printed the way the registry writes its formulas: intermediate values
that occur more than once get a name and a "where" line, e.g. for the network
``S = σ(XW₁ + b₁)``, ``R = SW₂ + b₂ − Y``, ``Δ = (RW₂ᵀ) ⊙ S ⊙ (1 − S)``, and the
gradients read ``2XᵀΔ``. Short repeated sums such as ``XW + b`` stay inline, as a
person would leave them. The code generator computes every repeated subexpression once,
under the same names where there are any.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from matgrad.engine.nodes import Apply, Const, Identity, Inverse, Node, SqNorm, Transpose, Var, children, walk

#: A repeated subexpression of the objective with fewer name occurrences than this stays
#: inline (``XW + b``); one that only the gradients use is named from one fewer.
INLINE_BELOW = 4

_FUNCTION_LETTERS = {
    "sigmoid": "S",
    "tanh": "T",
    "exp": "E",
    "log": "L",
    "softplus": "P",
    "relu": "A",
    "step": "D",
    "abs": "M",
    "sign": "G",
    "sqrt": "Q",
    "sin": "N",
    "cos": "K",
    "tan": "T",
    "arcsin": "Z",
    "arccos": "Z",
    "arctan": "Z",
}
#: Functions whose values get a letter even of a bare name (σ(X) is S); cos(X) stays cos(X).
_NAMED_WHEREVER = ("sigmoid", "tanh", "exp", "log", "softplus", "relu", "step")
_FORWARD_LETTERS = ("A", "B", "C", "H", "U", "V")
_ADJOINT_LETTER = "Delta"


def walk_all(roots: Iterable[Node]) -> list[Node]:
    """Every distinct node under any of ``roots``, children before parents."""
    order: list[Node] = []
    seen: set[Node] = set()
    for root in roots:
        for node in walk(root):
            if node not in seen:
                seen.add(node)
                order.append(node)
    return order


def count_uses(roots: Sequence[Node]) -> dict[Node, int]:
    """How many times each node is referenced: by its parents, and once per root."""
    uses: dict[Node, int] = {}
    for node in walk_all(roots):
        for child in children(node):
            uses[child] = uses.get(child, 0) + 1
    for root in roots:
        uses[root] = uses.get(root, 0) + 1
    return uses


def trivial(node: Node) -> bool:
    """Costs nothing to repeat: a name, a constant, an identity, a transposed name."""
    return isinstance(node, Var | Const | Identity) or (
        isinstance(node, Transpose) and isinstance(node.arg, Var)
    )


def display_names(value: Node, gradients: Sequence[Node], reserved: Iterable[str]) -> dict[Node, str]:
    """Names for the repeated subexpressions worth naming, in dependency order.

    Worth naming: a function value (σ(…) is S), a repeated expression with enough name
    occurrences (:data:`INLINE_BELOW`), or a part of the objective that a gradient uses
    transposed (``AᵀR`` rather than ``(S + b₁)ᵀR``).
    """
    roots = [value, *gradients]
    uses = count_uses(roots)
    forward = set(walk(value))
    residuals = {n.arg for n in forward if isinstance(n, SqNorm)}
    transposed = {n.arg for n in walk_all(gradients) if isinstance(n, Transpose)}
    taken = set(reserved)
    names: dict[Node, str] = {}
    weights: dict[Node, int] = {}
    for node in walk_all(roots):
        weights[node] = 1 if isinstance(node, Var) else sum(weights[c] for c in children(node))
        if node == value or trivial(node) or isinstance(node, Transpose | Inverse) or uses.get(node, 0) < 2:
            # X⁻¹ reads as well as a letter standing for it (the Cookbook's −X⁻ᵀabᵀX⁻ᵀ)
            continue
        threshold = INLINE_BELOW if node in forward else INLINE_BELOW - 1
        worth = (
            (isinstance(node, Apply) and (node.function in _NAMED_WHEREVER or not trivial(node.arg)))
            or weights[node] >= threshold
            or (node in forward and node in transposed)
        )
        if not worth:
            continue
        if isinstance(node, Apply):
            letters: Sequence[str] = (_FUNCTION_LETTERS[node.function],)
        elif node in residuals:
            letters = ("R",)
        elif node in forward:
            letters = _FORWARD_LETTERS
        else:
            letters = (_ADJOINT_LETTER,)
        names[node] = _fresh(letters, taken)
        taken.add(names[node])
        weights[node] = 1
    return names


def _fresh(letters: Sequence[str], taken: set[str]) -> str:
    for letter in letters:
        if letter not in taken:
            return letter
    index = 1
    while f"{letters[0]}{index}" in taken:
        index += 1
    return f"{letters[0]}{index}"
