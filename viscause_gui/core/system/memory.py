"""How much memory this machine can give: inputs that would not fit are refused up front, with
the memory they would need, instead of failing (or swapping) half way."""
from __future__ import annotations

import os

GiB = 1024**3


def available_memory_bytes() -> int:
    """Memory available to new allocations (Linux: MemAvailable; else physical memory)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (OSError, ValueError, AttributeError):
        return 1 << 62          # unknown: do not refuse


def memory_problem(needed: int, what: str, share: float = 0.8) -> str | None:
    """Why `needed` bytes for `what` cannot be had (None: they can): more than `share` of what is available."""
    available = available_memory_bytes()
    if needed <= share * available:
        return None
    return (f"{what} needs about {needed / GiB:.1f} GiB of memory, and {available / GiB:.1f} GiB are available")
