"""viscause_gui.core must import and run with Qt unavailable (docs/architecture.md: core never imports Qt)."""
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import viscause_gui.core

CORE = Path(viscause_gui.core.__file__).parent
QT_PACKAGES = ("PySide6", "PyQt5", "PyQt6", "PySide2", "pyqtgraph", "qtpy", "superqt")

BLOCK_QT_AND_RUN = f"""
import sys, importlib, pkgutil
class BlockQt:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {QT_PACKAGES!r}:
            raise ImportError('Qt is not available here: ' + name)
sys.meta_path.insert(0, BlockQt())
import viscause_gui.core as core
names = [m.name for m in pkgutil.walk_packages(core.__path__, 'viscause_gui.core.')]
for name in names:
    importlib.import_module(name)
print('modules', len(names))
from viscause_gui.core.experiments.grating import GratingModel, TruthOracle
from viscause_gui.core.method.experiment import Experiment, ExperimentConfig
model = GratingModel()
exp = Experiment(model.sample(300, 0), ExperimentConfig(iterations=1, queries=5, epochs=1, retrain_epochs=1))
exp.run(TruthOracle(model))
assert len(exp.history) == 1
assert not any(k.split('.')[0] in {QT_PACKAGES!r} for k in sys.modules)
print('ok')
"""


@pytest.mark.slow
def test_every_core_module_imports_and_runs_with_qt_blocked():
    result = subprocess.run([sys.executable, "-c", BLOCK_QT_AND_RUN], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[-1] == "ok"
    n_modules = int(lines[0].split()[1])
    assert n_modules == len(list(pkgutil.walk_packages([str(CORE)], "viscause_gui.core."))) >= 30


def test_no_qt_import_statement_anywhere_in_core():
    pattern = re.compile(r"^\s*(from|import)\s+(" + "|".join(QT_PACKAGES) + r")\b", re.M)
    files = list(CORE.rglob("*.py"))
    offenders = [str(p.relative_to(CORE)) for p in files if pattern.search(p.read_text())]
    assert offenders == []
    assert len({p.parent for p in files}) >= 7        # core and its six sub-packages
