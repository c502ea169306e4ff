"""The studio's widgets, one per file with its .tcss."""
