"""Every proof for the registry: each gradient at concrete shapes and at all sizes, then second order.

The proofs are independent, so :func:`verify` runs them in parallel worker processes,
one per usable core (forked: they see this process's code as it is, patched or not).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from matgrad.registry import OBJECTIVES, Objective, get_objective, objectives_named
from matgrad.symbolic.verdict import GAUSS_NEWTON, HVP, Verdict

Proof = tuple[str, str, str | None]  # (objective id, prover, quantity)


def _prover(name: str) -> Callable[..., list[dict[str, Verdict]]]:
    from matgrad import generic_vjp
    from matgrad.symbolic.all_sizes import prove_all_sizes
    from matgrad.symbolic.concrete import prove_concrete
    from matgrad.symbolic.second_order import prove_second_order_all_sizes, prove_second_order_paths

    # Each prover gives a verdict table per path it proves.
    provers: dict[str, Callable[..., list[dict[str, Verdict]]]] = {
        "concrete": lambda o: [prove_concrete(o)],
        "all sizes": lambda o: [prove_all_sizes(o)],
        "concrete, array API": lambda o: [prove_concrete(o, rules=generic_vjp)],
        "all sizes, array API": lambda o: [prove_all_sizes(o, rules=generic_vjp)],
        # The numpy and array API paths in one proof: they share its costly half, the exact product.
        "second order concrete": lambda o, q: prove_second_order_paths(o, q, (None, generic_vjp)),
        "second order all sizes": lambda o, q: [prove_second_order_all_sizes(o, q)],
    }
    return provers[name]


def _run(proof: Proof) -> list[dict[str, Verdict]]:
    objective_id, prover, quantity = proof
    objective = get_objective(objective_id)
    run = _prover(prover)
    return run(objective) if quantity is None else run(objective, quantity)


def _proofs(objective: Objective, second_order: bool, second_order_all_sizes: bool) -> list[Proof]:
    # The numpy path, then the array API path (matgrad.generic_vjp) that other libraries run.
    found: list[Proof] = [
        (objective.id, prover, None)
        for prover in ("concrete", "all sizes", "concrete, array API", "all sizes, array API")
    ]
    if second_order:
        found += [(objective.id, "second order concrete", q) for q in (HVP, GAUSS_NEWTON)]
    if second_order and second_order_all_sizes:
        found += [(objective.id, "second order all sizes", q) for q in (HVP, GAUSS_NEWTON)]
    return found


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def verify(
    objective_id: str | None = None,
    *,
    second_order: bool = True,
    second_order_all_sizes: bool = False,
    processes: int | None = None,
) -> list[Verdict]:
    """Prove every gradient of every registry entry (or of those named ``objective_id``).

    ``objective_id`` is an id ('sigmoid_net.pre') or a module name ('sigmoid_net', for
    every bias placement). Four verdicts per argument for its gradient: concrete shapes,
    then all sizes, for the numpy path and then for the array API path (method '…, array
    API'); then four for its second order, ∇²f·V and 2JᵀJ·V at concrete shapes (their
    ``quantity`` says which) on each path, unless ``second_order`` is False. ``second_order_all_sizes``
    adds their proofs at all sizes (minutes rather than seconds: opt-in). ``processes``:
    worker processes (default: the usable cores; 1 runs every proof in this process).

    Examples
    --------
    >>> from matgrad.symbolic import verify
    >>> [(v.argument, v.method, v.proven) for v in verify("affine")][:2]
    [('X', 'concrete shapes', True), ('X', 'all sizes', True)]
    """
    selected = OBJECTIVES if objective_id is None else objectives_named(objective_id)
    plan = [(o, _proofs(o, second_order, second_order_all_sizes)) for o in selected]
    everything = [proof for _, proofs in plan for proof in proofs]
    workers = min(len(everything), processes or _usable_cores())
    if workers <= 1 or multiprocessing.get_start_method(allow_none=True) not in (None, "fork"):
        results: list[Any] = [_run(proof) for proof in everything]
    else:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            # Longest first (the network's second order), so the last proof to start is a short one.
            order = sorted(
                range(len(everything)), key=lambda i: everything[i][1].startswith("second"), reverse=True
            )
            futures = {i: pool.submit(_run, everything[i]) for i in order}
            results = [futures[i].result() for i in range(len(everything))]
    by_proof = dict(zip(everything, results, strict=True))
    verdicts = []
    for objective, proofs in plan:
        gradients = [table for p in proofs if not p[1].startswith("second") for table in by_proof[p]]
        second = [table for p in proofs if p[1].startswith("second") for table in by_proof[p]]
        for name in objective.arguments:
            verdicts += [proof[name] for proof in gradients]
        for name in objective.arguments:
            verdicts += [proof[name] for proof in second]
    return verdicts
