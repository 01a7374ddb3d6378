"""``matgrad check``: numeric gradient checks of every registry entry at random sizes."""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import TYPE_CHECKING, Any

from matgrad.signature import BIAS_KINDS
from matgrad.testing.report import GradientReport, format_shape, format_table

if TYPE_CHECKING:
    from matgrad.registry import Objective

HELP = "check every closed-form gradient numerically (central, complex step, random direction)"

METHODS = ("central", "complex", "direction")
DTYPES = ("float64", "float32")


def size_range(text: str) -> tuple[int, int]:
    """'LO:HI' (each size drawn from LO to HI) or 'N' (every size N)."""
    low, sep, high = text.partition(":")
    try:
        bounds = (int(low), int(high) if sep else int(low))
    except ValueError:
        raise argparse.ArgumentTypeError(f"sizes must be LO:HI or N, e.g. 1:6; got {text!r}") from None
    if not 0 <= bounds[0] <= bounds[1]:
        raise argparse.ArgumentTypeError(f"sizes need 0 ≤ LO ≤ HI; got {text!r}")
    return bounds


MAX_ENTRIES = 10**7
"""Entries of the largest argument that ``--sizes`` may ask for (a gradient check is for small sizes)."""
EPILOG = (
    "exit status: 0 every check passed; 1 a check failed; 2 bad input (unknown objective, bad sizes or seed)."
)


def seed(text: str) -> int:
    """A seed for numpy's default_rng: a non-negative integer."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"the seed must be a non-negative integer; got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"the seed must be a non-negative integer; got {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=seed, default=0, help="seed of the sizes, arguments and directions")
    parser.add_argument(
        "--sizes", type=size_range, default=(1, 6), metavar="LO:HI", help="range of every size (default 1:6)"
    )
    parser.add_argument("--dtype", choices=DTYPES, default="float64", help="dtype of the arguments")
    parser.add_argument(
        "--method", choices=METHODS, action="append", help="reference method (repeatable; default: all)"
    )
    parser.add_argument(
        "--bias-kind", choices=BIAS_KINDS, action="append", help="bias shape (repeatable; default: all)"
    )
    parser.add_argument("--objective", help="a registry id or module name (default: every entry)")
    parser.add_argument("--json", action="store_true", help="print the reports as JSON")
    parser.add_argument(
        "--second-order",
        action="store_true",
        help="check the Hessian-vector (∇²f·V) and Gauss–Newton (2JᵀJ·V) products instead "
        "(methods central and complex: differences of the gradient along V)",
    )


def _rows(
    objective: Objective, size_text: str, kind: str, reports: list[GradientReport], label: str = "{}"
) -> list[tuple[str, ...]]:
    """One table row per argument: its relative error under each method and the verdict."""
    rows = []
    for name in objective.arguments:
        results = [r.arguments[name] for r in reports]
        diagnoses = sorted({a.diagnosis or "FAIL" for a in results if not a.passed})
        verdict = "ok" if not diagnoses else "FAIL: " + "; ".join(diagnoses)
        shape = format_shape(results[0].shape)
        errors = (f"{a.max_rel_error:.1e}" for a in results)
        rows.append((objective.id, size_text, kind, label.format(name), shape, *errors, verdict))
    return rows


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from matgrad.registry import OBJECTIVES, objectives_named
    from matgrad.testing.check import check_objective, check_second_order, random_sizes

    try:
        objectives = OBJECTIVES if args.objective is None else objectives_named(args.objective)
    except KeyError as error:
        print(f"error: {error.args[0]}", file=sys.stderr)
        return 2
    for objective in objectives:
        largest = max(
            math.prod(shape)
            for shape in objective.signature.shapes(
                dict.fromkeys(objective.signature.dims, args.sizes[1]), "full"
            ).values()
        )
        if largest > MAX_ENTRIES:
            print(
                f"error: --sizes up to {args.sizes[1]} give {objective.id} an argument of "
                f"{largest:.3g} entries; gradient checks are for small sizes (at most {MAX_ENTRIES:.0e})",
                file=sys.stderr,
            )
            return 2
    methods = tuple(args.method or METHODS)
    if args.second_order:
        methods = tuple(m for m in methods if m != "direction")
        if not methods:
            print("error: --second-order checks with the methods central and complex", file=sys.stderr)
            return 2
    rng = np.random.default_rng(args.seed)
    rows: list[tuple[str, ...]] = []
    reports: list[dict[str, Any]] = []
    failed: list[GradientReport] = []
    for objective in objectives:
        sizes = random_sizes(objective.signature, rng, *args.sizes)
        size_text = " ".join(f"{dim}={size}" for dim, size in sizes.items())
        for kind in args.bias_kind or BIAS_KINDS:
            if args.second_order:
                for quantity, label in (("hvp", "(∇²f·V)_{}"), ("gauss_newton", "(2JᵀJ·V)_{}")):
                    checks = [
                        check_second_order(
                            objective,
                            quantity,
                            sizes=sizes,
                            bias_kind=kind,
                            dtype=args.dtype,
                            method=m,
                            seed=args.seed,
                        )
                        for m in methods
                    ]
                    rows += _rows(objective, size_text, kind, checks, label)
                    reports += [
                        {"sizes": sizes, "bias_kind": kind, "quantity": quantity, **r.to_dict()}
                        for r in checks
                    ]
                    failed += [r for r in checks if not r.passed]
                continue
            checks = [
                check_objective(
                    objective, sizes=sizes, bias_kind=kind, dtype=args.dtype, method=m, seed=args.seed
                )
                for m in methods
            ]
            rows += _rows(objective, size_text, kind, checks)
            reports += [{"sizes": sizes, "bias_kind": kind, **r.to_dict()} for r in checks]
            failed += [r for r in checks if not r.passed]
    if args.json:
        print(json.dumps(reports, ensure_ascii=False, indent=2))
        return 1 if failed else 0
    header = ("objective", "sizes", "bias", "argument", "shape", *(f"{m} rel err" for m in methods), "result")
    print("\n".join(format_table(header, rows)))
    what = "products" if args.second_order else "gradients"
    scope = f"{len(rows)} {what} × {len(methods)} methods ({', '.join(methods)})"
    verdict = "all pass" if not failed else f"{len(failed)} checks FAILED"
    print(f"\nrel err = max |err| / max(1, |ref|). {scope}, {args.dtype}, seed {args.seed}: {verdict}")
    for report in failed:
        print(f"\n{report}")
    return 1 if failed else 0
