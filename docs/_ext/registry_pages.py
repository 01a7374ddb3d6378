"""The registry on the site: every formula linked to its derivation, its function and its proof.

Everything here is read from ``matgrad.registry.OBJECTIVES``; no formula is written twice.

- ``{matgrad-formulas}`` (a directive) shows each objective's value, its definitions and
  every gradient (full and row bias), each with links to the section of its derivation,
  the reference of the function that computes it and its lines in the `matgrad verify`
  table (docs/_ext/verify_table.py).
- The section of a derivation document that derives a formula is found as
  tests/test_derivations.py finds it (derivations/texcheck.py reads the document): the
  section whose displayed result ∂f/∂A = … ends, character for character, in the
  registry's LaTeX. It gets a label and a link back to the formula.
- The docstrings of the objectives' functions get a link back to their formulas.

Labels: ``formula-<id>-<argument>`` (``-row`` for a row bias), ``formula-<id>``,
``derivation-<id>-<argument>[-row]``, ``verify-<id>-<argument>``; second order:
``formula-<id>-<argument>-hvp[-row]`` (``-gauss-newton``), ``formula-<id>-second-order``,
``derivation-<id>-second-order``, ``verify-<id>-<argument>-hvp``.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.transforms import SphinxTransform
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from matgrad.registry import OBJECTIVES, Gradient, Objective

logger = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[2]
FORMULAS_DOC = "docs/formulas"


GRADIENT, HVP, GAUSS_NEWTON = "gradient", "hvp", "gauss_newton"  # the quantities of `matgrad verify`
#: What each quantity's formulas are called and computed by (a function of the objective's module).
FUNCTION = {GRADIENT: "grad", HVP: "hvp", GAUSS_NEWTON: "gauss_newton_product"}


def label(
    kind: str, objective: Objective, argument: str | None = None, row: bool = False, quantity: str = GRADIENT
) -> str:
    """E.g. ``formula-affine-W``, ``formula-affine-b-row``, ``verify-affine-W-hvp``."""
    parts = [kind, objective.id] + ([argument] if argument else [])
    parts += ([] if quantity == GRADIENT else [quantity]) + (["row"] if row else [])
    return nodes.fully_normalize_name("-".join(parts).replace("_", "-"))


def add_label(document: nodes.document, node: nodes.Element, name: str) -> None:
    """Make ``name`` a label of ``node`` (as ``(name)=`` before it would), for :ref: links.

    Only this name is registered: a section keeps its own implicit name from its title.
    """
    labelid = nodes.make_id(name)
    node["ids"].append(labelid)
    document.ids[labelid] = node
    document.nameids[name] = labelid
    document.nametypes[name] = True  # explicit: Sphinx collects it as a label


def tex_name(argument: str) -> str:
    """The TeX of an argument name: 'W1' -> 'W_1' (as the derivations write it)."""
    return re.sub(r"^([A-Za-z]+)(\d+)$", r"\1_\2", argument)


def formula_tex(argument: str, body: str, quantity: str = GRADIENT) -> str:
    """∂f/∂A = …, or the block of ∇²f·V (of 2JᵀJ·V) for A, as `matgrad list --second-order` names them."""
    name = tex_name(argument)
    head = {
        GRADIENT: rf"\frac{{\partial f}}{{\partial {name}}}",
        HVP: rf"(\nabla^2 f \cdot V)_{{{name}}}",
        GAUSS_NEWTON: rf"(2J^\top J \cdot V)_{{{name}}}",
    }[quantity]
    return f"{head} = {body}"


def formula_table(objective: Objective, quantity: str) -> Mapping[str, Gradient]:
    """The registry's formulas of one quantity, by argument."""
    if quantity == GRADIENT:
        return objective.gradients
    return objective.second_order.hvp if quantity == HVP else objective.second_order.gauss_newton


@dataclass(frozen=True)
class Formula:
    """One formula of the registry: a gradient or a second-order product's block; full or row bias."""

    objective: Objective
    argument: str
    row: bool
    quantity: str = GRADIENT

    @property
    def latex(self) -> str:
        entry = formula_table(self.objective, self.quantity)[self.argument]
        return (entry.row_latex if self.row else entry.latex) or ""

    @property
    def docname(self) -> str:
        objective = self.objective
        path = objective.derivation if self.quantity == GRADIENT else objective.second_order_derivation
        return path.split("#")[0].removesuffix(".md")

    def label(self, kind: str) -> str:
        return label(kind, self.objective, self.argument, self.row, self.quantity)


