"""What publishing the demo mesh with Quanta costs, next to raw DuckDB doing the same work.

For each product of the retail example (``examples/retail``, the mesh ``quanta demo`` builds)
this measures two things, at the same ``--scale`` as ``quanta demo --scale``:

* quanta: ``Mesh.publish`` on a fresh copy of the example in a fresh mesh home. The
  ``publish`` column is ``Publication.seconds``: build, contract checks and registering the
  version (the batch validates every folder once, up front, before the first product; that
  time is in the ``mesh`` row only). The ``build`` column is ``Publication.build.seconds``:
  resolving the inputs, running the transformation and writing the Iceberg snapshot.
* duckdb: the baseline, a plain "DuckDB + Parquet files" pipeline. A new in-memory DuckDB
  connection per product sees the product's inputs as views under the names Quanta gives
  them (the input port's name, ``domain.product.port`` and, for a single-port product,
  ``domain.product``): ``read_csv``/``read_json``/``read_parquet`` of the source files, and
  ``read_parquet`` of the Parquet files this baseline wrote for the upstream products
  earlier in the same run. It runs the product's own ``transform.sql`` as
  ``COPY (...) TO 'x.parquet' (FORMAT parquet)``; for a Python product it calls the same
  ``build(inputs)`` function with an object whose ``.sql(query)`` runs on that connection,
  then COPYs each returned relation. Connecting is inside the timing, as it is for Quanta.

Both sides run interleaved (quanta run 1, duckdb run 1, quanta run 2, ...), each in its own
fresh temporary folder under ``bench/.work/``, deleted afterwards. The source data is
generated once with the example's seeds, outside any timing, and copied into every run.
Both sides use DuckDB with the time zone set to UTC, and the same memory and thread limits
(``QUANTA_BUILD_MEMORY_LIMIT``, ``QUANTA_BUILD_THREADS``; unset means DuckDB's defaults).

How to read the table: each time is the median over ``--runs`` runs, in seconds;
``publish/duckdb`` and ``build/duckdb`` are ratios of those medians, so 3.0x means Quanta
takes three times as long as the bare query-and-write. The difference is Quanta's overhead:
the sandboxed session with the Iceberg extension, casting to storable types, Arrow hand-off
to pyiceberg, Iceberg commits and branches, the contract checks (one more scan of each
output), and the catalog. The ``mesh`` row is the whole publish: for quanta the wall time
of ``Mesh.publish`` (validation included), for duckdb the sum over the products. ``rows``
counts the output rows of all of a product's ports; a warning goes to stderr if the two
sides ever write different numbers of rows.

    .venv/bin/python bench/spine/bench_build.py [--scale 1.0] [--runs 3] [--json]
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import duckdb

from quanta.build import plan
from quanta.engines.duckdb import DuckDBEngine, literal, quote
from quanta.examples import copy_example, example_root, load_example, publish_example
from quanta.mesh import Mesh
from quanta.settings import Settings
from quanta.validation.folder import load_folder

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/: common.py
from common import median, ratio, say

EXAMPLE = "retail"
WORK = Path(__file__).resolve().parents[1] / ".work"
READERS = {"csv": "read_csv", "json": "read_json", "parquet": "read_parquet"}


# -- the products, as the baseline needs them ----------------------------------------------
@dataclass
class Input:
    port: str
    source: tuple[str, str, dict[str, Any]] | None = None  # (path, format, options)
    upstream: tuple[str, str] | None = None  # (product id, output port)


@dataclass
class Product:
    id: str
    folder: Path  # relative to the workspace
    outputs: list[str]
    inputs: list[Input]
    language: str
    path: str
    function: str


def load_products(root: Path) -> list[Product]:
    """The products of a workspace at ``root``, in build order (each after all it reads)."""
    products: dict[str, Product] = {}
    loaded = {}
    for folder in plan.discover(root):
        found = load_folder(folder)
        if found.product is None or found.issues:
            raise SystemExit(f"{folder} does not load: {found.issues}")
        loaded[str(found.product.id)] = (folder, found.product)
    for product_id, (folder, product) in loaded.items():
        inputs = []
        for port in product.descriptor.input_ports:
            if port.source is not None:
                source = (port.source.path, port.source.file_format, dict(port.source.options))
                inputs.append(Input(port.name, source=source))
                continue
            address = port.upstream
            assert address is not None
            upstream = loaded[str(address.product)][1]
            outputs = [p.name for p in upstream.descriptor.output_ports]
            if address.port is None and len(outputs) != 1:
                raise SystemExit(f"{product_id}: {address} names no single output port")
            upstream_port = (str(address.product), address.port or outputs[0])
            inputs.append(Input(port.name, upstream=upstream_port))
        transformation = product.transformation
        products[product_id] = Product(
            id=product_id,
            folder=folder.relative_to(root),
            outputs=[p.name for p in product.descriptor.output_ports],
            inputs=inputs,
            language=transformation.language,
            path=transformation.path,
            function=transformation.function,
        )
    reads = {pid: {i.upstream[0] for i in p.inputs if i.upstream} for pid, p in products.items()}
    order = plan.build_order(reads)
    return [products[pid] for pid in order]


# -- one run of each side ------------------------------------------------------------------
@dataclass
class Run:
    seconds: dict[str, float] = field(default_factory=dict)  # per product
    build: dict[str, float] = field(default_factory=dict)  # quanta only
    rows: dict[str, int] = field(default_factory=dict)
    total: float = 0.0


def make_workspace(home: Path, root: Path, seeds: Path, seed_files: list[str]) -> Path:
    workspace = copy_example(root, home / "examples" / EXAMPLE)
    for name in seed_files:
        target = workspace / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(seeds / name, target)
    return workspace


def quanta_run(home: Path, workspace: Path) -> Run:
    run = Run()
    with Mesh.open(home) as mesh:
        started = time.perf_counter()
        # Each product published by its owner, after asking for the grants it reads
        # through, as `quanta demo` does: the access checks are part of the cost.
        example = load_example(example_root(EXAMPLE))
        publications = publish_example(mesh, workspace, example, lambda *_: None)
        run.total = time.perf_counter() - started
    for publication in publications:
        if not publication.outcome.ok or publication.build is None:
            problem = f"quanta could not publish {publication.product}: {publication.reason}"
            raise SystemExit(problem)
        run.seconds[publication.product] = publication.seconds
        run.build[publication.product] = publication.build.seconds
        run.rows[publication.product] = sum(port.rows for port in publication.build.ports)
    return run


class BaselineInputs:
    """The little a Python transformation uses of Quanta's inputs: ``.sql(query)``."""

    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self._connection = connection

    def sql(self, query: str) -> duckdb.DuckDBPyRelation:
        return self._connection.sql(query)

    def __getitem__(self, name: str) -> duckdb.DuckDBPyRelation:
        return self._connection.sql(f"SELECT * FROM {'.'.join(quote(p) for p in name.split('.'))}")


