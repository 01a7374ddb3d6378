"""Read the derivation documents and check every displayed equation on sympy matrices.

The documents are the checkable form: each ``$$`` block is parsed by latex2mathml (the
TeX-math parser, see README.md) and its parse tree is evaluated on numpy object arrays of
sympy symbols at small concrete sizes, with σ the opaque
``matgrad.symbolic.functions.sigma`` (σ′ = σ(1 − σ)). A block is one or more statements
separated by ``\\quad``; each statement is one of

- a declaration ``X, W \\in \\mathbb{R}^{n \\times m}`` (or ``\\in \\mathbb{R}``, a scalar):
  X and W become matrices of fresh symbols, and dX, dW their differentials;
- a definition ``R = XW + b`` or ``f(X, W, b) = ...``: the left side is a name not yet
  bound, and it is bound to the value of the right side;
- an assumption ``W = 2``: a declared argument set to a number, substituted into every
  later comparison (derivatives are still taken symbolically first);
- a claim ``A = B = C``: every pair of neighbouring sides must be equal entrywise.

Inline ``$...$`` math is parsed too, and may only declare. Sections scope the statements:
a section sees what its ancestors' own text states before their first sub-heading, and
each innermost section is checked on its own.

Vocabulary: juxtaposition and ``\\cdot`` multiply (matrix product, or scaling by a
scalar); ``\\odot`` is the Hadamard product; ``^\\top`` transposes; ``^2`` squares a scalar;
``\\mathrm{d}E`` is the differential of E (Σ over every argument entry a of
∂E/∂a · da); ``\\frac{\\partial f}{\\partial A}`` is the array of ∂f/∂Aᵢⱼ (A's shape);
``\\langle A, B \\rangle`` = Σ AᵢⱼBᵢⱼ; ``\\lVert E \\rVert_F^2`` = Σ Eᵢⱼ²;
``\\operatorname{tr}``; ``\\sigma``, ``\\sigma'`` and ``e^{x}`` elementwise on scalars;
``\\mathbf{1}_n`` the (n, 1) column of ones; ``\\frac{a}{b}`` divides scalars; a sum adds
a row (1, m) to every row of an (n, m) matrix, as numpy broadcasting does.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy
from latex2mathml.walker import Node, walk
from markdown_it import MarkdownIt
from mdit_py_plugins.dollarmath import dollarmath_plugin

from matgrad.symbolic.functions import sigma

Value = Any  # a sympy expression (scalar) or a 2-D numpy object array of them


class CheckError(Exception):
    """A block that cannot be read, or a claim that is false."""


# --------------------------------------------------------------------------- Markdown


@dataclass(frozen=True)
class Math:
    """One math span of a document: ``$$`` display or ``$`` inline."""

    tex: str
    display: bool
    line: int  # 1-based line of the document where the span starts


@dataclass
class Section:
    """A heading with the math directly under it and its sub-sections."""

    title: str
    level: int
    start: int  # first line (1-based, the heading itself)
    end: int  # last line
    math: list[Math] = field(default_factory=list)
    children: list[Section] = field(default_factory=list)
    parent: Section | None = None

    def ancestry(self) -> list[Section]:
        chain, node = [], self
        while node is not None:
            chain.append(node)
            node = node.parent
        return chain[::-1]

    def leaves(self) -> Iterator[Section]:
        if not self.children:
            yield self
        for child in self.children:
            yield from child.leaves()

    @property
    def path(self) -> str:
        return " > ".join(s.title for s in self.ancestry() if s.level > 0)


def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark").use(
        dollarmath_plugin, allow_space=True, allow_digits=True, double_inline=True
    )


def read_document(text: str) -> Section:
    """The section tree of a Markdown document, with every math span in its section."""
    root = Section("", 0, 1, len(text.splitlines()))
    current = root
    tokens = _markdown().parse(text)
    for index, token in enumerate(tokens):
        line = token.map[0] + 1 if token.map else current.start
        if token.type == "heading_open":
            level = int(token.tag[1:])
            while current.level >= level:
                current.end = line - 1
                current = current.parent  # type: ignore[assignment]
            section = Section(tokens[index + 1].content, level, line, root.end, parent=current)
            current.children.append(section)
            current = section
        elif token.type == "math_block":
            current.math.append(Math(token.content.strip(), True, line))
        elif token.type == "inline" and token.children:
            for child in token.children:
                if child.type in ("math_inline", "math_inline_double"):
                    current.math.append(Math(child.content.strip(), child.type == "math_inline_double", line))
    return root


def every_math(root: Section) -> Iterator[Math]:
    yield from root.math
    for child in root.children:
        yield from every_math(child)


def unit_math(leaf: Section) -> list[Math]:
    """What an innermost section sees: its ancestors' own math, then its own."""
    return [m for section in leaf.ancestry() for m in section.math]


