"""One gradient against its reference: the errors, the worst value, the verdict, the diagnosis."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from matgrad.testing.diagnose import diagnose
from matgrad.testing.reference import Reference, relative_errors
from matgrad.testing.report import ArgumentReport


def compare(name: str, gradient: ArrayLike, reference: Reference, tolerance: float) -> ArgumentReport:
    """Measure ``gradient`` against ``reference`` value by value; diagnose it if it fails.

    A gradient of the wrong shape fails with infinite errors (and may still be
    diagnosed, e.g. as transposed). A NaN anywhere fails and is the worst value.

    Examples
    --------
    >>> import numpy as np
    >>> from matgrad.testing.compare import compare
    >>> from matgrad.testing.reference import Reference
    >>> report = compare("W", np.array([[1.0, 4.0]]), Reference(np.array([[1.0, 2.0]])), 1e-8)
    >>> report.passed, report.worst_index, report.max_rel_error, report.diagnosis
    (False, (0, 1), 1.0, None)
    """
    G = np.asarray(gradient)
    count = int(reference.values.size)
    if G.shape != reference.shape:
        return ArgumentReport(
            name=name,
            shape=reference.shape,
            gradient_shape=G.shape,
            max_abs_error=np.inf,
            max_rel_error=np.inf,
            worst_index=None,
            gradient_at_worst=None,
            reference_at_worst=None,
            tolerance=tolerance,
            failing=count,
            compared=count,
            diagnosis=diagnose(G, reference, tolerance),
        )
    measured = reference.measure(G)
    rel = relative_errors(measured, reference.values)
    failing = int(np.count_nonzero(~(rel <= tolerance)))
    worst = None
    if count:
        # argmax returns the first NaN if there is one: a NaN is the worst value.
        worst = tuple(int(i) for i in np.unravel_index(int(np.argmax(rel)), rel.shape))
    return ArgumentReport(
        name=name,
        shape=reference.shape,
        gradient_shape=G.shape,
        max_abs_error=float(np.max(np.abs(measured - reference.values), initial=0.0)),
        max_rel_error=float(np.max(rel, initial=0.0)),
        worst_index=worst,
        gradient_at_worst=None if worst is None else float(np.real(measured[worst])),
        reference_at_worst=None if worst is None else float(reference.values[worst]),
        tolerance=tolerance,
        failing=failing,
        compared=count,
        diagnosis=diagnose(G, reference, tolerance) if failing else None,
    )
