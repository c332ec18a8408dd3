"""Adapters chosen by name: engines, storage and metadata stores; and quality metrics.

Built-in adapters are registered exactly like third-party ones, through the entry
point groups ``quanta.engines``, ``quanta.storage`` and ``quanta.stores``; the
built-ins are also listed here so that a source checkout works without installing.
The metrics a contract's quality rules name come the same way, through
``quanta.metrics`` (see `quanta.quality.metrics`); so do build executors
(``quanta.executors``, `quanta.build.executor`), event subscribers
(``quanta.subscribers``, `quanta.events`) and the functions governance policies may call
(``quanta.policy_functions``, `quanta.governance.policies`).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from quanta.errors import ConfigError

BUILT_IN: dict[str, dict[str, str]] = {
    "quanta.engines": {"duckdb": "quanta.engines.duckdb:DuckDBEngine"},
    "quanta.storage": {"iceberg": "quanta.storage.iceberg:IcebergStorage"},
    "quanta.stores": {"sql": "quanta.stores.sql:SqlStores"},
    "quanta.executors": {
        "in-process": "quanta.build.executor:InProcessExecutor",
        "subprocess": "quanta.build.isolated:SubprocessExecutor",
    },
    "quanta.subscribers": {
        "history": "quanta.events.history:keep_history",
        "usage": "quanta.events.usage:meter_usage",
        "audit": "quanta.governance.audit:audit_protection",
        "openlineage": "quanta.events.lineage:emit_openlineage",
    },
    "quanta.metrics": {
        "nullValues": "quanta.quality.odcs_metrics:null_values",
        "missingValues": "quanta.quality.odcs_metrics:missing_values",
        "invalidValues": "quanta.quality.odcs_metrics:invalid_values",
        "duplicateValues": "quanta.quality.odcs_metrics:duplicate_values",
        "rowCount": "quanta.quality.odcs_metrics:row_count",
    },
    "quanta.policy_functions": {"semver": "quanta.governance.policies:SEMVER"},
}


def available(group: str) -> dict[str, str]:
    """Adapter names of a group and where each is defined."""
    from importlib.metadata import entry_points  # reads every installed package's metadata

    found = dict(BUILT_IN[group])
    for entry in entry_points(group=group):
        found.setdefault(entry.name, entry.value)
    return found


def load(group: str, name: str) -> Any:
    """The adapter class registered under ``name``; a clear error when there is none."""
    # Built-in names win over plugins (see `available`): no need to scan the entry points.
    target = BUILT_IN[group].get(name)
    adapters = BUILT_IN[group] if target else available(group)
    target = target or adapters.get(name)
    if target is None:
        kind = group.split(".")[1].rstrip("s")
        raise ConfigError(
            f"no {kind} named {name!r} is installed: choose one of {', '.join(sorted(adapters))}, "
            f"or install the plugin that provides it"
        )
    module_name, _, attribute = target.partition(":")
    return getattr(import_module(module_name), attribute)
