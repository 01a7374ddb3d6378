"""The layer rules of :mod:`matgrad.vjp`, written only against the array API standard.

Same functions, same signatures, same formulas; no ``out=`` buffers, no numpy calls:
every operation is an operator or a function of the arrays' own namespace, so the rules
run on any library ``array-api-compat`` supports (PyTorch, CuPy, JAX, array-api-strict)
and keep the arguments' device and dtype. An objective's ``evaluate`` runs its one chain
with these rules when given ``vjp=generic_vjp`` (see :mod:`matgrad.dispatch`).

``out`` parameters are accepted for the shared signature and ignored: results are new
arrays. On numpy object arrays of sympy symbols and on the prover's arrays of symbolic
shape the namespace is numpy and σ is the opaque sympy σ, so ``matgrad verify`` proves
these rules as they are.
"""

from __future__ import annotations

from typing import Any

from matgrad import elementwise

Array = Any

__all__ = [
    "add_bias",
    "add_bias_vjp",
    "linear",
    "linear_vjp",
    "namespace",
    "sigmoid",
    "sigmoid_vjp",
    "sqnorm",
    "sqnorm_vjp",
]


def namespace(x: Array) -> Any:
    """The array API namespace of ``x``: its own ``__array_namespace__``, else array-api-compat's."""
    if hasattr(x, "__array_namespace__"):
        return x.__array_namespace__()
    import numpy as np

    if isinstance(x, np.ndarray):  # numpy < 2 has no __array_namespace__; numpy ≥ 2 is the standard
        return np
    from array_api_compat import array_namespace

    return array_namespace(x)


def linear(X: Array, W: Array, b: Array) -> Array:
    """Z = XW + b.  X: (n,k), W: (k,m), b: (n,m), (1,m) or (m,) broadcast over rows."""
    return X @ W + b


def add_bias(S: Array, b: Array) -> Array:
    """A = S + b.  S: (n,h), b: (n,h), (1,h) or (h,) broadcast over rows."""
    return S + b


def add_bias_vjp(G: Array, bias_shape: tuple[int, ...]) -> Array:
    """∂/∂b ⟨G, S + 1ₙbᵀ⟩ = 1ₙᵀG: G summed over the rows b was broadcast to.  G: (n,m)."""
    if tuple(G.shape) == tuple(bias_shape):
        return G
    xp = namespace(G)
    return xp.reshape(xp.sum(G, axis=0), bias_shape)


def linear_vjp(
    G: Array,
    X: Array,
    W: Array,
    bias_shape: tuple[int, ...],
    need: tuple[bool, bool, bool],
    *,
    out_X: Array | None = None,
) -> tuple[Array | None, Array | None, Array | None]:
    """∂/∂(X, W, b) ⟨G, XW + b⟩ = (GWᵀ, XᵀG, 1ₙᵀG).  G: (n,m), X: (n,k), W: (k,m)."""
    del out_X
    need_X, need_W, need_b = need
    dW = X.T @ G if need_W else None
    dX = G @ W.T if need_X else None
    db = add_bias_vjp(G, bias_shape) if need_b else None
    return dX, dW, db


def sigmoid(H: Array, *, out: Array | None = None) -> Array:
    """σ(H) = 1 / (1 + exp(−H)), elementwise; stable: exp only sees arguments with Re ≤ 0.

    With e = exp(−H) where Re H ≥ 0 and exp(H) elsewhere (|e| ≤ 1): σ = 1/(1 + e),
    resp. e/(1 + e). Complex H follows the holomorphic extension.
    """
    del out
    if H.dtype == object:  # the prover's symbol arrays: the opaque sympy σ
        return elementwise.sigmoid(H)
    xp = namespace(H)
    real = xp.real(H) if xp.isdtype(H.dtype, "complex floating") else H
    negative = real < 0
    e = xp.exp(xp.where(negative, H, -H))
    return xp.where(negative, e, xp.ones_like(e)) / (1 + e)


def sigmoid_vjp(G: Array, S: Array, *, out: Array | None = None) -> Array:
    """∂/∂H ⟨G, σ(H)⟩ = G ⊙ S ⊙ (1 − S), from the saved S = σ(H).  G, S: (n,h)."""
    del out
    return G * S * (1 - S)


def sqnorm(R: Array) -> Array:
    """‖R‖²_F = Σᵢⱼ Rᵢⱼ² (no conjugation: the holomorphic extension for complex R); a 0-d array."""
    return namespace(R).sum(R * R)


def sqnorm_vjp(R: Array, *, out: Array | None = None) -> Array:
    """∂/∂R ‖R‖²_F = 2R.  R: (n,m)."""
    del out
    return 2 * R
