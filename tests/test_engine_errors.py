"""Engine errors as Quanta shows them: what failed, never a value from the data.

The messages are DuckDB's own, produced by running the statement that fails on a real
connection; what may be shown is checked against what the session knows.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from quanta.engines import TransformationFailed, duckdb_errors
from quanta.engines.duckdb import DuckDBEngine
from quanta.engines.duckdb_refusals import refusals
from quanta.errors import PlatformError, QueryRefused, UserError
from quanta.mesh import Mesh
from quanta.model.result import Outcome

EMAIL = "ana.secret@mail.example"


def engine_error(sql: str, value: str) -> duckdb.Error:
    connection = duckdb.connect()
    connection.execute("CREATE TABLE t AS SELECT ? AS email, ? AS v", [value, value])
    with pytest.raises(duckdb.Error) as raised:
        connection.execute(sql).fetchall()
    return raised.value


@pytest.mark.parametrize(
    ("sql", "shown"),
    [
        ("SELECT CAST(email AS INT) FROM t", "could not be converted to INT32 (column email)"),
        ("SELECT email::DATE FROM t", "not a valid date (column email)"),
        ("SELECT email::TIMESTAMP FROM t", "not a valid timestamp (column email)"),
        ("SELECT email::DECIMAL(4,1) FROM t", "could not be converted to DECIMAL(4,1)"),
        ("SELECT email::JSON FROM t", "malformed JSON"),
    ],
)
def test_a_value_error_says_what_failed_without_the_value(sql: str, shown: str) -> None:
    error = engine_error(sql, EMAIL)
    assert EMAIL in str(error)  # DuckDB's own words hold it

    text = duckdb_errors.message(type(error).__name__, str(error), columns={"email", "v"})

    assert shown in text
    assert EMAIL not in text


def test_a_value_cannot_spell_the_parts_of_a_message_that_are_shown() -> None:
    # A value holding a newline can write, inside DuckDB's message, what a pattern reads as
    # the type and the column.
    forged = "x' to SSN_123_45_6789 when casting from source column ana_secret\nrest"
    error = engine_error("SELECT CAST(v AS INT) FROM t", forged)

    text = duckdb_errors.message(type(error).__name__, str(error), columns={"email", "v"})

    assert "SSN_123" not in text
    assert "ana_secret" not in text


def test_no_column_is_named_that_the_session_does_not_have() -> None:
    error = engine_error("SELECT CAST(email AS INT) FROM t", EMAIL)

    text = duckdb_errors.message(type(error).__name__, str(error))

    assert "column" not in text
    assert "INT32" in text


def test_an_error_about_the_sql_is_shown_with_paths_as_users_know_them() -> None:
    error = duckdb.BinderException('Referenced column "nosuch" not found in "/srv/x/a.csv"')

    text = duckdb_errors.message("BinderException", str(error), {"/srv/x/a.csv": "data/a.csv"})

    assert text == 'Referenced column "nosuch" not found in "data/a.csv"'


# -- whose error it is: the user's (QueryRefused) or the engine's (PlatformError) ----------


@pytest.fixture
def engine(tmp_path: Path) -> DuckDBEngine:
    return DuckDBEngine(tmp_path / "extensions", threads=1, scratch_directory=tmp_path)


@pytest.fixture
def small_engine(tmp_path: Path) -> DuckDBEngine:
    """An engine with too little memory for what the tests below ask of it."""
    return DuckDBEngine(
        tmp_path / "extensions", memory_limit="10MB", threads=1, scratch_directory=tmp_path
    )


BIG = "SELECT list(range) AS numbers FROM range(10000000)"
"""A query that needs far more than 10 MB: one list of ten million numbers."""


def test_a_column_that_does_not_exist_is_the_users_error(engine: DuckDBEngine) -> None:
    with engine.session([]) as session, pytest.raises(QueryRefused) as raised:
        session.to_arrow("SELECT nosuch FROM range(3)")

    assert str(raised.value).startswith("the query failed: Binder Error: Referenced column")
    assert "nosuch" in str(raised.value)


def test_a_value_that_does_not_convert_is_the_users_error_without_the_value(
    engine: DuckDBEngine,
) -> None:
    with engine.session([]) as session, pytest.raises(QueryRefused) as raised:
        session.to_arrow(f"SELECT CAST(v AS INT) FROM (SELECT '{EMAIL}' AS v)")

    assert "could not be converted to INT32" in str(raised.value)
    assert EMAIL not in str(raised.value)


def test_running_out_of_memory_is_the_engine_failing(small_engine: DuckDBEngine) -> None:
    with small_engine.session([]) as session, pytest.raises(PlatformError) as raised:
        session.to_arrow(BIG)

    message = str(raised.value)
    assert message.startswith("the engine failed: Out of Memory Error: ")
    assert message.endswith("raise QUANTA_BUILD_MEMORY_LIMIT, or make the work smaller")
    assert not isinstance(raised.value, UserError)


@pytest.mark.parametrize(
    "body",
    [
        f"return inputs.sql({BIG!r})",  # read by Quanta, in the transformation's process
        f"inputs.sql({BIG!r}).fetchall()",  # read by the product's own code
    ],
)
def test_the_engine_failing_under_a_python_transformation_is_the_engines_failure(
    small_engine: DuckDBEngine, body: str
) -> None:
    source = f"def transform(inputs):\n    {body}\n"
    with small_engine.session([]) as session, pytest.raises(PlatformError) as raised:
        session.run_python(source, "transform.py", "transform")

    assert "transform.py" in str(raised.value)
    assert "the engine failed: Out of Memory Error: " in str(raised.value)


def test_a_python_transformations_bad_sql_stays_the_products_failure(
    engine: DuckDBEngine,
) -> None:
    source = "def transform(inputs):\n    return inputs.sql('SELECT nosuch FROM range(3)')\n"
    with engine.session([]) as session, pytest.raises(TransformationFailed) as raised:
        session.run_python(source, "transform.py", "transform")

    assert "transform.py:2: the query failed: Binder Error: Referenced column" in str(raised.value)


def test_a_build_out_of_memory_fails_as_the_engines_failure_not_its_sources(
    tmp_path: Path, source_product: Path
) -> None:
    with Mesh.open(tmp_path / "home", build_memory_limit="10MB", build_threads=1) as mesh:
        [publication] = mesh.publish(source_product)

    # A fault of the platform, not the user's "failed".
    assert publication.outcome == Outcome.ERROR
    assert publication.build is not None
    assert publication.build.outcome == Outcome.ERROR
    assert "the engine failed: Out of Memory Error: " in publication.reason
    assert "QUANTA_BUILD_MEMORY_LIMIT" in publication.reason
    assert "cannot be read as csv" not in publication.reason  # the source is not to blame
    assert mesh.products() == []


@pytest.mark.parametrize("kind", sorted(duckdb_errors.USER_ERRORS))
def test_only_the_kinds_known_to_be_the_users_are_refused(kind: str) -> None:
    error_class = getattr(duckdb, kind)
    assert issubclass(error_class, duckdb.Error)

    with pytest.raises(QueryRefused), refusals():
        raise error_class(f"Some Error: about {EMAIL}")


@pytest.mark.parametrize(
    ("error_class", "text", "shown"),
    [
        (
            duckdb.OutOfMemoryException,
            "Out of Memory Error: failed to allocate data of size 4.0 MiB (6.2 MiB/9.5 MiB used)",
            "Out of Memory Error: failed to allocate data of size 4.0 MiB (6.2 MiB/9.5 MiB used)",
        ),
        (
            duckdb.IOException,
            "IO Error: Could not write file: No space left on device",
            "IO Error: Could not write file: No space left on device",
        ),
        (
            duckdb.TransactionException,
            "TransactionContext Error: Current transaction is aborted (please ROLLBACK)",
            "TransactionContext Error: Current transaction is aborted (please ROLLBACK)",
        ),
        # The other kinds' messages may hold anything: they are told by their kind alone.
        (duckdb.HTTPException, f"HTTP Error: {EMAIL}", "HTTP Error (the details are not shown"),
        (duckdb.InternalException, f"INTERNAL Error: {EMAIL}", "INTERNAL Error (the details"),
        (duckdb.FatalException, f"FATAL Error: {EMAIL}", "FATAL Error (the details"),
        (duckdb.SerializationException, f"Serialization Error: {EMAIL}", "Serialization Error ("),
        (duckdb.Error, f"Unknown Error: {EMAIL}", "Unknown Error (the details are not shown"),
    ],
)
def test_any_other_engine_error_is_the_engine_failing_without_values(
    error_class: type[duckdb.Error], text: str, shown: str
) -> None:
    with pytest.raises(PlatformError) as raised, refusals():
        raise error_class(text)

    assert str(raised.value).startswith(f"the engine failed: {shown}")
    assert EMAIL not in str(raised.value)


@pytest.mark.parametrize(
    ("text", "whose"),
    [
        ("Conversion Error: Could not convert string 'x' to INT32", QueryRefused),
        ("Invalid Input Error: CSV Error on Line: 3", QueryRefused),
        ("Out of Memory Error: failed to allocate data of size 4.0 MiB", PlatformError),
        ("IO Error: Could not write file: No space left on device", PlatformError),
        ("INTERNAL Error: Attempted to access index 3 within vector of size 3", PlatformError),
        ("something pyarrow says", PlatformError),
    ],
)
def test_an_error_while_a_stream_is_read_is_known_by_its_first_words(
    text: str, whose: type[Exception]
) -> None:
    with pytest.raises(whose), refusals():
        raise OSError(text)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT nosuch FROM t",
        "SELECT * FROM nosuch",
        "SELEC 1",
        "SELECT CAST(email AS INT) FROM t",
        "SELECT CAST(2147483647 AS INT) + CAST(v AS INT) FROM (SELECT '1' AS v)",
        "SELECT strptime(email, '%Y') FROM t",
    ],
)
def test_the_first_words_of_duckdbs_messages_name_their_kind(sql: str) -> None:
    error = engine_error(sql, EMAIL)

    assert duckdb_errors.kind_named(str(error)) == type(error).__name__


@pytest.mark.parametrize("folder", ["runs[1]", "all*", "which?"])
def test_an_export_into_a_folder_named_like_a_pattern_counts_its_own_file(
    tmp_path: Path, folder: str
) -> None:
    """DuckDB's readers take ``[1]``, ``*`` and ``?`` in a path as a glob: the file just
    written is read back as the path it is, not as a pattern matching a neighbour's."""
    engine = DuckDBEngine(tmp_path / "extensions", threads=1, scratch_directory=tmp_path)
    neighbour = tmp_path / folder.replace("[", "").replace("]", "").rstrip("*?")
    neighbour.mkdir()
    (neighbour / "seed.csv").write_text("n\n1\n2\n3\n4\n5\n")
    target = tmp_path / folder / "seed.csv"
    assert engine.export("SELECT range AS n FROM range(2)", target, {}) == 2


