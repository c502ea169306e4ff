"""Piano-roll keys of the main screen: the cursor, the selection, zoom and the grid."""

from __future__ import annotations

GRIDS = ((1.0, "1/4"), (0.5, "1/8"), (1 / 3, "1/8T"), (0.25, "1/16"), (0.125, "1/32"), (2.0, "1/2"), (4.0, "1/1"))


class RollActions:
    """Mixed into MainScreen (tui/screens/main.py)."""

    def action_cursor(self, steps: int, semitones: int) -> None:
        self.roll.move_cursor(steps, semitones)
        self.update_state()

    def action_extend(self, steps: int, semitones: int) -> None:
        self.roll.move_cursor(steps, semitones, extend=True)
        n = len(self.targets())
        self.say(f"{n} note{'s' if n != 1 else ''} selected")
        self.update_state()

    def action_select_all(self) -> None:
        track = self.require_track()
        if track is None:
            return
        roll = self.roll
        end_beat = self.song.s_to_beats(track.end_s)
        roll.anchor = (0.0, 0)
        roll.set_cursor(max(0.0, end_beat), 127)
        roll.refresh()
        self.say(f"{len(track.notes)} notes selected")

    def action_select_none(self) -> None:
        self.roll.anchor = None
        self.roll.refresh()
        self.say("Selection cleared")

    def action_zoom_time(self, factor: float) -> None:
        self.roll.zoom_time(factor)
        self.say(f"Zoom: {self.roll.cols_per_beat:g} columns per beat")

    def action_zoom_pitch(self, delta: int) -> None:
        self.roll.zoom_pitch(delta)
        self.say(f"Zoom: {self.roll.rows_per_pitch} rows per semitone")

    def action_grid(self) -> None:
        beats = [b for b, _ in GRIDS]
        i = min(range(len(beats)), key=lambda k: abs(beats[k] - self.roll.grid_beats))
        self.roll.grid_beats = beats[(i + 1) % len(beats)]
        self.roll.refresh()
        self.update_state()
        self.say(f"Grid {GRIDS[(i + 1) % len(GRIDS)][1]}")
