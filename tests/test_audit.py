"""The governance audit log: a hash chain that verification checks entry by entry, with its
head anchored outside the database. Every test runs on SQLite and on PostgreSQL (the
PostgreSQL cases need the server `make test` starts: see conftest), and tampers with the
table the way someone with the database's password would: plain SQL."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text

from quanta.context import MeshContext
from quanta.governance.audit import ANCHOR_FILE, Audit
from quanta.model.actor import Actor, ActorKind
from quanta.model.audit import GENESIS, AuditEntry, ProblemKind
from quanta.settings import Settings
from quanta.stores import AuditStore
from quanta.stores.audit import SqlAuditStore
from quanta.stores.database import MIGRATIONS, sqlalchemy_url
from quanta.stores.sql import SqlStores

ANA = Actor(name="ana@quanta.example")
BOT = Actor(name="publisher", kind=ActorKind.SERVICE)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'home' / 'catalog.db'}"
    found: str = request.getfixturevalue("postgresql_url")
    return found


@pytest.fixture
def home(tmp_path: Path) -> Path:
    folder = tmp_path / "home"
    folder.mkdir()
    return folder


@pytest.fixture
def audit(url: str, home: Path) -> Iterator[Audit]:
    with _opened(home, url) as opened:
        yield opened


@contextmanager
def _opened(home: Path, url: str) -> Iterator[Audit]:
    """An `Audit` on stores of its own, closed on leaving."""
    settings = Settings(home=home, catalog_url=url)
    stores = SqlStores(settings.catalog)
    try:
        yield Audit(MeshContext(settings, stores))
    finally:
        stores.close()


def _record(audit: Audit, count: int = 5) -> list[AuditEntry]:
    made = [
        ("policy.evaluated", BOT, "sales.revenue", {"policy": "owner-set", "outcome": "passed"}),
        ("classification.changed", ANA, "governance", {"level": "pii", "protection": "mask"}),
        ("protection.applied", BOT, "sales.revenue", {"columns": ["email"], "rows": 3}),
        ("access.approved", ANA, "request 7", {"request": 7, "columns": None}),
        ("subject.erased", ANA, "customer.profiles", {"subject": "p-81c2", "rows": 2}),
    ]
    return [audit.record(*made[i % len(made)]) for i in range(count)]


def _sql(audit: Audit, statement: str, **params: Any) -> None:
    """Change the table behind the log's back, as anyone holding the database could."""
    with audit.context.stores.database.engine.begin() as connection:
        connection.execute(text(statement), params)


def _found(audit: Audit) -> list[tuple[ProblemKind, int, int]]:
    return [(p.kind, p.seq, p.last_seq) for p in audit.verify().problems]


# -- an intact log ---------------------------------------------------------------------------


def test_a_chain_of_appends_verifies_and_reads_back_in_order(audit: Audit) -> None:
    written = _record(audit)

    assert [entry.seq for entry in written] == [1, 2, 3, 4, 5]
    assert written[0].prev_hash == GENESIS
    assert [entry.prev_hash for entry in written[1:]] == [entry.hash for entry in written[:-1]]
    assert audit.entries() == written
    assert audit.head() == written[-1]
    assert written[2].actor == "service publisher"
    assert written[2].at.tzinfo is not None

    verified = audit.verify()
    assert verified.ok
    assert verified.checked == 5
    assert verified.problems == []
    assert verified.head == written[-1]
    assert verified.anchor is not None
    assert (verified.anchor.seq, verified.anchor.hash) == (5, written[-1].hash)


def test_entries_are_read_by_number_kind_and_subject(audit: Audit) -> None:
    written = _record(audit, 7)

    assert audit.entries(after=5) == written[5:]
    assert audit.entries(after=1, limit=2) == written[1:3]
    assert audit.entries(kind="protection.applied") == [written[2]]
    assert audit.entries(subject="sales.revenue") == [written[0], written[2], written[5]]
    assert audit.entries(subject="sales.revenue", kind="policy.evaluated", after=1) == [written[5]]
    assert audit.entries(after=7) == []


def test_an_empty_log_verifies(audit: Audit) -> None:
    verified = audit.verify()
    assert verified.ok
    assert (verified.checked, verified.head, verified.anchor) == (0, None, None)


def test_the_seal_is_the_documented_sha256_anyone_can_recompute(audit: Audit) -> None:
    first, second = _record(audit, 2)

    for entry, previous in ((first, GENESIS), (second, first.hash)):
        content = json.dumps(
            {
                "seq": entry.seq,
                "at": entry.at.astimezone(UTC).isoformat(timespec="microseconds"),
                "kind": entry.kind,
                "actor": entry.actor,
                "subject": entry.subject,
                "details": entry.details,
            },
            sort_keys=True,
            separators=(",", ":"),
        )
        assert entry.hash == hashlib.sha256(f"{previous}\n{content}".encode()).hexdigest()


