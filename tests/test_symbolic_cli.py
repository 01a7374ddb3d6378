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
    assert header.split() == ["objective", "argument", "method", "shapes", "verdict", "seconds"]
    rows = [line for line in lines if line.startswith("affine")]
    assert len(rows) == 4 * len(get_objective("affine").arguments)  # numpy path and array API path
    assert all("proven" in row for row in rows)
    assert sum("all sizes" in row for row in rows) == sum("concrete shapes" in row for row in rows) == 6
    assert sum("array API" in row for row in rows) == 6
    assert "12 proofs, 12 proven, 0 failed" in out


def test_verify_json_lists_every_verdict(capsys):
    assert main(["verify", "--json", "--objective", "affine"]) == 0
    verdicts = json.loads(capsys.readouterr().out)
    assert {(v["argument"], v["method"]) for v in verdicts} == {
        (name, method)
        for name in get_objective("affine").arguments
        for method in ("concrete shapes", "all sizes", "concrete shapes, array API", "all sizes, array API")
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
    assert all(v["proven"] == v["method"].endswith("array API") for v in verdicts)


def test_verify_rejects_an_unknown_objective(capsys):
    assert main(["verify", "--objective", "nope"]) == 2
    assert "no objective 'nope'" in capsys.readouterr().err


def test_building_the_command_line_does_not_load_sympy():
    code = "import sys; from matgrad.cli import build_parser; build_parser(); print('sympy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False"]
