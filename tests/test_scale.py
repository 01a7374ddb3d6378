"""Scale: row-chunked numpy and memmap, the array API path (array-api-strict, torch), Dask.

Every property runs over the registry; each library's tests skip when it is not installed.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from matgrad.chunked import parse_bytes
from matgrad.registry import OBJECTIVES

SIZES = {"n": 53, "k": 4, "m": 3, "d": 4, "h": 6, "o": 3}
KINDS = ("full", "row", "vector")


def cases() -> list:
    return [pytest.param(o, kind, id=f"{o.id}-{kind}") for o in OBJECTIVES for kind in KINDS]


def arguments(objective, kind, dtype=np.float64, n=SIZES["n"], seed=0):
    sizes = {**SIZES, "n": n}
    return objective.signature.random_arguments(np.random.default_rng(seed), sizes, kind, dtype)


def in_memory(objective, arrays):
    return objective.value_and_grad(arrays)


def assert_same(objective, got, expected, rtol=1e-10, to_numpy=np.asarray):
    value, grads = got
    assert np.allclose(to_numpy(value), expected[0], rtol=rtol, atol=0)
    assert list(grads) == list(objective.arguments)
    for name, gradient in expected[1].items():
        np.testing.assert_allclose(
            to_numpy(grads[name]), gradient, rtol=rtol, atol=rtol * np.abs(gradient).max()
        )


def row_names(objective, arrays):
    n = arrays[objective.arguments[0]].shape[0]
    return [name for name, a in arrays.items() if a.ndim == 2 and a.shape[0] == n and name != "W"]


# --- numpy, row-chunked -------------------------------------------------------------------------


@pytest.mark.parametrize(("objective", "kind"), cases())
@pytest.mark.parametrize("chunk_rows", [1, 7, 53, 100])
def test_chunked_equals_in_memory(objective, kind, chunk_rows):
    arrays = arguments(objective, kind)
    got = objective.module.value_and_grad(**arrays, chunk_rows=chunk_rows, **objective.options)
    assert_same(objective, got, in_memory(objective, arrays))


@pytest.mark.parametrize(("objective", "kind"), cases())
def test_value_and_grad_alone_chunked_by_memory_budget(objective, kind):
    arrays = arguments(objective, kind)
    value, grads = in_memory(objective, arrays)
    options = objective.options
    assert np.isclose(objective.module.value(**arrays, max_memory="20kB", **options), value, rtol=1e-12)
    chunked = objective.module.grad(**arrays, wrt=objective.arguments[:2], max_memory=20_000, **options)
    assert list(chunked) == list(objective.arguments[:2])
    for name, gradient in chunked.items():
        np.testing.assert_allclose(gradient, grads[name], rtol=1e-10)


@pytest.mark.parametrize(("objective", "kind"), cases())
def test_memmap_in_memmap_out(objective, kind, tmp_path):
    arrays = arguments(objective, kind, np.float32)
    expected = in_memory(objective, arrays)
    on_disk, out = dict(arrays), {}
    for name in row_names(objective, arrays):
        source = np.memmap(tmp_path / f"{name}.bin", np.float32, "w+", shape=arrays[name].shape)
        source[:] = arrays[name]
        source.flush()
        on_disk[name] = np.memmap(tmp_path / f"{name}.bin", np.float32, "r", shape=arrays[name].shape)
        out[name] = np.memmap(tmp_path / f"d{name}.bin", np.float32, "w+", shape=arrays[name].shape)
    value, grads = objective.module.value_and_grad(**on_disk, chunk_rows=10, out=out, **objective.options)
    for name, target in out.items():
        assert grads[name] is target  # written in place, block by block
    assert value.dtype == np.float32 and all(g.dtype == np.float32 for g in grads.values())
    assert_same(objective, (value, grads), expected, rtol=1e-4)


@pytest.mark.parametrize("objective", [pytest.param(o, id=o.id) for o in OBJECTIVES])
def test_peak_memory_of_the_chunked_mode_does_not_grow_with_n(objective):
    """numpy reports its buffers to tracemalloc: the chunked peak at n and 8n is the same."""
    peaks = []
    for n in (2_000, 16_000):
        arrays = arguments(objective, "row", n=n)
        out = {name: np.empty_like(arrays[name]) for name in row_names(objective, arrays)}  # the results
        tracemalloc.start()
        objective.module.value_and_grad(
            **arrays, wrt=objective.arguments, chunk_rows=256, out=out, **objective.options
        )
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    full = sum(a.nbytes for a in arguments(objective, "row", n=16_000).values())
    assert peaks[1] < 1.5 * peaks[0] + 100_000
    assert peaks[1] < full / 4  # far below one copy of the inputs at the large n


def test_read_only_memmap_as_out_is_rejected(tmp_path):
    from matgrad import affine

    X = np.ones((5, 2))
    read_only = np.memmap(tmp_path / "dX.bin", np.float64, "w+", shape=(5, 2))
    read_only.flush()
    read_only = np.memmap(tmp_path / "dX.bin", np.float64, "r", shape=(5, 2))
    with pytest.raises(ValueError, match=r"out\['X'\] is read-only"):
        affine.grad(X, np.ones((2, 3)), np.zeros(3), out={"X": read_only})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_memory": "1kB"}, r"max_memory='1kB' \(1000 bytes\) is too small for one row"),
        ({"max_memory": "lots"}, "max_memory must be a number of bytes"),
        ({"chunk_rows": 0}, "chunk_rows must be a positive integer"),
        ({"chunk_rows": 5, "max_memory": "1GB"}, "chunk_rows or max_memory, not both"),
        ({"out": {"W": np.empty((40, 30))}}, r"out\['W'\]: out= takes the gradients .* of \['X'\]"),
        ({"out": {"X": np.empty((9, 40))}}, r"out\['X'\] has shape \(9, 40\); ∂f/∂X has X's shape"),
    ],
)
def test_bad_chunking_arguments_are_named(kwargs, message):
    from matgrad import affine

    with pytest.raises(ValueError, match=message):
        affine.grad(np.ones((10, 40)), np.ones((40, 30)), np.zeros(30), **kwargs)


def test_parse_bytes_units():
    assert parse_bytes("1GB") == 10**9 and parse_bytes("512 MiB") == 2**29 and parse_bytes(4096) == 4096


# --- the array API path -------------------------------------------------------------------------


@pytest.mark.parametrize(("objective", "kind"), cases())
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_array_api_strict_equals_numpy_and_keeps_library_and_dtype(objective, kind, dtype):
    xp = pytest.importorskip("array_api_strict")
    arrays = arguments(objective, kind, np.dtype(dtype))
    value, grads = objective.module.value_and_grad(
        **{name: xp.asarray(a) for name, a in arrays.items()}, **objective.options
    )
    for result in (value, *grads.values()):
        assert type(result) is type(xp.asarray(0.0)) and result.dtype == getattr(xp, dtype)
    assert value.shape == () and all(grads[name].shape == arrays[name].shape for name in grads)
    assert_same(
        objective, (value, grads), in_memory(objective, arrays), rtol=1e-4 if dtype == "float32" else 1e-10
    )


@pytest.mark.parametrize(("objective", "kind"), cases())
def test_torch_cpu_equals_numpy_and_keeps_dtype_and_device(objective, kind):
    torch = pytest.importorskip("torch")
    pytest.importorskip("array_api_compat")
    arrays = arguments(objective, kind, np.float32)
    tensors = {name: torch.from_numpy(a) for name, a in arrays.items()}
    value, grads = objective.module.value_and_grad(**tensors, **objective.options)
    for result in (value, *grads.values()):
        assert isinstance(result, torch.Tensor) and result.dtype == torch.float32
        assert result.device == tensors["X"].device
    assert_same(
        objective, (value, grads), in_memory(objective, arrays), rtol=1e-4, to_numpy=lambda t: t.numpy()
    )
    only = objective.module.grad(**tensors, wrt=objective.arguments[-1], **objective.options)
    assert list(only) == [objective.arguments[-1]]


def test_integer_arrays_become_the_default_floating_dtype():
    xp = pytest.importorskip("array_api_strict")
    from matgrad import affine

    grads = affine.grad(
        xp.ones((3, 2), dtype=xp.int64), xp.ones((2, 2), dtype=xp.int64), xp.zeros(2, dtype=xp.int64)
    )
    assert grads["W"].dtype == xp.float64 and float(grads["W"][0, 0]) == 12.0


def test_two_libraries_in_one_call_is_a_type_error_naming_them():
    torch = pytest.importorskip("torch")
    pytest.importorskip("array_api_compat")
    from matgrad import affine

    with pytest.raises(
        TypeError, match=r"different libraries .*W, b: .*numpy.*X: .*torch|X: .*torch.*W, b: .*numpy"
    ):
        affine.grad(torch.ones(3, 2), np.ones((2, 2)), np.zeros(2))
    with pytest.raises(TypeError, match="b is a list"):
        affine.grad(torch.ones(3, 2), torch.ones(2, 2), [0.0, 0.0])


def test_two_devices_in_one_call_is_an_error_naming_them():
    xp = pytest.importorskip("array_api_strict")
    pytest.importorskip("array_api_compat")
    from matgrad import affine

    other = xp.Device("device1")
    with pytest.raises(ValueError, match=r"different devices .*W on device1|W on .*device1"):
        affine.grad(xp.ones((3, 2)), xp.ones((2, 2), device=other), xp.zeros(2))


def test_shape_errors_name_the_argument_on_the_array_api_path():
    xp = pytest.importorskip("array_api_strict")
    from matgrad import affine

    with pytest.raises(ValueError, match=r"W has shape \(4, 2\) but X has 2 columns"):
        affine.grad(xp.ones((3, 2)), xp.ones((4, 2)), xp.zeros(2))


def test_numpy_path_is_untouched_and_import_stays_light():
    code = (
        "import sys, matgrad, numpy as np;"
        "matgrad.affine.grad(np.ones((3, 2)), np.ones((2, 2)), np.zeros(2));"
        "print(sorted(m for m in ('dask', 'array_api_compat', 'torch', 'sympy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- Dask ---------------------------------------------------------------------------------------


def dask_arguments(objective, arrays, rows_per_chunk=10):
    da = pytest.importorskip("dask.array")
    rows = row_names(objective, arrays)
    return {
        name: da.from_array(a, chunks=(rows_per_chunk, -1)) if name in rows else a
        for name, a in arrays.items()
    }


@pytest.mark.parametrize(("objective", "kind"), cases())
def test_dask_threaded_is_lazy_row_chunked_and_equals_numpy(objective, kind):
    dask = pytest.importorskip("dask")
    da = pytest.importorskip("dask.array")
    arrays = arguments(objective, kind)
    lazy = dask_arguments(objective, arrays)
    value, grads = objective.module.value_and_grad(**lazy, **objective.options)
    assert all(isinstance(r, da.Array) for r in (value, *grads.values()))
    rows = row_names(objective, arrays)
    for name in rows:
        assert grads[name].chunks == lazy[name].chunks  # ∂f/∂X keeps X's row chunks
    graph = dict(value.__dask_graph__())
    chunk_tasks = [
        key for key in graph if str(key[0] if isinstance(key, tuple) else key).startswith("evaluate_block")
    ]
    assert len(chunk_tasks) == len(lazy["X"].chunks[0])  # one task per chunk runs the chain
    computed = dask.compute(value, grads, scheduler="threads")
    assert_same(objective, computed, in_memory(objective, arrays))


def test_dask_chunks_that_split_columns_are_rejected():
    da = pytest.importorskip("dask.array")
    from matgrad import affine

    X = da.ones((20, 6), chunks=(5, 3))
    with pytest.raises(ValueError, match=r"X is chunked along its columns .*X.rechunk\(\{1: -1\}\)"):
        affine.grad(X, np.ones((6, 2)), np.zeros(2))


def test_dask_with_torch_is_a_type_error():
    da = pytest.importorskip("dask.array")
    torch = pytest.importorskip("torch")
    from matgrad import affine

    with pytest.raises(TypeError, match=r"W is a torch\.Tensor; with Dask arrays, pass Dask or numpy arrays"):
        affine.grad(da.ones((20, 6), chunks=(5, 6)), torch.ones(6, 2), np.zeros(2))


def test_dask_on_a_local_cluster_of_worker_processes():
    pytest.importorskip("dask.array")
    distributed = pytest.importorskip("distributed")
    objective = OBJECTIVES[-1]
    arrays = arguments(objective, "row")
    lazy = dask_arguments(objective, arrays, rows_per_chunk=12)
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        value, grads = objective.module.value_and_grad(**lazy, **objective.options)
        computed = client.compute([value, grads], sync=True)
        workers = client.run(lambda: __import__("os").getpid())
    assert len(set(workers.values())) == 2
    assert_same(objective, tuple(computed), in_memory(objective, arrays))


def test_readme_large_data_examples_run(tmp_path):
    """The README's "Large data" code blocks, in order, in a fresh interpreter."""
    for module in ("dask.array", "distributed", "torch", "array_api_compat"):
        pytest.importorskip(module)
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Large data", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert len(blocks) == 4
    script = tmp_path / "large_data.py"
    script.write_text("\n".join(blocks), encoding="utf-8")
    subprocess.run([sys.executable, str(script)], cwd=tmp_path, check=True, timeout=300)


