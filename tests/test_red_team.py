"""Red team: SQL that tries to read, change or exhaust what the sandbox guards, each attempt
against both ways SQL reaches the engine.

- **query**: `Mesh.query` on a mesh with published products (``finance.targets`` and
  ``sales.targets``); a few also through the real command line;
- **transformation**: a scaffolded product whose ``transform.sql`` is the attempt, its
  declared input ``raw_items`` standing where the query names a product; validated and
  published, and nothing is published.

Every attempt must be refused with a Quanta `UserError` whose message names what was refused,
without an engine traceback, an absolute path of this machine or a secret's value. Bounds on
work are set low (`Mesh.open(..., query_timeout=..., build_timeout=...)`); no assertion
compares durations.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from quanta.errors import PlatformError, QuantaError, QueryRefused, UserError
from quanta.mesh import Mesh
from quanta.model.result import Outcome
from quanta.scaffold import scaffold

SECRET = "swordfish-7f3a-red-team"
"""In an environment variable, a secret file and a CREATE SECRET: never in a message."""
SECRET_VARIABLE = "RED_TEAM_SECRET"
QUERY_SECONDS = 1
BUILD_SECONDS = 2
MEMORY = "256MB"
COLUMNS = (
    "CAST(id AS BIGINT) AS id, name, category, CAST(amount AS DECIMAL(12, 2)) AS amount, "
    "CAST(updated_at AS TIMESTAMP) AS updated_at"
)
"""The scaffolded contract's columns: a transformation must yield them to be built at all."""
TARGETS = ("query", "transformation")
RELATION = {"query": "finance.targets", "transformation": "raw_items"}
FULLWIDTH = {code: code + 0xFEE0 for code in range(ord("a"), ord("z") + 1)}


@dataclass(frozen=True)
class Attempt:
    id: str
    sql: str
    """``{t}`` is the relation: a published product in a query, the declared input in a
    transformation."""
    mention: str | tuple[str, str]
    """What the refusal names: in both targets, or (in a query, in a transformation)."""
    relation: Callable[[str], str] = str
    """How the attempt disguises the relation's name."""
    cli: bool = False
    """Also run through ``python -m quanta query``."""

    def sql_for(self, target: str) -> str:
        return self.sql.replace("{t}", self.relation(RELATION[target]))

    def mention_for(self, target: str) -> str:
        if isinstance(self.mention, str):
            return self.mention
        return self.mention[TARGETS.index(target)]


NOT_ALLOWED = "is not allowed"
UNKNOWN_NAME = ("no published product or port is called", "which is not declared")
NOT_A_QUERY = "may only read data, but this statement is"
NOT_ONE = "must be exactly one SELECT statement, found 2"


def slug(sql: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "-", sql.lower()).strip("-")[:60]


def reader(name: str, argument: str = "'/etc/passwd'", *, cli: bool = False) -> Attempt:
    """A table function that reads files, settings, the catalog or SQL text."""
    sql = f"SELECT * FROM {name}({argument})"
    return Attempt(slug(sql), sql, f"the table function {name}() is not allowed", cli=cli)


def statement(kind: str, sql: str, *, cli: bool = False) -> Attempt:
    """A statement that is not a query."""
    return Attempt(slug(sql), sql, f"{NOT_A_QUERY} {kind}", cli=cli)


