"""f = ‖Y − Y_p‖²_F for a two-layer sigmoid network, and its gradients.

Shapes: X (n, d), Y (n, o), W1 (d, h), b1 (n, h), W2 (h, o), b2 (n, o); each bias may
also be one row, (1, ·) or 1-D, broadcast over the n rows.

Two bias placements, both first-class:

- ``bias="pre"`` (default), the seed notebook's written formula:
  Y_p = σ(XW₁ + b₁)W₂ + b₂;
- ``bias="post"``, what the seed notebook's code computes:
  Y_p = (σ(XW₁) + b₁)W₂ + b₂.

The chain, read from :func:`evaluate`::

    pre:  H = XW₁ + b₁   S = σ(H)            A = S
    post: H = XW₁        S = σ(H)            A = S + b₁
          Y_p = AW₂ + b₂   R = Y_p − Y   f = ‖R‖²_F
    G_P = 2R                                         sqnorm_vjp
    (G_A, ∂f/∂W₂, ∂f/∂b₂) = (G_P W₂ᵀ, AᵀG_P, 1ₙᵀG_P)  linear_vjp
    ∂f/∂Y = −G_P
    post: ∂f/∂b₁ = 1ₙᵀG_A                            add_bias_vjp
    G_H = G_A ⊙ S ⊙ (1 − S)                          sigmoid_vjp
    (∂f/∂X, ∂f/∂W₁, pre: ∂f/∂b₁) = (G_H W₁ᵀ, XᵀG_H, 1ₙᵀG_H)   linear_vjp

Examples
--------
>>> import numpy as np
>>> from matgrad import sigmoid_net
>>> rng = np.random.default_rng(0)
>>> X, Y = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
>>> W1, b1 = rng.standard_normal((3, 4)), rng.standard_normal(4)
>>> W2, b2 = rng.standard_normal((4, 2)), rng.standard_normal(2)
>>> grads = sigmoid_net.grad(X, Y, W1, b1, W2, b2, wrt=("W1", "b1"))
>>> {name: g.shape for name, g in grads.items()}
{'W1': (3, 4), 'b1': (4,)}
"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import Any, Literal

from numpy.typing import ArrayLike

from matgrad import dispatch, vjp
from matgrad.signature import Arg, Signature
from matgrad.vjp import Array
from matgrad.wrt import Wrt, pick, resolve_wrt

BiasPlacement = Literal["pre", "post"]
BIAS_PLACEMENTS: tuple[BiasPlacement, ...] = ("pre", "post")

SIGNATURE = Signature(
    (
        Arg("X", ("n", "d")),
        Arg("Y", ("n", "o")),
        Arg("W1", ("d", "h")),
        Arg("b1", ("n", "h"), row_bias=True),
        Arg("W2", ("h", "o")),
        Arg("b2", ("n", "o"), row_bias=True),
    )
)
ARGUMENTS = SIGNATURE.names


def _check_bias(bias: str) -> BiasPlacement:
    if bias not in BIAS_PLACEMENTS:
        raise ValueError(f"bias must be 'pre' (σ(XW₁ + b₁)) or 'post' (σ(XW₁) + b₁); got {bias!r}")
    return bias


def evaluate(
    arrays: Mapping[str, Array],
    wrt: tuple[str, ...],
    *,
    bias: BiasPlacement = "pre",
    with_value: bool = True,
    vjp: ModuleType = vjp,
) -> tuple[Any, dict[str, Array]]:
    """Value and the gradients named in ``wrt``, on already validated arrays.

    This is the code behind the public functions, without input checks, so that it
    also runs on object arrays of sympy symbols (``matgrad.symbolic`` proves it so).
    ``vjp`` holds the layer rules: :mod:`matgrad.vjp` (numpy) or :mod:`matgrad.generic_vjp`.
    """
    X, Y, W1, b1, W2, b2 = (arrays[name] for name in ARGUMENTS)
    pre = _check_bias(bias) == "pre"

    # Forward, saving what the backward pass reuses.
    # σ is computed in place: the pre-activation is ours and needed no more.
    if pre:
        H = vjp.linear(X, W1, b1)
        S = A = vjp.sigmoid(H, out=H)
    else:
        H = X @ W1
        S = vjp.sigmoid(H, out=H)
        A = vjp.add_bias(S, b1)
    R = vjp.linear(A, W2, b2)
    R -= Y
    value = vjp.sqnorm(R) if with_value else None

    if not wrt:
        return value, {}
    # Backward. Buffers this function owns and needs no more are reused (out=, out_X=):
    # R for G_P, A (post) for G_A, S for G_H. G_A itself is never written to, since in
    # post it may have been handed out as ∂f/∂b₁.
    grads: dict[str, Array | None] = {}
    G_P = vjp.sqnorm_vjp(R, out=R)
    if "Y" in wrt:
        grads["Y"] = -G_P
    need_hidden = any(name in wrt for name in ("X", "W1", "b1"))
    G_A, grads["W2"], grads["b2"] = vjp.linear_vjp(
        G_P, A, W2, b2.shape, need=(need_hidden, "W2" in wrt, "b2" in wrt), out_X=None if pre else A
    )
    if G_A is not None:
        if not pre and "b1" in wrt:
            grads["b1"] = vjp.add_bias_vjp(G_A, b1.shape)
        if "X" in wrt or "W1" in wrt or (pre and "b1" in wrt):
            G_H = vjp.sigmoid_vjp(G_A, S, out=S)
            del G_A, A  # unless handed out as ∂f/∂b₁, their buffer is free before ∂f/∂X is made
            grads["X"], grads["W1"], db1 = vjp.linear_vjp(
                G_H, X, W1, b1.shape, need=("X" in wrt, "W1" in wrt, pre and "b1" in wrt)
            )
            if pre:
                grads["b1"] = db1
    return value, pick(grads, wrt)


def _validate(values: Mapping[str, ArrayLike], bias: str) -> dict[str, Array]:
    _check_bias(bias)
    return SIGNATURE.validate(values)


def value(
    X: ArrayLike,
    Y: ArrayLike,
    W1: ArrayLike,
    b1: ArrayLike,
    W2: ArrayLike,
    b2: ArrayLike,
    *,
    bias: BiasPlacement = "pre",
    chunk_rows: int | None = None,
    max_memory: int | str | None = None,
) -> Any:
    """‖Y − (σ(XW₁ + b₁)W₂ + b₂)‖²_F (bias="pre") or ‖Y − ((σ(XW₁) + b₁)W₂ + b₂)‖²_F (bias="post").

    ``chunk_rows``/``max_memory``: row-chunked, for data larger than memory (see :func:`grad`).
    """
    values = {"X": X, "Y": Y, "W1": W1, "b1": b1, "W2": W2, "b2": b2}
    if dispatch.wants_routing(values, chunk_rows, max_memory, None):
        options = {"bias": _check_bias(bias)}
        return dispatch.run(
            SIGNATURE,
            evaluate,
            options,
            values,
            (),
            with_value=True,
            chunk_rows=chunk_rows,
            max_memory=max_memory,
        )[0]
    checked = _validate(values, bias)
    return evaluate(checked, (), bias=bias)[0]


def grad(
    X: ArrayLike,
    Y: ArrayLike,
    W1: ArrayLike,
    b1: ArrayLike,
    W2: ArrayLike,
    b2: ArrayLike,
    *,
    bias: BiasPlacement = "pre",
    wrt: Wrt = None,
    chunk_rows: int | None = None,
    max_memory: int | str | None = None,
    out: Mapping[str, Array] | None = None,
) -> dict[str, Array]:
    """∂f/∂(X, Y, W1, b1, W2, b2) for the network; ``wrt`` names the gradients to compute.

    With R = Y_p − Y, S the sigmoid output, A = S (pre) or S + b₁ (post) and
    Δ = (RW₂ᵀ) ⊙ S ⊙ (1 − S): ∂f/∂Y = −2R, ∂f/∂b₂ = 2R, ∂f/∂W₂ = 2AᵀR, ∂f/∂W₁ = 2XᵀΔ,
    ∂f/∂X = 2ΔW₁ᵀ, ∂f/∂b₁ = 2Δ (pre) or 2RW₂ᵀ (post); row biases summed over rows.

    Arrays of another library (PyTorch, CuPy, JAX, ...) give results in that library;
    Dask arrays give lazy Dask results (see :mod:`matgrad.dispatch`). ``chunk_rows`` or
    ``max_memory`` (bytes or e.g. "1GB") run numpy or ``np.memmap`` input block by
    block; ``out={"X": dX}`` receives ∂f/∂X (and ∂f/∂Y, a full bias's gradient) block
    by block, e.g. into a memmap (:mod:`matgrad.chunked`).
    """
    values = {"X": X, "Y": Y, "W1": W1, "b1": b1, "W2": W2, "b2": b2}
    if dispatch.wants_routing(values, chunk_rows, max_memory, out):
        options = {"bias": _check_bias(bias)}
        return dispatch.run(
            SIGNATURE,
            evaluate,
            options,
            values,
            resolve_wrt(wrt, ARGUMENTS),
            with_value=False,
            chunk_rows=chunk_rows,
            max_memory=max_memory,
            out=out,
        )[1]
    checked = _validate(values, bias)
    return evaluate(checked, resolve_wrt(wrt, ARGUMENTS), bias=bias, with_value=False)[1]


def value_and_grad(
    X: ArrayLike,
    Y: ArrayLike,
    W1: ArrayLike,
    b1: ArrayLike,
    W2: ArrayLike,
    b2: ArrayLike,
    *,
    bias: BiasPlacement = "pre",
    wrt: Wrt = None,
    chunk_rows: int | None = None,
    max_memory: int | str | None = None,
    out: Mapping[str, Array] | None = None,
) -> tuple[Any, dict[str, Array]]:
    """(f, gradients) from one shared forward pass; ``bias``, ``wrt`` and the rest as in :func:`grad`."""
    values = {"X": X, "Y": Y, "W1": W1, "b1": b1, "W2": W2, "b2": b2}
    if dispatch.wants_routing(values, chunk_rows, max_memory, out):
        options = {"bias": _check_bias(bias)}
        return dispatch.run(
            SIGNATURE,
            evaluate,
            options,
            values,
            resolve_wrt(wrt, ARGUMENTS),
            with_value=True,
            chunk_rows=chunk_rows,
            max_memory=max_memory,
            out=out,
        )
    checked = _validate(values, bias)
    return evaluate(checked, resolve_wrt(wrt, ARGUMENTS), bias=bias)
