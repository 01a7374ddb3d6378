"""The benchmark's own logic: the recorded roofline, and a run without torch and JAX."""

from __future__ import annotations

import importlib.util
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
    RSS is its own (not the parent's, which getrusage would carry across exec)."""
    argv = ["scale.py", "--sections", "outofcore", "--rows", "200000", "--folder", str(tmp_path)]
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
        assert peak_gb < 0.5, row  # X is 0.1 GB on disk; a block is at most 64 MB
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
