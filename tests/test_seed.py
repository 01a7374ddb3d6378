"""The seed notebook's numbers, as PyTorch printed them, reproduced from its float32 inputs."""

from __future__ import annotations

import numpy as np
import pytest

from matgrad import affine, sigmoid_net

NET_ARGUMENTS = ("X", "Y", "W1", "b1", "W2", "b2")


def assert_float32_close(actual: np.ndarray, expected: np.ndarray) -> None:
    # float32 matmuls in a different summation order than PyTorch: a few ulps of the
    # largest magnitude involved.
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=2e-6 * scale)


def test_affine_reproduces_the_seed(seed):
    f, grads = affine.value_and_grad(seed["affine_X"], seed["affine_W"], seed["affine_b"])
    assert f.dtype == np.float32
    assert round(float(f), 4) == 162.5566
    for name in ("X", "W", "b"):
        assert grads[name].dtype == np.float32
        assert_float32_close(grads[name], seed[f"affine_d{name}"])


@pytest.mark.parametrize("bias", ["pre", "post"])
def test_sigmoid_net_reproduces_the_seed(seed, bias):
    arrays = {name: seed[f"net_{name}"] for name in NET_ARGUMENTS}
    f, grads = sigmoid_net.value_and_grad(**arrays, bias=bias)
    assert f.dtype == np.float32
    np.testing.assert_allclose(f, seed[f"net_{bias}_f"], rtol=1e-6)
    for name in NET_ARGUMENTS:
        assert grads[name].shape == arrays[name].shape
        assert_float32_close(grads[name], seed[f"net_{bias}_d{name}"])


def test_printed_numbers_of_the_seed_notebook(seed):
    arrays = {name: seed[f"net_{name}"] for name in NET_ARGUMENTS}
    f, grads = sigmoid_net.value_and_grad(**arrays, bias="post")
    # The notebook printed torch's float32 f to four decimals. f's last float32 bit (6e-5
    # here) depends on the order of operations, so the printed digits are checked against
    # f in float64, and float32 must be within half a printed unit and one ulp of them.
    exact = sigmoid_net.value(**{name: a.astype(np.float64) for name, a in arrays.items()}, bias="post")
    assert round(float(exact), 4) == 1010.4425
    assert abs(float(f) - 1010.4425) <= 0.5e-4 + float(np.spacing(f))
    np.testing.assert_allclose(grads["W1"][0, :3], [4.3456, -3.1038, -1.3355], atol=1e-4)
    np.testing.assert_allclose(grads["W2"][:3, 0], [-145.5252, 311.3998, 101.6342], atol=2e-4)
    assert round(float(sigmoid_net.value(**arrays, bias="pre")), 4) == 236.2415


def test_practice_problem():
    # The seed's scalar exercise: w = 2, x = 1, b = 3, y = (wx + b)² → (10, 20, 10).
    # As matrices: X = [[x]], W = [[w]] so XW = wx.
    grads = affine.grad(np.array([[1.0]]), np.array([[2.0]]), np.array([[3.0]]))
    assert float(grads["W"][0, 0]) == 10.0
    assert float(grads["X"][0, 0]) == 20.0
    assert float(grads["b"][0, 0]) == 10.0


def test_closed_forms_are_pure_nothing_accumulates():
    # autograd's .grad accumulated to 11, 22, 11 over two backward() calls in the seed;
    # a closed form called twice returns the same numbers.
    args = (np.array([[1.0]]), np.array([[2.0]]), np.array([[3.0]]))
    first = affine.grad(*args)
    second = affine.grad(*args)
    for name in first:
        np.testing.assert_array_equal(first[name], second[name])
