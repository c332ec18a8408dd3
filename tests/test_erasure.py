"""Subject erasure on the retail example mesh, published from a workspace beside the mesh
home: the home holds only what the platform keeps, and the proof scans all of it."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from quanta.errors import AccessDenied, UserError
from quanta.mesh import Mesh
from quanta.model.actor import Actor
from quanta.model.privacy import ErasureState

PRIVACY_OFFICER = Actor(name="ines.moreau@retail.example")
SUBJECT = "c-0000042"
NEIGHBOUR = "c-0000043"
REASON = "GDPR article 17 request of 2026-11-30, ticket 4711"


def subject_identifiers(mesh: Mesh, customer: str) -> set[str]:
    """The customer's identifiers, found independently of the erasure: their web user,
    email and sessions."""
    number = int(customer.removeprefix("c-"))
    found = {customer, f"u-{number:07d}", f"customer{number}@mail.example"}
    sessions = mesh.query(
        f"SELECT session_id FROM web.sessions WHERE user_id = 'u-{number:07d}'",
        actor=Actor(name="mia.jensen@retail.example"),
    )
    found |= {str(value) for value in sessions.column(0).to_pylist()}
    return found


def rows_of(mesh: Mesh, customer: str) -> dict[str, int]:
    """How many rows each product holding customers has of ``customer``, read as its
    owners read it."""
    owners = {
        "checkout.orders": ("lena.vogel@retail.example", "customer_id"),
        "customer.profiles": ("samir.haddad@retail.example", "customer_id"),
        "customer.identity_map.accounts": ("samir.haddad@retail.example", "customer_id"),
        "customer.identity_map.sessions": ("samir.haddad@retail.example", "customer_id"),
    }
    counted = {}
    for relation, (owner, column) in owners.items():
        table = mesh.query(
            f"SELECT count(*) FROM {relation} WHERE {column} = '{customer}'",
            actor=Actor(name=owner),
        )
        counted[relation] = table.column(0)[0].as_py()
    return counted


def everything_under(home: Path) -> Iterator[tuple[Path, str]]:
    """Every file under the home as text: each Parquet file's values, each Avro file's
    records, and the bytes of every other file (catalog databases, metadata, logs, keys)."""
    from pyiceberg.io.pyarrow import PyArrowFileIO
    from pyiceberg.manifest import ManifestFile, read_manifest_list

    io = PyArrowFileIO()
    for path in sorted(home.rglob("*")):
        if not path.is_file():
            continue
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            text = repr([column.to_pylist() for column in table.columns])
        elif path.suffix == ".avro" and path.name.startswith("snap-"):
            text = repr(list(read_manifest_list(io.new_input(str(path)))))
        elif path.suffix == ".avro":
            manifest = ManifestFile.from_args(manifest_path=str(path))
            entries = manifest.fetch_manifest_entry(io, discard_deleted=False)
            text = repr([(e.data_file.lower_bounds, e.data_file.upper_bounds) for e in entries])
            text += repr([e.data_file.file_path for e in entries])
        else:
            text = path.read_bytes().decode("latin-1")
        yield path, text


def holding(home: Path, values: set[str]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path, text in everything_under(home):
        for value in values:
            if value in text:
                found.setdefault(str(path.relative_to(home)), set()).add(value)
    return found


def test_an_erased_subject_is_nowhere_under_the_home(retail: Mesh) -> None:
    home = retail.home
    identifiers = subject_identifiers(retail, SUBJECT)
    assert len(identifiers) > 3  # the customer has sessions
    before = holding(home, identifiers)
    assert any(path.endswith(".parquet") for path in before)  # the scan finds them
    neighbour = rows_of(retail, NEIGHBOUR)
    assert rows_of(retail, SUBJECT)["checkout.orders"] > 0

    erasure = retail.erase("customer", SUBJECT, REASON, actor=PRIVACY_OFFICER)

    assert erasure.state == ErasureState.DONE
    receipt = erasure.receipt
    assert receipt is not None
    assert holding(home, identifiers) == {}
    assert rows_of(retail, SUBJECT) == dict.fromkeys(neighbour, 0)
    assert rows_of(retail, NEIGHBOUR) == neighbour
    # Per product and version: what was deleted, and nothing left.
    deleted = {(p.product, p.port): p.rows_removed for p in receipt.ports}
    assert deleted[("checkout.orders", "orders")] > 0
    assert deleted[("web.sessions", "sessions")] == len(identifiers) - 3
    assert all(port.remaining == 0 for port in receipt.ports)
    assert receipt.identifiers["session.session_id"] == len(identifiers) - 3
    assert {r.product for r in receipt.rebuilt} == {"sales.daily_revenue", "marketing.attribution"}
    assert [r.version for r in receipt.rebuilt] == [2, 2]
    # Every check of every product still passes on what is left.
    for record in retail.products():
        for run in retail.check(record.id, actor=Actor(name=record.contact)):
            assert run.outcome.ok, (record.id, run)
    # The request and the receipt are in the audit log, with no identifier.
    audited = retail.context.governance.audit.entries(subject=f"erasure {erasure.id}")
    assert [entry.kind for entry in audited] == ["erasure.requested", "erasure.completed"]
    assert audited[1].details["receipt"] == receipt.hash
    assert retail.verify_audit().ok
    # The receipt as kept reads back the same, and its hash covers it.
    kept = retail.erasure(erasure.id, actor=PRIVACY_OFFICER).receipt
    assert kept is not None
    assert kept.hash == receipt.hash
    assert kept.model_copy(update={"reason": "changed"}).hash != receipt.hash
    # The source files the platform reads but does not own are named, not changed.
    assert {s.product for s in receipt.sources} >= {"checkout.orders", "customer.profiles"}


def test_the_catalog_keeps_no_sample_of_the_subject(retail: Mesh) -> None:
    catalog = retail.stores.catalog
    version = catalog.version("customer.profiles")
    assert version is not None
    checks = [*version.checks, {"name": "planted", "samples": [{"customer_id": SUBJECT}]}]
    database = retail.home / "catalog.db"
    with sqlite3.connect(database) as connection:
        import json

        connection.execute(
            "UPDATE versions SET checks = ? WHERE product_id = 'customer.profiles'",
            (json.dumps(checks),),
        )
    erasure = retail.erase("customer", SUBJECT, REASON, actor=PRIVACY_OFFICER)
    assert erasure.receipt is not None
    assert erasure.receipt.scrubbed_samples == 1
    kept = catalog.version("customer.profiles")
    assert kept is not None
    assert {"name": "planted", "samples": []} in kept.checks
    assert SUBJECT.encode() not in database.read_bytes()


def test_only_the_governance_group_erases(retail: Mesh) -> None:
    owner = Actor(name="samir.haddad@retail.example")
    with pytest.raises(AccessDenied, match="governance group"):
        retail.erase("customer", SUBJECT, REASON, actor=owner)
    for concept, identifier, reason, message in [
        ("patient", None, REASON, "no concept 'patient'"),
        ("customer", "phone", REASON, "no identifier 'phone'"),
        ("customer", None, "  ", "needs a reason"),
        ("customer", None, "two\nlines", "needs a reason"),
    ]:
        with pytest.raises(UserError, match=message):
            retail.erase(concept, SUBJECT, reason, identifier=identifier, actor=PRIVACY_OFFICER)
    assert retail.erasures(actor=PRIVACY_OFFICER) == []
    assert rows_of(retail, SUBJECT)["checkout.orders"] > 0  # nothing changed


def test_owners_see_the_erasures_that_touched_their_products(retail: Mesh) -> None:
    erasure = retail.erase(
        "customer", "customer42@mail.example", REASON, identifier="email", actor=PRIVACY_OFFICER
    )
    assert erasure.receipt is not None
    assert erasure.receipt.identifiers["customer.customer_id"] == 1  # found through profiles
    assert rows_of(retail, SUBJECT)["checkout.orders"] == 0
    kenji = Actor(name="lena.vogel@retail.example")  # checkout's owner
    assert [e.id for e in retail.erasures(actor=kenji)] == [erasure.id]
    assert retail.erasure(erasure.id, actor=kenji).receipt == erasure.receipt
    outsider = Actor(name="ana.lima@retail.example")  # finance: no product touched
    assert retail.erasures(actor=outsider) == []
    with pytest.raises(UserError, match="no erasure"):
        retail.erasure(erasure.id, actor=outsider)


ERASE = """
import os, signal, sys
from quanta.mesh import Mesh
from quanta.model.actor import Actor
{prepare}
with Mesh.open(sys.argv[1]) as mesh:
    mesh.erase("customer", sys.argv[2], "a request", actor=Actor(name="ines.moreau@retail.example"))
