"""What governance costs: the three figures of the governance issue, in one run.

Each figure runs its two sides in this one process, interleaved (side A run 1, side B run 1,
side B run 2, side A run 2, ...: which side goes first alternates), after one untimed
warm-up of each side; each time is the median over ``--runs`` runs, and a ratio is the
ratio of the two medians. Scratch folders live under ``bench/.work/`` and are deleted
afterwards; all data and facts are generated outside any timing.

1. **policies**: every default policy (``load_rules(None)``: no governance folder) over
   ``--products`` synthetic products. The facts are those of the three ``quanta init``
   scaffolds (blueprints source, aggregate and consumer, loaded as folders and turned into
   facts by `quanta.governance.facts.product_facts`), copied as plain dicts and varied: ids,
   domains (50 products a domain), teams, 3 to 30 columns of every classification, and
   about one product in five failing one or more policies on purpose (no owner, no description,
   a contract version that is not MAJOR.MINOR.PATCH, an unclassified column, a PII column
   without its concept, no service level). Timed: ``rules.evaluate_mesh(facts, day)`` over
   all of them. The failing findings are compared once with what was planted. Target: at
   most 2 s (an absolute time: there is no peer baseline for it).
2. **protected**: one source product ``bench.people`` over a generated Parquet file of
   ``--rows`` rows (``id`` BIGINT internal, ``email`` VARCHAR pii, ``note`` VARCHAR
   restricted, ``amount`` DECIMAL internal), published by its owner; the reader holds a
   grant it asked for and the owner approved, without PII in clear. Timed: ``mesh.read``
   of the port as the reader (``email`` comes as its stored pseudonym, ``note`` masked)
   against the same as the owner, who reads in clear. The results are checked once: the
   same rows, the reader's emails pseudonyms (UUIDs), the owner's holding ``@``, the
   reader's notes all NULL. Target: protected / clear at most 1.2.
3. **join**: ``bench.accounts`` and ``bench.orders`` (``--rows`` rows each; every order's
   ``customer`` drawn from the accounts' keys (the mesh's governance folder shares the
   concept ``customer``'s pseudonym scope with the domain), both ``customer`` columns VARCHAR
   ``'c-0000042'`` classified pii), joined through ``mesh.query`` as the reader (grants
   without PII in clear: the join runs on the stored pseudonyms) against the same as the
   owner (in clear). Both counts are checked equal. Target: pseudonymized / clear at
   most 1.3.

Each Mesh is opened before its timing starts (not timed). A publish that fails is reported
(the other figures are still measured); the script exits with 1 when a figure fails its
target or could not be measured.

    .venv/bin/python bench/governance/bench_governance.py [--products 10000]
        [--rows 1000000] [--runs 5] [--only policies,protected,join] [--json]
"""

from __future__ import annotations

import argparse
import copy
import importlib
import json
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from importlib.metadata import version
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import yaml

from quanta.governance.facts import product_facts
from quanta.governance.folder import load_rules
from quanta.mesh import Mesh
from quanta.model.access import RequestState
from quanta.model.actor import Actor
from quanta.model.catalog import PortVersion
from quanta.scaffold import SAMPLE_COLUMNS, scaffold
from quanta.sql_text import literal
from quanta.validation.folder import load_folder

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/: common.py
from common import load_average, median, ratio, say
from common import rounded as _r

WORK = Path(__file__).resolve().parents[1] / ".work"
OWNER = "owner@bench.example"
READER = "analyst@bench.example"
PURPOSE = "Benchmarking the protection of classified columns"
FIGURES = ("policies", "protected", "join")
BLUEPRINTS = ("source", "aggregate", "consumer")
PER_DOMAIN = 50
POLICIES_TARGET_S = 2.0
PROTECTED_TARGET = 1.2
JOIN_TARGET = 1.3
JOIN_SQL = (
    "SELECT count(*) AS orders, sum(o.amount) AS amount "
    "FROM bench.orders o JOIN bench.accounts a ON o.customer = a.customer"
)


