"""The notebooks: each runs from top to bottom, is what notebooks/build.py writes, and
carries the outputs GitHub shows."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def _load_build_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("notebooks_build", NOTEBOOKS / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _load_build_script()
NAMES = list(build.NOTEBOOKS)


def committed(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOKS / name, as_version=4)


def test_every_notebook_in_the_folder_is_built_by_the_script():
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_top_to_bottom(name):
    # nbclient raises CellExecutionError, naming the cell, on the first error.
    notebook = build.execute(committed(name))
    errors = [
        o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
    ]
    assert errors == []


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebook_is_what_the_build_script_writes(name):
    expected = build.build(name)
    actual = committed(name)
    assert [(c.cell_type, c.source) for c in actual.cells] == [
        (c.cell_type, c.source) for c in expected.cells
    ]


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebook_carries_the_outputs_of_one_run_in_order(name):
    code_cells = [c for c in committed(name).cells if c.cell_type == "code"]
    assert [c.execution_count for c in code_cells] == list(range(1, len(code_cells) + 1))
    for cell in code_cells:
        assert not any(o.output_type == "error" for o in cell.outputs)
        if "plt.show()" in cell.source:
            assert any("image/png" in o.get("data", {}) for o in cell.outputs), cell.source
