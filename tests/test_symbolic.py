"""The proofs of matgrad.symbolic: every registry gradient proven, by both methods, and
wrong code refuted by both, since the proofs run the code users call."""

from __future__ import annotations

import numpy as np
import pytest
import sympy
from conftest import objective_cases

from matgrad import generic_vjp, vjp
from matgrad.registry import OBJECTIVES
from matgrad.signature import BIAS_KINDS
from matgrad.symbolic import check_function, symbol_arrays, verify
from matgrad.symbolic.concrete import ExactGradient, cases
from matgrad.symbolic.verdict import ALL_SIZES, ARRAY_API, CONCRETE, GAUSS_NEWTON, GRADIENT, HVP

# The numpy path and the array API path (matgrad.generic_vjp) are both proven.
METHODS = (CONCRETE, ALL_SIZES, CONCRETE + ARRAY_API, ALL_SIZES + ARRAY_API)


@pytest.fixture(scope="module")
def verdicts():
    return {(v.objective, v.quantity, v.argument, v.method): v for v in verify()}


@pytest.mark.parametrize("quantity", [HVP, GAUSS_NEWTON])
@pytest.mark.parametrize("objective", objective_cases())
def test_every_second_order_product_is_proven(verdicts, objective, quantity):
    for name in objective.arguments:
        verdict = verdicts[objective.id, quantity, name, CONCRETE]
        assert verdict.proven, str(verdict)
        assert verdict.counterexample is None and verdict.note is None


def proof_cases() -> list:
    return [
        pytest.param(o.id, name, method, id=f"{o.id}-{name}-{method.replace(' ', '_')}")
        for o in OBJECTIVES
        for name in o.arguments
        for method in METHODS
    ]


@pytest.mark.parametrize(("objective_id", "argument", "method"), proof_cases())
def test_every_gradient_is_proven(verdicts, objective_id, argument, method):
    verdict = verdicts[objective_id, GRADIENT, argument, method]
    assert verdict.proven, str(verdict)
    assert verdict.counterexample is None and verdict.note is None


def test_verify_gives_exactly_one_verdict_per_argument_and_method(verdicts):
    expected = {
        (o.id, GRADIENT, name, method) for o in OBJECTIVES for name in o.arguments for method in METHODS
    } | {
        (o.id, q, name, method)
        for o in OBJECTIVES
        for name in o.arguments
        for q in (HVP, GAUSS_NEWTON)
        for method in (CONCRETE, CONCRETE + ARRAY_API)
    }
    assert set(verdicts) == expected


@pytest.mark.parametrize("objective", objective_cases())
def test_concrete_shapes_include_1x1_all_distinct_sizes_and_every_bias_kind(objective):
    found = cases(objective)
    assert any(set(c.sizes.values()) == {1} for c in found)
    assert any(len(set(c.sizes.values())) == len(c.sizes) > 1 for c in found)
    assert {c.bias_kind for c in found} == set(BIAS_KINDS)
    assert len({tuple(c.sizes.values()) for c in found}) >= 3


# A wrong version of one VJP rule and the gradients it must break (the others stay proven).
WRONG_RULES = [
    pytest.param("affine", "sqnorm_vjp", lambda R, **buffers: R, {"X", "W", "b"}, id="sqnorm_vjp-without-2"),
    pytest.param(
        "affine",
        "add_bias_vjp",
        lambda G, shape, **buffers: G if G.shape == shape else -G.sum(axis=0).reshape(shape),
        {"b"},
        id="add_bias_vjp-negated-row-sum",
    ),
    pytest.param(
        "sigmoid_net.pre",
        "sigmoid_vjp",
        lambda G, S, **buffers: G * S,
        {"X", "W1", "b1"},
        id="sigmoid_vjp-sigma",
    ),
    pytest.param(
        "sigmoid_net.post",
        "linear_vjp",
        lambda G, X, W, bias_shape, need, **buffers: (
            G @ W.T if need[0] else None,
            X.T @ G + X.T @ G if need[1] else None,
            vjp.add_bias_vjp(G, bias_shape) if need[2] else None,
        ),
        {"W1", "W2"},
        id="linear_vjp-dW-doubled",
    ),
]