# -- 1. the default policies over many products --------------------------------------------
LEVELS = ("public", "internal", "confidential", "restricted", "pii", "pii-sensitive")
LEVEL_WEIGHTS = (3, 6, 2, 1, 2, 1)
TYPES = (
    ("integer", "BIGINT"),
    ("string", "VARCHAR"),
    ("number", "DECIMAL(12,2)"),
    ("timestamp", "TIMESTAMP"),
    ("date", "DATE"),
    ("boolean", "BOOLEAN"),
)
# Planted failures: product i fails the policies of every modulus dividing it.
PLANTED = {
    37: ("owner-and-domain",),  # no team
    17: ("description", "consumer-purpose"),  # no description (the purpose too)
    29: ("contract-version",),  # "1.0"
    19: ("columns-classified",),  # its first column unclassified
    23: ("pii-concept",),  # its second column pii, without its concept
    31: ("retention", "service-levels"),  # no service level at all
}


def scaffold_facts(scratch: Path, keys: frozenset[str]) -> list[dict[str, Any]]:
    """The facts of the three `quanta init` scaffolds, as loaded from their folders."""
    upstream = PortVersion(
        port="items",
        contract_version="1.0.0",
        table="bench.items__items__v1",
        snapshot_id=1,
        metadata_location="file:///bench/metadata.json",
        location="file:///bench/items",
        rows=3,
        bytes=0,
        columns=list(SAMPLE_COLUMNS),
    )
    found = []
    for blueprint in BLUEPRINTS:
        inputs = {} if blueprint == "source" else {"bench.items": upstream}
        folder = scaffold(f"bench/{blueprint}_product", blueprint, scratch, inputs, OWNER)
        loaded = load_folder(folder)
        if loaded.product is None:
            raise SystemExit(f"the {blueprint} scaffold does not load: {loaded.issues}")
        # As the platform builds them: only the column facts the conditions name.
        found.append(product_facts(loaded.product, column_keys=keys))
    return found


def varied(
    templates: list[dict[str, Any]], number: int, keys: frozenset[str]
) -> tuple[dict[str, Any], set[str]]:
    """Product ``number``: a scaffold's facts under a new id with 3 to 30 columns, and the
    policies it was made to fail."""
    rng = random.Random(number)
    facts = copy.deepcopy(templates[number % len(templates)])
    domain, name = f"area{number // PER_DOMAIN:03d}", f"product_{number:05d}"
    product_id = f"{domain}.{name}"
    facts.update(
        id=product_id,
        domain=domain,
        name=name,
        owner=f"{domain}-team",
        members=[f"owner{number % 7}@{domain}.example", f"member{number % 11}@{domain}.example"],
        usage_text=f"SELECT * FROM {product_id}",
    )
    purpose = f"What {product_id} offers, and to whom."
    facts.update(description=purpose, purpose=purpose)
    [port] = facts["ports"]
    port.update(name=name, contract_id=f"{product_id}.{name}")
    columns = []
    for index in range(3 + number % 28):
        logical, physical = TYPES[rng.randrange(len(TYPES))]
        level = rng.choices(LEVELS, LEVEL_WEIGHTS)[0]
        columns.append({
            "name": f"column_{index:02d}",
            "logical_type": logical,
            "physical_type": physical,
            "classification": level,
            "concept": "customer" if level.startswith("pii") else "",
            "required": index == 0,
            "description": f"Column {index} of {product_id}.",
        })  # fmt: skip
        columns[-1] = {key: value for key, value in columns[-1].items() if key in keys}
    port["columns"] = columns
    failing: set[str] = set()
    for modulus, policies in PLANTED.items():
        if number % modulus:
            continue
        failing.update(policies)
        if modulus == 37:
            facts["owner"] = ""
        elif modulus == 17:
            facts.update(description="", purpose="")
        elif modulus == 29:
            port["contract_version"] = "1.0"
        elif modulus == 19:
            columns[0]["classification"] = ""
        elif modulus == 23:
            columns[1].update(classification="pii", concept="")
        elif modulus == 31:
            port["service_levels"] = []
            facts["retention"] = ""
    if facts["kind"] != "consumer-aligned":
        failing.discard("consumer-purpose")  # out of its scope
    return facts, failing


