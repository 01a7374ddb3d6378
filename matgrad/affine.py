"""f(X, W, b) = ‖XW + b‖²_F and its gradients.

Shapes: X (n, k), W (k, m), b (n, m), (1, m) or (m,); a row bias is broadcast over
the n rows and its gradient is summed over them.

The chain, read from the code below::

    R = XW + b                  linear
    f = ‖R‖²_F                  sqnorm
    G = ∂f/∂R = 2R              sqnorm_vjp
    (∂f/∂X, ∂f/∂W, ∂f/∂b) = (GWᵀ, XᵀG, 1ₙᵀG)   linear_vjp

Second order, along a direction (Ẋ, Ẇ, ḃ) (:func:`hvp`), the same chain's tangents::

    Ṙ = ẊW + XẆ + ḃ                             linear_jvp
    Ġ = 2Ṙ                                       sqnorm_vjp_jvp
    H·V = (ĠWᵀ + GẆᵀ, ẊᵀG + XᵀĠ, 1ₙᵀĠ)          linear_vjp_jvp
    2JᵀJ·V = (ĠWᵀ, XᵀĠ, 1ₙᵀĠ)                    linear_vjp of Ġ (Gauss–Newton)

Examples
--------
>>> import numpy as np
>>> from matgrad import affine
>>> X, W, b = np.array([[1.0]]), np.array([[2.0]]), np.array([[3.0]])
>>> f, grads = affine.value_and_grad(X, W, b)
>>> float(f), {name: float(g[0, 0]) for name, g in grads.items()}
(25.0, {'X': 20.0, 'W': 10.0, 'b': 10.0})
"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import Any

from numpy.typing import ArrayLike

from matgrad import dispatch, second_order, vjp
from matgrad.signature import Arg, Signature
from matgrad.vjp import Array
from matgrad.wrt import Wrt, pick, resolve_wrt

SIGNATURE = Signature((Arg("X", ("n", "k")), Arg("W", ("k", "m")), Arg("b", ("n", "m"), row_bias=True)))
ARGUMENTS = SIGNATURE.names


def evaluate(
    arrays: Mapping[str, Array],
    wrt: tuple[str, ...],
    *,
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
    X, W, b = arrays["X"], arrays["W"], arrays["b"]
    R = vjp.linear(X, W, b)
    value = vjp.sqnorm(R) if with_value else None
    grads: dict[str, Array] = {}
    if wrt:
        G = vjp.sqnorm_vjp(R, out=R)  # R is ours and needed no more: G takes its buffer
        need = ("X" in wrt, "W" in wrt, "b" in wrt)
        dX, dW, db = vjp.linear_vjp(G, X, W, b.shape, need=need, out_X=out_X)
        grads = pick({"X": dX, "W": dW, "b": db}, wrt)
    return value, grads


def value(
    X: ArrayLike,
    W: ArrayLike,
    b: ArrayLike,
    *,
    chunk_rows: int | None = None,
    max_memory: int | str | None = None,
) -> Any:
    """‖XW + b‖²_F as a numpy scalar of the working dtype.  X: (n,k), W: (k,m), b: (n,m)|(1,m)|(m,).

    ``chunk_rows``/``max_memory``: row-chunked, for data larger than memory (see :func:`grad`).
    """
    values = {"X": X, "W": W, "b": b}
    if dispatch.wants_routing(values, chunk_rows, max_memory, None):
        return dispatch.run(
            SIGNATURE, evaluate, {}, values, (), with_value=True, chunk_rows=chunk_rows, max_memory=max_memory
        )[0]
    checked = SIGNATURE.validate(values)
    return evaluate(checked, ())[0]


def grad(
    X: ArrayLike,
    W: ArrayLike,
    b: ArrayLike,
    wrt: Wrt = None,
    *,
    chunk_rows: int | None = None,
    max_memory: int | str | None = None,
    out: Mapping[str, Array] | None = None,
) -> dict[str, Array]:
    """∂/∂(X, W, b) ‖XW+b‖²_F = (2(XW+b)Wᵀ, 2Xᵀ(XW+b), 2·1ₙᵀ(XW+b) or 2(XW+b) for a full b).

    ``wrt`` is an argument name or a sequence of names (default: all); only those
    gradients are computed. Each gradient has the shape of its argument.

    Arrays of another library (PyTorch, CuPy, JAX, ...) give results in that library;
    Dask arrays give lazy Dask results (see :mod:`matgrad.dispatch`). ``chunk_rows`` or
    ``max_memory`` (bytes or e.g. "1GB") run numpy or ``np.memmap`` input block by
    block; ``out={"X": dX}`` receives ∂f/∂X (and a full ∂f/∂b) block by block, e.g.
    into a memmap (:mod:`matgrad.chunked`).
    """
    values = {"X": X, "W": W, "b": b}
    if dispatch.wants_routing(values, chunk_rows, max_memory, out):
        return dispatch.run(
            SIGNATURE,
            evaluate,
            {},
            values,
            resolve_wrt(wrt, ARGUMENTS),
            with_value=False,
            chunk_rows=chunk_rows,
            max_memory=max_memory,
            out=out,
        )[1]
    checked = SIGNATURE.validate(values)
    return evaluate(checked, resolve_wrt(wrt, ARGUMENTS), with_value=False)[1]


def value_and_grad(
    X: ArrayLike,
    W: ArrayLike,
    b: ArrayLike,
    wrt: Wrt = None,
    *,
    chunk_rows: int | None = None,
    max_memory: int | str | None = None,
    out: Mapping[str, Array] | None = None,
) -> tuple[Any, dict[str, Array]]:
    """(‖XW+b‖²_F, gradients) from one shared forward pass; ``wrt`` and the rest as in :func:`grad`."""
    values = {"X": X, "W": W, "b": b}
    if dispatch.wants_routing(values, chunk_rows, max_memory, out):
        return dispatch.run(
            SIGNATURE,
            evaluate,
            {},
            values,
            resolve_wrt(wrt, ARGUMENTS),
            with_value=True,
            chunk_rows=chunk_rows,
            max_memory=max_memory,
            out=out,
        )
    checked = SIGNATURE.validate(values)
    return evaluate(checked, resolve_wrt(wrt, ARGUMENTS))


def residual(arrays: Mapping[str, Array], *, vjp: ModuleType = vjp) -> Array:
    """R = XW + b, the residual with f = ‖R‖²_F (the Gauss–Newton matrix is 2JᵀJ, J its Jacobian)."""
    return vjp.linear(arrays["X"], arrays["W"], arrays["b"])  # type: ignore[no-any-return]


def evaluate_second_order(
    arrays: Mapping[str, Array],
    direction: Mapping[str, Array],
    wrt: tuple[str, ...],
    *,
    gauss_newton: bool = False,
    vjp: ModuleType = vjp,
) -> dict[str, Array | None]:
    """The Hessian (or Gauss–Newton matrix 2JᵀJ) applied to ``direction``, for the arguments in ``wrt``.

    Arguments missing from ``direction`` are held fixed (zero tangent). Unchecked, like
    :func:`evaluate`, so that ``matgrad.symbolic`` proves it on arrays of symbols. A None
    result is a zero block.
    """
    X, W, b = arrays["X"], arrays["W"], arrays["b"]
    dX, dW, db = (direction.get(name) for name in ARGUMENTS)
    need = ("X" in wrt, "W" in wrt, "b" in wrt)
    R = residual(arrays, vjp=vjp)
    dR = vjp.linear_jvp(X, W, dX, dW, db)
    dG = vjp.sqnorm_vjp_jvp(dR)
    if gauss_newton:
        # 2JᵀJV = Jᵀ(2JV): the gradient chain run on Ġ = 2Ṙ, with no tangent of the VJP itself.
        parts = vjp.linear_vjp(dG, X, W, b.shape, need) if dG is not None else (None, None, None)
    else:
        G = vjp.sqnorm_vjp(R, out=R)
        parts = vjp.linear_vjp_jvp(G, dG, X, W, dX, dW, b.shape, need)
    return dict(zip(ARGUMENTS, parts, strict=True))


def hvp(
    X: ArrayLike, W: ArrayLike, b: ArrayLike, direction: Mapping[str, ArrayLike], wrt: Wrt = None
) -> dict[str, Array]:
    """∇²f·V: the directional derivative of ∂f/∂(X, W, b) along V, cross terms included.

    ``direction`` maps argument names to arrays of their shapes, e.g. ``{"W": V}``; the
    other arguments are held fixed. ``wrt`` (default: the direction's names) must name
    the same arguments. The result has the same keys and shapes: for V = (Ẋ, Ẇ, ḃ) and
    G = 2(XW + b), Ġ = 2(ẊW + XẆ + ḃ), it is (ĠWᵀ + GẆᵀ, ẊᵀG + XᵀĠ, 1ₙᵀĠ).

    Examples
    --------
    >>> import numpy as np
    >>> from matgrad import affine
    >>> X, W, b = np.eye(2), np.ones((2, 1)), np.zeros(1)
    >>> affine.hvp(X, W, b, {"W": np.array([[1.0], [0.0]])})["W"]  # 2XᵀX·V
    array([[2.],
           [0.]])
    """
    values = {"X": X, "W": W, "b": b}
    return second_order.product(
        SIGNATURE, evaluate_second_order, {}, values, direction, wrt, gauss_newton=False
    )


def gauss_newton_product(
    X: ArrayLike, W: ArrayLike, b: ArrayLike, direction: Mapping[str, ArrayLike], wrt: Wrt = None
) -> dict[str, Array]:
    """2JᵀJ·V, with J the Jacobian of R = XW + b: the Hessian without its ⟨2R, d²R⟩ term.

    Positive semi-definite, and equal to :func:`hvp` unless both X and W move (R is
    bilinear in them). Arguments as in :func:`hvp`; with Ġ = 2(ẊW + XẆ + ḃ) the result
    is (ĠWᵀ, XᵀĠ, 1ₙᵀĠ).
    """
    values = {"X": X, "W": W, "b": b}
    return second_order.product(
        SIGNATURE, evaluate_second_order, {}, values, direction, wrt, gauss_newton=True
    )


def hessian(
    X: ArrayLike,
    W: ArrayLike,
    b: ArrayLike,
    wrt: str | tuple[str, str],
    *,
    max_bytes: int = second_order.HESSIAN_MAX_BYTES,
) -> Array:
    """∂²f/∂A∂B, dense, of shape A.shape + B.shape, for ``wrt="A"`` or ``wrt=("A", "B")``.

    One :func:`hvp` per entry of B; a result over ``max_bytes`` raises MemoryError (use
    :func:`hvp`). E.g. ∂²f/∂W² = 2XᵀX ⊗ Iₘ: entry [i, j, k, l] is 2(XᵀX)ᵢₖδⱼₗ.
    """
    values = {"X": X, "W": W, "b": b}
    return second_order.hessian(SIGNATURE, evaluate_second_order, {}, values, wrt, max_bytes)
