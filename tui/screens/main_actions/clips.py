"""Audio clip keys of the main screen: select, move, trim, delete, duplicate, repeat, re-prompt.

A clip is selected with tab / shift+tab past the last track (or a click on it in the track list); while
one is, the note-editing keys act on it instead (check_action turns the note action off and the clip's
on, as the AI's keys share escape and enter):

    , .      move it a grid step earlier / later (onto the grid, at the song's tempo)
    < >      its end a grid step earlier / later (a loop's length); ( ) its start
    x        delete it            y   a copy right after it       - +  fewer / more repeats (loops)
    R        make it again from its prompt, edited in the dialog     escape   back to the notes

Each is one undo step through composer.clip_edit (a new clip swapped into song.clips in one assignment,
so the audio thread hears the edit from its next block) and one line in the status bar. The clips'
lanes under the roll (tui.widgets.clip_strip) show each clip's waveform on the roll's time axis.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial

from textual import work
from textual.css.query import NoMatches

from composer import clip_edit
from composer.errors import ComposerError
from composer.song import AudioClip
from synth.prompt.key_conform import key_named
from synth.prompt.prompt_audio import PromptRequest, clip_request
from tui.screens.prompt_dialog import PromptDialog
from tui.widgets.clip_strip import ClipStrip
from tui.widgets.transport_bar import bars_beats

CLIP_ACTIONS = frozenset(
    {
        "clip_move",
        "clip_trim_end",
        "clip_trim_start",
        "clip_delete",
        "clip_duplicate",
        "clip_repeats",
        "clip_reprompt",
        "clip_deselect",
    }
)
# The note actions whose keys act on the clip while one is selected.
NOTE_ACTIONS_SHADOWED = frozenset({"delete", "move", "resize", "transpose", "copy", "rename_track", "select_none"})
KEYS_HINT = ", . move · < > ( ) trim · x delete · y copy · - + repeats · R re-prompt · esc: notes"


class ClipActions:
    """Mixed into MainScreen (which provides song, roll, edit, say, refresh_all and, from
    PromptTrackActions, clip_index and the prompt worker)."""

    # ----- which clip, and which keys -----

    def clip_selected(self) -> AudioClip | None:
        """The selected clip (the editing keys act on it), or None: they act on notes."""
        i, clips = self.clip_index, self.song.clips
        return clips[i] if i is not None and 0 <= i < len(clips) else None

    def clip_check(self, action: str) -> bool | None:
        """check_action's say for the clip keys and the note keys they share; None: not theirs to say."""
        if action in CLIP_ACTIONS:
            if self.clip_selected() is None:
                return False
            if action == "clip_deselect":  # escape: the AI's candidates and sampling come first
                try:
                    ai = self.ai
                except NoMatches:
                    return True
                return not ai.generating and not ai.has_candidate
            return True
        if action in NOTE_ACTIONS_SHADOWED and self.clip_selected() is not None:
            return False
        return None

    def action_select_clip(self, index: int) -> None:
        clips = self.song.clips
        if 0 <= index < len(clips):
            self.clip_index = index
            self.roll.anchor = None
            clip = clips[index]
            about = f"“{clip.prompt}”, seed {clip.seed}" if clip.prompted else "audio"
            self.refresh_all(f"A{index + 1} selected: {about} · {KEYS_HINT}")

    def action_clip_deselect(self) -> None:
        self.clip_index = None
        self.refresh_all("Audio track deselected: the editing keys work on notes again")

    # ----- the lanes under the roll -----

    @property
    def clip_strip(self) -> ClipStrip:
        return self.query_one("#clips", ClipStrip)

    def mount_clip_strip(self) -> None:
        """The lanes follow the roll's time axis and playhead."""
        roll = self.roll
        for attribute in ("left_beat", "cols_per_beat", "playhead_s"):
            self.watch(roll, attribute, self._clip_view, init=False)
        self._clip_view()

    def _clip_view(self, _value: object = None) -> None:
        roll = self.roll
        self.clip_strip.view(roll.left_beat, roll.cols_per_beat, roll.playhead_s)

    def show_clips(self) -> None:
        """After any change (refresh_all): a selection left pointing past the clips (an undo) is dropped."""
        if self.clip_index is not None and not 0 <= self.clip_index < len(self.song.clips):
            self.clip_index = None
        try:
            strip = self.clip_strip
        except NoMatches:
            return
        strip.show(self.song, self.clip_index)
        self._clip_view()

    # ----- the edits -----

    def _clip_edit(self, label: str, make: Callable[[AudioClip], AudioClip], said: Callable[[AudioClip], str]) -> None:
        """Swap the selected clip for `make(clip)` as one undo step, or say why it cannot be done."""
        clip, index = self.clip_selected(), self.clip_index
        if clip is None:
            return
        try:
            new = make(clip)
        except ComposerError as exc:
            self.say(f"A{index + 1} {exc.problem}", error=True)
            return
        with self.edit(label):
            self.song.clips[index] = new
        self.say(f"A{index + 1} {said(new)}")

    def _at(self, time_s: float) -> str:
        return f"bar {bars_beats(self.song, time_s).strip()} ({time_s:.2f} s)"

    def action_clip_move(self, steps: int) -> None:
        grid = self.roll.grid_beats
        self._clip_edit(
            "move audio track",
            lambda c: clip_edit.moved(self.song, c, steps, grid),
            lambda c: f"starts at {self._at(c.start_s)}",
        )

    def action_clip_trim_end(self, steps: int) -> None:
        grid = self.roll.grid_beats

        def said(c: AudioClip) -> str:
            beats = self.song.s_to_beats(c.pass_s)
            return f"plays {c.pass_s:.2f} s a pass ({beats:g} beats), ends at {self._at(c.end_s)}"

        self._clip_edit(
            "lengthen audio track" if steps > 0 else "shorten audio track",
            lambda c: clip_edit.trimmed_end(self.song, c, steps, grid),
            said,
        )

    def action_clip_trim_start(self, steps: int) -> None:
        grid = self.roll.grid_beats
        self._clip_edit(
            "trim audio track start",
            lambda c: clip_edit.trimmed_start(self.song, c, steps, grid),
            lambda c: f"starts at {self._at(c.start_s)}, {c.offset_s:.2f} s into its audio, {c.pass_s:.2f} s a pass",
        )

    def action_clip_repeats(self, delta: int) -> None:
        def said(c: AudioClip) -> str:
            times = f"{c.repeats} time{'s' if c.repeats > 1 else ''}"
            return f"plays {times}: {c.duration_s:.1f} s, to {self._at(c.end_s)}"

        self._clip_edit("repeat audio track", lambda c: clip_edit.repeated(c, delta), said)

    def action_clip_delete(self) -> None:
        clip, index = self.clip_selected(), self.clip_index
        if clip is None:
            return
        with self.edit(f"delete audio track {clip.name}"):
            del self.song.clips[index]
        self.clip_index = min(index, len(self.song.clips) - 1) if self.song.clips else None
        self.refresh_all(f"Deleted audio track A{index + 1} “{clip.name}” (ctrl+z brings it back)")

    def action_clip_duplicate(self) -> None:
        clip, index = self.clip_selected(), self.clip_index
        if clip is None:
            return
        copy = clip_edit.duplicated(clip)
        with self.edit(f"duplicate audio track {clip.name}"):
            self.song.clips.insert(index + 1, copy)
        self.clip_index = index + 1
        self.refresh_all(f"A{index + 2}: a copy of A{index + 1} at {self._at(copy.start_s)}")

    # ----- re-prompt: the dialog filled in from the clip, the clip made again in place -----

    @work
    async def action_clip_reprompt(self) -> None:
        clip, index = self.clip_selected(), self.clip_index
        if clip is None or self._prompt_refuse_if_busy():
            return
        if not clip.prompted:
            self.say(f"A{index + 1} is an audio file, not made from a prompt: nothing to make it again from", True)
            return
        try:
            start = clip_request(clip)
        except ComposerError as exc:
            self.say(f"A{index + 1}: {exc.problem}", error=True)
            return
        title = f"Make audio track A{index + 1} again from its prompt"
        request = await self.app.push_screen_wait(PromptDialog(start, title=title))
        if request is None or self._prompt_refuse_if_busy():
            return
        tempo, key = self._prompt_tempo(request.prompt), key_named(request.prompt)
        request = replace(request, bpm=tempo, key=key, beats_per_bar=self._prompt_meter())
        self._prompt_start(request.prompt, partial(self._clip_make_reprompted, request, clip))

    def _clip_make_reprompted(
        self, request: PromptRequest, clip: AudioClip, generator, progress
    ) -> tuple[AudioClip, AudioClip]:
        """In the worker: the new clip where the old one starts, with its gain, mute and (a loop's) repeats."""
        from synth.prompt.prompt_audio import prompted_clip

        new = prompted_clip(request, generator.generate(request, progress), clip.start_s)
        return replace(new, gain=clip.gain, mute=clip.mute, repeats=clip.repeats if new.loop else 1), clip
