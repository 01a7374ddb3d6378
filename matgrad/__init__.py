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

from matgrad import affine, sigmoid_net
from matgrad.registry import OBJECTIVES, get_objective

__version__ = "0.1.0"

__all__ = ["OBJECTIVES", "__version__", "affine", "get_objective", "sigmoid_net"]
