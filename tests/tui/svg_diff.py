"""Say in words how two Rich/Textual terminal SVG screenshots differ.

A screenshot made by `rich.console.Console.export_svg` (which Textual's
`App.export_screenshot` uses) draws a grid of character cells:

- `.terminal-rN { fill: #rrggbb; font-weight: bold }` style classes in `<style>`,
- one `<rect fill=... x y width height shape-rendering="crispEdges">` per
  background run,
- one `<text class="terminal-rN" x y textLength clip-path="url(#terminal-line-ROW)">`
  per run of text that is not only spaces.

`parse_screen` turns such an SVG back into rows of cells (character,
foreground colour, bold/italic/underline/strike, background colour) and
`describe_difference` compares two of them:

    row 5: text was 'Play' now 'Pause'
    row 7 cols 12-20 'Transport': colour #fea62b bold -> #ffa62b
    rows 3-38 cols 0-19: background #121212 -> #1e1e1e

Cell width and line height are read from the file (textLength / characters,
the spacing of the per-line clip paths), falling back to Rich's defaults
(12.2 px and 24.4 px).
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field

from rich.cells import get_character_cell_size

CELL_WIDTH = 12.2
LINE_HEIGHT = 24.4

_STYLE_RULE = re.compile(r"\.([A-Za-z0-9_-]+)\s*\{([^}]*)\}")
_LINE_REF = re.compile(r"line-(\d+)\)?\s*$")
_LINE_ID = re.compile(r"line-(\d+)$")
_PX = re.compile(r"([0-9.]+)\s*px")


@dataclass(frozen=True)
class Ink:
    """How a character is drawn: its colour and font flags."""

    colour: str | None = None
    bold: bool = False
    flags: tuple[str, ...] = ()  # "italic", "underline", "strike"

    def __str__(self) -> str:
        words = [self.colour or "default"]
        if self.bold:
            words.append("bold")
        words.extend(self.flags)
        return " ".join(words)


@dataclass(frozen=True)
class Cell:
    char: str = " "  # "" for the right half of a double-width character
    ink: Ink | None = None  # None where no text run covers the cell
    background: str | None = None


@dataclass
class Screen:
    width: int
    height: int
    rows: list[list[Cell]] = field(default_factory=list)

    def text(self, row: int) -> str:
        return "".join(cell.char for cell in self.rows[row])


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _float(value: str | None, default: float = 0.0) -> float:
    if value is None:
        return default
    try:
        return float(value)
    except ValueError:
        match = _PX.search(value)
        return float(match.group(1)) if match else default


def _parse_ink(css: str) -> Ink:
    colour = None
    bold = False
    flags: list[str] = []
    for declaration in css.split(";"):
        if ":" not in declaration:
            continue
        name, value = (part.strip().lower() for part in declaration.split(":", 1))
        if name == "fill":
            colour = value
        elif name == "font-weight":
            bold = value == "bold" or (value.isdigit() and int(value) >= 600)
        elif name == "font-style" and value in ("italic", "oblique"):
            flags.append("italic")
        elif name == "text-decoration":
            if "underline" in value:
                flags.append("underline")
            if "line-through" in value:
                flags.append("strike")
    return Ink(colour, bold, tuple(sorted(set(flags))))


def _is_cell_text(node: ET.Element, inks: dict[str, Ink]) -> bool:
    """A run of terminal text (not the window title)."""
    css_class = node.get("class", "")
    if css_class.endswith("-title"):
        return False
    return bool(_LINE_REF.search(node.get("clip-path", ""))) or css_class in inks


def parse_screen(svg: str) -> Screen:
    """Read the character grid out of a terminal SVG screenshot."""
    root = ET.fromstring(svg)
    parent: dict[ET.Element, ET.Element] = {child: node for node in root.iter() for child in node}

    def inside(element: ET.Element, *tags: str) -> bool:
        node = parent.get(element)
        while node is not None:
            if _local(node.tag) in tags:
                return True
            node = parent.get(node)
        return False

    css = "".join(node.text or "" for node in root.iter() if _local(node.tag) == "style")
    inks: dict[str, Ink] = {}
    css_line_height = None
    for name, body in _STYLE_RULE.findall(css):
        inks[name] = _parse_ink(body)
        if name.endswith("-matrix"):
            match = re.search(r"line-height\s*:\s*([0-9.]+)", body)
            if match:
                css_line_height = float(match.group(1))

    texts: list[ET.Element] = []
    backgrounds: list[ET.Element] = []
    line_tops: dict[int, float] = {}
    clip_size: tuple[float, float] | None = None
    default_background = None
    for node in root.iter():
        tag = _local(node.tag)
        if tag == "clipPath":
            rects = [child for child in node if _local(child.tag) == "rect"]
            ident = node.get("id", "")
            match = _LINE_ID.search(ident)
            if match and rects:
                line_tops[int(match.group(1))] = _float(rects[0].get("y"))
            elif ident.endswith("clip-terminal") and rects:
                clip_size = (_float(rects[0].get("width")), _float(rects[0].get("height")))
        elif tag == "rect" and not inside(node, "clipPath", "defs"):
            if node.get("stroke") or node.get("rx"):
                default_background = default_background or node.get("fill")  # the window chrome
            elif node.get("fill"):
                backgrounds.append(node)
        elif tag == "text" and _is_cell_text(node, inks):
            texts.append(node)

    # Geometry: cell width from textLength / characters, line height from the line clip paths.
    widths = Counter()
    for node in texts:
        content = node.text or ""
        if content and node.get("textLength"):
            widths[round(_float(node.get("textLength")) / len(content), 3)] += 1
    cell_width = widths.most_common(1)[0][0] if widths else CELL_WIDTH
    if len(line_tops) >= 2:
        first, last = min(line_tops), max(line_tops)
        line_height = (line_tops[last] - line_tops[first]) / (last - first)
    else:
        line_height = css_line_height or LINE_HEIGHT

    def row_of(node: ET.Element) -> int:
        match = _LINE_REF.search(node.get("clip-path", ""))
        if match:
            return int(match.group(1))
        return math.floor(_float(node.get("y")) / line_height + 1e-6)

    def col_of(x: float) -> int:
        return round(x / cell_width)

    placed_text = []
    for node in texts:
        chars = [" " if ch == "\xa0" else ch for ch in (node.text or "") if ch not in "\r\n"]
        if chars:
            placed_text.append((row_of(node), col_of(_float(node.get("x"))), chars, inks.get(node.get("class", ""))))
    placed_rects = []
    for node in backgrounds:
        start = col_of(_float(node.get("x")))
        placed_rects.append(
            (row_of(node), start, start + round(_float(node.get("width")) / cell_width), node.get("fill"))
        )

    if clip_size is not None:
        width = round((clip_size[0] + 1) / cell_width)
        height = round((clip_size[1] + 1) / line_height)
    else:
        width = max(
            [c + sum(map(get_character_cell_size, t)) for _, c, t, _ in placed_text]
            + [e for *_, e, _ in placed_rects]
            + [0]
        )
        height = max([r + 1 for r, *_ in placed_text] + [r + 1 for r, *_ in placed_rects] + [0])

    chars = [[" "] * width for _ in range(height)]
    ink: list[list[Ink | None]] = [[None] * width for _ in range(height)]
    paper = [[default_background] * width for _ in range(height)]
    for row, start, end, fill in placed_rects:
        if 0 <= row < height:
            for col in range(max(start, 0), min(end, width)):
                paper[row][col] = fill
    for row, col, content, style in placed_text:
        if not 0 <= row < height:
            continue
        for ch in content:
            size = max(get_character_cell_size(ch), 1)
            for offset in range(size):
                if 0 <= col + offset < width:
                    chars[row][col + offset] = ch if offset == 0 else ""
                    ink[row][col + offset] = style
            col += size
    rows = [[Cell(chars[r][c], ink[r][c], paper[r][c]) for c in range(width)] for r in range(height)]
    return Screen(width, height, rows)


@dataclass
class _Item:
    row: int
    last_row: int
    first_col: int
    last_col: int
    kind: str  # "text", "colour", "background"
    old: str
    new: str
    label: str = ""

    def __str__(self) -> str:
        rows = f"row {self.row}" if self.row == self.last_row else f"rows {self.row}-{self.last_row}"
        if self.kind == "text":
            where = rows if self.first_col < 0 else f"{rows} cols {self.first_col}-{self.last_col}"
            drawn = f" ({self.label})" if self.label else ""
            return f"{where}: text was {self.old!r} now {self.new!r}{drawn}"
        cols = f"col {self.first_col}" if self.first_col == self.last_col else f"cols {self.first_col}-{self.last_col}"
        label = f" {self.label!r}" if self.label else ""
        return f"{rows} {cols}{label}: {self.kind} {self.old} -> {self.new}"


_WHOLE_ROW = 60  # rows up to this long (trailing spaces dropped) are quoted whole
_CONTEXT = 12  # at most this many characters of the words around a change are quoted with it


def _text_item(row: int, old: str, new: str) -> tuple[_Item, int, int]:
    """The text change in one row, and the first and last column that differ."""
    size = max(len(old), len(new))
    old, new = old.ljust(size), new.ljust(size)
    first = next(i for i in range(size) if old[i] != new[i])
    last = next(i for i in reversed(range(size)) if old[i] != new[i])
    old_r, new_r = old.rstrip(), new.rstrip()
    if max(len(old_r), len(new_r)) <= _WHOLE_ROW:
        return _Item(row, row, -1, -1, "text", old_r, new_r), first, last

    def inked(col: int) -> bool:
        return bool(old[col].strip() or new[col].strip())

    lo, hi = first, last  # widen to the words the change is part of
    while lo > 0 and first - lo < _CONTEXT and inked(lo - 1):
        lo -= 1
    while hi < size - 1 and hi - last < _CONTEXT and inked(hi + 1):
        hi += 1
    return _Item(row, row, lo, hi, "text", old[lo : hi + 1], new[lo : hi + 1]), first, last


def _grouped(changes: list[tuple[int, tuple[str, str] | None]]) -> list[tuple[int, int, tuple[str, str]]]:
    """Runs of equal changes over consecutive entries (entries may skip columns, e.g. spaces)."""
    runs: list[tuple[int, int, tuple[str, str]]] = []
    previous = None
    for col, change in changes:
        if change is not None:
            if runs and previous == change:
                runs[-1] = (runs[-1][0], col, change)
            else:
                runs.append((col, col, change))
        previous = change
    return runs


def _ink_change(old: list[Cell], new: list[Cell]) -> str:
    """'colour X' (or 'colour X -> Y') for the glyphs of a changed stretch of text, when each side has one ink."""

    def one_ink(cells: list[Cell]) -> Ink | None:
        inks = {cell.ink or Ink() for cell in cells if cell.char.strip()}
        return inks.pop() if len(inks) == 1 else None

    was, now = one_ink(old), one_ink(new)
    if now is None:
        return ""
    if was is None or was == now:
        return f"colour {now}"
    return f"colour {was} -> {now}"


def _row_items(row: int, old: list[Cell], new: list[Cell]) -> list[_Item]:
    items: list[_Item] = []
    width = max(len(old), len(new))  # screens of other widths: the missing cells read as spaces
    old_text = "".join(c.char for c in old).ljust(width)
    new_text = "".join(c.char for c in new).ljust(width)
    skip = range(0)
    if old_text != new_text:
        item, first, last = _text_item(row, old_text, new_text)
        item.label = _ink_change(old[first : last + 1], new[first : last + 1])
        items.append(item)
        skip = range(first, last + 1)  # the colour of text that changed is not compared (its background is)
    common = min(len(old), len(new))

    inks = []
    for col in range(common):
        a, b = old[col], new[col]
        if col in skip or not a.char.strip() or not b.char.strip():
            continue  # the colour of a space does not show
        inks.append((col, (str(a.ink or Ink()), str(b.ink or Ink())) if (a.ink or Ink()) != (b.ink or Ink()) else None))
    for first, last, (was, now) in _grouped(inks):
        label = old_text[first : last + 1].strip()
        items.append(_Item(row, row, first, last, "colour", was, now, label))

    papers = []
    for col in range(common):
        a, b = old[col].background, new[col].background
        change = None if a == b else (a or "default", b or "default")
        papers.append((col, change))
    for first, last, (was, now) in _grouped(papers):
        items.append(_Item(row, row, first, last, "background", was, now))
    return items


def _merge_rows(items: list[_Item]) -> list[_Item]:
    """Join the same colour/background change on the same columns of consecutive rows."""
    open_items: dict[tuple, _Item] = {}
    merged: list[_Item] = []
    for item in items:
        if item.kind == "text":
            merged.append(item)
            continue
        key = (item.kind, item.first_col, item.last_col, item.old, item.new)
        previous = open_items.get(key)
        if previous is not None and previous.last_row == item.row - 1:
            previous.last_row = item.row
            if previous.label != item.label:
                previous.label = ""
        else:
            open_items[key] = item
            merged.append(item)
    return merged


def differences(expected: Screen, actual: Screen) -> list[str]:
    """Every difference between two screens, one line each, top to bottom."""
    lines = []
    if (expected.width, expected.height) != (actual.width, actual.height):
        lines.append(f"size was {expected.width}x{expected.height} now {actual.width}x{actual.height}")
    items: list[_Item] = []
    for row in range(max(expected.height, actual.height)):
        if row >= expected.height:
            items.append(_Item(row, row, -1, -1, "text", "(no row)", actual.text(row).rstrip()))
        elif row >= actual.height:
            items.append(_Item(row, row, -1, -1, "text", expected.text(row).rstrip(), "(no row)"))
        else:
            items.extend(_row_items(row, expected.rows[row], actual.rows[row]))
    lines.extend(str(item) for item in _merge_rows(items))
    return lines


def describe_difference(expected_svg: str, actual_svg: str, max_items: int = 20) -> str:
    """What changed from `expected_svg` to `actual_svg`, in words; '' if they render the same."""
    lines = differences(parse_screen(expected_svg), parse_screen(actual_svg))
    if len(lines) > max_items:
        rest = len(lines) - max_items
        lines = lines[:max_items] + [f"... and {rest} more difference{'s' if rest != 1 else ''}"]
    return "\n".join(lines)
