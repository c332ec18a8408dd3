"""The primitives that protect classified columns: pseudonyms and encryption at rest.

Both work on a value's canonical text (`canonical`), so that the same value gives the same
pseudonym, or the same ciphertext, whatever the type of the column holding it: 42 and "42"
join, and a value decrypts back from its text to any type that can hold it.

- A **pseudonym** is HMAC-SHA256 of the canonical text under the mesh's pseudonym key
  (`PSEUDONYM_KEY_SIZE` bytes), in hex, cut to 128 bits. One key per mesh: pseudonymized
  keys of two products still join. It is computed once, when a version is stored, and kept
  in the column `pseudonym_column(name)`.
- **Encryption** is AES-256-SIV (`ENCRYPTION_KEY_SIZE` bytes of key), deterministic: equal
  values in one column have equal ciphertexts, so grouping and equality still work on them.
  The associated data is the column's context (which table, which column): a ciphertext
  copied into another column does not decrypt there, so no product can have the platform
  decrypt for its readers a value it was never shown in clear. Joins across columns go
  through the pseudonyms, which have no context.

NULL is never hashed or encrypted: its pseudonym, and its ciphertext, are NULL.

This module is pure Python over pyarrow and cryptography; the engine's side (decrypting
in DuckDB) is `quanta.engines.duckdb_protection`.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import hmac
import random
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import pyarrow as pa
import pyarrow.compute as pc
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from quanta.errors import PlatformError, UserError
from quanta.sql_text import fold

if TYPE_CHECKING:
    from quanta.governance.keys import KeyStore

__all__ = [
    "ENCRYPTION_KEY",
    "ENCRYPTION_KEY_SIZE",
    "PLATFORM_PREFIX",
    "PSEUDONYM_BYTES",
    "PSEUDONYM_KEY",
    "PSEUDONYM_KEY_SIZE",
    "PSEUDONYM_TYPE",
    "canonical",
    "decrypt",
    "encrypt",
    "encryption_key",
    "is_platform_column",
    "protectable",
    "pseudonym_column",
    "pseudonym_key",
    "pseudonyms",
    "scoped_key",
]

PSEUDONYM_KEY = "pseudonyms"
PSEUDONYM_KEY_SIZE = 32
"""HMAC-SHA256's key: as long as its output, as RFC 2104 advises."""
ENCRYPTION_KEY = "column-encryption"
ENCRYPTION_KEY_SIZE = 64
"""AES-256-SIV's key: two AES-256 keys, one for the synthetic IV (S2V/CMAC), one for CTR."""
PSEUDONYM_BYTES = 16
"""128 bits of the HMAC: no two of a mesh's values share one in practice."""
PSEUDONYM_TYPE = pa.uuid()
_PSEUDONYM_STORAGE = pa.binary(PSEUDONYM_BYTES)
"""128 bits of the HMAC: no collision is to be expected below 2**64 distinct values."""

PLATFORM_PREFIX = "__quanta_"
"""Column names beginning with this are the platform's: no contract may declare one."""
_PSEUDONYM_PREFIX = PLATFORM_PREFIX + "pseudonym__"

_BLOCK = 64  # SHA-256's block size, over which HMAC pads its key
_DEDUPLICATE_SAMPLE = 4096
"""Values looked at to judge whether a batch repeats its values (`_each_distinct`)."""
_DEDUPLICATE_BELOW = 0.6
"""The share of distinct values below which computing each only once pays."""

_A = TypeVar("_A", bound=pa.Array)


def pseudonym_key(keys: KeyStore, *, create: bool = True) -> bytes:
    return keys.key(PSEUDONYM_KEY, PSEUDONYM_KEY_SIZE, create=create)


def encryption_key(keys: KeyStore, *, create: bool = True) -> bytes:
    return keys.key(ENCRYPTION_KEY, ENCRYPTION_KEY_SIZE, create=create)


