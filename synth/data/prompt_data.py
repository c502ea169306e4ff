"""The text-prompted diffusion model's data: captioned FluidSynth clips as log-mel, in shards.

    summary = build_prompt_data(Path("data/prompt"), clips={"train": 4000, "judge_train": 1500, "heldout": 400})
    manifest = read_manifest(Path("data/prompt"))

Every clip is CLIP_SAMPLES = 131072 samples at 24 kHz (CLIP_FRAMES = 512 mel
frames): a generated part (synth.data.patterns: melody, chords, arpeggio, drum
groove) or an excerpt of a music21 corpus piece moved into a register of the
instrument, played by one program of PROGRAMS (the family drawn first, so
every family has about the same share) at a tempo, a loudness (velocity) and,
for pitched parts, a key and mode. Its captions (synth.data.captions) come from
that metadata; the held-out split uses only the held-out phrasings.

The splits draw from disjoint seeds (the split's index is part of every clip's
seed) and from disjoint corpus files (split_of_source). The build is written
into a temporary folder beside OUT, manifest last, and renamed onto OUT: a
reader sees the old build or the new one, never half of one.

Layout of OUT (format in /work/notes/issue6_spec.md):

    manifest.json            format, sample_rate, mel, clip_frames, families, captions_per_clip, splits, ...
    {split}/shard-000.npz    mel (N, 80, 512) float16; text_emb (N, K, 384) float16; family (N,) int16;
                             heldout also audio (N, 131072) int16
    {split}/clips.jsonl      one JSON per clip in shard order: shard, index, captions, program, drums, ...
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from composer.errors import ComposerError
from composer.song import Note
from synth.data.captions import KEY_NAMES, ClipMeta, captions
from synth.data.manifest import read_manifest_file
from synth.data.patterns import DRUM_STYLES, arpeggio, chords, groove, melody

FORMAT = "composer-prompt-data/1"
SAMPLE_RATE = 24000
CLIP_FRAMES = 512
HOP_SAMPLES = 256
CLIP_SAMPLES = CLIP_FRAMES * HOP_SAMPLES  # 131072, 5.46 s
CAPTIONS_PER_CLIP = 4
SPLITS = ("train", "judge_train", "heldout")
SHARD_CLIPS = 500
CORPUS_SHARE = 0.25  # of the pitched clips; the rest are generated parts
EXCERPTS_PER_PIECE = 4  # clips cut from one parsed corpus piece (other windows, programs, registers)
MAX_SOURCE_BYTES = 200_000
MAX_ABC_BYTES = 16_000
FAMILIES = (
    "piano", "chromatic percussion", "organ", "guitar", "bass", "strings", "ensemble", "brass", "reed", "pipe",
    "synth lead", "synth pad", "drums",
)  # fmt: skip
# program: (family, caption name, lowest, highest MIDI pitch it plays here)
PROGRAMS: dict[int, tuple[str, str, int, int]] = {
    0: ("piano", "piano", 33, 96),
    4: ("piano", "electric piano", 36, 91),
    11: ("chromatic percussion", "vibraphone", 53, 89),
    13: ("chromatic percussion", "xylophone", 65, 103),
    16: ("organ", "organ", 36, 91),
    19: ("organ", "church organ", 29, 91),
    24: ("guitar", "nylon guitar", 40, 83),
    25: ("guitar", "acoustic guitar", 40, 83),
    32: ("bass", "upright bass", 28, 55),
    33: ("bass", "electric bass", 28, 60),
    40: ("strings", "violin", 55, 100),
    42: ("strings", "cello", 36, 76),
    48: ("ensemble", "string ensemble", 36, 96),
    56: ("brass", "trumpet", 54, 84),
    57: ("brass", "trombone", 40, 72),
    61: ("brass", "brass section", 40, 82),
    65: ("reed", "alto sax", 49, 81),
    68: ("reed", "oboe", 58, 91),
    71: ("reed", "clarinet", 50, 91),
    73: ("pipe", "flute", 60, 96),
    80: ("synth lead", "square lead", 48, 96),
    81: ("synth lead", "saw lead", 48, 96),
    89: ("synth pad", "warm pad", 36, 84),
}
DRUM_PROGRAM = -1  # synth.data.fluid.DRUMS
# Register by the part's median pitch, the same for every instrument (a "high" cello is still a cello).
REGISTER_BANDS = {"low": (0, 51), "middle": (52, 71), "high": (72, 127)}
LOUDNESS_VELOCITY = {"soft": (35, 58), "medium": (64, 88), "loud": (96, 122)}
TEMPO_BPM = {"slow": (56, 84), "moderate": (85, 114), "fast": (115, 160)}
MONOPHONIC_FAMILIES = ("brass", "reed", "pipe", "synth lead")  # melodies and arpeggios, no block chords

Render = Callable[[Mapping[int, Sequence[Note]]], np.ndarray]
Encode = Callable[[list[str]], np.ndarray]
Progress = Callable[[int, int], None]


@dataclass
class Clip:
    meta: ClipMeta
    notes: list[Note]
    source: str  # "pattern" or the corpus file


def register_of(notes: Sequence[Note]) -> str:
    median = float(np.median([n.pitch for n in notes]))
    return next(name for name, (lo, hi) in REGISTER_BANDS.items() if median <= hi + 0.5 and median >= lo - 0.5)


def registers_of(program: int) -> list[str]:
    """The registers where the program has at least 8 semitones of its range."""
    _, _, low, high = PROGRAMS[program]
    return [name for name, (lo, hi) in REGISTER_BANDS.items() if min(hi, high) - max(lo, low) >= 8] or [
        register_of([Note((low + high) // 2, 1, 0.0, 1.0)])
    ]


def window_for(rng: np.random.Generator, program: int, register: str, span: int = 14) -> tuple[int, int]:
    """A pitch window of `span` semitones inside the program's range, centred in the register's band."""
    _, _, low, high = PROGRAMS[program]
    lo, hi = REGISTER_BANDS[register]
    c_lo, c_hi = max(lo, low + span // 2), min(hi, high - span // 2)
    centre = int(rng.integers(c_lo, c_hi + 1)) if c_lo <= c_hi else (max(lo, low) + min(hi, high)) // 2
    return max(low, centre - span // 2), min(high, centre + span // 2)


def estimate_key(notes: Sequence[Note]) -> tuple[int, str]:
    """(tonic pitch class, "major"/"minor") by Krumhansl-Kessler profiles on the duration-weighted chroma."""
    major = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
    minor = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
    chroma = np.zeros(12)
    for n in notes:
        chroma[n.pitch % 12] += max(n.end_s - n.start_s, 0.05)
    best = max(
        ((float(np.corrcoef(chroma, np.roll(profile, tonic))[0, 1]), tonic, mode)
         for mode, profile in (("major", major), ("minor", minor)) for tonic in range(12)),
    )  # fmt: skip
    return best[1], best[2]


def pattern_clip(rng: np.random.Generator, program: int | None, length_s: float = CLIP_SAMPLES / SAMPLE_RATE) -> Clip:
    """A generated part for `program` (None: drums) with everything drawn from rng."""
    loudness = ("soft", "medium", "loud")[int(rng.integers(3))]
    level = int(rng.integers(*LOUDNESS_VELOCITY[loudness]))
    tempo = ("slow", "moderate", "fast")[int(rng.integers(3))]
    bpm = float(rng.integers(TEMPO_BPM[tempo][0], TEMPO_BPM[tempo][1] + 1))
    if program is None:
        style = DRUM_STYLES[int(rng.integers(len(DRUM_STYLES)))]
        notes = groove(rng, style, bpm, level, length_s)
        meta = ClipMeta(None, "drums", "drums", bpm, None, None, None, loudness, "groove", style)
        return Clip(meta, notes, "pattern")
    family, name, _, _ = PROGRAMS[program]
    textures = ("melody", "arpeggio") if family in MONOPHONIC_FAMILIES or family == "bass" else (
        "melody", "chords", "arpeggio")  # fmt: skip
    texture = textures[int(rng.integers(len(textures)))]
    register = rng.choice(registers_of(program))
    low, high = window_for(rng, program, str(register), span=14 if texture == "melody" else 19)
    key_pc, mode = int(rng.integers(12)), ("major", "minor")[int(rng.integers(2))]
    make = {"melody": melody, "chords": chords, "arpeggio": arpeggio}[texture]
    notes = make(rng, key_pc, mode, bpm, low, high, level, length_s)
    meta = ClipMeta(program, family, name, bpm, KEY_NAMES[key_pc], mode, register_of(notes), loudness, texture)
    return Clip(meta, notes, "pattern")


def corpus_clip(
    rng: np.random.Generator, program: int, notes: Sequence[Note], bpm: float, source: str,
    length_s: float = CLIP_SAMPLES / SAMPLE_RATE,
) -> Clip | None:  # fmt: skip
    """A window of a corpus piece at a drawn tempo and loudness, moved into a register of `program`; None
    when the window has too few notes."""
    from synth.data.audio_data import fit_to_range

    stretch = float(rng.uniform(0.8, 1.25))
    onsets = sorted({n.start_s * stretch for n in notes})
    last_start = max(0.0, onsets[-1] - length_s * 0.8)
    start_s = onsets[int(np.searchsorted(onsets, float(rng.uniform(0.0, last_start))))]
    window = [
        Note(n.pitch, n.velocity, n.start_s * stretch - start_s, min(n.end_s * stretch - start_s, length_s + 1.0))
        for n in notes
        if start_s <= n.start_s * stretch < start_s + length_s
    ]
    if len(window) < 6 or max(n.start_s for n in window) < 0.6 * length_s:
        return None
    family, name, _, _ = PROGRAMS[program]
    register = str(rng.choice(registers_of(program)))
    low, high = window_for(rng, program, register, span=24)
    fitted, _ = fit_to_range(window, low, high)
    loudness = ("soft", "medium", "loud")[int(rng.integers(3))]
    level = int(rng.integers(*LOUDNESS_VELOCITY[loudness]))
    fitted = [Note(n.pitch, int(np.clip(round(level + rng.normal(0, 6)), 1, 127)), n.start_s, n.end_s) for n in fitted]
    onset_times = np.array([n.start_s for n in fitted])
    sounding = np.mean([np.sum((onset_times <= n.start_s + 0.01) & (onset_times >= n.start_s - 0.01)) for n in fitted])
    texture = "chords" if sounding >= 1.8 else "melody"
    key_pc, mode = estimate_key(fitted)
    beat_s = 60.0 * stretch / bpm  # the piece's quarter note, stretched; its offset 0 is a beat
    meta = ClipMeta(
        program, family, name, round(bpm / stretch, 1), KEY_NAMES[key_pc], mode, register_of(fitted), loudness, texture,
        first_beat_s=round(float(-start_s % beat_s), 4), beats_per_bar=None,
    )  # fmt: skip
    return Clip(meta, fitted, source)


def split_of_source(rel: str) -> str:
    """Each corpus file belongs to one split (70/15/15 by a hash of its path)."""
    bucket = int(hashlib.sha1(f"prompt/{rel}".encode()).hexdigest()[:8], 16) % 100
    return "train" if bucket < 70 else "judge_train" if bucket < 85 else "heldout"


def corpus_pieces(
    split: str, seed: int, sources: Sequence[tuple[str, str, str]], failures: list[str]
) -> Iterator[tuple[list[Note], float, str]]:
    """(notes, quarter-note BPM, source) of the split's corpus pieces, in a stable order of the seed."""
    from music21 import converter, stream

    from composer.train.corpus import music21_notes

    def order(source: tuple[str, str, str]) -> str:
        return hashlib.sha1(f"{seed}/{source[1]}".encode()).hexdigest()

    for path, rel, _style in sorted(sources, key=order):
        if split_of_source(rel) != split or not Path(path).is_file():
            continue
        size = Path(path).stat().st_size
        if size > MAX_SOURCE_BYTES or (rel.lower().endswith(".abc") and size > MAX_ABC_BYTES):
            continue
        try:
            parsed = converter.parse(path)
            items = list(parsed.scores)[:3] if isinstance(parsed, stream.Opus) else [parsed]
            for item in items:
                notes = music21_notes(item)
                marks = item.metronomeMarkBoundaries()
                bpm = float(marks[0][2].getQuarterBPM() or 120.0) if marks else 120.0
                if len(notes) >= 12:
                    yield notes, bpm, rel
        except Exception as exc:  # music21 raises many types on files it cannot read
            failures.append(f"{rel}: {type(exc).__name__}: {exc}"[:200])


