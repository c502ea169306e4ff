"""Note editing keys of the main screen: add / remove, delete, move, transpose, resize, velocity,
quantize, copy / cut / paste, undo / redo.

Each edit is one undo step: `with self.edit(label):` around a call into composer.edit.
The notes an edit works on are `self.require_targets()`: the selection, or the note under the cursor.
"""

from __future__ import annotations

from composer import edit
from tui.widgets.piano_roll import note_name

STRENGTHS = (1.0, 0.75, 0.5, 0.25)


class EditActions:
    """Mixed into MainScreen (tui/screens/main.py)."""

    def action_toggle_note(self) -> None:
        track = self.require_track()
        if track is None:
            return
        roll = self.roll
        cell = edit.Region(
            roll.cursor_s,
            self.song.beats_to_s(roll.cursor_beat + roll.grid_beats),
            roll.cursor_pitch,
            roll.cursor_pitch,
        )
        existing = next(iter(edit.select(track, cell)), None)
        if existing is not None:
            with self.edit(f"delete {note_name(existing.pitch)}"):
                edit.delete_notes(track, [existing])
            return
        with self.edit(f"add {note_name(roll.cursor_pitch)}"):
            edit.add_note(track, roll.cursor_pitch, roll.cursor_s, self.song.beats_to_s(self.note_beats))

    def action_delete(self) -> None:
        track, notes = self.roll.track, self.require_targets()
        if track is not None and notes:
            with self.edit(f"delete {len(notes)} note{'s' if len(notes) > 1 else ''}"):
                edit.delete_notes(track, notes)

    def action_move(self, steps: int) -> None:
        track, notes = self.roll.track, self.require_targets()
        if track is None or not notes:
            return
        with self.edit("move notes"):
            delta_s, _ = edit.move_notes(track, notes, self.song.beats_to_s(steps * self.roll.grid_beats))
        self.roll.shift_selection(self.song.s_to_beats(delta_s), 0)

    def action_transpose(self, semitones: int) -> None:
        track, notes = self.roll.track, self.require_targets()
        if track is None or not notes:
            return
        with self.edit(f"transpose {semitones:+d}"):
            applied = edit.transpose(track, notes, semitones)
        self.roll.shift_selection(0.0, applied)

    def action_resize(self, steps: int) -> None:
        notes = self.require_targets()
        if not notes:
            return
        with self.edit("lengthen notes" if steps > 0 else "shorten notes"):
            edit.resize_notes(notes, self.song.beats_to_s(steps * self.roll.grid_beats))
        self.note_beats = round(self.song.s_to_beats(notes[-1].duration_s), 4)
        self.update_state()

    def action_velocity(self, delta: int) -> None:
        notes = self.require_targets()
        if notes:
            with self.edit(f"velocity {delta:+d}"):
                edit.change_velocity(notes, delta)
            self.say(f"Velocity {', '.join(str(n.velocity) for n in notes[:8])}{'…' if len(notes) > 8 else ''}")

    def action_quantize(self) -> None:
        track, notes = self.roll.track, self.require_targets()
        if track is not None and notes:
            with self.edit(f"quantize {len(notes)} notes at {round(self.strength * 100)}%"):
                edit.quantize(self.song, track, notes, self.roll.grid_beats, self.strength)

    def action_strength(self) -> None:
        i = STRENGTHS.index(self.strength) if self.strength in STRENGTHS else 0
        self.strength = STRENGTHS[(i + 1) % len(STRENGTHS)]
        self.update_state()
        self.say(f"Quantize strength {round(self.strength * 100)}%")

    def action_copy(self) -> bool:
        notes = self.require_targets()
        if not notes:
            return False
        region = self.roll.selection()
        origin_s = region.start_s if region is not None else notes[0].start_s
        self.clipboard = edit.copy_notes(notes, origin_s)
        self.say(f"Copied {len(notes)} note{'s' if len(notes) > 1 else ''}")
        return True

    def action_cut(self) -> None:
        if self.action_copy():
            count = len(self.clipboard)
            self.action_delete()
            self.say(f"Cut {count} note{'s' if count > 1 else ''}")

    def action_paste(self) -> None:
        track = self.require_track()
        if track is None:
            return
        if not self.clipboard:
            self.say("Nothing to paste: copy notes first (ctrl+c or y)")
            return
        with self.edit(f"paste {len(self.clipboard)} notes"):
            edit.paste_notes(track, self.clipboard, self.roll.cursor_s)

    def action_undo(self) -> None:
        label = self.app.history.undo(self.song)
        self.app.playback.notes_changed()
        self.roll.anchor = None
        self.app.dirty = True
        self.refresh_all(f"Undid {label}" if label else "Nothing to undo")

    def action_redo(self) -> None:
        label = self.app.history.redo(self.song)
        self.app.playback.notes_changed()
        self.app.dirty = True
        self.refresh_all(f"Redid {label}" if label else "Nothing to redo")
