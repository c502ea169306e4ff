"""The project's one error type for bad input: a file and what is wrong with it."""

from __future__ import annotations

from pathlib import Path


class ComposerError(Exception):
    """Bad input from a user: printed as one line, exit status 2, no traceback.

    `path` names the file (or the option) at fault; the message says what was
    expected.
    """

    def __init__(self, path: str | Path | None, problem: str) -> None:
        self.path = None if path is None else str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)
