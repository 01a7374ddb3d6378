"""Exact, machine-checked proofs of matgrad's gradients, and checks of your own formulas.

- :func:`verify` proves every gradient of the registry, by running the very numpy code
  users call on arrays of sympy symbols: at concrete shapes (entry by entry) and at
  symbolic sizes (in index notation). ``matgrad verify`` prints the table.
- :func:`check` proves or refutes a candidate gradient of a registry objective, with a
  counterexample and the name of the known slip it matches.
- :func:`check_hvp` does the same for a candidate Hessian-vector (or Gauss–Newton)
  product, naming second-order slips (σ″ dropped, cross terms missing, Gauss–Newton
  passed off as the Hessian).
- :func:`check_function` does the same for any numpy value and gradient functions.
- :func:`symbol_arrays` makes the symbolic inputs.

sympy is imported on first use of one of these names, not by ``import matgrad``,
and not by ``matgrad list`` (which imports this package's ``cli`` module).

>>> from matgrad.symbolic import check
>>> verdict = check("affine", "W", lambda X, W, b: X.T @ (X @ W + b))
>>> verdict.proven, verdict.diagnosis
(False, 'missing factor 2')
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matgrad.symbolic.arrays import symbol_arrays
    from matgrad.symbolic.checking import check
    from matgrad.symbolic.checking_second_order import check_hvp
    from matgrad.symbolic.concrete import check_function
    from matgrad.symbolic.verdict import Counterexample, Verdict
    from matgrad.symbolic.verification import verify

_EXPORTS = {
    "Counterexample": "matgrad.symbolic.verdict",
    "Verdict": "matgrad.symbolic.verdict",
    "check": "matgrad.symbolic.checking",
    "check_function": "matgrad.symbolic.concrete",
    "check_hvp": "matgrad.symbolic.checking_second_order",
    "symbol_arrays": "matgrad.symbolic.arrays",
    "verify": "matgrad.symbolic.verification",
}

__all__ = ["Counterexample", "Verdict", "check", "check_function", "check_hvp", "symbol_arrays", "verify"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'matgrad.symbolic' has no attribute {name!r}")
