"""The stores on SQLAlchemy: SQLite in the mesh home by default, PostgreSQL by URL."""

from __future__ import annotations

from quanta.stores import Stores
from quanta.stores.access import SqlAccessStore
from quanta.stores.audit import SqlAuditStore
from quanta.stores.catalog import SqlCatalogStore
from quanta.stores.checks import SqlCheckStore
from quanta.stores.database import HEAD_REVISION, MIGRATIONS, Database
from quanta.stores.events import SqlEventStore
from quanta.stores.expectations import SqlExpectationStore
from quanta.stores.lifecycle import SqlLifecycleStore
from quanta.stores.privacy import SqlPrivacyStore
from quanta.stores.usage import SqlUsageStore
from quanta.stores.webhooks import SqlWebhookStore

# HEAD_REVISION and MIGRATIONS live in quanta.stores.database; named here for older imports.
__all__ = ["HEAD_REVISION", "MIGRATIONS", "SqlStores"]


class SqlStores(Stores):
    """Every store on the one database at ``url``, migrated to the newest revision."""

    name = "sql"

    def __init__(self, url: str) -> None:
        database = Database(url)
        events = SqlEventStore(database)
        checks = SqlCheckStore(database, events)
        audit = SqlAuditStore(database)
        lifecycle = SqlLifecycleStore(database, events)
        expectations = SqlExpectationStore(database)
        super().__init__(
            database=database,
            catalog=SqlCatalogStore(database, checks, lifecycle, expectations),
            checks=checks,
            events=events,
            access=SqlAccessStore(database, events, audit),
            usage=SqlUsageStore(database),
            audit=audit,
            privacy=SqlPrivacyStore(database),
            lifecycle=lifecycle,
            webhooks=SqlWebhookStore(database),
            expectations=expectations,
        )
