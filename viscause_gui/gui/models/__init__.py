"""Qt-free models of the GUI: what the panels show and the controllers change (no Qt imports here)."""
