"""FluidSynth offline rendering, sample-accurate, for the neural instruments' training data.

    audio = render_notes_fluid({0: piano_notes, 73: flute_notes}, sample_rate=24000)  # float32 (n,)

    with FluidRenderer(sample_rate=24000) as fluid:      # loads the soundfont once
        audio = fluid.render({48: notes})
    exact = snap_to_fluid(notes, sample_rate=24000)      # the note times as rendered (no FluidSynth needed)

Why per note: FluidSynth renders in blocks of 64 samples and applies an event
at the start of the next block it renders, so splitting `get_samples` calls at
event times alone leaves onsets up to 63 samples late. Here every note is
rendered on its own with its note-on on a block boundary, and its audio is
added to the mix at the note's exact sample. With reverb and chorus off,
FluidSynth sums its voices linearly, so the mix equals a one-pass render
(tests/synth/test_fluid.py checks this on block-aligned notes). A note's
length is rounded to whole 64-sample blocks (1.3 ms at 24 kHz): `snap_to_fluid` gives
the times exactly as rendered, and the dataset stores those.

Notes of one program that overlap on the same pitch are cut where the next one
starts, as a MIDI channel would play them. Needs the Debian packages
libfluidsynth3 and fluid-soundfont-gm and the Python package pyfluidsynth
(`make setup-train-audio`); only the audio-data build and training use this.

The drum kit is the program key DRUMS (-1): FluidR3's standard kit (bank 128,
preset 0) on MIDI channel 9, the pitch choosing the drum (36 kick, 38 snare,
42 closed hi-hat, ...). Pitched programs play on channel 0 as before.
"""

from __future__ import annotations

import ctypes
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from composer.errors import ComposerError
from composer.song import Note

DEFAULT_SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
FLUID_BLOCK_SAMPLES = 64  # FluidSynth's FLUID_BUFSIZE: events take effect on these boundaries
FLUID_GAIN = 0.5  # master gain: a single ff piano note peaks near 0.1, an 8-note ff chord near 0.5
TAIL_CHUNK_SAMPLES = 64 * 64
MAX_TAIL_S = 8.0  # a release still sounding after this is cut (no FluidR3 release is this long)
CACHE_MAX_SAMPLES = 32_000_000  # 128 MB of float32 note renders reused within one FluidRenderer
DRUMS = -1  # program key of the GM drum kit in `render` ({DRUMS: notes})
DRUM_BANK = 128
DRUM_CHANNEL = 9
SETUP_HINT = "install it with `make setup-train-audio` (libfluidsynth3, fluid-soundfont-gm, pyfluidsynth)"


def fluidsynth_available(soundfont: str | Path = DEFAULT_SOUNDFONT) -> str | None:
    """None when FluidSynth and the soundfont can be used, else the reason they cannot."""
    try:
        import fluidsynth  # noqa: F401
    except (ImportError, OSError) as exc:  # OSError: the Python package is there, libfluidsynth is not
        return f"FluidSynth is not installed ({type(exc).__name__}: {exc}); {SETUP_HINT}"
    if not Path(soundfont).is_file():
        return f"soundfont {soundfont} not found; {SETUP_HINT}"
    return None


