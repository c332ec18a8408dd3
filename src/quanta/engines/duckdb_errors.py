"""DuckDB's error messages as Quanta shows them: without values from the data, without paths.

An engine error is shown to the user, kept in a build's reason and printed in logs, so it
must not carry what the rows hold: ``Could not convert string 'ana@mail.example' to INT32``
would put an email address into all of them. Errors about the SQL itself (a column that
does not exist, a syntax error) hold only what the user wrote and are shown as they are.
Errors raised while reading values are rebuilt from what is known to be safe in them (the
kind of error, types, column names, line numbers), by the patterns below; an error no
pattern knows is shown by its kind alone. Absolute paths of the session's files are shown
as the names the user knows them by.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

SQL_ERRORS = frozenset(
    {
        "BinderException",
        "CatalogException",
        "ParserException",
        "SyntaxException",
        "PermissionException",
        "InterruptException",
        "OutOfMemoryException",
        "NotImplementedException",
        "DependencyException",
        "TransactionException",
        "IOException",
    }
)
"""Errors about the statement or the engine, never about a value in the data."""

IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
TYPE = r"[A-Z][A-Z0-9_]*(?:\(\d+(?:,\s*\d+)?\))?(?:\[\])?"
COLUMN = rf"(?: when casting from source column (?P<column>{IDENTIFIER}))?"
FILE = r"(?P<file>/[^\n\"']+)"


def _column(match: re.Match[str]) -> str:
    column = match.groupdict().get("column")
    return f" (column {column})" if column else ""


Rewrite = Callable[[re.Match[str], Callable[[str], str]], str]


def _csv_row(match: re.Match[str], name: Callable[[str], str]) -> str:
    text = match.string
    where = f"line {match['line']}"
    found = re.search(rf"^\s*file = {FILE}\s*$", text, re.MULTILINE)
    if found:
        where += f" of {name(found['file'])}"
    converting = re.search(
        rf'Error when converting column "(?P<column>{IDENTIFIER})"\..* to \'?(?P<type>{TYPE})',
        text,
    )
    if converting:
        return f"{where}: column {converting['column']} cannot be read as {converting['type']}"
    return f"{where}: the row cannot be read"


VALUE_ERRORS: tuple[tuple[re.Pattern[str], Rewrite], ...] = (
    (re.compile(r"CSV Error on Line: (?P<line>\d+)"), _csv_row),
    (
        re.compile(rf"Could not convert string .* to '?(?P<type>{TYPE})'?{COLUMN}"),
        lambda m, _n: f"a text value could not be converted to {m['type']}{_column(m)}",
    ),
    (
        re.compile(
            rf"invalid (?P<kind>date|timestamp|time) field format: .*, expected format is "
            rf".*?\){COLUMN}$",
            re.MULTILINE,
        ),
        lambda m, _n: f"a text value is not a valid {m['kind']}{_column(m)}",
    ),
    (
        re.compile(rf"(?P<kind>date|time|timestamp) field value out of range: .*?{COLUMN}$", re.M),
        lambda m, _n: f"a value is out of range for a {m['kind']}{_column(m)}",
    ),
    (
        re.compile(
            rf"Type (?P<source>{TYPE}) with value .* can't be cast because the value is out "
            rf"of range for the destination type (?P<type>{TYPE}){COLUMN}"
        ),
        lambda m, _n: f"a {m['source']} value is out of range for {m['type']}{_column(m)}",
    ),
    (
        re.compile(rf"Could not cast value .* to (?P<type>{TYPE})"),
        lambda m, _n: f"a value does not fit {m['type']}",
    ),
    (
        re.compile(rf"Overflow in (?P<operation>[a-z]+) of (?P<type>{TYPE})"),
        lambda m, _n: f"overflow in {m['operation']} of {m['type']}",
    ),
    (
        re.compile(
            rf"Malformed JSON in file \"{FILE}\", at byte (?P<byte>\d+) in record/value "
            rf"(?P<record>\d+): (?P<why>[a-z ]+)"
        ),
        lambda m, n: (
            f"malformed JSON in {n(m['file'])}, at byte {m['byte']} of record {m['record']} "
            f"({m['why'].strip()})"
        ),
    ),
    (
        re.compile(r"Malformed JSON at byte (?P<byte>\d+) of input: (?P<why>[a-z ]+)"),
        lambda m, _n: f"malformed JSON at byte {m['byte']} of a value ({m['why'].strip()})",
    ),
    (
        re.compile(rf"No magic bytes found at end of file '{FILE}'"),
        lambda m, n: f"{n(m['file'])} is not a Parquet file",
    ),
    (
        re.compile(r"Expected (?P<expected>[A-Z]+), but got (?P<got>[A-Z]+)"),
        lambda m, _n: f"expected {m['expected']}, but a value is {m['got']}",
    ),
    (
        re.compile(r"Could not parse string .* according to format specifier"),
        lambda _m, _n: "a text value does not match the format",
    ),
    (
        re.compile(rf"Unimplemented type for cast \((?P<cast>{TYPE} -> {TYPE})\)"),
        lambda m, _n: f"no cast {m['cast']}",
    ),
)


def message(kind: str, text: str, paths: Mapping[str, str] = {}) -> str:
    """The one line of an engine error of class ``kind`` that is safe to show.

    ``paths`` maps absolute paths the session reads to the names users know them by.
    """
    first = (text.strip().splitlines() or [kind])[0]
    if kind in SQL_ERRORS:
        return _named(first, paths)
    label, _, detail = first.partition(": ")
    label = label if detail and re.fullmatch(r"[A-Z][A-Za-z ]* Error", label) else "Error"

    def name(path: str) -> str:
        return paths.get(path.strip(), "a source file")

    for pattern, rewrite in VALUE_ERRORS:
        found = pattern.search(text)
        if found:
            return f"{label}: {rewrite(found, name)}"
    return f"{label} (the details are not shown: they may hold values from the data)"


def _named(text: str, paths: Mapping[str, str]) -> str:
    # Longest first: a table's folder must not be replaced inside one of its files' paths.
    for path in sorted(paths, key=len, reverse=True):
        text = text.replace(path, paths[path])
    return text
