"""The seams later capabilities plug into hold: one read path, a pipeline of named steps,
events that never break a publish, a build executor that gets only its request."""

from __future__ import annotations

import ast
import json
import logging
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import quanta
from conftest import TESTER, grant
from quanta import registry
from quanta.errors import QueryRefused, UserError
from quanta.events import BuildRun, ChecksRun, Event, PortRead, ProductPublished, PublishFailed
from quanta.mesh import Mesh
from quanta.model.actor import Actor, ActorKind
from quanta.model.relations import Binding, Exposed, TableScan
from quanta.model.result import Outcome
from quanta.publishing.pipeline import PublishContext
from quanta.reading import PublishedPort
from quanta.scaffold import scaffold

SOURCE = Path(quanta.__file__).parent


@pytest.fixture
def two_products(mesh: Mesh, workspace: Path) -> Path:
    """finance.targets (a source) and sales.report (reading it), both published."""
    scaffold("finance/targets", "source", workspace, {})
    mesh.publish(workspace)
    mesh.init_product(
        "sales/report", blueprint="aggregate", inputs=["finance.targets"], directory=workspace
    )
    grant(mesh, "finance.targets", "sales.report")
    assert all(p.outcome == Outcome.PASSED for p in mesh.publish(workspace))
    return workspace


@contextmanager
def bound(mesh: Mesh) -> Iterator[list[Binding]]:
    """Every binding the engine's sessions receive, first or later (the real engine runs)."""
    seen: list[Binding] = []
    engine = mesh.engine
    original = engine.session

    @contextmanager
    def session(bindings: Any, **options: Any) -> Iterator[Any]:
        seen.extend(bindings)
        with original(bindings, **options) as opened:
            bind = opened.bind

            def bind_more(binding: Binding) -> None:
                seen.append(binding)
                bind(binding)

            opened.bind = bind_more  # type: ignore[method-assign]
            yield opened

    engine.session = session  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        engine.session = original  # type: ignore[method-assign]


def published_snapshots(mesh: Mesh) -> set[tuple[str, int]]:
    return {
        (port.metadata_location, port.snapshot_id)
        for record in mesh.products()
        for version in mesh.stores.catalog.versions(record.id)
        for port in version.ports
    }


# -- one read path ----------------------------------------------------------------------


def test_only_the_read_path_and_the_storage_make_table_scans() -> None:
    # A scan of an Iceberg snapshot is what an engine binding reads a published table by:
    # anywhere else, a module could bind a published port past the read path.
    allowed = {
        SOURCE / "reading" / "__init__.py",
        SOURCE / "storage" / "__init__.py",
        # The process a Python transformation runs in rebuilds the bindings it was handed.
        SOURCE / "engines" / "duckdb_worker.py",
    }
    makers = []
    for path in sorted(SOURCE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name | ast.Attribute)
                and (node.func.id if isinstance(node.func, ast.Name) else node.func.attr)
                == "TableScan"
                and path not in allowed
            ):
                makers.append(f"{path.relative_to(SOURCE)}:{node.lineno}")
    assert makers == []


def test_every_read_of_a_published_port_passes_the_read_path(
    mesh: Mesh, two_products: Path
) -> None:
    told: list[PortRead] = []
    mesh.on_event(lambda event: told.append(event) if isinstance(event, PortRead) else None)
    with bound(mesh) as seen:
        mesh.query("SELECT count(*) FROM finance.targets")
        mesh.read("sales.report")
        mesh.check("finance.targets")
        mesh.check("sales.report")
        (two_products / "sales" / "report" / "README.md").write_text("again\n")
        assert all(p.outcome.ok for p in mesh.publish(two_products / "sales" / "report"))
        mesh.build(two_products / "sales" / "report")
        mesh.check(str(two_products / "sales" / "report"))
    published = published_snapshots(mesh)
    reads = [
        b
        for b in seen
        if isinstance(b.relation, TableScan)
        and (b.relation.metadata_location, b.relation.snapshot_id) in published
        and not b.names[0][0].startswith("__port_")
    ]
    # The read path names every column it shows; nothing else builds such a binding.
    assert reads
    assert all(binding.columns is not None for binding in reads)
    assert {event.purpose if False else event.actor.purpose for event in told} >= {
        "query",
        "read",
        "check",
        "build",
    }
    assert len(told) >= len(reads)


