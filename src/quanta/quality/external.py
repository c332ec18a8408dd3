"""Checking the data a contract from elsewhere describes, where it lives: ``quanta contract
test FILE``.

A contract in ODCS v3 or the Data Contract Specification names its data in ``servers``.
This reads files on this machine in Parquet, CSV or JSON (a ``{model}`` in a server's path
stands for each schema object's name; a ``*`` matches files), imports the contract as
``quanta contract import`` does, and runs every rule of every schema object in one scan
per object, with the engine and rules a publish uses (`quanta.quality.checking`). Nothing
is published, and no mesh home is needed.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from quanta.engines.duckdb_footers import Footer, FooterReader, Unreadable, footer_stats
from quanta.errors import PlatformError, UserError
from quanta.model.contract import PLATFORM_PREFIX, Contract
from quanta.model.relations import Binding, DatabaseTable, Exposed, FileScan
from quanta.model.result import Check, Outcome, worst
from quanta.model.sources import SOURCE_OPTIONS, option_value_fits
from quanta.model.types import parse_physical_type
from quanta.quality.conformance import RULES, Plan, Target
from quanta.quality.contract_places import place_in_file
from quanta.sql_text import fold, quote

if TYPE_CHECKING:
    from quanta.validation.yaml_lines import LocatedYaml

WAIT_SECONDS = 10
"""How long a database server may take to answer, or to let a locked table be read."""
OUT_OF_MEMORY = "Out of Memory Error"
"""How the engine tells it ran out of memory: the machine's limit, not the data's fault."""
RAW = PLATFORM_PREFIX + "raw__"
"""A CSV column's text as the file holds it, beside its value read as the contract's type."""
LOGICAL_TYPES = {
    "string": "VARCHAR",
    "integer": "BIGINT",
    "number": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
}
"""How a CSV column without a physical type is read, by its logical type."""
FORMATS = {"parquet": "parquet", "csv": "csv", "json": "json", "ndjson": "json"}
"""Server formats Quanta reads, as its readers name them."""
LOCAL = frozenset({"local", "file", "filesystem"})
"""Server types that are files on this machine."""
DATABASES = {
    "duckdb": "duckdb",
    "sqlite": "sqlite",
    "postgres": "postgres",
    "postgresql": "postgres",
}
"""Server types that are databases Quanta reads, by the kind of `DatabaseTable`."""


@dataclass(frozen=True)
class Server:
    """One entry of a contract's ``servers``: where its data lives."""

    name: str
    type: str
    path: str | None = None
    format: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    database: str | None = None
    """A database file's path (DuckDB, SQLite), or PostgreSQL's database name."""
    schema: str | None = None
    host: str | None = None
    port: int | None = None


@dataclass
class ContractTest:
    """What ``quanta contract test`` found: per schema object, its checks."""

    contract: str
    server: str
    checks: list[Check] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)
    """Parts of the contract Quanta does not check, each with where and why."""

    @property
    def outcome(self) -> Outcome:
        return worst([check.outcome for check in self.checks])


def servers_of(document: Mapping[str, Any]) -> list[Server]:
    """The servers of an ODCS v3 document (a list) or a DCS one (a mapping by name)."""
    found = document.get("servers")
    entries: list[tuple[str, Any]]
    if isinstance(found, list):
        entries = [(str(item.get("server", "")), item) for item in found if isinstance(item, dict)]
    elif isinstance(found, dict):
        entries = [(str(name), item) for name, item in found.items() if isinstance(item, dict)]
    else:
        entries = []
    servers = []
    for name, item in entries:
        options = {
            key: item[key]
            for key in ("delimiter", "header")
            if key in item and item[key] is not None
        }
        path = item.get("path", item.get("location"))
        port = item.get("port")
        servers.append(
            Server(
                name=name,
                type=str(item.get("type", "")).lower(),
                path=str(path) if path is not None else None,
                format=str(item["format"]).lower() if item.get("format") else None,
                options=options,
                database=_text(item.get("database")),
                schema=_text(item.get("schema")),
                host=_text(item.get("host")),
                port=port if isinstance(port, int) and not isinstance(port, bool) else None,
            )
        )
        if port is not None and servers[-1].port is None:
            raise UserError(f"server {name!r}: port must be a number, not {port!r}")
    return servers


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def choose(servers: list[Server], name: str | None, source: Path) -> Server:
    """The server to test: the one named, else the first."""
    if not servers:
        raise UserError(
            f"{source}: the contract names no servers: add one, such as servers: [{{server: "
            "local, type: local, path: data/{model}.parquet, format: parquet}]"
        )
    if name is None:
        return servers[0]
    for server in servers:
        if server.name == name:
            return server
    names = ", ".join(server.name for server in servers)
    raise UserError(f"{source}: no server {name!r} in the contract (it has: {names})")