def test_details_read_back_as_their_json_and_what_json_cannot_hold_is_refused(
    audit: Audit,
) -> None:
    entry = audit.record("protection.applied", ANA, "sales.revenue", {"columns": ("a", "b")})
    assert entry.details == {"columns": ["a", "b"]}
    assert audit.entries() == [entry]

    for details in ({"at": {1, 2}}, {"ratio": float("nan")}, {1: "a key that is no text"}):
        with pytest.raises(ValueError, match="plain JSON"):
            audit.record("protection.applied", ANA, "sales.revenue", details)
    with pytest.raises(ValueError, match="kind"):
        audit.record("Protection Applied", ANA, "sales.revenue", {})
    with pytest.raises(ValueError, match="subject"):
        audit.record("protection.applied", ANA, "sales\x00revenue", {})
    with pytest.raises(ValueError, match="hold no data"):
        audit.record("protection.applied", ANA, "sales.revenue", {"rows": ["x" * 70_000]})
    assert audit.entries() == [entry]
    assert audit.verify().ok


def test_the_log_can_only_be_appended_to(audit: Audit) -> None:
    # Nothing to change or remove an entry with, on the capability, the store or its Protocol.
    public = {name for name in dir(SqlAuditStore) if not name.startswith("_")}
    assert public == {"append", "write", "entries", "head"}
    assert {n for n in dir(AuditStore) if not n.startswith("_")} == {"append", "entries", "head"}
    assert {n for n in dir(Audit) if not n.startswith("_")} == {
        "record",
        "entries",
        "head",
        "anchor",
        "verify",
    }


# -- tampering, through SQL --------------------------------------------------------------------


def test_a_changed_entry_is_named(audit: Audit) -> None:
    _record(audit)
    _sql(audit, "UPDATE audit_log SET details = :d WHERE seq = 3", d='{"columns":[],"rows":3}')

    problems = audit.verify().problems
    assert [(p.kind, p.seq, p.last_seq) for p in problems] == [(ProblemKind.CHANGED, 3, 3)]
    assert problems[0].message.startswith("entry 3 was changed after it was written")


def test_a_changed_actor_or_moment_is_named_too(audit: Audit) -> None:
    _record(audit)
    _sql(audit, "UPDATE audit_log SET actor = 'user mallory' WHERE seq = 2")
    _sql(audit, "UPDATE audit_log SET kind = 'access.denied' WHERE seq = 4")

    assert _found(audit) == [(ProblemKind.CHANGED, 2, 2), (ProblemKind.CHANGED, 4, 4)]


def test_details_that_are_no_json_any_more_are_a_change_not_a_crash(audit: Audit) -> None:
    _record(audit)
    _sql(audit, "UPDATE audit_log SET details = 'not json' WHERE seq = 5")

    assert audit.entries(after=4)[0].details == {"unreadable": "not json"}
    assert _found(audit) == [(ProblemKind.CHANGED, 5, 5)]


def test_a_deleted_entry_is_named(audit: Audit) -> None:
    _record(audit)
    _sql(audit, "DELETE FROM audit_log WHERE seq = 2")

    problems = audit.verify().problems
    assert [(p.kind, p.seq, p.last_seq) for p in problems] == [(ProblemKind.DELETED, 2, 2)]
    assert problems[0].message.startswith("entry 2 is missing: deleted")


def test_deleted_entries_in_the_middle_and_at_the_start_are_named(audit: Audit) -> None:
    _record(audit, 8)
    _sql(audit, "DELETE FROM audit_log WHERE seq = 1 OR seq BETWEEN 4 AND 6")

    assert _found(audit) == [(ProblemKind.DELETED, 1, 1), (ProblemKind.DELETED, 4, 6)]


def test_a_forged_entry_with_a_plausible_hash_is_named(audit: Audit) -> None:
    _record(audit)
    forged = hashlib.sha256(b"anything at all").hexdigest()
    _sql(
        audit,
        "INSERT INTO audit_log (seq, at, kind, actor, subject, details, prev_hash, hash) "
        "SELECT 6, at, 'access.approved', 'user mallory', 'sales.revenue', :details, hash, "
        ":forged FROM audit_log WHERE seq = 5",
        details='{"request":99}',
        forged=forged,
    )

    problems = audit.verify().problems
    assert [(p.kind, p.seq, p.last_seq) for p in problems] == [(ProblemKind.INSERTED, 6, 6)]
    assert "added outside Quanta" in problems[0].message


