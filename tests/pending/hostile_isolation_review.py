"""Holes a hostile review of build isolation (the subprocess executor, the Python
transformation's process) found: run them with
``.venv/bin/pytest tests/pending/hostile_isolation_review.py`` (not collected by ``make
test``). Each asserts the secure behaviour and fails today.

What held (tried from a hostile ``transform.py`` under the subprocess executor, Landlock
ABI 7): reading the catalog, the mesh home, the warehouse's Parquet files, ``/``, ``/tmp``,
the product's folder, ``/proc/self/cwd``, ``/proc/<ppid>/{root,fd,cwd,environ,cmdline,
maps,mem}``, ``/proc/1``; re-reading inherited descriptors (only pipes and O_PATH /proc
pins); signalling or ptracing the parent; writing in the product folder, the home,
``/tmp``, beside the scratch folder; a symlink, a hard link to catalog.db, a FIFO or a
rename out of the scratch folder; ``SET threads`` / ``SET memory_limit``, ``glob``,
``read_parquet``, ``read_text`` through ``inputs.sql`` and through ``inputs._connection``;
hidden columns through ``inputs.arrow`` / views (the copy holds only the shown columns);
the hidden or masked values in the process's own memory (/proc/self/mem scan found none);
raising RLIMIT_DATA back up (refused here, though uid 0: no CAP_SYS_RESOURCE);
SQL transformations reading files outside their inputs (refused at validation).
"""

from __future__ import annotations

import http.server
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1]))
from quanta.mesh import Mesh
from quanta.model.result import Outcome
from test_hostile_seams import (
    SECRETS,
    TARGETS_SQL,
    secret_targets,
    to_python,
    with_report,
)


def _smuggled(tmp_path: Path, workspace: Path, code: str) -> list[str]:
    """Publish sales.report (reading finance.targets, whose names are PII values) with the
    Python ``code``; the secrets its outcome's reason and its build log hold."""
    with Mesh.open(tmp_path / "home", executor="subprocess") as mesh:
        secret_targets(workspace)
        mesh.publish(workspace)
        report = with_report(mesh, workspace)
        to_python(report, code)
        [publication] = mesh.publish(report)
        assert publication.outcome != Outcome.PASSED
        text = (publication.reason or "") + mesh.logs("sales.report").text
    return [secret for secret in SECRETS if secret in text]


NAMES = "    names = [r[0] for r in inputs.sql('SELECT name FROM targets').fetchall()]\n"


def test_a_raised_transformation_failed_does_not_carry_input_values(
    tmp_path: Path, workspace: Path
) -> None:
    """A transformation raises Quanta's own TransformationFailed with its input's PII values,
    which the worker takes for Quanta's words and reports, and logs, verbatim."""
    code = (
        "from quanta.engines import TransformationFailed\n"
        "def build(inputs):\n" + NAMES + "    raise TransformationFailed(' '.join(names))\n"
    )
    assert _smuggled(tmp_path, workspace, code) == []
