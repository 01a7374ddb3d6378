"""Blocked, threaded elementwise kernels give exactly what one whole-array call gives."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import objective_cases

from matgrad import blockwise, generic_vjp, sigmoid_net
from matgrad.blockwise import block_size, map_blocks, map_row_blocks, num_threads
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


@pytest.mark.parametrize("threads", ["1", "2"])
def test_map_row_blocks_covers_every_row_once_in_order(monkeypatch, threads):
    monkeypatch.setenv("MATGRAD_NUM_THREADS", threads)
    monkeypatch.setattr(blockwise, "ROW_BLOCK_ELEMENTS", 5 * 8)  # 5 rows of the 8-column array
    A, B = np.arange(23 * 8.0).reshape(23, 8), np.arange(23 * 3.0).reshape(23, 3)
    blocks = map_row_blocks(lambda a, b: (a[:, 0].copy(), b.shape[0]), A, B)
    assert [rows for _, rows in blocks] == [5, 5, 5, 5, 3]  # a ragged last block
    np.testing.assert_array_equal(np.concatenate([first for first, _ in blocks]), A[:, 0])
    # One call on the whole arrays when they are small, non-contiguous or of objects.
    assert len(map_row_blocks(lambda a: a.shape, A[:4])) == 1
    assert map_row_blocks(lambda a: a.shape, np.asfortranarray(A)) == [(23, 8)]
    assert map_row_blocks(lambda a: a.shape, A.astype(object)) == [(23, 8)]


def test_map_row_blocks_rejects_unequal_rows():
    with pytest.raises(ValueError, match="equal rows"):
        map_row_blocks(lambda a, b: None, np.empty((3, 2)), np.empty((4, 2)))
    with pytest.raises(ValueError, match="2-D"):
        map_row_blocks(lambda a: None, np.empty(3))


@pytest.mark.parametrize("bias_kind", ["full", "row"])
@pytest.mark.parametrize("bias", ["pre", "post"])
@pytest.mark.parametrize("wrt", [None, ("b1",), ("W1",), ("X", "b1"), ("W2", "b2", "Y")])
def test_network_in_row_blocks_equals_whole_arrays(monkeypatch, bias_kind, bias, wrt):
    """The numpy rules run σ(XW₁ + b₁), G_A and σ′ in row blocks; the generic rules run them whole."""
    monkeypatch.setattr(blockwise, "ROW_BLOCK_ELEMENTS", 7 * 6)  # 7 rows of h = 6: many blocks
    sizes = {"n": 45, "d": 4, "h": 6, "o": 3}
    arrays = sigmoid_net.SIGNATURE.random_arguments(rng, sizes, bias_kind, np.float64)
    names = sigmoid_net.ARGUMENTS if wrt is None else wrt
    copies = {name: a.copy() for name, a in arrays.items()}
    f, grads = sigmoid_net.evaluate(arrays, names, bias=bias)
    f_whole, grads_whole = sigmoid_net.evaluate(copies, names, bias=bias, vjp=generic_vjp)
    assert list(grads) == list(names)
    np.testing.assert_allclose(f, f_whole, rtol=1e-13)
    for name in names:
        np.testing.assert_allclose(grads[name], grads_whole[name], rtol=1e-12, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("rows", [45, 5])
def test_post_row_bias_through_W2_equals_the_full_bias_chain(monkeypatch, rows):
    """Beyond one row block, post's row b₁ goes through W₂ (A never formed); the same b₁ given
    as a full n × h bias takes the chain with A = S + b₁: equal values and gradients."""
    monkeypatch.setattr(blockwise, "ROW_BLOCK_ELEMENTS", 7 * 6)
    sizes = {"n": rows, "d": 4, "h": 6, "o": 3}
    arrays = sigmoid_net.SIGNATURE.random_arguments(rng, sizes, "row", np.float64)
    full = {**arrays, "b1": np.repeat(arrays["b1"].reshape(1, -1), rows, axis=0)}
    assert sigmoid_net._b1_through_W2(arrays["X"], arrays["b1"]) == (rows > 7)
    assert not sigmoid_net._b1_through_W2(full["X"], full["b1"])
    f, grads = sigmoid_net.evaluate(arrays, sigmoid_net.ARGUMENTS, bias="post")
    f_full, grads_full = sigmoid_net.evaluate(full, sigmoid_net.ARGUMENTS, bias="post")
    np.testing.assert_allclose(f, f_full, rtol=1e-13)
    grads_full["b1"] = grads_full["b1"].sum(axis=0).reshape(arrays["b1"].shape)
    for name in sigmoid_net.ARGUMENTS:
        np.testing.assert_allclose(grads[name], grads_full[name], rtol=1e-12, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("threads", ["2", "3"])
def test_blocks_mapped_inside_a_row_block_run_in_its_thread(monkeypatch, threads):
    # σ′ of a row block larger than an elementwise block: with the pool's threads busy with
    # row blocks, mapping its blocks on the pool again would wait forever.
    monkeypatch.setenv("MATGRAD_NUM_THREADS", threads)
    monkeypatch.setattr(blockwise, "ROW_BLOCK_ELEMENTS", 4 * block_size(np.float64))
    G, S = rng.standard_normal((40, block_size(np.float64) // 4)), sigmoid(rng.standard_normal((40, 1)))
    S = np.repeat(S, G.shape[1], axis=1)
    blocks = map_row_blocks(lambda g, s: sigmoid_vjp(g, s), G, S)
    assert len(blocks) == 3
    np.testing.assert_array_equal(np.concatenate(blocks), G * S * (1 - S))