# --------------------------------------------------------------------------- tokens

_SPACES = {r"\,", r"\;", r"\!", r"\ ", "~", r"\:"}
_SEPARATORS = {r"\quad", r"\qquad"}
_OPERATORS = {"+", "-", "=", ",", ".", r"\cdot", r"\odot"}
_GREEK_NAMES = {r"\Delta", r"\Gamma", r"\Lambda", r"\Sigma", r"\Phi", r"\Psi", r"\Omega"}
_REALS = "&#x0211D;"  # \mathbb{R} as latex2mathml reads it
_D = "&#x00064;"  # \mathrm{d}

Token = tuple[str, Any]


def _text(node: Node) -> str:
    """The plain text of a subscript or size: ``1``, ``n``, ``{ij}`` -> ``ij``."""
    if node.token == "{}":
        return "".join(_text(c) for c in node.children or ())
    if node.children:
        raise CheckError(f"expected a plain subscript, got {node.token}")
    return node.token


def _is_name(node: Node) -> bool:
    return (len(node.token) == 1 and node.token.isalpha()) or node.token in _GREEK_NAMES


def _script_tokens(node: Node) -> list[Token]:
    children = node.children or ()
    base = children[0]
    sub = children[1] if node.token in ("_", "_^") else None
    sup = children[-1] if node.token in ("^", "_^") else None
    if base.token == r"\sigma" and sup is not None and sup.token == r"\prime" and sub is None:
        return [("func", "sigma_prime")]
    if base.token == r"\rVert":
        return [("rnorm", (sub and _text(sub), sup and _text(sup)))]
    if base.token == _REALS and sub is None and sup is not None:
        parts = [c for c in (sup.children or ()) if c.token != r"\times"]
        return [("reals", tuple(_text(p) for p in parts))]
    if base.token == "e" and sub is None and sup is not None:
        return [("exp", tokens(sup.children if sup.token == "{}" else (sup,)))]
    if base.token == r"\mathbf" and sub is not None:
        inner = _text(base.children[0]) if base.children else ""
        if inner != "1":
            raise CheckError(r"\mathbf is only used for the ones vector \mathbf{1}_n")
        head: list[Token] = [("ones", _text(sub))]
    elif sub is not None and _is_name(base):
        head = [("name", f"{base.token}_{_text(sub)}")]
    elif sub is not None:
        raise CheckError(f"cannot read the subscript of {base.token}")
    else:
        head = tokens((base,))
    return head + ([("sup", sup)] if sup is not None else [])


