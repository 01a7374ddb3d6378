"""numpy code for a derivation: one function computing the value and the gradients.

The generated function computes every repeated subexpression once (the value's
intermediates are reused by the gradients, as in hand-written backpropagation), updates
fresh temporaries in place (``R = S @ W2; R += b2; R -= Y``) and scales a shared operand
once when several gradients need the same multiple of it (``G = 2 * R``). It converts
its arguments to one working dtype (numpy's promotion; integers and bools become
float64), runs unchanged on object arrays of sympy symbols (the elementwise functions of
:mod:`matgrad.elementwise` dispatch on dtype), and never returns an input or a view of one.

The expression of each node type is one rule of the table :data:`PYTHON`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from matgrad.engine.bindings import count_uses, trivial, walk_all
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
    Shape,
    Size,
    Softmax,
    SqNorm,
    Sum,
    Trace,
    Transpose,
    Var,
    with_children,
)
from matgrad.engine.shapes import format_shape, shape_of, substitute
from matgrad.engine.simplify import split

ADD, MUL, UNARY, POWER, ATOM = 1, 2, 3, 4, 5

_NUMBER_HELPER = '''


def _number(numerator, denominator, dtype):
    """numerator/denominator: a float for numeric dtypes, an exact sympy Rational for object arrays."""
    if dtype == object:
        import sympy

        return sympy.Rational(numerator, denominator)
    return numerator / denominator
'''


@dataclass(frozen=True)
class GeneratedCode:
    """Source of a module defining ``function_name(*arguments) -> (value, {name: gradient})``."""

    source: str
    function_name: str
    arguments: tuple[str, ...]
    wrt: tuple[str, ...]

    def compile(self) -> Callable[..., tuple[Any, dict[str, Any]]]:
        """The function itself.

        The source is the engine's own output, built from node rules and from names the
        tokenizer admitted (letters, digits and ``_``, not Python keywords; the docstring
        is the parsed expression printed back); user text never reaches the compiler.
        """
        namespace: dict[str, Any] = {"__name__": "matgrad_generated"}
        exec(compile(self.source, f"<matgrad.engine {self.function_name}>", "exec"), namespace)
        function: Callable[..., tuple[Any, dict[str, Any]]] = namespace[self.function_name]
        return function


# What the second function's result holds, by function name (see matgrad.engine.second_order).
_RESULTS = {"value_and_hvp": "Hessian-vector products", "value_and_hessian": "Hessian matrices"}


def generate(
    value: Node,
    gradients: Mapping[str, Node],
    arguments: Sequence[Var],
    *,
    names: Mapping[Node, str] | None = None,
    function_name: str = "value_and_grad",
    docstring: str = "",
) -> GeneratedCode:
    """The numpy source computing ``value`` and ``gradients`` from ``arguments``.

    ``names`` (from :func:`matgrad.engine.bindings.display_names`) name the shared
    intermediates as in the printed derivation.
    """
    return _Generator(value, gradients, arguments, names or {}).module(function_name, docstring)


class _Generator:
    def __init__(
        self, value: Node, gradients: Mapping[str, Node], arguments: Sequence[Var], names: Mapping[Node, str]
    ):
        self.arguments = list(arguments)
        roots = _share_scaled_operands([value, *gradients.values()])
        self.value, grads = roots[0], roots[1:]
        self.gradients = dict(zip(gradients, grads, strict=True))
        self.dims = _dimension_sources(self.arguments)
        self.constants: dict[Fraction, str] = {}
        self.bound: dict[Node, str] = {}
        self.lines: list[str] = []
        self.display = names
        self.uses = count_uses([self.value, *grads])
        self.imports: set[str] = set()
        self.runtime: set[str] = set()  # functions of matgrad.engine.runtime the code calls

    # -- naming --------------------------------------------------------------------
    def name_for(self, node: Node) -> str:
        display = self.display.get(node)
        taken = set(self.bound.values())
        candidate = f"_{display}" if display else f"_t{sum(n not in self.display for n in self.bound)}"
        while candidate in taken:
            candidate += "_"
        return candidate

    def must_bind(self, node: Node) -> bool:
        if trivial(node) or (shape_of(node) == () and isinstance(node, Const)):
            return False
        if self.uses.get(node, 0) >= 2:
            return True
        return self.in_place_plan(node) is not None

    # -- emission ------------------------------------------------------------------
    def module(self, function_name: str, docstring: str) -> GeneratedCode:
        sqnorm_args = {
            n.arg for n in walk_all([self.value, *self.gradients.values()]) if isinstance(n, SqNorm)
        }
        for node in walk_all([self.value, *self.gradients.values()]):
            if node in self.bound:
                continue
            if self.must_bind(node) or (node in sqnorm_args and not isinstance(node, Var)):
                self.emit(node)
        value_code = self.expr(self.value)
        results = []
        returned: set[str] = set()
        for name, gradient in self.gradients.items():
            code = self.expr(gradient)
            if code in returned or _may_alias_input(gradient):
                code = f"{code}.copy()" if shape_of(gradient) != () else code
            returned.add(code)
            results.append(f"{name!r}: {code}")
        params = ", ".join(v.name for v in self.arguments)
        shapes = ", ".join(f"{v.name}: {format_shape(v.shape)}" for v in self.arguments)
        body = [f"    {v.name} = _np.asarray({v.name})" for v in self.arguments]
        received = ", ".join(f"{v.name!r}: {v.name}.shape" for v in self.arguments)
        declared = ", ".join(f"{v.name!r}: {tuple(v.shape)!r}" for v in self.arguments)
        body.append(f"    _check_shapes({{{received}}}, {{{declared}}})")
        body += [
            f"    _check_structure({v.name!r}, {v.name}, {v.structure!r})"
            for v in self.arguments
            if v.structure
        ]
        body += [
            f"    _dtype = _np.result_type({params})",
            '    if _dtype.kind in "biu":',
            "        _dtype = _np.dtype(_np.float64)",
        ]
        body += [f"    {v.name} = {v.name}.astype(_dtype, copy=False)" for v in self.arguments]
        body += [
            f"    {c} = _number({f.numerator}, {f.denominator}, _dtype)" for f, c in self.constants.items()
        ]
        body += [f"    {line}" for line in self.lines]
        body.append(f"    return {value_code}, {{{', '.join(results)}}}")
        imports = "".join(f", {f} as _{f}" for f in sorted(self.imports))
        header = [
            f'"""{docstring or "Generated by matgrad.engine."}"""',
            "",
            "import numpy as _np",
        ]
        checks = {"check_shapes"} | (
            {"check_structure"} if any(v.structure for v in self.arguments) else set()
        )
        header.append(
            "from matgrad.engine.runtime import "
            + ", ".join(f"{f} as _{f}" for f in sorted(checks | self.runtime))
        )
        if imports:
            header.append(f"from matgrad.elementwise import {imports[2:]}")
        helper = _NUMBER_HELPER if self.constants else ""
        what = _RESULTS.get(function_name, "gradients")
        doc = f'    """Value and {what} {tuple(self.gradients)} at {shapes}."""'
        source = (
            "\n".join(header)
            + helper
            + f"\n\n\ndef {function_name}({params}):\n{doc}\n"
            + "\n".join(body)
            + "\n"
        )
        return GeneratedCode(
            source, function_name, tuple(v.name for v in self.arguments), tuple(self.gradients)
        )

    def emit(self, node: Node) -> None:
        """``name = …`` for ``node``; a sum or product starting from a fresh array updates it in place."""
        name = self.name_for(node)
        plan = self.in_place_plan(node)
        if plan is None:
            self.lines.append(f"{name} = {self.expr(node, top=True)}")
        else:
            first, rest = plan
            self.lines.append(f"{name} = {self.expr(first, top=True)}")
            self.lines += [f"{name} {op}= {self.expr(operand)}" for op, operand in rest]
        self.bound[node] = name

    def in_place_plan(self, node: Node) -> tuple[Node, list[tuple[str, Node]]] | None:
        """(first operand, [(operator, operand), …]) when a fresh array of the result's shape
        can start the chain and take the other operands in place (``t += b``); else None."""
        full = shape_of(node)
        if full == () or not isinstance(node, Add | Mul):
            return None
        operands: list[tuple[str, Node]] = []
        if isinstance(node, Add):
            for term in node.terms:
                c, body = split(term)
                positive = (
                    Const(abs(c)) if body is None else body if abs(c) == 1 else Mul((Const(abs(c)), body))
                )
                operands.append(("+" if c > 0 else "-", positive))
        else:
            for factor in node.factors:
                reciprocal = isinstance(factor, Power) and factor.exponent == -1
                operands.append(
                    ("/", factor.base) if isinstance(factor, Power) and reciprocal else ("*", factor)
                )
        for index, (op, operand) in enumerate(operands):
            if op in "+*" and shape_of(operand) == full and self.fresh(operand):
                return operand, operands[:index] + operands[index + 1 :]
        return None

    def fresh(self, node: Node) -> bool:
        """Evaluating ``node`` inline allocates a new array that nothing else refers to."""
        if node in self.bound or trivial(node) or isinstance(node, Transpose | Const | Identity):
            return False
        return not (isinstance(node, Mul | Add) and self.must_bind(node))

    def number(self, value: Fraction) -> str:
        if value.denominator == 1:
            return str(value.numerator)
        if value not in self.constants:
            self.constants[value] = f"_c{len(self.constants)}"
        return self.constants[value]

    def dim(self, dim: Dim) -> str:
        return self.dims.get(dim, str(dim))

    def shape(self, shape: Shape) -> str:
        items = [self.dim(d) for d in shape]
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"

    def expr(self, node: Node, level: int = 0, top: bool = False) -> str:
        """``node`` as a Python expression, parenthesized if it binds looser than ``level``."""
        if not top and node in self.bound:
            return self.bound[node]
        code, precedence = PYTHON[type(node)](node, self)
        return code if precedence > level or (precedence == level == ATOM) else f"({code})"


def _dimension_sources(arguments: Sequence[Var]) -> dict[Dim, str]:
    """Each size, as read from the first argument that has it (``X.shape[0]``)."""
    sources: dict[Dim, str] = {}
    for var in arguments:
        for axis, dim in enumerate(var.shape):
            if dim != 1:
                sources.setdefault(dim, f"{var.name}.shape[{axis}]")
    return sources


def _may_alias_input(node: Node) -> bool:
    return isinstance(node, Var | Transpose)


def _share_scaled_operands(roots: list[Node]) -> list[Node]:
    """Apply each constant factor where the other gradients need it too, so it is paid once.

    ``2·(ΔW₁ᵀ)``, ``2·(XᵀΔ)``, ``2·1ₙᵀ(RW₂ᵀ)`` and ``2·SᵀR`` all contain R linearly; moving
    each 2 onto R makes ``2 * R`` one shared array, as in hand-written backpropagation,
    instead of scaling several larger arrays. Each scaled node takes the operand that the
    most scaled nodes can share (at least two), through products, sums and transposes.
    """
    options = {}
    counts: dict[tuple[Fraction, Node], int] = {}
    for node in walk_all(roots):
        c, body = split(node)
        if c != 1 and body is not None:
            options[node] = (c, _scalings(body, abs(c), depth=_SCALING_DEPTH))
            for operand in {operand for operand, _ in options[node][1]}:
                counts[(abs(c), operand)] = counts.get((abs(c), operand), 0) + 1
    mapping: dict[Node, Node] = {}
    for node, (c, choices) in options.items():
        ranked = [(counts[(abs(c), operand)], index) for index, (operand, _) in enumerate(choices)]
        count, best = max(ranked)
        if count >= 2:
            rebuilt = choices[best][1]
            mapping[node] = rebuilt if c > 0 else Mul((Const(Fraction(-1)), rebuilt))
    return [substitute(root, mapping) for root in roots] if mapping else roots


_SCALING_DEPTH = 4


def _scalings(body: Node, c: Fraction, depth: int) -> list[tuple[Node, Node]]:
    """(operand, body with c applied to that operand) for each place c·body can be applied:
    the body itself, or recursively a factor of a product, a summand's source, a transpose."""
    options: list[tuple[Node, Node]] = [(body, Mul((Const(c), body)))]
    if depth == 0:
        return options
    if isinstance(body, MatMul | Mul):
        parts = body.factors
    elif isinstance(body, Sum | Transpose):
        parts = (body.arg,)
    else:
        return options
    for index, part in enumerate(parts):
        if isinstance(part, Const):
            continue
        for operand, scaled in _scalings(part, c, depth - 1):
            options.append((operand, with_children(body, (*parts[:index], scaled, *parts[index + 1 :]))))
    return options