def test_a_read_rule_applies_to_queries_reads_checks_and_builds_alike(
    mesh: Mesh, two_products: Path
) -> None:
    def hide_name(actor: Actor, port: PublishedPort, columns: tuple[Exposed, ...]) -> Any:
        if port.product != "finance.targets":
            return columns
        return tuple(column for column in columns if column.name != "name")

    mesh.context.reads.rules.append(hide_name)
    assert "name" not in mesh.read("finance.targets").column_names
    with pytest.raises(QueryRefused, match="name"):
        mesh.query("SELECT name FROM finance.targets")
    assert mesh.query("SELECT count(*) AS n FROM finance.targets").column("n").to_pylist() == [3]
    # sales.report's build reads finance.targets as the product: without the column, its
    # SQL cannot run, and the served version stays.
    (two_products / "sales" / "report" / "README.md").write_text("again\n")
    [publication] = mesh.publish(two_products / "sales" / "report")
    assert publication.outcome == Outcome.FAILED
    assert "name" in publication.reason
    assert mesh.product("sales.report").current_version == 1
    # The rule sees who reads: a product reading for its build.
    seen: list[Actor] = []
    mesh.context.reads.rules.append(lambda actor, port, columns: seen.append(actor) or columns)
    mesh.build(two_products / "sales" / "report")
    assert (
        Actor(
            name="sales.report",
            kind=ActorKind.PRODUCT,
            purpose="build",
            team="sales-team",
            owners=(TESTER,),
        )
        in seen
    )


def test_a_python_transformation_sees_only_the_columns_the_read_path_shows(
    mesh: Mesh, two_products: Path
) -> None:
    report = two_products / "sales" / "report"
    (report / "transform.py").write_text(
        "def build(inputs):\n    return inputs.sql('SELECT * FROM targets')\n"
    )
    descriptor = report / "dataproduct.yaml"
    descriptor.write_text(
        descriptor.read_text().replace(
            "language: sql\n    path: transform.sql", "language: python\n    path: transform.py"
        )
    )
    assert mesh.publish(report)[0].outcome == Outcome.PASSED

    def hide_category(actor: Actor, port: PublishedPort, columns: tuple[Exposed, ...]) -> Any:
        return tuple(column for column in columns if column.name != "category")

    mesh.context.reads.rules.append(hide_category)
    [publication] = mesh.publish(report)
    assert publication.outcome == Outcome.FAILED
    assert "column category exists" in publication.reason


def test_a_refusing_read_rule_stops_the_read_with_its_reason(
    mesh: Mesh, two_products: Path
) -> None:
    def refuse(actor: Actor, port: PublishedPort, columns: tuple[Exposed, ...]) -> Any:
        raise UserError(f"{actor} may not read {port.address}: ask its owner")

    mesh.context.reads.rules.append(refuse)
    with pytest.raises(UserError, match=r"may not read finance\.targets\.targets"):
        mesh.read("finance.targets")
    with pytest.raises(UserError, match="ask its owner"):
        mesh.query("SELECT 1 FROM finance.targets")
    # A query naming no product binds none, and so is not refused.
    assert mesh.query("SELECT 42 AS answer").column("answer").to_pylist() == [42]


def test_a_query_binds_only_the_products_it_names(mesh: Mesh, two_products: Path) -> None:
    with bound(mesh) as seen:
        mesh.query("SELECT count(*) FROM finance.targets")
    assert [binding.names for binding in seen] == [
        (("finance", "targets"), ("finance", "targets", "targets"))
    ]
    with bound(mesh) as seen:
        mesh.query("WITH t AS (SELECT 1 AS one) SELECT * FROM t, sales.report LIMIT 1")
    assert [binding.names[0] for binding in seen] == [("sales", "report")]


def test_an_unknown_product_in_a_query_is_refused_as_before(mesh: Mesh, two_products: Path) -> None:
    with pytest.raises(QueryRefused, match=r"no published product or port is called 'sales\.nope'"):
        mesh.query("SELECT * FROM sales.nope")