def test_a_forged_entry_slipped_in_between_is_named_and_the_rest_shown_renumbered(
    audit: Audit,
) -> None:
    _record(audit)
    # Make room at 3 (in two steps: PostgreSQL checks the key at every row), then forge it.
    _sql(audit, "UPDATE audit_log SET seq = seq + 1000 WHERE seq >= 3")
    _sql(audit, "UPDATE audit_log SET seq = seq - 999 WHERE seq >= 1000")
    _sql(
        audit,
        "INSERT INTO audit_log (seq, at, kind, actor, subject, details, prev_hash, hash) "
        "SELECT 3, at, 'access.approved', 'user mallory', 'sales.revenue', '{}', hash, :forged "
        "FROM audit_log WHERE seq = 2",
        forged=hashlib.sha256(b"forged").hexdigest(),
    )

    problems = audit.verify().problems
    assert [(p.kind, p.seq, p.last_seq) for p in problems] == [
        (ProblemKind.INSERTED, 3, 3),
        (ProblemKind.REORDERED, 4, 6),
    ]
    assert "the chain passes over it" in problems[0].message
    assert problems[1].message.startswith("entries 4 to 6 hold what was written as entries 3 to 5")


def test_two_swapped_entries_are_named(audit: Audit) -> None:
    _record(audit)
    _sql(audit, "UPDATE audit_log SET seq = -2 WHERE seq = 2")
    _sql(audit, "UPDATE audit_log SET seq = 2 WHERE seq = 3")
    _sql(audit, "UPDATE audit_log SET seq = 3 WHERE seq = -2")

    problems = audit.verify().problems
    assert [(p.kind, p.seq, p.last_seq) for p in problems] == [(ProblemKind.REORDERED, 2, 3)]
    assert problems[0].message.startswith("entries 2 and 3 were swapped")


def test_deleting_the_newest_entries_shows_against_the_anchor(audit: Audit) -> None:
    _record(audit)
    _sql(audit, "DELETE FROM audit_log WHERE seq >= 4")

    problems = audit.verify().problems
    assert [(p.kind, p.seq, p.last_seq) for p in problems] == [(ProblemKind.DELETED, 4, 5)]
    assert problems[0].message.startswith("entries 4 to 5, the newest, are missing")


def test_deleting_every_entry_shows_against_the_anchor(audit: Audit) -> None:
    _record(audit, 3)
    _sql(audit, "DELETE FROM audit_log")

    assert _found(audit) == [(ProblemKind.DELETED, 1, 3)]


def test_newest_entries_deleted_then_written_anew_still_show(audit: Audit, home: Path) -> None:
    _record(audit)
    anchored = (home / ANCHOR_FILE).read_text()
    _sql(audit, "DELETE FROM audit_log WHERE seq >= 4")
    _record(audit, 3)  # entries 4 to 6 again, each sealed as if nothing had happened

    # The anchor did not move on past its evidence: entry 5 is not the one it names.
    assert (home / ANCHOR_FILE).read_text() == anchored
    assert _found(audit) == [(ProblemKind.ANCHOR_MISMATCH, 5, 5)]


# -- the anchor --------------------------------------------------------------------------------


def test_an_anchor_behind_the_log_is_no_alarm(audit: Audit, home: Path) -> None:
    _record(audit, 3)
    # As when a process dies between its commit and writing the anchor.
    audit.store.append("access.approved", str(ANA), "request 9", {"request": 9})
    audit.store.append("access.revoked", str(ANA), "request 9", {"request": 9})

    verified = audit.verify()
    assert verified.ok
    assert verified.anchor is not None
    assert (verified.anchor.seq, verified.checked) == (3, 5)
    # The next entry recorded brings it up to date.
    newest = audit.record("access.expired", BOT, "request 9", {"request": 9})
    assert json.loads((home / ANCHOR_FILE).read_text())["seq"] == newest.seq == 6


def test_the_anchor_never_moves_back(audit: Audit, home: Path) -> None:
    first, *_, last = _record(audit, 4)
    audit.anchor(first)  # late, from a slower process

    assert json.loads((home / ANCHOR_FILE).read_text())["seq"] == last.seq


def test_an_anchor_naming_another_hash_is_a_mismatch(audit: Audit, home: Path) -> None:
    _record(audit)
    anchor = json.loads((home / ANCHOR_FILE).read_text())
    (home / ANCHOR_FILE).write_text(json.dumps(anchor | {"hash": "f" * 64}))

    problems = audit.verify().problems
    assert [(p.kind, p.seq) for p in problems] == [(ProblemKind.ANCHOR_MISMATCH, 5)]
    assert "kept outside the database names another" in problems[0].message


def test_an_anchor_that_cannot_be_read_is_told(audit: Audit, home: Path) -> None:
    _record(audit)
    (home / ANCHOR_FILE).write_text("{not json")

    problems = audit.verify().problems
    assert [(p.kind, p.seq) for p in problems] == [(ProblemKind.ANCHOR_MISMATCH, 0)]
    assert "cannot be read" in problems[0].message
    # Evidence is never written over by the next entry.
    audit.record("access.approved", ANA, "request 1", {})
    assert (home / ANCHOR_FILE).read_text() == "{not json"


