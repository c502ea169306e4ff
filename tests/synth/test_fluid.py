"""FluidSynth rendering: onsets land on their sample, the per-note mix equals one pass, times snap to blocks.

The FluidSynth tests are skipped, with the reason, only where FluidSynth or the soundfont is missing
(`make setup-train-audio` installs them); the snapping logic is tested everywhere.
"""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

from composer.errors import ComposerError
from composer.song import Note
from synth.data.fluid import DEFAULT_SOUNDFONT, FLUID_BLOCK_SAMPLES, fluidsynth_available, snap_to_fluid

SR = 24000
MISSING = fluidsynth_available()
needs_fluid = pytest.mark.skipif(MISSING is not None, reason=f"needs FluidSynth: {MISSING}")


def onset_sample(audio: np.ndarray) -> int:
    """First sample above -60 dB of the peak."""
    return int(np.flatnonzero(np.abs(audio) > 1e-3 * np.abs(audio).max())[0])


@pytest.fixture(scope="module")
def fluid():
    from synth.data.fluid import FluidRenderer

    with FluidRenderer(SR) as renderer:
        yield renderer


@needs_fluid
@pytest.mark.parametrize("program", [0, 24, 73])
@pytest.mark.parametrize("start_s", [0.1, 0.10125, 0.2371, 0.5003])
def test_onset_lands_on_its_sample(fluid, program, start_s):
    alone = fluid.render({program: [Note(72, 100, 0.0, 0.2)]})
    audio = fluid.render({program: [Note(72, 100, start_s, start_s + 0.2)]})
    expected = round(start_s * SR)
    assert abs(onset_sample(audio) - onset_sample(alone) - expected) <= 1
    np.testing.assert_allclose(audio[expected : expected + len(alone)], alone, atol=1e-6)


@needs_fluid
def test_polyphonic_onsets_each_land_on_their_sample(fluid):
    starts_s = [0.0, 0.0371, 0.1002, 0.15033]
    notes = [Note(48 + 7 * i, 90, t, t + 0.5) for i, t in enumerate(starts_s)]
    mix = fluid.render({0: notes})
    for i, note in enumerate(notes):
        alone_at_0 = fluid.render({0: [Note(note.pitch, 90, 0.0, 0.5)]})
        others = fluid.render({0: notes[:i] + notes[i + 1 :]})
        own = mix.copy()
        own[: len(others)] -= others  # what this note adds to the mix
        assert abs(onset_sample(own) - onset_sample(alone_at_0) - round(note.start_s * SR)) <= 1


@needs_fluid
def test_per_note_mix_equals_a_one_pass_render(fluid):
    """On block boundaries FluidSynth's own timing is exact, so a plain one-pass render is the reference."""
    block = FLUID_BLOCK_SAMPLES
    # (start block, pitch, velocity, length in blocks)
    events = [(0, 60, 100, 40), (10, 64, 70, 31), (25, 67, 120, 20), (30, 72, 50, 12), (45, 60, 80, 5)]
    notes = [Note(p, v, s * block / SR, (s + n) * block / SR) for s, p, v, n in events]
    mix = fluid.render({0: notes})

    import fluidsynth

    synth = fluidsynth.Synth(gain=0.5, samplerate=float(SR))
    synth.setting("synth.reverb.active", 0)
    synth.setting("synth.chorus.active", 0)
    synth.program_select(0, synth.sfload(str(DEFAULT_SOUNDFONT)), 0, 0)
    write = fluidsynth._fl.fluid_synth_write_float
    write.argtypes = [ctypes.c_void_p, ctypes.c_int] + [ctypes.c_void_p, ctypes.c_int, ctypes.c_int] * 2
    for pitch in range(60, 72):  # a voice slot's first use starts softer: touch every slot the notes will use
        synth.noteon(0, pitch, 100)
    for pitch in range(60, 72):
        synth.noteoff(0, pitch)
    for _ in range(4000):
        buf = np.zeros(2 * block, np.float32)
        write(synth.synth, block, buf.ctypes.data, 0, 2, buf.ctypes.data, 1, 2)
        if synth.get_active_voice_count() == 0:
            break
    ons = {s: (p, v) for s, p, v, _ in events}
    offs = {s + n: p for s, p, _, n in events}
    assert len(ons) == len(offs) == len(events)
    reference = []
    for b in range(len(mix) // block):
        if b in offs:
            synth.noteoff(0, offs[b])
        if b in ons:
            synth.noteon(0, *ons[b])
        buf = np.zeros(2 * block, np.float32)
        write(synth.synth, block, buf.ctypes.data, 0, 2, buf.ctypes.data, 1, 2)
        reference.append(buf.reshape(block, 2).mean(axis=1))
    synth.delete()
    reference = np.concatenate(reference)
    n = len(reference)
    assert np.abs(mix[:n] - reference).max() <= 1e-5 * np.abs(reference).max()


@needs_fluid
def test_a_note_sounds_for_its_length_then_releases(fluid):
    short = fluid.render({19: [Note(60, 100, 0.0, 0.1)]})
    long = fluid.render({19: [Note(60, 100, 0.0, 1.0)]})
    assert len(long) - len(short) == pytest.approx(0.9 * SR, abs=FLUID_BLOCK_SAMPLES)
    assert np.abs(long[int(0.8 * SR) : int(0.9 * SR)]).max() > 0.01  # the organ still holds at 0.8 s


@needs_fluid
def test_bad_program_is_refused(fluid):
    with pytest.raises(ComposerError, match="program"):
        fluid.render({128: [Note(60, 100, 0.0, 0.1)]})


def test_missing_soundfont_is_one_clear_error(tmp_path):
    from synth.data.fluid import FluidRenderer

    with pytest.raises(ComposerError, match="not"):
        FluidRenderer(SR, soundfont=tmp_path / "none.sf2")


def test_snap_puts_onsets_on_samples_and_lengths_in_blocks():
    notes = [Note(60, 100, 0.10001, 0.3), Note(64, 80, 0.0, 0.001), Note(60, 90, 0.2, 0.25)]
    snapped = snap_to_fluid(notes, SR)
    assert [n.pitch for n in snapped] == [64, 60, 60]
    for note in snapped:
        onset = note.start_s * SR
        length = (note.end_s - note.start_s) * SR
        assert onset == pytest.approx(round(onset))
        assert length == pytest.approx(round(length / FLUID_BLOCK_SAMPLES) * FLUID_BLOCK_SAMPLES)
        assert length >= FLUID_BLOCK_SAMPLES
    first_60, second_60 = snapped[1], snapped[2]
    assert first_60.start_s == pytest.approx(0.10001, abs=1 / SR)
    assert first_60.end_s <= second_60.start_s  # cut where the same pitch starts again


def test_snap_drops_a_doubled_note_and_refuses_bad_notes():
    assert len(snap_to_fluid([Note(60, 100, 0.5, 1.0), Note(60, 90, 0.5, 0.7)], SR)) == 1
    with pytest.raises(ComposerError, match="out of range"):
        snap_to_fluid([Note(60, 0, 0.0, 1.0)], SR)
