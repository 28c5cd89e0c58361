"""Run state machines and Qt-free logic the panels call through public methods."""
