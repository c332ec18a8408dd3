"""``quanta webhooks``: subscribe a URL to the event log, deliver, and see what was delivered."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.table import Table

from quanta.cli import HomeOption, JsonOption, _mesh
from quanta.cli.output import console, print_json, shown

webhooks_app = typer.Typer(
    help=(
        "Have the mesh's events POSTed to a URL, signed (HMAC-SHA256), at least once, "
        "retried with back-off. Run quanta webhooks deliver (--follow) to send them."
    ),
    no_args_is_help=True,
)


@webhooks_app.command()
def add(
    url: Annotated[str, typer.Argument(help="The receiver: http(s)://host/path")],
    product: Annotated[
        str | None, typer.Option(help="Only this product's events (its owners, consumers).")
    ] = None,
    domain: Annotated[str | None, typer.Option(help="A whole domain (governance).")] = None,
    kind: Annotated[
        list[str] | None, typer.Option(help="Only events of this kind; repeatable.")
    ] = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Subscribe a URL; prints its signing secret, this once."""
    with _mesh(home, as_json, create=False) as mesh:
        webhook, secret = mesh.add_webhook(url, product=product, domain=domain, kinds=kind)
    if as_json:
        print_json({**webhook.model_dump(mode="json"), "secret": secret})
        return
    console.print(shown(f"webhook {webhook.id}: {webhook.url}", "bold"))
    console.print(shown(f"secret (shown once; verify X-Quanta-Signature with it): {secret}"))


@webhooks_app.command("list")
def list_webhooks(home: HomeOption = None, as_json: JsonOption = False) -> None:
    """The subscriptions."""
    with _mesh(home, as_json, create=False) as mesh:
        found = mesh.webhooks()
    if as_json:
        print_json([webhook.model_dump(mode="json") for webhook in found])
        return
    table = Table("id", "url", "events of", "kinds", "by")
    for webhook in found:
        scope = webhook.product or (
            f"domain {webhook.domain}" if webhook.domain else "every product"
        )
        table.add_row(
            str(webhook.id),
            webhook.url,
            scope,
            ", ".join(webhook.kinds) or "all",
            webhook.created_by,
        )
    console.print(table)


@webhooks_app.command()
def remove(
    webhook: Annotated[int, typer.Argument(help="The webhook's number (quanta webhooks list).")],
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Stop a subscription; its undelivered events are dropped."""
    with _mesh(home, as_json, create=False) as mesh:
        mesh.remove_webhook(webhook)
    if as_json:
        print_json({"removed": webhook})
    else:
        console.print(f"removed webhook {webhook}")


@webhooks_app.command()
def deliver(
    follow: Annotated[
        bool, typer.Option("--follow", help="Keep delivering, every few seconds.")
    ] = False,
    every: Annotated[float, typer.Option(min=0.5, help="Seconds between rounds.")] = 5.0,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Send every event due to its subscribers (retrying those that failed before)."""
    with _mesh(home, as_json, create=False) as mesh:
        while True:
            done = mesh.deliver_webhooks()
            if as_json:
                print_json(done.__dict__)
            elif done.queued or done.delivered or done.failed or not follow:
                held = f", withheld {done.withheld}" if done.withheld else ""
                console.print(
                    f"queued {done.queued}, delivered {done.delivered}, failed {done.failed} "
                    f"(given up {done.given_up}){held}"
                )
            if not follow:
                return
            time.sleep(every)


@webhooks_app.command()
def log(
    webhook: Annotated[int | None, typer.Argument(help="Only this webhook's.")] = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """The delivery log, newest first: each event's tries and how the last one went."""
    with _mesh(home, as_json, create=False) as mesh:
        found = mesh.webhook_deliveries(webhook)
    if as_json:
        print_json([delivery.model_dump(mode="json") for delivery in found])
        return
    table = Table("delivery", "webhook", "event", "state", "tries", "last error", "next try")
    for delivery in found:
        table.add_row(
            str(delivery.id),
            str(delivery.webhook),
            str(delivery.event),
            delivery.state.value,
            str(delivery.attempts),
            delivery.last_error or "",
            delivery.next_at.strftime("%Y-%m-%d %H:%M:%S")
            if delivery.state.value == "pending"
            else "",
        )
    console.print(table)
