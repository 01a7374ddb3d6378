"""A recursive-descent parser for the engine's numpy-flavoured expression language.

Grammar (numpy/Python precedence; ``**`` binds tighter than unary minus)::

    expr     := term (("+" | "-") term)*
    term     := unary (("*" | "/" | "@") unary)*
    unary    := ("-" | "+") unary | power
    power    := postfix ("**" unary)?
    postfix  := atom (".T")*
    atom     := NUMBER | NAME | NAME "(" expr ("," expr)* ")" | "(" expr ")"

``*`` and ``/`` are elementwise with numpy broadcasting (scalar ``*`` scales); the
exponent of ``**`` must be a number. Functions: sigmoid, tanh, exp, log, relu,
softplus, abs, sign, sqrt, sin, cos, tan, arcsin, arccos, arctan (elementwise), sum,
trace (or tr), sqnorm (‖A‖²_F), norm or norm2 (‖x‖₂, ‖A‖_F, so ``norm(A)**2`` is the
squared norm), norm1 (Σ|aᵢⱼ|), sum, mean, logsumexp (with ``axis=`` and ``keepdims=``)
and softmax (with ``axis=``), det, logdet, inv, diag (vector → diagonal matrix,
matrix → diagonal), and eye(n), ones(n), ones(n, m) of sizes; numpy's ``np.`` spelling
is accepted. Names are letters, digits and ``_``, starting with a letter.

The text is never handed to ``eval``, ``exec`` or ``sympify``: it is tokenized by one
regular expression and parsed here. Shapes are checked operation by operation. Input
longer than :data:`MAX_LENGTH` characters or nested deeper than :data:`MAX_NESTING`
raises :class:`~matgrad.engine.errors.NestingError`, never ``RecursionError``.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from matgrad.engine.errors import ExpressionSyntaxError, NestingError, ShapeError, UnknownNameError
from matgrad.engine.nodes import (
    FUNCTIONS,
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
    Power,
    Shape,
    Size,
    Softmax,
    SqNorm,
    Sum,
    Trace,
    Transpose,
    Var,
    variables,
)
from matgrad.engine.shapes import ShapeChecker, format_shape, parse_declaration

MAX_LENGTH = 2000
MAX_NESTING = 40
#: Constant folding gives up beyond this many bits (keeps ``10**10**10`` from hanging).
MAX_CONSTANT_BITS = 256

CALLS: dict[str, str] = {
    **{f: f for f in FUNCTIONS},
    "sum": "sum",
    "trace": "trace",
    "tr": "trace",
    "sqnorm": "sqnorm",
    "norm": "norm",
    "norm2": "norm",
    "norm1": "norm1",
    "mean": "mean",
    "logsumexp": "logsumexp",
    "softmax": "softmax",
    "det": "det",
    "logdet": "logdet",
    "inv": "inv",
    "diag": "diag",
    "eye": "eye",
    "ones": "ones",
}
#: Functions that take ``axis=`` (and, all but softmax, ``keepdims=``) keyword arguments.
AXIS_CALLS: dict[str, tuple[str, ...]] = {
    "sum": ("axis", "keepdims"),
    "mean": ("axis", "keepdims"),
    "logsumexp": ("axis", "keepdims"),
    "softmax": ("axis",),
}
#: Functions whose arguments are sizes (``eye(n)``, ``ones(n, m)``), not expressions.
SIZE_CALLS = {"eye", "ones"}
NUMPY_SPELLINGS = {
    "tanh", "exp", "log", "sum", "trace", "linalg.norm", "linalg.det", "linalg.inv", "diag", "eye", "ones",
    "abs", "sign", "sqrt", "sin", "cos", "tan", "arcsin", "arccos", "arctan",
}  # fmt: skip

# ASCII only, for numbers as for names: a digit such as 𝟐 or ٣ is an unexpected character.
_TOKEN = re.compile(
    r"\s*(?:(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z][A-Za-z0-9_]*)"
    r"|(?P<op>\*\*|[-+*/@().,=]))",
    re.ASCII,
)
_MAX_NUMBER_CHARS = 40
_MAX_EXPONENT = 300


@dataclass(frozen=True)
class Token:
    kind: str  # "number", "name", "op" or "end"
    text: str
    start: int
    end: int


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text``; an unknown character is a syntax error at its column."""
    if len(text) > MAX_LENGTH:
        raise NestingError(f"expression is {len(text)} characters long; the limit is {MAX_LENGTH}")
    tokens: list[Token] = []
    position = 0
    while True:
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            rest = text[position:]
            if not rest.strip():
                break
            column = position + len(rest) - len(rest.lstrip())
            raise ExpressionSyntaxError(f"unexpected character {text[column]!r}", text, column)
        kind = match.lastgroup or "op"
        start = match.start(kind)
        tokens.append(Token(kind, match.group(kind), start, match.end()))
        position = match.end()
    tokens.append(Token("end", "", len(text), len(text)))
    return tokens