# -- the publish pipeline ------------------------------------------------------------------


def test_a_step_inserted_into_the_pipeline_runs_in_order_and_can_stop_a_publish(
    mesh: Mesh, source_product: Path
) -> None:
    assert mesh.publish(source_product)[0].outcome == Outcome.PASSED
    order: list[str] = []
    for name in mesh.pipeline.names:
        mesh.pipeline.before(name, lambda context, name=name: order.append(f"before {name}"))
        mesh.pipeline.after(name, lambda context, name=name: order.append(f"after {name}"))

    def policy(context: PublishContext) -> None:
        order.append("policy")
        context.stop(Outcome.FAILED, "the policy owner-set is not met: set an owner")

    mesh.pipeline.insert("policy", policy, after="check")
    [publication] = mesh.publish(source_product)

    assert publication.outcome == Outcome.FAILED
    assert publication.reason == "the policy owner-set is not met: set an owner"
    assert order[-3:] == ["before check", "after check", "policy"]
    assert order[:2] == ["before validate", "after validate"]
    assert mesh.product("finance.targets").current_version == 1
    # What it staged is gone: no publish branch is left on the table.
    [port] = mesh.describe("finance.targets").current.ports
    table = mesh.storage.branches(_table(port.table))
    assert [branch for branch in table if branch.startswith("publish-")] == []


def test_a_step_that_breaks_is_an_error_not_a_failure_and_publishes_nothing(
    mesh: Mesh, source_product: Path
) -> None:
    def broken(context: PublishContext) -> None:
        raise RuntimeError("a bug in a plugin")

    mesh.pipeline.before("register", broken)
    [publication] = mesh.publish(source_product)
    assert publication.outcome == Outcome.ERROR
    assert "register" in publication.reason
    assert mesh.products() == []


def test_pipeline_steps_are_named_and_placed_by_name(mesh: Mesh) -> None:
    assert mesh.pipeline.names == [
        "validate",
        "govern",
        "changes",
        "recover",
        "resolve inputs",
        "build",
        "check",
        "register",
        "promote",
    ]
    with pytest.raises(ValueError, match="no step 'nope'"):
        mesh.pipeline.insert("x", lambda context: None, before="nope")
    with pytest.raises(ValueError, match="has a step 'build' already"):
        mesh.pipeline.insert("build", lambda context: None, after="check")


# -- events ----------------------------------------------------------------------------------


def test_a_publish_tells_its_events_in_order(mesh: Mesh, source_product: Path) -> None:
    told: list[Event] = []
    mesh.on_event(told.append)
    mesh.publish(source_product)
    kinds = [type(event) for event in told]
    assert kinds == [BuildRun, ChecksRun, BuildRun, ProductPublished]
    assert [event.state for event in told if isinstance(event, BuildRun)] == ["START", "COMPLETE"]
    published = told[-1]
    assert isinstance(published, ProductPublished)
    assert (published.subject, published.version, published.ports) == (
        "finance.targets",
        1,
        ("targets",),
    )
    assert published.actor == mesh.actor

    (source_product / "transform.sql").write_text("SELECT 1 AS id")
    mesh.publish(source_product)
    failed = told[-1]
    assert isinstance(failed, PublishFailed)
    assert (failed.outcome, failed.step) == (Outcome.FAILED, "build")


def test_a_subscriber_that_raises_never_breaks_a_publish(
    mesh: Mesh, source_product: Path, caplog: pytest.LogCaptureFixture
) -> None:
    after: list[Event] = []

    def broken(event: Event) -> None:
        raise ValueError("secret value 91234")

    mesh.on_event(broken)
    mesh.on_event(after.append)
    with caplog.at_level(logging.WARNING, logger="quanta.events"):
        [publication] = mesh.publish(source_product)
        mesh.read("finance.targets")
    assert publication.outcome == Outcome.PASSED
    assert mesh.product("finance.targets").current_version == 1
    assert len(after) == 6  # the subscribers after it still hear every event (read: 2)
    assert "broken" in caplog.text
    assert "ValueError" in caplog.text
    assert "91234" not in caplog.text


