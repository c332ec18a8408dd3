"""Checking a product: a build's staged snapshots, or a published version (bound through
the read path, as the actor checking reads it), each port in one scan (`scanning`); the
result kept in the check history and told as an event."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from quanta.errors import InvalidProduct, NotFound
from quanta.events import ChecksRun
from quanta.model.actor import Actor
from quanta.model.catalog import CheckRecord
from quanta.model.contract import Contract
from quanta.model.relations import Binding
from quanta.model.result import Check, CheckRun, Trigger, worst
from quanta.quality.scanning import Checked, check_ports, relation_name
from quanta.reading import PublishedPort, only_shown, unmeasured
from quanta.reading.ports import inputs_of, product_record
from quanta.storage import port_table

if TYPE_CHECKING:
    from quanta.context import MeshContext


def checks_run(
    subject: str, actor: Actor, version: int | None, trigger: Trigger, checks: list[Check]
) -> ChecksRun:
    """The event that tells a run of checks: its outcome and how many ended in each."""
    return ChecksRun(
        subject=subject,
        actor=actor,
        version=version,
        trigger=trigger,
        outcome=worst([check.outcome for check in checks]),
        counts=tuple(sorted(Counter(check.outcome.value for check in checks).items())),
    )


def check_published(
    mesh: MeshContext, actor: Actor, product_id: str, version: int | None
) -> CheckRun:
    """Every rule of a published version, on its snapshots and the inputs at the versions
    it read; kept in the check history.

    Checking is part of building: it has the build's time (``QUANTA_BUILD_TIMEOUT``).
    """
    record = product_record(mesh.stores.catalog, product_id)
    found = mesh.stores.catalog.version(record.id, version)
    if found is None:
        raise NotFound(f"{record.id} has no version {version}: see quanta show {record.id}")
    # The product checks itself: the result is the product's, whoever asked, and is kept in
    # its history. The asker sees it as the read path lets them see the data.
    reader = mesh.access.reader(record, "check")
    own = [
        PublishedPort(record.id, found.version, port, (relation_name(port.port),))
        for port in found.ports
    ]
    ports = [
        Checked(port.port, Contract.model_validate(port.contract), binding, port.stats)
        for port, binding in zip(found.ports, mesh.reads.bind(reader, own), strict=True)
    ]
    inputs = mesh.reads.bind(reader, inputs_of(mesh.stores.catalog, found))
    run = CheckRun(product=record.id, version=found.version)
    run.checks = check_ports(mesh.engine, ports, inputs, mesh.build_limits("the check", rows=False))
    event = checks_run(record.id, actor, found.version, Trigger.CHECK, run.checks)
    mesh.stores.checks.record_checks(
        CheckRecord(
            product=record.id,
            version=found.version,
            checked_at=event.at,
            trigger=Trigger.CHECK,
            outcome=run.outcome,
            checks=[check.model_dump(mode="json") for check in run.checks],
        ),
        told=event.payload(),
    )
    mesh.events.emit(event)
    return _as_seen(mesh, actor, own, run)


def _as_seen(
    mesh: MeshContext, actor: Actor, ports: list[PublishedPort], run: CheckRun
) -> CheckRun:
    """The run without the values of columns ``actor`` may not see: samples cut to the
    columns shown, and no measured value of a port it may not read whole."""
    shown = {port.port.port: mesh.reads.values_shown(actor, port) for port in ports}
    whole = {
        port.port.port: shown[port.port.port] >= {column.name for column in port.port.columns}
        for port in ports
    }
    seen = run.model_copy()
    checks = []
    for check in run.checks:
        if check.samples and check.port in shown:
            check = check.model_copy(
                update={"samples": only_shown(check.samples, shown[check.port])}
            )
        if check.port in whole and not whole[check.port]:
            check = check.model_copy(update=unmeasured(check.port))
        checks.append(check)
    seen.checks = checks
    return seen


def check_folder(mesh: MeshContext, actor: Actor, path: Path) -> list[CheckRun]:
    """Every rule of each product folder at or below ``path`` on its last ``dev`` build."""
    from quanta.build.inputs import resolve_inputs
    from quanta.publishing import DEV_BRANCH, load_batch

    runs = []
    for loaded, validation in load_batch(mesh, path, actor):
        # A folder that does not validate for the actor is not checked: a copy of another
        # folder, or a product of a team the actor is not in, would read its dev build.
        if loaded.product is None or validation.issues:
            raise InvalidProduct(f"{validation.product} does not validate", validation.issues)
        product = loaded.product
        ports = []
        for port, contract in product.contracts.items():
            found = mesh.storage.staged(
                port_table(product.id, port, contract.major),
                DEV_BRANCH,
                contents=True,
                private=contract.private_columns,
            )
            if found is None:
                raise NotFound(f"{product.id} has no build to check: run quanta build first")
            binding = Binding((relation_name(port),), found.scan)
            ports.append(Checked(port, contract, binding, found.stats))
        resolved = resolve_inputs(product, mesh.stores.catalog)
        reader = mesh.access.reader(product, "check")
        inputs = [*resolved.sources, *mesh.reads.bind(reader, resolved.upstream)]
        run = CheckRun(product=str(product.id))
        run.checks = check_ports(
            mesh.engine, ports, inputs, mesh.build_limits("the check", rows=False)
        )
        runs.append(run)
    return runs