ATTEMPTS = [
    # -- file readers, and their _auto forms --------------------------------------------------
    reader("read_csv", cli=True),
    reader("read_csv_auto", "'../secret.csv'"),
    reader("read_parquet", "'../**/*.parquet'"),
    reader("parquet_scan", "['a.parquet', 'b.parquet']"),
    reader("read_json", "'~/.aws/credentials'"),
    reader("read_json_auto", "'/proc/self/environ'"),
    reader("read_ndjson_auto", "'x.ndjson'"),
    reader("read_text", "'/proc/self/environ'"),
    reader("read_blob", "'/etc/shadow'"),
    reader("glob", "'/home/*/.ssh/*'"),
    reader("parquet_metadata", "'../**/*.parquet'"),
    reader("parquet_schema", "'../**/*.parquet'"),
    reader("sniff_csv", "'../secret.csv'"),
    reader("iceberg_scan", "'../warehouse/finance/targets__targets__v1'"),
    reader("iceberg_metadata", "'../warehouse/finance/targets__targets__v1'"),
    Attempt(
        "read_text-in-a-scalar-subquery",
        "SELECT (SELECT content FROM read_text('/etc/hostname')) AS c FROM {t}",
        "read_text() is not allowed",
    ),
    Attempt(
        "read_text-after-lateral",
        "SELECT * FROM {t}, LATERAL read_text('/etc/hostname')",
        "read_text() is not allowed",
    ),
    Attempt(
        "replacement-scan-of-a-csv-file",
        "SELECT * FROM 'secret.csv'",
        "reads the file 'secret.csv' directly",
    ),
    Attempt(
        "replacement-scan-of-the-declared-source-file",
        'SELECT * FROM "data/items.csv"',
        "reads the file 'data/items.csv' directly",
    ),
    Attempt(
        "replacement-scan-of-a-parquet-glob",
        "SELECT * FROM '../**/*.parquet'",
        "reads the file '../**/*.parquet' directly",
    ),
    # -- path tricks -----------------------------------------------------------------------
    Attempt("dot-dot", "SELECT * FROM '../../catalog.db'", "reads the file '../../catalog.db'"),
    Attempt("absolute-path", "SELECT * FROM '/etc/passwd'", "reads the file '/etc/passwd'"),
    Attempt("home-tilde", "SELECT * FROM '~/.netrc'", "reads the file '~/.netrc'"),
    Attempt(
        "symbolic-link-to-a-secret",
        "SELECT * FROM read_csv('data/link.csv')",
        "read_csv() is not allowed",
    ),
    Attempt(
        "symbolic-link-as-a-name",
        "SELECT * FROM 'data/link.csv'",
        "reads the file 'data/link.csv' directly",
    ),
    Attempt(
        "file-url", "SELECT * FROM 'file:///etc/passwd'", "reads the file 'file:///etc/passwd'"
    ),
    Attempt(
        "http-url",
        "SELECT * FROM read_csv('https://example.com/x.csv')",
        "read_csv() is not allowed",
    ),
    Attempt(
        "s3-url", "SELECT * FROM 's3://bucket/x.parquet'", "reads the file 's3://bucket/x.parquet'"
    ),
    # -- quoting tricks --------------------------------------------------------------------
    Attempt(
        "quoted-function-name",
        "SELECT * FROM \"read_csv\"('/etc/passwd')",
        "read_csv() is not allowed",
    ),
    Attempt(
        "mixed-case-function-name",
        "SELECT * FROM ReAd_TeXt('/etc/passwd')",
        "read_text() is not allowed",
    ),
    Attempt(
        "schema-qualified-function",
        "SELECT * FROM main.read_csv('/etc/passwd')",
        "read_csv() is not allowed",
    ),
    Attempt(
        "catalog-qualified-function",
        'SELECT * FROM "system"."main"."read_text"(\'/etc/passwd\')',
        "read_text() is not allowed",
    ),
    Attempt(
        "qualified-scalar-function",
        "SELECT system.main.getenv('HOME') AS h",
        "getenv() is not allowed",
    ),
    # -- look-alike names ------------------------------------------------------------------
    Attempt(
        "fullwidth-function-name",
        "SELECT * FROM \uff52\uff45\uff41\uff44_csv('/etc/passwd')",
        "\uff52\uff45\uff41\uff44_csv() is not allowed",
    ),
    Attempt(
        "cyrillic-a-in-function-name",
        "SELECT * FROM re\u0430d_text('/etc/passwd')",
        "re\u0430d_text() is not allowed",
    ),
    Attempt(
        "zero-width-joiner-in-function-name",
        "SELECT * FROM read\u200d_text('/etc/passwd')",
        "read\u200d_text() is not allowed",
    ),
    Attempt(
        "combining-mark-in-function-name",
        "SELECT * FROM read_te\u0301xt('/etc/passwd')",
        "read_te\u0301xt() is not allowed",
    ),
    Attempt(
        "fullwidth-product-name",
        "SELECT * FROM {t}",
        UNKNOWN_NAME,
        relation=lambda name: name.translate(FULLWIDTH),
    ),
    Attempt(
        "cyrillic-a-in-product-name",
        "SELECT * FROM {t}",
        UNKNOWN_NAME,
        relation=lambda name: name.replace("a", "\u0430", 1),
    ),
    Attempt(
        "zero-width-joiner-in-product-name",
        "SELECT * FROM {t}",
        UNKNOWN_NAME,
        relation=lambda name: name[:3] + "\u200d" + name[3:],
    ),
    Attempt(
        "combining-mark-in-product-name",
        'SELECT * FROM "{t}"',
        UNKNOWN_NAME,
        relation=lambda name: name.replace(".", '"."') + "\u0301",
    ),
    Attempt("fullwidth-keywords", "\uff33\uff25\uff2c\uff25\uff23\uff34 1", "does not parse"),
    # -- shadowing: CTEs and subqueries ----------------------------------------------------
    Attempt(
        "cte-shadowing-the-relation",
        "WITH targets AS (SELECT * FROM read_text('/etc/passwd')), "
        "raw_items AS (SELECT * FROM targets) SELECT * FROM {t}",
        "read_text() is not allowed",
    ),
    Attempt(
        "cte-name-does-not-make-a-qualified-name-readable",
        "WITH targets AS (SELECT 1 AS id) SELECT * FROM system.main.targets",
        "'system.main.targets'",
    ),
    Attempt(
        "cte-named-as-a-file-out-of-its-scope",
        'SELECT * FROM (WITH "x.csv" AS (SELECT 1 AS id) SELECT * FROM {t}) AS a, "x.csv"',
        "reads the file 'x.csv' directly",
    ),
    Attempt(
        "subquery-aliased-as-the-relation",
        "SELECT * FROM (SELECT * FROM '/etc/passwd') AS targets",
        "reads the file '/etc/passwd' directly",
    ),
    Attempt(
        "recursive-cte-anchor-reads-its-name-as-a-file",
        'WITH RECURSIVE "/etc/passwd"(n) AS (SELECT * FROM "/etc/passwd" '
        'UNION ALL SELECT n FROM "/etc/passwd") SELECT * FROM "/etc/passwd"',
        "reads the file '/etc/passwd' directly",
    ),
    Attempt(
        "recursive-cte-smuggles-a-reader",
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL "
        "SELECT length(content) FROM r, read_text('/etc/passwd') WHERE n < 2) SELECT * FROM r",
        "read_text() is not allowed",
    ),
    Attempt(
        "recurring-outside-a-recursive-cte",
        "SELECT * FROM recurring.targets",
        "'recurring.targets'",
    ),
    # -- views, macros, secrets ------------------------------------------------------------
    statement("CREATE", "CREATE VIEW v AS SELECT * FROM read_csv('/etc/passwd')"),
    statement("CREATE", "CREATE OR REPLACE MACRO lower(x) AS getenv('HOME')"),
    statement("CREATE", "CREATE TEMP TABLE t AS SELECT * FROM {t}"),
    statement("CREATE", f"CREATE SECRET s (TYPE s3, KEY_ID 'AKIA-RED-TEAM', SECRET '{SECRET}')"),
    # -- settings and the engine's state ---------------------------------------------------
    Attempt(
        "current_setting",
        "SELECT current_setting('allowed_directories') AS d",
        "current_setting() is not allowed",
    ),
    reader("duckdb_settings", ""),
    reader("duckdb_secrets", ""),
    reader("duckdb_extensions", ""),
    reader("duckdb_databases", ""),
    reader("pragma_database_list", ""),
    reader("pragma_table_info", "'{t}'"),
    reader("pragma_storage_info", "'{t}'"),
    Attempt(
        "getenv",
        f"SELECT getenv('{SECRET_VARIABLE}') AS s FROM {{t}}",
        "getenv() is not allowed",
        cli=True,
    ),
    Attempt(
        "which_secret",
        "SELECT which_secret('s3://b/x', 's3') AS s",
        "which_secret() is not allowed",
    ),
    Attempt("getvariable", "SELECT getvariable('v') AS v", "getvariable() is not allowed"),
    Attempt(
        "version-and-database",
        "SELECT version() AS v, current_database() AS d",
        "version() is not allowed",
    ),
    # Keywords SQL writes without parentheses, which DuckDB calls as functions.
    Attempt("current_schema", "SELECT current_schema AS s", "current_schema", cli=True),
    Attempt("current_catalog", "SELECT current_catalog AS c FROM {t}", "current_catalog"),
    Attempt("current_user", 'SELECT "CURRENT_USER" AS u', "current_user"),
    Attempt("session_user", "SELECT * FROM {t} WHERE session_user = 'x'", "session_user"),
    Attempt("user-in-a-lambda", "SELECT list_transform([1], x -> user) AS u", "which reads"),
    Attempt(
        "aggregate-by-name",
        "SELECT list_aggr(['v'], 'getvariable') AS v",
        "list_aggr() may call only an allowed aggregate function",
    ),
    Attempt(
        "aggregate-by-computed-name",
        "SELECT aggregate([1], lower('GETVARIABLE')) AS v",
        "aggregate() may call only an allowed aggregate function",
    ),
    # -- statements that are not queries ---------------------------------------------------
    statement("ATTACH", "ATTACH '../catalog.db' AS catalog (TYPE sqlite)", cli=True),
    statement("DETACH", "DETACH finance"),
    statement("COPY", "COPY (SELECT * FROM {t}) TO 'out.csv'"),
    statement("COPY", "COPY {t} FROM '/etc/passwd'"),
    statement("EXPORT", "EXPORT DATABASE 'dump'"),
    statement("IMPORT", "IMPORT DATABASE 'dump'"),
    statement("INSTALL", "INSTALL httpfs"),
    statement("LOAD", "LOAD '../extensions/evil.duckdb_extension'"),
    statement("PRAGMA", "PRAGMA database_list"),
    statement("SET", "SET enable_external_access = true"),
    statement("SET", "SET allowed_directories = ['/']"),
    statement("RESET", "RESET allowed_paths"),
    statement("CALL", "CALL duckdb_settings()"),
    statement("USE", "USE system"),
    statement("CHECKPOINT", "CHECKPOINT"),
    statement("INSERT", "INSERT INTO {t} SELECT * FROM {t}"),
    statement("DROP", "DROP VIEW {t}"),
    statement("EXPLAIN", "EXPLAIN ANALYZE SELECT * FROM read_csv('/etc/passwd')"),
    statement("BEGIN", "BEGIN TRANSACTION"),
    # -- comments, strings and several statements ------------------------------------------
    Attempt(
        "line-comment-ends-before-a-statement",
        "SELECT * FROM {t} -- a comment\n; ATTACH 'x.db' AS x",
        NOT_ONE,
    ),
    Attempt(
        "block-comment-before-a-statement",
        "SELECT * FROM {t} /* a comment */; COPY (SELECT 1) TO 'out.csv'",
        NOT_ONE,
    ),
    Attempt(
        "nested-comment-closes-before-a-statement",
        "SELECT 1 /* outer /* inner */ still comment */; DETACH finance",
        NOT_ONE,
    ),
    Attempt(
        "comment-hides-the-first-word",
        "/* SELECT */ ATTACH 'x.db' AS x",
        f"{NOT_A_QUERY} ATTACH",
    ),
    Attempt(
        "line-comment-hides-the-first-word",
        "-- SELECT * FROM {t}\nINSTALL httpfs",
        f"{NOT_A_QUERY} INSTALL",
    ),
    Attempt(
        "semicolon-in-a-comment-then-a-statement",
        "SELECT * FROM {t} /* ; */ ; SET enable_external_access = true",
        NOT_ONE,
    ),
    Attempt(
        "semicolon-in-a-string-then-a-statement",
        "SELECT 'a;b' AS s; LOAD httpfs",
        NOT_ONE,
    ),
    Attempt(
        "dollar-quoted-string-then-a-statement",
        "SELECT $q$ ' ; $q$ AS s; CALL duckdb_settings()",
        NOT_ONE,
    ),
    Attempt(
        "dollar-quoted-path",
        "SELECT * FROM read_text($$/etc/passwd$$)",
        "read_text() is not allowed",
    ),
    Attempt(
        "two-queries",
        "SELECT * FROM {t}; SELECT * FROM read_csv('/etc/passwd')",
        NOT_ONE,
        cli=True,
    ),
    Attempt("nul-byte", "SELECT 1 AS x\x00; ATTACH 'x.db' AS x", "holds a NUL character"),
    Attempt(
        "bytes-that-are-no-utf8",
        "SELECT '\udcff' AS x",
        ("holds bytes that are not UTF-8 text", "the file is not UTF-8 text"),
        cli=True,
    ),
    # -- SQL text as data: query(), query_table(), lambdas ---------------------------------
    reader("query", "'SELECT * FROM read_text(''/etc/passwd'')'"),
    reader("query_table", "'{t}'"),
    reader("query_table", "['secret.csv']"),
    Attempt(
        "lambda-smuggles-a-table-function",
        "SELECT list_transform(['/etc/passwd'], f -> (SELECT content FROM read_text(f))) AS l",
        "read_text() is not allowed",
    ),
    Attempt(
        "lambda-smuggles-a-scalar-reader",
        "SELECT apply(['HOME'], v -> getenv(v)) AS l",
        "getenv() is not allowed",
    ),
    Attempt(
        "star-replace-smuggles-a-reader",
        "SELECT * REPLACE (getenv('HOME') AS name) FROM {t}",
        "getenv() is not allowed",
    ),
    Attempt(
        "time-travel-smuggles-a-reader",
        "SELECT * FROM {t} AT (VERSION => getvariable('v'))",
        "getvariable() is not allowed",
    ),
    Attempt("parameter", "SELECT * FROM {t} WHERE id = $1", "a parameter ($1 or ?)"),
    # -- DESCRIBE, SHOW, SUMMARIZE, PIVOT, prepared statements -----------------------------
    statement("SUMMARIZE", "SUMMARIZE {t}"),
    statement("DESCRIBE", "DESCRIBE {t}"),
    statement("SHOW", "SHOW ALL TABLES"),
    Attempt(
        "describe-as-a-subquery",
        "SELECT * FROM (DESCRIBE SELECT * FROM read_csv('/etc/passwd'))",
        "DESCRIBE, SHOW and SUMMARIZE are not allowed",
    ),
    statement("PIVOT", "PIVOT {t} ON category USING sum(amount)"),
    statement("PREPARE", "PREPARE p AS SELECT * FROM read_csv('/etc/passwd')"),
    statement("EXECUTE", "EXECUTE p"),
    # -- the catalog -----------------------------------------------------------------------
    Attempt(
        "information_schema",
        "SELECT * FROM information_schema.tables",
        "'information_schema.tables'",
    ),
    reader("duckdb_tables", ""),
    reader("duckdb_views", ""),
    reader("duckdb_columns", ""),
    Attempt("duckdb_views-as-a-view", "SELECT sql FROM duckdb_views", "'duckdb_views'"),
    Attempt("pg_catalog", "SELECT * FROM pg_catalog.pg_views", "'pg_catalog.pg_views'"),
    Attempt("sqlite_master", "SELECT * FROM sqlite_master", "'sqlite_master'"),
    # -- work the engine cannot interrupt: planning ----------------------------------------
    Attempt(
        "deeply-nested-calls",
        "SELECT " + "upper(" * 600 + "name" + ")" * 600 + " AS x FROM {t}",
        "nests calls and operators 600 levels deep, more than the 400",
    ),
    Attempt(
        "nesting-deeper-than-the-parser-reads",
        "SELECT " + "(" * 100_000 + "1" + ")" * 100_000,
        "nests expressions too deeply",
    ),
    Attempt(
        "nested-subqueries",
        "SELECT " + "(SELECT " * 26 + "1" + ")" * 26 + " AS x",
        "nests subqueries within subqueries too deeply",
    ),
    Attempt(
        "nested-subqueries-through-ctes",
        "WITH c0 AS (SELECT 1 AS x), "
        + ", ".join(f"c{i} AS (SELECT (SELECT x FROM c{i - 1}) AS x)" for i in range(1, 30))
        + " SELECT * FROM c29",
        "through the CTEs they read",
    ),
    Attempt(
        "cte-bomb-not-materialized",
        "WITH c0 AS (SELECT 1 AS x), "
        + ", ".join(
            f"c{i} AS NOT MATERIALIZED (SELECT a.x FROM c{i - 1} a, c{i - 1} b)"
            for i in range(1, 24)
        )
        + " SELECT count(*) FROM c23",
        "(each use of a CTE counting what it reads)",
    ),
    Attempt(
        "a-hundred-way-join",
        "SELECT count(*) FROM {t} t0"
        + "".join(f" JOIN range(2) t{i} ON t0.id = t{i}.range" for i in range(1, 100)),
        "reads 100 relations",
    ),
    Attempt(
        "cube-of-thirteen-columns",
        "SELECT count(*) FROM (SELECT "
        + ", ".join(f"range % {i + 2} AS c{i}" for i in range(13))
        + " FROM range(10)) GROUP BY CUBE ("
        + ", ".join(f"c{i}" for i in range(13))
        + ")",
        "groups by 8192 grouping sets",
    ),
    Attempt(
        "sql-larger-than-the-guard-reads",
        "SELECT '" + "x" * 300_000 + "' AS x",
        "over the limit of 262,144",
    ),
]


