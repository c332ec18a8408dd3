"""The public Python API and the catalog schema stay as documented."""

from __future__ import annotations

from pathlib import Path

import quanta
from quanta.stores.database import HEAD_REVISION, MIGRATIONS, Database


def test_public_names_are_exactly_the_documented_ones() -> None:
    # The facade, the version, and every error Quanta raises on purpose: nothing else.
    errors = {
        name
        for name, value in vars(quanta.errors).items()
        if isinstance(value, type) and issubclass(value, quanta.errors.QuantaError)
    }
    assert quanta.__all__ == [*sorted({"Mesh", *errors}), "__version__"]
    for name in quanta.__all__[:-1]:
        assert isinstance(getattr(quanta, name), type), name
    assert quanta.__version__ == "0.1.0"


def test_every_error_is_drawn_in_the_error_tree() -> None:
    doc = quanta.errors.__doc__ or ""
    errors = [
        value
        for value in vars(quanta.errors).values()
        if isinstance(value, type) and issubclass(value, quanta.errors.QuantaError)
    ]
    assert len(errors) >= 7
    for error in errors:
        assert f" {error.__name__} " in doc, error.__name__
        assert error.__name__ in quanta.__all__, error.__name__


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

    store = Database(f"sqlite:///{tmp_path / 'catalog.db'}")
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection)
        differences = [
            d for d in compare_metadata(context, metadata) if "product_search" not in str(d)
        ]
    assert differences == []
    assert store.revision() == HEAD_REVISION
    store.close()


def test_reference_pages_say_what_the_code_says() -> None:
    from quanta.reference import PAGES

    docs = Path(__file__).parents[1] / "docs"
    for name, render in PAGES.items():
        # Regenerate with: python -m quanta.reference
        assert (docs / name).read_text() == render(), f"docs/{name} is stale"


def test_every_command_and_setting_is_in_the_reference() -> None:
    from quanta.cli import app
    from quanta.settings import Settings

    docs = Path(__file__).parents[1] / "docs"
    cli = (docs / "cli.md").read_text()
    for command in app.registered_commands:
        name = command.name or command.callback.__name__  # type: ignore[union-attr]
        assert f"## quanta {name}" in cli
    settings = (docs / "settings.md").read_text()
    for name in Settings.model_fields:
        assert f"QUANTA_{name.upper()}" in settings
