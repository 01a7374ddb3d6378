"""The ``matgrad`` command line.

Each subcommand lives in its own module, named in :data:`SUBCOMMANDS`, which provides
``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``. A module is
imported only when its subcommand is parsed, so ``matgrad list`` never loads sympy.
"""

from __future__ import annotations

import argparse
import codecs
import importlib
import os
import sys
import unicodedata
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
        sub = subparsers.add_parser(
            name, help=module.HELP, description=module.HELP, epilog=getattr(module, "EPILOG", None)
        )
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def _expression_first(argv: list[str]) -> list[str]:
    """``derive -sum(X)``: an expression that starts with '-' is the expression, not an option.

    Known options go first, then ``--``, then the positional arguments, so argparse reads
    ``-sum(X)`` and ``-X @ W`` as text.
    """
    if not argv or argv[0] != "derive" or "--" in argv:
        return argv
    from matgrad.engine.cli import FLAGS, OPTIONS_WITH_VALUE

    options: list[str] = []
    positional: list[str] = []
    rest = iter(argv[1:])
    for item in rest:
        if item in FLAGS or item.split("=", 1)[0] in OPTIONS_WITH_VALUE:
            options.append(item)
            if item in OPTIONS_WITH_VALUE:
                options.append(next(rest, ""))
        else:
            positional.append(item)
    return ["derive", *options, "--", *positional]


def _ascii_fallback(stream: object) -> None:
    """On a stream that cannot encode our math (an ASCII or latin-1 terminal), write ASCII math."""
    encoding = getattr(stream, "encoding", None) or "ascii"
    try:
        "∂‖ᵀ⊙σ₁²".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors=ASCII_MATH)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: sys.argv[1:]) and run the subcommand; return its exit code.

    Exit status: 0 success; 1 a proof or check failed; 2 bad input (including argparse's
    usage errors); 3 the output could not be written (e.g. a full disk).
    """
    for stream in (sys.stdout, sys.stderr):
        _ascii_fallback(stream)
    args = build_parser().parse_args(_expression_first(list(sys.argv[1:] if argv is None else argv)))
    try:
        code = int(args.run(args))
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        # The reader went away (`matgrad list | head`): not an error of ours. Point
        # stdout at devnull so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as error:  # e.g. stdout on a full disk (/dev/full)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        print(f"error: cannot write the output: {error.strerror or error}", file=sys.stderr)
        return 3


_ASCII_MATH = {
    "∂": "d",
    "‖": "||",
    "ᵀ": "^T",
    "⊙": "(.)",
    "·": "*",
    "σ": "sigma",
    "Δ": "Delta",
    "Σ": "Sum",
    "−": "-",
    "×": "x",
    "≤": "<=",
    "≥": ">=",
    "≈": "~",
    "→": "->",
    "…": "...",
    "—": "--",
    "–": "-",
    "⁻": "^-",
    "¹": "1",
    "²": "^2",
    "³": "^3",
    "√": "sqrt",
    "∘": "o",
    "₁": "1",
    "₂": "2",
    "ₙ": "_n",
}


def _ascii_math(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    bad = error.object[error.start : error.end]
    out = []
    for character in bad:
        if character in _ASCII_MATH:
            out.append(_ASCII_MATH[character])
            continue
        decomposed = unicodedata.normalize("NFKD", character).encode("ascii", "ignore").decode()
        out.append(decomposed or "?")
    return "".join(out), error.end


ASCII_MATH = "matgrad-ascii-math"
codecs.register_error(ASCII_MATH, _ascii_math)
