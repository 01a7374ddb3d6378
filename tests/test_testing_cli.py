"""``matgrad check``: the registry's numeric checks from the command line."""

from __future__ import annotations

import dataclasses
import json
import types

import pytest

import matgrad.registry
from matgrad import affine
from matgrad.cli import main
from matgrad.registry import OBJECTIVES, get_objective
from matgrad.signature import BIAS_KINDS
from matgrad.testing.diagnose import TRANSPOSED


def test_check_passes_on_every_registered_gradient(capsys):
    assert main(["check", "--seed", "2"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    for objective in OBJECTIVES:
        for kind in BIAS_KINDS:
            for name in objective.arguments:
                assert any(line.split()[:1] == [objective.id] and f" {kind} " in line and f" {name} " in line
                           for line in lines), (objective.id, kind, name)  # fmt: skip
    rows = sum(len(o.arguments) for o in OBJECTIVES) * len(BIAS_KINDS)
    assert f"{rows} gradients × 3 methods" in out and "all pass" in out
    assert "FAIL" not in out


def test_check_json_gives_one_report_per_objective_bias_and_method(capsys):
    argv = ["check", "--json", "--sizes", "2:3", "--dtype", "float32"]
    assert main([*argv, "--method", "complex", "--method", "central"]) == 0
    reports = json.loads(capsys.readouterr().out)
    assert len(reports) == len(OBJECTIVES) * len(BIAS_KINDS) * 2
    assert all(r["passed"] for r in reports)
    assert {r["method"] for r in reports} == {"complex", "central"}
    assert all(2 <= size <= 3 for r in reports for size in r["sizes"].values())
    assert all("float32" in r["title"] for r in reports)


def test_check_can_select_an_objective_and_a_bias_kind(capsys):
    assert main(["check", "--objective", "sigmoid_net", "--bias-kind", "row", "--sizes", "4"]) == 0
    out = capsys.readouterr().out
    assert "affine" not in out and "sigmoid_net.pre" in out and "sigmoid_net.post" in out
    assert " full " not in out and "12 gradients" in out


@pytest.mark.parametrize("sizes", ["a:b", "5:2", "-1"])
def test_check_rejects_bad_sizes(sizes, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["check", "--sizes", sizes])
    assert exit_info.value.code == 2
    assert "sizes" in capsys.readouterr().err


def test_check_fails_and_diagnoses_a_wrong_formula(monkeypatch, capsys):
    def transposed_dW(X, W, b, wrt=None):
        grads = affine.grad(X, W, b, wrt=wrt)
        return dict(grads, W=grads["W"].T) if "W" in grads else grads

    module = types.SimpleNamespace(
        __name__="matgrad.affine_wrong", SIGNATURE=affine.SIGNATURE, value=affine.value, grad=transposed_dW
    )
    wrong = dataclasses.replace(get_objective("affine"), id="affine_wrong", module=module)
    monkeypatch.setattr(matgrad.registry, "OBJECTIVES", (wrong,))
    assert main(["check", "--sizes", "2:4", "--seed", "1"]) == 1
    out = capsys.readouterr().out
    assert f"FAIL: {TRANSPOSED}" in out
    assert "9 checks FAILED" in out and "gradient check of affine_wrong" in out
