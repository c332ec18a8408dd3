"""Bounds on work: time and result size for queries and builds, and Python transformations
that fail, end or crash their own process while Quanta's carries on.

Every limit here is set small through settings, so that a regression fails the test
instead of hanging it; no assertion compares durations.
"""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quanta.cli import app
from quanta.errors import QueryRefused
from quanta.mesh import Mesh
from quanta.model.catalog import ProductRecord
from quanta.model.result import Outcome, Publication
from quanta.scaffold import scaffold
from quanta.storage import TableName

TABLE = TableName("finance", "targets__targets__v1")
COLUMNS = "CAST(id AS BIGINT) AS id, name, category, CAST(amount AS DECIMAL(12, 2)) AS amount, "
COLUMNS += "CAST(updated_at AS TIMESTAMP) AS updated_at"
ENDLESS = {
    "a recursive CTE without an end": (
        "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t) SELECT count(*) FROM t"
    ),
    "a huge cross product": (
        "SELECT sum(a.range * b.range) FROM range(100000000) AS a, range(100000000) AS b"
    ),
}
GENEROUS = 120  # seconds: far more than any of these builds needs, short of a hang


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def as_python(folder: Path, code: str) -> None:
    """Make the product's transformation the Python ``code`` (a ``build(inputs)``)."""
    (folder / "transform.py").write_text(textwrap.dedent(code))
    descriptor = folder / "dataproduct.yaml"
    descriptor.write_text(
        descriptor.read_text()
        .replace("language: sql", "language: python")
        .replace("path: transform.sql", "path: transform.py")
    )


def publish(home: Path, folder: Path, **settings: object) -> Publication:
    with Mesh.open(home, **settings) as mesh:
        [publication] = mesh.publish(folder)
    return publication


def assert_nothing_left(
    home: Path, products: list[ProductRecord], table: TableName = TABLE
) -> None:
    """The catalog is as it was; no branch, no snapshot and no scratch file is left."""
    with Mesh.open(home) as mesh:
        assert mesh.products() == products
        assert mesh.storage.branches(table) in ([], ["main"])
        if products:
            assert mesh.read("finance.targets").num_rows == 3
    assert not (home / "scratch").exists() or not any((home / "scratch").iterdir())


# -- queries ---------------------------------------------------------------------------------
@pytest.mark.parametrize("sql", ENDLESS.values(), ids=ENDLESS.keys())
def test_a_query_is_stopped_at_its_time_limit(home: Path, sql: str) -> None:
    with Mesh.open(home, query_timeout=1) as mesh:
        with pytest.raises(QueryRefused) as refused:
            mesh.query(sql)
        assert "a query was stopped at its time limit of 1 second" in str(refused.value)
        assert "QUANTA_QUERY_TIMEOUT" in str(refused.value)
        # The mesh carries on: the next query has its own time.
        assert mesh.query("SELECT 42 AS answer").to_pylist() == [{"answer": 42}]


def test_a_query_without_a_limit_returns_at_most_the_max_rows(home: Path) -> None:
    with Mesh.open(home, query_max_rows=10, query_timeout=GENEROUS) as mesh:
        assert mesh.query("SELECT * FROM range(10)").num_rows == 10
        with pytest.raises(QueryRefused) as refused:
            mesh.query("SELECT * FROM range(11)")
        message = str(refused.value)
        assert "more than 10 rows" in message
        assert "QUANTA_QUERY_MAX_ROWS" in message
        assert "LIMIT" in message
        # A limit bounds the result itself: the rows past it are never read.
        assert mesh.query("SELECT * FROM range(3000000000)", limit=4).to_pylist() == [
            {"range": n} for n in range(4)
        ]
        assert mesh.query("SELECT * FROM range(5)", limit=0).num_rows == 0
        with pytest.raises(QueryRefused, match="QUANTA_QUERY_MAX_ROWS"):
            mesh.query("SELECT * FROM range(100)", limit=50)


def test_query_limit_1_on_three_billion_rows_shows_one_and_says_there_are_more(
    home: Path,
) -> None:
    Mesh.open(home).close()
    runner = CliRunner()
    sql = "SELECT * FROM range(3000000000)"
    env = {"QUANTA_QUERY_TIMEOUT": "60"}
    result = runner.invoke(app, ["query", "--limit", "1", "--home", str(home), sql], env=env)
    assert result.exit_code == 0, result.output
    assert "first 1 row shown; there are more (--limit to see more)" in result.output
    as_json = runner.invoke(
        app, ["query", "--limit", "1", "--json", "--home", str(home), sql], env=env
    )
    assert as_json.exit_code == 0, as_json.output
    assert as_json.output.strip().replace(" ", "").replace("\n", "") == '[{"range":0}]'


