"""``{matgrad-verify}``: the `matgrad verify` table, proven again at every build.

`python -m matgrad verify --json` starts when the build starts and runs beside it (the
proofs take about as long as reading the other pages); the directive waits for it and
shows its verdicts, one row each. A proof that is not "proven" is a build warning, so
with ``-W`` the site is never built on a failing proof. The first row of each
(objective, argument, quantity) carries the label that the formulas link to
(``verify-<id>-<argument>``, ``-hvp``, ``-gauss-newton``); its first cells link back to
the formula.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

from docutils import nodes
from registry_pages import GAUSS_NEWTON, GRADIENT, HVP, _ref, add_label, label
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from matgrad.registry import get_objective

logger = logging.getLogger(__name__)
#: How the table names each quantity that `matgrad verify` proves.
QUANTITY_NAMES = {GRADIENT: "∂f/∂A", HVP: "∇²f·V", GAUSS_NEWTON: "2JᵀJ·V"}
COLUMNS = ("objective", "argument", "formula", "method", "shapes", "verdict", "seconds")
_RUN: dict[str, Any] = {}


def start_proofs(app: Sphinx) -> None:
    _RUN["started"] = time.perf_counter()
    _RUN["process"] = subprocess.Popen(
        [sys.executable, "-m", "matgrad", "verify", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )


def verdicts() -> tuple[list[dict[str, Any]], float]:
    """The verdicts and the wall-clock seconds of the run (waits for it the first time)."""
    if "verdicts" not in _RUN:
        out, err = _RUN["process"].communicate()
        _RUN["seconds"] = time.perf_counter() - _RUN["started"]
        if not out.strip():
            raise RuntimeError(f"matgrad verify --json printed nothing: {err}")
        _RUN["verdicts"] = json.loads(out)
    return _RUN["verdicts"], _RUN["seconds"]


def _cell(content: str | nodes.Node) -> nodes.entry:
    entry = nodes.entry()
    paragraph = nodes.paragraph()
    paragraph += content if isinstance(content, nodes.Node) else nodes.Text(content)
    entry += paragraph
    return entry


class VerifyDirective(SphinxDirective):
    def run(self) -> list[nodes.Node]:
        self.env.note_reread()  # the proofs run at every build, so the page is made again
        rows, seconds = verdicts()
        table = nodes.table(classes=["mg-verify"])
        group = nodes.tgroup(cols=len(COLUMNS))
        table += group
        group += [nodes.colspec(colwidth=1) for _ in COLUMNS]
        head = nodes.thead()
        head += nodes.row("", *(_cell(c) for c in COLUMNS))
        body = nodes.tbody()
        group += [head, body]
        seen: set[tuple[str, str, str]] = set()
        for verdict in rows:
            key = (verdict["objective"], verdict["argument"], verdict["quantity"])
            body += self._row(verdict, first=key not in seen)
            seen.add(key)
            if verdict["status"] != "proven":
                logger.warning("matgrad verify: %s", verdict, location=self.get_location())
        proven = sum(v["status"] == "proven" for v in rows)
        summary = nodes.paragraph(
            "", f"{len(rows)} proofs, {proven} proven, {len(rows) - proven} not, in {seconds:.1f} s of "
            "wall clock while this site was built."
        )  # fmt: skip
        return [table, summary]

    def _row(self, verdict: dict[str, Any], first: bool) -> nodes.row:
        objective = get_objective(verdict["objective"])
        argument, quantity = verdict["argument"], verdict["quantity"]
        target = label("formula", objective, argument, quantity=quantity)
        cells = {
            "objective": _ref(target, nodes.literal(objective.id, objective.id)),
            "argument": _ref(target, argument),
            "formula": QUANTITY_NAMES[quantity],
            "verdict": verdict["status"],
            "seconds": f"{verdict['seconds']:.2f}",
        }
        row = nodes.row("", *(_cell(cells[c] if c in cells else str(verdict[c])) for c in COLUMNS))
        if first:
            add_label(self.state.document, row, label("verify", objective, argument, quantity=quantity))
        return row


def stop_proofs(app: Sphinx, exception: Exception | None) -> None:
    """A build that ended before the table was made leaves no prover running."""
    process = _RUN.get("process")
    if process is not None and process.poll() is None:
        process.kill()
        process.communicate()


def setup(app: Sphinx) -> dict[str, object]:
    app.connect("builder-inited", start_proofs)
    app.connect("build-finished", stop_proofs)
    app.add_directive("matgrad-verify", VerifyDirective)
    return {"parallel_read_safe": False, "parallel_write_safe": True}
