"""Every key of the studio in one table, and the user's remapping file.

Each entry becomes a Textual `Binding` with an `id`; the help overlay and the
command palette are generated from this table, so they cannot drift from the
keys that really work. Users remap keys in `keys.toml`:

    # ~/.config/composer/keys.toml  (or $COMPOSER_HOME/keys.toml)
    [keys]
    play = "space,p"
    add_note = "a"

The left side is a binding id (see `composer` → ? for the list), the right
side Textual key names separated by commas.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from textual.binding import Binding

from composer.errors import ComposerError

try:
    import tomllib  # Python 3.11+, which pyproject.toml requires
except ModuleNotFoundError:  # an older Python: tomli is the same parser, where it is installed
    try:
        import tomli as tomllib
    except ModuleNotFoundError:
        raise ComposerError(
            None,
            f"the studio needs Python 3.11 or newer (tomllib), or tomli installed; this is {sys.version.split()[0]}",
        ) from None


@dataclass(frozen=True)
class KeyAction:
    id: str
    keys: str
    action: str
    description: str
    group: str
    show: bool = False


TRANSPORT, TRACKS, ROLL, EDIT, FILES, APP = "Transport", "Tracks", "Piano roll", "Edit", "Files", "App"
PIANO, AI = "QWERTY piano", "AI co-composer"
CLIPS = "Audio clips (tab past the last track selects one)"

# The QWERTY piano (as in trackers): the z-row is the lower octave's white keys with its sharps on the
# a-row; the q-row the upper octave's, with its sharps on the number row. Values: semitones above the
# piano's octave. Terminals report no key release, so each note lasts the piano's fixed length.
PIANO_KEYS: dict[str, int] = {
    **{key: i for i, key in enumerate("zsxdcvgbhnjm")},
    **{key: 12 + i for i, key in enumerate("q2w3er5t6y7ui9o0p")},
}

MAIN_KEYS: tuple[KeyAction, ...] = (
    KeyAction("play", "space", "play", "Play / stop", TRANSPORT, show=True),
    KeyAction("rewind", "home", "rewind", "Playhead to the start", TRANSPORT),
    KeyAction("tempo", "t", "tempo", "Set the tempo", TRANSPORT),
    KeyAction("meter", "T", "meter", "Set the time signature", TRANSPORT),
    KeyAction("metronome", "k", "metronome", "Metronome on / off", TRANSPORT),
    KeyAction("loop", "l", "loop", "Loop the selection (or 4 bars) on / off", TRANSPORT),
    KeyAction("record", "ctrl+r", "record", "Record into the armed track (count-in first) / stop", TRANSPORT),
    KeyAction("next_track", "tab", "track(1)", "Next track", TRACKS),
    KeyAction("prev_track", "shift+tab", "track(-1)", "Previous track", TRACKS),
    KeyAction("add_track", "N", "add_track", "Add a track", TRACKS, show=True),
    KeyAction("remove_track", "D", "remove_track", "Remove the track", TRACKS),
    KeyAction("rename_track", "R", "rename_track", "Rename the track", TRACKS),
    KeyAction("track_down", "J", "move_track(1)", "Move the track down", TRACKS),
    KeyAction("track_up", "K", "move_track(-1)", "Move the track up", TRACKS),
    KeyAction("instrument", "i", "instrument", "Choose the track's instrument", TRACKS, show=True),
    KeyAction("arm", "A", "arm", "Arm the track for recording (or disarm it)", TRACKS),
    KeyAction("mute", "m", "mute", "Mute the track", TRACKS),
    KeyAction("solo", "o", "solo", "Solo the track", TRACKS),
    KeyAction("synth", "Y", "toggle_synth", "Play the track with the neural synth / the DSP synth", TRACKS),
    KeyAction("midi_out", "O", "midi_out", "MIDI out for the track: off, channel 1-16", TRACKS),
    KeyAction("volume_down", "9", "volume(-0.05)", "Track volume down", TRACKS),
    KeyAction("volume_up", "0", "volume(0.05)", "Track volume up", TRACKS),
    KeyAction("pan_left", "7", "pan(-0.1)", "Pan the track left", TRACKS),
    KeyAction("pan_right", "8", "pan(0.1)", "Pan the track right", TRACKS),
    KeyAction("prompt_track", "ctrl+t", "prompt_track", "Add an audio track made from a text prompt", TRACKS),
    KeyAction("regenerate_clip", "E", "regenerate_clip", "Make the audio track again with a new seed", TRACKS),
    KeyAction("clip_earlier", "comma", "clip_move(-1)", "Move the clip one grid step earlier", CLIPS),
    KeyAction("clip_later", "full_stop", "clip_move(1)", "Move the clip one grid step later", CLIPS),
    KeyAction("clip_shorter", "less_than_sign", "clip_trim_end(-1)", "Trim the clip's end a grid step", CLIPS),
    KeyAction("clip_longer", "greater_than_sign", "clip_trim_end(1)", "Lengthen the clip's end a grid step", CLIPS),
    KeyAction("clip_start_earlier", "left_parenthesis", "clip_trim_start(-1)", "Untrim the clip's start", CLIPS),
    KeyAction("clip_start_later", "right_parenthesis", "clip_trim_start(1)", "Trim the clip's start", CLIPS),
    KeyAction("clip_delete", "delete,backspace,x", "clip_delete", "Delete the clip", CLIPS),
    KeyAction("clip_duplicate", "y", "clip_duplicate", "Duplicate the clip right after itself", CLIPS),
    KeyAction("clip_more", "plus,equals_sign", "clip_repeats(1)", "Loop clip: one more repeat", CLIPS),
    KeyAction("clip_fewer", "minus", "clip_repeats(-1)", "Loop clip: one repeat fewer", CLIPS),
    KeyAction("clip_reprompt", "R", "clip_reprompt", "Edit the clip's prompt, seed, length; make it again", CLIPS),
    KeyAction("clip_deselect", "escape", "clip_deselect", "Deselect the clip (the keys edit notes again)", CLIPS),
    KeyAction("cursor_left", "left", "cursor(-1,0)", "Cursor one grid step earlier", ROLL),
    KeyAction("cursor_right", "right", "cursor(1,0)", "Cursor one grid step later", ROLL),
    KeyAction("cursor_up", "up", "cursor(0,1)", "Cursor a semitone up", ROLL),
    KeyAction("cursor_down", "down", "cursor(0,-1)", "Cursor a semitone down", ROLL),
    KeyAction("octave_up", "pageup", "cursor(0,12)", "Cursor an octave up", ROLL),
    KeyAction("octave_down", "pagedown", "cursor(0,-12)", "Cursor an octave down", ROLL),
    KeyAction("select_left", "shift+left", "extend(-1,0)", "Extend the selection earlier", ROLL),
    KeyAction("select_right", "shift+right", "extend(1,0)", "Extend the selection later", ROLL),
    KeyAction("select_up", "shift+up", "extend(0,1)", "Extend the selection up", ROLL),
    KeyAction("select_down", "shift+down", "extend(0,-1)", "Extend the selection down", ROLL),
    KeyAction("select_all", "ctrl+a", "select_all", "Select every note of the track", ROLL),
    KeyAction("select_none", "escape", "select_none", "Clear the selection", ROLL),
    KeyAction("zoom_in", "right_square_bracket", "zoom_time(2)", "Zoom in (time)", ROLL),
    KeyAction("zoom_out", "left_square_bracket", "zoom_time(0.5)", "Zoom out (time)", ROLL),
    KeyAction("pitch_zoom_in", "right_curly_bracket", "zoom_pitch(1)", "Zoom in (pitch)", ROLL),
    KeyAction("pitch_zoom_out", "left_curly_bracket", "zoom_pitch(-1)", "Zoom out (pitch)", ROLL),
    KeyAction("grid", "g", "grid", "Next grid size", ROLL),
    KeyAction(
        "add_note",
        "enter",
        "toggle_note",
        "Add a note at the cursor (or remove the one there)",
        EDIT,
        show=True,
    ),
    KeyAction("delete", "delete,backspace,x", "delete", "Delete the selected notes", EDIT),
    KeyAction("earlier", "comma", "move(-1)", "Move notes one grid step earlier", EDIT),
    KeyAction("later", "full_stop", "move(1)", "Move notes one grid step later", EDIT),
    KeyAction("transpose_up", "plus,equals_sign", "transpose(1)", "Transpose up a semitone", EDIT),
    KeyAction("transpose_down", "minus", "transpose(-1)", "Transpose down a semitone", EDIT),
    KeyAction("longer", "greater_than_sign", "resize(1)", "Lengthen notes by a grid step", EDIT),
    KeyAction("shorter", "less_than_sign", "resize(-1)", "Shorten notes by a grid step", EDIT),
    KeyAction("louder", "v", "velocity(8)", "Velocity up", EDIT),
    KeyAction("softer", "V", "velocity(-8)", "Velocity down", EDIT),
    KeyAction("quantize", "q", "quantize", "Quantize to the grid", EDIT, show=True),
    KeyAction("strength", "Q", "strength", "Next quantize strength", EDIT),
    KeyAction("copy", "ctrl+c,y", "copy", "Copy the selected notes", EDIT),
    KeyAction("cut", "ctrl+x", "cut", "Cut the selected notes", EDIT),
    KeyAction("paste", "ctrl+v,P", "paste", "Paste at the cursor", EDIT),
    KeyAction("undo", "ctrl+z,u", "undo", "Undo", EDIT, show=True),
    KeyAction("redo", "ctrl+y,U", "redo", "Redo", EDIT),
    KeyAction("piano", "ctrl+k", "piano", "QWERTY piano on / off (z-row and q-row play notes)", PIANO),
    KeyAction("piano_octave_down", "f3", "piano_octave(-1)", "Piano an octave down", PIANO),
    KeyAction("piano_octave_up", "f4", "piano_octave(1)", "Piano an octave up", PIANO),
    KeyAction("piano_length", "f5", "piano_length", "Set the piano's note length (beats)", PIANO),
    KeyAction("ai_continue", "C", "ai_continue", "Continue the track from the cursor (or the selection's end)", AI),
    KeyAction("ai_generate", "G", "ai_generate", "Generate a new phrase at the cursor", AI),
    KeyAction("ai_variations", "W", "ai_variations", "Sample several continuations to choose from", AI),
    KeyAction("ai_accompany", "B", "ai_accompany", "Accompany the track in a new track (selected bars, else all)", AI),
    KeyAction("ai_infill", "F", "ai_infill", "Infill the selected bars (else the cursor's bar) of the track", AI),
    KeyAction("jam", "H", "jam", "Jam on / off: play a phrase, the AI answers it on the Answer track", AI),
    KeyAction("jam_stop", "escape", "jam_stop", "Stop the jam (keeps both parts, one undo step)", AI),
    KeyAction("ai_settings", "ctrl+g", "ai_settings", "AI settings: style, temperature, top-p, bars, key, seed", AI),
    KeyAction("ai_keep", "enter", "ai_keep", "Keep the AI candidate (one undo step)", AI),
    KeyAction("ai_discard", "escape", "ai_discard", "Discard the AI candidates", AI),
    KeyAction("ai_cancel", "escape", "ai_cancel", "Stop the AI while it samples", AI),
    KeyAction("ai_again", "r", "ai_again", "Sample the candidates again (new seeds)", AI),
    KeyAction("ai_next", "n", "ai_show(1)", "Next AI candidate", AI),
    KeyAction("ai_prev", "p", "ai_show(-1)", "Previous AI candidate", AI),
    KeyAction("ai_listen", "a", "ai_listen", "Listen to the AI candidate", AI),
    *(
        KeyAction(f"ai_pick_{k}", str(k), f"ai_pick({k})", f"Pick AI candidate {k} of several on show", AI)
        for k in range(1, 9)
    ),
    KeyAction("new", "ctrl+n", "new_song", "New song", FILES),
    KeyAction("open", "ctrl+o", "open", "Open a project or MIDI file", FILES, show=True),
    KeyAction("import", "I", "import_midi", "Import a MIDI file's tracks", FILES),
    KeyAction("save", "ctrl+s", "save", "Save the project", FILES, show=True),
    KeyAction("save_as", "S", "save_as", "Save the project as…", FILES),
    KeyAction("export", "ctrl+e", "export", "Export MIDI, WAV or stems", FILES, show=True),
    KeyAction("help", "question_mark,f1", "help", "Show every key", APP, show=True),
    KeyAction("devices", "ctrl+d", "devices", "Devices: audio out, MIDI in / out, clock", APP),
    KeyAction("theme", "ctrl+l", "toggle_dark", "Light / dark theme", APP),
    KeyAction("palette", "ctrl+p", "app.command_palette", "Find any action by name", APP),
    KeyAction("quit", "ctrl+q", "app.quit", "Quit (the song is autosaved)", APP, show=True),
)


def bindings(actions: tuple[KeyAction, ...] = MAIN_KEYS) -> list[Binding]:
    return [Binding(a.keys, a.action, a.description, show=a.show, id=a.id) for a in actions]


def config_path() -> Path:
    """$COMPOSER_HOME/keys.toml when COMPOSER_HOME is set, else ~/.config/composer/keys.toml."""
    home = os.environ.get("COMPOSER_HOME")
    if home:
        return Path(home) / "keys.toml"
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "composer" / "keys.toml"


def load_keymap(path: Path | None = None, actions: tuple[KeyAction, ...] = MAIN_KEYS) -> dict[str, str]:
    """The user's {binding id: keys} from the TOML file ({} when there is no file).

    Raises ComposerError naming the file when it is not valid TOML or names an unknown action.
    """
    path = config_path() if path is None else path
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ComposerError(path, f"cannot read key map: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ComposerError(path, f"not valid TOML: {exc}") from None
    table = data.get("keys", {})
    if not isinstance(table, dict):
        raise ComposerError(path, 'expected a [keys] table of id = "key,key"')
    known = {a.id for a in actions}
    keymap: dict[str, str] = {}
    for binding_id, keys in table.items():
        if binding_id not in known:
            raise ComposerError(path, f"unknown key id {binding_id!r}; known ids: {', '.join(sorted(known))}")
        if not isinstance(keys, str) or not keys.strip():
            raise ComposerError(path, f'keys for {binding_id!r} must be a non-empty string like "ctrl+s"')
        keymap[binding_id] = keys
    return keymap


def effective_keys(keymap: dict[str, str], actions: tuple[KeyAction, ...] = MAIN_KEYS) -> list[tuple[KeyAction, str]]:
    """Each action with the keys that trigger it after the user's remapping."""
    return [(a, keymap.get(a.id, a.keys)) for a in actions]