# -- builds ----------------------------------------------------------------------------------
@pytest.mark.parametrize("sql", ENDLESS.values(), ids=ENDLESS.keys())
def test_a_sql_transformation_is_stopped_at_the_build_time_limit(
    home: Path, source_product: Path, sql: str
) -> None:
    assert publish(home, source_product).outcome == Outcome.PASSED
    with Mesh.open(home) as mesh:
        products = mesh.products()
    # No row at all for as long as it runs: the output has the contract's columns.
    (source_product / "transform.sql").write_text(
        f"SELECT {COLUMNS} FROM raw_items WHERE ({sql}) < 0\n"
    )
    publication = publish(home, source_product, build_timeout=1)
    assert publication.outcome == Outcome.FAILED
    assert "the build was stopped at its time limit of 1 second" in publication.reason
    assert "QUANTA_BUILD_TIMEOUT" in publication.reason
    assert_nothing_left(home, products)


def test_a_stream_stopped_while_the_storage_writes_it_fails_with_the_time_limit(
    home: Path, source_product: Path
) -> None:
    # More rows at once than one batch (the stream starts), then none for as long as it
    # runs: the time runs out while the storage reads the stream, in its writing.
    (source_product / "transform.sql").write_text(
        "SELECT CAST(r.range AS BIGINT) AS id, i.name, i.category,\n"
        "    CAST(i.amount AS DECIMAL(12, 2)) AS amount,\n"
        "    CAST(i.updated_at AS TIMESTAMP) AS updated_at\n"
        "FROM raw_items AS i, range(1000000000000) AS r\n"
        "WHERE i.id = 1 AND (r.range < 300000 OR hash(r.range) = 0)\n"
    )
    publication = publish(home, source_product, build_timeout=2)
    assert publication.outcome == Outcome.FAILED
    assert "the build was stopped at its time limit of 2 seconds" in publication.reason
    assert "OSError" not in publication.reason
    assert_nothing_left(home, [])


def test_an_error_while_the_storage_reads_the_stream_shows_no_value(
    home: Path, source_product: Path
) -> None:
    # The bad value comes after the first batch: the error arrives as the stream is read.
    (source_product / "transform.sql").write_text(
        "SELECT CAST(CASE WHEN r.range = 299999 THEN 'ana@mail.example'\n"
        "    ELSE CAST(r.range AS VARCHAR) END AS BIGINT) AS id, i.name, i.category,\n"
        "    CAST(i.amount AS DECIMAL(12, 2)) AS amount,\n"
        "    CAST(i.updated_at AS TIMESTAMP) AS updated_at\n"
        "FROM raw_items AS i, range(400000) AS r WHERE i.id = 1\n"
    )
    publication = publish(home, source_product, build_timeout=GENEROUS)
    assert publication.outcome == Outcome.FAILED
    assert "could not be converted to INT64" in publication.reason
    assert "ana@mail.example" not in publication.reason
    assert_nothing_left(home, [])


def test_an_endless_python_loop_is_stopped_at_the_build_time_limit(
    home: Path, source_product: Path
) -> None:
    as_python(
        source_product,
        """
        def build(inputs):
            while True:
                pass
        """,
    )
    publication = publish(home, source_product, build_timeout=1)
    assert publication.outcome == Outcome.FAILED
    assert "the build was stopped at its time limit of 1 second" in publication.reason
    assert "QUANTA_BUILD_TIMEOUT" in publication.reason
    assert_nothing_left(home, [])


@pytest.mark.parametrize("language", ["sql", "python"])
def test_an_output_above_the_build_max_rows_fails_and_stages_nothing(
    home: Path, source_product: Path, language: str
) -> None:
    if language == "python":
        as_python(
            source_product,
            f"""
            def build(inputs):
                return inputs.sql("SELECT {COLUMNS} FROM raw_items")
            """,
        )
    publication = publish(home, source_product, build_max_rows=2, build_timeout=GENEROUS)
    assert publication.outcome == Outcome.FAILED
    assert "more than 2 rows" in publication.reason
    assert "QUANTA_BUILD_MAX_ROWS" in publication.reason
    assert_nothing_left(home, [])
    # Exactly at the limit is within it.
    assert publish(home, source_product, build_max_rows=3).outcome == Outcome.PASSED


