"""Exact proofs at concrete shapes: numpy code run on arrays of symbols, compared entry by entry.

The value and the gradient both come from running numpy code on the object arrays of
:func:`~matgrad.symbolic.arrays.symbol_arrays`. For every entry A[idx] the derivative
∂value/∂A[idx] is taken exactly (see :mod:`matgrad.symbolic.polynomials`) and the
gradient's entry must equal it as a polynomial: no floating point, no tolerance.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import sympy

from matgrad.registry import Objective
from matgrad.signature import BIAS_KINDS, BiasKind
from matgrad.symbolic.arrays import Array, as_sympy, numeric_instance, symbol_arrays
from matgrad.symbolic.fields import NotRational, RationalFunctions
from matgrad.symbolic.functions import rational_zero, sigma, sigma_normal_form
from matgrad.symbolic.polynomials import AtomRing, NotPolynomial
from matgrad.symbolic.verdict import CONCRETE, Counterexample, Ledger, Verdict, method_name

# A numeric residual below this (relative to the sizes involved) is no witness of a wrong formula.
_WITNESS_TOLERANCE = 1e-20
_DIGITS = 40
_FACTOR_CHARACTERS = 400


@dataclass(frozen=True)
class Case:
    """One concrete instance of an objective: its sizes, bias kind and argument shapes."""

    sizes: Mapping[str, int]
    bias_kind: BiasKind
    shapes: Mapping[str, tuple[int, ...]]

    @property
    def label(self) -> str:
        return "(" + ",".join(str(s) for s in self.sizes.values()) + f") {self.bias_kind}"


def cases(
    objective: Objective,
    sizes: Mapping[str, int] | Sequence[Mapping[str, int]] | None = None,
    bias_kinds: Iterable[BiasKind] = BIAS_KINDS,
) -> list[Case]:
    """Every sizes × bias kind, without repeats (an objective without row biases has one kind)."""
    if sizes is None:
        size_list: Sequence[Mapping[str, int]] = objective.sample_sizes
    elif isinstance(sizes, Mapping):
        size_list = [sizes]
    else:
        size_list = sizes
    found: list[Case] = []
    seen: set[tuple[tuple[str, tuple[int, ...]], ...]] = set()
    for each in size_list:
        for kind in bias_kinds:
            shapes = objective.signature.shapes(each, kind)
            key = tuple(shapes.items())
            if key not in seen:
                seen.add(key)
                found.append(Case(dict(each), kind, shapes))
    return found


def describe_bias_kinds(objective: Objective, kinds: Iterable[BiasKind]) -> str:
    """E.g. '; b full, (1,·), (·,)', or '' for an objective without row biases."""
    biases = "/".join(a.name for a in objective.signature.args if a.row_bias)
    if not biases:
        return ""
    used = set(kinds)
    forms = {"full": "full", "row": "(1,·)", "vector": "(·,)"}
    return f"; {biases} " + ", ".join(forms[k] for k in BIAS_KINDS if k in used)


def describe_cases(objective: Objective, found: Sequence[Case]) -> str:
    """E.g. '(n,k,m) = (1,1,1) (5,3,2) (2,4,3); b full, (1,·), (·,)'."""
    dims = objective.signature.dims
    sizes = dict.fromkeys("(" + ",".join(str(c.sizes[d]) for d in dims) + ")" for c in found)
    text = "(" + ",".join(dims) + ") = " + " ".join(sizes)
    return text + describe_bias_kinds(objective, (c.bias_kind for c in found))


@dataclass(frozen=True)
class Mismatch:
    """The first entry where a candidate differs from the derivative, or why it cannot be compared."""

    entry: tuple[int, ...] | None
    difference: str
    candidate_value: float | None = None
    expected_value: float | None = None


def _readable(difference: Any) -> str:
    """The difference as text, factored when it is short enough for factoring to be quick and help."""
    text = str(difference)
    return str(sympy.factor(difference)) if len(text) <= _FACTOR_CHARACTERS else text


def vanishes(expression: Any) -> bool:
    """Slow path: sympy's simplify, with opaque functions first written through exp (σ = 1/(1 + e⁻ˣ))."""
    return bool(sympy.simplify(as_sympy(expression).rewrite(sympy.exp)) == 0)


