"""DuckDB's errors as Quanta tells them: whose they are, without values from the data or paths.

An error is the user's (their SQL, or the data it reads, is wrong: `QueryRefused`) only
when its kind is one of `USER_ERRORS`; any other kind, known (out of memory, I/O, an
internal error) or not, is the engine itself failing (`PlatformError`, told by `failure`).

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
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

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

USER_ERRORS = frozenset(
    {
        "BinderException",
        "CatalogException",
        "ConstraintException",
        "ConversionException",
        "InterruptException",
        "InvalidInputException",
        "InvalidTypeException",
        "NotImplementedException",
        "OutOfRangeException",
        "ParserException",
        "PermissionException",
        "SyntaxException",
        "TypeMismatchException",
    }
)
"""The kinds of error that are the user's: the SQL, or the data it reads, is wrong; the
sandbox refused a read; the session's time limit interrupted the work (only its watchdog
interrupts). Exactly these: a subclass (HTTPException of IOException) is not one of them."""

LABELS = {
    "Binder Error": "BinderException",
    "Catalog Error": "CatalogException",
    "Constraint Error": "ConstraintException",
    "Conversion Error": "ConversionException",
    "INTERRUPT Error": "InterruptException",
    "Invalid Input Error": "InvalidInputException",
    "Invalid type Error": "InvalidTypeException",
    "Not implemented Error": "NotImplementedException",
    "Out of Range Error": "OutOfRangeException",
    "Parser Error": "ParserException",
    "Permission Error": "PermissionException",
    "Syntax Error": "SyntaxException",
    "Mismatch Type Error": "TypeMismatchException",
    "Out of Memory Error": "OutOfMemoryException",
    "IO Error": "IOException",
    "INTERNAL Error": "InternalException",
    "FATAL Error": "FatalException",
}
"""How DuckDB's messages begin, by kind of error: an error that reaches Quanta as text (an
`OSError` while an Arrow stream of the engine is read) is known by its first words."""

ENGINE_FAILURES = {
    "OutOfMemoryException": (
        "the work needs more memory than the engine may use: raise QUANTA_BUILD_MEMORY_LIMIT, "
        "or make the work smaller"
    ),
    "IOException": "check that the disk of the mesh home has room and its files are readable",
    "InternalException": "this is a fault in DuckDB itself: report it, with what led to it",
    "FatalException": "the engine cannot go on: run the work again, and report it if it recurs",
}
"""What to do when the engine fails, by kind of error; for a kind not here, `RETRY`."""

RETRY = "run the work again, and report it if it recurs"

IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
TYPE = r"[A-Z][A-Z0-9_]*(?:\(\d+(?:,\s*\d+)?\))?(?:\[\])?"
COLUMN = rf"(?: when casting from source column (?P<column>{IDENTIFIER}))?"
FILE = r"(?P<file>/[^\n\"']+)"


TYPES = frozenset(
    [
        "ANY",
        "ARRAY",
        "BIGINT",
        "BIGNUM",
        "BIT",
        "BITSTRING",
        "BLOB",
        "BOOL",
        "BOOLEAN",
        "BYTEA",
        "DATE",
        "DATETIME",
        "DECIMAL",
        "DOUBLE",
        "ENUM",
        "FLOAT",
        "HUGEINT",
        "INT",
        "INT1",
        "INT2",
        "INT4",
        "INT8",
        "INT16",
        "INT32",
        "INT64",
        "INT128",
        "INTEGER",
        "INTERVAL",
        "JSON",
        "LIST",
        "MAP",
        "NULL",
        "NUMERIC",
        "OBJECT",
        "REAL",
        "SMALLINT",
        "STRING",
        "STRUCT",
        "TEXT",
        "TIME",
        "TIMETZ",
        "TIMESTAMP",
        "TIMESTAMPTZ",
        "TIMESTAMP_MS",
        "TIMESTAMP_NS",
        "TIMESTAMP_S",
        "TINYINT",
        "UBIGINT",
        "UHUGEINT",
        "UINT8",
        "UINT16",
        "UINT32",
        "UINT64",
        "UINT128",
        "UINTEGER",
        "UNION",
        "USMALLINT",
        "UTINYINT",
        "UUID",
        "VARCHAR",
        "VARINT",
    ]
)
"""DuckDB's names of types: a message names no other type (a value could spell one)."""


@dataclass(frozen=True)
class Known:
    """What a message may name, as the session knows it: the rest may be a value in disguise.

    A value holding a newline can spell, inside a message, the parts of it a pattern takes
    as types and column names (``... to SSN_123 when casting from source column ana``).
    """

    paths: Mapping[str, str]
    columns: frozenset[str] = frozenset()

    def file(self, path: str) -> str:
        return self.paths.get(path.strip(), "a source file")

    def type(self, name: str) -> str:
        return name if re.split(r"[(\[]", name)[0] in TYPES else "another type"

    def column(self, name: str | None, form: str = " (column {})") -> str:
        return form.format(name) if name and name in self.columns else ""


def _column(match: re.Match[str], known: Known) -> str:
    return known.column(match.groupdict().get("column"))


Rewrite = Callable[[re.Match[str], Known], str]