# ---------------------------------------------------------------------------------------
# The table: node -> (Python expression, precedence).

PythonRule = Callable[[Node, _Generator], tuple[str, int]]
PYTHON: RuleTable[PythonRule] = RuleTable("numpy code")
python = PYTHON.register


@python(Var)
def _var(node: Node, g: _Generator) -> tuple[str, int]:
    assert isinstance(node, Var)
    return node.name, ATOM


@python(Const)
def _const(node: Node, g: _Generator) -> tuple[str, int]:
    assert isinstance(node, Const)
    if node.shape == ():
        code = g.number(node.value)
        return code, (UNARY if node.value < 0 else ATOM)
    if node.value in (0, 1):
        return f"_np.{'zeros' if node.value == 0 else 'ones'}({g.shape(node.shape)}, _dtype)", ATOM
    return f"_np.full({g.shape(node.shape)}, {g.number(node.value)}, _dtype)", ATOM


@python(Identity)
def _identity(node: Node, g: _Generator) -> tuple[str, int]:
    assert isinstance(node, Identity)
    return f"_np.eye({g.dim(node.dim)}, dtype=_dtype)", ATOM


@python(Add)
def _add(node: Node, g: _Generator) -> tuple[str, int]:
    assert isinstance(node, Add)
    parts: list[str] = []
    for index, term in enumerate(node.terms):
        c, body = split(term)
        if index and c < 0:
            positive = Const(-c) if body is None else body if c == -1 else Mul((Const(-c), body))
            parts.append(f" - {g.expr(positive, ADD)}")
        else:
            parts.append((" + " if index else "") + g.expr(term, ADD if index else ADD - 1))
    return "".join(parts), ADD


