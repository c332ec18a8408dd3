"""Publishing a product again after data it derives from was removed (an erasure): the
whole publish pipeline, as the product itself, with one more step after ``check`` that
leaves the product as it was when its new data is the same as the served version's."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from quanta.model.actor import Actor
from quanta.model.privacy import Rebuilt
from quanta.model.relations import Binding, Exposed
from quanta.model.result import Outcome
from quanta.privacy.rewrite import scan_of
from quanta.sql_text import quote

if TYPE_CHECKING:
    from quanta.context import MeshContext
    from quanta.publishing.pipeline import PublishContext

UNCHANGED = "its data came out the same as the served version's: left as it was"


def publish_unless_unchanged(context: MeshContext, folder: Path, actor: Actor) -> Rebuilt:
    from quanta.publishing import PUBLISH_STEPS, Pipeline, publish_batch

    if not (folder / "dataproduct.yaml").is_file():
        return Rebuilt(
            product=actor.name,
            outcome="failed",
            reason=f"its folder {folder} has no dataproduct.yaml any more",
        )
    pipeline = Pipeline(PUBLISH_STEPS)
    pipeline.insert("same code", _same_code, after="resolve inputs")
    pipeline.insert("compare", _unchanged, after="check")
    found = [
        publication
        for publication in publish_batch(context, pipeline, folder, actor, lambda *_: None)
        if publication.product == actor.name
    ]
    if not found:
        return Rebuilt(
            product=actor.name,
            outcome="failed",
            reason=f"its folder {folder} holds another product now",
        )
    publication = found[0]
    if publication.outcome == Outcome.SKIPPED and publication.reason == UNCHANGED:
        return Rebuilt(product=actor.name, outcome="unchanged", reason=UNCHANGED)
    return Rebuilt(
        product=actor.name,
        outcome=publication.outcome.value,
        version=publication.version,
        reason=publication.reason,
    )


def _same_code(context: PublishContext) -> None:
    """Stop the rebuild when the folder no longer holds what the served version was built
    from: publishing it would put, under the owners' name, changes no owner published."""
    from quanta.publishing.records import code_of

    served = context.mesh.stores.catalog.version(context.product_id)
    if served is None or context.code is None:
        return
    if served.code is None:
        context.stop(
            Outcome.FAILED,
            f"version {served.version} was published before Quanta kept what a version is "
            "built from, so nothing tells whether its folder still holds it: its owners "
            "publish it again",
        )
        return
    if code_of(context.product, context.code.text) != served.code:
        context.stop(
            Outcome.FAILED,
            f"its folder holds changes to its descriptor, contracts or code that were not "
            f"published (version {served.version} was built from other ones): its owners "
            "publish them, or put the folder back as it was",
        )


def _unchanged(context: PublishContext) -> None:
    """Stop the publish, keeping the served version, when every port's new rows are the
    served ones (as a multiset: order does not count)."""
    served = context.mesh.stores.catalog.version(context.product_id)
    if served is None:
        return
    for name, staged in context.staged.items():
        port = served.port(name)
        if port is None or port.table != str(staged.table):
            return
        columns = list(staged.columns)  # one table: the served snapshot reads the same
        shown = tuple(Exposed(column) for column in columns)
        bindings = [
            Binding((("new",),), staged.scan, shown),
            Binding((("served",),), scan_of(context.mesh, port), shown),
        ]
        select = ", ".join(quote(column) for column in columns)
        sql = (
            f"SELECT (SELECT count(*) FROM (SELECT {select} FROM new EXCEPT ALL "
            f"SELECT {select} FROM served)) + (SELECT count(*) FROM (SELECT {select} FROM "
            f"served EXCEPT ALL SELECT {select} FROM new)) AS differing"
        )
        limits = context.mesh.build_limits("comparing a rebuild with the served version")
        with context.mesh.engine.session(bindings, limits=limits) as session:
            if session.to_arrow(sql).column(0)[0].as_py():
                return
    context.stop(Outcome.SKIPPED, UNCHANGED)
