"""``quanta erase`` and ``quanta governance enforce-retention``: privacy operations, and
how their receipts and evidence look in a terminal.

Product ids, ports, reasons and sources are the teams' words: each goes through `shown`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from quanta.cli import HomeOption, JsonOption, _mesh

if TYPE_CHECKING:  # the commands load them when they run: the CLI starts faster
    from rich.console import Console

    from quanta.model.privacy import Erasure, RetentionRun


def erase(
    concept: Annotated[
        str | None, typer.Option(help="The concept of the subject, e.g. customer.")
    ] = None,
    subject_id: Annotated[
        str | None, typer.Option("--id", help="The subject's identifier, e.g. c-0000042.")
    ] = None,
    reason: Annotated[
        str | None,
        typer.Option(help="Why, for the audit log: the request it answers (one line)."),
    ] = None,
    identifier: Annotated[
        str | None,
        typer.Option(help="Which identifier --id is (default: the concept's first)."),
    ] = None,
    status: Annotated[
        str | None, typer.Option(help="Show one erasure and its receipt, by id.")
    ] = None,
    resume: Annotated[
        str | None, typer.Option(help="Finish an erasure a kill or a failed rebuild stopped.")
    ] = None,
    skip: Annotated[
        list[str] | None,
        typer.Option(
            help="With --resume: a product whose rebuild failed, left as it is (repeatable)."
        ),
    ] = None,
    listed: Annotated[
        bool, typer.Option("--list", help="The erasures you may see, oldest first.")
    ] = False,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Erase one data subject from every version of every product (the governance group
    only), rebuild what derived from it, and print the receipt."""
    from quanta.cli.output import console, print_json
    from quanta.errors import UserError

    asked = [name for name, given in (("--status", status), ("--resume", resume)) if given]
    if listed:
        asked.append("--list")
    erasing = concept is not None or subject_id is not None or reason is not None
    with _mesh(home, as_json, create=False) as mesh:
        if skip and resume is None:
            raise UserError("--skip goes with --resume ID: the erasure whose rebuild failed")
        if len(asked) + erasing != 1:
            raise UserError(
                "say one thing: --concept C --id ID --reason R to erase, or --status ID, "
                "--resume ID or --list"
            )
        if listed:
            found = mesh.erasures()
            if as_json:
                print_json([_json(erasure) for erasure in found])
            else:
                render_erasures(console, found)
            return
        if status is not None:
            erasure = mesh.erasure(status)
        elif resume is not None:
            erasure = mesh.resume_erasure(resume, skip=skip or ())
        else:
            if concept is None or subject_id is None or reason is None:
                raise UserError(
                    "an erasure needs --concept, --id and --reason, e.g. quanta erase "
                    '--concept customer --id c-0000042 --reason "GDPR request 4711"'
                )
            erasure = mesh.erase(concept, subject_id, reason, identifier=identifier)
    if as_json:
        print_json(_json(erasure))
        return
    render_erasure(console, erasure)


def enforce_retention(
    product: Annotated[
        str | None, typer.Argument(help="One product (default: every product).")
    ] = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Delete rows older than each product's declared retention from every version still
    readable, and the files that held them (the governance group, or a product's owners
    for their product)."""
    from quanta.cli.output import console, print_json

    with _mesh(home, as_json, create=False) as mesh:
        run = mesh.enforce_retention(product)
    if as_json:
        print_json(run.model_dump(mode="json"))
        return
    render_retention(console, run)


def _json(erasure: Erasure) -> dict[str, object]:
    return erasure.model_dump(mode="json")


def render_erasures(console: Console, erasures: list[Erasure]) -> None:
    from rich.table import Table

    from quanta.cli.output import shown

    if not erasures:
        console.print("No erasures you may see.")
        return
    table = Table("id", "state", "concept", "requested", "by", "products", box=None)
    for erasure in erasures:
        table.add_row(
            shown(erasure.id),
            shown(erasure.state.value),
            shown(f"{erasure.concept}.{erasure.identifier}"),
            shown(erasure.requested_at.strftime("%Y-%m-%d %H:%M")),
            shown(erasure.requested_by),
            shown(", ".join(erasure.products)),
        )
    console.print(table)


def render_erasure(console: Console, erasure: Erasure) -> None:
    from rich.table import Table

    from quanta.cli.output import shown
    from quanta.model.privacy import ErasureState

    receipt = erasure.receipt
    if erasure.state != ErasureState.DONE or receipt is None:
        console.print(
            shown(
                f"Erasure {erasure.id} is {erasure.state.value}, not done: run quanta erase "
                f"--resume {erasure.id} to finish it."
            )
        )
        return
    console.print(
        shown(
            f"Erasure {receipt.id}: {receipt.concept}.{receipt.identifier}, "
            f"{receipt.rows_removed} rows deleted"
        )
    )
    table = Table("product", "version", "port", "rows deleted", "files rewritten", "left", box=None)
    for port in receipt.ports:
        table.add_row(
            shown(port.product),
            shown(port.version),
            shown(port.port),
            shown(port.rows_removed),
            shown(port.files_rewritten),
            shown(port.remaining, "green" if port.remaining == 0 else "bold red"),
        )
    console.print(table)
    for rebuilt in receipt.rebuilt:
        if rebuilt.outcome == "skipped":
            console.print(
                shown(f"  not rebuilt {rebuilt.product}: {rebuilt.reason}"), style="yellow"
            )
            continue
        version = f" as version {rebuilt.version}" if rebuilt.version else ""
        console.print(shown(f"  rebuilt {rebuilt.product}{version}: {rebuilt.outcome}"))
    if receipt.dropped:
        console.print(
            shown(f"  dropped tables no version served (dev builds): {', '.join(receipt.dropped)}")
        )
    files = sum(swept.files for swept in receipt.swept)
    console.print(
        shown(
            f"  {files} old files removed from {len(receipt.swept)} tables; "
            f"{receipt.scrubbed_samples} sample rows dropped from the catalog"
        )
    )
    if receipt.sources:
        console.print(
            shown("  source files the products read, which Quanta does not change:"),
            style="yellow",
        )
        for source in receipt.sources:
            console.print(shown(f"    {source.product}: {source.source}"), style="yellow")
    console.print(shown(f"  subject {receipt.subject[:16]}…  reason: {receipt.reason}"))
    console.print(
        shown(
            f"  requested {receipt.requested_at.isoformat(timespec='seconds')} by "
            f"{receipt.requested_by}, done {receipt.finished_at.isoformat(timespec='seconds')}"
        )
    )
    console.print(shown(f"  receipt hash {receipt.hash}"))


def render_retention(console: Console, run: RetentionRun) -> None:
    from rich.table import Table

    from quanta.cli.output import shown

    console.print(shown(f"Retention run {run.id}: {run.rows_removed} rows deleted"))
    if run.ports:
        table = Table(
            "product", "version", "port", "retention", "by", "rows deleted", "left", box=None
        )
        for port in run.ports:
            table.add_row(
                shown(port.product),
                shown(port.version),
                shown(port.port),
                shown(port.limit),
                shown(port.column),
                shown(port.rows_removed),
                shown(port.remaining, "green" if port.remaining == 0 else "bold red"),
            )
        console.print(table)
    for skipped in run.skipped:
        console.print(shown(f"  {skipped.product}.{skipped.port}: {skipped.reason}"), style="dim")
