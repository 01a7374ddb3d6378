"""Checking gradient callables against numeric references: the public entry points."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from matgrad.budget import BudgetExceeded, run_within_budget
from matgrad.registry import Objective, get_objective
from matgrad.signature import BiasKind, Signature
from matgrad.testing.compare import compare
from matgrad.testing.methods import (
    METHODS,
    Array,
    GradientFunction,
    ScalarFunction,
    directional_derivative,
    float64_arrays,
    on_copies,
    real_scalar,
)
from matgrad.testing.reference import Reference
from matgrad.testing.report import GradientReport
from matgrad.testing.tolerance import default_tolerance
from matgrad.wrt import Wrt, resolve_wrt

CHECK_METHODS = ("central", "complex", "direction")
DEFAULT_TIMEOUT = 60.0
"""Seconds :func:`check_gradients` may take before its report is undecided."""
DIAGNOSIS_DIRECTIONS = 3
"""Directions added when the random-direction test fails, so that a slip can be told
apart from an arbitrary error (one directional derivative fits any constant factor)."""


def _directions_reference(
    f: ScalarFunction, arrays: Mapping[str, ArrayLike], name: str, rng: np.random.Generator, count: int
) -> Reference:
    directions = rng.standard_normal((count, *np.shape(arrays[name])))
    values = np.array([directional_derivative(f, arrays, name, V) for V in directions])
    return Reference(values, directions)


def _joined(first: Reference, second: Reference) -> Reference:
    assert first.directions is not None and second.directions is not None
    return Reference(
        np.concatenate([first.values, second.values]), np.concatenate([first.directions, second.directions])
    )


def check_gradients(
    f: ScalarFunction,
    grad: GradientFunction,
    arrays: Mapping[str, ArrayLike],
    *,
    wrt: Wrt = None,
    method: str = "central",
    rng: np.random.Generator | None = None,
    tolerance: float | None = None,
    title: str = "f",
    timeout: float | None = DEFAULT_TIMEOUT,
) -> GradientReport:
    """Check ``grad`` against numeric derivatives of ``f`` at ``arrays``.

    Parameters
    ----------
    f : callable
        ``f(**arrays) -> scalar``.
    grad : callable
        ``grad(**arrays) -> dict`` mapping argument names to gradients ∂f/∂A, each of
        A's shape.
    arrays : mapping of str to array_like
        The point: real arrays (bool, integer or float) by argument name.
    wrt : str or sequence of str, optional
        The arguments to check (default: all of ``arrays``).
    method : {"central", "complex", "direction"}
        The reference (see :mod:`matgrad.testing.methods`): central differences
        (2 evaluations of f per entry), complex step (1 per entry, exact to machine
        precision, needs f holomorphic and accepting complex input) or the random
        direction test ⟨∇f, V⟩ ≈ (f(A + tV) − f(A − tV)) / 2t (2 evaluations per
        argument whatever its size; 3 more directions are drawn if it fails, to
        diagnose).
    rng : numpy.random.Generator, optional
        Draws the directions; required by ``method="direction"``.
    tolerance : float, optional
        Pass threshold on |err| / max(1, |ref|); default
        :func:`matgrad.testing.tolerance.default_tolerance` for each gradient's dtype.
    title : str
        What is checked, for the report.
    timeout : float or None
        Seconds the check may take (default 60; None: no limit). It runs in a child
        process; past the limit the report is undecided ("undecided: timed out"), neither
        passed nor failed. ``rng`` is then not advanced in the caller.

    ``f`` and ``grad`` are always called on copies of ``arrays``: code that writes
    into its inputs changes neither the caller's data nor the other evaluations.

    Returns
    -------
    GradientReport
        Per argument: max absolute and relative error, worst entry, tolerance,
        pass/fail and, for a failure, the name of the slip that explains it.

    Examples
    --------
    >>> import numpy as np
    >>> from matgrad.testing import check_gradients
    >>> def f(X, W):
    ...     return ((X @ W) ** 2).sum()
    >>> def grad(X, W):
    ...     R = X @ W
    ...     return {"X": 2 * R @ W.T, "W": X.T @ R}  # dW misses its factor 2
    >>> rng = np.random.default_rng(0)
    >>> arrays = {"X": rng.standard_normal((4, 3)), "W": rng.standard_normal((3, 2))}
    >>> report = check_gradients(f, grad, arrays, method="complex")
    >>> report.passed, report.arguments["X"].passed, report.arguments["W"].diagnosis
    (False, True, 'off by a factor ½')
    """
    names = resolve_wrt(wrt, tuple(arrays))
    if method not in CHECK_METHODS:
        raise ValueError(f"method must be one of {CHECK_METHODS}; got {method!r}")
    if method == "direction" and rng is None:
        raise ValueError("method='direction' draws random directions: pass rng=np.random.default_rng(seed)")
    if not (callable(f) and callable(grad)):
        raise TypeError("f and grad must be callables taking the arrays by name")
    start = time.perf_counter()
    try:
        return run_within_budget(
            lambda: _check(f, grad, arrays, names, method, rng, tolerance, title), seconds=timeout
        )
    except BudgetExceeded as error:
        return GradientReport(
            title, method, undecided=f"undecided: {error} (after {time.perf_counter() - start:.1f} s)"
        )


def _check(
    f: ScalarFunction,
    grad: GradientFunction,
    arrays: Mapping[str, ArrayLike],
    names: tuple[str, ...],
    method: str,
    rng: np.random.Generator | None,
    tolerance: float | None,
    title: str,
) -> GradientReport:
    f, grad = on_copies(f), on_copies(grad)
    gradients = grad(**arrays)
    if not isinstance(gradients, Mapping):
        raise TypeError(
            f"grad must return a dict from argument name to gradient; it returned {type(gradients).__name__}"
        )
    missing = [name for name in names if name not in gradients]
    if missing:
        raise ValueError(f"grad returned no gradient for {missing}; it returned {list(gradients)}")
    value = real_scalar(f(**float64_arrays(arrays)))
    reports = {}
    for name in names:
        G = np.asarray(gradients[name])
        if G.dtype == object or not np.issubdtype(G.dtype, np.number):
            raise TypeError(
                f"grad's gradient for {name} is not a numeric array: {type(gradients[name]).__name__}"
            )
        limit = default_tolerance(G.dtype, method, value) if tolerance is None else tolerance
        if method == "direction":
            assert rng is not None
            reference = _directions_reference(f, arrays, name, rng, 1)
            report = compare(name, G, reference, limit)
            if not report.passed:
                more = _directions_reference(f, arrays, name, rng, DIAGNOSIS_DIRECTIONS)
                report = compare(name, G, _joined(reference, more), limit)
        else:
            report = compare(name, G, Reference(METHODS[method](f, arrays, name)), limit)
        reports[name] = report
    return GradientReport(title, method, reports)


def compare_gradients(
    gradients: Mapping[str, ArrayLike],
    reference: Mapping[str, ArrayLike],
    *,
    tolerance: float | None = None,
    title: str = "f",
    method: str = "reference",
) -> GradientReport:
    """Compare gradients with reference gradients computed elsewhere (e.g. by autograd).

    Every name in ``reference`` is checked; the default tolerance is √u of each
    gradient's dtype (:func:`matgrad.testing.tolerance.default_tolerance` for an exact
    reference). ``method`` names the reference in the report, e.g. "torch autograd".

    Examples
    --------
    >>> import numpy as np
    >>> from matgrad.testing import compare_gradients
    >>> G = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> compare_gradients({"W": G.T}, {"W": G}).arguments["W"].diagnosis
    'transposed'
    """
    missing = [name for name in reference if name not in gradients]
    if missing:
        raise ValueError(f"no gradient for {missing}; the gradients given are {list(gradients)}")
    reports = {}
    for name, values in reference.items():
        G = np.asarray(gradients[name])
        limit = default_tolerance(G.dtype, "reference", 0.0) if tolerance is None else tolerance
        reports[name] = compare(name, G, Reference(np.asarray(values, dtype=np.float64)), limit)
    return GradientReport(title, method, reports)


def random_sizes(
    signature: Signature, rng: np.random.Generator, low: int = 1, high: int = 6
) -> dict[str, int]:
    """Each symbolic size of ``signature`` drawn uniformly from low..high, in the signature's order."""
    if not 0 <= low <= high:
        raise ValueError(f"sizes must satisfy 0 ≤ low ≤ high; got {low}..{high}")
    return {dim: int(rng.integers(low, high + 1)) for dim in signature.dims}


