"""Keys and scales: parse "C:major" / "F#:minor" and list their pitch classes."""

from __future__ import annotations

from composer.errors import ComposerError

NOTE_CLASSES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
SCALES = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),  # natural minor
    "harmonic-minor": (0, 2, 3, 5, 7, 8, 11),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
}
PITCH_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def parse_key(text: str) -> tuple[int, str]:
    """ "C:major" -> (0, "major"); "Bb:minor" -> (10, "minor"). Raises ComposerError."""
    tonic, _, mode = text.strip().partition(":")
    mode = (mode or "major").lower()
    if not tonic or tonic[0].upper() not in NOTE_CLASSES or mode not in SCALES:
        raise ComposerError("--key", f"{text!r} is not a key; expected e.g. C:major, F#:minor ({', '.join(SCALES)})")
    pitch_class = NOTE_CLASSES[tonic[0].upper()]
    for accidental in tonic[1:]:
        if accidental == "#":
            pitch_class += 1
        elif accidental in "b":
            pitch_class -= 1
        else:
            raise ComposerError("--key", f"{text!r}: unknown accidental {accidental!r}")
    return pitch_class % 12, mode


def scale_pitch_classes(text: str) -> frozenset[int]:
    tonic, mode = parse_key(text)
    return frozenset((tonic + step) % 12 for step in SCALES[mode])


def note_name(pitch: int) -> str:
    """MIDI pitch -> "C4" (middle C is 60)."""
    return f"{PITCH_NAMES[pitch % 12]}{pitch // 12 - 1}"
