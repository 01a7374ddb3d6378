"""numpy code for a derivation: one function computing the value and the gradients.

The generated function computes every repeated subexpression once (the value's
intermediates are reused by the gradients, as in hand-written backpropagation), updates
fresh temporaries in place (``R = S @ W2; R += b2; R -= Y``) and scales a shared operand
once when several gradients need the same multiple of it (``G = 2 * R``). What is shared
and what is bound to a name is decided on the code as written, not on the expression
tree: ``a − 1·b`` reads b, not the node −b, so −b is neither computed nor named, and a
temporary is emitted only when the code being written reads it. All-ones factors that
broadcasting makes redundant are dropped (y ⊙ 𝟏ₙ is y; λ𝟏ₙₖ keeps its 𝟏ₙₖ). It converts
its arguments to one working dtype (numpy's promotion; integers and bools become
float64), runs unchanged on object arrays of sympy symbols (the elementwise functions of
:mod:`matgrad.elementwise` dispatch on dtype), and never returns an input or a view of one.

The expression of each node type is one rule of the table :data:`PYTHON`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any

from matgrad.engine.bindings import trivial, walk_all
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
    children,
    with_children,
)
from matgrad.engine.shapes import broadcast_shapes, format_shape, shape_of, substitute
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
        roots = _share_scaled_operands(_without_redundant_ones([value, *gradients.values()]))
        self.value, grads = roots[0], roots[1:]
        self.gradients = dict(zip(gradients, grads, strict=True))
        self.dims = _dimension_sources(self.arguments)
        self.constants: dict[Fraction, str] = {}
        self.bound: dict[Node, str] = {}
        self.lines: list[str] = []
        self.display = names
        self.materialized = _materialized_inverses([self.value, *grads])
        self.nodes = set(walk_all([self.value, *grads]))
        self.imports: set[str] = set()
        self.runtime: set[str] = set()  # functions of matgrad.engine.runtime the code calls
        self.tracing: list[Node] | None = None  # while reading a rule: the nodes it reads
        self.traced: dict[Node, list[Node]] = {}
        self.binds: dict[Node, bool] = {}
        self.chains: list[Add | Mul] = []
        self.uses = self.count_reads([self.value, *grads])
        # A sum or product that the code reads is computed once, also as part of a longer
        # one: with y ⊙ S read, y ⊙ S ⊙ T is written (y ⊙ S) ⊙ T. Then count again.
        self.chains = sorted(
            (n for n in self.uses if isinstance(n, Add | Mul) and len(_operands(n)) >= 2),
            key=lambda n: -len(_operands(n)),
        )
        if self.chains:
            self.traced.clear()
            self.binds.clear()
            self.uses = self.count_reads([self.value, *grads])

    # -- naming --------------------------------------------------------------------
    def name_for(self, node: Node) -> str:
        display = self.display.get(node)
        taken = set(self.bound.values())
        candidate = f"_{display}" if display else f"_t{sum(n not in self.display for n in self.bound)}"
        while candidate in taken:
            candidate += "_"
        return candidate

    # -- what the code reads -------------------------------------------------------
    def reads(self, node: Node) -> list[Node]:
        """The subexpressions the code of ``node`` reads, once per occurrence: its rule of
        :data:`PYTHON`, run with placeholders (``‖R‖²`` reads R twice; ``a − b`` reads b,
        not −b; ``diag(s) @ Y`` reads s and Y)."""
        known = self.traced.get(node)
        if known is None:
            saved, imports, runtime, self.tracing = self.tracing, set(self.imports), set(self.runtime), []
            try:
                PYTHON[type(node)](node, self)
                known = self.tracing
            finally:
                self.tracing, self.imports, self.runtime = saved, imports, runtime
            self.traced[node] = known
        return known

    def count_reads(self, roots: Sequence[Node]) -> dict[Node, int]:
        """How many times the code reads each node: once per root, once per occurrence in
        the code of each node it reads (each such node is written once: inline at its only
        read, or bound to a name)."""
        uses: dict[Node, int] = {}
        stack = list(roots)
        for root in roots:
            uses[root] = uses.get(root, 0) + 1
        seen = set(roots)
        while stack:
            node = stack.pop()
            if trivial(node):
                continue  # a name, a constant or a transposed name: repeated, never bound
            for child in self.reads(node):
                uses[child] = uses.get(child, 0) + 1
                if child not in seen:
                    seen.add(child)
                    stack.append(child)
        return uses

    def must_bind(self, node: Node) -> bool:
        """Read more than once, or built by in-place updates: computed once under a name."""
        known = self.binds.get(node)
        if known is None:
            if isinstance(node, Const | Identity) and shape_of(node) != ():
                known = self.uses.get(node, 0) >= 2  # an allocation: made once
            elif trivial(node) or (shape_of(node) == () and isinstance(node, Const)):
                known = False
            else:
                known = self.uses.get(node, 0) >= 2 or self.in_place_plan(node) is not None
            self.binds[node] = known
        return known

    # -- emission ------------------------------------------------------------------
    def module(self, function_name: str, docstring: str) -> GeneratedCode:
        # Each temporary is emitted when the code being written first reads it.
        value_code = self.expr(self.value)
        results = []
        returned: set[Node] = set()
        for name, gradient in self.gradients.items():
            code = self.expr(gradient)
            base = _viewed(gradient)
            if base in returned or isinstance(base, Var):
                code = f"{code}.copy()" if shape_of(gradient) != () else code
            returned.add(base)
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

    def emit(self, node: Node) -> str:
        """``name = …`` for ``node``; a sum or product starting from a fresh array updates it in place.

        The code of the operands comes first (it may emit their own temporaries), then
        the lines of ``node``, so that nothing is emitted between ``t = a`` and ``t += b``.
        """
        plan = self.in_place_plan(node)
        if plan is None:
            code = [("", self.expr(node, top=True))]
        else:
            first, rest = plan
            code = [("", self.expr(first, top=True))] + [(op, self.expr(operand)) for op, operand in rest]
        name = self.name_for(node)
        self.lines += [f"{name} {op}= {text}" for op, text in code]
        self.bound[node] = name
        return name

    def in_place_plan(self, node: Node) -> tuple[Node, list[tuple[str, Node]]] | None:
        """(first operand, [(operator, operand), …]) when a fresh array of the result's shape
        can start the chain and take the other operands in place (``t += b``); else None."""
        full = shape_of(node)
        if full == () or not isinstance(node, Add | Mul):
            return None
        operands = self.operands(node)
        for index, (op, operand) in enumerate(operands):
            if op in "+*" and shape_of(operand) == full and self.fresh(operand):
                return operand, operands[:index] + operands[index + 1 :]
        return None

    def operands(self, node: Add | Mul) -> list[tuple[str, Node]]:
        """:func:`_operands` of ``node``, with the operands of each shorter sum or product
        that the code reads (:attr:`chains`, longest first) taken together as one operand."""
        operands = list(_operands(node))
        for chain in self.chains:
            if len(operands) < 3:
                break
            part = _operands(chain)
            if len(part) >= len(operands) or type(chain) is not type(node):
                continue
            for sign, signed in (("+", part), ("-", [(_NEGATED[op], x) for op, x in part])):
                rest = _without(operands, signed)
                if rest is not None and (sign == "+" or isinstance(node, Add)):
                    operands = [("*" if isinstance(node, Mul) else sign, chain), *rest]
                    break
        return operands

    def fresh(self, node: Node) -> bool:
        """Evaluating ``node`` inline allocates a new array that nothing else refers to:
        an operation (not a name, a transpose or a constant) read only there."""
        if trivial(node) or isinstance(node, Transpose | Const | Identity):
            return False
        return not self.must_bind(node)

    def number(self, value: Fraction) -> str:
        if self.tracing is not None:
            return "_"
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
        if self.tracing is not None:
            self.tracing.append(node)
            return "_"
        if not top and node in self.bound:
            return self.bound[node]
        if not top and self.must_bind(node):
            return self.emit(node)
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


def _viewed(node: Node) -> Node:
    """The array whose memory ``node``'s code returns: through transposes (views)."""
    while isinstance(node, Transpose):
        node = node.arg
    return node