def connect(settings: Settings) -> duckdb.DuckDBPyConnection:
    config: dict[str, Any] = {}
    if settings.build_memory_limit:
        config["memory_limit"] = settings.build_memory_limit
    if settings.build_threads:
        config["threads"] = settings.build_threads
    connection = duckdb.connect(":memory:", config=config)
    connection.execute("SET TimeZone = 'UTC'")
    return connection


def parquet_file(out: Path, product_id: str, port: str) -> Path:
    return out / f"{product_id}.{port}.parquet"


def create_views(
    connection: duckdb.DuckDBPyConnection,
    product: Product,
    folder: Path,
    out: Path,
    outputs: dict[str, list[str]],
) -> None:
    catalogs: set[str] = set()
    schemas: set[tuple[str, str]] = set()
    for item in product.inputs:
        names: list[tuple[str, ...]] = [(item.port,)]
        if item.source is not None:
            path, file_format, options = item.source
            extra = "".join(f", {key} => {literal(value)}" for key, value in options.items())
            scan = f"{READERS[file_format]}({literal(str((folder / path).resolve()))}{extra})"
        else:
            assert item.upstream is not None
            upstream, port = item.upstream
            domain, name = upstream.split(".")
            scan = f"read_parquet({literal(str(parquet_file(out, upstream, port)))})"
            names.append((domain, name, port))
            if len(outputs[upstream]) == 1:
                names.append((domain, name))
        for parts in dict.fromkeys(names):
            if len(parts) == 1:
                target = quote(parts[0])
            else:
                catalog, schema = parts[0], "main" if len(parts) == 2 else parts[1]
                if catalog not in catalogs:
                    connection.execute(f"ATTACH ':memory:' AS {quote(catalog)}")
                    catalogs.add(catalog)
                if schema != "main" and (catalog, schema) not in schemas:
                    connection.execute(f"CREATE SCHEMA {quote(catalog)}.{quote(schema)}")
                    schemas.add((catalog, schema))
                target = f"{quote(catalog)}.{quote(schema)}.{quote(parts[-1])}"
            connection.execute(f"CREATE VIEW {target} AS SELECT * FROM {scan}")


