"""Run a function in a child process with an address-space limit and a hang guard.

Hostile inputs (decompression bombs, huge contingency tables) are tried this way, so a regression
ends the child (MemoryError, or killed after the guard) instead of the test session or the machine.
Tests assert what the child returns (a refusal, a fallback, a work counter), never how long it took.
"""
from __future__ import annotations

import multiprocessing as mp
import resource
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ADDRESS_SPACE = 1536 * 2**20  # 1.5 GiB
HANG_GUARD_SECONDS = 60


def _reserved_address_space() -> int:
    """Address space this process has reserved already (VmSize). pyarrow's allocator (mimalloc) reserves
    about 1 GiB on first use; a forked child inherits the reservation without using it."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


@dataclass(frozen=True)
class ChildOutcome:
    value: Any = None
    error: str | None = None  # "ExceptionType: message" raised in the child
    error_type: str | None = None
    hung: bool = False
    exitcode: int | None = None


def _child(queue, address_space: int, function: Callable, args: tuple, kwargs: dict) -> None:
    limit = _reserved_address_space() + address_space  # room to grow, over what the fork inherited
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        queue.put(ChildOutcome(value=function(*args, **kwargs)))
    except BaseException as exc:  # reported to the parent, which decides
        queue.put(ChildOutcome(error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}",
                               error_type=type(exc).__name__))


def run_bounded(function: Callable, *args, address_space: int = ADDRESS_SPACE,
                hang_guard: float = HANG_GUARD_SECONDS, **kwargs) -> ChildOutcome:
    """``function(*args, **kwargs)`` in a forked child whose address space may grow by ``address_space``
    (``RLIMIT_AS`` = what it inherits + ``address_space``).

    The function and its result must be picklable (a module-level function; results as plain data).
    """
    context = mp.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_child, args=(queue, address_space, function, args, kwargs))
    child.start()
    try:
        outcome = queue.get(timeout=hang_guard)
    except Exception:  # queue.Empty: the child hung, or died without reporting
        outcome = None
    hung = outcome is None and child.is_alive()
    child.join(timeout=5)
    if child.is_alive():
        child.kill()
        child.join()
    return outcome or ChildOutcome(hung=hung, exitcode=child.exitcode)
