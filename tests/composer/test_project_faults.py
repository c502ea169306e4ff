"""Project files under faults: missing and hostile clips, saves interrupted, old clip files, the umask."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest
import soundfile as sf

import composer.files.project
from composer.errors import ComposerError
from composer.files.atomic import atomic_write_text
from composer.files.loader import load_song
from composer.files.project import load_project, missing_clips, save_project
from composer.song import AudioClip, Note, Song, Track


def _song(seed: int = 0) -> Song:
    rng = np.random.default_rng(seed)
    return Song(
        tempo_bpm=97.0,
        tracks=[Track(name="Keys", notes=[Note(60 + i, 90, i * 0.5, i * 0.5 + 0.4) for i in range(8)])],
        clips=[
            AudioClip(name="rain", start_s=1.0, samples=rng.uniform(-0.5, 0.5, 2400).astype(np.float32)),
            AudioClip(name="bell", start_s=2.0, samples=rng.uniform(-0.5, 0.5, (1200, 2)).astype(np.float32)),
        ],
    )


def _clip_files(path) -> set[str]:
    folder = path.with_suffix(".clips")
    return {p.name for p in folder.iterdir()} - {".lock"} if folder.exists() else set()


# -- a clip's WAV is missing


def test_a_missing_clip_wav_opens_the_rest_of_the_song_and_says_which_file_in_one_line(tmp_path):
    path = tmp_path / "song.json"
    save_project(_song(), path)
    gone = tmp_path / load_project(path).clips[0].path
    gone.unlink()
    lines = []
    song = load_project(path, notify=lines.append)
    assert [n.pitch for n in song.tracks[0].notes] == list(range(60, 68)) and song.tempo_bpm == 97.0
    assert len(song.clips) == 2 and song.clips[1].samples is not None
    assert missing_clips(song) == [song.clips[0]] and song.clips[0].samples is None
    assert len(lines) == 1 and "\n" not in lines[0] and str(gone) in lines[0] and "'rain'" in lines[0]


def test_a_missing_clip_is_said_on_stderr_by_default_and_info_still_works(tmp_path, capsys):
    path = tmp_path / "song.json"
    save_project(_song(), path)
    (tmp_path / load_project(path).clips[1].path).unlink()
    song = load_song(path)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("composer: ") and "missing" in err[0]
    assert len(song.clips) == 2 and missing_clips(song) == [song.clips[1]]


def test_a_missing_clip_survives_saves_here_and_elsewhere_and_comes_back_with_its_file(tmp_path):
    path = tmp_path / "song.json"
    save_project(_song(), path)
    original = load_project(path)
    wav = tmp_path / original.clips[0].path
    data = wav.read_bytes()
    wav.unlink()
    song = load_project(path, notify=lambda line: None)
    song.tracks[0].notes.append(Note(72, 100, 5.0, 6.0))
    save_project(song, path)  # same place: the clip keeps its relative path
    (tmp_path / "other").mkdir()
    save_project(song, tmp_path / "other" / "copy.json")  # elsewhere: it still names the same file
    wav.write_bytes(data)
    for project in (path, tmp_path / "other" / "copy.json"):
        back = load_project(project)
        assert not missing_clips(back) and np.array_equal(back.clips[0].samples, original.clips[0].samples)
        assert len(back.tracks[0].notes) == 9


@pytest.mark.timeout(20)
def test_a_clip_that_is_not_a_regular_file_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "pipe.wav")  # reading a FIFO (or /dev/stdin) would wait for a writer forever
    (tmp_path / "song.json").write_text('{"schema_version": 2, "clips": [{"path": "pipe.wav"}]}')
    with pytest.raises(ComposerError, match="not a regular file") as info:
        load_project(tmp_path / "song.json")
    assert info.value.path == str(tmp_path / "pipe.wav")


@pytest.mark.parametrize(
    ("samples", "rate", "words"),
    [
        (np.array([0.1, np.nan, 0.2], np.float32), 24000, "NaN"),
        (np.array([0.1, np.inf], np.float32), 24000, "NaN or infinity"),
        (np.array([0.1, 3e6], np.float32), 24000, "corrupt"),
        (np.zeros(100, np.float32), 10, "sample rate"),
    ],
)
def test_clip_samples_that_cannot_be_played_are_one_error_naming_the_wav(tmp_path, samples, rate, words):
    sf.write(tmp_path / "bad.wav", samples, rate, format="WAV", subtype="FLOAT")
    (tmp_path / "song.json").write_text('{"schema_version": 2, "clips": [{"path": "bad.wav"}]}')
    with pytest.raises(ComposerError, match=words) as info:
        load_project(tmp_path / "song.json")
    assert info.value.path == str(tmp_path / "bad.wav") and "\n" not in str(info.value)


# -- saving is transactional


def test_a_save_stopped_after_the_new_clips_before_the_json_leaves_the_old_project_whole(tmp_path, monkeypatch):
    path = tmp_path / "song.json"
    save_project(_song(0), path)
    before = load_project(path)

    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(composer.files.project, "atomic_write_text", stop)
    with pytest.raises(KeyboardInterrupt):
        save_project(_song(1), path)  # other samples in both clips
    monkeypatch.undo()
    after_crash = load_project(path)
    assert not missing_clips(after_crash)
    for a, b in zip(before.clips, after_crash.clips, strict=True):
        assert np.array_equal(a.samples, b.samples)  # the old clip files were not rewritten


def test_a_save_writes_changed_clips_under_new_names_keeps_unchanged_ones_and_removes_the_old(tmp_path):
    path = tmp_path / "song.json"
    song = _song(0)
    save_project(song, path)
    first = _clip_files(path)
    bell = next(n for n in first if n.startswith("bell-"))
    bell_inode = (path.with_suffix(".clips") / bell).stat().st_ino
    song.clips[0].samples = song.clips[0].samples * 0.5
    save_project(song, path)
    second = _clip_files(path)
    assert bell in second and (path.with_suffix(".clips") / bell).stat().st_ino == bell_inode  # not rewritten
    assert len(second) == 2 and not (first - {bell}) & second  # the changed clip got a new name, the old went
    song.clips.clear()
    save_project(song, path)
    assert not path.with_suffix(".clips").exists()  # no clips, no folder


def test_orphans_of_killed_saves_and_old_style_names_are_removed_but_nothing_else(tmp_path):
    path = tmp_path / "song.json"
    save_project(_song(), path)
    clips = path.with_suffix(".clips")
    (clips / "00-rain.wav").write_bytes(b"an earlier version's name")
    (clips / ".rain-0123456789abcdef.wav.1a2b3c4d.tmp.wav").write_bytes(b"half written")
    (clips / "rain-fedcba9876543210.wav").write_bytes(b"a generation never named by a JSON")
    (clips / "my notes.txt").write_text("the user's")
    (tmp_path / "keep.wav").write_bytes(b"the user's")
    os.symlink(tmp_path / "keep.wav", clips / "link-0123456789abcdef.wav")
    save_project(_song(), path)
    named = {os.path.basename(c.path) for c in load_project(path).clips}
    assert _clip_files(path) == named | {"my notes.txt", "link-0123456789abcdef.wav"}
    assert (tmp_path / "keep.wav").read_bytes() == b"the user's"


def test_a_clips_folder_that_is_a_link_is_refused_and_its_target_untouched(tmp_path):
    elsewhere = tmp_path / "music"
    elsewhere.mkdir()
    (elsewhere / "00-song.wav").write_bytes(b"the user's")
    os.symlink(elsewhere, tmp_path / "song.clips")
    with pytest.raises(ComposerError, match="not a folder of clips"):
        save_project(_song(), tmp_path / "song.json")
    assert [p.name for p in elsewhere.iterdir()] == ["00-song.wav"] and not (tmp_path / "song.json").exists()


def test_a_project_saved_by_an_earlier_version_resaves_cleanly(tmp_path):
    path = tmp_path / "song.json"
    (tmp_path / "song.clips").mkdir()
    sf.write(tmp_path / "song.clips" / "00-rain.wav", np.full(100, 0.25, np.float32), 24000, subtype="FLOAT")
    path.write_text('{"schema_version": 2, "clips": [{"name": "rain", "path": "song.clips/00-rain.wav"}]}')
    save_project(load_project(path), path)
    assert [c.path for c in load_project(path).clips][0].startswith("song.clips/rain-")
    assert len(_clip_files(path)) == 1 and np.allclose(load_project(path).clips[0].samples, 0.25)


# -- the umask


def test_atomic_writes_never_touch_the_process_umask(tmp_path, monkeypatch):
    def no(*args):
        raise AssertionError("os.umask called: another thread's files would get mode 0o666 meanwhile")

    mask = os.umask(0o027)
    try:
        monkeypatch.setattr(os, "umask", no)
        atomic_write_text(tmp_path / "new.txt", "x")
        save_project(_song(), tmp_path / "song.json")
    finally:
        monkeypatch.undo()
        os.umask(mask)
    assert (tmp_path / "new.txt").stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "song.json").stat().st_mode & 0o777 == 0o640
    assert {p.stat().st_mode & 0o777 for p in (tmp_path / "song.clips").glob("*.wav")} == {0o640}


def test_files_other_threads_create_during_atomic_writes_keep_the_umask(tmp_path):
    mask = os.umask(0o022)
    stop, modes = threading.Event(), []

    def create() -> None:
        i = 0
        while not stop.is_set():
            target = tmp_path / "other" / f"{i}"
            with open(target, "w"):
                pass
            modes.append(target.stat().st_mode & 0o777)
            target.unlink()
            i += 1

    (tmp_path / "other").mkdir()
    thread = threading.Thread(target=create)
    thread.start()
    try:
        for i in range(300):
            atomic_write_text(tmp_path / f"f{i % 5}.txt", str(i))
    finally:
        stop.set()
        thread.join()
        os.umask(mask)
    assert modes and set(modes) == {0o644}
