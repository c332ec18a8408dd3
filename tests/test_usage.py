"""Usage, measured where it is served: every query, read and build of a published port is
metered after its rows are served, and metering never slows, fails or loses a read."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from quanta.errors import NotFound, UserError
from quanta.events import Event, PortRead, PortServed
from quanta.events.spool import STALE_SECONDS
from quanta.events.usage import SPOOL_FOLDER, Spool
from quanta.mesh import Mesh
from quanta.model.access import RequestState
from quanta.model.actor import Actor, ActorKind
from quanta.model.result import Outcome
from quanta.model.usage import ReadKind, UsageRecord


@pytest.fixture
def targets(mesh: Mesh, source_product: Path) -> Path:
    """finance.targets published, owned by the tests' identity."""
    [publication] = mesh.publish(source_product)
    assert publication.outcome == Outcome.PASSED, publication.reason
    return source_product


@pytest.fixture
def report(mesh: Mesh, targets: Path, workspace: Path) -> Path:
    """sales.report, reading finance.targets through a grant, not yet published."""
    folder = mesh.init_product(
        "sales/report", blueprint="aggregate", inputs=["finance.targets"], directory=workspace
    )
    _grant(mesh, "finance.targets", for_product="sales.report")
    return folder


def _grant(
    mesh: Mesh, target: str, *, for_product: str | None = None, actor: Actor | None = None
) -> int:
    """A grant asked for as users do, and approved by the target's owner (the tests' identity)."""
    asked = mesh.request_access(
        target, "the tests read it daily", for_product=for_product, actor=actor
    )
    if asked.state == RequestState.PENDING:
        asked = mesh.approve_access(asked.id)
    assert asked.state == RequestState.APPROVED
    return asked.id


def _spooled(mesh: Mesh) -> list[Path]:
    folder = mesh.home / SPOOL_FOLDER
    return sorted(folder.glob("*.jsonl")) if folder.is_dir() else []


# -- metered where it is served ----------------------------------------------------------


def test_a_query_is_metered_after_its_rows_with_reader_rows_and_bytes(
    mesh: Mesh, targets: Path
) -> None:
    told: list[Event] = []
    mesh.on_event(told.append)
    result = mesh.query("SELECT * FROM finance.targets WHERE amount > 0 LIMIT 2")

    [read] = mesh.stores.usage.reads(product="finance.targets")
    assert read.model_dump(exclude={"at", "seconds"}) == {
        "product": "finance.targets",
        "port": "targets",
        "version": 1,
        "consumer": mesh.actor.name,
        "consumer_kind": ActorKind.USER,
        "purpose": "query",
        "grant": None,  # the owner reads without one
        "read": ReadKind.QUERY,
        "rows": result.num_rows,
        "bytes": result.nbytes,
    }
    assert result.num_rows == 2
    assert read.seconds >= 0
    assert datetime.now(UTC) - read.at < timedelta(minutes=1)
    # Told once the rows are served: after the port was bound.
    assert [type(event) for event in told] == [PortRead, PortServed]


def test_a_query_of_two_products_meters_each_with_the_result(mesh: Mesh, report: Path) -> None:
    mesh.publish(report)
    before = len(mesh.stores.usage.reads())
    result = mesh.query("SELECT count(*) AS n FROM finance.targets, sales.report", actor=mesh.actor)
    found = mesh.stores.usage.reads()[before:]
    assert sorted((r.product, r.read, r.rows, r.bytes) for r in found) == [
        ("finance.targets", ReadKind.QUERY, 1, result.nbytes),
        ("sales.report", ReadKind.QUERY, 1, result.nbytes),
    ]


def test_a_read_is_metered_as_the_table_served_at_its_version(mesh: Mesh, targets: Path) -> None:
    (targets / "README.md").write_text("again\n")
    assert mesh.publish(targets)[0].outcome == Outcome.PASSED
    table = mesh.read("finance.targets", version=1)

    [read] = mesh.stores.usage.reads()
    assert (read.read, read.version, read.purpose) == (ReadKind.READ, 1, "read")
    assert (read.rows, read.bytes) == (3, table.nbytes)
    assert table.num_rows == 3


def test_a_read_through_a_grant_is_metered_with_the_grant_and_its_purpose(
    mesh: Mesh, targets: Path
) -> None:
    ana = Actor(name="ana@example.com")
    grant = _grant(mesh, "finance.targets", actor=ana)
    mesh.read("finance.targets", actor=ana)

    [read] = mesh.stores.usage.reads()
    assert (read.consumer, read.grant, read.purpose) == (
        "ana@example.com",
        grant,
        "the tests read it daily",
    )


