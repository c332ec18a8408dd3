"""The one database every store shares: its engine, and its schema kept at the newest migration.

Stores of several capabilities live side by side in one database, on one engine, with one
linear Alembic history, so that one transaction can span them (a publish writes its version
and its check run at once) and one URL says where all of the mesh's metadata is.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from quanta.errors import ConfigError, PlatformError

# The newest migration; opening a database at this revision skips loading Alembic.
HEAD_REVISION = "0016"
MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant will do: it only has to be the same for every process migrating one database.
_MIGRATION_LOCK = 7_130_406_105


def sqlalchemy_url(url: str) -> URL:
    """``url`` with the PostgreSQL driver Quanta installs, psycopg 3, when it names none.

    SQLAlchemy reads a bare ``postgresql://`` as psycopg2, which Quanta does not depend on.
    """
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


class Database:
    """One SQLAlchemy database, migrated to ``HEAD_REVISION`` when opened."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self.engine: Engine = create_engine(sqlalchemy_url(url))
        except ArgumentError as error:
            # Not echoed: a URL may hold a password.
            raise ConfigError(
                f"the catalog URL is not one SQLAlchemy can open ({error}): give one such as "
                "postgresql://user@host/quanta or sqlite:///path/catalog.db"
            ) from None
        except ModuleNotFoundError as error:
            raise ConfigError(
                f"the catalog at {make_url(url).render_as_string()} needs a database driver "
                f"that is not installed ({error.name}): pip install 'quanta[postgresql]' for "
                "PostgreSQL"
            ) from None
        if self.dialect == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            self._migrate()
        except DBAPIError as error:
            self.engine.dispose()
            raise PlatformError(
                f"the catalog at {self.engine.url.render_as_string()} cannot be opened: "
                f"{str(error.orig).strip()}"
            ) from None

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``: the stores' few dialect-specific paths read it."""
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()

    def scrub(self, tables: Sequence[str]) -> None:
        """Leave nothing of rows deleted or overwritten in ``tables`` in the database's files.

        SQLite keeps a changed row's old bytes in free pages and in its write-ahead log
        until they are reused: VACUUM writes the database again from what it holds, and
        the checkpoint empties the log. PostgreSQL keeps old row versions until VACUUM.
        """
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            if self.dialect == "sqlite":
                conn.exec_driver_sql("VACUUM")
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            else:
                for table in tables:
                    if not table.isidentifier():
                        raise ValueError(f"{table!r} is not a table of the stores")
                    conn.exec_driver_sql(f"VACUUM {table}")

    def revision(self) -> str | None:
        """The migration the schema is at; None for an empty database."""
        with self.engine.connect() as connection:
            try:
                row = connection.execute(text("SELECT version_num FROM alembic_version")).first()
            except DBAPIError:
                return None
        return None if row is None else str(row[0])

    def _migrate(self) -> None:
        if self.revision() == HEAD_REVISION:
            return
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as connection:
            if self.dialect == "postgresql":
                # Servers start several processes at once: one migrates, the others wait for
                # its commit and then find the schema at head.
                connection.execute(text(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})"))
            config.attributes["connection"] = connection
            command.upgrade(config, "head")


def naive_utc(moment: datetime) -> datetime:
    """A moment as the stores keep it: UTC without a zone, which every dialect stores alike."""
    return moment.astimezone(UTC).replace(tzinfo=None)


def aware(moment: datetime) -> datetime:
    """A stored moment back as the aware UTC datetime it was."""
    return moment.replace(tzinfo=UTC)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers go on while a publish commits; a killed writer leaves no trace.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


@contextmanager
def waiting(connection: Connection, seconds: float | None) -> Iterator[None]:
    """Let the statements inside wait at most ``seconds`` for another writer's locks."""
    if seconds is None:
        yield
        return
    if connection.dialect.name == "sqlite":
        # The connection's busy timeout, shortened for this write and put back after it:
        # the connection goes back to the pool, and every other write waits the usual time.
        raw: Any = connection.connection.dbapi_connection
        (previous,) = raw.execute("PRAGMA busy_timeout").fetchone()
        raw.execute(f"PRAGMA busy_timeout={max(int(seconds * 1000), 1)}")
        try:
            yield
        finally:
            raw.execute(f"PRAGMA busy_timeout={int(previous)}")
    else:
        # SET LOCAL ends with the transaction the statements inside run in. A lock is what
        # they wait on; the statement's own bound, twice that, covers the rest.
        milliseconds = max(int(seconds * 1000), 1)
        connection.exec_driver_sql(f"SET LOCAL lock_timeout = {milliseconds}")
        connection.exec_driver_sql(f"SET LOCAL statement_timeout = {2 * milliseconds}")
        yield
