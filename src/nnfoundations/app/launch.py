"""``nnf train --nproc N``: the same command in N processes, through torch's own launcher."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from nnfoundations import _checks
from nnfoundations._errors import InvalidValueError
from nnfoundations._machine import available_memory


def without_option(argv: Sequence[str], option: str) -> list[str]:
    """``argv`` without ``option`` and its value (``--opt N`` or ``--opt=N``).

    Example:
        >>> without_option(["train", "--nproc", "2", "--epochs=3"], "--nproc")
        ['train', '--epochs=3']
    """
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == option:
            skip = True
        elif not arg.startswith(option + "="):
            out.append(arg)
    return out


def launch(argv: Sequence[str], nproc: int) -> int:
    """Run ``nnf`` with ``argv`` (less ``--nproc``) in ``nproc`` processes on this machine
    through ``torch.distributed.run`` (one node, a rendezvous on 127.0.0.1 at a free port;
    torchrun gives each process one thread), and return its exit status. Each process joins
    the group and trains its shard; rank 0 alone writes the run."""
    nproc = _check_nproc(_checks.positive_int("--nproc", nproc))
    command = [sys.executable, "-P", "-m", "torch.distributed.run", "--nnodes=1",
               "--rdzv-backend=c10d", "--rdzv-endpoint=127.0.0.1:0",
               f"--nproc-per-node={nproc}", "-m", "nnfoundations",
               *without_option(argv, "--nproc")]
    with tempfile.TemporaryDirectory(prefix="nnf-ranks-") as statuses:
        # the ranks import nothing from the current folder (a tqdm.py there would run):
        # PYTHONSAFEPATH reaches torchrun's workers too, where -P on the launcher would not
        env = {**os.environ, "PYTHONSAFEPATH": "1", STATUS_DIR: statuses}
        with subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env) as proc:
            _relay(proc.stderr)
        refused = any(p.read_text() == "2" for p in Path(statuses).glob("rank-*"))
    if proc.returncode == 0:
        return 0
    return 2 if refused else proc.returncode or 1


#: The environment variable naming the folder where each rank started by :func:`launch`
#: records its exit status: a rank that refused its input (status 2) makes the whole
#: command's status 2, whatever torchrun's own is.
STATUS_DIR = "NNF_RANK_STATUS_DIR"


def record_status(status: int) -> None:
    """Record this process's exit status for :func:`launch`, where it started it."""
    folder, rank = os.environ.get(STATUS_DIR), os.environ.get("RANK", "")
    if folder and rank.isdigit() and Path(folder).is_dir():
        Path(folder, f"rank-{rank}").write_text(str(status))


#: The most processes per core that --nproc starts, and the memory each needs (torch alone).
PER_CORE, PROCESS_BYTES = 4, 400 * 2**20


def _check_nproc(nproc: int) -> int:
    """Refuse, before anything starts, more processes than this machine can run: more than
    :data:`PER_CORE` a core, or more than its available memory holds."""
    cores = os.cpu_count() or 1
    if nproc > PER_CORE * cores:
        raise InvalidValueError(f"--nproc {nproc} is more than this machine can run: it has "
                                f"{cores} core(s); at most {PER_CORE * cores} processes")
    available = available_memory()
    if nproc * PROCESS_BYTES > available:
        raise InvalidValueError(f"--nproc {nproc} needs about {nproc * PROCESS_BYTES / 2**30:.1f} "
                                f"GiB (torch in each process); {available / 2**30:.1f} GiB are "
                                "available")
    return nproc


def _relay(stream: IO[str] | None) -> None:
    """Pass the ranks' own lines (``nnf: ...`` and the epoch lines) to stderr as they come,
    a message once (every rank says the same of a bad input); leave out the launcher's
    chatter and its report of a failed rank."""
    said: set[str] = set()
    for line in stream or []:
        if line.startswith("epoch ") or (line.startswith("nnf:") and line not in said):
            said.add(line)
            sys.stderr.write(line)
