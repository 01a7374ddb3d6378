"""The results table and the issue's goals, checked against the measured medians."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from statistics import median, quantiles

NOISE_LIMIT = 0.25
"""A row whose ratios spread more than this (IQR / median) is re-measured, then marked noisy."""

# The issues' goals (issue 12, then issue 14's second round).
ROOFLINE_FACTOR = 1.15  # value + all gradients at large sizes, vs the same matrix products
NETWORK_ROOFLINE_FACTOR = 1.10  # issue 14: the network at large sizes, both placements, dtypes, biases
SEED_TORCH_FACTOR = 0.2  # issue 14: at the seed size, at least 5× faster than torch eager
WRT_W_FACTOR = 1.25  # wrt=("W",) "costs about two matmuls, not three": nearer two than three
MEMORY_BUFFERS = 2  # peak extra memory: the gradients plus this many of the largest product


@dataclass
class Row:
    objective: str
    bias: str
    size: str
    size_label: str
    dtype: str
    seconds: dict[str, float]  # method -> median seconds per call
    samples: dict[str, list[float]]  # method -> seconds per call in each round
    rounds: int
    wrt: tuple[str, ...] | None
    wrt_products: int = 0
    all_products: int = 0
    mismatch: list[str] = field(default_factory=list)  # frameworks whose numbers disagreed
    memory: dict[str, int] | None = None  # peak, gradients, unit (bytes)
    noisy: bool = False  # spread above NOISE_LIMIT even after re-measuring: not used for goals

    def ratio(self, method: str, reference: str) -> float | None:
        """Median over rounds of method/reference, each ratio from one round's two samples.

        Samples of one round were taken back to back, so a burst of load from other
        processes, which lasts seconds, tends to hit both and cancel in their ratio.
        """
        if method in self.samples and reference in self.samples:
            pairs = zip(self.samples[method], self.samples[reference], strict=False)
            return median(a / b for a, b in pairs)
        return None

    def spread(self, method: str, reference: str) -> float | None:
        """Interquartile range over median of the per-round ratios: how far one run can be trusted."""
        if method not in self.samples or reference not in self.samples:
            return None
        ratios = sorted(a / b for a, b in zip(self.samples[method], self.samples[reference], strict=False))
        if len(ratios) < 2:
            return None
        quartiles = quantiles(ratios, n=4, method="inclusive")
        return (quartiles[2] - quartiles[0]) / median(ratios)

    def worst_spread(self) -> float:
        """The largest spread of the row's ratios (matgrad against each reference it has)."""
        pairs = [("matgrad", "products"), ("matgrad", "torch"), ("matgrad", "jax")]
        spreads = [self.spread(a, b) for a, b in pairs]
        return max((x for x in spreads if x is not None), default=0.0)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f}µs"
    if seconds < 1:
        return f"{seconds * 1e3:.3g}ms"
    return f"{seconds:.3g}s"


def format_ratio(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio:.2f}"


COLUMNS = (
    ("objective", "{objective}"),
    ("bias", "{bias}"),
    ("size", "{size_label}"),
    ("dtype", "{dtype}"),
    ("products", "{products}"),
    ("forward", "{forward}"),
    ("value+grads", "{matgrad}"),
    ("/products", "{r_products}"),
    ("spread", "{spread}"),
    ("torch", "{torch}"),
    ("/torch", "{r_torch}"),
    ("jax.jit", "{jax}"),
    ("/jax", "{r_jax}"),
    ("wrt subset", "{wrt}"),
    ("grad(wrt)", "{matgrad_wrt}"),
    ("its products", "{products_wrt}"),
    ("/its", "{r_wrt}"),
)


