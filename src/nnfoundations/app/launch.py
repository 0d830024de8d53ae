"""``nnf train --nproc N``: the same command in N processes, through torch's own launcher."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence

from nnfoundations import _checks


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
    nproc = _checks.positive_int("--nproc", nproc)
    command = [sys.executable, "-m", "torch.distributed.run", "--nnodes=1",
               "--rdzv-backend=c10d", "--rdzv-endpoint=127.0.0.1:0",
               f"--nproc-per-node={nproc}", "-m", "nnfoundations",
               *without_option(argv, "--nproc")]
    return subprocess.call(command)
