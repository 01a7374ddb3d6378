"""The derivation documents (derivations/*.md) checked against themselves, the registry and the code.

- Every math span of every document parses with latex2mathml (a maintained, pure-Python
  TeX-math parser that builds the math structure and raises on structural errors; why it
  and not another is in derivations/README.md) and uses only macros MathJax defines.
- Every displayed equation of the README and of each registry entry's document holds:
  derivations/texcheck.py evaluates both sides on sympy matrices at small sizes.
- Every registry gradient (full and row bias) is the last side of a derived result, equal
  character for character to the registry's LaTeX and entrywise to what the code returns,
  in a section that names the function and the ``matgrad verify`` line.
"""

from __future__ import annotations

import functools
import importlib.util
import math
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from latex2mathml.converter import convert
from latex2mathml.tokenizer import tokenize
from latex2mathml.walker import walk

from matgrad.registry import OBJECTIVES, Gradient, Objective

ROOT = Path(__file__).resolve().parents[1]
DERIVATIONS = ROOT / "derivations"


def _load_texcheck():
    spec = importlib.util.spec_from_file_location("texcheck", DERIVATIONS / "texcheck.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["texcheck"] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


texcheck = _load_texcheck()

# Macros of MathJax's TeX input (base and ams packages, both loaded where GitHub renders
# math), as listed in MathJax's "Supported TeX/LaTeX commands". Only these may appear.
MATHJAX_MACROS = {
    r"\frac", r"\partial", r"\top", r"\odot", r"\cdot", r"\times", r"\in", r"\quad", r"\qquad",
    r"\langle", r"\rangle", r"\lVert", r"\rVert", r"\left", r"\right", r"\operatorname",
    r"\mathrm", r"\mathbf", r"\mathbb", r"\text", r"\sigma", r"\Delta", r"\sum", r"\prime",
    r"\ldots", r"\cdots", r"\sqrt", r"\alpha", r"\beta", r"\lambda", r"\tanh", r"\exp", r"\log",
    r"\begin", r"\end", r"\dfrac", r"\tfrac", r"\max", r"\otimes", r"\circ", r"\mathcal",
    r"\le", r"\ge", r"\ne", r"\infty", r"\nabla", r"\dot", r"\det", r"\Sigma", r"\varepsilon",
    r"\lvert", r"\rvert", r"\mapsto", r"\sin", r"\cos", r"\tan", r"\arcsin", r"\arccos", r"\arctan",
}  # fmt: skip

ALL_DOCUMENTS = sorted(DERIVATIONS.glob("*.md"))
SECOND_ORDER_DOCUMENTS = {ROOT / o.second_order_derivation.split("#")[0] for o in OBJECTIVES}
CHECKED_DOCUMENTS = sorted(
    {DERIVATIONS / "README.md"} | {ROOT / o.derivation for o in OBJECTIVES} | SECOND_ORDER_DOCUMENTS
)


@functools.cache
def document(path: Path):
    return texcheck.read_document(path.read_text(encoding="utf-8"))


def every_math(path: Path) -> list:
    return list(texcheck.every_math(document(path)))


def tex_name(argument: str) -> str:
    """The TeX of an argument name: 'W1' -> 'W_1'."""
    return re.sub(r"^([A-Za-z]+)(\d+)$", r"\1_\2", argument)


def sizes_for(objective: Objective, second_order: bool = False) -> dict[str, int]:
    """The registry's smallest sample sizes with every size at least 2 (1 hides transposes)."""
    samples = objective.second_order_sizes if second_order else objective.sample_sizes
    candidates = [s for s in samples if min(s.values()) >= 2]
    return dict(
        min(candidates, key=lambda s: sum(math.prod(v) for v in objective.signature.shapes(s).values()))
    )


def objective_of(leaf) -> Objective | None:
    """The registry entry whose f this section derives (its value LaTeX is displayed in scope)."""
    shown = {m.tex for m in texcheck.unit_math(leaf) if m.display}
    matches = [o for o in OBJECTIVES if o.value_latex in shown]
    return matches[0] if len(matches) == 1 else None


@functools.cache
def checked(path: Path, index: int):
    """(steps, scope) of the index-th innermost section, at the registry's sizes for its objective."""
    leaf = list(document(path).leaves())[index]
    objective = objective_of(leaf)
    sizes = sizes_for(objective, path in SECOND_ORDER_DOCUMENTS) if objective else None
    return texcheck.check_section(leaf, sizes)


def leaf_cases() -> list:
    return [
        pytest.param(path, index, id=f"{path.name}:{leaf.start}")
        for path in CHECKED_DOCUMENTS
        for index, leaf in enumerate(document(path).leaves())
        if any(m.display for m in texcheck.unit_math(leaf))
    ]


# --------------------------------------------------------------------------- TeX


def tex_problems(tex: str, display: bool) -> list[str]:
    """What is wrong with one math span: parse errors, unbalanced braces, unknown macros."""
    problems = []
    try:
        convert(tex, display="block" if display else "inline")
        nodes = walk(tex)
    except Exception as error:  # latex2mathml raises its own exception per kind of error
        return [f"latex2mathml: {type(error).__name__} {error}"]
    depth = 0
    for token in tokenize(tex):
        depth += token == "{"
        depth -= token == "}"
        if depth < 0:
            problems.append("a '}' closes nothing")
    if depth > 0:
        problems.append("a '{' is never closed")
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if node.token == r"\frac" and len(node.children or ()) != 2:
            problems.append(r"\frac needs a numerator and a denominator")
        stack.extend(node.children or ())
    unknown = set(re.findall(r"\\[A-Za-z]+", tex)) - MATHJAX_MACROS
    if unknown:
        problems.append(f"macros MathJax may not know: {sorted(unknown)}")
    return problems


@pytest.mark.parametrize("path", ALL_DOCUMENTS, ids=lambda p: p.name)
def test_every_math_span_parses_and_uses_only_mathjax_macros(path):
    spans = every_math(path)
    assert spans, f"{path.name} has no math"
    failures = [f"line {m.line}: {p}: {m.tex}" for m in spans for p in tex_problems(m.tex, m.display)]
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(
    "tex", [r"\frac{a}", r"{a", r"a}", r"x^", r"\left( a", r"\fro{x}", r"x^2^2", r"x_1_2"]
)
def test_broken_tex_is_caught(tex):
    assert tex_problems(tex, display=True)


# --------------------------------------------------------------------------- steps


@pytest.mark.parametrize(("path", "index"), leaf_cases())
def test_every_displayed_equation_holds(path, index):
    steps, _ = checked(path, index)
    claims = [s for s in steps if s.kind == "claim"]
    failures = [f"line {s.math.line} ({s.kind}): {s.error}\n    {s.math.tex}" for s in steps if s.error]
    assert not failures, "\n".join(failures)
    assert claims or all(s.kind in ("declaration", "definition", "prose") for s in steps)
    assert not [s for s in steps if s.kind == "skipped"]


def failures_after_replacing(path: Path, original: str, broken: str) -> list:
    text = path.read_text(encoding="utf-8")
    assert text.count(original) == 1, f"{original!r} must occur once in {path.name}"
    root = texcheck.read_document(text.replace(original, broken))
    line = text[: text.index(original)].count("\n") + 1
    leaf = next(leaf for leaf in root.leaves() if leaf.start <= line <= leaf.end)
    objective = objective_of(leaf)
    (block,) = [m for m in leaf.math if m.display and m.line == line]  # each original starts a block's line
    steps, _ = texcheck.check_section(leaf, sizes_for(objective) if objective else None, only_line=block.line)
    assert [s for s in steps if s.kind == "claim"], "the broken block must be a claim"
    return [s for s in steps if s.error]


SIGMA_PRIME_FORGOTTEN = (
    "S \\odot (1 - S) \\odot \\mathrm{d}H$$\n\n**Step A.5** (**product rule** on XW₁; here",
    "\\mathrm{d}H$$\n\n**Step A.5** (**product rule** on XW₁; here",
)
BROKEN_STEPS = [
    # a factor lost in the middle of a chain
    ("affine.md", r"= \langle 2X^\top R, \mathrm{d}W", r"= \langle X^\top R, \mathrm{d}W"),
    # a sign slip in an intermediate differential
    ("affine.md", r"X\,\mathrm{d}W + \mathrm{d}b$$", r"X\,\mathrm{d}W - \mathrm{d}b$$"),
    ("sigmoid_net.md", r"X\,\mathrm{d}W_1 + \mathrm{d}b_1$$", r"X\,\mathrm{d}W_1 - \mathrm{d}b_1$$"),
    # σ′ forgotten in an intermediate step (bias inside σ)
    ("sigmoid_net.md", *SIGMA_PRIME_FORGOTTEN),
    # the README's identities are checked too
    ("README.md", r"$$\sigma'(x) = \sigma(x)(1 - \sigma(x))$$", r"$$\sigma'(x) = \sigma(x)(1 + \sigma(x))$$"),
]


@pytest.mark.parametrize(("name", "original", "broken"), BROKEN_STEPS)
def test_a_broken_step_fails(name, original, broken):
    assert failures_after_replacing(DERIVATIONS / name, original, broken)


# --------------------------------------------------------------------------- results


def result_cases() -> list:
    return [
        pytest.param(o, argument, kind, id=f"{o.id}-{argument}-{kind}")
        for o in OBJECTIVES
        for argument in o.arguments
        for kind in (("full", "row") if o.gradients[argument].row_latex else ("full",))
    ]


def results(objective: Objective, argument: str, gradient: Gradient, kind: str) -> list:
    """(leaf index, math) of every displayed ∂f/∂A = ... = <the registry's LaTeX> in the document."""
    expected = gradient.latex if kind == "full" else gradient.row_latex
    head = rf"\frac{{\partial f}}{{\partial {tex_name(argument)}}}"
    path = ROOT / objective.derivation
    found = []
    for index, leaf in enumerate(document(path).leaves()):
        if objective_of(leaf) is not objective:
            continue
        for m in leaf.math:
            sides = texcheck.raw_sides(m.tex)
            if m.display and len(sides) >= 2 and sides[0] == head and sides[-1] == expected:
                found.append((index, m))
    return found


def call_of(objective: Objective, argument: str) -> str:
    options = "".join(f', {key}="{value}"' for key, value in objective.options.items())
    return f'matgrad.{objective.name}.grad({", ".join(objective.arguments)}{options}, wrt="{argument}")'


@pytest.mark.parametrize(("objective", "argument", "kind"), result_cases())
def test_registry_gradient_is_derived_and_matches_the_code(objective, argument, kind):
    path = ROOT / objective.derivation
    sizes = sizes_for(objective)
    expected_shape = objective.signature.shapes(sizes, kind)[argument]
    found = [
        (index, m)
        for index, m in results(objective, argument, objective.gradients[argument], kind)
        if checked(path, index)[1].arguments[tex_name(argument)] == expected_shape
    ]
    assert found, f"{path.name} derives no ∂f/∂{argument} ending in the registry's {kind} LaTeX"
    for index, m in found:
        steps, scope = checked(path, index)
        leaf = list(document(path).leaves())[index]
        shown = {u.tex for u in texcheck.unit_math(leaf) if u.display}
        assert objective.where_latex in shown, f"{leaf.path}: the registry's 'where' is not displayed"
        (step,) = [s for s in steps if s.math == m]
        assert step.kind == "claim" and step.error is None, step.error
        arrays = {name: scope.values[tex_name(name)] for name in objective.arguments}
        code = objective.evaluate(arrays, (argument,), with_value=False)[1][argument]
        assert texcheck.equal(step.sides[-1], code) is None, f"{leaf.path}: the document and the code differ"
        lines = path.read_text(encoding="utf-8").splitlines()[leaf.start - 1 : leaf.end]
        text = " ".join(" ".join(lines).split())
        assert call_of(objective, argument) in text, (
            f"{leaf.path} does not name {call_of(objective, argument)}"
        )
        assert f"matgrad verify --objective {objective.id}" in text, f"{leaf.path} lacks its verify line"


@pytest.mark.parametrize("objective", OBJECTIVES, ids=lambda o: o.id)
def test_a_registry_formula_changed_alone_is_no_longer_found(objective):
    argument = objective.arguments[0]
    gradient = objective.gradients[argument]
    assert results(objective, argument, gradient, "full")
    altered = Gradient(argument, "3" + gradient.latex, gradient.text)
    assert not results(objective, argument, altered, "full")


def test_readme_indexes_every_document():
    index = (DERIVATIONS / "README.md").read_text(encoding="utf-8")
    for path in CHECKED_DOCUMENTS:
        if path.name != "README.md":
            assert f"]({path.name})" in index, path.name


def test_the_checker_compares_exactly():
    a = np.array([[texcheck.sympy.Symbol("a")]], dtype=object)
    assert texcheck.equal(2 * a, a + a) is None
    assert "differs" in texcheck.equal(2 * a, 3 * a)
    assert "shapes" in texcheck.equal(np.ones((2, 1), dtype=object), np.ones((1, 2), dtype=object))


# --------------------------------------------------------------------------- second order


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def second_order_cases() -> list:
    return [pytest.param(o, name, id=f"{o.id}-{name}") for o in OBJECTIVES for name in o.arguments]


@pytest.mark.parametrize(("objective", "argument"), second_order_cases())
def test_registry_hvp_is_derived_and_matches_the_code(objective, argument):
    """The registry's section ends a checked claim in its ∇²f·V (a dot written d), equal to the code's."""
    relative, anchor = objective.second_order_derivation.split("#")
    path = ROOT / relative
    leaves = list(document(path).leaves())
    (index,) = [i for i, leaf in enumerate(leaves) if _slug(leaf.title) == anchor]
    expected = (
        objective.second_order.hvp[argument]
        .latex.replace(r"\dot ", r"\mathrm{d}")
        .replace(r"\dot\Delta", r"\mathrm{d}\Delta")
    )
    steps, scope = checked(path, index)
    found = [s for s in steps if s.kind == "claim" and texcheck.raw_sides(s.math.tex)[-1] == expected]
    assert found, f"{path.name}#{anchor} has no claim ending in {expected}"
    (step,) = found
    assert step.error is None, step.error
    arrays = {name: scope.values[tex_name(name)] for name in objective.arguments}
    differentials = np.vectorize(lambda s: scope.differentials[s], otypes=[object])
    direction = {name: differentials(array) for name, array in arrays.items()}
    code = objective.evaluate_second_order(arrays, direction, (argument,))[argument]
    assert texcheck.equal(step.sides[-1], code) is None, (
        f"{path.name}#{anchor}: the document and the code differ"
    )
