"""What this machine has to spare: memory available now, for the checks that refuse work
too large for it before it starts (a network's size, ``--nproc``)."""

from __future__ import annotations

import os


def available_memory() -> int:
    """Bytes of memory available now (Linux's MemAvailable: free memory and the caches the
    kernel can drop), else the physical memory."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
