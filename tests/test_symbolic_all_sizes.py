"""The machinery of the proofs at symbolic sizes: IndexArray must compute what numpy
computes, and the normal form must keep values and separate what differs."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import sympy
from conftest import objective_cases

from matgrad.signature import BIAS_KINDS
from matgrad.symbolic import symbol_arrays
from matgrad.symbolic.all_sizes import generic_entry, size_symbols
from matgrad.symbolic.arrays import entry_symbol
from matgrad.symbolic.index_arrays import IndexArray, elementwise_functions_on_index_arrays
from matgrad.symbolic.normal_form import as_expr, is_identically_zero, normal_form
from matgrad.symbolic.polynomials import AtomRing

n, m = sympy.symbols("n m", integer=True, positive=True)
i, j, p = sympy.symbols("i j p", integer=True)
x = sympy.IndexedBase("x")


def _small_distinct_sizes(objective):
    """The registry's sample sizes with all sizes distinct and the fewest entries."""
    distinct = [s for s in objective.sample_sizes if len(set(s.values())) == len(s)]
    return min(distinct, key=lambda s: sum(s.values()))


def _at_sizes(e, values):
    """An index expression at concrete sizes (``values`` maps sizes and bound indices to
    integers): every Σ written out term by term (sympy's Sum.doit is far slower), every
    entry X[i, j] as the symbol X_i_j of symbol_arrays."""
    if isinstance(e, sympy.Sum):
        indices = [index for index, _, _ in e.limits]
        ranges = [range(int(_at_sizes(lo, values)), int(_at_sizes(hi, values)) + 1) for _, lo, hi in e.limits]
        return sympy.Add(
            *(
                _at_sizes(e.function, {**values, **dict(zip(indices, ks, strict=True))})
                for ks in itertools.product(*ranges)
            )
        )
    if isinstance(e, sympy.Indexed):
        return entry_symbol(str(e.base), tuple(int(_at_sizes(k, values)) for k in e.indices))
    if e.is_Symbol:
        return values.get(e, e)
    if e.args:
        return e.func(*(_at_sizes(a, values) for a in e.args))
    return e


def _equal(a, b) -> bool:
    ring = AtomRing([a, b])
    return ring(a) == ring(b)


@pytest.mark.parametrize("kind", BIAS_KINDS)
@pytest.mark.parametrize("objective", objective_cases())
def test_index_arrays_compute_what_numpy_computes(objective, kind):
    symbols = size_symbols(objective)
    concrete_sizes = _small_distinct_sizes(objective)
    substitution = {symbols[d]: concrete_sizes[d] for d in symbols}
    shapes = objective.signature.shapes(symbols, kind)
    arrays = {name: IndexArray.argument(name, shape) for name, shape in shapes.items()}
    with elementwise_functions_on_index_arrays():
        value, grads = objective.evaluate(arrays)
    numeric_value, numeric_grads = objective.evaluate(
        symbol_arrays(objective.signature.shapes(concrete_sizes, kind))
    )
    assert _equal(_at_sizes(value, substitution), numeric_value)
    for name, gradient in grads.items():
        expected = numeric_grads[name]
        assert tuple(sympy.sympify(s).xreplace(substitution) for s in gradient.shape) == expected.shape
        # The corners: every way a row or column index can be mixed up shows in one of them.
        corners = {
            tuple(k * (size - 1) for k, size in zip(c, expected.shape, strict=True))
            for c in np.ndindex(*(2,) * expected.ndim)
        }
        for index in sorted(corners):
            assert _equal(_at_sizes(gradient.at(*index), substitution), expected[index]), (name, index)


def test_normal_form_renames_summation_indices():
    assert is_identically_zero(sympy.Sum(x[i], (i, 0, n - 1)) - sympy.Sum(x[j], (j, 0, n - 1)), {})[0]


def test_normal_form_keeps_a_square_of_a_sum_apart_from_a_sum_of_squares():
    square_of_sum = sympy.Sum(x[i], (i, 0, n - 1)) ** 2
    assert not is_identically_zero(square_of_sum - sympy.Sum(x[i] ** 2, (i, 0, n - 1)), {})[0]
    double_sum = sympy.Sum(x[i] * x[j], (i, 0, n - 1), (j, 0, n - 1))
    assert is_identically_zero(square_of_sum - double_sum, {})[0]


def test_a_delta_is_eliminated_only_against_an_index_of_the_same_range():
    summed = sympy.Sum(sympy.KroneckerDelta(i, p) * x[i], (i, 0, n - 1))
    assert is_identically_zero(summed - x[p], {p: n})[0]
    # p in 0..m-1 may lie outside 0..n-1: the sum is not x[p] in general.
    assert not is_identically_zero(summed - x[p], {p: m})[0]


def test_an_unused_summation_index_counts_its_range():
    assert is_identically_zero(sympy.Sum(x[0], (i, 0, n - 1)) - n * x[0], {})[0]


@pytest.mark.parametrize("objective", objective_cases())
def test_normal_form_keeps_the_value_of_every_derivative(objective):
    """as_expr(normal_form(e)) equals e at concrete sizes, for the derivatives the proofs use."""
    symbols = size_symbols(objective)
    concrete_sizes = _small_distinct_sizes(objective)
    substitution = {symbols[d]: concrete_sizes[d] for d in symbols}
    shapes = objective.signature.shapes(symbols, "row")
    arrays = {name: IndexArray.argument(name, shape) for name, shape in shapes.items()}
    with elementwise_functions_on_index_arrays():
        value, _ = objective.evaluate(arrays, ())
    for name, shape in shapes.items():
        index, ranges = generic_entry(name, shape)
        derivative = sympy.diff(value, sympy.IndexedBase(name)[index])
        normalised = as_expr(normal_form(derivative, ranges))
        at = {free: 0 for free in ranges}  # the first entry
        assert _equal(
            _at_sizes(normalised.xreplace(at), substitution),
            _at_sizes(derivative.xreplace(at), substitution),
        ), name


def test_writes_into_an_index_array_are_seen_through_every_name_bound_to_it():
    # As with numpy buffers: code that overwrites a buffer it still needs must be
    # proven wrong, so out=, in-place operators and a[...] = b really write.
    A = IndexArray.argument("A", (n, m))
    B = IndexArray.argument("B", (n, m))
    alias = A
    np.multiply(A, 2, out=A)
    assert alias.at(i, j) == 2 * A_entry(i, j)
    alias -= B
    assert A.at(i, j) == 2 * A_entry(i, j) - B.at(i, j)
    A[...] = B
    assert alias.at(i, j) == B.at(i, j)
    assert np.multiply(B, 3).at(i, j) == 3 * B.at(i, j) and B.at(i, j) == sympy.IndexedBase("B")[i, j]
    with pytest.raises(ValueError, match="cannot write an array of shape"):
        np.matmul(A, B.T, out=A)
    with pytest.raises(NotImplementedError, match="does not support"):
        np.exp(A)


def A_entry(row, col):
    return sympy.IndexedBase("A")[row, col]
