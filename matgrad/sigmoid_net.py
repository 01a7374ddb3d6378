"""f = ‖Y − Y_p‖²_F for a two-layer sigmoid network, and its gradients.

Shapes: X (n, d), Y (n, o), W1 (d, h), b1 (n, h), W2 (h, o), b2 (n, o); each bias may
also be one row, (1, ·) or 1-D, broadcast over the n rows.

Two bias placements, both first-class:

- ``bias="pre"`` (default), the seed notebook's written formula:
  Y_p = σ(XW₁ + b₁)W₂ + b₂;
- ``bias="post"``, what the seed notebook's code computes:
  Y_p = (σ(XW₁) + b₁)W₂ + b₂.

The chain, read from :func:`evaluate`::

    pre:  H = XW₁ + b₁   S = σ(H)            A = S     (H + b₁ and σ in row blocks)
    post: H = XW₁        S = σ(H)            A = S + b₁
          Y_p = AW₂ + b₂   R = Y_p − Y   f = ‖R‖²_F
    G_P = 2R                                         sqnorm_vjp
    (G_A, ∂f/∂W₂, ∂f/∂b₂) = (G_P W₂ᵀ, AᵀG_P, 1ₙᵀG_P)  linear_vjp
    ∂f/∂Y = −G_P
    post: ∂f/∂b₁ = 1ₙᵀG_A                            add_bias_vjp
    G_H = G_A ⊙ S ⊙ (1 − S)                          sigmoid_vjp
    (∂f/∂X, ∂f/∂W₁, pre: ∂f/∂b₁) = (G_H W₁ᵀ, XᵀG_H, 1ₙᵀG_H)   linear_vjp

G_A, post's ∂f/∂b₁, G_H and pre's ∂f/∂b₁ are row by row: the numpy rules run those steps
on cache-sized blocks of rows (``row_blocks``), the same calls on each block.

In post with a row b₁ (one row for all, not n × h), once n × h spans more than one row
block, A = S + 1ₙb₁ is never formed: b₁ reaches Y_p through W₂ as a one-row layer of its
own, AW₂ = SW₂ + 1ₙ(b₁W₂), and its backward is that layer's::

    Y_p = SW₂ + b₂ + 1ₙ(b₁W₂)                        linear, as_row
    (G_A, ∂f/∂W₂, ∂f/∂b₂) = (G_P W₂ᵀ, SᵀG_P, 1ₙᵀG_P)   linear_vjp
    g = 1ₙᵀG_P;  (∂f/∂b₁, ∂f/∂W₂ +=) = (gW₂ᵀ, b₁ᵀg)   add_bias_vjp, linear_vjp

the same AᵀG_P = SᵀG_P + b₁ᵀ(1ₙᵀG_P) and 1ₙᵀ(G_P W₂ᵀ) = (1ₙᵀG_P)W₂ᵀ, one n × h buffer and
one pass over it fewer (the proof for all sizes runs this path, the others the one above).

Second order along a direction V (:func:`hvp`): each step's tangent, read from
:func:`evaluate_second_order` (a dot is the tangent, a missing one is zero)::

    pre: Ḣ = ẊW₁ + XẆ₁ + ḃ₁   post: Ḣ = ẊW₁ + XẆ₁        linear_jvp
    Ṡ = S ⊙ (1 − S) ⊙ Ḣ                                  sigmoid_jvp
    post: Ȧ = Ṡ + ḃ₁                                     add_bias_jvp
    Ṙ = ȦW₂ + AẆ₂ + ḃ₂ − Ẏ                               linear_jvp
    Ġ_P = 2Ṙ                                             sqnorm_vjp_jvp
    (Ġ_A, H·V for W₂, b₂) = (Ġ_P W₂ᵀ + G_P Ẇ₂ᵀ, ȦᵀG_P + AᵀĠ_P, 1ₙᵀĠ_P)   linear_vjp_jvp
    H·V for Y = −Ġ_P;  post: for b₁ = 1ₙᵀĠ_A
    Ġ_H = Ġ_A ⊙ S ⊙ (1 − S) + G_A ⊙ Ṡ ⊙ (1 − 2S)          sigmoid_vjp_jvp (σ″ = σ′(1 − 2σ))
    (H·V for X, W₁, pre: b₁) = (Ġ_H W₁ᵀ + G_H Ẇ₁ᵀ, ẊᵀG_H + XᵀĠ_H, 1ₙᵀĠ_H)   linear_vjp_jvp

The Gauss–Newton product 2JᵀJ·V is the gradient chain run on Ġ_P = 2Ṙ alone.

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
from operator import itemgetter
from types import ModuleType
from typing import Any, Literal

from numpy.typing import ArrayLike

from matgrad import blockwise, dispatch, second_order, vjp
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
# Unpacking by itemgetter, not a generator: a generator costs a microsecond per call at the seed size.
_all_arguments = itemgetter(*ARGUMENTS)
_backward_arguments = itemgetter("X", "W1", "b1", "W2", "b2")


def _check_bias(bias: str) -> BiasPlacement:
    if bias not in BIAS_PLACEMENTS:
        raise ValueError(f"bias must be 'pre' (σ(XW₁ + b₁)) or 'post' (σ(XW₁) + b₁); got {bias!r}")
    return bias


def forward(
    arrays: Mapping[str, Array], *, bias: BiasPlacement = "pre", vjp: ModuleType = vjp
) -> tuple[Array, Array, Array]:
    """(S, A, R): the forward pass, saving what the backward pass reuses; R = AW₂ + b₂ − Y."""
    X, Y, W1, b1, W2, b2 = _all_arguments(arrays)
    S = _hidden(X, W1, b1, _check_bias(bias) == "pre", vjp)
    A = S if bias == "pre" else vjp.add_bias(S, b1)
    R = vjp.linear(A, W2, b2)
    R -= Y
    return S, A, R


def _hidden(X: Array, W1: Array, b1: Array, pre: bool, vjp: ModuleType) -> Array:
    """S = σ(XW₁ + b₁) (pre) or σ(XW₁) (post), computed in place: the pre-activation is needed no more."""
    if pre:
        return _biased_sigmoid(X @ W1, b1, vjp)
    H = X @ W1
    S: Array = vjp.sigmoid(H, out=H)
    return S


def _forward_b1_through_W2(arrays: Mapping[str, Array], vjp: ModuleType) -> tuple[Array, Array]:
    """(S, R) for post with a row b₁: R = SW₂ + b₂ + 1ₙ(b₁W₂) − Y, without the n × h A = S + b₁."""
    X, Y, W1, b1, W2, b2 = _all_arguments(arrays)
    S = _hidden(X, W1, b1, False, vjp)
    R = vjp.linear(S, W2, b2)
    R += vjp.as_row(b1) @ W2  # one row, broadcast: AW₂ = SW₂ + 1ₙ(b₁W₂)
    R -= Y
    return S, R


def _biased_sigmoid(XW1: Array, b1: Array, vjp: ModuleType) -> Array:
    """S = σ(XW₁ + b₁), into XW₁'s buffer, row block by row block (one pass over n × h, not two)."""
    full_b1 = _one_row_per_data_row(b1, XW1)

    def rows(XW1: Array, *b1_rows: Array) -> Array:
        S: Array = vjp.sigmoid(vjp.add_bias(XW1, b1_rows[0] if b1_rows else b1), out=XW1)
        return S

    blocks: list[Array] = vjp.row_blocks(rows, XW1, *((b1,) if full_b1 else ()))
    # With several blocks, each wrote σ into its rows of XW₁'s buffer.
    return blocks[0] if len(blocks) == 1 else XW1


