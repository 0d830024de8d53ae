"""Reading data files: CSV with a header, NumPy ``.npz``, and MNIST-format IDX (plain or .gz).

Every reader returns a :class:`Table` of float features and raw labels, and refuses bad input
with a ``ValueError`` that names the file and, where it can, the row and column.
"""

from __future__ import annotations

import csv
import gzip
import math
import os
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np
from sklearn.datasets import load_digits as _sklearn_digits

from nnfoundations._errors import InvalidValueError, first_line
from nnfoundations._files import csv_delimiter

#: IDX element types: code -> (NumPy big-endian dtype, scale to [0, 1] for images).
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


#: Rows of a memory-mapped array checked for NaN at a time: bounded memory.
CHECK_ROWS = 8192


@dataclass
class Table:
    """Features as float64 rows, raw labels (None when the file has none), column names."""

    X: np.ndarray
    y: np.ndarray | None
    feature_names: list[str]
    label_name: str = ""  # where the labels came from: a column, an array, a file
    label_column: str | None = None  # a CSV's label column

    def rows(self, index: np.ndarray) -> Table:
        """The table with only the rows ``index``."""
        return Table(self.X[index], None if self.y is None else self.y[index],
                     self.feature_names, self.label_name, self.label_column)

    def describe(self) -> str:
        """One line on what was read: rows, features, the label and its classes."""
        text = f"{len(self.X)} rows, {self.X.shape[1]} features"
        if self.y is not None:
            text += f", label {self.label_name} ({len(np.unique(self.y))} classes)"
        return text

    def labels(self) -> np.ndarray:
        """The labels, which training and evaluation need; refused when there are none."""
        if self.y is None:
            raise InvalidValueError("the data has no labels; training and evaluation need them")
        return self.y


#: IDX files of more dimensions are refused: labels have 1, images 3, and a header of 255
#: dimensions is a corrupt file, not data.
MAX_IDX_DIMS = 8

#: The widest CSV read: columns, and characters of its header line.
MAX_COLUMNS, MAX_HEADER_CHARS = 1_000_000, 64 * 2**20

def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """Return scikit-learn's bundled digits: 1,797 8x8 images as ``(X, y)``; no download."""
    X, y = _sklearn_digits(return_X_y=True)
    return X.astype(np.float64), y.astype(np.int64)


def read_data(source: str, *, label: str | None = None, labels: str | None = None,
              need_labels: bool = True, features: list[str] | None = None,
              drop: list[str] | None = None) -> Table:
    """Read ``digits`` or a data file into a :class:`Table`.

    Args:
        source: ``"digits"`` (scikit-learn's bundled set), a ``.csv``, a ``.npz`` with arrays
            ``X`` and ``y``, or an MNIST IDX images file (``.gz`` or not).
        label: the CSV label column; default a column named ``label``, else the last one
            (when labels are not needed, only a named column is taken as labels).
        labels: the IDX labels file; default the standard name beside the images file.
        need_labels: fail when the file has no labels (training and evaluation need them).
        features: the feature columns a model was trained on: a CSV's columns are matched by
            name (in any order; other columns, the label's among them, are left out) and a
            missing one is refused.
        drop: CSV columns to leave out (an id, a timestamp); an unknown one is refused.

    Returns:
        The :class:`Table`.
    """
    if drop and not source.lower().endswith(".csv"):
        raise InvalidValueError(f"--drop leaves out CSV columns; {source} is not a CSV")
    if labels is not None and (source == "digits" or source.lower().endswith((".csv", ".npz"))):
        raise InvalidValueError(f"--labels names the labels file of IDX images or of a .npy; "
                                f"{source} holds its own labels (a CSV names its column with "
                                "--label)")
    if source == "digits":
        X, y = load_digits()
        return Table(X, y, [f"pixel_{i}" for i in range(X.shape[1])], "digit")
    path = Path(source)
    if path.is_dir() or path.suffix.lower() == ".npy":
        table = _read_npy(path, labels, need_labels)
        if len(table.X) == 0:
            raise InvalidValueError(f"{source} holds no examples")
        return table
    if not path.is_file():
        raise InvalidValueError(
            f"no such data file: {source} (give 'digits', a .csv, .npz, .npy, a folder of "
            "X.npy and y.npy, or an IDX file)")
    name = path.name.lower()
    if name.endswith(".csv"):
        table = _read_csv(path, label, need_labels, features, drop or [])
    elif name.endswith(".npz"):
        table = _read_npz(path, need_labels)
    else:
        table = _read_idx_pair(path, labels, need_labels)
    if len(table.X) == 0:
        raise InvalidValueError(f"{source} holds no examples")
    return table


