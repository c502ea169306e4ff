"""The layout of tui/ stays readable: no source file over 600 lines, and the command modules share helpers
through tui/commands/common.py instead of importing them from each other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TUI = Path(__file__).resolve().parents[2] / "tui"
MAX_LINES = 600
# `composer train` registers its kinds from their own modules: a subcommand, not a helper.
REGISTERS = {
    "tui.commands.train": {"tui.commands.train_audio", "tui.commands.train_judge"},
    "tui.commands.train_audio": {"tui.commands.train_diffusion"},
}


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(TUI.parent).with_suffix("").parts)


@pytest.mark.parametrize("path", sorted(TUI.rglob("*.py")), ids=lambda p: str(p.relative_to(TUI)))
def test_no_source_file_is_over_600_lines(path):
    assert len(path.read_text(encoding="utf-8").splitlines()) <= MAX_LINES


@pytest.mark.parametrize("path", sorted((TUI / "commands").glob("*.py")), ids=lambda p: p.name)
def test_command_modules_import_helpers_only_from_common(path):
    name = module_name(path)
    imported = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    others = {m for m in imported if m.startswith("tui.commands.") and m != "tui.commands.common"}
    assert others <= REGISTERS.get(name, set())
