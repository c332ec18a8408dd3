"""Engine errors as Quanta shows them: what failed, never a value from the data.

The messages are DuckDB's own, produced by running the statement that fails on a real
connection; what may be shown is checked against what the session knows.
"""

from __future__ import annotations

import duckdb
import pytest

from quanta.engines import duckdb_errors

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
