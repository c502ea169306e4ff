"""Mutated files on the command line: projects (JSON), their clip WAVs and safetensors weights.

Each mutant goes through `composer info` / `composer render` (projects, clips) or `composer generate --model` /
`composer render --synth neural` (weights). Every run either succeeds (a mutant can still be a valid file) or
exits 2 with one line on standard error ("composer: FILE: what is wrong"), never a traceback, and leaves the
user's other files as they were. The runs are in-process (cli.main) for numbers; a sample of the refused ones
runs again as real `python -m tui.cli` subprocesses. The figures are printed (pytest -s shows them).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import random
import re
import struct
import subprocess
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from composer.files.midi_io import write_midi
from composer.files.project import save_project
from composer.song import AudioClip, Note, Song, Track

ROOT = Path(__file__).resolve().parents[1]
PROJECT_MUTANTS = 400
WAV_MUTANTS = 150
RENDER_EVERY = 3  # of the mutants that load, every 3rd is also rendered
HOSTILE_VALUES = [
    None, True, False, 0, -1, 1, 127, 128, 2**31, 10**30, -(10**30), 1e308, -1e308, 0.5, -0.0, 1e-300,
    "", "x" * 10_000, "neural", "dsp", "\x00", "\u202e\u0007", [], {}, [0], [[]], [1, 2, 3, 4, 5], {"a": 1},
    list(range(1000)),
]  # fmt: skip
HOSTILE_PATHS = [
    "/dev/zero", "/dev/stdin", "/proc/self/mem", "../victim.wav", "song.clips/../../victim.wav", ".", "..", "/",
    "a\x00b.wav", "x" * 5000, "song.clips", "/etc/passwd", "~/nothing.wav", "",
]  # fmt: skip


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    """`composer ARGV` in this process: (exit status, stdout, stderr); an exception escaping is a failure."""
    from tui.cli import main

    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse
        rc = exc.code if isinstance(exc.code, int) else 2
    except BaseException:
        out, err = capsys.readouterr()
        return -1, out, err + traceback.format_exc()
    out, err = capsys.readouterr()
    return rc, out, err


def message_lines(err: str) -> list[str]:
    """stderr without progress bars (tqdm draws with \\r)."""
    return [line for line in re.split(r"[\r\n]+", err) if line.strip() and not re.match(r"^\s*[^:]+: *\d+%\|", line)]


def judge(rc: int, err: str, allowed_notes: int = 0) -> str | None:
    """None when the run is fine; else what is wrong with it."""
    lines = message_lines(err)
    if "Traceback" in err or rc not in (0, 2):
        return f"exit {rc}: {err[-800:]}"
    if rc == 2 and (len(lines) != 1 or not lines[0].startswith("composer: ")):
        return f"exit 2 but stderr is {lines[:5]}"
    if rc == 0 and len(lines) > allowed_notes:
        return f"exit 0 with {len(lines)} lines on stderr: {lines[:3]}"
    return None


def snapshot(folder: Path, skip: set[Path]) -> dict[str, str]:
    return {
        str(p): hashlib.sha1(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink() and p not in skip
    }


def base_song() -> Song:
    rng = np.random.default_rng(5)
    lead = Track(
        name="Lead", program=81, channel=0, notes=[Note(60 + i % 12, 90, i * 0.2, i * 0.2 + 0.15) for i in range(20)]
    )
    kit = Track(name="Kit", is_drum=True, channel=9, notes=[Note(36, 110, i * 0.4, i * 0.4 + 0.1) for i in range(8)])
    clips = [
        AudioClip(name="rain", start_s=0.5, gain=0.7, samples=rng.uniform(-0.3, 0.3, 4800).astype(np.float32)),
        AudioClip(name="wide", start_s=1.0, samples=rng.uniform(-0.3, 0.3, (2205, 2)).astype(np.float32),
                  sample_rate=22050),
    ]  # fmt: skip
    return Song(tempo_bpm=120.0, time_signature=(4, 4), tracks=[lead, kit], clips=clips)


# -- project JSON


def _nodes(value, path=()):
    yield path, value
    if len(path) > 8:
        return
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _nodes(child, (*path, key))
    elif isinstance(value, list):
        for i, child in enumerate(value[:50]):
            yield from _nodes(child, (*path, i))


def _set(data, path, value):
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


def mutate_project(text: str, rng: random.Random) -> bytes:
    if rng.random() < 0.3:  # bytes
        buf = bytearray(text.encode())
        for _ in range(rng.choice((1, 2, 4))):
            at = rng.randrange(len(buf))
            kind = rng.randrange(4)
            if kind == 0:
                buf[at] ^= 1 << rng.randrange(8)
            elif kind == 1:
                buf[at] = rng.choice(b'{}[]",:0123456789-e.ntf ')
            elif kind == 2:
                del buf[rng.randrange(len(buf)) :]
            else:
                buf[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        return bytes(buf)
    data = json.loads(text)
    for _ in range(rng.choice((1, 1, 2, 3))):
        paths = [p for p, _ in _nodes(data) if p]
        path = rng.choice(paths)
        kind = rng.randrange(6)
        if kind == 0 or kind == 1:
            value = copy.deepcopy(rng.choice(HOSTILE_VALUES))
        elif kind == 2:
            value = rng.choice(HOSTILE_PATHS)
            path = ("clips", rng.randrange(2), "path")
        elif kind == 3:  # nested deep
            value = 0
            for _ in range(rng.choice((50, 500, 5000))):
                value = [value]
        elif kind == 4:  # drop it
            node = data
            for key in path[:-1]:
                node = node[key]
            if isinstance(node, dict):
                node.pop(path[-1], None)
            elif isinstance(node, list) and path[-1] < len(node):
                node.pop(path[-1])
            continue
        else:  # a number far out
            value = rng.choice([1e6, 21_601.0, 1e7, -5.0, 999_999.0, 6 * 3600.0 - 1, 10**400 // 10**390])
        try:
            _set(data, path, value)
        except (KeyError, IndexError, TypeError):
            continue
    try:
        return json.dumps(data, indent=1).encode()
    except (ValueError, RecursionError):
        return b"[" * 100_000


@pytest.fixture
def studio(tmp_path):
    """A user's folder: a project with two clips, a sentinel, a WAV beside it that hostile paths name."""
    folder = tmp_path / "songs"
    folder.mkdir()
    save_project(base_song(), folder / "song.json")
    (folder / "notes.txt").write_text("the user's")
    (tmp_path / "victim.wav").write_bytes(b"RIFF the user's")
    return folder


