"""Sound recipes for the DSP synth: one `Patch` per GM program, one per GM drum.

A patch is data, not code: a few wavetable layers (harmonic amplitudes, a
frequency ratio, an envelope), optional filtered noise, vibrato or a pitch
sweep. A layer's `ratio` lets a pure-sine layer sit at an inharmonic partial
(bells, marimba bars), slightly detuned (chorus for pads and ensembles) or
slightly stretched (the piano's sharp upper partials).

The types and family builders live in `recipes`, the GM tables in `gm_patches`; every name is
importable from here, where program_patch and drum_patch cache them.
"""

from __future__ import annotations

from functools import cache

from synth.instruments.dsp.gm_patches import (  # noqa: F401  (re-exported: imported from here)
    CHOIR,
    CLARINET,
    FLUTE,
    OBOE,
    PAD_AND_FX_NAMES,
    SAX,
    _drum_patch,
    _program_patch,
)
from synth.instruments.dsp.recipes import (  # noqa: F401  (re-exported: imported from here)
    REFERENCE_HZ,
    SINE,
    Layer,
    Noise,
    Patch,
    lower,
    plucked,
    saw,
    square,
    upper,
)


@cache
def program_patch(program: int) -> Patch:
    """The patch of GM program 0-127."""
    if not 0 <= program < 128:
        raise ValueError(f"GM program must be 0-127, not {program}")
    return _program_patch(program)


@cache
def drum_patch(key: int) -> Patch:
    """The patch of GM percussion key `key` (a MIDI note on channel 10)."""
    return _drum_patch(key)


# Hi-hats share one voice: a closed or pedal hat chokes the open one.
DRUM_CHOKES = {42: (46,), 44: (46,)}
