"""Validate a batch of product folders together: files, catalog, inputs, SQL, cycles.

What one folder's files can tell is checked by `quanta.validation.folder`; this adds what
needs the other folders of the batch and the catalog, and orders the batch for building.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from quanta.build import plan
from quanta.build.inputs import resolve_inputs
from quanta.errors import UserError
from quanta.model.product import DataProduct
from quanta.model.result import Issue, Validation
from quanta.product_files import OutsideFolder, read_inside
from quanta.stores import CatalogStore
from quanta.validation.folder import LoadedFolder, load_folder, shown_path


def load_batch(path: Path, store: CatalogStore) -> Iterator[tuple[LoadedFolder, Validation]]:
    """Load every product folder under ``path``, validate, and yield in build order."""
    folders = plan.discover(path)
    if not folders:
        raise UserError(
            f"no product folder (with dataproduct.yaml) at or below {path}: "
            "create one with quanta init"
        )
    loaded = [load_folder(folder) for folder in folders]
    validations: dict[int, Validation] = {}
    by_id: dict[str, int] = {}
    for index, folder in enumerate(loaded):
        name = str(folder.product.id) if folder.product else folder.folder.name
        validation = Validation(product=name, path=str(folder.folder), issues=folder.issues)
        validations[index] = validation
        if folder.product is None:
            continue
        product_id = str(folder.product.id)
        if product_id in by_id:
            other = loaded[by_id[product_id]].folder
            validation.issues.append(
                folder.issue_at(
                    ("id",),
                    f"product id {product_id!r} is also used by {shown_path(other)}",
                    "give each product its own id",
                )
            )
            continue
        by_id[product_id] = index
        _check_catalog(store, folder, validation)
    batch: dict[str, DataProduct] = {}
    for product_id, index in by_id.items():
        found = loaded[index].product
        if found is not None:
            batch[product_id] = found
    for index in by_id.values():
        _check_inputs(store, loaded[index], validations[index], batch)
        _check_sql(store, loaded[index], validations[index], batch)
    upstream: dict[str, set[str]] = {}
    for product_id, index in by_id.items():
        product = loaded[index].product
        assert product is not None
        upstream[product_id] = {str(up) for up in product.upstream_products}
    for record in store.products():
        if record.id not in upstream:
            version = store.version(record.id)
            upstream[record.id] = {
                u.upstream for u in (version.inputs if version else []) if u.upstream
            }
    cycle = plan.cycle_in(upstream)
    if cycle:
        for product_id in set(cycle) & set(by_id):
            folder = loaded[by_id[product_id]]
            validations[by_id[product_id]].issues.append(
                folder.issue_at(
                    ("inputPorts",),
                    f"the inputs form a cycle: {' -> '.join(cycle)}",
                    "a product cannot read, directly or not, from itself: remove one input",
                )
            )
        order = list(range(len(loaded)))
    else:
        ranked = {product_id: rank for rank, product_id in enumerate(plan.build_order(upstream))}

        def rank(index: int) -> tuple[int, int]:
            product = loaded[index].product
            return (ranked.get(str(product.id), -1) if product else -1, index)

        order = sorted(
            range(len(loaded)),
            key=rank,
        )
    for index in order:
        yield loaded[index], validations[index]


def _check_catalog(store: CatalogStore, folder: LoadedFolder, validation: Validation) -> None:
    """What the files alone cannot tell: the same id published from another folder, or a
    table that another product's port already fills."""
    from quanta.storage import port_table

    product = folder.product
    assert product is not None
    record = store.product(str(product.id))
    if record is not None and record.folder != product.folder:
        if Path(record.folder).exists():
            validation.issues.append(
                folder.issue_at(
                    ("id",),
                    f"product {product.id} is already published from {shown_path(record.folder)}",
                    "choose another id, or publish from that folder",
                )
            )
        elif record.owner != product.descriptor.owner:
            # A moved checkout, or a fresh one in CI, may publish on; a copy that names
            # another owner may not take the product over.
            validation.issues.append(
                folder.issue_at(
                    ("team", "name"),
                    f"product {product.id} is owned by {record.owner}, and was published "
                    f"from another folder",
                    f"publish it with team {record.owner!r}, or choose another id",
                )
            )
    for index, output in enumerate(product.descriptor.output_ports):
        table = port_table(product.id, output.name, product.contracts[output.name].major)
        others = [
            f"{user} (port {port})"
            for user, port in store.table_users(str(table))
            if (user, port) != (str(product.id), output.name)
        ]
        if others:
            validation.issues.append(
                folder.issue_at(
                    ("outputPorts", index, "name"),
                    f"port {output.name} would be stored in the table {table}, which "
                    f"{', '.join(others)} fills",
                    "rename the port or the product",
                )
            )