@dataclass(frozen=True)
class Exhaustion:
    id: str
    sql: str
    """A query whose one row is a number (a transformation compares it, to yield no row)."""
    mention: str
    """A regular expression: the limit or reason the refusal names (any attempt may meet the
    time limit first, on a slow machine: the time limit is always a clean stop)."""
    memory: bool = False
    """The engine may run out of memory first: a `PlatformError` naming the memory limit
    (as `tests/test_engine_errors.py` has it), never a crash."""


EXHAUSTION = [
    Exhaustion(
        "huge-generate_series-cross-join",
        "SELECT count(*) FROM generate_series(1, 1000000000) AS a, "
        "generate_series(1, 1000000000) AS b",
        "time limit",
    ),
    Exhaustion(
        "huge-range-cross-join",
        "SELECT sum(a.range * b.range) FROM range(100000000) AS a, range(100000000) AS b",
        "time limit",
    ),
    Exhaustion(
        "recursive-cte-without-end",
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r",
        "time limit",
    ),
    Exhaustion("giant-string", "SELECT length(repeat('x', 20000000000))", "Out of Range Error"),
    Exhaustion(
        "giant-strings-row-after-row",
        "SELECT max(length(repeat('x', 10000))) FROM range(1000000000000)",
        "time limit",
    ),
    Exhaustion(
        "giant-aggregate-string",
        "SELECT length(string_agg(repeat('x', 1000), '')) FROM range(10000000)",
        "QUANTA_BUILD_MEMORY_LIMIT",
        memory=True,
    ),
]


