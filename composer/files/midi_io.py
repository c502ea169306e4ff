"""Standard MIDI Files to and from a Song.

Reads type 0 and type 1 files (type 2 is refused), folds the sustain pedal
(CC64) into note ends, splits a type 0 file's channels into tracks and turns
ticks into seconds through the whole tempo map. Writes type 1 with a
conductor track (tempo, time signature), track names, program changes and the
drums on channel 10. Every problem with a file becomes a `ComposerError`.
"""

from __future__ import annotations

import io
from collections import defaultdict, deque
from pathlib import Path

import mido

from composer.errors import ComposerError
from composer.files.atomic import atomic_write_bytes
from composer.song import DRUM_CHANNEL, Note, Song, Track

TICKS_PER_BEAT = 480
MAX_TRACKS = 1024
MAX_DURATION_S = 6 * 3600.0
MAX_NOTES = 2_000_000
MIN_TEMPO_US = 60_000  # 1000 BPM
MAX_TEMPO_US = 10_000_000  # 6 BPM
MAX_FILE_BYTES = 64 * 1024 * 1024  # the largest real MIDI files are a few MB


def read_midi(path: str | Path) -> Song:
    """Load a MIDI file into a Song; raises ComposerError naming the file."""
    path = Path(path)
    try:
        if path.is_file() and path.stat().st_size > MAX_FILE_BYTES:
            raise ComposerError(path, f"{path.stat().st_size} bytes, too large for a MIDI file")
        data = path.read_bytes()
    except FileNotFoundError:
        raise ComposerError(path, "no such file") from None
    except IsADirectoryError:
        raise ComposerError(path, "is a directory, expected a MIDI file") from None
    except OSError as exc:
        raise ComposerError(path, f"cannot read: {exc.strerror}") from None
    return midi_bytes_to_song(data, path)


def midi_bytes_to_song(data: bytes, name: str | Path = "<midi>") -> Song:
    if not data.startswith(b"MThd"):
        raise ComposerError(name, "not a MIDI file (no MThd header)")
    try:
        mid = mido.MidiFile(file=io.BytesIO(data))
    except Exception as exc:  # mido raises many types on corrupt data
        raise ComposerError(name, f"corrupt MIDI file ({_reason(exc)})") from None
    try:
        return _to_song(mid, name)
    except ComposerError:
        raise
    except Exception as exc:
        raise ComposerError(name, f"corrupt MIDI file ({_reason(exc)})") from None


def _reason(exc: Exception) -> str:
    if isinstance(exc, EOFError):
        return "the file ends too early, truncated?"
    text = str(exc).strip().splitlines()
    return text[0][:120] if text else type(exc).__name__


