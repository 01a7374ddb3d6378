"""Second order for every registry entry: hvp, gauss_newton_product and hessian, numerically and exactly.

Parametrized over the registry: each property runs on every objective and bias kind.
"""

from __future__ import annotations

import numpy as np
import pytest

from matgrad import vjp
from matgrad.registry import OBJECTIVES, Objective
from matgrad.signature import BIAS_KINDS
from matgrad.symbolic.second_order import prove_second_order_all_sizes, prove_second_order_concrete
from matgrad.symbolic.verdict import GAUSS_NEWTON, HVP

SIZES = {"n": 5, "k": 3, "m": 2, "d": 3, "h": 4, "o": 2}


def entries() -> list:
    return [pytest.param(o, kind, id=f"{o.id}-{kind}") for o in OBJECTIVES for kind in BIAS_KINDS]


def point(objective: Objective, kind: str, seed: int = 0) -> tuple[dict, dict]:
    rng = np.random.default_rng(seed)
    sizes = {d: SIZES[d] for d in objective.signature.dims}
    arrays = objective.signature.random_arguments(rng, sizes, kind)
    direction = {name: rng.standard_normal(a.shape) for name, a in arrays.items()}
    return arrays, direction


def subsets(objective: Objective) -> list[tuple[str, ...]]:
    names = objective.arguments
    return [names, *((name,) for name in names), names[1::2], names[:2]]


def flat(blocks: dict, names) -> np.ndarray:
    return np.concatenate([np.ravel(blocks[name]) for name in names])


def moved(arrays: dict, direction: dict, step: complex) -> dict:
    return {name: a + step * direction[name] if name in direction else a for name, a in arrays.items()}


@pytest.mark.parametrize(("objective", "kind"), entries())
def test_hvp_is_the_complex_step_derivative_of_the_gradient(objective, kind):
    """Im ∇f(θ + ihV)/h = ∇²f·V + O(h²): exact to rounding, for every subset of moving arguments."""
    arrays, full = point(objective, kind)
    h = 1e-20
    for wrt in subsets(objective):
        direction = {name: full[name] for name in wrt}
        hvp = objective.hvp(arrays, direction)
        assert list(hvp) == list(wrt)
        reference = objective.grad(moved(arrays, direction, 1j * h), wrt=wrt)
        for name in wrt:
            assert hvp[name].shape == arrays[name].shape
            np.testing.assert_allclose(hvp[name], reference[name].imag / h, rtol=1e-12, atol=1e-12)


def jacobian(objective: Objective, arrays: dict, names) -> np.ndarray:
    """∂ vec R / ∂ vec θ by complex step on the residual, column by column."""
    h = 1e-20
    columns = []
    for name in names:
        for index in np.ndindex(arrays[name].shape):
            unit = np.zeros(arrays[name].shape)
            unit[index] = 1
            R = objective.residual(
                moved({k: v.astype(complex) for k, v in arrays.items()}, {name: unit}, 1j * h)
            )
            columns.append(np.ravel(R).imag / h)
    return np.stack(columns, axis=1)


@pytest.mark.parametrize(("objective", "kind"), entries())
def test_gauss_newton_product_is_2_JtJ_v(objective, kind):
    arrays, full = point(objective, kind, seed=1)
    for wrt in (objective.arguments, objective.arguments[-2:]):
        direction = {name: full[name] for name in wrt}
        J = jacobian(objective, arrays, wrt)
        product = objective.gauss_newton_product(arrays, direction)
        np.testing.assert_allclose(flat(product, wrt), 2 * J.T @ (J @ flat(direction, wrt)), atol=1e-11)


@pytest.mark.parametrize(("objective", "kind"), entries())
def test_hessian_blocks_are_symmetric_and_agree_with_hvp(objective, kind):
    arrays, full = point(objective, kind, seed=2)
    names = objective.arguments
    blocks = {(a, b): objective.hessian(arrays, (a, b)) for a in names for b in names}
    for a in names:
        for b in names:
            H = blocks[a, b]
            assert H.shape == arrays[a].shape + arrays[b].shape
            transposed = blocks[b, a].reshape(arrays[b].size, arrays[a].size).T
            np.testing.assert_allclose(H.reshape(arrays[a].size, arrays[b].size), transposed, atol=1e-12)
    dense = np.block([[blocks[a, b].reshape(arrays[a].size, arrays[b].size) for b in names] for a in names])
    np.testing.assert_allclose(
        dense @ flat(full, names), flat(objective.hvp(arrays, full), names), atol=1e-11
    )


