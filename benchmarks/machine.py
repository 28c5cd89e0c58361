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
