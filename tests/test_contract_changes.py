"""What changes between a served contract and a proposed one, each change classified as
breaking, additive or cosmetic for the port's consumers (`quanta.model.changes`)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from quanta.model.changes import Kind, breaks, contract_changes
from quanta.model.contract import Contract

SERVED: dict[str, Any] = {
    "apiVersion": "v3.1.0",
    "kind": "DataContract",
    "id": "sales.orders.orders",
    "version": "1.0.0",
    "schema": [
        {
            "name": "orders",
            "properties": [
                {
                    "name": "order_id",
                    "logicalType": "integer",
                    "physicalType": "INTEGER",
                    "required": True,
                    "unique": True,
                    "primaryKey": True,
                },
                {
                    "name": "email",
                    "logicalType": "string",
                    "classification": "pii",
                    "description": "Where the receipt goes.",
                },
                {
                    "name": "amount",
                    "logicalType": "number",
                    "physicalType": "DECIMAL(10,2)",
                    "logicalTypeOptions": {"minimum": 0},
                    "quality": [{"metric": "nullValues", "mustBeLessThan": 5, "unit": "percent"}],
                },
                {"name": "status", "logicalType": "string", "classification": "internal"},
            ],
            "quality": [{"metric": "rowCount", "mustBeBetween": [100, 1000]}],
        }
    ],
    "slaProperties": [
        {"property": "freshness", "value": 1, "unit": "d", "element": "orders.order_id"},
        {"property": "retention", "value": 3, "unit": "y"},
    ],
}


def changed(edit: Any) -> list[tuple[str, str]]:
    proposed = copy.deepcopy(SERVED)
    edit(proposed)
    found = contract_changes(Contract.model_validate(SERVED), Contract.model_validate(proposed))
    return [(change.kind.value, change.what) for change in found]


def column(document: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(
        c for c in document["schema"][0]["properties"] if c["name"] == name
    )
    return found


def test_the_same_contract_has_no_changes() -> None:
    assert changed(lambda _document: None) == []


def test_a_removed_column_breaks_and_an_added_one_does_not() -> None:
    def edit(document: dict[str, Any]) -> None:
        properties = [c for c in document["schema"][0]["properties"] if c["name"] != "status"]
        document["schema"][0]["properties"] = [
            *properties,
            {"name": "channel", "logicalType": "string"},
        ]

    assert changed(edit) == [
        ("breaking", "column status removed"),
        ("additive", "column channel added"),
    ]


def test_a_rename_is_a_removal_and_an_addition() -> None:
    found = changed(lambda d: column(d, "status").update(name="state"))
    assert ("breaking", "column status removed") in found
    assert ("additive", "column state added") in found


@pytest.mark.parametrize(
    ("before", "after", "kind"),
    [("INTEGER", "BIGINT", "additive"), ("BIGINT", "INTEGER", "breaking")],
)
def test_a_whole_number_type_widened_is_additive_narrowed_breaks(
    before: str, after: str, kind: str
) -> None:
    served = copy.deepcopy(SERVED)
    column(served, "order_id")["physicalType"] = before
    proposed = copy.deepcopy(served)
    column(proposed, "order_id")["physicalType"] = after
    found = contract_changes(Contract.model_validate(served), Contract.model_validate(proposed))
    assert [(c.kind.value, c.what) for c in found] == [
        (kind, f"column order_id is now {after} (was {before})")
    ]


@pytest.mark.parametrize(
    ("written", "kind"),
    [
        ("DECIMAL(12,2)", "additive"),  # more whole digits, the same fraction
        ("DECIMAL(12,4)", "additive"),
        ("DECIMAL(10,4)", "breaking"),  # fewer whole digits: 12345678.90 no longer fits
        ("DOUBLE", "breaking"),  # not every decimal is a double
    ],
)
def test_decimals_widen_by_whole_digits_and_scale(written: str, kind: str) -> None:
    found = changed(lambda d: column(d, "amount").update(physicalType=written))
    assert found == [(kind, f"column amount is now {written} (was DECIMAL(10,2))")]


def test_another_logical_type_breaks() -> None:
    found = changed(lambda d: column(d, "status").update(logicalType="integer"))
    assert found == [("breaking", "column status is now integer (was string)")]


def test_a_withdrawn_guarantee_breaks_a_new_one_adds() -> None:
    def edit(document: dict[str, Any]) -> None:
        column(document, "order_id").update(required=False, unique=False, primaryKey=False)
        column(document, "status").update(required=True)

    found = changed(edit)
    assert ("breaking", "column order_id made nullable") in found
    assert ("breaking", "column order_id no longer unique") in found
    assert ("breaking", "primary key is now (none), was (order_id)") in found
    assert ("additive", "column status made required") in found


def test_a_new_major_is_needed_only_for_a_breaking_change() -> None:
    served = Contract.model_validate(SERVED)
    added = copy.deepcopy(SERVED)
    added["schema"][0]["properties"].append({"name": "channel", "logicalType": "string"})
    assert not breaks(contract_changes(served, Contract.model_validate(added)))
    removed = copy.deepcopy(SERVED)
    removed["schema"][0]["properties"].pop()
    assert breaks(contract_changes(served, Contract.model_validate(removed)))


def test_a_stricter_classification_breaks_a_looser_one_adds() -> None:
    def edit(document: dict[str, Any]) -> None:
        column(document, "status").update(classification="restricted")
        column(document, "email").update(classification="pii-sensitive")

    assert sorted(changed(edit)) == [
        ("breaking", "column email classified pii-sensitive (was pii)"),
        ("breaking", "column status classified restricted (was internal)"),
    ]
    looser = changed(lambda d: column(d, "status").update(classification="public"))
    assert looser == [("additive", "column status classified public (was internal)")]


@pytest.mark.parametrize(
    ("threshold", "kind", "moved"),
    [
        ({"mustBeLessThan": 10}, "breaking", "loosened"),
        ({"mustBeLessThan": 1}, "additive", "tightened"),
        ({"mustBe": 0}, "breaking", "changed"),
    ],
)
def test_a_rule_loosened_breaks_tightened_adds(
    threshold: dict[str, Any], kind: str, moved: str
) -> None:
    def edit(document: dict[str, Any]) -> None:
        column(document, "amount")["quality"] = [
            {"metric": "nullValues", "unit": "percent", **threshold}
        ]

    assert changed(edit) == [(kind, f"column amount: rule nullValues {moved}")]


def test_a_range_widened_breaks_narrowed_adds_and_a_removed_rule_breaks() -> None:
    wider = changed(
        lambda d: d["schema"][0].update(
            quality=[{"metric": "rowCount", "mustBeBetween": [0, 5000]}]
        )
    )
    assert wider == [("breaking", "the table: rule rowCount loosened")]
    narrower = changed(
        lambda d: d["schema"][0].update(
            quality=[{"metric": "rowCount", "mustBeBetween": [200, 900]}]
        )
    )
    assert narrower == [("additive", "the table: rule rowCount tightened")]
    assert changed(lambda d: d["schema"][0].update(quality=[])) == [
        ("breaking", "the table: rule rowCount removed")
    ]
    minimum = changed(lambda d: column(d, "amount").update(logicalTypeOptions={"minimum": -10}))
    assert minimum == [("breaking", "column amount: rule option:minimum loosened")]


@pytest.mark.parametrize(
    ("level", "kind", "moved"),
    [
        (
            {"property": "freshness", "value": 36, "unit": "h", "element": "orders.order_id"},
            "breaking",
            "loosened",
        ),
        (
            {"property": "freshness", "value": 12, "unit": "h", "element": "orders.order_id"},
            "additive",
            "tightened",
        ),
        (
            {"property": "freshness", "value": 24, "unit": "hours", "element": "orders.order_id"},
            None,
            None,
        ),
    ],
)
def test_service_levels_compare_in_one_unit(
    level: dict[str, Any], kind: str | None, moved: str | None
) -> None:
    found = changed(lambda d: d["slaProperties"].__setitem__(0, level))
    assert found == ([] if kind is None else [(kind, f"service level freshness {moved}")])


def test_a_shorter_retention_breaks_and_a_removed_level_breaks() -> None:
    shorter = changed(
        lambda d: d["slaProperties"].__setitem__(
            1, {"property": "retention", "value": 1, "unit": "y"}
        )
    )
    assert shorter == [("breaking", "service level retention loosened")]
    removed = changed(lambda d: d["slaProperties"].pop(0))
    assert removed == [("breaking", "service level freshness removed")]


def test_descriptions_are_cosmetic_and_breaking_changes_come_first() -> None:
    def edit(document: dict[str, Any]) -> None:
        column(document, "email")["description"] = "The buyer's address."
        document["schema"][0]["properties"] = [
            c for c in document["schema"][0]["properties"] if c["name"] != "status"
        ]

    found = changed(edit)
    assert found == [
        ("breaking", "column status removed"),
        ("cosmetic", "column email: description changed"),
    ]
    assert [kind for kind, _ in found] == sorted(
        (kind for kind, _ in found), key=[k.value for k in Kind].index
    )
