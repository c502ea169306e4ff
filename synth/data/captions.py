"""Text captions for the prompt-data clips, made from each clip's metadata.

    meta = ClipMeta(program=42, family="strings", instrument="cello", bpm=72.0, key="D", mode="minor",
                    register="low", loudness="soft", texture="melody")
    captions(meta, rng, k=4)                       # 4 different train phrasings, e.g. "slow cello melody in D minor"
    captions(meta, rng, k=4, held_out=True)        # phrasings from the held-out set only

The train templates and the held-out templates are disjoint sets of phrasings
(the held-out prompts of the evaluation are never seen in training). A template
is used for a clip only when the clip has every field it names (drums have no
key, mode or register). Words are drawn from small synonym lists ("soft",
"quiet", "gentle"), so the same template gives several strings. Everything is
drawn from the `rng` passed in: same rng state, same captions.
"""

from __future__ import annotations

import re
import string
from dataclasses import asdict, dataclass

import numpy as np

KEY_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
TEMPO_WORDS = ("slow", "moderate", "fast")
SLOW_BELOW_BPM = 85.0  # slow below this, fast from FAST_FROM_BPM, moderate between
FAST_FROM_BPM = 115.0
TEXTURES = ("melody", "chords", "arpeggio", "groove")

_TEMPO = {
    "slow": ("slow", "slow", "slow-paced", "unhurried"),
    "moderate": ("moderate", "mid-tempo", "medium-tempo"),
    "fast": ("fast", "fast", "quick", "up-tempo"),
}
_LOUD = {
    "soft": ("soft", "quiet", "gentle"),
    "medium": ("medium-loud", "moderately loud"),
    "loud": ("loud", "powerful"),
}
_REGISTER = {
    "low": ("low", "deep", "low-register"),
    "middle": ("mid-range", "middle-register"),
    "high": ("high", "bright"),
}
_TEXTURE_NOUN = {  # "cello melody", "organ chords"
    "melody": ("melody", "melody", "tune", "melodic line"),
    "chords": ("chords", "chord progression", "chords"),
    "arpeggio": ("arpeggio", "arpeggios", "broken chords"),
    "groove": ("groove", "beat", "pattern"),
}
_TEXTURE_OBJECT = {  # "playing chords"
    "melody": ("a melody", "a tune"),
    "chords": ("chords", "a chord progression"),
    "arpeggio": ("arpeggios", "an arpeggio", "broken chords"),
    "groove": ("a groove", "a beat"),
}

# Fields: {tempo} {bpm} {loud} {register} {inst} {family} {thing} (instrument + texture noun, "cello melody",
# "rock drum beat") {playing} ("chords", "a groove") {key} ("D minor").
TRAIN_TEMPLATES = (
    "{thing}",
    "{tempo} {thing}",
    "{loud} {thing}",
    "{tempo} {thing} in {key}",
    "{thing} in {key}",
    "{loud} {register} {thing}",
    "a {loud} {inst} playing {playing}, {bpm} BPM",
    "{thing}, {bpm} BPM",
    "{tempo} {family} {texture} at {bpm} BPM",
    "{inst} playing {playing} in {key}, {tempo}",
    "{loud} {tempo} {thing}",
    "a {tempo} {thing} at {bpm} BPM, {loud}",
    "{register} {inst}, {playing}, {key}",
    "{thing} at {bpm} bpm in {key}, {loud} dynamics",
    "{family}: {tempo} {texture}, {bpm} BPM",
    "{loud} {inst} {texture} in {key} at {bpm} BPM",
)
HELD_OUT_TEMPLATES = (
    "{inst} {texture}, {tempo} and {loud}",
    "someone playing {playing} on the {inst}, {tempo}",
    "{bpm} BPM {thing}",
    "solo {inst} in {key}, {texture}",
    "{register} {thing}, around {bpm} beats per minute",
    "{loud} {family} sound, {tempo} {texture}",
)


@dataclass(frozen=True)
class ClipMeta:
    """What a clip is, as written to clips.jsonl (captions aside)."""

    program: int | None  # GM program, None for the drum kit
    family: str  # "strings", ... or "drums"
    instrument: str  # short name used in captions: "cello", "electric piano", "drum kit"
    bpm: float
    key: str | None  # "D", "Eb", ... ; None for drums
    mode: str | None  # "major" / "minor"; None for drums
    register: str | None  # "low" / "middle" / "high"; None for drums
    loudness: str  # "soft" / "medium" / "loud"
    texture: str  # "melody" / "chords" / "arpeggio" / "groove"
    style: str | None = None  # drum style ("rock", "funk", ...)
    # The clip's beat grid: seconds from its start to its first beat (None: not known), beats in a bar
    # (None: not known). Generated parts start on a bar line of 4 beats; a corpus excerpt knows its beat only.
    first_beat_s: float | None = 0.0
    beats_per_bar: int | None = 4

    @property
    def drums(self) -> bool:
        return self.program is None

    def to_dict(self) -> dict:
        return {**asdict(self), "drums": self.drums}


def tempo_word(bpm: float) -> str:
    return "slow" if bpm < SLOW_BELOW_BPM else "fast" if bpm >= FAST_FROM_BPM else "moderate"


def template_fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def usable_templates(meta: ClipMeta, held_out: bool = False) -> list[str]:
    """The templates of the set whose fields this clip has."""
    missing = set()
    if meta.key is None or meta.mode is None:
        missing.add("key")
    if meta.register is None:
        missing.add("register")
    templates = HELD_OUT_TEMPLATES if held_out else TRAIN_TEMPLATES
    return [t for t in templates if not template_fields(t) & missing]


def captions(meta: ClipMeta, rng: np.random.Generator, k: int = 4, held_out: bool = False) -> list[str]:
    """k captions from k different templates of the train (or held-out) set; fewer templates fit -> reuse."""
    templates = usable_templates(meta, held_out)
    if not templates:
        raise ValueError(f"no caption template fits {meta}")
    chosen = rng.choice(len(templates), size=k, replace=k > len(templates))
    return [fill(templates[int(i)], meta, rng) for i in chosen]


def fill(template: str, meta: ClipMeta, rng: np.random.Generator) -> str:
    """One template with words drawn for this clip; 'a' before a vowel becomes 'an'."""

    def pick(options: tuple[str, ...]) -> str:
        return options[int(rng.integers(len(options)))]

    texture = pick(_TEXTURE_NOUN[meta.texture])
    if meta.drums:
        style = f"{meta.style} " if meta.style and rng.random() < 0.6 else ""
        inst = pick(("drums", "drum kit", "drum set"))
        thing = f"{style}drum {texture}"
        family = "drum"
        texture = f"{style}{texture}"
    else:
        inst = meta.instrument
        if meta.texture == "melody" and meta.family == "bass" and rng.random() < 0.5:
            texture = "bassline"
        thing = f"{inst} {texture}"
        family = meta.family
    fields = {
        "tempo": pick(_TEMPO[tempo_word(meta.bpm)]),
        "bpm": str(int(round(meta.bpm))),
        "loud": pick(_LOUD[meta.loudness]),
        "register": pick(_REGISTER[meta.register]) if meta.register else "",
        "inst": inst,
        "family": family,
        "thing": thing,
        "texture": texture,
        "playing": pick(_TEXTURE_OBJECT[meta.texture]),
        "key": f"{meta.key} {meta.mode}" if meta.key else "",
    }
    text = template.format(**{name: fields[name] for name in template_fields(template)})
    text = re.sub(r"\b([aA]) (?=[aeiouAEIOU])", r"\1n ", text)
    return " ".join(text.split())
