"""Row blocks: the one per-block driver behind the chunked numpy mode and the Dask mode.

Every objective is a sum over rows: f = Σ_blocks f_block, and for the arguments with one
row per data row (X, Y, a full bias) ∂f/∂A is the stack of the blocks' gradients, while
for the others (weights, a bias of one row) it is the sum of the blocks' gradients. So
the objective's own ``evaluate`` runs unchanged on one block of rows at a time
(:func:`evaluate_block`); :func:`run` drives it over a numpy array or ``np.memmap``,
writing ∂f/∂X block by block into ``out`` (which may be a memmap too), and
:mod:`matgrad.dask_backend` maps it over the chunks of Dask arrays. Peak extra memory is
one block's buffers plus the summed gradients, independent of the number of rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from matgrad.signature import Signature
from matgrad.vjp import Array

Evaluate = Callable[..., tuple[Any, dict[str, Array]]]

#: ``max_memory`` used when only ``out=`` asks for the chunked mode.
DEFAULT_MAX_MEMORY = 256 * 2**20
#: A budget's blocks are at most this big, even when more would fit: large enough for the
#: matrix products to run at full speed, small enough that the allocator reuses the block
#: buffers instead of faulting in fresh pages (measured on the benchmark's large size:
#: 4096-65536-row blocks ran about 2× faster than one block of 100 000 rows).
BLOCK_BYTES = 64 * 2**20

_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}


def parse_bytes(max_memory: int | str) -> int:
    """Bytes of a budget given as an int or a string like '1GB', '512 MiB', '2e9'."""
    if isinstance(max_memory, (int, np.integer)) and not isinstance(max_memory, bool):
        number, unit = float(max_memory), ""
    elif isinstance(max_memory, str) and (
        match := re.fullmatch(r"\s*([0-9.eE+]+)\s*([A-Za-z]*)\s*", max_memory)
    ):
        number, unit = float(match[1]), match[2].lower()
    else:
        raise ValueError(f"max_memory must be a number of bytes or a string like '1GB'; got {max_memory!r}")
    if unit not in _UNITS or not number > 0:
        raise ValueError(
            f"max_memory must be positive, in B, kB, MB, GB, TB, KiB, MiB, GiB or TiB; got {max_memory!r}"
        )
    return int(number * _UNITS[unit])


def row_arguments(signature: Signature, arrays: Mapping[str, Any]) -> tuple[str, ...]:
    """The arguments with one row per data row (X, Y, a full bias): split into row blocks.

    The data rows are the first axis of the first argument; a bias given as one row,
    (1, m) or (m,), is broadcast over them and goes whole to every block.
    """
    rows_symbol = signature.args[0].dims[0]
    n = arrays[signature.args[0].name].shape[0]
    return tuple(
        arg.name
        for arg in signature.args
        if arg.dims[0] == rows_symbol and len(arrays[arg.name].shape) == 2 and arrays[arg.name].shape[0] == n
    )


def evaluate_block(
    evaluate: Evaluate,
    options: Mapping[str, Any],
    block: Mapping[str, Any],
    wrt: tuple[str, ...],
    with_value: bool,
    dtype: Any,
    out_X: Array | None = None,
) -> tuple[Any, dict[str, Array]]:
    """The objective's chain on one block of rows, read into memory in the working dtype.

    ``out_X``: where the block's ∂f/∂X goes (a block of the result), saving a copy.
    """
    arrays = {name: np.asarray(a, dtype=dtype) for name, a in block.items()}
    buffers = {} if out_X is None else {"out_X": out_X}
    return evaluate(arrays, wrt, with_value=with_value, **options, **buffers)


def bytes_per_row(
    signature: Signature, arrays: Mapping[str, Any], rows: tuple[str, ...], itemsize: int
) -> int:
    """A bound on one block row's buffers: its inputs read in, the chain's intermediates, its outputs.

    The chain holds at most a few row-wide intermediates at a time (H/S, R, G, ∂f/∂X):
    four times the widest size, on top of each row argument read in and its gradient.
    """
    widths = [int(arrays[name].shape[1]) for name in rows]
    sizes = [int(size) for a in arrays.values() for size in a.shape[1:]]
    return itemsize * (2 * sum(widths) + 4 * max(sizes, default=1))


def block_rows(
    signature: Signature,
    arrays: Mapping[str, Any],
    rows: tuple[str, ...],
    dtype: np.dtype[Any],
    chunk_rows: int | None,
    max_memory: int | str | None,
) -> int:
    """Rows per block: ``chunk_rows``, or what fits in ``max_memory`` (at most BLOCK_BYTES of buffers)."""
    if chunk_rows is not None:
        if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, (int, np.integer)) or chunk_rows < 1:
            raise ValueError(f"chunk_rows must be a positive integer; got {chunk_rows!r}")
        if max_memory is not None:
            raise ValueError("give chunk_rows or max_memory, not both")
        return int(chunk_rows)
    budget = parse_bytes(DEFAULT_MAX_MEMORY if max_memory is None else max_memory)
    # The summed gradients and their per-block addends, plus the other arguments converted.
    fixed = 3 * dtype.itemsize * sum(int(np.prod(a.shape)) for name, a in arrays.items() if name not in rows)
    per_row = bytes_per_row(signature, arrays, rows, dtype.itemsize)
    if budget < fixed + per_row:
        raise ValueError(
            f"max_memory={max_memory!r} ({budget} bytes) is too small for one row of buffers: "
            f"needs at least {fixed + per_row} bytes ({fixed} for the weights' gradients, {per_row} per row)"
        )
    return min((budget - fixed) // per_row, max(1, BLOCK_BYTES // per_row))


def check_out(
    out: Mapping[str, Any] | None,
    arrays: Mapping[str, Any],
    rows: tuple[str, ...],
    wrt: tuple[str, ...],
    dtype: np.dtype[Any],
) -> dict[str, Array]:
    """The ``out=`` arrays, checked: one per row argument in ``wrt``, writable, of its shape."""
    if out is None:
        return {}
    if not isinstance(out, Mapping):
        raise TypeError(
            f"out must map argument names to arrays, e.g. out={{'X': dX}}; got {type(out).__name__}"
        )
    checked = {}
    for name, target in out.items():
        if name not in rows or name not in wrt:
            raise ValueError(
                f"out[{name!r}]: out= takes the gradients written block by block, "
                f"of {[r for r in rows if r in wrt]}"
            )
        if not isinstance(target, np.ndarray):
            raise TypeError(f"out[{name!r}] must be a numpy array or np.memmap; got {type(target).__name__}")
        if target.shape != arrays[name].shape:
            raise ValueError(
                f"out[{name!r}] has shape {target.shape}; ∂f/∂{name} has {name}'s shape {arrays[name].shape}"
            )
        if not target.flags.writeable:
            raise ValueError(
                f"out[{name!r}] is read-only (a memmap opened with mode='r'?); open it with mode='r+' or 'w+'"
            )
        if not np.can_cast(dtype, target.dtype, "same_kind"):
            raise TypeError(f"out[{name!r}] has dtype {target.dtype}; the gradient is {dtype}")
        checked[name] = target
    return checked


def release_rows(array: Any, start: int, stop: int) -> None:
    """Let the OS drop the pages of rows [start, stop) of a C-ordered ``np.memmap`` from this process.

    The data stays in the file (and the page cache): without this, every page of a memmap
    read or written once stays mapped, and the process's resident memory grows with n.
    Only for shared mappings (modes 'r', 'r+', 'w+'): for mode 'c' it would drop changes.
    """
    mapping = getattr(array, "_mmap", None)
    shared = isinstance(array, np.memmap) and mapping is not None and array.mode != "c"
    if mapping is None or not shared or not array.flags.c_contiguous:
        return
    import mmap

    row_bytes = array.itemsize * int(np.prod(array.shape[1:]))
    # Where the array starts in the mapping (also for a slice of a memmap).
    base = array.ctypes.data - np.frombuffer(mapping, np.uint8, count=1).ctypes.data
    first = base + start * row_bytes
    last = base + stop * row_bytes
    first += -first % mmap.PAGESIZE  # whole pages inside the rows only
    last -= last % mmap.PAGESIZE
    if last > first and hasattr(mapping, "madvise"):
        mapping.madvise(mmap.MADV_DONTNEED, first, last - first)


def run(
    signature: Signature,
    evaluate: Evaluate,
    options: Mapping[str, Any],
    values: Mapping[str, Any],
    wrt: tuple[str, ...],
    *,
    with_value: bool,
    chunk_rows: int | None,
    max_memory: int | str | None,
    out: Mapping[str, Any] | None,
) -> tuple[Any, dict[str, Array]]:
    """Value and gradients of numpy or memmap arrays, one block of rows at a time."""
    arrays = {name: np.asarray(values[name]) for name in signature.names}  # a memmap stays on disk: a view
    dtype = signature.check(arrays)
    rows = row_arguments(signature, arrays)
    per_block = block_rows(signature, arrays, rows, dtype, chunk_rows, max_memory)
    results = check_out(out, arrays, rows, wrt, dtype)
    for name in wrt:
        if name in rows and name not in results:
            results[name] = np.empty(arrays[name].shape, dtype)
    whole = {name: np.asarray(a, dtype=dtype) for name, a in arrays.items() if name not in rows}
    first = signature.args[0].name
    n = arrays[first].shape[0]
    # ∂f/∂X is written by the chain straight into its block of the result when the result
    # takes it as it is (the working dtype, C order): no copy per block.
    direct = first in results and results[first].dtype == dtype and results[first].flags.c_contiguous
    total = None
    for start in range(0, n, per_block):
        stop = min(start + per_block, n)
        block = {**whole, **{name: arrays[name][start:stop] for name in rows}}
        out_X = results[first][start:stop] if direct else None
        value, grads = evaluate_block(evaluate, options, block, wrt, with_value, dtype, out_X)
        if with_value:
            total = value if total is None else total + value
        for name, gradient in grads.items():
            if name in rows:
                if gradient is not out_X:
                    results[name][start:stop] = gradient
            elif name in results:
                results[name] += gradient
            else:
                results[name] = np.array(gradient, dtype=dtype)  # a copy: it may alias a block buffer
        for name in rows:
            release_rows(values[name], start, stop)
            release_rows(results.get(name), start, stop)
    if n == 0:  # no block ran: the empty sums
        total = dtype.type(0)
        for name in wrt:
            results.setdefault(name, np.zeros(arrays[name].shape, dtype))
    return total, {name: results[name] for name in wrt}