def formulas(quantities: tuple[str, ...] = (GRADIENT,)) -> list[Formula]:
    """The registry's formulas of these quantities, objective by objective, argument by argument."""
    return [
        Formula(o, argument, row, quantity)
        for o in OBJECTIVES
        for quantity in quantities
        for argument in o.arguments
        for row in ((False, True) if formula_table(o, quantity)[argument].row_latex else (False,))
    ]


SECOND_ORDER = (HVP, GAUSS_NEWTON)


@functools.cache
def _texcheck() -> ModuleType:
    path = ROOT / "derivations" / "texcheck.py"
    spec = importlib.util.spec_from_file_location("texcheck", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["texcheck"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@functools.cache
def _sections(text: str) -> list[tuple[str, list[Objective], list[list[str]]]]:
    """Each innermost section of a derivation: its title, the objectives it derives (by their
    value shown in it), and the sides of each displayed equation. Read once per document,
    not once per formula looked up in it."""
    texcheck = _texcheck()
    found = []
    for leaf in texcheck.read_document(text).leaves():
        shown = {m.tex for m in texcheck.unit_math(leaf) if m.display}
        derived = [o for o in OBJECTIVES if o.value_latex in shown]
        equations = [texcheck.raw_sides(m.tex) for m in leaf.math if m.display]
        found.append((str(leaf.title), derived, equations))
    return found


def deriving_section_title(formula: Formula, text: str) -> str | None:
    """The title of the innermost section of ``text`` that derives ``formula``."""
    head = rf"\frac{{\partial f}}{{\partial {tex_name(formula.argument)}}}"
    for title, derived, equations in _sections(text):
        if derived != [formula.objective]:
            continue  # the section derives another objective, or none
        for sides in equations:
            if len(sides) >= 2 and sides[0] == head and sides[-1] == formula.latex:
                return title
    return None


def _ref(target: str, text: str | nodes.Node) -> addnodes.pending_xref:
    """A link to a label, with its own text (works for labels on any node)."""
    content = text if isinstance(text, nodes.Node) else nodes.inline(text, text)
    return addnodes.pending_xref(
        "", content, refdomain="std", reftype="ref", reftarget=target, refexplicit=True, refwarn=True
    )


def _func_ref(objective: Objective, quantity: str = GRADIENT) -> addnodes.pending_xref:
    """A link to the function that computes the objective's formulas of this quantity."""
    target = f"matgrad.{objective.name}.{FUNCTION[quantity]}"
    text = objective.call if quantity == GRADIENT else f"{target}(...)"
    literal = nodes.literal(text, text)
    return addnodes.pending_xref(
        "", literal, refdomain="py", reftype="func", reftarget=target, refexplicit=True, refwarn=True
    )


def _links(*items: nodes.Node) -> nodes.paragraph:
    paragraph = nodes.paragraph(classes=["mg-links"])
    for i, item in enumerate(items):
        paragraph += nodes.Text(" · ") if i else nodes.Text("")
        paragraph += item
    return paragraph


def _math(tex: str) -> nodes.math_block:
    return nodes.math_block(tex, tex, nowrap=False, number=None)


def definitions(tex: str) -> list[str]:
    """``S = σ(…),\\quad R = …`` as one equation per definition, so that none breaks mid-way."""
    return [part.strip() for part in re.split(r",\s*\\quad", tex) if part.strip()]


def _definitions(tex: str) -> nodes.math_block:
    # docs/_ext/mathml.py shows each paragraph of a block as its own equation
    return _math("\n\n".join(definitions(tex)))


class FormulasDirective(SphinxDirective):
    """``{matgrad-formulas}``: every objective of the registry, its formulas and their links."""

    def run(self) -> list[nodes.Node]:
        for path in {ROOT / f.docname for f in formulas((GRADIENT, *SECOND_ORDER))}:
            self.env.note_dependency(str(path.with_suffix(".md")))  # a changed derivation may move a section
        out: list[nodes.Node] = []
        for objective in OBJECTIVES:
            section = nodes.section()
            add_label(self.state.document, section, label("formula", objective))
            title = f"{objective.id}: {objective.title}"
            section += nodes.title(title, title)
            section += _math(objective.value_latex)
            if objective.where_latex:
                section += nodes.paragraph("", "where")
                section += _definitions(objective.where_latex)
            section += _links(_func_ref(objective))
            for formula in (f for f in formulas() if f.objective is objective):
                section += self._formula(formula)
            section += self._second_order(objective)
            out.append(section)
        return out

    def _second_order(self, objective: Objective) -> nodes.section:
        """The blocks of ∇²f·V and 2JᵀJ·V, after the tangents they are written in."""
        section = nodes.section()
        add_label(self.state.document, section, label("formula", objective, quantity="second-order"))
        title = f"{objective.id}: second order"
        section += nodes.title(title, title)
        text = "Along a direction V (one array per argument; a dot is the tangent along V):"
        section += nodes.paragraph("", text)
        section += _definitions(objective.second_order.tangent_latex)
        if objective.second_order.gauss_newton_where_latex:
            section += nodes.paragraph("", "and for the Gauss–Newton product")
            section += _definitions(objective.second_order.gauss_newton_where_latex)
        section += _links(
            _ref(label("derivation", objective, quantity="second-order"), "derivation"),
            *(_func_ref(objective, quantity) for quantity in SECOND_ORDER),
        )
        for formula in (f for f in formulas(SECOND_ORDER) if f.objective is objective):
            section += self._formula(formula)
        return section

    def _formula(self, formula: Formula) -> nodes.container:
        box = nodes.container(classes=["mg-formula"])
        add_label(self.state.document, box, formula.label("formula"))
        if formula.row:
            box += nodes.paragraph("", f"a row bias {formula.argument}, broadcast over the n rows:")
        box += _math(formula_tex(formula.argument, formula.latex, formula.quantity))
        objective, argument, quantity = formula.objective, formula.argument, formula.quantity
        derivation = (
            formula.label("derivation")
            if quantity == GRADIENT
            else label("derivation", objective, quantity="second-order")
        )
        box += _links(
            _ref(derivation, "derivation"),
            _func_ref(objective, quantity),
            _ref(label("verify", objective, argument, quantity=quantity), "matgrad verify"),
        )
        return box


class DerivationLabels(SphinxTransform):
    """Label each section of a derivation document that derives a registry formula, and link back.

    A gradient's section is the one whose displayed result ends in the registry's LaTeX; an
    objective's second order is the section its ``second_order_derivation`` anchor names.
    Runs before Sphinx collects labels (priority 850), so the labels are ordinary ones.
    """

    default_priority = 800

    def apply(self, **kwargs: Any) -> None:
        docname = self.env.docname
        for objective in OBJECTIVES:
            path, _, anchor = objective.second_order_derivation.partition("#")
            if path.removesuffix(".md") == docname:
                self._label_second_order(objective, anchor)
        wanted = [f for f in formulas() if f.docname == docname]
        if not wanted:
            return
        text = (ROOT / wanted[0].objective.derivation).read_text(encoding="utf-8")
        sections = {s[0].astext(): s for s in self.document.findall(nodes.section)}
        for formula in wanted:
            title = deriving_section_title(formula, text)
            section = sections.get(title) if title else None
            if section is None:
                logger.warning(
                    "no section derives %s of %s%s (the registry's LaTeX: %s)",
                    formula.argument, formula.objective.id, " (row bias)" if formula.row else "",
                    formula.latex, location=(docname, 0),
                )  # fmt: skip
                continue
            add_label(self.document, section, formula.label("derivation"))
            text_back = (
                f"{formula.objective.id}, ∂f/∂{formula.argument}{' (row bias)' if formula.row else ''}"
            )
            links = _links(
                _ref(formula.label("formula"), text_back),
                _func_ref(formula.objective),
                _ref(label("verify", formula.objective, formula.argument), "matgrad verify"),
            )
            links.insert(0, nodes.Text("In the registry: "))
            section += links

    def _label_second_order(self, objective: Objective, anchor: str) -> None:
        found = [s for s in self.document.findall(nodes.section) if anchor in s["ids"]]
        if len(found) != 1:
            logger.warning(
                "%s: no one section has the anchor #%s", objective.second_order_derivation, anchor,
                location=(self.env.docname, 0),
            )  # fmt: skip
            return
        (section,) = found
        add_label(self.document, section, label("derivation", objective, quantity="second-order"))
        links = _links(
            _ref(label("formula", objective, quantity="second-order"), f"{objective.id}, ∇²f·V and 2JᵀJ·V"),
            *(_func_ref(objective, quantity) for quantity in SECOND_ORDER),
        )
        links.insert(0, nodes.Text("In the registry: "))
        section += links


def link_functions_to_formulas(
    app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]
) -> None:
    """The objectives' value, grad and value_and_grad name the registry entries they compute."""
    module, _, function = name.rpartition(".")
    entries = [o for o in OBJECTIVES if f"matgrad.{o.name}" == module]
    if what != "function" or function not in ("value", "grad", "value_and_grad") or not entries:
        return
    refs = ", ".join(f":ref:`{o.id} <{label('formula', o)}>`" for o in entries)
    lines += ["", f"Registry entries (formulas, derivations, proofs): {refs}."]


def setup(app: Sphinx) -> dict[str, object]:
    app.add_directive("matgrad-formulas", FormulasDirective)
    app.add_transform(DerivationLabels)
    app.connect("autodoc-process-docstring", link_functions_to_formulas, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
