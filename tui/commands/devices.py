"""`composer devices`: audio outputs (with their host API), MIDI inputs and outputs (with the API used).

With no device at all it says so and still exits 0: the app works without
one for editing and export.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("devices", help="list audio outputs and MIDI inputs and outputs")
    p.set_defaults(run=run)


def audio_output_lines() -> list[str]:
    from synth.engine.audio_out import NoAudioDevice, import_sounddevice

    try:
        sd = import_sounddevice()
    except NoAudioDevice as exc:
        return [f"  none: {exc}"]
    host_apis = sd.query_hostapis()
    devices = sd.query_devices()
    try:
        default = sd.default.device[1]
    except (IndexError, TypeError):
        default = -1
    lines = []
    for index, device in enumerate(devices):
        if device["max_output_channels"] < 1:
            continue
        mark = "*" if index == default else " "
        api = host_apis[device["hostapi"]]["name"]
        rate_hz = int(device["default_samplerate"])
        channels = device["max_output_channels"]
        lines.append(f" {mark}{index:2d}. {device['name']} ({api}, {channels} ch, {rate_hz} Hz)")
    if not lines:
        apis = ", ".join(h["name"] for h in host_apis) or "none"
        lines.append(f"  none: no audio device (host APIs tried: {apis}; is a sound server such as JACK running?)")
    return lines


def midi_lines() -> list[str]:
    from synth.engine.midi_ports import list_ports

    ports = list_ports()
    if ports.api is None:
        return ["MIDI: none (no MIDI API works: " + ports.problem + ")"]
    lines = [f"MIDI inputs ({ports.api}):"]
    lines += [f"  {i:2d}. {name}" for i, name in enumerate(ports.inputs)] or ["  none"]
    lines.append(f"MIDI outputs ({ports.api}):")
    lines += [f"  {i:2d}. {name}" for i, name in enumerate(ports.outputs)] or ["  none"]
    return lines


def run(args: argparse.Namespace) -> int:
    print("Audio outputs:")
    for line in audio_output_lines():
        print(line)
    for line in midi_lines():
        print(line)
    return 0