@lru_cache(maxsize=1 << 16)
def _operands(node: Add | Mul) -> tuple[tuple[str, Node], ...]:
    """The chain ``a op b op …`` that computes ``node``: (operator, operand) pairs.

    A sum's terms as ``+``/``−`` their positive part (a − 2b reads 2b, not −2b); a
    product's factors as ``*``, a reciprocal 1/b of an array as ``/`` b. The code of a
    sum or product (:data:`PYTHON`) and its in-place updates read exactly these operands.
    """
    operands: list[tuple[str, Node]] = []
    if isinstance(node, Add):
        for term in node.terms:
            c, body = split(term)
            positive = Const(abs(c)) if body is None else body if abs(c) == 1 else Mul((Const(abs(c)), body))
            operands.append(("+" if c > 0 else "-", positive))
    else:
        scalar = shape_of(node) == ()
        for factor in node.factors:
            # An array divided by a number is slower than the array times its reciprocal.
            divides = isinstance(factor, Power) and factor.exponent == -1
            if isinstance(factor, Power) and divides and (scalar or shape_of(factor.base) != ()):
                operands.append(("/", factor.base))
            else:
                operands.append(("*", factor))
    return tuple(operands)


_NEGATED = {"+": "-", "-": "+", "*": "*", "/": "/"}


