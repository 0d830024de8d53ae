"""Files written atomically, and checkpoints read safely (``weights_only=True``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from nnfoundations._files import atomic_write


def atomic_save(obj: Any, path: Path) -> None:
    """``torch.save`` through a temporary file and a rename: a crash leaves the old file."""
    atomic_write(path, lambda f: torch.save(obj, f))


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
