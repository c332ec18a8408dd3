"""What the catalog keeps of a publish: the product's record and its new version."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from quanta.governance.protection import encryption_context
from quanta.model.audit import canonical_json
from quanta.model.catalog import ColumnInfo, InputUse, PortVersion, ProductRecord, Version
from quanta.model.contract import Contract
from quanta.model.product import DataProduct
from quanta.model.result import Build, Check
from quanta.storage import StagedTable


def records(
    product: DataProduct,
    build: Build,
    staged: dict[str, StagedTable],
    uses: list[InputUse],
    checks: list[Check],
    contracts: dict[str, Contract] | None = None,
    encrypted: dict[str, list[str]] | None = None,
    scopes: dict[str, dict[str, str]] | None = None,
    code: str | None = None,
    copies: dict[str, dict[str, tuple[str, str]]] | None = None,
    pseudonyms: dict[str, dict[str, str]] | None = None,
) -> tuple[ProductRecord, Version]:
    """``contracts``: the output ports' contracts as built (classifications inherited),
    by default the product's own."""
    descriptor = product.descriptor
    contracts = contracts or product.contracts
    now = datetime.now(UTC)
    ports = []
    for output in descriptor.output_ports:
        contract = contracts[output.name]
        table = staged[output.name]
        primary = set(contract.primary_key)
        ports.append(
            PortVersion(
                port=output.name,
                contract_version=contract.version,
                table=str(table.table),
                snapshot_id=table.snapshot_id,
                metadata_location=table.metadata_location,
                location=table.location,
                rows=table.rows,
                bytes=table.bytes,
                description=output.description or contract.table.description,
                columns=[
                    ColumnInfo(
                        name=column.name,
                        type=column.physical_type or column.logical_type,
                        logical_type=column.logical_type,
                        nullable=column.nullable,
                        primary_key=column.name in primary,
                        classification=column.classification,
                        description=column.description,
                        pseudonym=column.private,
                        scope=(scopes or {}).get(output.name, {}).get(column.name),
                        copies=".".join(copied)
                        if (copied := (copies or {}).get(output.name, {}).get(column.name))
                        else None,
                        pseudonyms_of=(pseudonyms or {}).get(output.name, {}).get(column.name),
                        encrypted=encryption_context(str(table.table), column.name)
                        if column.name in (encrypted or {}).get(output.name, [])
                        else None,
                    )
                    for column in contract.columns
                ],
                contract=contract.to_document(),
                files=list(table.files) if table.files is not None else None,
                stats=table.stats,
                mapped=next(
                    (list(m.columns) for m in descriptor.mappings if m.port == output.name),
                    None,
                ),
            )
        )
    record = ProductRecord(
        id=str(product.id),
        domain=product.id.domain,
        name=product.id.name,
        title=descriptor.name,
        description=descriptor.description.purpose if descriptor.description else None,
        owner=descriptor.owner,
        contact=descriptor.contact,
        status=descriptor.status,
        tags=descriptor.tags,
        folder=product.folder,
        current_version=0,
        updated_at=now,
        descriptor=descriptor.to_document(),
    )
    version = Version(
        product=str(product.id),
        version=0,
        published_at=now,
        seconds=build.seconds,
        ports=ports,
        inputs=uses,
        checks=[check.model_dump(mode="json") for check in checks],
        code=code_of(product, code) if code is not None else None,
    )
    return record, version


def code_of(product: DataProduct, code: str) -> str:
    """SHA-256 (hex) of what a version is built from: the folder's descriptor and
    contracts as read, and the text of its transformation (``code``, read once by the
    build). The same folder gives the same hash; any change to them, another."""
    body = {
        "descriptor": product.descriptor.to_document(),
        "contracts": {name: contract.to_document() for name, contract in product.contracts.items()},
        "code": code,
    }
    return hashlib.sha256(canonical_json(body).encode("ascii")).hexdigest()
