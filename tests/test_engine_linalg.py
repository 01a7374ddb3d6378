"""Determinants, inverses, diagonals and symmetric arguments in the derivation engine."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matgrad import derive
from matgrad.engine import differentiate
from matgrad.engine.errors import ExpressionError, ProofFailure, ShapeError, TooComplexError
from matgrad.engine.nodes import Inverse
from matgrad.engine.parser import parse

SQUARE = {"X": "n,n", "A": "n,n"}


def _spd(rng: np.random.Generator, n: int) -> np.ndarray:
    B = rng.standard_normal((n, n))
    return B @ B.T / n + np.eye(n)


def _symmetric_direction(rng: np.random.Generator, n: int) -> np.ndarray:
    E = rng.standard_normal((n, n))
    return E + E.T


@pytest.mark.parametrize(
    ("expression", "shapes", "wrt", "text"),
    [
        ("logdet(X)", SQUARE, "X", "X⁻ᵀ"),
        ("det(X)", SQUARE, "X", "det(X)·X⁻ᵀ"),
        ("trace(inv(X) @ A)", SQUARE, "X", "−X⁻ᵀAᵀX⁻ᵀ"),
        ("sum(diag(X) * diag(A))", SQUARE, "X", "diag(diag(A))"),
        ("sum(diag(X))", SQUARE, "X", "Iₙ"),
        ("trace(X @ eye(n)) + sum(ones(n) * diag(X))", SQUARE, "X", "2Iₙ"),
        ("logdet(S)", {"S": "n,n:spd"}, "S", "S⁻¹"),
        ("trace(A @ S)", {"A": "n,n", "S": "n,n:symmetric"}, "S", "(Aᵀ + A) / 2"),
        # the Rayleigh quotient's gradient in one fraction, and its other terms over the common denominator
        ("(x @ S @ x) / (x @ x)", {"x": "n", "S": "n,n:symmetric"}, "x", "2((xᵀx)·Sx − (xᵀSx)·x) / (xᵀx)²"),
        (
            "1 / sum(x) + sum(x * x) / sum(x) ** 2",
            {"x": "n"},
            "x",
            "(2sum(x)·x + (−2sum(x^⊙²) − sum(x))·1ₙ) / sum(x)³",
        ),
    ],
)
def test_linear_algebra_is_derived_proven_and_printed(expression, shapes, wrt, text):
    derivation = derive(expression, wrt, shapes)
    assert derivation.proven, derivation.proof.summary()
    assert derivation.text(wrt) == text


@pytest.mark.parametrize("n", [3, 5])
def test_symmetric_gradient_matches_finite_differences_along_symmetric_directions(n):
    """⟨∇, E⟩ is the rate of change along a symmetric E; G + Gᵀ − G ⊙ I is not."""
    rng = np.random.default_rng(n)
    derivation = derive("logdet(S) + trace(inv(S) @ C)", "S", {"S": "d,d:spd", "C": "d,d:symmetric"})
    S, C = _spd(rng, n), _spd(rng, n)
    _, grads = derivation.function(S, C)
    E = _symmetric_direction(rng, n)
    h = 1e-6
    rate = (derivation.function(S + h * E, C)[0] - derivation.function(S - h * E, C)[0]) / (2 * h)
    assert np.isclose(np.sum(grads["S"] * E), rate, rtol=1e-6)
    np.testing.assert_allclose(grads["S"], grads["S"].T)
    coordinates = 2 * grads["S"] - grads["S"] * np.eye(n)  # the "G + Gᵀ − G ⊙ I" of many texts
    assert not np.isclose(np.sum(coordinates * E), rate, rtol=1e-3)


def test_the_prover_refutes_the_coordinate_formula_for_a_symmetric_argument():
    from matgrad.engine.to_sympy import to_sympy
    from matgrad.symbolic import check_function

    tree = parse("logdet(S)", {"S": "n,n:symmetric"}).tree

    def coordinates(S):
        from matgrad.engine.runtime import inv

        G = inv(S).T
        return G + G.T - G * np.eye(len(S), dtype=int)

    verdict = check_function(
        lambda S: to_sympy(tree, {"S": S}), coordinates, {"S": (2, 2)}, "S", symmetric=["S"]
    )
    assert not verdict.proven and verdict.counterexample is not None
    right = check_function(
        lambda S: to_sympy(tree, {"S": S}), lambda S: _exact_inverse(S), {"S": (3, 3)}, "S", symmetric=["S"]
    )
    assert right.proven


def _exact_inverse(S):
    from matgrad.engine.runtime import inv

    return inv(S)


def test_a_wrong_inverse_rule_fails_its_proof(monkeypatch):
    def no_minus(node, G, needed):  # the slip: d(A⁻¹) = +A⁻¹ dA A⁻¹
        from matgrad.engine.nodes import MatMul, Transpose

        return [(0, MatMul((Transpose(node), G, Transpose(node))))]

    monkeypatch.setitem(differentiate.VJP.rules, Inverse, no_minus)
    with pytest.raises(ProofFailure):
        derive("trace(inv(X) @ A)", "X", SQUARE)


def test_generated_code_solves_instead_of_inverting():
    """An inverse used once is a solve; one the gradients share is computed once (and is then inv)."""
    from matgrad.engine.codegen import generate
    from matgrad.engine.nodes import variables

    tree = parse(
        "a @ inv(X) @ b + sum(inv(Y) @ B) + c @ inv(Z)",
        {**{k: "n,n" for k in "XYZ"}, **{k: "n" for k in "abc"}, "B": "n,k"},
    ).tree
    code = generate(tree, {}, list(variables(tree).values()), function_name="value")
    assert "_inv(" not in code.source and code.source.count("_solve(") == 3
    rng = np.random.default_rng(0)
    arrays = {k: rng.standard_normal((4, 4)) + 4 * np.eye(4) for k in "XYZ"}
    arrays |= {k: rng.standard_normal(4) for k in "abc"} | {"B": rng.standard_normal((4, 2))}
    inverse = {k: np.linalg.inv(arrays[k]) for k in "XYZ"}
    expected = arrays["a"] @ inverse["X"] @ arrays["b"] + np.sum(inverse["Y"] @ arrays["B"])
    expected = expected + arrays["c"] @ inverse["Z"]
    np.testing.assert_allclose(code.compile()(**arrays)[0], expected)


def test_float32_stays_float32_through_determinants_and_inverses():
    derivation = derive("logdet(X) + trace(inv(X) @ A)", "X,A", SQUARE)
    rng = np.random.default_rng(1)
    X = (_spd(rng, 4)).astype(np.float32)
    A = rng.standard_normal((4, 4)).astype(np.float32)
    value, grads = derivation.function(X, A)
    assert np.asarray(value).dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.values())


def test_logdet_of_a_matrix_without_positive_determinant_is_an_error():
    derivation = derive("logdet(X)", "X", {"X": "n,n"})
    with pytest.raises(ValueError, match="determinant is not positive"):
        derivation.function(-np.eye(3))


def test_declared_structure_is_checked_at_call_time():
    derivation = derive("logdet(S)", "S", {"S": "n,n:spd"})
    with pytest.raises(ValueError, match="S is declared spd but is not symmetric"):
        derivation.function(np.array([[2.0, 1.0], [0.0, 2.0]]))
    with pytest.raises(ValueError, match="not positive definite"):
        derivation.function(np.array([[1.0, 2.0], [2.0, 1.0]]))


@pytest.mark.parametrize(
    ("expression", "shapes", "message"),
    [
        ("det(X)", {"X": "n,k"}, "det needs a square matrix"),
        ("logdet(X)", {"X": "n,k"}, "logdet needs a square matrix"),
        ("inv(x)", {"x": "n"}, "inv needs a square matrix"),
        ("sum(diag(X))", {"X": "n,k"}, "diag needs a square matrix"),
        ("trace(eye(m)) + sum(X)", {"X": "n,n"}, "size m is not a size of any argument"),
        ("sum(ones(X) * X)", {"X": "n,n"}, None),
        ("logdet(S)", {"S": "n,n:diagonal"}, "unknown structure"),
        ("sum(S)", {"S": "n,k:symmetric"}, "must be square"),
        ("eye(n, n)", {"X": "n,n"}, "eye takes one size"),
    ],
)
def test_bad_linear_algebra_input_is_an_expression_error(expression, shapes, message):
    with pytest.raises(ExpressionError) as raised:
        parse(expression, shapes)
    if message is not None:
        assert message in str(raised.value)
    if isinstance(raised.value, ShapeError) and raised.value.start is not None:
        assert raised.value.text == expression


def test_second_order_with_a_symmetric_argument_and_refused_with_respect_to_one():
    second = derive("x @ W @ x", "x", {"x": "n", "W": "n,n:symmetric"}, order=2)
    assert second.proven and second.hessian_text() == "2W"
    with pytest.raises(ExpressionError, match="declared spd, is not supported"):
        derive("logdet(S)", "S", {"S": "n,n:spd"}, order=2)


# -- fuzzing the linear-algebra grammar: only documented errors, no hang, correct gradients ----

LINALG_TOKENS = ["A", "B", "x", "(", ")", "@", "+", "-", "*", ".T", "2", ",", "n", "3", ":"]
LINALG_TOKENS += [f"{f}(" for f in ("det", "logdet", "inv", "diag", "eye", "ones", "trace", "sum")]
# the rest of the language this issue added: reductions with keywords, elementwise functions
LINALG_TOKENS += ["axis=", "keepdims=", "=", "True", "-1", "1"]
LINALG_TOKENS += [f"{f}(" for f in ("mean", "logsumexp", "softmax", "abs", "sign", "sqrt", "arcsin", "norm1")]
LINALG_SHAPES = {"A": "n,n", "B": "n,n", "S": "n,n:symmetric", "x": "n"}
SQUARE_LEAVES = ["A", "B", "S", "A @ B", "A + eye(n)", "diag(x)", "A.T", "S @ A"]
SQUARE_UNARY = ["inv({})", "({}).T", "({}) @ A", "2 * ({})", "({}) + eye(n)", "diag(diag({}))"]
LINALG_SCALARS = ["trace({})", "det({})", "sum({})", "x @ ({}) @ x", "sum(diag({}))"]
FUZZ = settings(
    max_examples=60, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def square_matrices() -> st.SearchStrategy[str]:
    return st.recursive(
        st.sampled_from(SQUARE_LEAVES),
        lambda inner: st.one_of(
            st.tuples(st.sampled_from(SQUARE_UNARY), inner).map(lambda t: t[0].format(t[1])),
            st.tuples(inner, inner).map(lambda t: f"({t[0]}) + ({t[1]})"),
            st.tuples(inner, inner).map(lambda t: f"({t[0]}) @ ({t[1]})"),
        ),
        max_leaves=4,
    )


def linalg_objectives() -> st.SearchStrategy[str]:
    return st.tuples(st.sampled_from(LINALG_SCALARS), square_matrices()).map(lambda t: t[0].format(t[1]))


@FUZZ
@given(st.lists(st.sampled_from(LINALG_TOKENS), max_size=25).map("".join))
def test_random_linear_algebra_text_raises_only_documented_errors(text):
    with _time_limit():
        try:
            derivation = derive(text, None, LINALG_SHAPES, prove=False)
        except ExpressionError:
            return
    assert derivation.gradients


@FUZZ
@given(linalg_objectives(), st.integers(0, 2**32 - 1))
def test_random_linear_algebra_trees_have_correct_gradients(text, seed):
    """Generated gradients agree with central differences (symmetric S along symmetric directions)."""
    from matgrad.engine.codegen import generate
    from matgrad.testing import check_gradients

    with _time_limit():
        derivation = derive(text, None, LINALG_SHAPES, prove=False)
    variables = list(derivation.variables.values())
    reference = generate(derivation.tree, {}, variables, function_name="value").compile()
    rng = np.random.default_rng(seed)
    n = 3
    arrays = {}
    for var in variables:
        if var.shape == ("n",):
            arrays[var.name] = rng.standard_normal(n)
        else:
            noise = 0.3 * rng.standard_normal((n, n))
            arrays[var.name] = 2 * np.eye(n) + (noise + noise.T if var.structure else noise)

    def symmetrize(a):
        return {k: (v + v.T) / 2 if k == "S" else v for k, v in a.items()}

    report = check_gradients(
        lambda **a: reference(**symmetrize(a))[0],
        lambda **a: derivation.function(**symmetrize(a))[1],
        arrays,
        tolerance=1e-5,
    )
    assert report.passed, (text, {k: str(g) for k, g in derivation.gradients.items()})


def _time_limit(seconds: int = 20):
    import signal
    from contextlib import contextmanager

    @contextmanager
    def limit():
        def hang(signum, frame):
            raise TimeoutError("the engine hung on a fuzzing example")

        previous = signal.signal(signal.SIGALRM, hang)
        signal.alarm(seconds)
        try:
            yield
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)

    return limit()


@settings(max_examples=8, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(linalg_objectives())
def test_random_linear_algebra_trees_are_proven_or_refused_within_budget(text):
    """Every answer is proven; a proof out of budget is refused (TooComplexError), never printed as proven."""
    try:
        derivation = derive(text, None, LINALG_SHAPES)
    except TooComplexError:
        return
    assert derivation.proven, text


REDUCTIONS = ["sum(logsumexp({}, axis=1))", "sum(softmax({}, axis=0) * A)", "mean(abs({}))", "norm1({})"]


@settings(max_examples=6, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.tuples(st.sampled_from(REDUCTIONS), square_matrices()).map(lambda t: t[0].format(t[1])))
def test_random_trees_with_reductions_are_proven_or_refused_within_budget(text):
    try:
        derivation = derive(text, None, LINALG_SHAPES)
    except TooComplexError:
        return
    assert derivation.proven, text
