"""``quanta init``: a product folder that validates, builds and publishes as it is.

Blueprints differ in where data comes from. A ``source`` product reads a file
(a small sample is written next to it); ``aggregate`` and ``consumer`` products read
other products, whose published columns (and their classifications) seed the contract.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from quanta.errors import UserError
from quanta.model.actor import ANONYMOUS, local_user
from quanta.model.catalog import ColumnInfo, PortVersion
from quanta.model.contract import Contract
from quanta.model.names import ProductId, name_problem
from quanta.sql_text import quote

BLUEPRINTS = ("source", "aggregate", "consumer")

SAMPLE_CSV = """id,name,category,amount,updated_at
1,First item,general,12.50,2026-01-01 09:00:00
2,Second item,general,7.25,2026-01-02 10:30:00
3,Third item,special,99.00,2026-01-03 16:45:00
"""

SAMPLE_COLUMNS = [
    ColumnInfo(
        name="id",
        type="BIGINT",
        logical_type="integer",
        nullable=False,
        primary_key=True,
        classification="internal",
        description="Identifies the item.",
    ),
    ColumnInfo(
        name="name",
        type="VARCHAR",
        logical_type="string",
        classification="internal",
        description="What the item is called.",
    ),
    ColumnInfo(
        name="category",
        type="VARCHAR",
        logical_type="string",
        classification="public",
        description="The item's category.",
    ),
    ColumnInfo(
        name="amount",
        type="DECIMAL(12,2)",
        logical_type="number",
        classification="internal",
        description="The item's amount.",
    ),
    ColumnInfo(
        name="updated_at",
        type="TIMESTAMP",
        logical_type="timestamp",
        classification="internal",
        description="When the item last changed.",
    ),
]

SAMPLE_SQL = """-- The output of this product: one row per item, from the source file.
SELECT
    CAST(id AS BIGINT) AS id,
    name,
    category,
    CAST(amount AS DECIMAL(12, 2)) AS amount,
    CAST(updated_at AS TIMESTAMP) AS updated_at
FROM raw_items
"""


def scaffold(
    product: str,
    blueprint: str,
    directory: Path,
    upstream: dict[str, PortVersion],
    owner: str | None = None,
) -> Path:
    """Write the product folder and return it, owned by a team whose one member is
    ``owner`` (by default the configured identity: `quanta.model.actor.local_user`).

    ``upstream`` maps each input, as the user addressed it (``domain.product`` or
    ``domain.product.port``), to the port it names as published.
    """
    if blueprint not in BLUEPRINTS:
        raise UserError(f"unknown blueprint {blueprint!r}: use one of {', '.join(BLUEPRINTS)}")
    if blueprint != "source" and not upstream:
        raise UserError(f"a {blueprint} product reads other products: pass --input domain.product")
    product_id, folder = _new_folder(product, directory)
    if blueprint == "source":
        columns, sql = SAMPLE_COLUMNS, SAMPLE_SQL
        input_ports: list[dict[str, Any]] = [
            {
                "name": "raw_items",
                "version": "1",
                "contractId": "source",
                "customProperties": [
                    {"property": "source", "value": {"path": "data/items.csv", "format": "csv"}}
                ],
            }
        ]
    else:
        first = next(iter(upstream))
        columns = upstream[first].columns
        sql = _passthrough_sql(first, columns, list(upstream)[1:])
        # The port reads what the user named, at the major version published now.
        input_ports = [
            {
                "name": "_".join(address.split(".")[1:]),
                "version": str(port.major),
                "contractId": address,
            }
            for address, port in upstream.items()
        ]
    _create(folder)
    port = product_id.name
    descriptor = _descriptor(product_id, blueprint, input_ports, port, owner)
    contract = {
        "apiVersion": "v3.1.0",
        "kind": "DataContract",
        "id": f"{product_id}.{port}",
        "name": port,
        "version": "1.0.0",
        "status": "active",
        "domain": product_id.domain,
        "description": {"purpose": f"The {port} table of {product_id}."},
        "schema": [
            {
                "name": port,
                "physicalType": "table",
                "description": f"The {port} table.",
                "properties": [_property(column) for column in columns],
            }
        ],
        "slaProperties": [_retention(port, columns)],
    }
    _write_yaml(folder / "dataproduct.yaml", descriptor)
    _write_yaml(folder / "contracts" / f"{port}.odcs.yaml", contract)
    (folder / "transform.sql").write_text(sql, encoding="utf-8")
    if blueprint == "source":
        (folder / "data").mkdir(exist_ok=True)
        (folder / "data" / "items.csv").write_text(SAMPLE_CSV, encoding="utf-8")
    (folder / "README.md").write_text(_readme(product_id, blueprint), encoding="utf-8")
    return folder


def _new_folder(product: str, directory: Path) -> tuple[ProductId, Path]:
    """The product's id and its folder, which must not hold anything yet."""
    try:
        product_id = ProductId.parse(product)
    except ValueError as error:
        raise UserError(str(error)) from None
    folder = directory / product_id.domain / product_id.name
    if folder.exists() and any(folder.iterdir()):
        raise UserError(f"{folder} already exists and is not empty: choose another name or folder")
    return product_id, folder