def _read_csv(path: Path, label: str | None, need_labels: bool,
              wanted: list[str] | None, drop: list[str]) -> Table:
    header, body = _csv_cells(path, drop)
    column, features = _columns(path, header, label, need_labels, wanted)
    X = _numbers(path, body, features, header)
    y = None if column is None else _labels(np.array([row[column].strip() for row in body]),
                                            path, lambda k: f"line {k + 2}")
    if column is not None and y is not None and label is None and header[column] != "label" \
            and _continuous(y):  # a guessed label column must look like classes
        raise InvalidValueError(
            f"{path}: the label was taken to be the column '{header[column]}', but it looks "
            f"continuous ({len(np.unique(y))} distinct values in {len(y)} rows), not a class; "
            "name the label column with --label")
    return Table(X, y, [header[j] for j in features],
                 "" if column is None else f"column '{header[column]}'",
                 None if column is None else header[column])


def _csv_cells(path: Path, drop: list[str]) -> tuple[list[str], list[list[str]]]:
    """The header and the rows, every row as wide as the header, ``drop`` left out."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            rows = [row for row in csv.reader(f, delimiter=_delimiter(f)) if row]
    except (UnicodeDecodeError, csv.Error) as err:
        raise InvalidValueError(f"{path} is not a readable CSV file: {err}") from None
    if not rows:
        raise InvalidValueError(f"{path} is empty: a CSV needs a header and at least one row")
    header, body = [h.strip() for h in rows[0]], rows[1:]
    for k, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise InvalidValueError(f"{path} line {k}: {len(row)} cells, but the header has "
                                    f"{len(header)} columns")
    repeated = sorted(h for h, n in Counter(header).items() if n > 1)
    if repeated:
        raise InvalidValueError(f"{path}: the column name(s) {repeated} appear more than once")
    unknown = [name for name in drop if name not in header]
    if unknown:
        raise InvalidValueError(f"{path}: --drop names columns it does not have: {unknown}")
    dropped = set(drop)
    keep = [j for j, name in enumerate(header) if name not in dropped]
    return [header[j] for j in keep], [[row[j] for j in keep] for row in body]


def _columns(path: Path, header: list[str], label: str | None, need_labels: bool,
             wanted: list[str] | None) -> tuple[int | None, list[int]]:
    """The label's column and the feature columns (a model's ``wanted`` ones, by name)."""
    if wanted is None:
        column = _label_column(path, header, label, need_labels)
        return column, [j for j in range(len(header)) if j != column]
    features = _matched(path, header, wanted)
    others = [j for j in range(len(header)) if j not in features]
    column = _label_column(path, header, label, need_labels, others=others)
    unknown = [header[j] for j in others if j != column]
    if unknown:
        raise InvalidValueError(f"{path} has columns the model was not trained on: "
                                f"{unknown[:8]}{' ...' if len(unknown) > 8 else ''}; "
                                "leave them out with --drop")
    return column, features


def _continuous(y: np.ndarray) -> bool:
    """Numbers that read as a measurement, not a class: fractions, or mostly distinct."""
    try:
        values = y.astype(np.float64)
    except ValueError:
        return False  # text: class names
    return bool(np.any(values != np.round(values)) or len(np.unique(values)) > len(y) / 2)


def _delimiter(f: TextIO) -> str:
    """The separator of a CSV, read off its header line (the file is rewound); a header of
    more than :data:`MAX_COLUMNS` columns is refused before any row is parsed."""
    header = f.readline(MAX_HEADER_CHARS + 1)
    f.seek(0)
    delimiter = csv_delimiter(header)
    if len(header) > MAX_HEADER_CHARS or header.count(delimiter) >= MAX_COLUMNS:
        raise InvalidValueError(f"{f.name}: its header has more than {MAX_COLUMNS:,} columns "
                                "(or is over 64 MB); that many features is not a table this "
                                "trains on")
    return delimiter


def _label_column(path: Path, header: list[str], label: str | None, need_labels: bool,
                  others: list[int] | None = None) -> int | None:
    """The label's column: the named one, else ``label``, else (when labels are needed) the
    one column left besides the features, or the last."""
    if label is not None:
        if label not in header and not need_labels and others is not None:
            return None  # predicting: new data need not carry the run's label column
        if label not in header:
            raise InvalidValueError(f"{path}: the label column '{label}' is not there; columns are "
                                    f"{header[:8]}{' ...' if len(header) > 8 else ''}")
        return header.index(label)
    if "label" in header:
        return header.index("label")
    if not need_labels:
        return None
    if others is not None:
        if len(others) != 1:
            raise InvalidValueError(f"{path}: which column is the label? name it with --label "
                                    f"(not features: {[header[j] for j in others]})")
        return others[0]
    return len(header) - 1


def _matched(path: Path, header: list[str], wanted: list[str]) -> list[int]:
    missing = [name for name in wanted if name not in header]
    if missing:
        raise InvalidValueError(f"{path} lacks the model's columns {missing[:8]}"
                                f"{' ...' if len(missing) > 8 else ''}; it has "
                                f"{header[:8]}{' ...' if len(header) > 8 else ''}")
    return [header.index(name) for name in wanted]


def _numbers(path: Path, body: list[list[str]], columns: list[int],
             header: list[str]) -> np.ndarray:
    """The feature cells as float64, naming the first non-numeric or non-finite cell."""
    X = np.empty((len(body), len(columns)))
    for i, row in enumerate(body):
        for jj, j in enumerate(columns):
            try:
                X[i, jj] = float(row[j])
            except ValueError:
                raise InvalidValueError(f"{path} line {i + 2}, column '{header[j]}': {row[j]!r} is "
                                        "not a number") from None
    _finite(path, X, lambda i, j: f"line {i + 2}, column '{header[columns[j]]}'")
    return X


def _finite(path: Path, X: np.ndarray, where: Callable[[int, int], str]) -> None:
    bad = np.argwhere(~np.isfinite(X))
    if len(bad):
        i, j = bad[0]
        raise InvalidValueError(f"{path} {where(i, j)}: {X[i, j]} is not a finite number "
                                "(NaN and inf are refused)")


#: Whole numbers up to this size are exact as floats, so labels there may be read as ints.
EXACT_INT = 2**53


def _labels(raw: np.ndarray, path: Path, where: Callable[[int], str]) -> np.ndarray:
    """Labels kept exactly: whole numbers as ints (while floats hold them exactly), other
    numbers as they are, text as text; an empty or NaN label is refused with its row."""
    text = raw.dtype.kind in "USO"
    for k, value in enumerate(raw.tolist()):
        shown = str(value).strip() if text else value
        if shown in ("",) or (text and shown.lower() == "nan") or \
                (not text and not np.isfinite(value)):
            raise InvalidValueError(f"{path} {where(k)}: the label is {shown or 'empty'!s}; "
                                    "every row needs a label (not empty, not NaN)")
    try:
        numbers = raw.astype(np.float64)
    except ValueError:
        return raw.astype(str)
    if np.all(numbers == np.round(numbers)) and np.all(np.abs(numbers) < EXACT_INT):
        return numbers.astype(np.int64)
    return raw.astype(str) if text else numbers


def _honest_members(path: Path) -> None:
    """Refuse an .npz member whose header claims more bytes than the member holds: numpy
    would allocate the claim before finding the data short."""
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            with archive.open(info) as f:
                version = np.lib.format.read_magic(f)
                read = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                    np.lib.format.read_array_header_2_0
                shape, _, dtype = read(f)
            claim = math.prod(shape) * dtype.itemsize
            if claim > info.file_size:
                raise InvalidValueError(f"{path}: {info.filename} claims {shape} values "
                                        f"({claim:,} bytes) but holds {info.file_size:,} bytes")


def _read_npz(path: Path, need_labels: bool) -> Table:
    try:
        _honest_members(path)
        with np.load(path, allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as err:
        raise InvalidValueError(f"{path} is not a readable .npz file: {err}") from None
    if "X" not in arrays or (need_labels and "y" not in arrays):
        wanted = "'X' and 'y'" if need_labels else "'X'"
        raise InvalidValueError(f"{path} must hold arrays {wanted}; it "
                                f"holds {sorted(arrays)}")
    X = arrays["X"]
    if X.ndim < 2 or not np.issubdtype(X.dtype, np.number) or \
            np.issubdtype(X.dtype, np.complexfloating):
        raise InvalidValueError(f"{path}: X must be a real array of shape (n, ...), got "
                                f"{X.dtype} {X.shape}")
    _some_rows(path, X)
    X = X.reshape(len(X), -1).astype(np.float64)
    _finite(path, X, lambda i, j: f"X row {i}, feature {j}")
    y = arrays.get("y")
    if y is not None:
        if y.ndim != 1 or len(y) != len(X):
            raise InvalidValueError(
                f"{path}: y must be one label per row of X: X has {len(X)} rows, "
                f"y has shape {y.shape}")
        y = _labels(y.astype(str) if y.dtype.kind in "US" else y, path, lambda k: f"y[{k}]")
    return Table(X, y, [f"x{j}" for j in range(X.shape[1])], "array 'y'")


def _read_npy(path: Path, labels: str | None, need_labels: bool) -> Table:
    """Features from a ``.npy`` opened memory-mapped (never read whole), labels from a
    second ``.npy``: ``X.npy`` and ``y.npy`` in a folder, or a file and ``--labels``."""
    features = path / "X.npy" if path.is_dir() else path
    label_file = Path(labels) if labels is not None else features.with_name("y.npy") \
        if features.name == "X.npy" else None
    X = _npy(features, mmap=True)
    if X.ndim < 2 or not np.issubdtype(X.dtype, np.number) or \
            np.issubdtype(X.dtype, np.complexfloating):
        raise InvalidValueError(f"{features}: X must be a real array of shape (n, ...), got "
                                f"{X.dtype} {X.shape}")
    _some_rows(features, X)
    X = X.reshape(len(X), -1)  # a view: still memory-mapped
    for start in range(0, len(X), CHECK_ROWS):  # checked in chunks: never whole in memory
        _finite(features, np.asarray(X[start: start + CHECK_ROWS]), _row_namer(start))
    if label_file is None:
        if need_labels:
            raise InvalidValueError(f"{features}: give its labels' .npy with --labels (or name "
                                    "them X.npy and y.npy in one folder)")
        return Table(X, None, [f"x{j}" for j in range(X.shape[1])])
    y = _npy(label_file, mmap=False)
    if y.ndim != 1 or len(y) != len(X):
        raise InvalidValueError(f"{label_file}: y must be one label per row of X: X has "
                                f"{len(X)} rows, y has shape {y.shape}")
    y = _labels(y.astype(str) if y.dtype.kind in "US" else y, label_file, lambda k: f"y[{k}]")
    return Table(X, y, [f"x{j}" for j in range(X.shape[1])], f"file {label_file.name}")


def _row_namer(offset: int) -> Callable[[int, int], str]:
    return lambda i, j: f"X row {offset + i}, feature {j}"


def _npy(path: Path, mmap: bool) -> np.ndarray:
    if not path.is_file():
        raise InvalidValueError(f"no such .npy file: {path}")
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise InvalidValueError(f"{path} is not a readable .npy file: {first_line(err)}") \
            from None


#: Deflate inflates at most about 1032 to 1: a gzip that claims more is not an honest file.
MAX_INFLATION = 1100


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (the MNIST format), plain or gzip-compressed, as an array.

    The header is read first and its claim checked against the file's size (or, compressed,
    against what deflate can inflate to); then exactly that many bytes are read, so a
    hostile file cannot make it read, or allocate, more.
    """
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            head = f.read(4)
            if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in _IDX_TYPES:
                raise InvalidValueError(f"{path} is neither .csv, .npz nor an IDX file (bad "
                                        "magic number)")
            if not 1 <= head[3] <= MAX_IDX_DIMS:
                raise InvalidValueError(f"{path}: an IDX file of {head[3]} dimensions; labels "
                                        f"have 1, images 3 (at most {MAX_IDX_DIMS} are read)")
            dims = [int.from_bytes(f.read(4), "big") for _ in range(head[3])]
            dtype = np.dtype(_IDX_TYPES[head[2]])
            expected = math.prod(dims) * dtype.itemsize
            _plausible(path, dims, expected, 4 + 4 * len(dims), opener is gzip.open)
            body, extra = f.read(expected), f.read(1)
    except (OSError, EOFError) as err:
        raise InvalidValueError(f"{path} is not a readable file: {err}") from None
    if len(body) != expected or extra:
        raise InvalidValueError(f"{path}: the header promises {dims} values ({expected} bytes) "
                                "but the data that follows is shorter or longer: the file is "
                                "truncated or corrupt")
    return np.frombuffer(body, dtype=dtype).reshape(dims)


