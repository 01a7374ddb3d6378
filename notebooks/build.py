"""Rebuild the notebooks of this folder from the cells below and store their outputs.

The notebooks are written here, as code, so that a change is reviewed as a diff of
Python rather than of JSON, and so that their formula cells are printed from
``matgrad.registry`` (the single source of truth) instead of being typed by hand.
``tests/test_notebooks.py`` checks that the committed notebooks are exactly what this
script writes and that each one runs from top to bottom.

Run from the repository root, with matgrad importable (installed, or ``PYTHONPATH=.``)::

    python notebooks/build.py            # all notebooks
    python notebooks/build.py 02         # the ones whose file name starts with 02
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat import NotebookNode

HERE = Path(__file__).resolve().parent

KERNEL_NAME = "python3"
# Per cell; the three notebooks together take well under a minute on 2 cores.
CELL_TIMEOUT_SECONDS = 120


def markdown(text: str) -> NotebookNode:
    return nbformat.v4.new_markdown_cell(text.strip("\n"))


def code(text: str) -> NotebookNode:
    return nbformat.v4.new_code_cell(text.strip("\n"))


def _latex_name(argument: str) -> str:
    """W1 → W_{1}: argument names as they are written in the formulas."""
    return re.sub(r"(\d+)$", r"_{\1}", argument)


def formulas(objective_id: str) -> NotebookNode:
    """A markdown cell with an objective's value and gradients, as the registry states them."""
    from matgrad.registry import get_objective

    objective = get_objective(objective_id)
    lines = [
        f"**`{objective.id}`**: {objective.title}",
        "",
        f"$${objective.value_latex}$$",
        "",
        f"where $${objective.where_latex}$$",
        "",
        r"| argument | $\partial f / \partial \text{argument}$ "
        r"| for a row bias $(1,\cdot)$ or $(\cdot,)$ |",
        "|---|---|---|",
    ]
    for argument, gradient in objective.gradients.items():
        row = f"${gradient.row_latex}$" if gradient.row_latex else ""
        lines.append(f"| ${_latex_name(argument)}$ | ${gradient.latex}$ | {row} |")
    return markdown("\n".join(lines))


SETUP = code(
    r"""
from pathlib import Path

import numpy as np

np.set_printoptions(precision=4, suppress=True, linewidth=120)

# The seed notebook's tensors (float32, drawn after torch.manual_seed(0)) and the values
# and gradients PyTorch autograd computed for them; the path is relative to this notebook.
with np.load(Path("..") / "tests" / "data" / "seed_tensors.npz") as data:
    seed = {name: data[name] for name in data.files}
"""
)

TORCH_IF_INSTALLED = code(
    r"""
# PyTorch is optional: when it is installed, autograd is rerun live next to matgrad.
try:
    import torch
except ImportError:
    torch = None
print("PyTorch", torch.__version__ if torch else "is not installed: comparing with the stored seed numbers")
"""
)

COMPARE = code(
    r"""
def compare(grads, reference, objective):
    # One line per argument: the registry's formula and how far matgrad is from autograd.
    header = ("argument", "shape", "∂f/∂argument", "max |matgrad − autograd|", "max |autograd|")
    print(f"{header[0]:10}{header[1]:11}{header[2]:14}{header[3]:>26}{header[4]:>16}")
    for name, gradient in grads.items():
        formula = objective.gradients[name].text
        difference = np.abs(gradient - reference[name]).max()
        scale = np.abs(reference[name]).max()
        print(f"{name:10}{gradient.shape!s:11}{formula:14}{difference:26.2e}{scale:16.4f}")
"""
)


