"""Jam mode's answer latency through the app: the Textual studio (headless) jams on its own engine over JACK.

The app (tui.app.ComposerApp, sound on) opens its engine on a private JACK dummy
server, as it opens the sound card; H starts its jam (tui/screens/main_actions/jam.py)
with the app's own settings: the gap is one beat at the player's tempo (0.6 s
before there is one) and an answer as long as the phrase. A virtual JACK MIDI
keyboard plays N phrases (as benchmarks/jam_latency.py: 6-10 notes, a random
major key and tempo) into the app's MIDI routing (ComposerApp.midi_message, what
the app's keyboard port calls), so each note goes app -> jam -> the app's playback ->
engine -> JACK. Per phrase: the session's latency (the gap's end to the answer's
first note-on handed to the engine; goal p95 <= 300 ms), and that plus the engine's
output latency (ring and device: when it is heard). Answer note-ons while a player
key was down are counted (should be none). Then H again: both parts land in the song
as one undo step; the JSON says how many notes.

Usage: python benchmarks/jam_app_latency.py [--phrases 30] [--model PATH] [--seed 1]
Without the shipped weights, a random model of the shipped size stands in (the JSON says so).
Ends by printing one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import rtmidi  # noqa: E402
import torch  # noqa: E402
from jam_latency import GOAL_MS, answer_ons_over_player, phrase, stats  # noqa: E402

from composer.model.checkpoint import save_transformer  # noqa: E402
from composer.model.model import MusicTransformer, TransformerConfig  # noqa: E402
from composer.model.sample import DEFAULT_MODEL_PATH  # noqa: E402
from composer.song import Song, Track  # noqa: E402
from composer.tokens import VOCAB_SIZE  # noqa: E402
from synth.engine.jack_dummy import JackDummyServer  # noqa: E402
from synth.engine.midi_ports import MidiInput, midi_api  # noqa: E402

SAMPLE_RATE = 48000
PERIOD_FRAMES = 256  # the app's engine block (tui.playback.open_engine)
READY_S = 120.0


def model_path(path: Path | None) -> tuple[Path, str]:
    wanted = path or DEFAULT_MODEL_PATH
    if wanted.exists():
        return wanted, str(wanted)
    if path is not None:
        raise SystemExit(f"jam_app_latency: {path}: no such model file")
    torch.manual_seed(0)
    cfg = TransformerConfig(vocab_size=VOCAB_SIZE, max_len=512, n_layer=4, n_head=4, d_model=256, d_ff=1024)
    stand_in = Path(tempfile.gettempdir()) / "jam_app_latency_random_4x256.safetensors"
    save_transformer(MusicTransformer(cfg), stand_in)
    return stand_in, f"random init, shipped size 4x256 ctx 512 ({wanted} not found)"


async def wait_until(pilot, condition, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        await pilot.pause(0.02)
    return True


def keyboard(kbd: rtmidi.MidiOut, session, n_phrases: int, rng: random.Random, done: threading.Event) -> None:
    """The player (its own thread): a phrase, wait for the answer's first note, come back in over it."""
    try:
        for _ in range(n_phrases):
            answered = len(session.answers)
            _, notes = phrase(rng)
            for pitch, length_s in notes:
                kbd.send_message([0x90, pitch, rng.randint(60, 110)])
                time.sleep(length_s * 0.85)
                kbd.send_message([0x80, pitch, 0])
                time.sleep(length_s * 0.15)
            deadline = time.perf_counter() + 4.0
            while time.perf_counter() < deadline and not (
                len(session.answers) > answered and session.answers[answered].latency_ms is not None
            ):
                time.sleep(0.005)
            time.sleep(rng.uniform(0.3, 0.8))
    finally:
        done.set()


