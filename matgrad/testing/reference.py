"""What a gradient is compared with, and how errors are measured.

A :class:`Reference` holds numeric values of ∂f/∂A either entrywise (central
differences, complex step, another autodiff system) or as directional derivatives
⟨∂f/∂A, Vⱼ⟩ along random directions Vⱼ. A candidate gradient G is *measured* the same
way (G itself, or ⟨G, Vⱼ⟩) and compared value by value with the relative error
|err| / max(1, |ref|): absolute for small references, relative for large ones.

Examples
--------
>>> import numpy as np
>>> from matgrad.testing.reference import Reference
>>> reference = Reference(np.array([[2.0, 200.0]]))
>>> reference.relative_errors(np.array([[2.5, 202.0]]))
array([[0.25, 0.01]])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

Array = NDArray[Any]


def relative_errors(measured: ArrayLike, reference: ArrayLike) -> Array:
    """|m − r| / max(1, |r|), elementwise, in float64."""
    m = np.asarray(measured)
    r = np.asarray(reference, dtype=np.float64)
    return np.asarray(np.abs(m - r) / np.maximum(1.0, np.abs(r)), dtype=np.float64)


@dataclass(frozen=True, eq=False)
class Reference:
    """Numeric values of ∂f/∂A: ``values`` has A's shape, or one value per row of ``directions``."""

    values: Array
    directions: Array | None = None
    """(k, *A.shape): values[j] = ⟨∂f/∂A, directions[j]⟩; None for an entrywise reference."""

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of A, hence of its gradient."""
        if self.directions is None:
            return tuple(self.values.shape)
        return tuple(self.directions.shape[1:])

    @property
    def entrywise(self) -> bool:
        return self.directions is None

    def measure(self, gradient: Array) -> Array:
        """The candidate as the reference sees it: G itself, or ⟨G, Vⱼ⟩ for each direction."""
        G = np.asarray(gradient)
        G = G.astype(np.result_type(G.dtype, np.float64))
        if self.directions is None:
            return G
        return np.asarray(np.tensordot(self.directions, G, axes=G.ndim))

    def relative_errors(self, gradient: Array) -> Array:
        """|err| / max(1, |ref|) for every measured value of a gradient of A's shape."""
        return relative_errors(self.measure(gradient), self.values)

    def fits(self, gradient: Array, tolerance: float) -> bool:
        """Whether every measured value is within ``tolerance`` (NaN never fits)."""
        if tuple(np.shape(gradient)) != self.shape:
            return False
        return bool(np.all(self.relative_errors(gradient) <= tolerance))
