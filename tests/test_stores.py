"""The stores' conformance suite: every test runs on SQLite and on PostgreSQL, each on a new,
empty database. The PostgreSQL cases need the server `make test` starts (see conftest)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from quanta.errors import ConfigError, PlatformError
from quanta.model.actor import ActorKind
from quanta.model.catalog import (
    CheckRecord,
    ColumnInfo,
    ColumnStats,
    InputUse,
    PortVersion,
    ProductRecord,
    TableStats,
    Version,
)
from quanta.model.usage import ReadKind, UsageRecord
from quanta.stores import Stores
from quanta.stores.database import HEAD_REVISION, Database
from quanta.stores.sql import SqlStores

AT = datetime(2026, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.db'}"
    found: str = request.getfixturevalue("postgresql_url")
    return found


@pytest.fixture
def stores(url: str) -> Iterator[Stores]:
    opened = SqlStores(url)
    yield opened
    opened.close()


def _record(product_id: str = "sales.revenue", **changes: Any) -> ProductRecord:
    domain, _, name = product_id.partition(".")
    values: dict[str, Any] = {
        "id": product_id,
        "domain": domain,
        "name": name,
        "title": f"{name.title()} by day",
        "description": f"The {name} of every shop",
        "owner": f"{domain}-team",
        "contact": f"{domain}@example.com",
        "status": "active",
        "tags": ["finance", "daily"],
        "folder": f"products/{domain}/{name}",
        "current_version": 0,
        "updated_at": AT,
        "descriptor": {"id": product_id, "nested": {"list": [1, 2.5, None, "x"]}},
    }
    return ProductRecord(**(values | changes))


def _port(
    port: str = "main",
    contract_version: str = "1.0.0",
    *,
    table: str | None = None,
    classification: str | None = None,
    stats: TableStats | None = None,
) -> PortVersion:
    return PortVersion(
        port=port,
        contract_version=contract_version,
        table=table or f"sales.revenue_{port}_v{contract_version.split('.')[0]}",
        snapshot_id=2**62 + 7,  # past 32 bits: BigInteger on every dialect
        metadata_location=f"file:///warehouse/{port}/metadata/00001.metadata.json",
        location=f"file:///warehouse/{port}",
        rows=3_000_000_000,
        bytes=12_345,
        description=f"The {port} port",
        columns=[
            ColumnInfo(name="day", type="date", logical_type="date", primary_key=True),
            ColumnInfo(
                name="email",
                type="varchar",
                logical_type="string",
                classification=classification,
                description="Who bought",
            ),
            ColumnInfo(name="revenue", type="double", logical_type="number", nullable=False),
        ],
        contract={"apiVersion": "v3.1.0", "schema": [{"name": port}]},
        files=[f"/warehouse/{port}/data/00000.parquet"],
        stats=stats,
    )


def _version(*ports: PortVersion, **changes: Any) -> Version:
    values: dict[str, Any] = {
        "product": "sales.revenue",
        "version": 0,
        "published_at": AT,
        "seconds": 1.25,
        "ports": list(ports) or [_port()],
        "inputs": [],
        "checks": [],
    }
    return Version(**(values | changes))


def _check(outcome: str, name: str = "rows at least 1") -> dict[str, Any]:
    return {"name": name, "port": "main", "outcome": outcome, "observed": 3, "reason": ""}


# -- schema ------------------------------------------------------------------------------


def test_migrations_from_empty_build_exactly_the_declared_tables(url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from quanta.stores.schema import metadata

    database = Database(url)
    try:
        assert database.revision() == HEAD_REVISION
        with database.engine.connect() as connection:
            context = MigrationContext.configure(connection)
            # product_search is FTS5 on SQLite and a plain table elsewhere: made by hand.
            differences = [
                d for d in compare_metadata(context, metadata) if "product_search" not in str(d)
            ]
        assert differences == []
    finally:
        database.close()


def test_a_database_opened_again_is_at_head_and_keeps_its_rows(url: str) -> None:
    first = SqlStores(url)
    first.catalog.publish(_record(), _version())
    first.close()
    again = SqlStores(url)
    assert again.database.revision() == HEAD_REVISION
    assert [record.id for record in again.catalog.products()] == ["sales.revenue"]
    again.close()


def test_ports_published_before_0011_keep_the_mapping_their_product_declares(url: str) -> None:
    from alembic import command
    from alembic.config import Config

    from quanta.stores.database import MIGRATIONS

    mappings = {"property": "mappings", "value": [{"port": "map", "columns": ["a", "b"]}]}
    record = _record(descriptor={"id": "sales.revenue", "customProperties": [mappings]})
    stores = SqlStores(url)
    stores.catalog.publish(record, _version(_port("map"), _port("main")))
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with stores.database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0010")  # a catalog written before ports kept mappings
    stores.close()
    again = SqlStores(url)
    try:
        served = again.catalog.version("sales.revenue")
        assert served is not None
        assert {port.port: port.mapped for port in served.ports} == {
            "map": ["a", "b"],
            "main": None,
        }
    finally:
        again.close()


def test_a_url_that_is_no_database_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="not one SQLAlchemy can open"):
        Database("catalog.db")


def test_a_database_that_cannot_be_reached_says_where_without_its_password() -> None:
    # Port 1 on this machine: nothing listens, the connection is refused at once.
    with pytest.raises(PlatformError, match="cannot be opened") as raised:
        Database("postgresql://quanta:s3cret@127.0.0.1:1/quanta")
    assert "127.0.0.1:1/quanta" in str(raised.value)
    assert "s3cret" not in str(raised.value)


# -- catalog -----------------------------------------------------------------------------


def test_a_published_version_reads_back_whole(stores: Stores) -> None:
    stats = TableStats(
        rows=3_000_000_000,
        columns={"revenue": ColumnStats(nulls=0, nans=1, lower=-1.5, upper=2e9)},
    )
    ports = (_port("main", "1.2.0", stats=stats), _port("by_shop", "2.0.0"))
    inputs = [
        InputUse(
            port="orders", upstream="checkout.orders", upstream_port="main", upstream_version=4
        ),
        InputUse(port="rates", source="https://example.com/rates.csv"),
    ]
    checks = [_check("passed"), _check("warned", "revenue not null")]
    version = _version(*ports, inputs=inputs, checks=checks)
    record = _record()

    assert stores.catalog.publish(record, version) == 1

    found = stores.catalog.version("sales.revenue", 1)
    expected = version.model_copy(update={"version": 1, "ports": sorted(ports, key=_by_port)})
    assert found == expected
    assert found.published_at.tzinfo is not None
    stored = stores.catalog.product("sales.revenue")
    assert stored is not None
    assert stored.model_dump(exclude={"updated_at"}) == record.model_copy(
        update={"current_version": 1}
    ).model_dump(exclude={"updated_at"})
    assert stored.updated_at.tzinfo is not None
    assert stores.catalog.product("sales.missing") is None
    assert stores.catalog.version("sales.missing") is None
    assert stores.catalog.version("sales.revenue", 2) is None


def _by_port(port: PortVersion) -> str:
    return port.port


def test_the_served_version_is_the_newest_publish(stores: Stores) -> None:
    stores.catalog.publish(_record(), _version())
    number = stores.catalog.publish(
        _record(description="Now with refunds"),
        _version(_port(contract_version="1.1.0"), published_at=AT + timedelta(days=1)),
    )
    stores.catalog.publish(_record("sales.costs"), _version())

    assert number == 2
    served = stores.catalog.version("sales.revenue")
    assert served is not None
    assert (served.version, served.ports[0].contract_version) == (2, "1.1.0")
    assert [v.version for v in stores.catalog.versions("sales.revenue")] == [1, 2]
    record = stores.catalog.product("sales.revenue")
    assert record is not None
    assert (record.current_version, record.description) == (2, "Now with refunds")
    assert [r.id for r in stores.catalog.products()] == ["sales.costs", "sales.revenue"]
    assert stores.catalog.versions("sales.missing") == []


def test_latest_with_major_is_the_newest_version_of_that_contract_major(stores: Stores) -> None:
    for contract_version in ("1.0.0", "1.1.0", "2.0.0"):
        stores.catalog.publish(_record(), _version(_port(contract_version=contract_version)))

    def latest(port: str, major: int) -> int | None:
        found = stores.catalog.latest_with_major("sales.revenue", port, major)
        return None if found is None else found.version

    assert latest("main", 1) == 2
    assert latest("main", 2) == 3
    assert latest("main", 3) is None
    assert latest("by_shop", 1) is None
    assert stores.catalog.latest_with_major("sales.missing", "main", 1) is None


def test_downstream_lists_the_readers_of_served_versions_only(stores: Stores) -> None:
    def reading(*upstreams: str) -> Version:
        return _version(
            inputs=[
                InputUse(port=f"in_{i}", upstream=u, upstream_port="main", upstream_version=1)
                for i, u in enumerate(upstreams)
            ]
        )

    stores.catalog.publish(_record("checkout.orders"), _version())
    stores.catalog.publish(_record("sales.revenue"), reading("checkout.orders"))
    stores.catalog.publish(_record("marketing.spend"), reading("checkout.orders"))
    assert [(d.product, d.port) for d in stores.catalog.downstream("checkout.orders")] == [
        ("marketing.spend", "in_0"),
        ("sales.revenue", "in_0"),
    ]
    [first, _] = stores.catalog.downstream("checkout.orders")
    assert (first.upstream_port, first.upstream_version) == ("main", 1)

    stores.catalog.publish(_record("marketing.spend"), _version())  # no longer reads it
    assert [d.product for d in stores.catalog.downstream("checkout.orders")] == ["sales.revenue"]
    assert stores.catalog.downstream("sales.revenue") == []


def test_table_users_are_every_product_and_port_that_published_into_a_table(
    stores: Stores,
) -> None:
    shared = "sales.revenue_main_v1"
    stores.catalog.publish(_record(), _version(_port(table=shared)))
    stores.catalog.publish(_record(), _version(_port(table=shared)))
    stores.catalog.publish(_record("sales.costs"), _version(_port("copy", table=shared)))
    stores.catalog.publish(_record("sales.other"), _version(_port(table="sales.other_main_v1")))

    assert stores.catalog.table_users(shared) == [
        ("sales.costs", "copy"),
        ("sales.revenue", "main"),
    ]
    assert stores.catalog.table_users("sales.nothing_v1") == []


def test_private_bounds_of_earlier_versions_are_forgotten_on_reclassification(
    stores: Stores,
) -> None:
    bounds = TableStats(
        rows=3,
        columns={
            "email": ColumnStats(nulls=0, lower="a@example.com", upper="z@example.com"),
            "revenue": ColumnStats(nulls=1, lower=1.0, upper=9.0),
        },
    )
    stores.catalog.publish(_record(), _version(_port(stats=bounds)))
    stores.catalog.publish(_record(), _version(_port("other", stats=bounds)))
    stores.catalog.publish(_record(), _version(_port(classification="PII", stats=bounds)))

    earlier = stores.catalog.version("sales.revenue", 1)
    assert earlier is not None
    assert earlier.ports[0].stats is not None
    assert earlier.ports[0].stats.columns["email"] == ColumnStats(nulls=0)
    assert earlier.ports[0].stats.columns["revenue"] == bounds.columns["revenue"]
    # Another port's column of the same name is another column: its bounds stay.
    other = stores.catalog.version("sales.revenue", 2)
    assert other is not None
    assert other.ports[0].stats == bounds


# -- search ------------------------------------------------------------------------------


def _publish_for_search(stores: Stores) -> None:
    stores.catalog.publish(_record("sales.daily_revenue", tags=["finance"]), _version())
    stores.catalog.publish(
        _record("checkout.orders", description="Every order placed", tags=["core"]),
        _version(_port(classification="pii")),
    )


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("orders", ["checkout.orders"]),  # the name
        ("ORDER placed", ["checkout.orders"]),  # words of the description, any case, as prefixes
        ("finance", ["sales.daily_revenue"]),  # a tag
        ("checkout-team", ["checkout.orders"]),  # the owner, split into words
        ("daily_revenue", ["sales.daily_revenue"]),  # "_" is itself, not any character
        ("pii", ["checkout.orders"]),  # a column's classification
        ("orders finance", []),  # every word must match
        ("nowhere", []),
        ("  ...  ", []),  # no word at all
    ],
)
def test_search_finds_every_word_in_a_products_text(
    stores: Stores, text: str, found: list[str]
) -> None:
    _publish_for_search(stores)
    assert [hit.product for hit in stores.catalog.search(text)] == found


def test_search_hits_carry_the_product_and_stop_at_the_limit(stores: Stores) -> None:
    _publish_for_search(stores)
    [hit] = stores.catalog.search("orders")
    assert (hit.domain, hit.owner, hit.description) == (
        "checkout",
        "checkout-team",
        "Every order placed",
    )
    assert {h.product for h in stores.catalog.search("who bought")} == {
        "checkout.orders",
        "sales.daily_revenue",
    }  # a column's description
    assert len(stores.catalog.search("who bought", limit=1)) == 1


def test_search_reads_the_served_versions_text(stores: Stores) -> None:
    stores.catalog.publish(_record(description="Gross turnover"), _version())
    stores.catalog.publish(_record(description="Net income"), _version())
    assert stores.catalog.search("turnover") == []
    assert [hit.product for hit in stores.catalog.search("income")] == ["sales.revenue"]


# -- check history -----------------------------------------------------------------------


def test_a_publish_keeps_its_checks_as_a_run_in_the_same_write(stores: Stores) -> None:
    checks = [_check("passed"), _check("failed", "revenue positive")]
    stores.catalog.publish(_record(), _version(checks=checks))
    stores.catalog.publish(_record("sales.costs"), _version(checks=[_check("passed")]))
    stores.catalog.publish(_record(), _version())  # no checks: no run

    [run] = stores.checks.check_history("sales.revenue", AT - timedelta(days=1))
    assert run == CheckRecord(
        product="sales.revenue",
        version=1,
        checked_at=AT,
        trigger="publish",
        outcome="failed",
        checks=checks,
    )


def test_runs_recorded_later_join_the_history_oldest_first(stores: Stores) -> None:
    stores.catalog.publish(_record(), _version(checks=[_check("passed")]))
    later = AT + timedelta(hours=1)
    earlier = AT - timedelta(hours=1)
    for moment, outcome in ((later, "warned"), (earlier, "error")):
        stores.checks.record_checks(
            CheckRecord(
                product="sales.revenue",
                version=1,
                # Another zone, the same instant: the history is in UTC.
                checked_at=moment.astimezone(timezone(timedelta(hours=-5))),
                trigger="check",
                outcome=outcome,
                checks=[_check(outcome)],
            )
        )

    history = stores.checks.check_history("sales.revenue", earlier)
    assert [(r.checked_at, r.trigger, r.outcome) for r in history] == [
        (earlier, "check", "error"),
        (AT, "publish", "passed"),
        (later, "check", "warned"),
    ]
    assert all(r.checked_at.utcoffset() == timedelta(0) for r in history)
    assert [r.outcome for r in stores.checks.check_history("sales.revenue", AT)] == [
        "passed",
        "warned",
    ]
    assert stores.checks.check_history("sales.costs", earlier) == []


# -- a failed publish --------------------------------------------------------------------


def _duplicate_port() -> Version:
    """Two ports of one name: the second insert breaks the primary key, mid-transaction."""
    return _version(_port(), _port(), checks=[_check("failed")])


def test_a_failed_first_publish_leaves_nothing(stores: Stores) -> None:
    with pytest.raises(IntegrityError):
        stores.catalog.publish(_record(), _duplicate_port())

    assert stores.catalog.products() == []
    assert stores.catalog.versions("sales.revenue") == []
    assert stores.catalog.table_users("sales.revenue_main_v1") == []
    assert stores.catalog.search("revenue") == []
    assert stores.checks.check_history("sales.revenue", AT - timedelta(days=1)) == []
    # The failed write left the database usable: the same publish, done right, is version 1.
    assert stores.catalog.publish(_record(), _version()) == 1


def test_a_failed_publish_of_a_new_version_leaves_the_served_one_as_it_was(
    stores: Stores,
) -> None:
    stores.catalog.publish(_record(), _version(checks=[_check("passed")]))
    before = stores.catalog.version("sales.revenue")
    with pytest.raises(IntegrityError):
        stores.catalog.publish(_record(description="Broken publish"), _duplicate_port())
    duplicate_input = _version(inputs=[InputUse(port="in", source="a"), InputUse(port="in")])
    with pytest.raises(IntegrityError):
        stores.catalog.publish(_record(description="Broken publish"), duplicate_input)

    assert [v.version for v in stores.catalog.versions("sales.revenue")] == [1]
    assert stores.catalog.version("sales.revenue") == before
    record = stores.catalog.product("sales.revenue")
    assert record is not None
    assert (record.current_version, record.description) == (1, "The revenue of every shop")
    assert stores.catalog.search("broken") == []
    history = stores.checks.check_history("sales.revenue", AT - timedelta(days=1))
    assert [r.outcome for r in history] == ["passed"]


# -- events ------------------------------------------------------------------------------


def test_events_come_back_as_appended_oldest_first(stores: Stores) -> None:
    payload = {"who": "ana", "columns": ["email", "day"], "rows": 2**40, "deep": {"ok": True}}
    stores.events.append("access.granted", AT + timedelta(seconds=2), "sales.revenue", payload)
    stores.events.append("query.run", AT, "sales.revenue", {})
    # Another zone, the same instant as the first: kept in UTC, ordered by instant.
    stores.events.append(
        "query.run", AT.astimezone(timezone(timedelta(hours=9))), "checkout.orders", {"n": 1}
    )

    found = stores.events.events()
    assert [(e.kind, e.at, e.subject) for e in found] == [
        ("query.run", AT, "sales.revenue"),
        ("query.run", AT, "checkout.orders"),  # the same instant: in the order appended
        ("access.granted", AT + timedelta(seconds=2), "sales.revenue"),
    ]
    assert found[0].id < found[1].id
    assert found[2].payload == payload
    assert all(e.at.utcoffset() == timedelta(0) for e in found)


def test_events_are_read_by_time_kind_and_subject(stores: Stores) -> None:
    for minute in range(6):
        stores.events.append(
            ("query.run", "access.granted", "usage.metered")[minute % 3],
            AT + timedelta(minutes=minute),
            ("sales.revenue", "checkout.orders")[minute % 2],
            {"minute": minute},
        )

    def minutes(**query: Any) -> list[int]:
        return [e.payload["minute"] for e in stores.events.events(**query)]

    assert minutes() == [0, 1, 2, 3, 4, 5]
    assert minutes(since=AT + timedelta(minutes=4)) == [4, 5]
    assert minutes(kinds=["query.run", "usage.metered"]) == [0, 2, 3, 5]
    assert minutes(kinds={"access.granted"}) == [1, 4]
    assert minutes(subject="checkout.orders") == [1, 3, 5]
    assert minutes(subject="checkout.orders", kinds=("query.run",)) == [3]
    assert minutes(subject="checkout.orders", since=AT + timedelta(minutes=2)) == [3, 5]
    assert minutes(limit=2) == [0, 1]
    assert minutes(subject="nobody") == []


def test_an_event_too_long_for_its_columns_is_refused_on_every_dialect(stores: Stores) -> None:
    with pytest.raises(ValueError, match="kind"):
        stores.events.append("k" * 64, AT, "sales.revenue", {})
    with pytest.raises(ValueError, match="kind"):
        stores.events.append("", AT, "sales.revenue", {})
    with pytest.raises(ValueError, match="subject"):
        stores.events.append("query.run", AT, "s" * 256, {})
    stores.events.append("k" * 63, AT, "s" * 255, {})
    assert len(stores.events.events()) == 1


# -- usage -------------------------------------------------------------------------------


def _read(**changes: Any) -> UsageRecord:
    values: dict[str, Any] = {
        "at": AT,
        "product": "sales.revenue",
        "port": "main",
        "version": 3,
        "consumer": "ana@example.com",
        "consumer_kind": ActorKind.USER,
        "purpose": "query",
        "grant": None,
        "read": ReadKind.QUERY,
        "rows": 3_000_000_000,  # past 32 bits: BigInteger on every dialect
        "bytes": 2**40,
        "seconds": 0.125,
    }
    return UsageRecord(**(values | changes))


def test_usage_comes_back_as_recorded_oldest_first(stores: Stores) -> None:
    later = _read(
        at=AT + timedelta(minutes=1),
        consumer="sales.report",
        consumer_kind=ActorKind.PRODUCT,
        purpose="the daily report",
        grant=7,
        read=ReadKind.BUILD,
    )
    # Another zone, the same instant: kept in UTC.
    stores.usage.record([later, _read(at=AT.astimezone(timezone(timedelta(hours=-3))))])
    stores.usage.record([_read(product="checkout.orders", read=ReadKind.READ)])
    stores.usage.record([])

    found = stores.usage.reads(product="sales.revenue")
    assert found == [_read(), later]
    assert all(read.at.utcoffset() == timedelta(0) for read in found)
    assert [r.product for r in stores.usage.reads()] == [
        "sales.revenue",
        "checkout.orders",
        "sales.revenue",
    ]
    assert stores.usage.reads(since=AT + timedelta(seconds=1)) == [later]
    assert len(stores.usage.reads(limit=1)) == 1
    assert stores.usage.reads(product="sales.nothing") == []


def test_usage_is_summed_by_product_and_consumer_latest_reader_first(stores: Stores) -> None:
    stores.usage.record(
        [
            _read(rows=1, bytes=10),
            _read(at=AT + timedelta(hours=2), rows=2, bytes=20),
            _read(
                at=AT + timedelta(hours=1),
                consumer="sales.report",
                consumer_kind=ActorKind.PRODUCT,
                rows=5,
                bytes=50,
            ),
            _read(at=AT + timedelta(hours=3), product="checkout.orders", rows=7, bytes=70),
            _read(at=AT - timedelta(days=2), rows=100, bytes=1000),
        ]
    )

    summed = stores.usage.by_consumer(product="sales.revenue", since=AT - timedelta(hours=1))
    assert [(c.consumer, c.kind, c.reads, c.rows, c.bytes) for c in summed] == [
        ("ana@example.com", ActorKind.USER, 2, 3, 30),
        ("sales.report", ActorKind.PRODUCT, 1, 5, 50),
    ]
    assert [c.last_read for c in summed] == [AT + timedelta(hours=2), AT + timedelta(hours=1)]
    assert all(c.last_read.utcoffset() == timedelta(0) for c in summed)
    everything = stores.usage.by_consumer()
    assert [(c.product, c.consumer, c.reads, c.rows) for c in everything] == [
        ("checkout.orders", "ana@example.com", 1, 7),
        ("sales.revenue", "ana@example.com", 3, 103),
        ("sales.revenue", "sales.report", 1, 5),
    ]
    assert stores.usage.by_consumer(product="sales.nothing") == []


def test_usage_is_summed_by_utc_day_oldest_first(stores: Stores) -> None:
    # 05:06 UTC: the day before in a zone five hours behind, still this day in UTC.
    stores.usage.record(
        [
            _read(at=AT.astimezone(timezone(timedelta(hours=-8))), rows=1, bytes=1),
            _read(at=AT + timedelta(hours=1), consumer="bo", rows=2, bytes=2),
            _read(at=AT + timedelta(hours=2), rows=4, bytes=4),
            _read(at=AT + timedelta(days=2), rows=8, bytes=8),
            _read(at=AT + timedelta(days=2), product="checkout.orders", rows=16, bytes=16),
        ]
    )

    days = stores.usage.by_day(product="sales.revenue")
    assert [(d.day, d.reads, d.consumers, d.rows, d.bytes) for d in days] == [
        (AT.date(), 3, 2, 7, 7),
        ((AT + timedelta(days=2)).date(), 1, 1, 8, 8),
    ]
    assert [d.rows for d in stores.usage.by_day(since=AT + timedelta(days=1))] == [24]
    assert stores.usage.by_day(product="sales.nothing") == []


def test_a_usage_read_its_columns_cannot_keep_is_refused_and_nothing_written(
    stores: Stores,
) -> None:
    too_long = ({"consumer": "c" * 256}, {"product": "p" * 131}, {"port": ""})
    for changes in (*too_long, {"consumer": "a\x00b"}, {"purpose": "\x00"}):
        with pytest.raises(ValueError, match="character"):
            stores.usage.record([_read(), _read(**changes)])
    assert stores.usage.reads() == []
    stores.usage.record([_read(consumer="c" * 255, product="p" * 130, port="q" * 63)])
    assert len(stores.usage.reads()) == 1


@contextmanager
def _writing_elsewhere(stores: Stores) -> Iterator[None]:
    """Another connection holds the lock a usage write needs, as a publish's commit does."""
    with stores.database.engine.connect() as other:
        if stores.database.dialect == "sqlite":
            raw: Any = other.connection.dbapi_connection
            raw.execute("BEGIN IMMEDIATE")
        else:
            other.exec_driver_sql("LOCK TABLE port_usage IN EXCLUSIVE MODE")
        try:
            yield
        finally:
            other.rollback()
            if stores.database.dialect == "sqlite":
                raw.rollback()


