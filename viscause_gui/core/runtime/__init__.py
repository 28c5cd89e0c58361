"""Running work beside a GUI: the training child process, which runs `core.nets` routines."""