# -- the mesh and the checks every refusal passes ----------------------------------------------
@dataclass
class RedTeam:
    mesh: Mesh
    home: Path
    workspace: Path
    machine: tuple[str, ...]
    """Absolute paths of this machine that no message may show."""

    def clean(self, message: str) -> None:
        assert message.strip(), "the refusal says nothing"
        assert "Traceback" not in message
        assert 'File "' not in message
        assert SECRET not in message
        for path in self.machine:
            assert path not in message, f"{path} shown in: {message}"


@pytest.fixture(scope="module")
def red_team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedTeam]:
    root = tmp_path_factory.mktemp("red-team")
    home = root / "home"
    workspace = root / "products"
    workspace.mkdir()
    (root / "secret.csv").write_text(f"secret\n{SECRET}\n")
    (workspace / "data").mkdir()
    (workspace / "data" / "link.csv").symlink_to(root / "secret.csv")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(SECRET_VARIABLE, SECRET)
        patch.chdir(workspace)  # relative paths in attempts start here
        with Mesh.open(home) as mesh:
            for product in ("finance/targets", "sales/targets"):
                [publication] = mesh.publish(scaffold(product, "source", workspace, {}))
                assert publication.outcome == Outcome.PASSED, publication.reason
        with Mesh.open(
            home,
            query_timeout=QUERY_SECONDS,
            build_timeout=BUILD_SECONDS,
            build_memory_limit=MEMORY,
        ) as mesh:
            assert [record.id for record in mesh.products()] == [
                "finance.targets",
                "sales.targets",
            ]
            yield RedTeam(mesh, home, workspace, (str(root), str(Path(__file__).parents[1])))


