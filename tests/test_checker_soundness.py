"""The checkers cannot be fooled or hung by the candidates they check (hardening, issue 16)."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matgrad import affine
from matgrad.elementwise import sigmoid
from matgrad.symbolic import check, check_function, checking
from matgrad.testing import check_gradients


def _tamper_with_X(X, W, b):
    X[0, 0] = 0  # the prover must never read the candidate's copy afterwards
    return 0 * W


def _zero_W2_and_lie(X, Y, W1, b1, W2, b2):
    W2[...] = 0
    return 0 * W1


def test_a_candidate_that_writes_into_its_inputs_is_not_proven():
    assert check("affine", "W", _tamper_with_X).status == "NOT proven"
    assert check("sigmoid_net.pre", "W1", _zero_W2_and_lie).status == "NOT proven"


def test_a_correct_candidate_written_in_place_is_proven():
    def in_place(X, W, b):
        b += X @ W  # b is the candidate's own copy
        b *= 2
        return b

    assert check("affine", "b", in_place, bias_kinds=["full"]).proven


def test_check_function_gives_both_functions_copies():
    def value(A):
        total = (A**2).sum()
        A[...] = 0
        return total

    def gradient(A):
        G = 2 * A
        A[...] = 0
        return G

    assert check_function(value, gradient, {"A": (2, 3)}, "A").proven


def test_check_gradients_never_changes_the_callers_arrays():
    rng = np.random.default_rng(0)
    X, W = rng.standard_normal((4, 3)), rng.standard_normal((3, 2))
    X0 = X.copy()

    def f(X, W):
        value = ((X @ W) ** 2).sum()
        W[...] = 0
        return value

    def grad(X, W):
        R = X @ W
        gradients = {"X": 2 * R @ W.T, "W": 2 * X.T @ R}
        X[...] = 0
        return gradients

    for timeout in (None, 30.0):  # inline and in a child process
        report = check_gradients(f, grad, {"X": X, "W": W}, method="complex", timeout=timeout)
        assert report.passed, str(report)
        np.testing.assert_array_equal(X, X0)


def _never_returns(*arrays, **named):
    while True:
        pass


def test_a_candidate_that_never_returns_is_undecided_within_the_budget():
    start = time.perf_counter()
    verdict = check("affine", "W", _never_returns, timeout=1.0)
    assert verdict.status == "undecided" and "timeout" in verdict.note
    report = check_gradients(lambda X: (X**2).sum(), _never_returns, {"X": np.ones((2, 2))}, timeout=1.0)
    assert not report.passed and report.undecided and "undecided" in str(report)
    assert time.perf_counter() - start < 20


def test_a_candidate_returning_none_gets_a_verdict():
    verdict = check("affine", "W", lambda X, W, b: None)
    assert verdict.status == "NOT proven" and "returned None" in verdict.counterexample.difference
    with pytest.raises(TypeError, match="must return a dict"):
        check_gradients(lambda X: (X**2).sum(), lambda X: None, {"X": np.ones((2, 2))})


def _network_W1(sigma_prime):
    def candidate(X, Y, W1, b1, W2, b2):
        H = X @ W1 + b1
        S = 1 / (1 + np.exp(-H))
        R = S @ W2 + b2 - Y
        return 2 * X.T @ ((R @ W2.T) * sigma_prime(H, S))

    return candidate


SIGMA_PRIME_FORMS = {
    "σ(H)σ(−H)": lambda H, S: sigmoid(H) * sigmoid(-H),
    "e^{−H}/(1 + e^{−H})²": lambda H, S: np.exp(-H) / (1 + np.exp(-H)) ** 2,
    "(1 − tanh²(H/2))/4": lambda H, S: (1 - np.tanh(H / 2) ** 2) / 4,
    "S(1 − S) from 1/(1 + np.exp(−H))": lambda H, S: S * (1 - S),
}


SMALL = {"n": 2, "d": 3, "o": 1, "h": 2}


@pytest.mark.parametrize("form", SIGMA_PRIME_FORMS)
def test_sigmoid_written_with_exp_or_tanh_is_proven(form):
    verdict = check(
        "sigmoid_net.pre", "W1", _network_W1(SIGMA_PRIME_FORMS[form]), sizes=SMALL, bias_kinds=["row"]
    )
    assert verdict.proven, str(verdict)


def test_sigma_of_minus_H_is_proven_at_every_sample_size():
    def candidate(X, Y, W1, b1, W2, b2):
        H = X @ W1 + b1
        S = sigmoid(H)
        return 2 * X.T @ (((S @ W2 + b2 - Y) @ W2.T) * S * sigmoid(-H))

    assert check("sigmoid_net.pre", "W1", candidate).proven


def test_sigmoid_written_with_exp_but_wrong_is_refuted(monkeypatch):
    # Only the refutation is asserted: the search for a named slip (which finds none here and
    # would run its full 30 s) is cut short; the refutation never depends on it.
    monkeypatch.setattr(checking, "DIAGNOSIS_SECONDS", 1.0)
    verdict = check("sigmoid_net.pre", "W1", _network_W1(lambda H, S: S), sizes=SMALL)
    assert verdict.status == "NOT proven" and verdict.counterexample is not None


ALL_SIZES_FORMS = {
    "einsum": lambda X, W, b: 2 * np.einsum("ik,im->km", X, X @ W + b),
    "power": lambda X, W, b: 2 * X.T @ ((X @ W + b) ** 1),
    "ones": lambda X, W, b: 2 * X.T @ (X @ W + b) * np.ones(W.shape),
}


@pytest.mark.parametrize("form", ALL_SIZES_FORMS)
def test_all_sizes_never_refutes_a_formula_exact_at_every_concrete_shape(form):
    verdict = check("affine", "W", ALL_SIZES_FORMS[form], all_sizes=True)
    assert verdict.status in ("proven", "undecided"), str(verdict)
    assert verdict.counterexample is None
    if verdict.status == "undecided":
        assert "undecided at all sizes" in verdict.note


def test_a_row_shaped_gradient_of_a_1d_bias_is_diagnosed_as_a_shape_slip():
    verdict = check(
        "affine", "b", lambda X, W, b: 2 * (X @ W + b).sum(axis=0, keepdims=True), bias_kinds=["vector"]
    )
    assert verdict.status == "NOT proven"
    assert verdict.diagnosis is not None and verdict.diagnosis.startswith("right entries, wrong shape")


def test_the_other_placements_formulas_are_diagnosed_as_wrong_placement():
    def post_b1_by_pre(X, Y, W1, b1, W2, b2):
        S = sigmoid(X @ W1)
        R = (S + b1) @ W2 + b2 - Y
        D = 2 * (R @ W2.T) * S * (1 - S)
        return D if b1.shape == D.shape else D.sum(axis=0).reshape(b1.shape)

    def post_W2_with_S(X, Y, W1, b1, W2, b2):
        S = sigmoid(X @ W1)
        return 2 * S.T @ ((S + b1) @ W2 + b2 - Y)

    for candidate, argument in ((post_b1_by_pre, "b1"), (post_W2_with_S, "W2")):
        verdict = check("sigmoid_net.post", argument, candidate)
        assert verdict.diagnosis is not None and "wrong bias placement" in verdict.diagnosis, str(verdict)


def test_a_candidate_that_runs_on_numbers_but_not_on_symbols_is_undecided():
    def float_cast(X, W, b):
        return 2 * X.T @ (X @ W + b).astype(float)

    verdict = check("affine", "W", float_cast)
    assert verdict.status == "undecided" and "runs on numbers but not on symbols" in verdict.note
    assert np.allclose(
        float_cast(np.ones((2, 2)), np.ones((2, 2)), np.ones(2)),
        affine.grad(np.ones((2, 2)), np.ones((2, 2)), np.ones(2), wrt="W")["W"],
    )


HOSTILE_STEPS = {
    "zero an input": lambda arrays: arrays["X"].__setitem__((0, 0), 0),
    "scale an input": lambda arrays: arrays["W"].__imul__(2),
    "raise": lambda arrays: (_ for _ in ()).throw(RuntimeError("hostile")),
    "nothing": lambda arrays: None,
}
HOSTILE_RESULTS = {
    "right": lambda X, W, b: 2 * X.T @ (X @ W + b),
    "None": lambda X, W, b: None,
    "a string": lambda X, W, b: "gradient",
    "wrong shape": lambda X, W, b: 2 * (X @ W + b),
    "zeros": lambda X, W, b: 0 * W,
}


@settings(max_examples=25, derandomize=True, deadline=None)
@given(st.sampled_from(sorted(HOSTILE_STEPS)), st.sampled_from(sorted(HOSTILE_RESULTS)))
def test_hostile_candidates_get_only_documented_verdicts(step, result):
    """Whatever a candidate does to its inputs or returns, the verdict is sound and documented."""

    def candidate(X, W, b):
        value = HOSTILE_RESULTS[result](X, W, b)  # computed from the inputs as given
        HOSTILE_STEPS[step]({"X": X, "W": W, "b": b})
        return value

    verdict = check("affine", "W", candidate, sizes={"n": 2, "k": 2, "m": 2}, bias_kinds=["full"], timeout=30)
    assert verdict.status in ("proven", "NOT proven", "undecided")
    if verdict.proven:
        assert result == "right" and step != "raise"


def test_the_step_size_sweep_never_changes_the_callers_arrays():
    from matgrad.testing import step_size_sweep

    A = np.arange(1.0, 5.0).reshape(2, 2)
    before = A.copy()

    def grad(A):
        G = 2 * A
        A[...] = 0
        return {"A": G}

    sweep = step_size_sweep(lambda A: (A**2).sum(), grad, {"A": A}, "A", steps=[1e-4])
    np.testing.assert_array_equal(A, before)
    assert sweep["complex"][0] < 1e-12
