"""Time matgrad's closed-form Hessian-vector products against its gradient, JAX and torch.

    python benchmarks/second_order.py            # seed, medium and large sizes (minutes)
    python benchmarks/second_order.py --quick    # seed and medium sizes, short budgets

For every registry entry (row biases), float64 and float32, it times, interleaved:
matgrad's ``value_and_grad`` and ``hvp`` over the parameters (affine: W, b; the network:
W1, b1, W2, b2), ``jax.jit`` of ``jax.jvp(jax.grad(f))`` and ``torch.func.jvp(torch.func.grad(f))``
(each when installed), after checking that all agree. Then the dense Hessian of a
logistic regression (n = 10⁴, k = 500): matgrad's closed form Aᵀ diag(σ ⊙ (1 − σ)) A
against ``jax.jit(jax.hessian(f))``. Each ratio is the median of per-round ratios, with
its spread (IQR / median); the goals of issue 12 are printed with whether they hold.
OpenBLAS overrides are removed for this process, as in ``benchmarks/run.py``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from statistics import median, quantiles
from typing import Any

import numpy as np

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]

from cases import SIZES  # noqa: E402  (the benchmark's own modules, beside this script)
from frameworks import REFERENCE, available, versions  # noqa: E402
from run import _rerun_without_blas_overrides, add_selection_arguments, header_lines  # noqa: E402
from timing import Budget, time_interleaved  # noqa: E402

from matgrad.registry import OBJECTIVES, Objective  # noqa: E402

PARAMETERS = {"affine": ("W", "b"), "sigmoid_net": ("W1", "b1", "W2", "b2")}
BUDGETS = {  # size: (quick, full)
    "seed": (Budget(5, 21, 0.3, 0.002), Budget(15, 61, 1.5, 0.005)),
    "medium": (Budget(5, 11, 0.5, 0.005), Budget(9, 31, 2.5, 0.01)),
    "large": (Budget(3, 3, 0.0, 0.0), Budget(5, 5, 0.0, 0.0)),
}
HVP_OVER_GRADIENT = 2.0  # "a closed-form HVP costs ≤ 2× its objective's value_and_grad"
DENSE_HESSIAN_SPEEDUP = 10.0  # "at least 10× faster than jax.hessian"
LOGISTIC_SIZE = (10_000, 500)

Runner = Callable[[], dict[str, Any]]


def ratio_and_spread(samples: Mapping[str, list[float]], method: str, reference: str) -> tuple[float, float]:
    """Median and IQR/median of the per-round ratios method/reference (back-to-back samples)."""
    ratios = sorted(a / b for a, b in zip(samples[method], samples[reference], strict=False))
    middle = median(ratios)
    if len(ratios) < 2:
        return middle, 0.0
    q = quantiles(ratios, n=4, method="inclusive")
    return middle, (q[2] - q[0]) / middle


def arrays_for(objective: Objective, size: str, dtype: str, rng: np.random.Generator) -> dict[str, Any]:
    sizes = SIZES[size][objective.name]
    return objective.signature.random_arguments(rng, sizes, "row", dtype)


def matgrad_runners(
    objective: Objective, arrays: dict[str, Any], direction: dict[str, Any]
) -> dict[str, Runner]:
    names = tuple(direction)
    return {
        "value_and_grad": lambda: objective.value_and_grad(arrays, wrt=names)[1],
        "hvp": lambda: objective.hvp(arrays, direction),
    }


def jax_hvp(objective: Objective, arrays: dict[str, Any], direction: dict[str, Any]) -> Runner | None:
    if not available()["jax"]:
        return None
    import jax

    jax.config.update("jax_enable_x64", True)
    fixed = {name: jax.device_put(a) for name, a in arrays.items() if name not in direction}
    point = {name: jax.device_put(arrays[name]) for name in direction}
    tangent = {name: jax.device_put(v) for name, v in direction.items()}

    def f(params: dict[str, Any]) -> Any:
        return REFERENCE[objective.id]({**fixed, **params}, jax.nn.sigmoid)

    compiled = jax.jit(lambda p, v: jax.jvp(jax.grad(f), (p,), (v,))[1])
    return lambda: jax.block_until_ready(compiled(point, tangent))


def torch_hvp(objective: Objective, arrays: dict[str, Any], direction: dict[str, Any]) -> Runner | None:
    if not available()["torch"]:
        return None
    import torch
    from torch.func import grad, jvp

    fixed = {name: torch.from_numpy(a) for name, a in arrays.items() if name not in direction}
    point = {name: torch.from_numpy(arrays[name]) for name in direction}
    tangent = {name: torch.from_numpy(v) for name, v in direction.items()}

    def f(params: dict[str, Any]) -> Any:
        return REFERENCE[objective.id]({**fixed, **params}, torch.sigmoid)

    return lambda: jvp(grad(f), (point,), (tangent,))[1]


def max_relative_difference(got: Mapping[str, Any], want: Mapping[str, Any]) -> float:
    worst = 0.0
    for name, value in want.items():
        a, b = np.asarray(got[name], np.float64), np.asarray(value, np.float64)
        worst = max(worst, float(np.abs(a - b).max() / max(1.0, float(np.abs(b).max()))))
    return worst


def hvp_rows(
    quick: bool, sizes: list[str], dtypes: list[str], objectives: list[Objective]
) -> list[dict[str, Any]]:
    rows = []
    rng = np.random.default_rng(0)
    for objective in objectives:
        for size in sizes:
            for dtype in dtypes:
                arrays = arrays_for(objective, size, dtype, rng)
                names = PARAMETERS[objective.name]
                direction = {name: rng.standard_normal(arrays[name].shape).astype(dtype) for name in names}
                runners: dict[str, Runner] = dict(matgrad_runners(objective, arrays, direction))
                reference = runners["hvp"]()
                disagree = {}
                for name, make in (("jax", jax_hvp), ("torch", torch_hvp)):
                    runner = make(objective, arrays, direction)
                    if runner is not None:
                        difference = max_relative_difference(runner(), reference)
                        disagree[name] = difference
                        runners[name] = runner
                budget = BUDGETS[size][0 if quick else 1]
                samples = time_interleaved(runners, budget)
                row: dict[str, Any] = {
                    "objective": objective.id,
                    "size": size,
                    "shape": "×".join(str(s) for s in SIZES[size][objective.name].values()),
                    "dtype": dtype,
                    "rounds": min(len(v) for v in samples.values()),
                    "hvp_s": median(samples["hvp"]),
                    "vg_s": median(samples["value_and_grad"]),
                    "hvp/vg": ratio_and_spread(samples, "hvp", "value_and_grad"),
                    "agreement": disagree,
                }
                for name in ("jax", "torch"):
                    if name in samples:
                        row[f"{name}_s"] = median(samples[name])
                        row[f"hvp/{name}"] = ratio_and_spread(samples, "hvp", name)
                rows.append(row)
                print(format_row(row), flush=True)
    return rows


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g}{unit}"
    return f"{seconds / 1e-9:.3g}ns"


def format_ratio(pair: tuple[float, float] | None) -> str:
    return "—" if pair is None else f"{pair[0]:.2f} ±{pair[1]:.2f}"


HEADER = (
    f"{'objective':17} {'size':6} {'shape':18} {'dtype':7} {'rounds':>6} {'vg':>8} {'hvp':>8} "
    f"{'hvp/vg':>12} {'jax':>8} {'hvp/jax':>12} {'torch':>8} {'hvp/torch':>12}  agreement (max rel diff)"
)


def format_row(row: Mapping[str, Any]) -> str:
    agreement = ", ".join(f"{k} {v:.1e}" for k, v in row["agreement"].items()) or "—"
    return (
        f"{row['objective']:17} {row['size']:6} {row['shape']:18} {row['dtype']:7} {row['rounds']:>6} "
        f"{format_seconds(row['vg_s']):>8} {format_seconds(row['hvp_s']):>8} "
        f"{format_ratio(row['hvp/vg']):>12} "
        f"{format_seconds(row.get('jax_s')):>8} {format_ratio(row.get('hvp/jax')):>12} "
        f"{format_seconds(row.get('torch_s')):>8} {format_ratio(row.get('hvp/torch')):>12}  {agreement}"
    )


def _closed_form_hessian(A: Any, w: Any, ridge: Any) -> Runner:
    """Aᵀ diag(s) A + λI with s = σ(Aw) ⊙ (1 − σ(Aw)): one product of A with itself."""
    from matgrad.elementwise import sigmoid

    def run() -> Any:
        s = sigmoid(A @ w)
        s *= 1 - s  # σ′ = σ(1 − σ), from the saved σ
        H = A.T @ (s[:, None] * A)
        H[np.diag_indices(A.shape[1])] += ridge
        return H

    return run


def _jax_hessian(A: Any, y: Any, w: Any, ridge: Any) -> Runner:
    """jax.jit(jax.hessian(f)) of the same ridge logistic loss, compiled before it is timed."""
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    A_j, y_j, w_j = jax.device_put(A), jax.device_put(y), jax.device_put(w)

    def loss(v: Any) -> Any:
        z = A_j @ v
        return jnp.sum(jnp.logaddexp(0, z)) - y_j @ z + ridge / 2 * v @ v

    hessian = jax.jit(jax.hessian(loss))
    return lambda: jax.block_until_ready(hessian(w_j))


def logistic_rows(quick: bool, dtypes: list[str]) -> list[dict[str, Any]]:
    """The dense Hessian Aᵀ diag(s) A + λI of a ridge logistic regression, against jax.hessian."""
    n, k = (2_000, 200) if quick else LOGISTIC_SIZE
    rng = np.random.default_rng(1)
    rows = []
    for dtype in dtypes:
        A = rng.standard_normal((n, k)).astype(dtype)
        y = (rng.random(n) < 0.5).astype(dtype)
        w = (rng.standard_normal(k) / np.sqrt(k)).astype(dtype)
        ridge = np.dtype(dtype).type(1e-2)
        runners: dict[str, Runner] = {"closed form": _closed_form_hessian(A, w, ridge)}
        difference = None
        if available()["jax"]:
            runners["jax.hessian"] = _jax_hessian(A, y, w, ridge)
            want = np.asarray(runners["jax.hessian"](), np.float64)
            difference = float(np.abs(runners["closed form"]() - want).max() / np.abs(want).max())
        samples = time_interleaved(runners, Budget(3, 3 if quick else 5, 0.0, 0.0))
        row: dict[str, Any] = {"n×k": f"{n}×{k}", "dtype": dtype, "closed": median(samples["closed form"])}
        if "jax.hessian" in samples:
            row["jax"] = median(samples["jax.hessian"])
            row["jax/closed"] = ratio_and_spread(samples, "jax.hessian", "closed form")
            row["agreement"] = difference
        rows.append(row)
        agreement = "—" if difference is None else f"{difference:.1e}"
        print(
            f"logistic Hessian {row['n×k']:10} {dtype:7} closed form {format_seconds(row['closed']):>8}  "
            f"jax.hessian {format_seconds(row.get('jax')):>8}  "
            f"speed-up {format_ratio(row.get('jax/closed'))}  "
            f"max rel diff {agreement}",
            flush=True,
        )
    return rows


def goals(rows: list[dict[str, Any]], logistic: list[dict[str, Any]], quick: bool) -> list[str]:
    lines = []
    worst = max(rows, key=lambda r: r["hvp/vg"][0])
    holds = all(r["hvp/vg"][0] <= HVP_OVER_GRADIENT for r in rows)
    lines.append(
        f"[{'holds' if holds else 'MISSED'}] hvp ≤ {HVP_OVER_GRADIENT:g}× value_and_grad: worst "
        f"{worst['hvp/vg'][0]:.2f} ({worst['objective']} {worst['size']} {worst['dtype']})"
    )
    for name in ("jax", "torch"):
        timed = [r for r in rows if f"hvp/{name}" in r]
        if not timed:
            lines.append(f"[not run] faster than {name} at every size: {name} not installed")
            continue
        slowest = max(timed, key=lambda r: r[f"hvp/{name}"][0])
        holds = all(r[f"hvp/{name}"][0] < 1 for r in timed)
        lines.append(
            f"[{'holds' if holds else 'MISSED'}] faster than {name} at every size: worst hvp/{name} "
            f"{slowest[f'hvp/{name}'][0]:.2f} ({slowest['objective']} {slowest['size']} {slowest['dtype']})"
        )
    timed = [r for r in logistic if "jax/closed" in r]
    if not logistic:
        lines.append("[not run] dense logistic Hessian ≥ 10× faster than jax.hessian: --no-logistic")
    elif not timed:
        lines.append("[not run] dense logistic Hessian ≥ 10× faster than jax.hessian: jax not installed")
    else:
        least = min(r["jax/closed"][0] for r in timed)
        size = "" if not quick else " (at the quick size, not n = 10⁴, k = 500)"
        verdict = "holds" if least >= DENSE_HESSIAN_SPEEDUP else "MISSED"
        lines.append(
            f"[{verdict}] dense logistic Hessian ≥ 10× faster than jax.hessian{size}: least {least:.1f}×"
        )
    return lines


def pin_threads(count: int) -> None:
    """One thread count for every library, so that a busy machine slows them alike."""
    import os

    if count < 1:
        raise SystemExit("--threads must be a positive integer")
    os.environ["MATGRAD_NUM_THREADS"] = str(count)
    # Read by XLA when jax first starts (nothing has imported it yet).
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + f" --xla_cpu_multi_thread_eigen={'true' if count > 1 else 'false'}"
    ).strip()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        raise SystemExit("--threads needs threadpoolctl (pip install '.[bench]')") from None
    threadpool_limits(limits=count)
    if available()["torch"]:
        import torch

        torch.set_num_threads(count)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_selection_arguments(parser)
    parser.add_argument("--no-logistic", action="store_true", help="skip the dense logistic Hessian")
    parser.add_argument("--keep-blas-env", action="store_true", help="keep OPENBLAS_CORETYPE/L2_SIZE as set")
    parser.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="pin every library to N threads: BLAS (threadpoolctl), matgrad's elementwise blocks, torch, XLA",
    )
    args = parser.parse_args(argv)
    if args.threads is not None:
        pin_threads(args.threads)
    sizes = args.sizes.split(",") if args.sizes else (["seed", "medium"] if args.quick else list(SIZES))
    dtypes = args.dtypes.split(",")
    wanted = args.objectives.split(",") if args.objectives else [o.id for o in OBJECTIVES]
    objectives = [o for o in OBJECTIVES if o.id in wanted]
    print("\n".join(header_lines(versions())))
    print(
        "ratios: median of per-round ratios ± IQR/median; "
        "vg = matgrad value_and_grad over the same parameters\n"
    )
    print(HEADER, flush=True)
    rows = hvp_rows(args.quick, sizes, dtypes, objectives)
    logistic = [] if args.no_logistic else logistic_rows(args.quick, dtypes)
    print()
    print("\n".join(goals(rows, logistic, args.quick)))
    return 0


if __name__ == "__main__":
    _rerun_without_blas_overrides()
    raise SystemExit(main(sys.argv[1:]))
