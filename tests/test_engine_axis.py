"""Reductions along an axis, mean, logsumexp and softmax in the derivation engine."""

from __future__ import annotations

import numpy as np
import pytest

from matgrad import derive
from matgrad.engine.errors import ExpressionError, ShapeError
from matgrad.engine.parser import parse

CASES = {
    "cross-entropy": (
        "-sum(Y * log(softmax(Z, axis=1)))",
        {"Y": "n,k", "Z": "n,k"},
        "Z",
        "(Y1ₖ) ⊙ softmax(Z, axis=1) − Y",
    ),
    "logsumexp rows": (
        "sum(logsumexp(X @ W, axis=1))",
        {"X": "n,d", "W": "d,k"},
        "W",
        "Xᵀsoftmax(XW, axis=1)",
    ),
    "logsumexp": ("logsumexp(x)", {"x": "n"}, "x", "softmax(x)"),
    "softmax": ("sum(softmax(x) * c)", {"x": "n", "c": "n"}, "x", "softmax(x) ⊙ (c − sum(c ⊙ softmax(x)))"),
    "mean": ("mean((X @ w - y)**2)", {"X": "n,k", "w": "k", "y": "n"}, "w", "2(Xᵀ(Xw − y) / n)"),
    "mean of all": ("mean(X)", {"X": "n,k"}, "X", "1_(n×k) / (n·k)"),
    "row sums": ("sum(sum(X, axis=1) ** 2)", {"X": "n,k"}, "X", "2X1ₖ1ₖᵀ"),
    "column means": ("sum(mean(X, axis=0) ** 2)", {"X": "n,k"}, "X", "2(((1ₙᵀX) ⊙ 1_(n×k)) / n²)"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_reductions_are_derived_proven_and_printed(name):
    expression, shapes, wrt, text = CASES[name]
    derivation = derive(expression, wrt, shapes)
    assert derivation.proven, derivation.proof.summary()
    assert derivation.text(wrt) == text


@pytest.mark.parametrize("name", sorted(CASES))
def test_float32_stays_float32(name):
    expression, shapes, wrt, _ = CASES[name]
    derivation = derive(expression, wrt, shapes, prove=False)
    rng = np.random.default_rng(0)
    sizes = {"n": 5, "k": 3, "d": 4}
    arrays = [
        rng.standard_normal(tuple(sizes[d] for d in v.shape)).astype(np.float32)
        for v in derivation.variables.values()
    ]
    value, grads = derivation.function(*arrays)
    assert np.asarray(value).dtype == np.float32 and grads[wrt].dtype == np.float32


def test_cross_entropy_is_stable_and_shift_invariant():
    """Logits of 1000 neither overflow nor change the answer: softmax is invariant to a shift per row."""
    derivation = derive("-sum(Y * log(softmax(Z, axis=1)))", "Z", {"Y": "n,k", "Z": "n,k"}, prove=False)
    rng = np.random.default_rng(1)
    Z = rng.standard_normal((6, 4))
    Y = np.eye(4)[rng.integers(0, 4, 6)]
    value, grads = derivation.function(Y, Z)
    shifted_value, shifted = derivation.function(Y, Z + 1000 * rng.standard_normal((6, 1)))
    assert np.isfinite(shifted_value) and np.all(np.isfinite(shifted["Z"]))
    np.testing.assert_allclose(shifted_value, value, rtol=1e-9)
    np.testing.assert_allclose(shifted["Z"], grads["Z"], atol=1e-12)
    # rows of Y sum to one: the gradient is softmax(Z) − Y
    softmax = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(grads["Z"], softmax - Y, atol=1e-12)


def test_axis_reductions_match_numpy():
    derivation = derive("sum(mean(X, axis=1) * logsumexp(X, axis=1))", "X", {"X": "n,k"}, prove=False)
    X = np.random.default_rng(2).standard_normal((5, 3))
    value, _ = derivation.function(X)
    lse = np.log(np.exp(X).sum(axis=1))
    np.testing.assert_allclose(value, np.sum(X.mean(axis=1) * lse))


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("sum(X, axis=2)", "axis=2 is out of range for a 2-D argument"),
        ("sum(s, axis=0)", "out of range for a scalar"),
        ("softmax(X, keepdims=True)", "softmax takes axis=, not keepdims="),
        ("trace(X, axis=0)", "trace takes no keywords, not axis="),
        ("sum(X, axis=X)", "axis= takes an integer or True/False"),
        ("sum(X, axis=1, X)", "a positional argument cannot follow a keyword argument"),
    ],
)
def test_bad_axis_arguments_are_expression_errors(expression, message):
    with pytest.raises(ExpressionError, match=message) as raised:
        parse(expression, {"X": "n,k", "s": "scalar"})
    assert raised.value.text == expression


def test_axis_minus_one_is_the_last_axis():
    a = parse("sum(X, axis=-1)", {"X": "n,k"}).tree
    b = parse("sum(X, axis=1)", {"X": "n,k"}).tree
    assert a == b


def test_mean_of_inferred_shapes_names_its_sizes():
    derivation = derive("mean(X @ W)", None, None, prove=False)
    assert "/" in derivation.text("W")
    with pytest.raises(ShapeError):
        parse("mean(X, axis=5)", None)
