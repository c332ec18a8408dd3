"""Isolated builds: each build in a sandboxed process of its own, within its limits, logged.

Real processes throughout: the sandbox is the kernel's (Landlock), the limits are really
hit (memory, time), and no assertion compares durations. Tests of the sandbox itself skip
on a kernel without Landlock, where builds run unsandboxed (and say so).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quanta.build import logs, sandbox
from quanta.build.executor import BuildRequest, BuildResult, StepTold
from quanta.cli import app
from quanta.errors import NotFound
from quanta.mesh import Mesh
from quanta.model.product import BuildLimits, Descriptor
from quanta.model.relations import Binding, Exposed, TableScan
from quanta.model.result import Outcome
from quanta.scaffold import scaffold
from quanta.settings import Settings
from test_hostile_seams import (
    DUCKDB_VIEWS_TRANSFORM,
    ENVIRON_TRANSFORM,
    SECRETS,
    TARGETS_SQL,
    WAREHOUSE_TRANSFORM,
    hide,
    leaked,
    secret_targets,
    to_python,
    with_report,
)

LANDLOCK = sandbox.abi()
needs_landlock = pytest.mark.skipif(
    not LANDLOCK.sandboxed, reason=f"the sandbox needs Landlock: {LANDLOCK.reason}"
)
EXECUTORS = ["in-process", "subprocess"]
MEMORY_LIMIT = (
    "the build used more memory than its limit of {} "
    "(buildLimits.memory in dataproduct.yaml, or QUANTA_BUILD_MEMORY_LIMIT)"
)


class Declaring:
    """The mesh's executor, handed the product's ``buildLimits`` with each request.

    Stands in for the publish step that reads them from dataproduct.yaml into the request
    (`BuildRequest.declared`)."""

    def __init__(self, mesh: Mesh, folder: Path) -> None:
        self.executor = mesh.context.executor
        self.name = self.executor.name
        self.folder = folder

    def run(self, request: BuildRequest, told: StepTold) -> BuildResult:
        import yaml

        document = yaml.safe_load((self.folder / "dataproduct.yaml").read_text())
        declared = Descriptor.model_validate(document).build_limits
        return self.executor.run(request.model_copy(update={"declared": declared}), told)


def declare(mesh: Mesh, folder: Path, limits: str) -> None:
    """Give ``folder``'s product the ``buildLimits`` ``limits`` (a YAML mapping)."""
    descriptor = folder / "dataproduct.yaml"
    descriptor.write_text(
        descriptor.read_text().replace(
            "customProperties:\n- property: transformation",
            f"customProperties:\n- property: buildLimits\n  value: {limits}\n"
            "- property: transformation",
        )
    )
    mesh.context.__dict__["executor"] = Declaring(mesh, folder)


