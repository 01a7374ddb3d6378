"""Properties that every registry entry must have, parametrized over the registry."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from conftest import objective_cases, sized_cases

from matgrad.testing.methods import central_difference

SEED = 20261130


@pytest.mark.parametrize(("objective", "sizes", "kind"), sized_cases())
def test_gradients_match_central_differences(objective, sizes, kind):
    rng = np.random.default_rng(SEED)
    arrays = objective.signature.random_arguments(rng, sizes, kind)
    grads = objective.grad(arrays)
    for name in objective.arguments:
        reference = central_difference(lambda **point: objective.value(point), arrays, name)
        np.testing.assert_allclose(grads[name], reference, rtol=1e-6, atol=1e-6, err_msg=name)


@pytest.mark.parametrize(("objective", "sizes", "kind"), sized_cases())
def test_every_gradient_has_its_arguments_shape(objective, sizes, kind):
    arrays = objective.signature.random_arguments(np.random.default_rng(SEED), sizes, kind)
    grads = objective.grad(arrays)
    assert list(grads) == list(objective.arguments)
    for name, array in arrays.items():
        assert grads[name].shape == array.shape, name


@pytest.mark.parametrize("objective", objective_cases())
def test_wrt_subsets_return_exactly_the_requested_keys(objective):
    sizes = objective.sample_sizes[1]
    arrays = objective.signature.random_arguments(np.random.default_rng(SEED), sizes)
    full = objective.grad(arrays)
    names = objective.arguments
    for count in range(1, len(names) + 1):
        for subset in itertools.combinations(names, count):
            requested = tuple(reversed(subset))
            grads = objective.grad(arrays, wrt=requested)
            assert tuple(grads) == requested
            for name in requested:
                np.testing.assert_array_equal(grads[name], full[name])
    single = objective.grad(arrays, wrt=names[0])
    assert tuple(single) == (names[0],)


@pytest.mark.parametrize("objective", objective_cases())
def test_value_and_grad_agree_with_value_and_grad(objective):
    arrays = objective.signature.random_arguments(np.random.default_rng(SEED), objective.sample_sizes[1])
    f, grads = objective.value_and_grad(arrays)
    assert f == objective.value(arrays)
    for name, gradient in objective.grad(arrays).items():
        np.testing.assert_array_equal(grads[name], gradient)


@pytest.mark.parametrize("objective", objective_cases())
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
def test_float_and_complex_dtypes_are_kept(objective, dtype):
    arrays = objective.signature.random_arguments(
        np.random.default_rng(SEED), objective.sample_sizes[1], dtype=dtype
    )
    f, grads = objective.value_and_grad(arrays)
    assert np.asarray(f).dtype == dtype
    assert all(g.dtype == dtype for g in grads.values())


@pytest.mark.parametrize("objective", objective_cases())
def test_integers_and_bools_promote_to_float64(objective):
    rng = np.random.default_rng(SEED)
    arrays = objective.signature.random_arguments(rng, objective.sample_sizes[1])
    as_ints = {name: np.rint(3 * a).astype(np.int32) for name, a in arrays.items()}
    first = objective.arguments[0]
    as_ints[first] = as_ints[first] > 0
    f, grads = objective.value_and_grad(as_ints)
    assert np.asarray(f).dtype == np.float64
    as_floats = {name: a.astype(np.float64) for name, a in as_ints.items()}
    expected = objective.grad(as_floats)
    for name, gradient in grads.items():
        assert gradient.dtype == np.float64
        np.testing.assert_array_equal(gradient, expected[name])


@pytest.mark.parametrize("objective", objective_cases())
def test_mixed_precision_follows_numpy_promotion(objective):
    arrays = objective.signature.random_arguments(
        np.random.default_rng(SEED), objective.sample_sizes[1], dtype=np.float32
    )
    last = objective.arguments[-1]
    arrays[last] = arrays[last].astype(np.float64)
    f, grads = objective.value_and_grad(arrays)
    assert np.asarray(f).dtype == np.float64
    assert all(g.dtype == np.float64 for g in grads.values())


@pytest.mark.parametrize("objective", objective_cases())
def test_inputs_are_never_modified_and_never_aliased(objective):
    for kind in ("full", "row", "vector"):
        arrays = objective.signature.random_arguments(
            np.random.default_rng(SEED), objective.sample_sizes[1], kind
        )
        copies = {name: a.copy() for name, a in arrays.items()}
        _, grads = objective.value_and_grad(arrays)
        for name, array in arrays.items():
            np.testing.assert_array_equal(array, copies[name])
        for gradient in grads.values():
            for array in arrays.values():
                assert not np.shares_memory(gradient, array)


@pytest.mark.parametrize("objective", objective_cases())
@pytest.mark.parametrize("kind", ["full", "row", "vector"])
def test_zero_rows_give_zero_value_and_zero_gradients(objective, kind):
    sizes = dict(objective.sample_sizes[1], n=0)
    arrays = objective.signature.random_arguments(np.random.default_rng(SEED), sizes, kind)
    f, grads = objective.value_and_grad(arrays)
    assert f == 0
    for name, array in arrays.items():
        assert grads[name].shape == array.shape
        assert not np.any(grads[name])


@pytest.mark.parametrize("objective", objective_cases())
def test_nan_propagates(objective):
    arrays = objective.signature.random_arguments(np.random.default_rng(SEED), objective.sample_sizes[1])
    first = objective.arguments[0]
    arrays[first][0, 0] = np.nan
    f, grads = objective.value_and_grad(arrays)
    assert np.isnan(f)
    assert any(np.isnan(g).any() for g in grads.values())
