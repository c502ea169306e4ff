"""Audio tracks made from a text prompt, in the app: the main screen's actions for them.

    ctrl+t   the dialog (tui/screens/prompt_dialog.py); the clip is made in a worker thread and lands
             at the cursor as one undo step, selected
    E        the selected prompted clip made again with the next seed (one undo step)
    R        (a clip selected) the dialog filled in from the clip, which is made again from it in place
             (tui/screens/main_actions/clips.py, with the other clip keys and the clip selection)

MainScreen mixes in PromptTrackActions. Generation (synth.prompt.prompt_audio) runs in
a thread so the UI keeps drawing; progress and the result come back through call_from_thread. The models load
on the first request and are kept. One generation at a time; a clip undone or removed while it was being made
again is left alone (the new audio is dropped, with a line saying so); one moved, trimmed or repeated
meanwhile gets the new audio where it is now. Any failure is one line in the status bar, and the song is
untouched. A clip is made at the song's tempo (or the BPM its text names): synth.prompt.tempo_conform; in the
key its text names: synth.prompt.key_conform.
"""

from __future__ import annotations

import random
from dataclasses import replace
from functools import partial

from textual import work

from composer.errors import ComposerError
from composer.song import AudioClip
from synth.prompt.key_conform import key_named
from synth.prompt.prompt_audio import DEFAULT_GUIDANCE, DEFAULT_STEPS, MAX_SEED, PromptRequest
from synth.prompt.tempo_conform import tempo_in_prompt
from tui.screens.prompt_dialog import PromptDialog

DEFAULT_SECONDS = 8.0


