"""The numeric references on functions with known derivatives, and their error handling."""

from __future__ import annotations

import numpy as np
import pytest

from matgrad.testing import (
    central_difference,
    complex_step,
    directional_derivative,
    forward_difference,
    step_size_sweep,
)

rng = np.random.default_rng(11)
A = rng.standard_normal((3, 4))
B = rng.standard_normal((4, 2))


def cubic(A, B):
    """f = Σᵢⱼ Aᵢⱼ³ + Σᵢⱼ (AB)ᵢⱼ: ∂f/∂A = 3A² + 𝟙Bᵀ, ∂f/∂B = Aᵀ𝟙 (𝟙 the ones of AB's shape)."""
    return (A**3).sum() + (A @ B).sum()


def cubic_grad(A, B):
    ones = np.ones((A.shape[0], B.shape[1]))
    return {"A": 3 * A**2 + ones @ B.T, "B": A.T @ ones}


EXACT = cubic_grad(A, B)


@pytest.mark.parametrize(
    ("method", "tolerance"),
    [(central_difference, 1e-9), (forward_difference, 1e-6), (complex_step, 1e-15)],
)
@pytest.mark.parametrize("name", ["A", "B"])
def test_entrywise_methods_reach_their_accuracy(method, tolerance, name):
    numeric = method(cubic, {"A": A, "B": B}, name)
    assert numeric.shape == EXACT[name].shape
    np.testing.assert_allclose(numeric, EXACT[name], rtol=tolerance, atol=tolerance)


def test_methods_do_not_modify_their_inputs():
    arrays = {"A": A.copy(), "B": B.copy()}
    for method in (central_difference, forward_difference, complex_step):
        method(cubic, arrays, "A")
    np.testing.assert_array_equal(arrays["A"], A)
    np.testing.assert_array_equal(arrays["B"], B)


def test_the_directional_derivative_is_the_inner_product_with_the_gradient():
    V = rng.standard_normal(A.shape)
    expected = float(np.vdot(EXACT["A"], V))
    assert directional_derivative(cubic, {"A": A, "B": B}, "A", V) == pytest.approx(expected, rel=1e-9)
    assert directional_derivative(cubic, {"A": A, "B": B}, "A", np.zeros_like(A)) == 0.0


def test_the_directional_derivative_costs_two_evaluations_whatever_the_size():
    calls = []

    def counted(A):
        calls.append(1)
        return (A**2).sum()

    big = rng.standard_normal((300, 200))
    V = rng.standard_normal(big.shape)
    assert directional_derivative(counted, {"A": big}, "A", V) == pytest.approx(np.vdot(2 * big, V), rel=1e-8)
    assert len(calls) == 2


@pytest.mark.parametrize(
    ("method", "seen_dtype"), [(central_difference, np.float64), (complex_step, np.complex128)]
)
def test_float32_points_get_a_double_precision_reference(method, seen_dtype):
    seen = set()

    def f(A):
        seen.add(A.dtype)
        return (A**3).sum()

    point = A.astype(np.float32)
    numeric = method(f, {"A": point}, "A")
    assert seen == {np.dtype(seen_dtype)}
    np.testing.assert_allclose(numeric, 3 * point.astype(np.float64) ** 2, rtol=1e-9, atol=1e-9)


def test_the_complex_step_refuses_a_function_that_drops_the_imaginary_part():
    with pytest.raises(TypeError, match="holomorphic"):
        complex_step(lambda A: float(np.real(A**2).sum()), {"A": A}, "A")


def test_bad_input_gets_clear_errors():
    with pytest.raises(ValueError, match=r"f must return a scalar; it returned an array of shape \(3, 4\)"):
        central_difference(lambda A: A, {"A": A}, "A")
    with pytest.raises(TypeError, match="A has dtype complex128"):
        central_difference(cubic, {"A": A + 0j, "B": B}, "A")
    with pytest.raises(ValueError, match=r"direction has shape \(4, 2\); A has shape \(3, 4\)"):
        directional_derivative(cubic, {"A": A, "B": B}, "A", B)


def test_the_step_sweep_draws_the_v_of_finite_differences():
    steps = np.logspace(-14, -1, 14)
    sweep = step_size_sweep(cubic, cubic_grad, {"A": A, "B": B}, "A", steps)
    assert set(sweep) == {"steps", "central", "forward", "complex"}
    assert all(sweep[key].shape == steps.shape for key in sweep)
    central, forward = sweep["central"], sweep["forward"]
    best = int(np.argmin(central))
    # Truncation on the right of the minimum, rounding on its left: a V.
    assert 0 < best < steps.size - 1
    assert central[0] > 100 * central[best] and central[-1] > 100 * central[best]
    assert central.min() < forward.min() / 100
    assert sweep["complex"][steps <= 1e-8].max() < 1e-15


def test_the_step_sweep_rejects_non_positive_steps():
    with pytest.raises(ValueError, match="positive"):
        step_size_sweep(cubic, cubic_grad, {"A": A, "B": B}, "A", [1e-3, 0.0])