@pytest.mark.slow
def test_mutated_projects_give_exit_0_or_one_line_and_exit_2(studio, capsys):
    rng = random.Random(4321)
    text = (studio / "song.json").read_text()
    mutant, out_wav = studio / "mutant.json", studio / "out.wav"
    before = snapshot(studio.parent, {mutant, out_wav})
    figures, problems = Counter(), []
    for i in range(PROJECT_MUTANTS):
        mutant.write_bytes(mutate_project(text, rng))
        rc, out, err = run_cli(["info", str(mutant)], capsys)
        problem = judge(rc, err, allowed_notes=2)  # a clip path mutated away from its file: "missing" lines
        figures[f"info exit {rc}"] += 1
        if problem:
            problems.append(f"mutant {i} info: {problem}")
            continue
        if rc == 0 and figures["info exit 0"] % RENDER_EVERY == 0:
            rc, out, err = run_cli(["render", str(mutant), "-o", str(out_wav), "--sample-rate", "8000"], capsys)
            figures[f"render exit {rc}"] += 1
            problem = judge(rc, err, allowed_notes=3)
            if problem:
                problems.append(f"mutant {i} render: {problem}")
            out_wav.unlink(missing_ok=True)
        if snapshot(studio.parent, {mutant, out_wav}) != before:
            problems.append(f"mutant {i}: the user's other files changed")
            break
    print(f"\nproject mutants: {PROJECT_MUTANTS}, {dict(sorted(figures.items()))}, problems {len(problems)}")
    assert not problems, "\n".join(problems[:10])
    assert figures["info exit 0"] > 20 and figures["info exit 2"] > 100, figures


# -- clip WAVs


