"""The devices the studio uses, remembered between runs in `devices.json` beside the key map.

    # ~/.config/composer/devices.json  (or $COMPOSER_HOME/devices.json)
    {"audio_output": "system", "midi_input": "Keystation:out", "midi_output": "synth:in", "midi_clock": true}

`audio_output`: a PortAudio device name (None: the default device). `midi_input`: a port name, "" for none
(None: the first port, as before any choice). `midi_output`: a port name (None: none). `midi_clock`: send
MIDI clock to the output. They are the machine's, not the song's: not in the project, not undone.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from composer.errors import ComposerError
from composer.files.atomic import atomic_write_text
from tui.keymap import config_path

NO_INPUT = ""  # midi_input: the user chose none


@dataclass
class DeviceSettings:
    audio_output: str | None = None
    midi_input: str | None = None
    midi_output: str | None = None
    midi_clock: bool = False


def settings_path() -> Path:
    return config_path().with_name("devices.json")


def load_device_settings(path: Path | None = None) -> DeviceSettings:
    """The remembered devices (the defaults when there is no file); ComposerError naming a file that is wrong."""
    path = settings_path() if path is None else path
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return DeviceSettings()
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ComposerError(path, f"cannot read the device settings: {exc}") from None
    if not isinstance(data, dict):
        raise ComposerError(path, 'expected an object like {"midi_output": "synth:in"}')
    settings = DeviceSettings()
    for f in fields(DeviceSettings):
        if f.name not in data:
            continue
        value = data[f.name]
        wanted = bool if f.name == "midi_clock" else str
        if not (isinstance(value, wanted) or (value is None and wanted is str)):
            raise ComposerError(path, f"{f.name} must be {'true or false' if wanted is bool else 'a name or null'}")
        setattr(settings, f.name, value)
    return settings


def save_device_settings(settings: DeviceSettings, path: Path | None = None) -> None:
    path = settings_path() if path is None else path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ComposerError(path.parent, f"cannot make the settings folder: {exc.strerror or exc}") from None
    atomic_write_text(path, json.dumps(asdict(settings), indent=1) + "\n")