@python(Mul)
def _mul(node: Node, g: _Generator) -> tuple[str, int]:
    assert isinstance(node, Mul)
    first = node.factors[0]
    if isinstance(first, Const) and first.value == -1 and len(node.factors) == 2:
        return f"-{g.expr(node.factors[1], UNARY - 1)}", UNARY
    parts: list[str] = []
    for factor in node.factors:
        if isinstance(factor, Power) and factor.exponent == -1 and parts:
            parts.append(f" / {g.expr(factor.base, MUL)}")
        else:
            parts.append((" * " if parts else "") + g.expr(factor, MUL if parts else MUL - 1))
    return "".join(parts), MUL


@python(MatMul)
def _matmul(node: Node, g: _Generator) -> tuple[str, int]:
    assert isinstance(node, MatMul)
    return _chain(list(node.factors), g), MUL


def _inverted(node: Node, g: _Generator) -> tuple[Node, bool] | None:
    """(A, transposed) when ``node`` is A⁻¹ (or A⁻ᵀ) computed here, not a bound value."""
    if node in g.bound:
        return None
    if isinstance(node, Inverse):
        return node.arg, False
    if isinstance(node, Transpose) and isinstance(node.arg, Inverse) and node.arg not in g.bound:
        return node.arg.arg, True
    return None


