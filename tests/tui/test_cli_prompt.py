"""`composer prompt`: bad requests exit 2 with one line and no file; good ones write an exact WAV and a project clip."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import soundfile as sf
from prompt_fixtures import save_tiny_prompt_models

from composer.files.project import LOCK_NAME, load_project, save_project
from composer.song import Note, Song, Track
from synth.prompt.prompt_audio import PEAK_DBFS
from tui.cli import main


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return save_tiny_prompt_models(tmp_path_factory.mktemp("models"))


def weights(models) -> list[str]:
    return ["--diffusion", str(models[0]), "--vocoder", str(models[1])]


def files_in(folder) -> list[str]:
    """The files and folders under `folder`, less a clips folder's save lock (composer.files.project.LOCK_NAME:
    a hidden file that serialises saves of a project; it stays, empty, after a save)."""
    return sorted(p.name for p in folder.rglob("*") if not (p.name == LOCK_NAME and p.parent.suffix == ".clips"))


BAD = {
    "empty prompt": (["", "--seconds", "2"], "prompt: is empty"),
    "blank prompt": (["   ", "--seconds", "2"], "prompt: is empty"),
    "zero seconds": (["cello", "--seconds", "0"], "--seconds: expected 0.1 to 30 seconds"),
    "too long": (["cello", "--seconds", "31"], "--seconds: expected 0.1 to 30 seconds"),
    "seconds nan": (["cello", "--seconds", "nan"], "--seconds: expected a finite number"),
    "guidance inf": (["cello", "--seconds", "2", "--guidance", "inf"], "--guidance: expected a finite number"),
    "guidance nan": (["cello", "--seconds", "2", "--guidance", "nan"], "--guidance: expected a finite number"),
    "negative guidance": (["cello", "--seconds", "2", "--guidance", "-1"], "--guidance: expected 0 to 20"),
    "key guidance nan": (["cello", "--seconds", "2", "--key-guidance", "nan"], "--key-guidance: expected 0 to 50"),
    "key guidance 99": (["cello", "--seconds", "2", "--key-guidance", "99"], "--key-guidance: expected 0 to 50"),
    "no steps": (["cello", "--seconds", "2", "--steps", "0"], "--steps: expected a whole number from 1 to 100"),
    "negative seed": (["cello", "--seconds", "2", "--seed", "-3"], "--seed: expected a whole number"),
    "not a wav": (["cello", "--seconds", "2", "-o", "{tmp}/out.mp3"], "expected a .wav output file"),
    "no folder": (["cello", "--seconds", "2", "-o", "{tmp}/nowhere/out.wav"], "does not exist"),
    "nowhere to write": (["cello", "--seconds", "2"], "-o: give the WAV file to write"),
    "--at alone": (["cello", "--seconds", "2", "--at", "1"], "--at: places the clip in a project"),
    "negative threads": (["cello", "--seconds", "2", "--threads", "-1"], "--threads: expected 0"),
    "negative --at": (["cello", "--seconds", "2", "--project", "{tmp}/p.json", "--at", "-1"], "--at: expected"),
    "bars, no tempo": (["cello", "--bars", "2"], "--bars: needs a tempo"),
    "no bars": (["cello", "--bars", "0", "--bpm", "120"], "--bars: expected 1 bar or more"),
    "bpm too fast": (["cello", "--seconds", "2", "--bpm", "500"], "--bpm: expected 40 to 240 BPM"),
    "repeats, no loop": (["cello", "--seconds", "2", "--repeats", "3", "--project", "{tmp}/p.json"], "--repeats:"),
}


@pytest.mark.parametrize("argv,message", BAD.values(), ids=BAD.keys())
def test_bad_requests_exit_2_with_one_line_and_no_file(tmp_path, capsys, models, argv, message):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    if "-o" not in argv and not message.startswith("-o:"):  # a place to write, so the request is what fails
        argv += ["-o", str(tmp_path / "out.wav")]
    assert main(["prompt", *argv, *weights(models)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("composer: ") and message in err
    assert files_in(tmp_path) == []


@pytest.mark.parametrize("missing", ["diffusion", "vocoder"])
def test_missing_weights_name_the_file_and_leave_the_project_alone(tmp_path, capsys, models, missing):
    project = tmp_path / "song.json"
    save_project(Song(tracks=[Track(name="P", notes=[Note(60, 80, 0.0, 1.0)])]), project)
    before = project.read_bytes()
    gone = tmp_path / "gone.safetensors"
    paths = {"diffusion": str(models[0]), "vocoder": str(models[1]), missing: str(gone)}
    argv = ["prompt", "soft organ chords", "--seconds", "1", "-o", str(tmp_path / "out.wav"), "--project", str(project)]
    assert main([*argv, "--diffusion", paths["diffusion"], "--vocoder", paths["vocoder"]]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(gone) in err and missing in err
    assert project.read_bytes() == before and files_in(tmp_path) == ["song.json"]


def test_mismatched_weights_exit_2(tmp_path, capsys, models):
    out = tmp_path / "out.wav"
    argv = ["prompt", "cello", "--seconds", "1", "-o", str(out), "--diffusion", str(models[1])]
    assert main([*argv, "--vocoder", str(models[0])]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(models[1]) in err and "mel-diffusion" in err
    assert not out.exists()


@pytest.mark.parametrize("loop", [False, True], ids=["once", "loop"])
def test_writes_a_wav_of_the_exact_length(tmp_path, capsys, models, loop):
    out = tmp_path / "cello.wav"
    argv = ["prompt", "slow cello melody in D minor", "--seconds", "1.3", "--steps", "3", "--seed", "4", "-o", str(out)]
    assert main([*argv, *(["--loop"] if loop else []), "--bit-depth", "24", *weights(models)]) == 0
    audio, rate = sf.read(out, dtype="float32")
    assert rate == 24000 and audio.shape == (31200,) and sf.info(out).subtype == "PCM_24"
    assert 20 * np.log10(np.abs(audio).max()) == pytest.approx(PEAK_DBFS, abs=0.01)
    printed = capsys.readouterr().out
    assert f"wrote {out} (1.30 s, 24000 Hz, 24-bit, peak -1.0 dBFS)" in printed
    assert files_in(tmp_path) == ["cello.wav"]  # no temporary file left behind
    again = tmp_path / "again.wav"
    assert main([*argv[:-1], str(again), *(["--loop"] if loop else []), "--bit-depth", "24", *weights(models)]) == 0
    assert np.array_equal(sf.read(again, dtype="float32")[0], audio)  # same seed, same audio


def test_adds_a_prompted_clip_to_a_project(tmp_path, capsys, models):
    project = tmp_path / "song.json"
    save_project(Song(tracks=[Track(name="Piano", notes=[Note(60, 80, 0.0, 1.0)])]), project)
    out = tmp_path / "drums.wav"
    argv = ["prompt", " fast drum groove ", "--seconds", "2", "--steps", "2", "--guidance", "2.5", "--seed", "9"]
    assert main([*argv, "--loop", "-o", str(out), "--project", str(project), "--at", "1.5", *weights(models)]) == 0
    song = load_project(project)
    assert [t.name for t in song.tracks] == ["Piano"] and len(song.clips) == 1
    clip = song.clips[0]
    assert (clip.prompt, clip.seed, clip.steps, clip.guidance, clip.loop) == ("fast drum groove", 9, 2, 2.5, True)
    assert clip.start_s == 1.5 and clip.sample_rate == 24000 and clip.samples.shape == (48000,)
    wav, _ = sf.read(out, dtype="float32")
    assert np.allclose(clip.samples, wav, atol=1 / 2**15)  # the project's float copy and the 16-bit WAV
    assert "added 'fast drum groove' (2.00 s at 1.5 s, seed 9)" in capsys.readouterr().out
    assert json.loads(project.read_text())["clips"][0]["path"].startswith("song.clips/")


def test_a_project_only_run_makes_a_new_project(tmp_path, models):
    project = tmp_path / "new.json"
    assert (
        main(
            ["prompt", "soft organ chords", "--seconds", "0.5", "--steps", "1", "--project", str(project)]
            + weights(models)
        )
        == 0
    )
    song = load_project(project)
    assert song.clips[0].start_s == 0.0 and song.clips[0].duration_s == pytest.approx(0.5)
    clip_file = json.loads(project.read_text())["clips"][0]["path"]  # new.clips/<name>-<digest of the samples>.wav
    assert re.fullmatch(r"new\.clips/soft-organ-chords-[0-9a-f]{16}\.wav", clip_file)
    assert files_in(tmp_path) == sorted([clip_file.split("/")[1], "new.clips", "new.json"])


def test_a_broken_project_exits_2_before_generating(tmp_path, capsys, models):
    project = tmp_path / "bad.json"
    project.write_text("{not json")
    out = tmp_path / "out.wav"
    argv = ["prompt", "cello", "--seconds", "1", "-o", str(out), "--project", str(project), *weights(models)]
    assert main(argv) == 2
    assert "invalid JSON" in capsys.readouterr().err and not out.exists()
    assert project.read_text() == "{not json"


def test_bars_at_a_tempo_make_that_many_bars_held_at_it(tmp_path, capsys, models):
    out = tmp_path / "groove.wav"
    argv = ["prompt", "drum groove", "--bars", "2", "--bpm", "120", "--steps", "2", "-o", str(out)]
    assert main([*argv, *weights(models)]) == 0
    audio, rate = sf.read(out, dtype="float32")
    assert audio.shape == (2 * 4 * 60 // 120 * rate,)  # 2 bars of 4/4 at 120 BPM: 4 s
    assert "tempo 120 BPM (made at" in capsys.readouterr().out


def test_the_projects_tempo_and_bars_are_the_default(tmp_path, capsys, models):
    project = tmp_path / "waltz.json"
    save_project(Song(tempo_bpm=90.0, time_signature=(3, 4), tracks=[Track(name="P")]), project)
    argv = ["prompt", "soft organ chords", "--bars", "2", "--steps", "1", "--project", str(project)]
    assert main([*argv, *weights(models)]) == 0
    clip = load_project(project).clips[0]
    assert clip.duration_s == pytest.approx(2 * 3 * 60 / 90)  # 2 bars of 3/4 at 90 BPM
    assert "tempo 90 BPM" in capsys.readouterr().out


def test_a_loop_repeated_fills_bars_of_the_project_and_saves_its_repeats(tmp_path, models):
    project = tmp_path / "song.json"
    argv = ["prompt", "drum groove", "--bars", "1", "--bpm", "120", "--loop", "--repeats", "4", "--steps", "1"]
    assert main([*argv, "--project", str(project), *weights(models)]) == 0
    clip = load_project(project).clips[0]
    assert clip.repeats == 4 and clip.pass_s == pytest.approx(2.0) and clip.duration_s == pytest.approx(8.0)