def affine_notebook() -> list[NotebookNode]:
    return [
        markdown(
            r"""
# 01 · 矩陣求導 (matrix derivative) of $f = \lVert XW + b \rVert_F^2$

The project began as a notebook that built this objective in PyTorch and printed what
autograd returned. Here the same tensors go through matgrad's closed forms: plain numpy,
no graph, no `.grad` buffers. Every formula comes from `matgrad`; this notebook only
loads the seed's data, calls matgrad and compares.
"""
        ),
        formulas("affine"),
        SETUP,
        TORCH_IF_INSTALLED,
        COMPARE,
        markdown(
            r"""
## The seed's tensors

$X$ is $10 \times 4$, $W$ is $4 \times 4$ and $b$ is a full $10 \times 4$ bias, all float32 as in the
seed. `affine.value_and_grad` computes $R = XW + b$ once and reuses it for the value and
all three gradients; float32 in, float32 out.
"""
        ),
        code(
            r"""
from matgrad import affine
from matgrad.registry import get_objective

X, W, b = seed["affine_X"], seed["affine_W"], seed["affine_b"]
f, grads = affine.value_and_grad(X, W, b)
print(f"matgrad:  f = {f:.4f} ({f.dtype})")
print(f"autograd: f = {seed['affine_f']:.4f} (the seed's run, stored with its tensors)")
print()
autograd = {name: seed[f"affine_d{name}"] for name in grads}
compare(grads, autograd, get_objective("affine"))
"""
        ),
        markdown(
            r"""
The differences are float32 rounding (a few units in the last place of the largest
entry): numpy and PyTorch sum the matrix products in different orders. Here is
$\partial f / \partial W = 2X^\top(XW + b)$ from both, printed as the seed printed it:
"""
        ),
        code(
            r"""
print("matgrad ∂f/∂W:")
print(grads["W"])
print("autograd w.grad (seed):")
print(autograd["W"])
"""
        ),
        code(
            r"""
if torch is not None:
    # The seed's first two cells, rerun on the same tensors.
    x, w, bias = (torch.tensor(a, requires_grad=True) for a in (X, W, b))
    y = (x.mm(w) + bias).pow(2).sum()
    y.backward()
    print(f"PyTorch {torch.__version__} live: f = {y.item():.4f}")
    live = {"X": x.grad.numpy(), "W": w.grad.numpy(), "b": bias.grad.numpy()}
    compare(grads, live, get_objective("affine"))
"""
        ),
        markdown(
            r"""
## Practice: the 1×1 problem

The seed's exercise: $y = (wx + b)^2$ with $w = 2$, $x = 1$, $b = 3$. As $1 \times 1$ matrices
$X = [x]$, $W = [w]$, $b = [b]$ this is the same objective, $XW + b = wx + b = 5$, so
$\partial y/\partial w = 2x(wx + b) = 10$, $\partial y/\partial x = 2w(wx + b) = 20$ and
$\partial y/\partial b = 2(wx + b) = 10$. The seed printed `tensor([10.])`, `tensor([20.])`,
`tensor([10.])` for `w.grad`, `x.grad`, `b.grad`.
"""
        ),
        code(
            r"""
practice = {"X": np.array([[1.0]]), "W": np.array([[2.0]]), "b": np.array([[3.0]])}
y, practice_grads = affine.value_and_grad(**practice)
print(f"y = {y}")
print(f"w.grad → ∂y/∂W = {practice_grads['W'].item()}")
print(f"x.grad → ∂y/∂X = {practice_grads['X'].item()}")
print(f"b.grad → ∂y/∂b = {practice_grads['b'].item()}")
"""
        ),
        markdown(
            r"""
## Gradient accumulation: why the seed then saw 11, 22, 11

The seed's next cell set `y = w*x + b` (no square this time) and called `y.backward()`
again without zeroing. PyTorch *adds* every backward pass into `.grad`:
$\partial(wx + b)/\partial(w, x, b) = (x, w, 1) = (1, 2, 1)$ was added to the $(10, 20, 10)$
still stored there, giving $(11, 22, 11)$. Only after `w.grad.zero_()` etc. did the third
cell print $(1, 2, 1)$.

A closed form is a pure function of its inputs: nothing is stored between calls, so
there is nothing to zero, and calling it twice gives the same numbers.
"""
        ),
        code(
            r"""
first = affine.grad(**practice)
second = affine.grad(**practice)
for name in first:
    print(f"∂y/∂{name}: first call {first[name].item()}, second call {second[name].item()}")
assert all(np.array_equal(first[name], second[name]) for name in first)
"""
        ),
        code(
            r"""
if torch is not None:
    # The seed's cells 3 and 4: two backward passes into the same .grad buffers.
    w, x, bias = (torch.tensor([value], requires_grad=True) for value in (2.0, 1.0, 3.0))
    (w * x + bias).pow(2).backward()
    (w * x + bias).backward()
    print("PyTorch, no zero_() in between:", [t.grad.item() for t in (w, x, bias)])
"""
        ),
        markdown(
            r"""
When accumulating *is* what you want (for example a sum over mini-batches), it is an
explicit `+`. $f$ is a sum over the rows of $XW + b$, so the gradient of $W$ over all ten
rows equals the sum of the gradients over two halves of five rows:
"""
        ),
        code(
            r"""
top, bottom = slice(0, 5), slice(5, 10)
dW_top = affine.grad(X[top], W, b[top], wrt="W")["W"]
dW_bottom = affine.grad(X[bottom], W, b[bottom], wrt="W")["W"]
print("max |(∂f_top/∂W + ∂f_bottom/∂W) − ∂f/∂W| =", np.abs(dW_top + dW_bottom - grads["W"]).max())
"""
        ),
    ]


