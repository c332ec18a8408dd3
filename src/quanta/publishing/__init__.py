"""Publishing: each product of a batch through the publish `Pipeline`, in build order.

Each product is published entirely or not at all; one that fails stops the ones after it
that read it, and the previous version stays the served one. Every publish ends in one
event: `ProductPublished`, or `PublishFailed` naming the step that stopped it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from quanta.context import Progress
from quanta.events import ProductPublished, PublishFailed
from quanta.locking import publishing
from quanta.model.actor import Actor
from quanta.model.result import Build, Outcome, Publication, Validation
from quanta.publishing.pipeline import Pipeline, PublishContext
from quanta.publishing.recovery import PUBLISH_BRANCH_PREFIX
from quanta.publishing.steps import BUILD_STEPS, PUBLISH_STEPS

if TYPE_CHECKING:
    from quanta.context import MeshContext
    from quanta.model.product import DataProduct
    from quanta.validation.folder import LoadedFolder

__all__ = ["PUBLISH_STEPS", "Pipeline", "PublishContext", "build_batch", "publish_batch"]

DEV_BRANCH = "dev"


def publish_batch(
    mesh: MeshContext, pipeline: Pipeline, path: Path, actor: Actor, progress: Progress
) -> list[Publication]:
    publications: list[Publication] = []
    failed: set[str] = set()
    for loaded, validation in load_batch(mesh, path, actor):
        started = time.perf_counter()
        if loaded.product is None:
            publication = Publication(
                product=validation.product,
                outcome=Outcome.FAILED,
                reason="the product does not validate",
                validation=validation,
            )
        else:
            product = loaded.product
            context = PublishContext(
                mesh,
                product,
                validation,
                actor,
                branch=f"{PUBLISH_BRANCH_PREFIX}{uuid.uuid4().hex[:12]}",
                progress=progress,
                blocked=sorted(str(up) for up in product.upstream_products if str(up) in failed),
            )
            if not validation.issues and mesh.stores.catalog.product(str(product.id)) is None:
                mesh.access.built_dev(actor, product)  # its logs are its team's, even failed
            try:
                with publishing(mesh.settings.home):
                    publication = pipeline.run(context)
            except BaseException as error:  # interrupted, or could not be carried out
                _tell_stopped(mesh, context, error)
                raise
            _tell(mesh, context, publication)
        publication.seconds = round(time.perf_counter() - started, 3)
        if not publication.outcome.ok or publication.outcome == Outcome.SKIPPED:
            failed.add(publication.product)
        publications.append(publication)
    return publications


def build_batch(mesh: MeshContext, path: Path, actor: Actor, progress: Progress) -> list[Build]:
    """Build each product into its tables' ``dev`` branch; nothing is published."""
    pipeline = Pipeline(BUILD_STEPS)
    builds = []
    for loaded, validation in load_batch(mesh, path, actor):
        if validation.issues or loaded.product is None:
            issues = "; ".join(f"{i.location()}: {i.message}" for i in validation.issues)
            builds.append(
                Build(
                    product=validation.product,
                    outcome=Outcome.FAILED,
                    reason=f"the product does not validate: {issues}",
                )
            )
            continue
        context = PublishContext(
            mesh, loaded.product, validation, actor, branch=DEV_BRANCH, progress=progress
        )
        mesh.access.built_dev(actor, loaded.product)  # before a byte is written
        with publishing(mesh.settings.home):
            pipeline.run(context)
        made = context.started_build()
        if context.outcome is not None and made.outcome.ok:
            # A step beyond the build proper stopped it (a plugin's hook): say why.
            made.outcome, made.reason = context.outcome, context.reason
        builds.append(made)
    return builds


def _tell(mesh: MeshContext, context: PublishContext, publication: Publication) -> None:
    if context.started_run:
        from quanta.publishing.runs import build_run

        state = "COMPLETE" if publication.version is not None else "FAIL"
        mesh.events.emit(build_run(context, state))
    if publication.version is not None:
        build = publication.build
        event: ProductPublished | PublishFailed = ProductPublished(
            subject=publication.product,
            actor=context.actor,
            version=publication.version,
            ports=tuple(sorted(context.staged)),
            rows=build.rows if build else 0,
            seconds=build.seconds if build else 0.0,
        )
    else:
        event = PublishFailed(
            subject=publication.product,
            actor=context.actor,
            outcome=publication.outcome,
            step=context.step,
            reason=publication.reason,
        )
    mesh.events.emit(event)


def _tell_stopped(mesh: MeshContext, context: PublishContext, error: BaseException) -> None:
    """A publish that raised registered nothing, unless it got as far (then recovery
    finishes it, and the version is told when it is)."""
    if context.version is not None:
        return
    if context.started_run:
        from quanta.publishing.runs import build_run

        mesh.events.emit(build_run(context, "FAIL"))
    mesh.events.emit(
        PublishFailed(
            subject=context.product_id,
            actor=context.actor,
            outcome=Outcome.ERROR,
            step=context.step,
            reason=f"the publish stopped: {type(error).__name__}",
        )
    )


# Product folders are read only to validate, build or publish: their code loads on first use.
def load_batch(
    mesh: MeshContext, path: Path, actor: Actor
) -> Iterator[tuple[LoadedFolder, Validation]]:
    """The folders at or below ``path`` in build order, validated for ``actor``: their
    files, the catalog, and access (who may publish each, and read its inputs)."""
    from quanta.access.publishing import check_access
    from quanta.privacy.concepts import check_concepts
    from quanta.validation.batch import load_batch

    loaded = list(load_batch(path, mesh.stores.catalog))
    teams = {
        str(folder.product.id): folder.product.descriptor.owner
        for folder, _ in loaded
        if folder.product is not None
    }
    for folder, validation in loaded:
        check_access(mesh.access, actor, folder, validation, teams)
        check_concepts(mesh.governance.rules.config.concepts, folder, validation)
        if folder.product is not None:
            mesh.lifecycle.check_new_consumers(folder, validation)
        if folder.product is not None and not validation.issues:
            validation.findings = mesh.governance.findings(folder.product)
            _changes(mesh, folder.product, validation)
        yield folder, validation


def _changes(mesh: MeshContext, product: DataProduct, validation: Validation) -> None:
    """What the product's changes to its served contracts would break, told at validate
    (the publish's ``changes`` step stops on the same)."""
    from quanta.lifecycle.impact import blocked_reason, impact, warnings

    found = impact(mesh.stores.catalog, product)
    validation.breaks_consumers = bool(found.broken)
    validation.changes = [blocked_reason(found)] if found.broken else warnings(found)