def test_memmap_pages_released_block_by_block_keep_the_data(tmp_path):
    """Pages of input and output memmaps are dropped after each block; the file keeps every row."""
    from matgrad import affine

    rng = np.random.default_rng(1)
    X, W, b = rng.standard_normal((5000, 64)), rng.standard_normal((64, 8)), rng.standard_normal(8)
    path, out_path = tmp_path / "X.bin", tmp_path / "dX.bin"
    X.tofile(path)
    on_disk = np.memmap(path, np.float64, "r", offset=0, shape=X.shape)
    dX = np.memmap(out_path, np.float64, "w+", shape=X.shape)
    value, _ = affine.value_and_grad(on_disk, W, b, chunk_rows=333, out={"X": dX})
    expected = affine.value_and_grad(X, W, b)
    assert np.isclose(value, expected[0], rtol=1e-12)
    dX.flush()
    np.testing.assert_allclose(np.fromfile(out_path).reshape(X.shape), expected[1]["X"], rtol=1e-12)
    np.testing.assert_array_equal(np.asarray(on_disk), X)


def test_without_array_api_compat_a_torch_tensor_asks_for_the_extra(monkeypatch):
    torch = pytest.importorskip("torch")
    from matgrad import affine

    monkeypatch.setitem(sys.modules, "array_api_compat", None)  # import fails as if not installed
    with pytest.raises(ImportError, match=r"X \(torch\).*pip install 'matgrad\[array\]'"):
        affine.grad(torch.ones(3, 2), np.ones((2, 2)), np.zeros(2))
