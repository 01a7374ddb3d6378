"""Shapes: parsing declarations, checking while parsing, and the shape of any node.

Declarations: ``"10x4"``, ``"n,k"`` or ``"(n, k)"`` for a matrix, ``"m"`` for a 1-D
vector (a row that broadcasts over rows, as in numpy), ``"1,m"`` for one row,
``"scalar"`` or ``"()"`` for a scalar. Sizes are positive integers or symbols.

While the parser builds a tree, :class:`ShapeChecker` checks every operation and
infers the shapes of undeclared names by unification: an undeclared name is a matrix
of fresh sizes that become whatever the operations require. A symbolic size is taken
to be different from 1 and from every other symbol, so it never broadcasts.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache, singledispatch

from matgrad.engine.errors import ShapeError
from matgrad.engine.nodes import (
    STRUCTURES,
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
    Shape,
    Size,
    Softmax,
    SqNorm,
    Sum,
    Trace,
    Transpose,
    Var,
)

_SIZE = re.compile(r"[1-9][0-9]{0,5}|[A-Za-z][A-Za-z0-9_]{0,30}")
FRESH = "?"  # prefix of inferred sizes; never valid in a declaration


def format_shape(shape: Sequence[Dim]) -> str:
    """numpy's spelling: ``()``, ``(m,)``, ``(n, k)``."""
    items = [str(d) for d in shape]
    return f"({items[0]},)" if len(items) == 1 else "(" + ", ".join(items) + ")"


def parse_shape(spec: str | Sequence[Dim], name: str = "?") -> Shape:
    """A shape from a declaration such as ``"10x4"``, ``"n,k"``, ``"m"``, ``"scalar"`` or ``(4, "m")``.

    >>> parse_shape("10x4"), parse_shape("n, k"), parse_shape("m"), parse_shape("scalar")
    ((10, 4), ('n', 'k'), ('m',), ())
    """
    if isinstance(spec, str):
        text = spec.strip()
        if text in ("scalar", "()", ""):
            if text == "":
                raise ShapeError(f"shape of {name} is empty; write e.g. 10x4, n,k, m or scalar")
            return ()
        text = text.strip("()").strip()
        parts = [p.strip() for p in re.split(r"\s*[x,×]\s*|\s+", text) if p.strip()]
    else:
        parts = [str(p) for p in spec]
    if len(parts) > 2:
        raise ShapeError(f"shape of {name} is {spec!r}: the engine handles scalars, 1-D and 2-D arrays only")
    shape: list[Dim] = []
    for part in parts:
        if not _SIZE.fullmatch(part) or keyword.iskeyword(part):
            raise ShapeError(
                f"shape of {name} is {spec!r}: {part!r} is neither a positive size (≤ 999999) nor a symbol"
            )
        shape.append(int(part) if part[0].isdigit() else part)
    return tuple(shape)


def parse_declaration(spec: str | Sequence[Dim], name: str = "?") -> tuple[Shape, str]:
    """A shape and a structure from ``"n,n:symmetric"`` / ``"d,d:spd"`` (no suffix: no structure).

    >>> parse_declaration("n,n:symmetric"), parse_declaration("n,k")
    ((('n', 'n'), 'symmetric'), (('n', 'k'), ''))
    """
    if not isinstance(spec, str) or ":" not in spec:
        return parse_shape(spec, name), ""
    text, _, structure = spec.partition(":")
    structure = structure.strip().lower()
    shape = parse_shape(text, name)
    if structure not in STRUCTURES:
        raise ShapeError(
            f"shape of {name} is {spec!r}: unknown structure {structure!r}; "
            f"the structures are {', '.join(STRUCTURES)}"
        )
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ShapeError(
            f"shape of {name} is {spec!r}: a {structure} matrix must be square, e.g. {name}=n,n:{structure}"
        )
    return shape, structure


