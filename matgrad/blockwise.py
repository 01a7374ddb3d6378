"""Run an elementwise kernel block by block, on every core.

numpy evaluates a chain of ufuncs one full pass over memory at a time, on one core.
For a chain with an expensive step over a large array (the sigmoid: exp, then five cheap
ufuncs), running the whole chain on one cache-sized block before the next saves the
trips to memory, and since numpy releases the GIL inside numeric ufuncs, blocks run in
parallel threads. Results are identical to one call on the whole arrays: the kernels
are elementwise.

The number of threads is the number of CPUs this process may use, or the environment
variable ``MATGRAD_NUM_THREADS`` if set (1 turns threading off).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache, lru_cache
from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

Array = NDArray[Any]

#: Bytes of one operand's block: a block of each operand and a few temporaries fit in a
#: core's L2 cache (measured best for float32 and float64 on a 1 MiB L2).
BLOCK_BYTES = 1 << 18


def block_size(dtype: DTypeLike) -> int:
    """Elements per block for arrays of ``dtype``."""
    return max(1, BLOCK_BYTES // int(np.dtype(dtype).itemsize))


_block_size_of = cache(block_size)  # by numpy dtype: map_blocks asks on every call


MAX_THREADS = 256
"""Upper bound on matgrad's worker threads, whatever ``MATGRAD_NUM_THREADS`` asks for."""


@cache
def _usable_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def num_threads() -> int:
    """Threads used for large elementwise kernels: ``MATGRAD_NUM_THREADS`` or the usable CPUs.

    The variable is checked on every call, whatever the input's size: it must be a
    positive integer in ASCII digits; values above :data:`MAX_THREADS` are capped.
    """
    return _threads_from(os.environ.get("MATGRAD_NUM_THREADS", ""))


@lru_cache(maxsize=16)
def _threads_from(setting: str) -> int:
    # Cached by the variable's text: parsing it cost a measurable part of a call at the seed size.
    # An invalid setting raises every time (exceptions are not cached).
    configured = setting.strip()
    if configured:
        if not (configured.isascii() and configured.isdigit()) or int(configured) < 1:
            raise ValueError(f"MATGRAD_NUM_THREADS must be a positive integer; got {configured!r}")
        return min(int(configured), MAX_THREADS)
    return _usable_cpus()


_pools: dict[int, tuple[int, ThreadPoolExecutor]] = {}
_pools_lock = threading.Lock()


def _pool(workers: int) -> ThreadPoolExecutor:
    """This process's one pool, grown (the old one shut down) if more workers are asked for.

    Keyed by process id: a forked child inherits the executor but not its threads.
    """
    pid = os.getpid()
    with _pools_lock:
        size, pool = _pools.get(pid, (0, None))
        if pool is None or size < workers:
            if pool is not None:
                pool.shutdown(wait=False)
            pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="matgrad")
            _pools.clear()  # a parent's pool, inherited across fork, has no threads here
            _pools[pid] = (workers, pool)
        return pool


def map_blocks(kernel: Callable[..., object], out: Array, *inputs: Array) -> Array:
    """Call ``kernel(out_block, *input_blocks)`` over matching blocks of ``out`` and ``inputs``.

    Every array must have ``out``'s shape, and ``kernel`` must act elementwise (it may
    allocate block-sized temporaries; ``out`` may be one of the inputs). Object arrays,
    small arrays and non-contiguous ones get a single call on the whole arrays.
    Returns ``out``.
    """
    arrays = (out, *inputs)
    # Plain loops, not any()/all() over generators: this runs twice per call of the network,
    # and at the seed size the generators cost as much as the arithmetic.
    shape, single_call = out.shape, False
    for a in arrays:
        if a.shape != shape:
            raise ValueError(f"map_blocks needs equal shapes; got {[a.shape for a in arrays]}")
        single_call = single_call or a.dtype == object
    if _in_a_share():  # inside a block of a row block map, which validated the thread setting
        kernel(out, *inputs)
        return out
    threads = num_threads()  # validates MATGRAD_NUM_THREADS for every input, large or small
    # dtype first: the symbolic prover's arrays of symbolic shape have no size or flags.
    block = _block_size_of(out.dtype)
    if not single_call and out.size > block:
        for a in arrays:
            single_call = single_call or not a.flags.c_contiguous
    else:
        single_call = True
    if single_call:
        kernel(out, *inputs)
        return out
    flat = [a.reshape(-1) for a in arrays]  # views: every array is C-contiguous
    starts = range(0, out.size, block)
    _run_shared(lambda start: kernel(*(a[start : start + block] for a in flat)), starts, threads)
    return out