def test_an_anchor_of_another_catalog_says_nothing_about_this_one(
    audit: Audit, home: Path, tmp_path: Path
) -> None:
    _record(audit, 2)
    with _opened(home, f"sqlite:///{tmp_path / 'other.db'}") as other:
        verified = other.verify()
        assert (verified.ok, verified.anchor, verified.checked) == (True, None, 0)
        other.record("access.approved", ANA, "request 1", {})  # takes the anchor over
    assert audit.verify().anchor is None


# -- appending inside a caller's transaction --------------------------------------------------


def test_an_entry_appended_in_a_transaction_commits_or_rolls_back_with_it(audit: Audit) -> None:
    store = audit.store
    assert isinstance(store, SqlAuditStore)
    _record(audit, 2)
    engine = audit.context.stores.database.engine

    with engine.connect() as connection:
        store.write(connection, "access.approved", str(ANA), "request 3", {"request": 3})
        connection.rollback()  # the request it tells of failed
    assert [entry.seq for entry in audit.entries()] == [1, 2]

    with engine.begin() as connection:
        kept = store.write(connection, "access.approved", str(ANA), "request 3", {"request": 3})
    audit.anchor(kept)
    assert audit.entries(after=2) == [kept]
    verified = audit.verify()
    assert verified.ok
    assert verified.anchor is not None
    assert verified.anchor.seq == 3


# -- two processes at once ---------------------------------------------------------------------

_WRITER = """
import sys, time
from pathlib import Path
from quanta.context import MeshContext
from quanta.governance.audit import Audit
from quanta.model.actor import Actor
from quanta.settings import Settings
from quanta.stores.sql import SqlStores

home, url, name, count, go = sys.argv[1:]
settings = Settings(home=Path(home), catalog_url=url)
stores = SqlStores(url)
audit = Audit(MeshContext(settings, stores))
Path(go).with_name(f"ready-{name}").touch()
while not Path(go).exists():
    time.sleep(0.005)
for i in range(int(count)):
    audit.record("protection.applied", Actor(name=name), f"{name}.{i}", {"i": i})
stores.close()
"""


def test_two_processes_appending_at_once_make_one_unbroken_chain(
    url: str, home: Path, tmp_path: Path
) -> None:
    count = 40
    with _opened(home, url):  # migrated before the writers start, as a server does
        pass
    go = tmp_path / "go"
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(home), url, name, str(count), str(go)],
            env=os.environ.copy(),
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("left", "right")
    ]
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"ready-{name}").exists() for name in ("left", "right")):
        assert time.monotonic() < deadline, "the writers did not start"
        assert all(writer.poll() is None for writer in writers), "a writer ended early"
        time.sleep(0.01)
    go.touch()  # both at once, each with its stores open
    for writer in writers:
        _, errors = writer.communicate(timeout=120)
        assert writer.returncode == 0, errors

    with _opened(home, url) as audit:
        entries = audit.entries()
        verified = audit.verify()
    assert [entry.seq for entry in entries] == list(range(1, 2 * count + 1))
    assert sorted(entry.subject for entry in entries) == sorted(
        f"{name}.{i}" for name in ("left", "right") for i in range(count)
    )
    # Interleaved, not one writer after the other: the lock was contended.
    actors = [entry.actor for entry in entries]
    assert sum(a != b for a, b in itertools.pairwise(actors)) > 1
    assert verified.ok, verified.problems
    assert verified.anchor is not None
    assert (verified.anchor.seq, verified.anchor.hash) == (2 * count, entries[-1].hash)


# -- the migration -----------------------------------------------------------------------------


def test_the_migration_adds_the_log_to_an_existing_catalog(url: str, home: Path) -> None:
    from alembic import command
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # A catalog as Quanta left it before the audit log: migrated to 0007, with a row.
    engine = create_engine(sqlalchemy_url(url))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0007")
        connection.execute(
            text(
                "INSERT INTO events (kind, at, subject, payload) "
                "VALUES ('product.published', '2026-01-01 00:00:00', 'sales.revenue', '{}')"
            )
        )
    assert "audit_log" not in inspect(engine).get_table_names()
    engine.dispose()

    with _opened(home, url) as audit:
        database = audit.context.stores.database
        assert database.revision() == ScriptDirectory.from_config(config).get_current_head()
        assert "audit_log" in inspect(database.engine).get_table_names()
        assert len(audit.context.stores.events.events()) == 1  # the catalog kept its rows
        _record(audit, 2)
        assert audit.verify().ok
