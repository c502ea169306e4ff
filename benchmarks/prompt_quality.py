"""Quality of text-prompted audio: the judge's verdict on clips generated from held-out prompts.

For --clips clips of the prompt-data heldout split (captions from phrasings
never used in training; the clip's metadata is the ground truth), one caption
each (rotating through the clip's captions) is generated twice with the same
noise: with the default guidance and with guidance 1.0 (none). Each generated
log-mel is decoded by the vocoder and the log-mel of that audio is what is
judged, so decoding is judged too. Reported, with and without guidance:

- family accuracy of the judge (synth/prompt/judge.py, trained on judge_train only;
  goal >= 0.70 with guidance), balanced accuracy, drums-vs-pitched accuracy;
- Frechet distance on the judge's features, generated vs real heldout clips:
  the clips are split in halves A and B, and generated-from-A is compared with
  real B (and B with A, averaged), so the real-vs-real floor, real A vs real
  B, has the same sample sizes;
- tempo agreement (synth.prompt.music_analysis: onset autocorrelation; exact within
  8 %, and up to a factor of 2) with the metadata BPM, over the clips whose
  prompt states the BPM and over all; the tempo word (slow/moderate/fast) of
  the estimate against the metadata's;
- key agreement (chroma + Krumhansl-Kessler profiles; exact and the MIREX
  score) over the clips whose prompt names the key and over all pitched clips;
- texture accuracy of the texture judge (models/texture_judge: melody, arpeggio,
  chords, groove, trained on a judge build of its own) against the clip's
  metadata texture, over all clips and over the clips whose prompt names the
  texture word, overall and per texture; without that model file, texture is
  reported as not judged.

The same measures on the real clips (their stored log-mel, made from float
audio like the generated clips'; the key from their int16 audio) and on the real
clips resynthesised by the vocoder alone are the ceilings: what the judge and the estimators manage on
the real thing. A few pictures (log-mel of real, vocoded, guided, unguided) go
to --out. Ends with one JSON line.

    python benchmarks/prompt_quality.py [--data data/prompt] [--clips 200] [--steps 20] [--guidance 5.0]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import machine_facts  # noqa: E402

from composer.errors import ComposerError  # noqa: E402
from synth.data.captions import tempo_word  # noqa: E402
from synth.instruments.neural.mel import LogMel  # noqa: E402
from synth.instruments.neural.neural_checkpoint import load_neural  # noqa: E402
from synth.prompt.controls import ControlLabels, labels_of_clips  # noqa: E402
from synth.prompt.diffusion import Controls  # noqa: E402
from synth.prompt.flow_sampler import load_diffusion, sample_mel  # noqa: E402
from synth.prompt.judge import load_judge  # noqa: E402
from synth.prompt.music_analysis import estimate_key, estimate_tempo, key_score, onset_strength, tempo_agreement  # noqa: E402
from synth.prompt.prompt_audio import (  # noqa: E402
    DEFAULT_GUIDANCE,
    DEFAULT_KEY_GUIDANCE,
    DEFAULT_STEPS,
    default_diffusion_path,
    default_vocoder_path,
    models_dir,
)
from synth.train.judge_eval import (  # noqa: E402
    accuracy_report,
    frechet_distance,
    judge_outputs,
    read_split,
    texture_labels,
)

GOAL_FAMILY_ACCURACY = 0.70
SAMPLE_RATE = 24000
WAYS = ("guided", "unguided")
# The words synth.data.captions puts in a caption for each texture ("broken chords" is an arpeggio's).
TEXTURE_WORDS = {
    "melody": ("melody", "tune", "melodic line", "bassline"),
    "chords": ("chords", "chord progression"),
    "arpeggio": ("arpeggio", "arpeggios", "broken chords"),
    "groove": ("groove", "beat", "pattern"),
}


def pick_clips(n_clips: int, n: int, seed: int) -> np.ndarray:
    """n distinct clip indices out of n_clips, drawn with `seed` (all of them, shuffled, when n >= n_clips)."""
    return np.random.default_rng(seed).permutation(n_clips)[:n]


def states_bpm(caption: str, bpm: float) -> bool:
    return re.search(rf"\b{int(round(bpm))}\b", caption) is not None


def names_key(caption: str, key: str | None, mode: str | None) -> bool:
    return key is not None and mode is not None and f"{key} {mode}" in caption


def names_texture(caption: str, texture: str) -> bool:
    """Whether the caption says the texture in words (a "broken chords" caption names an arpeggio, not chords)."""
    text = caption.lower()
    if texture != "arpeggio":
        text = text.replace("broken chords", "")
    return any(re.search(rf"\b{re.escape(word)}\b", text) for word in TEXTURE_WORDS.get(texture, ()))


def texture_report(predicted: np.ndarray, labels: np.ndarray, classes: tuple[str, ...], captions: list[str]) -> dict:
    """Texture accuracy (overall, balanced, per texture) over all clips, with the confusion counts, and over the
    clips whose caption names their texture."""
    named = np.array([names_texture(c, classes[t]) for c, t in zip(captions, labels, strict=True)], dtype=bool)
    return {
        "all": accuracy_report(predicted, labels, classes, target="texture", confusion=True),
        "named": accuracy_report(predicted[named], labels[named], classes, target="texture"),
    }


def load_texture_judge(path: Path | None):
    """(judge, extra), or (None, a line saying why texture is not judged) where the default file is absent; an
    explicit `path` must exist. ComposerError for a bad file or one of another target."""
    if path is None:
        path = models_dir() / "texture_judge" / "model.safetensors"
        if not path.is_file():
            return None, f"not judged: no texture judge at {path}"
    return load_judge(path, target="texture")


def decode(
    vocoder: torch.nn.Module, frontend: LogMel, log_mel: torch.Tensor, batch_size: int = 8
) -> tuple[np.ndarray, torch.Tensor]:
    """Log-mel (N, n_mels, F) -> (audio (N, F * hop - latency) float32, the log-mel of that audio)."""
    audio = []
    with torch.no_grad():
        for start in range(0, len(log_mel), batch_size):
            audio.append(vocoder(log_mel[start : start + batch_size])[:, vocoder.latency_samples :])  # (B, n)
        audio = torch.cat(audio)
        return audio.numpy(), torch.cat([frontend(a) for a in audio.split(batch_size)])


def generate(
    model,
    text_emb: np.ndarray,
    n_frames: int,
    steps: int,
    guidance: float,
    seed: int,
    batch_size: int,
    labels: ControlLabels | None = None,
    key_guidance: float = 0.0,
) -> torch.Tensor:
    """Log-mel (N, n_mels, n_frames) for text embeddings (N, 384); batch b's noise from seed + its first index.
    `labels`: each clip's tempo, key, meter and beat grid, given to a model trained with controls."""
    out = []
    for start in range(0, len(text_emb), batch_size):
        text = torch.from_numpy(np.asarray(text_emb[start : start + batch_size], dtype=np.float32))
        gen = torch.Generator().manual_seed(seed + start)
        controls = None
        if labels is not None and model.cfg.controls:
            controls = Controls.of(labels.take(np.arange(start, start + len(text))), n_frames)
        mel = sample_mel(
            model, text, n_frames, steps=steps, guidance=guidance, generator=gen, controls=controls,
            key_guidance=key_guidance if controls is not None else 0.0,
        )  # fmt: skip
        out.append(mel.float())
    return torch.cat(out)


