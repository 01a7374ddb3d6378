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
class SecondOrder:
    """The closed forms of the second derivative along a direction V: ∇²f·V and 2JᵀJ·V.

    ``tangent_latex``/``tangent_text`` define the dotted quantities (Ṙ, Δ̇, ...): each is
    the tangent of the undotted one along V. ``hvp`` and ``gauss_newton`` hold, per
    argument, the block of the product for that argument (a :class:`Gradient` each).
    """

    tangent_latex: str
    tangent_text: str
    hvp: Mapping[str, Gradient]
    gauss_newton: Mapping[str, Gradient]
    gauss_newton_where_latex: str = ""
    gauss_newton_where_text: str = ""


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
    second_order: SecondOrder
    second_order_derivation: str
    sample_sizes: tuple[Mapping[str, int], ...] = field(default=())
    # A second-order proof grows with the square of the number of entries: smaller shapes.
    second_order_sizes: tuple[Mapping[str, int], ...] = field(default=())

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

    def evaluate_second_order(
        self,
        arrays: Mapping[str, Array],
        direction: Mapping[str, Array],
        wrt: Wrt = None,
        *,
        gauss_newton: bool = False,
        rules: ModuleType | None = None,
    ) -> dict[str, Array | None]:
        """Run the objective's unchecked second-order core: ∇²f·V (or 2JᵀJ·V) for ``wrt``.

        ``wrt`` defaults to the direction's names; a None block is zero. Also runs on object
        arrays of sympy symbols, which is how ``matgrad.symbolic`` proves it.
        """
        chosen = {} if rules is None else {"vjp": rules}
        names = tuple(direction) if wrt is None else resolve_wrt(wrt, self.arguments)
        return self.module.evaluate_second_order(  # type: ignore[no-any-return]
            arrays, direction, names, gauss_newton=gauss_newton, **chosen, **self.options
        )

    def residual(self, arrays: Mapping[str, Array], *, rules: ModuleType | None = None) -> Array:
        """The residual R with f = ‖R‖²_F, from the module's own forward pass (unchecked, runs on symbols)."""
        chosen = {} if rules is None else {"vjp": rules}
        return self.module.residual(arrays, **chosen, **self.options)  # type: ignore[no-any-return]

    def hvp(
        self, arrays: Mapping[str, Any], direction: Mapping[str, Any], wrt: Wrt = None
    ) -> dict[str, Array]:
        """The public, input-checking ``hvp`` of the module, with this entry's options."""
        return self.module.hvp(  # type: ignore[no-any-return]
            **arrays, direction=direction, wrt=wrt, **self.options
        )

    def gauss_newton_product(
        self, arrays: Mapping[str, Any], direction: Mapping[str, Any], wrt: Wrt = None
    ) -> dict[str, Array]:
        """The public ``gauss_newton_product`` of the module, with this entry's options."""
        return self.module.gauss_newton_product(  # type: ignore[no-any-return]
            **arrays, direction=direction, wrt=wrt, **self.options
        )

    def hessian(self, arrays: Mapping[str, Any], wrt: str | tuple[str, str]) -> Array:
        """The public, dense ``hessian`` of the module, with this entry's options."""
        return self.module.hessian(**arrays, wrt=wrt, **self.options)  # type: ignore[no-any-return]

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