def scoped_key(key: bytes, scope: str) -> bytes:
    """The pseudonym key of one scope (`quanta.governance.inherit`), derived from the mesh's:
    pseudonyms of one scope match each other, and no other scope's."""
    if not scope:
        raise ValueError("a pseudonym scope names the column its values come from")
    return hmac.new(key, b"quanta pseudonym scope " + scope.encode("utf-8"), "sha256").digest()


def pseudonym_column(name: str) -> str:
    """The stored column that holds the pseudonyms of column ``name``."""
    if is_platform_column(name):
        raise UserError(
            f"the column name {name!r} begins with {PLATFORM_PREFIX}, which Quanta keeps for "
            "its own columns: rename the column"
        )
    return _PSEUDONYM_PREFIX + name


def is_platform_column(name: str) -> bool:
    """Whether ``name`` is reserved for the platform (compared as DuckDB compares names)."""
    return fold(name).startswith(PLATFORM_PREFIX)


# -- canonical text ---------------------------------------------------------------------


def canonical(value: Any) -> bytes | None:
    """The bytes a value is hashed and encrypted as; None for None.

    Integers in decimal; every other number as the shortest decimal that is exactly it,
    without exponent or trailing zeros (42.0 and Decimal("42.00") are "42"); text as UTF-8;
    bytes as they are; booleans ``true``/``false``; dates, times and timestamps in ISO 8601,
    a timestamp with a time zone in UTC (``2024-05-01T12:00:00+00:00``).
    """
    if value is None:
        return None
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bool):  # before int: a bool is an int
        return b"true" if value else b"false"
    if isinstance(value, int):
        return str(value).encode("ascii")
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, float):
        return _number(decimal.Decimal(repr(value)))
    if isinstance(value, decimal.Decimal):
        return _number(value)
    if isinstance(value, dt.datetime):  # before date: a datetime is a date
        moment: dt.datetime = value if value.tzinfo is None else value.astimezone(dt.UTC)
        return moment.isoformat().encode("ascii")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat().encode("ascii")
    raise TypeError(f"a value of type {type(value).__name__} has no canonical text")


def _number(value: decimal.Decimal) -> bytes:
    if not value.is_finite():
        return b"NaN" if value.is_nan() else (b"-Infinity" if value < 0 else b"Infinity")
    # 'f' is exact (no context rounding, unlike normalize()): a DECIMAL(38) keeps every digit.
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    return text.encode("ascii")


def protectable(kind: pa.DataType) -> bool:
    """Whether values of Arrow type ``kind`` can be pseudonymized and encrypted."""
    if pa.types.is_dictionary(kind):
        return protectable(kind.value_type)
    return bool(
        pa.types.is_null(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_decimal(kind)
        or _is_text(kind)
        or _is_bytes(kind)
        or pa.types.is_date(kind)
        or pa.types.is_time(kind)
        or pa.types.is_timestamp(kind)
    )


def _is_text(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)
    )


def _is_bytes(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
        or pa.types.is_binary_view(kind)
        or pa.types.is_fixed_size_binary(kind)
    )


def _canonical_values(array: pa.Array) -> list[bytes | None]:
    """The canonical text of each value, computed by Arrow where its text is canonical()'s
    (a Python object per value costs more than the hashing)."""
    kind = array.type
    if _is_text(kind) or _is_bytes(kind):
        return array.cast(pa.binary()).to_pylist()  # type: ignore[no-any-return]
    if pa.types.is_integer(kind) or pa.types.is_boolean(kind) or pa.types.is_date32(kind):
        # Arrow writes these as canonical() does: decimal, true/false, YYYY-MM-DD.
        texts = pc.cast(array, pa.string())
    elif pa.types.is_timestamp(kind) or pa.types.is_time(kind):
        texts = _iso_8601(array)
    else:
        return [canonical(value) for value in array.to_pylist()]
    return texts.cast(pa.binary()).to_pylist()  # type: ignore[no-any-return]