def bench_policies(scratch: Path, products: int, runs: int) -> dict[str, Any]:
    say(f"policies: the facts of {products:,} products from the 3 scaffolds")
    started = time.perf_counter()
    rules = load_rules(None)
    compiled_s = time.perf_counter() - started
    # The facts as the platform builds them: a column's, only the keys conditions name.
    templates = scaffold_facts(scratch / "products", rules.column_keys)
    made = [varied(templates, number, rules.column_keys) for number in range(products)]
    facts = [item[0] for item in made]
    planted = {(f["id"], policy) for f, failing in made for policy in failing}
    columns = sum(len(port["columns"]) for f in facts for port in f["ports"])
    day = date.today()

    say("policies: warm-up")
    compliance = rules.evaluate_mesh(facts, day)
    errors = [f for f in compliance.findings if f.error is not None]
    found = {(f.product, f.policy) for f in compliance.findings if not f.holds}
    if errors or found != planted:
        say(
            f"warning: policies: {len(errors)} finding(s) in error, "
            f"{len(found - planted)} failing not planted, {len(planted - found)} planted "
            "not failing"
        )
    times: list[float] = []
    for number in range(1, runs + 1):
        say(f"policies: run {number}/{runs}")
        started = time.perf_counter()
        rules.evaluate_mesh(facts, day)
        times.append(time.perf_counter() - started)
    seconds = median(times)
    return {
        "products": products,
        "policies": len(rules.policies),
        "columns": columns,
        "findings": len(compliance.findings),
        "failing": len(found),
        "failing_by_policy": dict(sorted(Counter(policy for _, policy in found).items())),
        "as_planted": not errors and found == planted,
        "compile_s": _r(compiled_s),
        "seconds": _r(seconds),
        "per_product_us": _r(seconds / products * 1e6, 1),
        "baseline": None,
        "target_s": POLICIES_TARGET_S,
        "met": seconds <= POLICIES_TARGET_S,
        "runs": {"seconds": [_r(x) for x in times]},
    }


# -- products over generated Parquet files ---------------------------------------------------
@dataclass(frozen=True)
class Column:
    name: str
    logical: str
    physical: str
    classification: str
    concept: str = ""


PEOPLE = [
    Column("id", "integer", "BIGINT", "internal"),
    Column("email", "string", "VARCHAR", "pii", "customer"),
    Column("note", "string", "VARCHAR", "restricted"),
    Column("amount", "number", "DECIMAL(12,2)", "internal"),
]
ACCOUNTS = [
    Column("customer", "string", "VARCHAR", "pii", "customer"),
    Column("segment", "string", "VARCHAR", "internal"),
]
ORDERS = [
    Column("id", "integer", "BIGINT", "internal"),
    Column("customer", "string", "VARCHAR", "pii", "customer"),
    Column("amount", "number", "DECIMAL(12,2)", "internal"),
]


def customer_key(expression: str, rows: int) -> str:
    """SQL of the key ``'c-0000042'`` of the integer ``expression``."""
    digits = max(7, len(str(rows - 1)))
    return f"'c-' || lpad(CAST({expression} AS VARCHAR), {digits}, '0')"


def write_parquet(folder: Path, queries: dict[str, str]) -> dict[str, Path]:
    """One Parquet file per query in ``folder``, by plain DuckDB."""
    folder.mkdir(parents=True, exist_ok=True)
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
    """A source product over the Parquet file ``data``, owned by `OWNER`: all its columns,
    classified, holding every default policy."""
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
        "description": {"purpose": f"Generated rows of {product_id}, for the benchmark."},
        "tags": ["source"],
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

    def column(c: Column) -> dict[str, Any]:
        item: dict[str, Any] = {
            "name": c.name,
            "logicalType": c.logical,
            "physicalType": c.physical,
            "classification": c.classification,
        }
        if c.concept:
            item["customProperties"] = [{"property": "concept", "value": c.concept}]
        return item

    contract = {
        "apiVersion": "v3.1.0",
        "kind": "DataContract",
        "id": f"{product_id}.{name}",
        "version": "1.0.0",
        "status": "active",
        "schema": [{"name": name, "properties": [column(c) for c in columns]}],
        "slaProperties": [{"property": "retention", "value": 1, "unit": "y"}],
    }
    (folder / "dataproduct.yaml").write_text(yaml.safe_dump(descriptor, sort_keys=False))
    (folder / "contracts" / f"{name}.odcs.yaml").write_text(yaml.safe_dump(contract))
    (folder / "transform.sql").write_text(f"SELECT * FROM raw_{name}\n")
    return folder


