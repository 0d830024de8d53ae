"""Files written atomically: through a temporary file beside the target and a rename.

A crash or an error while writing leaves the old file (or none), never a half-written one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from nnfoundations._errors import InvalidValueError


def atomic_write(path: str | Path, write: Callable[[BinaryIO], object]) -> None:
    """Call ``write`` on a temporary file beside ``path``, then rename it to ``path``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    atomic_write(path, lambda f: f.write(data))


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, as UTF-8."""
    atomic_write_bytes(path, text.encode("utf-8"))


def writable_file(path: str | Path) -> Path:
    """``path`` if a file can be written there, checked before any work is done.

    Raises:
        InvalidValueError: ``path`` is a directory, or its folder is missing, not a folder,
            or not writable.
    """
    path = Path(path)
    if path.is_dir():
        raise InvalidValueError(f"{path} is a directory: give a file name")
    _writable_folder(path.parent, path)
    return path


def new_directory(path: str | Path) -> Path:
    """``path`` if a directory can be created there (it must not exist, not even as a
    dangling link), checked before any work is done."""
    path = Path(path)
    if path.exists() or path.is_symlink():
        raise InvalidValueError(f"{path} already exists; choose another --out")
    ancestor = path.parent
    while not ancestor.exists() and not ancestor.is_symlink() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    _writable_folder(ancestor, path)
    return path


def _writable_folder(folder: Path, target: Path) -> None:
    if not folder.exists():
        raise InvalidValueError(f"cannot write {target}: the folder {folder} does not exist")
    if not folder.is_dir():
        raise InvalidValueError(f"cannot write {target}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InvalidValueError(f"cannot write {target}: no permission to write in {folder}")
