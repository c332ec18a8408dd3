"""Subject erasure: one person's rows out of every version of every product, with a receipt.

``quanta erase --concept customer --id c-0000042 --reason ...`` (the governance group only):

1. **Identifiers.** The subject's identifier, and every other identifier it has through the
   mesh's mapping products (a customer's web user and their sessions, through
   ``customer.identity_map``), read from every version of each mapping port until nothing
   new turns up. They are kept in the erasure's record encrypted with a key only the mesh
   holds (never in clear, never in the audit log) until the erasure is done.
2. **Deleting.** Every table with a column naming one of those identifier types loses the
   rows holding one of the values, in every version (`quanta.privacy.rewrite`): no old
   snapshot, orphaned file or manifest bound keeps them. Sample rows of failed checks that
   the catalog kept are dropped too, and the catalog's database is compacted so that no
   free page keeps their bytes.
3. **Rebuilding.** Each product that derives from a product that lost rows, and holds no
   identifier itself (an aggregate), is published again in dependency order, as itself,
   from its registered folder; one whose data comes out the same is left as it is.
4. **Receipt.** Per product and version the rows deleted, files rewritten and the
   verification count (0); the erasure's id, times, and a hash over it all. The request
   and the receipt go to the audit log; the record forgets the identifiers.

Each step is saved as it ends, so that running the erasure again after a kill, or after a
product failed to rebuild, finishes it without deleting twice, and it is never reported done
before it is.
"""

from __future__ import annotations

import hmac
import json
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from quanta.errors import AccessDenied, PlatformError, QuantaError, UserError
from quanta.model.actor import Actor, ActorKind
from quanta.model.catalog import ColumnInfo, PortVersion, ProductRecord
from quanta.model.privacy import (
    Erasure,
    ErasureReceipt,
    ErasureRequest,
    ErasureState,
    PortErased,
    Rebuilt,
    SourceKept,
    TableSwept,
)
from quanta.model.relations import Binding, Exposed
from quanta.privacy.concepts import port_meanings, stored_mappings
from quanta.privacy.rewrite import rewrite_table, scan_of, table_name
from quanta.sql_text import literal, quote
from quanta.storage import RowsMatching

if TYPE_CHECKING:
    from quanta.context import MeshContext
    from quanta.model.governance import Concept

SEAL_KEY = "erasure-seal"
SUBJECT_KEY = "erasure-subject"
MAX_IDENTIFIERS = 100_000
"""More identifiers than this for one subject means a mapping links unrelated subjects."""
_PASSES = 3
"""Times a table is rewritten before the erasure gives up on it (see `_carry_out`)."""
_AUDITED_PORTS = 500
"""Ports listed in the audit entry of a receipt (its hash covers them all)."""

Key = tuple[str, str]
"""An identifier type: (concept, identifier)."""


def identifying_columns(port: PortVersion) -> dict[str, Key]:
    """The port's columns that hold identifiers, with the type of each."""
    return {
        name: (meaning.concept, meaning.identifier)
        for name, meaning in port_meanings(port).items()
        if meaning is not None and meaning.identifier is not None
    }