def test_gauss_newton_equals_hvp_only_without_curvature():
    """affine: R = XW + b is linear in W alone (GN = H) but bilinear in (X, W) (GN ≠ H)."""
    objective = OBJECTIVES[0]
    arrays, full = point(objective, "full")
    only_W = {"W": full["W"]}
    np.testing.assert_allclose(
        objective.hvp(arrays, only_W)["W"], objective.gauss_newton_product(arrays, only_W)["W"]
    )
    both = {"X": full["X"], "W": full["W"]}
    assert not np.allclose(
        objective.hvp(arrays, both)["X"], objective.gauss_newton_product(arrays, both)["X"]
    )


@pytest.mark.parametrize("objective", OBJECTIVES, ids=lambda o: o.id)
def test_gauss_newton_matrix_is_positive_semidefinite(objective):
    arrays, _ = point(objective, "vector", seed=3)
    names = objective.arguments
    size = sum(arrays[name].size for name in names)
    columns = []
    for j in range(size):
        unit, offset = {}, 0
        for name in names:
            unit[name] = np.zeros(arrays[name].size)
            if offset <= j < offset + arrays[name].size:
                unit[name][j - offset] = 1
            unit[name] = unit[name].reshape(arrays[name].shape)
            offset += arrays[name].size
        columns.append(flat(objective.gauss_newton_product(arrays, unit), names))
    G = np.stack(columns, axis=1)
    np.testing.assert_allclose(G, G.T, atol=1e-12)
    assert np.linalg.eigvalsh(G).min() > -1e-10


# Bad input.


@pytest.mark.parametrize("objective", OBJECTIVES, ids=lambda o: o.id)
def test_a_bad_direction_is_a_value_error_naming_it(objective):
    arrays, full = point(objective, "row")
    first, second = objective.arguments[:2]
    with pytest.raises(ValueError, match="unknown argument"):
        objective.hvp(arrays, {"nope": full[first]})
    with pytest.raises(ValueError, match=rf"direction\['{first}'\] has shape"):
        objective.hvp(arrays, {first: np.ones((7, 7))})
    with pytest.raises(ValueError, match=f"no direction for \\['{second}'\\]"):
        objective.hvp(arrays, {first: full[first]}, wrt=(first, second))
    with pytest.raises(ValueError, match=f"direction for \\['{second}'\\] not in wrt"):
        objective.gauss_newton_product(arrays, {first: full[first], second: full[second]}, wrt=first)
    with pytest.raises(ValueError, match="direction is empty"):
        objective.hvp(arrays, {})
    with pytest.raises(TypeError, match="must be a dict"):
        objective.hvp(arrays, full[first])
    with pytest.raises(TypeError, match="must be numeric"):
        objective.hvp(arrays, {first: np.full(arrays[first].shape, "a")})


def test_a_too_large_hessian_says_to_use_hvp():
    objective = OBJECTIVES[0]
    arrays, _ = point(objective, "full")
    with pytest.raises(MemoryError, match="use hvp"):
        objective.module.hessian(**arrays, wrt="X", max_bytes=100)
    with pytest.raises(ValueError, match="unknown argument 'Z'"):
        objective.hessian(arrays, ("X", "Z"))


def test_dtypes_follow_the_inputs():
    objective = OBJECTIVES[1]
    arrays, full = point(objective, "vector")
    small = {name: a.astype(np.float32) for name, a in arrays.items()}
    result = objective.hvp(small, {"W1": full["W1"].astype(np.float32)})
    assert result["W1"].dtype == np.float32
    assert objective.hvp(arrays, {"W1": full["W1"].astype(int)})["W1"].dtype == np.float64


# The prover refutes wrong second-order rules: each slip below must come out NOT proven.


def _no_sigma_second(G, dG, S, dS):
    return None if dG is None else dG * S * (1 - S)


