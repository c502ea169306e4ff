"""Fixtures for the TUI tests. `screen_matches`: an SVG snapshot check that says what changed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from pytest_textual_snapshot import SVGImageExtension
from svg_diff import describe_difference

if TYPE_CHECKING:
    from textual.app import App
    from textual.pilot import Pilot

    RunBefore = Callable[[Pilot], Awaitable[None] | None]


@pytest.fixture
def screen_matches(snap_compare, snapshot, request):
    """Compare a fresh app's screen with its stored SVG snapshot, and say in words what changed.

    `screen_matches(factory, press=..., terminal_size=..., run_before=...)` where `factory`
    makes a fresh app (it is called a second time for the description when the snapshot
    does not match; `run_before` should reach the app through `pilot.app`).
    """
    calls = 0

    def check(
        factory: Callable[[], App[Any]],
        press: Iterable[str] = (),
        terminal_size: tuple[int, int] = (80, 24),
        run_before: RunBefore | None = None,
    ) -> None:
        nonlocal calls
        index, calls = calls, calls + 1
        press = tuple(press)
        if snap_compare(factory(), press=press, terminal_size=terminal_size, run_before=run_before):
            return
        stored = Path(SVGImageExtension.get_location(test_location=snapshot.test_location, index=index))
        report = request.config.getoption("--snapshot-report")
        update = f"check {report}, then rerun with --snapshot-update to accept the new screen"
        if not stored.exists():
            pytest.fail(f"no stored snapshot {stored}; {update}", pytrace=False)

        from textual._doc import take_svg_screenshot

        actual = take_svg_screenshot(app=factory(), press=press, terminal_size=terminal_size, run_before=run_before)
        described = describe_difference(stored.read_text(encoding="utf-8"), actual)
        if not described:
            described = "(the SVG text differs, but a fresh screenshot draws the same cells as the stored one)"
        try:
            where = stored.relative_to(request.config.rootpath)
        except ValueError:
            where = stored
        pytest.fail(f"screen differs from {where}:\n{described}\n{update}", pytrace=False)

    return check