def test_a_usage_write_told_to_wait_briefly_gives_up_on_a_busy_database(stores: Stores) -> None:
    with _writing_elsewhere(stores):
        started = time.perf_counter()
        with pytest.raises(OperationalError, match="lock"):
            stores.usage.record([_read()], wait=0.2)
        assert time.perf_counter() - started < 3  # not the ten seconds other writes wait
    assert stores.usage.reads() == []
    stores.usage.record([_read()], wait=0.2)
    assert len(stores.usage.reads()) == 1
    if stores.database.dialect == "sqlite":
        # The shortened wait was put back on the connection for the writes after it.
        with stores.database.engine.connect() as first, stores.database.engine.connect() as two:
            for connection in (first, two):
                timeout = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
                assert timeout == 10000


# -- privacy: rewrites of published tables, erasures, retention runs -------------------------


def test_moving_ports_changes_only_those_still_on_their_old_snapshot(stores: Stores) -> None:
    from quanta.model.catalog import PortMoved

    table = "sales.revenue_main_v1"
    stores.catalog.publish(_record(), _version(_port()))
    stores.catalog.publish(_record(), _version(_port()))
    assert [(p, v) for p, v, _ in stores.catalog.table_ports(table)] == [
        ("sales.revenue", 1),
        ("sales.revenue", 2),
    ]
    old = 2**62 + 7
    stats = TableStats(rows=2, columns={"revenue": ColumnStats(nulls=0)})
    moved = [
        PortMoved(
            product="sales.revenue",
            version=1,
            port="main",
            before=old,
            snapshot_id=old + 1,
            rows=2,
            bytes=10,
            files=["/warehouse/main/data/00001.parquet"],
            stats=stats,
        ),
        PortMoved(
            product="sales.revenue",
            version=2,
            port="main",
            before=old - 1,
            snapshot_id=5,
            rows=0,
            bytes=0,
        ),  # no longer on that snapshot: left as it is
    ]
    assert stores.catalog.move_ports(table, "file:///warehouse/main/metadata/2.json", moved) == 1
    first, second = (stores.catalog.version("sales.revenue", n).ports[0] for n in (1, 2))
    assert (first.snapshot_id, first.rows, first.stats) == (old + 1, 2, stats)
    assert first.files == ["/warehouse/main/data/00001.parquet"]
    assert (second.snapshot_id, second.rows) == (old, 3_000_000_000)
    assert {first.metadata_location, second.metadata_location} == {
        "file:///warehouse/main/metadata/2.json"
    }


