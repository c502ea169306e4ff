"""Prompted audio: request checks, exact lengths, windows that continue each other, loops, seeds, regeneration.

Real components on tiny configs: a randomly initialised 2-layer MelDiT (64-frame windows) and a tiny vocoder,
saved to files and loaded as the shipped ones would be, and the real MiniLM text encoder.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from prompt_fixtures import CLIP_FRAMES, save_tiny_prompt_models, tiny_diffusion, tiny_vocoder

from composer.errors import ComposerError
from composer.model.checkpoint import save_model
from composer.song import AudioClip
from synth.instruments.neural.neural_checkpoint import save_neural
from synth.prompt.flow_sampler import KIND, sample_mel
from synth.prompt.prompt_audio import (
    DEFAULT_GUIDANCE,
    LOOP_FADE_S,
    MAX_SECONDS,
    OVERLAP_FRAMES,
    PEAK_DBFS,
    SAMPLE_RATE,
    PromptGenerator,
    PromptRequest,
    close_loop,
    crossfade_log_mel,
    equal_power_weights,
    generate_prompt_audio,
    join_windows,
    plan_windows,
    prompted_clip,
    regenerate_clip,
    validate_request,
)

PEAK = 10 ** (PEAK_DBFS / 20)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return save_tiny_prompt_models(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def generator(models):
    return PromptGenerator(*models)


# ----- bad requests ---------------------------------------------------------------------------------------

BAD = {
    "empty prompt": (dict(prompt=""), "prompt", "empty"),
    "blank prompt": (dict(prompt="  \t\n "), "prompt", "empty"),
    "prompt not text": (dict(prompt=None), "prompt", "empty"),
    "very long prompt": (dict(prompt="cello " * 300), "prompt", "at most"),
    "zero seconds": (dict(seconds=0), "seconds", "0.1 to 30"),
    "negative seconds": (dict(seconds=-2.0), "seconds", "0.1 to 30"),
    "too long": (dict(seconds=MAX_SECONDS + 0.5), "seconds", "0.1 to 30"),
    "seconds nan": (dict(seconds=float("nan")), "seconds", "finite"),
    "seconds inf": (dict(seconds=float("inf")), "seconds", "finite"),
    "seconds text": (dict(seconds="4"), "seconds", "a number"),
    "guidance nan": (dict(guidance=float("nan")), "guidance", "finite"),
    "guidance inf": (dict(guidance=float("-inf")), "guidance", "finite"),
    "negative guidance": (dict(guidance=-1.0), "guidance", "0 to 20"),
    "zero steps": (dict(steps=0), "steps", "1 to 100"),
    "too many steps": (dict(steps=101), "steps", "1 to 100"),
    "fractional steps": (dict(steps=2.5), "steps", "whole number"),
    "negative seed": (dict(seed=-1), "seed", "whole number"),
    "seed text": (dict(seed="7"), "seed", "whole number"),
}


@pytest.mark.parametrize("change,what,expected", BAD.values(), ids=BAD.keys())
def test_bad_requests_are_one_clear_line(models, change, what, expected):
    request = PromptRequest(**{"prompt": "soft organ chords", "seconds": 2.0, **change})
    with pytest.raises(ComposerError) as info:
        validate_request(request, *models)
    assert info.value.path == what
    assert expected in info.value.problem and "\n" not in str(info.value)


def test_a_good_request_comes_back_tidied(models):
    request = validate_request(PromptRequest("  fast drum groove ", 3, steps=5, guidance=2, seed=9, loop=1), *models)
    assert request == PromptRequest("fast drum groove", 3.0, 5, 2.0, 9, True)
    assert isinstance(request.seconds, float) and request.loop is True


@pytest.mark.parametrize("missing", ["diffusion", "vocoder"])
def test_missing_weights_name_the_file(models, tmp_path, missing):
    diffusion, vocoder = models
    gone = tmp_path / missing / "model.safetensors"
    paths = (gone, vocoder) if missing == "diffusion" else (diffusion, gone)
    with pytest.raises(ComposerError) as info:
        validate_request(PromptRequest("soft organ chords", 2.0), *paths)
    assert info.value.path == str(gone) and missing in info.value.problem
    with pytest.raises(ComposerError) as info:
        generate_prompt_audio("soft organ chords", 2.0, diffusion_path=paths[0], vocoder_path=paths[1])
    assert info.value.path == str(gone)


def test_mismatched_weights_name_the_file(models, tmp_path):
    diffusion, vocoder = models
    with pytest.raises(ComposerError) as info:  # the two files swapped: each is of the other kind
        PromptGenerator(vocoder, diffusion)
    assert info.value.path == str(vocoder) and "mel-diffusion" in info.value.problem
    narrow = tmp_path / "narrow.safetensors"
    save_model(tiny_diffusion(n_mels=40), narrow, KIND)
    with pytest.raises(ComposerError) as info:
        PromptGenerator(narrow, vocoder)
    assert info.value.path == str(vocoder) and "80 mel bands" in info.value.problem and "40" in info.value.problem
    slow = tmp_path / "slow_vocoder.safetensors"
    save_neural(tiny_vocoder(sample_rate=16000), slow)
    with pytest.raises(ComposerError) as info:
        PromptGenerator(diffusion, slow)
    assert info.value.path == str(slow) and "16000 Hz" in info.value.problem


# ----- lengths, loudness, seeds ------------------------------------------------------------------------------


@pytest.mark.parametrize("loop", [False, True], ids=["once", "loop"])
@pytest.mark.parametrize("seconds", [0.1, 0.73, 2.0, 3.3])
def test_length_is_exact_and_peak_at_minus_1_dbfs(generator, seconds, loop):
    audio = generator.generate(PromptRequest("slow cello melody in D minor", seconds, steps=2, seed=1, loop=loop))
    assert audio.dtype == np.float32 and audio.shape == (round(seconds * SAMPLE_RATE),)
    assert np.all(np.isfinite(audio))
    assert float(np.abs(audio).max()) == pytest.approx(PEAK, rel=1e-5)


def test_same_seed_same_audio_other_seed_other_audio(generator):
    request = PromptRequest("fast drum groove", 1.5, steps=3, guidance=3.0, seed=11)
    a, b = generator.generate(request), generator.generate(request)
    assert np.array_equal(a, b)
    c = generator.generate(PromptRequest("fast drum groove", 1.5, steps=3, guidance=3.0, seed=12))
    assert not np.allclose(a, c)
    d = generator.generate(PromptRequest("soft organ chords", 1.5, steps=3, guidance=3.0, seed=11))
    assert not np.allclose(a, d)  # the text reaches the sound


def test_generate_prompt_audio_is_reproducible_and_reports_progress(models):
    calls = []
    paths = dict(diffusion_path=models[0], vocoder_path=models[1])
    audio = generate_prompt_audio(
        "soft organ chords", 1.0, steps=3, seed=5, progress=lambda *a: calls.append(a), **paths
    )
    again = generate_prompt_audio("soft organ chords", 1.0, steps=3, seed=5, **paths)
    assert np.array_equal(audio, again) and audio.shape == (SAMPLE_RATE,)
    total = calls[-1][1]
    assert [i for i, _ in calls] == list(range(1, total + 1)) and total % 3 == 0


# ----- windows ---------------------------------------------------------------------------------------------------


def test_plan_windows_covers_the_length_in_whole_windows():
    assert plan_windows(40, 64, 16) == [(0, 40)]  # one window made whole, its first 40 frames kept
    assert plan_windows(64, 64, 16) == [(0, 64)]
    plan = plan_windows(189, 64, 16)
    assert plan == [(0, 64), (16, 48), (16, 48), (35, 29)]  # the last window continues more frames
    assert all(known + new == 64 for known, new in plan[1:]) and sum(new for _, new in plan) == 189


def test_equal_power_crossfade_weights_and_mel_join():
    fade_out, fade_in = equal_power_weights(100)
    assert fade_out[0] == 1.0 and fade_in[0] == 0.0
    assert np.allclose(fade_out**2 + fade_in**2, 1.0)
    same = np.random.default_rng(0).normal(-4, 2, (80, 16)).astype(np.float32)
    assert np.allclose(crossfade_log_mel(same, same), same, atol=1e-5)  # equal frames stay as they are
    loud, soft = np.full((80, 16), 0.0, np.float32), np.full((80, 16), -20.0, np.float32)
    faded = crossfade_log_mel(loud, soft)
    assert np.all(np.diff(faded[0]) < 0)  # loud to soft, monotonically
    assert faded[0, 0] > -0.1 and faded[0, -1] < -3.0
    # halfway, the power is the mean of the two powers: log magnitude 0.5 * log(0.5 * (1 + e^-40))
    assert crossfade_log_mel(loud[:, :3], soft[:, :3])[0, 1] == pytest.approx(0.5 * math.log(0.5), abs=1e-5)
    window = np.concatenate([same[:, -6:], soft[:, :10]], axis=1)  # continues the last 6 frames, 10 new ones
    joined = join_windows(same, window, known=6, fade=4)
    assert joined.shape == (80, 16 + 10) and np.allclose(joined[:, :16], same, atol=1e-5)
    assert np.array_equal(joined[:, 16:], soft[:, :10])
    other = window.copy()
    other[:, :6] = 0.0  # a window whose version of the known frames differs: only the last 4 are faded
    joined = join_windows(same, other, known=6, fade=4)
    assert np.array_equal(joined[:, :12], same[:, :12]) and np.allclose(
        joined[:, 12:16], crossfade_log_mel(same[:, 12:], other[:, 2:6])
    )


def test_long_requests_are_windows_that_continue_each_other(generator):
    """Each window after the first continues the frames made so far (held exactly by the sampler), so the
    first window is kept as it was and the joins are seamless in the mel; every window is made whole."""
    overlap = generator.overlap_frames
    assert overlap == min(OVERLAP_FRAMES, CLIP_FRAMES // 4)
    request = PromptRequest("slow cello melody in D minor", 2.0, steps=3, seed=4)
    text = torch.from_numpy(generator.text_encoder.encode([request.prompt]))
    n_frames = generator.frames_for(request.n_samples)
    calls = []
    mel = generator.sample_mel(text, n_frames, request, lambda i, n: calls.append((i, n)))
    plan = plan_windows(n_frames, CLIP_FRAMES, overlap)
    assert len(plan) >= 3 and mel.shape == (80, n_frames)
    assert calls == [(i, 3 * len(plan)) for i in range(1, 3 * len(plan) + 1)]
    rng = torch.Generator().manual_seed(4)
    first = sample_mel(generator.model, text, CLIP_FRAMES, steps=3, guidance=DEFAULT_GUIDANCE, generator=rng)[0].numpy()
    assert np.allclose(mel[:, :CLIP_FRAMES], first, atol=1e-4)  # the overlap frames too: continued, not remade
    # The second window, drawn next from the same generator, continues the first one's last frames.
    second = sample_mel(
        generator.model,
        text,
        CLIP_FRAMES,
        steps=3,
        guidance=DEFAULT_GUIDANCE,
        generator=rng,
        known=torch.from_numpy(first[None, :, -overlap:]),
    )[0].numpy()
    assert np.allclose(mel[:, CLIP_FRAMES : 2 * CLIP_FRAMES - overlap], second[:, overlap:], atol=1e-4)
    # ...and differs from a window made without that context.
    fresh = sample_mel(
        generator.model,
        text,
        CLIP_FRAMES,
        steps=3,
        guidance=DEFAULT_GUIDANCE,
        generator=torch.Generator().manual_seed(9),
    )
    assert not np.allclose(second[:, overlap:], fresh[0, :, overlap:].numpy(), atol=1e-2)


def test_a_short_request_keeps_the_start_of_a_whole_window(generator):
    request = PromptRequest("fast drum groove", 0.3, steps=2, seed=3)
    text = torch.from_numpy(generator.text_encoder.encode([request.prompt]))
    n_frames = generator.frames_for(request.n_samples)
    assert n_frames < CLIP_FRAMES
    mel = generator.sample_mel(text, n_frames, request, None)
    whole = sample_mel(
        generator.model,
        text,
        CLIP_FRAMES,
        steps=2,
        guidance=DEFAULT_GUIDANCE,
        generator=torch.Generator().manual_seed(3),
    )
    assert np.allclose(mel, whole[0, :, :n_frames].numpy(), atol=1e-5)


def test_a_long_clip_decodes_in_one_pass_with_latency_removed(generator):
    seconds = 3.0
    audio = generator.generate(PromptRequest("fast drum groove", seconds, steps=2, seed=3))
    assert audio.shape == (round(seconds * SAMPLE_RATE),)
    # Not silent anywhere: every window boundary carries sound (a join that dropped frames would leave gaps).
    hop = 256
    frames = audio[: len(audio) // hop * hop].reshape(-1, hop)
    assert np.all(np.sqrt((frames**2).mean(axis=1))[2:-2] > 1e-3)


# ----- loops ------------------------------------------------------------------------------------------------------


def test_close_loop_makes_the_end_run_into_the_start():
    n = 24000
    t = np.arange(n + 6000) / SAMPLE_RATE
    audio = np.sin(2 * np.pi * 3.7 * t).astype(np.float32)  # 3.7 cycles a second: no whole number per second
    naive_jump = abs(audio[n - 1] - audio[0])
    looped = close_loop(audio, n)
    steps = np.abs(np.diff(looped))
    assert looped.shape == (n,)
    assert naive_jump > 50 * steps.max()  # a plain cut clicks...
    assert abs(looped[0] - looped[-1]) <= steps.max() * 1.01  # ...the closed loop does not
    assert looped[0] == audio[n]  # it is the sample that really came after the last one
    assert np.array_equal(looped[6000:], audio[6000:n])  # after the crossfade the clip is untouched


def test_a_generated_loop_wraps_without_a_jump(generator):
    seconds = 1.7
    request = PromptRequest("soft organ chords", seconds, steps=3, seed=2, loop=True)
    audio = generator.generate(request)
    n = round(seconds * SAMPLE_RATE)
    assert audio.shape == (n,)
    steps = np.abs(np.diff(audio))
    wrap = abs(float(audio[0]) - float(audio[-1]))
    assert wrap <= np.percentile(steps, 99)
    # Across the wrap, the last sample is followed by the one the model made right after it.
    fade = round(LOOP_FADE_S * SAMPLE_RATE)
    raw = generator.raw_audio(request, n + fade)
    gain = audio[-1] / raw[n - 1]
    assert np.allclose(audio[fade:], raw[fade:n] * gain, atol=1e-6)
    assert audio[0] == pytest.approx(raw[n] * gain, abs=1e-6)


def test_a_clip_that_is_not_a_loop_starts_and_ends_softly(generator):
    audio = generator.generate(PromptRequest("fast drum groove", 1.0, steps=2, seed=2))
    assert abs(audio[0]) < 0.05 * PEAK and abs(audio[-1]) < 0.05 * PEAK


# ----- prompted clips ----------------------------------------------------------------------------------------------


def test_regenerate_clip_same_seed_same_sound_new_seed_new_sound(generator):
    request = PromptRequest("slow cello melody", 1.2, steps=3, guidance=2.5, seed=21, loop=True)
    clip = prompted_clip(request, generator.generate(request), start_s=1.5)
    assert (clip.prompt, clip.seed, clip.steps, clip.guidance, clip.loop) == ("slow cello melody", 21, 3, 2.5, True)
    assert clip.name == "slow cello melody" and clip.duration_s == pytest.approx(1.2)
    again = regenerate_clip(clip, generator=generator)
    assert np.array_equal(again.samples, clip.samples) and again.seed == 21
    new = regenerate_clip(clip, seed=22, generator=generator)
    assert new.seed == 22 and not np.allclose(new.samples, clip.samples)
    assert new.samples.shape == clip.samples.shape and new.start_s == 1.5 and new.loop and new.steps == 3
    assert clip.seed == 21  # the clip given is left as it was (undo keeps it)


def test_regenerate_refuses_clips_without_a_prompt_or_length(generator):
    with pytest.raises(ComposerError, match="no prompt"):
        regenerate_clip(AudioClip(name="take", samples=np.zeros(100, np.float32)), generator=generator)
    with pytest.raises(ComposerError, match="no audio"):
        regenerate_clip(AudioClip(name="p", prompt="cello"), generator=generator)


def test_a_prompted_clip_plays_in_the_engine_and_the_wav_export(generator):
    """Placed in a song, the clip is mixed by the engine (offline render = WAV export) where it starts."""
    from composer.song import Note, Song, Track
    from synth.render import render_song

    request = PromptRequest("soft organ chords", 1.0, steps=2, seed=8)
    clip = prompted_clip(request, generator.generate(request), start_s=0.5)
    song = Song(tracks=[Track(name="Piano", notes=[Note(60, 1, 0.0, 0.1)], volume=0.0)], clips=[clip])
    mix = render_song(song, sample_rate=SAMPLE_RATE)
    start = SAMPLE_RATE // 2
    assert mix.shape[0] >= start + SAMPLE_RATE
    assert np.abs(mix[:start]).max() < 1e-6  # nothing before the clip starts
    centred = clip.samples * np.float32(math.sqrt(0.5))  # a mono clip sits in the middle at -3 dB
    assert np.allclose(mix[start : start + SAMPLE_RATE, 0], centred, atol=1e-3)
    assert np.allclose(mix[start : start + SAMPLE_RATE, 1], centred, atol=1e-3)


def test_a_controls_model_is_given_the_tempo_key_and_a_grid_that_goes_on_across_windows(tmp_path, monkeypatch):
    """A model trained with controls gets the request's BPM, key and meter, and each window the beat grid
    from where it starts in the clip; nothing is stretched or moved afterwards. Another BPM: another clip."""
    import synth.prompt.flow_sampler as flow_sampler

    generator = PromptGenerator(*save_tiny_prompt_models(tmp_path, controls=True))
    assert generator.model.cfg.controls and not generator.conform_tempo and not generator.conform_key
    seen = []
    real = flow_sampler.sample_mel

    def spy(*args, **kwargs):
        seen.append(kwargs.get("controls"))
        return real(*args, **kwargs)

    monkeypatch.setattr(flow_sampler, "sample_mel", spy)
    request = PromptRequest("drum groove", 2.0, steps=2, seed=1, bpm=120.0, key="D:minor")
    audio = generator.generate(request)
    assert len(audio) == request.n_samples and generator.last_ratio == 1.0 and generator.last_shift == 0
    assert len(seen) >= 3 and all(c is not None for c in seen)
    plan = plan_windows(generator.frames_for(request.n_samples), CLIP_FRAMES, generator.overlap_frames)
    starts, made = [], 0
    for n_known, n_new in plan:
        starts.append(made - n_known if made else 0)
        made += n_new if made else n_known + n_new
    from synth.prompt.controls import ControlLabels, grid_features

    labels = ControlLabels.of([120.0], [2], [1], [4], [0.0])
    whole = grid_features(labels, made + CLIP_FRAMES)[0]
    for controls, start in zip(seen, starts, strict=True):
        np.testing.assert_allclose(controls.grid[0].numpy(), whole[start : start + CLIP_FRAMES], atol=1e-5)
    assert controls.global_features[0].abs().sum() > 0
    other = generator.generate(PromptRequest("drum groove", 2.0, steps=2, seed=1, bpm=90.0, key="D:minor"))
    assert not np.allclose(audio, other, atol=1e-4)
    plain = generator.generate(PromptRequest("drum groove", 2.0, steps=2, seed=1))
    assert seen[-1].global_features.abs().sum() == 0 and not seen[-1].grid.any()  # nothing asked: all unknown
    assert not np.allclose(plain, audio, atol=1e-4)


def test_a_request_names_its_meter_and_a_bad_one_is_refused(models):
    assert validate_request(PromptRequest("x", 1.0, bpm=100.0, beats_per_bar=3), *models).beats_per_bar == 3
    for bad in (0, 17, 2.5, True, "4"):
        with pytest.raises(ComposerError, match="beats_per_bar"):
            validate_request(PromptRequest("x", 1.0, beats_per_bar=bad), *models)


def test_the_prompt_vocoder_is_preferred_where_it_is(tmp_path, monkeypatch):
    _, vocoder = save_tiny_prompt_models(tmp_path)
    monkeypatch.setenv("COMPOSER_MODELS", str(tmp_path))
    assert PromptGenerator().vocoder_path == vocoder  # only the instruments' vocoder: that one
    tuned = tmp_path / "prompt_vocoder" / "model.safetensors"
    tuned.parent.mkdir()
    save_neural(tiny_vocoder(), tuned)
    assert PromptGenerator().vocoder_path == tuned
