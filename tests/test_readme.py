"""The README's Python examples run as written (issue 16: a newcomer pastes them)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
# Sections whose examples need a cluster or optional extras have tests of their own.
OWN_TESTS = ("## Large data",)


def python_blocks() -> list[tuple[int, str]]:
    text = README.read_text(encoding="utf-8")
    blocks = []
    section = ""
    for match in re.finditer(r"^(## [^\n]*)$|^```python\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
        if match.group(1):
            section = match.group(1)
            continue
        code = match.group(2)
        if code.lstrip().startswith(">>>") or section.startswith(OWN_TESTS):
            continue  # a doctest-style transcript (timings vary), or tested elsewhere
        blocks.append((text[: match.start()].count("\n") + 1, code))
    return blocks


@pytest.mark.parametrize(
    ("line", "code"), python_blocks(), ids=lambda v: f"line {v}" if isinstance(v, int) else ""
)
def test_readme_example_runs(line, code):
    exec(compile(code, f"README.md:{line}", "exec"), {"__name__": "readme"})
