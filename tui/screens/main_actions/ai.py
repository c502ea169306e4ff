"""AI co-composer keys of the main screen: continue, generate, variations, accompany, infill; keep, discard,
again, next / previous, listen; settings.

The AI panel (tui/widgets/ai_panel.py) samples in a worker and shows its candidates as ghost notes over the
track; keeping one is one undo step: a continuation goes into the track, an infill replaces the notes of the
bars it fills (same track, same instrument), an accompaniment becomes a new track with an instrument that
suits it. Listening ("a") plays from a bar before the candidate; the engine schedules its notes with the
track's own, sample-accurately, without adding them (tui/audition.py).
"""

from __future__ import annotations

import math

from textual import work

from composer.gm import instrument_name
from composer.model.candidates import MAX_BARS, place, primer_before
from composer.song import DRUM_CHANNEL, Note, Track
from tui.audition import Audition
from tui.playback import SilentClock
from tui.screens.ai_settings import AISettingsScreen
from tui.widgets.ai_jobs import ACCOMPANIMENT_NAME, accompaniment_program, accompaniment_range
from tui.widgets.ai_panel import Request
from tui.widgets.transport_bar import bars_beats
from tui.widgets.variations_view import Lanes, VariationsView

CANDIDATE_KEYS = "enter keeps · escape discards · r samples again · n/p next/previous · a listens"


