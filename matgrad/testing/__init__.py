"""Numerical gradient checking that says how wrong a gradient is, where, and why.

Give any objective as plain numpy callables, ``f(**arrays) -> scalar`` and
``grad(**arrays) -> dict``, or name a registry entry. References are central
differences, the complex step or the random-direction test
(:mod:`matgrad.testing.methods` explains each and its step); the report gives, per
argument, the max absolute and relative error (|err| / max(1, |ref|)), the worst entry,
the tolerance for the dtype and, for a failure, the common slip that explains it
(:mod:`matgrad.testing.diagnose`).

Examples
--------
>>> import numpy as np
>>> from matgrad import affine
>>> from matgrad.testing import check_gradients, check_objective
>>> check_objective("affine", method="complex").passed
True
>>> rng = np.random.default_rng(0)
>>> arrays = {"X": rng.standard_normal((5, 3)), "W": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}
>>> def wrong_grad(X, W, b):
...     grads = affine.grad(X, W, b)
...     return dict(grads, b=2 * (X @ W + b))  # the row bias's gradient not summed over rows
>>> report = check_gradients(affine.value, wrong_grad, arrays)
>>> report.arguments["b"].diagnosis
'bias not summed over rows'
"""

from matgrad.testing.check import (
    check_gradients,
    check_objective,
    check_second_order,
    compare_gradients,
    random_sizes,
)
from matgrad.testing.methods import (
    central_difference,
    complex_step,
    directional_derivative,
    forward_difference,
)
from matgrad.testing.report import ArgumentReport, GradientReport
from matgrad.testing.sweep import step_size_sweep
from matgrad.testing.tolerance import default_tolerance

__all__ = [
    "ArgumentReport",
    "GradientReport",
    "central_difference",
    "check_gradients",
    "check_objective",
    "check_second_order",
    "compare_gradients",
    "complex_step",
    "default_tolerance",
    "directional_derivative",
    "forward_difference",
    "random_sizes",
    "step_size_sweep",
]