@pytest.fixture
def attack_folder(red_team: RedTeam, tmp_path: Path) -> Path:
    """A product whose transformation is about to become an attempt, never published."""
    folder = scaffold("redteam/attack", "source", tmp_path, {})
    (folder / "data" / "link.csv").symlink_to(red_team.workspace / "data" / "link.csv")
    return folder


def write(folder: Path, sql: str) -> None:
    # Surrogates stand for bytes that are no UTF-8: written as those bytes.
    (folder / "transform.sql").write_bytes(sql.encode("utf-8", "surrogateescape"))


def refused_query(red_team: RedTeam, sql: str) -> UserError:
    with pytest.raises(UserError) as raised:
        red_team.mesh.query(sql)
    red_team.clean(str(raised.value))
    return raised.value


def refused_transformation(red_team: RedTeam, folder: Path, sql: str, mention: str) -> None:
    """Refused at validate, with the reason; publishing it publishes nothing."""
    mesh = red_team.mesh
    before = mesh.products()
    write(folder, sql)
    [validation] = mesh.validate(folder)
    assert validation.outcome == Outcome.FAILED
    said = [f"{issue.message} ({issue.hint})" for issue in validation.issues]
    assert any(mention in words for words in said), said
    for words in said:
        red_team.clean(words)
    [publication] = mesh.publish(folder)
    assert publication.outcome == Outcome.FAILED, publication.reason
    assert publication.validation is not None
    assert publication.validation.issues == validation.issues
    red_team.clean(publication.reason)
    assert mesh.products() == before


