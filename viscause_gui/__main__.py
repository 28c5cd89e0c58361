"""`python -m viscause_gui` runs the CLI (the GUI once it exists: `viscause-gui`)."""
from viscause_gui.cli import main

raise SystemExit(main())