def plan_clips(
    split: str, n_clips: int, seed: int, sources: Sequence[tuple[str, str, str]] | None, failures: list[str]
) -> Iterator[Clip]:
    """The split's clips: family drawn uniformly, then a program of it; corpus excerpts for a share of the
    pitched ones while the split's corpus files last, generated parts for the rest."""
    split_index = SPLITS.index(split)
    by_family: dict[str, list[int | None]] = {f: [] for f in FAMILIES}
    for program, (family, *_rest) in PROGRAMS.items():
        by_family[family].append(program)
    by_family["drums"] = [None]
    pieces = corpus_pieces(split, seed, sources, failures) if sources else iter(())
    current: tuple[list[Note], float, str] | None = None
    uses = 0
    for index in range(n_clips):
        rng = np.random.default_rng([seed, split_index, index])
        family = FAMILIES[int(rng.integers(len(FAMILIES)))]
        options = by_family[family]
        program = options[int(rng.integers(len(options)))]
        clip = None
        if program is not None and rng.random() < CORPUS_SHARE:
            for _ in range(3):
                if current is None or uses >= EXCERPTS_PER_PIECE:
                    current, uses = next(pieces, None), 0
                if current is None:
                    break
                uses += 1
                clip = corpus_clip(rng, program, current[0], current[1], current[2])
                if clip is not None:
                    break
        yield clip if clip is not None else pattern_clip(rng, program)