def _one_row_per_data_row(b1: Array, H: Array) -> bool:
    """Whether b₁ is a full bias (one row per row of H, n × h) rather than one row for all."""
    return bool(b1.ndim == 2 and b1.shape[0] == H.shape[0] and H.shape[0] != 1)


def residual(arrays: Mapping[str, Array], *, bias: BiasPlacement = "pre", vjp: ModuleType = vjp) -> Array:
    """R = Y_p − Y, whose squared norm is f (the Gauss–Newton matrix is 2JᵀJ of its Jacobian J)."""
    return forward(arrays, bias=bias, vjp=vjp)[2]


def evaluate(
    arrays: Mapping[str, Array],
    wrt: tuple[str, ...],
    *,
    bias: BiasPlacement = "pre",
    with_value: bool = True,
    vjp: ModuleType = vjp,
    out_X: Array | None = None,
) -> tuple[Any, dict[str, Array]]:
    """Value and the gradients named in ``wrt``, on already validated arrays.

    This is the code behind the public functions, without input checks, so that it
    also runs on object arrays of sympy symbols (``matgrad.symbolic`` proves it so).
    ``vjp`` holds the layer rules: :mod:`matgrad.vjp` (numpy) or :mod:`matgrad.generic_vjp`.
    ``out_X``: where ∂f/∂X goes (numpy rules), e.g. the chunked mode's block of its result.
    """
    X, W1, b1, W2, b2 = _backward_arguments(arrays)
    pre = _check_bias(bias) == "pre"
    b1_through_W2 = not pre and _b1_through_W2(X, b1)
    if b1_through_W2:
        S, R = _forward_b1_through_W2(arrays, vjp)
        A = S  # the second layer's input, as far as the backward of SW₂ + b₂ is concerned
    else:
        S, A, R = forward(arrays, bias=bias, vjp=vjp)
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
    _, grads["W2"], grads["b2"] = vjp.linear_vjp(G_P, A, W2, b2.shape, need=(False, "W2" in wrt, "b2" in wrt))
    want_b1 = "b1" in wrt
    if b1_through_W2 and (want_b1 or "W2" in wrt):
        g_c = vjp.add_bias_vjp(G_P, (1, W2.shape[1]))  # 1ₙᵀG_P, the gradient of the row b₁W₂
        db1, dW2, _ = vjp.linear_vjp(g_c, vjp.as_row(b1), W2, (), need=(want_b1, "W2" in wrt, False))
        if dW2 is not None:
            grads["W2"] = grads["W2"] + dW2
        if db1 is not None:
            grads["b1"] = vjp.add_bias_vjp(db1, b1.shape)
        want_b1 = False  # done: the hidden layer's backward has no part in it
    need_G_H = "X" in wrt or "W1" in wrt or (pre and want_b1)
    if need_G_H or want_b1:
        G_H, db1 = _hidden_vjp(G_P, A, S, W2, b1, b2.shape, pre, want_b1, need_G_H, vjp)
        if want_b1:
            grads["b1"] = db1
        del A  # unless handed out as ∂f/∂b₁, its buffer is free before ∂f/∂X is made
        if G_H is not None:
            grads["X"], grads["W1"], _ = vjp.linear_vjp(
                G_H, X, W1, b1.shape, need=("X" in wrt, "W1" in wrt, False), out_X=out_X
            )
    return value, pick(grads, wrt)


