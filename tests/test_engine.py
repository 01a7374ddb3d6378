"""The derivation engine against the registry, its catalogue, its code and its own proofs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy

from matgrad.cli import main
from matgrad.engine import ProofFailure, derive
from matgrad.engine import differentiate as differentiate_module
from matgrad.engine.catalogue import EXAMPLES, SECOND_ORDER, SEEDS, everything, render, seed_example
from matgrad.engine.codegen import PYTHON
from matgrad.engine.cookbook import COOKBOOK, cookbook_examples
from matgrad.engine.differentiate import VJP
from matgrad.engine.hessian import LINEAR_MAP
from matgrad.engine.latex import PRINT
from matgrad.engine.simplify import RULES
from matgrad.engine.to_sympy import SYMPY, to_sympy
from matgrad.registry import OBJECTIVES
from matgrad.symbolic import symbol_arrays

DOCUMENT = Path(__file__).parents[1] / "derivations" / "engine.md"
BIAS_KINDS = ("full", "row", "vector")


@pytest.fixture(scope="session")
def catalogue():
    """Every seed and catalogue example, derived and proven once for the session."""
    return {example: example.derive() for example in everything()}


def registry_cases():
    return [pytest.param(o, kind, id=f"{o.id}-{kind}") for o in OBJECTIVES for kind in BIAS_KINDS]


@pytest.mark.parametrize(("objective", "kind"), registry_cases())
def test_seed_gradients_print_as_the_registry_writes_them(objective, kind):
    derivation = seed_example(objective, kind).derive(prove=False)
    for name in objective.arguments:
        gradient = objective.gradients[name]
        expected = gradient.row_text if kind != "full" and gradient.row_text else gradient.text
        assert derivation.text(name) == expected, name
    for name, definition in derivation.where():
        assert f"{name if name != 'Delta' else 'Δ'} = {definition}" in objective.where_text


@pytest.mark.parametrize("objective", OBJECTIVES, ids=lambda o: o.id)
def test_seed_gradients_are_proven_equal_to_the_registry_code(objective):
    """The engine's gradient trees, translated to sympy, equal the registry's code run on symbols."""
    derivation = seed_example(objective, "row").derive(prove=False)
    sizes = objective.sample_sizes[2]
    shapes = objective.signature.shapes(sizes, "row")
    arrays = symbol_arrays(shapes)
    _, expected = objective.evaluate(arrays)
    for name in objective.arguments:
        ours = np.asarray(to_sympy(derivation.gradients[name], arrays), dtype=object)
        assert ours.shape == expected[name].shape, name
        difference = [sympy.expand(a - b) for a, b in zip(ours.flat, expected[name].flat, strict=True)]
        assert all(d == 0 for d in difference), name


@pytest.mark.parametrize("example", SEEDS + EXAMPLES, ids=lambda e: e.title)
def test_every_example_is_derived_and_proven(catalogue, example):
    derivation = catalogue[example]
    assert derivation.proven is True
    assert set(derivation.proof.symbolic) == set(derivation.wrt)
    assert derivation.proof.numeric is not None and derivation.proof.numeric.passed


@pytest.mark.parametrize("example", SECOND_ORDER, ids=lambda e: e.title)
def test_every_second_order_example_is_derived_and_proven(catalogue, example):
    second = catalogue[example]
    assert second.proven is True and second.first.proven is True
    assert "hvp" in second.proof.symbolic and second.proof.numeric.passed
    vector = len(second.direction.shape) == 1
    assert (second.hessian is not None) == vector and ("hessian" in second.proof.symbolic) == vector


def test_catalogue_has_fifteen_examples_beyond_the_seeds():
    assert len(EXAMPLES) >= 15
    assert {e.objective for e in SEEDS} == {o.id for o in OBJECTIVES}


def test_engine_document_is_current(catalogue):
    assert DOCUMENT.read_text(encoding="utf-8") == render(catalogue), (
        "regenerate with: python -m matgrad.engine.catalogue > derivations/engine.md"
    )


@pytest.mark.parametrize("objective", OBJECTIVES, ids=lambda o: o.id)
def test_generated_code_reproduces_the_seed_notebook(seed, objective):
    """float32 in, float32 out, and the same numbers as the hand-written code."""
    prefix = "affine" if objective.id == "affine" else "net"
    arrays = {name: seed[f"{prefix}_{name}"] for name in objective.arguments}
    kind = "vector" if arrays[objective.arguments[-1]].ndim == 1 else "full"
    function = seed_example(objective, kind).derive(prove=False).function
    f, grads = function(**arrays)
    f_ref, grads_ref = objective.value_and_grad(arrays)
    assert np.asarray(f).dtype == np.float32
    np.testing.assert_allclose(f, f_ref, rtol=1e-5)
    for name in objective.arguments:
        assert grads[name].dtype == np.float32 and grads[name].shape == arrays[name].shape
        np.testing.assert_allclose(
            grads[name], grads_ref[name], rtol=1e-4, atol=1e-4 * np.abs(grads_ref[name]).max()
        )


def test_generated_code_never_returns_or_modifies_its_inputs():
    derivation = derive("sqnorm(A - B) + sum(C)", None, {"A": "n,k", "B": "n,k", "C": "n,k"}, prove=False)
    rng = np.random.default_rng(3)
    arrays = {name: rng.standard_normal((3, 2)) for name in "ABC"}
    copies = {name: a.copy() for name, a in arrays.items()}
    _, grads = derivation.function(**arrays)
    for name, array in arrays.items():
        np.testing.assert_array_equal(array, copies[name])
        assert all(not np.shares_memory(g, array) for g in grads.values())
    np.testing.assert_allclose(grads["A"], 2 * (arrays["A"] - arrays["B"]))


def test_generated_code_promotes_integers_and_runs_on_symbols():
    derivation = derive("sqnorm(X @ W + b)", None, {"X": "n,k", "W": "k,m", "b": "m"}, prove=False)
    f, grads = derivation.function(np.ones((2, 2), int), np.ones((2, 2), int), np.zeros(2, int))
    assert grads["W"].dtype == np.float64 and f == 16  # XW = 2 everywhere, 4 entries
    arrays = symbol_arrays({"X": (1, 1), "W": (1, 1), "b": (1,)})
    f, grads = derivation.function(**arrays)
    assert sympy.expand(f - (arrays["X"][0, 0] * arrays["W"][0, 0] + arrays["b"][0]) ** 2) == 0


@pytest.mark.parametrize("table", [RULES, VJP, PRINT, PYTHON, SYMPY, LINEAR_MAP], ids=lambda t: t.operation)
def test_every_operation_has_a_rule_for_every_node_type(table):
    assert table.missing() == []


def test_a_derivation_that_fails_its_proof_is_not_an_answer(monkeypatch, capsys):
    """Break the squared-norm rule (factor 3 instead of 2): both proofs must catch it."""
    original = VJP.rules[differentiate_module.SqNorm]

    def wrong(node, G, needed):
        [(index, contribution)] = original(node, G, needed)
        return [
            (
                index,
                differentiate_module.Mul(
                    (differentiate_module.Const(differentiate_module.Fraction(3, 2)), contribution)
                ),
            )
        ]

    monkeypatch.setitem(VJP.rules, differentiate_module.SqNorm, wrong)
    with pytest.raises(ProofFailure) as failure:
        derive("sqnorm(X @ W)", "W", {"X": "n,k", "W": "k,m"})
    assert not failure.value.proof.proven
    assert not failure.value.proof.numeric.passed
    assert main(["derive", "sqnorm(X @ W)", "X=n,k", "W=k,m", "--wrt", "W"]) == 1
    captured = capsys.readouterr()
    assert "failed its own proof" in captured.err
    assert "∂f/∂W =" not in captured.out


def test_cli_prints_gradients_proofs_steps_and_code(capsys):
    assert (
        main(["derive", "sqnorm(X @ W + b)", "X=n,k", "W=k,m", "b=m", "--wrt", "W", "--steps", "--numpy"])
        == 0
    )
    out = capsys.readouterr().out
    assert "∂f/∂W = 2Xᵀ(XW + b)" in out
    assert "symbolic proof: proven" in out and "numeric check: passed" in out
    assert "**squared Frobenius norm**" in out and "**matrix product rule**" in out
    assert "def value_and_grad(X, W, b):" in out


def test_cli_json_and_errors(capsys):
    assert main(["derive", "trace(A @ X @ B)", "--wrt", "X", "--json", "--no-proof"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["gradients"]["X"]["text"] == "AᵀBᵀ" and data["proven"] is None
    assert main(["derive", "sqnorm(X @ W", "--no-proof"]) == 2
    err = capsys.readouterr().err
    assert "expected ')'" in err and "^" in err


def test_steps_name_every_rule_used():
    derivation = derive("sqnorm(Y - (sigmoid(X @ W1 + b1) @ W2 + b2))", "W1", prove=False)
    markdown = derivation.steps_markdown()
    for rule in ("squared Frobenius norm", "sum rule", "matrix product rule", "sigmoid"):
        assert f"**{rule}**" in markdown
    assert markdown.count("$$") % 2 == 0


def test_a_negation_or_scaling_is_the_constant_factor_rule_not_the_product_rule():
    markdown = derive("sqnorm(Y - X)", "X", prove=False).steps_markdown()
    assert "**constant factor**" in markdown
    assert "**elementwise product rule**" not in markdown
    assert "**elementwise product rule**" in derive("sum(A * B)", "A", prove=False).steps_markdown()


def test_matgrad_derive_without_proof_does_not_load_sympy():
    code = (
        "import sys, matgrad; d = matgrad.derive('trace(A @ X)', 'X', prove=False); "
        "print(d.text('X'), 'sympy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["Aᵀ", "False"]


def test_a_checker_that_cannot_decide_is_not_a_proof(monkeypatch):
    import matgrad.symbolic.concrete

    def undecided(*args, **kwargs):
        raise NotImplementedError("no rule for this function")

    monkeypatch.setattr(matgrad.symbolic.concrete, "check_function", undecided)
    with pytest.raises(ProofFailure, match="undecided, the symbolic checker raised NotImplementedError"):
        derive("sum(exp(X))", "X")


def test_a_sum_with_both_a_common_prefix_and_a_common_suffix_is_factored_correctly():
    # Found by fuzzing: the simplifier cut the shared prefix from every term but put the
    # shared suffix back as well, building an (m, n) @ (m, k) product.
    text = "trace(((X @ W) + ((X @ W) @ W.T @ W)).T @ ((X @ W) + ((X @ W) @ W.T @ W)))"
    derivation = derive(text, None, {"X": "n,k", "W": "k,m"})
    assert derivation.proven


@pytest.mark.parametrize("entry", COOKBOOK, ids=lambda e: f"({e.equation})-{e.wrt}")
def test_every_cookbook_identity_is_proven_and_prints_as_recorded(catalogue, entry):
    derivation = catalogue[cookbook_examples()[entry]]
    assert derivation.proven, derivation.proof.summary()
    assert derivation.text(entry.wrt) == entry.engine


def test_the_cookbook_table_holds_at_least_forty_equations():
    assert len({entry.equation for entry in COOKBOOK}) >= 40


@pytest.mark.parametrize(
    "entry",
    [e for e in COOKBOOK if any(f in e.expression for f in ("det(", "inv("))],
    ids=lambda e: f"({e.equation})-{e.wrt}",
)
def test_every_cookbook_determinant_and_inverse_is_proven_exactly_at_3x3(monkeypatch, entry):
    """The 3×3 pass decides, given time: on a loaded machine 0.5 s may not be enough, so 20 s here."""
    from matgrad.engine import proof

    monkeypatch.setattr(proof, "LARGER_SHAPES_SECONDS", 20.0)
    derivation = derive(entry.expression, entry.wrt, dict(entry.shapes), timeout=None)
    assert derivation.proven, derivation.proof.summary()
    assert derivation.proof.symbolic_note == ""
    larger = derivation.proof.more_symbolic_shapes
    if larger != ():  # the 3×2 rows have no other shapes to try
        assert any(s == (3, 3) for s in larger[0].values())
    else:
        assert any(s == (3, 2) for s in derivation.proof.symbolic_shapes.values())
