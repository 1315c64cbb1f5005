"""The shell around the core: load state, let the core decide, save it all in one transaction."""