def mutate_wav(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    kind = rng.randrange(7)
    if kind == 0:  # a header field
        offset, fmt, values = rng.choice(
            [
                (22, "<H", (0, 3, 255, 65535)),  # channels
                (24, "<I", (0, 1, 999, 8000, 10**6, 2**32 - 1)),  # sample rate
                (20, "<H", (0, 2, 0x55, 0xFFFE, 65535)),  # format code
                (34, "<H", (0, 7, 13, 64, 65535)),  # bits per sample
                (32, "<H", (0, 1, 65535)),  # block align
                (4, "<I", (0, 36, 2**32 - 1)),  # RIFF size
                (16, "<I", (0, 2, 10**6, 2**32 - 1)),  # fmt size
            ]
        )
        if offset + struct.calcsize(fmt) <= len(buf):
            buf[offset : offset + struct.calcsize(fmt)] = struct.pack(fmt, rng.choice(values))
    elif kind == 1:  # the data chunk's size
        at = bytes(buf).find(b"data")
        if at >= 0:
            buf[at + 4 : at + 8] = struct.pack("<I", rng.choice((0, 1, 3, 2**31, 2**32 - 1)))
    elif kind == 2:  # truncated
        del buf[rng.randrange(len(buf)) :]
    elif kind == 3:  # not-a-number and huge samples in the data
        at = bytes(buf).find(b"data") + 8
        for _ in range(rng.randint(1, 5)):
            where = at + 4 * rng.randrange(max((len(buf) - at) // 4, 1))
            buf[where : where + 4] = struct.pack("<f", rng.choice((float("nan"), float("inf"), -float("inf"), 3e38)))
    elif kind == 4:  # header bytes
        for _ in range(rng.randint(1, 6)):
            buf[rng.randrange(min(64, len(buf)))] = rng.randrange(256)
    elif kind == 5:  # anything anywhere
        for _ in range(rng.randint(1, 20)):
            buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
    else:  # garbage appended, or nothing left
        buf = buf + bytes(rng.randrange(256) for _ in range(rng.randint(1, 300))) if rng.random() < 0.5 else bytearray()
    return bytes(buf)


@pytest.mark.slow
def test_mutated_clip_wavs_give_exit_0_or_one_line_and_exit_2(studio, capsys):
    rng = random.Random(99)
    project = studio / "song.json"
    clip = studio / json.loads(project.read_text())["clips"][0]["path"]
    original = clip.read_bytes()
    out_wav = studio / "out.wav"
    before = snapshot(studio.parent, {clip, out_wav})
    figures, problems = Counter(), []
    for i in range(WAV_MUTANTS):
        clip.write_bytes(mutate_wav(original, rng))
        rc, out, err = run_cli(["info", str(project)], capsys)
        figures[f"info exit {rc}"] += 1
        problem = judge(rc, err)
        if problem:
            problems.append(f"mutant {i} info: {problem}")
        elif rc == 2:
            if str(clip) not in err:
                problems.append(f"mutant {i}: the line does not name the clip: {err.strip()}")
        else:  # every clip that loads must render, finite and in reasonable time
            started = time.monotonic()
            rc, out, err = run_cli(["render", str(project), "-o", str(out_wav), "--sample-rate", "8000"], capsys)
            figures[f"render exit {rc}"] += 1
            problem = judge(rc, err)
            if problem:
                problems.append(f"mutant {i} render: {problem}")
            elif rc == 0 and ("nan" in out.lower() or time.monotonic() - started > 20):
                problems.append(f"mutant {i} render: {time.monotonic() - started:.0f} s, {out.strip()}")
            out_wav.unlink(missing_ok=True)
        if snapshot(studio.parent, {clip, out_wav}) != before:
            problems.append(f"mutant {i}: the user's other files changed")
            break
    print(f"\nclip WAV mutants: {WAV_MUTANTS}, {dict(sorted(figures.items()))}, problems {len(problems)}")
    assert not problems, "\n".join(problems[:10])
    assert figures["info exit 0"] > 10 and figures["info exit 2"] > 40, figures


# -- safetensors weights


def tiny_weights(folder: Path) -> dict[str, Path]:
    import torch

    from composer.model.checkpoint import save_transformer
    from composer.model.model import MusicTransformer, TransformerConfig
    from synth.instruments.neural.neural_checkpoint import save_neural
    from synth.instruments.neural.renderer import Renderer, RendererConfig
    from synth.instruments.neural.vocoder import Vocoder, VocoderConfig

    torch.manual_seed(0)
    paths = {
        "transformer": folder / "transformer.safetensors",
        "renderer": folder / "models" / "renderer" / "model.safetensors",
        "vocoder": folder / "models" / "vocoder" / "model.safetensors",
    }
    cfg = TransformerConfig(n_layer=1, n_head=2, d_model=32, d_ff=64, max_len=128)
    save_transformer(MusicTransformer(cfg).eval(), paths["transformer"])
    renderer = RendererConfig(pitch_dim=8, program_dim=4, note_hidden=16, channels=32, hidden=48, n_blocks=2)
    save_neural(Renderer(renderer).eval(), paths["renderer"])
    save_neural(Vocoder(VocoderConfig(channels=32, hidden=64, n_blocks=2)).eval(), paths["vocoder"])
    return paths


def _header(data: bytes) -> tuple[dict, bytes]:
    n = struct.unpack("<Q", data[:8])[0]
    return json.loads(data[8 : 8 + n]), data[8 + n :]


def _with_header(header: dict, body: bytes) -> bytes:
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + body


def weight_mutants(data: bytes, rng: random.Random) -> list[tuple[str, bytes]]:
    """(name, bytes) of each way a weights file goes wrong."""
    from safetensors.torch import load, save

    header, body = _header(data)
    meta = header.get("__metadata__", {})
    tensors = load(data)
    names = sorted(tensors)
    big = max(names, key=lambda k: tensors[k].numel())
    out: list[tuple[str, bytes]] = []
    for cut in (0, 4, 8, 20, 8 + len(json.dumps(header)) // 2, len(data) // 2, len(data) - 1):
        out.append((f"truncated at {cut}", data[:cut]))
    out.append(("header length huge", struct.pack("<Q", 2**40) + data[8:]))
    out.append(("header length past the end", struct.pack("<Q", len(data)) + data[8:]))
    raw = bytearray(data)
    for at in rng.sample(range(8, 8 + struct.unpack("<Q", data[:8])[0]), 6):
        flipped = bytearray(raw)
        flipped[at] ^= 0x20
        out.append((f"header byte {at} flipped", bytes(flipped)))
    h = copy.deepcopy(header)
    h[big]["shape"] = list(reversed(h[big]["shape"])) + [1]
    out.append(("shape in the header disagrees with the data", _with_header(h, body)))

    def saved(name: str, state: dict, metadata: dict | None) -> None:
        out.append((name, save(state, metadata=metadata)))

    import torch

    saved("no metadata", tensors, None)
    saved("kind missing", tensors, {k: v for k, v in meta.items() if k != "kind"})
    saved("another kind", tensors, {**meta, "kind": "vocoder" if meta.get("kind") != "vocoder" else "renderer"})
    saved("config not JSON", tensors, {**meta, "config": "{not json"})
    saved("config a list", tensors, {**meta, "config": "[1, 2]"})
    saved("config nested deep", tensors, {**meta, "config": "[" * 100_000 + "]" * 100_000})
    cfg = json.loads(meta["config"])
    ints = [k for k, v in cfg.items() if isinstance(v, int) and not isinstance(v, bool)]
    for key in ints[:6]:
        for value in (0, -3, 10**7, 2.5, "big", None, True):
            saved(f"config {key}={value!r}", tensors, {**meta, "config": json.dumps({**cfg, key: value})})
    saved("config unknown key", tensors, {**meta, "config": json.dumps({**cfg, "evil": 1})})
    saved("extra not JSON", tensors, {**meta, "extra": "{"})
    saved("extra a list", tensors, {**meta, "extra": "[]"})
    saved("extra hostile programs", tensors, {**meta, "extra": json.dumps({"programs": ["x"], "gain_db": {"0": "y"}})})
    saved("extra hostile voices", tensors, {**meta, "extra": json.dumps({"voices": {"0": "laser"}})})
    saved("a tensor missing", {k: v for k, v in tensors.items() if k != big}, meta)
    saved("a tensor of another shape", {**tensors, big: torch.zeros(3, 3)}, meta)
    saved("a tensor as a column", {**tensors, big: tensors[big].reshape(-1, 1)}, meta)
    saved("a tensor as int32", {**tensors, big: tensors[big].to(torch.int32)}, meta)
    saved("a tensor as bool", {**tensors, big: tensors[big] > 0}, meta)
    saved("every tensor as int8", {k: v.to(torch.int8) for k, v in tensors.items()}, meta)
    saved("float64 (fine)", {k: v.double() for k, v in tensors.items()}, meta)
    saved("NaN weights", {**tensors, big: torch.full_like(tensors[big], float("nan"))}, meta)
    saved("infinite weights", {**tensors, big: torch.full_like(tensors[big], float("inf"))}, meta)
    saved("an extra tensor (fine)", {**tensors, "spare": torch.zeros(2)}, meta)
    flips = bytearray(data)
    for _ in range(20):
        flips[rng.randrange(len(data) - len(body), len(data))] ^= 1 << rng.randrange(8)
    out.append(("data bits flipped", bytes(flips)))
    out.append(("not safetensors at all", b"GGUF" + bytes(100)))
    out.append(("empty", b""))
    return out


@pytest.mark.slow
def test_mutated_weights_give_exit_0_or_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    rng = random.Random(7)
    paths = tiny_weights(tmp_path)
    monkeypatch.setenv("COMPOSER_MODELS", str(tmp_path / "models"))
    song = tmp_path / "tune.mid"
    write_midi(Song(tracks=[Track(program=0, notes=[Note(60, 90, 0.0, 0.3), Note(64, 90, 0.1, 0.3)])]), song)
    (tmp_path / "notes.txt").write_text("the user's")
    out_mid, out_wav = tmp_path / "out.mid", tmp_path / "out.wav"
    figures, problems = Counter(), []
    for which, path in paths.items():
        original = path.read_bytes()
        before = snapshot(tmp_path, {path, out_mid, out_wav})
        for name, data in weight_mutants(original, rng):
            path.write_bytes(data)
            if which == "transformer":
                argv = ["generate", "--model", str(path), "-o", str(out_mid), "--seconds", "0.5", "--seed", "1"]
            else:
                argv = ["render", str(song), "-o", str(out_wav), "--synth", "neural", "--sample-rate", "24000"]
            rc, out, err = run_cli(argv, capsys)
            figures[f"{which} exit {rc}"] += 1
            problem = judge(rc, err)
            if problem:
                problems.append(f"{which}, {name}: {problem}")
            elif rc == 2 and str(path) not in err:
                problems.append(f"{which}, {name}: the line does not name the file: {err.strip()}")
            out_mid.unlink(missing_ok=True)
            out_wav.unlink(missing_ok=True)
            if snapshot(tmp_path, {path, out_mid, out_wav}) != before:
                problems.append(f"{which}, {name}: the user's other files changed")
        path.write_bytes(original)
    print(f"\nweights mutants: {sum(figures.values())}, {dict(sorted(figures.items()))}, problems {len(problems)}")
    assert not problems, "\n".join(problems[:15])


# -- the same as real command lines


@pytest.mark.slow
def test_refused_files_as_real_command_lines(studio, tmp_path):
    """A few bad files through `python -m tui.cli` in a subprocess: exit 2, one line, no traceback."""
    env = {**os.environ, "COMPOSER_MODELS": str(tmp_path / "models"), "PYTHONPATH": str(ROOT)}
    paths = tiny_weights(tmp_path)
    bad_project = studio / "bad.json"
    clip_folder = studio / "song.clips"
    cases = []
    bad_project.write_text('{"schema_version": 2, "tracks": [{"notes": [[60, 80, 0, "x"]]}]}')
    cases.append(["info", str(bad_project)])
    cases.append(["render", str(bad_project), "-o", str(studio / "out.wav")])
    deep = studio / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    cases.append(["info", str(deep)])
    broken_wav = studio / "broken.json"
    (clip_folder.parent / "broken.clips").mkdir()
    (clip_folder.parent / "broken.clips" / "c.wav").write_bytes(
        b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00" + bytes(8)
    )
    broken_wav.write_text('{"schema_version": 2, "clips": [{"path": "broken.clips/c.wav"}]}')
    cases.append(["info", str(broken_wav)])
    cases.append(["render", str(broken_wav), "-o", str(studio / "out.wav")])
    paths["transformer"].write_bytes(paths["transformer"].read_bytes()[:100])
    cases.append(["generate", "--model", str(paths["transformer"]), "-o", str(studio / "o.mid"), "--seconds", "1"])
    data = paths["renderer"].read_bytes()
    header, body = _header(data)
    header["__metadata__"]["config"] = json.dumps({**json.loads(header["__metadata__"]["config"]), "channels": 10**6})
    paths["renderer"].write_bytes(_with_header(header, body))
    mid = studio / "tune.mid"
    write_midi(Song(tracks=[Track(notes=[Note(60, 90, 0.0, 0.3)])]), mid)
    cases.append(["render", str(mid), "-o", str(studio / "out.wav"), "--synth", "neural"])
    before = snapshot(studio.parent, {studio / "out.wav", studio / "o.mid"})
    for argv in cases:
        result = subprocess.run(
            [sys.executable, "-m", "tui.cli", *argv], capture_output=True, text=True, env=env, timeout=300, cwd=ROOT
        )
        lines = message_lines(result.stderr)
        assert result.returncode == 2, (argv, result.returncode, result.stderr[-1500:])
        assert len(lines) == 1 and lines[0].startswith("composer: ") and "Traceback" not in result.stderr, lines
        assert not (studio / "out.wav").exists() and not (studio / "o.mid").exists()
    assert snapshot(studio.parent, {studio / "out.wav", studio / "o.mid"}) == before
    print(f"\nsubprocesses: {len(cases)} bad files, each exit 2 with one line")