# -- every attempt, both targets -----------------------------------------------------------
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("attempt", ATTEMPTS, ids=[attempt.id for attempt in ATTEMPTS])
def test_the_attempt_is_refused_naming_what(
    red_team: RedTeam, attack_folder: Path, attempt: Attempt, target: str
) -> None:
    sql, mention = attempt.sql_for(target), attempt.mention_for(target)
    if target == "query":
        refusal = refused_query(red_team, sql)
        assert mention in str(refusal), str(refusal)
    else:
        refused_transformation(red_team, attack_folder, sql, mention)


def test_the_attempts_are_many_and_distinct() -> None:
    assert len(ATTEMPTS) >= 40
    assert len({attempt.id for attempt in ATTEMPTS}) == len(ATTEMPTS)
    assert len({tuple(map(attempt.sql_for, TARGETS)) for attempt in ATTEMPTS}) == len(ATTEMPTS)


# -- work the engine must stop: under the time and memory limits ---------------------------------
def assert_stopped(
    red_team: RedTeam, message: str, exhaustion: Exhaustion, *, engine_failed: bool, setting: str
) -> None:
    """Stopped at a limit the message names (with its setting), or refused for a reason it
    names; the engine running out of memory is its failure, naming the memory limit."""
    red_team.clean(message)
    assert re.search(f"{exhaustion.mention}|time limit", message), message
    if engine_failed:
        assert exhaustion.memory, message
        assert "QUANTA_BUILD_MEMORY_LIMIT" in message
    elif "time limit" in message:
        assert setting in message


