"""Elementwise functions, dispatched on dtype.

Numeric arrays get a numerically stable numpy kernel. Object arrays (numpy arrays of
sympy expressions) get the opaque sympy function of ``matgrad.symbolic.functions``,
so that the very same VJP code that users call can be run symbolically and proven.
sympy is imported only on that path, keeping ``import matgrad`` light.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray


def _apply_object(function: Any, H: NDArray[Any]) -> NDArray[Any]:
    out = np.empty(H.shape, dtype=object)
    for index, entry in np.ndenumerate(H):
        out[index] = function(entry)
    return out


def sigmoid(H: NDArray[Any]) -> NDArray[Any]:
    """σ(H) = 1 / (1 + exp(−H)), elementwise; stable for |H| up to the dtype's range.

    For Re H ≥ 0 it evaluates 1/(1 + e) with e = exp(−H); for Re H < 0 it evaluates
    e/(1 + e) with e = exp(H). exp only ever sees arguments with non-positive real part,
    so it cannot overflow, and small σ keeps full relative precision (no 1 − σ
    cancellation). Complex input follows the holomorphic extension (for complex step).
    """
    if H.dtype == object:
        from matgrad.symbolic.functions import sigma

        return _apply_object(sigma, H)
    if np.iscomplexobj(H):
        negative = H.real < 0
        e = np.exp(np.where(negative, H, -H))
    else:
        negative = H < 0
        e = np.exp(-np.abs(H))
    S = np.add(e, 1)
    np.reciprocal(S, out=S)
    np.multiply(S, e, out=S, where=negative)
    return S