def _number(expression: Any, values: Mapping[Any, Any]) -> float:
    return float(sympy.re(as_sympy(expression).xreplace(values).evalf(_DIGITS)))


class ExactGradient:
    """The exact gradient of ``value`` with respect to the entries of ``arrays``.

    ``candidates`` are the expressions that will be compared (their function atoms must
    be known up front). Polynomial arithmetic in atoms is the fast path; expressions
    outside it (division, symbolic powers) fall back to sympy's ``diff`` and ``simplify``.
    """

    def __init__(self, value: Any, arrays: Mapping[str, Array], candidates: Iterable[Any] = ()) -> None:
        self.arrays = arrays
        self.value = as_sympy(value)
        candidates = list(candidates)
        self._candidates = candidates
        self._normal: tuple[AtomRing, Any, Any] | bool | None = False  # built on first need
        self._rational: RationalFunctions | None = None  # built on first need
        self._rational_value: Any = None
        try:
            self.ring: AtomRing | None = AtomRing([self.value, *candidates])
            self._value_polynomial = self.ring(self.value)
            self._partials = self.ring.partials(self._value_polynomial)
        except NotPolynomial:
            self.ring = None

    def expected(self, symbol: Any) -> Any:
        """∂value/∂symbol as a sympy expression."""
        if self.ring is None:
            return sympy.diff(self.value, symbol)
        try:
            return self.ring.as_expr(self.ring.derivative(self._value_polynomial, symbol, self._partials))
        except NotPolynomial:  # an atom whose derivative leaves the ring, e.g. log′ = 1/u
            return sympy.diff(self.value, symbol)

    def array(self, name: str) -> Array:
        """∂value/∂arrays[name], an object array of the argument's shape."""
        source = self.arrays[name]
        out = np.empty(source.shape, dtype=object)
        for index, symbol in np.ndenumerate(source):
            out[index] = self.expected(symbol)
        return out

    def _is_zero(self, candidate: Any, symbol: Any) -> tuple[bool, Any]:
        residual = None
        if self.ring is not None:
            try:
                residual = self.ring(candidate) - self.ring.derivative(
                    self._value_polynomial, symbol, self._partials
                )
            except NotPolynomial:
                pass
            else:
                if not residual:
                    return True, 0
        # exp, tanh or σ(−v) in the candidate: the same function of other atoms (1/(1 + e⁻ᶻ) is σ(z)).
        special = as_sympy(candidate).has(sympy.exp, sympy.tanh, sigma)
        if not special and residual is None:
            equal = self._rational_equal(candidate, symbol)
            if equal is not None:
                return equal, 0 if equal else as_sympy(candidate) - self.expected(symbol)
        if special and self._normal_zero(candidate, symbol):
            return True, 0
        if (
            residual is not None
        ):  # nonzero in independent atoms; first_mismatch confirms with a numeric witness
            return False, self.ring.as_expr(residual) if self.ring is not None else residual
        difference = as_sympy(candidate) - sympy.diff(self.value, symbol)
        if special:  # rational in σ atoms: nonzero goes to first_mismatch's numeric witness, not simplify
            return rational_zero(difference), difference
        # Determinants and inverses give rational functions: a zero numerator over a common
        # denominator decides exactly and fast; simplify is the slow fallback.
        return rational_zero(difference) or vanishes(difference), difference

    def _rational_equal(self, candidate: Any, symbol: Any) -> bool | None:
        """Whether candidate = ∂value/∂symbol as rational functions of the entries; None: not both rational.

        Determinants and inverses land here: equality of reduced fractions is exact, and
        far faster than bringing the difference over a common denominator in sympy.
        """
        if self._rational is None:
            self._rational = RationalFunctions(dict.fromkeys(s for a in self.arrays.values() for s in a.flat))
            try:
                self._rational_value = self._rational(self.value)
            except NotRational:  # e.g. a log-determinant: its derivatives may still be rational
                self._rational_value = None
        field = self._rational
        try:
            if self._rational_value is not None:
                expected = field.derivative(self._rational_value, symbol)
            else:
                expected = field(self.expected(symbol))
            return field.equal(field(as_sympy(candidate)), expected)
        except NotRational:
            return None

    def _normal_zero(self, candidate: Any, symbol: Any) -> bool:
        """The fast path again, on value and candidates in σ normal form (σ(−v) = 1 − σ(v), ...)."""
        if self._normal is False:
            try:
                forms = [sigma_normal_form(e) for e in [self.value, *self._candidates]]
                ring = AtomRing(forms)
                value = ring(forms[0])
                self._normal = (ring, value, ring.partials(value))
            except NotPolynomial:  # rational in σ atoms (eᵘ = σ(u)/(1 − σ(u))): rational_zero decides
                self._normal = None
        if not isinstance(self._normal, tuple):
            return False
        ring, value, partials = self._normal
        try:
            return not (ring(sigma_normal_form(candidate)) - ring.derivative(value, symbol, partials))
        except NotPolynomial:
            return False

    def first_mismatch(self, name: str, candidate: Any, values: Mapping[Any, Any]) -> Mismatch | None:
        """None if ``candidate`` equals ∂value/∂arrays[name] exactly, else the first wrong entry.

        ``values`` (a number for every entry symbol) give the numeric instance that
        witnesses a difference.
        """
        return first_mismatch(
            f"∂f/∂{name}", name, self.arrays[name], candidate, self._is_zero, self.expected, values
        )


