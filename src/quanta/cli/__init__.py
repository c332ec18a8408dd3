"""The ``quanta`` command: parse, call `Mesh`, render, exit with the outcome's code.

Heavy libraries (DuckDB, Arrow, Iceberg) are imported inside commands, never here, so
``quanta --help`` stays fast.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from datetime import date, datetime

    from quanta.mesh import Mesh

app = typer.Typer(
    name="quanta",
    help=(
        "Quanta: build, check, publish, discover and query data products.\n\n"
        "Paths are printed relative to the working folder; home:path is a path inside "
        "the mesh home (--home)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

HomeOption = Annotated[
    Path | None,
    typer.Option("--home", envvar="QUANTA_HOME", help="Mesh home folder [default: ./.quanta]."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
PathArgument = Annotated[
    Path, typer.Argument(help="A product folder, or a folder holding several.")
]


@contextmanager
def _errors(as_json: bool) -> Iterator[None]:
    """Turn Quanta's errors into a message (or a JSON error body) and an exit code."""
    from quanta.errors import InvalidProduct, QuantaError

    try:
        yield
    except QuantaError as error:
        from quanta.cli import render

        issues = error.issues if isinstance(error, InvalidProduct) else []
        render.error(error, issues, as_json)
        raise typer.Exit(error.exit_code) from None


@contextmanager
def _mesh(home: Path | None, as_json: bool, *, create: bool = True) -> Iterator[Mesh]:
    """The mesh at ``home``; read-only commands pass ``create=False`` to not make one."""
    from quanta.mesh import Mesh

    with _errors(as_json), Mesh.open(home, create=create) as mesh:
        yield mesh


def _finish(ok: bool) -> None:
    if not ok:
        raise typer.Exit(1)