def _b1_through_W2(X: Array, b1: Array) -> bool:
    """Whether post's row b₁ goes through W₂ as a one-row layer, A = S + b₁ never formed.

    AᵀG_P = SᵀG_P + b₁ᵀ(1ₙᵀG_P) and ∂f/∂b₁ = (1ₙᵀG_P)W₂ᵀ save an n × h buffer and a pass
    over it, but cost a few more small calls: taken when A would span more than one row
    block (measured: 0.6× the time at 10⁵ × 512 in float64, 0.94× at 3000 × 128, 1.14× at
    the seed's 100 × 10, 1.0× from 300 × 128 to 1000 × 128). Sizes that are symbols (the
    prover's proof for all sizes) take it, concrete small ones (its other proofs) do not:
    ``matgrad verify`` proves both paths.
    """
    elements = X.shape[0] * b1.shape[-1]
    if isinstance(elements, int) and elements <= blockwise.ROW_BLOCK_ELEMENTS:
        return False  # asked first: the seed size's answer, at the least cost
    return not _one_row_per_data_row(b1, X)


def _hidden_vjp(
    G_P: Array,
    A: Array,
    S: Array,
    W2: Array,
    b1: Array,
    b2_shape: tuple[int, ...],
    pre: bool,
    want_b1: bool,
    need_G_H: bool,
    vjp: ModuleType,
) -> tuple[Array | None, Array | None]:
    """(G_H, ∂f/∂b₁) from G_P: G_A = G_P W₂ᵀ, then σ′, block of rows by block of rows.

    Each step is row by row, so the numpy rules run it on cache-sized row blocks
    (``vjp.row_blocks``): G_A never exists as an n × h buffer in pre, and σ′ and the bias's
    row sum read it from cache (at 10⁵ × 512: half the time of whole-array steps in
    float64, two thirds in float32). A block
    writes G_A into its block of A (when A is a buffer of its own) and G_H into its block of S,
    so with several blocks those buffers are the results; a single call (small arrays,
    the prover's, other libraries') returns them itself.
    """
    full_b1 = _one_row_per_data_row(b1, S)  # then it is cut in row blocks too
    # A buffer of its own (post with a full b₁, A = S + b₁) is ours and needed no more;
    # otherwise A is S, whose blocks receive G_H.
    G_A_into_A = A is not S

    def rows(G_P: Array, A: Array, S: Array, *b1_rows: Array) -> tuple[Array | None, Array | None]:
        bias_shape = b1_rows[0].shape if b1_rows else b1.shape
        G_A = vjp.linear_vjp(
            G_P, A, W2, b2_shape, need=(True, False, False), out_X=A if G_A_into_A else None
        )[0]
        db1 = vjp.add_bias_vjp(G_A, bias_shape) if want_b1 and not pre else None
        G_H = vjp.sigmoid_vjp(G_A, S, out=S) if need_G_H else None
        if want_b1 and pre:
            db1 = vjp.add_bias_vjp(G_H, bias_shape)
        return G_H, db1

    blocks: list[tuple[Array | None, Array | None]] = vjp.row_blocks(
        rows, G_P, A, S, *((b1,) if full_b1 else ())
    )
    if len(blocks) == 1:
        return blocks[0]
    # Each block wrote into its rows of A (G_A, post) and S (G_H): those are the results.
    G_H = S if need_G_H else None
    if not want_b1:
        return G_H, None
    if full_b1:
        return G_H, (S if pre else A)
    partial = [db1 for _, db1 in blocks if db1 is not None]  # every block's, since want_b1
    # Added left to right, in block order: the same result whatever the threads' timing.
    return G_H, sum(partial[1:], partial[0])


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


