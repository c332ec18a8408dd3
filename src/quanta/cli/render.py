"""How results look: Rich tables for people, JSON for programs. No logic lives here."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from quanta.model.result import Outcome

if TYPE_CHECKING:
    import pyarrow as pa

    from quanta.errors import QuantaError
    from quanta.interop import ContractImport
    from quanta.mesh import Lineage, ProductView, Progress
    from quanta.model.catalog import ProductRecord, SearchHit
    from quanta.model.result import Build, CheckRun, Issue, Publication, Validation

console = Console(highlight=False)
errors = Console(stderr=True, highlight=False)

STYLE = {
    Outcome.PASSED: "green",
    Outcome.WARNED: "yellow",
    Outcome.FAILED: "red",
    Outcome.ERROR: "red",
    Outcome.SKIPPED: "dim",
}


def print_json(value: Any) -> None:
    def plain(item: Any) -> Any:
        if isinstance(item, BaseModel):
            return item.model_dump(mode="json")
        return str(item)

    sys.stdout.write(json.dumps(_finite(value), default=plain, indent=2) + "\n")


def _finite(value: Any) -> Any:
    """JSON has no infinity or NaN: write them as the strings "inf", "-inf" and "nan"."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, list):
        return [_finite(item) for item in value]
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    return value


def outcome(value: Outcome) -> str:
    return f"[{STYLE[value]}]{value.value}[/]"


def size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"


def error(problem: QuantaError, issues: Sequence[Issue], as_json: bool) -> None:
    if as_json:
        print_json(
            {
                "error": {
                    "code": problem.code,
                    "message": str(problem),
                    "issues": [issue.model_dump(mode="json") for issue in issues],
                }
            }
        )
        return
    errors.print(f"[red]error:[/] {problem}")
    _issues(issues, errors)


def _issues(issues: Sequence[Issue], out: Console) -> None:
    for issue in issues:
        value = "" if issue.value is None else f" (value: {issue.value!r})"
        out.print(f"  [bold]{issue.location()}[/]: {issue.message}{value}")
        if issue.hint:
            out.print(f"    [dim]hint: {issue.hint}[/]")


@contextmanager
def progress(as_json: bool) -> Iterator[Progress]:
    """A live status line while long work runs (silent with --json or when not a terminal)."""
    if as_json or not errors.is_terminal:
        yield lambda _product, _step: None
        return
    with errors.status("starting") as status:

        def update(product: str, step: str) -> None:
            status.update(f"[bold]{product}[/]: {step}")

        yield update


def initialised(folder: Path, as_json: bool) -> None:
    if as_json:
        print_json({"folder": str(folder)})
        return
    console.print(f"Created [bold]{folder}[/]. Next:")
    console.print(f"  quanta validate {folder}\n  quanta publish {folder}")


def validations(items: Sequence[Validation], as_json: bool) -> None:
    if as_json:
        print_json([{**v.model_dump(mode="json"), "outcome": v.outcome} for v in items])
        return
    for item in items:
        console.print(f"{outcome(item.outcome)} {item.product} [dim]({item.path})[/]")
        _issues(item.issues, console)


def builds(items: Sequence[Build], as_json: bool) -> None:
    if as_json:
        print_json([{**b.model_dump(mode="json"), "rows": b.rows, "bytes": b.bytes} for b in items])
        return
    table = Table("product", "outcome", "rows", "size", "seconds")
    for item in items:
        table.add_row(
            item.product,
            outcome(item.outcome),
            f"{item.rows:,}",
            size(item.bytes),
            f"{item.seconds:.2f}",
        )
    console.print(table)
    for item in items:
        if item.reason:
            console.print(f"{outcome(item.outcome)} [bold]{item.product}[/]: {item.reason}")


def check_runs(runs: Sequence[CheckRun], as_json: bool) -> None:
    if as_json:
        print_json([{**r.model_dump(mode="json"), "outcome": r.outcome} for r in runs])
        return
    for run in runs:
        version = f" version {run.version}" if run.version else " (dev build)"
        console.print(f"{outcome(run.outcome)} {run.product}{version}")
        table = Table("port", "check", "outcome", "observed", "expected")
        for check in run.checks:
            table.add_row(
                check.port,
                escape(check.name),
                outcome(check.outcome),
                _text(check.observed),
                _text(check.expected),
            )
        console.print(table)
        for check in run.checks:
            if check.samples:
                console.print(
                    f"[bold]{escape(check.name)}[/]: rows that break it (PII columns left out)"
                )
                sample = Table(*check.samples[0])
                for row in check.samples:
                    sample.add_row(*(_text(value) for value in row.values()))
                console.print(sample)


def publications(items: Sequence[Publication], as_json: bool) -> None:
    if as_json:
        print_json(list(items))
        return
    table = Table("product", "outcome", "version", "rows", "size", "seconds")
    for item in items:
        rows = f"{item.build.rows:,}" if item.build else ""
        size_text = size(item.build.bytes) if item.build else ""
        version = str(item.version) if item.version else ""
        table.add_row(
            item.product, outcome(item.outcome), version, rows, size_text, f"{item.seconds:.2f}"
        )
    console.print(table)
    for item in items:
        if item.reason:
            console.print(f"{outcome(item.outcome)} [bold]{item.product}[/]: {item.reason}")
        if item.validation and item.validation.issues:
            _issues(item.validation.issues, console)