GOVERNANCE = """\
# The bench domain's columns naming the customer share one pseudonym scope: joins match.
concepts:
  customer: {description: Who buys, domains: [bench]}
"""


def publish(home: Path, path: Path) -> None:
    rules = home / "governance" / "governance.yaml"
    rules.parent.mkdir(parents=True, exist_ok=True)
    rules.write_text(GOVERNANCE)
    with Mesh.open(home, user=OWNER) as mesh:
        for publication in mesh.publish(path):
            if not publication.outcome.ok:
                raise SystemExit(f"could not publish {publication.product}: {publication.reason}")
            say(f"  published {publication.product} in {publication.seconds:.1f}s")


def grant(home: Path, products: list[str]) -> None:
    """Grants to `READER` without PII in clear: asked by it, approved by the owner."""
    with Mesh.open(home, user=READER) as mesh:
        for product in products:
            asked = mesh.request_access(product, PURPOSE, actor=Actor(name=READER))
            if asked.state == RequestState.PENDING:
                asked = mesh.approve_access(asked.id, actor=Actor(name=OWNER))
            if asked.state != RequestState.APPROVED or asked.clear_pii:
                raise SystemExit(
                    f"the grant to {product} is {asked.state}, clear PII {asked.clear_pii}"
                )


def interleaved(
    label: str, runs: int, sides: dict[str, Callable[[], tuple[float, Any]]]
) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """One untimed warm-up of each side, then ``runs`` runs of each, alternating which
    side goes first; the warm-ups' results, and the seconds of each side's runs."""
    say(f"{label}: warm-up")
    results = {side: run()[1] for side, run in sides.items()}
    times: dict[str, list[float]] = {side: [] for side in sides}
    order = list(sides)
    for number in range(1, runs + 1):
        say(f"{label}: run {number}/{runs}")
        for side in order if number % 2 else reversed(order):
            times[side].append(sides[side]()[0])
    return results, times


def measured(
    times: dict[str, list[float]], protected: str, clear: str, target: float
) -> dict[str, Any]:
    p, c = median(times[protected]), median(times[clear])
    return {
        "protected_s": _r(p),
        "clear_s": _r(c),
        "added_s": _r(p - c),
        "ratio": _r(ratio(p, c), 2),
        "target": target,
        "met": bool(c > 0 and p / c <= target),
        "runs": {
            "protected_s": [_r(x) for x in times[protected]],
            "clear_s": [_r(x) for x in times[clear]],
        },
    }


# -- 2. a protected read ---------------------------------------------------------------------
def timed_read(home: Path, user: str) -> tuple[float, pa.Table]:
    """Seconds of ``mesh.read`` of bench.people as ``user`` (the Mesh opened untimed)."""
    with Mesh.open(home, user=user) as mesh:
        started = time.perf_counter()
        table = mesh.read("bench.people", actor=Actor(name=user))
        return time.perf_counter() - started, table


def read_problems(reader: pa.Table, owner: pa.Table, rows: int) -> list[str]:
    problems = []
    if reader.num_rows != rows or owner.num_rows != rows:
        problems.append(f"rows: the reader's {reader.num_rows:,}, the owner's {owner.num_rows:,}")
    uuids = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
    if not pc.all(pc.match_substring_regex(reader.column("email"), uuids)).as_py():
        problems.append("the reader's emails are not pseudonyms (UUIDs)")
    if not pc.all(pc.match_substring(owner.column("email"), "@")).as_py():
        problems.append("the owner's emails do not all hold '@'")
    if reader.column("note").null_count != rows:
        problems.append("the reader's notes are not all masked")
    if owner.column("note").null_count:
        problems.append("the owner's notes are masked")
    return problems