@pytest.mark.parametrize("exhaustion", EXHAUSTION, ids=[e.id for e in EXHAUSTION])
def test_a_query_that_exhausts_the_engine_is_stopped_at_a_limit(
    red_team: RedTeam, exhaustion: Exhaustion
) -> None:
    with pytest.raises(QuantaError) as raised:
        red_team.mesh.query(exhaustion.sql)
    engine_failed = isinstance(raised.value, PlatformError)
    assert engine_failed or isinstance(raised.value, QueryRefused)
    assert_stopped(
        red_team,
        str(raised.value),
        exhaustion,
        engine_failed=engine_failed,
        setting="QUANTA_QUERY_TIMEOUT",
    )
    # The mesh carries on.
    assert red_team.mesh.query("SELECT count(*) AS n FROM sales.targets").to_pylist() == [{"n": 3}]


@pytest.mark.parametrize("exhaustion", EXHAUSTION, ids=[e.id for e in EXHAUSTION])
def test_a_transformation_that_exhausts_the_engine_is_stopped_and_publishes_nothing(
    red_team: RedTeam, attack_folder: Path, exhaustion: Exhaustion
) -> None:
    mesh = red_team.mesh
    before = mesh.products()
    # The guard lets it through: the engine runs it, and its output would be empty.
    write(attack_folder, f"SELECT {COLUMNS} FROM raw_items WHERE ({exhaustion.sql}) < 0\n")
    [validation] = mesh.validate(attack_folder)
    assert validation.issues == []
    [publication] = mesh.publish(attack_folder)
    assert publication.outcome in (Outcome.FAILED, Outcome.ERROR), publication.reason
    assert_stopped(
        red_team,
        publication.reason,
        exhaustion,
        engine_failed=publication.outcome == Outcome.ERROR,
        setting="QUANTA_BUILD_TIMEOUT",
    )
    assert mesh.products() == before