def tokens(nodes: tuple[Node, ...] | list[Node]) -> list[Token]:
    """Flatten latex2mathml's parse tree into tokens for the expression parser."""
    out: list[Token] = []
    for node in nodes:
        t = node.token
        if t in _SPACES:
            continue
        if t in _SEPARATORS:
            out.append(("quad", t))
        elif t in ("^", "_", "_^"):
            out.extend(_script_tokens(node))
        elif t == "{}":
            out.append(("group", tokens(node.children or ())))
        elif t == r"\left":
            inner = list(node.children or ())
            if node.delimiter != "(" or not inner or inner[-1].delimiter != ")":
                raise CheckError(r"only \left( ... \right) is used")
            out.append(("group", tokens(inner[:-1])))
        elif t == r"\frac":
            numerator, denominator = node.children or (None, None)
            out.append(("frac", (tokens((numerator,)), tokens((denominator,)))))
        elif t in ("(", ")"):
            out.append(("open" if t == "(" else "close", t))
        elif t in _OPERATORS:
            out.append(("op", t))
        elif t in (r"\langle", r"\rangle", r"\lVert", r"\partial", r"\in", _D, _REALS):
            out.append(({_D: "d", _REALS: "reals"}.get(t, t), ()))
        elif t == r"\operatorname{tr}":
            out.append(("func", "tr"))
        elif t == r"\sigma":
            out.append(("func", "sigma"))
        elif t.replace(".", "", 1).isdigit():
            out.append(("num", t))
        elif _is_name(node):
            out.append(("name", t))
        else:
            raise CheckError(f"the checker does not know {t!r}")
    return out


def _split(items: list[Token], kind: str, value: Any = None) -> list[list[Token]]:
    """Split a token list at top-level separators (tokens inside ( ) are nested)."""
    parts: list[list[Token]] = [[]]
    depth = 0
    for tok in items:
        depth += tok[0] == "open"
        depth -= tok[0] == "close"
        if depth == 0 and tok[0] == kind and (value is None or tok[1] == value):
            parts.append([])
        else:
            parts[-1].append(tok)
    return parts


# --------------------------------------------------------------------------- values


def _is_array(value: Value) -> bool:
    return isinstance(value, np.ndarray)


def _shape(value: Value) -> tuple[int, ...]:
    return value.shape if _is_array(value) else ()


def _map(function: Any, value: Value) -> Value:
    if not _is_array(value):
        return function(value)
    out = np.empty(value.shape, dtype=object)
    for index in np.ndindex(value.shape):
        out[index] = function(value[index])
    return out


def _multiply(a: Value, b: Value) -> Value:
    if not _is_array(a) or not _is_array(b):
        return a * b
    if a.shape[1] != b.shape[0]:
        raise CheckError(f"cannot multiply {a.shape} by {b.shape}")
    return a @ b


def _add(a: Value, b: Value) -> Value:
    sa, sb = _shape(a), _shape(b)
    row_broadcast = len(sa) == len(sb) == 2 and sa[1] == sb[1] and 1 in (sa[0], sb[0])
    if sa and sb and sa != sb and not row_broadcast:
        raise CheckError(f"cannot add {sa} and {sb}")
    return a + b


def _hadamard(a: Value, b: Value) -> Value:
    if _shape(a) != _shape(b):
        raise CheckError(f"Hadamard product of {_shape(a)} and {_shape(b)}")
    return a * b


def _frobenius(a: Value, b: Value) -> Value:
    if _shape(a) != _shape(b):
        raise CheckError(f"inner product of {_shape(a)} and {_shape(b)}")
    return sympy.Add(*np.ravel(a * b)) if _is_array(a) else a * b


_t = sympy.Symbol("t")
_SIGMA_PRIME = sympy.Lambda(_t, sigma(_t).diff(_t))


