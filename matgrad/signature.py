"""Argument specifications of an objective: names, symbolic shapes, input checking.

A :class:`Signature` knows each argument's shape in symbolic sizes, e.g. X: (n, k),
so it can check user input and say what was expected in terms of the other
arguments, and it can make arrays of any concrete sizes for tests and checks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

BiasKind = Literal["full", "row", "vector"]
BIAS_KINDS: tuple[BiasKind, ...] = ("full", "row", "vector")

_AXIS_WORDS = ("rows", "columns")
_VALIDATED_KEPT = 256  # shape and dtype combinations a signature remembers as checked


@dataclass(frozen=True)
class Arg:
    """One argument: its name and symbolic shape (rows, columns).

    A ``row_bias`` argument may also be given as one row, shape (1, m) or (m,), that
    is broadcast over the rows; its gradient is then summed over them.
    """

    name: str
    dims: tuple[str, str]
    row_bias: bool = False

    def shape(self, sizes: Mapping[str, int], bias_kind: BiasKind = "full") -> tuple[int, ...]:
        rows, cols = (sizes[d] for d in self.dims)
        if not self.row_bias or bias_kind == "full":
            return (rows, cols)
        if bias_kind == "row":
            return (1, cols)
        if bias_kind == "vector":
            return (cols,)
        raise ValueError(f"bias_kind must be one of {BIAS_KINDS}; got {bias_kind!r}")


def _format_shape(dims: Iterable[object]) -> str:
    items = [str(d) for d in dims]
    return f"({items[0]},)" if len(items) == 1 else "(" + ", ".join(items) + ")"


@dataclass(frozen=True)
class Signature:
    """The ordered arguments of an objective, with their symbolic shapes."""

    args: tuple[Arg, ...]
    _validated: dict[tuple[Any, ...], np.dtype[Any]] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    @cached_property
    def names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.args)

    @property
    def dims(self) -> tuple[str, ...]:
        """The symbolic sizes, in order of first appearance, e.g. ('n', 'k', 'm')."""
        seen: dict[str, None] = {}
        for arg in self.args:
            seen.update(dict.fromkeys(arg.dims))
        return tuple(seen)

    def shapes(self, sizes: Mapping[str, int], bias_kind: BiasKind = "full") -> dict[str, tuple[int, ...]]:
        """Concrete shapes of every argument for the given sizes and bias kind."""
        missing = set(self.dims) - set(sizes)
        if missing:
            raise ValueError(f"sizes lacks {sorted(missing)}; needs {list(self.dims)}")
        return {a.name: a.shape(sizes, bias_kind) for a in self.args}

    def random_arguments(
        self,
        rng: np.random.Generator,
        sizes: Mapping[str, int],
        bias_kind: BiasKind = "full",
        dtype: DTypeLike = np.float64,
    ) -> dict[str, NDArray[Any]]:
        """Standard normal arrays of the given sizes, drawn from ``rng`` in argument order."""
        return {
            name: rng.standard_normal(shape).astype(dtype)
            for name, shape in self.shapes(sizes, bias_kind).items()
        }

    def working_dtype(self, arrays: Mapping[str, NDArray[Any]]) -> np.dtype[Any]:
        """numpy's promotion of the inputs, with integers and bools promoted to float64."""
        for name, array in arrays.items():
            if array.dtype.kind not in "biufc":
                raise TypeError(
                    f"{name} has dtype {array.dtype}; matgrad needs numeric arrays "
                    "(bool, integer, float or complex)"
                )
        dtype = np.result_type(*arrays.values()) if arrays else np.dtype(np.float64)
        if dtype.kind in "biu":
            return np.dtype(np.float64)
        if dtype == np.float16:
            # Half precision overflows ‖R‖² at 65504 and leaves σ′ = σ(1 − σ) with 3 digits.
            return np.dtype(np.float32)
        return dtype

    def validate(self, values: Mapping[str, ArrayLike]) -> dict[str, NDArray[Any]]:
        """Check types and shapes; return the arguments as arrays of the working dtype.

        Raises
        ------
        TypeError
            For a non-numeric dtype (object, string, datetime, ...), or a masked array
            (a mask is not honoured, so it is refused rather than silently dropped).
        ValueError
            For a wrong number of dimensions or a shape that does not fit the others;
            the message names the argument, its shape and the shape expected.
        """
        arrays: dict[str, NDArray[Any]] = {}
        key = []
        for name in self.names:
            value = values[name]
            if type(value) is not np.ndarray:  # exactly ndarray (the common case) is no masked array
                if isinstance(value, np.ma.MaskedArray):
                    raise TypeError(
                        f"{name} is a masked array; matgrad does not honour masks and will not drop one "
                        f"silently: pass {name}.filled(value), or only the unmasked rows"
                    )
                value = np.asarray(value)
            arrays[name] = value
            key.append((value.shape, value.dtype))
        # The checks depend on shapes and dtypes only: a combination seen before passed them
        # (a failing one raised and was not recorded), and repeating them cost a sixth of a
        # call at the seed size.
        dtype = self._validated.get(tuple(key))
        if dtype is None:
            dtype = self.working_dtype(arrays)
            self._check_shapes(arrays)
            if len(self._validated) >= _VALIDATED_KEPT:
                self._validated.clear()
            self._validated[tuple(key)] = dtype
        for name, a in arrays.items():
            if a.dtype != dtype:
                arrays[name] = a.astype(dtype)
        return arrays

    def check(self, arrays: Mapping[str, Any]) -> np.dtype[Any]:
        """Check dtypes and shapes as :meth:`validate` does, without converting: the working dtype.

        For arrays that must not be copied whole (a memmap, Dask arrays): anything with
        ``shape``, ``ndim`` and a numpy ``dtype``.
        """
        dtype = self.working_dtype(arrays)
        self._check_shapes(arrays)
        return dtype

    def check_shapes(self, arrays: Mapping[str, Any]) -> None:
        """The shape checks of :meth:`validate`, for arrays of any library (``shape`` and ``ndim``)."""
        self._check_shapes(arrays)

    def _check_shapes(self, arrays: Mapping[str, NDArray[Any]]) -> None:
        bound: dict[str, tuple[int, str, int]] = {}  # size symbol -> (value, arg, axis)

        def expected(arg: Arg) -> str:
            concrete = [str(bound[d][0]) if d in bound else d for d in arg.dims]
            if not arg.row_bias:
                return _format_shape(concrete)
            return (
                f"{_format_shape(concrete)}, {_format_shape(['1', concrete[1]])} "
                f"or {_format_shape(concrete[1:])}"
            )

        for arg in self.args:
            array = arrays[arg.name]
            allowed_ndim = (1, 2) if arg.row_bias else (2,)
            if array.ndim not in allowed_ndim:
                kinds = "a 1-D or 2-D array" if arg.row_bias else "a 2-D array"
                raise ValueError(
                    f"{arg.name} must be {kinds} of shape {expected(arg)}; "
                    f"got a {array.ndim}-D array of shape {array.shape}"
                )
            # A 1-D bias is the row (m,): its only axis is the columns axis.
            axes = ((1, array.shape[0]),) if array.ndim == 1 else tuple(enumerate(array.shape))
            for axis, size in axes:
                symbol = arg.dims[axis]
                if arg.row_bias and axis == 0 and size == 1:
                    continue
                if symbol not in bound:
                    bound[symbol] = (size, arg.name, axis)
                    continue
                value, source, source_axis = bound[symbol]
                if size != value:
                    # Either may be the wrong one: name both, and what each would need.
                    raise ValueError(
                        f"{arg.name} has shape {array.shape} but {source} has {value} "
                        f"{_AXIS_WORDS[source_axis]} (shape {arrays[source].shape}): they disagree on "
                        f"size {symbol}; {arg.name} must be {expected(arg)} to fit {source}, or {source} "
                        f"must have {size} {_AXIS_WORDS[source_axis]} to fit {arg.name}"
                    )
