"""Bad input gets a clear error; edge values get correct numbers."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

from matgrad import affine, sigmoid_net
from matgrad.elementwise import sigmoid

rng = np.random.default_rng(7)
X, W, b = rng.standard_normal((5, 3)), rng.standard_normal((3, 4)), rng.standard_normal((5, 4))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            (X, rng.standard_normal((2, 4)), b),
            "W has shape (2, 4) but X has 3 columns (shape (5, 3)): they disagree on size k; "
            "W must be (3, m) to fit X, or X must have 2 columns to fit W",
        ),
        (
            (X, W, rng.standard_normal((5, 2))),
            "b has shape (5, 2) but W has 4 columns (shape (3, 4)): they disagree on size m; "
            "b must be (5, 4), (1, 4) or (4,) to fit W, or W must have 2 columns to fit b",
        ),
        (
            (X, W, rng.standard_normal((6, 4))),
            "b has shape (6, 4) but X has 5 rows (shape (5, 3)): they disagree on size n; "
            "b must be (5, 4), (1, 4) or (4,) to fit X, or X must have 6 rows to fit b",
        ),
        ((X, W, rng.standard_normal(3)), "b has shape (3,) but W has 4 columns"),
        ((X[0], W, b), "X must be a 2-D array of shape (n, k); got a 1-D array of shape (3,)"),
        ((X, W[None], b), "W must be a 2-D array of shape (3, m); got a 3-D array of shape (1, 3, 4)"),
        ((X, W, 1.0), "b must be a 1-D or 2-D array of shape (5, 4), (1, 4) or (4,); got a 0-D array"),
    ],
)
def test_shape_errors_name_argument_shape_and_expectation(args, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        affine.grad(*args)


def test_network_shape_error_is_in_terms_of_the_other_arguments():
    n, d, h, o = 6, 3, 4, 2
    args = [rng.standard_normal(s) for s in [(n, d), (n, o), (d, h), (h,), (h + 1, o), (o,)]]
    message = (
        "W2 has shape (5, 2) but W1 has 4 columns (shape (3, 4)): they disagree on size h; "
        "W2 must be (4, 2) to fit W1, or W1 must have 5 columns to fit W2"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        sigmoid_net.value(*args)


NON_NUMERIC = [np.array([["a"]]), np.array([[object()]]), np.array([["2020-01-01"]], "M8[D]")]


@pytest.mark.parametrize("bad", NON_NUMERIC)
def test_non_numeric_dtypes_raise_type_error(bad):
    with pytest.raises(TypeError, match="X has dtype"):
        affine.value(bad, np.ones((1, 1)), np.ones(1))


def test_unknown_wrt_and_bias_are_rejected():
    with pytest.raises(ValueError, match=r"unknown argument 'w'; the arguments are \['X', 'W', 'b'\]"):
        affine.grad(X, W, b, wrt="w")
    with pytest.raises(TypeError, match="wrt must be argument names"):
        affine.grad(X, W, b, wrt=[1])
    net = [np.ones(s) for s in [(2, 1), (2, 1), (1, 3), (3,), (3, 1), (1,)]]
    with pytest.raises(ValueError, match="bias must be 'pre'"):
        sigmoid_net.grad(*net, bias="inside")


def test_empty_wrt_computes_nothing():
    assert affine.grad(X, W, b, wrt=()) == {}
    f, grads = affine.value_and_grad(X, W, b, wrt=[])
    assert grads == {} and f == affine.value(X, W, b)


def test_sigmoid_is_stable_and_accurate_for_large_magnitudes():
    H = np.array([-1e4, -745.0, -40.0, -1.0, 0.0, 1.0, 40.0, 745.0, 1e4])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        S = sigmoid(H)
        S32 = sigmoid(H.astype(np.float32))
    assert S32.dtype == np.float32
    assert np.all(np.isfinite(S)) and np.all((S >= 0) & (S <= 1))
    # Small σ keeps its relative precision: σ(−40) = e⁻⁴⁰/(1 + e⁻⁴⁰).
    assert S[2] == pytest.approx(np.exp(-40.0) / (1 + np.exp(-40.0)), rel=1e-15)
    assert S[4] == 0.5
    np.testing.assert_allclose(S[3] + S[5], 1.0, rtol=1e-15)
    assert S[0] == 0.0 and S[-1] == 1.0


def test_sigmoid_complex_is_the_holomorphic_extension():
    H = np.array([-30.0 + 1e-20j, -0.5 + 0.25j, 2.0 - 0.1j])
    np.testing.assert_allclose(sigmoid(H), 1 / (1 + np.exp(-H)), rtol=1e-14)


@pytest.mark.parametrize("bias", ["pre", "post"])
def test_network_gradients_finite_for_huge_pre_activations(bias):
    n, d, h, o = 4, 2, 3, 2
    arrays = [rng.standard_normal(s) for s in [(n, d), (n, o), (d, h), (h,), (h, o), (o,)]]
    arrays[2] = arrays[2] * 1e4  # pre-activations of magnitude ~1e4
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f, grads = sigmoid_net.value_and_grad(*arrays, bias=bias)
    assert np.isfinite(f)
    assert all(np.all(np.isfinite(g)) for g in grads.values())
    # σ′ = 0 in saturation, so W1 gets no gradient where every unit saturated.
    H = arrays[0] @ arrays[2]
    if np.all(np.abs(H) > 800):
        assert not np.any(grads["W1"])


def test_remembered_checks_never_let_a_bad_call_through():
    """validate() remembers shape and dtype combinations that passed; nothing else may skip the checks."""
    rng = np.random.default_rng(0)
    X, W, b = rng.standard_normal((5, 3)), rng.standard_normal((3, 2)), rng.standard_normal(2)
    affine.value_and_grad(X, W, b)
    for _ in range(2):  # a failure is not remembered as a pass
        with pytest.raises(ValueError, match="disagree on size"):
            affine.value_and_grad(X, rng.standard_normal((4, 2)), b)
    with pytest.raises(TypeError, match="numeric arrays"):
        affine.value_and_grad(X.astype(str), W, b)  # same shapes, another dtype
    f32 = affine.value_and_grad(X.astype(np.float32), W.astype(np.float32), b.astype(np.float32))
    assert f32[1]["W"].dtype == np.float32
    assert affine.value_and_grad(X, W, b)[1]["W"].dtype == np.float64