def _random_point(
    objective: str | Objective,
    sizes: Mapping[str, int] | None,
    bias_kind: BiasKind,
    dtype: DTypeLike,
    seed: int,
) -> tuple[Objective, np.random.Generator, dict[str, int], dict[str, Array]]:
    """The entry, its generator after drawing, the sizes (drawn unless given) and the arguments."""
    entry = get_objective(objective) if isinstance(objective, str) else objective
    rng = np.random.default_rng(seed)
    chosen = dict(random_sizes(entry.signature, rng) if sizes is None else sizes)
    return entry, rng, chosen, entry.signature.random_arguments(rng, chosen, bias_kind, dtype)


def _point_text(sizes: Mapping[str, int], bias_kind: BiasKind, dtype: DTypeLike) -> str:
    """'n=3 k=2 m=4; bias full; float64': where a check was made, for its report's title."""
    size_text = " ".join(f"{dim}={size}" for dim, size in sizes.items())
    return f"{size_text}; bias {bias_kind}; {np.dtype(dtype).name}"


def check_objective(
    objective: str | Objective,
    *,
    sizes: Mapping[str, int] | None = None,
    bias_kind: BiasKind = "full",
    dtype: DTypeLike = np.float64,
    method: str = "central",
    seed: int = 0,
) -> GradientReport:
    """Check a registry entry's closed-form gradients at a random point.

    ``np.random.default_rng(seed)`` draws, in order, the sizes (each from 1 to 6 unless
    ``sizes`` is given), standard normal arguments of ``dtype`` with the bias shape
    ``bias_kind`` ("full", "row" or "vector"), then any random directions.

    Examples
    --------
    >>> from matgrad.testing import check_objective
    >>> report = check_objective("sigmoid_net.post", bias_kind="vector", method="complex", seed=1)
    >>> report.passed, list(report.arguments)
    (True, ['X', 'Y', 'W1', 'b1', 'W2', 'b2'])
    """
    entry, rng, chosen, arrays = _random_point(objective, sizes, bias_kind, dtype, seed)

    def f(**point: Array) -> Any:
        return entry.value(point)

    def grad(**point: Array) -> dict[str, Array]:
        return entry.grad(point)

    title = f"{entry.id} ({_point_text(chosen, bias_kind, dtype)})"
    return check_gradients(f, grad, arrays, method=method, rng=rng, title=title)


