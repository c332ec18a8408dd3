"""What access asks of a product before it is built: that the actor may publish it, and
that each product it reads is granted to it. Both are validation issues, at the field
they are about, with whom to ask and the command to run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from quanta.errors import AccessDenied
from quanta.model.actor import Actor

if TYPE_CHECKING:
    from quanta.access import Access
    from quanta.model.product import DataProduct
    from quanta.model.result import Validation
    from quanta.validation.folder import LoadedFolder


def check_access(
    access: Access,
    actor: Actor,
    folder: LoadedFolder,
    validation: Validation,
    batch: dict[str, str],
) -> None:
    """Add the issues of ``folder``'s product: who publishes it, what it may read.
    ``batch`` maps the products validated with it to their owning teams."""
    product = folder.product
    if product is None:
        return
    for field, message, hint in publisher_problems(access, actor, product):
        validation.issues.append(folder.issue_at(field, message, hint))
    for index, message, hint in input_problems(access, product, batch):
        field = ("inputPorts", index, "contractId")
        validation.issues.append(folder.issue_at(field, message, hint))


def publisher_problems(
    access: Access, actor: Actor, product: DataProduct
) -> list[tuple[tuple[str | int, ...], str, str]]:
    directory = access.directory
    descriptor = product.descriptor
    product_id = str(product.id)
    record = access.catalog.product(product_id)
    problems: list[tuple[tuple[str | int, ...], str, str]] = []
    declared = descriptor.to_document()
    if record is not None and not directory.owns(actor, record):
        problems.append(
            (
                ("team",),
                f"{product_id} is owned by team {record.owner}, and {actor.name} is not "
                "one of its members: only they may build or publish it",
                f"ask {record.contact or 'its owners'}, or act as one of them (QUANTA_USER)",
            )
        )
        return problems
    changes_team = record is None or record.owner != descriptor.owner
    if changes_team and not directory.claims(actor, descriptor.owner, declared):
        problems.append(
            (
                ("team", "name"),
                f"{actor.name} is not a member of team {descriptor.owner}: a product "
                "can only be given to a team its publisher belongs to",
                "name your own team, or ask one of its members to publish",
            )
        )
    built = access.store.dev_build(product_id) if record is None else None
    if built is not None and actor.name not in built[1]:
        problems.append(
            (
                ("team",),
                f"the dev build of {product_id} is team {built[0]}'s, and {actor.name} is "
                "not one of its members: only they may build or check it before it is "
                "published",
                "choose another id, or ask the team",
            )
        )
    if record is None and not directory.in_domain(actor, product.id.domain):
        problems.append(
            (
                ("id",),
                f"domain {product.id.domain} belongs to other teams, and {actor.name} is "
                "not a member of one",
                "publish into your own domain, or ask the domain's teams",
            )
        )
    return problems


def input_problems(
    access: Access, product: DataProduct, batch: dict[str, str]
) -> list[tuple[int, str, str]]:
    """Each input product that the product may not read, with whom to ask and how."""
    reader = access.reader(product, "build")
    problems = []
    for index, port in enumerate(product.descriptor.input_ports):
        address = port.upstream
        if address is None:
            continue
        upstream_id = str(address.product)
        record = access.catalog.product(upstream_id)
        if record is None:
            team = batch.get(upstream_id)
            if team is not None and team != product.descriptor.owner:
                problems.append(
                    (
                        index,
                        f"{upstream_id} is not published yet, and it is owned by team {team}: "
                        f"{product.id} may read it only through a grant",
                        f"publish {upstream_id} first, then ask: quanta access request "
                        f'{upstream_id} --for {product.id} --purpose "..."',
                    )
                )
            continue  # an unknown input is reported by the input checks
        if access.directory.owns(reader, record):
            continue
        version = access.catalog.version(upstream_id)
        ports = [p for p in (version.ports if version else []) if address.port in (None, p.port)]
        for published in ports:
            try:
                access.columns_for(reader, upstream_id, published)
            except AccessDenied as denied:
                hint = "its owners decide with quanta access approve"
                problems.append((index, str(denied), hint))
                break
    return problems