def sigmoid_net_notebook() -> list[NotebookNode]:
    return [
        markdown(
            r"""
# 02 · Two-layer sigmoid network: 目標函數 (objective) $f = \lVert Y - Y_{pred} \rVert_F^2$

The seed notebook wrote the network as $h = XW_1 + b_1$, $h_s = \sigma(h)$,
$Y_{pred} = h_s W_2 + b_2$, with the bias *inside* the sigmoid. Its code computed
`(sigmoid(x.mm(w1)) + b1).mm(w2) + b2`, with the bias added *after* the sigmoid, and the
1010.4425 it printed is the code's value. matgrad has both placements as first-class
objectives: `bias="pre"`, the written formula, and `bias="post"`, the code.
"""
        ),
        formulas("sigmoid_net.pre"),
        formulas("sigmoid_net.post"),
        SETUP,
        TORCH_IF_INSTALLED,
        COMPARE,
        markdown(
            r"""
## 給定實驗資料 (the given data)

The seed's tensors: 100 samples of one input and one output, 10 hidden units, and
*full* biases (one row per sample), all float32.
"""
        ),
        code(
            r"""
from matgrad import sigmoid_net
from matgrad.registry import get_objective

ARGUMENTS = ("X", "Y", "W1", "b1", "W2", "b2")
arrays = {name: seed[f"net_{name}"] for name in ARGUMENTS}
for name, array in arrays.items():
    print(f"{name:3}: {array.shape}")
"""
        ),
        markdown(
            r"""
## 直接求導 (differentiating directly): both bias placements

For each placement, the value and all six gradients from one call, next to what PyTorch
autograd computed for the seed's tensors (`net_post_*` is the seed's own run,
`net_pre_*` the same tensors through the written formula).
"""
        ),
        code(
            r"""
results = {}
for bias in ("post", "pre"):
    f, grads = sigmoid_net.value_and_grad(**arrays, bias=bias)
    results[bias] = grads
    print(f"bias={bias!r}: matgrad f = {f:.4f}, autograd f = {seed[f'net_{bias}_f']:.4f}")
    autograd = {name: seed[f"net_{bias}_d{name}"] for name in ARGUMENTS}
    compare(grads, autograd, get_objective(f"sigmoid_net.{bias}"))
    print()
"""
        ),
        markdown(
            r"""
The seed printed `w1.grad` and `w2.grad` in full; matgrad's $\partial f/\partial W_1 = 2X^\top\Delta$
and $\partial f/\partial W_2 = 2A^\top R$ for the code's placement, printed the same way:
"""
        ),
        code(
            r"""
print("matgrad  w1 :", results["post"]["W1"])
print("autograd w1 :", seed["net_post_dW1"])
print("matgrad  w2ᵀ:", results["post"]["W2"].T)
print("autograd w2ᵀ:", seed["net_post_dW2"].T)
"""
        ),
        code(
            r"""
if torch is not None:
    for bias in ("post", "pre"):
        x, y, w1, b1, w2, b2 = (torch.tensor(arrays[name], requires_grad=True) for name in ARGUMENTS)
        if bias == "post":
            yp = (torch.sigmoid(x.mm(w1)) + b1).mm(w2) + b2  # the seed's cell 7, rerun live
        else:
            yp = torch.sigmoid(x.mm(w1) + b1).mm(w2) + b2  # the seed's written formula
        f1 = (y - yp).pow(2).sum()
        f1.backward()
        print(f"bias={bias!r}: PyTorch {torch.__version__} live f = {f1.item():.4f}")
        live = {name: t.grad.numpy() for name, t in zip(ARGUMENTS, (x, y, w1, b1, w2, b2), strict=True)}
        compare(results[bias], live, get_objective(f"sigmoid_net.{bias}"))
        print()
"""
        ),
        markdown(
            r"""
## Gradient check: the V-shaped curve

How would we know the closed form is right without autograd? Compare it with numeric
derivatives of $f$ itself, here for $\partial f/\partial W_1$ on the seed's tensors (in
float64, `bias="post"`). `matgrad.testing.step_size_sweep` measures, for each step $h$,
the largest error of each numeric derivative relative to matgrad's gradient:

- forward difference $(f(W + hE) - f(W))/h$: truncation error $\propto h$;
- central difference $(f(W + hE) - f(W - hE))/2h$: truncation error $\propto h^2$;
- both lose digits to rounding as $h$ shrinks (error $\propto \varepsilon|f|/h$), hence the V;
- the complex step $\operatorname{Im} f(W + ihE)/h$ subtracts nothing, so it has no
  rounding term: its error falls with $h^2$ (on the central difference's line, which it
  hides for large $h$) and then stays at machine precision, down to steps far below the
  point where $W + h$ rounds back to $W$ and no difference can be taken.
"""
        ),
        code(
            r"""
from functools import partial

from matgrad.testing import step_size_sweep

seed_float64 = {name: array.astype(np.float64) for name, array in arrays.items()}
f_post = partial(sigmoid_net.value, bias="post")
grad_post = partial(sigmoid_net.grad, bias="post")
# Below h ≈ 1e-16 · |W1|, W1 + h rounds to W1 and the difference quotients are 0/0 (NaN).
with np.errstate(invalid="ignore"):
    sweep = step_size_sweep(f_post, grad_post, seed_float64, "W1")
steps = sweep["steps"]
for method in ("forward", "central", "complex"):
    errors = sweep[method]
    best = np.nanargmin(errors)
    print(f"{method:8}: smallest error {errors[best]:.1e} at h = {steps[best]:.0e}")
"""
        ),
        code(
            r"""
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(7, 4.5))
for method, style in (("forward", "o-"), ("central", "s-"), ("complex", "^-")):
    ax.loglog(steps, sweep[method], style, markersize=3, label=f"{method} step")
undefined = steps[np.isnan(sweep["central"])]
if undefined.size:
    ax.axvspan(steps[0], undefined.max(), color="grey", alpha=0.15, label="W₁ + h rounds to W₁")
ax.set(
    xlabel="step h",
    ylabel="max |numeric − matgrad| / max(1, |matgrad|)",
    title="∂f/∂W₁ of the seed's network: numeric derivatives vs the closed form",
)
ax.grid(True, which="major", alpha=0.3)
ax.legend(loc="center", bbox_to_anchor=(0.45, 0.3))
fig.tight_layout()
plt.show()
"""
        ),
        markdown(
            r"""
## Training by gradient descent with matgrad's gradients

A short run of the usual network (`bias="pre"`, one bias row shared by all samples) on a
toy problem: 60 noisy samples of $\sin x$. Every step asks matgrad for the value and the
four parameter gradients (`wrt` skips $\partial f/\partial X$ and $\partial f/\partial Y$) and
takes a plain step $\theta \leftarrow \theta - \eta\,\partial f/\partial\theta$. With
$\eta = 0.003$ the loss falls at every step (the training cell asserts it); at $\eta = 0.005$ this
run overshoots and the loss spikes once before settling.
"""
        ),
        code(
            r"""
from itertools import pairwise

from matgrad.vjp import sqnorm

rng = np.random.default_rng(0)
n, hidden = 60, 8
X_train = np.sort(rng.uniform(-3, 3, (n, 1)), axis=0)
noise = 0.1 * rng.standard_normal((n, 1))
Y_train = np.sin(X_train) + noise
params = {
    "W1": rng.standard_normal((1, hidden)),
    "b1": np.zeros(hidden),
    "W2": rng.standard_normal((hidden, 1)) / np.sqrt(hidden),
    "b2": np.zeros(1),
}
initial = {name: p.copy() for name, p in params.items()}

learning_rate, steps = 0.003, 4000
losses = []
for _ in range(steps):
    f, grads = sigmoid_net.value_and_grad(X_train, Y_train, **params, wrt=tuple(params))
    losses.append(float(f))
    for name in params:
        params[name] -= learning_rate * grads[name]
print(f"loss: {losses[0]:.2f} at step 0, {losses[-1]:.4f} after {steps} steps")
print(f"the noise alone: ‖noise‖²_F = {sqnorm(noise):.4f}")
assert all(later <= earlier for earlier, later in pairwise(losses)), "the loss went up"
"""
        ),
        code(
            r"""
import matplotlib.pyplot as plt

from matgrad.vjp import linear, sigmoid

fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
left.semilogy(losses, label="loss $f$")
left.axhline(sqnorm(noise), color="grey", linestyle="--", label=r"$\|\mathrm{noise}\|_F^2$")
left.set(xlabel="gradient-descent step", ylabel=r"$f = \|Y - Y_{pred}\|_F^2$ (log scale)", title="Loss")
left.legend()
left.grid(True, which="both", alpha=0.3)
right.plot(X_train, Y_train, ".", color="grey", label="data: sin x + noise")
for label, p, style in (("before training", initial, ":"), ("after training", params, "-")):
    # The network's forward pass, composed from matgrad's layer rules.
    Y_pred = linear(sigmoid(linear(X_train, p["W1"], p["b1"])), p["W2"], p["b2"])
    right.plot(X_train, Y_pred, style, label=label)
right.set(xlabel="x", ylabel="y", title="The network's prediction")
right.legend()
fig.tight_layout()
plt.show()
"""
        ),
    ]