def copy_to_parquet(connection: duckdb.DuckDBPyConnection, sql: str, path: Path) -> int:
    query = sql.strip().rstrip(";")
    written = connection.execute(
        f"COPY (\n{query}\n) TO {literal(str(path))} (FORMAT parquet)"
    ).fetchone()
    return int(written[0]) if written else 0


def load_function(path: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"bench_transform_{path.parent.name}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


def duckdb_product(
    product: Product, workspace: Path, out: Path, outputs: dict[str, list[str]], settings: Settings
) -> int:
    folder = workspace / product.folder
    connection = connect(settings)
    try:
        create_views(connection, product, folder, out, outputs)
        code = folder / product.path
        if product.language == "sql":
            sql = code.read_text(encoding="utf-8")
            port = product.outputs[0]
            return copy_to_parquet(connection, sql, parquet_file(out, product.id, port))
        result = load_function(code, product.function)(BaselineInputs(connection))
        relations = result if isinstance(result, dict) else {product.outputs[0]: result}
        rows = 0
        for index, (port, relation) in enumerate(relations.items()):
            view = f"__bench_output_{index}"
            relation.create_view(view)
            path = parquet_file(out, product.id, port)
            rows += copy_to_parquet(connection, f"SELECT * FROM {quote(view)}", path)
        return rows
    finally:
        connection.close()


def duckdb_run(workspace: Path, out: Path, products: list[Product], settings: Settings) -> Run:
    run = Run()
    out.mkdir(parents=True, exist_ok=True)
    outputs = {product.id: product.outputs for product in products}
    for product in products:
        started = time.perf_counter()
        rows = duckdb_product(product, workspace, out, outputs, settings)
        run.seconds[product.id] = time.perf_counter() - started
        run.rows[product.id] = rows
    run.total = sum(run.seconds.values())
    return run


# -- the whole bench -----------------------------------------------------------------------
def bench(scale: float, runs: int) -> dict[str, Any]:
    root = example_root(EXAMPLE)
    example = load_example(root)
    settings = Settings()
    # Quanta imports its storage and build modules when first needed: import them now so
    # that the first timed run does not pay for it.
    for module in ("quanta.build.transform", "quanta.build.sql_guard", "quanta.storage.iceberg"):
        importlib.import_module(module)

    WORK.mkdir(parents=True, exist_ok=True)
    quanta_runs: list[Run] = []
    duckdb_runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="bench_build-", dir=WORK) as temporary:
        scratch = Path(temporary)
        seeds = scratch / "seeds"
        engine = DuckDBEngine(scratch / "extensions")
        for seed in example.seeds:
            say(f"generating {seed.to} (scale {scale})")
            sql = (root / seed.sql).read_text(encoding="utf-8")
            engine.export(sql, seeds / seed.to, {"scale": scale})
        seed_files = [seed.to for seed in example.seeds]
        # The folders validate only once their source files exist.
        products = load_products(make_workspace(scratch / "reference", root, seeds, seed_files))
        for number in range(1, runs + 1):
            home = Path(tempfile.mkdtemp(prefix=f"quanta-{number}-", dir=scratch))
            workspace = make_workspace(home, root, seeds, seed_files)
            say(f"run {number}/{runs}: quanta")
            quanta_runs.append(quanta_run(home, workspace))
            shutil.rmtree(home)
            home = Path(tempfile.mkdtemp(prefix=f"duckdb-{number}-", dir=scratch))
            workspace = make_workspace(home, root, seeds, seed_files)
            say(f"run {number}/{runs}: duckdb")
            duckdb_runs.append(duckdb_run(workspace, home / "out", products, settings))
            shutil.rmtree(home)

    rows = []
    for product in products:
        q_rows = {run.rows[product.id] for run in quanta_runs}
        d_rows = {run.rows[product.id] for run in duckdb_runs}
        if q_rows != d_rows:
            say(f"warning: {product.id} wrote {q_rows} rows with quanta, {d_rows} with duckdb")
        publish = [run.seconds[product.id] for run in quanta_runs]
        build = [run.build[product.id] for run in quanta_runs]
        baseline = [run.seconds[product.id] for run in duckdb_runs]
        rows.append(
            summary(product.id, max(q_rows), publish, build, baseline)
            | {"language": product.language}
        )
    mesh = summary(
        "mesh",
        sum(row["rows"] for row in rows),
        [run.total for run in quanta_runs],
        [sum(run.build.values()) for run in quanta_runs],
        [run.total for run in duckdb_runs],
    )
    return {
        "example": EXAMPLE,
        "scale": scale,
        "runs": runs,
        "versions": {
            "python": platform.python_version(),
            "quanta": version("quanta"),
            "duckdb": duckdb.__version__,
            "pyiceberg": version("pyiceberg"),
            "pyarrow": version("pyarrow"),
        },
        "machine": {"cpus": os.cpu_count(), "system": platform.platform()},
        "products": rows,
        "mesh": mesh,
    }


