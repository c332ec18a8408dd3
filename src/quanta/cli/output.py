"""Where results go: consoles for people, JSON on stdout for programs.

Descriptions, owners, column names, data values, paths and messages are not Quanta's own:
they must show as the characters they hold, never restyle the output, crash it with bad
markup or drive the terminal. So the consoles here interpret no markup, emoji codes or
highlighting in any string, whatever a caller asks; Quanta styles its own words with
`Text` and ``style=``; and every control character is shown as an escape (`visible`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rich.console import Console, ConsoleOptions, RenderableType
from rich.segment import Segment
from rich.style import StyleType
from rich.text import Text

from quanta.cli.json_output import print_json as print_json
from quanta.model.result import Outcome

# C0 and C1 controls but newline and tab (layout, not commands), DEL, and the Unicode
# marks that reorder or break lines. Rich drops BEL, BS, VT, FF and CR silently and
# passes the rest (ESC among them) to the terminal. Lone surrogates (undecodable bytes of
# a file name) cannot be written at all.
_CONTROL_CODES = [*range(0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0), 0x200E, 0x200F]
_CONTROL_CODES += [0x061C, 0xFEFF]  # the Arabic letter mark, and the zero-width no-break
_CONTROL_CODES += [0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_CONTROL_CODES += range(0xD800, 0xE000)
_CONTROLS = {
    code: f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" for code in _CONTROL_CODES
}


def visible(text: str) -> str:
    """``text`` with each control character written as an escape (``\\x1b``): shown, not obeyed."""
    return text.translate(_CONTROLS)


def shown(value: object, style: StyleType = "") -> Text:
    """A value that is not Quanta's own (None shows as nothing), as text to display."""
    text = Text("" if value is None else visible(str(value)))
    if style:  # on the characters, as markup did: a table cell's padding stays plain
        text.stylize(style)
    return text


class PlainConsole(Console):
    """A console on which no string is markup and no character reaches the terminal raw.

    Strings (printed, table cells and headers, tree labels) become `Text` in `render_str`,
    measured and laid out after their control characters are made visible. `render`
    checks every segment once more, for `Text` someone built from a raw value; Rich's
    own control codes (cursor moves of a live status) travel apart, as control segments.
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(markup=False, emoji=False, highlight=False, **options)

    def render_str(self, text: str, **options: Any) -> Text:
        options.update(markup=False, emoji=False, highlight=False)
        return super().render_str(visible(text), **options)

    def render(
        self, renderable: RenderableType, options: ConsoleOptions | None = None
    ) -> Iterator[Segment]:
        for segment in super().render(renderable, options):
            if segment.control is None:
                text = visible(segment.text)
                if text != segment.text:
                    segment = Segment(text, segment.style)
            yield segment


console = PlainConsole()
errors = PlainConsole(stderr=True)

STYLE = {
    Outcome.PASSED: "green",
    Outcome.WARNED: "yellow",
    Outcome.FAILED: "red",
    Outcome.ERROR: "red",
    Outcome.SKIPPED: "dim",
}


def outcome(value: Outcome) -> Text:
    return shown(value.value, STYLE[value])


def size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"


def cell(value: Any) -> str:
    return "" if value is None else str(value)
