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

from collections.abc import Iterator
from typing import TYPE_CHECKING

from quanta.model.catalog import ColumnInfo
from quanta.model.contract import PRIVATE, Contract
from quanta.model.governance import Protection
from quanta.model.relations import Exposed
from quanta.reading import PublishedPort, ReadRule
from quanta.sql_text import quote

if TYPE_CHECKING:
    import pyarrow as pa

    from quanta.governance import Governance
    from quanta.model.actor import Actor

PSEUDONYM_KEY = "pseudonyms"


def pseudonymized(contract: Contract) -> list[str]:
    """The columns whose pseudonyms are stored beside them."""
    return [c.name for c in contract.columns if (c.classification or "").lower() in PRIVATE]


def protected(governance: Governance) -> ReadRule:
    """Each column as the governance folder protects its classification for ``actor``."""

    def rule(
        actor: Actor, port: PublishedPort, columns: tuple[Exposed, ...]
    ) -> tuple[Exposed, ...]:
        config = governance.rules.config
        info = {column.name: column for column in port.port.columns}
        access = governance.context.access
        sight: dict[str, bool] = {}

        def clear(clear_for: str) -> bool:
            if clear_for not in sight:
                if clear_for == "owners":
                    sight[clear_for] = access.owns(actor, port.product)
                else:
                    sight[clear_for] = access.clear_for(actor, port.product, port.port.port)
            return sight[clear_for]

        shown = []
        for exposed in columns:
            column = info.get(exposed.name)
            if column is None or exposed.expression is not None:
                shown.append(exposed)
                continue
            level = config.protection(column.classification)
            if level.protection == Protection.CLEAR or clear(level.clear_for):
                shown.append(exposed)
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


def with_pseudonyms(
    rows: pa.RecordBatchReader, columns: list[str], key: bytes
) -> pa.RecordBatchReader:
    """``rows`` with the pseudonym of each of ``columns`` beside it."""
    import pyarrow as pa

    from quanta.governance.crypto import pseudonym_column, pseudonyms

    present = [name for name in columns if name in rows.schema.names]
    if not present:
        return rows
    schema = rows.schema
    for name in present:
        schema = schema.append(pa.field(pseudonym_column(name), pa.string()))

    def batches() -> Iterator[pa.RecordBatch]:
        for batch in rows:
            arrays = list(batch.columns)
            arrays += [pseudonyms(batch.column(name), key) for name in present]
            yield pa.RecordBatch.from_arrays(arrays, schema=schema)

    return pa.RecordBatchReader.from_batches(schema, batches())
