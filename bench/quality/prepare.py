"""Publish a peer-benchmark data set as two Quanta products, before any timing.

    python bench/quality/prepare.py DATA_DIR

The harness in shared/bench/peers generates ``orders.parquet`` and ``customers.parquet``
into DATA_DIR. This writes two product folders under ``DATA_DIR/quanta/products`` whose
source input ports read those files, and publishes them into the mesh home
``DATA_DIR/quanta/home``. The orders contract expresses the harness's 15 checks; the
ones the planted violations break are declared as warnings, so that the dirty data can be
published and then checked on demand by ``quanta_peer.py``, as a user would.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

from quanta.mesh import Mesh

COUNTRIES = [
    "US",
    "GB",
    "DE",
    "FR",
    "NL",
    "BE",
    "ES",
    "IT",
    "PL",
    "SE",
    "NO",
    "DK",
    "FI",
    "IE",
    "PT",
    "AT",
    "CH",
    "CA",
    "AU",
    "JP",
]
STATUSES = ["placed", "paid", "shipped", "delivered", "cancelled", "returned"]
EMAIL = r"^[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}$"


def descriptor(name: str, source: str, inputs: str = "") -> str:
    return f"""apiVersion: v1.0.0
kind: DataProduct
id: bench.{name}
domain: bench
status: active
team:
  name: bench-team
  members: [{{username: bench@example.com, role: owner}}]
inputPorts:
  - name: raw_{name}
    version: "1"
    contractId: source
    customProperties:
      - property: source
        value: {{path: {source}, format: parquet}}
{inputs}outputPorts:
  - {{name: {name}, version: 1.0.0, contractId: bench.{name}.{name}}}
customProperties:
  - property: transformation
    value: {{language: sql, path: transform.sql}}
"""


def orders_contract(low: int, high: int) -> str:
    warn = "severity: warning"
    countries = ", ".join(f"'{code}'" for code in COUNTRIES)
    return f"""apiVersion: v3.1.0
kind: DataContract
id: bench.orders.orders
version: 1.0.0
status: active
schema:
  - name: orders
    quality:
      - {{name: C02, metric: rowCount, mustBeBetween: [{low}, {high}], {warn}}}
    properties:
      - name: order_id
        logicalType: integer
        physicalType: BIGINT
        classification: internal
        quality:
          - {{name: C03, metric: nullValues, mustBe: 0, {warn}}}
          - {{name: C04, metric: duplicateValues, mustBe: 0, {warn}}}
      - name: customer_id
        logicalType: integer
        physicalType: BIGINT
        classification: internal
        relationships:
          - type: foreignKey
            to: customers.customer_id
            customProperties: [{{property: severity, value: warning}}]
        quality:
          - {{name: C05, metric: nullValues, mustBe: 0, {warn}}}
      - name: email
        logicalType: string
        physicalType: VARCHAR
        classification: pii
        quality:
          - {{name: C07, metric: nullValues, mustBeLessThan: 5, unit: percent, {warn}}}
          - name: C08
            metric: invalidValues
            arguments: {{pattern: '{EMAIL}'}}
            mustBe: 0
            {warn}
      - name: country
        logicalType: string
        physicalType: VARCHAR
        classification: internal
        quality:
          - {{name: C09, metric: invalidValues, arguments: {{validValues: [{countries}]}}, mustBe: 0, {warn}}}
      - name: status
        logicalType: string
        physicalType: VARCHAR
        classification: internal
        quality:
          - {{name: C10, metric: nullValues, mustBe: 0, {warn}}}
          - {{name: C11, metric: invalidValues, arguments: {{validValues: [{", ".join(STATUSES)}]}}, mustBe: 0, {warn}}}
      - name: amount
        logicalType: number
        physicalType: DOUBLE
        classification: internal
        quality:
          - {{name: C12, metric: nullValues, mustBe: 0, {warn}}}
          - {{name: C13, metric: invalidValues, arguments: {{minimum: 0, maximum: 10000}}, mustBe: 0, {warn}}}
      - name: quantity
        logicalType: integer
        physicalType: INTEGER
        classification: internal
        quality:
          - {{name: C14, metric: invalidValues, arguments: {{minimum: 1, maximum: 100}}, mustBe: 0, {warn}}}
      - {{name: created_at, logicalType: timestamp, physicalType: TIMESTAMP, classification: internal}}
      - {{name: shipped_at, logicalType: timestamp, physicalType: TIMESTAMP, classification: internal}}
      - {{name: discount_code, logicalType: string, physicalType: VARCHAR, classification: internal}}
slaProperties:
  - {{property: freshness, value: 7, unit: d, element: orders.created_at}}
"""


CUSTOMERS_CONTRACT = """apiVersion: v3.1.0
kind: DataContract
id: bench.customers.customers
version: 1.0.0
status: active
schema:
  - name: customers
    properties:
      - {name: customer_id, logicalType: integer, physicalType: BIGINT, classification: internal}
      - {name: country, logicalType: string, physicalType: VARCHAR, classification: internal}
      - {name: signup_date, logicalType: date, physicalType: DATE, classification: internal}
"""


def prepare(data: Path) -> Path:
    manifest = json.loads((data / "manifest.json").read_text())
    rows = manifest["rows"]
    root = data / "quanta"
    if root.exists():
        shutil.rmtree(root)
    products = root / "products" / "bench"
    for name, contract in (
        ("customers", CUSTOMERS_CONTRACT),
        ("orders", orders_contract(int(rows * 0.9), int(rows * 1.1))),
    ):
        folder = products / name
        (folder / "contracts").mkdir(parents=True)
        inputs = (
            "  - {name: customers, version: '1', contractId: bench.customers}\n"
            if name == "orders"
            else ""
        )
        # A source lies inside its product folder: a hard link costs no copy.
        (folder / "data").mkdir()
        placed = folder / "data" / f"{name}.parquet"
        try:
            os.link(data / f"{name}.parquet", placed)
        except OSError:  # another file system
            shutil.copyfile(data / f"{name}.parquet", placed)
        source = f"data/{name}.parquet"
        (folder / "dataproduct.yaml").write_text(descriptor(name, source, inputs))
        (folder / "contracts" / f"{name}.odcs.yaml").write_text(contract)
        (folder / "transform.sql").write_text(f"SELECT * FROM raw_{name}\n")
    with Mesh.open(root / "home") as mesh:
        for publication in mesh.publish(root / "products"):
            if not publication.outcome.ok:
                sys.exit(f"{publication.product}: {publication.reason}")
            print(
                f"published {publication.product}: {publication.build.rows:,} rows "
                f"in {publication.seconds:.1f}s",
                file=sys.stderr,
            )
    return root / "home"


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: prepare.py DATA_DIR")
    prepare(Path(sys.argv[1]))