def test_a_build_is_metered_as_the_product_reading_its_input(mesh: Mesh, report: Path) -> None:
    [publication] = mesh.publish(report)
    assert publication.outcome == Outcome.PASSED, publication.reason
    mesh.build(report)  # a dev build reads its inputs too

    recorded = mesh.stores.catalog.version("finance.targets")
    assert recorded is not None
    [port] = recorded.ports
    reads = mesh.stores.usage.reads(product="finance.targets")
    assert [(r.consumer, r.consumer_kind, r.read, r.rows, r.bytes) for r in reads] == [
        ("sales.report", ActorKind.PRODUCT, ReadKind.BUILD, port.rows, port.bytes)
    ] * 2
    grants = mesh.access_requests(product="finance.targets", consumer="sales.report")
    assert {r.grant for r in reads} == {grants[0].id}
    assert {r.purpose for r in reads} == {"the tests read it daily"}


def test_checks_of_a_published_version_are_not_usage(mesh: Mesh, report: Path) -> None:
    mesh.publish(report)
    before = mesh.stores.usage.reads()
    mesh.check("finance.targets")
    mesh.check("sales.report")
    assert mesh.stores.usage.reads() == before


# -- never slows, fails or loses a read --------------------------------------------------


def test_a_subscriber_that_breaks_neither_fails_the_read_nor_stops_metering(
    mesh: Mesh, targets: Path
) -> None:
    def broken(event: Event) -> None:
        raise RuntimeError("a plugin's bug")

    mesh.on_event(broken)
    assert mesh.read("finance.targets").num_rows == 3
    assert len(mesh.stores.usage.reads()) == 1


