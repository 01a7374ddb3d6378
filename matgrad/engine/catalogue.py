"""The engine's worked examples: the seed objectives and the catalogue, one source for tests and docs.

``derivations/engine.md`` is :func:`render` of every example; a test checks that the
file is current, and every example is derived and proven in the test suite.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from matgrad.engine.derivation import Derivation, derive, text_name
from matgrad.engine.shapes import format_shape
from matgrad.registry import OBJECTIVES, Objective
from matgrad.signature import BiasKind

BUDGET = 60.0
"""Seconds each worked example may take to derive and prove."""


@dataclass(frozen=True, eq=False)
class Example:
    """An expression with its shapes and the arguments to differentiate with respect to."""

    title: str
    expression: str
    shapes: Mapping[str, str]
    wrt: tuple[str, ...] | None = None
    note: str = ""
    show_steps: bool = False
    show_code: bool = False
    objective: str | None = field(default=None)
    order: int = 1

    def derive(self, prove: bool = True) -> Any:
        """A :class:`Derivation` (order 1), or a ``SecondDerivation`` (order 2).

        With a budget of :data:`BUDGET` seconds: the document and its tests must not depend
        on how busy the machine is (a 3×2 symbolic inverse takes 4 s here when it is quiet).
        """
        return derive(self.expression, self.wrt, self.shapes, prove=prove, order=self.order, timeout=BUDGET)


#: The engine's spelling of each registry objective.
SEED_EXPRESSIONS: dict[str, str] = {
    "affine": "sqnorm(X @ W + b)",
    "sigmoid_net.pre": "sqnorm(Y - (sigmoid(X @ W1 + b1) @ W2 + b2))",
    "sigmoid_net.post": "sqnorm(Y - ((sigmoid(X @ W1) + b1) @ W2 + b2))",
}


def seed_shapes(objective: Objective, bias_kind: BiasKind = "full") -> dict[str, str]:
    """The registry signature's symbolic shapes as declarations (a row bias: ``1,m`` or ``m``)."""
    shapes = {}
    for arg in objective.signature.args:
        rows, cols = arg.dims
        if arg.row_bias and bias_kind == "row":
            shapes[arg.name] = f"1,{cols}"
        elif arg.row_bias and bias_kind == "vector":
            shapes[arg.name] = cols
        else:
            shapes[arg.name] = f"{rows},{cols}"
    return shapes


def seed_example(objective: Objective, bias_kind: BiasKind = "vector") -> Example:
    return Example(
        title=f"registry objective {objective.id}: {objective.title}",
        expression=SEED_EXPRESSIONS[objective.id],
        shapes=seed_shapes(objective, bias_kind),
        wrt=objective.arguments,
        show_steps=objective.id == "affine",
        show_code=objective.id == "sigmoid_net.pre",
        objective=objective.id,
    )


SEEDS: tuple[Example, ...] = tuple(seed_example(o) for o in OBJECTIVES)

_REGRESSION = {"X": "n,k", "w": "k", "y": "n"}
_NETWORK = {"X": "n,d", "W1": "d,h", "b1": "h", "W2": "h,o", "b2": "o", "Y": "n,o"}

