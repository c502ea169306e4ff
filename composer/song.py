"""The song model: tracks of notes in seconds, tempo, meter and audio clips.

One time base inside: seconds (float). Beats and bars exist only at the edges
(UI grid, MIDI ticks in file I/O, tempo-relative quantize), through
`Song.beats_to_s` and `Song.s_to_beats`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

DRUM_CHANNEL = 9  # MIDI channel 10, counted from zero
MIN_TEMPO_BPM = 6.0  # the range the MIDI reader accepts, so every song read can be saved
MAX_TEMPO_BPM = 1000.0


@dataclass
class Note:
    """One note: MIDI pitch 0-127, velocity 1-127, start and end in seconds."""

    pitch: int
    velocity: int
    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass
class Track:
    """A MIDI track: one instrument (GM program 0-127, or the drum kit)."""

    name: str = "Track"
    program: int = 0
    is_drum: bool = False
    channel: int = 0
    volume: float = 0.8  # linear gain 0..1
    pan: float = 0.0  # -1 left .. +1 right
    mute: bool = False
    solo: bool = False
    synth: str = "dsp"  # "dsp" or "neural"
    notes: list[Note] = field(default_factory=list)
    midi_out: int | None = None  # MIDI output channel 1-16 its notes are also sent to while playing; None: not sent

    def sort(self) -> None:
        self.notes.sort(key=lambda n: (n.start_s, n.pitch))

    @property
    def end_s(self) -> float:
        return max((n.end_s for n in self.notes), default=0.0)


@dataclass
class AudioClip:
    """An audio track's clip: a WAV file (or samples in memory) placed in the song.

    `samples` is float32 of shape (n_samples,) or (n_samples, channels) at
    `sample_rate`. Prompted clips (synth.prompt.prompt_audio) keep their prompt, seed,
    sampler steps, guidance scale and loop switch so they can be made again;
    steps and guidance None mean the generator's defaults. `repeats` plays the samples that many times
    in a row (a loop filling a region: the engine and the export read them modulo their length).
    `offset_s` and `length_s` trim it without touching the samples: one pass plays the samples from
    `offset_s` for `length_s` seconds (None: to their end); composer.clip_edit moves and trims clips.
    """

    name: str = "Audio"
    path: str | None = None
    start_s: float = 0.0
    gain: float = 1.0
    mute: bool = False
    prompt: str | None = None
    seed: int | None = None
    samples: np.ndarray | None = None
    sample_rate: int = 24000
    steps: int | None = None
    guidance: float | None = None
    loop: bool = False
    repeats: int = 1  # a loop clip is heard this many times back to back (its end runs into its start)
    offset_s: float = 0.0  # where in the samples one pass starts (a trimmed start)
    length_s: float | None = None  # how long one pass is (a trimmed end); None: to the samples' end

    @property
    def prompted(self) -> bool:
        """Made from a text prompt (and so can be made again)."""
        return self.prompt is not None

    @property
    def source_s(self) -> float:
        """All of the samples, seconds (untrimmed)."""
        if self.samples is None:
            return 0.0
        return len(self.samples) / self.sample_rate

    @property
    def pass_s(self) -> float:
        """One pass through the heard part of the samples (from `offset_s`, `length_s` long), seconds."""
        rest = max(0.0, self.source_s - max(0.0, self.offset_s))
        return rest if self.length_s is None else max(0.0, min(self.length_s, rest))

    @property
    def duration_s(self) -> float:
        """How long it is heard in the song: every repeat."""
        return self.pass_s * max(1, int(self.repeats))

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s


@dataclass
class Song:
    """Tempo (BPM), meter, MIDI tracks and audio clips."""

    tempo_bpm: float = 120.0
    time_signature: tuple[int, int] = (4, 4)
    tracks: list[Track] = field(default_factory=list)
    clips: list[AudioClip] = field(default_factory=list)

    @property
    def seconds_per_beat(self) -> float:
        return 60.0 / self.tempo_bpm

    def beats_to_s(self, beats: float) -> float:
        return beats * self.seconds_per_beat

    def s_to_beats(self, seconds: float) -> float:
        return seconds / self.seconds_per_beat

    @property
    def beats_per_bar(self) -> float:
        """Quarter-note beats in one bar (6/8 gives 3.0)."""
        num, den = self.time_signature
        return num * 4.0 / den

    @property
    def duration_s(self) -> float:
        ends = [t.end_s for t in self.tracks] + [c.end_s for c in self.clips]
        return max(ends, default=0.0)

    def all_notes(self) -> list[Note]:
        """Every pitched note of every track, sorted by start time."""
        notes = [n for t in self.tracks if not t.is_drum for n in t.notes]
        return sorted(notes, key=lambda n: (n.start_s, n.pitch))

    def audible_tracks(self) -> list[Track]:
        """Tracks that sound under the mute and solo switches."""
        soloed = [t for t in self.tracks if t.solo]
        return soloed if soloed else [t for t in self.tracks if not t.mute]
