"""The derivation as steps in differentials, each naming its rule (Markdown with LaTeX).

With ⟨A, B⟩ = tr(AᵀB) = Σᵢⱼ AᵢⱼBᵢⱼ, the gradient is defined by df = ⟨∂f/∂A, dA⟩.
Reverse mode is written as a chain of such identities: starting from df, each step takes
one subexpression N with its adjoint N̄ = ∂f/∂N, applies the differential rule of N's
type, and moves every factor off the differential of each operand:
⟨N̄, dN⟩ = Σᵢ ⟨cᵢ, d(operandᵢ)⟩. The rules and their identities are the table
:data:`RULES`.
"""

from __future__ import annotations

from collections.abc import Mapping

from matgrad.engine.differentiate import Step
from matgrad.engine.latex import latex
from matgrad.engine.nodes import (
    Add,
    Apply,
    Const,
    Det,
    Diag,
    Diagonal,
    Inverse,
    LogDet,
    LogSumExp,
    MatMul,
    Mul,
    Node,
    Outer,
    Power,
    Softmax,
    SqNorm,
    Sum,
    Trace,
    Transpose,
    Var,
)

_MOVE_LEFT = r"\langle G, dA\,B\rangle = \langle GB^\top, dA\rangle"
_MOVE_RIGHT = r"\langle G, A\,dB\rangle = \langle A^\top G, dB\rangle"
_MOVE_HADAMARD = r"\langle G, dA \odot B\rangle = \langle G \odot B, dA\rangle"
_BROADCAST = r"\text{a row broadcast over } n \text{ rows gets } \mathbf{1}_n^\top G"

RULES: dict[type[Node], tuple[str, str]] = {
    Add: ("sum rule", rf"d(A + B) = dA + dB;\ {_BROADCAST}"),
    Mul: ("elementwise product rule", rf"d(A \odot B) = dA \odot B + A \odot dB,\ {_MOVE_HADAMARD}"),
    MatMul: ("matrix product rule", rf"d(AB) = dA\,B + A\,dB,\ {_MOVE_LEFT},\ {_MOVE_RIGHT}"),
    Transpose: ("transpose", r"\langle G, (dA)^\top\rangle = \langle G^\top, dA\rangle"),
    Power: ("power rule", r"d(A^{\odot p}) = p\,A^{\odot (p-1)} \odot dA"),
    Sum: ("sum of entries", r"d\operatorname{sum}(A) = \langle \mathbf{1}\mathbf{1}^\top, dA\rangle"),
    Trace: ("trace", r"d\operatorname{tr}(A) = \operatorname{tr}(dA) = \langle I, dA\rangle"),
    SqNorm: ("squared Frobenius norm", r"d\lVert A\rVert_F^2 = 2\langle A, dA\rangle"),
    Outer: ("outer product", r"d(ab^\top) = da\,b^\top + a\,db^\top"),
    Det: (
        "determinant (Jacobi's formula)",
        r"d\det(A) = \det(A)\operatorname{tr}(A^{-1}dA) = \langle \det(A) A^{-\top}, dA\rangle",
    ),
    LogDet: ("log-determinant", r"d\log\det(A) = \operatorname{tr}(A^{-1}dA) = \langle A^{-\top}, dA\rangle"),
    Inverse: (
        "inverse",
        r"d(A^{-1}) = -A^{-1}\,dA\,A^{-1},\ "
        r"\langle G, d(A^{-1})\rangle = \langle -A^{-\top}GA^{-\top}, dA\rangle",
    ),
    Diagonal: (
        "diagonal of a matrix",
        r"\langle g, \operatorname{diag}(dA)\rangle = \langle \operatorname{diag}(g), dA\rangle",
    ),
    LogSumExp: (
        "log-sum-exp",
        r"d\operatorname{logsumexp}(Z) = \langle \operatorname{softmax}(Z), dZ\rangle \text{ along the axis}",
    ),
    Softmax: (
        "softmax",
        r"d\operatorname{softmax}(Z) = S \odot (dZ - \sum S \odot dZ)",
    ),
    Diag: (
        "diagonal matrix",
        r"\langle G, \operatorname{diag}(da)\rangle = \langle \operatorname{diagonal}(G), da\rangle",
    ),
}
FUNCTION_RULES: dict[str, tuple[str, str]] = {
    "sigmoid": ("sigmoid", r"d\sigma(H) = \sigma(H) \odot (1 - \sigma(H)) \odot dH"),
    "tanh": ("tanh", r"d\tanh(H) = (1 - \tanh(H)^{\odot 2}) \odot dH"),
    "exp": ("exponential", r"d\exp(H) = \exp(H) \odot dH"),
    "log": ("logarithm", r"d\log(H) = dH \oslash H"),
    "relu": (
        "relu",
        r"d\operatorname{relu}(H) = \operatorname{relu}'(H) \odot dH,\ \operatorname{relu}'(H) = [H > 0]",
    ),
    "softplus": ("softplus", r"d\operatorname{softplus}(H) = \sigma(H) \odot dH"),
    "step": ("step", r"d\operatorname{relu}'(H) = 0 \text{ almost everywhere}"),
    "abs": ("absolute value", r"d\left|H\right| = \operatorname{sign}(H) \odot dH \text{ away from } 0"),
    "sign": ("sign", r"d\operatorname{sign}(H) = 0 \text{ away from } 0"),
    "sqrt": ("square root", r"d\sqrt{H} = \tfrac{1}{2} dH \oslash \sqrt{H}"),
    "sin": ("sine", r"d\sin(H) = \cos(H) \odot dH"),
    "cos": ("cosine", r"d\cos(H) = -\sin(H) \odot dH"),
    "tan": ("tangent", r"d\tan(H) = (1 + \tan(H)^{\odot 2}) \odot dH"),
    "arcsin": ("arcsine", r"d\arcsin(H) = dH \oslash \sqrt{1 - H^{\odot 2}}"),
    "arccos": ("arccosine", r"d\arccos(H) = -dH \oslash \sqrt{1 - H^{\odot 2}}"),
    "arctan": ("arctangent", r"d\arctan(H) = dH \oslash (1 + H^{\odot 2})"),
}


