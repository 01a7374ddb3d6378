"""The tuned numeric code still runs on object arrays of sympy symbols, and is exact there.

Every registry entry's ``evaluate`` (in-place updates, ``out=`` buffers and all) is run on
numpy object arrays of sympy symbols; each gradient entry must equal sympy's derivative
of the value that the same call returned.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import objective_cases

sympy = pytest.importorskip("sympy")

# Distinct sizes per dimension, so a transposed product cannot pass by accident.
TINY_SIZES = (2, 3, 1, 4)


def symbol_arrays(shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """One sympy symbol per entry, named like X_0_1 (1-D: b_2)."""
    arrays = {}
    for name, shape in shapes.items():
        array = np.empty(shape, dtype=object)
        for index in np.ndindex(shape):
            array[index] = sympy.Symbol("_".join([name, *map(str, index)]))
        arrays[name] = array
    return arrays


@pytest.mark.parametrize("objective", objective_cases())
@pytest.mark.parametrize("kind", ["full", "row", "vector"])
def test_evaluate_on_symbols_gives_the_exact_derivatives(objective, kind):
    sizes = dict(zip(objective.signature.dims, TINY_SIZES, strict=False))
    arrays = symbol_arrays(objective.signature.shapes(sizes, kind))
    originals = {name: array.copy() for name, array in arrays.items()}
    value, grads = objective.evaluate(arrays, None)
    assert list(grads) == list(objective.arguments)
    for name, array in arrays.items():
        assert np.array_equal(array, originals[name]), f"{name} was modified"
        assert grads[name].shape == array.shape and grads[name].dtype == object
        for index in np.ndindex(array.shape):
            difference = grads[name][index] - sympy.diff(value, array[index])
            assert sympy.expand(difference) == 0, f"∂f/∂{name}{list(index)}"


@pytest.mark.parametrize("objective", objective_cases())
def test_symbolic_value_is_the_numeric_value(objective):
    # The object path (opaque σ) and the numeric path (blocked stable kernel) agree.
    from matgrad.symbolic.functions import sigma

    sizes = dict(zip(objective.signature.dims, TINY_SIZES, strict=False))
    arrays = symbol_arrays(objective.signature.shapes(sizes, "row"))
    numbers = objective.signature.random_arguments(np.random.default_rng(3), sizes, "row")
    value = objective.evaluate(arrays, ())[0]
    substitution = {
        arrays[name][i]: numbers[name][i] for name in arrays for i in np.ndindex(arrays[name].shape)
    }
    exact = value.replace(sigma, lambda x: 1 / (1 + sympy.exp(-x))).subs(substitution)
    assert float(exact) == pytest.approx(float(objective.value(numbers)), rel=1e-12)