def bench_protected(scratch: Path, rows: int, runs: int) -> dict[str, Any]:
    say(f"protected: generating {rows:,} people")
    data = write_parquet(
        scratch / "data",
        {
            "people": f"""
                SELECT i AS id,
                       'person' || i || '@mail' || (i % 97) || '.example' AS email,
                       'note ' || (i % 1000) AS note,
                       CAST(((i * 31) % 100000) / 100 AS DECIMAL(12, 2)) AS amount
                FROM range({rows}) AS t(i)"""
        },
    )
    home, workspace = scratch / "home", scratch / "products"
    source_product(workspace, "bench.people", PEOPLE, data["people"])
    try:
        say("protected: publishing bench.people")
        publish(home, workspace)
        grant(home, ["bench.people"])
    except SystemExit as error:
        say(f"error: {error}")
        return {"rows": rows, "error": str(error)}
    results, times = interleaved(
        "protected",
        runs,
        {"protected": lambda: timed_read(home, READER), "clear": lambda: timed_read(home, OWNER)},
    )
    problems = read_problems(results["protected"], results["clear"], rows)
    for problem in problems:
        say(f"warning: protected: {problem}")
    return {
        "rows": rows,
        "checked": not problems,
        "problems": problems,
        **measured(times, "protected", "clear", PROTECTED_TARGET),
    }


# -- 3. a join on pseudonymized keys ---------------------------------------------------------
def timed_join(home: Path, user: str) -> tuple[float, tuple[Any, ...]]:
    """Seconds of ``mesh.query`` of the join as ``user`` (the Mesh opened untimed)."""
    with Mesh.open(home, user=user) as mesh:
        started = time.perf_counter()
        table = mesh.query(JOIN_SQL, actor=Actor(name=user))
        seconds = time.perf_counter() - started
    [row] = table.to_pylist()
    return seconds, (row["orders"], row["amount"])


def bench_join(scratch: Path, rows: int, runs: int) -> dict[str, Any]:
    say(f"join: generating {rows:,} accounts and {rows:,} orders")
    drawn = f"hash(i) % {rows}"  # a key of the accounts, spread over them
    data = write_parquet(
        scratch / "data",
        {
            "accounts": f"""
                SELECT {customer_key("i", rows)} AS customer,
                       ['retail', 'smb', 'enterprise'][i % 3 + 1] AS segment
                FROM range({rows}) AS t(i)""",
            "orders": f"""
                SELECT i AS id, {customer_key(drawn, rows)} AS customer,
                       CAST(((i * 31) % 100000) / 100 AS DECIMAL(12, 2)) AS amount
                FROM range({rows}) AS t(i)""",
        },
    )
    home, workspace = scratch / "home", scratch / "products"
    source_product(workspace, "bench.accounts", ACCOUNTS, data["accounts"])
    source_product(workspace, "bench.orders", ORDERS, data["orders"])
    try:
        say("join: publishing bench.accounts and bench.orders")
        publish(home, workspace)
        grant(home, ["bench.accounts", "bench.orders"])
    except SystemExit as error:
        say(f"error: {error}")
        return {"rows": rows, "error": str(error)}
    results, times = interleaved(
        "join",
        runs,
        {"protected": lambda: timed_join(home, READER), "clear": lambda: timed_join(home, OWNER)},
    )
    problems = []
    if results["protected"][0] != results["clear"][0]:
        problems.append(
            f"counts differ: {results['protected'][0]:,} pseudonymized, "
            f"{results['clear'][0]:,} in clear"
        )
    if results["clear"][0] != rows:
        problems.append(f"{results['clear'][0]:,} orders joined, not {rows:,}")
    for problem in problems:
        say(f"warning: join: {problem}")
    return {
        "rows": {"accounts": rows, "orders": rows},
        "joined": results["clear"][0],
        "checked": not problems,
        "problems": problems,
        **measured(times, "protected", "clear", JOIN_TARGET),
    }


# -- the whole bench ----------------------------------------------------------------------------
def bench(products: int, rows: int, runs: int, only: list[str]) -> dict[str, Any]:
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
            "cel-expr-python": version("cel-expr-python"),
        },
        "machine": {
            "cpus": os.cpu_count(),
            "system": platform.platform(),
            "load_average": load_average(),
        },
    }
    steps: dict[str, Callable[[Path], dict[str, Any]]] = {
        "policies": lambda scratch: bench_policies(scratch, products, runs),
        "protected": lambda scratch: bench_protected(scratch, rows, runs),
        "join": lambda scratch: bench_join(scratch, rows, runs),
    }
    for figure in FIGURES:
        if figure not in only:
            continue
        with tempfile.TemporaryDirectory(prefix=f"bench_governance-{figure}-", dir=WORK) as folder:
            result[figure] = steps[figure](Path(folder))
        result[figure]["load_average_after"] = load_average()
    return result


