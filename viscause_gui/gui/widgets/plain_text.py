"""Text a person brought (outcome names, file names) shown as written, never as HTML.

Qt shows a tooltip, and a label left in its automatic format, as rich text when the text looks like
HTML (Qt.mightBeRichText): an outcome named "<b>up</b>" would show as a bold "up", and one named
"<img src=...>" would show a picture. Such text is escaped into rich text that shows it literally.
"""
from __future__ import annotations

import html

from PySide6.QtGui import Qt
from PySide6.QtWidgets import QLabel


def plain_tooltip(text: str) -> str:
    """A tooltip that shows `text` exactly (line breaks kept)."""
    if not Qt.mightBeRichText(text):
        return text
    return "<p style='white-space:pre-wrap'>" + html.escape(text, quote=False) + "</p>"


def plain_label(label: QLabel) -> QLabel:
    """The label shows its text as written, whatever it looks like."""
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label
