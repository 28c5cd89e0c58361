"""Shared widgets and helpers: images, plots, colours, actions, the oracle queue list (one copy each)."""
