"""Scale benchmarks of issue 13: out of core, chunked in memory, Dask, torch via the array API path.

    python benchmarks/scale.py                       # every section (the out-of-core one: ~10 GB on disk)
    python benchmarks/scale.py --sections inmemory,torch --rounds 5
    python benchmarks/scale.py --sections outofcore --rows 2000000 --folder /tmp

Sections (all print tables; ratios come from methods timed side by side, interleaved,
one sample per method per round; each cell is the median over rounds with [min–max]):

- ``inmemory``: the large size of benchmarks/run.py, numpy in memory vs ``chunk_rows=``;
  time and peak extra memory (tracemalloc: numpy's buffers), with and without the
  returned arrays.
- ``dask``: a ``distributed.LocalCluster`` of 2 worker processes (1 thread each) vs numpy
  in memory at the large size; inputs persisted on the workers first, then either every
  result gathered to the client, or ∂f/∂X (n-row results) kept on the workers.
- ``torch``: torch CPU float32 tensors through matgrad's array API path vs torch autograd.
- ``outofcore``: X of ``--rows`` × 128 float32 in a memmap file (2·10⁷ rows ≈ 10 GB; the
  network's Y too), value + all gradients with ``max_memory``, ∂f/∂X (and ∂f/∂Y) into
  memmaps; each case in a child process (peak RSS: the child's own VmHWM, reset after the
  roofline's sampling), against the roofline: reading X once from the disk (evicted from
  the page cache first, as before the run) plus the chain's matrix products in the run's
  own blocks on an in-memory sample, timed before and after the run and scaled to n; and
  against that plus writing ∂f/∂X once to the disk (as many bytes written sequentially,
  fsync included), which the run does too. Then (with dask and distributed installed;
  ``--dask-outofcore-chunk-rows 0`` skips it) the same files on a LocalCluster of 2 worker
  processes: the workers read X and write ∂f/∂X themselves, against the numpy run's time.
  The files are deleted at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from run import _rerun_without_blas_overrides, header_lines  # noqa: E402

from matgrad.chunked import block_rows, row_arguments  # noqa: E402
from matgrad.registry import get_objective  # noqa: E402

LARGE = {
    "affine": {"n": 100_000, "k": 256, "m": 256},
    "sigmoid_net": {"n": 100_000, "d": 256, "h": 512, "o": 10},
}
OUT_OF_CORE = {"affine": {"k": 128, "m": 256}, "sigmoid_net": {"d": 128, "h": 256, "o": 10}}
IDS = ("affine", "sigmoid_net.pre")


def interleaved(methods: dict[str, Callable[[], Any]], rounds: int) -> dict[str, list[float]]:
    """Seconds per call of each method, one call per round each, order rotated every round."""
    for fn in methods.values():
        fn()  # warm-up
    names, samples = list(methods), {name: [] for name in methods}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            gc.collect()
            start = time.perf_counter()
            methods[name]()
            samples[name].append(time.perf_counter() - start)
    return samples


def cell(samples: list[float]) -> str:
    return f"{statistics.median(samples):8.3f}s [{min(samples):.3f}–{max(samples):.3f}]"


def ratio(a: list[float], b: list[float]) -> str:
    ratios = sorted(x / y for x, y in zip(a, b, strict=True))  # same round: side by side
    return f"{statistics.median(ratios):.2f}× [{ratios[0]:.2f}–{ratios[-1]:.2f}]"


def table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def arrays_for(objective_id: str, sizes: dict[str, int], dtype: Any) -> dict[str, np.ndarray]:
    objective = get_objective(objective_id)
    return objective.signature.random_arguments(np.random.default_rng(0), sizes, "row", dtype)


def peak_extra(fn: Callable[[], Any]) -> tuple[int, int]:
    """(peak bytes allocated during fn, bytes of its returned arrays): numpy reports to tracemalloc."""
    gc.collect()
    tracemalloc.start()
    try:
        _, grads = fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak, sum(g.nbytes for g in grads.values())


def section_inmemory(rounds: int, chunk_rows: int) -> None:
    print(
        f"\n## In memory at the large size: numpy unchunked vs chunk_rows={chunk_rows} (float64, row biases)"
    )
    rows = []
    for objective_id in IDS:
        objective = get_objective(objective_id)
        arrays = arrays_for(objective_id, LARGE[objective.name], np.float64)

        def plain(arrays: dict[str, Any] = arrays, objective: Any = objective) -> Any:
            return objective.module.value_and_grad(**arrays, **objective.options)

        def chunked(arrays: dict[str, Any] = arrays, objective: Any = objective) -> Any:
            return objective.module.value_and_grad(**arrays, chunk_rows=chunk_rows, **objective.options)

        samples = interleaved({"plain": plain, "chunked": chunked}, rounds)
        (peak_plain, results), (peak_chunked, _) = peak_extra(plain), peak_extra(chunked)
        rows.append(
            [
                objective_id,
                cell(samples["plain"]),
                cell(samples["chunked"]),
                ratio(samples["chunked"], samples["plain"]),
                f"{peak_plain / 1e6:.0f} / {peak_chunked / 1e6:.0f} MB",
                f"{(peak_plain - results) / 1e6:.0f} / {(peak_chunked - results) / 1e6:.0f} MB "
                f"({(peak_chunked - results) / max(peak_plain - results, 1):.1%})",
            ]
        )
    print(
        table(
            [
                "objective",
                "unchunked",
                "chunked",
                "chunked/unchunked",
                "peak extra (unchunked / chunked)",
                "same, minus the returned gradients",
            ],
            rows,
        )
    )


@contextlib.contextmanager
def two_worker_client() -> Iterator[Any]:
    """A client of a LocalCluster of 2 worker processes × 1 thread, on loopback only."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def section_dask(rounds: int, chunk_rows: int) -> None:
    import dask.array as da
    from distributed import wait

    print(
        f"\n## Dask LocalCluster (2 worker processes × 1 thread) vs numpy in memory, float64, "
        f"{chunk_rows}-row chunks"
    )
    rows = []
    with two_worker_client() as client:
        for objective_id in IDS:
            objective = get_objective(objective_id)
            arrays = arrays_for(objective_id, LARGE[objective.name], np.float64)
            n = arrays["X"].shape[0]
            lazy = {
                name: client.persist(da.from_array(a, chunks=(chunk_rows, -1)))
                if a.ndim == 2 and a.shape[0] == n
                else a
                for name, a in arrays.items()
            }

            def on_cluster(lazy: dict[str, Any] = lazy, objective: Any = objective) -> Any:
                value, grads = objective.module.value_and_grad(**lazy, **objective.options)
                return client.compute([value, grads], sync=True)

            def kept_on_cluster(lazy: dict[str, Any] = lazy, objective: Any = objective, n: int = n) -> Any:
                # What a Dask user does with ∂f/∂X (n × d, row-chunked): keep it on the workers
                # for the next step; only the value and the weights' gradients come back.
                value, grads = objective.module.value_and_grad(**lazy, **objective.options)
                rows = [k for k, g in grads.items() if g.ndim == 2 and g.shape[0] == n]
                small = [k for k in grads if k not in rows]
                # One submission, so that the chunks' shared tasks run once for both parts.
                persisted = client.persist([value, *(grads[k] for k in small), *(grads[k] for k in rows)])
                wait(persisted)
                gathered = client.compute(persisted[: 1 + len(small)], sync=True)
                return gathered, persisted[1 + len(small) :]

            def numpy(arrays: dict[str, Any] = arrays, objective: Any = objective) -> Any:
                return objective.module.value_and_grad(**arrays, **objective.options)

            samples = interleaved({"numpy": numpy, "dask": on_cluster, "kept": kept_on_cluster}, rounds)
            got, want = on_cluster(), numpy()
            error = max(float(np.max(np.abs(got[1][k] - g)) / np.max(np.abs(g))) for k, g in want[1].items())
            rows.append(
                [
                    objective_id,
                    cell(samples["numpy"]),
                    cell(samples["dask"]),
                    ratio(samples["dask"], samples["numpy"]),
                    cell(samples["kept"]),
                    ratio(samples["kept"], samples["numpy"]),
                    f"{error:.1e}",
                ]
            )
    header = [
        "objective",
        "numpy",
        "dask, all gathered",
        "/numpy",
        "dask, ∂f/∂X kept",
        "/numpy",
        "max rel. error",
    ]
    print(table(header, rows))
    print(
        "(inputs persisted on the workers first; 'all gathered': every result brought back to the client;"
        " '∂f/∂X kept': the n-row gradients persisted on the workers, the value and weights' gradients"
        " gathered.)"
    )


