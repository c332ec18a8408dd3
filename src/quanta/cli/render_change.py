"""What a change would do, for people and for programs: `quanta impact`."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from quanta.cli.output import console, print_json, shown
from quanta.lifecycle.impact import Impact
from quanta.model.events import EventRecord
from quanta.model.lifecycle import LifecycleEntry


def as_document(found: Impact) -> dict[str, Any]:
    return {
        "product": found.product,
        "blocked": bool(found.broken),
        "ports": [
            {
                "port": port.port,
                "major": port.major,
                "served": port.served,
                "beside": port.beside,
                "changes": [
                    {"kind": c.kind.value, "what": c.what, "where": c.where, "why": c.why}
                    for c in port.changes
                ],
                "broken": [
                    {
                        "product": broken.consumer.product,
                        "port": broken.consumer.port,
                        "team": broken.consumer.owner,
                        "owners": list(broken.consumer.owners),
                        "columns": broken.consumer.columns,
                        "changes": [change.what for change in broken.changes],
                    }
                    for broken in port.broken
                ],
            }
            for port in found.ports
        ],
    }


def impact(found: list[Impact], as_json: bool) -> None:
    if as_json:
        print_json([as_document(one) for one in found])
        return
    for one in found:
        console.print(shown(one.product, "bold"))
        if not one.ports:
            console.print("  nothing served yet: no consumer relies on it")
        for port in one.ports:
            if port.served is None:
                beside = ", ".join(str(major) for major in port.beside)
                also = f", beside major {beside} (still served)" if beside else ""
                console.print(
                    Text.assemble("  ", shown(port.port), f": major {port.major} is new{also}")
                )
                continue
            if not port.changes:
                console.print(Text.assemble("  ", shown(port.port), ": no change"))
                continue
            console.print(Text.assemble("  ", shown(port.port), f": against version {port.served}"))
            for change in port.changes:
                style = {"breaking": "red", "additive": "green"}.get(change.kind.value, "dim")
                console.print(
                    Text.assemble(
                        "    ",
                        (f"{change.kind.value:9}", style),
                        shown(f" {change.what}: "),
                        shown(change.why, "dim"),
                    )
                )
            for broken in port.broken:
                consumer = broken.consumer
                what = "; ".join(change.what for change in broken.changes)
                console.print(
                    Text.assemble(
                        "    ",
                        ("breaks", "bold red"),
                        shown(f" {consumer.product} ({consumer.said_owner}; its input port "),
                        shown(f"{consumer.port}): {what}"),
                    )
                )
        if one.broken:
            majors = sorted({port.major + 1 for port in one.ports if port.broken})
            console.print(
                shown(
                    "  publishing it is blocked: publish it as a new major version ("
                    + ", ".join(f"{major}.0.0" for major in majors)
                    + ") served beside the old one, or agree it with the consumers' owners",
                    "yellow",
                )
            )


def lifecycle_entry(entry: LifecycleEntry, as_json: bool) -> None:
    if as_json:
        print_json(entry.model_dump(mode="json"))
        return
    console.print(shown(entry.said(), "bold"))


def events(found: list[EventRecord], as_json: bool, *, lines: bool = False) -> None:
    """The events, as a JSON list (one JSON object a line with ``lines``), or one line each."""
    if as_json:
        if lines:
            import json

            for event in found:
                console.file.write(json.dumps(event.model_dump(mode="json")) + "\n")
            console.file.flush()
        else:
            print_json([event.model_dump(mode="json") for event in found])
        return
    for event in found:
        details = ", ".join(
            f"{key} {value}" for key, value in event.payload.items() if key != "actor"
        )
        actor = event.payload.get("actor")
        by = f" by {actor['name']}" if isinstance(actor, dict) and actor.get("name") else ""
        console.print(
            Text.assemble(
                (f"{event.id:>6} ", "dim"),
                (event.at.strftime("%Y-%m-%d %H:%M:%S "), "dim"),
                (f"{event.kind} ", "bold"),
                shown(event.subject),
                shown(by),
                shown(f": {details}" if details else "", "dim"),
            )
        )
