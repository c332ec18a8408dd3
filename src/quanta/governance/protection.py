"""Protection by classification: producers tag columns, the platform protects them.

Two halves, both driven by the governance folder's mapping of classifications to
protections (`quanta.model.governance.GovernanceFile.protection`):
- **at rest**, when a build's output is stored, every private column (``pii``,
  ``pii-sensitive``, ``restricted``) gets its pseudonym stored beside it: a keyed hash,
  computed once by the platform, never by the product's code;
- **at read**, the read rule `protected` shows each column to each reader as the mapping
  says: as stored, as its stored pseudonym, or masked (NULL).

A change of the mapping protects every product at the next read: nothing is rewritten. A
column mapped to pseudonymization that has no stored pseudonym (it was not private when
its version was published) reads masked until the product publishes again.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from quanta.model.actor import ActorKind
from quanta.model.catalog import ColumnInfo
from quanta.model.contract import PRIVATE, Contract
from quanta.model.governance import Protection
from quanta.model.relations import Exposed
from quanta.model.types import parse_physical_type
from quanta.reading import PublishedPort, ReadRule
from quanta.sql_text import literal, quote

if TYPE_CHECKING:
    import pyarrow as pa

    from quanta.governance import Governance
    from quanta.model.actor import Actor
    from quanta.model.governance import GovernanceFile

PSEUDONYM_KEY = "pseudonyms"
DECRYPT = "quanta_decrypt"
DECRYPT_BLOB = "quanta_decrypt_blob"
_QUOTED_IDENTIFIER = re.compile(r'"(?:[^"]|"")+"')


def pseudonymized(contract: Contract) -> list[str]:
    """The columns whose pseudonyms are stored beside them."""
    return [c.name for c in contract.columns if (c.classification or "").lower() in PRIVATE]


def encrypted(config: GovernanceFile, contract: Contract) -> list[str]:
    """The columns stored encrypted: those whose level the mapping encrypts."""
    return [
        c.name
        for c in contract.columns
        if config.protection(c.classification).protection == Protection.ENCRYPT
    ]


def encryption_context(table: str, column: str) -> str:
    """What a stored column's values are encrypted with, beside the key: they decrypt in
    that column of that table only."""
    return f"{table}/{column}"


def stored(port: PublishedPort) -> tuple[Exposed, ...]:
    """Every column of ``port`` as its values are, in clear: encrypted ones decrypted."""
    return tuple(
        Exposed(column.name, clear_sql(column)) if column.encrypted else Exposed(column.name)
        for column in port.port.columns
    )


def _strictest(governance: Governance, port: PublishedPort) -> dict[str, ColumnInfo]:
    """The port's columns, each classified as strictly as the port's served version
    classifies it, if that is stricter: a pinned older version is protected as today."""
    from quanta.governance.inherit import STRICTNESS

    columns = {column.name: column for column in port.port.columns}
    catalog = governance.context.stores.catalog
    record = catalog.product(port.product)
    if record is None or record.current_version in (None, port.version):
        return columns
    served = catalog.version(port.product)
    now = next((p for p in served.ports if p.port == port.port.port), None) if served else None
    for column in now.columns if now else ():
        then = columns.get(column.name)
        if then is None or column.classification is None:
            continue
        rank = STRICTNESS.index
        if then.classification is None or (
            column.classification in STRICTNESS
            and then.classification in STRICTNESS
            and rank(column.classification) > rank(then.classification)
        ):
            columns[column.name] = then.model_copy(update={"classification": column.classification})
    return columns


def clear_sql(column: ColumnInfo) -> str:
    """The expression that shows the encrypted ``column`` in clear, as its stored type."""
    assert column.encrypted is not None
    try:
        kind = str(parse_physical_type(column.type))
    except ValueError:
        kind = "VARCHAR"  # a logical type only: its canonical text
    return decrypt_sql(quote(column.name), kind, column.encrypted)


def protected(governance: Governance) -> ReadRule:
    """Each column as the governance folder protects its classification for ``actor``."""

    def rule(
        actor: Actor, port: PublishedPort, columns: tuple[Exposed, ...]
    ) -> tuple[Exposed, ...]:
        config = governance.rules.config
        info = _strictest(governance, port)
        access = governance.context.access
        sight: dict[str, bool] = {}

        def clear(clear_for: str) -> bool:
            if clear_for not in sight:
                if clear_for == "owners":
                    sight[clear_for] = access.owns(actor, port.product)
                else:
                    sight[clear_for] = access.clear_for(actor, port.product, port.port.port)
            return sight[clear_for]

        # A build never decrypts: no key enters the process a product's code runs in.
        building = actor.kind == ActorKind.PRODUCT and actor.purpose == "build"
        shown = []
        for exposed in columns:
            column = info.get(exposed.name)
            if column is None or exposed.expression is not None:
                shown.append(exposed)
                continue
            level = config.protection(column.classification)
            if level.protection == Protection.CLEAR or clear(level.clear_for):
                if column.encrypted is None:
                    shown.append(exposed)
                elif building:
                    shown.append(Exposed(exposed.name, _protected(column, Protection.ENCRYPT)))
                else:
                    shown.append(Exposed(exposed.name, clear_sql(column)))
            else:
                shown.append(Exposed(exposed.name, _protected(column, level.protection)))
        return tuple(shown)

    return rule


def _protected(column: ColumnInfo, protection: Protection) -> str:
    """The SQL that shows ``column`` protected: its stored pseudonym, or NULL of its type."""
    if protection in (Protection.PSEUDONYMIZE, Protection.ENCRYPT) and column.pseudonym:
        from quanta.governance.crypto import pseudonym_column

        return quote(pseudonym_column(column.name))
    # NULL, typed as the column is, so unions and comparisons still type-check.
    return f"(CASE WHEN false THEN {quote(column.name)} END)"


def at_rest(
    rows: pa.RecordBatchReader,
    keys: Mapping[str, bytes],
    encrypt: dict[str, str] | None = None,
    encryption_key: bytes = b"",
) -> pa.RecordBatchReader:
    """``rows`` as stored: beside each of ``keys``' columns, its pseudonym under that key;
    and each of ``encrypt``'s columns encrypted with its context (`encryption_context`)."""
    import pyarrow as pa

    from quanta.governance.crypto import PSEUDONYM_TYPE, pseudonym_column, pseudonyms
    from quanta.governance.crypto import encrypt as sealed

    names = rows.schema.names
    present = [name for name in keys if name in names]
    sealing = {name: context for name, context in (encrypt or {}).items() if name in names}
    if not present and not sealing:
        return rows
    fields = [
        pa.field(field.name, pa.binary()) if field.name in sealing else field
        for field in rows.schema
    ]
    fields += [pa.field(pseudonym_column(name), PSEUDONYM_TYPE) for name in present]
    schema = pa.schema(fields)

    def batches() -> Iterator[pa.RecordBatch]:
        for batch in rows:
            arrays = [
                sealed(batch.column(name), encryption_key, context=sealing[name])
                if name in sealing
                else batch.column(name)
                for name in names
            ]
            arrays += [pseudonyms(batch.column(name), keys[name]) for name in present]
            yield pa.RecordBatch.from_arrays(arrays, schema=schema)

    return pa.RecordBatchReader.from_batches(schema, batches())


def decrypt_sql(column_sql: str, target_type: str, context: str) -> str:
    """The expression that shows an encrypted column in clear, as type ``target_type``.

    ``column_sql`` is the stored column as a quoted identifier (`quanta.sql_text.quote`);
    ``target_type`` a storable type name (`quanta.model.types`: ``VARCHAR``, ``DATE``,
    ``DECIMAL(10,2)``, ``TIMESTAMP WITH TIME ZONE``, ...); ``context`` the one the column
    was encrypted with.
    """
    if not _QUOTED_IDENTIFIER.fullmatch(column_sql):
        raise ValueError("decrypt_sql takes the column as a quoted identifier (sql_text.quote)")
    kind = str(parse_physical_type(target_type))  # ValueError for any other text
    if kind == "BLOB":
        return f"{DECRYPT_BLOB}({column_sql}, {literal(context)})"
    call = f"{DECRYPT}({column_sql}, {literal(context)})"
    return call if kind == "VARCHAR" else f"CAST({call} AS {kind})"