SECOND_ORDER = ("hvp", "gauss_newton")


def check_second_order(
    objective: str | Objective,
    quantity: str = "hvp",
    *,
    sizes: Mapping[str, int] | None = None,
    bias_kind: BiasKind = "full",
    dtype: DTypeLike = np.float64,
    method: str = "central",
    seed: int = 0,
) -> GradientReport:
    """Check a registry entry's ∇²f·V (``quantity="hvp"``) or 2JᵀJ·V numerically, every argument moving.

    Both are gradients, so :func:`check_gradients` checks them: ∇²f·V is the gradient
    of g(θ) = ⟨∇f(θ), V⟩ (∇f the closed form, itself checked by :func:`check_objective`),
    and 2JᵀJ·V the gradient of g(θ) = 2⟨R(θ), u⟩ with u = JV, the residual's
    directional derivative at the point, computed by the same ``method`` (complex step
    or central difference) and then held fixed. ``rng = np.random.default_rng(seed)``
    draws the sizes, the arguments, then the direction V (standard normal).

    Examples
    --------
    >>> from matgrad.testing import check_second_order
    >>> check_second_order("sigmoid_net.pre", "hvp", method="complex", seed=1).passed
    True
    """
    if quantity not in SECOND_ORDER:
        raise ValueError(f"quantity must be one of {SECOND_ORDER}; got {quantity!r}")
    if method not in ("central", "complex"):
        raise ValueError(f"second-order checks use method 'central' or 'complex'; got {method!r}")
    entry, rng, chosen, arrays = _random_point(objective, sizes, bias_kind, dtype, seed)
    direction = {name: rng.standard_normal(a.shape).astype(dtype) for name, a in arrays.items()}
    names = entry.arguments

    if quantity == "hvp":

        def g(**point: Array) -> Any:
            gradients = entry.grad(point)
            return sum(np.vdot(direction[name], gradients[name]) for name in names)

        def product(**point: Array) -> dict[str, Array]:
            return entry.hvp(point, direction)

    else:
        u = _residual_tangent(entry, arrays, direction, method)

        def g(**point: Array) -> Any:
            return 2 * np.vdot(u, entry.residual(entry.signature.validate(point)))

        def product(**point: Array) -> dict[str, Array]:
            return entry.gauss_newton_product(point, direction)

    label = "∇²f·V" if quantity == "hvp" else "2JᵀJ·V"
    title = f"{entry.id} {label} ({_point_text(chosen, bias_kind, dtype)})"
    return check_gradients(g, product, arrays, method=method, rng=rng, title=title)


def _residual_tangent(
    entry: Objective, arrays: Mapping[str, Array], direction: Mapping[str, Array], method: str
) -> Array:
    """JV: the residual's derivative along V, by complex step (exact) or central difference."""
    point = float64_arrays(arrays)

    def residual(moved: Mapping[str, Array]) -> Array:
        return np.asarray(entry.residual(entry.signature.validate(moved)))

    if method == "complex":
        h = 1e-20
        moved = {name: a + 1j * h * direction[name] for name, a in point.items()}
        imaginary: Array = residual(moved).imag / h
        return imaginary
    scale = max(1.0, max(float(np.abs(a).max(initial=0.0)) for a in point.values()))
    t = np.finfo(np.float64).eps ** (1 / 3) * scale
    plus = residual({name: a + t * direction[name] for name, a in point.items()})
    minus = residual({name: a - t * direction[name] for name, a in point.items()})
    difference: Array = (plus - minus) / (2 * t)
    return difference
