"""What the machine and the process offer, below every other core layer (it imports none of them):
the foreground gate that lets the GUI thread go first, and the memory a new input may take."""
