"""Running work beside a GUI: the training child process and the foreground gate."""
