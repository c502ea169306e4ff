"""Accompaniment by constrained decoding: the melody is forced, the model plays along.

    result = accompany(model, context_notes, melody, start_s, end_s, SampleOptions(seed=1))
    result.notes        # the accompaniment, absolute seconds, none of the melody's notes
    song, result = accompany_song(model, song, track_index=0, start_s=0, end_s=16, options=...)  # + "Accompaniment"

The left-to-right co-composer samples the span as usual, but the melody's
NOTE_ON/NOTE_OFF (and SET_VELOCITY) tokens are fed to it at their times
instead of sampled: a TIME_SHIFT that would cross the next melody event is cut
to land exactly on it. The model cannot end a melody note or double a sounding
melody pitch (both masked), so everything it samples is accompaniment. The
model was trained on merged parts, so it already knows what goes under a
melody; no retraining is needed.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from composer.errors import ComposerError
from composer.model.constrained import (
    ForcedEvent,
    Span,
    drop_final_offs,
    forced_events,
    new_generator,
    sample_span,
    span_prefix,
    to_steps,
)
from composer.model.harmony import ConsonancePrior
from composer.model.sample import SampleOptions, guess_style
from composer.song import Note, Song, Track
from composer.tokens import STEP_S, encode

ACCOMPANIMENT_TRACK = "Accompaniment"
CONSONANCE_NATS = 3.0  # the consonance prior's strength, chosen on valid pieces (benchmarks/accompany_harmony.py)


@dataclass
class Accompaniment:
    notes: list[Note]  # the accompaniment, absolute seconds
    span: Span  # the span's tokens (melody forced), times from start_s
    style: str
    start_s: float
    end_s: float


def melody_in_span(melody: Sequence[Note], start_s: float, end_s: float) -> list[Note]:
    """The melody notes that start in [start_s, end_s), cut at end_s, seconds from start_s."""
    return [
        Note(n.pitch, n.velocity, n.start_s - start_s, min(n.end_s, end_s) - start_s)
        for n in melody
        if start_s <= n.start_s < end_s and to_steps(n.start_s) < to_steps(end_s)
    ]


def melody_held_over(melody: Sequence[Note], start_s: float, end_s: float, max_note_s: float) -> list[Note]:
    """Melody notes sounding across start_s (on the 10 ms grid, as the tokens hold them), seconds from
    start_s: each ends at its own end, the span's end, or the next onset of its pitch, the earliest."""
    start, end, cap = to_steps(start_s), to_steps(end_s), to_steps(max_note_s)
    out = {}
    for n in melody:
        on, off = to_steps(n.start_s), min(to_steps(n.end_s), to_steps(n.start_s) + cap, end)
        if on < start < off:
            later = [to_steps(m.start_s) for m in melody if m.pitch == n.pitch and start <= to_steps(m.start_s)]
            off = min([off, *later])
            if off > start:
                out[n.pitch] = Note(n.pitch, n.velocity, 0.0, (off - start) * STEP_S)
    return [out[p] for p in sorted(out)]


def accompany(
    model,
    context: Sequence[Note],
    melody: Sequence[Note],
    start_s: float,
    end_s: float,
    options: SampleOptions | None = None,
    pitch_range: tuple[int, int] = (0, 127),
    progress: Callable[[float], None] | None = None,
    consonance_nats: float = CONSONANCE_NATS,
) -> Accompaniment:
    """Accompany `melody` (absolute seconds) over [start_s, end_s).

    `context`: every pitched note of the song; those before start_s prime the
    model. `options.seconds` is ignored (the span sets the length); its key
    masks the accompaniment's NOTE_ONs only, never the melody's. `consonance_nats`: the strength of the
    consonance prior against the melody (composer/model/harmony.py; 0: the model alone)."""
    options = replace(options or SampleOptions(), seconds=max(end_s - start_s, STEP_S))
    options.validate()
    low, high = pitch_range
    if not 0 <= low <= high <= 127:
        raise ComposerError("--low/--high", f"need 0 <= low <= high <= 127, got {low}..{high}")
    if not 0 <= start_s < end_s:
        raise ComposerError("span", f"need 0 <= start < end seconds, got {start_s:g}..{end_s:g}")
    tune = melody_in_span(melody, start_s, end_s)
    if not tune:
        raise ComposerError("--track", f"the melody has no notes in {start_s:.2f}..{end_s:.2f} s")
    # A melody note sounding across start_s stays on in the model's view, ended by a forced NOTE_OFF.
    held = melody_held_over(melody, start_s, end_s, options.max_note_s)
    held_pitches = [n.pitch for n in held]
    prefix = drop_final_offs(span_prefix(context, start_s, options.max_note_s), held_pitches)
    gen = new_generator(options.seed)
    style = options.style or guess_style(model, prefix + encode(tune, options.max_note_s))
    steps = to_steps(end_s) - to_steps(start_s)
    forced = forced_events(tune, options.max_note_s) + [ForcedEvent(to_steps(n.end_s), False, n.pitch) for n in held]
    prior = ConsonancePrior(consonance_nats) if consonance_nats else None
    span = sample_span(
        model, style, prefix, steps, options, gen, forced, pitch_range, progress, held_pitches, prior=prior
    )
    notes = [Note(n.pitch, n.velocity, n.start_s + start_s, n.end_s + start_s) for n in span.free_notes]
    return Accompaniment(notes, span, style, start_s, end_s)


def accompany_song(
    model,
    song: Song,
    track_index: int,
    start_s: float,
    end_s: float,
    options: SampleOptions | None = None,
    pitch_range: tuple[int, int] = (0, 127),
    program: int = 0,
    progress: Callable[[float], None] | None = None,
) -> tuple[Song, Accompaniment]:
    """A copy of `song` with an "Accompaniment" track for track `track_index` (from 0)."""
    if not 0 <= track_index < len(song.tracks):
        raise ComposerError("--track", f"no track {track_index + 1}; the song has {len(song.tracks)} (from 1)")
    melody_track = song.tracks[track_index]
    if melody_track.is_drum:
        raise ComposerError("--track", f"track {track_index + 1} ({melody_track.name}) is drums, not a melody")
    result = accompany(model, song.all_notes(), melody_track.notes, start_s, end_s, options, pitch_range, progress)
    out = copy.deepcopy(song)
    out.tracks.append(Track(name=ACCOMPANIMENT_TRACK, program=program, notes=result.notes))
    return out, result