def _no_cross_terms(G, dG, X, W, dX, dW, bias_shape, need):
    return vjp.linear_vjp(dG, X, W, bias_shape, need) if dG is not None else (None, None, None)


def _row_tangent_not_spread(X, W, dX, dW, db):
    """A real slip this suite once caught: ḃ of a (1, m) bias left unspread counts once, not n times."""
    terms = [t for t in (None if dX is None else dX @ W, None if dW is None else X @ dW, db) if t is not None]
    return sum(terms[1:], terms[0]) if terms else None


@pytest.mark.parametrize(
    ("rule", "wrong", "objective_id", "broken"),
    [
        ("linear_jvp", _row_tangent_not_spread, "affine", {"X", "W", "b"}),
        ("sigmoid_vjp_jvp", _no_sigma_second, "sigmoid_net.pre", {"X", "W1", "b1"}),
        ("linear_vjp_jvp", _no_cross_terms, "affine", {"X", "W"}),
        ("sqnorm_vjp_jvp", lambda dR: dR, "affine", {"X", "W", "b"}),
    ],
    ids=["row-tangent-not-spread", "sigma-second-dropped", "cross-terms-dropped", "missing-factor-2"],
)
def test_a_wrong_second_order_rule_is_refuted(monkeypatch, rule, wrong, objective_id, broken):
    objective = next(o for o in OBJECTIVES if o.id == objective_id)
    monkeypatch.setattr(vjp, rule, wrong)
    verdicts = prove_second_order_concrete(objective, HVP)
    for name, verdict in verdicts.items():
        assert verdict.proven == (name not in broken), str(verdict)
        if name in broken:
            assert verdict.status == "NOT proven" and verdict.counterexample is not None


def test_the_gauss_newton_product_is_not_proven_as_the_hessian(monkeypatch):
    """Passing 2JᵀJ·V off as ∇²f·V is refuted wherever they differ (the network's curvature terms)."""
    objective = next(o for o in OBJECTIVES if o.id == "sigmoid_net.post")
    module = objective.module
    real = module.evaluate_second_order
    monkeypatch.setattr(
        module, "evaluate_second_order", lambda *a, gauss_newton=False, **k: real(*a, gauss_newton=True, **k)
    )
    verdicts = prove_second_order_concrete(objective, HVP)
    assert {name for name, v in verdicts.items() if not v.proven} == {"X", "W1", "b1", "W2"}
    assert prove_second_order_concrete(objective, GAUSS_NEWTON)["X"].proven


# At all sizes (the network's full run is `matgrad verify --second-order-all-sizes`, minutes).


@pytest.mark.parametrize("quantity", [HVP, GAUSS_NEWTON])
def test_affine_second_order_is_proven_at_all_sizes(quantity):
    verdicts = prove_second_order_all_sizes(OBJECTIVES[0], quantity)
    assert all(v.proven and v.method == "all sizes" for v in verdicts.values()), verdicts


def test_the_networks_hvp_with_its_sigma_second_term_is_proven_at_all_sizes():
    objective = next(o for o in OBJECTIVES if o.id == "sigmoid_net.post")
    verdicts = prove_second_order_all_sizes(objective, HVP, alone=False)
    assert all(v.proven for v in verdicts.values()), [str(v) for v in verdicts.values()]


def test_a_wrong_rule_is_refuted_at_all_sizes(monkeypatch):
    monkeypatch.setattr(vjp, "linear_vjp_jvp", _no_cross_terms)
    verdicts = prove_second_order_all_sizes(OBJECTIVES[0], HVP, alone=False)
    assert {name for name, v in verdicts.items() if v.status == "NOT proven"} == {"X", "W"}
    assert verdicts["b"].proven


# Numeric checks as users run them: matgrad.testing.check_second_order and `matgrad check --second-order`.


@pytest.mark.parametrize("method", ["central", "complex"])
@pytest.mark.parametrize("quantity", ["hvp", "gauss_newton"])
@pytest.mark.parametrize(("objective", "kind"), entries())
def test_check_second_order_passes_every_entry(objective, kind, quantity, method):
    from matgrad.testing import check_second_order

    report = check_second_order(objective, quantity, bias_kind=kind, method=method, seed=4)
    assert report.passed, str(report)