# -- Python transformations in a process of their own ----------------------------------------
ENDINGS = {
    "os._exit(0)": (
        "import os\n\ndef build(inputs):\n    os._exit(0)\n",
        "transform.py: the transformation ended its process (exit code 0) before returning "
        "its tables",
    ),
    "a segfault": (
        "import ctypes\n\ndef build(inputs):\n    ctypes.string_at(0)\n",
        "transform.py: the transformation's process was killed by SIGSEGV before returning "
        "its tables",
    ),
    "KeyboardInterrupt": (
        "def build(inputs):\n    raise KeyboardInterrupt\n",
        "transform.py:2: the transformation was interrupted (KeyboardInterrupt) before "
        "returning its tables",
    ),
    "SystemExit(3)": (
        "def build(inputs):\n    raise SystemExit(3)\n",
        "transform.py:2: the transformation ended its process (SystemExit) before "
        "returning its tables",
    ),
    "an exception at import": (
        "import json\n\nSETTINGS = json.loads('{')\n\ndef build(inputs):\n    return None\n",
        "transform.py:3: JSONDecodeError (its message is not shown, as it may hold values "
        "from the data)",
    ),
    "a syntax error": (
        "def build(inputs)\n    return None\n",
        "transform.py:1: SyntaxError: expected ':'",
    ),
    "no such function": (
        "def make(inputs):\n    return None\n",
        "transform.py defines no function build(inputs)",
    ),
    "the wrong type": (
        "def build(inputs):\n    return [1, 2, 3]\n",
        "transform.py: build() returned list as the output: return a pyarrow Table, a "
        "RecordBatchReader or a DuckDB relation",
    ),
    "an unknown port": (
        "def build(inputs):\n    return {'other': inputs['raw_items']}\n",
        "must return one table per output port (broken); missing: ['broken'], unknown: ['other']",
    ),
    "an undeclared input": (
        "def build(inputs):\n    return inputs['secrets']\n",
        "transform.py:2: 'secrets' is not an input of this product: use one of raw_items",
    ),
}


@pytest.mark.parametrize(("code", "reason"), ENDINGS.values(), ids=ENDINGS.keys())
def test_a_python_transformation_that_ends_its_process_fails_and_quanta_carries_on(
    home: Path, workspace: Path, source_product: Path, code: str, reason: str
) -> None:
    assert publish(home, source_product).outcome == Outcome.PASSED
    with Mesh.open(home) as mesh:
        products = mesh.products()
    broken = scaffold("finance/broken", "source", workspace, {})
    as_python(broken, code)
    with Mesh.open(home, build_timeout=GENEROUS) as mesh:
        [publication] = mesh.publish(broken)
        assert publication.outcome == Outcome.FAILED
        assert reason in publication.reason
        # This process carries on, and so does the mesh.
        assert mesh.products() == products
        assert mesh.query("SELECT count(*) AS n FROM finance.targets").to_pylist() == [{"n": 3}]
    assert_nothing_left(home, products, TableName("finance", "broken__broken__v1"))
    with Mesh.open(home) as mesh:
        assert mesh.storage.staged(TableName("finance", "broken__broken__v1"), "main") is None


def test_values_in_a_python_exception_are_not_shown(home: Path, source_product: Path) -> None:
    as_python(
        source_product,
        """
        def build(inputs):
            name = inputs.arrow("raw_items").column("name")[0].as_py()
            raise ValueError(f"no owner for {name!r} (nor for \\"{name}\\")")
        """,
    )
    publication = publish(home, source_product, build_timeout=GENEROUS)
    assert publication.outcome == Outcome.FAILED
    assert "transform.py:4: ValueError: no owner for '…' (nor for \"…\")" in publication.reason
    assert "First item" not in publication.reason
    assert "First item" not in "\n".join(publication.build.log)


