"""One module per panel: thin views over the app state and the controllers; panels never import each other."""
