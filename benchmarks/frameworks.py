"""torch eager autograd and jax.jit(value_and_grad) on the same objectives, when installed.

Each objective is written once against the operators torch tensors and jax arrays share
(``@``, ``+``, ``**``, ``.sum()``), keyed by registry id; an objective without one here
is timed for matgrad only.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping
from typing import Any

from cases import Case

Runner = Callable[[], tuple[Any, dict[str, Any]]]


def _affine(a: Mapping[str, Any], sigmoid: Callable[[Any], Any]) -> Any:
    return ((a["X"] @ a["W"] + a["b"]) ** 2).sum()


def _net_pre(a: Mapping[str, Any], sigmoid: Callable[[Any], Any]) -> Any:
    return ((a["Y"] - (sigmoid(a["X"] @ a["W1"] + a["b1"]) @ a["W2"] + a["b2"])) ** 2).sum()


def _net_post(a: Mapping[str, Any], sigmoid: Callable[[Any], Any]) -> Any:
    return ((a["Y"] - ((sigmoid(a["X"] @ a["W1"]) + a["b1"]) @ a["W2"] + a["b2"])) ** 2).sum()


REFERENCE: dict[str, Callable[[Mapping[str, Any], Callable[[Any], Any]], Any]] = {
    "affine": _affine,
    "sigmoid_net.pre": _net_pre,
    "sigmoid_net.post": _net_post,
}


def available() -> dict[str, bool]:
    return {name: importlib.util.find_spec(name) is not None for name in ("torch", "jax")}


def versions() -> dict[str, str]:
    """Version and threading of each installed framework."""
    found = {}
    if available()["torch"]:
        import torch

        found["torch"] = f"{torch.__version__}, {torch.get_num_threads()} threads"
    if available()["jax"]:
        import jax

        found["jax"] = f"{jax.__version__}, devices {[str(d) for d in jax.devices()]}"
    return found


def torch_runner(case: Case, wrt: tuple[str, ...] | None) -> Runner | None:
    """Eager autograd: build the graph, then torch.autograd.grad for the arguments in ``wrt``."""
    if not available()["torch"] or case.objective.id not in REFERENCE:
        return None
    import torch

    objective = REFERENCE[case.objective.id]
    names = wrt or case.objective.arguments
    tensors = {name: torch.from_numpy(array) for name, array in case.arrays.items()}

    def run() -> tuple[Any, dict[str, Any]]:
        leaves = {name: t.detach().requires_grad_(name in names) for name, t in tensors.items()}
        value = objective(leaves, torch.sigmoid)
        grads = torch.autograd.grad(value, [leaves[name] for name in names])
        return value.detach().numpy(), {name: g.numpy() for name, g in zip(names, grads, strict=True)}

    return run


def jax_runner(case: Case, wrt: tuple[str, ...] | None) -> Runner | None:
    """jax.jit(jax.value_and_grad) over the arguments in ``wrt``, compiled before timing."""
    if not available()["jax"] or case.objective.id not in REFERENCE:
        return None
    import jax

    jax.config.update("jax_enable_x64", True)  # float64 cases must run in float64
    objective = REFERENCE[case.objective.id]
    arguments = case.objective.arguments
    names = wrt or arguments

    def value(*args: Any) -> Any:
        return objective(dict(zip(arguments, args, strict=True)), jax.nn.sigmoid)

    compiled = jax.jit(jax.value_and_grad(value, argnums=tuple(arguments.index(n) for n in names)))
    inputs = [jax.device_put(case.arrays[name]) for name in arguments]

    def run() -> tuple[Any, dict[str, Any]]:
        result, grads = jax.block_until_ready(compiled(*inputs))
        return result, dict(zip(names, grads, strict=True))

    return run
