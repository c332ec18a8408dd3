"""How results look: Rich tables for people, JSON for programs. No logic lives here.

Descriptions, owners, column names, data values, paths and messages are not Quanta's own:
they must show as the characters they hold, never restyle the output, crash it with bad
markup or drive the terminal. So the consoles here interpret no markup, emoji codes or
highlighting in any string, whatever a caller asks; Quanta styles its own words with
`Text` and ``style=``; and every control character is shown as an escape (`visible`).

Paths of this machine are told without their absolute part (`place`); the Python API
keeps them absolute, programs need them.
"""

from __future__ import annotations

import json
import math
import os
import shlex
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from pydantic import BaseModel
from rich.console import Console, ConsoleOptions, RenderableType
from rich.segment import Segment
from rich.style import StyleType
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from quanta.model.result import Outcome

if TYPE_CHECKING:
    import pyarrow as pa

    from quanta.errors import QuantaError
    from quanta.interop import ContractImport
    from quanta.mesh import Lineage, ProductView, Progress
    from quanta.model.catalog import ProductRecord, SearchHit, Version
    from quanta.model.result import Build, CheckRun, Issue, Publication, Validation

# C0 and C1 controls but newline and tab (layout, not commands), DEL, and the Unicode
# marks that reorder or break lines. Rich drops BEL, BS, VT, FF and CR silently and
# passes the rest (ESC among them) to the terminal. Lone surrogates (undecodable bytes of
# a file name) cannot be written at all.
_CONTROL_CODES = [*range(0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0), 0x200E, 0x200F]
_CONTROL_CODES += [0x061C, 0xFEFF]  # the Arabic letter mark, and the zero-width no-break
_CONTROL_CODES += [0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_CONTROL_CODES += range(0xD800, 0xE000)
_CONTROLS = {
    code: f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" for code in _CONTROL_CODES
}


def visible(text: str) -> str:
    """``text`` with each control character written as an escape (``\\x1b``): shown, not obeyed."""
    return text.translate(_CONTROLS)


def shown(value: object, style: StyleType = "") -> Text:
    """A value that is not Quanta's own (None shows as nothing), as text to display."""
    text = Text("" if value is None else visible(str(value)))
    if style:  # on the characters, as markup did: a table cell's padding stays plain
        text.stylize(style)
    return text


class PlainConsole(Console):
    """A console on which no string is markup and no character reaches the terminal raw.

    Strings (printed, table cells and headers, tree labels) become `Text` in `render_str`,
    measured and laid out after their control characters are made visible. `render`
    checks every segment once more, for `Text` someone built from a raw value; Rich's
    own control codes (cursor moves of a live status) travel apart, as control segments.
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(markup=False, emoji=False, highlight=False, **options)

    def render_str(self, text: str, **options: Any) -> Text:
        options.update(markup=False, emoji=False, highlight=False)
        return super().render_str(visible(text), **options)

    def render(
        self, renderable: RenderableType, options: ConsoleOptions | None = None
    ) -> Iterator[Segment]:
        for segment in super().render(renderable, options):
            if segment.control is None:
                text = visible(segment.text)
                if text != segment.text:
                    segment = Segment(text, segment.style)
            yield segment


console = PlainConsole()
errors = PlainConsole(stderr=True)

STYLE = {
    Outcome.PASSED: "green",
    Outcome.WARNED: "yellow",
    Outcome.FAILED: "red",
    Outcome.ERROR: "red",
    Outcome.SKIPPED: "dim",
}


def place(location: str | Path, home: Path | None = None) -> str:
    """Where a file of this machine is, told without the absolute path of the disk.

    Relative to the working folder when inside it; else ``home:`` and the path inside the
    mesh home; else relative to the working folder all the same (``../``). ``file://``
    URIs are paths too; other URIs (object stores) are no place on this disk and stay.
    """
    text = str(location)
    if not text:
        return text
    if "://" in text:
        parts = urlsplit(text)
        if parts.scheme != "file":
            return text
        text = url2pathname(parts.path)
    path, here = Path(text).resolve(), Path.cwd().resolve()
    if path.is_relative_to(here):
        return str(path.relative_to(here))
    if home is not None:
        base = home.resolve()
        if path != base and path.is_relative_to(base):
            return f"home:{path.relative_to(base)}"
    try:
        return os.path.relpath(path, here)
    except ValueError:  # on another drive (Windows): there is no relative path
        return path.name


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


def outcome(value: Outcome) -> Text:
    return shown(value.value, STYLE[value])


def size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"


def error(problem: QuantaError, issues: Sequence[Issue], as_json: bool) -> None:
    issues = [_placed_issue(issue, None) for issue in issues]
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


def _placed_issue(issue: Issue, home: Path | None) -> Issue:
    return issue.model_copy(update={"file": place(issue.file, home)})


def _placed_validation(validation: Validation, home: Path | None) -> Validation:
    return validation.model_copy(
        update={
            "path": place(validation.path, home),
            "issues": [_placed_issue(issue, home) for issue in validation.issues],
        }
    )


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


def initialised(folder: Path, as_json: bool) -> None:
    if as_json:
        print_json({"folder": str(folder)})
        return
    console.print(Text.assemble("Created ", shown(folder, "bold"), ". Next:"))
    console.print(f"  quanta validate {folder}\n  quanta publish {folder}")


def validations(items: Sequence[Validation], as_json: bool, *, home: Path) -> None:
    items = [_placed_validation(item, home) for item in items]
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
                _text(check.observed),
                _text(check.expected),
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
                    sample.add_row(*(_text(value) for value in row.values()))
                console.print(sample)


def publications(items: Sequence[Publication], as_json: bool, *, home: Path) -> None:
    items = [
        item.model_copy(update={"validation": _placed_validation(item.validation, home)})
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


def product_list(records: Sequence[ProductRecord], as_json: bool, *, home: Path) -> None:
    if as_json:
        print_json([_placed_record(record, home) for record in records])
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


def _placed_record(record: ProductRecord, home: Path) -> ProductRecord:
    return record.model_copy(update={"folder": place(record.folder, home)})


def _placed_version(version: Version, home: Path) -> Version:
    ports = [
        port.model_copy(
            update={
                "metadata_location": place(port.metadata_location, home),
                "location": place(port.location, home),
            }
        )
        for port in version.ports
    ]
    return version.model_copy(update={"ports": ports})


# Each port's list of data files: storage internals, as many lines as there are files.
_NO_FILES: dict[str, Any] = {"ports": {"__all__": {"files"}}}


def product_view(view: ProductView, as_json: bool, *, home: Path) -> None:
    record, current = _placed_record(view.record, home), _placed_version(view.current, home)
    if as_json:
        versions = [_placed_version(version, home) for version in view.versions]
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
    history = ", ".join(f"{v.version} ({v.published_at:%Y-%m-%d %H:%M})" for v in view.versions)
    console.print(Text.assemble(("versions", "bold"), f" {history}"))


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


def arrow_table(data: pa.Table, limit: int, as_json: bool) -> None:
    if as_json:
        print_json(data.slice(0, limit).to_pylist())
        return
    table = Table(*data.column_names)
    for row in data.slice(0, limit).to_pylist():
        table.add_row(*(_text(value) for value in row.values()))
    console.print(table)
    if data.num_rows > limit:
        # The query fetched one row past the limit, no more: how many there are is unknown.
        rows = "row" if limit == 1 else "rows"
        console.print(
            f"first {limit:,} {rows} shown; there are more (--limit to see more)", style="dim"
        )


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
        'quanta query "SELECT * FROM sales.daily_revenue ORDER BY day DESC LIMIT 5"',
    ):
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
        count = len(result.unmapped)
        console.print(f"{count} part(s) not carried over or not enforced:", style="yellow")
        for item in result.unmapped:
            console.print(f"  {item.where}: {item.reason}")


def _text(value: Any) -> str:
    return "" if value is None else str(value)
