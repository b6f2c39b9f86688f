"""``modeldb server``: an MLflow-compatible tracking server that writes our events and reads our warehouse."""
