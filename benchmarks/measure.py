"""Measure one case: every method's median time, agreement with torch/jax, peak memory."""

from __future__ import annotations

from typing import Any

import numpy as np
from cases import Case, make_arrays, product_operands, record_products, replay
from frameworks import jax_runner, torch_runner
from report import Row
from timing import Budget, peak_extra_bytes, summary, time_interleaved

BUDGETS = {
    # size: (quick, full)
    "seed": (Budget(5, 25, 0.3, 0.002), Budget(15, 61, 1.5, 0.005)),
    "medium": (Budget(5, 15, 0.5, 0.005), Budget(9, 31, 2.5, 0.01)),
    # One call per sample; the reference run of measure_case has warmed everything up.
    # Three rounds left the spread of three ratios to chance (35–60% on a busy machine):
    # five at least, up to nine within 40 s (float64 network: about seven).
    "large": (Budget(3, 3, 0.0, 0.0, warm_up=False), Budget(5, 9, 40.0, 0.0, warm_up=False)),
}


def budget_for(size_name: str, quick: bool) -> Budget:
    quick_budget, full_budget = BUDGETS[size_name]
    return quick_budget if quick else full_budget


def _max_error(result: tuple[Any, dict[str, Any]], reference: tuple[Any, dict[str, Any]]) -> float:
    """Largest error of value and gradients, relative to each one's largest magnitude."""
    pairs = [(result[0], reference[0])] + [(result[1][k], g) for k, g in reference[1].items()]
    errors = []
    for got, want in pairs:
        got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
        errors.append(
            float(np.max(np.abs(got - want), initial=0) / max(1.0, float(np.max(np.abs(want), initial=0))))
        )
    return max(errors)


def measure_case(case: Case, budget: Budget, *, memory: bool) -> Row:
    objective = case.objective
    case.arrays = arrays = make_arrays(case)
    all_products = record_products(case, None)
    operands = product_operands(all_products, case.dtype)
    methods = {
        "products": lambda: replay(operands),
        "forward": lambda: objective.value(arrays),
        "matgrad": lambda: objective.value_and_grad(arrays),
    }
    wrt_products: list[Any] = []
    if case.wrt_subset:
        subset = case.wrt_subset
        wrt_products = record_products(case, subset)
        wrt_operands = product_operands(wrt_products, case.dtype)
        methods["matgrad_wrt"] = lambda: objective.grad(arrays, wrt=subset)
        methods["products_wrt"] = lambda: replay(wrt_operands)

    # The reference run warms up; at the large size it also measures peak extra memory.
    peak = None
    if memory and case.size_name == "large":
        peak_bytes, reference = peak_extra_bytes(lambda: objective.value_and_grad(arrays))
        unit = max(p.shape_a[0] * p.shape_b[1] for p in all_products) * case.dtype.itemsize
        peak = {"peak": peak_bytes, "gradients": sum(g.nbytes for g in reference[1].values()), "unit": unit}
    else:
        reference = objective.value_and_grad(arrays)
    tolerance = 1e-8 if case.dtype == np.float64 else 2e-3
    mismatch = []
    for name, make_runner in (("torch", torch_runner), ("jax", jax_runner)):
        runner = make_runner(case, None)
        if runner is None:
            continue
        if _max_error(runner(), reference) > tolerance:  # this first call warms up (jit compiles)
            mismatch.append(name)
        methods[name] = runner
    del reference

    samples = time_interleaved(methods, budget)
    return Row(
        objective=objective.id,
        bias=case.bias_kind,
        size=case.size_name,
        size_label=case.size_label,
        dtype=str(case.dtype),
        seconds={name: summary(values) for name, values in samples.items()},
        samples=samples,
        rounds=min(len(v) for v in samples.values()),
        wrt=case.wrt_subset,
        wrt_products=len(wrt_products),
        all_products=len(all_products),
        mismatch=mismatch,
        memory=peak,
    )