def product_list(records: Sequence[ProductRecord], as_json: bool) -> None:
    if as_json:
        print_json(list(records))
        return
    if not records:
        console.print("No products are published yet: try quanta demo, or quanta init.")
        return
    table = Table("product", "version", "owner", "status", "description")
    for record in records:
        table.add_row(
            record.id,
            str(record.current_version),
            record.owner,
            record.status,
            record.description or "",
        )
    console.print(table)


def product_view(view: ProductView, as_json: bool) -> None:
    record, current = view.record, view.current
    if as_json:
        print_json(view)
        return
    console.print(
        f"[bold]{record.id}[/] {record.title or ''}  version {current.version}, {record.status}"
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
            f"\n[bold]output port {port.port}[/] (contract {port.contract_version}, "
            f"table {port.table}): {port.description or ''}"
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
    console.print("\n[bold]reads[/]")
    for use in current.inputs:
        what = (
            f"{use.upstream}.{use.upstream_port} version {use.upstream_version}"
            if use.upstream
            else f"file {use.source}"
        )
        console.print(f"  {use.port}: {what}")
    console.print("[bold]read by[/]")
    for edge in view.downstream or []:
        console.print(f"  {edge.product} (port {edge.port})")
    if not view.downstream:
        console.print("  [dim]no product yet[/]")
    checks = current.checks
    failed = [c for c in checks if c.get("outcome") not in ("passed", "skipped")]
    console.print(f"[bold]checks[/] {len(checks) - len(failed)} of {len(checks)} passed")
    for check in failed:
        console.print(
            f"  {outcome(Outcome(check['outcome']))} {escape(check['name'])}: "
            f"{escape(check.get('reason', ''))}"
        )
    for level in view.service_levels:
        console.print(f"[bold]service level[/] {escape(str(level))}")
    console.print(
        "[bold]versions[/] "
        + ", ".join(f"{v.version} ({v.published_at:%Y-%m-%d %H:%M})" for v in view.versions)
    )


def search_hits(text: str, hits: Sequence[SearchHit], as_json: bool) -> None:
    if as_json:
        print_json(list(hits))
        return
    if not hits:
        console.print(f"Nothing matches {text!r}.")
        return
    table = Table("product", "owner", "description", "matched")
    for hit in hits:
        table.add_row(hit.product, hit.owner, hit.description or "", escape(hit.matched))
    console.print(table)


def lineage(graph: Lineage, as_json: bool) -> None:
    if as_json:
        print_json(graph)
        return
    up = Tree(f"[bold]{graph.product}[/] reads")
    _upstream(up, graph, graph.product, set())
    console.print(up)
    down = Tree(f"[bold]{graph.product}[/] is read by")
    _downstream(down, graph, graph.product, set())
    console.print(down)


def _upstream(node: Tree, graph: Lineage, product: str, seen: set[str]) -> None:
    for use in graph.upstream_tree.get(product, []):
        if use.upstream is None:
            node.add(f"[dim]file[/] {use.source} [dim](port {use.port})[/]")
            continue
        child = node.add(f"{use.upstream}.{use.upstream_port} [dim]v{use.upstream_version}[/]")
        if use.upstream not in seen:
            _upstream(child, graph, use.upstream, seen | {use.upstream})


def _downstream(node: Tree, graph: Lineage, product: str, seen: set[str]) -> None:
    for edge in graph.downstream_tree.get(product, []):
        child = node.add(f"{edge.product} [dim](port {edge.port})[/]")
        if edge.product not in seen:
            _downstream(child, graph, edge.product, seen | {edge.product})


def arrow_table(data: pa.Table, limit: int, as_json: bool) -> None:
    if as_json:
        print_json(data.slice(0, limit).to_pylist())
        return
    table = Table(*data.column_names)
    for row in data.slice(0, limit).to_pylist():
        table.add_row(*(_text(value) for value in row.values()))
    console.print(table)
    if data.num_rows > limit:
        console.print(f"[dim]{limit} of {data.num_rows:,} rows shown (--limit to see more)[/]")


def demo_summary(home: Path, workspace: Path, items: Sequence[Publication], as_json: bool) -> None:
    publications(items, as_json)
    if as_json:
        return
    console.print(f"\nThe example mesh is in [bold]{home}[/]; its product folders in {workspace}.")
    console.print("Try next:")
    for line in (
        "quanta list",
        "quanta show marketing.attribution",
        "quanta lineage marketing.attribution",
        "quanta search email",
        'quanta query "SELECT * FROM sales.daily_revenue ORDER BY day DESC LIMIT 5"',
    ):
        home_flag = "" if home == Path(".quanta") else f" --home {home}"  # the default home
        console.print(f"  {line}{home_flag}")


def contract_import(result: ContractImport, written: Sequence[Path], as_json: bool) -> None:
    if as_json:
        print_json(
            {
                "format": result.source_format,
                "written": [str(p) for p in written],
                "unmapped": [{"where": u.where, "reason": u.reason} for u in result.unmapped],
            }
        )
        return
    for path in written:
        console.print(f"wrote {path}")
    if result.unmapped:
        console.print(
            f"[yellow]{len(result.unmapped)} part(s) not carried over or not enforced:[/]"
        )
        for item in result.unmapped:
            console.print(f"  {escape(item.where)}: {escape(item.reason)}")


def _text(value: Any) -> str:
    return "" if value is None else str(value)
