"""Benchmark of the derivation engine: how long a derivation takes, and how fast its code runs.

Prints (1) the (wall) time to derive the registry objectives (parse, differentiate, simplify,
name, generate code; without the proofs, then the proofs alone) and (2) the time of the
generated numpy code against the hand-written code of ``matgrad.affine`` and
``matgrad.sigmoid_net`` at several sizes, both the public ``value_and_grad`` (input
checks included) and the unchecked core ``evaluate``. Row biases are 1-D, all
gradients are requested, float64.

With ``--cookbook`` it prints instead the wall time of ``derive`` (proofs included) for
every identity of the Matrix Cookbook table (``matgrad/engine/cookbook.py``): the median
and the largest of ``--rounds`` calls per identity (sympy's import is paid once, before the
first identity), against the goal of every call under 1 s.

Run from the repository root:  python benchmarks/bench_engine.py [--quick] [--cookbook [--rounds N]]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

# One BLAS thread: on a shared machine, threaded BLAS timings vary more than the code does.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from matgrad.engine.catalogue import seed_example
from matgrad.registry import OBJECTIVES, Objective

SIZES: dict[str, list[dict[str, int]]] = {
    "affine": [{"n": 10, "k": 4, "m": 4}, {"n": 1000, "k": 100, "m": 10}, {"n": 4096, "k": 256, "m": 64}],
    "sigmoid_net": [
        {"n": 100, "d": 1, "h": 10, "o": 1},
        {"n": 1000, "d": 100, "h": 50, "o": 10},
        {"n": 4096, "d": 256, "h": 128, "o": 32},
    ],
}


def best_times(calls: list[Callable[[], Any]], repeat: int, budget: float) -> list[float]:
    """CPU seconds per call of each of ``calls``: rounds alternate between them (so drifting
    load hits all alike), each call's best round counts, a round lasts at least ``budget``.

    CPU time of this process, not wall time: with one BLAS thread it is what the code
    costs, and it does not count the time other processes on a shared machine take."""
    number = 1
    while True:
        start = time.process_time()
        for _ in range(number):
            calls[0]()
        if time.process_time() - start >= budget:
            break
        number *= 2
    best = [float("inf")] * len(calls)
    for _ in range(repeat):
        for index, call in enumerate(calls):
            start = time.process_time()
            for _ in range(number):
                call()
            best[index] = min(best[index], (time.process_time() - start) / number)
    return best


def derivation_times() -> None:
    print("Derivation (parse, differentiate, simplify, name, generate code), without proofs:")
    print(f"  {'objective':<18} {'first call':>11} {'median of 20':>13} {'proofs':>9}")
    for objective in OBJECTIVES:
        example = seed_example(objective, "vector")
        start = time.perf_counter()
        example.derive(prove=False)
        first = time.perf_counter() - start
        repeats = []
        for _ in range(20):
            start = time.perf_counter()
            example.derive(prove=False)
            repeats.append(time.perf_counter() - start)
        start = time.perf_counter()
        proven = example.derive(prove=True)
        proofs = time.perf_counter() - start - statistics.median(repeats)
        assert proven.proven
        median = statistics.median(repeats)
        print(f"  {objective.id:<18} {first * 1e3:>9.1f} ms {median * 1e3:>10.1f} ms {proofs:>7.2f} s")


def cookbook_times(rounds: int) -> None:
    from matgrad.engine import derive
    from matgrad.engine.cookbook import COOKBOOK

    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    derive("det(X)", "X", {"X": "n,n"})  # imports sympy and the prover: paid once, not per identity
    print(f"  {'eq.':>6} {'f':<40} {'median':>8} {'max':>8}  exact proofs at (∂f/∂· argument's shape)")
    slowest = []
    for entry in COOKBOOK:
        seconds = []
        for _ in range(rounds):
            start = time.perf_counter()
            derivation = derive(entry.expression, entry.wrt, dict(entry.shapes))
            seconds.append(time.perf_counter() - start)
        assert derivation.proven, derivation.proof.summary()
        proof = derivation.proof
        shapes = " and ".join(
            "×".join(map(str, s[entry.wrt])) for s in (proof.symbolic_shapes, *proof.more_symbolic_shapes)
        )
        slowest.append(max(seconds))
        print(
            f"  ({entry.equation:>4}) {entry.expression:<40} {statistics.median(seconds):>6.2f} s "
            f"{max(seconds):>6.2f} s  {shapes}"
        )
    over = sum(s >= 1.0 for s in slowest)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        f"{len(slowest)} identities, {rounds} rounds each: slowest call {max(slowest):.2f} s; "
        f"goal (every derive < 1 s) {'HOLDS' if over == 0 else f'FAILS ({over} at or above 1 s)'}"
    )


def code_times(objective: Objective, repeat: int, budget: float) -> None:
    generated = seed_example(objective, "vector").derive(prove=False).function
    rng = np.random.default_rng(0)
    for sizes in SIZES[objective.name]:
        arrays = objective.signature.random_arguments(rng, sizes, "vector")
        checked = objective.signature.validate(arrays)
        f, grads = generated(**arrays)
        f_ref, grads_ref = objective.value_and_grad(arrays)
        np.testing.assert_allclose(f, f_ref, rtol=1e-10)
        for name, gradient in grads_ref.items():
            np.testing.assert_allclose(grads[name], gradient, rtol=1e-9, atol=1e-9 * np.abs(gradient).max())
        calls = [
            partial(generated, **arrays),
            partial(objective.value_and_grad, arrays),
            partial(objective.evaluate, checked),
        ]
        ours, public, core = best_times(calls, repeat, budget)
        size = ",".join(f"{k}={v}" for k, v in sizes.items())
        print(
            f"  {objective.id:<18} {size:<26} {ours * 1e6:>10.1f} µs {public * 1e6:>10.1f} µs "
            f"{core * 1e6:>10.1f} µs {ours / public:>7.2f}× {ours / core:>7.2f}×"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds")
    parser.add_argument("--cookbook", action="store_true", help="time derive() on every Cookbook identity")
    parser.add_argument("--rounds", type=int, default=3, help="derive() calls per identity (--cookbook)")
    args = parser.parse_args()
    if args.cookbook:
        cookbook_times(args.rounds)
        return
    repeat, budget = (3, 0.02) if args.quick else (9, 0.05)
    threads = os.environ["OPENBLAS_NUM_THREADS"]
    print(f"numpy {np.__version__}, Python {sys.version.split()[0]}, OPENBLAS_NUM_THREADS={threads}")
    derivation_times()
    print()
    print("Generated code vs hand-written (CPU time per call, best of rounds; value and every gradient):")
    print(
        f"  {'objective':<18} {'sizes':<26} {'generated':>13} {'value_and_grad':>13} {'evaluate':>13} "
        f"{'vs public':>8} {'vs core':>8}"
    )
    for objective in OBJECTIVES:
        code_times(objective, repeat, budget)


if __name__ == "__main__":
    main()