def first_mismatch(
    label: str,
    name: str,
    source: Array,
    candidate: Any,
    is_zero: Callable[[Any, Any], tuple[bool, Any]],
    expected: Callable[[Any], Any],
    values: Mapping[Any, Any],
) -> Mismatch | None:
    """The first entry of ``candidate`` that differs from ``expected`` of its symbol in ``source``.

    ``is_zero(entry, symbol)`` decides exactly, returning the difference too; a difference
    that is nonzero as a polynomial but vanishes at the numeric instance ``values`` (the
    atoms may be related) is settled by sympy, so every mismatch carries a numeric witness.
    """
    candidate = np.asarray(candidate, dtype=object)
    if candidate.shape != source.shape:
        return Mismatch(None, f"shape {candidate.shape}, but {label} has {name}'s shape {source.shape}")
    for index, symbol in np.ndenumerate(source):
        zero, difference = is_zero(candidate[index], symbol)
        if zero:
            continue
        value = _number(expected(symbol), values)
        # Nonzero as a polynomial in the atoms but not at this point: the atoms may be related.
        unwitnessed = abs(_number(difference, values)) <= _WITNESS_TOLERANCE * max(1.0, abs(value))
        if unwitnessed and vanishes(difference):
            continue
        return Mismatch(index, _readable(difference), _number(candidate[index], values), value)
    return None


def counterexample(
    mismatch: Mismatch, arrays: Mapping[str, Array], values: Mapping[Any, Any]
) -> Counterexample:
    """The mismatch with its shapes and the numeric inputs it was evaluated at."""
    inputs = {
        name: np.vectorize(lambda s: int(values[s]), otypes=[int])(a).tolist() for name, a in arrays.items()
    }
    return Counterexample(
        shapes={name: a.shape for name, a in arrays.items()},
        entry=mismatch.entry,
        difference=mismatch.difference,
        inputs=inputs if mismatch.candidate_value is not None else {},
        candidate_value=mismatch.candidate_value,
        expected_value=mismatch.expected_value,
    )


def fresh_copies(arrays: Mapping[str, Any]) -> dict[str, Any]:
    """A new array object per argument, so code run on them cannot change what the prover reads."""
    return {name: array.copy() for name, array in arrays.items()}


def run_candidate(
    candidate: Callable[..., Any], arrays: Mapping[str, Array]
) -> tuple[Array | None, str | None]:
    """The candidate's result as an object array, or None and what it raised.

    The candidate gets copies of ``arrays``: one that writes into its inputs (in-place
    code, or code that tampers with them) changes only its own copies. It runs where
    sympy expressions answer numpy's ``np.exp``, ``np.log``, ``np.tanh``, ... (see
    :func:`~matgrad.symbolic.functions.numpy_functions_on_sympy`).
    """
    from matgrad.symbolic.functions import numpy_functions_on_sympy

    try:
        with numpy_functions_on_sympy():
            result = candidate(**fresh_copies(arrays))
    except Exception as error:  # a wrong formula often fails on shapes; that is a finding, not a crash
        return None, f"raised {type(error).__name__}: {error}"
    if result is None:
        return None, "returned None, not an array"
    try:
        return np.asarray(result, dtype=object), None
    except Exception as error:
        return None, f"returned {type(result).__name__}, not an array ({error})"


