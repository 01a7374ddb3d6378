"""The engine's generated code against hand-written numpy, on objectives users bring.

Cases (value and all requested gradients, float64 and float32):

- Gaussian negative log-likelihood per sample, gradients in μ and Σ (Σ declared spd),
  n = 10⁴, d = 100:  ``0.5 * mean(sum(((X - m) @ inv(S)) * (X - m), axis=1)) + 0.5 * logdet(S)``;
- batch softmax cross-entropy, gradient in the logits, n = 10⁴, 100 classes:
  ``-sum(Y * log(softmax(Z, axis=1)))``.

The hand-written code is what a careful engineer writes with numpy (one inverse, one
slogdet; a stable log-softmax). For cross-entropy it is timed twice: the general form
(softmax(Z) ⊙ rowsum(Y) − Y, what the engine derives) and the one-hot shortcut softmax − Y,
which is only right when every row of Y sums to one. Each ratio is the median over
interleaved rounds (generated and hand-written alternate, so load from other processes
hits both), with its interquartile range over the median as the spread. The goal
(issue 11): generated ≤ 1.2 × hand-written. The results are also compared for equality.

Run from the repository root:  python benchmarks/bench_generated.py [--quick] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import _rerun_without_blas_overrides, header_lines
from timing import Budget, time_interleaved

import matgrad

GAUSSIAN = "0.5 * mean(sum(((X - m) @ inv(S)) * (X - m), axis=1)) + 0.5 * logdet(S)"
CROSS_ENTROPY = "-sum(Y * log(softmax(Z, axis=1)))"
GOAL = 1.2


def gaussian_by_hand(X: Any, m: Any, S: Any) -> tuple[Any, dict[str, Any]]:
    """½ mean((x − μ)ᵀΣ⁻¹(x − μ)) + ½ log det Σ; ∂μ = −mean(Σ⁻¹(x − μ)), ∂Σ = ½(Σ⁻¹ − Σ⁻¹DᵀDΣ⁻¹/n)."""
    n = X.shape[0]
    D = X - m
    S_inv = np.linalg.inv(S)
    A = D @ S_inv
    _, log_det = np.linalg.slogdet(S)
    value = 0.5 * np.dot(A.ravel(), D.ravel()) / n + 0.5 * log_det
    grad_S = S_inv - (A.T @ A) / n
    grad_S *= 0.5
    return value, {"m": -A.sum(axis=0) / n, "S": grad_S}


def cross_entropy_by_hand(Y: Any, Z: Any) -> tuple[Any, dict[str, Any]]:
    """−Σ Y ⊙ log softmax(Z) and its gradient softmax(Z) ⊙ (Y1ₖ) − Y, stably."""
    shifted = Z - Z.max(axis=1, keepdims=True)
    E = np.exp(shifted)
    totals = E.sum(axis=1, keepdims=True)
    log_softmax = shifted - np.log(totals)
    value = -np.dot(Y.ravel(), log_softmax.ravel())
    E /= totals
    E *= Y.sum(axis=1, keepdims=True)
    E -= Y
    return value, {"Z": E}


def cross_entropy_one_hot(Y: Any, Z: Any) -> tuple[Any, dict[str, Any]]:
    """The same for rows of Y that sum to one: gradient softmax(Z) − Y."""
    shifted = Z - Z.max(axis=1, keepdims=True)
    E = np.exp(shifted)
    totals = E.sum(axis=1, keepdims=True)
    value = -np.dot(Y.ravel(), (shifted - np.log(totals)).ravel())
    E /= totals
    E -= Y
    return value, {"Z": E}


def cases(
    n: int, d: int, k: int, dtype: Any, rng: np.random.Generator
) -> list[tuple[str, Callable[..., Any], dict[str, Callable[..., Any]], dict[str, Any]]]:
    gaussian = matgrad.derive(GAUSSIAN, "m,S", {"X": "n,d", "m": "d", "S": "d,d:spd"}, prove=False)
    entropy = matgrad.derive(CROSS_ENTROPY, "Z", {"Y": "n,k", "Z": "n,k"}, prove=False)
    B = rng.standard_normal((d, d))
    S = B @ B.T / d + np.eye(d)
    gaussian_args = {
        "X": rng.standard_normal((n, d)).astype(dtype),
        "m": rng.standard_normal(d).astype(dtype),
        "S": S.astype(dtype),
    }
    entropy_args = {
        "Y": np.eye(k, dtype=dtype)[rng.integers(0, k, n)],
        "Z": (3 * rng.standard_normal((n, k))).astype(dtype),
    }
    return [
        (f"Gaussian NLL, n={n}, d={d}", gaussian.function, {"hand-written": gaussian_by_hand}, gaussian_args),
        (
            f"softmax cross-entropy, n={n}, k={k}",
            entropy.function,
            {"hand-written": cross_entropy_by_hand, "one-hot shortcut": cross_entropy_one_hot},
            entropy_args,
        ),
    ]


def _max_difference(a: tuple[Any, dict[str, Any]], b: tuple[Any, dict[str, Any]]) -> float:
    scale = max(1.0, abs(float(b[0])))
    worst = abs(float(a[0]) - float(b[0])) / scale
    for name, gradient in b[1].items():
        worst = max(
            worst, float(np.max(np.abs(a[1][name] - gradient))) / max(1.0, float(np.max(np.abs(gradient))))
        )
    return worst


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="n = 2000 and short budgets")
    parser.add_argument("--threads", type=int, metavar="N", help="pin BLAS to N threads (threadpoolctl)")
    parser.add_argument("--keep-blas-env", action="store_true", help="keep OPENBLAS_CORETYPE/L2_SIZE as set")
    args = parser.parse_args(argv)
    limiter = None
    if args.threads:
        from threadpoolctl import threadpool_limits

        limiter = threadpool_limits(args.threads)
    print("\n".join(header_lines({})[:-2]))
    n = 2000 if args.quick else 10_000
    budget = Budget(min_rounds=7, max_rounds=41, seconds=3.0 if args.quick else 20.0, sample_seconds=0.05)
    rng = np.random.default_rng(0)
    columns = (
        "case",
        "dtype",
        "against",
        "generated",
        "by hand",
        "ratio",
        "IQR/med",
        "rounds",
        "max rel diff",
    )
    print("\n" + "  ".join(columns) + f"  goal ≤ {GOAL}")
    verdicts = []
    for dtype in (np.float64, np.float32):
        for title, generated, references, arrays in cases(n, 100, 100, dtype, rng):
            ordered = list(arrays.values())
            for label, reference in references.items():
                methods = {
                    "generated": partial(generated, *ordered),
                    "reference": partial(reference, *ordered),
                }
                samples = time_interleaved(methods, budget)
                ratios = [g / r for g, r in zip(samples["generated"], samples["reference"], strict=True)]
                ratio = statistics.median(ratios)
                quartiles = statistics.quantiles(ratios, n=4)
                spread = (quartiles[2] - quartiles[0]) / ratio
                difference = _max_difference(generated(*ordered), reference(*ordered))
                holds = ratio <= GOAL
                if label == "hand-written":
                    verdicts.append(holds)
                note = "" if label == "hand-written" else " (not a goal: right only for one-hot Y)"
                cells = [
                    f"{title:<36}",
                    f"{np.dtype(dtype).name:<7}",
                    f"{label:<16}",
                    f"{statistics.median(samples['generated']) * 1e3:7.2f}ms",
                    f"{statistics.median(samples['reference']) * 1e3:7.2f}ms",
                    f"{ratio:5.2f}",
                    f"{spread:5.2f}",
                    f"{len(ratios):4d}",
                    f"{difference:8.1e}",
                    ("HOLDS" if holds else "FAILS") + note,
                ]
                print("  ".join(cells))
    if limiter is not None:
        limiter.restore_original_limits()
    verdict = "HOLDS" if all(verdicts) else "FAILS"
    print(f"\ngoal (generated ≤ {GOAL}× hand-written): {verdict}, in {sum(verdicts)} of {len(verdicts)} rows")
    return 0


if __name__ == "__main__":
    if "--keep-blas-env" not in sys.argv:
        _rerun_without_blas_overrides()
    raise SystemExit(main(sys.argv[1:]))
