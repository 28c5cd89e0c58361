"""The old path of `core.system.foreground`, kept only for the two panels that still import from it
(gui/panels/learning.py, gui/panels/manipulator.py, under other edits now); it goes once they import
`viscause_gui.core.system.foreground`, as everything else does. Same objects, one gate."""
from viscause_gui.core.system.foreground import event_handled, yield_to_foreground

__all__ = ["event_handled", "yield_to_foreground"]
