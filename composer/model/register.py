"""The co-composer writes for an instrument in that instrument's register, by octaves.

    primer_m, options_m, shift = in_register(primer, options)   # options.pitch_range: the instrument's
    notes = from_model(generate_notes(model, primer_m, options_m), shift)
    for item in stream_in_register(model, primer, options): ...  # the same, streamed

The corpus's music sits around MIDI 67 (its NOTE_ONs: 5th-95th percentile 52-79, median 67), and the
model writes there. A mask alone (SampleOptions.pitch_range) keeps a tuba's notes in 28..58 by squeezing
them against the top of the range (measured: median 58, p95 58, a melodic step of 0.7 semitones: one
note, repeated). Moving by whole octaves keeps every interval and key: the model hears the primer
`shift` lower than it sounds, writes where it is at home (its mask moved with it), and its notes come
out `shift` higher. The shift is the number of octaves between the range's middle and the corpus's.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace

from composer.model.sample import SampleOptions, StreamItem, stream
from composer.song import Note
from composer.tokens import NoteEvent

CORPUS_MEDIAN_PITCH = 67


def register_shift(pitch_range: tuple[int, int] | None) -> int:
    """Semitones (a multiple of 12) from the model's register to the range's: 0 without a range."""
    if pitch_range is None:
        return 0
    middle = (pitch_range[0] + pitch_range[1]) / 2
    return 12 * round((middle - CORPUS_MEDIAN_PITCH) / 12)


def moved(notes: Sequence[Note], semitones: int) -> list[Note]:
    """The notes moved by `semitones`; those it would take out of 0..127 are left out."""
    return [Note(n.pitch + semitones, n.velocity, n.start_s, n.end_s) for n in notes if 0 <= n.pitch + semitones <= 127]


def in_register(primer: Sequence[Note], options: SampleOptions) -> tuple[list[Note], SampleOptions, int]:
    """(the primer as the model hears it, the options with the range as the model writes it, the shift)."""
    shift = register_shift(options.pitch_range)
    if not shift:
        return list(primer), options, 0
    low, high = options.pitch_range
    model_range = (max(0, low - shift), min(127, high - shift))
    return moved(primer, -shift), replace(options, pitch_range=model_range), shift


def from_model(notes: Sequence[Note], shift: int) -> list[Note]:
    return moved(notes, shift) if shift else list(notes)


def stream_in_register(
    model, primer: Sequence[Note], options: SampleOptions, cancel: threading.Event | None = None
) -> Iterator[StreamItem]:
    """composer.model.sample.stream, written in the model's register and heard in the instrument's."""
    primer, options, shift = in_register(primer, options)
    for item in stream(model, primer, options, cancel):
        if shift:
            item = StreamItem(
                item.token, [NoteEvent(e.on, e.pitch + shift, e.velocity, e.time_s) for e in item.events], item.progress
            )
        yield item
