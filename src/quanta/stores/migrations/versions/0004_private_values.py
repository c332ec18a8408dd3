"""Values of private columns out of the catalog: statistics' bounds and observed values.

Earlier versions kept the lower and upper bounds of every number, date and time column in
``ports.stats`` (real birth dates for a column classified pii), and kept the observed value
of a custom SQL rule that read a private column under another spelling (``max(EMAIL)``) in
``versions.checks`` and ``check_runs.checks``. This drops both for columns classified pii
or restricted. It stands alone: it reads the stored JSON, not Quanta's code of the day.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import json
import re
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

PRIVATE = ("pii", "restricted")
HIDDEN = "(hidden: the rule reads PII)"


def _number(value: Any) -> int:
    return int(value)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def upgrade() -> None:
    connection = op.get_bind()
    ports = connection.execute(
        sa.text("SELECT product_id, version, port, columns, contract, stats FROM ports")
    ).fetchall()
    private: dict[tuple[str, int], dict[str, set[str]]] = {}
    for product_id, version, port, columns, contract, stats in ports:
        names = {
            str(column.get("name"))
            for column in _json(columns) or []
            if str(column.get("classification") or "").lower() in PRIVATE
        }
        if not names:
            continue
        key = (str(product_id), _number(version))
        private.setdefault(key, {})[str(port)] = names | _sql_rule_names(contract)
        found = _json(stats)
        if not found:
            continue
        for name in names:
            column = (found.get("columns") or {}).get(name)
            if column:
                column["lower"] = column["upper"] = None
        connection.execute(
            sa.text(
                "UPDATE ports SET stats = :stats "
                "WHERE product_id = :product AND version = :version AND port = :port"
            ),
            {"stats": json.dumps(found), "product": product_id, "version": version, "port": port},
        )
    versions = connection.execute(
        sa.text("SELECT product_id, version, checks FROM versions")
    ).fetchall()
    for product_id, version, checks in versions:
        redacted = _redacted(_json(checks), private.get((str(product_id), _number(version)), {}))
        if redacted is not None:
            connection.execute(
                sa.text(
                    "UPDATE versions SET checks = :checks "
                    "WHERE product_id = :product AND version = :version"
                ),
                {"checks": json.dumps(redacted), "product": product_id, "version": version},
            )
    runs = connection.execute(sa.text("SELECT id, product_id, version, checks FROM check_runs"))
    for run_id, product_id, version, checks in runs.fetchall():
        redacted = _redacted(_json(checks), private.get((str(product_id), _number(version)), {}))
        if redacted is not None:
            connection.execute(
                sa.text("UPDATE check_runs SET checks = :checks WHERE id = :id"),
                {"checks": json.dumps(redacted), "id": run_id},
            )


def _sql_rule_names(contract: Any) -> set[str]:
    """Names given to the contract's custom SQL rules (unnamed ones start with 'sql ')."""
    names: set[str] = set()
    for table in (_json(contract) or {}).get("schema") or []:
        rules = list(table.get("quality") or [])
        for column in table.get("properties") or []:
            rules.extend(column.get("quality") or [])
        names.update(
            str(rule["name"]) for rule in rules if rule.get("type") == "sql" and rule.get("name")
        )
    return names


def _redacted(checks: Any, private: dict[str, set[str]]) -> list[Any] | None:
    """The checks without values that may come from private columns; None if unchanged."""
    changed = False
    for check in checks or []:
        names = private.get(str(check.get("port")))
        if not names or check.get("observed") is None:
            continue
        name = str(check.get("name", ""))
        freshness = re.match(r"freshness (\S+) within ", name)
        if (
            name.startswith("sql ")
            or name in names
            or (freshness is not None and freshness.group(1) in names)
            or (isinstance(check["observed"], str) and not name.startswith("column "))
        ):
            observed, check["observed"] = check["observed"], None
            reason = str(check.get("reason") or "")
            for shown in {repr(observed), str(observed)} - {""}:
                reason = reason.replace(shown, HIDDEN)
            check["reason"] = re.sub(
                r"^observed .*?, expected", f"observed {HIDDEN}, expected", reason
            )
            changed = True
    return checks if changed else None


def downgrade() -> None:
    """Nothing to undo: the values are gone, and nothing needs them back."""