@dataclass
class Scope:
    """Declared arguments (fresh symbols), bound names, differentials and assumptions."""

    sizes: dict[str, int]
    values: dict[str, Value] = field(default_factory=dict)
    arguments: dict[str, tuple[int, ...]] = field(default_factory=dict)
    differentials: dict[sympy.Symbol, sympy.Symbol] = field(default_factory=dict)
    assumptions: dict[sympy.Symbol, sympy.Expr] = field(default_factory=dict)
    spare_sizes: Iterator[int] = field(default_factory=lambda: itertools.count(2))
    # id(value) -> (value, its differential); holding the value keeps its id from being reused.
    _differentials_of: dict[int, tuple[Value, Value]] = field(default_factory=dict)

    def size(self, dim: str) -> int:
        if dim.isdigit():
            return int(dim)
        if dim not in self.sizes:
            self.sizes[dim] = next(self.spare_sizes)
        return self.sizes[dim]

    def declare(self, name: str, dims: tuple[str, ...]) -> None:
        shape = tuple(self.size(d) for d in dims)
        if not shape:
            value: Value = sympy.Symbol(name)
            self.differentials[value] = sympy.Symbol("d" + name)
        else:
            if len(shape) != 2:
                raise CheckError(f"{name}: declare a scalar or a matrix")
            value = np.empty(shape, dtype=object)
            for i, j in np.ndindex(shape):
                value[i, j] = sympy.Symbol(f"{name}[{i},{j}]")
                self.differentials[value[i, j]] = sympy.Symbol(f"d{name}[{i},{j}]")
        self.values[name] = value
        self.arguments[name] = shape

    def differential(self, value: Value) -> Value:
        """dE = Σ over every argument entry a of ∂E/∂a · da, entrywise (a named value's is reused)."""
        cached = self._differentials_of.get(id(value))
        if cached is None or cached[0] is not value:
            cached = (value, self._differential(value))
            self._differentials_of[id(value)] = cached
        return cached[1]

    def _differential(self, value: Value) -> Value:
        # d/dt E(a + t·da) at t = 0: one derivative per entry instead of one per argument entry.
        step = sympy.Dummy("t")
        moved = {a: a + step * da for a, da in self.differentials.items()}

        def d(expression: Any) -> Any:
            return sympy.sympify(expression).xreplace(moved).diff(step).subs(step, 0)

        return _map(d, value)


class _Parser:
    """Recursive descent over tokens: sum > Hadamard > product > postfix > atom."""

    def __init__(self, items: list[Token], scope: Scope) -> None:
        self.items, self.scope, self.at = items, scope, 0

    def peek(self) -> Token | None:
        return self.items[self.at] if self.at < len(self.items) else None

    def take(self, kind: str | None = None) -> Token:
        tok = self.peek()
        if tok is None or (kind is not None and tok[0] != kind):
            raise CheckError(f"expected {kind or 'more'} at token {self.at}, got {tok}")
        self.at += 1
        return tok

    def parse(self) -> Value:
        value = self.sum()
        if self.peek() is not None:
            raise CheckError(f"unexpected {self.peek()} after a complete expression")
        return value

    def sum(self) -> Value:
        negative = self.peek() == ("op", "-")
        if negative:
            self.take()
        value = self.hadamard()
        if negative:
            value = -value
        while self.peek() in (("op", "+"), ("op", "-")):
            sign = self.take()[1]
            term = self.hadamard()
            value = _add(value, term if sign == "+" else -term)
        return value

    def hadamard(self) -> Value:
        value = self.product()
        while self.peek() == ("op", r"\odot"):
            self.take()
            value = _hadamard(value, self.product())
        return value

    def product(self) -> Value:
        value = self.postfix()
        while True:
            tok = self.peek()
            if tok == ("op", r"\cdot"):
                self.take()
            elif tok is None or tok[0] in ("op", "close", r"\rangle", "rnorm", "quad", "sup"):
                return value
            value = _multiply(value, self.postfix())

    def postfix(self) -> Value:
        value = self.atom()
        while self.peek() is not None and self.peek()[0] == "sup":  # type: ignore[index]
            script: Node = self.take()[1]
            if script.token == r"\top":
                value = value.T if _is_array(value) else value
            elif script.token.isdigit() and not _is_array(value):
                value = value ** int(script.token)
            else:
                raise CheckError(f"cannot apply the superscript {script.token} to a {_shape(value)} value")
        return value

    def parenthesised(self) -> Value:
        self.take("open")
        value = self.sum()
        self.take("close")
        return value

    def atom(self) -> Value:
        kind, payload = self.peek() or ("end", None)
        if kind == "open":
            return self.parenthesised()
        self.take()
        if kind == "num":
            return sympy.Rational(payload)
        if kind == "name":
            if payload not in self.scope.values:
                raise CheckError(f"{payload} is used before it is declared or defined")
            return self.scope.values[payload]
        if kind == "ones":
            return np.full((self.scope.size(payload), 1), sympy.Integer(1), dtype=object)
        if kind == "group":
            return _Parser(payload, self.scope).parse()
        if kind == "d":
            return self.scope.differential(self.postfix())
        if kind == "func":
            argument = self.parenthesised()
            if payload == "tr":
                if len(_shape(argument)) != 2 or argument.shape[0] != argument.shape[1]:
                    raise CheckError(f"trace of a {_shape(argument)} value")
                return sympy.Add(*np.diagonal(argument))
            return _map(sigma if payload == "sigma" else _SIGMA_PRIME, argument)
        if kind == "exp":
            return _map(sympy.exp, _Parser(payload, self.scope).parse())
        if kind == r"\langle":
            left = self.sum()
            self.take("op")
            right = self.sum()
            self.take(r"\rangle")
            return _frobenius(left, right)
        if kind == r"\lVert":
            inner = self.sum()
            if self.take("rnorm")[1] != ("F", "2"):
                raise CheckError(r"only the squared Frobenius norm \lVert \cdot \rVert_F^2 is used")
            return _frobenius(inner, inner)
        if kind == "frac":
            return self.fraction(*payload)
        raise CheckError(f"unexpected {kind} {payload!r}")

    def fraction(self, top: list[Token], bottom: list[Token]) -> Value:
        top, bottom = _ungroup(top), _ungroup(bottom)
        if top[:1] == [(r"\partial", ())] and bottom[:1] == [(r"\partial", ())]:
            return self.partial(top[1:], bottom[1:])
        numerator, denominator = _Parser(top, self.scope).parse(), _Parser(bottom, self.scope).parse()
        if _is_array(numerator) or _is_array(denominator):
            raise CheckError("\\frac divides scalars only")
        return numerator / denominator

    def partial(self, top: list[Token], bottom: list[Token]) -> Value:
        if len(bottom) != 1 or bottom[0][0] != "name" or bottom[0][1] not in self.scope.arguments:
            raise CheckError(f"∂/∂ of {bottom}: only a declared argument can vary")
        f = _Parser(top, self.scope).parse()
        if _is_array(f):
            if f.size != 1:
                raise CheckError(f"∂f/∂A needs a scalar f, got shape {f.shape}")
            f = f.item()
        return _map(lambda a: sympy.diff(f, a), self.scope.values[bottom[0][1]])