def _net_second_order(post: bool) -> SecondOrder:
    """∇²f·V and 2JᵀJ·V of the network; ``post``: bias after σ (A = S + b₁)."""
    A, A_text = (r"A", "A") if post else (r"S", "S")
    if post:
        tangent_latex = (
            r"\dot H = \dot X W_1 + X \dot W_1,\quad \dot S = S \odot (1 - S) \odot \dot H,\quad "
            r"\dot A = \dot S + \dot b_1,\quad \dot R = \dot A W_2 + A \dot W_2 + \dot b_2 - \dot Y,\quad "
        )
        tangent_text = "Ḣ = ẊW₁ + XẆ₁, Ṡ = S ⊙ (1 − S) ⊙ Ḣ, Ȧ = Ṡ + ḃ₁, Ṙ = ȦW₂ + AẆ₂ + ḃ₂ − Ẏ, "
    else:
        tangent_latex = (
            r"\dot H = \dot X W_1 + X \dot W_1 + \dot b_1,\quad \dot S = S \odot (1 - S) \odot \dot H,\quad "
            r"\dot R = \dot S W_2 + S \dot W_2 + \dot b_2 - \dot Y,\quad "
        )
        tangent_text = "Ḣ = ẊW₁ + XẆ₁ + ḃ₁, Ṡ = S ⊙ (1 − S) ⊙ Ḣ, Ṙ = ṠW₂ + SẆ₂ + ḃ₂ − Ẏ, "
    tangent_latex += (
        r"\dot\Delta = (\dot R W_2^\top + R \dot W_2^\top) \odot S \odot (1 - S) "
        r"+ (R W_2^\top) \odot \dot S \odot (1 - 2S)"
    )
    tangent_text += "Δ̇ = (ṘW₂ᵀ + RẆ₂ᵀ) ⊙ S ⊙ (1 − S) + (RW₂ᵀ) ⊙ Ṡ ⊙ (1 − 2S)"
    dot_A = r"\dot A" if post else r"\dot S"
    dot_A_text = "Ȧ" if post else "Ṡ"
    hvp = {
        "X": Gradient("X", r"2\,\dot\Delta W_1^\top + 2\,\Delta \dot W_1^\top", "2Δ̇W₁ᵀ + 2ΔẆ₁ᵀ"),
        "Y": Gradient("Y", r"-2\dot R", "−2Ṙ"),
        "W1": Gradient("W1", r"2\,\dot X^\top \Delta + 2\,X^\top \dot\Delta", "2ẊᵀΔ + 2XᵀΔ̇"),
        "W2": Gradient("W2", rf"2\,{dot_A}^\top R + 2\,{A}^\top \dot R", f"2{dot_A_text}ᵀR + 2{A_text}ᵀṘ"),
        "b2": Gradient("b2", r"2\dot R", "2Ṙ", r"2\,\mathbf{1}_n^\top \dot R", "2·1ₙᵀṘ"),
        "b1": (
            Gradient(
                "b1",
                r"2\dot R W_2^\top + 2R \dot W_2^\top",
                "2ṘW₂ᵀ + 2RẆ₂ᵀ",
                r"2\,\mathbf{1}_n^\top (\dot R W_2^\top + R \dot W_2^\top)",
                "2·1ₙᵀ(ṘW₂ᵀ + RẆ₂ᵀ)",
            )
            if post
            else Gradient("b1", r"2\dot\Delta", "2Δ̇", r"2\,\mathbf{1}_n^\top \dot\Delta", "2·1ₙᵀΔ̇")
        ),
    }
    gauss_newton = {
        "X": Gradient("X", r"2\,\dot\Delta_J W_1^\top", "2Δ̇_J W₁ᵀ"),
        "Y": Gradient("Y", r"-2\dot R", "−2Ṙ"),
        "W1": Gradient("W1", r"2\,X^\top \dot\Delta_J", "2XᵀΔ̇_J"),
        "W2": Gradient("W2", rf"2\,{A}^\top \dot R", f"2{A_text}ᵀṘ"),
        "b2": Gradient("b2", r"2\dot R", "2Ṙ", r"2\,\mathbf{1}_n^\top \dot R", "2·1ₙᵀṘ"),
        "b1": (
            Gradient("b1", r"2\dot R W_2^\top", "2ṘW₂ᵀ", r"2\,\mathbf{1}_n^\top \dot R W_2^\top", "2·1ₙᵀṘW₂ᵀ")
            if post
            else Gradient("b1", r"2\dot\Delta_J", "2Δ̇_J", r"2\,\mathbf{1}_n^\top \dot\Delta_J", "2·1ₙᵀΔ̇_J")
        ),
    }
    return SecondOrder(
        tangent_latex=tangent_latex,
        tangent_text=tangent_text,
        hvp=hvp,
        gauss_newton=gauss_newton,
        gauss_newton_where_latex=r"\dot\Delta_J = (\dot R W_2^\top) \odot S \odot (1 - S)",
        gauss_newton_where_text="Δ̇_J = (ṘW₂ᵀ) ⊙ S ⊙ (1 − S)",
    )


_AFFINE_SECOND_ORDER = SecondOrder(
    tangent_latex=r"\dot R = \dot X W + X \dot W + \dot b",
    tangent_text="Ṙ = ẊW + XẆ + ḃ",
    hvp={
        "X": Gradient("X", r"2\dot R W^\top + 2R \dot W^\top", "2ṘWᵀ + 2RẆᵀ"),
        "W": Gradient("W", r"2\dot X^\top R + 2X^\top \dot R", "2ẊᵀR + 2XᵀṘ"),
        "b": Gradient("b", r"2\dot R", "2Ṙ", r"2\,\mathbf{1}_n^\top \dot R", "2·1ₙᵀṘ"),
    },
    gauss_newton={
        "X": Gradient("X", r"2\dot R W^\top", "2ṘWᵀ"),
        "W": Gradient("W", r"2X^\top \dot R", "2XᵀṘ"),
        "b": Gradient("b", r"2\dot R", "2Ṙ", r"2\,\mathbf{1}_n^\top \dot R", "2·1ₙᵀṘ"),
    },
)

_NET_SIZES: tuple[Mapping[str, int], ...] = (
    {"n": 1, "d": 1, "h": 1, "o": 1},
    {"n": 4, "d": 3, "h": 5, "o": 2},
    {"n": 2, "d": 3, "h": 2, "o": 3},
)
# n, d, h distinct in one, h and o in the other: a transposed step cannot run by coincidence of shapes.
_NET_SECOND_ORDER_SIZES: tuple[Mapping[str, int], ...] = (
    {"n": 1, "d": 1, "h": 1, "o": 1},
    {"n": 2, "d": 3, "h": 2, "o": 3},
    {"n": 3, "d": 2, "h": 4, "o": 1},
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
        second_order=_AFFINE_SECOND_ORDER,
        second_order_derivation="derivations/second_order.md#affine",
        sample_sizes=({"n": 1, "k": 1, "m": 1}, {"n": 5, "k": 3, "m": 2}, {"n": 2, "k": 4, "m": 3}),
        second_order_sizes=({"n": 1, "k": 1, "m": 1}, {"n": 5, "k": 3, "m": 2}, {"n": 2, "k": 4, "m": 3}),
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
        second_order=_net_second_order(post=False),
        second_order_derivation="derivations/second_order.md#sigmoid-net-bias-pre",
        sample_sizes=_NET_SIZES,
        second_order_sizes=_NET_SECOND_ORDER_SIZES,
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
        second_order=_net_second_order(post=True),
        second_order_derivation="derivations/second_order.md#sigmoid-net-bias-post",
        sample_sizes=_NET_SIZES,
        second_order_sizes=_NET_SECOND_ORDER_SIZES,
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
