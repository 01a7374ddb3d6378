"""What every objective's second-order functions share: checking a direction, dense Hessians.

The math lives in each objective's chain (``evaluate_second_order``) and in the tangent
rules of :mod:`matgrad.vjp`; this module only checks input, picks the path and assembles
results. :func:`product` and :func:`hessian` are what an objective's ``hvp``,
``gauss_newton_product`` and ``hessian`` call: numpy input takes the numpy rules; arrays
of another library that ``array-api-compat`` supports (PyTorch, CuPy, JAX,
array-api-strict, Dask) take the same chain with :mod:`matgrad.generic_vjp`, and the
results are arrays of that library, on the arguments' device, in their dtype.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from matgrad import dispatch
from matgrad.signature import Signature
from matgrad.vjp import Array
from matgrad.wrt import Wrt, resolve_wrt

#: An objective's ``evaluate_second_order``: (arrays, direction, wrt, *, gauss_newton, vjp, **options).
Evaluate = Callable[..., dict[str, Array | None]]

#: The largest dense Hessian :func:`dense_hessian` builds unless told otherwise: 256 MiB.
HESSIAN_MAX_BYTES = 2**28


def direction_names(arguments: tuple[str, ...], direction: Mapping[str, Any], wrt: Wrt) -> tuple[str, ...]:
    """The argument names a direction moves, checked (see :func:`check_direction`)."""
    if not isinstance(direction, Mapping):
        raise TypeError(
            f"direction must be a dict from argument name to array; got {type(direction).__name__}"
        )
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
    return names


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
    names = direction_names(tuple(arrays), direction, wrt)
    checked = {}
    for name in names:
        value = direction[name]
        if isinstance(value, np.ma.MaskedArray):
            raise TypeError(f"direction[{name!r}] is a masked array; pass {name}.filled(value)")
        array = np.asarray(value)
        if array.dtype.kind not in "biufc":
            raise TypeError(f"direction[{name!r}] has dtype {array.dtype}; it must be numeric")
        check_direction_shape(name, array.shape, arrays[name].shape)
        checked[name] = array
    dtype = np.result_type(*(arrays[name] for name in names), *checked.values())
    if dtype.kind in "biu":
        dtype = np.dtype(np.float64)
    elif dtype == np.float16:
        dtype = np.dtype(np.float32)
    return {name: np.asarray(a, dtype=dtype) for name, a in checked.items()}, names


def check_direction_shape(name: str, shape: tuple[int, ...], expected: tuple[int, ...]) -> None:
    """ValueError unless the direction for ``name`` has its argument's shape."""
    if shape != expected:
        raise ValueError(
            f"direction[{name!r}] has shape {shape} but {name} has shape {expected}; "
            "a direction has the shape of its argument"
        )


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


