"""Naming the slip behind a wrong gradient.

Each rule below undoes one common slip in a candidate gradient G; if the corrected G
fits the numeric reference, the slip is named. Shape rules (transposed, bias not
summed over rows) are also combined with value rules (sign, factor 2 or ½, constant
factor), e.g. a row bias's gradient left unsummed *and* missing its factor 2.

Examples
--------
>>> import numpy as np
>>> from matgrad.testing.diagnose import diagnose
>>> from matgrad.testing.reference import Reference
>>> reference = Reference(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))
>>> diagnose(reference.values / 2, reference, 1e-8)
'off by a factor ½'
>>> diagnose(-reference.values.T, reference, 1e-8)
'transposed, sign flipped'
>>> diagnose(reference.values + 1, reference, 1e-8) is None
True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from matgrad.testing.reference import Reference

Array = NDArray[Any]
Fix = Callable[[Array, Reference], "tuple[str, Array] | None"]
"""Undo one slip: (name, corrected G), or None where the slip cannot apply."""

SIGN = "sign flipped"
TWICE = "off by a factor 2"
HALF = "off by a factor ½"
TRANSPOSED = "transposed"
NOT_SUMMED = "bias not summed over rows"
CONSTANT = "off by a constant factor"

HINTS: dict[str, str] = {
    SIGN: "gradient ≈ −reference: a residual taken the wrong way round (Y − P for P − Y)?",
    TWICE: "gradient ≈ 2 × reference: a factor 2 applied twice?",
    HALF: "gradient ≈ ½ × reference: the 2 of ∂‖R‖²/∂R = 2R dropped?",
    TRANSPOSED: "gradient ≈ referenceᵀ: ∂f/∂A must have the shape and layout of A (e.g. XᵀG, not GᵀX)",
    NOT_SUMMED: "gradient has one row per sample: a bias broadcast over rows needs 1ₙᵀG, the sum over them",
    CONSTANT: "gradient ≈ k × reference: a scale such as 1/n, or a wrong constant",
}
"""What each named slip means and where it usually comes from."""


def _negated(G: Array, reference: Reference) -> tuple[str, Array] | None:
    return SIGN, -G


def _halved(G: Array, reference: Reference) -> tuple[str, Array] | None:
    return TWICE, G / 2


def _doubled(G: Array, reference: Reference) -> tuple[str, Array] | None:
    return HALF, 2 * G


def _rescaled(G: Array, reference: Reference) -> tuple[str, Array] | None:
    """G / k for the least-squares k in G ≈ k·ref; only when two or more values pin k down."""
    measured = reference.measure(G).ravel()
    values = reference.values.ravel()
    norm = float(np.vdot(values, values))
    if measured.size < 2 or not np.isfinite(norm) or norm == 0:
        return None
    k = float(np.vdot(values, measured).real) / norm
    if k == 0 or not np.isfinite(k):
        return None
    return f"{CONSTANT} {k:.4g}", G / k


def _transposed(G: Array, reference: Reference) -> tuple[str, Array] | None:
    if G.ndim != 2 or G.T.shape != reference.shape:
        return None
    return TRANSPOSED, G.T


def _summed_over_rows(G: Array, reference: Reference) -> tuple[str, Array] | None:
    """A (1, m) or (m,) bias whose gradient came back full, (n, m) with n > 1."""
    shape = reference.shape
    row = shape[-1:] if len(shape) == 1 or (len(shape) == 2 and shape[0] == 1) else None
    if row is None or G.ndim != 2 or G.shape[0] < 2 or G.shape[1:] != row:
        return None
    return NOT_SUMMED, G.sum(axis=0).reshape(shape)


VALUE_FIXES: tuple[Fix, ...] = (_negated, _halved, _doubled, _rescaled)
SHAPE_FIXES: tuple[Fix, ...] = (_transposed, _summed_over_rows)


def diagnose(G: Array, reference: Reference, tolerance: float) -> str | None:
    """The name of the first slip whose undoing makes G fit the reference, or None.

    Single slips are tried before pairs (a shape slip, then a value slip), so the
    simplest explanation wins; ``tolerance`` bounds |err| / max(1, |ref|).
    """
    G = np.asarray(G)
    fixes = (*VALUE_FIXES, *SHAPE_FIXES) if G.shape == reference.shape else SHAPE_FIXES
    for fix in fixes:
        fixed = fix(G, reference)
        if fixed is not None and reference.fits(fixed[1], tolerance):
            return fixed[0]
    for shape_fix in SHAPE_FIXES:
        reshaped = shape_fix(G, reference)
        if reshaped is None:
            continue
        for value_fix in VALUE_FIXES:
            fixed = value_fix(reshaped[1], reference)
            if fixed is not None and reference.fits(fixed[1], tolerance):
                return f"{reshaped[0]}, {fixed[0]}"
    return None


def hint(diagnosis: str) -> str:
    """The explanations of every slip named in ``diagnosis``, joined."""
    parts = [name.strip() for name in diagnosis.split(",")]
    return " ".join(HINTS[next(key for key in HINTS if part.startswith(key))] for part in parts)