#: Elements of the widest array in one row block of :func:`map_row_blocks`: 96 rows of 512
#: columns. Measured on the network's backward chain (10⁵ × 512, both dtypes): 96 rows
#: beat 64 and 48 and ran in half the time of 128 (a cliff where a block's buffers leave L2).
ROW_BLOCK_ELEMENTS = 96 * 512


def map_row_blocks(kernel: Callable[..., Any], *arrays: Array) -> list[Any]:
    """``kernel(*row_blocks)`` over matching blocks of rows of ``arrays``; its results in block order.

    For a chain that is row by row (a row of the result depends on the same row of each
    input) but not elementwise: e.g. a product with a weight matrix and then σ′, where a
    block's intermediates stay in cache instead of making an n × h buffer. Every array is
    2-D with the same number of rows; blocks are ``ROW_BLOCK_ELEMENTS // widest`` rows,
    run on every core. Object arrays, small arrays and non-contiguous ones get a single
    call on the whole arrays (a list of one result), as the symbolic prover's arrays do.
    """
    threads = num_threads()  # validated for every input, as in map_blocks
    rows = arrays[0].shape[0]
    # Plain loops (this runs twice per call of the network, and counts at the seed size);
    # dtype before sizes: the prover's arrays of symbolic shape cannot be compared or flagged.
    widest, single_call = 1, False
    for a in arrays:
        shape = a.shape
        if len(shape) != 2 or shape[0] != rows:
            shapes = [a.shape for a in arrays]
            raise ValueError(f"map_row_blocks needs 2-D arrays with equal rows; got {shapes}")
        if a.dtype == object:
            single_call = True
        elif shape[1] > widest:
            widest = shape[1]
    block = max(1, ROW_BLOCK_ELEMENTS // widest)
    if single_call or rows <= block:
        # One block's worth (or symbols): the kernel's own block maps run in this thread,
        # without asking for threads again (the setting was validated above).
        return [_as_a_share(kernel, *arrays)]
    for a in arrays:
        if not a.flags.c_contiguous:
            return [kernel(*arrays)]
    starts = range(0, rows, block)
    results: list[Any] = [None] * len(starts)

    def run(index: int) -> None:
        start = starts[index]
        results[index] = kernel(*(a[start : start + block] for a in arrays))

    _run_shared(run, range(len(starts)), threads)
    return results


_inside = threading.local()  # .share is True while a thread runs its share of blocks


def _in_a_share() -> bool:
    return getattr(_inside, "share", False)


def _as_a_share(function: Callable[..., Any], *arguments: Any) -> Any:
    """``function(*arguments)`` with this thread marked as running a share of blocks."""
    outer, _inside.share = _in_a_share(), True
    try:
        return function(*arguments)
    finally:
        _inside.share = outer


def _run_shared(task: Callable[[Any], object], items: range, threads: int) -> None:
    """``task(item)`` for every item, the items split in contiguous shares over up to ``threads`` threads.

    A task that maps blocks itself (σ′ inside a row block) runs them in its own thread:
    its submitting to the pool, whose threads are all busy with shares, would never return.
    """
    workers = 1 if _in_a_share() else min(threads, len(items))
    bounds = [len(items) * k // workers for k in range(workers + 1)]

    def share(first: int, last: int) -> None:
        for position in range(first, last):
            task(items[position])

    pool = _pool(workers - 1) if workers > 1 else None
    futures = (
        [pool.submit(_as_a_share, share, bounds[k], bounds[k + 1]) for k in range(1, workers)] if pool else []
    )
    _as_a_share(share, bounds[0], bounds[1])  # this thread takes the first share
    for future in futures:
        future.result()