def summary(
    name: str, rows: int, publish: list[float], build: list[float], baseline: list[float]
) -> dict[str, Any]:
    publish_s, build_s, duckdb_s = median(publish), median(build), median(baseline)
    return {
        "product": name,
        "rows": rows,
        "quanta_publish_s": round(publish_s, 3),
        "quanta_build_s": round(build_s, 3),
        "duckdb_s": round(duckdb_s, 3),
        "publish_over_duckdb": _round(ratio(publish_s, duckdb_s)),
        "build_over_duckdb": _round(ratio(build_s, duckdb_s)),
        "runs": {
            "quanta_publish_s": [round(x, 3) for x in publish],
            "quanta_build_s": [round(x, 3) for x in build],
            "duckdb_s": [round(x, 3) for x in baseline],
        },
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def table(result: dict[str, Any]) -> str:
    headers = ["product", "rows", "quanta publish s", "quanta build s", "duckdb s",
               "publish/duckdb", "build/duckdb"]  # fmt: skip

    def times(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}x"

    lines = []
    for row in [*result["products"], result["mesh"]]:
        lines.append([
            row["product"],
            f"{row['rows']:,}",
            f"{row['quanta_publish_s']:.3f}",
            f"{row['quanta_build_s']:.3f}",
            f"{row['duckdb_s']:.3f}",
            times(row["publish_over_duckdb"]),
            times(row["build_over_duckdb"]),
        ])  # fmt: skip
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(headers)]

    def render(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        return "  ".join([first, *(c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))])

    rule = "  ".join("-" * w for w in widths)
    versions = ", ".join(f"{k} {v}" for k, v in result["versions"].items())
    return "\n".join([
        f"Quanta publish vs raw DuckDB + Parquet: {result['example']} demo mesh, "
        f"scale {result['scale']:g}, median of {result['runs']} run(s), "
        f"{result['machine']['cpus']} CPUs",
        versions,
        "",
        render(headers),
        rule,
        *(render(line) for line in lines[:-1]),
        rule,
        render(lines[-1]),
    ])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--scale", type=float, default=1.0, help="as quanta demo --scale")
    parser.add_argument("--runs", type=int, default=3, help="runs of each side (median)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.scale <= 0:
        parser.error("--runs must be at least 1 and --scale above 0")
    result = bench(args.scale, args.runs)
    print(json.dumps(result, indent=2) if args.json else table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
