"""The DSP synth: every GM program sounds, pitches are right, controls do what they say."""

from __future__ import annotations

import numpy as np
import pytest
from dsp_checks import SR, centroid_hz, first_sound, fundamental_hz, peak_hz, play, rms

from composer.gm import family_name
from synth.instruments.dsp.dsp import DspSynth, midi_to_hz
from synth.instruments.dsp.envelope import TAIL_TAUS

A3 = 57  # 220 Hz
# One pitched program from each family whose sound has a clear pitch (the first of the family where it fits).
PITCHED = [0, 4, 6, 8, 11, 12, 16, 19, 21, 24, 29, 32, 38, 40, 46, 48, 52, 56, 60, 64, 68, 71, 73, 75,
           80, 81, 88, 89, 104, 107, 108, 112, 114]  # fmt: skip


def held_note(program: int, pitch: int = A3, velocity: int = 100, seconds: float = 1.0, release_s: float = 2.0):
    synth = DspSynth(program)
    on, off = 0, int(seconds * SR)
    audio = play(synth, [(on, "note_on", pitch, velocity), (off, "note_off", pitch)], off + int(release_s * SR))
    return synth, audio


@pytest.mark.parametrize("program", range(128))
def test_every_program_sounds_and_falls_silent(program):
    tail_s = TAIL_TAUS * DspSynth(program).patch.release_s + 0.1  # the release reaches -60 dB, then the voice ends
    synth, audio = held_note(program, pitch=60, seconds=0.6, release_s=tail_s)
    assert np.isfinite(audio).all()
    assert np.abs(audio[: int(0.6 * SR)]).max() > 0.01, f"program {program} is silent"
    assert np.abs(audio).max() < 1.0
    assert synth.active_voices == 0, f"program {program} still sounds {tail_s:.1f} s after its note-off"
    assert not audio[-1000:].any()


@pytest.mark.parametrize("program", PITCHED)
def test_pitched_families_have_the_expected_fundamental(program):
    _, audio = held_note(program, A3, seconds=1.0)
    body = audio[int(0.25 * SR) : int(1.0 * SR)]
    f0 = fundamental_hz(body)
    assert f0 == pytest.approx(220.0, rel=0.025), f"{family_name(program)} program {program}: {f0:.1f} Hz"


def test_pitch_follows_the_key():
    for pitch in (36, 48, 60, 72, 84):
        _, audio = held_note(73, pitch, seconds=0.8)  # flute: near-sine
        assert fundamental_hz(audio[int(0.2 * SR) : int(0.8 * SR)]) == pytest.approx(midi_to_hz(pitch), rel=0.02)


@pytest.mark.parametrize("program", [0, 24, 40, 56, 73, 80])
def test_velocity_makes_it_louder(program):
    _, soft = held_note(program, velocity=30, seconds=0.5, release_s=0.1)
    _, loud = held_note(program, velocity=120, seconds=0.5, release_s=0.1)
    assert rms(loud) > 2.0 * rms(soft)


def test_piano_is_brighter_when_struck_harder():
    _, soft = held_note(0, 60, velocity=30, seconds=0.3, release_s=0.0)
    _, loud = held_note(0, 60, velocity=127, seconds=0.3, release_s=0.0)
    assert centroid_hz(loud) > 1.3 * centroid_hz(soft)


def test_piano_decays_and_organ_does_not():
    _, piano = held_note(0, 60, seconds=3.0, release_s=0.0)
    _, organ = held_note(16, 60, seconds=3.0, release_s=0.0)
    early, late = slice(int(0.1 * SR), int(0.4 * SR)), slice(int(2.6 * SR), int(2.9 * SR))
    assert rms(piano[late]) < 0.5 * rms(piano[early])
    assert rms(organ[late]) == pytest.approx(rms(organ[early]), rel=0.05)


def test_strings_have_a_slow_attack():
    _, strings = held_note(48, 60, seconds=1.0)
    _, piano = held_note(0, 60, seconds=1.0)
    first_20ms = slice(0, int(0.02 * SR))
    assert rms(strings[first_20ms]) < 0.3 * rms(strings[int(0.5 * SR) : int(0.9 * SR)])
    assert rms(piano[first_20ms]) > rms(piano[int(0.5 * SR) : int(0.9 * SR)])


