"""Asking a person for the oracle they plug in: a Python file and its function, or a model file and the
class whose probability is P(T=1) (over K > 2 outcomes the model's K classes are the outcomes); the choice is
loaded once to check it."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QInputDialog, QWidget

from viscause_gui.core.data.dataset import Dataset
from viscause_gui.gui.models.run_form import PluggedChoice

MODEL_FILES = "Models (*.pt2 *.pt *.pth *.ts *.onnx);;All files (*)"


def ask_plugged_oracle(parent: QWidget, key: str, image_shape: tuple[int, ...] | None,
                       outcomes: Sequence[str] = ("0", "1")) -> PluggedChoice | None:
    """The checked choice ("python" or "model_file"); None when the person cancels; OracleLoadError when the
    chosen file cannot be loaded as an oracle for images of `image_shape` answering over `outcomes`."""
    choice = _ask_python(parent, outcomes) if key == "python" else _ask_model_file(parent, outcomes)
    if choice is not None:
        choice.load(image_shape, len(outcomes))
    return choice


def plugged_text(choice: PluggedChoice, key: str, data: Dataset | None) -> str:
    """What the Learning panel says of the oracle plugged in: its spec, and for a model file of a binary T
    the class that is T = 1 (over K > 2 outcomes its outputs are the outcomes: no class to name)."""
    binary = data is None or data.n_outcomes == 2
    positive = f" · P(T=1) = P(class {choice.positive_class})" if key == "model_file" and binary else ""
    return f"Oracle: {choice.spec}{positive}"


def _ask_python(parent: QWidget, outcomes: Sequence[str]) -> PluggedChoice | None:
    path, _ = QFileDialog.getOpenFileName(parent, "Python oracle: the file with the function", "",
                                          "Python files (*.py)")
    if not path:
        return None
    what = (f"P(T) over the {len(outcomes)} outcomes ({', '.join(outcomes)})" if len(outcomes) > 2 else "P(T=1)")
    name, ok = QInputDialog.getText(parent, "Python oracle", f"The function in {Path(path).name} that answers "
                                    f"{what} for a batch of images:", text="answer")
    return PluggedChoice(f"python:{path}:{name.strip()}") if ok and name.strip() else None


def _ask_model_file(parent: QWidget, outcomes: Sequence[str]) -> PluggedChoice | None:
    path, _ = QFileDialog.getOpenFileName(parent, "Model oracle: a classifier saved with torch.export, "
                                          "TorchScript or ONNX", "", MODEL_FILES)
    if not path:
        return None
    kind = "onnx" if path.lower().endswith(".onnx") else "torch"
    if len(outcomes) > 2:             # its K outputs are the outcomes, in order: no class to choose
        return PluggedChoice(f"{kind}:{path}")
    positive, ok = QInputDialog.getInt(parent, "Model oracle", "The class whose probability is P(T=1):", 1, 0, 9999)
    return PluggedChoice(f"{kind}:{path}", positive) if ok else None