@dataclass(frozen=True)
class Parsed:
    """A parsed subexpression: its node, its (possibly still inferred) shape, its source span."""

    node: Node
    shape: Shape
    start: int
    end: int


@dataclass(frozen=True)
class ParseResult:
    """The parsed tree, with every name's final shape, and the source text."""

    tree: Node
    text: str


def parse(text: str, shapes: Mapping[str, str | Sequence[Dim]] | None = None) -> ParseResult:
    """Parse and shape-check ``text``.

    ``shapes`` maps each name to its declared shape (see :func:`~matgrad.engine.shapes.parse_shape`);
    None infers every shape (undeclared names are matrices). With ``shapes`` given,
    every name must be declared.

    >>> result = parse("sqnorm(X @ W + b)", {"X": "n,k", "W": "k,m", "b": "m"})
    >>> from matgrad.engine.nodes import variables
    >>> {name: v.shape for name, v in variables(result.tree).items()}
    {'X': ('n', 'k'), 'W': ('k', 'm'), 'b': ('m',)}
    """
    declarations = None if shapes is None else {n: parse_declaration(s, n) for n, s in shapes.items()}
    declared = None if declarations is None else {name: shape for name, (shape, _) in declarations.items()}
    structures = {} if declarations is None else {name: kind for name, (_, kind) in declarations.items()}
    parser = _Parser(text, declared, structures)
    return ParseResult(parser.run(), text)


def _fold(value: Fraction) -> Const:
    if max(abs(value.numerator), value.denominator).bit_length() > MAX_CONSTANT_BITS:
        raise ExpressionSyntaxError(f"constant too large (more than {MAX_CONSTANT_BITS} bits)")
    return Const(value)


def scalar_constant(node: Node) -> Fraction | None:
    return node.value if isinstance(node, Const) and node.shape == () else None


