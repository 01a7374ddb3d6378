"""Every proof for the registry: each gradient at concrete shapes and at all sizes, then second order."""

from __future__ import annotations

from matgrad.registry import OBJECTIVES, objectives_named
from matgrad.symbolic.all_sizes import prove_all_sizes
from matgrad.symbolic.concrete import prove_concrete
from matgrad.symbolic.second_order import prove_second_order_all_sizes, prove_second_order_concrete
from matgrad.symbolic.verdict import GAUSS_NEWTON, HVP, Verdict


def verify(
    objective_id: str | None = None, *, second_order: bool = True, second_order_all_sizes: bool = False
) -> list[Verdict]:
    """Prove every gradient of every registry entry (or of those named ``objective_id``).

    ``objective_id`` is an id ('sigmoid_net.pre') or a module name ('sigmoid_net', for
    every bias placement). Four verdicts per argument for its gradient: concrete shapes,
    then all sizes, for the numpy path and then for the array API path (method '…, array
    API'); then two for its second order, ∇²f·V and 2JᵀJ·V at concrete shapes (their
    ``quantity`` says which), unless ``second_order`` is False. ``second_order_all_sizes``
    adds their proofs at all sizes (minutes rather than seconds: opt-in).

    Examples
    --------
    >>> from matgrad.symbolic import verify
    >>> [(v.argument, v.method, v.proven) for v in verify("affine")][:2]
    [('X', 'concrete shapes', True), ('X', 'all sizes', True)]
    """
    from matgrad import generic_vjp

    selected = OBJECTIVES if objective_id is None else objectives_named(objective_id)
    verdicts = []
    for objective in selected:
        # The numpy path, then the array API path (matgrad.generic_vjp) that other libraries run.
        proofs = [
            prove(objective, rules=rules)
            for rules in (None, generic_vjp)
            for prove in (prove_concrete, prove_all_sizes)
        ]
        for name in objective.arguments:
            verdicts += [proof[name] for proof in proofs]
        if not second_order:
            continue
        second = [prove_second_order_concrete(objective, quantity) for quantity in (HVP, GAUSS_NEWTON)]
        if second_order_all_sizes:
            second += [prove_second_order_all_sizes(objective, quantity) for quantity in (HVP, GAUSS_NEWTON)]
        for name in objective.arguments:
            verdicts += [proof[name] for proof in second]
    return verdicts
