"""Who is who: teams and their members, service principals, the governance group.

Teams come from two places. A mesh-level teams file (``QUANTA_TEAMS_FILE``, by default
``teams.yaml`` in the mesh home) defines teams, service principals and the governance
group; a team it defines has exactly the members it lists. A team it does not define is
the ``team`` of a product's descriptor, as the catalog keeps it for that product: its
members own that product, and no descriptor adds members to another product's team.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from quanta.errors import ConfigError
from quanta.model.actor import ANONYMOUS, Actor, ActorKind
from quanta.model.catalog import ProductRecord
from quanta.stores import CatalogStore

MAX_FILE_BYTES = 1 << 20


class _Entry(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class Member(_Entry):
    username: str = Field(min_length=1, max_length=255)
    role: str | None = None


class TeamEntry(_Entry):
    name: str = Field(min_length=1, max_length=255)
    description: str | None = None
    members: list[Member] = Field(default_factory=list)
    domains: list[str] = Field(default_factory=list)
    """Domains the team may publish new products into."""

    @field_validator("members", mode="before")
    @classmethod
    def _names_or_entries(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"username": item} if isinstance(item, str) else item for item in value]
        return value


class Service(_Entry):
    """A service principal: a program that reads as itself (a dashboard, a scheduler)."""

    name: str = Field(min_length=1, max_length=255)
    team: str
    """The team that answers for it."""


class Governance(_Entry):
    team: str
    """A team of this file: the mesh's governance group."""
    decides_access: bool = False
    """Whether its members may approve, deny and revoke access to any product."""


class TeamsFile(_Entry):
    teams: list[TeamEntry] = Field(default_factory=list)
    services: list[Service] = Field(default_factory=list)
    governance: Governance | None = None


def load_teams(path: Path | None) -> TeamsFile:
    """The teams file at ``path``; none (no file) is an empty one."""
    if path is None or not path.is_file():
        return TeamsFile()
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ConfigError(f"{path} is larger than 1 MiB: is it the teams file?")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path} is not valid YAML: {error}") from None
    try:
        teams = TeamsFile.model_validate(document)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigError(f"{path} ({where}): {first['msg']}") from None
    names = [team.name for team in teams.teams]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ConfigError(f"{path}: team {duplicates[0]!r} is defined twice")
    if teams.governance and teams.governance.team not in names:
        raise ConfigError(
            f"{path} (governance.team): {teams.governance.team!r} is not a team of the file"
        )
    for index, service in enumerate(teams.services):
        if service.team not in names:
            raise ConfigError(
                f"{path} (services.{index}.team): {service.team!r} is not a team of the file"
            )
    return teams


class Directory:
    """Answers who owns what and who belongs where, from the teams file and the catalog."""

    def __init__(self, teams: TeamsFile, catalog: CatalogStore) -> None:
        self.file = teams
        self.catalog = catalog

    @cached_property
    def _file_teams(self) -> dict[str, TeamEntry]:
        return {team.name: team for team in self.file.teams}

    def actor(self, name: str) -> Actor:
        """The identity ``name`` as an actor: a service principal when the file says so."""
        services = {service.name for service in self.file.services}
        kind = ActorKind.SERVICE if name in services else ActorKind.USER
        return Actor(name=name, kind=kind)

    def owners(self, record: ProductRecord) -> set[str]:
        """The usernames of the members of the team owning ``record``."""
        return self.members(record.owner, record.descriptor)

    def members(self, team: str, descriptor: dict[str, Any] | None = None) -> set[str]:
        """Members of ``team``: as the teams file lists them, else as ``descriptor`` does."""
        entry = self._file_teams.get(team)
        if entry is not None:
            return {member.username for member in entry.members}
        if not descriptor:
            return set()
        declared = descriptor.get("team") or {}
        if declared.get("name") != team:
            return set()
        today = datetime.now(UTC).date().isoformat()
        return {
            str(member["username"])
            for member in declared.get("members") or []
            if isinstance(member, dict)
            and member.get("username")
            and not (member.get("dateOut") and str(member["dateOut"])[:10] < today)
        }

    def owns(self, actor: Actor, record: ProductRecord) -> bool:
        """Whether ``actor`` reads ``record`` as its own: its owners, and the product itself."""
        if actor.kind == ActorKind.PRODUCT:
            same_team = actor.team is not None and actor.team == record.owner
            return actor.name == record.id or same_team
        return actor.name != ANONYMOUS and actor.name in self.owners(record)

    def governance(self) -> set[str]:
        if self.file.governance is None:
            return set()
        return self.members(self.file.governance.team)

    def decides_for_all(self, actor: Actor) -> bool:
        """A member of the governance group, where the mesh lets it decide access."""
        governance = self.file.governance
        return bool(governance and governance.decides_access and actor.name in self.governance())

    def team_names(self) -> set[str]:
        """Every team the file defines or a published product names."""
        return set(self._file_teams) | {record.owner for record in self.catalog.products()}

    def claims(self, actor: Actor, team: str, declared: dict[str, Any]) -> bool:
        """Whether ``actor`` may publish a product owned by ``team``: it is one of the
        team's members (as the file lists them; else as any published product of that team
        lists them; else, for a team nobody uses yet, as ``declared`` lists them)."""
        if team in self._file_teams:
            return actor.name in self.members(team)
        using = [record for record in self.catalog.products() if record.owner == team]
        if using:
            return any(actor.name in self.owners(record) for record in using)
        return actor.name in self.members(team, declared)

    def in_domain(self, actor: Actor, domain: str) -> bool:
        """Whether ``actor`` belongs to the domain: an owner of one of its products, or a
        member of a team the teams file gives it. A domain with no product yet is anyone's."""
        records = [record for record in self.catalog.products() if record.domain == domain]
        assigned = [team for team in self.file.teams if domain in team.domains]
        if not records and not assigned:
            return True
        if any(actor.name in {m.username for m in team.members} for team in assigned):
            return True
        return any(actor.name in self.owners(record) for record in records)