ROW = """
SELECT 7::TINYINT AS tiny, 18446744073709551615::UBIGINT AS huge, 1.25::FLOAT AS real,
    'nan'::DOUBLE AS nan, 12.50::DECIMAL(6, 2) AS money, 'é'::VARCHAR AS text,
    DATE '2026-12-01' AS day, TIMESTAMP '2026-12-01 10:00:00.123456' AS moment,
    TIME '10:00:00' AS clock, 'x'::BLOB AS bytes, NULL::INTEGER AS nothing,
    [struct_pack(a := 1, b := [DATE '2026-01-01'])] AS nested
"""
EXOTIC = """
SELECT TIMESTAMPTZ '2026-12-01 10:00:00+00' AS zoned, INTERVAL 3 DAY AS span,
    'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::UUID AS id, MAP {'k': 1} AS pairs,
    struct_pack(at := TIMESTAMPTZ '2026-01-01 00:00:00+00') AS sample
"""


@pytest.mark.parametrize("sql", [ROW, EXOTIC], ids=["plain", "exotic"])
def test_a_row_holds_what_arrow_would_hand_over(engine: DuckDBEngine, sql: str) -> None:
    with engine.session([]) as session:
        row = session.row(sql)
        arrow = session.to_arrow(sql).to_pylist()[0]

    assert list(row) == list(arrow)
    for name, value in arrow.items():
        assert type(row[name]) is type(value), name
        assert row[name] == value or (value != value and row[name] != row[name]), name


def test_a_row_that_does_not_convert_is_the_users_error_without_the_value(
    engine: DuckDBEngine,
) -> None:
    with engine.session([]) as session, pytest.raises(QueryRefused) as raised:
        session.row(f"SELECT CAST(v AS INT) AS n FROM (SELECT '{EMAIL}' AS v)")

    assert "could not be converted to INT32" in str(raised.value)
    assert EMAIL not in str(raised.value)
