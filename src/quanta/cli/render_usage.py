"""How usage looks: ``quanta usage``, by consumer or by day."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text

from quanta.cli.output import console, print_json, shown, size

if TYPE_CHECKING:
    from quanta.model.usage import UsageReport


def usage(report: UsageReport, as_json: bool) -> None:
    if as_json:
        print_json(report)
        return
    what = "every product" if report.product is None else report.product
    console.print(
        Text.assemble(
            ("usage of ", "bold"),
            shown(what, "bold"),
            f" over the last {report.days} days (since {report.since:%Y-%m-%d} UTC)",
        )
    )
    if report.by == "consumer":
        _by_consumer(report)
    else:
        _by_day(report)
    if report.spooled:
        reads = "read is" if report.spooled == 1 else "reads are"
        console.print(
            f"{report.spooled:,} more {reads} waiting to be written (the catalog was busy): "
            "run quanta usage again to count them",
            style="yellow",
        )


def _by_consumer(report: UsageReport) -> None:
    if not report.consumers:
        console.print("  no reads in these days", style="dim")
        return
    every = report.product is None
    table = Table(*(["product"] if every else []))
    table.add_column("consumer", overflow="fold")  # a name cut short would name another
    for header in ("kind", "reads", "rows", "size", "last read (UTC)"):
        table.add_column(header)
    for row in report.consumers:
        table.add_row(
            *([shown(row.product)] if every else []),
            shown(row.consumer),
            row.kind.value,
            f"{row.reads:,}",
            f"{row.rows:,}",
            size(row.bytes),
            f"{row.last_read:%Y-%m-%d %H:%M}",
        )
    console.print(table)


def _by_day(report: UsageReport) -> None:
    if not report.daily:
        console.print("  no reads in these days", style="dim")
        return
    table = Table("day (UTC)", "reads", "consumers", "rows", "size")
    for row in report.daily:
        table.add_row(
            f"{row.day:%Y-%m-%d}",
            f"{row.reads:,}",
            f"{row.consumers:,}",
            f"{row.rows:,}",
            size(row.bytes),
        )
    console.print(table)