def _ungroup(items: list[Token]) -> list[Token]:
    return items[0][1] if len(items) == 1 and items[0][0] == "group" else items


def equal(a: Value, b: Value, assumptions: Mapping[sympy.Symbol, Any] | None = None) -> str | None:
    """None if a = b entrywise (after the assumptions), else what differs."""
    left, right = np.asarray(a, dtype=object), np.asarray(b, dtype=object)
    if left.shape != right.shape:
        if left.size != 1 or right.size != 1:
            return f"shapes differ: {left.shape} and {right.shape}"
        left, right = left.reshape(()), right.reshape(())
    for index in np.ndindex(left.shape):
        difference = sympy.sympify(left[index] - right[index]).subs(assumptions or {})
        if sympy.expand(difference) == 0:
            continue
        # σ is opaque; only a claim that mentions e^x needs σ written out as 1/(1 + e^{-x}).
        if difference.has(sympy.exp) and sympy.simplify(difference.rewrite(sympy.exp)) == 0:
            continue
        shown = str(sympy.expand(difference))
        shown = shown if len(shown) <= 300 else shown[:300] + " ..."
        return f"entry {index} differs by {shown}"
    return None


# --------------------------------------------------------------------------- statements


@dataclass(frozen=True)
class Step:
    """The outcome of one statement of a block."""

    math: Math
    kind: str  # "declaration" | "definition" | "assumption" | "claim"
    sides: tuple[Value, ...] = ()
    error: str | None = None


def _declaration(items: list[Token], scope: Scope) -> None:
    left, right = _split(items, r"\in")
    if len(right) != 1 or right[0][0] != "reals":
        raise CheckError(r"declare as NAME, ... \in \mathbb{R}^{r \times c} or \in \mathbb{R}")
    dims = right[0][1]
    for part in _split(left, "op", ","):
        if len(part) != 1 or part[0][0] != "name":
            raise CheckError(f"cannot declare {part}")
        scope.declare(part[0][1], dims)


