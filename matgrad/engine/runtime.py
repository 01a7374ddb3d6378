"""What generated code calls at run time: input checks in the registry's words.

Kept apart from the rest of the engine so that generated functions import only numpy and
this small module (and :mod:`matgrad.elementwise` for the functions they use).
"""

from __future__ import annotations

from collections.abc import Sequence

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
