"""PySide6 + pyqtgraph views over viscause_gui.core; no algorithm lives here."""