def _without(
    operands: list[tuple[str, Node]], part: Sequence[tuple[str, Node]]
) -> list[tuple[str, Node]] | None:
    """``operands`` less each of ``part`` (a sub-multiset), in order; None if part is not in it."""
    rest = list(operands)
    for operand in part:
        if operand not in rest:
            return None
        rest.remove(operand)
    return rest


def _without_redundant_ones(roots: list[Node]) -> list[Node]:
    """Each product without its all-ones factors where the other factors broadcast to its
    shape anyway: y ⊙ 𝟏ₙ is y, 1·y is y; λ𝟏ₙₖ keeps 𝟏ₙₖ, which gives it its shape. Likewise
    a constant array added to terms of the sum's shape is a number: X − 𝟏ₙₖ is X − 1."""
    done: dict[Node, Node] = {}
    for node in walk_all(roots):
        kids = children(node)
        rebuilt = with_children(node, tuple(done[c] for c in kids)) if kids else node
        if isinstance(rebuilt, Mul):
            rebuilt = _drop_ones(rebuilt)
        elif isinstance(rebuilt, Add):
            rebuilt = _scalar_constants(rebuilt)
        done[node] = rebuilt
    return [done[root] for root in roots]


def _scalar_constants(node: Add) -> Add:
    numbers: dict[Node, Const] = {}  # constant-array term (c·𝟏 or a Const array) -> the number
    for term in node.terms:
        c, body = split(term)
        if isinstance(body, Const) and body.shape != ():
            numbers[term] = Const(c * body.value)
    others = [shape_of(t) for t in node.terms if t not in numbers]
    if not numbers or not others or broadcast_shapes(others) != shape_of(node):
        return node
    return Add(tuple(numbers.get(t, t) for t in node.terms))


def _drop_ones(node: Mul) -> Node:
    full = shape_of(node)
    ones = [f for f in node.factors if isinstance(f, Const) and f.value == 1]
    if not ones:
        return node
    kept = [f for f in node.factors if f not in ones]
    if not kept or broadcast_shapes([shape_of(f) for f in kept]) != full:
        widest = next((f for f in ones if shape_of(f) == full), None)
        if widest is None or not kept:
            return node
        kept.append(widest)
    return kept[0] if len(kept) == 1 else Mul(tuple(kept))


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
        # A sign is free (a − b, -b), and 1·b would be one more product: only |c| ≠ 1 moves.
        if abs(c) != 1 and body is not None:
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
    # The operands of the in-place updates, a positive one first: a − b, never −b + a.
    operands = sorted(g.operands(node), key=lambda operand: operand[0] == "-")
    op, first = operands[0]
    parts = [g.expr(first, ADD - 1) if op == "+" else f"-{g.expr(first, UNARY)}"]
    parts += [f" {op} {g.expr(operand, ADD)}" for op, operand in operands[1:]]
    return "".join(parts), ADD


@python(Mul)
def _mul(node: Node, g: _Generator) -> tuple[str, int]:
    assert isinstance(node, Mul)
    first = node.factors[0]
    if isinstance(first, Const) and first.value == -1 and len(node.factors) == 2:
        return f"-{g.expr(node.factors[1], UNARY - 1)}", UNARY
    # The operands of the in-place updates, a factor first: b / a, never a ** (-1) * b.
    operands = sorted(g.operands(node), key=lambda operand: operand[0] == "/")
    op, factor = operands[0]
    parts = [g.expr(factor, MUL - 1) if op == "*" else f"1 / {g.expr(factor, MUL)}"]
    parts += [f" {op} {g.expr(operand, MUL)}" for op, operand in operands[1:]]
    return "".join(parts), MUL


@python(MatMul)
def _matmul(node: Node, g: _Generator) -> tuple[str, int]:
    assert isinstance(node, MatMul)
    return _chain(list(node.factors), g), MUL


def _inverted(node: Node, g: _Generator) -> tuple[Node, bool] | None:
    """(A, transposed) when ``node`` is A⁻¹ (or A⁻ᵀ) to be solved for here: not a value the
    code computes anyway (then its products are products, not further factorizations)."""
    inverse = node.arg if isinstance(node, Transpose) else node
    if not isinstance(inverse, Inverse) or inverse in g.materialized or node in g.bound or inverse in g.bound:
        return None
    return inverse.arg, inverse is not node


