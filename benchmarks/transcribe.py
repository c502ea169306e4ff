"""What a listener hears: an independent automatic transcription of audio, scored against the notes played.

    problem = transcriber_problem()            # None, or why the transcriber cannot run
    transcriber = Transcriber(threads=1)
    found = transcriber.transcribe(audio, 24000)   # float64 (N, 3): onset_s, offset_s, MIDI pitch
    score = note_scores(notes, found)          # n_ref, n_est, n_match, precision, recall, f1
    total = pooled([score, other_score])       # the same over several pieces (counts summed)

The transcriber is Spotify's basic-pitch 0.4.0 (Bittner et al., "A lightweight instrument-agnostic model
for polyphonic note transcription and multipitch estimation", ICASSP 2022): its `basic_pitch.inference.predict`
with its default thresholds, on the ONNX copy of the ICASSP 2022 model that ships inside the wheel
(basic_pitch/saved_models/icassp_2022/nmp.onnx), run by onnxruntime on the CPU. Nothing is downloaded at
run time. It was trained on none of this project's audio, so it judges FluidSynth, the DSP synth and the
neural instrument alike.

Install: `make setup-bench`. basic-pitch's metadata pulls tensorflow on Linux (Python >= 3.11), which
this project does not want, so the `bench` extra (in the lock) brings what basic-pitch's inference
imports (onnxruntime, librosa, mir_eval, resampy, scipy, scikit-learn) and basic-pitch itself is
installed with `pip install --no-deps basic-pitch==0.4.0`. resampy is pinned at 0.4.3 although
basic-pitch asks for < 0.4.3: basic-pitch imports it at start-up (only its sonification uses it),
and resampy <= 0.4.2 imports pkg_resources, which setuptools >= 81 no longer has.

Scoring is mir_eval's note matching as in `mir_eval.transcription.precision_recall_f1_overlap` with
offset_ratio=None: a found note matches a played one when its onset is within ONSET_TOLERANCE_S (50 ms)
and its pitch within PITCH_TOLERANCE_CENTS (50 cents), one to one; offsets are not judged. The counts
are kept so that pieces can be pooled (micro-averaged: F1 = 2 matches / (played + found)).
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

ONSET_TOLERANCE_S = 0.05
PITCH_TOLERANCE_CENTS = 50.0
BASIC_PITCH_VERSION = "0.4.0"
SETUP_HINT = "install it with `make setup-bench` (the bench extra, then basic-pitch with --no-deps)"


def transcriber_problem() -> str | None:
    """None when basic-pitch's ONNX model can run here, else the reason it cannot."""
    try:
        import librosa  # noqa: F401
        import mir_eval  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        return f"{exc.name or exc} is not installed; {SETUP_HINT}"
    try:
        with _quiet():
            import basic_pitch  # noqa: F401
            from basic_pitch import FilenameSuffix, build_icassp_2022_model_path
            from basic_pitch.inference import Model, predict  # noqa: F401
    except ImportError as exc:
        return f"basic-pitch cannot be imported ({type(exc).__name__}: {exc}); {SETUP_HINT}"
    path = build_icassp_2022_model_path(FilenameSuffix.onnx)
    if not path.is_file():
        return f"basic-pitch's ONNX model {path} is missing; reinstall basic-pitch=={BASIC_PITCH_VERSION}"
    return None


