"""How results look: Rich tables for people, JSON for programs. No logic lives here.

Every string that is not Quanta's own is shown through `output` (never as markup, never a
raw control character), and every path of this machine through `places.place`.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table
from rich.text import Text

from quanta.cli.output import cell, console, errors, outcome, print_json, shown, size, visible
from quanta.cli.places import place, placed_issue, placed_record, placed_validation
from quanta.cli.render_product import lineage, product_view

if TYPE_CHECKING:
    import pyarrow as pa

    from quanta.errors import QuantaError
    from quanta.interop import ContractImport
    from quanta.mesh import Progress
    from quanta.model.catalog import ProductRecord, SearchHit
    from quanta.model.result import Build, CheckRun, Issue, Outcome, Publication, Validation
    from quanta.quality.external import ContractTest

__all__ = [
    "arrow_table",
    "builds",
    "check_runs",
    "contract_import",
    "demo_summary",
    "error",
    "initialised",
    "lineage",
    "product_list",
    "product_view",
    "progress",
    "publications",
    "search_hits",
    "validations",
    "visible",
]


def error(problem: QuantaError, issues: Sequence[Issue], as_json: bool) -> None:
    issues = [placed_issue(issue, None) for issue in issues]
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
    errors.print(Text.assemble(("error:", "red"), " ", shown(problem)))
    _issues(issues, errors)


def _issues(issues: Sequence[Issue], out: Console) -> None:
    for issue in issues:
        value = "" if issue.value is None else f" (value: {issue.value!r})"
        out.print(
            Text.assemble("  ", shown(issue.location(), "bold"), shown(f": {issue.message}{value}"))
        )
        if issue.hint:
            out.print(Text.assemble("    ", shown(f"hint: {issue.hint}", "dim")))


@contextmanager
def progress(as_json: bool) -> Iterator[Progress]:
    """A live status line while long work runs (silent with --json or when not a terminal)."""
    if as_json or not errors.is_terminal:
        yield lambda _product, _step: None
        return
    # A spinner reads a string as markup: give it Text.
    with errors.status(Text("starting")) as status:

        def update(product: str, step: str) -> None:
            status.update(Text.assemble(shown(product, "bold"), ": ", shown(step)))

        yield update


def initialised(folder: Path, as_json: bool, notes: Sequence[str] = ()) -> None:
    if as_json:
        print_json({"folder": str(folder), "notes": list(notes)})
        return
    if notes:
        console.print(f"{len(notes)} part(s) of the contract not carried over:", style="yellow")
        for note in notes:
            console.print(shown(f"  {note}"))
    console.print(Text.assemble("Created ", shown(folder, "bold"), ". Next:"))
    console.print(shown(f"  quanta validate {folder}\n  quanta publish {folder}"))


def validations(items: Sequence[Validation], as_json: bool, *, home: Path) -> None:
    items = [placed_validation(item, home) for item in items]
    if as_json:
        print_json([{**v.model_dump(mode="json"), "outcome": v.outcome} for v in items])
        return
    for item in items:
        console.print(
            Text.assemble(
                outcome(item.outcome), f" {item.product} ", shown(f"({item.path})", "dim")
            )
        )
        _issues(item.issues, console)
        _findings(item)
        for change in item.changes:
            console.print(shown(f"  {change}", "red" if item.breaks_consumers else "yellow"))


def _findings(item: Validation) -> None:
    if item.findings:
        from quanta.cli.render_governance import render_findings

        render_findings(console, item.findings)


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
            console.print(_reason(item.outcome, item.product, item.reason))


def _reason(result: Outcome, product: str, reason: str) -> Text:
    return Text.assemble(outcome(result), " ", shown(product, "bold"), shown(f": {reason}"))


def check_runs(runs: Sequence[CheckRun], as_json: bool) -> None:
    if as_json:
        print_json([{**r.model_dump(mode="json"), "outcome": r.outcome} for r in runs])
        return
    for run in runs:
        version = f" version {run.version}" if run.version else " (dev build)"
        console.print(Text.assemble(outcome(run.outcome), shown(f" {run.product}{version}")))
        table = Table("port", "check", "outcome", "observed", "expected")
        for check in run.checks:
            table.add_row(
                check.port,
                check.name,
                outcome(check.outcome),
                cell(check.observed),
                cell(check.expected),
            )
        console.print(table)
        for check in run.checks:
            if check.samples:
                console.print(
                    Text.assemble(
                        shown(check.name, "bold"), ": rows that break it (PII columns left out)"
                    )
                )
                sample = Table(*check.samples[0])
                for row in check.samples:
                    sample.add_row(*(cell(value) for value in row.values()))
                console.print(sample)


def publications(items: Sequence[Publication], as_json: bool, *, home: Path) -> None:
    items = [
        item.model_copy(update={"validation": placed_validation(item.validation, home)})
        if item.validation
        else item
        for item in items
    ]
    if as_json:
        print_json(items)
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
            console.print(_reason(item.outcome, item.product, item.reason))
        if item.validation and item.validation.issues:
            _issues(item.validation.issues, console)
        if item.validation:
            _findings(item.validation)


def product_list(records: Sequence[ProductRecord], as_json: bool, *, home: Path) -> None:
    if as_json:
        print_json([placed_record(record, home) for record in records])
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


def search_hits(text: str, hits: Sequence[SearchHit], as_json: bool) -> None:
    if as_json:
        print_json(list(hits))
        return
    if not hits:
        console.print(f"Nothing matches {text!r}.")
        return
    table = Table("product", "owner", "description", "matched")
    for hit in hits:
        table.add_row(hit.product, hit.owner, hit.description or "", hit.matched)
    console.print(table)


def arrow_table(data: pa.Table, limit: int, as_json: bool) -> None:
    rows = _rows(data.slice(0, limit))
    if as_json:
        print_json(rows)
        return
    table = Table(*data.column_names)
    for row in rows:
        table.add_row(*(cell(value) for value in row.values()))
    console.print(table)
    if data.num_rows > limit:
        # The query fetched one row past the limit, no more: how many there are is unknown.
        noun = "row" if limit == 1 else "rows"
        console.print(
            f"first {limit:,} {noun} shown; there are more (--limit to see more)", style="dim"
        )


def _rows(data: pa.Table) -> list[dict[str, object]]:
    """The rows as Python values; a column holding what Python cannot (a date past year
    9999, an infinite timestamp) is shown as text."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = []
    for column in data.columns:
        try:
            columns.append(column.to_pylist())
        except (OverflowError, ValueError):
            columns.append(pc.cast(column, pa.string()).to_pylist())
    return [
        dict(zip(data.column_names, values, strict=True)) for values in zip(*columns, strict=True)
    ]


