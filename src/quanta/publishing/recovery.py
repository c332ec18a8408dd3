"""Recovery: a publish killed between its catalog commit and its storage moves is finished
by the next publish of the product, and dead branches are dropped."""

from __future__ import annotations

from typing import TYPE_CHECKING

from quanta.model.product import DataProduct
from quanta.storage import port_table

if TYPE_CHECKING:
    from quanta.context import MeshContext

PUBLISH_BRANCH_PREFIX = "publish-"


def reconcile(mesh: MeshContext, product: DataProduct) -> None:
    """Finish what a publish killed after its commit left undone, and drop dead branches.

    The catalog decides what is served. If a publish stopped between registering a
    version and moving the tables' main branch, this moves it now.
    """
    current = mesh.stores.catalog.version(str(product.id))
    served = {port.table: port for port in current.ports} if current else {}
    tables = {
        str(port_table(product.id, port, contract.major)): port_table(
            product.id, port, contract.major
        )
        for port, contract in product.contracts.items()
    }
    for name, table in tables.items():
        branches = mesh.storage.branches(table)
        port = served.get(name)
        main = mesh.storage.staged(table, "main")
        for branch in branches:
            if not branch.startswith(PUBLISH_BRANCH_PREFIX):
                continue
            staged = mesh.storage.staged(table, branch)
            if (
                port is not None
                and staged is not None
                and current is not None
                and staged.snapshot_id == port.snapshot_id
                and (main is None or main.snapshot_id != port.snapshot_id)
            ):
                mesh.storage.promote(staged, f"v{current.version}")
            else:
                mesh.storage.discard(table, branch)
