"""The derivation engine: closed-form gradients of any matrix expression, with proof.

>>> from matgrad.engine import derive
>>> d = derive("trace(A @ X @ B)", "X", prove=False)
>>> d.text("X")
'AᵀBᵀ'

Modules: :mod:`~matgrad.engine.nodes` (the node types), :mod:`~matgrad.engine.parser`,
:mod:`~matgrad.engine.shapes`, :mod:`~matgrad.engine.differentiate`,
:mod:`~matgrad.engine.simplify`, :mod:`~matgrad.engine.latex`,
:mod:`~matgrad.engine.codegen`, :mod:`~matgrad.engine.to_sympy`,
:mod:`~matgrad.engine.steps`, :mod:`~matgrad.engine.proof`; each operation on nodes is
one table of per-type rules in its module.
"""

from matgrad.engine.derivation import Derivation, derive
from matgrad.engine.errors import (
    ExpressionError,
    ExpressionSyntaxError,
    NestingError,
    ProofFailure,
    ShapeError,
    UnknownNameError,
)

__all__ = [
    "Derivation",
    "ExpressionError",
    "ExpressionSyntaxError",
    "NestingError",
    "ProofFailure",
    "ShapeError",
    "UnknownNameError",
    "derive",
]
