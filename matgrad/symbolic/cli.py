"""``matgrad verify``: prove every gradient of the registry and print the verdicts as a table."""

from __future__ import annotations

import argparse
import json
import sys
import time

HELP = (
    "prove every gradient formula exactly with sympy, at concrete shapes and at all sizes, "
    "and every Hessian-vector and Gauss–Newton product"
)
EPILOG = "exit status: 0 every proof holds; 1 a proof failed or is undecided; 2 bad input (unknown objective)"

_COLUMNS = ("objective", "formula", "method", "shapes", "verdict", "seconds")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the verdicts as JSON")
    parser.add_argument(
        "--objective",
        metavar="NAME",
        help="only this objective: an id (sigmoid_net.pre) or a module name (sigmoid_net)",
    )
    parser.add_argument(
        "--second-order-all-sizes",
        action="store_true",
        help="also prove the Hessian-vector and Gauss–Newton products at all sizes (minutes, not seconds)",
    )


def _table(rows: list[dict[str, str]]) -> str:
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in _COLUMNS}
    lines = ["  ".join(c.ljust(widths[c]) for c in _COLUMNS), "  ".join("-" * widths[c] for c in _COLUMNS)]
    for row in rows:
        cells = [row[c].rjust(widths[c]) if c == "seconds" else row[c].ljust(widths[c]) for c in _COLUMNS]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    # sympy is loaded here, not when the parser is built, so `matgrad list` stays light.
    from matgrad.symbolic.verification import verify

    start = time.perf_counter()
    try:
        verdicts = verify(args.objective, second_order_all_sizes=args.second_order_all_sizes)
    except KeyError as error:
        print(f"matgrad verify: {error.args[0]}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - start
    failed = [v for v in verdicts if not v.proven]
    if args.json:
        print(json.dumps([v.to_dict() for v in verdicts], ensure_ascii=False, indent=2))
        return 1 if failed else 0
    rows = [
        {
            "objective": v.objective,
            "formula": v.label,
            "method": v.method,
            "shapes": v.shapes,
            "verdict": "proven" if v.proven else "FAILED",
            "seconds": f"{v.seconds:.2f}",
        }
        for v in verdicts
    ]
    print(_table(rows))
    for verdict in failed:
        print()
        print(verdict)
    print()
    print(
        f"{len(verdicts)} proofs, {len(verdicts) - len(failed)} proven, {len(failed)} failed, "
        f"in {seconds:.1f} s. concrete shapes: exact at each shape listed; "
        "all sizes: exact with the sizes as symbols; array API: the path for torch, CuPy, JAX, ... arrays; "
        "V: a direction of symbols moving every argument, then each alone."
    )
    return 1 if failed else 0