def relation_of(
    server: Server, table: str, base: Path, physical: str | None = None
) -> FileScan | DatabaseTable:
    """Where ``server`` holds schema object ``table``: its files, or its database table
    (``physical``, the table's name there, else ``table``); a file's path is relative to
    ``base``, the contract's folder."""
    if server.type in LOCAL:
        return scan(server, table, base)
    table = physical or table
    kind = DATABASES.get(server.type)
    if server.type == "custom" and server.format == "sqlite":
        kind = "sqlite"
    if kind is None:
        raise UserError(
            f"server {server.name!r} is of type {server.type or 'none'!r}: quanta contract "
            "test reads local files (type: local), DuckDB and SQLite database files (type: "
            "duckdb, sqlite) and PostgreSQL (type: postgres)"
        )
    label = f"{server.name}: {'.'.join(filter(None, (server.schema, table)))}"
    if kind == "postgres":
        return DatabaseTable("postgres", conninfo(server), table, server.schema or "public", label)
    written = server.database or server.path
    if not written:
        raise UserError(
            f"server {server.name!r} names no database file: add database: data/{kind}.db"
        )
    path = Path(written) if Path(written).is_absolute() else base / written
    if not path.is_file():
        raise UserError(f"server {server.name!r}: no database file {written}")
    with path.open("rb") as file:
        start = file.read(16)
    if not _is_database(kind, start):
        raise UserError(f"server {server.name!r}: {written} is not a {kind} database file")
    schema = server.schema if kind == "duckdb" else None
    return DatabaseTable(kind, str(path.resolve()), table, schema, label)


def _is_database(kind: str, start: bytes) -> bool:
    """Whether a file's first bytes are a database of ``kind``'s (SQLite's header string,
    DuckDB's magic bytes after its checksum)."""
    if kind == "sqlite":
        return start.startswith(b"SQLite format 3\0")
    return start[8:12] == b"DUCK"


def conninfo(server: Server) -> str:
    """A PostgreSQL connection string for ``server``: its host, port and database, and no
    secret; libpq takes the user and password from the environment (PGUSER, PGPASSWORD,
    or a password file), and whatever the server leaves out (PGHOST, PGPORT, PGDATABASE)."""
    parts = {"host": server.host, "port": server.port, "dbname": server.database}
    written = [f"{key}={_libpq(str(value))}" for key, value in parts.items() if value]
    # A server that does not answer, or a table another session keeps locked, is
    # reported, not waited on forever.
    waits = _libpq(f"-c lock_timeout={WAIT_SECONDS}s")
    return " ".join([*written, f"connect_timeout={WAIT_SECONDS}", f"options={waits}"])


