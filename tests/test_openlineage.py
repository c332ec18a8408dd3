"""Each publish's build is told as OpenLineage RunEvents (START, then COMPLETE or FAIL),
every one valid against the official schemas (tests/standards/openlineage)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource

from quanta.mesh import Mesh
from test_change import LENA, contract_file, orders_folder

SCHEMAS = Path(__file__).parent / "standards" / "openlineage"
FACETS = {
    "schema": "SchemaDatasetFacet.json",
    "columnLineage": "ColumnLineageDatasetFacet.json",
    "dataQualityAssertions": "DataQualityAssertionsDatasetFacet.json",
}


def registry() -> Registry:
    found: Registry = Registry()
    for path in SCHEMAS.glob("*.json"):
        document = json.loads(path.read_text())
        found = found.with_resource(document["$id"], Resource.from_contents(document))
    return found


def check(event: dict[str, Any]) -> None:
    """Valid as a RunEvent, and each facet we know the schema of valid as that facet."""
    core = json.loads((SCHEMAS / "OpenLineage.json").read_text())
    run_event = {"$ref": f"{core['$id']}#/$defs/RunEvent"}
    jsonschema.Draft202012Validator(run_event, registry=registry()).validate(event)
    for dataset in [*event.get("inputs", []), *event.get("outputs", [])]:
        for name, facet in dataset.get("facets", {}).items():
            if name in FACETS:
                schema = json.loads((SCHEMAS / FACETS[name]).read_text())
                validator = jsonschema.Draft202012Validator(schema, registry=registry())
                validator.validate({name: facet})


def events(mesh: Mesh) -> list[dict[str, Any]]:
    path = mesh.home / "lineage" / "openlineage.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_each_build_of_the_example_mesh_is_told_and_valid(retail: Mesh) -> None:
    found = events(retail)
    for event in found:
        check(event)
    by_job: dict[str, list[str]] = {}
    for event in found:
        by_job.setdefault(event["job"]["name"], []).append(event["eventType"])
    assert set(by_job) == {p.id for p in retail.stores.catalog.products()}
    assert all(states == ["START", "COMPLETE"] for states in by_job.values()), by_job
    [complete] = [
        e
        for e in found
        if e["job"]["name"] == "marketing.attribution" and e["eventType"] == "COMPLETE"
    ]
    assert {d["name"] for d in complete["inputs"]} == {
        "checkout.orders.orders.v1",
        "web.sessions.sessions.v1",
        "customer.identity_map.sessions.v1",
    }
    [output] = complete["outputs"]
    assert output["name"] == "marketing.attribution.attribution.v1"
    assert output["namespace"] == "quanta"
    revenue = output["facets"]["columnLineage"]["fields"]["revenue"]["inputFields"]
    assert {(f["name"], f["field"]) for f in revenue} >= {("checkout.orders.orders.v1", "amount")}
    assertions = output["facets"]["dataQualityAssertions"]["assertions"]
    assert assertions
    assert all(a["success"] for a in assertions)
    assert output["facets"]["version"]["datasetVersion"] == "1"
    [start] = [
        e
        for e in found
        if e["run"]["runId"] == complete["run"]["runId"] and e["eventType"] == "START"
    ]
    assert start["eventTime"] <= complete["eventTime"]


def test_a_build_whose_checks_fail_is_told_failed(retail: Mesh) -> None:
    before = len(events(retail))
    path = contract_file(retail)
    text = path.read_text()
    path.write_text(text.replace("mustBeGreaterThan: 0,", "mustBeGreaterThan: 100000000,"))
    [publication] = retail.publish(orders_folder(retail), actor=LENA)
    assert not publication.outcome.ok
    new = events(retail)[before:]
    assert [e["eventType"] for e in new] == ["START", "FAIL"]
    for event in new:
        check(event)
    failed = new[1]
    assert (
        failed["run"]["facets"]["errorMessage"]["message"]
        == "the publish stopped at its check step"
    )
    [output] = failed["outputs"]
    assert any(not a["success"] for a in output["facets"]["dataQualityAssertions"]["assertions"])


def test_the_schemas_refuse_what_is_not_a_run_event(retail: Mesh) -> None:
    """The check above can fail: an event without its run, or a facet of the wrong shape."""
    import pytest

    event = events(retail)[0]
    with pytest.raises(jsonschema.ValidationError):
        check({key: value for key, value in event.items() if key != "run"})
    broken = json.loads(json.dumps(event))
    broken["outputs"][0]["facets"]["schema"]["fields"] = "id"
    with pytest.raises(jsonschema.ValidationError):
        check(broken)


def test_events_go_to_an_http_endpoint_when_one_is_set(
    tmp_path: Path, source_product: Path, monkeypatch: Any
) -> None:
    """As to Marquez: POSTed to QUANTA_OPENLINEAGE_URL's api/v1/lineage, each valid."""
    from test_webhooks import Receiver

    receiver = Receiver()
    try:
        monkeypatch.setenv("QUANTA_OPENLINEAGE_URL", receiver.url.removesuffix("/hook"))
        with Mesh.open(tmp_path / "home") as mesh:
            [publication] = mesh.publish(source_product)
        assert publication.outcome.ok, publication.reason
        told = [json.loads(body) for _, body in receiver.received]
        assert [event["eventType"] for event in told] == ["START", "COMPLETE"]
        for event in told:
            check(event)
        assert told[1]["inputs"][0]["namespace"] == "file"
        assert not (tmp_path / "home" / "lineage").exists()
    finally:
        receiver.stop()
