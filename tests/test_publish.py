"""Publishing: all or nothing, with every failure a clear outcome and nothing changed."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from conftest import grant
from quanta.errors import PlatformError
from quanta.mesh import Mesh
from quanta.model.actor import local_user
from quanta.model.relations import Binding, TableScan
from quanta.model.result import Outcome
from quanta.reading import PublishedPort
from quanta.scaffold import scaffold
from quanta.storage import TableName

TABLE = TableName("finance", "targets__targets__v1")


def replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def replace_files(scan: TableScan, files: tuple[str, ...] | None) -> TableScan:
    return dataclasses.replace(scan, files=files)


def served_state(mesh: Mesh) -> tuple[object, ...]:
    """Everything a failed publish must leave as it was: catalog rows and the table's refs."""
    versions = [
        (v.product, v.version, [p.snapshot_id for p in v.ports])
        for record in mesh.products()
        for v in mesh.stores.catalog.versions(record.id)
    ]
    main = mesh.storage.staged(TABLE, "main")
    return (
        versions,
        [r.current_version for r in mesh.products()],
        main.snapshot_id if main else None,
        mesh.storage.branches(TABLE),
        table_schema(mesh),
    )


def table_schema(mesh: Mesh) -> list[tuple[str, str]] | None:
    """The Iceberg table's current columns, or None when the table does not exist."""
    iceberg = mesh.storage._table(TABLE)  # type: ignore[attr-defined]
    if iceberg is None:
        return None
    return [(field.name, str(field.field_type)) for field in iceberg.schema().fields]


def test_a_scaffolded_product_publishes_unchanged_and_reads_back(
    mesh: Mesh, source_product: Path
) -> None:
    [publication] = mesh.publish(source_product)
    assert publication.outcome == Outcome.PASSED, publication.reason
    assert publication.version == 1
    table = mesh.read("finance.targets")
    assert table.num_rows == 3
    assert table.column("name").to_pylist() == ["First item", "Second item", "Third item"]
    # The served snapshot is main, tagged with the version; no staging branch is left.
    assert mesh.storage.branches(TABLE) == ["main"]
    assert (
        mesh.storage.staged(TABLE, "main").snapshot_id
        == mesh.stores.catalog.version("finance.targets").ports[0].snapshot_id
    )


def test_each_publish_is_a_new_version_and_old_versions_stay_readable(
    mesh: Mesh, source_product: Path
) -> None:
    mesh.publish(source_product)
    with (source_product / "data" / "items.csv").open("a") as data:
        data.write("4,Fourth item,general,1.00,2026-01-04 08:00:00\n")
    [second] = mesh.publish(source_product)
    assert second.version == 2
    assert mesh.read("finance.targets").num_rows == 4
    assert mesh.read("finance.targets", version=1).num_rows == 3
    assert [v.version for v in mesh.stores.catalog.versions("finance.targets")] == [1, 2]


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        # a column of the wrong type
        (
            "CAST(amount AS DECIMAL(12, 2)) AS amount",
            "CAST(amount AS DOUBLE) AS amount",
            "column amount type",
        ),
        # a required column with nulls
        ("CAST(id AS BIGINT) AS id", "CAST(NULL AS BIGINT) AS id", "column id not null"),
        # a primary key that repeats
        ("CAST(id AS BIGINT) AS id", "CAST(1 AS BIGINT) AS id", "primary key (id) unique"),
        # a column the contract does not declare
        ("    name,", "    name,\n    'x' AS extra,", "column extra declared"),
        # a declared column that is missing
        ("    category,\n", "", "column category exists"),
    ],
)
def test_an_output_that_breaks_its_contract_publishes_nothing(
    mesh: Mesh, source_product: Path, old: str, new: str, reason: str
) -> None:
    mesh.publish(source_product)
    before = served_state(mesh)
    replace(source_product / "transform.sql", old, new)
    [publication] = mesh.publish(source_product)
    assert publication.outcome == Outcome.FAILED
    assert reason in publication.reason
    failed = [c.name for c in publication.checks.checks if c.outcome == Outcome.FAILED]
    assert any(name.startswith(reason) for name in failed)
    assert served_state(mesh) == before
    assert mesh.read("finance.targets").num_rows == 3


