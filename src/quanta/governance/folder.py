"""The governance folder: ``governance.yaml`` and ``policies/*.yaml``, merged with the
default policies (``defaults.yaml`` beside this module).

- ``governance.yaml`` is optional: without it, every protection and setting is the default.
- A policy of ``policies/`` with the id of a default replaces it; ``policies: {disable:
  [id]}`` in ``governance.yaml`` turns a default off.
- No folder at all: the defaults alone.

Every problem is a ConfigError naming the file and the line of what is wrong.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from quanta.errors import ConfigError
from quanta.governance.policies import CompiledPolicies, PolicyFunction, compile_policies
from quanta.model.governance import GovernanceFile, Policy, PolicyFile
from quanta.model.result import Issue
from quanta.validation.folder import shown_path
from quanta.validation.yaml_models import YamlFile, parse_model

GOVERNANCE_FILE = "governance.yaml"
POLICIES = "policies"
DEFAULTS = Path(__file__).with_name("defaults.yaml")
DEFAULTS_LABEL = "quanta/governance/defaults.yaml"

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class GovernanceRules(CompiledPolicies):
    """The policies in force, compiled and ready to evaluate, and the settings of
    ``governance.yaml``."""

    config: GovernanceFile
    fingerprint: str
    """sha256 over the settings and policies as read (not where they are written)."""


def load_rules(
    folder: Path | None, functions: Sequence[PolicyFunction] | None = None
) -> GovernanceRules:
    """The governance folder's rules, with the defaults; None: the defaults alone.

    ``functions``: those conditions may call, by default the installed ones.
    """
    config = GovernanceFile()
    settings: YamlFile | None = None
    own: list[Policy] = []
    if folder is not None:
        if not folder.is_dir():
            raise ConfigError(
                f"there is no governance folder {shown_path(folder)}: create it, or unset "
                "QUANTA_GOVERNANCE to use the default policies"
            )
        misnamed = sorted(
            path.name
            for path in [folder / "governance.yml", *(folder / POLICIES).glob("*.yml")]
            if path.exists() or path.is_symlink()
        )
        if misnamed:
            raise ConfigError(
                f"the governance folder {shown_path(folder)} has {misnamed[0]}: Quanta reads "
                "files ending in .yaml only; rename it"
            )
        path = folder / GOVERNANCE_FILE
        if path.is_symlink() and not path.exists():
            raise ConfigError(
                f"{shown_path(path)} is a link to a file that does not exist: no mapping "
                "is read from it (nothing falls back to the defaults); restore or remove it"
            )
        if path.exists():
            settings = YamlFile(path, shown_path(path))
            config = _read(settings, GovernanceFile) or config
        for path in sorted((folder / POLICIES).glob("*.yaml")):
            own.extend(_policies(YamlFile(path, shown_path(path))))
    policies = _merged(default_policies(), own, config, settings)
    compiled = compile_policies(policies, functions)
    return GovernanceRules(
        compiled=compiled.compiled,
        environment=compiled.environment,
        every=compiled.every,
        config=config,
        fingerprint=_fingerprint(config, policies),
    )


@cache
def default_policies() -> tuple[Policy, ...]:
    """The policies of every mesh, as ``defaults.yaml`` writes them."""
    return tuple(_policies(YamlFile(DEFAULTS, DEFAULTS_LABEL)))


def _merged(
    defaults: Sequence[Policy],
    own: Sequence[Policy],
    config: GovernanceFile,
    settings: YamlFile | None,
) -> tuple[Policy, ...]:
    by_id: dict[str, Policy] = {}
    for policy in own:
        other = by_id.setdefault(policy.id, policy)
        if other is not policy:
            raise ConfigError(
                f"policy id {policy.id!r} is used twice, at {other.source} and at "
                f"{policy.source}: give each policy its own id"
            )
    known = [policy.id for policy in defaults]
    disabled = config.policies.disable
    for index, policy_id in enumerate(disabled):
        where = ("policies", "disable", index)
        if policy_id not in known:
            raise _problem(
                settings,
                where,
                f"{policy_id!r} is not a default policy",
                f"disable one of {', '.join(known)}",
            )
        if policy_id in by_id:
            raise _problem(
                settings,
                where,
                f"policy {policy_id!r} is disabled here and written at {by_id[policy_id].source}",
                "remove one of them",
            )
    kept = [by_id.pop(policy.id, policy) for policy in defaults if policy.id not in disabled]
    return (*kept, *by_id.values())


def _policies(file: YamlFile) -> list[Policy]:
    read = _read(file, PolicyFile)
    if read is None:
        raise _problem(file, (), "the file is empty", "write policies: [...] in it")
    located = file.located
    assert located is not None, "a file read has its lines"
    return [
        policy.model_copy(update={"source": f"{file.label}:{located.line_of(('policies', i))}"})
        for i, policy in enumerate(read.policies)
    ]


def _read(file: YamlFile, model: type[M]) -> M | None:
    """The file as ``model``; None for a file without a document (empty, or comments)."""
    issues: list[Issue] = []
    read = parse_model(file, model, issues)
    if read is not None:
        return read
    if file.located is not None and file.located.data is None:
        return None
    raise _failed(issues)


def _problem(
    file: YamlFile | None, where: tuple[str | int, ...], message: str, hint: str
) -> ConfigError:
    if file is None:
        return ConfigError(f"{message}: {hint}")
    return _failed([file.issue(where, message, hint)])


def _failed(issues: list[Issue]) -> ConfigError:
    first = issues[0]
    hint = f": {first.hint}" if first.hint else ""
    more = f" (and {len(issues) - 1} more problems)" if len(issues) > 1 else ""
    return ConfigError(f"{first.location()}: {first.message}{hint}{more}")


def _fingerprint(config: GovernanceFile, policies: Sequence[Policy]) -> str:
    content = {
        "governance": config.model_dump(mode="json", by_alias=True),
        "policies": [policy.model_dump(mode="json", by_alias=True) for policy in policies],
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()
