"""matgrad.symbolic.check on a corpus of hand-written formulas: the wrong ones caught and
diagnosed, the right ones proven. Formulas are written out here on purpose: they play
the user's candidate, a second derivation independent of matgrad's code."""

from __future__ import annotations

import numpy as np
import pytest

from matgrad.elementwise import sigmoid
from matgrad.symbolic import check

# ---------------------------------------------------------------- hand derivations


def rows_summed(G, b):
    """1ₙᵀG in b's shape when b is one row; G itself when b is full."""
    return G if G.shape == b.shape else G.sum(axis=0).reshape(b.shape)


def affine_residual(X, W, b):
    return X @ W + b


def pre_forward(X, Y, W1, b1, W2, b2):
    """S = σ(XW₁ + b₁), R = SW₂ + b₂ − Y."""
    S = sigmoid(X @ W1 + b1)
    return S, S @ W2 + b2 - Y


def post_forward(X, Y, W1, b1, W2, b2):
    """S = σ(XW₁), A = S + b₁, R = AW₂ + b₂ − Y."""
    S = sigmoid(X @ W1)
    A = S + b1
    return S, A, A @ W2 + b2 - Y


def pre_delta(X, Y, W1, b1, W2, b2, sigma_prime=lambda S: S * (1 - S), W2_used=None):
    S, R = pre_forward(X, Y, W1, b1, W2, b2)
    return (R @ (W2.T if W2_used is None else W2_used)) * sigma_prime(S)


def post_delta(X, Y, W1, b1, W2, b2):
    S, _, R = post_forward(X, Y, W1, b1, W2, b2)
    return (R @ W2.T) * S * (1 - S)


CORRECT = {
    ("affine", "X"): lambda X, W, b: 2 * affine_residual(X, W, b) @ W.T,
    ("affine", "W"): lambda X, W, b: 2 * X.T @ affine_residual(X, W, b),
    ("affine", "b"): lambda X, W, b: rows_summed(2 * affine_residual(X, W, b), b),
    ("sigmoid_net.pre", "X"): lambda X, Y, W1, b1, W2, b2: 2 * pre_delta(X, Y, W1, b1, W2, b2) @ W1.T,
    ("sigmoid_net.pre", "Y"): lambda X, Y, W1, b1, W2, b2: -2 * pre_forward(X, Y, W1, b1, W2, b2)[1],
    ("sigmoid_net.pre", "W1"): lambda X, Y, W1, b1, W2, b2: 2 * X.T @ pre_delta(X, Y, W1, b1, W2, b2),
    ("sigmoid_net.pre", "b1"): lambda X, Y, W1, b1, W2, b2: rows_summed(
        2 * pre_delta(X, Y, W1, b1, W2, b2), b1
    ),
    ("sigmoid_net.pre", "W2"): lambda X, Y, W1, b1, W2, b2: (
        2 * pre_forward(X, Y, W1, b1, W2, b2)[0].T @ pre_forward(X, Y, W1, b1, W2, b2)[1]
    ),
    ("sigmoid_net.pre", "b2"): lambda X, Y, W1, b1, W2, b2: rows_summed(
        2 * pre_forward(X, Y, W1, b1, W2, b2)[1], b2
    ),
    ("sigmoid_net.post", "Y"): lambda X, Y, W1, b1, W2, b2: -2 * post_forward(X, Y, W1, b1, W2, b2)[2],
    ("sigmoid_net.post", "X"): lambda X, Y, W1, b1, W2, b2: 2 * post_delta(X, Y, W1, b1, W2, b2) @ W1.T,
    ("sigmoid_net.post", "W1"): lambda X, Y, W1, b1, W2, b2: 2 * X.T @ post_delta(X, Y, W1, b1, W2, b2),
    ("sigmoid_net.post", "b1"): lambda X, Y, W1, b1, W2, b2: rows_summed(
        2 * post_forward(X, Y, W1, b1, W2, b2)[2] @ W2.T, b1
    ),
    ("sigmoid_net.post", "W2"): lambda X, Y, W1, b1, W2, b2: (
        2 * post_forward(X, Y, W1, b1, W2, b2)[1].T @ post_forward(X, Y, W1, b1, W2, b2)[2]
    ),
    ("sigmoid_net.post", "b2"): lambda X, Y, W1, b1, W2, b2: rows_summed(
        2 * post_forward(X, Y, W1, b1, W2, b2)[2], b2
    ),
}


def _pre_b1(X, Y, W1, b1, W2, b2):
    return CORRECT["sigmoid_net.pre", "b1"](X, Y, W1, b1, W2, b2)


def _post_b1(X, Y, W1, b1, W2, b2):
    return CORRECT["sigmoid_net.post", "b1"](X, Y, W1, b1, W2, b2)


