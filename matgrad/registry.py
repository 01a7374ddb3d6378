"""The registry: one entry per objective, the single source of truth.

Each :class:`Objective` binds the code (``evaluate`` and the public functions of its
module), the argument signature with its shape rules, the formula of the value and of
every gradient (LaTeX and plain text) and the derivation document. The command line,
the symbolic proofs, the numeric checks, the docs and the tests iterate over
:data:`OBJECTIVES` instead of repeating it.

Examples
--------
>>> from matgrad.registry import OBJECTIVES, get_objective
>>> [o.id for o in OBJECTIVES]
['affine', 'sigmoid_net.pre', 'sigmoid_net.post']
>>> get_objective("affine").gradients["W"].text
'2Xᵀ(XW + b)'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from matgrad import affine, sigmoid_net
from matgrad.signature import Signature
from matgrad.vjp import Array
from matgrad.wrt import Wrt, resolve_wrt


@dataclass(frozen=True)
class Gradient:
    """The closed form of ∂f/∂A for one argument A.

    ``latex`` and ``text`` are the formula for a full-shape argument; for a bias,
    ``row_latex`` and ``row_text`` give it when the bias is one row broadcast over the
    n rows (the full formula summed over rows, 1ₙᵀ·).
    """

    argument: str
    latex: str
    text: str
    row_latex: str | None = None
    row_text: str | None = None


@dataclass(frozen=True)
class Objective:
    """One objective: code, shapes, formulas and derivation, in one place."""

    id: str
    module: ModuleType
    options: Mapping[str, Any]
    title: str
    value_latex: str
    value_text: str
    where_latex: str
    where_text: str
    gradients: Mapping[str, Gradient]
    derivation: str
    sample_sizes: tuple[Mapping[str, int], ...] = field(default=())

    @property
    def name(self) -> str:
        """The module name, e.g. 'sigmoid_net' for both of its bias placements."""
        return self.module.__name__.rsplit(".", 1)[-1]

    @property
    def signature(self) -> Signature:
        return self.module.SIGNATURE  # type: ignore[no-any-return]

    @property
    def arguments(self) -> tuple[str, ...]:
        return self.signature.names

    def evaluate(
        self,
        arrays: Mapping[str, Array],
        wrt: Wrt = None,
        *,
        with_value: bool = True,
        rules: ModuleType | None = None,
    ) -> tuple[Any, dict[str, Array]]:
        """Run the objective's unchecked core (also on object arrays of sympy symbols).

        ``rules``: the layer rules to run it with, :mod:`matgrad.vjp` (default, numpy) or
        :mod:`matgrad.generic_vjp` (the array API path).
        """
        chosen = {} if rules is None else {"vjp": rules}
        return self.module.evaluate(  # type: ignore[no-any-return]
            arrays, resolve_wrt(wrt, self.arguments), with_value=with_value, **chosen, **self.options
        )

    def value_and_grad(self, arrays: Mapping[str, Any], wrt: Wrt = None) -> tuple[Any, dict[str, Array]]:
        """The public, input-checking ``value_and_grad`` of the module, with this entry's options."""
        return self.module.value_and_grad(**arrays, wrt=wrt, **self.options)  # type: ignore[no-any-return]

    def value(self, arrays: Mapping[str, Any]) -> Any:
        return self.module.value(**arrays, **self.options)

    def grad(self, arrays: Mapping[str, Any], wrt: Wrt = None) -> dict[str, Array]:
        return self.module.grad(**arrays, wrt=wrt, **self.options)  # type: ignore[no-any-return]

    @property
    def call(self) -> str:
        """How a user calls it, e.g. 'sigmoid_net.grad(X, Y, W1, b1, W2, b2, bias="post")'."""
        options = "".join(f", {k}={v!r}" for k, v in self.options.items())
        return f"{self.name}.grad({', '.join(self.arguments)}{options})"


_NET_WHERE_PRE_LATEX = (
    r"S = \sigma(XW_1 + b_1),\quad R = SW_2 + b_2 - Y,\quad "
    r"\Delta = (RW_2^\top) \odot S \odot (1 - S)"
)
_NET_WHERE_POST_LATEX = (
    r"S = \sigma(XW_1),\quad A = S + b_1,\quad R = AW_2 + b_2 - Y,\quad "
    r"\Delta = (RW_2^\top) \odot S \odot (1 - S)"
)


