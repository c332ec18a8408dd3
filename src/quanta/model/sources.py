"""The files a source input port reads: their format and the reader options they may set.

Plain data and functions, no pydantic: the engine reads these to check what it is asked
to run, and it imports as little as it can.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

# The reader options a source may set, by format, and the kind of value each takes. Only
# these reach the engine: an option that writes tables (rejects_table), names files in the
# rows (filename) or reads other folders (hive_partitioning) is left out on purpose.
SOURCE_OPTIONS: dict[str, dict[str, str]] = {
    "csv": {
        "all_varchar": "boolean",
        "allow_quoted_nulls": "boolean",
        "auto_detect": "boolean",
        "auto_type_candidates": "texts",
        "column_names": "texts",
        "column_types": "types",
        "columns": "columns",
        "comment": "text",
        "compression": "text",
        "dateformat": "text",
        "decimal_separator": "text",
        "delim": "text",
        "dtypes": "types",
        "encoding": "text",
        "escape": "text",
        "force_not_null": "texts",
        "header": "boolean",
        "ignore_errors": "boolean",
        "max_line_size": "size",
        "names": "texts",
        "new_line": "text",
        "normalize_names": "boolean",
        "null_padding": "boolean",
        "nullstr": "text or texts",
        "parallel": "boolean",
        "quote": "text",
        "sample_size": "sample",
        "sep": "text",
        "skip": "count",
        "strict_mode": "boolean",
        "thousands": "text",
        "timestampformat": "text",
        "types": "types",
        "union_by_name": "boolean",
    },
    "parquet": {
        "binary_as_string": "boolean",
        "file_row_number": "boolean",
        "union_by_name": "boolean",
    },
    "json": {
        "auto_detect": "boolean",
        "columns": "columns",
        "compression": "text",
        "convert_strings_to_integers": "boolean",
        "date_format": "text",
        "dateformat": "text",
        "field_appearance_threshold": "number",
        "format": "text",
        "ignore_errors": "boolean",
        "map_inference_threshold": "count",
        "maximum_depth": "count",
        "maximum_object_size": "size",
        "maximum_sample_files": "count",
        "records": "text",
        "sample_size": "sample",
        "timestamp_format": "text",
        "timestampformat": "text",
        "union_by_name": "boolean",
    },
}
MAX_COUNT = 2**31 - 1
MAX_SIZE = 256 * 1024 * 1024
"""The largest buffer a source may ask a reader for: 256 MiB (a line, a JSON object)."""

OPTION_KINDS = {
    "boolean": "true or false",
    "count": "a whole number",
    "size": "a size in bytes",
    "sample": "a number of rows",
    "number": "a number",
    "text": "a string",
    "texts": "a list of strings",
    "text or texts": "a string or a list of strings",
    "types": "column types",
    "columns": "columns and their types",
}
"""What each kind of option takes, in words."""

OPTION_HINTS = {
    "boolean": "write true or false",
    "count": f"write a whole number from 0 to {MAX_COUNT}",
    "size": f"write a number of bytes from 1 to {MAX_SIZE} (256 MiB)",
    "sample": f"write a number of rows from 1 to {MAX_COUNT}, or -1 for all",
    "number": "write a number",
    "text": "write it as a string, without control characters",
    "texts": "write a list of strings",
    "text or texts": "write a string or a list of strings",
    "types": "write a mapping of column names to types, or a list of types",
    "columns": "write a mapping of column names to types",
}


def option_value_fits(kind: str, value: Any) -> bool:
    """Whether ``value`` is of the ``kind`` a reader option takes (see `SOURCE_OPTIONS`)."""

    def text(item: Any) -> bool:
        # A NUL would end the engine's reading of the literal; other controls are no text.
        return isinstance(item, str) and not any(
            ord(char) < 0x20 and char not in "\t\n\r" for char in item
        )

    def texts(item: Any) -> bool:
        return isinstance(item, list) and all(text(part) for part in item)

    def mapping(item: Any) -> bool:
        return isinstance(item, dict) and all(text(k) and text(v) for k, v in item.items())

    whole = isinstance(value, int) and not isinstance(value, bool)
    return {
        "boolean": isinstance(value, bool),
        "count": whole and 0 <= value <= MAX_COUNT,
        "size": whole and 1 <= value <= MAX_SIZE,
        "sample": whole and (value == -1 or 1 <= value <= MAX_COUNT),
        "number": whole or isinstance(value, float),
        "text": text(value),
        "texts": texts(value),
        "text or texts": text(value) or texts(value),
        "types": mapping(value) or texts(value),
        "columns": mapping(value),
    }[kind]


def format_of(path: str, declared: str | None) -> str:
    """A source's format: the declared one, else the one its file name suggests."""
    if declared:
        return declared
    suffix = PurePosixPath(path).suffix.lower().lstrip(".")
    return {"ndjson": "json", "jsonl": "json", "tsv": "csv"}.get(suffix, suffix)
