"""Usage reports: who read a product (or the mesh), how much, and when, from the usage
store that the metering subscriber (`quanta.events.usage`) fills."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from quanta.errors import UserError
from quanta.events.usage import SPOOL_FOLDER, Spool
from quanta.model.usage import UsageGrouping, UsageReport
from quanta.reading.ports import product_record
from quanta.stores import Stores


def usage_report(
    stores: Stores,
    home: Path,
    product: str | None,
    by: str,
    days: int,
    allowed: Callable[[str | None], None] = lambda _: None,
) -> UsageReport:
    """The reads of ``product`` (every product when None) over the last ``days`` calendar
    days (UTC), summed by consumer or by day. Reads spooled while the catalog was busy are
    folded in first, when it is not busy any more."""
    try:
        grouping = UsageGrouping(by)
    except ValueError:
        choices = " or ".join(choice.value for choice in UsageGrouping)
        raise UserError(f"usage is summed by {choices}, not {by!r}") from None
    if days < 1:
        raise UserError(f"the number of days must be 1 or more, not {days}")
    product_id = None if product is None else product_record(stores.catalog, product).id
    allowed(product_id)  # refuses who may not see it
    spool = Spool(home / SPOOL_FOLDER)
    with contextlib.suppress(OSError):  # a spool that cannot be read stays for the next time
        spool.fold_into(stores.usage, wait=None)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    since = today - timedelta(days=days - 1)
    report = UsageReport(
        product=product_id, by=grouping, days=days, since=since, spooled=spool.waiting()
    )
    if grouping == UsageGrouping.CONSUMER:
        report.consumers = stores.usage.by_consumer(product=product_id, since=since)
    else:
        report.daily = stores.usage.by_day(product=product_id, since=since)
    return report