def _create(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "contracts").mkdir(exist_ok=True)
    except OSError as error:
        raise UserError(f"cannot create {folder}: {error.strerror}") from None


def _descriptor(
    product_id: ProductId,
    blueprint: str,
    input_ports: list[dict[str, Any]],
    port: str,
    owner: str | None,
) -> dict[str, Any]:
    return {
        "apiVersion": "v1.0.0",
        "kind": "DataProduct",
        "id": str(product_id),
        "name": product_id.name.replace("_", " ").capitalize(),
        "domain": product_id.domain,
        "status": "active",
        "description": {
            "purpose": f"Describe what {product_id} offers and to whom.",
            "usage": f"SELECT * FROM {product_id}",
        },
        "tags": [blueprint],
        "team": {
            "name": f"{product_id.domain}-team",
            "members": [{"username": _owner(owner, product_id), "role": "owner"}],
        },
        "inputPorts": input_ports,
        "outputPorts": [
            {
                "name": port,
                "version": "1.0.0",
                "type": "table",
                "contractId": f"{product_id}.{port}",
                "description": f"The {port} table.",
            }
        ],
        "customProperties": [
            {"property": "transformation", "value": {"language": "sql", "path": "transform.sql"}}
        ],
    }


def _retention(port: str, columns: list[ColumnInfo]) -> dict[str, Any]:
    """A year's retention, dated by the first date or time column (none: the `retention`
    policy asks for one)."""
    level: dict[str, Any] = {"property": "retention", "value": 1, "unit": "y"}
    dated = next((c.name for c in columns if c.logical_type in ("date", "timestamp")), None)
    if dated is not None:
        level["element"] = f"{port}.{dated}"
    return level


def _property(column: ColumnInfo) -> dict[str, Any]:
    item: dict[str, Any] = {
        "name": column.name,
        "logicalType": column.logical_type,
        "physicalType": column.type,
    }
    if column.description:
        item["description"] = column.description
    if not column.nullable:
        item["required"] = True
    if column.primary_key:
        item["primaryKey"] = True
    if column.classification:
        item["classification"] = column.classification
    return item


def _passthrough_sql(first: str, columns: list[ColumnInfo], others: list[str]) -> str:
    names = ",\n    ".join(quote(c.name) for c in columns)
    also = "".join(f"\n-- {other} is an input too: join it here." for other in others)
    return (
        f"-- Start from {first}; change the query and the contract together.{also}\n"
        f"SELECT\n    {names}\nFROM {first}\n"
    )


def _readme(product_id: ProductId, blueprint: str) -> str:
    return f"""# {product_id}

A {blueprint} data product of the `{product_id.domain}` domain.

- `dataproduct.yaml`: the descriptor (Open Data Product Standard): owner, ports, status.
- `contracts/`: one contract per output port (Open Data Contract Standard): schema,
  classifications, service levels.
- `transform.sql`: the query that builds the output port, reading only the input ports.

Publish it with `quanta publish {product_id.domain}/{product_id.name}`, then read it with
`quanta query "SELECT * FROM {product_id}"`.
"""


def _write_yaml(path: Path, document: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), encoding="utf-8")


def _owner(owner: str | None, product_id: ProductId) -> str:
    name = owner if owner is not None else local_user().name
    return f"owner@{product_id.domain}.example" if name == ANONYMOUS else name