class ShapeChecker:
    """Checks each operation as the parser builds it; infers undeclared shapes by unification.

    ``describe(i)`` gives the source text of operand i for error messages.
    """

    def __init__(self) -> None:
        self._parent: dict[Dim, Dim] = {}
        self._fresh = 0

    def fresh_matrix(self) -> Shape:
        """The shape of an undeclared name: a matrix of two unknown sizes."""
        self._fresh += 2
        return (f"{FRESH}{self._fresh - 2}", f"{FRESH}{self._fresh - 1}")

    def find(self, dim: Dim) -> Dim:
        root = dim
        while root in self._parent:
            root = self._parent[root]
        while dim != root:  # path compression
            self._parent[dim], dim = root, self._parent[dim]
        return root

    def resolve(self, shape: Shape) -> Shape:
        return tuple(self.find(d) for d in shape)

    def _unify(self, a: Dim, b: Dim) -> bool:
        a, b = self.find(a), self.find(b)
        if a == b:
            return True
        if _is_fresh(a):
            self._parent[a] = b
            return True
        if _is_fresh(b):
            self._parent[b] = a
            return True
        return False

    def broadcast(self, shapes: Sequence[Shape], fail: Callable[[int, int], ShapeError]) -> Shape:
        """numpy broadcasting of ``shapes``; ``fail(i, j)`` makes the error for operands i, j."""
        result: list[tuple[Dim, int]] = []  # (size, operand it came from), right-aligned
        for index, shape in enumerate(shapes):
            shape = self.resolve(shape)
            width = max(len(result), len(shape))
            padded = [(1, -1)] * (width - len(result)) + result
            mine = [1] * (width - len(shape)) + list(shape)
            for axis, (dim, (current, source)) in enumerate(zip(mine, padded, strict=True)):
                if dim == 1:
                    continue
                if current == 1:
                    padded[axis] = (dim, index)
                elif not self._unify(current, dim):
                    raise fail(source, index)
                else:
                    padded[axis] = (self.find(dim), source)
            result = padded
        return tuple(self.find(d) for d, _ in result)

    def matmul(self, left: Shape, right: Shape, fail: Callable[[str], ShapeError]) -> Shape:
        """numpy ``@``: (n,k)@(k,m) → (n,m); a 1-D operand acts as a row (left) or column (right)."""
        left, right = self.resolve(left), self.resolve(right)
        if not left or not right:
            raise fail("@ needs arrays, not scalars: use * to scale")
        inner_left, inner_right = left[-1], right[0]
        if not self._unify(inner_left, inner_right):
            why = f"@ needs the columns of the left ({inner_left}) to equal the rows of the right"
            why += f" ({inner_right})"
            raise fail(why)
        return self.resolve(left[:-1] + right[1:])

    def square(self, shape: Shape, fail: Callable[[str], ShapeError], what: str = "trace") -> Shape:
        shape = self.resolve(shape)
        if len(shape) != 2:
            raise fail(f"{what} needs a square matrix")
        if not self._unify(shape[0], shape[1]):
            raise fail(f"{what} needs a square matrix, but {shape[0]} ≠ {shape[1]}")
        return self.resolve(shape)

    def shown(self, shape: Shape) -> Shape:
        """``shape`` for a message: sizes not inferred yet are shown as ``?``."""
        return tuple("?" if _is_fresh(d) else d for d in self.resolve(shape))

    def finish(self, root: Node, variables: Sequence[Var], reserved: set[str]) -> Node:
        """``root`` with every name's shape resolved; unknown sizes get letters n, k, m, … .

        Letters go to sizes in the order the ``variables`` (as they appear in the text) use them.
        """
        names: dict[Dim, Dim] = {}
        letters = (d for d in "nkmpqrstuvwabcdefghijlo" if d not in reserved)

        def final(dim: Dim) -> Dim:
            dim = self.find(dim)
            if not _is_fresh(dim):
                return dim
            if dim not in names:
                names[dim] = next(letters, f"d{len(names)}")
            return names[dim]

        mapping: dict[Node, Node] = {
            v: Var(v.name, tuple(final(d) for d in v.shape), v.structure) for v in variables
        }
        # mean's 1/n of an inferred size n
        from matgrad.engine.nodes import walk

        mapping |= {node: Size(final(node.dim)) for node in walk(root) if isinstance(node, Size)}
        return substitute(root, mapping)


def _is_fresh(dim: Dim) -> bool:
    return isinstance(dim, str) and dim.startswith(FRESH)


def substitute(root: Node, mapping: Mapping[Node, Node]) -> Node:
    """``root`` with every occurrence of a key of ``mapping`` replaced by its value."""
    from matgrad.engine.nodes import children, walk, with_children

    done: dict[Node, Node] = {}
    for node in walk(root):
        if node in mapping:
            done[node] = mapping[node]
        else:
            kids = children(node)
            done[node] = with_children(node, tuple(done[c] for c in kids)) if kids else node
    return done[root]