# (objective, argument, wrong formula, the slip it must be diagnosed as)
WRONG = [
    ("affine", "W", lambda X, W, b: X.T @ affine_residual(X, W, b), "missing factor 2"),
    ("affine", "X", lambda X, W, b: affine_residual(X, W, b) @ W.T, "missing factor 2"),
    ("affine", "W", lambda X, W, b: -2 * X.T @ affine_residual(X, W, b), "sign flipped"),
    ("affine", "W", lambda X, W, b: 2 * affine_residual(X, W, b).T @ X, "transposed result"),
    ("affine", "X", lambda X, W, b: 2 * affine_residual(X, W, b) @ W, "W not transposed"),
    ("affine", "b", lambda X, W, b: 2 * affine_residual(X, W, b), "bias gradient not summed over rows"),
    (
        "sigmoid_net.pre",
        "W1",
        lambda X, Y, W1, b1, W2, b2: 2 * X.T @ pre_delta(X, Y, W1, b1, W2, b2, sigma_prime=lambda S: 1),
        "σ′ missing",
    ),
    (
        "sigmoid_net.pre",
        "W1",
        lambda X, Y, W1, b1, W2, b2: (
            2 * X.T @ pre_delta(X, Y, W1, b1, W2, b2, sigma_prime=lambda S: S * (1 + S))
        ),
        "σ(1 + σ) instead of σ′ = σ(1 − σ)",
    ),
    (
        "sigmoid_net.pre",
        "X",
        lambda X, Y, W1, b1, W2, b2: 2 * pre_delta(X, Y, W1, b1, W2, b2, sigma_prime=lambda S: S) @ W1.T,
        "σ instead of σ′",
    ),
    (
        "sigmoid_net.pre",
        "X",
        lambda X, Y, W1, b1, W2, b2: 2 * pre_delta(X, Y, W1, b1, W2, b2, W2_used=W2) @ W1.T,
        "W₂ not transposed",
    ),
    (
        "sigmoid_net.pre",
        "W1",
        lambda X, Y, W1, b1, W2, b2: 2 * X.T @ pre_delta(X, Y, W1, b1, W2, b2, W2_used=W2),
        "W₂ not transposed",
    ),
    (
        "sigmoid_net.pre",
        "W2",
        lambda X, Y, W1, b1, W2, b2: (
            2 * pre_forward(X, Y, W1, b1, W2, b2)[0].T @ (Y - pre_forward(X, Y, W1, b1, W2, b2)[0] @ W2 - b2)
        ),
        "sign flipped",
    ),
    (
        "sigmoid_net.pre",
        "b2",
        lambda X, Y, W1, b1, W2, b2: 2 * pre_forward(X, Y, W1, b1, W2, b2)[1],
        "bias gradient not summed over rows",
    ),
    (
        "sigmoid_net.post",
        "b1",
        _pre_b1,
        "wrong bias placement (this is the gradient of sigmoid_net.pre)",
    ),
    (
        "sigmoid_net.pre",
        "b1",
        _post_b1,
        "wrong bias placement (this is the gradient of sigmoid_net.post)",
    ),
    (
        "sigmoid_net.post",
        "W1",
        lambda X, Y, W1, b1, W2, b2: X.T @ post_delta(X, Y, W1, b1, W2, b2),
        "missing factor 2",
    ),
]


@pytest.mark.parametrize(
    ("objective", "argument", "candidate", "slip"),
    [pytest.param(*case, id=f"{case[0]}-{case[1]}-{case[3]}") for case in WRONG],
)
def test_wrong_formula_is_caught_and_diagnosed(objective, argument, candidate, slip):
    verdict = check(objective, argument, candidate)
    assert not verdict.proven
    assert verdict.counterexample is not None
    assert verdict.diagnosis == slip, str(verdict)


def test_the_corpus_has_at_least_ten_wrong_formulas_and_every_slip():
    slips = {case[3].split(" (")[0] for case in WRONG}
    assert len(WRONG) >= 10
    assert {
        "missing factor 2",
        "transposed result",
        "sign flipped",
        "σ′ missing",
        "σ(1 + σ) instead of σ′ = σ(1 − σ)",
        "σ instead of σ′",
        "bias gradient not summed over rows",
        "W₂ not transposed",
        "wrong bias placement",
    } <= slips


@pytest.mark.parametrize(("objective", "argument"), [pytest.param(*key, id="-".join(key)) for key in CORRECT])
def test_correct_formula_is_proven(objective, argument):
    verdict = check(objective, argument, CORRECT[objective, argument])
    assert verdict.proven, str(verdict)
    assert verdict.counterexample is None and verdict.diagnosis is None


def test_a_wrong_formula_gets_a_numeric_counterexample():
    verdict = check("affine", "W", WRONG[0][2])
    example = verdict.counterexample
    assert example.entry == (0, 0) and example.shapes["X"] == (1, 1)
    # At the numeric instance the candidate is half the derivative (missing factor 2).
    assert example.candidate_value == pytest.approx(example.expected_value / 2)
    X, W, b = (np.array(example.inputs[name], dtype=float) for name in ("X", "W", "b"))
    assert example.expected_value == pytest.approx(float((2 * X.T @ (X @ W + b))[0, 0]))


def test_a_formula_that_fails_on_shapes_is_refuted_with_the_error():
    verdict = check("affine", "X", lambda X, W, b: 2 * (X @ W + b) @ W)
    assert not verdict.proven
    assert verdict.counterexample.entry is None
    assert "raised ValueError" in verdict.counterexample.difference


@pytest.mark.parametrize(
    ("objective", "argument"), [("affine", "b"), ("sigmoid_net.pre", "W1"), ("sigmoid_net.post", "b1")]
)
def test_correct_formula_is_proven_for_all_sizes_on_request(objective, argument):
    verdict = check(objective, argument, CORRECT[objective, argument], all_sizes=True)
    assert verdict.proven and verdict.method == "all sizes", str(verdict)


def test_a_formula_that_depends_on_the_sizes_is_not_proven_for_all_sizes():
    def only_small(X, W, b):
        right = 2 * X.T @ affine_residual(X, W, b)
        return right if X.shape[0] < 6 else -right

    assert check("affine", "W", only_small).proven  # every sample size has n < 6
    verdict = check("affine", "W", only_small, all_sizes=True)
    assert verdict.status == "undecided" and "does not run on symbolic shapes" in verdict.note
    assert verdict.counterexample is None