def _shared_net_gradients(A_latex: str, A_text: str) -> dict[str, Gradient]:
    """The gradients whose form does not depend on the bias placement."""
    return {
        "X": Gradient("X", r"2\,\Delta W_1^\top", "2ΔW₁ᵀ"),
        "Y": Gradient("Y", r"-2R", "−2R"),
        "W1": Gradient("W1", r"2\,X^\top \Delta", "2XᵀΔ"),
        "W2": Gradient("W2", rf"2\,{A_latex}^\top R", f"2{A_text}ᵀR"),
        "b2": Gradient("b2", r"2R", "2R", r"2\,\mathbf{1}_n^\top R", "2·1ₙᵀR"),
    }


_NET_SIZES: tuple[Mapping[str, int], ...] = (
    {"n": 1, "d": 1, "h": 1, "o": 1},
    {"n": 4, "d": 3, "h": 5, "o": 2},
    {"n": 2, "d": 3, "h": 2, "o": 3},
)

OBJECTIVES: tuple[Objective, ...] = (
    Objective(
        id="affine",
        module=affine,
        options={},
        title="squared norm of an affine map",
        value_latex=r"f(X, W, b) = \lVert XW + b \rVert_F^2",
        value_text="f = ‖XW + b‖²_F",
        where_latex=r"R = XW + b",
        where_text="R = XW + b",
        gradients={
            "X": Gradient("X", r"2(XW + b)W^\top", "2(XW + b)Wᵀ"),
            "W": Gradient("W", r"2X^\top(XW + b)", "2Xᵀ(XW + b)"),
            "b": Gradient("b", r"2(XW + b)", "2(XW + b)", r"2\,\mathbf{1}_n^\top(XW + b)", "2·1ₙᵀ(XW + b)"),
        },
        derivation="derivations/affine.md",
        sample_sizes=({"n": 1, "k": 1, "m": 1}, {"n": 5, "k": 3, "m": 2}, {"n": 2, "k": 4, "m": 3}),
    ),
    Objective(
        id="sigmoid_net.pre",
        module=sigmoid_net,
        options={"bias": "pre"},
        title="two-layer sigmoid network, bias inside σ (the seed's formula)",
        value_latex=r"f = \lVert Y - (\sigma(XW_1 + b_1)W_2 + b_2) \rVert_F^2",
        value_text="f = ‖Y − (σ(XW₁ + b₁)W₂ + b₂)‖²_F",
        where_latex=_NET_WHERE_PRE_LATEX,
        where_text="S = σ(XW₁ + b₁), R = SW₂ + b₂ − Y, Δ = (RW₂ᵀ) ⊙ S ⊙ (1 − S)",
        gradients={
            **_shared_net_gradients("S", "S"),
            "b1": Gradient("b1", r"2\,\Delta", "2Δ", r"2\,\mathbf{1}_n^\top \Delta", "2·1ₙᵀΔ"),
        },
        derivation="derivations/sigmoid_net.md",
        sample_sizes=_NET_SIZES,
    ),
    Objective(
        id="sigmoid_net.post",
        module=sigmoid_net,
        options={"bias": "post"},
        title="two-layer sigmoid network, bias after σ (the seed's code)",
        value_latex=r"f = \lVert Y - ((\sigma(XW_1) + b_1)W_2 + b_2) \rVert_F^2",
        value_text="f = ‖Y − ((σ(XW₁) + b₁)W₂ + b₂)‖²_F",
        where_latex=_NET_WHERE_POST_LATEX,
        where_text="S = σ(XW₁), A = S + b₁, R = AW₂ + b₂ − Y, Δ = (RW₂ᵀ) ⊙ S ⊙ (1 − S)",
        gradients={
            **_shared_net_gradients("A", "A"),
            "b1": Gradient("b1", r"2RW_2^\top", "2RW₂ᵀ", r"2\,\mathbf{1}_n^\top R W_2^\top", "2·1ₙᵀRW₂ᵀ"),
        },
        derivation="derivations/sigmoid_net.md",
        sample_sizes=_NET_SIZES,
    ),
)

_BY_ID: dict[str, Objective] = {o.id: o for o in OBJECTIVES}


def get_objective(objective_id: str) -> Objective:
    """The registry entry with this id ('affine', 'sigmoid_net.pre', 'sigmoid_net.post')."""
    try:
        return _BY_ID[objective_id]
    except KeyError:
        raise KeyError(f"no objective {objective_id!r}; the registry has {list(_BY_ID)}") from None


def objectives_named(name: str) -> tuple[Objective, ...]:
    """Entries whose id is ``name`` or starts with ``name.`` (e.g. both 'sigmoid_net' placements)."""
    found = tuple(o for o in OBJECTIVES if o.id == name or o.id.startswith(name + "."))
    if not found:
        raise KeyError(f"no objective {name!r}; the registry has {list(_BY_ID)}")
    return found
