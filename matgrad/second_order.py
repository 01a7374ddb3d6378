"""What every objective's second-order functions share: checking a direction, dense Hessians.

The math lives in each objective's chain (``evaluate_second_order``) and in the tangent
rules of :mod:`matgrad.vjp`; this module only checks input and assembles results.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from matgrad.vjp import Array
from matgrad.wrt import Wrt, resolve_wrt

#: The largest dense Hessian :func:`dense_hessian` builds unless told otherwise: 256 MiB.
HESSIAN_MAX_BYTES = 2**28


def check_direction(
    arrays: Mapping[str, Array], direction: Mapping[str, ArrayLike], wrt: Wrt
) -> tuple[dict[str, Array], tuple[str, ...]]:
    """The direction as arrays of the working dtype, and the argument names it moves.

    ``direction`` maps argument names to arrays of those arguments' shapes; ``wrt``
    (default: the direction's names) must name exactly the same arguments.

    Raises
    ------
    ValueError
        For a name that is not an argument, a ``wrt`` that differs from the direction's
        names, or an entry whose shape is not its argument's.
    TypeError
        For a direction that is not a mapping, or an entry that is not numeric.
    """
    if not isinstance(direction, Mapping):
        raise TypeError(
            f"direction must be a dict from argument name to array; got {type(direction).__name__}"
        )
    arguments = tuple(arrays)
    unknown = [name for name in direction if name not in arguments]
    if unknown:
        raise ValueError(
            f"direction names unknown argument(s) {unknown}; the arguments are {list(arguments)}"
        )
    if not direction:
        raise ValueError(f"direction is empty; give an array for at least one of {list(arguments)}")
    names = tuple(direction) if wrt is None else resolve_wrt(wrt, arguments)
    if set(names) != set(direction):
        missing = [name for name in names if name not in direction]
        extra = [name for name in direction if name not in names]
        raise ValueError(
            f"wrt {list(names)} and the direction's names {list(direction)} differ: "
            + "; ".join(
                part
                for part in (
                    f"no direction for {missing}" if missing else "",
                    f"direction for {extra} not in wrt" if extra else "",
                )
                if part
            )
        )
    checked = {}
    for name in names:
        value = direction[name]
        if isinstance(value, np.ma.MaskedArray):
            raise TypeError(f"direction[{name!r}] is a masked array; pass {name}.filled(value)")
        array = np.asarray(value)
        if array.dtype.kind not in "biufc":
            raise TypeError(f"direction[{name!r}] has dtype {array.dtype}; it must be numeric")
        if array.shape != arrays[name].shape:
            raise ValueError(
                f"direction[{name!r}] has shape {array.shape} but {name} has shape {arrays[name].shape}; "
                "a direction has the shape of its argument"
            )
        checked[name] = array
    dtype = np.result_type(*(arrays[name] for name in names), *checked.values())
    if dtype.kind in "biu":
        dtype = np.dtype(np.float64)
    elif dtype == np.float16:
        dtype = np.dtype(np.float32)
    return {name: np.asarray(a, dtype=dtype) for name, a in checked.items()}, names


def complete(
    results: Mapping[str, Array | None], arrays: Mapping[str, Array], wrt: tuple[str, ...], dtype: Any
) -> dict[str, Array]:
    """The results named in ``wrt``, in order; None (a zero tangent) becomes zeros of the argument's shape."""
    completed = {}
    for name in wrt:
        result = results.get(name)
        completed[name] = np.zeros(arrays[name].shape, dtype) if result is None else result
    return completed


def hessian_pair(wrt: str | tuple[str, str] | list[str], arguments: tuple[str, ...]) -> tuple[str, str]:
    """(A, B) for ``hessian(..., wrt=A)`` (B = A) or ``wrt=(A, B)``; names checked."""
    pair = (wrt, wrt) if isinstance(wrt, str) else tuple(wrt)
    if len(pair) != 2:
        raise ValueError(f"hessian's wrt is one argument name or a pair of names; got {wrt!r}")
    for name in pair:
        if not isinstance(name, str) or name not in arguments:
            raise ValueError(
                f"hessian's wrt names unknown argument {name!r}; the arguments are {list(arguments)}"
            )
    return pair[0], pair[1]


def dense_hessian(
    hvp: Callable[[dict[str, Array]], Array],
    arrays: Mapping[str, Array],
    rows: str,
    columns: str,
    max_bytes: int,
) -> Array:
    """∂²f/∂A∂B as an array of shape A.shape + B.shape, one Hessian-vector product per entry of B.

    ``hvp(direction)`` returns the ``rows`` block of the Hessian applied to ``direction``, a
    dict with the one key ``columns``: ∂²f/∂A∂B · V. Entry [a, b] is ∂²f/∂A[a]∂B[b].
    """
    A, B = arrays[rows], arrays[columns]
    dtype = np.result_type(A, B)
    size = A.size * B.size * dtype.itemsize
    if size > max_bytes:
        raise MemoryError(
            f"the dense Hessian ∂²f/∂{rows}∂{columns} has shape {A.shape + B.shape} ({size:,} bytes), "
            f"over the limit of {max_bytes:,} bytes (max_bytes); use hvp(..., direction) for "
            "Hessian-vector products, or raise max_bytes"
        )
    out = np.empty(A.shape + B.shape, dtype)
    columns_view = out.reshape(A.size, B.size)  # a view: column j is ∂²f/∂A∂B_j, B_j in C order
    unit = np.zeros(B.size, dtype)
    for j in range(B.size):
        unit[j] = 1
        columns_view[:, j] = hvp({columns: unit.reshape(B.shape).copy()}).reshape(-1)
        unit[j] = 0
    return out
