"""``matgrad list``: the registry as a table of objectives, arguments, shapes and formulas."""

from __future__ import annotations

import argparse
import json

from matgrad.registry import OBJECTIVES, Objective

HELP = "list the objectives, their arguments' shapes and gradient formulas"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the table as JSON")
    parser.add_argument("--latex", action="store_true", help="print formulas as LaTeX")
    parser.add_argument(
        "--second-order",
        action="store_true",
        help="print the Hessian-vector (∇²f·V) and Gauss–Newton (2JᵀJ·V) products instead of the gradients",
    )


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


def second_order_rows() -> list[dict[str, str]]:
    """One row per (objective, argument): ∇²f·V and 2JᵀJ·V for that argument, with their definitions."""
    table = []
    for objective in OBJECTIVES:
        second = objective.second_order
        for argument in objective.arguments:
            hvp, gauss_newton = second.hvp[argument], second.gauss_newton[argument]
            table.append(
                {
                    "objective": objective.id,
                    "argument": argument,
                    "shape": _shape_text(objective, argument),
                    "hvp": hvp.text + (f" / {hvp.row_text}" if hvp.row_text else ""),
                    "hvp_latex": hvp.latex,
                    "gauss_newton": gauss_newton.text
                    + (f" / {gauss_newton.row_text}" if gauss_newton.row_text else ""),
                    "gauss_newton_latex": gauss_newton.latex,
                    "where": f"{objective.where_text}; {second.tangent_text}",
                    "gauss_newton_where": second.gauss_newton_where_text,
                    "derivation": objective.second_order_derivation,
                }
            )
    return table


def _print_table(table: list[dict[str, str]], columns: tuple[str, ...]) -> None:
    """The rows as aligned text columns under a header and a rule."""
    widths = {c: max(len(c), *(len(r[c]) for r in table)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    print("  ".join("-" * widths[c] for c in columns))
    for row in table:
        print("  ".join(row[c].ljust(widths[c]) for c in columns).rstrip())


def _print_second_order(as_json: bool, latex: bool) -> int:
    table = second_order_rows()
    if as_json:
        print(json.dumps(table, ensure_ascii=False, indent=2))
        return 0
    hvp, gauss_newton = ("hvp_latex", "gauss_newton_latex") if latex else ("hvp", "gauss_newton")
    _print_table(table, ("objective", "argument", "shape", hvp, gauss_newton))
    print()
    for objective in OBJECTIVES:
        second = objective.second_order
        extra = f"; Gauss–Newton: {second.gauss_newton_where_text}" if second.gauss_newton_where_text else ""
        print(f"{objective.id}: V = direction, a dot = its tangent; {second.tangent_text}{extra}")
        print(f"    derivation: {objective.second_order_derivation}")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.second_order:
        return _print_second_order(args.json, args.latex)
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
    _print_table(table, ("objective", "argument", "shape", formula))
    print()
    for objective in OBJECTIVES:
        print(f"{objective.id}: {objective.value_text}; where {objective.where_text}")
        print(f"    {objective.call}   derivation: {objective.derivation}")
    return 0
