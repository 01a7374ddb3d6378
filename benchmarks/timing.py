"""Interleaved timing (medians of rounds) and peak extra memory (tracemalloc)."""

from __future__ import annotations

import gc
import math
import time
import tracemalloc
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from statistics import median
from typing import Any


@dataclass(frozen=True)
class Budget:
    """How long to time one case: rounds of every method, each round one sample per method."""

    min_rounds: int
    max_rounds: int
    seconds: float  # stop after this much time once min_rounds are done
    sample_seconds: float  # a sample repeats a fast call until it lasts this long
    warm_up: bool = True  # one untimed call per method first (also calibrates the sample)


def _one_call(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _calibrate(fn: Callable[[], Any]) -> float:
    """Seconds of one call; the first call warms up (compilation, page faults, caches)."""
    seconds = _one_call(fn)
    return seconds if seconds > 0.05 else _one_call(fn)


def time_interleaved(methods: Mapping[str, Callable[[], Any]], budget: Budget) -> dict[str, list[float]]:
    """Seconds per call of each method, one sample per round, methods interleaved.

    Interleaving (a rotated order each round) spreads load from other processes over all
    methods alike, so their ratios are steadier than their absolute times.
    """
    names = list(methods)
    calls = {
        name: max(1, math.ceil(budget.sample_seconds / max(_calibrate(fn), 1e-9))) if budget.warm_up else 1
        for name, fn in methods.items()
    }
    samples: dict[str, list[float]] = {name: [] for name in names}
    start = time.perf_counter()
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for round_index in range(budget.max_rounds):
            shift = round_index % len(names)
            for name in names[shift:] + names[:shift]:
                fn, count = methods[name], calls[name]
                begin = time.perf_counter()
                for _ in range(count):
                    fn()
                samples[name].append((time.perf_counter() - begin) / count)
            gc.collect()
            if round_index + 1 >= budget.min_rounds and time.perf_counter() - start >= budget.seconds:
                break
    finally:
        if gc_was_enabled:
            gc.enable()
    if budget.warm_up and min(len(v) for v in samples.values()) > 2:
        # The first round still pays for cold caches and lazy page mapping: not a sample.
        samples = {name: values[1:] for name, values in samples.items()}
    return samples


def summary(samples: list[float]) -> float:
    return median(samples)


def peak_extra_bytes(fn: Callable[[], Any]) -> tuple[int, Any]:
    """Peak bytes allocated while ``fn`` runs (numpy reports to tracemalloc), and its result."""
    gc.collect()
    tracemalloc.start()
    try:
        result = fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak, result
