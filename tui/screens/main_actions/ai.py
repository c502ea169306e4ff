"""AI co-composer keys of the main screen: continue, generate, variations; keep, discard, again, next / previous,
listen; settings.

The AI panel (tui/widgets/ai_panel.py) samples in a worker and shows its candidates as ghost notes over the
track; keeping one places it in the track as one undo step. Listening ("a") plays from a bar before the
candidate, sounding its notes live (tui/audition.py) as the playhead reaches them.
"""

from __future__ import annotations

from textual import work

from composer.model.candidates import place, primer_before
from tui.audition import Audition
from tui.playback import SilentClock
from tui.screens.ai_settings import AISettingsScreen
from tui.widgets.ai_panel import Request
from tui.widgets.transport_bar import bars_beats

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

    def _ai_start(self, label: str, from_track: bool, count: int) -> None:
        track = self.require_track()
        if track is None or not self._ai_ready():
            return
        roll, ai = self.roll, self.ai
        self._stop_audition()
        region = roll.selection()
        at_s = region.end_s if region is not None and from_track else roll.cursor_s
        primer = primer_before(track, at_s) if from_track else []
        settings = ai.settings
        ai.retries = 0
        request = Request(label, track, roll.track_index, at_s, primer, settings, settings.seconds(self.song), count)
        ai.start(request)
        source = f"{len(primer)} notes before {bars_beats(self.song, at_s).strip()}" if primer else "nothing"
        self.say(f"AI: {label} from {source}, {settings.bars} bars · escape stops")

    def action_ai_continue(self) -> None:
        self._ai_start("continue", from_track=True, count=1)

    def action_ai_generate(self) -> None:
        self._ai_start("generate", from_track=False, count=1)

    def action_ai_variations(self) -> None:
        self._ai_start("variations", from_track=True, count=self.ai.settings.variations)

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
        with self.edit(f"AI {request.label} ({len(notes)} notes)"):
            place(track, notes)

    def action_ai_listen(self) -> None:
        ai = self.ai
        if ai.request is None or not ai.shown:
            return
        self._stop_audition()
        playback = self.app.playback
        playback.stop()
        start_s = max(0.0, ai.request.at_s - self.song.beats_to_s(self.song.beats_per_bar))
        playback.seek(start_s)
        self.audition = Audition(ai.shown, ai.request.track_index)
        playback.play()
        self._play_timer.resume()
        sound = f" ({playback.describe()})" if isinstance(playback, SilentClock) else ""
        self.refresh_all(f"Listening from {bars_beats(self.song, start_s).strip()}{sound}; space stops")

    def _stop_audition(self) -> None:
        audition, self.audition = self.audition, None
        if audition is None:
            return
        for pitch in audition.sounding:
            self.app.playback.live_note_off(audition.track_index, pitch)
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
        if outcome in ("done", "cancelled") and count:
            stopped = "Stopped early: " if outcome == "cancelled" else ""
            self.say(f"{stopped}{count} candidate{'s' if count != 1 else ''} · {CANDIDATE_KEYS}")
        elif outcome == "cancelled":
            self.say("AI stopped before any note")
        else:
            self.say(outcome, error=True)
