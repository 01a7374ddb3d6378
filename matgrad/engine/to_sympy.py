"""Translation of an expression into sympy, entry by entry; one rule per node type.

Given numpy object arrays of sympy symbols for the names (e.g. from
``matgrad.symbolic.symbol_arrays``), :func:`to_sympy` returns the value of the
expression with sympy expressions as entries: a sympy scalar for a scalar expression, an
object array otherwise. It is the reference the proofs differentiate: it evaluates the
tree as parsed, independently of the simplifier and of the generated numpy code. The
elementwise functions are those of :mod:`matgrad.elementwise` on object arrays (σ is
the opaque ``sigma`` with σ′ = σ(1 − σ)), so both sides of a proof use the same ones.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from functools import reduce
from typing import Any

import numpy as np
import sympy

from matgrad import elementwise
from matgrad.engine.errors import ShapeError
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
    children,
    variables,
    walk,
)
from matgrad.engine.shapes import format_shape

Array = np.ndarray[Any, np.dtype[Any]]


def to_sympy(node: Node, arrays: Mapping[str, Array]) -> Any:
    """The value of ``node`` with ``arrays`` (object arrays of sympy expressions) for its names.

    >>> import sympy
    >>> from matgrad.engine.parser import parse
    >>> x = np.array([sympy.Symbol("x0"), sympy.Symbol("x1")], dtype=object)
    >>> to_sympy(parse("sqnorm(2 * x)", {"x": "2"}).tree, {"x": x})
    4*x0**2 + 4*x1**2
    """
    sizes: dict[Dim, int] = {}
    for name, var in variables(node).items():
        array = np.asarray(arrays[name], dtype=object)
        if array.ndim != len(var.shape):
            raise ShapeError(f"{name} must have shape {format_shape(var.shape)}; got {array.shape}")
        for dim, size in zip(var.shape, array.shape, strict=True):
            if sizes.setdefault(dim, size) != size:
                raise ShapeError(
                    f"{name} has shape {array.shape}, inconsistent with size {dim} = {sizes[dim]}"
                )
    context = _Context(arrays, sizes)
    values: dict[Node, Array] = {}
    for item in walk(node):
        values[item] = SYMPY[type(item)](item, [values[c] for c in children(item)], context)
    result = values[node]
    return result[()] if result.ndim == 0 else result


class _Context:
    def __init__(self, arrays: Mapping[str, Array], sizes: dict[Dim, int]):
        self.arrays = arrays
        self.sizes = sizes

    def size(self, dim: Dim) -> int:
        return dim if isinstance(dim, int) else self.sizes[dim]


def _objects(value: Any) -> Array:
    return np.asarray(value, dtype=object)


def _entrywise(function: Callable[[Any], Any], array: Array) -> Array:
    out = np.empty(array.shape, dtype=object)
    for index, entry in np.ndenumerate(array):
        out[index] = function(entry)
    return out


SympyRule = Callable[[Node, list[Array], _Context], Array]
SYMPY: RuleTable[SympyRule] = RuleTable("sympy translation")
translate = SYMPY.register


@translate(Var)
def _var(node: Node, args: list[Array], c: _Context) -> Array:
    assert isinstance(node, Var)
    return _objects(c.arrays[node.name])


@translate(Const)
def _const(node: Node, args: list[Array], c: _Context) -> Array:
    assert isinstance(node, Const)
    value = sympy.Rational(node.value.numerator, node.value.denominator)
    return _objects(np.full(tuple(c.size(d) for d in node.shape), value, dtype=object))


@translate(Identity)
def _identity(node: Node, args: list[Array], c: _Context) -> Array:
    assert isinstance(node, Identity)
    return _objects(np.array(sympy.eye(c.size(node.dim)).tolist(), dtype=object))


@translate(Diag)
def _diag(node: Node, args: list[Array], c: _Context) -> Array:
    vector = args[0]
    out = np.full((len(vector), len(vector)), sympy.Integer(0), dtype=object)
    for i, entry in enumerate(vector):
        out[i, i] = entry
    return out


@translate(Add)
def _add(node: Node, args: list[Array], c: _Context) -> Array:
    return _objects(reduce(np.add, args))


@translate(Mul)
def _mul(node: Node, args: list[Array], c: _Context) -> Array:
    return _objects(reduce(np.multiply, args))


def _matmul_pair(left: Array, right: Array) -> Array:
    # sympy's Matrix product on columns/rows, with numpy's 1-D conventions around it.
    a = sympy.Matrix(left.reshape(1, -1) if left.ndim == 1 else left)
    b = sympy.Matrix(right.reshape(-1, 1) if right.ndim == 1 else right)
    product = np.array((a * b).tolist(), dtype=object)
    if left.ndim == 1:
        product = product[0]
    if right.ndim == 1:
        product = product[..., 0]
    return _objects(product)


@translate(MatMul)
def _matmul(node: Node, args: list[Array], c: _Context) -> Array:
    product = args[0]
    for right in args[1:]:
        product = _matmul_pair(product, right)
    return product


@translate(Transpose)
def _transpose(node: Node, args: list[Array], c: _Context) -> Array:
    return _objects(args[0].T)


@translate(Power)
def _power(node: Node, args: list[Array], c: _Context) -> Array:
    assert isinstance(node, Power)
    p = sympy.Rational(node.exponent.numerator, node.exponent.denominator)
    return _entrywise(lambda e: e**p, args[0])


@translate(Apply)
def _apply(node: Node, args: list[Array], c: _Context) -> Array:
    assert isinstance(node, Apply)
    function: Callable[[Array], Array] = getattr(elementwise, node.function)
    return _objects(function(args[0]))


@translate(Sum)
def _sum(node: Node, args: list[Array], c: _Context) -> Array:
    assert isinstance(node, Sum)
    array = args[0]
    if node.axis is None:
        total = sympy.Add(*array.flat)
        return _objects(np.full((1,) * array.ndim, total, dtype=object) if node.keepdims else total)
    summed = np.empty(array.shape[: node.axis] + array.shape[node.axis + 1 :], dtype=object)
    for index in np.ndindex(summed.shape):
        where = (*index[: node.axis], slice(None), *index[node.axis :])
        summed[index] = sympy.Add(*array[where].flat)
    return np.expand_dims(summed, node.axis) if node.keepdims else summed


@translate(Trace)
def _trace(node: Node, args: list[Array], c: _Context) -> Array:
    return _objects(sympy.Add(*np.diagonal(args[0])))


@translate(SqNorm)
def _sqnorm(node: Node, args: list[Array], c: _Context) -> Array:
    return _objects(sympy.Add(*(e**2 for e in args[0].flat)))


@translate(Outer)
def _outer(node: Node, args: list[Array], c: _Context) -> Array:
    return _objects(np.multiply.outer(args[0], args[1]))


def leibniz_det(matrix: Array) -> Any:
    """det A = Σ_π sgn(π) Πᵢ A[i, π(i)], the definition, unexpanded (the prover expands it in a ring).

    The reference must not share the generated code's determinant (sympy's Berkowitz
    algorithm); the definition is also faster for the 2×2 and 3×3 shapes proofs use.
    """
    n = matrix.shape[0]
    terms = []
    for permutation in itertools.permutations(range(n)):
        inversions = sum(permutation[i] > permutation[j] for i in range(n) for j in range(i + 1, n))
        product = sympy.Mul(*(matrix[i, permutation[i]] for i in range(n)))
        terms.append(-product if inversions % 2 else product)
    return sympy.Add(*terms)


def cramer_inverse(matrix: Array) -> Array:
    """(A⁻¹)ᵢⱼ = (−1)^{i+j} det(A without row j and column i) / det A."""
    n = matrix.shape[0]
    determinant = leibniz_det(matrix)
    out = np.empty((n, n), dtype=object)
    for i in range(n):
        for j in range(n):
            minor = np.delete(np.delete(matrix, j, axis=0), i, axis=1)
            out[i, j] = (-1) ** (i + j) * leibniz_det(minor) / determinant  # a 0×0 minor's det is 1
    return out


@translate(Det)
def _det(node: Node, args: list[Array], c: _Context) -> Array:
    return _objects(leibniz_det(args[0]))


@translate(LogDet)
def _logdet(node: Node, args: list[Array], c: _Context) -> Array:
    return _objects(sympy.log(leibniz_det(args[0])))


@translate(Inverse)
def _inverse(node: Node, args: list[Array], c: _Context) -> Array:
    return _objects(cramer_inverse(args[0]))


@translate(Diagonal)
def _diagonal(node: Node, args: list[Array], c: _Context) -> Array:
    return _objects(np.array(np.diagonal(args[0])))


@translate(Size)
def _size(node: Node, args: list[Array], c: _Context) -> Array:
    assert isinstance(node, Size)
    return _objects(sympy.Integer(c.size(node.dim)))


@translate(LogSumExp)
def _logsumexp(node: Node, args: list[Array], c: _Context) -> Array:
    assert isinstance(node, LogSumExp)
    from matgrad.engine.runtime import logsumexp

    return _objects(logsumexp(args[0], node.axis, node.keepdims))


@translate(Softmax)
def _softmax(node: Node, args: list[Array], c: _Context) -> Array:
    assert isinstance(node, Softmax)
    from matgrad.engine.runtime import softmax

    return _objects(softmax(args[0], node.axis))