class Erasures:
    """The erasures of one mesh (``context``): starting one, finishing one, showing them."""

    def __init__(self, context: MeshContext) -> None:
        self.context = context
        self.store = context.stores.privacy

    # -- asking ---------------------------------------------------------------------------
    def erase(
        self, actor: Actor, concept: str, value: str, reason: str, identifier: str | None = None
    ) -> Erasure:
        """Record an erasure and carry it out, all under the tables lock: no publish adds
        an identifier of the subject between finding them and deleting their rows."""
        from quanta.locking import maintenance

        with maintenance(self.context.settings.home):
            started = self.start(actor, concept, value, reason, identifier)
            return self.run(actor, started.id)

    def start(
        self, actor: Actor, concept: str, value: str, reason: str, identifier: str | None = None
    ) -> Erasure:
        self._governs(actor)
        reason = reason.strip()
        if not reason or len(reason) > 2000 or not _text(reason):
            raise UserError(
                "an erasure needs a reason of one line, up to 2000 characters, such as "
                '--reason "GDPR article 17 request of 2026-11-30, ticket 4711"'
            )
        found = self.context.governance.rules.config.concepts.get(concept)
        if found is None:
            known = ", ".join(sorted(self.context.governance.rules.config.concepts)) or "none"
            raise UserError(
                f"the governance folder defines no concept {concept!r} (it defines: {known}): "
                "name one of them with --concept"
            )
        identifier = identifier or _first_identifier(concept, found)
        if identifier not in found.identifiers:
            raise UserError(
                f"concept {concept} has no identifier {identifier!r}: use --identifier with "
                f"one of {', '.join(sorted(found.identifiers))}"
            )
        typed = _typed(value, found.identifiers[identifier].type, identifier)
        erasure_id = uuid.uuid4().hex[:16]
        identifiers = self.identifiers({(concept, identifier): {typed}})
        erasure = Erasure(
            id=erasure_id,
            concept=concept,
            identifier=identifier,
            subject=self.subject(concept, identifier, typed),
            reason=reason,
            requested_by=actor.name,
            requested_at=datetime.now(UTC),
            state=ErasureState.PLANNED,
            progress={"identifiers": {f"{c}.{i}": len(v) for (c, i), v in identifiers.items()}},
        )
        self.store.add(erasure, self._seal(erasure_id, identifiers))
        self.context.governance.audit.record(
            "erasure.requested",
            actor,
            f"erasure {erasure_id}",
            {
                "concept": concept,
                "identifier": identifier,
                "subject": erasure.subject,
                "reason": reason,
                "identifiers": erasure.progress["identifiers"],
            },
        )
        return erasure

    def subject(self, concept: str, identifier: str, value: str | int) -> str:
        """The keyed hash the receipts name a subject by: the same for the same id, and
        nobody without the mesh's key can tell which id it is."""
        key = self.context.governance.keys.key(SUBJECT_KEY)
        message = json.dumps([concept, identifier, value], ensure_ascii=True).encode()
        return hmac.new(key, message, "sha256").hexdigest()

    # -- finding the subject -------------------------------------------------------------------
    def identifiers(self, start: dict[Key, set[Any]]) -> dict[Key, set[Any]]:
        """Every identifier the subject has: ``start``, and what the mapping ports map it to,
        in any of their versions, until nothing new turns up.

        Only mappings published in a domain the governance folder lists for the subject's
        concept are followed (a team elsewhere cannot link the subject to others), and
        only to identifiers of that concept or of concepts that belong to it (a customer's
        sessions; never from a session to the customer). The lookup stops, before anything
        is deleted, when it finds another subject of the kind it started from: a value
        that several subjects share links them.
        """
        concepts = self.context.governance.rules.config.concepts
        [(concept, identifier)] = list(start)
        owned = _owned_by(concept, concepts)
        trusted = set(concepts[concept].domains)
        # One subject has one value of these: the one asked for, and its concept's first
        # identifier (its key: a customer_id); a second one is another subject.
        single = {(concept, identifier), (concept, next(iter(concepts[concept].identifiers)))}
        found = {key: set(values) for key, values in start.items()}
        mappings = [
            (record, port, {n: k for n, k in columns.items() if k[0] in owned})
            for record, port, columns in self._mappings()
            if record.split(".")[0] in trusted
        ]
        grown = True
        while grown:
            grown = False
            for record, port, columns in mappings:
                known = [(name, key) for name, key in columns.items() if found.get(key)]
                if len(columns) < 2 or not known:
                    continue
                for row in self._mapped(port, columns, {name: found[key] for name, key in known}):
                    for name, value in row.items():
                        if not _usable(value):
                            continue
                        values = found.setdefault(columns[name], set())
                        if value not in values:
                            values.add(value)
                            grown = True
                            if columns[name] in single and len(values) > 1:
                                raise UserError(
                                    f"the mapping {record}.{port.port} links the subject to "
                                    f"another {concept} (a {columns[name][1]} of another "
                                    "subject, or a value several share): nothing was "
                                    "erased; correct the mapping's rows, or erase by "
                                    "another identifier (--identifier)"
                                )
            total = sum(len(values) for values in found.values())
            if total > MAX_IDENTIFIERS:
                raise UserError(
                    f"the subject has more than {MAX_IDENTIFIERS} identifiers through the "
                    "mappings: a mapping port links unrelated subjects (check its rows)"
                )
        return found

    def _mappings(self) -> Iterator[tuple[str, PortVersion, dict[str, Key]]]:
        """Each version of each port that declared a mapping when it was published (or
        whose product declares one now), with its product and its mapped columns'
        identifier types: a version keeps linking identifiers after a later one stops
        saying so."""
        catalog = self.context.stores.catalog
        for record in catalog.products():
            declared = dict(_mappings_of(record))
            for version in catalog.versions(record.id):
                for port in version.ports:
                    # What this version declared, else what the product declares now.
                    names = port.mapped or declared.get(port.port)
                    if not names:
                        continue
                    columns = identifying_columns(port)
                    mapped = {name: columns[name] for name in names if name in columns}
                    if len(mapped) >= 2:
                        yield record.id, port, mapped

    def _mapped(
        self, port: PortVersion, columns: dict[str, Key], known: dict[str, set[Any]]
    ) -> list[dict[str, Any]]:
        """The rows of the mapping ``port`` holding one of the ``known`` values, with the
        values of its mapped ``columns`` in clear. A column encrypted at rest is matched by
        the ciphertexts of the known values, and shown decrypted: a classification does
        not stop the erasure from following a mapping."""
        from quanta.governance.crypto import PLATFORM_PREFIX
        from quanta.governance.protection import clear_sql

        stored = {column.name: column for column in port.columns}
        # A column of pseudonyms links pseudonyms, not the subject's identifiers.
        names = [n for n in columns if n in stored and stored[n].pseudonyms_of is None]
        exposed, conditions = [], []
        for name in names:
            column = stored[name]
            matched = name
            if column.encrypted is None:
                exposed.append(Exposed(name))
            else:
                matched = f"{PLATFORM_PREFIX}sealed__{name}"
                exposed += [Exposed(name, clear_sql(column)), Exposed(matched, quote(name))]
            values = self._stored(known.get(name, set()), column)
            if values:
                conditions.append(f"{quote(matched)} IN ({', '.join(map(literal, values))})")
        if not conditions:
            return []
        where = " OR ".join(conditions)
        binding = Binding((("mapping",),), scan_of(self.context, port), tuple(exposed))
        select = ", ".join(quote(name) for name in names)
        sql = f"SELECT DISTINCT {select} FROM mapping WHERE {where}"
        limits = self.context.build_limits("an erasure's look-up of identifiers", rows=False)
        with self.context.engine.session([binding], limits=limits) as session:
            rows: list[dict[str, Any]] = session.to_arrow(sql).to_pylist()
        return rows

    # -- carrying it out ------------------------------------------------------------------
    def run(self, actor: Actor, erasure_id: str, skip: Sequence[str] = ()) -> Erasure:
        """Carry the erasure out, or finish it after a kill; its record as it ends.

        ``skip``: products whose rebuild failed that the governance group decides to leave
        as they are (a folder that is gone, code that no longer builds), each recorded on
        the receipt as skipped, by whom.
        """
        self._governs(actor)
        erasure = self.store.erasure(erasure_id)
        if erasure is None:
            raise UserError(f"there is no erasure {erasure_id!r}: see quanta erase --list")
        if erasure.state == ErasureState.DONE:
            if skip:
                raise UserError(f"erasure {erasure_id} is done: there is nothing to skip")
            return self._finish(actor, erasure)
        if skip:
            self._skip(actor, erasure, skip)
        sealed = self.store.sealed(erasure_id)
        if sealed is None:
            raise PlatformError(f"erasure {erasure_id} lost its identifiers; it cannot go on")
        identifiers = self._unseal(erasure_id, sealed)
        from quanta.locking import maintenance

        with maintenance(self.context.settings.home):
            return self._carry_out(actor, erasure, identifiers)

    def _carry_out(
        self, actor: Actor, erasure: Erasure, identifiers: dict[Key, set[Any]]
    ) -> Erasure:
        store = self.store
        progress = erasure.progress
        tables: dict[str, Any] = progress.setdefault("tables", {})

        def save() -> None:
            store.save(erasure)

        erasure.state = ErasureState.ERASING
        save()
        job = f"erase-{erasure.id}"
        ports: list[PortErased] = []
        swept: list[TableSwept] = []
        for table, where, private in self._targets(identifiers):
            # A pass per time the table had to be done again: a version published between
            # a stop and the resume holds rows the pass before did not see.
            passes: list[dict[str, Any]] = tables.setdefault(table, {}).setdefault("passes", [{}])
            done: dict[tuple[str, int, str], PortErased] = {}
            for number in range(_PASSES):
                if number == len(passes):
                    passes.append({})
                    save()
                results, table_swept = rewrite_table(
                    self.context,
                    table_name(table),
                    where,
                    job if number == 0 else f"{job}p{number}",
                    passes[number],
                    save,
                    private=private,
                )
                for result in results:
                    key = (result.product, result.version, result.port)
                    earlier = done.get(key)
                    found = PortErased(**result.model_dump())
                    if earlier is not None:
                        found.rows_removed += earlier.rows_removed
                        found.files_rewritten += earlier.files_rewritten
                        found.files_written += earlier.files_written
                    done[key] = found
                if table_swept is not None:
                    swept.append(table_swept)
                if not any(result.remaining for result in results):
                    break
            ports.extend(done.values())
        dropped = self._drop_unserved(progress, save)
        left = [port for port in ports if port.remaining]
        if left:
            raise PlatformError(
                f"erasure {erasure.id} found rows of the subject left in "
                f"{', '.join(sorted({p.product for p in left}))} after deleting them (a publish "
                "ran beside it?): run quanta erase --resume again"
            )
        if "scrubbed" not in progress:
            values = {str(v) for values in identifiers.values() for v in values}
            progress["scrubbed"] = self.context.stores.catalog.scrub_samples(values)
            save()
        erasure.products = sorted({port.product for port in ports if port.rows_removed})
        erasure.state = ErasureState.REBUILDING
        save()
        rebuilt = self._rebuild(erasure, save)
        failed = [
            r for r in rebuilt if r.outcome not in ("passed", "warned", "unchanged", "skipped")
        ]
        if failed:
            names = ", ".join(f"{r.product} ({r.reason})" for r in failed)
            skips = " ".join(f"--skip {r.product}" for r in failed if r.outcome != "waiting")
            raise UserError(
                f"erasure {erasure.id} deleted the subject's rows, but could not rebuild "
                f"{names}: fix it and run quanta erase --resume {erasure.id}, or leave it as "
                f"it is with quanta erase --resume {erasure.id} {skips}"
            )
        receipt = ErasureReceipt(
            **erasure.model_dump(include=set(ErasureRequest.model_fields)),
            finished_at=datetime.now(UTC),
            identifiers=dict(progress.get("identifiers", {})),
            ports=ports,
            swept=swept,
            rebuilt=rebuilt,
            scrubbed_samples=int(progress.get("scrubbed", 0)),
            sources=self._sources(erasure.products),
            dropped=dropped,
        )
        erasure.receipt = receipt
        erasure.finished_at = receipt.finished_at
        erasure.products = sorted(set(erasure.products) | set(receipt.products))
        erasure.state = ErasureState.DONE
        store.save(erasure, forget=True)
        return self._finish(actor, erasure)

    def _finish(self, actor: Actor, erasure: Erasure) -> Erasure:
        """Seal the receipt into the audit log and compact the catalog's database; run
        again until both are done (the erasure is done, its identifiers forgotten)."""
        receipt = erasure.receipt
        assert receipt is not None, "a finished erasure has its receipt"
        if self._sealed_receipt(erasure.id) is None:
            self.context.governance.audit.record(
                "erasure.completed",
                actor,
                f"erasure {erasure.id}",
                {
                    "receipt": receipt.hash,
                    "rows": receipt.rows_removed,
                    "products": erasure.products,
                    # Per version what was deleted and what the verification counted: the
                    # receipt's substance, sealed into the chain with it.
                    "ports": [
                        [p.product, p.version, p.port, p.rows_removed, p.remaining]
                        for p in receipt.ports[:_AUDITED_PORTS]
                    ],
                    "rebuilt": [r.product for r in receipt.rebuilt if r.version is not None],
                },
            )
        if not erasure.progress.get("compacted"):
            self.context.stores.database.scrub(["erasures", "ports", "versions", "check_runs"])
            erasure.progress["compacted"] = True
            self.store.save(erasure)
        return erasure

    def _sealed_receipt(self, erasure_id: str) -> str | None:
        """The receipt hash the audit log sealed for the erasure, if it did."""
        for entry in self.context.governance.audit.entries(
            kind="erasure.completed", subject=f"erasure {erasure_id}"
        ):
            return str(entry.details.get("receipt"))
        return None

    def _sources(self, products: Sequence[str]) -> list[SourceKept]:
        catalog = self.context.stores.catalog
        found = []
        for product in products:
            version = catalog.version(product)
            for use in version.inputs if version else []:
                if use.source:
                    found.append(SourceKept(product=product, port=use.port, source=use.source))
        return found

    def _targets(
        self, identifiers: dict[Key, set[Any]]
    ) -> Iterator[tuple[str, RowsMatching, tuple[str, ...]]]:
        """Each table holding one of the identifier types, with the filter of the
        subject's rows in it and its private columns."""
        catalog = self.context.stores.catalog
        tables: dict[str, dict[str, tuple[Key, ColumnInfo]]] = {}
        private: dict[str, set[str]] = {}
        for record in catalog.products():
            for version in catalog.versions(record.id):
                for port in version.ports:
                    stored = {c.name: c for c in port.columns}
                    held = {
                        n: (k, stored[n])
                        for n, k in identifying_columns(port).items()
                        if n in stored
                    }
                    if held:
                        tables.setdefault(port.table, {}).update(held)
                    private.setdefault(port.table, set()).update(
                        c.name for c in port.columns if c.classification in _PRIVATE
                    )
        for table in sorted(tables):
            where = RowsMatching(
                tuple(
                    (name, self._stored(identifiers.get(key, set()), column))
                    for name, (key, column) in sorted(tables[table].items())
                )
            )
            if where:
                yield table, where, tuple(sorted(private.get(table, set())))

    def _drop_unserved(self, progress: dict[str, Any], save: Any) -> list[str]:
        """Drop every table no version in the catalog serves: the dev builds of products
        never published. Their contracts are in no catalog, so no column of theirs is
        known to identify anyone; a team builds again after the erasure."""
        storage, catalog = self.context.storage, self.context.stores.catalog
        dropped: list[str] = progress.setdefault("dropped", [])
        served = {
            port.table
            for record in catalog.products()
            for version in catalog.versions(record.id)
            for port in version.ports
        }
        for table in storage.tables():
            if str(table) in served:
                continue
            for branch in storage.branches(table):
                storage.discard(table, branch)
            if table in storage.tables():
                # Tags: versions a catalog served, which this one does not name.
                raise PlatformError(
                    f"the table {table} holds published versions no product in the catalog "
                    "names (a catalog restored from an older backup?), and may hold the "
                    "subject: restore the catalog that served it, or drop the table, then "
                    "run quanta erase --resume again"
                )
            if str(table) not in dropped:
                dropped.append(str(table))
                save()
        return sorted(dropped)

    def _stored(self, values: set[Any], column: ColumnInfo) -> tuple[Any, ...]:
        """The identifier ``values`` as ``column`` stores them: its pseudonyms, where the
        column holds pseudonyms of a scope (their text, as a copy of a pseudonym reads);
        of its logical type (the integer 7 is the text "7" in a text column, never "007";
        a text that is no integer matches no integer column); for a column encrypted at
        rest (AES-SIV, the same ciphertext for the same value) as the ciphertexts of its
        context: no classification hides rows."""
        from quanta.governance import crypto

        keys = self.context.governance.keys
        if column.pseudonyms_of is not None and values:
            scoped = crypto.scoped_key(crypto.pseudonym_key(keys), column.pseudonyms_of)
            made = crypto.pseudonyms(pa.array([str(v) for v in sorted(values, key=str)]), scoped)
            values = {str(value) for value in made.to_pylist() if value is not None}
        if column.logical_type == "string":
            values = {str(value) for value in values}
        elif column.logical_type == "integer":
            values = {int(v) for v in values if isinstance(v, int) or _is_integer(v)}
        ordered = tuple(sorted(values, key=str))
        if column.encrypted is None or not ordered:
            return ordered
        key = crypto.encryption_key(keys)
        sealed = crypto.encrypt(pa.array(list(ordered)), key, context=column.encrypted)
        return tuple(sorted(value for value in sealed.to_pylist() if value is not None))

    def _skip(self, actor: Actor, erasure: Erasure, products: Sequence[str]) -> None:
        """Record ``products`` as not to be rebuilt: only products whose rebuild this
        erasure tried and that failed."""
        failed = erasure.progress.get("failed", {})
        for product in products:
            if product not in failed:
                tried = ", ".join(sorted(failed)) or "none"
                raise UserError(
                    f"erasure {erasure.id} has no failed rebuild of {product!r} to skip "
                    f"(failed: {tried})"
                )
        done: dict[str, Any] = erasure.progress.setdefault("rebuilt", {})
        for product in products:
            done[product] = Rebuilt(
                product=product,
                outcome="skipped",
                reason=f"not rebuilt, skipped by {actor.name} after: {failed[product]}",
            ).model_dump(mode="json")
        self.store.save(erasure)

    def _rebuild(self, erasure: Erasure, save: Any) -> list[Rebuilt]:
        """Publish again, in dependency order, each product deriving from one that lost
        rows and holding no identifier itself; its progress saved product by product."""
        done: dict[str, Any] = erasure.progress.setdefault("rebuilt", {})
        results = []
        waiting: set[str] = set()  # failed in this pass, or waiting for one that did
        fresh: set[str] = set()  # published again in this pass
        for record, upstream in self._downstream(set(erasure.products)):
            if upstream & waiting:
                waiting.add(record.id)
                names = ", ".join(sorted(upstream & waiting))
                results.append(
                    Rebuilt(product=record.id, outcome="waiting", reason=f"it reads {names}")
                )
                continue
            if record.id in done and not upstream & fresh:
                results.append(Rebuilt.model_validate(done[record.id]))
                continue
            # Not done, or done from an input published again since: built from that.
            result = self._publish_again(erasure, record)
            if result.version is not None:
                fresh.add(record.id)
            failed: dict[str, str] = erasure.progress.setdefault("failed", {})
            if result.outcome in ("passed", "warned", "unchanged"):
                done[record.id] = result.model_dump(mode="json")
                failed.pop(record.id, None)
            else:
                failed[record.id] = result.reason or result.outcome
                done.pop(record.id, None)
                waiting.add(record.id)
            save()
            results.append(result)
        return results

    def _downstream(self, changed: set[str]) -> list[tuple[ProductRecord, set[str]]]:
        """The products to rebuild, upstream first, each with the products it reads."""
        catalog = self.context.stores.catalog
        records = {record.id: record for record in catalog.products()}
        reads: dict[str, set[str]] = {}
        for record in records.values():
            version = catalog.version(record.id)
            if version is None:
                continue
            reads[record.id] = {use.upstream for use in version.inputs if use.upstream}
        holders = {product for product in records if self._holds_identifiers(catalog, product)}
        order: list[str] = []
        affected = set(changed)
        remaining = dict(reads)
        while remaining:
            ready = sorted(p for p, ups in remaining.items() if not (ups & set(remaining)))
            if not ready:  # a cycle cannot be published; leave the rest
                break
            for product in ready:
                del remaining[product]
                if reads[product] & affected and product not in changed:
                    affected.add(product)
                    if product not in holders:
                        order.append(product)
        return [(records[product], reads[product]) for product in order]

    @staticmethod
    def _holds_identifiers(catalog: Any, product: str) -> bool:
        version = catalog.version(product)
        return version is not None and any(identifying_columns(p) for p in version.ports)

    def _publish_again(self, erasure: Erasure, record: ProductRecord) -> Rebuilt:
        from quanta.privacy.rebuild import publish_unless_unchanged

        actor = Actor(
            name=record.id,
            kind=ActorKind.PRODUCT,
            purpose=f"rebuild after erasure {erasure.id}",
            team=record.owner,
        )
        try:
            return publish_unless_unchanged(self.context, Path(record.folder), actor)
        except QuantaError as error:
            return Rebuilt(product=record.id, outcome="failed", reason=str(error))

    # -- showing ---------------------------------------------------------------------------
    def status(self, actor: Actor, erasure_id: str) -> Erasure:
        erasure = self.store.erasure(erasure_id)
        if erasure is None or not self._may_see(actor, erasure):
            raise UserError(f"there is no erasure {erasure_id!r} you may see")
        sealed = self._sealed_receipt(erasure_id)
        if erasure.receipt is not None and sealed is not None and sealed != erasure.receipt.hash:
            raise PlatformError(
                f"the receipt of erasure {erasure_id} in the catalog is not the one the audit "
                f"log sealed (hash {sealed[:16]}…): it was changed; restore the catalog from a "
                "backup, and run quanta governance verify-audit"
            )
        return erasure

    def listed(self, actor: Actor) -> list[Erasure]:
        return [e for e in self.store.erasures() if self._may_see(actor, e)]

    def _may_see(self, actor: Actor, erasure: Erasure) -> bool:
        """The governance group sees every erasure; a product's owners, those that touched
        their products (deleted from them, or rebuilt them)."""
        if self._in_governance(actor):
            return True
        access = self.context.access
        return any(access.owns(actor, product) for product in erasure.products)

    def _in_governance(self, actor: Actor) -> bool:
        return (
            actor.kind == ActorKind.USER
            and actor.name in self.context.access.directory.governance()
        )

    def _governs(self, actor: Actor) -> None:
        if not self._in_governance(actor):
            raise AccessDenied(
                f"{actor.name} is not in the governance group: only its members may erase "
                "a subject's data (teams.yaml names the group)"
            )

    # -- sealing -----------------------------------------------------------------------------
    def _seal(self, erasure_id: str, identifiers: dict[Key, set[Any]]) -> bytes:
        from cryptography.hazmat.primitives.ciphers.aead import AESSIV

        plain = json.dumps(
            [[c, i, sorted(v, key=str)] for (c, i), v in sorted(identifiers.items())],
            ensure_ascii=True,
        ).encode()
        key = self.context.governance.keys.key(SEAL_KEY, 64)
        return AESSIV(key).encrypt(plain, [b"quanta erasure " + erasure_id.encode()])

    def _unseal(self, erasure_id: str, sealed: bytes) -> dict[Key, set[Any]]:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESSIV

        key = self.context.governance.keys.key(SEAL_KEY, 64, create=False)
        try:
            plain = AESSIV(key).decrypt(sealed, [b"quanta erasure " + erasure_id.encode()])
        except InvalidTag:
            raise PlatformError(
                f"the identifiers of erasure {erasure_id} do not decrypt with the mesh's key "
                "(home/keys/erasure-seal): restore that key from a backup of the mesh home"
            ) from None
        return {(c, i): set(values) for c, i, values in json.loads(plain)}