def section_torch(rounds: int) -> None:
    import torch

    print(
        f"\n## torch CPU tensors (float32, {torch.get_num_threads()} torch threads): "
        "matgrad's array API path vs torch autograd"
    )
    rows = []
    for size_name, sizes in (("medium", None), ("large", LARGE)):
        for objective_id in IDS:
            objective = get_objective(objective_id)
            chosen = (
                sizes[objective.name] if sizes else {"n": 1000, "k": 64, "m": 64, "d": 64, "h": 128, "o": 10}
            )
            tensors = {
                k: torch.from_numpy(a) for k, a in arrays_for(objective_id, chosen, np.float32).items()
            }
            leaves = {k: t.clone().requires_grad_(True) for k, t in tensors.items()}
            forward = torch_forward(objective_id)

            def autograd(leaves: dict[str, Any] = leaves, forward: Any = forward) -> Any:
                for t in leaves.values():
                    t.grad = None
                value = forward(**leaves)
                value.backward()
                return value

            def matgrad(tensors: dict[str, Any] = tensors, objective: Any = objective) -> Any:
                return objective.module.value_and_grad(**tensors, **objective.options)

            samples = interleaved({"autograd": autograd, "matgrad": matgrad}, rounds)
            rows.append(
                [
                    size_name,
                    objective_id,
                    cell(samples["matgrad"]),
                    cell(samples["autograd"]),
                    ratio(samples["matgrad"], samples["autograd"]),
                ]
            )
    print(table(["size", "objective", "matgrad (array API)", "torch autograd", "matgrad/autograd"], rows))


