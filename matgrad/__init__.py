"""matgrad: closed-form, hand-derived and symbolically proven gradients of matrix objectives.

Each objective is a module with ``value``, ``grad`` and ``value_and_grad``:

>>> import numpy as np
>>> import matgrad
>>> X, W, b = np.ones((3, 2)), np.ones((2, 2)), np.zeros(2)
>>> matgrad.affine.grad(X, W, b, wrt="W")["W"]
array([[12., 12.],
       [12., 12.]])

``matgrad.registry.OBJECTIVES`` lists every objective with its formulas. Importing
matgrad loads numpy only; sympy is imported by ``matgrad.symbolic`` when it is used.
"""

from typing import TYPE_CHECKING, Any

from matgrad import affine, sigmoid_net
from matgrad.registry import OBJECTIVES, get_objective

if TYPE_CHECKING:
    from matgrad.engine import Derivation

__version__ = "0.1.0"

__all__ = ["OBJECTIVES", "__version__", "affine", "derive", "get_objective", "sigmoid_net"]


def derive(
    expression: str,
    wrt: Any = None,
    shapes: Any = None,
    *,
    prove: bool = True,
    timeout: float | None = 8.0,
    order: int = 1,
) -> "Derivation":
    """Closed-form, proven gradients of a matrix expression: :func:`matgrad.engine.derive`.

    Imports the engine (and sympy) only when called, so ``import matgrad`` stays light.
    """
    from matgrad.engine import derive as engine_derive

    return engine_derive(expression, wrt, shapes, prove=prove, timeout=timeout, order=order)  # type: ignore[no-any-return]