async def run(n_phrases: int, weights: Path, seed: int) -> dict:
    from composer.model.candidates import AISettings
    from tui.app import ComposerApp
    from tui.playback import EnginePlayback

    api, problem = midi_api("UNIX_JACK")
    if api is None:
        raise SystemExit(f"jam_app_latency: no JACK MIDI ({problem})")
    song = Song(tempo_bpm=120.0, tracks=[Track(name="Keys", program=0)])
    app = ComposerApp(song, sound=True, midi=False, model_path=weights)
    kbd = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="jam-app-bench-kbd")
    kbd.open_virtual_port("keys")
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            if not await wait_until(pilot, lambda: isinstance(app.playback, EnginePlayback), 30.0):
                raise SystemExit(f"jam_app_latency: no engine: {app.playback.describe()}")
            app.screen.ai.settings = AISettings(seed=seed)
            started = time.perf_counter()
            await pilot.press("H")
            if not await wait_until(pilot, lambda: app.jam is not None and app.jam.state == "listening", READY_S):
                raise SystemExit(f"jam_app_latency: the jam did not start: {app.screen.status.message}")
            ready_s = time.perf_counter() - started
            session = app.jam.session
            port = MidiInput("jam-app-bench-kbd", app.midi_message, api=api)
            done = threading.Event()
            with port:
                await pilot.pause(0.5)
                player = threading.Thread(target=keyboard, args=(kbd, session, n_phrases, random.Random(seed), done))
                player.start()
                states: set[str] = set()
                while not done.is_set():
                    states.add(app.jam.state)
                    await pilot.pause(0.02)
                player.join()
            output_ms = app.playback.output_latency_s * 1000.0
            status = app.screen.status.state
            log, answers, latencies = list(session.log), list(session.answers), session.latencies_ms
            await pilot.press("H")
            keys_notes = len(app.song.tracks[0].notes)
            answer_notes = sum(len(t.notes) for t in app.song.tracks[1:])
            undo = app.history.undo_label
            app.finish_session()
    finally:
        kbd.delete()
    return {
        "phrases": n_phrases,
        "answers": len(answers),
        "answered_with_a_note": len(latencies),
        "latency_ms": stats(latencies),
        "heard_latency_ms": stats([ms + output_ms for ms in latencies]),
        "output_latency_ms": round(output_ms, 2),
        "prepare_ms": stats([a.prepare_ms for a in answers]),
        "goal_ms": GOAL_MS,
        "goal_met_p95": bool(latencies) and float(np.percentile(latencies, 95)) <= GOAL_MS,
        "yielded": sum(a.yielded_at_s is not None for a in answers),
        "answer_note_ons_while_player_held_a_key": answer_ons_over_player(log),
        "states_seen": sorted(states),
        "status_line": status.split(" · Keys")[0],
        "jam_ready_s": round(ready_s, 2),
        "song_after": {"player_notes": keys_notes, "answer_notes": answer_notes, "undo_step": undo},
        "error": None if session.error is None else repr(session.error),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phrases", type=int, default=30)
    parser.add_argument("--model", type=Path, help="weights (default: the shipped model, else a random stand-in)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    weights, model_name = model_path(args.model)
    os.environ["COMPOSER_HOME"] = tempfile.mkdtemp(prefix="jam_app_latency_")  # autosaves and keys: not the user's
    with JackDummyServer(sample_rate=SAMPLE_RATE, period_frames=PERIOD_FRAMES):
        result = asyncio.run(run(args.phrases, weights, args.seed))
    print(
        json.dumps(
            {
                "benchmark": "jam_app_latency",
                "model": model_name,
                "path": "app.midi_message -> AppJam -> JamSession -> app playback -> Engine -> JACK dummy",
                **result,
                "cpu_threads": os.cpu_count(),
                "torch_threads": torch.get_num_threads(),
                "load_average": os.getloadavg()[0],
                "torch": torch.__version__,
                "python": platform.python_version(),
                "device": "cpu; audio and MIDI through JACK dummy backend (jackd --no-realtime -d dummy)",
            }
        )
    )


if __name__ == "__main__":
    main()