def torch_forward(objective_id: str) -> Callable[..., Any]:
    import torch

    if objective_id == "affine":
        return lambda X, W, b: ((X @ W + b) ** 2).sum()
    return lambda X, Y, W1, b1, W2, b2: ((torch.sigmoid(X @ W1 + b1) @ W2 + b2 - Y) ** 2).sum()


# --- out of core ------------------------------------------------------------------------------------


def make_file(path: Path, rows: int, columns: int, seed: int = 0) -> float:
    """Seconds to write the file of random float32 and have it on the disk.

    fsync: no writeback of it is left to share the disk with what is timed next (the
    write-once measurement, the runs).
    """
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    with open(path, "wb") as file:
        for first in range(0, rows, 1_000_000):
            rng.standard_normal((min(1_000_000, rows - first), columns), dtype=np.float32).tofile(file)
        file.flush()
        os.fsync(file.fileno())
    return time.perf_counter() - start


def write_once(path: Path, size: int) -> float:
    """Seconds to write ``size`` bytes sequentially from a reused 64 MB buffer and fsync them."""
    buffer = np.ones(64 * 2**20, np.uint8)
    start = time.perf_counter()
    with open(path, "wb", buffering=0) as file:
        for first in range(0, size, buffer.size):
            file.write(buffer[: min(buffer.size, size - first)])
        os.fsync(file.fileno())
    seconds = time.perf_counter() - start
    path.unlink()
    return seconds


@contextlib.contextmanager
def descriptor(path: Path) -> Iterator[int]:
    """A read-only file descriptor of ``path``, closed on leaving."""
    opened = os.open(path, os.O_RDONLY)
    try:
        yield opened
    finally:
        os.close(opened)


def evict(path: Path) -> None:
    """Drop the file's pages from the page cache, so that the next read comes from the disk.

    The data of an out-of-core run is larger than RAM and never cached; here the file fits
    in this machine's RAM, so it is evicted before each read (it was fsynced: its pages
    are clean, and dropping them loses nothing).
    """
    with descriptor(path) as opened:
        os.posix_fadvise(opened, 0, 0, os.POSIX_FADV_DONTNEED)


def read_once(path: Path) -> float:
    """Seconds to read the file sequentially once from the disk into a reused 64 MB buffer."""
    evict(path)
    buffer = bytearray(64 * 2**20)
    start = time.perf_counter()
    with open(path, "rb", buffering=0) as file:
        while file.readinto(buffer):
            pass
    return time.perf_counter() - start


