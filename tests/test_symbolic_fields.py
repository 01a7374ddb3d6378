"""Exact equality of rational functions (determinants, inverses) and the proofs that rely on it."""

from __future__ import annotations

import numpy as np
import pytest
import sympy

from matgrad.engine.runtime import det, inv
from matgrad.symbolic import check_function
from matgrad.symbolic.fields import NotRational, RationalFunctions

x, y, z = sympy.symbols("x y z")


@pytest.fixture
def field() -> RationalFunctions:
    return RationalFunctions([x, y, z])


def test_equal_rational_functions_written_differently_are_equal(field):
    assert field.equal(field((x**2 - y**2) / (x - y)), field(x + y))
    assert field.equal(field(sympy.Rational(1, 2) * x / (2 * y)), field(x / (4 * y)))
    assert field.equal(field(1 / x + 1 / y), field((x + y) / (x * y)))


def test_different_rational_functions_are_not_equal(field):
    assert not field.equal(field(x / y), field(y / x))
    assert not field.equal(field(1 / (x + y)), field(1 / x + 1 / y))
    assert not field.equal(field((x + y) / z), field((x + y + 1) / z))


def test_the_derivative_is_the_quotient_rule(field):
    f = (x + y) / (x - y)
    assert field.equal(field.derivative(field(f), x), field(sympy.diff(f, x)))
    assert not field.equal(field.derivative(field(f), x), field(sympy.diff(f, y)))
    assert field.equal(field.derivative(field(x**3 * y), x), field(3 * x**2 * y))


@pytest.mark.parametrize(
    "expression",
    [sympy.log(x), sympy.sqrt(x), sympy.Float(0.5) * x, x ** sympy.Rational(1, 3), sympy.exp(y)],
    ids=["log", "sqrt", "float", "cube root", "exp"],
)
def test_what_is_not_a_rational_function_with_rational_coefficients_is_refused(field, expression):
    with pytest.raises(NotRational):
        field(expression)


def test_division_by_an_expression_that_is_zero_is_refused(field):
    zero = (x + y) ** 2 - x**2 - 2 * x * y - y**2  # sympy keeps it unexpanded
    assert zero != 0
    with pytest.raises(NotRational, match="divides by zero"):
        field(1 / zero)


def test_symbols_outside_the_field_are_refused(field):
    with pytest.raises(NotRational, match="not one of"):
        field(x + sympy.Symbol("w"))


def _det_value(X):
    return det(X)


@pytest.mark.parametrize("n", [2, 3])
def test_det_gradient_is_proven_at_2x2_and_3x3(n):
    verdict = check_function(_det_value, lambda X: det(X) * inv(X).T, {"X": (n, n)}, "X")
    assert verdict.proven, verdict


@pytest.mark.parametrize(
    "wrong",
    [lambda X: det(X) * inv(X), lambda X: inv(X).T, lambda X: det(X) * inv(X).T + 0 * X + np.eye(3)],
    ids=["missing transpose", "missing det(X)", "plus identity"],
)
def test_a_wrong_det_gradient_is_refuted_at_3x3_with_a_counterexample(wrong):
    verdict = check_function(_det_value, wrong, {"X": (3, 3)}, "X")
    assert not verdict.proven
    assert verdict.counterexample is not None
    assert verdict.counterexample.candidate_value != pytest.approx(verdict.counterexample.expected_value)


def test_an_inverse_gradient_off_by_a_transpose_is_refuted():
    def value(A, X, B):
        return np.trace(A @ inv(X) @ B)

    def wrong(A, X, B):
        Xi = inv(X)
        return -Xi @ A.T @ B.T @ Xi  # the Cookbook's (63) is −X⁻ᵀAᵀBᵀX⁻ᵀ

    def right(A, X, B):
        Xi = inv(X).T
        return -Xi @ A.T @ B.T @ Xi

    shapes = {"A": (3, 3), "X": (3, 3), "B": (3, 3)}
    assert check_function(value, right, shapes, "X").proven
    assert not check_function(value, wrong, shapes, "X").proven


def test_denominators_that_differ_in_sign_or_content_are_one_factor(field):
    assert field.equal(field(1 / (x - y) + 1 / (y - x)), field(sympy.Integer(0)))
    assert field.equal(field(1 / (2 * x + 2 * y) - 1 / (x + y)), field(-1 / (2 * (x + y))))
    assert field.equal(field(1 / (x * y) + 1 / (x * y) ** 2), field((x * y + 1) / (x * y) ** 2))


def _random_rational(rng: np.random.Generator, depth: int) -> sympy.Expr:
    if depth == 0:
        return [x, y, z, sympy.Integer(int(rng.integers(-3, 4))), sympy.Rational(1, 2)][rng.integers(5)]
    a, b = _random_rational(rng, depth - 1), _random_rational(rng, depth - 1)
    operation = rng.integers(4)
    if operation == 3 and b != 0:
        return a / b
    return [a + b, a - b, a * b, a * b][operation]


def test_equality_agrees_with_sympys_cancel_on_random_rational_functions(field):
    rng = np.random.default_rng(0)
    agreed = {True: 0, False: 0}
    for _ in range(300):
        first, second = _random_rational(rng, 3), _random_rational(rng, 3)
        second = second if rng.integers(3) else first + (x - x)  # equal pairs, too
        if rng.integers(2):
            second = sympy.together(first) if rng.integers(2) else sympy.expand(first)
        truth = sympy.cancel(first - second) == 0
        try:
            assert field.equal(field(first), field(second)) == truth, (first, second)
        except NotRational:  # a division by an expression that vanishes
            continue
        agreed[truth] += 1
    assert min(agreed.values()) > 20  # both answers were exercised


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_the_references_determinant_and_inverse_are_sympys(n):
    from matgrad.engine.to_sympy import cramer_inverse, leibniz_det

    entries = np.array(sympy.symbols(f"a:{n * n}"), dtype=object).reshape(n, n)
    matrix = sympy.Matrix(entries.tolist())
    assert sympy.expand(leibniz_det(entries) - matrix.det()) == 0
    assert sympy.simplify(sympy.Matrix(cramer_inverse(entries).tolist()) - matrix.inv()) == sympy.zeros(n, n)
