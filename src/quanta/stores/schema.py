"""The stores' tables, shared by the stores and their migrations' autogeneration check."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    false,
)

metadata = MetaData()

products = Table(
    "products",
    metadata,
    Column("id", String(130), primary_key=True),
    Column("domain", String(63), nullable=False, index=True),
    Column("name", String(63), nullable=False),
    Column("title", Text),
    Column("description", Text),
    Column("owner", Text, nullable=False),
    Column("contact", Text, nullable=False, default=""),
    Column("status", String(32), nullable=False),
    Column("tags", JSON, nullable=False),
    Column("folder", Text, nullable=False),
    Column("current_version", Integer, nullable=False),
    Column("descriptor", JSON, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

versions = Table(
    "versions",
    metadata,
    Column("product_id", String(130), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("published_at", DateTime, nullable=False),
    Column("seconds", Float, nullable=False),
    Column("checks", JSON, nullable=False),
    # SHA-256 of what the version was built from (`quanta.publishing.records.code_of`).
    Column("code", String(64)),
)

ports = Table(
    "ports",
    metadata,
    Column("product_id", String(130), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("port", String(63), primary_key=True),
    Column("contract_version", String(32), nullable=False),
    Column("major", Integer, nullable=False),
    Column("table_name", Text, nullable=False),
    Column("snapshot_id", BigInteger, nullable=False),
    Column("metadata_location", Text, nullable=False),
    Column("location", Text, nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("description", Text),
    Column("columns", JSON, nullable=False),
    Column("contract", JSON, nullable=False),
    # Read from the snapshot's manifests at publish: engines read the files directly, and
    # the quality rules answer what the statistics can without a scan. NULL: not known.
    Column("files", JSON),
    Column("stats", JSON),
    # The columns this version declared a mapping of (erasure follows them); NULL: none.
    Column("mapped", JSON),
    ForeignKeyConstraint(["product_id", "version"], ["versions.product_id", "versions.version"]),
)

inputs = Table(
    "inputs",
    metadata,
    Column("product_id", String(130), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("port", String(63), primary_key=True),
    Column("upstream", String(130), index=True),
    Column("upstream_port", String(63)),
    Column("upstream_version", Integer),
    Column("source", Text),
    # The upstream columns the version's transformation reads; NULL: unknown, so all.
    Column("columns", JSON),
    ForeignKeyConstraint(["product_id", "version"], ["versions.product_id", "versions.version"]),
)

check_runs = Table(
    "check_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("product_id", String(130), nullable=False),
    Column("version", Integer, nullable=False),
    Column("checked_at", DateTime, nullable=False),
    Column("trigger", String(16), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("checks", JSON, nullable=False),
    Index("ix_check_runs_product", "product_id", "checked_at"),
)

# What happened, kept as history for the capabilities that need it (audit, usage): one row
# an event, its details in ``payload``; read back by subject over time.
EVENT_KIND_LENGTH = 63
EVENT_SUBJECT_LENGTH = 255
# Deprecations and retirements: of a product (port ''), a port (major 0) or one major of it.
lifecycle = Table(
    "lifecycle",
    metadata,
    Column("product_id", String(130), primary_key=True),
    Column("port", String(63), primary_key=True),
    Column("major", Integer, primary_key=True),
    Column("state", String(16), nullable=False),
    Column("sunset", Date),
    Column("replacement", String(300)),
    Column("by", String(320), nullable=False),
    Column("at", DateTime, nullable=False),
    Column("reason", Text, nullable=False),
)

# Webhook subscriptions to the event log, and each event's delivery to each of them.
webhooks = Table(
    "webhooks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("url", Text, nullable=False),
    Column("product", String(130)),
    Column("domain", String(63)),
    Column("kinds", JSON, nullable=False),
    # Not a secret: the signing key is derived from the mesh's key and this (the key store).
    Column("nonce", String(64), nullable=False),
    Column("created_by", String(320), nullable=False),
    Column("created_at", DateTime, nullable=False),
    # The log's last event when it was made: it hears only those after.
    Column("start", Integer, nullable=False),
    Column("cursor", Integer, nullable=False),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("webhook_id", Integer, nullable=False),
    Column("event_id", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_at", DateTime, nullable=False),
    Column("last_error", Text),
    Column("delivered_at", DateTime),
    Index("ix_webhook_deliveries_due", "state", "next_at"),
    Index("ix_webhook_deliveries_once", "webhook_id", "event_id", unique=True),
)

# What consumers need of the ports they read, beyond the contract: checked at each publish.
expectations = Table(
    "expectations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("product", String(130), nullable=False),
    Column("port", String(63), nullable=False),
    Column("major", Integer, nullable=False),
    Column("consumer", String(320), nullable=False),
    Column("by", String(320), nullable=False),
    Column("rules", JSON, nullable=False),
    Column("at", DateTime, nullable=False),
    Index("ix_expectations_port", "product", "port", "major"),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(EVENT_KIND_LENGTH), nullable=False),
    Column("at", DateTime, nullable=False),
    Column("subject", String(EVENT_SUBJECT_LENGTH), nullable=False),
    Column("payload", JSON, nullable=False),
    Index("ix_events_subject", "subject", "at"),
)

# Access requests, and the grants the approved ones are: one row each, changed only by a
# decision, a revocation or an expiry; every change is also appended to ``events``.
access_requests = Table(
    "access_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("product_id", String(130), nullable=False),
    Column("port", String(63)),
    Column("consumer", String(255), nullable=False),
    Column("consumer_kind", String(16), nullable=False),
    Column("requested_by", String(255), nullable=False),
    Column("purpose", Text, nullable=False),
    Column("days", Integer, nullable=False),
    Column("columns", JSON),
    Column("without_private", Boolean, nullable=False),
    Column("pii_reason", Text),
    Column("clear_pii", Boolean, nullable=False, server_default=false()),
    Column("state", String(16), nullable=False),
    Column("requested_at", DateTime, nullable=False),
    Column("decided_by", String(255)),
    Column("decided_at", DateTime),
    Column("note", Text),
    Column("expires_at", DateTime),
    Column("closed_by", String(255)),
    Column("closed_at", DateTime),
    Index("ix_access_requests_product", "product_id", "state"),
    Index("ix_access_requests_consumer", "consumer", "state"),
)

# Who built each product's dev branch last: only that team may build or check it again
# before the product is published (then the catalog's owner decides).
dev_builds = Table(
    "dev_builds",
    metadata,
    Column("product_id", String(130), primary_key=True),
    Column("team", String(255), nullable=False),
    Column("members", JSON, nullable=False),
    Column("built_by", String(255), nullable=False),
    Column("built_at", DateTime, nullable=False),
)

# Usage: one row for every port served to a consumer (a query, a read, a product's build),
# appended after the rows were served and never changed; read back summed by product.
port_usage = Table(
    "port_usage",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime, nullable=False),
    Column("product_id", String(130), nullable=False),
    Column("port", String(63), nullable=False),
    Column("version", Integer, nullable=False),
    Column("consumer", String(255), nullable=False),
    Column("consumer_kind", String(16), nullable=False),
    Column("purpose", Text, nullable=False),
    # The access request the read went through; NULL for owners and public ports.
    Column("grant_id", Integer),
    Column("read_kind", String(16), nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("seconds", Float, nullable=False),
    Index("ix_port_usage_product", "product_id", "at"),
    Index("ix_port_usage_at", "at"),
)

# The governance audit log: appended to and never changed, each entry sealed with the hash
# of the one before (`quanta.model.audit`). ``seq`` is given by the store, never by the
# database: the seal covers it. ``details`` is the canonical JSON text that was sealed.
audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("kind", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("details", Text, nullable=False),
    Column("prev_hash", Text, nullable=False),
    Column("hash", Text, nullable=False),
    Index("ix_audit_log_subject", "subject", "seq"),
    Index("ix_audit_log_kind", "kind", "seq"),
)

# Subject erasures: one row each, changed as the erasure goes on, so that a second run
# after a kill finishes it. ``sealed`` holds the subject's identifiers, encrypted with a key
# only the mesh holds, until the erasure is done; then it is emptied and never read again.
erasures = Table(
    "erasures",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("concept", String(63), nullable=False),
    Column("identifier", String(63), nullable=False),
    Column("subject", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("requested_by", String(300), nullable=False),
    Column("requested_at", DateTime, nullable=False),
    Column("state", String(16), nullable=False),
    Column("sealed", LargeBinary),
    Column("progress", JSON, nullable=False),
    Column("products", JSON, nullable=False),
    Column("receipt", JSON),
    Column("finished_at", DateTime),
    Index("ix_erasures_state", "state", "requested_at"),
)

# Retention runs: saved as they go on, so that the next run finishes one a kill stopped.
retention_runs = Table(
    "retention_runs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("at", DateTime, nullable=False),
    Column("by", String(300), nullable=False),
    Column("product", String(130)),
    Column("done", Boolean, nullable=False),
    Column("run", JSON, nullable=False),
    Index("ix_retention_runs_done", "done", "at"),
)
