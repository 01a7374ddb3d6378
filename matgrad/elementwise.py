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

from matgrad.blockwise import map_blocks


def _apply_object(function: Any, H: NDArray[Any]) -> NDArray[Any]:
    out = np.empty(H.shape, dtype=object)
    for index, entry in np.ndenumerate(H):
        out[index] = function(entry)
    return out


def _real_sigmoid_into(S: NDArray[Any], H: NDArray[Any]) -> None:
    """S = σ(H) for real H, S may be H: with e = exp(−|H|) ≤ 1, σ = (1 if H ≥ 0 else e)/(1 + e)."""
    nonnegative = H >= 0  # first: S may be H
    np.abs(H, out=S)
    np.negative(S, out=S)
    np.exp(S, out=S)
    numerator = np.maximum(S, nonnegative)
    np.add(S, 1, out=S)
    np.divide(numerator, S, out=S)


def sigmoid(H: NDArray[Any], *, out: NDArray[Any] | None = None) -> NDArray[Any]:
    """σ(H) = 1 / (1 + exp(−H)), elementwise; stable for |H| up to the dtype's range.

    For Re H ≥ 0 it evaluates 1/(1 + e) with e = exp(−H); for Re H < 0 it evaluates
    e/(1 + e) with e = exp(H). exp only ever sees arguments with non-positive real part,
    so it cannot overflow, and small σ keeps full relative precision (no 1 − σ
    cancellation). Complex input follows the holomorphic extension (for complex step).
    Large real arrays are processed in cache-sized blocks on every core
    (:mod:`matgrad.blockwise`). ``out`` receives σ(H) and may be H itself, when the
    caller owns H and needs it no more.
    """
    if out is None:
        out = np.empty(H.shape, object if H.dtype == object else np.result_type(H, 0.0))
    if H.dtype == object:
        from matgrad.symbolic.functions import sigma

        out[...] = _apply_object(sigma, H)
    elif np.iscomplexobj(H):
        negative = H.real < 0
        e = np.exp(np.where(negative, H, -H))
        np.add(e, 1, out=out)
        np.reciprocal(out, out=out)
        np.multiply(out, e, out=out, where=negative)
    else:
        map_blocks(_real_sigmoid_into, out, H)
    return out
