"""Rules the snapshot's statistics settle skip the scan, and give what the scan would."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from quanta.mesh import Mesh
from quanta.model.actor import local_user
from quanta.model.catalog import ColumnStats, TableStats
from quanta.model.contract import Contract
from quanta.model.result import Check
from quanta.quality import conformance
from quanta.quality.scanning import checks_on as _checks
from quanta.quality.statistics import UNKNOWN, Statistic, answer, percent
from quanta.reading import PublishedPort
from quanta.reading.ports import inputs_of


def results(mesh: Mesh, product: str, *, stats: bool) -> dict[str, Check]:
    """The checks of a published product's version, with or without its statistics."""
    version = mesh.stores.catalog.version(product)
    assert version is not None
    found: dict[str, Check] = {}
    inputs = mesh.context.reads.bind(local_user(), inputs_of(mesh.stores.catalog, version))
    readable = frozenset(name[0] for binding in inputs for name in binding.names)
    for port in version.ports:
        [binding] = mesh.context.reads.bind(
            local_user(), [PublishedPort(product, version.version, port, (("p",),))]
        )
        target = conformance.Target(
            port.port,
            Contract.model_validate(port.contract),
            {},
            readable,
            '"p"',
            port.stats if stats else None,
        )
        with mesh.engine.session([binding, *inputs]) as session:
            for check in _checks(session, target, conformance.RULES):
                found[f"{port.port}: {check.name}"] = check
    return found


def test_every_example_product_checks_the_same_with_and_without_statistics(demo: Mesh) -> None:
    compared = 0
    for record in demo.products():
        scanned = results(demo, record.id, stats=False)
        answered = results(demo, record.id, stats=True)
        assert answered.keys() == scanned.keys()
        for name, check in scanned.items():
            other = answered[name]
            assert other.outcome == check.outcome, name
            if name.split(": ", 1)[1].startswith("freshness "):
                # an age in seconds, measured a moment apart
                assert isinstance(other.observed, int)
                assert isinstance(check.observed, int)
                assert abs(other.observed - check.observed) <= 5, name
            else:
                assert other.observed == check.observed, name
            compared += 1
    assert compared > 50


def test_the_example_orders_are_mostly_answered_by_statistics(demo: Mesh) -> None:
    version = demo.stores.catalog.version("checkout.orders")
    assert version is not None
    [port] = version.ports
    contract = Contract.model_validate(port.contract)
    columns = {c.name: c.type for c in port.columns}
    with_stats = conformance.Target(port.port, contract, columns, stats=port.stats)
    without = dataclasses.replace(with_stats, stats=None)
    scanned = conformance.compile_query([r(without) for r in conformance.RULES], '"t"')
    answered = conformance.compile_query([r(with_stats) for r in conformance.RULES], '"t"')
    assert scanned is not None
    keys = scanned[1]
    left = answered[1] if answered else []
    assert len(left) < len(keys)
    assert "rows" not in left
    assert not any(key.startswith("nulls:") for key in left)


def contract(properties: list[dict[str, Any]], **table: Any) -> Contract:
    return Contract.model_validate(
        {
            "id": "x.t.t",
            "version": "1.0.0",
            "schema": [{"name": "t", "properties": properties, **table}],
            "slaProperties": table.pop("sla", []) if "sla" in table else [],
        }
    )


STATS = TableStats(
    rows=10,
    columns={
        "n": ColumnStats(nulls=0, nans=0, lower=1, upper=9),
        "x": ColumnStats(nulls=2, nans=None, lower=0.5, upper=2.5),
        "day": ColumnStats(nulls=0, nans=0, lower="2026-01-01", upper="2026-01-31"),
        "at": ColumnStats(nulls=10, nans=0),
    },
)


def plan_of(properties: list[dict[str, Any]], **table: Any) -> conformance.Plan:
    columns = {p["name"]: p["physicalType"] for p in properties}
    target = conformance.Target("t", contract(properties, **table), columns, stats=STATS)
    return conformance.contract_quality_rule(target)


def test_a_range_inside_the_bounds_needs_no_scan_and_one_outside_is_scanned() -> None:
    inside = plan_of(
        [{"name": "n", "logicalType": "integer", "physicalType": "BIGINT",
          "logicalTypeOptions": {"minimum": 1, "maximum": 9}}]
    )  # fmt: skip
    assert inside.measures == {}
    assert [c.observed for c in inside.judge({})] == [0, 0]
    outside = plan_of(
        [{"name": "n", "logicalType": "integer", "physicalType": "BIGINT",
          "logicalTypeOptions": {"minimum": 2}}]
    )  # fmt: skip
    assert len(outside.measures) == 2  # the count and the sample of failing rows


