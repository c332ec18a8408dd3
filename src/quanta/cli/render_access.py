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
            shown(item.purpose),
            shown(", ".join(item.columns) if item.columns else "all"),
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
    console.print(
        shown(
            f"Request {item.id} for {item.target} waits for its owners: they see it in "
            "quanta access inbox."
        )
    )


def decided(item: AccessRequest, as_json: bool) -> None:
    if as_json:
        print_json(item)
        return
    if item.state == RequestState.APPROVED:
        said = f"{item.consumer} may read {item.target} until {_day(item.expires_at)}"
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
