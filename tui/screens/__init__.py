"""The studio's screens, one per file with its .tcss."""
