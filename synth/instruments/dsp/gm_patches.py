"""The GM tables of the DSP synth: one Patch per GM program (0-127), one per GM percussion key."""

from __future__ import annotations

from synth.instruments.dsp.recipes import (
    SINE,
    Layer,
    Noise,
    Patch,
    _bass,
    _bell,
    _bowed,
    _brass,
    _electric_piano,
    _fx_noise,
    _lead,
    _organ,
    _pad,
    _piano,
    _pipe,
    _pluck,
    _reed,
    plucked,
    saw,
    square,
)

PAD_AND_FX_NAMES = (
    "New Age", "Warm", "Polysynth", "Choir", "Bowed", "Metallic", "Halo", "Sweep",
    "Rain", "Soundtrack", "Crystal", "Atmosphere", "Brightness", "Goblins", "Echoes", "Sci-fi",
)  # fmt: skip
CLARINET = square(24, even=0.08, tilt=1.0)
OBOE = (1.0, 0.9, 0.75, 0.55, 0.4, 0.3, 0.22, 0.15, 0.1, 0.08, 0.06, 0.04)
SAX = saw(20, 0.9)
FLUTE = (1.0, 0.18, 0.06, 0.02)
CHOIR = saw(24, 1.5)


def _program_patch(program: int) -> Patch:
    p = program
    if p <= 2:
        return _piano(("Acoustic Grand", "Bright Acoustic", "Electric Grand")[p], bright=(1.0, 1.5, 1.2)[p])
    if p == 3:
        return _piano("Honky-tonk", bright=1.2, detune=3.0)
    if p in (4, 5):
        return _electric_piano("Electric Piano", bell=1.0 if p == 4 else 2.0)
    if p == 6:
        return _pluck("Harpsichord", position=0.08, decay_s=1.2, bright=1.6, n=30)
    if p == 7:
        return _pluck("Clavinet", position=0.06, decay_s=0.7, bright=1.8, n=30)
    if p == 8:
        return _bell("Celesta", ((1.0, 1.0, 0.9), (4.0, 0.25, 0.15)))
    if p == 9:
        return _bell("Glockenspiel", ((1.0, 1.0, 1.2), (2.76, 0.35, 0.4), (5.4, 0.2, 0.15)))
    if p == 10:
        return _bell("Music Box", ((1.0, 1.0, 0.8), (3.0, 0.2, 0.2), (5.2, 0.15, 0.08)))
    if p == 11:
        return _bell("Vibraphone", ((1.0, 1.0, 1.8), (4.0, 0.2, 0.3)), release_s=0.25)
    if p == 12:
        return _bell("Marimba", ((1.0, 1.0, 0.35), (3.93, 0.3, 0.05)), release_s=0.1)
    if p == 13:
        return _bell("Xylophone", ((1.0, 1.0, 0.18), (3.0, 0.4, 0.05)), release_s=0.08)
    if p == 14:
        return _bell("Tubular Bells", ((1.0, 1.0, 2.5), (2.0, 0.6, 1.6), (3.0, 0.4, 1.0), (4.2, 0.25, 0.6)))
    if p == 15:
        return _pluck("Dulcimer", position=0.12, decay_s=1.5, bright=1.4)
    if p in (16, 17, 18):
        bars = ((8, 8, 8, 0, 0, 0, 0), (8, 0, 6, 6, 0, 0, 4), (8, 8, 8, 6, 0, 0, 8))[p - 16]
        organ = _organ(("Drawbar Organ", "Percussive Organ", "Rock Organ")[p - 16], bars, vibrato=0.002 * (p == 18))
        if p == 17:  # a fast-decaying 2 2/3' percussion on top
            perc = Layer(SINE, ratio=3.0, gain=0.5, attack_s=0.001, decay_s=0.12, sustain=0.0)
            organ = Patch(organ.name, (*organ.layers, perc), organ.release_s, velocity_curve=0.6, level=0.9)
        return organ
    if p == 19:
        return _organ("Church Organ", (8, 6, 4, 6, 2, 3, 5), release_s=0.25)
    if p == 20:
        return _organ("Reed Organ", (8, 5, 3, 2, 2, 1, 1), release_s=0.08, vibrato=0.003)
    if p in (21, 23):
        acc = _reed("Accordion", saw(20, 1.1), attack_s=0.03, breath=0.01)
        detuned = Layer(saw(20, 1.1), ratio=1.003, gain=0.8, attack_s=0.03, decay_s=0.3, sustain=0.85)
        return Patch(acc.name, (*acc.layers, detuned), acc.release_s, acc.noise, 0.0, level=0.8)
    if p == 22:
        return _reed("Harmonica", square(16, even=0.5, tilt=1.2), attack_s=0.02, breath=0.05)
    if p == 24:
        return _pluck("Nylon Guitar", position=0.2, decay_s=1.4, bright=0.6)
    if p in (25, 26, 27):
        return _pluck(
            ("Steel Guitar", "Jazz Guitar", "Clean Guitar")[p - 25], 0.15, 1.6, bright=(1.3, 0.6, 1.0)[p - 25]
        )
    if p == 28:
        return _pluck("Muted Guitar", position=0.15, decay_s=0.18, bright=0.7)
    if p in (29, 30):
        tone = square(24, even=0.6, tilt=0.8)
        return Patch(
            "Overdriven Guitar" if p == 29 else "Distortion Guitar",
            (
                Layer(tone, attack_s=0.003, decay_s=0.8, sustain=0.55),
                Layer(tone, ratio=1.004, gain=0.6, decay_s=0.8, sustain=0.5),
            ),
            release_s=0.06,
            level=0.7,
        )
    if p == 31:
        return _bell("Guitar Harmonics", ((1.0, 1.0, 1.2), (2.0, 0.2, 0.3)))
    if p == 32:
        return _bass("Acoustic Bass", plucked(12, 0.25, 1.5), decay_s=1.0)
    if p in (33, 34):
        return _bass("Electric Bass", plucked(16, 0.2 if p == 33 else 0.1, 1.4), decay_s=1.6, sustain=0.3)
    if p == 35:
        return _bass("Fretless Bass", saw(10, 1.8), decay_s=1.5, sustain=0.4, attack_s=0.01)
    if p in (36, 37):
        return _bass("Slap Bass", plucked(24, 0.08, 1.0), decay_s=0.6, sustain=0.2)
    if p in (38, 39):
        return _bass("Synth Bass", saw(20, 1.0) if p == 38 else square(20, 0.0), decay_s=0.25, sustain=0.6)
    if p in (40, 41, 42, 43):
        name = ("Violin", "Viola", "Cello", "Contrabass")[p - 40]
        return _bowed(name, attack_s=0.08 + 0.02 * (p - 40), tilt=1.0 + 0.1 * (p - 40))
    if p == 44:
        bowed = _bowed("Tremolo Strings", attack_s=0.05, ensemble=True)
        return Patch(bowed.name, bowed.layers, bowed.release_s, bowed.noise, 0.01, 11.0, 0.0, level=0.9)
    if p == 45:
        return _pluck("Pizzicato Strings", position=0.3, decay_s=0.3, bright=0.5)
    if p == 46:
        return _pluck("Orchestral Harp", position=0.3, decay_s=2.2, bright=0.5)
    if p == 47:
        return Patch(
            "Timpani",
            (Layer((1.0, 0.5, 0.3), attack_s=0.002, decay_s=0.9, sustain=0.0),),
            release_s=0.4,
            noise=Noise("thump", 0.08, 0.001, 0.04),
            sweep=0.04,
            sweep_s=0.08,
            level=1.3,
        )
    if p in (48, 49, 50, 51):
        return _bowed(
            ("Strings", "Slow Strings", "Synth Strings", "Synth Strings 2")[p - 48],
            0.2 + 0.1 * (p % 2),
            ensemble=True,
            release_s=0.15,
        )
    if p in (52, 53, 54):
        vowel = ((730.0, 1090.0), (300.0, 870.0), (530.0, 1840.0))[p - 52]
        return Patch(
            ("Choir Aahs", "Voice Oohs", "Synth Choir")[p - 52],
            (
                Layer(CHOIR, attack_s=0.18, sustain=1.0, formants_hz=vowel),
                Layer(CHOIR, ratio=1.005, gain=0.8, attack_s=0.25, sustain=1.0, formants_hz=vowel),
            ),
            release_s=0.3,
            noise=Noise("breath", 0.01, 0.15, 0.3, 0.5),
            vibrato_depth=0.005,
            vibrato_hz=5.0,
            vibrato_delay_s=0.3,
            velocity_curve=1.0,
            level=1.0,
        )
    if p == 55:
        hit = _brass("Orchestra Hit", 0.8, attack_s=0.005)
        return Patch(
            hit.name, tuple(Layer(la.harmonics, la.ratio, la.gain, 0.004, 0.15, 0.0) for la in hit.layers), 0.15
        )
    if p in (56, 57, 58, 59):
        return _brass(("Trumpet", "Trombone", "Tuba", "Muted Trumpet")[p - 56], (0.9, 1.1, 1.6, 0.7)[p - 56])
    if p == 60:
        return _brass("French Horn", 1.7, attack_s=0.06)
    if p in (61, 62, 63):
        return _brass(("Brass Section", "Synth Brass", "Synth Brass 2")[p - 61], 1.0, attack_s=0.04, vibrato=0.0015)
    if 64 <= p <= 67:
        return _reed(("Soprano Sax", "Alto Sax", "Tenor Sax", "Baritone Sax")[p - 64], SAX, breath=0.04)
    if p in (68, 69):
        return _reed("Oboe" if p == 68 else "English Horn", OBOE, attack_s=0.03, breath=0.02)
    if p == 70:
        return _reed("Bassoon", saw(14, 1.6), attack_s=0.04, breath=0.02)
    if p == 71:
        return _reed("Clarinet", CLARINET, attack_s=0.03, breath=0.025)
    if p == 72:
        return _pipe("Piccolo", FLUTE, breath=0.05, attack_s=0.03)
    if p == 73:
        return _pipe("Flute", FLUTE, breath=0.07)
    if p == 74:
        return _pipe("Recorder", (1.0, 0.1, 0.12, 0.03), breath=0.05, vibrato=0.0)
    if p == 75:
        return _pipe("Pan Flute", (1.0, 0.08, 0.05), breath=0.14, attack_s=0.05)
    if p in (76, 77):
        return _pipe(
            "Blown Bottle" if p == 76 else "Shakuhachi", (1.0, 0.05, 0.1), breath=0.18, attack_s=0.06, vibrato=0.006
        )
    if p in (78, 79):
        return _pipe("Whistle" if p == 78 else "Ocarina", (1.0, 0.03), breath=0.03, attack_s=0.03, vibrato=0.005)
    if 80 <= p <= 87:
        lead = (
            square(24, 0.0),
            saw(24, 1.0),
            (1.0, 0.2, 0.4, 0.05, 0.1),
            saw(16, 1.3),
            square(24, 0.5, 0.8),
            CHOIR,
            saw(20, 1.0),
            saw(20, 1.1),
        )[p - 80]
        name = ("Square Lead", "Saw Lead", "Calliope", "Chiff", "Charang", "Voice Lead", "Fifths", "Bass + Lead")[
            p - 80
        ]
        if p == 86:  # a fifth above, as a second layer
            return Patch(
                name, (Layer(lead, sustain=1.0), Layer(lead, ratio=1.4983, gain=0.6, sustain=1.0)), 0.05, level=0.7
            )
        return _lead(name, lead, detune=0.004 if p in (81, 84, 87) else 0.0)
    if 88 <= p <= 103:
        name = PAD_AND_FX_NAMES[p - 88]
        if p in (98, 100):
            return _bell(f"FX {name}", ((1.0, 1.0, 1.5), (2.0, 0.4, 0.8), (5.0, 0.3, 0.4)), release_s=1.0)
        harmonics = saw(20, 1.6) if p % 2 else saw(20, 1.2)
        if p in (91, 94):
            harmonics = CHOIR
        if p == 93:
            harmonics = (1.0, 0.0, 0.5, 0.0, 0.0, 0.0, 0.35, 0.0, 0.0, 0.0, 0.25)
        return _pad(f"Pad {name}", harmonics, attack_s=0.3 + 0.05 * (p % 4), release_s=0.5 + 0.1 * (p % 3))
    if p == 104:
        return _pluck("Sitar", position=0.04, decay_s=2.0, bright=2.0, n=36, ratio=1.003)
    if p == 105:
        return _pluck("Banjo", position=0.1, decay_s=0.6, bright=1.6)
    if p == 106:
        return _pluck("Shamisen", position=0.08, decay_s=0.8, bright=1.5)
    if p == 107:
        return _pluck("Koto", position=0.2, decay_s=1.3, bright=1.0)
    if p == 108:
        return _bell("Kalimba", ((1.0, 1.0, 0.6), (5.4, 0.15, 0.05)), release_s=0.15)
    if p == 109:
        return _reed("Bagpipe", OBOE, attack_s=0.02, breath=0.02)
    if p == 110:
        return _bowed("Fiddle", attack_s=0.04, tilt=0.9)
    if p == 111:
        return _reed("Shanai", OBOE, attack_s=0.02, breath=0.03)
    if p in (112, 113):
        return _bell("Tinkle Bell" if p == 112 else "Agogo", ((1.0, 1.0, 0.7), (2.4, 0.5, 0.3), (4.1, 0.3, 0.15)))
    if p == 114:
        return _bell("Steel Drums", ((1.0, 1.0, 0.7), (2.0, 0.5, 0.5), (3.0, 0.3, 0.25)), release_s=0.2)
    if p == 115:
        return _drum_tone("Woodblock", 0.0, tone=((1.0, 1.0, 0.03), (2.6, 0.3, 0.02)), noise=("thump", 0.2, 0.005))
    if p in (116, 117, 118):
        return _drum_tone(
            ("Taiko", "Melodic Tom", "Synth Drum")[p - 116],
            0.0,
            tone=((1.0, 1.0, 0.3),),
            sweep=0.5,
            noise=("thump", 0.2, 0.03),
        )
    if p == 119:
        return _fx_noise("Reverse Cymbal", "cymbal", 0.4, 1.5, 0.0, 1.0)
    if p == 120:
        return _fx_noise("Fret Noise", "snare", 0.3, 0.001, 0.08, 0.0)
    if p == 121:
        return _fx_noise("Breath Noise", "breath", 0.4, 0.08, 0.3, 0.5)
    if p == 122:
        return _fx_noise("Seashore", "low", 0.5, 0.8, 0.0, 1.0)
    if p == 123:
        return Patch(
            "Bird Tweet",
            (Layer(SINE, ratio=4.0, sustain=1.0),),
            0.05,
            vibrato_depth=0.05,
            vibrato_hz=14.0,
            vibrato_delay_s=0.0,
        )
    if p == 124:
        return Patch("Telephone", (Layer(SINE, sustain=1.0), Layer(SINE, ratio=1.26, gain=0.8, sustain=1.0)), 0.03,
                     vibrato_depth=0.03, vibrato_hz=16.0, vibrato_delay_s=0.0)  # fmt: skip
    if p == 125:
        return _fx_noise("Helicopter", "low", 0.6, 0.2, 0.0, 1.0)
    if p == 126:
        return _fx_noise("Applause", "snare", 0.3, 0.3, 0.0, 1.0)
    return _fx_noise("Gunshot", "white", 0.6, 0.001, 0.15, 0.0)


