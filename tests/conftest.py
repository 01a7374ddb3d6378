"""Shared fixtures: the registry cases and the seed notebook's tensors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from matgrad.registry import OBJECTIVES, Objective

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def seed() -> dict[str, np.ndarray]:
    """The seed notebook's float32 inputs and PyTorch's printed values and gradients."""
    with np.load(DATA / "seed_tensors.npz") as data:
        return {name: data[name] for name in data.files}


def objective_cases() -> list:
    return [pytest.param(o, id=o.id) for o in OBJECTIVES]


def sized_cases() -> list:
    """Every registry entry × its sample sizes × every bias kind."""
    return [
        pytest.param(o, sizes, kind, id=f"{o.id}-{'x'.join(map(str, sizes.values()))}-{kind}")
        for o in OBJECTIVES
        for sizes in o.sample_sizes
        for kind in ("full", "row", "vector")
    ]


def central_difference(objective: Objective, arrays: dict, name: str) -> np.ndarray:
    """∂f/∂A by central differences in float64, one entry at a time (small shapes only)."""
    base = {k: v.astype(np.float64) for k, v in arrays.items()}
    target = base[name]
    step = np.finfo(np.float64).eps ** (1 / 3)
    out = np.zeros_like(target)
    for index in np.ndindex(target.shape):
        h = step * max(1.0, abs(target[index]))
        original = target[index]
        target[index] = original + h
        up = objective.value(base)
        target[index] = original - h
        down = objective.value(base)
        target[index] = original
        out[index] = (up - down) / (2 * h)
    return out