EXAMPLES: tuple[Example, ...] = (
    Example("trace of a product", "trace(A @ X @ B)", {"A": "p,k", "X": "k,m", "B": "m,p"}, ("X",)),
    Example("trace of a quadratic form", "trace(X.T @ A @ X)", {"X": "n,k", "A": "n,n"}, ("X",)),
    Example("trace of AXᵀBX", "trace(A @ X.T @ B @ X)", {"A": "k,k", "X": "n,k", "B": "n,n"}, ("X",)),
    Example("trace of a square", "trace(X @ X)", {"X": "n,n"}, ("X",)),
    Example("quadratic form xᵀAx", "x @ A @ x", {"x": "n", "A": "n,n"}, ("x", "A")),
    Example("bilinear form uᵀAv", "u @ A @ v", {"u": "n", "A": "n,m", "v": "m"}, ("u", "A", "v")),
    Example(
        "ridge regression ‖AX − B‖² + λ‖X‖²",
        "sqnorm(A @ X - B) + lam * sqnorm(X)",
        {"A": "n,k", "X": "k,m", "B": "n,m", "lam": "scalar"},
        ("X", "lam"),
        note="λ is a scalar argument, so its gradient ‖X‖²_F comes out too.",
    ),
    Example("least squares ½‖Xw − y‖²", "0.5 * sqnorm(X @ w - y)", _REGRESSION, ("w",)),
    Example("least squares via norm(·)**2", "norm(X @ w - y)**2", _REGRESSION, ("w",)),
    Example(
        "weighted least squares",
        "sum(c * (X @ w - y) ** 2)",
        {**_REGRESSION, "c": "n"},
        ("w", "c"),
    ),
    Example(
        "logistic loss with log σ",
        "-sum(y * log(sigmoid(X @ w)) + (1 - y) * log(1 - sigmoid(X @ w)))",
        _REGRESSION,
        ("w",),
        note="σ⁻¹ ⊙ σ cancels and the products of sums multiply out to σ(Xw) − y.",
    ),
    Example("logistic loss, softplus form", "sum(softplus(X @ w) - y * (X @ w))", _REGRESSION, ("w",)),
    Example("Poisson regression", "sum(exp(X @ w)) - y @ (X @ w)", _REGRESSION, ("w",)),
    Example("log-sum-exp", "log(sum(exp(x)))", {"x": "n"}, ("x",), note="The gradient is the softmax."),
    Example("Frobenius norm", "norm(X)", {"X": "n,k"}, ("X",)),
    Example("elementwise product", "sqnorm(X * Y)", {"X": "n,k", "Y": "n,k"}, ("X",)),
    Example(
        "column bias broadcast over columns",
        "sqnorm(X @ W + c)",
        {"X": "n,k", "W": "k,m", "c": "n,1"},
        ("W", "c"),
    ),
    Example(
        "tanh layer",
        "sqnorm(tanh(X @ W + b) - Y)",
        {"X": "n,k", "W": "k,m", "b": "m", "Y": "n,m"},
        ("W", "b"),
    ),
    Example(
        "relu layer with a linear read-out",
        "sqnorm(relu(X @ W + b) @ V - Y)",
        {"X": "n,k", "W": "k,h", "b": "h", "V": "h,m", "Y": "n,m"},
        ("W", "b", "V"),
    ),
    Example("two-layer tanh network", "sqnorm(tanh(X @ W1 + b1) @ W2 + b2 - Y)", _NETWORK, None),
    Example("softplus features", "sum(softplus(X @ W))", {"X": "n,k", "W": "k,m"}, ("W",)),
    Example(
        "Lasso ‖Xw − y‖² + λ‖w‖₁",
        "sqnorm(X @ w - y) + lam * norm1(w)",
        {**_REGRESSION, "lam": "scalar"},
        ("w",),
        note="A subgradient: sign(w) is the derivative of ‖w‖₁ wherever no entry of w is 0.",
    ),
    Example("least absolute deviations", "sum(abs(X @ w - y))", _REGRESSION, ("w",)),
    Example("Euclidean distance ‖x − a‖₂", "norm2(x - a)", {"x": "n", "a": "n"}, ("x",)),
    Example("arctan features", "sum(arctan(X @ w))", {"X": "n,k", "w": "k"}, ("w",)),
    Example(
        "Gaussian negative log-likelihood (mean and covariance)",
        "0.5 * sum(((X - m) @ inv(S)) * (X - m)) + 0.5 * logdet(S) * sum(ones(n))",
        {"X": "n,d", "m": "d", "S": "d,d:spd"},
        ("m", "S"),
        note="S is declared spd: its gradient is the symmetric one (derivations/symmetric.md).",
    ),
    Example(
        "batch softmax cross-entropy",
        "-sum(Y * log(softmax(Z, axis=1)))",
        {"Y": "n,k", "Z": "n,k"},
        ("Z",),
        note="log softmax(Z) = Z − logsumexp(Z) along the rows; when each row of Y sums to one "
        "(one-hot labels or probabilities), Y1ₖ = 1ₙ and the gradient is softmax(Z) − Y.",
    ),
    Example("log-sum-exp of each row", "sum(logsumexp(X @ W, axis=1))", {"X": "n,d", "W": "d,k"}, ("W",)),
    Example("mean squared error", "mean((X @ w - y)**2)", _REGRESSION, ("w",)),
    Example(
        "matrix factorization ‖M − UVᵀ‖²",
        "sqnorm(M - U @ V.T)",
        {"M": "n,m", "U": "n,r", "V": "m,r"},
        ("U", "V"),
    ),
)


