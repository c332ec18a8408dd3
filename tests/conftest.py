"""Fixtures: real meshes in temporary folders (DuckDB, SQLite, Iceberg; nothing mocked)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from quanta.examples import copy_example, example_root, load_example, publish_example
from quanta.mesh import Mesh
from quanta.scaffold import scaffold

DEMO_SCALE = 0.01  # 10,000 orders: the whole example mesh in a few seconds
TESTER = "tester@quanta.example"
"""Who the tests act as (``QUANTA_USER``): the owner of every product they scaffold, and
granted every port of the example mesh."""


os.environ["QUANTA_USER"] = TESTER  # also for the fixtures of a module or the session
# No settings file of whoever runs the tests (~/.config/quanta/settings.toml) reaches them.
os.environ["QUANTA_CONFIG"] = str(Path(__file__).parent / "no-settings-file.toml")
# pytest-xdist hands each worker the terminal's COLUMNS, and the CLI's consoles would fix
# their width to it as they are made: each command a test runs sets its own width.
os.environ.pop("COLUMNS", None)


@pytest.fixture(autouse=True)
def _identity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUANTA_USER", TESTER)  # whatever a test before changed


def grant(mesh: Mesh, target: str, consumer: str | None = None, *, clear_pii: bool = True) -> None:
    """Give ``consumer`` (a product; else the tester) a grant to read ``target``, asked
    and approved as users would: asked by the tester, approved by the target's owner;
    with ``clear_pii``, for PII in clear too (asked with a reason, approved explicitly)."""
    from quanta.model.access import RequestState
    from quanta.model.actor import Actor

    asked = mesh.request_access(
        target,
        # One of the purposes the example mesh's governance folder allows PII in clear for.
        "Customer service" if clear_pii else "the tests read it",
        for_product=consumer,
        pii_reason="the tests read every column as stored" if clear_pii else None,
        actor=Actor(name=TESTER),
    )
    if asked.state == RequestState.PENDING:
        owner = Actor(name=mesh.product(asked.product).contact)
        mesh.approve_access(asked.id, actor=owner, clear_pii=clear_pii)


@pytest.fixture
def mesh(tmp_path: Path) -> Iterator[Mesh]:
    with Mesh.open(tmp_path / "home") as opened:
        yield opened


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty folder for product folders, also the working folder (short file labels)."""
    folder = tmp_path / "products"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


@pytest.fixture
def source_product(workspace: Path) -> Path:
    """A freshly scaffolded source-aligned product, finance.targets."""
    return scaffold("finance/targets", "source", workspace, {})


def member_of_every_team(mesh: Mesh) -> None:
    """Make the tester a member of every team of the mesh's products, through its teams
    file (teams it defines have exactly the members it lists), as a mesh's CI would be."""
    import yaml

    teams = {}
    for record in mesh.products():
        members = sorted(mesh.context.access.directory.owners(record) | {TESTER})
        teams[record.owner] = {"name": record.owner, "members": members}
    (mesh.home / "teams.yaml").write_text(yaml.safe_dump({"teams": list(teams.values())}))
    mesh.context.access.reload()


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    """The retail example mesh, published once for the whole session. Do not change it."""
    home = tmp_path_factory.mktemp("demo") / "home"
    with Mesh.open(home, user=TESTER) as opened:
        _, publications = opened.demo(scale=DEMO_SCALE)
        failed = [p for p in publications if not p.outcome.ok]
        assert not failed, failed
        for record in opened.products():
            grant(opened, record.id)
        yield opened


@contextmanager
def _postgresql_database() -> Iterator[str]:
    """A new, empty PostgreSQL database on the server the PG* variables name, then dropped.

    `make test` runs pytest inside pg_virtualenv, which starts a throwaway server and sets
    them. Without them the test fails, never skips: a green run always covered PostgreSQL.
    """
    missing = [name for name in ("PGHOST", "PGPORT", "PGUSER") if not os.environ.get(name)]
    if missing:
        pytest.fail(
            f"this test needs PostgreSQL ({', '.join(missing)} not set): run it through "
            "`make test` (or `make unit`), which starts a throwaway server with pg_virtualenv",
            pytrace=False,
        )
    import psycopg  # the PG* variables say where, who and with which password

    name = f"quanta_test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(autocommit=True) as server:
        server.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql:///{name}"
    finally:
        with psycopg.connect(autocommit=True) as server:
            # FORCE: connections a test left open (pyiceberg's pool) go with the database.
            server.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
def postgresql_url() -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database for one test."""
    with _postgresql_database() as url:
        yield url


@pytest.fixture(scope="session")
def postgresql_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    """The retail example mesh with its catalog on PostgreSQL, published once. Do not change it."""
    with _postgresql_database() as url:
        home = tmp_path_factory.mktemp("postgresql-demo") / "home"
        with Mesh.open(home, catalog_url=url, user=TESTER) as opened:
            _, publications = opened.demo(scale=DEMO_SCALE)
            failed = [p for p in publications if not p.outcome.ok]
            assert not failed, failed
            for record in opened.products():
                grant(opened, record.id)
            yield opened


RETAIL_SCALE = 0.002  # 201 customers, 2,000 orders and 2,000 sessions


def published_retail(home: Path, workspace: Path, catalog_url: str | None = None) -> Mesh:
    """The retail example mesh at ``home``, published as the demo does, but with its
    product folders (and their source files) in ``workspace`` beside it: the home holds
    only what the platform keeps. Its catalog at ``catalog_url`` (default: SQLite in the
    home)."""
    root = example_root("retail")
    example = load_example(root)
    copy_example(root, workspace)
    mesh = Mesh.open(home, catalog_url=catalog_url)
    for seed in example.seeds:
        sql = (workspace / seed.sql).read_text(encoding="utf-8")
        mesh.engine.export(sql, workspace / seed.to, {"scale": RETAIL_SCALE})
    publications = publish_example(mesh, workspace, example, lambda *_: None)
    assert all(p.outcome.ok for p in publications), publications
    return mesh


@pytest.fixture(scope="session")
def retail_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The retail mesh published once, in ``live`` (home and workspace), and a copy of it.

    Its metadata names its files by absolute path, so a test gets it back at the same path:
    ``live`` emptied and copied again from the copy.
    """
    live = tmp_path_factory.mktemp("retail") / "live"
    published_retail(live / "home", live / "workspace").close()
    kept = live.parent / "kept"
    shutil.copytree(live, kept, symlinks=True)
    return live, kept


@pytest.fixture
def retail(retail_template: tuple[Path, Path]) -> Iterator[Mesh]:
    """A fresh copy of the published retail mesh, its workspace beside it."""
    live, kept = retail_template
    shutil.rmtree(live)
    shutil.copytree(kept, live, symlinks=True)
    mesh = Mesh.open(live / "home")
    yield mesh
    mesh.close()


@pytest.fixture
def scans(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The statements the checks run (one per port checked), in order, as they run."""
    from quanta.quality import conformance

    queries: list[str] = []
    compile_query = conformance.compile_query

    def spy(plans: list[conformance.Plan], relation: str) -> tuple[str, list[str]] | None:
        compiled = compile_query(plans, relation)
        if compiled is not None:
            queries.append(compiled[0])
        return compiled

    monkeypatch.setattr(conformance, "compile_query", spy)
    return queries
