"""What every benchmark prints first: the date and the machine it ran on."""
from __future__ import annotations

import os
import platform
from datetime import datetime
from pathlib import Path

import torch


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"date": datetime.now().isoformat(timespec="seconds"), "cpu": cpu, "cores": os.cpu_count(),
            "load_avg": round(os.getloadavg()[0], 2), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__}


def header(title: str, info: dict | None = None) -> str:
    """The benchmark's first line: its title, the date and the machine (`info` from machine())."""
    info = info or machine()
    return (f"# {title}, {info['date']}, {info['cpu']}, {info['cores']} cores, load average {info['load_avg']}, "
            f"torch {info['torch']} on {info['torch_threads']} thread(s)")
