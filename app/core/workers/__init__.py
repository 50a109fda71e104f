"""The app's child processes (the index, the quick look) and the JSON lines they talk in."""