def demo_summary(home: Path, workspace: Path, items: Sequence[Publication], as_json: bool) -> None:
    publications(items, as_json, home=home)
    if as_json:
        return
    here = place(home, home)  # the home itself is told from the working folder
    console.print(
        Text.assemble(
            "\nThe example mesh is in ",
            shown(here, "bold"),
            shown(f"; its product folders in {place(workspace, home)}."),
        )
    )
    console.print("Try next:")
    home_flag = "" if home == Path(".quanta") else f" --home {shlex.quote(here)}"  # not default
    for line in (
        "quanta list",
        "quanta show marketing.attribution",
        "quanta lineage marketing.attribution",
        "quanta search email",
        "QUANTA_USER=noor.bakker@retail.example quanta query "
        '"SELECT * FROM sales.daily_revenue ORDER BY day DESC LIMIT 5"',
        'quanta access request sales.daily_revenue --purpose "..."',
    ):
        console.print(f"  {line}{home_flag}")


def contract_test(result: ContractTest) -> None:
    """Each check of ``quanta contract test``, by schema object, and the verdict (its
    ``--json`` is `quanta.cli.json_output.contract_test`)."""
    from quanta.model.result import Outcome

    verdict = {"passed": "pass", "warned": "warn"}.get(result.outcome.value, "fail")
    console.print(
        Text.assemble(
            outcome(result.outcome),
            shown(f" {result.contract} on server {result.server}: {verdict}"),
        )
    )
    table = Table("schema object", "check", "outcome", "observed", "expected")
    for check in result.checks:
        table.add_row(
            shown(check.port),
            shown(check.name),
            outcome(check.outcome),
            cell(check.observed),
            cell(check.expected),
        )
    console.print(table)
    for check in result.checks:
        if check.reason and check.outcome != Outcome.PASSED:
            line = f" (line {check.line})" if check.line else ""
            console.print(shown(f"  {check.port}: {check.name}{line}: {check.reason}"))
    if result.unmapped:
        console.print(f"{len(result.unmapped)} part(s) not checked:", style="yellow")
        for item in result.unmapped:
            console.print(shown(f"  {item}"))


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
        count = len(result.unmapped)
        console.print(f"{count} part(s) not carried over or not enforced:", style="yellow")
        for item in result.unmapped:
            console.print(f"  {item.where}: {item.reason}")
