"""Numpy object arrays of sympy symbols: the inputs on which matgrad's own numpy code is proven.

Examples
--------
>>> from matgrad.symbolic.arrays import symbol_arrays
>>> arrays = symbol_arrays({"X": (2, 2), "b": (2,)})
>>> arrays["X"]
array([[X_0_0, X_0_1],
       [X_1_0, X_1_1]], dtype=object)
>>> arrays["b"]
array([b_0, b_1], dtype=object)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import sympy
from numpy.typing import NDArray

Array = NDArray[Any]


def entry_symbol(name: str, index: tuple[int, ...]) -> Any:
    """The symbol of entry ``index`` of argument ``name``, e.g. X_0_1 or b_2."""
    return sympy.Symbol("_".join([name, *map(str, index)]))


def symbol_arrays(shapes: Mapping[str, tuple[int, ...]]) -> dict[str, Array]:
    """One numpy object array of distinct sympy Symbols per argument, named like X_0_1 (1-D: b_2).

    Parameters
    ----------
    shapes
        Argument name -> concrete shape, e.g. ``Signature.shapes(sizes, bias_kind)``.
    """
    arrays = {}
    for name, shape in shapes.items():
        array = np.empty(shape, dtype=object)
        for index in np.ndindex(*shape):
            array[index] = entry_symbol(name, index)
        arrays[name] = array
    return arrays


def numeric_instance(arrays: Mapping[str, Array], rng: np.random.Generator) -> dict[Any, Any]:
    """Small nonzero integers for every entry symbol: a reproducible numeric witness."""
    values = {}
    for array in arrays.values():
        for symbol in array.flat:
            magnitude = int(rng.integers(1, 4))
            values[symbol] = sympy.Integer(magnitude if rng.random() < 0.5 else -magnitude)
    return values


def as_sympy(entry: Any) -> Any:
    """An array entry as a sympy expression (numpy code may leave Python numbers in object arrays)."""
    return sympy.sympify(entry)
