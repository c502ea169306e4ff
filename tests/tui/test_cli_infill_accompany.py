"""`composer accompany` and `composer infill` with a tiny saved model: output tracks, determinism, bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from composer.files.midi_io import read_midi, write_midi
from composer.model.checkpoint import save_transformer
from composer.model.model import MusicTransformer, TransformerConfig
from composer.song import DRUM_CHANNEL, Note, Song, Track
from composer.tokens import VOCAB_SIZE
from tui.cli import main

BAR_S = 2.0  # 4/4 at 120 BPM


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    cfg = TransformerConfig(vocab_size=VOCAB_SIZE, max_len=64, n_layer=1, n_head=2, d_model=16, d_ff=32, dropout=0.0)
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    save_transformer(MusicTransformer(cfg), path)
    return path


@pytest.fixture(scope="module")
def song_path(tmp_path_factory) -> Path:
    """Four bars: melody in quarters, a bass, drums."""
    melody = [Note(60 + (i * 7) % 12, 90, i * 0.5, i * 0.5 + 0.45) for i in range(16)]
    bass = [Note(36 + (i % 2) * 7, 70, i * BAR_S, i * BAR_S + 1.9) for i in range(4)]
    kick = [Note(36, 100, i * 1.0, i * 1.0 + 0.1) for i in range(8)]
    song = Song(
        tracks=[
            Track(name="Melody", program=73, notes=melody),
            Track(name="Bass", program=32, notes=bass),
            Track(name="Drums", is_drum=True, channel=DRUM_CHANNEL, notes=kick),
        ]
    )
    path = tmp_path_factory.mktemp("song") / "song.mid"
    write_midi(song, path)
    return path


def keys(notes) -> list[tuple[int, float, float]]:
    return [(n.pitch, round(n.start_s, 3), round(n.end_s, 3)) for n in notes]


def test_accompany_adds_a_track_in_range_and_keeps_the_song(model_path, song_path, tmp_path, capsys):
    out = tmp_path / "acc.mid"
    argv = ["accompany", str(song_path), "--track", "1", "--model", str(model_path), "--seed", "2"]
    assert (
        main([*argv, "--from", "2", "--to", "4", "--low", "40", "--high", "72", "--program", "48", "-o", str(out)]) == 0
    )
    assert capsys.readouterr().out.startswith(f"wrote {out}: ")
    song, original = read_midi(out), read_midi(song_path)
    assert [t.name for t in song.tracks] == ["Melody", "Bass", "Drums", "Accompaniment"]
    for kept, before in zip(song.tracks[:3], original.tracks, strict=True):
        assert keys(kept.notes) == keys(before.notes)
    new = song.tracks[3]
    assert new.program == 48 and new.notes
    assert all(40 <= n.pitch <= 72 and n.start_s >= BAR_S - 1e-3 and n.end_s <= 3 * BAR_S + 1e-3 for n in new.notes)
    melody = {(n.pitch, round(n.start_s, 2)) for n in original.tracks[0].notes}
    assert not melody & {(n.pitch, round(n.start_s, 2)) for n in new.notes}  # not duplicated
    assert list(tmp_path.iterdir()) == [out]


def test_infill_replaces_the_gap_only_and_repeats_with_a_seed(model_path, song_path, tmp_path):
    a, b = tmp_path / "a.mid", tmp_path / "b.mid"
    for out in (a, b):
        argv = ["infill", str(song_path), "--from", "2", "--to", "3", "--candidates", "3", "--seed", "5"]
        assert main([*argv, "--model", str(model_path), "-o", str(out)]) == 0
    assert a.read_bytes() == b.read_bytes()
    song, original = read_midi(a), read_midi(song_path)
    assert [t.name for t in song.tracks] == ["Melody", "Bass", "Drums", "Infill"]
    for kept, before in zip(song.tracks[:2], original.tracks[:2], strict=True):
        assert keys(kept.notes) == keys([n for n in before.notes if not BAR_S - 1e-3 <= n.start_s < 2 * BAR_S - 1e-3])
    assert keys(song.tracks[2].notes) == keys(original.tracks[2].notes)
    fill = song.tracks[3].notes
    assert fill and all(n.start_s >= BAR_S - 1e-3 and n.end_s <= 2 * BAR_S + 1e-3 for n in fill)


BAD_INPUTS = {
    "accompany track 0": (["accompany", "{song}", "--track", "0"], "--track"),
    "accompany track past the end": (["accompany", "{song}", "--track", "4"], "no track 4"),
    "accompany drum track": (["accompany", "{song}", "--track", "3"], "drums"),
    "accompany from after to": (["accompany", "{song}", "--track", "1", "--from", "3", "--to", "2"], "--to"),
    "accompany bars beyond the song": (["accompany", "{song}", "--track", "1", "--from", "5", "--to", "6"], "--from"),
    "accompany seconds and bars": (
        ["accompany", "{song}", "--track", "1", "--seconds", "2", "--from", "1", "--to", "2"],
        "--seconds",
    ),  # fmt: skip
    "accompany from without to": (["accompany", "{song}", "--track", "1", "--from", "1"], "--to"),
    "accompany low above high": (["accompany", "{song}", "--track", "1", "--low", "80", "--high", "60"], "--low"),
    "accompany bad program": (["accompany", "{song}", "--track", "1", "--program", "128"], "--program"),
    "accompany missing model": (
        ["accompany", "{song}", "--track", "1", "--model", "{tmp}/none.safetensors"],
        "none.safetensors",
    ),  # fmt: skip
    "accompany missing input": (["accompany", "{tmp}/nope.mid", "--track", "1"], "nope.mid"),
    "infill from equals to": (["infill", "{song}", "--from", "2", "--to", "2"], "--to"),
    "infill from after to": (["infill", "{song}", "--from", "3", "--to", "1"], "--to"),
    "infill bars beyond the song": (["infill", "{song}", "--from", "2", "--to", "9"], "past the song"),
    "infill bar zero": (["infill", "{song}", "--from", "0", "--to", "2"], "--from"),
    "infill no candidates": (["infill", "{song}", "--from", "1", "--to", "2", "--candidates", "0"], "--candidates"),
    "infill missing model": (
        ["infill", "{song}", "--from", "1", "--to", "2", "--model", "{tmp}/none.safetensors"],
        "none.safetensors",
    ),  # fmt: skip
    "infill corrupt input": (["infill", "{tmp}/corrupt.mid", "--from", "1", "--to", "2"], "corrupt.mid"),
    "infill top-p zero": (["infill", "{song}", "--from", "1", "--to", "2", "--top-p", "0"], "--top-p"),
    "accompany a song too long": (["accompany", "{long}", "--track", "1"], "at most 600"),
    "infill a gap too long": (["infill", "{long}", "--from", "1", "--to", "350"], "at most 600"),
    "infill output not midi": (["infill", "{song}", "--from", "1", "--to", "2", "-o", "{tmp}/out.wav"], "out.wav"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_exits_2_with_one_line_and_writes_nothing(model_path, song_path, tmp_path, capsys, case):
    (tmp_path / "corrupt.mid").write_bytes(b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0MTrk\xff\xff")
    write_midi(Song(tracks=[Track(notes=[Note(60, 80, 0.0, 1.0), Note(62, 80, 700.0, 701.0)])]), tmp_path / "long.mid")
    before = sorted(tmp_path.rglob("*"))
    argv, expected = BAD_INPUTS[case]
    argv = [a.replace("{song}", str(song_path)).replace("{tmp}", str(tmp_path)) for a in argv]
    argv = [a.replace("{long}", str(tmp_path / "long.mid")) for a in argv]
    common = ["--model", str(model_path), "--seed", "1", "-o", str(tmp_path / "out.mid")]
    assert main(argv[:1] + common + argv[1:]) == 2  # argparse keeps the last of a repeated option
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1 and err.startswith("composer: ") and expected in err
    assert "Traceback" not in err
    assert sorted(tmp_path.rglob("*")) == before
