"""Every studio action in Textual's command palette (ctrl+p), named as in the help overlay."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from tui.keymap import MAIN_KEYS, KeyAction
from tui.screens.help import key_label


class StudioCommands(Provider):
    def _commands(self) -> list[tuple[str, KeyAction]]:
        keymap = self.app._keymap
        return [(f"{a.description}  ({key_label(keymap.get(a.id, a.keys))})", a) for a in MAIN_KEYS]

    def _runner(self, action: KeyAction):
        # self.screen is the screen the palette was opened over: the studio's main screen
        return partial(self.app.run_action, action.action, self.screen)

    async def discover(self) -> Hits:
        for text, action in self._commands():
            yield DiscoveryHit(text, self._runner(action), help=action.group)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, action in self._commands():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), self._runner(action), help=action.group)