def _iso_8601(array: pa.Array) -> pa.Array:
    """Timestamps and times as ``isoformat()`` writes them; with a time zone, in UTC."""
    kind = array.type
    micro = pa.timestamp("us") if pa.types.is_timestamp(kind) else pa.time64("us")
    try:
        # A time zone's timestamps become their UTC time; seconds and milliseconds, exact.
        texts = pc.cast(pc.cast(array, micro), pa.string())
    except pa.ArrowInvalid:
        raise UserError(
            f"a {kind} value with nanoseconds cannot be pseudonymized or encrypted: "
            "store it in microseconds (TIMESTAMP, TIME)"
        ) from None
    # Arrow writes 2024-05-01 12:00:00.000000; isoformat() 2024-05-01T12:00:00.
    texts = pc.replace_substring(texts, " ", "T", max_replacements=1)
    texts = pc.replace_substring_regex(texts, r"\.000000$", "")
    if pa.types.is_timestamp(kind) and kind.tz is not None:
        texts = pc.binary_join_element_wise(texts, "+00:00", "")
    return texts


# -- batches ----------------------------------------------------------------------------


def _chunks(array: pa.Array | pa.ChunkedArray, what: str) -> list[pa.Array]:
    kind = array.type
    if not protectable(kind):
        raise UserError(
            f"a column of type {kind} cannot be {what}: only columns of scalar types (text, "
            "numbers, booleans, dates, times, timestamps, bytes) can be protected"
        )
    chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
    return [
        chunk.dictionary_decode() if pa.types.is_dictionary(chunk.type) else chunk
        for chunk in chunks
    ]


def _joined(pieces: Sequence[pa.Array], kind: pa.DataType) -> pa.Array:
    if not pieces:
        return pa.array([], kind)
    return pieces[0] if len(pieces) == 1 else pa.concat_arrays(list(pieces))


def _each_distinct(array: _A, compute: Callable[[_A], pa.Array]) -> pa.Array:
    """``compute(array)``, computing each distinct value once when values repeat enough.

    Finding the distinct values costs a third of hashing them all when none repeats, and
    saves nearly all of it for a foreign key. How many there are is judged from a random
    sample: equal values in it (birthday collisions) mean that there are fewer than about
    ``len(sample)**2 / (2 * collisions)`` distinct values.
    """
    rows = len(array)
    if rows < 64:
        return compute(array)
    if rows <= _DEDUPLICATE_SAMPLE:
        sample, whole = array, True
    else:
        # Random rows (the same ones for the same length): a stride would meet the period
        # of periodic data.
        rows_taken = sorted(random.Random(rows).sample(range(rows), _DEDUPLICATE_SAMPLE))
        sample, whole = array.take(pa.array(rows_taken, pa.int64())), False
    taken = len(sample)
    collisions = taken - len(pc.unique(sample))
    estimate = taken - collisions if whole else taken**2 / (2 * collisions or 1)
    if collisions == 0 or estimate > _DEDUPLICATE_BELOW * rows:
        return compute(array)
    encoded = array.dictionary_encode()
    return compute(encoded.dictionary).take(encoded.indices)


def pseudonyms(array: pa.Array | pa.ChunkedArray, key: bytes) -> pa.Array:
    """The pseudonym of each value: the first 128 bits of HMAC-SHA256(key,
    canonical(value)), as a UUID (Arrow's ``arrow.uuid``, Iceberg's ``uuid``: 16 bytes
    that engines compare and join as fast as integers); NULL for NULL."""
    if len(key) < PSEUDONYM_KEY_SIZE:
        raise ValueError(f"a pseudonym key has at least {PSEUDONYM_KEY_SIZE} bytes")
    inner, outer = _hmac_pads(key)
    inner_copy, outer_copy = inner.copy, outer.copy

    def hashed(chunk: pa.Array) -> pa.Array:
        out: list[bytes | None] = []
        append = out.append
        for value in _canonical_values(chunk):
            if value is None:
                append(None)
                continue
            # HMAC by hand over SHA-256 states with the padded key already absorbed: a
            # copy of a hashlib state is several times cheaper than one of an HMAC object.
            digest = inner_copy()
            digest.update(value)
            final = outer_copy()
            final.update(digest.digest())
            append(final.digest()[:PSEUDONYM_BYTES])
        return pa.array(out, _PSEUDONYM_STORAGE)

    stored = _joined(
        [_each_distinct(chunk, hashed) for chunk in _chunks(array, "pseudonymized")],
        _PSEUDONYM_STORAGE,
    )
    return pa.ExtensionArray.from_storage(PSEUDONYM_TYPE, stored)


