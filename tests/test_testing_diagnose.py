"""Deliberately wrong gradients get the right diagnosis, for every registry argument and method."""

from __future__ import annotations

import numpy as np
import pytest

from matgrad.registry import OBJECTIVES
from matgrad.testing import check_gradients
from matgrad.testing.diagnose import CONSTANT, HALF, NOT_SUMMED, SIGN, TRANSPOSED, TWICE

SEED = 4
METHODS = ("central", "complex", "direction")

SLIPS = {
    TWICE: lambda G: 2 * G,
    HALF: lambda G: G / 2,
    SIGN: lambda G: -G,
    f"{CONSTANT} 3": lambda G: 3 * G,
    f"{CONSTANT} -0.25": lambda G: -G / 4,
}


def argument_cases(bias_only: bool = False) -> list:
    return [
        pytest.param(objective, arg.name, id=f"{objective.id}-{arg.name}")
        for objective in OBJECTIVES
        for arg in objective.signature.args
        if arg.row_bias or not bias_only
    ]


def point(objective, kind="full"):
    """The entry's second sample sizes: every dimension at least 2, so no argument is a 1×1."""
    sizes = objective.sample_sizes[1]
    return objective.signature.random_arguments(np.random.default_rng(SEED), sizes, kind)


def check_one(objective, arrays, name, wrong, method):
    def grad(**a):
        return {name: wrong(objective.grad(a, wrt=name)[name], a)}

    return check_gradients(
        lambda **a: objective.value(a), grad, arrays, wrt=name, method=method, rng=np.random.default_rng(SEED)
    ).arguments[name]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("objective", "name"), argument_cases())
def test_value_slips_are_named(objective, name, method):
    arrays = point(objective)
    for diagnosis, slip in SLIPS.items():
        report = check_one(objective, arrays, name, lambda G, a, slip=slip: slip(G), method)
        assert not report.passed
        assert report.diagnosis == diagnosis


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("objective", "name"), argument_cases())
def test_a_transposed_gradient_is_named(objective, name, method):
    arrays = point(objective)
    report = check_one(objective, arrays, name, lambda G, a: G.T, method)
    assert report.gradient_shape == arrays[name].shape[::-1]
    assert (report.passed, report.diagnosis) == (False, TRANSPOSED)
    report = check_one(objective, arrays, name, lambda G, a: -2 * G.T, method)
    assert report.diagnosis == f"{TRANSPOSED}, {CONSTANT} -2"


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("kind", ["row", "vector"])
@pytest.mark.parametrize(("objective", "name"), argument_cases(bias_only=True))
def test_a_row_bias_gradient_not_summed_over_rows_is_named(objective, name, kind, method):
    arrays = point(objective, kind)
    n = arrays[objective.arguments[0]].shape[0]

    def unsummed(G, a):
        # The gradient the bias would have if it were full: one row per sample.
        full = dict(a, **{name: np.broadcast_to(a[name], (n, a[name].shape[-1])).copy()})
        return objective.grad(full, wrt=name)[name]

    report = check_one(objective, arrays, name, unsummed, method)
    assert (report.passed, report.diagnosis) == (False, NOT_SUMMED)
    report = check_one(objective, arrays, name, lambda G, a: unsummed(G, a) / 2, method)
    assert report.diagnosis == f"{NOT_SUMMED}, {HALF}"


@pytest.mark.parametrize(("objective", "name"), argument_cases())
def test_an_error_in_one_entry_is_located_and_no_slip_is_claimed(objective, name):
    arrays = point(objective)
    entry = (1,) * arrays[name].ndim

    def one_wrong(G, a):
        G = G.copy()
        G[entry] += 0.5
        return G

    report = check_one(objective, arrays, name, one_wrong, "complex")
    assert (report.passed, report.failing, report.worst_index, report.diagnosis) == (False, 1, entry, None)


def test_a_dropped_sigmoid_derivative_fits_no_slip():
    """scipy.optimize.check_grad only says 244.3 here; the report says where and that no slip fits."""
    objective = next(o for o in OBJECTIVES if o.id == "sigmoid_net.pre")
    arrays = point(objective)

    def without_sigma_prime(G, a):
        S = 1 / (1 + np.exp(-(a["X"] @ a["W1"] + a["b1"])))
        R = S @ a["W2"] + a["b2"] - a["Y"]
        return 2 * a["X"].T @ (R @ a["W2"].T)

    report = check_one(objective, arrays, "W1", without_sigma_prime, "complex")
    assert not report.passed and report.diagnosis is None
    assert report.failing == report.compared == arrays["W1"].size
