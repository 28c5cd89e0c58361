"""`python -m viscause_gui` runs the `viscause` command (the desktop app is `viscause-gui`)."""
from viscause_gui.cli import main

raise SystemExit(main())