def verify_notebook() -> list[NotebookNode]:
    return [
        markdown(
            r"""
# 03 · The proofs: every formula checked exactly

Numbers that agree with autograd to seven digits are evidence, not proof. matgrad proves
its formulas: the *same numpy code* that users call is run on arrays of sympy symbols
instead of numbers, so its "value" becomes an exact expression in the entries and its
"gradient" an exact expression for every entry. sympy differentiates the value entry by
entry (with $\sigma$ kept opaque and $\sigma' = \sigma(1 - \sigma)$), and the two must agree
*as polynomials*: no floating point, no tolerance. `matgrad verify` prints the whole
table; here is one proof, small enough to read, and then wrong formulas being caught.
"""
        ),
        code(
            r"""
import re

import numpy as np
import sympy
from IPython.display import display

from matgrad.registry import get_objective
from matgrad.symbolic import check, symbol_arrays, verify
from matgrad.symbolic.functions import sigma


def readable(symbol):
    # X_0_0 → X_{11}, W1_0_1 → (W_{1})_{12}, b1_1 → (b_{1})_{2}: 1-based indices, as in the math.
    name, *index = symbol.name.split("_")
    base = re.sub(r"^(\D+)(\d+)$", r"(\1_{\2})", name)
    return base + "_{" + "".join(str(int(i) + 1) for i in index) + "}"


def show(latex_lhs, text_lhs, expression, short=None):
    # LaTeX where the viewer renders it, sympy's plain text where it does not; `short`
    # replaces subexpressions by names for display only.
    expression = expression.subs(short or {})
    names = {s: readable(s) for s in expression.free_symbols if s not in (short or {}).values()}
    latex = sympy.latex(expression, symbol_names=names)
    output = {
        "text/latex": f"$\\displaystyle {latex_lhs} = {latex}$",
        "text/plain": f"{text_lhs} = {expression}",
    }
    display(output, raw=True)
"""
        ),
        markdown(
            r"""
## One proof, small enough to read

The network with the bias inside $\sigma$ (`sigmoid_net.pre`) with one sample, one input,
two hidden units, one output, and bias vectors: $X$, $Y$ and $b_2$ have one entry, $W_1$
is $1 \times 2$, $b_1$ has 2 entries and $W_2$ is $2 \times 1$. Every entry is a symbol:
"""
        ),
        code(
            r"""
objective = get_objective("sigmoid_net.pre")
sizes = {"n": 1, "d": 1, "h": 2, "o": 1}
arrays = symbol_arrays(objective.signature.shapes(sizes, bias_kind="vector"))
for name, array in arrays.items():
    print(f"{name:3} {array.shape!s:7}", array.tolist())
"""
        ),
        markdown(
            r"""
matgrad's own code (`objective.evaluate`, what `sigmoid_net.value_and_grad` runs after
checking its inputs) on these symbols returns the value $f$ and $\partial f/\partial W_1$
as expressions. To keep the lines short they are displayed with $s_j$ for the output of
hidden unit $j$:
"""
        ),
        code(
            r"""
f, grads = objective.evaluate(arrays, wrt="W1")
hidden = {atom: sympy.Symbol(f"s_{j}") for j, atom in enumerate(sorted(f.atoms(sigma), key=str), start=1)}
for atom, name in hidden.items():
    show(sympy.latex(name), str(name), atom)
show("f", "f", f, hidden)
for index, entry in np.ndenumerate(arrays["W1"]):
    partial = rf"\partial f / \partial {readable(entry)}"
    show(rf"\text{{matgrad: }}\ {partial}", f"matgrad: ∂f/∂{entry}", grads["W1"][index], hidden)
"""
        ),
        markdown(
            r"""
sympy differentiates $f$ itself with respect to each entry of $W_1$ (the chain rule
through $\sigma$ uses $\sigma' = \sigma(1 - \sigma)$), and the difference from matgrad's
entry expands to exactly zero:
"""
        ),
        code(
            r"""
for index, entry in np.ndenumerate(arrays["W1"]):
    derivative = sympy.diff(f, entry)
    partial = rf"\partial f / \partial {readable(entry)}"
    show(rf"\text{{sympy: }}\ {partial}", f"sympy: ∂f/∂{entry}", derivative, hidden)
    difference = sympy.expand(grads["W1"][index] - derivative)
    show(r"\text{matgrad} - \text{sympy}", "matgrad − sympy", difference)
    assert difference == 0
"""
        ),
        markdown(
            r"""
`matgrad.symbolic.check` does this for a candidate gradient, at chosen shapes, and with
`all_sizes=True` also for *every* size: the code is run on arrays of symbolic shape
$(n, d)$, $(d, h)$, ... and the two sides are compared in index notation.
"""
        ),
        code(
            r"""
def matgrad_dW1(**arrays):
    return objective.evaluate(arrays, wrt="W1")[1]["W1"]


print(check(objective, "W1", matgrad_dW1, sizes=sizes, bias_kinds=("vector",)))
print(check(objective, "W1", matgrad_dW1, all_sizes=True))
"""
        ),
        markdown(
            r"""
## Every formula of the registry

`verify()` proves every gradient of every objective, at the registry's sample shapes
with every bias form, and at all sizes, on the numpy path and on the array API path that
torch, CuPy, JAX and Dask arrays take; then each objective's second order (what `matgrad
verify` prints). The gradients' verdicts on the numpy path:
"""
        ),
        code(
            r"""
verdicts = verify()
gradients = {}
for verdict in verdicts:
    if verdict.quantity == "gradient":  # the second order's verdicts use the same method names
        gradients.setdefault((verdict.objective, verdict.argument), {})[verdict.method] = verdict
print(f"{'objective':18}{'∂f/∂':6}{'concrete shapes':>20}{'all sizes':>20}")
for (objective_id, argument), by_method in gradients.items():
    cells = [by_method[method] for method in ("concrete shapes", "all sizes")]
    status = "".join(f"{'proven' if v.proven else 'NOT PROVEN':>12} {v.seconds:5.2f} s" for v in cells)
    print(f"{objective_id:18}{argument:6}{status}")
others = [v for v in verdicts if v.quantity != "gradient" or v.method.endswith("array API")]
print(f"and {sum(v.proven for v in others)} of {len(others)} more proven (array API path, ∇²f·V, 2JᵀJ·V)")
assert all(verdicts), "a formula of the registry is not proven"
"""
        ),
        markdown(
            r"""
## Wrong formulas, caught

Three slips that hand derivations make, written as a user would write a candidate
gradient. Each is refuted with a counterexample (the shapes, the first wrong entry, the
exact difference, and small integer inputs at which the numbers differ) and a diagnosis
naming the slip:
"""
        ),
        code(
            r"""
from matgrad.elementwise import sigmoid


def dW_without_the_2(X, W, b):
    return X.T @ (X @ W + b)  # ∂‖R‖²/∂R is 2R, not R


def dW1_with_sigma_for_sigma_prime(X, Y, W1, b1, W2, b2):
    S = sigmoid(X @ W1 + b1)
    R = S @ W2 + b2 - Y
    return 2 * X.T @ ((R @ W2.T) * S)  # σ where σ′ = σ(1 − σ) belongs


def db_not_summed(X, W, b):
    return 2 * (X @ W + b)  # right for a full b; a broadcast row b needs the sum over rows


wrong = {
    ("affine", "W"): dW_without_the_2,
    ("sigmoid_net.pre", "W1"): dW1_with_sigma_for_sigma_prime,
    ("affine", "b"): db_not_summed,
}
refuted = {}
for (objective_id, argument), candidate in wrong.items():
    refuted[candidate.__name__] = verdict = check(objective_id, argument, candidate)
    print(verdict)
    print()
    assert not verdict.proven and verdict.diagnosis is not None
"""
        ),
        markdown(
            r"""
The counterexample of the sigmoid slip, as math: the difference between the candidate
and the true derivative at the $1 \times 1$ shapes, and the numbers at its integer inputs,
recomputed here in floating point with the candidate and with `sigmoid_net.grad`:
"""
        ),
        code(
            r"""
from matgrad import sigmoid_net

verdict = refuted["dW1_with_sigma_for_sigma_prime"]
counterexample = verdict.counterexample
print("diagnosis:", verdict.diagnosis, "| entry:", counterexample.entry)
difference = sympy.sympify(counterexample.difference, locals={"sigma": sigma})
show(r"\text{candidate} - \text{derivative}", "candidate − derivative", difference)
inputs = {name: np.array(value, dtype=float) for name, value in counterexample.inputs.items()}
print("inputs:", counterexample.inputs)
print(f"candidate          {dW1_with_sigma_for_sigma_prime(**inputs)[counterexample.entry]:.6f}")
print(f"sigmoid_net.grad   {sigmoid_net.grad(**inputs, wrt='W1')['W1'][counterexample.entry]:.6f}")
"""
        ),
    ]


