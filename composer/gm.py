"""General MIDI program names and families (program numbers 0-127)."""

from __future__ import annotations

GM_PROGRAM_NAMES = (
    "Acoustic Grand Piano",
    "Bright Acoustic Piano",
    "Electric Grand Piano",
    "Honky-tonk Piano",
    "Electric Piano 1",
    "Electric Piano 2",
    "Harpsichord",
    "Clavinet",
    "Celesta",
    "Glockenspiel",
    "Music Box",
    "Vibraphone",
    "Marimba",
    "Xylophone",
    "Tubular Bells",
    "Dulcimer",
    "Drawbar Organ",
    "Percussive Organ",
    "Rock Organ",
    "Church Organ",
    "Reed Organ",
    "Accordion",
    "Harmonica",
    "Tango Accordion",
    "Acoustic Guitar (nylon)",
    "Acoustic Guitar (steel)",
    "Electric Guitar (jazz)",
    "Electric Guitar (clean)",
    "Electric Guitar (muted)",
    "Overdriven Guitar",
    "Distortion Guitar",
    "Guitar Harmonics",
    "Acoustic Bass",
    "Electric Bass (finger)",
    "Electric Bass (pick)",
    "Fretless Bass",
    "Slap Bass 1",
    "Slap Bass 2",
    "Synth Bass 1",
    "Synth Bass 2",
    "Violin",
    "Viola",
    "Cello",
    "Contrabass",
    "Tremolo Strings",
    "Pizzicato Strings",
    "Orchestral Harp",
    "Timpani",
    "String Ensemble 1",
    "String Ensemble 2",
    "Synth Strings 1",
    "Synth Strings 2",
    "Choir Aahs",
    "Voice Oohs",
    "Synth Choir",
    "Orchestra Hit",
    "Trumpet",
    "Trombone",
    "Tuba",
    "Muted Trumpet",
    "French Horn",
    "Brass Section",
    "Synth Brass 1",
    "Synth Brass 2",
    "Soprano Sax",
    "Alto Sax",
    "Tenor Sax",
    "Baritone Sax",
    "Oboe",
    "English Horn",
    "Bassoon",
    "Clarinet",
    "Piccolo",
    "Flute",
    "Recorder",
    "Pan Flute",
    "Blown Bottle",
    "Shakuhachi",
    "Whistle",
    "Ocarina",
    "Lead 1 (square)",
    "Lead 2 (sawtooth)",
    "Lead 3 (calliope)",
    "Lead 4 (chiff)",
    "Lead 5 (charang)",
    "Lead 6 (voice)",
    "Lead 7 (fifths)",
    "Lead 8 (bass + lead)",
    "Pad 1 (new age)",
    "Pad 2 (warm)",
    "Pad 3 (polysynth)",
    "Pad 4 (choir)",
    "Pad 5 (bowed)",
    "Pad 6 (metallic)",
    "Pad 7 (halo)",
    "Pad 8 (sweep)",
    "FX 1 (rain)",
    "FX 2 (soundtrack)",
    "FX 3 (crystal)",
    "FX 4 (atmosphere)",
    "FX 5 (brightness)",
    "FX 6 (goblins)",
    "FX 7 (echoes)",
    "FX 8 (sci-fi)",
    "Sitar",
    "Banjo",
    "Shamisen",
    "Koto",
    "Kalimba",
    "Bagpipe",
    "Fiddle",
    "Shanai",
    "Tinkle Bell",
    "Agogo",
    "Steel Drums",
    "Woodblock",
    "Taiko Drum",
    "Melodic Tom",
    "Synth Drum",
    "Reverse Cymbal",
    "Guitar Fret Noise",
    "Breath Noise",
    "Seashore",
    "Bird Tweet",
    "Telephone Ring",
    "Helicopter",
    "Applause",
    "Gunshot",
)

GM_FAMILIES = (
    "Piano",
    "Chromatic Percussion",
    "Organ",
    "Guitar",
    "Bass",
    "Strings",
    "Ensemble",
    "Brass",
    "Reed",
    "Pipe",
    "Synth Lead",
    "Synth Pad",
    "Synth Effects",
    "Ethnic",
    "Percussive",
    "Sound Effects",
)


