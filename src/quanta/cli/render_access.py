"""How access requests and grants look."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from rich.table import Table
from rich.text import Text

from quanta.cli.output import console, print_json, shown
from quanta.model.access import AccessRequest, RequestState

_STATE_STYLES = {
    RequestState.PENDING: "yellow",
    RequestState.APPROVED: "green",
    RequestState.DENIED: "red",
    RequestState.REVOKED: "red",
    RequestState.EXPIRED: "dim",
}


def _day(moment: datetime | None) -> str:
    return "" if moment is None else f"{moment:%Y-%m-%d}"


def request_table(items: Sequence[AccessRequest], as_json: bool, *, empty: str) -> None:
    if as_json:
        print_json(list(items))
        return
    if not items:
        console.print(empty)
        return
    table = Table("id", "product", "consumer", "state", "purpose", "columns", "until", "decided by")
    for item in items:
        table.add_row(
            str(item.id),
            item.target,
            shown(f"{item.consumer} ({item.consumer_kind.value})"),
            Text(item.state.value, style=_STATE_STYLES[item.state]),
            shown(item.purpose + (f"\nPII in clear: {item.pii_reason}" if item.pii_reason else "")),
            shown(", ".join(item.columns) if item.columns else "all")
            + Text(" (PII in clear)" if item.clear_pii else ""),
            _day(item.expires_at),
            shown(item.decided_by or ""),
        )
    console.print(table)


def requested(item: AccessRequest, as_json: bool) -> None:
    if as_json:
        print_json(item)
        return
    if item.state == RequestState.APPROVED:
        console.print(
            Text.assemble(
                ("Granted", "green"),
                shown(
                    f": request {item.id}, {item.consumer} may read {item.target} until "
                    f"{_day(item.expires_at)} ({item.decided_by})."
                ),
            )
        )
        return
    asked = " (PII in clear)" if item.pii_reason else ""
    console.print(
        shown(
            f"Request {item.id} for {item.target}{asked} waits for its owners: they see it "
            "in quanta access inbox."
        )
    )


def decided(item: AccessRequest, as_json: bool) -> None:
    if as_json:
        print_json(item)
        return
    if item.state == RequestState.APPROVED:
        said = f"{item.consumer} may read {item.target} until {_day(item.expires_at)}"
        if item.clear_pii:
            said += ", PII in clear"
        elif item.pii_reason:
            said += ", PII protected (approve with --pii for PII in clear)"
    elif item.state == RequestState.DENIED:
        said = f"{item.consumer} may not read {item.target}"
    else:
        said = f"{item.consumer} no longer reads {item.target} through it"
    console.print(
        Text.assemble(
            (f"Request {item.id} {item.state.value}", _STATE_STYLES[item.state]),
            shown(f": {said}."),
        )
    )
