"""Numeric derivatives of a scalar function of named arrays: the references a gradient is checked against.

Every reference is computed in double precision (float64, complex128 for the complex
step) whatever the dtype of the arrays, so that a float32 gradient is judged against an
accurate reference. ``f`` is called as ``f(**arrays)`` and must return a scalar.

Step choices, with ε = 2⁻⁵² the float64 machine epsilon:

- **Central differences** (f(x + h) − f(x − h)) / 2h. The error is a truncation term
  h²f‴/6 plus a rounding term ≈ ε|f|/h, smallest near h ∝ ε^{1/3}. Scaled to the entry,
  h = ε^{1/3}·max(1, |x|) ≈ 6e-6·max(1, |x|): relative for large entries, absolute near
  zero. Both error terms are then O(ε^{2/3}) ≈ 4e-11 times the scale of f.
- **Forward differences** (f(x + h) − f(x)) / h: truncation hf″/2, rounding ε|f|/h, so
  h = ε^{1/2}·max(1, |x|) and an O(ε^{1/2}) ≈ 1.5e-8 error. Only for comparison
  (:func:`matgrad.testing.step_size_sweep`).
- **Complex step** Im f(x + ih) / h. For f holomorphic and real on real input,
  f(x + ih) = f(x) + ihf′(x) − h²f″(x)/2 + …, so nothing is subtracted and nothing
  cancels: h = 1e-20·max(1, |x|) puts the h² term far below ε and the derivative is
  exact to machine precision.
- **Random direction** ⟨∇f, V⟩ = d/dt f(A + tV) at t = 0, by central differences along
  V with t = ε^{1/3}·max(1, rms A) / rms V: two evaluations of f, whatever the size of A.

The entrywise differences divide by the step actually taken, the difference of the two
evaluation points ((x + h) − (x − h), exact in floating point), not the nominal 2h.

Examples
--------
>>> import numpy as np
>>> from matgrad.testing.methods import central_difference, complex_step
>>> def f(A):
...     return (A**3).sum()
>>> A = np.array([[1.0, 2.0]])
>>> np.allclose(central_difference(f, {"A": A}, "A"), 3 * A**2, rtol=1e-9)
True
>>> complex_step(f, {"A": A}, "A")
array([[ 3., 12.]])
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

Array = NDArray[Any]
ScalarFunction = Callable[..., Any]
"""``f(**arrays) -> scalar``."""
GradientFunction = Callable[..., Mapping[str, ArrayLike]]
"""``grad(**arrays) -> {name: ∂f/∂name}``."""

EPS = float(np.finfo(np.float64).eps)
CENTRAL_STEP = EPS ** (1 / 3)
FORWARD_STEP = EPS ** (1 / 2)
COMPLEX_STEP = 1e-20


def float64_arrays(arrays: Mapping[str, ArrayLike]) -> dict[str, Array]:
    """Fresh float64 copies of real arrays (integers and bools too); complex arrays raise TypeError."""
    copies = {}
    for name, value in arrays.items():
        array = np.asarray(value)
        if array.dtype.kind not in "biuf":
            raise TypeError(
                f"{name} has dtype {array.dtype}; gradients are checked at real points "
                "(bool, integer or float arrays)"
            )
        copies[name] = array.astype(np.float64, copy=True)
    return copies


def on_copies(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` called on copies of its array arguments, so it cannot change the caller's."""

    def call(**arrays: Any) -> Any:
        return function(**{name: np.array(value, copy=True) for name, value in arrays.items()})

    return call


def real_scalar(value: Any) -> float:
    """``value`` as a Python float; a clear error if f did not return a real scalar."""
    array = np.asarray(value)
    if array.size != 1:
        raise ValueError(f"f must return a scalar; it returned an array of shape {array.shape}")
    if np.iscomplexobj(array):
        raise TypeError(f"f returned the complex value {array.item()!r} at a real point")
    return float(array.reshape(()))


def _scaled(step: float | None, default: float, x: float) -> float:
    return default * max(1.0, abs(x)) if step is None else step


