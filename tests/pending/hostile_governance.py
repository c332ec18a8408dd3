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


def test_a_policy_condition_that_builds_a_billion_characters_is_refused_when_it_loads(
    mesh: Mesh, workspace: Path
) -> None:
    """FAILS TODAY. CEL has no unbounded loops, but ``replace`` multiplies a string: a
    280-character condition of nine chained ``.replace("a", "aaaaaaaaaa")`` builds 10**9
    characters per product evaluated (13 s and 2.2 GB for one product; ``governance
    report`` over the example mesh: 70 s; one more ``.replace`` exhausts any machine's
    memory), and it compiles, type-checks and holds. It must be refused when the folder
    loads (or its evaluation bounded), as an error naming the file and line. Fix:
    quanta/governance/policies.py `compile_policies` (a cost bound on the checked
    expression) and `_findings` (evaluation under a budget of time and memory)."""
    condition = '"a"' + '.replace("a", "aaaaaaaaaa")' * 9 + ".size() > 0"
    (mesh.home / "governance" / "policies").mkdir(parents=True)
    (mesh.home / "governance" / "policies" / "blowup.yaml").write_text(
        yaml.safe_dump(
            {
                "policies": [
                    {
                        "id": "blowup",
                        "title": "A condition that builds a billion characters",
                        "rationale": "A policy author's mistake, or a hostile one.",
                        "severity": "block",
                        "condition": condition,
                        "fix": "none",
                    }
                ]
            }
        )
    )
    folder = scaffold("finance/targets", "source", workspace, {})

    def bounded() -> None:  # a safety net for the machine running the test
        resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))

    try:
        run = subprocess.run(
            [sys.executable, "-m", "quanta", "validate", str(folder), "--home", str(mesh.home)],
            capture_output=True,
            text=True,
            timeout=30,
            preexec_fn=bounded,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("validating one product against the policy took more than 30 s")
    said = run.stdout + run.stderr
    assert run.returncode != 0, said[-500:]
    assert "Traceback" not in said
    assert "blowup.yaml:" in said.replace("\n", ""), said[-500:]


def test_a_governance_yaml_that_is_a_broken_link_fails_closed(
    retail: Mesh, kept_files: None
) -> None:
    """FAILS TODAY. The federation maps pii to mask. governance.yaml becomes a link to a
    file that is not there (a deploy half done, a moved repository): the folder loads as
    if it had no governance.yaml, and every read falls back to the defaults (pseudonyms,
    clear PII for any purpose) without a word. A governance.yaml that is there but cannot
    be read must stop reads, as a broken one does. Fix: quanta/governance/folder.py
    `load_rules` (``path.exists()`` is false for a dangling link: test ``is_symlink()`` /
    ``lexists`` and fail)."""
    mapped(retail, pii="mask")
    assert first_email(retail, READER) is None
    path = governance_yaml(retail)
    path.unlink()
    path.symlink_to(retail.home / "nowhere" / "governance.yaml")
    try:
        shown = first_email(retail, READER)
        said = f"the read fell back to the default protection: it showed {shown!r}"
    except ConfigError as error:
        said = str(error)
    assert "governance.yaml" in said, said


def test_a_governance_file_spelled_yml_is_not_silently_ignored(
    retail: Mesh, kept_files: None
) -> None:
    """FAILS TODAY (minor). The federation writes its mapping as governance.yml (and its
    policies as policies/*.yml): both are ignored without a word, the defaults hold, and
    ``pii: mask`` is not applied. Either read them or refuse the folder. Fix:
    quanta/governance/folder.py `load_rules` (and `_stamp` in quanta/governance/__init__.py)."""
    governance_yaml(retail).unlink()
    (retail.home / "governance" / "governance.yml").write_text("protections:\n  pii: mask\n")
    try:
        shown = first_email(retail, READER)
        said = "" if shown is None else f"governance.yml was ignored: the read showed {shown!r}"
    except ConfigError as error:
        said = "" if "governance.yml" in str(error) else str(error)
    assert not said, said


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
