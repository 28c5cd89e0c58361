"""Data: the Dataset container, the readers of files and folders, the data sets that ship with the project."""