def second_order_notebook() -> list[NotebookNode]:
    return [
        markdown(
            r"""
# 04 · Second order: Newton-CG with matgrad's Hessian-vector products

Every objective has `hvp` (the Hessian applied to a direction, in closed form),
`gauss_newton_product` and a dense `hessian`, proven like the gradients
(`matgrad verify`). This notebook trains the seed network and a logistic regression with
scipy's second-order methods, which take a `hessp` callback, next to L-BFGS and plain
gradient descent, and looks at the Hessian's spectrum where they stop.
"""
        ),
        second_order_formulas("sigmoid_net.post"),
        SETUP,
        code(
            r"""
import time

import matplotlib.pyplot as plt
from scipy.optimize import minimize

from matgrad import sigmoid_net

# The seed network (bias after σ, as the seed's code ran it), its X, Y, W1 and W2; the seed's
# biases were one row per sample, so training starts from their first rows, broadcast.
X, Y = seed["net_X"].astype(np.float64), seed["net_Y"].astype(np.float64)
start = {"W1": seed["net_W1"], "b1": seed["net_b1"][0], "W2": seed["net_W2"], "b2": seed["net_b2"][0]}
PARAMETERS = ("W1", "b1", "W2", "b2")
shapes = {name: start[name].shape for name in PARAMETERS}
sizes = [int(np.prod(shapes[name])) for name in PARAMETERS]


def unflatten(theta):
    parts = np.split(theta, np.cumsum(sizes)[:-1])
    return {name: part.reshape(shapes[name]) for name, part in zip(PARAMETERS, parts, strict=True)}


def flatten(blocks):
    return np.concatenate([np.ravel(blocks[name]) for name in PARAMETERS])


def loss(theta):
    return float(sigmoid_net.value(X, Y, **unflatten(theta), bias="post"))


def gradient(theta):
    return flatten(sigmoid_net.grad(X, Y, **unflatten(theta), bias="post", wrt=PARAMETERS))


def hessp(theta, v):
    return flatten(sigmoid_net.hvp(X, Y, **unflatten(theta), direction=unflatten(v), bias="post"))


theta0 = flatten({name: value.astype(np.float64) for name, value in start.items()})
print(f"{theta0.size} parameters, f(θ₀) = {loss(theta0):.4f}")
"""
        ),
        markdown(
            r"""
## Four optimisers from the same start

`Newton-CG` and `trust-krylov` solve each Newton step with conjugate gradients (or a
Krylov subspace), touching the Hessian only through `hessp(θ, v)` = ∇²f·v. `L-BFGS-B`
builds a curvature model from gradients alone; gradient descent uses none. Each run
records the loss and the time after every iteration.
"""
        ),
        code(
            r"""
def optimise(f, grad, hess_vector, theta, method, iterations):
    history, started = [], time.perf_counter()

    def record(xk, *rest):
        point = xk.x if hasattr(xk, "x") else xk  # trust-krylov passes an OptimizeResult
        history.append((time.perf_counter() - started, f(point)))

    extra = {"hessp": hess_vector} if method in ("Newton-CG", "trust-krylov") else {}
    options = {"maxiter": iterations}
    result = minimize(f, theta, jac=grad, method=method, callback=record, options=options, **extra)
    return result, history


def gradient_descent(f, grad, theta, step, iterations):
    history, started = [], time.perf_counter()
    for _ in range(iterations):
        theta = theta - step * grad(theta)
        history.append((time.perf_counter() - started, f(theta)))
    return theta, history


runs = {}
for method in ("Newton-CG", "trust-krylov", "L-BFGS-B"):
    result, history = optimise(loss, gradient, hessp, theta0, method, 400)
    runs[method] = (result.x, history)
    norm, seconds = np.linalg.norm(gradient(result.x)), history[-1][0]
    print(f"{method:13} {result.nit:4d} iterations  f = {result.fun:.4f}  ‖∇f‖ = {norm:.2e}  {seconds:.2f} s")
theta_gd, history = gradient_descent(loss, gradient, theta0, 2e-4, 400)
runs["gradient descent"] = (theta_gd, history)
norm, seconds, value = np.linalg.norm(gradient(theta_gd)), history[-1][0], loss(theta_gd)
print(f"{'gradient descent':13} {400:4d} iterations  f = {value:.4f}  ‖∇f‖ = {norm:.2e}  {seconds:.2f} s")
"""
        ),
        code(
            r"""
def plot_runs(runs, title):
    # f − f_best, f_best the lowest loss any run reached: how far each run is from the best.
    best = min(value for _, history in runs.values() for _, value in history)
    figure, (by_iteration, by_time) = plt.subplots(1, 2, figsize=(11, 3.8))
    for method, (_, history) in runs.items():
        seconds, values = np.array(history).T
        gap = np.maximum(values - best, 1e-12)
        by_iteration.semilogy(np.arange(1, len(values) + 1), gap, label=method)
        by_time.semilogy(seconds, gap, label=method)
    by_iteration.set(xlabel="iteration", ylabel="f − f_best", title=f"{title}: loss per iteration")
    by_time.set(xlabel="seconds", ylabel="f − f_best", title=f"{title}: loss against time")
    by_iteration.legend()
    figure.tight_layout()
    plt.show()


plot_runs(runs, "seed network")
"""
        ),
        markdown(
            r"""
What the plot shows on this run: the seed network's landscape is not kind. Newton-CG
stops after 137 iterations, when its steps become too small for its tolerance, with a
gradient still of order 10⁻²; trust-krylov ends with a gradient of order 10⁻³; L-BFGS
keeps descending and reaches the lowest loss within the 400 iterations; gradient descent,
with a step small enough not to diverge, is far behind. They end at different points of
a nearly flat valley, as the spectrum below explains.

## The Hessian's spectrum where trust-krylov stopped

`sigmoid_net.hessian(..., wrt=(A, B))` gives each block ∂²f/∂A∂B densely; stacked, they
are the full 31 × 31 Hessian. Its eigenvalues span about fifteen orders of magnitude, most
of them near zero: the seed's one-feature network has many nearly flat directions, where
any method moves slowly and where the loss barely tells the points apart. The
Gauss–Newton matrix 2JᵀJ (from `gauss_newton_product`) agrees on the large eigenvalues
and is positive semi-definite by construction (its smallest eigenvalues are rounding);
the Hessian need not be.
"""
        ),
        code(
            r"""
optimum = unflatten(runs["trust-krylov"][0])
def block(a, b):
    dense = sigmoid_net.hessian(X, Y, **optimum, wrt=(a, b), bias="post")
    return dense.reshape(int(np.prod(shapes[a])), int(np.prod(shapes[b])))


def gauss_newton_column(e):
    return flatten(sigmoid_net.gauss_newton_product(X, Y, **optimum, direction=unflatten(e), bias="post"))


H = np.block([[block(a, b) for b in PARAMETERS] for a in PARAMETERS])
G = np.column_stack([gauss_newton_column(e) for e in np.eye(H.shape[0])])
hessian_eigenvalues, gauss_newton_eigenvalues = np.linalg.eigvalsh(H), np.linalg.eigvalsh(G)
low, high = hessian_eigenvalues[[0, -1]]
print(f"symmetric: {np.allclose(H, H.T)}  Hessian eigenvalues from {low:.3g} to {high:.3g}")
low, high = gauss_newton_eigenvalues[[0, -1]]
print(f"Gauss–Newton eigenvalues from {low:.3g} to {high:.3g}")

figure, axis = plt.subplots(figsize=(7, 3.5))
axis.semilogy(np.sort(np.abs(hessian_eigenvalues))[::-1], "o", label=r"|eigenvalues| of $\nabla^2 f$")
axis.semilogy(np.sort(np.abs(gauss_newton_eigenvalues))[::-1], ".", label=r"|eigenvalues| of $2J^\top J$")
axis.set(xlabel="index (largest first)", title="spectrum at trust-krylov's last iterate")
axis.legend()
plt.show()
"""
        ),
        markdown(
            r"""
## Logistic regression

A well-conditioned problem shows the textbook picture: Newton-type methods converge
quadratically in about ten iterations, each costing a few Hessian-vector products, and
are fastest in time too.

f(w) = Σᵢ log(1 + e^{xᵢᵀw}) − yᵀXw + (λ/2)‖w‖², with ∇f = Xᵀ(σ(Xw) − y) + λw and
∇²f·v = Xᵀ(s ⊙ Xv) + λv, s = σ(Xw) ⊙ (1 − σ(Xw)): the same σ′ = σ(1 − σ) as the
network's. These closed forms are written out here (logistic regression is not a registry
objective; `matgrad derive` derives its gradient).
"""
        ),
        code(
            r"""
from matgrad.elementwise import sigmoid

rng = np.random.default_rng(0)
n, k, ridge = 2000, 20, 1e-2
A = rng.standard_normal((n, k))
y = (rng.random(n) < sigmoid(A @ rng.standard_normal(k))).astype(np.float64)


def logistic_loss(w):
    z = A @ w
    return float(np.sum(np.logaddexp(0, z)) - y @ z + ridge / 2 * w @ w)


def logistic_gradient(w):
    return A.T @ (sigmoid(A @ w) - y) + ridge * w


def logistic_hessp(w, v):
    s = sigmoid(A @ w)
    return A.T @ (s * (1 - s) * (A @ v)) + ridge * v


w0 = np.zeros(k)
logistic_runs = {}
for method in ("Newton-CG", "trust-krylov", "L-BFGS-B"):
    result, history = optimise(logistic_loss, logistic_gradient, logistic_hessp, w0, method, 200)
    logistic_runs[method] = (result.x, history)
    print(f"{method:13} {result.nit:4d} iterations  f = {result.fun:.6f}  {history[-1][0] * 1e3:.1f} ms")
w_gd, history = gradient_descent(logistic_loss, logistic_gradient, w0, 1e-3, 200)
logistic_runs["gradient descent"] = (w_gd, history)
milliseconds = history[-1][0] * 1e3
print(f"{'gradient descent':13} {200:4d} iterations  f = {logistic_loss(w_gd):.6f}  {milliseconds:.1f} ms")
plot_runs(logistic_runs, "logistic regression")
"""
        ),
    ]