def _chain(factors: list[Node], g: _Generator) -> str:
    """A product of factors; A⁻¹B is solve(A, B) and BA⁻¹ solve(Aᵀ, Bᵀ)ᵀ, never forming A⁻¹."""
    for index, factor in enumerate(factors):
        inverted = _inverted(factor, g)
        if inverted is None:
            continue
        A, transposed = inverted
        g.runtime.add("solve")
        matrix = g.expr(A, ATOM)
        if index + 1 < len(factors):
            # A⁻¹R = solve(A, R); A⁻ᵀR = solve(Aᵀ, R)
            right = _chain(factors[index + 1 :], g)
            solved = f"_solve({matrix}{'.T' if transposed else ''}, {right})"
            return solved if index == 0 else f"{_chain(factors[:index], g)} @ {solved}"
        left = _chain(factors[:index], g)
        if _is_row(factors[:index]):
            # vᵀA⁻¹ = solve(Aᵀ, v) for a 1-D v
            return f"_solve({matrix}{'' if transposed else '.T'}, {left})"
        return f"_solve({matrix}{'' if transposed else '.T'}, ({left}).T).T"
    for index, factor in enumerate(factors):
        if isinstance(factor, Outer) and len(factors) > 1:
            # M(uvᵀ)N as outer(Mu, Nᵀv): two matrix-vector products, never an n×n product
            left, right = g.expr(factor.left, MUL), g.expr(factor.right, MUL)
            before = f"{_chain(factors[:index], g)} @ {left}" if index else left
            after = f"{right} @ {_chain(factors[index + 1 :], g)}" if index + 1 < len(factors) else right
            return f"_np.outer({before}, {after})"
    pieces, index = [], 0
    while index < len(factors):
        factor = factors[index]
        if isinstance(factor, Diag) and index + 1 < len(factors):
            # diag(s) @ Y scales the rows of Y: never build the n×n matrix.
            scaled = factors[index + 1]
            scale = g.expr(factor.arg, ATOM) + ("[:, None]" if len(shape_of(scaled)) == 2 else "")
            pieces.append(f"({scale} * {g.expr(scaled, MUL)})")
            index += 2
            continue
        pieces.append(g.expr(factor, MUL if index else MUL - 1))
        index += 1
    return " @ ".join(pieces)


