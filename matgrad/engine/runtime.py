"""What generated code calls at run time: input checks in the registry's words.

Kept apart from the rest of the engine so that generated functions import only numpy and
this small module (and :mod:`matgrad.elementwise` for the functions they use).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

_AXIS_WORDS = ("rows", "columns")


def _format(shape: Sequence[object]) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def check_shapes(received: dict[str, tuple[int, ...]], declared: dict[str, tuple[int | str, ...]]) -> None:
    """Raise ValueError unless every argument has its declared shape, size letters bound alike.

    >>> try:
    ...     check_shapes({"X": (3, 2), "b": (4,)}, {"X": ("n", "k"), "b": ("k",)})
    ... except ValueError as error:
    ...     for part in str(error).split("; "):
    ...         print(part)
    b has shape (4,) but X has 2 columns (shape (3, 2)): they disagree on size k
    b must be (2,) to fit X, or X must have 4 columns to fit b
    """
    bound: dict[str, tuple[int, str, int]] = {}  # letter -> (size, argument, axis)
    for name, dims in declared.items():
        shape = received[name]

        def expected(dims: tuple[int | str, ...] = dims) -> str:
            return _format([bound[d][0] if isinstance(d, str) and d in bound else d for d in dims])

        if len(shape) != len(dims):
            raise ValueError(
                f"{name} must be a {len(dims)}-D array of shape {expected()}; "
                f"got a {len(shape)}-D array of shape {_format(shape)}"
            )
        for axis, (dim, size) in enumerate(zip(dims, shape, strict=True)):
            if isinstance(dim, int):
                if size != dim:
                    raise ValueError(f"{name} has shape {_format(shape)}; it must be {expected()}")
                continue
            if dim not in bound:
                bound[dim] = (size, name, axis)
                continue
            value, source, source_axis = bound[dim]
            if size != value:
                word = _AXIS_WORDS[min(source_axis, 1)] if len(received[source]) > 1 else "entries"
                # Either may be the wrong one: name both, and what each would need.
                raise ValueError(
                    f"{name} has shape {_format(shape)} but {source} has {value} {word} "
                    f"(shape {_format(received[source])}): they disagree on size {dim}; "
                    f"{name} must be {expected()} to fit {source}, or {source} must have {size} "
                    f"{word} to fit {name}"
                )


# Linear algebra for generated code. Each runs on numbers (LAPACK through numpy, in the
# arguments' dtype: float32 stays float32) and, for the proofs, exactly on object arrays of
# sympy expressions: the inverse as adj(A)/det(A), the same rational functions a student
# would write.


def _exact(A: Any) -> Any:
    import sympy

    return sympy.Matrix(A.tolist())


def _exact_det(matrix: Any) -> Any:
    # sympy's intermediate simplification (dotprodsimp) expands every product: seconds at 3×3,
    # where the prover expands once, in a polynomial ring
    from sympy.matrices.utilities import dotprodsimp

    with dotprodsimp(False):
        return matrix.det(method="berkowitz")


def det(A: Any) -> Any:
    """det(A) of a square matrix."""
    if A.dtype == object:
        return _exact_det(_exact(A))
    return np.linalg.det(A)


def logdet(A: Any) -> Any:
    """log det(A) for det(A) > 0; a determinant ≤ 0 is a ValueError (log |det A| is log(abs(det(A))))."""
    if A.dtype == object:
        import sympy

        return sympy.log(_exact_det(_exact(A)))
    sign, log_abs = np.linalg.slogdet(A)
    if not sign > 0:
        raise ValueError(
            "logdet: the determinant is not positive "
            f"(sign {sign:g}); logdet(A) is log det A for det A > 0, write log(abs(det(A))) for log |det A|"
        )
    return log_abs


def inv(A: Any) -> Any:
    """A⁻¹ of a square, invertible matrix."""
    if A.dtype == object:
        from sympy.matrices.utilities import dotprodsimp

        exact = _exact(A)
        with dotprodsimp(False):
            adjugate = exact.adjugate(method="berkowitz")
        return np.array((adjugate / _exact_det(exact)).tolist(), dtype=object)
    return np.linalg.inv(A)


def solve(A: Any, B: Any) -> Any:
    """A⁻¹B without forming A⁻¹ (B a matrix or a 1-D vector)."""
    if A.dtype == object or B.dtype == object:
        return inv(np.asarray(A)) @ B
    return np.linalg.solve(A, B)


def check_structure(name: str, A: Any, structure: str) -> None:
    """Raise ValueError unless ``A`` is symmetric (to rounding) and, for "spd", positive definite."""
    if A.dtype == object or A.size == 0:
        return  # the proofs' symbol arrays are symmetric by construction
    scale = float(np.max(np.abs(A)))
    tolerance = float(np.sqrt(np.finfo(A.dtype).eps)) * max(scale, 1.0)
    asymmetry = float(np.max(np.abs(A - A.T)))
    if asymmetry > tolerance:
        raise ValueError(
            f"{name} is declared {structure} but is not symmetric: max |{name} − {name}ᵀ| = {asymmetry:.3g} "
            f"(tolerance {tolerance:.3g})"
        )
    if structure == "spd":
        try:
            np.linalg.cholesky(A)
        except np.linalg.LinAlgError:
            raise ValueError(f"{name} is declared spd but is not positive definite") from None


# Reductions for generated code: stable on numbers (the maximum along the axis is taken out,
# so entries of 1000 neither overflow nor lose the answer) and exact on object arrays.


def size(value: int, dtype: Any) -> Any:
    """A size as a number of the computation: exact (a sympy Integer) on object arrays."""
    if np.dtype(dtype).kind == "O":
        import sympy

        return sympy.Integer(value)
    return value


def _exact_sum(terms: Any, axis: int | None, keepdims: bool) -> Any:
    import sympy

    if axis is None:
        total = sympy.Add(*terms.flat)
        return np.full((1,) * terms.ndim, total, dtype=object) if keepdims else total
    out = np.empty(terms.shape[:axis] + terms.shape[axis + 1 :], dtype=object)
    for index in np.ndindex(out.shape):
        where = (*index[:axis], slice(None), *index[axis:])
        out[index] = sympy.Add(*terms[where].flat)
    return np.expand_dims(out, axis) if keepdims else out


def logsumexp(Z: Any, axis: int | None = None, keepdims: bool = False) -> Any:
    """log Σ exp(Z) over ``axis``, as numpy's sum(axis, keepdims)."""
    Z = np.asarray(Z)
    if Z.dtype == object:
        import sympy

        summed = _exact_sum(np.vectorize(sympy.exp, otypes=[object])(Z), axis, keepdims)
        return (
            np.vectorize(sympy.log, otypes=[object])(summed)
            if isinstance(summed, np.ndarray)
            else sympy.log(summed)
        )
    peak = np.max(Z, axis=axis, keepdims=True)
    peak = np.where(np.isfinite(peak), peak, 0)
    out = np.log(np.sum(np.exp(Z - peak), axis=axis, keepdims=True)) + peak
    return out if keepdims else (out.reshape(()) if axis is None else np.squeeze(out, axis=axis))


def softmax(Z: Any, axis: int | None = None) -> Any:
    """exp(Z) / Σ exp(Z) over ``axis`` (None: every entry), of Z's shape."""
    Z = np.asarray(Z)
    if Z.dtype == object:
        import sympy

        E = np.vectorize(sympy.exp, otypes=[object])(Z)
        return E / _exact_sum(E, axis, keepdims=True)
    E = np.exp(Z - np.max(Z, axis=axis, keepdims=True))
    E /= np.sum(E, axis=axis, keepdims=True)
    return E