def test_a_plugins_subscriber_is_loaded_like_the_built_in_one(
    mesh: Mesh, source_product: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    heard: list[Event] = []
    plugin = types.ModuleType("quanta_test_plugin")
    plugin.factory = lambda mesh: heard.append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "quanta_test_plugin", plugin)
    monkeypatch.setitem(
        registry.BUILT_IN["quanta.subscribers"], "test-plugin", "quanta_test_plugin:factory"
    )
    with Mesh.open(mesh.home) as fresh:
        fresh.publish(source_product)
        kinds = [event.kind for event in heard]
        assert kinds == ["build.run", "checks.run", "build.run", "product.published"]
        # The built-in subscriber kept them in the event history.
        kept = fresh.stores.events.events(subject="finance.targets")
        assert [event.kind for event in kept] == ["checks.run", "product.published"]
        assert kept[-1].payload["version"] == 1


# -- the build executor ----------------------------------------------------------------------


def test_a_build_in_a_process_of_its_own_publishes_the_same_data(
    tmp_path: Path, workspace: Path
) -> None:
    scaffold("finance/targets", "source", workspace, {})
    tables = {}
    for executor in ("in-process", "subprocess"):
        with Mesh.open(tmp_path / executor, executor=executor) as mesh:
            [publication] = mesh.publish(workspace)
            assert publication.outcome == Outcome.PASSED, publication.reason
            tables[executor] = mesh.read("finance.targets").to_pylist()
    assert tables["subprocess"] == tables["in-process"]
    assert len(tables["subprocess"]) == 3


def test_the_build_process_receives_only_its_request(
    tmp_path: Path, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from quanta.build import isolated
    from quanta.engines import processes

    product = scaffold("finance/targets", "source", workspace, {})
    sql = (product / "transform.sql").read_text()
    (product / "transform.py").write_text(
        "import os\n"
        "def build(inputs):\n"
        "    secret = [k for k in os.environ if k.startswith(('QUANTA_', 'PG'))]\n"
        "    assert not secret, 'settings leaked'\n"
        f"    return inputs.sql({sql!r})\n"
    )
    descriptor = product / "dataproduct.yaml"
    descriptor.write_text(
        descriptor.read_text().replace(
            "language: sql\n    path: transform.sql", "language: python\n    path: transform.py"
        )
    )
    seen: dict[str, Any] = {}
    run = processes.run

    def spy(command: list[str], timeout: float | None, *args: Any, **kw: Any) -> int:
        folder = Path(command[-1])
        if (folder / "request.json").is_file():
            seen["request"] = (folder / "request.json").read_text()
            seen["env"] = kw.get("env")
        return run(command, timeout, *args, **kw)

    monkeypatch.setattr(isolated.processes, "run", spy)
    monkeypatch.setenv("QUANTA_CATALOG_PASSWORD", "hunter2")
    catalog = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    with Mesh.open(tmp_path / "home", executor="subprocess", catalog_url=catalog) as mesh:
        [publication] = mesh.publish(workspace)
    assert publication.outcome == Outcome.PASSED, publication.reason
    assert "elsewhere.db" not in seen["request"]
    assert "hunter2" not in seen["request"]
    assert json.loads(seen["request"])["product"] == "finance.targets"
    assert not [key for key in seen["env"] if key.startswith(("QUANTA_", "PG"))]


def _table(name: str) -> Any:
    from quanta.storage import TableName

    namespace, _, table = name.partition(".")
    return TableName(namespace, table)


def test_listing_the_catalog_loads_no_engine(mesh: Mesh, source_product: Path) -> None:
    # The facade imports its capabilities; none of them may pull in DuckDB before a read.
    import subprocess
    import sys

    mesh.publish(source_product)
    code = (
        "import sys\nfrom quanta.mesh import Mesh\n"
        f"with Mesh.open({str(mesh.home)!r}) as mesh:\n"
        "    mesh.describe('finance.targets')\n"
        "    mesh.search('targets')\n"
        "    mesh.lineage('finance.targets')\n"
        "print(sorted(m for m in ('duckdb', 'pyarrow', 'pyiceberg') if m in sys.modules))\n"
    )
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]"
