"""The main screen's actions, one module per area of the keymap (tui/keymap.py).

MainScreen (tui/screens/main.py) mixes in one class from each:

    transport.py   TransportActions  play / stop, rewind, tempo, time signature, metronome, loop
    tracks.py      TrackActions      choose, add, remove, rename, reorder; instrument, synth, mix
    roll.py        RollActions       cursor, selection, zoom, grid
    editing.py     EditActions       notes: add, delete, move, transpose, resize, velocity, quantize,
                                     copy / paste, undo / redo
    files.py       FileActions       new, open, import, save, export; help, theme
    ai.py          AIActions         the AI co-composer's candidates
    piano.py       PianoActions      the QWERTY piano
    recording.py   RecordActions     arm, record, stop the take
    devices.py     DeviceActions     the devices screen (audio out, MIDI in / out, clock); a track's MIDI out
    clips.py       ClipActions       audio clips: select, move, trim, delete, duplicate, repeats, re-prompt

and PromptTrackActions (tui/prompt_worker.py) for the audio tracks made from a text prompt.

An action is `action_<name>` as the keymap names it (`move(1)` calls `action_move(1)`). The mixins
use what the screen provides: `song`, `roll`, `ai`, `status`, `say`, `edit` (one undo step),
`refresh_all`, `update_state`, `require_track`, `require_targets`, `show_ghosts`, and its view state
(set in MainScreen.__init__). Handlers of widget messages (`@on`) stay on the screen: Textual
collects them only from its own classes (MessagePump subclasses), and the mixins are plain classes.
"""