def _libpq(value: str) -> str:
    """A libpq connection-string value, quoted: spaces, quotes and backslashes stay data."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def scan(server: Server, table: str, base: Path) -> FileScan:
    """The files of schema object ``table`` on ``server``, paths relative to ``base`` (the
    contract's folder)."""
    if server.type not in LOCAL:
        raise UserError(
            f"server {server.name!r} is of type {server.type or 'none'!r}: quanta contract "
            "test reads local files (type: local) so far"
        )
    if not server.path:
        raise UserError(f"server {server.name!r} has no path: add path: data/{{model}}.parquet")
    written = server.path.replace("{model}", table)
    start = Path(Path(written).anchor) if Path(written).is_absolute() else base
    fixed, rest = _fixed_part(Path(written), start)
    if rest:
        # Python's glob, not DuckDB's: the paths handed over are files, never patterns.
        # Only * is a wildcard; [ and ? are the characters of a name.
        escaped = rest.replace("[", "[[]").replace("?", "[?]")
        paths = sorted(fixed.glob(escaped))
    else:
        paths = [fixed] if fixed.exists() else []
    paths = [path for path in paths if path.is_file()]
    if not paths:
        raise UserError(f"server {server.name!r}: no file matches {written} (for {table})")
    kind = server.format or paths[0].suffix.lstrip(".").lower()
    reader = FORMATS.get(kind)
    if reader is None:
        raise UserError(
            f"server {server.name!r}: Quanta reads parquet, csv and json files, not {kind!r}"
        )
    folder = fixed if rest else fixed.parent
    return FileScan(
        # As found, not resolved: a link is opened beneath the folder, or refused clearly.
        paths=tuple(str(folder.resolve() / path.relative_to(folder)) for path in paths),
        format=reader,
        options=_options(server, reader),
        label=written,
        root=str(folder.resolve()),
    )


def _fixed_part(written: Path, start: Path) -> tuple[Path, str]:
    """The folder of the path a contract wrote above its first ``*`` (beneath ``start``,
    the contract's folder for a relative path): where its files are opened; and the rest
    of the path, the pattern to match there ('' when it names one file)."""
    parts = written.parts[1:] if written.is_absolute() else written.parts
    for index, part in enumerate(parts):
        if "*" in part:
            return start.joinpath(*parts[:index]), "/".join(parts[index:])
    return start.joinpath(*parts), ""


def _options(server: Server, reader: str) -> dict[str, Any]:
    known = SOURCE_OPTIONS.get(reader, {})
    options: dict[str, Any] = {}
    if reader == "csv" and "delimiter" in server.options and "delim" in known:
        delimiter = server.options["delimiter"]
        if not isinstance(delimiter, str) or len(delimiter) != 1:
            raise UserError(
                f"server {server.name!r}: delimiter must be one character, not {delimiter!r}"
            )
        options["delim"] = delimiter
    if reader == "csv" and "header" in server.options and "header" in known:
        header = server.options["header"]
        if isinstance(header, str):
            header = header.strip().lower() in ("true", "yes", "1")
        options["header"] = bool(header)
    return {key: value for key, value in options.items() if option_value_fits(known[key], value)}


def run_contract_test(
    path: Path, server_name: str | None = None, *, scan: bool = False
) -> ContractTest:
    """Check the data ``path``'s contract describes, on its server ``server_name`` (default:
    the first), every rule of every schema object.

    What Parquet footers record (row counts, null counts, bounds) settles the rules it
    answers, as the engine trusts it to skip row groups; ``scan`` reads every value
    instead, and so also finds files whose footers disagree with their pages."""
    from quanta.engines import Limits
    from quanta.engines.duckdb import DuckDBEngine
    from quanta.interop import read_contract_file
    from quanta.quality.scanning import Checked, check_ports, relation_name
    from quanta.settings import load_settings

    located, imported = read_contract_file(path, together=True)
    document = located.data
    server = choose(servers_of(document), server_name, path)
    base = path.resolve().parent
    physical_names = _physical_names(document)
    closed = _closed(document)
    ports = []
    tables: list[Binding] = []
    with FooterReader() as footer_reader:
        for table, contract_document in imported.contracts.items():
            try:
                contract = Contract.model_validate(contract_document)
            except ValidationError as error:
                raise UserError(_mistake(path, located, table, error)) from None
            files = relation_of(server, table, base, physical_names.get(table))
            footers = (
                _parquet_footers(files, footer_reader)
                if isinstance(files, FileScan) and files.format == "parquet"
                else None
            )
            if isinstance(files, FileScan) and files.format == "json":
                for name, keys in footer_reader.json_keys(files.paths, files.root):
                    _alike(files, name, keys)
            columns = (
                _as_typed(files, contract)
                if isinstance(files, FileScan) and files.format == "csv"
                else None
            )
            if isinstance(files, FileScan) and columns is not None:
                files = FileScan(
                    files.paths,
                    files.format,
                    {**files.options, "all_varchar": True},
                    files.label,
                    files.root,
                )
            binding = Binding((relation_name(table),), files, columns)
            stats = (
                footer_stats(footers, set(contract.private_columns))
                if footers and not scan
                else None
            )
            ports.append(
                Checked(table, contract, binding, stats, foreign=True, closed=table in closed)
            )
            # Under its own name too: references and SQL rules of the others read it so.
            tables.append(Binding(((table,),), files, columns))
    # A SQL rule may read the other schema objects: their private columns are its too.
    private = {port.port: frozenset(port.contract.private_columns) for port in ports}
    ports = [
        dataclasses.replace(
            port,
            private_elsewhere=frozenset().union(*(v for k, v in private.items() if k != port.port)),
        )
        for port in ports
    ]
    result = ContractTest(
        contract=str(document.get("id") or path.name),
        server=server.name,
        # Servers are what this reads; the import's note that it does not is not news here.
        unmapped=[
            f"{item.where}: {item.reason}" for item in imported.unmapped if item.where != "servers"
        ],
    )
    # As long as a build's checks may take (QUANTA_BUILD_TIMEOUT), then stopped.
    seconds = load_settings().build_timeout
    checked = ", ".join(port.port for port in ports)
    limits = Limits(f"checking {checked} on server {server.name}", seconds, "QUANTA_BUILD_TIMEOUT")
    with tempfile.TemporaryDirectory(prefix="quanta-contract-test-") as scratch:
        engine = DuckDBEngine(Path(scratch) / "extensions", scratch_directory=Path(scratch))
        rules = (*RULES, unreadable_rule)
        try:
            result.checks = check_ports(engine, ports, tables, limits, rules)
        except PlatformError as error:
            if OUT_OF_MEMORY in str(error):
                raise
            # Here the engine reads data as it was found, not files Quanta wrote: a read
            # that fails so is the data's (a file damaged or cut short), and told so.
            read = ", ".join(
                dict.fromkeys(getattr(port.binding.relation, "label", port.port) for port in ports)
            )
            raise UserError(
                f"{path}: the data of server {server.name} ({read}) could not be read: "
                f"{str(error).removeprefix('the engine failed: ')}; check that each file "
                "is whole and of its format"
            ) from None
    contracts = {port.port: port.contract for port in ports}
    for check in result.checks:
        check.location, check.line = place_in_file(
            located, check.port, contracts[check.port], check.location, imported.places
        )
    return result


def _mistake(path: Path, located: LocatedYaml, table: str, error: ValidationError) -> str:
    """The first thing wrong with a schema object's contract, in one line: the field, its
    line in the file where it can be told, and what is wrong."""
    first = error.errors()[0]
    parts: list[str | int] = [part for part in first["loc"] if isinstance(part, str | int)]
    objects = located.data.get("schema") if isinstance(located.data, dict) else None
    if parts[:2] == ["schema", 0] and isinstance(objects, list):
        # The import keeps one schema object per contract: its place in the file's list.
        index = next(
            (
                i
                for i, item in enumerate(objects)
                if isinstance(item, dict) and item.get("name") == table
            ),
            None,
        )
        if index is not None:
            parts[1] = index
    else:
        parts = ["models", table]
    line = located.line_of(tuple(parts))
    where = ".".join(str(part) for part in first["loc"])
    at = f" (line {line})" if line is not None else ""
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"{path}: schema object {table!r}: {where}{at}: {message}"


def _closed(document: Mapping[str, Any]) -> set[str]:
    """The schema objects whose contract closes their schema (DCS ``additionalFields:
    false``): a column they do not declare fails."""
    models = document.get("models")
    if not isinstance(models, dict):
        return set()
    return {
        str(name)
        for name, model in models.items()
        if isinstance(model, dict) and model.get("additionalFields") is False
    }


def _physical_names(document: Mapping[str, Any]) -> dict[str, str]:
    """The table each schema object is stored as, where the contract says (ODCS
    ``physicalName``); a database server reads that table, files keep ``{model}``."""
    found = document.get("schema")
    if not isinstance(found, list):
        return {}
    return {
        str(item["name"]): str(item["physicalName"])
        for item in found
        if isinstance(item, dict) and item.get("name") and item.get("physicalName")
    }


def _as_typed(files: FileScan, contract: Contract) -> tuple[Exposed, ...] | None:
    """A CSV file's columns as the contract types them: each declared column read as text
    and cast to its type (a value that does not read as it is NULL there, and counted by
    `unreadable_rule`), beside its text; the others as text. None: no header to go by."""
    import csv

    if files.options.get("header", True) is False:
        return None
    # utf-8-sig: a byte order mark is no part of the first name, as DuckDB reads it.
    with Path(files.paths[0]).open(newline="", encoding="utf-8-sig", errors="replace") as file:
        first = file.readline()
    delimiter = files.options.get("delim")
    if delimiter is None:  # as DuckDB would guess it, told to DuckDB so that both agree
        delimiter = max(",;\t|", key=first.count) if first else ","
        files.options["delim"] = delimiter
    header = next(csv.reader([first], delimiter=str(delimiter)), [])
    if len({fold(name) for name in header}) < len(header):
        raise UserError(
            f"{files.label}: its header names a column twice (or twice but for case): "
            "give each column its own name"
        )
    declared = {column.name: column for column in contract.columns}
    exposed = []
    for name in header:
        column = declared.get(name)
        kind = None
        if column is not None:
            kind = column.physical or (
                parse_physical_type(LOGICAL_TYPES[column.logical_type])
                if column.logical_type in LOGICAL_TYPES
                else None
            )
        if kind is None or str(kind) == "VARCHAR":
            exposed.append(Exposed(name))
            continue
        exposed.append(Exposed(name, f"TRY_CAST({quote(name)} AS {kind})"))
        exposed.append(Exposed(f"{RAW}{name}", quote(name)))
    return tuple(exposed)


def _alike(files: FileScan, path: str, names: Sequence[str]) -> None:
    """Refuse a file naming two columns alike but for case: the engine's names are
    case-insensitive, and it would rename the second (``ID_1``) out of sight."""
    if len({fold(name) for name in names}) < len(set(names)):
        raise UserError(
            f"{files.label}: {Path(path).name} names two columns alike but for case: Quanta "
            "tells column names apart regardless of case; give each column its own name"
        )


def _parquet_footers(files: FileScan, reader: FooterReader) -> list[Footer] | None:
    """The footers of a Parquet scan's files, once they are known to name the same
    columns alike; None where a file has none to read (the scan then names it).

    The engine's names are case-insensitive and it reads every file by the first one's
    columns: a file naming a column twice but for case would have the second renamed
    (``ID_1``), and one lacking a column, or naming it otherwise, would not be read as
    the contract's column."""
    try:
        footers = reader.footers(files.paths, files.root)
    except Unreadable:
        return None
    for footer in footers:
        _alike(files, footer.path, footer.names)
    for footer in footers[1:]:
        first = footers[0]
        if set(footer.names) != set(first.names):
            lacks = [n for n in first.names if n not in footer.names]
            has = [n for n in footer.names if n not in first.names]
            told = "; ".join(
                part
                for part in (
                    f"it lacks {', '.join(lacks)}" if lacks else "",
                    f"it has {', '.join(has)} besides" if has else "",
                )
                if part
            )
            raise UserError(
                f"{files.label}: {Path(footer.path).name} holds other columns than "
                f"{Path(first.path).name} ({told}): the files of one schema object must "
                "hold the same columns, named alike"
            )
    return footers


def unreadable_rule(target: Target) -> Plan:
    """For a CSV column read as its contract's type: the rows whose text does not read as
    that type (a failed check counting them, not a failed read)."""
    names = [c.name for c in target.contract.columns if f"{RAW}{c.name}" in target.columns]
    # Where each column's type is declared: its physical type, else its logical type.
    typed = {
        c.name: f"schema.0.properties.{index}."
        + ("physicalType" if c.physical_type else "logicalType")
        for index, c in enumerate(target.contract.columns)
    }
    measures = {
        f"unreadable_{index}": (
            f"count(*) FILTER (WHERE {quote(RAW + name)} IS NOT NULL AND {quote(name)} IS NULL)"
        )
        for index, name in enumerate(names)
    }

    def judge(values: dict[str, Any]) -> list[Check]:
        checks = []
        for index, name in enumerate(names):
            bad = int(values.get(f"unreadable_{index}") or 0)
            kind = target.columns.get(name, "")
            checks.append(
                Check(
                    name=f"column {name} values read as {kind}",
                    port=target.port,
                    outcome=Outcome.FAILED if bad else Outcome.PASSED,
                    reason=f"{bad} row{'s' if bad != 1 else ''} hold text that is no {kind}"
                    if bad
                    else "",
                    observed=bad,
                    expected=0,
                    kind="readable",
                    columns=[name],
                    location=typed[name],
                )
            )
        return checks

    return Plan(measures, judge)