def build_prompt_data(
    out_dir: Path,
    clips: Mapping[str, int],
    seed: int = 0,
    sources: Sequence[tuple[str, str, str]] | None = None,
    render: Render | None = None,
    encode: Encode | None = None,
    progress: Progress | None = None,
    keep_audio: bool = False,
) -> dict:
    """Render, caption and write every split; returns the manifest.

    The heldout split keeps its clips' audio (int16) beside the log-mel; with `keep_audio` every split does
    (what `composer audio-data from-prompt` reads to fine-tune the vocoder).

    `sources` are (path, id, style) as composer.train.corpus.music21_sources gives (the default; [] for generated
    parts only); `render` maps {program or DRUM_PROGRAM: notes} to mono float32 audio (default FluidSynth);
    `encode` maps captions to (N, 384) float32 (default synth.prompt.text_encoder.TextEncoder().encode).
    """
    counts = {split: int(clips.get(split, 0)) for split in SPLITS}
    for split, n in counts.items():
        if not 0 <= n <= 1_000_000:
            raise ComposerError(f"--clips-{split.replace('_', '-')}", f"{n}: expected 0 to 1000000")
    if sum(counts.values()) == 0:
        raise ComposerError("clips", "every split has 0 clips; ask for at least one")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ComposerError(out_dir, "is a file, expected a folder")
    t0 = time.monotonic()
    closer = None
    if render is None:
        from synth.data.fluid import FluidRenderer

        fluid = FluidRenderer(SAMPLE_RATE)
        render, closer = fluid.render, fluid.close
    if encode is None:
        from synth.prompt.text_encoder import TextEncoder

        encode = TextEncoder().encode
    if sources is None:
        from composer.train.corpus import music21_sources

        sources = music21_sources()
    from synth.instruments.neural.mel import LogMel, MelConfig

    mel = LogMel(MelConfig())
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; the build is data like any other folder
    failures: list[str] = []
    done, total = 0, sum(counts.values())
    cache: dict[str, np.ndarray] = {}
    per_family: dict[str, dict[str, int]] = {}
    per_source: dict[str, dict[str, int]] = {}
    try:
        for split in SPLITS:
            (tmp / split).mkdir()
            writer = _SplitWriter(tmp / split, keep_audio=keep_audio or split == "heldout", encode=encode, cache=cache)
            for clip in plan_clips(split, counts[split], seed, sources, failures):
                rng = np.random.default_rng([seed, SPLITS.index(split), done, 1])
                texts = captions(clip.meta, rng, CAPTIONS_PER_CLIP, held_out=split == "heldout")
                audio = _fit_clip(render({DRUM_PROGRAM if clip.meta.drums else clip.meta.program: clip.notes}))
                writer.add(clip, texts, audio, mel)
                done += 1
                if progress is not None:
                    progress(done, total)
            writer.close()
            per_family[split] = {f: writer.families.count(f) for f in FAMILIES}
            per_source[split] = {"pattern": writer.sources.count("pattern")}
            per_source[split]["corpus"] = len(writer.sources) - per_source[split]["pattern"]
        manifest = {
            "format": FORMAT,
            "sample_rate": SAMPLE_RATE,
            "mel": MelConfig().to_dict(),
            "clip_frames": CLIP_FRAMES,
            "clip_samples": CLIP_SAMPLES,
            "families": list(FAMILIES),
            "captions_per_clip": CAPTIONS_PER_CLIP,
            "text_dim": int(next(iter(cache.values())).shape[0]),
            "splits": counts,
            "shards": {split: sorted(p.name for p in (tmp / split).glob("shard-*.npz")) for split in SPLITS},
            "clips_per_family": per_family,
            "clips_per_source": per_source,
            "programs": {str(p): {"family": v[0], "instrument": v[1]} for p, v in PROGRAMS.items()},
            "seed": seed,
            "corpus_failures": failures[:50],
            "build_seconds": round(time.monotonic() - t0, 1),
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        _swap_in(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        if closer is not None:
            closer()
    return manifest


def read_manifest(out_dir: Path) -> dict:
    """The manifest of a finished build; ComposerError (one line, naming the file) if there is none or it is
    not one."""
    path = Path(out_dir) / "manifest.json"
    return read_manifest_file(path, FORMAT, "prompt-data", "build the data with `composer prompt-data build`")


def _fit_clip(audio: np.ndarray) -> np.ndarray:
    """Exactly CLIP_SAMPLES: cut, or padded with silence; clipped to [-1, 1] as the int16 audio is."""
    out = np.zeros(CLIP_SAMPLES, np.float32)
    n = min(len(audio), CLIP_SAMPLES)
    out[:n] = audio[:n]
    return np.clip(out, -1.0, 1.0)


class _SplitWriter:
    """Collects clips and writes a shard of SHARD_CLIPS, with the captions' embeddings, plus clips.jsonl."""

    def __init__(self, folder: Path, keep_audio: bool, encode: Encode, cache: dict[str, np.ndarray]) -> None:
        self.folder = folder
        self.keep_audio = keep_audio
        self.encode = encode
        self.cache = cache
        self.items: list[tuple[Clip, list[str], np.ndarray, np.ndarray]] = []
        self.lines: list[str] = []
        self.families: list[str] = []
        self.sources: list[str] = []
        self.n_shards = 0

    def add(self, clip: Clip, texts: list[str], audio: np.ndarray, mel) -> None:
        import torch

        with torch.no_grad():
            log_mel = mel(torch.from_numpy(audio)[None])[0].numpy()  # (80, 512)
        self.items.append((clip, texts, log_mel, audio))
        if len(self.items) >= SHARD_CLIPS:
            self._flush()

    def close(self) -> None:
        self._flush()
        (self.folder / "clips.jsonl").write_text("".join(self.lines), encoding="utf-8")

    def _flush(self) -> None:
        if not self.items:
            return
        name = f"shard-{self.n_shards:03d}.npz"
        self.n_shards += 1
        new = sorted({t for _, texts, _, _ in self.items for t in texts if t not in self.cache})
        if new:
            emb = np.asarray(self.encode(new), np.float32)
            self.cache.update(zip(new, emb, strict=True))
        arrays = {
            "mel": np.stack([m for _, _, m, _ in self.items]).astype(np.float16),
            "text_emb": np.stack([[self.cache[t] for t in texts] for _, texts, _, _ in self.items]).astype(np.float16),
            "family": np.array([FAMILIES.index(c.meta.family) for c, _, _, _ in self.items], np.int16),
        }
        if self.keep_audio:
            arrays["audio"] = np.stack([np.round(a * 32767) for _, _, _, a in self.items]).astype(np.int16)
        with open(self.folder / name, "wb") as handle:  # a file object, so numpy keeps the name
            np.savez(handle, **arrays)
        for index, (clip, texts, _, _) in enumerate(self.items):
            meta = clip.meta.to_dict()
            line = {"shard": name, "index": index, "captions": texts, **meta, "source": clip.source}
            self.lines.append(json.dumps(line) + "\n")
            self.families.append(clip.meta.family)
            self.sources.append(clip.source)
        self.items = []


def _swap_in(tmp: Path, out_dir: Path) -> None:
    """Rename the finished build onto out_dir; an old build is moved aside first and then removed."""
    old = None
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
        os.replace(out_dir, old)
    os.replace(tmp, out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