def render(derivations: Mapping[Example, Derivation]) -> str:
    """``derivations/engine.md``: every example, derived and proven."""
    from matgrad.engine import latex as printing

    lines = [
        "# The derivation engine: worked examples",
        "",
        "Generated by `python -m matgrad.engine.catalogue > derivations/engine.md` from",
        "`matgrad/engine/catalogue.py`; a test keeps it current. Each gradient below was",
        "derived by `matgrad derive`, simplified, and proven twice on the generated numpy code:",
        "exactly with sympy at small concrete shapes, and numerically against central differences",
        "(see `matgrad/engine/proof.py`). Notation: juxtaposition is the matrix product, ⊙ and ⊘",
        "the elementwise product and quotient, 𝟏ₙ the all-ones vector (𝟏ₙᵀG sums G over its n",
        "rows), a 1-D vector is a column.",
        "",
    ]
    from matgrad.engine.cookbook import cookbook_examples

    table = set(cookbook_examples().values())  # shown in the Cookbook's table, not as sections
    first = {e: d for e, d in derivations.items() if e.order == 1 and e not in table}
    second = {e: d for e, d in derivations.items() if e.order == 2}
    for number, (example, derivation) in enumerate(first.items(), start=1):
        shapes = ", ".join(f"{n}: {s}" for n, s in example.shapes.items())
        lines += [
            f"## {number}. {example.title}",
            "",
            f'`matgrad derive "{example.expression}" '
            + " ".join(f"{n}={s}" for n, s in example.shapes.items())
            + (f" --wrt {','.join(example.wrt)}`" if example.wrt else "`"),
            "",
            f"Shapes: {shapes}.",
            "",
            f"$$f = {derivation.value_latex}$$",
            "",
        ]
        style = printing.Style(latex=True)
        lines += [
            rf"$$\frac{{\partial f}}{{\partial {style.name(name)}}} = {derivation.latex(name)}$$"
            for name in derivation.wrt
        ]
        where = derivation.where_latex()
        if where:
            lines += ["", "where " + ", ".join(f"${n} = {d}$" for n, d in where) + "."]
        if example.note:
            lines += ["", example.note]
        if derivation.proof is not None:
            lines += ["", derivation.proof.statement()]
        if example.show_steps:
            lines += ["", "### Steps", "", derivation.steps_markdown().rstrip()]
        if example.show_code:
            lines += [
                "",
                "### Generated numpy code",
                "",
                "```python",
                derivation.numpy_source.rstrip(),
                "```",
            ]
        lines.append("")
    if second:
        lines += _render_second(second, start=len(first) + 1)
    lines += _render_cookbook(derivations)
    return "\n".join(lines)


