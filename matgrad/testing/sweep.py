"""Error of finite-difference and complex-step derivatives against a gradient, as the step varies.

The classic "V" plot: as h shrinks the forward (O(h)) and central (O(h²)) truncation
errors fall until rounding (≈ ε|f|/h) takes over and the error rises again; the complex
step has no rounding term and stays at machine precision down to the tiniest h.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike

from matgrad.testing.methods import METHODS, Array, GradientFunction, ScalarFunction, on_copies
from matgrad.testing.reference import relative_errors

SWEEP_METHODS = ("forward", "central", "complex")


def step_size_sweep(
    f: ScalarFunction,
    grad: GradientFunction,
    arrays: Mapping[str, ArrayLike],
    wrt: str,
    steps: ArrayLike | None = None,
) -> dict[str, Array]:
    """max |err| / max(1, |∂f/∂A|) of each numeric derivative of ``wrt`` for each absolute step h.

    ``grad(**arrays)[wrt]`` is the exact gradient the numeric ones are measured against
    (pass float64 arrays and a correct gradient). ``steps`` defaults to 10⁻²⁰ … 10⁻¹,
    four per decade. Returns float arrays of len(steps) under "central", "forward" and
    "complex", and the steps under "steps". Where a step is too small to move an entry
    at all (x + h == x in floating point), a difference quotient is 0/0 and its error
    is NaN, silently: that is the point where the V-curve ends.

    Examples
    --------
    >>> import numpy as np
    >>> from matgrad.testing import step_size_sweep
    >>> def f(A):
    ...     return np.exp(A).sum()
    >>> def grad(A):
    ...     return {"A": np.exp(A)}
    >>> A = np.random.default_rng(0).standard_normal((3, 2))
    >>> sweep = step_size_sweep(f, grad, {"A": A}, "A", steps=[1e-2, 1e-5, 1e-12])
    >>> central = sweep["central"]  # truncation at 1e-2, rounding at 1e-12: a V
    >>> bool(central[1] < central[0] / 1000 and central[1] < central[2] / 1000)
    True
    >>> bool(sweep["complex"][2] < 1e-15)  # no rounding term: exact at any tiny step
    True
    """
    h = np.logspace(-20, -1, 77) if steps is None else np.asarray(steps, dtype=np.float64).ravel()
    if h.size == 0 or not np.all(h > 0):
        raise ValueError("steps must be positive numbers")
    f, grad = on_copies(f), on_copies(grad)  # user code must not change the caller's arrays
    exact = np.asarray(grad(**arrays)[wrt])
    sweep: dict[str, Array] = {"steps": h}
    for method in SWEEP_METHODS:
        numeric = METHODS[method]
        with np.errstate(invalid="ignore", divide="ignore"):
            errors = [relative_errors(numeric(f, arrays, wrt, step), exact) for step in h]
        sweep[method] = np.array([float(np.max(e, initial=0.0)) for e in errors])
    return sweep