def scaffold_from_contract(
    product: str,
    contract_file: Path,
    directory: Path,
    *,
    server: str | None = None,
    table: str | None = None,
    owner: str | None = None,
) -> tuple[Path, list[str]]:
    """A source-aligned product whose input port reads the files a contract's server
    names and whose output port carries the imported contract, enforced at every publish.

    The files are copied into the folder's ``data/``: a product reads files in its folder.
    Answers the folder and notes: what the import could not keep, and what was assumed.
    """
    import secrets
    import shutil

    from quanta.interop import read_contract_file
    from quanta.quality.external import FORMATS, LOCAL, choose, scan, servers_of

    located, imported = read_contract_file(contract_file)
    names = list(imported.contracts)
    if table is None and len(names) > 1:
        raise UserError(
            f"{contract_file} describes {len(names)} tables ({', '.join(names)}): a product's "
            "transformation writes one; choose it with --table"
        )
    chosen = table if table is not None else names[0] if names else None
    if chosen is None or chosen not in imported.contracts:
        raise UserError(f"{contract_file}: no table {chosen!r} (it has: {', '.join(names)})")
    found = choose(servers_of(located.data), server, contract_file)
    if found.type not in LOCAL:
        raise UserError(
            f"server {found.name!r} is of type {found.type!r}: a product reads files in its "
            "folder, so --from-contract needs a server of type local (check data in a "
            "database where it is with quanta contract test)"
        )
    files = scan(found, chosen, contract_file.resolve().parent)
    product_id, folder = _new_folder(product, directory)
    port = chosen if name_problem(chosen, "port name") is None else product_id.name
    document = dict(imported.contracts[chosen])
    document["id"] = f"{product_id}.{port}"
    document["domain"] = product_id.domain
    document["schema"] = [{**document["schema"][0], "name": port}]
    contract = Contract.model_validate(document)
    notes = [f"{item.where}: {item.reason}" for item in imported.unmapped]
    if not any(level.property == "retention" for level in contract.sla_properties):
        columns = [
            ColumnInfo(name=c.name, type="", logical_type=c.logical_type) for c in contract.columns
        ]
        document["slaProperties"] = [*document.get("slaProperties", []), _retention(port, columns)]
        notes.append("slaProperties: the contract states no retention: a year is assumed")
    unclassified = [c.name for c in contract.columns if not c.classification]
    if unclassified:
        # Never guessed: a column left public or internal by default may hold PII.
        notes.append(
            f"schema: {len(unclassified)} column(s) have no classification "
            f"({', '.join(unclassified)}): give each one before publishing"
        )
    suffix = {"parquet": ".parquet", "csv": ".csv", "json": ".json"}[FORMATS[files.format]]
    many = len(files.paths) > 1
    source_path = f"data/{port}/*{suffix}" if many else f"data/{port}{suffix}"
    source: dict[str, Any] = {"path": source_path, "format": files.format}
    if files.options:
        source["options"] = dict(files.options)
    input_port = {
        "name": f"raw_{port}",
        "version": "1",
        "contractId": "source",
        "customProperties": [{"property": "source", "value": source}],
    }
    descriptor = _descriptor(product_id, "source", [input_port], port, owner)
    descriptor["tags"] = ["source", "from-contract"]
    descriptor["outputPorts"][0]["version"] = contract.version
    # As contract test reads them: a file (or a link) leading outside its folder is refused.
    inside = Path(files.root).resolve() if files.root else None
    sources = [Path(path).resolve() for path in files.paths]
    for path, source_file in zip(files.paths, sources, strict=True):
        if inside is not None and not source_file.is_relative_to(inside):
            raise UserError(
                f"{path} leads outside {files.root}: a product copies only files in the "
                "contract's folder"
            )
    # Made beside the folder and renamed into place once whole: a copy cut short (even by
    # kill -9) leaves at most a hidden folder, never a half-made product in the way.
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        making = folder.parent / f".{folder.name}.making-{secrets.token_hex(4)}"
        making.mkdir()
    except OSError as error:
        raise UserError(f"cannot create {folder}: {error.strerror}") from None
    try:
        _create(making)
        target = making / "data" / port if many else making / "data"
        target.mkdir(parents=True, exist_ok=True)
        for number, source_file in enumerate(sources):
            placed = target / (f"part-{number:05d}{suffix}" if many else f"{port}{suffix}")
            # Copied, not linked: a change to the product's file must not change the original.
            shutil.copyfile(source_file, placed)
        _write_yaml(making / "dataproduct.yaml", descriptor)
        _write_yaml(making / "contracts" / f"{port}.odcs.yaml", document)
        sql = _typed_sql(f"raw_{port}", contract, files.format)
        (making / "transform.sql").write_text(sql, encoding="utf-8")
        (making / "README.md").write_text(_readme(product_id, "source"), encoding="utf-8")
        making.rename(folder)  # onto nothing, or onto an empty folder
    except OSError as error:
        shutil.rmtree(making, ignore_errors=True)
        raise UserError(f"cannot write {folder}: {error.strerror}") from None
    return folder, notes


def _typed_sql(source: str, contract: Contract, file_format: str) -> str:
    """The declared columns from ``source``, each cast to its contract's type."""
    from quanta.quality.external import LOGICAL_TYPES

    selected = []
    for column in contract.columns:
        kind = column.physical_type or LOGICAL_TYPES.get(column.logical_type)
        name = quote(column.name)
        selected.append(f"CAST({name} AS {kind}) AS {name}" if kind else name)
    listed = ",\n    ".join(selected)
    return (
        f"-- The output: the contract's columns from the {file_format} source, as it types them.\n"
        f"SELECT\n    {listed}\nFROM {source}\n"
    )
