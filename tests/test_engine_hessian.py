"""Second derivatives in the engine: derive(..., order=2) and matgrad derive --hessian."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from matgrad.cli import main
from matgrad.engine import derive
from matgrad.engine.codegen import generate
from matgrad.engine.errors import ExpressionError
from matgrad.engine.nodes import Const, Mul
from matgrad.engine.second_order import _prove

LOGISTIC = ("sum(softplus(X @ w)) - y @ (X @ w)", {"X": "m,n", "w": "n", "y": "m"}, "w")

# expression, shapes, wrt, ∇²f·V as printed, Hessian matrix as printed (None: a matrix argument)
CASES = [
    (*LOGISTIC, "Xᵀ((XV) ⊙ S ⊙ (1 − S))", "Xᵀdiag(S ⊙ (1 − S))X"),
    ("x @ A @ x", {"x": "n", "A": "n,n"}, "x", "(A + Aᵀ)ᵀV", "Aᵀ + A"),
    ("sqnorm(A @ x - b)", {"x": "n", "A": "m,n", "b": "m"}, "x", "2AᵀAV", "2AᵀA"),
    ("sum(exp(A @ x))", {"x": "n", "A": "m,n"}, "x", "Aᵀ((AV) ⊙ E)", "Aᵀdiag(E)A"),
    ("trace(X.T @ A @ X)", {"X": "n,k", "A": "n,n"}, "X", "(Aᵀ + A)ᵀV", None),
    ("sqnorm(X @ W)", {"X": "n,k", "W": "k,m"}, "W", "2XᵀXV", None),
]


@pytest.mark.parametrize(("expression", "shapes", "wrt", "hvp", "hessian"), CASES, ids=[c[0] for c in CASES])
def test_second_derivatives_print_in_closed_form_and_are_proven(expression, shapes, wrt, hvp, hessian):
    second = derive(expression, wrt, shapes, order=2)
    assert second.proven
    assert second.text() == hvp
    assert second.hessian_text() == hessian


def _point(second, rng):
    sizes = {"m": 7, "n": 4, "k": 3}
    arrays = {
        name: rng.standard_normal(tuple(sizes[d] for d in var.shape))
        for name, var in second.first.variables.items()
    }
    direction = rng.standard_normal(tuple(sizes[d] for d in second.direction.shape))
    return arrays, direction


@pytest.mark.parametrize(("expression", "shapes", "wrt", "hvp", "hessian"), CASES, ids=[c[0] for c in CASES])
def test_generated_code_agrees_with_differences_of_the_gradient(expression, shapes, wrt, hvp, hessian):
    second = derive(expression, wrt, shapes, order=2, prove=False)
    arrays, V = _point(second, np.random.default_rng(0))
    gradient = second.first.function
    t = 1e-6
    plus = gradient(**{**arrays, wrt: arrays[wrt] + t * V})[1][wrt]
    minus = gradient(**{**arrays, wrt: arrays[wrt] - t * V})[1][wrt]
    value, products = second.function(**arrays, V=V)
    np.testing.assert_allclose(products[wrt], (plus - minus) / (2 * t), rtol=1e-6, atol=1e-6)
    assert value == pytest.approx(gradient(**arrays)[0])
    if hessian is not None:
        M = second.hessian_function(**arrays)[1][wrt]
        assert M.shape == (V.size, V.size)
        np.testing.assert_allclose(M, M.T, atol=1e-12)
        np.testing.assert_allclose(M @ V, products[wrt], rtol=1e-12, atol=1e-12)


def test_the_logistic_hessian_is_generated_without_an_n_by_n_diagonal():
    expression, shapes, wrt = LOGISTIC
    second = derive(expression, wrt, shapes, order=2, prove=False)
    assert "[:, None] * X" in second.hessian_code.source and "_np.diag" not in second.hessian_code.source


def test_a_wrong_second_derivative_is_refuted():
    """The proof differentiates the parsed expression itself: a σ′ dropped from H·V, or a
    Hessian off by a factor, is caught, symbolically and numerically."""
    expression, shapes, wrt = LOGISTIC
    second = derive(expression, wrt, shapes, order=2, prove=False)
    wrong = Mul((Const(2), second.hvp))
    variables = [*second.first.variables.values(), second.direction]
    code = generate(second.first.value, {"w": wrong}, variables, function_name="value_and_hvp")
    verdict = _prove(dataclasses.replace(second, hvp=wrong, code=code, hessian=None, hessian_code=None))
    assert not verdict.proven
    assert verdict.symbolic["hvp"].status == "NOT proven" and not verdict.numeric.passed
    hessian_code = generate(
        second.first.value,
        {"w": Mul((Const(2), second.hessian))},
        list(second.first.variables.values()),
        function_name="value_and_hessian",
    )
    verdict = _prove(dataclasses.replace(second, hessian_code=hessian_code))
    assert verdict.symbolic["hvp"].proven and verdict.symbolic["hessian"].status == "NOT proven"


def test_bad_input():
    with pytest.raises(ValueError, match="order must be 1"):
        derive("sqnorm(X)", "X", order=3)
    with pytest.raises(ExpressionError, match="one name"):
        derive("sqnorm(X @ W)", None, order=2, prove=False)


def test_matgrad_derive_hessian(capsys):
    expression, shapes, wrt = LOGISTIC
    declared = [f"{name}={shape}" for name, shape in shapes.items()]
    assert main(["derive", expression, *declared, "--wrt", wrt, "--hessian", "--latex"]) == 0
    out = capsys.readouterr().out
    assert "∂²f/∂w² = Xᵀdiag(S ⊙ (1 − S))X" in out and "proven" in out
    assert r"\operatorname{diag}" in out
    assert main(["derive", expression, *declared, "--wrt", wrt, "--hessian", "--json", "--no-proof"]) == 0
    assert json.loads(capsys.readouterr().out)["hessian"]["text"] == "Xᵀdiag(S ⊙ (1 − S))X"
    assert main(["derive", "sqnorm(X @ W)", "--hessian"]) == 2