def test_clarinet_is_mostly_odd_harmonics():
    _, audio = held_note(71, A3, seconds=1.0)
    from dsp_checks import spectrum

    freqs, mag = spectrum(audio[int(0.3 * SR) : SR])

    def at(hz):
        return mag[np.abs(freqs - hz) < 8].max()

    odd = at(3 * 220) + at(5 * 220)
    even = at(2 * 220) + at(4 * 220)
    assert odd > 4 * even


def test_note_off_releases_to_silence():
    synth = DspSynth(0)
    audio = play(synth, [(0, "note_on", 60, 100), (SR // 2, "note_off", 60)], SR // 2 + 256)
    assert synth.active_voices == 1  # the release tail is still sounding
    assert np.abs(audio[-256:]).max() > 1e-4
    tail = play(synth, [], 2 * SR)
    assert synth.active_voices == 0
    assert not tail[-SR:].any()


def test_sustain_pedal_holds_notes_until_it_is_lifted():
    synth = DspSynth(16)  # organ: no decay of its own
    events = [(0, "control_change", 64, 127), (100, "note_on", 60, 100), (SR // 4, "note_off", 60)]
    held = play(synth, events, 2 * SR)
    assert synth.active_voices == 1
    assert rms(held[-SR // 4 :]) == pytest.approx(rms(held[SR // 8 : SR // 4]), rel=0.05)
    play(synth, [(0, "control_change", 64, 0)], SR)
    assert synth.active_voices == 0


def test_pitch_bend_shifts_the_frequency():
    synth = DspSynth(73)
    audio = play(synth, [(0, "note_on", A3, 100), (SR, "pitch_bend", 2.0)], 2 * SR)
    before = fundamental_hz(audio[SR // 4 : SR])
    after = fundamental_hz(audio[SR + SR // 4 :])
    assert after / before == pytest.approx(2 ** (2 / 12), rel=0.01)


def test_polyphony_limit_steals_voices():
    synth = DspSynth(48, max_voices=4)
    events = [(i * 100, "note_on", 48 + i, 100) for i in range(10)]
    fading = 0
    for start in range(0, 2000, 100):
        play(synth, [(f - start, *rest) for f, *rest in events if start <= f < start + 100], 100, block_frames=100)
        assert synth.active_voices - synth.fading_voices <= 4
        fading = max(fading, synth.fading_voices)
    assert fading > 0
    play(synth, [], SR // 10)  # the stolen voices' 5 ms fades are over
    assert synth.active_voices == 4 and synth.fading_voices == 0
    assert sorted(synth.pitch[: synth.active_voices]) == [54, 55, 56, 57]  # the oldest were stolen


def test_stealing_prefers_released_voices():
    synth = DspSynth(0, max_voices=2)
    events = [(0, "note_on", 60, 100), (10, "note_on", 62, 100), (1000, "note_off", 60), (2000, "note_on", 64, 100)]
    play(synth, events, SR // 2)
    assert sorted(synth.pitch[: synth.active_voices]) == [62, 64]


EVENTS = [
    (1000, "note_on", 60, 100),
    (1500, "note_on", 64, 80),
    (20000, "note_off", 60),
    (30001, "pitch_bend", 1.0),
    (40000, "note_off", 64),
    (41000, "note_on", 67, 127),
    (45555, "control_change", 64, 127),
    (60000, "note_off", 67),
    (70000, "control_change", 64, 0),
    (80000, "note_on", 72, 90),
    (80000, "note_on", 76, 90),
    (81111, "control_change", 7, 60),
]


@pytest.mark.parametrize("program", [0, 16, 24, 48, 73])
def test_block_size_does_not_change_the_audio(program):
    reference = play(DspSynth(program), EVENTS, 2 * SR, block_frames=1024)
    for block_frames in (64, 1000, 4096):
        audio = play(DspSynth(program), EVENTS, 2 * SR, block_frames=block_frames)
        np.testing.assert_allclose(audio, reference, rtol=0, atol=1e-5)
    assert rms(reference) > 0.01


def test_drum_kit_is_block_size_independent():
    events = [(i * 3001 + 17, "note_on", key, 100) for i, key in enumerate([36, 42, 38, 46, 42, 45, 49, 44, 51, 56])]
    reference = play(DspSynth(0, is_drum=True), events, SR, block_frames=1024)
    audio = play(DspSynth(0, is_drum=True), events, SR, block_frames=64)
    np.testing.assert_allclose(audio, reference, rtol=0, atol=1e-5)


@pytest.mark.parametrize("offset", [0, 1, 333, 1023])
def test_notes_start_on_their_frame(offset):
    for program, is_drum, pitch in [(0, False, 60), (48, False, 60), (0, True, 38)]:
        synth = DspSynth(program, is_drum)
        audio = play(synth, [(1024 + offset, "note_on", pitch, 100)], 4096)
        assert not audio[: 1024 + offset].any()
        assert abs(first_sound(audio) - (1024 + offset)) <= 1


def test_a_note_on_later_than_the_block_waits_for_its_block():
    synth = DspSynth(0)
    synth.note_on(60, 100, frame_offset=1500)
    first = synth.render(1024)
    second = synth.render(1024)
    assert not first.any()
    assert abs(first_sound(second) - (1500 - 1024)) <= 1


def test_reset_silences_at_once():
    synth = DspSynth(48)
    play(synth, [(0, "note_on", 60, 100), (0, "note_on", 64, 100)], SR // 2)
    synth.reset()
    assert synth.active_voices == 0
    assert not synth.render(512).any()


def test_kick_is_low_and_falls_in_pitch():
    synth = DspSynth(0, is_drum=True)
    audio = play(synth, [(0, "note_on", 36, 120)], SR // 2)
    assert centroid_hz(audio[: SR // 4]) < 400
    early = np.count_nonzero(np.diff(np.sign(audio[20 : int(0.02 * SR)])))  # zero crossings per 20 ms
    late = np.count_nonzero(np.diff(np.sign(audio[int(0.1 * SR) : int(0.12 * SR)])))
    assert early > late
    play(synth, [], 2 * SR)
    assert synth.active_voices == 0  # a kick dies away on its own, note-off or not


def test_hats_are_high_snare_is_in_between_toms_are_tuned():
    def hit(key, seconds=0.3):
        return play(DspSynth(0, is_drum=True), [(0, "note_on", key, 110)], int(seconds * SR))

    hat, snare, kick = hit(42), hit(38), hit(36)
    assert centroid_hz(hat) > 6000
    assert centroid_hz(kick) < centroid_hz(snare) < centroid_hz(hat)
    low_tom, high_tom = peak_hz(hit(41)), peak_hz(hit(50))
    assert 60 < low_tom < high_tom < 300
    crash = hit(49, 1.5)
    assert rms(crash[SR : int(1.5 * SR)]) > 0.1 * rms(crash[: SR // 4])  # a cymbal rings


def test_drums_ring_past_note_off_and_closed_hat_chokes_open_hat():
    synth = DspSynth(0, is_drum=True)
    audio = play(synth, [(0, "note_on", 46, 100), (100, "note_off", 46)], SR // 10)
    assert rms(audio[-1000:]) > 1e-3  # the open hat still rings after its note-off
    choked = play(DspSynth(0, is_drum=True), [(0, "note_on", 46, 100), (2400, "note_on", 42, 1)], SR // 2)
    ringing = play(DspSynth(0, is_drum=True), [(0, "note_on", 46, 100)], SR // 2)
    assert rms(choked[SR // 4 :]) < 0.1 * rms(ringing[SR // 4 :])


def test_all_notes_off_and_volume_controllers():
    synth = DspSynth(16)
    loud = play(synth, [(0, "note_on", 60, 100)], SR // 4)
    quiet = play(synth, [(0, "control_change", 7, 64)], SR // 4)
    assert rms(quiet[1000:]) == pytest.approx(rms(loud[SR // 8 :]) * (64 / 127) ** 2, rel=0.05)
    play(synth, [(0, "control_change", 123, 0)], SR)
    assert synth.active_voices == 0


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="0-127"):
        DspSynth(128)
    with pytest.raises(ValueError, match="sample_rate"):
        DspSynth(0, sample_rate=10)
    with pytest.raises(ValueError, match="finite"):
        DspSynth(0).pitch_bend(float("nan"))


@pytest.mark.parametrize("sample_rate", [22050, 44100, 96000])
def test_other_sample_rates_keep_the_pitch(sample_rate):
    synth = DspSynth(73, sample_rate=sample_rate)
    audio = play(synth, [(0, "note_on", A3, 100)], sample_rate)
    assert fundamental_hz(audio[sample_rate // 4 :], sample_rate) == pytest.approx(220.0, rel=0.02)
