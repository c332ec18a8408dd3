"""What access control costs: the three figures of the access issue, each a ratio in one run.

Each figure runs Quanta and its baseline side by side in this one process, interleaved
(Quanta run 1, baseline run 1, baseline run 2, Quanta run 2, ...: which side goes first
alternates), after one untimed warm-up of each side (imports, entry points, the first
connection); each time is the median over ``--runs`` runs, and a ratio is the ratio of
the two medians. Scratch folders live under
``bench/.work/`` and are deleted afterwards; all data is generated outside any timing.

1. **query**: the governed query path against raw DuckDB. Three products (``bench.orders``
   with ``--rows`` rows, ``bench.customers`` with one per 100 orders, ``bench.days`` with
   730 days), each a source product over a generated Parquet file, published by their
   owner; the querying user holds a grant to each (asked by the consumer, approved by the
   owner: the path `tests/conftest.grant` takes). Timed for Quanta: ``Mesh.query`` of an
   aggregate join (``GROUP BY segment, week``) on a Mesh opened as the consumer, once per
   run; opening it is timed apart (``open s``, not in the ratio). That is the whole path:
   identity, parsing, the SQL guard, the catalog look-up, the grant check, binding,
   the session, metering. Timed for the baseline: a plain ``duckdb.connect()`` with the
   same threads and memory settings, the same SQL with each product's name replaced by
   ``read_parquet`` of exactly the data files the catalog lists for the port's served
   snapshot (``PortVersion.files``), fetched as Arrow. Both results are compared once.
   Target: quanta / raw at most 1.10.
2. **catalog**: the same query, naming 2 products, in a catalog of ``--products`` published
   products against one of 10. In each mesh the 2 queried products (``shop.orders``, 100,000
   rows, and ``shop.customers``, 1,000) and one scaffolded template (``area00.items_0000``)
   are published for real; the others are registered through the catalog's one write
   (``CatalogStore.publish``) as copies of the template's record and version under new ids,
   domains, teams and owners (their ports point at the template's snapshot; 10 products a
   domain, one team a domain). The consumer holds grants to the 2 queried products. Timed:
   ``Mesh.query`` as in 1, the two meshes alternating. Target: t(large) / t(10) at most 1.2.
3. **isolation**: publishing one small scaffolded product (``finance.targets``: a 3-row
   CSV source and SQL) with ``executor="in-process"`` against ``executor="subprocess"``,
   each publish in a fresh mesh home and product folder (made outside the timing, the
   engine's extensions installed into the home beforehand: a cost once per home), the
   executors alternating. Timed: the wall time of ``Mesh.publish`` (validation, build,
   checks, register). Reported: the median of the per-run differences, subprocess minus
   in-process. The same for a Python transformation (the same product with its SQL as
   ``build(inputs)`` in ``transform.py``; ``--only python``), which runs in a process of
   its own under both executors.
   Target: at most 0.3 s added. A publish that fails is reported (the other figures are
   still measured) and the script exits with 1.

    .venv/bin/python bench/access/bench_access.py [--rows 10000000] [--products 1000]
        [--runs 5] [--only query,catalog,isolation,python] [--json]

``--only`` picks figures: ``isolation`` is the SQL product of figure 3, ``python`` the
Python one.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import duckdb
import yaml

from quanta.mesh import Mesh
from quanta.model.access import RequestState
from quanta.model.actor import Actor
from quanta.scaffold import scaffold
from quanta.settings import load_settings
from quanta.sql_text import literal

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/: common.py
from common import median, ratio, say
from common import rounded as _r

WORK = Path(__file__).resolve().parents[1] / ".work"
OWNER = "owner@bench.example"
CONSUMER = "analyst@bench.example"
PURPOSE = "Benchmarking the governed query path"
DAYS = 730
SEGMENTS = ["retail", "smb", "enterprise", "public", "partner"]
FIGURES = ("query", "catalog", "isolation", "python")
SMALL_CATALOG = 10
CATALOG_ORDERS = 100_000
CATALOG_CUSTOMERS = 1_000
TEMPLATE = ("area00", "items_0000")
PER_DOMAIN = 10

QUERY_SQL = """
SELECT c.segment, d.week, count(*) AS orders, sum(o.amount) AS amount
FROM {orders} AS o
JOIN {customers} AS c ON c.id = o.customer_id
JOIN {days} AS d ON d.day = o.day
GROUP BY c.segment, d.week
ORDER BY c.segment, d.week
"""

CATALOG_SQL = """
SELECT c.segment, count(*) AS orders, sum(o.amount) AS amount
FROM {orders} AS o
JOIN {customers} AS c ON c.id = o.customer_id
GROUP BY c.segment
ORDER BY c.segment
"""

PYTHON_TRANSFORM = '''"""The scaffolded product's SQL, as a Python transformation."""


