"""The generated numpy code is code one could ship: nothing computed twice, nothing computed
for nothing, no multiplications by one, safe in-place updates, float32 kept, correct numbers.

The code is read as Python (``ast``), for every worked example of the catalogue: the
gradient code of each example, and for the second-order ones the Hessian-vector product
code and the Hessian code.
"""

from __future__ import annotations

import ast
from collections import Counter
from fractions import Fraction
from functools import cache
from typing import Any

import numpy as np
import pytest

from matgrad.engine import derive
from matgrad.engine.catalogue import EXAMPLES, SECOND_ORDER, SEEDS, Example
from matgrad.engine.codegen import GeneratedCode, generate
from matgrad.engine.nodes import Const, MatMul, Mul, Sum, Trace, Transpose, Var
from matgrad.engine.proof import concrete_shapes, sample_arguments
from matgrad.testing import check_gradients

ALL = SEEDS + EXAMPLES + SECOND_ORDER
IDS = [example.title for example in ALL]

#: Calls that make views or convert arguments: repeating them costs nothing worth naming.
_VIEW_METHODS = {"ravel"}


@cache
def derived(example: Example) -> Any:
    return example.derive(prove=False)


def generated(example: Example) -> list[GeneratedCode]:
    """The gradient code, or the H·V code and (a vector argument) the Hessian code."""
    derivation = derived(example)
    if example.order == 1:
        return [derivation.code]
    return [derivation.code] + ([derivation.hessian_code] if derivation.hessian_code is not None else [])


def function_of(code: GeneratedCode) -> ast.FunctionDef:
    module = ast.parse(code.source)
    return next(n for n in module.body if isinstance(n, ast.FunctionDef) and n.name == code.function_name)


def statements(function: ast.FunctionDef) -> list[ast.stmt]:
    """The body in execution order, the branches of ``if`` flattened in."""
    flat: list[ast.stmt] = []
    for statement in function.body:
        if isinstance(statement, ast.If):
            flat += statement.body
        else:
            flat.append(statement)
    return flat


def target(statement: ast.Assign | ast.AugAssign) -> str:
    node = statement.targets[0] if isinstance(statement, ast.Assign) else statement.target
    assert isinstance(node, ast.Name), ast.unparse(statement)
    return node.id


def reads(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def dead_names(function: ast.FunctionDef) -> set[str]:
    """Names assigned whose values never reach the result (or the input checks)."""
    assignments = [s for s in statements(function) if isinstance(s, ast.Assign | ast.AugAssign)]
    live: set[str] = set()
    for statement in ast.walk(function):
        if isinstance(statement, ast.Return | ast.Expr | ast.If):
            live |= reads(statement.test if isinstance(statement, ast.If) else statement)
    grown = True
    while grown:
        before = len(live)
        for statement in assignments:
            if target(statement) in live:
                live |= reads(statement) | {target(statement)}
        grown = len(live) > before
    return {target(s) for s in assignments} - live


def nontrivial(node: ast.AST) -> bool:
    """An operation that computes something: arithmetic, a matrix product, a function call.

    Not: a name, a constant, an attribute (``X.T``, ``X.shape``), a subscript, a
    negated constant, a view (``R.ravel()``).
    """
    if isinstance(node, ast.BinOp):
        return True
    if isinstance(node, ast.UnaryOp):
        return not isinstance(node.operand, ast.Constant)
    if isinstance(node, ast.Call):
        return not (isinstance(node.func, ast.Attribute) and node.func.attr in _VIEW_METHODS)
    return False


def computed_expressions(function: ast.FunctionDef) -> list[str]:
    """Every non-trivial expression evaluated, its names versioned by assignment.

    ``t += e`` evaluates ``t + e`` and makes a new version of t, so ``t * x`` before and
    after it are different computations (single static assignment, as a compiler sees it).
    """
    version: Counter[str] = Counter()

    class Versioned(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.AST:
            return ast.Name(id=f"{node.id}#{version[node.id]}", ctx=ast.Load())

    def render(node: ast.AST) -> str:
        return ast.dump(Versioned().visit(ast.parse(ast.unparse(node), mode="eval").body))

    found: list[str] = []

    def collect(expression: ast.AST) -> None:
        found.extend(render(n) for n in ast.walk(expression) if nontrivial(n))

    for statement in statements(function):
        if isinstance(statement, ast.Assign):
            collect(statement.value)
            version[target(statement)] += 1
        elif isinstance(statement, ast.AugAssign):
            name = ast.Name(id=target(statement), ctx=ast.Load())
            collect(ast.BinOp(left=name, op=statement.op, right=statement.value))
            version[target(statement)] += 1
        elif isinstance(statement, ast.Return) and statement.value is not None:
            collect(statement.value)
    return found


def is_one(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return node.value == 1
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in {"ones", "ones_like"}
    )


def products_by_one(function: ast.FunctionDef) -> list[str]:
    found = []
    for node in ast.walk(function):
        product = isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult)
        if product and (is_one(node.left) or is_one(node.right)):
            found.append(ast.unparse(node))
        if isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Mult) and is_one(node.value):
            found.append(ast.unparse(node))
    return found