def _to_song(mid: mido.MidiFile, name: str | Path) -> Song:
    if mid.type == 2:
        raise ComposerError(name, "MIDI type 2 (independent sequences) is not supported")
    if mid.type not in (0, 1):
        raise ComposerError(name, f"unknown MIDI file type {mid.type}, expected 0 or 1")
    if len(mid.tracks) > MAX_TRACKS:
        raise ComposerError(name, f"{len(mid.tracks)} tracks, at most {MAX_TRACKS} are supported")
    if mid.ticks_per_beat < 0:  # mido reads the top bit of the division as a sign
        raise ComposerError(name, "SMPTE time division (frames per second) is not supported")
    if mid.ticks_per_beat == 0:
        raise ComposerError(name, "invalid division 0 ticks per beat")

    # Tempo map from every track (type 1 keeps it in track 0, but not all files do).
    tempo_events: list[tuple[int, int]] = []
    time_signature: tuple[int, int] | None = None
    for track in mid.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "set_tempo":
                if not MIN_TEMPO_US <= msg.tempo <= MAX_TEMPO_US:
                    bpm = 60e6 / msg.tempo if msg.tempo else 0.0
                    raise ComposerError(name, f"absurd tempo {bpm:.3g} BPM at tick {tick}")
                tempo_events.append((tick, msg.tempo))
            elif msg.type == "time_signature" and time_signature is None:
                if not (1 <= msg.numerator <= 64 and 1 <= msg.denominator <= 64):
                    den = msg.denominator if msg.denominator <= 1024 else f"2^{msg.denominator.bit_length() - 1}"
                    meter = f"{msg.numerator}/{den}"
                    raise ComposerError(name, f"absurd time signature {meter} at tick {tick}")
                time_signature = (msg.numerator, msg.denominator)
    tempo_events.sort()
    to_seconds = _tick_to_seconds(tempo_events, mid.ticks_per_beat)
    first_tempo = tempo_events[0][1] if tempo_events else 500_000

    # Notes by (track index, channel); a type 0 file's channels become tracks.
    notes: dict[tuple[int, int], list[Note]] = defaultdict(list)
    programs: dict[tuple[int, int], int] = {}
    first_channel: dict[int, int] = {}  # an MTrk with channel messages but no notes stays, empty
    names: dict[int, str] = {}
    n_notes = 0
    for index, track in enumerate(mid.tracks):
        tick = 0
        sounding: dict[tuple[int, int], deque[tuple[float, int]]] = defaultdict(deque)
        pedal_down: dict[int, bool] = defaultdict(bool)
        held_by_pedal: dict[int, list[tuple[int, float, int]]] = defaultdict(list)
        channel_program: dict[int, int] = {}

        def close(channel: int, pitch: int, start_s: float, velocity: int, end_s: float, index: int = index) -> None:
            nonlocal n_notes
            if end_s > start_s:
                notes[(index, channel)].append(Note(pitch, velocity, start_s, end_s))
                n_notes += 1
                if n_notes > MAX_NOTES:
                    raise ComposerError(name, f"more than {MAX_NOTES} notes")

        for msg in track:
            tick += msg.time
            if msg.type == "track_name" and msg.name.strip():
                names[index] = _decode_name(msg.name.strip())
            if msg.is_meta or not hasattr(msg, "channel"):
                continue
            t_s = to_seconds(tick)
            if t_s > MAX_DURATION_S:
                raise ComposerError(name, f"event at {t_s:.0f} s, longer than {MAX_DURATION_S:.0f} s")
            ch = msg.channel
            first_channel.setdefault(index, ch)
            if msg.type == "program_change":
                channel_program[ch] = msg.program
                programs.setdefault((index, ch), msg.program)
            elif msg.type == "note_on" and msg.velocity > 0:
                for held in [h for h in held_by_pedal[ch] if h[0] == msg.note]:  # a re-struck key ends its old note
                    held_by_pedal[ch].remove(held)
                    close(ch, held[0], held[1], held[2], t_s)
                sounding[(ch, msg.note)].append((t_s, msg.velocity))
                programs.setdefault((index, ch), channel_program.get(ch, 0))
            elif msg.type in ("note_off", "note_on"):
                stack = sounding.get((ch, msg.note))
                if not stack:
                    continue
                start_s, velocity = stack.popleft()
                if pedal_down[ch] and ch != DRUM_CHANNEL:
                    held_by_pedal[ch].append((msg.note, start_s, velocity))
                else:
                    close(ch, msg.note, start_s, velocity, t_s)
            elif msg.type == "control_change" and msg.control == 64:
                down = msg.value >= 64
                if pedal_down[ch] and not down:
                    for pitch, start_s, velocity in held_by_pedal.pop(ch, []):
                        close(ch, pitch, start_s, velocity, t_s)
                pedal_down[ch] = down
        end_s = to_seconds(tick)
        if end_s > MAX_DURATION_S:
            raise ComposerError(name, f"track ends at {end_s:.0f} s, longer than {MAX_DURATION_S:.0f} s")
        for (ch, pitch), stack in sounding.items():
            for start_s, velocity in stack:
                close(ch, pitch, start_s, velocity, max(end_s, start_s + 0.1))
        for ch, held in held_by_pedal.items():
            for pitch, start_s, velocity in held:
                close(ch, pitch, start_s, velocity, end_s)

    song = Song(tempo_bpm=round(60e6 / first_tempo, 3), time_signature=time_signature or (4, 4))
    for index, ch in first_channel.items():
        if not any(key[0] == index for key in notes):
            notes[(index, ch)] = []
    channels_in = defaultdict(int)
    for index, _ in notes:
        channels_in[index] += 1
    for (index, ch), track_notes in sorted(notes.items()):
        is_drum = ch == DRUM_CHANNEL
        program = programs.get((index, ch), 0)
        base = names.get(index) or ("Drums" if is_drum else f"Track {len(song.tracks) + 1}")
        if index in names and channels_in[index] > 1:  # one MTrk split by channel: tell them apart
            base = f"{base} ({'drums' if is_drum else f'ch {ch + 1}'})"
        track = Track(name=base, program=program, is_drum=is_drum, channel=ch, notes=track_notes)
        track.sort()
        song.tracks.append(track)
    return song


