"""A wider build for the vocoder: the instruments' build plus generated parts for every other family and drums.

    summary = widen_audio_data("data/audio", "data/audio-wide")   # FluidSynth; `composer audio-data widen`

The renderer learns the seven programs of the audio-data build; the vocoder
decodes whatever mel it is given, including the prompted tracks' (every GM
family and the drum kit). Trained on the seven alone it smears drums and
loses the colour of families it never heard. This build links the base
build's shards (hard links: no copy) and adds train shards of generated
melodies, chords, arpeggios (synth.data.prompt_data.pattern_clip) for each
program of synth.data.prompt_data.PROGRAMS the base lacks, and drum grooves
(stored as program DRUM_LABEL, which only the vocoder may read: the
renderer's program embedding stops at 127). Valid and test stay the base's.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from composer.errors import ComposerError
from composer.files.atomic import atomic_write_text
from composer.song import Note
from synth.data.audio_data import Piece, _ShardWriter, read_manifest

DRUM_LABEL = 128  # program number of drum-kit shards in a widened build
DRUMS = -1  # synth.data.fluid.DRUMS: the render key of the GM kit

Render = Callable[[Mapping[int, Sequence[Note]]], np.ndarray]
Progress = Callable[[int, int], None]


def widen_audio_data(
    base_dir: str | Path,
    out_dir: str | Path,
    pieces_per_program: int = 6,
    drum_pieces: int = 40,
    clips_per_piece: int = 4,
    seed: int = 7,
    render: Render | None = None,
    progress: Progress | None = None,
) -> dict:
    """Write `out_dir` (an audio-data build); returns its manifest without the shard list."""
    from synth.data.prompt_data import PROGRAMS, pattern_clip

    t0 = time.monotonic()
    base_dir, out_dir = Path(base_dir), Path(out_dir)
    base = read_manifest(base_dir)
    if out_dir.resolve() == base_dir.resolve():
        raise ComposerError(out_dir, "must differ from the base build")
    if out_dir.exists() and not out_dir.is_dir():
        raise ComposerError(out_dir, "is a file, expected a folder")
    have = {int(p) for p in base["programs"]}
    programs = [p for p in PROGRAMS if p not in have] + [None]  # None: the drum kit
    closer = None
    if render is None:
        from synth.data.fluid import FluidRenderer

        fluid = FluidRenderer(int(base["sample_rate"]))
        render, closer = fluid.render, fluid.close
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "manifest.json").unlink(missing_ok=True)  # a half-done build has none
    rng = np.random.default_rng(seed)
    writer = _ShardWriter(out_dir, int(base["sample_rate"]))
    total = sum(drum_pieces if p is None else pieces_per_program for p in programs)
    done = 0
    try:
        for program in programs:
            for k in range(drum_pieces if program is None else pieces_per_program):
                notes: list[Note] = []
                length_s = 0.0
                for _ in range(clips_per_piece):
                    clip = pattern_clip(rng, program)
                    notes += [Note(n.pitch, n.velocity, n.start_s + length_s, n.end_s + length_s) for n in clip.notes]
                    length_s = max([length_s] + [n.end_s for n in notes]) + 0.25
                label = DRUM_LABEL if program is None else program
                audio = render({DRUMS if program is None else program: notes})
                writer.add(Piece(f"wide-{label:03d}-{k:03d}", "material", "pattern", label, "train", notes), audio)
                done += 1
                if progress is not None:
                    progress(done, total)
        shards = writer.close()
    finally:
        if closer is not None:
            closer()
    linked = []
    for entry in base["shards"]:
        for key in ("audio", "notes"):
            target = out_dir / entry[key]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.unlink(missing_ok=True)
            os.link(base_dir / entry[key], target)
        linked.append(entry)
    added_s = sum(s["seconds"] for s in shards)
    summary = {
        **{k: v for k, v in base.items() if k != "shards"},
        "widened_from": str(base_dir),
        "added_programs": [DRUM_LABEL if p is None else p for p in programs],
        "added_train_minutes": round(added_s / 60, 2),
        "added_pieces": len(writer.pieces),
        "widen_seconds": round(time.monotonic() - t0, 1),
    }
    base_pieces = _read_pieces(base_dir / "pieces.jsonl")
    atomic_write_text(out_dir / "pieces.jsonl", base_pieces + "".join(json.dumps(p) + "\n" for p in writer.pieces))
    atomic_write_text(out_dir / "manifest.json", json.dumps({**summary, "shards": linked + shards}, indent=1))
    return summary


def _read_pieces(path: Path) -> str:
    """The base build's pieces.jsonl, copied line for line ("" when there is none); ComposerError if unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""
    except (OSError, UnicodeDecodeError) as exc:
        raise ComposerError(path, f"cannot read the list of pieces ({getattr(exc, 'strerror', None) or exc})") from None
    return text if not text or text.endswith("\n") else text + "\n"
