"""Ctrl-C (SIGINT) and SIGTERM caught into a flag, for work that must end cleanly: the
training loop stops after its step, a run being written is finished first."""

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
