"""Typed settings, read from ``QUANTA_*`` environment variables."""

from __future__ import annotations

import difflib
import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from quanta.errors import ConfigError


class Settings(BaseSettings):
    """Where the mesh lives and which adapters run it."""

    model_config = SettingsConfigDict(env_prefix="QUANTA_", extra="ignore")

    home: Path = Field(Path(".quanta"), description="The mesh home: catalog, warehouse, logs.")
    catalog_url: str | None = Field(
        None, description="SQLAlchemy URL of the metadata catalog (default: SQLite in the home)."
    )
    warehouse: Path | None = Field(
        None, description="Folder of the Iceberg warehouse (default: warehouse/ in the home)."
    )
    user: str | None = Field(
        None,
        description="The identity Quanta acts as (default: the login name); empty for "
        "the anonymous identity. Nothing proves it locally: see docs/access.md.",
    )
    teams_file: Path | None = Field(
        None,
        description="The mesh's teams file: teams, service principals and the governance "
        "group (default: teams.yaml in the home).",
    )
    governance: Path | None = Field(
        None,
        description="The mesh's governance folder: its policies and how each classification "
        "is protected (default: governance/ in the home; without one, the built-in defaults).",
    )
    engine: str = Field("duckdb", description="Compute engine that builds and queries products.")
    storage: str = Field("iceberg", description="Table format that stores products.")
    store: str = Field("sql", description="Metadata store that holds the catalog.")
    executor: str = Field(
        "subprocess",
        description="Where builds run: subprocess (a fresh, sandboxed process per build that "
        "receives only the build's request), or in-process.",
    )
    build_memory_limit: str | None = Field(
        None,
        description="Memory limit of one engine session (a build, its checks, a query), "
        "e.g. '4GB' (default: the engine's); the most a product's buildLimits may ask.",
    )
    build_threads: int | None = Field(
        None,
        gt=0,
        description="Threads of one build (default: one per core); the most a product's "
        "buildLimits may ask.",
    )
    openlineage_url: str | None = Field(
        None,
        description="Send each build's OpenLineage RunEvents to this HTTP endpoint (such as "
        "Marquez's http://host:5000); by default they are written to home/lineage/"
        "openlineage.jsonl.",
    )
    openlineage_namespace: str = Field(
        "quanta", description="The OpenLineage namespace of this mesh's jobs and datasets."
    )
    migration_days: int = Field(
        30,
        gt=0,
        le=3650,
        description="Days a port's old major stays served, deprecated, once a new major is "
        "published: its sunset date.",
    )
    query_timeout: float = Field(
        300,
        gt=0,
        description="Seconds one query or read may run before the engine stops it.",
    )
    query_max_rows: int = Field(
        1_000_000,
        gt=0,
        description="Most rows a query without a limit may return; above, it is refused.",
    )
    build_timeout: float = Field(
        3600,
        gt=0,
        description="Seconds one product's build (transformation, writing, checks) may run; "
        "the most a product's buildLimits may ask.",
    )
    build_max_rows: int = Field(
        100_000_000,
        gt=0,
        description="Most rows one output port of a build may write; above, the build fails.",
    )

    @property
    def catalog(self) -> str:
        return self.catalog_url or f"sqlite:///{self.home / 'catalog.db'}"

    @property
    def warehouse_path(self) -> Path:
        return self.warehouse or self.home / "warehouse"


CONFIG_VARIABLE = "QUANTA_CONFIG"
"""Names the settings file; by default ``~/.config/quanta/settings.toml``."""


def settings_file() -> Path:
    named = os.environ.get(CONFIG_VARIABLE)
    return Path(named) if named else Path.home() / ".config" / "quanta" / "settings.toml"


def _file_settings() -> dict[str, Any]:
    """The settings file's values (none without a file): the same names as the variables
    without ``QUANTA_``, in lowercase (``user = "ana@example.com"``)."""
    path = settings_file()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"the settings file {path} cannot be read: {error}") from None
    try:
        values = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"the settings file {path} is not valid TOML: {error}") from None
    for key in values:
        if key not in Settings.model_fields:
            close = difflib.get_close_matches(key, list(Settings.model_fields), n=1)
            hint = f"did you mean {close[0]!r}?" if close else "see docs/settings.md"
            raise ConfigError(f"the settings file {path} has no setting {key!r}: {hint}")
    return values


class _FileSettings(Settings):
    """`Settings` with the settings file under the environment: a variable wins."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        from_file = InitSettingsSource(settings_cls, init_kwargs=_file_settings())
        return (init_settings, env_settings, from_file)


def load_settings(**overrides: Any) -> Settings:
    """The settings from ``overrides``, the environment and the settings file, in that
    order; a clear error when one is wrong."""
    try:
        return _FileSettings(**overrides)
    except ValidationError as error:
        first = error.errors()[0]
        name = "QUANTA_" + str(first["loc"][0]).upper() if first["loc"] else "a setting"
        raise ConfigError(f"{name} is not valid: {first['msg']}") from None