def unsafe_in_place_updates(function: ast.FunctionDef) -> list[str]:
    """In-place updates of a name not bound to a fresh array of its own.

    A name updated in place must come from an operation (not another name, a transpose,
    a slice or a view), be updated right after it is bound, and no other name may have
    been bound to it.
    """
    found = []
    fresh: set[str] = set()
    previous: ast.stmt | None = None
    for statement in statements(function):
        if isinstance(statement, ast.Assign):
            value = statement.value
            makes_view = isinstance(value, ast.Name | ast.Attribute | ast.Subscript) or (
                isinstance(value, ast.Call) and not nontrivial(value)
            )
            fresh.discard(target(statement))
            if not makes_view:
                fresh.add(target(statement))
            if isinstance(value, ast.Name):
                fresh.discard(value.id)
        elif isinstance(statement, ast.AugAssign):
            name = target(statement)
            chained = isinstance(previous, ast.Assign | ast.AugAssign) and target(previous) == name
            if name not in fresh or not chained or name in function_parameters(function):
                found.append(ast.unparse(statement))
        previous = statement
    return found


def function_parameters(function: ast.FunctionDef) -> set[str]:
    return {a.arg for a in function.args.args}


@pytest.mark.parametrize("example", ALL, ids=IDS)
def test_generated_code_assigns_no_temporary_it_never_reads(example):
    for code in generated(example):
        assert dead_names(function_of(code)) == set(), code.source


@pytest.mark.parametrize("example", ALL, ids=IDS)
def test_generated_code_computes_every_subexpression_once(example):
    for code in generated(example):
        counts = Counter(computed_expressions(function_of(code)))
        repeated = [expression for expression, count in counts.items() if count > 1]
        assert repeated == [], code.source


@pytest.mark.parametrize("example", ALL, ids=IDS)
def test_generated_code_never_multiplies_by_one(example):
    for code in generated(example):
        assert products_by_one(function_of(code)) == [], code.source


@pytest.mark.parametrize("example", ALL, ids=IDS)
def test_generated_code_updates_only_its_own_fresh_arrays_in_place(example):
    for code in generated(example):
        assert unsafe_in_place_updates(function_of(code)) == [], code.source


def sample(example: Example, dtype: Any, seed: int = 0) -> dict[str, np.ndarray]:
    """Arrays of distinct sizes (3, 4, …) for the example's arguments (and direction V)."""
    code = generated(example)[0]
    derivation = derived(example)
    first = derivation if example.order == 1 else derivation.first
    arguments = list(first.variables.values())
    if example.order == 2:
        arguments.append(derivation.direction)
    shapes = concrete_shapes(arguments, range(3, 3 + 2 * len(arguments)))
    rng = np.random.default_rng(seed)
    # in the expression's domain (positive under a log, symmetric where declared, ...), as the proofs draw
    arrays = sample_arguments(first.tree, list(first.variables.values()), shapes, rng)
    if example.order == 2:
        arrays[derivation.direction.name] = rng.standard_normal(shapes[derivation.direction.name])
    assert tuple(arrays) == code.arguments
    return {name: array.astype(dtype) for name, array in arrays.items()}


@pytest.mark.parametrize("example", ALL, ids=IDS)
def test_float32_in_float32_out(example):
    for code in generated(example):
        arrays = sample(example, np.float32)
        arguments = {name: arrays[name] for name in code.arguments}
        value, results = code.compile()(**arguments)
        assert np.asarray(value).dtype == np.float32, code.source
        for name, result in results.items():
            assert result.dtype == np.float32, (name, code.source)