def test_what_a_python_transformation_prints_stays_out_of_stdout(
    home: Path, source_product: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    as_python(
        source_product,
        f"""
        import sys

        def build(inputs):
            print("hello from the product")
            print("and its stderr", file=sys.stderr)
            return inputs.sql("SELECT {COLUMNS} FROM raw_items")
        """,
    )
    publication = publish(home, source_product, build_timeout=GENEROUS)
    assert publication.outcome == Outcome.PASSED, publication.reason
    out, err = capfd.readouterr()
    assert "hello from the product" not in out
    assert "hello from the product" in err
    assert "and its stderr" in err
    with Mesh.open(home) as mesh:
        products = mesh.products()
    assert [record.id for record in products] == ["finance.targets"]
    assert_nothing_left(home, products)


def test_a_python_transformation_may_return_a_record_batch_reader(
    home: Path, source_product: Path
) -> None:
    as_python(
        source_product,
        f"""
        import pyarrow as pa

        def build(inputs):
            table = inputs.sql("SELECT {COLUMNS} FROM raw_items").to_arrow_table()
            batches = table.to_batches(max_chunksize=1)
            return {{"targets": pa.RecordBatchReader.from_batches(table.schema, batches)}}
        """,
    )
    publication = publish(home, source_product, build_timeout=GENEROUS)
    assert publication.outcome == Outcome.PASSED, publication.reason
    with Mesh.open(home) as mesh:
        ids = mesh.query("SELECT id FROM finance.targets ORDER BY id").column("id").to_pylist()
    assert ids == [1, 2, 3]


def test_checking_a_published_version_stops_at_the_build_time_limit(
    home: Path, source_product: Path
) -> None:
    # A rule kept in the catalog that never ends (as an older contract could hold).
    publication = publish(home, source_product)
    assert publication.outcome == Outcome.PASSED
    catalog = sqlite3.connect(home / "catalog.db")
    [(stored,)] = catalog.execute("SELECT contract FROM ports").fetchall()
    contract = json.loads(stored)
    contract["schema"][0]["quality"] = [
        {
            "type": "sql",
            "query": f"SELECT count(*) FROM ${{table}}, ({ENDLESS['a huge cross product']})",
            "mustBe": 0,
        }
    ]
    with catalog:
        catalog.execute("UPDATE ports SET contract = ?", [json.dumps(contract)])
    catalog.close()

    with (
        Mesh.open(home, build_timeout=1) as mesh,
        pytest.raises(QueryRefused, match="QUANTA_BUILD_TIMEOUT"),
    ):
        mesh.check("finance.targets")


def _gone(pid: int) -> bool:
    """Whether the process ``pid`` has ended (a zombie waiting for its reaper has)."""
    status = Path(f"/proc/{pid}/status")
    try:
        return "\nState:\tZ" in status.read_text()
    except FileNotFoundError:
        return True


def _wait_until_gone(pid: int, seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while not _gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.parametrize("ending", ["returns", "runs out of time"])
def test_processes_a_python_transformation_starts_end_with_its_build(
    home: Path, source_product: Path, capfd: pytest.CaptureFixture[str], ending: str
) -> None:
    # The sandbox lets the transformation write nowhere but its scratch folder: it tells
    # the pid on its stderr, which is Quanta's.
    after = "return inputs['raw_items']" if ending == "returns" else "time.sleep(600)"
    as_python(
        source_product,
        f"""
        import os, time

        def build(inputs):
            child = os.fork()
            if child == 0:
                while True:
                    pass
            os.write(2, f"forked pid {{child}}\\n".encode())
            {after}
        """,
    )
    publish(home, source_product, build_timeout=10)
    found = re.search(r"forked pid ([0-9]+)", capfd.readouterr().err)
    assert found is not None
    forked = int(found.group(1))
    assert _wait_until_gone(forked), f"process {forked} outlived its build"


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's prctl")
def test_a_python_transformation_holding_the_lock_ends_when_quanta_is_killed(
    home: Path, source_product: Path
) -> None:
    # A backtracking regular expression holds Python's lock: no thread of the child runs.
    # The transformation tells its pid on stderr (the sandbox lets it write no file).
    as_python(
        source_product,
        """
        import os, re

        def build(inputs):
            os.write(2, f"worker pid {os.getpid()}\\n".encode())
            re.match(r"(a|aa)+$", "a" * 64 + "b")
            return inputs["raw_items"]
        """,
    )
    script = (
        "import sys\nfrom quanta.mesh import Mesh\nMesh.open(sys.argv[1]).publish(sys.argv[2])\n"
    )
    quanta = subprocess.Popen(
        [sys.executable, "-c", script, str(home), str(source_product)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    told: list[str] = []

    def listen() -> None:
        assert quanta.stderr is not None
        for line in quanta.stderr:
            told.append(line)

    threading.Thread(target=listen, daemon=True).start()
    deadline = time.monotonic() + GENEROUS
    while not any(line.startswith("worker pid ") for line in told):
        assert quanta.poll() is None
        assert time.monotonic() < deadline
        time.sleep(0.05)
    worker = int(next(line for line in told if line.startswith("worker pid ")).split()[2])
    quanta.send_signal(signal.SIGKILL)
    quanta.wait()

    assert _wait_until_gone(worker), f"the worker {worker} outlived Quanta"


@pytest.mark.parametrize(
    "failing",
    [
        "raise KeyError(inputs.arrow('raw_items').column('amount')[0].as_py())",
        "{}[inputs.arrow('raw_items').column('amount')[0].as_py()]",
        "import datetime; datetime.date(91234 * inputs.arrow('raw_items')['id'][0].as_py(), 1, 1)",
        "import sys; sys.exit(inputs.arrow('raw_items').column('name')[0].as_py())",
        "assert False, inputs.arrow('raw_items').column('name')[0].as_py()",
    ],
)
def test_no_value_reaches_the_reason_whatever_raises_it(
    home: Path, source_product: Path, failing: str
) -> None:
    as_python(source_product, f"def build(inputs):\n    {failing}\n")
    publication = publish(home, source_product, build_timeout=GENEROUS)
    assert publication.outcome == Outcome.FAILED
    for value in ("12.5", "91234", "First item"):
        assert value not in publication.reason
