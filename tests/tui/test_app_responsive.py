"""Long CPU work in a worker thread never blocks the event loop for more than 100 ms."""

from __future__ import annotations

import asyncio
import time

from composer.files.midi_io import write_midi
from composer.song import Note, Song, Track
from tui.app import ComposerApp

MAX_LAG_S = 0.100


N_NOTES = 20_000


def big_midi(path, n_notes: int) -> None:
    notes = [Note(36 + i % 60, 80, i * 0.01, i * 0.01 + 0.05) for i in range(n_notes)]
    write_midi(Song(tracks=[Track(name="big", notes=notes)]), path)


def test_importing_a_huge_midi_file_keeps_the_loop_responsive(tmp_path, monkeypatch):
    """MIDI parsing is long pure-Python work in a worker thread; the UI timer must keep ticking."""
    monkeypatch.setenv("COMPOSER_HOME", str(tmp_path))
    path = tmp_path / "big.mid"
    big_midi(path, N_NOTES)

    async def run() -> tuple[float, float]:
        app = ComposerApp(sound=False)
        async with app.run_test(size=(120, 40)) as pilot:
            ticks: list[float] = []
            timer = app.set_interval(0.01, lambda: ticks.append(time.perf_counter()))
            await pilot.pause(0.1)
            started = time.perf_counter()
            worker = app.screen.load_file(path, merge=True)
            await worker.wait()
            busy_s = time.perf_counter() - started
            await pilot.pause(0.05)
            timer.stop()
            assert len(app.song.tracks[-1].notes) == N_NOTES
            during = [t for t in ticks if t >= started - 0.05]
            gaps = [b - a for a, b in zip(during, during[1:], strict=False)]
            return max(gaps), busy_s

    worst_gap_s, busy_s = asyncio.run(run())
    assert busy_s > 0.2, "the work must be long enough to matter"
    assert worst_gap_s < MAX_LAG_S, f"event loop blocked {worst_gap_s * 1000:.0f} ms"
