"""The engine's elementwise functions: stable numbers, dtypes kept, sympy on object arrays."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import sympy

from matgrad import elementwise
from matgrad.symbolic.functions import sigma

FUNCTIONS = ("tanh", "exp", "log", "relu", "step", "softplus")


@pytest.mark.parametrize("name", FUNCTIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
def test_dtype_is_kept(name, dtype):
    H = np.array([[0.5, 1.5], [2.0, 0.25]], dtype=dtype)
    assert getattr(elementwise, name)(H).dtype == dtype


def test_softplus_is_stable_and_its_derivative_is_sigma():
    H = np.array([-1e4, -40.0, -1.0, 0.0, 1.0, 40.0, 1e4])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        S = elementwise.softplus(H)
    np.testing.assert_allclose(S[1:-1], np.log1p(np.exp(H[1:-1])), rtol=1e-15)
    assert S[0] == 0.0 and S[-1] == 1e4
    step = 1e-20
    derivative = elementwise.softplus(H[1:-1] + 1j * step).imag / step
    np.testing.assert_allclose(derivative, elementwise.sigmoid(H[1:-1]), rtol=1e-12)


def test_relu_and_step_propagate_nan_and_use_zero_at_the_kink():
    H = np.array([-2.0, 0.0, 3.0, np.nan])
    np.testing.assert_array_equal(elementwise.relu(H), [0.0, 0.0, 3.0, np.nan])
    np.testing.assert_array_equal(elementwise.step(H), [0.0, 0.0, 1.0, np.nan])
    Z = np.array([-2.0 + 1e-20j, 3.0 + 1e-20j])
    np.testing.assert_array_equal(elementwise.relu(Z).imag / 1e-20, elementwise.step(Z).real)


def test_object_arrays_get_sympy_functions_with_the_engines_derivatives():
    x = sympy.Symbol("x")
    H = np.array([x], dtype=object)
    derivatives = {
        "tanh": 1 - sympy.tanh(x) ** 2,
        "exp": sympy.exp(x),
        "log": 1 / x,
        "relu": elementwise.step(H)[0],
        "softplus": sigma(x),
    }
    for name, expected in derivatives.items():
        value = getattr(elementwise, name)(H)[0]
        assert sympy.expand(sympy.diff(value, x) - expected) == 0, name
    assert sympy.diff(elementwise.step(H)[0], x) == 0
