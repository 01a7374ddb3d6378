"""``matgrad list``: the registry as a table of objectives, arguments, shapes and formulas."""

from __future__ import annotations

import argparse
import json

from matgrad.registry import OBJECTIVES, Objective

HELP = "list the objectives, their arguments' shapes and gradient formulas"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the table as JSON")
    parser.add_argument("--latex", action="store_true", help="print formulas as LaTeX")


def _shape_text(objective: Objective, argument: str) -> str:
    arg = next(a for a in objective.signature.args if a.name == argument)
    rows, cols = arg.dims
    shape = f"({rows},{cols})"
    return f"{shape}|(1,{cols})|({cols},)" if arg.row_bias else shape


def rows() -> list[dict[str, str]]:
    """One row per (objective, argument): shape, formula, definitions, derivation, call."""
    table = []
    for objective in OBJECTIVES:
        for argument in objective.arguments:
            gradient = objective.gradients[argument]
            table.append(
                {
                    "objective": objective.id,
                    "argument": argument,
                    "shape": _shape_text(objective, argument),
                    "gradient": gradient.text,
                    "gradient_latex": gradient.latex,
                    "row_bias_gradient": gradient.row_text or "",
                    "row_bias_gradient_latex": gradient.row_latex or "",
                    "where": objective.where_text,
                    "derivation": objective.derivation,
                    "call": objective.call,
                }
            )
    return table


def run(args: argparse.Namespace) -> int:
    table = rows()
    if args.json:
        print(json.dumps(table, ensure_ascii=False, indent=2))
        return 0
    formula = "gradient_latex" if args.latex else "gradient"
    row_form = "row_bias_gradient_latex" if args.latex else "row_bias_gradient"
    table = [
        # A bias of shape (n,·) / (1,·) or (·,): both gradients, as in the README's table.
        {**row, formula: row[formula] + (f" / {row[row_form]}" if row[row_form] else "")}
        for row in table
    ]
    columns = ("objective", "argument", "shape", formula)
    widths = {c: max(len(c), *(len(r[c]) for r in table)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    print("  ".join("-" * widths[c] for c in columns))
    for row in table:
        print("  ".join(row[c].ljust(widths[c]) for c in columns).rstrip())
    print()
    for objective in OBJECTIVES:
        print(f"{objective.id}: {objective.value_text}; where {objective.where_text}")
        print(f"    {objective.call}   derivation: {objective.derivation}")
    return 0
