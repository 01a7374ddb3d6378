"""The benchmark's own logic: the recorded roofline, and a run without torch and JAX."""

from __future__ import annotations

import importlib.util
import json
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import objective_cases

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def _load(name: str):
    # By path, under a distinct name: benchmarks/ is not a package, and putting it on
    # sys.path would shadow any module called "cases" for the rest of the session.
    spec = importlib.util.spec_from_file_location(f"matgrad_benchmark_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


cases, report = _load("cases"), _load("report")
Case, record_products = cases.Case, cases.record_products


@pytest.mark.parametrize("objective", objective_cases())
def test_recorded_products_are_those_of_value_and_gradients(objective):
    # Per layer: one product forward, and one per gradient that needs it (∂/∂input, ∂/∂W).
    sizes = {"n": 1000, "k": 6, "m": 7, "d": 6, "h": 8, "o": 3}
    case = Case(objective, "test", sizes, "row", np.dtype(np.float64), None)
    layers = 1 if objective.name == "affine" else 2
    products = record_products(case, None)
    assert len(products) == 3 * layers
    assert all(1000 in p.shape_a + p.shape_b for p in products)  # recorded rows scaled to n
    first_weight = "W" if layers == 1 else "W1"
    assert len(record_products(case, (first_weight,))) == 2 * layers


def test_benchmark_runs_and_skips_missing_frameworks():
    hide = "import sys, runpy; sys.modules.update(torch=None, jax=None); "
    argv = ["run.py", "--quick", "--sizes", "seed", "--dtypes", "float64", "--objectives", "affine"]
    run = f"sys.argv = {argv!r}; "
    code = hide + run + f"runpy.run_path({str(BENCHMARKS / 'run.py')!r}, run_name='__main__')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "torch: not installed: skipped" in done.stdout
    assert "jax: not installed: skipped" in done.stdout
    assert done.stdout.count("affine ") >= 2  # one row per bias kind
    assert "n/a    torch: not installed, not compared" in done.stdout


def test_second_order_benchmark_runs_and_skips_missing_frameworks():
    hide = "import sys, runpy; sys.modules.update(torch=None, jax=None); "
    argv = ["second_order.py", "--quick", "--sizes", "seed", "--dtypes", "float64", "--objectives", "affine"]
    run = f"sys.argv = {argv!r}; "
    code = hide + run + f"runpy.run_path({str(BENCHMARKS / 'second_order.py')!r}, run_name='__main__')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "hvp ≤ 2× value_and_grad" in done.stdout
    assert "[not run] faster than jax" in done.stdout and "jax not installed" in done.stdout


def test_scale_benchmark_out_of_core_runs_on_disk_with_flat_memory(tmp_path):
    """A small out-of-core run: both objectives finish, on memmaps only, and each child's peak
    RSS is its run's own (not the parent's, which getrusage would carry across exec)."""
    argv = ["scale.py", "--sections", "outofcore", "--rows", "200000", "--folder", str(tmp_path)]
    argv += ["--dask-outofcore-chunk-rows", "50000"]
    # The benchmark's process holds 1 GB: a child that reported its parent's memory would show it.
    ballast = "import numpy, runpy, sys; ballast = numpy.ones(2**27); "
    run = f"sys.argv = {argv!r}; runpy.run_path({str(BENCHMARKS / 'scale.py')!r}, run_name='__main__')"
    done = subprocess.run([sys.executable, "-c", ballast + run], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines() if line.startswith(("affine ", "sigmoid_net"))]
    assert [row[0] for row in rows] == ["affine", "sigmoid_net.pre"]
    for row in rows:
        assert row[-1] == "yes"  # a finite value
        peak_gb = float(row[-3])  # "... <peak> GB yes"
        # X is 0.1 GB on disk; a block is at most 64 MB; the roofline's 128 MB in-memory
        # sample, timed before the run, is not the run's (its peak is reset after it).
        assert peak_gb < 0.2, row
    if importlib.util.find_spec("distributed") is not None:  # the same files on a LocalCluster
        dask_rows = [line.split() for line in done.stdout.splitlines() if line.startswith("dask: ")]
        assert [row[1] for row in dask_rows] == ["affine", "sigmoid_net.pre"]
        for row in dask_rows:
            assert row[-1] == "yes"
            # "... <value's relative difference from numpy's> <peak per worker> GB yes": float32
            # sums over other blocks (4e-5 seen); a chunk lost or counted twice is ≥ 1/4.
            assert float(row[-4]) < 1e-3, row
            assert float(row[-3]) < 0.5, row
    assert list(tmp_path.iterdir()) == []  # the files are deleted


def _row(objective: str, size: str, seconds: dict[str, float]):
    samples = {method: [value] * 4 for method, value in seconds.items()}
    return report.Row(objective, "row", size, size, "float64", seconds, samples, 4, None)


def _verdict(results, start: str):
    (holds,) = [h for h, text in results if text.startswith(start)]
    return holds


@pytest.mark.parametrize(("torch", "jax", "products"), [(5.5, 0.9, 1.05), (4.0, 1.1, 1.2)])
def test_issue_14_goals_are_judged_from_the_measured_ratios(torch, jax, products):
    """Seed: ≥ 5× faster than torch, faster than jax.jit; large network: ≤ 1.10× its products."""
    rows = [
        _row("sigmoid_net.pre", "seed", {"matgrad": 1.0, "torch": torch, "jax": jax}),
        _row("sigmoid_net.post", "large", {"matgrad": products, "products": 1.0}),
    ]
    results = report.goals(rows)
    assert _verdict(results, "seed size at least 5× faster than torch") is (torch >= 5)
    assert _verdict(results, "seed size faster than jax.jit") is (jax > 1)
    assert _verdict(results, "large sizes: the network's") is (products <= 1.10)


def test_noisy_rows_are_left_out_of_the_goals():
    noisy = _row("sigmoid_net.pre", "seed", {"matgrad": 1.0, "torch": 2.0, "jax": 0.5})
    noisy.noisy = True
    results = report.goals([noisy, _row("affine", "seed", {"matgrad": 1.0, "torch": 9.0, "jax": 2.0})])
    assert _verdict(results, "seed size at least 5× faster than torch") is True
    assert _verdict(results, "seed size faster than jax.jit") is True


def _load_plot(monkeypatch):
    # plot.py imports its siblings by their plain names, as run.py loads it: provide them
    # for the load only (monkeypatch restores sys.modules afterwards).
    monkeypatch.setitem(sys.modules, "cases", cases)
    monkeypatch.setitem(sys.modules, "report", report)
    return _load("plot")


def _timed_row(size: str, dtype: str, ratio: float, bias: str = "row", noisy: bool = False):
    """A row whose matgrad takes ``ratio`` times its products in every round (torch: twice)."""
    seconds = {"products": 1.0, "matgrad": ratio, "torch": 2 * ratio}
    samples = {method: [value] * 5 for method, value in seconds.items()}
    return report.Row("sigmoid_net.pre", bias, size, size, dtype, seconds, samples, 5, None, noisy=noisy)


def test_plot_series_are_ratios_to_the_products_ordered_by_n(monkeypatch):
    plot = _load_plot(monkeypatch)
    rows = [
        _timed_row("large", "float64", 1.1, noisy=True),
        _timed_row("seed", "float64", 3.0),
        _timed_row("medium", "float64", 1.5),
        _timed_row("medium", "float32", 9.0),  # another dtype
        _timed_row("medium", "float64", 7.0, bias="full"),  # another bias kind
    ]
    n = {size: cases.SIZES[size]["sigmoid_net"]["n"] for size in ("seed", "medium", "large")}
    assert plot.series(rows, "sigmoid_net.pre", "float64", "matgrad") == [
        (n["seed"], 3.0, False),
        (n["medium"], 1.5, False),
        (n["large"], 1.1, True),
    ]
    assert [ratio for _, ratio, _ in plot.series(rows, "sigmoid_net.pre", "float64", "torch")] == [
        6.0,
        3.0,
        2.2,
    ]
    assert plot.series(rows, "sigmoid_net.pre", "float64", "jax") == []  # not measured


def test_plot_is_drawn_from_a_runs_json(tmp_path):
    pytest.importorskip("matplotlib")
    rows = [
        _timed_row(size, dtype, 1.2)
        for size in ("seed", "medium", "large")
        for dtype in ("float64", "float32")
    ]
    saved = {
        "header": ["python 3.11, numpy 2 from /x", "blas: openblas, kernel K"],
        "rows": [r.to_dict() for r in rows],
    }
    (tmp_path / "run.json").write_text(json.dumps(saved))
    png = tmp_path / "speed.png"
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "plot.py"), str(tmp_path / "run.json"), str(png)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png.read_bytes()[16:24])
    assert height > width > 300  # one objective, two dtypes: two panels stacked


def test_goals_say_when_every_row_they_concern_was_noisy():
    noisy = _row("sigmoid_net.pre", "large", {"matgrad": 1.0, "products": 1.0, "torch": 2.0})
    noisy.noisy = True
    noisy.memory = {"peak": 5, "gradients": 1, "unit": 2}  # gradients + 2 n×h buffers
    texts = {text.split(":")[0]: (holds, text) for holds, text in report.goals([noisy])}
    # Peak memory is no timing: a noisy row's is judged.
    assert texts["large network peak extra memory ≤ gradients + 2 n×h buffers"][0] is True
    for goal in ("large sizes", "large network", "torch"):
        holds, text = texts[goal]
        assert holds is None and "every row it concerns is noisy" in text, text
    holds, text = texts["jax"]  # never timed, noisy or not
    assert holds is None and text.endswith("not installed, not compared")
    holds, text = texts["seed size at least 5× faster than torch eager"]
    assert holds is None and text.endswith("not measured")  # the noisy row is not at the seed size
