"""The package as users meet it: light import, docstring examples, the command line."""

from __future__ import annotations

import doctest
import importlib
import json
import pkgutil
import subprocess
import sys

import pytest

import matgrad
from matgrad.cli import main
from matgrad.registry import OBJECTIVES

MODULES = sorted(
    m.name for m in pkgutil.walk_packages(matgrad.__path__, "matgrad.") if not m.name.endswith("__main__")
)


def test_import_matgrad_loads_numpy_but_not_sympy():
    code = "import sys, matgrad; print('sympy' in sys.modules, 'numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples_run(module_name):
    module = importlib.import_module(module_name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def test_matgrad_list_prints_every_formula(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for objective in OBJECTIVES:
        assert objective.id in out
        for gradient in objective.gradients.values():
            assert gradient.text in out


def test_matgrad_list_json_covers_every_argument(capsys):
    assert main(["list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    expected = {(o.id, a) for o in OBJECTIVES for a in o.arguments}
    assert {(r["objective"], r["argument"]) for r in rows} == expected


def test_every_argument_has_exactly_one_registered_gradient():
    for objective in OBJECTIVES:
        assert set(objective.gradients) == set(objective.arguments)
        for name, gradient in objective.gradients.items():
            assert gradient.argument == name
            bias = next(a for a in objective.signature.args if a.name == name).row_bias
            assert (gradient.row_latex is not None) == bias


def test_python_m_matgrad_runs_the_cli():
    out = subprocess.run([sys.executable, "-m", "matgrad", "list"], capture_output=True, text=True)
    assert out.returncode == 0 and "affine" in out.stdout