class AIActions:
    """Mixed into MainScreen (tui/screens/main.py)."""

    def _ai_ready(self) -> bool:
        ai = self.ai
        if ai.check_ready():
            return True
        ai.show_idle()
        self.say(ai.reason, error=True)
        return False

    def _bar_s(self) -> float:
        return self.song.beats_to_s(self.song.beats_per_bar)

    def _request(self, label: str, track: Track, at_s: float, seconds: float, count: int, **fields) -> Request:
        song, ai = self.song, self.ai
        fields.setdefault("primer", [])
        return Request(
            label, track, self.roll.track_index, at_s, settings=ai.settings, seconds=seconds, count=count,
            bar_s=self._bar_s(), beat_s=song.beats_to_s(1.0), **fields,
        )  # fmt: skip

    def _ai_start(self, label: str, from_track: bool, count: int) -> None:
        track = self.require_track()
        if track is None or not self._ai_ready():
            return
        roll, ai = self.roll, self.ai
        self._stop_audition()
        region = roll.selection()
        at_s = region.end_s if region is not None and from_track else roll.cursor_s
        primer = primer_before(track, at_s) if from_track else []
        context = [_copy(n) for n in track.notes if n.start_s < at_s] if from_track else []
        settings = ai.settings
        ai.retries = 0
        request = self._request(label, track, at_s, settings.seconds(self.song), count, primer=primer, context=context)
        ai.start(request)
        source = f"{len(primer)} notes before {bars_beats(self.song, at_s).strip()}" if primer else "nothing"
        self.say(f"AI: {label} from {source}, {settings.bars} bars · escape stops")

    def action_ai_continue(self) -> None:
        self._ai_start("continue", from_track=True, count=1)

    def action_ai_generate(self) -> None:
        self._ai_start("generate", from_track=False, count=1)

    def action_ai_variations(self) -> None:
        self._ai_start("variations", from_track=True, count=self.ai.settings.variations)

    def _whole_bars(self, start_s: float, end_s: float) -> tuple[float, float]:
        """[start_s, end_s) widened to bar lines, at least one bar."""
        bar_s = self._bar_s()
        first = math.floor(start_s / bar_s + 1e-9)
        last = max(math.ceil(end_s / bar_s - 1e-9), first + 1)
        return first * bar_s, last * bar_s

    def _bars_label(self, start_s: float, end_s: float) -> str:
        first = round(start_s / self._bar_s()) + 1
        last = round(end_s / self._bar_s())
        return f"bar {first}" if last <= first else f"bars {first}–{last}"

    def action_ai_accompany(self) -> None:
        """Accompany the track over the selected bars, else from the cursor's bar to the track's end."""
        track = self.require_track()
        if track is None or not self._ai_ready():
            return
        if track.is_drum:
            self.say(f"{track.name} is drums, not a melody to accompany", error=True)
            return
        roll = self.roll
        region = roll.selection()
        if region is not None:
            start_s, end_s = self._whole_bars(region.start_s, region.end_s)
        else:
            start_s, end_s = self._whole_bars(roll.cursor_s, track.end_s)
        end_s = min(end_s, start_s + MAX_BARS * self._bar_s())
        melody = [_copy(n) for n in track.notes]
        if not any(start_s <= n.start_s < end_s for n in melody):
            where = "in the selection" if region is not None else "from the cursor on"
            self.say(f"{track.name} has no notes {where} to accompany", error=True)
            return
        self._stop_audition()
        ai = self.ai
        ai.retries = 0
        request = self._request(
            "accompany", track, start_s, end_s - start_s, 1, melody=melody,
            context=[_copy(n) for n in self.song.all_notes()],
            pitch_range=accompaniment_range([n for n in melody if start_s <= n.start_s < end_s]),
            program=accompaniment_program(track),
        )  # fmt: skip
        ai.start(request)
        self.say(f"AI: accompanying {track.name}, {self._bars_label(start_s, end_s)} · escape stops")

    def action_ai_infill(self) -> None:
        """Sample the selected bars (else the cursor's bar) again, leading out of and into their neighbours."""
        track = self.require_track()
        if track is None or not self._ai_ready():
            return
        roll = self.roll
        region = roll.selection()
        start_s, end_s = self._whole_bars(*((region.start_s, region.end_s) if region else (roll.cursor_s,) * 2))
        self._stop_audition()
        ai = self.ai
        ai.retries = 0
        context = [_copy(n) for n in track.notes]
        request = self._request("infill", track, start_s, end_s - start_s, ai.settings.variations, context=context)
        ai.start(request)
        replaced = sum(1 for n in track.notes if start_s <= n.start_s < end_s)
        self.say(
            f"AI: infilling {self._bars_label(start_s, end_s)} of {track.name} ({replaced} notes there now)"
            " · escape stops"
        )

    def action_ai_cancel(self) -> None:
        self.ai.cancel()
        self.say("Stopping the AI…")

    def action_ai_again(self) -> None:
        self._stop_audition()
        self.ai.again()
        self.say("AI: sampling again with new seeds · escape stops")

    def action_ai_show(self, step: int) -> None:
        self._stop_audition()
        self.ai.show(step)

    def action_ai_pick(self, number: int) -> None:
        """Pick candidate `number` (1-based) of several: the main roll's ghost, what a listens to and enter keeps."""
        ai = self.ai
        if not 1 <= number <= len(ai.candidates):
            self.say(f"{len(ai.candidates)} candidates on show: 1–{len(ai.candidates)} pick one", error=True)
            return
        self._stop_audition()
        ai.show(number - 1 - ai.current)
        self.say(f"Candidate {number} of {len(ai.candidates)} · a listens · enter keeps · escape discards")

    def picking(self) -> bool:
        """Whether several candidates are on show, so the digit keys pick one."""
        ai = self.ai
        return ai.has_candidate and len(ai.candidates) > 1

    def show_variations(self) -> None:
        """Every candidate of a request for several in the variations view (hidden otherwise)."""
        ai, request = self.ai, self.ai.request
        lanes = None
        if request is not None and request.count > 1:
            lanes = Lanes(
                candidates=ai.candidates, expected=request.count if ai.generating else len(ai.candidates),
                current=ai.current, seeds=request.seeds, scores=ai.scores,
                sampling=len(ai.candidates) - 1 if ai.generating else None,
                start_s=request.at_s, end_s=request.end_s, bar_s=request.bar_s,
            )  # fmt: skip
        self.query_one("#variations", VariationsView).show_lanes(lanes)

    def action_ai_discard(self) -> None:
        self._stop_audition()
        ai = self.ai
        ai.cancel()
        count = len(ai.candidates)
        ai.clear()
        self.say(f"Discarded {count} candidate{'s' if count != 1 else ''}")

    def action_ai_keep(self) -> None:
        ai = self.ai
        request, notes = ai.request, list(ai.shown)
        if request is None or not notes:
            return
        self._stop_audition()
        track = self._resolve(request.track, request.track_index)
        if track is None:
            ai.clear()
            self.say("The candidate's track is gone; candidate discarded", error=True)
            return
        ai.clear()
        if request.label == "accompany":
            self._keep_accompaniment(request, notes)
            return
        with self.edit(f"AI {request.label} ({len(notes)} notes)"):
            if request.label == "infill":
                track.notes = [n for n in track.notes if not request.at_s <= n.start_s < request.end_s]
            place(track, notes)

    def _keep_accompaniment(self, request: Request, notes: list[Note]) -> None:
        used = {t.channel for t in self.song.tracks}
        channel = next((c for c in range(16) if c != DRUM_CHANNEL and c not in used), 0)
        accompaniment = Track(name=ACCOMPANIMENT_NAME, program=request.program, channel=channel)
        with self.edit(f"AI accompany {request.track.name} ({len(notes)} notes)"):
            place(accompaniment, notes)
            self.song.tracks.append(accompaniment)
        self.action_select_track(len(self.song.tracks) - 1)
        instrument = instrument_name(request.program)
        self.say(f"AI accompaniment of {request.track.name}: {len(notes)} notes in a new track, {instrument}")

    def action_ai_listen(self) -> None:
        ai = self.ai
        if ai.request is None or not ai.shown:
            return
        self._stop_audition()
        playback = self.app.playback
        playback.stop()
        start_s = max(0.0, ai.request.at_s - self.song.beats_to_s(self.song.beats_per_bar))
        playback.seek(start_s)
        self.audition = Audition.of(ai.shown, ai.request.track_index)
        playback.set_preview(self.audition.track_index, self.audition.notes)
        playback.play()
        self._play_timer.resume()
        sound = f" ({playback.describe()})" if isinstance(playback, SilentClock) else ""
        self.refresh_all(f"Listening from {bars_beats(self.song, start_s).strip()}{sound}; space stops")

    def _stop_audition(self) -> None:
        audition, self.audition = self.audition, None
        if audition is None:
            return
        self.app.playback.set_preview(None)
        self.app.playback.stop()
        self._play_timer.pause()

    @work
    async def action_ai_settings(self) -> None:
        settings = await self.app.push_screen_wait(AISettingsScreen(self.ai.settings))
        if settings is not None:
            self.ai.settings = settings
            if not self.ai.generating and not self.ai.candidates:
                self.ai.show_idle()
            self.say(f"AI: {settings.describe()}")

    def _ai_say_outcome(self, outcome: str) -> None:
        """The status line once the AI panel finished sampling (MainScreen.ai_finished)."""
        count = len(self.ai.candidates)
        if outcome == "done" and count and self.ai.shortfall:
            self.say(self.ai.shortfall)
        elif outcome in ("done", "cancelled") and count:
            stopped = "Stopped early: " if outcome == "cancelled" else ""
            self.say(f"{stopped}{count} candidate{'s' if count != 1 else ''} · {CANDIDATE_KEYS}")
        elif outcome == "cancelled":
            self.say("AI stopped before any note")
        else:
            self.say(outcome, error=True)


def _copy(note: Note) -> Note:
    """The worker reads these while the user edits the song."""
    return Note(note.pitch, note.velocity, note.start_s, note.end_s)