def evaluate_second_order(
    arrays: Mapping[str, Array],
    direction: Mapping[str, Array],
    wrt: tuple[str, ...],
    *,
    bias: BiasPlacement = "pre",
    gauss_newton: bool = False,
    vjp: ModuleType = vjp,
) -> dict[str, Array | None]:
    """The Hessian (or Gauss–Newton matrix 2JᵀJ) applied to ``direction``, for the arguments in ``wrt``.

    Arguments missing from ``direction`` are held fixed (zero tangent). Unchecked, like
    :func:`evaluate`, so that ``matgrad.symbolic`` proves it on arrays of symbols. A None
    result is a zero block.
    """
    X, W1, b1, W2, b2 = (arrays[name] for name in ("X", "W1", "b1", "W2", "b2"))
    dX, dY, dW1, db1, dW2, db2 = (direction.get(name) for name in ARGUMENTS)
    pre = _check_bias(bias) == "pre"

    # Forward, then its tangent step by step.
    S, A, R = forward(arrays, bias=bias, vjp=vjp)
    dH = vjp.linear_jvp(X, W1, dX, dW1, db1 if pre else None)
    dS = vjp.sigmoid_jvp(S, dH)
    dA = dS if pre else vjp.add_bias_jvp(S, dS, db1)
    dR = vjp.linear_jvp(A, W2, dA, dW2, db2)
    if dY is not None:
        dR = -dY if dR is None else dR - dY

    # Backward and its tangent.
    results: dict[str, Array | None] = {}
    G_P = vjp.sqnorm_vjp(R, out=R)
    dG_P = vjp.sqnorm_vjp_jvp(dR)
    if "Y" in wrt:
        results["Y"] = None if dG_P is None else -dG_P
    need_hidden = "X" in wrt or "W1" in wrt or "b1" in wrt
    need = (need_hidden, "W2" in wrt, "b2" in wrt)
    if gauss_newton:
        # 2JᵀJV = Jᵀ(2JV): the gradient chain run on Ġ_P = 2Ṙ at the same point, no second-order terms.
        if dG_P is None:
            return results
        dG_A, results["W2"], results["b2"] = vjp.linear_vjp(dG_P, A, W2, b2.shape, need)
        if not pre and "b1" in wrt:
            results["b1"] = vjp.add_bias_vjp(dG_A, b1.shape)
        if dG_A is not None and ("X" in wrt or "W1" in wrt or (pre and "b1" in wrt)):
            dG_H = vjp.sigmoid_vjp(dG_A, S)
            results["X"], results["W1"], db1_pre = vjp.linear_vjp(
                dG_H, X, W1, b1.shape, ("X" in wrt, "W1" in wrt, pre and "b1" in wrt)
            )
            if pre:
                results["b1"] = db1_pre
        return results

    G_A, _, _ = vjp.linear_vjp(G_P, A, W2, b2.shape, (need_hidden, False, False))
    dG_A, results["W2"], results["b2"] = vjp.linear_vjp_jvp(G_P, dG_P, A, W2, dA, dW2, b2.shape, need)
    if not pre and "b1" in wrt:
        results["b1"] = None if dG_A is None else vjp.add_bias_vjp(dG_A, b1.shape)
    if "X" in wrt or "W1" in wrt or (pre and "b1" in wrt):
        G_H = vjp.sigmoid_vjp(G_A, S)
        dG_H = vjp.sigmoid_vjp_jvp(G_A, dG_A, S, dS)
        results["X"], results["W1"], db1_pre = vjp.linear_vjp_jvp(
            G_H, dG_H, X, W1, dX, dW1, b1.shape, ("X" in wrt, "W1" in wrt, pre and "b1" in wrt)
        )
        if pre:
            results["b1"] = db1_pre
    return results


