"""Blocked, threaded elementwise kernels give exactly what one whole-array call gives."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import objective_cases

from matgrad.blockwise import block_size, map_blocks, num_threads
from matgrad.elementwise import sigmoid
from matgrad.vjp import sigmoid_vjp

rng = np.random.default_rng(11)
# More than three blocks of any float dtype, not a multiple of the block size, magnitudes
# up to saturation.
LARGE = rng.standard_normal((3 * block_size(np.float32) // 50 + 7, 50)) * 20


@pytest.mark.parametrize("threads", ["1", "3"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_blocked_sigmoid_equals_unblocked(monkeypatch, threads, dtype):
    monkeypatch.setenv("MATGRAD_NUM_THREADS", threads)
    H = LARGE.astype(dtype)
    rows = block_size(dtype) // H.shape[1]  # chunks of at most one block run as one call
    expected = np.concatenate([sigmoid(H[i : i + rows]) for i in range(0, len(H), rows)])
    np.testing.assert_array_equal(sigmoid(H), expected)
    np.testing.assert_array_equal(sigmoid(np.asfortranarray(H)), expected)  # non-contiguous: one call


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128])
def test_sigmoid_out_may_be_its_input(dtype):
    H = (LARGE + (0.5j if dtype == np.complex128 else 0)).astype(dtype)
    expected = sigmoid(H)
    H_copy = H.copy()
    np.testing.assert_array_equal(H_copy, H)  # sigmoid(H) left H alone
    assert sigmoid(H_copy, out=H_copy) is H_copy
    np.testing.assert_array_equal(H_copy, expected)


@pytest.mark.parametrize("into", [None, "G", "S"])
def test_sigmoid_vjp_out_may_be_either_input(into):
    G, S = rng.standard_normal(LARGE.shape), sigmoid(LARGE)
    expected = G * S * (1 - S)
    arrays = {"G": G.copy(), "S": S.copy()}
    out = arrays[into] if into else None
    result = sigmoid_vjp(arrays["G"], arrays["S"], out=out)
    np.testing.assert_array_equal(result, expected)
    if into:
        assert result is arrays[into]
    else:
        np.testing.assert_array_equal(arrays["G"], G)
        np.testing.assert_array_equal(arrays["S"], S)


def test_map_blocks_rejects_unequal_shapes():
    with pytest.raises(ValueError, match="equal shapes"):
        map_blocks(np.add, np.empty((3, 2)), np.empty((2, 3)))


def test_num_threads_reads_the_environment(monkeypatch):
    monkeypatch.setenv("MATGRAD_NUM_THREADS", "2")
    assert num_threads() == 2
    monkeypatch.setenv("MATGRAD_NUM_THREADS", "zero")
    with pytest.raises(ValueError, match="positive integer"):
        num_threads()


@pytest.mark.parametrize("objective", objective_cases())
def test_gradients_at_a_blocked_size_pass_a_directional_check(objective):
    # Sizes whose largest intermediate spans several blocks: ⟨∇f, V⟩ against a central
    # difference of f along a random direction V, for each argument.
    sizes = {dim: 3 for dim in objective.signature.dims} | {
        "n": 2 * block_size(np.float64) // 20,
        "h": 20,
        "m": 20,
    }
    arrays = objective.signature.random_arguments(np.random.default_rng(5), sizes, "row")
    grads = objective.grad(arrays)
    step = 1e-6
    for name, array in arrays.items():
        V = np.random.default_rng(6).standard_normal(array.shape)
        up = objective.value({**arrays, name: array + step * V})
        down = objective.value({**arrays, name: array - step * V})
        np.testing.assert_allclose((up - down) / (2 * step), np.vdot(grads[name], V), rtol=1e-6, err_msg=name)


@pytest.mark.parametrize("setting", ["²", "٣", "0", "-1", "two"])
def test_a_bad_thread_setting_is_refused_even_for_small_inputs(monkeypatch, setting):
    monkeypatch.setenv("MATGRAD_NUM_THREADS", setting)
    with pytest.raises(ValueError, match="MATGRAD_NUM_THREADS must be a positive integer"):
        map_blocks(lambda o, a: np.negative(a, out=o), np.empty(3), np.ones(3))


def test_one_bounded_pool_serves_every_thread_count(monkeypatch):
    import threading

    before = threading.active_count()
    for threads in (16, 3, 7, 16, 2, 12):
        monkeypatch.setenv("MATGRAD_NUM_THREADS", str(threads))
        for size in range(1, 16):
            n = size * block_size(np.float64)
            out = map_blocks(lambda o, a, b: np.add(a, b, out=o), np.empty(n), np.ones(n), np.ones(n))
            assert np.all(out == 2.0)
    # One pool of at most 15 workers (16 threads, this one included) is alive, not one per count.
    assert threading.active_count() - before <= 15
