"""Sweeps: many runs as one command. cell.py and progress.py run and count one cell's process (no
Ray); engine.py schedules the cells as Ray tasks and is imported only by `viscause sweep` and
benchmarks/run_all.py --ray, so nothing else needs Ray installed."""