def hvp(
    X: ArrayLike,
    Y: ArrayLike,
    W1: ArrayLike,
    b1: ArrayLike,
    W2: ArrayLike,
    b2: ArrayLike,
    direction: Mapping[str, ArrayLike],
    *,
    bias: BiasPlacement = "pre",
    wrt: Wrt = None,
) -> dict[str, Array]:
    """∇²f·V: the directional derivative of the network's gradient along V, cross terms and σ″ included.

    ``direction`` maps argument names to arrays of their shapes, e.g.
    ``{"W1": V1, "W2": V2}``; the other arguments are held fixed. ``wrt`` (default: the
    direction's names) must name the same arguments; the result has the same keys and
    shapes. The chain of tangent steps is in the module docstring; the σ″ = σ′(1 − 2σ)
    term is G_A ⊙ Ṡ ⊙ (1 − 2S).

    Examples
    --------
    >>> import numpy as np
    >>> from matgrad import sigmoid_net
    >>> rng = np.random.default_rng(0)
    >>> X, Y = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    >>> W1, b1, W2, b2 = np.ones((3, 4)), np.zeros(4), np.ones((4, 2)), np.zeros(2)
    >>> Hv = sigmoid_net.hvp(X, Y, W1, b1, W2, b2, {"W2": np.ones((4, 2))})
    >>> Hv["W2"].shape
    (4, 2)
    """
    values = {"X": X, "Y": Y, "W1": W1, "b1": b1, "W2": W2, "b2": b2}
    options = {"bias": _check_bias(bias)}
    return second_order.product(
        SIGNATURE, evaluate_second_order, options, values, direction, wrt, gauss_newton=False
    )


def gauss_newton_product(
    X: ArrayLike,
    Y: ArrayLike,
    W1: ArrayLike,
    b1: ArrayLike,
    W2: ArrayLike,
    b2: ArrayLike,
    direction: Mapping[str, ArrayLike],
    *,
    bias: BiasPlacement = "pre",
    wrt: Wrt = None,
) -> dict[str, Array]:
    """2JᵀJ·V, with J the Jacobian of the residual R = Y_p − Y: the Gauss–Newton product.

    Positive semi-definite, what Hessian-free optimisers use: the Hessian without its
    ⟨2R, d²R⟩ term (no σ″, no cross terms of the products). Arguments as in :func:`hvp`.
    """
    values = {"X": X, "Y": Y, "W1": W1, "b1": b1, "W2": W2, "b2": b2}
    options = {"bias": _check_bias(bias)}
    return second_order.product(
        SIGNATURE, evaluate_second_order, options, values, direction, wrt, gauss_newton=True
    )


def hessian(
    X: ArrayLike,
    Y: ArrayLike,
    W1: ArrayLike,
    b1: ArrayLike,
    W2: ArrayLike,
    b2: ArrayLike,
    *,
    wrt: str | tuple[str, str],
    bias: BiasPlacement = "pre",
    max_bytes: int = second_order.HESSIAN_MAX_BYTES,
) -> Array:
    """∂²f/∂A∂B, dense, of shape A.shape + B.shape, for ``wrt="A"`` or ``wrt=("A", "B")``.

    One :func:`hvp` per entry of B; a result over ``max_bytes`` raises MemoryError (use
    :func:`hvp`).
    """
    values = {"X": X, "Y": Y, "W1": W1, "b1": b1, "W2": W2, "b2": b2}
    options = {"bias": _check_bias(bias)}
    return second_order.hessian(SIGNATURE, evaluate_second_order, options, values, wrt, max_bytes)