def test_a_usage_store_that_fails_loses_no_read(
    mesh: Mesh, targets: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable(*args: object, **kwargs: object) -> None:
        raise ConnectionError("the catalog is gone")

    with monkeypatch.context() as patched:
        patched.setattr(mesh.stores.usage, "record", unreachable)
        assert mesh.read("finance.targets").num_rows == 3
        assert mesh.query("SELECT 1 FROM finance.targets").num_rows == 3
    assert len(_spooled(mesh)) == 2
    assert mesh.stores.usage.reads() == []

    mesh.read("finance.targets")  # the next write folds the spooled ones in
    assert [r.read for r in mesh.stores.usage.reads()] == [
        ReadKind.READ,
        ReadKind.QUERY,
        ReadKind.READ,
    ]
    assert _spooled(mesh) == []


@contextmanager
def _publish_committing(mesh: Mesh) -> Iterator[None]:
    """Another process holds the catalog's write lock, as a publish does while it commits."""
    other = sqlite3.connect(mesh.home / "catalog.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_a_locked_catalog_neither_slows_nor_fails_nor_loses_the_read(
    mesh: Mesh, targets: Path
) -> None:
    mesh.read("finance.targets")  # the subscribers are loaded, the engine started
    with _publish_committing(mesh):
        started = time.perf_counter()
        table = mesh.read("finance.targets")
        waited = time.perf_counter() - started
        assert len(mesh.stores.usage.reads()) == 1  # not written: spooled
    assert table.num_rows == 3
    assert waited < 3  # the catalog's own writes would wait ten seconds
    assert len(_spooled(mesh)) == 1

    report = mesh.usage("finance.targets")  # folds the spool in first
    assert [(c.consumer, c.reads) for c in report.consumers] == [(mesh.actor.name, 2)]
    assert report.spooled == 0
    assert _spooled(mesh) == []


def test_the_spool_folds_what_a_dead_process_claimed_and_sets_aside_what_it_cannot_read(
    mesh: Mesh, targets: Path
) -> None:
    spool = Spool(mesh.home / SPOOL_FOLDER)
    spool.keep([_usage(consumer="ana@example.com")])
    spool.keep([_usage(consumer="bo@example.com")])
    [first, _] = _spooled(mesh)
    long_ago = time.time_ns() - int(2 * STALE_SECONDS * 1e9)
    first.rename(first.with_name(f"{first.stem}.{long_ago:020d}.claimed"))  # then it died
    (spool.folder / "0-0-garbage.jsonl").write_text("not a read\n")
    (spool.folder / "1-0-too-long.jsonl").write_text(_usage(consumer="c" * 256).model_dump_json())
    assert spool.waiting() == 4

    assert spool.fold_into(mesh.stores.usage, wait=None) == 2
    assert sorted(r.consumer for r in mesh.stores.usage.reads()) == [
        "ana@example.com",
        "bo@example.com",
    ]
    assert sorted(path.name for path in spool.folder.iterdir()) == [
        "0-0-garbage.rejected",
        "1-0-too-long.rejected",
    ]
    assert spool.waiting() == 0


# -- reporting ---------------------------------------------------------------------------


def _usage(**changes: object) -> UsageRecord:
    values: dict[str, object] = {
        "at": datetime.now(UTC),
        "product": "finance.targets",
        "port": "targets",
        "version": 1,
        "consumer": "bo@example.com",
        "consumer_kind": ActorKind.USER,
        "purpose": "query",
        "read": ReadKind.QUERY,
        "rows": 10,
        "bytes": 100,
        "seconds": 0.5,
    }
    return UsageRecord.model_validate(values | changes)


def _record(mesh: Mesh, **changes: object) -> None:
    mesh.stores.usage.record([_usage(**changes)])


def test_usage_is_reported_by_consumer_and_by_day_over_a_window(mesh: Mesh, targets: Path) -> None:
    mesh.read("finance.targets")
    _record(mesh)
    _record(mesh, at=datetime.now(UTC) - timedelta(days=40))

    report = mesh.usage("finance.targets")
    assert (report.product, report.by, report.days) == ("finance.targets", "consumer", 30)
    assert [(c.consumer, c.reads) for c in report.consumers] == [
        ("bo@example.com", 1),
        (mesh.actor.name, 1),
    ]
    assert report.daily == []
    assert [c.reads for c in mesh.usage("finance.targets", days=60).consumers] == [2, 1]
    [today] = mesh.usage("finance.targets", by="day").daily
    assert (today.day, today.reads, today.consumers) == (datetime.now(UTC).date(), 2, 2)
    assert mesh.usage("finance.targets", by="day").consumers == []


def test_usage_of_an_unknown_product_or_grouping_is_a_clear_error(
    mesh: Mesh, targets: Path
) -> None:
    with pytest.raises(NotFound, match=r"no product 'sales\.nope' is published"):
        mesh.usage("sales.nope")
    with pytest.raises(UserError, match="consumer or day, not 'week'"):
        mesh.usage(by="week")
    with pytest.raises(UserError, match="1 or more"):
        mesh.usage(days=0)


def test_show_lists_the_consumers_products_and_people_with_their_last_read(
    mesh: Mesh, report: Path
) -> None:
    mesh.publish(report)
    mesh.read("finance.targets")
    mesh.read("finance.targets")

    consumers = mesh.describe("finance.targets").consumers
    assert [(c.consumer, c.kind, c.reads) for c in consumers] == [
        (mesh.actor.name, ActorKind.USER, 2),
        ("sales.report", ActorKind.PRODUCT, 1),
    ]
    assert consumers[0].last_read >= consumers[1].last_read
    assert mesh.describe("sales.report").consumers == []


# -- the command line --------------------------------------------------------------------


def _quanta(mesh: Mesh, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "quanta", *args, "--home", str(mesh.home)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COLUMNS": "160"},  # a terminal wide enough for whole names
    )


def test_quanta_usage_shows_who_read_how_much_and_when(mesh: Mesh, report: Path) -> None:
    mesh.publish(report)
    mesh.read("finance.targets")
    _record(mesh, consumer="ev\x1b[31mil")  # not Quanta's own: shown, never obeyed

    shown = _quanta(mesh, "usage", "finance.targets")
    assert shown.returncode == 0, shown.stderr
    assert "usage of finance.targets over the last 30 days" in shown.stdout
    for consumer in ("sales.report", mesh.actor.name, "ev\\x1b[31mil"):
        assert consumer in shown.stdout
    assert "\x1b" not in shown.stdout
    whole = _quanta(mesh, "usage")  # the whole mesh's: the governance group's to see
    assert whole.returncode == 2
    assert "governance group" in whole.stderr

    as_json = _quanta(mesh, "usage", "finance.targets", "--json")
    body = json.loads(as_json.stdout)
    assert body["product"] == "finance.targets"
    assert {(c["consumer"], c["kind"], c["reads"]) for c in body["consumers"]} == {
        ("sales.report", "product", 1),
        (mesh.actor.name, "user", 1),
        ("ev\x1b[31mil", "user", 1),
    }

    by_day = _quanta(mesh, "usage", "finance.targets", "--by", "day", "--days", "7")
    assert by_day.returncode == 0, by_day.stderr
    assert f"{datetime.now(UTC):%Y-%m-%d}" in by_day.stdout
    by_day_json = _quanta(mesh, "usage", "finance.targets", "--by", "day", "--json")
    [day] = json.loads(by_day_json.stdout)["daily"]
    assert (day["reads"], day["consumers"]) == (3, 3)


def test_quanta_usage_of_an_unknown_product_says_so(mesh: Mesh, targets: Path) -> None:
    missing = _quanta(mesh, "usage", "sales.nope", "--json")
    assert missing.returncode == 2
    error = json.loads(missing.stdout)["error"]
    assert (error["code"], error["message"]) == (
        "not_found",
        "no product 'sales.nope' is published: see quanta list",
    )
    wrong = _quanta(mesh, "usage", "--by", "week")
    assert wrong.returncode == 2
    assert "consumer or day" in wrong.stderr


def test_quanta_show_lists_the_consumers(mesh: Mesh, report: Path) -> None:
    mesh.publish(report)
    mesh.query("SELECT count(*) FROM finance.targets")

    shown = _quanta(mesh, "show", "finance.targets")
    assert shown.returncode == 0, shown.stderr
    consumers = shown.stdout[shown.stdout.index("consumers") :]
    assert f"{mesh.actor.name} (user): 1 read, last " in consumers
    assert "sales.report (product): 1 read, last " in consumers
    body = json.loads(_quanta(mesh, "show", "finance.targets", "--json").stdout)
    assert {c["consumer"] for c in body["consumers"]} == {mesh.actor.name, "sales.report"}