def failed(result: dict[str, Any]) -> bool:
    """Whether a figure missed its target, could not be measured or gave wrong results."""
    figures = [result[name] for name in FIGURES if name in result]
    return any(
        "error" in f or not f["met"] or not f.get("checked", f.get("as_planted", True))
        for f in figures
    )


def table(result: dict[str, Any]) -> str:
    headers = ["figure", "governed s", "baseline s", "baseline", "added s", "ratio", "target", ""]
    lines: list[list[str]] = []
    notes: list[str] = []

    def verdict(figure: dict[str, Any]) -> str:
        if not figure.get("checked", figure.get("as_planted", True)):
            return "WRONG RESULT"
        return "met" if figure["met"] else "NOT MET"

    if "policies" in result:
        p = result["policies"]
        lines.append([
            f"policies: {p['policies']} defaults over {p['products']:,} products",
            f"{p['seconds']:.3f}", "-", "none (no peer baseline)", "-", "-",
            f"<= {p['target_s']:.1f} s", verdict(p),
        ])  # fmt: skip
        notes.append(
            f"policies: {p['per_product_us']:.1f} µs a product; {p['columns']:,} columns, "
            f"{p['findings']:,} findings, {p['failing']:,} failing "
            f"({'as planted' if p['as_planted'] else 'NOT as planted'}); compiling the "
            f"defaults (not timed) {p['compile_s']:.3f} s"
        )
    labels = {
        "protected": ("protected: mesh.read of bench.people, {rows:,} rows", "the owner, clear"),
        "join": ("join: orders x accounts on pii keys, {rows:,} rows each", "the owner, clear"),
    }
    for name, (label, baseline) in labels.items():
        if name not in result:
            continue
        f = result[name]
        rows = f["rows"] if isinstance(f["rows"], int) else f["rows"]["orders"]
        if "error" in f:
            lines.append([label.format(rows=rows), "-", "-", baseline, "-", "-", "", "FAILED"])
            notes.append(f"{name} could not be measured: {f['error']}")
            continue
        lines.append([
            label.format(rows=rows), f"{f['protected_s']:.3f}", f"{f['clear_s']:.3f}",
            baseline, f"{f['added_s']:+.3f}", f"{f['ratio']:.2f}x", f"<= {f['target']:.1f}x",
            verdict(f),
        ])  # fmt: skip
        notes.extend(f"{name}: {problem}" for problem in f["problems"])
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(headers)]

    def render(cells: list[str]) -> str:
        left = {0, 3, 7}
        return "  ".join(
            c.ljust(w) if i in left else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    after = ", ".join(
        f"{name} {result[name]['load_average_after']}" for name in FIGURES if name in result
    )
    versions = ", ".join(f"{k} {v}" for k, v in result["versions"].items())
    machine = result["machine"]
    return "\n".join([
        f"Governance costs: median of {result['runs']} interleaved run(s), "
        f"{machine['cpus']} CPUs, load average {machine['load_average']} (after {after})",
        versions,
        "",
        render(headers),
        "  ".join("-" * w for w in widths),
        *(render(line) for line in lines),
        *(["", *notes] if notes else []),
    ])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--products", type=int, default=10_000, help="products of the policies")
    parser.add_argument(
        "--rows", type=int, default=1_000_000, help="rows of each product read or joined"
    )
    parser.add_argument("--runs", type=int, default=5, help="runs of each side (median)")
    parser.add_argument(
        "--only", default=",".join(FIGURES), help=f"some of {','.join(FIGURES)} (default: all)"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    if args.runs < 1 or args.rows < 1 or args.products < 1:
        parser.error("--runs, --rows and --products must be at least 1")
    if not only or any(name not in FIGURES for name in only):
        parser.error(f"--only takes some of {','.join(FIGURES)}")
    result = bench(args.products, args.rows, args.runs, only)
    print(json.dumps(result, indent=2, ensure_ascii=False) if args.json else table(result))
    return 1 if failed(result) else 0


if __name__ == "__main__":
    sys.exit(main())