def _csv_row(match: re.Match[str], known: Known) -> str:
    text = match.string
    where = f"line {match['line']}"
    found = re.search(rf"^\s*file = {FILE}\s*$", text, re.MULTILINE)
    if found:
        where += f" of {known.file(found['file'])}"
    converting = re.search(
        rf'Error when converting column "(?P<column>{IDENTIFIER})"\..* to \'?(?P<type>{TYPE})',
        text,
    )
    if converting:
        column = known.column(converting["column"], "column {} ") or "a column "
        return f"{where}: {column}cannot be read as {known.type(converting['type'])}"
    return f"{where}: the row cannot be read"


VALUE_ERRORS: tuple[tuple[re.Pattern[str], Rewrite], ...] = (
    (re.compile(r"CSV Error on Line: (?P<line>\d+)"), _csv_row),
    (
        re.compile(rf"Could not convert string .* to '?(?P<type>{TYPE})'?{COLUMN}"),
        lambda m, k: f"a text value could not be converted to {k.type(m['type'])}{_column(m, k)}",
    ),
    (
        re.compile(
            rf"invalid (?P<kind>date|timestamp|time) field format: .*, expected format is "
            rf".*?\){COLUMN}$",
            re.MULTILINE,
        ),
        lambda m, k: f"a text value is not a valid {m['kind']}{_column(m, k)}",
    ),
    (
        re.compile(rf"(?P<kind>date|time|timestamp) field value out of range: .*?{COLUMN}$", re.M),
        lambda m, k: f"a value is out of range for a {m['kind']}{_column(m, k)}",
    ),
    (
        re.compile(
            rf"Type (?P<source>{TYPE}) with value .* can't be cast because the value is out "
            rf"of range for the destination type (?P<type>{TYPE}){COLUMN}"
        ),
        lambda m, k: (
            f"a {k.type(m['source'])} value is out of range for {k.type(m['type'])}{_column(m, k)}"
        ),
    ),
    (
        re.compile(rf"Could not cast value .* to (?P<type>{TYPE})"),
        lambda m, k: f"a value does not fit {k.type(m['type'])}",
    ),
    (
        re.compile(rf"Overflow in (?P<operation>[a-z]+) of (?P<type>{TYPE})"),
        lambda m, k: f"overflow in {m['operation']} of {k.type(m['type'])}",
    ),
    (
        re.compile(
            rf"Malformed JSON in file \"{FILE}\", at byte (?P<byte>\d+) in record/value "
            rf"(?P<record>\d+): (?P<why>[a-z ]+)"
        ),
        lambda m, k: (
            f"malformed JSON in {k.file(m['file'])}, at byte {m['byte']} of record {m['record']} "
            f"({m['why'].strip()})"
        ),
    ),
    (
        re.compile(r"Malformed JSON at byte (?P<byte>\d+) of input: (?P<why>[a-z ]+)"),
        lambda m, _k: f"malformed JSON at byte {m['byte']} of a value ({m['why'].strip()})",
    ),
    (
        re.compile(rf"No magic bytes found at end of file '{FILE}'"),
        lambda m, k: f"{k.file(m['file'])} is not a Parquet file",
    ),
    (
        re.compile(r"Expected (?P<expected>[A-Z]+), but got (?P<got>[A-Z]+)"),
        lambda m, k: f"expected {k.type(m['expected'])}, but a value is {k.type(m['got'])}",
    ),
    (
        re.compile(r"Could not parse string .* according to format specifier"),
        lambda _m, _k: "a text value does not match the format",
    ),
    (
        re.compile(rf"Unimplemented type for cast \((?P<cast>{TYPE} -> {TYPE})\)"),
        lambda m, k: "no cast " + " -> ".join(k.type(t.strip()) for t in m["cast"].split("->")),
    ),
)


def message(
    kind: str, text: str, paths: Mapping[str, str] = {}, columns: Collection[str] = ()
) -> str:
    """The one line of an engine error of class ``kind`` that is safe to show.

    ``paths`` maps absolute paths the session reads to the names users know them by;
    ``columns`` are the column names a message may show.
    """
    first = (text.strip().splitlines() or [kind])[0]
    if kind in SQL_ERRORS:
        return _named(first, paths)
    label, _, detail = first.partition(": ")
    label = label if detail and re.fullmatch(r"[A-Z][A-Za-z ]* Error", label) else "Error"
    known = Known(paths, frozenset(columns))
    for pattern, rewrite in VALUE_ERRORS:
        found = pattern.search(text)
        if found:
            return f"{label}: {rewrite(found, known)}"
    return f"{label} (the details are not shown: they may hold values from the data)"


def _named(text: str, paths: Mapping[str, str]) -> str:
    # Longest first: a table's folder must not be replaced inside one of its files' paths.
    for path in sorted(paths, key=len, reverse=True):
        text = text.replace(path, paths[path])
    return text


def kind_named(text: str) -> str | None:
    """The kind of DuckDB error whose message ``text`` is, by how it begins (`LABELS`)."""
    return LABELS.get(text.strip().partition(": ")[0])


def failure(kind: str, text: str, paths: Mapping[str, str] = {}) -> str:
    """Why the engine itself failed, from an error of class ``kind`` that is not the user's:
    its line that is safe to show (`message`), and what to do."""
    return f"the engine failed: {message(kind, text, paths)}; {ENGINE_FAILURES.get(kind, RETRY)}"
