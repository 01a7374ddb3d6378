"""The engine's elementwise functions and norms: one test per property, over every function."""

from __future__ import annotations

import numpy as np
import pytest

from matgrad import derive, elementwise
from matgrad.engine import differentiate
from matgrad.engine.errors import ExpressionSyntaxError, ProofFailure

# name -> (an objective using it, the shapes, its printed gradient)
FUNCTIONS = {
    "abs": ("sum(abs(X @ w - y))", {"X": "n,k", "w": "k", "y": "n"}, "w", "Xᵀsign(Xw − y)"),
    "sign": ("sum(sign(x) * x)", {"x": "n"}, "x", "sign(x)"),
    "sqrt": ("sum(sqrt(x))", {"x": "n"}, "x", "1 ⊘ (2·√(x))"),
    "sin": ("sum(sin(x))", {"x": "n"}, "x", "cos(x)"),
    "cos": ("sum(cos(x))", {"x": "n"}, "x", "−sin(x)"),
    "tan": ("sum(tan(X))", {"X": "n,k"}, "X", "1 + tan(X)^⊙²"),
    "arcsin": ("sum(arcsin(x))", {"x": "n"}, "x", "(1 − x^⊙²)^⊙(−1/2)"),
    "arccos": ("sum(arccos(x))", {"x": "n"}, "x", "−1 ⊘ (1 − x^⊙²)^⊙(1/2)"),
    "arctan": ("sum(arctan(X @ w))", {"X": "n,k", "w": "k"}, "w", "Xᵀ(1 + (Xw)^⊙²)^⊙⁻¹"),
    "norm1": ("norm1(X)", {"X": "n,k"}, "X", "sign(X)"),
    "norm2": ("norm2(x - a)", {"x": "n", "a": "n"}, "x", "(x − a) / ‖x − a‖₂"),
}
NAMES = sorted(FUNCTIONS)


@pytest.mark.parametrize("name", NAMES)
def test_gradient_is_proven_and_printed(name):
    expression, shapes, wrt, text = FUNCTIONS[name]
    derivation = derive(expression, wrt, shapes)
    assert derivation.proven, derivation.proof.summary()
    assert derivation.text(wrt) == text


@pytest.mark.parametrize("name", NAMES)
def test_latex_parses(name):
    from latex2mathml.converter import convert

    expression, shapes, wrt, _ = FUNCTIONS[name]
    derivation = derive(expression, wrt, shapes, prove=False)
    convert(derivation.latex(wrt))
    convert(derivation.value_latex)


@pytest.mark.parametrize("name", NAMES)
def test_float32_stays_float32(name):
    expression, shapes, wrt, _ = FUNCTIONS[name]
    derivation = derive(expression, wrt, shapes, prove=False)
    sizes = {"n": 4, "k": 3}
    rng = np.random.default_rng(0)
    arrays = [
        rng.uniform(0.1, 0.3, tuple(sizes[d] for d in var.shape)).astype(np.float32)
        for var in derivation.variables.values()
    ]
    value, grads = derivation.function(*arrays)
    assert np.asarray(value).dtype == np.float32
    assert grads[wrt].dtype == np.float32


@pytest.mark.parametrize("name", ["abs", "sign", "sqrt", "sin", "cos", "tan", "arcsin", "arccos", "arctan"])
def test_object_arrays_agree_with_numbers(name):
    import sympy

    x = np.array([sympy.Rational(1, 5), sympy.Rational(-3, 10)], dtype=object)
    numbers = np.array([0.2, -0.3])
    function = getattr(elementwise, name)
    exact = np.array([float(sympy.N(e)) if e.is_real else np.nan for e in function(x)])
    with np.errstate(invalid="ignore"):
        np.testing.assert_allclose(exact, function(numbers), rtol=1e-12, equal_nan=True)


def test_a_wrong_derivative_fails_the_proof(monkeypatch):
    original = differentiate._derivative

    def wrong(node):  # the slip: cos′ = +sin
        if node.function == "cos":
            from matgrad.engine.nodes import Apply

            return Apply("sin", node.arg)
        return original(node)

    monkeypatch.setattr(differentiate, "_derivative", wrong)
    with pytest.raises(ProofFailure):
        derive("sum(cos(x))", "x", {"x": "n"})


@pytest.mark.parametrize("text", ["sqrt(x, x)", "norm1()", "sin x"])
def test_bad_calls_are_syntax_errors(text):
    with pytest.raises(ExpressionSyntaxError):
        derive(text, None, {"x": "n"}, prove=False)
