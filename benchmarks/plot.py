"""The full run's picture: time over the matrix products' time against n, per objective and dtype.

One panel per objective (columns) and dtype (rows); in each, matgrad's value + all
gradients, torch eager autograd and jax.jit(value_and_grad), each as its time over the
same matrix products alone (the roofline, the dashed line at 1), at the seed, medium and
large sizes. Row biases, which every size has. Hollow markers: a row marked noisy.
matplotlib is an optional extra (``pip install ".[plot]"``).
"""

from __future__ import annotations

from pathlib import Path

from cases import SIZES
from report import Row

METHODS = (
    ("matgrad", "matgrad", "C0", "o"),
    ("torch", "torch eager", "C1", "s"),
    ("jax", "jax.jit", "C2", "^"),
)
BIAS = "row"


def rows_n(row: Row) -> int:
    """The number of rows n of ``row``'s size for its objective."""
    return SIZES[row.size][row.objective.split(".")[0]]["n"]


def series(rows: list[Row], objective: str, dtype: str, method: str) -> list[tuple[int, float, bool]]:
    """(n, time of ``method`` / time of the products, noisy) for each measured size, by n."""
    points = []
    for row in rows:
        if (row.objective, row.dtype, row.bias) != (objective, dtype, BIAS):
            continue
        ratio = row.ratio(method, "products")
        if ratio is not None:
            points.append((rows_n(row), ratio, row.noisy))
    return sorted(points)


def plot(rows: list[Row], path: Path, title: str) -> Path:
    """Draw the panels for ``rows`` into ``path`` (PNG); returns ``path``."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display, whatever the environment says
    import matplotlib.pyplot as plt

    objectives = list(dict.fromkeys(r.objective for r in rows))  # the run's (registry) order
    dtypes = sorted({r.dtype for r in rows}, key=lambda d: d != "float64")
    figure, axes = plt.subplots(
        len(dtypes), len(objectives), figsize=(4.2 * len(objectives), 3.4 * len(dtypes)),
        squeeze=False, sharex=True, constrained_layout=True,
    )  # fmt: skip
    for i, dtype in enumerate(dtypes):
        for j, objective in enumerate(objectives):
            ax = axes[i][j]
            ax.axhline(1.0, color="0.4", linestyle="--", linewidth=1, label="matrix products (roofline)")
            for method, label, color, marker in METHODS:
                points = series(rows, objective, dtype, method)
                if not points:
                    continue
                ns, ratios = [p[0] for p in points], [p[1] for p in points]
                ax.plot(ns, ratios, color=color, linewidth=1.2, label=label)
                for n, ratio, is_noisy in points:
                    face = "white" if is_noisy else color
                    ax.plot([n], [ratio], marker=marker, color=color, markerfacecolor=face, linestyle="")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_title(f"{objective}, {dtype}", fontsize=10)
            ax.grid(True, which="both", linewidth=0.3)
            if i == len(dtypes) - 1:
                ax.set_xlabel("rows n (seed, medium, large sizes)")
            if j == 0:
                ax.set_ylabel("time / matrix products' time")
    axes[0][0].plot([], [], marker="o", color="0.4", markerfacecolor="white", linestyle="", label="noisy row")
    axes[0][0].legend(fontsize=8, loc="best")
    figure.suptitle(title, fontsize=9)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def main(argv: list[str]) -> int:
    """Redraw the picture from a run's ``--json`` file: ``python benchmarks/plot.py results.json out.png``."""
    import json

    if len(argv) != 2:
        raise SystemExit("usage: python benchmarks/plot.py RESULTS.json OUT.png")
    saved = json.loads(Path(argv[0]).read_text())
    rows = [Row(**{**r, "wrt": tuple(r["wrt"]) if r["wrt"] else None}) for r in saved["rows"]]
    print(plot(rows, Path(argv[1]), title_of(saved["header"])))
    return 0


def title_of(header: list[str]) -> str:
    """The figure's title: Python/numpy versions and the BLAS line of the run's header."""
    blas = next((line for line in header if line.startswith("blas:")), "blas: unknown")
    return f"{header[0].split(' from ')[0]}\n{blas}"  # two lines: a one-panel-wide figure clips one


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
