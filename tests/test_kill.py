"""A publish killed at any point leaves the previous version served and the catalog whole.

Each test runs ``publish`` in a real child process and kills it with SIGKILL at one
moment: during the build, inside the catalog's commit, and between the commit and
moving the table's main branch.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

from quanta.mesh import Mesh
from quanta.model.result import Outcome
from quanta.storage import TableName

TABLE = TableName("finance", "targets__targets__v1")

PUBLISH = """
import os, signal, sys
from quanta.mesh import Mesh
mesh = Mesh.open(sys.argv[1])
{prepare}
mesh.publish(sys.argv[2])
print("the publish was not killed")
"""


def publish_and_kill(
    home: Path, folder: Path, prepare: str = "", wait_for: Callable[[], bool] | None = None
) -> int:
    script = PUBLISH.format(prepare=textwrap.dedent(prepare))
    child = subprocess.Popen(
        [sys.executable, "-c", script, str(home), str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    if wait_for is not None:
        deadline = time.monotonic() + 120
        while not wait_for():
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline, "the child never reached the build"
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
    _, stderr = child.communicate(timeout=120)
    assert child.returncode == -signal.SIGKILL, stderr
    return child.returncode


def assert_serves_version_one(home: Path) -> None:
    with Mesh.open(home) as mesh:
        [record] = mesh.products()
        assert record.current_version == 1
        assert [v.version for v in mesh.stores.catalog.versions(record.id)] == [1]
        assert mesh.read("finance.targets").num_rows == 3
        served = mesh.stores.catalog.version(record.id).ports[0].snapshot_id
        assert mesh.storage.staged(TABLE, "main").snapshot_id == served


def republish(home: Path, folder: Path, version: int) -> None:
    with Mesh.open(home) as mesh:
        [publication] = mesh.publish(folder)
        assert publication.outcome == Outcome.PASSED, publication.reason
        assert publication.version == version
        served = mesh.stores.catalog.version("finance.targets").ports[0].snapshot_id
        assert mesh.storage.staged(TABLE, "main").snapshot_id == served
        assert mesh.storage.branches(TABLE) == ["main"]


def test_killed_during_the_build(mesh: Mesh, source_product: Path, tmp_path: Path) -> None:
    mesh.publish(source_product)
    mesh.close()
    descriptor = source_product / "dataproduct.yaml"
    original = descriptor.read_text()
    # The sandbox lets the transformation write only into its scratch folder (where its
    # request file is): it marks the build's start there.
    (source_product / "transform.py").write_text(
        textwrap.dedent("""
        import sys, time
        from pathlib import Path

        def build(inputs):
            Path(sys.argv[1]).parent.joinpath("building").touch()
            time.sleep(600)
    """)
    )
    descriptor.write_text(
        original.replace("language: sql", "language: python").replace(
            "path: transform.sql", "path: transform.py"
        )
    )
    home = mesh.home
    publish_and_kill(home, source_product, wait_for=lambda: any(home.glob("scratch/**/building")))
    assert_serves_version_one(mesh.home)
    descriptor.write_text(original)
    republish(mesh.home, source_product, version=2)


def test_killed_inside_the_catalog_commit(mesh: Mesh, source_product: Path) -> None:
    mesh.publish(source_product)
    mesh.close()
    # The commit event fires after the new version's rows are written, before they commit;
    # armed once the build is staged (the audit log commits the policies' evaluation before).
    publish_and_kill(
        mesh.home,
        source_product,
        prepare="""
        from sqlalchemy import event
        armed = []
        stage = mesh.storage.stage
        def staging(*args, **kwargs):
            armed.append(True)
            return stage(*args, **kwargs)
        mesh.storage.stage = staging
        event.listen(mesh.stores.database.engine, "commit",
                     lambda connection: armed and os.kill(os.getpid(), signal.SIGKILL))
    """,
    )
    assert_serves_version_one(mesh.home)
    with Mesh.open(mesh.home) as reopened:
        # The staged snapshot of the killed publish is left on its branch, unserved.
        assert any(b.startswith("publish-") for b in reopened.storage.branches(TABLE))
        # No event tells of a version that was never registered.
        published = reopened.events(product="finance.targets", kinds=["product.published"])
        assert [event.payload["version"] for event in published] == [1]
    republish(mesh.home, source_product, version=2)


def test_killed_between_the_commit_and_moving_main(mesh: Mesh, source_product: Path) -> None:
    mesh.publish(source_product)
    mesh.close()
    with (source_product / "data" / "items.csv").open("a") as data:
        data.write("4,Fourth item,general,1.00,2026-01-04 08:00:00\n")
    publish_and_kill(
        mesh.home,
        source_product,
        prepare="""
        mesh.storage.promote = lambda *args: os.kill(os.getpid(), signal.SIGKILL)
    """,
    )
    with Mesh.open(mesh.home) as reopened:
        # The catalog decides what is served: version 2, read through its pinned snapshot.
        assert reopened.product("finance.targets").current_version == 2
        assert reopened.read("finance.targets").num_rows == 4
        served = reopened.stores.catalog.version("finance.targets").ports[0].snapshot_id
        assert reopened.storage.staged(TABLE, "main").snapshot_id != served
        # Its event was logged with the version, in the same commit: once, nothing lost.
        published = reopened.events(product="finance.targets", kinds=["product.published"])
        assert [event.payload["version"] for event in published] == [1, 2]
    # The next publish first finishes the killed one's move of main.
    republish(mesh.home, source_product, version=3)


def test_killed_right_after_writing_the_snapshot(mesh: Mesh, source_product: Path) -> None:
    mesh.publish(source_product)
    mesh.close()
    publish_and_kill(
        mesh.home,
        source_product,
        prepare="""
        write = mesh.storage.stage

        def write_then_die(*args, **kwargs):
            write(*args, **kwargs)
            os.kill(os.getpid(), signal.SIGKILL)

        mesh.storage.stage = write_then_die
    """,
    )
    assert_serves_version_one(mesh.home)
    republish(mesh.home, source_product, version=2)
