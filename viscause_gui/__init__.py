"""viscause_gui: visual causal feature learning (Chalupka, Perona, Eberhardt, UAI 2015)."""

__version__ = "0.1.0"