def _bound_name(side: list[Token]) -> str | None:
    """The name a definition binds: ``R`` or ``f(X, W, b)``."""
    if (
        side
        and side[0][0] == "name"
        and (len(side) == 1 or (side[1][0] == "open" and side[-1][0] == "close"))
    ):
        return str(side[0][1])
    return None


def statement(items: list[Token], math: Math, scope: Scope, compare: bool = True) -> Step:
    """Evaluate one statement in ``scope``, binding names as it goes; ``compare=False`` skips claims."""
    while items and items[-1] in (("op", ","), ("op", ".")):
        items = items[:-1]
    if any(t[0] == r"\in" for t in items):
        _declaration(items, scope)
        return Step(math, "declaration")
    if not math.display:
        return Step(math, "prose")
    sides = _split(items, "op", "=")
    if len(sides) < 2:
        raise CheckError("a displayed block must be an equation, a definition or a declaration")
    name = _bound_name(sides[0])
    if len(sides) == 2 and name is not None and name not in scope.values:
        scope.values[name] = _Parser(sides[1], scope).parse()
        return Step(math, "definition", (scope.values[name],))
    may_assume = len(sides) == 2 and name in scope.arguments and len(sides[0]) == 1
    if not compare and not may_assume:
        return Step(math, "skipped")
    values = tuple(_Parser(side, scope).parse() for side in sides)
    if may_assume:
        number = values[1].item() if _is_array(values[1]) and values[1].size == 1 else values[1]
        if not _is_array(number) and not sympy.sympify(number).free_symbols:
            argument = scope.values[name]  # type: ignore[index]
            for symbol in np.ravel(argument) if _is_array(argument) else [argument]:
                scope.assumptions[symbol] = number
            return Step(math, "assumption", values)
    for number, (left, right) in enumerate(itertools.pairwise(values), start=1):
        problem = equal(left, right, scope.assumptions)
        if problem is not None:
            problem = f"side {number} ≠ side {number + 1} (of {len(values)}): {problem}"
            return Step(math, "claim", values, problem)
    return Step(math, "claim", values)


def split_statements(math: Math) -> list[list[Token]]:
    return _split(tokens(walk(math.tex)), "quad")


def check_section(
    leaf: Section, sizes: Mapping[str, int] | None = None, only_line: int | None = None
) -> tuple[list[Step], Scope]:
    """Check an innermost section with what it inherits; declarations act first.

    With ``only_line``, only the claims of the block on that line are compared (the others
    are skipped; definitions and assumptions are still evaluated).
    """
    scope = Scope(dict(sizes or {}))
    parsed = []
    for math in unit_math(leaf):
        try:
            parsed.append((math, split_statements(math)))
        except CheckError as error:
            if math.display:  # inline math that is not a declaration is prose
                parsed.append((math, [[("error", str(error))]]))
    steps: list[Step] = []
    # Declarations first, later ones overriding earlier ones (a section re-declaring b).
    ordered = sorted(
        ((m, s) for m, items in parsed for s in items),
        key=lambda ms: not any(t[0] == r"\in" for t in ms[1]),
    )
    for math, items in ordered:
        if items and items[0][0] == "error":
            steps.append(Step(math, "unreadable", (), items[0][1]))
            continue
        try:
            steps.append(statement(items, math, scope, only_line in (None, math.line)))
        except CheckError as error:
            steps.append(Step(math, "unreadable", (), str(error)))
    return steps, scope


def raw_sides(tex: str) -> list[str]:
    """The TeX text of each side of an equation (split at top-level '=')."""
    sides, depth, start = [], 0, 0
    for i, char in enumerate(tex):
        depth += char == "{"
        depth -= char == "}"
        if char == "=" and depth == 0:
            sides.append(tex[start:i].strip())
            start = i + 1
    sides.append(tex[start:].strip().rstrip(".,").strip())
    return sides
