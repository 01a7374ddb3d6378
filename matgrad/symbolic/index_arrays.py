"""Arrays of symbolic shape, e.g. (n, k), on which matgrad's numpy code runs unchanged.

An :class:`IndexArray` is known by its generic entry: a sympy expression in two
placeholder indices (row, column), with sums over symbolic ranges where the code
multiplies matrices. It implements exactly the numpy the VJP code uses: ``@``, ``+``,
``-``, ``*`` with numpy's broadcasting of a (1, m) or (m,) bias over rows, ``.T``,
``.shape``, ``.sum(axis=0)``, ``.reshape`` and ``np.dot`` of flattened arrays, and the
ufuncs ``np.add``, ``np.subtract``, ``np.multiply``, ``np.negative`` and ``np.matmul``.
Anything else raises, so code that leaves this subset cannot be "proven" by accident.

Writes are real writes, as in numpy: ``out=``, ``+=``, ``-=``, ``*=`` and ``a[...] = b``
replace the contents of the array object itself, so every other name bound to the same
buffer sees the change. Code that reuses a buffer it still needs is therefore proven
wrong here exactly as it would compute wrong numbers.

Example: XW + b for X (n, k), W (k, m) and a 1-D bias b (m,), at entry (i, j):

>>> import sympy
>>> n, k, m = sympy.symbols("n k m", integer=True, positive=True)
>>> X, W = IndexArray.argument("X", (n, k)), IndexArray.argument("W", (k, m))
>>> b = IndexArray.argument("b", (m,))
>>> i, j = sympy.symbols("i j", integer=True)
>>> (X @ W + b).shape
(n, m)
>>> (X @ W + b).at(i, j)
b[j] + Sum(W[_t, j]*X[i, _t], (_t, 0, k - 1))
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import sympy

ROW = sympy.Symbol("row·", integer=True)
COLUMN = sympy.Symbol("col·", integer=True)
_PLACEHOLDERS = (ROW, COLUMN)

Shape = tuple[Any, ...]


def _summation_index() -> Any:
    return sympy.Dummy("t", integer=True)


def _broadcast_shapes(a: Shape, b: Shape) -> Shape:
    """numpy's broadcasting rule on symbolic sizes (a size broadcasts only if it is literally 1)."""
    length = max(len(a), len(b))
    a = (1,) * (length - len(a)) + a
    b = (1,) * (length - len(b)) + b
    shape = []
    for x, y in zip(a, b, strict=True):
        if x == y or y == 1:
            shape.append(x)
        elif x == 1:
            shape.append(y)
        else:
            raise ValueError(f"operands could not be broadcast together with shapes {a} {b}")
    return tuple(shape)