class _Parser:
    def __init__(self, text: str, declared: dict[str, Shape] | None, structures: Mapping[str, str]):
        self.text = text
        self.structures = structures
        self.tokens = tokenize(text)
        self.index = 0
        self.nesting = 0
        self.declared = declared
        self.checker = ShapeChecker()
        self.names: dict[str, Var] = {}
        self.unknown: dict[str, int] = {}
        self.sizes_used: dict[str, tuple[int, int]] = {}  # size letters of eye(…)/ones(…), first span

    # -- token helpers -------------------------------------------------------------
    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.token
        self.index += 1
        return token

    def at(self, *ops: str) -> bool:
        return self.token.kind == "op" and self.token.text in ops

    def expect(self, op: str, context: str) -> Token:
        if not self.at(op):
            raise self.error(f"expected {op!r} {context}, found {self.describe(self.token)}")
        return self.advance()

    def describe(self, token: Token) -> str:
        return "the end of the expression" if token.kind == "end" else repr(token.text)

    def error(self, message: str, start: int | None = None, end: int | None = None) -> ExpressionSyntaxError:
        token = self.token
        first = token.start if start is None else start
        return ExpressionSyntaxError(message, self.text, first, token.end if end is None else end)

    def fold(self, value: Fraction, start: int, end: int) -> Const:
        """A folded constant, refused with a caret under its text when it is too large."""
        try:
            return _fold(value)
        except ExpressionSyntaxError as error:
            raise self.error(error.message, start, end) from None

    def enter(self) -> None:
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise NestingError(
                f"expression nested deeper than {MAX_NESTING} levels", self.text, self.token.start
            )

    def snippet(self, part: Parsed) -> str:
        return " ".join(self.text[part.start : part.end].split())

    def shape_error(self, whole: tuple[int, int], parts: Sequence[Parsed], why: str) -> ShapeError:
        described = " and ".join(
            f"{self.snippet(p)} is {format_shape(self.checker.shown(p.shape))}" for p in parts
        )
        return ShapeError(
            f"shape error in {' '.join(self.text[whole[0] : whole[1]].split())}: {described}; {why}",
            self.text,
            whole[0],
            whole[1],
        )

    # -- grammar ---------------------------------------------------------------------
    def run(self) -> Node:
        if self.token.kind == "end":
            raise self.error("empty expression")
        result = self.expr()
        if self.token.kind != "end":
            raise self.error(f"unexpected {self.describe(self.token)}")
        if self.unknown:
            first = min(self.unknown.values())
            names = ", ".join(self.unknown)
            known = ", ".join(self.declared or {}) or "none"
            raise UnknownNameError(
                f"no shape declared for {names} (declared: {known}); declare every name, "
                "or pass no shapes to infer them all",
                self.text,
                first,
                first + len(next(iter(self.unknown))),
            )
        reserved = {d for v in self.names.values() for d in map(str, v.shape)}
        tree = self.checker.finish(result.node, list(self.names.values()), reserved)
        self.check_sizes_bound(tree)
        return tree

    def check_sizes_bound(self, tree: Node) -> None:
        """A size of eye(n) or ones(n) must be the size of an argument: the code reads it from one."""
        bound = {d for v in variables(tree).values() for d in v.shape}
        for letter, (start, end) in self.sizes_used.items():
            if letter not in bound:
                raise ShapeError(
                    f"size {letter} is not a size of any argument; declare an argument with it "
                    "(e.g. X=n,k) or write the number",
                    self.text,
                    start,
                    end,
                )

    def expr(self) -> Parsed:
        left = self.term()
        while self.at("+", "-"):
            op = self.advance().text
            right = self.term()
            left = self.add(left, right, negate=op == "-")
        return left

    def term(self) -> Parsed:
        left = self.unary()
        while self.at("*", "/", "@"):
            op = self.advance().text
            right = self.unary()
            if op == "@":
                left = self.matmul(left, right)
            elif op == "*":
                left = self.multiply(left, right)
            else:
                left = self.divide(left, right)
        return left

    def unary(self) -> Parsed:
        if not self.at("-", "+"):
            return self.power()
        sign = self.advance()
        self.enter()
        operand = self.unary()
        self.nesting -= 1
        if sign.text == "+":
            return Parsed(operand.node, operand.shape, sign.start, operand.end)
        return Parsed(_negate(operand.node), operand.shape, sign.start, operand.end)

    def power(self) -> Parsed:
        base = self.postfix()
        if not self.at("**"):
            return base
        self.advance()
        self.enter()
        exponent = self.unary()
        self.nesting -= 1
        value = scalar_constant(exponent.node)
        if value is None:
            raise self.error(
                f"the exponent of ** must be a number, not {self.snippet(exponent)}",
                exponent.start,
                exponent.end,
            )
        constant = scalar_constant(base.node)
        if constant is not None and constant < 0 and value.denominator != 1:
            raise self.error(
                f"{self.snippet(base)} ** {self.snippet(exponent)} is not a real number",
                base.start,
                exponent.end,
            )
        if constant is not None and value.denominator == 1 and abs(value) <= 64 and (constant or value > 0):
            node: Node = self.fold(constant**value.numerator, base.start, exponent.end)
        else:
            node = Power(base.node, value)
        return Parsed(node, base.shape, base.start, exponent.end)

    def postfix(self) -> Parsed:
        result = self.atom()
        while self.at("."):
            dot = self.advance()
            if not (self.token.kind == "name" and self.token.text == "T"):
                raise self.error("after '.', only T (transpose) is supported", dot.start)
            end = self.advance().end
            node = result.node if len(result.shape) < 2 else _transpose(result.node)
            result = Parsed(node, tuple(reversed(result.shape)), result.start, end)
        return result

    def atom(self) -> Parsed:
        token = self.token
        if token.kind == "number":
            self.advance()
            return Parsed(self.fold(self.number(token), token.start, token.end), (), token.start, token.end)
        if token.kind == "name":
            if self.tokens[self.index + 1].text in ("(", ".") and token.text in ("np", "numpy"):
                return self.numpy_call()
            if self.tokens[self.index + 1].text == "(":
                return self.call(self.advance(), token.text)
            return self.name(self.advance())
        if self.at("("):
            self.advance()
            self.enter()
            inner = self.expr()
            self.nesting -= 1
            close = self.expect(")", "to close '('")
            return Parsed(inner.node, inner.shape, token.start, close.end)
        raise self.error(f"expected a number, a name or '(', found {self.describe(token)}")

    def number(self, token: Token) -> Fraction:
        mantissa, _, exponent = token.text.lower().partition("e")
        if len(token.text) > _MAX_NUMBER_CHARS or (exponent and abs(int(exponent)) > _MAX_EXPONENT):
            raise self.error(f"number {token.text[:20]}… is out of range")
        return Fraction(mantissa) * Fraction(10) ** int(exponent or 0)

    def name(self, token: Token) -> Parsed:
        name = token.text
        if name in CALLS:
            raise ExpressionSyntaxError(
                f"{name} is a function; call it as {name}(…)", self.text, token.start, token.end
            )
        if keyword.iskeyword(name):
            raise ExpressionSyntaxError(
                f"{name} is a Python keyword and cannot name an array", self.text, token.start, token.end
            )
        if name not in self.names:
            if self.declared is None:
                shape = self.checker.fresh_matrix()
            elif name in self.declared:
                shape = self.declared[name]
            else:
                self.unknown.setdefault(name, token.start)
                shape = self.checker.fresh_matrix()
            self.names[name] = Var(name, shape, self.structures.get(name, ""))
        var = self.names[name]
        return Parsed(var, var.shape, token.start, token.end)

    def numpy_call(self) -> Parsed:
        first = self.advance()
        parts: list[str] = []
        while self.at("."):
            self.advance()
            if self.token.kind != "name":
                raise self.error("expected a numpy function name after '.'")
            parts.append(self.advance().text)
        dotted = ".".join(parts)
        if dotted not in NUMPY_SPELLINGS or not self.at("("):
            known = ", ".join(f"np.{s}" for s in sorted(NUMPY_SPELLINGS))
            raise UnknownNameError(
                f"unknown function {first.text}.{dotted}; known: {known}",
                self.text,
                first.start,
                self.token.start,
            )
        return self.call(first, dotted.rpartition(".")[2])

    def call(self, name_token: Token, name: str) -> Parsed:
        if name not in CALLS:
            raise UnknownNameError(
                f"unknown function {name}; the functions are {', '.join(CALLS)}",
                self.text,
                name_token.start,
                name_token.end,
            )
        self.expect("(", f"after {name}")
        if CALLS[name] in SIZE_CALLS:
            return self.size_call(name_token, CALLS[name])
        self.enter()
        args: list[Parsed] = []
        keywords: dict[str, tuple[int | bool, Token]] = {}
        while True:
            if self.token.kind == "name" and self.tokens[self.index + 1].text == "=":
                keyword_token = self.advance()
                self.advance()
                keywords[keyword_token.text] = (self.keyword_value(keyword_token), keyword_token)
            elif keywords:
                raise self.error("a positional argument cannot follow a keyword argument")
            else:
                args.append(self.expr())
            if not self.at(","):
                break
            self.advance()
        self.nesting -= 1
        close = self.expect(")", f"to close {name}(")
        allowed = AXIS_CALLS.get(CALLS[name], ())
        for key, (_, where) in keywords.items():
            if key not in allowed:
                takes = f"takes {' and '.join(k + '=' for k in allowed)}" if allowed else "takes no keywords"
                raise ExpressionSyntaxError(f"{name} {takes}, not {key}=", self.text, where.start, where.end)
        if len(args) != 1:
            raise ExpressionSyntaxError(
                f"{name} takes one argument, got {len(args)}", self.text, name_token.start, close.end
            )
        arg = args[0]
        span = (name_token.start, close.end)
        kind = CALLS[name]
        if kind in AXIS_CALLS:
            return self.reduction(kind, arg, keywords, span)
        if kind == "sqnorm":
            return Parsed(SqNorm(arg.node), (), *span)
        if kind == "norm":
            return Parsed(Power(SqNorm(arg.node), Fraction(1, 2)), (), *span)
        if kind == "norm1":
            return Parsed(Sum(Apply("abs", arg.node)), (), *span)
        if kind in ("trace", "det", "logdet", "inv"):
            shape = self.checker.square(arg.shape, lambda why: self.shape_error(span, [arg], why), kind)
            node: Node = {"trace": Trace, "det": Det, "logdet": LogDet, "inv": Inverse}[kind](arg.node)
            return Parsed(node, shape if kind == "inv" else (), *span)
        if kind == "diag":
            rank = len(self.checker.resolve(arg.shape))
            if rank == 1:
                return Parsed(Diag(arg.node), (arg.shape[0], arg.shape[0]), *span)
            shape = self.checker.square(
                arg.shape, lambda why: self.shape_error(span, [arg], why + " or a 1-D vector"), "diag"
            )
            return Parsed(Diagonal(arg.node), shape[:1], *span)
        return Parsed(Apply(kind, arg.node), arg.shape, *span)

    def keyword_value(self, keyword_token: Token) -> int | bool:
        """An integer (``axis=1``, ``axis=-1``) or ``True``/``False`` (``keepdims=True``)."""
        negative = self.at("-")
        if negative:
            self.advance()
        token = self.advance()
        if token.kind == "number" and token.text.isdigit():
            return -int(token.text) if negative else int(token.text)
        if token.kind == "name" and token.text in ("True", "False") and not negative:
            return token.text == "True"
        raise ExpressionSyntaxError(
            f"{keyword_token.text}= takes an integer or True/False, found {self.describe(token)}",
            self.text,
            token.start,
            token.end,
        )

    def reduction(
        self, kind: str, arg: Parsed, keywords: dict[str, tuple[int | bool, Token]], span: tuple[int, int]
    ) -> Parsed:
        """sum, mean, logsumexp and softmax, over every entry or along ``axis``."""
        shape = self.checker.resolve(arg.shape)
        axis_value, axis_token = keywords.get("axis", (None, None))
        keepdims = bool(keywords.get("keepdims", (False, None))[0])
        axis: int | None = None
        if axis_value is not None and axis_token is not None:
            if isinstance(axis_value, bool) or not -len(shape) <= axis_value < len(shape):
                rank = f"a {len(shape)}-D argument" if shape else "a scalar"
                raise ShapeError(
                    f"axis={axis_value} is out of range for {rank} ({self.snippet(arg)} is "
                    f"{format_shape(self.checker.shown(arg.shape))})",
                    self.text,
                    *span,
                )
            axis = axis_value % len(shape)
        if len(shape) == 1 and not keepdims:
            axis = None  # along the only axis: every entry
        if kind == "softmax":
            return Parsed(Softmax(arg.node, axis), arg.shape, *span)
        node: Node = (LogSumExp if kind == "logsumexp" else Sum)(arg.node, axis, keepdims)
        reduced = [d for i, d in enumerate(shape) if axis is None or i == axis]
        if kind == "mean":
            node = Mul((node, *(Power(Size(d), -Fraction(1)) for d in reduced if d != 1)))
        if keepdims:
            result: Shape = tuple(1 if axis is None or i == axis else d for i, d in enumerate(shape))
        else:
            result = tuple(d for i, d in enumerate(shape) if axis is not None and i != axis)
        return Parsed(node, result, *span)

    def size_call(self, name_token: Token, kind: str) -> Parsed:
        """``eye(n)``: the identity of size n; ``ones(n)``, ``ones(n, m)``: all-ones arrays."""
        sizes: list[Dim] = []
        while True:
            token = self.token
            if token.kind != "end":
                self.advance()
            if token.kind == "number" and token.text.isdigit() and 0 < int(token.text) <= 999999:
                sizes.append(int(token.text))
            elif token.kind == "name" and not keyword.iskeyword(token.text) and token.text not in CALLS:
                sizes.append(token.text)
                self.sizes_used.setdefault(token.text, (token.start, token.end))
            else:
                raise self.error(
                    f"{kind}(…) takes sizes (a size letter such as n, or a positive integer), "
                    f"found {self.describe(token)}",
                    token.start,
                    token.end,
                )
            if not self.at(","):
                break
            self.advance()
        close = self.expect(")", f"to close {kind}(")
        most = 1 if kind == "eye" else 2
        if len(sizes) > most:
            raise ExpressionSyntaxError(
                f"{kind} takes {'one size' if most == 1 else 'one or two sizes'}, got {len(sizes)}",
                self.text,
                name_token.start,
                close.end,
            )
        span = (name_token.start, close.end)
        if kind == "eye":
            return Parsed(Identity(sizes[0]), (sizes[0], sizes[0]), *span)
        return Parsed(Const(Fraction(1), tuple(sizes)), tuple(sizes), *span)

    # -- building, with shape checks and constant folding ------------------------------
    def broadcast(self, left: Parsed, right: Parsed, op: str) -> Shape:
        def fail(i: int, j: int) -> ShapeError:
            why = f"{op} needs shapes that broadcast (equal sizes, or 1)"
            return self.shape_error((left.start, right.end), [left, right], why)

        return self.checker.broadcast([left.shape, right.shape], fail)

    def add(self, left: Parsed, right: Parsed, negate: bool) -> Parsed:
        shape = self.broadcast(left, right, "-" if negate else "+")
        a, b = scalar_constant(left.node), scalar_constant(right.node)
        if a is not None and b is not None:
            node: Node = self.fold(a - b if negate else a + b, left.start, right.end)
        else:
            second = _negate(right.node) if negate else right.node
            node = Add(_flat(Add, left.node) + _flat(Add, second))
        return Parsed(node, shape, left.start, right.end)

    def multiply(self, left: Parsed, right: Parsed) -> Parsed:
        shape = self.broadcast(left, right, "*")
        a, b = scalar_constant(left.node), scalar_constant(right.node)
        node: Node = (
            self.fold(a * b, left.start, right.end)
            if a is not None and b is not None
            else Mul(_flat(Mul, left.node) + _flat(Mul, right.node))
        )
        return Parsed(node, shape, left.start, right.end)

    def divide(self, left: Parsed, right: Parsed) -> Parsed:
        divisor = scalar_constant(right.node)
        if divisor == 0:
            raise self.error("division by zero", right.start, right.end)
        reciprocal = (
            self.fold(1 / divisor, right.start, right.end)
            if divisor is not None
            else Power(right.node, Fraction(-1))
        )
        return self.multiply(left, Parsed(reciprocal, right.shape, right.start, right.end))

    def matmul(self, left: Parsed, right: Parsed) -> Parsed:
        span = (left.start, right.end)
        shape = self.checker.matmul(
            left.shape, right.shape, lambda why: self.shape_error(span, [left, right], why)
        )
        node = MatMul(_flat(MatMul, left.node) + _flat(MatMul, right.node))
        return Parsed(node, shape, *span)


def _flat(kind: type[Add] | type[Mul] | type[MatMul], node: Node) -> tuple[Node, ...]:
    """Operands of an associative operation, merging a nested one of the same kind."""
    if isinstance(node, Add) and kind is Add:
        return node.terms
    if isinstance(node, Mul | MatMul) and isinstance(node, kind):
        return node.factors
    return (node,)


def _negate(node: Node) -> Node:
    value = scalar_constant(node)
    if value is not None:
        return Const(-value)
    return Mul((Const(Fraction(-1)), *_flat(Mul, node)))


def _transpose(node: Node) -> Node:
    return node.arg if isinstance(node, Transpose) else Transpose(node)