@pytest.mark.parametrize("rules", [vjp, generic_vjp], ids=["numpy", "array-API"])
@pytest.mark.parametrize(("objective_id", "rule", "wrong", "broken"), WRONG_RULES)
def test_a_wrong_vjp_rule_fails_both_proofs(monkeypatch, rules, objective_id, rule, wrong, broken):
    """A wrong rule in one path fails both proofs of that path, and only of that path."""
    monkeypatch.setattr(rules, rule, wrong)
    for verdict in verify(objective_id, second_order=False):
        of_this_path = verdict.method.endswith(ARRAY_API) == (rules is generic_vjp)
        assert verdict.proven == (verdict.argument not in broken or not of_this_path), str(verdict)
        if not verdict.proven:
            assert verdict.counterexample is not None and verdict.counterexample.difference


def test_a_wrong_rule_is_diagnosed_in_the_concrete_proof(monkeypatch):
    monkeypatch.setattr(vjp, "sqnorm_vjp", lambda R, **buffers: -2 * R)
    concrete = [v for v in verify("affine", second_order=False) if v.method == CONCRETE]
    assert {v.diagnosis for v in concrete} == {"sign flipped"}


@pytest.mark.parametrize("objective", objective_cases())
def test_exact_derivative_agrees_with_sympy_diff(objective):
    """The fast polynomial chain rule against sympy's own diff, on square shapes (size 2)."""
    sizes = dict.fromkeys(objective.signature.dims, 2)
    arrays = symbol_arrays(objective.signature.shapes(sizes, "row"))
    value = objective.evaluate(arrays, ())[0]
    exact = ExactGradient(value, arrays)
    for name, array in arrays.items():
        symbol = array.flat[-1]
        assert sympy.expand(exact.expected(symbol) - sympy.diff(value, symbol)) == 0, name


def test_check_function_proves_a_right_gradient_and_refutes_a_wrong_one():
    def value(A, B):
        return np.sum((A @ B) * (A @ B))

    shapes = {"A": (2, 3), "B": (3, 2)}
    assert check_function(value, lambda A, B: 2 * A.T @ (A @ B), shapes, "B").proven
    wrong = check_function(value, lambda A, B: (2 * A.T @ (A @ B)).T, shapes, "B")
    assert not wrong.proven and wrong.diagnosis == "transposed result"
    assert "shape (2, 3)" in wrong.counterexample.difference  # B is 3×2


def test_check_function_reports_a_candidate_that_raises():
    verdict = check_function(lambda A: np.sum(A * A), lambda A: A @ A, {"A": (2, 3)}, "A")
    assert not verdict.proven and "raised ValueError" in verdict.counterexample.difference


def test_a_candidate_equal_only_through_an_identity_of_sigma_is_still_proven():
    """σ′ written through exp: not the same polynomial in σ, the same function."""

    def value(x):
        from matgrad.elementwise import sigmoid

        return np.sum(sigmoid(x))

    def gradient(x):
        return np.vectorize(lambda t: sympy.exp(-t) / (1 + sympy.exp(-t)) ** 2, otypes=[object])(x)

    assert check_function(value, gradient, {"x": (2,)}, "x").proven


def test_symbol_arrays_names_every_entry():
    arrays = symbol_arrays({"W1": (2, 3), "b": (2,)})
    assert arrays["W1"][1, 2] == sympy.Symbol("W1_1_2")
    assert arrays["b"][1] == sympy.Symbol("b_1")
    assert len(set(arrays["W1"].flat) | set(arrays["b"].flat)) == 8


def test_verdict_prints_the_counterexample_and_diagnosis():
    verdict = check_function(lambda A: np.sum(A * A), lambda A: A, {"A": (1, 1)}, "A")
    text = str(verdict)
    assert "NOT proven" in text and "missing factor 2" in text and "entry (0, 0)" in text
    assert verdict.to_dict()["counterexample"]["inputs"]["A"] == [[verdict.counterexample.inputs["A"][0][0]]]
