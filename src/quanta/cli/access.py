"""``quanta access``: ask for, decide, revoke and list access to products."""

from __future__ import annotations

from typing import Annotated

import typer

from quanta.cli import HomeOption, JsonOption, _mesh

access_app = typer.Typer(
    help=(
        "Ask the owners of a product for access, and decide as an owner. Quanta acts as "
        "QUANTA_USER (default: your login name)."
    ),
    no_args_is_help=True,
)

RequestId = Annotated[int, typer.Argument(help="The request's number (quanta access list).")]
NoteOption = Annotated[str | None, typer.Option("--note", help="Why, for the record.")]


@access_app.command()
def request(
    target: Annotated[str, typer.Argument(help="domain.product or domain.product.port")],
    purpose: Annotated[str, typer.Option("--purpose", help="What the data is for.")],
    days: Annotated[int, typer.Option(help="How long the grant lasts.")] = 90,
    columns: Annotated[
        list[str] | None,
        typer.Option("--columns", help="Only these columns (of one port); repeatable."),
    ] = None,
    for_product: Annotated[
        str | None,
        typer.Option("--for", help="A product of yours that reads it (domain.product)."),
    ] = None,
    pii: Annotated[
        str | None,
        typer.Option(
            "--pii",
            metavar="REASON",
            help="Also ask to read PII in clear, and why (else PII reads protected).",
        ),
    ] = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Ask the owning team for access to a product, for you or for a product you build."""
    from quanta.cli import render_access

    named = [name.strip() for item in columns or [] for name in item.split(",") if name.strip()]
    with _mesh(home, as_json, create=False) as mesh:
        asked = mesh.request_access(
            target,
            purpose,
            days=days,
            columns=named or None,
            for_product=for_product,
            pii_reason=pii,
        )
    render_access.requested(asked, as_json)


@access_app.command()
def inbox(home: HomeOption = None, as_json: JsonOption = False) -> None:
    """The requests waiting for a decision of yours."""
    from quanta.cli import render_access

    with _mesh(home, as_json, create=False) as mesh:
        waiting = mesh.access_inbox()
        render_access.request_table(waiting, as_json, empty="No request waits for you.")


@access_app.command()
def approve(
    request_id: RequestId,
    note: NoteOption = None,
    pii: Annotated[
        bool,
        typer.Option("--pii", help="Also approve the PII in clear the request asked for."),
    ] = False,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Approve a request to one of your team's products: it becomes a grant."""
    from quanta.cli import render_access

    with _mesh(home, as_json, create=False) as mesh:
        decided = mesh.approve_access(request_id, note, clear_pii=pii)
    render_access.decided(decided, as_json)


@access_app.command()
def deny(
    request_id: RequestId,
    note: NoteOption = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Deny a request to one of your team's products."""
    _decide("deny", request_id, note, home, as_json)


@access_app.command()
def revoke(
    request_id: RequestId,
    note: NoteOption = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """End a grant now (its owners, or the consumer giving it up)."""
    _decide("revoke", request_id, note, home, as_json)


def _decide(verb: str, request_id: int, note: str | None, home: HomeOption, as_json: bool) -> None:
    from quanta.cli import render_access

    with _mesh(home, as_json, create=False) as mesh:
        decide = {
            "deny": mesh.deny_access,
            "revoke": mesh.revoke_access,
        }[verb]
        decided = decide(request_id, note)
    render_access.decided(decided, as_json)


@access_app.command("list")
def list_access(
    product: Annotated[str | None, typer.Argument(help="A product (domain.product).")] = None,
    consumer: Annotated[
        str | None, typer.Option("--consumer", help="A user or product that reads.")
    ] = None,
    every: Annotated[
        bool, typer.Option("--all", help="Also denied, revoked and expired requests.")
    ] = False,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Who may read what, and why: grants and waiting requests, per product or consumer."""
    from quanta.cli import render_access
    from quanta.model.access import RequestState

    states = None if every else [RequestState.PENDING, RequestState.APPROVED]
    with _mesh(home, as_json, create=False) as mesh:
        found = mesh.access_requests(product=product, consumer=consumer, states=states)
        render_access.request_table(found, as_json, empty="No grant or request matches.")