def reset_peak_rss() -> None:
    """Start this process's high-water mark (VmHWM) afresh, where Linux allows it.

    Writing 5 to /proc/self/clear_refs resets it (Linux ≥ 4.0): the roofline's products,
    timed before the run on an in-memory sample, are then not counted in the run's peak.
    """
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear_refs:
            clear_refs.write("5")
    except OSError:
        pass


def peak_rss_bytes() -> int:
    """This process's peak resident memory since it started running this program.

    Linux's VmHWM is the high-water mark of the process's own address space, which exec
    starts afresh. getrusage's ru_maxrss is not: it keeps the parent's resident size at
    fork across exec, so a child of a benchmark holding gigabytes reported those
    gigabytes as its own peak. ru_maxrss is the fallback where /proc is missing.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def child_outofcore(objective_id: str, x_path: str, out_path: str, rows: int, max_memory: str) -> None:
    """One out-of-core run in this (child) process: prints JSON with seconds and peak RSS."""
    objective = get_objective(objective_id)
    sizes = {"n": rows, **OUT_OF_CORE[objective.name]}
    small = {k: a for k, a in arrays_for(objective_id, {**sizes, "n": 1}, np.float32).items()}
    X = np.memmap(x_path, np.float32, "r", shape=(rows, sizes.get("k", sizes.get("d"))))
    dX = np.memmap(out_path, np.float32, "w+", shape=X.shape)
    arguments, out = dict(small, X=X), {"X": dX}
    if "Y" in small:  # Y (n × o) on disk too, beside X, and ∂f/∂Y into a memmap
        y_path, dy_path = Path(out_path).with_name("Y.f32"), Path(out_path).with_name("dY.f32")
        make_file(y_path, rows, sizes["o"], seed=1)
        evict(y_path)
        arguments["Y"] = np.memmap(y_path, np.float32, "r", shape=(rows, sizes["o"]))
        out["Y"] = np.memmap(dy_path, np.float32, "w+", shape=(rows, sizes["o"]))
    # The products of the chain in the run's own blocks, on in-memory data, timed before and
    # after the run (the machine's speed drifts over the minutes a run takes): the compute roofline.
    rows_per_block = block_rows(
        objective.signature,
        arguments,
        row_arguments(objective.signature, arguments),
        np.dtype(np.float32),
        None,
        max_memory,
    )

    def products_at_n() -> list[float]:
        # A fresh sample each time, dropped before the run: it is no part of the run's memory.
        sample = np.random.default_rng(2).standard_normal((PRODUCT_SAMPLE_ROWS, X.shape[1]), dtype=np.float32)
        seconds = product_seconds(objective.name, sample, arguments, rows_per_block)
        return [t * rows / PRODUCT_SAMPLE_ROWS for t in seconds]

    products = products_at_n()
    reset_peak_rss()
    rss_before = peak_rss_bytes()
    start = time.perf_counter()
    value, _ = objective.module.value_and_grad(
        **arguments, max_memory=max_memory, out=out, **objective.options
    )
    for array in out.values():
        array.flush()
    seconds = time.perf_counter() - start
    peak = peak_rss_bytes()
    products += products_at_n()
    print(
        json.dumps(
            {
                "seconds": seconds,
                "rss_before": rss_before,
                "peak_rss": peak,
                "products": statistics.median(products),
                "products_range": [min(products), max(products)],
                "finite": bool(np.isfinite(value)),
                "value": float(value),
            }
        )
    )


#: Rows of the in-memory sample whose products, scaled to n, are the compute roofline.
PRODUCT_SAMPLE_ROWS = 2**18


def product_seconds(
    name: str, sample: np.ndarray, arguments: dict[str, Any], rows_per_block: int
) -> list[float]:
    """Seconds of the chain's matrix products over ``sample`` in blocks of ``rows_per_block``, 3 rounds.

    Three products per layer, as the run computes them on each block.
    """
    if name == "affine":
        W = arguments["W"]

        def products(Xb: np.ndarray) -> None:
            G = Xb @ W
            Xb.T @ G
            G @ W.T
    else:
        W1, W2 = arguments["W1"], arguments["W2"]

        def products(Xb: np.ndarray) -> None:
            S = Xb @ W1
            G = S @ W2
            S.T @ G
            G_S = G @ W2.T
            Xb.T @ G_S
            G_S @ W1.T

    times = []
    for _ in range(3):
        start = time.perf_counter()
        for first in range(0, sample.shape[0], rows_per_block):
            products(sample[first : first + rows_per_block])
        times.append(time.perf_counter() - start)
    return times


def section_outofcore(rows: int, folder: Path, max_memory: str, dask_chunk_rows: int) -> None:
    """Numpy in row blocks on memmaps, then (``dask_chunk_rows`` > 0) Dask on the same files."""
    columns = 128
    size = rows * columns * 4
    print(
        f"\n## Out of core: X of {rows:,} × {columns} float32 in a memmap ({size / 1e9:.1f} GB), "
        f"max_memory={max_memory!r}, ∂f/∂X into a memmap"
    )
    free = os.statvfs(folder)
    if free.f_bavail * free.f_frsize < 2.2 * size:
        print(f"skipped: {folder} has less than {2.2 * size / 1e9:.1f} GB free")
        return
    with tempfile.TemporaryDirectory(dir=folder) as scratch:
        x_path, out_path = Path(scratch) / "X.f32", Path(scratch) / "dX.f32"
        print(f"writing {x_path}: {make_file(x_path, rows, columns):.0f}s")
        # ∂f/∂X has X's size, and the run writes it to the disk (flushed before its clock stops).
        write = write_once(Path(scratch) / "write-once", size)
        rows_out = []
        numpy_runs = {}
        for objective_id in IDS:
            read = read_once(x_path)
            evict(x_path)  # the run reads X from the disk too
            done = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    objective_id,
                    str(x_path),
                    str(out_path),
                    str(rows),
                    max_memory,
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            result = json.loads(done.stdout.strip().splitlines()[-1])
            numpy_runs[objective_id] = result
            roofline = read + result["products"]
            rows_out.append(
                [
                    objective_id,
                    f"{result['seconds']:.1f}s",
                    f"{read:.1f}s",
                    "{:.1f}s [{:.1f}–{:.1f}]".format(result["products"], *result["products_range"]),
                    f"{result['seconds'] / roofline:.2f}×",
                    f"{write:.1f}s",
                    f"{result['seconds'] / (roofline + write):.2f}×",
                    f"{result['peak_rss'] / 1e9:.2f} GB",
                    "yes" if result["finite"] else "NO",
                ]
            )
        print(
            table(
                [
                    "objective",
                    "value + all grads",
                    "read X once",
                    "products",
                    "time/roofline",
                    "write ∂f/∂X once",
                    "time/(roofline + write)",
                    "peak RSS",
                    "finite",
                ],
                rows_out,
            )
        )
        print(
            "(one run each: at this size a run takes minutes. X is evicted from the page cache before"
            " 'read X once' and before each run, so both read it from the disk, as data larger than RAM"
            " would be. The roofline is the issue's, reading X and the products; the run also writes"
            " ∂f/∂X, as large as X, to the disk, which the last ratio counts at the time of writing as"
            " many bytes once (fsync included).)"
        )
        if dask_chunk_rows:
            section_dask_outofcore(Path(scratch), rows, dask_chunk_rows, numpy_runs)
    print(f"deleted {scratch}")


class RowFile:
    """A file of float32 rows that Dask reads and writes by row blocks, from any worker.

    It holds the path, not the data: pickled to a worker it is a few bytes, and each access
    maps the file there (an ``np.memmap`` itself pickles as its whole data).
    """

    def __init__(self, path: Path, shape: tuple[int, int]) -> None:
        self.path, self.shape, self.dtype, self.ndim = str(path), shape, np.dtype(np.float32), 2

    def __getitem__(self, key: Any) -> np.ndarray:
        return np.array(np.memmap(self.path, self.dtype, "r", shape=self.shape)[key])

    def __setitem__(self, key: Any, value: np.ndarray) -> None:
        # Written to the page cache; the run fsyncs the file before its clock stops.
        np.memmap(self.path, self.dtype, "r+", shape=self.shape)[key] = value


def fsync(path: Path) -> None:
    with descriptor(path) as opened:
        os.fsync(opened)


def section_dask_outofcore(scratch: Path, rows: int, chunk_rows: int, numpy_runs: dict[str, Any]) -> None:
    """The same out-of-core runs on a Dask LocalCluster: X (and Y) read from the file by the
    workers, ∂f/∂X (and ∂f/∂Y) written to a file by them, value and weights' gradients gathered."""
    if importlib.util.find_spec("dask") is None or importlib.util.find_spec("distributed") is None:
        print("\nDask out of core: dask or distributed not installed: skipped")
        return
    import dask
    import dask.array as da

    print(
        f"\n## Dask out of core: the same files, LocalCluster (2 worker processes × 1 thread), "
        f"{chunk_rows}-row chunks"
    )
    table_rows = []
    with two_worker_client() as client:
        for objective_id in IDS:
            objective = get_objective(objective_id)
            sizes = {"n": rows, **OUT_OF_CORE[objective.name]}
            small = arrays_for(objective_id, {**sizes, "n": 1}, np.float32)
            files = {"X": (scratch / "X.f32", scratch / "dX.f32", sizes.get("k", sizes.get("d")))}
            if "Y" in small:  # written by the numpy run of the network, beside X
                files["Y"] = (scratch / "Y.f32", scratch / "dY.f32", sizes["o"])
            arguments: dict[str, Any] = dict(small)
            targets = {}
            for name, (source, target, width) in files.items():
                evict(source)
                np.memmap(target, np.float32, "w+", shape=(rows, width)).flush()  # the file, empty
                arguments[name] = da.from_array(
                    RowFile(source, (rows, width)), chunks=(chunk_rows, -1), name=f"{name}-{source}"
                )
                targets[name] = RowFile(target, (rows, width))
            client.run(reset_peak_rss)
            start = time.perf_counter()
            value, grads = objective.module.value_and_grad(**arguments, **objective.options)
            small_grads = [name for name in grads if name not in targets]
            stored = da.store(
                [grads[name] for name in targets], list(targets.values()), lock=False, compute=False
            )
            computed = dask.compute(value, *(grads[name] for name in small_grads), stored)
            for name in targets:
                fsync(Path(targets[name].path))
            seconds = time.perf_counter() - start
            peaks = client.run(peak_rss_bytes)
            numpy_run = numpy_runs[objective_id]
            difference = abs(float(computed[0]) - numpy_run["value"]) / abs(numpy_run["value"])
            table_rows.append(
                [
                    f"dask: {objective_id}",
                    f"{seconds:.1f}s",
                    f"{numpy_run['seconds']:.1f}s",
                    f"{seconds / numpy_run['seconds']:.2f}×",
                    f"{difference:.1e}",
                    f"{max(peaks.values()) / 1e9:.2f} GB",
                    "yes" if np.isfinite(computed[0]) else "NO",
                ]
            )
    header = [
        "objective",
        "value + all grads",
        "numpy, out of core",
        "/numpy",
        "value vs numpy (rel.)",
        "peak RSS per worker",
        "finite",
    ]
    print(table(header, table_rows))
    print(
        "(one run each; the workers read X from the file (evicted from the page cache first) and write"
        " ∂f/∂X to a file, fsynced before the clock stops, as the numpy run does.)"
    )


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        child_outofcore(argv[1], argv[2], argv[3], int(argv[4]), argv[5])
        return 0
    _rerun_without_blas_overrides()
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sections", default="inmemory,torch,dask,outofcore")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--chunk-rows", type=int, default=4096)
    parser.add_argument("--dask-chunk-rows", type=int, default=25_000)
    parser.add_argument("--rows", type=int, default=20_000_000, help="out-of-core rows (default 2·10⁷)")
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--max-memory", default="512MB")
    parser.add_argument(
        "--dask-outofcore-chunk-rows",
        type=int,
        default=100_000,
        help="out-of-core Dask chunks (0: no Dask run)",
    )
    args = parser.parse_args(argv)
    versions = {}
    try:
        import torch

        versions["torch"] = torch.__version__
    except ImportError:
        pass
    print("\n".join(header_lines(versions)))
    print(
        f"load average {os.getloadavg()[0]:.1f}; "
        f"RAM {os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') / 1e9:.0f} GB; "
        f"{args.rounds} rounds per in-memory comparison, methods interleaved"
    )
    sections = args.sections.split(",")
    if "inmemory" in sections:
        section_inmemory(args.rounds, args.chunk_rows)
    if "torch" in sections:
        section_torch(args.rounds)
    if "dask" in sections:
        section_dask(args.rounds, args.dask_chunk_rows)
    if "outofcore" in sections:
        section_outofcore(args.rows, args.folder, args.max_memory, args.dask_outofcore_chunk_rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
