"""Built-in experiments, one module each, found by the registry (registry.py); adding one is one new file."""
