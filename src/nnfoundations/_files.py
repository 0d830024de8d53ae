"""Files written atomically: through a temporary file beside the target and a rename.

A crash or an error while writing leaves the old file (or none), never a half-written one.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from nnfoundations._errors import InvalidValueError


def atomic_write(path: str | Path, write: Callable[[BinaryIO], object]) -> None:
    """Call ``write`` on a temporary file beside ``path``, then rename it to ``path``.

    Only a regular file is ever replaced: a link to one is written through (the link
    stays), a character device such as ``/dev/stdout`` is written in place, and anything
    else (a folder, a FIFO, a dangling link) is refused. A new file gets the mode the umask
    allows, a replaced one keeps its own.
    """
    path = Path(path)
    target, mode = _target(path)
    if target is None:  # a character device: there is nothing to replace atomically
        with path.open("wb") as f:
            write(f)
        return
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _target(path: Path) -> tuple[Path | None, int]:
    """Where the atomic write lands and with what mode (None: write in place)."""
    if not path.exists():
        if path.is_symlink():
            raise InvalidValueError(f"{path} is a link to nothing; refusing to write through it")
        return path, 0o666 & ~current_umask()
    info = path.stat()  # of what a link points to
    if stat.S_ISCHR(info.st_mode) or _open_stream(path):
        return None, 0
    if not stat.S_ISREG(info.st_mode):
        kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise InvalidValueError(f"{path} is {kind}; refusing to replace it")
    return path.resolve(), stat.S_IMODE(info.st_mode)


def _open_stream(path: Path) -> bool:
    """``/dev/stdout``, ``/dev/stderr``, ``/dev/fd/N``: a descriptor already open (a
    terminal, a pipe, a redirected file), written in place."""
    name = str(path)
    return name in ("/dev/stdout", "/dev/stderr") or name.startswith(("/dev/fd/",
                                                                       "/proc/self/fd/"))


def current_umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


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


def new_directory(path: str | Path, *, taken_ok: bool = False) -> Path:
    """``path`` if a directory can be created there (it must not exist, not even as a
    dangling link, unless ``taken_ok``: a free name beside it will do), checked before any
    work is done."""
    path = Path(path)
    if not taken_ok and (path.exists() or path.is_symlink()):
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
    try:  # root passes os.access even under /proc and /sys: a folder made and removed proves it
        os.rmdir(tempfile.mkdtemp(dir=folder, prefix=".nnf-probe-"))
    except OSError as err:
        raise InvalidValueError(f"cannot write {target}: {folder} takes no new folder "
                                f"({err.strerror})") from None


def csv_delimiter(header: str) -> str:
    """The separator of a CSV (comma, semicolon or tab): the one its header line holds most
    of, comma when it holds none. Counting is linear in the line, where ``csv.Sniffer``
    backtracks for seconds on a long line of quotes.

    Example:
        >>> csv_delimiter("epoch;loss;val_loss")
        ';'
    """
    counts = {d: header.count(d) for d in ",;\t"}
    best = max(counts, key=counts.__getitem__)
    return best if counts[best] else ","