# -- the real command line -----------------------------------------------------------------
CLI_ATTEMPTS = [attempt for attempt in ATTEMPTS if attempt.cli]


@dataclass(frozen=True)
class Ran:
    code: int
    output: str


@pytest.fixture(scope="module")
def command_line(red_team: RedTeam) -> dict[str, Ran]:
    """Each command line attempt's exit code and output, all run at once (each process
    takes seconds to start)."""
    environment = os.environ | {
        SECRET_VARIABLE: SECRET,
        "QUANTA_QUERY_TIMEOUT": str(QUERY_SECONDS),
        "QUANTA_BUILD_MEMORY_LIMIT": MEMORY,
        "COLUMNS": "1000",  # one line per message, unwrapped
    }
    queries = {attempt.id: attempt.sql_for("query") for attempt in CLI_ATTEMPTS} | UNSHOWN
    running = {
        name: subprocess.Popen(
            [
                sys.executable,
                "-m",
                "quanta",
                "query",
                "--home",
                str(red_team.home),
                sql.encode("utf-8", "surrogateescape"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=environment,
            cwd=red_team.workspace,
        )
        for name, sql in queries.items()
    }
    ran = {}
    for name, process in running.items():
        output, _ = process.communicate(timeout=120)
        ran[name] = Ran(process.returncode, output.decode("utf-8", "replace"))
    return ran


@pytest.mark.parametrize("attempt", CLI_ATTEMPTS, ids=[attempt.id for attempt in CLI_ATTEMPTS])
def test_the_command_line_says_what_was_refused_without_a_traceback(
    red_team: RedTeam, command_line: dict[str, Ran], attempt: Attempt
) -> None:
    ran = command_line[attempt.id]
    assert ran.code == UserError.exit_code, ran.output
    shown = " ".join(ran.output.split())
    assert shown.startswith("error: "), ran.output
    assert attempt.mention_for("query") in shown, ran.output
    red_team.clean(ran.output)


def test_a_handful_of_attempts_run_through_the_command_line() -> None:
    assert len(CLI_ATTEMPTS) >= 5


UNSHOWN = {
    "infinite-timestamp": "SELECT 'infinity'::TIMESTAMP AS t",
    "date-past-python": "SELECT DATE '294247-01-10' AS d",
}
"""Values the engine returns and Python's datetime cannot hold."""


@pytest.mark.parametrize("name", UNSHOWN)
def test_the_command_line_shows_what_python_cannot_hold_without_a_traceback(
    command_line: dict[str, Ran], name: str
) -> None:
    ran = command_line[name]
    assert "Traceback" not in ran.output
    assert ran.code in (0, UserError.exit_code), ran.output


# -- below the guard: the engine's own sandbox ---------------------------------------------
SANDBOXED = [
    "SELECT * FROM read_csv('../secret.csv')",
    "SELECT * FROM read_text('data/link.csv')",
    "SELECT * FROM read_blob('/proc/self/environ')",
    "SELECT * FROM '../secret.csv'",
    "SELECT * FROM glob('../*')",
    "SELECT * FROM read_csv('https://example.com/x.csv')",
    "SELECT * FROM query('SELECT * FROM read_text(''../secret.csv'')')",
    "SELECT * FROM parquet_metadata('../home/warehouse/finance/**/*.parquet')",
    "SELECT getenv('RED_TEAM_SECRET') AS s",
    "SELECT * FROM duckdb_secrets()",
    "SET enable_external_access = true",
    "SET allowed_directories = ['/']",
    "ATTACH '../home/catalog.db' AS catalog (TYPE sqlite)",
    "COPY (SELECT 1) TO 'out.csv'",
    "INSTALL httpfs",
]


@pytest.mark.parametrize("sql", SANDBOXED)
def test_what_reaches_the_engine_past_the_guard_meets_its_sandbox(
    red_team: RedTeam, sql: str
) -> None:
    with red_team.mesh.engine.session([]) as session, pytest.raises(UserError) as raised:
        session.to_arrow(sql)
    red_team.clean(str(raised.value))
    assert not (red_team.workspace / "out.csv").exists()