def test_a_transformation_that_raises_publishes_nothing(mesh: Mesh, workspace: Path) -> None:
    folder = scaffold("finance/targets", "source", workspace, {})
    mesh.publish(folder)
    before = served_state(mesh)
    (folder / "transform.py").write_text(
        "def build(inputs):\n"
        "    rows = inputs.sql('SELECT * FROM raw_items')\n"
        "    raise RuntimeError('the upstream file is not what we expected')\n"
    )
    replace(folder / "dataproduct.yaml", "language: sql", "language: python")
    replace(folder / "dataproduct.yaml", "path: transform.sql", "path: transform.py")
    [publication] = mesh.publish(folder)
    assert publication.outcome == Outcome.FAILED
    assert "transform.py:3" in publication.reason
    assert "RuntimeError: the upstream file is not what we expected" in publication.reason
    assert served_state(mesh) == before


def test_sql_that_fails_while_running_publishes_nothing(mesh: Mesh, source_product: Path) -> None:
    mesh.publish(source_product)
    before = served_state(mesh)
    replace(
        source_product / "transform.sql",
        "CAST(id AS BIGINT) AS id",
        "CAST(CASE WHEN id = 3 THEN 'three' ELSE CAST(id AS VARCHAR) END AS BIGINT) AS id",
    )
    [publication] = mesh.publish(source_product)
    assert publication.outcome == Outcome.FAILED
    # What failed, in the engine's words, but never the value itself: it may be personal data.
    assert "could not be converted to INT64" in publication.reason
    assert "three" not in publication.reason
    assert served_state(mesh) == before


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT * FROM customer.profiles", "'customer.profiles', which is not declared"),
        ("SELECT * FROM read_csv('data/items.csv')", "table function read_csv()"),
        ("SELECT * FROM 'data/items.csv'", "reads the file 'data/items.csv' directly"),
    ],
)
def test_sql_reading_anything_undeclared_is_refused_before_running(
    mesh: Mesh, source_product: Path, sql: str, message: str
) -> None:
    (source_product / "transform.sql").write_text(f"-- reads too much\n{sql}\n")
    [validation] = mesh.validate(source_product)
    [issue] = validation.issues
    assert issue.file == "finance/targets/transform.sql"
    assert issue.line == 2
    assert message in issue.message
    [publication] = mesh.publish(source_product)
    assert publication.outcome == Outcome.FAILED
    assert publication.validation.issues == [issue]
    assert mesh.products() == []
    assert mesh.storage.branches(TABLE) == []


def test_an_input_naming_a_missing_product_is_an_issue_at_its_line(
    mesh: Mesh, source_product: Path, workspace: Path
) -> None:
    mesh.publish(source_product)
    folder = mesh.init_product(
        "sales/report", blueprint="aggregate", inputs=["finance.targets"], directory=workspace
    )
    replace(
        folder / "dataproduct.yaml", "contractId: finance.targets", "contractId: finance.target"
    )
    [validation] = mesh.validate(folder)
    # The port names a missing product, and so the SQL reads a name no port declares.
    issue, sql_issue = validation.issues
    assert sql_issue.file == "sales/report/transform.sql"
    assert sql_issue.message == "the SQL reads 'finance.targets', which is not declared"
    text = (folder / "dataproduct.yaml").read_text().splitlines()
    assert issue.line == 1 + next(
        i for i, line in enumerate(text) if "finance.target\n" in line + "\n"
    )
    assert issue.message == "no product 'finance.target' is published"
    assert issue.hint == "did you mean 'finance.targets'?"
    [publication] = mesh.publish(folder)
    assert publication.outcome == Outcome.FAILED
    assert [r.id for r in mesh.products()] == ["finance.targets"]


def test_a_dependency_cycle_is_refused(mesh: Mesh, workspace: Path) -> None:
    first = scaffold("loop/first", "source", workspace, {})
    second = scaffold("loop/second", "source", workspace, {})
    for folder, other in ((first, "loop.second"), (second, "loop.first")):
        text = (folder / "dataproduct.yaml").read_text()
        text = text.replace(
            "inputPorts:\n", f"inputPorts:\n- name: other\n  version: '1'\n  contractId: {other}\n"
        )
        (folder / "dataproduct.yaml").write_text(text)
    validations = mesh.validate(workspace)
    messages = [issue.message for v in validations for issue in v.issues]
    assert any("the inputs form a cycle: loop." in m for m in messages)
    publications = mesh.publish(workspace)
    assert all(p.outcome == Outcome.FAILED for p in publications)
    assert mesh.products() == []