def _drum_tone(
    name: str,
    fixed_hz: float | None,
    tone: tuple[tuple[float, float, float], ...] = (),
    noise: tuple[str, float, float] | None = None,
    sweep: float = 0.0,
    sweep_s: float = 0.04,
    harmonics: tuple[float, ...] = SINE,
    level: float = 1.0,
) -> Patch:
    """A drum: sine layers (ratio, gain, decay_s) over a fixed or played pitch, plus a noise burst."""
    layers = tuple(Layer(harmonics, ratio=r, gain=g, attack_s=0.0005, decay_s=d, sustain=0.0) for r, g, d in tone)
    if not layers:
        layers = (Layer(SINE, gain=0.0, decay_s=0.01, sustain=0.0),)
    burst = Noise(noise[0], noise[1], 0.0005, noise[2]) if noise else None
    return Patch(name, layers, release_s=0.06, noise=burst, sweep=sweep, sweep_s=sweep_s, fixed_hz=fixed_hz,
                 velocity_curve=1.4, level=level)  # fmt: skip


def _drum_patch(key: int) -> Patch:
    """The GM percussion key map (notes 35-81), drum by drum."""
    k = key
    if k in (35, 36):
        return _drum_tone("Kick", 52.0 if k == 35 else 58.0, ((1.0, 1.0, 0.22),), ("thump", 0.25, 0.006),
                          sweep=2.5, sweep_s=0.025, level=2.0)  # fmt: skip
    if k == 37:
        return _drum_tone("Side Stick", 420.0, ((1.0, 0.7, 0.025), (2.3, 0.3, 0.015)), ("snare", 0.4, 0.02))
    if k in (38, 40):
        tone = ((1.0, 0.7, 0.07), (1.78, 0.35, 0.05))
        return _drum_tone("Snare", 185.0, tone, ("snare", 1.2, 0.11 if k == 38 else 0.09), 0.3, 0.01, level=1.3)
    if k == 39:
        return _drum_tone("Hand Clap", None, (), ("snare", 1.4, 0.07))
    if k in (41, 43, 45, 47, 48, 50):
        hz = {41: 82.0, 43: 98.0, 45: 116.0, 47: 135.0, 48: 160.0, 50: 190.0}[k]
        tone = ((1.0, 1.0, 0.28), (1.5, 0.25, 0.12))
        return _drum_tone("Tom", hz, tone, ("thump", 0.25, 0.02), sweep=0.35, sweep_s=0.06, level=1.5)
    if k == 42:
        return _drum_tone("Closed Hi-Hat", None, (), ("hat", 1.0, 0.035))
    if k == 44:
        return _drum_tone("Pedal Hi-Hat", None, (), ("hat", 0.8, 0.05))
    if k == 46:
        return _drum_tone("Open Hi-Hat", None, (), ("hat", 1.0, 0.3))
    if k in (49, 57, 52, 55):
        decay = {49: 0.9, 57: 1.0, 52: 0.7, 55: 0.35}[k]
        return _drum_tone("Crash Cymbal", None, (), ("cymbal", 0.9, decay))
    if k in (51, 59):
        return _drum_tone("Ride Cymbal", 510.0, ((1.0, 0.08, 0.8), (2.7, 0.05, 0.6)), ("cymbal", 0.45, 0.7))
    if k == 53:
        return _drum_tone(
            "Ride Bell", 740.0, ((1.0, 0.6, 0.6), (2.4, 0.4, 0.4), (3.8, 0.2, 0.25)), ("cymbal", 0.2, 0.3)
        )
    if k == 54:
        return _drum_tone("Tambourine", None, (), ("hat", 0.9, 0.12))
    if k == 56:
        return _drum_tone("Cowbell", 560.0, ((1.0, 0.8, 0.12), (1.48, 0.6, 0.1)), harmonics=square(8, 0.0))
    if k in (60, 61, 62, 63, 64):
        hz = {60: 400.0, 61: 300.0, 62: 330.0, 63: 250.0, 64: 190.0}[k]
        return _drum_tone("Bongo" if k < 62 else "Conga", hz, ((1.0, 1.0, 0.12 if k != 62 else 0.04), (1.6, 0.2, 0.05)),
                          ("thump", 0.2, 0.01), sweep=0.1, sweep_s=0.02)  # fmt: skip
    if k in (65, 66):
        return _drum_tone(
            "Timbale", 330.0 if k == 65 else 260.0, ((1.0, 0.8, 0.25), (2.2, 0.3, 0.15)), ("snare", 0.3, 0.05)
        )
    if k in (67, 68):
        return _drum_tone("Agogo", 880.0 if k == 67 else 660.0, ((1.0, 0.8, 0.25), (2.4, 0.4, 0.15)))
    if k in (69, 70, 82):
        return _drum_tone("Shaker", None, (), ("hat", 0.6, 0.06))
    if k in (71, 72):
        return _drum_tone("Whistle", 2300.0 if k == 71 else 2100.0, ((1.0, 0.5, 0.25 if k == 71 else 0.5),))
    if k in (73, 74):
        return _drum_tone("Guiro", None, (), ("snare", 0.5, 0.08 if k == 73 else 0.25))
    if k == 75:
        return _drum_tone("Claves", 2500.0, ((1.0, 0.8, 0.03),))
    if k in (76, 77):
        return _drum_tone("Wood Block", 1000.0 if k == 76 else 800.0, ((1.0, 0.8, 0.04), (2.6, 0.3, 0.02)))
    if k in (78, 79):
        return _drum_tone("Cuica", 600.0 if k == 78 else 350.0, ((1.0, 0.7, 0.15),), sweep=-0.3, sweep_s=0.08)
    if k in (80, 81):
        return _drum_tone("Triangle", 4200.0, ((1.0, 0.5, 0.12 if k == 80 else 1.0), (2.9, 0.2, 0.5)))
    return _drum_tone("Percussion", None, ((1.0, 0.4, 0.05),), ("thump", 0.3, 0.03))
