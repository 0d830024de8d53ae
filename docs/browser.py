"""Open a page in headless Chromium with the network off, for its DOM or a screenshot: what
the report's browser test checks, and what took the README's screenshot of it."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

#: As the machine's own browser check starts it: no first-run, no background connections.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars"]


def chromium() -> str | None:
    """The browser's path, or None where none is installed (Debian's package: chromium)."""
    return next(filter(None, map(shutil.which, ("chromium", "chromium-browser"))), None)


def offline() -> list[str]:
    """The command prefix that runs a program in a network namespace of its own: it has no
    network at all (a user namespace too where we are not root)."""
    return ["unshare", "-n"] if os.geteuid() == 0 else ["unshare", "-rn"]


def open_page(page: Path, *, screenshot: Path | None = None, width: int = 420,
              height: int = 2400) -> str:
    """The DOM of ``page`` after the browser rendered it, offline; with ``screenshot``, a
    PNG of its first ``height`` pixels at a phone's ``width`` too."""
    browser = chromium()
    if browser is None:
        raise FileNotFoundError("no chromium on this machine (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as profile:
        argv = [*offline(), browser, *FLAGS, f"--user-data-dir={profile}",
                f"--window-size={width},{height}"]
        if screenshot is not None:
            subprocess.run([*argv, f"--screenshot={screenshot}", page.resolve().as_uri()],
                           capture_output=True, check=True, timeout=120)
        done = subprocess.run([*argv, "--dump-dom", page.resolve().as_uri()],
                              capture_output=True, text=True, check=True, timeout=120)
    return done.stdout
