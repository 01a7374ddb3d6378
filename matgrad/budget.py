"""Run a computation within a time and memory budget, in a child process that can be stopped.

A checker runs code it does not control (a user's candidate gradient) and sympy work
whose cost it cannot bound in advance. Neither can be interrupted safely inside the
calling process, so :func:`run_within_budget` runs the whole computation in a forked
child: on time-out the child is killed; its address space is capped with
``RLIMIT_AS`` so a runaway allocation ends in :class:`MemoryError` there, not here.
The result comes back pickled. Nothing the child does (writing into its inputs, for
instance) can reach the caller's objects.

Where ``fork`` is unavailable (Windows, or a platform without it) the computation runs
inline and the budget cannot be enforced; :data:`ENFORCED` says which.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

ENFORCED = "fork" in multiprocessing.get_all_start_methods()


class BudgetExceeded(Exception):
    """The computation did not finish within its budget: ``resource`` is "time", "memory" or "exit"."""

    def __init__(self, resource: str, message: str) -> None:
        super().__init__(message)
        self.resource = resource


def _address_space_bytes() -> int:
    """The process's current virtual size, the base to which the memory budget is added."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def _die_with_parent(parent: int) -> None:
    """Ask Linux to kill this process when its parent dies, so a killed budget leaves no orphans.

    A budgeted computation may itself run budgeted ones (a proof inside a derivation):
    when the outer child is killed on time-out, its own children must end too.
    """
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the parent's kill reaches this process only
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def _child(function: Callable[[], Any], writer: Any, memory: int | None, parent: int) -> None:
    _die_with_parent(parent)
    if memory is not None:
        import resource

        base = _address_space_bytes()
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        if base:  # nested budgets: never above the limit an enclosing budget set
            limit = base + memory if hard == resource.RLIM_INFINITY else min(base + memory, hard)
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        outcome: tuple[str, Any] = ("ok", function())
    except MemoryError:
        outcome = ("memory", None)
    except Exception as error:
        outcome = ("error", error)
    except BaseException as error:  # SystemExit, KeyboardInterrupt: must not end the caller
        outcome = ("error", RuntimeError(f"{type(error).__name__}: {error}"))
    try:
        writer.send(outcome)
    except Exception as error:  # an unpicklable result or exception
        writer.send(("error", RuntimeError(f"{type(error).__name__}: {error}")))
    writer.close()


def run_within_budget(function: Callable[[], T], *, seconds: float | None, memory: int | None = None) -> T:
    """``function()``, or :class:`BudgetExceeded` if it needs more than ``seconds`` or ``memory`` bytes.

    Exceptions raised by ``function`` are re-raised here (pickled across the process
    boundary). ``seconds=None`` and ``memory=None`` run it inline, unbounded.

    Examples
    --------
    >>> run_within_budget(lambda: 6 * 7, seconds=10)
    42
    >>> import time
    >>> try:
    ...     run_within_budget(lambda: time.sleep(5), seconds=0.5)
    ... except BudgetExceeded as error:
    ...     print(error.resource)
    time
    """
    if (seconds is None and memory is None) or not ENFORCED:
        return function()
    context = multiprocessing.get_context("fork")
    reader, writer = context.Pipe(duplex=False)
    # Not daemonic: it may run budgeted computations of its own.
    process = context.Process(target=_child, args=(function, writer, memory, os.getpid()))
    process.start()
    writer.close()
    try:
        if not reader.poll(seconds):
            raise BudgetExceeded("time", f"did not finish within {seconds:.3g} s")
        try:
            status, payload = reader.recv()
        except EOFError:
            process.join()
            raise BudgetExceeded(
                "exit", f"the computation's process ended without an answer (exit code {process.exitcode})"
            ) from None
    finally:
        if process.is_alive():
            process.kill()
        process.join()
        reader.close()
    if status == "memory":
        raise BudgetExceeded(
            "memory", f"needed more than {memory / 2**20:.0f} MiB" if memory else "out of memory"
        )
    if status == "error":
        raise payload
    result: T = payload
    return result
