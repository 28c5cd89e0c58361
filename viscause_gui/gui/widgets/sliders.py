"""A float slider that also moves by keyboard.

superqt's float sliders (0.9) ignore the keyboard: their inner slider has no key handling,
so the arrow keys a person expects on a focused slider did nothing. `keyboard_slider` adds
the usual keys: Left / Down and Right / Up one step, Page Up / Page Down ten steps, Home / End
the ends of the range.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from superqt import QLabeledDoubleSlider

_STEPS = {Qt.Key.Key_Right: 1, Qt.Key.Key_Up: 1, Qt.Key.Key_Left: -1, Qt.Key.Key_Down: -1,
          Qt.Key.Key_PageUp: 10, Qt.Key.Key_PageDown: -10}


class _Keys(QObject):
    def __init__(self, slider: QLabeledDoubleSlider):
        super().__init__(slider)
        self.slider = slider

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() != QEvent.Type.KeyPress:
            return False
        s, key = self.slider, event.key()
        if key in _STEPS:
            s.setValue(min(max(s.value() + _STEPS[key] * s.singleStep(), s.minimum()), s.maximum()))
        elif key in (Qt.Key.Key_Home, Qt.Key.Key_End):
            s.setValue(s.minimum() if key == Qt.Key.Key_Home else s.maximum())
        else:
            return False
        return True


def keyboard_slider(orientation: Qt.Orientation = Qt.Orientation.Horizontal) -> QLabeledDoubleSlider:
    """A QLabeledDoubleSlider whose slider takes focus by click or Tab and moves by keyboard."""
    slider = QLabeledDoubleSlider(orientation)
    inner = slider._slider          # superqt keeps the slider itself here; the keys must reach it
    inner.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    inner.installEventFilter(_Keys(slider))
    return slider
