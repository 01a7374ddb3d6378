"""The layer rules of :mod:`matgrad.vjp`, written only against the array API standard.

Same functions, same signatures, same formulas; no ``out=`` buffers, no numpy calls (the
tangent rules of the second order are defined here once, and :mod:`matgrad.vjp` uses them too):
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
    "add_bias_jvp",
    "add_bias_vjp",
    "as_row",
    "linear",
    "linear_jvp",
    "linear_vjp",
    "linear_vjp_jvp",
    "namespace",
    "row_blocks",
    "sigmoid",
    "sigmoid_jvp",
    "sigmoid_vjp",
    "sigmoid_vjp_jvp",
    "sqnorm",
    "sqnorm_vjp",
    "sqnorm_vjp_jvp",
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


def as_row(b: Array) -> Array:
    """b as one row.  b: (m,) or (1,m) -> (1,m)."""
    return namespace(b).reshape(b, (1, b.shape[-1]))


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


def row_blocks(kernel: Any, *arrays: Array) -> list[Any]:
    """``kernel`` on the whole arrays, once: the library runs each step whole (no blocks here)."""
    return [kernel(*arrays)]


def sqnorm(R: Array) -> Array:
    """‖R‖²_F = Σᵢⱼ Rᵢⱼ² (no conjugation: the holomorphic extension for complex R); a 0-d array."""
    return namespace(R).sum(R * R)


def sqnorm_vjp(R: Array, *, out: Array | None = None) -> Array:
    """∂/∂R ‖R‖²_F = 2R.  R: (n,m)."""
    del out
    return 2 * R


# Tangents (second order), None standing for a zero tangent. matgrad.vjp shares these: they
# use operators and the arrays' own namespace only, so numpy, object arrays of symbols and
# the prover's IndexArray run them as they are.


def _sum(*terms: Array | None) -> Array | None:
    """The sum of the terms that are not None (None: a zero tangent); None if all are."""
    present = [t for t in terms if t is not None]
    if not present:
        return None
    total: Array = present[0]
    for term in present[1:]:
        total = total + term
    return total


def _spread(db: Array, shape: tuple[int, ...]) -> Array:
    """1ₙḃᵀ: a row bias's tangent over all n rows, so that sums over rows count n of it."""
    return namespace(db).broadcast_to(db, shape)


def linear_jvp(X: Array, W: Array, dX: Array | None, dW: Array | None, db: Array | None) -> Array | None:
    """d(XW + b) = ẊW + XẆ + 1ₙḃᵀ.  Ẋ: (n,k), Ẇ: (k,m), ḃ broadcast over rows; None is zero."""
    if dX is None and dW is None and db is not None:
        return _spread(db, (X.shape[0], W.shape[1]))
    return _sum(None if dX is None else dX @ W, None if dW is None else X @ dW, db)


def add_bias_jvp(S: Array, dS: Array | None, db: Array | None) -> Array | None:
    """d(S + b) = Ṡ + 1ₙḃᵀ.  S, Ṡ: (n,h); ḃ broadcast over rows; None is zero."""
    if dS is None and db is not None:
        return _spread(db, tuple(S.shape))
    return _sum(dS, db)


def sigmoid_jvp(S: Array, dH: Array | None) -> Array | None:
    """dσ(H) = S ⊙ (1 − S) ⊙ Ḣ, from the saved S = σ(H).  S, Ḣ: (n,h)."""
    return None if dH is None else dH * S * (1 - S)


def sqnorm_vjp_jvp(dR: Array | None) -> Array | None:
    """d(2R) = 2Ṙ, the tangent of ∂/∂R ‖R‖²_F.  Ṙ: (n,m)."""
    return None if dR is None else 2 * dR


def sigmoid_vjp_jvp(G: Array, dG: Array | None, S: Array, dS: Array | None) -> Array | None:
    """d(G ⊙ σ′(H)) = Ġ ⊙ S ⊙ (1 − S) + G ⊙ Ṡ ⊙ (1 − 2S), since σ″ = σ′(1 − 2σ).  All (n,h)."""
    first = None if dG is None else dG * S * (1 - S)
    second = None if dS is None else G * dS * (1 - 2 * S)
    return _sum(first, second)


def linear_vjp_jvp(
    G: Array,
    dG: Array | None,
    X: Array,
    W: Array,
    dX: Array | None,
    dW: Array | None,
    bias_shape: tuple[int, ...],
    need: tuple[bool, bool, bool],
) -> tuple[Array | None, Array | None, Array | None]:
    """d(GWᵀ, XᵀG, 1ₙᵀG) = (ĠWᵀ + GẆᵀ, ẊᵀG + XᵀĠ, 1ₙᵀĠ).  G: (n,m), X: (n,k), W: (k,m)."""
    need_X, need_W, need_b = need
    dGX = dGW = dGb = None
    if dG is not None:
        dGX, dGW, dGb = linear_vjp(dG, X, W, bias_shape, need)
    cross_X = G @ dW.T if need_X and dW is not None else None
    cross_W = dX.T @ G if need_W and dX is not None else None
    return _sum(dGX, cross_X), _sum(dGW, cross_W), dGb if need_b else None
