"""The default pass threshold on |err| / max(1, |ref|) for a dtype and a method.

tolerance = √u + (the reference's own error), where u is the unit roundoff of the
gradient's dtype. √u (1.5e-8 for float64, 3.5e-4 for float32) asks the gradient to
agree with the reference in half its digits: a correct closed form does far better
(rounding costs a few u, times the conditioning of the sums involved), while a wrong one
(a missing factor, a dropped σ′, a transposition) is off by O(1) in some entry.

The reference error is nil for the complex step (exact to machine precision). For
central differences and the random-direction test it is O(ε^{2/3}) times the scale of
f (see :mod:`matgrad.testing.methods`); we allow 100·ε^{2/3}·max(1, |f|) ≈
3.7e-9·max(1, |f|), with ε the float64 epsilon since references are computed in float64.

Examples
--------
>>> import numpy as np
>>> from matgrad.testing.tolerance import default_tolerance
>>> f"{default_tolerance(np.float64, 'complex', 10.0):.2e}"
'1.49e-08'
>>> f"{default_tolerance(np.float32, 'central', 10.0):.2e}"
'3.45e-04'
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import DTypeLike

from matgrad.testing.methods import EPS

DIFFERENCE_ERROR = 100 * EPS ** (2 / 3)
"""Allowance for the error of a central difference, per unit of max(1, |f|)."""

EXACT_METHODS = frozenset({"complex", "reference"})
"""Methods whose reference is exact to machine precision."""


def default_tolerance(dtype: DTypeLike, method: str, value: float) -> float:
    """√u(dtype) + 100·ε^{2/3}·max(1, |f|) for difference methods, √u(dtype) for exact references.

    ``dtype`` is the gradient's; non-float dtypes count as float64. ``value`` is f at
    the point checked.
    """
    kind = np.dtype(dtype)
    unit = float(np.finfo(kind).eps) if kind.kind in "fc" else EPS
    tolerance = math.sqrt(unit)
    if method not in EXACT_METHODS:
        tolerance += DIFFERENCE_ERROR * max(1.0, abs(value))
    return tolerance