def _some_rows(path: Path, X: np.ndarray) -> None:
    """Refuse an array of no examples before anything reshapes it."""
    if len(X) == 0:
        raise InvalidValueError(f"{path} holds no examples (0 rows)")


def _plausible(path: Path, dims: list[int], expected: int, header: int, packed: bool) -> None:
    size = path.stat().st_size
    bound = size * MAX_INFLATION if packed else size - header
    if expected > bound:
        raise InvalidValueError(f"{path}: the header promises {dims} values ({expected:,} "
                                f"bytes), more than a {size:,}-byte file can hold")
    need = 8 * math.prod(dims)  # read as float64 features
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    if need > memory // 2:
        raise InvalidValueError(f"{path}: its {math.prod(dims):,} values need {need / 2**30:.1f} "
                                f"GiB as features, more than half this machine's "
                                f"{memory / 2**30:.1f} GiB")


def labels_beside(images: Path) -> list[Path]:
    """Where the labels file of an IDX images file is, by the standard MNIST names."""
    stem = images.name.replace("images", "labels").replace("idx3", "idx1")
    bare = stem[:-3] if stem.lower().endswith(".gz") else stem
    return [images.with_name(bare), images.with_name(bare + ".gz")]


def _read_idx_pair(path: Path, labels: str | None, need_labels: bool) -> Table:
    images = read_idx(path)
    if images.ndim < 2:
        raise InvalidValueError(f"{path} holds {images.ndim}-d data, not images (n, rows, cols)")
    _some_rows(path, images)
    X = images.reshape(len(images), -1).astype(np.float64)
    if images.dtype == np.uint8:
        X /= 255.0  # pixels to [0, 1]
    _finite(path, X, lambda i, j: f"image {i}, pixel {j}")
    candidates = [Path(labels)] if labels else labels_beside(path)
    found = next((p for p in candidates if p.is_file()), None)
    if found is None:
        if need_labels:
            looked = ", ".join(str(p) for p in candidates)
            raise InvalidValueError(f"no labels file for {path}: looked for {looked}; give one "
                                    "with --labels")
        return Table(X, None, [f"pixel_{j}" for j in range(X.shape[1])])
    y = read_idx(found)
    if y.ndim != 1 or len(y) != len(X):
        raise InvalidValueError(f"{found} holds {len(y)} labels but {path} holds {len(X)} images")
    return Table(X, _labels(y, found, lambda k: f"label {k}"),
                 [f"pixel_{j}" for j in range(X.shape[1])], f"file {found.name}")
