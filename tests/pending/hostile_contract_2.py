"""Holes a second hostile review of ``quanta contract test FILE`` and ``quanta init
DOMAIN/PRODUCT --from-contract FILE`` found: each test fails today, and passes once its
hole is fixed. Not collected; run with

    nice -n 10 pg_virtualenv -t -o fsync=off .venv/bin/pytest -q -p no:cacheprovider \
        tests/pending/hostile_contract_2.py [-k NAME]

The PostgreSQL tests need the PG* variables pg_virtualenv sets (tests/conftest.py).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import struct
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from quanta.cli import app
from quanta.model.result import Outcome
from quanta.quality.external import run_contract_test
from test_contract_test_hostile_2 import (  # the helpers and fixtures
    CSV_CONTRACT,
    ID,
    _pg_server,
    invoke,
    odcs,
    orders,
    pg_database,
    quanta,
    write,
)

# -- paths -------------------------------------------------------------------------------


# -- whole runs aborted by one part --------------------------------------------------------


# -- names alike but for case --------------------------------------------------------------


# -- databases ---------------------------------------------------------------------------


def test_a_sqlite_database_in_wal_mode_is_left_as_it_was(tmp_path: Path) -> None:
    """Reading a SQLite file in WAL mode writes shop.sqlite-shm (32 KiB) and an empty
    shop.sqlite-wal beside it: "opened read-only" still creates SQLite's side files in
    the user's data folder. Nothing may be written beside the data (open it immutable,
    or from a private copy)."""
    connection = sqlite3.connect(tmp_path / "shop.sqlite")
    connection.execute("PRAGMA journal_mode=wal")
    connection.execute("CREATE TABLE orders (id INTEGER)")
    connection.execute("INSERT INTO orders VALUES (1)")
    connection.commit()
    connection.close()
    objects = orders(ID)
    path = write(tmp_path, odcs("{server: db, type: sqlite, database: shop.sqlite}", objects))
    before = sorted(p.name for p in tmp_path.iterdir())
    run = invoke("contract", "test", str(path))
    assert run.exit_code == 0, run.output
    assert sorted(p.name for p in tmp_path.iterdir()) == before


# -- where checks are declared (--json) ----------------------------------------------------


# -- messages ----------------------------------------------------------------------------


# -- init --from-contract ------------------------------------------------------------------
