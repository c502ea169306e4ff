"""The neural trainers' windows, read from the audio-data build (synth/data/audio_data.py's format).

    data = AudioDataset("data/audio", "train")
    context, target = data.vocoder_batch(rng, batch_size=8, n_frames=32, latency_samples=256)
    batch = data.renderer_batch(rng, batch_size=8, n_frames=128)

The build (`composer-audio-data/1`) is read directly, without importing the
builder: manifest.json lists shards; a shard is `{split}/PPP-KKK.npy`
(float16 mono audio at the manifest's sample rate, pieces back to back) and
`PPP-KKK.notes.npz` (pitch, velocity, program, start_s, end_s in seconds
from the shard's first sample, piece index, piece_start_sample,
piece_n_samples, sample_rate). Audio stays memory-mapped; each window's
log-mel and note features are computed when it is drawn, with enough audio
before it that its causal mel frames equal the whole piece's, and the notes
that may still sound (RELEASE_KEEP_S) replayed through the live NoteTracker.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from composer.errors import ComposerError
from synth.data.manifest import read_manifest_file, shard_entries, whole_number
from synth.instruments.neural.mel import LogMel, MelConfig
from synth.instruments.neural.note_features import RELEASE_KEEP_S, features_from_notes

FORMAT = "composer-audio-data/1"
SPLITS = ("train", "valid", "test")  # composer.train.corpus.SPLITS, the builder's


@dataclass
class Piece:
    audio: np.ndarray  # float16 (n_samples,), memory-mapped
    program: int
    notes: np.ndarray  # float64 (N, 4): pitch, velocity, start_s, end_s from the piece's first sample


class AudioDataset:
    def __init__(self, folder: str | Path, split: str, mel: MelConfig | None = None, max_notes: int = 16) -> None:
        self.folder = Path(folder)
        self.split = split
        self.mel_config = mel or MelConfig()
        self.max_notes = max_notes
        manifest_path = self.folder / "manifest.json"
        hint = "build the data with `composer audio-data build`"
        manifest = read_manifest_file(manifest_path, FORMAT, "audio-data", hint)
        self.vocoder_only = bool(manifest.get("vocoder_only", False))  # audio without notes (from-prompt builds)
        rate = whole_number(manifest, "sample_rate", manifest_path, 1000, 768_000)
        if rate != self.mel_config.sample_rate:
            raise ComposerError(manifest_path, f"audio at {rate} Hz, the models need {self.mel_config.sample_rate}")
        self.pieces: list[Piece] = []
        for entry in shard_entries(manifest, manifest_path, SPLITS):
            if entry["split"] == split:
                self._add_shard(entry)
        self._frontend = LogMel(self.mel_config)

    def __len__(self) -> int:
        return len(self.pieces)

    def _add_shard(self, entry: dict) -> None:
        audio_path, notes_path = self.folder / entry["audio"], self.folder / entry["notes"]
        try:
            audio = np.load(audio_path, mmap_mode="r", allow_pickle=False)
        except Exception as exc:  # missing, truncated, not .npy, an object array: numpy raises many types
            raise ComposerError(audio_path, f"unreadable shard ({_first_line(exc)})") from None
        if audio.ndim != 1 or audio.dtype.kind != "f":
            raise ComposerError(audio_path, f"shard audio is {audio.dtype} {audio.shape}, expected float (n_samples,)")
        try:
            with np.load(notes_path, allow_pickle=False) as npz:
                cols = {name: npz[name] for name in npz.files}
            pieces = self._pieces(cols, audio, int(entry["program"]))
        except Exception as exc:  # a column missing, of another length or kind
            raise ComposerError(notes_path, f"unreadable shard ({_first_line(exc)})") from None
        self.pieces.extend(pieces)

    def _pieces(self, cols: dict[str, np.ndarray], audio: np.ndarray, program: int) -> list[Piece]:
        rate = self.mel_config.sample_rate
        pieces = []
        for index, (start, n) in enumerate(zip(cols["piece_start_sample"], cols["piece_n_samples"], strict=True)):
            if not 0 <= int(start) <= int(start) + int(n) <= len(audio):
                raise ValueError(f"piece {index} ({int(start)}, {int(n)}) lies outside the shard's audio")
            mine = cols["piece"] == index
            offset_s = start / rate
            notes = np.stack(
                [cols["pitch"][mine], cols["velocity"][mine], cols["start_s"][mine] - offset_s,
                 cols["end_s"][mine] - offset_s], axis=1,
            ).astype(np.float64)  # fmt: skip
            pieces.append(Piece(audio[int(start) : int(start + n)], program, notes))
        return pieces

    def _pick(self, rng: np.random.Generator, n_frames: int) -> tuple[Piece, int]:
        if not self.pieces:
            raise ComposerError(self.folder / "manifest.json", f"no {self.split} shards")
        piece = self.pieces[rng.integers(len(self.pieces))]
        last = max(len(piece.audio) // self.mel_config.hop_samples - n_frames, 0)
        return piece, int(rng.integers(last + 1))

    @staticmethod
    def audio_window(piece: Piece, start: int, n_samples: int) -> np.ndarray:
        """piece.audio[start : start + n_samples] as float32, zeros outside the piece."""
        out = np.zeros(n_samples, np.float32)
        lo, hi = max(start, 0), min(start + n_samples, len(piece.audio))
        if hi > lo:
            out[lo - start : hi - start] = piece.audio[lo:hi]
        return out

    def _context(self, piece: Piece, frame: int, n_frames: int) -> np.ndarray:
        """The audio whose causal mel frames 0..n_frames-1 are the piece's frames frame..frame+n_frames-1."""
        hop, n_fft = self.mel_config.hop_samples, self.mel_config.n_fft
        return self.audio_window(piece, frame * hop - (n_fft - hop), n_frames * hop + n_fft - hop)

    def vocoder_batch(
        self, rng: np.random.Generator, batch_size: int, n_frames: int, latency_samples: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(context (B, (n_frames - 1) * hop + n_fft), target (B, n_frames * hop)): the target is the
        window's audio `latency_samples` later (synth.train.train_audio.vocoder_loss cuts the mel frames)."""
        hop = self.mel_config.hop_samples
        context, target = [], []
        for _ in range(batch_size):
            piece, frame = self._pick(rng, n_frames)
            context.append(self._context(piece, frame, n_frames))
            target.append(self.audio_window(piece, frame * hop - latency_samples, n_frames * hop))
        return torch.from_numpy(np.stack(context)), torch.from_numpy(np.stack(target))

    def renderer_batch(self, rng: np.random.Generator, batch_size: int, n_frames: int) -> dict[str, torch.Tensor]:
        """pitch (B, T, S), notes (B, T, S, F), track (B, T, G), program (B,), log_mel (B, n_mels, T)."""
        hop, n_fft, rate = self.mel_config.hop_samples, self.mel_config.n_fft, self.mel_config.sample_rate
        rows, contexts = [], []
        for _ in range(batch_size):
            piece, frame = self._pick(rng, n_frames)
            t0_s = frame * hop / rate
            t1_s = (frame + n_frames) * hop / rate
            near = piece.notes[(piece.notes[:, 2] < t1_s) & (piece.notes[:, 3] > t0_s - RELEASE_KEEP_S)]
            notes = [(int(p), int(v), s - t0_s, e - t0_s) for p, v, s, e in near]
            rows.append((*features_from_notes(notes, n_frames, self.max_notes, rate, hop), piece.program))
            contexts.append(self._context(piece, frame, n_frames))
        with torch.no_grad():
            log_mel = self._frontend(torch.from_numpy(np.stack(contexts)))[:, :, (n_fft - hop) // hop :]
        return {
            "pitch": torch.from_numpy(np.stack([r[0] for r in rows])),
            "notes": torch.from_numpy(np.stack([r[1] for r in rows])),
            "track": torch.from_numpy(np.stack([r[2] for r in rows])),
            "program": torch.tensor([r[3] for r in rows]),
            "log_mel": log_mel[:, :, :n_frames].contiguous(),
        }


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