# ---------------------------------------------------------------------------------------
# The shape of a well-formed node: one rule per node type.


@lru_cache(maxsize=1 << 16)
def shape_of(node: Node) -> Shape:
    """The numpy shape of ``node``'s value.

    >>> from fractions import Fraction
    >>> X, W = Var("X", ("n", "k")), Var("W", ("k", "m"))
    >>> shape_of(MatMul((X, W))), shape_of(Transpose(X)), shape_of(SqNorm(X))
    (('n', 'm'), ('k', 'n'), ())
    """
    return _shape_rule(node)


@singledispatch
def _shape_rule(node: Node) -> Shape:
    raise TypeError(f"no shape rule for {type(node).__name__}")


@_shape_rule.register
def _(node: Var) -> Shape:
    return node.shape


@_shape_rule.register
def _(node: Const) -> Shape:
    return node.shape


def broadcast_shapes(shapes: Sequence[Shape]) -> Shape:
    """numpy broadcasting of concrete-or-symbolic shapes (symbols broadcast only with 1)."""
    width = max((len(s) for s in shapes), default=0)
    result: list[Dim] = [1] * width
    for shape in shapes:
        for axis, dim in enumerate((1,) * (width - len(shape)) + tuple(shape)):
            if dim == 1:
                continue
            if result[axis] not in (1, dim):
                raise ShapeError(f"shapes {', '.join(format_shape(s) for s in shapes)} do not broadcast")
            result[axis] = dim
    return tuple(result)


@_shape_rule.register
def _(node: Add) -> Shape:
    return broadcast_shapes([shape_of(t) for t in node.terms])


@_shape_rule.register
def _(node: Mul) -> Shape:
    return broadcast_shapes([shape_of(f) for f in node.factors])


@_shape_rule.register
def _(node: MatMul) -> Shape:
    shape = shape_of(node.factors[0])
    for factor in node.factors[1:]:
        right = shape_of(factor)
        if not shape or not right or shape[-1] != right[0]:
            raise ShapeError(f"cannot multiply {format_shape(shape)} @ {format_shape(right)}")
        shape = shape[:-1] + right[1:]
    return shape


@_shape_rule.register
def _(node: Transpose) -> Shape:
    return tuple(reversed(shape_of(node.arg)))


@_shape_rule.register
def _(node: Power) -> Shape:
    return shape_of(node.base)


@_shape_rule.register
def _(node: Apply) -> Shape:
    return shape_of(node.arg)


@_shape_rule.register
def _(node: Sum) -> Shape:
    shape = shape_of(node.arg)
    if node.axis is None:
        return tuple(1 for _ in shape) if node.keepdims else ()
    if node.keepdims:
        return tuple(1 if axis == node.axis else d for axis, d in enumerate(shape))
    return tuple(d for axis, d in enumerate(shape) if axis != node.axis)


@_shape_rule.register
def _(node: Trace) -> Shape:
    return ()


@_shape_rule.register
def _(node: SqNorm) -> Shape:
    return ()


@_shape_rule.register
def _(node: Outer) -> Shape:
    return (shape_of(node.left)[0], shape_of(node.right)[0])


@_shape_rule.register
def _(node: Identity) -> Shape:
    return (node.dim, node.dim)


@_shape_rule.register
def _(node: Diag) -> Shape:
    shape = shape_of(node.arg)
    if len(shape) != 1:
        raise ShapeError(f"diag(·) of a {format_shape(shape)} array: it takes a 1-D vector")
    return (shape[0], shape[0])


@_shape_rule.register
def _(node: Det) -> Shape:
    return ()


@_shape_rule.register
def _(node: LogDet) -> Shape:
    return ()


@_shape_rule.register
def _(node: Inverse) -> Shape:
    return shape_of(node.arg)


@_shape_rule.register
def _(node: Diagonal) -> Shape:
    return shape_of(node.arg)[:1]


@_shape_rule.register
def _(node: Size) -> Shape:
    return ()


@_shape_rule.register
def _(node: LogSumExp) -> Shape:
    return _shape_rule(Sum(node.arg, node.axis, node.keepdims))


@_shape_rule.register
def _(node: Softmax) -> Shape:
    return shape_of(node.arg)
