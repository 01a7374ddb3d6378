"""LaTeX and plain-text (Unicode) printing; one rule per node type, shared by both styles.

Conventions, as in matgrad's registry: juxtaposition is the matrix product, ``⊙``
the elementwise product, ``ᵀ`` the transpose, ``‖·‖²_F`` the squared Frobenius norm,
``1ₙ`` the all-ones vector (``1ₙᵀG`` sums G over its n rows), ``W1`` prints as W₁.
A 1-D vector is a column: ``x @ A @ x`` prints as xᵀAx. ``names`` maps subexpressions
to the names they are printed as (see :mod:`matgrad.engine.bindings`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction

from matgrad.engine.nodes import (
    Add,
    Apply,
    Const,
    Det,
    Diag,
    Diagonal,
    Dim,
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
)
from matgrad.engine.shapes import shape_of

ADD, HADAMARD, PRODUCT, POSTFIX, ATOM = 1, 2, 3, 4, 5

_SUB = str.maketrans("0123456789aehijklmnoprstuvx+-", "₀₁₂₃₄₅₆₇₈₉ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ₊₋")
_SUP = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
GREEK = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "eps": "ε", "eta": "η",
    "theta": "θ", "kappa": "κ", "lam": "λ", "lambda_": "λ", "mu": "μ", "nu": "ν", "rho": "ρ",
    "sigma": "σ", "tau": "τ", "phi": "φ", "omega": "ω", "Delta": "Δ",
}  # fmt: skip


@dataclass(frozen=True)
class Style:
    latex: bool

    def name(self, raw: str) -> str:
        """``W1`` → W₁ / W_1, ``lam`` → λ / \\lambda, ``Xtrain`` → Xtrain / \\mathrm{Xtrain}."""
        match = re.fullmatch(r"([A-Za-z]+?)_?(\d+)?", raw)
        stem, digits = (match.group(1), match.group(2)) if match else (raw, None)
        if stem in GREEK:
            head = "\\" + _greek_word(stem) if self.latex else GREEK[stem]
        elif self.latex and len(stem) > 1:
            escaped = stem if match else raw.replace("_", "\\_")
            head = rf"\mathrm{{{escaped}}}"
        else:
            head = stem
        if digits is None:
            return head
        return f"{head}_{{{digits}}}" if self.latex else head + digits.translate(_SUB)

    def subscript(self, dim: Dim) -> str:
        text = str(dim)
        if self.latex:
            return f"_{{{text}}}"
        converted = text.translate(_SUB)
        return (
            converted
            if all(c not in "abcdefghijklmnopqrstuvwxyz0123456789" for c in converted)
            else f"_{text}"
        )


def _greek_word(stem: str) -> str:
    return {"eps": "epsilon", "lam": "lambda", "lambda_": "lambda"}.get(stem, stem)


def text(node: Node, names: Mapping[Node, str] | None = None) -> str:
    """Plain Unicode text of ``node``, e.g. ``2Xᵀ(XW + b)``."""
    return _Printer(Style(latex=False), names or {}).show(node)


def latex(node: Node, names: Mapping[Node, str] | None = None) -> str:
    """LaTeX of ``node``, e.g. ``2 X^\\top(XW + b)``."""
    return _Printer(Style(latex=True), names or {}).show(node)


def number(value: Fraction, style: Style) -> str:
    if value.denominator == 1:
        return str(value.numerator).replace("-", "−") if not style.latex else str(value.numerator)
    sign = "-" if value < 0 else ""
    if style.latex:
        return rf"{sign}\tfrac{{{abs(value.numerator)}}}{{{value.denominator}}}"
    return f"{sign.replace('-', '−')}({abs(value.numerator)}/{value.denominator})"


class _Printer:
    def __init__(self, style: Style, names: Mapping[Node, str]):
        self.style = style
        self.names = names

    def show(self, node: Node) -> str:
        return self.print(node)[0]

    def print(self, node: Node) -> tuple[str, int]:
        if node in self.names:
            return self.style.name(self.names[node]), ATOM
        return PRINT[type(node)](node, self)

    def at(self, node: Node, level: int) -> str:
        """``node`` printed, in parentheses unless it binds at least as tightly as ``level``."""
        printed, precedence = self.print(node)
        if precedence >= level:
            return printed
        return rf"\left({printed}\right)" if self.style.latex and len(printed) > 40 else f"({printed})"

    @property
    def T(self) -> str:
        return "^\\top" if self.style.latex else "ᵀ"

    def ones(self, dim: Dim) -> str:
        return (
            rf"\mathbf{{1}}{self.style.subscript(dim)}"
            if self.style.latex
            else "1" + self.style.subscript(dim)
        )


PrintRule = Callable[[Node, _Printer], tuple[str, int]]
PRINT: RuleTable[PrintRule] = RuleTable("printing")
printer = PRINT.register


@printer(Var)
def _var(node: Node, p: _Printer) -> tuple[str, int]:
    assert isinstance(node, Var)
    return p.style.name(node.name), ATOM


@printer(Const)
def _const(node: Node, p: _Printer) -> tuple[str, int]:
    assert isinstance(node, Const)
    value = number(node.value, p.style)
    if node.shape == () or node.value == 0:
        return value, (ATOM if node.value >= 0 and node.value.denominator == 1 else ADD)
    if len(node.shape) == 1 and node.value == 1:
        return p.ones(node.shape[0]), ATOM
    dims = " \\times ".join(map(str, node.shape)) if p.style.latex else "×".join(map(str, node.shape))
    ones = rf"\mathbf{{1}}_{{{dims}}}" if p.style.latex else f"1_({dims})"
    if node.value == 1:
        return ones, ATOM
    if node.value == -1:
        return ("-" if p.style.latex else "−") + ones, ADD
    return f"{value}·{ones}", HADAMARD


@printer(Diag)
def _diag(node: Node, p: _Printer) -> tuple[str, int]:
    assert isinstance(node, Diag)
    name = r"\operatorname{diag}" if p.style.latex else "diag"
    return f"{name}({p.show(node.arg)})", ATOM


@printer(Identity)
def _identity(node: Node, p: _Printer) -> tuple[str, int]:
    assert isinstance(node, Identity)
    return "I" + p.style.subscript(node.dim), ATOM


@printer(Add)
def _add(node: Node, p: _Printer) -> tuple[str, int]:
    assert isinstance(node, Add)
    minus = " - " if p.style.latex else " − "
    parts: list[str] = []
    for index, term in enumerate(node.terms):
        negative = _negative_part(term)
        if negative is not None and index > 0:
            parts.append(minus + p.at(negative, HADAMARD))
        else:
            parts.append((" + " if index else "") + p.at(term, HADAMARD if index else ADD))
    return "".join(parts), ADD


def _negative_part(term: Node) -> Node | None:
    """−term when term is a negative multiple (so it prints after a minus sign)."""
    if isinstance(term, Const) and term.shape == () and term.value < 0:
        return Const(-term.value)
    if isinstance(term, Mul) and isinstance(term.factors[0], Const) and term.factors[0].value < 0:
        c = -term.factors[0].value
        rest = term.factors[1:]
        body = rest[0] if len(rest) == 1 else Mul(rest)
        return body if c == 1 else Mul((Const(c), body))
    return None


@printer(Mul)
def _mul(node: Node, p: _Printer) -> tuple[str, int]:
    assert isinstance(node, Mul)
    constants = [f for f in node.factors if isinstance(f, Const) and f.shape == ()]
    rest = tuple(f for f in node.factors if not (isinstance(f, Const) and f.shape == ()))
    coefficient = math.prod((c.value for c in constants), start=Fraction(1))
    if constants and rest and all(map(_is_reciprocal, rest)) and abs(coefficient.numerator) == 1:
        # ½ ⊘ √x reads 1 ⊘ (2√x): the constant's denominator joins the others
        denominators = [*map(_invert, rest)]
        if coefficient.denominator != 1:
            denominators.insert(0, Const(Fraction(coefficient.denominator)))
        sign = "-" if coefficient < 0 else ""
        below = _hadamard(denominators, p)
        if p.style.latex:
            return rf"{sign}\frac{{1}}{{{below[0]}}}", ADD if sign else ATOM
        slash = " / " if all(shape_of(f) == () for f in rest) else " ⊘ "
        return f"{sign.replace('-', '−')}1{slash}{_wrap(below, POSTFIX, p)}", ADD if sign else HADAMARD
    if constants and rest and not any(map(_is_reciprocal, rest)) and node not in p.names:
        # One coefficient, wherever the parsed text had its factors: −sum(X) / 3 for -sum(X)/3.
        coefficient = math.prod((c.value for c in constants), start=Fraction(1))
        return _scaled(coefficient, rest[0] if len(rest) == 1 else Mul(rest), p)
    if constants and all(c.value == 1 for c in constants) and rest:
        node = Mul(rest) if len(rest) > 1 else Mul((*rest, Const(Fraction(1), shape_of(rest[0]))))
        if len(rest) == 1 and _is_reciprocal(rest[0]):
            bottom = p.print(_invert(rest[0]))  # 1 / sum(exp(X)), not 1sum(exp(X))⁻¹
            if p.style.latex:
                return rf"\frac{{1}}{{{bottom[0]}}}", ATOM
            return f"1 / {_wrap(bottom, POSTFIX, p)}", HADAMARD
    numerators = [f for f in node.factors if not _is_reciprocal(f)]
    denominators = [_invert(f) for f in node.factors if _is_reciprocal(f)]
    if denominators and all(shape_of(d) == () for d in denominators):
        top = _hadamard(numerators, p) if numerators else ("1", ATOM)
        scalars = [f for f in numerators if isinstance(f, Const) and f.shape == ()]
        others = [f for f in numerators if not (isinstance(f, Const) and f.shape == ())]
        if scalars and others:  # 2((xᵀx)·Ax − (xᵀAx)·x) / (xᵀx)², not (2·(…)) / (xᵀx)²
            coefficient = math.prod((c.value for c in scalars), start=Fraction(1))
            top = _scaled(coefficient, others[0] if len(others) == 1 else Mul(tuple(others)), p)
        bottom = _hadamard(denominators, p)
        if p.style.latex:
            return rf"\frac{{{top[0]}}}{{{bottom[0]}}}", ATOM
        grouped = top[1] == PRODUCT and top[0].endswith(")")  # 2(…): the coefficient's group is enough
        return f"{top[0] if grouped else _wrap(top, POSTFIX, p)} / {_wrap(bottom, POSTFIX, p)}", HADAMARD
    if denominators:
        top = _hadamard(numerators, p) if numerators else ("1", ATOM)
        slash = r" \oslash " if p.style.latex else " ⊘ "
        return slash.join([_wrap(top, POSTFIX, p)] + [p.at(d, POSTFIX) for d in denominators]), HADAMARD
    return _hadamard(list(node.factors), p)


def _is_reciprocal(node: Node) -> bool:
    return isinstance(node, Power) and node.exponent < 0


def _invert(node: Node) -> Node:
    assert isinstance(node, Power)
    return node.base if node.exponent == -1 else Power(node.base, -node.exponent)


def _wrap(printed: tuple[str, int], level: int, p: _Printer) -> str:
    return printed[0] if printed[1] >= level else f"({printed[0]})"


def _hadamard(factors: list[Node], p: _Printer) -> tuple[str, int]:
    scalars = [f for f in factors if shape_of(f) == ()]
    arrays = [f for f in factors if shape_of(f) != ()]
    dot = r" \odot " if p.style.latex else " ⊙ "
    scalar_text = [p.at(f, POSTFIX) for f in scalars]
    if len(factors) == 1:
        return p.print(factors[0])
    if not arrays:
        return (r"\," if p.style.latex else "·").join(scalar_text), PRODUCT
    array_text = dot.join(p.at(f, POSTFIX) for f in arrays)
    if not scalars:
        return array_text, (HADAMARD if len(arrays) > 1 else POSTFIX)
    # A scalar times a matrix product is a product too: det(A)·AX(XᵀAX)⁻¹, no parentheses.
    body = p.at(arrays[0], PRODUCT) if len(arrays) == 1 else f"({array_text})"
    if p.style.latex:
        return r"\,".join([*scalar_text, body]), PRODUCT
    # λX reads well; ‖X‖²_F·X and tr(X)·1 need the dot to be read at all.
    plain = all(isinstance(f, Var) for f in scalars) and not body[:1].isdigit()
    return ("" if plain else "·").join([*scalar_text, body]), PRODUCT


def _scaled(c: Fraction, body: Node, p: _Printer) -> tuple[str, int]:
    if c == 1:
        return p.print(body)
    if isinstance(body, Const) and body.value == 1 and body.shape != ():
        printed = p.print(body)[0]  # −1_(n×k), 2·1_(n×k): the coefficient of an all-ones array
        if c == -1:
            return ("-" if p.style.latex else "−") + printed, ADD
        sep = r"\," if p.style.latex else "·"
        return number(c, p.style) + sep + printed, (ADD if c < 0 else PRODUCT)
    printed = p.at(body, PRODUCT)
    if c == -1:
        return ("-" if p.style.latex else "−") + printed, ADD
    if not p.style.latex and abs(c.numerator) == 1 and c.denominator > 1:
        return ("−" if c < 0 else "") + f"{p.at(body, POSTFIX)} / {c.denominator}", ADD if c < 0 else HADAMARD
    coefficient = number(c, p.style)
    separator = ""
    if p.style.latex:
        separator = r"\," if printed[:1].isdigit() or printed.startswith(r"\mathbf{1}") else " "
    elif printed[:1].isdigit():
        separator = "·"
    return coefficient + separator + printed, (ADD if c < 0 else PRODUCT)


@printer(MatMul)
def _matmul(node: Node, p: _Printer) -> tuple[str, int]:
    assert isinstance(node, MatMul)
    parts = []
    for index, factor in enumerate(node.factors):
        printed = p.at(factor, PRODUCT if not isinstance(factor, Mul) else POSTFIX)
        if index == 0 and len(shape_of(factor)) == 1:
            printed = (printed if p.print(factor)[1] >= POSTFIX else f"({printed})") + p.T
        parts.append(printed)
    return (" " if p.style.latex else "").join(parts), PRODUCT


@printer(Transpose)
def _transpose(node: Node, p: _Printer) -> tuple[str, int]:
    assert isinstance(node, Transpose)
    if isinstance(node.arg, Inverse) and node.arg not in p.names:
        return p.at(node.arg.arg, ATOM) + ("^{-\\top}" if p.style.latex else "⁻ᵀ"), POSTFIX
    return p.at(node.arg, ATOM) + p.T, POSTFIX


def _superscript(value: Fraction, p: _Printer) -> str:
    if p.style.latex:
        return "{" + (str(value) if value.denominator == 1 else number(value, p.style)) + "}"
    if value.denominator == 1:
        return str(value.numerator).translate(_SUP)
    sign = "−" if value < 0 else ""
    return f"^({sign}{abs(value.numerator)}/{value.denominator})"


@printer(Power)
def _power(node: Node, p: _Printer) -> tuple[str, int]:
    assert isinstance(node, Power)
    if isinstance(node.base, SqNorm):
        power = 2 * node.exponent  # of the norm itself
        norm = _norm(node.base.arg, p)
        index = _norm_index(node.base.arg, p)
        if power == 1:
            return norm + index, ATOM
        return norm + index + ("^" if p.style.latex else "") + _superscript(power, p), POSTFIX
    base = p.at(node.base, ATOM)
    if shape_of(node.base) == ():
        return base + ("^" if p.style.latex else "") + _superscript(node.exponent, p), POSTFIX
    if p.style.latex:
        return rf"{base}^{{\odot {node.exponent}}}", POSTFIX
    return f"{base}^⊙{_superscript(node.exponent, p).removeprefix('^')}", POSTFIX


FUNCTION_NAMES = {
    "sigmoid": ("σ", r"\sigma"),
    "tanh": ("tanh", r"\tanh"),
    "exp": ("exp", r"\exp"),
    "log": ("log", r"\log"),
    "relu": ("relu", r"\operatorname{relu}"),
    "softplus": ("softplus", r"\operatorname{softplus}"),
    "step": ("relu′", r"\operatorname{relu}'"),
    "sign": ("sign", r"\operatorname{sign}"),
    "sin": ("sin", r"\sin"),
    "cos": ("cos", r"\cos"),
    "tan": ("tan", r"\tan"),
    "arcsin": ("arcsin", r"\arcsin"),
    "arccos": ("arccos", r"\arccos"),
    "arctan": ("arctan", r"\arctan"),
}


@printer(Apply)
def _apply(node: Node, p: _Printer) -> tuple[str, int]:
    assert isinstance(node, Apply)
    if node.function == "abs":
        inner = p.show(node.arg)
        return (rf"\left|{inner}\right|" if p.style.latex else f"|{inner}|"), ATOM
    if node.function == "sqrt":
        inner = p.show(node.arg)
        return (rf"\sqrt{{{inner}}}" if p.style.latex else f"√({inner})"), ATOM
    name = FUNCTION_NAMES[node.function][p.style.latex]
    return f"{name}({p.show(node.arg)})", ATOM


@printer(Sum)
def _sum(node: Node, p: _Printer) -> tuple[str, int]:
    assert isinstance(node, Sum)
    shape = shape_of(node.arg)
    if node.axis is None and not node.keepdims and isinstance(node.arg, Apply) and node.arg.function == "abs":
        inner = p.show(node.arg.arg)  # Σ|xᵢ| is the 1-norm ‖x‖₁
        return (rf"\lVert {inner} \rVert_1" if p.style.latex else f"‖{inner}‖₁"), ATOM
    if node.axis is None and not node.keepdims:
        name = r"\operatorname{sum}" if p.style.latex else "sum"
        return f"{name}({p.show(node.arg)})", ATOM
    inner = p.at(node.arg, PRODUCT)
    left = p.ones(shape[0]) + p.T if node.axis in (0, None) else ""
    right = p.ones(shape[-1]) if node.axis in (1, None) and len(shape) == 2 else ""
    glue = " " if p.style.latex else ""
    return glue.join(part for part in (left, inner, right) if part), PRODUCT


@printer(Trace)
def _trace(node: Node, p: _Printer) -> tuple[str, int]:
    assert isinstance(node, Trace)
    name = r"\operatorname{tr}" if p.style.latex else "tr"
    return f"{name}({p.show(node.arg)})", ATOM


def _norm(arg: Node, p: _Printer) -> str:
    inner = p.show(arg)
    return rf"\lVert {inner} \rVert" if p.style.latex else f"‖{inner}‖"


@printer(SqNorm)
def _sqnorm(node: Node, p: _Printer) -> tuple[str, int]:
    assert isinstance(node, SqNorm)
    index = _norm_index(node.arg, p)
    if index == "_F":
        return _norm(node.arg, p) + ("_F^2" if p.style.latex else "²_F"), ATOM
    return _norm(node.arg, p) + ("_2^2" if p.style.latex else "²₂"), ATOM


def _norm_index(arg: Node, p: _Printer) -> str:
    """‖x‖₂ for a vector, ‖X‖_F for a matrix (the same number, named as readers expect)."""
    if len(shape_of(arg)) == 1:
        return "_2" if p.style.latex else "₂"
    return "_F"


@printer(Outer)
def _outer(node: Node, p: _Printer) -> tuple[str, int]:
    assert isinstance(node, Outer)
    glue = " " if p.style.latex else ""
    return p.at(node.left, PRODUCT) + glue + p.at(node.right, ATOM) + p.T, PRODUCT


@printer(Inverse)
def _inverse(node: Node, p: _Printer) -> tuple[str, int]:
    assert isinstance(node, Inverse)
    return p.at(node.arg, ATOM) + ("^{-1}" if p.style.latex else "⁻¹"), POSTFIX


@printer(Det)
def _det(node: Node, p: _Printer) -> tuple[str, int]:
    assert isinstance(node, Det)
    return ("\\det" if p.style.latex else "det") + f"({p.show(node.arg)})", ATOM


@printer(LogDet)
def _logdet(node: Node, p: _Printer) -> tuple[str, int]:
    assert isinstance(node, LogDet)
    return ("\\log\\det" if p.style.latex else "log det") + f"({p.show(node.arg)})", ATOM


@printer(Diagonal)
def _diagonal(node: Node, p: _Printer) -> tuple[str, int]:
    assert isinstance(node, Diagonal)
    name = r"\operatorname{diag}" if p.style.latex else "diag"
    return f"{name}({p.show(node.arg)})", ATOM


@printer(Size)
def _size(node: Node, p: _Printer) -> tuple[str, int]:
    assert isinstance(node, Size)
    return str(node.dim), ATOM


def _axis_suffix(axis: int | None, p: _Printer) -> str:
    if axis is None:
        return ""
    return rf",\ \mathrm{{axis}}={axis}" if p.style.latex else f", axis={axis}"


@printer(LogSumExp)
def _logsumexp(node: Node, p: _Printer) -> tuple[str, int]:
    assert isinstance(node, LogSumExp)
    name = r"\operatorname{logsumexp}" if p.style.latex else "logsumexp"
    return f"{name}({p.show(node.arg)}{_axis_suffix(node.axis, p)})", ATOM


@printer(Softmax)
def _softmax(node: Node, p: _Printer) -> tuple[str, int]:
    assert isinstance(node, Softmax)
    name = r"\operatorname{softmax}" if p.style.latex else "softmax"
    return f"{name}({p.show(node.arg)}{_axis_suffix(node.axis, p)})", ATOM