def central_difference(
    f: ScalarFunction, arrays: Mapping[str, ArrayLike], wrt: str, step: float | None = None
) -> Array:
    """∂f/∂A ≈ (f(A + hEᵢⱼ) − f(A − hEᵢⱼ)) / 2h, entry by entry; h = ε^{1/3}·max(1, |Aᵢⱼ|) unless ``step``.

    2·A.size evaluations of f. ``step``, if given, is the same absolute h for every entry.
    """
    point = float64_arrays(arrays)
    target = point[wrt]
    gradient = np.empty(target.shape)
    for index in np.ndindex(target.shape):
        x = float(target[index])
        h = _scaled(step, CENTRAL_STEP, x)
        up, down = x + h, x - h
        target[index] = up
        f_up = real_scalar(f(**point))
        target[index] = down
        f_down = real_scalar(f(**point))
        target[index] = x
        gradient[index] = (f_up - f_down) / (up - down)
    return gradient


def forward_difference(
    f: ScalarFunction, arrays: Mapping[str, ArrayLike], wrt: str, step: float | None = None
) -> Array:
    """∂f/∂A ≈ (f(A + hEᵢⱼ) − f(A)) / h, entry by entry; h = ε^{1/2}·max(1, |Aᵢⱼ|) unless ``step``."""
    point = float64_arrays(arrays)
    target = point[wrt]
    f_0 = real_scalar(f(**point))
    gradient = np.empty(target.shape)
    for index in np.ndindex(target.shape):
        x = float(target[index])
        up = x + _scaled(step, FORWARD_STEP, x)
        target[index] = up
        gradient[index] = (real_scalar(f(**point)) - f_0) / (up - x)
        target[index] = x
    return gradient


def complex_step(
    f: ScalarFunction, arrays: Mapping[str, ArrayLike], wrt: str, step: float | None = None
) -> Array:
    """∂f/∂A = Im f(A + ihEᵢⱼ) / h, entry by entry; h = 1e-20·max(1, |Aᵢⱼ|) unless ``step``.

    f must accept complex input and be holomorphic (no abs, conjugation or casts to
    real); a TypeError says so when f returns a real value for complex input.
    """
    point = float64_arrays(arrays)
    target = point[wrt].astype(np.complex128)
    point[wrt] = target
    gradient = np.empty(target.shape)
    for index in np.ndindex(target.shape):
        x = float(target[index].real)
        h = _scaled(step, COMPLEX_STEP, x)
        target[index] = complex(x, h)
        value = np.asarray(f(**point))
        target[index] = x
        if not np.iscomplexobj(value) or value.size != 1:
            raise TypeError(
                f"method 'complex' needs f to accept complex input and return a complex scalar; "
                f"for complex {wrt} f returned {value.dtype} of shape {value.shape}. "
                "Use method 'central' for functions that are not holomorphic."
            )
        gradient[index] = value.reshape(()).imag / h
    return gradient


def directional_derivative(
    f: ScalarFunction,
    arrays: Mapping[str, ArrayLike],
    wrt: str,
    direction: ArrayLike,
    step: float | None = None,
) -> float:
    """⟨∂f/∂A, V⟩ ≈ (f(A + tV) − f(A − tV)) / 2t; t = ε^{1/3}·max(1, rms A) / rms V unless ``step``."""
    point = float64_arrays(arrays)
    A = point[wrt]
    V = np.asarray(direction, dtype=np.float64)
    if V.shape != A.shape:
        raise ValueError(f"direction has shape {V.shape}; {wrt} has shape {A.shape}")
    if A.size == 0 or not V.any():
        return 0.0
    if step is None:
        step = CENTRAL_STEP * max(1.0, _rms(A)) / _rms(V)
    point[wrt] = A + step * V
    f_up = real_scalar(f(**point))
    point[wrt] = A - step * V
    f_down = real_scalar(f(**point))
    return (f_up - f_down) / (2 * step)


def _rms(array: Array) -> float:
    return float(np.sqrt(np.mean(np.square(array))))


METHODS: dict[str, Callable[..., Array]] = {
    "central": central_difference,
    "forward": forward_difference,
    "complex": complex_step,
}
"""The entrywise numeric gradients by name."""