def _is_row(factors: list[Node]) -> bool:
    """The product of ``factors`` is 1-D (it starts with a 1-D vector)."""
    return len(shape_of(factors[0])) == 1


@python(Diag)
def _diag(node: Node, g: _Generator) -> tuple[str, int]:
    assert isinstance(node, Diag)
    return f"_np.diag({g.expr(node.arg)})", ATOM


@python(Transpose)
def _transpose(node: Node, g: _Generator) -> tuple[str, int]:
    assert isinstance(node, Transpose)
    return f"{g.expr(node.arg, ATOM)}.T", ATOM


@python(Power)
def _power(node: Node, g: _Generator) -> tuple[str, int]:
    assert isinstance(node, Power)
    p = node.exponent
    exponent = g.number(p) if p.denominator != 1 else str(p.numerator) if p > 0 else f"({p.numerator})"
    return f"{g.expr(node.base, POWER)} ** {exponent}", POWER


@python(Apply)
def _apply(node: Node, g: _Generator) -> tuple[str, int]:
    assert isinstance(node, Apply)
    g.imports.add(node.function)
    arg = g.expr(node.arg)
    # A scalar may be a plain Python or sympy number; the functions dispatch on an array's
    # dtype, so a constant takes the arguments' dtype: exp(1) is e in float32, float64, or
    # exactly (sympy's E) when the code runs on symbols for its proof.
    return f"_{node.function}({arg if shape_of(node.arg) else f'_np.asarray({arg}, _dtype)'})", ATOM


@python(Sum)
def _sum(node: Node, g: _Generator) -> tuple[str, int]:
    assert isinstance(node, Sum)
    options = [] if node.axis is None else [f"axis={node.axis}"]
    if node.keepdims:
        options.append("keepdims=True")
    return f"{g.expr(node.arg, ATOM)}.sum({', '.join(options)})", ATOM


@python(Trace)
def _trace(node: Node, g: _Generator) -> tuple[str, int]:
    assert isinstance(node, Trace)
    return f"_np.trace({g.expr(node.arg)})", ATOM


@python(SqNorm)
def _sqnorm(node: Node, g: _Generator) -> tuple[str, int]:
    assert isinstance(node, SqNorm)
    arg = g.expr(node.arg, ATOM)
    rank = len(shape_of(node.arg))
    if rank == 0:
        return f"{arg} * {arg}", MUL
    flat = arg if rank == 1 else f"{arg}.ravel()"
    return f"_np.dot({flat}, {flat})", ATOM


@python(Outer)
def _outer(node: Node, g: _Generator) -> tuple[str, int]:
    assert isinstance(node, Outer)
    return f"_np.outer({g.expr(node.left)}, {g.expr(node.right)})", ATOM


@python(Inverse)
def _inverse(node: Node, g: _Generator) -> tuple[str, int]:
    assert isinstance(node, Inverse)
    g.runtime.add("inv")
    return f"_inv({g.expr(node.arg)})", ATOM


@python(Det)
def _det(node: Node, g: _Generator) -> tuple[str, int]:
    assert isinstance(node, Det)
    g.runtime.add("det")
    return f"_det({g.expr(node.arg)})", ATOM


@python(LogDet)
def _logdet(node: Node, g: _Generator) -> tuple[str, int]:
    assert isinstance(node, LogDet)
    g.runtime.add("logdet")
    return f"_logdet({g.expr(node.arg)})", ATOM


@python(Diagonal)
def _diagonal(node: Node, g: _Generator) -> tuple[str, int]:
    assert isinstance(node, Diagonal)
    return f"_np.diagonal({g.expr(node.arg)}).copy()", ATOM


@python(Size)
def _size(node: Node, g: _Generator) -> tuple[str, int]:
    assert isinstance(node, Size)
    g.runtime.add("size")
    return f"_size({g.dim(node.dim)}, _dtype)", ATOM


@python(LogSumExp)
def _logsumexp(node: Node, g: _Generator) -> tuple[str, int]:
    assert isinstance(node, LogSumExp)
    g.runtime.add("logsumexp")
    return f"_logsumexp({g.expr(node.arg)}, {node.axis}, {node.keepdims})", ATOM


@python(Softmax)
def _softmax(node: Node, g: _Generator) -> tuple[str, int]:
    assert isinstance(node, Softmax)
    g.runtime.add("softmax")
    return f"_softmax({g.expr(node.arg)}, {node.axis})", ATOM
