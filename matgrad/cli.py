"""The ``matgrad`` command line.

Each subcommand lives in its own module, named in :data:`SUBCOMMANDS`, which provides
``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``. A module is
imported only when its subcommand is parsed, so ``matgrad list`` never loads sympy.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

SUBCOMMANDS: dict[str, str] = {
    "list": "matgrad.cli_list",
    "verify": "matgrad.symbolic.cli",
    "check": "matgrad.testing.cli",
    "derive": "matgrad.engine.cli",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="matgrad",
        description="Closed-form, symbolically verified gradients of matrix objectives.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in SUBCOMMANDS.items():
        module = importlib.import_module(module_name)
        sub = subparsers.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: sys.argv[1:]) and run the subcommand; return its exit code."""
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return int(args.run(args))
    except BrokenPipeError:
        # The reader went away (`matgrad list | head`): not an error of ours. Point
        # stdout at devnull so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