def test_floats_without_a_nan_count_are_scanned() -> None:
    plan = plan_of(
        [{"name": "x", "logicalType": "number", "physicalType": "DOUBLE",
          "logicalTypeOptions": {"maximum": 100}}]
    )  # fmt: skip
    assert plan.measures  # NaN sorts above every number; the bounds cannot clear it


def test_null_counts_answer_null_rules_in_rows_and_percent() -> None:
    plan = plan_of(
        [{"name": "x", "logicalType": "number", "physicalType": "DOUBLE",
          "quality": [{"metric": "nullValues", "mustBeLessThan": 25, "unit": "percent"},
                      {"metric": "missingValues", "mustBeLessOrEqualTo": 2}]}],
        quality=[{"metric": "rowCount", "mustBeGreaterThan": 5}],
    )  # fmt: skip
    assert plan.measures == {}
    assert [c.observed for c in plan.judge({})] == [20.0, 2, 10]


def test_a_null_rule_that_fails_is_scanned_for_its_samples() -> None:
    plan = plan_of(
        [{"name": "x", "logicalType": "number", "physicalType": "DOUBLE",
          "quality": [{"metric": "nullValues", "mustBe": 0}]}]
    )  # fmt: skip
    assert any(key.endswith(":sample") for key in plan.measures)


def test_freshness_comes_from_the_upper_bound() -> None:
    now = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
    assert answer(Statistic("age", "day", "date"), STATS, now) == 12 * 3600
    assert answer(Statistic("age", "at", "timestamp"), STATS, now) is None  # only nulls
    assert answer(Statistic("age", "missing", "timestamp"), STATS, now) is UNKNOWN


@pytest.mark.parametrize(
    "comparisons",
    [
        ((">=", "2026-01-01"),),
        ((">", "2025-12-31"), ("<=", "2026-01-31")),
    ],
)
def test_date_bounds_settle_date_ranges(comparisons: tuple[tuple[str, str], ...]) -> None:
    assert answer(Statistic("outside", "day", "date", comparisons), STATS) == 0


def test_date_bounds_that_break_a_range_leave_it_to_the_scan() -> None:
    late = Statistic("outside", "day", "date", (("<", "2026-01-31"),))
    assert answer(late, STATS) is UNKNOWN


def test_a_published_product_with_statistics_checks_on_demand(
    mesh: Mesh, source_product: Path
) -> None:
    [publication] = mesh.publish(source_product)
    assert publication.outcome.ok
    [run] = mesh.check("finance.targets")
    assert {c.name: c.observed for c in run.checks}["column id not null"] == 0


def test_completeness_comes_from_null_counts_when_they_settle_it() -> None:
    assert answer(Statistic("complete", columns=("x",)), STATS) == 80.0
    assert answer(Statistic("complete", columns=("n", "day")), STATS) == 100.0
    # NULLs in two columns may fall on the same rows or not: only a scan can tell.
    assert answer(Statistic("complete", columns=("x", "at")), STATS) is UNKNOWN


def test_percentages_round_a_half_away_from_zero_as_the_engine_does() -> None:
    assert percent(1, 128) == 0.7813  # 0.78125: Python's round() would give 0.7812
    assert percent(125, 128) == 97.6563
    assert percent(0, 0) is None


@pytest.mark.parametrize(
    "threshold",
    [
        "2026-01-01T00:00:00+02:00",  # an offset: the engine decides
        datetime(2026, 1, 1, tzinfo=UTC),
        "20260101",  # not a form both Python and the engine read
    ],
)
def test_thresholds_python_and_the_engine_might_read_apart_are_left_to_the_scan(
    threshold: object,
) -> None:
    rule = Statistic("outside", "day", "timestamp", ((">=", threshold),))
    assert answer(rule, STATS) is UNKNOWN


def test_a_float_threshold_on_a_whole_number_column_is_left_to_the_scan() -> None:
    assert answer(Statistic("outside", "n", "integer", ((">", 0.5),)), STATS) is UNKNOWN
    assert answer(Statistic("outside", "n", "integer", ((">", 0),)), STATS) == 0


def test_a_home_whose_path_has_a_space_publishes_and_reads_back(
    tmp_path: Path, source_product: Path
) -> None:
    with Mesh.open(tmp_path / "My Projects" / "home") as mesh:
        [publication] = mesh.publish(source_product)
        assert publication.outcome.ok, publication.reason
        assert mesh.read("finance.targets").num_rows == 3
        [run] = mesh.check("finance.targets")
        assert run.outcome.ok