def instrument_name(program: int) -> str:
    return GM_PROGRAM_NAMES[program] if 0 <= program < 128 else f"Program {program}"


def family_name(program: int) -> str:
    """The GM family of a program: 8 programs per family."""
    return GM_FAMILIES[program // 8] if 0 <= program < 128 else "Unknown"


def search_programs(query: str) -> list[int]:
    """Programs whose name or family contains every word of `query` (case-insensitive)."""
    words = query.lower().split()
    return [p for p in range(128) if all(w in f"{GM_PROGRAM_NAMES[p]} {family_name(p)} {p}".lower() for w in words)]


# Written ranges (MIDI note numbers, lowest..highest) of the instrument each program stands for: orchestration
# tables for the acoustic ones, a keyboard-like span for synths and effects. The co-composer keeps a track's
# new notes inside its instrument's range (SampleOptions.pitch_range), so a bass line is written in a bass's
# register and a piccolo's in a piccolo's.
_FAMILY_RANGES = (
    (21, 108),  # Piano
    (53, 96),  # Chromatic Percussion
    (36, 96),  # Organ
    (40, 88),  # Guitar
    (28, 67),  # Bass
    (28, 103),  # Strings
    (36, 96),  # Ensemble
    (34, 86),  # Brass
    (44, 88),  # Reed
    (60, 96),  # Pipe
    (36, 96),  # Synth Lead
    (36, 96),  # Synth Pad
    (36, 96),  # Synth Effects
    (48, 84),  # Ethnic
    (48, 84),  # Percussive
    (36, 96),  # Sound Effects
)
_PROGRAM_RANGES = {
    8: (60, 108),  # celesta
    9: (79, 108),  # glockenspiel
    10: (60, 96),  # music box
    11: (53, 89),  # vibraphone
    12: (45, 96),  # marimba
    13: (65, 108),  # xylophone
    14: (60, 77),  # tubular bells
    15: (48, 96),  # dulcimer
    21: (53, 89),  # accordion
    22: (60, 96),  # harmonica
    23: (53, 89),  # tango accordion
    38: (24, 72),  # synth bass 1
    39: (24, 72),  # synth bass 2
    40: (55, 103),  # violin
    41: (48, 91),  # viola
    42: (36, 76),  # cello
    43: (28, 67),  # contrabass
    46: (24, 103),  # harp
    47: (40, 57),  # timpani
    52: (48, 84),  # choir aahs
    53: (48, 84),  # voice oohs
    54: (48, 84),  # synth voice
    56: (54, 86),  # trumpet
    57: (40, 77),  # trombone
    58: (28, 58),  # tuba
    59: (54, 86),  # muted trumpet
    60: (34, 77),  # french horn
    64: (56, 88),  # soprano sax
    65: (49, 81),  # alto sax
    66: (44, 76),  # tenor sax
    67: (36, 69),  # baritone sax
    68: (58, 91),  # oboe
    69: (52, 84),  # english horn
    70: (34, 72),  # bassoon
    71: (50, 91),  # clarinet
    72: (74, 108),  # piccolo
    74: (60, 86),  # recorder
    76: (60, 84),  # blown bottle
    77: (55, 86),  # shakuhachi
    78: (72, 96),  # whistle
    79: (60, 84),  # ocarina
    104: (48, 77),  # sitar
    106: (50, 79),  # shamisen
    107: (55, 91),  # koto
    108: (60, 84),  # kalimba
    109: (55, 74),  # bagpipe
    110: (55, 103),  # fiddle
    112: (72, 96),  # tinkle bell
    114: (52, 81),  # steel drums
    116: (36, 60),  # taiko drum
    117: (40, 64),  # melodic tom
}


def playable_range(program: int) -> tuple[int, int]:
    """(lowest, highest) MIDI pitch the program's instrument plays; the piano's for an unknown program."""
    if not 0 <= program < 128:
        return _FAMILY_RANGES[0]
    return _PROGRAM_RANGES.get(program, _FAMILY_RANGES[program // 8])