@pytest.mark.parametrize("example", ALL, ids=IDS)
def test_generated_results_are_right_and_never_alias_inputs_or_each_other(example):
    """Gradients against central differences of the value (H·V against central differences
    of ⟨∇f, V⟩, the Hessian M against H·V); inputs unchanged, results of their own memory."""
    derivation = derived(example)
    arrays = sample(example, np.float64)
    copies = {name: array.copy() for name, array in arrays.items()}
    first = derivation if example.order == 1 else derivation.first
    gradient_code = first.code.compile()
    names = list(first.variables)
    wrt = first.wrt if example.order == 1 else (derivation.wrt,)

    symmetric = {v.name for v in first.variables.values() if v.structure}

    def on_symmetric(a: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        # a symmetric argument moves along symmetric directions only: f((B + Bᵀ)/2)
        return {name: (x + x.T) / 2 if name in symmetric else x for name, x in a.items()}

    def value(**a: np.ndarray) -> Any:
        return gradient_code(**on_symmetric({name: a[name] for name in names}))[0]

    if example.order == 1:
        report = check_gradients(
            value, lambda **a: gradient_code(**on_symmetric(a))[1], arrays, wrt=wrt, timeout=None
        )
        assert report.passed, str(report)
        outputs = [gradient_code(**arrays)]
    else:
        x, v = derivation.wrt, derivation.direction.name
        hvp = derivation.code.compile()

        def inner(**a: np.ndarray) -> Any:
            gradient = gradient_code(**{name: a[name] for name in names})[1][x]
            return float(np.sum(gradient * a[v]))

        report = check_gradients(inner, lambda **a: hvp(**a)[1], arrays, wrt=(x,), timeout=None)
        assert report.passed, str(report)
        outputs = [hvp(**arrays)]
        if derivation.hessian_code is not None:
            hessian = derivation.hessian_code.compile()(**{name: arrays[name] for name in names})
            product = (hessian[1][x] @ arrays[v].reshape(-1)).reshape(arrays[v].shape)
            np.testing.assert_allclose(product, outputs[0][1][x], rtol=1e-9, atol=1e-9)
            outputs.append(hessian)
    for value_, results in outputs:
        np.testing.assert_allclose(value_, value(**arrays), rtol=1e-12)
        for name, array in arrays.items():
            np.testing.assert_array_equal(array, copies[name])
            assert not any(np.shares_memory(result, array) for result in results.values()), name
        for a, b in [(a, b) for a in results for b in results if a < b]:
            assert not np.shares_memory(results[a], results[b]), (a, b)


_NETWORK = {"X": "n,d", "W1": "d,h", "b1": "h", "W2": "h,h", "W3": "h,o", "Y": "n,o"}
OTHERS = [
    (
        "sqnorm(tanh(tanh(X @ W1 + b1) @ W2) @ W3 - Y) + sum(softplus(X @ W1) * sigmoid(X @ W1))",
        _NETWORK,
        None,
    ),
    ("sqnorm(tanh(tanh(X @ W1 + b1) @ W2) @ W3 - Y) + sqnorm(W1) * sqnorm(W2)", _NETWORK, 2),
    (
        "sum(exp(1 / X)) + sum(X * Y * Z) - sum(X * Y) + sum(-X - Y)",
        {"X": "n,k", "Y": "n,k", "Z": "n,k"},
        None,
    ),
]


@pytest.mark.parametrize(("expression", "shapes", "order"), OTHERS)
def test_the_code_of_larger_expressions_is_as_clean(expression, shapes, order):
    """Deeper networks, products sharing factors, constant arrays: the same four properties."""
    derivation = derive(expression, "W1" if order else None, shapes, prove=False, order=order or 1)
    function = function_of(derivation.code)
    assert dead_names(function) == set(), derivation.code.source
    assert [e for e, c in Counter(computed_expressions(function)).items() if c > 1] == []
    assert products_by_one(function) == [] and unsafe_in_place_updates(function) == []
    assert "_np.ones" not in derivation.code.source  # X − 𝟏 is X − 1


def test_results_that_are_views_of_one_array_are_copied():
    """A gradient and the transpose of the same array (or an input) are returned as copies."""
    X, W = Var("X", ("n", "k")), Var("W", ("k", "n"))
    product = MatMul((X, W))
    code = generate(Trace(product), {"X": product, "W": Transpose(product), "V": Transpose(X)}, [X, W])
    rng = np.random.default_rng(2)
    arrays = {"X": rng.standard_normal((3, 2)), "W": rng.standard_normal((2, 3))}
    _, results = code.compile()(**arrays)
    assert not np.shares_memory(results["X"], results["W"])
    assert not np.shares_memory(results["V"], arrays["X"])
    np.testing.assert_array_equal(results["W"], (arrays["X"] @ arrays["W"]).T)


@pytest.mark.parametrize(
    ("expression", "shapes"),
    [
        ("sum(X)", {"X": "n,k"}),  # 𝟏ₙₖ
        ("trace(2 * X) + sum(X @ X)", {"X": "n,n"}),  # 2I, 𝟏ₙₙ
        ("sum(3 * X) + 0.25 * sum(X)", {"X": "n,k"}),  # a constant array 13/4
        ("sum(X ** 0.5) / 3 + norm(X)", {"X": "n,k"}),  # fractional powers of arrays and scalars
        ("log(sum(exp(X)))", {"X": "n,k"}),  # a function of a scalar
    ],
)
def test_constants_take_the_arguments_dtype(expression, shapes):
    """float32 in, float32 out, also for constant arrays, identities and fractions."""
    function = derive(expression, None, shapes, prove=False).function
    X = np.abs(np.random.default_rng(1).standard_normal((3, 3))) + 0.5
    value, grads = function(X.astype(np.float32))
    value64, grads64 = function(X)
    assert np.asarray(value).dtype == np.float32 and grads["X"].dtype == np.float32
    np.testing.assert_allclose(value, value64, rtol=1e-5)
    np.testing.assert_allclose(grads["X"], grads64["X"], rtol=1e-5)


def test_the_issue_example_is_computed_as_by_hand():
    """softplus(Xw) − y ⊙ Xw and Xᵀ(σ(Xw) − y), with Xw computed once (the example of the issue)."""
    derivation = derive(
        "sum(softplus(X @ w) - y * (X @ w))", "w", {"X": "n,k", "w": "k", "y": "n"}, prove=False
    )
    function = function_of(derivation.code)
    computed = [ast.unparse(n) for n in ast.walk(function) if nontrivial(n)]
    assert computed.count("X @ w") == 1
    assert not any("y" in line and "1" in line.split("=")[-1] for line in computed if "*" in line)


def test_an_all_ones_factor_is_dropped_only_where_broadcasting_gives_the_shape():
    """y ⊙ 𝟏ₙ is y (returned as a copy, not the input); λ𝟏ₙₖ must stay an (n, k) array."""
    X, y, lam = Var("X", ("n", "k")), Var("y", ("n",)), Var("lam", ())
    same = Mul((y, Const(Fraction(1), ("n",))))
    larger = Mul((lam, Const(Fraction(1), ("n", "k"))))
    code = generate(Sum(Mul((X, larger))), {"y": same, "X": larger}, [X, y, lam])
    assert "ones((X.shape[0],)" not in code.source
    arrays = {"X": np.ones((3, 2), np.float32), "y": np.arange(3, dtype=np.float32), "lam": np.float32(2)}
    value, grads = code.compile()(**arrays)
    np.testing.assert_array_equal(grads["y"], arrays["y"])
    assert not np.shares_memory(grads["y"], arrays["y"])
    np.testing.assert_array_equal(grads["X"], np.full((3, 2), 2, np.float32))
    assert grads["X"].dtype == np.float32 and value == 12


def test_generated_code_checks_its_inputs_like_the_registry():
    """The argument, the shape received, the shape expected from the sizes bound so far."""
    derivation = derive("sqnorm(X @ W + b)", None, {"X": "n,k", "W": "k,m", "b": "m"}, prove=False)
    ones = np.ones
    with pytest.raises(
        ValueError, match=r"^b must be a 1-D array of shape \(4,\); got a 2-D array of shape \(3, 4\)$"
    ):
        derivation.function(ones((3, 2)), ones((2, 4)), np.zeros((3, 4)))
    with pytest.raises(
        ValueError,
        match=r"^b has shape \(3,\) but W has 4 columns \(shape \(2, 4\)\): they disagree on size m; "
        r"b must be \(4,\) to fit W, or W must have 3 columns to fit b$",
    ):
        derivation.function(ones((3, 2)), ones((2, 4)), np.zeros(3))