@pytest.fixture(params=EXECUTORS)
def executor(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# == the pending holes, closed =================================================================


@pytest.mark.parametrize("executor", ["in-process", "subprocess"])
def test_a_python_transformation_cannot_read_a_hidden_column_through_its_connection(
    tmp_path: Path, workspace: Path, executor: str
) -> None:
    """Found: ``inputs.sql`` is not guarded, and the session's sandbox allowed the raw
    data files of every bound snapshot: the read rule's projection was only a view over
    them. Now the Python process gets a copy of exactly what the rule shows."""
    with Mesh.open(tmp_path / "home", executor=executor) as mesh:
        secret_targets(workspace)
        mesh.publish(workspace)
        report = with_report(mesh, workspace)
        to_python(report, DUCKDB_VIEWS_TRANSFORM)
        hide(mesh, "name")

        [publication] = mesh.publish(report)

        assert publication.outcome != Outcome.PASSED or leaked(mesh, "sales.report") == []


def test_a_python_transformation_in_its_own_process_cannot_read_an_undeclared_product(
    tmp_path: Path, workspace: Path
) -> None:
    """Found (security.md called Python trusted; the access capability cannot hold while
    it is): sales.leak declares no input, yet read finance.targets' Parquet files from the
    warehouse, found from its own request file's path, under the subprocess executor that
    is meant to isolate builds. Now its sandbox holds no file of the warehouse."""
    with Mesh.open(tmp_path / "home", executor="subprocess") as mesh:
        secret_targets(workspace)
        mesh.publish(workspace)
        leak = scaffold("sales/leak", "source", workspace, {})
        to_python(leak, f"SQL = {TARGETS_SQL!r}\n" + WAREHOUSE_TRANSFORM)

        [publication] = mesh.publish(leak)

        assert publication.outcome != Outcome.PASSED or leaked(mesh, "sales.leak") == []


def test_the_build_process_cannot_read_quantas_settings_from_its_parents(
    tmp_path: Path, workspace: Path
) -> None:
    """Found: the child's environment is clean, but it ran as the same user: it read the
    catalog URL and a password from /proc/<ancestor>/environ of the ``quanta`` process.
    Now it sees its ancestors' stat, and nothing else of theirs."""
    product = secret_targets(workspace)
    to_python(product, f"SQL = {TARGETS_SQL!r}\n" + ENVIRON_TRANSFORM)
    catalog = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    environment = {
        **os.environ,
        "QUANTA_HOME": str(tmp_path / "home"),
        "QUANTA_EXECUTOR": "subprocess",
        "QUANTA_CATALOG_URL": catalog,
        "QUANTA_CATALOG_PASSWORD": "hunter2",
    }
    ran = subprocess.run(
        [sys.executable, "-m", "quanta", "publish", str(product)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    with Mesh.open(tmp_path / "home", catalog_url=catalog) as mesh:
        names = json.dumps(mesh.read("finance.targets").column("name").to_pylist())
    assert "hunter2" not in names
    assert "elsewhere.db" not in names


# == each build in its own process =============================================================


def test_builds_run_in_a_process_of_their_own_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QUANTA_EXECUTOR", raising=False)
    assert Settings().executor == "subprocess"
    with Mesh.open(tmp_path / "home") as mesh:
        assert mesh.context.executor.name == "subprocess"
    with Mesh.open(tmp_path / "home", executor="in-process") as mesh:
        assert mesh.context.executor.name == "in-process"


def test_the_build_process_imports_no_model_and_no_catalog(tmp_path: Path) -> None:
    """What keeps a build in a process of its own cheap: the child imports the engine and
    Arrow, never pydantic, the catalog's libraries or the SQL guard."""
    code = (
        "import sys, runpy\n"
        "sys.argv = ['worker', sys.argv[1]]\n"
        "try:\n"
        "    runpy.run_module('quanta.build.isolated_worker', run_name='__main__')\n"
        "finally:\n"
        "    heavy = ('pydantic', 'pyiceberg', 'sqlalchemy', 'sqlglot', 'quanta.model.product')\n"
        "    print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    folder = tmp_path / "build"
    folder.mkdir()
    (folder / "request.json").write_text(
        json.dumps(
            {
                "product": "finance.targets",
                "language": "sql",
                "filename": "transform.sql",
                "function": "build",
                "code": "SELECT 1 AS id",
                "bindings": [],
                "outputs": [{"port": "targets"}],
                "branch": "dev",
                "limits": {"work": "the build"},
            }
        )
    )
    (folder / "engine.json").write_text(
        json.dumps(
            {"engine": "duckdb", "extensions": str(tmp_path / "extensions")}
            | {"memory_limit": None, "threads": None, "scratch": str(folder)}
        )
    )
    found = subprocess.run(
        [sys.executable, "-P", "-c", code, str(folder)],
        capture_output=True,
        text=True,
        check=True,
        stdin=subprocess.DEVNULL,
    )
    assert found.stdout.strip() == "[]", found.stderr
    report = json.loads((folder / "report.json").read_text())
    assert report["reason"] == ""
    assert report["columns"] == {"targets": [["id", "INTEGER"]]}


# == the sandbox ===============================================================================

CONFINED = """
import json, os, sys
from quanta.build import sandbox

allowed, secret, scratch = sys.argv[1:4]
status = sandbox.confine(sandbox.runtime_rules(readable=[allowed], writable=[scratch]))

def attempt(action):
    try:
        action()
    except OSError:
        return "refused"
    return "done"

def write(path):
    with open(path, "w") as file:
        file.write("x")

print(json.dumps({
    "status": status.describe(),
    "allowed": attempt(lambda: open(allowed).read()),
    "secret": attempt(lambda: open(secret).read()),
    "listing the secret's folder": attempt(lambda: os.listdir(os.path.dirname(secret))),
    "scratch": attempt(lambda: write(os.path.join(scratch, "out"))),
    "beside the scratch": attempt(lambda: write(os.path.join(scratch, "..", "out"))),
    "a link in the scratch": attempt(lambda: os.symlink(secret, os.path.join(scratch, "l"))),
    "parent's stat": attempt(lambda: open(f"/proc/{os.getppid()}/stat").read()),
    "parent's environ": attempt(lambda: open(f"/proc/{os.getppid()}/environ").read()),
    "parent's memory maps": attempt(lambda: open(f"/proc/{os.getppid()}/maps").read()),
    "pid 1": attempt(lambda: open("/proc/1/cmdline").read()),
    "its own status": attempt(lambda: open("/proc/self/status").read()),
    "signal the parent": attempt(lambda: os.kill(os.getppid(), 0)),
    "engine": attempt(lambda: __import__("duckdb").sql("SELECT 42").fetchall()),
}))
"""


@needs_landlock
def test_a_confined_process_opens_only_what_its_rules_allow(tmp_path: Path) -> None:
    allowed = tmp_path / "inputs" / "allowed.csv"
    secret = tmp_path / "warehouse" / "secret.csv"
    scratch = tmp_path / "scratch"
    for path in (allowed, secret):
        path.parent.mkdir()
        path.write_text("n\n1\n")
    scratch.mkdir()
    ran = subprocess.run(
        [sys.executable, "-P", "-c", CONFINED, str(allowed), str(secret), str(scratch)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "QUANTA_CATALOG_PASSWORD": "hunter2"},
    )
    found = json.loads(ran.stdout)
    assert found.pop("status").startswith(f"Landlock ABI {LANDLOCK.abi}")
    expected = {
        "allowed": "done",
        "secret": "refused",
        "listing the secret's folder": "refused",
        "scratch": "done",
        "beside the scratch": "refused",
        "a link in the scratch": "refused",
        "parent's stat": "done",
        "parent's environ": "refused",
        "parent's memory maps": "refused",
        "pid 1": "refused",
        "its own status": "done",
        "engine": "done",
    }
    if LANDLOCK.abi >= 6:
        expected["signal the parent"] = "refused"
    else:
        found.pop("signal the parent")
    assert found == expected
    assert not (tmp_path / "out").exists()


def test_without_landlock_nothing_is_confined_and_the_status_says_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    missing = sandbox.Status(0, "this kernel has no Landlock (Linux 5.13 or later has it)")
    monkeypatch.setattr(sandbox, "abi", lambda: missing)
    assert sandbox.confine(sandbox.Rules()) == missing
    assert missing.describe() == (
        "none, the build ran unsandboxed: this kernel has no Landlock (Linux 5.13 or later has it)"
    )


def test_a_build_without_landlock_runs_and_says_it_ran_unsandboxed(
    tmp_path: Path, source_product: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = sandbox.Status(0, "this kernel has no Landlock (Linux 5.13 or later has it)")
    monkeypatch.setattr(sandbox, "abi", lambda: missing)
    with Mesh.open(tmp_path / "home") as mesh:
        [publication] = mesh.publish(source_product)
        text = mesh.logs("finance.targets").text
    assert publication.outcome == Outcome.PASSED, publication.reason
    assert publication.build is not None
    told = publication.build.log
    assert any("(unsandboxed: this kernel has no Landlock" in line for line in told)
    assert "sandbox: none, the build ran unsandboxed: this kernel has no Landlock" in text


SNOOPING_TRANSFORM = """
import pyarrow as pa
import pyarrow.parquet as pq

FILES = {files!r}

def build(inputs):
    tried = []
    for attempt in (
        lambda: pq.read_table(FILES[0]).column("name").to_pylist(),
        lambda: inputs.sql(f"SELECT name FROM read_parquet('{{FILES[0]}}')").fetchall(),
        lambda: [r for r in inputs.sql("SELECT sql FROM duckdb_views()").fetchall()
                 if "parquet" in str(r)],
    ):
        try:
            tried.append(repr(attempt()))
        except Exception as error:
            tried.append(type(error).__name__)
    shown = inputs.sql("SELECT * FROM targets").to_arrow_table()
    return pa.table({{"tried": [" ".join(tried)], "columns": [",".join(shown.column_names)]}})
"""


@needs_landlock
def test_a_python_transformation_sees_exactly_the_columns_its_input_shows(
    mesh: Mesh, workspace: Path
) -> None:
    product = secret_targets(workspace)
    assert mesh.publish(product)[0].outcome == Outcome.PASSED
    port = mesh.describe("finance.targets").current.ports[0]
    files = list(port.files or ())
    shown = (Exposed("id"), Exposed("category"))
    scan = TableScan(port.metadata_location, port.snapshot_id, port.location, tuple(files))
    binding = Binding((("targets",),), scan, shown)
    code = SNOOPING_TRANSFORM.format(files=files)

    with mesh.engine.session([binding]) as session:
        [query] = session.run_python(code, "transform.py", "build").values()
        [row] = session.to_arrow(query).to_pylist()

    assert row["columns"] == "id,category"
    assert row["tried"] == "PermissionError QueryRefused []", row
    assert [secret for secret in SECRETS if secret in json.dumps(row)] == []


# == limits from the descriptor, within the mesh's =============================================

BIG_LIST = "SELECT len(list(range)) FROM range(30000000)"
"""Needs some 240MB at once: one list of thirty million numbers."""


def test_a_product_declares_its_build_limits_and_a_bad_one_is_refused_at_its_line(
    mesh: Mesh, source_product: Path
) -> None:
    descriptor = Descriptor.model_validate(
        {
            "id": "finance.targets",
            "status": "active",
            "customProperties": [
                {"property": "buildLimits", "value": {"memory": "2GB", "threads": 2}}
            ],
        }
    )
    assert descriptor.build_limits == BuildLimits(memory="2GB", threads=2)
    assert descriptor.build_limits.memory_bytes == 2 * 10**9

    declare(mesh, source_product, "{memory: lots, seconds: 600}")
    [validation] = mesh.validate(source_product)
    [issue] = validation.issues
    assert issue.file.endswith("dataproduct.yaml")
    assert issue.field == "customProperties[0]"
    assert issue.message == "buildLimits.memory is wrong ('lots' is not a size)"
    assert issue.hint is not None
    assert "512MB or 2GB" in issue.hint


def test_a_product_cannot_ask_for_more_than_the_mesh_allows(
    tmp_path: Path, source_product: Path, executor: str
) -> None:
    with Mesh.open(tmp_path / "home", executor=executor, build_memory_limit="1GB") as mesh:
        declare(mesh, source_product, "{memory: 2GB}")
        [publication] = mesh.publish(source_product)
        assert mesh.products() == []
    assert publication.outcome == Outcome.FAILED
    assert (
        "buildLimits.memory in dataproduct.yaml asks for 2GB, more than this mesh allows a "
        "build (1GB, QUANTA_BUILD_MEMORY_LIMIT)" in publication.reason
    )


def test_a_python_transformation_over_its_memory_limit_fails_saying_which_limit(
    tmp_path: Path, source_product: Path, executor: str
) -> None:
    to_python(
        source_product,
        f"def build(inputs):\n    hoard = b'x' * (1500 * 2**20)\n"
        f"    return inputs.sql({TARGETS_SQL!r})\n",
    )
    with Mesh.open(tmp_path / "home", executor=executor, build_memory_limit="1GB") as mesh:
        declare(mesh, source_product, "{memory: 256MB}")
        [publication] = mesh.publish(source_product)
        assert mesh.products() == []
    assert publication.outcome == Outcome.FAILED
    assert publication.reason == (
        f"the build failed: transform.py:2: {MEMORY_LIMIT.format('256MB')}"
    ), publication.reason


def test_the_mesh_memory_limit_bounds_a_python_transformation_too(
    tmp_path: Path, source_product: Path
) -> None:
    to_python(
        source_product,
        "def build(inputs):\n    hoard = [0] * (200 * 2**20)\n    return hoard\n",
    )
    with Mesh.open(tmp_path / "home", build_memory_limit="256MB") as mesh:
        [publication] = mesh.publish(source_product)
    assert publication.outcome == Outcome.FAILED
    assert MEMORY_LIMIT.format("256MB") in publication.reason


def test_sql_over_its_memory_limit_is_the_engine_failing_saying_which_limit(
    tmp_path: Path, source_product: Path, executor: str
) -> None:
    (source_product / "transform.sql").write_text(
        f"SELECT {TARGETS_SQL.removeprefix('SELECT ')} WHERE ({BIG_LIST}) < 0\n"
    )
    with Mesh.open(
        tmp_path / "home", executor=executor, build_memory_limit="2GB", build_threads=2
    ) as mesh:
        declare(mesh, source_product, "{memory: 64MB, threads: 1}")
        [publication] = mesh.publish(source_product)
        assert mesh.products() == []
    assert publication.outcome == Outcome.ERROR, publication.reason
    assert MEMORY_LIMIT.format("64MB") in publication.reason
    assert "Out of Memory Error" in publication.reason


def test_a_build_past_its_declared_time_is_stopped_saying_which_limit(
    tmp_path: Path, source_product: Path, executor: str
) -> None:
    to_python(source_product, "import time\ndef build(inputs):\n    time.sleep(600)\n")
    with Mesh.open(tmp_path / "home", executor=executor, build_timeout=300) as mesh:
        declare(mesh, source_product, "{seconds: 1}")
        [publication] = mesh.publish(source_product)
    assert publication.outcome == Outcome.FAILED
    assert "the build was stopped at its time limit of 1 second" in publication.reason
    assert "buildLimits.seconds in dataproduct.yaml, or QUANTA_BUILD_TIMEOUT" in publication.reason


def test_a_build_gets_the_threads_its_product_declares(
    tmp_path: Path, source_product: Path, executor: str
) -> None:
    # SQL may not ask the engine its settings (the guard): the Python transformation's
    # connection is the build's engine's, and its DuckDB tells.
    threads = "CAST(current_setting('threads') AS VARCHAR) AS category"
    sql = TARGETS_SQL.replace("category", threads)
    to_python(source_product, f"def build(inputs):\n    return inputs.sql({sql!r})\n")
    with Mesh.open(tmp_path / "home", executor=executor, build_threads=2) as mesh:
        declare(mesh, source_product, "{threads: 1}")
        [publication] = mesh.publish(source_product)
        assert publication.outcome == Outcome.PASSED, publication.reason
        assert set(mesh.read("finance.targets").column("category").to_pylist()) == {"1"}
        assert "threads 1 (buildLimits.threads)" in mesh.logs("finance.targets").text


# == build logs ================================================================================


@pytest.fixture
def logged(tmp_path: Path, workspace: Path) -> Iterator[tuple[Mesh, Path]]:
    """finance.targets published, then failing with a value of its data in its own
    message, then built for development."""
    product = secret_targets(workspace)
    with Mesh.open(tmp_path / "home") as mesh:
        assert mesh.publish(product)[0].outcome == Outcome.PASSED
        (product / "transform.py").write_text(
            "def build(inputs):\n"
            "    for (name,) in inputs.sql('SELECT name FROM raw_items').fetchall():\n"
            "        raise ValueError(f'no account for {name}')\n"
        )
        descriptor = product / "dataproduct.yaml"
        sql = descriptor.read_text()
        to_python(product, (product / "transform.py").read_text())
        assert mesh.publish(product)[0].outcome == Outcome.FAILED
        descriptor.write_text(sql)
        assert mesh.build(product)[0].outcome == Outcome.PASSED
        yield mesh, product


def test_each_build_has_its_own_log_with_no_value_of_the_data(logged: tuple[Mesh, Path]) -> None:
    mesh, _ = logged
    last = mesh.logs("finance.targets")
    assert last.product == "finance.targets"
    assert last.build == 3
    assert [(b.build, b.kind.split(" (")[0], b.outcome.split(" ")[0]) for b in last.builds] == [
        (1, "publish", "passed"),
        (2, "publish", "failed"),
        (3, "dev build", "passed"),
    ]
    assert "kind: dev build (branch dev)" in last.text
    first = mesh.logs("finance.targets", 1).text
    for line in (
        "build 1 of finance.targets",
        "executor: subprocess",
        "transformation: transform.sql (sql)",
        "inputs: raw_items (data/items.csv)",
        "limits: memory the engine default (QUANTA_BUILD_MEMORY_LIMIT), threads one per core "
        "(QUANTA_BUILD_THREADS), time 3600 s (QUANTA_BUILD_TIMEOUT), 100,000,000 rows per output",
        f"sandbox: {LANDLOCK.describe()}",
        "port targets: 3 rows",
    ):
        assert line in first, line
    assert "running transform.sql in a process of its own" in first
    failed = mesh.logs("finance.targets", 2).text
    assert "transformation: transform.py (python, build())" in failed
    assert (
        "reason: transform.py:3: ValueError (its message is not logged: it may hold values)"
    ) in failed
    every = "".join(mesh.logs("finance.targets", n).text for n in (1, 2, 3))
    assert [secret for secret in SECRETS if secret in every] == []


def test_logs_of_an_unknown_product_or_build_are_a_clear_error(
    logged: tuple[Mesh, Path],
) -> None:
    mesh, _ = logged
    with pytest.raises(NotFound, match=r"no build of sales\.nothing is logged in this mesh"):
        mesh.logs("sales.nothing")
    with pytest.raises(NotFound, match="its logged builds are 1 to 3"):
        mesh.logs("finance.targets", 9)
    with pytest.raises(NotFound, match="not a product id"):
        mesh.logs("../../etc")


def test_a_product_keeps_only_its_newest_logs(
    logged: tuple[Mesh, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    mesh, product = logged
    monkeypatch.setattr(logs, "KEPT", 2)
    mesh.build(product)
    assert [b.build for b in mesh.logs("finance.targets").builds] == [3, 4]
    assert sorted(p.name for p in (mesh.home / "logs").iterdir()) == ["finance.targets"]


def test_quanta_logs_shows_a_build_log(logged: tuple[Mesh, Path]) -> None:
    mesh, _ = logged
    runner = CliRunner()
    home = ["--home", str(mesh.home)]
    shown = runner.invoke(app, ["logs", "finance.targets", *home])
    assert shown.exit_code == 0, shown.output
    assert shown.output.startswith("build 3 of finance.targets\n")
    as_json = runner.invoke(app, ["logs", "finance.targets", "--build", "1", "--json", *home])
    assert as_json.exit_code == 0, as_json.output
    found = json.loads(as_json.output)
    assert (found["product"], found["build"]) == ("finance.targets", 1)
    assert [b["build"] for b in found["builds"]] == [1, 2, 3]
    unknown = runner.invoke(app, ["logs", "finance.targets", "--build", "7", *home])
    assert unknown.exit_code != 0
    assert "finance.targets has no build 7 logged" in unknown.output


def test_a_build_log_says_what_limits_and_sandbox_the_build_had(
    tmp_path: Path, source_product: Path
) -> None:
    with Mesh.open(tmp_path / "home", build_memory_limit="1GB", build_threads=2) as mesh:
        declare(mesh, source_product, "{memory: 512MB, seconds: 600}")
        assert mesh.publish(source_product)[0].outcome == Outcome.PASSED
        text = mesh.logs("finance.targets").text
    assert (
        "limits: memory 512MB (buildLimits.memory), threads 2 (QUANTA_BUILD_THREADS), "
        "time 600 s (buildLimits.seconds)"
    ) in text
    assert textwrap.dedent(text).count("\nsandbox: ") == 1
