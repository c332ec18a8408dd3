"""The engine's sandbox, on its own: what the SQL guard never sees is still refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import grant
from quanta.errors import QueryRefused
from quanta.mesh import Mesh
from quanta.model.actor import local_user
from quanta.model.relations import Binding, FileScan
from quanta.model.result import Outcome
from quanta.reading.ports import served_ports


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret.csv"
    path.write_text("word\nswordfish\n")
    return path


def test_a_session_reads_its_bindings_and_no_other_file(
    mesh: Mesh, tmp_path: Path, secret: Path
) -> None:
    allowed = tmp_path / "allowed.csv"
    allowed.write_text("n\n1\n2\n")
    with mesh.engine.session(
        [Binding((("allowed",),), FileScan((str(allowed),), "csv"))]
    ) as session:
        assert session.to_arrow("SELECT sum(n) AS total FROM allowed").to_pylist() == [{"total": 3}]
        for sql in (
            f"SELECT * FROM read_csv('{secret}')",
            f"SELECT * FROM '{secret}'",
            f"COPY (SELECT 1) TO '{tmp_path / 'out.csv'}'",
        ):
            with pytest.raises(QueryRefused, match="outside its declared inputs"):
                session.to_arrow(sql)
        with pytest.raises(QueryRefused):
            session.to_arrow("SET enable_external_access = true")
    assert not (tmp_path / "out.csv").exists()


def test_sql_run_by_a_python_transformation_meets_the_sandbox(
    mesh: Mesh, source_product: Path, secret: Path
) -> None:
    (source_product / "transform.py").write_text(
        f"def build(inputs):\n    return inputs.sql(\"SELECT * FROM read_csv('{secret}')\")\n"
    )
    descriptor = source_product / "dataproduct.yaml"
    descriptor.write_text(
        descriptor.read_text()
        .replace("language: sql", "language: python")
        .replace("path: transform.sql", "path: transform.py")
    )
    [publication] = mesh.publish(source_product)
    assert publication.outcome == Outcome.FAILED
    assert "outside its declared inputs" in publication.reason
    assert mesh.products() == []


def test_init_keeps_the_port_a_consumer_names(demo: Mesh, tmp_path: Path) -> None:
    folder = demo.init_product(
        "reports/sessions",
        blueprint="consumer",
        inputs=["customer.identity_map.sessions"],
        directory=tmp_path,
    )
    grant(demo, "customer.identity_map.sessions", "reports.sessions")
    text = (folder / "dataproduct.yaml").read_text()
    assert "contractId: customer.identity_map.sessions" in text
    assert "FROM customer.identity_map.sessions" in (folder / "transform.sql").read_text()
    [validation] = demo.validate(folder)
    assert validation.issues == []


def test_sessions_never_draw_a_progress_bar_into_stdout(mesh: Mesh) -> None:
    with mesh.engine.session([]) as session:
        [row] = session.to_arrow("SELECT current_setting('enable_progress_bar') AS bar").to_pylist()
    assert row == {"bar": False}


def test_the_sandbox_refuses_what_the_guard_would_refuse_in_every_position(
    mesh: Mesh, tmp_path: Path, secret: Path
) -> None:
    # Below the guard, each bypass shape meets the engine's own refusal.
    allowed = tmp_path / "allowed.csv"
    allowed.write_text("n\n1\n")
    binding = Binding((("allowed",),), FileScan((str(allowed),), "csv"))
    with mesh.engine.session([binding]) as session:
        for sql in (
            f"SELECT * FROM allowed, LATERAL read_text('{secret}')",
            f"SELECT * FROM allowed CROSS JOIN LATERAL read_csv('{secret}')",
            f"SELECT * FROM allowed JOIN LATERAL read_blob('{secret}') ON true",
            f"SELECT * FROM LATERAL glob('{tmp_path}/*')",
            f"SELECT * FROM query('SELECT * FROM read_text(''{secret}'')')",
            f"SELECT (SELECT content FROM read_text('{secret}')) FROM allowed",
        ):
            with pytest.raises(QueryRefused, match="outside its declared inputs"):
                session.to_arrow(sql)


def test_a_query_may_read_the_served_files_and_no_other_file_of_a_table(
    mesh: Mesh, source_product: Path
) -> None:
    # Earlier snapshots, dev builds and discarded files lie in the same folder.
    mesh.publish(source_product)
    [old] = mesh.describe("finance.targets").current.ports[0].files or []
    data = source_product / "data" / "items.csv"
    data.write_text(data.read_text() + "9,Ninth item,general,1.00,2026-01-09 09:00:00\n")
    mesh.build(source_product)  # a dev snapshot, never served
    mesh.publish(source_product)
    port = mesh.describe("finance.targets").current.ports[0]
    others = sorted(
        str(path)
        for path in Path(port.location.removeprefix("file://")).rglob("*.parquet")
        if str(path) not in (port.files or [])
    )
    assert old in others
    assert len(others) >= 2

    served = mesh.context.reads.bind(local_user(), served_ports(mesh.stores.catalog))
    with mesh.engine.session(served) as session:
        assert session.to_arrow(f"SELECT count(*) AS n FROM read_parquet({port.files!r})")
        for path in others:
            with pytest.raises(QueryRefused, match="outside its declared inputs"):
                session.to_arrow(f"SELECT * FROM read_parquet('{path}')")