class IndexArray:
    """An array of symbolic shape given by its generic entry, for proofs at all sizes."""

    # matgrad.elementwise dispatches on dtype: object means "apply the opaque sympy function".
    dtype = np.dtype(object)

    def __init__(self, shape: Shape, entry: Any, flattened: IndexArray | None = None) -> None:
        if len(shape) not in (1, 2):
            raise ValueError(f"IndexArray supports 1-D and 2-D shapes; got {shape}")
        self.shape = tuple(shape)
        self.entry = entry
        self.flattened = flattened

    @classmethod
    def argument(cls, name: str, shape: Shape) -> IndexArray:
        """The argument ``name`` of this shape: entries name[row, col] (1-D: name[i])."""
        return cls(shape, sympy.IndexedBase(name)[_PLACEHOLDERS[: len(shape)]])

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def copy(self) -> IndexArray:
        """A new array object with the same entries: writes into it leave this one unchanged."""
        return IndexArray(self.shape, self.entry, self.flattened)

    def at(self, *indices: Any) -> Any:
        """The entry at ``indices`` (symbols or integers)."""
        if self.flattened is not None:
            raise ValueError("a flattened IndexArray has no entries of its own; use np.dot")
        if len(indices) != self.ndim:
            raise IndexError(f"{self.ndim}-D IndexArray indexed with {len(indices)} indices")
        return self.entry.xreplace(dict(zip(_PLACEHOLDERS[: self.ndim], indices, strict=True)))

    def map(self, function: Callable[[Any], Any]) -> IndexArray:
        """Apply a scalar sympy function to every entry."""
        return IndexArray(self.shape, function(self.at(*_PLACEHOLDERS[: self.ndim])))

    def _entry_in(self, shape: Shape) -> Any:
        """This array's entry at the placeholders of a broadcast result of ``shape``."""
        offset = len(shape) - self.ndim
        indices = [
            0 if size == 1 and shape[axis + offset] != 1 else _PLACEHOLDERS[axis + offset]
            for axis, size in enumerate(self.shape)
        ]
        return self.at(*indices)

    def _elementwise(self, other: Any, operation: Callable[[Any, Any], Any]) -> IndexArray:
        if isinstance(other, IndexArray):
            shape = _broadcast_shapes(self.shape, other.shape)
            return IndexArray(shape, operation(self._entry_in(shape), other._entry_in(shape)))
        if isinstance(other, np.ndarray) or not isinstance(other, (int, float, sympy.Expr)):
            raise TypeError(
                f"IndexArray combines with IndexArrays and scalars only, not {type(other).__name__}"
            )
        return IndexArray(self.shape, operation(self.entry, sympy.sympify(other)))

    def __add__(self, other: Any) -> IndexArray:
        return self._elementwise(other, lambda a, b: a + b)

    def __radd__(self, other: Any) -> IndexArray:
        return self._elementwise(other, lambda a, b: b + a)

    def __sub__(self, other: Any) -> IndexArray:
        return self._elementwise(other, lambda a, b: a - b)

    def __rsub__(self, other: Any) -> IndexArray:
        return self._elementwise(other, lambda a, b: b - a)

    def __mul__(self, other: Any) -> IndexArray:
        return self._elementwise(other, lambda a, b: a * b)

    def __rmul__(self, other: Any) -> IndexArray:
        return self._elementwise(other, lambda a, b: b * a)

    def __neg__(self) -> IndexArray:
        return IndexArray(self.shape, -self.entry)

    def __matmul__(self, other: Any) -> IndexArray:
        if not isinstance(other, IndexArray):
            return NotImplemented
        if self.ndim != 2 or other.ndim != 2:
            raise ValueError(f"IndexArray @ needs 2-D operands; got {self.shape} @ {other.shape}")
        if self.shape[1] != other.shape[0]:
            raise ValueError(f"matmul: shapes {self.shape} and {other.shape} do not match")
        if self.shape[1] == 1:  # a sum of one term is that term (an outer product such as b₁ᵀg)
            entry = self.at(ROW, 0) * other.at(0, COLUMN)
        else:
            t = _summation_index()
            entry = sympy.Sum(self.at(ROW, t) * other.at(t, COLUMN), (t, 0, self.shape[1] - 1))
        return IndexArray((self.shape[0], other.shape[1]), entry)

    @property
    def T(self) -> IndexArray:
        if self.ndim == 1:
            return self
        return IndexArray(self.shape[::-1], self.at(COLUMN, ROW))

    def sum(self, axis: int) -> IndexArray:
        """Sum over the rows (axis=0) of a 2-D array: a 1-D array of its columns."""
        if axis != 0 or self.ndim != 2:
            raise NotImplementedError("IndexArray.sum supports axis=0 of a 2-D array only")
        t = _summation_index()
        return IndexArray((self.shape[1],), sympy.Sum(self.at(t, ROW), (t, 0, self.shape[0] - 1)))

    def reshape(self, *shape: Any) -> IndexArray:
        """Flatten (-1), or move between the row forms (m,) and (1, m) of a bias."""
        target = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], tuple) else tuple(shape)
        if target == self.shape:
            return self
        if target == (-1,):
            return self if self.ndim == 1 else IndexArray((self.shape[0] * self.shape[1],), None, self)
        if self.ndim == 1 and target == (1, self.shape[0]):
            return IndexArray(target, self.at(COLUMN))
        if self.ndim == 2 and self.shape[0] == 1 and target == (self.shape[1],):
            return IndexArray(target, self.at(0, ROW))
        raise NotImplementedError(f"IndexArray cannot reshape {self.shape} to {target}")

    def _assign(self, value: IndexArray) -> IndexArray:
        """Make this array hold ``value``: the in-place write of numpy's ``out=`` and ``a[...] =``."""
        if not isinstance(value, IndexArray):
            raise TypeError(f"cannot write {type(value).__name__} into an IndexArray")
        if value.shape != self.shape:
            raise ValueError(f"cannot write an array of shape {value.shape} into one of shape {self.shape}")
        self.entry, self.flattened = value.entry, value.flattened
        return self

    def __setitem__(self, key: Any, value: Any) -> None:
        if key is not Ellipsis:
            raise NotImplementedError("IndexArray supports whole-array writes a[...] = b only")
        self._assign(value)

    def __iadd__(self, other: Any) -> IndexArray:
        return self._assign(self + other)

    def __isub__(self, other: Any) -> IndexArray:
        return self._assign(self - other)

    def __imul__(self, other: Any) -> IndexArray:
        return self._assign(self * other)

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, out: Any = None, **kwargs: Any) -> Any:
        # numpy hands every ufunc with an IndexArray operand here (including a + b with a
        # numpy scalar on the left), so nothing ever loops over entries it does not have.
        operation = _UFUNCS.get(ufunc)
        if method != "__call__" or operation is None or kwargs:
            raise NotImplementedError(f"IndexArray does not support {ufunc.__name__}.{method} with {kwargs}")
        if not all(isinstance(x, IndexArray) or np.ndim(x) == 0 for x in inputs):
            raise TypeError("IndexArray combines with IndexArrays and scalars only")
        scalars = [x.item() if isinstance(x, np.generic) else x for x in inputs]
        result = operation(*scalars)
        if out is None:
            return result
        (target,) = out
        if not isinstance(target, IndexArray):
            raise TypeError("an IndexArray result can only be written into an IndexArray")
        return target._assign(result)

    def __array_function__(self, function: Any, types: Any, args: Any, kwargs: Any) -> Any:
        if function is np.dot and len(args) == 2 and not kwargs:
            return _dot(*args)
        # The array API forms xp.sum(x[, axis=0]) and xp.reshape(x, shape), with xp = numpy,
        # used by matgrad.generic_vjp: the same operations as the methods.
        if function is np.sum and len(args) == 1 and set(kwargs) <= {"axis"}:
            axis = kwargs.get("axis")
            return _total(args[0]) if axis is None else args[0].sum(axis)
        if function is np.reshape and len(args) == 2 and not kwargs:
            return args[0].reshape(args[1])
        # What the second-order rules allocate and broadcast: the dtype of a result buffer, an
        # uninitialised buffer (entries no proof can rely on), and a row spread over all rows.
        if function is np.result_type:
            return np.dtype(object)
        if function is np.empty_like and len(args) == 1 and set(kwargs) <= {"dtype"}:
            shape = args[0].shape
            garbage = sympy.IndexedBase(sympy.Dummy("uninitialised"))[_PLACEHOLDERS[: len(shape)]]
            return IndexArray(shape, garbage)
        if function is np.broadcast_to and len(args) == 2 and not kwargs:
            shape = tuple(args[1])
            _broadcast_shapes(args[0].shape, shape)
            return IndexArray(shape, args[0]._entry_in(shape))
        return NotImplemented

    def __array_namespace__(self, api_version: str | None = None) -> Any:
        """numpy: the prover runs the array API rules of matgrad.generic_vjp with xp = numpy."""
        return np

    def __repr__(self) -> str:
        return f"IndexArray(shape={self.shape}, entry={self.entry})"


