"""The `composer` command: one subcommand per feature, each in tui/commands/.

Each command module has `register(subparsers)` which adds its parser and sets
`run=function(args) -> int`. Heavy imports (torch, audio) stay inside the run
functions so that `composer --help` and the app start fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from composer.errors import ComposerError

COMMAND_MODULES = (
    "tui.commands.info",
    "tui.commands.corpus",
    "tui.commands.train",
    "tui.commands.generate",
    "tui.commands.accompany",
    "tui.commands.infill",
    "tui.commands.devices",
    "tui.commands.play",
    "tui.commands.render",
    "tui.commands.live",
    "tui.commands.jam",
    "tui.commands.audio_data",
    "tui.commands.prompt_data",
    "tui.commands.prompt",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="composer",
        description="A terminal music studio with an AI co-composer. With no command, opens the app.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command is None:
            return open_app()
        return int(args.run(args) or 0)
    except ComposerError as exc:
        print(f"composer: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("composer: interrupted", file=sys.stderr)
        return 130


def open_app() -> int:
    """The app; without Textual installed, one line and exit 2. Any other import error is a bug: raised."""
    try:
        app_module = importlib.import_module("tui.app")
    except ModuleNotFoundError as exc:
        if exc.name != "textual" and not (exc.name or "").startswith("textual."):
            raise
        print("composer: the app needs Textual (pip install textual); the commands work without it", file=sys.stderr)
        return 2
    return int(app_module.run_app() or 0)


if __name__ == "__main__":
    sys.exit(main())
