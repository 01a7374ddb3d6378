"""``matgrad derive``: the gradient of any matrix expression, with steps, code and proof.

Examples::

    matgrad derive "sqnorm(X @ W + b)" X=n,k W=k,m b=m --wrt W
    matgrad derive "trace(A @ X @ B)" --wrt X --steps
    matgrad derive "sqnorm(Y - (sigmoid(X@W1 + b1)@W2 + b2))" --numpy
    matgrad derive "sum(softplus(X @ w)) - y @ (X @ w)" X=m,n w=n y=m --wrt w --hessian
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

HELP = "derive, simplify and prove the gradient of a matrix expression"
FLAGS = ("-h", "--help", "--steps", "--numpy", "--latex", "--json", "--no-proof", "--hessian")
OPTIONS_WITH_VALUE = ("--wrt",)
EXIT_PROOF_FAILED = 1
EXIT_BAD_INPUT = 2
EPILOG = (
    "exit status: 0 derived (and proven, unless --no-proof); 1 the derivation failed its own "
    "proof; 2 bad input (syntax, names, shapes, too complex within the budget). An expression "
    "starting with '-' is read as the expression, not as an option."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("expression", help='numpy-flavoured expression, e.g. "sqnorm(X @ W + b)"')
    parser.add_argument(
        "shapes",
        nargs="*",
        metavar="NAME=SHAPE",
        help="declared shapes, e.g. X=10x4 W=n,k b=m lam=scalar (default: inferred; every name a matrix)",
    )
    parser.add_argument(
        "--wrt", help="names to differentiate with respect to, comma-separated (default: all)"
    )
    parser.add_argument(
        "--steps", action="store_true", help="print the derivation in differentials (Markdown)"
    )
    parser.add_argument("--numpy", action="store_true", help="print the generated numpy function")
    parser.add_argument("--latex", action="store_true", help="print the gradients as LaTeX")
    parser.add_argument("--json", action="store_true", help="print everything as JSON")
    parser.add_argument("--no-proof", action="store_true", help="skip the symbolic and numeric proofs")
    parser.add_argument(
        "--hessian",
        action="store_true",
        help="the second derivative with respect to the one --wrt name: the Hessian-vector product "
        "∇²f·V in closed form and, for a vector, the Hessian matrix",
    )


def _shapes(specs: list[str]) -> dict[str, str] | None:
    from matgrad.engine.errors import ShapeError

    if not specs:
        return None
    shapes: dict[str, str] = {}
    for spec in specs:
        name, sep, shape = spec.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ShapeError(f"shape declarations look like X=10x4 or b=m; got {spec!r}")
        if name in shapes:
            raise ShapeError(f"{name} is declared twice: {name}={shapes[name]} and {spec}")
        shapes[name] = shape
    return shapes


def _fail(args: argparse.Namespace, kind: str, message: str, code: int) -> int:
    if args.json:  # a program reading stdout gets an answer it can parse, error or not
        print(
            json.dumps({"error": kind, "message": message, "exit_code": code}, ensure_ascii=False, indent=2)
        )
    print(f"error: {message}", file=sys.stderr)
    return code


def run(args: argparse.Namespace) -> int:
    from matgrad.engine import ExpressionError, ProofFailure, derive

    try:
        derivation = derive(
            args.expression,
            args.wrt,
            _shapes(args.shapes),
            prove=not args.no_proof,
            order=2 if args.hessian else 1,
        )
    except ProofFailure as failure:
        return _fail(args, "proof failed", str(failure), EXIT_PROOF_FAILED)
    except ExpressionError as error:
        return _fail(args, type(error).__name__, str(error), EXIT_BAD_INPUT)
    if args.json:
        print(json.dumps(derivation.to_dict(), ensure_ascii=False, indent=2))
        return 0
    if args.hessian:
        return _print_second(derivation, args)
    print(derivation)
    if args.latex:
        print()
        for name in derivation.wrt:
            print(rf"\frac{{\partial f}}{{\partial {name}}} = {derivation.latex(name)}")
        for name, definition in derivation.where_latex():
            print(f"{name} = {definition}")
    if args.steps:
        print()
        print(derivation.steps_markdown(), end="")
    if args.numpy:
        print()
        print(derivation.numpy_source, end="")
    return 0


def _print_second(second: Any, args: argparse.Namespace) -> int:
    """A :class:`~matgrad.engine.second_order.SecondDerivation`, as ``run`` prints a gradient."""
    print(second)
    if args.latex:
        print()
        name, direction = second.wrt, second.direction.name
        print(rf"\nabla^2 f \cdot {direction} = {second.latex()}")
        if second.hessian is not None:
            print(rf"\frac{{\partial^2 f}}{{\partial {name}^2}} = {second.hessian_latex()}")
    if args.steps:
        print()
        print(second.first.steps_markdown(), end="")
        print(
            f"\nThe second derivative is the gradient of ⟨∂f/∂{second.wrt}, {second.direction.name}⟩, "
            "derived by the same rules."
        )
    if args.numpy:
        print()
        print(second.code.source, end="")
        if second.hessian_code is not None:
            print()
            print(second.hessian_code.source, end="")
    return 0
