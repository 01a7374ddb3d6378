"""`matgrad verify` as users run it: table, JSON, --objective, exit codes, light start."""

from __future__ import annotations

import json
import subprocess
import sys

from matgrad import vjp
from matgrad.cli import main
from matgrad.registry import get_objective


def test_verify_prints_a_table_of_proven_verdicts(capsys):
    assert main(["verify", "--objective", "affine"]) == 0
    out = capsys.readouterr().out
    header, *lines = out.splitlines()
    assert header.split() == ["objective", "formula", "method", "shapes", "verdict", "seconds"]
    rows = [line for line in lines if line.startswith("affine")]
    # Per argument: gradient, ∇²f·V and 2JᵀJ·V, each on the numpy and the array API path.
    assert len(rows) == 8 * len(get_objective("affine").arguments)
    assert all("proven" in row for row in rows)
    assert sum("all sizes" in row for row in rows) == 6
    assert sum("concrete shapes" in row for row in rows) == 18
    assert sum("array API" in row for row in rows) == 12
    assert sum("(∇²f·V)_" in row for row in rows) == sum("(2JᵀJ·V)_" in row for row in rows) == 6
    assert "24 proofs, 24 proven, 0 failed" in out


def test_verify_json_lists_every_verdict(capsys):
    assert main(["verify", "--json", "--objective", "affine"]) == 0
    verdicts = json.loads(capsys.readouterr().out)
    gradient_methods = ("concrete shapes", "all sizes", "concrete shapes, array API", "all sizes, array API")
    assert {(v["quantity"], v["argument"], v["method"]) for v in verdicts} == {
        (quantity, name, method)
        for name in get_objective("affine").arguments
        for quantity, methods in (
            ("gradient", gradient_methods),
            ("hvp", ("concrete shapes", "concrete shapes, array API")),
            ("gauss_newton", ("concrete shapes", "concrete shapes, array API")),
        )
        for method in methods
    }
    assert all(v["proven"] and v["objective"] == "affine" for v in verdicts)


def test_verify_exits_nonzero_and_explains_when_a_formula_is_wrong(monkeypatch, capsys):
    monkeypatch.setattr(vjp, "sqnorm_vjp", lambda R, **buffers: R)
    assert main(["verify", "--objective", "affine"]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and "missing factor 2" in out and "counterexample" in out
    assert main(["verify", "--json", "--objective", "affine"]) == 1
    verdicts = json.loads(capsys.readouterr().out)
    # The numpy path is wrong; the array API path (its own rules) stays proven.
    gradients = [v for v in verdicts if v["quantity"] == "gradient"]
    assert all(v["proven"] == v["method"].endswith("array API") for v in gradients)
    # ∇²f·V reuses G = 2R in its cross terms (X and W); the Gauss–Newton product does not use G.
    hvp = {(v["argument"], v["method"]): v["proven"] for v in verdicts if v["quantity"] == "hvp"}
    assert hvp == {
        ("X", "concrete shapes"): False,
        ("W", "concrete shapes"): False,
        ("b", "concrete shapes"): True,
        **{(name, "concrete shapes, array API"): True for name in ("X", "W", "b")},
    }


def test_verify_rejects_an_unknown_objective(capsys):
    assert main(["verify", "--objective", "nope"]) == 2
    assert "no objective 'nope'" in capsys.readouterr().err


def test_building_the_command_line_does_not_load_sympy():
    code = "import sys; from matgrad.cli import build_parser; build_parser(); print('sympy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False"]