def test_scrubbing_drops_the_sample_rows_holding_a_value(stores: Stores) -> None:
    samples = [{"customer_id": "c-1", "n": 1}, {"customer_id": "c-2", "n": 2}]
    checks = [_check("failed") | {"samples": samples}, _check("passed")]
    stores.catalog.publish(_record(), _version(checks=checks))
    assert stores.catalog.scrub_samples({"c-1", "nobody"}) == 2  # the version and its run
    kept = stores.catalog.version("sales.revenue")
    assert kept is not None
    assert kept.checks[0]["samples"] == [{"customer_id": "c-2", "n": 2}]
    [run] = stores.checks.check_history("sales.revenue", AT - timedelta(days=1))
    assert run.checks[0]["samples"] == [{"customer_id": "c-2", "n": 2}]
    assert stores.catalog.scrub_samples({"c-1"}) == 0
    stores.database.scrub(["versions", "check_runs"])  # compacts SQLite, vacuums PostgreSQL


def test_an_erasure_is_saved_as_it_goes_and_forgets_its_identifiers(stores: Stores) -> None:
    from quanta.model.privacy import Erasure, ErasureReceipt, ErasureState

    erasure = Erasure(
        id="e1",
        concept="customer",
        identifier="customer_id",
        subject="ab" * 32,
        reason="a request",
        requested_by="ines@example.com",
        requested_at=AT,
        state=ErasureState.PLANNED,
    )
    stores.privacy.add(erasure, b"\x00sealed\xff")
    assert stores.privacy.erasure("e1") == erasure
    assert stores.privacy.sealed("e1") == b"\x00sealed\xff"
    erasure.state = ErasureState.ERASING
    erasure.progress = {"tables": {"sales.t": {"rewritten": {"1": {"after": 2}}}}}
    erasure.products = ["sales.revenue"]
    stores.privacy.save(erasure)
    assert stores.privacy.erasure("e1") == erasure
    assert stores.privacy.erasures(product="sales.revenue") == [erasure]
    assert stores.privacy.erasures(product="web.sessions") == []
    assert stores.privacy.erasures(states=[ErasureState.DONE]) == []
    erasure.receipt = ErasureReceipt(
        id="e1",
        concept="customer",
        identifier="customer_id",
        subject=erasure.subject,
        reason="a request",
        requested_by="ines@example.com",
        requested_at=AT,
        finished_at=AT + timedelta(seconds=3),
    )
    erasure.state, erasure.finished_at = ErasureState.DONE, AT + timedelta(seconds=3)
    stores.privacy.save(erasure, forget=True)
    kept = stores.privacy.erasure("e1")
    assert kept == erasure
    assert kept.receipt is not None
    assert kept.receipt.hash == erasure.receipt.hash
    assert stores.privacy.sealed("e1") is None
    assert stores.privacy.erasure("e2") is None


def test_retention_runs_are_kept_and_found_unfinished(stores: Stores) -> None:
    from quanta.model.privacy import RetentionRun

    run = RetentionRun(id="r1", at=AT, by="ines@example.com", product="web.sessions")
    stores.privacy.save_retention(run)
    assert stores.privacy.retention_runs(done=False) == [run]
    run.done, run.finished_at = True, AT + timedelta(minutes=1)
    stores.privacy.save_retention(run)
    assert stores.privacy.retention_runs(done=False) == []
    assert stores.privacy.retention_runs(done=True) == [run]
