"""check_gradients, check_objective and compare_gradients: verdicts, reports, errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from conftest import objective_cases

from matgrad import affine
from matgrad.signature import BIAS_KINDS
from matgrad.testing import check_gradients, check_objective, compare_gradients
from matgrad.testing.diagnose import HALF, HINTS

METHODS = ("central", "complex", "direction")
SEED = 9


def affine_point(dtype=np.float64):
    rng = np.random.default_rng(SEED)
    return {
        "X": rng.standard_normal((5, 3)).astype(dtype),
        "W": rng.standard_normal((3, 2)).astype(dtype),
        "b": rng.standard_normal(2).astype(dtype),
    }


def half_dW(X, W, b):
    grads = affine.grad(X, W, b)
    grads["W"] = grads["W"] / 2
    return grads


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("kind", BIAS_KINDS)
@pytest.mark.parametrize("objective", objective_cases())
def test_every_registry_gradient_passes_every_method(objective, kind, method):
    report = check_objective(objective, bias_kind=kind, method=method, seed=SEED)
    assert report.passed, str(report)
    assert list(report.arguments) == list(objective.arguments)
    for argument in report.arguments.values():
        assert argument.max_rel_error <= argument.tolerance
        assert argument.diagnosis is None


def test_check_objective_takes_an_id_and_draws_sizes_from_the_seed():
    first, again = check_objective("sigmoid_net.post", seed=3), check_objective("sigmoid_net.post", seed=3)
    assert first.title == again.title
    assert first.to_dict() == again.to_dict()
    shapes = {a.shape for a in first.arguments.values()}
    assert all(1 <= size <= 6 for shape in shapes for size in shape)
    assert "sigmoid_net.post" in first.title and "float64" in first.title


def test_a_report_says_how_wrong_where_and_why():
    report = check_gradients(affine.value, half_dW, affine_point(), method="complex")
    assert not report.passed
    X, W = report.arguments["X"], report.arguments["W"]
    assert X.passed and X.max_rel_error < 1e-14 and X.diagnosis is None
    assert (W.passed, W.diagnosis, W.failing, W.compared) == (False, HALF, 6, 6)
    expected = affine.grad(**affine_point())["W"]
    assert W.reference_at_worst == pytest.approx(expected[W.worst_index], rel=1e-14)
    assert W.gradient_at_worst == pytest.approx(expected[W.worst_index] / 2, rel=1e-14)
    assert W.max_abs_error == pytest.approx(np.abs(expected / 2).max(), rel=1e-14)
    text = str(report)
    assert "FAILED" in text and f"FAIL: {HALF}" in text and HINTS[HALF] in text
    assert f"worst at ({W.worst_index[0]}, {W.worst_index[1]})" in text


def test_to_dict_is_plain_json_data():
    report = check_gradients(affine.value, half_dW, affine_point(), method="central")
    data = json.loads(json.dumps(report.to_dict()))
    assert data["passed"] is False and data["method"] == "central"
    assert data["arguments"]["W"]["diagnosis"] == HALF
    assert data["arguments"]["W"]["shape"] == [3, 2]
    assert data["arguments"]["b"]["passed"] is True


def test_default_tolerance_follows_the_gradients_dtype_and_the_method():
    point32 = affine_point(np.float32)
    complex32 = check_gradients(affine.value, affine.grad, point32, method="complex")
    assert complex32.passed
    assert {a.tolerance for a in complex32.arguments.values()} == {math.sqrt(float(np.finfo(np.float32).eps))}
    complex64 = check_gradients(affine.value, affine.grad, affine_point(), method="complex")
    central64 = check_gradients(affine.value, affine.grad, affine_point(), method="central")
    assert complex64.arguments["W"].tolerance == math.sqrt(float(np.finfo(np.float64).eps))
    assert central64.arguments["W"].tolerance > complex64.arguments["W"].tolerance
    strict = check_gradients(affine.value, affine.grad, affine_point(), method="central", tolerance=1e-300)
    assert not strict.passed and strict.arguments["W"].tolerance == 1e-300


def test_the_direction_test_adds_directions_to_diagnose_a_failure():
    rng = np.random.default_rng(SEED)
    report = check_gradients(affine.value, half_dW, affine_point(), method="direction", rng=rng)
    assert report.arguments["X"].compared == 1
    assert report.arguments["W"].compared == 4 and report.arguments["W"].diagnosis == HALF
    assert "V" in str(report)


def test_nan_in_a_gradient_fails_and_is_the_worst_entry():
    def nan_grad(X, W, b):
        grads = affine.grad(X, W, b)
        grads["X"][2, 1] = np.nan
        return grads

    report = check_gradients(affine.value, nan_grad, affine_point(), method="complex").arguments["X"]
    assert not report.passed and math.isnan(report.max_rel_error)
    assert (report.worst_index, report.failing) == ((2, 1), 1)


def test_wrt_checks_only_the_named_arguments():
    report = check_gradients(affine.value, half_dW, affine_point(), wrt=("b", "X"))
    assert list(report.arguments) == ["b", "X"] and report.passed


def test_empty_arguments_pass_with_nothing_compared():
    report = check_objective("affine", sizes={"n": 0, "k": 2, "m": 3}, method="complex")
    assert report.passed
    assert report.arguments["X"].compared == 0 and report.arguments["X"].worst_index is None


def test_bad_calls_get_clear_errors():
    point = affine_point()
    with pytest.raises(ValueError, match="method must be one of"):
        check_gradients(affine.value, affine.grad, point, method="backward")
    with pytest.raises(ValueError, match=r"pass rng=np\.random\.default_rng"):
        check_gradients(affine.value, affine.grad, point, method="direction")
    with pytest.raises(ValueError, match=r"grad returned no gradient for \['b'\]"):
        check_gradients(affine.value, lambda **a: {"X": 1, "W": 1}, point)
    with pytest.raises(ValueError, match="wrt names unknown argument 'Z'"):
        check_gradients(affine.value, affine.grad, point, wrt="Z")
    with pytest.raises(KeyError, match="no objective 'affne'"):
        check_objective("affne")


def test_compare_gradients_checks_against_a_reference_from_elsewhere():
    point = affine_point()
    exact = affine.grad(**point)
    assert compare_gradients(exact, exact).passed
    report = compare_gradients(half_dW(**point), exact, method="torch autograd", title="affine")
    assert report.arguments["W"].diagnosis == HALF
    assert "affine by torch autograd: FAILED" in str(report)
    with pytest.raises(ValueError, match=r"no gradient for \['b'\]"):
        compare_gradients({"X": exact["X"]}, {"X": exact["X"], "b": exact["b"]})