def _decode_name(name: str) -> str:
    """Names are bytes in the file; mido reads them as latin-1, many writers (and we) use UTF-8."""
    try:
        return name.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return name


def _encode_name(name: str) -> str:
    """The UTF-8 bytes of `name` as the latin-1 string mido writes byte for byte."""
    return name.encode("utf-8").decode("latin-1")


def _tick_to_seconds(tempo_events: list[tuple[int, int]], ticks_per_beat: int):
    """Return a function mapping an absolute tick to seconds through the tempo map."""
    segments: list[tuple[int, float, int]] = [(0, 0.0, 500_000)]  # (tick, seconds, us/beat)
    for tick, tempo in tempo_events:
        last_tick, last_s, last_tempo = segments[-1]
        at_s = last_s + (tick - last_tick) * last_tempo / (ticks_per_beat * 1e6)
        if tick == last_tick:
            segments[-1] = (tick, last_s, tempo)
        else:
            segments.append((tick, at_s, tempo))

    def to_seconds(tick: int) -> float:
        lo, hi = 0, len(segments) - 1
        while lo < hi:  # last segment starting at or before tick
            mid = (lo + hi + 1) // 2
            if segments[mid][0] <= tick:
                lo = mid
            else:
                hi = mid - 1
        seg_tick, seg_s, tempo = segments[lo]
        return seg_s + (tick - seg_tick) * tempo / (ticks_per_beat * 1e6)

    return to_seconds


def song_to_midi(song: Song) -> mido.MidiFile:
    """A type 1 MidiFile: conductor track, then one track per song track."""
    mid = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    tempo_us = int(round(60e6 / song.tempo_bpm))
    num, den = song.time_signature
    conductor = mido.MidiTrack(
        [
            mido.MetaMessage("set_tempo", tempo=tempo_us, time=0),
            mido.MetaMessage("time_signature", numerator=num, denominator=den, time=0),
            mido.MetaMessage("end_of_track", time=0),
        ]
    )
    mid.tracks.append(conductor)
    ticks_per_s = TICKS_PER_BEAT * song.tempo_bpm / 60.0
    free_channels = [c for c in range(16) if c != DRUM_CHANNEL]
    for i, track in enumerate(song.tracks):
        channel = DRUM_CHANNEL if track.is_drum else free_channels[i % len(free_channels)]
        events: list[tuple[int, int, mido.Message]] = []
        for note in track.notes:
            on = round(note.start_s * ticks_per_s)
            off = max(round(note.end_s * ticks_per_s), on + 1)
            velocity = min(max(int(note.velocity), 1), 127)
            pitch = min(max(int(note.pitch), 0), 127)
            # Note-offs sort before note-ons at the same tick, so repeated notes re-strike.
            events.append((off, 0, mido.Message("note_off", channel=channel, note=pitch, velocity=0)))
            events.append((on, 1, mido.Message("note_on", channel=channel, note=pitch, velocity=velocity)))
        events.sort(key=lambda e: (e[0], e[1]))
        out = mido.MidiTrack()
        out.append(mido.MetaMessage("track_name", name=_encode_name(track.name), time=0))
        if not track.is_drum:
            out.append(
                mido.Message("program_change", channel=channel, program=min(max(int(track.program), 0), 127), time=0)
            )
        volume = min(max(round(track.volume * 127), 0), 127)  # the mixer allows gains above 1
        pan = min(max(round((track.pan + 1) * 63.5), 0), 127)
        out.append(mido.Message("control_change", channel=channel, control=7, value=volume, time=0))
        out.append(mido.Message("control_change", channel=channel, control=10, value=pan, time=0))
        last = 0
        for tick, _, msg in events:
            out.append(msg.copy(time=tick - last))
            last = tick
        out.append(mido.MetaMessage("end_of_track", time=0))
        mid.tracks.append(out)
    return mid


def write_midi(song: Song, path: str | Path) -> None:
    """Write a type 1 MIDI file atomically (temporary name, fsync, rename)."""
    buffer = io.BytesIO()
    song_to_midi(song).save(file=buffer)
    atomic_write_bytes(Path(path), buffer.getvalue())