class FluidRenderer:
    """One FluidSynth instance with the soundfont loaded, rendering notes offline at `sample_rate`."""

    def __init__(self, sample_rate: int = 24000, soundfont: str | Path = DEFAULT_SOUNDFONT) -> None:
        if not 8000 <= sample_rate <= 192000:
            raise ComposerError("sample_rate", f"{sample_rate} Hz, expected 8000-192000")
        problem = fluidsynth_available(soundfont)
        if problem is not None:
            raise ComposerError(soundfont if "soundfont" in problem else None, problem)
        import fluidsynth

        self.sample_rate = sample_rate
        self.soundfont = Path(soundfont)
        self._synth = fluidsynth.Synth(gain=FLUID_GAIN, samplerate=float(sample_rate))
        self._synth.setting("synth.reverb.active", 0)  # voices must mix linearly (see module docstring)
        self._synth.setting("synth.chorus.active", 0)
        self._sfid = self._synth.sfload(str(self.soundfont))
        if self._sfid < 0:
            self._synth.delete()
            raise ComposerError(self.soundfont, "FluidSynth cannot load this soundfont")
        self._write = fluidsynth._fl.fluid_synth_write_float
        self._write.argtypes = [ctypes.c_void_p, ctypes.c_int] + [ctypes.c_void_p, ctypes.c_int, ctypes.c_int] * 2
        self._program: int | None = None
        self._cache: dict[tuple[int, int, int, int], np.ndarray] = {}
        self._cache_samples = 0
        # A voice slot's first note starts softer (by 0.2% of full scale, measured); later notes in that
        # slot render the same whatever came before. Every note here uses the same slots, so one note
        # is played and dropped.
        self._render_note(0, 60, 100, 1)
        self._synth.program_select(DRUM_CHANNEL, self._sfid, DRUM_BANK, 0)
        self._render_note(DRUMS, 38, 100, 1)

    def __enter__(self) -> FluidRenderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._synth is not None:
            self._synth.delete()
            self._synth = None

    def render(self, notes_by_program: Mapping[int, Sequence[Note]]) -> np.ndarray:
        """Mono float32 (n_samples,) from time 0 to the end of the last release tail; key DRUMS is the kit."""
        parts: list[tuple[int, np.ndarray]] = []
        for program, notes in notes_by_program.items():
            if not (0 <= program <= 127 or program == DRUMS):
                raise ComposerError("program", f"{program}, expected a GM program 0-127 or DRUMS ({DRUMS})")
            for onset, blocks, pitch, velocity in _spans(notes, self.sample_rate):
                parts.append((onset, self._note_audio(program, pitch, velocity, blocks)))
        n_samples = max((onset + len(audio) for onset, audio in parts), default=0)
        mix = np.zeros(n_samples, np.float32)
        for onset, audio in parts:
            mix[onset : onset + len(audio)] += audio
        return mix

    def _note_audio(self, program: int, pitch: int, velocity: int, blocks: int) -> np.ndarray:
        key = (program, pitch, velocity, blocks)
        audio = self._cache.get(key)
        if audio is None:
            audio = self._render_note(*key)
            if self._cache_samples + len(audio) > CACHE_MAX_SAMPLES:
                self._cache.clear()
                self._cache_samples = 0
            self._cache[key] = audio
            self._cache_samples += len(audio)
        return audio

    def _render_note(self, program: int, pitch: int, velocity: int, blocks: int) -> np.ndarray:
        """One note alone, note-on at sample 0, note-off after `blocks` blocks, until its voices end."""
        synth = self._synth
        channel = DRUM_CHANNEL if program == DRUMS else 0
        if channel == 0 and program != self._program:
            synth.program_select(0, self._sfid, 0, program)
            self._program = program
        synth.noteon(channel, pitch, velocity)
        chunks, held = [], blocks * FLUID_BLOCK_SAMPLES
        while held > 0 and synth.get_active_voice_count() > 0:  # a decaying note may end before its note-off
            n = min(held, TAIL_CHUNK_SAMPLES)
            chunks.append(self._samples(n))
            held -= n
        synth.noteoff(channel, pitch)
        tail_left = int(MAX_TAIL_S * self.sample_rate)
        while synth.get_active_voice_count() > 0 and tail_left > 0:
            chunks.append(self._samples(TAIL_CHUNK_SAMPLES))
            tail_left -= TAIL_CHUNK_SAMPLES
        if synth.get_active_voice_count() > 0:  # cut: silence it so the next note starts alone
            synth.all_sounds_off(channel)
            self._samples(FLUID_BLOCK_SAMPLES)
        audio = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
        loud = np.flatnonzero(np.abs(audio) > 1e-6)
        return audio[: loud[-1] + 1 if loud.size else 0]

    def _samples(self, n: int) -> np.ndarray:
        """The next n samples (a multiple of the block, so events stay on block boundaries), mono."""
        buf = np.zeros(2 * n, np.float32)
        address = buf.ctypes.data
        self._write(self._synth.synth, n, address, 0, 2, address, 1, 2)
        return buf.reshape(n, 2).mean(axis=1)


def render_notes_fluid(
    notes_by_program: Mapping[int, Sequence[Note]],
    sample_rate: int = 24000,
    soundfont: str | Path = DEFAULT_SOUNDFONT,
) -> np.ndarray:
    """Render {GM program: notes} through FluidSynth: mono float32 (n_samples,), onsets sample-exact."""
    with FluidRenderer(sample_rate, soundfont) as fluid:
        return fluid.render(notes_by_program)


def snap_to_fluid(notes: Sequence[Note], sample_rate: int = 24000) -> list[Note]:
    """The notes exactly as FluidRenderer plays them: start on its sample, length in whole blocks, by onset."""
    return [
        Note(pitch, velocity, onset / sample_rate, (onset + blocks * FLUID_BLOCK_SAMPLES) / sample_rate)
        for onset, blocks, pitch, velocity in _spans(notes, sample_rate)
    ]


def _spans(notes: Sequence[Note], sample_rate: int) -> list[tuple[int, int, int, int]]:
    """(onset sample, length in blocks, pitch, velocity) per note, by onset.

    A note overlapping the next one of its pitch is cut there (whole blocks, rounded down); a second
    note on the same pitch and sample is dropped.
    """
    ordered = sorted(notes, key=lambda n: (n.start_s, n.pitch))
    next_onset: dict[int, int] = {}
    spans = []
    for note in reversed(ordered):
        if not (0 <= note.pitch <= 127 and 1 <= note.velocity <= 127 and note.start_s >= 0):
            raise ComposerError("notes", f"{note} is out of range (pitch 0-127, velocity 1-127, start >= 0)")
        onset = round(note.start_s * sample_rate)
        end = round(note.end_s * sample_rate)
        following = next_onset.get(note.pitch)
        if following == onset:
            continue
        if following is not None and end > following:
            blocks = max(1, (following - onset) // FLUID_BLOCK_SAMPLES)
        else:
            blocks = max(1, round((end - onset) / FLUID_BLOCK_SAMPLES))
        next_onset[note.pitch] = onset
        spans.append((onset, blocks, note.pitch, note.velocity))
    return spans[::-1]
