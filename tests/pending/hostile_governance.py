"""The holes the governance review found that are still open: each test fails until its
hole is fixed. Run: .venv/bin/pytest tests/pending/hostile_governance.py"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))  # tests/: the collected tests' helpers
import os
import resource
import shutil
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from conftest import DEMO_SCALE, TESTER
from quanta.errors import AccessDenied, ConfigError, QuantaError, UserError
from quanta.mesh import Mesh
from quanta.model.access import RequestState
from quanta.model.actor import Actor
from quanta.model.result import Outcome
from quanta.scaffold import scaffold
from test_governance_hostile import (
    READER,
    _audited,
    cli,
    first_email,
    folder_here,
    governance_yaml,
    granted,
    kept_files,
    mapped,
    product,
    profile_emails,
    published,
    retail,
)


def test_a_sql_filter_that_spells_out_each_email_launders_it_into_a_public_column(
    retail: Mesh, folder_here: Path
) -> None:
    """FAILS TODAY. A product of the team that owns profiles (it reads emails in clear)
    rebuilds each email character by character from a join whose condition compares
    ``substr(email, i, 1)`` with every character, without ever selecting the column:
    lineage counts join conditions other than equalities (and WHERE, EXISTS) as passing no
    value, so ``contact`` keeps its declared ``public`` and every reader of the product
    reads every email in clear. Fix: quanta/build/lineage.py (columns read by a filter or
    join condition pass on to the outputs of that SELECT, at least when the output is an
    aggregate or the condition compares with a value computed per row), or
    quanta/governance/inherit.py conservatively."""
    sql = (
        "SELECT p.customer_id, string_agg(c.ch, '' ORDER BY c.i) AS contact\n"
        "FROM profiles p JOIN (\n"
        "  SELECT i, chr(CAST(k AS INTEGER)) AS ch FROM range(1, 40) a(i), range(32, 127) b(k)\n"
        ") c ON substr(p.email, c.i, 1) >= c.ch AND substr(p.email, c.i, 1) <= c.ch\n"
        "GROUP BY p.customer_id\n"
    )
    folder = product(folder_here, "spelled", sql, {"customer_id": "internal", "contact": "public"})
    published(retail, folder)
    granted(retail, "customer.spelled", READER)
    shown = retail.query("SELECT contact FROM customer.spelled", actor=READER)
    leaked = profile_emails(retail) & {str(v) for v in shown.column("contact").to_pylist()}
    assert not leaked, sorted(leaked)[:3]


def test_deleting_the_audit_anchor_with_the_newest_entries_is_noticed(
    mesh: Mesh, folder_here: Path
) -> None:
    """FAILS TODAY. Deleting audit.head and then the newest entries leaves a chain that
    verifies: "intact". Every entry Quanta appends also writes the anchor, so a log with
    entries and no anchor (or an anchor of another catalog path, as after moving the home)
    is itself evidence to report, not a log to call intact. Fix:
    quanta/governance/audit.py `Audit.verify`/`_kept_anchor` (a missing anchor for a
    non-empty log is a problem, exit 1)."""
    newest = _audited(mesh, folder_here)
    (mesh.home / "audit.head").unlink()
    with sqlite3.connect(mesh.home / "catalog.db") as database:
        database.execute("DELETE FROM audit_log WHERE seq = ?", (newest,))
    code, said = cli(mesh.home, "governance", "verify-audit")
    assert code == 1, said


# -- the keys -------------------------------------------------------------------------------