def _check_sql(
    store: CatalogStore,
    folder: LoadedFolder,
    validation: Validation,
    batch: dict[str, DataProduct],
) -> None:
    """The SQL reads only what the product declares: refused at validate, with its line."""
    from quanta.build.sql_guard import check_sql

    product = folder.product
    assert product is not None
    transformation = product.transformation
    if transformation.language != "sql":
        return
    label = str(Path(folder.issue_at((), "").file).parent / transformation.path)
    try:
        sql = read_inside(Path(product.folder), transformation.path)
    except OutsideFolder:
        return  # reported with the descriptor
    except UnicodeDecodeError:
        validation.issues.append(
            Issue(file=label, message="the file is not UTF-8 text", hint="save it as UTF-8")
        )
        return
    for problem in check_sql(sql, _visible_names(store, product, batch)):
        validation.issues.append(
            Issue(file=label, line=problem.line, message=problem.message, hint=problem.hint)
        )


def _visible_names(
    store: CatalogStore, product: DataProduct, batch: dict[str, DataProduct]
) -> list[tuple[str, ...]]:
    """The names a build of ``product`` will see, as far as they are known now."""
    names: list[tuple[str, ...]] = []
    for port in product.descriptor.input_ports:
        names.append((port.name,))
        address = port.upstream
        if address is None:
            continue
        domain, name = address.product.domain, address.product.name
        if address.port is not None:
            names.append((domain, name, address.port))
            continue
        upstream_id = str(address.product)
        if upstream_id in batch:
            ports = list(batch[upstream_id].contracts)
        else:
            current = store.version(upstream_id)
            ports = [published.port for published in current.ports] if current else []
        if len(ports) == 1:
            names.extend([(domain, name), (domain, name, ports[0])])
    return names


def _check_inputs(
    store: CatalogStore,
    folder: LoadedFolder,
    validation: Validation,
    batch: dict[str, DataProduct],
) -> None:
    """Each upstream port exists, in this batch or in the catalog, at the major relied on."""
    product = folder.product
    assert product is not None
    from_catalog = [
        port
        for port in product.descriptor.input_ports
        if port.upstream and str(port.upstream.product) not in batch
    ]
    problems = resolve_inputs(product, store).problems
    for index, message, hint in problems:
        if product.descriptor.input_ports[index] in from_catalog:
            validation.issues.append(
                folder.issue_at(("inputPorts", index, "contractId"), message, hint)
            )
    for index, port in enumerate(product.descriptor.input_ports):
        address = port.upstream
        if address is None or str(address.product) not in batch:
            continue
        upstream = batch[str(address.product)]
        names = list(upstream.contracts) if address.port is None else [address.port]
        if address.port is None and len(names) != 1:
            validation.issues.append(
                folder.issue_at(
                    ("inputPorts", index, "contractId"),
                    f"{address.product} has several output ports ({', '.join(names)})",
                    f"name one: {address.product}.<port>",
                )
            )
            continue
        contract = upstream.contracts.get(names[0])
        if contract is None:
            validation.issues.append(
                folder.issue_at(
                    ("inputPorts", index, "contractId"),
                    f"{address.product} has no output port {names[0]!r}",
                    f"its ports: {', '.join(upstream.contracts)}",
                )
            )
        elif contract.major != port.major:
            validation.issues.append(
                folder.issue_at(
                    ("inputPorts", index, "version"),
                    f"{address} is at major version {contract.major}, not {port.major}",
                    f'set version to "{contract.major}"',
                )
            )
