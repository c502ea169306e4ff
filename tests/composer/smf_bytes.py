"""Standard MIDI File bytes written by hand, for files mido would refuse to write."""

from __future__ import annotations

import struct


def varlen(value: int) -> bytes:
    """A MIDI variable-length quantity (7 bits a byte, high bit = more follows)."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def header(fmt: int = 1, n_tracks: int = 1, division: int = 480, length: int = 6) -> bytes:
    return b"MThd" + struct.pack(">I", length) + struct.pack(">HHH", fmt, n_tracks, division)


def track(events: bytes) -> bytes:
    """An MTrk chunk holding `events` (delta-time + message bytes) and end of track."""
    body = events + b"\x00\xff\x2f\x00"
    return b"MTrk" + struct.pack(">I", len(body)) + body


def note(pitch: int, velocity: int = 64, length_ticks: int = 480, channel: int = 0) -> bytes:
    """A note-on at delta 0 and its note-off `length_ticks` later (raw bytes, no range checks)."""
    return bytes([0, 0x90 | channel, pitch, velocity]) + varlen(length_ticks) + bytes([0x80 | channel, pitch, 0])


def set_tempo(tempo_us: int) -> bytes:
    return b"\x00\xff\x51\x03" + tempo_us.to_bytes(3, "big")


def smf(*events: bytes, fmt: int = 0, division: int = 480) -> bytes:
    """A one-track file."""
    return header(fmt, 1, division) + track(b"".join(events))