def runs_on_numbers(
    candidate: Callable[..., Any], arrays: Mapping[str, Array], values: Mapping[Any, Any]
) -> bool:
    """Whether ``candidate`` runs without raising on float arrays of the same shapes.

    A candidate that raises on symbols but runs on numbers uses numpy the symbolic
    arrays do not model: that is no evidence that it is wrong.
    """
    numeric = {
        name: np.vectorize(lambda s: float(values[s]), otypes=[float])(a) for name, a in arrays.items()
    }
    try:
        with np.errstate(all="ignore"):
            result = candidate(**numeric)
    except Exception:
        return False
    return result is not None


def check_function(
    value_fn: Callable[..., Any],
    gradient_fn: Callable[..., Any],
    shapes: Mapping[str, tuple[int, ...]],
    wrt: str,
    *,
    seed: int = 0,
    timeout: float | None = 60.0,
    symmetric: Collection[str] = (),
) -> Verdict:
    """Prove exactly, at these shapes, that ``gradient_fn(**arrays)`` is ∂ value_fn(**arrays)/∂ arrays[wrt].

    The arguments named in ``symmetric`` are symmetric matrices of symbols (aᵢⱼ = aⱼᵢ). The
    gradient with respect to a symmetric argument is the symmetric matrix C with
    df = ⟨C, dA⟩ for symmetric dA; as aᵢⱼ (i ≠ j) stands in two entries, that is
    ∂f/∂aᵢⱼ = 2Cᵢⱼ = 2Cⱼᵢ off the diagonal and ∂f/∂aᵢᵢ = Cᵢᵢ on it, which is what is proven.

    Both callables are numpy code run on the object arrays of ``symbol_arrays(shapes)``;
    elementwise functions from :mod:`matgrad.elementwise` dispatch on the object dtype.
    A failure carries a counterexample and, if it matches one, the known slip.
    Both functions get copies of the symbolic arrays, and the check runs in a child
    process within ``timeout`` seconds (None: no limit) and 2 GiB of memory; past
    either, or when the gradient runs on numbers but not on symbols, the verdict is
    "undecided" (see :attr:`Verdict.status`), never proven or refuted.

    Examples
    --------
    >>> import numpy as np
    >>> from matgrad.symbolic import check_function
    >>> value = lambda A, B: np.sum((A @ B) ** 2)
    >>> check_function(value, lambda A, B: 2 * A @ B @ B.T, {"A": (2, 3), "B": (3, 2)}, "A").proven
    True
    >>> wrong = check_function(value, lambda A, B: A @ B @ B.T, {"A": (2, 3), "B": (3, 2)}, "A")
    >>> wrong.proven, wrong.diagnosis
    (False, 'missing factor 2')
    """
    from matgrad.budget import BudgetExceeded, run_within_budget

    if wrt not in shapes:
        raise ValueError(f"wrt names unknown argument {wrt!r}; the arguments are {list(shapes)}")
    start = time.perf_counter()
    try:
        return run_within_budget(
            lambda: _check_function(value_fn, gradient_fn, shapes, wrt, seed, symmetric),
            seconds=timeout,
            memory=2 * 2**30,
        )
    except BudgetExceeded as error:
        return Verdict(
            proven=False,
            objective=getattr(value_fn, "__name__", "function"),
            argument=wrt,
            method=CONCRETE,
            shapes=", ".join(f"{name} {shape}" for name, shape in shapes.items()),
            seconds=time.perf_counter() - start,
            note=f"undecided: {error}" + (f" (timeout={timeout:g} s)" if error.resource == "time" else ""),
        )


