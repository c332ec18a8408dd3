"""Retention enforced on the retail example mesh: rows past each product's declared
retention leave every version, and the files that held them leave the disk."""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import duckdb
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from quanta.errors import AccessDenied
from quanta.mesh import Mesh
from quanta.model.actor import Actor
from test_erasure import PRIVACY_OFFICER, killed_after

LATER = datetime(2027, 10, 1, tzinfo=UTC)
"""13 months after this, web sessions before 2026-09-01 are past their retention."""
CUTOFF = datetime(2026, 9, 1, tzinfo=UTC)
WEB_OWNER = Actor(name="mia.jensen@retail.example")


@pytest.fixture
def sessions_twice(retail: Mesh) -> Mesh:
    """The retail mesh (tests/test_erasure.py), with a second version of web.sessions:
    retention reaches every version still readable."""
    folder = retail.home.parent / "workspace" / "web" / "sessions"
    [again] = retail.publish(folder, actor=WEB_OWNER)
    assert again.version == 2
    return retail


def old_sessions(mesh: Mesh, version: int) -> int:
    table = mesh.read("web.sessions", version, actor=WEB_OWNER)
    return pc.sum(pc.less(table["started_at"], CUTOFF)).as_py() or 0


def test_rows_past_retention_leave_every_version_and_the_disk(sessions_twice: Mesh) -> None:
    retail = sessions_twice
    expected = {version: old_sessions(retail, version) for version in (1, 2)}
    assert all(expected.values())
    total = {
        version: retail.read("web.sessions", version, actor=WEB_OWNER).num_rows
        for version in (1, 2)
    }

    run = retail.enforce_retention(actor=PRIVACY_OFFICER, now=LATER)

    sessions = {p.version: p for p in run.ports if p.product == "web.sessions"}
    assert {v: p.rows_removed for v, p in sessions.items()} == expected
    assert all(p.remaining == 0 for p in run.ports)
    assert sessions[1].verification.endswith('"started_at" < ?')
    assert sessions[1].limit == "13 months"
    assert sessions[1].cutoff == CUTOFF
    for version in (1, 2):
        assert old_sessions(retail, version) == 0
        left = retail.read("web.sessions", version, actor=WEB_OWNER).num_rows
        assert left == total[version] - expected[version]
    # Nothing else was past its retention (orders: 3 years).
    assert {p.product for p in run.ports if p.rows_removed} == {"web.sessions"}
    # No file under the table's folder holds a row past the retention any more.
    folder = retail.home / "warehouse" / "web" / "sessions__sessions__v1"
    files = list(folder.rglob("*.parquet"))
    assert files
    for path in files:
        started = pq.read_table(path, columns=["started_at"])["started_at"]
        assert pc.min(started).as_py() >= CUTOFF
    # Products whose retention names no time column are told, not guessed at.
    skipped = {(s.product, s.port): s.reason for s in run.skipped}
    assert "no time column" in skipped[("customer.profiles", "profiles")]
    # The run is in the audit log, and shown by quanta show.
    [entry] = retail.context.governance.audit.entries(kind="retention.enforced")
    assert entry.details["rows"] == sum(expected.values())
    view = retail.describe("web.sessions", actor=WEB_OWNER)
    assert any(
        line.startswith("sessions: 13 months, by started_at; last enforced")
        and f"({sum(expected.values())} rows removed)" in line
        for line in view.retention
    )
    # A second run finds nothing more to delete.
    again = retail.enforce_retention(actor=PRIVACY_OFFICER, now=LATER)
    assert again.rows_removed == 0


def test_who_may_enforce_retention(sessions_twice: Mesh) -> None:
    retail = sessions_twice
    with pytest.raises(AccessDenied, match="governance group"):
        retail.enforce_retention(actor=WEB_OWNER, now=LATER)  # the whole mesh
    with pytest.raises(AccessDenied):
        retail.enforce_retention("checkout.orders", actor=WEB_OWNER, now=LATER)
    run = retail.enforce_retention("web.sessions", actor=WEB_OWNER, now=LATER)
    assert {p.product for p in run.ports} == {"web.sessions"}
    assert run.rows_removed > 0


RETAIN = """
import os, signal, sys
from datetime import datetime, UTC
from quanta.mesh import Mesh
from quanta.model.actor import Actor
{prepare}
with Mesh.open(sys.argv[1]) as mesh:
    mesh.enforce_retention(
        actor=Actor(name="ines.moreau@retail.example"), now=datetime(2027, 10, 1, tzinfo=UTC)
    )
print("the run was not killed")
"""


def test_a_killed_run_is_finished_by_the_next(sessions_twice: Mesh) -> None:
    retail = sessions_twice
    expected = {version: old_sessions(retail, version) for version in (1, 2)}
    home = retail.home
    retail.close()
    prepare = killed_after("storage.iceberg:IcebergStorage", "repoint", 1)
    child = subprocess.run(
        [sys.executable, "-c", RETAIN.format(prepare=prepare), str(home)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    with Mesh.open(home) as mesh:
        [unfinished] = mesh.stores.privacy.retention_runs(done=False)
        mesh.enforce_retention(actor=PRIVACY_OFFICER, now=LATER)
        assert mesh.stores.privacy.retention_runs(done=False) == []
        [finished] = [r for r in mesh.stores.privacy.retention_runs() if r.id == unfinished.id]
        removed = {p.version: p.rows_removed for p in finished.ports if p.product == "web.sessions"}
        assert removed == expected
        assert all(old_sessions(mesh, version) == 0 for version in (1, 2))


def test_a_retired_product_loses_its_rows_past_retention_too(sessions_twice: Mesh) -> None:
    """Retired: no longer served, but its versions' data stays only as long as its
    retention says (the lifecycle keeps its metadata, not its rows)."""
    retail = sessions_twice
    before = old_sessions(retail, 1)
    assert before
    sunset = datetime.now(UTC).date() + timedelta(days=1)
    retail.deprecate("web.sessions", sunset, actor=WEB_OWNER)
    retail.context.lifecycle.retire(WEB_OWNER, "web.sessions", today=sunset + timedelta(days=1))
    run = retail.enforce_retention(actor=PRIVACY_OFFICER, now=LATER)
    removed = {p.version: p.rows_removed for p in run.ports if p.product == "web.sessions"}
    assert removed[1] == before
    version = retail.stores.catalog.version("web.sessions", 1)
    assert version is not None
    [port] = version.ports
    scan = f"SELECT count(*) FILTER (WHERE started_at < TIMESTAMPTZ '{CUTOFF.isoformat()}') FROM t"
    files = [str(f) for f in (port.files or [])]
    assert files
    left = duckdb.sql(scan.replace("FROM t", f"FROM read_parquet({files})")).fetchone()
    assert left == (0,)
