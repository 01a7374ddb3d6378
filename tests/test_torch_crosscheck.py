"""Cross-check against PyTorch autograd (extra ``torch``; skipped when torch is absent).

Each registry entry gets an independent torch forward pass written from its formula;
torch's autograd gradients are the reference for matgrad's closed forms, at random
shapes 1..6, every bias shape, float64 and float32.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import objective_cases
from hypothesis import given, settings
from hypothesis import strategies as st

from matgrad.registry import OBJECTIVES
from matgrad.signature import BIAS_KINDS
from matgrad.testing import compare_gradients

torch = pytest.importorskip("torch")


def affine_value(X, W, b):
    return ((X @ W + b) ** 2).sum()


def net_pre_value(X, Y, W1, b1, W2, b2):
    return ((Y - (torch.sigmoid(X @ W1 + b1) @ W2 + b2)) ** 2).sum()


def net_post_value(X, Y, W1, b1, W2, b2):
    return ((Y - ((torch.sigmoid(X @ W1) + b1) @ W2 + b2)) ** 2).sum()


TORCH_VALUES = {"affine": affine_value, "sigmoid_net.pre": net_pre_value, "sigmoid_net.post": net_post_value}
# float64: both sides round differently in the last bits; float32: the checker's default √u₃₂.
TOLERANCES = {np.float64: 1e-12, np.float32: math.sqrt(float(np.finfo(np.float32).eps))}


def test_every_registry_entry_has_a_torch_forward_pass():
    assert set(TORCH_VALUES) == {o.id for o in OBJECTIVES}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("objective", objective_cases())
@settings(max_examples=15, derandomize=True, deadline=None)
@given(data=st.data())
def test_closed_forms_match_torch_autograd(objective, dtype, data):
    sizes = {dim: data.draw(st.integers(1, 6), label=dim) for dim in objective.signature.dims}
    kind = data.draw(st.sampled_from(BIAS_KINDS), label="bias kind")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    arrays = objective.signature.random_arguments(rng, sizes, kind, dtype)

    tensors = {name: torch.tensor(array, requires_grad=True) for name, array in arrays.items()}
    torch_value = TORCH_VALUES[objective.id](**tensors)
    torch_value.backward()
    reference = {name: tensor.grad.numpy() for name, tensor in tensors.items()}

    value, grads = objective.value_and_grad(arrays)
    assert float(value) == pytest.approx(torch_value.item(), rel=TOLERANCES[dtype])
    report = compare_gradients(
        grads, reference, tolerance=TOLERANCES[dtype], method="torch autograd", title=objective.id
    )
    assert report.passed, str(report)