def test_two_folders_with_one_product_id_are_refused(mesh: Mesh, workspace: Path) -> None:
    scaffold("finance/targets", "source", workspace, {})
    copy = scaffold("other/targets", "source", workspace, {})
    replace(copy / "dataproduct.yaml", "id: other.targets", "id: finance.targets")
    replace(copy / "dataproduct.yaml", "domain: other", "domain: finance")
    publications = {p.validation.path: p for p in mesh.publish(workspace)}
    refused = publications[str(copy)]
    assert refused.outcome == Outcome.FAILED
    assert "product id 'finance.targets' is also used by" in refused.validation.issues[0].message


def test_a_product_name_with_path_traversal_is_refused(mesh: Mesh, source_product: Path) -> None:
    replace(source_product / "dataproduct.yaml", "id: finance.targets", "id: ../finance.targets")
    [publication] = mesh.publish(source_product)
    assert publication.outcome == Outcome.FAILED
    [issue] = publication.validation.issues
    assert issue.field == "id"
    assert issue.message == "'../finance.targets' is not a product id"
    assert issue.hint == "write it as domain.product"
    assert not (mesh.home / "warehouse" / "..").resolve().joinpath("finance").exists()
    assert mesh.products() == []


def test_malformed_yaml_publishes_nothing(mesh: Mesh, source_product: Path) -> None:
    replace(source_product / "dataproduct.yaml", "status: active", "status: [active")
    [publication] = mesh.publish(source_product)
    assert publication.outcome == Outcome.FAILED
    assert "not valid YAML" in publication.validation.issues[0].message
    assert mesh.products() == []


def test_a_failed_upstream_skips_its_readers(mesh: Mesh, workspace: Path) -> None:
    upstream = scaffold("finance/targets", "source", workspace, {})
    mesh.publish(upstream)
    reader = mesh.init_product(
        "sales/report", blueprint="aggregate", inputs=["finance.targets"], directory=workspace
    )
    grant(mesh, "finance.targets", "sales.report")
    replace(upstream / "transform.sql", "CAST(id AS BIGINT) AS id", "CAST(1 AS BIGINT) AS id")
    outcomes = {p.product: p.outcome for p in mesh.publish(workspace)}
    assert outcomes == {"finance.targets": Outcome.FAILED, "sales.report": Outcome.SKIPPED}
    assert reader.exists()


def test_a_failed_first_publish_leaves_no_table(mesh: Mesh, source_product: Path) -> None:
    replace(source_product / "transform.sql", "CAST(id AS BIGINT) AS id", "CAST(1 AS BIGINT) AS id")
    [publication] = mesh.publish(source_product)
    assert publication.outcome == Outcome.FAILED
    assert table_schema(mesh) is None
    assert not (mesh.home / "warehouse" / "finance" / "targets__targets__v1").exists()


def test_a_failed_publish_does_not_wedge_the_next_one(mesh: Mesh, source_product: Path) -> None:
    transform = source_product / "transform.sql"
    contract = source_product / "contracts" / "targets.odcs.yaml"
    replace(transform, "CAST(id AS BIGINT) AS id", "CAST(1 AS BIGINT) AS id")
    assert mesh.publish(source_product)[0].outcome == Outcome.FAILED
    replace(transform, "CAST(1 AS BIGINT) AS id", "CAST(id AS BIGINT) AS id")
    replace(
        transform, "CAST(amount AS DECIMAL(12, 2)) AS amount", "CAST(amount AS DOUBLE) AS amount"
    )
    replace(contract, "physicalType: DECIMAL(12,2)", "physicalType: DOUBLE")
    [publication] = mesh.publish(source_product)
    assert publication.outcome == Outcome.PASSED, publication.reason
    assert ("amount", "double") in (table_schema(mesh) or [])


