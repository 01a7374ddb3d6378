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


def _exp_minus_abs(H: NDArray[Any]) -> tuple[NDArray[Any], NDArray[Any]]:
    """(Re H < 0, e) with e = exp(−H) where Re H ≥ 0 and exp(H) elsewhere: |e| ≤ 1, no overflow."""
    negative = H.real < 0
    return negative, np.exp(np.where(negative, H, -H))


def _real_sigmoid_into(S: NDArray[Any], H: NDArray[Any]) -> None:
    """S = σ(H) = 1/(1 + exp(−H)) for real H, S may be H.

    Accurate to a few ulps wherever σ is a normal number: for H < 0, exp(−H) > 1 keeps
    its relative precision, and so do 1 + exp(−H) and its reciprocal. exp overflows only
    where σ is below the smallest normal number (H < −709.7 in float64, −88.7 in float32);
    there it gives inf and σ = 0, which is not an error (the warning is silenced here,
    in the kernel, since numpy's error state is per thread). Four ufuncs, against seven
    for the exp(−|H|) form: 2.6× faster on large arrays, 1.4 µs less at the seed size.
    """
    with np.errstate(over="ignore"):
        np.negative(H, out=S)
        np.exp(S, out=S)
    np.add(S, 1, out=S)
    np.reciprocal(S, out=S)


def sigmoid(H: NDArray[Any], *, out: NDArray[Any] | None = None) -> NDArray[Any]:
    """σ(H) = 1 / (1 + exp(−H)), elementwise; accurate for every finite H.

    Real H: 1/(1 + exp(−H)) directly, a few ulps from the exact σ wherever σ is a
    normal number (small σ keeps its relative precision: exp(−H) does), and 0 with no
    warning where σ would be subnormal (exp(−H) overflows to inf). Complex H follows
    the holomorphic extension (for complex step), evaluated as 1/(1 + e) with
    e = exp(−H) where Re H ≥ 0 and e/(1 + e) with e = exp(H) elsewhere, so exp never
    overflows. Large real arrays are processed in cache-sized blocks on every core
    (:mod:`matgrad.blockwise`). ``out`` receives σ(H) and may be H itself, when the
    caller owns H and needs it no more.
    """
    if H.dtype == object:
        from matgrad.symbolic.functions import sigma

        # Arrays of symbolic shape (the prover's) cannot be preallocated: build, then copy.
        S = _apply_object(sigma, H)
        if out is None:
            return S
        out[...] = S
        return out
    if out is None:
        out = np.empty(H.shape, np.result_type(H, 0.0))
    if H.dtype.kind == "c":
        negative, e = _exp_minus_abs(H)
        np.add(e, 1, out=out)
        np.reciprocal(out, out=out)
        np.multiply(out, e, out=out, where=negative)
    else:
        map_blocks(_real_sigmoid_into, out, H)
    return out


# Functions of the derivation engine (matgrad.engine). Each dispatches on dtype like
# sigmoid: a numpy kernel for numbers, a sympy function entrywise for object arrays.


def _sympy_softplus(x: Any) -> Any:
    # log(1 + eˣ) = −log(1 − σ(x)): written with the opaque σ, sympy's derivative of it
    # is exactly σ(x), the engine's softplus′, with no exp identities to prove.
    import sympy

    from matgrad.symbolic.functions import sigma

    return -sympy.log(1 - sigma(x))


_RELU_AND_STEP: list[tuple[Any, Any]] = []  # built on first use, so sympy loads lazily


def _sympy_relu_and_step() -> tuple[Any, Any]:
    """Opaque one-argument sympy functions relu and step, with relu′ = step and step′ = 0.

    Not Max(0, x) and Heaviside(x): those carry a second argument (0, or H(0) = 1/2) and
    conventions at the kink that a proof at generic symbols has no use for.
    """
    if _RELU_AND_STEP:
        return _RELU_AND_STEP[0]
    import sympy

    class step(sympy.Function):  # type: ignore[misc]
        @classmethod
        def eval(cls, x: Any) -> Any:
            # A real number's step is a number (0 at the kink, as the numpy kernel).
            if x.is_number and x.is_extended_real:
                return sympy.Integer(1 if x > 0 else 0)
            return None

        def fdiff(self, argindex: int = 1) -> Any:
            if argindex != 1:
                raise sympy.ArgumentIndexError(self, argindex)
            return sympy.Integer(0)

    class relu(sympy.Function):  # type: ignore[misc]
        @classmethod
        def eval(cls, x: Any) -> Any:
            if x.is_number and x.is_extended_real:
                return x if x > 0 else sympy.Integer(0)
            return None

        def fdiff(self, argindex: int = 1) -> Any:
            if argindex != 1:
                raise sympy.ArgumentIndexError(self, argindex)
            return step(self.args[0])

    _RELU_AND_STEP.append((relu, step))
    return relu, step


_ABS_AND_SIGN: list[tuple[Any, Any]] = []


