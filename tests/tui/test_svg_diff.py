"""svg_diff: terminal SVG screenshots read back into cells, and their differences said in words."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console
from rich.text import Text
from svg_diff import describe_difference, parse_screen

HELP = Path(__file__).parent / "__snapshots__" / "test_app_snapshots" / "test_help_overlay.svg"


def screenshot(*lines: Text | str, width: int = 40, unique_id: str | None = None) -> str:
    """An SVG made the way Textual makes its screenshots: Console.export_svg."""
    console = Console(
        record=True,
        width=width,
        file=io.StringIO(),
        color_system="truecolor",
        force_terminal=True,
        legacy_windows=False,
        highlight=False,
    )
    for line in lines:
        console.print(line, end="\n", overflow="crop", no_wrap=True)
    return console.export_svg(title="test", unique_id=unique_id)


def row(*parts: tuple[str, str] | str) -> Text:
    return Text.assemble(*parts)


BASE = [
    row(("  Transport  ", "bold #fea62b on #1e1e1e"), ("rest", "#e0e0e0")),
    row(("space", "bold #e0e0e0"), "   ", ("Play / stop", "#e0e0e0 on #121212")),
    row(("Tracks", "#e0e0e0")),
]


def test_same_screenshot_is_no_difference():
    svg = screenshot(*BASE)
    assert describe_difference(svg, svg) == ""


def test_same_cells_with_other_class_names_is_no_difference():
    first, second = screenshot(*BASE, unique_id="terminal-1"), screenshot(*BASE, unique_id="terminal-2")
    assert first != second
    assert describe_difference(first, second) == ""


def test_cells_are_read_back():
    screen = parse_screen(screenshot(*BASE))
    assert (screen.width, screen.height) == (40, 3)
    assert screen.text(0).rstrip() == "  Transport  rest"
    assert screen.text(1).rstrip() == "space   Play / stop"
    t = screen.rows[0][2]
    assert (t.char, t.ink.colour, t.ink.bold, t.background) == ("T", "#fea62b", True, "#1e1e1e")
    assert screen.rows[1][8].background == "#121212"
    assert (screen.rows[1][0].ink.bold, screen.rows[1][8].ink.bold) == (True, False)
    assert screen.rows[2][10].ink is None  # no text run reaches here
    assert screen.rows[2][10].background == "#292929"  # the terminal's own background


def test_changed_text_is_named_with_its_row():
    changed = [BASE[0], row(("space", "bold #e0e0e0"), "   ", ("Play / pause", "#e0e0e0 on #121212")), BASE[2]]
    assert describe_difference(screenshot(*BASE), screenshot(*changed)) == (
        "row 1: text was 'space   Play / stop' now 'space   Play / pause' (colour #e0e0e0)\n"
        "row 1 col 19: background #292929 -> #121212"
    )


def test_changed_colour_is_named_with_its_row_columns_and_text():
    changed = [row(("  Transport  ", "#ffa62b on #1e1e1e"), ("rest", "#e0e0e0")), *BASE[1:]]
    assert describe_difference(screenshot(*BASE), screenshot(*changed)) == (
        "row 0 cols 2-10 'Transport': colour #fea62b bold -> #ffa62b"
    )


def test_changed_background_is_one_run():
    changed = [row(("  Transport  ", "bold #fea62b on #121212"), ("rest", "#e0e0e0")), *BASE[1:]]
    assert describe_difference(screenshot(*BASE), screenshot(*changed)) == (
        "row 0 cols 0-12: background #1e1e1e -> #121212"
    )


def test_same_change_on_consecutive_rows_is_one_item():
    old = [row(("│", "#0178d4"), (" x ", "on #1e1e1e")) for _ in range(4)]
    new = [row(("│", "#0178d4"), (" x ", "on #2e2e2e")) for _ in range(4)]
    assert describe_difference(screenshot(*old), screenshot(*new)) == "rows 0-3 cols 1-3: background #1e1e1e -> #2e2e2e"


def test_long_rows_quote_the_changed_words():
    prefix = "x" * 50 + "   "
    old = screenshot(prefix + "Tempo 120 bpm" + "   " + "y" * 20, width=100)
    new = screenshot(prefix + "Tempo 130 bpm" + "   " + "y" * 20, width=100)
    assert describe_difference(old, new) == "row 0 cols 59-61: text was '120' now '130' (colour #c5c8c6)"


def test_double_width_characters_take_two_cells():
    screen = parse_screen(screenshot(row(("日本", "#ff0000"), ("ab", "#00ff00"))))
    assert screen.text(0).rstrip() == "日本ab"
    assert [cell.char for cell in screen.rows[0][:6]] == ["日", "", "本", "", "a", "b"]
    assert screen.rows[0][4].ink.colour == "#00ff00"


def test_list_is_capped_with_a_count_of_the_rest():
    old = screenshot(*[f"line {i}" for i in range(10)])
    new = screenshot(*[f"LINE {i}" for i in range(10)])
    lines = describe_difference(old, new, max_items=3).splitlines()
    assert lines[:3] == [f"row {i}: text was 'line {i}' now 'LINE {i}' (colour #c5c8c6)" for i in range(3)]
    assert lines[3:] == ["... and 7 more differences"]


def test_other_size_is_said_first():
    assert describe_difference(screenshot("a", "b"), screenshot("a", width=30)) == (
        "size was 40x2 now 30x1\nrow 1: text was 'b' now '(no row)'"
    )


def test_stored_help_snapshot_geometry():
    screen = parse_screen(HELP.read_text(encoding="utf-8"))
    assert (screen.width, screen.height) == (120, 40)
    assert screen.text(3)[20:33] == "│  Transport "
    assert screen.rows[3][23].ink.bold


FIXTURE_PROJECT_CONFTEST = """
import importlib.util
import sys

sys.path.insert(0, {tui!r})
spec = importlib.util.spec_from_file_location("tui_conftest", {conftest!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
screen_matches = module.screen_matches
"""

FIXTURE_PROJECT_TEST = """
import os

from textual.app import App
from textual.widgets import Label


class Hello(App):
    def compose(self):
        yield Label(os.environ["HELLO"])


def test_hello(screen_matches):
    screen_matches(Hello, terminal_size=(30, 3))
"""


def test_screen_matches_fails_with_the_difference_in_words(tmp_path):
    """The fixture end to end, in a pytest of its own: store a snapshot, change the app, read the failure."""
    import os
    import subprocess
    import sys

    tui = Path(__file__).parent
    (tmp_path / "conftest.py").write_text(
        FIXTURE_PROJECT_CONFTEST.format(tui=str(tui), conftest=str(tui / "conftest.py")), encoding="utf-8"
    )
    (tmp_path / "test_hello.py").write_text(FIXTURE_PROJECT_TEST, encoding="utf-8")
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path)]
    command += ["--snapshot-report", str(tmp_path / "report.html"), str(tmp_path / "test_hello.py")]

    def pytest_run(text: str, *flags: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "HELLO": text}
        return subprocess.run(command + list(flags), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)

    made = pytest_run("hello", "--snapshot-update")
    assert made.returncode == 0, made.stdout + made.stderr
    assert (tmp_path / "__snapshots__" / "test_hello" / "test_hello.svg").exists()
    assert pytest_run("hello").returncode == 0
    changed = pytest_run("world")
    assert changed.returncode == 1, changed.stdout + changed.stderr
    assert "screen differs from __snapshots__/test_hello/test_hello.svg:" in changed.stdout
    assert "row 0: text was 'hello' now 'world'" in changed.stdout
    assert "--snapshot-update" in changed.stdout