_PRIVATE = ("pii", "pii-sensitive", "restricted")


def _owned_by(concept: str, concepts: Mapping[str, Concept]) -> set[str]:
    """``concept`` and the concepts that belong to it, directly or through others."""
    owned = {concept}
    grown = True
    while grown:
        grown = False
        for name, other in concepts.items():
            if other.belongs_to in owned and name not in owned:
                owned.add(name)
                grown = True
    return owned


def _usable(value: Any) -> bool:
    """A value that identifies one subject: not NULL, not empty text, nothing SQL text
    cannot hold."""
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip()) and "\x00" not in value
    return True


def _first_identifier(concept: str, found: Concept) -> str:
    if not found.identifiers:
        raise UserError(
            f"concept {concept} lists no identifiers in the governance folder: add them "
            "under concepts.<concept>.identifiers in governance.yaml"
        )
    return next(iter(found.identifiers))


def _text(value: str) -> bool:
    """One line of text that encodes: no control character, no lone surrogate (bytes
    that were not UTF-8)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return not any(ord(c) < 32 or ord(c) == 127 for c in value)


def _typed(value: str, kind: str, identifier: str) -> str | int:
    if len(value) > 1000 or not value or not _text(value):
        raise UserError(
            f"--id takes one {identifier} of 1 to 1000 characters, as UTF-8 text without "
            "control characters"
        )
    if kind == "integer":
        if not value.isascii() or not value.lstrip("-").isdigit():
            raise UserError(f"{identifier} is a whole number; --id was not one")
        try:
            return int(value)
        except ValueError:
            raise UserError(f"{identifier} is a whole number; --id was not one") from None
    return value


def _mappings_of(record: ProductRecord) -> list[tuple[str, tuple[str, ...]]]:
    """The mappings the product's published descriptor declares."""
    return [
        (mapping.port, tuple(mapping.columns)) for mapping in stored_mappings(record.descriptor)
    ]


def _is_integer(value: Any) -> bool:
    """Whether ``value`` is an integer written in ASCII digits (``int`` takes others)."""
    return isinstance(value, str) and re.fullmatch(r"[+-]?[0-9]+", value) is not None


def receipts_of(erasures: Sequence[Erasure]) -> list[ErasureReceipt]:
    return [e.receipt for e in erasures if e.receipt is not None]
