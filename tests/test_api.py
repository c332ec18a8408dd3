"""The public Python API and the catalog schema stay as documented."""

from __future__ import annotations

from pathlib import Path

import quanta
from quanta.stores.sql import HEAD_REVISION, MIGRATIONS, SqlStore


def test_public_names_are_exactly_the_documented_ones() -> None:
    assert quanta.__all__ == [
        "ConfigError",
        "InvalidProduct",
        "Mesh",
        "NotFound",
        "PlatformError",
        "QuantaError",
        "QueryRefused",
        "UserError",
        "__version__",
    ]
    for name in quanta.__all__:
        assert getattr(quanta, name) is not None


def test_every_error_is_drawn_in_the_error_tree() -> None:
    doc = quanta.errors.__doc__ or ""
    for name in (
        "QuantaError",
        "UserError",
        "ConfigError",
        "NotFound",
        "InvalidProduct",
        "QueryRefused",
        "PlatformError",
    ):
        assert name in doc


def test_head_revision_is_the_newest_migration() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD_REVISION


def test_migrations_build_exactly_the_declared_tables(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from quanta.stores.schema import metadata

    store = SqlStore(f"sqlite:///{tmp_path / 'catalog.db'}")
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection)
        differences = [
            d for d in compare_metadata(context, metadata) if "product_search" not in str(d)
        ]
    assert differences == []
    assert store.revision() == HEAD_REVISION
    store.close()