_UFUNCS: dict[Any, Callable[..., Any]] = {
    np.add: lambda a, b: a + b,
    np.subtract: lambda a, b: a - b,
    np.multiply: lambda a, b: a * b,
    np.negative: lambda a: -a,
    np.matmul: lambda a, b: a @ b,
}


def _total(a: IndexArray) -> Any:
    """Σ over all entries of ``a`` (np.sum without an axis)."""
    indices = [_summation_index() for _ in a.shape]
    return sympy.Sum(a.at(*indices), *[(i, 0, size - 1) for i, size in zip(indices, a.shape, strict=True)])


def _dot(a: Any, b: Any) -> Any:
    """np.dot of two 1-D (or flattened) arrays of the same shape: Σ over all entries of a·b."""
    if not (isinstance(a, IndexArray) and isinstance(b, IndexArray)) or a.shape != b.shape:
        raise NotImplementedError("np.dot on IndexArray needs two 1-D arrays of the same shape")
    a2, b2 = a.flattened or a, b.flattened or b
    indices = [_summation_index() for _ in a2.shape]
    limits = [(index, 0, size - 1) for index, size in zip(indices, a2.shape, strict=True)]
    return sympy.Sum(a2.at(*indices) * b2.at(*indices), *limits)


_PATCH_LOCK = threading.Lock()


@contextmanager
def elementwise_functions_on_index_arrays() -> Iterator[None]:
    """Let :mod:`matgrad.elementwise` apply its sympy functions to an IndexArray's generic entry.

    On object arrays, ``matgrad.elementwise`` dispatches on dtype (unchanged here) and
    then loops over the entries of a concrete grid, which an array of symbolic shape
    does not have; for the duration of this block only that loop is taught to apply the
    function to the generic entry instead. Every VJP step runs as users call it.
    """
    import matgrad.elementwise as elementwise

    with _PATCH_LOCK:
        original = elementwise._apply_object

        def apply(function: Any, H: Any) -> Any:
            if isinstance(H, IndexArray):
                return H.map(function)
            return original(function, H)

        elementwise._apply_object = apply
        try:
            yield
        finally:
            elementwise._apply_object = original
