"""Reference pages generated from the code: the CLI from its help, settings from their model.

``python -m quanta.reference`` rewrites ``docs/cli.md`` and ``docs/settings.md``; a test
fails when either differs from what the code says.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from quanta.cli import app
from quanta.settings import Settings

WIDTH = 96


def cli_reference() -> str:
    # Typer brings its own copy of click: use the contexts its commands make.
    root: Any = typer.main.get_command(app)
    width = {"terminal_width": WIDTH, "max_content_width": WIDTH}
    context = root.context_class(root, info_name="quanta", **width)
    parts = [
        "# Command reference\n",
        "Generated from `quanta --help` by `python -m quanta.reference`; do not edit.\n",
        f"```text\n{root.get_help(context)}\n```\n",
    ]
    for name, command in root.commands.items():
        sub = command.context_class(command, info_name=name, parent=context, **width)
        parts.append(f"## quanta {name}\n\n```text\n{command.get_help(sub)}\n```\n")
        # A group (quanta contract, access, governance): each of its commands too.
        for inner_name, inner in getattr(command, "commands", {}).items():
            inner_context = inner.context_class(inner, info_name=inner_name, parent=sub, **width)
            parts.append(
                f"### quanta {name} {inner_name}\n\n```text\n{inner.get_help(inner_context)}\n```\n"
            )
    return "\n".join(parts)


def settings_reference() -> str:
    lines = [
        "# Settings\n",
        "Generated from `quanta.settings.Settings` by `python -m quanta.reference`; do not edit.",
        "Each setting is read from the environment variable named here, else from the",
        "settings file (`QUANTA_CONFIG`, by default `~/.config/quanta/settings.toml`), which",
        'names it in lowercase without `QUANTA_` (`user = "ana@example.com"`).\n',
        "| variable | default | meaning |",
        "|---|---|---|",
    ]
    for name, field in Settings.model_fields.items():
        default = "" if field.default is None else f"`{field.default}`"
        lines.append(f"| `QUANTA_{name.upper()}` | {default} | {field.description} |")
    return "\n".join(lines) + "\n"


PAGES = {"cli.md": cli_reference, "settings.md": settings_reference}


def write(docs: Path) -> None:
    for name, render in PAGES.items():
        (docs / name).write_text(render(), encoding="utf-8")


if __name__ == "__main__":
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs"))