def second_order_formulas(objective_id: str) -> NotebookNode:
    """A markdown cell with an objective's ∇²f·V per argument, as the registry states it."""
    from matgrad.registry import get_objective

    objective = get_objective(objective_id)
    second = objective.second_order
    lines = [
        f"**`{objective.id}`**: $${objective.value_latex}$$",
        "",
        f"with $${objective.where_latex}$$ and, along a direction $V$ (a dot is the tangent along $V$),",
        "",
        f"$${second.tangent_latex}$$",
        "",
        r"| argument | $(\nabla^2 f \cdot V)_{\text{argument}}$ |",
        "|---|---|",
    ]
    for argument in objective.arguments:
        lines.append(f"| ${_latex_name(argument)}$ | ${second.hvp[argument].latex}$ |")
    return markdown("\n".join(lines))


NOTEBOOKS: dict[str, Callable[[], list[NotebookNode]]] = {
    "01_affine.ipynb": affine_notebook,
    "02_sigmoid_net.ipynb": sigmoid_net_notebook,
    "03_verify.ipynb": verify_notebook,
    "04_second_order.ipynb": second_order_notebook,
}


def new_notebook(cells: list[NotebookNode]) -> NotebookNode:
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata = {
        "kernelspec": {"name": KERNEL_NAME, "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    }
    # Stable cell ids, so that a rebuild without changes is no diff.
    for index, cell in enumerate(notebook.cells):
        cell.id = f"cell-{index:02d}"
    return notebook


def build(name: str) -> NotebookNode:
    """The notebook ``name`` as this script writes it, before execution."""
    return new_notebook(NOTEBOOKS[name]())


def kernel_environment() -> dict[str, str]:
    """This process's environment, with the matgrad it imports first on the kernel's path.

    The kernel then runs the same matgrad as the caller (the test suite or this script),
    whether that is an installed copy or a source tree.
    """
    import matgrad

    source = str(Path(matgrad.__file__).resolve().parents[1])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (source, env.get("PYTHONPATH", "")) if p)
    return env


def execute(notebook: NotebookNode) -> NotebookNode:
    """Run every cell in order, in this folder; raise nbclient's CellExecutionError on an error."""
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_SECONDS,
        kernel_name=KERNEL_NAME,
        record_timing=False,
        resources={"metadata": {"path": str(HERE)}},
    )
    client.execute(env=kernel_environment())
    return notebook


def main(prefixes: list[str]) -> int:
    for name in NOTEBOOKS:
        if prefixes and not any(name.startswith(p) for p in prefixes):
            continue
        notebook = execute(build(name))
        nbformat.write(notebook, HERE / name)
        print(f"wrote {HERE / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