def _sympy_abs_and_sign() -> tuple[Any, Any]:
    """Opaque sympy functions abs and sign with abs′ = sign and sign′ = 0 (away from 0).

    Not sympy's Abs and sign: on symbols without assumptions their derivatives go through
    re and im; a proof at generic real points needs only these two rules.
    """
    if _ABS_AND_SIGN:
        return _ABS_AND_SIGN[0]
    import sympy

    class sign(sympy.Function):  # type: ignore[misc]
        @classmethod
        def eval(cls, x: Any) -> Any:
            if x.is_number and x.is_extended_real:
                return sympy.sign(x)
            return None

        def fdiff(self, argindex: int = 1) -> Any:
            if argindex != 1:
                raise sympy.ArgumentIndexError(self, argindex)
            return sympy.Integer(0)

    class abs(sympy.Function):  # type: ignore[misc]
        @classmethod
        def eval(cls, x: Any) -> Any:
            if x.is_number and x.is_extended_real:
                return sympy.Abs(x)
            return None

        def fdiff(self, argindex: int = 1) -> Any:
            if argindex != 1:
                raise sympy.ArgumentIndexError(self, argindex)
            return sign(self.args[0])

    _ABS_AND_SIGN.append((abs, sign))
    return abs, sign


def _sympy(name: str) -> Any:
    import sympy

    relu_function, step_function = _sympy_relu_and_step()
    abs_function, sign_function = _sympy_abs_and_sign()
    return {
        "abs": abs_function,
        "sign": sign_function,
        "sqrt": sympy.sqrt,
        "sin": sympy.sin,
        "cos": sympy.cos,
        "tan": sympy.tan,
        "arcsin": sympy.asin,
        "arccos": sympy.acos,
        "arctan": sympy.atan,
        "tanh": sympy.tanh,
        "exp": sympy.exp,
        "log": sympy.log,
        "relu": relu_function,
        "step": step_function,
        "softplus": _sympy_softplus,
    }[name]


def _engine_function(name: str, kernel: Any, H: NDArray[Any]) -> NDArray[Any]:
    if H.dtype == object:
        return _apply_object(_sympy(name), H)
    result: NDArray[Any] = kernel(H)
    return result


def tanh(H: NDArray[Any]) -> NDArray[Any]:
    """tanh(H), elementwise; tanh′ = 1 − tanh²."""
    return _engine_function("tanh", np.tanh, H)


def exp(H: NDArray[Any]) -> NDArray[Any]:
    """exp(H), elementwise; exp′ = exp."""
    return _engine_function("exp", np.exp, H)


def log(H: NDArray[Any]) -> NDArray[Any]:
    """log(H), elementwise (NaN for negative real H, as numpy); log′ = 1/H."""
    return _engine_function("log", np.log, H)


def _relu_kernel(H: NDArray[Any]) -> NDArray[Any]:
    result: NDArray[Any] = H * (H.real > 0) if np.iscomplexobj(H) else np.maximum(H, 0)
    return result


def relu(H: NDArray[Any]) -> NDArray[Any]:
    """max(H, 0), elementwise; for complex H, H where Re H > 0 else 0; relu′ = step."""
    return _engine_function("relu", _relu_kernel, H)


def _step_kernel(H: NDArray[Any]) -> NDArray[Any]:
    result: NDArray[Any] = np.heaviside(H.real, 0).astype(H.dtype, copy=False)
    return result


def step(H: NDArray[Any]) -> NDArray[Any]:
    """relu′(H): 1 where Re H > 0, else 0 (0 at the kink), NaN where H is NaN."""
    return _engine_function("step", _step_kernel, H)


def _softplus_kernel(H: NDArray[Any]) -> NDArray[Any]:
    negative, e = _exp_minus_abs(H)
    out: NDArray[Any] = np.log1p(e)
    out += np.where(negative, 0, H)
    return out


def softplus(H: NDArray[Any]) -> NDArray[Any]:
    """log(1 + exp(H)), elementwise, stable for any |H|; softplus′ = σ.

    Evaluated as log1p(e) + max(H, 0) with e = exp(−|H|) (for complex H, by the sign of
    Re H), so exp never overflows.
    """
    return _engine_function("softplus", _softplus_kernel, H)


def abs(H: NDArray[Any]) -> NDArray[Any]:
    """|H|, elementwise; abs′ = sign (away from 0)."""
    return _engine_function("abs", np.abs, H)


def sign(H: NDArray[Any]) -> NDArray[Any]:
    """sign(H) ∈ {−1, 0, 1}, elementwise; sign′ = 0 (away from 0)."""
    return _engine_function("sign", np.sign, H)


def sqrt(H: NDArray[Any]) -> NDArray[Any]:
    """√H, elementwise (NaN for negative real H, as numpy); sqrt′ = 1/(2√H)."""
    return _engine_function("sqrt", np.sqrt, H)


def sin(H: NDArray[Any]) -> NDArray[Any]:
    """sin(H), elementwise; sin′ = cos."""
    return _engine_function("sin", np.sin, H)


def cos(H: NDArray[Any]) -> NDArray[Any]:
    """cos(H), elementwise; cos′ = −sin."""
    return _engine_function("cos", np.cos, H)


def tan(H: NDArray[Any]) -> NDArray[Any]:
    """tan(H), elementwise; tan′ = 1 + tan²."""
    return _engine_function("tan", np.tan, H)


def arcsin(H: NDArray[Any]) -> NDArray[Any]:
    """arcsin(H), elementwise, for −1 < H < 1; arcsin′ = (1 − H²)^(−½)."""
    return _engine_function("arcsin", np.arcsin, H)


def arccos(H: NDArray[Any]) -> NDArray[Any]:
    """arccos(H), elementwise, for −1 < H < 1; arccos′ = −(1 − H²)^(−½)."""
    return _engine_function("arccos", np.arccos, H)


def arctan(H: NDArray[Any]) -> NDArray[Any]:
    """arctan(H), elementwise; arctan′ = 1/(1 + H²)."""
    return _engine_function("arctan", np.arctan, H)