@contextlib.contextmanager
def _quiet():
    """basic-pitch logs a warning per backend it does not find and prints a line per file predicted."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        logging.disable(previous)


class Transcriber:
    """basic-pitch's `predict` on its ONNX model, onnxruntime limited to `threads` CPU threads."""

    def __init__(
        self,
        threads: int = 1,
        onset_threshold: float = 0.5,
        frame_threshold: float = 0.3,
        minimum_note_length_ms: float = 127.70,
    ) -> None:
        problem = transcriber_problem()
        if problem is not None:
            raise RuntimeError(problem)
        import onnxruntime as ort

        with _quiet():
            from basic_pitch import FilenameSuffix, build_icassp_2022_model_path
            from basic_pitch.inference import Model

        self.model_path = build_icassp_2022_model_path(FilenameSuffix.onnx)
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = int(threads)
        # basic-pitch's Model picks TensorFlow first when it is installed and opens ONNX with onnxruntime's
        # default thread count; this is its ONNX branch with the thread count set.
        self.model = Model.__new__(Model)
        self.model.model_type = Model.MODEL_TYPES.ONNX
        self.model.model = ort.InferenceSession(str(self.model_path), options, providers=["CPUExecutionProvider"])
        self.settings = {
            "onset_threshold": onset_threshold,
            "frame_threshold": frame_threshold,
            "minimum_note_length": minimum_note_length_ms,
        }

    def info(self) -> dict:
        import basic_pitch
        import onnxruntime

        version = getattr(basic_pitch, "__version__", None)
        if version is None:
            from importlib.metadata import version as dist_version

            version = dist_version("basic-pitch")
        return {
            "name": "basic-pitch",
            "version": version,
            "model": f"icassp_2022/{self.model_path.name}",
            "onnxruntime": onnxruntime.__version__,
            **self.settings,
            "onset_tolerance_s": ONSET_TOLERANCE_S,
            "pitch_tolerance_cents": PITCH_TOLERANCE_CENTS,
        }

    def transcribe(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """Mono float audio -> float64 (N, 3): onset_s, offset_s, MIDI pitch, by onset.

        The audio goes through a float WAV file, as `predict` reads one (librosa resamples it to 22050 Hz)."""
        import soundfile as sf

        with _quiet():
            from basic_pitch.inference import predict

        with tempfile.TemporaryDirectory(prefix="transcribe-") as tmp:
            path = Path(tmp) / "audio.wav"
            sf.write(path, np.asarray(audio, np.float32), int(sample_rate), subtype="FLOAT")
            with _quiet(), np.errstate(divide="ignore", invalid="ignore"):  # silence: 0/0 in its note picking
                _, _, events = predict(path, self.model, **self.settings)
        rows = sorted((float(e[0]), float(e[1]), float(e[2])) for e in events)
        return np.array(rows, np.float64).reshape(-1, 3)


def _hz(midi: np.ndarray) -> np.ndarray:
    return 440.0 * 2.0 ** ((np.asarray(midi, np.float64) - 69.0) / 12.0)


def _intervals(onsets: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """mir_eval wants strictly positive durations; offsets are not judged, so a 1 ms floor changes nothing."""
    onsets = np.asarray(onsets, np.float64)
    return np.stack([onsets, np.maximum(np.asarray(offsets, np.float64), onsets + 1e-3)], axis=1)


def note_scores(notes: np.ndarray, found: np.ndarray) -> dict:
    """Played notes (N, >= 4: pitch, velocity, start_s, end_s, as synth.audio_dataset.Piece.notes) vs found
    notes (M, 3: onset_s, offset_s, MIDI pitch): counts and precision, recall, F1."""
    notes = np.asarray(notes, np.float64).reshape(-1, 4)
    found = np.asarray(found, np.float64).reshape(-1, 3)
    n_match = 0
    if len(notes) and len(found):
        import mir_eval

        matches = mir_eval.transcription.match_notes(
            _intervals(notes[:, 2], notes[:, 3]),
            _hz(notes[:, 0]),
            _intervals(found[:, 0], found[:, 1]),
            _hz(found[:, 2]),
            onset_tolerance=ONSET_TOLERANCE_S,
            pitch_tolerance=PITCH_TOLERANCE_CENTS,
            offset_ratio=None,
        )
        n_match = len(matches)
    return _with_rates({"n_ref": len(notes), "n_est": len(found), "n_match": n_match})


def pooled(scores: Iterable[dict]) -> dict:
    """Scores of several pieces as one: counts summed, rates from the sums."""
    total = {"n_ref": 0, "n_est": 0, "n_match": 0}
    for score in scores:
        for key in total:
            total[key] += int(score[key])
    return _with_rates(total)


def _with_rates(counts: dict) -> dict:
    n_ref, n_est, n_match = counts["n_ref"], counts["n_est"], counts["n_match"]
    precision = n_match / n_est if n_est else 0.0
    recall = n_match / n_ref if n_ref else 0.0
    f1 = 2 * n_match / (n_ref + n_est) if n_ref + n_est else 0.0
    return {**counts, "precision": precision, "recall": recall, "f1": f1}