def symmetrized(array: Array) -> Array:
    """The symmetric matrix with ``array``'s entries on and above the diagonal."""
    out: Array = array.copy()
    for i, j in zip(*np.tril_indices(array.shape[0], -1), strict=True):
        out[i, j] = array[j, i]
    return out


def coordinate_derivatives(gradient: Any) -> Array:
    """∂f/∂aᵢⱼ of a symmetric A from its gradient C: 2Cᵢⱼ off the diagonal, Cᵢᵢ on it."""
    array: Array = np.asarray(gradient, dtype=object)
    if array.ndim != 2 or array.shape[0] != array.shape[1]:
        return array  # the shape check reports it
    weights: Array = (2 - np.eye(array.shape[0], dtype=int)).astype(object)
    return np.multiply(array, weights)


def _check_function(
    value_fn: Callable[..., Any],
    gradient_fn: Callable[..., Any],
    shapes: Mapping[str, tuple[int, ...]],
    wrt: str,
    seed: int,
    symmetric: Collection[str] = (),
) -> Verdict:
    from matgrad.symbolic.slips import diagnose_result

    start = time.perf_counter()
    arrays = symbol_arrays(shapes)
    for name in symmetric:
        arrays[name] = symmetrized(arrays[name])
    values = numeric_instance(arrays, np.random.default_rng(seed))
    value, value_failure = run_candidate(value_fn, arrays)
    if value is None:
        raise ValueError(f"value_fn cannot run on the symbolic arrays: it {value_failure}")
    candidate, failure = run_candidate(gradient_fn, arrays)
    note = None
    if failure is not None and runs_on_numbers(gradient_fn, arrays, values):
        note = f"undecided: the gradient runs on numbers but not on symbols: {failure}"
        failure = None
    mismatch: Mismatch | None = Mismatch(None, failure) if failure else None
    diagnosis = None
    if candidate is not None:
        exact = ExactGradient(value[()] if value.ndim == 0 else value, arrays, candidate.flat)
        if wrt in symmetric:
            candidate = coordinate_derivatives(candidate)
        mismatch = exact.first_mismatch(wrt, candidate, values)
        if mismatch is not None:
            diagnosis = diagnose_result(candidate, exact.array(wrt))
    return Verdict(
        proven=mismatch is None and note is None,
        objective=getattr(value_fn, "__name__", "function"),
        argument=wrt,
        method=CONCRETE,
        shapes=", ".join(f"{name} {shape}" for name, shape in shapes.items()),
        seconds=time.perf_counter() - start,
        counterexample=counterexample(mismatch, arrays, values) if mismatch else None,
        diagnosis=diagnosis,
        note=note,
    )


def prove_concrete(
    objective: Objective, *, seed: int = 0, rules: ModuleType | None = None
) -> dict[str, Verdict]:
    """Prove every gradient ``objective.evaluate`` returns, at every sample size × bias kind.

    One symbolic run of the code per case gives the value and all gradients (the default
    ``wrt=None`` path users call); each argument's seconds are its own comparisons plus
    an equal share of the run and of building the polynomials. ``rules``: the layer rules
    to prove the chain with (default :mod:`matgrad.vjp`; :mod:`matgrad.generic_vjp` is
    the array API path, its verdicts' method says so).
    """
    from matgrad.symbolic.slips import diagnose_result

    found = cases(objective)
    names = objective.arguments
    ledger = Ledger(objective.id, method_name(CONCRETE, rules), names)
    for case in found:
        start = time.perf_counter()
        arrays = symbol_arrays(case.shapes)
        values = numeric_instance(arrays, np.random.default_rng(seed))
        value, grads = objective.evaluate(arrays, rules=rules)
        exact = ExactGradient(value, arrays, [e for name in names for e in grads[name].flat])
        shared = (time.perf_counter() - start) / len(names)
        for name in names:
            start = time.perf_counter()
            if not ledger.settled(name):
                mismatch = exact.first_mismatch(name, grads[name], values)
                if mismatch is not None:
                    ledger.counterexamples[name] = counterexample(mismatch, arrays, values)
                    ledger.diagnoses[name] = diagnose_result(np.asarray(grads[name]), exact.array(name))
            ledger.add_seconds(name, shared + time.perf_counter() - start)
    return ledger.verdicts(describe_cases(objective, found))
