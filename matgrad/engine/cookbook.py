"""Identities of the Matrix Cookbook, each reproduced by the engine, proven, and held in step.

K. B. Petersen and M. S. Pedersen, *The Matrix Cookbook*, version of November 15, 2012;
equation numbers are that edition's. Each entry is the Cookbook's left-hand side written
in the engine's language, the Cookbook's right-hand side as printed there, and the
engine's own answer as it prints it (a test derives and proves every entry and compares
the text). Where the Cookbook writes a power Xᵏ the entry takes k = 2 or 3. Sizes are
symbols except where the identity needs more rows than columns (a 3×2 X, so that XᵀAX
is invertible). The Cookbook's structured-matrix section gives ∂f/∂A + (∂f/∂A)ᵀ − diag(∂f/∂A)
for a symmetric A; the engine's convention differs on purpose, see
``derivations/symmetric.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from matgrad.engine.catalogue import Example


@dataclass(frozen=True, eq=False)
class Entry:
    """One Cookbook identity: (equation), f, its shapes, the argument, the Cookbook's and the engine's ∂f."""

    equation: str
    expression: str
    shapes: Mapping[str, str]
    wrt: str
    cookbook: str
    engine: str


COOKBOOK: tuple[Entry, ...] = (
    Entry("49", "det(X)", {"X": "n,n"}, "X", "det(X)(X⁻¹)ᵀ", "det(X)·X⁻ᵀ"),
    Entry(
        "51", "det(A @ X @ B)", {"A": "n,n", "X": "n,n", "B": "n,n"}, "X", "det(AXB)(X⁻¹)ᵀ", "det(AXB)·X⁻ᵀ"
    ),
    Entry("52", "det(X.T @ A @ X)", {"X": "n,n", "A": "n,n"}, "X", "2det(XᵀAX)(X⁻¹)ᵀ", "2det(XᵀAX)·X⁻ᵀ"),
    Entry(
        "53",
        "det(X.T @ A @ X)",
        {"X": "3,2", "A": "3,3:symmetric"},
        "X",
        "2det(XᵀAX)AX(XᵀAX)⁻¹",
        "2det(XᵀAX)·AX(XᵀAX)⁻¹",
    ),
    Entry(
        "54",
        "det(X.T @ A @ X)",
        {"X": "3,2", "A": "3,3"},
        "X",
        "det(XᵀAX)(AX(XᵀAX)⁻¹ + AᵀX(XᵀAᵀX)⁻¹)",
        "det(XᵀAX)·AᵀX(XᵀAX)⁻ᵀ + det(XᵀAX)·AX(XᵀAX)⁻¹",
    ),
    Entry("57", "logdet(X)", {"X": "n,n"}, "X", "(X⁻¹)ᵀ", "X⁻ᵀ"),
    Entry("58", "det(X @ X)", {"X": "n,n"}, "X", "k det(Xᵏ)X⁻ᵀ, k = 2", "2det(XX)·X⁻ᵀ"),
    Entry("61", "a @ inv(X) @ b", {"a": "n", "X": "n,n", "b": "n"}, "X", "−X⁻ᵀabᵀX⁻ᵀ", "−X⁻ᵀabᵀX⁻ᵀ"),
    Entry("62", "det(inv(X))", {"X": "n,n"}, "X", "−det(X⁻¹)(X⁻¹)ᵀ", "−det(X⁻¹)·X⁻ᵀ"),
    Entry(
        "63",
        "trace(A @ inv(X) @ B)",
        {"A": "n,n", "X": "n,n", "B": "n,n"},
        "X",
        "−(X⁻¹BAX⁻¹)ᵀ",
        "−X⁻ᵀAᵀBᵀX⁻ᵀ",
    ),
    Entry(
        "64",
        "trace(inv(X + A))",
        {"X": "n,n", "A": "n,n"},
        "X",
        "−((X + A)⁻¹(X + A)⁻¹)ᵀ",
        "−(X + A)⁻ᵀ(X + A)⁻ᵀ",
    ),
    Entry("69", "x @ a", {"x": "n", "a": "n"}, "x", "a", "a"),
    Entry("70", "a @ X @ b", {"a": "n", "X": "n,m", "b": "m"}, "X", "abᵀ", "abᵀ"),
    Entry("71", "a @ X.T @ b", {"a": "m", "X": "n,m", "b": "n"}, "X", "baᵀ", "baᵀ"),
    Entry("72", "a @ X @ a", {"a": "n", "X": "n,n"}, "X", "aaᵀ", "aaᵀ"),
    Entry("77", "b @ X.T @ X @ c", {"b": "k", "X": "n,k", "c": "k"}, "X", "X(bcᵀ + cbᵀ)", "X(bcᵀ + cbᵀ)"),
    Entry(
        "78",
        "(B @ x + b) @ C @ (D @ x + d)",
        {"B": "m,n", "x": "n", "b": "m", "C": "m,p", "D": "p,n", "d": "p"},
        "x",
        "BᵀC(Dx + d) + DᵀCᵀ(Bx + b)",
        "DᵀCᵀ(Bx + b) + BᵀC(Dx + d)",
    ),
    Entry("81", "x @ B @ x", {"x": "n", "B": "n,n"}, "x", "(B + Bᵀ)x", "(B + Bᵀ)x"),
    Entry(
        "82",
        "b @ X.T @ D @ X @ c",
        {"b": "k", "X": "n,k", "D": "n,n", "c": "k"},
        "X",
        "DᵀXbcᵀ + DXcbᵀ",
        "DᵀXbcᵀ + DXcbᵀ",
    ),
    Entry(
        "83",
        "(X @ b + c) @ D @ (X @ b + c)",
        {"X": "n,k", "b": "k", "c": "n", "D": "n,n"},
        "X",
        "(D + Dᵀ)(Xb + c)bᵀ",
        "(D + Dᵀ)(Xb + c)bᵀ",
    ),
    Entry(
        "84",
        "(x - A @ s) @ W @ (x - A @ s)",
        {"x": "n", "A": "n,k", "s": "k", "W": "n,n:symmetric"},
        "s",
        "−2AᵀW(x − As)",
        "−2AᵀW(x − As)",
    ),
    Entry(
        "85",
        "(x - s) @ W @ (x - s)",
        {"x": "n", "s": "n", "W": "n,n:symmetric"},
        "x",
        "2W(x − s)",
        "2W(x − s)",
    ),
    Entry(
        "86",
        "(x - s) @ W @ (x - s)",
        {"x": "n", "s": "n", "W": "n,n:symmetric"},
        "s",
        "−2W(x − s)",
        "−2W(x − s)",
    ),
    Entry(
        "87",
        "(x - A @ s) @ W @ (x - A @ s)",
        {"x": "n", "A": "n,k", "s": "k", "W": "n,n:symmetric"},
        "x",
        "2W(x − As)",
        "2W(x − As)",
    ),
    Entry(
        "88",
        "(x - A @ s) @ W @ (x - A @ s)",
        {"x": "n", "A": "n,k", "s": "k", "W": "n,n:symmetric"},
        "A",
        "−2W(x − As)sᵀ",
        "−2W(x − As)sᵀ",
    ),
    Entry(
        "90",
        "a @ X @ X @ b",
        {"a": "n", "X": "n,n", "b": "n"},
        "X",
        "Σᵣ (Xʳ)ᵀabᵀ(Xⁿ⁻¹⁻ʳ)ᵀ, n = 2",
        "abᵀXᵀ + Xᵀabᵀ",
    ),
    Entry("99", "trace(X)", {"X": "n,n"}, "X", "I", "Iₙ"),
    Entry("100", "trace(X @ A)", {"X": "n,m", "A": "m,n"}, "X", "Aᵀ", "Aᵀ"),
    Entry("101", "trace(A @ X @ B)", {"A": "p,n", "X": "n,m", "B": "m,p"}, "X", "AᵀBᵀ", "AᵀBᵀ"),
    Entry("102", "trace(A @ X.T @ B)", {"A": "p,m", "X": "n,m", "B": "n,p"}, "X", "BA", "BA"),
    Entry("103", "trace(X.T @ A)", {"X": "n,m", "A": "n,m"}, "X", "A", "A"),
    Entry("104", "trace(A @ X.T)", {"A": "n,m", "X": "n,m"}, "X", "A", "A"),
    Entry("106", "trace(X @ X)", {"X": "n,n"}, "X", "2Xᵀ", "2Xᵀ"),
    Entry("107", "trace(X @ X @ B)", {"X": "n,n", "B": "n,n"}, "X", "(XB + BX)ᵀ", "BᵀXᵀ + XᵀBᵀ"),
    Entry("108", "trace(X.T @ B @ X)", {"X": "n,m", "B": "n,n"}, "X", "BX + BᵀX", "(Bᵀ + B)X"),
    Entry("109", "trace(B @ X @ X.T)", {"X": "n,m", "B": "n,n"}, "X", "BX + BᵀX", "(Bᵀ + B)X"),
    Entry("110", "trace(X @ X.T @ B)", {"X": "n,m", "B": "n,n"}, "X", "BX + BᵀX", "(Bᵀ + B)X"),
    Entry("111", "trace(X @ B @ X.T)", {"X": "n,m", "B": "m,m"}, "X", "XBᵀ + XB", "X(Bᵀ + B)"),
    Entry("112", "trace(B @ X.T @ X)", {"X": "n,m", "B": "m,m"}, "X", "XBᵀ + XB", "X(Bᵀ + B)"),
    Entry("113", "trace(X.T @ X @ B)", {"X": "n,m", "B": "m,m"}, "X", "XBᵀ + XB", "X(Bᵀ + B)"),
    Entry(
        "114",
        "trace(A @ X @ B @ X)",
        {"A": "m,n", "X": "n,m", "B": "m,n"},
        "X",
        "AᵀXᵀBᵀ + BᵀXᵀAᵀ",
        "AᵀXᵀBᵀ + BᵀXᵀAᵀ",
    ),
    Entry("115", "trace(X.T @ X)", {"X": "n,m"}, "X", "2X", "2X"),
    Entry(
        "116",
        "trace(B.T @ X.T @ C @ X @ B)",
        {"B": "m,p", "X": "n,m", "C": "n,n"},
        "X",
        "CᵀXBBᵀ + CXBBᵀ",
        "(Cᵀ + C)XBBᵀ",
    ),
    Entry(
        "117",
        "trace(X.T @ B @ X @ C)",
        {"X": "n,m", "B": "n,n", "C": "m,m"},
        "X",
        "BXC + BᵀXCᵀ",
        "BᵀXCᵀ + BXC",
    ),
    Entry(
        "118",
        "trace(A @ X @ B @ X.T @ C)",
        {"A": "p,n", "X": "n,m", "B": "m,m", "C": "n,p"},
        "X",
        "AᵀCᵀXBᵀ + CAXB",
        "AᵀCᵀXBᵀ + CAXB",
    ),
    Entry(
        "119",
        "trace((A @ X @ B + C) @ (A @ X @ B + C).T)",
        {"A": "p,n", "X": "n,m", "B": "m,q", "C": "p,q"},
        "X",
        "2Aᵀ(AXB + C)Bᵀ",
        "2AᵀHBᵀ",
    ),
    Entry("120", "trace(X) * trace(X)", {"X": "n,n"}, "X", "2tr(X)I", "2tr(X)·Iₙ"),
    Entry("121", "trace(X @ X @ X)", {"X": "n,n"}, "X", "k(Xᵏ⁻¹)ᵀ, k = 3", "3XᵀXᵀ"),
    Entry(
        "124",
        "trace(A @ inv(X) @ B)",
        {"A": "n,n", "X": "n,n", "B": "n,n"},
        "X",
        "−X⁻ᵀAᵀBᵀX⁻ᵀ",
        "−X⁻ᵀAᵀBᵀX⁻ᵀ",
    ),
    Entry(
        "125",
        "trace(inv(X.T @ C @ X) @ A)",
        {"X": "3,2", "C": "3,3:symmetric", "A": "2,2"},
        "X",
        "−(CX(XᵀCX)⁻¹)(A + Aᵀ)(XᵀCX)⁻¹",
        "−CX(XᵀCX)⁻¹(Aᵀ + A)(XᵀCX)⁻¹",
    ),
    Entry("129", "norm(x - a)", {"x": "n", "a": "n"}, "x", "(x − a)/‖x − a‖₂", "(x − a) / ‖x − a‖₂"),
    Entry("131", "sqnorm(x)", {"x": "n"}, "x", "2x", "2x"),
    Entry("132", "sqnorm(X)", {"X": "n,m"}, "X", "2X", "2X"),
)


@cache
def cookbook_examples() -> dict[Entry, Example]:
    """Each identity as a catalogue example (derived and proven with the others), made once."""
    return {e: Example(f"Cookbook ({e.equation})", e.expression, e.shapes, (e.wrt,)) for e in COOKBOOK}
