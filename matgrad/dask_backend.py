"""Dask arrays chunked along rows: one task per row chunk, tree reductions for the sums.

Each row chunk runs :func:`matgrad.chunked.evaluate_block`, the objective's own chain on
numpy blocks, in one task; the value and the gradients of the weights (and of a bias of
one row) are the sum over chunks, a Dask tree reduction; ∂f/∂X (and ∂f/∂Y, ∂f/∂ of a
full bias) is the stack of the chunks' blocks, a lazy Dask array with the rows' chunks.
Nothing is computed until the caller asks (``dask.compute``, ``.compute()``), on any
scheduler: threads, processes, or a ``distributed`` cluster.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np

from matgrad.chunked import Evaluate, evaluate_block, row_arguments
from matgrad.signature import Signature


def _row_chunks(arrays: Mapping[str, Any], rows: tuple[str, ...]) -> tuple[int, ...]:
    """The row chunks of the first Dask row argument; every row argument's columns must be one chunk."""
    import dask.array as da

    chunks: tuple[int, ...] | None = None
    for name in rows:
        array = arrays[name]
        if not isinstance(array, da.Array):
            continue
        if len(array.chunks[1]) > 1:
            raise ValueError(
                f"{name} is chunked along its columns (column chunks {array.chunks[1]}); matgrad needs "
                f"whole rows in each chunk: {name}.rechunk({{1: -1}})"
            )
        if chunks is None:
            chunks = array.chunks[0]
    if chunks is None:
        raise ValueError(f"no Dask array among the arguments with one row per data row ({', '.join(rows)})")
    return chunks


def run(
    signature: Signature,
    evaluate: Evaluate,
    options: Mapping[str, Any],
    values: Mapping[str, Any],
    wrt: tuple[str, ...],
    *,
    with_value: bool,
) -> tuple[Any, dict[str, Any]]:
    """Lazy value (a 0-d Dask array) and gradients (Dask arrays) of Dask (and numpy) arguments."""
    # Imported here: matgrad.dispatch loads this module only for Dask input, and dask is an extra.
    import dask
    import dask.array as da

    arrays = {}
    for name in signature.names:
        value = values[name]
        if not isinstance(value, (da.Array, np.ndarray)):
            raise TypeError(
                f"{name} is a {type(value).__module__}.{type(value).__name__}; with Dask arrays, pass "
                "Dask or numpy arrays"
            )
        arrays[name] = value
    dtype = signature.check(arrays)
    rows = row_arguments(signature, arrays)
    chunks = _row_chunks(arrays, rows)
    bounds = np.cumsum((0, *chunks))
    blocks: dict[str, list[Any]] = {}
    for name in rows:
        array = arrays[name]
        if isinstance(array, np.ndarray):
            blocks[name] = [array[start:stop] for start, stop in itertools.pairwise(bounds)]
        else:
            # Same row chunks as the first (a no-op when they agree), whole rows per chunk.
            array = array.rechunk((chunks, -1))
            blocks[name] = list(array.to_delayed()[:, 0])
    # The other arguments (weights, a bias of one row) go whole to every task: one graph key
    # each, shared by the tasks, rather than a copy of a numpy array inside every task.
    whole = {
        name: (a.rechunk(-1).to_delayed().ravel()[0] if isinstance(a, da.Array) else dask.delayed(a))
        for name, a in arrays.items()
        if name not in rows
    }
    task = dask.delayed(evaluate_block, pure=True, nout=2)
    parts = [
        task(evaluate, options, {**whole, **{name: blocks[name][i] for name in rows}}, wrt, with_value, dtype)
        for i in range(len(chunks))
    ]

    def summed(pieces: list[Any], shape: tuple[int, ...]) -> Any:
        stacked = da.stack([da.from_delayed(piece, shape=shape, dtype=dtype) for piece in pieces])
        return stacked.sum(axis=0, dtype=dtype)

    total = summed([value for value, _ in parts], ()) if with_value else None
    grads: dict[str, Any] = {}
    for name in wrt:
        pieces = [grads_i[name] for _, grads_i in parts]
        if name in rows:
            width = arrays[name].shape[1]
            grads[name] = da.concatenate(
                [
                    da.from_delayed(p, shape=(rows_i, width), dtype=dtype)
                    for p, rows_i in zip(pieces, chunks, strict=True)
                ]
            )
        else:
            grads[name] = summed(pieces, tuple(arrays[name].shape))
    return total, grads