@app.command()
def init(
    product: Annotated[str, typer.Argument(help="The new product, as domain/product.")],
    blueprint: Annotated[str, typer.Option(help="source, aggregate or consumer.")] = "source",
    inputs: Annotated[
        list[str] | None,
        typer.Option("--input", help="A product it reads (domain.product); repeatable."),
    ] = None,
    directory: Annotated[
        Path, typer.Option("--dir", help="Folder in which domain/product is created.")
    ] = Path(),
    from_contract: Annotated[
        Path | None,
        typer.Option(
            "--from-contract",
            help="An ODCS or DCS contract: the product reads its server's files and "
            "publishes under that contract.",
        ),
    ] = None,
    server: Annotated[
        str | None, typer.Option(help="With --from-contract: the server (default: the first).")
    ] = None,
    table: Annotated[
        str | None,
        typer.Option(help="With --from-contract: the table, when the contract has several."),
    ] = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Scaffold a product folder that validates, builds and publishes as it is."""
    from quanta.cli import render

    notes: list[str] = []
    if from_contract is not None:
        if inputs or blueprint != "source":
            raise typer.BadParameter(
                "it makes a source product: leave out --blueprint and --input",
                param_hint="--from-contract",
            )
        # Like contract test, it needs no mesh home: none is made for it (nor for a mistake).
        from quanta.model.actor import local_user
        from quanta.scaffold import scaffold_from_contract
        from quanta.settings import load_settings

        with _errors(as_json):
            owner = local_user(load_settings().user).name
            folder, notes = scaffold_from_contract(
                product, from_contract, directory, server=server, table=table, owner=owner
            )
    else:
        if server is not None or table is not None:
            raise typer.BadParameter("goes with --from-contract", param_hint="--server/--table")
        with _mesh(home, as_json) as mesh:
            folder = mesh.init_product(
                product, blueprint=blueprint, inputs=inputs or [], directory=directory
            )
    render.initialised(folder, as_json, notes)


@app.command()
def validate(
    path: PathArgument = Path(), home: HomeOption = None, as_json: JsonOption = False
) -> None:
    """Check product folders: every problem with its file, line, value and a hint."""
    from quanta.cli import render

    with _mesh(home, as_json) as mesh:
        validations = mesh.validate(path)
    render.validations(validations, as_json, home=mesh.home)
    _finish(all(v.outcome.ok for v in validations))


@app.command()
def build(
    path: PathArgument = Path(), home: HomeOption = None, as_json: JsonOption = False
) -> None:
    """Build products into a dev branch of their tables, without publishing."""
    from quanta.cli import render

    with _mesh(home, as_json) as mesh, render.progress(as_json) as progress:
        builds = mesh.build(path, progress=progress)
    render.builds(builds, as_json)
    _finish(all(b.outcome.ok for b in builds))


@app.command()
def check(
    target: Annotated[
        str,
        typer.Argument(
            help="A published product (domain.product) or a folder whose last build to check."
        ),
    ] = ".",
    version: Annotated[int | None, typer.Option(help="A published version to check.")] = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check that data conforms to its contract."""
    from quanta.cli import render

    with _mesh(home, as_json, create=False) as mesh:
        runs = mesh.check(target, version=version)
    render.check_runs(runs, as_json)
    _finish(all(r.outcome.ok for r in runs))


@app.command()
def publish(
    path: PathArgument = Path(), home: HomeOption = None, as_json: JsonOption = False
) -> None:
    """Validate, build, check and register a new version, all or nothing."""
    from quanta.cli import render

    with _mesh(home, as_json) as mesh, render.progress(as_json) as progress:
        publications = mesh.publish(path, progress=progress)
    render.publications(publications, as_json, home=mesh.home)
    _finish(all(p.outcome.ok for p in publications))


@app.command("list")
def list_products(home: HomeOption = None, as_json: JsonOption = False) -> None:
    """List published products."""
    from quanta.cli import render

    with _mesh(home, as_json, create=False) as mesh:
        render.product_list(mesh.products(), as_json, home=mesh.home)


@app.command()
def show(
    product: Annotated[str, typer.Argument(help="domain.product")],
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a product: owner, ports, schema, versions, lineage, last build and checks."""
    from quanta.cli import render

    with _mesh(home, as_json, create=False) as mesh:
        render.product_view(mesh.describe(product), as_json, home=mesh.home)


@app.command()
def search(
    text: Annotated[str, typer.Argument(help="Words to look for.")],
    limit: Annotated[int, typer.Option(help="At most this many results.")] = 20,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Search names, descriptions, columns, owners and domains."""
    from quanta.cli import render

    with _mesh(home, as_json, create=False) as mesh:
        render.search_hits(text, mesh.search(text, limit), as_json)


@app.command()
def lineage(
    product: Annotated[str, typer.Argument(help="domain.product")],
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show what a product reads and what reads it, all the way up and down."""
    from quanta.cli import render

    with _mesh(home, as_json, create=False) as mesh:
        render.lineage(mesh.lineage(product), as_json)


@app.command()
def impact(
    path: PathArgument = Path(),
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Which consumers a product's changes would break, before any publish (exit 1 if any)."""
    from quanta.cli.render_change import impact as shown

    with _mesh(home, as_json, create=False) as mesh:
        found = mesh.impact(path)
    shown(found, as_json)
    if any(one.broken for one in found):
        raise typer.Exit(1)


@app.command()
def events(
    product: Annotated[str | None, typer.Option(help="Only the events of this product.")] = None,
    kind: Annotated[
        list[str] | None, typer.Option(help="Only events of this kind (product.published...).")
    ] = None,
    since: Annotated[str | None, typer.Option(help="From this day or time on (ISO 8601).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="At most this many.")] = 100,
    follow: Annotated[
        bool, typer.Option("--follow", help="Keep printing new events as they are logged.")
    ] = False,
    mine: Annotated[
        bool,
        typer.Option(
            "--mine",
            help="Only what concerns you: products your teams own, read, or you read.",
        ),
    ] = False,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """The mesh's event log, as far as it concerns you (all of it, for the governance
    group): the last --limit events (or the first from --since), oldest first; JSON lines
    with --json --follow."""
    import time

    from quanta.cli import render_change

    start = _moment(since, "--since") if since else None
    with _mesh(home, as_json, create=False) as mesh:
        if mine:
            if product or kind or since or follow:
                raise typer.BadParameter(
                    "--mine lists your newest notifications of every kind: leave out "
                    "--product, --kind, --since and --follow, or leave out --mine",
                    param_hint="--mine",
                )
            render_change.events(mesh.notifications(limit=limit), as_json)
            return
        found = mesh.events(
            product=product, kinds=kind or (), since=start, limit=limit, newest=start is None
        )
        render_change.events(found, as_json, lines=follow)
        # Listed by time, followed by number: one folded in late has an older time.
        last = max((event.id for event in found), default=None)
        while follow:
            time.sleep(1.0)
            more = mesh.events(product=product, kinds=kind or (), since=start, after=last)
            if more:
                render_change.events(more, as_json, lines=True)
                last = more[-1].id


def _moment(text: str, option: str) -> datetime:
    from datetime import UTC, datetime

    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a day or time: write 2026-12-01 or 2026-12-01T09:00",
            param_hint=option,
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@app.command()
def deprecate(
    target: Annotated[str, typer.Argument(help="domain.product or domain.product.port")],
    sunset: Annotated[
        str, typer.Option(help="The day it may be retired, consumers or not (YYYY-MM-DD).")
    ],
    replacement: Annotated[
        str | None, typer.Option(help="What to read instead: domain.product.port [vN].")
    ] = None,
    major: Annotated[int, typer.Option(min=0, help="Only this major of the port.")] = 0,
    reason: Annotated[str, typer.Option(help="Why, for its consumers.")] = "",
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Deprecate a product or port: still served, each read warned, no new consumers."""
    from quanta.cli import render_change

    day = _day(sunset, "--sunset")
    with _mesh(home, as_json, create=False) as mesh:
        entry = mesh.deprecate(target, day, major=major, replacement=replacement, reason=reason)
    render_change.lifecycle_entry(entry, as_json)


@app.command()
def retire(
    target: Annotated[str, typer.Argument(help="domain.product or domain.product.port")],
    major: Annotated[int, typer.Option(min=0, help="Only this major of the port.")] = 0,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Stop serving a product or port; refused while consumers read it before its sunset."""
    from quanta.cli import render_change

    with _mesh(home, as_json, create=False) as mesh:
        entry = mesh.retire(target, major=major)
    render_change.lifecycle_entry(entry, as_json)


def _day(text: str, option: str) -> date:
    from datetime import date

    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a day: write YYYY-MM-DD", param_hint=option
        ) from None


@app.command()
def query(
    sql: Annotated[
        str, typer.Argument(help="SQL; products are domain.product or domain.product.port.")
    ],
    limit: Annotated[int, typer.Option(min=0, help="Show at most this many rows.")] = 50,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Query published products with SQL."""
    import warnings as python_warnings

    from quanta.cli import output, render
    from quanta.cli.concepts import print_join_warnings
    from quanta.lifecycle.states import DeprecatedRead

    with (
        _mesh(home, as_json, create=False) as mesh,
        python_warnings.catch_warnings(record=True) as deprecated,
    ):
        python_warnings.simplefilter("always", DeprecatedRead)
        # One row past the limit tells whether there are more; no more rows are fetched.
        result = mesh.query(sql, limit=limit + 1)
        warnings = mesh.join_warnings(sql)
    render.arrow_table(result, limit, as_json)
    print_join_warnings(warnings)
    for told in deprecated:
        if issubclass(told.category, DeprecatedRead):
            output.errors.print(output.shown(f"warning: {told.message}", "yellow"))


@app.command()
def demo(
    scale: Annotated[float, typer.Option(help="Data size; 1.0 is about 1M order rows.")] = 1.0,
    force: Annotated[bool, typer.Option(help="Replace a mesh home that is not empty.")] = False,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Build and publish the example mesh of an online fashion retailer."""
    from quanta.cli import render
    from quanta.examples import clear_home
    from quanta.settings import load_settings

    if scale <= 0:
        raise typer.BadParameter("the scale must be above 0", param_hint="--scale")
    with _errors(as_json):
        target = home or load_settings().home
        clear_home(target, force)
    with _mesh(target, as_json) as mesh, render.progress(as_json) as progress:
        workspace, publications = mesh.demo(scale=scale, progress=progress)
    render.demo_summary(target, workspace, publications, as_json)
    _finish(all(p.outcome.ok for p in publications))


@app.command()
def schema(
    name: Annotated[str, typer.Argument(help="dataproduct or contract.")],
) -> None:
    """Print the JSON Schema of dataproduct.yaml or of a contract, for editors."""
    from quanta.schemas import MODELS, shipped

    if name not in MODELS:
        raise typer.BadParameter(f"use one of {', '.join(MODELS)}", param_hint="NAME")
    sys.stdout.write(shipped(name))


contract_app = typer.Typer(
    help="Import contracts (ODCS v3, Data Contract Specification) and export them (ODCS v3.1).",
    no_args_is_help=True,
)
app.add_typer(contract_app, name="contract")


@contract_app.command("import")
def import_contract(
    file: Annotated[Path, typer.Argument(help="An ODCS v3 or Data Contract Specification file.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the contracts.")] = Path(),
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Convert a contract into Quanta's, one file per table; report what cannot be kept."""
    from quanta.cli import render

    with _mesh(home, as_json) as mesh:
        result, written = mesh.import_contract(file, out)
    render.contract_import(result, written, as_json)


@contract_app.command("test")
def check_contract_data(
    file: Annotated[Path, typer.Argument(help="An ODCS v3 or Data Contract Specification file.")],
    server: Annotated[
        str | None, typer.Option(help="The contract's server to check [default: its first].")
    ] = None,
    scan: Annotated[
        bool,
        typer.Option(
            "--scan",
            help="Read every value: settle no rule from what Parquet footers record "
            "(row counts, null counts, bounds), and so find files they misdescribe.",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Check the data a contract describes where it lives (its servers), every rule,
    without a mesh home and without publishing anything."""
    from quanta.quality.external import run_contract_test

    with _errors(as_json):
        result = run_contract_test(file, server, scan=scan)
    if as_json:
        from quanta.cli import json_output

        json_output.contract_test(result)
    else:
        from quanta.cli import render

        render.contract_test(result)
    _finish(result.outcome.ok)


@contract_app.command("export")
def export_contract(
    port: Annotated[str, typer.Argument(help="domain.product or domain.product.port")],
    version: Annotated[int | None, typer.Option(help="A published version.")] = None,
    home: HomeOption = None,
) -> None:
    """Print an output port's published contract as ODCS v3.1 YAML."""
    import yaml

    from quanta.cli.render import visible

    with _mesh(home, False, create=False) as mesh:
        document = mesh.export_contract(port, version)
    text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    if visible(text) != text:
        # A control character in a description would reach the terminal: YAML's escapes.
        text = yaml.safe_dump(document, sort_keys=False, allow_unicode=False)
    sys.stdout.write(text)


from quanta.cli.access import access_app  # noqa: E402  (it uses the options above)

app.add_typer(access_app, name="access")

from quanta.cli.consumer import consumer_app  # noqa: E402  (it uses the options above)

app.add_typer(consumer_app, name="consumer")

from quanta.cli.webhooks import webhooks_app  # noqa: E402  (it uses the options above)

app.add_typer(webhooks_app, name="webhooks")

from quanta.cli.governance import governance_app  # noqa: E402  (it uses the options above)
from quanta.cli.privacy import enforce_retention, erase  # noqa: E402  (the same)

governance_app.command("enforce-retention")(enforce_retention)
app.add_typer(governance_app, name="governance")
app.command()(erase)

from quanta.cli.concepts import concepts  # noqa: E402  (it uses the options above)

app.command()(concepts)


@app.command()
def usage(
    product: Annotated[
        str | None, typer.Argument(help="domain.product; every product when left out.")
    ] = None,
    by: Annotated[str, typer.Option(help="Sum the reads by consumer or by day.")] = "consumer",
    days: Annotated[int, typer.Option(min=1, help="Over the last this many days.")] = 30,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show who read a product, how much and when: queries, reads and builds."""
    from quanta.cli.render_usage import usage as render_usage

    with _mesh(home, as_json, create=False) as mesh:
        render_usage(mesh.usage(product, by=by, days=days), as_json)


@app.command()
def logs(
    product: Annotated[str, typer.Argument(help="The product, as domain.product.")],
    build: Annotated[
        int | None, typer.Option("--build", help="A build's number [default: the last].")
    ] = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show the log of a product's last build (publish or dev build), or of build N."""
    import dataclasses
    import json

    with _mesh(home, as_json, create=False) as mesh:
        found = mesh.logs(product, build)
    shown = json.dumps(dataclasses.asdict(found), indent=2) + "\n"
    sys.stdout.write(shown if as_json else found.text)


def main() -> None:
    """The ``quanta`` command, then an exit that does not sweep the heap once more.

    Python's last collection at exit walks every object the imports made (pydantic's
    schemas, the commands): about 80 ms, a tenth of a short command. By then each
    command has closed its files, connections and catalog (each is a context), and the
    process returns all memory at once, so those objects are frozen out of it instead.
    Only this entry point does so: a program that calls `app` keeps its collector.
    """
    try:
        app()
    finally:
        gc.freeze()
