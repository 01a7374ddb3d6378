"""Which path a call takes: numpy in memory, numpy row-chunked, Dask, or the array API path.

The public functions of every objective call :func:`wants_routing` first, a few type
checks that keep the numpy path as fast as before; only when it is true does
:func:`run` pick the path:

- Dask arrays (numpy arrays may be mixed in): :mod:`matgrad.dask_backend`;
- arrays of another library ``array-api-compat`` supports (PyTorch, CuPy, JAX,
  array-api-strict): the objective's own chain with :mod:`matgrad.generic_vjp`, results
  in that library, on the arguments' device, in their dtype;
- numpy with ``chunk_rows``, ``max_memory`` or ``out``: :mod:`matgrad.chunked`.

array-api-compat and Dask are imported only here, when a call needs them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import SimpleNamespace
from typing import Any

import numpy as np

from matgrad.signature import Signature
from matgrad.vjp import Array

_NUMPY_LIKE = (np.ndarray, np.generic, list, tuple, int, float, complex)
# Libraries that array-api-compat is needed for (an ImportError rather than a silent copy to numpy).
_ARRAY_LIBRARIES = ("torch", "cupy", "jax", "jaxlib", "array_api_strict", "dask", "sparse", "ndonnx")


def wants_routing(values: Mapping[str, Any], chunk_rows: Any, max_memory: Any, out: Any) -> bool:
    """False for plain numpy input without chunking: the tuned in-memory path, unchanged."""
    if chunk_rows is not None or max_memory is not None or out is not None:
        return True
    return not all_numpy(values.values())


def all_numpy(values: Iterable[Any]) -> bool:
    """Whether every value is numpy or a Python number/sequence (no other library's array)."""
    return all(isinstance(v, _NUMPY_LIKE) for v in values)


def _library(value: Any) -> str:
    return type(value).__module__.split(".", 1)[0]


def is_dask(value: Any) -> bool:
    """Whether ``value`` is a Dask array."""
    return _library(value) == "dask" and hasattr(value, "chunks")


def one_library(values: Mapping[str, Any]) -> dict[str, Any]:
    """With Dask arrays among the values, numpy ones (weights, say) as one-chunk Dask arrays.

    The second order takes Dask arrays through the array API path, where all arguments
    must be of one library; a numpy weight beside a Dask X is what the first order accepts
    too, so it is wrapped (lazily, not copied) rather than refused.
    """
    if not any(is_dask(v) for v in values.values()):
        return dict(values)
    import dask.array as da

    return {
        name: v if is_dask(v) or not isinstance(v, _NUMPY_LIKE) else da.asarray(v)
        for name, v in values.items()
    }


def shapes_of(arrays: Mapping[str, Any]) -> dict[str, SimpleNamespace]:
    """Shapes as plain tuples, so that messages read (4, 2) and not torch.Size([4, 2])."""
    return {name: SimpleNamespace(shape=tuple(a.shape), ndim=a.ndim) for name, a in arrays.items()}


def run(
    signature: Signature,
    evaluate: Any,
    options: Mapping[str, Any],
    values: Mapping[str, Any],
    wrt: tuple[str, ...],
    *,
    with_value: bool,
    chunk_rows: int | None = None,
    max_memory: int | str | None = None,
    out: Mapping[str, Any] | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Value and gradients on the path the arguments call for (see the module docstring)."""
    if any(is_dask(v) for v in values.values()):
        if chunk_rows is not None or max_memory is not None or out is not None:
            raise ValueError(
                "chunk_rows, max_memory and out are for numpy arrays; Dask arrays bring their own chunks"
            )
        from matgrad import dask_backend

        return dask_backend.run(signature, evaluate, options, values, wrt, with_value=with_value)
    foreign = {name: v for name, v in values.items() if not isinstance(v, _NUMPY_LIKE)}
    if foreign and _is_array_api(foreign):
        if chunk_rows is not None or max_memory is not None or out is not None:
            raise ValueError("chunk_rows, max_memory and out are for numpy arrays and np.memmap")
        return run_generic(signature, evaluate, options, values, wrt, with_value=with_value)
    from matgrad import chunked

    if chunk_rows is None and max_memory is None and out is None:  # e.g. a pandas DataFrame: numpy in memory
        arrays = signature.validate(values)
        return evaluate(arrays, wrt, with_value=with_value, **options)  # type: ignore[no-any-return]
    return chunked.run(
        signature,
        evaluate,
        options,
        values,
        wrt,
        with_value=with_value,
        chunk_rows=chunk_rows,
        max_memory=max_memory,
        out=out,
    )


def _is_array_api(foreign: Mapping[str, Any]) -> bool:
    try:
        import array_api_compat
    except ImportError:
        named = [f"{name} ({_library(v)})" for name, v in foreign.items() if _library(v) in _ARRAY_LIBRARIES]
        if named:
            raise ImportError(
                f"{', '.join(named)}: arrays of other libraries need array-api-compat: "
                "pip install 'matgrad[array]'"
            ) from None
        return False
    return any(array_api_compat.is_array_api_obj(v) for v in foreign.values())


def namespace_and_device(values: Mapping[str, Any]) -> tuple[Any, Any]:
    """The one array namespace and device of all arguments; TypeError/ValueError naming them if not one."""
    from array_api_compat import array_namespace, device, is_array_api_obj

    libraries: dict[str, list[str]] = {}
    for name, value in values.items():
        if not is_array_api_obj(value) or isinstance(value, np.generic):
            kind = type(value).__name__
            raise TypeError(f"{name} is a {kind}, not an array like the others; pass arrays of one library")
        libraries.setdefault(array_namespace(value).__name__, []).append(name)
    if len(libraries) > 1:
        found = "; ".join(f"{', '.join(names)}: {library}" for library, names in libraries.items())
        raise TypeError(f"arguments are arrays of different libraries ({found}); pass arrays of one library")
    devices: dict[str, list[str]] = {}
    for name, value in values.items():
        devices.setdefault(str(device(value)), []).append(name)
    if len(devices) > 1:
        found = "; ".join(f"{', '.join(names)} on {where}" for where, names in devices.items())
        raise ValueError(f"arguments are on different devices ({found}); move them to one device")
    return array_namespace(*values.values()), device(next(iter(values.values())))


def working_dtype(xp: Any, arrays: Mapping[str, Any], device: Any) -> Any:
    """The arguments' promoted dtype; bool and integers become the library's default real floating dtype."""
    for name, array in arrays.items():
        if not xp.isdtype(array.dtype, ("bool", "integral", "real floating", "complex floating")):
            raise TypeError(f"{name} has dtype {array.dtype}; matgrad needs numeric arrays")
    dtype = xp.result_type(*arrays.values())
    if xp.isdtype(dtype, ("bool", "integral")):
        info = getattr(xp, "__array_namespace_info__", None)
        dtype = info().default_dtypes(device=device)["real floating"] if info else xp.float64
    return dtype


def run_generic(
    signature: Signature,
    evaluate: Any,
    options: Mapping[str, Any],
    values: Mapping[str, Any],
    wrt: tuple[str, ...],
    *,
    with_value: bool,
) -> tuple[Any, dict[str, Array]]:
    """The objective's chain with the array API rules of :mod:`matgrad.generic_vjp`."""
    from matgrad import generic_vjp

    xp, device = namespace_and_device(values)
    arrays = {name: values[name] for name in signature.names}
    signature.check_shapes(shapes_of(arrays))
    dtype = working_dtype(xp, arrays, device)
    converted = {name: a if a.dtype == dtype else xp.astype(a, dtype) for name, a in arrays.items()}
    return evaluate(converted, wrt, with_value=with_value, vjp=generic_vjp, **options)  # type: ignore[no-any-return]
