"""Math rendered to MathML when the site is built, with latex2mathml.

A page then needs no script, no font download and no network to show its math; every
browser with MathML Core (Chromium ≥ 109, Firefox, Safari) lays it out. TeX that
latex2mathml cannot read, or a macro it does not know (it would print the raw ``\\name``),
is a build warning, so ``sphinx-build -W`` fails on it instead of a reader seeing it.

Each rendered equation is one element with the class ``mg-math`` holding its TeX in
``data-tex``: what the browser test counts.
"""

from __future__ import annotations

import html
import re
import unicodedata

from docutils import nodes
from latex2mathml.converter import convert
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.writers.html5 import HTML5Translator

logger = logging.getLogger(__name__)

# latex2mathml leaves an unknown macro in the output as text, e.g. <mi>\fro</mi>.
_RAW_MACRO = re.compile(r">[^<]*\\[A-Za-z]+[^<]*<")
# MathML Core renders only mathvariant="normal": other variants become Unicode letters.
_VARIANT = re.compile(r'<(mi|mn|mo|mtext) mathvariant="([a-z-]+)">([^<]*)</\1>')
# A one-letter \mathrm{d} comes out as <mi>&#x00064;</mi>, without its mathvariant, and
# MathML Core slants a one-letter <mi>: put the upright variant back.
_UPRIGHT_LETTER = re.compile(r"<mi>&#x000(4[1-9A-F]|5[0-9A]|6[1-9A-F]|7[0-9A]);</mi>")
_DIGITS = ("ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE")


class MathError(ValueError):
    """TeX that cannot be rendered faithfully."""


def _styled(character: str, variant: str) -> str:
    """'R', 'double-struck' -> 'ℝ'; a character with no such Unicode form is kept."""
    if character.isdigit() and character.isascii():
        tail = f"DIGIT {_DIGITS[int(character)]}"
    elif character.isalpha() and character.isascii():
        tail = f"{'CAPITAL' if character.isupper() else 'SMALL'} {character.upper()}"
    else:
        return character
    style = variant.upper()
    # Letters encoded before the Mathematical Alphanumeric block (ℝ, ℕ, ℎ, ...) drop the prefix.
    for name in (f"MATHEMATICAL {style} {tail}", f"{style} {tail}", f"{style} LETTER {tail}"):
        try:
            return unicodedata.lookup(name)
        except KeyError:
            continue
    return character


def _variants_to_unicode(mathml: str) -> str:
    def replace(match: re.Match[str]) -> str:
        tag, variant, text = match.groups()
        if variant == "normal":
            return match.group(0)
        styled = "".join(_styled(c, variant) for c in html.unescape(text))
        return f"<{tag}>{html.escape(styled)}</{tag}>"

    return _VARIANT.sub(replace, mathml)


def to_mathml(tex: str, *, displaystyle: bool = False) -> str:
    """One ``<math>`` element for ``tex``; raises :class:`MathError` if it cannot be rendered."""
    try:
        mathml = convert((r"\displaystyle " if displaystyle else "") + tex, display="inline")
    except Exception as error:  # latex2mathml raises a class of its own per kind of error
        raise MathError(f"{type(error).__name__}: {error}") from error
    if _RAW_MACRO.search(mathml):
        raise MathError(f"unknown macro {_RAW_MACRO.search(mathml).group(0)[1:-1].strip()!r}")  # type: ignore[union-attr]
    mathml = _UPRIGHT_LETTER.sub(
        lambda m: f'<mi mathvariant="normal">{chr(int(m.group(1), 16))}</mi>', mathml
    )
    return _variants_to_unicode(mathml)


def relation_pieces(tex: str) -> list[str]:
    """A displayed chain split before each top-level '=' and at each top-level \\quad.

    "A = B = C" gives ["A", "= B", "= C"]: the pieces wrap like words on a narrow screen
    and sit on one line on a wide one. Inside braces, \\left…\\right or an environment
    nothing is split.
    """
    pieces, depth, start, i = [], 0, 0, 0
    while i < len(tex):
        macro = re.match(r"\\([A-Za-z]+|.)", tex[i:])
        if macro:
            name = macro.group(1)
            depth += name in ("left", "begin")
            depth -= name in ("right", "end")
            if depth == 0 and name in ("quad", "qquad"):
                pieces.append(tex[start:i])
                start = i + macro.end()
            i += macro.end()
            continue
        depth += tex[i] == "{"
        depth -= tex[i] == "}"
        if depth == 0 and tex[i] == "=" and tex[start:i].strip():
            pieces.append(tex[start:i])
            start = i
        i += 1
    pieces.append(tex[start:])
    return [p.strip() for p in pieces if p.strip()]


def _render(tex: str, node: nodes.Element, display: bool) -> str:
    """The MathML of one equation, or its TeX marked as an error (after a build warning)."""
    try:
        if not display:
            return to_mathml(tex)
        pieces = relation_pieces(tex)
        try:
            rendered = [to_mathml(p, displaystyle=True) for p in pieces]
        except MathError:  # a piece that is not math alone: show the equation whole
            rendered = [to_mathml(tex, displaystyle=True)]
        return "".join(f'<span class="mg-math-piece">{m}</span>' for m in rendered)
    except MathError as error:
        logger.warning("math cannot be rendered (%s): %s", error, tex, location=node, type="math")
        return f'<code class="mg-math-error">{html.escape(tex)}</code>'


def _visit_inline(self: HTML5Translator, node: nodes.math) -> None:
    tex = node.astext()
    self.body.append(self.starttag(node, "span", "", CLASS="math notranslate mg-math", **{"data-tex": tex}))
    self.body.append(_render(tex, node, display=False))
    self.body.append("</span>")
    raise nodes.SkipNode


def _visit_block(self: HTML5Translator, node: nodes.math_block) -> None:
    # Like Sphinx's own renderers: blank lines separate equations of one block.
    parts = [p for p in node.astext().split("\n\n") if p.strip()]
    self.body.append(self.starttag(node, "div", CLASS="math notranslate mg-math-block"))
    if node.get("number"):
        self.body.append(f'<span class="eqno">({node["number"]})</span>')
    for tex in parts:
        self.body.append(f'<div class="mg-math mg-math-display" data-tex="{html.escape(tex)}">')
        self.body.append(_render(tex.strip(), node, display=True))
        self.body.append("</div>")
    self.body.append("</div>\n")
    raise nodes.SkipNode


def setup(app: Sphinx) -> dict[str, object]:
    app.add_html_math_renderer("mathml", (_visit_inline, None), (_visit_block, None))
    return {"parallel_read_safe": True, "parallel_write_safe": True}
