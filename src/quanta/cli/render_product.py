"""How one product looks, with its lineage: `quanta show` and `quanta lineage`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from quanta.cli.output import console, outcome, print_json, shown, size
from quanta.cli.places import placed_record, placed_version
from quanta.model.result import Outcome

if TYPE_CHECKING:
    from quanta.mesh import Lineage, ProductView


# Each port's list of data files: storage internals, as many lines as there are files.
_NO_FILES: dict[str, Any] = {"ports": {"__all__": {"files"}}}


def product_view(view: ProductView, as_json: bool, *, home: Path) -> None:
    record, current = placed_record(view.record, home), placed_version(view.current, home)
    if as_json:
        versions = [placed_version(version, home) for version in view.versions]
        placed = view.model_copy(
            update={"record": record, "current": current, "versions": versions}
        )
        exclude: dict[str, Any] = {"current": _NO_FILES, "versions": {"__all__": _NO_FILES}}
        print_json(placed.model_dump(mode="json", exclude=exclude))
        return
    console.print(
        Text.assemble(
            shown(record.id, "bold"),
            shown(f" {record.title or ''}  version {current.version}, {record.status}"),
        )
    )
    if record.description:
        console.print(record.description)
    console.print(f"owner: {record.owner} ({record.contact})   domain: {record.domain}")
    console.print(f"folder: {record.folder}")
    console.print(
        f"last build: {current.published_at:%Y-%m-%d %H:%M:%S} UTC, "
        f"{current.rows:,} rows, {size(current.bytes)}, {current.seconds:.2f}s"
    )
    for port in current.ports:
        console.print(
            Text.assemble(
                "\n",
                shown(f"output port {port.port}", "bold"),
                shown(
                    f" (contract {port.contract_version}, table {port.table}): "
                    f"{port.description or ''}"
                ),
            )
        )
        table = Table("column", "type", "null", "key", "classification", "description")
        for column in port.columns:
            table.add_row(
                column.name,
                column.type,
                "yes" if column.nullable else "no",
                "pk" if column.primary_key else "",
                column.classification or "",
                column.description or "",
            )
        console.print(table)
    console.print(Text.assemble("\n", ("reads", "bold")))
    for use in current.inputs:
        what = (
            f"{use.upstream}.{use.upstream_port} version {use.upstream_version}"
            if use.upstream
            else f"file {use.source}"
        )
        console.print(f"  {use.port}: {what}")
    console.print("read by", style="bold")
    for edge in view.downstream or []:
        console.print(f"  {edge.product} (port {edge.port})")
    if not view.downstream:
        console.print(Text.assemble("  ", ("no product yet", "dim")))
    console.print("consumers", style="bold")
    for consumer in view.consumers:
        reads = "read" if consumer.reads == 1 else "reads"
        console.print(
            Text.assemble(
                "  ",
                shown(consumer.consumer),
                shown(f" ({consumer.kind.value}): {consumer.reads:,} {reads}, last "),
                f"{consumer.last_read:%Y-%m-%d %H:%M} UTC",
            )
        )
    if not view.consumers:
        console.print(Text.assemble("  ", ("no reads yet", "dim")))
    checks = current.checks
    failed = [c for c in checks if c.get("outcome") not in ("passed", "skipped")]
    passed = f" {len(checks) - len(failed)} of {len(checks)} passed"
    console.print(Text.assemble(("checks", "bold"), passed))
    for check in failed:
        console.print(
            Text.assemble(
                "  ",
                outcome(Outcome(check["outcome"])),
                shown(f" {check['name']}: {check.get('reason', '')}"),
            )
        )
    for level in view.service_levels:
        console.print(Text.assemble(("service level", "bold"), shown(f" {level}")))
    for line in view.retention:
        console.print(Text.assemble(("retention", "bold"), shown(f" {line}")))
    if view.erasures:
        erased = f" {view.erasures} subject erasures touched it: quanta erase --list"
        console.print(Text.assemble(("erasures", "bold"), erased))
    history = ", ".join(f"{v.version} ({v.published_at:%Y-%m-%d %H:%M})" for v in view.versions)
    console.print(Text.assemble(("versions", "bold"), f" {history}"))


def lineage(graph: Lineage, as_json: bool) -> None:
    if as_json:
        print_json(graph)
        return
    up = Tree(Text.assemble(shown(graph.product, "bold"), " reads"))
    _upstream(up, graph, graph.product, set())
    console.print(up)
    down = Tree(Text.assemble(shown(graph.product, "bold"), " is read by"))
    _downstream(down, graph, graph.product, set())
    console.print(down)


def _upstream(node: Tree, graph: Lineage, product: str, seen: set[str]) -> None:
    for use in graph.upstream_tree.get(product, []):
        if use.upstream is None:
            port = shown(f"(port {use.port})", "dim")
            node.add(Text.assemble(("file", "dim"), shown(f" {use.source} "), port))
            continue
        version = shown(f"v{use.upstream_version}", "dim")
        child = node.add(Text.assemble(shown(f"{use.upstream}.{use.upstream_port} "), version))
        if use.upstream not in seen:
            _upstream(child, graph, use.upstream, seen | {use.upstream})


def _downstream(node: Tree, graph: Lineage, product: str, seen: set[str]) -> None:
    for edge in graph.downstream_tree.get(product, []):
        port = shown(f"(port {edge.port})", "dim")
        child = node.add(Text.assemble(shown(f"{edge.product} "), port))
        if edge.product not in seen:
            _downstream(child, graph, edge.product, seen | {edge.product})