def music_report(audio: np.ndarray, log_mel: torch.Tensor, clips: list[dict], captions: list[str]) -> dict:
    """Tempo and key agreement of each clip's audio (N, n) and log-mel (N, n_mels, T) with its metadata."""
    tempo = {"stated": [], "all": []}
    words = []
    key = {"named": [], "all": []}
    for i, clip in enumerate(clips):
        if clip.get("bpm"):
            bpm = estimate_tempo(onset_strength(log_mel[i].numpy())).bpm
            agreement = tempo_agreement(bpm, clip["bpm"])
            tempo["all"].append(agreement)
            if states_bpm(captions[i], clip["bpm"]):
                tempo["stated"].append(agreement)
            words.append(np.isfinite(bpm) and tempo_word(bpm) == tempo_word(clip["bpm"]))
        if clip.get("key") and clip.get("mode"):
            score = key_score(estimate_key(audio[i]), clip["key"], clip["mode"])
            key["all"].append(score)
            if names_key(captions[i], clip["key"], clip["mode"]):
                key["named"].append(score)

    def tempo_summary(rows: list[dict]) -> dict:
        if not rows:
            return {"n": 0}
        return {
            "n": len(rows),
            "exact": round(float(np.mean([r["exact"] for r in rows])), 4),
            "up_to_factor_2": round(float(np.mean([r["octave"] for r in rows])), 4),
        }

    def key_summary(scores: list[float]) -> dict:
        if not scores:
            return {"n": 0}
        return {
            "n": len(scores),
            "exact": round(float(np.mean([s == 1.0 for s in scores])), 4),
            "mirex": round(float(np.mean(scores)), 4),
        }

    return {
        "tempo_stated": tempo_summary(tempo["stated"]),
        "tempo_all": tempo_summary(tempo["all"]),
        "tempo_word": round(float(np.mean(words)), 4) if words else None,
        "key_named": key_summary(key["named"]),
        "key_all": key_summary(key["all"]),
    }