def _render_cookbook(derivations: Mapping[Example, Any]) -> list[str]:
    """The Matrix Cookbook table: each identity with the engine's answer and how it was proven."""
    from matgrad.engine.cookbook import COOKBOOK, cookbook_examples

    examples = cookbook_examples()
    lines = [
        "## The Matrix Cookbook",
        "",
        "Identities of K. B. Petersen and M. S. Pedersen, *The Matrix Cookbook* (version of",
        "November 15, 2012; its equation numbers), written in the engine's language, derived,",
        "proven and printed by the engine (`matgrad/engine/cookbook.py`; a test derives every row",
        "and compares the engine's text with the column below). Where the Cookbook has a power",
        "Xᵏ, the row takes k = 2 or 3. Rows (53), (54) and (125) declare a 3×2 X so that XᵀAX",
        "is invertible. A determinant or an inverse is proven exactly at 2×2 and, when that",
        "finishes within 0.5 s, at 3×3 too (`matgrad derive` says whether it did); the last column",
        "gives the first shapes (every row with a determinant or an inverse is proven at 3×3 too",
        "when nothing else loads the machine; a test checks that each 3×3 proof succeeds), and the",
        "numeric check runs at 3×3 or larger. The whole `derive` of each row, proofs included, takes",
        "under 1 s on a 2-core machine (`python benchmarks/bench_engine.py --cookbook` times it).",
        "The gradient with",
        "respect to a symmetric matrix follows this project's convention, not the Cookbook's",
        "section 2.8.2: see [symmetric.md](symmetric.md).",
        "",
        "| Eq. | f | shapes | Cookbook: ∂f/∂· | matgrad | proven exactly at |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for entry in COOKBOOK:
        derivation = derivations[examples[entry]]
        proof = derivation.proof
        shapes = ", ".join(f"{n}: {s}" for n, s in entry.shapes.items())
        exact = (
            "—"
            if proof is None
            else ", ".join(f"{n} {format_shape(s)}" for n, s in proof.symbolic_shapes.items())
        )
        cell = derivation.text(entry.wrt)
        where = derivation.where()
        if where:
            cell += " (" + ", ".join(f"{text_name(n)} = {d}" for n, d in where) + ")"
        lines.append(
            f"| ({entry.equation}) | `{entry.expression}` | {shapes} | ∂/∂{entry.wrt}: {entry.cookbook} "
            f"| {cell} | {exact} |"
        )
    lines.append("")
    return lines


def _render_second(derivations: Mapping[Example, Any], start: int) -> list[str]:
    """The second-derivative examples: ∇²f·V, and the Hessian matrix of a vector argument."""
    from matgrad.engine import latex as printing

    lines = [
        "## Second derivatives",
        "",
        "`derive(..., order=2)` / `matgrad derive ... --hessian` (`matgrad/engine/second_order.py`).",
        "The Hessian with respect to x applied to a direction V of x's shape is the gradient of",
        "⟨∇f, V⟩, since the Hessian is symmetric: d⟨∇f, V⟩ = ⟨d∇f, V⟩ = ⟨H dx, V⟩ = ⟨HV, dx⟩.",
        "So the engine derives and proves ∇f, forms ⟨∇f, V⟩ with V a new argument, and",
        "differentiates that by the same rules: the Hessian-vector product ∇²f·V in closed",
        "form. For a vector x it then reads the matrix M with ∇²f·V = MV off that expression",
        "(V is I; a product A·E is A·M_E; s ⊙ E with a vector s is diag(s)·M_E), e.g. the",
        "logistic loss's Xᵀ((XV) ⊙ σ ⊙ (1 − σ)) = Xᵀ diag(σ ⊙ (1 − σ)) X V. The proof differentiates",
        "the parsed expression twice with sympy, Σᵢ Vᵢ ∂f/∂xᵢ and then its gradient, and the",
        "generated code of ∇²f·V and of MV must equal it exactly; a numeric check compares ∇²f·V",
        "with central differences of ⟨∇f, V⟩.",
        "",
    ]
    for number, (example, second) in enumerate(derivations.items(), start=start):
        shapes = ", ".join(f"{n}: {s}" for n, s in example.shapes.items())
        x = second.wrt
        style = printing.Style(latex=True)
        lines += [
            f"### {number}. {example.title}",
            "",
            f'`matgrad derive "{example.expression}" '
            + " ".join(f"{n}={s}" for n, s in example.shapes.items())
            + f" --wrt {x} --hessian`",
            "",
            f"Shapes: {shapes}; V: the shape of {x}.",
            "",
            f"$$f = {second.first.value_latex}$$",
            "",
            rf"$$\frac{{\partial f}}{{\partial {style.name(x)}}} = {second.first.latex(x)}$$",
            rf"$$\nabla^2 f \cdot V = {second.latex()}$$",
        ]
        if second.hessian is not None:
            lines.append(
                rf"$$\frac{{\partial^2 f}}{{\partial {style.name(x)}^2}} = {second.hessian_latex()}$$"
            )
        where = [
            (style.name(n), printing.latex(node, {k: v for k, v in second.names.items() if k != node}))
            for node, n in second.names.items()
        ]
        if where:
            lines += ["", "where " + ", ".join(f"${n} = {d}$" for n, d in where) + "."]
        if second.proof is not None:
            verdicts = " and ".join("H·V" if w == "hvp" else "MV" for w in second.proof.symbolic)
            status = "proven" if second.proof.proven else "FAILED"
            lines += ["", f"Proof: {verdicts} {status} exactly (sympy) and numerically."]
        lines.append("")
    return lines


_LOGISTIC = {"X": "m,n", "w": "n", "y": "m"}

SECOND_ORDER: tuple[Example, ...] = (
    Example("Hessian of a quadratic form", "x @ A @ x", {"x": "n", "A": "n,n"}, ("x",), order=2),
    Example(
        "Hessian of least squares", "sqnorm(A @ x - b)", {"A": "m,n", "x": "n", "b": "m"}, ("x",), order=2
    ),
    Example("Hessian of the logistic loss", "sum(softplus(X @ w)) - y @ (X @ w)", _LOGISTIC, ("w",), order=2),
    Example("Hessian of a sum of exponentials", "sum(exp(A @ x))", {"A": "m,n", "x": "n"}, ("x",), order=2),
    Example("HVP of a trace quadratic form", "trace(X.T @ A @ X)", {"X": "n,k", "A": "n,n"}, ("X",), order=2),
    Example("HVP of ‖XW‖²", "sqnorm(X @ W)", {"X": "n,k", "W": "k,m"}, ("W",), order=2),
    Example(
        "HVP of a sigmoid layer's squared error",
        "sqnorm(Y - sigmoid(X @ W))",
        {"X": "n,k", "W": "k,m", "Y": "n,m"},
        ("W",),
        order=2,
    ),
)


def everything() -> tuple[Example, ...]:
    """Every example the document shows: seeds, catalogue, second order and the Cookbook's."""
    from matgrad.engine.cookbook import cookbook_examples

    return SEEDS + EXAMPLES + SECOND_ORDER + tuple(cookbook_examples().values())


def main() -> None:
    print(render({example: example.derive() for example in everything()}), end="")


if __name__ == "__main__":
    main()