def test_an_incompatible_type_change_in_one_major_version_is_refused_cleanly(
    mesh: Mesh, source_product: Path
) -> None:
    mesh.publish(source_product)
    before = served_state(mesh)
    replace(
        source_product / "transform.sql",
        "CAST(amount AS DECIMAL(12, 2)) AS amount",
        "CAST(amount AS VARCHAR) AS amount",
    )
    replace(
        source_product / "contracts" / "targets.odcs.yaml",
        "logicalType: number\n    physicalType: DECIMAL(12,2)",
        "logicalType: string\n    physicalType: VARCHAR",
    )
    [publication] = mesh.publish(source_product)
    assert publication.outcome == Outcome.FAILED
    assert "a breaking change needs a new major version" in publication.reason
    assert served_state(mesh) == before


def test_a_failed_publish_that_adds_a_column_leaves_the_served_data_as_it_was(
    mesh: Mesh, source_product: Path
) -> None:
    mesh.publish(source_product)
    replace(source_product / "transform.sql", "    name,", "    name,\n    'x' AS extra,")
    replace(source_product / "transform.sql", "CAST(id AS BIGINT) AS id", "CAST(1 AS BIGINT) AS id")
    contract = source_product / "contracts" / "targets.odcs.yaml"
    replace(
        contract,
        "  - name: category\n",
        "  - name: extra\n    logicalType: string\n    physicalType: VARCHAR\n  - name: category\n",
    )
    [publication] = mesh.publish(source_product)
    assert publication.outcome == Outcome.FAILED
    assert mesh.read("finance.targets").column_names == [
        "id",
        "name",
        "category",
        "amount",
        "updated_at",
    ]


def test_a_version_records_its_snapshot_files_and_statistics(
    mesh: Mesh, source_product: Path
) -> None:
    [publication] = mesh.publish(source_product)
    assert publication.outcome == Outcome.PASSED, publication.reason
    [port] = mesh.stores.catalog.version("finance.targets").ports
    assert port.files
    assert all(Path(file).is_file() for file in port.files)
    assert all(file.startswith(port.location.removeprefix("file://")) for file in port.files)
    assert port.stats is not None
    assert port.stats.rows == 3
    identity = port.stats.columns["id"]
    assert (identity.nulls, identity.lower, identity.upper) == (0, 1, 3)
    updated = port.stats.columns["updated_at"]
    assert (updated.lower, updated.upper) == ("2026-01-01T09:00:00", "2026-01-03T16:45:00")
    # Text bounds are truncated by writers, so they are not kept; decimals neither.
    assert port.stats.columns["name"].lower is None
    assert port.stats.columns["amount"].lower is None


def test_a_port_with_known_files_is_read_without_planning_from_iceberg_metadata(
    mesh: Mesh, source_product: Path
) -> None:
    mesh.publish(source_product)
    [port] = mesh.stores.catalog.version("finance.targets").ports
    probe = "SELECT count(*) AS n FROM duckdb_functions() WHERE function_name = 'iceberg_scan'"
    served = PublishedPort("finance.targets", 1, port, (("t",),))
    [bound] = mesh.context.reads.bind(local_user(), [served])
    with mesh.engine.session([bound]) as session:
        assert session.to_arrow("SELECT count(*) AS n FROM t").column("n").to_pylist() == [3]
        assert session.to_arrow(probe).column("n").to_pylist() == [0]
    # A version published before files were recorded is planned from the metadata.
    planned = replace_files(bound.relation, None)
    with mesh.engine.session([Binding((("t",),), planned)]) as session:
        assert session.to_arrow("SELECT count(*) AS n FROM t").column("n").to_pylist() == [3]
        assert session.to_arrow(probe).column("n").to_pylist()[0] > 0


def test_an_empty_output_publishes_checks_and_reads_back(mesh: Mesh, source_product: Path) -> None:
    replace(source_product / "transform.sql", "FROM raw_items", "FROM raw_items WHERE false")
    [publication] = mesh.publish(source_product)
    assert publication.outcome == Outcome.PASSED, publication.reason
    assert mesh.read("finance.targets").num_rows == 0
    [run] = mesh.check("finance.targets")
    assert run.outcome == Outcome.PASSED
    assert {c.name for c in run.checks} >= {"column id not null", "primary key (id) unique"}


def test_an_unreadable_table_catalog_is_an_error_with_what_to_do(
    mesh: Mesh, source_product: Path
) -> None:
    mesh.publish(source_product)
    (mesh.home / "warehouse" / "iceberg.db").write_text("not a database\n")

    with Mesh.open(mesh.home) as reopened, pytest.raises(PlatformError, match=r"iceberg\.db"):
        reopened.publish(source_product)
