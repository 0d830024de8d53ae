"""Ctrl-C (SIGINT) and SIGTERM caught into a flag, for work that must end cleanly (the
training loop stops after its step, a run being written is finished first), or turned into
an interruption, for work that must clean up on its way out (grading kills its children)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: The signals that ask a run to stop: Ctrl-C, and the polite kill.
STOPPING = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def caught() -> Iterator[dict[str, bool]]:
    """While inside, SIGINT and SIGTERM set ``flag["set"]`` instead of interrupting; the
    previous handlers come back after. Outside the main thread (where handlers cannot be
    set) the flag never sets."""
    flag = {"set": False}
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum: int, frame: object) -> None:
        flag["set"] = True

    previous = {s: signal.signal(s, handler) for s in STOPPING}
    try:
        yield flag
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


@contextmanager
def interrupting() -> Iterator[None]:
    """While inside, SIGTERM interrupts as Ctrl-C does (``KeyboardInterrupt``), so that the
    ``finally`` clauses and handlers on the way out run. Outside the main thread, nothing
    changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
