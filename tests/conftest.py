"""Shared fixtures: the registry cases and the seed notebook's tensors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from matgrad.registry import OBJECTIVES

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