def test_check_second_order_catches_and_diagnoses_a_lost_factor(monkeypatch):
    from matgrad.testing import check_second_order

    monkeypatch.setattr(vjp, "sqnorm_vjp_jvp", lambda dR: dR)
    report = check_second_order("affine", "hvp", method="complex")
    assert not report.passed
    assert report.arguments["b"].diagnosis == "off by a factor ½"


def test_matgrad_check_second_order_command(capsys):
    from matgrad.cli import main

    assert main(["check", "--second-order", "--objective", "affine", "--bias-kind", "vector"]) == 0
    out = capsys.readouterr().out
    assert "(∇²f·V)_W" in out and "(2JᵀJ·V)_b" in out and "all pass" in out
    assert main(["check", "--second-order", "--method", "direction"]) == 2


# matgrad.symbolic.check_hvp: your own product, proven or refuted with its slip named.


NET_SIZES = {"n": 2, "d": 3, "h": 2, "o": 3}  # every size > 1: one case settles the slip


def _network_hvp_W1(*, sigma_second: bool = True, curvature: bool = True):
    """The pre network's (∇²f·V)_W₁ written by hand, optionally with a term left out."""
    from matgrad.elementwise import sigmoid

    def candidate(X, Y, W1, b1, W2, b2, dX, dY, dW1, db1, dW2, db2):
        S = sigmoid(X @ W1 + b1)
        R = S @ W2 + b2 - Y
        dS = S * (1 - S) * (dX @ W1 + X @ dW1 + db1)
        dR = dS @ W2 + S @ dW2 + db2 - dY
        Delta = (R @ W2.T) * S * (1 - S)
        dDelta = (dR @ W2.T + (R @ dW2.T if curvature else 0)) * S * (1 - S)
        if sigma_second:
            dDelta = dDelta + (R @ W2.T) * dS * (1 - 2 * S)
        return 2 * (dX.T @ Delta if curvature else 0) + 2 * X.T @ dDelta

    return candidate


@pytest.mark.parametrize(
    ("candidate", "proven", "slip"),
    [
        (_network_hvp_W1(), True, None),
        (_network_hvp_W1(sigma_second=False), False, "σ″ term dropped (G ⊙ Ṡ ⊙ (1 − 2S))"),
    ],
    ids=["right", "sigma-second-dropped"],
)
def test_check_hvp_on_the_network(candidate, proven, slip):
    from matgrad.symbolic import check_hvp

    verdict = check_hvp("sigmoid_net.pre", "W1", candidate, sizes=NET_SIZES, bias_kinds=["vector"])
    assert verdict.proven is proven, str(verdict)
    assert verdict.diagnosis == slip
    if not proven:
        assert verdict.status == "NOT proven" and verdict.counterexample.inputs


def test_check_hvp_names_the_gauss_newton_product_passed_off_as_the_hessian():
    from matgrad.symbolic import check_hvp

    gauss_newton = _network_hvp_W1(sigma_second=False, curvature=False)
    verdict = check_hvp("sigmoid_net.pre", "W1", gauss_newton, sizes=NET_SIZES, bias_kinds=["vector"])
    assert not verdict.proven and verdict.diagnosis == "the Gauss–Newton product passed off as the Hessian"
    as_gauss_newton = check_hvp(
        "sigmoid_net.pre", "W1", gauss_newton, quantity="gauss_newton", bias_kinds=["vector"]
    )
    assert as_gauss_newton.proven, str(as_gauss_newton)


def test_check_hvp_names_a_missing_cross_term_between_arguments():
    from matgrad.symbolic import check_hvp

    verdict = check_hvp("affine", "X", lambda X, W, b, dX, dW, db: 2 * dX @ W @ W.T)
    assert not verdict.proven
    assert verdict.diagnosis == "cross terms between arguments missing (only its own direction moves)"


def test_check_hvp_rejects_bad_input():
    from matgrad.symbolic import check_hvp

    with pytest.raises(ValueError, match="unknown argument"):
        check_hvp("affine", "Z", lambda **kw: 0)
    with pytest.raises(ValueError, match="quantity"):
        check_hvp("affine", "X", lambda **kw: 0, quantity="hessian")
    with pytest.raises(TypeError, match="dX, dW, db"):
        check_hvp("affine", "X", None)