def _reuse_computed_subchain(factors: list[Node], g: _Generator) -> str | None:
    """The product with its longest run of factors that the code has computed already (as
    itself, or transposed: S⁻¹AᵀAS⁻¹ is (AS⁻¹)ᵀ(AS⁻¹) for a symmetric S) read by name."""
    if len(factors) < 3 or g.tracing is not None:
        return None
    for length in range(len(factors) - 1, 1, -1):
        for start in range(len(factors) - length + 1):
            run = factors[start : start + length]
            name = g.bound.get(MatMul(tuple(run)))
            suffix = ""
            if name is None:
                flipped = MatMul(tuple(_transposed(f) for f in reversed(run)))
                name, suffix = g.bound.get(flipped), ".T"
            if name is None:
                continue
            before = _chain(factors[:start], g) + " @ " if start else ""
            after = " @ " + _chain(factors[start + length :], g) if start + length < len(factors) else ""
            return f"{before}{name}{suffix}{after}"
    return None


def _transposed(node: Node) -> Node:
    """nodeᵀ as the simplifier writes it: Xᵀᵀ = X, and a symmetric matrix or its inverse is itself."""
    if isinstance(node, Transpose):
        return node.arg
    symmetric = node.arg if isinstance(node, Inverse) else node
    if isinstance(symmetric, Var) and symmetric.structure:
        return node
    return Transpose(node)


def _materialized_inverses(roots: list[Node]) -> set[Node]:
    """The inverses the code forms as matrices: those used other than as a factor of a product
    (alone, in a sum, scaled, …). Every product with them then multiplies by the one inverse."""
    found: set[Node] = set()
    for node in walk_all(roots):
        if isinstance(node, MatMul):
            continue
        for child in (*children(node), *(r for r in roots if r is node)):
            inverse = child.arg if isinstance(child, Transpose) else child
            if isinstance(inverse, Inverse):
                found.add(inverse)
    return found


def _chain(factors: list[Node], g: _Generator) -> str:
    """A product of factors; A⁻¹B is solve(A, B) and BA⁻¹ solve(Aᵀ, Bᵀ)ᵀ, never forming A⁻¹."""
    if len(factors) == 1:
        return g.expr(factors[0], MUL - 1)
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
    reused = _reuse_computed_subchain(factors, g)
    if reused is not None:
        return reused
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
    arg = node.arg
    if isinstance(arg, Mul) and not (g.tracing is None and arg in g.bound):
        scalars = [f for f in arg.factors if shape_of(f) == () and not isinstance(f, Const)]
        arrays = [f for f in arg.factors if f not in scalars]
        if scalars and arrays:
            # sum(c·A) = c·sum(A): the scalar multiplies the sums, not every entry
            rest = arrays[0] if len(arrays) == 1 else Mul(tuple(arrays))
            scale = " * ".join(g.expr(f, MUL) for f in scalars)
            return f"{g.expr(Sum(rest, node.axis, node.keepdims), MUL)} * {scale}", MUL
        full = shape_of(arg)
        if (
            len(arrays) == 2
            and node.axis is None
            and not node.keepdims
            and all(shape_of(f) == full and not isinstance(f, Const) for f in arrays)
        ):
            # Σ A ⊙ B as one dot product: no n×k product array
            left, right = (g.expr(f, ATOM) for f in arrays)
            flat = "" if len(full) == 1 else ".ravel()"
            return f"_np.dot({left}{flat}, {right}{flat})", ATOM
    return f"{g.expr(node.arg, ATOM)}.sum({', '.join(options)})", ATOM


@python(Trace)
def _trace(node: Node, g: _Generator) -> tuple[str, int]:
    assert isinstance(node, Trace)
    return f"_np.trace({g.expr(node.arg)})", ATOM


@python(SqNorm)
def _sqnorm(node: Node, g: _Generator) -> tuple[str, int]:
    assert isinstance(node, SqNorm)
    # The code reads the argument twice (so it is computed once, under a name).
    left, right = g.expr(node.arg, ATOM), g.expr(node.arg, ATOM)
    rank = len(shape_of(node.arg))
    if rank == 0:
        return f"{left} * {right}", MUL
    if rank > 1:
        left, right = f"{left}.ravel()", f"{right}.ravel()"
    return f"_np.dot({left}, {right})", ATOM


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
    lse = LogSumExp(node.arg, node.axis, keepdims=node.axis is not None)
    if lse in g.nodes:  # cross-entropy computes logsumexp anyway: softmax is exp(Z − logsumexp(Z))
        g.imports.add("exp")
        log_softmax = next(
            (
                n
                for n in g.nodes
                if isinstance(n, Add)
                and len(n.terms) == 2
                and node.arg in n.terms
                and any(split(t) == (Fraction(-1), lse) for t in n.terms)
            ),
            None,
        )
        if log_softmax is not None:  # and Z − logsumexp(Z) too (log softmax): read it, once
            return f"_exp({g.expr(log_softmax)})", ATOM
        return f"_exp({g.expr(node.arg, ADD)} - {g.expr(lse, ADD)})", ATOM
    g.runtime.add("softmax")
    return f"_softmax({g.expr(node.arg)}, {node.axis})", ATOM
