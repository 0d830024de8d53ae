"""Files written atomically, and checkpoints read safely (``weights_only=True``)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    _atomic(path, lambda f: f.write(data))


def atomic_save(obj: Any, path: Path) -> None:
    """``torch.save`` through a temporary file and a rename: a crash leaves the old file."""
    _atomic(path, lambda f: torch.save(obj, f))


def _atomic(path: Path, write: Any) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent or ".", prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def safe_load(path: Path) -> dict[str, Any]:
    """Load a checkpoint as data only (no code runs), with a clear error for a bad file."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no such checkpoint file: {path}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many kinds for a truncated or foreign file
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"{path} is not a readable checkpoint ({first})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a checkpoint of this tool (no dictionary inside)")
    return data