def halves_fd(features: np.ndarray, real: np.ndarray) -> float:
    """Mean of FD(features of half A, real B) and FD(features of half B, real A); A even, B odd positions."""
    a, b = slice(0, None, 2), slice(1, None, 2)
    return (frechet_distance(features[a], real[b]) + frechet_distance(features[b], real[a])) / 2


def picture(path: Path, rows: dict[str, np.ndarray], title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(rows), 1, figsize=(10, 2.0 * len(rows)), sharex=True)
    for ax, (name, mel) in zip(axes, rows.items(), strict=True):
        seconds = mel.shape[1] * 256 / SAMPLE_RATE
        ax.imshow(mel, origin="lower", aspect="auto", vmin=-11.5, vmax=2.0, extent=(0, seconds, 0, mel.shape[0]))
        ax.set_ylabel(f"{name}\nmel band")
    axes[-1].set_xlabel("seconds")
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def pictures(folder: Path, count: int, mels: dict[str, torch.Tensor], captions: list[str]) -> str:
    """Up to `count` PNGs of the first clips; a note when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return "matplotlib not installed: no pictures"
    for i in range(min(count, len(captions))):
        rows = {name: mel[i].numpy() for name, mel in mels.items()}
        picture(folder / f"clip-{i:02d}.png", rows, f'"{captions[i]}"')
    return str(folder)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/prompt", help="a prompt-data build (composer prompt-data build)")
    parser.add_argument("--clips", type=int, default=200, help="held-out clips to generate from")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="sampler steps")
    parser.add_argument("--guidance", type=float, default=DEFAULT_GUIDANCE, help="the guided run's scale")
    parser.add_argument(
        "--key-guidance", type=float, default=DEFAULT_KEY_GUIDANCE, help="the guided run's key guidance (controls)"
    )
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--diffusion", type=Path, default=None, help="default: models/diffusion/model.safetensors")
    parser.add_argument("--vocoder", type=Path, default=None, help="default: models/prompt_vocoder/, else vocoder/")
    parser.add_argument("--judge", type=Path, default=None, help="default: models/judge/model.safetensors")
    parser.add_argument(
        "--texture-judge", type=Path, default=None,
        help="default: models/texture_judge/model.safetensors (where it is absent, texture is not judged)",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("runs/prompt_quality"), help="where the PNGs go")
    parser.add_argument("--pictures", type=int, default=4, help="how many clips to picture")
    parser.add_argument(
        "--controls", choices=("labels", "none"), default="labels",
        help="a controls model is given each clip's own tempo, key and meter (labels), as a song would, or nothing",
    )  # fmt: skip
    args = parser.parse_args(argv)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    if args.clips < 4 or args.steps < 1 or args.batch_size < 1:
        print("prompt_quality: --clips must be >= 4, --steps and --batch-size >= 1", file=sys.stderr)
        return 2
    try:
        model, diffusion_extra = load_diffusion(args.diffusion or default_diffusion_path())
        vocoder, vocoder_extra = load_neural(args.vocoder or default_vocoder_path(), "vocoder")
        judge, judge_extra = load_judge(args.judge or models_dir() / "judge" / "model.safetensors", target="family")
        texture_judge, texture_extra = load_texture_judge(args.texture_judge)
        heldout = read_split(args.data, "heldout", ("text_emb", "family", "audio", "mel"))
    except ComposerError as exc:
        print(f"prompt_quality: {exc}", file=sys.stderr)
        return 2
    families = tuple(heldout.manifest["families"])
    if families != judge.cfg.families:
        print(
            f"prompt_quality: the judge's families {judge.cfg.families} are not the data's {families}", file=sys.stderr
        )
        return 2
    t0 = time.perf_counter()
    chosen = pick_clips(len(heldout.clips), args.clips, args.seed)
    clips = [heldout.clips[i] for i in chosen]
    textures = None
    if texture_judge is not None:
        try:
            textures = texture_labels(clips, texture_judge.cfg.classes)
        except ComposerError as exc:
            print(f"prompt_quality: {args.data}: {exc.problem}", file=sys.stderr)
            return 2
    captions = [clip["captions"][j % len(clip["captions"])] for j, clip in enumerate(clips)]
    text_emb = heldout.arrays["text_emb"][chosen, np.arange(len(chosen)) % heldout.arrays["text_emb"].shape[1]]
    labels = heldout.arrays["family"][chosen].astype(int)
    frontend = LogMel()
    real_audio = heldout.arrays["audio"][chosen].astype(np.float32) / 32768.0  # int16: for the key only
    real_mel = torch.from_numpy(heldout.arrays["mel"][chosen].astype(np.float32))  # (N, n_mels, clip_frames)
    vocoded_audio, vocoded_mel = decode(vocoder, frontend, real_mel)
    n_frames = min(int(heldout.manifest.get("clip_frames", real_mel.shape[2])), model.cfg.clip_frames)
    takes = {"real": (real_audio, real_mel), "vocoded": (vocoded_audio, vocoded_mel)}
    control_labels = labels_of_clips(clips) if args.controls == "labels" and model.cfg.controls else None
    generate_s = {}
    for way, guidance in zip(WAYS, (args.guidance, 1.0), strict=True):
        start = time.perf_counter()
        key_guidance = args.key_guidance if way == "guided" else 0.0
        mel = generate(
            model, text_emb, n_frames, args.steps, guidance, args.seed, args.batch_size, control_labels, key_guidance
        )
        takes[way] = decode(vocoder, frontend, mel)
        generate_s[way] = round(time.perf_counter() - start, 1)
    features, results = {}, {}
    for name, (audio, log_mel) in takes.items():
        logits, feats = judge_outputs(judge, log_mel)
        features[name] = feats.numpy()
        results[name] = {
            **accuracy_report(logits.argmax(1).numpy(), labels, families),
            **music_report(audio, log_mel, clips, captions),
        }
        if textures is not None:
            predicted = judge_outputs(texture_judge, log_mel)[0].argmax(1).numpy()
            results[name]["texture"] = texture_report(predicted, textures, texture_judge.cfg.classes, captions)
    real = features["real"]
    fd = {name: round(halves_fd(features[name], real), 3) for name in ("guided", "unguided", "vocoded")}
    fd["real_floor"] = round(frechet_distance(real[0::2], real[1::2]), 3)
    picture_note = pictures(args.out, args.pictures, {name: take[1] for name, take in takes.items()}, captions)
    guided = results["guided"]
    if textures is None:
        texture_summary = texture_extra
        print(f"prompt_quality: texture {texture_extra}", file=sys.stderr)
    else:
        texture_summary = {
            name: {part: r["texture"][part].get("texture_accuracy") for part in ("all", "named")}
            for name, r in results.items()
        }
    print(
        json.dumps(
            {
                "benchmark": "prompt_quality",
                "clips": len(chosen),
                "steps": args.steps,
                "guidance": args.guidance,
                "key_guidance": args.key_guidance,
                "family_accuracy": {name: r["family_accuracy"] for name, r in results.items()},
                "drums_vs_pitched_accuracy": {name: r.get("drums_vs_pitched_accuracy") for name, r in results.items()},
                "frechet_distance": fd,
                "texture_accuracy": texture_summary,
                "results": results,
                "goal": f"judge family accuracy >= {GOAL_FAMILY_ACCURACY} on clips generated with guidance",
                "met": guided["family_accuracy"] >= GOAL_FAMILY_ACCURACY,
                "controls": "each clip's own tempo, key and meter" if control_labels is not None else "none",
                "weights": {
                    "diffusion_file": str(args.diffusion or default_diffusion_path()),
                    "diffusion_step": diffusion_extra.get("step"),
                    "vocoder_step": vocoder_extra.get("step"),
                    "judge_step": judge_extra.get("step"),
                    "judge_heldout_accuracy": judge_extra.get("heldout", {}).get("family_accuracy"),
                    "texture_judge_step": None if textures is None else texture_extra.get("step"),
                    "texture_judge_heldout_accuracy": None
                    if textures is None
                    else texture_extra.get("heldout", {}).get("texture_accuracy"),
                },
                "generate_s": generate_s,
                "pictures": picture_note,
                "wall_s": round(time.perf_counter() - t0, 1),
                "sample_rate": SAMPLE_RATE,
                **machine_facts(),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
