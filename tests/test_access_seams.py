"""Two holes the seams' hostile review found, closed by access: checking a folder
reads its dev build only for its team, and a product's checks read the product whole
(whatever a read rule hides from readers)."""

from __future__ import annotations

import contextlib
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from quanta.errors import UserError
from quanta.mesh import Mesh
from test_hostile_seams import SECRETS, add_column_rule, hide, targets

__all__ = ["targets"]  # the fixture, shared with the seams' hostile tests


def test_checking_a_folder_reads_the_dev_build_through_the_read_path(
    mesh: Mesh, targets: Path, tmp_path: Path
) -> None:
    """The owner's ``quanta build`` leaves finance.targets' rows on the table's ``dev``
    branch. Anyone with a copy of the folder adds a rule that fails on every row and reads
    the hidden column in its samples, unless checking the folder asks who checks."""
    mesh.build(targets)
    hide(mesh, "name")
    copy = tmp_path / "copy" / "finance" / "targets"
    shutil.copytree(targets, copy)
    (copy / "data" / "items.csv").write_text("id,name,category,amount,updated_at\n")
    add_column_rule(
        copy, "name", "{metric: invalidValues, arguments: {validValues: [zzz]}, mustBe: 0}"
    )

    try:
        runs = mesh.check(copy)
    except UserError:
        return  # refused: the right answer too
    shown = json.dumps([run.model_dump(mode="json") for run in runs])
    assert [secret for secret in SECRETS if secret in shown] == []


def test_a_check_by_a_reader_who_sees_less_does_not_record_the_product_as_failing(
    mesh: Mesh, targets: Path
) -> None:
    """``quanta check finance.targets`` bound the version as the checking actor sees it:
    without the hidden column the schema check failed, and that run was kept in the
    product's history and told as ``checks.run: failed`` for everyone."""
    since = datetime.now(UTC) - timedelta(minutes=1)
    hide(mesh, "name")

    # Refusing the check is fine; recording a failure of the product is not.
    with contextlib.suppress(UserError):
        mesh.check("finance.targets")
    kept = mesh.stores.checks.check_history("finance.targets", since)
    assert [run.outcome for run in kept if run.trigger == "check"] in ([], ["passed"])
    checks_told = [
        e.payload["outcome"]
        for e in mesh.stores.events.events(subject="finance.targets", kinds=["checks.run"])
        if e.payload["trigger"] == "check"
    ]
    assert "failed" not in checks_told