def _check_size(rows: str, columns: str, shape: tuple[int, ...], size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise MemoryError(
            f"the dense Hessian ∂²f/∂{rows}∂{columns} has shape {shape} ({size:,} bytes), "
            f"over the limit of {max_bytes:,} bytes (max_bytes); use hvp(..., direction) for "
            "Hessian-vector products, or raise max_bytes"
        )


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
    _check_size(rows, columns, A.shape + B.shape, A.size * B.size * dtype.itemsize, max_bytes)
    out = np.empty(A.shape + B.shape, dtype)
    columns_view = out.reshape(A.size, B.size)  # a view: column j is ∂²f/∂A∂B_j, B_j in C order
    unit = np.zeros(B.size, dtype)
    for j in range(B.size):
        unit[j] = 1
        columns_view[:, j] = hvp({columns: unit.reshape(B.shape).copy()}).reshape(-1)
        unit[j] = 0
    return out


def product(
    signature: Signature,
    evaluate_second_order: Evaluate,
    options: Mapping[str, Any],
    values: Mapping[str, Any],
    direction: Mapping[str, Any],
    wrt: Wrt,
    *,
    gauss_newton: bool,
) -> dict[str, Array]:
    """∇²f·V (or 2JᵀJ·V) of an objective, on the path its arguments call for."""
    if _foreign(values, direction):
        return _generic_product(
            signature, evaluate_second_order, options, values, direction, wrt, gauss_newton
        )
    checked = signature.validate(values)
    tangent, names = check_direction(checked, direction, wrt)
    result = evaluate_second_order(checked, tangent, names, gauss_newton=gauss_newton, **options)
    return complete(result, checked, names, next(iter(tangent.values())).dtype)


def hessian(
    signature: Signature,
    evaluate_second_order: Evaluate,
    options: Mapping[str, Any],
    values: Mapping[str, Any],
    wrt: str | tuple[str, str],
    max_bytes: int,
) -> Array:
    """∂²f/∂A∂B of an objective, dense (see :func:`dense_hessian`), on the path its arguments call for."""
    rows, columns = hessian_pair(wrt, signature.names)
    if _foreign(values, {}):
        return _generic_hessian(signature, evaluate_second_order, options, values, rows, columns, max_bytes)
    checked = signature.validate(values)

    def column(unit: dict[str, Array]) -> Array:
        block = evaluate_second_order(checked, unit, (rows,), **options)[rows]
        return np.zeros_like(checked[rows]) if block is None else block

    return dense_hessian(column, checked, rows, columns, max_bytes)


def _foreign(values: Mapping[str, Any], direction: Any) -> bool:
    """Whether any argument or direction is an array of another library than numpy."""
    tangents = direction.values() if isinstance(direction, Mapping) else ()
    return not dispatch.all_numpy([*values.values(), *tangents])


def _prepare_generic(
    signature: Signature, values: Mapping[str, Any], direction: Mapping[str, Any], names: tuple[str, ...]
) -> tuple[Any, Any, Any, dict[str, Any], dict[str, Any]]:
    """(namespace, device, dtype, arguments, direction): one library, shapes checked, one dtype."""
    entries = {**values, **{f"direction[{name!r}]": direction[name] for name in names}}
    entries = dispatch.one_library(entries)
    xp, device = dispatch.namespace_and_device(entries)
    arrays = {name: entries[name] for name in signature.names}
    signature.check_shapes(dispatch.shapes_of(arrays))
    tangent = {name: entries[f"direction[{name!r}]"] for name in names}
    for name, array in tangent.items():
        check_direction_shape(name, tuple(array.shape), tuple(arrays[name].shape))
    dtype = dispatch.working_dtype(xp, entries, device)  # the arguments and the direction

    def convert(table: Mapping[str, Any]) -> dict[str, Any]:
        return {name: a if a.dtype == dtype else xp.astype(a, dtype) for name, a in table.items()}

    return xp, device, dtype, convert(arrays), convert(tangent)


def _generic_product(
    signature: Signature,
    evaluate_second_order: Evaluate,
    options: Mapping[str, Any],
    values: Mapping[str, Any],
    direction: Mapping[str, Any],
    wrt: Wrt,
    gauss_newton: bool,
) -> dict[str, Array]:
    from matgrad import generic_vjp

    names = direction_names(signature.names, direction, wrt)
    xp, device, dtype, arrays, tangent = _prepare_generic(signature, values, direction, names)
    result = evaluate_second_order(
        arrays, tangent, names, gauss_newton=gauss_newton, vjp=generic_vjp, **options
    )
    completed: dict[str, Array] = {}
    for name in names:
        block = result[name]
        completed[name] = (
            xp.zeros(tuple(arrays[name].shape), dtype=dtype, device=device) if block is None else block
        )
    return completed


def _generic_hessian(
    signature: Signature,
    evaluate_second_order: Evaluate,
    options: Mapping[str, Any],
    values: Mapping[str, Any],
    rows: str,
    columns: str,
    max_bytes: int,
) -> Array:
    """:func:`dense_hessian` in the arguments' library: one Hessian-vector product per entry of B."""
    from matgrad import generic_vjp

    if any(dispatch.is_dask(v) for v in values.values()):
        raise TypeError(
            "hessian builds a dense matrix one product at a time, which a lazy Dask graph would "
            "hold whole; use hvp(..., direction) with Dask arrays, or compute the arguments first"
        )
    xp, device, dtype, arrays, _ = _prepare_generic(signature, values, {}, ())
    A, B = arrays[rows], arrays[columns]
    shape = tuple(A.shape) + tuple(B.shape)
    a_size, b_size = int(np.prod(A.shape)), int(np.prod(B.shape))
    bits = xp.finfo(dtype).bits * (2 if xp.isdtype(dtype, "complex floating") else 1)
    _check_size(rows, columns, shape, a_size * b_size * bits // 8, max_bytes)
    positions = xp.arange(b_size, device=device)
    blocks = []
    for j in range(b_size):
        unit = xp.reshape(xp.astype(positions == j, dtype), tuple(B.shape))
        block = evaluate_second_order(arrays, {columns: unit}, (rows,), vjp=generic_vjp, **options)[rows]
        zero = block is None
        blocks.append(xp.zeros((a_size,), dtype=dtype, device=device) if zero else xp.reshape(block, (-1,)))
    return xp.reshape(xp.stack(blocks, axis=1), shape)  # type: ignore[no-any-return]