def _hmac_pads(key: bytes) -> tuple[Any, Any]:
    """SHA-256 states that have absorbed the key XOR ipad, and XOR opad (RFC 2104)."""
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    padded = key.ljust(_BLOCK, b"\0")
    inner = hashlib.sha256(bytes(byte ^ 0x36 for byte in padded))
    outer = hashlib.sha256(bytes(byte ^ 0x5C for byte in padded))
    return inner, outer


def _cipher(key: bytes) -> AESSIV:
    if len(key) != ENCRYPTION_KEY_SIZE:
        raise ValueError(f"an encryption key has {ENCRYPTION_KEY_SIZE} bytes (AES-256-SIV)")
    return AESSIV(key)


def _associated(context: str) -> list[bytes]:
    if not context:
        raise ValueError("encryption needs the column's context (which table, which column)")
    return [b"quanta column " + context.encode("utf-8")]


def encrypt(array: pa.Array | pa.ChunkedArray, key: bytes, *, context: str) -> pa.Array:
    """The AES-256-SIV ciphertext of each value's canonical text, as Arrow ``binary``
    (16 bytes of synthetic IV, then as many bytes as the text); NULL for NULL.

    ``context`` names the stored column (for example ``sales.orders/orders/email``): the
    ciphertext decrypts only with the same context.
    """
    seal = _cipher(key).encrypt
    associated = _associated(context)

    def sealed(chunk: pa.Array) -> pa.Array:
        return pa.array(
            [
                None if value is None else seal(value, associated)
                for value in _canonical_values(chunk)
            ],
            pa.binary(),
        )

    return _joined(
        [_each_distinct(chunk, sealed) for chunk in _chunks(array, "encrypted")], pa.binary()
    )


def decrypt(
    array: pa.Array | pa.ChunkedArray, key: bytes, kind: pa.DataType, *, context: str
) -> pa.Array:
    """The values ``encrypt`` sealed, as Arrow type ``kind`` (``pa.string()`` gives their
    canonical text). A ciphertext sealed with another key or context, or altered, is a
    `PlatformError` that names no value."""
    opened = _cipher(key).decrypt
    associated = _associated(context)

    def plain(chunk: pa.Array) -> pa.Array:
        try:
            values = [
                None if value is None else opened(value, associated)
                for value in chunk.cast(pa.binary()).to_pylist()
            ]
        except InvalidTag:
            raise PlatformError(
                f"a stored value of {context} could not be decrypted: it was encrypted with "
                "another key or for another column, or it was altered"
            ) from None
        return pa.array(values, pa.binary())

    chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
    texts = _joined([_each_distinct(chunk, plain) for chunk in chunks], pa.binary())
    return _typed(texts, kind)


def _typed(texts: pa.Array, kind: pa.DataType) -> pa.Array:
    """Canonical texts (as binary) back into Arrow type ``kind``."""
    if _is_bytes(kind):
        return texts.cast(kind)
    strings = texts.cast(pa.string())  # checks the UTF-8
    if _is_text(kind):
        return strings.cast(kind)
    if pa.types.is_time(kind):  # Arrow casts no text to a time
        times = [None if s is None else dt.time.fromisoformat(s) for s in strings.to_pylist()]
        return pa.array(times, kind)
    if pa.types.is_date64(kind):
        return strings.cast(pa.date32()).cast(kind)
    return strings.cast(kind)