class PromptTrackActions:
    """Mixed into MainScreen (which provides song, roll, edit, say, refresh_all)."""

    clip_index: int | None = None  # the clip the track list shows selected
    _prompt_models = None  # synth.prompt.prompt_audio.PromptGenerator, made in the worker on first use
    _prompt_job: str | None = None  # what is being generated, while it is
    _prompt_last: PromptRequest | None = None

    @property
    def prompt_busy(self) -> bool:
        return self._prompt_job is not None

    def _prompt_refuse_if_busy(self) -> bool:
        if self._prompt_job is not None:
            # a toast: the status line is busy with the generation's progress
            self.app.notify(f"Still generating “{self._prompt_job}”: one audio track at a time", severity="warning")
            self.app.bell()
            return True
        return False

    @work
    async def action_prompt_track(self) -> None:
        if self._prompt_refuse_if_busy():
            return
        last = self._prompt_last
        start = PromptRequest(
            prompt=last.prompt if last else "",
            seconds=last.seconds if last else DEFAULT_SECONDS,
            steps=last.steps if last else DEFAULT_STEPS,
            guidance=last.guidance if last else DEFAULT_GUIDANCE,
            seed=random.randrange(2**31),  # shown in the dialog and kept with the clip
            loop=last.loop if last else False,
        )
        request = await self.app.push_screen_wait(PromptDialog(start))
        if request is None or self._prompt_refuse_if_busy():
            return
        tempo, key = self._prompt_tempo(request.prompt), key_named(request.prompt)
        request = replace(request, bpm=tempo, key=key, beats_per_bar=self._prompt_meter())
        self._prompt_last = request
        self._prompt_start(request.prompt, partial(self._prompt_make_new, request, self.roll.cursor_s))

    def action_regenerate_clip(self) -> None:
        if self._prompt_refuse_if_busy():
            return
        clip = self.selected_clip()
        if clip is None:
            self.say("No audio track made from a prompt yet: ctrl+t adds one", error=True)
            return
        seed = 0 if clip.seed is None or clip.seed >= MAX_SEED else clip.seed + 1
        self._prompt_start(clip.prompt, partial(self._prompt_make_again, clip, seed))

    def selected_clip(self) -> AudioClip | None:
        """The selected clip if it is prompted, else the last prompted clip of the song."""
        clips = self.song.clips
        if self.clip_index is not None and 0 <= self.clip_index < len(clips) and clips[self.clip_index].prompted:
            return clips[self.clip_index]
        return next((c for c in reversed(clips) if c.prompted), None)

    # ----- the worker thread -----

    def _prompt_start(self, prompt: str, make) -> None:
        self._prompt_job = prompt
        self.say(f"Generating “{prompt}”: loading the models…")
        self.run_worker(partial(self._prompt_run, make), thread=True, group="prompt", exit_on_error=False)

    def _prompt_load(self):
        if self._prompt_models is None:
            import torch

            from synth.prompt.prompt_audio import PromptGenerator

            # One torch thread, as the neural synth's: more leave the audio thread no core, and on a busy
            # machine they spin (measured: an 8-s clip 1.4 CPU-s on one thread, 49 CPU-s on two, 2 cores loaded).
            torch.set_num_threads(1)
            self._prompt_models = PromptGenerator()
        return self._prompt_models

    def _prompt_run(self, make) -> None:
        """In the worker: make the clip, then hand it (or the error) to the UI thread."""

        def progress(done: int, total: int) -> None:
            self.app.call_from_thread(self._prompt_progress, done, total)

        try:
            clip = make(self._prompt_load(), progress)
            self.app.playback.prepare_clip(clip[0])  # resampled here, not in the audio thread
        except ComposerError as exc:
            self.app.call_from_thread(self._prompt_finish, None, None, str(exc))
        except Exception as exc:  # a model failing in its own way: still one line, the song untouched
            self.app.call_from_thread(
                self._prompt_finish, None, None, f"generation failed: {type(exc).__name__}: {exc}"
            )
        else:
            self.app.call_from_thread(self._prompt_finish, *clip, None)

    def _prompt_make_new(self, request: PromptRequest, at_s: float, generator, progress) -> tuple[AudioClip, None]:
        from synth.prompt.prompt_audio import prompted_clip

        return prompted_clip(request, generator.generate(request, progress), at_s), None

    def _prompt_make_again(self, clip: AudioClip, seed: int, generator, progress) -> tuple[AudioClip, AudioClip]:
        from synth.prompt.prompt_audio import regenerate_clip

        tempo = self._prompt_tempo(clip.prompt or "")
        return regenerate_clip(clip, seed, generator, progress, tempo, self._prompt_meter()), clip

    def _prompt_meter(self) -> int | None:
        """The song's beats in a bar, for a model that takes the meter."""
        from synth.prompt.prompt_audio import meter_of

        return meter_of(self.song.beats_per_bar)

    def _prompt_tempo(self, prompt: str) -> float:
        """The tempo a clip is made at: the BPM its text names, else the song's."""
        return tempo_in_prompt(prompt) or float(self.song.tempo_bpm)

    # ----- back in the UI thread -----

    def _prompt_progress(self, done: int, total: int) -> None:
        if self._prompt_job is not None:
            self.say(f"Generating “{self._prompt_job}”: step {done} of {total}")

    def _prompt_finish(self, clip: AudioClip | None, old: AudioClip | None, error: str | None) -> None:
        self._prompt_job = None
        if clip is None:
            self.say(f"No audio track: {error}", error=True)
            return
        clips = self.song.clips
        if old is None:
            with self.edit(f"add audio track {clip.name}"):
                clips.append(clip)
            self.clip_index = len(clips) - 1
        else:
            index = next((i for i, c in enumerate(clips) if c is old), None)
            if index is None and old.samples is not None:  # moved, trimmed or repeated meanwhile: the same audio
                index = next((i for i, c in enumerate(clips) if c.samples is old.samples), None)
                if index is not None:  # the new audio goes where the clip is now
                    now = clips[index]
                    repeats = now.repeats if clip.loop else 1
                    clip = replace(clip, start_s=now.start_s, gain=now.gain, mute=now.mute, repeats=repeats)
            if index is None:
                self.say(f"“{clip.prompt}” was undone or removed while it was made again: new audio dropped", True)
                return
            with self.edit(f"make {clip.name} again"):
                clips[index] = clip
            self.clip_index = index
        self.refresh_all(
            f"Audio track A{self.clip_index + 1}: “{clip.prompt}”, {clip.duration_s:.1f} s, seed {clip.seed}"
            f"{', loop' if clip.loop else ''} · E makes it again with a new seed · ctrl+z undoes"
        )
