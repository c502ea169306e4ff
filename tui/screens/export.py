"""Export the song: MIDI always; WAV and stems when the renderer (synth.render) is importable."""

from __future__ import annotations

import importlib
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, ProgressBar, RadioButton, RadioSet

from composer.errors import ComposerError
from composer.files.midi_io import write_midi
from composer.song import Song


def renderer_available() -> str | None:
    """None when WAV export can run, else why not."""
    try:
        importlib.import_module("synth.render")
    except ImportError as exc:
        return f"WAV export needs synth.render ({exc})"
    return None


class ExportScreen(ModalScreen[None]):
    CSS_PATH = Path(__file__).with_suffix(".tcss")
    BINDINGS = [Binding("escape", "close", "Close")]

    def __init__(self, song: Song, project_path: str | None) -> None:
        super().__init__()
        self.song = song
        self.stem = Path(project_path).with_suffix("") if project_path else Path("song")
        self.wav_problem = renderer_available()

    def compose(self) -> ComposeResult:
        with Vertical(id="export-box"):
            yield Label("Export", id="export-title")
            with RadioSet(id="export-format"):
                yield RadioButton("MIDI file (.mid)", value=True, id="fmt-mid")
                if self.wav_problem is None:
                    yield RadioButton("WAV mix (.wav)", id="fmt-wav")
                    yield RadioButton("WAV stems, one per track", id="fmt-stems")
            if self.wav_problem is not None:
                yield Label(self.wav_problem, id="export-why")
            yield Input(value=f"{self.stem}.mid", id="export-path")
            yield ProgressBar(total=1, show_eta=False, id="export-progress")
            yield Label("", id="export-message")
            with Horizontal(id="export-buttons"):
                yield Button("Export", variant="primary", id="export-go")
                yield Button("Close", id="export-close")

    @on(RadioSet.Changed, "#export-format")
    def format_changed(self, event: RadioSet.Changed) -> None:
        suffix = {"fmt-mid": ".mid", "fmt-wav": ".wav", "fmt-stems": ".stems"}[event.pressed.id]
        field = self.query_one("#export-path", Input)
        field.value = str(Path(field.value).with_suffix(suffix)) if suffix != ".stems" else f"{self.stem}-stems"

    @on(Button.Pressed, "#export-close")
    def action_close(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted, "#export-path")
    @on(Button.Pressed, "#export-go")
    def go(self) -> None:
        pressed = self.query_one("#export-format", RadioSet).pressed_button
        kind = pressed.id if pressed is not None else "fmt-mid"
        path = Path(self.query_one("#export-path", Input).value).expanduser()
        self.query_one("#export-go", Button).disabled = True
        self.query_one("#export-message", Label).update("Exporting…")
        self.export(kind, path)

    @work(thread=True, exclusive=True)
    def export(self, kind: str, path: Path) -> None:
        progress = self.query_one("#export-progress", ProgressBar)
        try:
            if kind == "fmt-mid":
                write_midi(self.song, path)
                done = f"Wrote {path}"
            else:
                done = self._render_audio(kind, path, progress)
        except (ComposerError, OSError, ValueError) as exc:
            self.app.call_from_thread(self._finish, f"Not exported: {exc}", True)
            return
        except Exception as exc:  # anything else (e.g. MemoryError): one line, the dialog usable again
            self.app.call_from_thread(self._finish, f"Not exported: {type(exc).__name__}: {exc}", True)
            return
        self.app.call_from_thread(progress.update, total=1, progress=1)
        self.app.call_from_thread(self._finish, done, False)

    def _render_audio(self, kind: str, path: Path, progress: ProgressBar) -> str:
        render = importlib.import_module("synth.render")
        sample_rate = 48000
        total_s = max(self.song.duration_s, 0.1) * (1 if kind == "fmt-wav" else max(1, len(self.song.tracks)))
        self.app.call_from_thread(progress.update, total=total_s, progress=0)

        def report(seconds: float) -> None:
            self.app.call_from_thread(progress.update, progress=min(seconds, total_s))

        if kind == "fmt-wav":
            audio = render.render_song(self.song, sample_rate, progress=report)
            render.write_wav(path, audio, sample_rate, 16)
            return f"Wrote {path} ({len(audio) / sample_rate:.1f} s)"
        stems = render.render_stems(self.song, sample_rate, progress=report)
        path.mkdir(parents=True, exist_ok=True)
        for i, (name, audio) in enumerate(stems.items()):
            safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in str(name)) or f"track{i + 1}"
            render.write_wav(path / f"{i + 1:02d}-{safe}.wav", audio, sample_rate, 16)
        return f"Wrote {len(stems)} stems to {path}/"

    def _finish(self, message: str, error: bool) -> None:
        self.query_one("#export-message", Label).update(f"[b red]{message}[/]" if error else message)
        self.query_one("#export-go", Button).disabled = False