print("the erasure was not killed")
"""


def killed_after(target: str, method: str, nth: int) -> str:
    """Code that kills its process with SIGKILL right after the ``nth`` call of
    ``target.method`` returns (``target``: ``module:Class`` or a module)."""
    module, _, owner = target.partition(":")
    holder = f"module.{owner}" if owner else "module"
    return textwrap.dedent(f"""
        import quanta.{module} as module
        original = {holder}.{method}
        calls = []
        def killing(*args, **kwargs):
            result = original(*args, **kwargs)
            calls.append(1)
            if len(calls) == {nth}:
                os.kill(os.getpid(), signal.SIGKILL)
            return result
        {holder}.{method} = killing
    """)


KILLED_WHILE_REBUILDING = """
import quanta.privacy.rebuild as rebuild
def killing(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)
rebuild.publish_unless_unchanged = killing
"""


@pytest.mark.parametrize(
    "prepare",
    [
        # The second table rewritten on its side branches, no ref moved there yet.
        killed_after("storage.iceberg:IcebergStorage", "rewrite", 2),
        # The third table's refs moved, the catalog not yet.
        killed_after("storage.iceberg:IcebergStorage", "repoint", 3),
        # The first table's files removed, that not yet saved.
        killed_after("storage.iceberg:IcebergStorage", "sweep", 1),
        # Every table done, the first rebuild started.
        KILLED_WHILE_REBUILDING,
    ],
    ids=["rewriting", "repointed", "swept", "rebuilding"],
)
def test_a_killed_erasure_is_finished_by_a_second_run(retail: Mesh, prepare: str) -> None:
    home = retail.home
    identifiers = subject_identifiers(retail, SUBJECT)
    expected = rows_of(retail, SUBJECT)
    retail.close()
    child = subprocess.run(
        [sys.executable, "-c", ERASE.format(prepare=prepare), str(home), SUBJECT],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr

    with Mesh.open(home) as mesh:
        [stopped] = mesh.erasures(actor=PRIVACY_OFFICER)
        assert stopped.state != ErasureState.DONE
        assert stopped.receipt is None
        for record in mesh.products():  # every port still reads
            served = mesh.stores.catalog.version(record.id)
            assert served is not None
            for port in served.ports:
                mesh.read(f"{record.id}.{port.port}", actor=Actor(name=record.contact))
        finished = mesh.resume_erasure(stopped.id, actor=PRIVACY_OFFICER)
        assert finished.state == ErasureState.DONE
        assert finished.receipt is not None
        deleted = {f"{p.product}.{p.port}": p.rows_removed for p in finished.receipt.ports}
        assert deleted["checkout.orders.orders"] == expected["checkout.orders"]
        assert deleted["customer.profiles.profiles"] == expected["customer.profiles"]
        assert all(port.remaining == 0 for port in finished.receipt.ports)
        assert rows_of(mesh, SUBJECT) == dict.fromkeys(expected, 0)
        assert holding(home, identifiers) == {}
        again = mesh.resume_erasure(stopped.id, actor=PRIVACY_OFFICER)
        assert again.receipt == finished.receipt  # done is done: nothing deleted twice


def test_a_product_that_fails_to_rebuild_leaves_the_erasure_to_finish(retail: Mesh) -> None:
    transform = retail.home.parent / "workspace" / "sales" / "daily_revenue" / "transform.sql"
    kept = transform.read_text()
    transform.write_text("SELECT no_such_column FROM checkout.orders\n")
    with pytest.raises(UserError, match=r"could not rebuild sales\.daily_revenue"):
        retail.erase("customer", SUBJECT, REASON, actor=PRIVACY_OFFICER)
    [stopped] = retail.erasures(actor=PRIVACY_OFFICER)
    assert stopped.state == ErasureState.REBUILDING
    assert rows_of(retail, SUBJECT)["checkout.orders"] == 0  # the deleting is done
    transform.write_text(kept)
    finished = retail.resume_erasure(stopped.id, actor=PRIVACY_OFFICER)
    assert finished.state == ErasureState.DONE
    assert finished.receipt is not None
    assert {r.product: r.outcome for r in finished.receipt.rebuilt}["sales.daily_revenue"] in (
        "passed",
        "warned",
    )