def _cells(row: Row) -> dict[str, str]:
    s = row.seconds
    wrt = ",".join(row.wrt) if row.wrt else "—"
    return {
        "objective": row.objective,
        "bias": row.bias,
        "size_label": row.size_label,
        "dtype": row.dtype,
        "products": format_seconds(s.get("products")),
        "forward": format_seconds(s.get("forward")),
        "matgrad": format_seconds(s.get("matgrad")),
        "r_products": format_ratio(row.ratio("matgrad", "products")),
        "spread": f"{100 * row.worst_spread():.0f}%" + (" noisy" if row.noisy else ""),
        "torch": format_seconds(s.get("torch")) + ("✗" if "torch" in row.mismatch else ""),
        "r_torch": format_ratio(row.ratio("matgrad", "torch")),
        "jax": format_seconds(s.get("jax")) + ("✗" if "jax" in row.mismatch else ""),
        "r_jax": format_ratio(row.ratio("matgrad", "jax")),
        "wrt": wrt,
        "matgrad_wrt": format_seconds(s.get("matgrad_wrt")),
        "products_wrt": format_seconds(s.get("products_wrt")),
        "r_wrt": format_ratio(row.ratio("matgrad_wrt", "products_wrt")),
    }


def table(rows: list[Row]) -> str:
    """One line per case: median seconds per call and the ratios of matgrad's time to each."""
    cells = [_cells(r) for r in rows]
    keys = [key for key, _ in COLUMNS]
    texts = [[template.format(**c) for _, template in COLUMNS] for c in cells]
    widths = [max(len(key), *(len(t[i]) for t in texts)) for i, key in enumerate(keys)]
    lines = ["  ".join(k.ljust(w) for k, w in zip(keys, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(t.ljust(w) for t, w in zip(text, widths, strict=True)).rstrip() for text in texts]
    return "\n".join(lines)


def memory_table(rows: list[Row]) -> str:
    lines = []
    for row in rows:
        if not row.memory:
            continue
        peak, grads, unit = row.memory["peak"], row.memory["gradients"], row.memory["unit"]
        lines.append(
            f"{row.objective:<17} {row.bias:<4} {row.dtype:<7} peak extra {peak / 2**20:7.0f} MiB"
            f" = gradients {grads / 2**20:6.0f} MiB + {(peak - grads) / unit:4.2f} × largest product"
            f" ({unit / 2**20:.0f} MiB)"
        )
    return "\n".join(lines)


def goals(rows: list[Row]) -> list[tuple[bool | None, str]]:
    """(holds, explanation) for each goal of the issue; holds is None when not measured.

    Rows marked noisy (their ratios spread more than NOISE_LIMIT even after re-measuring)
    are left out of every verdict, and listed.
    """
    results: list[tuple[bool | None, str]] = []
    every_row = rows  # peak memory is no timing: noise does not touch it
    excluded = [r for r in rows if r.noisy]
    rows = [r for r in rows if not r.noisy]
    if excluded:
        names = ", ".join(f"{r.objective} {r.bias} {r.size} {r.dtype}" for r in excluded)
        results.append((None, f"excluded as noisy (spread > {NOISE_LIMIT:.0%} after re-measuring): {names}"))

    large = [r for r in rows if r.size == "large" and r.ratio("matgrad", "products") is not None]
    if large:
        worst, ratio = _worst(large, "matgrad", "products")
        results.append(
            (
                ratio <= ROOFLINE_FACTOR,
                f"large sizes: value + all gradients ≤ {ROOFLINE_FACTOR}× their matrix products; "
                f"worst {ratio:.2f}× ({_name(worst)})",
            )
        )
    else:
        results.append(
            (None, "large sizes: " + _unjudged(excluded, "not run (use the full mode)", size="large"))
        )

    network = [r for r in large if r.objective.startswith("sigmoid_net")]
    if not network:
        results.append((None, "large network: " + _unjudged(excluded, "not run", size="large", network=True)))
    else:
        worst, ratio = _worst(network, "matgrad", "products")
        results.append(
            (
                ratio <= NETWORK_ROOFLINE_FACTOR,
                f"large sizes: the network's value + all gradients ≤ {NETWORK_ROOFLINE_FACTOR}× its matrix "
                f"products; worst {ratio:.2f}× ({_name(worst)})",
            )
        )
    seed = [r for r in rows if r.size == "seed"]
    for framework, bound, word in (
        ("torch", SEED_TORCH_FACTOR, f"at least {1 / SEED_TORCH_FACTOR:g}× faster than torch eager"),
        ("jax", None, "faster than jax.jit(value_and_grad) in every row"),
    ):
        timed = [r for r in seed if r.ratio("matgrad", framework) is not None]
        if not timed:
            why = _unjudged(excluded, "not measured", size="seed", method=framework)
            results.append((None, f"seed size {word}: {why}"))
            continue
        worst, ratio = _worst(timed, "matgrad", framework)
        holds = ratio <= bound if bound is not None else ratio < 1
        results.append((holds, f"seed size {word}: worst matgrad/{framework} = {ratio:.2f} ({_name(worst)})"))

    for framework, strict in (("torch", True), ("jax", False)):
        timed = [r for r in rows if r.ratio("matgrad", framework) is not None]
        if not timed:
            why = _unjudged(excluded, "not installed, not compared", method=framework)
            results.append((None, f"{framework}: {why}"))
            continue
        worst, ratio = _worst(timed, "matgrad", framework)
        holds = ratio < 1 if strict else ratio <= 1
        word = "faster than torch eager autograd" if strict else "no slower than jax.jit"
        mismatched = [_name(r) for r in timed if framework in r.mismatch]
        note = f"; numbers DISAGREE for {mismatched}" if mismatched else ""
        results.append(
            (
                holds and not mismatched,
                f"every size and dtype {word}: worst matgrad/{framework} = {ratio:.2f} "
                f"({_name(worst)}){note}",
            )
        )

    # At the large size, where the matrix products dominate; smaller sizes add the fixed
    # cost of a call (validation, dispatch), which is not a matter of products.
    affine_w = [r for r in rows if r.objective == "affine" and r.wrt == ("W",) and r.size == "large"]
    if not affine_w:
        why = _unjudged(excluded, "judged at the large size, not run", size="large", method="matgrad_wrt")
        results.append((None, f"wrt=('W',) on ‖XW+b‖²: {why}"))
    else:
        worst, ratio = _worst(affine_w, "matgrad_wrt", "products_wrt")
        of_all = worst.ratio("matgrad_wrt", "products") or 0
        results.append(
            (
                ratio < WRT_W_FACTOR and worst.wrt_products == 2,
                f"wrt=('W',) on ‖XW+b‖² costs about two matrix products, not three: {worst.wrt_products} "
                f"products; worst {ratio:.2f}× their time (goal: below {WRT_W_FACTOR}, nearer two than "
                f"three) = {of_all:.2f}× the three products of all gradients ({_name(worst)})",
            )
        )

    measured = [r for r in every_row if r.memory and r.objective.startswith("sigmoid_net")]
    if measured:
        excess = {_name(r): (r.memory["peak"] - r.memory["gradients"]) / r.memory["unit"] for r in measured}  # type: ignore[index]
        worst_name = max(excess, key=excess.__getitem__)
        results.append(
            (
                excess[worst_name] <= MEMORY_BUFFERS,
                f"large network peak extra memory ≤ gradients + {MEMORY_BUFFERS} n×h buffers: worst "
                f"gradients + {excess[worst_name]:.2f} n×h ({worst_name})",
            )
        )
    else:
        results.append((None, "memory: not measured (full mode, large size)"))
    return results


def _unjudged(
    excluded: list[Row],
    otherwise: str,
    *,
    size: str | None = None,
    network: bool = False,
    method: str | None = None,
) -> str:
    """Why a goal has no verdict: every row it concerns (of ``size``, the network's, timing
    ``method``) was noisy, or ``otherwise``."""
    concerned = [
        r
        for r in excluded
        if (size is None or r.size == size)
        and (not network or r.objective.startswith("sigmoid_net"))
        and (method is None or method in r.samples)
    ]
    if concerned:
        return "every row it concerns is noisy: not judged (measure again on a quieter machine)"
    return otherwise


def _worst(rows: list[Row], method: str, reference: str) -> tuple[Row, float]:
    """The row with the largest ratio of ``method`` to ``reference``, and that ratio."""
    worst = max(rows, key=lambda r: r.ratio(method, reference) or 0)
    return worst, worst.ratio(method, reference) or 0


def _name(row: Row) -> str:
    return f"{row.objective} {row.bias} {row.size} {row.dtype}"