CONSTANT_FACTOR_RULE = (
    "constant factor",
    r"d(c\,A) = c\,dA,\ \langle G, c\,dA\rangle = \langle c\,G, dA\rangle",
)


def rule_of(node: Node) -> tuple[str, str]:
    """(name, identity in LaTeX) of the differential rule applied at ``node``."""
    if isinstance(node, Apply):
        return FUNCTION_RULES[node.function]
    # −Y and 2A are products too, but with one varying factor a student expects the
    # constant-factor rule, not the product rule.
    if isinstance(node, Mul) and sum(not isinstance(f, Const) for f in node.factors) <= 1:
        return CONSTANT_FACTOR_RULE
    return RULES[type(node)]


def markdown(
    value_latex: str,
    simplified: Node,
    steps: tuple[Step, ...],
    gradients: Mapping[str, Node],
    names: Mapping[Node, str],
    where: list[tuple[str, str]],
) -> str:
    """The steps as Markdown: one numbered item per rule, display math for each identity."""

    def show(node: Node) -> str:
        return latex(node, names)

    lines = [f"Objective: $f = {value_latex}$."]
    if latex(simplified) != value_latex:
        lines.append(f"Simplified (the same function): $f = {latex(simplified)}$.")
    lines += [
        "",
        r"With $\langle A, B\rangle = \operatorname{tr}(A^\top B) = \sum_{ij} A_{ij}B_{ij}$, "
        r"the gradient is defined by $df = \langle \partial f/\partial A, dA\rangle$.",
    ]
    if where:
        lines += ["", "Names: " + ", ".join(f"${n} = {d}$" for n, d in where) + "."]
    lines.append("")
    for number, step in enumerate(steps, start=1):
        rule, identity = rule_of(step.node)
        is_root = isinstance(step.adjoint, Const) and step.adjoint.value == 1 and step.adjoint.shape == ()
        differential = f"d{_operand(step.node, names)}"
        left = (
            differential if is_root else rf"\left\langle {show(step.adjoint)},\ {differential}\right\rangle"
        )
        right = " + ".join(
            rf"\left\langle {show(contribution)},\ d{_operand(child, names)}\right\rangle"
            for child, contribution in step.contributions
        )
        lines += [
            f"{number}. **{rule}**: ${identity}$",
            "",
            f"   $$df = {left} = {right}$$" if is_root else f"   $${left} = {right}$$",
            "",
        ]
    lines.append("Collecting the terms of each argument:")
    lines.append("")
    for name, gradient in gradients.items():
        lines.append(rf"$$\frac{{\partial f}}{{\partial {latex(Var(name, ()))}}} = {show(gradient)}$$")
    return "\n".join(lines) + "\n"


def _operand(child: Node, names: Mapping[Node, str]) -> str:
    printed = latex(child, names)
    return printed if isinstance(child, Var) or child in names else rf"\left({printed}\right)"


__all__ = ["CONSTANT_FACTOR_RULE", "FUNCTION_RULES", "RULES", "markdown", "rule_of"]
