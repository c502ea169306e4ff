"""The prompt data's rendered clips as an audio-data build, for fine-tuning the vocoder on what it decodes.

    summary = audio_data_from_prompt("data/prompt-vocoder", "data/audio-prompt")   # audio-data from-prompt

The vocoder decodes the prompted tracks' mel: every GM family of the prompt data and the drum kit, in
melodies, chords, arpeggios, grooves and corpus excerpts. The prompt-data build already holds that audio
(FluidSynth, FluidR3 GM, 24 kHz, int16), so no second render is needed: each clip of the prompt data's
train split becomes a piece of this build, `valid_clips` of them (drawn with `seed`) its valid split. The
prompt data's heldout split, which the prompt benchmarks judge, is never read.

The clips carry no notes, so the build is marked `vocoder_only` and the renderer's trainer refuses it. Each
shard keeps the clip's GM program (the drum kit: DRUM_LABEL), so what each family contributes can be told
from the manifest.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from composer.errors import ComposerError
from composer.files.atomic import atomic_write_text
from synth.data.audio_data import FORMAT, Piece, _clear_old_build, _ShardWriter
from synth.data.vocoder_data import DRUM_LABEL
from synth.train.judge_eval import read_split

INT16_FULL_SCALE = 32768.0
Progress = Callable[[int, int], None]


def audio_data_from_prompt(
    prompt_dir: str | Path,
    out_dir: str | Path,
    clips: int | None = None,
    valid_clips: int = 200,
    seed: int = 0,
    progress: Progress | None = None,
) -> dict:
    """Write `out_dir` (an audio-data build, vocoder only) from the prompt data's train clips; returns the
    manifest without the shard list. `clips`: how many train clips to take (None: all)."""
    t0 = time.monotonic()
    prompt_dir, out_dir = Path(prompt_dir), Path(out_dir)
    if out_dir.resolve() == prompt_dir.resolve():
        raise ComposerError(out_dir, "must differ from the prompt data")
    if out_dir.exists() and not out_dir.is_dir():
        raise ComposerError(out_dir, "is a file, expected a folder")
    require_train_audio(prompt_dir)
    split = read_split(prompt_dir, "train", keys=("audio",))
    sample_rate = int(split.manifest["sample_rate"])
    audio_int16 = split.arrays["audio"]  # (N, clip_samples)
    if audio_int16.ndim != 2 or audio_int16.dtype != np.int16 or len(audio_int16) != len(split.clips):
        raise ComposerError(prompt_dir / "train", f"clip audio is {audio_int16.dtype} {audio_int16.shape}")
    order = np.random.default_rng(seed).permutation(len(split.clips))
    n_valid = min(max(valid_clips, 0), len(order) // 2)
    n_train = len(order) - n_valid if clips is None else min(max(clips, 1), len(order) - n_valid)
    chosen = [(int(i), "valid") for i in order[:n_valid]] + [
        (int(i), "train") for i in order[n_valid : n_valid + n_train]
    ]
    out_dir.mkdir(parents=True, exist_ok=True)
    _clear_old_build(out_dir)
    writer = _ShardWriter(out_dir, sample_rate)
    for done, (index, piece_split) in enumerate(chosen, 1):
        clip = split.clips[index]
        program = DRUM_LABEL if clip.get("drums") or clip.get("program") is None else int(clip["program"])
        piece = Piece(f"prompt-{index:05d}", "prompt", str(clip.get("source", "")), program, piece_split, [])
        writer.add(piece, audio_int16[index].astype(np.float32) / INT16_FULL_SCALE)
        if progress is not None:
            progress(done, len(chosen))
    shards = writer.close()
    programs = sorted({int(s["program"]) for s in shards})
    seconds = {split: {str(p): 0.0 for p in programs} for split in ("train", "valid")}  # as an audio-data build's
    for shard in shards:
        seconds[shard["split"]][str(shard["program"])] += shard["seconds"]
    summary = {
        "format": FORMAT,
        "sample_rate": sample_rate,
        "programs": {str(p): "drum kit" if p == DRUM_LABEL else f"GM program {p}" for p in programs},
        "vocoder_only": True,
        "from_prompt_data": str(prompt_dir),
        "clips": {"train": n_train, "valid": n_valid},
        "seed": seed,
        "seconds": {split: {p: round(v, 2) for p, v in by_p.items()} for split, by_p in seconds.items()},
        "pieces": len(writer.pieces),
        "bytes": sum(s["bytes"] for s in shards),
        "build_seconds": round(time.monotonic() - t0, 1),
    }
    atomic_write_text(out_dir / "pieces.jsonl", "".join(json.dumps(p) + "\n" for p in writer.pieces))
    atomic_write_text(out_dir / "manifest.json", json.dumps({**summary, "shards": shards}, indent=1))
    return summary


def require_train_audio(prompt_dir: str | Path) -> None:
    """ComposerError (one line) unless the prompt data's train split kept its audio (`--keep-audio`)."""
    folder = Path(prompt_dir) / "train"
    try:
        first = json.loads(next(line for line in (folder / "clips.jsonl").open(encoding="utf-8") if line.strip()))
        with np.load(folder / str(first["shard"]), allow_pickle=False) as npz:
            has_audio = "audio" in npz.files
    except StopIteration:
        raise ComposerError(folder / "clips.jsonl", "no train clips") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ComposerError(folder, f"not a prompt-data train split ({exc})") from None
    if not has_audio:
        raise ComposerError(folder, "holds no audio: build it with `composer prompt-data build --keep-audio`")