def build(inputs):
    return inputs.sql(
        """
        SELECT
            CAST(id AS BIGINT) AS id,
            name,
            category,
            CAST(amount AS DECIMAL(12, 2)) AS amount,
            CAST(updated_at AS TIMESTAMP) AS updated_at
        FROM raw_items
        """
    )
'''


# -- data and product folders --------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    name: str
    logical: str
    physical: str


ORDERS = [
    Column("id", "integer", "BIGINT"),
    Column("customer_id", "integer", "BIGINT"),
    Column("amount", "number", "DECIMAL(12,2)"),
    Column("day", "date", "DATE"),
]
CUSTOMERS = [Column("id", "integer", "BIGINT"), Column("segment", "string", "VARCHAR")]
CALENDAR = [Column("day", "date", "DATE"), Column("week", "integer", "INTEGER")]


def generate(folder: Path, orders: int, customers: int) -> dict[str, Path]:
    """orders.parquet, customers.parquet and days.parquet in ``folder``, by plain DuckDB."""
    folder.mkdir(parents=True, exist_ok=True)
    segments = literal(SEGMENTS)
    queries = {
        "orders": f"""
            SELECT i AS id,
                   (i * 7919) % {customers} AS customer_id,
                   CAST(((i * 31) % 100000) / 100 AS DECIMAL(12, 2)) AS amount,
                   DATE '2025-01-01' + CAST(i % {DAYS} AS INTEGER) AS day
            FROM range({orders}) AS t(i)""",
        "customers": f"""
            SELECT i AS id, {segments}[i % {len(SEGMENTS)} + 1] AS segment
            FROM range({customers}) AS t(i)""",
        "days": f"""
            SELECT DATE '2025-01-01' + CAST(i AS INTEGER) AS day, CAST(i // 7 AS INTEGER) AS week
            FROM range({DAYS}) AS t(i)""",
    }
    paths = {}
    connection = duckdb.connect()
    try:
        for name, sql in queries.items():
            path = folder / f"{name}.parquet"
            connection.execute(f"COPY ({sql}) TO {literal(str(path))} (FORMAT parquet)")
            paths[name] = path
    finally:
        connection.close()
    return paths


def source_product(root: Path, product_id: str, columns: list[Column], data: Path) -> Path:
    """A source product over the Parquet file ``data``, owned by `OWNER`: all its columns."""
    domain, name = product_id.split(".")
    folder = root / domain / name
    (folder / "contracts").mkdir(parents=True)
    (folder / "data").mkdir()
    placed = folder / "data" / data.name
    try:  # a source lies inside its product folder: a hard link costs no copy
        os.link(data, placed)
    except OSError:
        shutil.copyfile(data, placed)
    descriptor = {
        "apiVersion": "v1.0.0",
        "kind": "DataProduct",
        "id": product_id,
        "domain": domain,
        "status": "active",
        "team": {"name": f"{domain}-team", "members": [{"username": OWNER, "role": "owner"}]},
        "inputPorts": [
            {
                "name": f"raw_{name}",
                "version": "1",
                "contractId": "source",
                "customProperties": [
                    {
                        "property": "source",
                        "value": {"path": f"data/{data.name}", "format": "parquet"},
                    }
                ],
            }
        ],
        "outputPorts": [{"name": name, "version": "1.0.0", "contractId": f"{product_id}.{name}"}],
        "customProperties": [
            {"property": "transformation", "value": {"language": "sql", "path": "transform.sql"}}
        ],
    }
    contract = {
        "apiVersion": "v3.1.0",
        "kind": "DataContract",
        "id": f"{product_id}.{name}",
        "version": "1.0.0",
        "status": "active",
        "schema": [
            {
                "name": name,
                "properties": [
                    {
                        "name": c.name,
                        "logicalType": c.logical,
                        "physicalType": c.physical,
                        "classification": "internal",
                    }
                    for c in columns
                ],
            }
        ],
    }
    (folder / "dataproduct.yaml").write_text(yaml.safe_dump(descriptor, sort_keys=False))
    (folder / "contracts" / f"{name}.odcs.yaml").write_text(yaml.safe_dump(contract))
    (folder / "transform.sql").write_text(f"SELECT * FROM raw_{name}\n")
    return folder


def publish(home: Path, path: Path, user: str = OWNER) -> None:
    with Mesh.open(home, user=user) as mesh:
        for publication in mesh.publish(path):
            if not publication.outcome.ok:
                raise SystemExit(f"could not publish {publication.product}: {publication.reason}")
            say(f"  published {publication.product} in {publication.seconds:.1f}s")


def grant(home: Path, products: list[str]) -> None:
    """Grants to `CONSUMER`, asked by it and approved by the owner (as conftest.grant)."""
    with Mesh.open(home, user=CONSUMER) as mesh:
        for product in products:
            asked = mesh.request_access(product, PURPOSE, actor=Actor(name=CONSUMER))
            if asked.state == RequestState.PENDING:
                mesh.approve_access(asked.id, actor=Actor(name=OWNER))


def served_files(home: Path, products: list[str]) -> dict[str, list[str]]:
    """The data files of each product's served snapshot, as the catalog lists them."""
    found = {}
    with Mesh.open(home, user=OWNER) as mesh:
        for product in products:
            served = mesh.stores.catalog.version(product)
            if served is None or len(served.ports) != 1:
                raise SystemExit(f"{product} is not served with one port")
            files = served.ports[0].files
            if not files:
                raise SystemExit(f"{product}'s snapshot lists no data files")
            found[product] = list(files)
    return found


# -- the two sides of a query ----------------------------------------------------------------
def quanta_query(home: Path, sql: str) -> tuple[float, float, list[dict[str, Any]]]:
    """(seconds opening the Mesh, seconds of Mesh.query, the rows) as the consumer."""
    started = time.perf_counter()
    with Mesh.open(home, user=CONSUMER) as mesh:
        opened = time.perf_counter()
        table = mesh.query(sql)
        done = time.perf_counter()
    return opened - started, done - opened, table.to_pylist()


def duckdb_config() -> dict[str, Any]:
    """The threads and memory limit Quanta's engine sessions get from the settings."""
    settings = load_settings()
    config: dict[str, Any] = {}
    if settings.build_memory_limit:
        config["memory_limit"] = settings.build_memory_limit
    if settings.build_threads:
        config["threads"] = settings.build_threads
    return config


def raw_query(sql: str, config: dict[str, Any]) -> tuple[float, list[dict[str, Any]]]:
    started = time.perf_counter()
    connection = duckdb.connect(":memory:", config=config)
    try:
        connection.execute("SET TimeZone = 'UTC'")  # as Quanta's sessions
        connection.execute("SET enable_progress_bar = false")
        table = connection.sql(sql).to_arrow_table()
    finally:
        connection.close()
    return time.perf_counter() - started, table.to_pylist()


def scans(files: dict[str, list[str]]) -> dict[str, str]:
    return {
        product.split(".")[1]: f"read_parquet({literal(paths)})" for product, paths in files.items()
    }


def same(quanta: list[dict[str, Any]], raw: list[dict[str, Any]], what: str) -> None:
    if quanta != raw:
        say(f"warning: {what}: the results differ ({len(quanta)} rows and {len(raw)})")


# -- 1. the governed query path --------------------------------------------------------------
def bench_query(scratch: Path, rows: int, runs: int) -> dict[str, Any]:
    customers = max(rows // 100, 10)
    say(f"query: generating {rows:,} orders, {customers:,} customers, {DAYS} days")
    data = generate(scratch / "data", rows, customers)
    home, workspace = scratch / "home", scratch / "products"
    products = {"bench.orders": ORDERS, "bench.customers": CUSTOMERS, "bench.days": CALENDAR}
    for product_id, columns in products.items():
        source_product(workspace, product_id, columns, data[product_id.split(".")[1]])
    say("query: publishing the three products")
    publish(home, workspace)
    grant(home, list(products))
    files = served_files(home, list(products))
    quanta_sql = QUERY_SQL.format(**{p.split(".")[1]: p for p in products})
    raw_sql = QUERY_SQL.format(**scans(files))
    config = duckdb_config()

    say("query: warm-up")
    _, _, q_rows = quanta_query(home, quanta_sql)
    _, r_rows = raw_query(raw_sql, config)
    same(q_rows, r_rows, "query")
    opens: list[float] = []
    quanta: list[float] = []
    raw: list[float] = []
    for number in range(1, runs + 1):
        say(f"query: run {number}/{runs}")
        # Alternate which side goes first, so that neither always follows the other.
        for side in ("quanta", "raw") if number % 2 else ("raw", "quanta"):
            if side == "raw":
                raw.append(raw_query(raw_sql, config)[0])
                continue
            opened, seconds, _ = quanta_query(home, quanta_sql)
            opens.append(opened)
            quanta.append(seconds)
    q, r = median(quanta), median(raw)
    return {
        "rows": {"orders": rows, "customers": customers, "days": DAYS},
        "result_rows": len(q_rows),
        "files": {product: len(paths) for product, paths in files.items()},
        "duckdb_config": config,
        "quanta_s": _r(q),
        "raw_s": _r(r),
        "open_s": _r(median(opens)),
        "added_s": _r(q - r),
        "ratio": _r(ratio(q, r), 2),
        "target": 1.10,
        "met": bool(r > 0 and q / r <= 1.10),
        "runs": {
            "quanta_s": [_r(x) for x in quanta],
            "raw_s": [_r(x) for x in raw],
            "open_s": [_r(x) for x in opens],
        },
    }


# -- 2. the catalog's size --------------------------------------------------------------------
def fill(home: Path, total: int) -> None:
    """Register copies of the template product until the catalog holds ``total`` products."""
    domain, name = TEMPLATE
    template_id = f"{domain}.{name}"
    with Mesh.open(home, user=OWNER) as mesh:
        catalog = mesh.stores.catalog
        record = catalog.product(template_id)
        served = catalog.version(template_id)
        if record is None or served is None:
            raise SystemExit(f"{template_id} is not published")
        have = len(catalog.products())
        record_text = record.model_dump_json()
        version_text = served.model_dump_json()
        # Where the data is: kept as the template's, never renamed.
        kept = ("table", "metadata_location", "location", "files")
        for number in range(1, total - have + 1):
            new_domain, new_name = f"area{number // PER_DOMAIN:02d}", f"items_{number:04d}"

            def renamed(text: str, new_domain: str = new_domain, new_name: str = new_name) -> str:
                return text.replace(name, new_name).replace(domain, new_domain)

            copy = type(record).model_validate_json(renamed(record_text))
            new_version = type(served).model_validate_json(renamed(version_text))
            ports = [
                port.model_copy(update={key: getattr(original, key) for key in kept})
                for port, original in zip(new_version.ports, served.ports, strict=True)
            ]
            catalog.publish(copy, new_version.model_copy(update={"ports": ports}))
        count = len(catalog.products())
    if count != total:
        raise SystemExit(f"the catalog holds {count} products, not {total}")


def catalog_mesh(scratch: Path, label: str, total: int, data: dict[str, Path]) -> Path:
    home, workspace = scratch / label / "home", scratch / label / "products"
    source_product(workspace, "shop.orders", ORDERS, data["orders"])
    source_product(workspace, "shop.customers", CUSTOMERS, data["customers"])
    domain, name = TEMPLATE
    scaffold(f"{domain}/{name}", "source", workspace, {}, f"owner@{domain}.example")
    say(f"catalog: publishing 3 products into the mesh of {total}")
    publish(home, workspace / "shop")
    publish(home, workspace / domain, user=f"owner@{domain}.example")
    say(f"catalog: registering {total - 3} more")
    fill(home, total)
    grant(home, ["shop.orders", "shop.customers"])
    return home


def bench_catalog(scratch: Path, products: int, runs: int) -> dict[str, Any]:
    if products < SMALL_CATALOG:
        raise SystemExit(f"--products must be at least {SMALL_CATALOG}")
    data = generate(scratch / "data", CATALOG_ORDERS, CATALOG_CUSTOMERS)
    small = catalog_mesh(scratch, "small", SMALL_CATALOG, data)
    large = catalog_mesh(scratch, "large", products, data)
    sql = CATALOG_SQL.format(orders="shop.orders", customers="shop.customers")

    say("catalog: warm-up")
    first = quanta_query(small, sql)[2]
    same(first, quanta_query(large, sql)[2], "catalog (the two meshes)")
    small_s: list[float] = []
    large_s: list[float] = []
    for number in range(1, runs + 1):
        say(f"catalog: run {number}/{runs}")
        for home in (small, large) if number % 2 else (large, small):
            (small_s if home == small else large_s).append(quanta_query(home, sql)[1])
    s, big = median(small_s), median(large_s)
    return {
        "products": products,
        "small_products": SMALL_CATALOG,
        "rows": {"orders": CATALOG_ORDERS, "customers": CATALOG_CUSTOMERS},
        "large_s": _r(big),
        "small_s": _r(s),
        "added_s": _r(big - s),
        "ratio": _r(ratio(big, s), 2),
        "target": 1.2,
        "met": bool(s > 0 and big / s <= 1.2),
        "runs": {"large_s": [_r(x) for x in large_s], "small_s": [_r(x) for x in small_s]},
    }


# -- 3. the isolation of builds ---------------------------------------------------------------
def as_python(folder: Path) -> Path:
    """The scaffolded product, its SQL turned into a Python transformation."""
    descriptor = yaml.safe_load((folder / "dataproduct.yaml").read_text())
    for item in descriptor["customProperties"]:
        if item["property"] == "transformation":
            item["value"] = {"language": "python", "path": "transform.py", "function": "build"}
    (folder / "dataproduct.yaml").write_text(yaml.safe_dump(descriptor, sort_keys=False))
    (folder / "transform.sql").unlink()
    (folder / "transform.py").write_text(PYTHON_TRANSFORM)
    return folder


def installed_extensions(scratch: Path) -> Path:
    """An extensions folder with the engine's extensions installed, to link into homes."""
    from quanta.engines.duckdb import DuckDBEngine

    folder = scratch / "extensions"
    DuckDBEngine(folder).connect(iceberg=True).close()
    return folder


def timed_publish(
    scratch: Path, label: str, executor: str, python: bool, extensions: Path
) -> float:
    """Seconds of ``Mesh.publish`` of a freshly scaffolded product into a fresh home."""
    folder = Path(tempfile.mkdtemp(prefix=f"{label}-{executor}-", dir=scratch))
    try:
        product = scaffold("finance/targets", "source", folder / "products", {}, OWNER)
        if python:
            as_python(product)
        # Installing the extensions is once per home, not per publish: done beforehand.
        shutil.copytree(extensions, folder / "home" / "extensions", copy_function=os.link)
        with Mesh.open(folder / "home", user=OWNER, executor=executor) as mesh:
            started = time.perf_counter()
            publications = mesh.publish(product)
            seconds = time.perf_counter() - started
        for publication in publications:
            if not publication.outcome.ok:
                raise SystemExit(
                    f"{label}, {executor}: could not publish {publication.product}: "
                    f"{publication.reason}"
                )
        return seconds
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def bench_isolation(scratch: Path, runs: int, python: bool) -> dict[str, Any]:
    label = "python" if python else "sql"
    product = f"finance.targets ({label})"
    inside: list[float] = []
    isolated: list[float] = []
    try:
        say(f"isolation ({label}): warm-up")
        extensions = installed_extensions(scratch)
        timed_publish(scratch, label, "in-process", python, extensions)
        timed_publish(scratch, label, "subprocess", python, extensions)
        for number in range(1, runs + 1):
            say(f"isolation ({label}): run {number}/{runs}")
            # Alternate which goes first, so that neither always follows the other.
            order = ["in-process", "subprocess"] if number % 2 else ["subprocess", "in-process"]
            for executor in order:
                seconds = timed_publish(scratch, label, executor, python, extensions)
                (inside if executor == "in-process" else isolated).append(seconds)
    except SystemExit as error:  # a publish that fails: said, and the other figures go on
        say(f"error: {error}")
        return {"product": product, "error": str(error)}
    differences = [b - a for a, b in zip(inside, isolated, strict=True)]
    added = median(differences)
    return {
        "product": product,
        "in_process_s": _r(median(inside)),
        "subprocess_s": _r(median(isolated)),
        "added_s": _r(added),
        "ratio": _r(ratio(median(isolated), median(inside)), 2),
        "target_added_s": 0.3,
        "met": added <= 0.3,
        "runs": {
            "in_process_s": [_r(x) for x in inside],
            "subprocess_s": [_r(x) for x in isolated],
            "added_s": [_r(x) for x in differences],
        },
    }


# -- the whole bench ----------------------------------------------------------------------------
def bench(rows: int, products: int, runs: int, only: list[str]) -> dict[str, Any]:
    # Quanta imports these when first needed: import them now, outside any timing.
    for module in (
        "quanta.build.transform",
        "quanta.build.sql_guard",
        "quanta.build.sql_parse",
        "quanta.storage.iceberg",
    ):
        importlib.import_module(module)
    WORK.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "runs": runs,
        "versions": {
            "python": platform.python_version(),
            "quanta": version("quanta"),
            "duckdb": duckdb.__version__,
            "pyiceberg": version("pyiceberg"),
            "pyarrow": version("pyarrow"),
        },
        "machine": {
            "cpus": os.cpu_count(),
            "system": platform.platform(),
            "load_average": [round(x, 1) for x in os.getloadavg()],
        },
    }
    steps: dict[str, Callable[[Path], Any]] = {
        "query": lambda scratch: bench_query(scratch, rows, runs),
        "catalog": lambda scratch: bench_catalog(scratch, products, runs),
        "isolation": lambda scratch: bench_isolation(scratch, runs, python=False),
        "python": lambda scratch: bench_isolation(scratch, runs, python=True),
    }
    for figure in FIGURES:
        if figure not in only:
            continue
        with tempfile.TemporaryDirectory(prefix=f"bench_access-{figure}-", dir=WORK) as folder:
            measured = steps[figure](Path(folder))
        if figure in ("isolation", "python"):  # both rows of the isolation figure
            result.setdefault("isolation", []).append(measured)
        else:
            result[figure] = measured
    return result


def table(result: dict[str, Any]) -> str:
    headers = ["figure", "quanta s", "baseline s", "baseline", "added s", "ratio", "target", ""]
    lines: list[list[str]] = []
    notes: list[str] = []

    def verdict(met: bool) -> str:
        return "met" if met else "NOT MET"

    if "query" in result:
        q = result["query"]
        lines.append([
            f"query: 3-product join, {q['rows']['orders']:,} orders",
            f"{q['quanta_s']:.3f}", f"{q['raw_s']:.3f}", "raw DuckDB, same files",
            f"{q['added_s']:+.3f}", f"{q['ratio']:.2f}x", f"<= {q['target']:.2f}x",
            verdict(q["met"]),
        ])  # fmt: skip
    if "catalog" in result:
        c = result["catalog"]
        lines.append([
            f"catalog: 2 products named, of {c['products']:,}",
            f"{c['large_s']:.3f}", f"{c['small_s']:.3f}", f"of {c['small_products']}",
            f"{c['added_s']:+.3f}", f"{c['ratio']:.2f}x", f"<= {c['target']:.2f}x",
            verdict(c["met"]),
        ])  # fmt: skip
    for row in result.get("isolation", []):
        if "error" in row:
            failed = f"isolation: publish {row['product']}"
            lines.append([failed, "-", "-", "in-process", "-", "-", "<= +0.3 s", "FAILED"])
            notes.append(f"{failed} failed: {row['error']}")
            continue
        lines.append([
            f"isolation: publish {row['product']}",
            f"{row['subprocess_s']:.3f}", f"{row['in_process_s']:.3f}", "in-process",
            f"{row['added_s']:+.3f}", f"{row['ratio']:.2f}x",
            f"<= +{row['target_added_s']:.1f} s", verdict(row["met"]),
        ])  # fmt: skip
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(headers)]

    def render(cells: list[str]) -> str:
        left = {0, 3, 7}
        return "  ".join(
            c.ljust(w) if i in left else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    if "query" in result:
        opened = result["query"]["open_s"]
        notes.append(f"opening the Mesh (not in the query figure): {opened:.3f} s")
    versions = ", ".join(f"{k} {v}" for k, v in result["versions"].items())
    machine = result["machine"]
    return "\n".join([
        f"Access costs: median of {result['runs']} interleaved run(s), "
        f"{machine['cpus']} CPUs, load average {machine['load_average']}",
        versions,
        "",
        render(headers),
        "  ".join("-" * w for w in widths),
        *(render(line) for line in lines),
        *(["", *notes] if notes else []),
    ])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=10_000_000, help="orders of the query join")
    parser.add_argument(
        "--products", type=int, default=1000, help="products of the large catalog (vs 10)"
    )
    parser.add_argument("--runs", type=int, default=5, help="runs of each side (median)")
    parser.add_argument(
        "--only", default=",".join(FIGURES), help=f"some of {','.join(FIGURES)} (default: all)"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    if args.runs < 1 or args.rows < 1:
        parser.error("--runs and --rows must be at least 1")
    if args.products < SMALL_CATALOG:
        parser.error(f"--products must be at least {SMALL_CATALOG}")
    if not only or any(name not in FIGURES for name in only):
        parser.error(f"--only takes some of {','.join(FIGURES)}")
    result = bench(args.rows, args.products, args.runs, only)
    print(json.dumps(result, indent=2) if args.json else table(result))
    # A target not met is a result; a figure that could not be measured is a failure.
    return 1 if any("error" in row for row in result.get("isolation", [])) else 0


if __name__ == "__main__":
    sys.exit(main())
