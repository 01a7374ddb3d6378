"""What is timed: sizes, cases from the registry, and each case's matrix products.

The roofline of a case is the list of matrix products that matgrad's own code performs
for it, recorded by running the objective once on arrays that log every ``np.matmul``
(``@`` included) of two matrices over the data's n rows (a row sum 1ₙᵀG, a matrix-vector
product, is not one, nor a product of weights alone such as post's b₁W₂);
the benchmark then replays exactly those products, with the same shapes, memory layouts
and ``out=`` buffers, on fresh random operands, keeping their results alive until all are
done, as the gradient does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from matgrad.registry import OBJECTIVES, Objective

# Sizes per objective module, from the issue: the seed notebook's, medium and large.
SIZES: dict[str, dict[str, dict[str, int]]] = {
    "seed": {"affine": {"n": 10, "k": 4, "m": 4}, "sigmoid_net": {"n": 100, "d": 1, "h": 10, "o": 1}},
    "medium": {
        "affine": {"n": 1000, "k": 64, "m": 64},
        "sigmoid_net": {"n": 1000, "d": 64, "h": 128, "o": 10},
    },
    "large": {
        "affine": {"n": 100_000, "k": 256, "m": 256},
        "sigmoid_net": {"n": 100_000, "d": 256, "h": 512, "o": 10},
    },
}

# The gradient subset timed besides "all", and at which sizes: the weight alone for the
# affine map (two matrix products instead of three; a goal of the issue), the parameters
# for the network (what training needs; not at the large size, to keep the run short).
WRT_SUBSETS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "affine": (("W",), ("seed", "medium", "large")),
    "sigmoid_net": (("W1", "b1", "W2", "b2"), ("seed", "medium")),
}

BIAS_KINDS = ("full", "row")


@dataclass(frozen=True)
class Product:
    """One recorded matrix product: operand shapes, whether each is a transposed view, out=."""

    shape_a: tuple[int, ...]
    transposed_a: bool
    shape_b: tuple[int, ...]
    transposed_b: bool
    into_buffer: bool

    def with_rows(self, recorded: int, rows: int) -> Product:
        """The same product with the recorded number of rows n replaced by ``rows``."""

        def scale(shape: tuple[int, ...]) -> tuple[int, ...]:
            return tuple(rows if size == recorded else size for size in shape)

        return Product(
            scale(self.shape_a), self.transposed_a, scale(self.shape_b), self.transposed_b, self.into_buffer
        )


@dataclass
class Case:
    objective: Objective
    size_name: str
    sizes: Mapping[str, int]
    bias_kind: str
    dtype: np.dtype[Any]
    wrt_subset: tuple[str, ...] | None
    arrays: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def label(self) -> str:
        return f"{self.objective.id} {self.bias_kind}"

    @property
    def size_label(self) -> str:
        return "×".join(str(v) for v in self.sizes.values())


def cases(
    size_names: list[str],
    dtypes: list[str],
    objective_ids: list[str] | None = None,
    large_bias_kinds: tuple[str, ...] = BIAS_KINDS,
) -> list[Case]:
    """Every registry entry × size × dtype × bias kind, in that nesting.

    The bias kinds are full and row, except at the large size: ``large_bias_kinds``.
    """
    found = []
    for size_name in size_names:
        for dtype in dtypes:
            for objective in OBJECTIVES:
                if objective_ids and objective.id not in objective_ids:
                    continue
                sizes = SIZES[size_name][objective.name]
                subset, subset_sizes = WRT_SUBSETS.get(objective.name, (None, ()))
                for kind in large_bias_kinds if size_name == "large" else BIAS_KINDS:
                    wrt = subset if size_name in subset_sizes else None
                    found.append(Case(objective, size_name, sizes, kind, np.dtype(dtype), wrt))
    return found


def make_arrays(case: Case, seed: int = 0) -> dict[str, np.ndarray]:
    """Standard normal inputs, weights scaled by 1/√(fan-in) so the sigmoid is not saturated."""
    rng = np.random.default_rng(seed)
    arrays = case.objective.signature.random_arguments(rng, case.sizes, case.bias_kind, case.dtype)
    for name, array in arrays.items():
        if name.startswith("W"):
            array /= float(np.sqrt(array.shape[0]))
    return arrays


class _Recording(np.ndarray):
    """An ndarray that logs every np.matmul it takes part in, into ``_Recording.log``."""

    log: ClassVar[list[Product]] = []

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        plain = [_plain(x) for x in inputs]
        kwargs = {key: _plain(value) for key, value in kwargs.items()}
        if "out" in kwargs:
            kwargs["out"] = tuple(_plain(o) for o in kwargs["out"])
        # Matrix by matrix only: a row sum 1ₙᵀG, which matgrad computes as a BLAS
        # matrix-vector product, is the bias's own cost, not part of the roofline.
        if ufunc is np.matmul and method == "__call__" and all(np.ndim(x) == 2 for x in plain[:2]):
            a, b = plain
            _Recording.log.append(
                Product(a.shape, _is_transposed(a), b.shape, _is_transposed(b), kwargs.get("out") is not None)
            )
        result = getattr(ufunc, method)(*plain, **kwargs)
        return result.view(_Recording) if isinstance(result, np.ndarray) else result


def _plain(x: Any) -> Any:
    return np.asarray(x) if isinstance(x, _Recording) else x


def _is_transposed(a: np.ndarray) -> bool:
    return bool(a.ndim == 2 and not a.flags.c_contiguous and a.flags.f_contiguous)


def record_products(case: Case, wrt: tuple[str, ...] | None) -> list[Product]:
    """The matrix products matgrad performs for value and the gradients in ``wrt`` (None: all).

    Recorded on a few rows, a number no other size has, then scaled to the case's n: the
    products do not depend on n, and recording at the large size would cost a full run.
    """
    others = {size for dim, size in case.sizes.items() if dim != "n"}
    rows = next(r for r in range(5, 1000) if r not in others)
    sizes = {**case.sizes, "n": rows}
    arrays = case.objective.signature.random_arguments(
        np.random.default_rng(0), sizes, case.bias_kind, case.dtype
    )
    _Recording.log = []
    case.objective.evaluate({name: array.view(_Recording) for name, array in arrays.items()}, wrt)
    # Products of one-row operands alone (b₁W₂ and its gradients) do not grow with n: not the roofline's.
    over_rows = [product for product in _Recording.log if rows in product.shape_a + product.shape_b]
    return [product.with_rows(rows, case.sizes["n"]) for product in over_rows]


def product_operands(products: list[Product], dtype: np.dtype[Any], seed: int = 1) -> list[tuple[Any, ...]]:
    """Random operands (and out buffers) laid out as recorded, for replaying the products.

    Operands of equal shape and layout share one random array, as the real chain's
    operands largely do (X, W, A appear twice each); a shared array is read, never written.
    """
    rng = np.random.default_rng(seed)
    made: dict[tuple[tuple[int, ...], bool], np.ndarray] = {}

    def operand(shape: tuple[int, ...], transposed: bool) -> np.ndarray:
        key = (shape, transposed)
        if key not in made:
            base = rng.standard_normal(shape[::-1] if transposed else shape, dtype=np.float64).astype(dtype)
            made[key] = base.T if transposed else base
        return made[key]

    replay = []
    for p in products:
        a, b = operand(p.shape_a, p.transposed_a), operand(p.shape_b, p.transposed_b)
        out = np.empty((p.shape_a[0], p.shape_b[1]), dtype) if p.into_buffer else None
        replay.append((a, b, out))
    return replay


def replay(operands: list[tuple[Any, ...]]) -> list[np.ndarray]:
    """Run the recorded matrix products once, keeping every result until the end.

    A gradient keeps its intermediates and returns its results; a replay that dropped
    each product at once would let the allocator hand the same, already mapped pages to
    the next one, a saving no gradient computation can have (page faults of fresh n×h
    buffers cost up to a few tenths of a second each on the development VM).
    """
    return [np.matmul(a, b, out=out) for a, b, out in operands]
